/* cli/cmd-report.c — deidtk report: render a JSON report as HTML, or merge shard reports
 * into one (JSON or HTML), and gate on the result. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit/audit.h"
#include "cli/cmd.h"
#include "reports/report.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The SOP Instance UID an output is named by: its file name without ".dcm". */
static void sop_of(const char *path, char *out, size_t len)
{
    const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(b);
    if (n > 4 && strcmp(b + n - 4, ".dcm") == 0)
        n -= 4;
    snprintf(out, len, "%.*s", (int)n, b);
}

/* A manifest certifies the bytes that were verified: every written file must still hold
 * them, and with the trail (db, or NULL), the trail must say a run wrote them: a report is
 * a plain file, the trail is chained. Returns the exit status: 0, 1 (a file changed, or
 * the trail does not know it) or 3 (a file or the trail cannot be read); each fault has
 * its line. */
static int outputs_as_verified(const report *r, audit_db *db)
{
    int rc = EXIT_GATE_PASS;
    for (size_t i = 0; i < report_file_count(r); i++) {
        const char *status, *sha, *path = report_file_path(r, i, &status, &sha);
        char now[65], sop[256], err[1024];
        if (strcmp(status, "ok") != 0 || !sha)
            continue;
        sop_of(path, sop, sizeof sop);
        int known = db ? audit_output_recorded(db, sop, sha, report_get_meta(r, "policy_sha256"),
                                               report_get_meta(r, "key_fingerprint"), err,
                                               sizeof err)
                       : 1;
        if (known < 0 || audit_sha256_file(path, now, err, sizeof err) != 0) {
            cmd_error("report", err);
            rc = EXIT_UNREADABLE;
            continue;
        }
        if (strcmp(now, sha) != 0)
            snprintf(err, sizeof err, "%s: changed since it was verified (its SHA-256 is not "
                     "the report's)", path);
        else if (!known)
            snprintf(err, sizeof err, "%s: the trail has no run that wrote these bytes (its "
                     "SHA-256, under this policy and key)", path);
        else
            continue;
        cmd_error("report", err);
        if (rc == EXIT_GATE_PASS)
            rc = EXIT_GATE_BLOCKED;
    }
    return rc;
}

/* The trail, once it checks, says which findings reviewers waived since the reports were
 * written, and the heads of its chains go into the manifest: rows cut from its end are
 * found only against heads recorded elsewhere. *db gets the open trail (the caller closes
 * it). Returns 0, 1 (the trail is broken) or 3 (it cannot be read), the fault on its line. */
static int apply_trail(report *r, const char *path, audit_db **db_out)
{
    char err[1024];
    audit_db *db = NULL;
    audit_verify_report v;
    int rc = EXIT_GATE_PASS;
    if (audit_open(path, 0, &db, err, sizeof err) != 0 || audit_verify(db, &v, err, sizeof err) < 0) {
        cmd_error("report", err);
        rc = EXIT_UNREADABLE;
    } else if (!v.ok) {
        snprintf(err, sizeof err, "%s: the trail is BROKEN at %s row %lld (%s)", path, v.table,
                 (long long)v.rowid, v.reason);
        cmd_error("report", err);
        rc = EXIT_GATE_BLOCKED;
    } else if (report_set_meta(r, "trail_runs_head", v.runs_head) != 0 ||
               report_set_meta(r, "trail_reviews_head", v.reviews_head) != 0) {
        cmd_error("report", "out of memory");
        rc = EXIT_USAGE;
    }
    /* The trail's latest review of a finding decides: a waiver, or "fix", which takes back
     * a waiver the report had. A finding no one reviewed there stays as it is. */
    for (size_t i = 0; rc == EXIT_GATE_PASS && i < report_finding_count(r); i++) {
        int waived;
        const char *id = report_finding_id(r, i, &waived);
        char *who = NULL, *why = NULL;
        int w = audit_waived(db, id, &who, &why, err, sizeof err);
        if (w < 0 || ((w == 1 || (w == 2 && waived)) && report_waive_finding(r, i, who, why) != 0)) {
            cmd_error("report", w < 0 ? err : "out of memory");
            rc = w < 0 ? EXIT_UNREADABLE : EXIT_USAGE;
        }
        free(who);
        free(why);
    }
    *db_out = db;
    return rc;
}

int cmd_report(int argc, char **argv)
{
    if (cmd_common_flag("report", argc, argv))
        return 0;
    const char *out = NULL, *manifest = NULL, *trail = NULL;
    int show = 0, fail_on = -1, ninputs = 0;
    char **inputs = calloc(argc, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "deidtk report: out of memory\n");
        return EXIT_USAGE;
    }
    int opts = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && a[0] == '-' && a[1]) {
            if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc && !out)
                out = argv[++i];
            else if (strncmp(a, "--output=", 9) == 0 && !out)
                out = a + 9;
            else if (strcmp(a, "--manifest") == 0 && i + 1 < argc && !manifest)
                manifest = argv[++i];
            else if (strncmp(a, "--manifest=", 11) == 0 && !manifest)
                manifest = a + 11;
            else if (strcmp(a, "--audit") == 0 && i + 1 < argc && !trail)
                trail = argv[++i];
            else if (strncmp(a, "--audit=", 8) == 0 && !trail)
                trail = a + 8;
            else if (strcmp(a, "--show-values") == 0)
                show = 1;
            else if (strcmp(a, "--fail-on") == 0 && i + 1 < argc)
                fail_on = verify_severity_parse(argv[++i]);
            else if (strncmp(a, "--fail-on=", 10) == 0)
                fail_on = verify_severity_parse(a + 10);
            else if (strcmp(a, "--") == 0)
                opts = 0;
            else {
                fprintf(stderr, "deidtk report: unexpected argument '%s'\n", a);
                free(inputs);
                return cmd_usage("report");
            }
            if (fail_on == -1 && strncmp(a, "--fail-on", 9) == 0) {
                fprintf(stderr, "deidtk report: --fail-on takes leak, phi, suspect, policy "
                                "or info\n");
                free(inputs);
                return EXIT_USAGE;
            }
        } else {
            inputs[ninputs++] = argv[i];
        }
    }
    if (!ninputs || !out || !*out) {
        fprintf(stderr, "deidtk report: %s\n",
                ninputs ? "name the output with -o FILE.html or -o FILE.json"
                        : "name at least one JSON report");
        free(inputs);
        return cmd_usage("report");
    }

    char err[1024];
    report *merged = NULL;
    audit_db *db = NULL;
    int rc = EXIT_GATE_PASS;
    for (int i = 0; i < ninputs; i++) {
        report *r;
        if (report_load_json(inputs[i], &r, err, sizeof err) != 0) {
            cmd_error("report", err);
            rc = EXIT_UNREADABLE;
            goto done;
        }
        if (!merged) {
            merged = r;
            continue;
        }
        int m = report_merge(merged, r, err, sizeof err);
        report_free(r);
        if (m != 0) {
            cmd_error("report", err);
            rc = EXIT_USAGE;
            goto done;
        }
    }
    /* Each shard checked the dataset-wide rules on its own files; merged, they are one
     * dataset again. */
    int checked = ninputs > 1 ? report_check_dataset(merged) : 1;
    if (checked < 0) {
        cmd_error("report", "out of memory");
        rc = EXIT_USAGE;
        goto done;
    }
    const char *command = report_get_command(merged);
    if (!checked && command && (strcmp(command, "run") == 0 || strcmp(command, "verify") == 0))
        fprintf(stderr, "deidtk report: warning: a file has no dataset facts (a verify without "
                        "--key, or a report of an older deidtk): the dataset-wide rules were "
                        "checked within each shard only\n");
    if (fail_on >= 0)
        report_set_gate(merged, (verify_severity)fail_on);
    int trail_rc = trail ? apply_trail(merged, trail, &db) : EXIT_GATE_PASS;
    if (trail_rc == EXIT_UNREADABLE || trail_rc == EXIT_USAGE) {
        rc = trail_rc;
        goto done;
    }
    int w = ends_with(out, ".json") ? report_write_json(merged, out, show, err, sizeof err)
                                     : report_write_html(merged, out, show, err, sizeof err);
    if (w != 0) {
        cmd_error("report", err);
        rc = EXIT_USAGE;
        goto done;
    }
    report_summary s;
    report_get_summary(merged, &s);
    int blocked = report_blocked(merged);
    printf("%s: %zu file%s (%zu error%s), %zu finding%s (%zu waived, %zu blocking at '%s'); "
           "wrote %s\n", blocked ? "BLOCKED" : "PASS", s.files, s.files == 1 ? "" : "s",
           s.errors, s.errors == 1 ? "" : "s", s.findings, s.findings == 1 ? "" : "s", s.waived,
           s.blocking, verify_severity_name(report_fail_on(merged)), out);
    /* A broken trail blocks: its waivers were not taken, and it proves nothing. */
    rc = blocked ? EXIT_GATE_BLOCKED : trail_rc;
    if (manifest && *manifest) {
        /* The files are read only when a manifest can follow: a blocked gate refuses it. */
        int m = blocked ? EXIT_GATE_PASS : trail_rc ? trail_rc : outputs_as_verified(merged, db);
        if (m == EXIT_GATE_PASS && report_write_manifest(merged, manifest, err, sizeof err) != 0) {
            cmd_error("report", err);
            m = blocked ? EXIT_GATE_BLOCKED : EXIT_USAGE;
        }
        if (m != EXIT_GATE_PASS)
            fprintf(stderr, "deidtk report: no manifest written\n");
        else
            printf("manifest: %s\n", manifest);
        rc = rc ? rc : m;
    }
done:
    audit_close(db);
    report_free(merged);
    free(inputs);
    return rc;
}
