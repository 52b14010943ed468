# tests/cli/lib.sh — sourced by the run, verify and audit-run tests: a private temporary
# folder, fail/skip, copies of samples/, tree checksums and the inputs' PHI values.
set -u
: "${DEIDTK:?DEIDTK is not set (run through make check)}"
top_srcdir=${top_srcdir:-.}
samples="$top_srcdir/samples"

fail() { echo "FAIL: $*"; exit 1; }
# bad: a failed check after which the others still run; finish reports them all.
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {
    [ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
    echo "PASS"
    exit 0
}
skip() { echo "SKIP: $*"; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 not installed${2:+ (package $2)}"; }

[ -r "$samples/IM0002.dcm" ] || skip "no samples/ in $top_srcdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/deidtk-cli-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# copy_samples DIR: the six sample files, writable copies.
copy_samples() {
    mkdir -p "$1" && cp "$samples"/*.dcm "$1"/ && chmod u+w "$1"/*.dcm
}

# tree_sums DIR: "sha256  relative/path" of every file, sorted.
tree_sums() {
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# make_key FILE
make_key() {
    "$DEIDTK" keygen -o "$1" >/dev/null || fail "keygen exit $?"
}

# phi_values FILE...: the patient names (whole, and each part of 4+ characters), IDs
# (any depth, Other Patient IDs too) and birth dates of the files, one per line.
phi_values() {
    "$DEIDTK" dump "$@" |
        sed -n 's/^.*(0010,\(0010\|0020\|0030\|1000\|1001\|1005\|1060\)) [A-Z][A-Z] [A-Za-z_]* = //p' |
        awk '{ print; n = split($0, p, /[\^ \\]/); for (i = 1; i <= n; i++) if (length(p[i]) >= 4) print p[i] }' |
        sort -u
}

# assert_no_phi LIST WHAT FILE...: none of the values of LIST occurs in the files.
assert_no_phi() {
    list=$1 what=$2
    shift 2
    [ -s "$list" ] || fail "no PHI values to look for (deidtk dump broken?)"
    if hit=$(grep -a -o -i -F -f "$list" "$@" 2>/dev/null | head -3) && [ -n "$hit" ]; then
        fail "$what holds input PHI: $hit"
    fi
}

# dump_value FILE TAG: the top-level value of TAG ("(0010,0020)") in FILE.
dump_value() {
    "$DEIDTK" dump "$1" | awk -v t="$2" 'index($0, t " ") == 1 { sub(/^[^=]*= /, ""); print; exit }'
}

# shared_study DIR: a.dcm (IM0002) and b.dcm (IM0016 moved into a.dcm's study): one study
# under two patients. With --shard K/4 they fall in shards 1 and 2 (FNV-1a of the names).
shared_study() {
    mkdir -p "$1" && cp "$samples/IM0002.dcm" "$1/a.dcm" && cp "$samples/IM0016.dcm" "$1/b.dcm" &&
        chmod u+w "$1"/*.dcm || fail "cannot copy the samples"
    study=$(dump_value "$1/a.dcm" "(0020,000D)")
    [ -n "$study" ] || fail "no Study Instance UID read from IM0002"
    dcmodify -q -nb -m "(0020,000D)=$study" "$1/b.dcm" || fail "dcmodify failed"
}
