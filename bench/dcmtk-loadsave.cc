// Baseline for `deidtk run`: DCMTK's own load + save of every file, in one process.
// usage: dcmtk-loadsave OUTDIR FILE... | -f LIST
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstdio>

#include "dcmtk-common.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: dcmtk-loadsave OUTDIR FILE... | -f LIST\n");
        return 2;
    }
    std::string outdir = argv[1];
    std::vector<std::string> files = bench_inputs(argc, argv, 2);
    int failed = 0;
    char name[32];
    for (size_t i = 0; i < files.size(); i++) {
        DcmFileFormat ff;
        OFCondition st = ff.loadFile(files[i].c_str());
        if (st.good())
            st = ff.loadAllDataIntoMemory();
        if (st.good()) {
            std::snprintf(name, sizeof name, "/%06zu.dcm", i);
            st = ff.saveFile((outdir + name).c_str(), EXS_Unknown);
        }
        if (st.bad()) {
            std::fprintf(stderr, "%s: %s\n", files[i].c_str(), st.text());
            failed++;
        }
    }
    std::printf("%zu files, %d failed\n", files.size(), failed);
    return failed ? 1 : 0;
}
