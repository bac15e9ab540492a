#!/bin/bash
# Real ssh logins to a real sshd on 127.0.0.1 with only PubkeyAuthentication,
# the key in the TPM and used through tpmid-agent: generated P-256 and
# P-384 keys, an imported OpenSSH key (unencrypted, and passphrase-protected
# with the passphrase given through SSH_ASKPASS with no terminal), a PIN key
# after `tpmid unlock`; a locked PIN key fails cleanly.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"

start_swtpm
printf '4321' >"$T/pin"
run_ok "$TPMID" keygen g256 --no-pin
run_ok "$TPMID" keygen g384 --curve p384 --no-pin
run_ok "$TPMID" keygen pinned --pin-file "$T/pin"

# An existing OpenSSH key, imported: same public key as its .pub file.
ssh-keygen -q -t ecdsa -b 256 -N '' -C 'me@laptop' -f "$T/id_ecdsa"
run_ok "$TPMID" import imported --key "$T/id_ecdsa" --no-pin
# A passphrase-protected one (ssh-keygen's default aes256-ctr + bcrypt):
# the passphrase comes from SSH_ASKPASS; setsid takes the terminal away.
ssh-keygen -q -t ecdsa -b 384 -N 'open sesame' -C 'enc@laptop' -f "$T/id_enc"
make_askpass "$T/askpass" 'open sesame'
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	setsid -w "$TPMID" import encrypted --key "$T/id_enc" --no-pin </dev/null \
	>/dev/null 2>"$T/err" || fail "import of a passphrase-protected key: $(cat "$T/err")"
make_askpass "$T/askpass-bad" 'not it'
if SSH_ASKPASS="$T/askpass-bad" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	setsid -w "$TPMID" import wrongpass --key "$T/id_enc" --no-pin </dev/null \
	>/dev/null 2>"$T/err"; then
	fail "import with a wrong passphrase succeeded"
fi
grep -qi "passphrase" "$T/err" || fail "wrong passphrase not reported: $(cat "$T/err")"
"$TPMID" list >"$T/list"
grep -q wrongpass "$T/list" && fail "a failed import left an identity behind"
pass "imported OpenSSH keys (plain, and with a passphrase via SSH_ASKPASS)"

start_agent
export SSH_AUTH_SOCK="$TPMID_SOCKET"
for id in g256 g384 pinned imported encrypted; do
	"$TPMID" pubkey "$id" --format ssh >"$T/$id.pub"
	cat "$T/$id.pub" >>"$T/authorized_keys"
done

# The imported keys keep their public key: ssh-add -L shows the .pub line
# (with the identity name as comment instead of the file's).
ssh-add -L >"$T/listed"
for pair in imported:id_ecdsa encrypted:id_enc; do
	id=${pair%%:*}
	f=${pair#*:}
	want=$(cut -d' ' -f1,2 "$T/$f.pub")
	grep -qx "$want $id" "$T/listed" || fail "ssh-add -L does not show $f.pub's key as '$id'"
done
pass "ssh-add -L shows the imported keys' original public keys"

# (ssh-lib.sh's helpers must not touch the caller's variables.)
own_hostkey=mine l=mine fp=mine
start_sshd
for id in g256 g384 imported encrypted; do
	expect_login_with "$T/$id.pub"
done
[ "$own_hostkey $l $fp" = "mine mine mine" ] ||
	fail "an ssh-lib.sh helper changed the caller's variables: $own_hostkey $l $fp"
pass "ssh logins through the agent: generated P-256, P-384, imported, imported with passphrase"

# A PIN key that is not unlocked: the login fails at once (no prompt, no
# hang) and the agent says which identity needs unlocking.
start=$(date +%s)
if ssh_login -o IdentitiesOnly=yes -o IdentityFile="$T/pinned.pub" 2>"$T/err"; then
	fail "login with a locked PIN key succeeded"
fi
[ $(($(date +%s) - start)) -lt 30 ] || fail "login with a locked PIN key took too long"
grep -q "Permission denied (publickey" "$T/err" || fail "unexpected ssh error: $(cat "$T/err")"
grep -q "identity 'pinned' needs unlocking: run tpmid unlock pinned" "$T/agent.log" ||
	fail "agent did not log which identity needs unlocking"
pass "a locked PIN key fails cleanly"

run_ok "$TPMID" unlock pinned --pin-file "$T/pin"
expect_login_with "$T/pinned.pub"
pass "ssh login with a PIN key after tpmid unlock"

# Without IdentitiesOnly, ssh walks the agent's list and gets in.
ssh_login 2>"$T/err" || fail "login offering every agent key: $(cat "$T/err")"

stop_sshd
stop_agent
check_no_transient
