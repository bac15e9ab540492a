#!/bin/bash
# Who is listening? The CLI checks the agent's uid (SO_PEERCRED) before it
# sends a byte (PROTOCOL.md section 6): an agent of another uid is only
# trusted where nobody but that uid or root could have put its socket. And
# an agent stopping removes its socket only if the path still names the
# socket it bound, never one a newer agent put there.
. "$top_srcdir/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root to switch uid" >&2; exit 77; }
# An array, not a function: "as_nobody agent &" would background a
# subshell, and $! would not be the agent's pid.
if command -v setpriv >/dev/null 2>&1; then
	NOBODY=("${PEER_ENV[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups --)
elif command -v runuser >/dev/null 2>&1; then
	NOBODY=("${PEER_ENV[@]}" runuser -u nobody --)
else
	fail "neither setpriv nor runuser is installed"
fi
as_nobody() { "${NOBODY[@]}" "$@"; }

start_swtpm

# uid 65534 needs to reach $T, copies of the programs, a store and a home.
chmod 711 "$T"
mkdir -p "$T/bin" "$T/nobody" "$T/nstore"
cp "$TPMID" "$T/bin/tpmid"
cp "$TPMID_AGENT" "$T/bin/tpmid-agent"
chmod 755 "$T/bin" "$T/bin/tpmid" "$T/bin/tpmid-agent"
chown 65534:65534 "$T/nobody" "$T/nstore"
chmod 700 "$T/nobody" "$T/nstore"

# start_nobody_agent SOCKET NAME: a tpmid-agent running as uid 65534,
# logging to $T/NAME.log; waits until it is ready. Sets NOBODY_PID and
# NOBODY_SOCK.
start_nobody_agent() {
	HOME="$T/nobody" "${NOBODY[@]}" "$T/bin/tpmid-agent" --foreground --store "$T/nstore" --tcti "$TPMID_TCTI" \
		--socket "$1" --log-level debug >>"$T/$2.log" 2>&1 &
	NOBODY_PID=$!
	NOBODY_SOCK=$1
	_track "$NOBODY_PID"
	for _ in $(seq 200); do
		grep -q "ready: serving $1 " "$T/$2.log" 2>/dev/null && return 0
		kill -0 "$NOBODY_PID" 2>/dev/null || fail "uid 65534 agent exited at start: $(tail -n 5 "$T/$2.log")"
		sleep 0.05
	done
	fail "uid 65534 agent did not become ready: $(tail -n 5 "$T/$2.log")"
}

stop_nobody_agent() {
	kill -TERM "$NOBODY_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$NOBODY_PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$NOBODY_PID" 2>/dev/null && fail "uid 65534 agent did not exit on SIGTERM"
	wait "$NOBODY_PID" 2>/dev/null || true
	_untrack "$NOBODY_PID"
	# The agent itself stopped (not just a wrapper): it removed its socket.
	[ ! -e "$NOBODY_SOCK" ] || fail "uid 65534 agent left $NOBODY_SOCK behind"
}

# expect_refused SOCKET LOG REASON: root's CLI must refuse the agent at
# SOCKET (exit 1, TPMID_E_PERM, no direct-mode fallback) with a message
# naming the path, the uid and REASON, and must not have sent a request.
expect_refused() {
	expect_status 1 "$TPMID" --socket "$1" list
	grep -qF "refusing agent at $1: it runs as uid 65534, not you or root" "$T/err" ||
		fail "no refusal naming $1 and uid 65534: $(cat "$T/err")"
	grep -qF "$3" "$T/err" || fail "refusal does not say '$3': $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "list printed something although the agent was refused: $(cat "$T/out")"
	if grep -Eq "for uid 0 pid [0-9]+" "$T/$2.log"; then
		fail "a request from uid 0 reached the refused agent: $(grep -E 'for uid 0 pid' "$T/$2.log")"
	fi
}

# --- a socket another user bound in a world-writable sticky directory ----
mkdir "$T/pub"
chmod 1777 "$T/pub"
start_nobody_agent "$T/pub/agent.sock" pub
expect_refused "$T/pub/agent.sock" pub "from a directory others can write"
pass "agent of uid 65534 in a 1777 directory refused: $(cat "$T/err")"

# Its own uid may use it.
HOME="$T/nobody" as_nobody "$T/bin/tpmid" --socket "$T/pub/agent.sock" list >"$T/out" 2>"$T/err" ||
	fail "uid 65534 cannot use its own agent: $(cat "$T/err")"
grep -Eq "list@tpmid for uid 65534 pid [0-9]+: ok" "$T/pub.log" ||
	fail "uid 65534's list did not reach its agent: $(tail -n 3 "$T/pub.log")"
stop_nobody_agent
pass "uid 65534 uses its own agent in that directory"

# The same, one level down: a directory of its own made in the sticky one
# (0755, so it passes on its own) does not make the socket trustworthy.
as_nobody mkdir -m 755 "$T/pub/tpmid"
start_nobody_agent "$T/pub/tpmid/agent.sock" squat
expect_refused "$T/pub/tpmid/agent.sock" squat "from a directory others can write"
stop_nobody_agent
pass "agent of uid 65534 in its own directory inside a 1777 one refused"

# --- the system agent's layout: a 0750 directory owned by the agent's uid
# under directories only root (or we) can change. Only meaningful when the
# test directory's own ancestors are like that (a usual /tmp is).
safe_chain=1
d=$(cd "$T" && pwd -P)
while [ "$d" != / ]; do
	p=$(dirname "$d")
	read -r uid mode < <(stat -c '%u %a' "$p")
	child_uid=$(stat -c %u "$d")
	w=$(( 8#$mode & 8#022 ))
	sticky=$(( 8#$mode & 8#1000 ))
	if [ "$uid" -ne 0 ] || { [ "$w" -ne 0 ] && { [ "$sticky" -eq 0 ] || [ "$child_uid" -ne 0 ]; }; }; then
		safe_chain=0
	fi
	d=$p
done
if [ "$safe_chain" -eq 1 ]; then
	mkdir "$T/sys"
	chown 65534:65534 "$T/sys"
	chmod 750 "$T/sys"
	start_nobody_agent "$T/sys/agent.sock" sys
	run_ok "${PEER_ENV[@]}" "$TPMID" --socket "$T/sys/agent.sock" list >/dev/null
	grep -Eq "list@tpmid for uid 0 pid [0-9]+: ok" "$T/sys.log" ||
		fail "root's list did not reach the uid 65534 agent: $(tail -n 3 "$T/sys.log")"
	pass "agent of uid 65534 in its own 0750 directory accepted"

	# The socket must belong to the agent's uid ...
	chown 0 "$T/sys/agent.sock"
	: >"$T/sys.log"
	expect_refused "$T/sys/agent.sock" sys "the socket belongs to uid 0"
	chown 65534 "$T/sys/agent.sock"
	# ... be reached by its own name, not through a link ...
	ln -s "$T/sys/agent.sock" "$T/link.sock"
	expect_refused "$T/link.sock" sys "is not a socket"
	# ... and its directory must not be writable by others.
	chmod 770 "$T/sys"
	expect_refused "$T/sys/agent.sock" sys "from a directory others can write"
	chmod 750 "$T/sys"
	run_ok "${PEER_ENV[@]}" "$TPMID" --socket "$T/sys/agent.sock" list >/dev/null
	stop_nobody_agent
	pass "foreign socket owner, symlink, group-writable directory refused"
else
	log "the ancestors of $T are not root-owned and safe: system layout case skipped"
fi

# --- an agent of our own uid is used as before -----------------------------
run_ok "$TPMID" --direct keygen mine >/dev/null
start_agent --log-level debug
"$TPMID" list >"$T/out" 2>"$T/err" || fail "list through our own agent failed: $(cat "$T/err")"
grep -q '^mine ' "$T/out" || fail "own agent does not list 'mine': $(cat "$T/out")"
grep -Eq "list@tpmid for uid 0 pid [0-9]+: ok" "$T/agent.log" || fail "list did not go through the agent"
pass "agent of our own uid accepted"

# --- SIGTERM removes only the socket this agent bound ----------------------
first=$AGENT_PID
mv "$TPMID_SOCKET" "$TPMID_SOCKET.old"
start_agent --log-level debug
second=$AGENT_PID
ino=$(stat -c %i "$TPMID_SOCKET")
kill -TERM "$first"
for _ in $(seq 100); do kill -0 "$first" 2>/dev/null || break; sleep 0.05; done
kill -0 "$first" 2>/dev/null && fail "first agent did not exit on SIGTERM"
wait "$first" 2>/dev/null || true
_untrack "$first"
[ -S "$TPMID_SOCKET" ] || fail "the first agent removed the second agent's socket"
[ "$(stat -c %i "$TPMID_SOCKET")" = "$ino" ] || fail "the socket at $TPMID_SOCKET changed"
grep -q "not removing $TPMID_SOCKET: it is no longer the socket we bound" "$T/agent.log" ||
	fail "skipped unlink not logged at debug: $(tail -n 5 "$T/agent.log")"
: >"$T/agent.log"
run_ok "$TPMID" status >/dev/null
grep -Eq "status@tpmid for uid 0 pid [0-9]+: ok" "$T/agent.log" ||
	fail "status was not served by the second agent: $(tail -n 3 "$T/agent.log")"
kill -0 "$second" 2>/dev/null || fail "the second agent died"
pass "SIGTERM left a newer agent's socket in place"

AGENT_PID=$second
stop_agent
[ ! -e "$TPMID_SOCKET" ] || fail "the second agent left its own socket behind"
rm -f "$TPMID_SOCKET.old"
check_no_transient
pass "the agent still removes its own socket; TPM clean"
