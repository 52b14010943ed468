#!/bin/sh
# tests/cli/pixels.sh — burned-in text. On samples/: verify reads the text of the images
# that have some, and after run --clean-pixels ocr neither the run's own verification nor
# a fresh verify finds any. GDCM's colour test image (large bold words) is read and
# cleaned. On the shared development corpus and its answer key (when
# ../shared is beside the source tree): verify flags every image with text and fewer than
# 5% of the others, the same cleaning leaves no text in any image and blanks every PHI box
# of the key, and the paired check names 90% of the PHI strings; the log gives the figures.
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

# Thumbnails beside the report: a PNG per frame with text, each named by the report, and
# no folder at all when no frame had any (the cleaned samples).
n=0
for png in $(jq -r '.thumbnails[].png' "$tmp/S.json"); do
    n=$((n + 1))
    [ "$(head -c 8 "$tmp/$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        bad "thumbnail $png is not a PNG"
done
[ "$n" -ge 2 ] || bad "$n thumbnails for the samples' frames with text, expected 2 or more"
[ "$(find "$tmp/S-thumbs" -name '*.png' | wc -l)" -eq "$n" ] ||
    bad "S-thumbs holds other PNGs than the report's $n"
[ ! -e "$tmp/samples-v-thumbs" ] || bad "an empty thumbnails folder was left beside the report"

# The policy's pixel regions are blanked with --clean-pixels signatures, given as objects or
# as strings: the top bar of IM0016 (two lines of its text) goes, the bottom lines stay.
mkdir -p "$tmp/reg-in"
cp "$in/IM0016.dcm" "$tmp/reg-in/"
cat >"$tmp/regions.json" <<'JSON'
{
  "pixel_regions": [
    {"x": 0, "y": 0, "w": 480, "h": 24},
    "470,0,10,10"
  ]
}
JSON
"$DEIDTK" run "$tmp/reg-in" -o "$tmp/reg" --key "$tmp/k.key" --policy "$tmp/regions.json" \
    --clean-pixels signatures --no-ocr --no-audit >"$tmp/reg.out" 2>&1 ||
    [ $? -eq 1 ] || bad "run with pixel_regions failed: $(tail -2 "$tmp/reg.out")"
"$DEIDTK" verify "$tmp/reg" --jsonl --report "$tmp/reg-v" >"$tmp/reg-v.jsonl" 2>/dev/null
tops=$(jq -r 'select(.detector == "ocr-text") | .where | split(" ")[2] | split(",")[1] | tonumber' \
    "$tmp/reg-v.jsonl" | sort -n | tr '\n' ' ')
case "$tops" in
"" | [0-9]\ * | [0-9][0-9]\ * ) bad "pixel_regions: text left near the top (boxes at y = $tops)" ;;
esac
[ -n "$tops" ] || bad "pixel_regions: the text outside the regions is gone too"
# A malformed region stops the run before any file, naming its line.
printf '{\n "pixel_regions": [\n  "0,0,10"\n ]\n}\n' >"$tmp/bad-regions.json"
"$DEIDTK" run "$tmp/reg-in" -o "$tmp/reg-bad" --key "$tmp/k.key" \
    --policy "$tmp/bad-regions.json" --clean-pixels signatures >"$tmp/reg-bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad-regions.json:3:" "$tmp/reg-bad.out" ||
    bad "malformed pixel_regions: exit $rc, expected 2 and its line: $(head -2 "$tmp/reg-bad.out")"
[ ! -e "$tmp/reg-bad" ] || [ -z "$(ls -A "$tmp/reg-bad")" ] ||
    bad "malformed pixel_regions: files were written"

# A real colour JPEG 2000 frame with three words in large bold type (GDCM's test image, as
# pydicom ships it): each is found and read, and cleaning removes them.
gbr=/usr/lib/python3/dist-packages/pydicom/data/test_files/GDCMJ2K_TextGBR.dcm
[ -r "$gbr" ] || gbr="$top_srcdir/../shared/corpus/real/GDCMJ2K_TextGBR.dcm"
if [ -r "$gbr" ]; then
    mkdir -p "$tmp/gbr-in"
    cp "$gbr" "$tmp/gbr-in/"
    "$DEIDTK" verify "$tmp/gbr-in" --jsonl --show-values --report "$tmp/G" >"$tmp/G.jsonl" 2>/dev/null
    words=$(jq -r 'select(.detector == "ocr-text") | .value' "$tmp/G.jsonl" | sort | tr '\n' ' ')
    [ "$words" = "blue green red " ] || bad "GDCMJ2K_TextGBR: read '$words', expected the three words"
    clean_and_verify "$tmp/gbr-in" gbr
else
    echo "note: no GDCMJ2K_TextGBR.dcm (python3-pydicom); its checks skipped"
fi
# A head CT whose window clips bone white: the air cells in it are no bold text.
ct="$(dirname "$gbr")/J2K_pixelrep_mismatch.dcm"
if [ -r "$ct" ]; then
    mkdir -p "$tmp/ct-in"
    cp "$ct" "$tmp/ct-in/"
    "$DEIDTK" verify "$tmp/ct-in" --jsonl --report "$tmp/CT" >"$tmp/CT.jsonl" 2>/dev/null
    boxes=$(jq -r 'select(.detector == "ocr-text") | .where' "$tmp/CT.jsonl")
    [ -z "$boxes" ] || bad "J2K_pixelrep_mismatch (no text): boxes at $boxes"
fi

# IM0022 turned a quarter (as an image stored turned): its labels run down the frame. They
# are found, read (the name among them) and cleaned.
if /usr/bin/python3 -c 'import pydicom, numpy' 2>/dev/null; then
    mkdir -p "$tmp/turned-in"
    /usr/bin/python3 - "$in/IM0022.dcm" "$tmp/turned-in/t.dcm" <<'PY'
import sys, numpy, pydicom
d = pydicom.dcmread(sys.argv[1])
a = numpy.rot90(d.pixel_array).copy()
d.Rows, d.Columns = a.shape
d.PixelData = a.tobytes()
d.save_as(sys.argv[2])
PY
    "$DEIDTK" verify "$tmp/turned-in" --jsonl --show-values --report "$tmp/T" >"$tmp/T.jsonl" 2>/dev/null
    name=$(jq -r 'select(.detector == "ocr-text") | .value' "$tmp/T.jsonl" | grep -c "ASHWORTH")
    [ "$name" -ge 1 ] || bad "turned IM0022: the name was not read: $(jq -r 'select(.detector == "ocr-text") | .value' "$tmp/T.jsonl" | head -5)"
    clean_and_verify "$tmp/turned-in" turned
else
    echo "note: no python3-pydicom; the turned-text check is skipped"
fi

# A real Siemens MOSAIC (20 EPI slices of 72 px): its rows of slices are not lines of text.
mosaic=/usr/share/doc/dicom3tools/examples/0051.dcm
if [ -r "$mosaic" ]; then
    mkdir -p "$tmp/mosaic-in"
    cp "$mosaic" "$tmp/mosaic-in/"
    "$DEIDTK" verify "$tmp/mosaic-in" --jsonl --report "$tmp/MOSAIC" >"$tmp/MOSAIC.jsonl" 2>/dev/null
    boxes=$(jq -r 'select(.detector == "ocr-text" or .detector == "undecodable-frame") | .where' \
        "$tmp/MOSAIC.jsonl")
    [ -z "$boxes" ] || bad "dicom3tools' 0051.dcm (MOSAIC, no text): boxes at $boxes"
else
    echo "note: no dicom3tools example 0051.dcm; the mosaic check skipped"
fi
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
    echo "dev: text-free images flagged: $nfp of $nfree"
    clean_and_verify "$dev/in" dev
    # Every burned-in PHI box of the key is blanked: text the detector misses is neither
    # cleaned nor found again, so the check above cannot see it.
    if /usr/bin/python3 -c 'import pydicom, numpy' 2>/dev/null; then
        red=$(/usr/bin/python3 "$dev/score.py" "$dev/key.json" "$tmp/dev" 2>&1 |
              sed -n 's/.*pixel_redaction=\([0-9.]*\)%.*/\1/p')
        [ "$red" = "100.0" ] || bad "dev: --clean-pixels ocr redacted ${red:-?}% of the PHI boxes"
        echo "dev: PHI boxes redacted by --clean-pixels ocr: $red%"
    else
        echo "note: no python3-pydicom; the redaction score is skipped"
    fi
    # The paired check names at least 90% of the burned-in PHI strings: a leak finding
    # from the text read in a box that overlaps the string's box in the key.
    "$DEIDTK" run "$dev/in" -o "$tmp/P" --key "$tmp/k.key" --audit "$tmp/P.sqlite" \
        --log "$tmp/P.log" --report "$tmp/P" >"$tmp/P.out" 2>&1
    "$DEIDTK" verify "$tmp/P" --audit "$tmp/P.sqlite" --jsonl --report "$tmp/PV" \
        >"$tmp/PV.jsonl" 2>"$tmp/PV.err"
    jq -r '(.input | sub(".*/"; "")) + " " + .output' "$tmp/P.log" | sort >"$tmp/P.map"
    jq -r '.files | to_entries[] | .key as $f | (.value.burned_in.boxes // [])[] |
           select(.phi) | "\($f) \(.frame // 0) \(.x) \(.y) \(.w) \(.h)"' "$dev/key.json" |
        sort >"$tmp/phi.boxes"
    jq -r 'select(.detector == "ocr-paired-leak") | .file + " " + .where' "$tmp/PV.jsonl" |
        sed 's/ pixels:frame / /; s/,/ /g' >"$tmp/leaks"
    named=$(join "$tmp/phi.boxes" "$tmp/P.map" | awk -v leaks="$tmp/leaks" '
        BEGIN { while ((getline l < leaks) > 0) { split(l, a, " "); n++
                    lf[n] = a[1]; lfr[n] = a[2]; lx[n] = a[3]; ly[n] = a[4]; lw[n] = a[5]; lh[n] = a[6] } }
        { hit = 0
          for (i = 1; i <= n && !hit; i++)
              hit = lf[i] == $7 && lfr[i] == $2 && lx[i] < $3 + $5 && $3 < lx[i] + lw[i] &&
                    ly[i] < $4 + $6 && $4 < ly[i] + lh[i]
          named += hit; total++ }
        END { print named + 0, total + 0 }')
    set -- $named
    [ "$2" -gt 0 ] && [ $(($1 * 100)) -ge $(($2 * 90)) ] ||
        bad "dev: the paired check named $1 of $2 burned-in PHI strings (90% needed)"
    echo "dev: burned-in PHI strings named by the paired check: $1 of $2"
else
    echo "note: no shared dev corpus beside the source tree; its checks skipped"
fi
finish
