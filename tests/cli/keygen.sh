#!/bin/sh
# tests/cli/keygen.sh — deidtk keygen on the real binary: mode 0600, 32 bytes, refuses to
# overwrite, prints a fingerprint and never the key, exit statuses.
set -u
DEIDTK=${DEIDTK:-./deidtk}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keygen.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A permissive umask must not leak into the key's mode.
out=$(umask 000 && "$DEIDTK" keygen -o "$tmp/a.key") || fail "keygen exited $?"
[ -f "$tmp/a.key" ] || fail "no key file"
[ "$(stat -c %a "$tmp/a.key")" = 600 ] || fail "mode $(stat -c %a "$tmp/a.key"), want 600"
[ "$(stat -c %s "$tmp/a.key")" = 32 ] || fail "size $(stat -c %s "$tmp/a.key"), want 32"
fp=$(printf '%s\n' "$out" | sed -n 's/^fingerprint: //p')
printf '%s' "$fp" | grep -Eq '^[0-9a-f]{16}$' || fail "no fingerprint in: $out"

# The output never holds the key, in hex or otherwise.
hex=$(od -An -tx1 "$tmp/a.key" | tr -d ' \n')
printf '%s' "$out" | grep -q "$(printf '%s' "$hex" | cut -c1-16)" && fail "key printed"

# Refuses to overwrite: exit 2, the key is unchanged, the message names the file.
before=$(od -An -tx1 "$tmp/a.key" | tr -d ' \n')
err=$("$DEIDTK" keygen -o "$tmp/a.key" 2>&1 >/dev/null); rc=$?
[ $rc = 2 ] || fail "overwrite exited $rc, want 2"
printf '%s' "$err" | grep -q "a.key" || fail "overwrite message does not name the file: $err"
[ "$(od -An -tx1 "$tmp/a.key" | tr -d ' \n')" = "$before" ] || fail "key changed"

# Two keys differ, and so do their fingerprints.
out2=$("$DEIDTK" keygen --output="$tmp/b.key") || fail "--output= exited $?"
[ "$(od -An -tx1 "$tmp/b.key" | tr -d ' \n')" != "$before" ] || fail "two keys are equal"
[ "$(printf '%s\n' "$out2" | sed -n 's/^fingerprint: //p')" != "$fp" ] || fail "fingerprints equal"

# Usage errors: exit 2 and nothing created.
"$DEIDTK" keygen >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "no -o exited $rc, want 2"
"$DEIDTK" keygen -o "$tmp/c.key" extra >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "extra argument exited $rc, want 2"
[ ! -e "$tmp/c.key" ] || fail "key created despite a usage error"
"$DEIDTK" keygen -o "$tmp/no/such/dir.key" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "unwritable path exited $rc, want 2"
"$DEIDTK" keygen --help | grep -q "keygen -o FILE" || fail "--help"
exit 0
