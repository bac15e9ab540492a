#!/bin/bash
# export --tss2, then sign with OpenSSL's tpm2 provider using that file and
# verify with the identity's public key.
. "$top_srcdir/tests/lib.sh"
need openssl
start_swtpm
openssl list -providers -provider tpm2 >/dev/null 2>&1 ||
	fail "openssl tpm2 provider not available (apt-get install tpm2-openssl)"

printf 'exported\n' >"$T/msg"
openssl dgst -sha256 -binary "$T/msg" >"$T/dg"

run_ok "$TPMID" keygen e
run_ok "$TPMID" pubkey e >"$T/pub.pem"
run_ok "$TPMID" export e --tss2 --out "$T/e.pem"
[ "$(stat -c %a "$T/e.pem")" = 600 ] || fail "export mode $(stat -c %a "$T/e.pem")"
head -n 1 "$T/e.pem" | grep -q -- '-----BEGIN TSS2 PRIVATE KEY-----' || fail "not a TSS2 file"

openssl pkeyutl -provider tpm2 -provider default -sign -inkey "$T/e.pem" -in "$T/dg" \
	-out "$T/sig" 2>"$T/err" || fail "tpm2 provider sign: $(cat "$T/err")"
openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -in "$T/dg" -sigfile "$T/sig" >/dev/null ||
	fail "provider signature does not verify"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "provider signature does not verify with dgst"
# The provider's view of the public key is the identity's.
openssl pkey -provider tpm2 -provider default -in "$T/e.pem" -pubout -out "$T/pub2.pem"
cmp -s "$T/pub.pem" "$T/pub2.pem" || fail "provider public key differs"

# No overwrite without --force; stdout works.
expect_status 1 "$TPMID" export e --tss2 --out "$T/e.pem"
grep -q "exists" "$T/err" || fail "overwrite message: $(cat "$T/err")"
run_ok "$TPMID" export e --tss2 --out "$T/e.pem" --force
run_ok "$TPMID" export e --tss2 >"$T/e2.pem"
cmp -s "$T/e.pem" "$T/e2.pem" || fail "stdout export differs"
expect_status 2 "$TPMID" export e
expect_status 1 "$TPMID" export nope --tss2
grep -q "nope" "$T/err" || fail "export of a missing identity: $(cat "$T/err")"

# And the TPM still signs with the identity after the provider used it.
run_ok "$TPMID" sign e --in "$T/msg" --out "$T/sig2"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig2" "$T/msg" >/dev/null ||
	fail "tpmid signature after export does not verify"

check_no_transient
pass "export --tss2 and sign with the tpm2 provider"
