/* ocr: finding burned-in text in decoded frames. Two stages: a cheap detector (Leptonica
 * morphology) that returns text-like boxes, and a reader (Tesseract) that recognises the
 * text in one box. Frames are 8-bit, row-major, channels interleaved: 1 (grey) or 3 (RGB),
 * as dicom/ decodes them; this module does not depend on dicom/.
 * Thread safety: ocr_detect is reentrant; an ocr_reader must be used by one thread at a
 * time (make one per worker thread). */
#ifndef OCR_OCR_H
#define OCR_OCR_H

#include <stddef.h>

typedef struct ocr_box {
    int x, y, w, h;  /* pixels, inside the frame */
    float score;     /* detector confidence, 0..1 */
    int vertical;    /* 1: a line running down the frame (text turned a quarter) */
} ocr_box;

typedef struct ocr_text {
    ocr_box box;     /* where the text is */
    char *text;      /* UTF-8, trimmed, possibly empty; owned by the array (ocr_texts_free) */
    int confidence;  /* Tesseract mean word confidence, 0..100 */
    int view;        /* where it was read: 0 the frame, k the extra view k - 1
                        (ocr_find_text_views) */
} ocr_text;

typedef struct ocr_reader ocr_reader;

/* Finds text-like regions: lines of light-on-dark or dark-on-light characters, grey or
 * coloured, about 5 to 44 px tall, and taller ones (titles, forms) on a plain ground;
 * upright, or turned a quarter (ocr_box.vertical).
 * *boxes is malloc'd (free() it; NULL when *n is 0), sorted top to bottom, left to right.
 * Returns 0, or -1 with a message. */
int ocr_detect(int width, int height, int channels, const unsigned char *pixels,
               ocr_box **boxes, size_t *n, char *err, size_t errlen);

/* Creates a reader: Tesseract with English. datapath is the folder holding tessdata (or the
 * tessdata folder itself); NULL uses the installed default (TESSDATA_PREFIX). Free with
 * ocr_reader_free. Returns NULL with a message on failure. */
ocr_reader *ocr_reader_new(const char *datapath, char *err, size_t errlen);
void ocr_reader_free(ocr_reader *r);

/* Reads the text in one box of the frame (padded, normalised to dark-on-light, upscaled)
 * as a single line, prepared one way, and again the other way when Tesseract's confidence
 * in the first reading is low; distinct readings are joined with " ; " so that a search
 * over the text gets every chance (deidtk-ocr(7)). out->text is malloc'd: free it,
 * or the array with ocr_texts_free. */
int ocr_read(ocr_reader *r, int width, int height, int channels, const unsigned char *pixels,
             const ocr_box *box, ocr_text *out, char *err, size_t errlen);

/* Tesseract on the whole frame (automatic page segmentation), for comparison only: slow on
 * real frames and poor on small text. *text is malloc'd (caller frees). */
int ocr_read_full_frame(ocr_reader *r, int width, int height, int channels,
                        const unsigned char *pixels, char **text, int *confidence,
                        char *err, size_t errlen);

/* ocr_detect, then ocr_read on every box. Boxes in which nothing was read are kept (with
 * empty text): text the reader cannot read is still burned-in text. *out is malloc'd: free
 * with ocr_texts_free(*out, *n). */
int ocr_find_text(ocr_reader *r, int width, int height, int channels,
                  const unsigned char *pixels, ocr_text **out, size_t *n,
                  char *err, size_t errlen);

/* A frame as the search sees it. It can be seen several ways: the rendering a viewer shows
 * (pixels: grey or RGB) and grey renderings of the same frame that show what that one hides
 * (extra[0..nextra), NULL ones skipped), such as values a display window clips. A mosaic
 * (the slices of a volume side by side) names the size of its tiles: each is searched as an
 * image of its own, as a row of slices on a plain ground reads as a line of letters. */
typedef struct ocr_frame {
    int width, height, channels;
    const unsigned char *pixels;
    const unsigned char *const *extra;
    int nextra;
    int tile_w, tile_h;  /* 0: one image */
} ocr_frame;

/* These search every view of f: boxes that overlap across views become one box, their
 * union, which ocr_find_text_views reads in the view where it was found largest.
 * Otherwise as ocr_detect and ocr_find_text. */
int ocr_detect_views(const ocr_frame *f, ocr_box **boxes, size_t *n, char *err, size_t errlen);
int ocr_find_text_views(ocr_reader *r, const ocr_frame *f, ocr_text **out, size_t *n, char *err,
                        size_t errlen);

/* Frees the texts of an array and the array itself. */
void ocr_texts_free(ocr_text *texts, size_t n);

/* Writes a PNG of the frame scaled to fit max_side x max_side (never enlarged), with each box
 * outlined in red just outside it, for reports. Written atomically (temporary name, then
 * rename). Returns 0, or -1 with a message. */
int ocr_thumbnail(int width, int height, int channels, const unsigned char *pixels,
                  const ocr_box *boxes, size_t n, int max_side, const char *png_path,
                  char *err, size_t errlen);

/* The calling thread's reader, created on first use (datapath as ocr_reader_new) and
 * freed when the thread exits, or by ocr_thread_reader_release() (the main thread must
 * call it before exit). Tesseract itself starts on the reader's first read, so frames
 * without text never pay for it; when it cannot start, that read fails with
 * ocr_reader_new's message. NULL with a message only when out of memory. */
ocr_reader *ocr_thread_reader(const char *datapath, char *err, size_t errlen);
void ocr_thread_reader_release(void);

/* Silences Leptonica's messages on stderr (only the command line talks to the terminal).
 * Call once at start-up; idempotent. */
void ocr_global_init(void);

#endif
