/* tests/unit/test_audit.c — the audit trail: chains, tampering, merge, reviews, queries,
 * resume, and a writer killed mid-run.
 * `test_audit --write-sample DB` writes a small trail for tests/cli/audit.sh. */
#include "config.h"
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "tests/unit/testutil.h"
#include <sqlite3.h>
#include <openssl/evp.h>
#include <cjson/cJSON.h>
#include "audit/audit.h"

static char err[512];

/* One reviewer's decision on one finding. */
static int review1(audit_db *db, const char *id, const char *who, const char *decision,
                   const char *why)
{
    return audit_reviews_add(db, &id, 1, who, decision, why, 1, err, sizeof err);
}

static void tmppath(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tu_dir, name);
}

/* A run of nfiles files with nchanges changes and one finding each. Changes of file i replace
 * "orig-UID-<tag>" (hmac "h<tag>") by "2.25.<seed>.<tag>" — the same for every file, as a
 * Study UID would be. */
static int64_t add_run(audit_db *db, const char *uuid, const char *key, int nfiles,
                       int nchanges, int originals, int end)
{
    audit_run_info ri = {.uuid = uuid, .preset = "tcia", .options = "basic,rdmod",
                         .policy_text = "{\"preset\":\"tcia\"}", .key_fingerprint = key,
                         .host = "testhost", .user = "tester", .arguments = "run in -o out",
                         .audit_originals = originals};
    int64_t run_id = 0;
    assert_int_equal(audit_run_begin(db, &ri, &run_id, err, sizeof err), 0);
    for (int i = 0; i < nfiles; i++) {
        char in[64], out[64], sop[64], insha[65], outsha[65];
        snprintf(in, sizeof in, "in/%s/%d.dcm", uuid, i);
        snprintf(out, sizeof out, "out/%s/%d.dcm", uuid, i);
        snprintf(sop, sizeof sop, "2.25.%d%d", (int)run_id, i + 1000);
        audit_sha256_hex(in, strlen(in), insha);
        audit_sha256_hex(out, strlen(out), outsha);
        audit_file_info fi = {in, insha, out, outsha, sop, AUDIT_FILE_OK, NULL};
        int64_t fid;
        assert_int_equal(audit_file_add(db, run_id, &fi, &fid, err, sizeof err), 0);
        for (int c = 0; c < nchanges; c++) {
            char tag[32], hm[32], nv[32], orig[32];
            snprintf(tag, sizeof tag, "(0020,%04x)", c);
            snprintf(hm, sizeof hm, "h%d", c);
            snprintf(nv, sizeof nv, "2.25.%d", c);
            snprintf(orig, sizeof orig, "orig-UID-%d", c);
            assert_int_equal(audit_change_add(db, fid, tag, "U", hm, nv, orig, err, sizeof err),
                             0);
        }
        verify_findings fs = {0};
        assert_int_equal(verify_findings_add(&fs, out, "(0010,0010)", "name", SEV_PHI,
                                             "John Smith", "a name"), 0);
        assert_int_equal(audit_finding_add(db, run_id, fid, &fs.v[0], err, sizeof err), 0);
        verify_findings_clear(&fs);
        assert_int_equal(audit_file_commit(db, err, sizeof err), 0);
    }
    if (end)
        assert_int_equal(audit_run_end(db, run_id, NULL, err, sizeof err), 0);
    return run_id;
}

static audit_db *open_new(const char *name)
{
    char path[320];
    tmppath(path, sizeof path, name);
    unlink(path);
    audit_db *db = NULL;
    assert_int_equal(audit_open(path, 1, &db, err, sizeof err), 0);
    return db;
}

static void raw_exec(const char *name, const char *sql)
{
    char path[320];
    tmppath(path, sizeof path, name);
    sqlite3 *s;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(s, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(s);
}

static audit_verify_report verify_db(audit_db *db)
{
    audit_verify_report r;
    assert_int_equal(audit_verify(db, &r, err, sizeof err), 0);
    return r;
}

static void test_create_verify(void **state)
{
    (void)state;
    audit_db *db = open_new("a.sqlite");
    add_run(db, "run-a", "kf1", 3, 10, 0, 1);
    audit_verify_report r = verify_db(db);
    assert_true(r.ok);
    assert_int_equal(r.runs, 1);
    assert_int_equal(r.files, 3);
    assert_int_equal(r.changes, 30);
    assert_int_equal(r.findings, 3);
    assert_int_equal(r.unsealed, 0);
    assert_int_equal(strlen(r.runs_head), 64);
    audit_close(db);

    char path[320];
    struct stat sb;
    tmppath(path, sizeof path, "a.sqlite");
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* Reopening an existing trail needs no create; a missing one is not made without it. */
    assert_int_equal(audit_open(path, 0, &db, err, sizeof err), 0);
    audit_close(db);
    tmppath(path, sizeof path, "missing.sqlite");
    assert_int_not_equal(audit_open(path, 0, &db, err, sizeof err), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    /* Another SQLite database is not taken for a trail. */
    raw_exec("other.sqlite", "CREATE TABLE t(x)");
    tmppath(path, sizeof path, "other.sqlite");
    assert_int_not_equal(audit_open(path, 1, &db, err, sizeof err), 0);
    assert_non_null(strstr(err, "not a deidtk audit trail"));
}

static void expect_broken(const char *name, const char *sql, const char *table, int64_t rowid)
{
    audit_db *db = open_new(name);
    add_run(db, "run-1", "kf1", 2, 5, 0, 1);
    add_run(db, "run-2", "kf1", 2, 5, 0, 1);
    verify_findings fs = {0};
    verify_findings_add(&fs, "out/run-1/0.dcm", "(0010,0010)", "name", SEV_PHI, "J", "m");
    assert_int_equal(review1(db, fs.v[0].id, "Ann", "waive", "ok"), 0);
    assert_int_equal(review1(db, fs.v[0].id, "Bob", "fix", "no"), 0);
    verify_findings_clear(&fs);
    assert_true(verify_db(db).ok);
    audit_close(db);
    raw_exec(name, sql);
    char path[320];
    tmppath(path, sizeof path, name);
    assert_int_equal(audit_open(path, 0, &db, err, sizeof err), 0);
    audit_verify_report r = verify_db(db);
    assert_false(r.ok);
    assert_string_equal(r.table, table);
    assert_int_equal(r.rowid, rowid);
    audit_close(db);
}

/* Each file of add_run has 5 changes: run-2's changes are rows 11..20. */
static void test_tamper_update_change(void **state)
{
    (void)state;
    expect_broken("t1.sqlite", "DROP TRIGGER changes_no_update;"
                  "UPDATE changes SET new_value='1.2.3' WHERE id=7", "changes", 7);
}

static void test_tamper_delete_change(void **state)
{
    (void)state;
    /* The row after the deleted one no longer links. */
    expect_broken("t2.sqlite", "DROP TRIGGER changes_no_delete;"
                  "DELETE FROM changes WHERE id=13", "changes", 14);
}

static void test_tamper_delete_tail(void **state)
{
    (void)state;
    /* The last change of run 1 breaks no link, but the run's seal. */
    expect_broken("t3.sqlite", "DROP TRIGGER changes_no_delete;"
                  "DELETE FROM changes WHERE id=10", "runs", 1);
}

static void test_tamper_file_and_run(void **state)
{
    (void)state;
    expect_broken("t4.sqlite", "DROP TRIGGER files_no_update;"
                  "UPDATE files SET input_sha256='00' WHERE id=3", "files", 3);
    expect_broken("t5.sqlite", "DROP TRIGGER runs_end_once;"
                  "UPDATE runs SET key_fingerprint='other' WHERE id=2", "runs", 2);
    expect_broken("t6.sqlite", "DROP TRIGGER runs_end_once;"
                  "UPDATE runs SET files_ok=99 WHERE id=1", "runs", 1);
    /* A whole run deleted with its rows: the next run no longer links. */
    expect_broken("t7.sqlite", "DROP TRIGGER runs_no_delete; DROP TRIGGER files_no_delete;"
                  "DROP TRIGGER changes_no_delete; DROP TRIGGER findings_no_delete;"
                  "DELETE FROM changes WHERE run_id=1; DELETE FROM findings WHERE run_id=1;"
                  "DELETE FROM files WHERE run_id=1; DELETE FROM runs WHERE id=1", "runs", 2);
    expect_broken("t8.sqlite", "DROP TRIGGER findings_no_update;"
                  "UPDATE findings SET severity='info' WHERE id=2", "findings", 2);
    expect_broken("t9.sqlite", "DROP TRIGGER reviews_no_update;"
                  "UPDATE reviews SET decision='waive' WHERE id=2", "reviews", 2);
    /* A change moved to another file of the same run. */
    expect_broken("t10.sqlite", "DROP TRIGGER changes_no_update;"
                  "UPDATE changes SET file_id=2 WHERE id=1", "changes", 1);
}

static void test_triggers_refuse_edits(void **state)
{
    (void)state;
    audit_db *db = open_new("trig.sqlite");
    add_run(db, "run-t", "kf", 1, 2, 0, 1);
    audit_close(db);
    char path[320];
    tmppath(path, sizeof path, "trig.sqlite");
    sqlite3 *s;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(s, "UPDATE changes SET new_value='x'", 0, 0, 0), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(s, "DELETE FROM files", 0, 0, 0), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(s, "UPDATE runs SET ended='x'", 0, 0, 0), SQLITE_OK);
    sqlite3_close(s);
}

static void test_merge(void **state)
{
    (void)state;
    char shard[3][320];
    for (int i = 0; i < 3; i++) {
        char name[32], uuid[32];
        snprintf(name, sizeof name, "shard%d.sqlite", i);
        snprintf(uuid, sizeof uuid, "shard-run-%d", i);
        tmppath(shard[i], sizeof shard[i], name);
        audit_db *s = open_new(name);
        add_run(s, uuid, "kf1", 2 + i, 5, 0, 1);
        if (i == 1) {
            verify_findings fs = {0};
            verify_findings_add(&fs, "out/shard-run-1/0.dcm", "(0010,0010)", "name", SEV_PHI,
                                "J", "m");
            assert_int_equal(review1(s, fs.v[0].id, "Ann", "waive", "burned-in "
                                              "scanner label checked"), 0);
            verify_findings_clear(&fs);
        }
        audit_close(s);
    }
    audit_db *dst = open_new("merged.sqlite");
    add_run(dst, "local-run", "kf1", 1, 5, 0, 1);
    audit_merge_stats st;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(audit_merge(dst, shard[i], &st, err, sizeof err), 0);
        assert_int_equal(st.runs_copied, 1);
    }
    audit_verify_report r = verify_db(dst);
    assert_true(r.ok);
    assert_int_equal(r.runs, 4);
    assert_int_equal(r.files, 1 + 2 + 3 + 4);
    assert_int_equal(r.changes, 5 * 10);
    assert_int_equal(r.findings, 10);
    assert_int_equal(r.reviews, 1);
    /* Merging again copies nothing. */
    assert_int_equal(audit_merge(dst, shard[1], &st, err, sizeof err), 0);
    assert_int_equal(st.runs_copied, 0);
    assert_int_equal(st.runs_skipped, 1);
    assert_int_equal(st.reviews_copied, 0);
    r = verify_db(dst);
    assert_true(r.ok);
    assert_int_equal(r.runs, 4);
    /* Traced through the merged trail, a shard's file still has its changes. */
    int matches = 0;
    audit_trace_cb cb = {NULL, NULL};
    assert_int_equal(audit_trace(dst, "out/shard-run-2/3.dcm", &cb, NULL, &matches, err,
                                 sizeof err), 0);
    assert_int_equal(matches, 1);
    /* A tampered shard is refused and leaves dst as it was. */
    audit_db *s = open_new("bad.sqlite");
    add_run(s, "bad-run", "kf1", 1, 3, 0, 1);
    audit_close(s);
    raw_exec("bad.sqlite", "DROP TRIGGER changes_no_update; UPDATE changes SET action='K'");
    char bad[320];
    tmppath(bad, sizeof bad, "bad.sqlite");
    assert_int_not_equal(audit_merge(dst, bad, &st, err, sizeof err), 0);
    assert_non_null(strstr(err, "not merged"));
    r = verify_db(dst);
    assert_true(r.ok);
    assert_int_equal(r.runs, 4);
    audit_close(dst);
}

static void test_review_waive(void **state)
{
    (void)state;
    audit_db *db = open_new("rev.sqlite");
    add_run(db, "run-r", "kf1", 1, 1, 0, 1);
    verify_findings fs = {0};
    verify_findings_add(&fs, "out/run-r/0.dcm", "(0010,0010)", "name", SEV_PHI, "J", "m");
    const char *id = fs.v[0].id;
    char *who = NULL, *why = NULL;
    assert_int_equal(audit_waived(db, id, &who, &why, err, sizeof err), 0);
    assert_int_not_equal(review1(db, "ffffffffffffffff", "Ann", "waive", "x"), 0);
    assert_int_not_equal(review1(db, id, "Ann", "ignore", "x"), 0);
    assert_int_not_equal(review1(db, id, "Ann", "waive", ""), 0);
    assert_int_equal(review1(db, id, "Ann", "waive", "synthetic name"), 0);
    assert_int_equal(audit_waived(db, id, &who, &why, err, sizeof err), 1);
    assert_string_equal(who, "Ann");
    assert_string_equal(why, "synthetic name");
    free(who);
    free(why);
    /* The latest decision counts: "fix" (2) is not "never reviewed" (0). */
    assert_int_equal(review1(db, id, "Bob", "fix", "real name after all"), 0);
    assert_int_equal(audit_waived(db, id, &who, &why, err, sizeof err), 2);
    assert_null(who);
    assert_null(why);
    audit_verify_report r = verify_db(db);
    assert_true(r.ok);
    assert_int_equal(r.reviews, 2);
    verify_findings_clear(&fs);
    audit_close(db);
}

/* Several findings reviewed at once: all of them, or, when one is not in the trail, none. */
static void test_reviews_all_or_nothing(void **state)
{
    (void)state;
    audit_db *db = open_new("revs.sqlite");
    add_run(db, "run-m", "kf1", 2, 1, 0, 1);
    verify_findings fs = {0};
    verify_findings_add(&fs, "out/run-m/0.dcm", "(0010,0010)", "name", SEV_PHI, "J", "m");
    verify_findings_add(&fs, "out/run-m/1.dcm", "(0010,0010)", "name", SEV_PHI, "J", "m");
    const char *ids[3] = {fs.v[0].id, "ffffffffffffffff", fs.v[1].id};
    assert_int_not_equal(audit_reviews_add(db, ids, 3, "Ann", "waive", "checked", 1, err,
                                           sizeof err), 0);
    assert_non_null(strstr(err, "ffffffffffffffff"));
    assert_int_equal(audit_waived(db, fs.v[0].id, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(verify_db(db).reviews, 0);
    ids[1] = fs.v[1].id;
    assert_int_equal(audit_reviews_add(db, ids, 2, "Ann", "waive", "checked", 1, err, sizeof err),
                     0);
    assert_int_equal(audit_waived(db, fs.v[0].id, NULL, NULL, err, sizeof err), 1);
    assert_int_equal(audit_waived(db, fs.v[1].id, NULL, NULL, err, sizeof err), 1);
    audit_verify_report r = verify_db(db);
    assert_true(r.ok);
    assert_int_equal(r.reviews, 2);
    verify_findings_clear(&fs);
    audit_close(db);
}

struct trace_acc {
    int files, changes, originals;
    char input_sha[65], policy[65];
};

static int on_file(void *ctx, const audit_run_row *run, const audit_file_row *f)
{
    struct trace_acc *a = ctx;
    a->files++;
    snprintf(a->input_sha, sizeof a->input_sha, "%s", f->input_sha256);
    snprintf(a->policy, sizeof a->policy, "%s", run->policy_sha256);
    return 0;
}

static int on_change(void *ctx, const audit_change_row *c)
{
    struct trace_acc *a = ctx;
    a->changes++;
    a->originals += c->original != NULL;
    return 0;
}

struct find_acc {
    int n;
    int64_t nfiles;
    char value[64];
};

static int on_found(void *ctx, const char *tag, const char *value, int64_t nfiles)
{
    struct find_acc *a = ctx;
    (void)tag;
    a->n++;
    a->nfiles = nfiles;
    snprintf(a->value, sizeof a->value, "%s", value);
    return 0;
}

static void test_trace_find(void **state)
{
    (void)state;
    audit_db *db = open_new("trace.sqlite");
    int64_t run = add_run(db, "run-x", "kf1", 3, 4, 0, 1);
    add_run(db, "run-o", "kf1", 1, 4, 1, 1);
    audit_trace_cb cb = {on_file, on_change};
    struct trace_acc a = {0};
    int matches = 0;
    assert_int_equal(audit_trace(db, "out/run-x/1.dcm", &cb, &a, &matches, err, sizeof err), 0);
    assert_int_equal(matches, 1);
    assert_int_equal(a.changes, 4);
    assert_int_equal(a.originals, 0);
    char want[65];
    audit_sha256_hex("in/run-x/1.dcm", strlen("in/run-x/1.dcm"), want);
    assert_string_equal(a.input_sha, want);
    audit_sha256_hex("{\"preset\":\"tcia\"}", strlen("{\"preset\":\"tcia\"}"), want);
    assert_string_equal(a.policy, want);
    /* By SOP Instance UID; and the run that stored originals has them. */
    char sop[64];
    snprintf(sop, sizeof sop, "2.25.%d%d", (int)run, 1002);
    memset(&a, 0, sizeof a);
    assert_int_equal(audit_trace(db, sop, &cb, &a, &matches, err, sizeof err), 0);
    assert_int_equal(matches, 1);
    memset(&a, 0, sizeof a);
    assert_int_equal(audit_trace(db, "out/run-o/0.dcm", &cb, &a, &matches, err, sizeof err), 0);
    assert_int_equal(a.originals, 4);
    assert_int_equal(audit_trace(db, "nothing", &cb, &a, &matches, err, sizeof err), 0);
    assert_int_equal(matches, 0);
    /* The original of an output, by its path or its SOP Instance UID; an input path is not
     * an output, and has none. */
    char *input = NULL;
    assert_int_equal(audit_input_of(db, "out/run-x/1.dcm", &input, err, sizeof err), 0);
    assert_non_null(input);
    assert_string_equal(input, "in/run-x/1.dcm");
    free(input);
    assert_int_equal(audit_input_of(db, sop, &input, err, sizeof err), 0);
    assert_non_null(input);
    assert_string_equal(input, "in/run-x/2.dcm");
    free(input);
    assert_int_equal(audit_input_of(db, "in/run-x/1.dcm", &input, err, sizeof err), 0);
    assert_null(input);

    struct find_acc f = {0};
    assert_int_equal(audit_find_original_uid(db, "h2", on_found, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.nfiles, 4);
    assert_string_equal(f.value, "2.25.2");
    memset(&f, 0, sizeof f);
    assert_int_equal(audit_find_original_uid(db, "nope", on_found, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 0);
    audit_close(db);
}

struct runs_acc {
    int n;
    char resumes[64];
};

static int on_run(void *ctx, const audit_run_row *r)
{
    struct runs_acc *a = ctx;
    a->n++;
    snprintf(a->resumes, sizeof a->resumes, "%s", r->resumes ? r->resumes : "");
    return 0;
}

static void test_resume(void **state)
{
    (void)state;
    audit_db *db = open_new("resume.sqlite");
    add_run(db, "first", "kf1", 2, 3, 0, 0);   /* killed before its end */
    char sha[65], *out = NULL;
    const char *pol = "{\"preset\":\"tcia\"}";
    char polsha[65];
    audit_sha256_hex(pol, strlen(pol), polsha);
    audit_sha256_hex("in/first/1.dcm", strlen("in/first/1.dcm"), sha);
    assert_int_equal(audit_file_done(db, sha, polsha, "kf1", &out, err, sizeof err), 1);
    assert_string_equal(out, "out/first/1.dcm");
    free(out);
    assert_int_equal(audit_file_done(db, sha, polsha, "kf2", &out, err, sizeof err), 0);
    assert_null(out);
    assert_int_equal(audit_file_done(db, sha, "00", "kf1", NULL, err, sizeof err), 0);
    audit_sha256_hex("in/first/7.dcm", strlen("in/first/7.dcm"), sha);
    assert_int_equal(audit_file_done(db, sha, polsha, "kf1", NULL, err, sizeof err), 0);
    /* The rerun is a new run that names the unfinished one. */
    add_run(db, "second", "kf1", 1, 3, 0, 1);
    struct runs_acc a = {0};
    assert_int_equal(audit_runs_list(db, on_run, &a, err, sizeof err), 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.resumes, "first");
    audit_verify_report r = verify_db(db);
    assert_true(r.ok);
    assert_int_equal(r.unsealed, 1);
    audit_close(db);
}

static void test_writer_rules(void **state)
{
    (void)state;
    audit_db *db = open_new("rules.sqlite");
    int64_t run = add_run(db, "r", "kf1", 1, 1, 0, 0);
    assert_int_not_equal(audit_change_add(db, 1, "(0010,0010)", "Z", NULL, "", NULL, err,
                                          sizeof err), 0);
    audit_file_info fi = {"a", "b", "c", "d", "e", AUDIT_FILE_ERROR, "unreadable"};
    int64_t fid;
    assert_int_equal(audit_file_add(db, run, &fi, &fid, err, sizeof err), 0);
    assert_int_not_equal(audit_file_add(db, run, &fi, &fid, err, sizeof err), 0);
    audit_file_abort(db);
    assert_int_not_equal(audit_file_add(db, run + 1, &fi, &fid, err, sizeof err), 0);
    assert_int_equal(audit_run_end(db, run, NULL, err, sizeof err), 0);
    assert_int_not_equal(audit_run_end(db, run, NULL, err, sizeof err), 0);
    assert_int_not_equal(audit_file_add(db, run, &fi, &fid, err, sizeof err), 0);
    struct runs_acc a = {0};
    audit_runs_list(db, on_run, &a, err, sizeof err);
    assert_int_equal(a.n, 1);
    assert_true(verify_db(db).ok);
    audit_close(db);
}

static void test_export_json(void **state)
{
    (void)state;
    audit_db *db = open_new("export.sqlite");
    add_run(db, "run-e", "kf1", 2, 3, 1, 1);
    char path[320];
    tmppath(path, sizeof path, "export.json");
    for (int with = 0; with < 2; with++) {
        FILE *f = fopen(path, "w+");
        assert_non_null(f);
        assert_int_equal(audit_export_json(db, f, with, err, sizeof err), 0);
        long n = ftell(f);
        rewind(f);
        char *buf = malloc((size_t)n + 1);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        buf[n] = '\0';
        fclose(f);
        cJSON *j = cJSON_Parse(buf);
        assert_non_null(j);
        cJSON *runs = cJSON_GetObjectItem(j, "runs");
        assert_int_equal(cJSON_GetArraySize(runs), 1);
        cJSON *run = cJSON_GetArrayItem(runs, 0);
        assert_string_equal(cJSON_GetObjectItem(run, "uuid")->valuestring, "run-e");
        cJSON *files = cJSON_GetObjectItem(run, "files");
        assert_int_equal(cJSON_GetArraySize(files), 2);
        cJSON *changes = cJSON_GetObjectItem(cJSON_GetArrayItem(files, 1), "changes");
        assert_int_equal(cJSON_GetArraySize(changes), 3);
        assert_int_equal(cJSON_HasObjectItem(cJSON_GetArrayItem(changes, 0), "original"), with);
        cJSON *findings = cJSON_GetObjectItem(run, "findings");
        assert_int_equal(cJSON_GetArraySize(findings), 2);
        /* Findings are stored masked. */
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(findings, 0),
                                                "masked_value")->valuestring, "J*** S****");
        assert_null(strstr(buf, "John"));
        assert_int_equal(with, strstr(buf, "orig-UID-1") != NULL);
        cJSON_Delete(j);
        free(buf);
    }
    audit_close(db);
}

static void test_default_path(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(audit_default_path("/keys/site.key", buf, sizeof buf), 0);
    assert_string_equal(buf, "/keys/deidtk-audit.sqlite");
    assert_int_equal(audit_default_path("site.key", buf, sizeof buf), 0);
    assert_string_equal(buf, "deidtk-audit.sqlite");
    assert_int_equal(audit_default_path(NULL, buf, sizeof buf), 0);
    assert_string_equal(buf, "deidtk-audit.sqlite");
    assert_int_not_equal(audit_default_path("/a/very/long/directory/name/k", buf, 16), 0);
}

/* A writer killed with SIGKILL mid-run leaves a trail that opens, verifies, and holds only
 * whole files. */
static void test_crash(void **state)
{
    (void)state;
    char path[320];
    tmppath(path, sizeof path, "crash.sqlite");
    unlink(path);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        audit_db *db;
        if (audit_open(path, 1, &db, err, sizeof err) < 0)
            _exit(1);
        audit_run_info ri = {.uuid = "crash", .policy_text = "p", .key_fingerprint = "k"};
        int64_t run, fid;
        if (audit_run_begin(db, &ri, &run, err, sizeof err) < 0)
            _exit(1);
        for (int i = 0;; i++) {
            audit_file_info fi = {"in", "sha", "out", "osha", "uid", AUDIT_FILE_OK, NULL};
            if (audit_file_add(db, run, &fi, &fid, err, sizeof err) < 0)
                _exit(1);
            for (int c = 0; c < 100; c++)
                if (audit_change_add(db, fid, "(0008,0018)", "U", "hm", "2.25.1", NULL, err,
                                     sizeof err) < 0)
                    _exit(1);
            if (audit_file_commit(db, err, sizeof err) < 0)
                _exit(1);
            if (i == 20 && (audit_flush(db, err, sizeof err) < 0 || write(pfd[1], "x", 1) != 1))
                _exit(1);
        }
    }
    close(pfd[1]);
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    usleep(20000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pfd[0]);
    assert_true(WIFSIGNALED(status));

    audit_db *db;
    assert_int_equal(audit_open(path, 0, &db, err, sizeof err), 0);
    audit_verify_report r = verify_db(db);
    assert_true(r.ok);
    assert_int_equal(r.unsealed, 1);
    assert_true(r.files > 20);
    assert_int_equal(r.changes, r.files * 100);
    /* The rerun continues the trail. */
    audit_run_info ri = {.uuid = "crash-rerun", .policy_text = "p", .key_fingerprint = "k"};
    int64_t run;
    assert_int_equal(audit_run_begin(db, &ri, &run, err, sizeof err), 0);
    assert_int_equal(audit_run_end(db, run, NULL, err, sizeof err), 0);
    assert_true(verify_db(db).ok);
    audit_close(db);
}

static int write_sample(const char *path)
{
    audit_db *db;
    unlink(path);
    if (audit_open(path, 1, &db, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    add_run(db, "sample-run-1", "kf-sample", 2, 3, 0, 1);
    add_run(db, "sample-run-2", "kf-sample", 1, 3, 0, 1);
    audit_close(db);
    return 0;
}

/* The hash read ahead in steps gives SHA-256 of the bytes: every length around its steps,
 * over a real DICOM file's bytes, against OpenSSL's one call and against the file hashed. */
static void test_sha256_steps(void **state)
{
    (void)state;
    char path[512], got[65], want[65], file[65];
    size_t n;
    unsigned char *bytes = tu_read(tu_sample("IM0022.dcm", path, sizeof path), &n);
    assert_true(n > 3 * 4096);
    const size_t lens[] = {0, 1, 63, 64, 1023, 1024, 1025, 4095, 4096, 4097, 5121, n - 1, n};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mn = 0;
        assert_int_equal(EVP_Digest(bytes, lens[i], md, &mn, EVP_sha256(), NULL), 1);
        for (unsigned k = 0; k < mn; k++)
            snprintf(want + 2 * k, 3, "%02x", md[k]);
        audit_sha256_hex(bytes, lens[i], got);
        assert_string_equal(got, want);
    }
    assert_int_equal(audit_sha256_file(path, file, err, sizeof err), 0);
    assert_string_equal(file, got);
    free(bytes);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0)
        return write_sample(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_steps),
        cmocka_unit_test(test_create_verify),
        cmocka_unit_test(test_tamper_update_change),
        cmocka_unit_test(test_tamper_delete_change),
        cmocka_unit_test(test_tamper_delete_tail),
        cmocka_unit_test(test_tamper_file_and_run),
        cmocka_unit_test(test_triggers_refuse_edits),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_review_waive),
        cmocka_unit_test(test_reviews_all_or_nothing),
        cmocka_unit_test(test_trace_find),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_writer_rules),
        cmocka_unit_test(test_export_json),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_crash),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
