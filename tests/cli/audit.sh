#!/bin/sh
# tests/cli/audit.sh — deidtk audit on a trail written by the unit test's --write-sample mode:
# runs, verify (intact and tampered), trace, find, export, review, merge.
set -u
helper="$top_builddir/tests/unit/test_audit"
[ -x "$helper" ] || { echo "SKIP: $helper not built (cmocka missing)"; exit 77; }
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 not installed"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
db="$tmp/trail.sqlite"
"$helper" --write-sample "$db" || fail "could not write the sample trail"

out=$("$DEIDTK" audit runs --audit "$db") || fail "runs exit $?"
echo "$out" | grep -q "sample-run-1" || fail "runs does not list sample-run-1"
[ "$(echo "$out" | wc -l)" -eq 3 ] || fail "runs: expected a header and 2 runs"

out=$("$DEIDTK" audit verify --audit "$db") || fail "verify of an intact trail exit $?"
echo "$out" | grep -q "OK: 2 runs" || fail "verify: $out"

out=$("$DEIDTK" audit trace out/sample-run-1/1.dcm --audit "$db") || fail "trace exit $?"
echo "$out" | grep -q "^input  *in/sample-run-1/1.dcm" || fail "trace lacks the input"
[ "$(echo "$out" | grep -c '^  (0020,')" -eq 3 ] || fail "trace: expected 3 changes"
"$DEIDTK" audit trace no/such/file.dcm --audit "$db" >/dev/null 2>&1
[ $? -eq 1 ] || fail "trace of an unknown file should exit 1"

out=$("$DEIDTK" audit find --hmac h1 --audit "$db") || fail "find exit $?"
echo "$out" | grep -q "2.25.1	3 files" || fail "find: $out"
"$DEIDTK" audit find --hmac nope --audit "$db" >/dev/null 2>&1
[ $? -eq 1 ] || fail "find of an unknown HMAC should exit 1"

"$DEIDTK" audit export --json -o "$tmp/trail.json" --audit "$db" || fail "export exit $?"
[ "$(stat -c %a "$tmp/trail.json")" = 600 ] || fail "export file is not mode 0600"
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["runs"])==2' \
        "$tmp/trail.json" || fail "export is not the expected JSON"
fi
grep -q "orig-UID" "$tmp/trail.json" && fail "export holds originals the run did not store"

id=$(sqlite3 "$db" "SELECT finding_id FROM findings LIMIT 1")
"$DEIDTK" audit review --finding "$id" --reviewer "Ann Curator" --decision waive \
    --reason "synthetic test name" --audit "$db" >/dev/null || fail "review exit $?"
"$DEIDTK" audit review --finding "$id" --reviewer A --decision maybe --reason x \
    --audit "$db" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad decision should exit 2"
"$DEIDTK" audit verify --audit "$db" | grep -q "1 reviews" || fail "review not in the trail"

# Many findings at once, from a file (as a reviewer lists them from a report): all are
# recorded, or none when one is not in the trail.
sqlite3 "$db" "SELECT finding_id FROM findings LIMIT 2" >"$tmp/ids"
[ "$(wc -l <"$tmp/ids")" -eq 2 ] || fail "the sample trail has fewer than 2 findings"
{ echo "# thumbnails looked at"; cat "$tmp/ids"; echo ffffffffffffffff; } >"$tmp/ids-bad"
"$DEIDTK" audit review --findings "$tmp/ids-bad" --reviewer "Ann Curator" --decision waive \
    --reason "scanner labels" --audit "$db" >/dev/null 2>"$tmp/rev.err"
[ $? -eq 2 ] || fail "a list with an unknown finding should exit 2"
grep -q "no finding ffffffffffffffff" "$tmp/rev.err" || fail "unknown finding: $(cat "$tmp/rev.err")"
"$DEIDTK" audit verify --audit "$db" | grep -q "1 reviews" || fail "a failed list recorded reviews"
"$DEIDTK" audit review --findings "$tmp/no-such-list" --reviewer Bob --decision fix \
    --reason x --audit "$db" >/dev/null 2>"$tmp/rev.err"
[ $? -eq 2 ] && grep -q "cannot read .*no-such-list" "$tmp/rev.err" ||
    fail "a missing list: $(cat "$tmp/rev.err")"
echo "# nothing yet" | "$DEIDTK" audit review --findings - --reviewer Bob --decision fix \
    --reason x --audit "$db" >/dev/null 2>"$tmp/rev.err"
[ $? -eq 2 ] && grep -q "no finding in -" "$tmp/rev.err" || fail "an empty list: $(cat "$tmp/rev.err")"
out=$("$DEIDTK" audit review --findings - --reviewer "Ann Curator" --decision waive \
    --reason "scanner labels" --audit "$db" <"$tmp/ids") || fail "review --findings - exit $?"
echo "$out" | grep -q "^2 findings: waived by Ann Curator recorded" || fail "review: $out"
set -- $(cat "$tmp/ids")
"$DEIDTK" audit review --finding "$1" --finding "$2" --reviewer Bob --decision fix \
    --reason "needs a look" --audit "$db" >/dev/null || fail "review --finding twice exit $?"
"$DEIDTK" audit verify --audit "$db" | grep -q "OK: .* 5 reviews" || fail "reviews: $("$DEIDTK" audit verify --audit "$db")"

# Merge; merging the same shard again copies nothing.
"$DEIDTK" audit merge "$db" --audit "$tmp/merged.sqlite" >/dev/null || fail "merge exit $?"
out=$("$DEIDTK" audit merge "$db" --audit "$tmp/merged.sqlite") || fail "re-merge exit $?"
echo "$out" | grep -q "0 runs merged, 2 already present" || fail "re-merge: $out"
"$DEIDTK" audit verify --audit "$tmp/merged.sqlite" | grep -q "OK: 2 runs" || fail "merged"

# Tampering with a change is named.
sqlite3 "$db" "DROP TRIGGER changes_no_update; UPDATE changes SET new_value='1.2.3' WHERE id=4"
out=$("$DEIDTK" audit verify --audit "$db")
[ $? -eq 1 ] || fail "verify of a tampered trail should exit 1"
echo "$out" | grep -q "BROKEN at changes row 4" || fail "verify: $out"
"$DEIDTK" audit merge "$db" --audit "$tmp/other.sqlite" >/dev/null 2>&1
[ $? -eq 1 ] || fail "merging a broken shard should exit 1"

"$DEIDTK" audit runs --audit "$tmp/missing.sqlite" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a missing trail should exit 2"
[ -e "$tmp/missing.sqlite" ] && fail "a missing trail was created"
"$DEIDTK" audit frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown subcommand should exit 2"
echo "PASS"
