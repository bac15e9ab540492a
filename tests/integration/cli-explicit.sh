#!/bin/bash
# A store or TPM the user names is the one used (issue 10, High 1). With an
# agent answering, `tpmid --store other keygen zz` used to say "created"
# and write into the agent's store, and `--tcti X status` showed the
# agent's TPM. Now a named store/TPM (option or TPMID_STORE/TPMID_TCTI)
# that is not the agent's is refused with both named; status shows the
# store and TCTI in use (text and --json). Also: a detached agent given a
# relative --store and --socket finds its identities and removes its
# socket on SIGTERM (Medium 11).
. "$top_srcdir/tests/lib.sh"

start_swtpm
start_agent
run_ok "$TPMID" keygen a

# The agent's own store and TPM, named: used (spelt differently too).
run_ok "$TPMID" --store "$TPMID_STORE/" list
grep -q '^a ' <("$TPMID" --store "$TPMID_STORE/" list) || fail "agent's store by name: no 'a'"
ln -s "$TPMID_STORE" "$T/store-link"
run_ok "$TPMID" --store "$T/store-link" list
(cd "$T" && "$TPMID" --store store list >/dev/null 2>"$T/err") || fail "relative spelling: $(cat "$T/err")"
run_ok "$TPMID" --tcti "$TPMID_TCTI" list

# Another store: refused, nothing written anywhere.
mkdir -m 700 "$T/other"
expect_status 1 "$TPMID" --store "$T/other" keygen zz
grep -q -- "--store names store $T/other, but the agent at $TPMID_SOCKET serves store $TPMID_STORE; use --direct" "$T/err" ||
	fail "--store: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"
log "store: $(cat "$T/err")"
[ ! -e "$T/other/zz.json" ] && [ ! -e "$TPMID_STORE/zz.json" ] || fail "keygen wrote zz"
expect_status 1 env TPMID_STORE="$T/other" "$TPMID" list
grep -q "^tpmid: list: TPMID_STORE names store $T/other" "$T/err" || fail "TPMID_STORE: $(cat "$T/err")"
# --direct is the way to the named store.
run_ok "$TPMID" --direct --store "$T/other" keygen zz
[ -e "$T/other/zz.json" ] || fail "--direct --store did not write there"
[ ! -e "$TPMID_STORE/zz.json" ] || fail "zz landed in the agent's store"

# Another TPM: refused, for status too.
expect_status 1 "$TPMID" --tcti "swtpm:host=127.0.0.1,port=1" status
grep -q -- "--tcti names TPM swtpm:host=127.0.0.1,port=1, but the agent at .* serves TPM $TPMID_TCTI" "$T/err" ||
	fail "--tcti: $(cat "$T/err")"
expect_status 1 env TPMID_TCTI="device:/dev/null" "$TPMID" sign a --in /etc/hostname
grep -q "TPMID_TCTI names TPM device:/dev/null" "$T/err" || fail "TPMID_TCTI: $(cat "$T/err")"

# status says which store and TPM, as text and JSON.
"$TPMID" status >"$T/st" || fail "status"
grep -q "^store: *$TPMID_STORE\$" "$T/st" || fail "status: no store line: $(cat "$T/st")"
grep -q "^tcti: *$TPMID_TCTI\$" "$T/st" || fail "status: no tcti line: $(cat "$T/st")"
"$TPMID" status --json >"$T/st.json" || fail "status --json"
python3 - "$T/st.json" "$TPMID_STORE" "$TPMID_TCTI" "$TPMID_SOCKET" <<'PY' || fail "status --json: $(cat "$T/st.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["agent"] is True and s["socket"] == sys.argv[4], s
assert s["store"] == sys.argv[2] and s["tcti"] == sys.argv[3], s
assert s["tpm"] == "reachable" and s["identities"] == 1, s
assert s["unrecorded"] == [] and s["unrecorded_count"] == 0, s
for k in ("loaded", "max_loaded", "unlocked", "signatures", "tpm_resets"):
    assert isinstance(s[k], int), k
PY
"$TPMID" --direct --store "$T/other" status --json >"$T/st.json" || fail "direct status --json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["agent"] is False and s["socket"] is None and s["store"]==sys.argv[2], s' \
	"$T/st.json" "$T/other" || fail "direct status --json: $(cat "$T/st.json")"
# What could not be written is a failure.
if [ -w /dev/full ]; then
	for c in "status" "status --json" "list" "list --json"; do
		# shellcheck disable=SC2086
		"$TPMID" $c >/dev/full 2>"$T/err" && fail "$c > /dev/full exited 0"
		grep -q "standard output: No space left on device" "$T/err" || fail "$c > /dev/full: $(cat "$T/err")"
	done
fi
stop_agent

# A detached agent with a relative --store and --socket (Medium 11).
mkdir -p "$T/rel"
(cd "$T" && "$TPMID_AGENT" --store store --socket rel/a.sock >"$T/env.sh" 2>"$T/err") ||
	fail "detached agent: $(cat "$T/err")"
grep -q "^SSH_AUTH_SOCK=$T/rel/a.sock;" "$T/env.sh" || fail "agent printed a relative socket: $(cat "$T/env.sh")"
. "$T/env.sh" >/dev/null
_track "$TPMID_AGENT_PID"
for _ in $(seq 100); do "$TPMID" --socket "$T/rel/a.sock" list >/dev/null 2>&1 && break; sleep 0.05; done
"$TPMID" --socket "$T/rel/a.sock" list >"$T/out" 2>"$T/err" || fail "list via detached agent: $(cat "$T/err")"
grep -q '^a ' "$T/out" || fail "detached agent with --store store sees: $(cat "$T/out")"
kill -TERM "$TPMID_AGENT_PID"
for _ in $(seq 100); do kill -0 "$TPMID_AGENT_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$TPMID_AGENT_PID" 2>/dev/null && fail "detached agent did not exit"
_untrack "$TPMID_AGENT_PID"
[ ! -e "$T/rel/a.sock" ] || fail "detached agent left its socket behind"
pass "a named store/TPM is the agent's or refused; status shows store and TCTI; relative paths survive detaching"
