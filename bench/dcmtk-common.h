// Shared by the DCMTK baselines: the list of input files from argv or a list file.
#ifndef BENCH_DCMTK_COMMON_H
#define BENCH_DCMTK_COMMON_H

#include <fstream>
#include <string>
#include <vector>

// Arguments after the fixed ones: file paths, or "-f LIST" (one path a line).
static std::vector<std::string> bench_inputs(int argc, char **argv, int first)
{
    std::vector<std::string> files;
    for (int i = first; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-f" && i + 1 < argc) {
            std::ifstream in(argv[++i]);
            std::string line;
            while (std::getline(in, line))
                if (!line.empty())
                    files.push_back(line);
        } else {
            files.push_back(a);
        }
    }
    return files;
}

// Visits every element, sequence items included, getting each value but Pixel Data's as a
// string: what a reader of the tags does. Adds to *elements and *bytes.
static void bench_walk(DcmFileFormat &ff, unsigned long *elements, unsigned long *bytes)
{
    DcmStack stack;
    while (ff.nextObject(stack, OFTrue).good()) {
        DcmObject *obj = stack.top();
        if (!obj->isLeaf())
            continue;
        (*elements)++;
        if (obj->getTag() == DCM_PixelData)
            continue;
        OFString value;
        if (static_cast<DcmElement *>(obj)->getOFStringArray(value).good())
            *bytes += value.length();
    }
}

#endif
