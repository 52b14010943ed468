// Baseline for `deidtk verify --no-ocr`: DCMTK's own load of every file and a walk over
// every element, sequence items included, getting each value as a string.
// usage: dcmtk-loadwalk FILE... | -f LIST
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstdio>

#include "dcmtk-common.h"

int main(int argc, char **argv)
{
    std::vector<std::string> files = bench_inputs(argc, argv, 1);
    if (files.empty()) {
        std::fprintf(stderr, "usage: dcmtk-loadwalk FILE... | -f LIST\n");
        return 2;
    }
    int failed = 0;
    unsigned long elements = 0, bytes = 0;
    for (const std::string &path : files) {
        DcmFileFormat ff;
        OFCondition st = ff.loadFile(path.c_str());
        if (st.good())
            st = ff.loadAllDataIntoMemory();
        if (st.bad()) {
            std::fprintf(stderr, "%s: %s\n", path.c_str(), st.text());
            failed++;
            continue;
        }
        bench_walk(ff, &elements, &bytes);
    }
    std::printf("%zu files, %d failed, %lu elements, %lu value bytes\n", files.size(), failed,
                elements, bytes);
    return failed ? 1 : 0;
}
