/* deid/dates.c — Gregorian calendar arithmetic, DA/DT shifting, AS capping. */
#include "config.h"
#include <string.h>
#include "deid/dates.h"

static const int cum_days[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_len(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Days from 0001-01-01 to January 1st of year y. */
static long days_before_year(long y)
{
    long p = y - 1;
    return 365 * p + p / 4 - p / 100 + p / 400;
}

#define EPOCH_FROM_YEAR1 719162L   /* days_before_year(1970) */

int deid_date_to_days(int year, int month, int day, long *days)
{
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > month_len(year, month))
        return DEID_DATE_INVALID;
    long n = days_before_year(year) + cum_days[month - 1] + (month > 2 && is_leap(year)) + day - 1;
    *days = n - EPOCH_FROM_YEAR1;
    return DEID_DATE_OK;
}

int deid_days_to_date(long days, int *year, int *month, int *day)
{
    long n = days + EPOCH_FROM_YEAR1;
    if (n < 0 || n >= days_before_year(10000))
        return DEID_DATE_INVALID;
    /* 146097 days per 400 years gives the year to within one; then correct it. */
    long y = n * 400 / 146097 + 1;
    while (y > 1 && days_before_year(y) > n)
        y--;
    while (days_before_year(y + 1) <= n)
        y++;
    int doy = (int)(n - days_before_year(y));
    int m = 1;
    while (m < 12 && doy >= cum_days[m] + (m >= 2 && is_leap((int)y)))
        m++;
    *year = (int)y;
    *month = m;
    *day = doy - cum_days[m - 1] - (m > 2 && is_leap((int)y)) + 1;
    return DEID_DATE_OK;
}

/* Value of n decimal digits at s, or -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void put_digits(char *out, int v, size_t n)
{
    for (size_t i = n; i-- > 0; v /= 10)
        out[i] = (char)('0' + v % 10);
}

/* Shift the date YYYY, YYYYMM or YYYYMMDD (prec 4, 6 or 8) at s; a partial date counts as
 * the first day of its month or year. Writes prec digits to out unless out is NULL;
 * *start receives the unshifted day number. */
static int shift_date_digits(const char *s, size_t prec, int days, char *out, long *start)
{
    int y = digits(s, 4);
    int m = prec >= 6 ? digits(s + 4, 2) : 1;
    int d = prec >= 8 ? digits(s + 6, 2) : 1;
    long n;
    if (y < 0 || m < 0 || d < 0 || deid_date_to_days(y, m, d, &n) != DEID_DATE_OK)
        return DEID_DATE_INVALID;
    *start = n;
    if (deid_days_to_date(n + days, &y, &m, &d) != DEID_DATE_OK)
        return DEID_DATE_INVALID;
    if (out) {
        put_digits(out, y, 4);
        if (prec >= 6)
            put_digits(out + 4, m, 2);
        if (prec >= 8)
            put_digits(out + 6, d, 2);
    }
    return DEID_DATE_OK;
}

/* One DA value of n characters (no range, no padding); out receives n characters. */
static int shift_da_one(const char *s, size_t n, int days, char *out, long *start)
{
    if (n == 10 && s[4] == '.' && s[7] == '.') {
        /* ACR-NEMA YYYY.MM.DD: shift it as YYYYMMDD and put the dots back. */
        char compact[8], shifted[8];
        memcpy(compact, s, 4);
        memcpy(compact + 4, s + 5, 2);
        memcpy(compact + 6, s + 8, 2);
        int rc = shift_date_digits(compact, 8, days, out ? shifted : NULL, start);
        if (rc == DEID_DATE_OK && out) {
            memcpy(out, shifted, 4);
            out[4] = '.';
            memcpy(out + 5, shifted + 4, 2);
            out[7] = '.';
            memcpy(out + 8, shifted + 6, 2);
        }
        return rc;
    }
    if (n != 4 && n != 6 && n != 8)
        return DEID_DATE_INVALID;
    return shift_date_digits(s, n, days, out, start);
}

/* One DT value of n characters (no range, no padding); out receives n characters. */
static int shift_dt_one(const char *s, size_t n, int days, char *out, long *start)
{
    size_t nd = 0;
    while (nd < n && nd < 14 && s[nd] >= '0' && s[nd] <= '9')
        nd++;
    if (nd < 4 || nd % 2 != 0)
        return DEID_DATE_INVALID;
    if ((nd >= 10 && digits(s + 8, 2) > 23) || (nd >= 12 && digits(s + 10, 2) > 59) ||
        (nd >= 14 && digits(s + 12, 2) > 60))
        return DEID_DATE_INVALID;
    size_t i = nd;
    if (nd == 14 && i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f || i - f > 6)
            return DEID_DATE_INVALID;
    }
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (n - i != 5)
            return DEID_DATE_INVALID;
        int hh = digits(s + i + 1, 2), mm = digits(s + i + 3, 2);
        int minutes = (hh * 60 + mm) * (s[i] == '-' ? -1 : 1);
        if (hh < 0 || mm < 0 || mm > 59 || minutes < -12 * 60 || minutes > 14 * 60)
            return DEID_DATE_INVALID;
        i = n;
    }
    if (i != n)
        return DEID_DATE_INVALID;
    size_t prec = nd < 8 ? nd : 8;
    int rc = shift_date_digits(s, prec, days, out, start);
    if (rc == DEID_DATE_OK && out)
        memcpy(out + prec, s + prec, n - prec);   /* time, fraction and offset stay as they are */
    return rc;
}

typedef int (*shift_one_fn)(const char *s, size_t n, int days, char *out, long *start);

/* A single value or a query range "A-B", "-B", "A-" with A <= B. DT offsets contain '-'
 * too, so a value that is one valid DT is taken as one; otherwise every split is tried and
 * exactly one must read as a valid range. */
static int shift_range(shift_one_fn one, const char *s, size_t n, int days, char *out)
{
    long a = 0, b = 0;
    if (n == 0)
        return DEID_DATE_OK;
    if (one(s, n, days, NULL, &a) == DEID_DATE_OK)
        return one(s, n, days, out, &a);
    size_t split = 0;
    int found = 0;
    for (size_t p = 0; p < n; p++) {
        if (s[p] != '-' || n == 1)
            continue;
        int left = p == 0 || one(s, p, days, NULL, &a) == DEID_DATE_OK;
        int right = p == n - 1 || one(s + p + 1, n - p - 1, days, NULL, &b) == DEID_DATE_OK;
        if (left && right && (p == 0 || p == n - 1 || a <= b)) {
            split = p;
            found++;
        }
    }
    if (found != 1)
        return DEID_DATE_INVALID;
    if (split > 0)
        one(s, split, days, out, &a);
    out[split] = '-';
    if (split < n - 1)
        one(s + split + 1, n - split - 1, days, out + split + 1, &b);
    return DEID_DATE_OK;
}

/* Backslash-separated values, each trimmed of spaces, shifted one by one. */
static int shift_multi(shift_one_fn one, const char *value, int days, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = value;
    for (;;) {
        const char *end = strchr(p, '\\');
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && *b == ' ')
            b++;
        while (e > b && e[-1] == ' ')
            e--;
        size_t n = (size_t)(e - b);
        if (o + n + 1 > outlen)
            return DEID_DATE_NOSPACE;
        int rc = shift_range(one, b, n, days, out + o);
        if (rc != DEID_DATE_OK)
            return rc;
        o += n;
        if (*end != '\\')
            break;
        if (o + 2 > outlen)
            return DEID_DATE_NOSPACE;
        out[o++] = '\\';
        p = end + 1;
    }
    out[o] = '\0';
    return DEID_DATE_OK;
}

int deid_shift_da(const char *value, int days, char *out, size_t outlen)
{
    if (outlen == 0)
        return DEID_DATE_NOSPACE;
    return shift_multi(shift_da_one, value, days, out, outlen);
}

int deid_shift_dt(const char *value, int days, char *out, size_t outlen)
{
    if (outlen == 0)
        return DEID_DATE_NOSPACE;
    return shift_multi(shift_dt_one, value, days, out, outlen);
}

int deid_age_cap(const char *as_value, char *out, size_t outlen)
{
    if (outlen == 0)
        return DEID_DATE_NOSPACE;
    out[0] = '\0';
    const char *b = as_value, *e = as_value + strlen(as_value);
    while (b < e && *b == ' ')
        b++;
    while (e > b && e[-1] == ' ')
        e--;
    size_t n = (size_t)(e - b);
    if (n < 2 || n > 7)
        return DEID_DATE_INVALID;
    long v = digits(b, n - 1);
    if (v < 0)
        return DEID_DATE_INVALID;
    /* The smallest count of each unit that is 90 years (365.2425 days each) or more. */
    long limit;
    switch (e[-1]) {
    case 'Y': case 'y': limit = 90; break;
    case 'M': case 'm': limit = 90 * 12; break;
    case 'W': case 'w': limit = 4696; break;
    case 'D': case 'd': limit = 32872; break;
    default: return DEID_DATE_INVALID;
    }
    const char *src = b;
    if (v >= limit) {
        src = "090Y";
        n = 4;
    }
    if (n + 1 > outlen)
        return DEID_DATE_NOSPACE;
    memcpy(out, src, n);
    out[n] = '\0';
    return DEID_DATE_OK;
}
