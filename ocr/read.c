#include "config.h"

#include "ocr/ocr.h"
#include "ocr/ocr-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

/* Tesseract reads best dark text on a light page with letters 20-40 px tall; burned-in
 * text is often 7-12 px and light on dark, so each box is cut out with a margin, turned
 * dark-on-light and enlarged before it is read. */

#define TARGET_HEIGHT 36  /* letter height Tesseract is given */
#define MAX_SCALE 4.0f

struct ocr_reader {
    TessBaseAPI *api;
};

ocr_reader *ocr_reader_new(const char *datapath, char *err, size_t errlen)
{
    ocr_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->api = TessBaseAPICreate())) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* Tesseract's diagnostics would go to stderr, which belongs to cli/. */
    TessBaseAPISetVariable(r->api, "debug_file", "/dev/null");
    if (TessBaseAPIInit3(r->api, datapath, "eng") != 0) {
        snprintf(err, errlen, "cannot load Tesseract English data from %s (install tesseract-ocr-eng)",
                 datapath ? datapath : "the default tessdata folder");
        ocr_reader_free(r);
        return NULL;
    }
    TessBaseAPISetVariable(r->api, "user_defined_dpi", "300");
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

static int recognise(ocr_reader *r, PIX *pix, TessPageSegMode psm, char **text, int *conf,
                     char *err, size_t errlen)
{
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

/* Mean of the crop's border: the background the text stands on. */
static double border_mean(PIX *pix)
{
    l_int32 w = pixGetWidth(pix), h = pixGetHeight(pix);
    double sum = 0;
    long n = 0;
    for (l_int32 x = 0; x < w; x++) {
        l_uint32 a, b;
        pixGetPixel(pix, x, 0, &a);
        pixGetPixel(pix, x, h - 1, &b);
        sum += a + b;
        n += 2;
    }
    for (l_int32 y = 0; y < h; y++) {
        l_uint32 a, b;
        pixGetPixel(pix, 0, y, &a);
        pixGetPixel(pix, w - 1, y, &b);
        sum += a + b;
        n += 2;
    }
    return n ? sum / n : 0;
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

/* The crop, as grey text on a light background, enlarged. For colour frames the channel
 * with the most contrast between ink and background is used. */
static PIX *prepare_crop(int width, int height, int channels, const unsigned char *pixels,
                         const ocr_box *b)
{
    int pad = b->h / 2 + 3;
    int x0 = b->x - pad, y0 = b->y - pad, x1 = b->x + b->w + pad, y1 = b->y + b->h + pad;
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > width ? width : x1;
    y1 = y1 > height ? height : y1;
    if (x1 - x0 < 2 || y1 - y0 < 2)
        return NULL;
    PIX *best = NULL;
    double best_contrast = -1;
    int nviews = channels == 3 ? 4 : 1;
    for (int v = 0; v < nviews; v++) {
        PIX *crop = crop_view(width, channels, pixels, x0, y0, x1 - x0, y1 - y0, v);
        if (!crop)
            continue;
        l_int32 minv = 0, maxv = 0;
        pixGetExtremeValue(crop, 1, L_SELECT_MIN, NULL, NULL, NULL, &minv);
        pixGetExtremeValue(crop, 1, L_SELECT_MAX, NULL, NULL, NULL, &maxv);
        double bg = border_mean(crop);
        /* Ink is the extreme farthest from the background. */
        double contrast = bg - minv > maxv - bg ? bg - minv : maxv - bg;
        if (maxv - bg > bg - minv)
            pixInvert(crop, crop);
        if (contrast > best_contrast) {
            pixDestroy(&best);
            best = crop;
            best_contrast = contrast;
        } else {
            pixDestroy(&crop);
        }
    }
    if (!best)
        return NULL;
    float scale = (float)TARGET_HEIGHT / (float)(b->h > 0 ? b->h : 1);
    scale = scale < 1.0f ? 1.0f : scale > MAX_SCALE ? MAX_SCALE : scale;
    PIX *big = scale > 1.0f ? pixScaleGrayLI(best, scale, scale) : pixClone(best);
    pixDestroy(&best);
    if (!big)
        return NULL;
    /* A white margin helps Tesseract find the line. */
    PIX *framed = pixAddBorder(big, 12, 255);
    pixDestroy(&big);
    return framed;
}

int ocr_read(ocr_reader *r, int width, int height, int channels, const unsigned char *pixels,
             const ocr_box *box, ocr_text *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || !pixels || (channels != 1 && channels != 3)) {
        snprintf(err, errlen, "invalid image (%dx%d, %d channels)", width, height, channels);
        return -1;
    }
    out->box = *box;
    PIX *pix = prepare_crop(width, height, channels, pixels, box);
    if (!pix) {
        out->text = calloc(1, 1);
        if (!out->text) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    int rc = recognise(r, pix, PSM_SINGLE_LINE, &out->text, &out->confidence, err, errlen);
    pixDestroy(&pix);
    return rc;
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

int ocr_find_text(ocr_reader *r, int width, int height, int channels,
                  const unsigned char *pixels, ocr_text **out, size_t *n,
                  char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    ocr_box *boxes = NULL;
    size_t nb = 0;
    if (ocr_detect(width, height, channels, pixels, &boxes, &nb, err, errlen) != 0)
        return -1;
    if (nb == 0)
        return 0;
    ocr_text *texts = calloc(nb, sizeof *texts);
    if (!texts) {
        free(boxes);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nb; i++) {
        if (ocr_read(r, width, height, channels, pixels, &boxes[i], &texts[i], err, errlen) != 0) {
            ocr_texts_free(texts, i);
            free(boxes);
            return -1;
        }
    }
    free(boxes);
    *out = texts;
    *n = nb;
    return 0;
}

void ocr_texts_free(ocr_text *texts, size_t n)
{
    if (!texts)
        return;
    for (size_t i = 0; i < n; i++)
        free(texts[i].text);
    free(texts);
}
