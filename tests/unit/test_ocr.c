#include "config.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <leptonica/allheaders.h>

#include "dicom/dcm.h"
#include "ocr/ocr.h"
#include "ocr/ocr-internal.h"
#include "tests/unit/render.h"
#include "tests/unit/testutil.h"

/* Frames are built the way scanners burn text in: Leptonica's bitmap font drawn into a
 * black, white or anatomy-like (bright ellipse, gradient, noise) background. */

#define W 512
#define H 512

typedef struct frame { int w, h, ch; unsigned char *px; } frame;
typedef struct rect { int x, y, w, h; } rect;

enum { BG_BLACK, BG_WHITE, BG_ANATOMY, BG_BLUE };

static uint32_t rng = 12345;
static int noise(int amp)
{
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 16) % (unsigned)(2 * amp + 1)) - amp;
}

static frame make_frame(int ch, int bg)
{
    frame f = { W, H, ch, calloc((size_t)W * H * ch, 1) };
    assert_non_null(f.px);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int v = 0;
            if (bg == BG_WHITE) {
                v = 235 + noise(3);
            } else if (bg == BG_ANATOMY) {
                double dx = (x - 256) / 200.0, dy = (y - 270) / 170.0, r = dx * dx + dy * dy;
                double bx = (x - 256) / 40.0, by = (y - 330) / 25.0;
                v = r < 1.0 ? 90 + x / 8 + noise(12) : noise(4) + 6;
                if (bx * bx + by * by < 1.0)
                    v = 230 + noise(10);  /* bone */
                v = v < 0 ? 0 : v > 255 ? 255 : v;
            }
            unsigned char *p = f.px + ((size_t)y * W + x) * ch;
            if (ch == 1)
                p[0] = (unsigned char)v;
            else if (bg == BG_BLUE)
                p[0] = 10, p[1] = 20, p[2] = (unsigned char)(120 + noise(5));
            else
                p[0] = p[1] = p[2] = (unsigned char)v;
        }
    }
    return f;
}

/* Draws text whose ink is `height` px tall (ascenders to descenders) with its top-left
 * corner at (x, y) (tests/unit/render.h); returns its box. */
static rect draw_text(frame *f, const char *text, int height, int x, int y,
                      const unsigned char ink[3])
{
    PIX *small = tu_render_text(text, height);
    rect r = { x, y, pixGetWidth(small), pixGetHeight(small) };
    assert_true(r.x + r.w <= f->w && r.y + r.h <= f->h);
    for (int yy = 0; yy < r.h; yy++) {
        for (int xx = 0; xx < r.w; xx++) {
            l_uint32 a;
            pixGetPixel(small, xx, yy, &a);
            unsigned char *p = f->px + ((size_t)(y + yy) * f->w + x + xx) * f->ch;
            for (int c = 0; c < f->ch; c++)
                p[c] = (unsigned char)((p[c] * (255 - (int)a) + ink[c] * (int)a) / 255);
        }
    }
    pixDestroy(&small);
    return r;
}

static int overlaps(const rect *r, const ocr_box *b, size_t n)
{
    long area = 0;
    for (size_t i = 0; i < n; i++) {
        int ox = (r->x + r->w < b[i].x + b[i].w ? r->x + r->w : b[i].x + b[i].w) - (r->x > b[i].x ? r->x : b[i].x);
        int oy = (r->y + r->h < b[i].y + b[i].h ? r->y + r->h : b[i].y + b[i].h) - (r->y > b[i].y ? r->y : b[i].y);
        if (ox > 0 && oy > 0)
            area += (long)ox * oy;
    }
    return area * 2 >= (long)r->w * r->h;
}

static size_t detect(const frame *f, ocr_box **b)
{
    size_t n = 0;
    char err[256];
    assert_int_equal(ocr_detect(f->w, f->h, f->ch, f->px, b, &n, err, sizeof err), 0);
    return n;
}

static const unsigned char WHITE[3] = { 255, 255, 255 }, GREY[3] = { 200, 200, 200 },
    BLACK[3] = { 0, 0, 0 }, YELLOW[3] = { 250, 240, 60 };

/* Every line, at every font size, in corners and bars, on black: found. */
static void test_detect_light_on_black(void **state)
{
    (void)state;
    for (int size = 8; size <= 20; size += 2) {
        frame f = make_frame(1, BG_BLACK);
        rect r[3];
        r[0] = draw_text(&f, "DOE^JANE 1961-03-14", size, 6, 6, WHITE);
        r[1] = draw_text(&f, "ID 4471902", size, 300, 8, GREY);
        r[2] = draw_text(&f, "St Mary Hospital", size, 10, H - 2 * size, WHITE);
        ocr_box *b;
        size_t n = detect(&f, &b);
        for (int i = 0; i < 3; i++)
            assert_true(overlaps(&r[i], b, n));
        assert_true(n <= 4);
        for (size_t i = 0; i < n; i++)
            assert_true(b[i].score > 0.0f && b[i].score <= 1.0f);
        free(b);
        free(f.px);
    }
}

static void test_detect_dark_on_light(void **state)
{
    (void)state;
    for (int size = 8; size <= 20; size += 3) {
        frame f = make_frame(1, BG_WHITE);
        rect r = draw_text(&f, "SMITH^JOHN 2020-01-31", size, 200, 30, BLACK);
        ocr_box *b;
        size_t n = detect(&f, &b);
        assert_true(overlaps(&r, b, n));
        free(b);
        free(f.px);
    }
}

/* On an anatomy-like image, text in the corners is found and the body is not text. */
static void test_detect_on_anatomy(void **state)
{
    (void)state;
    frame f = make_frame(1, BG_ANATOMY);
    rect r1 = draw_text(&f, "DOE^JANE", 12, 8, 8, WHITE);
    rect r2 = draw_text(&f, "1961-03-14 F", 10, 380, 490, GREY);
    ocr_box *b;
    size_t n = detect(&f, &b);
    assert_true(overlaps(&r1, b, n));
    assert_true(overlaps(&r2, b, n));
    assert_int_equal(n, 2);
    free(b);
    free(f.px);
}

/* One box covers the whole of r but for its anti-aliased rim (pixel cleaning pads every
 * box by at least 2 px): what cleaning blanks must hide every word. */
static int covered(const rect *r, const ocr_box *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].x <= r->x + 2 && b[i].y <= r->y + 2 && b[i].x + b[i].w >= r->x + r->w - 2 &&
            b[i].y + b[i].h >= r->y + r->h - 2)
            return 1;
    return 0;
}

/* A name whose first word lies over bright anatomy (too little contrast to be found on
 * its own) and whose second lies on black: the line's box covers both words, at small and
 * middle sizes, anti-aliased; the organ alone is not text. */
static void test_line_over_bright_anatomy(void **state)
{
    (void)state;
    for (int size = 9; size <= 15; size += 3) {
        frame f = make_frame(1, BG_BLACK);
        rect first = draw_text(&f, "ASHWORTH", size, 0, 0, WHITE);
        int x0 = 200, y0 = 100;
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                double dx = (x - (x0 + first.w / 2)) / (first.w * 0.75);
                double dy = (y - (y0 + first.h / 2)) / (first.h * 3.0);
                f.px[(size_t)y * W + x] = dx * dx + dy * dy < 1.0 ? (unsigned char)(200 + noise(5))
                                                                  : (unsigned char)(6 + noise(4));
            }
        }
        ocr_box *b;
        size_t n = detect(&f, &b);
        assert_int_equal(n, 0);
        free(b);
        first = draw_text(&f, "ASHWORTH", size, x0, y0, WHITE);
        rect second = draw_text(&f, "LEOPOLD", size, x0 + first.w + first.w * 3 / 10, y0, WHITE);
        n = detect(&f, &b);
        assert_true(covered(&first, b, n));
        assert_true(covered(&second, b, n));
        assert_true(n <= 1);
        free(b);
        free(f.px);
    }
}

static void test_detect_rgb_coloured(void **state)
{
    (void)state;
    frame f = make_frame(3, BG_BLUE);
    rect r1 = draw_text(&f, "Pemberton E. 1944-09-17", 12, 10, 460, YELLOW);
    rect r2 = draw_text(&f, "MRN 51186032", 10, 380, 10, WHITE);
    ocr_box *b;
    size_t n = detect(&f, &b);
    assert_true(overlaps(&r1, b, n));
    assert_true(overlaps(&r2, b, n));
    free(b);
    free(f.px);
}

/* A busy frame: more than 20000 dark specks (a texture like ultrasound speckle) below a
 * white bar with black text, and white text on a black bar. Both lines are found; the
 * texture gives no line. (The dark ink of such a frame was once not searched at all.) */
static void test_busy_frame(void **state)
{
    (void)state;
    enum { S = 1024 };
    frame f = { S, S, 1, malloc((size_t)S * S) };
    assert_non_null(f.px);
    rng = 777;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int speck = x % 6 < 2 && y % 6 < 2 && y > 80;
            f.px[(size_t)y * S + x] = (unsigned char)(speck ? 20 + noise(5) : 150 + noise(5));
        }
    for (int y = 0; y < 80; y++)
        memset(f.px + (size_t)y * S, y < 40 ? 235 : 10, S);
    rect dark = draw_text(&f, "DOE^JANE 4471123", 14, 20, 12, BLACK);
    rect light = draw_text(&f, "St Mary Hospital", 14, 20, 52, WHITE);
    ocr_box *b;
    size_t n = detect(&f, &b);
    assert_true(overlaps(&dark, b, n));
    assert_true(overlaps(&light, b, n));
    for (size_t i = 0; i < n; i++)
        if (b[i].y > 90)
            fail_msg("a box in the texture at %d,%d,%d,%d", b[i].x, b[i].y, b[i].w, b[i].h);
    free(b);
    free(f.px);
}

static void test_text_free_frames(void **state)
{
    (void)state;
    int kinds[3] = { BG_ANATOMY, BG_BLACK, BG_WHITE };
    for (int k = 0; k < 3; k++) {
        for (int ch = 1; ch <= 3; ch += 2) {
            frame f = make_frame(ch, kinds[k]);
            ocr_box *b = (ocr_box *)&f;
            assert_int_equal(detect(&f, &b), 0);
            assert_null(b);
            free(f.px);
        }
    }
}

/* The detector's own top-hat gives the ink pixTophat would give, bit for bit: on a frame
 * with text, smooth gradients, sharp edges and noise, at sizes that are not multiples of
 * the vector width and smaller than the 15 px square. */
static void test_ink_map_matches_leptonica(void **state)
{
    (void)state;
    static const int sizes[][2] = { { 256, 200 }, { 101, 67 }, { 9, 40 }, { 33, 5 } };
    uint32_t seed = 12345;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        unsigned char *img = malloc((size_t)w * h);
        assert_non_null(img);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                seed = seed * 1103515245u + 12345u;
                int v = (x * 255) / w / 2 + (int)((seed >> 16) % 40);
                if ((x / 23 + y / 17) % 3 == 0)
                    v += 90;
                if (x % 7 == 3 && y % 11 < 6)
                    v = 250;
                if (y % 13 == 6 && x % 5 < 3)
                    v = 5;
                img[(size_t)y * w + x] = (unsigned char)(v > 255 ? 255 : v);
            }
        }
        PIX *pix = pixCreate(w, h, 8);
        assert_non_null(pix);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                pixSetPixel(pix, x, y, img[(size_t)y * w + x]);
        static const int types[2] = { L_TOPHAT_WHITE, L_TOPHAT_BLACK };
        for (int t = 0; t < 2; t++) {
            PIX *th = pixTophat(pix, 15, 15, types[t]);
            PIX *want = pixThresholdToBinary(th, 64);
            pixInvert(want, want);
            PIX *got = ocr_ink_map(img, w, h, types[t]);
            assert_non_null(got);
            l_int32 same = 0, count = 0;
            pixEqual(want, got, &same);
            pixCountPixels(got, &count, NULL);
            assert_true(same);
            assert_true(count > 0);
            pixDestroy(&th);
            pixDestroy(&want);
            pixDestroy(&got);
        }
        pixDestroy(&pix);
        free(img);
    }
}

/* A deferred reader (the per-thread one) does not start Tesseract for frames without
 * text, and a read that needs it reports why it cannot start. */
static void test_deferred_reader(void **state)
{
    (void)state;
    ocr_reader *r = ocr_reader_deferred("/nonexistent/tessdata");
    assert_non_null(r);
    unsigned char blank[64 * 48];
    memset(blank, 30, sizeof blank);
    ocr_text *t = NULL;
    size_t n = 7;
    char err[256] = "";
    assert_int_equal(ocr_find_text(r, 64, 48, 1, blank, &t, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    ocr_box box = { 4, 4, 40, 20, 1.0f };
    ocr_text out;
    assert_int_equal(ocr_read(r, 64, 48, 1, blank, &box, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "Tesseract"));
    ocr_reader_free(r);
    assert_null(ocr_reader_new("/nonexistent/tessdata", err, sizeof err));
}

static void test_detect_rejects_bad_image(void **state)
{
    (void)state;
    unsigned char px[4] = { 0 };
    ocr_box *b;
    size_t n;
    char err[128] = "";
    assert_int_equal(ocr_detect(2, 2, 2, px, &b, &n, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(ocr_detect(0, 2, 1, px, &b, &n, err, sizeof err), -1);
}

/* Is token within one edit of some substring of text (both without spaces, any case)? */
static int fuzzy_contains(const char *text, const char *token)
{
    char t[512];
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < sizeof t; p++)
        if (*p != ' ')
            t[n++] = (char)toupper((unsigned char)*p);
    t[n] = '\0';
    size_t m = strlen(token);
    int prev[64], cur[64];
    assert_true(m < 64);
    for (size_t i = 0; i <= m; i++)
        prev[i] = (int)i;
    int best = prev[m];
    for (size_t j = 0; j < n; j++) {
        cur[0] = 0;  /* a match may start anywhere in text */
        for (size_t i = 1; i <= m; i++) {
            int sub = prev[i - 1] + (toupper((unsigned char)token[i - 1]) != t[j]);
            int del = prev[i] + 1, ins = cur[i - 1] + 1;
            cur[i] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        best = cur[m] < best ? cur[m] : best;
        memcpy(prev, cur, sizeof prev);
    }
    return best <= 1;
}

static void test_fuzzy_helper(void **state)
{
    (void)state;
    assert_true(fuzzy_contains("x DOE^JANE 1961-O3-14", "1961-03-14"));
    assert_false(fuzzy_contains("DOE JAKE 1961", "1961-03-14"));
}

static ocr_reader *reader;

static int setup_reader(void **state)
{
    (void)state;
    char err[256];
    reader = ocr_reader_new(NULL, err, sizeof err);
    return reader ? 0 : -1;
}

static int teardown_reader(void **state)
{
    (void)state;
    ocr_reader_free(reader);
    reader = NULL;
    return 0;
}

static void check_read(const frame *f, const char *const *tokens, int ntokens)
{
    ocr_text *t;
    size_t n = 0;
    char err[256];
    assert_int_equal(ocr_find_text(reader, f->w, f->h, f->ch, f->px, &t, &n, err, sizeof err), 0);
    assert_true(n >= 1);
    char all[2048] = "";
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].text);
        assert_in_range(t[i].confidence, 0, 100);
        strncat(all, t[i].text, sizeof all - strlen(all) - 2);
        strcat(all, " ");
    }
    for (int k = 0; k < ntokens; k++)
        if (!fuzzy_contains(all, tokens[k]))
            fail_msg("token %d not read at all (read %zu boxes)", k, n);
    ocr_texts_free(t, n);
}

static void test_read_sizes_and_polarities(void **state)
{
    (void)state;
    static const char *const tokens[] = { "DOE", "JANE", "1961-03-14" };
    for (int size = 10; size <= 20; size += 5) {
        frame f = make_frame(1, BG_BLACK);
        draw_text(&f, "DOE^JANE 1961-03-14", size, 10, 10, WHITE);
        check_read(&f, tokens, 3);
        free(f.px);
        f = make_frame(1, BG_WHITE);
        draw_text(&f, "DOE^JANE 1961-03-14", size, 200, 400, BLACK);
        check_read(&f, tokens, 3);
        free(f.px);
    }
    frame f = make_frame(3, BG_BLUE);
    draw_text(&f, "DOE^JANE 1961-03-14", 12, 20, 480, YELLOW);
    check_read(&f, tokens, 3);
    free(f.px);
    f = make_frame(1, BG_ANATOMY);
    draw_text(&f, "DOE^JANE 1961-03-14", 12, 8, 8, WHITE);
    check_read(&f, tokens, 3);
    free(f.px);
}

/* The frame turned a quarter clockwise (way 0) or the other way (way 1): a copy. */
static frame turned(const frame *f, int way)
{
    frame t = { f->h, f->w, f->ch, malloc((size_t)f->w * f->h * f->ch) };
    assert_non_null(t.px);
    for (int y = 0; y < f->h; y++)
        for (int x = 0; x < f->w; x++) {
            size_t to = way == 0 ? (size_t)x * f->h + (f->h - 1 - y)
                                 : (size_t)(f->w - 1 - x) * f->h + y;
            memcpy(t.px + to * f->ch, f->px + ((size_t)y * f->w + x) * f->ch, (size_t)f->ch);
        }
    return t;
}

/* ocr_turn moves every pixel where the plain loop above does, in both ways, for frames
 * that are not whole blocks of 32 and for every channel count it has a path for. */
static void test_turn_matches_plain_loop(void **state)
{
    (void)state;
    static const int chans[] = { 1, 3, 4 };
    for (size_t c = 0; c < sizeof chans / sizeof chans[0]; c++) {
        frame f = { 45, 70, chans[c], malloc((size_t)45 * 70 * chans[c]) };
        assert_non_null(f.px);
        for (size_t i = 0; i < (size_t)f.w * f.h * f.ch; i++)
            f.px[i] = (unsigned char)(rng = rng * 1103515245u + 12345u) >> 3;
        for (int way = 0; way < 2; way++) {
            frame want = turned(&f, way);
            unsigned char *got = ocr_turn(f.w, f.h, f.ch, f.px, way);
            assert_non_null(got);
            assert_memory_equal(got, want.px, (size_t)f.w * f.h * f.ch);
            free(got);
            free(want.px);
        }
        free(f.px);
    }
}

#define MAX_SAMPLE_FRAMES 8

/* Frame 0 of each image of samples/ (MR, US, CT and NM from the dev corpus, some with
 * burned-in text), decoded as verify decodes it: the grey frame, and the view of what its
 * window clips where it clips. The caller frees each .px. */
static size_t sample_frames(frame out[MAX_SAMPLE_FRAMES])
{
    static const char *const names[] = { "IM0002.dcm", "IM0016.dcm", "IM0022.dcm",
                                          "IM0031.dcm" };
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[600], err[512];
        dcm_file *f;
        dcm_image im;
        assert_int_equal(dcm_open(tu_sample(names[i], path, sizeof path), &f, err, sizeof err),
                         DCM_OK);
        assert_int_equal(dcm_decode_frame(f, 0, &im, err, sizeof err), DCM_OK);
        dcm_close(f);
        if (im.channels == 1) {
            out[n++] = (frame){ im.width, im.height, 1, im.pixels };
            im.pixels = NULL;
        }
        if (im.clipped) {
            out[n++] = (frame){ im.width, im.height, 1, im.clipped };
            im.clipped = NULL;
        }
        dcm_image_free(&im);
    }
    assert_true(n >= 3);
    return n;
}

/* The turned search turns the upright search's ink maps instead of making its own: that
 * holds while the map of a frame turned is the map turned, on square and oblong frames,
 * for light and dark ink, drawn text and the sample files' frames. */
static void test_ink_map_turns_with_the_frame(void **state)
{
    (void)state;
    frame fr[MAX_SAMPLE_FRAMES + 2];
    fr[0] = make_frame(1, BG_ANATOMY);
    draw_text(&fr[0], "DOE^JANE 4471123", 12, 8, 8, WHITE);
    draw_text(&fr[0], "ACC 99812", 10, 300, 480, BLACK);
    /* An oblong part of it: 300 x 170 from (100, 300), through the text and the bone. */
    fr[1] = (frame){ 300, 170, 1, malloc(300 * 170) };
    assert_non_null(fr[1].px);
    for (int y = 0; y < fr[1].h; y++)
        memcpy(fr[1].px + (size_t)y * fr[1].w, fr[0].px + (size_t)(300 + y) * fr[0].w + 100,
               (size_t)fr[1].w);
    size_t nf = 2 + sample_frames(fr + 2);
    for (size_t i = 0; i < nf; i++) {
        unsigned char *t = ocr_turn(fr[i].w, fr[i].h, 1, fr[i].px, 0);
        assert_non_null(t);
        l_int32 ink = 0;
        for (int type = 0; type < 2; type++) {
            int ty = type ? L_TOPHAT_BLACK : L_TOPHAT_WHITE;
            PIX *up = ocr_ink_map(fr[i].px, fr[i].w, fr[i].h, ty);
            PIX *turned = ocr_ink_map(t, fr[i].h, fr[i].w, ty);
            PIX *want = up ? pixRotate90(up, 1) : NULL;
            l_int32 same = 0, count = 0;
            assert_non_null(want);
            assert_non_null(turned);
            pixCountPixels(want, &count, NULL);
            ink += count;
            assert_int_equal(pixEqual(want, turned, &same), 0);
            if (!same)
                fail_msg("frame %zu (%dx%d), %s ink: the turned frame's map differs", i,
                         fr[i].w, fr[i].h, type ? "dark" : "light");
            pixDestroy(&up);
            pixDestroy(&turned);
            pixDestroy(&want);
        }
        assert_true(ink > 0);
        free(t);
        free(fr[i].px);
    }
}

/* ocr_components gives pixConnCompBB's boxes in its order: on noise of every density
 * (runs across word boundaries, whole words set, widths that are not a multiple of 32),
 * on the ink of a frame with text, and on the ink of the sample files' frames. */
static void test_components_match_leptonica(void **state)
{
    (void)state;
    static const int sizes[][2] = { { 1, 1 }, { 31, 7 }, { 32, 32 }, { 33, 40 }, { 97, 61 },
                                    { 512, 64 } };
    static const int percent[] = { 0, 3, 20, 50, 80, 100 };
    PIX *maps[sizeof sizes / sizeof sizes[0] * sizeof percent / sizeof percent[0] + 1 +
              2 * MAX_SAMPLE_FRAMES];
    size_t nm = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t d = 0; d < sizeof percent / sizeof percent[0]; d++) {
            PIX *m = pixCreate(sizes[i][0], sizes[i][1], 1);
            assert_non_null(m);
            for (int y = 0; y < sizes[i][1]; y++)
                for (int x = 0; x < sizes[i][0]; x++) {
                    rng = rng * 1103515245u + 12345u;
                    if ((int)((rng >> 16) % 100) < percent[d])
                        pixSetPixel(m, x, y, 1);
                }
            maps[nm++] = m;
        }
    frame f = make_frame(1, BG_ANATOMY);
    draw_text(&f, "DOE^JANE 4471123", 12, 8, 8, WHITE);
    maps[nm++] = ocr_ink_map(f.px, f.w, f.h, L_TOPHAT_WHITE);
    free(f.px);
    frame fr[MAX_SAMPLE_FRAMES];
    size_t nf = sample_frames(fr);
    for (size_t i = 0; i < nf; i++) {
        maps[nm++] = ocr_ink_map(fr[i].px, fr[i].w, fr[i].h, L_TOPHAT_WHITE);
        maps[nm++] = ocr_ink_map(fr[i].px, fr[i].w, fr[i].h, L_TOPHAT_BLACK);
        free(fr[i].px);
    }
    for (size_t i = 0; i < nm; i++) {
        assert_non_null(maps[i]);
        BOXA *want = pixConnCompBB(maps[i], 8), *got = ocr_components(maps[i]);
        assert_non_null(want);
        assert_non_null(got);
        assert_int_equal(boxaGetCount(got), boxaGetCount(want));
        for (int k = 0; k < boxaGetCount(want); k++) {
            l_int32 a[4], b[4];
            boxaGetBoxGeometry(want, k, &a[0], &a[1], &a[2], &a[3]);
            boxaGetBoxGeometry(got, k, &b[0], &b[1], &b[2], &b[3]);
            assert_memory_equal(a, b, sizeof a);
        }
        boxaDestroy(&want);
        boxaDestroy(&got);
        pixDestroy(&maps[i]);
    }
}

/* Text turned a quarter either way (a label along the edge of a radiograph, an image
 * stored turned) is found as one vertical box and read; upright, the same frame gives no
 * vertical box. */
static void test_turned_text(void **state)
{
    (void)state;
    static const char *const tokens[] = { "DOE", "JANE", "4471123" };
    frame f = make_frame(1, BG_ANATOMY);
    rect r = draw_text(&f, "DOE^JANE 4471123", 12, 8, 8, WHITE);
    ocr_box *b;
    size_t n = detect(&f, &b);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(b[i].vertical, 0);
    free(b);
    for (int way = 0; way < 2; way++) {
        frame t = turned(&f, way);
        rect tr = way == 0 ? (rect){ f.h - r.y - r.h, r.x, r.h, r.w }
                           : (rect){ r.y, f.w - r.x - r.w, r.h, r.w };
        n = detect(&t, &b);
        int vertical = 0;
        for (size_t i = 0; i < n; i++)
            vertical += b[i].vertical;
        if (!overlaps(&tr, b, n) || vertical == 0)
            fail_msg("turned %s: %zu boxes, %d vertical", way ? "anticlockwise" : "clockwise",
                     n, vertical);
        free(b);
        check_read(&t, tokens, 3);
        free(t.px);
    }
    free(f.px);
}

/* Titles of screen captures and scanned forms: lines far taller than burned-in
 * annotations, up to a fifth of the frame, are found whole and read. */
static void test_large_text(void **state)
{
    (void)state;
    static const struct { int size, bg; const char *text, *tokens[2]; } lines[] = {
        { 40, BG_BLACK, "JANE 4471123", { "JANE", "4471123" } },
        { 46, BG_ANATOMY, "JANE 4471123", { "JANE", "4471123" } },
        { 60, BG_BLACK, "JANE 4471123", { "JANE", "4471123" } },
        { 66, BG_WHITE, "JANE 4471123", { "JANE", "4471123" } },
        { 80, BG_ANATOMY, "DOE 4471", { "DOE", "4471" } },
        { 92, BG_BLACK, "DOE 447", { "DOE", "447" } },
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
        frame f = make_frame(1, lines[k].bg);
        rect r = draw_text(&f, lines[k].text, lines[k].size, 4, 4,
                           lines[k].bg == BG_WHITE ? BLACK : WHITE);
        ocr_box *b;
        size_t n = detect(&f, &b);
        if (!overlaps(&r, b, n))
            fail_msg("a line %d px tall was not found (%zu boxes)", lines[k].size, n);
        free(b);
        check_read(&f, lines[k].tokens, 2);
        free(f.px);
    }
}

/* Bold type on a plain ground, as screen captures draw labels: found at full size in a
 * frame that no window clips. */
static void test_bold_text(void **state)
{
    (void)state;
    /* In the lower-case lines the letters touch: each word is one blob. */
    static const struct { int size, bold, white; const char *text; } lines[] = {
        { 16, 9, 0, "JANE DOE 4471" }, { 24, 9, 1, "JANE DOE 4471" },
        { 32, 9, 0, "JANE DOE 4471" }, { 40, 9, 1, "JANE DOE 4471" },
        { 12, 5, 0, "red green" }, { 16, 5, 0, "red green" }, { 20, 9, 0, "red green" },
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
        int white = lines[k].white;
        frame f = make_frame(1, white ? BG_WHITE : BG_BLACK);
        PIX *t = tu_render_weighted(lines[k].text, lines[k].size, lines[k].bold);
        rect r = { 6, 6, pixGetWidth(t), pixGetHeight(t) };
        for (int y = 0; y < r.h; y++)
            for (int x = 0; x < r.w; x++) {
                l_uint32 a;
                pixGetPixel(t, x, y, &a);
                unsigned char *p = f.px + (size_t)(r.y + y) * f.w + r.x + x;
                *p = (unsigned char)((*p * (255 - (int)a) + (white ? 0 : 250) * (int)a) / 255);
            }
        pixDestroy(&t);
        ocr_box *b;
        size_t n = detect(&f, &b);
        if (!overlaps(&r, b, n))
            fail_msg("bold '%s' %d px tall was not found (%zu boxes)", lines[k].text,
                     lines[k].size, n);
        free(b);
        free(f.px);
    }
}

static void test_read_box_and_full_frame(void **state)
{
    (void)state;
    frame f = make_frame(1, BG_BLACK);
    rect r = draw_text(&f, "ACCESSION 99817", 16, 40, 40, WHITE);
    ocr_box box = { r.x, r.y, r.w, r.h, 1.0f };
    ocr_text t;
    char err[256];
    assert_int_equal(ocr_read(reader, f.w, f.h, f.ch, f.px, &box, &t, err, sizeof err), 0);
    assert_true(fuzzy_contains(t.text, "ACCESSION"));
    assert_true(fuzzy_contains(t.text, "99817"));
    assert_true(t.confidence > 50);
    assert_int_equal(t.box.x, r.x);
    free(t.text);

    char *text = NULL;
    int conf = -1;
    assert_int_equal(ocr_read_full_frame(reader, f.w, f.h, f.ch, f.px, &text, &conf, err, sizeof err), 0);
    assert_non_null(text);
    assert_in_range(conf, 0, 100);
    free(text);
    free(f.px);

    /* A text-free frame: nothing to read, nothing allocated. */
    f = make_frame(1, BG_ANATOMY);
    ocr_text *texts = (ocr_text *)&f;
    size_t n = 5;
    assert_int_equal(ocr_find_text(reader, f.w, f.h, f.ch, f.px, &texts, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_null(texts);
    free(f.px);
}

/* Several lines of one frame are read together; each box gets its own line's words. */
static void test_read_many_boxes_keeps_texts_apart(void **state)
{
    (void)state;
    frame f = make_frame(1, BG_BLACK);
    rect r1 = draw_text(&f, "WALSH^MARGARET", 14, 10, 10, WHITE);
    rect r2 = draw_text(&f, "ID 5520173", 12, 300, 12, WHITE);
    rect r3 = draw_text(&f, "1974-11-02", 12, 10, 480, WHITE);
    ocr_text *t;
    size_t n = 0;
    char err[256];
    assert_int_equal(ocr_find_text(reader, f.w, f.h, f.ch, f.px, &t, &n, err, sizeof err), 0);
    const rect *rs[3] = { &r1, &r2, &r3 };
    const char *want[3] = { "MARGARET", "5520173", "1974-11-02" };
    for (int k = 0; k < 3; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++) {
            ocr_box b = t[i].box;
            if (overlaps(rs[k], &b, 1)) {
                assert_true(fuzzy_contains(t[i].text, want[k]));
                for (int j = 0; j < 3; j++)
                    if (j != k)
                        assert_false(fuzzy_contains(t[i].text, want[j]));
                found = 1;
            }
        }
        assert_true(found);
    }
    ocr_texts_free(t, n);
    free(f.px);
}

/* The thumbnail: a PNG scaled to fit, with red box outlines. */
static void test_thumbnail(void **state)
{
    (void)state;
    frame f = make_frame(1, BG_ANATOMY);
    ocr_box boxes[2] = { { 40, 40, 200, 20, 1.0f }, { 300, 400, 100, 30, 1.0f } };
    char dir[] = "/tmp/test_ocr_thumbXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/t.png", dir);
    assert_int_equal(ocr_thumbnail(f.w, f.h, f.ch, f.px, boxes, 2, 256, path, err, sizeof err), 0);
    PIX *pix = pixRead(path);
    assert_non_null(pix);
    assert_int_equal(pixGetWidth(pix), 256);
    assert_int_equal(pixGetHeight(pix), 256);
    PIX *rgb = pixConvertTo32(pix);
    l_int32 r, g, b;
    /* Left edge of the first box, halved: just outside x = 20. */
    assert_int_equal(pixGetRGBPixel(rgb, 19, 25, &r, &g, &b), 0);
    assert_true(r == 255 && g == 0 && b == 0);
    /* Inside the box the frame shows through. */
    assert_int_equal(pixGetRGBPixel(rgb, 60, 25, &r, &g, &b), 0);
    assert_true(r == g && g == b);
    pixDestroy(&rgb);
    pixDestroy(&pix);
    /* A colour frame smaller than max_side keeps its size; nothing is left behind but it. */
    frame c = make_frame(3, BG_BLUE);
    assert_int_equal(ocr_thumbnail(c.w, c.h, c.ch, c.px, boxes, 1, 1024, path, err, sizeof err), 0);
    pix = pixRead(path);
    assert_non_null(pix);
    assert_int_equal(pixGetWidth(pix), W);
    pixDestroy(&pix);
    assert_int_equal(ocr_thumbnail(c.w, c.h, c.ch, c.px, boxes, 1, 256, "/nonexistent/dir/t.png", err,
                                   sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    free(c.px);
    free(f.px);
}

int main(void)
{
    const struct CMUnitTest detect_tests[] = {
        cmocka_unit_test(test_detect_light_on_black),
        cmocka_unit_test(test_detect_dark_on_light),
        cmocka_unit_test(test_detect_on_anatomy),
        cmocka_unit_test(test_detect_rgb_coloured),
        cmocka_unit_test(test_line_over_bright_anatomy),
        cmocka_unit_test(test_busy_frame),
        cmocka_unit_test(test_text_free_frames),
        cmocka_unit_test(test_detect_rejects_bad_image),
        cmocka_unit_test(test_ink_map_matches_leptonica),
        cmocka_unit_test(test_deferred_reader),
        cmocka_unit_test(test_fuzzy_helper),
        cmocka_unit_test(test_thumbnail),
    };
    const struct CMUnitTest read_tests[] = {
        cmocka_unit_test(test_read_sizes_and_polarities),
        cmocka_unit_test(test_large_text),
        cmocka_unit_test(test_turn_matches_plain_loop),
        cmocka_unit_test(test_ink_map_turns_with_the_frame),
        cmocka_unit_test(test_components_match_leptonica),
        cmocka_unit_test(test_turned_text),
        cmocka_unit_test(test_bold_text),
        cmocka_unit_test(test_read_box_and_full_frame),
        cmocka_unit_test(test_read_many_boxes_keeps_texts_apart),
    };
    int failed = cmocka_run_group_tests_name("detect", detect_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("read", read_tests, setup_reader, teardown_reader);
    return failed;
}
