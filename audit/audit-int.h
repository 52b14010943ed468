/* audit/audit-int.h — what the audit/ source files share: the handle, the canonical row hash,
 * and small SQLite helpers. Not part of the public API. */
#ifndef DEIDTK_AUDIT_INT_H
#define DEIDTK_AUDIT_INT_H

#include <sqlite3.h>
#include <openssl/evp.h>
#include "audit/audit.h"

#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* A file's change rows are inserted this many at a time, by one statement: a small CT file
 * has about 120, and with one statement a row their inserts took 1.4 times as long. */
#define AUDIT_CHANGE_ROWS 16
/* The texts of one pending change row: tag_path, action, original_hmac, new_value, original,
 * prev_hash, row_hash. */
#define AUDIT_CHANGE_TEXTS 7

struct audit_db {
    sqlite3 *db;
    char *path;               /* as opened: errors name the trail */
    EVP_MD_CTX *md;
    EVP_MD *sha256;           /* fetched once: an implicit fetch per row takes locks */
    /* A row's hashed fields, gathered for one digest update: one update a field cost more
     * than the hashing. */
    unsigned char hbuf[1024];
    size_t hlen;
    sqlite3_stmt *ins_file, *ins_finding;
    /* Change rows of the open file not inserted yet, their texts one after another in
     * ch_text (offsets; (size_t)-1 for NULL), and the INSERT of n rows in ins_changes[n],
     * prepared when first needed. */
    sqlite3_stmt *ins_changes[AUDIT_CHANGE_ROWS + 1];
    size_t ch_off[AUDIT_CHANGE_ROWS][AUDIT_CHANGE_TEXTS];
    size_t ch_n;
    char *ch_text;
    size_t ch_len, ch_cap;
    /* Writes are batched: one transaction (`batch`, for run_id, holding the write lock)
     * spans several files; each file is a savepoint inside it (`in_tx`), so a file is kept
     * or dropped whole. The chain tails are valid while the batch is open. */
    int batch, batch_units;
    double batch_start;
    int in_tx;
    int64_t run_id, file_id;
    int run_originals;
    char file_hash[65];
    char tail_files[65], tail_changes[65], tail_findings[65];
    char saved_tails[3][65];
};

/* One hashed value: an integer or a text (NULL text hashes as "absent"). */
typedef struct audit_val {
    int is_int;
    int64_t i;
    const char *s;
} audit_val;

/* Canonical encoding, fed to SHA-256 in order: the domain (table name) as a text field, then
 * every field: 'N' for NULL; 'I' or 'T', an 8-byte big-endian length, then the bytes
 * (integers as decimal text). */
void audit_h_begin(audit_db *db, const char *domain);
void audit_h_text(audit_db *db, const char *s);
void audit_h_int(audit_db *db, int64_t v);
void audit_h_val(audit_db *db, const audit_val *v);
void audit_h_col(audit_db *db, sqlite3_stmt *st, int col);
void audit_h_end(audit_db *db, char out[65]);

/* content_hash of a run from its hashed columns (audit_run_cols order). */
#define AUDIT_RUN_NCOLS 13
extern const char *const audit_run_cols[AUDIT_RUN_NCOLS];
void audit_run_link_hash(audit_db *db, const char *content_hash, const char *prev, char out[65]);
void audit_run_seal_hash(audit_db *db, const char *content_hash, const char *ended,
                         const audit_counts *c, const char *tf, const char *tc,
                         const char *tg, char out[65]);

void audit_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int audit_sqlerr(audit_db *db, char *err, size_t errlen, const char *what);
int audit_exec(audit_db *db, const char *sql, char *err, size_t errlen);
/* Reports the SQLite error as audit_sqlerr does, rolls the transaction back; returns -1. */
int audit_abort(audit_db *db, char *err, size_t errlen, const char *what);
/* Steps a one-shot INSERT or UPDATE and finalizes it: 0 when it ran to completion. */
int audit_step_once(sqlite3_stmt *st);
/* Steps a query for one row and finalizes it. With out, *out gets the row's first column
 * as text (malloc'd, "" for NULL; NULL when there is no row). 1: a row; 0: none; -1: err. */
int audit_first_row(audit_db *db, sqlite3_stmt *st, char **out, char *err, size_t errlen);
/* Copies a column as text into buf (empty when NULL). */
void audit_col_copy(sqlite3_stmt *st, int col, char *buf, size_t len);
const char *audit_col_text(sqlite3_stmt *st, int col);
void audit_now_utc(char buf[32]);

#endif
