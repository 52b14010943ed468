#include "config.h"

#include "verify/detect.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "verify/names_table.inc"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* Last names ranked this high in the census are common enough to count as a name after a
 * cue word even when they stand alone. */
#define COMMON_LAST_RANK 5000
#define WORD_MAX 64

typedef struct {
    const char *s;
    size_t n;
    verify_hit *hits;
    size_t nhits, max;
} scan;

const char *verify_hit_kind_name(verify_hit_kind kind)
{
    static const char *const names[] = {"name", "date", "time", "phone", "email",
                                        "ssn", "address", "id", "age", "url"};
    return (size_t)kind < NELEM(names) ? names[kind] : "unknown";
}

/* Records a hit unless it overlaps one already recorded (earlier detectors win). */
static int add_hit(scan *sc, verify_hit_kind kind, size_t off, size_t len, verify_severity sev)
{
    if (sc->nhits >= sc->max || len == 0)
        return 0;
    for (size_t i = 0; i < sc->nhits; i++) {
        const verify_hit *h = &sc->hits[i];
        if (off < h->off + h->len && h->off < off + len)
            return 0;
    }
    sc->hits[sc->nhits++] = (verify_hit){kind, off, len, sev};
    return 1;
}

static int covered(const scan *sc, size_t off)
{
    for (size_t i = 0; i < sc->nhits; i++)
        if (off >= sc->hits[i].off && off < sc->hits[i].off + sc->hits[i].len)
            return 1;
    return 0;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_alnum(int c) { return is_digit(c) || is_alpha(c); }
/* Bytes of multi-byte UTF-8 sequences count as letters: names are often non-ASCII. */
static int is_wordch(int c) { return is_alnum(c) || (c & 0x80); }

/* The three lists as one open-addressing hash table of upper-case words, built once: a word
 * costs a hash and a probe or two instead of three binary searches. */
#define NAME_WORDS (NELEM(first_names) + NELEM(last_names) + NELEM(clinical_words))
#define NAME_SLOTS (1u << 18)
_Static_assert(NAME_WORDS < NAME_SLOTS / 2, "name table too full for linear probing");

typedef struct {
    const char *word;
    uint32_t hash;
    unsigned flags;  /* VERIFY_NAME_* */
    unsigned rank;   /* census rank as a last name */
} name_entry;

static name_entry name_entries[NAME_WORDS];
static uint32_t name_slots[NAME_SLOTS];  /* index into name_entries + 1; 0 = empty */
static size_t name_count;
static pthread_once_t name_once = PTHREAD_ONCE_INIT;

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static name_entry *name_find(const char *up, uint32_t h, int insert)
{
    for (uint32_t i = h & (NAME_SLOTS - 1);; i = (i + 1) & (NAME_SLOTS - 1)) {
        uint32_t k = name_slots[i];
        if (k == 0) {
            if (!insert)
                return NULL;
            name_entry *e = &name_entries[name_count++];
            *e = (name_entry){up, h, 0, 0};
            name_slots[i] = (uint32_t)name_count;
            return e;
        }
        name_entry *e = &name_entries[k - 1];
        if (e->hash == h && strcmp(e->word, up) == 0)
            return e;
    }
}

static void name_build(void)
{
    for (size_t i = 0; i < NELEM(first_names); i++)
        name_find(first_names[i], name_hash(first_names[i]), 1)->flags |= VERIFY_NAME_FIRST;
    for (size_t i = 0; i < NELEM(last_names); i++) {
        name_entry *e = name_find(last_names[i].name, name_hash(last_names[i].name), 1);
        e->flags |= VERIFY_NAME_LAST;
        e->rank = last_names[i].rank;
    }
    for (size_t i = 0; i < NELEM(clinical_words); i++)
        name_find(clinical_words[i], name_hash(clinical_words[i]), 1)->flags |=
            VERIFY_NAME_CLINICAL;
}

unsigned verify_name_lookup(const char *upper, unsigned *last_rank)
{
    pthread_once(&name_once, name_build);
    const name_entry *e = name_find(upper, name_hash(upper), 0);
    if (last_rank)
        *last_rank = e ? e->rank : 0;
    return e ? e->flags : 0;
}

/* Upper-cases s[0..n) into buf; fails on words too long or not plain letters. */
static int upper_word(const char *s, size_t n, char *buf)
{
    if (n == 0 || n >= WORD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (!is_alpha(c) && c != '\'')
            return 0;
        buf[i] = (char)toupper(c);
    }
    buf[n] = '\0';
    return 1;
}

enum { W_FIRST = 1, W_LAST = 2, W_CLINICAL = 4, W_COMMON_LAST = 8 };

/* Classifies one word; a hyphenated word ("Oyama-Fairweather") takes the union of its parts
 * and is clinical only when every part is. */
static unsigned classify(const char *s, size_t n)
{
    char buf[WORD_MAX];
    unsigned f = 0;
    int all_clinical = 1, parts = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '-')
            j++;
        if (upper_word(s + i, j - i, buf)) {
            parts++;
            unsigned r;
            unsigned listed = verify_name_lookup(buf, &r);
            if (listed & VERIFY_NAME_CLINICAL) {
                i = j + 1;
                continue;
            }
            all_clinical = 0;
            if (listed & VERIFY_NAME_FIRST)
                f |= W_FIRST;
            if (r)
                f |= W_LAST | (r <= COMMON_LAST_RANK ? W_COMMON_LAST : 0);
        } else {
            all_clinical = 0;
        }
        i = j + 1;
    }
    if (parts && all_clinical)
        f = W_CLINICAL;
    return f;
}

/* Latin letters with diacritics, U+00C0 to U+017F, and their plain letters: the census
 * lists have names without them (José is JOSE, Müller MULLER, Łukasz LUKASZ). A digit
 * stands for the pair of letters of that index in fold_pairs; '.' is not a letter. */
static const char fold_latin1[] = "AAAAAA0CEEEEIIIIDNOOOOO.OUUUUY12aaaaaa3ceeeeiiiidnooooo.ouuuuy4y";
static const char fold_latin_a[] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi56JjKkkLlLlLlLlLlNnNnNnnNnOoOoOo78"
    "RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
static const char *const fold_pairs[] = {"AE", "TH", "ss", "ae", "th", "IJ", "ij", "OE", "oe"};

/* s[0..n) into out (outmax bytes, NUL-terminated) with the letters above folded; its
 * length, or 0 when s holds another non-ASCII character (another script) or does not fit. */
static size_t fold_latin(const char *s, size_t n, char *out, size_t outmax)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        const char *add = &s[i];
        size_t len = 1;
        if (c & 0x80) {
            unsigned c2 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
            if (c < 0xc3 || c > 0xc5 || (c2 & 0xc0) != 0x80)
                return 0;
            unsigned cp = (c & 0x1f) << 6 | (c2 & 0x3f);
            add = cp < 0x100 ? &fold_latin1[cp - 0xc0] : &fold_latin_a[cp - 0x100];
            if (*add == '.')
                return 0;
            if (is_digit((unsigned char)*add)) {
                add = fold_pairs[*add - '0'];
                len = 2;
            }
            i++;
        }
        if (k + len >= outmax)
            return 0;
        memcpy(out + k, add, len);
        k += len;
    }
    out[k] = '\0';
    return k;
}

int verify_is_person_name_word(const char *word, size_t len)
{
    char folded[WORD_MAX];
    size_t n = fold_latin(word, len, folded, sizeof folded);
    unsigned f = n ? classify(folded, n) : 0;
    return (f & (W_FIRST | W_LAST)) != 0;
}

/* ---- words for the name rules ---- */

typedef struct {
    size_t off, len;
    unsigned flags;
    int cap;      /* Capitalised: upper then at least one lower */
    int upper;    /* all upper case, two letters or more */
    int initial;  /* a single upper-case letter */
    int dot;      /* followed directly by '.' */
} word;

#define MAX_WORDS 256

/* Splits text from byte `from` into letter words (letters, inner hyphens and apostrophes),
 * maxw at most. */
static size_t split_words(const char *s, size_t n, size_t from, word *w, size_t maxw)
{
    size_t nw = 0, i = from;
    while (i < n && nw < maxw) {
        if (!is_alpha((unsigned char)s[i]) && !((unsigned char)s[i] & 0x80)) {
            i++;
            continue;
        }
        size_t b = i;
        while (i < n && (is_wordch((unsigned char)s[i]) ||
                         ((s[i] == '-' || s[i] == '\'') && i + 1 < n &&
                          is_alpha((unsigned char)s[i + 1]) && i > b)))
            i++;
        word *x = &w[nw];
        memset(x, 0, sizeof *x);
        x->off = b;
        x->len = i - b;
        /* Judged with Latin diacritics folded ("Émile" is a capitalised EMILE); a word of
         * another script keeps its bytes and is not looked up. */
        char folded[WORD_MAX];
        size_t fn = fold_latin(s + b, x->len, folded, sizeof folded);
        const char *t = fn ? folded : s + b;
        size_t tn = fn ? fn : x->len;
        int lower = 0, up = 0, digit = 0, high = 0;
        for (size_t k = 0; k < tn; k++) {
            int c = (unsigned char)t[k];
            if (c >= 'a' && c <= 'z') lower++;
            else if (c >= 'A' && c <= 'Z') up++;
            else if (is_digit(c)) digit++;
            else if (c & 0x80) high++;
        }
        /* Words glued to digits (T1, b1000, 3D) are codes, never names. */
        if (digit || (b > 0 && is_digit((unsigned char)s[b - 1])) ||
            (i < n && is_digit((unsigned char)s[i])))
            continue;
        int c0 = (unsigned char)t[0];
        x->cap = c0 >= 'A' && c0 <= 'Z' && (lower > 0 || high > 0);
        x->upper = lower == 0 && up >= 2;
        x->initial = tn == 1 && c0 >= 'A' && c0 <= 'Z';
        x->dot = i < n && s[i] == '.';
        if (!high)
            x->flags = classify(t, tn);
        nw++;
    }
    return nw;
}


static int word_is(const char *s, const word *w, const char *const *set)
{
    for (; *set; set++)
        if (strlen(*set) == w->len && strncasecmp(s + w->off, *set, w->len) == 0)
            return 1;
    return 0;
}

static const char *const titles[] = {"dr", "mr", "mrs", "ms", "miss", "prof", "doctor", "mx", NULL};
/* Only blanks (and the dot of an initial or a title) separate w[a] from w[b]. */
static int adjacent(const char *s, const word *a, const word *b)
{
    for (size_t k = a->off + a->len; k < b->off; k++)
        if (s[k] != ' ' && !(s[k] == '.' && k == a->off + a->len &&
                             (a->initial || word_is(s, a, titles))))
            return 0;
    return b->off > a->off + a->len;
}

static int name_shaped(const word *w) { return w->cap || w->upper; }
static int same_style(const word *a, const word *b) { return (a->cap && b->cap) || (a->upper && b->upper); }
static int listed(const word *w) { return (w->flags & (W_FIRST | W_LAST)) != 0; }

static const char *const cues[] = {"by", "re", "tech", "technologist", "technician", "pt",
                                   "patient", "physician", "radiologist", "referring",
                                   "attending", "resident", "nurse", "operator", "surgeon",
                                   "name", "named", "per", "cc", "dictated", "signed",
                                   "reported", "read", NULL};
static const char *const degrees[] = {"md", "phd", "rn", "np", "pa-c", "dds", "mbbs", "frcr",
                                      NULL};

/* Extends the name starting at w[last] to the right over initials and listed words of its
 * style. */
static size_t extend_name(const char *s, const word *w, size_t nw, size_t last)
{
    const word *style = &w[last];
    while (last + 1 < nw && adjacent(s, &w[last], &w[last + 1])) {
        const word *nx = &w[last + 1];
        if ((nx->initial && last + 2 < nw && adjacent(s, nx, &w[last + 2])) ||
            (name_shaped(nx) && listed(nx) && same_style(style, nx)))
            last++;
        else
            break;
    }
    return last;
}

static void name_span(scan *sc, const word *w, size_t a, size_t b, verify_severity sev)
{
    size_t end = w[b].off + w[b].len;
    if (w[b].initial && w[b].dot)
        end++;
    add_hit(sc, VERIFY_HIT_NAME, w[a].off, end - w[a].off, sev);
}

/* The name rules over the words w[0..nw) of sc's text. */
static void names_in(scan *sc, word *w, size_t nw)
{
    const char *s = sc->s;
    for (size_t i = 0; i < nw; i++) {
        if (covered(sc, w[i].off))
            continue;
        word *a = &w[i];
        word *b = i + 1 < nw ? &w[i + 1] : NULL;

        /* PN shape: FAMILY^GIVEN inside free text. */
        if (a->off + a->len < sc->n && s[a->off + a->len] == '^') {
            size_t e = a->off;
            while (e < sc->n && (is_wordch((unsigned char)s[e]) || s[e] == '^' || s[e] == '-' ||
                                 s[e] == '\'' || (s[e] == ' ' && e + 1 < sc->n && s[e + 1] != ' ' &&
                                                  memchr(s + e, '^', sc->n - e) != NULL)))
                e++;
            while (e > a->off && (s[e - 1] == '^' || s[e - 1] == ' '))
                e--;
            if (memchr(s + a->off, '^', e - a->off) && e > a->off + a->len + 1) {
                add_hit(sc, VERIFY_HIT_NAME, a->off, e - a->off, SEV_PHI);
                continue;
            }
        }
        if (!b || !adjacent(s, a, b))
            goto suffix;

        /* Title + name: "Dr. Hollingsworth", "Mrs Smith". ALL-CAPS titles collide with
         * modalities and diseases (MR, MS), so they need a listed name. */
        if (word_is(s, a, titles) && name_shaped(b) && !b->initial &&
            (a->upper ? listed(b) && !(b->flags & W_CLINICAL) : 1)) {
            size_t last = extend_name(s, w, nw, i + 1);
            name_span(sc, w, i, last, SEV_PHI);
            i = last;
            continue;
        }
        /* Cue word + listed name: "tech Oyama-Fairweather", "ordered by Carrington". */
        if (word_is(s, a, cues) && !b->initial && !(b->flags & W_CLINICAL) &&
            (listed(b) ? name_shaped(b) : b->cap)) {
            size_t last = extend_name(s, w, nw, i + 1);
            name_span(sc, w, i + 1, last, last > i + 1 && listed(b) ? SEV_PHI : SEV_SUSPECT);
            i = last;
            continue;
        }
        /* Given [Middle|M.] Family: both ends listed, or a given name then an initial then
         * a listed family name ("Horatio A Lindgren"). */
        if (name_shaped(a) && !(a->flags & W_CLINICAL) && !a->initial) {
            size_t j = i + 1;
            int mid_initial = 0;
            if (w[j].initial && j + 1 < nw && adjacent(s, &w[j], &w[j + 1])) {
                mid_initial = 1;
                j++;
            } else if ((w[j].flags & W_FIRST) && j + 1 < nw && adjacent(s, &w[j], &w[j + 1]) &&
                       same_style(a, &w[j]) && (w[j + 1].flags & W_LAST)) {
                j++;
            }
            const word *f = &w[j];
            if (name_shaped(f) && !f->initial && same_style(a, f) && !(f->flags & W_CLINICAL)) {
                int strong = ((a->flags & W_FIRST) && (f->flags & W_LAST)) ||
                             (mid_initial && (listed(a) || listed(f)) && a->cap);
                /* "Isolde M Wojciechowska": the shape alone, without the lists. */
                int shape = mid_initial && a->cap && f->cap;
                if (strong || shape) {
                    name_span(sc, w, i, j, strong ? SEV_PHI : SEV_SUSPECT);
                    i = j;
                    continue;
                }
            }
        }
        /* Family, Given: "Smith, John". */
    suffix:
        if (name_shaped(a) && (a->flags & W_LAST) && b && b->off > a->off + a->len) {
            size_t k = a->off + a->len;
            if (s[k] == ',' && (b->flags & W_FIRST) && same_style(a, b) &&
                b->off <= k + 2 && (b->off == k + 1 || s[k + 1] == ' ')) {
                name_span(sc, w, i, i + 1, SEV_PHI);
                i++;
                continue;
            }
        }
        /* Name + degree: "Hollingsworth MD", "Smith, M.D.". */
        if (name_shaped(a) && !(a->flags & W_CLINICAL) && !a->initial && b &&
            !word_is(s, a, degrees)) {
            size_t k = a->off + a->len;
            if (k < sc->n && s[k] == ',')
                k++;
            while (k < sc->n && s[k] == ' ')
                k++;
            int deg = (k == b->off && word_is(s, b, degrees)) ||
                      (sc->n - k >= 4 && strncmp(s + k, "M.D.", 4) == 0);
            if (deg && k > a->off + a->len && (listed(a) || a->cap)) {
                add_hit(sc, VERIFY_HIT_NAME, a->off, a->len, listed(a) ? SEV_PHI : SEV_SUSPECT);
                continue;
            }
        }
    }
}

/* Every word of the text is looked at, however long it is (a report in an LT or UT value,
 * a page the OCR read): in windows of words that overlap by more than a name is long. */
#define WINDOW_WORDS 4096
#define WINDOW_OVERLAP 16

static void detect_names(scan *sc)
{
    word small[MAX_WORDS], *w = small;
    size_t cap = MAX_WORDS, from = 0;
    if (sc->n > 2 * MAX_WORDS && (w = malloc(WINDOW_WORDS * sizeof *w)) != NULL)
        cap = WINDOW_WORDS;
    else
        w = small;
    for (;;) {
        size_t nw = split_words(sc->s, sc->n, from, w, cap);
        names_in(sc, w, nw);
        if (nw < cap)
            break;
        from = w[nw - WINDOW_OVERLAP].off;
    }
    if (w != small)
        free(w);
}

/* ---- numbers, dates and times ---- */

static size_t digits_at(const char *s, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && is_digit((unsigned char)s[k]))
        k++;
    return k - i;
}

static int num(const char *s, size_t len)
{
    int v = 0;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int valid_date(int y, int m, int d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1];
}

/* A digit run that is part of a decimal number or a dotted UID is not an identifier. */
static int in_decimal(const char *s, size_t n, size_t b, size_t e)
{
    if (b >= 2 && s[b - 1] == '.' && is_digit((unsigned char)s[b - 2]))
        return 1;
    if (e + 1 < n && s[e] == '.' && is_digit((unsigned char)s[e + 1]))
        return 1;
    return 0;
}

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

/* Month name (3 letters or full, optional '.') at s[i]; returns its length or 0. */
static size_t month_at(const char *s, size_t n, size_t i, int *m)
{
    static const char *const full[] = {"january", "february", "march", "april", "may", "june",
                                       "july", "august", "september", "october", "november",
                                       "december"};
    if (i > 0 && is_alpha((unsigned char)s[i - 1]))
        return 0;
    for (int k = 0; k < 12; k++) {
        /* Every spelling of a month starts with its first letter: a cheap test first. */
        if (((unsigned char)s[i] | 0x20) != (unsigned char)full[k][0])
            continue;
        size_t fl = strlen(full[k]);
        size_t len = 0;
        if (n - i >= fl && strncasecmp(s + i, full[k], fl) == 0)
            len = fl;
        else if (n - i >= 4 && strncasecmp(s + i, "sept", 4) == 0 && k == 8)
            len = 4;
        else if (n - i >= 3 && strncasecmp(s + i, months[k], 3) == 0)
            len = 3;
        if (!len || (i + len < n && is_alpha((unsigned char)s[i + len])))
            continue;
        *m = k + 1;
        if (i + len < n && s[i + len] == '.')
            len++;
        return len;
    }
    return 0;
}

static int digit_start(const char *s, size_t i)
{
    return i == 0 || !is_alnum((unsigned char)s[i - 1]);
}

static int digit_end(const char *s, size_t n, size_t e)
{
    return e >= n || !is_alnum((unsigned char)s[e]);
}

static void detect_dates(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        if (!digit_start(s, i) && is_digit((unsigned char)s[i]))
            continue;
        int m;
        size_t ml;
        if (is_digit((unsigned char)s[i])) {
            size_t d1 = digits_at(s, n, i);
            size_t e = i + d1;
            /* 19610314 */
            if (d1 == 8 && digit_end(s, n, e) && !in_decimal(s, n, i, e) &&
                valid_date(num(s + i, 4), num(s + i + 4, 2), num(s + i + 6, 2))) {
                add_hit(sc, VERIFY_HIT_DATE, i, 8, SEV_PHI);
                i = e;
                continue;
            }
            if (e < n && (s[e] == '-' || s[e] == '/' || s[e] == '.')) {
                char sep = s[e];
                size_t d2 = digits_at(s, n, e + 1);
                size_t e2 = e + 1 + d2;
                if (d2 >= 1 && d2 <= 2 && e2 < n && s[e2] == sep) {
                    size_t d3 = digits_at(s, n, e2 + 1);
                    size_t e3 = e2 + 1 + d3;
                    int ok = 0;
                    if (d1 == 4 && d3 >= 1 && d3 <= 2)  /* 1961-03-14 */
                        ok = valid_date(num(s + i, 4), num(s + e + 1, d2), num(s + e2 + 1, d3));
                    else if (d1 <= 2 && d3 == 4) {      /* 03/14/1961, 14.03.1961 */
                        int a = num(s + i, d1), b = num(s + e + 1, d2), y = num(s + e2 + 1, 4);
                        ok = valid_date(y, a, b) || valid_date(y, b, a);
                    }
                    if (ok && digit_end(s, n, e3) && !(e3 + 1 < n && s[e3] == '.' &&
                                                       is_digit((unsigned char)s[e3 + 1]))) {
                        add_hit(sc, VERIFY_HIT_DATE, i, e3 - i, SEV_PHI);
                        i = e3;
                        continue;
                    }
                }
            }
            /* 14-Mar-1961, 14 March 1961 */
            if (d1 <= 2 && e + 1 < n && (s[e] == '-' || s[e] == ' ') &&
                (ml = month_at(s, n, e + 1, &m)) != 0) {
                size_t k = e + 1 + ml;
                if (k < n && (s[k] == '-' || s[k] == ' ')) {
                    size_t d3 = digits_at(s, n, k + 1);
                    if (d3 == 4 && digit_end(s, n, k + 5) &&
                        valid_date(num(s + k + 1, 4), m, num(s + i, d1))) {
                        add_hit(sc, VERIFY_HIT_DATE, i, k + 5 - i, SEV_PHI);
                        i = k + 5;
                        continue;
                    }
                }
            }
            i = e;
            continue;
        }
        /* March 14, 1961; Mar 14 1961 */
        if (is_alpha((unsigned char)s[i]) && (ml = month_at(s, n, i, &m)) != 0) {
            size_t k = i + ml;
            if (k < n && s[k] == ' ') {
                size_t d = digits_at(s, n, k + 1);
                size_t e = k + 1 + d;
                if (d >= 1 && d <= 2) {
                    size_t y = e;
                    if (y + 1 < n && s[y] == ',' && s[y + 1] == ' ')
                        y += 2;
                    else if (y < n && (s[y] == ' ' || s[y] == ','))
                        y++;
                    if (y > e && digits_at(s, n, y) == 4 && digit_end(s, n, y + 4) &&
                        valid_date(num(s + y, 4), m, num(s + k + 1, d))) {
                        add_hit(sc, VERIFY_HIT_DATE, i, y + 4 - i, SEV_PHI);
                        i = y + 3;
                        continue;
                    }
                }
            }
        }
    }
}

static void detect_times(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]) || !digit_start(s, i) || (i > 0 && s[i - 1] == ':'))
            continue;
        size_t d1 = digits_at(s, n, i);
        size_t e = i + d1;
        if (d1 < 1 || d1 > 2 || e + 2 >= n || s[e] != ':' || digits_at(s, n, e + 1) != 2) {
            i = e;
            continue;
        }
        int h = num(s + i, d1), mi = num(s + e + 1, 2);
        size_t end = e + 3;
        if (end + 2 < n + 0 && s[end] == ':' && digits_at(s, n, end + 1) == 2)
            end += 3;
        if (h <= 23 && mi <= 59 && digit_end(s, n, end) && !(end < n && s[end] == ':'))
            add_hit(sc, VERIFY_HIT_TIME, i, end - i, SEV_SUSPECT);
        i = end;
    }
}

/* ---- phones, SSNs, e-mail, URLs ---- */

static void detect_phones(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (i > 0 && (is_alnum((unsigned char)s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '+' ||
                      s[i - 1] == '-' || s[i - 1] == '/'))
            continue;
        if (c == '+' && i + 1 < n && is_digit((unsigned char)s[i + 1])) {
            /* international: + then 8-15 digits in groups */
            size_t k = i + 1, nd = 0, groups = 0;
            while (k < n) {
                size_t d = digits_at(s, n, k);
                if (!d)
                    break;
                nd += d;
                groups++;
                k += d;
                if (k + 1 < n && (s[k] == ' ' || s[k] == '-' || s[k] == '.') &&
                    is_digit((unsigned char)s[k + 1]))
                    k++;
                else if (k + 2 < n && s[k] == ' ' && s[k + 1] == '(' )
                    k += 2;
                else if (k + 1 < n && s[k] == ')' && s[k + 1] == ' ')
                    k += 2;
                else
                    break;
            }
            if (nd >= 8 && nd <= 15 && digit_end(s, n, k)) {
                add_hit(sc, VERIFY_HIT_PHONE, i, k - i, SEV_PHI);
                i = k;
            }
            continue;
        }
        if (c == '(' && i + 5 < n && digits_at(s, n, i + 1) == 3 && s[i + 4] == ')') {
            size_t k = i + 5;
            if (k < n && s[k] == ' ')
                k++;
            if (digits_at(s, n, k) == 3 && k + 3 < n && (s[k + 3] == '-' || s[k + 3] == ' ' ||
                                                         s[k + 3] == '.') &&
                digits_at(s, n, k + 4) == 4 && digit_end(s, n, k + 8)) {
                add_hit(sc, VERIFY_HIT_PHONE, i, k + 8 - i, SEV_PHI);
                i = k + 8;
            }
            continue;
        }
        if (!is_digit(c))
            continue;
        size_t d1 = digits_at(s, n, i);
        if (d1 == 3 && i + 3 < n) {
            char sep = s[i + 3];
            size_t d2 = digits_at(s, n, i + 4);
            if (sep == '-' && d2 == 2 && i + 6 < n && s[i + 6] == '-' &&
                digits_at(s, n, i + 7) == 4 && digit_end(s, n, i + 11)) {
                add_hit(sc, VERIFY_HIT_SSN, i, 11, SEV_PHI);
                i += 11;
                continue;
            }
            if ((sep == '-' || sep == '.' || sep == ' ') && d2 == 3 && i + 7 < n &&
                s[i + 7] == (sep == ' ' ? '-' : sep) && digits_at(s, n, i + 8) == 4 &&
                digit_end(s, n, i + 12) && !(i + 13 < n && s[i + 12] == '.' &&
                                             is_digit((unsigned char)s[i + 13]))) {
                add_hit(sc, VERIFY_HIT_PHONE, i, 12, SEV_PHI);
                i += 12;
                continue;
            }
        }
        i += d1;
    }
}

static int email_local(int c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }
static int domain_ch(int c) { return is_alnum(c) || c == '.' || c == '-'; }

static void detect_email_url(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        size_t pl = 0;
        int c0 = (unsigned char)s[i] | 0x20;  /* h, f or w can start a URL */
        if (c0 != 'h' && c0 != 'f' && c0 != 'w') pl = 0;
        else if (n - i >= 7 && strncasecmp(s + i, "http://", 7) == 0) pl = 7;
        else if (n - i >= 8 && strncasecmp(s + i, "https://", 8) == 0) pl = 8;
        else if (n - i >= 6 && strncasecmp(s + i, "ftp://", 6) == 0) pl = 6;
        else if (n - i >= 4 && strncasecmp(s + i, "www.", 4) == 0 && digit_start(s, i)) pl = 4;
        if (pl) {
            size_t k = i + pl;
            while (k < n && !isspace((unsigned char)s[k]) && s[k] != '"' && s[k] != '<' &&
                   s[k] != '>')
                k++;
            while (k > i + pl && strchr(".,;:)]", s[k - 1]))
                k--;
            if (k > i + pl) {
                add_hit(sc, VERIFY_HIT_URL, i, k - i, SEV_SUSPECT);
                i = k;
            }
            continue;
        }
        if (s[i] != '@')
            continue;
        size_t b = i;
        while (b > 0 && email_local((unsigned char)s[b - 1]))
            b--;
        size_t e = i + 1, dot = 0;
        while (e < n && domain_ch((unsigned char)s[e])) {
            if (s[e] == '.')
                dot = e;
            e++;
        }
        while (e > i + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
            e--;
        if (b < i && dot > i + 1 && dot + 2 < e + 1 && e - dot > 2 &&
            is_alpha((unsigned char)s[dot + 1]))
            add_hit(sc, VERIFY_HIT_EMAIL, b, e - b, SEV_PHI);
    }
}

/* ---- addresses ---- */

static const char *const street_suffixes[] = {
    "street", "st", "avenue", "ave", "av", "road", "rd", "boulevard", "blvd", "lane", "ln",
    "drive", "dr", "court", "way", "place", "pl", "circle", "cir", "terrace", "ter",
    "trail", "trl", "parkway", "pkwy", "highway", "hwy", "square", "sq", "bend", "loop",
    "crescent", "alley", "plaza", "pike", "crossing", "ridge", "heights", "grove",
    "gardens", "close", "hollow", "expressway", "freeway", "turnpike", "causeway", NULL};

static const char *const us_states[] = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR", NULL};

static size_t word_len_at(const char *s, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && (is_alpha((unsigned char)s[k]) || s[k] == '\'' ||
                     (s[k] == '-' && k > i && k + 1 < n && is_alpha((unsigned char)s[k + 1]))))
        k++;
    return k - i;
}

static int in_set_ci(const char *s, size_t len, const char *const *set)
{
    for (; *set; set++)
        if (strlen(*set) == len && strncasecmp(s, *set, len) == 0)
            return 1;
    return 0;
}

static void detect_addresses(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        /* PO Box 123 */
        if ((i == 0 || !is_alnum((unsigned char)s[i - 1])) && (s[i] == 'P' || s[i] == 'p')) {
            size_t k = i;
            if (n - k >= 4 && strncasecmp(s + k, "P.O.", 4) == 0) k += 4;
            else if (n - k >= 2 && strncasecmp(s + k, "PO", 2) == 0) k += 2;
            else if (n - k >= 11 && strncasecmp(s + k, "Post Office", 11) == 0) k += 11;
            if (k > i) {
                while (k < n && s[k] == ' ')
                    k++;
                if (n - k >= 3 && strncasecmp(s + k, "box", 3) == 0) {
                    k += 3;
                    while (k < n && (s[k] == ' ' || s[k] == '#'))
                        k++;
                    size_t d = digits_at(s, n, k);
                    if (d) {
                        add_hit(sc, VERIFY_HIT_ADDRESS, i, k + d - i, SEV_PHI);
                        i = k + d;
                        continue;
                    }
                }
            }
        }
        /* "OR 97759", "CA 94305-1234" after a place name */
        if (s[i] >= 'A' && s[i] <= 'Z' && i + 8 <= n && i >= 2 && s[i - 1] == ' ' &&
            (s[i - 2] == ',' || is_alpha((unsigned char)s[i - 2])) && s[i + 1] >= 'A' &&
            s[i + 1] <= 'Z' && s[i + 2] == ' ' && digits_at(s, n, i + 3) == 5 &&
            in_set_ci(s + i, 2, us_states)) {
            size_t e = i + 8;
            if (e + 4 < n && s[e] == '-' && digits_at(s, n, e + 1) == 4)
                e += 5;
            if (digit_end(s, n, e)) {
                add_hit(sc, VERIFY_HIT_ADDRESS, i, e - i, SEV_PHI);
                i = e;
                continue;
            }
        }
        /* 123 Main Street */
        if (!is_digit((unsigned char)s[i]) || !digit_start(s, i))
            continue;
        size_t d = digits_at(s, n, i);
        if (d > 6 || in_decimal(s, n, i, i + d) || i + d >= n || s[i + d] != ' ') {
            i += d;
            continue;
        }
        size_t k = i + d + 1;
        int nwords = 0;
        while (nwords < 5 && k < n) {
            size_t wl = word_len_at(s, n, k);
            if (!wl || !(s[k] >= 'A' && s[k] <= 'Z'))
                break;
            if (nwords >= 1 && in_set_ci(s + k, wl, street_suffixes)) {
                size_t e = k + wl;
                if (e < n && s[e] == '.')
                    e++;
                if (e >= n || !is_alnum((unsigned char)s[e])) {
                    add_hit(sc, VERIFY_HIT_ADDRESS, i, e - i, SEV_PHI);
                    break;
                }
            }
            nwords++;
            k += wl;
            if (k < n && s[k] == ' ')
                k++;
            else
                break;
        }
        i += d;
    }
}

/* ---- ages over 89, long digit runs ---- */

static int age_over_89(const char *s, size_t len)
{
    if (len < 2 || len > 3)
        return 0;
    int v = num(s, len);
    return v >= 90 && v <= 130;
}

static void detect_ages(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    static const char *const after[] = {"-year-old", " year old", " years old", "-years-old",
                                        " yr old", " yrs old", " yo", "yo", " y/o", "y/o",
                                        " y.o.", "-yo", " year-old", "yr", " yr", NULL};
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]) || !digit_start(s, i))
            continue;
        size_t d = digits_at(s, n, i);
        if (!age_over_89(s + i, d)) {
            i += d;
            continue;
        }
        size_t e = i + d;
        for (const char *const *a = after; *a; a++) {
            size_t al = strlen(*a);
            if (n - e >= al && strncasecmp(s + e, *a, al) == 0 &&
                (e + al >= n || !is_alpha((unsigned char)s[e + al]))) {
                add_hit(sc, VERIFY_HIT_AGE, i, e + al - i, SEV_PHI);
                break;
            }
        }
        /* "age 95", "aged 92", "Age: 91" */
        size_t b = i;
        while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == ':'))
            b--;
        if (b < i) {
            size_t wb = b;
            while (wb > 0 && is_alpha((unsigned char)s[wb - 1]))
                wb--;
            if ((b - wb == 3 && strncasecmp(s + wb, "age", 3) == 0) ||
                (b - wb == 4 && strncasecmp(s + wb, "aged", 4) == 0))
                add_hit(sc, VERIFY_HIT_AGE, wb, e - wb, SEV_PHI);
        }
        i = e;
    }
}

/* Letters and digits mixed ("AL-30591-7", "E1691244B") with 5 digits or more: the shape
 * of chart, accession and study identifiers. */
static void detect_mixed_ids(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum((unsigned char)s[i]) ||
            (i > 0 && (is_alnum((unsigned char)s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-')))
            continue;
        size_t e = i, digits = 0, letters = 0;
        while (e < n && (is_alnum((unsigned char)s[e]) ||
                         (s[e] == '-' && e + 1 < n && is_alnum((unsigned char)s[e + 1])))) {
            digits += is_digit((unsigned char)s[e]);
            letters += is_alpha((unsigned char)s[e]);
            e++;
        }
        int dotted = e + 1 < n && s[e] == '.' && is_alnum((unsigned char)s[e + 1]);
        if (digits >= 5 && letters && !dotted && !((unsigned char)s[e] & 0x80))
            add_hit(sc, VERIFY_HIT_ID, i, e - i, SEV_SUSPECT);
        i = e;
    }
}

static void detect_digit_runs(scan *sc)
{
    const char *s = sc->s;
    size_t n = sc->n;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]) || (i > 0 && is_digit((unsigned char)s[i - 1])))
            continue;
        size_t d = digits_at(s, n, i);
        if (d >= 6 && !in_decimal(s, n, i, i + d) && !(i > 0 && s[i - 1] == '.'))
            add_hit(sc, VERIFY_HIT_ID, i, d, SEV_SUSPECT);
        i += d;
    }
}

static int cmp_hit(const void *a, const void *b)
{
    const verify_hit *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

size_t verify_detect(const char *text, verify_hit *hits, size_t max)
{
    if (!text || !hits || max == 0)
        return 0;
    scan sc = {text, strlen(text), hits, 0, max};
    detect_email_url(&sc);
    detect_dates(&sc);
    detect_phones(&sc);
    detect_addresses(&sc);
    detect_ages(&sc);
    detect_times(&sc);
    detect_names(&sc);
    detect_mixed_ids(&sc);
    detect_digit_runs(&sc);
    qsort(hits, sc.nhits, sizeof *hits, cmp_hit);
    return sc.nhits;
}

static int vr_in(const char *vr, const char *list)
{
    for (const char *p = list; *p; p += 3)
        if (p[0] == vr[0] && p[1] == vr[1])
            return 1;
    return 0;
}

size_t verify_detect_value(const char *vr, const char *keyword, const char *text,
                           verify_hit *hits, size_t max)
{
    /* Coded concepts and version strings are vocabulary, not identifiers. */
    static const char *const vocabulary[] = {"CodeValue", "LongCodeValue", "URNCodeValue",
                                             "CodingSchemeDesignator", "CodingSchemeVersion",
                                             "ContextIdentifier", "MappingResource",
                                             "SoftwareVersions", "ImplementationVersionName",
                                             "PrivateCreator", NULL};
    if (keyword)
        for (const char *const *k = vocabulary; *k; k++)
            if (strcmp(keyword, *k) == 0)
                return 0;
    if (!vr || strlen(vr) != 2 || !text || !hits || max == 0)
        return 0;
    if (vr_in(vr, "UI DA DT TM DS IS FL FD SL SS UL US SV UV AT OB OW OF OD OL OV UN SQ "))
        return 0;
    if (strcmp(vr, "PN") == 0) {
        size_t n = strlen(text);
        int letters = 0;
        verify_severity sev = SEV_SUSPECT;
        for (size_t i = 0; i < n;) {
            if (!is_alpha((unsigned char)text[i]) && !((unsigned char)text[i] & 0x80)) {
                i++;
                continue;
            }
            size_t b = i;
            while (i < n && (is_wordch((unsigned char)text[i]) || text[i] == '\'' || text[i] == '-'))
                i++;
            letters = 1;
            if (verify_is_person_name_word(text + b, i - b))
                sev = SEV_PHI;
        }
        if (!letters)
            return 0;
        hits[0] = (verify_hit){VERIFY_HIT_NAME, 0, n, sev};
        return 1;
    }
    return verify_detect(text, hits, max);
}
