#!/bin/bash
# Messages a new user meets (issue 10, Lows): a missing askpass program was
# reported as "cancelled"; with no terminal the advice was --pin (which
# asks on the terminal); an encrypted key, a public key or a certificate
# given to import got "not a ... private key"; `--persist 0x81000030`
# (with a space) got "unexpected argument"; the agent logged "1
# identities"; a TCTI that gave no TPM was explained with a stale errno.
. "$top_srcdir/tests/lib.sh"
need openssl ssh-keygen

start_swtpm
printf '1234\n' >"$T/pin"
run_ok "$TPMID" keygen p --pin-file "$T/pin"
echo x >"$T/msg"

# No terminal, askpass missing: said so, not "cancelled".
expect_status 1 env SSH_ASKPASS="$T/no-such-askpass" SSH_ASKPASS_REQUIRE=force \
	setsid "$TPMID" sign p --in "$T/msg" --out "$T/sig" </dev/null
grep -q "cannot run the askpass program '$T/no-such-askpass': No such file or directory" "$T/err" ||
	fail "missing askpass: $(cat "$T/err")"
grep -q cancel "$T/err" && fail "missing askpass reported as cancelled"
# No terminal, no askpass allowed: the advice names what works without one.
expect_status 1 env -u DISPLAY -u WAYLAND_DISPLAY SSH_ASKPASS_REQUIRE=never \
	setsid "$TPMID" sign p --in "$T/msg" --out "$T/sig" </dev/null
grep -q "needs its PIN: use --pin-file or --pin-stdin, or set SSH_ASKPASS" "$T/err" ||
	fail "no-terminal advice: $(cat "$T/err")"
grep -q -- "--pin," "$T/err" && fail "advised --pin without a terminal: $(cat "$T/err")"

# import: what the file is instead.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.pem" 2>/dev/null
openssl pkey -in "$T/k.pem" -aes256 -passout pass:secret -out "$T/enc.pem" 2>/dev/null
openssl ec -in "$T/k.pem" -aes256 -passout pass:secret -out "$T/enc-sec1.pem" 2>/dev/null
openssl pkey -in "$T/k.pem" -pubout -out "$T/pub.pem"
openssl pkey -in "$T/k.pem" -pubout -outform DER -out "$T/pub.der"
openssl req -new -x509 -key "$T/k.pem" -subj /CN=x -days 1 -out "$T/cert.pem" 2>/dev/null
openssl x509 -in "$T/cert.pem" -outform DER -out "$T/cert.der"
ssh-keygen -q -t ecdsa -N '' -f "$T/id_ecdsa"
for f in enc:"an encrypted private key: decrypt it first" enc-sec1:"an encrypted private key" \
	pub:"a public key, not a private key" cert:"a certificate, not a private key"; do
	name=${f%%:*} want=${f#*:}
	expect_status 1 "$TPMID" import "x-$name" --key "$T/$name.pem"
	grep -q "$want" "$T/err" || fail "import $name.pem: $(cat "$T/err")"
done
expect_status 1 "$TPMID" import x --key "$T/pub.der"
grep -q "a public key, not a private key" "$T/err" || fail "import pub.der: $(cat "$T/err")"
expect_status 1 "$TPMID" import x --key "$T/cert.der"
grep -q "a certificate, not a private key" "$T/err" || fail "import cert.der: $(cat "$T/err")"
expect_status 1 "$TPMID" import x --key "$T/id_ecdsa.pub"
grep -q "a public key, not a private key" "$T/err" || fail "import id_ecdsa.pub: $(cat "$T/err")"

# --persist with a space.
expect_status 2 "$TPMID" keygen x --persist 0x81000030
grep -q "attach it: --persist=0x81000030" "$T/err" || fail "--persist HANDLE: $(cat "$T/err")"
expect_status 2 "$TPMID" keygen --persist 0x81000030 x
grep -q "attach it: --persist=0x81000030" "$T/err" || fail "--persist HANDLE NAME: $(cat "$T/err")"

# Grammar in the agent's log.
start_agent
for _ in $(seq 50); do grep -q "in the store" "$T/agent.log" && break; sleep 0.1; done
grep -q "reachable; 1 identity in the store" "$T/agent.log" || fail "agent log: $(grep store "$T/agent.log")"
stop_agent

# A TCTI that gives no TPM: our own reason, not errno left over from the
# loader ("device:/dev/null: no such file or directory").
port=$(free_port)
for f in "device:/dev/null|/dev/null opens but did not answer as a TPM" \
	"device:/nonexistent/tpm0|/nonexistent/tpm0: No such file or directory" \
	"device:$T|$T is not a character device" \
	"nosuchtcti:|no TCTI module 'nosuchtcti' is installed" \
	"swtpm:host=127.0.0.1,port=$port|connection refused"; do
	tcti=${f%%|*} want=${f#*|}
	expect_status 1 "$TPMID" --direct --tcti "$tcti" keygen zz
	grep -qF "no TPM at '$tcti': $want" "$T/err" && grep -q 'set --tcti or TPMID_TCTI$' "$T/err" ||
		fail "TCTI $tcti: $(cat "$T/err")"
done
pass "askpass missing, no-terminal advice, import mix-ups, --persist HANDLE, grammar and TCTI failures say what is wrong"
