#!/bin/sh
# tests/cli/profile.sh — deidtk profile on the real binary: the table's actions under the
# presets and options, --list, --json, a policy file, and errors (exit 2, one line).
set -u
DEIDTK=${DEIDTK:-./deidtk}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/profile.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# action KEYWORD FILE: the effective action column of that attribute's row.
action() { awk -v k="$1" '$2 == k { print $4; exit }' "$2"; }
basic() { awk -v k="$1" '$2 == k { print $3; exit }' "$2"; }

"$DEIDTK" profile --preset basic > "$tmp/basic" || fail "profile --preset basic exited $?"
"$DEIDTK" profile > "$tmp/default" || fail "profile exited $?"
"$DEIDTK" profile --preset tcia > "$tmp/tcia" || fail "profile --preset tcia exited $?"
cmp -s "$tmp/default" "$tmp/tcia" || fail "the default is not the tcia preset"

[ "$(action PatientName "$tmp/basic")" = Z ] || fail "PatientName under basic: $(action PatientName "$tmp/basic")"
[ "$(action PatientName "$tmp/tcia")" = Z ] || fail "PatientName under tcia"
[ "$(action DeviceSerialNumber "$tmp/basic")" = X/Z/D ] || fail "DeviceSerialNumber under basic"
[ "$(action DeviceSerialNumber "$tmp/tcia")" = K ] || fail "DeviceSerialNumber under tcia"
[ "$(basic DeviceSerialNumber "$tmp/tcia")" = X/Z/D ] || fail "basic column under tcia"
grep -q '^(0018,1000) .*option retain-device-identity$' "$tmp/tcia" || fail "no reason for DeviceSerialNumber"
[ "$(action StudyDate "$tmp/tcia")" = C ] || fail "StudyDate under tcia (shifted)"
[ "$(action StudyDescription "$tmp/tcia")" = C ] || fail "StudyDescription under tcia"
[ "$(action SOPInstanceUID "$tmp/tcia")" = U ] || fail "SOPInstanceUID under tcia"
grep -q '^(60xx,3000) ' "$tmp/basic" || fail "repeating group row missing"
rows=$(grep -c '^(' "$tmp/basic")
[ "$rows" = 620 ] || fail "$rows table rows, want 620"

# --option adds to Basic; --preset + --option adds to the preset.
"$DEIDTK" profile --option retain-uids > "$tmp/uids" || fail "--option exited $?"
[ "$(action SOPInstanceUID "$tmp/uids")" = K ] || fail "SOPInstanceUID with retain-uids"
[ "$(action DeviceSerialNumber "$tmp/uids")" = X/Z/D ] || fail "--option alone must start from basic"
"$DEIDTK" profile --preset tcia --option=retain-uids > "$tmp/tu" || fail "--option= exited $?"
[ "$(action SOPInstanceUID "$tmp/tu")" = K ] && [ "$(action DeviceSerialNumber "$tmp/tu")" = K ] ||
    fail "preset + option"

# --all adds the safe public list.
"$DEIDTK" profile --all > "$tmp/all" || fail "--all exited $?"
[ "$(action Rows "$tmp/all")" = keep-safe ] || fail "Rows in --all"
grep -q ' Rows ' "$tmp/tcia" && fail "safe public rows without --all"

# --list names every option and preset.
"$DEIDTK" profile --list > "$tmp/list" || fail "--list exited $?"
for o in retain-safe-private retain-uids retain-device-identity retain-institution-identity \
         retain-patient-characteristics retain-long-full-dates retain-long-modified-dates \
         clean-descriptors clean-structured-content clean-graphics clean-pixel-data basic tcia; do
    grep -q "^  $o " "$tmp/list" || fail "--list lacks $o"
done

# --json is JSON with the same decisions.
"$DEIDTK" profile --json > "$tmp/json" || fail "--json exited $?"
grep -q '"preset":[[:space:]]*"tcia"' "$tmp/json" || fail "--json lacks the preset"
tr -d ' \t\n' < "$tmp/json" | grep -q '"tag":"(0018,1000)","keyword":"DeviceSerialNumber",[^}]*"action":"K","source":"option","option":"retain-device-identity"' ||
    fail "--json DeviceSerialNumber"
if command -v python3 > /dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["attributes"]) == 620' "$tmp/json" ||
        fail "--json does not parse"
    "$DEIDTK" profile --list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["options"]) == 11' ||
        fail "--list --json"
fi

# A policy file: overrides show, and the command line's selection replaces the file's.
cat > "$tmp/site.json" <<'JSON'
{
  "preset": "basic",
  "attributes": {
    "PatientName": { "action": "replace", "value": "ANON" }
  }
}
JSON
"$DEIDTK" profile --policy "$tmp/site.json" > "$tmp/site" || fail "--policy exited $?"
[ "$(action PatientName "$tmp/site")" = replace ] || fail "override not shown"
[ "$(action DeviceSerialNumber "$tmp/site")" = X/Z/D ] || fail "policy preset not used"
"$DEIDTK" profile --policy "$tmp/site.json" --preset tcia > "$tmp/site2" || fail "exited $?"
[ "$(action DeviceSerialNumber "$tmp/site2")" = K ] || fail "--preset must replace the file's"
[ "$(action PatientName "$tmp/site2")" = replace ] || fail "overrides must stay"
# A key with an escaped newline is refused on one line, its newline written \n.
printf '{\n  "pre\\nset": "tcia"\n}\n' > "$tmp/nl.json"
"$DEIDTK" profile --policy "$tmp/nl.json" > /dev/null 2> "$tmp/nl.err"
[ $? -eq 2 ] && [ "$(wc -l < "$tmp/nl.err")" -eq 1 ] &&
    grep -qF 'nl.json:2: unknown key "pre\nset"' "$tmp/nl.err" ||
    fail "a key with a newline: $(cat -A "$tmp/nl.err")"

# Errors: exit 2 and one line naming the problem.
err_case() {
    want=$1; shift
    msg=$("$DEIDTK" profile "$@" 2>&1 >/dev/null); rc=$?
    [ $rc = 2 ] || fail "profile $* exited $rc, want 2"
    [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] || fail "profile $*: more than one line: $msg"
    printf '%s' "$msg" | grep -q "$want" || fail "profile $*: '$msg' lacks '$want'"
}
err_case 'unknown option "retain-all"' --option retain-all
err_case 'unknown preset "strict"' --preset strict
err_case 'exclude each other' --option retain-long-full-dates --option retain-long-modified-dates
err_case 'needs a value' --option
err_case 'unexpected argument' --frobnicate
printf '{\n  "preset": "tcia",\n  "attributes": {\n    "(0010,0010)": {"action": "shred"}\n  }\n}\n' > "$tmp/bad.json"
err_case 'bad.json:4: bad action' --policy "$tmp/bad.json"
err_case 'cannot open' --policy "$tmp/missing.json"
echo "ok"
