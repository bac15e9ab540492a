#!/bin/bash
# Never wedged by the TPM's link (issue 8): tests/tpmproxy sits between the
# agent and swtpm and breaks one command at a time - its response dropped
# before or after the TPM ran it, cut in half, replaced by garbage, or
# answered with a warning the TPM may give (OBJECT_MEMORY, RETRY, TESTING).
# Every fault hits a fresh agent doing the same work (CreatePrimary, Load,
# StartAuthSession for a PIN key, Sign, and FlushContext when --max-loaded
# 1 evicts), and after it: at most the request that met it fails, with one
# line; every later request succeeds and its signature verifies; no
# identity file changed; SIGTERM leaves no transient object in the TPM.
. "$top_srcdir/tests/lib.sh"
need openssl sha256sum

start_swtpm
start_tpmproxy
printf 'S3cr3t-PIN-4711\n' >"$T/pin"
run_ok "$TPMID" --direct keygen k1
run_ok "$TPMID" --direct keygen k2 --curve p384
run_ok "$TPMID" --direct keygen kp --pin-file "$T/pin"
for k in k1 k2 kp; do "$TPMID" --direct pubkey "$k" >"$T/$k.pem"; done
head -c 2048 /dev/urandom >"$T/msg"
(cd "$TPMID_STORE" && sha256sum ./*.json) >"$T/store.sum"

hash_of() { [ "$1" = k2 ] && echo sha384 || echo sha256; }

# sign_op N KEY: one sign through the agent; "ok", or "fail" with stderr in
# $T/op.N.err. A signature that is made must verify.
sign_op() {
	local n=$1 k=$2 pinopt=()
	[ "$k" = kp ] && pinopt=(--pin-file "$T/pin")
	if timeout 30 "$TPMID" sign "$k" "${pinopt[@]}" --in "$T/msg" --force --out "$T/sig" \
		2>"$T/op.$n.err"; then
		openssl dgst -"$(hash_of "$k")" -verify "$T/$k.pem" -signature "$T/sig" "$T/msg" \
			>/dev/null || fail "$scenario: signature by $k does not verify"
		echo ok
	else
		echo fail
	fi
}

# run_scenario CODE ACTION [FAULT ARGS]: a fresh agent, the fault armed on
# the first command with CODE, then twelve signs cycling the keys.
run_scenario() {
	local code=$1 action=$2 i k fails=0 last_fail=0 out
	scenario="$code $action"
	proxy_ctl reset >/dev/null
	start_agent --max-loaded 1
	proxy_ctl fault "$code" 1 "$action" "${@:3}" >/dev/null
	i=0
	for k in kp k1 k2 kp k1 k2 k1 kp k2 k1 k2 kp; do
		i=$((i + 1))
		out=$(sign_op "$i" "$k")
		if [ "$out" = fail ]; then
			fails=$((fails + 1))
			last_fail=$i
			[ "$(wc -l <"$T/op.$i.err")" -eq 1 ] ||
				fail "$scenario: sign $i ($k) failed without one clear line: $(cat "$T/op.$i.err")"
		fi
	done
	[ "$fails" -le "${max_fail:-1}" ] || fail "$scenario: $fails of 12 signs failed (the last: $(cat "$T/op.$last_fail.err"))"
	pending=$(proxy_ctl faults)
	kill -0 "$AGENT_PID" || fail "$scenario: the agent died"
	stop_agent
	check_no_transient
	(cd "$TPMID_STORE" && sha256sum -c --quiet "$T/store.sum") || fail "$scenario: an identity file changed"
	[ "$fails" -eq 0 ] && result="all 12 ok" || result="sign $last_fail failed: $(cat "$T/op.$last_fail.err")"
	[ "$pending" = "[]" ] || result="$result (the fault never hit: $pending)"
	log "$scenario: $result"
	[ "$pending" = "[]" ] || fail "$scenario: the fault was not reached"
}

for code in 0x131 0x157 0x176 0x15d 0x165; do
	for action in drop-before drop-after truncate garbage rc:902 rc:922 rc:90a; do
		run_scenario "$code" "$action"
	done
done
pass "one fault of each kind on CreatePrimary, Load, StartAuthSession, Sign and FlushContext: no wedge, no leak"

# A TPM that keeps asking to retry: 50 TPM_RC_RETRY answers in a row (ESAPI
# resubmits 5 times by itself; tpmid then backs off, tss/rc.h).
# The first sign is the PIN key's, whose HMAC-session path resubmits by
# itself; then a plain one.
max_fail=0 run_scenario 0x15d rc:922 times=50
max_fail=0 run_scenario 0x165 rc:922 times=50
pass "50 TPM_RC_RETRY in a row are waited out, no request fails"

# And a fresh agent after all of it.
start_agent
for k in k1 k2 kp; do [ "$(sign_op end "$k")" = ok ] || fail "fresh agent: sign $k: $(cat "$T/op.end.err")"; done
stop_agent
check_no_transient
pass "a fresh agent signs; nothing left in the TPM"
