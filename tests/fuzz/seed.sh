#!/bin/sh
# Regenerate the seed corpora of the libFuzzer targets that read keys,
# certificates and identity files: valid inputs (and a few well-formed
# refusals) made by the real tools, so that every run starts inside the
# parsers instead of at their first length check.
#
#   tests/fuzz/seed.sh [SRCDIR]
#
# Writes tests/fuzz/corpus/<target>/seed-* for fuzz_x509, fuzz_sshcert,
# fuzz_sshkey, fuzz_import, fuzz_keyfile and fuzz_identity, replacing the
# seed-* files there; nothing else in the corpora is touched (kept crashers,
# earlier inputs). Needs openssl, ssh-keygen (OpenSSH 8.2 or later) and
# python3 with the cryptography module; nothing is fetched.
#
# Reproducible in content, not in bytes: the identity keys and the CA keys
# are derived from fixed labels (d = SHA-256/384(label) mod (n - 1) + 1), so
# every run certifies the same keys -- the ones tests/fuzz/fuzz.h names,
# which this script checks -- while signatures, serial numbers, validity
# dates and the ssh-keygen keys of fuzz_sshkey are new each time. The TSS2
# key files are the tpm2-openssl vectors of tests/unit/test_keyfile.c and
# variants of them (made without a TPM). OpenSSH keys that need a
# passphrase use "tpmid-fuzz" (fuzz_sshkey.c) and bcrypt at 2 rounds, under
# the fuzzing build's cap of 4 (agent/format/sshkey.h).
set -eu

src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
corpus=$src/tests/fuzz/corpus
for tool in openssl ssh-keygen python3; do
	command -v "$tool" >/dev/null || { echo "seed.sh: $tool not found" >&2; exit 1; }
done
python3 -c 'import cryptography' 2>/dev/null ||
	{ echo "seed.sh: python3 lacks the cryptography module (Debian: python3-cryptography)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
umask 077
pass=tpmid-fuzz

# --- keys derived from labels, as PKCS#8 PEM -----------------------------
python3 - "$tmp" "$src/tests/fuzz/fuzz.h" <<'EOF'
import hashlib, re, sys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as ser

tmp, header = sys.argv[1], sys.argv[2]
ORDER = {
    'secp256r1': (0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551,
                  hashlib.sha256),
    'secp384r1': (int('ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf'
                      '581a0db248b0a77aecec196accc52973', 16), hashlib.sha384),
}

def derive(label, curve):
    n, h = ORDER[curve.name]
    d = int.from_bytes(h(label.encode()).digest(), 'big') % (n - 1) + 1
    return ec.derive_private_key(d, curve)

keys = {
    'id256': ('tpmid fuzz identity P-256', ec.SECP256R1()),
    'id384': ('tpmid fuzz identity P-384', ec.SECP384R1()),
    'other256': ('tpmid fuzz other P-256', ec.SECP256R1()),
    'root': ('tpmid fuzz root CA P-256', ec.SECP256R1()),
    'inter': ('tpmid fuzz intermediate CA P-384', ec.SECP384R1()),
}
pub = {}
for name, (label, curve) in keys.items():
    k = derive(label, curve)
    with open(f'{tmp}/{name}.pem', 'wb') as f:
        f.write(k.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                ser.NoEncryption()))
    pub[name] = k.public_key().public_bytes(ser.Encoding.PEM,
                                            ser.PublicFormat.SubjectPublicKeyInfo).decode()

# The fuzzers check against the PEM in fuzz.h: it must be these keys.
text = open(header).read()
for name, var in (('id256', 'fuzz_id_p256_pem'), ('id384', 'fuzz_id_p384_pem')):
    m = re.search(var + r'\[\][^=]*=\s*((?:"[^"]*"\s*)+);', text)
    if m is None or ''.join(re.findall(r'"([^"]*)"', m.group(1))).replace('\\n', '\n') != pub[name]:
        sys.exit(f'seed.sh: {var} in fuzz.h is not the key derived from {keys[name][0]!r}')
EOF

# --- fuzz_x509: certificates and chains for the identity keys ------------
out=$corpus/fuzz_x509
mkdir -p "$out"
rm -f "$out"/seed-*
cd "$tmp"
cat >ext.cnf <<'EOF'
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, serverAuth
subjectAltName = DNS:fz.example.net, URI:spiffe://example.net/fz, IP:192.0.2.7, email:fz@example.net
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:http://ca.example.net/inter.crl
authorityInfoAccess = OCSP;URI:http://ocsp.example.net/
certificatePolicies = 1.3.6.1.4.1.99999.1
EOF
openssl req -x509 -new -key root.pem -subj "/O=tpmid fuzz/CN=root CA" -days 7300 -sha256 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out root.crt
openssl req -new -key inter.pem -subj "/O=tpmid fuzz/CN=intermediate CA" -out inter.csr
openssl x509 -req -in inter.csr -CA root.crt -CAkey root.pem -CAcreateserial -days 3650 \
	-sha256 -extfile ext.cnf -extensions inter -out inter.crt 2>/dev/null
for id in id256 id384; do
	openssl req -new -key $id.pem -subj "/O=tpmid fuzz/OU=identities/CN=fz-$id" -out $id.csr
	openssl x509 -req -in $id.csr -CA inter.crt -CAkey inter.pem -CAcreateserial -days 825 \
		-sha384 -extfile ext.cnf -extensions leaf -out $id.crt 2>/dev/null
done
openssl req -x509 -new -key id256.pem -subj "/CN=fz-self-p256" -days 365 -sha256 -out "$out/seed-self-p256.pem"
openssl req -x509 -new -key id384.pem -subj "/CN=fz-self-p384" -days 365 -sha384 -out "$out/seed-self-p384.pem"
cp id256.crt "$out/seed-leaf-p256.pem"
cp id384.crt "$out/seed-leaf-p384.pem"
cat id256.crt inter.crt root.crt >"$out/seed-chain-p256.pem"
cat inter.crt root.crt >"$out/seed-bundle-ca.pem"
# What `openssl x509 -text` writes and people paste: text, then the PEM.
openssl x509 -in id256.crt -text >"$out/seed-leaf-p256-text.pem"
# OpenZiti and OpenSSL write LF; a Windows editor writes CRLF.
sed 's/$/\r/' id384.crt >"$out/seed-leaf-p384-crlf.pem"
# Refused: OpenSSL's "TRUSTED CERTIFICATE" (a certificate plus trust
# settings) is not what PEM_read_bio_X509() reads.
openssl x509 -in id256.crt -trustout -addtrust clientAuth >"$out/seed-leaf-p256-trusted.pem"
# A public key block first: PEM readers skip blocks of other types.
{ openssl pkey -in id256.pem -pubout; cat id256.crt; } >"$out/seed-pubkey-then-cert.pem"
# Certificates for other keys: a mismatch for both identities.
openssl req -x509 -new -key other256.pem -subj "/CN=fz-other" -days 365 -out "$out/seed-other-p256.pem"
openssl genpkey -algorithm ED25519 -out ed.pem
openssl req -x509 -new -key ed.pem -subj "/CN=fz-ed25519" -days 365 -out "$out/seed-ed25519.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
openssl req -x509 -new -key rsa.pem -subj "/CN=fz-rsa" -days 365 -sha256 -out "$out/seed-rsa.pem"

# Regression input: a certificate marked encrypted (RFC 1421) made the
# agent and CLI ask for a PEM pass phrase on their terminal or stdin.
{
	echo "-----BEGIN CERTIFICATE-----"
	echo "Proc-Type: 4,ENCRYPTED"
	echo "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF"
	echo
	sed '1d' id256.crt
} >"$out/crash-pem-passphrase-prompt"

# --- fuzz_sshcert: OpenSSH certificates for the identity keys ------------
out=$corpus/fuzz_sshcert
mkdir -p "$out"
rm -f "$out"/seed-*
for id in id256 id384 other256; do
	ssh-keygen -y -f $id.pem >$id.pub
done
ssh-keygen -q -t ecdsa -b 256 -N '' -C ca-ecdsa -f ca-ecdsa
ssh-keygen -q -t ed25519 -N '' -C ca-ed25519 -f ca-ed25519
ssh-keygen -q -t rsa -b 2048 -N '' -C ca-rsa -f ca-rsa
ssh-keygen -q -t ed25519 -N '' -C user-ed25519 -f user-ed25519
cert() { # NAME CA KEY ssh-keygen-options...
	n=$1 ca=$2 key=$3
	shift 3
	cp "$key.pub" "c-$n.pub"
	ssh-keygen -q -s "$ca" -I "fz-$n" "$@" "c-$n.pub" 2>/dev/null
	cp "c-$n-cert.pub" "$out/seed-$n.pub"
}
cert user-p256 ca-ecdsa id256 -n alice,bob -V -5m:+52w -z 1
cert host-p384 ca-ecdsa id384 -h -n fz.example.net,192.0.2.7 -V +52w -z 2
cert user-p256-ed25519ca ca-ed25519 id256 -n alice -V always:forever
cert user-p384-rsaca ca-rsa id384 -n alice -z 18446744073709551615
cert opts-p256 ca-ed25519 id256 -n alice -O clear -O permit-pty \
	-O force-command=/usr/bin/true -O source-address=192.0.2.0/24,2001:db8::/32 \
	-O extension:fz@example.net=value
cert other-p256 ca-ecdsa other256 -n alice
cert user-ed25519 ca-ecdsa user-ed25519 -n alice
cp id256.pub "$out/seed-plain-p256.pub"
# ssh-keygen writes a newline; the engine keeps the first line only.
{ tr -d '\n' <"$out/seed-user-p256.pub"; printf '\r\nsecond line\n'; } >"$out/seed-user-p256-crlf.pub"
# The bare certificate blobs, for the target's binary path.
for n in user-p256 host-p384; do
	python3 -c 'import base64, sys; sys.stdout.buffer.write(base64.b64decode(open(sys.argv[1]).read().split()[1]))' \
		"$out/seed-$n.pub" >"$out/seed-blob-$n"
done

# --- fuzz_sshkey: OpenSSH private keys -----------------------------------
out=$corpus/fuzz_sshkey
mkdir -p "$out"
rm -f "$out"/seed-*
key() { # NAME ssh-keygen-options...
	n=$1
	shift
	ssh-keygen -q -C "fz-$n" "$@" -f "k-$n"
	cp "k-$n" "$out/seed-$n"
}
key p256-plain -t ecdsa -b 256 -N ''
key p384-plain -t ecdsa -b 384 -N ''
key p256-aes256-ctr -t ecdsa -b 256 -N $pass -a 2
key p384-aes256-ctr -t ecdsa -b 384 -N $pass -a 2
key p256-aes128-ctr -t ecdsa -b 256 -N $pass -a 2 -Z aes128-ctr
key p256-aes192-ctr -t ecdsa -b 256 -N $pass -a 2 -Z aes192-ctr
key p256-aes256-cbc -t ecdsa -b 256 -N $pass -a 2 -Z aes256-cbc
key p384-aes128-cbc -t ecdsa -b 384 -N $pass -a 2 -Z aes128-cbc
key p256-aes256-gcm -t ecdsa -b 256 -N $pass -a 2 -Z aes256-gcm@openssh.com
key p384-aes128-gcm -t ecdsa -b 384 -N $pass -a 2 -Z aes128-gcm@openssh.com
key p256-a1 -t ecdsa -b 256 -N $pass -a 1
# Refused, each for its own reason: rounds over the fuzzing cap (16 is
# ssh-keygen's default), a cipher we lack, key types we do not keep.
key p256-a16 -t ecdsa -b 256 -N $pass
key p256-chacha -t ecdsa -b 256 -N $pass -a 2 -Z chacha20-poly1305@openssh.com
key p521-plain -t ecdsa -b 521 -N ''
key ed25519-plain -t ed25519 -N ''
key rsa-plain -t rsa -b 1024 -N ''

# --- fuzz_import: what tpmid import passes to the engine -----------------
out=$corpus/fuzz_import
mkdir -p "$out"
rm -f "$out"/seed-*
for id in id256 id384; do
	c=${id#id}
	cp $id.pem "$out/seed-p$c-pkcs8.pem"
	openssl pkey -in $id.pem -outform DER -out "$out/seed-p$c-pkcs8.der"
	openssl ec -in $id.pem -out "$out/seed-p$c-sec1.pem" 2>/dev/null
	openssl ec -in $id.pem -outform DER -out "$out/seed-p$c-sec1.der" 2>/dev/null
done
openssl ec -in id256.pem -conv_form compressed -out "$out/seed-p256-sec1-compressed.pem" 2>/dev/null
openssl ec -in id256.pem -no_public -outform DER -out "$out/seed-p256-sec1-nopub.der" 2>/dev/null
openssl pkey -in id256.pem -text >"$out/seed-p256-pkcs8-text.pem"
# Explicit curve parameters: OpenSSL recognises P-256's and names it.
openssl ec -in id256.pem -param_enc explicit -out "$out/seed-p256-explicit.pem" 2>/dev/null
# Refused: encryption (PKCS#8 PBES2 and the old PEM header kind), a public
# key, other curves and key types.
openssl pkcs8 -topk8 -in id256.pem -v2 aes-256-cbc -iter 2 -passout pass:$pass \
	-out "$out/seed-p256-pkcs8-enc.pem"
openssl ec -in id384.pem -aes128 -passout pass:$pass -out "$out/seed-p384-sec1-enc.pem" 2>/dev/null
openssl pkey -in id256.pem -pubout -out "$out/seed-p256-pub.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$out/seed-p521-pkcs8.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$out/seed-k256-pkcs8.pem"
cp ed.pem "$out/seed-ed25519-pkcs8.pem"
openssl pkey -in rsa.pem -outform DER -out "$out/seed-rsa-pkcs8.der"

# --- fuzz_keyfile and fuzz_identity --------------------------------------
# The TSS2 vectors of test_keyfile.c, variants of them, and identity files
# as tpmid and OpenZiti write them.
python3 - "$src" "$tmp" <<'EOF'
import base64, json, re, subprocess, sys

src, tmp = sys.argv[1], sys.argv[2]
corpus = f'{src}/tests/fuzz/corpus'
text = open(f'{src}/tests/unit/test_keyfile.c').read()

def c_string(name):
    m = re.search(r'static const char ' + name + r'\[\] =\s*((?:"[^"]*"\s*)+);', text)
    return ''.join(re.findall(r'"([^"]*)"', m.group(1))).replace('\\n', '\n')

def pem(der, label='TSS2 PRIVATE KEY'):
    b = base64.b64encode(der).decode()
    return (f'-----BEGIN {label}-----\n' +
            ''.join(b[i:i + 64] + '\n' for i in range(0, len(b), 64)) +
            f'-----END {label}-----\n')

def unpem(p):
    return base64.b64decode(''.join(l for l in p.splitlines() if not l.startswith('-----')))

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body

def children(der):
    """The TLVs inside the outer SEQUENCE of `der`."""
    def read(b, i):
        tag, n = b[i], b[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(b[i:i + k], 'big')
            i += k
        return tag, b[i:i + n], i + n
    _, body, _ = read(der, 0)
    out, i = [], 0
    while i < len(body):
        tag, v, i = read(body, i)
        out.append((tag, v))
    return out

OID_LOADABLE = bytes.fromhex('0606678105 0a0103'.replace(' ', ''))
OID_IMPORTABLE = bytes.fromhex('0606678105 0a0104'.replace(' ', ''))
OID_SEALED = bytes.fromhex('0606678105 0a0105'.replace(' ', ''))

def tpmkey(pub, priv, parent=0x40000001, empty_auth=True, desc=None, oid=OID_LOADABLE):
    body = oid
    if empty_auth:
        body += tlv(0xa0, tlv(0x01, b'\xff'))
    if desc is not None:
        body += tlv(0xa4, tlv(0x0c, desc.encode()))
    p = parent.to_bytes(5, 'big').lstrip(b'\x00')
    if p[0] & 0x80:
        p = b'\x00' + p
    body += tlv(0x02, p) + tlv(0x04, pub) + tlv(0x04, priv)
    return tlv(0x30, body)

vec = {n: c_string(f'vec_{n}_pem') for n in ('p256', 'p384', 'opt')}
blobs = {}
for n in ('p256', 'p384'):
    kids = [v for t, v in children(unpem(vec[n])) if t == 0x04]
    blobs[n] = (kids[0], kids[1])

keyfiles = {
    'p256': vec['p256'],
    'p384': vec['p384'],
    'all-options': vec['opt'],
    # A key with an auth value (no emptyAuth), under a persistent SRK.
    'p256-pin-persistent-parent': pem(tpmkey(*blobs['p256'], parent=0x81000001,
                                             empty_auth=False)),
    'p384-description': pem(tpmkey(*blobs['p384'], desc='tpmid fuzz P-384 key')),
    # Well-formed, refused by type.
    'importable-oid': pem(tpmkey(*blobs['p256'], oid=OID_IMPORTABLE)),
    'sealed-oid': pem(tpmkey(*blobs['p256'], oid=OID_SEALED)),
}
for n, p in keyfiles.items():
    with open(f'{corpus}/fuzz_keyfile/seed-{n}.pem', 'w') as f:
        f.write(p)
    if n in ('p256', 'p384', 'all-options', 'p256-pin-persistent-parent'):
        with open(f'{corpus}/fuzz_keyfile/seed-{n}.der', 'wb') as f:
            f.write(unpem(p))
with open(f'{corpus}/fuzz_import/seed-tss2-p256.pem', 'w') as f:
    f.write(vec['p256'])
with open(f'{corpus}/fuzz_import/seed-tss2-p384-pin.pem', 'w') as f:
    f.write(pem(tpmkey(*blobs['p384'], empty_auth=False)))

# Identity files (store/identity.c): a "tpmid" object, with OpenZiti's "id"
# object and top-level fields around it when the identity has a cert.
def read(p):
    return open(f'{tmp}/{p}').read()

def pubkey(p):
    return subprocess.run(['openssl', 'pkey', '-in', f'{tmp}/{p}', '-pubout'],
                          check=True, capture_output=True, text=True).stdout
pub256, pub384 = pubkey('id256.pem'), pubkey('id384.pem')
leaf256, leaf384 = read('id256.crt'), read('id384.crt')
bundle = read('inter.crt') + read('root.crt')
ssh256 = read('c-user-p256-cert.pub').strip()
ssh384 = read('c-host-p384-cert.pub').strip()

def tp(name, alg='ecdsa-p256', auth='none', **kw):
    t = {'version': 1, 'name': name, 'alg': alg, 'auth': auth}
    t.update(kw)
    return t

ids = {
    'handle-only': {'tpmid': tp('fz-handle', handle='0x81000010')},
    'key-p256': {'tpmid': tp('fz-p256', key=vec['p256'], public_key=pub256)},
    'key-p384-pin': {'tpmid': tp('fz-p384', alg='ecdsa-p384', auth='pin', key=vec['p384'],
                                 parent_name='000b' + 'a1' * 32, public_key=pub384)},
    'persistent': {'tpmid': tp('fz.persist_1', key=vec['p256'], handle='0x81000001',
                               public_key=pub256)},
    'all-options-key': {'tpmid': tp('fz-opt', auth='pin', key=vec['opt'])},
    'ssh-cert': {'tpmid': tp('fz-ssh', key=vec['p256'], public_key=pub256, ssh_cert=ssh256)},
    'access': {'tpmid': tp('fz-access', handle='0x81000020', allowed_uids=[1000, 0, 4294967294],
                           allowed_gids=[100])},
    'access-empty': {'tpmid': tp('fz-access0', handle='0x81000021', allowed_uids=[],
                                 allowed_gids=[])},
    # tpmid cert --set: "id" first, as OpenZiti writes it.
    'cert': {'id': {'cert': 'pem:' + leaf256, 'ca': 'pem:' + bundle},
             'tpmid': tp('fz-cert', key=vec['p256'], public_key=pub256)},
    # An OpenZiti identity file that tpmid took over: its own fields stay.
    'ziti': {'ztAPI': 'https://ctrl.example.net:1280',
             'ztAPIs': ['https://ctrl.example.net:1280', 'https://ctrl2.example.net:1280'],
             'configTypes': None,
             'id': {'cert': 'pem:' + leaf384, 'ca': 'pem:' + bundle,
                    'key': 'pkcs11:///usr/lib/x86_64-linux-gnu/pkcs11/libtpmid-pkcs11.so?id=%01'},
             'disabled': False,
             'tpmid': tp('fz-ziti', alg='ecdsa-p384', key=vec['p384'], public_key=pub384,
                         ssh_cert=ssh384, allowed_uids=[1000],
                         **{'x-future': {'nested': [1, 2.5, 'three', None, True]}})},
    'ziti-file-refs': {'ztAPI': 'https://ctrl.example.net:1280',
                       'id': {'cert': 'file:///etc/ziti/fz.crt', 'key': 'file:///etc/ziti/fz.key',
                              'ca': 'file:///etc/ziti/ca.pem'},
                       'tpmid': tp('fz-refs', handle='0x810000ff')},
    'unicode': {'x-note': 'caf\u00e9 \u2603 \\ "quoted" \t tab',
                'tpmid': tp('fz-unicode', handle='0x81000030', **{'x-\u00e9': '\u00fc'})},
}
for n, doc in ids.items():
    with open(f'{corpus}/fuzz_identity/seed-{n}.json', 'w') as f:
        # json-c's pretty printer (identity_serialize) indents by two.
        json.dump(doc, f, indent=2, ensure_ascii=(n != 'unicode'))
        f.write('\n')
# Compact, as another program might write it.
with open(f'{corpus}/fuzz_identity/seed-compact.json', 'w') as f:
    json.dump(ids['cert'], f, separators=(',', ':'))
EOF
n=0
for t in fuzz_x509 fuzz_sshcert fuzz_sshkey fuzz_import fuzz_keyfile fuzz_identity; do
	n=$((n + $(find "$corpus/$t" -name 'seed-*' | wc -l)))
done
echo "seed.sh: $n seed files in $corpus/{fuzz_x509,fuzz_sshcert,fuzz_sshkey,fuzz_import,fuzz_keyfile,fuzz_identity}"
