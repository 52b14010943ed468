/* ocr: helpers shared by the detector and the reader; not part of the API. */
#ifndef OCR_OCR_INTERNAL_H
#define OCR_OCR_INTERNAL_H

#include <leptonica/allheaders.h>

#include "ocr/ocr.h"

enum { OCR_GREY_LUMA, OCR_GREY_CHANNEL0 };  /* CHANNEL0 + k: channel k of RGB */

/* An 8 bpp PIX of the frame: the usual grey (LUMA), or one channel of an RGB frame.
 * NULL when out of memory. */
PIX *ocr_pix_from_frame(int width, int height, int channels, const unsigned char *pixels,
                        int mode);

/* The detector's ink: a 1 bpp map of where the white (type L_TOPHAT_WHITE) or black
 * (L_TOPHAT_BLACK) top-hat of grey (w x h bytes, row after row) over a 15 x 15 square
 * reaches 64; the same as pixTophat then pixThresholdToBinary, only faster. NULL when out
 * of memory. */
PIX *ocr_ink_map(const unsigned char *grey, int w, int h, int type);

/* The bounding boxes of pix's (1 bpp) 8-connected components, as pixConnCompBB gives them
 * and in its order (by each component's first pixel in raster order), only faster. NULL
 * when out of memory or pix is not 1 bpp. */
BOXA *ocr_components(PIX *pix);

/* A w x h frame of ch channels turned a quarter, clockwise (way 0: pixel (x, y) goes to
 * column h - 1 - y of row x) or the other way (way 1: to column y of row w - 1 - x), as a
 * new h-wide, w-tall frame (malloc'd; NULL when out of memory). */
unsigned char *ocr_turn(int w, int h, int ch, const unsigned char *px, int way);
/* Box b of a w x h frame where it lies in that frame turned as ocr_turn turns it; the way
 * back from a turned frame is the other way, with its own width and height. */
ocr_box ocr_turn_box(const ocr_box *b, int w, int h, int way);

/* ocr_detect_views, and for each box the view it was found largest in (0: pixels, k:
 * f->extra[k - 1]) in *views (malloc'd, free() it; NULL when *n is 0). */
int ocr_detect_in_views(const ocr_frame *f, ocr_box **boxes, int **views, size_t *n, char *err,
                        size_t errlen);

/* A reader whose Tesseract starts on its first read (most frames hold no text, and
 * starting costs tens of milliseconds); a read then fails with ocr_reader_new's message
 * when it cannot start. NULL when out of memory. */
ocr_reader *ocr_reader_deferred(const char *datapath);

#endif
