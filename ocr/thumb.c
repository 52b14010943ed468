/* ocr/thumb.c — a small PNG of a frame with its text boxes outlined, for reports. */
#include "config.h"

#include "ocr/ocr.h"

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <leptonica/allheaders.h>

static atomic_uint thumb_serial;

/* The frame as 32 bpp RGB. */
static PIX *frame_rgb(int width, int height, int channels, const unsigned char *pixels)
{
    PIX *pix = pixCreate(width, height, 32);
    if (!pix)
        return NULL;
    l_uint32 *data = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = 0; y < height; y++) {
        const unsigned char *src = pixels + (size_t)y * width * channels;
        l_uint32 *line = data + (size_t)y * wpl;
        for (int x = 0; x < width; x++) {
            const unsigned char *p = src + (size_t)x * channels;
            l_uint32 v;
            composeRGBPixel(p[0], p[channels == 3 ? 1 : 0], p[channels == 3 ? 2 : 0], &v);
            line[x] = v;
        }
    }
    return pix;
}

int ocr_thumbnail(int width, int height, int channels, const unsigned char *pixels,
                  const ocr_box *boxes, size_t n, int max_side, const char *png_path,
                  char *err, size_t errlen)
{
    if (width <= 0 || height <= 0 || !pixels || (channels != 1 && channels != 3) ||
        max_side < 8 || !png_path) {
        snprintf(err, errlen, "invalid thumbnail request (%dx%d, %d channels, side %d)",
                 width, height, channels, max_side);
        return -1;
    }
    int side = width > height ? width : height;
    float scale = side > max_side ? (float)max_side / (float)side : 1.0f;
    PIX *full = frame_rgb(width, height, channels, pixels);
    PIX *small = full && scale < 1.0f ? pixScaleAreaMap(full, scale, scale)
                 : full ? pixClone(full) : NULL;
    pixDestroy(&full);
    if (!small) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int sw = pixGetWidth(small), sh = pixGetHeight(small);
    for (size_t i = 0; i < n; i++) {
        /* Outline just outside the box so the text stays visible; at least 3x3. */
        int x0 = (int)(boxes[i].x * scale) - 1, y0 = (int)(boxes[i].y * scale) - 1;
        int x1 = (int)((boxes[i].x + boxes[i].w) * scale + 0.999f);
        int y1 = (int)((boxes[i].y + boxes[i].h) * scale + 0.999f);
        x0 = x0 < 0 ? 0 : x0;
        y0 = y0 < 0 ? 0 : y0;
        x1 = x1 >= sw ? sw - 1 : x1 < x0 + 2 ? x0 + 2 : x1;
        y1 = y1 >= sh ? sh - 1 : y1 < y0 + 2 ? y0 + 2 : y1;
        BOX *b = boxCreate(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
        if (b)
            pixRenderBoxArb(small, b, 1, 255, 0, 0);
        boxDestroy(&b);
    }
    char tmp[4096];
    int len = snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", png_path, (long)getpid(),
                       atomic_fetch_add(&thumb_serial, 1u));
    int rc = 0;
    if (len < 0 || (size_t)len >= sizeof tmp) {
        snprintf(err, errlen, "thumbnail path too long");
        rc = -1;
    } else if (pixWrite(tmp, small, IFF_PNG) != 0) {
        snprintf(err, errlen, "cannot write thumbnail %s", png_path);
        remove(tmp);
        rc = -1;
    } else if (rename(tmp, png_path) != 0) {
        snprintf(err, errlen, "cannot rename thumbnail into %s", png_path);
        remove(tmp);
        rc = -1;
    }
    pixDestroy(&small);
    return rc;
}
