#!/bin/bash
# csr verified by openssl req -verify with the right subject and SANs; a
# certificate issued by a throwaway CA attached (unknown fields survive),
# a mismatching one refused.
. "$top_srcdir/tests/lib.sh"
need openssl
start_swtpm

run_ok "$TPMID" keygen w
subj='CN=web.example,O=Example\, Inc.,C=DE'
san='DNS:web.example,IP:192.0.2.1,URI:spiffe://example/web,email:ops@example.org'
run_ok "$TPMID" csr w --subject "$subj" --san "$san" --out "$T/w.csr"
openssl req -verify -noout -in "$T/w.csr" 2>"$T/err" || fail "req -verify: $(cat "$T/err")"
openssl req -text -noout -in "$T/w.csr" >"$T/csr.txt"
grep -q 'CN *= *web.example' "$T/csr.txt" || fail "subject CN: $(grep Subject: "$T/csr.txt")"
grep -q 'O *= *"Example, Inc."' "$T/csr.txt" || fail "subject O: $(grep Subject: "$T/csr.txt")"
grep -q 'C *= *DE' "$T/csr.txt" || fail "subject C: $(grep Subject: "$T/csr.txt")"
for s in 'DNS:web.example' 'IP Address:192.0.2.1' 'URI:spiffe://example/web' \
	'email:ops@example.org'; do
	grep -q "$s" "$T/csr.txt" || fail "SAN $s missing: $(cat "$T/csr.txt")"
done
grep -q 'ecdsa-with-SHA256' "$T/csr.txt" || fail "signature algorithm"
# The CSR carries the identity's key.
run_ok "$TPMID" pubkey w >"$T/w.pub"
openssl req -in "$T/w.csr" -noout -pubkey >"$T/csr.pub"
cmp -s "$T/w.pub" "$T/csr.pub" || fail "CSR public key is not the identity's"

# P-384 with a PIN, to standard output.
printf '2468\n' >"$T/pin"
run_ok "$TPMID" keygen w384 --curve p384 --pin-file "$T/pin"
run_ok "$TPMID" csr w384 --subject "CN=w384" --pin-file "$T/pin" >"$T/w384.csr"
openssl req -verify -noout -in "$T/w384.csr" 2>"$T/err" || fail "P-384 req -verify"
openssl req -text -noout -in "$T/w384.csr" | grep -q 'ecdsa-with-SHA384' ||
	fail "P-384 CSR signature algorithm"

# Bad subjects and SANs are usage errors that quote the component.
expect_status 2 "$TPMID" csr w --subject "CN=a,XYZ=b"
grep -q 'XYZ=b' "$T/err" || fail "bad subject message: $(cat "$T/err")"
expect_status 2 "$TPMID" csr w --subject "CN=a,novalue"
grep -q 'novalue' "$T/err" || fail "bad subject message: $(cat "$T/err")"
expect_status 2 "$TPMID" csr w --subject "CN=a" --san "FOO:bar"
grep -q 'FOO:bar' "$T/err" || fail "bad SAN message: $(cat "$T/err")"
expect_status 2 "$TPMID" csr w --subject "CN=a" --san "IP:999.1.1.1"
grep -q '999.1.1.1' "$T/err" || fail "bad IP message: $(cat "$T/err")"
expect_status 2 "$TPMID" csr w

# A throwaway CA signs the CSR.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -subj "/CN=Test CA" -days 2 2>/dev/null
openssl x509 -req -in "$T/w.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-out "$T/w.crt" -days 1 -copy_extensions copy 2>/dev/null ||
openssl x509 -req -in "$T/w.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-out "$T/w.crt" -days 1 2>/dev/null

# Fields tpmid does not know must survive the rewrite.
f="$TPMID_STORE/w.json"
sed -i '0,/{/s//{\n  "ztAPI": "https:\/\/ctrl.example.net:1280",\n  "x-custom": { "keep": [1, 2] },/' "$f"
grep -q '"ztAPI"' "$f" || fail "test setup: could not add ztAPI"

run_ok "$TPMID" cert w --set "$T/w.crt" --ca "$T/ca.pem"
grep -q '"cert": *"pem:-----BEGIN CERTIFICATE-----' "$f" || fail "id.cert not pem: in $(cat "$f")"
grep -q '"ca": *"pem:-----BEGIN CERTIFICATE-----' "$f" || fail "id.ca not pem: in $(cat "$f")"
grep -q '"ztAPI": *"https://ctrl.example.net:1280"' "$f" || fail "ztAPI lost: $(cat "$f")"
grep -q '"x-custom"' "$f" || fail "unknown field lost: $(cat "$f")"
grep -q '"keep"' "$f" || fail "unknown nested field lost: $(cat "$f")"
[ "$(stat -c %a "$f")" = 600 ] || fail "identity file mode after rewrite"

run_ok "$TPMID" cert w >"$T/got.crt"
[ "$(openssl x509 -in "$T/got.crt" -noout -fingerprint -sha256)" = \
  "$(openssl x509 -in "$T/w.crt" -noout -fingerprint -sha256)" ] || fail "stored cert differs"
run_ok "$TPMID" cert w --ca-only >"$T/got.ca"
openssl x509 -in "$T/got.ca" -noout || fail "stored CA does not parse"
run_ok "$TPMID" list >"$T/list"
grep -Eq '^w +ecdsa-p256 +none +- +x509 +on$' "$T/list" || fail "list: $(cat "$T/list")"
# The identity still signs after the rewrite.
printf 'x\n' >"$T/msg"
run_ok "$TPMID" sign w --in "$T/msg" --out "$T/sig"

# A certificate for another key is refused; garbage too.
expect_status 1 "$TPMID" cert w384 --set "$T/w.crt"
grep -q "does not match" "$T/err" || fail "mismatch message: $(cat "$T/err")"
grep -q '"cert"' "$TPMID_STORE/w384.json" && fail "mismatching cert was stored"
echo garbage >"$T/junk.crt"
expect_status 1 "$TPMID" cert w --set "$T/junk.crt"
grep -q "$T/junk.crt" "$T/err" || fail "garbage cert not named: $(cat "$T/err")"
expect_status 1 "$TPMID" cert w --set "$T/w.crt" --ca "$T/junk.crt"
expect_status 1 "$TPMID" cert w384
grep -q "no certificate" "$T/err" || fail "cert without one: $(cat "$T/err")"
expect_status 2 "$TPMID" cert w --ca "$T/ca.pem"

check_no_transient
pass "CSR verifies, certificate attach (matching and mismatching)"
