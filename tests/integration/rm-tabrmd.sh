#!/bin/bash
# Through a resource manager (issue 8): the tests that matter to a user,
# run again with tpm2-abrmd between tpmid and swtpm (TPMID_TEST_RM=tabrmd:
# start_swtpm then starts one, tests/lib.sh). Like the kernel's
# /dev/tpmrm0, tpm2-abrmd swaps every client's objects out between
# commands and flushes them when the client goes, so tpmid must neither
# rely on objects staying in the TPM's slots nor on anything it would
# flush itself without one; held-object records are not used there. The
# tests that inspect the TPM's slots directly (the LRU, persistence, the
# leak checks of the harness itself) only make sense without one and run
# without it in their own right.
. "$top_srcdir/tests/lib.sh"
need tpm2-abrmd dbus-daemon

# What differs under a resource manager is object lifetime: creating,
# importing, loading, PIN sessions, many clients, stalls and crashes. Tests
# that only sign again another way (CSRs, certificates, git, uid access)
# add nothing here and run without it.
for t in cli-keygen-sign cli-pin cli-import cli-openssl \
	agent-basic agent-concurrent ssh-agent ssh-login tpm-stall tpm-crash; do
	if ! TPMID_TEST_RM=tabrmd bash "$top_srcdir/tests/integration/$t.sh" >"$T/$t.out" 2>&1; then
		fail "$t through tpm2-abrmd: $(grep -m 1 '^FAIL' "$T/$t.out" || tail -n 20 "$T/$t.out")"
	fi
	log "$t: $(grep -c '^PASS:' "$T/$t.out") checks passed through tpm2-abrmd"
done
pass "CLI, agent, ssh, stall and crash tests pass through tpm2-abrmd"

# And that it was tabrmd they went through: the agent reports its TCTI.
TPMID_TEST_RM=tabrmd start_swtpm
run_ok "$TPMID" --direct keygen k
start_agent
run_ok "$TPMID" sign k --in "$TPMID_STORE/k.json" --force --out "$T/sig"
"$TPMID" status | grep -q "^tcti: *tabrmd:bus_name=" || fail "the agent does not use tabrmd: $("$TPMID" status)"
stop_agent
pass "the agent's TCTI is tabrmd"
