#!/bin/sh
# tests/cli/pixels.sh — burned-in text on the shared development corpus and its answer key
# (skipped when ../shared is not beside the source tree): verify reads every image the key
# says has text in its pixels and flags fewer than 5% of the others; after
# run --clean-pixels ocr, verify finds text in no image.
. "${top_srcdir:-.}/tests/cli/lib.sh"
need jq
dev="$top_srcdir/../shared/corpus/dev"
[ -r "$dev/key.json" ] && [ -d "$dev/in" ] || skip "no shared dev corpus beside the source tree"

jq -r '.files | to_entries[] | select((.value.burned_in.boxes // []) | length > 0) | .key' \
    "$dev/key.json" | sort >"$tmp/text"
jq -r '.files | keys[]' "$dev/key.json" | sort >"$tmp/all"
comm -23 "$tmp/all" "$tmp/text" >"$tmp/free"
[ -s "$tmp/text" ] && [ -s "$tmp/free" ] || fail "answer key without images with and without text"

# files (basenames) with at least one OCR finding in a verify --jsonl stream
ocr_files() {
    jq -r 'select(.detector == "ocr-text") | .file' "$1" | sed 's|.*/||' | sort -u
}

"$DEIDTK" verify "$dev/in" --jsonl --report "$tmp/V" >"$tmp/V.jsonl" 2>"$tmp/V.err"
rc=$?
[ $rc -eq 1 ] || fail "verify of the raw dev corpus exit $rc, expected 1: $(cat "$tmp/V.err")"
ocr_files "$tmp/V.jsonl" >"$tmp/flagged"
missed=$(comm -23 "$tmp/text" "$tmp/flagged")
[ -z "$missed" ] || bad "images with burned-in text not flagged: $missed"
nfree=$(wc -l <"$tmp/free")
nfp=$(comm -12 "$tmp/free" "$tmp/flagged" | wc -l)
[ $((nfp * 100)) -lt $((nfree * 5)) ] ||
    bad "$nfp of $nfree text-free images flagged (5% allowed)"

make_key "$tmp/k.key"
"$DEIDTK" run "$dev/in" -o "$tmp/P" --key "$tmp/k.key" --clean-pixels ocr --no-audit \
    --report "$tmp/R" >"$tmp/P.out" 2>&1
rc=$?
[ $rc -eq 0 ] || bad "run --clean-pixels ocr exit $rc, expected 0: $(tail -3 "$tmp/P.out")"
"$DEIDTK" verify "$tmp/P" --jsonl --report "$tmp/VP" >"$tmp/VP.jsonl" 2>"$tmp/VP.err"
rc=$?
left=$(jq -r 'select(.detector == "ocr-text") | .where' "$tmp/VP.jsonl")
[ $rc -eq 0 ] && [ -z "$left" ] ||
    bad "verify after --clean-pixels ocr exit $rc, text left at: $left"
finish
