#!/bin/bash
# deidtk benchmark: throughput and peak memory of deidtk against DCMTK's own load+save and
# load+walk, gdcmanon, and whole-frame Tesseract (native and enlarged), all in one run over
# the same files.
# See bench/README.md for what each row measures.
#
# usage: bench/run.sh [--files N] [--quick] [--reps R] [--scale K] [--build DIR] [--work DIR]
#                      [--keep]
#   --files N    tag-path workload size (default 2000)
#   --scale K    also time run over K x N files from many patients against N of them
#                (K >= 2; off by default: it makes K x N more files)
#   --quick      N=200 and one repetition (results file gets a -quick suffix)
#   --reps R     repetitions per measurement, median taken (default 5)
#   --build DIR  deidtk build folder holding ./deidtk and .libs/libdeidtk.a (default: .)
#   --work DIR   scratch folder (default: a new folder in /dev/shm, removed at the end)
#   --keep       keep the scratch folder
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/.." && pwd)
nfiles=2000
reps=5
build=$PWD
work=
keep=0
scale=0
suffix=
while [ $# -gt 0 ]; do
    case $1 in
        --files) nfiles=$2; shift ;;
        --quick) nfiles=200; reps=1; suffix=-quick ;;
        --reps) reps=$2; shift ;;
        --scale) scale=$2; shift ;;
        --build) build=$2; shift ;;
        --work) work=$2; shift ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

case $scale in
    0) ;;
    [2-9]|[1-9][0-9]) [ $((nfiles % 100)) -eq 0 ] ||
        { echo "run.sh: --scale needs --files to be a multiple of 100" >&2; exit 2; } ;;
    *) echo "run.sh: --scale K takes K from 2 to 99" >&2; exit 2 ;;
esac

build=$(cd "$build" && pwd)
deidtk=$build/deidtk
if [ ! -x "$deidtk" ] || [ ! -f "$build/.libs/libdeidtk.a" ]; then
    echo "run.sh: no deidtk build in $build (use --build DIR)" >&2
    exit 2
fi
for tool in /usr/bin/time /usr/bin/python3 gdcmconv gdcmanon openssl pkg-config g++ gcc; do
    command -v "$tool" >/dev/null ||
        { echo "run.sh: $tool is missing (see bench/README.md)" >&2; exit 2; }
done

if [ -z "$work" ]; then
    base=/tmp
    [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
    work=$(mktemp -d "$base/deidtk-bench.XXXXXX")
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

log() { echo "run.sh: $*" >&2; }

# --- tools -------------------------------------------------------------------------------
log "building the baselines in $work/bin"
mkdir -p "$work/bin"
for p in dcmtk-loadsave dcmtk-loadwalk; do
    # shellcheck disable=SC2046
    g++ -O2 -Wall -Wextra -o "$work/bin/$p" "$here/$p.cc" $(pkg-config --cflags --libs dcmtk)
done
libs=
for v in DCMTK_LIBS OPJ_LIBS TESS_LIBS LEPT_LIBS CJSON_LIBS SQLITE_LIBS CRYPTO_LIBS; do
    libs="$libs $(sed -n "s/^$v = //p" "$build/Makefile")"
done
gcc -std=c11 -O2 -Wall -Wextra -pthread -I"$build" -I"$srcdir" -c "$here/ocr-bench.c" \
    -o "$work/bin/ocr-bench.o"
# shellcheck disable=SC2086
g++ -pthread -o "$work/bin/ocr-bench" "$work/bin/ocr-bench.o" "$build/.libs/libdeidtk.a" $libs

# --- workload ----------------------------------------------------------------------------
log "making the workload ($nfiles files)"
rm -rf "$work/in" "$work/deid-tags" "$work/deid-free" "$work"/prep.* "$work/key"
gdcmconv --raw /usr/lib/python3/dist-packages/pydicom/data/test_files/693_J2KI.dcm \
    "$work/ct512.dcm"
/usr/bin/python3 "$here/make-workload.py" "$work/in" "$nfiles" "$work/ct512.dcm" \
    $((scale * nfiles))
"$deidtk" keygen -o "$work/key" >/dev/null

list() { find "$1" -name '*.dcm' -type f | sort >"$2"; }
bytes() { find "$@" -name '*.dcm' -type f -printf '%s\n' | awk '{s += $1} END {print s}'; }
count() { find "$@" -name '*.dcm' -type f | wc -l; }

# De-identified copies of the sets, for the verify rows (verify reads release candidates).
"$deidtk" run "$work/in/tags" -o "$work/deid-tags" --key "$work/key" --no-ocr \
    --audit "$work/prep.sqlite" --report "$work/prep" >/dev/null 2>&1 || [ $? -eq 1 ]
"$deidtk" run "$work/in/textfree" -o "$work/deid-free" --key "$work/key" --no-ocr \
    --audit "$work/prep.sqlite" --report "$work/prep" >/dev/null 2>&1 || [ $? -eq 1 ]
list "$work/in/tags" "$work/tags.list"
list "$work/in/ct512" "$work/ct512.list"
list "$work/deid-tags" "$work/deid-tags.list"
split -n l/2 -d "$work/tags.list" "$work/tags.half."
[ "$(count "$work/deid-tags")" -eq "$nfiles" ] ||
    { echo "run.sh: deidtk run did not write every file" >&2; exit 1; }

# Page cache warm (a no-op on tmpfs, needed elsewhere).
find "$work/in" "$work"/deid-* -name '*.dcm' -type f -exec cat {} + >/dev/null

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- measuring ---------------------------------------------------------------------------
# spec ID FILES BYTES SETUP CMD...: what measure times as ID: CMD, after SETUP (untimed).
# measure ID...: runs the commands $reps times in turn (A B C A B C ...), so that a ratio
# compares runs made under the same load: this machine's speed drifts by a fifth over a
# minute, and measuring A's repetitions then B's made ratios move by as much. Records for
# each ID the median wall time, the median CPU time (user + system, all threads and
# children) and the largest peak RSS of any one process (KiB). Exit status 1 is accepted:
# deidtk's gate blocks on the synthetic PHI, which is not an error here.
declare -A secs cpu rss nf nb setup_of walls_of cpus_of
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}'; }
spec() {
    local id=$1
    nf[$id]=$2
    nb[$id]=$3
    setup_of[$id]=$4
    shift 4
    declare -ga "cmd_$id"
    local -n into="cmd_$id"
    # shellcheck disable=SC2034 # into names the global cmd_$id
    into=("$@")
}
once() {
    local id=$1 t0 t1 st=0 m u s
    local -n argv="cmd_$id"
    eval "${setup_of[$id]}"
    t0=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$work/time.out" "${argv[@]}" >"$work/last.log" 2>&1 || st=$?
    t1=$(date +%s%N)
    if [ "$st" -gt 1 ]; then
        echo "run.sh: $id failed (status $st):" >&2
        tail -5 "$work/last.log" >&2
        exit 1
    fi
    read -r m u s < <(tail -1 "$work/time.out")
    walls_of[$id]+=" $(awk -v n=$((t1 - t0)) 'BEGIN {print n / 1e9}')"
    cpus_of[$id]+=" $(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')"
    [ "$m" -gt "${rss[$id]:-0}" ] && rss[$id]=$m
    return 0
}
measure() {
    local r id
    for ((r = 0; r < reps; r++)); do
        for id in "$@"; do once "$id"; done
    done
    for id in "$@"; do
        secs[$id]=$(echo "${walls_of[$id]}" | median)
        cpu[$id]=$(echo "${cpus_of[$id]}" | median)
        log "$id: wall ${secs[$id]} s, cpu ${cpu[$id]} s"
    done
}

n_tags=$(count "$work/in/tags"); b_tags=$(bytes "$work/in/tags")
n_deid=$(count "$work/deid-tags"); b_deid=$(bytes "$work/deid-tags")
n_free=$(count "$work/deid-free"); b_free=$(bytes "$work/deid-free")
n_ct=$(count "$work/in/ct512"); b_ct=$(bytes "$work/in/ct512")
# shellcheck disable=SC2016 # expanded by once's eval
fresh='rm -rf "$work/out" "$work/out2" "$work/audit.sqlite" "$work"/rep.*; mkdir -p "$work/out" "$work/out2"'
run_common=(--key "$work/key" --audit "$work/audit.sqlite" --report "$work/rep")

spec loadsave "$n_tags" "$b_tags" "$fresh" \
    "$work/bin/dcmtk-loadsave" "$work/out" -f "$work/tags.list"
spec reread "$n_tags" "$b_tags" "$fresh" \
    "$work/bin/dcmtk-loadsave" --reread "$work/out" -f "$work/tags.list"
# shellcheck disable=SC2016 # a script for bash -c, with its own arguments
spec loadsave2 "$n_tags" "$b_tags" "$fresh" bash -c \
    '"$1" "$2" -f "$3" & p=$!; "$1" "$4" -f "$5" && wait $p' _ "$work/bin/dcmtk-loadsave" \
    "$work/out" "$work/tags.half.00" "$work/out2" "$work/tags.half.01"
spec run_j1 "$n_tags" "$b_tags" "$fresh" \
    "$deidtk" run "$work/in/tags" -o "$work/out" "${run_common[@]}" --no-ocr --jobs 1
spec run_jn "$n_tags" "$b_tags" "$fresh" \
    "$deidtk" run "$work/in/tags" -o "$work/out" "${run_common[@]}" --no-ocr
spec gdcm_dumb "$n_tags" "$b_tags" "$fresh" \
    gdcmanon --dumb --empty 10,10 -i "$work/in/tags" -o "$work/out"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/gdcm.key" -out "$work/gdcm.pem" \
    -days 1 -subj /CN=deidtk-bench 2>/dev/null
spec gdcm_basic "$n_tags" "$b_tags" "$fresh" \
    gdcmanon -e -c "$work/gdcm.pem" -i "$work/in/tags" -o "$work/out"
spec ct_loadsave "$n_ct" "$b_ct" "$fresh" \
    "$work/bin/dcmtk-loadsave" "$work/out" -f "$work/ct512.list"
spec ct_reread "$n_ct" "$b_ct" "$fresh" \
    "$work/bin/dcmtk-loadsave" --reread "$work/out" -f "$work/ct512.list"
spec ct_run_j1 "$n_ct" "$b_ct" "$fresh" \
    "$deidtk" run "$work/in/ct512" -o "$work/out" "${run_common[@]}" --no-ocr --jobs 1
tags_ids=(loadsave reread loadsave2 run_j1 run_jn gdcm_dumb gdcm_basic)
ct_ids=(ct_loadsave ct_reread ct_run_j1)
have_no_audit=0
if "$deidtk" run --help 2>&1 | grep -q -- '--no-audit'; then
    have_no_audit=1
    spec run_noaudit "$n_tags" "$b_tags" "$fresh" \
        "$deidtk" run "$work/in/tags" -o "$work/out" --key "$work/key" --report "$work/rep" \
        --no-ocr --no-audit --jobs 1
    spec ct_noaudit "$n_ct" "$b_ct" "$fresh" \
        "$deidtk" run "$work/in/ct512" -o "$work/out" --key "$work/key" --report "$work/rep" \
        --no-ocr --no-audit --jobs 1
    tags_ids+=(run_noaudit)
    ct_ids+=(ct_noaudit)
fi
measure "${tags_ids[@]}"
measure "${ct_ids[@]}"

if [ "$scale" -gt 0 ]; then
    scale_dirs=("$work"/in/scale/d*)
    scale_few=("${scale_dirs[@]:0:$((nfiles / 100))}")
    n_sf=$(count "${scale_few[@]}"); b_sf=$(bytes "${scale_few[@]}")
    n_sa=$(count "$work/in/scale"); b_sa=$(bytes "$work/in/scale")
    spec scale_few "$n_sf" "$b_sf" "$fresh" \
        "$deidtk" run "${scale_few[@]}" -o "$work/out" "${run_common[@]}" --no-ocr --jobs 1
    spec scale_all "$n_sa" "$b_sa" "$fresh" \
        "$deidtk" run "$work/in/scale" -o "$work/out" "${run_common[@]}" --no-ocr --jobs 1
    measure scale_few scale_all
fi
spec loadwalk "$n_deid" "$b_deid" : \
    "$work/bin/dcmtk-loadwalk" -f "$work/deid-tags.list"
spec verify_j1 "$n_deid" "$b_deid" "$fresh" \
    "$deidtk" verify "$work/deid-tags" --no-ocr --jobs 1 --report "$work/rep"
measure loadwalk verify_j1
spec free_noocr "$n_free" "$b_free" "$fresh" \
    "$deidtk" verify "$work/deid-free" --no-ocr --jobs 1 --report "$work/rep"
spec free_ocr "$n_free" "$b_free" "$fresh" \
    "$deidtk" verify "$work/deid-free" --jobs 1 --report "$work/rep"
measure free_noocr free_ocr

log "ocr-bench over the text-bearing, the text-free and the speckle frames"
declare -A ocr
for set in text textfree speckle; do
    line=$("$work/bin/ocr-bench" "$work/in/$set"/*.dcm 2>>"$work/ocr-bench.err")
    for kv in $line; do ocr[$set.${kv%%=*}]=${kv#*=}; done
done

# --- results -----------------------------------------------------------------------------
fps() { awk -v n="${nf[$1]}" -v s="${secs[$1]}" 'BEGIN {printf "%.0f", n / s}'; }
mbps() { awk -v b="${nb[$1]}" -v s="${secs[$1]}" 'BEGIN {printf "%.1f", b / s / 1e6}'; }
# ratio A B: throughput (files/s) of A as a percentage of B's on the same files, from wall
# time, as the issues' targets are stated; the CPU column shows what threads cost.
ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN {printf "%.0f%%", 100 * b / a}'; }
ratiow() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN {printf "%.0f%%", 100 * b / a}'; }
# per_file A B: A's wall time per file over B's (1.00: the cost per file does not grow).
per_file() { awk -v a="${secs[$1]}" -v na="${nf[$1]}" -v b="${secs[$2]}" -v nb="${nf[$2]}" \
    'BEGIN {printf "%.2f", (a / na) / (b / nb)}'; }
verdict() { awk -v v="${1%\%}" -v t="$2" -v dir="$3" \
    'BEGIN {ok = dir == "ge" ? v >= t : v <= t; print ok ? "met" : "NOT met"}'; }

row() {
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${nf[$2]}" "${secs[$2]}" "${cpu[$2]}" "$(fps "$2")" \
        "$(mbps "$2")" "$(awk -v k="${rss[$2]}" 'BEGIN {printf "%.0f", k / 1024}')" "$3"
}

cpumodel=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
out=$here/results-$(date +%Y-%m-%d)$suffix.md
{
    echo "# deidtk benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) CPUs ($cpumodel), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "- $("$deidtk" --version 2>/dev/null | head -1) built in $build (source tree at $(cd "$srcdir" && git rev-parse --short HEAD 2>/dev/null || echo '?')), DCMTK $(dcmdump --version 2>/dev/null | sed -n 's/.*dcmdump v\([0-9.]*\).*/\1/p' | head -1), $(gdcmanon --version 2>&1 | head -1 | awk '{print "GDCM", $3}'), Tesseract $(tesseract --version 2>&1 | head -1 | awk '{print $2}')"
    echo "- workload: $n_tags CT files ($(awk -v b="$b_tags" 'BEGIN {printf "%.0f MB", b / 1e6}'), IM0022 256x256 and CT_small 128x128 alternating, each a distinct instance); $n_ct copies of a 512x512 CT ($(awk -v b="$b_ct" 'BEGIN {printf "%.0f MB", b / 1e6}')); $n_free text-free 512x512 CT frames; ${ocr[text.frames]:-?} text-bearing frames; ${ocr[speckle.frames]:-?} text-free ultrasound speckle frames"
    echo "- scratch on $(df --output=fstype "$work" | tail -1) ($work); median of $reps run(s), the rows compared taken in turn; page cache warm; load average before: $load0"
    echo "- files/s, MB/s and every ratio from wall time; CPU time is user + system of all threads"
    echo
    echo "| measurement | files | wall s | CPU s | files/s | MB/s | peak RSS MB | compared |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    row "DCMTK load+save, 1 process" loadsave "baseline"
    row "DCMTK load+save, read back and walked, 1 process" reread "$(ratio reread loadsave) of load+save"
    row "DCMTK load+save, 2 processes" loadsave2 "baseline"
    row "deidtk run --no-ocr --jobs 1" run_j1 "$(ratio run_j1 loadsave) of load+save"
    row "deidtk run --no-ocr (jobs $(nproc))" run_jn "$(ratiow run_jn loadsave2) of load+save x2 (wall)"
    if [ "$have_no_audit" = 1 ]; then
        row "deidtk run --no-ocr --no-audit --jobs 1" run_noaudit "$(ratio run_noaudit loadsave) of load+save"
    fi
    row "DCMTK load+save, 512x512 CT copies, 1 process" ct_loadsave "baseline"
    row "DCMTK load+save, read back and walked, 512x512 CT copies" ct_reread "$(ratio ct_reread ct_loadsave) of load+save"
    row "deidtk run --no-ocr --jobs 1, 512x512 CT copies" ct_run_j1 "$(ratio ct_run_j1 ct_loadsave) of load+save"
    if [ "$have_no_audit" = 1 ]; then
        row "deidtk run --no-ocr --no-audit --jobs 1, 512x512 CT copies" ct_noaudit "$(ratio ct_noaudit ct_loadsave) of load+save"
    fi
    row "gdcmanon --dumb --empty 10,10" gdcm_dumb "deidtk run -j1 at $(ratio run_j1 gdcm_dumb)"
    row "gdcmanon -e (basic profile, certificate)" gdcm_basic "deidtk run -j1 at $(ratio run_j1 gdcm_basic)"
    if [ "$scale" -gt 0 ]; then
        row "deidtk run --no-ocr --jobs 1, scale set: first $n_sf files" scale_few "baseline"
        row "deidtk run --no-ocr --jobs 1, scale set: all $n_sa files" scale_all "time per file x$(per_file scale_all scale_few)"
    fi
    row "DCMTK load+walk (de-identified set)" loadwalk "baseline"
    row "deidtk verify --no-ocr --jobs 1" verify_j1 "$(ratio verify_j1 loadwalk) of load+walk"
    row "deidtk verify --no-ocr --jobs 1, text-free 512x512" free_noocr "baseline"
    row "deidtk verify (OCR) --jobs 1, text-free 512x512" free_ocr "$(awk -v a="${secs[free_ocr]}" -v b="${secs[free_noocr]}" 'BEGIN {printf "+%.0f%% time", 100 * (a / b - 1)}') vs --no-ocr"
    echo
    echo "OCR stages on decoded frames (CPU ms per frame, one thread; text: burned-in annotations, textfree: plain CT, speckle: text-free synthetic ultrasound):"
    echo
    echo "| method | CPU ms/frame | found |"
    echo "|---|---:|---|"
    for set in text textfree speckle; do
        o() { echo "${ocr[$set.$1]:-?}"; }
        echo "| $set: ocr_detect_views (detector, frame and clipped view) | $(o detect_ms) | $(o boxes) boxes in $(o frames_with_boxes) of $(o frames) frames |"
        echo "| $set: ocr_find_text_views (detect + read) | $(o find_text_ms) | $(o boxes_read) of $(o boxes) boxes read, $(o read_chars) characters |"
        echo "| $set: ocr_read_full_frame (Tesseract, whole frame) | $(o full_frame_ms) | $(o full_frame_chars) characters |"
        if [ "$set" = text ]; then
            echo "| $set: ocr_read_full_frame, frame enlarged as the reader enlarges boxes (x$(o full_up_scale) on average) | $(o full_up_ms) | $(o full_up_chars) characters |"
        fi
    done
    echo
    echo "Targets:"
    echo
    r=$(ratio run_j1 loadsave)
    echo "- run tags-only, one worker (and the writer thread), vs DCMTK load+save in one thread: $r (target >= 50%: $(verdict "$r" 50 ge))"
    r=$(ratio ct_run_j1 ct_loadsave)
    echo "- the same on 512x512 CT copies: $r (target >= 50%: $(verdict "$r" 50 ge))"
    echo "- no target: DCMTK's own part of a verified run (load, save, read back, walk) is at $(ratio reread loadsave) of load+save (512x512 copies: $(ratio ct_reread ct_loadsave)); run is at $(ratio run_j1 reread) of it ($(ratio ct_run_j1 ct_reread))"
    r=$(ratio verify_j1 loadwalk)
    echo "- verify tags-only vs DCMTK load+walk (1 thread): $r (target >= 50%: $(verdict "$r" 50 ge))"
    if [ "$have_no_audit" = 1 ]; then
        r=$(awk -v a="${secs[run_j1]}" -v b="${secs[run_noaudit]}" 'BEGIN {printf "%.0f%%", 100 * (1 - b / a)}')
        echo "- audit cost (1 - with/without audit throughput): $r (target <= 15%: $(verdict "$r" 15 le))"
    else
        echo "- audit cost: not measured (this deidtk has no run --no-audit)"
    fi
    # Wall time, as every ratio here: the tags-only run takes about 50 ms of CPU, which GNU
    # time counts in steps of 10 ms. Both runs are one thread.
    r=$(awk -v a="${secs[free_ocr]}" -v b="${secs[free_noocr]}" 'BEGIN {printf "%.0f%%", 100 * (a / b - 1)}')
    echo "- OCR on text-free 512x512 frames vs tags-only: +$r time (target <= 10%: $(verdict "$r" 10 le))"
    r=$(awk -v f="${ocr[text.find_text_ms]:-0}" -v w="${ocr[text.full_frame_ms]:-0}" 'BEGIN {if (f > 0) printf "%.2f", w / f; else print "?"}')
    echo "- detect+read vs whole-frame Tesseract: ${r}x as fast (target >= 3x: $(verdict "$r" 3 ge))"
    r=$(awk -v f="${ocr[text.find_text_ms]:-0}" -v w="${ocr[text.full_up_ms]:-0}" 'BEGIN {if (f > 0) printf "%.2f", w / f; else print "?"}')
    echo "- detect+read vs whole-frame Tesseract on the enlarged frame (no target; the only way it reads small text): ${r}x as fast"
    if [ "$scale" -gt 0 ]; then
        echo "- run over $n_sa files vs $n_sf of them (no target; 1.00 is linear): time per file x$(per_file scale_all scale_few)"
    fi
    echo "- vs gdcmanon (one thread; run with one worker): deidtk run at $(ratio run_j1 gdcm_dumb) of dumb mode, $(ratio run_j1 gdcm_basic) of basic-profile mode"
} >"$work/results.md"
cp "$work/results.md" "$out"
cat "$out"
log "results written to $out"
