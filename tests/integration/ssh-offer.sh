#!/bin/bash
# Many identities and ssh (issue 10, Medium 8): the agent offered every
# identity, and with more than sshd's MaxAuthTries (6) ahead of the right
# one, ssh failed with "Too many authentication failures". The README's
# recipe (IdentitiesOnly with -i NAME.pub, the .pub from `tpmid pubkey
# --out`) works with every key listed, and an identity that is not for ssh
# can opt out of the listing (`tpmid ssh-offer NAME --off`, shown by
# `tpmid list`); ssh then does not use it at all.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"

start_swtpm
for i in $(seq -w 1 8); do run_ok "$TPMID" --direct keygen "a$i" >/dev/null; done
run_ok "$TPMID" --direct keygen zz
start_agent
export SSH_AUTH_SOCK="$TPMID_SOCKET"
# The README's recipe for the .pub file.
run_ok "$TPMID" pubkey zz --format ssh --out "$T/zz.pub"
cat "$T/zz.pub" >>"$T/authorized_keys"
start_sshd

# Every identity offered: nine keys before zz's, the server gives up.
[ "$(ssh-add -L | wc -l)" -eq 9 ] || fail "ssh-add -L: $(ssh-add -L)"
ssh_login 2>"$T/err" && fail "login succeeded with 8 wrong keys offered first"
grep -q "Too many authentication failures" "$T/err" || fail "unexpected ssh error: $(cat "$T/err")"
log "before: $(cat "$T/err")"

# Named by the client: works whatever is offered.
ssh_login -o IdentitiesOnly=yes -i "$T/zz.pub" 2>"$T/err" || fail "IdentitiesOnly -i zz.pub: $(cat "$T/err")"

# The others opted out: the listing has zz alone, and the login works.
for i in $(seq -w 1 8); do
	"$TPMID" ssh-offer "a$i" --off >"$T/out" 2>"$T/err" || fail "ssh-offer --off: $(cat "$T/err")"
done
grep -q "identity 'a8' is no longer offered to ssh" "$T/out" || fail "ssh-offer output: $(cat "$T/out")"
[ "$("$TPMID" ssh-offer a1)" = off ] || fail "ssh-offer a1 does not show off"
[ "$("$TPMID" ssh-offer zz)" = on ] || fail "ssh-offer zz does not show on"
grep -q '^a1 .* off$' <("$TPMID" list) || fail "list does not show SSH off: $("$TPMID" list)"
grep -q '^zz .* on$' <("$TPMID" list) || fail "list does not show SSH on"
"$TPMID" list --json | grep -Eq '"ssh": ?false' || fail "list --json has no \"ssh\": false"
grep -Eq '"ssh": ?false' "$TPMID_STORE/a1.json" || fail "a1.json does not record ssh: false"
[ "$(ssh-add -L | wc -l)" -eq 1 ] || fail "ssh-add -L after --off: $(ssh-add -L)"
ssh-add -L | grep -q " zz$" || fail "zz not listed"
ssh_login 2>"$T/err" || fail "login with the others opted out: $(cat "$T/err")"

# An opted-out key is not for ssh, named or not; back on, it is.
run_ok "$TPMID" pubkey a1 --format ssh --out "$T/a1.pub"
cat "$T/a1.pub" >>"$T/authorized_keys"
ssh_login -o IdentitiesOnly=yes -i "$T/a1.pub" 2>/dev/null && fail "ssh used an opted-out key"
run_ok "$TPMID" ssh-offer a1 --on
ssh_login -o IdentitiesOnly=yes -i "$T/a1.pub" 2>"$T/err" || fail "a1 back on: $(grep -v @ "$T/err")"
[ "$(ssh-add -L | wc -l)" -eq 2 ] || fail "ssh-add -L after --on: $(ssh-add -L)"
grep -q '"ssh"' "$TPMID_STORE/a1.json" && fail "a1.json keeps \"ssh\" after --on"
# Direct mode sets it too; a bad value in a file is reported.
run_ok "$TPMID" --direct ssh-offer a2 --on
expect_status 2 "$TPMID" ssh-offer a2 --on --off
stop_sshd
stop_agent
pass "IdentitiesOnly -i NAME.pub with many keys; identities opt out of ssh (ssh-offer, list)"
