#!/bin/bash
# Dictionary-attack lockout: wrong PINs count down the tries left, then the
# TPM locks out and tpmid says so and what to do; keys without a PIN (noDA)
# keep working meanwhile; after the lockout is cleared the right PIN works.
# Own swtpm: lockout must not touch any other test.
. "$top_srcdir/tests/lib.sh"
need openssl tpm2_dictionarylockout
start_swtpm datpm
# 3 tries, long recovery so the lockout lasts for the whole test.
set_da_params 3 600 600

printf 'msg\n' >"$T/msg"
printf '1234\n' >"$T/pin"
printf 'nope\n' >"$T/wrong"
run_ok "$TPMID" keygen p --pin-file "$T/pin" >/dev/null
run_ok "$TPMID" keygen free --no-pin >/dev/null

for left in 2 1 no; do
	expect_status 1 "$TPMID" sign p --pin-file "$T/wrong" --in "$T/msg" --out "$T/sig"
	grep -q "wrong PIN" "$T/err" || fail "attempt with $left left: $(cat "$T/err")"
	grep -Eq "\\b$left tr(y|ies) left" "$T/err" || fail "expected $left tries left: $(cat "$T/err")"
done
grep -qi "lockout" "$T/err" || fail "the last wrong PIN does not announce the lockout: $(cat "$T/err")"

# Locked out: even the right PIN is refused, with a message that says so.
expect_status 1 "$TPMID" sign p --pin-file "$T/pin" --in "$T/msg" --out "$T/sig"
grep -qi "lockout" "$T/err" || fail "no lockout message: $(cat "$T/err")"
grep -q "dictionarylockout\|wait" "$T/err" || fail "lockout message does not say what to do: $(cat "$T/err")"

# A no-PIN key is noDA: unaffected by the lockout.
run_ok "$TPMID" sign free --in "$T/msg" --out "$T/free.sig"
"$TPMID" pubkey free >"$T/free.pem"
openssl dgst -sha256 -verify "$T/free.pem" -signature "$T/free.sig" "$T/msg" >/dev/null ||
	fail "no-PIN signature during lockout does not verify"

tpm2_dictionarylockout --clear-lockout >/dev/null
run_ok "$TPMID" sign p --pin-file "$T/pin" --in "$T/msg" --out "$T/sig"
"$TPMID" pubkey p >"$T/p.pem"
openssl dgst -sha256 -verify "$T/p.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "signature after clearing the lockout does not verify"

check_no_transient
pass "tries count down, lockout reported with a remedy, noDA keys unaffected, clear restores"
