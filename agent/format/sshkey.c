/* OpenSSH private keys: "openssh-key-v1" (OpenSSH PROTOCOL.key).
 *
 *   "-----BEGIN OPENSSH PRIVATE KEY-----" base64 "-----END ...-----"
 *   byte[]  "openssh-key-v1\0"
 *   string  ciphername       "none", "aes256-ctr" (ssh-keygen's default), ...
 *   string  kdfname          "none" or "bcrypt"
 *   string  kdfoptions       bcrypt: string salt, uint32 rounds
 *   uint32  number of keys   (1: ssh-keygen never writes more)
 *   string  public key       (RFC 5656 section 3.1 blob)
 *   string  private section  (encrypted with the cipher)
 *   byte[]  AEAD tag         (aes-gcm only, outside the string)
 *
 * The private section, once decrypted:
 *   uint32  checkint, uint32 checkint   (equal: the passphrase was right)
 *   string  keytype, string curve, string Q, mpint d   (ECDSA)
 *   string  comment
 *   byte[]  padding 1, 2, 3, ... to the cipher's block size
 *
 * Passphrase keys are derived with bcrypt_pbkdf (OpenBSD's bcrypt_pbkdf(3)),
 * which neither OpenSSL nor a well-kept Debian library exports: libbsd has
 * none, libssh and libssh2 keep theirs private. It is implemented below on
 * OpenSSL's Blowfish block function (BF_encrypt over a BF_KEY whose P and S
 * arrays we fill ourselves, which is what EksBlowfish needs). */
#include "config.h"

/* BF_encrypt and BF_KEY are deprecated in OpenSSL 3 but kept: EksBlowfish
 * needs the raw block function with our own key schedule, which no EVP
 * interface offers. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <ctype.h>
#include <string.h>

#include <openssl/blowfish.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "common/buf.h"
#include "common/curve.h"
#include "common/err.h"
#include "common/util.h"
#include "agent/format/sshkey.h"

#define SSHKEY_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define SSHKEY_END "-----END OPENSSH PRIVATE KEY-----"
#define SSHKEY_MAGIC "openssh-key-v1" /* followed by a NUL */
#define SSHKEY_TEXT_MAX (64 * 1024)

/* ---- bcrypt_pbkdf ------------------------------------------------------ */

#define BCRYPT_WORDS 8
#define BCRYPT_HASHSIZE (BCRYPT_WORDS * 4)
#define BF_STATE_WORDS (BF_ROUNDS + 2 + 4 * 256)

/* Blowfish's initial state is the fractional part of pi in hexadecimal
 * (Schneier, "Description of a New Variable-Length Key, 64-Bit Block
 * Cipher", 1993): P[0..17] then S[0..1023]. OpenSSL keeps its copy private,
 * so compute the 33344 bits once per parse with Machin's formula,
 * pi = 16 atan(1/5) - 4 atan(1/239), in fixed point with 64 guard bits.
 * bf_selftest() then proves the table by comparing our key schedule with
 * OpenSSL's BF_set_key(). */
static int
atan_inv_add(BIGNUM *acc, const BIGNUM *one, BN_ULONG x, int mult, BN_CTX *ctx)
{
	BIGNUM *term = BN_CTX_get(ctx), *t = BN_CTX_get(ctx), *sum = BN_CTX_get(ctx);
	BN_ULONG k;

	if (sum == NULL || BN_copy(term, one) == NULL)
		return 0;
	BN_zero(sum);
	if (BN_div_word(term, x) == (BN_ULONG)-1)
		return 0;
	for (k = 0; !BN_is_zero(term); k++) {
		if (BN_copy(t, term) == NULL || BN_div_word(t, 2 * k + 1) == (BN_ULONG)-1)
			return 0;
		if (!((k & 1) ? BN_sub(sum, sum, t) : BN_add(sum, sum, t)))
			return 0;
		if (BN_div_word(term, x * x) == (BN_ULONG)-1)
			return 0;
	}
	if (!BN_mul_word(sum, (BN_ULONG)mult))
		return 0;
	return BN_add(acc, acc, sum);
}

static int
bf_initstate(BF_KEY *st)
{
	const int bits = 32 * BF_STATE_WORDS, guard = 64;
	BN_CTX *ctx = NULL;
	BIGNUM *one, *pi, *neg;
	uint8_t *bytes = NULL;
	size_t i, nbytes = (size_t)bits / 8;
	int r = TPMID_E_NOMEM;

	if ((ctx = BN_CTX_new()) == NULL || (bytes = malloc(nbytes)) == NULL)
		goto out;
	BN_CTX_start(ctx);
	one = BN_CTX_get(ctx);
	pi = BN_CTX_get(ctx);
	neg = BN_CTX_get(ctx);
	if (neg == NULL || !BN_set_bit(one, bits + guard))
		goto out_end;
	BN_zero(pi);
	BN_zero(neg);
	if (!atan_inv_add(pi, one, 5, 16, ctx) || !atan_inv_add(neg, one, 239, 4, ctx) ||
	    !BN_sub(pi, pi, neg) || !BN_rshift(pi, pi, guard) || !BN_mask_bits(pi, bits) ||
	    BN_bn2binpad(pi, bytes, (int)nbytes) != (int)nbytes)
		goto out_end;
	for (i = 0; i < BF_STATE_WORDS; i++) {
		BF_LONG w = (BF_LONG)bytes[4 * i] << 24 | (BF_LONG)bytes[4 * i + 1] << 16 |
		    (BF_LONG)bytes[4 * i + 2] << 8 | bytes[4 * i + 3];
		if (i < BF_ROUNDS + 2)
			st->P[i] = w;
		else
			st->S[i - (BF_ROUNDS + 2)] = w;
	}
	r = 0;
out_end:
	BN_CTX_end(ctx);
out:
	free(bytes);
	BN_CTX_free(ctx);
	return r;
}

/* Next big-endian 32-bit word of `d`, read cyclically. */
static BF_LONG
stream2word(const uint8_t *d, size_t len, size_t *j)
{
	BF_LONG w = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if (*j >= len)
			*j = 0;
		w = w << 8 | d[(*j)++];
	}
	return w;
}

/* EksBlowfish ExpandKey(state, salt, key) (Provos and Mazieres, "A
 * Future-Adaptable Password Scheme", 1999); with salt NULL it is the
 * plain Blowfish key schedule applied to the current state. */
static void
bf_expand(BF_KEY *st, const uint8_t *salt, size_t salt_len, const uint8_t *key,
    size_t key_len)
{
	BF_LONG data[2] = { 0, 0 };
	size_t i, j = 0, js = 0;

	for (i = 0; i < BF_ROUNDS + 2; i++)
		st->P[i] ^= stream2word(key, key_len, &j);
	for (i = 0; i < BF_ROUNDS + 2; i += 2) {
		if (salt != NULL) {
			data[0] ^= stream2word(salt, salt_len, &js);
			data[1] ^= stream2word(salt, salt_len, &js);
		}
		BF_encrypt(data, st);
		st->P[i] = data[0];
		st->P[i + 1] = data[1];
	}
	for (i = 0; i < 4 * 256; i += 2) {
		if (salt != NULL) {
			data[0] ^= stream2word(salt, salt_len, &js);
			data[1] ^= stream2word(salt, salt_len, &js);
		}
		BF_encrypt(data, st);
		st->S[i] = data[0];
		st->S[i + 1] = data[1];
	}
}

static int
bf_selftest(const BF_KEY *init)
{
	static const uint8_t key[] = "tpmid blowfish self-test";
	BF_KEY *a, *b;
	int ok;

	if ((a = malloc(sizeof(*a))) == NULL || (b = malloc(sizeof(*b))) == NULL) {
		free(a);
		return TPMID_E_NOMEM;
	}
	*a = *init;
	bf_expand(a, NULL, 0, key, sizeof(key) - 1);
	BF_set_key(b, sizeof(key) - 1, key);
	ok = memcmp(a, b, sizeof(*a)) == 0;
	free(a);
	free(b);
	return ok ? 0 : tpmid_seterr(TPMID_E_UNSUPPORTED,
	    "bcrypt_pbkdf: Blowfish self-test failed");
}

/* bcrypt_hash(): 64 rounds of EksBlowfish setup, then 64 encryptions of
 * "OxychromaticBlowfishSwatDynamite", output words little-endian. */
static void
bcrypt_hash(const BF_KEY *init, BF_KEY *st, const uint8_t sha2pass[64],
    const uint8_t sha2salt[64], uint8_t out[BCRYPT_HASHSIZE])
{
	static const uint8_t ciphertext[BCRYPT_HASHSIZE] = "OxychromaticBlowfishSwatDynamite";
	BF_LONG cdata[BCRYPT_WORDS];
	size_t i, j = 0;
	int k;

	*st = *init;
	bf_expand(st, sha2salt, 64, sha2pass, 64);
	for (k = 0; k < 64; k++) {
		bf_expand(st, NULL, 0, sha2salt, 64);
		bf_expand(st, NULL, 0, sha2pass, 64);
	}
	for (i = 0; i < BCRYPT_WORDS; i++)
		cdata[i] = stream2word(ciphertext, sizeof(ciphertext), &j);
	for (k = 0; k < 64; k++)
		for (i = 0; i < BCRYPT_WORDS; i += 2)
			BF_encrypt(&cdata[i], st);
	for (i = 0; i < BCRYPT_WORDS; i++) {
		out[4 * i + 0] = cdata[i] & 0xff;
		out[4 * i + 1] = (cdata[i] >> 8) & 0xff;
		out[4 * i + 2] = (cdata[i] >> 16) & 0xff;
		out[4 * i + 3] = (cdata[i] >> 24) & 0xff;
	}
	explicit_bzero(cdata, sizeof(cdata));
}

int
sshkey_bcrypt_pbkdf(const uint8_t *pass, size_t pass_len, const uint8_t *salt,
    size_t salt_len, uint8_t *key, size_t key_len, unsigned rounds)
{
	uint8_t sha2pass[64], sha2salt[64], tmp[BCRYPT_HASHSIZE], out[BCRYPT_HASHSIZE];
	uint8_t *countsalt = NULL;
	BF_KEY *init = NULL, *st = NULL;
	size_t stride, amt, i, dest, left = key_len;
	uint32_t count;
	unsigned n;
	int r;

	if (rounds < 1 || pass == NULL || salt == NULL || salt_len == 0 || salt_len > 1024 ||
	    key_len == 0 || key_len > BCRYPT_HASHSIZE * BCRYPT_HASHSIZE)
		return TPMID_E_INVAL;
	if ((countsalt = malloc(salt_len + 4)) == NULL ||
	    (init = malloc(sizeof(*init))) == NULL || (st = malloc(sizeof(*st))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = bf_initstate(init)) < 0 || (r = bf_selftest(init)) < 0)
		goto out;
	memcpy(countsalt, salt, salt_len);
	/* Output bytes are spread over the blocks ("stride") so that every
	 * block must be computed to learn any part of the key. */
	stride = (key_len + sizeof(out) - 1) / sizeof(out);
	amt = (key_len + stride - 1) / stride;
	if (!EVP_Digest(pass, pass_len, sha2pass, NULL, EVP_sha512(), NULL)) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	for (count = 1; left > 0; count++) {
		countsalt[salt_len + 0] = (count >> 24) & 0xff;
		countsalt[salt_len + 1] = (count >> 16) & 0xff;
		countsalt[salt_len + 2] = (count >> 8) & 0xff;
		countsalt[salt_len + 3] = count & 0xff;
		if (!EVP_Digest(countsalt, salt_len + 4, sha2salt, NULL, EVP_sha512(), NULL)) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		bcrypt_hash(init, st, sha2pass, sha2salt, tmp);
		memcpy(out, tmp, sizeof(out));
		for (n = 1; n < rounds; n++) {
			if (!EVP_Digest(tmp, sizeof(tmp), sha2salt, NULL, EVP_sha512(), NULL)) {
				r = TPMID_E_NOMEM;
				goto out;
			}
			bcrypt_hash(init, st, sha2pass, sha2salt, tmp);
			for (i = 0; i < sizeof(out); i++)
				out[i] ^= tmp[i];
		}
		if (amt > left)
			amt = left;
		for (i = 0; i < amt; i++) {
			dest = i * stride + (count - 1);
			if (dest >= key_len)
				break;
			key[dest] = out[i];
		}
		left -= i;
	}
	r = 0;
out:
	explicit_bzero(sha2pass, sizeof(sha2pass));
	explicit_bzero(sha2salt, sizeof(sha2salt));
	explicit_bzero(tmp, sizeof(tmp));
	explicit_bzero(out, sizeof(out));
	free(countsalt);
	free(init);
	freezero(st, sizeof(*st));
	return r;
}

/* ---- ciphers ----------------------------------------------------------- */

struct ssh_cipher {
	const char *name;
	const char *evp;   /* OpenSSL cipher name; NULL for "none" */
	size_t key_len, iv_len, block, tag_len;
};

/* OpenSSH cipher.c names. chacha20-poly1305@openssh.com is OpenSSH's own
 * construction (not RFC 8439 AEAD) and is refused with a clear message. */
static const struct ssh_cipher ciphers[] = {
	{ "none", NULL, 0, 0, 8, 0 },
	{ "aes128-ctr", "AES-128-CTR", 16, 16, 16, 0 },
	{ "aes192-ctr", "AES-192-CTR", 24, 16, 16, 0 },
	{ "aes256-ctr", "AES-256-CTR", 32, 16, 16, 0 },
	{ "aes128-cbc", "AES-128-CBC", 16, 16, 16, 0 },
	{ "aes192-cbc", "AES-192-CBC", 24, 16, 16, 0 },
	{ "aes256-cbc", "AES-256-CBC", 32, 16, 16, 0 },
	{ "aes128-gcm@openssh.com", "AES-128-GCM", 16, 12, 16, 16 },
	{ "aes256-gcm@openssh.com", "AES-256-GCM", 32, 12, 16, 16 },
};

static const struct ssh_cipher *
cipher_by_name(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < ELEMENTSOF(ciphers); i++)
		if (strlen(ciphers[i].name) == len && memcmp(ciphers[i].name, p, len) == 0)
			return &ciphers[i];
	return NULL;
}

/* Decrypt `len` bytes of `in` (+ tag) into `out`. TPMID_E_BADPIN when the
 * AEAD tag does not verify (wrong passphrase). */
static int
cipher_decrypt(const struct ssh_cipher *c, const uint8_t *keyiv, const uint8_t *in,
    size_t len, const uint8_t *tag, uint8_t *out)
{
	EVP_CIPHER *ciph = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int outl = 0, fl = 0, r = TPMID_E_NOMEM;

	if (len > INT32_MAX)
		return TPMID_E_TOOBIG;
	if ((ciph = EVP_CIPHER_fetch(NULL, c->evp, NULL)) == NULL) {
		r = tpmid_seterr(TPMID_E_UNSUPPORTED, "cipher %s is not available in OpenSSL",
		    c->name);
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_DecryptInit_ex2(ctx, ciph, NULL, NULL, NULL))
		goto out;
	if (c->tag_len > 0 &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)c->iv_len, NULL))
		goto out;
	if (!EVP_DecryptInit_ex2(ctx, NULL, keyiv, keyiv + c->key_len, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0))
		goto out;
	if (!EVP_DecryptUpdate(ctx, out, &outl, in, (int)len))
		goto out;
	if (c->tag_len > 0 &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)c->tag_len, (void *)tag))
		goto out;
	if (!EVP_DecryptFinal_ex(ctx, out + outl, &fl)) {
		r = c->tag_len > 0 ? tpmid_seterr(TPMID_E_BADPIN, "wrong passphrase")
		    : tpmid_seterr(TPMID_E_FORMAT, "private key: decryption failed");
		goto out;
	}
	if ((size_t)outl + (size_t)fl != len) {
		r = tpmid_seterr(TPMID_E_FORMAT, "private key: decryption failed");
		goto out;
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(ciph);
	return r;
}

/* ---- key material ------------------------------------------------------ */

/* RFC 5656 section 3.1: Q is the uncompressed SEC1 point 04 || X || Y. */
static size_t
point_len(const struct curve_info *c)
{
	return 1 + 2 * c->field_len;
}

static int
text_eq(const uint8_t *p, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(p, s, len) == 0;
}

/* Map the key type of a public key blob (RFC 4253 section 6.6 / RFC 5656
 * section 3.1) to a supported curve, with a message that tells the user
 * what to do about the others. */
static int
keytype_curve(const uint8_t *type, size_t len, const struct curve_info **ret)
{
	size_t i;

	*ret = NULL;
	for (i = 0; i < curve_count; i++)
		if (text_eq(type, len, curve_table[i].ssh_keytype)) {
			*ret = &curve_table[i];
			return 0;
		}
	return tpmid_seterr(TPMID_E_CURVE,
	    "OpenSSH key type \"%.*s\" is not supported: tpmid keeps ECDSA NIST P-256/P-384 "
	    "keys (ssh-keygen -t ecdsa -b 256 or 384)", (int)(len > 64 ? 64 : len), type);
}

/* Check that Q is d*G on the curve and 0 < d < n, then build the key. */
static int
ec_key_build(const struct curve_info *c, const uint8_t *q, size_t q_len, const uint8_t *d,
    size_t d_len, EVP_PKEY **ret)
{
	EC_GROUP *group = NULL;
	EC_POINT *pt = NULL;
	BIGNUM *bd = NULL;
	BN_CTX *bnctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t calc[97];
	int r = TPMID_E_NOMEM;

	*ret = NULL;
	if (q_len != point_len(c) || d_len == 0 || d_len > c->field_len)
		return tpmid_seterr(TPMID_E_FORMAT, "private key: bad ECDSA key sizes");
	if ((bnctx = BN_CTX_new()) == NULL ||
	    (group = EC_GROUP_new_by_curve_name(OBJ_sn2nid(c->group))) == NULL ||
	    (pt = EC_POINT_new(group)) == NULL ||
	    (bd = BN_secure_new()) == NULL || BN_bin2bn(d, (int)d_len, bd) == NULL)
		goto out;
	if (BN_is_zero(bd) || BN_cmp(bd, EC_GROUP_get0_order(group)) >= 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "private key: ECDSA scalar out of range");
		goto out;
	}
	if (!EC_POINT_mul(group, pt, bd, NULL, NULL, bnctx) ||
	    EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, calc, sizeof(calc),
	    bnctx) != q_len)
		goto out;
	if (memcmp(calc, q, q_len) != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT,
		    "private key: the public key does not match the private key");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, q_len) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
		goto out;
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	/* Blocks from OSSL_PARAM_BLD_to_param() are wiped by OSSL_PARAM_free()
	 * (secure clear-free of the whole block, OpenSSL 3.0 params.c). */
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bd);
	EC_POINT_clear_free(pt);
	EC_GROUP_free(group);
	BN_CTX_free(bnctx);
	explicit_bzero(calc, sizeof(calc));
	return r;
}

/* ---- parsing ----------------------------------------------------------- */

static const uint8_t *
skip_space(const uint8_t *p, const uint8_t *end)
{
	while (p < end && isspace(*p))
		p++;
	return p;
}

int
sshkey_is_openssh(const uint8_t *text, size_t len)
{
	const uint8_t *p, *end = text + len;

	if (text == NULL)
		return 0;
	p = skip_space(text, end);
	return (size_t)(end - p) >= strlen(SSHKEY_BEGIN) &&
	    memcmp(p, SSHKEY_BEGIN, strlen(SSHKEY_BEGIN)) == 0;
}

/* Strip the PEM-style armour and decode the base64 body into fresh memory
 * (wiped by the caller: an unencrypted key is in there in clear). */
static int
unarmor(const uint8_t *text, size_t len, uint8_t **ret, size_t *ret_len)
{
	const uint8_t *p, *end = text + len, *body, *body_end;
	size_t i, n = 0, pad = 0, blen = strlen(SSHKEY_BEGIN), elen = strlen(SSHKEY_END);
	uint8_t *b64 = NULL, *bin = NULL;
	int dl, r;

	*ret = NULL;
	*ret_len = 0;
	p = skip_space(text, end);
	if ((size_t)(end - p) < blen || memcmp(p, SSHKEY_BEGIN, blen) != 0)
		return tpmid_seterr(TPMID_E_FORMAT, "not an OpenSSH private key");
	body = p + blen;
	for (body_end = body; (size_t)(end - body_end) >= elen; body_end++)
		if (memcmp(body_end, SSHKEY_END, elen) == 0)
			break;
	if ((size_t)(end - body_end) < elen)
		return tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: no END line");
	if (skip_space(body_end + elen, end) != end)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "OpenSSH private key: data after the END line");
	if ((b64 = malloc((size_t)(body_end - body) + 1)) == NULL)
		return TPMID_E_NOMEM;
	for (p = body; p < body_end; p++) {
		if (isspace(*p))
			continue;
		if (!isalnum(*p) && *p != '+' && *p != '/' && *p != '=') {
			r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: bad base64");
			goto out;
		}
		b64[n++] = *p;
	}
	if (n == 0 || n % 4 != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: bad base64 length");
		goto out;
	}
	if (b64[n - 1] == '=')
		pad++;
	if (b64[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (b64[i] == '=') {
			r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: bad base64");
			goto out;
		}
	if (n > INT32_MAX || (bin = malloc(n / 4 * 3 + 1)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	dl = EVP_DecodeBlock(bin, b64, (int)n);
	if (dl < 0 || (size_t)dl < pad) {
		r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: bad base64");
		goto out;
	}
	*ret = bin;
	*ret_len = (size_t)dl - pad;
	bin = NULL;
	r = 0;
out:
	freezero(b64, (size_t)(body_end - body) + 1);
	freezero(bin, n / 4 * 3 + 1);
	return r;
}

/* The decrypted private section (see the top of the file). */
static int
parse_private_section(struct tbuf *b, const struct curve_info *c, const uint8_t *pub_q,
    size_t pub_q_len, size_t block, int encrypted, EVP_PKEY **ret, char **ret_comment)
{
	const uint8_t *type, *curve, *q, *d;
	size_t type_len, curve_len, q_len, d_len, i, n;
	uint32_t check1, check2;
	char *comment = NULL;
	uint8_t pad;
	int r;

	if ((r = tbuf_get_u32(b, &check1)) < 0 || (r = tbuf_get_u32(b, &check2)) < 0)
		goto bad;
	if (check1 != check2) {
		/* PROTOCOL.key: the check integers differ when decryption used
		 * the wrong key, i.e. the wrong passphrase. */
		r = encrypted ? tpmid_seterr(TPMID_E_BADPIN, "wrong passphrase")
		    : tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: check bytes differ");
		goto out;
	}
	if (tbuf_get_string_direct(b, &type, &type_len) < 0)
		goto bad;
	if (!text_eq(type, type_len, c->ssh_keytype)) {
		r = tpmid_seterr(TPMID_E_FORMAT,
		    "OpenSSH private key: private and public key types differ");
		goto out;
	}
	if (tbuf_get_string_direct(b, &curve, &curve_len) < 0 ||
	    tbuf_get_string_direct(b, &q, &q_len) < 0 ||
	    tbuf_get_mpint_bytes(b, &d, &d_len) < 0 ||
	    tbuf_get_cstring(b, &comment, NULL) < 0)
		goto bad;
	if (!text_eq(curve, curve_len, c->ssh_curve) || q_len != pub_q_len ||
	    memcmp(q, pub_q, q_len) != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT,
		    "OpenSSH private key: private and public parts differ");
		goto out;
	}
	/* Padding: 1, 2, 3, ... less than one block. */
	n = tbuf_len(b);
	if (n >= block)
		goto bad;
	for (i = 0; i < n; i++) {
		if (tbuf_get_u8(b, &pad) < 0 || pad != (uint8_t)(i + 1))
			goto bad;
	}
	if ((r = ec_key_build(c, q, q_len, d, d_len, ret)) < 0)
		goto out;
	if (ret_comment != NULL) {
		*ret_comment = comment;
		comment = NULL;
	}
	r = 0;
	goto out;
bad:
	r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: malformed private section");
out:
	free(comment);
	return r;
}

int
sshkey_parse_private(const uint8_t *text, size_t len, const struct secret *passphrase,
    EVP_PKEY **ret, char **ret_comment)
{
	uint8_t *bin = NULL, *plain = NULL, keyiv[32 + 16];
	size_t bin_len = 0, cname_len, kname_len, enc_len = 0, salt_len, t_len, c_len, q_len;
	const uint8_t *cname, *kname, *enc, *tag = NULL, *salt, *t, *cv, *q;
	const struct ssh_cipher *cipher;
	const struct curve_info *curve;
	struct tbuf b, kdf, pub, priv;
	uint32_t nkeys, rounds = 0;
	int r;

	*ret = NULL;
	if (ret_comment != NULL)
		*ret_comment = NULL;
	if (text == NULL || len > SSHKEY_TEXT_MAX)
		return tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: too large");
	if ((r = unarmor(text, len, &bin, &bin_len)) < 0)
		return r;
	tbuf_init_view(&b, bin, bin_len);
	if (tbuf_len(&b) < sizeof(SSHKEY_MAGIC) ||
	    memcmp(tbuf_ptr(&b), SSHKEY_MAGIC, sizeof(SSHKEY_MAGIC)) != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: not openssh-key-v1");
		goto out;
	}
	(void)tbuf_consume(&b, sizeof(SSHKEY_MAGIC));
	if (tbuf_get_string_direct(&b, &cname, &cname_len) < 0 ||
	    tbuf_get_string_direct(&b, &kname, &kname_len) < 0 ||
	    tbuf_get_stringb(&b, &kdf) < 0 ||
	    tbuf_get_u32(&b, &nkeys) < 0)
		goto bad;
	if (nkeys != 1) {
		r = tpmid_seterr(TPMID_E_FORMAT,
		    "OpenSSH private key: %u keys in one file (expected 1)", nkeys);
		goto out;
	}
	if (tbuf_get_stringb(&b, &pub) < 0 || tbuf_get_string_direct(&b, &enc, &enc_len) < 0)
		goto bad;
	/* The public key says what this is before anything is decrypted, so
	 * an ed25519 or RSA key is refused without asking for a passphrase. */
	if (tbuf_get_string_direct(&pub, &t, &t_len) < 0)
		goto bad;
	if ((r = keytype_curve(t, t_len, &curve)) < 0)
		goto out;
	if (tbuf_get_string_direct(&pub, &cv, &c_len) < 0 ||
	    tbuf_get_string_direct(&pub, &q, &q_len) < 0 || tbuf_expect_end(&pub) < 0 ||
	    !text_eq(cv, c_len, curve->ssh_curve) || q_len != point_len(curve))
		goto bad;
	if ((cipher = cipher_by_name(cname, cname_len)) == NULL) {
		r = tpmid_seterr(TPMID_E_UNSUPPORTED,
		    "OpenSSH private key: cipher \"%.*s\" is not supported (re-encrypt with "
		    "ssh-keygen -p -Z aes256-ctr)", (int)(cname_len > 64 ? 64 : cname_len),
		    cname);
		goto out;
	}
	if (cipher->tag_len > 0) {
		if (tbuf_len(&b) != cipher->tag_len)
			goto bad;
		tag = tbuf_ptr(&b);
		(void)tbuf_consume(&b, cipher->tag_len);
	}
	if (tbuf_expect_end(&b) < 0 || enc_len % cipher->block != 0)
		goto bad;

	if (cipher->evp == NULL) {
		if (!text_eq(kname, kname_len, "none") || tbuf_len(&kdf) != 0)
			goto bad;
		tbuf_init_view(&priv, enc, enc_len);
	} else {
		if (!text_eq(kname, kname_len, "bcrypt")) {
			r = tpmid_seterr(TPMID_E_UNSUPPORTED,
			    "OpenSSH private key: KDF \"%.*s\" is not supported",
			    (int)(kname_len > 64 ? 64 : kname_len), kname);
			goto out;
		}
		if (tbuf_get_string_direct(&kdf, &salt, &salt_len) < 0 ||
		    tbuf_get_u32(&kdf, &rounds) < 0 || tbuf_expect_end(&kdf) < 0 ||
		    salt_len == 0 || salt_len > 1024 || rounds == 0)
			goto bad;
		/* Before the passphrase is asked for: no point in asking for a
		 * key we will not decrypt. */
		if (rounds > SSHKEY_ROUNDS_MAX) {
			r = tpmid_seterr(TPMID_E_UNSUPPORTED,
			    "OpenSSH private key: %u bcrypt rounds, more than the %u tpmid "
			    "accepts (ssh-keygen's default is 16; re-encrypt the key with "
			    "ssh-keygen -p -a 100)", rounds, SSHKEY_ROUNDS_MAX);
			goto out;
		}
		if (passphrase == NULL) {
			r = tpmid_seterr(TPMID_E_NEEDPIN,
			    "the OpenSSH private key is protected by a passphrase");
			goto out;
		}
		if ((plain = malloc(enc_len + 1)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		if ((r = sshkey_bcrypt_pbkdf(passphrase->p, passphrase->len, salt, salt_len,
		    keyiv, cipher->key_len + cipher->iv_len, rounds)) < 0 ||
		    (r = cipher_decrypt(cipher, keyiv, enc, enc_len, tag, plain)) < 0)
			goto out;
		tbuf_init_view(&priv, plain, enc_len);
	}
	r = parse_private_section(&priv, curve, q, q_len, cipher->block, cipher->evp != NULL,
	    ret, ret_comment);
	goto out;
bad:
	r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH private key: malformed openssh-key-v1 data");
out:
	explicit_bzero(keyiv, sizeof(keyiv));
	freezero(plain, enc_len + 1);
	freezero(bin, bin_len);
	return r;
}
