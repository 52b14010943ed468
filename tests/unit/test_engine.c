/* tests/unit/test_engine.c — deid/engine: every action code of Table E.1-1 and every option
 * column on a fixture built with dump2dcm, sequences at depth, private blocks, overlays, the
 * de-identification record, site overrides and the Patient ID lookup. Outputs are saved and
 * read back, so what is asserted is what a file would hold. */
#include "config.h"
#include <stdint.h>
#include "tests/unit/testutil.h"
#include "deid/engine.h"

static char err[1024];
static unsigned char key[DEID_KEY_LEN];
static unsigned char key2[DEID_KEY_LEN];
static char fixture[512];

#define SOP "1.2.826.0.1.3680043.10.9999.100.1"
#define STUDY "1.2.826.0.1.3680043.10.9999.100.2"
#define SERIES "1.2.826.0.1.3680043.10.9999.100.3"
#define FOR "1.2.826.0.1.3680043.10.9999.100.4"
#define REF_SOP "1.2.826.0.1.3680043.10.9999.100.7"
#define DEEP_SOP "1.2.826.0.1.3680043.10.9999.100.8"
#define PID "PID-4711"

/* Attributes for every action code and option column (the comments give the Basic Profile
 * action, then the option that changes it), an 8x8 image and an overlay. */
static const char fixture_dump[] =
    "(0008,0012) DA [20200314]\n"                      /* X/D; modified dates: shift */
    "(0008,0016) UI =SecondaryCaptureImageStorage\n"
    "(0008,0018) UI [" SOP "]\n"                       /* U; retain-uids: K */
    "(0008,0020) DA [20200315]\n"                      /* Z; full dates K, modified C */
    "(0008,0021) DA [20200301-20200331]\n"             /* X/D, a range */
    "(0008,0022) DA [20200316]\n"                      /* X/Z */
    "(0008,0023) DA [20200317]\n"                      /* Z/D */
    "(0008,002a) DT [20200315123456.123456+0100]\n"    /* X/Z/D */
    "(0008,0030) TM [123456]\n"                        /* Z */
    "(0008,0050) SH [ACC12345]\n"                      /* Z */
    "(0008,0060) CS [OT]\n"
    "(0008,0080) LO [Springfield General Hospital]\n"  /* X/Z/D; institution K */
    "(0008,0081) ST [742 Evergreen Terrace]\n"         /* X; institution K */
    "(0008,0090) PN [House^Gregory]\n"                 /* Z */
    "(0008,1010) SH [STATION7]\n"                      /* X/Z/D; device K */
    "(0008,1030) LO [CT chest follow-up for Doe]\n"    /* X; clean-descriptors C */
    "(0008,1140) SQ (Sequence with undefined length)\n" /* X/Z/U* */
    "(fffe,e000) na (Item with undefined length)\n"
    "(0008,1150) UI =SecondaryCaptureImageStorage\n"
    "(0008,1155) UI [" REF_SOP "]\n"
    "(0008,2112) SQ (Sequence with undefined length)\n" /* X/Z/U*, nested */
    "(fffe,e000) na (Item with undefined length)\n"
    "(0008,1155) UI [" DEEP_SOP "]\n"
    "(0010,0030) DA [19610314]\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(0009,0010) LO [UNKNOWN CREATOR]\n"
    "(0009,1001) LO [nested private value]\n"
    "(0010,0010) PN [Doe^Jane]\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(0009,0010) LO [UNKNOWN CREATOR]\n"
    "(0009,1001) LO [private value]\n"
    "(0010,0010) PN [Doe^Jane]\n"                      /* Z: the pseudonym */
    "(0010,0020) LO [" PID "]\n"                       /* Z/D: the pseudonym */
    "(0010,0030) DA [19610314]\n"                      /* Z whatever the options */
    "(0010,0040) CS [F]\n"                             /* Z; characteristics K */
    "(0010,1000) LO [OLD-ID-1]\n"                      /* X */
    "(0010,1002) SQ (Sequence with undefined length)\n" /* X */
    "(fffe,e000) na (Item with undefined length)\n"
    "(0010,0020) LO [OTHER-99]\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(0010,1010) AS [095Y]\n"                          /* X; characteristics K, capped */
    "(0012,0010) LO [Acme Trials Inc]\n"               /* D */
    "(0018,0050) DS [2.5]\n"                           /* safe public: keep */
    "(0018,1000) LO [SN-998877]\n"                     /* X/Z/D; device K */
    "(0018,9004) CS [PRODUCT]\n"                       /* not listed, not safe: remove */
    "(0018,9074) DT [20200315123000]\n"                /* D; full dates K, modified C */
    "(0018,9516) DT [20200315120000.5-0500]\n"         /* X/D, a negative UTC offset */
    "(0020,000d) UI [" STUDY "]\n"
    "(0020,000e) UI [" SERIES "]\n"
    "(0020,0010) SH [STUDY42]\n"                       /* Z */
    "(0020,0052) UI [" FOR "]\n"                       /* U */
    "(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 8\n(0028,0011) US 8\n"
    "(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n"
    "(0040,0555) SQ (Sequence with undefined length)\n" /* X/Z; clean-structured C */
    "(fffe,e000) na (Item with undefined length)\n"
    "(0040,a040) CS [CODE]\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(0040,a032) DT [20200315120000-20200316120000]\n" /* X/D, a range */
    "(0043,0010) LO [GEMS_PARM_01]\n"                  /* Table E.3.10-1 creator */
    "(0043,1027) SH [1.375:1]\n"                       /* safe: Scan Pitch Ratio */
    "(0043,1028) LO [not on the safe list]\n"
    "(0070,0001) SQ (Sequence with undefined length)\n" /* D; clean-graphics C */
    "(fffe,e000) na (Item with undefined length)\n"
    "(0070,0002) CS [MEASURE]\n"
    "(0070,0008) SQ (Sequence with undefined length)\n"
    "(fffe,e000) na (Item with undefined length)\n"
    "(0070,0003) CS [PIXEL]\n(0070,0006) ST [Jane Doe nodule 12 mm]\n"
    "(0070,0010) FL 1\\1\n(0070,0011) FL 6\\3\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(0070,0009) SQ (Sequence with undefined length)\n"
    "(fffe,e000) na (Item with undefined length)\n"
    "(0070,0005) CS [PIXEL]\n(0070,0020) US 2\n(0070,0021) US 2\n"
    "(0070,0022) FL 2\\2\\5\\5\n(0070,0023) CS [POLYLINE]\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(fffe,e00d) na (ItemDelimitationItem)\n"
    "(fffe,e0dd) na (SequenceDelimitationItem)\n"
    "(6000,0010) US 8\n(6000,0011) US 8\n(6000,0040) CS [G]\n(6000,0050) SS 1\\1\n"
    "(6000,0100) US 1\n(6000,0102) US 0\n"             /* overlay: X; clean-graphics C */
    "(6000,3000) OW 0001\\0203\\0405\\0607\n";

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < DEID_KEY_LEN; i++) {
        key[i] = (unsigned char)(i * 7 + 3);
        key2[i] = (unsigned char)(i * 11 + 5);
    }
    const char *dir = tu_tmpdir();
    char dump[512];
    snprintf(dump, sizeof dump, "%s/fixture.dump", dir);
    snprintf(fixture, sizeof fixture, "%s/fixture.dcm", dir);
    FILE *fp = fopen(dump, "w");
    if (!fp)
        return -1;
    fputs(fixture_dump, fp);
    fputs("(7fe0,0010) OB ", fp);
    for (int i = 0; i < 64; i++)
        fprintf(fp, "%s%02x", i ? "\\" : "", 10 + i);
    fputs("\n", fp);
    fclose(fp);
    if (system("command -v dump2dcm >/dev/null 2>&1") != 0)
        return -1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "dump2dcm -q '%s' '%s'", dump, fixture);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_cleanup();
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------- */

struct out {
    deid_policy *policy;
    struct deid_pseudo pseudo;
    deid_result r;
    dcm_file *f;            /* the saved output, read back */
    char path[600];
};

static deid_policy *policy_of(const char *preset, deid_options opts, const char *json)
{
    deid_policy *p = deid_policy_new();
    assert_non_null(p);
    if (json && deid_policy_load_text(p, json, "test.json", err, sizeof err) != 0)
        fail_msg("policy: %s", err);
    if (!json && deid_policy_select(p, preset, opts, err, sizeof err) != 0)
        fail_msg("select: %s", err);
    return p;
}

/* De-identifies `in` under the policy, saves the result and opens it again. */
static void apply_to(struct out *o, const char *in, deid_policy *p,
                     const struct deid_pseudo *pseudo)
{
    static int n;
    memset(o, 0, sizeof *o);
    o->policy = p;
    o->pseudo = *pseudo;
    deid_engine e = {0};
    e.policy = p;
    e.pseudo = &o->pseudo;
    e.hash_originals = 1;
    dcm_file *f = NULL;
    if (dcm_open(in, &f, err, sizeof err) != DCM_OK)
        fail_msg("open: %s", err);
    err[0] = 0;
    if (deid_apply(&e, f, &o->r, err, sizeof err) != 0)
        fail_msg("deid_apply: %s", err);
    assert_int_equal(deid_result_hash_originals(&e, &o->r), 0);
    snprintf(o->path, sizeof o->path, "%s/out-%d.dcm", tu_dir, n++);
    if (dcm_save(f, o->path, err, sizeof err) != DCM_OK)
        fail_msg("save: %s", err);
    dcm_close(f);
    if (dcm_open(o->path, &o->f, err, sizeof err) != DCM_OK)
        fail_msg("reopen: %s", err);
}

static void apply(struct out *o, const char *preset, deid_options opts, const char *json)
{
    struct deid_pseudo ps;
    deid_pseudo_init(&ps, key);
    ps.unknown_use_template = 1;
    apply_to(o, fixture, policy_of(preset, opts, json), &ps);
}

static void out_free(struct out *o)
{
    dcm_close(o->f);
    deid_result_free(&o->r);
    deid_policy_free(o->policy);
}

/* The value at path, or NULL when the element is absent. */
static char *get(dcm_file *f, const char *path)
{
    char *v = NULL;
    int rc = dcm_get(f, path, &v, err, sizeof err);
    if (rc == DCM_ENOTFOUND)
        return NULL;
    if (rc != DCM_OK)
        fail_msg("dcm_get %s: %s", path, err);
    return v ? v : strdup("");
}

static void expect(dcm_file *f, const char *path, const char *want)
{
    char *v = get(f, path);
    if (!v)
        fail_msg("%s: absent, expected '%s'", path, want);
    if (strcmp(v, want) != 0)
        fail_msg("%s: '%s', expected '%s'", path, v, want);
    free(v);
}

static void expect_absent(dcm_file *f, const char *path)
{
    char *v = get(f, path);
    if (v)
        fail_msg("%s: present ('%s'), expected removed", path, v);
}

static void expect_empty(dcm_file *f, const char *path)
{
    char *v = get(f, path);
    if (!v)
        fail_msg("%s: removed, expected present and empty", path);
    if (v[0])
        fail_msg("%s: '%s', expected empty", path, v);
    free(v);
}

/* X/Z/D and friends: whatever the alternative the engine picks, the original is gone.
 * allow: "X" removal, "Z" empty, "D" a non-empty dummy. */
static void expect_gone(dcm_file *f, const char *path, const char *original, const char *allow)
{
    char *v = get(f, path);
    if (!v) {
        if (!strchr(allow, 'X'))
            fail_msg("%s: removed, allowed %s", path, allow);
        return;
    }
    if (!v[0] && !strchr(allow, 'Z'))
        fail_msg("%s: empty, allowed %s", path, allow);
    if (v[0] && !strchr(allow, 'D'))
        fail_msg("%s: '%s', allowed %s", path, v, allow);
    if (v[0] && strstr(v, original))
        fail_msg("%s: still holds the original '%s'", path, v);
    free(v);
}

static void expect_uid_mapped(dcm_file *f, const char *path, const char *original)
{
    char want[DEID_UID_MAX + 1];
    assert_int_equal(deid_uid(key, original, want, sizeof want), 0);
    assert_int_equal(strncmp(want, "2.25.", 5), 0);
    expect(f, path, want);
}

/* Days since 1970-01-01 (civil calendar), independent of deid/dates. */
static long days_of(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void date_of(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* "YYYYMMDD" shifted by days into buf (9 bytes). */
static const char *shifted(const char *yyyymmdd, int days, char *buf)
{
    int y, m, d;
    assert_int_equal(sscanf(yyyymmdd, "%4d%2d%2d", &y, &m, &d), 3);
    date_of(days_of(y, m, d) + days, &y, &m, &d);
    snprintf(buf, 9, "%04d%02d%02d", y, m, d);
    return buf;
}

static int expected_offset(void)
{
    struct deid_pseudo ps;
    deid_pseudo_init(&ps, key);
    ps.unknown_use_template = 1;
    char id[DEID_ID_MAX + 1];
    int off = 0;
    assert_int_equal(deid_patient_map(&ps, NULL, PID, id, sizeof id, &off, err, sizeof err), 0);
    return off;
}

/* The method code values of the output, in order, joined by spaces. */
static void codes_of(dcm_file *f, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < 32; i++) {
        char path[64];
        snprintf(path, sizeof path, "(0012,0064)[%d].(0008,0100)", i);
        char *v = get(f, path);
        if (!v)
            break;
        char scheme[64];
        snprintf(scheme, sizeof scheme, "(0012,0064)[%d].(0008,0102)", i);
        expect(f, scheme, "DCM");
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", v);
        free(v);
    }
}

static void expect_record(struct out *o, const char *ltim)
{
    expect(o->f, "(0012,0062)", "YES");
    char method[1024];
    assert_int_equal(deid_policy_method_text(o->policy, method, sizeof method), 0);
    expect(o->f, "(0012,0063)", method);
    const deid_code *codes[DEID_OPT_COUNT + 2];
    size_t n = deid_policy_method_codes(o->policy, codes, DEID_OPT_COUNT + 2);
    char want[512] = "", got[512];
    for (size_t i = 0; i < n; i++)
        if (strcmp(codes[i]->value, "113101") != 0)  /* no pixel cleaning here */
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
                     want[0] ? " " : "", codes[i]->value);
    assert_true(strstr(want, "113100") == want);  /* Basic Profile first */
    codes_of(o->f, got, sizeof got);
    assert_string_equal(got, want);
    expect(o->f, "(0028,0303)", ltim);
}

static int has_change(const deid_result *r, const char *path, const char *action)
{
    for (size_t i = 0; i < r->nchanges; i++)
        if (strcmp(r->changes[i].path, path) == 0 &&
            (!action || strcmp(r->changes[i].action, action) == 0))
            return 1;
    return 0;
}

/* ---- the Basic Profile ----------------------------------------------------------------- */

static void test_basic_actions(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", 0, NULL);
    dcm_file *f = o.f;

    /* X */
    expect_absent(f, "(0010,1000)");
    expect_absent(f, "(0008,0081)");
    expect_absent(f, "(0008,1030)");
    expect_absent(f, "(0010,1010)");
    expect_absent(f, "(0010,1002)");
    expect_absent(f, "(0010,1002)[0].(0010,0020)");
    /* Z */
    expect_empty(f, "(0008,0020)");
    expect_empty(f, "(0008,0030)");
    expect_empty(f, "(0008,0050)");
    expect_empty(f, "(0008,0090)");
    expect_empty(f, "(0010,0030)");
    expect_empty(f, "(0010,0040)");
    expect_empty(f, "(0020,0010)");
    /* D */
    expect_gone(f, "(0012,0010)", "Acme", "D");
    expect_gone(f, "(0018,9074)", "20200315", "D");
    /* Z/D, X/Z, X/D, X/Z/D */
    expect_gone(f, "(0008,0023)", "20200317", "ZD");
    expect_gone(f, "(0008,0022)", "20200316", "XZ");
    expect_gone(f, "(0008,0012)", "20200314", "XD");
    expect_gone(f, "(0008,0021)", "202003", "XD");
    expect_gone(f, "(0008,002A)", "20200315", "XZD");
    expect_gone(f, "(0008,0080)", "Springfield", "XZD");
    expect_gone(f, "(0008,1010)", "STATION7", "XZD");
    expect_gone(f, "(0018,1000)", "SN-998877", "XZD");
    expect_gone(f, "(0018,9516)", "20200315", "XD");
    expect_gone(f, "(0040,A032)", "2020031", "XD");
    /* U */
    expect_uid_mapped(f, "(0008,0018)", SOP);
    expect_uid_mapped(f, "(0020,000D)", STUDY);
    expect_uid_mapped(f, "(0020,000E)", SERIES);
    expect_uid_mapped(f, "(0020,0052)", FOR);
    expect(f, "(0008,0016)", "1.2.840.10008.5.1.4.1.1.7");  /* the standard's own UID */
    char uid[DEID_UID_MAX + 1];
    assert_int_equal(deid_uid(key, SOP, uid, sizeof uid), 0);
    assert_string_equal(o.r.sop_uid, uid);
    assert_int_equal(deid_uid(key, STUDY, uid, sizeof uid), 0);
    assert_string_equal(o.r.study_uid, uid);
    /* the patient */
    char id[DEID_ID_MAX + 1];
    int off;
    assert_int_equal(deid_id_from_template(key, NULL, NULL, PID, id, sizeof id, err, sizeof err),
                     0);
    assert_int_equal(strncmp(id, "DEID-", 5), 0);
    assert_int_equal(strlen(id), 15);
    expect(f, "(0010,0020)", id);
    assert_string_equal(o.r.patient_id, id);
    expect_gone(f, "(0010,0010)", "Doe", "ZD");
    off = expected_offset();
    assert_int_equal(o.r.offset_days, off);
    /* kept: the safe public list and the image */
    expect(f, "(0018,0050)", "2.5");
    expect(f, "(0028,0010)", "8");
    expect(f, "(0008,0060)", "OT");
    /* not listed and not known safe */
    expect_absent(f, "(0018,9004)");
    /* X/Z on a sequence without clean-structured-content: no item survives */
    expect_absent(f, "(0040,0555)[0].(0040,A040)");
    /* private blocks: no retain-safe-private, so every block goes with its creator */
    expect_absent(f, "(0009,0010)");
    expect_absent(f, "(0009,1001)");
    expect_absent(f, "(0043,0010)");
    expect_absent(f, "(0043,1027)");
    expect_absent(f, "(0043,1028)");
    /* the overlay group goes whole */
    expect_absent(f, "(0070,0001)[0].(0070,0002)");   /* D: the annotation's items emptied */
    expect_absent(f, "(0070,0001)[0].(0070,0008)");
    expect_absent(f, "(6000,3000)");
    expect_absent(f, "(6000,0010)");
    expect_absent(f, "(6000,0040)");
    expect_absent(f, "(6000,0050)");
    /* no date kept, none shifted */
    expect_record(&o, "REMOVED");
    /* the audit trail's view */
    assert_true(has_change(&o.r, "(0010,1000)", "remove"));
    assert_true(has_change(&o.r, "(0008,0020)", "empty"));
    assert_true(has_change(&o.r, "(0008,0018)", "U"));
    assert_true(has_change(&o.r, "(0010,0020)", NULL));
    /* the name had a value: its change carries the HMAC of it, never the value (the
     * engine kept it only until hashed) */
    size_t hashed = 0;
    for (size_t i = 0; i < o.r.nchanges; i++) {
        assert_null(o.r.changes[i].original);
        assert_int_equal(strlen(o.r.changes[i].original_hmac) % 64, 0);
        hashed += strlen(o.r.changes[i].original_hmac) == 64;
        if (o.r.changes[i].new_value)
            assert_null(strstr(o.r.changes[i].new_value, "Doe"));
    }
    assert_true(hashed > 0);
    out_free(&o);
}

/* A sequence kept by its action (X/Z/U*) gets the profile in every item, at any depth. */
static void test_sequence_recursion(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", 0, NULL);
    dcm_file *f = o.f;
    expect(f, "(0008,1140)[0].(0008,1150)", "1.2.840.10008.5.1.4.1.1.7");
    expect_uid_mapped(f, "(0008,1140)[0].(0008,1155)", REF_SOP);
    expect_gone(f, "(0008,1140)[0].(0010,0010)", "Doe", "XZD");
    expect_absent(f, "(0008,1140)[0].(0009,0010)");
    expect_absent(f, "(0008,1140)[0].(0009,1001)");
    expect_uid_mapped(f, "(0008,1140)[0].(0008,2112)[0].(0008,1155)", DEEP_SOP);
    expect_gone(f, "(0008,1140)[0].(0008,2112)[0].(0010,0030)", "1961", "XZ");
    out_free(&o);

    /* retain-uids keeps the nested UIDs too, and still cleans the items */
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_UIDS), NULL);
    expect(o.f, "(0008,1140)[0].(0008,1155)", REF_SOP);
    expect(o.f, "(0008,1140)[0].(0008,2112)[0].(0008,1155)", DEEP_SOP);
    expect_gone(o.f, "(0008,1140)[0].(0010,0010)", "Doe", "XZD");
    out_free(&o);
}

/* ---- each option's column changes the outcome ------------------------------------------ */

static void test_retain_uids(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_UIDS), NULL);
    expect(o.f, "(0008,0018)", SOP);
    expect(o.f, "(0020,000D)", STUDY);
    expect(o.f, "(0020,000E)", SERIES);
    expect(o.f, "(0020,0052)", FOR);
    assert_string_equal(o.r.sop_uid, SOP);
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_retain_device_identity(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_DEVICE_IDENTITY), NULL);
    expect(o.f, "(0018,1000)", "SN-998877");
    expect(o.f, "(0008,1010)", "STATION7");
    expect_gone(o.f, "(0008,0080)", "Springfield", "XZD");
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_retain_institution_identity(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_INSTITUTION_IDENTITY), NULL);
    expect(o.f, "(0008,0080)", "Springfield General Hospital");
    expect(o.f, "(0008,0081)", "742 Evergreen Terrace");
    expect_gone(o.f, "(0018,1000)", "SN-998877", "XZD");
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_retain_patient_characteristics(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS), NULL);
    expect(o.f, "(0010,0040)", "F");
    expect(o.f, "(0010,1010)", "090Y");  /* 95 years: over 89, aggregated */
    assert_true(has_change(&o.r, "(0010,1010)", "age-cap"));
    expect_empty(o.f, "(0010,0030)");    /* the birth date is no characteristic */
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_retain_long_full_dates(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_LONG_FULL_DATES), NULL);
    expect(o.f, "(0008,0020)", "20200315");
    expect(o.f, "(0008,0021)", "20200301-20200331");
    expect(o.f, "(0008,0022)", "20200316");
    expect(o.f, "(0008,0023)", "20200317");
    expect(o.f, "(0008,002A)", "20200315123456.123456+0100");
    expect(o.f, "(0008,0030)", "123456");
    expect(o.f, "(0018,9074)", "20200315123000");
    expect(o.f, "(0018,9516)", "20200315120000.5-0500");
    expect(o.f, "(0040,A032)", "20200315120000-20200316120000");
    expect_empty(o.f, "(0010,0030)");
    expect_record(&o, "UNMODIFIED");
    out_free(&o);
}

static void expect_shifted_dates(struct out *o, int off)
{
    char a[9], b[9], want[64];
    expect(o->f, "(0008,0020)", shifted("20200315", off, a));
    expect(o->f, "(0008,0012)", shifted("20200314", off, a));
    expect(o->f, "(0008,0022)", shifted("20200316", off, a));
    expect(o->f, "(0008,0023)", shifted("20200317", off, a));
    snprintf(want, sizeof want, "%s-%s", shifted("20200301", off, a), shifted("20200331", off, b));
    expect(o->f, "(0008,0021)", want);
    snprintf(want, sizeof want, "%s123456.123456+0100", shifted("20200315", off, a));
    expect(o->f, "(0008,002A)", want);
    snprintf(want, sizeof want, "%s123000", shifted("20200315", off, a));
    expect(o->f, "(0018,9074)", want);
    snprintf(want, sizeof want, "%s120000.5-0500", shifted("20200315", off, a));
    expect(o->f, "(0018,9516)", want);
    snprintf(want, sizeof want, "%s120000-%s120000", shifted("20200315", off, a),
             shifted("20200316", off, b));
    expect(o->f, "(0040,A032)", want);
    expect(o->f, "(0008,0030)", "123456");  /* a time of day does not move */
    expect_empty(o->f, "(0010,0030)");     /* Z in every column */
    assert_true(has_change(&o->r, "(0008,0020)", "shift"));
}

static void test_retain_long_modified_dates(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_LONG_MODIFIED_DATES), NULL);
    int off = expected_offset();
    assert_true(off >= DEID_OFFSET_MIN_DEFAULT && off <= DEID_OFFSET_MAX_DEFAULT);
    assert_int_equal(o.r.offset_days, off);
    expect_shifted_dates(&o, off);
    expect_record(&o, "MODIFIED");
    out_free(&o);
}

static void test_clean_descriptors(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_CLEAN_DESCRIPTORS), NULL);
    char *v = get(o.f, "(0008,1030)");
    if (!v)
        fail_msg("Study Description removed under clean-descriptors");
    assert_null(strstr(v, "Doe"));         /* the patient's own name, from this dataset */
    assert_non_null(strstr(v, "CT chest")); /* the clinical words stay */
    free(v);
    assert_true(has_change(&o.r, "(0008,1030)", "clean"));
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_clean_structured_content(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_CLEAN_STRUCTURED_CONTENT), NULL);
    expect(o.f, "(0040,0555)[0].(0040,A040)", "CODE");
    expect_absent(o.f, "(0008,1030)");
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_clean_graphics(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_CLEAN_GRAPHICS), NULL);
    /* The annotation keeps its layer, text object and polyline; its text loses the name. */
    expect(o.f, "(0070,0001)[0].(0070,0002)", "MEASURE");
    expect(o.f, "(0070,0001)[0].(0070,0008)[0].(0070,0006)", "nodule 12 mm");
    expect(o.f, "(0070,0001)[0].(0070,0008)[0].(0070,0011)", "6\\3");
    expect(o.f, "(0070,0001)[0].(0070,0009)[0].(0070,0023)", "POLYLINE");
    expect(o.f, "(0070,0001)[0].(0070,0009)[0].(0070,0021)", "2");
    expect(o.f, "(6000,0010)", "8");
    expect(o.f, "(6000,0040)", "G");
    char *v = get(o.f, "(6000,3000)");
    if (!v)
        fail_msg("Overlay Data removed under clean-graphics");
    free(v);
    expect_record(&o, "REMOVED");
    out_free(&o);
}

static void test_retain_safe_private(void **state)
{
    (void)state;
    struct out o;
    apply(&o, "basic", DEID_OPTION_BIT(DEID_OPT_RETAIN_SAFE_PRIVATE), NULL);
    expect(o.f, "(0043,0010)", "GEMS_PARM_01");
    expect(o.f, "(0043,1027)", "1.375:1");
    expect_absent(o.f, "(0043,1028)");
    expect_absent(o.f, "(0009,0010)");  /* an unknown creator's block goes whole */
    expect_absent(o.f, "(0009,1001)");
    expect_absent(o.f, "(0008,1140)[0].(0009,0010)");
    expect_record(&o, "REMOVED");
    out_free(&o);
}

/* The default preset: all of its options at once, and their codes. */
static void test_tcia_preset(void **state)
{
    (void)state;
    struct out o;
    apply(&o, NULL, 0, NULL);
    assert_string_equal(deid_policy_preset(o.policy), "tcia");
    expect_shifted_dates(&o, expected_offset());
    expect(o.f, "(0010,0040)", "F");
    expect(o.f, "(0010,1010)", "090Y");
    expect(o.f, "(0018,1000)", "SN-998877");
    expect(o.f, "(0043,1027)", "1.375:1");
    expect_gone(o.f, "(0008,0080)", "Springfield", "XZD");
    expect_gone(o.f, "(0008,0018)", SOP, "D");
    char *v = get(o.f, "(0008,1030)");
    assert_non_null(v);
    assert_null(strstr(v, "Doe"));
    free(v);
    expect_record(&o, "MODIFIED");
    char got[512];
    codes_of(o.f, got, sizeof got);
    static const char *const tcia[] = {"113100", "113105", "113107", "113108", "113109",
                                       "113111"};
    for (size_t i = 0; i < sizeof tcia / sizeof tcia[0]; i++)
        if (!strstr(got, tcia[i]))
            fail_msg("method codes '%s' lack %s", got, tcia[i]);
    out_free(&o);
}

/* The same key gives the same bytes; another key other pseudonyms. */
static void test_deterministic(void **state)
{
    (void)state;
    struct out a, b, c;
    apply(&a, NULL, 0, NULL);
    apply(&b, NULL, 0, NULL);
    size_t na, nb;
    unsigned char *da = tu_read(a.path, &na), *db = tu_read(b.path, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, na);
    free(da);
    free(db);
    struct deid_pseudo ps;
    deid_pseudo_init(&ps, key2);
    ps.unknown_use_template = 1;
    apply_to(&c, fixture, policy_of(NULL, 0, NULL), &ps);
    assert_string_not_equal(a.r.sop_uid, c.r.sop_uid);
    assert_string_not_equal(a.r.patient_id, c.r.patient_id);
    out_free(&a);
    out_free(&b);
    out_free(&c);
}

/* ---- site overrides -------------------------------------------------------------------- */

static void test_overrides(void **state)
{
    (void)state;
    static const char json[] =
        "{\"preset\": \"basic\",\n"
        " \"attributes\": {\n"
        "  \"(0008,0050)\": {\"action\": \"keep\"},\n"
        "  \"(0018,0050)\": {\"action\": \"remove\"},\n"
        "  \"(0008,0090)\": {\"action\": \"replace\", \"value\": \"REFERRER\"},\n"
        "  \"(0020,0010)\": {\"action\": \"hash\"},\n"
        "  \"(0010,1002)\": {\"action\": \"keep\"},\n"
        "  \"(0010,0010)\": {\"action\": \"replace\", \"value\": \"SUBJECT^ONE\"}\n"
        " }}\n";
    struct out o;
    apply(&o, NULL, 0, json);
    expect(o.f, "(0008,0050)", "ACC12345");
    expect_absent(o.f, "(0018,0050)");
    expect(o.f, "(0008,0090)", "REFERRER");
    expect(o.f, "(0010,0010)", "SUBJECT^ONE");
    /* a kept sequence's items still get the profile */
    expect_gone(o.f, "(0010,1002)[0].(0010,0020)", "OTHER-99", "XZD");
    char *h1 = get(o.f, "(0020,0010)");
    assert_non_null(h1);
    assert_true(h1[0] != 0);
    assert_true(strlen(h1) <= 16);  /* SH */
    assert_null(strstr(h1, "STUDY42"));
    assert_true(has_change(&o.r, "(0020,0010)", "hash"));
    /* hash: the same on every file with the same key, different with another key */
    struct out o2, o3;
    apply(&o2, NULL, 0, json);
    char *h2 = get(o2.f, "(0020,0010)");
    assert_string_equal(h1, h2);
    struct deid_pseudo ps;
    deid_pseudo_init(&ps, key2);
    ps.unknown_use_template = 1;
    deid_policy *p = deid_policy_new();
    assert_int_equal(deid_policy_load_text(p, json, "t.json", err, sizeof err), 0);
    apply_to(&o3, fixture, p, &ps);
    char *h3 = get(o3.f, "(0020,0010)");
    assert_string_not_equal(h1, h3);
    free(h1);
    free(h2);
    free(h3);
    out_free(&o);
    out_free(&o2);
    out_free(&o3);
}

/* ---- Patient ID lookup ----------------------------------------------------------------- */

static void lookup_run(const char *csv, int use_template, struct out *o, int *rc)
{
    char path[600];
    snprintf(path, sizeof path, "%s/lookup.csv", tu_dir);
    tu_write(path, csv, strlen(csv));
    struct deid_lookup *lk = NULL;
    if (deid_lookup_load(path, &lk, err, sizeof err) != 0)
        fail_msg("lookup: %s", err);
    struct deid_pseudo ps;
    deid_pseudo_init(&ps, key);
    ps.lookup = lk;
    ps.unknown_use_template = use_template;
    deid_policy *p = policy_of(NULL, 0, NULL);
    deid_engine e = {p, &ps, 0, NULL, 0};
    dcm_file *f;
    if (dcm_open(fixture, &f, err, sizeof err) != DCM_OK)
        fail_msg("%s", err);
    memset(o, 0, sizeof *o);
    err[0] = 0;
    *rc = deid_apply(&e, f, &o->r, err, sizeof err);
    if (*rc == 0) {
        char v[64];
        char *s = NULL;
        assert_int_equal(dcm_get(f, "(0010,0020)", &s, v, sizeof v), DCM_OK);
        snprintf(o->path, sizeof o->path, "%s", s);
        free(s);
        assert_int_equal(dcm_get(f, "(0008,0020)", &s, v, sizeof v), DCM_OK);
        snprintf(o->path + 100, sizeof o->path - 100, "%s", s);
        free(s);
    }
    dcm_close(f);
    deid_result_free(&o->r);
    deid_policy_free(p);
    deid_lookup_free(lk);
}

static void test_lookup(void **state)
{
    (void)state;
    struct out o;
    int rc;
    char d[9];
    /* hit, with the row's own offset */
    lookup_run("id_old,id_new,date_offset_days\n" PID ",SUBJ-001,-100\nX-1,SUBJ-002,\n", 0,
               &o, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(o.path, "SUBJ-001");
    assert_string_equal(o.path + 100, shifted("20200315", -100, d));
    /* hit without an offset: the key's offset */
    lookup_run("id_old,id_new\n" PID ",SUBJ-001\n", 0, &o, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(o.path, "SUBJ-001");
    assert_string_equal(o.path + 100, shifted("20200315", expected_offset(), d));
    /* miss: an error that does not name the original ID */
    lookup_run("id_old,id_new\nSOMEONE-ELSE,SUBJ-002\n", 0, &o, &rc);
    assert_int_not_equal(rc, 0);
    assert_true(err[0] != 0);
    assert_null(strstr(err, PID));
    /* miss with the template fallback */
    lookup_run("id_old,id_new\nSOMEONE-ELSE,SUBJ-002\n", 1, &o, &rc);
    assert_int_equal(rc, 0);
    char id[DEID_ID_MAX + 1];
    assert_int_equal(deid_id_from_template(key, NULL, NULL, PID, id, sizeof id, err, sizeof err),
                     0);
    assert_string_equal(o.path, id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_actions),
        cmocka_unit_test(test_sequence_recursion),
        cmocka_unit_test(test_retain_uids),
        cmocka_unit_test(test_retain_device_identity),
        cmocka_unit_test(test_retain_institution_identity),
        cmocka_unit_test(test_retain_patient_characteristics),
        cmocka_unit_test(test_retain_long_full_dates),
        cmocka_unit_test(test_retain_long_modified_dates),
        cmocka_unit_test(test_clean_descriptors),
        cmocka_unit_test(test_clean_structured_content),
        cmocka_unit_test(test_clean_graphics),
        cmocka_unit_test(test_retain_safe_private),
        cmocka_unit_test(test_tcia_preset),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
