#!/bin/bash
# OpenSSH certificates (PROTOCOL.certkeys): a user certificate signed by
# `ssh-keygen -s CA` for a TPM key is attached with `tpmid ssh-cert --set`,
# offered by the agent next to the plain key, and accepted by an sshd that
# trusts the CA and has no authorized_keys. A certificate for another key
# is refused.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"

start_swtpm
run_ok "$TPMID" keygen c --no-pin
run_ok "$TPMID" keygen c384 --curve p384 --no-pin
ssh-keygen -q -t ed25519 -N '' -C test-ca -f "$T/ca"

"$TPMID" pubkey c --format ssh >"$T/c.pub"
run_ok ssh-keygen -q -s "$T/ca" -I tpmid-cert-test -n "$SSH_USER" -V -5m:+1h "$T/c.pub"
[ -f "$T/c-cert.pub" ] || fail "ssh-keygen -s made no certificate"

# Refused: a certificate for another key, a plain key, garbage, and a
# P-256 certificate on a P-384 identity.
ssh-keygen -q -t ecdsa -N '' -C other -f "$T/other"
run_ok ssh-keygen -q -s "$T/ca" -I other -n "$SSH_USER" "$T/other.pub"
expect_status 1 "$TPMID" ssh-cert c --set "$T/other-cert.pub"
grep -q "does not certify" "$T/err" || fail "mismatch not explained: $(cat "$T/err")"
expect_status 1 "$TPMID" ssh-cert c384 --set "$T/c-cert.pub"
expect_status 1 "$TPMID" ssh-cert c --set "$T/c.pub"
echo "not a certificate" >"$T/junk"
expect_status 1 "$TPMID" ssh-cert c --set "$T/junk"
expect_status 1 "$TPMID" ssh-cert c
grep -q "no OpenSSH certificate" "$T/err" || fail "missing cert not explained: $(cat "$T/err")"
pass "ssh-cert --set refuses certificates for other keys and non-certificates"

run_ok "$TPMID" ssh-cert c --set "$T/c-cert.pub"
"$TPMID" ssh-cert c >"$T/shown" || fail "tpmid ssh-cert c failed"
[ "$(cut -d' ' -f1,2 "$T/shown")" = "$(cut -d' ' -f1,2 "$T/c-cert.pub")" ] ||
	fail "tpmid ssh-cert prints another certificate"
pass "ssh-cert --set attaches the certificate; ssh-cert prints it"

start_agent
export SSH_AUTH_SOCK="$TPMID_SOCKET"
ssh-add -L >"$T/listed"
grep -qx "$(cut -d' ' -f1,2 "$T/c.pub") c" "$T/listed" || fail "plain key not listed"
grep -qx "$(cut -d' ' -f1,2 "$T/c-cert.pub") c" "$T/listed" || fail "certificate not listed"
[ "$(wc -l <"$T/listed")" -eq 3 ] || fail "expected 3 agent entries: $(cat "$T/listed")"
pass "the agent lists the certificate as a second entry"

# sshd trusts the CA; no authorized_keys at all.
cut -d' ' -f1,2 "$T/ca.pub" >"$T/trusted_ca"
start_sshd "TrustedUserCAKeys $T/trusted_ca" "AuthorizedKeysFile none"
ssh_login 2>"$T/err" || fail "certificate login failed: $(cat "$T/err")"
grep -q "Accepted publickey for $SSH_USER .*ECDSA-CERT .*ID tpmid-cert-test" "$T/sshd.log" ||
	fail "sshd did not accept the certificate: $(grep -i accepted "$T/sshd.log")"
pass "ssh login with the TPM key's certificate (TrustedUserCAKeys, no authorized_keys)"

# The same sshd refuses the identity without a certificate.
if ssh_login -o IdentitiesOnly=yes -o IdentityFile="$T/c.pub" \
	-o CertificateFile=none 2>"$T/err"; then
	fail "login without a certificate succeeded"
fi
stop_sshd
stop_agent
check_no_transient
