#!/bin/sh
# tests/cli/pixels.sh — burned-in text. On samples/: verify reads the text of the images
# that have some, and after run --clean-pixels ocr neither the run's own verification nor
# a fresh verify finds any. On the shared development corpus and its answer key (when
# ../shared is beside the source tree): verify flags every image with text and fewer than
# 5% of the others, and the same cleaning leaves no text in any image.
. "${top_srcdir:-.}/tests/cli/lib.sh"
need jq
make_key "$tmp/k.key"

# files (basenames) with at least one OCR finding in a verify --jsonl stream
ocr_files() {
    jq -r 'select(.detector == "ocr-text") | .file' "$1" | sed 's|.*/||' | sort -u
}

# clean_and_verify IN NAME: run --clean-pixels ocr passes its gate; verify finds no text.
clean_and_verify() {
    "$DEIDTK" run "$1" -o "$tmp/$2" --key "$tmp/k.key" --clean-pixels ocr --no-audit \
        >"$tmp/$2.out" 2>&1
    rc=$?
    [ $rc -eq 0 ] || bad "$2: run --clean-pixels ocr exit $rc, expected 0: $(tail -3 "$tmp/$2.out")"
    "$DEIDTK" verify "$tmp/$2" --jsonl --report "$tmp/$2-v" >"$tmp/$2-v.jsonl" 2>"$tmp/$2-v.err"
    rc=$?
    left=$(jq -r 'select(.detector == "ocr-text") | .where' "$tmp/$2-v.jsonl")
    [ $rc -eq 0 ] && [ -z "$left" ] ||
        bad "$2: verify after --clean-pixels ocr exit $rc, text left at: $left"
}

in="$tmp/in"
copy_samples "$in"
"$DEIDTK" verify "$in" --jsonl --report "$tmp/S" >"$tmp/S.jsonl" 2>"$tmp/S.err"
ocr_files "$tmp/S.jsonl" >"$tmp/S.flagged"
for f in IM0016.dcm IM0022.dcm; do
    grep -qx "$f" "$tmp/S.flagged" || bad "samples: no burned-in text found in $f"
done
clean_and_verify "$in" samples

dev="$top_srcdir/../shared/corpus/dev"
if [ -r "$dev/key.json" ] && [ -d "$dev/in" ]; then
    jq -r '.files | to_entries[] | select((.value.burned_in.boxes // []) | length > 0) | .key' \
        "$dev/key.json" | sort >"$tmp/text"
    jq -r '.files | keys[]' "$dev/key.json" | sort >"$tmp/all"
    comm -23 "$tmp/all" "$tmp/text" >"$tmp/free"
    [ -s "$tmp/text" ] && [ -s "$tmp/free" ] || fail "answer key without images with and without text"
    "$DEIDTK" verify "$dev/in" --jsonl --report "$tmp/V" >"$tmp/V.jsonl" 2>"$tmp/V.err"
    rc=$?
    [ $rc -eq 1 ] || bad "verify of the raw dev corpus exit $rc, expected 1: $(cat "$tmp/V.err")"
    ocr_files "$tmp/V.jsonl" >"$tmp/flagged"
    missed=$(comm -23 "$tmp/text" "$tmp/flagged")
    [ -z "$missed" ] || bad "dev: images with burned-in text not flagged: $missed"
    nfree=$(wc -l <"$tmp/free")
    nfp=$(comm -12 "$tmp/free" "$tmp/flagged" | wc -l)
    [ $((nfp * 100)) -lt $((nfree * 5)) ] ||
        bad "dev: $nfp of $nfree text-free images flagged (5% allowed)"
    clean_and_verify "$dev/in" dev
else
    echo "note: no shared dev corpus beside the source tree; its checks skipped"
fi
finish
