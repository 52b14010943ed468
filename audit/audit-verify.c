/* audit/audit-verify.c — recomputing the chains, and merging shard trails. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "audit/audit-int.h"

static int broken(audit_verify_report *r, const char *table, int64_t rowid, const char *why)
{
    r->ok = 0;
    snprintf(r->table, sizeof r->table, "%s", table);
    r->rowid = rowid;
    snprintf(r->reason, sizeof r->reason, "%s", why);
    return 1;
}

/* Checks one chain. The query yields: id, [link], n hashed columns, prev_hash, row_hash.
 * Returns 0 when intact (tail gets the last row hash, or anchor), 1 when broken, -1 on error. */
static int check_chain(audit_db *db, sqlite3_stmt *st, const char *table, int has_link, int n,
                       const char *anchor, char tail[65], int64_t *count,
                       audit_verify_report *r, char *err, size_t errlen)
{
    char prev[65], h[65];
    snprintf(prev, sizeof prev, "%s", anchor);
    int rc, first = has_link ? 2 : 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *sp = audit_col_text(st, first + n), *sr = audit_col_text(st, first + n + 1);
        (*count)++;
        if (!sp || strcmp(sp, prev) != 0) {
            sqlite3_reset(st);
            return broken(r, table, id, "chain link: the previous row is missing or altered");
        }
        audit_h_begin(db, table);
        if (has_link)
            audit_h_col(db, st, 1);
        for (int i = 0; i < n; i++)
            audit_h_col(db, st, first + i);
        audit_h_col(db, st, first + n);
        audit_h_end(db, h);
        if (!sr || strcmp(sr, h) != 0) {
            sqlite3_reset(st);
            return broken(r, table, id, "row content does not match its hash");
        }
        memcpy(prev, h, sizeof prev);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit verify");
    memcpy(tail, prev, 65);
    return 0;
}

static const char *const run_chain_sql[3] = {
    "SELECT id, input_path, input_sha256, output_path, output_sha256, output_sop_uid, status,"
    " error, prev_hash, row_hash FROM files WHERE run_id=? ORDER BY id",
    "SELECT c.id, (SELECT f.row_hash FROM files f WHERE f.id=c.file_id AND f.run_id=c.run_id),"
    " tag_path, action, original_hmac, new_value, original, prev_hash, row_hash"
    " FROM changes c WHERE run_id=? ORDER BY id",
    "SELECT g.id, (SELECT f.row_hash FROM files f WHERE f.id=g.file_id AND f.run_id=g.run_id),"
    " finding_id, file_path, location, detector, severity, masked_value, message, prev_hash,"
    " row_hash FROM findings g WHERE run_id=? ORDER BY id"
};
static const char *const run_chain_table[3] = {"files", "changes", "findings"};
static const int run_chain_link[3] = {0, 1, 1};
static const int run_chain_n[3] = {7, 5, 7};

static int verify_runs(audit_db *db, audit_verify_report *r, char *err, size_t errlen)
{
    sqlite3_stmt *runs = NULL, *chain[3] = {NULL, NULL, NULL};
    int ret = -1;
    char sql[512];
    int len = snprintf(sql, sizeof sql, "SELECT id");
    for (int i = 0; i < AUDIT_RUN_NCOLS; i++)
        len += snprintf(sql + len, sizeof sql - (size_t)len, ", %s", audit_run_cols[i]);
    snprintf(sql + len, sizeof sql - (size_t)len, ", content_hash, prev_hash, row_hash, ended,"
             " files_ok, files_failed, findings, seal_hash FROM runs ORDER BY id");
    if (sqlite3_prepare_v2(db->db, sql, -1, &runs, NULL) != SQLITE_OK)
        goto sqlfail;
    for (int i = 0; i < 3; i++)
        if (sqlite3_prepare_v2(db->db, run_chain_sql[i], -1, &chain[i], NULL) != SQLITE_OK)
            goto sqlfail;
    char prev[65] = AUDIT_ZERO_HASH, content[65], link[65], tails[3][65];
    int64_t *counts[3] = {&r->files, &r->changes, &r->findings};
    const int C = AUDIT_RUN_NCOLS + 1;
    int rc;
    while ((rc = sqlite3_step(runs)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(runs, 0);
        r->runs++;
        audit_h_begin(db, "runs");
        for (int i = 1; i < C; i++)
            audit_h_col(db, runs, i);
        audit_h_end(db, content);
        const char *sc = audit_col_text(runs, C), *sp = audit_col_text(runs, C + 1);
        const char *sr = audit_col_text(runs, C + 2);
        if (!sc || strcmp(sc, content) != 0) {
            ret = broken(r, "runs", id, "row content does not match its hash");
            goto out;
        }
        if (!sp || strcmp(sp, prev) != 0) {
            ret = broken(r, "runs", id, "chain link: the previous row is missing or altered");
            goto out;
        }
        audit_run_link_hash(db, content, prev, link);
        if (!sr || strcmp(sr, link) != 0) {
            ret = broken(r, "runs", id, "row content does not match its hash");
            goto out;
        }
        memcpy(prev, link, sizeof prev);
        for (int i = 0; i < 3; i++) {
            sqlite3_bind_int64(chain[i], 1, id);
            int c = check_chain(db, chain[i], run_chain_table[i], run_chain_link[i],
                                run_chain_n[i], content, tails[i], counts[i], r, err, errlen);
            if (c != 0) {
                ret = c;
                goto out;
            }
        }
        if (sqlite3_column_type(runs, C + 3) == SQLITE_NULL) {
            r->unsealed++;
            continue;
        }
        audit_counts cnt = {sqlite3_column_int64(runs, C + 4), sqlite3_column_int64(runs, C + 5),
                            sqlite3_column_int64(runs, C + 6)};
        char seal[65];
        audit_run_seal_hash(db, content, audit_col_text(runs, C + 3), &cnt, tails[0], tails[1],
                            tails[2], seal);
        const char *ss = audit_col_text(runs, C + 7);
        if (!ss || strcmp(ss, seal) != 0) {
            ret = broken(r, "runs", id, "seal: the run's end or the tail of its rows changed");
            goto out;
        }
    }
    if (rc != SQLITE_DONE)
        goto sqlfail;
    memcpy(r->runs_head, prev, sizeof prev);
    ret = 0;
    goto out;
sqlfail:
    audit_sqlerr(db, err, errlen, "audit verify");
out:
    sqlite3_finalize(runs);
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(chain[i]);
    return ret;
}

/* Rows whose run is gone (a deleted run's children) break no chain that is still walked. */
static int verify_orphans(audit_db *db, audit_verify_report *r, char *err, size_t errlen)
{
    for (int i = 0; i < 3; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT id FROM %s WHERE run_id NOT IN (SELECT id FROM runs) "
                 "ORDER BY id LIMIT 1", run_chain_table[i]);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
            return audit_sqlerr(db, err, errlen, "audit verify");
        int rc = sqlite3_step(st);
        int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW)
            return broken(r, run_chain_table[i], id, "its run is missing");
        if (rc != SQLITE_DONE)
            return audit_sqlerr(db, err, errlen, "audit verify");
    }
    return 0;
}

static int verify_reviews(audit_db *db, audit_verify_report *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT id, finding_id, reviewer, decision, reason, time, "
                           "prev_hash, row_hash FROM reviews ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit verify");
    int c = check_chain(db, st, "reviews", 0, 5, AUDIT_ZERO_HASH, r->reviews_head, &r->reviews,
                        r, err, errlen);
    sqlite3_finalize(st);
    return c;
}

int audit_verify(audit_db *db, audit_verify_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->ok = 1;
    snprintf(r->runs_head, sizeof r->runs_head, "%s", AUDIT_ZERO_HASH);
    snprintf(r->reviews_head, sizeof r->reviews_head, "%s", AUDIT_ZERO_HASH);
    /* One read transaction: a consistent snapshot even while a run is writing. */
    if (audit_flush(db, err, errlen) < 0 || audit_exec(db, "BEGIN", err, errlen) < 0)
        return -1;
    int c = verify_runs(db, r, err, errlen);
    if (c == 0)
        c = verify_orphans(db, r, err, errlen);
    if (c == 0)
        c = verify_reviews(db, r, err, errlen);
    audit_exec(db, "COMMIT", NULL, 0);
    return c < 0 ? -1 : 0;
}

/* ---- merge ---- */

static int step_done(audit_db *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit merge");
    return 0;
}

static int last_hash(audit_db *db, const char *table, char out[65], char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT row_hash FROM main.%s ORDER BY id DESC LIMIT 1", table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit merge");
    snprintf(out, 65, "%s", AUDIT_ZERO_HASH);
    if (sqlite3_step(st) == SQLITE_ROW)
        audit_col_copy(st, 0, out, 65);
    sqlite3_finalize(st);
    return 0;
}

/* Copies one run: the run row re-linked onto dst's runs chain, its rows verbatim. */
static int merge_run(audit_db *db, int64_t src_id, char prev[65], char *err, size_t errlen)
{
    static const char *const copy_sql[] = {
        "DELETE FROM temp.fmap",
        "INSERT INTO main.changes(run_id, file_id, tag_path, action, original_hmac, new_value,"
        " original, prev_hash, row_hash) SELECT ?1, m.new, tag_path, action, original_hmac,"
        " new_value, original, prev_hash, row_hash FROM src.changes c JOIN temp.fmap m"
        " ON m.old=c.file_id WHERE c.run_id=?2 ORDER BY c.id",
        "INSERT INTO main.findings(run_id, file_id, finding_id, file_path, location, detector,"
        " severity, masked_value, message, prev_hash, row_hash) SELECT ?1, m.new, finding_id,"
        " file_path, location, detector, severity, masked_value, message, prev_hash, row_hash"
        " FROM src.findings g LEFT JOIN temp.fmap m ON m.old=g.file_id WHERE g.run_id=?2"
        " ORDER BY g.id",
    };
    sqlite3_stmt *st = NULL, *ins = NULL, *map = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(db->db, "INSERT INTO main.runs(uuid, tool_version, preset, options,"
                           " policy, policy_sha256, key_fingerprint, host, username, arguments,"
                           " audit_originals, resumes, started, ended, files_ok, files_failed,"
                           " findings, content_hash, prev_hash, row_hash, seal_hash)"
                           " SELECT uuid, tool_version, preset, options, policy, policy_sha256,"
                           " key_fingerprint, host, username, arguments, audit_originals,"
                           " resumes, started, ended, files_ok, files_failed, findings,"
                           " content_hash, ?2, ?3, seal_hash FROM src.runs WHERE id=?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    /* The content hash was checked by verifying the shard; the link is dst's. */
    char content[65] = "", link[65];
    {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db->db, "SELECT content_hash FROM src.runs WHERE id=?", -1, &q,
                               NULL) != SQLITE_OK)
            goto sqlfail;
        sqlite3_bind_int64(q, 1, src_id);
        if (sqlite3_step(q) == SQLITE_ROW)
            audit_col_copy(q, 0, content, sizeof content);
        sqlite3_finalize(q);
    }
    audit_run_link_hash(db, content, prev, link);
    sqlite3_bind_int64(st, 1, src_id);
    sqlite3_bind_text(st, 2, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, link, -1, SQLITE_STATIC);
    if (step_done(db, st, err, errlen) < 0)
        goto out;
    int64_t dst_id = sqlite3_last_insert_rowid(db->db);
    memcpy(prev, link, 65);
    if (audit_exec(db, copy_sql[0], err, errlen) < 0)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT id, input_path, input_sha256, output_path,"
                           " output_sha256, output_sop_uid, status, error, prev_hash, row_hash"
                           " FROM src.files WHERE run_id=? ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "INSERT INTO main.files(run_id, input_path, input_sha256,"
                           " output_path, output_sha256, output_sop_uid, status, error,"
                           " prev_hash, row_hash) VALUES(?,?,?,?,?,?,?,?,?,?)", -1, &ins,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "INSERT INTO temp.fmap(old, new) VALUES(?,?)", -1, &map,
                           NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_int64(st, 1, src_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_bind_int64(ins, 1, dst_id);
        for (int i = 1; i <= 9; i++)
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(st, i));
        if (step_done(db, ins, err, errlen) < 0)
            goto out;
        sqlite3_bind_int64(map, 1, sqlite3_column_int64(st, 0));
        sqlite3_bind_int64(map, 2, sqlite3_last_insert_rowid(db->db));
        if (step_done(db, map, err, errlen) < 0)
            goto out;
    }
    if (rc != SQLITE_DONE)
        goto sqlfail;
    for (int i = 1; i < 3; i++) {
        sqlite3_stmt *c;
        if (sqlite3_prepare_v2(db->db, copy_sql[i], -1, &c, NULL) != SQLITE_OK)
            goto sqlfail;
        sqlite3_bind_int64(c, 1, dst_id);
        sqlite3_bind_int64(c, 2, src_id);
        int bad = step_done(db, c, err, errlen);
        sqlite3_finalize(c);
        if (bad < 0)
            goto out;
    }
    ret = 0;
    goto out;
sqlfail:
    audit_sqlerr(db, err, errlen, "audit merge");
out:
    sqlite3_finalize(st);
    sqlite3_finalize(ins);
    sqlite3_finalize(map);
    return ret;
}

static int merge_reviews(audit_db *db, audit_merge_stats *stats, char *err, size_t errlen)
{
    char prev[65];
    if (last_hash(db, "reviews", prev, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = NULL, *ins = NULL;
    int ret = -1, rc;
    if (sqlite3_prepare_v2(db->db, "SELECT finding_id, reviewer, decision, reason, time"
                           " FROM src.reviews s WHERE NOT EXISTS (SELECT 1 FROM main.reviews m"
                           " WHERE m.finding_id=s.finding_id AND m.reviewer=s.reviewer AND"
                           " m.decision=s.decision AND m.reason=s.reason AND m.time=s.time)"
                           " ORDER BY id", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "INSERT INTO main.reviews(finding_id, reviewer, decision,"
                           " reason, time, prev_hash, row_hash) VALUES(?,?,?,?,?,?,?)", -1,
                           &ins, NULL) != SQLITE_OK)
        goto sqlfail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char h[65];
        audit_h_begin(db, "reviews");
        for (int i = 0; i < 5; i++) {
            audit_h_col(db, st, i);
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(st, i));
        }
        audit_h_text(db, prev);
        audit_h_end(db, h);
        sqlite3_bind_text(ins, 6, prev, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 7, h, -1, SQLITE_TRANSIENT);
        if (step_done(db, ins, err, errlen) < 0)
            goto out;
        memcpy(prev, h, sizeof prev);
        stats->reviews_copied++;
    }
    if (rc != SQLITE_DONE)
        goto sqlfail;
    ret = 0;
    goto out;
sqlfail:
    audit_sqlerr(db, err, errlen, "audit merge");
out:
    sqlite3_finalize(st);
    sqlite3_finalize(ins);
    return ret;
}

int audit_merge(audit_db *dst, const char *src_path, audit_merge_stats *stats,
                char *err, size_t errlen)
{
    audit_merge_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (audit_flush(dst, err, errlen) < 0)
        return -1;
    /* Re-linking would launder a tampered shard: only intact shards are merged. */
    audit_db *src;
    audit_verify_report rep;
    if (audit_open(src_path, 0, &src, err, errlen) < 0)
        return -1;
    int rc = audit_verify(src, &rep, err, errlen);
    audit_close(src);
    if (rc < 0)
        return -1;
    if (!rep.ok) {
        audit_seterr(err, errlen, "%s: broken at %s row %lld (%s); not merged", src_path,
                     rep.table, (long long)rep.rowid, rep.reason);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(dst->db, "ATTACH ? AS src", -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(dst, err, errlen, "audit merge");
    sqlite3_bind_text(st, 1, src_path, -1, SQLITE_STATIC);
    int arc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (arc != SQLITE_DONE) {
        char what[512];
        snprintf(what, sizeof what, "cannot read %s", src_path);
        return audit_sqlerr(dst, err, errlen, what);
    }
    int ret = -1;
    if (audit_exec(dst, "BEGIN IMMEDIATE", err, errlen) < 0)
        goto detach;
    char prev[65];
    if (last_hash(dst, "runs", prev, err, errlen) < 0 ||
        audit_exec(dst, "CREATE TEMP TABLE fmap(old INTEGER PRIMARY KEY, new INTEGER)",
                   err, errlen) < 0)
        goto rollback;
    if (sqlite3_prepare_v2(dst->db, "SELECT id, uuid IN (SELECT uuid FROM main.runs)"
                           " FROM src.runs ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
        audit_sqlerr(dst, err, errlen, "audit merge");
        goto rollback;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 1)) {
            stats->runs_skipped++;
            continue;
        }
        if (merge_run(dst, sqlite3_column_int64(st, 0), prev, err, errlen) < 0) {
            sqlite3_finalize(st);
            goto rollback;
        }
        stats->runs_copied++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        audit_sqlerr(dst, err, errlen, "audit merge");
        goto rollback;
    }
    if (merge_reviews(dst, stats, err, errlen) < 0 ||
        audit_exec(dst, "COMMIT", err, errlen) < 0)
        goto rollback;
    ret = 0;
    goto detach;
rollback:
    audit_exec(dst, "ROLLBACK", NULL, 0);
detach:
    audit_exec(dst, "DROP TABLE IF EXISTS temp.fmap", NULL, 0);
    audit_exec(dst, "DETACH src", NULL, 0);
    return ret;
}
