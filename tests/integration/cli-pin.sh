#!/bin/bash
# PIN keys: right PIN, wrong PIN (exit 1, "wrong PIN", tries left), the PIN
# sources (file, stdin, SSH_ASKPASS), missing PIN without a terminal.
# Own swtpm with short dictionary-attack parameters (wrong PINs count).
. "$top_srcdir/tests/lib.sh"
need openssl setsid
start_swtpm pintpm
set_da_params 10 1 1

printf 'msg\n' >"$T/msg"
printf '1234\n' >"$T/pin"
printf 'nope\n' >"$T/wrong"
: >"$T/empty"

run_ok "$TPMID" keygen p --pin-file "$T/pin" >"$T/out"
grep -q "PIN" "$T/out" || fail "keygen output: $(cat "$T/out")"
run_ok "$TPMID" pubkey p >"$T/pub.pem"
grep -q '"auth": *"pin"' "$TPMID_STORE/p.json" || fail "auth not pin"
run_ok "$TPMID" list >"$T/list"
grep -Eq '^p +ecdsa-p256 +pin ' "$T/list" || fail "list: $(cat "$T/list")"

run_ok "$TPMID" sign p --pin-file "$T/pin" --in "$T/msg" --force --out "$T/sig"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "signature with PIN does not verify"

expect_status 1 "$TPMID" sign p --pin-file "$T/wrong" --in "$T/msg" --force --out "$T/sig"
grep -q "wrong PIN" "$T/err" || fail "wrong PIN message: $(cat "$T/err")"
grep -Eiq "tr(y|ies) left" "$T/err" || fail "no tries left in: $(cat "$T/err")"
grep -q "'p'" "$T/err" || fail "wrong PIN message does not name the identity: $(cat "$T/err")"

# The TPM takes an auth value of at most 32 bytes (its nameAlg's digest
# size): the help says so, a longer PIN is refused before the TPM is asked,
# from every source, and exactly 32 bytes work.
"$TPMID" keygen --help | grep -q -- '--pin-file FILE .*at most 32 bytes' ||
	fail "keygen --help does not give the PIN limit: $("$TPMID" keygen --help | grep pin-file)"
head -c 33 /dev/zero | tr '\0' x >"$T/pin33"
echo >>"$T/pin33"
head -c 32 /dev/zero | tr '\0' y >"$T/pin32"
echo >>"$T/pin32"
expect_status 1 "$TPMID" keygen long --pin-file "$T/pin33"
grep -q "PIN longer than 32 bytes" "$T/err" || fail "33-byte PIN file: $(cat "$T/err")"
[ ! -e "$TPMID_STORE/long.json" ] || fail "a 33-byte PIN made an identity"
set +e
"$TPMID" keygen long --pin-stdin <"$T/pin33" 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "PIN longer than 32 bytes" "$T/err" || fail "33-byte PIN on stdin: $rc $(cat "$T/err")"
run_ok "$TPMID" keygen long --pin-file "$T/pin32"
run_ok "$TPMID" sign long --pin-file "$T/pin32" --in "$T/msg" --force --out "$T/sig"
run_ok "$TPMID" delete long

# The right PIN still works afterwards.
printf '1234\n' | "$TPMID" sign p --pin-stdin --in "$T/msg" --force --out "$T/sig" 2>"$T/err" ||
	fail "--pin-stdin: $(cat "$T/err")"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "signature with --pin-stdin does not verify"

# SSH_ASKPASS when forced (no terminal involved).
printf '#!/bin/sh\necho "$1" >>"%s/askpass.log"\necho 1234\n' "$T" >"$T/askpass"
chmod +x "$T/askpass"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid "$TPMID" sign p --in "$T/msg" \
	--force --out "$T/sig" </dev/null 2>"$T/err" || fail "askpass sign: $(cat "$T/err")"
grep -q "PIN for 'p'" "$T/askpass.log" || fail "askpass prompt: $(cat "$T/askpass.log")"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "signature with askpass PIN does not verify"

# No PIN, no terminal, no askpass: a clear error naming the identity.
set +e
SSH_ASKPASS_REQUIRE=never setsid "$TPMID" sign p --in "$T/msg" --force --out "$T/sig" </dev/null \
	>/dev/null 2>"$T/err"
st=$?
set -e
[ "$st" -eq 1 ] || fail "sign without PIN: exit $st ($(cat "$T/err"))"
grep -q "needs its PIN" "$T/err" || fail "sign without PIN: $(cat "$T/err")"

# PIN files: empty is an error, only the first line counts.
expect_status 1 "$TPMID" sign p --pin-file "$T/empty" --in "$T/msg" --force --out "$T/sig"
grep -q "empty PIN" "$T/err" || fail "empty PIN file: $(cat "$T/err")"
printf '1234\nsecond line\n' >"$T/pin2"
run_ok "$TPMID" sign p --pin-file "$T/pin2" --in "$T/msg" --force --out "$T/sig"
expect_status 1 "$TPMID" sign p --pin-file "$T/missing" --in "$T/msg" --force --out "$T/sig"
grep -q "$T/missing" "$T/err" || fail "missing PIN file not named: $(cat "$T/err")"

# keygen from stdin; P-384 with a PIN; conflicting options.
printf '5678\n' | "$TPMID" keygen p2 --curve p384 --pin-stdin >/dev/null 2>"$T/err" ||
	fail "keygen --pin-stdin: $(cat "$T/err")"
run_ok "$TPMID" pubkey p2 >"$T/pub2.pem"
printf '5678\n' | "$TPMID" sign p2 --pin-stdin --in "$T/msg" --force --out "$T/sig" 2>"$T/err" ||
	fail "sign p2: $(cat "$T/err")"
openssl dgst -sha384 -verify "$T/pub2.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "P-384 PIN signature does not verify"
expect_status 2 "$TPMID" keygen p3 --no-pin --pin-file "$T/pin"
expect_status 2 "$TPMID" keygen p3 --pin-stdin --pin-file "$T/pin"
expect_status 1 "$TPMID" keygen p3 --pin-file "$T/empty"
[ ! -e "$TPMID_STORE/p3.json" ] || fail "failed keygen left an identity"
run_ok "$TPMID" keygen p4 --no-pin
grep -q '"auth": *"none"' "$TPMID_STORE/p4.json" || fail "--no-pin key has auth"

# "auth": "none" on a key that has an auth value: refused before the TPM
# is asked with an empty password (a dictionary-attack try on this key).
cp "$TPMID_STORE/p.json" "$T/p.json.bak"
sed -i 's/"auth": *"pin"/"auth": "none"/' "$TPMID_STORE/p.json"
expect_status 1 "$TPMID" sign p --in "$T/msg" --force --out "$T/sig"
grep -q "emptyAuth is false" "$T/err" || fail "auth none on a PIN key: $(cat "$T/err")"
cp "$T/p.json.bak" "$TPMID_STORE/p.json"
run_ok "$TPMID" sign p --pin-file "$T/pin" --in "$T/msg" --force --out "$T/sig"

check_no_transient
pass "PIN keys: right, wrong, file, stdin, askpass, missing"
