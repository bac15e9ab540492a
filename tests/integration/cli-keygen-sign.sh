#!/bin/bash
# keygen, sign and verify with OpenSSL for both curves, file and --digest
# mode; list/pubkey output; duplicate names refused.
. "$top_srcdir/tests/lib.sh"
need openssl
start_swtpm

printf 'hello tpmid\n' >"$T/msg"
for curve in p256 p384; do
	case $curve in
	p256) md=sha256 ssh=ecdsa-sha2-nistp256 ;;
	p384) md=sha384 ssh=ecdsa-sha2-nistp384 ;;
	esac
	run_ok "$TPMID" keygen "k$curve" --curve "$curve" >"$T/out"
	grep -q "ecdsa-$curve" "$T/out" || fail "keygen output: $(cat "$T/out")"
	run_ok "$TPMID" pubkey "k$curve" >"$T/pub.pem"
	openssl pkey -pubin -in "$T/pub.pem" -noout || fail "pubkey PEM does not parse"

	# Data mode: the file is hashed with the curve's hash.
	run_ok "$TPMID" sign "k$curve" --in "$T/msg" --force --out "$T/sig"
	openssl dgst "-$md" -verify "$T/pub.pem" -signature "$T/sig" "$T/msg" >/dev/null ||
		fail "$curve: signature does not verify"
	# Signature to standard output (not a terminal here).
	run_ok "$TPMID" sign "k$curve" --in "$T/msg" >"$T/sig2"
	openssl dgst "-$md" -verify "$T/pub.pem" -signature "$T/sig2" "$T/msg" >/dev/null ||
		fail "$curve: signature on stdout does not verify"

	# Digest mode: the file is the digest.
	openssl dgst "-$md" -binary "$T/msg" >"$T/dg"
	run_ok "$TPMID" sign "k$curve" --digest --in "$T/dg" --force --out "$T/sig3"
	openssl dgst "-$md" -verify "$T/pub.pem" -signature "$T/sig3" "$T/msg" >/dev/null ||
		fail "$curve: --digest signature does not verify"
	openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -in "$T/dg" -sigfile "$T/sig3" >/dev/null ||
		fail "$curve: pkeyutl verify failed"

	# A digest of the wrong length is refused.
	head -c 20 /dev/zero >"$T/short"
	expect_status 1 "$TPMID" sign "k$curve" --digest --in "$T/short" --force --out "$T/sig4"
	grep -q "20 bytes" "$T/err" || fail "wrong digest length message: $(cat "$T/err")"

	# DER and OpenSSH forms of the same key.
	run_ok "$TPMID" pubkey "k$curve" --format der --force --out "$T/pub.der"
	openssl pkey -pubin -inform DER -in "$T/pub.der" -out "$T/pub2.pem"
	cmp -s "$T/pub.pem" "$T/pub2.pem" || fail "$curve: DER and PEM public keys differ"
	run_ok "$TPMID" pubkey "k$curve" --format ssh >"$T/pub.ssh"
	grep -q "^$ssh AAAA[^ ]* k$curve\$" "$T/pub.ssh" || fail "ssh line: $(cat "$T/pub.ssh")"
done

run_ok "$TPMID" list >"$T/list"
grep -q '^NAME ' "$T/list" || fail "list header: $(cat "$T/list")"
grep -Eq '^kp256 +ecdsa-p256 +none +- +- +on$' "$T/list" || fail "list kp256: $(cat "$T/list")"
grep -Eq '^kp384 +ecdsa-p384 +none +- +- +on$' "$T/list" || fail "list kp384: $(cat "$T/list")"
run_ok "$TPMID" list --json >"$T/list.json"
grep -q '"name": *"kp384"' "$T/list.json" || fail "list --json: $(cat "$T/list.json")"
grep -q '"alg": *"ecdsa-p384"' "$T/list.json" || fail "list --json: $(cat "$T/list.json")"

# The identity file has the agreed shape.
f="$TPMID_STORE/kp256.json"
[ "$(stat -c %a "$f")" = 600 ] || fail "identity file mode $(stat -c %a "$f")"
grep -q 'BEGIN TSS2 PRIVATE KEY' "$f" || fail "no TSS2 key in $f"
grep -q '"parent_name": *"000b' "$f" || fail "no SHA-256 parent_name in $f"
grep -q '"alg": *"ecdsa-p256"' "$f" || fail "no alg in $f"

expect_status 1 "$TPMID" keygen kp256
grep -q "already exists" "$T/err" || fail "duplicate keygen: $(cat "$T/err")"
expect_status 2 "$TPMID" keygen "bad/name"
grep -q "not a valid identity name" "$T/err" || fail "bad name: $(cat "$T/err")"

run_ok "$TPMID" delete kp384
[ ! -e "$TPMID_STORE/kp384.json" ] || fail "delete left the file"
expect_status 1 "$TPMID" sign kp384 --in "$T/msg" --force --out "$T/sig"
grep -q "kp384" "$T/err" || fail "sign after delete: $(cat "$T/err")"

# --out to something that is not a regular file is written in place, never
# replaced by a rename (this once turned /dev/null into a regular file). A
# FIFO stands in for a device so a regression cannot harm the machine.
"$TPMID" pubkey kp256 >"$T/pub.pem"
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/fifo.out" &
reader=$!
run_ok "$TPMID" sign kp256 --in "$T/msg" --force --out "$T/fifo"
wait "$reader"
[ -p "$T/fifo" ] || fail "--out replaced a FIFO with a regular file"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/fifo.out" "$T/msg" >/dev/null ||
	fail "signature written through a FIFO does not verify"
# A symlink: the file it points to gets the output, the link stays a link.
: >"$T/real.sig"
ln -s "$T/real.sig" "$T/link.sig"
run_ok "$TPMID" sign kp256 --in "$T/msg" --force --out "$T/link.sig"
[ -L "$T/link.sig" ] || fail "--out replaced a symlink"
openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/real.sig" "$T/msg" >/dev/null ||
	fail "signature written through a symlink does not verify"
expect_status 1 "$TPMID" sign kp256 --in "$T/msg" --force --out "$T"

check_no_transient
pass "keygen/sign/verify for P-256 and P-384"
