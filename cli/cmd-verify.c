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
    struct vjob **jobs;        /* a file's job while it is in flight, else NULL */
    verify_config vc;
    deid_engine engine;        /* for the originals' identifying values */
    int have_key;
    struct pairing *pairs;     /* sorted by output_uid */
    size_t npairs;
    audit_db *audit;
    pthread_mutex_t audit_mu;  /* the trail is read by workers (pairing) and the writer */
    report *rep;
    verify_dataset *dataset;
    size_t done, failed, paired;
    int jsonl, show_values;      /* findings as JSON lines on stdout; unmasked */
};

static const char *usage_text =
    "usage: deidtk verify DIR... [options]\n"
    "      --originals DIR       the inputs, to pair each file with its original (by the\n"
    "                            UIDs --key derives, or by unchanged UIDs)\n"
    "      --key FILE            the key the dataset was made with\n"
    "      --audit FILE          pair through this audit trail (needs no key; default:\n"
    "                            the trail beside the key)\n"
    "      --preset NAME, --option NAME, --policy FILE   the policy outputs should follow\n"
    "      --no-ocr              tags only\n"
    "      --ocr-frames WHICH    all (default), first, sample:N\n"
    "      --fail-on SEVERITY    leak, phi, suspect (default), policy, info\n"
    "  -j, --jobs N              worker threads (default: the number of cores)\n"
    "      --shard K/N           inspect shard K of N (deterministic by file path)\n"
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

/* The SOP Instance UID of the file at path (malloc'd), or NULL. */
static char *sop_uid_of(const char *path)
{
    dcm_file *f;
    char *uid = NULL, e[512];
    if (dcm_open(path, &f, e, sizeof e) != DCM_OK)
        return NULL;
    dcm_get(f, "(0008,0018)", &uid, e, sizeof e);
    dcm_close(f);
    return uid;
}

/* The input the trail records behind the output at path: by the path as given, by its
 * absolute path (what run records), and last by its SOP Instance UID, which still finds a
 * release that was moved or copied. NULL when unknown (malloc'd). */
static char *trail_original(struct vrun *v, const char *path)
{
    char abs[PATH_MAX], e[512];
    char *input = NULL;
    pthread_mutex_lock(&v->audit_mu);
    audit_input_of(v->audit, path, &input, e, sizeof e);
    if (!input && realpath(path, abs))
        audit_input_of(v->audit, abs, &input, e, sizeof e);
    pthread_mutex_unlock(&v->audit_mu);
    if (!input) {
        char *uid = sop_uid_of(path);
        if (uid) {
            pthread_mutex_lock(&v->audit_mu);
            audit_input_of(v->audit, uid, &input, e, sizeof e);
            pthread_mutex_unlock(&v->audit_mu);
            free(uid);
        }
    }
    return input;
}

/* The original of the file at path: by its SOP Instance UID among --originals, else through
 * the audit trail; NULL when unknown or no longer readable (malloc'd). */
static char *original_of(struct vrun *v, const char *path)
{
    char *input = NULL;
    if (v->npairs) {
        char *uid = sop_uid_of(path);
        if (!uid)
            return NULL;
        struct pairing key = {uid, NULL};
        struct pairing *p = bsearch(&key, v->pairs, v->npairs, sizeof *v->pairs, cmp_pair);
        free(uid);
        return p ? strdup(p->original) : NULL;
    }
    if (v->audit)
        input = trail_original(v, path);
    if (input && access(input, R_OK) != 0) {
        free(input);
        input = NULL;
    }
    return input;
}

static void vwork(size_t i, void *ud)
{
    struct vrun *v = ud;
    /* A file's job lives from here to vdone(), which reports one that could not be made. */
    struct vjob *j = v->jobs[i] = calloc(1, sizeof *j);
    if (!j)
        return;
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

static void print_finding(const struct vrun *v, const verify_finding *f)
{
    int show_values = v->show_values;
    char *masked = show_values ? NULL : verify_mask(f->value);
    printf("{\"id\":\"%s\",\"file\":", f->id);
    cli_json_str(stdout, f->file);
    printf(",\"where\":");
    cli_json_str(stdout, f->where);
    printf(",\"detector\":\"%s\",\"severity\":\"%s\",\"value\":", f->detector,
           verify_severity_name(f->severity));
    cli_json_str(stdout, show_values ? f->value : masked);
    printf(",\"message\":");
    cli_json_str(stdout, f->message);
    printf("}\n");
    free(masked);
}

static void print_wide(const verify_finding *f, void *ud)
{
    print_finding(ud, f);
}

static void vdone(size_t i, void *ud)
{
    struct vrun *v = ud;
    struct vjob *j = v->jobs[i], oom;
    const char *path = v->files.paths[i];
    if (!j) {
        memset(&oom, 0, sizeof oom);
        oom.failed = 1;
        snprintf(oom.err, sizeof oom.err, "%s: out of memory", path);
        j = &oom;
    }
    if (j->failed) {
        v->failed++;
        cli_progress_end();
        cmd_error("verify", j->err);
    }
    v->paired += j->paired;
    report_add_file(v->rep, path, NULL, j->failed ? "error" : "ok", j->failed ? j->err : NULL,
                    j->facts.frames_inspected);
    for (size_t k = 0; k < j->findings.n; k++) {
        char *who = NULL, *why = NULL, e[256];
        if (v->audit) {
            /* Workers read the trail too (pairing): one connection, one user at a time. */
            pthread_mutex_lock(&v->audit_mu);
            audit_waived(v->audit, j->findings.v[k].id, &who, &why, e, sizeof e);
            pthread_mutex_unlock(&v->audit_mu);
        }
        report_add_finding(v->rep, &j->findings.v[k], who, why);
        if (j->findings.v[k].thumbnail)
            report_add_thumbnail(v->rep, j->findings.v[k].id, j->findings.v[k].thumbnail);
        if (v->jsonl)
            print_finding(v, &j->findings.v[k]);
        free(who);
        free(why);
    }
    if (!j->failed) {
        verify_dataset_add(v->dataset, path, &j->facts, NULL, NULL);
        if (v->have_key)
            cli_report_facts(v->rep, v->engine.pseudo->key, &j->facts, NULL, NULL);
    }
    verify_findings_clear(&j->findings);
    if (j != &oom)
        free(j);
    v->jobs[i] = NULL;
    v->done++;
    cli_progress("verifying", v->done, v->files.n, v->failed);
}

enum { V_ORIG = CLI_O_OWN, V_KEY, V_AUDIT, V_JSONL };

static const struct option long_opts[] = {
    CLI_SHARED_LONGOPTS,
    {"originals", required_argument, NULL, V_ORIG}, {"key", required_argument, NULL, V_KEY},
    {"audit", required_argument, NULL, V_AUDIT}, {"jsonl", no_argument, NULL, V_JSONL},
    {NULL, 0, NULL, 0}};

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("verify", usage_text, fmt, arg);
}

int cmd_verify(int argc, char **argv)
{
    const char *originals = NULL, *key_path = NULL, *audit_path = NULL;
    int c;
    struct vrun v;
    memset(&v, 0, sizeof v);
    pthread_mutex_init(&v.audit_mu, NULL);
    cli_shared sh;
    cli_shared_init(&sh, &v.vc);
    sh.report_prefix = "deidtk-verify";
    optind = 1;
    int status = EXIT_USAGE;
    while ((c = cli_next_option("verify", usage_text, argc, argv, "j:", long_opts, &sh, &status)) !=
           -1) {
        if (c == CLI_EXIT)
            return status;
        switch (c) {
        case V_ORIG: originals = optarg; break;
        case V_KEY: key_path = optarg; break;
        case V_AUDIT: audit_path = optarg; break;
        case V_JSONL: v.jsonl = 1; break;
        default: fputs(usage_text, stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return usage_error("%s", "no DIR given");
    v.show_values = sh.show_values;

    char err[1024];
    status = EXIT_USAGE;
    deid_policy *policy = deid_policy_new();
    struct deid_pseudo pseudo;
    unsigned char zero[DEID_KEY_LEN] = {0};
    deid_pseudo_init(&pseudo, zero);
    pseudo.unknown_use_template = 1;
    if (!policy || cli_policy_setup(policy, sh.preset, sh.opts, sh.policy_file, err, sizeof err) != 0) {
        cmd_error("verify", policy ? err : "out of memory");
        goto out;
    }
    v.engine.policy = policy;
    v.engine.pseudo = &pseudo;
    v.vc.policy = policy;
    if (key_path) {
        if (deid_key_load(key_path, pseudo.key, err, sizeof err) != 0) {
            cmd_error("verify", err);
            goto out;
        }
        v.have_key = 1;
        char apath[PATH_MAX];
        if (!audit_path && audit_default_path(key_path, apath, sizeof apath) == 0 &&
            access(apath, R_OK) == 0)
            audit_path = apath;
    }
    /* A trail given without the key still says which input each output came from. */
    if (audit_path && !originals && audit_open(audit_path, 0, &v.audit, err, sizeof err) != 0) {
        cmd_error("verify", err);
        goto out;
    }
    if (originals && index_originals(&v, originals, err, sizeof err) != 0) {
        cmd_error("verify", err);
        goto out;
    }
    if (cli_discover(argv + optind, argc - optind, &v.files, err, sizeof err) != 0) {
        cmd_error("verify", err);
        goto out;
    }
    cli_files_shard(&v.files, sh.shard_k, sh.shard_n);
    v.jobs = calloc(v.files.n ? v.files.n : 1, sizeof *v.jobs);
    v.dataset = verify_dataset_new();
    v.rep = report_new("verify", PACKAGE_VERSION);
    if (!v.jobs || !v.dataset || !v.rep) {
        fprintf(stderr, "deidtk verify: out of memory\n");
        goto out;
    }
    char now[32], thumbs[PATH_MAX];
    cli_shared_start(&sh, v.rep, sh.report_prefix, thumbs, sizeof thumbs);
    report_set_meta(v.rep, "policy_sha256", deid_policy_hash(policy));
    /* Shards' tokens of the dataset facts compare only under one key. */
    if (v.have_key) {
        char fp[DEID_FINGERPRINT_LEN + 1];
        deid_key_fingerprint(pseudo.key, fp);
        report_set_meta(v.rep, "key_fingerprint", fp);
    }
    if (cli_run_workers("verify", v.files.n, sh.jobs, vwork, vdone, &v) != 0)
        goto out;
    cli_dataset_findings(v.dataset, v.rep, v.jsonl ? print_wide : NULL, &v);
    cli_shared_end(&sh);
    cli_now(now, sizeof now);
    report_set_meta(v.rep, "ended", now);
    char rj[PATH_MAX], rh[PATH_MAX];
    snprintf(rj, sizeof rj, "%s.json", sh.report_prefix);
    snprintf(rh, sizeof rh, "%s.html", sh.report_prefix);
    if (report_write_json(v.rep, rj, sh.show_values, err, sizeof err) != 0 ||
        report_write_html(v.rep, rh, sh.show_values, err, sizeof err) != 0) {
        cmd_error("verify", err);
        goto out;
    }
    report_summary sum;
    report_get_summary(v.rep, &sum);
    int blocked = report_blocked(v.rep);
    fprintf(v.jsonl ? stderr : stdout,
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
