/* tests/unit/test_pseudo.c — key files, HMAC derivations, UIDs, Patient IDs, date offsets
 * and the lookup CSV. Known-answer values were computed independently (Python hmac). */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "deid/pseudo.h"

static char tmpdir[256];
static unsigned char key0[DEID_KEY_LEN];   /* bytes 0..31 */
static unsigned char key1[DEID_KEY_LEN];   /* bytes 1..32 */

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_pseudo.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    for (int i = 0; i < DEID_KEY_LEN; i++) {
        key0[i] = (unsigned char)i;
        key1[i] = (unsigned char)(i + 1);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_generate_load(void **state)
{
    (void)state;
    char path[300], err[512];
    path_in(path, sizeof path, "k1.key");
    assert_int_equal(deid_key_generate(path, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, DEID_KEY_LEN);

    assert_int_equal(deid_key_generate(path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "already exists"));

    unsigned char k[DEID_KEY_LEN], k2[DEID_KEY_LEN];
    assert_int_equal(deid_key_load(path, k, err, sizeof err), 0);
    char p2[300];
    path_in(p2, sizeof p2, "k2.key");
    assert_int_equal(deid_key_generate(p2, err, sizeof err), 0);
    assert_int_equal(deid_key_load(p2, k2, err, sizeof err), 0);
    assert_memory_not_equal(k, k2, DEID_KEY_LEN);
}

static void test_key_refusals(void **state)
{
    (void)state;
    char path[300], err[512];
    unsigned char k[DEID_KEY_LEN];
    path_in(path, sizeof path, "open.key");
    write_file(path, (const char *)key0, DEID_KEY_LEN, 0644);
    assert_int_equal(deid_key_load(path, k, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "group or others"));
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(chmod(path, 0620), 0);
    assert_int_equal(deid_key_load(path, k, err, sizeof err), -1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(deid_key_load(path, k, err, sizeof err), 0);
    assert_memory_equal(k, key0, DEID_KEY_LEN);

    path_in(path, sizeof path, "short.key");
    write_file(path, (const char *)key0, 31, 0600);
    assert_int_equal(deid_key_load(path, k, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "31 bytes"));

    path_in(path, sizeof path, "missing.key");
    assert_int_equal(deid_key_load(path, k, err, sizeof err), -1);
    assert_non_null(strstr(err, path));

    assert_int_equal(deid_key_load(tmpdir, k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_fingerprint_hmac(void **state)
{
    (void)state;
    char fp[DEID_FINGERPRINT_LEN + 1], fp1[DEID_FINGERPRINT_LEN + 1];
    deid_key_fingerprint(key0, fp);
    assert_string_equal(fp, "14433ba63604b615");
    deid_key_fingerprint(key1, fp1);
    assert_string_not_equal(fp, fp1);

    unsigned char mac[32];
    static const unsigned char want[32] = {
        0x63, 0x55, 0x6a, 0xc6, 0xf1, 0x0e, 0x16, 0x94, 0x1e, 0x91, 0xb0, 0x1e, 0xc6, 0xe4, 0xf2, 0x9a,
        0x63, 0x89, 0x86, 0xbb, 0xb8, 0x12, 0x66, 0x39, 0x18, 0xdd, 0x8b, 0x80, 0x7e, 0xcf, 0x52, 0x1a};
    assert_int_equal(deid_hmac(key0, "value", "abc", 3, mac), 0);
    assert_memory_equal(mac, want, 32);
    /* Domains separate: the same data under another domain gives another MAC. */
    unsigned char other[32];
    assert_int_equal(deid_hmac(key0, "uid", "abc", 3, other), 0);
    assert_memory_not_equal(mac, other, 32);
}

static void check_uid_form(const char *uid)
{
    assert_true(strncmp(uid, "2.25.", 5) == 0);
    assert_true(strlen(uid) <= 64);
    assert_true(uid[5] != '\0');
    assert_true(uid[5] != '0' || uid[6] == '\0');
    for (const char *p = uid + 5; *p; p++)
        if (*p < '0' || *p > '9')
            fail_msg("UID '%s' has a non-digit", uid);
}

static void test_uid(void **state)
{
    (void)state;
    char a[DEID_UID_MAX + 1], b[DEID_UID_MAX + 1];
    assert_int_equal(deid_uid(key0, "1.2.3.4", a, sizeof a), 0);
    assert_string_equal(a, "2.25.157910775163533369044210656696165106212");
    assert_int_equal(deid_uid(key0, "1.2.3.4", b, sizeof b), 0);
    assert_string_equal(a, b);
    /* Padding does not change the mapping. */
    assert_int_equal(deid_uid(key0, "1.2.3.4 ", b, sizeof b), 0);
    assert_string_equal(a, b);
    assert_int_equal(deid_uid(key1, "1.2.3.4", b, sizeof b), 0);
    assert_string_not_equal(a, b);

    char seen[200][DEID_UID_MAX + 1];
    for (int i = 0; i < 200; i++) {
        char orig[64];
        snprintf(orig, sizeof orig, "1.2.840.113619.2.55.3.%d", i);
        assert_int_equal(deid_uid(key0, orig, seen[i], sizeof seen[i]), 0);
        check_uid_form(seen[i]);
        assert_string_not_equal(seen[i], orig);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
    assert_int_equal(deid_uid(key0, "", a, sizeof a), -1);
    assert_int_equal(deid_uid(key0, "1.2.3.4", a, 10), -1);
}

static void test_uid_root(void **state)
{
    (void)state;
    char out[DEID_UID_MAX + 1], err[256], plain[DEID_UID_MAX + 1];
    assert_int_equal(deid_uid_root(key0, "1.2.840.99999", "1.2.3.4", out, sizeof out, err, sizeof err), 0);
    assert_true(strncmp(out, "1.2.840.99999.1579107751635333690442", 36) == 0);
    assert_int_equal(deid_uid_root(key0, NULL, "1.2.3.4", out, sizeof out, err, sizeof err), 0);
    assert_int_equal(deid_uid(key0, "1.2.3.4", plain, sizeof plain), 0);
    assert_string_equal(out, plain);

    const char *root43 = "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.1";
    assert_int_equal(strlen(root43), 43);
    assert_int_equal(deid_uid_root(key0, root43, "1.2.3.4", out, sizeof out, err, sizeof err), 0);
    assert_int_equal(strlen(out), 64);
    assert_true(out[44] >= '1' && out[44] <= '9');

    const char *bad[] = {"1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.12", "1..2", "01.2", "1.2.", ".1",
                         "1.a", "1.2.03", NULL};
    for (int i = 0; bad[i]; i++)
        if (deid_uid_root_check(bad[i], err, sizeof err) == 0)
            fail_msg("root '%s' accepted", bad[i]);
    assert_int_equal(deid_uid_root_check("1.0.2", err, sizeof err), 0);
}

static void test_id_template(void **state)
{
    (void)state;
    char out[DEID_ID_MAX + 1], b[DEID_ID_MAX + 1], err[256];
    assert_int_equal(deid_id_from_template(key0, NULL, "ISSUER", "12345", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "DEID-7073973774");
    assert_int_equal(deid_id_from_template(key0, NULL, " ISSUER ", " 12345  ", b, sizeof b, err, sizeof err), 0);
    assert_string_equal(out, b);
    assert_int_equal(deid_id_from_template(key0, NULL, "OTHER", "12345", b, sizeof b, err, sizeof err), 0);
    assert_string_not_equal(out, b);
    assert_int_equal(deid_id_from_template(key1, NULL, "ISSUER", "12345", b, sizeof b, err, sizeof err), 0);
    assert_string_not_equal(out, b);

    assert_int_equal(deid_id_from_template(key0, "{hex:8}-X", "ISSUER", "12345", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "31948B93-X");
    assert_int_equal(deid_id_from_template(key0, "SUBJ-{digits:8}", NULL, "12345", out, sizeof out, err, sizeof err), 0);
    assert_int_equal(strlen(out), 13);
    assert_true(strncmp(out, "SUBJ-", 5) == 0);
    assert_int_equal(strspn(out + 5, "0123456789"), 8);

    const char *bad[] = {"NOPLACE", "{digits:8}{digits:8}", "A{digits:5}", "{digits:39}", "A\\{digits:8}",
                         "{foo:8}", "{digits:8", "{hex:4}", "X}{digits:8}",
                         "0123456789012345678901234567890123456789-{digits:30}", NULL};
    for (int i = 0; bad[i]; i++)
        if (deid_id_template_check(bad[i], err, sizeof err) == 0)
            fail_msg("template '%s' accepted", bad[i]);
    assert_int_equal(deid_id_template_check(DEID_ID_TEMPLATE_DEFAULT, err, sizeof err), 0);

    /* What the templates make is recognised as a pseudonym; nothing else is. */
    assert_true(deid_id_matches_template(NULL, "DEID-7073973774"));
    assert_true(deid_id_matches_template("{hex:8}-X", "31948B93-X"));
    assert_true(deid_id_matches_template("SUBJ-{digits:8}", out));
    const char *not[] = {"DEID-707397377", "DEID-70739737745", "DEID-70739737a4", "deid-7073973774",
                         "DEID", "", "XDEID-7073973774", NULL};
    for (int i = 0; not[i]; i++)
        if (deid_id_matches_template(NULL, not[i]))
            fail_msg("'%s' taken for a pseudonym", not[i]);
    assert_false(deid_id_matches_template("{hex:8}-X", "31948b93-X"));
}

static void test_date_offset(void **state)
{
    (void)state;
    int d, d2;
    char err[256];
    assert_int_equal(deid_date_offset(key0, "ISSUER", "12345", DEID_OFFSET_MIN_DEFAULT, DEID_OFFSET_MAX_DEFAULT,
                                      &d, err, sizeof err), 0);
    assert_int_equal(d, -2305);
    assert_int_equal(deid_date_offset(key0, "ISSUER", "12345", -3650, -365, &d2, err, sizeof err), 0);
    assert_int_equal(d, d2);
    int distinct = 0, prev = 0;
    for (int i = 0; i < 500; i++) {
        char id[16];
        snprintf(id, sizeof id, "P%d", i);
        assert_int_equal(deid_date_offset(key0, NULL, id, -3650, -365, &d, err, sizeof err), 0);
        assert_true(d >= -3650 && d <= -365);
        distinct += d != prev;
        prev = d;
    }
    assert_true(distinct > 400);
    /* A range around 0 never gives 0 and reaches every other day. */
    int hit[5] = {0};
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "Q%d", i);
        assert_int_equal(deid_date_offset(key0, NULL, id, -2, 2, &d, err, sizeof err), 0);
        assert_true(d >= -2 && d <= 2 && d != 0);
        hit[d + 2]++;
    }
    assert_true(hit[0] && hit[1] && hit[3] && hit[4]);
    assert_int_equal(deid_date_offset(key0, NULL, "X", 5, 5, &d, err, sizeof err), 0);
    assert_int_equal(d, 5);
    assert_int_equal(deid_date_offset(key0, NULL, "X", 0, 0, &d, err, sizeof err), -1);
    assert_int_equal(deid_date_offset(key0, NULL, "X", -1, -2, &d, err, sizeof err), -1);
    assert_int_equal(deid_date_offset(key0, NULL, "X", -80000, -1, &d, err, sizeof err), -1);
}

/* Loads text as a lookup CSV; on failure checks err has want and holds no original ID. */
static struct deid_lookup *load_csv(const char *name, const char *text, const char *want)
{
    char path[300], err[512];
    path_in(path, sizeof path, name);
    write_file(path, text, strlen(text), 0600);
    struct deid_lookup *l = NULL;
    int rc = deid_lookup_load(path, &l, err, sizeof err);
    if (!want) {
        if (rc != 0)
            fail_msg("%s: %s", name, err);
        return l;
    }
    if (rc == 0)
        fail_msg("%s loaded; expected '%s'", name, want);
    assert_null(l);
    if (!strstr(err, want))
        fail_msg("%s: '%s' lacks '%s'", name, err, want);
    assert_non_null(strstr(err, path));
    assert_null(strstr(err, "MRN"));
    return NULL;
}

static void test_lookup_ok(void **state)
{
    (void)state;
    struct deid_lookup *l = load_csv("ok.csv",
        "\xef\xbb\xbfid_old,id_new,date_offset_days\r\n"
        "MRN001,SUBJ-001,-400\r\n"
        "\r\n"
        "\"MRN,002\",\"SUBJ-\"\"002\"\"\",\r\n"
        "  MRN003 , SUBJ-003 ,  17\n", NULL);
    assert_int_equal(deid_lookup_count(l), 3);
    int has = -1, off = 0;
    assert_string_equal(deid_lookup_find(l, "MRN001", &has, &off), "SUBJ-001");
    assert_int_equal(has, 1);
    assert_int_equal(off, -400);
    assert_string_equal(deid_lookup_find(l, "MRN,002", &has, &off), "SUBJ-\"002\"");
    assert_int_equal(has, 0);
    assert_string_equal(deid_lookup_find(l, "MRN003  ", &has, &off), "SUBJ-003");
    assert_int_equal(off, 17);
    assert_null(deid_lookup_find(l, "MRN00", &has, &off));
    assert_null(deid_lookup_find(l, "MRN0011", NULL, NULL));
    assert_null(deid_lookup_find(l, "", NULL, NULL));
    deid_lookup_free(l);

    l = load_csv("two.csv", "id_old,id_new\nMRN9,S9\n", NULL);
    assert_string_equal(deid_lookup_find(l, "MRN9", NULL, NULL), "S9");
    deid_lookup_free(l);
}

static void test_lookup_errors(void **state)
{
    (void)state;
    load_csv("hdr.csv", "old,new\nMRN1,S1\n", "line 1: the header");
    load_csv("empty.csv", "", "is empty");
    load_csv("cols.csv", "id_old,id_new\nMRN1,S1\nMRN2\n", "line 3: expected 2 columns");
    load_csv("cols3.csv", "id_old,id_new\nMRN1,S1,5\n", "line 2: expected 2 columns");
    load_csv("dup.csv", "id_old,id_new\nMRN1,S1\nMRN2,S2\nMRN1,S3\nMRN1,S4\n", "line 4: id_old duplicates line 2");
    load_csv("dupnew.csv", "id_old,id_new\nMRN1,S1\nMRN2,S2\nMRN3,S1\n",
             "line 4: id_new is also assigned on line 2 to a different id_old");
    load_csv("emptyold.csv", "id_old,id_new\nMRN1,S1\n ,S2\n", "line 3: empty id_old");
    load_csv("emptynew.csv", "id_old,id_new\nMRN1,\n", "line 2: empty id_new");
    load_csv("badnew.csv", "id_old,id_new\nMRN1,S\\1\n", "line 2: id_new must be");
    load_csv("zero.csv", "id_old,id_new,date_offset_days\nMRN1,S1,0\n", "line 2: date_offset_days");
    load_csv("word.csv", "id_old,id_new,date_offset_days\nMRN1,S1,-3x\n", "line 2: date_offset_days");
    load_csv("quote.csv", "id_old,id_new\nMRN1,\"S1\n", "line 2: quoted field is not closed");
    load_csv("after.csv", "id_old,id_new\n\"MRN1\"x,S1\n", "line 2: text after a closing quote");
    /* Line numbers count the physical lines of a quoted field spanning two. */
    load_csv("span.csv", "id_old,id_new\n\"MRN\n1\",S1\nMRN2\n", "line 4: expected 2 columns");

    char err[256];
    struct deid_lookup *l = (struct deid_lookup *)1;
    assert_int_equal(deid_lookup_load("/nonexistent/lookup.csv", &l, err, sizeof err), -1);
    assert_null(l);
    assert_non_null(strstr(err, "/nonexistent/lookup.csv"));
}

static void test_patient_map(void **state)
{
    (void)state;
    struct deid_lookup *l = load_csv("map.csv", "id_old,id_new,date_offset_days\nMRN1,SUBJ-1,-500\nMRN2,SUBJ-2,\n", NULL);
    struct deid_pseudo p;
    char id[DEID_ID_MAX + 1], err[256];
    int off = 0, want;
    deid_pseudo_init(&p, key0);
    assert_int_equal(deid_pseudo_check(&p, err, sizeof err), 0);

    assert_int_equal(deid_patient_map(&p, "ISSUER", "12345", id, sizeof id, &off, err, sizeof err), 0);
    assert_string_equal(id, "DEID-7073973774");
    assert_int_equal(off, -2305);

    p.lookup = l;
    assert_int_equal(deid_patient_map(&p, "ISSUER", "MRN1", id, sizeof id, &off, err, sizeof err), 0);
    assert_string_equal(id, "SUBJ-1");
    assert_int_equal(off, -500);
    assert_int_equal(deid_patient_map(&p, "ISSUER", "MRN2", id, sizeof id, &off, err, sizeof err), 0);
    assert_string_equal(id, "SUBJ-2");
    assert_int_equal(deid_date_offset(key0, "ISSUER", "MRN2", -3650, -365, &want, err, sizeof err), 0);
    assert_int_equal(off, want);

    assert_int_equal(deid_patient_map(&p, "ISSUER", "MRN77", id, sizeof id, &off, err, sizeof err), -1);
    assert_non_null(strstr(err, "not in the lookup table"));
    assert_null(strstr(err, "MRN77"));
    p.unknown_use_template = 1;
    p.id_template = "SITE-{digits:6}";
    assert_int_equal(deid_patient_map(&p, "ISSUER", "MRN77", id, sizeof id, &off, err, sizeof err), 0);
    assert_true(strncmp(id, "SITE-", 5) == 0 && strlen(id) == 11);

    p.offset_min = p.offset_max = 0;
    assert_int_equal(deid_pseudo_check(&p, err, sizeof err), -1);
    p.offset_min = -10;
    p.uid_root = "1..2";
    assert_int_equal(deid_pseudo_check(&p, err, sizeof err), -1);
    deid_lookup_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_generate_load),
        cmocka_unit_test(test_key_refusals),
        cmocka_unit_test(test_fingerprint_hmac),
        cmocka_unit_test(test_uid),
        cmocka_unit_test(test_uid_root),
        cmocka_unit_test(test_id_template),
        cmocka_unit_test(test_date_offset),
        cmocka_unit_test(test_lookup_ok),
        cmocka_unit_test(test_lookup_errors),
        cmocka_unit_test(test_patient_map),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
