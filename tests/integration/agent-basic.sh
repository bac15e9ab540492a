#!/bin/bash
# The agent serves list/pubkey/sign exactly like direct mode, holds a PIN
# after unlock, forgets it after lock, and reports its status.
. "$top_srcdir/tests/lib.sh"
need openssl

start_swtpm
printf 'S3cr3t-PIN-4711\n' >"$T/pin"
run_ok "$TPMID" --direct keygen web
run_ok "$TPMID" --direct keygen big --curve p384
run_ok "$TPMID" --direct keygen pinned --pin-file "$T/pin"

# Reference output from direct mode.
"$TPMID" --direct list >"$T/list.direct"
"$TPMID" --direct list --json >"$T/listjson.direct"
for n in web big pinned; do
	"$TPMID" --direct pubkey "$n" >"$T/$n.direct.pem"
	"$TPMID" --direct pubkey "$n" --format ssh >"$T/$n.direct.ssh"
	"$TPMID" --direct export "$n" --tss2 >"$T/$n.direct.tss2"
done
set +e
"$TPMID" --direct sign nope --in "$T/pin" --out "$T/x" 2>"$T/err.direct"
set -e

start_agent
"$TPMID" status >"$T/status" || fail "status via the agent failed"
grep -q '^agent: *running' "$T/status" || fail "status does not say the agent runs: $(cat "$T/status")"

# Same commands, same output.
"$TPMID" list >"$T/list.agent"
cmp -s "$T/list.direct" "$T/list.agent" || fail "list differs: $(diff "$T/list.direct" "$T/list.agent")"
"$TPMID" list --json >"$T/listjson.agent"
cmp -s "$T/listjson.direct" "$T/listjson.agent" || fail "list --json differs"
for n in web big pinned; do
	"$TPMID" pubkey "$n" >"$T/$n.agent.pem"
	"$TPMID" pubkey "$n" --format ssh >"$T/$n.agent.ssh"
	cmp -s "$T/$n.direct.pem" "$T/$n.agent.pem" || fail "pubkey $n (pem) differs"
	cmp -s "$T/$n.direct.ssh" "$T/$n.agent.ssh" || fail "pubkey $n (ssh) differs"
	"$TPMID" export "$n" --tss2 >"$T/$n.agent.tss2"
	cmp -s "$T/$n.direct.tss2" "$T/$n.agent.tss2" || fail "export $n differs"
	grep -q -- '-----BEGIN TSS2 PRIVATE KEY-----' "$T/$n.agent.tss2" || fail "export $n: not a TSS2 key"
done
set +e
"$TPMID" sign nope --in "$T/pin" --out "$T/x" 2>"$T/err.agent"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sign of a missing identity exited $rc"
cmp -s "$T/err.direct" "$T/err.agent" ||
	fail "error messages differ: direct '$(cat "$T/err.direct")' agent '$(cat "$T/err.agent")'"
pass "list, pubkey, export and errors identical in both modes"

# Sign data and a digest through the agent.
head -c 1000 /dev/urandom >"$T/msg"
run_ok "$TPMID" sign web --in "$T/msg" --out "$T/web.sig"
openssl dgst -sha256 -verify "$T/web.agent.pem" -signature "$T/web.sig" "$T/msg" >/dev/null ||
	fail "P-256 signature made through the agent does not verify"
run_ok "$TPMID" sign big --in "$T/msg" --out "$T/big.sig"
openssl dgst -sha384 -verify "$T/big.agent.pem" -signature "$T/big.sig" "$T/msg" >/dev/null ||
	fail "P-384 signature made through the agent does not verify"
openssl dgst -sha256 -binary "$T/msg" >"$T/msg.dgst"
run_ok "$TPMID" sign web --digest --in "$T/msg.dgst" --out "$T/web.dsig"
openssl pkeyutl -verify -pubin -inkey "$T/web.agent.pem" -in "$T/msg.dgst" \
	-sigfile "$T/web.dsig" >/dev/null || fail "digest signature does not verify"
pass "sign data and digest via the agent"

# A PIN key: without the PIN it fails cleanly (no terminal, no askpass).
nopin() { SSH_ASKPASS= DISPLAY= setsid -w "$TPMID" "$@" </dev/null; }
set +e
nopin sign pinned --in "$T/msg" --out "$T/p.sig" 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sign with a locked PIN key exited $rc (stderr: $(cat "$T/err"))"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one error line, got: $(cat "$T/err")"

run_ok "$TPMID" unlock pinned --pin-file "$T/pin"
"$TPMID" list | grep '^pinned ' | grep -q 'pin+unlocked' || fail "list does not show pinned as unlocked"
run_ok nopin sign pinned --in "$T/msg" --out "$T/p.sig"
"$TPMID" pubkey pinned >"$T/pinned.pem"
openssl dgst -sha256 -verify "$T/pinned.pem" -signature "$T/p.sig" "$T/msg" >/dev/null ||
	fail "signature with the held PIN does not verify"
"$TPMID" status | grep -q '^unlocked: *1' || fail "status does not count the held PIN: $("$TPMID" status)"
pass "unlock, then sign without a PIN"

run_ok "$TPMID" lock pinned
set +e
nopin sign pinned --in "$T/msg" --out "$T/p2.sig" 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sign after lock exited $rc"
grep -q "pinned" "$T/err" || fail "error after lock does not name the identity: $(cat "$T/err")"
[ ! -s "$T/p2.sig" ] || fail "a signature was written after lock"
"$TPMID" status | grep -q '^unlocked: *0' || fail "status still counts a held PIN"
pass "lock, then sign fails cleanly: $(cat "$T/err")"

# unlock --timeout: the held PIN expires by itself (the agent's timer, not
# the next request, forgets it). 3 s, so that a loaded machine (sanitizer
# builds, a parallel fuzz run) still signs before it expires.
run_ok "$TPMID" unlock pinned --pin-file "$T/pin" --timeout 3
run_ok nopin sign pinned --in "$T/msg" --out "$T/p3.sig"
for _ in $(seq 100); do
	"$TPMID" status | grep -q '^unlocked: *0' && break
	sleep 0.1
done
"$TPMID" status | grep -q '^unlocked: *0' || fail "the PIN was still held 10 s after a 3 s timeout"
set +e
nopin sign pinned --in "$T/msg" --out "$T/p4.sig" 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sign after the unlock timeout exited $rc"
pass "unlock --timeout 3: PIN forgotten after expiry"

"$TPMID" status >"$T/status"
grep -q '^signatures: *[1-9]' "$T/status" || fail "status does not count signatures: $(cat "$T/status")"
grep -q '^tpm: *reachable' "$T/status" || fail "status: TPM not reachable: $(cat "$T/status")"

# The PIN never appears in the log.
! grep -q 'S3cr3t-PIN-4711' "$T/agent.log" || fail "the PIN appears in the agent log"

stop_agent
check_no_transient
pass "status, clean stop"
