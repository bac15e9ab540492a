#!/bin/bash
# Identity files that do not hang together (issue 10, Medium 7): a
# "public_key" that is not the key blob's was accepted, so signatures did
# not verify against `tpmid pubkey` and `csr` exited 0 with an invalid
# self-signature; a damaged key blob was reported as "made under another
# storage root key". Both are refused now, saying what is wrong, in agent
# and direct mode.
. "$top_srcdir/tests/lib.sh"
need python3 openssl

start_swtpm
run_ok "$TPMID" keygen a
run_ok "$TPMID" keygen b
echo data >"$T/msg"

# a's file with b's public key.
python3 - "$TPMID_STORE" <<'PY'
import json, os, sys
d = sys.argv[1]
a = json.load(open(f"{d}/a.json")); b = json.load(open(f"{d}/b.json"))
a["tpmid"]["public_key"] = b["tpmid"]["public_key"]
# a damaged copy of b: one byte of the encrypted private part flipped
import base64, re
pem = b["tpmid"]["key"]
body = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
der = bytearray(base64.b64decode(body))
der[-1] ^= 0x01          # the last byte of the private OCTET STRING
b64 = base64.b64encode(bytes(der)).decode()
c = json.loads(json.dumps(b)); c["tpmid"]["name"] = "c"
c["tpmid"]["key"] = "-----BEGIN TSS2 PRIVATE KEY-----\n" + "\n".join(
    b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END TSS2 PRIVATE KEY-----\n"
for name, doc in (("a", a), ("c", c)):
    p = f"{d}/{name}.json"
    with open(p + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
    os.chmod(p + ".tmp", 0o600)
    os.rename(p + ".tmp", p)
PY

for mode in direct agent; do
	[ $mode = agent ] && start_agent
	rm -f "$T/sig"
	expect_status 1 "$TPMID" sign a --in "$T/msg" --out "$T/sig"
	grep -q "identity 'a': tpmid.public_key is not the public key of tpmid.key" "$T/err" ||
		fail "$mode sign with a mismatched public_key: $(cat "$T/err")"
	[ ! -s "$T/sig" ] || fail "$mode: a signature was written"
	expect_status 1 "$TPMID" csr a --subject CN=a --out "$T/a.csr"
	grep -q "tpmid.public_key is not the public key" "$T/err" || fail "$mode csr: $(cat "$T/err")"
	[ ! -e "$T/a.csr" ] || fail "$mode: csr written"
	expect_status 1 "$TPMID" sign c --in "$T/msg" --out "$T/sig"
	grep -q "the key blob is damaged: the TPM's integrity check failed" "$T/err" ||
		fail "$mode sign with a damaged blob: $(cat "$T/err")"
	grep -q "another storage root key" "$T/err" && fail "$mode: damage reported as another SRK"
	log "$mode: $(cat "$T/err")"
	# b itself still works.
	run_ok "$TPMID" sign b --in "$T/msg" --out "$T/sig"
	[ $mode = agent ] && stop_agent
done
check_no_transient
pass "a public_key that is not the blob's, and a damaged blob, are refused saying so"
