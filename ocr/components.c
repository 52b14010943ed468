/* ocr/components.c — bounding boxes of the 8-connected components of a 1 bpp map, from its
 * runs of set pixels. Leptonica's pixConnCompBB seed-fills each component in turn, which
 * was a quarter of the detector's time on a text-free frame; runs joined row to row with
 * a union-find give the same boxes in the same order. */
#include "config.h"

#include <stdlib.h>

#include "ocr/ocr-internal.h"

struct runs {
    int *x0, *x1, *y, *parent;
    size_t n, cap;
};

static int grow(int **a, size_t cap)
{
    int *g = realloc(*a, cap * sizeof **a);
    if (!g)
        return -1;
    *a = g;
    return 0;
}

static int add_run(struct runs *r, int x0, int x1, int y)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        if (grow(&r->x0, cap) || grow(&r->x1, cap) || grow(&r->y, cap) || grow(&r->parent, cap))
            return -1;
        r->cap = cap;
    }
    r->x0[r->n] = x0;
    r->x1[r->n] = x1;
    r->y[r->n] = y;
    r->parent[r->n] = (int)r->n;
    r->n++;
    return 0;
}

static int root(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* The smaller index stays the root: runs are numbered in raster order, so a component's
 * root is the run holding its first pixel, which is the order pixConnCompBB finds them. */
static void join(int *parent, int a, int b)
{
    a = root(parent, a);
    b = root(parent, b);
    if (a < b)
        parent[b] = a;
    else if (b < a)
        parent[a] = b;
}

/* The index (0 the most significant) of v's first set bit; v is not 0. */
static inline int first_set(l_uint32 v)
{
#if defined(__GNUC__)
    return __builtin_clz(v);
#else
    int n = 0;
    while (!(v & 0x80000000u)) {
        v <<= 1;
        n++;
    }
    return n;
#endif
}

/* Runs of set pixels of row y (MSB first in each 32-bit word) appended to r: each edge
 * found as the first set bit of the word, or of its complement, past the last edge. */
static int row_runs(const l_uint32 *line, int words, int w, int y, struct runs *r)
{
    int start = -1;
    for (int k = 0; k < words; k++) {
        int b = 0;
        while (b < 32) {
            l_uint32 rest = 0xffffffffu >> b;  /* bits b..31 */
            l_uint32 v = (start < 0 ? line[k] : ~line[k]) & rest;
            if (!v)
                break;
            int e = first_set(v), x = 32 * k + e;
            if (x >= w)
                break;
            if (start < 0) {
                start = x;
            } else {
                if (add_run(r, start, x - 1, y) != 0)
                    return -1;
                start = -1;
            }
            b = e;
        }
    }
    return start >= 0 ? add_run(r, start, w - 1, y) : 0;
}

BOXA *ocr_components(PIX *pix)
{
    if (!pix || pixGetDepth(pix) != 1)
        return NULL;
    int w = pixGetWidth(pix), h = pixGetHeight(pix), wpl = pixGetWpl(pix);
    int words = (w + 31) / 32;
    const l_uint32 *data = pixGetData(pix);
    struct runs r = { NULL, NULL, NULL, NULL, 0, 0 };
    BOXA *boxa = NULL;
    int *first = NULL, *bb = NULL;
    size_t prev0 = 0, prev1 = 0;  /* the previous row's runs */
    int ok = 1;
    for (int y = 0; ok && y < h; y++) {
        size_t cur0 = r.n;
        ok = row_runs(data + (size_t)y * wpl, words, w, y, &r) == 0;
        /* Runs of two rows touch (8-connected) when their spans, widened by one, overlap.
         * Both lists are sorted by x: one pass with two cursors. */
        size_t p = prev0;
        for (size_t c = cur0; ok && c < r.n; c++) {
            while (p < prev1 && r.x1[p] < r.x0[c] - 1)
                p++;
            for (size_t q = p; q < prev1 && r.x0[q] <= r.x1[c] + 1; q++)
                join(r.parent, (int)q, (int)c);
        }
        prev0 = cur0;
        prev1 = r.n;
    }
    if (ok && (boxa = boxaCreate(r.n < 16 ? 16 : (l_int32)(r.n / 4 + 1)))) {
        /* For each root, the index of its box; then the boxes' extents. */
        first = malloc((r.n ? r.n : 1) * sizeof *first);
        bb = malloc((r.n ? r.n : 1) * 4 * sizeof *bb);
        ok = first && bb;
        size_t nb = 0;
        for (size_t i = 0; ok && i < r.n; i++) {
            int rt = root(r.parent, (int)i), k;
            if (rt == (int)i) {
                k = (int)nb++;
                first[i] = k;
                bb[4 * k] = r.x0[i];
                bb[4 * k + 1] = r.y[i];
                bb[4 * k + 2] = r.x1[i];
                bb[4 * k + 3] = r.y[i];
            } else {
                k = first[rt];
                if (r.x0[i] < bb[4 * k])
                    bb[4 * k] = r.x0[i];
                if (r.x1[i] > bb[4 * k + 2])
                    bb[4 * k + 2] = r.x1[i];
                bb[4 * k + 3] = r.y[i];  /* runs come row by row */
            }
        }
        for (size_t k = 0; ok && k < nb; k++) {
            BOX *box = boxCreate(bb[4 * k], bb[4 * k + 1], bb[4 * k + 2] - bb[4 * k] + 1,
                                 bb[4 * k + 3] - bb[4 * k + 1] + 1);
            ok = box && boxaAddBox(boxa, box, L_INSERT) == 0;
            if (!ok)
                boxDestroy(&box);
        }
    }
    if (!ok)
        boxaDestroy(&boxa);
    free(first);
    free(bb);
    free(r.x0);
    free(r.x1);
    free(r.y);
    free(r.parent);
    return boxa;
}
