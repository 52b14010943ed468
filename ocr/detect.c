#include "config.h"

#include "ocr/ocr.h"
#include "ocr/ocr-internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

/* Burned-in text is thin strokes (1-4 px) much brighter, or darker, than what surrounds
 * them; anatomy is mostly smooth and wide. A top-hat keeps what a square too large to fit in
 * a stroke removes, so text survives it and soft tissue, bone and the body outline do not.
 * Its connected parts that are character-sized are chained into lines, and a line is kept
 * when it looks like a row of characters: several parts of similar height, thin strokes,
 * neither empty nor solid. Colour frames are looked at channel by channel, so yellow text
 * on a red bar counts as well as white text on black. */

#define TOPHAT_SIZE 15        /* larger than any stroke, smaller than organs */
#define MIN_CONTRAST 64       /* top-hat value that counts as ink */
#define MIN_LINE_H 5
#define MAX_LINE_H 44
#define MAX_PARTS 20000       /* more parts than this is noise, not text */

PIX *ocr_pix_from_frame(int width, int height, int channels, const unsigned char *pixels,
                        int mode)
{
    PIX *pix = pixCreate(width, height, 8);
    if (!pix)
        return NULL;
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = 0; y < height; y++) {
        l_uint32 *line = data + (size_t)y * wpl;
        const unsigned char *src = pixels + (size_t)y * width * channels;
        for (int x = 0; x < width; x++) {
            int v;
            if (channels == 3) {
                const unsigned char *p = src + 3 * (size_t)x;
                v = mode >= OCR_GREY_CHANNEL0 ? p[mode - OCR_GREY_CHANNEL0]
                    : (p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8;
            } else {
                v = src[x];
            }
            SET_DATA_BYTE(line, x, v);
        }
    }
    return pix;
}

struct cand { int x, y, w, h; float score; };

struct part { int x, y, w, h, group; };

static int overlap_1d(int a0, int a1, int b0, int b1)
{
    int lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

static int find(struct part *p, int i)
{
    while (p[i].group != i) {
        p[i].group = p[p[i].group].group;
        i = p[i].group;
    }
    return i;
}

static int cmp_part_x(const void *a, const void *b)
{
    const struct part *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* Two parts belong to one line when they sit side by side on the same band, a gap of
 * about a character's height apart at most. */
static int same_line(const struct part *a, const struct part *b)
{
    int hmax = a->h > b->h ? a->h : b->h, hmin = a->h < b->h ? a->h : b->h;
    int gap = b->x - (a->x + a->w);
    if (gap > hmax + 1)
        return 0;
    int oy = overlap_1d(a->y, a->y + a->h, b->y, b->y + b->h);
    return oy * 2 >= hmin && (hmin * 3 >= hmax || oy >= hmin);
}

static int cmp_int(const void *a, const void *b)
{
    int p = *(const int *)a, q = *(const int *)b;
    return (p > q) - (p < q);
}

static int median(const int *v, int n)
{
    int tmp[64];
    memcpy(tmp, v, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_int);
    return tmp[n / 2];
}

static int judge_line(const struct part *parts, const int *members, int nm, PIX *ink,
                      PIX *core, int *tab8, struct cand *out)
{
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = 0, y1 = 0;
    for (int k = 0; k < nm; k++) {
        const struct part *p = &parts[members[k]];
        x0 = p->x < x0 ? p->x : x0;
        y0 = p->y < y0 ? p->y : y0;
        x1 = p->x + p->w > x1 ? p->x + p->w : x1;
        y1 = p->y + p->h > y1 ? p->y + p->h : y1;
    }
    int lw = x1 - x0, lh = y1 - y0;
    if (lh < MIN_LINE_H || lh > MAX_LINE_H)
        return 0;
    if (lw * 5 < lh * 6)
        return 0;
    /* Letters: parts at least half the line's height. A row of text has letters of one
     * height standing on one baseline (or hanging from one top line). */
    int hs[64], tops[64], bots[64], nletter = 0;
    for (int k = 0; k < nm && nletter < 64; k++) {
        const struct part *p = &parts[members[k]];
        if (p->h * 2 >= lh && p->h * 3 >= 2 * MIN_LINE_H) {
            hs[nletter] = p->h;
            tops[nletter] = p->y;
            bots[nletter] = p->y + p->h;
            nletter++;
        }
    }
    if (nletter < 2)
        return 0;
    int mh = median(hs, nletter), mt = median(tops, nletter), mb = median(bots, nletter);
    int tol = lh / 5 > 2 ? lh / 5 : 2, same_h = 0, aligned = 0;
    for (int k = 0; k < nletter; k++) {
        int h = bots[k] - tops[k];
        same_h += h * 10 >= mh * 7 && h * 10 <= mh * 13;
        aligned += abs(tops[k] - mt) <= tol || abs(bots[k] - mb) <= tol;
    }
    if (same_h < 2 || same_h * 10 < nletter * 6 || aligned * 10 < nletter * 7)
        return 0;
    BOX *box = boxCreate(x0, y0, lw, lh);
    if (!box)
        return 0;
    l_int32 area = 0, solid = 0;
    pixCountPixelsInRect(ink, box, &area, tab8);
    pixCountPixelsInRect(core, box, &solid, tab8);
    boxDestroy(&box);
    double fill = (double)area / ((double)lw * lh);
    if (fill < 0.08 || fill > 0.72)
        return 0;
    /* Strokes vanish under a 3x3 erosion; blobs of bone or contrast do not. */
    double sol = area ? (double)solid / area : 1.0;
    if (sol > (lh >= 16 ? 0.45 : 0.3))
        return 0;
    float s = 0.4f + 0.1f * (nletter > 5 ? 5 : nletter) - (float)sol;
    *out = (struct cand){ x0, y0, lw, lh, s < 0.05f ? 0.05f : s > 1.0f ? 1.0f : s };
    return 1;
}

static int push_cand(struct cand **cands, size_t *ncand, size_t *cap, const struct cand *c)
{
    if (*ncand == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct cand *p = realloc(*cands, nc * sizeof *p);
        if (!p)
            return -1;
        *cands = p;
        *cap = nc;
    }
    (*cands)[(*ncand)++] = *c;
    return 0;
}

/* Finds lines of characters in a 1 bpp ink map. */
static int find_lines(PIX *ink, struct cand **cands, size_t *ncand, size_t *cap)
{
    int rc = -1;
    int *tab8 = makePixelSumTab8();
    PIX *core = NULL;
    BOXA *boxa = NULL;
    struct part *parts = NULL;
    int *members = NULL;
    if (!tab8)
        goto out;
    l_int32 inkcount = 0;
    pixCountPixels(ink, &inkcount, tab8);
    if (inkcount < 12) {
        rc = 0;
        goto out;
    }
    boxa = pixConnCompBB(ink, 8);
    core = pixErodeBrick(NULL, ink, 3, 3);
    if (!boxa || !core)
        goto out;
    int nb = boxaGetCount(boxa);
    if (nb > MAX_PARTS) {
        rc = 0;
        goto out;
    }
    parts = malloc((size_t)(nb ? nb : 1) * sizeof *parts);
    members = malloc((size_t)(nb ? nb : 1) * sizeof *members);
    if (!parts || !members)
        goto out;
    int np = 0;
    for (int i = 0; i < nb; i++) {
        l_int32 x, y, w, h;
        boxaGetBoxGeometry(boxa, i, &x, &y, &w, &h);
        /* Character-sized, or a short mark such as '-', '.' or '/'. */
        if (h > MAX_LINE_H || w > 2 * h + 4 || w > 2 * MAX_LINE_H)
            continue;
        parts[np] = (struct part){ x, y, w, h, np };
        np++;
    }
    qsort(parts, (size_t)np, sizeof *parts, cmp_part_x);
    for (int i = 0; i < np; i++)
        parts[i].group = i;
    for (int i = 0; i < np; i++) {
        for (int j = i + 1; j < np; j++) {
            if (parts[j].x > parts[i].x + parts[i].w + MAX_LINE_H + 1)
                break;
            if (same_line(&parts[i], &parts[j])) {
                int a = find(parts, i), b = find(parts, j);
                if (a != b)
                    parts[a > b ? a : b].group = a < b ? a : b;
            }
        }
    }
    for (int i = 0; i < np; i++)
        find(parts, i);
    /* Each group's members are gathered by a counting pass over roots. */
    for (int root = 0; root < np; root++) {
        if (parts[root].group != root)
            continue;
        int nm = 0;
        for (int i = root; i < np; i++)
            if (parts[i].group == root)
                members[nm++] = i;
        if (nm < 2)
            continue;
        struct cand c;
        if (judge_line(parts, members, nm, ink, core, tab8, &c) && push_cand(cands, ncand, cap, &c))
            goto out;
    }
    rc = 0;
out:
    free(members);
    free(parts);
    boxaDestroy(&boxa);
    pixDestroy(&core);
    free(tab8);
    return rc;
}

/* Ink of one polarity: where any view's top-hat (white for light ink, black for dark ink)
 * reaches MIN_CONTRAST. */
static PIX *ink_map(PIX **views, int nviews, int type)
{
    PIX *ink = NULL;
    for (int v = 0; v < nviews; v++) {
        PIX *th = pixTophat(views[v], TOPHAT_SIZE, TOPHAT_SIZE, type);
        PIX *bin = th ? pixThresholdToBinary(th, MIN_CONTRAST) : NULL;
        pixDestroy(&th);
        if (!bin) {
            pixDestroy(&ink);
            return NULL;
        }
        pixInvert(bin, bin);
        if (ink) {
            pixOr(ink, ink, bin);
            pixDestroy(&bin);
        } else {
            ink = bin;
        }
    }
    return ink;
}

/* Both polarities can fire on one line (the gaps between light letters are dark strokes):
 * overlapping boxes are merged into their union. */
static size_t merge_overlaps(struct cand *c, size_t n)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                int ox = overlap_1d(c[i].x, c[i].x + c[i].w, c[j].x, c[j].x + c[j].w);
                int oy = overlap_1d(c[i].y, c[i].y + c[i].h, c[j].y, c[j].y + c[j].h);
                int ai = c[i].w * c[i].h, aj = c[j].w * c[j].h;
                int small = ai < aj ? ai : aj;
                if ((long)ox * oy * 2 < small)
                    continue;
                int x0 = c[i].x < c[j].x ? c[i].x : c[j].x;
                int y0 = c[i].y < c[j].y ? c[i].y : c[j].y;
                int x1 = c[i].x + c[i].w > c[j].x + c[j].w ? c[i].x + c[i].w : c[j].x + c[j].w;
                int y1 = c[i].y + c[i].h > c[j].y + c[j].h ? c[i].y + c[i].h : c[j].y + c[j].h;
                c[i] = (struct cand){ x0, y0, x1 - x0, y1 - y0,
                                      c[i].score > c[j].score ? c[i].score : c[j].score };
                c[j] = c[--n];
                changed = 1;
                j = i;
            }
        }
    }
    return n;
}

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *p = a, *q = b;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return (p->x > q->x) - (p->x < q->x);
}

int ocr_detect(int width, int height, int channels, const unsigned char *pixels,
               ocr_box **boxes, size_t *n, char *err, size_t errlen)
{
    *boxes = NULL;
    *n = 0;
    if (width <= 0 || height <= 0 || !pixels || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "invalid image (%dx%d, %d channels)", width, height, channels);
        return -1;
    }
    struct cand *c = NULL;
    size_t nc = 0, cap = 0;
    PIX *views[3] = { NULL, NULL, NULL };
    int nviews = channels == 3 ? 3 : 1, rc = 0;
    for (int v = 0; v < nviews && rc == 0; v++) {
        views[v] = ocr_pix_from_frame(width, height, channels, pixels,
                                      channels == 3 ? OCR_GREY_CHANNEL0 + v : OCR_GREY_LUMA);
        rc = views[v] ? 0 : -1;
    }
    static const int types[2] = { L_TOPHAT_WHITE, L_TOPHAT_BLACK };
    for (int t = 0; t < 2 && rc == 0; t++) {
        PIX *ink = ink_map(views, nviews, types[t]);
        rc = ink ? find_lines(ink, &c, &nc, &cap) : -1;
        pixDestroy(&ink);
    }
    for (int v = 0; v < nviews; v++)
        pixDestroy(&views[v]);
    if (rc != 0) {
        free(c);
        snprintf(err, errlen, "text detection failed (out of memory)");
        return -1;
    }
    nc = merge_overlaps(c, nc);
    if (nc == 0) {
        free(c);
        return 0;
    }
    qsort(c, nc, sizeof *c, cmp_cand);
    ocr_box *out = malloc(nc * sizeof *out);
    if (!out) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nc; i++)
        out[i] = (ocr_box){ c[i].x, c[i].y, c[i].w, c[i].h, c[i].score };
    free(c);
    *boxes = out;
    *n = nc;
    return 0;
}
