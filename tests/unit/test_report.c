/* tests/unit/test_report.c — reports: gate logic, JSON round trip, masking, HTML escaping,
 * thumbnails, shard merging and its refusals, invalid inputs. */
#include "config.h"
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "tests/unit/testutil.h"
#include <cjson/cJSON.h>
#include "reports/report.h"

static char err[1024];

static char *tmppath(const char *name)
{
    static char buf[4][320];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tu_dir, name);
    return buf[k];
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc(n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, n, fp), (size_t)n);
    s[n] = '\0';
    fclose(fp);
    return s;
}

static void add(report *r, const char *file, const char *where, const char *det,
                verify_severity sev, const char *value, const char *msg, const char *by,
                const char *why)
{
    verify_findings fs = {0};
    assert_int_equal(verify_findings_add(&fs, file, where, det, sev, value, msg), 0);
    assert_int_equal(report_add_finding(r, &fs.v[0], by, why), 0);
    verify_findings_clear(&fs);
}

/* Three files (one unreadable) and a finding of every severity, the phi one waived. The
 * values are the PHI that must never reach a masked report. */
static report *sample(void)
{
    report *r = report_new("run", "0.1.0");
    assert_non_null(r);
    assert_int_equal(report_set_meta(r, "preset", "tcia"), 0);
    assert_int_equal(report_set_meta(r, "policy_sha256", "abc123"), 0);
    assert_int_equal(report_set_meta(r, "key_fingerprint", "00ff00ff00ff00ff"), 0);
    assert_int_equal(report_add_file(r, "out/P1/1.2/1.3/1.4.dcm", "in/John_Smith/IM1.dcm", "ok",
                                     NULL, 1), 0);
    assert_int_equal(report_add_file(r, "out/P1/1.2/1.3/1.5.dcm", "in/John_Smith/IM2.dcm", "ok",
                                     NULL, 3), 0);
    assert_int_equal(report_add_file(r, "in/Jane_Doe.dcm", "in/Jane_Doe.dcm", "error",
                                     "in/Jane_Doe.dcm: not a DICOM file", 0), 0);
    add(r, "out/P1/1.2/1.3/1.4.dcm", "(0010,0010)", "paired-leak", SEV_LEAK, "Smith^John",
        "the input's Patient Name survives", NULL, NULL);
    add(r, "out/P1/1.2/1.3/1.4.dcm", "(0008,1030)", "date", SEV_PHI, "19450312",
        "a full date in a description", "Dr. Rev", "shifted date, checked by hand");
    add(r, "out/P1/1.2/1.3/1.5.dcm", "pixels:frame 1 10,10,80,12", "ocr-text", SEV_SUSPECT,
        "ACME GENERAL 555-0142", "burned-in text", NULL, NULL);
    add(r, "out/P1/1.2/1.3/1.5.dcm", "(0012,0062)", "structure", SEV_POLICY, NULL,
        "Patient Identity Removed is not YES", NULL, NULL);
    add(r, "out/P1/1.2/1.3/1.5.dcm", "(0008,0070)", "name", SEV_INFO, "Zeiss",
        "a retained device maker", NULL, NULL);
    return r;
}

static void test_gate(void **state)
{
    (void)state;
    report *r = report_new("verify", "0.1.0");
    assert_int_equal(report_fail_on(r), SEV_POLICY);
    assert_false(report_blocked(r));
    assert_int_equal(report_add_file(r, "a.dcm", NULL, "ok", NULL, 1), 0);
    add(r, "a.dcm", "(0010,0010)", "paired-leak", SEV_LEAK, "Smith", "m", "Ann", "false hit");
    add(r, "a.dcm", "(0008,1030)", "name", SEV_SUSPECT, "Jones", "m", NULL, NULL);
    add(r, "a.dcm", "(0008,0070)", "name", SEV_INFO, "Zeiss", "m", NULL, NULL);

    /* The waived leak never blocks; the open suspect blocks from "suspect" down. */
    report_set_gate(r, SEV_LEAK);
    assert_false(report_blocked(r));
    report_set_gate(r, SEV_PHI);
    assert_false(report_blocked(r));
    report_set_gate(r, SEV_SUSPECT);
    assert_true(report_blocked(r));
    report_set_gate(r, SEV_POLICY);
    assert_true(report_blocked(r));

    report_summary s;
    report_get_summary(r, &s);
    assert_int_equal(s.findings, 3);
    assert_int_equal(s.waived, 1);
    assert_int_equal(s.by_severity[SEV_LEAK], 1);
    assert_int_equal(s.open_by_severity[SEV_LEAK], 0);
    assert_int_equal(s.blocking, 1);
    report_set_gate(r, SEV_INFO);
    report_get_summary(r, &s);
    assert_int_equal(s.blocking, 2);

    /* A file that could not be processed blocks at every threshold. */
    report_set_gate(r, SEV_LEAK);
    assert_int_equal(report_add_file(r, "b.dcm", NULL, "error", "truncated", 0), 0);
    assert_true(report_blocked(r));
    report_get_summary(r, &s);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.ok, 1);

    /* A waiver names a reviewer and a reason, both; statuses are a closed set. */
    verify_findings fs = {0};
    assert_int_equal(verify_findings_add(&fs, "a.dcm", "x", "name", SEV_PHI, "v", "m"), 0);
    errno = 0;
    assert_int_equal(report_add_finding(r, &fs.v[0], "Ann", NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(report_add_finding(r, &fs.v[0], NULL, "why"), -1);
    assert_int_equal(report_add_finding(r, &fs.v[0], "", "why"), -1);
    verify_findings_clear(&fs);
    assert_int_equal(report_add_file(r, "c.dcm", NULL, "fine", NULL, 0), -1);
    report_get_summary(r, &s);
    assert_int_equal(s.findings, 3);
    assert_int_equal(s.files, 2);
    report_free(r);
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    report *r = sample();
    report_set_gate(r, SEV_SUSPECT);
    const char *path = tmppath("r.json");
    assert_int_equal(report_write_json(r, path, 0, err, sizeof err), 0);

    /* The document itself, as a consumer reads it. */
    char *text = slurp(path);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "schema")->valuestring, "deidtk-report/1");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "values_shown")));
    cJSON *gate = cJSON_GetObjectItem(j, "gate");
    assert_string_equal(cJSON_GetObjectItem(gate, "fail_on")->valuestring, "suspect");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(gate, "blocked")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(gate, "reasons")), 2);
    cJSON *sum = cJSON_GetObjectItem(j, "summary");
    assert_int_equal(cJSON_GetObjectItem(sum, "files")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(sum, "errors")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(sum, "waived")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "findings_by_severity"),
                                         "phi")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "findings_by_detector"),
                                         "name")->valueint, 1);
    cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "findings"), 0);
    assert_string_equal(cJSON_GetObjectItem(f0, "value")->valuestring, "S****^J***");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(f0, "waived_by")));
    cJSON_Delete(j);
    free(text);

    report *l;
    assert_int_equal(report_load_json(path, &l, err, sizeof err), 0);
    report_summary a, b;
    report_get_summary(r, &a);
    report_get_summary(l, &b);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(report_fail_on(l), SEV_SUSPECT);
    assert_true(report_blocked(l));
    assert_string_equal(report_get_meta(l, "policy_sha256"), "abc123");

    /* Loaded values are the masked ones; everything else comes back as written. */
    const char *again = tmppath("r2.json");
    assert_int_equal(report_write_json(l, again, 1, err, sizeof err), 0);
    text = slurp(again);
    j = cJSON_Parse(text);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "values_shown")));
    cJSON *f1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "findings"), 1);
    verify_findings fs = {0};
    verify_findings_add(&fs, "out/P1/1.2/1.3/1.4.dcm", "(0008,1030)", "date", SEV_PHI, "", "");
    assert_string_equal(cJSON_GetObjectItem(f1, "id")->valuestring, fs.v[0].id);
    verify_findings_clear(&fs);
    assert_string_equal(cJSON_GetObjectItem(f1, "where")->valuestring, "(0008,1030)");
    assert_string_equal(cJSON_GetObjectItem(f1, "severity")->valuestring, "phi");
    assert_string_equal(cJSON_GetObjectItem(f1, "value")->valuestring, "1*******");
    assert_string_equal(cJSON_GetObjectItem(f1, "waived_by")->valuestring, "Dr. Rev");
    assert_string_equal(cJSON_GetObjectItem(f1, "waive_reason")->valuestring,
                        "shifted date, checked by hand");
    cJSON *file1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "files"), 1);
    assert_int_equal(cJSON_GetObjectItem(file1, "frames_inspected")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(file1, "input")->valuestring, "i*/J***_S****/I**.d**");
    cJSON_Delete(j);
    free(text);
    report_free(l);

    /* With values shown, they come back whole, and the file is private. */
    const char *shown = tmppath("shown.json");
    assert_int_equal(report_write_json(r, shown, 1, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(shown, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(report_load_json(shown, &l, err, sizeof err), 0);
    const char *sh = tmppath("shown2.json");
    assert_int_equal(report_write_json(l, sh, 1, err, sizeof err), 0);
    text = slurp(sh);
    assert_non_null(strstr(text, "\"values_shown\":\ttrue"));
    assert_non_null(strstr(text, "\"Smith^John\""));
    free(text);
    report_free(l);
    report_free(r);
}

static void assert_no_phi(const char *text)
{
    static const char *const phi[] = {"Smith", "John", "19450312", "ACME", "555-0142",
                                      "Jane_Doe", "Zeiss"};
    for (size_t i = 0; i < sizeof phi / sizeof *phi; i++)
        if (strstr(text, phi[i]))
            fail_msg("'%s' appears in a masked report", phi[i]);
}

static void test_masking(void **state)
{
    (void)state;
    report *r = sample();
    /* A file name that holds a name: the file's path is masked wherever it is written. */
    assert_int_equal(report_add_file(r, "out/Smith_J/1.dcm", NULL, "ok", NULL, 1), 0);
    add(r, "out/Smith_J/1.dcm", "path", "name", SEV_PHI, "Smith_J", "a name in the path",
        NULL, NULL);
    assert_int_equal(report_add_thumbnail(r, "out/Smith_J/1.dcm", "t/1.png"), 0);
    /* An output that shares its input's base name keeps its path. */
    assert_int_equal(report_add_file(r, "out/P9/IM9.dcm", "in/Doe/IM9.dcm", "ok", NULL, 1), 0);
    const char *j = tmppath("m.json"), *h = tmppath("m.html");
    assert_int_equal(report_write_json(r, j, 0, err, sizeof err), 0);
    assert_int_equal(report_write_html(r, h, 0, err, sizeof err), 0);
    char *tj = slurp(j), *th = slurp(h);
    assert_no_phi(tj);
    assert_no_phi(th);
    /* The read error names the input: its name is masked inside the message too. */
    assert_non_null(strstr(tj, "i*/J***_D**.d**: not a DICOM file"));
    assert_non_null(strstr(tj, "\"out/S****_J/1.dcm\""));
    assert_non_null(strstr(tj, "\"out/P9/IM9.dcm\""));
    assert_non_null(strstr(th, "<code>out/P9/IM9.dcm</code>"));
    assert_null(strstr(th, "unmasked values"));
    /* The page is whole: its style sheet closes and the body follows. */
    assert_non_null(strstr(th, "</style></head><body>"));
    assert_non_null(strstr(th, "</html>"));
    struct stat st;
    assert_int_equal(stat(h, &st), 0);
    assert_int_not_equal(st.st_mode & 0077, 0);
    free(tj);
    free(th);

    /* Asked for, the values appear, with the banner. */
    assert_int_equal(report_write_html(r, h, 1, err, sizeof err), 0);
    th = slurp(h);
    assert_non_null(strstr(th, "Smith^John"));
    assert_non_null(strstr(th, "in/Jane_Doe.dcm: not a DICOM file"));
    assert_non_null(strstr(th, "class=\"banner\""));
    assert_int_equal(stat(h, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(th);

    /* No temporary file is left beside the reports. */
    char cmd[320];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.tmp\\.'", tu_dir);
    assert_int_not_equal(system(cmd), 0);
    report_free(r);
}

/* Masking keeps the first byte of a word: a multi-byte first letter must not leave broken
 * UTF-8 behind. */
static int valid_utf8(const unsigned char *p)
{
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
              : (*p & 0xf8) == 0xf0 ? 4 : 0;
        if (!n)
            return 0;
        for (int k = 1; k < n; k++)
            if ((p[k] & 0xc0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

static void test_utf8(void **state)
{
    (void)state;
    report *r = report_new("verify", "0.1.0");
    add(r, "a.dcm", "(0010,0010)", "name", SEV_PHI, "\xc3\x89lodie \xc3\x9cnal", "m", NULL, NULL);
    add(r, "a.dcm", "(0010,0020)", "id", SEV_PHI, "bad \xff\xfe bytes", "m", NULL, NULL);
    const char *j = tmppath("u.json"), *h = tmppath("u.html");
    assert_int_equal(report_write_json(r, j, 0, err, sizeof err), 0);
    assert_int_equal(report_write_html(r, h, 1, err, sizeof err), 0);
    char *tj = slurp(j), *th = slurp(h);
    assert_true(valid_utf8((unsigned char *)tj));
    assert_true(valid_utf8((unsigned char *)th));
    assert_null(strstr(tj, "lodie"));
    assert_non_null(strstr(th, "\xc3\x89lodie"));
    free(tj);
    free(th);
    report_free(r);
}

static void test_html(void **state)
{
    (void)state;
    report *r = report_new("verify", "0.1.0<b>");
    assert_int_equal(report_set_meta(r, "inputs", "<iframe src=x>"), 0);
    assert_int_equal(report_add_file(r, "a<script>.dcm", NULL, "ok", NULL, 1), 0);
    add(r, "a<script>.dcm", "<img src=x onerror=alert(1)>", "\"det\"", SEV_LEAK,
        "<script>alert(1)</script>", "msg <b>&amp;</b> 'q'", NULL, NULL);
    add(r, "a<script>.dcm", "(0010,0030)", "date", SEV_PHI, "19000101", "a date",
        "<i>Rev</i>", "reason <u>x</u>");
    assert_int_equal(report_add_thumbnail(r, "a<script>.dcm", "thumbs/a b\".png"), 0);
    assert_int_equal(report_add_thumbnail(r, "x", "/etc/passwd.png"), -1);
    assert_int_equal(report_add_thumbnail(r, "x", "../up.png"), -1);
    assert_int_equal(report_add_thumbnail(r, "x", "t/../../up.png"), -1);
    assert_int_equal(report_add_thumbnail(r, "x", "javascript:alert(1)"), -1);
    assert_int_equal(report_add_thumbnail(r, "x", "https://evil.example/x.png"), -1);

    const char *h = tmppath("x.html");
    for (int show = 0; show <= 1; show++) {
        assert_int_equal(report_write_html(r, h, show, err, sizeof err), 0);
        char *t = slurp(h);
        assert_null(strstr(t, "<script"));
        assert_null(strstr(t, "<iframe"));
        assert_null(strstr(t, "<img src=x"));
        assert_null(strstr(t, "<b>&amp;"));
        assert_null(strstr(t, "<i>Rev"));
        assert_null(strstr(t, "<u>x"));
        assert_null(strstr(t, "0.1.0<b>"));
        assert_non_null(strstr(t, "a&lt;script&gt;.dcm"));
        assert_non_null(strstr(t, "msg &lt;b&gt;&amp;amp;&lt;/b&gt; &#39;q&#39;"));
        assert_non_null(strstr(t, "&quot;det&quot;"));
        assert_non_null(strstr(t, "waived by <b>&lt;i&gt;Rev&lt;/i&gt;</b>"));
        assert_non_null(strstr(t, "src=\"thumbs/a%20b%22.png\""));
        assert_non_null(strstr(t, "Content-Security-Policy"));
        assert_null(strstr(t, "http://"));
        assert_null(strstr(t, "https://"));
        assert_non_null(strstr(t, "<tr class=\"waived\">"));
        assert_non_null(strstr(t, ">BLOCKED<"));
        if (show)
            assert_non_null(strstr(t, "&lt;script&gt;alert(1)&lt;/script&gt;"));
        free(t);
    }

    /* Waiving the last open finding turns the verdict to PASS. */
    report *p = report_new("verify", "0.1.0");
    assert_int_equal(report_add_file(p, "a.dcm", NULL, "ok", NULL, 1), 0);
    add(p, "a.dcm", "(0010,0010)", "name", SEV_LEAK, "Smith", "m", "Ann", "phantom name");
    assert_int_equal(report_write_html(p, h, 0, err, sizeof err), 0);
    char *t = slurp(h);
    assert_non_null(strstr(t, ">PASS<"));
    assert_null(strstr(t, ">BLOCKED<"));
    free(t);
    report_free(p);
    report_free(r);
}

static report *shard(int k, const char *policy, const char *key)
{
    report *r = report_new("run", "0.1.0");
    char path[64], meta[32];
    snprintf(meta, sizeof meta, "shard %d/3", k);
    assert_int_equal(report_set_meta(r, "shard", meta), 0);
    assert_int_equal(report_set_meta(r, "policy_sha256", policy), 0);
    if (key)
        assert_int_equal(report_set_meta(r, "key_fingerprint", key), 0);
    for (int i = 0; i <= k; i++) {
        snprintf(path, sizeof path, "out/%d/%d.dcm", k, i);
        assert_int_equal(report_add_file(r, path, NULL, "ok", NULL, 1), 0);
        add(r, path, "(0010,0010)", "name", k == 3 ? SEV_LEAK : SEV_INFO, "Smith", "m",
            NULL, NULL);
    }
    report_set_gate(r, k == 2 ? SEV_SUSPECT : SEV_PHI);
    return r;
}

static report *shard_file(int k, const char *policy, const char *key)
{
    char name[32];
    snprintf(name, sizeof name, "shard%d.json", k);
    report *r = shard(k, policy, key), *l;
    assert_int_equal(report_write_json(r, tmppath(name), 0, err, sizeof err), 0);
    report_free(r);
    assert_int_equal(report_load_json(tmppath(name), &l, err, sizeof err), 0);
    return l;
}

static void test_merge(void **state)
{
    (void)state;
    report *a = shard_file(1, "p1", "k1"), *b = shard_file(2, "p1", "k1");
    report *c = shard_file(3, "p1", "k1");
    assert_false(report_blocked(a));
    assert_int_equal(report_merge(a, b, err, sizeof err), 0);
    assert_false(report_blocked(a));
    assert_int_equal(report_fail_on(a), SEV_SUSPECT);
    assert_int_equal(report_merge(a, c, err, sizeof err), 0);
    assert_true(report_blocked(a));
    report_summary s;
    report_get_summary(a, &s);
    assert_int_equal(s.files, 2 + 3 + 4);
    assert_int_equal(s.findings, 9);
    assert_int_equal(s.by_severity[SEV_LEAK], 4);
    assert_int_equal(s.blocking, 4);
    assert_string_equal(report_get_meta(a, "shard"), "shard 1/3");

    const char *m = tmppath("merged.json");
    assert_int_equal(report_write_json(a, m, 0, err, sizeof err), 0);
    char *t = slurp(m);
    cJSON *j = cJSON_Parse(t);
    cJSON *from = cJSON_GetObjectItem(j, "merged_from");
    assert_int_equal(cJSON_GetArraySize(from), 3);
    assert_string_equal(cJSON_GetArrayItem(from, 2)->valuestring, tmppath("shard3.json"));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "files")->valueint, 9);
    cJSON_Delete(j);
    free(t);

    /* A merged report merges again, keeping its list of sources. */
    report *l;
    assert_int_equal(report_load_json(m, &l, err, sizeof err), 0);
    report *d = shard(0, "p1", "k1");
    assert_int_equal(report_merge(d, l, err, sizeof err), 0);
    report_get_summary(d, &s);
    assert_int_equal(s.files, 10);
    report_free(d);
    report_free(l);

    /* Refusals leave the destination unchanged. */
    report *other = shard(4, "p2", "k1");
    assert_int_equal(report_merge(a, other, err, sizeof err), -1);
    assert_non_null(strstr(err, "policy_sha256"));
    report_free(other);
    other = shard(4, "p1", "k2");
    assert_int_equal(report_merge(a, other, err, sizeof err), -1);
    assert_non_null(strstr(err, "key_fingerprint"));
    report_free(other);
    other = shard(4, "p1", NULL);
    assert_int_equal(report_merge(a, other, err, sizeof err), -1);
    report_free(other);
    other = report_new("verify", "0.1.0");  /* the run's outputs inspected again */
    assert_int_equal(report_set_meta(other, "policy_sha256", "p1"), 0);
    assert_int_equal(report_set_meta(other, "key_fingerprint", "k1"), 0);
    assert_int_equal(report_add_file(other, "out/9/0.dcm", NULL, "ok", NULL, 1), 0);
    assert_int_equal(report_merge(a, other, err, sizeof err), -1);
    assert_non_null(strstr(err, "a verify report and a run report"));
    report_free(other);
    assert_int_equal(report_merge(a, c, err, sizeof err), -1);
    assert_non_null(strstr(err, "out/3/0.dcm"));
    report_get_summary(a, &s);
    assert_int_equal(s.files, 9);
    assert_int_equal(s.findings, 9);
    report_free(a);
    report_free(b);
    report_free(c);
}

/* A run report's file with dataset facts (tokens, here short names). */
static void fact_file(report *r, const char *path, const char *patient, const char *study,
                      const char *sop, const char *original, const char *offset)
{
    assert_int_equal(report_add_file(r, path, NULL, "ok", NULL, 0), 0);
    assert_int_equal(report_set_file_facts(r, patient, study, sop, original, offset), 0);
}

static size_t count_where(const report *r, const char *file, const char *detector)
{
    const char *m = tmppath("count.json");
    assert_int_equal(report_write_json(r, m, 0, err, sizeof err), 0);
    char *t = slurp(m);
    cJSON *j = cJSON_Parse(t), *f;
    size_t n = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "findings")) {
        const char *w = cJSON_GetObjectItem(f, "where")->valuestring;
        const char *d = cJSON_GetObjectItem(f, "detector")->valuestring;
        const char *p = cJSON_GetObjectItem(f, "file")->valuestring;
        n += strcmp(w, "dataset") == 0 && strcmp(d, detector) == 0 &&
             (!file || strcmp(p, file) == 0);
    }
    cJSON_Delete(j);
    free(t);
    return n;
}

/* Shards check the dataset-wide rules on their own files; merged, the rules run again over
 * all of them, in place of the shards' own dataset findings, and keep their waivers. */
static void test_check_dataset(void **state)
{
    (void)state;
    report *a = report_new("run", "0.1.0"), *b = report_new("run", "0.1.0");
    fact_file(a, "A/p1/s1/x1.dcm", "p1", "s1", "x1", "o1", "f1");
    fact_file(a, "A/p1/s1/x2.dcm", "p1", "s1", "x2", "o1", "f1");
    fact_file(b, "B/p2/s1/x3.dcm", "p2", "s1", "x3", "o2", "f2");  /* s1 under two patients */
    fact_file(b, "B/p1/s2/x4.dcm", "p1", "s2", "x4", "o1", "f9");  /* p1 moved twice */
    add(b, "B/p2/s1/x3.dcm", "dataset", "dataset-uid", SEV_POLICY, NULL, "stale", NULL, NULL);
    add(b, "B/p2/s1/x3.dcm", "(0010,0010)", "name", SEV_INFO, NULL, "kept", NULL, NULL);
    assert_int_equal(report_merge(a, b, err, sizeof err), 0);
    assert_int_equal(report_check_dataset(a), 1);
    report_summary s;
    report_get_summary(a, &s);
    assert_int_equal(s.findings, 3);
    assert_int_equal(count_where(a, NULL, "dataset-uid"), 0);
    assert_int_equal(count_where(a, NULL, "dataset-study"), 1);
    assert_int_equal(count_where(a, NULL, "dataset-dates"), 1);
    assert_int_equal(s.waived, 0);

    /* The same rules over a report whose dataset finding was waived keep the waiver. */
    const char *m = tmppath("checked.json");
    assert_int_equal(report_write_json(a, m, 1, err, sizeof err), 0);
    char *t = slurp(m);
    cJSON *j = cJSON_Parse(t), *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "findings"))
        if (strcmp(cJSON_GetObjectItem(f, "detector")->valuestring, "dataset-study") == 0) {
            cJSON_ReplaceItemInObject(f, "waived_by", cJSON_CreateString("R. Viewer"));
            cJSON_ReplaceItemInObject(f, "waive_reason", cJSON_CreateString("one family"));
        }
    char *edited = cJSON_Print(j);
    FILE *fp = fopen(m, "w");
    fputs(edited, fp);
    fclose(fp);
    free(edited);
    cJSON_Delete(j);
    free(t);
    report *w, *c = report_new("run", "0.1.0");
    assert_int_equal(report_load_json(m, &w, err, sizeof err), 0);
    fact_file(c, "C/p3/s3/x5.dcm", "p3", "s3", "x5", "o3", "f3");
    assert_int_equal(report_merge(w, c, err, sizeof err), 0);
    assert_int_equal(report_check_dataset(w), 1);
    report_get_summary(w, &s);
    assert_int_equal(s.findings, 3);
    assert_int_equal(s.waived, 1);
    report_free(w);

    /* The file a finding names does not depend on the order the files came in. */
    for (int order = 0; order < 2; order++) {
        report *x = report_new("run", "0.1.0");
        for (int k = 0; k < 2; k++)  /* one original patient, two pseudonyms */
            if ((k == 0) == (order == 0))
                fact_file(x, "X/p1/s1/x1.dcm", "p1", "s1", "x1", "o1", "f1");
            else
                fact_file(x, "X/p2/s2/x3.dcm", "p2", "s2", "x3", "o1", "f1");
        assert_int_equal(report_check_dataset(x), 1);
        assert_int_equal(count_where(x, "X/p2/s2/x3.dcm", "dataset-pseudonym"), 1);
        report_free(x);
    }

    /* A written file without facts (an older report): nothing is checked or changed. */
    report *old = report_new("run", "0.1.0");
    assert_int_equal(report_add_file(old, "D/p4/s4/x6.dcm", NULL, "ok", NULL, 0), 0);
    assert_int_equal(report_merge(a, old, err, sizeof err), 0);
    assert_int_equal(report_check_dataset(a), 0);
    report_get_summary(a, &s);
    assert_int_equal(s.findings, 3);
    report *v = report_new("verify", "0.1.0");  /* a verify without the key */
    assert_int_equal(report_add_file(v, "E/e.dcm", NULL, "ok", NULL, 0), 0);
    assert_int_equal(report_check_dataset(v), 0);
    report_free(v);
    report_free(old);
    report_free(c);
    report_free(b);
    report_free(a);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_load_errors(void **state)
{
    (void)state;
    report *r = (report *)1;
    assert_int_equal(report_load_json(tmppath("missing.json"), &r, err, sizeof err), -1);
    assert_null(r);
    assert_non_null(strstr(err, "missing.json"));

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"not json", "not a JSON object"},
        {"{\"schema\":\"deidtk-report/2\"}", "schema deidtk-report/2"},
        {"{\"schema\":\"deidtk-report/1\",\"command\":\"run\",\"values_shown\":false,"
         "\"gate\":{\"fail_on\":\"severe\"},\"files\":[],\"findings\":[]}", "fail_on"},
        {"{\"schema\":\"deidtk-report/1\",\"command\":\"run\",\"values_shown\":false,"
         "\"gate\":{\"fail_on\":\"phi\"},\"files\":[{\"path\":\"a\",\"status\":\"great\"}],"
         "\"findings\":[]}", "files[0]"},
        {"{\"schema\":\"deidtk-report/1\",\"command\":\"run\",\"values_shown\":false,"
         "\"gate\":{\"fail_on\":\"phi\"},\"files\":[],\"findings\":[{\"id\":\"1\","
         "\"severity\":\"phi\",\"waived_by\":\"Ann\"}]}", "findings[0]"},
        /* found by fuzzing: a finding without its detector crashed the gate's check */
        {"{\"schema\":\"deidtk-report/1\",\"command\":\"run\",\"values_shown\":false,"
         "\"gate\":{\"fail_on\":\"phi\"},\"files\":[],\"findings\":[{\"id\":\"1\","
         "\"file\":\"a\",\"where\":\"(0010,0010)\",\"severity\":\"phi\"}]}", "findings[0]"},
        {"{\"schema\":\"deidtk-report/1\",\"command\":\"run\",\"values_shown\":false,"
         "\"gate\":{\"fail_on\":\"phi\"},\"files\":[],\"findings\":[],"
         "\"thumbnails\":[{\"ref\":\"a\",\"png\":\"/etc/x.png\"}]}", "thumbnails[0]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(tmppath("bad.json"), bad[i].text);
        assert_int_equal(report_load_json(tmppath("bad.json"), &r, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
    }
    write_text(tmppath("min.json"), "{\"schema\":\"deidtk-report/1\",\"command\":\"verify\","
               "\"values_shown\":false,\"gate\":{\"fail_on\":\"leak\",\"blocked\":false},"
               "\"files\":[{\"path\":\"a\",\"status\":\"error\"}],\"findings\":[]}");
    assert_int_equal(report_load_json(tmppath("min.json"), &r, err, sizeof err), 0);
    /* The stored verdict is not trusted: the error file blocks. */
    assert_true(report_blocked(r));
    report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_check_dataset),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
