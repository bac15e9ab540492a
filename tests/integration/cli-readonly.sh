#!/bin/bash
# Read-only commands on a store that does not exist or cannot be written
# (issue 10, Lows): `list` and `status` created the store directory on a
# fresh machine; in a read-only store they, `pubkey` and `sign` must work,
# and `delete` must fail before it evicts a persistent key (else the
# identity would be left pointing at nothing).
. "$top_srcdir/tests/lib.sh"
need tpm2_getcap
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root to switch uid" >&2; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: $TEST_NAME: needs setpriv" >&2; exit 77; }

start_swtpm
run_ok "$TPMID" list >/dev/null
run_ok "$TPMID" status >/dev/null
"$TPMID" pubkey nosuch 2>/dev/null && fail "pubkey of nothing succeeded"
[ ! -e "$TPMID_STORE" ] || fail "list/status created the store directory"

run_ok "$TPMID" keygen a
run_ok "$TPMID" keygen p --persist
handle=$(sed -n 's/.*"handle": *"\(0x[0-9a-f]*\)".*/\1/p' "$TPMID_STORE/p.json")
[ -n "$handle" ] || fail "no handle in p.json"

# The store belongs to uid 65534, who may not write it (mode 0500; root
# could write anyway, so the commands run as that uid).
chmod 711 "$T"
chown -R 65534:65534 "$TPMID_STORE" "$XDG_RUNTIME_DIR"
chmod 500 "$TPMID_STORE"
cp "$TPMID" "$T/tpmid"
chmod 755 "$T/tpmid"
ro() { setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME="$T" "$T/tpmid" --direct "$@"; }
ro list >"$T/out" 2>"$T/err" || fail "list in a read-only store: $(cat "$T/err")"
grep -q '^p ' "$T/out" || fail "list: $(cat "$T/out")"
ro status >/dev/null 2>"$T/err" || fail "status in a read-only store: $(cat "$T/err")"
ro pubkey a >/dev/null 2>"$T/err" || fail "pubkey in a read-only store: $(cat "$T/err")"
ro sign a --in /etc/hostname --out /dev/null 2>"$T/err" || fail "sign in a read-only store: $(cat "$T/err")"
ro delete p 2>"$T/err" && fail "delete in a read-only store succeeded"
grep -q "Permission denied" "$T/err" || fail "delete: $(cat "$T/err")"
tpm2_getcap handles-persistent -T "$TPMID_TCTI" | grep -qi "$handle" ||
	fail "delete in a read-only store evicted $handle"
[ -e "$TPMID_STORE/p.json" ] || fail "p.json is gone"

chmod 700 "$TPMID_STORE"
chown -R 0:0 "$TPMID_STORE" "$XDG_RUNTIME_DIR"
run_ok "$TPMID" sign p --in /etc/hostname --out /dev/null
run_ok "$TPMID" delete p
pass "list/status create no store; a read-only store lists, signs, and refuses delete before evicting"
