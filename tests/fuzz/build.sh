#!/bin/sh
# tests/fuzz/build.sh BUILDDIR — builds the libFuzzer target with clang, AddressSanitizer and
# coverage over the whole library, in BUILDDIR (a fresh folder). Then, for example:
#   BUILDDIR/fuzz_dicom -max_total_time=300 CORPUS_DIR samples/
#   BUILDDIR/fuzz_report -max_total_time=300 CORPUS_DIR SEEDS_DIR  (seeds: two JSON reports
#   joined by a NUL byte)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: tests/fuzz/build.sh BUILDDIR}
mkdir -p "$build"
cd "$build"
flags='-fsanitize=fuzzer-no-link,address,undefined -g -O1'
# DCMTK's headers accept only the compiler DCMTK was built with: the C++ of dicom/ stays
# with g++ (uninstrumented); the C stages get clang's coverage and sanitizers.
[ -f Makefile ] || "$src/configure" -q CC=clang CXX=g++ CFLAGS="$flags" CXXFLAGS='-g -O1'
# Only the library is wanted: the programs cannot link with the mixed instrumentation.
make -s -k -j"$(nproc)" >/dev/null 2>&1 || true
[ -f .libs/libdeidtk.a ] || { echo "build.sh: libdeidtk.a was not built" >&2; exit 1; }
libs=$(sed -n 's/^LIBS = //p; s/^DCMTK_LIBS = //p; s/^OPJ_LIBS = //p; s/^TESS_LIBS = //p; s/^LEPT_LIBS = //p; s/^CJSON_LIBS = //p; s/^SQLITE_LIBS = //p; s/^CRYPTO_LIBS = //p' Makefile | tr '\n' ' ')
for t in fuzz_dicom fuzz_report; do
    clang -fsanitize=fuzzer,address,undefined -g -O1 -I"$src" -I. -c "$src/tests/fuzz/$t.c" -o $t.o
    clang++ -fsanitize=fuzzer,address,undefined -o $t $t.o .libs/libdeidtk.a $libs -lm -pthread
    echo "built $build/$t"
done
