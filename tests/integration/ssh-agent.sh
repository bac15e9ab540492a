#!/bin/bash
# ssh-add against tpmid-agent (draft-miller-ssh-agent): the TPM identities
# are listed exactly as `tpmid pubkey --format ssh` prints them; software
# keys are refused; ssh-add -x/-X lock and unlock with a passphrase (with a
# delay after a wrong one); a PIN key signs only after `tpmid unlock`.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ssh-lib.sh"

start_swtpm
printf '1234' >"$T/pin"
run_ok "$TPMID" keygen a --no-pin
run_ok "$TPMID" keygen b --curve p384 --no-pin
run_ok "$TPMID" keygen p --pin-file "$T/pin"
start_agent
export SSH_AUTH_SOCK="$TPMID_SOCKET"

# --- listing -------------------------------------------------------------
for id in a b p; do "$TPMID" pubkey "$id" --format ssh; done | sort >"$T/want"
ssh-add -L >"$T/got" 2>"$T/err" || fail "ssh-add -L: $(cat "$T/err")"
sort "$T/got" | cmp -s - "$T/want" || fail "ssh-add -L differs: $(cat "$T/got")"
[ "$(ssh-add -l | wc -l)" -eq 3 ] || fail "ssh-add -l does not list 3 keys"
grep -q '^ecdsa-sha2-nistp384 .* b$' "$T/got" || fail "P-384 key not listed as ecdsa-sha2-nistp384"
pass "ssh-add -L lists the TPM keys as tpmid pubkey prints them"

# --- signing through the agent (no-PIN keys) --------------------------------
echo "signed through the agent" >"$T/data"
for id in a b; do
	"$TPMID" pubkey "$id" --format ssh >"$T/$id.pub"
	rm -f "$T/data.sig"
	run_ok ssh-keygen -q -Y sign -n file -f "$T/$id.pub" "$T/data"
	echo "$id@test $(cat "$T/$id.pub")" >"$T/allowed"
	ssh-keygen -Y verify -f "$T/allowed" -I "$id@test" -n file -s "$T/data.sig" \
		<"$T/data" >/dev/null 2>"$T/err" || fail "signature by $id does not verify: $(cat "$T/err")"
done
pass "ssh-keygen -Y sign through the agent verifies (P-256, P-384)"

# --- software keys are refused --------------------------------------------
ssh-keygen -q -t ecdsa -N '' -C soft -f "$T/soft"
expect_fail ssh-add "$T/soft"
expect_fail ssh-add -d "$T/a.pub"
expect_fail ssh-add -D
[ "$(ssh-add -L | wc -l)" -eq 3 ] || fail "identities changed after refused add/remove"
grep -q "keys live in the TPM" "$T/agent.log" || fail "refusal not logged"
pass "ssh-add of a software key, ssh-add -d and -D are refused"

# --- lock / unlock (section 3.7) -------------------------------------------
make_askpass "$T/askpass-right" 'lock pass phrase'
make_askpass "$T/askpass-wrong" 'not the phrase'
sshadd_pass() {
	ap=$1
	shift
	SSH_ASKPASS="$ap" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 setsid -w ssh-add "$@" </dev/null
}
sshadd_pass "$T/askpass-right" -x >/dev/null 2>"$T/err" || fail "ssh-add -x: $(cat "$T/err")"
expect_fail ssh-add -L
grep -q "no identities" "$T/out" "$T/err" || fail "locked agent still lists keys"
rm -f "$T/data.sig"
expect_fail ssh-keygen -q -Y sign -n file -f "$T/a.pub" "$T/data"
# Locking again while locked fails (and must not change the passphrase).
sshadd_pass "$T/askpass-wrong" -x >/dev/null 2>&1 && fail "second lock succeeded"
# Wrong passphrases: refused, and each failure delays the next try.
for _ in 1 2 3 4 5; do
	sshadd_pass "$T/askpass-wrong" -X >/dev/null 2>&1 && fail "wrong unlock passphrase accepted"
	sleep 0.5
done
# Right after the 5th failure (500 ms delay) even the right one is refused.
sshadd_pass "$T/askpass-wrong" -X >/dev/null 2>&1 && fail "wrong unlock passphrase accepted"
sshadd_pass "$T/askpass-right" -X >/dev/null 2>&1 && fail "unlock accepted during the delay"
sleep 0.7
sshadd_pass "$T/askpass-right" -X >/dev/null 2>"$T/err" || fail "ssh-add -X: $(cat "$T/err")"
[ "$(ssh-add -L | wc -l)" -eq 3 ] || fail "keys not listed after unlock"
run_ok ssh-keygen -q -Y sign -n file -f "$T/a.pub" "$T/data"
grep -q "failed unlock" "$T/agent.log" || fail "failed unlock not logged"
pass "ssh-add -x / -X lock and unlock, with a delay after wrong passphrases"

# --- PIN key: refused until tpmid unlock ----------------------------------
"$TPMID" pubkey p --format ssh >"$T/p.pub"
rm -f "$T/data.sig"
expect_fail ssh-keygen -q -Y sign -n file -f "$T/p.pub" "$T/data"
grep -q "identity 'p' needs unlocking: run tpmid unlock p" "$T/agent.log" ||
	fail "agent did not log which identity needs unlocking"
run_ok "$TPMID" unlock p --pin-file "$T/pin"
run_ok ssh-keygen -q -Y sign -n file -f "$T/p.pub" "$T/data"
echo "p@test $(cat "$T/p.pub")" >"$T/allowed"
ssh-keygen -Y verify -f "$T/allowed" -I p@test -n file -s "$T/data.sig" <"$T/data" \
	>/dev/null 2>"$T/err" || fail "PIN key signature does not verify: $(cat "$T/err")"
run_ok "$TPMID" lock p
rm -f "$T/data.sig"
expect_fail ssh-keygen -q -Y sign -n file -f "$T/p.pub" "$T/data"
pass "a PIN key signs only while unlocked"

stop_agent
check_no_transient
