#!/bin/bash
# 100 identities served with --max-loaded 3 (as many slots as swtpm and
# most hardware TPMs have): all sign and verify, in random order, twice.
. "$top_srcdir/tests/lib.sh"
need openssl shuf

start_swtpm
start_agent --max-loaded 3
# Created through the agent (which keeps the SRK loaded).
for i in $(seq 100); do
	"$TPMID" keygen "id$i" >/dev/null 2>"$T/err" || fail "keygen id$i: $(cat "$T/err")"
done
for i in $(seq 100); do
	"$TPMID" pubkey "id$i" >"$T/id$i.pem" || fail "pubkey id$i"
done
[ "$("$TPMID" list | tail -n +2 | wc -l)" -eq 100 ] || fail "list does not show 100 identities"
pass "100 identities created through the agent"

head -c 4096 /dev/urandom >"$T/msg"
for round in 1 2; do
	for i in $(seq 100 | shuf); do
		"$TPMID" sign "id$i" --in "$T/msg" --out "$T/sig" 2>"$T/err" ||
			fail "round $round: sign id$i: $(cat "$T/err")"
		openssl dgst -sha256 -verify "$T/id$i.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
			fail "round $round: signature of id$i does not verify"
	done
	loaded=$("$TPMID" status | sed -n 's/^loaded keys: *\([0-9]*\).*/\1/p')
	[ "$loaded" -le 3 ] || fail "round $round: $loaded keys loaded with --max-loaded 3"
	pass "round $round: 100 identities signed in random order ($loaded loaded)"
done

kill -0 "$AGENT_PID" || fail "agent died"
# A figure for the notes (issue 3 targets <= 8 MiB idle with 100 identities).
rss=$(sed -n 's/^VmRSS: *//p' "/proc/$AGENT_PID/status" 2>/dev/null || true)
log "agent RSS with 100 identities after 200 signs: ${rss:-unknown}"
stop_agent
check_no_transient
pass "clean stop"

# Persistent keys occupy no transient slot: with --max-loaded 1, using a
# persistent key must not evict the one transient key, and both keep signing.
run_ok "$TPMID" --direct keygen pers --persist >/dev/null
"$TPMID" --direct pubkey pers >"$T/pers.pem"
start_agent --max-loaded 1
for k in id1 pers id1 pers; do
	run_ok "$TPMID" sign "$k" --in "$T/msg" --out "$T/sig"
done
"$TPMID" status | grep -q '^loaded keys: *1 ' || fail "status: $("$TPMID" status | grep loaded)"
# SRK + id1 stay loaded: the persistent key's use did not flush id1.
n=$(transient_count)
[ "$n" -eq 2 ] || fail "$n transient objects with --max-loaded 1 after using a persistent key (want SRK + id1)"
openssl dgst -sha256 -verify "$T/pers.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "persistent key's signature does not verify"
stop_agent
run_ok "$TPMID" --direct delete pers
check_no_transient
pass "persistent keys do not count against --max-loaded"
