#include "config.h"

#include "deid/pixsig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pixsig_alt { uint16_t group, element; char op; const char *text; };
struct pixsig_term { int alt0, nalt; };
struct pixsig_sig { const char *name; int line, term0, nterm, rect0, nrect; };

#include "deid/pixsig-table.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Values are compared without the padding and surrounding blanks DICOM allows. */
static void trimmed(const char *s, const char **start, size_t *len)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
        l--;
    *start = s;
    *len = l;
}

static int contains_nocase(const char *hay, size_t hlen, const char *needle)
{
    size_t nlen = strlen(needle);
    if (nlen == 0)
        return 1;
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (strncasecmp(hay + i, needle, nlen) == 0)
            return 1;
    return 0;
}

static int alt_holds(const struct pixsig_alt *a, deid_pixsig_lookup lookup, void *ud)
{
    const char *v = lookup(a->group, a->element, ud);
    if (!v)
        return 0;
    const char *s;
    size_t len;
    trimmed(v, &s, &len);
    size_t tlen = strlen(a->text);
    switch (a->op) {
    case '~':
        return contains_nocase(s, len, a->text);
    case '=':
        return len == tlen && memcmp(s, a->text, tlen) == 0;
    case '^':
        return len >= tlen && memcmp(s, a->text, tlen) == 0;
    }
    return 0;
}

static int sig_holds(const struct pixsig_sig *sig, deid_pixsig_lookup lookup, void *ud)
{
    for (int t = sig->term0; t < sig->term0 + sig->nterm; t++) {
        const struct pixsig_term *term = &pixsig_terms[t];
        int any = 0;
        for (int a = term->alt0; a < term->alt0 + term->nalt && !any; a++)
            any = alt_holds(&pixsig_alts[a], lookup, ud);
        if (!any)
            return 0;
    }
    return 1;
}

const char *deid_pixsig_match(deid_pixsig_lookup lookup, void *ud,
                              deid_pixsig_rect *rects, size_t max, size_t *n)
{
    const char *first = NULL;
    size_t total = 0;
    for (size_t i = 0; i < COUNT(pixsig_sigs); i++) {
        const struct pixsig_sig *sig = &pixsig_sigs[i];
        if (!sig_holds(sig, lookup, ud))
            continue;
        if (!first)
            first = sig->name;
        for (int r = sig->rect0; r < sig->rect0 + sig->nrect; r++, total++)
            if (rects && total < max)
                rects[total] = pixsig_rects[r];
    }
    if (n)
        *n = total;
    return first;
}

size_t deid_pixsig_count(void)
{
    return COUNT(pixsig_sigs);
}

static int parse_int(const char **p, long *out)
{
    char *end;
    if (!isdigit((unsigned char)**p))
        return -1;
    errno = 0;
    *out = strtol(*p, &end, 10);
    if (errno || *out > 1000000)
        return -1;
    *p = end;
    return 0;
}

int deid_pixsig_parse_rects(const char *text, deid_pixsig_rect *rects, size_t max,
                            size_t *n, char *err, size_t errlen)
{
    size_t count = *n;
    const char *p = text ? text : "";
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ';' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *start = p;
        long v[4];
        for (int k = 0; k < 4; k++) {
            if (parse_int(&p, &v[k]) != 0 || (k < 3 && *p++ != ',')) {
                snprintf(err, errlen, "bad rectangle at \"%.20s\": expected x,y,w,h", start);
                return -1;
            }
        }
        if (*p && *p != ' ' && *p != '\t' && *p != ';' && *p != '\n') {
            snprintf(err, errlen, "bad rectangle at \"%.20s\": expected x,y,w,h", start);
            return -1;
        }
        if (v[2] <= 0 || v[3] <= 0) {
            snprintf(err, errlen, "empty rectangle at \"%.20s\"", start);
            return -1;
        }
        if (count >= max) {
            snprintf(err, errlen, "more than %zu rectangles", max);
            return -1;
        }
        rects[count++] = (deid_pixsig_rect){ (int)v[0], (int)v[1], (int)v[2], (int)v[3] };
    }
    *n = count;
    return 0;
}
