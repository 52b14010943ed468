#!/bin/sh
# tests/cli/audit-run.sh — the audit trail deidtk run writes: trace of an output, verify,
# tamper detection, resume after SIGKILL (each input once), merge of shard trails, no PHI
# in the database unless --audit-originals, and the hashes of a file too large to keep in
# memory.
. "${top_srcdir:-.}/tests/cli/lib.sh"
need sqlite3
need jq

in="$tmp/in"
copy_samples "$in"
key="$tmp/k.key"
make_key "$key"
phi_values "$in"/*.dcm >"$tmp/phi"
nin=$(ls "$in"/*.dcm | wc -l)
db="$tmp/a.sqlite"

"$DEIDTK" run "$in" -o "$tmp/out" --key "$key" --no-ocr --audit "$db" --log "$tmp/log" \
    >"$tmp/run.out" 2>&1 || fail "run exit $?: $(cat "$tmp/run.out")"

# ---- tracing is indexed: output path, SOP Instance UID and input path ----------------------
# Without an index, verifying a dataset against its trail reads the files table once a file.
indexed() {
    for col in output_path output_sop_uid input_path; do
        sqlite3 "$1" "EXPLAIN QUERY PLAN SELECT id FROM files WHERE $col = 'x'" |
            grep -Eq "USING (COVERING )?INDEX" || return 1
    done
}
indexed "$db" || fail "a lookup column of the files table has no index"
# A trail from before the input path index gets it from its next run.
cp "$db" "$tmp/old.sqlite"
sqlite3 "$tmp/old.sqlite" "DROP INDEX files_input_path" || fail "could not drop the index"
indexed "$tmp/old.sqlite" && fail "dropping the index changed nothing"
"$DEIDTK" run "$in" -o "$tmp/out-old" --key "$key" --no-ocr --audit "$tmp/old.sqlite" \
    >/dev/null 2>&1 || fail "run on an older trail exit $?"
indexed "$tmp/old.sqlite" || fail "a run on an older trail did not add the input path index"
"$DEIDTK" audit verify --audit "$tmp/old.sqlite" >/dev/null || fail "the older trail no longer verifies"

# ---- trace: an output's input, run and changes ----------------------------------------------
o=$(jq -r 'select(.input | endswith("IM0002.dcm")) | .output' "$tmp/log")
[ -f "$o" ] || fail "no output for IM0002.dcm in the log"
"$DEIDTK" audit trace "$o" --audit "$db" >"$tmp/trace" 2>&1 || fail "trace exit $?"
grep -q "^input .*IM0002\.dcm" "$tmp/trace" || fail "trace lacks the input: $(head -5 "$tmp/trace")"
grep -q "^output-sha256 *$(sha256sum "$o" | cut -d' ' -f1)" "$tmp/trace" ||
    fail "trace: output sha256 is not the file's"
grep -q "^  (0010,0010)	replace	" "$tmp/trace" || fail "trace lacks the Patient's Name change"
grep -q "^  (0010,0030)	empty	" "$tmp/trace" || fail "trace lacks the Birth Date change"
grep -q "^  (0008,0018)	U	$(dump_value "$o" "(0008,0018)")" "$tmp/trace" ||
    fail "trace lacks the SOP Instance UID change"
# An input named with a terminal's escape sequence is traced as text.
mkdir -p "$tmp/odd"
cp "$in/IM0002.dcm" "$tmp/odd/$(printf 'odd\033[31m.dcm')"
"$DEIDTK" run "$tmp/odd" -o "$tmp/odd-out" --key "$key" --no-ocr --audit "$tmp/odd.sqlite" \
    >/dev/null 2>&1 || fail "run on an odd name exit $?"
"$DEIDTK" audit trace "$(find "$tmp/odd-out" -name '*.dcm')" --audit "$tmp/odd.sqlite" \
    >"$tmp/odd.trace" 2>&1 || fail "trace of an odd name exit $?"
grep -qF 'odd\x1b[31m.dcm' "$tmp/odd.trace" && ! grep -q "$(printf '\033')" "$tmp/odd.trace" ||
    fail "trace printed an input name's escape sequence: $(grep '^input' "$tmp/odd.trace" | cat -A)"
sop=$(dump_value "$o" "(0008,0018)")
"$DEIDTK" audit trace "$sop" --audit "$db" | grep -q "^output .*$sop\.dcm" ||
    fail "trace by SOP Instance UID"
assert_no_phi "$tmp/phi" "audit trace" "$tmp/trace"

# ---- verify, then tamper ----------------------------------------------------------------------
"$DEIDTK" audit verify --audit "$db" >"$tmp/v" 2>&1 || fail "audit verify exit $?: $(cat "$tmp/v")"
grep -q "OK: 1 runs (0 unfinished), $nin files" "$tmp/v" || fail "audit verify: $(cat "$tmp/v")"
cp "$db" "$tmp/t.sqlite"
row=$(sqlite3 "$tmp/t.sqlite" "SELECT id FROM changes WHERE tag_path = '(0010,0010)' LIMIT 1")
[ -n "$row" ] || fail "no (0010,0010) change in the trail"
sqlite3 "$tmp/t.sqlite" "DROP TRIGGER IF EXISTS changes_no_update;
    UPDATE changes SET new_value = 'TAMPERED' WHERE id = $row;" || fail "could not tamper"
"$DEIDTK" audit verify --audit "$tmp/t.sqlite" >"$tmp/tv" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "audit verify of a tampered trail exit $rc, expected 1"
grep -q "changes row $row" "$tmp/tv" || fail "tamper report does not name changes row $row: $(cat "$tmp/tv")"
# deidtk report takes no review from a tampered trail and makes no manifest with it; the
# intact trail gives one.
[ -f "$tmp/out-report.json" ] || fail "no run report at $tmp/out-report.json"
"$DEIDTK" report "$tmp/out-report.json" -o "$tmp/tr.json" --audit "$tmp/t.sqlite" \
    --manifest "$tmp/tr.sums" >/dev/null 2>"$tmp/tr.err"
rc=$?
[ $rc -eq 1 ] && [ ! -e "$tmp/tr.sums" ] || fail "report with a tampered trail exit $rc"
grep -q "BROKEN at changes row $row" "$tmp/tr.err" || fail "tampered trail: $(cat "$tmp/tr.err")"
"$DEIDTK" report "$tmp/out-report.json" -o "$tmp/tr.json" --audit "$db" \
    --manifest "$tmp/tr.sums" >/dev/null 2>&1 || fail "report with the intact trail exit $?"
[ "$(wc -l <"$tmp/tr.sums")" -eq "$nin" ] || fail "manifest with the intact trail"
# A damaged trail is one line naming it, for verify and for merge alike.
head -c 3000 "$db" >"$tmp/cut.sqlite"
for cmd in verify merge; do
    if [ $cmd = merge ]; then
        "$DEIDTK" audit merge "$tmp/cut.sqlite" --audit "$tmp/m.sqlite" >"$tmp/cut.out" 2>&1
    else
        "$DEIDTK" audit verify --audit "$tmp/cut.sqlite" >"$tmp/cut.out" 2>&1
    fi
    rc=$?
    [ $rc -ne 0 ] && [ "$(wc -l <"$tmp/cut.out")" -eq 1 ] && grep -q "cut\.sqlite: " "$tmp/cut.out" ||
        fail "audit $cmd of a damaged trail (exit $rc): $(cat "$tmp/cut.out")"
done

# ---- no PHI in the database, unless --audit-originals ------------------------------------------
assert_no_phi "$tmp/phi" "the audit database" "$db" $(ls "$db-wal" 2>/dev/null)
"$DEIDTK" run "$in" -o "$tmp/out2" --key "$key" --no-ocr --audit "$tmp/orig.sqlite" \
    --audit-originals >/dev/null 2>&1 || fail "run --audit-originals exit $?"
grep -a -q -F -f "$tmp/phi" "$tmp/orig.sqlite" $(ls "$tmp/orig.sqlite-wal" 2>/dev/null) ||
    bad "--audit-originals stored no original value"

# ---- a file refused after de-identification: its changes are in the trail, with HMACs ---------
# c.dcm has IM0002's SOP Instance UID and other contents: it is de-identified, then refused.
mkdir -p "$tmp/dup"
cp "$in/IM0002.dcm" "$tmp/dup/a.dcm"
cp "$in/IM0002.dcm" "$tmp/dup/c.dcm"
dcmodify -q -nb -m "(0008,103E)=ANOTHER SERIES" "$tmp/dup/c.dcm" || fail "dcmodify failed"
for orig in "" --audit-originals; do
    rm -f "$tmp/dup.sqlite"
    # shellcheck disable=SC2086 # $orig is one flag or none
    "$DEIDTK" run "$tmp/dup" -o "$tmp/dup-out$orig" --key "$key" --no-ocr --jobs 1 \
        --audit "$tmp/dup.sqlite" $orig >/dev/null 2>&1
    [ $? -eq 3 ] || fail "run with a conflicting copy ($orig) did not fail the copy"
    q="SELECT COUNT(*) FROM changes c JOIN files f ON f.id = c.file_id
       WHERE f.input_path LIKE '%/c.dcm' AND f.status = 'error'"
    all=$(sqlite3 "$tmp/dup.sqlite" "$q")
    hashed=$(sqlite3 "$tmp/dup.sqlite" "$q AND length(c.original_hmac) = 64")
    [ "$all" -gt 10 ] && [ "$hashed" -gt 10 ] ||
        fail "the refused file's changes ($orig): $all rows, $hashed with an HMAC"
    [ "$(sqlite3 "$tmp/dup.sqlite" "SELECT COUNT(*) FROM changes WHERE original_hmac = ''
        AND original <> ''")" -eq 0 ] || fail "a change with an original but no HMAC ($orig)"
done

# ---- shards with their own trails, merged ------------------------------------------------------
for k in 1 2 3; do
    "$DEIDTK" run "$in" -o "$tmp/sh" --key "$key" --no-ocr --shard "$k/3" \
        --audit "$tmp/s$k.sqlite" --report "$tmp/s$k" >/dev/null 2>&1 || fail "shard $k exit $?"
done
"$DEIDTK" audit merge "$tmp/s1.sqlite" "$tmp/s2.sqlite" "$tmp/s3.sqlite" \
    --audit "$tmp/m.sqlite" >"$tmp/merge" 2>&1 || fail "merge exit $?: $(cat "$tmp/merge")"
"$DEIDTK" audit verify --audit "$tmp/m.sqlite" >"$tmp/mv" 2>&1 ||
    fail "verify of the merged trail exit $?: $(cat "$tmp/mv")"
grep -q "OK: 3 runs (0 unfinished), $nin files" "$tmp/mv" || fail "merged trail: $(cat "$tmp/mv")"
[ "$(sqlite3 "$tmp/m.sqlite" "SELECT COUNT(DISTINCT input_sha256) FROM files WHERE status='ok'")" \
    -eq "$nin" ] || fail "merged trail does not hold every input once"
# merging again adds nothing
"$DEIDTK" audit merge "$tmp/s2.sqlite" --audit "$tmp/m.sqlite" >/dev/null 2>&1
[ "$(sqlite3 "$tmp/m.sqlite" "SELECT COUNT(*) FROM runs")" -eq 3 ] || fail "re-merge copied a run again"
assert_no_phi "$tmp/phi" "the merged database" "$tmp/m.sqlite"

# ---- SIGKILL mid-run, then a rerun with the same key and trail --------------------------------
many="$tmp/many"
n=0
for d in $(seq 1 50); do
    mkdir -p "$many/d$d"
    for s in IM0002 IM0017 IM0031 IM0053; do
        cp "$samples/$s.dcm" "$many/d$d/$s.dcm"
        n=$((n + 1))
    done
done
chmod -R u+w "$many"
# new SOP Instance UIDs: every copy a distinct instance
find "$many" -name '*.dcm' -print0 | xargs -0 dcmodify -nb -q -gin ||
    skip "dcmodify (dcmtk) could not make distinct copies"
[ "$(find "$many" -name '*.dcm' -exec sha256sum {} + | cut -d' ' -f1 | sort -u | wc -l)" -eq $n ] ||
    fail "copies are not distinct"
kdb="$tmp/kill.sqlite"
"$DEIDTK" run "$many" -o "$tmp/kout" --key "$key" --no-ocr --jobs 2 --audit "$kdb" \
    --report "$tmp/k1" >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 400 ]; do
    [ "$(find "$tmp/kout" -name '*.dcm' 2>/dev/null | wc -l)" -ge 20 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
    i=$((i + 1))
done
kill -9 $pid 2>/dev/null || echo "note: the run ended before SIGKILL; the rerun still checks resume"
wait $pid 2>/dev/null
done1=$(find "$tmp/kout" -name '*.dcm' ! -name '.*' | wc -l)
[ "$done1" -lt $n ] || echo "note: the killed run had written every output"
"$DEIDTK" run "$many" -o "$tmp/kout" --key "$key" --no-ocr --jobs 2 --audit "$kdb" \
    --report "$tmp/k2" >"$tmp/k2.out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "rerun after SIGKILL exit $rc: $(tail -3 "$tmp/k2.out")"
"$DEIDTK" audit verify --audit "$kdb" >"$tmp/kv" 2>&1 ||
    fail "audit verify after SIGKILL + rerun exit $?: $(cat "$tmp/kv")"
dups=$(sqlite3 "$kdb" "SELECT input_sha256, COUNT(*) FROM files WHERE status = 'ok'
                       GROUP BY 1 HAVING COUNT(*) > 1" | wc -l)
[ "$dups" -eq 0 ] || fail "$dups inputs recorded ok more than once after the rerun"
ok=$(sqlite3 "$kdb" "SELECT COUNT(DISTINCT input_sha256) FROM files WHERE status = 'ok'")
[ "$ok" -eq $n ] || fail "$ok of $n inputs recorded ok after the rerun"
[ "$(find "$tmp/kout" -name '*.dcm' ! -name '.*' | wc -l)" -eq $n ] ||
    fail "expected $n outputs after the rerun, found $(find "$tmp/kout" -name '*.dcm' ! -name '.*' | wc -l)"
# only releasable files in OUT: the killed run's temporary files do not outlive the rerun
left=$(find "$tmp/kout" -name '.deidtk-*' | wc -l)
[ "$left" -eq 0 ] || bad "$left temporary files of the killed run left in OUT after the rerun"
# what is on disk is what the trail says
sqlite3 -separator ' ' "$kdb" "SELECT output_sha256, output_path FROM files WHERE status = 'ok'" |
    while read -r sha path; do
        [ -f "$path" ] || { echo "missing $path"; exit 1; }
        [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sha" ] || { echo "sha of $path"; exit 1; }
    done || fail "outputs on disk do not match the trail"

# ---- a file too large to keep in memory (over 16 MB) is hashed and verified from disk ------
# 9 frames of 1024 x 1024 16-bit pixels beside a sample: the trail holds the hashes of both
# inputs and both outputs as they are on disk.
big="$tmp/big"
mkdir -p "$big" && cp "$samples/IM0002.dcm" "$big"/ && chmod u+w "$big/IM0002.dcm"
head -c 18874368 /dev/zero >"$tmp/px.raw"
cat >"$tmp/big.dump" <<EOF
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.9999.77]
(0008,0060) CS [OT]
(0010,0010) PN [Big^Patient]
(0010,0020) LO [BIG-1]
(0020,000d) UI [1.2.826.0.1.3680043.10.9999.78]
(0020,000e) UI [1.2.826.0.1.3680043.10.9999.79]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0008) IS [9]
(0028,0010) US 1024
(0028,0011) US 1024
(0028,0100) US 16
(0028,0101) US 16
(0028,0102) US 15
(0028,0103) US 0
(7fe0,0010) OW =$tmp/px.raw
EOF
dump2dcm -q "$tmp/big.dump" "$big/big.dcm" 2>/dev/null || fail "dump2dcm could not make the large file"
rm -f "$tmp/px.raw"
bdb="$tmp/big.sqlite"
"$DEIDTK" run "$big" -o "$tmp/bigout" --key "$key" --audit "$bdb" >"$tmp/big.out" 2>&1 ||
    fail "run on a large file exit $?: $(cat "$tmp/big.out")"
[ "$(sqlite3 "$bdb" "SELECT COUNT(*) FROM files WHERE status = 'ok'")" -eq 2 ] ||
    fail "expected 2 files in the trail of the large-file run"
sqlite3 -separator ' ' "$bdb" \
    "SELECT input_sha256, input_path, output_sha256, output_path FROM files WHERE status = 'ok'" |
    while read -r isha ipath osha opath; do
        [ "$(sha256sum "$ipath" | cut -d' ' -f1)" = "$isha" ] || { echo "sha of $ipath"; exit 1; }
        [ "$(sha256sum "$opath" | cut -d' ' -f1)" = "$osha" ] || { echo "sha of $opath"; exit 1; }
    done || fail "the large-file run's trail does not match the files"
finish
