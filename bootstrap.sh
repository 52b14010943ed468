#!/bin/sh
# ./bootstrap.sh run    install what is missing, build, de-identify samples/ and report
# ./bootstrap.sh check  install what is missing, build, run the test suite
set -eu
cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config
 libdcmtk-dev dcmtk libsndfile1-dev libssl-dev libtiff-dev zlib1g-dev
 libtesseract-dev tesseract-ocr-eng libleptonica-dev libopenjp2-7-dev
 libcjson-dev libsqlite3-dev sqlite3 libcmocka-dev libjemalloc-dev
 python3-pydicom python3-numpy python3-pil dicom3tools libgdcm-tools valgrind jq"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bootstrap: missing Debian packages:$missing (run as root, or apt-get install them)" >&2
        exit 2
    fi
    echo "bootstrap: installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    ./configure -q
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs"

case "${1:-}" in
run)
    out=samples-out
    rm -rf "$out"
    [ -f deidtk-sample.key ] || ./deidtk keygen -o deidtk-sample.key
    status=0
    ./deidtk run samples -o "$out" --key deidtk-sample.key --log samples-run.jsonl \
        --report samples-report --clean-pixels ocr || status=$?
    echo "bootstrap: de-identified samples/ into $out/ (exit status $status)"
    echo "bootstrap: reports: samples-report.json samples-report.html; log: samples-run.jsonl"
    # A release that passes goes out with its checksums, checked against the trail.
    if [ $status -eq 0 ]; then
        ./deidtk report samples-report.json -o samples-report.html --manifest samples-SHA256SUMS \
            --audit deidtk-audit.sqlite >/dev/null || status=$?
    fi
    if [ $status -eq 0 ]; then
        (cd "$out" && sha256sum -c --quiet ../samples-SHA256SUMS) || status=1
        echo "bootstrap: manifest: samples-SHA256SUMS (cd $out && sha256sum -c ../samples-SHA256SUMS)"
    fi
    exit $status
    ;;
check)
    status=0
    make -j"$jobs" check || status=$?
    # The harness keeps each test's output in its .log: show the cmocka summaries.
    for log in $(find tests -name '*.log' ! -name test-suite.log | sort); do
        grep -hE '^\[  (PASSED|FAILED|SKIPPED) \]|^\[==========\]' "$log" | sed "s|^|$(basename "$log" .log): |"
    done
    [ $status -eq 0 ] || { find tests -name '*.log' -exec grep -l FAIL {} \; | head -5 | xargs -r tail -n 40; }
    grep -hE '^# (PASS|FAIL|ERROR):' test-suite.log 2>/dev/null || true
    pass=$(grep -hE '^# PASS:' test-suite.log 2>/dev/null | awk '{print $3}')
    fail=$(grep -hE '^# (FAIL|ERROR|XPASS):' test-suite.log 2>/dev/null | awk '{s+=$3} END {print s+0}')
    echo "${pass:-0} passed, ${fail:-0} failed"
    exit $status
    ;;
*)
    echo "usage: ./bootstrap.sh run|check" >&2
    exit 2
    ;;
esac
