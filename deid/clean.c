#include "config.h"

#include "deid/clean.h"

#include <stdlib.h>
#include <string.h>

#include "verify/detect.h"

#define DETECT_MAX 256

static int is_sep(char c)
{
    return c == '-' || c == '_' || c == ',' || c == ';' || c == ':' || c == '/' || c == '^' ||
           c == '#' || c == '.' || c == '+' || c == '&';
}

static void mark(char *cut, size_t off, size_t len)
{
    memset(cut + off, 1, len);
}

/* Marks every occurrence of the dataset's own values; grows the hit buffer until the search
 * has reported them all. */
static int mark_pairs(const char *in, const verify_pair_set *ids, char *cut)
{
    size_t max = 64;
    for (;;) {
        verify_pair_hit *h = malloc(max * sizeof *h);
        if (!h)
            return -1;
        size_t n = verify_pair_search(ids, in, h, max);
        if (n == (size_t)-1) {
            free(h);
            return -1;
        }
        if (n < max) {
            for (size_t i = 0; i < n; i++)
                mark(cut, h[i].off, h[i].len);
            free(h);
            return 0;
        }
        free(h);
        max *= 4;
    }
}

/* Tidies what removal left: empty brackets, blanks before punctuation, doubled separators,
 * runs of blanks, and separators stranded at either end. Works in place. */
static void tidy(char *s)
{
    size_t n = strlen(s), k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\t' || c == '\n' || c == '\r')
            c = ' ';
        if (c == ' ' && (k == 0 || s[k - 1] == ' ' || s[k - 1] == '(' || s[k - 1] == '['))
            continue;
        /* "( )" or "[]" left empty */
        if ((c == ')' || c == ']') && k > 0) {
            size_t j = k;
            while (j > 0 && s[j - 1] == ' ')
                j--;
            if (j > 0 && s[j - 1] == (c == ')' ? '(' : '[')) {
                k = j - 1;
                while (k > 0 && s[k - 1] == ' ' && i + 1 < n && s[i + 1] == ' ')
                    k--;
                continue;
            }
        }
        if ((c == ',' || c == ';' || c == ':' || c == '.' || c == ')' || c == ']') && k > 0 &&
            s[k - 1] == ' ')
            k--;
        /* "gad -, sedated": a dash stranded before punctuation */
        if ((c == ',' || c == ';' || c == ':') && k >= 2 && s[k - 1] == '-' && s[k - 2] == ' ')
            k -= 2;
        /* the same separator twice, or ", ," once blanks are dropped */
        if (is_sep(c) && k > 0) {
            size_t j = k;
            while (j > 0 && s[j - 1] == ' ')
                j--;
            if (j > 0 && s[j - 1] == c && c != '.') {
                k = j;
                continue;
            }
        }
        s[k++] = c;
    }
    s[k] = '\0';
    size_t b = 0;
    while (s[b] == ' ' || (is_sep(s[b]) && s[b] != '#' && s[b] != '+'))
        b++;
    while (k > b && (s[k - 1] == ' ' || (is_sep(s[k - 1]) && s[k - 1] != '.')))
        k--;
    memmove(s, s + b, k - b);
    s[k - b] = '\0';
}

int deid_clean_text(const char *in, const verify_pair_set *ids, char **out)
{
    *out = NULL;
    if (!in)
        in = "";
    size_t n = strlen(in);
    char *cut = calloc(n + 1, 1);
    if (!cut)
        return -1;
    if (ids && mark_pairs(in, ids, cut)) {
        free(cut);
        return -1;
    }
    /* Every hit is cut: a long text with more than a list holds is read again with a
     * longer list. */
    verify_hit small[DETECT_MAX], *hits = small;
    size_t cap = DETECT_MAX, nh;
    while ((nh = verify_detect(in, hits, cap)) == cap) {
        verify_hit *more = malloc(2 * cap * sizeof *more);
        if (hits != small)
            free(hits);
        if (!(hits = more)) {
            free(cut);
            return -1;
        }
        cap *= 2;
    }
    for (size_t i = 0; i < nh; i++)
        mark(cut, hits[i].off, hits[i].len);
    if (hits != small)
        free(hits);

    char *o = malloc(n + 1);
    if (!o) {
        free(cut);
        return -1;
    }
    size_t k = 0;
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (cut[i]) {
            /* keep the words on either side apart */
            if (k == 0 || o[k - 1] != ' ')
                o[k++] = ' ';
            changed = 1;
            while (i + 1 < n && cut[i + 1])
                i++;
            continue;
        }
        o[k++] = in[i];
    }
    o[k] = '\0';
    free(cut);
    if (changed)
        tidy(o);
    *out = o;
    return changed;
}
