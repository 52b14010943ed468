/* audit/audit.c — opening the trail, its schema, the canonical row hash, and the writer. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "audit/audit-int.h"

/* `audit trace` looks a file up by output path, SOP Instance UID or input path, and the
 * last had no index: each lookup read the whole files table (verify, which paired through
 * it then, took 44 s over 20000 outputs). Older trails get the index from their next run. */
#define FILES_INPUT_PATH_INDEX "CREATE INDEX IF NOT EXISTS files_input_path ON files(input_path);"

/* Guards against accidental edits; tampering that drops them is what the chains detect. */
static const char schema_sql[] =
    "CREATE TABLE runs("
    " id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, tool_version TEXT NOT NULL,"
    " preset TEXT, options TEXT, policy TEXT, policy_sha256 TEXT NOT NULL,"
    " key_fingerprint TEXT, host TEXT, username TEXT, arguments TEXT,"
    " audit_originals INTEGER NOT NULL, resumes TEXT, started TEXT NOT NULL,"
    " ended TEXT, files_ok INTEGER, files_failed INTEGER, findings INTEGER,"
    " content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL,"
    " seal_hash TEXT);"
    "CREATE INDEX runs_policy ON runs(policy_sha256, key_fingerprint);"
    "CREATE TABLE files("
    " id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, input_path TEXT, input_sha256 TEXT,"
    " output_path TEXT, output_sha256 TEXT, output_sop_uid TEXT,"
    " status TEXT NOT NULL CHECK(status IN ('ok','error','skipped')), error TEXT,"
    " prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL);"
    "CREATE INDEX files_run ON files(run_id);"
    "CREATE INDEX files_input ON files(input_sha256);"
    "CREATE INDEX files_output ON files(output_path);"
    FILES_INPUT_PATH_INDEX
    "CREATE INDEX files_sop ON files(output_sop_uid);"
    "CREATE TABLE changes("
    " id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, file_id INTEGER NOT NULL,"
    " tag_path TEXT NOT NULL, action TEXT NOT NULL, original_hmac TEXT, new_value TEXT,"
    " original TEXT, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL);"
    "CREATE INDEX changes_run ON changes(run_id);"
    "CREATE INDEX changes_file ON changes(file_id);"
    /* Only UID replacements are looked up by original: indexing every change would cost the
     * run more than the rest of the trail together. */
    "CREATE INDEX changes_uid_hmac ON changes(original_hmac) WHERE action='U';"
    "CREATE TABLE findings("
    " id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, file_id INTEGER,"
    " finding_id TEXT NOT NULL, file_path TEXT, location TEXT, detector TEXT,"
    " severity TEXT, masked_value TEXT, message TEXT,"
    " prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL);"
    "CREATE INDEX findings_run ON findings(run_id);"
    "CREATE INDEX findings_id ON findings(finding_id);"
    "CREATE TABLE reviews("
    " id INTEGER PRIMARY KEY, finding_id TEXT NOT NULL, reviewer TEXT NOT NULL,"
    " decision TEXT NOT NULL CHECK(decision IN ('waive','fix')), reason TEXT NOT NULL,"
    " time TEXT NOT NULL, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL);"
    "CREATE INDEX reviews_finding ON reviews(finding_id);"
    "CREATE TRIGGER files_no_update BEFORE UPDATE ON files"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER files_no_delete BEFORE DELETE ON files"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER changes_no_update BEFORE UPDATE ON changes"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER changes_no_delete BEFORE DELETE ON changes"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER findings_no_update BEFORE UPDATE ON findings"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER findings_no_delete BEFORE DELETE ON findings"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    /* A run is updated once, when it ends, and only in its end columns. */
    "CREATE TRIGGER runs_end_once BEFORE UPDATE ON runs WHEN OLD.ended IS NOT NULL"
    " OR NEW.ended IS NULL OR NEW.id IS NOT OLD.id OR NEW.uuid IS NOT OLD.uuid"
    " OR NEW.content_hash IS NOT OLD.content_hash OR NEW.prev_hash IS NOT OLD.prev_hash"
    " OR NEW.row_hash IS NOT OLD.row_hash"
    " BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;"
    "PRAGMA user_version = 1;";

const char *const audit_run_cols[AUDIT_RUN_NCOLS] = {
    "uuid", "tool_version", "preset", "options", "policy", "policy_sha256",
    "key_fingerprint", "host", "username", "arguments", "audit_originals", "resumes", "started"
};

void audit_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int audit_sqlerr(audit_db *db, char *err, size_t errlen, const char *what)
{
    audit_seterr(err, errlen, "%s: %s: %s", db->path ? db->path : "audit trail", what,
                 sqlite3_errmsg(db->db));
    return -1;
}

int audit_abort(audit_db *db, char *err, size_t errlen, const char *what)
{
    audit_sqlerr(db, err, errlen, what);
    audit_exec(db, "ROLLBACK", NULL, 0);
    return -1;
}

int audit_step_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int audit_first_row(audit_db *db, sqlite3_stmt *st, char **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out) {
        const char *v = audit_col_text(st, 0);
        if (!(*out = strdup(v ? v : ""))) {
            sqlite3_finalize(st);
            audit_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit trail");
    return rc == SQLITE_ROW;
}

int audit_exec(audit_db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        audit_seterr(err, errlen, "%s: %s", db->path ? db->path : "audit trail",
                     msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

const char *audit_col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

void audit_col_copy(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const char *s = audit_col_text(st, col);
    snprintf(buf, len, "%s", s ? s : "");
}

void audit_now_utc(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- canonical hash ---- */

/* Adds bytes to the digest through db->hbuf; what does not fit goes straight in. The
 * digest is the same however its input is split. */
static void h_bytes(audit_db *db, const void *p, size_t n)
{
    if (db->hlen + n > sizeof db->hbuf) {
        EVP_DigestUpdate(db->md, db->hbuf, db->hlen);
        db->hlen = 0;
        if (n > sizeof db->hbuf) {
            EVP_DigestUpdate(db->md, p, n);
            return;
        }
    }
    memcpy(db->hbuf + db->hlen, p, n);
    db->hlen += n;
}

static void h_field(audit_db *db, char type, const char *s, size_t n)
{
    unsigned char hdr[9];
    hdr[0] = (unsigned char)type;
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    h_bytes(db, hdr, sizeof hdr);
    h_bytes(db, s, n);
}

void audit_h_begin(audit_db *db, const char *domain)
{
    EVP_DigestInit_ex(db->md, db->sha256, NULL);
    db->hlen = 0;
    audit_h_text(db, domain);
}

void audit_h_text(audit_db *db, const char *s)
{
    if (!s) {
        h_bytes(db, "N", 1);
        return;
    }
    h_field(db, 'T', s, strlen(s));
}

void audit_h_int(audit_db *db, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    h_field(db, 'I', buf, (size_t)n);
}

void audit_h_val(audit_db *db, const audit_val *v)
{
    if (v->is_int)
        audit_h_int(db, v->i);
    else
        audit_h_text(db, v->s);
}

void audit_h_col(audit_db *db, sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        audit_h_text(db, NULL);
        break;
    case SQLITE_INTEGER:
        audit_h_int(db, sqlite3_column_int64(st, col));
        break;
    default: {
        /* Anything else (text, or a value a tamperer stored as real/blob) hashes as text. */
        const char *s = audit_col_text(st, col);
        h_field(db, 'T', s ? s : "", (size_t)sqlite3_column_bytes(st, col));
    }
    }
}

static void to_hex(const unsigned char *md, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[2 * n] = '\0';
}

void audit_h_end(audit_db *db, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestUpdate(db->md, db->hbuf, db->hlen);
    db->hlen = 0;
    EVP_DigestFinal_ex(db->md, md, &n);
    to_hex(md, n, out);
}

void audit_run_link_hash(audit_db *db, const char *content_hash, const char *prev, char out[65])
{
    audit_h_begin(db, "runs-link");
    audit_h_text(db, content_hash);
    audit_h_text(db, prev);
    audit_h_end(db, out);
}

void audit_run_seal_hash(audit_db *db, const char *content_hash, const char *ended,
                         const audit_counts *c, const char *tf, const char *tc,
                         const char *tg, char out[65])
{
    audit_h_begin(db, "runs-seal");
    audit_h_text(db, content_hash);
    audit_h_text(db, ended);
    audit_h_int(db, c->files_ok);
    audit_h_int(db, c->files_failed);
    audit_h_int(db, c->findings);
    audit_h_text(db, tf);
    audit_h_text(db, tc);
    audit_h_text(db, tg);
    audit_h_end(db, out);
}

/* A file's bytes are hashed well after they were read or written, on another core: from
 * memory, SHA-256 ran a third slower than from cache (2000 buffers of 512 KB: 0.85 s
 * against 0.54 s), as it asks for the next bytes only when it needs them. Fetching the
 * bytes a few kilobytes ahead of the hash made it as fast as from cache. */
#define HASH_STEP 1024
#define HASH_AHEAD 4096

void audit_sha256_hex(const void *data, size_t len, char out[65])
{
    const unsigned char *p = data;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
        to_hex(md, n, out);
        return;
    }
    for (size_t at = 0; at < len; at += HASH_STEP) {
        size_t step = len - at < HASH_STEP ? len - at : HASH_STEP;
        for (size_t k = at + HASH_AHEAD; k < at + HASH_AHEAD + step && k < len; k += 64)
            __builtin_prefetch(p + k);
        EVP_DigestUpdate(c, p + at, step);
    }
    EVP_DigestFinal_ex(c, md, &n);
    EVP_MD_CTX_free(c);
    to_hex(md, n, out);
}

int audit_sha256_file(const char *path, char out[65], char *err, size_t errlen)
{
    /* Only a regular file: a pipe would wait for a writer, a device never end. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        audit_seterr(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        audit_seterr(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) {
        fclose(f);
        audit_seterr(err, errlen, "out of memory");
        return -1;
    }
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(c, buf, n);
    int bad = ferror(f);
    fclose(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mn = 0;
    EVP_DigestFinal_ex(c, md, &mn);
    EVP_MD_CTX_free(c);
    if (bad) {
        audit_seterr(err, errlen, "%s: read error", path);
        return -1;
    }
    to_hex(md, mn, out);
    return 0;
}

/* ---- open / close ---- */

int audit_default_path(const char *key_path, char *buf, size_t len)
{
    const char *slash = key_path ? strrchr(key_path, '/') : NULL;
    int n;
    if (!slash)
        n = snprintf(buf, len, "%s", AUDIT_DEFAULT_NAME);
    else
        n = snprintf(buf, len, "%.*s/%s", (int)(slash - key_path), key_path, AUDIT_DEFAULT_NAME);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* SQLite counts its allocations under a global mutex, taken on every malloc and free; the
 * trail does not need the counts. Set before SQLite starts (later it is refused, harmlessly). */
static void quiet_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

int audit_open(const char *path, int create, audit_db **out, char *err, size_t errlen)
{
    *out = NULL;
    pthread_once(&quiet_once, quiet_sqlite);
    if (create) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            audit_seterr(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        close(fd);
    } else if (access(path, F_OK) != 0) {
        audit_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    audit_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path)) || !(db->md = EVP_MD_CTX_new()) ||
        !(db->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
        if (db) {
            EVP_MD_CTX_free(db->md);
            free(db->path);
        }
        free(db);
        audit_seterr(err, errlen, "out of memory");
        return -1;
    }
    /* SQLite gives the -wal and -shm files the database file's mode (0600). */
    /* One thread owns a trail (the single writer): SQLite's own locking is not needed. */
    if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        audit_sqlerr(db, err, errlen, "cannot open");
        audit_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db->db, 10000);
    /* Savepoint journals in memory: one per file, and on disk each cost page writes. A
     * run appends: the pages it touches are the ends of the tables and indexes, and the
     * files_input index it searches (20000 files take 2 MB of it). A cache of 64 MB instead
     * of 8 kept every page written, each on fresh memory: page faults were 6% of the writer
     * thread's time, and a run of 2000 small files took 5% longer. */
    if (audit_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   " PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY;", err, errlen) < 0) {
        audit_close(db);
        return -1;
    }
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version == 0) {
        int ntables = -1;
        if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM sqlite_schema", -1, &st,
                               NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            ntables = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (ntables != 0 || !create) {
            audit_seterr(err, errlen, "%s: not a deidtk audit trail", path);
            audit_close(db);
            return -1;
        }
        if (audit_exec(db, "BEGIN IMMEDIATE", err, errlen) < 0 ||
            audit_exec(db, schema_sql, err, errlen) < 0 ||
            audit_exec(db, "COMMIT", err, errlen) < 0) {
            audit_close(db);
            return -1;
        }
    } else if (version != AUDIT_SCHEMA_VERSION) {
        audit_seterr(err, errlen, "%s: audit trail schema %d, this deidtk reads %d", path,
                     version, AUDIT_SCHEMA_VERSION);
        audit_close(db);
        return -1;
    } else if (create && audit_exec(db, FILES_INPUT_PATH_INDEX, err, errlen) < 0) {
        audit_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

static void unit_abort(audit_db *db);

void audit_close(audit_db *db)
{
    if (!db)
        return;
    unit_abort(db);
    audit_flush(db, NULL, 0);
    sqlite3_finalize(db->ins_file);
    for (size_t i = 0; i <= AUDIT_CHANGE_ROWS; i++)
        sqlite3_finalize(db->ins_changes[i]);
    sqlite3_finalize(db->ins_finding);
    free(db->ch_text);
    sqlite3_close(db->db);
    EVP_MD_CTX_free(db->md);
    EVP_MD_free(db->sha256);
    free(db->path);
    free(db);
}

/* ---- writer ---- */

static int prep(audit_db *db, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
    if (*st)
        return 0;
    if (sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    return 0;
}

static void bind_val(sqlite3_stmt *st, int i, const audit_val *v)
{
    if (v->is_int)
        sqlite3_bind_int64(st, i, v->i);
    else if (v->s)
        sqlite3_bind_text(st, i, v->s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* The row hash of a row: it covers the domain, the optional link (the file row a change or
 * finding belongs to), v and prev. */
static void chain_hash(audit_db *db, const char *domain, int has_link, const char *link,
                       const audit_val *v, int n, const char *prev, char out[65])
{
    audit_h_begin(db, domain);
    if (has_link)
        audit_h_text(db, link);
    for (int i = 0; i < n; i++)
        audit_h_val(db, &v[i]);
    audit_h_text(db, prev);
    audit_h_end(db, out);
}

/* Binds v to parameters first..first+n-1, then prev_hash and row_hash (chain_hash), and
 * inserts the row. */
static int chain_insert(audit_db *db, sqlite3_stmt *st, int first, const char *domain,
                        int has_link, const char *link, const audit_val *v, int n,
                        const char *prev, char out[65], char *err, size_t errlen)
{
    chain_hash(db, domain, has_link, link, v, n, prev, out);
    for (int i = 0; i < n; i++)
        bind_val(st, first + i, &v[i]);
    sqlite3_bind_text(st, first + n, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + n + 1, out, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit trail insert");
    return 0;
}

/* Last row_hash of a run's chain in `table`, or the run's content hash when empty. */
static int chain_tail(audit_db *db, const char *table, int64_t run_id, const char *anchor,
                      char out[65], char *err, size_t errlen)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT row_hash FROM %s WHERE run_id=? ORDER BY id DESC LIMIT 1",
             table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        audit_col_copy(st, 0, out, 65);
    else
        snprintf(out, 65, "%s", anchor);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit trail");
    return 0;
}

/* Inside a transaction: loads the run's anchor, originals flag and chain tails. */
static int run_load(audit_db *db, int64_t run_id, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT content_hash, audit_originals, ended FROM runs "
                           "WHERE id=?", -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_int64(st, 1, run_id);
    char anchor[65];
    int rc = sqlite3_step(st), ended = 0;
    if (rc == SQLITE_ROW) {
        audit_col_copy(st, 0, anchor, sizeof anchor);
        db->run_originals = sqlite3_column_int(st, 1);
        ended = sqlite3_column_type(st, 2) != SQLITE_NULL;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        audit_seterr(err, errlen, "audit trail: no run %lld", (long long)run_id);
        return -1;
    }
    if (ended) {
        audit_seterr(err, errlen, "audit trail: run %lld has ended", (long long)run_id);
        return -1;
    }
    db->run_id = run_id;
    if (chain_tail(db, "files", run_id, anchor, db->tail_files, err, errlen) < 0 ||
        chain_tail(db, "changes", run_id, anchor, db->tail_changes, err, errlen) < 0 ||
        chain_tail(db, "findings", run_id, anchor, db->tail_findings, err, errlen) < 0)
        return -1;
    return 0;
}

static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int audit_flush(audit_db *db, char *err, size_t errlen)
{
    if (db->in_tx) {
        audit_seterr(err, errlen, "audit trail: a file is still open");
        return -1;
    }
    if (!db->batch)
        return 0;
    db->batch = 0;
    if (audit_exec(db, "COMMIT", err, errlen) < 0) {
        audit_exec(db, "ROLLBACK", NULL, 0);
        return -1;
    }
    return 0;
}

/* Opens a unit (a file, or a lone finding) of run_id inside the current batch. */
static int unit_begin(audit_db *db, int64_t run_id, char *err, size_t errlen)
{
    if (db->batch && db->run_id != run_id && audit_flush(db, err, errlen) < 0)
        return -1;
    if (!db->batch) {
        if (audit_exec(db, "BEGIN IMMEDIATE", err, errlen) < 0)
            return -1;
        if (run_load(db, run_id, err, errlen) < 0) {
            audit_exec(db, "ROLLBACK", NULL, 0);
            return -1;
        }
        db->batch = 1;
        db->batch_units = 0;
        db->batch_start = mono_ms();
    }
    if (audit_exec(db, "SAVEPOINT unit", err, errlen) < 0)
        return -1;
    memcpy(db->saved_tails[0], db->tail_files, 65);
    memcpy(db->saved_tails[1], db->tail_changes, 65);
    memcpy(db->saved_tails[2], db->tail_findings, 65);
    db->in_tx = 1;
    return 0;
}

/* Inserts the pending change rows of the open file (see audit_change_add). */
static int changes_flush(audit_db *db, char *err, size_t errlen)
{
    size_t n = db->ch_n;
    if (n == 0)
        return 0;
    if (!db->ins_changes[n]) {
        static const char head[] = "INSERT INTO changes(run_id, file_id, tag_path, action, "
                                   "original_hmac, new_value, original, prev_hash, row_hash) "
                                   "VALUES";
        static const char row[] = "(?,?,?,?,?,?,?,?,?),";
        char sql[sizeof head + AUDIT_CHANGE_ROWS * sizeof row];
        size_t len = sizeof head - 1;
        memcpy(sql, head, len);
        for (size_t i = 0; i < n; i++, len += sizeof row - 1)
            memcpy(sql + len, row, sizeof row - 1);
        sql[len - 1] = 0;  /* the last row's comma */
        if (prep(db, &db->ins_changes[n], sql, err, errlen) < 0)
            return -1;
    }
    sqlite3_stmt *st = db->ins_changes[n];
    for (size_t i = 0; i < n; i++) {
        int p = (int)(i * (2 + AUDIT_CHANGE_TEXTS));
        sqlite3_bind_int64(st, p + 1, db->run_id);
        sqlite3_bind_int64(st, p + 2, db->file_id);
        for (int t = 0; t < AUDIT_CHANGE_TEXTS; t++) {
            size_t off = db->ch_off[i][t];
            if (off == (size_t)-1)
                sqlite3_bind_null(st, p + 3 + t);
            else
                sqlite3_bind_text(st, p + 3 + t, db->ch_text + off, -1, SQLITE_STATIC);
        }
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    db->ch_n = 0;
    db->ch_len = 0;
    if (rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit trail insert");
    return 0;
}

/* Copies s (NULL: none) into the pending texts; its offset, or -2 when out of memory. */
static size_t pending_text(audit_db *db, const char *s)
{
    if (!s)
        return (size_t)-1;
    size_t n = strlen(s) + 1;
    if (db->ch_len + n > db->ch_cap) {
        size_t cap = db->ch_cap ? db->ch_cap : 4096;
        while (cap < db->ch_len + n)
            cap *= 2;
        char *t = realloc(db->ch_text, cap);
        if (!t)
            return (size_t)-2;
        db->ch_text = t;
        db->ch_cap = cap;
    }
    memcpy(db->ch_text + db->ch_len, s, n);
    db->ch_len += n;
    return db->ch_len - n;
}

static int unit_end(audit_db *db, char *err, size_t errlen)
{
    if (changes_flush(db, err, errlen) < 0) {
        unit_abort(db);
        return -1;
    }
    db->in_tx = 0;
    if (audit_exec(db, "RELEASE unit", err, errlen) < 0) {
        audit_exec(db, "ROLLBACK", NULL, 0);
        db->batch = 0;
        return -1;
    }
    if (++db->batch_units >= AUDIT_BATCH_FILES || mono_ms() - db->batch_start >= AUDIT_BATCH_MS)
        return audit_flush(db, err, errlen);
    return 0;
}

static void unit_abort(audit_db *db)
{
    db->ch_n = 0;
    db->ch_len = 0;
    if (!db->in_tx)
        return;
    db->in_tx = 0;
    if (audit_exec(db, "ROLLBACK TO unit", NULL, 0) < 0 ||
        audit_exec(db, "RELEASE unit", NULL, 0) < 0) {
        audit_exec(db, "ROLLBACK", NULL, 0);
        db->batch = 0;
    }
    memcpy(db->tail_files, db->saved_tails[0], 65);
    memcpy(db->tail_changes, db->saved_tails[1], 65);
    memcpy(db->tail_findings, db->saved_tails[2], 65);
}

static void make_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* RAND_bytes fails only without an entropy source; time+pid still makes shards distinct. */
        uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 16; i++)
            b[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)(i * 37);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

int audit_run_begin(audit_db *db, const audit_run_info *info, int64_t *run_id,
                    char *err, size_t errlen)
{
    if (audit_flush(db, err, errlen) < 0)
        return -1;
    char uuid[37], policy_sha[65], host[256] = "", started[32], resumes[64] = "";
    if (info->uuid)
        snprintf(uuid, sizeof uuid, "%s", info->uuid);
    else
        make_uuid(uuid);
    if (info->policy_sha256)
        snprintf(policy_sha, sizeof policy_sha, "%s", info->policy_sha256);
    else
        audit_sha256_hex(info->policy_text ? info->policy_text : "",
                         info->policy_text ? strlen(info->policy_text) : 0, policy_sha);
    if (!info->host && gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    const char *user = info->user;
    if (!user) {
        struct passwd *pw = getpwuid(getuid());
        user = pw ? pw->pw_name : NULL;
    }
    audit_now_utc(started);

    if (audit_exec(db, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = NULL;
    char prev[65] = AUDIT_ZERO_HASH;
    if (sqlite3_prepare_v2(db->db, "SELECT uuid FROM runs WHERE ended IS NULL AND "
                           "policy_sha256=? AND key_fingerprint IS ? ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_text(st, 1, policy_sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, info->key_fingerprint, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        audit_col_copy(st, 0, resumes, sizeof resumes);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db->db, "SELECT row_hash FROM runs ORDER BY id DESC LIMIT 1", -1,
                           &st, NULL) != SQLITE_OK)
        goto sqlfail;
    if (sqlite3_step(st) == SQLITE_ROW)
        audit_col_copy(st, 0, prev, sizeof prev);
    sqlite3_finalize(st);

    const audit_val v[AUDIT_RUN_NCOLS] = {
        {0, 0, uuid}, {0, 0, info->tool_version ? info->tool_version : PACKAGE_VERSION},
        {0, 0, info->preset}, {0, 0, info->options}, {0, 0, info->policy_text},
        {0, 0, policy_sha}, {0, 0, info->key_fingerprint},
        {0, 0, info->host ? info->host : host}, {0, 0, user}, {0, 0, info->arguments},
        {1, info->audit_originals ? 1 : 0, NULL}, {0, 0, resumes[0] ? resumes : NULL},
        {0, 0, started}
    };
    char content[65], row[65];
    audit_h_begin(db, "runs");
    for (int i = 0; i < AUDIT_RUN_NCOLS; i++)
        audit_h_val(db, &v[i]);
    audit_h_end(db, content);
    audit_run_link_hash(db, content, prev, row);
    if (sqlite3_prepare_v2(db->db, "INSERT INTO runs(uuid, tool_version, preset, options, "
                           "policy, policy_sha256, key_fingerprint, host, username, arguments, "
                           "audit_originals, resumes, started, content_hash, prev_hash, "
                           "row_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    for (int i = 0; i < AUDIT_RUN_NCOLS; i++)
        bind_val(st, i + 1, &v[i]);
    sqlite3_bind_text(st, 14, content, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, row, -1, SQLITE_STATIC);
    if (audit_step_once(st) != 0)
        goto sqlfail;
    *run_id = sqlite3_last_insert_rowid(db->db);
    return audit_exec(db, "COMMIT", err, errlen);
sqlfail:
    return audit_abort(db, err, errlen, "audit trail: run");
}

static const char *status_name(audit_file_status s)
{
    return s == AUDIT_FILE_OK ? "ok" : s == AUDIT_FILE_ERROR ? "error" : "skipped";
}

int audit_file_add(audit_db *db, int64_t run_id, const audit_file_info *info, int64_t *file_id,
                   char *err, size_t errlen)
{
    if (db->in_tx) {
        audit_seterr(err, errlen, "audit trail: previous file not committed");
        return -1;
    }
    if (prep(db, &db->ins_file, "INSERT INTO files(run_id, input_path, input_sha256, "
             "output_path, output_sha256, output_sop_uid, status, error, prev_hash, row_hash) "
             "VALUES(?,?,?,?,?,?,?,?,?,?)", err, errlen) < 0 ||
        unit_begin(db, run_id, err, errlen) < 0)
        return -1;
    const audit_val v[7] = {
        {0, 0, info->input_path}, {0, 0, info->input_sha256}, {0, 0, info->output_path},
        {0, 0, info->output_sha256}, {0, 0, info->output_sop_uid},
        {0, 0, status_name(info->status)}, {0, 0, info->error}
    };
    sqlite3_bind_int64(db->ins_file, 1, run_id);
    if (chain_insert(db, db->ins_file, 2, "files", 0, NULL, v, 7, db->tail_files,
                     db->file_hash, err, errlen) < 0) {
        unit_abort(db);
        return -1;
    }
    memcpy(db->tail_files, db->file_hash, 65);
    db->file_id = *file_id = sqlite3_last_insert_rowid(db->db);
    return 0;
}

int audit_change_add(audit_db *db, int64_t file_id, const char *tag_path, const char *action,
                     const char *original_hmac_hex, const char *new_value,
                     const char *original_or_null, char *err, size_t errlen)
{
    if (!db->in_tx || file_id != db->file_id) {
        audit_seterr(err, errlen, "audit trail: change outside its file's transaction");
        return -1;
    }
    const audit_val v[5] = {
        {0, 0, tag_path ? tag_path : ""}, {0, 0, action ? action : ""},
        {0, 0, original_hmac_hex}, {0, 0, new_value},
        {0, 0, db->run_originals ? original_or_null : NULL}
    };
    char out[65];
    chain_hash(db, "changes", 1, db->file_hash, v, 5, db->tail_changes, out);
    const char *texts[AUDIT_CHANGE_TEXTS] = {v[0].s, v[1].s, v[2].s, v[3].s, v[4].s,
                                             db->tail_changes, out};
    size_t *off = db->ch_off[db->ch_n];
    for (int t = 0; t < AUDIT_CHANGE_TEXTS; t++)
        if ((off[t] = pending_text(db, texts[t])) == (size_t)-2) {
            audit_seterr(err, errlen, "audit trail: out of memory");
            goto fail;
        }
    db->ch_n++;
    memcpy(db->tail_changes, out, 65);
    if (db->ch_n == AUDIT_CHANGE_ROWS && changes_flush(db, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    /* A file is in the trail whole or not at all. */
    unit_abort(db);
    return -1;
}

static int finding_insert(audit_db *db, const char *file_hash, int64_t file_id,
                          const verify_finding *f, char *err, size_t errlen)
{
    if (prep(db, &db->ins_finding, "INSERT INTO findings(run_id, file_id, finding_id, "
             "file_path, location, detector, severity, masked_value, message, prev_hash, "
             "row_hash) VALUES(?,?,?,?,?,?,?,?,?,?,?)", err, errlen) < 0)
        return -1;
    char *masked = f->value ? verify_mask(f->value) : NULL;
    if (f->value && !masked) {
        audit_seterr(err, errlen, "out of memory");
        return -1;
    }
    const audit_val v[7] = {
        {0, 0, f->id}, {0, 0, f->file}, {0, 0, f->where}, {0, 0, f->detector},
        {0, 0, verify_severity_name(f->severity)}, {0, 0, masked}, {0, 0, f->message}
    };
    char out[65];
    sqlite3_bind_int64(db->ins_finding, 1, db->run_id);
    if (file_id)
        sqlite3_bind_int64(db->ins_finding, 2, file_id);
    int rc = chain_insert(db, db->ins_finding, 3, "findings", 1, file_hash, v, 7,
                          db->tail_findings, out, err, errlen);
    free(masked);
    if (rc == 0)
        memcpy(db->tail_findings, out, 65);
    return rc;
}

int audit_finding_add(audit_db *db, int64_t run_id, int64_t file_id, const verify_finding *f,
                      char *err, size_t errlen)
{
    if (db->in_tx) {
        if (run_id != db->run_id || (file_id && file_id != db->file_id)) {
            audit_seterr(err, errlen, "audit trail: finding outside its file's transaction");
            unit_abort(db);
            return -1;
        }
        if (finding_insert(db, file_id ? db->file_hash : NULL, file_id, f, err, errlen) < 0) {
            unit_abort(db);
            return -1;
        }
        return 0;
    }
    if (unit_begin(db, run_id, err, errlen) < 0)
        return -1;
    char fhash[65] = "";
    if (file_id) {
        sqlite3_stmt *st;
        int rc = SQLITE_ERROR;
        if (sqlite3_prepare_v2(db->db, "SELECT row_hash FROM files WHERE id=? AND run_id=?",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, file_id);
            sqlite3_bind_int64(st, 2, run_id);
            if ((rc = sqlite3_step(st)) == SQLITE_ROW)
                audit_col_copy(st, 0, fhash, sizeof fhash);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) {
            audit_seterr(err, errlen, "audit trail: no file %lld in run %lld",
                         (long long)file_id, (long long)run_id);
            unit_abort(db);
            return -1;
        }
    }
    if (finding_insert(db, file_id ? fhash : NULL, file_id, f, err, errlen) < 0) {
        unit_abort(db);
        return -1;
    }
    return unit_end(db, err, errlen);
}

int audit_file_commit(audit_db *db, char *err, size_t errlen)
{
    if (!db->in_tx) {
        audit_seterr(err, errlen, "audit trail: no file transaction open");
        return -1;
    }
    return unit_end(db, err, errlen);
}

void audit_file_abort(audit_db *db)
{
    unit_abort(db);
}

int audit_run_end(audit_db *db, int64_t run_id, const audit_counts *counts,
                  char *err, size_t errlen)
{
    if (audit_flush(db, err, errlen) < 0 || audit_exec(db, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    if (run_load(db, run_id, err, errlen) < 0) {
        audit_exec(db, "ROLLBACK", NULL, 0);
        return -1;
    }
    audit_counts c = {0, 0, 0};
    char content[65] = "", ended[32], seal[65];
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT content_hash,"
                           " (SELECT count(*) FROM files WHERE run_id=?1 AND status='ok'),"
                           " (SELECT count(*) FROM files WHERE run_id=?1 AND status='error'),"
                           " (SELECT count(*) FROM findings WHERE run_id=?1)"
                           " FROM runs WHERE id=?1", -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        audit_col_copy(st, 0, content, sizeof content);
        c.files_ok = sqlite3_column_int64(st, 1);
        c.files_failed = sqlite3_column_int64(st, 2);
        c.findings = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    if (counts)
        c = *counts;
    audit_now_utc(ended);
    audit_run_seal_hash(db, content, ended, &c, db->tail_files, db->tail_changes,
                        db->tail_findings, seal);
    if (sqlite3_prepare_v2(db->db, "UPDATE runs SET ended=?, files_ok=?, files_failed=?, "
                           "findings=?, seal_hash=? WHERE id=?", -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_text(st, 1, ended, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c.files_ok);
    sqlite3_bind_int64(st, 3, c.files_failed);
    sqlite3_bind_int64(st, 4, c.findings);
    sqlite3_bind_text(st, 5, seal, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, run_id);
    if (audit_step_once(st) != 0)
        goto sqlfail;
    return audit_exec(db, "COMMIT", err, errlen);
sqlfail:
    return audit_abort(db, err, errlen, "audit trail: run end");
}

int audit_output_recorded(audit_db *db, const char *sop_uid, const char *output_sha256,
                          const char *policy_sha256, const char *key_fingerprint, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st;
    /* By SOP Instance UID, which is indexed; a path may have moved. */
    if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM files f JOIN runs r ON r.id=f.run_id "
                           "WHERE f.output_sop_uid=? AND f.output_sha256=? AND f.status='ok' "
                           "AND r.policy_sha256 IS ? AND r.key_fingerprint IS ? LIMIT 1", -1,
                           &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_text(st, 1, sop_uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, output_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, policy_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, key_fingerprint, -1, SQLITE_STATIC);
    return audit_first_row(db, st, NULL, err, errlen);
}

int audit_file_done(audit_db *db, const char *input_sha256, const char *policy_sha256,
                    const char *key_fingerprint, char **output_path, char *err, size_t errlen)
{
    if (output_path)
        *output_path = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT f.output_path FROM files f JOIN runs r "
                           "ON r.id=f.run_id WHERE f.input_sha256=? AND f.status='ok' "
                           "AND r.policy_sha256=? AND r.key_fingerprint IS ? "
                           "ORDER BY f.id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_text(st, 1, input_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, policy_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key_fingerprint, -1, SQLITE_STATIC);
    return audit_first_row(db, st, output_path, err, errlen);
}
