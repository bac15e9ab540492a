#!/bin/bash
# 32 clients x 10 signatures in parallel through one agent: every signature
# verifies. Meanwhile stalled clients (half a frame and silence; requests
# sent but replies never read) must not hold anybody up.
. "$top_srcdir/tests/lib.sh"
need openssl python3 timeout

start_swtpm
run_ok "$TPMID" --direct keygen c256
run_ok "$TPMID" --direct keygen c384 --curve p384
start_agent
"$TPMID" pubkey c256 >"$T/c256.pem"
"$TPMID" pubkey c384 >"$T/c384.pem"

# Stalled peers: one sends 6 bytes of a 100-byte frame and waits; one sends
# a stream of requests and never reads a reply. Both stay connected for
# the whole test.
cat >"$T/stall.py" <<'PY'
import os, socket, struct, sys, time
path = sys.argv[1]
half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
half.connect(path)
half.sendall(struct.pack(">I", 100) + b"\x1b\x00")
flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
flood.connect(path)
name = b"list@tpmid"
req = struct.pack(">I", 1 + 4 + len(name)) + b"\x1b" + struct.pack(">I", len(name)) + name
flood.setblocking(False)
sent = 0
deadline = time.time() + 5
while time.time() < deadline:
    try:
        sent += flood.send(req * 64)
    except BlockingIOError:
        time.sleep(0.05)
open(sys.argv[2], "w").write("%d\n" % sent)
time.sleep(600)
PY
python3 "$T/stall.py" "$TPMID_SOCKET" "$T/stall.sent" &
STALL_PID=$!
_track "$STALL_PID"
for _ in $(seq 100); do [ -s "$T/stall.sent" ] && break; sleep 0.1; done
[ -s "$T/stall.sent" ] || fail "stalled client did not start"
log "stalled client pushed $(cat "$T/stall.sent") bytes of unread requests"

mkdir -p "$T/sig"
client() {
	i=$1
	key=c256
	[ $((i % 4)) -eq 0 ] && key=c384
	for j in $(seq 10); do
		printf 'client %s message %s\n' "$i" "$j" >"$T/sig/$i.$j.msg"
		echo "$key" >"$T/sig/$i.$j.key"
		timeout 30 "$TPMID" sign "$key" --in "$T/sig/$i.$j.msg" --out "$T/sig/$i.$j.sig" \
			2>>"$T/sig/$i.err" || echo "$j" >>"$T/sig/$i.failed"
	done
}
start=$(date +%s)
pids=""
for i in $(seq 32); do
	client "$i" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
elapsed=$(( $(date +%s) - start ))

failed=$(cat "$T"/sig/*.failed 2>/dev/null | wc -l)
[ "$failed" -eq 0 ] || fail "$failed signs failed: $(cat "$T"/sig/*.err | sort | uniq -c | head)"
kill -0 "$STALL_PID" 2>/dev/null || fail "the stalled client was gone early (test broken)"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died"

bad=0
n=0
for m in "$T"/sig/*.msg; do
	b=${m%.msg}
	key=$(cat "$b.key")
	hash=sha256
	[ "$key" = c384 ] && hash=sha384
	openssl dgst -"$hash" -verify "$T/$key.pem" -signature "$b.sig" "$m" >/dev/null 2>&1 ||
		bad=$((bad + 1))
	n=$((n + 1))
done
[ "$n" -eq 320 ] || fail "expected 320 signatures, found $n"
[ "$bad" -eq 0 ] || fail "$bad of 320 signatures do not verify"
pass "320 signatures from 32 concurrent clients verify (${elapsed}s, stalled peers connected)"

# The stalled peers are still connected, the agent still answers at once.
run_ok timeout 10 "$TPMID" status >/dev/null
signs=$("$TPMID" status | sed -n 's/^signatures: *//p')
[ "$signs" -ge 320 ] || fail "status counts $signs signatures"

kill "$STALL_PID" 2>/dev/null || true
wait "$STALL_PID" 2>/dev/null || true
_untrack "$STALL_PID"
stop_agent
check_no_transient
pass "stalled clients did not block the others"
