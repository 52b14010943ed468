/* cli/cmd-audit.c — deidtk audit: list runs, trace a file, find a replaced UID, check the
 * chains, export, record reviews, merge shard trails. Prints HMACs, never original values
 * unless asked with --originals (and only if the run stored them). */
#include "config.h"
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "cli/cmd.h"
#include "audit/audit.h"
#include "deid/pseudo.h"
#include "reports/report.h"

struct opts {
    const char *audit, *reviewer, *decision, *reason, *uid, *key, *hmac, *out;
    const char *findings_file;   /* --findings: ids one a line, "-" for standard input */
    const char *report;          /* --report: the ids are this report's, not the trail's */
    const char **finding;        /* the ids of --finding and --findings (malloc'd array) */
    size_t nfinding;
    char *findings_text;         /* the --findings file, which finding points into */
    int json, originals;
};

static void sub_usage(void)
{
    fprintf(stderr,
            "usage: deidtk audit runs [--audit FILE]\n"
            "       deidtk audit trace FILE|SOPUID [--originals] [--audit FILE]\n"
            "       deidtk audit find --original-uid UID --key KEY [--audit FILE]\n"
            "       deidtk audit find --hmac HEX [--audit FILE]\n"
            "       deidtk audit verify [--audit FILE]\n"
            "       deidtk audit export --json [--originals] [-o FILE] [--audit FILE]\n"
            "       deidtk audit review --finding ID... | --findings FILE --reviewer NAME"
            " --decision waive|fix --reason TEXT [--report FILE.json] [--audit FILE]\n"
            "       deidtk audit merge SHARD.sqlite... [--audit FILE]\n");
}

static audit_db *open_trail(const struct opts *o, int create)
{
    audit_db *db;
    char err[512];
    if (audit_open(o->audit, create, &db, err, sizeof err) < 0) {
        cmd_error("audit", err);
        return NULL;
    }
    return db;
}

static const char *s(const char *v)
{
    return v ? v : "-";
}

/* "LABEL VALUE" on a line of its own, the value as text: a trail keeps input paths and
 * values as they came. */
static void field(const char *label, const char *value)
{
    printf("%-16s", label);
    cmd_put_text(stdout, s(value));
    putchar('\n');
}

static int print_run(void *ctx, const audit_run_row *r)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\t", (long long)r->id, r->uuid, r->started,
           r->ended ? r->ended : "unfinished");
    if (r->ended)
        printf("%lld\t%lld\t%lld\t", (long long)r->counts.files_ok,
               (long long)r->counts.files_failed, (long long)r->counts.findings);
    else
        printf("-\t-\t-\t");
    printf("%s\t%.16s\t%s\t%s", s(r->preset), s(r->policy_sha256), s(r->key_fingerprint),
           s(r->tool_version));
    if (r->resumes)
        printf("\tresumes %s", r->resumes);
    putchar('\n');
    return 0;
}

static int do_runs(audit_db *db)
{
    char err[512];
    printf("ID\tUUID\tSTARTED\tENDED\tOK\tFAILED\tFINDINGS\tPRESET\tPOLICY\tKEY\tVERSION\n");
    if (audit_runs_list(db, print_run, NULL, err, sizeof err) < 0) {
        cmd_error("audit", err);
        return EXIT_USAGE;
    }
    return 0;
}

static int trace_file(void *ctx, const audit_run_row *r, const audit_file_row *f)
{
    (void)ctx;
    field("output", f->output_path);
    field("output-sha256", f->output_sha256);
    field("sop-instance", f->output_sop_uid);
    field("input", f->input_path);
    field("input-sha256", f->input_sha256);
    printf("%-16s%s%s", "status", f->status, f->error ? ": " : "");
    cmd_put_text(stdout, f->error ? f->error : "");
    putchar('\n');
    printf("run             %s (%lld), started %s, %s\n", r->uuid, (long long)r->id, r->started,
           r->ended ? "ended" : "unfinished");
    printf("tool            deidtk %s on %s by %s\n", s(r->tool_version), s(r->host), s(r->user));
    field("preset", r->preset);
    field("options", r->options);
    field("policy-sha256", r->policy_sha256);
    field("key", r->key_fingerprint);
    printf("changes:\n");
    return 0;
}

static int trace_change(void *ctx, const audit_change_row *c)
{
    const struct opts *o = ctx;
    printf("  %s\t%s\t", c->tag_path, c->action);
    cmd_put_text(stdout, c->new_value ? c->new_value : "");
    printf("\thmac=%s", s(c->original_hmac));
    if (o->originals && c->original) {
        fputs("\toriginal=", stdout);
        cmd_put_text(stdout, c->original);
    }
    putchar('\n');
    return 0;
}

static int do_trace(audit_db *db, const struct opts *o, const char *what)
{
    char err[512];
    audit_trace_cb cb = {trace_file, trace_change};
    int n = 0;
    if (audit_trace(db, what, &cb, (void *)o, &n, err, sizeof err) < 0)
        goto fail;
    char real[PATH_MAX];
    /* Runs record paths as given: try the canonical form of a path too. */
    if (n == 0 && realpath(what, real) && strcmp(real, what) != 0 &&
        audit_trace(db, real, &cb, (void *)o, &n, err, sizeof err) < 0)
        goto fail;
    if (n == 0) {
        fprintf(stderr, "deidtk audit: no file in the trail is %s\n", what);
        return EXIT_GATE_BLOCKED;
    }
    return 0;
fail:
    cmd_error("audit", err);
    return EXIT_USAGE;
}

static int print_found(void *ctx, const char *tag, const char *value, int64_t nfiles)
{
    int *n = ctx;
    (*n)++;
    printf("%s\t", tag);
    cmd_put_text(stdout, value ? value : "");
    printf("\t%lld file%s\n", (long long)nfiles, nfiles == 1 ? "" : "s");
    return 0;
}

static int do_find(audit_db *db, const struct opts *o)
{
    char err[512], hex[65];
    if (o->hmac) {
        snprintf(hex, sizeof hex, "%s", o->hmac);
    } else {
        unsigned char key[DEID_KEY_LEN], mac[32];
        if (deid_key_load(o->key, key, err, sizeof err) < 0) {
            cmd_error("audit", err);
            return EXIT_USAGE;
        }
        /* As UIDs are compared: without DICOM padding. */
        size_t len = strlen(o->uid);
        while (len && (o->uid[len - 1] == ' ' || o->uid[len - 1] == '\0'))
            len--;
        int rc = deid_hmac(key, "value", o->uid, len, mac);
        memset(key, 0, sizeof key);
        if (rc < 0) {
            fprintf(stderr, "deidtk audit: HMAC failed\n");
            return EXIT_USAGE;
        }
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    }
    int n = 0;
    if (audit_find_original_uid(db, hex, print_found, &n, err, sizeof err) < 0) {
        cmd_error("audit", err);
        return EXIT_USAGE;
    }
    if (n == 0) {
        fprintf(stderr, "deidtk audit: that original value was not replaced in this trail\n");
        return EXIT_GATE_BLOCKED;
    }
    return 0;
}

static int do_verify(audit_db *db, const struct opts *o)
{
    char err[512];
    audit_verify_report r;
    if (audit_verify(db, &r, err, sizeof err) < 0) {
        cmd_error("audit", err);
        return EXIT_USAGE;
    }
    if (!r.ok) {
        printf("%s: BROKEN at %s row %lld: %s\n", o->audit, r.table, (long long)r.rowid,
               r.reason);
        return EXIT_GATE_BLOCKED;
    }
    printf("%s: OK: %lld runs (%lld unfinished), %lld files, %lld changes, %lld findings, "
           "%lld reviews\n", o->audit, (long long)r.runs, (long long)r.unsealed,
           (long long)r.files, (long long)r.changes, (long long)r.findings,
           (long long)r.reviews);
    printf("runs head     %s\nreviews head  %s\n", r.runs_head, r.reviews_head);
    return 0;
}

static int do_export(audit_db *db, const struct opts *o)
{
    char err[512];
    FILE *out = stdout;
    if (o->out) {
        /* The export holds input paths (and originals if asked): owner-only, like the trail. */
        int fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            perror(o->out);
            if (fd >= 0)
                close(fd);
            return EXIT_USAGE;
        }
    }
    int rc = audit_export_json(db, out, o->originals, err, sizeof err);
    if (o->out && fclose(out) != 0 && rc == 0) {
        snprintf(err, sizeof err, "%s: write error", o->out);
        rc = -1;
    }
    if (rc < 0) {
        cmd_error("audit", err);
        return EXIT_USAGE;
    }
    return 0;
}

static int add_finding(struct opts *o, const char *id)
{
    const char **grown = realloc(o->finding, (o->nfinding + 1) * sizeof *grown);
    if (!grown) {
        fprintf(stderr, "deidtk audit: out of memory\n");
        return -1;
    }
    o->finding = grown;
    o->finding[o->nfinding++] = id;
    return 0;
}

/* Adds the finding ids of the --findings file: one a line, blank lines and '#' comments
 * skipped. */
static int read_findings(struct opts *o)
{
    FILE *in = strcmp(o->findings_file, "-") == 0 ? stdin : fopen(o->findings_file, "r");
    size_t cap = 0;
    /* Reading up to a NUL reads a whole text file in one call. */
    ssize_t len = in ? getdelim(&o->findings_text, &cap, '\0', in) : -1;
    int bad = !in || ferror(in) || (len < 0 && !feof(in));
    if (in && in != stdin)
        fclose(in);
    if (bad) {
        fprintf(stderr, "deidtk audit: cannot read %s\n", o->findings_file);
        return -1;
    }
    size_t before = o->nfinding;
    for (char *line = len > 0 ? o->findings_text : NULL; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line += strspn(line, " \t");
        line[strcspn(line, " \t\r#")] = '\0';
        if (*line && add_finding(o, line) != 0)
            return -1;
        line = next;
    }
    if (o->nfinding == before) {
        fprintf(stderr, "deidtk audit: no finding in %s\n", o->findings_file);
        return -1;
    }
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* With --report, every id must be one of the report's findings: a merge of shard reports
 * makes dataset-wide findings that no run recorded in a trail. 0, or -1 after saying why. */
static int in_report(const struct opts *o)
{
    char err[1024];
    report *r;
    if (report_load_json(o->report, &r, err, sizeof err) != 0) {
        cmd_error("audit", err);
        return -1;
    }
    /* Sorted once: a reviewer may pass thousands of ids against as many findings. */
    size_t n = report_finding_count(r);
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    int rc = ids ? 0 : -1, waived;
    if (!ids)
        cmd_error("audit", "out of memory");
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = report_finding_id(r, i, &waived);
    if (ids)
        qsort(ids, n, sizeof *ids, cmp_id);
    for (size_t k = 0; rc == 0 && k < o->nfinding; k++)
        if (!bsearch(&o->finding[k], ids, n, sizeof *ids, cmp_id)) {
            snprintf(err, sizeof err, "no finding %s in %s", o->finding[k], o->report);
            cmd_error("audit", err);
            rc = -1;
        }
    free(ids);
    report_free(r);
    return rc;
}

static int do_review(audit_db *db, const struct opts *o)
{
    char err[512];
    if (o->report && in_report(o) != 0)
        return EXIT_USAGE;
    if (audit_reviews_add(db, o->finding, o->nfinding, o->reviewer, o->decision, o->reason,
                          !o->report, err, sizeof err) < 0) {
        cmd_error("audit", err);
        return EXIT_USAGE;
    }
    const char *what = strcmp(o->decision, "waive") == 0 ? "waived" : "to fix";
    if (o->nfinding == 1)
        printf("finding %s: %s by %s recorded\n", o->finding[0], what, o->reviewer);
    else
        printf("%zu findings: %s by %s recorded\n", o->nfinding, what, o->reviewer);
    return 0;
}

static int do_merge(audit_db *db, int n, char **shards)
{
    int status = 0;
    for (int i = 0; i < n; i++) {
        char err[512];
        audit_merge_stats st;
        if (audit_merge(db, shards[i], &st, err, sizeof err) < 0) {
            cmd_error("audit", err);
            status = EXIT_GATE_BLOCKED;
            continue;
        }
        printf("%s: %lld runs merged, %lld already present, %lld reviews\n", shards[i],
               (long long)st.runs_copied, (long long)st.runs_skipped,
               (long long)st.reviews_copied);
    }
    return status;
}

static int audit_command(int argc, char **argv, struct opts *op)
{
    struct opts o = *op;
    int rc = EXIT_USAGE;
    const char *sub = argv[1];
    static const struct option longopts[] = {
        {"audit", required_argument, NULL, 'a'},
        {"finding", required_argument, NULL, 'f'},
        {"findings", required_argument, NULL, 'F'},
        {"report", required_argument, NULL, 'P'},
        {"reviewer", required_argument, NULL, 'r'},
        {"decision", required_argument, NULL, 'd'},
        {"reason", required_argument, NULL, 'R'},
        {"original-uid", required_argument, NULL, 'u'},
        {"key", required_argument, NULL, 'k'},
        {"hmac", required_argument, NULL, 'H'},
        {"json", no_argument, NULL, 'j'},
        {"originals", no_argument, NULL, 'O'},
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': o.audit = optarg; break;
        case 'f':
            if (add_finding(&o, optarg) != 0)
                goto out;
            break;
        case 'F': o.findings_file = optarg; break;
        case 'P': o.report = optarg; break;
        case 'r': o.reviewer = optarg; break;
        case 'd': o.decision = optarg; break;
        case 'R': o.reason = optarg; break;
        case 'u': o.uid = optarg; break;
        case 'k': o.key = optarg; break;
        case 'H': o.hmac = optarg; break;
        case 'j': o.json = 1; break;
        case 'O': o.originals = 1; break;
        case 'o': o.out = optarg; break;
        default:
            sub_usage();
            goto out;
        }
    }
    int npos = argc - 1 - optind;
    char **pos = argv + 1 + optind;

    int bad;
    if (strcmp(sub, "runs") == 0 || strcmp(sub, "verify") == 0)
        bad = npos != 0;
    else if (strcmp(sub, "trace") == 0)
        bad = npos != 1;
    else if (strcmp(sub, "find") == 0)
        bad = npos != 0 || !((o.uid && o.key && !o.hmac) || (o.hmac && !o.uid));
    else if (strcmp(sub, "export") == 0)
        bad = npos != 0 || !o.json;
    else if (strcmp(sub, "review") == 0)
        bad = npos != 0 || !(o.finding || o.findings_file) || !o.reviewer || !o.decision ||
              !o.reason || (strcmp(o.decision, "waive") != 0 && strcmp(o.decision, "fix") != 0);
    else if (strcmp(sub, "merge") == 0)
        bad = npos < 1;
    else
        bad = 1;
    if (bad) {
        sub_usage();
        goto out;
    }
    if ((o.findings_file || o.report) && strcmp(sub, "review") != 0) {
        sub_usage();
        goto out;
    }
    if (o.findings_file && read_findings(&o) != 0)
        goto out;

    audit_db *db = open_trail(&o, strcmp(sub, "merge") == 0);
    if (!db)
        goto out;
    if (strcmp(sub, "runs") == 0)
        rc = do_runs(db);
    else if (strcmp(sub, "trace") == 0)
        rc = do_trace(db, &o, pos[0]);
    else if (strcmp(sub, "find") == 0)
        rc = do_find(db, &o);
    else if (strcmp(sub, "verify") == 0)
        rc = do_verify(db, &o);
    else if (strcmp(sub, "export") == 0)
        rc = do_export(db, &o);
    else if (strcmp(sub, "review") == 0)
        rc = do_review(db, &o);
    else
        rc = do_merge(db, npos, pos);
    audit_close(db);
out:
    *op = o;
    return rc;
}

int cmd_audit(int argc, char **argv)
{
    if (cmd_common_flag("audit", argc, argv))
        return 0;
    if (argc < 2) {
        sub_usage();
        return EXIT_USAGE;
    }
    struct opts o = {.audit = AUDIT_DEFAULT_NAME};
    int rc = audit_command(argc, argv, &o);
    free(o.finding);
    free(o.findings_text);
    return rc;
}
