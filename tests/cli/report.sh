#!/bin/sh
# tests/cli/report.sh — deidtk report on hand-written deidtk-report/1 files: renders HTML,
# merges shards (HTML and JSON), gates, re-gates with --fail-on, refuses shards of different
# policies, masks values unless --show-values, and its exit statuses.
set -u
DEIDTK=${DEIDTK:-./deidtk}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/report.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Shard 1: one clean file and a waived leak (the value is shown: it holds a name).
cat > "$tmp/a.json" <<'JSON'
{
  "schema": "deidtk-report/1", "command": "run", "tool_version": "0.1.0",
  "values_shown": true,
  "meta": {"preset": "tcia", "policy_sha256": "aaaa", "key_fingerprint": "k1"},
  "gate": {"fail_on": "phi", "blocked": false, "reasons": []},
  "files": [{"path": "out/P1/1.dcm", "input": "in/Doe_Jane/1.dcm", "status": "ok",
             "error": null, "frames_inspected": 1}],
  "findings": [{"id": "0123456789abcdef", "file": "out/P1/1.dcm", "where": "(0010,0010)",
                "detector": "paired-leak", "severity": "leak", "value": "Doe^Jane",
                "message": "Patient Name survives", "waived_by": "R. Viewer",
                "waive_reason": "phantom data"}]
}
JSON
# Shard 2: an open suspect finding, below the phi threshold.
cat > "$tmp/b.json" <<'JSON'
{
  "schema": "deidtk-report/1", "command": "run", "tool_version": "0.1.0",
  "values_shown": false,
  "meta": {"preset": "tcia", "policy_sha256": "aaaa", "key_fingerprint": "k1"},
  "gate": {"fail_on": "phi", "blocked": false, "reasons": []},
  "files": [{"path": "out/P2/2.dcm", "input": null, "status": "ok", "error": null,
             "frames_inspected": 2}],
  "findings": [{"id": "fedcba9876543210", "file": "out/P2/2.dcm",
                "where": "pixels:frame 1 0,0,10,10", "detector": "ocr-text",
                "severity": "suspect", "value": "A**** C*****",
                "message": "burned-in text <script>alert(1)</script>",
                "waived_by": null, "waive_reason": null}]
}
JSON
# Shard 3: a file that could not be read.
cat > "$tmp/c.json" <<'JSON'
{
  "schema": "deidtk-report/1", "command": "run", "tool_version": "0.1.0",
  "values_shown": false,
  "meta": {"policy_sha256": "aaaa", "key_fingerprint": "k1"},
  "gate": {"fail_on": "phi", "blocked": true, "reasons": ["1 file could not be processed"]},
  "files": [{"path": "out/P3/3.dcm", "input": null, "status": "error", "error": "truncated",
             "frames_inspected": 0}],
  "findings": []
}
JSON
# Another policy.
sed 's/"policy_sha256": "aaaa"/"policy_sha256": "bbbb"/' "$tmp/b.json" | sed 's#out/P2#out/Q2#g' > "$tmp/d.json"

# One report renders as HTML: passes at phi (the leak is waived, the suspect is below).
out=$("$DEIDTK" report "$tmp/a.json" -o "$tmp/a.html"); rc=$?
[ $rc = 0 ] || fail "a.json exited $rc, want 0: $out"
grep -q '>PASS<' "$tmp/a.html" || fail "a.html has no PASS"
grep -q 'R. Viewer' "$tmp/a.html" || fail "a.html does not name the reviewer"
grep -q 'Doe' "$tmp/a.html" && fail "a.html shows an unmasked value without --show-values"
printf '%s' "$out" | grep -q '^PASS' || fail "no PASS line: $out"

# --show-values shows it, with the banner.
"$DEIDTK" report "$tmp/a.json" -o "$tmp/shown.html" --show-values >/dev/null || fail "--show-values"
grep -q 'Doe^Jane' "$tmp/shown.html" || fail "--show-values hides the value"
grep -q 'class="banner"' "$tmp/shown.html" || fail "no banner with --show-values"

# Two shards merge and still pass; --fail-on suspect blocks them.
"$DEIDTK" report "$tmp/a.json" "$tmp/b.json" -o "$tmp/merged.html" >/dev/null; rc=$?
[ $rc = 0 ] || fail "a+b exited $rc, want 0"
grep -q '>PASS<' "$tmp/merged.html" || fail "merged.html has no PASS"
grep -q '<script>' "$tmp/merged.html" && fail "merged.html holds an unescaped <script>"
grep -q 'out/P2/2.dcm' "$tmp/merged.html" || fail "merged.html misses shard 2's file"
"$DEIDTK" report "$tmp/a.json" "$tmp/b.json" --fail-on suspect -o "$tmp/m2.html" >/dev/null; rc=$?
[ $rc = 1 ] || fail "a+b at suspect exited $rc, want 1"
grep -q '>BLOCKED<' "$tmp/m2.html" || fail "m2.html has no BLOCKED"

# Three shards, one with an unreadable file: blocked, merged JSON says so.
"$DEIDTK" report "$tmp/a.json" "$tmp/b.json" "$tmp/c.json" -o "$tmp/merged.json" >/dev/null; rc=$?
[ $rc = 1 ] || fail "a+b+c exited $rc, want 1"
grep -q '"blocked":[[:space:]]*true' "$tmp/merged.json" || fail "merged.json not blocked"
grep -q '"files":[[:space:]]*3' "$tmp/merged.json" || fail "merged.json does not count 3 files"
grep -q '"deidtk-report/1"' "$tmp/merged.json" || fail "merged.json has no schema"
# The merged JSON renders again, with the same verdict.
"$DEIDTK" report "$tmp/merged.json" -o "$tmp/again.html" >/dev/null; rc=$?
[ $rc = 1 ] || fail "merged.json exited $rc, want 1"
grep -q '>BLOCKED<' "$tmp/again.html" || fail "again.html has no BLOCKED"
grep -q 'truncated' "$tmp/again.html" || fail "again.html does not show the file error"

# Different policies do not merge; the same shard twice does not either.
err=$("$DEIDTK" report "$tmp/a.json" "$tmp/d.json" -o "$tmp/x.html" 2>&1 >/dev/null); rc=$?
[ $rc = 2 ] || fail "a+d exited $rc, want 2"
printf '%s' "$err" | grep -q policy_sha256 || fail "refusal does not name policy_sha256: $err"
[ ! -e "$tmp/x.html" ] || fail "x.html written despite the refusal"
"$DEIDTK" report "$tmp/b.json" "$tmp/b.json" -o "$tmp/x.html" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "b+b exited $rc, want 2"

# Unreadable or invalid input: 3. Usage errors: 2.
"$DEIDTK" report "$tmp/none.json" -o "$tmp/x.html" >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || fail "missing input exited $rc, want 3"
echo '{"schema": "other/1"}' > "$tmp/bad.json"
"$DEIDTK" report "$tmp/bad.json" -o "$tmp/x.html" >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || fail "bad schema exited $rc, want 3"
"$DEIDTK" report "$tmp/a.json" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "no -o exited $rc, want 2"
"$DEIDTK" report -o "$tmp/x.html" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "no input exited $rc, want 2"
"$DEIDTK" report "$tmp/a.json" --fail-on severe -o "$tmp/x.html" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "bad --fail-on exited $rc, want 2"
[ ! -e "$tmp/x.html" ] || fail "x.html written despite errors"
"$DEIDTK" report --help | grep -q "report" || fail "--help"

# Run shards whose outputs sit at one place in the release are compared on disk; a report
# may name anything there: a pipe or a device is refused, not read (it would never end).
mkdir -p "$tmp/s1/P/S/E" "$tmp/s2/P/S/E" "$tmp/s3/P/S/E"
mkfifo "$tmp/s1/P/S/E/I.dcm" || fail "mkfifo"
echo one >"$tmp/s2/P/S/E/I.dcm"
ln -s /dev/zero "$tmp/s3/P/S/E/I.dcm"
for k in 1 2 3; do
    cat >"$tmp/s$k.json" <<JSON
{ "schema": "deidtk-report/1", "command": "run", "tool_version": "0.1.0",
  "values_shown": false, "gate": {"fail_on": "phi"},
  "meta": {"policy_sha256": "aaaa", "key_fingerprint": "k1"}, "findings": [],
  "files": [{"path": "$tmp/s$k/P/S/E/I.dcm", "status": "ok"}] }
JSON
done
timeout 20 "$DEIDTK" report "$tmp/s1.json" "$tmp/s2.json" "$tmp/s3.json" -o "$tmp/s.json" \
    >/dev/null 2>&1; rc=$?
[ $rc = 1 ] || fail "shards with a pipe and a device at one place exited $rc, want 1"
[ "$(jq '[.files[] | select(.error // "" | test("not a regular file"))] | length' \
    "$tmp/s.json")" = 2 ] || fail "pipe and device not refused: $(jq -c '.files' "$tmp/s.json")"

# A manifest lists places as run names them: a name with a backslash (which a line of
# sha256sum would have to escape) is refused, and nothing is written.
mkdir -p "$tmp/w/P/S/E"
echo data >"$tmp/w/P/S/E/a\\b.dcm"
sum=$(sha256sum <"$tmp/w/P/S/E/a\\b.dcm" | cut -c1-64)
cat >"$tmp/w.json" <<JSON
{ "schema": "deidtk-report/1", "command": "run", "tool_version": "0.1.0",
  "values_shown": false, "gate": {"fail_on": "phi"}, "meta": {}, "findings": [],
  "files": [{"path": "$tmp/w/P/S/E/a\\\\b.dcm", "status": "ok", "sha256": "$sum"}] }
JSON
"$DEIDTK" report "$tmp/w.json" -o "$tmp/w.html" --manifest "$tmp/w.sums" >/dev/null 2>"$tmp/w.err"
rc=$?
[ $rc = 2 ] && [ ! -e "$tmp/w.sums" ] || fail "a backslash in a place: exit $rc, $(cat "$tmp/w.err")"
grep -q "not a place in a release" "$tmp/w.err" || fail "backslash refusal: $(cat "$tmp/w.err")"
exit 0
