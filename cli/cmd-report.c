/* cli/cmd-report.c — deidtk report: render a JSON report as HTML, or merge shard reports
 * into one (JSON or HTML), and gate on the result. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cmd.h"
#include "reports/report.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cmd_report(int argc, char **argv)
{
    if (cmd_common_flag("report", argc, argv))
        return 0;
    const char *out = NULL;
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
    rc = blocked ? EXIT_GATE_BLOCKED : EXIT_GATE_PASS;
done:
    report_free(merged);
    free(inputs);
    return rc;
}
