#!/bin/bash
# --direct while the agent holds keys (issue 10, Medium 9): without a
# resource manager every process shares the TPM's object slots (3 on
# swtpm) and the agent keeps its keys loaded, so a direct-mode command
# fails with "out of object memory". The message now says why and what to
# do instead of leaving the user to guess.
. "$top_srcdir/tests/lib.sh"

start_swtpm
for k in a b c d; do run_ok "$TPMID" --direct keygen $k; done
start_agent
echo x >"$T/msg"
for k in a b c; do run_ok "$TPMID" sign $k --in "$T/msg" --force --out "$T/s"; done
[ "$(agent_status "loaded keys")" -ge 2 ] || fail "the agent holds fewer than 2 keys"
expect_status 1 "$TPMID" --direct sign d --in "$T/msg" --force --out "$T/s"
grep -q "TPM out of object or session memory; opened directly ($TPMID_TCTI), this process shares the TPM's object slots.*use the agent (without --direct), or a resource manager (device:/dev/tpmrm0" "$T/err" ||
	fail "direct mode on a full TPM: $(cat "$T/err")"
log "$(cat "$T/err")"
# Through the agent the same command works.
run_ok "$TPMID" sign d --in "$T/msg" --force --out "$T/s"
stop_agent
pass "a direct-mode command on a TPM the agent fills says why and what to do"
