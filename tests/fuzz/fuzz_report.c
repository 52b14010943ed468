/* tests/fuzz/fuzz_report.c — libFuzzer target: any bytes as shard reports (split at the
 * first NUL into two), loaded, merged, checked as one dataset, written back as JSON and
 * HTML, and as a manifest, as `deidtk report` does. Built by tests/fuzz/build.sh, not by
 * make. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "reports/report.h"

static char dir[] = "/tmp/deidtk-fuzz-report-XXXXXX";

static void put(const char *path, const uint8_t *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        abort();
    fwrite(data, 1, n, fp);
    fclose(fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (!mkdtemp(dir))
            abort();
        ready = 1;
    }
    char a[128], b[128], out[128], err[1024];
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    const uint8_t *nul = memchr(data, 0, size);
    size_t na = nul ? (size_t)(nul - data) : size;
    put(a, data, na);
    put(b, nul ? nul + 1 : data, nul ? size - na - 1 : 0);
    report *r = NULL, *s = NULL;
    if (report_load_json(a, &r, err, sizeof err) == 0) {
        if (report_load_json(b, &s, err, sizeof err) == 0)
            report_merge(r, s, err, sizeof err);
        report_check_dataset(r);
        snprintf(out, sizeof out, "%s/out.json", dir);
        report_write_json(r, out, 0, err, sizeof err);
        snprintf(out, sizeof out, "%s/out.html", dir);
        report_write_html(r, out, 1, err, sizeof err);
        snprintf(out, sizeof out, "%s/manifest.json", dir);
        report_write_manifest(r, out, err, sizeof err);
    }
    report_free(s);
    report_free(r);
    return 0;
}
