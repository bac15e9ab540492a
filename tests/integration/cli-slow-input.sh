#!/bin/bash
# A request the client is still preparing is never cut by the agent's idle
# timeout (issue 10, High 3). `(sleep 65; echo hi) | tpmid sign web --in -`
# and a PIN typed after 60 s ended in "send: Broken pipe": the CLI had
# connected first and the agent closed the idle connection. The client now
# dials again when its connection sat idle or was closed. Here the agent's
# idle timeout is 1 s and every slow step takes 2-3 s; streams of any size
# are hashed on the client side (only the digest is sent).
. "$top_srcdir/tests/lib.sh"
need openssl

start_swtpm
start_agent --idle-timeout 1
run_ok "$TPMID" keygen web
printf '1234\n' >"$T/pin"
run_ok "$TPMID" keygen p --pin-file "$T/pin"
"$TPMID" pubkey web >"$T/web.pem"
"$TPMID" pubkey p >"$T/p.pem"

# Slow standard input.
(sleep 2; echo hi) | "$TPMID" sign web --in - --out "$T/sig" 2>"$T/err" ||
	fail "slow stdin: $(cat "$T/err")"
echo hi | openssl dgst -sha256 -verify "$T/web.pem" -signature "$T/sig" >/dev/null ||
	fail "slow stdin: signature does not verify"

# A PIN given slowly (askpass takes 2 s, as a person at the prompt would).
printf '#!/bin/sh\nsleep 2\necho 1234\n' >"$T/askpass"
chmod +x "$T/askpass"
echo data >"$T/msg"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid "$TPMID" sign p --in "$T/msg" \
	--out "$T/sig.p" </dev/null 2>"$T/err" || fail "slow PIN: $(cat "$T/err")"
openssl dgst -sha256 -verify "$T/p.pem" -signature "$T/sig.p" "$T/msg" >/dev/null ||
	fail "slow PIN: signature does not verify"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid "$TPMID" unlock p </dev/null 2>"$T/err" ||
	fail "slow PIN to unlock: $(cat "$T/err")"
run_ok "$TPMID" lock p

# A large stream, slowly: 64 MiB in two halves with a pause between.
head -c 33554432 /dev/urandom >"$T/half"
{ cat "$T/half"; sleep 2; cat "$T/half"; } | "$TPMID" sign web --in - --out "$T/sig.big" 2>"$T/err" ||
	fail "large slow stream: $(cat "$T/err")"
cat "$T/half" "$T/half" | openssl dgst -sha256 -verify "$T/web.pem" -signature "$T/sig.big" >/dev/null ||
	fail "large stream: signature does not verify"
rm -f "$T/half"

grep -q "closed the connection\|Broken pipe" "$T/agent.log" && fail "agent log shows a cut request"
stop_agent
pass "slow input, a slow PIN and a 64 MiB stream survive a 1 s agent idle timeout"
