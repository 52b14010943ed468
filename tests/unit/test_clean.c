#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deid/clean.h"

static void expect(const char *in, const verify_pair_set *ids, const char *want, int changed)
{
    char *out = NULL;
    int r = deid_clean_text(in, ids, &out);
    assert_int_equal(r, changed);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static verify_pair_set *ids(void)
{
    verify_pair_set *s = verify_pair_new();
    assert_non_null(s);
    assert_int_equal(verify_pair_add(s, VERIFY_PAIR_NAME, "QUIMBY^ODALYS^F"), 0);
    assert_int_equal(verify_pair_add(s, VERIFY_PAIR_NAME, "ZANDER^WOLF"), 0);
    assert_int_equal(verify_pair_add(s, VERIFY_PAIR_ID, "PX-4471"), 0);
    assert_int_equal(verify_pair_add(s, VERIFY_PAIR_DATE, "19500102"), 0);
    assert_int_equal(verify_pair_add(s, VERIFY_PAIR_TEXT, "Lakeside General"), 0);
    return s;
}

static void test_detectors_only(void **state)
{
    (void)state;
    expect("CT CHEST W/O CONTRAST for John Smith 03/14/1961", NULL, "CT CHEST W/O CONTRAST for", 1);
    expect("Pt John A. Smith MRN 12345678 scanned 2019-03-14 at St. Mary's Hospital, call "
           "555-123-4567", NULL, "Pt MRN scanned at St. Mary's Hospital, call", 1);
    expect("THORAX CT + IV CONTRAST - John Smith (12345678)", NULL, "THORAX CT + IV CONTRAST", 1);
    expect("BRAIN MRI pre/post gad - Mary Jones, sedated", NULL, "BRAIN MRI pre/post gad, sedated", 1);
}

static void test_dataset_values(void **state)
{
    (void)state;
    verify_pair_set *s = ids();
    expect("Quimby_PX4471_THORAX", s, "THORAX", 1);
    expect("RTSS QUIMBY", s, "RTSS", 1);
    expect("SABR lung Odalys F Quimby", s, "SABR lung", 1);
    expect("CT ordered by Zander re Quimby", s, "CT ordered by re", 1);
    expect("DWI AX (QUIMBY)", s, "DWI AX", 1);
    expect("seen at Lakeside  General on 01/02/1950", s, "seen at on", 1);
    verify_pair_free(s);
}

/* Clinical text stays byte-identical and reports no change. */
static void test_clinical_untouched(void **state)
{
    (void)state;
    verify_pair_set *s = ids();
    const char *keep[] = {"T1 AXIAL POST GD", "CHEST PA/LAT", "White matter lesions",
                          "Head CT w/o contrast", "LEFT HAND 3 VIEWS", "Brain MRI 1.5T",
                          "DWI b=1000", "Slice 5 of 20", "120 kV 250 mA", "40/400", "0.625",
                          "  spaced  out  ", ""};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        expect(keep[i], s, keep[i], 0);
    verify_pair_free(s);
}

/* A long report: every date is cut, 300 of them, and a name after 300 words too. */
static void test_long_text(void **state)
{
    (void)state;
    size_t cap = 300 * 24 + 64;
    char *in = malloc(cap), *p = in;
    assert_non_null(in);
    for (int i = 0; i < 300; i++)
        p += sprintf(p, "seen %02d/%02d/2016 stable ", 1 + i % 12, 1 + i % 28);
    strcpy(p, "signed John Smith");
    char *out = NULL;
    assert_int_equal(deid_clean_text(in, NULL, &out), 1);
    assert_non_null(out);
    assert_null(strstr(out, "2016"));
    assert_null(strstr(out, "Smith"));
    assert_non_null(strstr(out, "stable"));
    free(out);
    free(in);
}

static void test_everything_removed(void **state)
{
    (void)state;
    expect("John Smith", NULL, "", 1);
    expect("(555) 123-4567", NULL, "", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detectors_only),
        cmocka_unit_test(test_dataset_values),
        cmocka_unit_test(test_clinical_untouched),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_everything_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
