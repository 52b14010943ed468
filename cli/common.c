/* cli/common.c — discovery, sharding, worker pool, progress. */
#include "config.h"
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli/cmd.h"
#include "cli/common.h"
#include "ocr/ocr.h"
#include "deid/pseudo.h"
#include "reports/report.h"

static int files_add(cli_files *f, const char *path, const char *rel)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        char **p = realloc(f->paths, cap * sizeof *p);
        if (!p)
            return -1;
        f->paths = p;
        char **r = realloc(f->rel, cap * sizeof *r);
        if (!r)
            return -1;
        f->rel = r;
        f->cap = cap;
    }
    f->paths[f->n] = strdup(path);
    f->rel[f->n] = strdup(rel);
    if (!f->paths[f->n] || !f->rel[f->n])
        return -1;
    f->n++;
    return 0;
}

/* nftw has no user pointer: the walk in progress lives here (discovery runs on one thread). */
static cli_files *walk_out;
static size_t walk_root_len;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    const char *base = path + ftw->base;
    if (ftw->level > 0 && base[0] == '.')
        return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
    /* A link to a file is read like the file; a link to a folder is not followed (it could
     * loop, or lead out of the input). */
    struct stat target;
    int linked_file = type == FTW_SL && stat(path, &target) == 0 && S_ISREG(target.st_mode);
    if ((type == FTW_F && S_ISREG(st->st_mode)) || linked_file) {
        const char *rel = path + walk_root_len;
        while (*rel == '/')
            rel++;
        if (files_add(walk_out, path, *rel ? rel : base) != 0)
            return FTW_STOP;
    }
    return FTW_CONTINUE;
}

static int cmp_index(const void *a, const void *b, void *paths)
{
    char **p = paths;
    return strcmp(p[*(const size_t *)a], p[*(const size_t *)b]);
}

int cli_discover(char *const *inputs, int n, cli_files *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(inputs[i], &st) != 0) {
            snprintf(err, errlen, "%s: %s", inputs[i], strerror(errno));
            return -1;
        }
        if (S_ISREG(st.st_mode)) {
            const char *slash = strrchr(inputs[i], '/');
            if (files_add(out, inputs[i], slash ? slash + 1 : inputs[i]) != 0)
                goto oom;
            continue;
        }
        /* A folder named through a link is walked where the link points (nftw would only
         * report the link). */
        struct stat lst;
        char *root = NULL;
        if (lstat(inputs[i], &lst) == 0 && S_ISLNK(lst.st_mode) &&
            !(root = realpath(inputs[i], NULL))) {
            snprintf(err, errlen, "%s: %s", inputs[i], strerror(errno));
            return -1;
        }
        const char *walk = root ? root : inputs[i];
        walk_out = out;
        walk_root_len = strlen(walk);
        int walked = nftw(walk, walk_one, 32, FTW_PHYS | FTW_ACTIONRETVAL);
        free(root);
        if (walked != 0) {
            snprintf(err, errlen, "%s: cannot walk the folder", inputs[i]);
            return -1;
        }
    }
    /* Nothing to do is a mistaken path, not a dataset that passes. */
    if (out->n == 0) {
        snprintf(err, errlen, "%s%s: no files found", n > 0 ? inputs[0] : "",
                 n > 1 ? " and the other inputs" : "");
        return -1;
    }
    /* Sort both arrays by path together. */
    size_t *idx = malloc((out->n ? out->n : 1) * sizeof *idx);
    char **p = malloc((out->n ? out->n : 1) * sizeof *p), **r = malloc((out->n ? out->n : 1) * sizeof *r);
    if (!idx || !p || !r) {
        free(idx);
        free(p);
        free(r);
        goto oom;
    }
    for (size_t i = 0; i < out->n; i++)
        idx[i] = i;
    qsort_r(idx, out->n, sizeof *idx, cmp_index, out->paths);
    for (size_t i = 0; i < out->n; i++) {
        p[i] = out->paths[idx[i]];
        r[i] = out->rel[idx[i]];
    }
    free(out->paths);
    free(out->rel);
    free(idx);
    out->paths = p;
    out->rel = r;
    out->cap = out->n;
    return 0;
oom:
    snprintf(err, errlen, "out of memory while listing files");
    return -1;
}

void cli_files_free(cli_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->paths[i]);
        free(f->rel[i]);
    }
    free(f->paths);
    free(f->rel);
    memset(f, 0, sizeof *f);
}

int cli_shard_parse(const char *text, int *k, int *n)
{
    char extra;
    if (sscanf(text, "%d/%d%c", k, n, &extra) != 2 || *n < 1 || *k < 1 || *k > *n)
        return -1;
    return 0;
}

/* FNV-1a: every byte counts, and it is the same on every machine (shards depend on it). */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    return h;
}

void cli_files_shard(cli_files *f, int k, int n)
{
    if (n <= 1)
        return;
    size_t w = 0;
    for (size_t i = 0; i < f->n; i++) {
        if ((int)(fnv1a(f->rel[i]) % (uint64_t)n) == k - 1) {
            f->paths[w] = f->paths[i];
            f->rel[w] = f->rel[i];
            w++;
        } else {
            free(f->paths[i]);
            free(f->rel[i]);
        }
    }
    f->n = w;
}

/* Open addressing with linear probing, at most half full. */
struct cli_strmap {
    char **keys;
    void **values;
    size_t n, cap;  /* cap: a power of two */
};

cli_strmap *cli_strmap_new(void)
{
    cli_strmap *m = calloc(1, sizeof *m);
    if (m && (!(m->keys = calloc(64, sizeof *m->keys)) ||
              !(m->values = calloc(64, sizeof *m->values)))) {
        cli_strmap_free(m);
        return NULL;
    }
    if (m)
        m->cap = 64;
    return m;
}

void cli_strmap_free(cli_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->values);
    free(m);
}

static size_t strmap_slot(char **keys, size_t cap, const char *key)
{
    size_t i = (size_t)fnv1a(key) & (cap - 1);
    while (keys[i] && strcmp(keys[i], key) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

static int strmap_grow(cli_strmap *m)
{
    size_t cap = m->cap * 2;
    char **keys = calloc(cap, sizeof *keys);
    void **values = calloc(cap, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t s = strmap_slot(keys, cap, m->keys[i]);
            keys[s] = m->keys[i];
            values[s] = m->values[i];
        }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return 0;
}

int cli_strmap_add(cli_strmap *m, const char *key, void *value, void **old)
{
    size_t s = strmap_slot(m->keys, m->cap, key);
    if (m->keys[s]) {
        if (old)
            *old = m->values[s];
        return 0;
    }
    if (2 * (m->n + 1) > m->cap) {
        if (strmap_grow(m) != 0)
            return -1;
        s = strmap_slot(m->keys, m->cap, key);
    }
    if (!(m->keys[s] = strdup(key)))
        return -1;
    m->values[s] = value;
    m->n++;
    return 1;
}

/* The most workers --jobs may ask for: each holds a few copies of the file it is on (up
 * to 64 MB), so a mistyped count must not start thousands. */
#define MAX_JOBS 1024
#define STR_(x) #x
#define STR(x) STR_(x)

int cli_parse_int(const char *text, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno == ERANGE || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (int)n;
}

struct pool {
    size_t n, next;
    size_t *done_q;
    size_t qhead, qtail;
    size_t max_waiting;  /* finished items the writer has not taken yet, at most */
    cli_work_fn work;
    void *ud;
    pthread_mutex_t mu;
    pthread_cond_t cv, room;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        /* A writer that falls behind holds every finished item's results: wait for it
         * rather than let them pile up (memory would grow with the number of files). */
        while (p->qtail - p->qhead >= p->max_waiting)
            pthread_cond_wait(&p->room, &p->mu);
        size_t i = p->next < p->n ? p->next++ : p->n;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            return NULL;
        p->work(i, p->ud);
        pthread_mutex_lock(&p->mu);
        p->done_q[p->qtail++] = i;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

int cli_pool_run(size_t n, int jobs, cli_work_fn work, cli_work_fn done, void *ud)
{
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > n)
        jobs = n ? (int)n : 1;
    /* Room for the writer's pauses (with room for 128, one worker lost 15% of a 20000-file
     * run waiting), and a bound however many workers there are. */
    struct pool p = {n, 0, calloc(n ? n : 1, sizeof(size_t)), 0, 0, 1024 + 16 * (size_t)jobs,
                     work, ud, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                     PTHREAD_COND_INITIALIZER};
    pthread_t *t = calloc((size_t)jobs, sizeof *t);
    if (!p.done_q || !t) {
        free(p.done_q);
        free(t);
        return -1;
    }
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&t[i], NULL, worker, &p) == 0)
            started++;
    if (!started) {
        free(p.done_q);
        free(t);
        return -1;
    }
    for (size_t handled = 0; handled < n; handled++) {
        pthread_mutex_lock(&p.mu);
        while (p.qhead == p.qtail)
            pthread_cond_wait(&p.cv, &p.mu);
        size_t i = p.done_q[p.qhead++];
        pthread_cond_signal(&p.room);
        pthread_mutex_unlock(&p.mu);
        done(i, ud);
    }
    for (int i = 0; i < jobs; i++)
        if (i < started)
            pthread_join(t[i], NULL);
    free(p.done_q);
    free(t);
    return 0;
}

static int progress_shown;

void cli_progress(const char *verb, size_t done, size_t total, size_t failed)
{
    static int tty = -1;  /* asked once: the progress line is drawn for every file */
    if (tty < 0)
        tty = isatty(STDERR_FILENO);
    if (!tty || total == 0)
        return;
    int width = 30, fill = (int)(done * width / total);
    fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu", verb, fill, "##############################",
            width - fill, "", done, total);
    if (failed)
        fprintf(stderr, " (%zu failed)", failed);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_end(void)
{
    if (progress_shown)
        fputc('\n', stderr);
    progress_shown = 0;
}

int cli_path_inside(const char *path, const char *dir)
{
    char rd[PATH_MAX], rp[PATH_MAX];
    if (!realpath(dir, rd))
        return 0;
    /* The path may not exist yet: resolve its folder. */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    const char *base = path;
    if (slash) {
        *slash = 0;
        base = slash + 1;
        if (!realpath(tmp[0] ? tmp : "/", rp))
            return 0;
    } else if (!realpath(".", rp)) {
        return 0;
    }
    size_t n = strlen(rp);
    snprintf(rp + n, sizeof rp - n, "/%s", base);
    size_t ld = strlen(rd);
    return strncmp(rp, rd, ld) == 0 && (rp[ld] == '/' || rp[ld] == 0);
}

static int remove_temporary(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    if (type == FTW_F && strncmp(path + ftw->base, ".deidtk-", 8) == 0)
        unlink(path);
    return FTW_CONTINUE;
}

void cli_remove_temporaries(const char *out_dir)
{
    nftw(out_dir, remove_temporary, 32, FTW_PHYS | FTW_ACTIONRETVAL);
}

int cli_mkdirs(const char *dir, int mode)
{
    /* The folder itself first: it usually exists, or only it is missing (one call). */
    if (mkdir(dir, (mode_t)mode) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -1;
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int cli_policy_setup(deid_policy *p, const char *preset, deid_options opts,
                     const char *policy_file, char *err, size_t errlen)
{
    if (policy_file && deid_policy_load_file(p, policy_file, err, errlen) != 0)
        return -1;
    if ((preset || opts || !policy_file) &&
        deid_policy_select(p, preset, opts, err, errlen) != 0)
        return -1;
    return 0;
}

void cli_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void cli_shared_init(cli_shared *s, verify_config *vc)
{
    memset(s, 0, sizeof *s);
    s->jobs = cli_default_jobs();
    s->fail_on = SEV_SUSPECT;
    s->shard_k = s->shard_n = 1;
    s->vc = vc;
    vc->ocr = 1;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg)
{
    (void)usage;
    fprintf(stderr, "deidtk %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " ('deidtk %s --help' for usage)\n", cmd);
    return EXIT_USAGE;
}

/* 1 when c was a shared option and was taken, 0 when it is not one, 2 when --help or
 * --version was answered, -1 after a usage error. */
static int shared_option(const char *cmd, const char *usage, int c, const char *arg,
                         cli_shared *s)
{
    int o;
    switch (c) {
    case CLI_O_PRESET: s->preset = arg; return 1;
    case CLI_O_OPTION:
        if ((o = deid_option_parse(arg)) < 0) {
            cli_usage_error(cmd, usage, "unknown option '%s' (deidtk profile --list)", arg);
            return -1;
        }
        s->opts |= DEID_OPTION_BIT(o);
        return 1;
    case CLI_O_POLICY: s->policy_file = arg; return 1;
    case CLI_O_NOOCR: s->vc->ocr = 0; return 1;
    case CLI_O_FRAMES:
        if (verify_frames_parse(arg, s->vc) != 0) {
            cli_usage_error(cmd, usage, "--ocr-frames takes all, first or sample:N, not '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_O_FAILON:
        if ((s->fail_on = verify_severity_parse(arg)) < 0) {
            cli_usage_error(cmd, usage,
                            "--fail-on takes leak, phi, suspect, policy or info, not '%s'", arg);
            return -1;
        }
        return 1;
    case 'j':
        if (cli_parse_int(arg, 1, MAX_JOBS, &s->jobs) != 0) {
            cli_usage_error(cmd, usage, "--jobs takes a number from 1 to " STR(MAX_JOBS)
                            ", not '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_O_REPORT: s->report_prefix = arg; return 1;
    case CLI_O_SHOW: s->show_values = 1; return 1;
    case CLI_O_SHARD:
        if (cli_shard_parse(arg, &s->shard_k, &s->shard_n) != 0) {
            cli_usage_error(cmd, usage, "--shard takes K/N with 1 <= K <= N, not '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_O_HELP: fputs(usage, stdout); return 2;
    case CLI_O_VERSION: printf("deidtk %s %s\n", cmd, PACKAGE_VERSION); return 2;
    default: return 0;
    }
}

void cli_json_str(FILE *fp, const char *s)
{
    char *u = report_utf8(s ? s : "");
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)(u ? u : s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(fp, "\\u%04x", *p);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
    free(u);
}

void cli_shared_start(cli_shared *s, struct report *rep, const char *report_prefix,
                      char *thumbs, size_t len)
{
    char now[32], frames[32];
    report_set_gate(rep, (verify_severity)s->fail_on);
    cli_now(now, sizeof now);
    report_set_meta(rep, "started", now);
    report_set_meta(rep, "fail_on", verify_severity_name((verify_severity)s->fail_on));
    if (!s->vc->ocr)
        snprintf(frames, sizeof frames, "none");
    else if (s->vc->frames == VERIFY_FRAMES_SAMPLE)
        snprintf(frames, sizeof frames, "sample:%d", s->vc->sample);
    else
        snprintf(frames, sizeof frames, "%s",
                 s->vc->frames == VERIFY_FRAMES_FIRST ? "first" : "all");
    report_set_meta(rep, "ocr_frames", frames);
    if (s->shard_n > 1) {
        char shard[32];
        snprintf(shard, sizeof shard, "%d/%d", s->shard_k, s->shard_n);
        report_set_meta(rep, "shard", shard);
    }
    snprintf(thumbs, len, "%s-thumbs", report_prefix);
    /* Thumbnails show burned-in text when values are shown: then only their owner reads. */
    if (s->vc->ocr && cli_mkdirs(thumbs, s->show_values ? 0700 : 0755) == 0) {
        s->vc->thumb_dir = thumbs;
        s->vc->thumb_rel = strrchr(thumbs, '/') ? strrchr(thumbs, '/') + 1 : thumbs;
        s->vc->thumb_show_text = s->show_values;
    }
}

void cli_shared_end(cli_shared *s)
{
    /* rmdir removes only an empty folder: one with thumbnails, or the user's files, stays. */
    if (s->vc->thumb_dir)
        rmdir(s->vc->thumb_dir);
}

int cli_run_workers(const char *cmd, size_t n, int jobs, cli_work_fn work, cli_work_fn done,
                    void *ud)
{
    if (cli_pool_run(n, jobs, work, done, ud) != 0) {
        fprintf(stderr, "deidtk %s: cannot start worker threads\n", cmd);
        return -1;
    }
    cli_progress_end();
    ocr_thread_reader_release();
    return 0;
}

size_t cli_dataset_findings(verify_dataset *d, struct report *rep,
                            void (*extra)(const verify_finding *f, void *ud), void *ud)
{
    verify_findings wide = {0};
    verify_dataset_finish(d, &wide);
    for (size_t k = 0; k < wide.n; k++) {
        report_add_finding(rep, &wide.v[k], NULL, NULL);
        if (extra)
            extra(&wide.v[k], ud);
    }
    size_t n = wide.n;
    verify_findings_clear(&wide);
    return n;
}

/* 32 hex digits are plenty to tell values apart, and keep the report small. */
#define REPORT_TOKEN_LEN 32

void cli_report_facts(struct report *rep, const unsigned char *key, const verify_facts *facts,
                      const char *original_patient, const char *offset)
{
    const char *value[] = {facts->patient_id, facts->study_uid, facts->sop_uid,
                           original_patient, offset};
    char token[5][65];
    const char *t[5];
    for (int k = 0; k < 5; k++) {
        int ok = value[k] && value[k][0] &&
                 deid_token(key, "report-fact", value[k], token[k]) == 0;
        token[k][REPORT_TOKEN_LEN] = 0;
        t[k] = ok ? token[k] : NULL;
    }
    report_set_file_facts(rep, t[0], t[1], t[2], t[3], t[4]);
}

int cli_next_option(const char *cmd, const char *usage, int argc, char **argv,
                    const char *shortopts, const struct option *longopts, cli_shared *s,
                    int *status)
{
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int taken = shared_option(cmd, usage, c, optarg, s);
        if (taken == 0)
            return c;
        if (taken < 0 || taken == 2) {
            *status = taken < 0 ? EXIT_USAGE : 0;
            return CLI_EXIT;
        }
    }
    return -1;
}
