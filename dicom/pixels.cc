// dicom/pixels.cc — frames: count, decode to 8-bit grey/RGB, blank rectangles.
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
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
    free(img->clipped);
    img->pixels = img->clipped = NULL;
    img->width = img->height = img->channels = 0;
}

// One attribute of the image pixel module as a number; absent (or empty) gives def.
static double num(DcmDataset *ds, const DcmTagKey &tag, double def)
{
    Float64 v;
    OFString s;
    if (ds->findAndGetOFString(tag, s).bad() || s.empty())
        return def;
    return ds->findAndGetFloat64(tag, v).good() ? v : def;
}

// Stored values, masked to Bits Stored and sign-extended by shifts: loops without branches
// that the compiler vectorises, one instance per layout.
template <typename T, bool SIGNED>
static inline int32_t stored_value(const T *p, size_t i, int shift)
{
    uint32_t u = (uint32_t)p[i] << shift;
    return SIGNED ? (int32_t)u >> shift : (int32_t)(u >> shift);
}

// Blocks of 16 with a fixed trip count: loops the compiler vectorises at -O2.
template <typename T, bool SIGNED>
static void range_of(const T *p, size_t n, int shift, int32_t &lo, int32_t &hi)
{
    int32_t a[16], b[16];
    for (int k = 0; k < 16; k++) {
        a[k] = INT32_MAX;
        b[k] = INT32_MIN;
    }
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) {
            int32_t x = stored_value<T, SIGNED>(p, i + k, shift);
            a[k] = x < a[k] ? x : a[k];
            b[k] = x > b[k] ? x : b[k];
        }
    for (; i < n; i++) {
        int32_t x = stored_value<T, SIGNED>(p, i, shift);
        a[0] = x < a[0] ? x : a[0];
        b[0] = x > b[0] ? x : b[0];
    }
    lo = *std::min_element(a, a + 16);
    hi = *std::max_element(b, b + 16);
}

// lut: the display's byte in the low half of each entry, the clipped view's in the high
// half; view NULL when there is none.
template <typename T, bool SIGNED>
static void map_through(const T *p, size_t n, int shift, int32_t lo, const uint16_t *lut,
                        unsigned char *out, unsigned char *view)
{
    if (!view)
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)lut[stored_value<T, SIGNED>(p, i, shift) - lo];
    else
        for (size_t i = 0; i < n; i++) {
            uint16_t v = lut[stored_value<T, SIGNED>(p, i, shift) - lo];
            out[i] = (unsigned char)v;
            view[i] = (unsigned char)(v >> 8);
        }
}

static void grey_range(const void *raw, size_t n, int alloc, int stored, int sign, int32_t &lo,
                       int32_t &hi)
{
    const int shift = 32 - stored;
    if (alloc == 16)
        sign ? range_of<Uint16, true>((const Uint16 *)raw, n, shift, lo, hi)
             : range_of<Uint16, false>((const Uint16 *)raw, n, shift, lo, hi);
    else
        sign ? range_of<Uint8, true>((const Uint8 *)raw, n, shift, lo, hi)
             : range_of<Uint8, false>((const Uint8 *)raw, n, shift, lo, hi);
}

static void grey_map(const void *raw, size_t n, int alloc, int stored, int sign, int32_t lo,
                     const uint16_t *lut, unsigned char *out, unsigned char *view)
{
    const int shift = 32 - stored;
    if (alloc == 16)
        sign ? map_through<Uint16, true>((const Uint16 *)raw, n, shift, lo, lut, out, view)
             : map_through<Uint16, false>((const Uint16 *)raw, n, shift, lo, lut, out, view);
    else
        sign ? map_through<Uint8, true>((const Uint8 *)raw, n, shift, lo, lut, out, view)
             : map_through<Uint8, false>((const Uint8 *)raw, n, shift, lo, lut, out, view);
}

// Uncompressed greyscale, the common case of CT and MR, is windowed here in two passes over
// the frame's stored values, read straight from the file: DicomImage builds several
// intermediate images per frame and costs a few times more. The arithmetic is DicomImage's
// (modality rescale, the first linear VOI window or the frame's min-max window,
// MONOCHROME1 inverted); anything else (LUT sequences, non-linear VOI functions,
// presentation LUTs, unusual bit layouts) returns false and is left to DicomImage.
static bool native_grey_frame(dcm_file *f, int n, dcm_image *out)
{
    DcmDataset *ds = f->ff.getDataset();
    DcmXfer xfer(f->xfer);
    OFString pi, fn;
    Uint16 rows = 0, cols = 0, alloc = 0, stored = 0, high = 0, sign = 0, spp = 1;
    DcmElement *el = NULL;
    if (f->pixels_changed || xfer.isEncapsulated() ||
        ds->findAndGetOFString(DCM_PhotometricInterpretation, pi).bad() ||
        (pi != "MONOCHROME1" && pi != "MONOCHROME2") ||
        ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() ||
        ds->findAndGetUint16(DCM_BitsAllocated, alloc).bad() ||
        ds->findAndGetUint16(DCM_BitsStored, stored).bad() ||
        ds->findAndGetUint16(DCM_HighBit, high).bad() ||
        ds->findAndGetUint16(DCM_PixelRepresentation, sign).bad() || rows == 0 || cols == 0 ||
        !(alloc == 16 || (alloc == 8 && xfer.getByteOrder() == EBO_LittleEndian)) ||
        stored == 0 || stored > alloc || high != stored - 1 || sign > 1 ||
        ds->tagExists(DCM_ModalityLUTSequence) || ds->tagExists(DCM_VOILUTSequence) ||
        ds->tagExists(DCM_PresentationLUTShape) ||
        (ds->findAndGetOFString(DCM_VOILUTFunction, fn).good() && !fn.empty() && fn != "LINEAR") ||
        ds->findAndGetElement(DCM_PixelData, el).bad() || !el)
        return false;
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, spp).good() && spp != 1)
        return false;
    size_t npx = (size_t)rows * cols, bytes = npx * (alloc / 8);
    if (((size_t)n + 1) * bytes > el->getLength())
        return false;
    // Not a vector, which would first zero what the read then overwrites.
    std::unique_ptr<Uint16[]> raw(new Uint16[alloc == 16 ? npx : (npx + 1) / 2]);
    if (el->getPartialValue(raw.get(), (Uint32)((size_t)n * bytes), (Uint32)bytes).bad())
        return false;
    int32_t lo, hi;
    grey_range(raw.get(), npx, alloc, stored, sign, lo, hi);
    double slope = num(ds, DCM_RescaleSlope, 1), icpt = num(ds, DCM_RescaleIntercept, 0);
    double c = num(ds, DCM_WindowCenter, NAN), w = num(ds, DCM_WindowWidth, NAN);
    const bool windowed = !std::isnan(c) && !std::isnan(w);
    if (!std::isfinite(slope) || !std::isfinite(icpt) ||
        (windowed && (!std::isfinite(c) || !std::isfinite(w) || w < 1)))
        return false;
    if (!windowed) {
        double m0 = lo * slope + icpt, m1 = hi * slope + icpt;
        if (m0 > m1)
            std::swap(m0, m1);
        c = (m0 + m1 + 1) / 2;
        w = m1 - m0 + 1;
    }
    // DicomImage's linear window: borders per PS3.3 C.11.2.1.2.1, the grey value truncated;
    // MONOCHROME1 runs the output range backwards.
    const bool invert = pi == "MONOCHROME1";
    const double w1 = w - 1, range = invert ? -255 : 255, top_out = invert ? 0 : 255;
    const double left = c - 0.5 - w1 / 2, right = c - 0.5 + w1 / 2;
    const double offset = w1 == 0 ? 0 : top_out - ((c - 0.5) / w1 + 0.5) * range;
    const double gradient = w1 == 0 ? 0 : range / w1;
    double m0 = lo * slope + icpt, m1 = hi * slope + icpt;
    const dcm_clip clip = {left, right, std::min(m0, m1), std::max(m0, m1), invert};
    const bool view = windowed && clip.clips();
    // A table over the stored values present (a CT frame spans a few thousand of them),
    // read once for both images.
    std::vector<uint16_t> lut((size_t)((int64_t)hi - lo + 1));
    for (size_t k = 0; k < lut.size(); k++) {
        double m = ((double)lo + (double)k) * slope + icpt;
        int q = m <= left ? 255 - (int)top_out : m > right ? (int)top_out : (int)(offset + m * gradient);
        lut[k] = (uint16_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        if (view)
            lut[k] |= (uint16_t)(clip.view(m) << 8);
    }
    out->pixels = (unsigned char *)malloc(npx);
    if (view)
        out->clipped = (unsigned char *)malloc(npx);
    if (!out->pixels || (view && !out->clipped)) {
        dcm_image_free(out);
        return false;
    }
    grey_map(raw.get(), npx, alloc, stored, sign, lo, lut.data(), out->pixels, out->clipped);
    out->width = cols;
    out->height = rows;
    out->channels = 1;
    return true;
}

// dcm_image's clipped view of the first window, rendered by DicomImage through a window
// over the clipped values it keeps (DicomImage puts their extreme at white, MONOCHROME1
// too): 0, or -1 when out of memory.
static int clipped_view(DicomImage &img, dcm_image *out)
{
    double c, w, m0, m1;
    if (!img.getWindow(c, w) || !img.getMinMaxValues(m0, m1) || w < 1)
        return 0;
    const dcm_clip clip = {c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2, m0, m1,
                           img.getPhotometricInterpretation() == EPI_Monochrome1};
    if (!clip.clips())
        return 0;
    size_t npx = (size_t)out->width * out->height;
    if (!(out->clipped = (unsigned char *)malloc(npx)))
        return -1;
    double lo = std::min(clip.start(), clip.extreme()), hi = std::max(clip.start(), clip.extreme());
    const void *data = img.setWindow((lo + hi) / 2 + 0.5, hi - lo + 1) ? img.getOutputData(8, 0, 0)
                                                                        : NULL;
    if (data && img.getOutputDataSize(8) >= npx)
        memcpy(out->clipped, data, npx);
    else
        memset(out->clipped, 0, npx);
    return 0;
}

// The slice count of a Siemens MOSAIC, from its private SIEMENS MR HEADER block of group
// 0019 (element 0A); 0 when absent.
static int siemens_mosaic_count(DcmDataset *ds)
{
    for (Uint16 block = 0x10; block <= 0xff; block++) {
        OFString creator;
        if (ds->findAndGetOFString(DcmTagKey(0x0019, block), creator).bad())
            continue;
        if (creator != "SIEMENS MR HEADER")
            continue;
        DcmElement *el = NULL;
        if (ds->findAndGetElement(DcmTagKey(0x0019, (Uint16)(block << 8 | 0x0a)), el).bad() || !el)
            return 0;
        Uint16 v = 0;
        if (el->ident() == EVR_US && el->getUint16(v).good())
            return v;
        // Read without the private dictionary (implicit VR): two little-endian bytes.
        Uint8 *b = NULL;
        if (el->getLength() == 2 && el->getUint8Array(b).good() && b)
            return b[0] | b[1] << 8;
        return 0;
    }
    return 0;
}

// A Siemens MOSAIC holds the slices of a volume side by side, a square grid of square
// tiles: as many columns as the ceiling of the square root of the slice count, or, when
// that count is missing, tiles the size of the acquisition matrix.
static void mosaic_tiles(dcm_file *f, dcm_image *out)
{
    DcmDataset *ds = f->ff.getDataset();
    bool mosaic = false;
    OFString value;
    for (unsigned long i = 0; !mosaic && ds->findAndGetOFString(DCM_ImageType, value, i).good(); i++)
        mosaic = value == "MOSAIC";
    if (!mosaic)
        return;
    int tile = 0, count = siemens_mosaic_count(ds);
    if (count > 1) {
        int grid = (int)std::ceil(std::sqrt((double)count));
        if (out->width % grid == 0 && out->height % grid == 0 && out->width == out->height)
            tile = out->width / grid;
    } else {
        Uint16 m = 0;
        for (unsigned long i = 0; i < 4; i++) {
            Uint16 v = 0;
            if (ds->findAndGetUint16(DCM_AcquisitionMatrix, v, i).good() && v > m)
                m = v;
        }
        if (m > 0 && out->width % m == 0 && out->height % m == 0)
            tile = m;
    }
    if (tile > 0 && (tile < out->width || tile < out->height)) {
        out->tile_w = tile;
        out->tile_h = tile;
    }
}

static int decode_frame(dcm_file *f, int n, dcm_image *out, char *err, size_t errlen)
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
        if (native_grey_frame(f, n, out))
            return DCM_OK;
        DicomImage img(f->ff.getDataset(), f->xfer, CIF_UsePartialAccessToPixelData,
                       (unsigned long)n, 1);
        if (img.getStatus() != EIS_Normal) {
            dcm_seterr(err, errlen, "%s: cannot decode frame %d (DCMTK: %s; %s, %s)",
                       f->path.c_str(), n, DicomImage::getString(img.getStatus()),
                       DcmXfer(f->xfer).getXferName(), f->xfer_uid.c_str());
            return DCM_EUNSUPPORTED;
        }
        // Overlay planes are read on their own (dicom/overlay.cc): drawn into the frame,
        // their text would be found twice, and cleaned in the pixels instead of the plane.
        img.hideAllOverlays();
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
        if (mono && img.getWindowCount() > 0 && clipped_view(img, out) != 0) {
            dcm_image_free(out);
            dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
            return DCM_ENOMEM;
        }
        return DCM_OK;
    } catch (...) {
        dcm_seterr(err, errlen, "%s: cannot decode frame %d", f->path.c_str(), n);
        return DCM_EUNSUPPORTED;
    }
}

extern "C" int dcm_decode_frame(dcm_file *f, int n, dcm_image *out, char *err, size_t errlen)
{
    int rc = decode_frame(f, n, out, err, errlen);
    if (rc == DCM_OK)
        mosaic_tiles(f, out);
    return rc;
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
                dcm_seterr(err, errlen, "%s: cannot decompress pixel data (%s, %s)",
                           f->path.c_str(), DcmXfer(f->xfer).getXferName(),
                           f->xfer_uid.c_str());
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
