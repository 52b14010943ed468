// dicom/dcm.cc — the DCMTK side of dicom/dcm.h: open, walk, edit, save.
// Frame decoding and pixel blanking live in dicom/pixels.cc.
#include "config.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcostrma.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmdata/dcspchrs.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iconv.h>
#include <libgen.h>
#include <memory>
#include <new>
#include <pthread.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "dicom/dcm_internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void cleanup_codecs()
{
    DJDecoderRegistration::cleanup();
    DJLSDecoderRegistration::cleanup();
    DcmRLEDecoderRegistration::cleanup();
}

static void init_codecs()
{
    // DCMTK's logger would print parser warnings (which can quote values) to stderr.
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    atexit(cleanup_codecs);
}

extern "C" void dcm_global_init(void)
{
    pthread_once(&init_once, init_codecs);
}

void dcm_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

extern "C" void dcm_tag_str(uint16_t group, uint16_t element, char *buf)
{
    static const char hex[] = "0123456789ABCDEF";
    const uint16_t v[2] = {group, element};
    char *p = buf;
    *p++ = '(';
    for (int k = 0; k < 2; k++) {
        for (int shift = 12; shift >= 0; shift -= 4)
            *p++ = hex[(v[k] >> shift) & 0xF];
        *p++ = k ? ')' : ',';
    }
    *p = 0;
}

extern "C" const char *dcm_keyword(uint16_t group, uint16_t element)
{
    // Entries of the global dictionary live as long as the process. Its lock is costly
    // next to a walk's other work: each thread remembers recent answers.
    struct slot {
        uint32_t tag;
        const char *name;
    };
    static thread_local slot cache[512];
    uint32_t tag = (uint32_t)group << 16 | element;
    slot &s = cache[(tag * 2654435761u) >> 23];
    if (s.name && s.tag == tag)
        return s.name;
    const DcmDataDictionary &dict = dcmDataDict.rdlock();
    const DcmDictEntry *entry = dict.findEntry(DcmTagKey(group, element), NULL);
    const char *name = entry && entry->getTagName() ? entry->getTagName() : "";
    dcmDataDict.rdunlock();
    s.tag = tag;
    s.name = name;
    return name;
}

// Deepest nesting of sequences under an item; stops counting past the limit. Iterates with
// nextInContainer: DCMTK's indexed access walks its linked list from the head every time.
static int nesting_depth(DcmItem *item, int depth)
{
    if (depth > DCM_MAX_DEPTH)
        return depth;
    int deepest = depth;
    for (DcmObject *o = item->nextInContainer(NULL); o; o = item->nextInContainer(o)) {
        if (o->ident() != EVR_SQ)
            continue;
        DcmSequenceOfItems *sq = static_cast<DcmSequenceOfItems *>(o);
        for (DcmObject *it = sq->nextInContainer(NULL); it; it = sq->nextInContainer(it)) {
            int d = nesting_depth(static_cast<DcmItem *>(it), depth + 1);
            if (d > deepest)
                deepest = d;
            if (deepest > DCM_MAX_DEPTH)
                return deepest;
        }
    }
    return deepest;
}

static bool looks_like_dataset(DcmDataset *ds)
{
    // A file without a meta header is accepted only if it carries the identity of a
    // composite object; random bytes parse as garbage elements otherwise.
    return ds->tagExists(DCM_SOPClassUID) || ds->tagExists(DCM_SOPInstanceUID) ||
           ds->tagExists(DCM_Modality) || ds->tagExists(DCM_PatientID);
}

static bool has_dicm_preamble(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    char buf[132];
    bool ok = fread(buf, 1, 132, fp) == 132 && memcmp(buf + 128, "DICM", 4) == 0;
    fclose(fp);
    return ok;
}

// Bytes in memory as a DCMTK stream that, unlike DcmInputBufferStream, can hand out a
// factory: large values (pixel data) are then left in the bytes until used, and a save
// copies them from there in chunks. Parsing a slice no longer copies its pixels, nor does
// re-reading what was written to verify its tags.
namespace {

class mem_producer : public DcmProducer {
public:
    mem_producer(const unsigned char *p, offile_off_t n) : p_(p), n_(n) {}
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool eos() override { return pos_ >= n_; }
    offile_off_t avail() override { return n_ - pos_; }
    offile_off_t read(void *buf, offile_off_t len) override
    {
        len = std::min(len, n_ - pos_);
        memcpy(buf, p_ + pos_, (size_t)len);
        pos_ += len;
        return len;
    }
    offile_off_t skip(offile_off_t len) override
    {
        len = std::min(len, n_ - pos_);
        pos_ += len;
        return len;
    }
    void putback(offile_off_t num) override
    {
        if (num > pos_)
            status_ = EC_PutbackFailed;
        else
            pos_ -= num;
    }

private:
    const unsigned char *p_;
    offile_off_t n_, pos_ = 0;
    OFCondition status_ = EC_Normal;
};

class mem_stream : public DcmInputStream {
public:
    mem_stream(const unsigned char *base, offile_off_t len, offile_off_t start)
        : DcmInputStream(&producer_), producer_(base + start, len - start), base_(base),
          len_(len), start_(start)
    {
    }
    DcmInputStreamFactory *newFactory() const override;

private:
    mem_producer producer_;
    const unsigned char *base_;
    offile_off_t len_, start_;
};

class mem_factory : public DcmInputStreamFactory {
public:
    mem_factory(const unsigned char *base, offile_off_t len, offile_off_t at)
        : base_(base), len_(len), at_(at)
    {
    }
    DcmInputStream *create() const override { return new mem_stream(base_, len_, at_); }
    DcmInputStreamFactory *clone() const override { return new mem_factory(*this); }
    // DCMTK's elements use a factory through create and clone (dcelem.cc); this names
    // the kind that reads stored bytes from an offset, which is what this does.
    DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

private:
    const unsigned char *base_;
    offile_off_t len_, at_;
};

DcmInputStreamFactory *mem_stream::newFactory() const
{
    // Inside a deflated dataset the offsets are those of the inflated stream: no factory,
    // so DCMTK reads every value now, as it does for a deflated file.
    if (currentProducer() != &producer_)
        return NULL;
    return new mem_factory(base_, len_, start_ + tell());
}

}  // namespace

// Reads the file, or its bytes when data is given, into f->ff.
static OFCondition load(dcm_file *f, const void *data, size_t len, bool part10)
{
    E_FileReadMode mode = part10 ? ERM_autoDetect : ERM_dataset;
    if (!data)
        return f->ff.loadFile(f->path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, mode);
    // What loadFile does, on the bytes.
    mem_stream in(static_cast<const unsigned char *>(data), (offile_off_t)len, 0);
    DcmObject *o = part10 ? static_cast<DcmObject *>(&f->ff) : f->ff.getDataset();
    o->transferInit();
    OFCondition c = o->read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
    o->transferEnd();
    return c;
}

// dcm_open and dcm_open_bytes: data is NULL when the file is read from path.
static int open_file(const char *path, const void *data, size_t len, dcm_file **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    dcm_global_init();
    if (!data) {
        struct stat st;
        if (stat(path, &st) != 0) {
            dcm_seterr(err, errlen, "%s: %s", path, strerror(errno));
            return DCM_EIO;
        }
        if (!S_ISREG(st.st_mode)) {
            dcm_seterr(err, errlen, "%s: not a regular file", path);
            return DCM_EIO;
        }
        len = (size_t)st.st_size;
    }
    if (len == 0) {
        dcm_seterr(err, errlen, "%s: empty file, not DICOM", path);
        return DCM_EFORMAT;
    }
    if (!data && access(path, R_OK) != 0) {
        dcm_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return DCM_EIO;
    }
    dcm_file *f = new (std::nothrow) dcm_file();
    if (!f) {
        dcm_seterr(err, errlen, "%s: out of memory", path);
        return DCM_ENOMEM;
    }
    f->path = path;
    f->size = len;
    try {
        bool part10 = data ? len >= 132 && memcmp((const char *)data + 128, "DICM", 4) == 0
                           : has_dicm_preamble(path);
        // Large values (pixel data) of a file read from disk stay there until used: a walk
        // never needs them. Their lengths are still checked against the file's size here,
        // so a length past the end of the file fails on open, not later while saving.
        OFCondition c = load(f, data, len, part10);
        if (c.bad()) {
            if (!part10)
                dcm_seterr(err, errlen, "%s: not DICOM (no Part 10 header, and the bytes do "
                           "not read as a dataset)", path);
            else if (c == EC_StreamNotifyClient)
                dcm_seterr(err, errlen, "%s: not readable as DICOM (a value's length runs past "
                           "the end of the file: truncated or corrupt)", path);
            else
                dcm_seterr(err, errlen, "%s: not readable as DICOM (malformed: %s)", path,
                           c.text());
            delete f;
            return DCM_EFORMAT;
        }
        DcmDataset *ds = f->ff.getDataset();
        if (!part10 && !looks_like_dataset(ds)) {
            dcm_seterr(err, errlen, "%s: not DICOM (no Part 10 header and no DICOM identity)", path);
            delete f;
            return DCM_EFORMAT;
        }
        if (ds->card() == 0) {
            dcm_seterr(err, errlen, "%s: not DICOM (no data elements after the header)", path);
            delete f;
            return DCM_EFORMAT;
        }
        if (nesting_depth(ds, 0) > DCM_MAX_DEPTH) {
            dcm_seterr(err, errlen, "%s: sequences nested deeper than %d levels", path,
                       DCM_MAX_DEPTH);
            delete f;
            return DCM_EFORMAT;
        }
        f->xfer = ds->getOriginalXfer();
        if (f->xfer == EXS_Unknown)
            f->xfer = EXS_LittleEndianImplicit;
        f->xfer_uid = DcmXfer(f->xfer).getXferID();
        OFString cs;
        if (ds->findAndGetOFStringArray(DCM_SpecificCharacterSet, cs).good())
            f->charset = cs.c_str();
    } catch (const std::exception &ex) {
        dcm_seterr(err, errlen, "%s: not readable as DICOM (%s)", path, ex.what());
        delete f;
        return DCM_EFORMAT;
    } catch (...) {
        dcm_seterr(err, errlen, "%s: not readable as DICOM", path);
        delete f;
        return DCM_EFORMAT;
    }
    *out = f;
    return DCM_OK;
}

extern "C" int dcm_open(const char *path, dcm_file **out, char *err, size_t errlen)
{
    return open_file(path, NULL, 0, out, err, errlen);
}

extern "C" int dcm_open_bytes(const char *path, const void *data, size_t len, dcm_file **out,
                              char *err, size_t errlen)
{
    static const char none = 0;
    return open_file(path, data ? data : &none, data ? len : 0, out, err, errlen);
}

extern "C" void dcm_close(dcm_file *f)
{
    delete f;
}

extern "C" const char *dcm_path(const dcm_file *f)
{
    return f->path.c_str();
}

extern "C" const char *dcm_transfer_syntax(const dcm_file *f)
{
    return f->xfer_uid.c_str();
}

// ---- character sets ---------------------------------------------------------------

// Plain ASCII needs no conversion; ESC starts an ISO 2022 switch to another repertoire.
static bool is_ascii(const std::string &s)
{
    for (unsigned char c : s)
        if (c >= 0x80 || c == 0x1b)
            return false;
    return true;
}

static bool charset_is_utf8_or_ascii(const std::string &cs)
{
    std::string t = cs;
    while (!t.empty() && t.back() == ' ')
        t.pop_back();
    return t.empty() || t == "ISO_IR 6" || t == "ISO_IR 192";
}

static bool iconv_to_utf8(const char *from, const std::string &in, std::string &out)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return false;
    std::vector<char> buf(in.size() * 4 + 16);
    char *ip = const_cast<char *>(in.data()), *op = buf.data();
    size_t il = in.size(), ol = buf.size();
    bool ok = iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && il == 0;
    iconv_close(cd);
    if (ok)
        out.assign(buf.data(), (size_t)(op - buf.data()));
    return ok;
}

std::string dcm_to_utf8(dcm_file *f, const std::string &raw, DcmEVR vr)
{
    if (is_ascii(raw) || charset_is_utf8_or_ascii(f->charset))
        return raw;
    if (!f->to_utf8_tried) {
        f->to_utf8_tried = true;
        f->to_utf8 = new (std::nothrow) DcmSpecificCharacterSet();
        if (f->to_utf8 && f->to_utf8->selectCharacterSet(f->charset.c_str()).bad()) {
            delete f->to_utf8;
            f->to_utf8 = NULL;
        }
    }
    if (f->to_utf8) {
        OFString out;
        const char *delims = vr == EVR_PN ? "\\^=" : "\\";
        if (f->to_utf8->convertString(OFString(raw.data(), raw.size()), out, delims).good())
            return std::string(out.c_str(), out.length());
    }
    // DCMTK on glibc cannot switch ISO 2022 repertoires; glibc's own ISO-2022-JP-2
    // decoder can (Japanese, and Latin/Greek designations), EUC-KR covers IR 149.
    if (f->charset.find("2022") != std::string::npos) {
        std::string u;
        if (iconv_to_utf8("ISO-2022-JP-2", raw, u) || iconv_to_utf8("ISO-2022-JP-3", raw, u))
            return u;
        std::string kr = raw;
        for (size_t p; (p = kr.find("\x1b$)C")) != std::string::npos;)
            kr.erase(p, 4);
        if (iconv_to_utf8("EUC-KR", kr, u))
            return u;
    }
    // Unknown repertoire: read bytes as Latin-1, so nothing is lost to the detectors.
    std::string u;
    for (unsigned char c : raw) {
        if (c < 0x80) {
            u += (char)c;
        } else {
            u += (char)(0xC0 | (c >> 6));
            u += (char)(0x80 | (c & 0x3F));
        }
    }
    return u;
}

std::string dcm_from_utf8(dcm_file *f, const std::string &utf8)
{
    if (is_ascii(utf8) || charset_is_utf8_or_ascii(f->charset))
        return utf8;
    DcmSpecificCharacterSet conv;
    std::string first = f->charset.substr(0, f->charset.find('\\'));
    if (first.find("2022") == std::string::npos &&
        conv.selectCharacterSet("ISO_IR 192", first.c_str()).good()) {
        OFString out;
        if (conv.convertString(OFString(utf8.data(), utf8.size()), out).good())
            return std::string(out.c_str(), out.length());
    }
    // No way to write these characters in the file's repertoire: drop them rather than
    // write bytes that would be misread.
    std::string a;
    for (unsigned char c : utf8)
        if (c < 0x80)
            a += (char)c;
    return a;
}

// ---- walking and editing ----------------------------------------------------------

static bool is_bulk_tag(const DcmTagKey &k)
{
    uint16_t g = k.getGroup(), e = k.getElement();
    if (k == DCM_PixelData || k == DCM_FloatPixelData || k == DCM_DoubleFloatPixelData ||
        k == DCM_WaveformData || k == DCM_SpectroscopyData || k == DCM_EncapsulatedDocument)
        return true;
    return ((g & 0xFF00) == 0x6000 && e == 0x3000) || ((g & 0xFF00) == 0x5000 && e == 0x3000);
}

static bool is_text_vr(DcmEVR vr)
{
    switch (vr) {
    case EVR_AE: case EVR_AS: case EVR_CS: case EVR_DA: case EVR_DS: case EVR_DT:
    case EVR_IS: case EVR_LO: case EVR_LT: case EVR_PN: case EVR_SH: case EVR_ST:
    case EVR_TM: case EVR_UC: case EVR_UI: case EVR_UR: case EVR_UT:
        return true;
    default:
        return false;
    }
}

static bool is_binary_vr(DcmEVR vr)
{
    switch (vr) {
    case EVR_OB: case EVR_OW: case EVR_OF: case EVR_OD: case EVR_OL: case EVR_OV:
    case EVR_UN: case EVR_ox: case EVR_px: case EVR_UNKNOWN: case EVR_UNKNOWN2B:
        return true;
    default:
        return false;
    }
}

struct dcm_list;

struct walker {
    dcm_file *f;
    dcm_walk_fn walk;  // a live walk hands each element to walk...
    void *ud;
    dcm_list *list;    // ...a listing appends it here instead
    std::vector<uint32_t> parents;
    std::string creator;
};

// Private creators of one item, by (group << 8 | block), as the walk meets them: they come
// before the elements of their blocks, so no search of the item is needed.
typedef std::vector<std::pair<uint32_t, std::string>> creator_map;

// The creator of k's private block into out ("" when none), reusing out's storage.
static void private_creator(DcmItem *item, const creator_map &creators, const DcmTagKey &k,
                            std::string &out)
{
    out.clear();
    uint16_t g = k.getGroup(), e = k.getElement();
    if (!(g & 1) || e < 0x1000)
        return;
    uint32_t id = (uint32_t)g << 8 | (e >> 8);
    for (const auto &c : creators)
        if (c.first == id) {
            out = c.second;
            return;
        }
    OFString c;  // a block before its creator: out of order, but findable
    if (item->findAndGetOFString(DcmTagKey(g, e >> 8), c).good())
        out = c.c_str();
}

// Appends v in decimal.
static void append_dec(std::string &out, int64_t v)
{
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    out.append(p, (size_t)(buf + sizeof buf - p));
}

// The values of an integer element as getOFStringArray gives them (decimal, joined by
// '\'), without its OFString per value: the listing meets many US values per file.
template <typename T>
static void ints_to_text(const T *vals, size_t n, std::string &out)
{
    out.clear();
    for (size_t i = 0; i < n; i++) {
        if (i)
            out += '\\';
        append_dec(out, (int64_t)vals[i]);
    }
}

// The element's integers as text into value, through DCMTK's typed array getter.
template <typename T>
static bool ints_as_text(DcmElement *el, OFCondition (DcmElement::*get)(T *&), std::string &value)
{
    size_t len = el->getLength();
    T *v = NULL;
    if ((el->*get)(v).bad() || (!v && len))
        return false;
    ints_to_text(v, len / sizeof *v, value);
    return true;
}

// Integer VRs (US, SS, UL, SL) as text into value; false for other VRs.
static bool int_value(DcmElement *el, DcmEVR vr, std::string &value)
{
    switch (vr) {
    case EVR_US:
        return ints_as_text<Uint16>(el, &DcmElement::getUint16Array, value);
    case EVR_SS:
        return ints_as_text<Sint16>(el, &DcmElement::getSint16Array, value);
    case EVR_UL:
        return ints_as_text<Uint32>(el, &DcmElement::getUint32Array, value);
    case EVR_SL:
        return ints_as_text<Sint32>(el, &DcmElement::getSint32Array, value);
    default:
        return false;
    }
}

static void fill_elem(walker &w, DcmItem *item, const creator_map &creators, DcmElement *el,
                      const std::string &path, int is_meta, dcm_elem &e, std::string &value,
                      std::string &creator, bool &has_value)
{
    DcmTag &tag = const_cast<DcmTag &>(el->getTag());
    DcmEVR vr = el->ident();
    memset(&e, 0, sizeof e);
    e.path = path.c_str();
    e.group = tag.getGroup();
    e.element = tag.getElement();
    const char *vrname = DcmVR(vr).getValidVRName();
    if (vr == EVR_PixelData || vr == EVR_OverlayData || vr == EVR_ox || vr == EVR_px)
        vrname = el->getLength() > 0 && (el->getLength() & 1) == 0 &&
                         !DcmXfer(w.f->xfer).isEncapsulated()
                     ? "OW"
                     : "OB";
    e.vr[0] = vrname[0];
    e.vr[1] = vrname[1];
    e.vr[2] = 0;
    private_creator(item, creators, tag, creator);
    e.creator = creator.empty() ? NULL : creator.c_str();
    e.depth = (int)w.parents.size();
    e.is_meta = is_meta;
    e.is_bulk = is_bulk_tag(tag);
    e.parents = w.parents.empty() ? NULL : w.parents.data();
    has_value = false;
    if (vr == EVR_SQ) {
        e.nitems = (int)static_cast<DcmSequenceOfItems *>(el)->card();
    } else if (e.is_bulk || vr == EVR_pixelSQ) {
        // bulk data is never handed out as text
    } else if (is_binary_vr(vr)) {
        Uint8 *bytes = NULL;
        if (el->getLength() > 0 && el->getUint8Array(bytes).good() && bytes)
            e.bytes = bytes;
        else if (el->getLength() > 0) {
            Uint16 *words = NULL;
            if (el->getUint16Array(words).good() && words)
                e.bytes = reinterpret_cast<const unsigned char *>(words);
        }
    } else if (is_text_vr(vr)) {
        // The stored string itself, without DCMTK's copies; only its padding goes.
        char *str = NULL;
        Uint32 len = 0;
        if (static_cast<DcmByteString *>(el)->getString(str, len).good()) {
            while (len > 0 && (str[len - 1] == ' ' || str[len - 1] == '\0'))
                len--;
            value.assign(str ? str : "", str ? len : 0);
            if (!is_ascii(value))
                value = dcm_to_utf8(w.f, value, vr);
            has_value = true;
        }
    } else if (int_value(el, vr, value)) {
        has_value = true;
    } else {
        OFString s;
        if (el->getOFStringArray(s).good()) {
            value.assign(s.c_str(), s.length());
            has_value = true;
        }
    }
    if (has_value)
        e.value = value.c_str();
    // Asked after the value is copied: DCMTK strips a string's padding for getString and
    // pads it again for getLength, and asking the length first made it strip twice (a
    // scan of the value and a global lock each time).
    e.length = el->getLength();
}

// One element of a listing: the dcm_elem a live walk would hand out, with its strings in
// the listing's pools (as offsets until the listing is complete, as pools move when they
// grow), and where the element is for editing.
struct list_rec {
    dcm_elem e;
    size_t path, value, creator, parents;  // offsets; NO_OFFSET for a NULL pointer
    DcmItem *item;
    DcmElement *el;
};

static const size_t NO_OFFSET = (size_t)-1;

struct dcm_list {
    dcm_file *f;
    std::vector<list_rec> recs;         // pre-order, as dcm_walk visits the dataset
    std::string text;                   // paths, values and creators, NUL-terminated
    std::vector<uint32_t> parents;      // each nested record's enclosing sequences
    bool edited = false;                // the elements may be gone: no further pass
};

static size_t pool_add(std::string &pool, const std::string &s)
{
    size_t at = pool.size();
    pool.append(s.c_str(), s.size() + 1);
    return at;
}

static void list_add(walker &w, const dcm_elem &e, DcmItem *item, DcmElement *el,
                     const std::string &path, const std::string &value)
{
    dcm_list &l = *w.list;
    list_rec r;
    r.e = e;
    r.e.index = l.recs.size();
    r.item = item;
    r.el = el;
    r.path = pool_add(l.text, path);
    r.value = e.value ? pool_add(l.text, value) : NO_OFFSET;
    r.creator = e.creator ? pool_add(l.text, w.creator) : NO_OFFSET;
    r.parents = NO_OFFSET;
    if (!w.parents.empty()) {
        r.parents = l.parents.size();
        l.parents.insert(l.parents.end(), w.parents.begin(), w.parents.end());
    }
    l.recs.push_back(r);
}

static int visit_item(walker &w, DcmItem *item, const std::string &prefix, int is_meta);

static int visit_sequence(walker &w, DcmSequenceOfItems *sq, const std::string &path,
                          int is_meta)
{
    w.parents.push_back(((uint32_t)sq->getGTag() << 16) | sq->getETag());
    int rc = 0;
    unsigned long k = 0;
    for (DcmObject *it = sq->nextInContainer(NULL); it && rc == 0;
         it = sq->nextInContainer(it), k++) {
        std::string p = path + "[" + std::to_string(k) + "].";
        rc = visit_item(w, static_cast<DcmItem *>(it), p, is_meta);
    }
    w.parents.pop_back();
    return rc;
}

// Elements an edit removes, with their items: removed together at the end of the pass.
typedef std::vector<std::pair<DcmItem *, DcmElement *>> removal_list;

// DcmItem::remove searches the item's list from its head for each element. Taking every
// element off the head instead (each found at once) and putting the kept ones back at the
// end (where insertion looks first) costs two steps per element of an item that loses any.
static void remove_elements(removal_list &rm)
{
    // The items' removals stay in their order, which is the order of their elements.
    std::stable_sort(rm.begin(), rm.end(), [](const removal_list::value_type &a,
                                              const removal_list::value_type &b) {
        return std::less<DcmItem *>()(a.first, b.first);
    });
    std::vector<DcmElement *> all;
    for (size_t i = 0, end; i < rm.size(); i = end) {
        DcmItem *item = rm[i].first;
        for (end = i; end < rm.size() && rm[end].first == item; end++) {
        }
        all.clear();
        for (DcmObject *o = item->nextInContainer(NULL); o; o = item->nextInContainer(o))
            all.push_back(static_cast<DcmElement *>(o));
        while (item->card() > 0)
            item->remove(0UL);
        for (DcmElement *el : all) {
            if (i < end && el == rm[i].second) {
                delete el;
                i++;
            } else {
                item->insert(el);
            }
        }
    }
    rm.clear();
}

static int apply_verdict(dcm_file *f, DcmItem *item, DcmElement *el, dcm_verdict &v,
                         const char *path, removal_list &removed, bool &descend, char *err,
                         size_t errlen)
{
    descend = false;
    switch (v.kind) {
    case DCM_KEEP:
        descend = el->ident() == EVR_SQ;
        break;
    case DCM_KEEP_WHOLE:
        break;
    case DCM_REMOVE:
        removed.emplace_back(item, el);
        break;
    case DCM_EMPTY:
        if (el->ident() == EVR_SQ)
            static_cast<DcmSequenceOfItems *>(el)->clear();
        else if (el->putString("").bad()) {
            dcm_seterr(err, errlen, "%s: cannot empty %s", f->path.c_str(), path);
            return DCM_EARG;
        }
        break;
    case DCM_REPLACE: {
        std::string val = dcm_from_utf8(f, v.value ? v.value : "");
        OFCondition c = el->ident() == EVR_SQ ? EC_IllegalCall : el->putString(val.c_str());
        if (c.bad()) {
            dcm_seterr(err, errlen, "%s: cannot set %s (%s)", f->path.c_str(), path, c.text());
            return DCM_EARG;
        }
        break;
    }
    }
    return 0;
}

static int visit_item(walker &w, DcmItem *item, const std::string &prefix, int is_meta)
{
    // The elements are listed first: indexed access walks the list from its head every
    // time, and so does nextInContainer once a search has moved the item's cursor.
    std::vector<DcmElement *> els;
    els.reserve(item->card());
    for (DcmObject *o = item->nextInContainer(NULL); o; o = item->nextInContainer(o))
        els.push_back(static_cast<DcmElement *>(o));
    creator_map creators;
    // One path and value for the whole item (and a creator for the walk): their storage is
    // reused.
    std::string path, value;
    path.reserve(prefix.size() + 11);
    for (DcmElement *el : els) {
        char tagbuf[12];
        dcm_tag_str(el->getGTag(), el->getETag(), tagbuf);
        path.assign(prefix).append(tagbuf);
        dcm_elem e;
        bool has_value;
        fill_elem(w, item, creators, el, path, is_meta, e, value, w.creator, has_value);
        if ((e.group & 1) && e.element >= 0x0010 && e.element <= 0x00FF && e.value)
            creators.emplace_back((uint32_t)e.group << 8 | e.element, value);
        int rc = 0;
        if (w.list)
            list_add(w, e, item, el, path, value);
        else
            rc = w.walk(&e, w.ud);
        if (rc == 0 && el->ident() == EVR_SQ)
            rc = visit_sequence(w, static_cast<DcmSequenceOfItems *>(el), path, is_meta);
        if (rc)
            return rc;
    }
    return 0;
}

template <typename F> static int guarded(dcm_file *f, char *err, size_t errlen, F fn)
{
    try {
        return fn();
    } catch (const std::bad_alloc &) {
        dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
        return DCM_ENOMEM;
    } catch (const std::exception &ex) {
        dcm_seterr(err, errlen, "%s: %s", f->path.c_str(), ex.what());
        return DCM_EFORMAT;
    } catch (...) {
        dcm_seterr(err, errlen, "%s: unexpected error in DCMTK", f->path.c_str());
        return DCM_EFORMAT;
    }
}

extern "C" int dcm_walk(dcm_file *f, dcm_walk_fn fn, void *ud, char *err, size_t errlen)
{
    return guarded(f, err, errlen, [&]() {
        walker w{f, fn, ud, NULL, {}, {}};
        int rc = visit_item(w, f->ff.getMetaInfo(), "meta.", 1);
        if (rc == 0)
            rc = visit_item(w, f->ff.getDataset(), "", 0);
        return rc;
    });
}

extern "C" int dcm_list_new(dcm_file *f, dcm_list **out, char *err, size_t errlen)
{
    *out = NULL;
    return guarded(f, err, errlen, [&]() {
        std::unique_ptr<dcm_list> l(new dcm_list());
        l->f = f;
        walker w{f, NULL, NULL, l.get(), {}, {}};
        visit_item(w, f->ff.getDataset(), "", 0);
        const char *text = l->text.data();
        for (list_rec &r : l->recs) {
            r.e.path = text + r.path;
            r.e.value = r.value == NO_OFFSET ? NULL : text + r.value;
            r.e.creator = r.creator == NO_OFFSET ? NULL : text + r.creator;
            r.e.parents = r.parents == NO_OFFSET ? NULL : l->parents.data() + r.parents;
        }
        *out = l.release();
        return (int)DCM_OK;
    });
}

extern "C" size_t dcm_list_count(const dcm_list *l)
{
    return l->recs.size();
}

extern "C" void dcm_list_free(dcm_list *l)
{
    delete l;
}

static int list_spent(dcm_list *l, char *err, size_t errlen)
{
    dcm_seterr(err, errlen, "%s: the element listing was already edited", l->f->path.c_str());
    return DCM_EARG;
}

extern "C" int dcm_list_walk(dcm_list *l, dcm_walk_fn fn, void *ud, char *err, size_t errlen)
{
    if (l->edited)
        return list_spent(l, err, errlen);
    for (const list_rec &r : l->recs) {
        int rc = fn(&r.e, ud);
        if (rc)
            return rc;
    }
    return DCM_OK;
}

extern "C" int dcm_list_edit(dcm_list *l, dcm_edit_fn fn, void *ud, char *err, size_t errlen)
{
    if (l->edited)
        return list_spent(l, err, errlen);
    l->edited = true;
    return guarded(l->f, err, errlen, [&]() {
        // Below an element whose items are not to be visited (removed, emptied, kept
        // whole), the records are skipped as a live walk would: they follow it, deeper.
        int skip_below = -1, rc = 0;
        removal_list removed;
        for (list_rec &r : l->recs) {
            if (skip_below >= 0 && r.e.depth > skip_below)
                continue;
            skip_below = -1;
            dcm_verdict v = {DCM_KEEP, NULL};
            rc = fn(&r.e, &v, ud);
            if (rc == 0) {
                bool descend;
                rc = apply_verdict(l->f, r.item, r.el, v, r.e.path, removed, descend, err,
                                   errlen);
                if (!descend)
                    skip_below = r.e.depth;
            }
            free(v.value);
            if (rc)
                break;
        }
        remove_elements(removed);
        return rc;
    });
}

// ---- paths ------------------------------------------------------------------------

// Parses "(gggg,eeee)[i].(gggg,eeee)..." into steps; index -1 means "the element".
struct step {
    DcmTagKey key;
    long index;
};

static bool hex4(const char *p, unsigned &v)
{
    v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    return true;
}

static bool parse_path(const char *path, bool &meta, std::vector<step> &steps)
{
    meta = false;
    steps.clear();
    if (strncmp(path, "meta.", 5) == 0) {
        meta = true;
        path += 5;
    }
    const char *p = path;
    while (*p) {
        unsigned g, e;
        if (p[0] != '(' || p[5] != ',' || p[10] != ')' || !hex4(p + 1, g) || !hex4(p + 6, e))
            return false;
        p += 11;
        step s{DcmTagKey((Uint16)g, (Uint16)e), -1};
        if (*p == '[') {
            char *end;
            s.index = strtol(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || s.index < 0)
                return false;
            p = end + 1;
            if (*p != '.')
                return false;
            p++;
            if (!*p)
                return false;
        } else if (*p) {
            return false;
        }
        steps.push_back(s);
    }
    return !steps.empty();
}

// Finds the item holding the last step's element; with create, makes missing items.
static DcmItem *resolve_parent(dcm_file *f, const char *path, DcmTagKey &last, bool create,
                               char *err, size_t errlen, int &rc)
{
    bool meta;
    std::vector<step> steps;
    if (!parse_path(path, meta, steps)) {
        dcm_seterr(err, errlen, "%s: bad element path '%s'", f->path.c_str(), path);
        rc = DCM_EARG;
        return NULL;
    }
    DcmItem *item = meta ? static_cast<DcmItem *>(f->ff.getMetaInfo())
                         : static_cast<DcmItem *>(f->ff.getDataset());
    for (size_t i = 0; i + 1 < steps.size(); i++) {
        DcmItem *next = NULL;
        OFCondition c = item->findAndGetSequenceItem(steps[i].key, next, (long)steps[i].index);
        if (c.bad() && create)
            c = item->findOrCreateSequenceItem(steps[i].key, next, (long)steps[i].index);
        if (c.bad() || !next) {
            dcm_seterr(err, errlen, "%s: no element at %s", f->path.c_str(), path);
            rc = DCM_ENOTFOUND;
            return NULL;
        }
        item = next;
    }
    last = steps.back().key;
    rc = DCM_OK;
    return item;
}

// The element at path and the item holding it; DCM_ENOTFOUND when absent.
static int find_element(dcm_file *f, const char *path, DcmItem *&item, DcmElement *&el,
                        char *err, size_t errlen)
{
    DcmTagKey key;
    int rc;
    el = NULL;
    item = resolve_parent(f, path, key, false, err, errlen, rc);
    if (!item)
        return rc;
    if (item->findAndGetElement(key, el).bad() || !el) {
        dcm_seterr(err, errlen, "%s: no element at %s", f->path.c_str(), path);
        return DCM_ENOTFOUND;
    }
    return DCM_OK;
}

extern "C" int dcm_get(dcm_file *f, const char *path, char **value, char *err, size_t errlen)
{
    *value = NULL;
    return guarded(f, err, errlen, [&]() {
        DcmItem *item;
        DcmElement *el;
        int rc = find_element(f, path, item, el, err, errlen);
        if (rc != DCM_OK)
            return rc;
        OFString s;
        std::string out;
        if (el->ident() != EVR_SQ && el->getOFStringArray(s).good())
            out = is_text_vr(el->ident()) ? dcm_to_utf8(f, std::string(s.c_str(), s.length()),
                                                        el->ident())
                                          : std::string(s.c_str(), s.length());
        *value = strdup(out.c_str());
        if (!*value) {
            dcm_seterr(err, errlen, "%s: out of memory", f->path.c_str());
            return (int)DCM_ENOMEM;
        }
        return (int)DCM_OK;
    });
}

// value (UTF-8, NULL for empty) in the file's character set, put into item at key; `where`
// names the attribute in the message.
static int put_text(dcm_file *f, DcmItem *item, const DcmTagKey &key, const char *value,
                    const char *where, char *err, size_t errlen)
{
    std::string v = dcm_from_utf8(f, value ? value : "");
    OFCondition c = item->putAndInsertString(key, v.c_str());
    if (c.bad()) {
        dcm_seterr(err, errlen, "%s: cannot set %s (%s)", f->path.c_str(), where, c.text());
        return DCM_EARG;
    }
    return DCM_OK;
}

extern "C" int dcm_set(dcm_file *f, const char *path, const char *value, char *err,
                       size_t errlen)
{
    return guarded(f, err, errlen, [&]() {
        DcmTagKey key;
        int rc;
        DcmItem *item = resolve_parent(f, path, key, true, err, errlen, rc);
        if (!item)
            return rc;
        return put_text(f, item, key, value, path, err, errlen);
    });
}

extern "C" int dcm_remove(dcm_file *f, const char *path, char *err, size_t errlen)
{
    return guarded(f, err, errlen, [&]() {
        DcmItem *item;
        DcmElement *el;
        int rc = find_element(f, path, item, el, err, errlen);
        if (rc == DCM_OK)
            delete item->remove(el);
        return rc;
    });
}

extern "C" int dcm_empty(dcm_file *f, const char *path, char *err, size_t errlen)
{
    return guarded(f, err, errlen, [&]() {
        DcmItem *item;
        DcmElement *el;
        int rc = find_element(f, path, item, el, err, errlen);
        if (rc != DCM_OK)
            return rc;
        if (el->ident() == EVR_SQ)
            static_cast<DcmSequenceOfItems *>(el)->clear();
        else
            el->putString("");
        return (int)DCM_OK;
    });
}

extern "C" int dcm_add_item(dcm_file *f, const char *seq_path, const uint32_t *tags,
                            const char *const *values, size_t n, int *index, char *err,
                            size_t errlen)
{
    return guarded(f, err, errlen, [&]() {
        DcmTagKey key;
        int rc;
        DcmItem *parent = resolve_parent(f, seq_path, key, true, err, errlen, rc);
        if (!parent)
            return rc;
        DcmItem *it = NULL;
        if (parent->findOrCreateSequenceItem(key, it, -2).bad() || !it) {
            dcm_seterr(err, errlen, "%s: cannot add an item to %s", f->path.c_str(), seq_path);
            return (int)DCM_EARG;
        }
        // The new item's parent is the sequence: no second search of the dataset for it.
        DcmSequenceOfItems *sq = OFdynamic_cast(DcmSequenceOfItems *, it->getParent());
        *index = sq ? (int)sq->card() - 1 : 0;
        // Filled through the item in hand: a dcm_set per element would parse its path
        // and search the sequence again.
        for (size_t i = 0; i < n; i++) {
            DcmTagKey k((Uint16)(tags[i] >> 16), (Uint16)(tags[i] & 0xFFFF));
            char where[16];
            dcm_tag_str(k.getGroup(), k.getElement(), where);
            rc = put_text(f, it, k, values[i], (std::string(where) + " in " + seq_path).c_str(),
                          err, errlen);
            if (rc != DCM_OK)
                return rc;
        }
        return (int)DCM_OK;
    });
}

// ---- saving -----------------------------------------------------------------------

static bool write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

// Where saving writes: memory up to a limit, so the caller gets the bytes written without
// reading them back; past the limit, the file directly (memory stays bounded).
class save_consumer : public DcmConsumer {
public:
    // first: the buffer's first size. Sized for the whole file, it is never copied to grow.
    save_consumer(int fd, size_t max, size_t first) : fd_(fd), max_(max), first_(first) {}
    ~save_consumer() { free(buf_); }
    OFBool good() const { return !failed_; }
    OFCondition status() const { return failed_ ? EC_InvalidStream : EC_Normal; }
    OFBool isFlushed() const { return OFTrue; }
    offile_off_t avail() const { return (offile_off_t)1 << 30; }
    offile_off_t write(const void *data, offile_off_t n)
    {
        const unsigned char *p = static_cast<const unsigned char *>(data);
        size_t len = (size_t)n;
        if (failed_)
            return 0;
        if (!spilled_ && len_ + len <= max_) {
            if (len_ + len > cap_) {
                size_t cap = cap_ ? cap_ : first_;
                while (cap < len_ + len)
                    cap *= 2;
                unsigned char *b = static_cast<unsigned char *>(realloc(buf_, cap));
                if (!b) {
                    failed_ = true;
                    return 0;
                }
                buf_ = b;
                cap_ = cap;
            }
            memcpy(buf_ + len_, p, len);
            len_ += len;
            return n;
        }
        if (!spilled_) {
            spilled_ = true;
            failed_ = !write_all(fd_, buf_, len_);
            free(buf_);
            buf_ = NULL;
            len_ = cap_ = 0;
        }
        if (!failed_)
            failed_ = !write_all(fd_, p, len);
        return failed_ ? 0 : n;
    }
    void flush() {}
    // Writes what is still in memory to the file; false on a write error.
    bool finish() { return !failed_ && (spilled_ || write_all(fd_, buf_, len_)); }
    // The bytes written, when they all fitted in memory; the caller frees them.
    unsigned char *take(size_t *len)
    {
        unsigned char *b = spilled_ ? NULL : buf_;
        *len = spilled_ ? 0 : len_;
        buf_ = NULL;
        return b;
    }

private:
    int fd_;
    size_t max_, first_;
    unsigned char *buf_ = NULL;
    size_t len_ = 0, cap_ = 0;
    bool spilled_ = false, failed_ = false;
};

class save_stream : public DcmOutputStream {
public:
    explicit save_stream(save_consumer *c) : DcmOutputStream(c) {}
};

extern "C" int dcm_save(dcm_file *f, const char *path, char *err, size_t errlen)
{
    return dcm_save_bytes(f, path, 0, NULL, NULL, err, errlen);
}

extern "C" int dcm_save_bytes(dcm_file *f, const char *path, size_t max_bytes,
                              unsigned char **bytes, size_t *len, char *err, size_t errlen)
{
    if (bytes) {
        *bytes = NULL;
        *len = 0;
    }
    std::string dir;
    {
        std::vector<char> tmp(path, path + strlen(path) + 1);
        dir = dirname(tmp.data());
    }
    std::string tmpl = dir + "/.deidtk-XXXXXX";
    std::vector<char> tmpname(tmpl.begin(), tmpl.end());
    tmpname.push_back(0);
    int fd = mkstemp(tmpname.data());
    if (fd < 0) {
        dcm_seterr(err, errlen, "%s: cannot create a file in %s: %s", f->path.c_str(),
                   dir.c_str(), strerror(errno));
        return DCM_EIO;
    }
    // Without a caller for the bytes, a small buffer still saves a write call per element.
    // With one, room for the file as read (outputs are rarely larger) saves the copies a
    // doubling buffer makes (four reallocations for a 512x512 CT slice).
    size_t max = bytes ? max_bytes : 65536;
    size_t first = bytes ? std::min(max, std::max(f->size + 65536, (size_t)65536)) : 65536;
    save_consumer out(fd, max, first);
    int rc = guarded(f, err, errlen, [&]() {
        DcmDataset *ds = f->ff.getDataset();
        E_TransferSyntax xfer = f->pixels_changed ? EXS_LittleEndianExplicit : f->xfer;
        if (!ds->canWriteXfer(xfer, f->xfer))
            xfer = EXS_LittleEndianExplicit;
        if (xfer == EXS_LittleEndianExplicit && !ds->canWriteXfer(xfer, f->xfer)) {
            if (ds->chooseRepresentation(xfer, NULL).bad() || !ds->canWriteXfer(xfer)) {
                dcm_seterr(err, errlen, "%s: pixel data cannot be written in any transfer syntax",
                           f->path.c_str());
                return (int)DCM_EUNSUPPORTED;
            }
        }
        // A fresh meta header: the old one may name the source application or carry
        // private elements.
        // Implicit VR: undefined lengths keep unknown private sequences readable as such.
        E_EncodingType enc = xfer == EXS_LittleEndianImplicit ? EET_UndefinedLength
                                                               : EET_ExplicitLength;
        // What DcmFileFormat::saveFile does, into our consumer.
        DcmWriteCache wcache;
        save_stream stream(&out);
        f->ff.transferInit();
        OFCondition c = f->ff.write(stream, xfer, enc, &wcache, EGL_recalcGL, EPD_noChange, 0, 0,
                                    0, EWM_createNewMeta);
        f->ff.transferEnd();
        stream.flush();  // a deflate filter keeps its tail until flushed
        if (c.good() && !out.finish())
            c = EC_InvalidStream;
        if (c.bad()) {
            dcm_seterr(err, errlen, "%s: cannot write %s (%s)", f->path.c_str(), path, c.text());
            return (int)DCM_EIO;
        }
        return (int)DCM_OK;
    });
    if (rc == DCM_OK && fsync(fd) != 0) {
        dcm_seterr(err, errlen, "%s: fsync failed: %s", path, strerror(errno));
        rc = DCM_EIO;
    }
    if (close(fd) != 0 && rc == DCM_OK) {
        dcm_seterr(err, errlen, "%s: cannot write %s (%s)", f->path.c_str(), path,
                   strerror(errno));
        rc = DCM_EIO;
    }
    if (rc == DCM_OK && rename(tmpname.data(), path) != 0) {
        dcm_seterr(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        rc = DCM_EIO;
    }
    if (rc != DCM_OK) {
        unlink(tmpname.data());
        return rc;
    }
    if (bytes)
        *bytes = out.take(len);
    return DCM_OK;
}

dcm_file::~dcm_file()
{
    delete to_utf8;
}
