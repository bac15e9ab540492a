#!/bin/bash
# tpmid doctor (issue 10): one line per finding with the fix, exit 1 only
# when something is broken. Each finding is provoked for real: no agent,
# SSH_AUTH_SOCK elsewhere, a store others may write, a file that does not
# parse, a TPM that is not there, an SRK that is not the recorded one, a
# persistent handle nobody records.
. "$top_srcdir/tests/lib.sh"
need tpm2_getcap

doc() { rc=0; "$TPMID" "$@" doctor >"$T/out" 2>"$T/err" || rc=$?; }
has() { grep -q -- "$1" "$T/out" || fail "doctor: no '$1' in: $(cat "$T/out" "$T/err")"; }

run_ok "$TPMID" doctor --help | grep -q '^usage: tpmid doctor' || fail "doctor --help"
"$TPMID" doctor extra 2>/dev/null && fail "doctor took an argument"
[ $? -eq 2 ] || fail "doctor extra: exit $?, want 2"

start_swtpm
doc
[ "$rc" -eq 0 ] || fail "fresh setup: exit $rc: $(cat "$T/out")"
has "^warn  agent: not running at $TPMID_SOCKET"
has "^ok    TPM at $TPMID_TCTI: reachable"
has "^ok    store .*not created yet"
has "^warn  storage root key: no name recorded yet.*tpmid srk"
[ ! -e "$TPMID_STORE" ] || fail "doctor created the store"

run_ok "$TPMID" keygen a
doc
has "^ok    store $TPMID_STORE: 1 identity$"
has "^ok    storage root key: matches"

# An SRK name the TPM does not answer with (as after a TPM clear).
cp "$TPMID_STORE/.srk-name" "$T/srk-name"
printf '000b%064d' 0 >"$TPMID_STORE/.srk-name"
doc
[ "$rc" -eq 1 ] || fail "SRK mismatch: exit $rc"
has "^FAIL  storage root key: "
cp "$T/srk-name" "$TPMID_STORE/.srk-name"

# The TPM is not there.
doc --tcti device:/nonexistent/tpm0
[ "$rc" -eq 1 ] || fail "missing device: exit $rc"
has "^FAIL  TPM at device:/nonexistent/tpm0: /nonexistent/tpm0 does not exist"
port=$(free_port)
doc --tcti "swtpm:host=127.0.0.1,port=$port"
[ "$rc" -eq 1 ] || fail "nothing listening: exit $rc"
has "^FAIL  TPM at swtpm:host=127.0.0.1,port=$port: unreachable"

# A persistent key whose identity file is gone leaves an orphan handle.
run_ok "$TPMID" keygen p --persist
handle=$(sed -n 's/.*"handle": *"\(0x[0-9a-f]*\)".*/\1/p' "$TPMID_STORE/p.json")
mv "$TPMID_STORE/p.json" "$T/p.json"
doc
has "^warn  TPM: 1 persistent handle in tpmid's range.*$handle.*tpm2_evictcontrol"
mv "$T/p.json" "$TPMID_STORE/p.json"

start_agent
doc
has "^ok    agent: answers at $TPMID_SOCKET"
SSH_AUTH_SOCK=/elsewhere doc
has "^warn  ssh: SSH_AUTH_SOCK is '/elsewhere'.*export SSH_AUTH_SOCK=$TPMID_SOCKET"
SSH_AUTH_SOCK=$TPMID_SOCKET doc
has "^ok    ssh: SSH_AUTH_SOCK points at the agent"
has "^ok    storage root key: name recorded; the agent checks it"
[ "$rc" -eq 0 ] || fail "agent running: exit $rc: $(cat "$T/out")"

# Modes: group-readable is a warning, group-writable a failure.
chmod 750 "$TPMID_STORE"
doc
[ "$rc" -eq 0 ] || fail "mode 0750: exit $rc"
has "^warn  store $TPMID_STORE: mode 0750; run 'chmod 700 $TPMID_STORE'"
chmod 770 "$TPMID_STORE"
doc
[ "$rc" -eq 1 ] || fail "mode 0770: exit $rc"
has "^FAIL  store $TPMID_STORE: mode 0770"
chmod 700 "$TPMID_STORE"
chmod 644 "$TPMID_STORE/a.json"
doc
has "^warn  identity file $TPMID_STORE/a.json: mode 0644; run 'chmod 600"
chmod 600 "$TPMID_STORE/a.json"

# An identity file that does not parse.
echo '{' >"$TPMID_STORE/bad.json"
doc
[ "$rc" -eq 1 ] || fail "bad identity file: exit $rc"
has "^FAIL  identity 'bad': .*(fix or move the file aside)"
rm "$TPMID_STORE/bad.json"
pass "doctor reports agent, ssh, TPM, SRK, store modes, bad files and orphans with fixes"
