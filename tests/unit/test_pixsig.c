#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deid/pixsig.h"

/* A tiny dataset: tag -> value. */
struct attr { uint32_t tag; const char *value; };
struct dataset { const struct attr *attrs; size_t n; };

static const char *lookup(uint16_t group, uint16_t element, void *ud)
{
    const struct dataset *ds = ud;
    uint32_t tag = ((uint32_t)group << 16) | element;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->attrs[i].tag == tag)
            return ds->attrs[i].value;
    return NULL;
}

static void test_table_compiled(void **state)
{
    (void)state;
    assert_true(deid_pixsig_count() >= 50);
}

static void test_ge_screen_capture(void **state)
{
    (void)state;
    /* Padded values as DICOM stores them; "contains" ignores case. */
    static const struct attr a[] = {
        { 0x00280301, "YES " }, { 0x00080070, "ge medical systems" }, { 0x00280010, "512" },
        { 0x00280011, "512" }, { 0x00080060, "CT" },
    };
    struct dataset ds = { a, 5 };
    deid_pixsig_rect r[8];
    size_t n = 0;
    const char *name = deid_pixsig_match(lookup, &ds, r, 8, &n);
    assert_non_null(name);
    assert_string_equal(name, "512 x 512 screen captures");
    assert_int_equal(n, 1);
    assert_int_equal(r[0].x, 0);
    assert_int_equal(r[0].y, 0);
    assert_int_equal(r[0].w, 512);
    assert_int_equal(r[0].h, 25);
}

static void test_all_matches_united(void **state)
{
    (void)state;
    /* Matches both the generic 512 capture and the vessel analysis signature. */
    static const struct attr a[] = {
        { 0x00280301, "YES" }, { 0x00080070, "GE MEDICAL SYSTEMS" }, { 0x00280010, "512" },
        { 0x0008103E, "AVA Report 2" },
    };
    struct dataset ds = { a, 4 };
    deid_pixsig_rect r[8];
    size_t n = 0;
    assert_non_null(deid_pixsig_match(lookup, &ds, r, 8, &n));
    assert_int_equal(n, 2);
    assert_int_equal(r[1].w, 200);
    assert_int_equal(r[1].h, 250);
    /* Too small an array: total still reported. */
    n = 0;
    assert_non_null(deid_pixsig_match(lookup, &ds, r, 1, &n));
    assert_int_equal(n, 2);
}

static void test_equals_is_exact_and_alternatives(void **state)
{
    (void)state;
    static const struct attr rows[] = {
        { 0x00280301, "YES" }, { 0x00080070, "GE MEDICAL" }, { 0x00280010, "5120" },
    };
    struct dataset ds = { rows, 3 };
    size_t n = 99;
    assert_null(deid_pixsig_match(lookup, &ds, NULL, 0, &n));
    assert_int_equal(n, 0);

    /* VITREA: series description "AAA" or "Report" both do. */
    static const struct attr v1[] = {
        { 0x00080070, "Vital Images" }, { 0x0008103E, "my report" }, { 0x00280010, "1041" },
    };
    static const struct attr v2[] = {
        { 0x00080070, "Vital Images" }, { 0x0008103E, "stent" }, { 0x00280010, "1041" },
    };
    struct dataset d1 = { v1, 3 }, d2 = { v2, 3 };
    const char *name = deid_pixsig_match(lookup, &d1, NULL, 0, &n);
    assert_non_null(name);
    assert_non_null(strstr(name, "VITREA"));
    assert_null(deid_pixsig_match(lookup, &d2, NULL, 0, &n));
}

static void test_blank_label_inherits(void **state)
{
    (void)state;
    static const struct attr a[] = { { 0x0008103E, "CT Dose Report" } };
    struct dataset ds = { a, 1 };
    size_t n = 0;
    deid_pixsig_rect r[2];
    const char *name = deid_pixsig_match(lookup, &ds, r, 2, &n);
    assert_non_null(name);
    assert_string_equal(name, "GE CT Dose Series");
    assert_int_equal(r[0].h, 110);
}

static void test_no_attributes_no_match(void **state)
{
    (void)state;
    struct dataset ds = { NULL, 0 };
    size_t n = 5;
    assert_null(deid_pixsig_match(lookup, &ds, NULL, 0, &n));
    assert_int_equal(n, 0);
}

static void test_parse_rects(void **state)
{
    (void)state;
    deid_pixsig_rect r[3];
    size_t n = 0;
    char err[128];
    assert_int_equal(deid_pixsig_parse_rects(" 0,0,512,25 10,20,30,40;", r, 3, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].x, 10);
    assert_int_equal(r[1].h, 40);
    assert_int_equal(deid_pixsig_parse_rects("1,2,3,4", r, 3, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(deid_pixsig_parse_rects("1,2,3,4", r, 3, &n, err, sizeof err), -1);
    assert_int_equal(n, 3);

    n = 0;
    assert_int_equal(deid_pixsig_parse_rects("1,2,3", r, 3, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "x,y,w,h"));
    assert_int_equal(deid_pixsig_parse_rects("1,2,0,4", r, 3, &n, err, sizeof err), -1);
    assert_int_equal(deid_pixsig_parse_rects("1,2,3,4x", r, 3, &n, err, sizeof err), -1);
    assert_int_equal(deid_pixsig_parse_rects("-1,2,3,4", r, 3, &n, err, sizeof err), -1);
    assert_int_equal(n, 0);
    assert_int_equal(deid_pixsig_parse_rects("", r, 3, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_compiled),
        cmocka_unit_test(test_ge_screen_capture),
        cmocka_unit_test(test_all_matches_united),
        cmocka_unit_test(test_equals_is_exact_and_alternatives),
        cmocka_unit_test(test_blank_label_inherits),
        cmocka_unit_test(test_no_attributes_no_match),
        cmocka_unit_test(test_parse_rects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
