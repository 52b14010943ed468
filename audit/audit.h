/* audit/audit.h — the audit trail: an append-only, hash-chained SQLite database that says
 * afterwards which tool, policy and key made which output from which input, every change made
 * to every attribute, every finding, and every review of a finding.
 *
 * Chains (see deidtk-audit(1) for the exact hash encoding):
 * - each run row has a content_hash over its own columns; the files, changes and findings of
 *   a run form one chain per table, starting at that content_hash, in rowid order;
 * - runs and reviews form one chain each per database; a merge re-links the copied rows onto
 *   the destination's chain after verifying the source, and copies run chains verbatim;
 * - audit_run_end seals a run: seal_hash covers its end columns and the tail of each of its
 *   chains, so rows cut from the end of a finished run are detected too.
 *
 * Resume: a rerun is a new run row. audit_run_begin records in `resumes` the uuid of the
 * latest unfinished run with the same policy hash and key fingerprint; audit_file_done lets
 * the run skip inputs already recorded ok under the same policy and key by any earlier run.
 *
 * One thread at a time uses an audit_db (callers that share one serialise their calls).
 * Strings the library returns are malloc'd and freed by the caller unless said otherwise.
 * Original attribute values are stored only when the run enables audit_originals; otherwise
 * only the HMAC the caller gives. */
#ifndef DEIDTK_AUDIT_H
#define DEIDTK_AUDIT_H

#include <stdint.h>
#include <stdio.h>
#include "verify/finding.h"

#define AUDIT_SCHEMA_VERSION 1
#define AUDIT_DEFAULT_NAME "deidtk-audit.sqlite"

typedef struct audit_db audit_db;

typedef enum { AUDIT_FILE_OK = 0, AUDIT_FILE_ERROR, AUDIT_FILE_SKIPPED } audit_file_status;

typedef struct audit_run_info {
    const char *uuid;             /* NULL: a random one is made */
    const char *tool_version;     /* NULL: this build's version */
    const char *preset, *options; /* as the user chose them */
    const char *policy_text;      /* the effective policy (overrides included) */
    const char *policy_sha256;    /* hex; NULL: SHA-256 of policy_text */
    const char *key_fingerprint;  /* hex fingerprint, never the key */
    const char *host, *user;      /* NULL: this machine's host name, the current user */
    const char *arguments;        /* the command line */
    int audit_originals;          /* store original values in changes rows */
} audit_run_info;

typedef struct audit_file_info {
    const char *input_path, *input_sha256;
    const char *output_path, *output_sha256, *output_sop_uid;
    audit_file_status status;
    const char *error;            /* short message when status is AUDIT_FILE_ERROR */
} audit_file_info;

typedef struct audit_counts {
    int64_t files_ok, files_failed, findings;
} audit_counts;

/* Rows handed to query callbacks: valid only during the callback. */
typedef struct audit_run_row {
    int64_t id;
    const char *uuid, *tool_version, *preset, *options, *policy_sha256, *key_fingerprint;
    const char *host, *user, *arguments, *started, *ended, *resumes;
    int audit_originals;
    audit_counts counts;
} audit_run_row;

typedef struct audit_file_row {
    int64_t id, run_id;
    const char *input_path, *input_sha256, *output_path, *output_sha256, *output_sop_uid;
    const char *status, *error;
} audit_file_row;

typedef struct audit_change_row {
    const char *tag_path, *action, *original_hmac, *new_value;
    const char *original;         /* NULL unless the run stored originals */
} audit_change_row;

typedef struct audit_verify_report {
    int ok;                       /* 1: every chain and seal checks */
    char table[16];               /* first broken row when !ok */
    int64_t rowid;
    char reason[128];
    int64_t runs, files, changes, findings, reviews, unsealed;
    char runs_head[65], reviews_head[65]; /* chain heads: record them to detect truncation */
} audit_verify_report;

typedef struct audit_merge_stats {
    int64_t runs_copied, runs_skipped, reviews_copied;
} audit_merge_stats;

/* Opens (create != 0: creates, mode 0600, WAL) the trail at path. *out freed by audit_close. */
int audit_open(const char *path, int create, audit_db **out, char *err, size_t errlen);
void audit_close(audit_db *db);

/* "DIR/deidtk-audit.sqlite" beside the key file; AUDIT_DEFAULT_NAME when key_path is NULL. */
int audit_default_path(const char *key_path, char *buf, size_t len);

/* SHA-256 helpers; out holds 65 bytes (64 hex + NUL). */
void audit_sha256_hex(const void *data, size_t len, char out[65]);
int audit_sha256_file(const char *path, char out[65], char *err, size_t errlen);  /* regular files */

/* Writer. audit_file_add opens the file's unit; audit_change_add and audit_finding_add join
 * it; audit_file_commit ends it (audit_file_abort drops it). A file is therefore in the trail
 * whole or not at all. audit_finding_add with no file open is a unit alone. Units are
 * committed in batches (AUDIT_BATCH_FILES units or AUDIT_BATCH_MS, whichever comes first):
 * a crash loses at most the last batch, which a rerun records again. audit_flush commits
 * now; audit_run_end, audit_close and every other call that is not part of a unit flush. */
#define AUDIT_BATCH_FILES 64
#define AUDIT_BATCH_MS 250
int audit_run_begin(audit_db *db, const audit_run_info *info, int64_t *run_id,
                    char *err, size_t errlen);
int audit_file_add(audit_db *db, int64_t run_id, const audit_file_info *info, int64_t *file_id,
                   char *err, size_t errlen);
int audit_change_add(audit_db *db, int64_t file_id, const char *tag_path, const char *action,
                     const char *original_hmac_hex, const char *new_value,
                     const char *original_or_null, char *err, size_t errlen);
/* file_id 0: a finding about no single file (dataset-wide). The value is stored masked. */
int audit_finding_add(audit_db *db, int64_t run_id, int64_t file_id, const verify_finding *f,
                      char *err, size_t errlen);
int audit_file_commit(audit_db *db, char *err, size_t errlen);
void audit_file_abort(audit_db *db);
int audit_flush(audit_db *db, char *err, size_t errlen);
/* Seals the run. counts NULL: counted from the run's rows. */
int audit_run_end(audit_db *db, int64_t run_id, const audit_counts *counts,
                  char *err, size_t errlen);

/* 1 when some run recorded input_sha256 ok under the same policy and key (*output_path, if
 * not NULL, gets its output path, malloc'd); 0 when not; -1 on error. */
int audit_file_done(audit_db *db, const char *input_sha256, const char *policy_sha256,
                    const char *key_fingerprint, char **output_path, char *err, size_t errlen);

/* 1 when some run under this policy and key recorded writing output_sha256 without error
 * as the object sop_uid (a release manifest's check of a report against the trail); 0 when
 * none did; -1 on error. */
int audit_output_recorded(audit_db *db, const char *sop_uid, const char *output_sha256,
                          const char *policy_sha256, const char *key_fingerprint, char *err,
                          size_t errlen);

/* Queries. A callback returning non-zero stops the walk (the query then returns 0). */
int audit_runs_list(audit_db *db, int (*cb)(void *ctx, const audit_run_row *run), void *ctx,
                    char *err, size_t errlen);

typedef struct audit_trace_cb {
    int (*file)(void *ctx, const audit_run_row *run, const audit_file_row *file);
    int (*change)(void *ctx, const audit_change_row *change);
} audit_trace_cb;
/* Every file whose output path, input path or output SOP Instance UID is `what`, with its run
 * and changes. *matches gets the number of files found. */
int audit_trace(audit_db *db, const char *what, const audit_trace_cb *cb, void *ctx,
                int *matches, char *err, size_t errlen);

/* The input path of the latest file written without error whose output path or output SOP
 * Instance UID is `output` (malloc'd, the caller frees), or NULL when the trail has none.
 * A path that was only an input has no original. Returns 0, or -1 with err. */
int audit_input_of(audit_db *db, const char *output, char **input_path, char *err,
                   size_t errlen);

/* Every (tag path, new value) of a UID replacement (a change with action "U") whose original
 * has the HMAC hmac_hex, with the number of files where it was replaced. */
int audit_find_original_uid(audit_db *db, const char *hmac_hex,
                            int (*cb)(void *ctx, const char *tag_path, const char *new_value,
                                      int64_t nfiles),
                            void *ctx, char *err, size_t errlen);

/* The whole trail as one JSON document; originals only when with_originals. */
int audit_export_json(audit_db *db, FILE *out, int with_originals, char *err, size_t errlen);

/* One reviewer's decision, "waive" or "fix", with one reason, on findings_ids[0..n), in one
 * transaction. With in_trail, every id must be a finding of the trail, or nothing is
 * recorded; without, the caller found them elsewhere (the dataset-wide findings a merge of
 * shard reports makes, which no run recorded). */
int audit_reviews_add(audit_db *db, const char *const *finding_ids, size_t n,
                      const char *reviewer, const char *decision, const char *reason,
                      int in_trail, char *err, size_t errlen);
/* 1 when the latest review of finding_id waives it (reviewer and reason malloc'd, either may
 * be NULL to ignore); 2 when it says fix; 0 when no one reviewed it; -1 on error. */
int audit_waived(audit_db *db, const char *finding_id, char **reviewer, char **reason,
                 char *err, size_t errlen);

/* Recomputes every chain and seal. Returns 0 when it could check (see report->ok), -1 when
 * the database could not be read. */
int audit_verify(audit_db *db, audit_verify_report *report, char *err, size_t errlen);

/* Copies the runs of the shard at src_path that dst lacks (by run uuid), and its reviews.
 * The shard is verified first; a broken shard is refused. */
int audit_merge(audit_db *dst, const char *src_path, audit_merge_stats *stats,
                char *err, size_t errlen);

#endif
