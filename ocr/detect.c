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
 * Its connected parts that look like letters of one font are chained into lines, and a line
 * is kept when it looks like a row of characters (several parts of similar height on one
 * baseline, thin strokes, neither empty nor solid) drawn in one colour. Colour frames are
 * looked at channel by channel, so yellow text on a red bar counts as well as white text on
 * black. Lines are then made whole for pixel cleaning: marks join them, they are extended
 * over words that lie on bright anatomy, and the words of one baseline are merged. */

#define TOPHAT_SIZE 15        /* larger than any stroke, smaller than organs */
#define MIN_CONTRAST 64       /* top-hat value that counts as ink */
#define MIN_LINE_H 5
#define MIN_LETTER_H 4       /* shorter parts are marks: dots, dashes, noise */
#define EXT_INK_TOL 24        /* grey distance from the ink level still counted as ink */
#define PEAK_TOL 20
#define FLAT_TOL 12
#define EXT_BG_DELTA 40       /* grey distance from it that counts as background */
#define MAX_LINE_H 44
#define BUSY_PARTS 20000      /* more parts than this: a textured frame (below) */
#define BOLD_SOLIDITY 0.8     /* share of a bold line's ink left by a 3x3 erosion, at most */
#define WORD_PARTS 12         /* a part as wide as this many heights may be a word */

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
        int x = 0;
        /* Leptonica keeps the first of each four bytes in a word's high byte. */
        if (channels == 1)
            for (; x + 4 <= width; x += 4)
                line[x / 4] = (l_uint32)src[x] << 24 | (l_uint32)src[x + 1] << 16 |
                              (l_uint32)src[x + 2] << 8 | src[x + 3];
        for (; x < width; x++) {
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

struct part { int x, y, w, h, group, piece; };  /* piece: cut from a word (split_word) */

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

/* Letter-sized parts: small marks (dots, dashes) are attached to lines later, so that they
 * cannot chain unrelated things together. */
static int is_letter(const struct part *p)
{
    return p->h >= MIN_LETTER_H;
}

/* Two letters belong to one line when they sit side by side, a gap of about a character's
 * height apart at most, and look like letters of one font: similar heights, or (capitals
 * beside lower case) standing on one baseline or hanging from one top line. */
static int same_line(const struct part *a, const struct part *b)
{
    int hmax = a->h > b->h ? a->h : b->h, hmin = a->h < b->h ? a->h : b->h;
    int gap = b->x - (a->x + a->w);
    if (gap > hmax + 1 || hmin * 2 < hmax)
        return 0;
    int oy = overlap_1d(a->y, a->y + a->h, b->y, b->y + b->h);
    if (oy * 2 < hmin)
        return 0;
    if (hmin * 7 >= hmax * 5)
        return 1;
    int tol = hmax / 5 > 1 ? hmax / 5 : 1;
    return abs(a->y - b->y) <= tol || abs(a->y + a->h - b->y - b->h) <= tol;
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

/* The ink eroded by 3x3, made on first use: most frames have no line to judge. NULL when
 * out of memory. */
static PIX *core_of(PIX *ink, PIX **core)
{
    if (!*core)
        *core = pixErodeBrick(NULL, ink, 3, 3);
    return *core;
}

/* 1 when the letters make a line at least min_h tall (*out), 2 when they do in bold
 * strokes (bold_ok: such lines may be kept), 0 when not, -1 when out of memory. */
static int judge_line(const struct part *parts, const int *members, int nm, PIX *ink,
                      PIX **core, int *tab8, int min_h, int bold_ok, struct cand *out)
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
    if (lh < min_h || lh > MAX_LINE_H)
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
    if (!box || !core_of(ink, core)) {
        boxDestroy(&box);
        return -1;
    }
    l_int32 area = 0, solid = 0;
    pixCountPixelsInRect(ink, box, &area, tab8);
    pixCountPixelsInRect(*core, box, &solid, tab8);
    boxDestroy(&box);
    double fill = (double)area / ((double)lw * lh);
    if (fill < 0.08 || fill > 0.72)
        return 0;
    /* Strokes vanish under a 3x3 erosion; blobs of bone or contrast do not, and neither do
     * the strokes of bold type, which only a plain ground tells from blobs. */
    double sol = area ? (double)solid / area : 1.0;
    int bold = sol > (lh >= 16 ? 0.45 : 0.3);
    if (sol > BOLD_SOLIDITY || (bold && !bold_ok))
        return 0;
    float s = 0.4f + 0.1f * (nletter > 5 ? 5 : nletter) - (float)sol;
    *out = (struct cand){ x0, y0, lw, lh, s < 0.05f ? 0.05f : s > 1.0f ? 1.0f : s };
    return bold ? 2 : 1;
}

/* Share of the line's core ink pixels (those more than halfway from the background to the
 * most inked value) whose grey value lies in the most popular band of 25 levels (that
 * band's lowest value in *lo). Burned-in text is drawn in one colour, so its strokes share
 * a value however their rims are anti-aliased; streaks of anatomy do not. light: ink
 * brighter than its background, whose value is bg. */
static double ink_uniformity(PIX *ink, PIX *grey, int x0, int y0, int w, int h, int light,
                             int bg, int *lo)
{
    int hist[256] = { 0 }, total = 0, peak = light ? 0 : 255;
    l_uint32 *idata = pixGetData(ink), *gdata = pixGetData(grey);
    int iwpl = pixGetWpl(ink), gwpl = pixGetWpl(grey);
    for (int y = y0; y < y0 + h; y++) {
        l_uint32 *il = idata + (size_t)y * iwpl, *gl = gdata + (size_t)y * gwpl;
        for (int x = x0; x < x0 + w; x++) {
            if (GET_DATA_BIT(il, x)) {
                int v = GET_DATA_BYTE(gl, x);
                hist[v]++;
                peak = light ? (v > peak ? v : peak) : (v < peak ? v : peak);
            }
        }
    }
    int half = (bg + peak) / 2;
    for (int v = 0; v < 256; v++) {
        if (light ? v < half : v > half)
            hist[v] = 0;
        total += hist[v];
    }
    if (total == 0)
        return 0;
    int band = 0, best = 0;
    for (int v = 0; v < 256; v++) {
        band += hist[v] - (v >= 25 ? hist[v - 25] : 0);
        if (band > best) {
            best = band;
            *lo = v - 24;
        }
    }
    return (double)best / total;
}

/* Median grey of a margin of half the line's height around it: its background. */
static int ring_median(PIX *grey, int x0, int y0, int w, int h)
{
    int m = h / 2 > 2 ? h / 2 : 2, W = pixGetWidth(grey), H = pixGetHeight(grey);
    int rx0 = x0 - m < 0 ? 0 : x0 - m, ry0 = y0 - m < 0 ? 0 : y0 - m;
    int rx1 = x0 + w + m > W ? W : x0 + w + m, ry1 = y0 + h + m > H ? H : y0 + h + m;
    l_uint32 *gdata = pixGetData(grey);
    int gwpl = pixGetWpl(grey);
    long hist[256] = { 0 }, n = 0;
    for (int y = ry0; y < ry1; y++) {
        l_uint32 *gl = gdata + (size_t)y * gwpl;
        for (int x = rx0; x < rx1; x++) {
            if (y >= y0 && y < y0 + h && x >= x0 && x < x0 + w)
                continue;
            hist[GET_DATA_BYTE(gl, x)]++;
            n++;
        }
    }
    long acc = 0;
    for (int v = 0; v < 256; v++)
        if ((acc += hist[v]) * 2 > n)
            return v;
    return 0;
}

/* Share of the pixels in a margin of half the line's height around it whose grey value lies
 * in [lo, hi]. Asked of the ink's value: text stands on a background of another value,
 * while a row of dark notches along the edge of a dark region, or bright ones along a
 * bright organ, do not. Asked of the margin's median within FLAT_TOL: text drawn on a plain
 * background, where a soft-edged (anti-aliased) line can be told from anatomy by its
 * letters' peaks alone. */
static double ring_share(PIX *grey, int x0, int y0, int w, int h, int lo, int hi)
{
    int m = h / 2 > 2 ? h / 2 : 2, W = pixGetWidth(grey), H = pixGetHeight(grey);
    int rx0 = x0 - m < 0 ? 0 : x0 - m, ry0 = y0 - m < 0 ? 0 : y0 - m;
    int rx1 = x0 + w + m > W ? W : x0 + w + m, ry1 = y0 + h + m > H ? H : y0 + h + m;
    l_uint32 *gdata = pixGetData(grey);
    int gwpl = pixGetWpl(grey);
    long n = 0, in = 0;
    for (int y = ry0; y < ry1; y++) {
        l_uint32 *gl = gdata + (size_t)y * gwpl;
        for (int x = rx0; x < rx1; x++) {
            if (y >= y0 && y < y0 + h && x >= x0 && x < x0 + w)
                continue;
            int v = GET_DATA_BYTE(gl, x);
            n++;
            in += v >= lo && v <= hi;
        }
    }
    return n ? (double)in / n : 0;
}

static int uniform_ink(PIX *ink, PIX *grey, int light, const struct cand *c, double peaks)
{
    int lo = 0, bg = ring_median(grey, c->x, c->y, c->w, c->h);
    double u = ink_uniformity(ink, grey, c->x, c->y, c->w, c->h, light, bg, &lo);
    double r = ring_share(grey, c->x, c->y, c->w, c->h, lo, lo + 24);
    double f = ring_share(grey, c->x, c->y, c->w, c->h, bg - FLAT_TOL, bg + FLAT_TOL);
    return r <= 0.3 && ((u >= 0.6 && peaks >= 0.6) || f >= 0.85);
}

/* Whether most of the margin around a line lies within FLAT_TOL of its median. */
static int flat_ground(PIX *grey, const struct cand *c)
{
    int bg = ring_median(grey, c->x, c->y, c->w, c->h);
    return ring_share(grey, c->x, c->y, c->w, c->h, bg - FLAT_TOL, bg + FLAT_TOL) >= 0.6;
}

/* Share of a line's letters whose most inked pixel lies within PEAK_TOL grey levels of
 * the median letter's: every glyph of a burned-in line, however soft its edges, reaches
 * the ink's one colour somewhere; streaks of anatomy peak at scattered values. */
static double peaks_agree(const struct part *parts, const int *members, int nm, PIX *ink,
                          PIX *grey, int light)
{
    int peaks[64], n = 0;
    l_uint32 *idata = pixGetData(ink), *gdata = pixGetData(grey);
    int iwpl = pixGetWpl(ink), gwpl = pixGetWpl(grey);
    for (int k = 0; k < nm && n < 64; k++) {
        const struct part *p = &parts[members[k]];
        int peak = light ? 0 : 255;
        for (int y = p->y; y < p->y + p->h; y++) {
            l_uint32 *il = idata + (size_t)y * iwpl, *gl = gdata + (size_t)y * gwpl;
            for (int x = p->x; x < p->x + p->w; x++) {
                if (!GET_DATA_BIT(il, x))
                    continue;
                int v = GET_DATA_BYTE(gl, x);
                peak = light ? (v > peak ? v : peak) : (v < peak ? v : peak);
            }
        }
        peaks[n++] = peak;
    }
    if (n == 0)
        return 0;
    int m = median(peaks, n), agree = 0;
    for (int k = 0; k < n; k++)
        agree += abs(peaks[k] - m) <= PEAK_TOL;
    return (double)agree / n;
}

/* Punctuation and letters the chaining left out ('-', '.', '^', a letter touching
 * anatomy) that lie in the line's band and close to it join the line. */
static void attach_marks(const struct part *parts, int np, struct cand *c)
{
    int slack = c->h / 4 + 1, reach = c->h * 2 / 3 > 3 ? c->h * 2 / 3 : 3;
    int top = c->y - slack, bottom = c->y + c->h + slack, h = c->h, changed = 1;
    for (int pass = 0; changed && pass < 8; pass++) {
        changed = 0;
        for (int i = 0; i < np; i++) {
            const struct part *p = &parts[i];
            if (p->x > c->x + c->w + reach)
                break;
            if (p->x + p->w < c->x - reach || p->h > h || p->y < top || p->y + p->h > bottom)
                continue;
            int x0 = p->x < c->x ? p->x : c->x;
            int x1 = p->x + p->w > c->x + c->w ? p->x + p->w : c->x + c->w;
            int y0 = p->y < c->y ? p->y : c->y;
            int y1 = p->y + p->h > c->y + c->h ? p->y + p->h : c->y + c->h;
            if (x0 != c->x || x1 != c->x + c->w || y0 != c->y || y1 != c->y + c->h) {
                *c = (struct cand){ x0, y0, x1 - x0, y1 - y0, c->score };
                changed = 1;
            }
        }
    }
}

/* Grey level of the line's ink: the value most of its strokes reach (a high percentile of
 * the ink pixels for light text, a low one for dark). */
static int ink_level(PIX *ink, PIX *grey, const struct cand *c, int light)
{
    int hist[256] = { 0 }, total = 0;
    l_uint32 *idata = pixGetData(ink), *gdata = pixGetData(grey);
    int iwpl = pixGetWpl(ink), gwpl = pixGetWpl(grey);
    for (int y = c->y; y < c->y + c->h; y++) {
        l_uint32 *il = idata + (size_t)y * iwpl, *gl = gdata + (size_t)y * gwpl;
        for (int x = c->x; x < c->x + c->w; x++) {
            if (GET_DATA_BIT(il, x)) {
                hist[GET_DATA_BYTE(gl, x)]++;
                total++;
            }
        }
    }
    int acc = 0;
    for (int k = 0; k < 256; k++) {
        int v = light ? 255 - k : k;
        if ((acc += hist[v]) * 5 >= total)
            return v;
    }
    return light ? 255 : 0;
}

/* What a column of a line's band shows: a stroke (from a row above the band to a row below
 * it, the column passes from the ink's grey level to a clearly different one and back at
 * least twice: across a letter; the edge of a bright organ crosses once), ground where ink
 * would be invisible (the band is nearly all at the ink's level: white letters over
 * saturated bone), or neither. */
enum { COL_NONE, COL_STROKE, COL_HIDDEN };

static int stroke_column(PIX *grey, int x, int y0, int y1, int level, int light)
{
    l_uint32 *gdata = pixGetData(grey);
    int gwpl = pixGetWpl(grey), H = pixGetHeight(grey), state = 0, changes = 0, inky = 0;
    int ya = y0 > 0 ? y0 - 1 : y0, yb = y1 < H ? y1 + 1 : y1;
    for (int y = ya; y < yb; y++) {
        int v = GET_DATA_BYTE(gdata + (size_t)y * gwpl, x);
        int d = light ? level - v : v - level, s = d <= EXT_INK_TOL ? 1 : d >= EXT_BG_DELTA ? -1 : 0;
        inky += s > 0 && y >= y0 && y < y1;
        if (s != 0 && s != state) {
            changes += state != 0;
            state = s;
        }
    }
    if (inky && changes >= 2)
        return COL_STROKE;
    return inky * 10 >= (y1 - y0) * 9 ? COL_HIDDEN : COL_NONE;
}

/* Words over bright anatomy lose their contrast, so the detector finds only part of a line.
 * The line is extended sideways while stroke columns keep coming, across gaps of up to two
 * character widths (hidden ground does not count as gap), when enough of the added stretch
 * that is not hidden has strokes. */
static void extend_line(PIX *ink, PIX *grey, int light, struct cand *c)
{
    int W = pixGetWidth(grey), level = ink_level(ink, grey, c, light);
    int maxgap = 2 * c->h, y0 = c->y, y1 = c->y + c->h;
    for (int dir = -1; dir <= 1; dir += 2) {
        int start = dir < 0 ? c->x - 1 : c->x + c->w, last = start - dir, gap = 0;
        int hits = 0, hidden = 0, hidden_at_last = 0;
        for (int x = start; x >= 0 && x < W && gap <= maxgap; x += dir) {
            int k = stroke_column(grey, x, y0, y1, level, light);
            if (k == COL_STROKE) {
                hits++;
                last = x;
                gap = 0;
                hidden_at_last = hidden;
            } else if (k == COL_HIDDEN) {
                hidden++;
            } else {
                gap++;
            }
        }
        int span = abs(last - start) + 1 - hidden_at_last;
        if (last == start - dir || hits == 0 || hits * 10 < span * 3)
            continue;
        if (dir < 0) {
            c->w += c->x - last;
            c->x = last;
        } else {
            c->w = last + 1 - c->x;
        }
    }
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

/* A frame turned a quarter (ocr_turn's way 0), made only when a search needs its pixels:
 * the turned search of a text-free frame mostly ends at its ink map's components. */
struct turning {
    int w, h, ch;                  /* the upright frame */
    const unsigned char *upright;
    unsigned char *pixels;         /* the turned frame once made (malloc'd), else NULL */
};

/* One view of the frame (ocr_pix_from_frame's mode), made on first use: only frames with a
 * line to judge need it. */
struct view {
    int width, height, channels, mode;
    const unsigned char *pixels;   /* NULL: turn's, made when first needed */
    struct turning *turn;
    PIX *pix;
};

/* NULL when out of memory. */
static PIX *view_pix(struct view *v)
{
    const unsigned char *px = v->pixels;
    if (!px && v->turn && !(px = v->turn->pixels))
        px = v->turn->pixels = ocr_turn(v->turn->w, v->turn->h, v->turn->ch, v->turn->upright, 0);
    if (!v->pix && px)
        v->pix = ocr_pix_from_frame(v->width, v->height, v->channels, px, v->mode);
    return v->pix;
}

/* Appends p to parts (*np of *cap, doubled when full); 0, or -1 when out of memory. */
static int push_part(struct part **parts, int *np, int *cap, struct part p)
{
    if (*np == *cap) {
        struct part *g = realloc(*parts, (size_t)*cap * 2 * sizeof *g);
        if (!g)
            return -1;
        *parts = g;
        *cap *= 2;
    }
    (*parts)[(*np)++] = p;
    return 0;
}

/* A part wider than a letter can be a word whose letters touch (small bold type), joined
 * by a pixel or two of ink: it is cut at the columns where its ink is that thin, and each
 * piece bounded by its own ink. Appends the pieces to parts (*np, growing *cap); 0, or -1
 * when out of memory. */
static int split_word(PIX *ink, int x, int y, int w, int h, struct part **parts, int *np,
                      int *cap)
{
    l_uint32 *data = pixGetData(ink);
    int wpl = pixGetWpl(ink), thin = h / 8 > 2 ? h / 8 : 2, x0 = -1, top = 0, bottom = 0;
    for (int cx = x; cx <= x + w; cx++) {
        int count = 0, t = -1, b = -1;
        for (int cy = y; cx < x + w && cy < y + h; cy++)
            if (GET_DATA_BIT(data + (size_t)cy * wpl, cx)) {
                count++;
                t = t < 0 ? cy : t;
                b = cy;
            }
        if (count > thin) {
            if (x0 < 0) {
                x0 = cx;
                top = t;
                bottom = b;
            }
            top = t < top ? t : top;
            bottom = b > bottom ? b : bottom;
            continue;
        }
        if (x0 < 0)
            continue;
        if (push_part(parts, np, cap, (struct part){ x0, top, cx - x0, bottom + 1 - top, 0, 1 }))
            return -1;
        x0 = -1;
    }
    return 0;
}

/* What a search of one frame at one scale accepts. */
struct rules {
    int min_h;        /* lines at least this tall */
    int bold_ok;      /* lines in bold type too */
    int plain;        /* only lines on a plain ground */
    int min_letters;  /* lines of at least this many parts */
};

/* Finds lines of characters in a 1 bpp ink map of one view (inkcount: its set pixels;
 * light: ink brighter than its surroundings). */
static int find_lines(PIX *ink, l_int32 inkcount, struct view *view, int light,
                      const struct rules *rl, struct cand **cands, size_t *ncand, size_t *cap)
{
    int rc = -1;
    int *tab8 = makePixelSumTab8();
    PIX *core = NULL;
    BOXA *boxa = NULL;
    struct part *parts = NULL, *letters = NULL;
    int *members = NULL;
    if (!tab8)
        goto out;
    if (inkcount < 12) {
        rc = 0;
        goto out;
    }
    boxa = ocr_components(ink);
    if (!boxa)
        goto out;
    int nb = boxaGetCount(boxa);
    /* A frame this busy (ultrasound speckle, noise at full size) would give lines all over;
     * text burned into such a frame is put on a plain bar or border to be read, so only
     * lines on a plain ground are kept. It was once not searched at all, and its header lost. */
    int plain = rl->plain || nb > BUSY_PARTS;
    int np = 0, nl = 0, pcap = nb > 16 ? nb : 16;
    parts = malloc((size_t)pcap * sizeof *parts);
    if (!parts)
        goto out;
    for (int i = 0; i < nb; i++) {
        l_int32 x, y, w, h;
        boxaGetBoxGeometry(boxa, i, &x, &y, &w, &h);
        if (h > MAX_LINE_H)
            continue;
        /* Character-sized, or a short mark such as '-', '.' or '/'. Wider, perhaps a word
         * whose letters touch: cut where bold type may be (it stands on a plain ground). */
        if (w > 2 * h + 4 || w > 2 * MAX_LINE_H) {
            if (rl->bold_ok && h >= MIN_LETTER_H && w <= WORD_PARTS * h &&
                split_word(ink, x, y, w, h, &parts, &np, &pcap) != 0)
                goto out;
            continue;
        }
        if (push_part(&parts, &np, &pcap, (struct part){ x, y, w, h, 0, 0 }))
            goto out;
    }
    /* Pieces still wider than a letter are left out. */
    int kept = 0;
    for (int i = 0; i < np; i++)
        if (parts[i].w <= 2 * parts[i].h + 4 && parts[i].w <= 2 * MAX_LINE_H)
            parts[kept++] = parts[i];
    np = kept;
    letters = malloc((size_t)(np ? np : 1) * sizeof *letters);
    members = malloc((size_t)(np ? np : 1) * sizeof *members);
    if (!letters || !members)
        goto out;
    qsort(parts, (size_t)np, sizeof *parts, cmp_part_x);
    for (int i = 0; i < np; i++)
        if (is_letter(&parts[i]))
            letters[nl] = parts[i], letters[nl].group = nl, nl++;
    for (int i = 0; i < nl; i++) {
        for (int j = i + 1; j < nl; j++) {
            if (letters[j].x > letters[i].x + letters[i].w + MAX_LINE_H + 1)
                break;
            if (same_line(&letters[i], &letters[j])) {
                int a = find(letters, i), b = find(letters, j);
                if (a != b)
                    letters[a > b ? a : b].group = a < b ? a : b;
            }
        }
    }
    for (int i = 0; i < nl; i++)
        find(letters, i);
    for (int root = 0; root < nl; root++) {
        if (letters[root].group != root)
            continue;
        int nm = 0;
        for (int i = root; i < nl; i++)
            if (letters[i].group == root)
                members[nm++] = i;
        if (nm < rl->min_letters)
            continue;
        struct cand c;
        int line = judge_line(letters, members, nm, ink, &core, tab8, rl->min_h, rl->bold_ok,
                              &c);
        if (line < 0)
            goto out;
        if (!line)
            continue;
        PIX *grey = view_pix(view);
        if (!grey)
            goto out;
        if (!uniform_ink(ink, grey, light, &c, peaks_agree(letters, members, nm, ink, grey, light)))
            continue;
        /* In a halved frame, stripes of muscle and bowel look like large letters, and bold
         * letters like a row of blobs; titles, forms and bold labels stand on a plain
         * ground. */
        int pieces = 0;
        for (int k = 0; k < nm; k++)
            pieces |= letters[members[k]].piece;
        if ((line == 2 || pieces || plain || rl->min_h > MIN_LINE_H) &&
            !flat_ground(grey, &c))
            continue;
        attach_marks(parts, np, &c);
        extend_line(ink, grey, light, &c);
        if (push_cand(cands, ncand, cap, &c))
            goto out;
    }
    rc = 0;
out:
    free(members);
    free(letters);
    free(parts);
    boxaDestroy(&boxa);
    pixDestroy(&core);
    free(tab8);
    return rc;
}

/* Ink of one polarity in one view: where its top-hat (white for light ink, black for dark
 * ink) reaches MIN_CONTRAST. Views are not combined: in a colour frame the gaps between
 * yellow letters on cyan are "light" in the blue channel and would fill the line.
 * The top-hat is computed here rather than with pixTophat, which takes most of the
 * detector's time: the same opening (closing) over a TOPHAT_SIZE square, clipped at the
 * frame's edges, but as a running minimum and maximum built by doubling from element-wise
 * minima of shifted copies of the frame, which the compiler turns into vector code. */
#define HALF_WIN (TOPHAT_SIZE / 2)

/* Blocks of 16 with a fixed trip count: a loop the compiler vectorises at -O2. */
static inline void elementwise(unsigned char *restrict dst, const unsigned char *restrict a,
                               const unsigned char *restrict b, size_t n, int want_max)
{
    size_t i = 0;
    if (want_max) {
        for (; i + 16 <= n; i += 16)
            for (size_t k = i; k < i + 16; k++)
                dst[k] = a[k] > b[k] ? a[k] : b[k];
        for (; i < n; i++)
            dst[i] = a[i] > b[i] ? a[i] : b[i];
    } else {
        for (; i + 16 <= n; i += 16)
            for (size_t k = i; k < i + 16; k++)
                dst[k] = a[k] < b[k] ? a[k] : b[k];
        for (; i < n; i++)
            dst[i] = a[i] < b[i] ? a[i] : b[i];
    }
}

/* lo[i] = min(lo[i], a[i]) and hi[i] = max(hi[i], b[i]) for i in [0, n). */
static void widen_range(unsigned char *restrict lo, unsigned char *restrict hi,
                        const unsigned char *restrict a, const unsigned char *restrict b, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t k = i; k < i + 16; k++) {
            lo[k] = lo[k] < a[k] ? lo[k] : a[k];
            hi[k] = hi[k] > b[k] ? hi[k] : b[k];
        }
    for (; i < n; i++) {
        lo[i] = lo[i] < a[i] ? lo[i] : a[i];
        hi[i] = hi[i] > b[i] ? hi[i] : b[i];
    }
}

/* mask[i] = 1 where hi[i] - lo[i] (never negative) reaches MIN_CONTRAST, else 0. */
static void elementwise_sub_ge(unsigned char *restrict mask, const unsigned char *restrict hi,
                               const unsigned char *restrict lo, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t k = i; k < i + 16; k++)
            mask[k] = (unsigned char)(hi[k] - lo[k]) >= MIN_CONTRAST;
    for (; i < n; i++)
        mask[i] = (unsigned char)(hi[i] - lo[i]) >= MIN_CONTRAST;
}

/* n rounded up to whole blocks of 16: a row's scalar tail costs more than the vector
 * blocks of a short span, and the values computed past n are not used. */
static size_t blocks(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* The minimum (maximum) of the TOPHAT_SIZE values src[i - HALF_WIN .. i + HALF_WIN] into
 * dst[i] for i in [lo, hi); src is read, and dst, t1 and t2 written, from lo - HALF_WIN up
 * to 2 * HALF_WIN + 15 past hi. Runs of 2, 4 and 8 values are built by doubling; two
 * overlapping runs of 8 make the window. */
static void run_row(unsigned char *dst, const unsigned char *src, unsigned char *t1,
                    unsigned char *t2, size_t lo, size_t hi, int want_max)
{
    size_t b = lo - HALF_WIN;
    elementwise(t1 + b, src + b, src + b + 1, blocks(hi + HALF_WIN - 1 - b), want_max);
    elementwise(t2 + b, t1 + b, t1 + b + 2, blocks(hi + HALF_WIN - 3 - b), want_max);
    elementwise(t1 + b, t2 + b, t2 + b + 4, blocks(hi + HALF_WIN - 7 - b), want_max);
    elementwise(dst + lo, t1 + b, t1 + b + TOPHAT_SIZE - 8, blocks(hi - lo), want_max);
}

/* Columns [lo, hi) of one row of a work buffer; empty when lo >= hi. */
struct span { int lo, hi; };

static int span_empty(struct span a)
{
    return a.lo >= a.hi;
}

static struct span hull(struct span a, struct span b)
{
    if (span_empty(a))
        return b;
    if (span_empty(b))
        return a;
    return (struct span){ a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi };
}

/* A work buffer holds the view with a margin of HALF_WIN on every side (stride s, rows
 * h + 2 * HALF_WIN); a pass sets the margins it reads to its neutral value so the window is
 * clipped. Each pass computes only the spans of its rows that the next one reads: flat
 * parts of the frame cannot hold ink, and the top-hat there is not worked out. */
static void horizontal_pass(unsigned char *dst, unsigned char *src, unsigned char *t1,
                            unsigned char *t2, int w, size_t s, int rows, const struct span *d,
                            int want_max)
{
    for (int r = 0; r < rows; r++) {
        if (span_empty(d[r]))
            continue;
        unsigned char *row = src + r * s;
        if (d[r].lo < 2 * HALF_WIN)
            memset(row, want_max ? 0 : 255, HALF_WIN);
        if (d[r].hi > w)
            memset(row + HALF_WIN + w, want_max ? 0 : 255, HALF_WIN);
        run_row(dst, src, t1, t2, r * s + (size_t)d[r].lo, r * s + (size_t)d[r].hi, want_max);
    }
}

/* The rows' spans of a vertical pass's runs of 8, 4 and 2 (run[0..2], rows each) that
 * make its output on d, and (need) those of its input read. */
static void vertical_spans(const struct span *d, struct span *run, struct span *need, int rows)
{
    struct span none = { 0, 0 }, *r8 = run, *r4 = run + rows, *r2 = run + 2 * rows;
    for (int j = 0; j < rows; j++) {
        r8[j] = j + HALF_WIN < rows ? hull(d[j], d[j + HALF_WIN]) : none;
        r4[j] = hull(r8[j], j >= 4 ? r8[j - 4] : none);
        r2[j] = hull(r4[j], j >= 2 ? r4[j - 2] : none);
        need[j] = hull(r2[j], j >= 1 ? r2[j - 1] : none);
    }
    /* The margins' rows are set, not computed. */
    for (int j = 0; j < HALF_WIN; j++)
        need[j] = need[rows - 1 - j] = none;
}

/* Run by run over all rows: a run of 8 reads the runs of 4 of later rows. */
static void vertical_pass(unsigned char *dst, unsigned char *src, unsigned char *t1,
                          unsigned char *t2, size_t s, int rows, const struct span *d,
                          const struct span *run, int want_max)
{
    const struct span *r8 = run, *r4 = run + rows, *r2 = run + 2 * rows;
    memset(src, want_max ? 0 : 255, HALF_WIN * s);
    memset(src + (rows - HALF_WIN) * s, want_max ? 0 : 255, HALF_WIN * s);
    for (int j = 0; j < rows; j++)
        if (!span_empty(r2[j])) {
            size_t o = j * s + (size_t)r2[j].lo, len = blocks((size_t)(r2[j].hi - r2[j].lo));
            elementwise(t1 + o, src + o, src + o + s, len, want_max);
        }
    for (int j = 0; j < rows; j++)
        if (!span_empty(r4[j])) {
            size_t o = j * s + (size_t)r4[j].lo, len = blocks((size_t)(r4[j].hi - r4[j].lo));
            elementwise(t2 + o, t1 + o, t1 + o + 2 * s, len, want_max);
        }
    for (int j = 0; j < rows; j++)
        if (!span_empty(r8[j])) {
            size_t o = j * s + (size_t)r8[j].lo, len = blocks((size_t)(r8[j].hi - r8[j].lo));
            elementwise(t1 + o, t2 + o, t2 + o + 4 * s, len, want_max);
        }
    for (int j = 0; j < rows; j++)
        if (!span_empty(d[j])) {
            size_t o = j * s + (size_t)d[j].lo, len = blocks((size_t)(d[j].hi - d[j].lo));
            elementwise(dst + o, t1 + o - HALF_WIN * s,
                        t1 + o + (TOPHAT_SIZE - 8 - HALF_WIN) * s, len, want_max);
        }
}

/* Room for ink_map's four work buffers for a w x h view: allocated once per frame and
 * shared by its views and polarities. A row has room for run_row's reach past the view. */
static size_t ink_stride(int w)
{
    return (size_t)w + 2 * HALF_WIN + 16;
}

static size_t ink_buffer_size(int w, int h)
{
    return ink_stride(w) * ((size_t)h + 2 * HALF_WIN);
}

/* The spans of each pass, per buffer row: the output's, the second vertical pass's runs,
 * the second horizontal pass's, the first vertical pass's output and runs, the first
 * horizontal pass's. */
enum { PLAN_OUT, PLAN_RUN4, PLAN_H3 = PLAN_RUN4 + 3, PLAN_V2, PLAN_RUN2, PLAN_H1 = PLAN_RUN2 + 3,
       PLAN_N };

struct ink_work {
    unsigned char *buf;   /* four buffers of ink_buffer_size */
    struct span *plan;    /* PLAN_N arrays of h + 2 * HALF_WIN */
};

static int ink_work_new(struct ink_work *k, int w, int h)
{
    k->buf = malloc(4 * ink_buffer_size(w, h));
    k->plan = malloc((size_t)PLAN_N * ((size_t)h + 2 * HALF_WIN) * sizeof *k->plan);
    return k->buf && k->plan ? 0 : -1;
}

static void ink_work_free(struct ink_work *k)
{
    free(k->buf);
    free(k->plan);
}

/* First and last index of a non-zero byte of mask[0..n), or an empty span. */
static struct span set_bytes(const unsigned char *mask, int n)
{
    struct span sp = { 0, 0 };
    int lo = 0, hi = n;
    while (lo < n && !mask[lo])
        lo++;
    while (hi > lo && !mask[hi - 1])
        hi--;
    if (lo < hi)
        sp = (struct span){ lo, hi };
    return sp;
}

/* Plans the passes for both polarities of a view. The white top-hat at p is at most grey(p)
 * less the minimum over the square at p, and the black one at most the maximum less grey(p),
 * so no ink lies where the grey range over the square is below MIN_CONTRAST. That range is
 * bounded by bands of 8 rows: minima and maxima of each band's columns, combined over a
 * band and its neighbours, then over the square's width. 1 when no row has ink. */
static int plan_passes(const unsigned char *grey, int w, int h, struct ink_work *k)
{
    size_t s = ink_stride(w), n = ink_buffer_size(w, h);
    int rows = h + 2 * HALF_WIN, bands = (h + 7) / 8, any = 0;
    unsigned char *bmin = k->buf + 2 * n, *bmax = k->buf + 3 * n, *c = k->buf + n;
    unsigned char *cmin = c, *cmax = c + s, *wmin = c + 2 * s, *wmax = c + 3 * s;
    unsigned char *t1 = c + 4 * s, *t2 = c + 5 * s, *mask = c + 6 * s;
    struct span *out = k->plan + PLAN_OUT * (size_t)rows, none = { 0, 0 };
    for (int b = 0; b < bands; b++) {
        unsigned char *lo = bmin + (size_t)b * w, *hi = bmax + (size_t)b * w;
        memcpy(lo, grey + (size_t)b * 8 * w, (size_t)w);
        memcpy(hi, lo, (size_t)w);
        for (int y = b * 8 + 1; y < b * 8 + 8 && y < h; y++)
            widen_range(lo, hi, grey + (size_t)y * w, grey + (size_t)y * w, (size_t)w);
    }
    memset(cmin, 255, s);
    memset(cmax, 0, s);
    for (int r = 0; r < rows; r++)
        out[r] = none;
    for (int b = 0; b < bands; b++) {
        int b0 = b > 0 ? b - 1 : 0, b1 = b + 1 < bands ? b + 1 : b;
        memcpy(cmin + HALF_WIN, bmin + (size_t)b0 * w, (size_t)w);
        memcpy(cmax + HALF_WIN, bmax + (size_t)b0 * w, (size_t)w);
        for (int e = b0 + 1; e <= b1; e++)
            widen_range(cmin + HALF_WIN, cmax + HALF_WIN, bmin + (size_t)e * w,
                        bmax + (size_t)e * w, (size_t)w);
        run_row(wmin, cmin, t1, t2, HALF_WIN, HALF_WIN + (size_t)w, 0);
        run_row(wmax, cmax, t1, t2, HALF_WIN, HALF_WIN + (size_t)w, 1);
        elementwise_sub_ge(mask, wmax + HALF_WIN, wmin + HALF_WIN, (size_t)w);
        struct span sp = set_bytes(mask, w);
        if (span_empty(sp))
            continue;
        any = 1;
        for (int y = b * 8; y < b * 8 + 8 && y < h; y++)
            out[y + HALF_WIN] = (struct span){ sp.lo + HALF_WIN, sp.hi + HALF_WIN };
    }
    if (!any)
        return 1;
    /* Backwards from the output: each pass's spans are what the next one reads. */
    struct span *h3 = k->plan + PLAN_H3 * (size_t)rows, *v2 = k->plan + PLAN_V2 * (size_t)rows;
    vertical_spans(out, k->plan + PLAN_RUN4 * (size_t)rows, h3, rows);
    for (int r = 0; r < rows; r++) {
        v2[r] = h3[r];
        if (!span_empty(v2[r])) {
            v2[r].lo = v2[r].lo - HALF_WIN > HALF_WIN ? v2[r].lo - HALF_WIN : HALF_WIN;
            v2[r].hi = v2[r].hi + HALF_WIN < HALF_WIN + w ? v2[r].hi + HALF_WIN : HALF_WIN + w;
        }
    }
    vertical_spans(v2, k->plan + PLAN_RUN2 * (size_t)rows, k->plan + PLAN_H1 * (size_t)rows,
                   rows);
    return 0;
}

/* *count: the map's set pixels. k: planned by plan_passes for grey (flat: it found no
 * ink). */
static PIX *ink_map(const unsigned char *grey, int w, int h, int type, struct ink_work *k,
                    int flat, l_int32 *count)
{
    int light = type == L_TOPHAT_WHITE, rows = h + 2 * HALF_WIN;
    size_t s = ink_stride(w), n = ink_buffer_size(w, h);
    unsigned char *a = k->buf, *b = k->buf + n, *t1 = k->buf + 2 * n, *t2 = k->buf + 3 * n;
    const struct span *plan = k->plan, *out = plan + PLAN_OUT * (size_t)rows;
    PIX *ink = pixCreate(w, h, 1);
    *count = 0;
    if (!ink || flat)
        return ink;
    const struct span *h1 = plan + PLAN_H1 * (size_t)rows;
    for (int y = 0; y < h; y++) {
        struct span sp = h1[y + HALF_WIN];
        if (span_empty(sp))
            continue;
        int x0 = sp.lo - 2 * HALF_WIN > 0 ? sp.lo - 2 * HALF_WIN : 0;
        int x1 = sp.hi < w ? sp.hi : w;
        memcpy(a + (size_t)(y + HALF_WIN) * s + HALF_WIN + x0, grey + (size_t)y * w + x0,
               (size_t)(x1 - x0));
    }
    /* Opening (light ink) erodes then dilates; closing (dark ink) the other way round. */
    horizontal_pass(b, a, t1, t2, w, s, rows, h1, !light);
    vertical_pass(a, b, t1, t2, s, rows, plan + PLAN_V2 * (size_t)rows,
                  plan + PLAN_RUN2 * (size_t)rows, !light);
    horizontal_pass(b, a, t1, t2, w, s, rows, plan + PLAN_H3 * (size_t)rows, light);
    vertical_pass(a, b, t1, t2, s, rows, out, plan + PLAN_RUN4 * (size_t)rows, light);
    /* The opening is never above the view and the closing never below it, so the top-hat
     * is a byte difference. Ink is sparse: the row's mask is read 8 bytes at a time, from a
     * multiple of 8 so that they make one byte of the map. */
    l_uint32 *idata = pixGetData(ink);
    int iwpl = pixGetWpl(ink);
    unsigned char *mask = b;
    for (int y = 0; y < h; y++) {
        struct span sp = out[y + HALF_WIN];
        if (span_empty(sp))
            continue;
        int x0 = sp.lo - HALF_WIN, x1 = sp.hi - HALF_WIN, xa = x0 & ~7;
        const unsigned char *o = a + (size_t)(y + HALF_WIN) * s + HALF_WIN;
        const unsigned char *v = grey + (size_t)y * w;
        const unsigned char *hi = light ? v : o, *lo = light ? o : v;
        memset(mask + xa, 0, (size_t)(x0 - xa));
        elementwise_sub_ge(mask + x0, hi + x0, lo + x0, (size_t)(x1 - x0));
        memset(mask + x1, 0, 8);
        l_uint32 *il = idata + (size_t)y * iwpl;
        for (int x = xa; x < x1; x += 8) {
            uint64_t word;
            memcpy(&word, mask + x, 8);
            if (word == 0)
                continue;
            word = 0;
            for (int k = 7; k >= 0; k--)
                word = word << 8 | mask[x + k];
            /* Bytes of 0 or 1: one product gathers them into bits (first pixel highest),
             * another adds them up. */
            il[x / 32] |= (l_uint32)((word * 0x8040201008040201u) >> 56) << (24 - x % 32);
            *count += (l_int32)((word * 0x0101010101010101u) >> 56);
        }
    }
    return ink;
}

PIX *ocr_ink_map(const unsigned char *grey, int w, int h, int type)
{
    struct ink_work k;
    l_int32 count;
    PIX *ink = NULL;
    if (ink_work_new(&k, w, h) == 0)
        ink = ink_map(grey, w, h, type, &k, plan_passes(grey, w, h, &k), &count);
    ink_work_free(&k);
    return ink;
}

/* Whether two boxes overlap by half the smaller one. */
static int half_overlap(const struct cand *a, const struct cand *b)
{
    int ox = overlap_1d(a->x, a->x + a->w, b->x, b->x + b->w);
    int oy = overlap_1d(a->y, a->y + a->h, b->y, b->y + b->h);
    long sa = (long)a->w * a->h, sb = (long)b->w * b->h;
    return (long)ox * oy * 2 >= (sa < sb ? sa : sb);
}

/* a becomes the union of a and b, with the higher score. */
static void unite(struct cand *a, const struct cand *b)
{
    int x0 = a->x < b->x ? a->x : b->x, y0 = a->y < b->y ? a->y : b->y;
    int x1 = a->x + a->w > b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h > b->y + b->h ? a->y + a->h : b->y + b->h;
    *a = (struct cand){ x0, y0, x1 - x0, y1 - y0, a->score > b->score ? a->score : b->score };
}

/* Both polarities can fire on one line (the gaps between light letters are dark strokes),
 * and the words of one line are found apart: boxes that overlap, or stand on one baseline
 * at most two character heights apart, are merged into their union. */
static int mergeable(const struct cand *a, const struct cand *b)
{
    if (half_overlap(a, b))
        return 1;
    int oy = overlap_1d(a->y, a->y + a->h, b->y, b->y + b->h);
    int hmax = a->h > b->h ? a->h : b->h, hmin = a->h < b->h ? a->h : b->h;
    int gap = a->x < b->x ? b->x - (a->x + a->w) : a->x - (b->x + b->w);
    return gap <= 2 * hmax && hmin * 3 >= hmax * 2 && oy * 10 >= hmin * 6;
}

static size_t merge_lines(struct cand *c, size_t n)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (!mergeable(&c[i], &c[j]))
                    continue;
                unite(&c[i], &c[j]);
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

/* The lines of c[0..nc), merged, as boxes sorted top to bottom, left to right (*boxes
 * malloc'd; NULL when there are none). Frees c. */
static int to_boxes(struct cand *c, size_t nc, ocr_box **boxes, size_t *n, char *err,
                    size_t errlen)
{
    nc = merge_lines(c, nc);
    ocr_box *out = nc ? malloc(nc * sizeof *out) : NULL;
    if (nc && !out) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (nc > 1)
        qsort(c, nc, sizeof *c, cmp_cand);
    for (size_t i = 0; i < nc; i++)
        out[i] = (ocr_box){ c[i].x, c[i].y, c[i].w, c[i].h, c[i].score, 0 };
    free(c);
    *boxes = out;
    *n = nc;
    return 0;
}

/* The ink maps of a full-size search, by grey view (one, or one a colour channel) and
 * polarity (0 light, 1 dark), kept for the search of the same frame turned. The top-hat's
 * window is square, so the map of the turned frame is the map turned: equal on every
 * frame of the bench's sets, the dev corpus, pydicom's files and the cine fixtures, both
 * views and both polarities (734 maps). */
struct inks {
    PIX *map[3][2];
    l_int32 count[3][2];
};

static void inks_free(struct inks *k)
{
    for (int v = 0; v < 3; v++)
        for (int t = 0; t < 2; t++)
            pixDestroy(&k->map[v][t]);
}

/* The lines of a frame at one scale that rl accepts, appended to *c. keep: where to keep
 * its ink maps (or NULL); given: the ink maps to use instead of making them (or NULL), and
 * then pixels may be NULL for those of turn. */
static int detect_at(int width, int height, int channels, const unsigned char *pixels,
                     struct turning *turn, const struct rules *rl, struct inks *keep,
                     const struct inks *given, struct cand **c, size_t *nc, size_t *cap)
{
    struct view views[3];
    int nviews = channels == 3 ? 3 : 1, rc = 0;
    for (int v = 0; v < nviews; v++)
        views[v] = (struct view){ width, height, channels,
                                  channels == 3 ? OCR_GREY_CHANNEL0 + v : OCR_GREY_LUMA, pixels,
                                  turn, NULL };
    static const int types[2] = { L_TOPHAT_WHITE, L_TOPHAT_BLACK };
    unsigned char *channel = NULL;
    struct ink_work work = { NULL, NULL };
    if (!given && (ink_work_new(&work, width, height) ||
                   (channels == 3 && !(channel = malloc((size_t)width * height)))))
        rc = -1;
    for (int v = 0; v < nviews && rc == 0; v++) {
        const unsigned char *grey = pixels;
        if (channel) {
            for (size_t i = 0, np = (size_t)width * height; i < np; i++)
                channel[i] = pixels[3 * i + (size_t)v];
            grey = channel;
        }
        int flat = given ? 0 : plan_passes(grey, width, height, &work);
        for (int t = 0; t < 2 && rc == 0; t++) {
            l_int32 count = 0;
            PIX *ink = given ? pixClone(given->map[v][t])
                             : ink_map(grey, width, height, types[t], &work, flat, &count);
            if (given)
                count = given->count[v][t];
            if (ink && keep) {
                keep->map[v][t] = pixClone(ink);
                keep->count[v][t] = count;
            }
            rc = ink ? find_lines(ink, count, &views[v], types[t] == L_TOPHAT_WHITE, rl, c, nc,
                                  cap)
                     : -1;
            pixDestroy(&ink);
        }
    }
    free(channel);
    ink_work_free(&work);
    for (int v = 0; v < nviews; v++)
        pixDestroy(&views[v].pix);
    return rc;
}

/* The frame at half its size, each pixel the mean of a 2 x 2 block (malloc'd; NULL when
 * out of memory). */
static unsigned char *halve(int w, int h, int channels, const unsigned char *px)
{
    int hw = w / 2, hh = h / 2;
    unsigned char *out = malloc((size_t)hw * hh * channels);
    if (!out)
        return NULL;
    for (int y = 0; y < hh; y++) {
        const unsigned char *a = px + (size_t)2 * y * w * channels, *b = a + (size_t)w * channels;
        unsigned char *o = out + (size_t)y * hw * channels;
        if (channels == 1)
            for (int x = 0; x < hw; x++)
                o[x] = (unsigned char)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
        else
            for (int x = 0; x < hw; x++)
                for (int c = 0; c < 3; c++) {
                    int k = 6 * x + c;
                    o[3 * x + c] = (unsigned char)((a[k] + a[k + 3] + b[k] + b[k + 3] + 2) >> 2);
                }
    }
    return out;
}

/* Text taller than MAX_LINE_H (titles of screen captures, scanned forms) is looked for in
 * the frame halved, and halved again while the result can hold such a line and the line
 * is at most a quarter of the frame's height: each level keeps only lines too tall for the
 * one before, so it adds no new way to mistake anatomy for small text. */
#define PYRAMID_MIN_SIDE (MAX_LINE_H + 4)

/* How detect_frame searches. */
enum {
    DETECT_PYRAMID = 1,  /* the halved frames too */
    /* The frame shows values beyond a window as one white or black, which makes plain
     * grounds out of anatomy (air cells in clipped bone are a row of bold dark blobs on
     * white): bold type is then looked for only in the halved frames. */
    DETECT_CLIPPED = 2,
    DETECT_PLAIN = 4,    /* only lines on a plain ground */
    /* The frame turned a quarter: lines of four letters at least, as a column of stacked
     * blobs (air cells in bone, vertebrae) turned is a row of two or three. */
    DETECT_TURNED = 8
};

/* ocr_detect, as flags (DETECT_*) ask; turn, keep and given as for detect_at, at full
 * size. */
static int detect_frame(int width, int height, int channels, const unsigned char *pixels,
                        struct turning *turn, int flags, struct inks *keep,
                        const struct inks *given, ocr_box **boxes, size_t *n, char *err,
                        size_t errlen)
{
    *boxes = NULL;
    *n = 0;
    if (width <= 0 || height <= 0 || (!pixels && !(turn && given)) ||
        (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "invalid image (%dx%d, %d channels)", width, height, channels);
        return -1;
    }
    struct cand *c = NULL;
    size_t nc = 0, cap = 0;
    int plain = (flags & DETECT_PLAIN) != 0;
    int letters = flags & DETECT_TURNED ? 4 : 2;
    struct rules full = { MIN_LINE_H, !(flags & DETECT_CLIPPED), plain, letters },
                 halved = { MAX_LINE_H / 2 - 2, 1, plain, letters };
    int rc = detect_at(width, height, channels, pixels, turn, &full, keep, given, &c, &nc,
                       &cap);
    const unsigned char *level = pixels;
    unsigned char *owned = NULL;
    int w = width, h = height;
    for (int k = 1; rc == 0 && (flags & DETECT_PYRAMID) && pixels &&
                    (w < h ? w : h) / 2 >= PYRAMID_MIN_SIDE &&
                    halved.min_h << k <= height / 4; k++) {
        unsigned char *half = halve(w, h, channels, level);
        free(owned);
        owned = half;
        level = half;
        w /= 2;
        h /= 2;
        size_t first = nc;
        rc = half ? detect_at(w, h, channels, half, NULL, &halved, NULL, NULL, &c, &nc, &cap)
                  : -1;
        for (size_t i = first; rc == 0 && i < nc; i++)
            c[i] = (struct cand){ c[i].x << k, c[i].y << k, c[i].w << k, c[i].h << k,
                                  c[i].score };
    }
    free(owned);
    if (rc != 0) {
        free(c);
        snprintf(err, errlen, "text detection failed (out of memory)");
        return -1;
    }
    return to_boxes(c, nc, boxes, n, err, errlen);
}

int ocr_detect(int width, int height, int channels, const unsigned char *pixels,
               ocr_box **boxes, size_t *n, char *err, size_t errlen)
{
    ocr_frame f = { width, height, channels, pixels, NULL, 0, 0, 0 };
    return ocr_detect_views(&f, boxes, n, err, errlen);
}

/* A box found in one view (first, so cmp_cand sorts these), and how large it was there. */
struct seen { struct cand c; int view, vertical; long area; };

/* Boxes of two views that overlap by half the smaller one are one piece of text. */
static size_t merge_views(struct seen *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (!half_overlap(&s[i].c, &s[j].c))
                continue;
            unite(&s[i].c, &s[j].c);
            if (s[j].area > s[i].area) {
                s[i].view = s[j].view;
                s[i].vertical = s[j].vertical;
                s[i].area = s[j].area;
            }
            s[j] = s[--n];
            j = i;  /* the union may now reach boxes it did not */
        }
    }
    return n;
}

/* Pixels [x0, x1) x [y0, y1) of ocr_turn, one output row (input column) at a time. Inlined
 * with ch a constant: a loop over a run-time channel count became a call to memcpy for
 * every pixel, which was a third of the detector's time. */
static inline void turn_block(unsigned char *restrict t, const unsigned char *restrict px, int w,
                              int h, int ch, int way, int x0, int x1, int y0, int y1)
{
    for (int x = x0; x < x1; x++) {
        unsigned char *row = t + (size_t)(way == 0 ? x : w - 1 - x) * h * ch;
        for (int y = y0; y < y1; y++) {
            const unsigned char *from = px + ((size_t)y * w + x) * ch;
            unsigned char *to = row + (size_t)(way == 0 ? h - 1 - y : y) * ch;
            for (int c = 0; c < ch; c++)
                to[c] = from[c];
        }
    }
}

/* turn_8x8 reads pixel x0 + k as byte k of a word, from bit 8k. */
static int little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* 8 x 8 grey pixels at (x0, y0) of ocr_turn: eight rows read as words and turned as a
 * byte matrix, in three rounds of swapping halves, instead of 64 single-byte moves. */
static void turn_8x8(unsigned char *restrict t, const unsigned char *restrict px, int w, int h,
                     int way, int x0, int y0)
{
    uint64_t a[8];
    /* Turning clockwise reverses the order of the rows in each output row. */
    for (int j = 0; j < 8; j++)
        memcpy(&a[j], px + (size_t)(y0 + (way == 0 ? 7 - j : j)) * w + x0, 8);
    static const uint64_t mask[3] = { 0x00FF00FF00FF00FFu, 0x0000FFFF0000FFFFu,
                                      0x00000000FFFFFFFFu };
    for (int r = 0, step = 1; r < 3; r++, step *= 2)
        for (int j = 0; j < 8; j++) {
            if (j & step)
                continue;
            uint64_t d = ((a[j] >> (8 * step)) ^ a[j + step]) & mask[r];
            a[j + step] ^= d;
            a[j] ^= d << (8 * step);
        }
    int col = way == 0 ? h - 8 - y0 : y0;
    for (int i = 0; i < 8; i++)
        memcpy(t + (size_t)(way == 0 ? x0 + i : w - 1 - x0 - i) * h + col, &a[i], 8);
}

unsigned char *ocr_turn(int w, int h, int ch, const unsigned char *px, int way)
{
    unsigned char *t = malloc((size_t)w * h * ch);
    if (!t)
        return NULL;
    /* In blocks of 32 rows and columns, which stay in the cache. */
    for (int y0 = 0; y0 < h; y0 += 32)
        for (int x0 = 0; x0 < w; x0 += 32) {
            int x1 = x0 + 32 < w ? x0 + 32 : w, y1 = y0 + 32 < h ? y0 + 32 : h;
            if (ch == 1 && x1 - x0 == 32 && y1 - y0 == 32 && little_endian())
                for (int y = y0; y < y1; y += 8)
                    for (int x = x0; x < x1; x += 8)
                        turn_8x8(t, px, w, h, way, x, y);
            else if (ch == 1)
                turn_block(t, px, w, h, 1, way, x0, x1, y0, y1);
            else if (ch == 3)
                turn_block(t, px, w, h, 3, way, x0, x1, y0, y1);
            else
                turn_block(t, px, w, h, ch, way, x0, x1, y0, y1);
        }
    return t;
}

ocr_box ocr_turn_box(const ocr_box *b, int w, int h, int way)
{
    return way == 0 ? (ocr_box){ h - b->y - b->h, b->x, b->h, b->w, b->score, 0 }
                    : (ocr_box){ b->y, w - b->x - b->w, b->h, b->w, b->score, 0 };
}

/* Tiles smaller than this hold no line of text: a file that claims them is searched whole
 * (one search a tile would cost more than the frame's worth). */
#define MIN_TILE 16

/* detect_frame over view v of f (0: its pixels, k: extra[k - 1]), a mosaic tile by tile,
 * with the boxes in the frame's coordinates. Titles large enough for the pyramid are drawn
 * to be seen, not hidden by a window: the extra views are searched at full size only. A
 * mosaic's tiles are slices, anatomy from edge to edge but for their corners, written for
 * processing rather than for display: only text on a plain ground is looked for there, as
 * the texture of a low-resolution slice has letter-sized blobs in rows. A view searched
 * whole keeps its ink maps in *inks. */
static int detect_view(const ocr_frame *f, int v, int clipped, struct inks *inks,
                       ocr_box **boxes, size_t *n, char *err, size_t errlen)
{
    int channels = v ? 1 : f->channels, tw = f->tile_w, th = f->tile_h;
    int flags = (v == 0 ? DETECT_PYRAMID : 0) | (clipped ? DETECT_CLIPPED : 0);
    const unsigned char *px = v ? f->extra[v - 1] : f->pixels;
    if (tw < MIN_TILE || th < MIN_TILE || (tw >= f->width && th >= f->height) || !px ||
        f->width <= 0 || f->height <= 0)
        return detect_frame(f->width, f->height, channels, px, NULL, flags, inks, NULL, boxes, n,
                            err, errlen);
    *boxes = NULL;
    *n = 0;
    unsigned char *tile = malloc((size_t)tw * th * channels);
    struct cand *all = NULL;
    size_t nall = 0;
    int rc = tile ? 0 : -1;
    for (int y0 = 0; rc == 0 && y0 < f->height; y0 += th)
        for (int x0 = 0; rc == 0 && x0 < f->width; x0 += tw) {
            int w = f->width - x0 < tw ? f->width - x0 : tw;
            int h = f->height - y0 < th ? f->height - y0 : th;
            size_t row = (size_t)w * channels;
            for (int y = 0; y < h; y++)
                memcpy(tile + y * row, px + ((size_t)(y0 + y) * f->width + x0) * channels, row);
            ocr_box *b;
            size_t nb;
            if (detect_frame(w, h, channels, tile, NULL, flags | DETECT_PLAIN, NULL, NULL, &b,
                             &nb, err, errlen) != 0) {
                free(tile);
                free(all);
                return -1;
            }
            struct cand *grown = nb ? realloc(all, (nall + nb) * sizeof *all) : NULL;
            if (nb && !grown)
                rc = -1;
            for (size_t i = 0; grown && i < nb; i++)
                grown[nall++] = (struct cand){ b[i].x + x0, b[i].y + y0, b[i].w, b[i].h,
                                               b[i].score };
            all = grown ? grown : all;
            free(b);
        }
    free(tile);
    if (rc != 0) {
        free(all);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* A line across a border between tiles was found in pieces: merged here. */
    return to_boxes(all, nall, boxes, n, err, errlen);
}

/* detect_frame over view v of f turned a quarter clockwise, for text that runs down the
 * frame (a label along the edge of a radiograph, an image stored turned): boxes in the
 * frame's coordinates. Only lines on a plain ground are kept, as such labels stand on the
 * border: turned, a stack of vertebrae or ribs is a row of letter-sized blobs. At full size
 * only: turned titles are rare, and the halved levels would cost a third more. upright:
 * the view's ink maps, from its search upright. */
static int detect_turned(const ocr_frame *f, int v, int clipped, const struct inks *upright,
                         ocr_box **boxes, size_t *n, char *err, size_t errlen)
{
    int ch = v ? 1 : f->channels, w = f->width, h = f->height;
    const unsigned char *px = v ? f->extra[v - 1] : f->pixels;
    *boxes = NULL;
    *n = 0;
    if (!px || w <= 0 || h <= 0)
        return 0;
    struct turning turn = { w, h, ch, px, NULL };
    struct inks turned = { { { NULL } }, { { 0 } } };
    int ok = 1;
    for (int k = 0; ok && k < (ch == 3 ? 3 : 1); k++)
        for (int p = 0; ok && p < 2; p++) {
            /* ocr_turn's way 0 is Leptonica's clockwise quarter. */
            ok = upright->map[k][p] && (turned.map[k][p] = pixRotate90(upright->map[k][p], 1));
            turned.count[k][p] = upright->count[k][p];
        }
    if (!ok) {
        inks_free(&turned);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int flags = (clipped ? DETECT_CLIPPED : 0) | DETECT_PLAIN | DETECT_TURNED;
    int rc = detect_frame(h, w, ch, NULL, &turn, flags, NULL, &turned, boxes, n, err, errlen);
    free(turn.pixels);
    inks_free(&turned);
    /* Back from the turned frame (h wide, w tall): the way back is the other way. */
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        (*boxes)[i] = ocr_turn_box(&(*boxes)[i], h, w, 1);
        (*boxes)[i].vertical = 1;
    }
    return rc;
}

/* Two lines of text one above the other are, turned, columns of two letters: a line found
 * turned that lies mostly (30%) on lines found upright is dropped. A turned line of
 * letters has upright finds only in pieces (letters side by side by chance). */
static size_t drop_crossing(struct seen *s, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        long covered = 0;
        for (size_t j = 0; s[i].vertical && j < n; j++)
            if (!s[j].vertical)
                covered += (long)overlap_1d(s[i].c.x, s[i].c.x + s[i].c.w, s[j].c.x,
                                            s[j].c.x + s[j].c.w) *
                           overlap_1d(s[i].c.y, s[i].c.y + s[i].c.h, s[j].c.y,
                                      s[j].c.y + s[j].c.h);
        if (covered * 10 <= s[i].area * 3)
            s[kept++] = s[i];
    }
    return kept;
}

/* The boxes of b[0..nb) as seen in view v, appended to *s (*ns of them). */
static int add_seen(struct seen **s, size_t *ns, const ocr_box *b, size_t nb, int v, char *err,
                    size_t errlen)
{
    if (nb == 0)
        return 0;
    struct seen *grown = realloc(*s, (*ns + nb) * sizeof **s);
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *s = grown;
    for (size_t i = 0; i < nb; i++)
        grown[(*ns)++] = (struct seen){ { b[i].x, b[i].y, b[i].w, b[i].h, b[i].score }, v,
                                        b[i].vertical, (long)b[i].w * b[i].h };
    return 0;
}

int ocr_detect_in_views(const ocr_frame *f, ocr_box **boxes, int **views, size_t *n, char *err,
                        size_t errlen)
{
    *boxes = NULL;
    *views = NULL;
    *n = 0;
    struct seen *s = NULL;
    size_t ns = 0;
    /* A frame with views of what it hides clips values; so do the views themselves. */
    int clipped = 0;
    for (int v = 0; v < f->nextra; v++)
        clipped |= f->extra[v] != NULL;
    for (int v = 0; v <= f->nextra; v++) {
        if (v > 0 && !f->extra[v - 1])
            continue;
        ocr_box *b, *t = NULL;
        size_t nb, nt = 0;
        int tiled = f->tile_w >= MIN_TILE && f->tile_h >= MIN_TILE;
        struct inks inks = { { { NULL } }, { { 0 } } };
        int rc = detect_view(f, v, clipped, &inks, &b, &nb, err, errlen);
        if (rc == 0 && !tiled)
            rc = detect_turned(f, v, clipped, &inks, &t, &nt, err, errlen);
        inks_free(&inks);
        if (rc == 0)
            rc = add_seen(&s, &ns, b, nb, v, err, errlen);
        if (rc == 0)
            rc = add_seen(&s, &ns, t, nt, v, err, errlen);
        free(b);
        free(t);
        if (rc != 0) {
            free(s);
            return -1;
        }
    }
    ns = drop_crossing(s, ns);
    if (ns == 0) {
        free(s);
        return 0;
    }
    ns = merge_views(s, ns);
    qsort(s, ns, sizeof *s, cmp_cand);
    *boxes = malloc(ns * sizeof **boxes);
    *views = malloc(ns * sizeof **views);
    if (!*boxes || !*views) {
        free(*boxes);
        free(*views);
        *boxes = NULL;
        *views = NULL;
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ns; i++) {
        (*boxes)[i] = (ocr_box){ s[i].c.x, s[i].c.y, s[i].c.w, s[i].c.h, s[i].c.score,
                                 s[i].vertical };
        (*views)[i] = s[i].view;
    }
    free(s);
    *n = ns;
    return 0;
}

int ocr_detect_views(const ocr_frame *f, ocr_box **boxes, size_t *n, char *err, size_t errlen)
{
    int *views;
    int rc = ocr_detect_in_views(f, boxes, &views, n, err, errlen);
    free(views);
    return rc;
}
