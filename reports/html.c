/* reports/html.c — the report as one self-contained HTML page for the people who sign a
 * release off: verdict, run facts, summaries, findings by file, waivers, file errors.
 * Inline CSS, no script, no external fetch (a Content-Security-Policy forbids them); every
 * string is escaped, since DICOM values are attacker-controlled text. */
#include "config.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reports/report-int.h"

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
    const rep_scrub *sc;
    int show;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 65536;
        while (c < b->n + len + 1)
            c *= 2;
        char *p = realloc(b->p, c);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    /* Longer than the stack buffer (the style sheet is): format again into the heap. */
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    free(big);
}

/* Text and attribute values alike; control characters become visible \xNN. s must be
 * valid UTF-8 (rep_display makes it so). */
static void sb_esc(sbuf *b, const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default:
            if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                sb_printf(b, "\\x%02x", *p);
            else
                sb_put(b, (const char *)p, 1);
        }
    }
}

/* Escapes the display form of s (masked when mask). */
static void sb_disp(sbuf *b, const char *s, int mask)
{
    int oom = 0;
    char *d = rep_display(s, mask, &oom);
    if (oom)
        b->oom = 1;
    sb_esc(b, d);
    free(d);
}

/* Escapes text written for the file path (its path, its error) with that file's PHI masked. */
static void sb_scrub(sbuf *b, const char *path, const char *text)
{
    int oom = 0;
    char *d = rep_scrubbed(b->sc, path, text, text != path, b->show, &oom);
    if (oom)
        b->oom = 1;
    sb_esc(b, d);
    free(d);
}

/* A relative URL: every byte outside the unreserved set and '/' percent-encoded. */
static void sb_url(sbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            sb_put(b, (const char *)p, 1);
        else
            sb_printf(b, "%%%02X", *p);
    }
}

static void sb_thumb(sbuf *b, const char *png)
{
    if (!png)
        return;
    sb_puts(b, "<a href=\"");
    sb_url(b, png);
    sb_puts(b, "\"><img class=\"thumb\" alt=\"thumbnail\" src=\"");
    sb_url(b, png);
    sb_puts(b, "\"></a>");
}

static void sb_badge(sbuf *b, verify_severity s)
{
    const char *n = verify_severity_name(s);
    sb_printf(b, "<span class=\"sev sev-%s\">%s</span>", n, n);
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}"
    "h1{margin:.2em 0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}"
    ".verdict{font-size:48px;font-weight:800;letter-spacing:.05em;padding:.1em .4em;"
    "border-radius:6px;display:inline-block;color:#fff}"
    ".pass{background:#1a7f37}.blocked{background:#c0151b}"
    ".banner{background:#c0151b;color:#fff;font-weight:700;padding:.8em 1em;border-radius:4px;margin:1em 0}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code{font:12px/1.3 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}"
    ".sev{display:inline-block;padding:0 .5em;border-radius:3px;font-weight:700;color:#fff;"
    "font-size:12px;text-transform:uppercase}"
    ".sev-leak{background:#7a0010}.sev-phi{background:#c0151b}.sev-suspect{background:#d97706}"
    ".sev-policy{background:#2563eb}.sev-info{background:#6b7280}"
    "tr.waived td.f{text-decoration:line-through;color:#888}"
    "tr.waived td.f .sev{opacity:.5}"
    ".review{font-size:12px}.open{color:#c0151b;font-weight:700}"
    ".err{color:#c0151b}.file{margin:1.2em 0}.file h3{margin:.2em 0;font-size:15px}"
    "img.thumb{max-width:240px;max-height:240px;border:1px solid #ccc;display:block;margin:.3em 0}"
    ".muted{color:#666;font-size:12px}";

struct ord {
    size_t idx, rank;
};

static const report *sort_r;

static int cmp_path_idx(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return strcmp(sort_r->files[*x].path, sort_r->files[*y].path);
}

/* Files in report order, then findings on files the report does not list, by name; inside
 * a file the most severe first. */
static int cmp_ord(const void *a, const void *b)
{
    const struct ord *x = a, *y = b;
    const rep_finding *fx = &sort_r->findings[x->idx], *fy = &sort_r->findings[y->idx];
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->rank == SIZE_MAX) {
        int c = strcmp(fx->file ? fx->file : "", fy->file ? fy->file : "");
        if (c)
            return c;
    }
    if (fx->severity != fy->severity)
        return fx->severity > fy->severity ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static const char *file_key(const rep_finding *f)
{
    return nz(f->file);
}

/* Ranks every finding by its file's position in the report (SIZE_MAX when unlisted) and
 * sorts them. Returns NULL when out of memory. */
static struct ord *order_findings(const report *r)
{
    struct ord *o = malloc((r->nfindings + 1) * sizeof *o);
    size_t *byname = malloc((r->nfiles + 1) * sizeof *byname);
    if (!o || !byname) {
        free(o);
        free(byname);
        return NULL;
    }
    sort_r = r;
    for (size_t i = 0; i < r->nfiles; i++)
        byname[i] = i;
    qsort(byname, r->nfiles, sizeof *byname, cmp_path_idx);
    for (size_t i = 0; i < r->nfindings; i++) {
        const char *key = file_key(&r->findings[i]);
        size_t lo = 0, hi = r->nfiles, rank = SIZE_MAX;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = strcmp(r->files[byname[mid]].path, key);
            if (c == 0) {
                rank = byname[mid];
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        o[i] = (struct ord){i, rank};
    }
    qsort(o, r->nfindings, sizeof *o, cmp_ord);
    free(byname);
    return o;
}

static void put_finding_row(sbuf *b, const report *r, const rep_finding *f, int mask)
{
    sb_puts(b, f->waived_by ? "<tr class=\"waived\">" : "<tr>");
    sb_puts(b, "<td class=\"f\">");
    sb_badge(b, f->severity);
    sb_puts(b, "</td><td class=\"f\">");
    sb_disp(b, f->detector, 0);
    sb_puts(b, "</td><td class=\"f\"><code>");
    sb_disp(b, f->where, 0);
    sb_puts(b, "</code>");
    sb_thumb(b, rep_thumb_for(r, f->id));
    sb_puts(b, "</td><td class=\"f\"><code>");
    sb_disp(b, f->value, mask);
    sb_puts(b, "</code></td><td class=\"f\">");
    sb_disp(b, f->message, 0);
    sb_puts(b, "</td><td class=\"review\">");
    if (f->waived_by) {
        sb_puts(b, "waived by <b>");
        sb_disp(b, f->waived_by, 0);
        sb_puts(b, "</b>: ");
        sb_disp(b, f->waive_reason, 0);
    } else {
        sb_puts(b, "<span class=\"open\">open</span>");
    }
    sb_puts(b, "<div class=\"muted\">");
    sb_esc(b, f->id);
    sb_puts(b, "</div></td></tr>\n");
}

static void put_findings(sbuf *b, const report *r, int mask)
{
    sb_puts(b, "<h2>Findings by file</h2>\n");
    if (!r->nfindings) {
        sb_puts(b, "<p>No findings.</p>\n");
        return;
    }
    struct ord *o = order_findings(r);
    if (!o) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < r->nfindings; i++) {
        const rep_finding *f = &r->findings[o[i].idx];
        int first = i == 0 || o[i].rank != o[i - 1].rank ||
                    (o[i].rank == SIZE_MAX &&
                     strcmp(file_key(f), file_key(&r->findings[o[i - 1].idx])) != 0);
        if (first) {
            if (i)
                sb_puts(b, "</table></section>\n");
            sb_puts(b, "<section class=\"file\"><h3><code>");
            if (f->file)
                sb_scrub(b, f->file, f->file);
            else
                sb_puts(b, "(no file)");
            sb_puts(b, "</code></h3>");
            if (o[i].rank != SIZE_MAX) {
                const rep_file *rf = &r->files[o[i].rank];
                if (rf->input) {
                    sb_puts(b, "<div class=\"muted\">from <code>");
                    sb_disp(b, rf->input, mask);
                    sb_puts(b, "</code></div>");
                }
            }
            sb_thumb(b, rep_thumb_for(r, f->file));
            sb_puts(b, "<table><tr><th>Severity</th><th>Detector</th><th>Where</th>"
                       "<th>Value</th><th>Message</th><th>Review</th></tr>\n");
        }
        put_finding_row(b, r, f, mask);
    }
    sb_puts(b, "</table></section>\n");
    free(o);
}

static void put_summary(sbuf *b, const report *r, const report_summary *s)
{
    long long frames = 0;
    for (size_t i = 0; i < r->nfiles; i++)
        frames += r->files[i].frames;
    sb_puts(b, "<h2>Summary</h2>\n<table><tr><th>Files</th><th>OK</th><th>Errors</th>"
               "<th>Skipped</th><th>Frames inspected</th></tr>");
    sb_printf(b, "<tr><td class=\"n\">%zu</td><td class=\"n\">%zu</td><td class=\"n%s\">%zu</td>"
                 "<td class=\"n\">%zu</td><td class=\"n\">%lld</td></tr></table>\n",
              s->files, s->ok, s->errors ? " err" : "", s->errors, s->skipped, frames);
    sb_puts(b, "<table><tr><th>Severity</th><th>Findings</th><th>Waived</th><th>Open</th>"
               "<th>Blocks the release</th></tr>");
    for (int sev = SEV_LEAK; sev >= SEV_INFO; sev--) {
        sb_puts(b, "<tr><td>");
        sb_badge(b, sev);
        sb_printf(b, "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td>"
                     "<td>%s</td></tr>",
                  s->by_severity[sev], s->by_severity[sev] - s->open_by_severity[sev],
                  s->open_by_severity[sev], sev >= (int)r->fail_on ? "yes, unless waived" : "no");
    }
    sb_puts(b, "</table>\n");
    if (!r->nfindings)
        return;
    /* Detectors are few: a quadratic count is fine. */
    sb_puts(b, "<table><tr><th>Detector</th><th>Findings</th><th>Open</th></tr>");
    for (size_t i = 0; i < r->nfindings; i++) {
        const char *d = nz(r->findings[i].detector);
        size_t j = 0;
        while (j < i && strcmp(nz(r->findings[j].detector), d))
            j++;
        if (j < i)
            continue;
        size_t all = 0, open = 0;
        for (size_t k = i; k < r->nfindings; k++)
            if (strcmp(nz(r->findings[k].detector), d) == 0) {
                all++;
                open += !r->findings[k].waived_by;
            }
        sb_puts(b, "<tr><td>");
        sb_disp(b, d, 0);
        sb_printf(b, "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td></tr>", all, open);
    }
    sb_puts(b, "</table>\n");
}

static void put_errors(sbuf *b, const report *r, const report_summary *s, int show)
{
    int mask = !show;
    if (s->errors) {
        sb_puts(b, "<h2>File errors</h2>\n<table><tr><th>File</th><th>Input</th><th>Error</th></tr>");
        for (size_t i = 0; i < r->nfiles; i++) {
            const rep_file *f = &r->files[i];
            if (strcmp(f->status, "error") != 0)
                continue;
            sb_puts(b, "<tr><td><code>");
            sb_scrub(b, f->path, f->path);
            sb_puts(b, "</code></td><td><code>");
            sb_disp(b, f->input, mask);
            sb_puts(b, "</code></td><td class=\"err\">");
            sb_scrub(b, f->path, f->error);
            sb_puts(b, "</td></tr>\n");
        }
        sb_puts(b, "</table>\n");
    }
}

static void put_files(sbuf *b, const report *r, int show)
{
    int mask = !show;
    sb_printf(b, "<h2>Files</h2>\n<details><summary>%zu file%s</summary>\n"
                 "<table><tr><th>File</th><th>Input</th><th>Status</th><th>Frames</th></tr>\n",
              r->nfiles, r->nfiles == 1 ? "" : "s");
    for (size_t i = 0; i < r->nfiles; i++) {
        const rep_file *f = &r->files[i];
        sb_puts(b, "<tr><td><code>");
        sb_scrub(b, f->path, f->path);
        sb_puts(b, "</code></td><td><code>");
        sb_disp(b, f->input, mask);
        sb_printf(b, "</code></td><td%s>", strcmp(f->status, "error") ? "" : " class=\"err\"");
        sb_esc(b, f->status);
        sb_printf(b, "</td><td class=\"n\">%d</td></tr>\n", f->frames);
    }
    sb_puts(b, "</table></details>\n");
}

static void put_page(sbuf *b, const report *r, int show)
{
    report_summary s;
    report_get_summary(r, &s);
    int blocked = s.blocking > 0 || s.errors > 0;
    const char *verdict = blocked ? "BLOCKED" : "PASS";
    sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'; img-src 'self' file: data:\">\n"
               "<meta name=\"viewport\" content=\"width=device-width\">\n<title>deidtk ");
    sb_esc(b, r->command);
    sb_printf(b, " report: %s</title>\n<style>%s</style></head><body>\n", verdict, STYLE);
    if (show && r->unmasked)
        sb_puts(b, "<div class=\"banner\">This report shows unmasked values: it holds PHI. "
                   "Do not distribute it; keep it with the originals.</div>\n");
    sb_printf(b, "<header><div class=\"verdict %s\">%s</div>\n<h1>deidtk ",
              blocked ? "blocked" : "pass", verdict);
    sb_esc(b, r->command);
    sb_puts(b, " report</h1><div class=\"muted\">deidtk ");
    sb_esc(b, r->tool_version);
    sb_puts(b, " &middot; schema " REPORT_SCHEMA " &middot; values ");
    sb_puts(b, show && r->unmasked ? "shown" : "masked");
    sb_printf(b, "</div>\n<p>The gate fails on <b>%s</b> and above, and on any file that "
                 "could not be processed.</p>\n", verify_severity_name(r->fail_on));
    char **reasons;
    size_t nr;
    if (rep_gate_reasons(r, &reasons, &nr)) {
        b->oom = 1;
    } else if (nr) {
        sb_puts(b, "<ul class=\"err\">");
        for (size_t i = 0; i < nr; i++) {
            sb_puts(b, "<li>");
            sb_esc(b, reasons[i]);
            sb_puts(b, "</li>");
        }
        sb_puts(b, "</ul>\n");
        rep_free_strings(reasons, nr);
    } else {
        rep_free_strings(reasons, nr);
        sb_puts(b, "<p>Every finding at or above the threshold is waived, and every file was "
                   "processed.</p>\n");
    }
    sb_puts(b, "</header>\n");

    put_summary(b, r, &s);
    sb_puts(b, "<h2>Run</h2>\n<table><tr><th>Command</th><td>");
    sb_esc(b, r->command);
    sb_puts(b, "</td></tr>\n");
    for (size_t i = 0; i < r->nmeta; i++) {
        sb_puts(b, "<tr><th>");
        sb_disp(b, r->meta[i].key, 0);
        sb_puts(b, "</th><td><code>");
        sb_disp(b, r->meta[i].value, 0);
        sb_puts(b, "</code></td></tr>\n");
    }
    if (r->nmerged) {
        sb_puts(b, "<tr><th>merged from</th><td>");
        for (size_t i = 0; i < r->nmerged; i++) {
            sb_puts(b, i ? "<br><code>" : "<code>");
            sb_disp(b, r->merged[i], 0);
            sb_puts(b, "</code>");
        }
        sb_puts(b, "</td></tr>\n");
    }
    sb_puts(b, "</table>\n");
    put_errors(b, r, &s, show);
    put_findings(b, r, !show);
    put_files(b, r, show);
    sb_puts(b, "<footer class=\"muted\"><p>Values are masked (the first character of each "
               "word kept) unless the report was made with --show-values. Waived findings are "
               "struck through and name their reviewer and reason.</p></footer>\n"
               "</body></html>\n");
}

int report_write_html(const report *r, const char *path, int show_values, char *err,
                      size_t errlen)
{
    rep_scrub sc;
    sbuf b = {.sc = &sc, .show = show_values};
    b.oom = rep_scrub_init(r, &sc) != 0;
    if (!b.oom)
        put_page(&b, r, show_values);
    rep_scrub_free(&sc);
    if (b.oom) {
        free(b.p);
        if (err && errlen)
            snprintf(err, errlen, "out of memory building the report");
        return -1;
    }
    int rc = rep_write_atomic(path, b.p, b.n, show_values && r->unmasked, err, errlen);
    free(b.p);
    return rc;
}
