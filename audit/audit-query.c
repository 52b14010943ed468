/* audit/audit-query.c — reading the trail (runs, trace, originals by HMAC, JSON export) and
 * recording reviews of findings. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "audit/audit-int.h"

#define RUN_COLS "r.id, r.uuid, r.tool_version, r.preset, r.options, r.policy_sha256," \
    " r.key_fingerprint, r.host, r.username, r.arguments, r.started, r.ended, r.resumes," \
    " r.audit_originals, r.files_ok, r.files_failed, r.findings"
#define RUN_NCOLS 17

static void fill_run(sqlite3_stmt *st, int o, audit_run_row *r)
{
    r->id = sqlite3_column_int64(st, o);
    r->uuid = audit_col_text(st, o + 1);
    r->tool_version = audit_col_text(st, o + 2);
    r->preset = audit_col_text(st, o + 3);
    r->options = audit_col_text(st, o + 4);
    r->policy_sha256 = audit_col_text(st, o + 5);
    r->key_fingerprint = audit_col_text(st, o + 6);
    r->host = audit_col_text(st, o + 7);
    r->user = audit_col_text(st, o + 8);
    r->arguments = audit_col_text(st, o + 9);
    r->started = audit_col_text(st, o + 10);
    r->ended = audit_col_text(st, o + 11);
    r->resumes = audit_col_text(st, o + 12);
    r->audit_originals = sqlite3_column_int(st, o + 13);
    r->counts.files_ok = sqlite3_column_int64(st, o + 14);
    r->counts.files_failed = sqlite3_column_int64(st, o + 15);
    r->counts.findings = sqlite3_column_int64(st, o + 16);
}

static int walk_end(audit_db *db, sqlite3_stmt *st, int rc, char *err, size_t errlen)
{
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return audit_sqlerr(db, err, errlen, "audit trail");
    return 0;
}

int audit_runs_list(audit_db *db, int (*cb)(void *ctx, const audit_run_row *run), void *ctx,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT " RUN_COLS " FROM runs r ORDER BY r.id", -1, &st,
                           NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        audit_run_row r;
        fill_run(st, 0, &r);
        if (cb(ctx, &r))
            break;
    }
    return walk_end(db, st, rc, err, errlen);
}

static int trace_changes(audit_db *db, int64_t file_id, const audit_trace_cb *cb, void *ctx,
                         char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT tag_path, action, original_hmac, new_value, original"
                           " FROM changes WHERE file_id=? ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_int64(st, 1, file_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        audit_change_row c = {audit_col_text(st, 0), audit_col_text(st, 1),
                              audit_col_text(st, 2), audit_col_text(st, 3),
                              audit_col_text(st, 4)};
        if (cb->change(ctx, &c))
            break;
    }
    return walk_end(db, st, rc, err, errlen);
}

int audit_trace(audit_db *db, const char *what, const audit_trace_cb *cb, void *ctx,
                int *matches, char *err, size_t errlen)
{
    *matches = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT f.id, f.run_id, f.input_path, f.input_sha256,"
                           " f.output_path, f.output_sha256, f.output_sop_uid, f.status,"
                           " f.error, " RUN_COLS " FROM files f JOIN runs r ON r.id=f.run_id"
                           " WHERE f.output_path=?1 OR f.output_sop_uid=?1 OR f.input_path=?1"
                           " ORDER BY f.id", -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        audit_file_row f = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                            audit_col_text(st, 2), audit_col_text(st, 3), audit_col_text(st, 4),
                            audit_col_text(st, 5), audit_col_text(st, 6), audit_col_text(st, 7),
                            audit_col_text(st, 8)};
        audit_run_row r;
        fill_run(st, 9, &r);
        (*matches)++;
        if (cb->file && cb->file(ctx, &r, &f))
            break;
        if (cb->change && trace_changes(db, f.id, cb, ctx, err, errlen) < 0) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    return walk_end(db, st, rc, err, errlen);
}

int audit_input_of(audit_db *db, const char *output, char **input_path, char *err,
                   size_t errlen)
{
    *input_path = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT input_path FROM files"
                           " WHERE (output_path=?1 OR output_sop_uid=?1) AND status='ok'"
                           " AND input_path IS NOT NULL ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
    return audit_first_row(db, st, input_path, err, errlen) < 0 ? -1 : 0;
}

int audit_find_original_uid(audit_db *db, const char *hmac_hex,
                            int (*cb)(void *ctx, const char *tag_path, const char *new_value,
                                      int64_t nfiles),
                            void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT tag_path, new_value, count(DISTINCT file_id)"
                           " FROM changes WHERE original_hmac=? AND action='U'"
                           " GROUP BY tag_path, new_value"
                           " ORDER BY tag_path, new_value", -1, &st, NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_text(st, 1, hmac_hex, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, audit_col_text(st, 0), audit_col_text(st, 1), sqlite3_column_int64(st, 2)))
            break;
    return walk_end(db, st, rc, err, errlen);
}

/* ---- JSON export ---- */

/* One object from the current row, named by column; `skip` names a column left out. */
static cJSON *row_json(sqlite3_stmt *st, const char *skip)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        const char *name = sqlite3_column_name(st, i);
        if (skip && strcmp(name, skip) == 0)
            continue;
        cJSON *v;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL:
            v = cJSON_CreateNull();
            break;
        case SQLITE_INTEGER:
            v = cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
            break;
        default:
            v = cJSON_CreateString(audit_col_text(st, i));
        }
        if (!v || !cJSON_AddItemToObject(o, name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* Prints obj without its closing brace, so that arrays can follow it; frees obj. */
static int print_open(FILE *out, cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!s)
        return -1;
    size_t n = strlen(s);
    fwrite(s, 1, n - 1, out);
    cJSON_free(s);
    return 0;
}

/* Streams every row of st as a JSON array named `name`; rows of `sub` (bound to each row's
 * first column) are nested under sub_name. */
static int export_rows(audit_db *db, FILE *out, const char *name, sqlite3_stmt *st,
                       const char *skip, sqlite3_stmt *sub, const char *sub_name,
                       const char *sub_skip, char *err, size_t errlen)
{
    fprintf(out, ",\"%s\":[", name);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            fputc(',', out);
        cJSON *o = row_json(st, skip);
        if (!sub) {
            char *s = o ? cJSON_PrintUnformatted(o) : NULL;
            cJSON_Delete(o);
            if (!s)
                goto nomem;
            fputs(s, out);
            cJSON_free(s);
            continue;
        }
        cJSON *arr = cJSON_CreateArray();
        if (!o || !arr || !cJSON_AddItemToObject(o, sub_name, arr)) {
            cJSON_Delete(arr);
            cJSON_Delete(o);
            goto nomem;
        }
        sqlite3_bind_int64(sub, 1, sqlite3_column_int64(st, 0));
        int src;
        while ((src = sqlite3_step(sub)) == SQLITE_ROW) {
            cJSON *c = row_json(sub, sub_skip);
            if (!c || !cJSON_AddItemToArray(arr, c)) {
                cJSON_Delete(c);
                cJSON_Delete(o);
                sqlite3_reset(sub);
                goto nomem;
            }
        }
        sqlite3_reset(sub);
        if (src != SQLITE_DONE) {
            cJSON_Delete(o);
            return audit_sqlerr(db, err, errlen, "audit export");
        }
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!s)
            goto nomem;
        fputs(s, out);
        cJSON_free(s);
    }
    sqlite3_reset(st);
    fputc(']', out);
    if (rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit export");
    return 0;
nomem:
    sqlite3_reset(st);
    audit_seterr(err, errlen, "out of memory");
    return -1;
}

int audit_export_json(audit_db *db, FILE *out, int with_originals, char *err, size_t errlen)
{
    static const char *const sql[] = {
        /* findings is renamed: the run object also holds the findings array. */
        "SELECT id, uuid, tool_version, preset, options, policy, policy_sha256,"
        " key_fingerprint, host, username, arguments, audit_originals, resumes, started, ended,"
        " files_ok, files_failed, findings AS findings_count, content_hash, prev_hash, row_hash,"
        " seal_hash FROM runs ORDER BY id",
        "SELECT * FROM files WHERE run_id=? ORDER BY id",
        "SELECT id, tag_path, action, original_hmac, new_value, original, prev_hash, row_hash"
        " FROM changes WHERE file_id=? ORDER BY id",
        "SELECT * FROM findings WHERE run_id=? ORDER BY id",
        "SELECT * FROM reviews ORDER BY id",
    };
    enum { NSQL = sizeof sql / sizeof sql[0] };
    sqlite3_stmt *st[NSQL] = {NULL};
    int ret = -1;
    if (audit_flush(db, err, errlen) < 0 || audit_exec(db, "BEGIN", err, errlen) < 0)
        return -1;
    for (int i = 0; i < NSQL; i++)
        if (sqlite3_prepare_v2(db->db, sql[i], -1, &st[i], NULL) != SQLITE_OK) {
            audit_sqlerr(db, err, errlen, "audit export");
            goto out;
        }
    const char *orig_skip = with_originals ? NULL : "original";
    fprintf(out, "{\"format\":\"deidtk-audit\",\"schema\":%d,\"tool_version\":\"%s\"",
            AUDIT_SCHEMA_VERSION, PACKAGE_VERSION);
    fputs(",\"runs\":[", out);
    int rc, n = 0;
    while ((rc = sqlite3_step(st[0])) == SQLITE_ROW) {
        if (n++)
            fputs(",\n", out);
        if (print_open(out, row_json(st[0], NULL)) < 0) {
            audit_seterr(err, errlen, "out of memory");
            goto out;
        }
        int64_t run_id = sqlite3_column_int64(st[0], 0);
        sqlite3_bind_int64(st[1], 1, run_id);
        sqlite3_bind_int64(st[3], 1, run_id);
        if (export_rows(db, out, "files", st[1], NULL, st[2], "changes", orig_skip, err,
                        errlen) < 0 ||
            export_rows(db, out, "findings", st[3], NULL, NULL, NULL, NULL, err, errlen) < 0)
            goto out;
        fputc('}', out);
    }
    if (rc != SQLITE_DONE) {
        audit_sqlerr(db, err, errlen, "audit export");
        goto out;
    }
    fputc(']', out);
    if (export_rows(db, out, "reviews", st[4], NULL, NULL, NULL, NULL, err, errlen) < 0)
        goto out;
    fputs("}\n", out);
    if (fflush(out) != 0 || ferror(out)) {
        audit_seterr(err, errlen, "audit export: write error");
        goto out;
    }
    ret = 0;
out:
    for (int i = 0; i < NSQL; i++)
        sqlite3_finalize(st[i]);
    audit_exec(db, "COMMIT", NULL, 0);
    return ret;
}

/* ---- reviews ---- */

int audit_reviews_add(audit_db *db, const char *const *finding_ids, size_t n,
                      const char *reviewer, const char *decision, const char *reason,
                      int in_trail, char *err, size_t errlen)
{
    if (!decision || (strcmp(decision, "waive") != 0 && strcmp(decision, "fix") != 0)) {
        audit_seterr(err, errlen, "review decision must be 'waive' or 'fix'");
        return -1;
    }
    if (n == 0 || !reviewer || !*reviewer || !reason || !*reason) {
        audit_seterr(err, errlen, "a review needs a finding, a reviewer and a reason");
        return -1;
    }
    if (audit_flush(db, err, errlen) < 0 || audit_exec(db, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    sqlite3_stmt *known = NULL, *last = NULL, *ins = NULL;
    char prev[65] = AUDIT_ZERO_HASH, now[32], h[65];
    if (sqlite3_prepare_v2(db->db, "SELECT EXISTS(SELECT 1 FROM findings WHERE finding_id=?1)",
                           -1, &known, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "SELECT row_hash FROM reviews ORDER BY id DESC LIMIT 1", -1,
                           &last, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->db, "INSERT INTO reviews(finding_id, reviewer, decision, reason,"
                           " time, prev_hash, row_hash) VALUES(?,?,?,?,?,?,?)", -1, &ins,
                           NULL) != SQLITE_OK)
        goto sqlfail;
    if (sqlite3_step(last) == SQLITE_ROW && sqlite3_column_type(last, 0) != SQLITE_NULL)
        audit_col_copy(last, 0, prev, sizeof prev);
    /* Every finding first: a list with one unknown id records nothing. */
    for (size_t k = 0; in_trail && k < n; k++) {
        sqlite3_reset(known);
        sqlite3_bind_text(known, 1, finding_ids[k], -1, SQLITE_STATIC);
        if (sqlite3_step(known) != SQLITE_ROW || !sqlite3_column_int(known, 0)) {
            sqlite3_finalize(known);
            sqlite3_finalize(last);
            sqlite3_finalize(ins);
            audit_exec(db, "ROLLBACK", NULL, 0);
            audit_seterr(err, errlen, "no finding %s in the audit trail", finding_ids[k]);
            return -1;
        }
    }
    audit_now_utc(now);
    for (size_t k = 0; k < n; k++) {
        const char *v[5] = {finding_ids[k], reviewer, decision, reason, now};
        audit_h_begin(db, "reviews");
        for (int i = 0; i < 5; i++)
            audit_h_text(db, v[i]);
        audit_h_text(db, prev);
        audit_h_end(db, h);
        sqlite3_reset(ins);
        for (int i = 0; i < 5; i++)
            sqlite3_bind_text(ins, i + 1, v[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, prev, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, h, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto sqlfail;
        memcpy(prev, h, sizeof prev);
    }
    sqlite3_finalize(known);
    sqlite3_finalize(last);
    sqlite3_finalize(ins);
    return audit_exec(db, "COMMIT", err, errlen);
sqlfail:
    sqlite3_finalize(known);
    sqlite3_finalize(last);
    sqlite3_finalize(ins);
    return audit_abort(db, err, errlen, "audit review");
}

int audit_waived(audit_db *db, const char *finding_id, char **reviewer, char **reason,
                 char *err, size_t errlen)
{
    if (reviewer)
        *reviewer = NULL;
    if (reason)
        *reason = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT decision, reviewer, reason FROM reviews"
                           " WHERE finding_id=? ORDER BY id DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK)
        return audit_sqlerr(db, err, errlen, "audit trail");
    sqlite3_bind_text(st, 1, finding_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), waived = 0;
    if (rc == SQLITE_ROW && strcmp(audit_col_text(st, 0), "waive") != 0)
        waived = 2;
    else if (rc == SQLITE_ROW) {
        waived = 1;
        if (reviewer)
            *reviewer = strdup(audit_col_text(st, 1));
        if (reason)
            *reason = strdup(audit_col_text(st, 2));
        if ((reviewer && !*reviewer) || (reason && !*reason)) {
            sqlite3_finalize(st);
            if (reviewer) {
                free(*reviewer);
                *reviewer = NULL;
            }
            if (reason) {
                free(*reason);
                *reason = NULL;
            }
            audit_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return audit_sqlerr(db, err, errlen, "audit trail");
    return waived;
}
