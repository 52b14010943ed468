// Baseline for `deidtk run`: DCMTK's own load + save of every file, in one process.
// With --reread, also the rest of the DCMTK work a verified run cannot avoid: the file is
// saved into memory and written from there, and those bytes are parsed again and walked,
// every value but Pixel Data's got as a string (as `deidtk run` verifies each output).
// usage: dcmtk-loadsave [--reread] OUTDIR FILE... | -f LIST
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <sys/stat.h>

#include "dcmtk-common.h"

// Saves ff as a Part 10 file into memory, writes it to path and parses it again from the
// bytes written; the parsed copy is walked.
// insize: the input's size; the output gets as much room and 64 KiB more, as deidtk gives it.
static OFCondition save_and_reread(DcmFileFormat &ff, size_t insize, const char *path,
                                   unsigned long *elements, unsigned long *bytes)
{
    size_t room = insize + 65536;
    std::unique_ptr<char[]> buf(new char[room]);  // not zeroed, as deidtk's is not
    DcmOutputBufferStream out(buf.get(), room);
    // saveFile's defaults.
    DcmWriteCache cache;
    ff.transferInit();
    OFCondition st = ff.write(out, EXS_Unknown, EET_UndefinedLength, &cache, EGL_recalcGL,
                              EPD_noChange, 0, 0, 0, EWM_fileformat);
    ff.transferEnd();
    if (st.bad())
        return st;
    void *data = NULL;
    offile_off_t len = 0;
    out.flushBuffer(data, len);
    FILE *f = std::fopen(path, "wb");
    if (!f)
        return EC_InvalidStream;
    bool ok = std::fwrite(data, 1, (size_t)len, f) == (size_t)len;
    if (std::fclose(f) != 0 || !ok)
        return EC_InvalidStream;
    DcmInputBufferStream in;
    in.setBuffer(data, len);
    in.setEos();
    DcmFileFormat again;
    again.transferInit();
    st = again.read(in);
    again.transferEnd();
    if (st.good())
        bench_walk(again, elements, bytes);
    return st;
}

int main(int argc, char **argv)
{
    bool reread = argc > 1 && std::strcmp(argv[1], "--reread") == 0;
    int first = reread ? 2 : 1;
    if (argc < first + 2) {
        std::fprintf(stderr, "usage: dcmtk-loadsave [--reread] OUTDIR FILE... | -f LIST\n");
        return 2;
    }
    std::string outdir = argv[first];
    std::vector<std::string> files = bench_inputs(argc, argv, first + 1);
    int failed = 0;
    unsigned long elements = 0, bytes = 0;
    char name[32];
    for (size_t i = 0; i < files.size(); i++) {
        DcmFileFormat ff;
        OFCondition st = ff.loadFile(files[i].c_str());
        if (st.good())
            st = ff.loadAllDataIntoMemory();
        if (st.good()) {
            std::snprintf(name, sizeof name, "/%06zu.dcm", i);
            std::string out = outdir + name;
            struct stat sb;
            st = reread ? (stat(files[i].c_str(), &sb) == 0
                               ? save_and_reread(ff, (size_t)sb.st_size, out.c_str(), &elements,
                                                 &bytes)
                               : EC_InvalidFilename)
                        : ff.saveFile(out.c_str(), EXS_Unknown);
        }
        if (st.bad()) {
            std::fprintf(stderr, "%s: %s\n", files[i].c_str(), st.text());
            failed++;
        }
    }
    std::printf("%zu files, %d failed", files.size(), failed);
    if (reread)
        std::printf(", %lu elements read back", elements);
    std::printf("\n");
    return failed ? 1 : 0;
}
