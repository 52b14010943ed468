/* tests/unit/test_pixels.c — the pixel path end to end on real DICOM files: text is drawn
 * with Leptonica's bitmap font into image-like frames (dark background, a bright "body",
 * noise), written with dump2dcm as 8-bit and 12-bit MONOCHROME2, MONOCHROME1, RGB, a
 * multi-frame and an RLE copy, and 12-bit frames whose window hides a line (with RLE and
 * JPEG 2000 copies); then decoded (dicom/), inspected (verify_file with OCR: boxes and the
 * paired check on the text read) and cleaned (deid_apply with OCR boxes), and the cleaned
 * file is read back and compared pixel by pixel with its input. */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <leptonica/allheaders.h>
#include "tests/unit/testutil.h"
#include "tests/unit/render.h"
#include "dicom/dcm.h"
#include "ocr/ocr.h"
#include "verify/verify.h"
#include "deid/engine.h"

static char err[1024];

enum kind { MONO8, MONO16, MONO1, RGB };

typedef struct rect { int x, y, w, h; } rect;

/* A line of text as drawn: where, in which frame, how tall; expect: what the paired check
 * must match in the text read from it (NULL: reading it well is not required). */
typedef struct line { const char *text, *expect; int frame, height; rect r; } line;

#define MAX_LINES 5
#define MAX_FRAMES 3

/* One fixture file and what was drawn into it. disp holds the frames as they must look on
 * screen (8-bit, channels interleaved); ink the text's coverage (0..255) per pixel. */
typedef struct variant {
    const char *name;
    enum kind kind;
    int size, frames, with_text;
    char path[512];
    int nlines;
    line lines[MAX_LINES];
    unsigned char *disp[MAX_FRAMES], *ink[MAX_FRAMES];
} variant;

#define V(n, k, s, fr, t) {.name = n, .kind = k, .size = s, .frames = fr, .with_text = t}
static variant mono8 = V("mono8", MONO8, 256, 1, 1);
static variant mono16 = V("mono16", MONO16, 256, 1, 1);
static variant mono1 = V("mono1", MONO1, 256, 1, 1);
static variant rgb = V("rgb", RGB, 256, 1, 1);
static variant multi = V("multi", MONO8, 256, 3, 1);
static variant big = V("big", MONO8, 512, 1, 1);
static variant rle;  /* the RLE copy of mono8, made in setup */
static variant free8 = V("free8", MONO8, 256, 1, 0);
static variant free16 = V("free16", MONO16, 256, 1, 0);
static variant free1 = V("free1", MONO1, 256, 1, 0);
static variant freergb = V("freergb", RGB, 256, 1, 0);
static variant freebig = V("freebig", MONO8, 512, 1, 0);
static variant freemulti = V("freemulti", MONO8, 256, 3, 0);

static variant *const with_text[] = {&mono8, &mono16, &mono1, &rgb, &multi, &big, &rle};
static variant *const text_free[] = {&free8, &free16, &free1, &freergb, &freebig, &freemulti};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int channels(const variant *v)
{
    return v->kind == RGB ? 3 : 1;
}

/* ---- frames ---------------------------------------------------------------------------- */

static uint32_t rng;
static int noise(int amp)
{
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 16) % (unsigned)(2 * amp + 1)) - amp;
}

/* Dark background with a little noise, a bright noisy ellipse ("body") with a gradient and
 * a brighter "bone" in it, and for the 512 frame a grey bar at the top. The same frame index
 * always gives the same picture, with text or without. */
static void background(const variant *v, int frame, unsigned char *px)
{
    int s = v->size, ch = channels(v);
    rng = 777u + (uint32_t)frame * 31u;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            long dx = x - s / 2, dy = y - s * 57 / 100, rx = s * 35 / 100, ry = s * 27 / 100;
            long bx = x - s / 2, by = y - s * 62 / 100, brx = s / 12, bry = s / 18;
            int val;
            if (dx * dx * ry * ry + dy * dy * rx * rx < rx * rx * ry * ry)
                val = 80 + x * 60 / s + noise(12);
            else
                val = 8 + noise(4);
            if (bx * bx * bry * bry + by * by * brx * brx < brx * brx * bry * bry)
                val = 215 + noise(10);
            if (s == 512 && y < 30)
                val = 45 + noise(2);
            val = val < 0 ? 0 : val > 255 ? 255 : val;
            unsigned char *p = px + ((size_t)y * s + x) * ch;
            for (int c = 0; c < ch; c++)
                p[c] = (unsigned char)val;
        }
}

/* Draws a line into frame `frame` at x (negative: right-aligned that far from the right
 * edge) and y (negative: from the bottom), in colour ink. */
static void draw(variant *v, int frame, const char *text, const char *expect, int height,
                 int x, int y, const unsigned char ink[3])
{
    PIX *t = tu_render_text(text, height);
    int s = v->size, ch = channels(v), w = pixGetWidth(t), h = pixGetHeight(t);
    if (x < 0)
        x = s + x - w;
    if (y < 0)
        y = s + y - h;
    assert_true(x >= 0 && y >= 0 && x + w <= s && y + h <= s);
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++) {
            l_uint32 a;
            pixGetPixel(t, xx, yy, &a);
            size_t i = (size_t)(y + yy) * s + x + xx;
            unsigned char *p = v->disp[frame] + i * ch;
            for (int c = 0; c < ch; c++)
                p[c] = (unsigned char)((p[c] * (255 - (int)a) + ink[c] * (int)a) / 255);
            if (a > v->ink[frame][i])
                v->ink[frame][i] = (unsigned char)a;
        }
    pixDestroy(&t);
    assert_true(v->nlines < MAX_LINES);
    v->lines[v->nlines++] = (line){text, expect, frame, height, {x, y, w, h}};
}

static const unsigned char WHITE[3] = {235, 235, 235}, GREY[3] = {190, 190, 190},
                           YELLOW[3] = {250, 225, 40}, CYAN[3] = {60, 220, 250},
                           GREEN[3] = {90, 240, 90};

/* ---- files ----------------------------------------------------------------------------- */

/* Writes the stored pixel values of every frame to raw and the file with dump2dcm. */
static void write_dicom(variant *v, int serial)
{
    int s = v->size, ch = channels(v);
    size_t npx = (size_t)s * s * ch;
    char raw[600], dump[600];
    snprintf(raw, sizeof raw, "%s/%s.raw", tu_dir, v->name);
    snprintf(dump, sizeof dump, "%s/%s.dump", tu_dir, v->name);
    snprintf(v->path, sizeof v->path, "%s/%s.dcm", tu_dir, v->name);
    FILE *fp = fopen(raw, "wb");
    assert_non_null(fp);
    for (int f = 0; f < v->frames; f++)
        for (size_t i = 0; i < npx; i++) {
            unsigned d = v->disp[f][i];
            if (v->kind == MONO16) {
                /* 12 bits stored, little endian; the window below maps it back to d. */
                unsigned sv = d * 16;
                fputc((int)(sv & 0xff), fp);
                fputc((int)(sv >> 8), fp);
            } else {
                fputc((int)(v->kind == MONO1 ? 255 - d : d), fp);
            }
        }
    fclose(fp);
    fp = fopen(dump, "w");
    assert_non_null(fp);
    fprintf(fp, "(0008,0016) UI %s\n",
            v->frames > 1 ? "=MultiframeGrayscaleByteSecondaryCaptureImageStorage"
                          : "=SecondaryCaptureImageStorage");
    fprintf(fp, "(0008,0018) UI [1.2.826.0.1.3680043.10.9999.300.%d.1]\n", serial);
    fputs("(0008,0020) DA [20200315]\n(0008,0060) CS [OT]\n(0008,0064) CS [WSD]\n"
          "(0010,0010) PN [DOE^JANE]\n(0010,0020) LO [4471123]\n"
          "(0010,0030) DA [19610314]\n(0010,0040) CS [F]\n", fp);
    fprintf(fp, "(0020,000d) UI [1.2.826.0.1.3680043.10.9999.300.%d.2]\n", serial);
    fprintf(fp, "(0020,000e) UI [1.2.826.0.1.3680043.10.9999.300.%d.3]\n", serial);
    fputs("(0020,0013) IS [1]\n", fp);
    fprintf(fp, "(0028,0002) US %d\n(0028,0004) CS [%s]\n", ch,
            v->kind == RGB ? "RGB" : v->kind == MONO1 ? "MONOCHROME1" : "MONOCHROME2");
    if (v->kind == RGB)
        fputs("(0028,0006) US 0\n", fp);
    if (v->frames > 1)
        fprintf(fp, "(0028,0008) IS [%d]\n", v->frames);
    int bits = v->kind == MONO16 ? 16 : 8, stored = v->kind == MONO16 ? 12 : 8;
    fprintf(fp, "(0028,0010) US %d\n(0028,0011) US %d\n(0028,0100) US %d\n(0028,0101) US %d\n"
                "(0028,0102) US %d\n(0028,0103) US 0\n(0028,0301) CS [YES]\n",
            s, s, bits, stored, stored - 1);
    /* An explicit window, so that input and output decode alike whatever cleaning does to
     * the range of the stored values. */
    if (v->kind != RGB)
        fprintf(fp, "(0028,1050) DS [%s]\n(0028,1051) DS [%s]\n",
                v->kind == MONO16 ? "2048" : "128", v->kind == MONO16 ? "4096" : "256");
    fprintf(fp, "(7fe0,0010) %s =%s\n", bits == 16 ? "OW" : "OB", raw);
    fclose(fp);
    tu_sh("dump2dcm -q +te '%s' '%s'", dump, v->path);
}

static void build(variant *v, int serial)
{
    int s = v->size, ch = channels(v);
    for (int f = 0; f < v->frames; f++) {
        v->disp[f] = malloc((size_t)s * s * ch);
        v->ink[f] = calloc((size_t)s * s, 1);
        assert_true(v->disp[f] && v->ink[f]);
        background(v, f, v->disp[f]);
    }
    if (v->with_text) {
        int tf = v->frames > 1 ? 1 : 0;  /* multi-frame: text in the middle frame only */
        /* The '^' of a DICOM name is not read reliably at these sizes (an 'A', '*', 'S]'),
         * so "DOE^JANE" is only required to be found, and the name is also written out. */
        if (s == 512) {
            draw(v, tf, "DOE^JANE 4471123", "4471123", 16, 10, 7, WHITE);
            draw(v, tf, "JANE DOE", "JANE DOE", 16, -10, 7, WHITE);
            draw(v, tf, "MRN 4471123", NULL, 10, 8, -8, GREY);
            draw(v, tf, "1961-03-14", "1961-03-14", 12, -8, -8, WHITE);
            draw(v, tf, "JANE DOE", "JANE", 60, 100, 60, WHITE);  /* a title */
        } else if (v->kind == RGB) {
            draw(v, tf, "DOE^JANE", NULL, 14, 6, 6, YELLOW);
            draw(v, tf, "MRN 4471123", "4471123", 12, -6, 8, CYAN);
            draw(v, tf, "1961-03-14", "1961-03-14", 12, 6, -6, GREEN);
        } else {
            draw(v, tf, "DOE^JANE", NULL, 14, 6, 6, WHITE);
            draw(v, tf, "MRN 4471123", "4471123", 12, -6, 8, GREY);
            draw(v, tf, "1961-03-14", "1961-03-14", 12, 6, -6, WHITE);
        }
    }
    write_dicom(v, serial);
}

static int setup(void **state)
{
    (void)state;
    if (system("command -v dump2dcm >/dev/null 2>&1 && command -v dcmcrle >/dev/null 2>&1") != 0)
        return -1;
    ocr_global_init();
    tu_tmpdir();
    variant *all[] = {&mono8, &mono16, &mono1, &rgb, &multi, &big,
                      &free8, &free16, &free1, &freergb, &freebig, &freemulti};
    for (size_t i = 0; i < COUNT(all); i++)
        build(all[i], (int)i + 1);
    rle = mono8;
    rle.name = "rle";
    snprintf(rle.path, sizeof rle.path, "%s/rle.dcm", tu_dir);
    tu_sh("dcmcrle -q '%s' '%s'", mono8.path, rle.path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    variant *all[] = {&mono8, &mono16, &mono1, &rgb, &multi, &big,
                      &free8, &free16, &free1, &freergb, &freebig, &freemulti};
    for (size_t i = 0; i < COUNT(all); i++)
        for (int f = 0; f < all[i]->frames; f++) {
            free(all[i]->disp[f]);
            free(all[i]->ink[f]);
        }
    ocr_thread_reader_release();
    tu_cleanup();
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

static dcm_file *open_file(const char *path)
{
    dcm_file *f = NULL;
    if (dcm_open(path, &f, err, sizeof err) != DCM_OK)
        fail_msg("open: %s", err);
    return f;
}

static dcm_image decode(dcm_file *f, int frame)
{
    dcm_image img;
    if (dcm_decode_frame(f, frame, &img, err, sizeof err) != DCM_OK)
        fail_msg("decode frame %d: %s", frame, err);
    return img;
}

/* Mean of the brightest channel over a rectangle. */
static double mean_in(const dcm_image *img, rect r)
{
    double sum = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) {
            const unsigned char *p = img->pixels + ((size_t)y * img->width + x) * img->channels;
            int m = p[0];
            for (int c = 1; c < img->channels; c++)
                m = p[c] > m ? p[c] : m;
            sum += m;
        }
    return sum / ((double)r.w * r.h);
}

static int intersect(rect a, rect b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    return x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 0;
}

typedef struct ocr_hit { int frame; rect r; } ocr_hit;

static void parse_where(const verify_finding *f, ocr_hit *h)
{
    if (sscanf(f->where, "pixels:frame %d %d,%d,%d,%d", &h->frame, &h->r.x, &h->r.y, &h->r.w,
               &h->r.h) != 5)
        fail_msg("%s finding at an unexpected place: '%s'", f->detector, f->where);
}

/* Whether the paired check matched `expect` in the text read from the box over ln. */
static int paired_on(const verify_findings *fs, const line *ln, const char *expect)
{
    for (size_t i = 0; i < fs->n; i++) {
        const verify_finding *f = &fs->v[i];
        if (strcmp(f->detector, "ocr-paired-leak") != 0)
            continue;
        ocr_hit h;
        parse_where(f, &h);
        if (h.frame == ln->frame && intersect(h.r, ln->r) > 0 && f->value &&
            strstr(f->value, expect))
            return 1;
    }
    return 0;
}

/* Findings of verify_file whose detector starts with "ocr-"; "ocr-text" boxes into hits. */
static void verify(const char *path, int frames, const verify_pair_set *ids,
                   const char *thumbs, verify_findings *out)
{
    deid_policy *p = deid_policy_new();
    assert_non_null(p);
    verify_config c = {0};
    c.policy = p;
    c.ocr = 1;
    /* thumbs: thumbnails, text shown, go there */
    c.thumb_dir = thumbs;
    c.thumb_rel = "t";
    c.thumb_show_text = 1;
    verify_facts facts;
    if (verify_file(&c, path, ids, NULL, out, &facts, err, sizeof err) != 0)
        fail_msg("verify_file: %s", err);
    assert_int_equal(facts.frames, frames);
    assert_int_equal(facts.frames_inspected, frames);
    deid_policy_free(p);
}

/* verify on path finds no text in its pixels, and decodes every frame; what names it. */
static void expect_no_text(const char *path, int frames, const verify_pair_set *ids,
                           const char *what)
{
    verify_findings fs = {0};
    verify(path, frames, ids, NULL, &fs);
    for (size_t i = 0; i < fs.n; i++)
        if (strncmp(fs.v[i].detector, "ocr-", 4) == 0 ||
            strcmp(fs.v[i].detector, "undecodable-frame") == 0)
            fail_msg("%s: %s finding at %s", what, fs.v[i].detector, fs.v[i].where);
    verify_findings_clear(&fs);
}

static size_t ocr_boxes(const verify_findings *fs, ocr_hit *hits, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const verify_finding *f = &fs->v[i];
        if (strcmp(f->detector, "ocr-text") != 0)
            continue;
        ocr_hit h;
        parse_where(f, &h);
        assert_true(n < max);
        hits[n++] = h;
    }
    return n;
}

static void engine_init(deid_engine *e, struct deid_pseudo *ps, deid_policy **p)
{
    unsigned char key[DEID_KEY_LEN];
    for (int i = 0; i < DEID_KEY_LEN; i++)
        key[i] = (unsigned char)(i * 13 + 1);
    deid_pseudo_init(ps, key);
    ps->unknown_use_template = 1;
    *p = deid_policy_new();
    assert_non_null(*p);
    memset(e, 0, sizeof *e);
    e->policy = *p;
    e->pseudo = ps;
}

/* The input's identifying values, as `deidtk verify --originals` pairs them. */
static deid_result identifying_of(const char *path)
{
    deid_engine e;
    struct deid_pseudo ps;
    deid_policy *p;
    engine_init(&e, &ps, &p);
    deid_result r;
    memset(&r, 0, sizeof r);
    dcm_file *f = open_file(path);
    if (deid_identifying(&e, f, &r, err, sizeof err) != 0)
        fail_msg("deid_identifying: %s", err);
    assert_non_null(r.identifying);
    dcm_close(f);
    deid_policy_free(p);
    return r;
}

/* Clean Pixel Data with OCR boxes on the file at in, saved to out; the result is the
 * caller's (deid_result_free). */
static deid_result clean_ocr(const char *in, const char *out)
{
    deid_engine e;
    struct deid_pseudo ps;
    deid_policy *p;
    engine_init(&e, &ps, &p);
    e.clean_pixels = DEID_PIXELS_OCR;
    deid_result r;
    memset(&r, 0, sizeof r);
    dcm_file *f = open_file(in);
    if (deid_apply(&e, f, &r, err, sizeof err) != 0)
        fail_msg("%s: deid_apply: %s", in, err);
    if (dcm_save(f, out, err, sizeof err) != DCM_OK)
        fail_msg("%s: save: %s", out, err);
    dcm_close(f);
    deid_policy_free(p);
    return r;
}

/* ---- tests ----------------------------------------------------------------------------- */

/* Every variant decodes to the picture that was drawn (the window maps the 12-bit values
 * back to 8 bits, MONOCHROME1 comes out inverted as displayed, RGB as is), and the text
 * stands out from its surroundings. */
static void test_decode_shows_text(void **state)
{
    (void)state;
    variant *all[] = {&mono8, &mono16, &mono1, &rgb, &multi, &big, &rle, &free8};
    for (size_t k = 0; k < COUNT(all); k++) {
        variant *v = all[k];
        dcm_file *f = open_file(v->path);
        if (v == &rle)
            assert_string_equal(dcm_transfer_syntax(f), "1.2.840.10008.1.2.5");
        int frames = 0;
        assert_int_equal(dcm_frame_count(f, &frames, err, sizeof err), DCM_OK);
        assert_int_equal(frames, v->frames);
        for (int fr = 0; fr < frames; fr++) {
            dcm_image img = decode(f, fr);
            assert_int_equal(img.width, v->size);
            assert_int_equal(img.height, v->size);
            assert_int_equal(img.channels, channels(v));
            size_t n = (size_t)img.width * img.height * img.channels;
            int worst = 0;
            for (size_t i = 0; i < n; i++) {
                int d = abs((int)img.pixels[i] - (int)v->disp[fr][i]);
                worst = d > worst ? d : worst;
            }
            if (worst > 2)
                fail_msg("%s frame %d: decoded pixels differ from the drawn frame by up to %d",
                         v->name, fr, worst);
            for (int l = 0; l < v->nlines; l++) {
                const line *ln = &v->lines[l];
                if (ln->frame != fr)
                    continue;
                /* The strip just below the line, else just above it. */
                rect near = {ln->r.x, ln->r.y + ln->r.h + 2, ln->r.w, 3};
                if (near.y + near.h > v->size)
                    near.y = ln->r.y - 5;
                double in = mean_in(&img, ln->r), bg = mean_in(&img, near);
                if (in - bg < 40)
                    fail_msg("%s: line %d is not visible (mean %.0f on %.0f)", v->name, l, in, bg);
            }
            dcm_image_free(&img);
        }
        dcm_close(f);
    }
    /* MONOCHROME1: the stored values are dark text on light, the decoded frame the reverse. */
    dcm_file *f = open_file(mono1.path);
    dcm_image img = decode(f, 0);
    assert_true(mean_in(&img, mono1.lines[0].r) > mean_in(&img, (rect){0, 100, 20, 20}) + 40);
    dcm_image_free(&img);
    dcm_close(f);
}

/* verify_file with OCR: one "ocr-text" box over each line, on its own frame only, and the
 * text read is checked against the input's identifying values. */
static void test_verify_finds_each_line(void **state)
{
    (void)state;
    for (size_t k = 0; k < COUNT(with_text); k++) {
        variant *v = with_text[k];
        deid_result ids = identifying_of(v->path);
        verify_findings fs = {0};
        verify(v->path, v->frames, ids.identifying, NULL, &fs);
        ocr_hit hits[32];
        size_t n = ocr_boxes(&fs, hits, 32);
        for (int l = 0; l < v->nlines; l++) {
            const line *ln = &v->lines[l];
            int covered = 0;
            for (size_t i = 0; i < n; i++)
                if (hits[i].frame == ln->frame)
                    covered += intersect(ln->r, hits[i].r);
            if (covered * 2 < ln->r.w * ln->r.h)
                fail_msg("%s: line %d (%d px, %dx%d at %d,%d, frame %d) not found by OCR "
                         "(%zu boxes)", v->name, l, ln->height, ln->r.w, ln->r.h, ln->r.x,
                         ln->r.y, ln->frame, n);
        }
        /* No box elsewhere: every box covers a drawn line of its frame. */
        for (size_t i = 0; i < n; i++) {
            int on_line = 0;
            for (int l = 0; l < v->nlines; l++)
                on_line |= v->lines[l].frame == hits[i].frame &&
                           intersect(v->lines[l].r, hits[i].r) > 0;
            if (!on_line)
                fail_msg("%s: ocr-text box %d,%d,%d,%d on frame %d covers no text", v->name,
                         hits[i].r.x, hits[i].r.y, hits[i].r.w, hits[i].r.h, hits[i].frame);
        }
        for (int l = 0; l < v->nlines; l++)
            if (v->lines[l].expect && !paired_on(&fs, &v->lines[l], v->lines[l].expect))
                fail_msg("%s: line %d (%d px) was not read well enough to match the input",
                         v->name, l, v->lines[l].height);
        verify_findings_clear(&fs);
        deid_result_free(&ids);
    }
}

/* The same backgrounds without text: not a single OCR finding. */
static void test_text_free_has_no_ocr_findings(void **state)
{
    (void)state;
    for (size_t k = 0; k < COUNT(text_free); k++) {
        deid_result ids = identifying_of(text_free[k]->path);
        expect_no_text(text_free[k]->path, text_free[k]->frames, ids.identifying,
                       text_free[k]->name);
        deid_result_free(&ids);
    }
}

/* Clean Pixel Data with OCR boxes, saved and read back: the text is gone, the verifier finds
 * none, every pixel beyond the boxes' padding (a quarter of their height, at least 4 px) is
 * untouched, Burned In Annotation is NO, and a compressed input comes out explicit VR little
 * endian. */
static void test_clean_end_to_end(void **state)
{
    (void)state;
    for (size_t k = 0; k < COUNT(with_text); k++) {
        variant *v = with_text[k];
        char out[600];
        snprintf(out, sizeof out, "%s/%s-clean.dcm", tu_dir, v->name);
        deid_result r = clean_ocr(v->path, out);
        assert_int_equal(r.pixels_cleaned, 1);
        assert_true(r.pixel_regions >= v->nlines);

        dcm_file *in = open_file(v->path), *o = open_file(out);
        char *bia = NULL;
        assert_int_equal(dcm_get(o, "(0028,0301)", &bia, err, sizeof err), DCM_OK);
        assert_string_equal(bia, "NO");
        free(bia);
        if (v == &rle)
            assert_string_equal(dcm_transfer_syntax(o), "1.2.840.10008.1.2.1");
        for (int fr = 0; fr < v->frames; fr++) {
            dcm_image a = decode(in, fr), b = decode(o, fr);
            assert_int_equal(a.width, b.width);
            assert_int_equal(a.height, b.height);
            assert_int_equal(a.channels, b.channels);
            ocr_box *boxes = NULL;
            size_t nb = 0;
            assert_int_equal(ocr_detect(a.width, a.height, a.channels, a.pixels, &boxes, &nb,
                                        err, sizeof err), 0);
            int w = a.width, h = a.height, ch = a.channels;
            long moved = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int near = 0;
                    for (size_t i = 0; i < nb && !near; i++) {
                        int m = boxes[i].h / 4 > 4 ? boxes[i].h / 4 : 4;
                        near = x >= boxes[i].x - m && x < boxes[i].x + boxes[i].w + m &&
                               y >= boxes[i].y - m && y < boxes[i].y + boxes[i].h + m;
                    }
                    if (!near && memcmp(a.pixels + ((size_t)y * w + x) * ch,
                                        b.pixels + ((size_t)y * w + x) * ch, (size_t)ch) != 0)
                        moved++;
                }
            if (moved)
                fail_msg("%s frame %d: %ld pixels changed beyond the padding of the %zu "
                         "detected boxes", v->name, fr, moved, nb);
            /* Every pixel the text inked is now background-dark. */
            for (int l = 0; l < v->nlines; l++) {
                const line *ln = &v->lines[l];
                if (ln->frame != fr)
                    continue;
                long inked = 0, left = 0;
                for (int y = ln->r.y; y < ln->r.y + ln->r.h; y++)
                    for (int x = ln->r.x; x < ln->r.x + ln->r.w; x++) {
                        size_t i = (size_t)y * w + x;
                        if (v->ink[fr][i] < 160)
                            continue;
                        inked++;
                        const unsigned char *q = b.pixels + i * ch;
                        int m = q[0];
                        for (int c = 1; c < ch; c++)
                            m = q[c] > m ? q[c] : m;
                        left += m > 100 || memcmp(q, a.pixels + i * ch, (size_t)ch) == 0;
                    }
                assert_true(inked > 20);
                if (left)
                    fail_msg("%s: %ld of %ld inked pixels of line %d still look like text",
                             v->name, left, inked, l);
            }
            free(boxes);
            dcm_image_free(&a);
            dcm_image_free(&b);
        }
        dcm_close(in);
        dcm_close(o);

        verify_findings fs = {0};
        verify(out, v->frames, r.identifying, NULL, &fs);
        for (size_t i = 0; i < fs.n; i++)
            if (strncmp(fs.v[i].detector, "ocr-", 4) == 0 ||
                strcmp(fs.v[i].detector, "undecodable-frame") == 0 ||
                strstr(fs.v[i].detector, "paired-leak"))
                fail_msg("%s cleaned: %s finding at %s", v->name, fs.v[i].detector,
                         fs.v[i].where);
        verify_findings_clear(&fs);
        deid_result_free(&r);
    }
}

/* ---- text the window hides ------------------------------------------------------------ */

/* Blends the text t (255 = ink) into a 12-bit S x S frame at value, from (x, y). */
static rect burn12(uint16_t *v, int S, PIX *t, int x, int y, int value)
{
    rect r = {x, y, pixGetWidth(t), pixGetHeight(t)};
    for (int yy = 0; yy < r.h; yy++)
        for (int xx = 0; xx < r.w; xx++) {
            l_uint32 a;
            pixGetPixel(t, xx, yy, &a);
            uint16_t *p = &v[(r.y + yy) * S + r.x + xx];
            *p = (uint16_t)((*p * (255 - (int)a) + value * (int)a) / 255);
        }
    return r;
}

/* Writes frames 12-bit S x S grey frames of stored values v as path, with dump2dcm: the
 * attributes in head (a dump, Photometric Interpretation among them), then the frames'. */
static void write12(const char *path, const uint16_t *v, int S, int frames, const char *head)
{
    char raw[600], dump[600];
    snprintf(raw, sizeof raw, "%s.raw", path);
    snprintf(dump, sizeof dump, "%s.dump", path);
    FILE *fp = fopen(raw, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < (size_t)S * S * frames; i++) {
        fputc(v[i] & 0xff, fp);
        fputc(v[i] >> 8, fp);
    }
    fclose(fp);
    fp = fopen(dump, "w");
    assert_non_null(fp);
    fprintf(fp, "%s(0028,0002) US 1\n(0028,0008) IS [%d]\n(0028,0010) US %d\n"
                "(0028,0011) US %d\n(0028,0100) US 16\n(0028,0101) US 12\n(0028,0102) US 11\n"
                "(0028,0103) US 0\n(7fe0,0010) OW =%s\n",
            head, frames, S, S, raw);
    fclose(fp);
    tu_sh("dump2dcm -q +te '%s' '%s'", dump, path);
}

/* A 12-bit frame whose window (0..2000) shows a large "bone" (about 3000) as white, with a
 * line drawn across the bone at the largest stored value, 4095: on screen the line is white
 * on white. MONOCHROME1 (invert) stores the values reversed (white is low), with the window
 * reversed to match. Returns the line's rectangle; with_text 0 draws no line. */
static rect write_hidden(const char *path, int invert, int with_text, int serial)
{
    enum { S = 256 };
    static uint16_t v[S * S];
    rng = 4242u;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            long dx = x - S / 2, dy = y - S / 2;
            int val = 30 + noise(10);
            if (dx * dx * 40 * 40 + dy * dy * 110 * 110 < 110L * 110 * 40 * 40)
                val = 3000 + noise(40);
            else if (dx * dx + dy * dy < 120L * 120)
                val = 1000 + x * 2 + noise(30);
            v[y * S + x] = (uint16_t)val;
        }
    rect r = {0, 0, 0, 0};
    if (with_text) {
        PIX *t = tu_render_text("MRN 4471123", 12);
        r = burn12(v, S, t, S / 2 - pixGetWidth(t) / 2, S / 2 - 6, 4095);
        pixDestroy(&t);
    }
    if (invert)
        for (int i = 0; i < S * S; i++)
            v[i] = (uint16_t)(4095 - v[i]);
    char head[1024];
    snprintf(head, sizeof head,
             "(0008,0016) UI =SecondaryCaptureImageStorage\n"
             "(0008,0018) UI [1.2.826.0.1.3680043.10.9999.301.%d.1]\n"
             "(0008,0060) CS [OT]\n(0008,0064) CS [WSD]\n(0010,0010) PN [DOE^JANE]\n"
             "(0010,0020) LO [4471123]\n"
             "(0020,000d) UI [1.2.826.0.1.3680043.10.9999.301.%d.2]\n"
             "(0020,000e) UI [1.2.826.0.1.3680043.10.9999.301.%d.3]\n"
             "(0028,0004) CS [%s]\n(0028,0301) CS [NO]\n(0028,1050) DS [%s]\n"
             "(0028,1051) DS [2000]\n",
             serial, serial, serial, invert ? "MONOCHROME1" : "MONOCHROME2",
             invert ? "3095" : "1000");
    write12(path, v, S, 1, head);
    return r;
}

/* Text drawn at the largest value across anatomy the window shows white: invisible on
 * screen, but the clipped view shows it, so the verifier finds and reads it, and cleaning
 * removes it; without text, the bone is not taken for any. MONOCHROME2 and MONOCHROME1. */
static void test_text_the_window_hides(void **state)
{
    (void)state;
    for (int invert = 0; invert < 2; invert++) {
        char path[600], free_path[600], out[600];
        snprintf(path, sizeof path, "%s/hidden%d.dcm", tu_dir, invert);
        snprintf(free_path, sizeof free_path, "%s/hidden-free%d.dcm", tu_dir, invert);
        snprintf(out, sizeof out, "%s/hidden%d-clean.dcm", tu_dir, invert);
        rect r = write_hidden(path, invert, 1, 40 + invert);
        write_hidden(free_path, invert, 0, 42 + invert);

        dcm_file *f = open_file(path);
        dcm_image img = decode(f, 0);
        rect below = {r.x, r.y + r.h + 3, r.w, 3};
        if (fabs(mean_in(&img, r) - mean_in(&img, below)) > 10)
            fail_msg("invert %d: the window was meant to hide the line", invert);
        assert_non_null(img.clipped);
        dcm_image view = img;
        view.pixels = img.clipped;
        if (mean_in(&view, r) < mean_in(&view, below) + 40)
            fail_msg("invert %d: the clipped view does not show the line", invert);
        /* Compressed, the frame goes through DicomImage (RLE) or OpenJPEG (JPEG 2000, when
         * gdcmconv is there to make it): the same view. */
        int copies = system("command -v gdcmconv >/dev/null 2>&1") == 0 ? 2 : 1;
        for (int c = 0; c < copies; c++) {
            char copy[600];
            snprintf(copy, sizeof copy, "%s/hidden%d-%s.dcm", tu_dir, invert, c ? "j2k" : "rle");
            if (c)
                tu_sh("gdcmconv --j2k '%s' '%s'", path, copy);
            else
                tu_sh("dcmcrle -q '%s' '%s'", path, copy);
            dcm_file *fc = open_file(copy);
            dcm_image other = decode(fc, 0);
            assert_non_null(other.clipped);
            int worst = 0;
            for (size_t i = 0; i < (size_t)img.width * img.height; i++) {
                int d = abs((int)img.clipped[i] - (int)other.clipped[i]);
                worst = d > worst ? d : worst;
            }
            if (worst > 2)
                fail_msg("invert %d, %s: the clipped view differs by up to %d", invert, copy, worst);
            dcm_image_free(&other);
            dcm_close(fc);
        }
        dcm_image_free(&img);
        dcm_close(f);

        line ln = {"MRN 4471123", "4471123", 0, 12, r};
        deid_result ids = identifying_of(path);
        verify_findings fs = {0};
        char thumbs[600];
        snprintf(thumbs, sizeof thumbs, "%s/thumbs%d", tu_dir, invert);
        tu_sh("mkdir -p '%s'", thumbs);
        verify(path, 1, ids.identifying, thumbs, &fs);
        /* The thumbnail shows the line (from the clipped view), not white on white. */
        PIX *th = NULL;
        for (size_t i = 0; i < fs.n && !th; i++)
            if (fs.v[i].thumbnail) {
                char png[700];
                snprintf(png, sizeof png, "%s/%s", thumbs, strchr(fs.v[i].thumbnail, '/') + 1);
                PIX *rgb = pixRead(png);
                th = rgb && pixGetDepth(rgb) == 32 ? pixConvertRGBToLuminance(rgb) : pixClone(rgb);
                pixDestroy(&rgb);
            }
        if (!th)
            fail_msg("invert %d: no thumbnail", invert);
        l_int32 lo = 255, hi = 0;
        for (int y = r.y; y < r.y + r.h; y++)
            for (int x = r.x; x < r.x + r.w; x++) {
                l_uint32 g;
                pixGetPixel(th, x, y, &g);
                lo = (l_int32)g < lo ? (l_int32)g : lo;
                hi = (l_int32)g > hi ? (l_int32)g : hi;
            }
        pixDestroy(&th);
        if (hi - lo < 128)
            fail_msg("invert %d: the thumbnail shows no line (grey %d..%d)", invert, lo, hi);
        ocr_hit hits[8];
        size_t n = ocr_boxes(&fs, hits, 8);
        int covered = 0;
        for (size_t i = 0; i < n; i++)
            covered += intersect(r, hits[i].r);
        if (covered * 2 < r.w * r.h)
            fail_msg("invert %d: the hidden line was not found (%zu boxes)", invert, n);
        if (!paired_on(&fs, &ln, "4471123"))
            fail_msg("invert %d: the hidden line was not read well enough to match", invert);
        verify_findings_clear(&fs);
        deid_result_free(&ids);

        deid_result res = clean_ocr(path, out);
        assert_true(res.pixel_regions >= 1);
        const char *after[2] = {out, free_path};
        for (int k = 0; k < 2; k++) {
            deid_result ids2 = k == 0 ? res : identifying_of(free_path);
            char what[64];
            snprintf(what, sizeof what, "invert %d, %s", invert, k ? "no text" : "cleaned");
            expect_no_text(after[k], 1, ids2.identifying, what);
            deid_result_free(&ids2);
        }
    }
}

/* A Siemens MOSAIC: 20 slices in a 5 x 5 grid of 72 px tiles, the last row empty, 12-bit.
 * With text: an ID inside one tile of that row, and a line across two of its tile borders
 * that ends with the ID; their rectangles go to lines[0..2). */
static void write_mosaic(const char *path, int with_text, int serial, rect lines[2])
{
    enum { T = 72, G = 5, S = T * G, N = 20 };
    static uint16_t v[S * S];
    rng = 5151u;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int i = y / T * G + x / T;
            long dx = x % T - T / 2, dy = y % T - T / 2;
            long a = 14 + 2 * (i < N / 2 ? i : N - 1 - i), b = a * 4 / 5;  /* grows, shrinks */
            long e = dx * dx * a * a + dy * dy * b * b, r = a * a * b * b;
            int val = 15 + noise(5);
            if (i < N && e < r)
                val = (e * 100 > r * 85 ? 900 : (x / 3 + y / 4 + i) % 2 ? 650 : 350) + noise(40);
            v[y * S + x] = (uint16_t)val;
        }
    static const char *const text[2] = {"4471123", "JANE DOE MRN 4471123"};
    const int at[2][3] = {{T + 8, 4 * T + 10, 10}, {2 * T - 40, 4 * T + 40, 12}};
    for (int k = 0; with_text && k < 2; k++) {
        PIX *t = tu_render_text(text[k], at[k][2]);
        lines[k] = burn12(v, S, t, at[k][0], at[k][1], 1500);
        pixDestroy(&t);
    }
    char head[1024];
    snprintf(head, sizeof head,
             "(0008,0008) CS [ORIGINAL\\PRIMARY\\M\\ND\\NORM\\MOSAIC]\n"
             "(0008,0016) UI =MRImageStorage\n"
             "(0008,0018) UI [1.2.826.0.1.3680043.10.9999.303.%d.1]\n"
             "(0008,0060) CS [MR]\n(0008,0070) LO [SIEMENS]\n(0010,0010) PN [DOE^JANE]\n"
             "(0010,0020) LO [4471123]\n(0018,1310) US 72\\0\\0\\72\n"
             "(0019,0010) LO [SIEMENS MR HEADER]\n(0019,100a) US %d\n"
             "(0020,000d) UI [1.2.826.0.1.3680043.10.9999.303.%d.2]\n"
             "(0020,000e) UI [1.2.826.0.1.3680043.10.9999.303.%d.3]\n"
             "(0028,0004) CS [MONOCHROME2]\n",
             serial, N, serial, serial);
    write12(path, v, S, 1, head);
}

/* The tiles of a mosaic are searched one by one: a row of slices on black is not a line of
 * letters, yet text inside a tile, or across tiles, is found, read and cleaned. */
static void test_mosaic_tiles(void **state)
{
    (void)state;
    char path[600], free_path[600], out[600];
    snprintf(path, sizeof path, "%s/mosaic.dcm", tu_dir);
    snprintf(free_path, sizeof free_path, "%s/mosaic-free.dcm", tu_dir);
    snprintf(out, sizeof out, "%s/mosaic-clean.dcm", tu_dir);
    rect r[2];
    write_mosaic(path, 1, 50, r);
    write_mosaic(free_path, 0, 51, NULL);

    dcm_file *f = open_file(free_path);
    dcm_image img = decode(f, 0);
    assert_int_equal(img.tile_w, 72);
    assert_int_equal(img.tile_h, 72);
    dcm_image_free(&img);
    dcm_close(f);

    deid_result ids = identifying_of(free_path);
    expect_no_text(free_path, 1, ids.identifying, "text-free mosaic");
    deid_result_free(&ids);

    verify_findings fs = {0};
    ids = identifying_of(path);
    verify(path, 1, ids.identifying, NULL, &fs);
    ocr_hit hits[16];
    size_t n = ocr_boxes(&fs, hits, 16);
    for (int k = 0; k < 2; k++) {
        int covered = 0;
        for (size_t i = 0; i < n; i++)
            covered += intersect(r[k], hits[i].r);
        if (covered * 10 < r[k].w * r[k].h * 9)
            fail_msg("mosaic line %d: %d of %d pixels in boxes (%zu boxes)", k, covered,
                     r[k].w * r[k].h, n);
    }
    /* The line across tiles is read whole: its pieces were joined. */
    for (int k = 0; k < 2; k++) {
        line ln = {"4471123", "4471123", 0, 10, r[k]};
        if (!paired_on(&fs, &ln, "4471123"))
            fail_msg("mosaic line %d: the ID was not read well enough to match", k);
    }
    verify_findings_clear(&fs);
    deid_result_free(&ids);

    deid_result res = clean_ocr(path, out);
    assert_true(res.pixel_regions >= 2);
    expect_no_text(out, 1, res.identifying, "cleaned mosaic");
    deid_result_free(&res);
}

/* A cine with text in every frame: all of it is cleaned, however many boxes that makes
 * (1600 in 400 frames here; a fixed list of 512 a round left the last frames' text). */
static void test_clean_every_frame_of_a_cine(void **state)
{
    (void)state;
    enum { S = 96, F = 400, L = 4 };
    char path[600], out[600];
    snprintf(path, sizeof path, "%s/cine.dcm", tu_dir);
    snprintf(out, sizeof out, "%s/cine-clean.dcm", tu_dir);
    uint16_t *v = malloc(sizeof *v * S * S * F);
    assert_non_null(v);
    rng = 6161u;
    for (size_t i = 0; i < (size_t)S * S * F; i++)
        v[i] = (uint16_t)(300 + noise(60));
    static const char *const text[L] = {"MRN 4471123", "DOE JANE", "1961-03-14", "ACC 88123"};
    for (int k = 0; k < L; k++) {
        PIX *t = tu_render_text(text[k], 9);
        for (int f = 0; f < F; f++)
            burn12(v + (size_t)f * S * S, S, t, 4, 4 + 23 * k, 4095);
        pixDestroy(&t);
    }
    write12(path, v, S, F,
            "(0008,0016) UI =MultiframeGrayscaleWordSecondaryCaptureImageStorage\n"
            "(0008,0018) UI [1.2.826.0.1.3680043.10.9999.304.1]\n(0008,0060) CS [OT]\n"
            "(0008,0064) CS [WSD]\n(0010,0010) PN [DOE^JANE]\n(0010,0020) LO [4471123]\n"
            "(0020,000d) UI [1.2.826.0.1.3680043.10.9999.304.2]\n"
            "(0020,000e) UI [1.2.826.0.1.3680043.10.9999.304.3]\n"
            "(0028,0004) CS [MONOCHROME2]\n");
    free(v);
    deid_result res = clean_ocr(path, out);
    if (res.pixel_regions < F * L)
        fail_msg("cine: %d regions cleaned for %d lines", res.pixel_regions, F * L);
    expect_no_text(out, F, res.identifying, "cleaned cine");
    deid_result_free(&res);
}

/* How write_overlay stores the plane. */
enum plane_kind { PLANE_DATA, PLANE_SHORT, PLANE_EMBEDDED };

/* A 12-bit frame with an overlay plane (6000) holding a line of text at (4, 4) and a box
 * outline far from it, written as path: in Overlay Data, in Overlay Data cut to half its
 * size (malformed), or in bit 15 of the pixel values (an embedded plane). Returns the
 * text's rectangle in the overlay. */
static rect write_overlay(const char *path, enum plane_kind kind, int serial)
{
    enum { S = 128 };
    static uint16_t v[S * S];
    static unsigned char bits[S * S / 8];
    rng = 8181u;
    for (int i = 0; i < S * S; i++)
        v[i] = (uint16_t)(1000 + 3 * (i % S) + 2 * (i / S) + noise(8));
    memset(bits, 0, sizeof bits);
    PIX *t = tu_render_text("DOE JANE 4471123", 10);
    rect r = {4, 4, pixGetWidth(t), pixGetHeight(t)};
    for (int y = 0; y < r.h; y++)
        for (int x = 0; x < r.w; x++) {
            l_uint32 a;
            pixGetPixel(t, x, y, &a);
            if (a > 127) {
                int i = (r.y + y) * S + r.x + x;
                bits[i / 8] |= (unsigned char)(1u << (i % 8));
            }
        }
    pixDestroy(&t);
    for (int k = 60; k <= 110; k++) {   /* the outline of a square: graphics, not text */
        int edge[4] = {60 * S + k, 110 * S + k, k * S + 60, k * S + 110};
        for (int e = 0; e < 4; e++)
            bits[edge[e] / 8] |= (unsigned char)(1u << (edge[e] % 8));
    }
    char ovl[600], data[700] = "";
    snprintf(ovl, sizeof ovl, "%s.ovl", path);
    if (kind == PLANE_EMBEDDED) {
        for (int i = 0; i < S * S; i++)
            if (bits[i / 8] >> (i % 8) & 1)
                v[i] |= 0x8000;
    } else {
        FILE *fp = fopen(ovl, "wb");
        assert_non_null(fp);
        fwrite(bits, 1, kind == PLANE_SHORT ? sizeof bits / 2 : sizeof bits, fp);
        fclose(fp);
        snprintf(data, sizeof data, "(6000,3000) OW =%s\n", ovl);
    }
    char head[2048];
    snprintf(head, sizeof head,
             "(0008,0016) UI =SecondaryCaptureImageStorage\n"
             "(0008,0018) UI [1.2.826.0.1.3680043.10.9999.305.%d.1]\n(0008,0060) CS [OT]\n"
             "(0008,0064) CS [WSD]\n(0010,0010) PN [DOE^JANE]\n(0010,0020) LO [4471123]\n"
             "(0020,000d) UI [1.2.826.0.1.3680043.10.9999.305.%d.2]\n"
             "(0020,000e) UI [1.2.826.0.1.3680043.10.9999.305.%d.3]\n"
             "(0028,0004) CS [MONOCHROME2]\n(6000,0010) US %d\n(6000,0011) US %d\n"
             "(6000,0040) CS [G]\n(6000,0050) SS 1\\1\n(6000,0100) US %d\n(6000,0102) US %d\n%s",
             serial, serial, serial, S, S, kind == PLANE_EMBEDDED ? 16 : 1,
             kind == PLANE_EMBEDDED ? 15 : 0, data);
    write12(path, v, S, 1, head);
    return r;
}

/* Set bits of overlay 6000 inside and outside a rectangle. */
static void overlay_bits(const char *path, rect r, int *inside, int *outside)
{
    dcm_file *f = open_file(path);
    dcm_overlay planes[DCM_MAX_OVERLAYS];
    int np = 0;
    dcm_overlays(f, planes, &np);
    assert_int_equal(np, 1);
    assert_int_equal(planes[0].group, 0x6000);
    dcm_image img;
    if (dcm_decode_overlay(f, &planes[0], 0, &img, err, sizeof err) != DCM_OK)
        fail_msg("overlay: %s", err);
    *inside = *outside = 0;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++)
            if (img.pixels[y * img.width + x])
                ++*(x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h ? inside : outside);
    dcm_image_free(&img);
    dcm_close(f);
}

/* The overlay of path as written: its text (at r) and its outline drawn, and verify's OCR
 * finding the text in overlay 6000's first frame and none in the image's pixels. Returns
 * the outline's set bits, which cleaning must keep. */
static int expect_text_in_plane(const char *path, rect r, const char *label)
{
    int inside, outside, inplane = 0, inframe = 0;
    overlay_bits(path, r, &inside, &outside);
    assert_true(inside > 50 && outside > 150);
    verify_findings fs = {0};
    deid_result ids = identifying_of(path);
    verify(path, 1, ids.identifying, NULL, &fs);
    for (size_t i = 0; i < fs.n; i++) {
        if (strcmp(fs.v[i].detector, "ocr-text") != 0)
            continue;
        inplane += strncmp(fs.v[i].where, "overlay:6000 frame 0 ", 21) == 0;
        inframe += strncmp(fs.v[i].where, "pixels:", 7) == 0;
    }
    verify_findings_clear(&fs);
    deid_result_free(&ids);
    if (inplane == 0 || inframe != 0)
        fail_msg("%s: %d findings in the plane, %d in the frame", label, inplane, inframe);
    return outside;
}

/* deid_apply with the Basic Profile (and Clean Graphics when graphics) on in, saved as out
 * when it succeeds; its status, the result in *res (the caller frees it). */
static int apply_basic(const char *in, const char *out, int graphics, deid_result *res)
{
    deid_engine e;
    struct deid_pseudo ps;
    deid_policy *p;
    engine_init(&e, &ps, &p);
    assert_int_equal(deid_policy_select(p, "basic", graphics ?
                                        DEID_OPTION_BIT(DEID_OPT_CLEAN_GRAPHICS) : 0,
                                        err, sizeof err), 0);
    memset(res, 0, sizeof *res);
    dcm_file *f = open_file(in);
    int rc = deid_apply(&e, f, res, err, sizeof err);
    if (rc == 0 && dcm_save(f, out, err, sizeof err) != DCM_OK)
        fail_msg("save: %s", err);
    dcm_close(f);
    deid_policy_free(p);
    return rc;
}

/* Text drawn in an overlay plane is found by the verifier and, under Clean Graphics, blanked
 * in the plane while its other graphics stay; a malformed plane is a finding that blocks,
 * and cannot be cleaned. */
static void test_overlay_text(void **state)
{
    (void)state;
    char path[600], bad[600], out[600];
    snprintf(path, sizeof path, "%s/overlay.dcm", tu_dir);
    snprintf(bad, sizeof bad, "%s/overlay-short.dcm", tu_dir);
    snprintf(out, sizeof out, "%s/overlay-clean.dcm", tu_dir);
    rect r = write_overlay(path, PLANE_DATA, 60);
    write_overlay(bad, PLANE_SHORT, 61);
    int out0 = expect_text_in_plane(path, r, "overlay");

    deid_result res;
    if (apply_basic(path, out, 1, &res) != 0)
        fail_msg("deid_apply: %s", err);
    assert_true(res.overlay_regions >= 1);
    int in1, out1;
    overlay_bits(out, r, &in1, &out1);
    assert_int_equal(in1, 0);
    assert_int_equal(out1, out0);   /* the square's outline is untouched */
    expect_no_text(out, 1, res.identifying, "overlay cleaned");
    deid_result_free(&res);

    verify_findings fs = {0};
    verify(bad, 1, NULL, NULL, &fs);
    int blocked = 0;
    for (size_t i = 0; i < fs.n; i++)
        if (strcmp(fs.v[i].detector, "undecodable-frame") == 0 &&
            strcmp(fs.v[i].where, "overlay:6000 frame 0") == 0) {
            blocked = 1;
            /* the decoder's reason, without the path the finding names already */
            assert_non_null(strstr(fs.v[i].message, "(overlay 6000"));
            assert_null(strstr(fs.v[i].message, tu_dir));
        }
    if (!blocked)
        fail_msg("a malformed overlay gave no finding");
    verify_findings_clear(&fs);
    assert_int_not_equal(apply_basic(bad, out, 1, &res), 0);
    assert_non_null(strstr(err, "overlay 6000"));
    deid_result_free(&res);
}

/* An overlay embedded in bit 15 of 12-bit pixels (retired, in old files): verify reads its
 * text; the Basic Profile, which removes overlays, clears the bit in every pixel and leaves
 * the image's 12 bits alone; Clean Graphics blanks the text in the plane and keeps the rest. */
static void test_embedded_overlay(void **state)
{
    (void)state;
    char path[600], out[600], out2[600];
    snprintf(path, sizeof path, "%s/embedded.dcm", tu_dir);
    snprintf(out, sizeof out, "%s/embedded-basic.dcm", tu_dir);
    snprintf(out2, sizeof out2, "%s/embedded-graphics.dcm", tu_dir);
    rect r = write_overlay(path, PLANE_EMBEDDED, 62);
    int out0 = expect_text_in_plane(path, r, "embedded overlay");

    for (int graphics = 0; graphics < 2; graphics++) {
        const char *o = graphics ? out2 : out;
        deid_result res;
        if (apply_basic(path, o, graphics, &res) != 0)
            fail_msg("deid_apply: %s", err);
        assert_true(res.overlay_regions >= 1);
        if (graphics) {
            int in1, out1;
            overlay_bits(o, r, &in1, &out1);
            assert_int_equal(in1, 0);
            assert_int_equal(out1, out0);
        } else {
            /* No plane left, no bit 15 in any pixel, the 12 bits as they were. */
            dcm_file *a = open_file(path), *b = open_file(o);
            dcm_overlay planes[DCM_MAX_OVERLAYS];
            int np = 1;
            dcm_overlays(b, planes, &np);
            assert_int_equal(np, 0);
            dcm_image ia = decode(a, 0), ib = decode(b, 0);
            assert_memory_equal(ia.pixels, ib.pixels, (size_t)ia.width * ia.height);
            dcm_image_free(&ia);
            dcm_image_free(&ib);
            dcm_close(a);
            dcm_close(b);
            /* Declared again, the plane is empty: the bits went, not only the attributes. */
            char again[700];
            snprintf(again, sizeof again, "%s.again.dcm", o);
            tu_sh("cp '%s' '%s' && dcmodify -q -nb -i '(6000,0010)=128' -i '(6000,0011)=128' "
                  "-i '(6000,0040)=G' -i '(6000,0050)=1\\1' -i '(6000,0100)=16' "
                  "-i '(6000,0102)=15' '%s'", o, again, again);
            int in1, out1;
            overlay_bits(again, r, &in1, &out1);
            assert_int_equal(in1 + out1, 0);
        }
        expect_no_text(o, 1, res.identifying, graphics ? "embedded, graphics" : "embedded, basic");
        deid_result_free(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_shows_text),
        cmocka_unit_test(test_verify_finds_each_line),
        cmocka_unit_test(test_text_free_has_no_ocr_findings),
        cmocka_unit_test(test_clean_end_to_end),
        cmocka_unit_test(test_text_the_window_hides),
        cmocka_unit_test(test_mosaic_tiles),
        cmocka_unit_test(test_clean_every_frame_of_a_cine),
        cmocka_unit_test(test_overlay_text),
        cmocka_unit_test(test_embedded_overlay),
    };
    return cmocka_run_group_tests_name("pixels", tests, setup, teardown);
}
