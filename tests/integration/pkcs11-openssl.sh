#!/bin/bash
# libtpmid-pkcs11.so under OpenSSL through libp11's engine (`-engine pkcs11`,
# the module from PKCS11_MODULE_PATH or the engine's MODULE_PATH): CSRs
# signed through the module (per-identity tokens and slot 0, with and
# without a PIN, SHA-384 on P-256), a certificate from a test CA attached
# with `tpmid cert --set` and seen as a certificate object by pkcs11-tool
# and by libp11, TLS client authentication to `openssl s_server` (TLS 1.3
# with P-256 and P-384 keys, with and without a PIN; TLS 1.2 with SHA-384
# on a P-256 key; a wrong PIN on slot 0 fails and costs one try), MQTT to
# a mosquitto broker that requires client certificates (mosquitto_pub makes
# the engine the default for everything), and a host program that does the
# same as mosquitto with the engine API and signs with EVP_DigestSign.
. "$top_srcdir/tests/lib.sh"
need openssl pkcs11-tool mosquitto mosquitto_pub mosquitto_sub readelf
M=${TPMID_PKCS11:?run through make check}
[ -f "$M" ] || fail "$M not built"

# A sanitizer build of the module needs its runtime first in a program
# that was not built with it. libp11's engine takes the module from
# PKCS11_MODULE_PATH when nothing sets its MODULE_PATH.
asan_preload "$M"
P11_ENV=(env PKCS11_MODULE_PATH="$M" "${ASAN_PRELOAD[@]}")
"${P11_ENV[@]}" openssl engine -t pkcs11 >"$T/engine" 2>&1 ||
	fail "libp11's engine does not load (package libengine-pkcs11-openssl): $(cat "$T/engine")"

start_swtpm
set_da_params 32 1 1
printf '1234\n' >"$T/pin"
run_ok "$TPMID" keygen k --no-pin
run_ok "$TPMID" keygen k384 --curve p384 --no-pin
run_ok "$TPMID" keygen pk --pin-file "$T/pin"
run_ok "$TPMID" keygen pk384 --curve p384 --pin-file "$T/pin"
start_agent
for id in k k384 pk pk384; do "$TPMID" pubkey "$id" >"$T/$id.pem"; done

# The URIs: an identity's own token (token label = its name), or slot 0's
# token "tpmid" with every identity; libp11 takes the PIN from pin-value,
# as a path attribute (;) or a query (?).
declare -A URI=(
	[k]="pkcs11:token=k;object=k;type=private"
	[k384]="pkcs11:token=k384;object=k384;type=private"
	[pk]="pkcs11:token=pk;object=pk;type=private;pin-value=1234"
	[pk384]="pkcs11:token=pk384;object=pk384;type=private?pin-value=1234"
	[k384@0]="pkcs11:token=tpmid;object=k384;type=private"
	[pk@0]="pkcs11:token=tpmid;object=pk;type=private?pin-value=1234"
)

# --- CSRs signed through the module ------------------------------------------
# csr OUT ID URI [ARGS...]: a CSR for ID's key signed through URI, to
# $T/OUT.csr; it verifies and carries ID's public key.
csr() {
	local out=$1 id=$2 uri=$3
	shift 3
	"${P11_ENV[@]}" openssl req -new -engine pkcs11 -keyform engine -key "$uri" \
		-subj "/CN=client $id/O=tpmid test" -out "$T/$out.csr" "$@" >"$T/out" 2>&1 ||
		fail "openssl req with $uri: $(cat "$T/out")"
	# OpenSSL 3.0's req -verify exits 0 when the signature is bad: what
	# it says is what counts.
	openssl req -verify -noout -in "$T/$out.csr" >"$T/out" 2>&1 || true
	grep -qx "Certificate request self-signature verify OK" "$T/out" ||
		fail "the CSR signed through $uri does not verify: $(cat "$T/out")"
	openssl req -in "$T/$out.csr" -noout -pubkey >"$T/csr.pub"
	same_pubkey "$T/csr.pub" "$T/$id.pem" || fail "the CSR through $uri is not $id's key"
}
csr k k "${URI[k]}"
csr k384 k384 "${URI[k384@0]}"
csr pk pk "${URI[pk]}"
csr pk384 pk384 "${URI[pk384]}"
openssl req -in "$T/k384.csr" -noout -text | grep -q 'Public-Key: (384 bit)' || fail "k384's CSR"
csr pk0 pk "${URI[pk@0]}"
# The PIN from -passin (libp11 takes it from OpenSSL's password callback).
csr pk-passin pk "pkcs11:token=pk;object=pk;type=private" -passin pass:1234
# No token named: libp11 takes the first token that has the key (no login
# then: with several matching tokens it does not log in, so a PIN key
# needs token=).
csr k-any k "pkcs11:object=k;type=private"
# SHA-384 on a P-256 key: libp11 signs the digest with CKM_ECDSA, and the
# module truncates it to the curve's size.
csr k-sha384 k "${URI[k]}" -sha384
openssl req -in "$T/k-sha384.csr" -noout -text | grep -q 'ecdsa-with-SHA384' ||
	fail "the -sha384 CSR is not ecdsa-with-SHA384"
# A wrong PIN on pk's own token: the login fails, nothing is signed.
"${P11_ENV[@]}" openssl req -new -engine pkcs11 -keyform engine \
	-key "pkcs11:token=pk;object=pk;type=private;pin-value=9999" -subj /CN=x \
	-out "$T/bad.csr" >"$T/out" 2>&1 && fail "openssl req signed with a wrong PIN"
grep -qi "PIN incorrect" "$T/out" || fail "wrong PIN: $(cat "$T/out")"
pass "CSRs through libp11's engine (own tokens and slot 0, PIN, SHA-384 on P-256) verify with tpmid's keys"

# --- a test CA, certificates, and the certificate objects --------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -subj "/CN=tpmid test CA" -days 2 2>/dev/null
# issue CSR OUT [EXTENSIONS]: OUT signed by the CA, from CSR.
issue() {
	openssl x509 -req -in "$1" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-out "$2" -days 1 -extfile <(printf '%s\n' "${3:-basicConstraints=CA:FALSE}") \
		>"$T/out" 2>&1 || fail "issuing $2: $(cat "$T/out")"
}
for id in k k384 pk pk384; do
	issue "$T/$id.csr" "$T/$id.crt" "extendedKeyUsage=clientAuth"
	run_ok "$TPMID" cert "$id" --set "$T/$id.crt" --ca "$T/ca.pem"
done
# Software keys for the servers and for the MQTT subscriber.
for n in srv sub; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$n.key" \
		-subj "/CN=$n" -out "$T/$n.csr" 2>/dev/null
done
issue "$T/srv.csr" "$T/srv.crt" "subjectAltName=IP:127.0.0.1"
issue "$T/sub.csr" "$T/sub.crt" "extendedKeyUsage=clientAuth"

"${P11_ENV[@]}" pkcs11-tool --module "$M" --token-label k --list-objects >"$T/objs" 2>&1 ||
	fail "list-objects: $(cat "$T/objs")"
grep -q "^Certificate Object; type = X.509 cert" "$T/objs" || fail "no certificate object: $(cat "$T/objs")"
grep -q "subject:    DN: CN=client k, O=tpmid test" "$T/objs" || fail "certificate subject: $(cat "$T/objs")"
[ "$(awk '/^Certificate Object/ { c = 1 } c && /ID:/ { print $2; exit }' "$T/objs")" = \
	"$(awk '/^Private Key Object/ { c = 1 } c && /ID:/ { print $2; exit }' "$T/objs")" ] ||
	fail "the certificate's CKA_ID is not the private key's: $(cat "$T/objs")"
"${P11_ENV[@]}" pkcs11-tool --module "$M" --token-label tpmid --list-objects >"$T/objs0" 2>&1 ||
	fail "slot 0's objects: $(cat "$T/objs0")"
[ "$(grep -c '^Certificate Object' "$T/objs0")" -eq 4 ] || fail "slot 0's certificates: $(cat "$T/objs0")"
"${P11_ENV[@]}" pkcs11-tool --module "$M" --token-label k --read-object --type cert --label k \
	-o "$T/k.der" >"$T/out" 2>&1 || fail "read the certificate: $(cat "$T/out")"
openssl x509 -in "$T/k.crt" -outform DER | cmp -s - "$T/k.der" ||
	fail "the certificate object is not the attached certificate"
pass "an attached certificate is a certificate object with its subject and the key's CKA_ID"

# --- TLS client authentication through the module ----------------------------
# The server reads its standard input (a FIFO this shell holds open).
mkfifo "$T/srv.in"
exec 7<>"$T/srv.in"
# tls NAME URI CERT [SERVER-ARGS...]: one connection from s_client (key
# through the module) to s_server (client certificate required, verified
# against the CA), a line sent; the server's output in $T/srv.out, the
# client's in $T/cli.out and its exit status in $cli_rc.
tls() {
	local name=$1 uri=$2 cert=$3 port sp
	shift 3
	# A port taken between free_port and the bind: another one.
	for _ in 1 2 3 4 5; do
		port=$(free_port 1)
		openssl s_server -accept "127.0.0.1:$port" -naccept 1 -Verify 1 -verify_return_error \
			-CAfile "$T/ca.pem" -cert "$T/srv.crt" -key "$T/srv.key" "$@" \
			<&7 >"$T/srv.out" 2>&1 &
		sp=$!
		_track "$sp"
		wait_log "$sp" "$T/srv.out" '^ACCEPT' && break
		kill -0 "$sp" 2>/dev/null && fail "s_server does not accept: $(cat "$T/srv.out")"
		_untrack "$sp"
	done
	grep -q '^ACCEPT' "$T/srv.out" || fail "s_server exited: $(cat "$T/srv.out")"
	cli_rc=0
	printf 'hello from %s\n' "$name" | "${P11_ENV[@]}" openssl s_client -brief \
		-connect "127.0.0.1:$port" -engine pkcs11 -keyform engine -key "$uri" -cert "$cert" \
		-CAfile "$T/ca.pem" -verify_return_error >"$T/cli.out" 2>&1 || cli_rc=$?
	# -naccept 1: the server ends with the connection (a client that never
	# connected leaves it waiting: stopped then).
	for _ in $(seq 200); do kill -0 "$sp" 2>/dev/null || break; sleep 0.05; done
	kill "$sp" 2>/dev/null || true
	wait "$sp" 2>/dev/null || true
	_untrack "$sp"
	cp "$T/srv.out" "$T/tls-$name.server"
	cp "$T/cli.out" "$T/tls-$name.client"
}
# tls_ok NAME URI CERT CN PROTO HASH [SERVER-ARGS...]: the client signed
# with HASH and its certificate CN was verified by the server, over
# PROTO, and the line arrived.
tls_ok() {
	local name=$1 uri=$2 cert=$3 cn=$4 proto=$5 hash=$6 want
	shift 6
	tls "$name" "$uri" "$cert" "$@"
	[ "$cli_rc" -eq 0 ] || fail "s_client with $uri: $(cat "$T/cli.out")"
	grep -qx "Protocol version: $proto" "$T/cli.out" || fail "$name: not $proto: $(cat "$T/cli.out")"
	# The server's verify callback on the client's certificate, then
	# what it printed about the connection.
	grep -A1 -x "depth=0 CN = $cn, O = tpmid test" "$T/srv.out" | grep -qx 'verify return:1' ||
		fail "$name: the server did not verify the client's certificate: $(cat "$T/srv.out")"
	for want in "subject=CN = $cn, O = tpmid test" "issuer=CN = tpmid test CA" \
		"Peer signing digest: $hash" "Peer signature type: ECDSA" "hello from $name"; do
		grep -qx "$want" "$T/srv.out" ||
			fail "$name: the server did not see '$want': $(cat "$T/srv.out") (client: $(cat "$T/cli.out"))"
	done
}
tls_ok k "${URI[k]}" "$T/k.crt" "client k" TLSv1.3 SHA256 -tls1_3
# ecdsa_secp384r1_sha384.
tls_ok k384 "${URI[k384]}" "$T/k384.crt" "client k384" TLSv1.3 SHA384 -tls1_3
tls_ok pk "${URI[pk]}" "$T/pk.crt" "client pk" TLSv1.3 SHA256 -tls1_3
tls_ok pk0 "${URI[pk@0]}" "$T/pk.crt" "client pk" TLSv1.3 SHA256 -tls1_3
tls_ok pk384 "${URI[pk384]}" "$T/pk384.crt" "client pk384" TLSv1.3 SHA384 -tls1_3
# TLS 1.2 lets a P-256 key sign SHA-384: CKM_ECDSA over a 48-byte digest.
tls_ok k-12 "${URI[k]}" "$T/k.crt" "client k" TLSv1.2 SHA384 -tls1_2 -client_sigalgs ECDSA+SHA384
pass "TLS client auth to s_server: TLS 1.3 with P-256 and P-384 keys, without and with a PIN (own token, slot 0); TLS 1.2 SHA-384 on P-256"

# A wrong PIN on slot 0: the key is found, its signature refused (one
# dictionary-attack try), the handshake fails, the server gets no line.
wrong_tries() { grep -c "'pk' .*wrong PIN" "$T/agent.log" || true; }
n=$(wrong_tries)
tls pk-bad "pkcs11:token=tpmid;object=pk;type=private;pin-value=9999" "$T/pk.crt" -tls1_3
[ "$cli_rc" -ne 0 ] || fail "s_client connected with a wrong PIN: $(cat "$T/cli.out")"
grep -q "PIN incorrect" "$T/cli.out" || fail "wrong PIN: $(cat "$T/cli.out")"
grep -q "hello from pk-bad\|^subject=" "$T/srv.out" &&
	fail "the server accepted a client with a wrong PIN: $(cat "$T/srv.out")"
[ "$(wrong_tries)" -eq $((n + 1)) ] ||
	fail "a wrong PIN through libp11 cost $(( $(wrong_tries) - n )) tries: $(cat "$T/cli.out")"
pass "a wrong PIN on slot 0 fails the handshake and costs one try"
exec 7>&-

# --- mosquitto -------------------------------------------------------------------
# The broker on loopback only, TLS 1.3, a client certificate required and
# its CN the username.
for _ in 1 2 3 4 5; do
	port=$(free_port 1)
	cat >"$T/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous false
persistence false
log_dest stderr
log_type all
user $(id -un)
listener $port 127.0.0.1
cafile $T/ca.pem
certfile $T/srv.crt
keyfile $T/srv.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.3
EOF
	mosquitto -c "$T/mosquitto.conf" >"$T/mosquitto.log" 2>&1 &
	mp=$!
	_track "$mp"
	wait_log "$mp" "$T/mosquitto.log" 'mosquitto version .* running' && break
	kill -0 "$mp" 2>/dev/null && fail "mosquitto did not start: $(cat "$T/mosquitto.log")"
	_untrack "$mp"
done
grep -q 'mosquitto version .* running' "$T/mosquitto.log" || fail "mosquitto exited: $(cat "$T/mosquitto.log")"
# One listener, this one (no default listener on port 1883).
if [ "$(grep -c 'Opening .* listen socket' "$T/mosquitto.log")" -ne 1 ] ||
	! grep -q "Opening ipv4 listen socket on port $port\.\$" "$T/mosquitto.log"; then
	fail "mosquitto listens elsewhere than 127.0.0.1:$port: $(cat "$T/mosquitto.log")"
fi

# mosquitto_pub makes the engine the default (ENGINE_set_default(e,
# ENGINE_METHOD_ALL)) and loads --key through it, but mosquitto 2.0's
# mosquitto_tls_set() first fopen()s --key as a file, whatever --keyform
# says ("Error: Problem setting TLS options: File not found."): it runs
# where an empty file has the URI's name.
mkdir "$T/mq"
# pub ID URI: publish "hello from ID" on tpmid/ID, retained (so that the
# subscriber gets it whenever it subscribes), with ID's certificate.
pub() {
	: >"$T/mq/$2"
	(cd "$T/mq" && "${P11_ENV[@]}" mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$T/ca.pem" \
		--cert "$T/$1.crt" --tls-engine pkcs11 --keyform engine --key "$2" \
		-t "tpmid/$1" -m "hello from $1" -r) >"$T/out" 2>&1 ||
		fail "mosquitto_pub with $2: $(cat "$T/out")"
}
pub k "${URI[k]}"
pub k384 "${URI[k384]}"
pub pk "${URI[pk@0]}"
timeout 60 mosquitto_sub -h 127.0.0.1 -p "$port" --cafile "$T/ca.pem" --cert "$T/sub.crt" \
	--key "$T/sub.key" -t 'tpmid/#' -C 3 -W 30 -v >"$T/sub.out" 2>&1 ||
	fail "mosquitto_sub: $(cat "$T/sub.out")"
for id in k k384 pk; do
	grep -qx "tpmid/$id hello from $id" "$T/sub.out" || fail "no message from $id: $(cat "$T/sub.out")"
	grep -q "New client connected from 127\.0\.0\.1:.* u'client $id')" "$T/mosquitto.log" ||
		fail "the broker did not see client $id's certificate: $(cat "$T/mosquitto.log")"
done
pass "mosquitto_pub with the engine as default (P-256, P-384, PIN on slot 0) to a broker requiring client certificates"

# --- a host program: the engine as the default for everything --------------
if [ -x "${ENGINEHOST:-}" ]; then
	for uri in "${URI[k]}" "${URI[k384@0]}" "${URI[pk]}"; do
		id=${uri#*object=}
		id=${id%%;*}
		"$ENGINEHOST" "$M" "$uri" "$T/$id.pem" "pkcs11:token=$id;object=$id;type=cert" \
			"$T/$id.crt" >"$T/out" 2>&1 || fail "enginehost $uri: $(cat "$T/out")"
		grep -q "^3 signatures by .* verify" "$T/out" || fail "enginehost: $(cat "$T/out")"
		grep -q "^certificate .* loaded" "$T/out" || fail "enginehost: $(cat "$T/out")"
	done
	pass "ENGINE_set_default(ENGINE_METHOD_ALL), then EVP_DigestSign through the module and the certificate from it"
fi

stop_agent
