#!/bin/bash
# tpmid passwd (issue 10, what users of ssh-tpm-agent and tpm2-tools
# expect): change, add and remove a PIN with TPM2_ObjectChangeAuth, in
# direct mode and through the agent; the new blob replaces the stored one
# atomically, the old blob still opens with the old PIN (as --help says), a
# PIN the agent held is forgotten, a wrong current PIN costs one try and
# changes nothing, and what cannot work is refused before any prompt.
. "$top_srcdir/tests/lib.sh"
need openssl

start_swtpm
set_da_params 32 1 1   # the wrong PINs below must not lock the TPM out
printf '1234\n' >"$T/old"
printf '5678\n' >"$T/new"
printf '9999\n' >"$T/wrong"
echo data >"$T/msg"

sign_ok() { # NAME [PIN-OPTIONS...]
	local n=$1
	shift
	"$TPMID" sign "$n" --in "$T/msg" --force --out "$T/sig" "$@" 2>"$T/err" </dev/null ||
		fail "sign $n $*: $(cat "$T/err")"
	"$TPMID" pubkey "$n" >"$T/$n.pem"
	openssl dgst -sha256 -verify "$T/$n.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
		fail "signature of $n does not verify"
}

for mode in direct agent; do
	log "--- $mode"
	[ $mode = agent ] && start_agent
	run_ok "$TPMID" keygen "p$mode" --pin-file "$T/old"
	cp "$TPMID_STORE/p$mode.json" "$T/p$mode.json.before"
	spki=$("$TPMID" pubkey "p$mode")
	[ $mode = agent ] && run_ok "$TPMID" unlock "p$mode" --pin-file "$T/old"

	# Wrong current PIN: refused, nothing changed.
	expect_status 1 "$TPMID" passwd "p$mode" --pin-file "$T/wrong" --new-pin-file "$T/new"
	grep -q "wrong PIN" "$T/err" || fail "wrong current PIN: $(cat "$T/err")"
	cmp -s "$TPMID_STORE/p$mode.json" "$T/p$mode.json.before" || fail "a failed passwd changed the file"

	"$TPMID" passwd "p$mode" --pin-file "$T/old" --new-pin-file "$T/new" >"$T/out" 2>"$T/err" ||
		fail "passwd: $(cat "$T/err")"
	grep -q "identity 'p$mode': PIN changed" "$T/out" || fail "passwd output: $(cat "$T/out")"
	[ "$("$TPMID" pubkey "p$mode")" = "$spki" ] || fail "passwd changed the public key"
	if [ $mode = agent ]; then
		# The PIN the agent held was the old one: forgotten.
		"$TPMID" list | grep -q "^p$mode .*pin  " || fail "agent still shows p$mode unlocked"
		expect_status 1 setsid "$TPMID" sign "p$mode" --in "$T/msg" --force --out "$T/sig" </dev/null
	fi
	sign_ok "p$mode" --pin-file "$T/new"
	expect_status 1 "$TPMID" sign "p$mode" --in "$T/msg" --force --out "$T/sig" --pin-file "$T/old"
	grep -q "wrong PIN" "$T/err" || fail "old PIN after passwd: $(cat "$T/err")"

	# The old file still opens with the old PIN (the TPM cannot revoke it).
	# (Direct mode only: on swtpm it would compete with the agent's keys.)
	if [ $mode = direct ]; then
		mkdir -m 700 "$T/copy"
		cp "$T/p$mode.json.before" "$T/copy/p$mode.json"
		cp "$TPMID_STORE/.srk-name" "$T/copy/"
		"$TPMID" --direct --store "$T/copy" sign "p$mode" --in "$T/msg" --force --out "$T/sig" \
			--pin-file "$T/old" 2>"$T/err" || fail "old blob with the old PIN: $(cat "$T/err")"
	fi

	# Remove, then add back.
	"$TPMID" passwd "p$mode" --pin-file "$T/new" --no-pin >"$T/out" 2>"$T/err" ||
		fail "passwd --no-pin: $(cat "$T/err")"
	grep -q "PIN removed" "$T/out" || fail "--no-pin output: $(cat "$T/out")"
	"$TPMID" list | grep -q "^p$mode .* none " || fail "list after --no-pin: $("$TPMID" list)"
	sign_ok "p$mode"
	"$TPMID" passwd "p$mode" --new-pin-file "$T/old" >"$T/out" 2>"$T/err" ||
		fail "passwd adding a PIN back: $(cat "$T/err")"
	grep -q "PIN added" "$T/out" || fail "add output: $(cat "$T/out")"
	sign_ok "p$mode" --pin-file "$T/old"
	expect_status 1 setsid env SSH_ASKPASS_REQUIRE=never "$TPMID" sign "p$mode" --in "$T/msg" \
		--out "$T/sig" </dev/null
	[ $mode = agent ] && stop_agent
done

# Refused before anything is asked: no PIN to remove, a key made without a
# PIN (noDA), a persistent key, a missing identity.
run_ok "$TPMID" keygen n
expect_status 1 "$TPMID" passwd n --no-pin
grep -q "it has no PIN" "$T/err" || fail "--no-pin on n: $(cat "$T/err")"
expect_status 1 "$TPMID" passwd n --new-pin-file "$T/new"
grep -q "made without a PIN, so without dictionary-attack protection (noDA)" "$T/err" ||
	fail "PIN on a noDA key: $(cat "$T/err")"
run_ok "$TPMID" keygen pp --pin-file "$T/old" --persist
expect_status 1 "$TPMID" passwd pp --pin-file "$T/old" --new-pin-file "$T/new"
grep -q "has a persistent key" "$T/err" || fail "persistent: $(cat "$T/err")"
run_ok "$TPMID" delete pp
expect_status 1 setsid "$TPMID" passwd nosuch </dev/null
grep -q "nosuch" "$T/err" || fail "missing identity: $(cat "$T/err")"
expect_status 2 "$TPMID" passwd n --no-pin --new-pin-file "$T/new"
check_no_transient
pass "passwd changes, removes and adds PINs (direct and agent); old blobs keep the old PIN"
