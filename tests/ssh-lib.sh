# shellcheck shell=bash
# tests/ssh-lib.sh: sshd and ssh helpers for the ssh-*.sh integration tests
# (sourced after tests/lib.sh).
#
# Every sshd runs in the foreground as the current user (root in CI) on
# 127.0.0.1 and a free port, with its own config, host key, authorized_keys
# and PidFile in $T, and is stopped by PID with everything else on exit.
# Clients run with `-F none` and an empty HOME, so nothing from the
# machine's own ssh setup takes part. Helpers keep their variables local;
# the globals they set are SSHD_PORT and SSHD_PID.

SSHD=${SSHD:-/usr/sbin/sshd}
SSH_USER=$(id -un)

need ssh ssh-keygen ssh-add setsid timeout
[ -x "$SSHD" ] || fail "$SSHD not found (apt-get install openssh-server)"

# sshd insists on its privilege separation directory when run as root.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
	mkdir -p /run/sshd && chmod 0755 /run/sshd
fi

# askpass SCRIPT SECRET: write a program that prints SECRET (for
# SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force; no terminal involved).
make_askpass() {
	printf '#!/bin/sh\nprintf "%%s\\n" %s\n' "'$2'" >"$1"
	chmod 700 "$1"
}

# start_sshd [--no-hostkey] [CONFIG LINE...]: start sshd with a base config
# (pubkey only) plus the given lines. Sets SSHD_PORT, SSHD_PID and
# $T/known_hosts (the host key sshd actually uses, unless --no-hostkey).
start_sshd() {
	local own_hostkey=1 l
	if [ "${1:-}" = "--no-hostkey" ]; then
		own_hostkey=0
		shift
	fi
	[ -f "$T/ssh_host_ecdsa_key" ] ||
		ssh-keygen -q -t ecdsa -b 256 -N '' -C sshd-test -f "$T/ssh_host_ecdsa_key"
	touch "$T/authorized_keys"
	SSHD_PORT=$(free_port)
	{
		echo "Port $SSHD_PORT"
		echo "ListenAddress 127.0.0.1"
		[ "$own_hostkey" -eq 1 ] && echo "HostKey $T/ssh_host_ecdsa_key"
		echo "PidFile $T/sshd.pid"
		echo "AuthorizedKeysFile $T/authorized_keys"
		echo "PubkeyAuthentication yes"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "PermitRootLogin yes"
		echo "UsePAM no"
		echo "StrictModes no"
		echo "LogLevel VERBOSE"
		for l in "$@"; do echo "$l"; done
	} >"$T/sshd_config"
	"$SSHD" -t -f "$T/sshd_config" 2>"$T/err" || fail "sshd config invalid: $(cat "$T/err")"
	"$SSHD" -D -e -f "$T/sshd_config" >>"$T/sshd.log" 2>&1 &
	SSHD_PID=$!
	_track "$SSHD_PID"
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; then
			if [ "$own_hostkey" -eq 1 ]; then
				echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/ssh_host_ecdsa_key.pub")" \
					>"$T/known_hosts"
			fi
			return 0
		fi
		kill -0 "$SSHD_PID" 2>/dev/null || fail "sshd exited at start: $(tail -n 5 "$T/sshd.log")"
		sleep 0.05
	done
	fail "sshd did not listen on 127.0.0.1:$SSHD_PORT"
}

stop_sshd() {
	kill "$SSHD_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$SSHD_PID" 2>/dev/null || break; sleep 0.05; done
	wait "$SSHD_PID" 2>/dev/null || true
	_untrack "$SSHD_PID"
}

# ssh_login [SSH OPTIONS...]: `ssh ... 127.0.0.1 true` through the agent,
# host key checked strictly against $T/known_hosts, never interactive.
ssh_login() {
	timeout 60 ssh -F none \
		-o IdentityAgent="$TPMID_SOCKET" \
		-o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o BatchMode=yes \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
		-o ConnectTimeout=20 -o LogLevel=ERROR \
		-p "$SSHD_PORT" -l "$SSH_USER" "$@" 127.0.0.1 true
}

# fingerprint PUBFILE: SHA256 fingerprint as sshd logs it.
fingerprint() {
	ssh-keygen -l -E sha256 -f "$1" | awk '{print $2}'
}

# expect_login_with PUBFILE: log in offering only that key, and check sshd
# accepted exactly that key.
expect_login_with() {
	local fp
	ssh_login -o IdentitiesOnly=yes -o IdentityFile="$1" 2>"$T/err" ||
		fail "ssh login with $(basename "$1") failed: $(cat "$T/err")"
	fp=$(fingerprint "$1")
	grep -q "Accepted publickey for $SSH_USER .*$fp" "$T/sshd.log" ||
		fail "sshd did not log an accepted login with $fp"
}

# expect_fail CMD...: CMD must fail (any non-zero status); stderr to $T/err.
expect_fail() {
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "expected failure from: $*"
	fi
	return 0
}
