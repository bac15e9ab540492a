#!/bin/bash
# An sshd host key in the TPM: sshd_config `HostKey <tpmid pubkey>.pub` +
# `HostKeyAgent <agent socket>` (contrib/sshd/). The client's known_hosts
# holds the TPM public key and StrictHostKeyChecking=yes passes; a client
# expecting another host key is refused.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"

start_swtpm
run_ok "$TPMID" keygen host --no-pin
run_ok "$TPMID" keygen host384 --curve p384 --no-pin
start_agent

# The client authenticates with an ordinary software key, not via tpmid.
ssh-keygen -q -t ed25519 -N '' -C client -f "$T/client"
cut -d' ' -f1,2 "$T/client.pub" >"$T/authorized_keys"
client_login() {
	timeout 60 ssh -F none -o IdentityAgent=none -o IdentitiesOnly=yes \
		-o IdentityFile="$T/client" \
		-o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=20 \
		-o LogLevel=ERROR -p "$SSHD_PORT" -l "$SSH_USER" "$@" 127.0.0.1 true
}

for hk in host host384; do
	"$TPMID" pubkey "$hk" --format ssh >"$T/$hk.pub"
	# sshd first tries the HostKey file as a private key and warns about
	# a readable one; the public key is all it gets either way.
	chmod 600 "$T/$hk.pub"
	alg=$(cut -d' ' -f1 "$T/$hk.pub")
	# Only the TPM key: sshd has no private host key file at all.
	start_sshd --no-hostkey "HostKey $T/$hk.pub" "HostKeyAgent $TPMID_SOCKET"
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/$hk.pub")" >"$T/known_hosts"
	client_login -o HostKeyAlgorithms="$alg" 2>"$T/err" ||
		fail "login to sshd with TPM host key $hk failed: $(cat "$T/err")"
	# What sshd presented is the TPM key.
	ssh-keyscan -p "$SSHD_PORT" -t ecdsa 127.0.0.1 2>/dev/null | cut -d' ' -f2,3 >"$T/scanned"
	[ "$(cat "$T/scanned")" = "$(cut -d' ' -f1,2 "$T/$hk.pub")" ] ||
		fail "sshd presents another host key: $(cat "$T/scanned")"
	# A client that knows another host key refuses to connect.
	# (start_sshd made $T/ssh_host_ecdsa_key, unused by this sshd.)
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/ssh_host_ecdsa_key.pub")" >"$T/known_hosts"
	if client_login -o HostKeyAlgorithms="$alg" 2>"$T/err"; then
		fail "login with a wrong known_hosts entry succeeded"
	fi
	grep -qi "host key verification failed\|REMOTE HOST IDENTIFICATION HAS CHANGED\|no matching host key" "$T/err" ||
		fail "unexpected error for a wrong host key: $(cat "$T/err")"
	stop_sshd
	pass "sshd host key $hk ($alg) in the TPM via HostKeyAgent; known_hosts check passes"
done

stop_agent
check_no_transient
