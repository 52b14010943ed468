/* deid/pixsig: device pixel-region signatures. Known vendors burn annotations into fixed
 * places of certain images; data/pixel_signatures.tsv lists those places by the attribute
 * values that identify the device, and is compiled into tables at build time. This module
 * matches a dataset against them through a lookup callback, so it does not depend on dicom/,
 * and parses extra rectangles a site policy may add. It allocates nothing. */
#ifndef DEID_PIXSIG_H
#define DEID_PIXSIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct deid_pixsig_rect { int x, y, w, h; } deid_pixsig_rect;

/* Returns the value of attribute (group,element) of the dataset as UTF-8 (multiple values
 * joined with '\'), or NULL when absent. The string must stay valid until the next call. */
typedef const char *(*deid_pixsig_lookup)(uint16_t group, uint16_t element, void *ud);

/* Matches every signature. Returns the name of the first that matches (static storage), or
 * NULL when none does. The rectangles of ALL matching signatures are stored in rects (up to
 * max of them); *n receives how many there are in total, which may exceed max. Rectangles
 * are in pixels and may reach past the image: callers clip. Thread-safe. */
const char *deid_pixsig_match(deid_pixsig_lookup lookup, void *ud,
                              deid_pixsig_rect *rects, size_t max, size_t *n);

/* Number of signatures compiled in. */
size_t deid_pixsig_count(void);

/* Parses "x,y,w,h x,y,w,h ..." (spaces, tabs or ';' between rectangles; w and h > 0) and
 * appends the rectangles to rects[*n..max-1], advancing *n. Returns 0, or -1 with a message
 * on a malformed rectangle or when more than max would be needed (nothing appended then). */
int deid_pixsig_parse_rects(const char *text, deid_pixsig_rect *rects, size_t max,
                            size_t *n, char *err, size_t errlen);

#endif
