#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "verify/detect.h"
#include "verify/names_table.inc"

#define MAXH 32

/* Whether text has a hit of kind covering exactly the substring want. */
static int has_hit(const char *text, verify_hit_kind kind, const char *want)
{
    verify_hit h[MAXH];
    size_t n = verify_detect(text, h, MAXH);
    for (size_t i = 0; i < n; i++)
        if (h[i].kind == kind && h[i].len == strlen(want) &&
            strncmp(text + h[i].off, want, h[i].len) == 0)
            return 1;
    return 0;
}

static size_t count(const char *text)
{
    verify_hit h[MAXH];
    return verify_detect(text, h, MAXH);
}

static void test_names_with_evidence(void **state)
{
    (void)state;
    assert_true(has_hit("CT CHEST W/O CONTRAST for John Smith", VERIFY_HIT_NAME, "John Smith"));
    assert_true(has_hit("SMITH^JOHN was here", VERIFY_HIT_NAME, "SMITH^JOHN"));
    assert_true(has_hit("reviewed: Smith, John", VERIFY_HIT_NAME, "Smith, John"));
    assert_true(has_hit("Dr. Brown reviewed", VERIFY_HIT_NAME, "Dr. Brown"));
    assert_true(has_hit("Pt John A. Smith MRN", VERIFY_HIT_NAME, "John A. Smith"));
    assert_true(has_hit("step: Horatio B Lindgren", VERIFY_HIT_NAME, "Horatio B Lindgren"));
    assert_true(has_hit("discussed with Hollingsworth MD", VERIFY_HIT_NAME, "Hollingsworth"));
    assert_true(has_hit("tech Fairweather-Oyama", VERIFY_HIT_NAME, "Fairweather-Oyama"));
    assert_true(has_hit("MARY JONES CHEST", VERIFY_HIT_NAME, "MARY JONES"));
}

/* Names with Latin diacritics are found as their plain forms are: the census lists have
 * JOSE and GARCIA. Other scripts, and symbols, are not taken for Latin letters. */
static void test_names_with_diacritics(void **state)
{
    (void)state;
    assert_true(has_hit("CT CHEST for John Smith", VERIFY_HIT_NAME, "John Smith"));
    assert_true(has_hit("CT CHEST for Jos\u00e9 Garc\u00eda", VERIFY_HIT_NAME,
                        "Jos\u00e9 Garc\u00eda"));
    assert_true(has_hit("\u00c9mile Zola follow-up", VERIFY_HIT_NAME, "\u00c9mile Zola"));
    assert_true(has_hit("seen by Fran\u00e7ois Dupr\u00e9", VERIFY_HIT_NAME,
                        "Fran\u00e7ois Dupr\u00e9"));
    assert_true(has_hit("MAR\u00cdA L\u00d3PEZ CHEST", VERIFY_HIT_NAME, "MAR\u00cdA L\u00d3PEZ"));
    assert_true(verify_is_person_name_word("Garc\u00eda", strlen("Garc\u00eda")));
    assert_true(verify_is_person_name_word("\u0141opez", strlen("\u0141opez")));
    assert_false(verify_is_person_name_word("\u041a\u043e\u043d\u0442", 8));
    assert_false(verify_is_person_name_word("Jo\u00a9", strlen("Jo\u00a9")));
    assert_int_equal(count("Gadolinium \u00e9tude contraste"), 0);
}

/* A name is found however far into a long text it stands. */
static void test_names_in_long_text(void **state)
{
    (void)state;
    char text[4096], *p = text;
    for (int i = 0; i < 400; i++)
        p += sprintf(p, "nodule ");
    strcpy(p, "seen by John Smith");
    assert_true(has_hit(text, VERIFY_HIT_NAME, "John Smith"));
}

static void test_name_severity(void **state)
{
    (void)state;
    verify_hit h[MAXH];
    const char *t = "ordered by Carrington";
    size_t n = verify_detect(t, h, MAXH);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].kind, VERIFY_HIT_NAME);
    assert_int_equal(h[0].severity, SEV_SUSPECT);
    t = "for John Smith";
    n = verify_detect(t, h, MAXH);
    assert_int_equal(n, 1);
    assert_int_equal(h[0].severity, SEV_PHI);
}

static void test_dates_times(void **state)
{
    (void)state;
    const char *forms[] = {"19610314", "1961-03-14", "03/14/1961", "14.03.1961", "14-Mar-1961",
                           "March 14, 1961", "Mar 14 1961", "1961/03/14", "14 March 1961"};
    char buf[64];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(buf, sizeof buf, "born %s here", forms[i]);
        assert_true(has_hit(buf, VERIFY_HIT_DATE, forms[i]));
    }
    assert_false(has_hit("id 19611314", VERIFY_HIT_DATE, "19611314")); /* month 13 */
    assert_false(has_hit("02/30/1961", VERIFY_HIT_DATE, "02/30/1961"));
    assert_true(has_hit("at 10:42", VERIFY_HIT_TIME, "10:42"));
    assert_true(has_hit("at 10:42:13 today", VERIFY_HIT_TIME, "10:42:13"));
    assert_false(has_hit("ratio 25:61", VERIFY_HIT_TIME, "25:61"));
}

static void test_contacts_and_ids(void **state)
{
    (void)state;
    assert_true(has_hit("call (555) 123-4567", VERIFY_HIT_PHONE, "(555) 123-4567"));
    assert_true(has_hit("call 555-123-4567.", VERIFY_HIT_PHONE, "555-123-4567"));
    assert_true(has_hit("call 555.123.4567", VERIFY_HIT_PHONE, "555.123.4567"));
    assert_true(has_hit("tel +44 20 7946 0958", VERIFY_HIT_PHONE, "+44 20 7946 0958"));
    assert_true(has_hit("tel +1 541 555 0121", VERIFY_HIT_PHONE, "+1 541 555 0121"));
    assert_true(has_hit("mail jo.smith@example.org now", VERIFY_HIT_EMAIL, "jo.smith@example.org"));
    assert_true(has_hit("SSN 123-45-6789", VERIFY_HIT_SSN, "123-45-6789"));
    assert_true(has_hit("see https://example.org/a?b=1.", VERIFY_HIT_URL, "https://example.org/a?b=1"));
    assert_true(has_hit("MRN 12345678", VERIFY_HIT_ID, "12345678"));
    assert_true(has_hit("MRN12345678", VERIFY_HIT_ID, "MRN12345678"));
    assert_true(has_hit("chart AB-30591-7 seen", VERIFY_HIT_ID, "AB-30591-7"));
    assert_false(has_hit("T2W-TSE-320", VERIFY_HIT_ID, "T2W-TSE-320"));
    assert_false(has_hit("thickness 0.123456", VERIFY_HIT_ID, "123456"));
    assert_int_equal(count("UID 1.2.840.113619.2.55.3.604688119"), 0);
}

static void test_addresses_and_ages(void **state)
{
    (void)state;
    assert_true(has_hit("of 123 Main Street, Springfield", VERIFY_HIT_ADDRESS, "123 Main Street"));
    assert_true(has_hit("at 7 Kingfisher Bend", VERIFY_HIT_ADDRESS, "7 Kingfisher Bend"));
    assert_true(has_hit("4 Elm Rd.", VERIFY_HIT_ADDRESS, "4 Elm Rd."));
    assert_true(has_hit("write to PO Box 55", VERIFY_HIT_ADDRESS, "PO Box 55"));
    assert_true(has_hit("Bend, OR 97701", VERIFY_HIT_ADDRESS, "OR 97701"));
    assert_true(has_hit("a 92 year old man", VERIFY_HIT_AGE, "92 year old"));
    assert_true(has_hit("a 95-year-old", VERIFY_HIT_AGE, "95-year-old"));
    assert_true(has_hit("91 yo F", VERIFY_HIT_AGE, "91 yo"));
    assert_true(has_hit("age 97", VERIFY_HIT_AGE, "age 97"));
    assert_false(has_hit("a 45 year old", VERIFY_HIT_AGE, "45 year old"));
}

/* Typical clinical descriptions: none may fire. */
static void test_clinical_negatives(void **state)
{
    (void)state;
    const char *neg[] = {"T1 AXIAL POST GD", "CHEST PA/LAT", "White matter lesions",
                         "Head CT w/o contrast", "LEFT HAND 3 VIEWS", "Brain MRI 1.5T",
                         "DWI b=1000", "Slice 5 of 20", "120 kV 250 mA", "40/400", "0.625",
                         "MR BRAIN", "MS LESIONS", "Bone scan whole body", "AX T2 FLAIR",
                         "Long bone survey", "Lung window 1500/-600", "Mark the lesion",
                         "CT HEAD WO CONTRAST", "RIGHT KNEE 2 VIEWS", "COR T1 SE",
                         "Rose Bengal", "Carotid duplex cine", "SERIES 3 OF 7 ROUTINE",
                         "May 2019 follow-up", "Grant funded research protocol 2",
                         "Isocenter Beam 2", "Lossy compression ratio 0.084906"};
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        size_t n = count(neg[i]);
        if (n)
            print_message("unexpected hit in \"%s\"\n", neg[i]);
        assert_int_equal(n, 0);
    }
}

static void test_value_entry(void **state)
{
    (void)state;
    verify_hit h[MAXH];
    assert_int_equal(verify_detect_value("DA", "StudyDate", "19610314", h, MAXH), 0);
    assert_int_equal(verify_detect_value("UI", NULL, "1.2.3.4.19610314", h, MAXH), 0);
    assert_int_equal(verify_detect_value("IS", NULL, "12345678", h, MAXH), 0);
    assert_int_equal(verify_detect_value("SH", "CodeValue", "113040", h, MAXH), 0);
    assert_int_equal(verify_detect_value("PN", NULL, "SMITH^JOHN", h, MAXH), 1);
    assert_int_equal(h[0].kind, VERIFY_HIT_NAME);
    assert_int_equal(h[0].severity, SEV_PHI);
    assert_int_equal(h[0].len, 10);
    assert_int_equal(verify_detect_value("PN", NULL, "^", h, MAXH), 0);
    assert_int_equal(verify_detect_value("LO", "StudyDescription", "CT for John Smith", h, MAXH), 1);
    assert_string_equal(verify_hit_kind_name(VERIFY_HIT_SSN), "ssn");
}

static void test_hits_bounded_and_sorted(void **state)
{
    (void)state;
    verify_hit h[2];
    const char *t = "555-123-4567 and 1961-03-14 and jo@example.org";
    assert_int_equal(verify_detect(t, h, 2), 2);
    assert_true(h[0].off < h[1].off);
    assert_int_equal(verify_detect("", h, 2), 0);
    assert_true(verify_is_person_name_word("smith", 5));
    assert_false(verify_is_person_name_word("White", 5));
    assert_false(verify_is_person_name_word("Contrast", 8));
}

/* The lists' lookup as it used to be, by binary search of the sorted tables: the hash
 * table must answer as it does. */
static int ref_cmp_str(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

static int ref_cmp_last(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct last_name *)elem)->name);
}

static unsigned ref_lookup(const char *up, unsigned *rank)
{
    unsigned f = 0;
    size_t nf = sizeof first_names / sizeof first_names[0];
    size_t nl = sizeof last_names / sizeof last_names[0];
    size_t nc = sizeof clinical_words / sizeof clinical_words[0];
    if (bsearch(up, first_names, nf, sizeof first_names[0], ref_cmp_str))
        f |= VERIFY_NAME_FIRST;
    const struct last_name *ln = bsearch(up, last_names, nl, sizeof last_names[0], ref_cmp_last);
    *rank = ln ? ln->rank : 0;
    if (ln)
        f |= VERIFY_NAME_LAST;
    if (bsearch(up, clinical_words, nc, sizeof clinical_words[0], ref_cmp_str))
        f |= VERIFY_NAME_CLINICAL;
    return f;
}

/* The word itself, and two near misses that are mostly not listed. */
static void check_word(const char *w)
{
    char v[3][80];
    snprintf(v[0], sizeof v[0], "%s", w);
    snprintf(v[1], sizeof v[1], "%sQ", w);
    snprintf(v[2], sizeof v[2], "%.*s", (int)(strlen(w) ? strlen(w) - 1 : 0), w);
    for (int i = 0; i < 3; i++) {
        unsigned want_rank, got_rank;
        unsigned want = ref_lookup(v[i], &want_rank);
        assert_int_equal(verify_name_lookup(v[i], &got_rank), want);
        assert_int_equal(got_rank, want_rank);
    }
}

static void test_name_lookup_matches_lists(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof first_names / sizeof first_names[0]; i++)
        check_word(first_names[i]);
    for (size_t i = 0; i < sizeof last_names / sizeof last_names[0]; i++)
        check_word(last_names[i].name);
    for (size_t i = 0; i < sizeof clinical_words / sizeof clinical_words[0]; i++)
        check_word(clinical_words[i]);
    unsigned r = 1;
    assert_int_equal(verify_name_lookup("SMITH", &r), VERIFY_NAME_LAST);
    assert_true(r > 0 && r < 10);
    assert_int_equal(verify_name_lookup("NOTANAMEXYZ", &r), 0);
    assert_int_equal(r, 0);
    assert_int_equal(verify_name_lookup("smith", NULL), 0);  /* upper case only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_with_evidence),
        cmocka_unit_test(test_names_with_diacritics),
        cmocka_unit_test(test_names_in_long_text),
        cmocka_unit_test(test_name_severity),
        cmocka_unit_test(test_dates_times),
        cmocka_unit_test(test_contacts_and_ids),
        cmocka_unit_test(test_addresses_and_ages),
        cmocka_unit_test(test_clinical_negatives),
        cmocka_unit_test(test_value_entry),
        cmocka_unit_test(test_hits_bounded_and_sorted),
        cmocka_unit_test(test_name_lookup_matches_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
