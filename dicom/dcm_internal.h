// dicom/dcm_internal.h — the dcm_file behind the opaque handle, shared by dicom/*.cc only.
#ifndef DEIDTK_DCM_INTERNAL_H
#define DEIDTK_DCM_INTERNAL_H

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <algorithm>
#include <string>

#include "dicom/dcm.h"

class DcmSpecificCharacterSet;

struct dcm_file {
    std::string path;
    DcmFileFormat ff;
    E_TransferSyntax xfer = EXS_Unknown;   // as read
    std::string xfer_uid;
    std::string charset;                   // Specific Character Set of the dataset
    DcmSpecificCharacterSet *to_utf8 = nullptr;
    bool to_utf8_tried = false;
    bool pixels_changed = false;           // blanked: save uncompressed
    size_t size = 0;                       // bytes it was read from
    ~dcm_file();
};

void dcm_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
std::string dcm_to_utf8(dcm_file *f, const std::string &raw, DcmEVR vr);
std::string dcm_from_utf8(dcm_file *f, const std::string &utf8);

// What a linear display window [left, right] (modality values) shows as white of a frame
// whose values span [m0, m1] (white is the low side for MONOCHROME1: invert): whether
// there is any, and its byte in dcm_image's clipped view for a modality value m.
struct dcm_clip {
    double left, right, m0, m1;
    bool invert;
    double edge() const { return invert ? left : right; }
    double extreme() const { return invert ? m0 : m1; }
    bool clips() const { return invert ? m0 < left : m1 > right; }
    // Where the view starts: halfway from the window's edge to the frame's extreme.
    double start() const { return (edge() + extreme()) / 2; }
    unsigned char view(double m) const
    {
        double t = start(), d = invert ? t - m : m - t, span = invert ? t - m0 : m1 - t;
        return d <= 0 ? 0 : (unsigned char)std::min(255.0, d / span * 255.0 + 0.5);
    }
};

// JPEG 2000 frame n decoded with OpenJPEG into an 8-bit image (dicom/j2k.cc).
int dcm_j2k_decode_frame(dcm_file *f, int n, dcm_image *out, char *err, size_t errlen);
// Replaces JPEG 2000 pixel data by the decoded stored values, uncompressed (for cleaning).
int dcm_j2k_decompress(dcm_file *f, char *err, size_t errlen);

#endif
