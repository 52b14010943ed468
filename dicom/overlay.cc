// dicom/overlay.cc — overlay planes (60xx): list them, render a frame of one, clear bits.
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dicom/dcm_internal.h"

extern "C" int dcm_overlays(dcm_file *f, dcm_overlay out[DCM_MAX_OVERLAYS], int *n)
{
    DcmDataset *ds = f->ff.getDataset();
    *n = 0;
    for (Uint16 g = 0x6000; g <= 0x601E; g += 2) {
        DcmElement *el = NULL;
        if (ds->findAndGetElement(DcmTagKey(g, 0x3000), el).bad() || !el)
            continue;
        Uint16 rows = 0, cols = 0;
        Sint32 frames = 1;
        ds->findAndGetUint16(DcmTagKey(g, 0x0010), rows);
        ds->findAndGetUint16(DcmTagKey(g, 0x0011), cols);
        OFString nf;
        if (ds->findAndGetOFString(DcmTagKey(g, 0x0015), nf).good() && !nf.empty())
            frames = atoi(nf.c_str());
        out[(*n)++] = dcm_overlay{g, rows, cols, frames};
    }
    return DCM_OK;
}

// The overlay's bits: OB gives bytes, OW 16-bit words, both first pixel in the lowest bit;
// *bits how many the plane needs. DCM_EFORMAT when the plane is not one bit a pixel or its
// data is shorter than its size says.
struct plane {
    DcmElement *el = nullptr;
    Uint8 *bytes = nullptr;
    Uint16 *words = nullptr;
    size_t nbits = 0, have = 0;  // needed, and present in the data
    bool get(size_t i) const
    {
        return bytes ? bytes[i >> 3] >> (i & 7) & 1 : words[i >> 4] >> (i & 15) & 1;
    }
    void clear(size_t i)
    {
        if (bytes)
            bytes[i >> 3] &= (Uint8) ~(1u << (i & 7));
        else
            words[i >> 4] &= (Uint16) ~(1u << (i & 15));
    }
};

static int open_plane(dcm_file *f, const dcm_overlay *o, plane *p, char *err, size_t errlen)
{
    DcmDataset *ds = f->ff.getDataset();
    Uint16 alloc = 1;
    ds->findAndGetUint16(DcmTagKey(o->group, 0x0100), alloc);
    if (o->rows <= 0 || o->cols <= 0 || o->frames <= 0 || o->frames > 100000 || alloc != 1 ||
        ds->findAndGetElement(DcmTagKey(o->group, 0x3000), p->el).bad() || !p->el) {
        dcm_seterr(err, errlen, "%s: overlay %04X is not a plane of one bit a pixel",
                   f->path.c_str(), o->group);
        return DCM_EFORMAT;
    }
    p->nbits = (size_t)o->rows * (size_t)o->cols * (size_t)o->frames;
    unsigned long count = p->el->getLength();
    if (p->el->ident() == EVR_OW ? p->el->getUint16Array(p->words).bad() || !p->words
                                 : p->el->getUint8Array(p->bytes).bad() || !p->bytes) {
        dcm_seterr(err, errlen, "%s: overlay %04X: its data cannot be read", f->path.c_str(),
                   o->group);
        return DCM_EFORMAT;
    }
    p->have = (size_t)count * 8;
    if (p->have < p->nbits) {
        dcm_seterr(err, errlen, "%s: overlay %04X: %lu bytes of data for %dx%d in %d frames",
                   f->path.c_str(), o->group, count, o->rows, o->cols, o->frames);
        return DCM_EFORMAT;
    }
    return DCM_OK;
}

extern "C" int dcm_decode_overlay(dcm_file *f, const dcm_overlay *o, int frame, dcm_image *out,
                                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    plane p;
    int rc = open_plane(f, o, &p, err, errlen);
    if (rc != DCM_OK)
        return rc;
    if (frame < 0 || frame >= o->frames) {
        dcm_seterr(err, errlen, "%s: overlay %04X has no frame %d", f->path.c_str(), o->group,
                   frame);
        return DCM_EARG;
    }
    size_t n = (size_t)o->rows * o->cols, base = (size_t)frame * n;
    out->pixels = (unsigned char *)malloc(n);
    if (!out->pixels) {
        dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
        return DCM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        out->pixels[i] = p.get(base + i) ? 255 : 0;
    out->width = o->cols;
    out->height = o->rows;
    out->channels = 1;
    return DCM_OK;
}

extern "C" int dcm_clear_overlay(dcm_file *f, const dcm_overlay *o, const dcm_rect *rects,
                                 size_t n, char *err, size_t errlen)
{
    plane p;
    int rc = open_plane(f, o, &p, err, errlen);
    if (rc != DCM_OK)
        return rc;
    size_t per = (size_t)o->rows * o->cols;
    for (size_t k = 0; k < n; k++) {
        const dcm_rect &r = rects[k];
        int x0 = std::max(r.x, 0), y0 = std::max(r.y, 0);
        int x1 = std::min(r.x + r.w, o->cols), y1 = std::min(r.y + r.h, o->rows);
        for (int fr = 0; fr < o->frames; fr++) {
            if (r.frame >= 0 && r.frame != fr)
                continue;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    p.clear((size_t)fr * per + (size_t)y * o->cols + x);
        }
    }
    // The array is DCMTK's own: it was changed in place, and is written as it now is.
    return DCM_OK;
}
