#!/bin/bash
# Killed processes leave nothing behind (issue 8). On a TPM without a
# resource manager a tpmid process keeps a record of what it holds
# (store/held.h: handle numbers, and a mark while it is making an object);
# the next tpmid process flushes what a killed one recorded, and nothing
# else. Before, every kill -9 of the agent left its SRK and key loaded (the
# next agent signed 0 of 5 on swtpm's 3 slots) and one direct-mode CLI in
# five killed at random left objects behind.
. "$top_srcdir/tests/lib.sh"
need openssl pkill

start_swtpm
printf '1234\n' >"$T/pin"
run_ok "$TPMID" --direct keygen k
run_ok "$TPMID" --direct keygen kp --pin-file "$T/pin"
"$TPMID" --direct pubkey k >"$T/k.pem"
head -c 1024 /dev/urandom >"$T/msg"
held=$XDG_RUNTIME_DIR/tpmid-held

verify() { openssl dgst -sha256 -verify "$T/k.pem" -signature "$T/sig" "$T/msg" >/dev/null; }

# Direct-mode CLIs killed at random points (before, during and after their
# TPM commands); the next CLI always works and nothing piles up.
for i in $(seq 60); do
	if [ $((i % 2)) = 0 ]; then
		"$TPMID" --direct sign kp --pin-file "$T/pin" --in "$T/msg" --force --out "$T/x.sig" 2>/dev/null &
	else
		"$TPMID" --direct sign k --in "$T/msg" --force --out "$T/x.sig" 2>/dev/null &
	fi
	p=$!
	sleep "0.0$((RANDOM % 6))$((RANDOM % 10))"
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	"$TPMID" --direct sign k --in "$T/msg" --force --out "$T/sig" 2>"$T/err" ||
		fail "round $i: the CLI after a killed one failed: $(cat "$T/err")"
	verify || fail "round $i: signature does not verify"
	n=$(transient_count)
	[ "$n" -eq 0 ] || fail "round $i: $n object(s) left after the next CLI: $(transient_handles | tr '\n' ' ')"
done
# The last CLI cleaned up after the last killed one (temp files included).
"$TPMID" --direct sign k --in "$T/msg" --force --out "$T/sig"
[ -z "$(ls -A "$held" 2>/dev/null)" ] || fail "records left in $held: $(ls -A "$held")"
pass "60 direct-mode CLIs killed at random: the next one works, nothing left in the TPM"

# The agent killed in the middle of signing, five times; each new agent
# signs at once.
for round in 1 2 3 4 5; do
	start_agent --max-loaded 1
	(
		for j in $(seq 200); do
			"$TPMID" sign k --in "$T/msg" --force --out "$T/loop.sig" 2>/dev/null || true
			"$TPMID" sign kp --pin-file "$T/pin" --in "$T/msg" --force --out "$T/loop.sig" 2>/dev/null || true
		done
	) &
	loop=$!
	sleep "0.$((RANDOM % 5 + 1))"
	kill -9 "$AGENT_PID"
	_untrack "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	# Stop the loop and its sign in flight: with the agent gone that one
	# falls back to opening the TPM itself, and a running client holds
	# slots that are not the dead agent's to take back.
	kill -STOP "$loop" 2>/dev/null || true
	pkill -KILL -P "$loop" 2>/dev/null || true
	kill -KILL "$loop" 2>/dev/null || true
	wait "$loop" 2>/dev/null || true
	start_agent --max-loaded 1
	for j in 1 2 3 4 5; do
		"$TPMID" sign k --in "$T/msg" --force --out "$T/sig" 2>"$T/err" ||
			fail "round $round: sign $j after kill -9 of the agent: $(cat "$T/err")"
		verify || fail "round $round: signature does not verify"
	done
	stop_agent
	check_no_transient
done
pass "agent killed with kill -9 mid-request five times: each new agent signs 5/5, nothing left"

# swtpm itself killed under load and restarted: the agent recovers alone.
start_agent
(
	for j in $(seq 100); do
		timeout 20 "$TPMID" sign k --in "$T/msg" --force --out "$T/loop.sig" 2>/dev/null || true
	done
) &
loop=$!
sleep 0.3
kill -9 "$SWTPM_PID"
_untrack "$SWTPM_PID"
restart_swtpm
wait "$loop"
for j in 1 2 3 4 5; do
	"$TPMID" sign k --in "$T/msg" --force --out "$T/sig" 2>"$T/err" ||
		fail "sign $j after swtpm was killed and restarted: $(cat "$T/err")"
	verify || fail "signature does not verify"
done
stop_agent
check_no_transient
pass "swtpm killed under load and restarted: the same agent signs again"
