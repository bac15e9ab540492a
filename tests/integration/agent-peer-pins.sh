#!/bin/bash
# A peer in allowed_uids cannot spend the TPM's dictionary-attack budget
# (issue 9, Medium 2). Every PIN key shares one counter: three wrong PINs
# from uid 65533 used to lock the whole TPM, the owner's unshared PIN key
# included. Now a PIN from a peer other than the owner reaches the TPM only
# while more than half of the tries are left (the owner's reserve), and
# only once per uid per lockout interval; a PIN the owner unlocked stays
# usable, and the owner's own PINs are never held back.
. "$top_srcdir/tests/lib.sh"
need openssl python3 tpm2_getcap
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root to switch uid" >&2; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: $TEST_NAME: needs setpriv" >&2; exit 77; }

start_swtpm
# 6 tries; a failure is forgotten after 1000 s (not during this test).
set_da_params 6 1000 1
printf '1111\n' >"$T/own.pin"
printf '2222\n' >"$T/shared.pin"
printf '9999\n' >"$T/wrong.pin"
run_ok "$TPMID" --direct keygen own --pin-file "$T/own.pin"
run_ok "$TPMID" --direct keygen shared --pin-file "$T/shared.pin"
python3 - "$TPMID_STORE/shared.json" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["tpmid"]["allowed_uids"] = [65534, 65533, 65532, 65531, 65530]
json.dump(d, open(p, "w"), indent=2)
EOF
start_agent
chmod 711 "$T" "$T/run" "$(dirname "$TPMID_SOCKET")"
chmod 666 "$TPMID_SOCKET"
mkdir -p "$T/bin" "$T/peer"
cp "$TPMID" "$T/bin/tpmid"
chmod 755 "$T/bin" "$T/bin/tpmid"
chmod 777 "$T/peer"
head -c 100 /dev/urandom >"$T/peer/msg"
cp "$T/wrong.pin" "$T/shared.pin" "$T/peer/"
chmod 644 "$T/peer"/*
"$TPMID" pubkey shared >"$T/shared.pem"

as_uid() { # UID ARGS...: tpmid as that uid, through the agent
	local uid=$1
	shift
	HOME="$T/peer" "${PEER_ENV[@]}" setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
		"$T/bin/tpmid" --socket "$TPMID_SOCKET" "$@"
}
peer_sign() { # UID PINFILE: sign 'shared' with that PIN; stderr in $T/err
	as_uid "$1" sign shared --pin-file "$T/peer/$2" --in "$T/peer/msg" \
		--out "$T/peer/sig.$1" 2>"$T/err"
}
[ "$(da_counter)" -eq 0 ] || fail "the DA counter is $(da_counter) at the start"

# One wrong PIN from uid 65534 is tried, and counted by the TPM; the next,
# at once, is refused before the TPM sees it.
peer_sign 65534 wrong.pin && fail "a wrong PIN signed"
grep -q "wrong PIN" "$T/err" || fail "first wrong PIN: $(cat "$T/err")"
[ "$(da_counter)" -eq 1 ] || fail "DA counter $(da_counter) after one wrong PIN, want 1"
peer_sign 65534 wrong.pin && fail "a wrong PIN signed"
grep -q "uid 65534 gave a wrong PIN" "$T/err" || fail "second wrong PIN from one uid: $(cat "$T/err")"
[ "$(da_counter)" -eq 1 ] || fail "a uid's second wrong PIN reached the TPM: DA counter $(da_counter)"
log "one uid: 1 wrong PIN tried, the next refused: $(cat "$T/err")"

# Other uids, one wrong PIN each, until half of the tries are spent; then
# no peer PIN is tried, right or wrong.
peer_sign 65533 wrong.pin && fail "a wrong PIN signed"
peer_sign 65532 wrong.pin && fail "a wrong PIN signed"
[ "$(da_counter)" -eq 3 ] || fail "DA counter $(da_counter) after three uids, want 3"
peer_sign 65531 wrong.pin && fail "a wrong PIN signed"
grep -q "3 PIN tries left .* kept for the agent's owner" "$T/err" || fail "the reserve: $(cat "$T/err")"
# (unlock, which holds a PIN for everyone, is the owner's alone)
as_uid 65530 unlock shared --pin-file "$T/peer/wrong.pin" 2>"$T/err" && fail "a peer unlocked"
grep -q "permission denied" "$T/err" || fail "unlock by a peer: $(cat "$T/err")"
peer_sign 65530 shared.pin && fail "a peer's PIN was tried with only the reserve left"
[ "$(da_counter)" -eq 3 ] || fail "the owner's reserve was spent: DA counter $(da_counter)"
log "five uids: 3 of 6 tries spent, then refused: $(cat "$T/err")"

# The owner is not held back, on either key.
run_ok "$TPMID" sign own --pin-file "$T/own.pin" --in "$T/peer/msg" --out "$T/own.sig"
run_ok "$TPMID" sign shared --pin-file "$T/shared.pin" --in "$T/peer/msg" --out "$T/o.sig"
# A PIN the owner unlocked costs no try, and serves the peers.
run_ok "$TPMID" unlock shared --pin-file "$T/shared.pin"
as_uid 65534 sign shared --in "$T/peer/msg" --out "$T/peer/held.sig" 2>"$T/err" ||
	fail "a peer could not use the PIN the owner unlocked: $(cat "$T/err")"
openssl dgst -sha256 -verify "$T/shared.pem" -signature "$T/peer/held.sig" "$T/peer/msg" >/dev/null ||
	fail "the peer's signature does not verify"
[ "$(da_counter)" -eq 3 ] || fail "DA counter $(da_counter) at the end, want 3"
stop_agent
pass "peers spend at most half of the TPM's PIN tries, one per uid per interval; the owner's PINs and held PINs unaffected"
