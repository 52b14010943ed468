/* deid/pixels.h — Clean Pixel Data: blanks the regions where burned-in text is, from the
 * device signatures (data/pixel_signatures.tsv), the site policy's "pixel_regions", and/or
 * the boxes the OCR finds in every frame. */
#ifndef DEIDTK_PIXELS_H
#define DEIDTK_PIXELS_H

#include <stddef.h>
#include "deid/engine.h"

/* Cleans f's frames as e->clean_pixels asks. Sets r->pixel_regions to the number of
 * rectangles blanked and r->pixels_cleaned to 1 when every frame went through cleaning,
 * then Burned In Annotation is set to NO. A file without pixel data is left alone.
 * Returns 0, or non-zero with err naming the file (e.g. JPEG 2000 pixels cannot be
 * rewritten, or OCR cannot start): the file must not be released then. */
int deid_clean_pixels(const deid_engine *e, dcm_file *f, deid_result *r, char *err,
                      size_t errlen);

/* Clean Graphics for overlay planes: blanks in each (every frame of it) the boxes the OCR
 * detector finds, so that text drawn in an overlay goes and its other graphics stay. Adds
 * to r->overlay_regions. Returns 0, or non-zero with err naming the file (an overlay that is
 * not a plane of one bit a pixel cannot be cleaned: the file must not be released). */
int deid_clean_overlays(dcm_file *f, deid_result *r, char *err, size_t errlen);

/* The planes embedded in the pixel data's unused bits that the policy removes (the Basic
 * Profile does) are cleared whole: removing their attributes would leave their bits, and
 * any text drawn in them, in the pixel data. Adds one to r->overlay_regions a plane. Call
 * before the overlay attributes are removed. */
int deid_clear_embedded_overlays(const deid_policy *p, dcm_file *f, deid_result *r, char *err,
                                 size_t errlen);

/* The rectangles of the policy's "pixel_regions" (an array of "x,y,w,h x,y,w,h" strings)
 * appended to rects[*n..max); returns 0, or -1 with a message for a malformed value or
 * more rectangles than fit. */
int deid_policy_rects(const deid_policy *p, dcm_rect *rects, size_t max, size_t *n,
                      char *err, size_t errlen);

#endif
