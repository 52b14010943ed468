// dicom/pixels.cc — frames: count, decode to 8-bit grey/RGB, blank rectangles.
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <vector>

#include "dicom/dcm_internal.h"

static bool is_j2k(E_TransferSyntax x)
{
    return x == EXS_JPEG2000LosslessOnly || x == EXS_JPEG2000 ||
           x == EXS_JPEG2000MulticomponentLosslessOnly || x == EXS_JPEG2000Multicomponent;
}

// DCMTK 3.6.7's RLE decoder trusts the segment offsets of each fragment's header and reads
// wherever they point: check them before it sees the data.
static bool rle_headers_ok(dcm_file *f)
{
    DcmElement *el = NULL;
    DcmPixelSequence *seq = NULL;
    if (f->ff.getDataset()->findAndGetElement(DCM_PixelData, el).bad() || !el ||
        static_cast<DcmPixelData *>(el)->getEncapsulatedRepresentation(f->xfer, NULL, seq).bad() ||
        !seq)
        return false;
    for (unsigned long i = 1; i < seq->card(); i++) {
        DcmPixelItem *it = NULL;
        Uint8 *p = NULL;
        if (seq->getItem(it, i).bad() || !it)
            return false;
        Uint32 len = it->getLength();
        if (len < 64 || it->getUint8Array(p).bad() || !p)
            return false;
        auto word = [&](int k) {
            return (Uint32)p[4 * k] | (Uint32)p[4 * k + 1] << 8 | (Uint32)p[4 * k + 2] << 16 |
                   (Uint32)p[4 * k + 3] << 24;
        };
        Uint32 nseg = word(0);
        if (nseg < 1 || nseg > 15 || word(1) != 64)
            return false;
        for (Uint32 k = 1; k <= nseg; k++)
            if (word((int)k) >= len || (k > 1 && word((int)k) <= word((int)k - 1)))
                return false;
    }
    return true;
}

extern "C" int dcm_frame_count(dcm_file *f, int *count, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    DcmDataset *ds = f->ff.getDataset();
    *count = 0;
    if (!ds->tagExists(DCM_PixelData))
        return DCM_OK;
    OFString nf;
    long n = 1;
    if (ds->findAndGetOFString(DCM_NumberOfFrames, nf).good() && !nf.empty())
        n = strtol(nf.c_str(), NULL, 10);
    *count = n > 0 ? (int)n : 1;
    return DCM_OK;
}

extern "C" void dcm_image_free(dcm_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = img->channels = 0;
}

extern "C" int dcm_decode_frame(dcm_file *f, int n, dcm_image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int frames = 0;
    dcm_frame_count(f, &frames, err, errlen);
    if (frames == 0) {
        dcm_seterr(err, errlen, "%s: no pixel data", f->path.c_str());
        return DCM_ENOTFOUND;
    }
    if (n < 0 || n >= frames) {
        dcm_seterr(err, errlen, "%s: frame %d out of range (%d frames)", f->path.c_str(), n,
                   frames);
        return DCM_EARG;
    }
    if (is_j2k(f->xfer) && !f->pixels_changed)
        return dcm_j2k_decode_frame(f, n, out, err, errlen);
    if (f->xfer == EXS_RLELossless && !f->pixels_changed && !rle_headers_ok(f)) {
        dcm_seterr(err, errlen, "%s: malformed RLE data (segment offsets outside the fragment)",
                   f->path.c_str());
        return DCM_EFORMAT;
    }
    try {
        DicomImage img(f->ff.getDataset(), f->xfer, CIF_UsePartialAccessToPixelData,
                       (unsigned long)n, 1);
        if (img.getStatus() != EIS_Normal) {
            dcm_seterr(err, errlen, "%s: cannot decode frame %d (%s, %s)", f->path.c_str(), n,
                       DicomImage::getString(img.getStatus()), f->xfer_uid.c_str());
            return DCM_EUNSUPPORTED;
        }
        bool mono = img.isMonochrome();
        if (mono) {
            if (img.getWindowCount() > 0)
                img.setWindow(0);
            else
                img.setMinMaxWindow(0);
        }
        const void *data = img.getOutputData(8, 0, 0);
        if (!data) {
            dcm_seterr(err, errlen, "%s: cannot render frame %d", f->path.c_str(), n);
            return DCM_EUNSUPPORTED;
        }
        out->width = (int)img.getWidth();
        out->height = (int)img.getHeight();
        out->channels = mono ? 1 : 3;
        size_t size = (size_t)out->width * out->height * out->channels;
        if (img.getOutputDataSize(8) < size) {
            dcm_seterr(err, errlen, "%s: frame %d is shorter than its size", f->path.c_str(), n);
            return DCM_EFORMAT;
        }
        out->pixels = (unsigned char *)malloc(size);
        if (!out->pixels) {
            dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
            return DCM_ENOMEM;
        }
        memcpy(out->pixels, data, size);
        return DCM_OK;
    } catch (...) {
        dcm_seterr(err, errlen, "%s: cannot decode frame %d", f->path.c_str(), n);
        return DCM_EUNSUPPORTED;
    }
}

// The background a rectangle of text sits on: the most frequent pixel (all samples
// together) on a ring just outside it, so the fill blends into the bar or corner the text
// was burned into.
template <typename T>
static void ring_mode(const T *fp, int rows, int cols, int spp, bool planar, int x0, int y0,
                      int x1, int y1, T *bg)
{
    std::map<std::vector<T>, unsigned> counts;
    std::vector<T> px(spp);
    auto sample = [&](int y, int x) {
        for (int s = 0; s < spp; s++)
            px[s] = planar ? fp[(size_t)s * rows * cols + (size_t)y * cols + x]
                           : fp[((size_t)y * cols + x) * spp + s];
        counts[px]++;
    };
    int rx0 = std::max(0, x0 - 2), ry0 = std::max(0, y0 - 2);
    int rx1 = std::min(cols, x1 + 2), ry1 = std::min(rows, y1 + 2);
    for (int y = ry0; y < ry1; y++)
        for (int x = rx0; x < rx1; x++)
            if (y < y0 || y >= y1 || x < x0 || x >= x1)
                sample(y, x);
    if (counts.empty())  // the rectangle covers the whole frame
        for (int s = 0; s < spp; s++)
            bg[s] = 0;
    unsigned best = 0;
    for (auto &kv : counts)
        if (kv.second > best) {
            best = kv.second;
            for (int s = 0; s < spp; s++)
                bg[s] = kv.first[s];
        }
}

template <typename T>
static void blank(T *px, int rows, int cols, int spp, bool planar, int frame,
                  const dcm_rect &r)
{
    size_t fsize = (size_t)rows * cols * spp;
    T *fp = px + fsize * frame;
    int x0 = std::max(0, r.x), y0 = std::max(0, r.y);
    int x1 = std::min(cols, r.x + r.w), y1 = std::min(rows, r.y + r.h);
    if (x0 >= x1 || y0 >= y1)
        return;
    std::vector<T> bg(spp);
    ring_mode(fp, rows, cols, spp, planar, x0, y0, x1, y1, bg.data());
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            for (int s = 0; s < spp; s++) {
                size_t i = planar ? (size_t)s * rows * cols + (size_t)y * cols + x
                                  : ((size_t)y * cols + x) * spp + s;
                fp[i] = bg[s];
            }
}

extern "C" int dcm_blank_rects(dcm_file *f, const dcm_rect *rects, size_t n, char *err,
                               size_t errlen)
{
    try {
        DcmDataset *ds = f->ff.getDataset();
        DcmElement *el = NULL;
        if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) {
            dcm_seterr(err, errlen, "%s: no pixel data to clean", f->path.c_str());
            return DCM_ENOTFOUND;
        }
        if (DcmXfer(f->xfer).isEncapsulated() && !f->pixels_changed) {
            if (f->xfer == EXS_RLELossless && !rle_headers_ok(f)) {
                dcm_seterr(err, errlen, "%s: malformed RLE data (segment offsets outside the "
                           "fragment)", f->path.c_str());
                return DCM_EFORMAT;
            }
            if (is_j2k(f->xfer)) {
                int rc = dcm_j2k_decompress(f, err, errlen);
                if (rc != DCM_OK)
                    return rc;
                ds->findAndGetElement(DCM_PixelData, el);
            } else if (ds->chooseRepresentation(EXS_LittleEndianExplicit, NULL).bad() ||
                !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
                dcm_seterr(err, errlen, "%s: cannot decompress pixel data (%s)",
                           f->path.c_str(), f->xfer_uid.c_str());
                return DCM_EUNSUPPORTED;
            } else {
                static_cast<DcmPixelData *>(el)->removeAllButCurrentRepresentations();
            }
        }
        Uint16 rows = 0, cols = 0, spp = 1, bits = 0, planar = 0;
        ds->findAndGetUint16(DCM_Rows, rows);
        ds->findAndGetUint16(DCM_Columns, cols);
        ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
        ds->findAndGetUint16(DCM_BitsAllocated, bits);
        ds->findAndGetUint16(DCM_PlanarConfiguration, planar);
        OFString photo;
        ds->findAndGetOFString(DCM_PhotometricInterpretation, photo);
        int frames = 1;
        dcm_frame_count(f, &frames, err, errlen);
        if (photo.find("422") != OFString_npos || photo.find("420") != OFString_npos) {
            dcm_seterr(err, errlen, "%s: cannot clean subsampled %s pixel data",
                       f->path.c_str(), photo.c_str());
            return DCM_EUNSUPPORTED;
        }
        size_t need = (size_t)rows * cols * spp * frames * (bits / 8);
        if (!rows || !cols || (bits != 8 && bits != 16) || el->getLength() < need) {
            dcm_seterr(err, errlen, "%s: pixel data layout not supported for cleaning "
                       "(%u bits allocated)", f->path.c_str(), bits);
            return DCM_EUNSUPPORTED;
        }
        if (bits == 8) {
            Uint8 *px = NULL;
            if (el->getUint8Array(px).bad() || !px)
                return DCM_EFORMAT;
            for (size_t i = 0; i < n; i++)
                for (int fr = 0; fr < frames; fr++)
                    if (rects[i].frame < 0 || rects[i].frame == fr)
                        blank(px, rows, cols, spp, planar == 1, fr, rects[i]);
        } else {
            Uint16 *px = NULL;
            if (el->getUint16Array(px).bad() || !px)
                return DCM_EFORMAT;
            for (size_t i = 0; i < n; i++)
                for (int fr = 0; fr < frames; fr++)
                    if (rects[i].frame < 0 || rects[i].frame == fr)
                        blank(px, rows, cols, spp, planar == 1, fr, rects[i]);
        }
        f->pixels_changed = true;
        f->xfer = EXS_LittleEndianExplicit;
        f->xfer_uid = DcmXfer(f->xfer).getXferID();
        return DCM_OK;
    } catch (const std::bad_alloc &) {
        dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
        return DCM_ENOMEM;
    } catch (...) {
        dcm_seterr(err, errlen, "%s: cannot clean pixel data", f->path.c_str());
        return DCM_EFORMAT;
    }
}
