/* reports/report.c — the report in memory, the gate, JSON (deidtk-report(5)) and merging. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "reports/report-int.h"
#include "verify/verify.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *report_utf8(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *o = malloc(len * 3 + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
                 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
        int good = n > 0 && i + n <= len;
        for (size_t k = 1; good && k < n; k++)
            good = (p[i + k] & 0xc0) == 0x80;
        /* Overlong, surrogate and beyond-U+10FFFF forms. */
        if (good && n == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0)))
            good = 0;
        if (good && n == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] >= 0x90)))
            good = 0;
        if (good) {
            memcpy(o + j, p + i, n);
            j += n;
            i += n;
        } else {
            memcpy(o + j, "\xef\xbf\xbd", 3);
            j += 3;
            i++;
        }
    }
    o[j] = '\0';
    return o;
}

/* Copies s as valid UTF-8 (report_utf8); *ok is cleared when out of memory (NULL stays
 * NULL). */
static char *dup_ok(const char *s, int *ok)
{
    if (!s)
        return NULL;
    char *d = report_utf8(s);
    if (!d)
        *ok = 0;
    return d;
}

/* Makes room for one more element of size sz in *v. */
static int grow(void **v, size_t *cap, size_t n, size_t need, size_t sz)
{
    if (n + need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 8;
    while (c < n + need)
        c *= 2;
    void *p = realloc(*v, c * sz);
    if (!p)
        return -1;
    *v = p;
    *cap = c;
    return 0;
}

static void free_facts(rep_facts *x)
{
    if (x) {
        free(x->patient); free(x->study); free(x->sop); free(x->original); free(x->offset);
        free(x);
    }
}

static void free_file(rep_file *f)
{
    free(f->path); free(f->input); free(f->status); free(f->error);
    free_facts(f->facts);
    free(f->sha256);
}

/* A new rep_facts of copies; NULL with *ok cleared when out of memory. */
static rep_facts *new_facts(const char *patient, const char *study, const char *sop,
                            const char *original, const char *offset, int *ok)
{
    rep_facts *x = calloc(1, sizeof *x);
    if (!x) {
        *ok = 0;
        return NULL;
    }
    int mine = 1;
    *x = (rep_facts){dup_ok(patient, &mine), dup_ok(study, &mine), dup_ok(sop, &mine),
                     dup_ok(original, &mine), dup_ok(offset, &mine)};
    if (!mine) {
        free_facts(x);
        *ok = 0;
        return NULL;
    }
    return x;
}

static rep_facts *copy_facts(const rep_facts *x, int *ok)
{
    return x ? new_facts(x->patient, x->study, x->sop, x->original, x->offset, ok) : NULL;
}

static void free_finding(rep_finding *f)
{
    free(f->file); free(f->where); free(f->detector); free(f->value); free(f->message);
    free(f->waived_by); free(f->waive_reason);
}

void rep_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

report *report_new(const char *command, const char *tool_version)
{
    report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    int ok = 1;
    r->command = dup_ok(command ? command : "", &ok);
    r->tool_version = dup_ok(tool_version ? tool_version : "", &ok);
    r->fail_on = SEV_POLICY;
    if (!ok) {
        report_free(r);
        return NULL;
    }
    return r;
}

void report_free(report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nmeta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].value);
    }
    for (size_t i = 0; i < r->nfiles; i++)
        free_file(&r->files[i]);
    for (size_t i = 0; i < r->nfindings; i++)
        free_finding(&r->findings[i]);
    for (size_t i = 0; i < r->nthumbs; i++) {
        free(r->thumbs[i].ref);
        free(r->thumbs[i].png);
    }
    rep_free_strings(r->merged, r->nmerged);
    free(r->meta); free(r->files); free(r->findings); free(r->thumbs);
    free(r->command); free(r->tool_version); free(r->source);
    free(r);
}

int report_set_meta(report *r, const char *key, const char *value)
{
    if (!key || !*key || !value) {
        errno = EINVAL;
        return -1;
    }
    char *v = report_utf8(value);
    if (!v)
        return -1;
    for (size_t i = 0; i < r->nmeta; i++)
        if (strcmp(r->meta[i].key, key) == 0) {
            free(r->meta[i].value);
            r->meta[i].value = v;
            return 0;
        }
    char *k = strdup(key);
    if (!k || grow((void **)&r->meta, &r->capmeta, r->nmeta, 1, sizeof *r->meta)) {
        free(k);
        free(v);
        return -1;
    }
    r->meta[r->nmeta].key = k;
    r->meta[r->nmeta].value = v;
    r->nmeta++;
    return 0;
}

const char *report_get_command(const report *r)
{
    return r->command;
}

const char *report_get_meta(const report *r, const char *key)
{
    for (size_t i = 0; i < r->nmeta; i++)
        if (strcmp(r->meta[i].key, key) == 0)
            return r->meta[i].value;
    return NULL;
}

static int valid_status(const char *s)
{
    return s && (strcmp(s, "ok") == 0 || strcmp(s, "error") == 0 || strcmp(s, "skipped") == 0);
}

int report_add_file(report *r, const char *path, const char *input, const char *status,
                    const char *error, int frames_inspected)
{
    if (!path || !valid_status(status)) {
        errno = EINVAL;
        return -1;
    }
    if (grow((void **)&r->files, &r->capfiles, r->nfiles, 1, sizeof *r->files))
        return -1;
    int ok = 1;
    rep_file f = {dup_ok(path, &ok), dup_ok(input, &ok), dup_ok(status, &ok),
                  dup_ok(error, &ok), frames_inspected, NULL, NULL};
    if (!ok) {
        free_file(&f);
        errno = ENOMEM;
        return -1;
    }
    r->files[r->nfiles++] = f;
    if (input)
        r->unmasked = 1;
    return 0;
}

int report_set_file_facts(report *r, const char *patient, const char *study, const char *sop,
                          const char *original_patient, const char *offset)
{
    if (!r->nfiles) {
        errno = EINVAL;
        return -1;
    }
    int ok = 1;
    rep_facts *x = new_facts(patient, study, sop, original_patient, offset, &ok);
    if (!ok) {
        errno = ENOMEM;
        return -1;
    }
    free_facts(r->files[r->nfiles - 1].facts);
    r->files[r->nfiles - 1].facts = x;
    return 0;
}

static int is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

int report_set_file_sha256(report *r, const char *sha256)
{
    if (!r->nfiles || !sha256 || !is_sha256_hex(sha256)) {
        errno = EINVAL;
        return -1;
    }
    char *s = strdup(sha256);
    if (!s)
        return -1;
    free(r->files[r->nfiles - 1].sha256);
    r->files[r->nfiles - 1].sha256 = s;
    return 0;
}

size_t report_file_count(const report *r)
{
    return r->nfiles;
}

const char *report_file_path(const report *r, size_t i, const char **status,
                             const char **sha256)
{
    *status = r->files[i].status;
    *sha256 = r->files[i].sha256;
    return r->files[i].path;
}

/* A waiver needs a named reviewer and a reason; neither alone means anything. */
static int valid_waiver(const char *by, const char *reason)
{
    if (!by && !reason)
        return 1;
    return by && reason && *by && *reason;
}

int report_add_finding(report *r, const verify_finding *f, const char *waived_by,
                       const char *waive_reason)
{
    if (!f || !valid_waiver(waived_by, waive_reason) || f->severity < SEV_INFO ||
        f->severity > SEV_LEAK) {
        errno = EINVAL;
        return -1;
    }
    if (grow((void **)&r->findings, &r->capfindings, r->nfindings, 1, sizeof *r->findings))
        return -1;
    int ok = 1;
    rep_finding g = {.file = dup_ok(f->file, &ok), .where = dup_ok(f->where, &ok),
                     .detector = dup_ok(f->detector, &ok), .value = dup_ok(f->value, &ok),
                     .message = dup_ok(f->message, &ok), .severity = f->severity,
                     .waived_by = dup_ok(waived_by, &ok),
                     .waive_reason = dup_ok(waive_reason, &ok)};
    memcpy(g.id, f->id, sizeof g.id);
    g.id[sizeof g.id - 1] = '\0';
    if (!ok) {
        free_finding(&g);
        errno = ENOMEM;
        return -1;
    }
    r->findings[r->nfindings++] = g;
    if (f->value)
        r->unmasked = 1;
    return 0;
}

size_t report_finding_count(const report *r)
{
    return r->nfindings;
}

const char *report_finding_id(const report *r, size_t i, int *waived)
{
    *waived = r->findings[i].waived_by != NULL;
    return r->findings[i].id;
}

int report_waive_finding(report *r, size_t i, const char *by, const char *reason)
{
    if (i >= r->nfindings || !valid_waiver(by, reason)) {
        errno = EINVAL;
        return -1;
    }
    char *b = by ? strdup(by) : NULL, *w = reason ? strdup(reason) : NULL;
    if ((by && !b) || (reason && !w)) {
        free(b);
        free(w);
        return -1;
    }
    free(r->findings[i].waived_by);
    free(r->findings[i].waive_reason);
    r->findings[i].waived_by = b;
    r->findings[i].waive_reason = w;
    return 0;
}

/* A relative path inside the report's folder: it goes into an <img src>, so no scheme, no
 * absolute path, no way up. */
static int valid_thumb_path(const char *p)
{
    if (!p || !*p || *p == '/' || strchr(p, '\\') || strchr(p, ':'))
        return 0;
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return 0;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 0;
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

int report_add_thumbnail(report *r, const char *finding_or_file_id, const char *png_path)
{
    if (!finding_or_file_id || !*finding_or_file_id || !valid_thumb_path(png_path)) {
        errno = EINVAL;
        return -1;
    }
    if (grow((void **)&r->thumbs, &r->capthumbs, r->nthumbs, 1, sizeof *r->thumbs))
        return -1;
    int ok = 1;
    rep_thumb t = {dup_ok(finding_or_file_id, &ok), dup_ok(png_path, &ok)};
    if (!ok) {
        free(t.ref);
        free(t.png);
        errno = ENOMEM;
        return -1;
    }
    r->thumbs[r->nthumbs++] = t;
    return 0;
}

const char *rep_thumb_for(const report *r, const char *ref)
{
    if (!ref)
        return NULL;
    for (size_t i = 0; i < r->nthumbs; i++)
        if (strcmp(r->thumbs[i].ref, ref) == 0)
            return r->thumbs[i].png;
    return NULL;
}

void report_set_gate(report *r, verify_severity fail_on)
{
    if (fail_on >= SEV_INFO && fail_on <= SEV_LEAK)
        r->fail_on = fail_on;
}

verify_severity report_fail_on(const report *r)
{
    return r->fail_on;
}

void report_get_summary(const report *r, report_summary *s)
{
    memset(s, 0, sizeof *s);
    s->files = r->nfiles;
    for (size_t i = 0; i < r->nfiles; i++) {
        const char *st = r->files[i].status;
        if (strcmp(st, "ok") == 0)
            s->ok++;
        else if (strcmp(st, "error") == 0)
            s->errors++;
        else
            s->skipped++;
    }
    s->findings = r->nfindings;
    for (size_t i = 0; i < r->nfindings; i++) {
        const rep_finding *f = &r->findings[i];
        s->by_severity[f->severity]++;
        if (f->waived_by) {
            s->waived++;
            continue;
        }
        s->open_by_severity[f->severity]++;
        verify_finding vf = {.detector = f->detector, .severity = f->severity};
        if (verify_blocks(&vf, r->fail_on))
            s->blocking++;
    }
}

int report_blocked(const report *r)
{
    report_summary s;
    report_get_summary(r, &s);
    return s.blocking > 0 || s.errors > 0;
}

int rep_gate_reasons(const report *r, char ***out, size_t *n)
{
    report_summary s;
    report_get_summary(r, &s);
    char **v = calloc(2, sizeof *v);
    *n = 0;
    *out = NULL;
    if (!v)
        return -1;
    char buf[512];
    if (s.errors) {
        snprintf(buf, sizeof buf, "%zu file%s could not be processed", s.errors,
                 s.errors == 1 ? "" : "s");
        if (!(v[(*n)++] = strdup(buf)))
            goto oom;
    }
    if (s.blocking) {
        int len = snprintf(buf, sizeof buf, "%zu finding%s not waived at or above '%s' (",
                           s.blocking, s.blocking == 1 ? "" : "s",
                           verify_severity_name(r->fail_on));
        const char *sep = "";
        for (int sev = SEV_LEAK; sev >= (int)r->fail_on; sev--)
            if (s.open_by_severity[sev]) {
                len += snprintf(buf + len, sizeof buf - len, "%s%s: %zu", sep,
                                verify_severity_name(sev), s.open_by_severity[sev]);
                sep = ", ";
            }
        snprintf(buf + len, sizeof buf - len, ")");
        if (!(v[(*n)++] = strdup(buf)))
            goto oom;
    }
    *out = v;
    return 0;
oom:
    rep_free_strings(v, *n);
    *n = 0;
    return -1;
}

char *rep_display(const char *s, int mask, int *oom)
{
    if (!s)
        return NULL;
    char *m = mask ? verify_mask(s) : NULL;
    if (mask && !m) {
        *oom = 1;
        return NULL;
    }
    char *c = report_utf8(mask ? m : s);
    free(m);
    if (!c)
        *oom = 1;
    return c;
}

/* s with every occurrence of needle replaced by repl (malloc'd), or NULL. */
static char *replace_all(const char *s, const char *needle, const char *repl)
{
    size_t nl = strlen(needle), rl = strlen(repl), count = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + nl, needle))
        count++;
    char *o = malloc(strlen(s) + count * (rl > nl ? rl - nl : 0) + 1);
    if (!o)
        return NULL;
    char *w = o;
    for (const char *p = s, *q; ; p = q + nl) {
        q = strstr(p, needle);
        if (!q) {
            strcpy(w, p);
            break;
        }
        memcpy(w, p, q - p);
        w += q - p;
        memcpy(w, repl, rl);
        w += rl;
    }
    return o;
}

static int add_scrub(rep_scrub *s, size_t *cap, const char *path, const char *needle,
                     int errors_only)
{
    if (!path || !needle || !*needle)
        return 0;
    if (grow((void **)&s->v, cap, s->n, 1, sizeof *s->v))
        return -1;
    s->v[s->n++] = (rep_scrub_item){path, needle, errors_only};
    return 0;
}

/* By path, then the longest needle first so that a whole input path is masked before its
 * base name. */
static int cmp_scrub(const void *a, const void *b)
{
    const rep_scrub_item *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c)
        return c;
    size_t lx = strlen(x->needle), ly = strlen(y->needle);
    return lx > ly ? -1 : lx < ly;
}

int rep_scrub_init(const report *r, rep_scrub *s)
{
    size_t cap = 0;
    s->v = NULL;
    s->n = 0;
    int bad = 0;
    for (size_t i = 0; i < r->nfiles && !bad; i++) {
        const rep_file *f = &r->files[i];
        if (!f->input)
            continue;
        const char *base = strrchr(f->input, '/');
        bad |= add_scrub(s, &cap, f->path, f->input, 0);
        if (base && base[1])
            bad |= add_scrub(s, &cap, f->path, base + 1, 1);
    }
    for (size_t i = 0; i < r->nfindings && !bad; i++) {
        const rep_finding *f = &r->findings[i];
        if (f->where && strcmp(f->where, "path") == 0)
            bad |= add_scrub(s, &cap, f->file, f->value, 0);
    }
    if (bad) {
        rep_scrub_free(s);
        return -1;
    }
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_scrub);
    return 0;
}

void rep_scrub_free(rep_scrub *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

char *rep_scrubbed(const rep_scrub *s, const char *path, const char *text, int is_error,
                   int show, int *oom)
{
    if (!text)
        return NULL;
    char *cur = strdup(text);
    if (!cur) {
        *oom = 1;
        return NULL;
    }
    size_t lo = 0, hi = s->n;
    while (!show && path && lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->v[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; !show && path && i < s->n && strcmp(s->v[i].path, path) == 0; i++) {
        if (s->v[i].errors_only && !is_error)
            continue;
        char *m = verify_mask(s->v[i].needle);
        char *next = m ? replace_all(cur, s->v[i].needle, m) : NULL;
        free(m);
        free(cur);
        if (!next) {
            *oom = 1;
            return NULL;
        }
        cur = next;
    }
    char *c = report_utf8(cur);
    free(cur);
    if (!c)
        *oom = 1;
    return c;
}

int rep_write_atomic(const char *path, const char *buf, size_t len, int private_file,
                     char *err, size_t errlen)
{
    static atomic_uint seq;
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 48);
    if (!tmp) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, pl + 48, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, private_file ? 0600 : 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        seterr(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;
fail:
    seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

/* ---- JSON ---- */

static int add_str(cJSON *o, const char *key, const char *s)
{
    cJSON *it = s ? cJSON_CreateString(s) : cJSON_CreateNull();
    if (!it)
        return -1;
    cJSON_AddItemToObject(o, key, it);
    return 0;
}

/* Adds a display form of s (masked unless show) under key; takes care of freeing. */
static int add_display(cJSON *o, const char *key, const char *s, int mask)
{
    int oom = 0;
    char *d = rep_display(s, mask, &oom);
    if (oom)
        return -1;
    int rc = add_str(o, key, d);
    free(d);
    return rc;
}

static int add_scrubbed(cJSON *o, const char *key, const rep_scrub *sc, const char *path,
                        const char *text, int show)
{
    int oom = 0;
    char *d = rep_scrubbed(sc, path, text, text != path, show, &oom);
    if (oom)
        return -1;
    int rc = add_str(o, key, d);
    free(d);
    return rc;
}

static int add_num(cJSON *o, const char *key, double v)
{
    return cJSON_AddNumberToObject(o, key, v) ? 0 : -1;
}

static cJSON *build_json(const report *r, const rep_scrub *sc, int show)
{
    int mask = !show;
    int bad = 0;
    report_summary s;
    report_get_summary(r, &s);
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    bad |= add_str(root, "schema", REPORT_SCHEMA);
    bad |= add_str(root, "command", r->command);
    bad |= add_str(root, "tool_version", r->tool_version);
    bad |= !cJSON_AddBoolToObject(root, "values_shown", show && r->unmasked);

    cJSON *meta = cJSON_AddObjectToObject(root, "meta");
    bad |= !meta;
    for (size_t i = 0; meta && i < r->nmeta; i++)
        bad |= add_display(meta, r->meta[i].key, r->meta[i].value, 0);
    if (r->nmerged) {
        cJSON *m = cJSON_AddArrayToObject(root, "merged_from");
        bad |= !m;
        for (size_t i = 0; m && i < r->nmerged; i++) {
            cJSON *it = cJSON_CreateString(r->merged[i]);
            bad |= !it;
            cJSON_AddItemToArray(m, it);
        }
    }

    cJSON *gate = cJSON_AddObjectToObject(root, "gate");
    bad |= !gate;
    if (gate) {
        bad |= add_str(gate, "fail_on", verify_severity_name(r->fail_on));
        bad |= !cJSON_AddBoolToObject(gate, "blocked", s.blocking > 0 || s.errors > 0);
        char **reasons;
        size_t nr;
        cJSON *ra = cJSON_AddArrayToObject(gate, "reasons");
        if (!ra || rep_gate_reasons(r, &reasons, &nr)) {
            bad = 1;
        } else {
            for (size_t i = 0; i < nr; i++) {
                cJSON *it = cJSON_CreateString(reasons[i]);
                bad |= !it;
                cJSON_AddItemToArray(ra, it);
            }
            rep_free_strings(reasons, nr);
        }
    }

    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    bad |= !sum;
    if (sum) {
        bad |= add_num(sum, "files", s.files) | add_num(sum, "ok", s.ok) |
               add_num(sum, "errors", s.errors) | add_num(sum, "skipped", s.skipped) |
               add_num(sum, "findings", s.findings) | add_num(sum, "waived", s.waived) |
               add_num(sum, "blocking", s.blocking);
        cJSON *bs = cJSON_AddObjectToObject(sum, "findings_by_severity");
        cJSON *os = cJSON_AddObjectToObject(sum, "open_by_severity");
        cJSON *bd = cJSON_AddObjectToObject(sum, "findings_by_detector");
        bad |= !bs || !os || !bd;
        for (int sev = SEV_LEAK; bs && os && sev >= SEV_INFO; sev--) {
            bad |= add_num(bs, verify_severity_name(sev), s.by_severity[sev]);
            bad |= add_num(os, verify_severity_name(sev), s.open_by_severity[sev]);
        }
        for (size_t i = 0; bd && i < r->nfindings; i++) {
            const char *d = r->findings[i].detector ? r->findings[i].detector : "";
            cJSON *c = cJSON_GetObjectItemCaseSensitive(bd, d);
            if (c)
                cJSON_SetNumberValue(c, c->valuedouble + 1);
            else
                bad |= add_num(bd, d, 1);
        }
    }

    cJSON *files = cJSON_AddArrayToObject(root, "files");
    bad |= !files;
    for (size_t i = 0; files && i < r->nfiles; i++) {
        const rep_file *f = &r->files[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            bad = 1;
            break;
        }
        cJSON_AddItemToArray(files, o);
        bad |= add_scrubbed(o, "path", sc, f->path, f->path, show) |
               add_display(o, "input", f->input, mask) | add_str(o, "status", f->status) |
               add_scrubbed(o, "error", sc, f->path, f->error, show) |
               add_num(o, "frames_inspected", f->frames);
        if (f->sha256)
            bad |= add_str(o, "sha256", f->sha256);
        const rep_facts *x = f->facts;
        cJSON *d = x ? cJSON_AddObjectToObject(o, "dataset") : NULL;
        if (x)
            bad |= !d || add_str(d, "patient", x->patient) | add_str(d, "study", x->study) |
                   add_str(d, "sop", x->sop) | add_str(d, "original_patient", x->original) |
                   add_str(d, "offset", x->offset);
    }

    cJSON *finds = cJSON_AddArrayToObject(root, "findings");
    bad |= !finds;
    for (size_t i = 0; finds && i < r->nfindings; i++) {
        const rep_finding *f = &r->findings[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            bad = 1;
            break;
        }
        cJSON_AddItemToArray(finds, o);
        bad |= add_str(o, "id", f->id) | add_scrubbed(o, "file", sc, f->file, f->file, show) |
               add_display(o, "where", f->where, 0) | add_display(o, "detector", f->detector, 0) |
               add_str(o, "severity", verify_severity_name(f->severity)) |
               add_display(o, "value", f->value, mask) | add_display(o, "message", f->message, 0) |
               add_display(o, "waived_by", f->waived_by, 0) |
               add_display(o, "waive_reason", f->waive_reason, 0);
    }

    cJSON *th = cJSON_AddArrayToObject(root, "thumbnails");
    bad |= !th;
    for (size_t i = 0; th && i < r->nthumbs; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            bad = 1;
            break;
        }
        cJSON_AddItemToArray(th, o);
        bad |= add_scrubbed(o, "ref", sc, r->thumbs[i].ref, r->thumbs[i].ref, show) | add_str(o, "png", r->thumbs[i].png);
    }
    if (bad) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int report_write_json(const report *r, const char *path, int show_values, char *err,
                      size_t errlen)
{
    rep_scrub sc;
    cJSON *root = rep_scrub_init(r, &sc) ? NULL : build_json(r, &sc, show_values);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    rep_scrub_free(&sc);
    if (!text) {
        seterr(err, errlen, "out of memory building the report");
        return -1;
    }
    size_t len = strlen(text);
    /* cJSON_Print leaves the last line open; a text file ends with a newline. */
    char *nl = realloc(text, len + 2);
    if (!nl) {
        free(text);
        seterr(err, errlen, "out of memory building the report");
        return -1;
    }
    text = nl;
    text[len++] = '\n';
    text[len] = '\0';
    int rc = rep_write_atomic(path, text, len, show_values && r->unmasked, err, errlen);
    free(text);
    return rc;
}

/* ---- loading ---- */

static char *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int rerr = ferror(fp);
    fclose(fp);
    if (!buf || rerr) {
        seterr(err, errlen, buf ? "cannot read %s" : "out of memory reading %s", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Reads an optional string member: absent or null gives NULL; any other type is an error. */
static int get_opt_str(const cJSON *o, const char *key, char **out, int *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it))
        return -1;
    *out = dup_ok(it->valuestring, ok);
    return 0;
}

static int get_req_str(const cJSON *o, const char *key, char **out, int *ok)
{
    if (get_opt_str(o, key, out, ok) || (!*out && *ok))
        return -1;
    return 0;
}

static int load_files(report *r, const cJSON *a, char *err, size_t errlen)
{
    const cJSON *o;
    size_t i = 0;
    cJSON_ArrayForEach(o, a) {
        int ok = 1;
        rep_file f = {0};
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(o, "frames_inspected");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dataset");
        int bad = !cJSON_IsObject(o) || get_req_str(o, "path", &f.path, &ok) ||
                  get_opt_str(o, "input", &f.input, &ok) ||
                  get_req_str(o, "status", &f.status, &ok) ||
                  get_opt_str(o, "error", &f.error, &ok) || (fr && !cJSON_IsNumber(fr)) ||
                  get_opt_str(o, "sha256", &f.sha256, &ok) ||
                  (f.sha256 && !is_sha256_hex(f.sha256)) ||
                  (d && !cJSON_IsNull(d) && !cJSON_IsObject(d));
        if (!bad && ok && cJSON_IsObject(d) && !(f.facts = calloc(1, sizeof *f.facts)))
            ok = 0;
        if (!bad && ok && f.facts)
            bad = get_opt_str(d, "patient", &f.facts->patient, &ok) ||
                  get_opt_str(d, "study", &f.facts->study, &ok) ||
                  get_opt_str(d, "sop", &f.facts->sop, &ok) ||
                  get_opt_str(d, "original_patient", &f.facts->original, &ok) ||
                  get_opt_str(d, "offset", &f.facts->offset, &ok);
        if (!bad && ok && !valid_status(f.status))
            bad = 1;
        if (!bad && ok)
            ok = !grow((void **)&r->files, &r->capfiles, r->nfiles, 1, sizeof *r->files);
        if (bad || !ok) {
            free_file(&f);
            seterr(err, errlen, bad ? "files[%zu] is invalid" : "out of memory", i);
            return -1;
        }
        f.frames = fr ? (int)fr->valuedouble : 0;
        r->files[r->nfiles++] = f;
        i++;
    }
    return 0;
}

static int load_findings(report *r, const cJSON *a, char *err, size_t errlen)
{
    const cJSON *o;
    size_t i = 0;
    cJSON_ArrayForEach(o, a) {
        int ok = 1, sev = -1;
        rep_finding f = {0};
        char *id = NULL, *sevname = NULL;
        /* file, where and detector make the finding's id, and the gate reads the detector:
         * a report without them (damaged, or written by something else) is refused. */
        int bad = !cJSON_IsObject(o) || get_req_str(o, "id", &id, &ok) ||
                  get_req_str(o, "file", &f.file, &ok) || get_req_str(o, "where", &f.where, &ok) ||
                  get_req_str(o, "detector", &f.detector, &ok) ||
                  get_req_str(o, "severity", &sevname, &ok) ||
                  get_opt_str(o, "value", &f.value, &ok) ||
                  get_opt_str(o, "message", &f.message, &ok) ||
                  get_opt_str(o, "waived_by", &f.waived_by, &ok) ||
                  get_opt_str(o, "waive_reason", &f.waive_reason, &ok);
        if (!bad && ok) {
            sev = verify_severity_parse(sevname);
            bad = sev < 0 || strlen(id) >= sizeof f.id ||
                  !valid_waiver(f.waived_by, f.waive_reason);
        }
        if (!bad && ok)
            ok = !grow((void **)&r->findings, &r->capfindings, r->nfindings, 1,
                       sizeof *r->findings);
        if (bad || !ok) {
            free(id);
            free(sevname);
            free_finding(&f);
            seterr(err, errlen, bad ? "findings[%zu] is invalid" : "out of memory", i);
            return -1;
        }
        strcpy(f.id, id);
        f.severity = (verify_severity)sev;
        free(id);
        free(sevname);
        r->findings[r->nfindings++] = f;
        i++;
    }
    return 0;
}

static int load_report(report *r, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, REPORT_SCHEMA) != 0) {
        seterr(err, errlen, "not a %s report (schema %s)", REPORT_SCHEMA,
               cJSON_IsString(schema) ? schema->valuestring : "missing");
        return -1;
    }
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(root, "command");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "tool_version");
    const cJSON *shown = cJSON_GetObjectItemCaseSensitive(root, "values_shown");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(root, "gate");
    const cJSON *failon = cJSON_GetObjectItemCaseSensitive(gate, "fail_on");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    const cJSON *finds = cJSON_GetObjectItemCaseSensitive(root, "findings");
    const cJSON *thumbs = cJSON_GetObjectItemCaseSensitive(root, "thumbnails");
    const cJSON *merged = cJSON_GetObjectItemCaseSensitive(root, "merged_from");
    int sev = cJSON_IsString(failon) ? verify_severity_parse(failon->valuestring) : -1;
    if (!cJSON_IsString(cmd) || (ver && !cJSON_IsString(ver)) || !cJSON_IsBool(shown) ||
        (meta && !cJSON_IsObject(meta)) || sev < 0 || !cJSON_IsArray(files) ||
        !cJSON_IsArray(finds) || (thumbs && !cJSON_IsArray(thumbs)) ||
        (merged && !cJSON_IsArray(merged))) {
        seterr(err, errlen, "invalid report: command, values_shown, gate.fail_on, files or "
               "findings missing or of the wrong type");
        return -1;
    }
    int ok = 1;
    free(r->command);
    r->command = dup_ok(cmd->valuestring, &ok);
    if (ver) {
        free(r->tool_version);
        r->tool_version = dup_ok(ver->valuestring, &ok);
    }
    r->fail_on = (verify_severity)sev;
    r->unmasked = cJSON_IsTrue(shown);
    const cJSON *it;
    cJSON_ArrayForEach(it, meta) {
        if (!cJSON_IsString(it) || !*it->string) {
            seterr(err, errlen, "meta.%s is not a string", it->string);
            return -1;
        }
        if (report_set_meta(r, it->string, it->valuestring))
            ok = 0;
    }
    cJSON_ArrayForEach(it, merged) {
        if (!cJSON_IsString(it)) {
            seterr(err, errlen, "merged_from holds a non-string");
            return -1;
        }
        char *s = dup_ok(it->valuestring, &ok);
        if (s && !grow((void **)&r->merged, &r->capmerged, r->nmerged, 1, sizeof *r->merged))
            r->merged[r->nmerged++] = s;
        else {
            free(s);
            ok = 0;
        }
    }
    if (!ok) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    if (load_files(r, files, err, errlen) || load_findings(r, finds, err, errlen))
        return -1;
    size_t i = 0;
    cJSON_ArrayForEach(it, thumbs) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(it, "ref");
        const cJSON *png = cJSON_GetObjectItemCaseSensitive(it, "png");
        if (!cJSON_IsString(ref) || !cJSON_IsString(png) ||
            report_add_thumbnail(r, ref->valuestring, png->valuestring)) {
            seterr(err, errlen, errno == ENOMEM ? "out of memory" : "thumbnails[%zu] is invalid", i);
            return -1;
        }
        i++;
    }
    return 0;
}

int report_load_json(const char *path, report **out, char *err, size_t errlen)
{
    size_t len;
    *out = NULL;
    char *text = read_all(path, &len, err, errlen);
    if (!text)
        return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        seterr(err, errlen, "%s: not a JSON object", path);
        return -1;
    }
    report *r = report_new("", "");
    char msg[384] = "out of memory";
    if (!r || load_report(r, root, msg, sizeof msg) || !(r->source = strdup(path))) {
        cJSON_Delete(root);
        report_free(r);
        seterr(err, errlen, "%s: %s", path, msg);
        return -1;
    }
    cJSON_Delete(root);
    *out = r;
    return 0;
}

/* ---- merging ---- */

static int same_opt(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *name_of(const report *r)
{
    return r->source ? r->source : "the report";
}

/* Where a run's output sits in the release: run writes
 * OUT/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm, so the last four components of its
 * path, whatever OUT each shard had. A shorter path is its own place. */
static const char *release_place(const char *path)
{
    const char *p = path + strlen(path);
    for (int slashes = 0; p > path; p--)
        if (p[-1] == '/' && ++slashes == 4)
            break;
    return p;
}

static int cmp_file_place(const void *a, const void *b)
{
    return strcmp(release_place((*(const rep_file *const *)a)->path),
                  release_place((*(const rep_file *const *)b)->path));
}

/* A regular file opened for reading, its size in *size; -1 (errno set, EINVAL: not a regular
 * file) otherwise. A report names the files: a device or a pipe would never end, or never
 * start. */
static int open_regular(const char *path, off_t *size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int bad = fd < 0 ? 0 : fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (bad) {
        close(fd);
        errno = bad;
        return -1;
    }
    if (fd >= 0)
        *size = st.st_size;
    return fd;
}

/* Reads up to n bytes; fewer only at the end of the file. -1 on error. */
static ssize_t read_full(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

int report_same_files(const char *a, const char *b)
{
    off_t sa = 0, sb = 0;
    int fa = open_regular(a, &sa), fb = fa >= 0 ? open_regular(b, &sb) : -1;
    int same = fa >= 0 && fb >= 0 ? sa == sb : -1;
    char x[65536], y[65536];
    for (ssize_t na = 1; same == 1 && na > 0;) {
        na = read_full(fa, x, sizeof x);
        ssize_t nb = read_full(fb, y, sizeof y);
        if (na < 0 || nb < 0)
            same = -1;
        else
            same = na == nb && memcmp(x, y, (size_t)na) == 0;
    }
    int e = errno;
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    errno = e;
    return same;
}

/* What merging says of src's file f, written by a run: NULL when no earlier shard wrote to
 * its place in the release (earlier: dst's outputs sorted by place); else *status and the
 * returned message (malloc'd). Two shards' inputs with one SOP Instance UID each make an
 * output at one place: merging the output folders would keep one, so the merge does what
 * a whole run does: the same bytes twice are skipped, different bytes are an error. */
static char *shard_clash(const rep_file *f, const rep_file *const *earlier, size_t n,
                         const char **status, int *oom)
{
    const rep_file *const *hit = n ? bsearch(&f, earlier, n, sizeof *earlier, cmp_file_place)
                                   : NULL;
    if (!hit)
        return NULL;
    const char *other = (*hit)->path;
    char msg[1024];
    /* The SHA-256 each run recorded says it without the files (moved or not copied yet). */
    int same = f->sha256 && (*hit)->sha256 ? strcmp(f->sha256, (*hit)->sha256) == 0
                                           : report_same_files(other, f->path);
    *status = same == 1 ? "skipped" : "error";
    if (same == 1)
        snprintf(msg, sizeof msg, "the same file as %s, written by another shard: skipped",
                 other);
    else if (same == 0)
        snprintf(msg, sizeof msg, "another shard wrote %s to the same place in the release, "
                 "with other contents (their inputs share a SOP Instance UID): merging the "
                 "output folders would keep only one", other);
    else
        snprintf(msg, sizeof msg, "another shard wrote %s to the same place in the release, "
                 "and the two cannot be compared (%s): merging the output folders would keep "
                 "only one", other, errno == EINVAL ? "not a regular file" : strerror(errno));
    char *m = strdup(msg);
    if (!m)
        *oom = 1;
    return m;
}

int report_merge(report *dst, const report *src, char *err, size_t errlen)
{
    static const char *const must_match[] = {"policy_sha256", "key_fingerprint"};
    /* A run's outputs and a verify of them are the same files twice, not two shards. */
    if (!same_opt(dst->command, src->command)) {
        seterr(err, errlen, "cannot merge %s into %s: a %s report and a %s report are not "
               "shards of one run or one verify", name_of(src), name_of(dst),
               src->command ? src->command : "command-less",
               dst->command ? dst->command : "command-less");
        return -1;
    }
    for (size_t k = 0; k < sizeof must_match / sizeof *must_match; k++) {
        const char *a = report_get_meta(dst, must_match[k]);
        const char *b = report_get_meta(src, must_match[k]);
        if (!same_opt(a, b)) {
            seterr(err, errlen, "cannot merge %s into %s: %s differs (%s vs %s); shards of "
                   "one release must use the same policy and key", name_of(src), name_of(dst),
                   must_match[k], b ? b : "none", a ? a : "none");
            return -1;
        }
    }
    char **paths = dst->nfiles ? malloc(dst->nfiles * sizeof *paths) : NULL;
    if (dst->nfiles && !paths) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < dst->nfiles; i++)
        paths[i] = dst->files[i].path;
    qsort(paths, dst->nfiles, sizeof *paths, cmp_str);
    for (size_t i = 0; i < src->nfiles; i++) {
        char *key = src->files[i].path;
        if (dst->nfiles && bsearch(&key, paths, dst->nfiles, sizeof *paths, cmp_str)) {
            seterr(err, errlen, "cannot merge %s into %s: both report on %s (the same shard "
                   "twice?)", name_of(src), name_of(dst), key);
            free(paths);
            return -1;
        }
    }
    free(paths);

    /* Reserve everything first so that dst is untouched when memory runs out. */
    size_t nsrcs = src->nmerged ? src->nmerged : (src->source ? 1 : 0);
    size_t nself = (!dst->nmerged && dst->source) ? 1 : 0;
    if (grow((void **)&dst->files, &dst->capfiles, dst->nfiles, src->nfiles, sizeof *dst->files) ||
        grow((void **)&dst->findings, &dst->capfindings, dst->nfindings, src->nfindings,
             sizeof *dst->findings) ||
        grow((void **)&dst->thumbs, &dst->capthumbs, dst->nthumbs, src->nthumbs,
             sizeof *dst->thumbs) ||
        grow((void **)&dst->merged, &dst->capmerged, dst->nmerged, nsrcs + nself,
             sizeof *dst->merged)) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    int ok = 1;
    size_t nf = 0, ng = 0, nt = 0, nm = 0;
    rep_file *files = dst->files + dst->nfiles;
    rep_finding *finds = dst->findings + dst->nfindings;
    rep_thumb *thumbs = dst->thumbs + dst->nthumbs;
    char **names = dst->merged + dst->nmerged;
    /* dst's written outputs by place, when both are runs (a verify writes nothing). */
    int runs = dst->command && src->command && strcmp(dst->command, "run") == 0 &&
               strcmp(src->command, "run") == 0;
    size_t nout = 0;
    const rep_file **outs = runs && dst->nfiles ? malloc(dst->nfiles * sizeof *outs) : NULL;
    if (runs && dst->nfiles && !outs)
        ok = 0;
    for (size_t i = 0; outs && i < dst->nfiles; i++)
        if (strcmp(dst->files[i].status, "ok") == 0)
            outs[nout++] = &dst->files[i];
    if (outs)
        qsort(outs, nout, sizeof *outs, cmp_file_place);
    for (; ok && nf < src->nfiles; nf++) {
        const rep_file *f = &src->files[nf];
        const char *status = f->status;
        int oom = 0;
        char *clash = runs && strcmp(f->status, "ok") == 0
                          ? shard_clash(f, outs, nout, &status, &oom) : NULL;
        files[nf] = (rep_file){dup_ok(f->path, &ok), dup_ok(f->input, &ok),
                               dup_ok(status, &ok), clash ? clash : dup_ok(f->error, &ok),
                               f->frames, copy_facts(f->facts, &ok), dup_ok(f->sha256, &ok)};
        if (oom)
            ok = 0;
    }
    free(outs);
    for (; ok && ng < src->nfindings; ng++) {
        const rep_finding *f = &src->findings[ng];
        finds[ng] = *f;
        finds[ng].file = dup_ok(f->file, &ok);
        finds[ng].where = dup_ok(f->where, &ok);
        finds[ng].detector = dup_ok(f->detector, &ok);
        finds[ng].value = dup_ok(f->value, &ok);
        finds[ng].message = dup_ok(f->message, &ok);
        finds[ng].waived_by = dup_ok(f->waived_by, &ok);
        finds[ng].waive_reason = dup_ok(f->waive_reason, &ok);
    }
    for (; ok && nt < src->nthumbs; nt++)
        thumbs[nt] = (rep_thumb){dup_ok(src->thumbs[nt].ref, &ok),
                                 dup_ok(src->thumbs[nt].png, &ok)};
    if (ok && nself)
        names[nm++] = dup_ok(dst->source, &ok);
    for (size_t i = 0; ok && i < nsrcs; i++)
        names[nm++] = dup_ok(src->nmerged ? src->merged[i] : src->source, &ok);
    if (!ok) {
        for (size_t i = 0; i < nf; i++)
            free_file(&files[i]);
        for (size_t i = 0; i < ng; i++)
            free_finding(&finds[i]);
        for (size_t i = 0; i < nt; i++) {
            free(thumbs[i].ref);
            free(thumbs[i].png);
        }
        for (size_t i = 0; i < nm; i++)
            free(names[i]);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    dst->nfiles += nf;
    dst->nfindings += ng;
    dst->nthumbs += nt;
    dst->nmerged += nm;
    if (src->fail_on < dst->fail_on)
        dst->fail_on = src->fail_on;
    dst->unmasked |= src->unmasked;
    return 0;
}

static int is_dataset_finding(const rep_finding *f)
{
    return f->where && strcmp(f->where, "dataset") == 0;
}

int report_check_dataset(report *r)
{
    if (!r->command || (strcmp(r->command, "run") != 0 && strcmp(r->command, "verify") != 0))
        return 0;
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].status, "ok") == 0 && !r->files[i].facts)
            return 0;
    verify_dataset *d = verify_dataset_new();
    verify_findings wide = {0};
    int ok = d != NULL;
    for (size_t i = 0; ok && i < r->nfiles; i++) {
        const rep_file *f = &r->files[i];
        if (strcmp(f->status, "ok") != 0)
            continue;
        verify_facts v = {0};
        snprintf(v.patient_id, sizeof v.patient_id, "%s", f->facts->patient ? f->facts->patient : "");
        snprintf(v.study_uid, sizeof v.study_uid, "%s", f->facts->study ? f->facts->study : "");
        snprintf(v.sop_uid, sizeof v.sop_uid, "%s", f->facts->sop ? f->facts->sop : "");
        ok = verify_dataset_add(d, f->path, &v, f->facts->original, f->facts->offset) == 0;
    }
    ok = ok && verify_dataset_finish(d, &wide) == 0;
    verify_dataset_free(d);
    /* The new findings go after the others first, so that r is as it was if memory runs
     * out; then the shards' own dataset findings leave. */
    size_t before = r->nfindings;
    for (size_t k = 0; ok && k < wide.n; k++) {
        const rep_finding *old = NULL;
        for (size_t i = 0; i < before && !old; i++)
            if (is_dataset_finding(&r->findings[i]) && r->findings[i].waived_by &&
                strcmp(r->findings[i].id, wide.v[k].id) == 0)
                old = &r->findings[i];
        ok = report_add_finding(r, &wide.v[k], old ? old->waived_by : NULL,
                                old ? old->waive_reason : NULL) == 0;
    }
    verify_findings_clear(&wide);
    if (!ok) {
        while (r->nfindings > before)
            free_finding(&r->findings[--r->nfindings]);
        return -1;
    }
    size_t w = 0;
    for (size_t i = 0; i < r->nfindings; i++) {
        if (i < before && is_dataset_finding(&r->findings[i]))
            free_finding(&r->findings[i]);
        else
            r->findings[w++] = r->findings[i];
    }
    r->nfindings = w;
    return 1;
}

/* A place as run names it (cli/cmd-run.c path_name): nothing that a line of sha256sum(1)
 * would have to escape, or that would lead out of the release's folder. */
static int safe_place(const char *p)
{
    int slashes = 0;
    for (const char *c = p; *c; c++) {
        if (*c == '/')
            slashes++;
        else if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
                 !(*c >= '0' && *c <= '9') && *c != '.' && *c != '-' && *c != '_')
            return 0;
        int starts = c == p || c[-1] == '/';
        if (starts && *c == '.' && (c[1] == '/' || !c[1] || (c[1] == '.' && (c[2] == '/' || !c[2]))))
            return 0;  /* "." or ".." */
    }
    return slashes == 3;
}

/* The manifest's text: JSON, or sha256sum(1)'s "HASH  PATH" lines. NULL when out of memory. */
static char *manifest_text(const report *r, const rep_file *const *f, size_t n, int json)
{
    if (!json) {
        size_t cap = 1, len = 0;
        for (size_t i = 0; i < n; i++)
            cap += 64 + 2 + strlen(release_place(f[i]->path)) + 1;
        char *text = malloc(cap);
        for (size_t i = 0; text && i < n; i++)
            len += (size_t)snprintf(text + len, cap - len, "%s  %s\n", f[i]->sha256,
                                    release_place(f[i]->path));
        if (text)
            text[len] = 0;
        return text;
    }
    static const char *const facts[] = {"preset", "options", "policy_sha256", "key_fingerprint",
                                        "ocr_frames", "fail_on", "trail_runs_head",
                                        "trail_reviews_head"};
    cJSON *root = cJSON_CreateObject();
    int bad = !root;
    if (root)
        bad |= add_str(root, "schema", "deidtk-manifest/1") |
               add_str(root, "tool_version", r->tool_version);
    cJSON *m = root ? cJSON_AddObjectToObject(root, "meta") : NULL;
    bad |= !m;
    for (size_t k = 0; m && k < sizeof facts / sizeof *facts; k++)
        if (report_get_meta(r, facts[k]))
            bad |= add_str(m, facts[k], report_get_meta(r, facts[k]));
    if (root)
        bad |= add_num(root, "count", (double)n);
    cJSON *files = root ? cJSON_AddArrayToObject(root, "files") : NULL;
    bad |= !files;
    for (size_t i = 0; files && !bad && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(files, o)) {
            cJSON_Delete(o);
            bad = 1;
            break;
        }
        bad |= add_str(o, "path", release_place(f[i]->path)) | add_str(o, "sha256", f[i]->sha256);
    }
    char *text = bad ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

int report_write_manifest(const report *r, const char *path, char *err, size_t errlen)
{
    if (!r->command || strcmp(r->command, "run") != 0) {
        seterr(err, errlen, "a manifest lists what a run released; this is a %s report",
               r->command ? r->command : "command-less");
        return -1;
    }
    if (report_blocked(r)) {
        seterr(err, errlen, "the gate is BLOCKED: no manifest for a release that must not go out");
        return -1;
    }
    size_t n = 0;
    const rep_file **f = r->nfiles ? malloc(r->nfiles * sizeof *f) : NULL;
    if (r->nfiles && !f) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        if (strcmp(r->files[i].status, "ok") != 0)
            continue;
        const char *bad = !r->files[i].sha256 ? "no SHA-256 in the report: it was written "
                          "without the audit trail (--no-audit), so nothing says what was verified"
                          : !safe_place(release_place(r->files[i].path))
                          ? "not a place in a release that run writes (letters, digits, '.', "
                            "'-', '_' and four folders)"
                          : NULL;
        if (bad) {
            seterr(err, errlen, "%s: %s", r->files[i].path, bad);
            free(f);
            return -1;
        }
        f[n++] = &r->files[i];
    }
    /* In place order: the manifest reads the same however the shards merged. */
    if (n)
        qsort(f, n, sizeof *f, cmp_file_place);
    size_t len = strlen(path);
    char *text = manifest_text(r, f, n, len >= 5 && strcmp(path + len - 5, ".json") == 0);
    free(f);
    if (!text) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    int rc = rep_write_atomic(path, text, strlen(text), 0, err, errlen);
    free(text);
    return rc;
}
