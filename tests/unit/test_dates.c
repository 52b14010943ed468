/* tests/unit/test_dates.c — calendar arithmetic, DA/DT shifting, age capping. */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "deid/dates.h"

static void expect_da(const char *in, int days, const char *want)
{
    char out[128];
    int rc = deid_shift_da(in, days, out, sizeof out);
    if (rc != DEID_DATE_OK)
        fail_msg("DA '%s' %+d: rc %d", in, days, rc);
    assert_string_equal(out, want);
}

static void expect_dt(const char *in, int days, const char *want)
{
    char out[128];
    int rc = deid_shift_dt(in, days, out, sizeof out);
    if (rc != DEID_DATE_OK)
        fail_msg("DT '%s' %+d: rc %d", in, days, rc);
    assert_string_equal(out, want);
}

static void test_calendar(void **state)
{
    (void)state;
    long d;
    int y, m, dd;
    assert_int_equal(deid_date_to_days(1970, 1, 1, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(deid_date_to_days(2000, 3, 1, &d), 0);
    assert_int_equal(d, 11017);
    assert_int_equal(deid_date_to_days(1, 1, 1, &d), 0);
    assert_int_equal(d, -719162);
    assert_int_equal(deid_date_to_days(9999, 12, 31, &d), 0);
    assert_int_equal(d, 2932896);
    assert_int_equal(deid_date_to_days(2000, 2, 29, &d), 0);
    assert_int_equal(deid_date_to_days(2024, 2, 29, &d), 0);
    assert_int_equal(deid_date_to_days(1900, 2, 29, &d), DEID_DATE_INVALID);
    assert_int_equal(deid_date_to_days(2023, 2, 29, &d), DEID_DATE_INVALID);
    assert_int_equal(deid_date_to_days(2023, 4, 31, &d), DEID_DATE_INVALID);
    assert_int_equal(deid_date_to_days(2023, 13, 1, &d), DEID_DATE_INVALID);
    assert_int_equal(deid_date_to_days(2023, 1, 0, &d), DEID_DATE_INVALID);
    assert_int_equal(deid_date_to_days(0, 1, 1, &d), DEID_DATE_INVALID);
    assert_int_equal(deid_days_to_date(-719163, &y, &m, &dd), DEID_DATE_INVALID);
    assert_int_equal(deid_days_to_date(2932897, &y, &m, &dd), DEID_DATE_INVALID);
    /* Every day of every 13th year round-trips and days are consecutive. */
    long prev = 0;
    int first = 1;
    for (int yy = 1; yy <= 9999; yy += 13)
        for (int mm = 1; mm <= 12; mm++)
            for (int day = 1; day <= 31; day++) {
                if (deid_date_to_days(yy, mm, day, &d) != 0)
                    continue;
                assert_true(first || d > prev);
                if (!first && !(mm == 1 && day == 1))
                    assert_int_equal(d, prev + 1);
                prev = d;
                first = 0;
                assert_int_equal(deid_days_to_date(d, &y, &m, &dd), 0);
                assert_int_equal(y, yy);
                assert_int_equal(m, mm);
                assert_int_equal(dd, day);
            }
}

static void test_da_basic(void **state)
{
    (void)state;
    expect_da("20200115", -10, "20200105");
    expect_da("20200115", 0, "20200115");
    expect_da("20200115", 400, "20210218");
    expect_da("20200101", -1, "20191231");   /* year boundary */
    expect_da("20191231", 1, "20200101");
    expect_da("20200229", 1, "20200301");    /* leap day */
    expect_da("20200301", -1, "20200229");
    expect_da("20210301", -1, "20210228");
    expect_da("20000229", -365, "19990301");
    expect_da("21000301", -1, "21000228");   /* 2100 is not a leap year */
    expect_da("20200115 ", -10, "20200105"); /* DICOM padding */
    expect_da("", -10, "");
    expect_da("2020.01.15", -20, "2019.12.26");   /* ACR-NEMA form kept */
}

static void test_da_partial(void **state)
{
    (void)state;
    expect_da("202003", -1, "202002");
    expect_da("202003", -29, "202002");
    expect_da("202003", -61, "201912");
    expect_da("2020", -1, "2019");
    expect_da("2020", -365, "2019");
    expect_da("2020", -366, "2018");
}

static void test_da_ranges_multi(void **state)
{
    (void)state;
    expect_da("20200101-20200131", -1, "20191231-20200130");
    expect_da("-20200131", -1, "-20200130");
    expect_da("20200101-", -1, "20191231-");
    expect_da("20200101\\20200301", -1, "20191231\\20200229");
    expect_da("20200101 \\ 20200301", -1, "20191231\\20200229");
    expect_da("20200101\\\\2020", -1, "20191231\\\\2019");
    expect_da("20200101-20200131\\20200301", 1, "20200102-20200201\\20200302");
}

static void test_da_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"2020011", "20201301", "20200230", "abcdefgh", "-", "00000000",
                         "20200101-20200102-20200103", "2020-01-15", "20200101\\bad",
                         "2020.1.15", "20200101120000", "+2020", "20200131-20200101" /* reversed */, NULL};
    char out[64];
    for (int i = 0; bad[i]; i++)
        if (deid_shift_da(bad[i], -10, out, sizeof out) != DEID_DATE_INVALID)
            fail_msg("DA '%s' accepted", bad[i]);
    /* Shifting out of years 1..9999 is invalid too. */
    assert_int_equal(deid_shift_da("00010101", -1, out, sizeof out), DEID_DATE_INVALID);
    assert_int_equal(deid_shift_da("99991231", 1, out, sizeof out), DEID_DATE_INVALID);
    assert_int_equal(deid_shift_da("20200101", -1, out, 8), DEID_DATE_NOSPACE);
    assert_int_equal(deid_shift_da("20200101", -1, out, 9), DEID_DATE_OK);
    assert_int_equal(deid_shift_da("20200101\\20200102", -1, out, 17), DEID_DATE_NOSPACE);
}

static void test_dt_forms(void **state)
{
    (void)state;
    expect_dt("20200101120000.123456+0100", -1, "20191231120000.123456+0100");
    expect_dt("20200101120000.1", -1, "20191231120000.1");
    expect_dt("20200101235960", 1, "20200102235960");      /* leap second kept */
    expect_dt("20200101123000", -1, "20191231123000");
    expect_dt("202001011230", -1, "201912311230");
    expect_dt("2020010112", -1, "2019123112");
    expect_dt("20200101", -1, "20191231");
    expect_dt("202001", -1, "201912");
    expect_dt("2020", -1, "2019");
    expect_dt("2020-0500", -1, "2019-0500");
    expect_dt("20200229-0500", 366, "20210301-0500");     /* one DT with a negative offset */
    expect_dt("20200229+1400", -365, "20190301+1400");
    expect_dt("20200101000000 ", -1, "20191231000000");
    expect_dt("20200101\\20200301120000", -1, "20191231\\20200229120000");
}

static void test_dt_ranges(void **state)
{
    (void)state;
    expect_dt("20200101120000-20200102120000", -1, "20191231120000-20200101120000");
    expect_dt("20200101120000-0500-20200102120000-0500", -1, "20191231120000-0500-20200101120000-0500");
    expect_dt("20200101120000.5+0100-20200102", 1, "20200102120000.5+0100-20200103");
    expect_dt("-20200102", -1, "-20200101");
    expect_dt("20200101-", -1, "20191231-");
    expect_dt("20200101120000-0500-", -1, "20191231120000-0500-");
}

static void test_dt_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"2020010124", "20200101126000", "20200101120061", "20200101120000.1234567",
                         "20200101120000+1500", "20200101120000-1300", "20200101120000+01",
                         "202001011", "20200101.5", "20200101120000.", "20201301", "2020013",
                         "20200101x", "-", "2020-0100-0100" /* two readings as a range */, NULL};
    char out[64];
    for (int i = 0; bad[i]; i++)
        if (deid_shift_dt(bad[i], -10, out, sizeof out) != DEID_DATE_INVALID)
            fail_msg("DT '%s' accepted as '%s'", bad[i], out);
}

/* Every pair of a patient's dates keeps its exact interval. */
static void test_intervals(void **state)
{
    (void)state;
    const int offsets[] = {-365, -1234, -3650, 1, 29};
    for (size_t k = 0; k < sizeof offsets / sizeof *offsets; k++) {
        long base;
        assert_int_equal(deid_date_to_days(1995, 11, 3, &base), 0);
        for (long d = base; d < base + 366 * 12; d += 7) {
            int y, m, dd;
            char in[16], out[16];
            assert_int_equal(deid_days_to_date(d, &y, &m, &dd), 0);
            snprintf(in, sizeof in, "%04d%02d%02d", y, m, dd);
            assert_int_equal(deid_shift_da(in, offsets[k], out, sizeof out), 0);
            long shifted;
            assert_int_equal(sscanf(out, "%4d%2d%2d", &y, &m, &dd), 3);
            assert_int_equal(deid_date_to_days(y, m, dd, &shifted), 0);
            assert_int_equal(shifted - d, offsets[k]);
        }
    }
}

static void expect_age(const char *in, const char *want)
{
    char out[16];
    int rc = deid_age_cap(in, out, sizeof out);
    if (rc != DEID_DATE_OK)
        fail_msg("AS '%s': rc %d", in, rc);
    assert_string_equal(out, want);
}

static void test_age_cap(void **state)
{
    (void)state;
    expect_age("095Y", "090Y");
    expect_age("120y", "090Y");
    expect_age("090Y", "090Y");
    expect_age("089Y", "089Y");
    expect_age("089Y ", "089Y");
    expect_age("045Y", "045Y");
    expect_age("999M", "999M");
    expect_age("1079M", "1079M");
    expect_age("1080M", "090Y");
    expect_age("4695W", "4695W");
    expect_age("4696W", "090Y");
    expect_age("32871D", "32871D");
    expect_age("32872D", "090Y");
    expect_age("003D", "003D");
    const char *bad[] = {"95", "Y", "abcY", "", "09 5Y", "095X", "1234567Y", NULL};
    char out[16];
    for (int i = 0; bad[i]; i++)
        if (deid_age_cap(bad[i], out, sizeof out) != DEID_DATE_INVALID)
            fail_msg("AS '%s' accepted", bad[i]);
    assert_int_equal(deid_age_cap("095Y", out, 4), DEID_DATE_NOSPACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_da_basic),
        cmocka_unit_test(test_da_partial),
        cmocka_unit_test(test_da_ranges_multi),
        cmocka_unit_test(test_da_invalid),
        cmocka_unit_test(test_dt_forms),
        cmocka_unit_test(test_dt_ranges),
        cmocka_unit_test(test_dt_invalid),
        cmocka_unit_test(test_intervals),
        cmocka_unit_test(test_age_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
