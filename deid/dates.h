/* deid/dates.h — shifting DICOM dates by a whole number of days, and capping ages.
 *
 * Owns the Gregorian calendar arithmetic (no mktime, no time zone: the result is the
 * same on every machine) and the DA, DT and AS value syntax. Every patient gets one
 * offset in days (deid_date_offset in pseudo.h), so intervals between a patient's dates
 * stay exact.
 *
 * TM values carry no date and are left unchanged: shifting by whole days never moves a
 * time of day, so a date+time pair (e.g. Study Date + Study Time) stays consistent when
 * only its DA is shifted.
 *
 * All functions are pure and thread-safe. Outputs go to caller-owned buffers, without
 * DICOM padding; an output never holds more characters than its input. */
#ifndef DEIDTK_DATES_H
#define DEIDTK_DATES_H

#include <stddef.h>

/* Results of the value functions below. */
enum {
    DEID_DATE_OK = 0,
    DEID_DATE_INVALID = 1,   /* not a date this module understands: replace it with a dummy */
    DEID_DATE_NOSPACE = 2    /* out is too small: outlen > strlen(value) is always enough */
};

/* Days since 1970-01-01 of a proleptic Gregorian date (years 1..9999).
 * Returns 0, or DEID_DATE_INVALID if the date does not exist (e.g. 2023-02-29). */
int deid_date_to_days(int year, int month, int day, long *days);
/* The inverse. Returns DEID_DATE_INVALID if the result falls outside years 1..9999. */
int deid_days_to_date(long days, int *year, int *month, int *day);

/* Shift a DA value by `days` (any sign; 0 only validates).
 * Each of the backslash-separated values may be YYYYMMDD, the ACR-NEMA form
 * YYYY.MM.DD (kept in that form), a query range "D1-D2" (D1 <= D2), "-D2" or "D1-", or a partial
 * date YYYYMM / YYYY (not valid DA but seen in the wild): a partial date is shifted as the
 * first day of its month / year and written back with its own precision, so its
 * intervals are exact to that precision only. Leading and trailing spaces of each value
 * are dropped; empty values stay empty. */
int deid_shift_da(const char *value, int days, char *out, size_t outlen);

/* Shift a DT value YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX] by `days`. The precision,
 * the time of day, the fraction and the UTC offset suffix are kept as they are; partial
 * dates follow the DA rule above. Ranges ("DT1-DT2", "-DT2", "DT1-") and multiple values
 * are handled. A value that reads as one DT with a negative UTC offset ("2020-0500") is
 * taken as one; a range must read one way only, with its start not after its end. */
int deid_shift_dt(const char *value, int days, char *out, size_t outlen);

/* HIPAA Safe Harbor: ages over 89 are aggregated into one "90 or older" category.
 * as_value is an Age String nnnD/W/M/Y (also accepted: 1 to 6 digits, lower-case unit).
 * An age of 90 years or more, in any unit, becomes "090Y"; other ages are copied
 * unchanged (without padding). Returns DEID_DATE_INVALID, with out empty, if the value is
 * not an age (the caller decides whether to replace it). */
int deid_age_cap(const char *as_value, char *out, size_t outlen);

#endif
