/* cli/cmd-run.c — deidtk run: de-identify every file, verify each output against its own
 * input, record the audit trail, report, and gate the release. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "audit/audit.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "deid/engine.h"
#include "reports/report.h"
#include "verify/verify.h"

struct job {
    int failed;                  /* could not be de-identified or written */
    /* Not released, and no error: the same bytes as another input, or a media directory
     * (DICOMDIR), which indexes the other files by their patients' names. */
    int skipped;
    char err[512];
    char *out_path;
    char input_sha[65], output_sha[65];
    unsigned char *in_bytes, *out_bytes;  /* kept for the writer to hash (and verify) */
    size_t in_len, out_len;
    int verify_late;             /* the writer verifies out_bytes (see work_file()) */
    char original_patient[65];   /* HMAC of the original Patient ID: dataset-wide checks */
    char *original_pid;          /* only kept for --export-mappings */
    char *input_abs;             /* the input's absolute path, for the trail */
    deid_result res;
    verify_findings findings;
    verify_facts facts;
};

struct run {
    cli_files files;
    struct job **jobs;           /* a file's job while it is in flight, else NULL */
    const char *out_dir;
    char out_abs[PATH_MAX];      /* out_dir resolved: the trail's paths work from anywhere */
    deid_engine engine;
    verify_config vc;
    audit_db *audit;
    int64_t run_id;
    int audit_originals;
    int audit_had_runs;          /* an earlier run may have recorded some inputs already */
    const char *policy_hash;
    char fingerprint[DEID_FINGERPRINT_LEN + 1];
    report *rep;
    FILE *log;
    FILE *map_uids, *map_ids;
    cli_strmap *exported;        /* originals already in the mapping files */
    verify_dataset *dataset;
    size_t done, failed, skipped, findings;
    pthread_mutex_t out_mu;      /* output paths claimed by this run */
    cli_strmap *claims;          /* output path -> the input that made it */
    atomic_size_t finished, recorded;  /* files past work() and past done() */
};

static const char *usage_text =
    "usage: deidtk run INPUT... -o OUTDIR [options]\n"
    "  -o, --output DIR          output folder (OUT/<PatientID>/<Study>/<Series>/<SOP>.dcm)\n"
    "      --preset NAME         tcia (default) or basic\n"
    "      --option NAME         add a PS3.15 option (repeatable; deidtk profile --list)\n"
    "      --policy FILE         site policy (deidtk-policy(5))\n"
    "      --key FILE            pseudonymization key (default ./deidtk.key, made if absent)\n"
    "      --lookup CSV          original->new Patient IDs (id_old,id_new[,date_offset_days])\n"
    "      --unknown-ids MODE    error (default) or template, for IDs missing from --lookup\n"
    "      --id-template T       Patient ID template (default DEID-{digits:10})\n"
    "      --uid-root ROOT       site UID root instead of 2.25.\n"
    "      --offset-range A:B    date offsets in days (default -3650:-365)\n"
    "      --patient-by-issuer   key patients on Issuer of Patient ID + Patient ID\n"
    "      --clean-pixels MODE   signatures, ocr or both (implies --option clean-pixel-data)\n"
    "      --no-ocr              do not OCR the outputs' frames\n"
    "      --ocr-frames WHICH    all (default), first, sample:N\n"
    "      --fail-on SEVERITY    leak, phi, suspect (default), policy, info\n"
    "  -j, --jobs N              worker threads (default: the number of cores)\n"
    "      --shard K/N           process shard K of N (deterministic by file path)\n"
    "      --audit FILE          audit trail (default deidtk-audit.sqlite beside the key)\n"
    "      --audit-originals     also store original values in the trail (PHI!)\n"
    "      --no-audit            keep no audit trail (benchmarks and tests only)\n"
    "      --report PREFIX       write PREFIX.json and PREFIX.html (default OUTDIR-report)\n"
    "      --log FILE            a JSON line per file (not inside OUTDIR)\n"
    "      --export-mappings DIR write DIR/uids.csv and DIR/patient_ids.csv (mode 0600)\n"
    "      --show-values         show PHI values in reports (authorised curators only)\n";

/* ---- the work of one file (worker threads) ---------------------------------------- */

/* Two inputs with one SOP Instance UID make one output. The same bytes sent twice are a
 * harmless duplicate (1: skip it); different contents under one UID are a data problem a
 * person must settle (-1: an error, which blocks). 0: claimed; -2: out of memory. */
static int claim_output(struct run *r, const char *path, const char *input)
{
    void *other = NULL;
    pthread_mutex_lock(&r->out_mu);
    int added = cli_strmap_add(r->claims, path, (void *)input, &other);
    pthread_mutex_unlock(&r->out_mu);
    if (added == 0)
        return report_same_files(other, input) == 1 ? 1 : -1;
    return added > 0 ? 0 : -2;
}

/* A DICOMDIR: Media Storage Directory Storage in its meta header, or directory records. */
static int is_media_directory(dcm_file *f)
{
    char *v = NULL, e[128];
    int dir = dcm_get(f, "meta.(0002,0002)", &v, e, sizeof e) == DCM_OK && v &&
              strcmp(v, "1.2.840.10008.1.3.10") == 0;
    free(v);
    v = NULL;
    if (!dir && dcm_get(f, "(0004,1220)", &v, e, sizeof e) == DCM_OK)
        dir = 1;
    free(v);
    return dir;
}

static void original_patient_token(struct run *r, dcm_file *f, struct job *j)
{
    char *pid = NULL, *issuer = NULL, e[128];
    dcm_get(f, "(0010,0020)", &pid, e, sizeof e);
    if (r->engine.patient_by_issuer)
        dcm_get(f, "(0010,0021)", &issuer, e, sizeof e);
    char buf[256];
    snprintf(buf, sizeof buf, "%s\\%s", issuer ? issuer : "", pid ? pid : "");
    deid_token(r->engine.pseudo->key, "patient-token", buf, j->original_patient);
    if (r->map_ids)
        j->original_pid = pid;
    else
        free(pid);
    free(issuer);
}

/* Files up to this size are read once for both their hash and their parse, and outputs
 * are verified from the bytes written; larger ones go through the disk, where DCMTK leaves
 * their pixel data until it is needed. A worker holds up to four copies of a file (input
 * bytes, dataset, output bytes, verified dataset): 16 MB keeps that near 64 MB a worker,
 * and covers single-frame CT, MR and radiographs. */
#define RUN_IN_MEMORY_MAX ((size_t)16 << 20)
/* Files up to this size may be hashed by the writer (see work_file()), when it has at most
 * this many files queued: together they bound what waits for it. A queue of 2 rather than
 * 0 let the writer take a fair share: 2000 512x512 CT files in 1.52 s instead of 1.68. */
#define RUN_WRITER_HASH_MAX ((size_t)1 << 20)
#define RUN_WRITER_HASH_QUEUE 2
/* The same for verifying an output (tags only: the writer keeps no OCR engine). */
#define RUN_WRITER_VERIFY_QUEUE 1

/* The whole of a regular file of 1 to RUN_IN_MEMORY_MAX bytes into *data (malloc'd; the
 * caller frees). -1 when it is not one or cannot be read: the caller then reads it from
 * disk, which reports its own errors. */
static int read_small(const char *path, unsigned char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    unsigned char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (size_t)st.st_size <= RUN_IN_MEMORY_MAX && (buf = malloc((size_t)st.st_size))) {
        while (n < (size_t)st.st_size) {
            ssize_t got = read(fd, buf + n, (size_t)st.st_size - n);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            n += (size_t)got;
        }
    }
    close(fd);
    if (!buf || n != (size_t)st.st_size) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Files past work() and not yet past done(). recorded is read first: it never passes
 * finished, so the difference cannot wrap. */
static size_t queued_for_writer(struct run *r)
{
    size_t recorded = atomic_load(&r->recorded);
    return atomic_load(&r->finished) - recorded;
}

/* One folder or file name of the output tree from a value of the dataset (a pseudonym or
 * a UID), or `absent` when it is empty. A UID the policy keeps comes from the input as it
 * is, and an input can say "../../x": every byte but letters, digits, '.', '-' and '_' is
 * written '_' (a backslash of a second value too), and a name of dots only gets a leading
 * '_', so that no name leaves OUT or climbs out of its folder. */
static void path_name(const char *value, const char *absent, char *out, size_t len)
{
    const char *v = value[0] ? value : absent;
    size_t lead = strspn(v, ".") == strlen(v);  /* a name of dots only */
    out[0] = '_';
    snprintf(out + lead, len - lead, "%s", v);
    for (char *c = out + lead; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
            *c = '_';
}

/* De-identifies the open input f and writes it: returns the output's path (malloc'd), or
 * NULL with j failed or skipped. *data and *nbytes get the bytes written, when kept. */
static char *write_output(struct run *r, struct job *j, const char *in, dcm_file *f,
                          unsigned char **data, size_t *nbytes)
{
    *data = NULL;
    if (is_media_directory(f)) {
        j->skipped = 1;
        snprintf(j->err, sizeof j->err, "%s: a DICOMDIR (media directory), not released: it "
                 "holds the patients' names and IDs of the files it indexes", in);
        return NULL;
    }
    original_patient_token(r, f, j);
    if (deid_apply(&r->engine, f, &j->res, j->err, sizeof j->err) != 0) {
        j->failed = 1;
        return NULL;
    }
    size_t len = strlen(r->out_dir) + DEID_ID_MAX + 3 * DEID_UID_MAX + 16;
    char *out = malloc(len);
    char dir[PATH_MAX], pid[DEID_ID_MAX + 2], study[DEID_UID_MAX + 2],
        series[DEID_UID_MAX + 2], sop[DEID_UID_MAX + 2];
    /* Study and Series Instance UIDs are type 1, yet some objects lack them. */
    path_name(j->res.patient_id, "no-patient", pid, sizeof pid);
    path_name(j->res.study_uid, "no-study", study, sizeof study);
    path_name(j->res.series_uid, "no-series", series, sizeof series);
    path_name(j->res.sop_uid, "", sop, sizeof sop);
    snprintf(dir, sizeof dir, "%s/%s/%s/%s", r->out_dir, pid, study, series);
    int claim = 0;
    if (!out) {
        snprintf(j->err, sizeof j->err, "%s: out of memory", in);
        j->failed = 1;
    } else if (!j->res.sop_uid[0]) {
        snprintf(j->err, sizeof j->err, "%s: no SOP Instance UID: not a composite object", in);
        j->failed = 1;
    } else if (snprintf(out, len, "%s/%s.dcm", dir, sop),
               (claim = claim_output(r, out, in)) != 0) {
        if (claim > 0) {
            j->skipped = 1;
            snprintf(j->err, sizeof j->err, "%s: the same file as another input: skipped", in);
        } else if (claim == -2) {
            snprintf(j->err, sizeof j->err, "%s: out of memory", in);
            j->failed = 1;
        } else {
            snprintf(j->err, sizeof j->err, "%s: another input has the same SOP Instance UID "
                     "and other contents: not written", in);
            j->failed = 1;
        }
    } else if (cli_mkdirs(dir, 0755) != 0) {
        snprintf(j->err, sizeof j->err, "%s: cannot create the output folder: %s", in,
                 strerror(errno));
        j->failed = 1;
    } else if (dcm_save_bytes(f, out, RUN_IN_MEMORY_MAX, data, nbytes, j->err,
                              sizeof j->err) != DCM_OK) {
        j->failed = 1;
    }
    if (j->failed || j->skipped) {
        free(out);
        return NULL;
    }
    return out;
}

static void work_file(struct run *r, size_t i, struct job *j)
{
    const char *in = r->files.paths[i];
    unsigned char *input;
    size_t nbytes;
    if (r->audit)
        j->input_abs = realpath(in, NULL);
    int in_memory = read_small(in, &input, &nbytes) == 0;
    /* The trail identifies inputs and outputs by their SHA-256. While the writer thread has
     * at most RUN_WRITER_HASH_QUEUE files queued, it hashes a small file's bytes itself:
     * that takes the hashing off the worker when workers are few. A writer with a longer
     * queue is the bottleneck: workers hash. */
    int to_writer = r->audit && in_memory && nbytes <= RUN_WRITER_HASH_MAX &&
                    queued_for_writer(r) <= RUN_WRITER_HASH_QUEUE;
    if (r->audit) {
        if (to_writer) {
            j->in_bytes = input;
            j->in_len = nbytes;
        } else if (in_memory)
            audit_sha256_hex(input, nbytes, j->input_sha);
        else if (audit_sha256_file(in, j->input_sha, j->err, sizeof j->err) != 0) {
            j->failed = 1;
            return;
        }
    }
    dcm_file *f;
    int rc = in_memory ? dcm_open_bytes(in, input, nbytes, &f, j->err, sizeof j->err) : -1;
    /* A file that does not parse is read again from disk: DCMTK's file reader tells a
     * truncated file from other damage, a reader of bytes does not. */
    if (rc != DCM_OK)
        rc = dcm_open(in, &f, j->err, sizeof j->err);
    unsigned char *data = NULL;  /* the bytes of the output, when kept */
    size_t len = 0;
    char *out = NULL;
    if (rc != DCM_OK)
        j->failed = 1;
    else {
        out = write_output(r, j, in, f, &data, &len);
        dcm_close(f);
    }
    /* Kept until f is closed: its pixel data was read from them. */
    if (!j->in_bytes)
        free(input);
    if (!out)
        return;
    /* Verify what is on disk, not what is in memory: the bytes written (and synced), or the
     * file read back when they were too many to keep. A file that fails here is removed:
     * nothing unverified stays in the output. While the writer has at most
     * RUN_WRITER_VERIFY_QUEUE files queued, it verifies a small tags-only output itself
     * before recording it (writer_verify()): with one worker, the writer's core was idle a
     * quarter of the time. */
    if (data && !r->vc.ocr && len <= RUN_WRITER_HASH_MAX &&
        queued_for_writer(r) <= RUN_WRITER_VERIFY_QUEUE) {
        j->out_bytes = data;
        j->out_len = len;
        j->verify_late = 1;
        j->out_path = out;
        return;
    }
    if (data)
        rc = verify_bytes(&r->vc, out, data, len, j->res.identifying, j->res.original_uids,
                          &j->findings, &j->facts, j->err, sizeof j->err);
    else
        rc = verify_file(&r->vc, out, j->res.identifying, j->res.original_uids, &j->findings,
                         &j->facts, j->err, sizeof j->err);
    /* The HMACs of the original values too: as many as the changes, they cost a twentieth
     * of a small file's work. */
    if (rc == 0 && r->audit && !to_writer &&
        deid_result_hash_originals(&r->engine, &j->res) != 0) {
        snprintf(j->err, sizeof j->err, "%s: HMAC failed in libcrypto", in);
        rc = -1;
    }
    if (rc == 0 && r->audit) {
        if (data && to_writer && len <= RUN_WRITER_HASH_MAX) {
            j->out_bytes = data;
            j->out_len = len;
            data = NULL;
        } else if (data)
            audit_sha256_hex(data, len, j->output_sha);
        else
            rc = audit_sha256_file(out, j->output_sha, j->err, sizeof j->err);
    }
    free(data);
    if (rc != 0) {
        unlink(out);
        j->failed = 1;
        free(out);
    } else {
        j->out_path = out;  /* only a file written and verified has one (see above) */
    }
}

static void work(size_t i, void *ud)
{
    struct run *r = ud;
    /* A file's job lives from here to done(): memory follows the files in flight, not the
     * length of the run. done() reports a job that could not be made. */
    r->jobs[i] = calloc(1, sizeof *r->jobs[i]);
    if (r->jobs[i])
        work_file(r, i, r->jobs[i]);
    atomic_fetch_add(&r->finished, 1);
}

/* The verification work() left to the writer; a file that fails it is removed, as
 * work_file() removes one. */
static void writer_verify(struct run *r, struct job *j)
{
    if (!j->verify_late)
        return;
    if (verify_bytes(&r->vc, j->out_path, j->out_bytes, j->out_len, j->res.identifying,
                     j->res.original_uids, &j->findings, &j->facts, j->err,
                     sizeof j->err) != 0) {
        j->failed = 1;
        unlink(j->out_path);
        free(j->out_path);
        j->out_path = NULL;
        free(j->out_bytes);
        j->out_bytes = NULL;
    }
}

/* The hashes work() left to the writer. */
static void writer_hashes(struct run *r, const char *in, struct job *j)
{
    /* A file refused after it was de-identified (its output conflicts with another's) has
     * its changes in the trail too, with their HMACs. */
    if (r->audit && deid_result_hash_originals(&r->engine, &j->res) != 0 && !j->failed) {
        snprintf(j->err, sizeof j->err, "%s: HMAC failed in libcrypto", in);
        j->failed = 1;
        if (j->out_path)
            unlink(j->out_path);  /* as work_file() does: no file without its trail */
        free(j->out_path);
        j->out_path = NULL;
    }
    if (j->in_bytes)
        audit_sha256_hex(j->in_bytes, j->in_len, j->input_sha);
    if (j->out_bytes && r->audit)
        audit_sha256_hex(j->out_bytes, j->out_len, j->output_sha);
    free(j->in_bytes);
    free(j->out_bytes);
    j->in_bytes = j->out_bytes = NULL;
}

/* ---- recording (the calling thread: the single writer) ------------------------------ */

static void log_line(struct run *r, size_t i, const struct job *j)
{
    fputs("{\"input\":", r->log);
    cli_json_str(r->log, r->files.paths[i]);
    fprintf(r->log, ",\"status\":\"%s\"", j->failed ? "error" : "ok");
    if (j->failed) {
        fputs(",\"error\":", r->log);
        cli_json_str(r->log, j->err);
    } else {
        fputs(",\"output\":", r->log);
        cli_json_str(r->log, j->out_path);
        fprintf(r->log, ",\"changes\":%zu,\"findings\":%zu,\"pixel_regions\":%d,"
                "\"overlay_regions\":%d", j->res.nchanges, j->findings.n, j->res.pixel_regions,
                j->res.overlay_regions);
        fputs(",\"actions\":{", r->log);
        static const char *const acts[] = {"remove", "empty", "replace", "U", "shift",
                                           "clean", "dummy", "hash", "age-cap"};
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            size_t k = 0;
            for (size_t c = 0; c < j->res.nchanges; c++)
                k += strcmp(j->res.changes[c].action, acts[a]) == 0;
            fprintf(r->log, "%s\"%s\":%zu", a ? "," : "", acts[a], k);
        }
        fputc('}', r->log);
    }
    fputs("}\n", r->log);
}

/* Each original once in the mapping files, however many files carry it. */
static int first_time(struct run *r, const char *kind, const char *value)
{
    char key[256];
    snprintf(key, sizeof key, "%s:%s", kind, value);
    /* Out of memory costs a repeated row, never a missing one. */
    return cli_strmap_add(r->exported, key, NULL, NULL) != 0;
}

/* A CSV field as the lookup reader takes it back: quoted when always or when it holds a
 * comma, a quote or a line break, with its quotes doubled. An input's values are not
 * bound to the characters their VR allows. */
static void put_csv(FILE *f, const char *s, int always)
{
    if (!always && !strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void export_mappings(struct run *r, struct job *j)
{
    for (const char *p = j->res.original_uids; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char orig[DEID_UID_MAX * 2], mapped[DEID_UID_MAX + 1], e[128];
        snprintf(orig, sizeof orig, "%.*s", (int)l, p);
        if (first_time(r, "uid", orig) &&
            deid_uid_root(r->engine.pseudo->key, r->engine.pseudo->uid_root, orig, mapped,
                          sizeof mapped, e, sizeof e) == 0) {
            put_csv(r->map_uids, orig, 0);
            fprintf(r->map_uids, ",%s\n", mapped);
        }
        p = nl ? nl + 1 : p + l;
    }
    if (j->original_pid && first_time(r, "pid", j->original_pid)) {
        put_csv(r->map_ids, j->original_pid, 1);
        fprintf(r->map_ids, ",%s\n", j->res.patient_id);
    }
}

/* A write to the trail failed: the run goes on, and says so. */
static void trail_error(const char *err)
{
    char msg[1100];
    snprintf(msg, sizeof msg, "audit trail: %s", err);
    cmd_error("run", msg);
}

static void record_job(struct run *r, size_t i, struct job *j)
{
    const char *in = r->files.paths[i];
    char err[512];
    atomic_fetch_add(&r->recorded, 1);
    writer_verify(r, j);
    writer_hashes(r, in, j);
    if (j->failed || j->skipped) {
        r->failed += j->failed;
        r->skipped += j->skipped;
        cli_progress_end();
        cmd_error("run", j->err);
    }
    if (j->skipped) {
        report_add_file(r->rep, in, in, "skipped", j->err, 0);
        r->done++;
        deid_result_free(&j->res);
        free(j->out_path);
        free(j->original_pid);
        free(j->input_abs);
        return;
    }
    if (r->audit) {
        int already = 0;
        if (!j->failed && r->audit_had_runs)
            already = audit_file_done(r->audit, j->input_sha, r->policy_hash, r->fingerprint,
                                      NULL, err, sizeof err) == 1;
        /* The trail names files by absolute path, so that tracing and pairing work from
         * any folder; the report and the log keep the paths as given. */
        char out_abs[PATH_MAX];
        if (j->out_path)
            snprintf(out_abs, sizeof out_abs, "%s%s", r->out_abs,
                     j->out_path + strlen(r->out_dir));
        audit_file_info fi = {j->input_abs ? j->input_abs : in,
                              j->input_sha[0] ? j->input_sha : NULL,
                              j->out_path ? out_abs : NULL, j->out_path ? j->output_sha : NULL,
                              j->res.sop_uid[0] ? j->res.sop_uid : NULL,
                              j->failed ? AUDIT_FILE_ERROR : AUDIT_FILE_OK,
                              j->failed ? j->err : NULL};
        int64_t fid = 0;
        int rc = already ? 0 : audit_file_add(r->audit, r->run_id, &fi, &fid, err, sizeof err);
        for (size_t c = 0; !already && rc == 0 && c < j->res.nchanges; c++) {
            deid_change *ch = &j->res.changes[c];
            rc = audit_change_add(r->audit, fid, ch->path, ch->action, ch->original_hmac,
                                  ch->new_value, ch->original, err, sizeof err);
        }
        for (size_t k = 0; !already && rc == 0 && k < j->findings.n; k++)
            rc = audit_finding_add(r->audit, r->run_id, fid, &j->findings.v[k], err, sizeof err);
        if (!already && rc == 0)
            rc = audit_file_commit(r->audit, err, sizeof err);
        if (rc != 0) {
            audit_file_abort(r->audit);
            trail_error(err);
        }
    }
    report_add_file(r->rep, j->failed ? in : j->out_path, in, j->failed ? "error" : "ok",
                    j->failed ? j->err : NULL, j->facts.frames_inspected);
    char offset[16];
    snprintf(offset, sizeof offset, "%d", j->res.offset_days);
    if (!j->failed)
        cli_report_facts(r->rep, r->engine.pseudo->key, &j->facts, j->original_patient, offset);
    if (!j->failed && j->output_sha[0])
        report_set_file_sha256(r->rep, j->output_sha);
    for (size_t k = 0; k < j->findings.n; k++) {
        char *who = NULL, *why = NULL;
        if (r->audit)
            audit_waived(r->audit, j->findings.v[k].id, &who, &why, err, sizeof err);
        report_add_finding(r->rep, &j->findings.v[k], who, why);
        if (j->findings.v[k].thumbnail)
            report_add_thumbnail(r->rep, j->findings.v[k].id, j->findings.v[k].thumbnail);
        free(who);
        free(why);
    }
    r->findings += j->findings.n;
    if (!j->failed)
        verify_dataset_add(r->dataset, j->out_path, &j->facts, j->original_patient, offset);
    if (r->log)
        log_line(r, i, j);
    if (!j->failed && r->map_uids)
        export_mappings(r, j);
    r->done++;
    cli_progress("de-identifying", r->done, r->files.n, r->failed);
    deid_result_free(&j->res);
    verify_findings_clear(&j->findings);
    free(j->out_path);
    free(j->original_pid);
    free(j->input_abs);
}

static void done(size_t i, void *ud)
{
    struct run *r = ud;
    struct job *j = r->jobs[i], oom;
    if (!j) {
        memset(&oom, 0, sizeof oom);
        oom.failed = 1;
        snprintf(oom.err, sizeof oom.err, "%s: out of memory", r->files.paths[i]);
        j = &oom;
    }
    record_job(r, i, j);
    if (j != &oom)
        free(j);
    r->jobs[i] = NULL;
}

/* A dataset-wide finding belongs to no file of the trail. */
static void audit_wide(const verify_finding *f, void *ud)
{
    struct run *r = ud;
    char err[256];
    audit_finding_add(r->audit, r->run_id, 0, f, err, sizeof err);
}

/* ---- set-up --------------------------------------------------------------------------- */

static int load_or_make_key(const char *path, int given, unsigned char key[DEID_KEY_LEN])
{
    char err[512];
    if (!given && access(path, F_OK) != 0) {
        if (deid_key_generate(path, err, sizeof err) != 0) {
            cmd_error("run", err);
            return -1;
        }
        fprintf(stderr, "deidtk run: warning: no --key given; made a new key in %s. Keep it "
                        "secret and keep it: the same key gives the same pseudonyms.\n", path);
    }
    if (deid_key_load(path, key, err, sizeof err) != 0) {
        cmd_error("run", err);
        return -1;
    }
    return 0;
}

static FILE *open_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return NULL;
    fchmod(fd, 0600);
    return fdopen(fd, "w");
}

static int open_mappings(struct run *r, const char *dir)
{
    char p[PATH_MAX];
    if (cli_mkdirs(dir, 0700) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/uids.csv", dir);
    if (!(r->exported = cli_strmap_new()))
        return -1;
    r->map_uids = open_private(p);
    snprintf(p, sizeof p, "%s/patient_ids.csv", dir);
    r->map_ids = open_private(p);
    if (!r->map_uids || !r->map_ids)
        return -1;
    fputs("id_old,id_new\n", r->map_uids);
    fputs("id_old,id_new\n", r->map_ids);
    return 0;
}

enum {
    O_KEY = CLI_O_OWN, O_LOOKUP, O_UNKNOWN, O_TEMPLATE, O_ROOT, O_RANGE, O_CLEANPIX,
    O_AUDIT, O_ORIGINALS, O_LOG, O_EXPORT, O_BYISSUER, O_NOAUDIT
};

static const struct option long_opts[] = {
    CLI_SHARED_LONGOPTS,
    {"output", required_argument, NULL, 'o'}, {"key", required_argument, NULL, O_KEY},
    {"lookup", required_argument, NULL, O_LOOKUP},
    {"unknown-ids", required_argument, NULL, O_UNKNOWN},
    {"id-template", required_argument, NULL, O_TEMPLATE},
    {"uid-root", required_argument, NULL, O_ROOT},
    {"offset-range", required_argument, NULL, O_RANGE},
    {"clean-pixels", required_argument, NULL, O_CLEANPIX},
    {"audit", required_argument, NULL, O_AUDIT},
    {"audit-originals", no_argument, NULL, O_ORIGINALS}, {"log", required_argument, NULL, O_LOG},
    {"export-mappings", required_argument, NULL, O_EXPORT},
    {"patient-by-issuer", no_argument, NULL, O_BYISSUER},
    {"no-audit", no_argument, NULL, O_NOAUDIT}, {NULL, 0, NULL, 0}};

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("run", usage_text, fmt, arg);
}

int cmd_run(int argc, char **argv)
{
    const char *out_dir = NULL, *key_path = NULL, *lookup_path = NULL, *log_path = NULL;
    const char *audit_path = NULL, *export_dir = NULL;
    int originals = 0, no_audit = 0;
    struct deid_pseudo pseudo;
    unsigned char zero[DEID_KEY_LEN] = {0};
    deid_pseudo_init(&pseudo, zero);
    struct run r;
    memset(&r, 0, sizeof r);
    atomic_init(&r.finished, 0);
    atomic_init(&r.recorded, 0);
    pthread_mutex_init(&r.out_mu, NULL);
    int clean_pixels = 0, c;
    cli_shared sh;
    cli_shared_init(&sh, &r.vc);
    optind = 1;
    int status = EXIT_USAGE;
    while ((c = cli_next_option("run", usage_text, argc, argv, "o:j:", long_opts, &sh, &status)) !=
           -1) {
        if (c == CLI_EXIT)
            return status;
        switch (c) {
        case 'o': out_dir = optarg; break;
        case O_KEY: key_path = optarg; break;
        case O_LOOKUP: lookup_path = optarg; break;
        case O_UNKNOWN:
            if (strcmp(optarg, "template") == 0)
                pseudo.unknown_use_template = 1;
            else if (strcmp(optarg, "error") != 0)
                return usage_error("--unknown-ids takes error or template, not '%s'", optarg);
            break;
        case O_TEMPLATE: pseudo.id_template = optarg; break;
        case O_ROOT: pseudo.uid_root = optarg; break;
        case O_RANGE: {
            /* Two whole numbers; deid_pseudo_check judges the range they make. */
            char min[32];
            const char *colon = strchr(optarg, ':');
            int ok = colon && (size_t)(colon - optarg) < sizeof min;
            if (ok) {
                snprintf(min, sizeof min, "%.*s", (int)(colon - optarg), optarg);
                ok = cli_parse_int(min, INT_MIN, INT_MAX, &pseudo.offset_min) == 0 &&
                     cli_parse_int(colon + 1, INT_MIN, INT_MAX, &pseudo.offset_max) == 0;
            }
            if (!ok)
                return usage_error("--offset-range takes MIN:MAX days, not '%s'", optarg);
            break;
        }
        case O_CLEANPIX:
            clean_pixels = strcmp(optarg, "signatures") == 0 ? DEID_PIXELS_SIGNATURES
                           : strcmp(optarg, "ocr") == 0      ? DEID_PIXELS_OCR
                           : strcmp(optarg, "both") == 0
                               ? DEID_PIXELS_SIGNATURES | DEID_PIXELS_OCR
                               : -1;
            if (clean_pixels < 0)
                return usage_error("--clean-pixels takes signatures, ocr or both, not '%s'", optarg);
            break;
        case O_AUDIT: audit_path = optarg; break;
        case O_ORIGINALS: originals = r.engine.record_originals = 1; break;
        case O_LOG: log_path = optarg; break;
        case O_EXPORT: export_dir = optarg; break;
        case O_BYISSUER: r.engine.patient_by_issuer = 1; break;
        case O_NOAUDIT: no_audit = 1; break;
        default: fputs(usage_text, stderr); return EXIT_USAGE;
        }
    }
    if (!out_dir)
        return usage_error("%s", "-o OUTDIR is required");
    if (optind >= argc)
        return usage_error("%s", "no INPUT given");
    if ((sh.opts & DEID_OPTION_BIT(DEID_OPT_CLEAN_PIXEL_DATA)) && !clean_pixels)
        clean_pixels = DEID_PIXELS_SIGNATURES | DEID_PIXELS_OCR;
    /* --clean-pixels adds Clean Pixel Data to the preset in force, the default one unless
     * --preset or --option chose otherwise. */
    if (clean_pixels && !sh.preset && !sh.opts && !sh.policy_file)
        sh.preset = DEID_DEFAULT_PRESET;
    if (clean_pixels)
        sh.opts |= DEID_OPTION_BIT(DEID_OPT_CLEAN_PIXEL_DATA);
    for (int i = optind; i < argc; i++)
        if (cli_path_inside(out_dir, argv[i]) || cli_path_inside(argv[i], out_dir))
            return usage_error("the output folder and an input overlap (%s): inputs are never "
                               "touched", argv[i]);

    char err[1024];
    status = EXIT_USAGE;
    deid_policy *policy = deid_policy_new();
    struct deid_lookup *lookup = NULL;
    char report_json[PATH_MAX], report_html[PATH_MAX], apath[PATH_MAX];
    /* The inputs first: a wrong one must leave nothing behind (no key, no OUT). */
    if (cli_discover(argv + optind, argc - optind, &r.files, err, sizeof err) != 0) {
        cmd_error("run", err);
        goto out;
    }
    if (!policy || cli_policy_setup(policy, sh.preset, sh.opts, sh.policy_file, err, sizeof err) != 0) {
        cmd_error("run", policy ? err : "out of memory");
        goto out;
    }
    int key_given = key_path != NULL;
    if (!key_path)
        key_path = "deidtk.key";
    if (load_or_make_key(key_path, key_given, pseudo.key) != 0)
        goto out;
    if (lookup_path) {
        if (deid_lookup_load(lookup_path, &lookup, err, sizeof err) != 0) {
            cmd_error("run", err);
            goto out;
        }
        pseudo.lookup = lookup;
    } else {
        pseudo.unknown_use_template = 1;
    }
    if (deid_pseudo_check(&pseudo, err, sizeof err) != 0) {
        cmd_error("run", err);
        goto out;
    }
    deid_key_fingerprint(pseudo.key, r.fingerprint);
    if (cli_mkdirs(out_dir, 0755) != 0) {
        fprintf(stderr, "deidtk run: %s: cannot create: %s\n", out_dir, strerror(errno));
        goto out;
    }
    snprintf(report_json, sizeof report_json, "%s.json",
             sh.report_prefix ? sh.report_prefix : out_dir);
    snprintf(report_html, sizeof report_html, "%s.html",
             sh.report_prefix ? sh.report_prefix : out_dir);
    if (!sh.report_prefix) {
        /* OUT-report.json beside OUT: nothing but releasable files goes inside OUT. */
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%s", out_dir);
        size_t bl = strlen(base);
        while (bl > 1 && base[bl - 1] == '/')
            base[--bl] = 0;
        snprintf(report_json, sizeof report_json, "%s-report.json", base);
        snprintf(report_html, sizeof report_html, "%s-report.html", base);
    }
    const char *not_inside[] = {report_json, log_path, audit_path, export_dir};
    for (size_t i = 0; i < 4; i++)
        if (not_inside[i] && cli_path_inside(not_inside[i], out_dir)) {
            fprintf(stderr, "deidtk run: %s is inside %s: only releasable files go there\n",
                    not_inside[i], out_dir);
            goto out;
        }
    /* A run killed while saving leaves its temporary files: never complete, never ours to
     * release. */
    cli_remove_temporaries(out_dir);
    cli_files_shard(&r.files, sh.shard_k, sh.shard_n);

    r.out_dir = out_dir;
    if (!realpath(out_dir, r.out_abs)) {
        fprintf(stderr, "deidtk run: %s: %s\n", out_dir, strerror(errno));
        goto out;
    }
    r.engine.policy = policy;
    r.engine.pseudo = &pseudo;
    r.engine.clean_pixels = clean_pixels;
    r.vc.policy = policy;
    r.vc.uid_root = pseudo.uid_root;
    r.vc.strict_codes = 1;
    r.vc.id_template = pseudo.id_template;
    r.vc.path_root = out_dir;
    r.policy_hash = deid_policy_hash(policy);
    r.jobs = calloc(r.files.n ? r.files.n : 1, sizeof *r.jobs);
    r.claims = cli_strmap_new();
    r.dataset = verify_dataset_new();
    r.rep = report_new("run", PACKAGE_VERSION);
    if (!r.jobs || !r.claims || !r.dataset || !r.rep) {
        fprintf(stderr, "deidtk run: out of memory\n");
        goto out;
    }
    char now[32], thumbs[PATH_MAX], prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(report_json) - 5), report_json);
    cli_shared_start(&sh, r.rep, prefix, thumbs, sizeof thumbs);
    report_set_meta(r.rep, "preset", deid_policy_preset(policy) ? deid_policy_preset(policy) : "");
    report_set_meta(r.rep, "policy_sha256", r.policy_hash);
    report_set_meta(r.rep, "key_fingerprint", r.fingerprint);
    report_set_meta(r.rep, "output", out_dir);

    if (!audit_path) {
        audit_default_path(key_path, apath, sizeof apath);
        audit_path = apath;
    }
    r.engine.hash_originals = !no_audit;
    r.audit_had_runs = !no_audit && access(audit_path, F_OK) == 0;
    if (no_audit)
        audit_path = "none";
    else if (audit_open(audit_path, 1, &r.audit, err, sizeof err) != 0) {
        cmd_error("run", err);
        goto out;
    }
    if (originals)
        fprintf(stderr, "deidtk run: warning: --audit-originals stores original PHI values in "
                        "%s; protect it as you protect the inputs\n", audit_path);
    {
        char args[4096] = "";
        for (int i = 0; i < argc; i++) {
            size_t n = strlen(args);
            snprintf(args + n, sizeof args - n, "%s%s", i ? " " : "deidtk ", argv[i]);
        }
        char optnames[512] = "";
        for (int o = 0; o < DEID_OPT_COUNT; o++)
            if (deid_policy_options(policy) & DEID_OPTION_BIT(o)) {
                size_t n = strlen(optnames);
                snprintf(optnames + n, sizeof optnames - n, "%s%s", n ? "," : "",
                         deid_option_name((deid_option)o));
            }
        report_set_meta(r.rep, "options", optnames);
        audit_run_info ri = {0};
        ri.preset = deid_policy_preset(policy);
        ri.options = optnames;
        ri.policy_text = deid_policy_text(policy);
        ri.policy_sha256 = r.policy_hash;
        ri.key_fingerprint = r.fingerprint;
        ri.arguments = args;
        ri.audit_originals = originals;
        if (r.audit && audit_run_begin(r.audit, &ri, &r.run_id, err, sizeof err) != 0) {
            cmd_error("run", err);
            goto out;
        }
    }
    if (log_path && !(r.log = fopen(log_path, "w"))) {
        fprintf(stderr, "deidtk run: %s: %s\n", log_path, strerror(errno));
        goto out;
    }
    if (export_dir && open_mappings(&r, export_dir) != 0) {
        fprintf(stderr, "deidtk run: %s: cannot write the mappings: %s\n", export_dir,
                strerror(errno));
        goto out;
    }

    if (cli_run_workers("run", r.files.n, sh.jobs, work, done, &r) != 0)
        goto out;
    r.findings += cli_dataset_findings(r.dataset, r.rep, r.audit ? audit_wide : NULL, &r);
    cli_shared_end(&sh);

    audit_counts counts = {(int64_t)(r.files.n - r.failed - r.skipped), (int64_t)r.failed,
                           (int64_t)r.findings};
    if (r.audit && audit_run_end(r.audit, r.run_id, &counts, err, sizeof err) != 0)
        trail_error(err);
    cli_now(now, sizeof now);
    report_set_meta(r.rep, "ended", now);
    if (report_write_json(r.rep, report_json, sh.show_values, err, sizeof err) != 0 ||
        report_write_html(r.rep, report_html, sh.show_values, err, sizeof err) != 0) {
        cmd_error("run", err);
        goto out;
    }
    report_summary sum;
    report_get_summary(r.rep, &sum);
    int blocked = report_blocked(r.rep);
    printf("deidtk run: %zu files, %zu de-identified, %zu failed, %zu skipped; "
           "%zu findings (leak %zu, phi %zu, suspect %zu, policy %zu); gate: %s\n",
           r.files.n, r.files.n - r.failed - r.skipped, r.failed, r.skipped, sum.findings,
           sum.open_by_severity[SEV_LEAK], sum.open_by_severity[SEV_PHI],
           sum.open_by_severity[SEV_SUSPECT], sum.open_by_severity[SEV_POLICY],
           blocked || r.failed ? "BLOCKED" : "PASS");
    printf("deidtk run: output %s; report %s and %s; audit trail %s\n", out_dir, report_json,
           report_html, audit_path);
    status = r.failed ? EXIT_UNREADABLE : blocked ? EXIT_GATE_BLOCKED : EXIT_GATE_PASS;
out:
    if (r.log)
        fclose(r.log);
    if (r.map_uids)
        fclose(r.map_uids);
    if (r.map_ids)
        fclose(r.map_ids);
    cli_strmap_free(r.exported);
    audit_close(r.audit);
    report_free(r.rep);
    verify_dataset_free(r.dataset);
    cli_strmap_free(r.claims);
    free(r.jobs);
    cli_files_free(&r.files);
    deid_lookup_free(lookup);
    deid_policy_free(policy);
    return status;
}
