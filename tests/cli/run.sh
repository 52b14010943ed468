#!/bin/sh
# tests/cli/run.sh — deidtk run on copies of samples/: exit status and summary, the output
# tree, inputs untouched, determinism across --jobs and --shard, no PHI on the terminal, in
# the log or in paths, bad inputs, DICOM validity (dciodvfy), --export-mappings, and
# deidtk verify of the output (paired through the audit trail) and of the raw inputs.
. "${top_srcdir:-.}/tests/cli/lib.sh"
need jq

in="$tmp/in"
copy_samples "$in"
key="$tmp/k.key"
make_key "$key"
tree_sums "$in" >"$tmp/in.before"
phi_values "$in"/*.dcm >"$tmp/phi"
nin=$(ls "$in"/*.dcm | wc -l)

# ---- one run, one thread ----------------------------------------------------------------
A="$tmp/A"
"$DEIDTK" run "$in" -o "$A" --key "$key" --jobs 1 --no-ocr --log "$tmp/A.log" \
    --audit "$tmp/A.sqlite" >"$tmp/A.out" 2>"$tmp/A.err"
rc=$?
[ $rc -eq 0 ] || fail "run exit $rc (expected 0: tags only, gate passes): $(cat "$tmp/A.err")"
grep -q "^deidtk run: $nin files, $nin de-identified, 0 failed" "$tmp/A.out" ||
    fail "summary: $(cat "$tmp/A.out")"
grep -q "gate: PASS" "$tmp/A.out" || fail "summary lacks gate: PASS"
tree_sums "$in" >"$tmp/in.after"
cmp -s "$tmp/in.before" "$tmp/in.after" || fail "run modified its inputs"

# OUT/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm and nothing else inside OUT
[ "$(find "$A" -type f | wc -l)" -eq "$nin" ] || fail "expected $nin files in OUT: $(find "$A" -type f)"
[ -z "$(find "$A" ! -type d ! -name '*.dcm')" ] || fail "OUT holds more than .dcm files"
[ -f "$A-report.json" ] && [ -f "$A-report.html" ] || fail "no report beside OUT"
for f in $(cd "$A" && find . -type f | sed 's|^\./||'); do
    pid=$(dump_value "$A/$f" "(0010,0020)")
    st=$(dump_value "$A/$f" "(0020,000D)")
    se=$(dump_value "$A/$f" "(0020,000E)")
    sop=$(dump_value "$A/$f" "(0008,0018)")
    [ "$f" = "$pid/$st/$se/$sop.dcm" ] || fail "layout: $f is not $pid/$st/$se/$sop.dcm"
done
for n in $(cd "$in" && ls); do
    b=${n%.dcm}
    find "$A" | grep -q "$b" && fail "input name $b reused in the output tree"
done
find "$A" | grep -i -F -f "$tmp/phi" && fail "PHI in an output path"

# no PHI on the terminal, in the log or the report (values are masked unless --show-values)
[ "$(wc -l <"$tmp/A.log")" -eq "$nin" ] || fail "log: expected one line per input"
jq -e . "$tmp/A.log" >/dev/null || fail "log lines are not JSON"
assert_no_phi "$tmp/phi" "run output/log/report" "$tmp/A.out" "$tmp/A.err" "$tmp/A.log" \
    "$A-report.json" "$A-report.html"

# ---- determinism: shards and threads give the same bytes ---------------------------------
for k in 1 2 3; do
    "$DEIDTK" run "$in" -o "$tmp/B$k" --key "$key" --jobs 2 --shard "$k/3" --no-ocr \
        --no-audit >"$tmp/B$k.out" 2>&1
    rc=$?
    [ $rc -eq 0 ] || fail "shard $k/3 exit $rc: $(cat "$tmp/B$k.out")"
    assert_no_phi "$tmp/phi" "shard run output" "$tmp/B$k.out"
done
(for k in 1 2 3; do cd "$tmp/B$k" && find . -type f; done) | sort >"$tmp/B.list"
(cd "$A" && find . -type f) | sort >"$tmp/A.list"
[ "$(sort -u "$tmp/B.list" | wc -l)" -eq "$(wc -l <"$tmp/B.list")" ] ||
    fail "shards overlap: $(sort "$tmp/B.list" | uniq -d)"
cmp -s "$tmp/A.list" "$tmp/B.list" || fail "shards made other files than --jobs 1"
while read -r f; do
    for k in 1 2 3; do
        [ -f "$tmp/B$k/$f" ] && { cmp -s "$A/$f" "$tmp/B$k/$f" || fail "shard output $f differs"; }
    done
done <"$tmp/A.list"

# ---- bad inputs: the run goes on, exit 3, one line per bad file, nothing partial ---------
bad="$tmp/bad"
copy_samples "$bad"
: >"$bad/empty.dcm"
head -c 1000 "$samples/IM0002.dcm" >"$bad/truncated.dcm"
echo "Just some notes, not DICOM at all" >"$bad/notes.dcm"
# readable DICOM that is no composite object: no SOP Instance UID to name its output by
cp "$samples/IM0002.dcm" "$bad/nosop.dcm"
dcmodify -q -nb -ea "(0008,0018)" "$bad/nosop.dcm" || fail "dcmodify failed"
"$DEIDTK" run "$bad" -o "$tmp/C" --key "$key" --no-ocr --audit "$tmp/C.sqlite" \
    >"$tmp/C.out" 2>"$tmp/C.err"
rc=$?
[ $rc -eq 3 ] || fail "run with unreadable inputs exit $rc, expected 3"
for n in empty truncated notes nosop; do
    [ "$(grep -c "$n\.dcm" "$tmp/C.err")" -eq 1 ] ||
        fail "expected one line naming $n.dcm on stderr: $(cat "$tmp/C.err")"
done
grep -q "$nin de-identified, 4 failed" "$tmp/C.out" || fail "summary: $(cat "$tmp/C.out")"
# the trail records the failures, and no output for them
if command -v sqlite3 >/dev/null 2>&1; then
    n=$(sqlite3 "$tmp/C.sqlite" "SELECT count(*) FROM files WHERE status='error' AND output_path IS NULL")
    [ "$n" = 4 ] || bad "the trail has $n failed files without an output path, expected 4"
fi
[ "$(find "$tmp/C" -type f | wc -l)" -eq "$nin" ] || fail "bad inputs left output files"
[ -z "$(find "$tmp/C" -name '.deidtk-*')" ] || fail "temporary files left in OUT"
assert_no_phi "$tmp/phi" "run output with bad inputs" "$tmp/C.out" "$tmp/C.err"
# A file name with a line break and a terminal's escape sequence gets its one line, with
# both written as escapes.
odd="$tmp/odd"
mkdir -p "$odd"
echo "not DICOM" >"$odd/$(printf 'line\nbreak\033[31m.dcm')"
"$DEIDTK" run "$odd" -o "$tmp/O" --key "$key" --no-ocr --no-audit >"$tmp/O.out" 2>"$tmp/O.err"
[ "$(wc -l <"$tmp/O.err")" -eq 1 ] || fail "an odd file name broke its error line: $(cat -A "$tmp/O.err")"
grep -qF 'line\nbreak\x1b[31m.dcm: not DICOM' "$tmp/O.err" ||
    fail "an odd file name not escaped: $(cat -A "$tmp/O.err")"
# A file name in Latin-1 leaves the log and the reports valid UTF-8, as JSON must be.
cp "$samples/IM0002.dcm" "$odd/$(printf 'M\374ller.dcm')"
"$DEIDTK" run "$odd" -o "$tmp/O2" --key "$key" --no-ocr --no-audit --log "$tmp/O2.log" \
    --report "$tmp/O2" >/dev/null 2>&1
for f in "$tmp/O2.log" "$tmp/O2.json" "$tmp/O2.html"; do
    iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || fail "$(basename "$f") is not valid UTF-8"
done

# ---- links and empty inputs ----------------------------------------------------------------
# A folder named through a link is walked; a link to a file inside a folder is read like the
# file; a folder with no file is an error (exit 2), never an empty dataset that passes.
ln -s "$in" "$tmp/in-link"
mkdir -p "$tmp/linked"
ln -s "$in/IM0002.dcm" "$tmp/linked/one.dcm"
for src in in-link linked; do
    "$DEIDTK" run "$tmp/$src" -o "$tmp/K-$src" --key "$key" --no-ocr --no-audit --jobs 1 \
        >"$tmp/K.out" 2>&1 || fail "run on $src exit $?: $(cat "$tmp/K.out")"
done
[ "$(find "$tmp/K-in-link" -name '*.dcm' | wc -l)" -eq "$nin" ] ||
    fail "a linked input folder was not walked"
[ "$(find "$tmp/K-linked" -name '*.dcm' | wc -l)" -eq 1 ] || fail "a linked file was not read"
mkdir -p "$tmp/empty"
"$DEIDTK" run "$tmp/empty" -o "$tmp/K-empty" --key "$key" --no-ocr --no-audit >"$tmp/K.out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "run on an empty folder exit $rc, expected 2"
grep -q "empty: no files found" "$tmp/K.out" || fail "run on an empty folder: $(cat "$tmp/K.out")"
[ ! -e "$tmp/K-empty" ] || fail "run on an empty folder created its output folder"
"$DEIDTK" verify "$tmp/empty" --no-ocr >"$tmp/K.out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "verify of an empty folder exit $rc, expected 2"

# ---- numbers on the command line: whole, in range, or a usage error before any work -------
for j in 0 2x 1025 99999999999; do
    "$DEIDTK" run "$in" -o "$tmp/J" --key "$key" --no-ocr --no-audit --jobs "$j" >"$tmp/J.out" 2>&1
    rc=$?
    [ $rc -eq 2 ] && grep -q "jobs takes a number from 1 to 1024" "$tmp/J.out" &&
        [ ! -e "$tmp/J" ] || fail "--jobs $j: exit $rc, $(cat "$tmp/J.out")"
done
for a in "--offset-range 10:20x" "--offset-range 99999999999:1" "--ocr-frames sample:3x"; do
    # shellcheck disable=SC2086
    "$DEIDTK" run "$in" -o "$tmp/J" --key "$key" --no-audit $a >"$tmp/J.out" 2>&1
    rc=$?
    [ $rc -eq 2 ] && [ ! -e "$tmp/J" ] || fail "$a: exit $rc, $(cat "$tmp/J.out")"
done

# ---- one SOP Instance UID twice: the same bytes are skipped, other bytes fail -----------
dup="$tmp/dup"
mkdir -p "$dup"
cp "$samples/IM0002.dcm" "$dup/a.dcm"
cp "$samples/IM0002.dcm" "$dup/b.dcm"
cp "$samples/IM0002.dcm" "$dup/c.dcm"
dcmodify -q -nb -m "(0008,103E)=ANOTHER SERIES" "$dup/c.dcm" || fail "dcmodify failed"
"$DEIDTK" run "$dup" -o "$tmp/D" --key "$key" --no-ocr --no-audit --jobs 1 \
    >"$tmp/D.out" 2>"$tmp/D.err"
rc=$?
[ $rc -eq 3 ] || fail "run with a conflicting duplicate exit $rc, expected 3"
grep -q "b\.dcm: the same file as another input: skipped" "$tmp/D.err" ||
    fail "the byte-identical copy was not skipped: $(cat "$tmp/D.err")"
grep -q "c\.dcm: another input has the same SOP Instance UID and other contents" "$tmp/D.err" ||
    fail "the conflicting copy was not refused: $(cat "$tmp/D.err")"
grep -q "3 files, 1 de-identified, 1 failed, 1 skipped" "$tmp/D.out" ||
    fail "summary: $(cat "$tmp/D.out")"
[ "$(find "$tmp/D" -type f | wc -l)" -eq 1 ] || fail "expected one output: $(find "$tmp/D" -type f)"

# The same three in separate shards (by FNV-1a of the name mod 4: a 1, b 2, c 3): no shard
# sees the others, each writes its file to one place in the release, and merging the
# shards' reports does what the whole run did: b skipped, c an error, the gate blocked.
for k in 1 2 3 4; do
    "$DEIDTK" run "$dup" -o "$tmp/E$k" --key "$key" --no-ocr --no-audit --shard "$k/4" \
        --report "$tmp/E$k" >/dev/null 2>&1 || fail "shard $k/4 of the duplicates failed"
done
for k in 1 2 3; do
    [ "$(find "$tmp/E$k" -type f | wc -l)" -eq 1 ] || fail "shard $k/4 did not write one file"
done
"$DEIDTK" report "$tmp/E1.json" "$tmp/E2.json" "$tmp/E3.json" "$tmp/E4.json" \
    -o "$tmp/E.json" >"$tmp/E.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "merging shards with a conflicting duplicate exit $rc: $(cat "$tmp/E.out")"
jq -e '[.files[] | .status] == ["ok", "skipped", "error"]' "$tmp/E.json" >/dev/null ||
    fail "merged statuses: $(jq -c '[.files[] | .status]' "$tmp/E.json")"
jq -e '.files[1].error | test("^the same file as .*E1/.*written by another shard")' \
    "$tmp/E.json" >/dev/null || fail "b's merge note: $(jq '.files[1].error' "$tmp/E.json")"
jq -e '.files[2].error | test("other contents")' "$tmp/E.json" >/dev/null ||
    fail "c's merge error: $(jq '.files[2].error' "$tmp/E.json")"
# Without c the shards merge and pass, b still skipped.
"$DEIDTK" report "$tmp/E2.json" "$tmp/E1.json" -o "$tmp/E12.json" >/dev/null 2>&1 ||
    fail "merging shards with an identical duplicate did not pass"
jq -e '[.files[] | .status] == ["ok", "skipped"]' "$tmp/E12.json" >/dev/null ||
    fail "identical duplicate statuses: $(jq -c '[.files[] | .status]' "$tmp/E12.json")"
# Runs with their trail record each output's SHA-256, which the merge compares without the
# files; without it the files are compared, and one that is gone blocks, saying so.
for k in 1 2; do
    "$DEIDTK" run "$dup" -o "$tmp/G$k" --key "$key" --no-ocr --audit "$tmp/G.sqlite" \
        --shard "$k/4" --report "$tmp/G$k" >/dev/null 2>&1 || fail "shard $k/4 with a trail failed"
done
rm -r "$tmp/E1" "$tmp/G1"
"$DEIDTK" report "$tmp/G1.json" "$tmp/G2.json" -o "$tmp/G.json" >/dev/null 2>&1 ||
    fail "merging shards with their outputs' SHA-256 needed the files"
jq -e '.files[1].status == "skipped"' "$tmp/G.json" >/dev/null ||
    fail "identical duplicate by SHA-256: $(jq -c '.files[1]' "$tmp/G.json")"
"$DEIDTK" report "$tmp/E1.json" "$tmp/E2.json" -o "$tmp/E.json" >/dev/null 2>&1
[ $? -eq 1 ] || fail "merging against a missing output did not block"
jq -e '.files[1].error | test("cannot be compared")' "$tmp/E.json" >/dev/null ||
    fail "missing output's merge error: $(jq '.files[1].error' "$tmp/E.json")"

# The dataset-wide rules across shards: a study under two patients, one in each shard, is
# found when their reports merge, as a whole run finds it. The facts the reports keep for
# that are tokens: no date offset, no ID in the clear.
two="$tmp/two"
shared_study "$two"
"$DEIDTK" run "$two" -o "$tmp/F" --key "$key" --no-ocr --no-audit --report "$tmp/F" \
    >/dev/null 2>&1
jq -e '[.findings[] | select(.detector == "dataset-study")] | length == 1' "$tmp/F.json" \
    >/dev/null || fail "the whole run did not find the study under two patients"
for k in 1 2 3 4; do
    "$DEIDTK" run "$two" -o "$tmp/F$k" --key "$key" --no-ocr --no-audit --shard "$k/4" \
        --report "$tmp/F$k" >/dev/null 2>&1 || fail "shard $k/4 of the shared study failed"
    jq -e '[.findings[] | select(.where == "dataset")] | length == 0' "$tmp/F$k.json" \
        >/dev/null || fail "shard $k/4 alone found a dataset fault"
done
"$DEIDTK" report "$tmp/F1.json" "$tmp/F2.json" "$tmp/F3.json" "$tmp/F4.json" \
    -o "$tmp/FM.json" >/dev/null 2>&1
jq -e '[.findings[] | select(.detector == "dataset-study")] | length == 1' "$tmp/FM.json" \
    >/dev/null || fail "merged shards did not find the study under two patients"
# Such a finding is in no run's trail: it is reviewed against the merged report, and the
# merge takes the review from the trail.
for k in 1 2; do
    "$DEIDTK" run "$two" -o "$tmp/H$k" --key "$key" --no-ocr --shard "$k/4" \
        --audit "$tmp/H.sqlite" --report "$tmp/H$k" >/dev/null 2>&1 || fail "H shard $k failed"
done
"$DEIDTK" report "$tmp/H1.json" "$tmp/H2.json" -o "$tmp/HM.json" >/dev/null 2>&1
id=$(jq -r '.findings[] | select(.detector == "dataset-study") | .id' "$tmp/HM.json")
[ -n "$id" ] || fail "no cross-shard finding to review"
"$DEIDTK" audit review --audit "$tmp/H.sqlite" --finding "$id" --reviewer "R. Viewer" \
    --decision waive --reason "one family" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a finding no run recorded was reviewed without --report"
"$DEIDTK" audit review --audit "$tmp/H.sqlite" --finding "$id" --report "$tmp/HM.json" \
    --reviewer "R. Viewer" --decision waive --reason "one family" >/dev/null 2>&1 ||
    fail "review of a merged report's finding exit $?"
"$DEIDTK" audit review --audit "$tmp/H.sqlite" --finding 0123456789abcdef \
    --report "$tmp/HM.json" --reviewer "R. Viewer" --decision waive --reason "x" \
    >/dev/null 2>&1
[ $? -eq 2 ] || fail "a finding the report does not list was reviewed"
"$DEIDTK" report "$tmp/H1.json" "$tmp/H2.json" -o "$tmp/HW.json" --audit "$tmp/H.sqlite" \
    >/dev/null 2>&1
jq -e --arg id "$id" '.findings[] | select(.id == $id) | .waived_by == "R. Viewer"' \
    "$tmp/HW.json" >/dev/null || fail "the merge did not take the review from the trail"
jq -e '[.files[].dataset | .[]] | length == 10 and all(test("^[0-9a-f]{32}$"))' \
    "$tmp/FM.json" >/dev/null || fail "dataset facts are not tokens: $(jq -c '.files' "$tmp/FM.json")"

# ---- UIDs kept from the input name no path outside OUT --------------------------------
# Under Retain UIDs the output's folder and file names are the input's UIDs: one that says
# "../../../../../escape" or "..", or holds two values, stays a name inside OUT, and verify
# names the fault.
esc="$tmp/esc"
mkdir -p "$esc"
cp "$samples/IM0002.dcm" "$esc/a.dcm"
dcmodify -q -nb -m "(0008,0018)=../../../../../escape" -m "(0020,000D)=1.2.3\\4.5" \
    -m "(0020,000E)=.." "$esc/a.dcm" ||
    fail "dcmodify failed"
"$DEIDTK" run "$esc" -o "$tmp/E/out" --key "$key" --option retain-uids --no-ocr --no-audit \
    --report "$tmp/E/rep" >"$tmp/E.out" 2>&1 || [ $? -eq 1 ] || fail "run: $(cat "$tmp/E.out")"
[ -z "$(find "$tmp/E" -name '*.dcm' ! -path "$tmp/E/out/*")" ] || fail "a file was written outside OUT"
[ -z "$(find "$tmp" -maxdepth 2 -name 'escape*')" ] || fail "a UID climbed out of OUT"
n=$(find "$tmp/E/out" -type f -name '*.dcm' | wc -l)
[ "$n" -eq 1 ] || fail "expected one output, found $n"
f=$(cd "$tmp/E/out" && find . -name '*.dcm' | sed 's|^\./||')
case "$f" in
*/1.2.3_4.5/_../.._.._.._.._.._escape.dcm) ;;
*) fail "output path $f" ;;
esac
for want in "SOP Instance UID is not a valid UID" "Study Instance UID has more than one value"; do
    jq -e --arg m "$want" '[.findings[] | select(.message == $m)] | length == 1' \
        "$tmp/E/rep.json" >/dev/null || fail "no finding: $want"
done

# ---- a DICOMDIR is skipped: it names the patients of the files it indexes ---------------
cd_in="$tmp/cd"
mkdir -p "$cd_in/IMG"
cp "$samples/IM0002.dcm" "$cd_in/IMG/IM1"
(cd "$cd_in" && dcmmkdir -q --recurse IMG) || fail "dcmmkdir failed"
dcmdump -q "$cd_in/DICOMDIR" | grep -q "(0010,0010)" || fail "the DICOMDIR holds no name"
"$DEIDTK" run "$cd_in" -o "$tmp/CD" --key "$key" --no-ocr --no-audit --jobs 1 \
    >"$tmp/CD.out" 2>"$tmp/CD.err"
rc=$?
[ $rc -le 1 ] || fail "run over a DICOMDIR exit $rc, expected 0 or 1: $(cat "$tmp/CD.err")"
grep -q "DICOMDIR: a DICOMDIR (media directory), not released" "$tmp/CD.err" ||
    fail "the DICOMDIR was not named as skipped: $(cat "$tmp/CD.err")"
grep -q "2 files, 1 de-identified, 0 failed, 1 skipped" "$tmp/CD.out" ||
    fail "summary: $(cat "$tmp/CD.out")"
[ "$(find "$tmp/CD" -type f | wc -l)" -eq 1 ] || fail "expected one output: $(find "$tmp/CD" -type f)"

# ---- the release manifest: what was verified, checkable where the release lands ----------
R="$tmp/R"
"$DEIDTK" run "$in" -o "$R" --key "$key" --no-ocr --audit "$R.sqlite" --report "$R" \
    >/dev/null 2>&1 || fail "run for the manifest exit $?"
"$DEIDTK" report "$R.json" -o "$R-2.html" --manifest "$R.sums" >"$R.out" 2>&1 ||
    fail "report --manifest exit $?: $(cat "$R.out")"
[ "$(wc -l <"$R.sums")" -eq "$nin" ] || fail "the manifest lists $(wc -l <"$R.sums") files"
(cd "$R" && sha256sum -c --quiet "$R.sums") || fail "sha256sum -c of the manifest failed"
"$DEIDTK" report "$R.json" -o "$R-2.html" --manifest "$R.man.json" --audit "$R.sqlite" \
    >/dev/null 2>&1 || fail "report --manifest --audit exit $?"
head=$("$DEIDTK" audit verify --audit "$R.sqlite" | awk '/^runs head/ {print $3}')
jq -e --arg h "$head" --argjson n "$nin" '.schema == "deidtk-manifest/1" and .count == $n
        and .meta.trail_runs_head == $h and (.files | map(.path) | sort) == (.files | map(.path))
        and all(.files[]; .sha256 | test("^[0-9a-f]{64}$"))' "$R.man.json" >/dev/null ||
    fail "JSON manifest: $(jq -c '.meta, .count' "$R.man.json")"
# Refused, and nothing written: a trail that did not record writing those bytes (a report
# is a plain file; the trail is chained), a blocked gate, an output changed since it was
# verified, a run without the trail (no record of what was verified).
mkdir -p "$R-one"
cp "$in/IM0002.dcm" "$R-one/"
"$DEIDTK" run "$R-one" -o "$R-one-out" --key "$key" --no-ocr --audit "$R-one.sqlite" \
    >/dev/null 2>&1 || fail "run of one file exit $?"
"$DEIDTK" report "$R.json" -o "$R-2.html" --manifest "$R.x" --audit "$R-one.sqlite" \
    >/dev/null 2>"$R.err"
[ $? -eq 1 ] && [ ! -e "$R.x" ] || fail "a trail without the outputs gave a manifest"
[ "$(grep -c "the trail has no run that wrote these bytes" "$R.err")" -eq $((nin - 1)) ] ||
    fail "outputs unknown to the trail: $(cat "$R.err")"
[ "$(jq '.findings | length' "$R.json")" -gt 0 ] || fail "no finding to block on"
"$DEIDTK" report "$R.json" -o "$R-2.html" --fail-on info --manifest "$R.x" >/dev/null 2>&1
[ $? -eq 1 ] && [ ! -e "$R.x" ] || fail "a blocked gate got a manifest"
one=$(find "$R" -name '*.dcm' | head -n 1)
printf x >>"$one"
"$DEIDTK" report "$R.json" -o "$R-2.html" --manifest "$R.x" >/dev/null 2>"$R.err"
[ $? -eq 1 ] && [ ! -e "$R.x" ] || fail "a changed output got a manifest"
grep -q "changed since it was verified" "$R.err" || fail "changed output: $(cat "$R.err")"
"$DEIDTK" run "$in" -o "$R-n" --key "$key" --no-ocr --no-audit --report "$R-n" >/dev/null 2>&1
"$DEIDTK" report "$R-n.json" -o "$R-2.html" --manifest "$R.x" >/dev/null 2>"$R.err"
[ $? -eq 2 ] && [ ! -e "$R.x" ] || fail "a run without the trail got a manifest"
grep -q "without the audit trail" "$R.err" || fail "--no-audit manifest: $(cat "$R.err")"
# Reviews recorded in the trail after the run waive their findings in the report (and the
# blocked gate above then passes).
jq -r '.findings[].id' "$R.json" | "$DEIDTK" audit review --audit "$R.sqlite" --findings - \
    --reviewer "R. Viewer" --decision waive --reason "looked at" >/dev/null 2>&1 ||
    fail "audit review exit $?"
"$DEIDTK" report "$R.json" -o "$R-w.json" --fail-on info --audit "$R.sqlite" >/dev/null 2>&1 ||
    fail "the waived report still blocks: $(jq -c '.gate' "$R-w.json")"
jq -e '.summary.waived == .summary.findings and .summary.findings > 0' "$R-w.json" >/dev/null ||
    fail "waivers from the trail: $(jq -c '.summary' "$R-w.json")"
# A later "fix" takes a waiver back, even one the report already had.
first=$(jq -r '.findings[0].id' "$R-w.json")
"$DEIDTK" audit review --audit "$R.sqlite" --finding "$first" --reviewer "R. Viewer" \
    --decision fix --reason "looked again" >/dev/null 2>&1 || fail "audit review fix exit $?"
"$DEIDTK" report "$R-w.json" -o "$R-f.json" --fail-on info --audit "$R.sqlite" >/dev/null 2>&1
[ $? -eq 1 ] || fail "a finding reviewed 'fix' after its waiver did not block"
jq -e --arg id "$first" '.findings[] | select(.id == $id) | .waived_by == null' "$R-f.json" \
    >/dev/null || fail "the fix did not take the waiver back"
# Shards: their merged reports give the manifest of their folders merged into one.
for k in 1 2 3; do
    "$DEIDTK" run "$in" -o "$R$k" --key "$key" --no-ocr --shard "$k/3" --audit "$R$k.sqlite" \
        --report "$R$k" >/dev/null 2>&1 || fail "shard $k/3 for the manifest exit $?"
done
"$DEIDTK" report "${R}1.json" "${R}2.json" "${R}3.json" -o "$R-m.html" --manifest "$R-m.sums" \
    >/dev/null 2>&1 || fail "manifest of merged shards exit $?"
mkdir -p "$R-all"
for k in 1 2 3; do cp -R "$R$k/." "$R-all/"; done
[ "$(wc -l <"$R-m.sums")" -eq "$nin" ] || fail "merged manifest lists $(wc -l <"$R-m.sums")"
(cd "$R-all" && sha256sum -c --quiet "$R-m.sums") || fail "merged shards fail their manifest"

# ---- --export-mappings -------------------------------------------------------------------
"$DEIDTK" run "$in" -o "$tmp/M" --key "$key" --no-ocr --no-audit --export-mappings "$tmp/maps" \
    >/dev/null 2>&1 || fail "run --export-mappings exit $?"
for m in uids patient_ids; do
    f="$tmp/maps/$m.csv"
    [ -f "$f" ] || fail "no $m.csv"
    [ "$(stat -c %a "$f")" = 600 ] || fail "$m.csv is mode $(stat -c %a "$f"), not 0600"
    [ "$(head -1 "$f")" = "id_old,id_new" ] || fail "$m.csv header: $(head -1 "$f")"
    dup=$(tail -n +2 "$f" | cut -d, -f1 | sort | uniq -d | wc -l)
    [ "$dup" -eq 0 ] || bad "$m.csv has $dup id_old values on more than one row"
done
for i in "$in"/*.dcm; do
    pid=$(dump_value "$i" "(0010,0020)")
    sop=$(dump_value "$i" "(0008,0018)")
    new=$(grep -F "\"$pid\"," "$tmp/maps/patient_ids.csv" | head -1 | cut -d, -f2)
    [ -n "$new" ] || new=$(grep "^$pid," "$tmp/maps/patient_ids.csv" | head -1 | cut -d, -f2)
    newsop=$(grep "^$sop," "$tmp/maps/uids.csv" | head -1 | cut -d, -f2)
    [ -n "$new" ] && [ -n "$newsop" ] || fail "$(basename "$i"): missing from the mappings"
    ls "$tmp/M/$new"/*/*/"$newsop.dcm" >/dev/null 2>&1 ||
        fail "$(basename "$i"): mappings do not match the output tree"
done
# the exported Patient IDs are a valid --lookup that reproduces the run
if "$DEIDTK" run "$in" -o "$tmp/L" --key "$key" --no-ocr --no-audit \
    --lookup "$tmp/maps/patient_ids.csv" >"$tmp/L.out" 2>&1; then
    diff -r "$tmp/M" "$tmp/L" >/dev/null || bad "--lookup of the exported IDs gave other outputs"
else
    bad "run --lookup <exported patient_ids.csv> exit $?: $(head -3 "$tmp/L.out" | tr -d '0-9')"
fi

# A Patient ID with a quote and a comma (LO allows both) is exported as a CSV field the
# lookup reads back.
mkdir -p "$tmp/qin"
cp "$samples/IM0002.dcm" "$tmp/qin/a.dcm"
dcmodify -q -nb -m '(0010,0020)=AB"C,1' "$tmp/qin/a.dcm" || fail "dcmodify failed"
"$DEIDTK" run "$tmp/qin" -o "$tmp/QM" --key "$key" --no-ocr --no-audit \
    --export-mappings "$tmp/qmaps" --report "$tmp/QM" >/dev/null 2>&1 || fail "run exit $?"
grep -qF '"AB""C,1",' "$tmp/qmaps/patient_ids.csv" ||
    fail "patient_ids.csv: $(tail -1 "$tmp/qmaps/patient_ids.csv" | cut -d, -f1)"
"$DEIDTK" run "$tmp/qin" -o "$tmp/QL" --key "$key" --no-ocr --no-audit \
    --lookup "$tmp/qmaps/patient_ids.csv" --report "$tmp/QL" >"$tmp/QL.out" 2>&1 ||
    fail "--lookup of an exported quoted ID: $(head -1 "$tmp/QL.out" | tr -d '0-9')"
diff -r "$tmp/QM" "$tmp/QL" >/dev/null || fail "--lookup of an exported quoted ID gave other outputs"

# ---- deidtk verify of the output (paired through the trail) and of the raw inputs --------
"$DEIDTK" verify "$A" --key "$key" --audit "$tmp/A.sqlite" --no-ocr --jsonl \
    --report "$tmp/VA" >"$tmp/VA.jsonl" 2>"$tmp/VA.err"
rc=$?
[ $rc -eq 0 ] || fail "verify of the output exit $rc: $(cat "$tmp/VA.err")"
grep -q "$nin files ($nin paired with their originals)" "$tmp/VA.err" ||
    fail "verify did not pair every output: $(cat "$tmp/VA.err")"
bad_sev=$(jq -r 'select(.severity == "leak" or .severity == "phi") | .detector + " " + .where' \
    "$tmp/VA.jsonl") || fail "verify --jsonl is not JSON lines"
[ -z "$bad_sev" ] || fail "leak/phi findings in the output: $bad_sev"

# Pairing holds whatever folder verify runs in, and after the release is moved: the trail
# records absolute paths, and an output's SOP Instance UID finds a moved copy.
(cd "$tmp" && "$DEIDTK" run in -o R --key "$key" --no-ocr --audit R.sqlite >/dev/null 2>&1) ||
    fail "run with a relative output folder exit $?"
(cd / && "$DEIDTK" verify "$tmp/R" --key "$key" --audit "$tmp/R.sqlite" --no-ocr \
    --report "$tmp/VP") >"$tmp/VP.out" 2>&1
grep -q "$nin files ($nin paired with their originals)" "$tmp/VP.out" ||
    fail "verify from another folder did not pair: $(cat "$tmp/VP.out")"
mv "$tmp/R" "$tmp/R-moved"
"$DEIDTK" verify "$tmp/R-moved" --key "$key" --audit "$tmp/R.sqlite" --no-ocr \
    --report "$tmp/VP" >"$tmp/VP.out" 2>&1
grep -q "$nin files ($nin paired with their originals)" "$tmp/VP.out" ||
    fail "verify of a moved release did not pair: $(cat "$tmp/VP.out")"

# A trail named without the key pairs as well: the key only derives, the trail records.
"$DEIDTK" verify "$tmp/R-moved" --audit "$tmp/R.sqlite" --no-ocr --report "$tmp/VP" \
    >"$tmp/VP.out" 2>&1
grep -q "$nin files ($nin paired with their originals)" "$tmp/VP.out" ||
    fail "verify --audit without --key did not pair: $(cat "$tmp/VP.out")"

# A release de-identified again (a second stage, a re-run) gives no leak: the earlier
# pseudonyms share their prefix with the new ones, not their identity.
"$DEIDTK" run "$tmp/R-moved" -o "$tmp/RR" --key "$key" --no-ocr --no-audit \
    --report "$tmp/RR" >"$tmp/RR.out" 2>&1 ||
    fail "run over its own output exit $?: $(tail -2 "$tmp/RR.out" | head -1)"
grep -q "(leak 0, phi 0," "$tmp/RR.out" || fail "run over its own output: $(tail -2 "$tmp/RR.out")"

# An input is no output of the trail: it has no original to pair with.
"$DEIDTK" verify "$in" --key "$key" --audit "$tmp/A.sqlite" --no-ocr --report "$tmp/VI" \
    >"$tmp/VI.out" 2>&1
grep -q "$nin files (0 paired with their originals)" "$tmp/VI.out" ||
    fail "verify paired inputs through the trail: $(cat "$tmp/VI.out")"

"$DEIDTK" verify "$in" --no-ocr --jsonl --report "$tmp/VR" >"$tmp/VR.jsonl" 2>"$tmp/VR.err"
rc=$?
[ $rc -eq 1 ] || fail "verify of raw inputs exit $rc, expected 1 (blocked)"
# every raw file is flagged for its patient's name, ID and birth date (blocking severities)
for i in "$in"/*.dcm; do
    for t in "(0010,0010)" "(0010,0020)" "(0010,0030)"; do
        n=$(jq -r --arg f "$i" --arg t "$t" 'select(.file == $f and .where == $t and
            (.severity == "leak" or .severity == "phi" or .severity == "suspect")) | .id' \
            "$tmp/VR.jsonl" | wc -l)
        [ "$n" -gt 0 ] || bad "verify of raw $(basename "$i"): no finding at $t"
    done
done
assert_no_phi "$tmp/phi" "verify output of raw inputs" "$tmp/VR.jsonl" "$tmp/VR.err" "$tmp/VR.json"

# ---- dciodvfy: no error the input did not already have -----------------------------------
if command -v dciodvfy >/dev/null 2>&1; then
    # errors without their file-specific values (UIDs, quoted values)
    errs() {
        dciodvfy "$1" 2>&1 | grep '^Error' |
            sed -E 's/[0-9]+(\.[0-9]+){2,}/UID/g; s/"[^"]*"/"V"/g; s/<[0-9 .\\-]*>/<V>/g' | sort -u
    }
    status=0
    jq -r '.input + "\t" + .output' "$tmp/A.log" >"$tmp/pairs"
    while IFS="$(printf '\t')" read -r i o; do
        errs "$i" >"$tmp/e.in"
        errs "$o" >"$tmp/e.out"
        new=$(comm -13 "$tmp/e.in" "$tmp/e.out")
        if [ -n "$new" ]; then
            echo "dciodvfy: new errors in the output of $(basename "$i"):"
            echo "$new" | sed 's/^/    /'
            status=1
        fi
    done <"$tmp/pairs"
    [ $status -eq 0 ] || bad "de-identification made invalid DICOM (see above)"
else
    echo "note: dciodvfy (dicom3tools) not installed; validity not checked"
fi
# The Basic Profile over real files whose comments, code meanings and placeholders look
# alike (pydicom's test files, when python3-pydicom is installed): no false leak.
pyd=/usr/lib/python3/dist-packages/pydicom/data/test_files
if [ -r "$pyd/MR_small.dcm" ] && [ -r "$pyd/SC_rgb_dcmtk_+eb+cr.dcm" ]; then
    mkdir -p "$tmp/pyd"
    cp "$pyd/MR_small.dcm" "$pyd/SC_rgb_dcmtk_+eb+cr.dcm" "$tmp/pyd/"
    "$DEIDTK" run "$tmp/pyd" -o "$tmp/PB" --key "$key" --preset basic --no-ocr --no-audit \
        --report "$tmp/PB" >"$tmp/PB.out" 2>&1
    grep -q "(leak 0," "$tmp/PB.out" || fail "basic profile on pydicom files: $(tail -2 "$tmp/PB.out")"
fi
# A kept ICC profile names its standard's web site: no finding.
if [ -r "$pyd/../palettes/spring.dcm" ]; then
    mkdir -p "$tmp/icc"
    cp "$pyd/../palettes/spring.dcm" "$tmp/icc/"
    "$DEIDTK" run "$tmp/icc" -o "$tmp/ICC" --key "$key" --no-ocr --no-audit --report "$tmp/ICC" \
        >/dev/null 2>&1
    [ -z "$(jq -r '.findings[] | select(.detector == "url") | .where' "$tmp/ICC.json")" ] ||
        fail "a kept ICC profile gave a url finding"
fi

# Clean Structured Content keeps a report's Text Values, cleaned: its own verification
# takes them for kept, not for values the policy removes, and finds no leak.
"$DEIDTK" run "$in" -o "$tmp/CSC" --key "$key" --option clean-structured-content --no-ocr \
    --no-audit --report "$tmp/CSC" >"$tmp/CSC.out" 2>&1
grep -q "(leak 0, phi 0, suspect 0," "$tmp/CSC.out" &&
    [ -z "$(jq -r '.findings[] | select(.detector == "policy-action") | .where' "$tmp/CSC.json")" ] ||
    fail "clean-structured-content: $(tail -2 "$tmp/CSC.out" | head -1)"

# Retain Institution Identity keeps the institution's address: not a patient's, no finding.
"$DEIDTK" run "$in" -o "$tmp/RII" --key "$key" --option retain-institution-identity --no-ocr \
    --no-audit --report "$tmp/RII" >"$tmp/RII.out" 2>&1
grep -q "(leak 0, phi 0, suspect 0," "$tmp/RII.out" ||
    fail "retain-institution-identity: $(tail -2 "$tmp/RII.out" | head -1)"

finish
