// dicom/overlay.cc — overlay planes (60xx): list them, render a frame of one, clear bits.
// A plane has its own Overlay Data (60xx,3000), or (retired, still in old files) lives in a
// bit of the pixel data that the image does not use.
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dicom/dcm_internal.h"

// The bit of the pixel data an embedded plane of group g uses, or -1 when g has no such
// plane: Overlay Bits Allocated equal to the image's, a bit position outside the stored
// bits, one sample a pixel, uncompressed (compression forbids embedded planes).
static int embedded_bit(dcm_file *f, Uint16 g)
{
    DcmDataset *ds = f->ff.getDataset();
    Uint16 oalloc = 0, opos = 0, alloc = 0, stored = 0, high = 0, spp = 1;
    if (ds->findAndGetUint16(DcmTagKey(g, 0x0100), oalloc).bad() ||
        ds->findAndGetUint16(DcmTagKey(g, 0x0102), opos).bad() ||
        ds->findAndGetUint16(DCM_BitsAllocated, alloc).bad() ||
        ds->findAndGetUint16(DCM_BitsStored, stored).bad() ||
        ds->findAndGetUint16(DCM_HighBit, high).bad() || !ds->tagExists(DCM_PixelData) ||
        DcmXfer(f->xfer).isEncapsulated())
        return -1;
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    if (oalloc != alloc || (alloc != 8 && alloc != 16) || spp != 1 || opos >= alloc ||
        stored == 0 || high >= alloc || (opos <= high && opos + stored > high))
        return -1;
    return opos;
}

extern "C" int dcm_overlays(dcm_file *f, dcm_overlay out[DCM_MAX_OVERLAYS], int *n)
{
    DcmDataset *ds = f->ff.getDataset();
    *n = 0;
    // Most datasets have no overlay group: one pass over the top level says so, where
    // looking each group up would scan it thirty times (every file goes through here).
    bool any = false;
    for (DcmObject *o = ds->nextInContainer(NULL); o && !any; o = ds->nextInContainer(o))
        any = o->getGTag() >= 0x6000 && o->getGTag() <= 0x601E && !(o->getGTag() & 1);
    if (!any)
        return DCM_OK;
    for (Uint16 g = 0x6000; g <= 0x601E; g += 2) {
        bool own = ds->tagExists(DcmTagKey(g, 0x3000));
        int bit = own ? -1 : embedded_bit(f, g);
        if (!own && bit < 0)
            continue;
        Uint16 rows = 0, cols = 0;
        Sint32 frames = 1;
        ds->findAndGetUint16(DcmTagKey(g, 0x0010), rows);
        ds->findAndGetUint16(DcmTagKey(g, 0x0011), cols);
        OFString nf;
        if (ds->findAndGetOFString(DcmTagKey(g, 0x0015), nf).good() && !nf.empty())
            frames = atoi(nf.c_str());
        out[(*n)++] = dcm_overlay{g, rows, cols, frames, bit};
    }
    return DCM_OK;
}

// The plane's bits: its own data (OB bytes or OW words, first pixel in the lowest bit), or
// bit `bit` of every pixel value (8 or 16 bits a pixel).
struct plane {
    Uint8 *bytes = nullptr;
    Uint16 *words = nullptr;
    int bit = -1;
    bool get(size_t i) const
    {
        if (bit >= 0)
            return (bytes ? bytes[i] : words[i]) >> bit & 1;
        return bytes ? bytes[i >> 3] >> (i & 7) & 1 : words[i >> 4] >> (i & 15) & 1;
    }
    void clear(size_t i)
    {
        if (bit >= 0 && bytes)
            bytes[i] &= (Uint8) ~(1u << bit);
        else if (bit >= 0)
            words[i] &= (Uint16) ~(1u << bit);
        else if (bytes)
            bytes[i >> 3] &= (Uint8) ~(1u << (i & 7));
        else
            words[i >> 4] &= (Uint16) ~(1u << (i & 15));
    }
};

// DCM_EFORMAT when the plane is not one bit a pixel of its own data, or its data (the
// pixel data, for an embedded plane) is shorter than its size says.
static int open_plane(dcm_file *f, const dcm_overlay *o, plane *p, char *err, size_t errlen)
{
    DcmDataset *ds = f->ff.getDataset();
    Uint16 alloc = 1;
    ds->findAndGetUint16(DcmTagKey(o->group, 0x0100), alloc);
    DcmElement *el = NULL;
    DcmTagKey key = o->bit >= 0 ? DCM_PixelData : DcmTagKey(o->group, 0x3000);
    if (o->rows <= 0 || o->cols <= 0 || o->frames <= 0 || o->frames > 100000 ||
        (o->bit < 0 && alloc != 1) || ds->findAndGetElement(key, el).bad() || !el) {
        dcm_seterr(err, errlen, "%s: overlay %04X is not a plane of one bit a pixel",
                   f->path.c_str(), o->group);
        return DCM_EFORMAT;
    }
    p->bit = o->bit;
    size_t nbits = (size_t)o->rows * (size_t)o->cols * (size_t)o->frames;
    unsigned long count = el->getLength();
    // Pixel Data and Overlay Data have DCMTK types of their own; their VR says OB or OW.
    bool words = el->getVR() == EVR_OW;
    if (words ? el->getUint16Array(p->words).bad() || !p->words
              : el->getUint8Array(p->bytes).bad() || !p->bytes) {
        dcm_seterr(err, errlen, "%s: overlay %04X: its data cannot be read", f->path.c_str(),
                   o->group);
        return DCM_EFORMAT;
    }
    // An embedded plane's pixels are the pixel data's samples: OW for 16 bits, OB for 8.
    if (o->bit >= 0 && (alloc == 16) != (p->words != nullptr)) {
        dcm_seterr(err, errlen, "%s: overlay %04X: %u-bit pixel data in %s", f->path.c_str(),
                   o->group, alloc, p->words ? "OW" : "OB");
        return DCM_EFORMAT;
    }
    size_t have = o->bit >= 0 ? (size_t)count / (alloc / 8) : (size_t)count * 8;
    if (have < nbits) {
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
