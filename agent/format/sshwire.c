/* SSH wire formats for ECDSA keys and OpenSSH certificates.
 *
 *  - RFC 4251 section 5: string, mpint.
 *  - RFC 5656 section 3.1: the ECDSA public key blob
 *      string "ecdsa-sha2-" || curve, string curve, string Q (SEC1 uncompressed)
 *  - RFC 5656 section 3.1.2: the ECDSA signature blob
 *      string "ecdsa-sha2-" || curve, string (mpint r || mpint s)
 *  - OpenSSH PROTOCOL.certkeys: the ECDSA certificate blob.
 *
 * Keys reach this file as DER SubjectPublicKeyInfo (what the store and the
 * engine carry); OpenSSL decodes them, so nothing here hand-parses DER. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/format/sshwire.h"
#include "common/err.h"
#include "common/util.h"

#define SSHWIRE_Q_MAX 97 /* 04 || X || Y for P-384 */
#define SSHWIRE_LINE_MAX (64 * 1024)

/* RFC 5656 section 3.1: Q is the uncompressed SEC1 point 04 || X || Y. */
static size_t
point_len(const struct curve_info *c)
{
	return 1 + 2 * c->field_len;
}

static int
str_eq(const uint8_t *p, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(p, s, len) == 0;
}

const char *
sshwire_keytype(enum tpmid_curve alg)
{
	const struct curve_info *c = curve_get(alg);

	return c == NULL ? NULL : c->ssh_keytype;
}

const char *
sshwire_certtype(enum tpmid_curve alg)
{
	const struct curve_info *c = curve_get(alg);

	return c == NULL ? NULL : c->ssh_certtype;
}

/* Decode a DER SPKI into its curve and uncompressed point Q. */
static int
spki_decode(const uint8_t *spki, size_t spki_len, const struct curve_info **ret_curve,
    uint8_t *q, size_t *ret_q_len)
{
	const unsigned char *p = spki;
	EVP_PKEY *pkey = NULL;
	char group[64];
	size_t glen = 0, qlen = 0;
	const struct curve_info *c = NULL;
	int r;

	*ret_curve = NULL;
	*ret_q_len = 0;
	if (spki == NULL || spki_len == 0 || spki_len > 4096)
		return tpmid_seterr(TPMID_E_FORMAT, "public key: empty or oversized");
	if ((pkey = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL ||
	    p != spki + spki_len) {
		r = tpmid_seterr(TPMID_E_FORMAT, "public key: not a DER SubjectPublicKeyInfo");
		goto out;
	}
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), &glen)) {
		r = tpmid_seterr(TPMID_E_CURVE, "public key: not an EC key on a named curve");
		goto out;
	}
	if ((c = curve_by_group(group)) == NULL) {
		r = tpmid_seterr(TPMID_E_CURVE, "public key: curve %s (use NIST P-256 or P-384)",
		    group);
		goto out;
	}
	/* RFC 5656 section 3.1 uses the uncompressed SEC1 point; an SPKI may
	 * carry a compressed one, so ask OpenSSL for the uncompressed form. */
	if (!EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) ||
	    !EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, q, SSHWIRE_Q_MAX,
	    &qlen) || qlen != point_len(c) || q[0] != 0x04) {
		r = tpmid_seterr(TPMID_E_FORMAT, "public key: cannot encode the EC point");
		goto out;
	}
	*ret_curve = c;
	*ret_q_len = qlen;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	return r;
}

int
sshwire_pubkey_blob(const uint8_t *spki, size_t spki_len, struct tbuf *out)
{
	const struct curve_info *c;
	uint8_t q[SSHWIRE_Q_MAX];
	size_t qlen;
	int r;

	if ((r = spki_decode(spki, spki_len, &c, q, &qlen)) < 0)
		return r;
	if ((r = tbuf_put_cstring(out, c->ssh_keytype)) < 0 ||
	    (r = tbuf_put_cstring(out, c->ssh_curve)) < 0 ||
	    (r = tbuf_put_string(out, q, qlen)) < 0)
		return r;
	return 0;
}

static char *
b64_encode(const uint8_t *p, size_t len)
{
	char *s;

	if (len > INT32_MAX / 2)
		return NULL;
	if ((s = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, p, (int)len);
	return s;
}

int
sshwire_pubkey_line(const uint8_t *spki, size_t spki_len, const char *comment, char **ret)
{
	struct tbuf *blob = NULL;
	const struct curve_info *c;
	uint8_t q[SSHWIRE_Q_MAX];
	size_t qlen, n;
	char *b64 = NULL, *line = NULL;
	int r;

	*ret = NULL;
	if ((r = spki_decode(spki, spki_len, &c, q, &qlen)) < 0)
		return r;
	if ((blob = tbuf_new(1024)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = sshwire_pubkey_blob(spki, spki_len, blob)) < 0)
		goto out;
	if ((b64 = b64_encode(tbuf_ptr(blob), tbuf_len(blob))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if (comment != NULL && *comment == '\0')
		comment = NULL;
	n = strlen(c->ssh_keytype) + 1 + strlen(b64) + (comment ? 1 + strlen(comment) : 0) + 1;
	if ((line = malloc(n)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	snprintf(line, n, "%s %s%s%s", c->ssh_keytype, b64, comment ? " " : "",
	    comment ? comment : "");
	*ret = line;
	line = NULL;
	r = 0;
out:
	free(line);
	free(b64);
	tbuf_free(blob);
	return r;
}

/* "type base64 [comment]": the format of id_*.pub, *-cert.pub and
 * authorized_keys lines without options (sshd(8) AUTHORIZED_KEYS FILE
 * FORMAT). The blob's own leading type string must equal the line's type
 * word, as ssh-keygen checks. */
int
sshwire_line_blob(const char *line, uint8_t **ret, size_t *ret_len)
{
	const char *type, *b64;
	size_t type_len, b64_len, pad = 0, n;
	uint8_t *blob = NULL;
	struct tbuf v;
	const uint8_t *inner;
	size_t inner_len;
	int dl, r;

	*ret = NULL;
	*ret_len = 0;
	if (line == NULL)
		return TPMID_E_INVAL;
	if (strlen(line) > SSHWIRE_LINE_MAX)
		return tpmid_seterr(TPMID_E_TOOBIG, "OpenSSH key line longer than %d bytes",
		    SSHWIRE_LINE_MAX);
	while (isspace((unsigned char)*line))
		line++;
	type = line;
	while (*line != '\0' && !isspace((unsigned char)*line))
		line++;
	type_len = (size_t)(line - type);
	while (*line != '\0' && isspace((unsigned char)*line))
		line++;
	b64 = line;
	while (*line != '\0' && !isspace((unsigned char)*line))
		line++;
	b64_len = (size_t)(line - b64);
	if (type_len == 0 || b64_len == 0 || b64_len % 4 != 0)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "not an OpenSSH public key line (\"TYPE BASE64 [COMMENT]\")");
	/* EVP_DecodeBlock() decodes padding as zero bytes and counts them;
	 * strip them ourselves (at most two '=' and only at the end). */
	if (b64[b64_len - 1] == '=')
		pad++;
	if (b64[b64_len - 2] == '=')
		pad++;
	for (n = 0; n < b64_len - pad; n++)
		if (b64[n] == '=')
			return tpmid_seterr(TPMID_E_FORMAT, "OpenSSH key line: bad base64");
	if ((blob = malloc(b64_len / 4 * 3 + 1)) == NULL)
		return TPMID_E_NOMEM;
	dl = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)b64_len);
	if (dl < 0 || (size_t)dl < pad) {
		r = tpmid_seterr(TPMID_E_FORMAT, "OpenSSH key line: bad base64");
		goto out;
	}
	n = (size_t)dl - pad;
	tbuf_init_view(&v, blob, n);
	if (tbuf_get_string_direct(&v, &inner, &inner_len) < 0 ||
	    inner_len != type_len || memcmp(inner, type, type_len) != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT,
		    "OpenSSH key line: key type \"%.*s\" does not match the key blob",
		    (int)(type_len > 64 ? 64 : type_len), type);
		goto out;
	}
	*ret = blob;
	*ret_len = n;
	blob = NULL;
	r = 0;
out:
	free(blob);
	return r;
}

int
sshwire_sig_from_der(enum tpmid_curve alg, const uint8_t *der, size_t der_len,
    struct tbuf *out)
{
	const struct curve_info *c = curve_get(alg);
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *br, *bs;
	uint8_t rb[SSHWIRE_Q_MAX], sb[SSHWIRE_Q_MAX], inner[2 * (4 + 1 + SSHWIRE_Q_MAX)];
	struct tbuf *ib = NULL;
	int rl, sl, r;

	if (c == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "no SSH signature format for this key type");
	if (der == NULL || der_len == 0 || der_len > 256 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL || p != der + der_len) {
		r = tpmid_seterr(TPMID_E_FORMAT, "malformed DER ECDSA signature");
		goto out;
	}
	ECDSA_SIG_get0(sig, &br, &bs);
	if (BN_is_negative(br) || BN_is_negative(bs) || BN_is_zero(br) || BN_is_zero(bs) ||
	    (rl = BN_num_bytes(br)) > (int)c->field_len ||
	    (sl = BN_num_bytes(bs)) > (int)c->field_len) {
		r = tpmid_seterr(TPMID_E_FORMAT, "ECDSA signature values out of range");
		goto out;
	}
	BN_bn2bin(br, rb);
	BN_bn2bin(bs, sb);
	/* RFC 5656 section 3.1.2: ecdsa_signature_blob = mpint r || mpint s,
	 * carried as a string after the key type. */
	if ((ib = tbuf_new(sizeof(inner))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = tbuf_put_mpint_bytes(ib, rb, (size_t)rl)) < 0 ||
	    (r = tbuf_put_mpint_bytes(ib, sb, (size_t)sl)) < 0 ||
	    (r = tbuf_put_cstring(out, c->ssh_keytype)) < 0 ||
	    (r = tbuf_put_stringb(out, ib)) < 0)
		goto out;
	r = 0;
out:
	tbuf_free(ib);
	ECDSA_SIG_free(sig);
	return r;
}

/* PROTOCOL.certkeys, ECDSA certificate:
 *   string  "ecdsa-sha2-nistpNNN-cert-v01@openssh.com"
 *   string  nonce
 *   string  curve
 *   string  public_key (Q)
 *   uint64  serial
 *   uint32  type
 *   string  key id
 *   string  valid principals
 *   uint64  valid after
 *   uint64  valid before
 *   string  critical options
 *   string  extensions
 *   string  reserved
 *   string  signature key
 *   string  signature
 * The whole structure is walked so a truncated or padded blob is refused;
 * the CA signature is sshd's to check, not ours. */
int
sshwire_cert_matches(const uint8_t *cert_blob, size_t cert_len, const uint8_t *spki,
    size_t spki_len)
{
	const struct curve_info *c = NULL, *kc;
	const uint8_t *type, *nonce, *curve, *q, *s;
	size_t type_len, nonce_len, curve_len, q_len, s_len, i;
	uint8_t kq[SSHWIRE_Q_MAX];
	size_t kq_len;
	uint64_t u64;
	uint32_t u32;
	struct tbuf b;
	int r;

	if (cert_blob == NULL)
		return TPMID_E_INVAL;
	tbuf_init_view(&b, cert_blob, cert_len);
	if (tbuf_get_string_direct(&b, &type, &type_len) < 0)
		goto bad;
	for (i = 0; i < curve_count; i++)
		if (str_eq(type, type_len, curve_table[i].ssh_certtype))
			c = &curve_table[i];
	if (c == NULL)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "not an ecdsa-sha2-nistp256/384 OpenSSH certificate");
	if (tbuf_get_string_direct(&b, &nonce, &nonce_len) < 0 ||
	    tbuf_get_string_direct(&b, &curve, &curve_len) < 0 ||
	    tbuf_get_string_direct(&b, &q, &q_len) < 0 ||
	    tbuf_get_u64(&b, &u64) < 0 ||          /* serial */
	    tbuf_get_u32(&b, &u32) < 0 ||          /* type */
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* key id */
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* principals */
	    tbuf_get_u64(&b, &u64) < 0 ||          /* valid after */
	    tbuf_get_u64(&b, &u64) < 0 ||          /* valid before */
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* critical options */
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* extensions */
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* reserved */
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* signature key */
	    s_len == 0 ||
	    tbuf_get_string_direct(&b, &s, &s_len) < 0 ||   /* signature */
	    s_len == 0 || tbuf_expect_end(&b) < 0)
		goto bad;
	if (u32 != 1 && u32 != 2)
		goto bad;
	if (!str_eq(curve, curve_len, c->ssh_curve) || q_len != point_len(c) || q[0] != 0x04)
		goto bad;
	if ((r = spki_decode(spki, spki_len, &kc, kq, &kq_len)) < 0)
		return r;
	if (kc != c || kq_len != q_len || memcmp(kq, q, q_len) != 0)
		return tpmid_seterr(TPMID_E_MISMATCH,
		    "the OpenSSH certificate certifies another key");
	return 0;
bad:
	return tpmid_seterr(TPMID_E_FORMAT, "malformed OpenSSH certificate");
}
