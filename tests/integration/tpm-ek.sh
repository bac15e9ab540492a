#!/bin/bash
# Beyond trust on first use (issue 9): `tpmid srk --ek-ca CA.pem` verifies
# the storage root key against the TPM's endorsement key. swtpm is
# manufactured here with an EK certificate from swtpm_localca (a private CA
# in $T, as a TPM vendor's would be); tpmid reads the certificate from NV,
# verifies it up to that CA, uses the EK only if its public key is the
# certified one, and creates the SRK under a session salted to it, so that
# an interposer's change to the SRK fails the response HMAC. Then: a TPM
# behind the SRK-swapping interposer (tests/tpmproxy) is refused and
# nothing is recorded; a CA that did not issue the certificate is refused;
# a TPM without an EK certificate says so.
. "$top_srcdir/tests/lib.sh"
need swtpm_setup swtpm_localca openssl

# A private local CA and a TPM manufactured with its EK certificates.
mkdir -p "$T/localca" "$T/tpm"
cat >"$T/localca.conf" <<EOF
statedir = $T/localca
signingkey = $T/localca/signkey.pem
issuercert = $T/localca/issuercert.pem
certserial = $T/localca/certserial
EOF
printf -- '--platform-manufacturer tpmid-test\n--platform-version 1\n--platform-model swtpm\n' \
	>"$T/localca.options"
cat >"$T/swtpm_setup.conf" <<EOF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $T/localca.conf
create_certs_tool_options = $T/localca.options
active_pcr_banks = sha256
EOF
swtpm_setup --tpm2 --tpmstate "$T/tpm" --create-ek-cert --config "$T/swtpm_setup.conf" \
	>"$T/setup.log" 2>&1 || fail "swtpm_setup: $(tail -n 5 "$T/setup.log")"
cat "$T/localca/swtpm-localca-rootca-cert.pem" "$T/localca/issuercert.pem" >"$T/ek-ca.pem"
start_swtpm tpm
start_tpmproxy

# Through the SRK-swapping interposer: refused, nothing recorded.
proxy_ctl interpose srk-swap "$T/attacker.pem" >/dev/null
expect_status 1 "$TPMID" --direct srk --ek-ca "$T/ek-ca.pem"
grep -q "the bus" "$T/err" || fail "srk --ek-ca through the interposer: $(cat "$T/err")"
[ ! -e "$TPMID_STORE/.srk-name" ] || fail "an SRK name was recorded through the interposer"
log "interposer: $(cat "$T/err")"
proxy_ctl interpose off >/dev/null

# A CA that did not issue the EK certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
	-out "$T/other.pem" -subj "/CN=Other CA" -days 2 2>/dev/null
expect_status 1 "$TPMID" --direct srk --ek-ca "$T/other.pem"
grep -q "does not verify" "$T/err" || fail "srk --ek-ca with another CA: $(cat "$T/err")"
[ ! -e "$TPMID_STORE/.srk-name" ] || fail "an SRK name was recorded with an untrusted EK"

# The real thing: verified, recorded, and the same name trust on first use
# would have recorded.
"$TPMID" --direct srk --ek-ca "$T/ek-ca.pem" >"$T/out" 2>"$T/err" ||
	fail "srk --ek-ca: $(cat "$T/err")"
grep -q "^verified: *ECC P-384 endorsement key" "$T/out" || fail "srk --ek-ca output: $(cat "$T/out")"
name=$(sed -n 's/^name: *//p' "$T/out")
[ -n "$name" ] && [ "$(tr -d '\n' <"$TPMID_STORE/.srk-name")" = "$name" ] ||
	fail "the verified name was not recorded: $(cat "$T/out")"
log "$(tr '\n' ' ' <"$T/out")"
printf '1234\n' >"$T/pin"
run_ok "$TPMID" --direct keygen k --pin-file "$T/pin"
run_ok "$TPMID" --direct sign k --pin-file "$T/pin" --in "$T/out" --out "$T/sig"
# Once recorded, the interposer is refused by the ordinary check too.
proxy_ctl interpose srk-swap "$T/attacker.pem" >/dev/null
expect_status 1 "$TPMID" --direct keygen k2 --pin-file "$T/pin"
proxy_ctl interpose off >/dev/null

# A TPM without an EK certificate.
start_swtpm plain
TPMID_STORE=$T/store2 expect_status 1 "$TPMID" --direct srk --ek-ca "$T/ek-ca.pem"
grep -q "no ECC endorsement key certificate" "$T/err" || fail "TPM without EK cert: $(cat "$T/err")"
pass "srk --ek-ca: the SRK verified against the certified EK; interposer, foreign CA and missing certificate refused"
