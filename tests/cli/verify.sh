#!/bin/sh
# tests/cli/verify.sh — deidtk verify: --jsonl gives one JSON object per line on stdout,
# values masked unless --show-values; --fail-on moves the gate; unreadable files exit 3
# with one line naming each.
. "${top_srcdir:-.}/tests/cli/lib.sh"
need jq

in="$tmp/in"
copy_samples "$in"
phi_values "$in"/*.dcm >"$tmp/phi"

# --jsonl on raw inputs: JSON lines only on stdout, the summary on stderr
"$DEIDTK" verify "$in" --no-ocr --jsonl --report "$tmp/r" >"$tmp/raw.jsonl" 2>"$tmp/raw.err"
rc=$?
[ $rc -eq 1 ] || fail "verify of raw inputs exit $rc, expected 1"
[ -s "$tmp/raw.jsonl" ] || fail "--jsonl printed nothing"
lines=$(wc -l <"$tmp/raw.jsonl")
objs=$(jq -c 'select(type == "object" and (.id|type) == "string" and (.file|type) == "string"
                     and (.where|type) == "string" and (.detector|type) == "string"
                     and (.severity|type) == "string" and has("message"))' \
       "$tmp/raw.jsonl" | wc -l) || fail "--jsonl output does not parse"
[ "$objs" -eq "$lines" ] || fail "--jsonl: $lines lines but $objs well-formed findings"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
for n, l in enumerate(open(sys.argv[1]), 1):
    json.loads(l)' "$tmp/raw.jsonl" || fail "--jsonl: a line is not one JSON value"
fi
grep -q "gate: BLOCKED" "$tmp/raw.err" || fail "summary not on stderr with --jsonl"
# (jq 1.6's -e reads only the last line's result: the matches are counted instead)
[ -z "$(jq -r 'select(.severity | test("^(leak|phi|suspect|policy|info)$") | not) | .id' \
    "$tmp/raw.jsonl")" ] || fail "--jsonl: unknown severity"
[ "$(jq -r .file "$tmp/raw.jsonl" | sort -u | wc -l)" -eq "$(ls "$in" | wc -l)" ] ||
    fail "not every raw input has a finding"
# the counts of the summary are the lines printed
sev_count() { jq -r "select(.severity == \"$1\") | .id" "$tmp/raw.jsonl" | wc -l; }
grep -q "leak $(sev_count leak), phi $(sev_count phi), suspect $(sev_count suspect)," \
    "$tmp/raw.err" || fail "summary counts do not match the JSON lines: $(cat "$tmp/raw.err")"
[ -f "$tmp/r.json" ] && [ -f "$tmp/r.html" ] || fail "no report written"
assert_no_phi "$tmp/phi" "verify --jsonl (masked)" "$tmp/raw.jsonl" "$tmp/raw.err" "$tmp/r.json" \
    "$tmp/r.html"

# --show-values really shows them: the masking above is not an accident of the detectors
"$DEIDTK" verify "$in" --no-ocr --jsonl --show-values --report "$tmp/s" >"$tmp/show.jsonl" \
    2>/dev/null
grep -q -i -F -f "$tmp/phi" "$tmp/show.jsonl" || fail "--show-values shows no input value"

# --fail-on: raw inputs have phi but, unpaired, no leak
[ "$(sev_count leak)" -eq 0 ] || fail "unpaired raw inputs gave leak findings"
[ "$(sev_count phi)" -gt 0 ] || fail "raw inputs gave no phi finding"
"$DEIDTK" verify "$in" --no-ocr --fail-on leak --report "$tmp/r2" >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] || fail "--fail-on leak on raw inputs exit $rc, expected 0 (no leak finding)"
"$DEIDTK" verify "$in" --no-ocr --fail-on phi --report "$tmp/r3" >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] || fail "--fail-on phi on raw inputs exit $rc, expected 1"
"$DEIDTK" verify "$in" --no-ocr --fail-on suspect --report "$tmp/r4" >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] || fail "--fail-on suspect on raw inputs exit $rc, expected 1"
"$DEIDTK" verify "$in" --no-ocr --fail-on nonsense --report "$tmp/r5" >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] || fail "--fail-on nonsense exit $rc, expected 2"

# a de-identified dataset: passes at suspect, blocks at policy only if a policy finding exists
key="$tmp/k.key"
make_key "$key"
"$DEIDTK" run "$in" -o "$tmp/out" --key "$key" --no-ocr --no-audit >/dev/null 2>&1 ||
    fail "run exit $?"
"$DEIDTK" verify "$tmp/out" --no-ocr --jsonl --report "$tmp/o" >"$tmp/o.jsonl" 2>/dev/null
rc=$?
[ $rc -eq 0 ] || fail "verify of run's output exit $rc: $(jq -r '.severity+" "+.detector+" "+.where' "$tmp/o.jsonl" | head -5)"
npol=$(jq -r 'select(.severity == "policy") | .id' "$tmp/o.jsonl" | wc -l)
"$DEIDTK" verify "$tmp/out" --no-ocr --fail-on policy --report "$tmp/o2" >/dev/null 2>&1
rc=$?
if [ "$npol" -gt 0 ]; then
    [ $rc -eq 1 ] || fail "--fail-on policy with $npol policy findings exit $rc, expected 1"
else
    [ $rc -eq 0 ] || fail "--fail-on policy without policy findings exit $rc"
fi

# unreadable files: exit 3, one line naming each, the others still inspected
mixed="$tmp/mixed"
mkdir -p "$mixed"
cp -r "$tmp/out/." "$mixed/"
: >"$mixed/empty.dcm"
echo "plain text" >"$mixed/readme.dcm"
head -c 600 "$samples/IM0017.dcm" >"$mixed/cut.dcm"
"$DEIDTK" verify "$mixed" --no-ocr --jsonl --report "$tmp/m" >"$tmp/m.jsonl" 2>"$tmp/m.err"
rc=$?
[ $rc -eq 3 ] || fail "verify with unreadable files exit $rc, expected 3"
for n in empty readme cut; do
    [ "$(grep -c "$n\.dcm" "$tmp/m.err")" -eq 1 ] ||
        fail "expected one stderr line naming $n.dcm: $(cat "$tmp/m.err")"
done
grep -q "3 unreadable" "$tmp/m.err" || fail "summary: $(cat "$tmp/m.err")"
# nothing readable at all: the one line, exit 3, and the dataset checks over no file
mkdir -p "$tmp/none"
printf 'not DICOM' >"$tmp/none/x.dcm"
"$DEIDTK" verify "$tmp/none" --no-ocr --report "$tmp/none-r" >"$tmp/none.out" 2>&1
rc=$?
[ $rc -eq 3 ] && [ "$(grep -c "x\.dcm" "$tmp/none.out")" -eq 1 ] ||
    fail "verify of only an unreadable file exit $rc: $(cat "$tmp/none.out")"

# type 1 attributes: missing, empty or only padding are reported; one stored as UN with
# bytes counts as there, one as UN without bytes does not
if command -v dump2dcm >/dev/null 2>&1; then
    printf '%s\n' '(0002,0010) UI =LittleEndianExplicit' '(0008,0016) UN 31\2e\32\2e\33' \
        '(0008,0018) UI [1.2.3.4]' '(0008,0060) CS [  ]' '(0020,000E) UN (no value available)' \
        >"$tmp/t1.dump"
    mkdir -p "$tmp/t1"
    dump2dcm -q "$tmp/t1.dump" "$tmp/t1/t1.dcm" || fail "dump2dcm failed"
    "$DEIDTK" verify "$tmp/t1" --no-ocr --jsonl --report "$tmp/t1r" >"$tmp/t1.jsonl" 2>/dev/null
    jq -r 'select(.detector == "structure") | .message' "$tmp/t1.jsonl" |
        sed -n 's/^type 1 attribute \(.*\) is missing or empty$/\1/p' >"$tmp/t1.got"
    printf '%s\n' "Study Instance UID" "Series Instance UID" "Modality" >"$tmp/t1.want"
    cmp -s "$tmp/t1.got" "$tmp/t1.want" || fail "type 1 findings: $(cat "$tmp/t1.got")"
fi

# An icon image left in a de-identified file: its sequence is one the policy removes, and
# its pixels are not searched, which blocks whatever --fail-on says. run removes it.
if command -v dcmodify >/dev/null 2>&1; then
    "$DEIDTK" run "$in/IM0002.dcm" -o "$tmp/I" --key "$key" --no-ocr --no-audit \
        >/dev/null 2>&1 || fail "run of IM0002 exit $?"
    mkdir -p "$tmp/icon"
    cp "$(find "$tmp/I" -name '*.dcm' | head -1)" "$tmp/icon/icon.dcm"
    head -c 4096 /dev/zero >"$tmp/icon.raw"
    icon="(0088,0200)[0]"
    dcmodify -nb -i "$icon.(0028,0002)=1" -i "$icon.(0028,0004)=MONOCHROME2" \
        -i "$icon.(0028,0010)=64" -i "$icon.(0028,0011)=64" -i "$icon.(0028,0100)=8" \
        -i "$icon.(0028,0101)=8" -i "$icon.(0028,0102)=7" -i "$icon.(0028,0103)=0" \
        -if "$icon.(7fe0,0010)=$tmp/icon.raw" "$tmp/icon/icon.dcm" >/dev/null 2>&1 ||
        fail "dcmodify could not add an icon"
    "$DEIDTK" verify "$tmp/icon" --no-ocr --fail-on leak --jsonl --report "$tmp/ir" \
        >"$tmp/icon.jsonl" 2>/dev/null
    rc=$?
    [ $rc -eq 1 ] || fail "verify of a file with an icon exit $rc, expected 1 (blocked)"
    found() { jq -r "select(.detector == \"$1\" and .where == \"$2\") | .id" "$tmp/icon.jsonl"; }
    [ -n "$(found nested-pixels "(0088,0200)[0].(7FE0,0010)")" ] ||
        fail "icon pixels not reported: $(cat "$tmp/icon.jsonl")"
    [ -n "$(found policy-action "(0088,0200)")" ] ||
        fail "the removed Icon Image Sequence not reported: $(cat "$tmp/icon.jsonl")"
    "$DEIDTK" run "$tmp/icon" -o "$tmp/I2" --key "$key" --no-ocr --no-audit \
        >/dev/null 2>&1 || fail "run of the file with an icon exit $?"
    "$DEIDTK" verify "$tmp/I2" --no-ocr --jsonl --report "$tmp/ir2" >"$tmp/icon2.jsonl" \
        2>/dev/null
    ! grep -q "0088,0200" "$tmp/icon2.jsonl" || fail "run left the icon: $(cat "$tmp/icon2.jsonl")"
fi

# --shard: a study under two patients, one file in each of shards 1 and 2 of 4, is found
# when the shards' reports merge, as one verify finds it; without the key the shards keep
# no facts, and the merge says the rule was checked in each alone.
two="$tmp/two"
shared_study "$two"
"$DEIDTK" verify "$two" --no-ocr --key "$key" --report "$tmp/V" >/dev/null 2>&1
jq -e '[.findings[] | select(.detector == "dataset-study")] | length == 1' "$tmp/V.json" \
    >/dev/null || fail "verify did not find the study under two patients"
for k in 1 2 3 4; do
    "$DEIDTK" verify "$two" --no-ocr --key "$key" --shard "$k/4" --report "$tmp/V$k" \
        >/dev/null 2>&1
    [ $? -le 1 ] || fail "verify --shard $k/4 failed"
    [ "$(jq '.files | length' "$tmp/V$k.json")" -eq $((k <= 2)) ] ||
        fail "verify --shard $k/4 inspected $(jq '.files | length' "$tmp/V$k.json") files"
    "$DEIDTK" verify "$two" --no-ocr --shard "$k/4" --report "$tmp/W$k" >/dev/null 2>&1
done
jq -e '.meta.shard == "2/4"' "$tmp/V2.json" >/dev/null || fail "no shard in the report's facts"
"$DEIDTK" report "$tmp/V1.json" "$tmp/V2.json" "$tmp/V3.json" "$tmp/V4.json" \
    -o "$tmp/VM.json" >/dev/null 2>&1
jq -e '[.findings[] | select(.detector == "dataset-study")] | length == 1' "$tmp/VM.json" \
    >/dev/null || fail "merged verify shards did not find the study under two patients"
"$DEIDTK" report "$tmp/W1.json" "$tmp/W2.json" "$tmp/W3.json" "$tmp/W4.json" \
    -o "$tmp/WM.json" 2>"$tmp/WM.err" >/dev/null
grep -q "checked within each shard only" "$tmp/WM.err" ||
    fail "merging keyless verify shards gave no warning: $(cat "$tmp/WM.err")"
finish
