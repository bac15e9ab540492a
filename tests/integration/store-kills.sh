#!/bin/bash
# Orphans after kills (issue 9): a persistent key and the file that records
# it are two things a kill can separate. tests/tpmproxy holds the answer to
# TPM2_EvictControl - after the TPM has carried it out - while the process
# is killed with SIGKILL, which is the worst moment for each of:
#  - delete of a persistent identity (the key evicted, the file not yet
#    gone): it used to stay listed, and once `keygen --persist` took the
#    freed handle, it never signed again;
#  - keygen --persist (the key persistent, no file yet): an object nobody
#    knew of stayed in the TPM's NV for good;
#  - the agent itself, killed during a delete: the next agent finishes it.
# Also: an identity whose handle now holds another key falls back to its
# blob; `status` names persistent handles in tpmid's range that no identity
# records; temp files a killed writer left are removed by the next write.
. "$top_srcdir/tests/lib.sh"
need openssl tpm2_getcap tpm2_evictcontrol tpm2_createprimary tpm2_flushcontext

start_swtpm
start_tpmproxy
head -c 256 /dev/urandom >"$T/msg"
# The persistent handles in tpmid's range, as the TPM has them.
persistent() {
	local h
	for h in $(tpm2_getcap handles-persistent | sed -n 's/^- *//p'); do
		[ $((h)) -ge $((0x81000010)) ] && printf '0x%08x\n' $((h))
	done | sort | tr '\n' ' '
}
# The handles the identity files record.
recorded() { cat "$TPMID_STORE"/*.json 2>/dev/null | sed -n 's/.*"handle": *"\(0x[0-9a-f]*\)".*/\1/p' | sort | tr '\n' ' '; }
signs() { # NAME: a signature that verifies
	"$TPMID" sign "$1" --in "$T/msg" --force --out "$T/sig" 2>"$T/err" || fail "sign $1: $(cat "$T/err")"
	"$TPMID" pubkey "$1" >"$T/pub.pem"
	openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
		fail "the signature of $1 does not verify"
}
# held_then_kill PID: wait until the TPM2_EvictControl answer the proxy
# holds is pending, SIGKILL PID, let the answer go.
held_then_kill() {
	local pid=$1
	for _ in $(seq 200); do
		[ "$(proxy_ctl faults)" = "[]" ] && break
		sleep 0.05
	done
	[ "$(proxy_ctl faults)" = "[]" ] || fail "$scenario: TPM2_EvictControl was not reached"
	sleep 0.2
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	proxy_ctl release >/dev/null
}
consistent() { # every listed identity signs; the TPM holds exactly the recorded handles
	local n
	for n in $("$TPMID" list 2>/dev/null | awk 'NR > 1 { print $1 }'); do signs "$n"; done
	# An agent finishes what it finds at start in its TPM worker, after
	# its socket answers: give it a moment.
	for _ in $(seq 100); do
		[ "$(persistent)" = "$(recorded)" ] && return 0
		sleep 0.05
	done
	fail "$scenario: persistent handles [$(persistent)], identities record [$(recorded)]"
}
# status_names HANDLE: `tpmid status` names HANDLE as unrecorded (an agent
# looks at start, in its TPM worker: give it a moment).
status_names() {
	for _ in $(seq 100); do
		"$TPMID" status >"$T/st" 2>&1 || fail "status: $(cat "$T/st")"
		grep -q "^unrecorded: *1 persistent handle .* $1\$" "$T/st" && return 0
		sleep 0.05
	done
	fail "$scenario: status does not name $1: $(cat "$T/st")"
}

scenario="delete killed after the key was evicted"
run_ok "$TPMID" --direct keygen a --persist
h_a=$(recorded)
proxy_ctl fault 0x120 1 stall >/dev/null
"$TPMID" --direct delete a >/dev/null 2>&1 &
held_then_kill $!
[ ! -e "$TPMID_STORE/a.json" ] || fail "$scenario: a.json is still listed, with its key gone"
run_ok "$TPMID" --direct keygen b --persist
[ "$(recorded)" = "$h_a" ] || fail "$scenario: b did not take the freed handle ($(recorded), want $h_a)"
ls -a "$TPMID_STORE" | grep -q deleting && fail "$scenario: a tombstone was left: $(ls -a "$TPMID_STORE")"
consistent
log "$scenario: a is gone, b took $h_a and signs"

scenario="keygen --persist killed after the key became persistent"
proxy_ctl fault 0x120 1 stall >/dev/null
"$TPMID" --direct keygen c --persist >/dev/null 2>&1 &
held_then_kill $!
[ ! -e "$TPMID_STORE/c.json" ] || fail "$scenario: c.json was written"
n_before=$(persistent | wc -w)
[ "$n_before" -eq 2 ] || fail "$scenario: expected b's and c's key in the TPM, got [$(persistent)]"
run_ok "$TPMID" --direct status >/dev/null
consistent
log "$scenario: the next status evicted c's key"

scenario="the agent killed during a delete"
start_agent
proxy_ctl fault 0x120 1 stall >/dev/null
"$TPMID" delete b >/dev/null 2>&1 &
client=$!
held_then_kill "$AGENT_PID"
_untrack "$AGENT_PID"
wait "$client" 2>/dev/null || true
[ ! -e "$TPMID_STORE/b.json" ] || fail "$scenario: b.json is still listed"
start_agent
consistent
[ -z "$(persistent)" ] || fail "$scenario: [$(persistent)] left in the TPM"
ls -a "$TPMID_STORE" | grep -q deleting && fail "$scenario: a tombstone was left: $(ls -a "$TPMID_STORE")"
stop_agent
log "$scenario: the next agent evicted b's key at start"

scenario="a handle that now holds another key"
run_ok "$TPMID" --direct keygen x --persist
h_x=$(recorded | tr -d " ")
tpm2_evictcontrol -C o -c "$h_x" >/dev/null 2>&1 || fail "tpm2_evictcontrol $h_x failed"
run_ok "$TPMID" --direct keygen y --persist
signs x
signs y
log "$scenario: x signs with its blob while y holds $h_x"
run_ok "$TPMID" --direct delete x
signs y
consistent

scenario="a persistent object no identity records"
tpm2_createprimary -C o -g sha256 -G ecc -c "$T/p.ctx" >/dev/null || fail "tpm2_createprimary failed"
tpm2_evictcontrol -C o -c "$T/p.ctx" 0x81000100 >/dev/null || fail "tpm2_evictcontrol failed"
tpm2_flushcontext -t >/dev/null
status_names 0x81000100
start_agent
status_names 0x81000100
stop_agent
persistent | grep -q 0x81000100 || fail "$scenario: tpmid evicted 0x81000100, which it did not make"
tpm2_evictcontrol -C o -c 0x81000100 >/dev/null
"$TPMID" --direct status >"$T/st" 2>&1
grep -q unrecorded "$T/st" && fail "$scenario: still reported after it was evicted: $(cat "$T/st")"
log "$scenario: named by status, direct and through the agent, and left alone"

scenario="temp files of a killed writer"
touch "$TPMID_STORE/.y.json.Ab12Cd" "$TPMID_STORE/.y.json.notmp"
"$TPMID" --direct csr y --subject CN=y --out "$T/y.csr" 2>/dev/null || fail "csr y"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -subj "/CN=Test CA" -days 2 2>/dev/null
openssl x509 -req -in "$T/y.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-out "$T/y.crt" -days 1 2>/dev/null
run_ok "$TPMID" --direct cert y --set "$T/y.crt"
[ ! -e "$TPMID_STORE/.y.json.Ab12Cd" ] || fail "$scenario: .y.json.Ab12Cd is still there"
[ -e "$TPMID_STORE/.y.json.notmp" ] || fail "$scenario: a file that is no temp file was removed"
log "$scenario: removed by the next write"

pass "kills between a persistent key and its file leave nothing dangling: deletes and keygen --persist finished by the next process (CLI or agent), stale handles fall back to the blob, unrecorded handles reported, temp files swept"
