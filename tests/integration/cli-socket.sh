#!/bin/bash
# A socket the user named must answer (issue 10, High 2). An explicit
# --socket PATH (or TPMID_SOCKET) that did not answer used to fall back to
# opening the TPM and the store directly, which put contrib/sshd's host key
# into root's own store while the system agent was down. Only the default
# socket falls back now; a named one fails and says to use --direct.
. "$top_srcdir/tests/lib.sh"

start_swtpm
run_ok "$TPMID" --direct keygen a
none=$T/run/none.sock

# The default socket, nobody listening: the TPM is opened directly.
run_ok "$TPMID" list

# Named, nobody listening: refused, nothing made.
expect_status 1 "$TPMID" --socket "$none" keygen b
grep -q "no agent listening at $none (named by --socket).*--direct" "$T/err" ||
	fail "--socket: $(cat "$T/err")"
[ ! -e "$TPMID_STORE/b.json" ] || fail "keygen fell back to the TPM and made b.json"
expect_status 1 env TPMID_SOCKET="$none" "$TPMID" list
grep -q "(named by TPMID_SOCKET)" "$T/err" || fail "TPMID_SOCKET: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"
log "named socket: $(cat "$T/err")"
# --direct is the way to say "no agent".
run_ok env TPMID_SOCKET="$none" "$TPMID" --direct list

# Named and answering: used.
start_agent
run_ok "$TPMID" --socket "$TPMID_SOCKET" list
run_ok env TPMID_SOCKET="$TPMID_SOCKET" "$TPMID" status
grep -q "^agent: *running" <("$TPMID" --socket "$TPMID_SOCKET" status) || fail "status does not say the agent runs"
stop_agent
pass "a named socket must answer (--socket, TPMID_SOCKET); only the default one falls back"
