#!/bin/bash
# libtpmid-pkcs11.so with OpenSSH (issue 11): ssh-keygen -D lists the same
# public keys as `tpmid pubkey --format ssh`; ssh -I logs in to a loopback
# sshd with no agent and no other key, with keys without a PIN (no prompt)
# and with a PIN key (ssh asks through SSH_ASKPASS; a wrong PIN fails and
# costs exactly one dictionary-attack try); and ssh-add -s puts the keys
# into a plain ssh-agent (ssh-pkcs11-helper loads the module) that logs in.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"
need openssl readelf tpm2_getcap ssh-agent
M=${TPMID_PKCS11:?run through make check}
[ -f "$M" ] || fail "$M not built"

# A sanitizer build of the module needs its runtime first in a program
# that was not built with it (as in pkcs11-tool.sh). ssh, ssh-agent and
# ssh-pkcs11-helper have leaks of their own at exit: no leak check there.
asan_preload "$M"
P11_ENV=(env "${ASAN_PRELOAD[@]}")
LEAK_ENV=(env)
# ssh-keygen -D frees what it loads (C_Finalize): the module's leaks are
# checked there.
[ -z "$ASAN_LIB" ] || LEAK_ENV=(env LD_PRELOAD="$ASAN_LIB" ASAN_OPTIONS=detect_leaks=1)

start_swtpm
# A wrong PIN stays on the TPM's counter for the whole test (1000 s), so
# the counter says exactly how many were tried.
set_da_params 32 1000 1
wrong_tries() { grep -c "'pk' .*wrong PIN" "$T/agent.log" || true; }
printf '1234\n' >"$T/pin"
run_ok "$TPMID" keygen k --no-pin
run_ok "$TPMID" keygen k384 --curve p384 --no-pin
run_ok "$TPMID" keygen pk --pin-file "$T/pin"
start_agent
# The module finds the agent at the default socket ($XDG_RUNTIME_DIR);
# there is no ssh-agent for ssh to use.
[ -z "${SSH_AUTH_SOCK:-}" ] || fail "SSH_AUTH_SOCK is set"
for id in k k384 pk; do
	"$TPMID" pubkey "$id" --format ssh >"$T/$id.pub"
	chmod 600 "$T/$id.pub"
	cat "$T/$id.pub" >>"$T/authorized_keys"
done
sort "$T/authorized_keys" >"$T/want"

# --- ssh-keygen -D ------------------------------------------------------------
# Every identity once (each is on slot 0 and on its own slot; ssh keeps
# one), comment = its label, the same line as tpmid's. The PIN key too,
# with nobody logged in: its public key object is public.
"${LEAK_ENV[@]}" ssh-keygen -D "$M" >"$T/listed" 2>"$T/err" || fail "ssh-keygen -D: $(cat "$T/err")"
sort "$T/listed" | cmp -s - "$T/want" ||
	fail "ssh-keygen -D lists $(cat "$T/listed") instead of $(cat "$T/want")"
pass "ssh-keygen -D prints tpmid's public keys (k, k384, and pk before any login)"

# --- ssh -I: no agent, no key but the module's ----------------------------------
start_sshd
make_askpass "$T/askpass-good" 1234
make_askpass "$T/askpass-bad" 9999
# ssh_p11 ASKPASS [SSH OPTIONS...]: ssh with only the module's key named by
# IdentityFile (IdentitiesOnly: no ~/.ssh key, and a module key only if
# listed), no agent, no terminal; an askpass program that also records
# its prompt in $T/prompts, or none.
ssh_p11() {
	local ap=$1 pre
	shift
	if [ "$ap" = none ]; then
		pre=(env -u SSH_ASKPASS -u DISPLAY)
	else
		printf '#!/bin/sh\nprintf "%%s\\n" "$1" >>"%s"\nexec "%s"\n' "$T/prompts" "$ap" >"$T/askpass-rec"
		chmod 700 "$T/askpass-rec"
		pre=(env SSH_ASKPASS="$T/askpass-rec" SSH_ASKPASS_REQUIRE=force DISPLAY=:0)
	fi
	rm -f "$T/prompts"
	setsid -w timeout 60 "${pre[@]}" "${P11_ENV[@]}" ssh -F none \
		-o IdentityAgent=none -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
		-o ConnectTimeout=20 -o LogLevel=ERROR \
		-p "$SSHD_PORT" -l "$SSH_USER" "$@" 127.0.0.1 true </dev/null
}
accepted() { # ID: sshd accepted a login with that key (and we clear the log)
	local fp
	fp=$(fingerprint "$T/$1.pub")
	grep -q "Accepted publickey for $SSH_USER .*$fp" "$T/sshd.log" ||
		fail "sshd did not log an accepted login with $1's key ($fp)"
	: >"$T/sshd.log"
}

# Keys without a PIN, with nothing to ask with (BatchMode): no prompt.
# (ssh skips a token that needs a login in batch mode: slot 0 and pk's.)
da0=$(da_counter)
for id in k k384; do
	ssh_p11 none -o BatchMode=yes -o PKCS11Provider="$M" -o IdentityFile="$T/$id.pub" 2>"$T/err" ||
		fail "ssh -o PKCS11Provider with $id: $(cat "$T/err")"
	accepted "$id"
done
ssh_p11 none -o BatchMode=yes -I "$M" -o IdentityFile="$T/k.pub" 2>"$T/err" ||
	fail "ssh -I with k: $(cat "$T/err")"
accepted k
# In batch mode the PIN key is not offered at all, and nothing is tried.
ssh_p11 none -o BatchMode=yes -I "$M" -o IdentityFile="$T/pk.pub" 2>"$T/err" &&
	fail "pk logged in with no PIN"
pass "ssh -I / PKCS11Provider logins with k (P-256) and k384 (P-384), no agent, no prompt"

# A key without a PIN when ssh may ask: it logs in whatever the answer
# (ssh takes the key from token tpmid, which needs a login because pk is
# on it, and asks; that PIN is not sent for k).
ssh_p11 "$T/askpass-bad" -o PKCS11Provider="$M" -o IdentityFile="$T/k.pub" 2>"$T/err" ||
	fail "ssh -I with k and an askpass: $(cat "$T/err")"
accepted k
log "k with an askpass available; prompts: $(cat "$T/prompts" 2>/dev/null || echo none)"
[ "$(wrong_tries)" -eq 0 ] || fail "a PIN was tried although only k signed"

# The PIN key: ssh asks once through SSH_ASKPASS, for the token it found
# the key on first (slot 0, label tpmid), and signs with the answer.
ssh_p11 "$T/askpass-good" -o PKCS11Provider="$M" -o IdentityFile="$T/pk.pub" 2>"$T/err" ||
	fail "ssh -I with pk and its PIN: $(cat "$T/err")"
accepted pk
[ "$(cat "$T/prompts")" = "Enter PIN for 'tpmid': " ] ||
	fail "ssh's PIN prompt(s): $(cat "$T/prompts")"
[ "$(da_counter)" -eq "$da0" ] || fail "the right PIN moved the DA counter: $(da_counter)"
"$TPMID" status | grep -q '^unlocked: *0' || fail "ssh's PKCS#11 login unlocked pk in the agent"
pass "ssh -I with the PIN key: asked \"$(cat "$T/prompts")\" through SSH_ASKPASS, logged in, nothing held"

# A wrong PIN: no login, and exactly one try of the TPM's counter.
n=$(wrong_tries)
ssh_p11 "$T/askpass-bad" -o PKCS11Provider="$M" -o IdentityFile="$T/pk.pub" 2>"$T/err" &&
	fail "pk logged in with a wrong PIN"
grep -q "Permission denied (publickey)" "$T/err" || fail "wrong PIN: $(cat "$T/err")"
# 160 = 0xa0, CKR_PIN_INCORRECT
grep -q "C_Sign failed: 160" "$T/err" || fail "wrong PIN: C_Sign did not say CKR_PIN_INCORRECT: $(cat "$T/err")"
[ "$(wc -l <"$T/prompts")" -eq 1 ] || fail "ssh asked $(wc -l <"$T/prompts") times"
grep -q "Accepted publickey" "$T/sshd.log" && fail "sshd accepted a login"
[ "$(wrong_tries)" -eq $((n + 1)) ] || fail "a wrong PIN cost $(( $(wrong_tries) - n )) tries (agent log)"
[ "$(da_counter)" -eq $((da0 + 1)) ] ||
	fail "a wrong PIN moved the TPM's DA counter from $da0 to $(da_counter), want +1"
# And the right one works again.
ssh_p11 "$T/askpass-good" -o PKCS11Provider="$M" -o IdentityFile="$T/pk.pub" 2>"$T/err" ||
	fail "ssh -I with pk after a wrong PIN: $(cat "$T/err")"
accepted pk
pass "ssh -I with a wrong PIN: refused (CKR_PIN_INCORRECT), one dictionary-attack try"

# --- ssh-add -s into a plain ssh-agent ---------------------------------------------
# ssh-agent loads the module in ssh-pkcs11-helper, and only from the paths
# -P allows (default /usr/lib*/*, /usr/local/lib*/*): this one exactly.
# Debian's ssh-agent is setgid, so the loader drops LD_PRELOAD for it and
# its children: an ASan module gets its runtime from a wrapper named by
# SSH_PKCS11_HELPER.
helper=""
if [ -n "$ASAN_LIB" ]; then
	for h in /usr/lib/openssh/ssh-pkcs11-helper /usr/libexec/openssh/ssh-pkcs11-helper \
		/usr/libexec/ssh-pkcs11-helper; do
		[ -x "$h" ] && helper=$h && break
	done
	[ -n "$helper" ] || fail "ssh-pkcs11-helper not found"
	printf '#!/bin/sh\nexec env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 %s "$@"\n' \
		"$ASAN_LIB" "$helper" >"$T/p11-helper"
	chmod 700 "$T/p11-helper"
	helper="$T/p11-helper"
fi
SSH_PKCS11_HELPER=$helper ssh-agent -D -a "$T/ssh-agent.sock" -P "$M" >>"$T/ssh-agent.log" 2>&1 &
sa_pid=$!
_track "$sa_pid"
for _ in $(seq 100); do
	[ -S "$T/ssh-agent.sock" ] && break
	kill -0 "$sa_pid" 2>/dev/null || fail "ssh-agent exited at start: $(cat "$T/ssh-agent.log")"
	sleep 0.05
done
[ -S "$T/ssh-agent.sock" ] || fail "ssh-agent did not make its socket"
sa() { SSH_AUTH_SOCK="$T/ssh-agent.sock" "$@"; }

# ssh-add asks for "the PKCS#11 passphrase" (pk's PIN); the helper logs in
# to each token that needs it: token tpmid keeps it, pk's checks it (a
# right PIN costs nothing).
make_askpass "$T/askpass" 1234
sa env SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	setsid -w ssh-add -s "$M" </dev/null >"$T/out" 2>&1 || fail "ssh-add -s: $(cat "$T/out")"
grep -q "Card added: $M" "$T/out" || fail "ssh-add -s: $(cat "$T/out")"
sa ssh-add -L | sort | cmp -s - "$T/want" || fail "ssh-add -L after ssh-add -s: $(sa ssh-add -L)"
for id in k k384 pk; do
	timeout 60 ssh -F none -o IdentityAgent="$T/ssh-agent.sock" -o IdentitiesOnly=yes \
		-o IdentityFile="$T/$id.pub" -o BatchMode=yes \
		-o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o StrictHostKeyChecking=yes -o LogLevel=ERROR \
		-p "$SSHD_PORT" -l "$SSH_USER" 127.0.0.1 true </dev/null 2>"$T/err" ||
		fail "login with $id through ssh-agent and the module: $(cat "$T/err") $(tail -n 3 "$T/ssh-agent.log")"
	accepted "$id"
done
[ "$(da_counter)" -eq $((da0 + 1)) ] || fail "the ssh-agent path moved the DA counter: $(da_counter)"
sa ssh-add -e "$M" >"$T/out" 2>&1 || fail "ssh-add -e: $(cat "$T/out")"
sa ssh-add -L >"$T/out" 2>&1 && fail "keys left in ssh-agent after ssh-add -e: $(cat "$T/out")"
kill "$sa_pid"
wait "$sa_pid" 2>/dev/null || true
_untrack "$sa_pid"
pass "ssh-add -s into ssh-agent (ssh-pkcs11-helper): the same keys, logins with k, k384 and pk"

stop_sshd
stop_agent
check_no_transient
