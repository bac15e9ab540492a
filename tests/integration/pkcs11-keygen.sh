#!/bin/bash
# Keys made through libtpmid-pkcs11.so (issue 11): C_GenerateKeyPair with
# the templates real clients send — pkcs11-tool --keypairgen (CKA_DERIVE,
# with and without --id/--label), OpenZiti's tlsuv (DECRYPT/UNWRAP and
# ENCRYPT/WRAP, a random 8-byte CKA_ID, the curve from ulMaxKeySize; and
# its certificate stored with C_CreateObject), thin-edge's create-key-hsm
# (a random 20-byte CKA_ID the key is found by afterwards) — each key then
# signs and verifies; the templates tpmid refuses, which leave nothing
# behind; the new key's PIN is the session's login PIN; only the agent's
# owner may make keys.
. "$top_srcdir/tests/lib.sh"
need pkcs11-tool openssl setpriv readelf
M=${TPMID_PKCS11:?run through make check}
C=${P11CLIENTS:?run through make check}

asan_preload "$M"
P11_ENV=(env "${ASAN_PRELOAD[@]}")
p11() { "${P11_ENV[@]}" pkcs11-tool --module "$M" "$@"; }

start_swtpm
set_da_params 32 1 1
start_agent
run_ok "$TPMID" keygen existing --no-pin
head -c 3000 /dev/urandom >"$T/msg"
identities() { "$TPMID" list --json | python3 -c 'import json,sys; print(" ".join(sorted(i["name"] for i in json.load(sys.stdin))))'; }

# --- pkcs11-tool --keypairgen -------------------------------------------------
p11 --keypairgen --key-type EC:prime256v1 --label gen256 --id 0102 >"$T/out" 2>&1 ||
	fail "keypairgen P-256: $(cat "$T/out")"
grep -q "label:      gen256" "$T/out" && grep -q "ID:         0102" "$T/out" ||
	fail "keypairgen P-256 objects: $(cat "$T/out")"
grep -q "Usage:      sign$" "$T/out" || fail "the new key may do more than sign: $(cat "$T/out")"
"$TPMID" list | grep -q "^gen256 .*ecdsa-p256 *none" || fail "gen256 is not a no-PIN identity: $("$TPMID" list)"
grep -q '"pkcs11_id": "0102"' "$TPMID_STORE/gen256.json" || fail "CKA_ID not kept in the identity file"
p11 --keypairgen --key-type EC:secp384r1 --id 0a0b0c >"$T/out" 2>&1 || fail "keypairgen P-384: $(cat "$T/out")"
gen384=$(sed -n 's/^  label: *\(pkcs11-[0-9a-f]\{16\}\)$/\1/p' "$T/out" | head -n 1)
[ -n "$gen384" ] || fail "a key without --label got no generated name: $(cat "$T/out")"
"$TPMID" list | grep -q "^$gen384 .*ecdsa-p384" || fail "$gen384 is not a P-384 identity"
# The key is found and used by the id it was given.
for k in gen256:0102:sha256 "$gen384:0a0b0c:sha384"; do
	IFS=: read -r name id h <<<"$k"
	p11 --sign --id "$id" -m "ECDSA-${h^^}" -i "$T/msg" -o "$T/sig" --signature-format openssl \
		>"$T/out" 2>&1 || fail "sign with the new key $name: $(cat "$T/out")"
	"$TPMID" pubkey "$name" >"$T/pub.pem"
	openssl dgst -"$h" -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
		fail "signature by the new key $name does not verify"
done
# After a login with a PIN on slot 0, the new key gets that PIN.
p11 --keypairgen --key-type EC:prime256v1 --label genpin --id 05 --login --pin 4321 >"$T/out" 2>&1 ||
	fail "keypairgen after login: $(cat "$T/out")"
"$TPMID" list | grep -q "^genpin .*ecdsa-p256 *pin" || fail "genpin has no PIN: $("$TPMID" list)"
p11 --sign --id 05 -m ECDSA-SHA256 -i "$T/msg" -o "$T/sig" --login --pin 4321 >"$T/out" 2>&1 ||
	fail "sign with genpin and its PIN: $(cat "$T/out")"
p11 --sign --id 05 -m ECDSA-SHA256 -i "$T/msg" -o "$T/sig" --login --pin 0000 >"$T/out" 2>&1 &&
	fail "genpin signed with another PIN"
p11 -M | grep -q "ECDSA-KEY-PAIR-GEN, keySize={256,256}, hw, generate_key_pair" ||
	fail "CKM_EC_KEY_PAIR_GEN info: $(p11 -M)"
pass "pkcs11-tool --keypairgen: P-256 and P-384, CKA_ID kept, label or generated name, the login's PIN"

# --- OpenZiti tlsuv -----------------------------------------------------------
"${P11_ENV[@]}" "$C" "$M" tlsuv-gen zt-id "" >"$T/out" 2>&1 || fail "tlsuv: $(cat "$T/out")"
grep -q "curve: 256 bits" "$T/out" || fail "tlsuv would pick another curve: $(cat "$T/out")"
"$TPMID" list | grep -q "^zt-id .*ecdsa-p256 *none" || fail "zt-id: $("$TPMID" list)"
# The certificate the controller issues, stored the way tlsuv does.
openssl ecparam -name prime256v1 -genkey -noout -out "$T/ca.key" 2>/dev/null
openssl req -x509 -new -key "$T/ca.key" -subj /CN=test-ca -days 2 -out "$T/ca.pem" 2>/dev/null
"$TPMID" csr zt-id --subject CN=zt-id >"$T/zt.csr" 2>"$T/err" || fail "csr: $(cat "$T/err")"
openssl x509 -req -in "$T/zt.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 1 \
	-outform DER -out "$T/zt.der" 2>/dev/null || fail "CA did not sign"
"${P11_ENV[@]}" "$C" "$M" tlsuv-cert zt-id "" "$T/zt.der" >"$T/out" 2>&1 || fail "tlsuv cert: $(cat "$T/out")"
openssl x509 -inform DER -in "$T/zt.der" | cmp -s - <(sed -n '/BEGIN CERT/,/END CERT/p' \
	<(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"]["cert"][4:])' \
	"$TPMID_STORE/zt-id.json")) || fail "the stored certificate is not the one tlsuv gave"
p11 --list-objects --type cert >"$T/out" 2>&1
grep -q "subject:    DN: CN=zt-id" "$T/out" || fail "pkcs11-tool does not list the certificate: $(cat "$T/out")"
pass "tlsuv's templates: P-256 picked, key used by handle and found by label; certificate stored and found by CKA_ID"

# --- thin-edge create-key-hsm --------------------------------------------------
"${P11_ENV[@]}" "$C" "$M" tedge-gen tedge "" >"$T/out" 2>&1 || fail "tedge: $(cat "$T/out")"
grep -q "^uri: pkcs11:token=tpmid;id=\(%[0-9a-f][0-9a-f]\)\{20\};object=tedge$" "$T/out" ||
	fail "tedge's key URI: $(cat "$T/out")"
pass "thin-edge's templates: a 20-byte CKA_ID, the key found by label and id, signs"

# --- refusals, nothing left behind ----------------------------------------------
before=$(identities)
"${P11_ENV[@]}" "$C" "$M" refuse existing >"$T/out" 2>&1 || fail "refusals: $(cat "$T/out")"
[ "$(identities)" = "$before" ] || fail "a refused template left an identity: $(identities)"
pass "refused templates (curve, usage, extractable, session object, read-only attributes, names) leave nothing"

# --- only the owner makes keys ---------------------------------------------------
# uid 65534 reaches the socket and a copy of the module.
mkdir "$T/bin"
cp "$M" "$T/bin/module.so"
chmod 711 "$T" "$T/run" "$T/run/tpmid"
chmod 755 "$T/bin" "$T/bin/module.so"
chmod 666 "$TPMID_SOCKET"
setpriv --reuid=65534 --regid=65534 --clear-groups "${PEER_ENV[@]}" TPMID_SOCKET="$TPMID_SOCKET" \
	"${P11_ENV[@]}" pkcs11-tool --module "$T/bin/module.so" --keypairgen --key-type EC:prime256v1 --label peer \
	>"$T/out" 2>&1 && fail "another uid made a key"
grep -q "CKR_TOKEN_WRITE_PROTECTED" "$T/out" || fail "another uid's keygen: $(cat "$T/out")"
"$TPMID" list | grep -q "^peer " && fail "another uid's keygen left an identity"
stop_agent
pass "another uid cannot make keys (CKR_TOKEN_WRITE_PROTECTED)"
