#!/bin/bash
# tpmid-agent with defaults and no $XDG_RUNTIME_DIR nor /run/user/UID
# (root, su, containers; issue 10): it used to fail with "cannot create
# socket directory /run/user/0/tpmid" and no hint. Now the agent and the
# CLI both fall back to ${TMPDIR:-/tmp}/tpmid-UID/agent.sock, as ssh-agent
# makes a private directory there; a directory of that name made by
# another uid is refused.
. "$top_srcdir/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME: needs root to switch uid" >&2; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: $TEST_NAME: needs setpriv" >&2; exit 77; }
[ ! -e /run/user/65534 ] || { echo "SKIP: $TEST_NAME: /run/user/65534 exists here" >&2; exit 77; }

start_swtpm
chmod 711 "$T"
mkdir -p "$T/bin" "$T/nobody" "$T/nstore" "$T/ntmp"
cp "$TPMID" "$T/bin/tpmid"
cp "$TPMID_AGENT" "$T/bin/tpmid-agent"
chmod 755 "$T/bin" "$T/bin/tpmid" "$T/bin/tpmid-agent"
chown 65534:65534 "$T/nobody" "$T/nstore"
chmod 700 "$T/nobody" "$T/nstore"
chmod 1777 "$T/ntmp"
sock=$T/ntmp/tpmid-65534/agent.sock

# as_nobody CMD...: with no runtime directory and no socket named.
as_nobody() {
	env -u XDG_RUNTIME_DIR -u TPMID_SOCKET HOME="$T/nobody" TMPDIR="$T/ntmp" \
		TPMID_STORE="$T/nstore" TPMID_TCTI="$TPMID_TCTI" \
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

as_nobody "$T/bin/tpmid-agent" --foreground >>"$T/agent.log" 2>&1 &
pid=$!
_track "$pid"
for _ in $(seq 200); do
	[ -S "$sock" ] && break
	kill -0 "$pid" 2>/dev/null || fail "the agent exited: $(tail -n 5 "$T/agent.log")"
	sleep 0.05
done
[ -S "$sock" ] || fail "no socket at $sock: $(tail -n 5 "$T/agent.log")"
[ "$(stat -c '%u %a' "$(dirname "$sock")")" = "65534 700" ] ||
	fail "socket directory: $(stat -c '%u %a' "$(dirname "$sock")")"
as_nobody "$T/bin/tpmid" status >"$T/out" 2>&1 || fail "status: $(cat "$T/out")"
grep -q "^agent: *running ($sock)" "$T/out" || fail "the CLI did not find the agent: $(cat "$T/out")"
kill "$pid"
wait "$pid" 2>/dev/null || true
_untrack "$pid"
log "no runtime directory: agent and CLI meet at $sock"

# A directory of that name that another uid made is not used.
rm -rf "$T/ntmp/tpmid-65534"
mkdir "$T/ntmp/tpmid-65534"
chown 65533 "$T/ntmp/tpmid-65534"
chmod 777 "$T/ntmp/tpmid-65534"
as_nobody "$T/bin/tpmid-agent" --foreground >"$T/squat.log" 2>&1 && fail "the agent used another uid's directory"
grep -q "belongs to uid 65533" "$T/squat.log" || fail "squatted directory: $(cat "$T/squat.log")"
pass "without XDG_RUNTIME_DIR or /run/user/UID, agent and CLI use \${TMPDIR:-/tmp}/tpmid-UID; another uid's directory refused"
