#!/bin/bash
# TPM commands per operation (issue 8): on a hardware TPM each command costs
# milliseconds, so every operation must send the fewest. tests/tpmproxy
# logs what the agent sends; each operation's exact sequence is asserted:
# a cached sign is one TPM2_Sign (the floor); a cache miss on a full TPM is
# FlushContext + Load + Sign (the agent learns the TPM's free object slots,
# TPM2_PT_HR_TRANSIENT_AVAIL, once, instead of meeting TPM_RC_OBJECT_MEMORY
# on every miss); a persistent key's first use is ReadPublic + Sign;
# listing, public keys, status and ssh's REQUEST_IDENTITIES send nothing.
. "$top_srcdir/tests/lib.sh"
need python3 ssh-add

start_swtpm
start_tpmproxy
printf '1234\n' >"$T/pin"
head -c 100 /dev/urandom >"$T/msg"
for k in a b c; do run_ok "$TPMID" --direct keygen "$k"; done
run_ok "$TPMID" --direct keygen p --pin-file "$T/pin"
run_ok "$TPMID" --direct keygen q --persist
export SSH_AUTH_SOCK="$TPMID_SOCKET"

names() {
	python3 -c '
import json, sys
N = {"0x131": "CreatePrimary", "0x153": "Create", "0x157": "Load", "0x15d": "Sign",
     "0x165": "FlushContext", "0x173": "ReadPublic", "0x176": "StartAuthSession",
     "0x17a": "GetCapability", "0x120": "EvictControl", "0x181": "ReadClock",
     "0x144": "Startup", "0x156": "Import"}
print(" ".join(N.get(c, c) for c in json.load(sys.stdin)))'
}

# expect_cmds "SEQUENCE" CMD...: CMD sends exactly SEQUENCE to the TPM.
expect_cmds() {
	local want=$1 got
	shift
	proxy_ctl reset >/dev/null
	"$@" >/dev/null 2>"$T/err" || fail "$*: $(cat "$T/err")"
	got=$(proxy_ctl log | names)
	[ "$got" = "$want" ] || fail "$(echo "$*" | sed "s|$TPMID|tpmid|; s|$T/||g"): sent [$got], want [$want]"
	log "$(printf '%-34s' "$(echo "$*" | sed "s|$TPMID|tpmid|; s|--in $T/msg --out $T/sig||; s|$T/||g")") ${want:-(nothing)}"
}

sign() { "$TPMID" sign "$@" --in "$T/msg" --force --out "$T/sig"; }

start_agent --max-loaded 3
# The first sign waits behind the agent's start-up check, which opens the
# TPM; measured from here on.
run_ok sign a
expect_cmds "Sign" sign a
expect_cmds "GetCapability Load Sign" sign b
expect_cmds "Sign" sign b
expect_cmds "FlushContext Load Sign" sign c
expect_cmds "Sign" sign c
expect_cmds "FlushContext ReadPublic Sign" sign q
expect_cmds "Sign" sign q
expect_cmds "Load Sign" sign a
expect_cmds "FlushContext Load Sign" sign b
expect_cmds "" "$TPMID" list
expect_cmds "" "$TPMID" status
expect_cmds "" "$TPMID" pubkey a
expect_cmds "" "$TPMID" export a --tss2
expect_cmds "" "$TPMID" lock
expect_cmds "" ssh-add -L
run_ok "$TPMID" unlock p --pin-file "$T/pin"
expect_cmds "Sign" sign p
expect_cmds "Sign" sign p
# The TPM is full (SRK, p, b): reading the persistent key takes a slot.
# (Before, delete failed with TPM_RC_OBJECT_MEMORY here.)
expect_cmds "FlushContext ReadPublic EvictControl" "$TPMID" delete q
stop_agent
check_no_transient
pass "agent: cached sign = Sign; miss = [FlushContext] Load Sign; persistent first use = [FlushContext] ReadPublic Sign; delete persistent = [FlushContext] ReadPublic EvictControl; list/status/pubkey/REQUEST_IDENTITIES = nothing"

# A persistent key with room in the TPM, on an agent that has used nothing
# else yet: ReadPublic + Sign, then Sign.
run_ok "$TPMID" --direct keygen r --persist
: >"$T/agent.log"
start_agent
for _ in $(seq 100); do grep -q "reachable" "$T/agent.log" && break; sleep 0.05; done
grep -q "reachable" "$T/agent.log" || fail "the agent's start-up check did not finish"
expect_cmds "ReadPublic Sign" sign r
expect_cmds "Sign" sign r
expect_cmds "ReadPublic EvictControl" "$TPMID" delete r
stop_agent
check_no_transient
pass "persistent key with room in the TPM: first use ReadPublic Sign, delete ReadPublic EvictControl"
