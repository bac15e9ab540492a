#!/bin/bash
# swtpm is killed and restarted under a running agent: requests in the gap
# fail cleanly (exit 1, one line, no hang), then signing works again with
# the same agent process, which counts the reconnect. Then a signing key
# flushed behind the agent's back (not a reset): reloaded, no reset counted,
# the SRK kept, nothing leaked.
. "$top_srcdir/tests/lib.sh"
need openssl timeout

start_swtpm
run_ok "$TPMID" --direct keygen r
printf 'S3cr3t-PIN-4711\n' >"$T/pin"
run_ok "$TPMID" --direct keygen rp --pin-file "$T/pin"
start_agent
pid_before=$AGENT_PID
"$TPMID" pubkey r >"$T/r.pem"
"$TPMID" pubkey rp >"$T/rp.pem"
printf 'before the reset\n' >"$T/msg"
run_ok "$TPMID" sign r --in "$T/msg" --force --out "$T/sig"
run_ok "$TPMID" unlock rp --pin-file "$T/pin"
run_ok "$TPMID" sign rp --in "$T/msg" --force --out "$T/sig"

# Signs in a loop while the TPM goes away and comes back.
(
	for k in $(seq 60); do
		set +e
		timeout 20 "$TPMID" sign r --in "$T/msg" --force --out "$T/loop.sig" 2>"$T/loop.err.$k"
		echo "$?" >>"$T/loop.rc"
		set -e
		sleep 0.05
	done
) &
loop=$!
sleep 0.5
stop_swtpm
# While it is down: a clean error, not a hang.
set +e
timeout 20 "$TPMID" sign r --in "$T/msg" --force --out "$T/down.sig" 2>"$T/down.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sign with the TPM down exited $rc (124 = hang): $(cat "$T/down.err")"
[ "$(wc -l <"$T/down.err")" -eq 1 ] || fail "expected one error line: $(cat "$T/down.err")"
log "with the TPM down: $(cat "$T/down.err")"
kill -0 "$AGENT_PID" || fail "the agent died when the TPM went away"
restart_swtpm
wait "$loop"

grep -qv '^[01]$' "$T/loop.rc" && fail "a sign neither succeeded nor failed cleanly: $(sort "$T/loop.rc" | uniq -c)"
ok=$(grep -c '^0$' "$T/loop.rc" || true)
errs=$(grep -c '^1$' "$T/loop.rc" || true)
pass "during the reset: $ok signs ok, $errs clean errors, no hang"

# Recovery without restarting the agent.
for k in 1 2 3 4 5; do
	printf 'after the reset %s\n' "$k" >"$T/msg2"
	run_ok "$TPMID" sign r --in "$T/msg2" --force --out "$T/sig2"
	openssl dgst -sha256 -verify "$T/r.pem" -signature "$T/sig2" "$T/msg2" >/dev/null ||
		fail "signature after the reset does not verify"
done
# The held PIN survives the reconnect (it lives in the agent, not the TPM).
run_ok "$TPMID" sign rp --in "$T/msg2" --force --out "$T/sig3"
openssl dgst -sha256 -verify "$T/rp.pem" -signature "$T/sig3" "$T/msg2" >/dev/null ||
	fail "PIN-key signature after the reset does not verify"
[ "$AGENT_PID" = "$pid_before" ] && kill -0 "$AGENT_PID" || fail "the agent was restarted"
resets=$("$TPMID" status | sed -n 's/^tpm resets: *//p')
[ "${resets:-0}" -ge 1 ] || fail "status does not count the TPM reset"
pass "signing works again with the same agent (pid $AGENT_PID, $resets reconnects)"

# Not a reset: the signing key flushed behind the agent's back (with
# tpm2_flushcontext). The agent finds its SRK still in place (tpm_probe), so
# it flushes its own remaining objects, reloads the key, and does not count
# a TPM reset (engine_recover); nothing is leaked. The handle to flush is
# the one holding r's public key: the first transient handle is the agent's
# SRK (loaded first), and flushing that is a different case.
need tpm2_flushcontext
run_ok "$TPMID" sign r --in "$T/msg2" --force --out "$T/sig2"
resets_before=$(agent_status "tpm resets")
objs=$(transient_objects "$T/r.pem" "$T/rp.pem")
log "before the flush: $(echo $objs)"
srk=$(printf '%s\n' "$objs" | awk '$2 == "srk" { print $1 }')
key=$(printf '%s\n' "$objs" | awk '$2 == "r" { print $1 }')
[ -n "$srk" ] && [ "$(echo $srk | wc -w)" -eq 1 ] ||
	fail "expected exactly one SRK (restricted decryption key) among: $(echo $objs)"
[ -n "$key" ] && [ "$(echo $key | wc -w)" -eq 1 ] ||
	fail "expected r's key loaded exactly once among: $(echo $objs)"
# What we flush is r's signing key, and not the SRK.
attrs=$(tpm_object_attrs "$key")
case "|$attrs|" in *"|sign|"*) ;; *) fail "$key is not a signing key: $attrs" ;; esac
case "|$attrs|" in *"|restricted|"*) fail "$key is a restricted key: $attrs" ;; esac
[ "$key" != "$srk" ] || fail "r's key and the SRK are both $key"
tpm_object_pem "$srk" "$T/srk.pem"
tpm2_flushcontext "$key" >/dev/null 2>"$T/err" || fail "tpm2_flushcontext $key: $(cat "$T/err")"
objs=$(transient_objects "$T/srk.pem" "$T/r.pem" "$T/rp.pem")
printf '%s\n' "$objs" | grep -q ' r$' && fail "r's key is still loaded after flushing $key: $(echo $objs)"
printf '%s\n' "$objs" | grep -qx "$srk srk" || fail "the SRK $srk went with the flush: $(echo $objs)"
log "flushed $key (r, $attrs); left: $(echo $objs)"

for k in 1 2 3; do
	printf 'after a foreign flush %s\n' "$k" >"$T/msg4"
	run_ok "$TPMID" sign r --in "$T/msg4" --force --out "$T/sig4"
	openssl dgst -sha256 -verify "$T/r.pem" -signature "$T/sig4" "$T/msg4" >/dev/null ||
		fail "signature after a flush behind the agent's back does not verify"
done
resets_after=$(agent_status "tpm resets")
objs=$(transient_objects "$T/srk.pem" "$T/r.pem" "$T/rp.pem")
log "foreign flush: resets $resets_before -> $resets_after; loaded now: $(echo $objs)"
[ "$resets_after" -eq "$resets_before" ] ||
	fail "a key flushed behind the agent's back was counted as a TPM reset ($resets_before -> $resets_after)"
# Exactly the agent's SRK, the same object at the same handle, and r again.
[ "$(printf '%s\n' "$objs" | wc -l)" -eq 2 ] ||
	fail "want exactly the SRK and r loaded after the recovery, have: $(echo $objs)"
printf '%s\n' "$objs" | grep -qx "$srk srk" ||
	fail "the agent's SRK is no longer $srk after the recovery: $(echo $objs)"
printf '%s\n' "$objs" | grep -q ' r$' || fail "r's key was not reloaded: $(echo $objs)"
[ "$(agent_status "loaded keys")" -eq 1 ] || fail "status: $("$TPMID" status | grep loaded)"
pass "recovered from r's key flushed behind the agent's back: no reset counted, SRK $srk kept, SRK + r loaded"

stop_agent
check_no_transient
pass "clean stop"
