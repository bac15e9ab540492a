#!/bin/bash
# The agent's life: a second agent on the same socket refuses and says why;
# identities added while it runs (CLI --direct, or a file copied in by hand)
# are served; SIGHUP rescans; SIGTERM leaves no socket and no transient
# handle; a stale socket is replaced, a non-socket file is not; socket
# activation (LISTEN_FDS) and detaching (ssh-agent style output) work.
. "$top_srcdir/tests/lib.sh"
need openssl python3

start_swtpm
# An identity made in another store, to be copied in by hand later.
run_ok env TPMID_STORE="$T/other" "$TPMID" --direct keygen byhand
run_ok "$TPMID" --direct keygen first
start_agent
grep -Eo 'started in [0-9.]+ ms' "$T/agent.log" >"$T/ready" ||
	fail "the agent does not log its start-up time"
pass "agent ready: $(cat "$T/ready")"

# A second agent on the same socket refuses to start and says why.
set +e
timeout 10 "$TPMID_AGENT" --foreground --socket "$TPMID_SOCKET" >"$T/second.out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "second agent: exit $rc"
grep -q "another agent is already serving $TPMID_SOCKET (pid $AGENT_PID)" "$T/second.out" ||
	fail "second agent does not say why: $(cat "$T/second.out")"
kill -0 "$AGENT_PID" || fail "the first agent died"
run_ok "$TPMID" status >/dev/null
pass "second agent refused: $(cat "$T/second.out")"

# Identities added while the agent runs are served at once.
run_ok "$TPMID" --direct keygen added
cp "$T/other/byhand.json" "$TPMID_STORE/byhand.json"
printf 'hello\n' >"$T/msg"
for n in first added byhand; do
	"$TPMID" pubkey "$n" >"$T/$n.pem" 2>"$T/err" || fail "pubkey $n via the agent: $(cat "$T/err")"
	run_ok "$TPMID" sign "$n" --in "$T/msg" --force --out "$T/$n.sig"
	openssl dgst -sha256 -verify "$T/$n.pem" -signature "$T/$n.sig" "$T/msg" >/dev/null ||
		fail "signature of $n does not verify"
done
"$TPMID" list | grep -q '^byhand ' || fail "list does not show the copied identity"
pass "identities added while running are served"

# Changed by hand: 'added' now holds another key (the loaded one must be
# dropped); removed by hand: no longer served. No signal needed.
run_ok "$TPMID" keygen swap
python3 - "$TPMID_STORE" <<'PY'
import json, os, sys
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "swap.json")))
doc["tpmid"]["name"] = "added"
tmp = os.path.join(d, ".added.tmp")
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2)
os.chmod(tmp, 0o600)
os.rename(tmp, os.path.join(d, "added.json"))
os.unlink(os.path.join(d, "swap.json"))
PY
"$TPMID" pubkey added >"$T/added2.pem"
cmp -s "$T/added.pem" "$T/added2.pem" && fail "the agent still serves the old key of 'added'"
run_ok "$TPMID" sign added --in "$T/msg" --force --out "$T/added2.sig"
openssl dgst -sha256 -verify "$T/added2.pem" -signature "$T/added2.sig" "$T/msg" >/dev/null ||
	fail "signature after the hand edit is not made with the new key"
rm "$TPMID_STORE/added.json"
expect_status 1 "$TPMID" sign added --in "$T/msg" --force --out "$T/added3.sig"
grep -q "no identity 'added'" "$T/err" || fail "removed identity: $(cat "$T/err")"
pass "identities changed or removed by hand are seen without a restart"

# SIGHUP: rescan, keep serving.
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do grep -q 'SIGHUP' "$T/agent.log" && break; sleep 0.1; done
grep -q 'SIGHUP: rescanning' "$T/agent.log" || fail "SIGHUP not handled"
rm "$TPMID_STORE/byhand.json"
"$TPMID" list | grep -q '^byhand ' && fail "removed identity still listed"
kill -0 "$AGENT_PID" || fail "the agent died on SIGHUP"
pass "SIGHUP rescans"

# SIGTERM: no socket left, no transient handle left.
stop_agent
[ ! -e "$TPMID_SOCKET" ] || fail "socket left behind after SIGTERM"
check_no_transient
pass "SIGTERM: socket removed, TPM clean"

# A stale socket file (its server died) is replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$TPMID_SOCKET"
[ -S "$TPMID_SOCKET" ] || fail "could not make a stale socket"
start_agent
grep -q "replaced stale socket $TPMID_SOCKET" "$T/agent.log" || fail "stale socket not reported"
run_ok "$TPMID" sign first --in "$T/msg" --force --out "$T/first.sig"
stop_agent
pass "stale socket replaced"

# Something that is not a socket is never removed.
echo precious >"$TPMID_SOCKET"
set +e
timeout 10 "$TPMID_AGENT" --foreground --socket "$TPMID_SOCKET" >"$T/notsock.out" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "agent started over a regular file"
grep -q precious "$TPMID_SOCKET" || fail "the regular file was replaced"
grep -q "is not a socket" "$T/notsock.out" || fail "no reason given: $(cat "$T/notsock.out")"
rm -f "$TPMID_SOCKET"
pass "a regular file at the socket path is refused: $(cat "$T/notsock.out")"

# Socket activation: the socket is bound by someone else and passed as fd 3
# with LISTEN_FDS=1 and LISTEN_PID (sd_listen_fds(3)).
cat >"$T/activate.py" <<'PY'
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
os.umask(0o177)
s.bind(path)
s.listen(16)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
PY
python3 "$T/activate.py" "$TPMID_SOCKET" "$TPMID_AGENT" --foreground >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
_track "$AGENT_PID"
for _ in $(seq 100); do "$TPMID" --socket "$TPMID_SOCKET" status >/dev/null 2>&1 && grep -q 'socket activation' "$T/agent.log" && break; sleep 0.05; done
grep -q "serving $TPMID_SOCKET (socket activation)" "$T/agent.log" || fail "activated agent did not start: $(tail -n 3 "$T/agent.log")"
run_ok "$TPMID" sign first --in "$T/msg" --force --out "$T/first.sig"
openssl dgst -sha256 -verify "$T/first.pem" -signature "$T/first.sig" "$T/msg" >/dev/null ||
	fail "signature through the activated agent does not verify"
stop_agent
# The socket belongs to whoever passed it: left in place.
[ -S "$TPMID_SOCKET" ] || fail "the activated agent removed a socket it did not create"
rm -f "$TPMID_SOCKET"
check_no_transient
pass "socket activation (LISTEN_FDS)"

if command -v systemd-socket-activate >/dev/null 2>&1; then
	systemd-socket-activate -l "$TPMID_SOCKET" "$TPMID_AGENT" --foreground \
		--tcti "$TPMID_TCTI" --store "$TPMID_STORE" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	_track "$AGENT_PID"
	for _ in $(seq 100); do [ -S "$TPMID_SOCKET" ] && break; sleep 0.05; done
	# The first connection starts the agent.
	ok=0
	for _ in $(seq 100); do
		if "$TPMID" sign first --in "$T/msg" --force --out "$T/first.sig" 2>/dev/null; then ok=1; break; fi
		sleep 0.05
	done
	[ "$ok" -eq 1 ] || fail "no signature through systemd-socket-activate: $(tail -n 3 "$T/agent.log")"
	grep -q "serving $TPMID_SOCKET (socket activation)" "$T/agent.log" ||
		fail "systemd-socket-activate: the agent did not use the passed socket"
	stop_agent
	rm -f "$TPMID_SOCKET"
	check_no_transient
	pass "systemd-socket-activate"
fi

# Detached (no --foreground): prints the environment like ssh-agent.
"$TPMID_AGENT" --socket "$TPMID_SOCKET" >"$T/env.out" 2>"$T/env.err" ||
	fail "detached start failed: $(cat "$T/env.err")"
grep -q "^SSH_AUTH_SOCK=$TPMID_SOCKET; export SSH_AUTH_SOCK;" "$T/env.out" ||
	fail "no SSH_AUTH_SOCK line: $(cat "$T/env.out")"
dpid=$(sed -n 's/^TPMID_AGENT_PID=\([0-9]*\);.*/\1/p' "$T/env.out")
[ -n "$dpid" ] || fail "no TPMID_AGENT_PID line: $(cat "$T/env.out")"
_track "$dpid"
run_ok "$TPMID" sign first --in "$T/msg" --force --out "$T/first.sig"
kill -TERM "$dpid"
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$dpid" 2>/dev/null && fail "detached agent did not exit on SIGTERM"
_untrack "$dpid"
[ ! -e "$TPMID_SOCKET" ] || fail "detached agent left its socket"
check_no_transient
pass "detached agent prints its environment and stops cleanly"
