#!/bin/bash
# export --tss2, then sign with OpenSSL's tpm2 provider using that file and
# verify with the identity's public key: the README's example ("OpenSSL's
# tpm2 provider") run line for line as it is written there, then the
# export's own rules.
: "${top_srcdir:?run through make check}"
. "$top_srcdir/tests/lib.sh"
need openssl awk
# shellcheck disable=SC2119 # no arguments: the default swtpm
start_swtpm
openssl list -providers -provider tpm2 >/dev/null 2>&1 ||
	fail "openssl tpm2 provider not available (apt-get install tpm2-openssl)"

# The README's block: the indented lines after its marker comment.
awk '/<!-- tests\/integration\/cli-openssl.sh runs this block/ { on = 1; next }
	on && /^    / { sub(/^    /, ""); print; seen = 1; next }
	on && seen { exit }' "$top_srcdir/README.md" >"$T/readme.sh"
# It must still be the example this test is about.
# shellcheck disable=SC2016 # $TPMID_TCTI as the README writes it
for want in 'tpmid export web --tss2 --out web.tss2.pem' \
	'openssl dgst -sha256 -binary file >dgst' \
	'export TPM2OPENSSL_TCTI=$TPMID_TCTI' \
	'openssl pkeyutl -provider tpm2 -provider default -sign -inkey web.tss2.pem -in dgst -out sig' \
	'openssl pkeyutl -verify -pubin -inkey web.pub.pem -in dgst -sigfile sig' \
	'openssl dgst -sha256 -verify web.pub.pem -signature sig file'; do
	grep -qF -- "$want" "$T/readme.sh" || fail "README's tpm2 provider example lost '$want': $(cat "$T/readme.sh")"
done

# Run in a directory holding the file it signs, with tpmid on PATH, the
# identity "web" made, and only TPMID_TCTI set (as after the README's
# "Using it"): TPM2OPENSSL_TCTI comes from the block itself.
run_ok "$TPMID" keygen web
readme_run() { # DIR SCRIPT: run SCRIPT's lines in DIR, output to DIR.log
	mkdir -p "$1"
	printf 'a file to sign\n' >"$1/file"
	(
		cd "$1"
		unset TPM2OPENSSL_TCTI
		PATH="$(dirname "$TPMID"):$PATH"
		bash -e -x "$2"
	) >"$1.log" 2>&1
}
readme_run "$T/readme" "$T/readme.sh" || fail "the README's tpm2 provider example failed: $(tail -n 20 "$T/readme.log")"
grep -q '^Signature Verified Successfully' "$T/readme.log" || fail "pkeyutl -verify: $(cat "$T/readme.log")"
grep -q '^Verified OK' "$T/readme.log" || fail "dgst -verify: $(cat "$T/readme.log")"
# The export line is needed: without it the provider looks for a TPM where
# there is none (or another one) and the sign fails.
grep -v '^export TPM2OPENSSL_TCTI=' "$T/readme.sh" >"$T/noexport.sh"
! readme_run "$T/noexport" "$T/noexport.sh" || fail "the provider signed without TPM2OPENSSL_TCTI"
[ ! -s "$T/noexport/sig" ] || fail "a signature without TPM2OPENSSL_TCTI"
grep -q 'pkeyutl -provider tpm2 .* -sign' "$T/noexport.log" || fail "failed before the sign: $(cat "$T/noexport.log")"
pass "the README's tpm2 provider example works as written, and needs its TPM2OPENSSL_TCTI line"

# The exported file.
E=$T/readme/web.tss2.pem PUB=$T/readme/web.pub.pem
[ "$(stat -c %a "$E")" = 600 ] || fail "export mode $(stat -c %a "$E")"
head -n 1 "$E" | grep -q -- '-----BEGIN TSS2 PRIVATE KEY-----' || fail "not a TSS2 file"
# The provider's view of the public key is the identity's.
openssl pkey -provider tpm2 -provider default -in "$E" -pubout -out "$T/pub2.pem"
cmp -s "$PUB" "$T/pub2.pem" || fail "provider public key differs"

# No overwrite without --force; stdout works.
expect_status 1 "$TPMID" export web --tss2 --out "$E"
grep -q "exists" "$T/err" || fail "overwrite message: $(cat "$T/err")"
run_ok "$TPMID" export web --tss2 --out "$E" --force
run_ok "$TPMID" export web --tss2 >"$T/e2.pem"
cmp -s "$E" "$T/e2.pem" || fail "stdout export differs"
expect_status 2 "$TPMID" export web
expect_status 1 "$TPMID" export nope --tss2
grep -q "nope" "$T/err" || fail "export of a missing identity: $(cat "$T/err")"

# And the TPM still signs with the identity after the provider used it.
run_ok "$TPMID" sign web --in "$T/readme/file" --out "$T/sig2"
openssl dgst -sha256 -verify "$PUB" -signature "$T/sig2" "$T/readme/file" >/dev/null ||
	fail "tpmid signature after export does not verify"

check_no_transient
pass "export --tss2 and sign with the tpm2 provider"
