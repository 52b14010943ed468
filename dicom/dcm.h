/* dicom/dcm.h — the C API over DCMTK, the only door to DICOM in deidtk.
 *
 * Owns: opening files with clear errors, walking and editing every element (sequence
 * items and private blocks included), values as UTF-8, atomic saving, decoding frames to
 * 8-bit grey or RGB, and blanking pixel rectangles. No DCMTK type or C++ exception
 * crosses this header. Every function that can fail returns DCM_OK or an error code and
 * writes a one-line message naming the file into the caller's err buffer.
 */
#ifndef DEIDTK_DCM_H
#define DEIDTK_DCM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dcm_status {
    DCM_OK = 0,
    DCM_EIO,          /* cannot read or write the file */
    DCM_EFORMAT,      /* not DICOM, truncated, absurd lengths, too deep */
    DCM_ENOTFOUND,    /* no element at that path */
    DCM_EUNSUPPORTED, /* e.g. a transfer syntax nothing here can decode */
    DCM_EARG,         /* bad path or argument */
    DCM_ENOMEM
};

/* Deepest sequence nesting accepted on open; deeper files are rejected as malformed. */
#define DCM_MAX_DEPTH 64

typedef struct dcm_file dcm_file;

/* Opens a Part 10 file, or a bare dataset without meta header, in any transfer syntax
 * DCMTK reads. On success *out is owned by the caller: free it with dcm_close(). */
int dcm_open(const char *path, dcm_file **out, char *err, size_t errlen);
void dcm_close(dcm_file *f);
/* dcm_open on a file's bytes already in memory (path names it in messages and dcm_path).
 * Large values (pixel data) stay in the bytes until used, as dcm_open leaves them in the
 * file: the caller keeps the bytes, unchanged, until dcm_close. */
int dcm_open_bytes(const char *path, const void *data, size_t len, dcm_file **out, char *err,
                   size_t errlen);

/* Registers DCMTK's JPEG, JPEG-LS and RLE codecs; idempotent and thread-safe. dcm_open
 * calls it, so callers need it only to be explicit. */
void dcm_global_init(void);

const char *dcm_path(const dcm_file *f);
/* Transfer syntax UID the file was read in (never NULL). */
const char *dcm_transfer_syntax(const dcm_file *f);

/* One element as handed to a walker or editor. Everything points into storage owned by
 * the walk and is valid only during the callback. */
typedef struct dcm_elem {
    const char *path;       /* "(0040,0275)[0].(0032,1060)"; meta elements start "meta." */
    uint16_t group, element;
    char vr[3];             /* "PN", "SQ", ... ("UN" for unknown) */
    const char *creator;    /* private creator of a private element's block, else NULL */
    const char *value;      /* text VRs: the value as UTF-8 (multiple values joined by '\');
                               numbers and tags as text; NULL for SQ and binary VRs */
    const unsigned char *bytes; /* binary VRs (OB/OW/UN/...) other than pixel, overlay,
                               curve and waveform data: the raw bytes; else NULL */
    size_t length;          /* stored value length in bytes */
    int depth;              /* 0 at the top level, n inside n sequences */
    int is_meta;            /* file meta information element */
    int is_bulk;            /* pixel, overlay, curve or waveform data */
    int nitems;             /* for SQ: number of items */
    /* Tags of the enclosing sequences, outermost first (depth entries). */
    const uint32_t *parents;
    /* Its place in a listing (dcm_list_walk, dcm_list_edit: 0 to dcm_list_count - 1), by
     * which a caller keeps what one pass learns of an element for the next; 0 in dcm_walk. */
    size_t index;
} dcm_elem;

/* Walks every element depth-first: meta header first, then the dataset; a sequence is
 * visited before its items' elements. Returning non-zero from fn stops the walk and
 * dcm_walk returns that value. */
typedef int (*dcm_walk_fn)(const dcm_elem *e, void *ud);
int dcm_walk(dcm_file *f, dcm_walk_fn fn, void *ud, char *err, size_t errlen);

/* What an editor decides for one element of the dataset (not the meta header). */
typedef enum {
    DCM_KEEP = 0,   /* leave it; for SQ, also visit its items */
    DCM_KEEP_WHOLE, /* leave it and, for SQ, do not visit its items */
    DCM_REMOVE,
    DCM_EMPTY,      /* zero length value (SQ: no items) */
    DCM_REPLACE     /* set value to verdict.value (UTF-8, '\'-separated for multi) */
} dcm_verdict_kind;

typedef struct dcm_verdict {
    dcm_verdict_kind kind;
    char *value;    /* DCM_REPLACE: malloc'd by the editor, freed by dcm_list_edit */
} dcm_verdict;

/* A listing of the dataset's elements (not the meta header), taken once so that several
 * passes over them do not extract every value and path again: any number of
 * dcm_list_walk, then at most one dcm_list_edit. The file must not change between
 * dcm_list_new and dcm_list_edit other than through dcm_list_edit, and must outlive the
 * listing. On success *out is owned by the caller: free it with dcm_list_free(). */
typedef struct dcm_list dcm_list;
int dcm_list_new(dcm_file *f, dcm_list **out, char *err, size_t errlen);
void dcm_list_free(dcm_list *l);
/* How many elements l lists. */
size_t dcm_list_count(const dcm_list *l);

/* Hands fn the listed elements in dcm_walk's order, as they were when listed. Returning
 * non-zero from fn stops the pass and dcm_list_walk returns that value. */
int dcm_list_walk(dcm_list *l, dcm_walk_fn fn, void *ud, char *err, size_t errlen);

/* Hands fn the listed elements in the same order and applies the verdict it returns (it
 * starts as DCM_KEEP); the elements below a sequence that is not kept for visiting are not
 * handed out, as they would not be by a live walk. Edits of values of private blocks are
 * allowed; removing a private creator element does not remove its block by itself. A
 * non-zero return from fn aborts (the dataset may be partly edited) and is returned. The
 * listing is spent afterwards: further passes over it fail with DCM_EARG. */
typedef int (*dcm_edit_fn)(const dcm_elem *e, dcm_verdict *v, void *ud);
int dcm_list_edit(dcm_list *l, dcm_edit_fn fn, void *ud, char *err, size_t errlen);

/* Get/set at a path like "(0010,0010)" or "(0008,1115)[0].(0008,1155)". dcm_get gives a
 * malloc'd UTF-8 string the caller frees; DCM_ENOTFOUND when absent. dcm_set creates the
 * element (and missing sequence items on the way) if needed. */
int dcm_get(dcm_file *f, const char *path, char **value, char *err, size_t errlen);
int dcm_set(dcm_file *f, const char *path, const char *value, char *err, size_t errlen);
int dcm_remove(dcm_file *f, const char *path, char *err, size_t errlen);
int dcm_empty(dcm_file *f, const char *path, char *err, size_t errlen);

/* Appends an item to a (possibly new) top-level sequence at seq_path and returns its
 * index in *index, for building e.g. De-identification Method Code Sequence. The item
 * gets n elements at once, tags[i] ((group << 16) | element) set to the UTF-8 values[i],
 * as dcm_set would set them; the arrays stay the caller's. */
int dcm_add_item(dcm_file *f, const char *seq_path, const uint32_t *tags,
                 const char *const *values, size_t n, int *index, char *err, size_t errlen);

/* Saves atomically (temporary file in the same folder, fsync, rename) with a fresh meta
 * header, in the transfer syntax the file was read in when it can be kept, otherwise
 * explicit VR little endian. Pixel data that was not changed is written byte-identical. */
int dcm_save(dcm_file *f, const char *path, char *err, size_t errlen);
/* dcm_save that also hands back the bytes it wrote, so they need not be read back: *bytes
 * (malloc'd, the caller frees) and *len, or NULL and 0 when there were more than max_bytes
 * (then only the file has them). */
int dcm_save_bytes(dcm_file *f, const char *path, size_t max_bytes, unsigned char **bytes,
                   size_t *len, char *err, size_t errlen);

/* Frames. */
int dcm_frame_count(dcm_file *f, int *count, char *err, size_t errlen);

typedef struct dcm_image {
    int width, height;
    int channels;           /* 1 grey, 3 RGB */
    unsigned char *pixels;  /* row-major, channels interleaved; free with dcm_image_free */
    /* For a grey frame whose window shows several of its values as one white (it clips
     * them): the upper half of those values stretched over 1..255, the frame's extreme at
     * 255 and everything else 0, one byte a pixel; NULL when the window clips nothing on
     * its white side. Burned-in text is drawn at or near the extreme so that it shows;
     * where it crosses anatomy that the window already shows white, only this view shows
     * it. The lower half is left out: dense bone there looks like strokes. */
    unsigned char *clipped;
    /* A mosaic (Siemens MOSAIC: the slices of a volume side by side in one frame): the size
     * of its tiles, each an image of its own; 0 when the frame is one image. */
    int tile_w, tile_h;
} dcm_image;

/* Decodes frame n (0-based) to 8 bits: grey with the file's VOI window (else min-max),
 * MONOCHROME1 inverted so text is as it appears on screen, and the view of what the window
 * clips; colour as RGB. JPEG 2000 is decoded with OpenJPEG. DCM_EUNSUPPORTED when nothing
 * here can decode it. */
int dcm_decode_frame(dcm_file *f, int n, dcm_image *out, char *err, size_t errlen);
void dcm_image_free(dcm_image *img);

typedef struct dcm_rect { int frame, x, y, w, h; } dcm_rect;  /* frame -1: every frame */

/* Fills the rectangles (clipped to the image) with the frame's background value in the
 * stored pixel domain. A compressed file is decompressed first and will be saved
 * explicit VR little endian. */
int dcm_blank_rects(dcm_file *f, const dcm_rect *rects, size_t n, char *err, size_t errlen);

/* An overlay plane: its group (0x6000 to 0x601E), its size as its attributes say (frames:
 * Number of Frames in Overlay, else 1), and where its bits are: its own Overlay Data
 * (60xx,3000; bit -1), or (retired, in old files) bit `bit` of every pixel value of
 * uncompressed pixel data, a bit the image does not use. */
typedef struct dcm_overlay { uint16_t group; int rows, cols, frames, bit; } dcm_overlay;
#define DCM_MAX_OVERLAYS 16

/* The overlay planes of the dataset into out[0..*n). */
int dcm_overlays(dcm_file *f, dcm_overlay out[DCM_MAX_OVERLAYS], int *n);

/* Frame `frame` of an overlay as an 8-bit grey image (width cols, height rows): 255 where
 * its bit is set, 0 elsewhere. DCM_EFORMAT when the plane is not one bit a pixel or its data
 * is shorter than its size. */
int dcm_decode_overlay(dcm_file *f, const dcm_overlay *o, int frame, dcm_image *out,
                       char *err, size_t errlen);

/* Clears an overlay's bits inside the rectangles (clipped to the plane; rect.frame -1:
 * every frame of it), in place. */
int dcm_clear_overlay(dcm_file *f, const dcm_overlay *o, const dcm_rect *rects, size_t n,
                      char *err, size_t errlen);

/* The DICOM keyword of a public tag from DCMTK's dictionary ("PatientName"), "" when
 * unknown. Static storage; thread-safe. */
const char *dcm_keyword(uint16_t group, uint16_t element);

/* "(gggg,eeee)" for a tag into buf (at least 12 bytes). */
void dcm_tag_str(uint16_t group, uint16_t element, char *buf);

#ifdef __cplusplus
}
#endif
#endif
