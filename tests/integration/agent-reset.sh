#!/bin/bash
# swtpm is killed and restarted under a running agent: requests in the gap
# fail cleanly (exit 1, one line, no hang), then signing works again with
# the same agent process, which counts the reconnect.
. "$top_srcdir/tests/lib.sh"
need openssl timeout

start_swtpm
run_ok "$TPMID" --direct keygen r
printf 'S3cr3t-PIN-4711\n' >"$T/pin"
run_ok "$TPMID" --direct keygen rp --pin-file "$T/pin"
start_agent
pid_before=$AGENT_PID
"$TPMID" pubkey r >"$T/r.pem"
"$TPMID" pubkey rp >"$T/rp.pem"
printf 'before the reset\n' >"$T/msg"
run_ok "$TPMID" sign r --in "$T/msg" --out "$T/sig"
run_ok "$TPMID" unlock rp --pin-file "$T/pin"
run_ok "$TPMID" sign rp --in "$T/msg" --out "$T/sig"

# Signs in a loop while the TPM goes away and comes back.
(
	for k in $(seq 60); do
		set +e
		timeout 20 "$TPMID" sign r --in "$T/msg" --out "$T/loop.sig" 2>"$T/loop.err.$k"
		echo "$?" >>"$T/loop.rc"
		set -e
		sleep 0.05
	done
) &
loop=$!
sleep 0.5
stop_swtpm
# While it is down: a clean error, not a hang.
set +e
timeout 20 "$TPMID" sign r --in "$T/msg" --out "$T/down.sig" 2>"$T/down.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sign with the TPM down exited $rc (124 = hang): $(cat "$T/down.err")"
[ "$(wc -l <"$T/down.err")" -eq 1 ] || fail "expected one error line: $(cat "$T/down.err")"
log "with the TPM down: $(cat "$T/down.err")"
kill -0 "$AGENT_PID" || fail "the agent died when the TPM went away"
restart_swtpm
wait "$loop"

grep -qv '^[01]$' "$T/loop.rc" && fail "a sign neither succeeded nor failed cleanly: $(sort "$T/loop.rc" | uniq -c)"
ok=$(grep -c '^0$' "$T/loop.rc" || true)
errs=$(grep -c '^1$' "$T/loop.rc" || true)
pass "during the reset: $ok signs ok, $errs clean errors, no hang"

# Recovery without restarting the agent.
for k in 1 2 3 4 5; do
	printf 'after the reset %s\n' "$k" >"$T/msg2"
	run_ok "$TPMID" sign r --in "$T/msg2" --out "$T/sig2"
	openssl dgst -sha256 -verify "$T/r.pem" -signature "$T/sig2" "$T/msg2" >/dev/null ||
		fail "signature after the reset does not verify"
done
# The held PIN survives the reconnect (it lives in the agent, not the TPM).
run_ok "$TPMID" sign rp --in "$T/msg2" --out "$T/sig3"
openssl dgst -sha256 -verify "$T/rp.pem" -signature "$T/sig3" "$T/msg2" >/dev/null ||
	fail "PIN-key signature after the reset does not verify"
[ "$AGENT_PID" = "$pid_before" ] && kill -0 "$AGENT_PID" || fail "the agent was restarted"
resets=$("$TPMID" status | sed -n 's/^tpm resets: *//p')
[ "${resets:-0}" -ge 1 ] || fail "status does not count the TPM reset"
pass "signing works again with the same agent (pid $AGENT_PID, $resets reconnects)"

# Not a reset: a key flushed behind the agent's back (here with
# tpm2_flushcontext). The agent finds its SRK still in place, so it flushes
# its own remaining objects, reloads, and does not count a TPM reset; nothing
# is leaked.
run_ok "$TPMID" sign r --in "$T/msg2" --out "$T/sig2"
resets_before=$("$TPMID" status | sed -n 's/^tpm resets: *//p')
for h in $(tpm2_getcap handles-transient | sed -n 's/^- *//p'); do
	tpm2_flushcontext "$h" >/dev/null 2>&1 || true
	break    # the first handle: enough to pull one object from under the agent
done
for k in 1 2 3; do
	run_ok "$TPMID" sign r --in "$T/msg2" --out "$T/sig2"
	openssl dgst -sha256 -verify "$T/r.pem" -signature "$T/sig2" "$T/msg2" >/dev/null ||
		fail "signature after a flush behind the agent's back does not verify"
done
resets_after=$("$TPMID" status | sed -n 's/^tpm resets: *//p')
n=$(transient_count)
[ "$n" -le 2 ] || fail "$n transient objects after recovering from a foreign flush (leak)"
log "foreign flush: resets $resets_before -> $resets_after, $n transient objects"
pass "recovered from an object flushed behind the agent's back"

stop_agent
check_no_transient
pass "clean stop"
