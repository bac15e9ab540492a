#!/bin/bash
# Never wedged by the TPM's link, when creating and removing keys (issue
# 8): tests/tpmproxy breaks TPM2_Create (keygen, with and without a PIN)
# and TPM2_EvictControl (keygen --persist, delete of a persistent key) in
# each of seven ways. These are not sent twice: the request that meets the
# fault may fail, with one line, and must then leave nothing behind - no
# identity file, no transient object, no persistent handle (a persist whose
# answer was lost is undone) - so that doing it again succeeds. Every other
# identity keeps signing and its file does not change.
. "$top_srcdir/tests/lib.sh"
need openssl sha256sum tpm2_getcap

start_swtpm
start_tpmproxy
printf '2468\n' >"$T/pin"
run_ok "$TPMID" --direct keygen k1
"$TPMID" --direct pubkey k1 >"$T/k1.pem"
head -c 512 /dev/urandom >"$T/msg"
sum_k1=$(sha256sum <"$TPMID_STORE/k1.json")
persistent() { tpm2_getcap handles-persistent | sed -n 's/^- *//p' | sort | tr '\n' ' '; }
base_persistent=$(persistent)

sign_verify() { # NAME [PIN OPTS]: sign through the agent and verify
	local k=$1
	shift
	"$TPMID" sign "$k" "$@" --in "$T/msg" --force --out "$T/sig" 2>"$T/err" || fail "$scenario: sign $k: $(cat "$T/err")"
	"$TPMID" pubkey "$k" >"$T/$k.pem"
	openssl dgst -sha256 -verify "$T/$k.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
		fail "$scenario: the signature of $k does not verify"
}

# attempt OP...: run once, "ok" or "fail" (one line on stderr required).
attempt() {
	if "$@" >/dev/null 2>"$T/op.err"; then
		echo ok
	else
		[ "$(wc -l <"$T/op.err")" -eq 1 ] || fail "$scenario: $* failed without one clear line: $(cat "$T/op.err")"
		echo fail
	fi
}

end_checks() {
	sign_verify k1
	[ "$(sha256sum <"$TPMID_STORE/k1.json")" = "$sum_k1" ] || fail "$scenario: k1's file changed"
	kill -0 "$AGENT_PID" || fail "$scenario: the agent died"
	stop_agent
	check_no_transient
	[ "$(persistent)" = "$base_persistent" ] ||
		fail "$scenario: persistent handles [$(persistent)], want [$base_persistent]"
	log "$scenario: $result"
}

i=0
for action in drop-before drop-after truncate garbage rc:902 rc:922 rc:90a; do
	# TPM2_Create, for keygen without and with a PIN.
	for pin in no yes; do
		i=$((i + 1))
		scenario="Create $action (PIN: $pin)"
		pinopt=()
		[ "$pin" = yes ] && pinopt=(--pin-file "$T/pin")
		start_agent
		proxy_ctl reset >/dev/null
		proxy_ctl fault 0x153 1 "$action" >/dev/null
		r=$(attempt "$TPMID" keygen "n$i" "${pinopt[@]}")
		[ "$(proxy_ctl faults)" = "[]" ] || fail "$scenario: the fault was not reached"
		if [ "$r" = fail ]; then
			[ ! -e "$TPMID_STORE/n$i.json" ] || fail "$scenario: keygen failed but left n$i.json"
			result="keygen failed: $(cat "$T/op.err"); again: ok"
			run_ok "$TPMID" keygen "n$i" "${pinopt[@]}"
		else
			result="keygen ok"
		fi
		sign_verify "n$i" "${pinopt[@]}"
		run_ok "$TPMID" delete "n$i"
		end_checks
	done

	# TPM2_EvictControl making a key persistent (keygen --persist).
	i=$((i + 1))
	scenario="EvictControl $action (keygen --persist)"
	start_agent
	proxy_ctl reset >/dev/null
	proxy_ctl fault 0x120 1 "$action" >/dev/null
	r=$(attempt "$TPMID" keygen "n$i" --persist)
	[ "$(proxy_ctl faults)" = "[]" ] || fail "$scenario: the fault was not reached"
	if [ "$r" = fail ]; then
		[ ! -e "$TPMID_STORE/n$i.json" ] || fail "$scenario: keygen failed but left n$i.json"
		[ "$(persistent)" = "$base_persistent" ] ||
			fail "$scenario: keygen failed but left a persistent handle: [$(persistent)]"
		result="keygen --persist failed: $(cat "$T/op.err"); again: ok"
		run_ok "$TPMID" keygen "n$i" --persist
	else
		result="keygen --persist ok"
	fi
	sign_verify "n$i"
	run_ok "$TPMID" delete "n$i"
	end_checks

	# TPM2_EvictControl removing a persistent key (delete).
	i=$((i + 1))
	scenario="EvictControl $action (delete)"
	run_ok "$TPMID" --direct keygen "n$i" --persist
	start_agent
	proxy_ctl reset >/dev/null
	proxy_ctl fault 0x120 1 "$action" >/dev/null
	r=$(attempt "$TPMID" delete "n$i")
	[ "$(proxy_ctl faults)" = "[]" ] || fail "$scenario: the fault was not reached"
	if [ "$r" = fail ]; then
		[ -e "$TPMID_STORE/n$i.json" ] || fail "$scenario: delete failed but removed n$i.json"
		result="delete failed: $(cat "$T/op.err"); again: ok"
		run_ok "$TPMID" delete "n$i"
	else
		result="delete ok"
	fi
	[ ! -e "$TPMID_STORE/n$i.json" ] || fail "$scenario: n$i.json left after delete"
	end_checks
done
pass "one fault of each kind on Create and EvictControl: the request fails cleanly or succeeds, nothing left behind, the next one works"
