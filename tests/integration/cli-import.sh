#!/bin/bash
# import: SEC1 and PKCS#8 (PEM and DER) EC keys sign so that the ORIGINAL
# public key verifies; a TSS2 key made by the tpm2 provider is taken as it
# is; unsupported keys and garbage are refused.
. "$top_srcdir/tests/lib.sh"
need openssl
start_swtpm

printf 'import me\n' >"$T/msg"

# SEC1 PEM, P-256 ("BEGIN EC PRIVATE KEY").
openssl ecparam -name prime256v1 -genkey -noout -out "$T/sec1.pem"
grep -q 'BEGIN EC PRIVATE KEY' "$T/sec1.pem" || fail "openssl did not write SEC1"
openssl pkey -in "$T/sec1.pem" -pubout -out "$T/sec1.pub"
run_ok "$TPMID" import i1 --key "$T/sec1.pem" >"$T/out"
grep -q "ecdsa-p256" "$T/out" || fail "import output: $(cat "$T/out")"
run_ok "$TPMID" sign i1 --in "$T/msg" --force --out "$T/sig"
openssl dgst -sha256 -verify "$T/sec1.pub" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "SEC1 import: signature does not verify with the original key"
run_ok "$TPMID" pubkey i1 >"$T/i1.pub"
cmp -s "$T/sec1.pub" "$T/i1.pub" || fail "imported public key differs from the original"

# PKCS#8 PEM, P-384.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/p8.pem"
grep -q 'BEGIN PRIVATE KEY' "$T/p8.pem" || fail "openssl did not write PKCS#8"
openssl pkey -in "$T/p8.pem" -pubout -out "$T/p8.pub"
run_ok "$TPMID" import i2 --key "$T/p8.pem" --force  # the same key as i1, in another encoding
run_ok "$TPMID" sign i2 --in "$T/msg" --force --out "$T/sig"
openssl dgst -sha384 -verify "$T/p8.pub" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "PKCS#8 P-384 import: signature does not verify with the original key"

# PKCS#8 DER, with a PIN on the imported key.
openssl pkey -in "$T/sec1.pem" -outform DER -out "$T/p8.der"
printf '4321\n' >"$T/pin"
run_ok "$TPMID" import i3 --key "$T/p8.der" --pin-file "$T/pin" --force
grep -q '"auth": *"pin"' "$TPMID_STORE/i3.json" || fail "imported key has no PIN"
run_ok "$TPMID" sign i3 --pin-file "$T/pin" --in "$T/msg" --force --out "$T/sig"
openssl dgst -sha256 -verify "$T/sec1.pub" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "DER import with PIN: signature does not verify"

# Unsupported curve and key types, garbage, missing file.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$T/k1.pem"
expect_status 1 "$TPMID" import bad1 --key "$T/k1.pem"
grep -q "secp256k1" "$T/err" || fail "secp256k1 message: $(cat "$T/err")"
openssl genpkey -algorithm ED25519 -out "$T/ed.pem"
expect_status 1 "$TPMID" import bad2 --key "$T/ed.pem"
grep -q "P-256" "$T/err" || fail "ed25519 message: $(cat "$T/err")"
echo "not a key" >"$T/junk.pem"
expect_status 1 "$TPMID" import bad3 --key "$T/junk.pem"
grep -q "$T/junk.pem" "$T/err" || fail "garbage import does not name the file: $(cat "$T/err")"
expect_status 1 "$TPMID" import bad4 --key "$T/none.pem"
grep -q "$T/none.pem" "$T/err" || fail "missing file not named: $(cat "$T/err")"
expect_status 2 "$TPMID" import bad5
for n in bad1 bad2 bad3 bad4 bad5; do
	[ ! -e "$TPMID_STORE/$n.json" ] || fail "failed import left $n"
done
expect_status 1 "$TPMID" import i1 --key "$T/sec1.pem"
grep -q "already exists" "$T/err" || fail "duplicate import: $(cat "$T/err")"

# OpenSSH private keys (issue 4): the same public key comes out, for an
# unencrypted key and for a passphrase-protected one (passphrase through
# SSH_ASKPASS, after one wrong answer).
need ssh-keygen setsid
ssh-keygen -q -t ecdsa -b 256 -N '' -C plain -f "$T/id_plain"
run_ok "$TPMID" import s1 --key "$T/id_plain"
run_ok "$TPMID" pubkey s1 --format ssh >"$T/s1.pub"
[ "$(cut -d' ' -f1,2 "$T/s1.pub")" = "$(cut -d' ' -f1,2 "$T/id_plain.pub")" ] ||
	fail "OpenSSH import: public key differs: $(cat "$T/s1.pub") vs $(cat "$T/id_plain.pub")"
ssh-keygen -q -t ecdsa -b 384 -N 'open sesame' -C enc -f "$T/id_enc"
printf '#!/bin/sh\nn=$(cat "%s/ap.n" 2>/dev/null || echo 0)\necho $((n + 1)) >"%s/ap.n"\necho "$1" >>"%s/ap.log"\n[ "$n" -eq 0 ] && echo wrong || echo "open sesame"\n' \
	"$T" "$T" "$T" >"$T/ap"
chmod +x "$T/ap"
SSH_ASKPASS="$T/ap" SSH_ASKPASS_REQUIRE=force setsid "$TPMID" import s2 --key "$T/id_enc" \
	</dev/null >/dev/null 2>"$T/err" || fail "encrypted OpenSSH import: $(cat "$T/err")"
grep -q "Enter passphrase for $T/id_enc" "$T/ap.log" || fail "passphrase prompt: $(cat "$T/ap.log")"
[ "$(cat "$T/ap.n")" -eq 2 ] || fail "askpass asked $(cat "$T/ap.n") times, expected 2"
run_ok "$TPMID" pubkey s2 --format ssh >"$T/s2.pub"
[ "$(cut -d' ' -f1,2 "$T/s2.pub")" = "$(cut -d' ' -f1,2 "$T/id_enc.pub")" ] ||
	fail "encrypted OpenSSH import: public key differs"
run_ok "$TPMID" sign s2 --in "$T/msg" --force --out "$T/sig"
ssh-keygen -e -m PKCS8 -f "$T/id_enc.pub" >"$T/enc.pem"
openssl dgst -sha384 -verify "$T/enc.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
	fail "imported OpenSSH P-384 key: signature does not verify with the original"

# A TSS2 PRIVATE KEY made by the tpm2 provider under the same SRK.
if openssl list -providers -provider tpm2 >/dev/null 2>&1; then
	openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 -out "$T/tss.pem" \
		2>"$T/err" || fail "tpm2 provider genpkey: $(cat "$T/err")"
	openssl pkey -provider tpm2 -provider default -in "$T/tss.pem" -pubout -out "$T/tss.pub"
	run_ok "$TPMID" import t1 --key "$T/tss.pem"
	grep -q 'BEGIN TSS2 PRIVATE KEY' "$TPMID_STORE/t1.json" || fail "TSS2 key not stored"
	run_ok "$TPMID" sign t1 --in "$T/msg" --force --out "$T/sig"
	openssl dgst -sha256 -verify "$T/tss.pub" -signature "$T/sig" "$T/msg" >/dev/null ||
		fail "TSS2 import: signature does not verify"
	# A key made on another TPM does not load under ours.
	main_tcti=$TPMID_TCTI main_pid=$SWTPM_PID
	start_swtpm other
	openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 -out "$T/other.pem"
	stop_swtpm
	export TPMID_TCTI="$main_tcti" TPM2TOOLS_TCTI="$main_tcti" TPM2OPENSSL_TCTI="$main_tcti"
	SWTPM_PID=$main_pid
	expect_status 1 "$TPMID" import t2 --key "$T/other.pem"
	grep -q "storage root key" "$T/err" || fail "foreign TSS2 key: $(cat "$T/err")"
	# One line, saying it once, ending in the TPM's reason (the detail used
	# to be formatted over itself: garbled and duplicated).
	[ "$(wc -l <"$T/err")" -eq 1 ] && [ "$(grep -o 'does not load' "$T/err" | wc -l)" -eq 1 ] &&
		grep -q 'does not load under this TPM.s storage root key (made on another TPM or under another parent): loading the key (TPM2_Load): ' "$T/err" ||
		fail "foreign TSS2 key: garbled message: $(cat "$T/err")"
	log "foreign TSS2 key: $(cat "$T/err")"
	[ ! -e "$TPMID_STORE/t2.json" ] || fail "foreign TSS2 key was recorded"
else
	fail "openssl tpm2 provider not available (apt-get install tpm2-openssl)"
fi

check_no_transient
pass "import of SEC1, PKCS#8 PEM/DER and TSS2 keys"
