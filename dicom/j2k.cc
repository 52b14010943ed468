// dicom/j2k.cc — JPEG 2000 frames decoded with OpenJPEG: Debian's DCMTK has no JPEG 2000
// codec, and a frame nobody can decode would be a frame nobody inspected.
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <openjpeg.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dicom/dcm_internal.h"

namespace {

struct membuf {
    const unsigned char *data;
    size_t len, pos;
};

OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *ud)
{
    membuf *m = static_cast<membuf *>(ud);
    if (m->pos >= m->len)
        return (OPJ_SIZE_T)-1;
    size_t k = std::min((size_t)n, m->len - m->pos);
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}

OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *ud)
{
    membuf *m = static_cast<membuf *>(ud);
    if (n < 0 && (size_t)(-n) > m->pos)
        n = -(OPJ_OFF_T)m->pos;
    if (n > 0 && m->pos + (size_t)n > m->len)
        n = (OPJ_OFF_T)(m->len - m->pos);
    m->pos += n;
    return n;
}

OPJ_BOOL mem_seek(OPJ_OFF_T n, void *ud)
{
    membuf *m = static_cast<membuf *>(ud);
    if (n < 0 || (size_t)n > m->len)
        return OPJ_FALSE;
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

void quiet(const char *, void *) {}

// The bytes of frame n: one fragment per frame, all fragments of a single frame, or
// fragments grouped by the Basic Offset Table.
bool frame_bytes(DcmPixelSequence *seq, int n, int frames, std::vector<unsigned char> &out)
{
    unsigned long items = seq->card();
    if (items < 2)
        return false;
    unsigned long nfrag = items - 1;
    auto append = [&](unsigned long i) {
        DcmPixelItem *it = NULL;
        Uint8 *p = NULL;
        if (seq->getItem(it, i).bad() || !it)
            return false;
        Uint32 len = it->getLength();
        if (len && (it->getUint8Array(p).bad() || !p))
            return false;
        out.insert(out.end(), p, p + len);
        return true;
    };
    if (frames == 1) {
        for (unsigned long i = 1; i < items; i++)
            if (!append(i))
                return false;
        return true;
    }
    if (nfrag == (unsigned long)frames)
        return append((unsigned long)n + 1);
    DcmPixelItem *bot = NULL;
    Uint8 *tab = NULL;
    if (seq->getItem(bot, 0).bad() || !bot || bot->getLength() < 4u * frames ||
        bot->getUint8Array(tab).bad() || !tab)
        return false;
    auto offset = [&](int k) {
        return (Uint32)tab[4 * k] | (Uint32)tab[4 * k + 1] << 8 | (Uint32)tab[4 * k + 2] << 16 |
               (Uint32)tab[4 * k + 3] << 24;
    };
    Uint32 start = offset(n), end = n + 1 < frames ? offset(n + 1) : 0xFFFFFFFFu, pos = 0;
    for (unsigned long i = 1; i < items; i++) {
        DcmPixelItem *it = NULL;
        if (seq->getItem(it, i).bad() || !it)
            return false;
        if (pos >= start && pos < end && !append(i))
            return false;
        pos += it->getLength() + 8;
    }
    return !out.empty();
}

// Samples a frame may hold (OpenJPEG keeps each in 32 bits): 1 GB. A mammogram holds a
// twentieth of that, a whole-slide tile or an ultrasound frame far less.
const uint64_t MAX_SAMPLES = (uint64_t)1 << 28;

// One frame's codestream (J2K or JP2) decoded; NULL when OpenJPEG cannot, with why.
// OpenJPEG allocates the whole image its header describes before it decodes anything: a
// damaged or hostile codestream that says 65000x65000 asks for gigabytes. So the header is
// held to the dataset's Rows and Columns first. The caller frees the image with
// opj_image_destroy.
opj_image_t *decode_codestream(const std::vector<unsigned char> &bytes, Uint16 rows,
                               Uint16 cols, std::string &why)
{
    bool jp2 = bytes.size() > 8 && memcmp(bytes.data() + 4, "jP  ", 4) == 0;
    opj_codec_t *codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    opj_set_info_handler(codec, quiet, NULL);
    opj_set_warning_handler(codec, quiet, NULL);
    opj_set_error_handler(codec, quiet, NULL);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    membuf m = {bytes.data(), bytes.size(), 0};
    opj_stream_t *st = opj_stream_default_create(OPJ_TRUE);
    opj_stream_set_user_data(st, &m, NULL);
    opj_stream_set_user_data_length(st, bytes.size());
    opj_stream_set_read_function(st, mem_read);
    opj_stream_set_skip_function(st, mem_skip);
    opj_stream_set_seek_function(st, mem_seek);
    opj_image_t *img = NULL;
    why = "OpenJPEG cannot decode it";
    bool ok = opj_setup_decoder(codec, &params) && opj_read_header(st, codec, &img) && img;
    if (ok) {
        uint64_t w = img->x1 - img->x0, h = img->y1 - img->y0;
        if (img->numcomps < 1 || img->numcomps > 4) {
            why = "its JPEG 2000 codestream has " + std::to_string(img->numcomps) + " components";
            ok = false;
        } else if (w != cols || h != rows) {
            why = "its JPEG 2000 codestream is " + std::to_string(w) + "x" + std::to_string(h) +
                  ", the header says " + std::to_string(cols) + "x" + std::to_string(rows);
            ok = false;
        } else if (w * h * img->numcomps > MAX_SAMPLES) {
            why = "it is " + std::to_string(w) + "x" + std::to_string(h) +
                  ", more than deidtk decodes";
            ok = false;
        }
    }
    ok = ok && opj_decode(codec, st, img) && opj_end_decompress(codec, st);
    opj_stream_destroy(st);
    opj_destroy_codec(codec);
    if (!ok || !img || img->numcomps < 1 || !img->comps[0].data) {
        if (img)
            opj_image_destroy(img);
        return NULL;
    }
    return img;
}

double dataset_double(DcmItem *ds, const DcmTagKey &k, double dflt)
{
    Float64 v;
    return ds->findAndGetFloat64(k, v).good() ? v : dflt;
}

// The fragments of the encapsulated Pixel Data; NULL with a message when there are none.
DcmPixelSequence *pixel_sequence(dcm_file *f, char *err, size_t errlen)
{
    DcmElement *el = NULL;
    DcmPixelSequence *seq = NULL;
    if (f->ff.getDataset()->findAndGetElement(DCM_PixelData, el).bad() || !el ||
        static_cast<DcmPixelData *>(el)->getEncapsulatedRepresentation(f->xfer, NULL, seq).bad() ||
        !seq) {
        dcm_seterr(err, errlen, "%s: JPEG 2000 pixel data is not encapsulated", f->path.c_str());
        return NULL;
    }
    return seq;
}

}  // namespace

int dcm_j2k_decode_frame(dcm_file *f, int n, dcm_image *out, char *err, size_t errlen)
{
    DcmDataset *ds = f->ff.getDataset();
    DcmPixelSequence *seq = pixel_sequence(f, err, errlen);
    if (!seq)
        return DCM_EFORMAT;
    int frames = 1;
    dcm_frame_count(f, &frames, err, errlen);
    std::vector<unsigned char> bytes;
    if (!frame_bytes(seq, n, frames, bytes) || bytes.size() < 4) {
        dcm_seterr(err, errlen, "%s: cannot find the fragments of frame %d", f->path.c_str(), n);
        return DCM_EFORMAT;
    }
    Uint16 rows = 0, cols = 0;
    ds->findAndGetUint16(DCM_Rows, rows);
    ds->findAndGetUint16(DCM_Columns, cols);
    std::string why;
    opj_image_t *img = decode_codestream(bytes, rows, cols, why);
    if (!img) {
        dcm_seterr(err, errlen, "%s: cannot decode frame %d: %s", f->path.c_str(), n,
                   why.c_str());
        return DCM_EFORMAT;
    }
    int w = (int)img->comps[0].w, h = (int)img->comps[0].h;
    int channels = img->numcomps >= 3 ? 3 : 1;
    out->pixels = (unsigned char *)malloc((size_t)w * h * channels);
    if (!out->pixels) {
        opj_image_destroy(img);
        dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
        return DCM_ENOMEM;
    }
    out->width = w;
    out->height = h;
    out->channels = channels;
    if (channels == 1) {
        const OPJ_INT32 *d = img->comps[0].data;
        size_t np = (size_t)w * h;
        double slope = dataset_double(ds, DCM_RescaleSlope, 1.0);
        double icept = dataset_double(ds, DCM_RescaleIntercept, 0.0);
        OPJ_INT32 mn = d[0], mx = d[0];
        for (size_t i = 1; i < np; i++) {
            mn = std::min(mn, d[i]);
            mx = std::max(mx, d[i]);
        }
        double lo = std::min(mn * slope, mx * slope) + icept;
        double hi = std::max(mn * slope, mx * slope) + icept;
        OFString photo;
        ds->findAndGetOFString(DCM_PhotometricInterpretation, photo);
        bool invert = photo == "MONOCHROME1";
        Float64 c, wd;
        if (ds->findAndGetFloat64(DCM_WindowCenter, c).good() &&
            ds->findAndGetFloat64(DCM_WindowWidth, wd).good() && wd >= 1) {
            const dcm_clip clip = {c - 0.5 - (wd - 1) / 2, c - 0.5 + (wd - 1) / 2, lo, hi, invert};
            if (clip.clips()) {
                if (!(out->clipped = (unsigned char *)malloc(np))) {
                    opj_image_destroy(img);
                    dcm_image_free(out);
                    dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
                    return DCM_ENOMEM;
                }
                for (size_t i = 0; i < np; i++)
                    out->clipped[i] = clip.view(d[i] * slope + icept);
            }
            lo = clip.left;
            hi = clip.right;
        }
        double range = hi > lo ? hi - lo : 1.0;
        for (size_t i = 0; i < np; i++) {
            double v = (d[i] * slope + icept - lo) / range * 255.0;
            int g = (int)std::lround(std::min(255.0, std::max(0.0, v)));
            out->pixels[i] = (unsigned char)(invert ? 255 - g : g);
        }
    } else {
        OFString photo;
        ds->findAndGetOFString(DCM_PhotometricInterpretation, photo);
        bool ybr = photo == "YBR_FULL" || photo == "YBR_FULL_422";
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v[3];
                for (int k = 0; k < 3; k++) {
                    opj_image_comp_t &cp = img->comps[k];
                    int sx = std::min((int)cp.w - 1, x / (int)std::max(1u, cp.dx));
                    int sy = std::min((int)cp.h - 1, y / (int)std::max(1u, cp.dy));
                    double s = cp.data[(size_t)sy * cp.w + sx];
                    if (cp.sgnd)
                        s += (double)(1u << (cp.prec - 1));
                    v[k] = cp.prec > 8 ? s / ((1u << cp.prec) - 1) * 255.0 : s;
                }
                if (ybr) {
                    double Y = v[0], cb = v[1] - 128, cr = v[2] - 128;
                    v[0] = Y + 1.402 * cr;
                    v[1] = Y - 0.344136 * cb - 0.714136 * cr;
                    v[2] = Y + 1.772 * cb;
                }
                for (int k = 0; k < 3; k++)
                    out->pixels[((size_t)y * w + x) * 3 + k] =
                        (unsigned char)std::lround(std::min(255.0, std::max(0.0, v[k])));
            }
    }
    opj_image_destroy(img);
    return DCM_OK;
}

int dcm_j2k_decompress(dcm_file *f, char *err, size_t errlen)
{
    DcmDataset *ds = f->ff.getDataset();
    DcmPixelSequence *seq = pixel_sequence(f, err, errlen);
    if (!seq)
        return DCM_EFORMAT;
    int frames = 1;
    dcm_frame_count(f, &frames, err, errlen);
    Uint16 rows = 0, cols = 0, bits = 0;
    ds->findAndGetUint16(DCM_Rows, rows);
    ds->findAndGetUint16(DCM_Columns, cols);
    ds->findAndGetUint16(DCM_BitsAllocated, bits);
    if (bits != 8 && bits != 16) {
        dcm_seterr(err, errlen, "%s: %u bits allocated cannot be rewritten uncompressed",
                   f->path.c_str(), bits);
        return DCM_EUNSUPPORTED;
    }
    std::vector<Uint8> out8;
    std::vector<Uint16> out16;
    int spp = 0;
    for (int n = 0; n < frames; n++) {
        std::vector<unsigned char> bytes;
        std::string why = "its fragments cannot be found";
        opj_image_t *img = frame_bytes(seq, n, frames, bytes)
                               ? decode_codestream(bytes, rows, cols, why)
                               : NULL;
        if (!img) {
            dcm_seterr(err, errlen, "%s: cannot decode frame %d: %s", f->path.c_str(), n,
                       why.c_str());
            return DCM_EFORMAT;
        }
        spp = img->numcomps >= 3 ? 3 : 1;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                for (int k = 0; k < spp; k++) {
                    opj_image_comp_t &cp = img->comps[k];
                    int sx = std::min((int)cp.w - 1, x / (int)std::max(1u, cp.dx));
                    int sy = std::min((int)cp.h - 1, y / (int)std::max(1u, cp.dy));
                    OPJ_INT32 v = cp.data[(size_t)sy * cp.w + sx];
                    if (bits == 8)
                        out8.push_back((Uint8)v);
                    else
                        out16.push_back((Uint16)v);  // two's complement kept for signed data
                }
        opj_image_destroy(img);
    }
    DcmPixelData *px = new DcmPixelData(DCM_PixelData);
    OFCondition c = bits == 8 ? px->putUint8Array(out8.data(), (unsigned long)out8.size())
                              : px->putUint16Array(out16.data(), (unsigned long)out16.size());
    if (c.good())
        c = ds->insert(px, OFTrue);
    if (c.bad()) {
        delete px;
        dcm_seterr(err, errlen, "%s: cannot store decoded pixels (%s)", f->path.c_str(), c.text());
        return DCM_EFORMAT;
    }
    OFString photo;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, photo);
    if (spp == 3 && (photo == "YBR_ICT" || photo == "YBR_RCT"))
        ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
    if (spp == 3)
        ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
    f->xfer = EXS_LittleEndianExplicit;
    f->xfer_uid = DcmXfer(f->xfer).getXferID();
    f->pixels_changed = true;
    return DCM_OK;
}
