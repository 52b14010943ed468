/* tests/unit/test_policy.c — deid/policy: Table E.1-1 + options, safe lists, policy files. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deid/policy.h"

#define OPT(o) DEID_OPTION_BIT(DEID_OPT_##o)

static deid_policy *with(const char *preset, deid_options opts)
{
    char err[256];
    deid_policy *p = deid_policy_new();
    assert_non_null(p);
    assert_int_equal(deid_policy_select(p, preset, opts, err, sizeof err), 0);
    return p;
}

static deid_decision decide(const deid_policy *p, uint16_t g, uint16_t e)
{
    deid_decision d;
    assert_int_equal(deid_policy_action(p, g, e, &d), 0);
    return d;
}

/* Asserts the action under Basic alone and under Basic + one option. */
static void check_option(deid_option o, uint16_t g, uint16_t e, deid_action basic,
                         deid_action with_option)
{
    deid_policy *b = with("basic", 0), *p = with(NULL, DEID_OPTION_BIT(o));
    deid_decision db = decide(b, g, e), dp = decide(p, g, e);
    assert_int_equal(db.action, basic);
    assert_int_equal(db.source, DEID_SRC_TABLE);
    assert_int_equal(dp.action, with_option);
    assert_int_equal(dp.basic, basic);
    assert_int_equal(dp.source, DEID_SRC_OPTION);
    assert_int_equal(dp.option, o);
    deid_policy_free(b);
    deid_policy_free(p);
}

static void test_every_option_column(void **state)
{
    (void)state;
    check_option(DEID_OPT_RETAIN_UIDS, 0x0008, 0x0018, DEID_ACT_U, DEID_ACT_K);
    check_option(DEID_OPT_RETAIN_DEVICE_IDENTITY, 0x0018, 0x1000, DEID_ACT_XZD, DEID_ACT_K);
    check_option(DEID_OPT_RETAIN_INSTITUTION_IDENTITY, 0x0008, 0x0080, DEID_ACT_XZD,
                 DEID_ACT_K);
    check_option(DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS, 0x0010, 0x0040, DEID_ACT_Z,
                 DEID_ACT_K);
    check_option(DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS, 0x0010, 0x1010, DEID_ACT_X,
                 DEID_ACT_K);
    check_option(DEID_OPT_RETAIN_LONG_FULL_DATES, 0x0008, 0x0020, DEID_ACT_Z, DEID_ACT_K);
    check_option(DEID_OPT_RETAIN_LONG_MODIFIED_DATES, 0x0008, 0x0020, DEID_ACT_Z, DEID_ACT_C);
    check_option(DEID_OPT_CLEAN_DESCRIPTORS, 0x0008, 0x1030, DEID_ACT_X, DEID_ACT_C);
    check_option(DEID_OPT_CLEAN_STRUCTURED_CONTENT, 0x0040, 0xA730, DEID_ACT_D, DEID_ACT_C);
    check_option(DEID_OPT_CLEAN_GRAPHICS, 0x6000, 0x3000, DEID_ACT_X, DEID_ACT_C);
    /* Retain Safe Private has no public row: it acts on the private list. */
    deid_policy *b = with("basic", 0), *p = with(NULL, OPT(RETAIN_SAFE_PRIVATE));
    assert_false(deid_policy_private_safe(b, "GEMS_PARM_01", 0x0043, 0x1027));
    assert_true(deid_policy_private_safe(p, "GEMS_PARM_01", 0x0043, 0x1027));
    deid_policy_free(b);
    deid_policy_free(p);
}

static void test_untouched_by_options(void **state)
{
    (void)state;
    deid_options everything = 0;
    for (int o = 0; o < DEID_OPT_COUNT; o++)
        if (o != DEID_OPT_RETAIN_LONG_FULL_DATES)
            everything |= DEID_OPTION_BIT(o);
    deid_policy *p = with(NULL, everything);
    deid_decision d = decide(p, 0x0010, 0x0010);   /* Patient's Name */
    assert_int_equal(d.action, DEID_ACT_Z);
    assert_int_equal(d.source, DEID_SRC_TABLE);
    assert_string_equal(d.keyword, "PatientName");
    d = decide(p, 0x0010, 0x0020);                 /* Patient ID: Z/D since 2024b */
    assert_int_equal(d.action, DEID_ACT_ZD);
    deid_policy_free(p);
}

static void test_resolution_rule(void **state)
{
    (void)state;
    /* Allergies: Retain Patient Characteristics C and Clean Descriptors C -> the retain
     * option is named. */
    deid_policy *p = with(NULL, OPT(RETAIN_PATIENT_CHARACTERISTICS) | OPT(CLEAN_DESCRIPTORS));
    deid_decision d = decide(p, 0x0010, 0x2110);
    assert_int_equal(d.action, DEID_ACT_C);
    assert_int_equal(d.option, DEID_OPT_RETAIN_PATIENT_CHARACTERISTICS);
    deid_policy_free(p);
    /* Calibration date: Retain Device Identity K beats Modified Dates C. */
    p = with(NULL, OPT(RETAIN_DEVICE_IDENTITY) | OPT(RETAIN_LONG_MODIFIED_DATES));
    d = decide(p, 0x0018, 0x1200);
    assert_int_equal(d.action, DEID_ACT_K);
    assert_int_equal(d.option, DEID_OPT_RETAIN_DEVICE_IDENTITY);
    deid_policy_free(p);
    p = with(NULL, OPT(RETAIN_LONG_MODIFIED_DATES));
    d = decide(p, 0x0018, 0x1200);
    assert_int_equal(d.action, DEID_ACT_C);
    assert_int_equal(d.option, DEID_OPT_RETAIN_LONG_MODIFIED_DATES);
    deid_policy_free(p);
    /* The two longitudinal options exclude each other. */
    char err[256];
    p = deid_policy_new();
    assert_int_equal(deid_policy_select(p, NULL, OPT(RETAIN_LONG_FULL_DATES) |
                                        OPT(RETAIN_LONG_MODIFIED_DATES), err, sizeof err), -1);
    assert_non_null(strstr(err, "exclude"));
    assert_int_equal(deid_policy_select(p, "nosuch", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "nosuch"));
    deid_policy_free(p);
}

static void test_presets(void **state)
{
    (void)state;
    deid_policy *p = deid_policy_new();
    deid_options tcia;
    assert_int_equal(deid_preset_parse("tcia", &tcia), 0);
    assert_int_equal(tcia, OPT(RETAIN_SAFE_PRIVATE) | OPT(RETAIN_DEVICE_IDENTITY) |
                               OPT(RETAIN_PATIENT_CHARACTERISTICS) |
                               OPT(RETAIN_LONG_MODIFIED_DATES) | OPT(CLEAN_DESCRIPTORS));
    assert_int_equal(deid_policy_options(p), tcia);       /* the default */
    assert_string_equal(deid_policy_preset(p), "tcia");
    assert_int_equal(decide(p, 0x0018, 0x1000).action, DEID_ACT_K);
    assert_int_equal(deid_preset_parse("nosuch", &tcia), -1);
    char err[128];
    assert_int_equal(deid_policy_select(p, NULL, OPT(RETAIN_UIDS), err, sizeof err), 0);
    assert_int_equal(deid_policy_options(p), OPT(RETAIN_UIDS));   /* basic + option */
    assert_int_equal(deid_policy_select(p, "tcia", OPT(CLEAN_GRAPHICS), err, sizeof err), 0);
    assert_int_equal(deid_policy_options(p), tcia | OPT(CLEAN_GRAPHICS));
    deid_policy_free(p);
    for (int o = 0; o < DEID_OPT_COUNT; o++)
        assert_int_equal(deid_option_parse(deid_option_name(o)), o);
    assert_int_equal(deid_option_parse("retain-everything"), -1);
}

static void test_repeating_groups(void **state)
{
    (void)state;
    deid_policy *p = with("basic", 0);
    assert_int_equal(decide(p, 0x601E, 0x3000).action, DEID_ACT_X);   /* Overlay Data */
    assert_int_equal(decide(p, 0x6002, 0x4000).action, DEID_ACT_X);   /* Overlay Comments */
    assert_int_equal(decide(p, 0x5004, 0x3000).action, DEID_ACT_X);   /* Curve Data */
    /* Overlay geometry is on the safe public list by mask. */
    deid_decision d = decide(p, 0x6002, 0x0010);
    assert_int_equal(d.action, DEID_ACT_KEEP_SAFE);
    assert_string_equal(d.keyword, "OverlayRows");
    /* 60xx,3000 in an odd (private) group is not Overlay Data. */
    assert_int_equal(decide(p, 0x6001, 0x3000).action, DEID_ACT_REMOVE_UNLISTED);
    deid_policy_free(p);
}

static void test_safe_public_and_unlisted(void **state)
{
    (void)state;
    deid_policy *p = with("basic", 0);
    static const uint32_t kept[] = { 0x00280010, 0x00280011, 0x00280100, 0x00280004,
                                     0x7FE00010, 0x00080016, 0x00080060, 0x00200032,
                                     0x00200037, 0x00280030, 0x00180050, 0x00180080,
                                     0x00180081, 0x00281050, 0x00281053, 0x00080100,
                                     0x00080104, 0x00081150, 0x00080005, 0x00200013 };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        deid_decision d = decide(p, (uint16_t)(kept[i] >> 16), (uint16_t)kept[i]);
        assert_int_equal(d.action, DEID_ACT_KEEP_SAFE);
        assert_int_equal(d.source, DEID_SRC_SAFE_PUBLIC);
        assert_non_null(d.note);
    }
    assert_string_equal(decide(p, 0x0028, 0x0010).keyword, "Rows");
    /* Unlisted public attributes go, and so does anything asked with a private group. */
    deid_decision d = decide(p, 0x0018, 0x9999);
    assert_int_equal(d.action, DEID_ACT_REMOVE_UNLISTED);
    d = decide(p, 0x0009, 0x1001);
    assert_int_equal(d.source, DEID_SRC_UNLISTED);
    d = decide(p, 0x0008, 0x9999);
    assert_int_equal(d.action, DEID_ACT_REMOVE_UNLISTED);
    assert_string_equal(d.keyword, "");
    deid_policy_free(p);
}

static void test_safe_private(void **state)
{
    (void)state;
    deid_policy *p = with("tcia", 0);
    /* Block 0x10 of group 0043: element 0x1027 -> byte 0x27; block 0x11: 0x1127. */
    assert_true(deid_policy_private_safe(p, "GEMS_PARM_01", 0x0043, 0x1027));
    assert_true(deid_policy_private_safe(p, "GEMS_PARM_01", 0x0043, 0x1127));
    assert_true(deid_policy_private_safe(p, "GEMS_PARM_01  ", 0x0043, 0x1027));
    assert_false(deid_policy_private_safe(p, "GEMS_PARM_0", 0x0043, 0x1027));
    assert_false(deid_policy_private_safe(p, "GEMS_PARM_01X", 0x0043, 0x1027));
    assert_false(deid_policy_private_safe(p, "GEMS_PARM_01", 0x0045, 0x1027));
    assert_false(deid_policy_private_safe(p, "GEMS_PARM_01", 0x0043, 0x10FE));
    assert_false(deid_policy_private_safe(p, NULL, 0x0043, 0x1027));
    assert_true(deid_policy_private_safe(p, "ELSCINT1", 0x00E1, 0x1021));
    assert_true(deid_policy_private_safe(p, "Philips PET Private Group", 0x7053, 0x1000));
    deid_policy_free(p);
}

static const char good_policy[] =
    "{\n"
    "  \"preset\": \"tcia\",\n"
    "  \"options\": [\"retain-uids\"],\n"
    "  \"attributes\": {\n"
    "    \"PatientName\": {\"action\": \"replace\", \"value\": \"ANON\"},\n"
    "    \"(0008,1030)\": {\"action\": \"keep\"},\n"
    "    \"(0032,9999)\": {\"action\": \"hash\"}\n"
    "  },\n"
    "  \"safe_private\": [{\"creator\": \"ACME 1.0\", \"group\": \"0029\", \"element\": \"10\"}],\n"
    "  \"pixel_regions\": [{\"x\": 0, \"y\": 0, \"w\": 10, \"h\": 10}]\n"
    "}\n";

static void test_policy_file(void **state)
{
    (void)state;
    char err[256];
    deid_policy *p = deid_policy_new();
    assert_int_equal(deid_policy_load_text(p, good_policy, "site.json", err, sizeof err), 0);
    deid_decision d = decide(p, 0x0010, 0x0010);
    assert_int_equal(d.action, DEID_ACT_OVR_REPLACE);
    assert_int_equal(d.source, DEID_SRC_OVERRIDE);
    assert_string_equal(d.value, "ANON");
    assert_int_equal(d.basic, DEID_ACT_Z);
    assert_int_equal(decide(p, 0x0008, 0x1030).action, DEID_ACT_OVR_KEEP);
    assert_int_equal(decide(p, 0x0032, 0x9999).action, DEID_ACT_OVR_HASH);
    assert_int_equal(decide(p, 0x0008, 0x0018).action, DEID_ACT_K);   /* retain-uids */
    assert_true(deid_policy_private_safe(p, "ACME 1.0", 0x0029, 0x1010));
    assert_false(deid_policy_private_safe(p, "ACME 1.0", 0x0029, 0x1011));
    /* Regions given as objects are kept as "x,y,w,h" strings. */
    assert_string_equal(deid_policy_pixel_regions(p), "[\"0,0,10,10\"]");
    /* The override-only attribute is the last profile row. */
    deid_row r;
    size_t n = 0;
    while (deid_policy_row(p, n, &r) == 0)
        n++;
    assert_int_equal(deid_policy_row(p, n - 1, &r), 0);
    assert_string_equal(r.tag, "(0032,9999)");
    assert_int_equal(r.d.action, DEID_ACT_OVR_HASH);
    deid_policy_free(p);
}

/* Loads `text` expecting failure; checks the message names line `line` and `what`. */
static void expect_error(const char *text, int line, const char *what)
{
    char err[256], want[32];
    deid_policy *p = deid_policy_new();
    const char *before = strdup(deid_policy_hash(p));
    assert_int_equal(deid_policy_load_text(p, text, "site.json", err, sizeof err), -1);
    snprintf(want, sizeof want, "site.json:%d: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
        fail_msg("got \"%s\", want \"%s...%s\"", err, want, what);
    assert_string_equal(deid_policy_hash(p), before);   /* unchanged on error */
    free((void *)before);
    deid_policy_free(p);
}

static void test_policy_errors(void **state)
{
    (void)state;
    expect_error("{\n  \"preset\": \"tcia\",\n  \"colour\": 1\n}\n", 3, "unknown key \"colour\"");
    /* a key written with an escape is found on its line (the CLI prints the newline as \n) */
    expect_error("{\n  \"pre\\nset\": \"tcia\"\n}\n", 2, "unknown key \"pre\nset\"");
    expect_error("{\n \"attributes\": {\n  \"(0010,0010)\": {\"action\": \"keep\"},\n"
                 "  \"(0010,0020)\": {\n     \"action\": \"shred\"}\n }\n}\n", 5, "bad action");
    expect_error("{\n \"attributes\": {\n\n  \"(0010,001G)\": {\"action\": \"keep\"}\n }\n}\n",
                 4, "bad attribute");
    expect_error("{\n \"attributes\": {\n  \"NoSuchKeyword\": {\"action\": \"keep\"}\n }\n}\n",
                 3, "bad attribute");
    expect_error("{\n \"attributes\": {\n  \"(0010,0010)\": {\"action\": \"keep\",\n"
                 "    \"colour\": \"red\"}\n }\n}\n", 4, "unknown key \"colour\"");
    expect_error("{\n \"attributes\": {\n  \"(0010,0010)\": {\"action\": \"replace\"}\n }\n}\n",
                 3, "needs a string \"value\"");
    expect_error("{\n \"attributes\": {\n  \"(0019,1010)\": {\"action\": \"keep\"}\n }\n}\n",
                 3, "private");
    expect_error("{\n \"attributes\": {\n  \"PatientName\": {\"action\": \"keep\"},\n"
                 "  \"(0010,0010)\": {\"action\": \"remove\"}\n }\n}\n", 4, "given twice");
    expect_error("{\n \"attributes\": {\n  \"PatientName\": {\"action\": \"keep\",\n"
                 "   \"action\": \"remove\"}\n }\n}\n", 4, "\"action\" given twice");
    expect_error("{\n \"options\": [\n  \"retain-uids\",\n  \"retain-all\"\n ]\n}\n", 4,
                 "unknown option \"retain-all\"");
    expect_error("{\n \"preset\": \"strict\"\n}\n", 2, "unknown preset");
    expect_error("{\n \"options\": [\"retain-long-full-dates\",\n"
                 "   \"retain-long-modified-dates\"]\n}\n", 2, "exclude");
    expect_error("{\n \"safe_private\": [\n  {\"creator\": \"A\", \"group\": \"0019\", \"element\": \"10\"},\n"
                 "  {\"creator\": \"A\", \"group\": \"0018\", \"element\": \"10\"}\n ]\n}\n",
                 4, "odd group");
    expect_error("{\n \"safe_private\": [\n  {\"creator\": \"A\", \"group\": \"0019\",\n"
                 "   \"element\": \"1010\"}\n ]\n}\n", 4, "element byte");
    expect_error("{\n \"preset\": \"tcia\",\n \"preset\": \"basic\"\n}\n", 3, "given twice");
    expect_error("{\n \"preset\": \"tcia\"\n \"options\": []\n}\n", 3, "not valid JSON");
    expect_error("[1, 2]\n", 1, "JSON object");
    expect_error("{\n \"pixel_regions\": \"0,0,10,10\"\n}\n", 2, "must be an array");
    expect_error("{\n \"pixel_regions\": [\n  \"0,0,10,10\",\n  \"0,0,10\"\n ]\n}\n", 4,
                 "expected x,y,w,h");
    expect_error("{\n \"pixel_regions\": [\n  \"0,0,0,10\"\n ]\n}\n", 3, "empty rectangle");
    expect_error("{\n \"pixel_regions\": [\n  {\"x\": 0, \"y\": 0, \"w\": 10,\n"
                 "   \"height\": 10}\n ]\n}\n", 4, "unknown key \"height\"");
    expect_error("{\n \"pixel_regions\": [\n  {\"x\": -4, \"y\": 0, \"w\": 10, \"h\": 10}\n ]\n}\n",
                 3, "from 0 to 1000000");
    expect_error("{\n \"pixel_regions\": [\n  {\"x\": 1e300, \"y\": 0, \"w\": 10, \"h\": 10}\n ]\n}\n",
                 3, "from 0 to 1000000");
    expect_error("{\n \"pixel_regions\": [\n  {\"x\": 0, \"y\": 0, \"w\": 10}\n ]\n}\n", 3,
                 "needs");
    expect_error("{\n \"pixel_regions\": [\n  12\n ]\n}\n", 3, "strings or objects");
    /* More regions than a policy may hold: 9 entries of 64. */
    char many[9 * 64 * 12 + 256], *w = many;
    w += sprintf(w, "{\n \"pixel_regions\": [\n");
    for (int e = 0; e < 9; e++) {
        w += sprintf(w, "  \"");
        for (int k = 0; k < 64; k++)
            w += sprintf(w, "%s%d,0,4,4", k ? " " : "", k);
        w += sprintf(w, "\"%s\n", e < 8 ? "," : "");
    }
    sprintf(w, " ]\n}\n");
    expect_error(many, 11, "more than 512 pixel regions");
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_policy_XXXXXX", err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good_policy, strlen(good_policy)), (ssize_t)strlen(good_policy));
    close(fd);
    deid_policy *p = deid_policy_new();
    assert_int_equal(deid_policy_load_file(p, path, err, sizeof err), 0);
    assert_int_equal(decide(p, 0x0010, 0x0010).action, DEID_ACT_OVR_REPLACE);
    unlink(path);
    assert_int_equal(deid_policy_load_file(p, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    deid_policy_free(p);
}

static void test_hash_stability(void **state)
{
    (void)state;
    char err[256];
    /* Same policy, different layout and key order. */
    static const char a[] = "{\"preset\":\"tcia\",\"attributes\":{\"(0008,1030)\":{\"action\":\"keep\"},"
                            "\"PatientName\":{\"value\":\"X\",\"action\":\"replace\"}}}";
    static const char b[] = "{\n  \"attributes\": {\n    \"(0010,0010)\": {\"action\": \"replace\", "
                            "\"value\": \"X\"},\n    \"StudyDescription\": {\"action\": \"keep\"}\n  },\n"
                            "  \"preset\": \"tcia\"\n}\n";
    static const char c[] = "{\"preset\":\"tcia\",\"attributes\":{\"(0008,1030)\":{\"action\":\"keep\"},"
                            "\"PatientName\":{\"value\":\"Y\",\"action\":\"replace\"}}}";
    deid_policy *pa = deid_policy_new(), *pb = deid_policy_new(), *pc = deid_policy_new();
    assert_int_equal(deid_policy_load_text(pa, a, "a", err, sizeof err), 0);
    assert_int_equal(deid_policy_load_text(pb, b, "b", err, sizeof err), 0);
    assert_int_equal(deid_policy_load_text(pc, c, "c", err, sizeof err), 0);
    assert_string_equal(deid_policy_text(pa), deid_policy_text(pb));
    assert_string_equal(deid_policy_hash(pa), deid_policy_hash(pb));
    assert_string_not_equal(deid_policy_hash(pa), deid_policy_hash(pc));
    assert_int_equal(strlen(deid_policy_hash(pa)), 64);
    /* Options change the hash too. */
    char before[65];
    snprintf(before, sizeof before, "%s", deid_policy_hash(pa));
    assert_int_equal(deid_policy_select(pa, "basic", 0, err, sizeof err), 0);
    assert_string_not_equal(deid_policy_hash(pa), before);
    assert_int_equal(deid_policy_select(pa, "tcia", 0, err, sizeof err), 0);
    assert_string_equal(deid_policy_hash(pa), before);
    deid_policy_free(pa);
    deid_policy_free(pb);
    deid_policy_free(pc);
}

static void test_method_codes(void **state)
{
    (void)state;
    const deid_code *codes[16];
    deid_policy *p = deid_policy_new();
    size_t n = deid_policy_method_codes(p, codes, 16);
    assert_int_equal(n, 6);   /* Basic + the 5 options of tcia */
    assert_string_equal(codes[0]->value, "113100");
    assert_string_equal(codes[0]->scheme, "DCM");
    int seen_private = 0;
    for (size_t i = 0; i < n; i++)
        seen_private |= strcmp(codes[i]->value, "113111") == 0;
    assert_true(seen_private);
    deid_policy_free(p);
    /* Every option has its code in CID 7050. */
    deid_options all = 0;
    for (int o = 0; o < DEID_OPT_COUNT; o++)
        if (o != DEID_OPT_RETAIN_LONG_FULL_DATES)
            all |= DEID_OPTION_BIT(o);
    p = with(NULL, all);
    assert_int_equal(deid_policy_method_codes(p, codes, 2), DEID_OPT_COUNT);
    char text[1024];
    assert_int_equal(deid_policy_method_text(p, text, sizeof text), 0);
    assert_non_null(strstr(text, "clean-pixel-data"));
    assert_non_null(strstr(text, "Basic Profile"));
    for (char *v = text, *end; v; v = end ? end + 1 : NULL) {   /* LO: <= 64 chars */
        end = strchr(v, '\\');
        assert_true((size_t)(end ? end - v : (ptrdiff_t)strlen(v)) <= 64);
    }
    assert_int_equal(deid_policy_method_text(p, text, 20), -1);
    deid_policy_free(p);
}

static void test_profile_rows(void **state)
{
    (void)state;
    deid_policy *p = with("basic", 0);
    deid_row r;
    size_t table = 0, safe = 0;
    int saw_overlay = 0;
    for (size_t i = 0; deid_policy_row(p, i, &r) == 0; i++) {
        if (r.in_table) {
            table++;
            saw_overlay |= strcmp(r.tag, "(60xx,3000)") == 0;
            assert_int_equal(r.d.action, r.d.basic);   /* basic: nothing else applies */
        } else {
            safe++;
            assert_int_equal(r.d.action, DEID_ACT_KEEP_SAFE);
        }
    }
    assert_int_equal(table, 620);   /* 621 rows less the private-attributes row */
    assert_true(safe > 200);
    assert_true(saw_overlay);
    deid_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_option_column),
        cmocka_unit_test(test_untouched_by_options),
        cmocka_unit_test(test_resolution_rule),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_repeating_groups),
        cmocka_unit_test(test_safe_public_and_unlisted),
        cmocka_unit_test(test_safe_private),
        cmocka_unit_test(test_policy_file),
        cmocka_unit_test(test_policy_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_hash_stability),
        cmocka_unit_test(test_method_codes),
        cmocka_unit_test(test_profile_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
