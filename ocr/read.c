#include "config.h"

#include "ocr/ocr.h"
#include "ocr/ocr-internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

/* Tesseract reads best dark text on a light page with letters 20-40 px tall; burned-in
 * text is often 7-12 px, light on dark, and sometimes lies over anatomy. So each box is cut
 * out with a small margin, its ink isolated from the background (a top-hat removes whatever
 * is wider than a stroke, which flattens anatomy under the letters), enlarged to one common
 * height and binarised. All the boxes of a frame are then stacked, one per row, on a single
 * white sheet that Tesseract reads in one call as a block of lines: its cost per call is
 * large and per line small. Each recognised word goes back to the box whose row holds it.
 * Every box is prepared one way (see enum ink_rule) and read; the boxes read with low
 * confidence are prepared the other way, on a second sheet, and both readings are kept. */

#define TARGET_HEIGHT 32   /* box height, ascenders to descenders, Tesseract is given */
#define MAX_SCALE 6.0f
#define SHEET_MARGIN 16    /* white around and between rows */
#define MAX_ROWS 48        /* boxes per sheet: a frame with more is read in several calls */
/* A first reading whose words Tesseract trusts less than this on average (0..100) is read
 * again, prepared the other way. On the dev set every PHI box that only the second
 * preparation named had a first reading below 50; most readings of clean text are 80-96. */
#define WEAK_CONFIDENCE 70

struct ocr_reader {
    TessBaseAPI *api;  /* NULL until Tesseract is started */
    char *datapath;    /* as given to ocr_reader_new; NULL for the default */
};

/* Tesseract runs parts of its network on an OpenMP team of a fixed size when it was built
 * with OpenMP. On images the size of a few lines the team costs several times what it saves
 * (measured: 4-8x slower on a shared 2-core machine), and deidtk already gives each worker
 * thread its own reader. So parallel regions are made to run on one thread (no active
 * levels); the function is looked up at run time because it exists only when Tesseract
 * brought the OpenMP runtime with it. deidtk itself uses no OpenMP. */
static void serial_tesseract(void)
{
    void (*set_levels)(int) = NULL;
    void *self = dlopen(NULL, RTLD_LAZY);
    if (self) {
        *(void **)&set_levels = dlsym(self, "omp_set_max_active_levels");
        if (set_levels)
            set_levels(0);
        dlclose(self);
    }
}

static pthread_once_t serial_once = PTHREAD_ONCE_INIT;

ocr_reader *ocr_reader_deferred(const char *datapath)
{
    pthread_once(&serial_once, serial_tesseract);
    ocr_reader *r = calloc(1, sizeof *r);
    if (r && datapath && !(r->datapath = strdup(datapath))) {
        free(r);
        r = NULL;
    }
    return r;
}

/* Some of Tesseract's parameters are process-wide (debug_file among them), and each
 * reader's initialisation sets them: readers start one at a time. */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;

static int start_locked(ocr_reader *r, char *err, size_t errlen)
{
    if (!(r->api = TessBaseAPICreate())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Tesseract's diagnostics would go to stderr, which belongs to cli/. Burned-in text is
     * names, numbers and codes rather than English prose: the word lists would only pull
     * them towards dictionary words, and cost time to load. Polarity is normalised here,
     * so the inverted second pass is not needed; nothing is learnt between frames. */
    char *names[] = { "debug_file", "load_system_dawg", "load_freq_dawg", "load_punc_dawg",
                      "load_number_dawg", "load_unambig_dawg", "load_bigram_dawg",
                      "tessedit_do_invert", "classify_enable_learning", "user_defined_dpi" };
    char *values[] = { "/dev/null", "0", "0", "0", "0", "0", "0", "0", "0", "300" };
    if (TessBaseAPIInit4(r->api, r->datapath, "eng", OEM_LSTM_ONLY, NULL, 0, names, values,
                         sizeof names / sizeof names[0], 0) != 0) {
        snprintf(err, errlen, "cannot load Tesseract English data from %s (install tesseract-ocr-eng)",
                 r->datapath ? r->datapath : "the default tessdata folder");
        TessBaseAPIEnd(r->api);
        TessBaseAPIDelete(r->api);
        r->api = NULL;
        return -1;
    }
    return 0;
}

/* Starts Tesseract for r if it has not been started. */
static int start(ocr_reader *r, char *err, size_t errlen)
{
    if (r->api)
        return 0;
    pthread_mutex_lock(&start_mu);
    int rc = start_locked(r, err, errlen);
    pthread_mutex_unlock(&start_mu);
    return rc;
}

ocr_reader *ocr_reader_new(const char *datapath, char *err, size_t errlen)
{
    ocr_reader *r = ocr_reader_deferred(datapath);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (start(r, err, errlen) != 0) {
        ocr_reader_free(r);
        return NULL;
    }
    return r;
}

void ocr_reader_free(ocr_reader *r)
{
    if (!r)
        return;
    if (r->api) {
        TessBaseAPIEnd(r->api);
        TessBaseAPIDelete(r->api);
    }
    free(r->datapath);
    free(r);
}

/* Copies Tesseract's text without surrounding blanks and with inner newlines as spaces. */
static char *tidy_text(const char *s)
{
    if (!s)
        s = "";
    while (*s == ' ' || *s == '\n' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t'))
        len--;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        out[i] = s[i] == '\n' ? ' ' : s[i];
    out[len] = '\0';
    return out;
}

static int cmp_u8(const void *a, const void *b)
{
    return *(const unsigned char *)a - *(const unsigned char *)b;
}

/* Median of the crop's border: the background the text stands on. */
static int border_median(PIX *pix)
{
    l_int32 w = pixGetWidth(pix), h = pixGetHeight(pix);
    size_t n = 0, cap = 2 * (size_t)(w + h);
    unsigned char *v = malloc(cap);
    if (!v)
        return 0;
    for (l_int32 x = 0; x < w; x++) {
        l_uint32 a, b;
        pixGetPixel(pix, x, 0, &a);
        pixGetPixel(pix, x, h - 1, &b);
        v[n++] = (unsigned char)a;
        v[n++] = (unsigned char)b;
    }
    for (l_int32 y = 0; y < h; y++) {
        l_uint32 a, b;
        pixGetPixel(pix, 0, y, &a);
        pixGetPixel(pix, w - 1, y, &b);
        v[n++] = (unsigned char)a;
        v[n++] = (unsigned char)b;
    }
    qsort(v, n, 1, cmp_u8);
    int m = v[n / 2];
    free(v);
    return m;
}

/* One view of a rectangle of the frame: view 0 the usual grey, 1-3 a channel of RGB. */
static PIX *crop_view(int width, int channels, const unsigned char *pixels, int x0, int y0,
                      int cw, int ch, int view)
{
    PIX *pix = pixCreate(cw, ch, 8);
    if (!pix)
        return NULL;
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = 0; y < ch; y++) {
        const unsigned char *src = pixels + ((size_t)(y0 + y) * width + x0) * channels;
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < cw; x++) {
            const unsigned char *p = src + (size_t)x * channels;
            int v = channels == 1 ? p[0] : view > 0 ? p[view - 1]
                    : (p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8;
            SET_DATA_BYTE(line, x, v);
        }
    }
    return pix;
}

/* How a crop's ink is told from its background. */
enum ink_rule {
    INK_TOPHAT,  /* strokes brighter than their neighbourhood, enlarged smoothly */
    INK_LEVEL    /* pixels at the ink's own level, minus wide blobs, enlarged as blocks */
};

/* The height of the text line in a 1 bpp ink map: from the tallest usual letters (the
 * 90th percentile of its pieces' heights), so a box taller than its text (two labels side
 * by side at slightly different heights, a line under them) is still enlarged for its
 * letters. Falls back to the box height. */
static int line_height(PIX *ink, int box_h)
{
    BOXA *cc = ocr_components(ink);
    int n = cc ? boxaGetCount(cc) : 0;
    int *hs = n > 0 ? malloc((size_t)n * sizeof *hs) : NULL;
    int k = 0;
    for (int i = 0; hs && i < n; i++) {
        l_int32 bw, bh;
        boxaGetBoxGeometry(cc, i, NULL, NULL, &bw, &bh);
        if (bh >= 3 && bh <= box_h)
            hs[k++] = bh;
    }
    boxaDestroy(&cc);
    int h = box_h;
    if (k >= 3) {
        for (int i = 1; i < k; i++)
            for (int j = i; j > 0 && hs[j - 1] > hs[j]; j--) {
                int t = hs[j];
                hs[j] = hs[j - 1];
                hs[j - 1] = t;
            }
        int cap = hs[(k * 9) / 10 < k ? (k * 9) / 10 : k - 1];
        int est = cap * 4 / 3 + 1;  /* capitals to a line with descenders */
        h = est < box_h ? est : box_h;
    }
    free(hs);
    return h;
}

/* The pixels of grey within 24 levels of its brightest, less every blob that holds an
 * s x s square (and its rim): the thin strokes of text drawn at one level. 1 bpp, ink 1. */
static PIX *thin_level(PIX *grey, int s)
{
    l_int32 top = 0;
    pixGetExtremeValue(grey, 1, L_SELECT_MAX, NULL, NULL, NULL, &top);
    PIX *level = pixThresholdToBinary(grey, top > 24 ? top - 24 : 1);
    if (!level)
        return NULL;
    pixInvert(level, level);
    PIX *wide = pixOpenBrick(NULL, level, s, s);
    if (!wide) {
        pixDestroy(&level);
        return NULL;
    }
    pixDilateBrick(wide, wide, 3, 3);
    pixSubtract(level, level, wide);
    pixDestroy(&wide);
    return level;
}

/* The box as black ink on white at about TARGET_HEIGHT, 1 bpp; NULL when the box is
 * degenerate or holds no ink. For colour frames the view with the most contrast is used. */
static PIX *prepare_crop(int width, int height, int channels, const unsigned char *pixels,
                         const ocr_box *b, enum ink_rule rule)
{
    int pad = b->h / 4 + 2;
    int x0 = b->x - pad, y0 = b->y - pad, x1 = b->x + b->w + pad, y1 = b->y + b->h + pad;
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > width ? width : x1;
    y1 = y1 > height ? height : y1;
    if (x1 - x0 < 3 || y1 - y0 < 3)
        return NULL;
    PIX *best = NULL;
    int best_contrast = -1;
    int nviews = channels == 3 ? 4 : 1;
    for (int v = 0; v < nviews; v++) {
        PIX *crop = crop_view(width, channels, pixels, x0, y0, x1 - x0, y1 - y0, v);
        if (!crop)
            continue;
        l_int32 minv = 0, maxv = 0;
        pixGetExtremeValue(crop, 1, L_SELECT_MIN, NULL, NULL, NULL, &minv);
        pixGetExtremeValue(crop, 1, L_SELECT_MAX, NULL, NULL, NULL, &maxv);
        int bg = border_median(crop);
        /* Ink is the extreme farthest from the background; it is made the bright one. */
        int dark = bg - minv > maxv - bg;
        int contrast = dark ? bg - minv : maxv - bg;
        if (dark)
            pixInvert(crop, crop);
        if (contrast > best_contrast) {
            pixDestroy(&best);
            best = crop;
            best_contrast = contrast;
        } else {
            pixDestroy(&crop);
        }
    }
    if (!best || best_contrast < 16) {
        pixDestroy(&best);
        return NULL;
    }
    /* Strokes are at most about a fifth of the line height; anything wider is background. */
    int size = (b->h / 3) | 1;
    size = size < 5 ? 5 : size > 15 ? 15 : size;
    PIX *ink = pixTophat(best, size, size, L_TOPHAT_WHITE);
    if (!ink) {
        pixDestroy(&best);
        return NULL;
    }
    l_int32 top = 0;
    pixGetExtremeValue(ink, 1, L_SELECT_MAX, NULL, NULL, NULL, &top);
    /* Ink is whatever reaches 40% of the brightest stroke: the dim edge of an enlarged
     * one-pixel stroke still counts, a faint texture does not. */
    PIX *mask = top >= 16 ? pixThresholdToBinary(ink, top * 2 / 5 + 1) : NULL;
    if (mask)
        pixInvert(mask, mask);
    int line_h = mask ? line_height(mask, b->h) : b->h;
    float scale = (float)TARGET_HEIGHT / (float)(line_h > 0 ? line_h : 1);
    scale = scale < 1.0f ? 1.0f : scale > MAX_SCALE ? MAX_SCALE : scale;
    PIX *out = NULL;
    if (!mask) {
        /* no ink */
    } else if (rule == INK_TOPHAT) {
        PIX *big = scale > 1.0f ? pixScaleGrayLI(ink, scale, scale) : pixClone(ink);
        if (big) {
            out = pixThresholdToBinary(big, top * 2 / 5 + 1);
            pixDestroy(&big);
            if (out)
                pixInvert(out, out);
        }
    } else {
        /* Burned-in text is drawn at one level: keep what lies near the ink's level, less
         * whatever is wide enough to hold a square larger than a stroke (bright anatomy at
         * the same level). Over anatomy brighter than the text, the border can make the
         * wrong extreme look like ink, so both extremes are tried and the one leaving more
         * thin strokes wins. Pixel fonts keep their shape best enlarged as blocks. */
        int s = line_h / 4 < 3 ? 3 : line_h / 4;
        PIX *thin = thin_level(best, s);
        pixInvert(best, best);
        PIX *other = thin_level(best, s);
        l_int32 n_thin = 0, n_other = 0;
        if (thin)
            pixCountPixels(thin, &n_thin, NULL);
        if (other)
            pixCountPixels(other, &n_other, NULL);
        PIX *pick = n_other > n_thin ? other : thin;
        int f = (int)(scale + 0.5f);
        out = pick ? pixExpandBinaryReplicate(pick, f < 1 ? 1 : f, f < 1 ? 1 : f) : NULL;
        pixDestroy(&thin);
        pixDestroy(&other);
    }
    pixDestroy(&mask);
    pixDestroy(&ink);
    pixDestroy(&best);
    return out;
}

/* A run of boxes read in one Tesseract call. */
struct row { int y0, y1; };

/* Reads boxes[0..n) of one frame into out[0..n) (boxes and texts set; texts may be
 * empty), stacking their crops on one sheet. */
static int read_sheet(ocr_reader *r, int width, int height, int channels,
                      const unsigned char *pixels, const ocr_box *boxes, size_t n,
                      enum ink_rule rule, ocr_text *out, char *err, size_t errlen)
{
    PIX *crops[MAX_ROWS] = { NULL };
    struct row rows[MAX_ROWS];
    double confsum[MAX_ROWS] = { 0 };
    int nconf[MAX_ROWS] = { 0 };
    size_t lens[MAX_ROWS] = { 0 };
    int sheet_w = 0, sheet_h = SHEET_MARGIN, nread = 0, rc = -1;
    PIX *sheet = NULL;
    TessResultIterator *it = NULL;
    for (size_t i = 0; i < n; i++)
        out[i].text = NULL;  /* so that every failure leaves out[] holding nothing */
    if (start(r, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out[i].box = boxes[i];
        out[i].text = calloc(1, 1);
        out[i].confidence = 0;
        out[i].view = 0;
        if (!out[i].text)
            goto oom;
        crops[i] = prepare_crop(width, height, channels, pixels, &boxes[i], rule);
        if (!crops[i])
            continue;
        int cw = pixGetWidth(crops[i]), ch = pixGetHeight(crops[i]);
        rows[i] = (struct row){ sheet_h, sheet_h + ch };
        sheet_h += ch + SHEET_MARGIN;
        sheet_w = cw > sheet_w ? cw : sheet_w;
        nread++;
    }
    if (nread == 0) {
        rc = 0;
        goto done;
    }
    sheet = pixCreate(sheet_w + 2 * SHEET_MARGIN, sheet_h, 1);
    if (!sheet)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (crops[i])
            pixRasterop(sheet, SHEET_MARGIN, rows[i].y0, pixGetWidth(crops[i]),
                        pixGetHeight(crops[i]), PIX_SRC, crops[i], 0, 0);
    TessBaseAPISetPageSegMode(r->api, nread == 1 ? PSM_SINGLE_LINE : PSM_SINGLE_BLOCK);
    TessBaseAPISetImage2(r->api, sheet);
    TessBaseAPISetSourceResolution(r->api, 300);
    if (TessBaseAPIRecognize(r->api, NULL) != 0) {
        snprintf(err, errlen, "text recognition failed");
        goto done;
    }
    it = TessBaseAPIGetIterator(r->api);
    if (it) {
        const TessPageIterator *pit = TessResultIteratorGetPageIterator(it);
        do {
            int l, t, rr, bb;
            if (!TessPageIteratorBoundingBox(pit, RIL_WORD, &l, &t, &rr, &bb))
                continue;
            int cy = (t + bb) / 2;
            size_t k = 0;
            while (k < n && !(crops[k] && cy >= rows[k].y0 - SHEET_MARGIN / 2 &&
                              cy < rows[k].y1 + SHEET_MARGIN / 2))
                k++;
            char *word = TessResultIteratorGetUTF8Text(it, RIL_WORD);
            if (k < n && word && *word) {
                size_t wl = strlen(word);
                char *grown = realloc(out[k].text, lens[k] + wl + 2);
                if (!grown) {
                    TessDeleteText(word);
                    goto oom;
                }
                out[k].text = grown;
                if (lens[k])
                    grown[lens[k]++] = ' ';
                memcpy(grown + lens[k], word, wl + 1);
                lens[k] += wl;
                confsum[k] += TessResultIteratorConfidence(it, RIL_WORD);
                nconf[k]++;
            }
            TessDeleteText(word);
        } while (TessResultIteratorNext(it, RIL_WORD));
    }
    for (size_t k = 0; k < n; k++) {
        int c = nconf[k] ? (int)(confsum[k] / nconf[k] + 0.5) : 0;
        out[k].confidence = c < 0 ? 0 : c > 100 ? 100 : c;
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    TessResultIteratorDelete(it);
    TessBaseAPIClear(r->api);
    pixDestroy(&sheet);
    for (size_t i = 0; i < n; i++)
        pixDestroy(&crops[i]);
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            free(out[i].text);
            out[i].text = NULL;
        }
    return rc;
}

/* A '_' touching a digit is a 1 whose stem was lost: one-pixel stems vanish when small
 * fonts are drawn or scaled, leaving only the foot. Changed in place. */
static void restore_ones(char *t)
{
    for (size_t i = 0; t[i]; i++)
        if (t[i] == '_' && ((i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9') ||
                            (t[i + 1] >= '0' && t[i + 1] <= '9')))
            t[i] = '1';
}

/* Joins b's reading to a's as "A ; B" unless it adds nothing; a keeps the higher
 * confidence. Frees b's text. */
static int join_reading(ocr_text *a, ocr_text *b)
{
    if (b->text[0] && strcmp(a->text, b->text) != 0) {
        if (!a->text[0]) {
            free(a->text);
            a->text = b->text;
            a->confidence = b->confidence;
            b->text = NULL;
            return 0;
        }
        size_t la = strlen(a->text), lb = strlen(b->text);
        char *j = realloc(a->text, la + lb + sizeof " ; ");
        if (!j)
            return -1;
        memcpy(j + la, " ; ", 3);
        memcpy(j + la + 3, b->text, lb + 1);
        a->text = j;
        a->confidence = b->confidence > a->confidence ? b->confidence : a->confidence;
    }
    free(b->text);
    b->text = NULL;
    return 0;
}

/* Reads boxes[0..n) (n <= MAX_ROWS): first with the top-hat rule, then, for the boxes
 * whose first reading is weak, with the level rule. Small burned-in text defeats any single
 * preparation on some boxes (over anatomy, a contrast threshold loses strokes that a level
 * threshold keeps, and the reverse), and Tesseract's misreadings differ between them; every
 * distinct reading is kept, joined, so that whoever searches the text for known values gets
 * each chance. A box read with confident words gains nothing from the second preparation,
 * and recognition is nearly all of the cost. */
static int read_upright(ocr_reader *r, int width, int height, int channels,
                        const unsigned char *pixels, const ocr_box *boxes, size_t n,
                        ocr_text *out, char *err, size_t errlen)
{
    ocr_text more[MAX_ROWS];
    ocr_box weak[MAX_ROWS];
    size_t at[MAX_ROWS], nweak = 0;
    if (read_sheet(r, width, height, channels, pixels, boxes, n, INK_TOPHAT, out, err,
                   errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        restore_ones(out[i].text);
        if (out[i].confidence < WEAK_CONFIDENCE) {
            at[nweak] = i;
            weak[nweak++] = boxes[i];
        }
    }
    if (nweak > 0 && read_sheet(r, width, height, channels, pixels, weak, nweak, INK_LEVEL,
                                more, err, errlen) != 0) {
        for (size_t i = 0; i < n; i++) {
            free(out[i].text);
            out[i].text = NULL;
        }
        return -1;
    }
    int rc = 0;
    for (size_t j = 0; j < nweak; j++) {
        restore_ones(more[j].text);
        if (rc == 0 && join_reading(&out[at[j]], &more[j]) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        free(more[j].text);
    }
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            free(out[i].text);
            out[i].text = NULL;
        }
    return rc;
}

/* Reads the vertical boxes of a frame (text turned a quarter, either way): in the frame
 * turned clockwise and in the frame turned the other way, as it cannot be told which way
 * the text reads; both readings are joined. out[k].box stays boxes[k]. */
static int read_turned(ocr_reader *r, int width, int height, int channels,
                       const unsigned char *pixels, const ocr_box *boxes, size_t n,
                       ocr_text *out, char *err, size_t errlen)
{
    ocr_box turned[MAX_ROWS];
    ocr_text got[MAX_ROWS];
    for (size_t k = 0; k < n; k++)  /* both freed on error, whatever the reads reached */
        out[k].text = got[k].text = NULL;
    int rc = 0;
    for (int way = 0; rc == 0 && way < 2; way++) {
        unsigned char *t = ocr_turn(width, height, channels, pixels, way);
        if (!t) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        for (size_t k = 0; k < n; k++)
            turned[k] = ocr_turn_box(&boxes[k], width, height, way);
        rc = read_upright(r, height, width, channels, t, turned, n, way ? got : out, err,
                          errlen);
        free(t);
        for (size_t k = 0; rc == 0 && way && k < n; k++)
            if (join_reading(&out[k], &got[k]) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
    }
    if (rc != 0) {
        for (size_t k = 0; k < n; k++) {
            free(out[k].text);
            out[k].text = NULL;
            free(got[k].text);
        }
        return -1;
    }
    for (size_t k = 0; k < n; k++)
        out[k].box = boxes[k];
    return 0;
}

/* Reads boxes[0..n) (n <= MAX_ROWS), the upright ones as they stand and the vertical ones
 * turned. */
static int read_boxes(ocr_reader *r, int width, int height, int channels,
                      const unsigned char *pixels, const ocr_box *boxes, size_t n,
                      ocr_text *out, char *err, size_t errlen)
{
    ocr_box part[2][MAX_ROWS];
    ocr_text got[2][MAX_ROWS];
    size_t at[2][MAX_ROWS], np[2] = { 0, 0 };
    for (size_t i = 0; i < n; i++) {
        int v = boxes[i].vertical != 0;
        at[v][np[v]] = i;
        part[v][np[v]++] = boxes[i];
    }
    if (np[1] == 0)
        return read_upright(r, width, height, channels, pixels, boxes, n, out, err, errlen);
    int rc = np[0] ? read_upright(r, width, height, channels, pixels, part[0], np[0], got[0],
                                  err, errlen)
                   : 0;
    if (rc == 0 && read_turned(r, width, height, channels, pixels, part[1], np[1], got[1], err,
                               errlen) != 0) {
        for (size_t k = 0; k < np[0]; k++)
            free(got[0][k].text);
        rc = -1;
    }
    for (int v = 0; rc == 0 && v < 2; v++)
        for (size_t k = 0; k < np[v]; k++)
            out[at[v][k]] = got[v][k];
    return rc;
}

static int recognise(ocr_reader *r, PIX *pix, TessPageSegMode psm, char **text, int *conf,
                     char *err, size_t errlen)
{
    if (start(r, err, errlen) != 0)
        return -1;
    TessBaseAPISetPageSegMode(r->api, psm);
    TessBaseAPISetImage2(r->api, pix);
    TessBaseAPISetSourceResolution(r->api, 300);
    char *raw = TessBaseAPIGetUTF8Text(r->api);
    int c = raw ? TessBaseAPIMeanTextConf(r->api) : 0;
    *text = raw ? tidy_text(raw) : NULL;
    TessDeleteText(raw);
    TessBaseAPIClear(r->api);
    if (!*text) {
        snprintf(err, errlen, "text recognition failed");
        return -1;
    }
    *conf = c < 0 ? 0 : c;
    return 0;
}

int ocr_read(ocr_reader *r, int width, int height, int channels, const unsigned char *pixels,
             const ocr_box *box, ocr_text *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || !pixels || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "invalid image (%dx%d, %d channels)", width, height, channels);
        return -1;
    }
    return read_boxes(r, width, height, channels, pixels, box, 1, out, err, errlen);
}

int ocr_read_full_frame(ocr_reader *r, int width, int height, int channels,
                        const unsigned char *pixels, char **text, int *confidence,
                        char *err, size_t errlen)
{
    *text = NULL;
    *confidence = 0;
    if (width <= 0 || height <= 0 || !pixels || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "invalid image (%dx%d, %d channels)", width, height, channels);
        return -1;
    }
    PIX *pix = ocr_pix_from_frame(width, height, channels, pixels, OCR_GREY_LUMA);
    if (!pix) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = recognise(r, pix, PSM_AUTO, text, confidence, err, errlen);
    pixDestroy(&pix);
    return rc;
}

int ocr_find_text_views(ocr_reader *r, const ocr_frame *f, ocr_text **out, size_t *n, char *err,
                        size_t errlen)
{
    *out = NULL;
    *n = 0;
    ocr_box *boxes;
    int *views;
    size_t nb;
    if (ocr_detect_in_views(f, &boxes, &views, &nb, err, errlen) != 0)
        return -1;
    if (nb == 0)
        return 0;
    ocr_text *texts = calloc(nb, sizeof *texts);
    ocr_box *batch = malloc(nb * sizeof *batch);  /* the boxes read in one view */
    size_t *at = malloc(nb * sizeof *at);          /* where each one goes in texts */
    int rc = texts && batch && at ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "out of memory");
    for (int v = 0; rc == 0 && v <= f->nextra; v++) {
        size_t k = 0;
        for (size_t i = 0; i < nb; i++)
            if (views[i] == v) {
                at[k] = i;
                batch[k++] = boxes[i];
            }
        for (size_t i = 0; rc == 0 && i < k; i += MAX_ROWS) {
            size_t m = k - i < MAX_ROWS ? k - i : MAX_ROWS;
            ocr_text got[MAX_ROWS];
            rc = read_boxes(r, f->width, f->height, v ? 1 : f->channels,
                            v ? f->extra[v - 1] : f->pixels, batch + i, m, got, err, errlen);
            for (size_t j = 0; rc == 0 && j < m; j++) {
                texts[at[i + j]] = got[j];
                texts[at[i + j]].view = v;
            }
        }
    }
    free(boxes);
    free(views);
    free(batch);
    free(at);
    if (rc != 0) {
        ocr_texts_free(texts, nb);
        return -1;
    }
    *out = texts;
    *n = nb;
    return 0;
}

int ocr_find_text(ocr_reader *r, int width, int height, int channels,
                  const unsigned char *pixels, ocr_text **out, size_t *n,
                  char *err, size_t errlen)
{
    ocr_frame f = { width, height, channels, pixels, NULL, 0, 0, 0 };
    return ocr_find_text_views(r, &f, out, n, err, errlen);
}

void ocr_texts_free(ocr_text *texts, size_t n)
{
    if (!texts)
        return;
    for (size_t i = 0; i < n; i++)
        free(texts[i].text);
    free(texts);
}
