#!/bin/bash
# SSH signatures (OpenSSH PROTOCOL.sshsig) through tpmid-agent:
# `ssh-keygen -Y sign` / `-Y verify`, and git commit signing with
# gpg.format=ssh verified by `git verify-commit` with an allowed_signers
# file, for a key file path and for a "key::" literal signing key.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"
need git

start_swtpm
run_ok "$TPMID" keygen dev --no-pin
run_ok "$TPMID" keygen dev384 --curve p384 --no-pin
start_agent
export SSH_AUTH_SOCK="$TPMID_SOCKET"

: >"$T/allowed_signers"
for id in dev dev384; do
	"$TPMID" pubkey "$id" --format ssh >"$T/$id.pub"
	echo "$id@example.org namespaces=\"file,git\" $(cut -d' ' -f1,2 "$T/$id.pub")" \
		>>"$T/allowed_signers"
done

# --- ssh-keygen -Y ------------------------------------------------------
echo "release tarball" >"$T/file"
for id in dev dev384; do
	rm -f "$T/file.sig"
	run_ok ssh-keygen -q -Y sign -n file -f "$T/$id.pub" "$T/file"
	ssh-keygen -Y verify -f "$T/allowed_signers" -I "$id@example.org" -n file \
		-s "$T/file.sig" <"$T/file" >"$T/out" 2>&1 ||
		fail "ssh-keygen -Y verify ($id): $(cat "$T/out")"
	grep -q "Good \"file\" signature for $id@example.org" "$T/out" || fail "no good signature ($id)"
	ssh-keygen -Y find-principals -f "$T/allowed_signers" -s "$T/file.sig" >"$T/out"
	grep -qx "$id@example.org" "$T/out" || fail "find-principals does not name $id"
done
echo "tampered" >>"$T/file"
if ssh-keygen -Y verify -f "$T/allowed_signers" -I dev384@example.org -n file \
	-s "$T/file.sig" <"$T/file" >/dev/null 2>&1; then
	fail "a tampered file verified"
fi
pass "ssh-keygen -Y sign/verify through the agent (P-256, P-384)"

# --- git ------------------------------------------------------------------
repo="$T/repo"
git init -q "$repo"
gitc() {
	git -C "$repo" -c user.name="Dev Eloper" -c user.email=dev@example.org \
		-c gpg.format=ssh -c gpg.ssh.allowedSignersFile="$T/allowed_signers" \
		-c commit.gpgsign=false "$@"
}
echo one >"$repo/a"
gitc add a
gitc -c user.signingkey="$T/dev.pub" commit -q -S -m "signed with a key file" ||
	fail "git commit -S (key file) failed"
gitc verify-commit HEAD >"$T/out" 2>&1 || fail "git verify-commit: $(cat "$T/out")"
grep -q 'Good "git" signature for dev@example.org' "$T/out" || fail "unexpected: $(cat "$T/out")"

echo two >"$repo/a"
gitc add a
gitc -c user.signingkey="key::$(cut -d' ' -f1,2 "$T/dev384.pub")" commit -q -S \
	-m "signed with a literal key" || fail "git commit -S (key::) failed"
gitc verify-commit HEAD >"$T/out" 2>&1 || fail "git verify-commit: $(cat "$T/out")"
grep -q 'Good "git" signature for dev384@example.org' "$T/out" || fail "unexpected: $(cat "$T/out")"
gitc log --show-signature -2 >"$T/out" 2>&1
[ "$(grep -c 'Good "git" signature' "$T/out")" -eq 2 ] || fail "git log does not show 2 good signatures"

# An unsigned commit does not verify.
echo three >"$repo/a"
gitc add a
gitc commit -q -m unsigned
if gitc verify-commit HEAD >/dev/null 2>&1; then
	fail "an unsigned commit verified"
fi
pass "git commit -S with gpg.format=ssh and git verify-commit"

stop_agent
check_no_transient
