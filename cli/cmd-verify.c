/* cli/cmd-verify.c — deidtk verify: inspect a dataset's tags and every frame's pixels,
 * paired with the originals when they are known, report, and gate the release. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "audit/audit.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "deid/engine.h"
#include "ocr/ocr.h"
#include "reports/report.h"
#include "verify/verify.h"

/* An output paired with its original. */
struct pairing {
    char *output_uid;   /* the SOP Instance UID the original maps to */
    char *original;
};

struct vjob {
    int failed;
    char err[512];
    verify_findings findings;
    verify_facts facts;
    int paired;
};

struct vrun {
    cli_files files;
    struct vjob *jobs;
    verify_config vc;
    deid_engine engine;        /* for the originals' identifying values */
    int have_key;
    struct pairing *pairs;     /* sorted by output_uid */
    size_t npairs;
    audit_db *audit;
    pthread_mutex_t audit_mu;  /* pairing reads the trail from workers */
    report *rep;
    verify_dataset *dataset;
    size_t done, failed, paired;
};

static const char *usage_text =
    "usage: deidtk verify DIR... [options]\n"
    "      --originals DIR       the inputs, to pair each file with its original (by the\n"
    "                            UIDs --key derives, or by unchanged UIDs)\n"
    "      --key FILE            the key the dataset was made with\n"
    "      --audit FILE          pair through this audit trail (default: beside the key)\n"
    "      --preset NAME, --option NAME, --policy FILE   the policy outputs should follow\n"
    "      --no-ocr              tags only\n"
    "      --ocr-frames WHICH    all (default), first, sample:N\n"
    "      --fail-on SEVERITY    leak, phi, suspect (default), policy, info\n"
    "  -j, --jobs N              worker threads (default: the number of cores)\n"
    "      --report PREFIX       write PREFIX.json and PREFIX.html (default deidtk-verify)\n"
    "      --jsonl               also print each finding as a JSON line on stdout\n"
    "      --show-values         show PHI values in reports (authorised curators only)\n";

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const struct pairing *)a)->output_uid, ((const struct pairing *)b)->output_uid);
}

/* With the key, every original's SOP Instance UID says which output it became; a tool
 * that keeps UIDs leaves it as it was. Both are indexed. */
static int index_originals(struct vrun *v, const char *dir, char *err, size_t errlen)
{
    cli_files orig;
    char *dirs[1] = {(char *)dir};
    if (cli_discover(dirs, 1, &orig, err, errlen) != 0)
        return -1;
    v->pairs = calloc(orig.n ? 2 * orig.n : 1, sizeof *v->pairs);
    if (!v->pairs) {
        cli_files_free(&orig);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < orig.n; i++) {
        dcm_file *f;
        char e[512], *uid = NULL;
        if (dcm_open(orig.paths[i], &f, e, sizeof e) != DCM_OK)
            continue;  /* unreadable originals made no output */
        if (dcm_get(f, "(0008,0018)", &uid, e, sizeof e) == DCM_OK && uid && uid[0]) {
            char mapped[DEID_UID_MAX + 1];
            if (v->have_key && deid_uid_root(v->engine.pseudo->key, v->engine.pseudo->uid_root,
                                             uid, mapped, sizeof mapped, e, sizeof e) == 0) {
                v->pairs[v->npairs].output_uid = strdup(mapped);
                v->pairs[v->npairs].original = strdup(orig.paths[i]);
                v->npairs++;
            }
            v->pairs[v->npairs].output_uid = strdup(uid);
            v->pairs[v->npairs].original = strdup(orig.paths[i]);
            v->npairs++;
        }
        free(uid);
        dcm_close(f);
    }
    cli_files_free(&orig);
    qsort(v->pairs, v->npairs, sizeof *v->pairs, cmp_pair);
    return 0;
}

struct trace_ctx {
    char *input;
};

static int trace_file(void *ud, const audit_run_row *run, const audit_file_row *file)
{
    (void)run;
    struct trace_ctx *t = ud;
    if (file->input_path && strcmp(file->status, "ok") == 0) {
        free(t->input);
        t->input = strdup(file->input_path);
    }
    return 0;
}

/* The original of the file at path: by its SOP Instance UID among --originals, else through
 * the audit trail; NULL when unknown (malloc'd). */
static char *original_of(struct vrun *v, const char *path)
{
    char e[512];
    if (v->npairs) {
        dcm_file *f;
        char *uid = NULL;
        if (dcm_open(path, &f, e, sizeof e) != DCM_OK)
            return NULL;
        dcm_get(f, "(0008,0018)", &uid, e, sizeof e);
        dcm_close(f);
        if (!uid)
            return NULL;
        struct pairing key = {uid, NULL};
        struct pairing *p = bsearch(&key, v->pairs, v->npairs, sizeof *v->pairs, cmp_pair);
        free(uid);
        return p ? strdup(p->original) : NULL;
    }
    if (v->audit) {
        char abs[PATH_MAX];
        struct trace_ctx t = {NULL};
        audit_trace_cb cb = {trace_file, NULL};
        int matches = 0;
        pthread_mutex_lock(&v->audit_mu);
        audit_trace(v->audit, path, &cb, &t, &matches, e, sizeof e);
        if (!t.input && realpath(path, abs))
            audit_trace(v->audit, abs, &cb, &t, &matches, e, sizeof e);
        pthread_mutex_unlock(&v->audit_mu);
        if (t.input && access(t.input, R_OK) != 0) {
            free(t.input);
            t.input = NULL;
        }
        return t.input;
    }
    return NULL;
}

static void vwork(size_t i, void *ud)
{
    struct vrun *v = ud;
    struct vjob *j = &v->jobs[i];
    const char *path = v->files.paths[i];
    deid_result orig = {0};
    char *original = original_of(v, path);
    if (original) {
        dcm_file *f;
        if (dcm_open(original, &f, j->err, sizeof j->err) == DCM_OK) {
            if (deid_identifying(&v->engine, f, &orig, j->err, sizeof j->err) == 0)
                j->paired = 1;
            dcm_close(f);
        }
        free(original);
    }
    if (verify_file(&v->vc, path, j->paired ? orig.identifying : NULL,
                    j->paired ? orig.original_uids : NULL, &j->findings, &j->facts, j->err,
                    sizeof j->err) != 0)
        j->failed = 1;
    deid_result_free(&orig);
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static int jsonl, show_values;

static void print_finding(const verify_finding *f)
{
    char *masked = show_values ? NULL : verify_mask(f->value);
    printf("{\"id\":\"%s\",\"file\":", f->id);
    json_str(f->file);
    printf(",\"where\":");
    json_str(f->where);
    printf(",\"detector\":\"%s\",\"severity\":\"%s\",\"value\":", f->detector,
           verify_severity_name(f->severity));
    json_str(show_values ? f->value : masked);
    printf(",\"message\":");
    json_str(f->message);
    printf("}\n");
    free(masked);
}

static void vdone(size_t i, void *ud)
{
    struct vrun *v = ud;
    struct vjob *j = &v->jobs[i];
    const char *path = v->files.paths[i];
    if (j->failed) {
        v->failed++;
        cli_progress_end();
        fprintf(stderr, "deidtk verify: %s\n", j->err);
    }
    v->paired += j->paired;
    report_add_file(v->rep, path, NULL, j->failed ? "error" : "ok", j->failed ? j->err : NULL,
                    j->facts.frames_inspected);
    for (size_t k = 0; k < j->findings.n; k++) {
        char *who = NULL, *why = NULL, e[256];
        if (v->audit)
            audit_waived(v->audit, j->findings.v[k].id, &who, &why, e, sizeof e);
        report_add_finding(v->rep, &j->findings.v[k], who, why);
        if (j->findings.v[k].thumbnail)
            report_add_thumbnail(v->rep, j->findings.v[k].id, j->findings.v[k].thumbnail);
        if (jsonl)
            print_finding(&j->findings.v[k]);
        free(who);
        free(why);
    }
    if (!j->failed)
        verify_dataset_add(v->dataset, path, &j->facts, NULL, VERIFY_NO_OFFSET);
    verify_findings_clear(&j->findings);
    v->done++;
    cli_progress("verifying", v->done, v->files.n, v->failed);
}

enum { V_ORIG = 256, V_KEY, V_AUDIT, V_PRESET, V_OPTION, V_POLICY, V_NOOCR, V_FRAMES,
       V_FAILON, V_REPORT, V_JSONL, V_SHOW, V_HELP, V_VERSION };

static const struct option long_opts[] = {
    {"originals", required_argument, NULL, V_ORIG}, {"key", required_argument, NULL, V_KEY},
    {"audit", required_argument, NULL, V_AUDIT}, {"preset", required_argument, NULL, V_PRESET},
    {"option", required_argument, NULL, V_OPTION}, {"policy", required_argument, NULL, V_POLICY},
    {"no-ocr", no_argument, NULL, V_NOOCR}, {"ocr-frames", required_argument, NULL, V_FRAMES},
    {"fail-on", required_argument, NULL, V_FAILON}, {"jobs", required_argument, NULL, 'j'},
    {"report", required_argument, NULL, V_REPORT}, {"jsonl", no_argument, NULL, V_JSONL},
    {"show-values", no_argument, NULL, V_SHOW}, {"help", no_argument, NULL, V_HELP},
    {"version", no_argument, NULL, V_VERSION}, {NULL, 0, NULL, 0}};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "deidtk verify: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return EXIT_USAGE;
}

int cmd_verify(int argc, char **argv)
{
    const char *originals = NULL, *key_path = NULL, *audit_path = NULL, *preset = NULL;
    const char *policy_file = NULL, *report_prefix = "deidtk-verify";
    deid_options opts = 0;
    int jobs = cli_default_jobs(), fail_on = SEV_SUSPECT, c;
    struct vrun v;
    memset(&v, 0, sizeof v);
    pthread_mutex_init(&v.audit_mu, NULL);
    v.vc.ocr = 1;
    jsonl = show_values = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:", long_opts, NULL)) != -1) {
        switch (c) {
        case V_ORIG: originals = optarg; break;
        case V_KEY: key_path = optarg; break;
        case V_AUDIT: audit_path = optarg; break;
        case V_PRESET: preset = optarg; break;
        case V_OPTION: {
            int o = deid_option_parse(optarg);
            if (o < 0)
                return usage_error("unknown option '%s' (deidtk profile --list)", optarg);
            opts |= DEID_OPTION_BIT(o);
            break;
        }
        case V_POLICY: policy_file = optarg; break;
        case V_NOOCR: v.vc.ocr = 0; break;
        case V_FRAMES:
            if (verify_frames_parse(optarg, &v.vc) != 0)
                return usage_error("--ocr-frames takes all, first or sample:N, not '%s'", optarg);
            break;
        case V_FAILON:
            if ((fail_on = verify_severity_parse(optarg)) < 0)
                return usage_error("--fail-on takes leak, phi, suspect, policy or info, not '%s'",
                                   optarg);
            break;
        case 'j':
            if ((jobs = atoi(optarg)) < 1)
                return usage_error("--jobs takes a positive number, not '%s'", optarg);
            break;
        case V_REPORT: report_prefix = optarg; break;
        case V_JSONL: jsonl = 1; break;
        case V_SHOW: show_values = 1; break;
        case V_HELP: fputs(usage_text, stdout); return 0;
        case V_VERSION: printf("deidtk verify %s\n", PACKAGE_VERSION); return 0;
        default: fputs(usage_text, stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return usage_error("%s", "no DIR given");

    char err[1024];
    int status = EXIT_USAGE;
    deid_policy *policy = deid_policy_new();
    struct deid_pseudo pseudo;
    unsigned char zero[DEID_KEY_LEN] = {0};
    deid_pseudo_init(&pseudo, zero);
    pseudo.unknown_use_template = 1;
    if (!policy || cli_policy_setup(policy, preset, opts, policy_file, err, sizeof err) != 0) {
        fprintf(stderr, "deidtk verify: %s\n", policy ? err : "out of memory");
        goto out;
    }
    v.engine.policy = policy;
    v.engine.pseudo = &pseudo;
    v.vc.policy = policy;
    if (key_path) {
        if (deid_key_load(key_path, pseudo.key, err, sizeof err) != 0) {
            fprintf(stderr, "deidtk verify: %s\n", err);
            goto out;
        }
        v.have_key = 1;
        char apath[PATH_MAX];
        if (!audit_path && audit_default_path(key_path, apath, sizeof apath) == 0 &&
            access(apath, R_OK) == 0)
            audit_path = apath;
        if (audit_path && !originals &&
            audit_open(audit_path, 0, &v.audit, err, sizeof err) != 0) {
            fprintf(stderr, "deidtk verify: %s\n", err);
            goto out;
        }
    }
    if (originals && index_originals(&v, originals, err, sizeof err) != 0) {
        fprintf(stderr, "deidtk verify: %s\n", err);
        goto out;
    }
    if (cli_discover(argv + optind, argc - optind, &v.files, err, sizeof err) != 0) {
        fprintf(stderr, "deidtk verify: %s\n", err);
        goto out;
    }
    v.jobs = calloc(v.files.n ? v.files.n : 1, sizeof *v.jobs);
    v.dataset = verify_dataset_new();
    v.rep = report_new("verify", PACKAGE_VERSION);
    if (!v.jobs || !v.dataset || !v.rep) {
        fprintf(stderr, "deidtk verify: out of memory\n");
        goto out;
    }
    report_set_gate(v.rep, (verify_severity)fail_on);
    char now[32];
    cli_now(now, sizeof now);
    report_set_meta(v.rep, "started", now);
    report_set_meta(v.rep, "policy_sha256", deid_policy_hash(policy));
    report_set_meta(v.rep, "fail_on", verify_severity_name((verify_severity)fail_on));
    report_set_meta(v.rep, "ocr_frames", !v.vc.ocr ? "none"
                                         : v.vc.frames == VERIFY_FRAMES_FIRST ? "first"
                                         : v.vc.frames == VERIFY_FRAMES_SAMPLE ? "sample"
                                                                               : "all");
    char thumbs[PATH_MAX];
    snprintf(thumbs, sizeof thumbs, "%s-thumbs", report_prefix);
    if (v.vc.ocr && cli_mkdirs(thumbs, show_values ? 0700 : 0755) == 0) {
        v.vc.thumb_dir = thumbs;
        v.vc.thumb_rel = strrchr(thumbs, '/') ? strrchr(thumbs, '/') + 1 : thumbs;
        v.vc.thumb_show_text = show_values;
    }
    if (cli_pool_run(v.files.n, jobs, vwork, vdone, &v) != 0) {
        fprintf(stderr, "deidtk verify: cannot start worker threads\n");
        goto out;
    }
    cli_progress_end();
    ocr_thread_reader_release();
    verify_findings wide = {0};
    verify_dataset_finish(v.dataset, &wide);
    for (size_t k = 0; k < wide.n; k++) {
        report_add_finding(v.rep, &wide.v[k], NULL, NULL);
        if (jsonl)
            print_finding(&wide.v[k]);
    }
    verify_findings_clear(&wide);
    cli_now(now, sizeof now);
    report_set_meta(v.rep, "ended", now);
    char rj[PATH_MAX], rh[PATH_MAX];
    snprintf(rj, sizeof rj, "%s.json", report_prefix);
    snprintf(rh, sizeof rh, "%s.html", report_prefix);
    if (report_write_json(v.rep, rj, show_values, err, sizeof err) != 0 ||
        report_write_html(v.rep, rh, show_values, err, sizeof err) != 0) {
        fprintf(stderr, "deidtk verify: %s\n", err);
        goto out;
    }
    report_summary sum;
    report_get_summary(v.rep, &sum);
    int blocked = report_blocked(v.rep);
    fprintf(jsonl ? stderr : stdout,
            "deidtk verify: %zu files (%zu paired with their originals), %zu unreadable; "
            "%zu findings (leak %zu, phi %zu, suspect %zu, policy %zu); gate: %s\n"
            "deidtk verify: report %s and %s\n",
            v.files.n, v.paired, v.failed, sum.findings, sum.open_by_severity[SEV_LEAK],
            sum.open_by_severity[SEV_PHI], sum.open_by_severity[SEV_SUSPECT],
            sum.open_by_severity[SEV_POLICY], blocked || v.failed ? "BLOCKED" : "PASS", rj, rh);
    status = v.failed ? EXIT_UNREADABLE : blocked ? EXIT_GATE_BLOCKED : EXIT_GATE_PASS;
out:
    audit_close(v.audit);
    report_free(v.rep);
    verify_dataset_free(v.dataset);
    for (size_t i = 0; i < v.npairs; i++) {
        free(v.pairs[i].output_uid);
        free(v.pairs[i].original);
    }
    free(v.pairs);
    free(v.jobs);
    cli_files_free(&v.files);
    deid_policy_free(policy);
    return status;
}
