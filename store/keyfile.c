/* TSS2 PRIVATE KEY files: the ASN.1 structure of the TPM 2.0 key-file
 * convention (draft "ASN.1 Specification for TPM 2.0 Key Files",
 * J. Bottomley; as written by tpm2-openssl, tpm2-tss-engine and
 * ssh-tpm-agent), encoded and decoded with OpenSSL's ASN.1 templates.
 *
 * Only loadable keys (OID 2.23.133.10.1.3) are accepted: importable keys
 * (.4) and sealed data (.5) need a different load path and are refused with
 * a message that says so. The optional fields [1]..[3] and [5] are parsed
 * (so a malformed policy is still a format error) and kept as DER in
 * `opt_der`; a parse + encode round trip of a DER file reproduces it byte
 * for byte, including a non-canonical emptyAuth content octet (tpm2-openssl
 * writes TRUE as 0x01, X.690 section 11.1 wants 0xFF). */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "common/util.h"
#include "store/keyfile.h"

#define KEYFILE_PEM_LABEL "TSS2 PRIVATE KEY"
#define KEYFILE_PEM_BEGIN "-----BEGIN " KEYFILE_PEM_LABEL "-----"
#define OID_LOADABLE "2.23.133.10.1.3"
#define OID_IMPORTABLE "2.23.133.10.1.4"
#define OID_SEALED "2.23.133.10.1.5"
/* Base64 grows data by 4/3 plus line breaks and armour; twice the DER cap
 * bounds the PEM text of any DER we accept. */
#define KEYFILE_PEM_MAX (2 * KEYFILE_MAX)
/* DER content octet we write for TRUE (X.690 section 11.1). */
#define DER_TRUE 0xff

/* TPMPolicy ::= SEQUENCE {
 *   commandCode   [0] EXPLICIT INTEGER,
 *   commandPolicy [1] EXPLICIT OCTET STRING } */
typedef struct {
	ASN1_INTEGER *code;
	ASN1_OCTET_STRING *policy;
} TPMID_TSSPOLICY;

/* TPMAuthPolicy ::= SEQUENCE {
 *   name   [0] EXPLICIT UTF8String OPTIONAL,
 *   policy [1] EXPLICIT SEQUENCE OF TPMPolicy } */
typedef struct {
	ASN1_UTF8STRING *name;
	STACK_OF(TPMID_TSSPOLICY) *policy;
} TPMID_TSSAUTHPOLICY;

DEFINE_STACK_OF(TPMID_TSSPOLICY)
DEFINE_STACK_OF(TPMID_TSSAUTHPOLICY)

/* The whole key (see keyfile.h). ASN1_BOOLEAN fields hold -1 when absent
 * and the raw content octet otherwise, so re-encoding is exact. */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_BOOLEAN empty_auth;
	STACK_OF(TPMID_TSSPOLICY) *policy;
	ASN1_OCTET_STRING *secret;
	STACK_OF(TPMID_TSSAUTHPOLICY) *auth_policy;
	ASN1_UTF8STRING *description;
	ASN1_BOOLEAN rsa_parent;
	ASN1_INTEGER *parent;
	ASN1_OCTET_STRING *pubkey;
	ASN1_OCTET_STRING *privkey;
} TPMID_TSSPRIVKEY;

/* What `opt_der` holds: the optional fields other than the description,
 * under the same tags, wrapped in a SEQUENCE of their own. emptyAuth is
 * kept here only for its raw content octet; keyfile.empty_auth decides. */
typedef struct {
	ASN1_BOOLEAN empty_auth;
	STACK_OF(TPMID_TSSPOLICY) *policy;
	ASN1_OCTET_STRING *secret;
	STACK_OF(TPMID_TSSAUTHPOLICY) *auth_policy;
	ASN1_BOOLEAN rsa_parent;
} TPMID_TSSOPTS;

ASN1_SEQUENCE(TPMID_TSSPOLICY) = {
	ASN1_EXP(TPMID_TSSPOLICY, code, ASN1_INTEGER, 0),
	ASN1_EXP(TPMID_TSSPOLICY, policy, ASN1_OCTET_STRING, 1),
} ASN1_SEQUENCE_END(TPMID_TSSPOLICY)

ASN1_SEQUENCE(TPMID_TSSAUTHPOLICY) = {
	ASN1_EXP_OPT(TPMID_TSSAUTHPOLICY, name, ASN1_UTF8STRING, 0),
	ASN1_EXP_SEQUENCE_OF(TPMID_TSSAUTHPOLICY, policy, TPMID_TSSPOLICY, 1),
} ASN1_SEQUENCE_END(TPMID_TSSAUTHPOLICY)

ASN1_SEQUENCE(TPMID_TSSPRIVKEY) = {
	ASN1_SIMPLE(TPMID_TSSPRIVKEY, type, ASN1_OBJECT),
	ASN1_EXP_OPT(TPMID_TSSPRIVKEY, empty_auth, ASN1_BOOLEAN, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(TPMID_TSSPRIVKEY, policy, TPMID_TSSPOLICY, 1),
	ASN1_EXP_OPT(TPMID_TSSPRIVKEY, secret, ASN1_OCTET_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(TPMID_TSSPRIVKEY, auth_policy, TPMID_TSSAUTHPOLICY, 3),
	ASN1_EXP_OPT(TPMID_TSSPRIVKEY, description, ASN1_UTF8STRING, 4),
	ASN1_EXP_OPT(TPMID_TSSPRIVKEY, rsa_parent, ASN1_BOOLEAN, 5),
	ASN1_SIMPLE(TPMID_TSSPRIVKEY, parent, ASN1_INTEGER),
	ASN1_SIMPLE(TPMID_TSSPRIVKEY, pubkey, ASN1_OCTET_STRING),
	ASN1_SIMPLE(TPMID_TSSPRIVKEY, privkey, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(TPMID_TSSPRIVKEY)

ASN1_SEQUENCE(TPMID_TSSOPTS) = {
	ASN1_EXP_OPT(TPMID_TSSOPTS, empty_auth, ASN1_BOOLEAN, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(TPMID_TSSOPTS, policy, TPMID_TSSPOLICY, 1),
	ASN1_EXP_OPT(TPMID_TSSOPTS, secret, ASN1_OCTET_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(TPMID_TSSOPTS, auth_policy, TPMID_TSSAUTHPOLICY, 3),
	ASN1_EXP_OPT(TPMID_TSSOPTS, rsa_parent, ASN1_BOOLEAN, 5),
} ASN1_SEQUENCE_END(TPMID_TSSOPTS)

DECLARE_ASN1_FUNCTIONS(TPMID_TSSPOLICY)
DECLARE_ASN1_FUNCTIONS(TPMID_TSSAUTHPOLICY)
DECLARE_ASN1_FUNCTIONS(TPMID_TSSPRIVKEY)
DECLARE_ASN1_FUNCTIONS(TPMID_TSSOPTS)
IMPLEMENT_ASN1_FUNCTIONS(TPMID_TSSPOLICY)
IMPLEMENT_ASN1_FUNCTIONS(TPMID_TSSAUTHPOLICY)
IMPLEMENT_ASN1_FUNCTIONS(TPMID_TSSPRIVKEY)
IMPLEMENT_ASN1_FUNCTIONS(TPMID_TSSOPTS)

void
keyfile_free(struct keyfile *k)
{
	if (k == NULL)
		return;
	free(k->pub);
	/* The private blob is wrapped by the parent, but it is still the key:
	 * do not leave copies lying around. */
	freezero(k->priv, k->priv_len);
	free(k->description);
	free(k->opt_der);
	free(k);
}

/* A TPM2B on the wire is a big-endian u16 size followed by that many bytes
 * (TPM 2.0 Part 2, section 10.4); the OCTET STRING must hold exactly one. */
static int
check_tpm2b(const char *what, const uint8_t *p, size_t len)
{
	size_t sz;

	if (len < 2)
		return tpmid_seterr(TPMID_E_FORMAT, "%s: %zu bytes, too short for a TPM2B", what, len);
	sz = (size_t)p[0] << 8 | p[1];
	if (sz == 0)
		return tpmid_seterr(TPMID_E_FORMAT, "%s: empty TPM2B", what);
	if (sz != len - 2)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "%s: TPM2B size field says %zu bytes but %zu follow", what, sz, len - 2);
	return 0;
}

static int
dup_bytes(const uint8_t *p, size_t len, uint8_t **ret)
{
	*ret = NULL;
	if ((*ret = malloc(len > 0 ? len : 1)) == NULL)
		return TPMID_E_NOMEM;
	if (len > 0)
		memcpy(*ret, p, len);
	return 0;
}

int
keyfile_new(uint32_t parent, int empty_auth, const uint8_t *pub, size_t pub_len,
    const uint8_t *priv, size_t priv_len, struct keyfile **ret)
{
	struct keyfile *k = NULL;
	int r;

	*ret = NULL;
	if (pub == NULL || priv == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "keyfile: public and private blobs required");
	if ((r = check_tpm2b("pubkey", pub, pub_len)) < 0 ||
	    (r = check_tpm2b("privkey", priv, priv_len)) < 0)
		return r;
	if (pub_len > KEYFILE_MAX || priv_len > KEYFILE_MAX)
		return tpmid_seterr(TPMID_E_TOOBIG, "keyfile: blob larger than %d bytes", KEYFILE_MAX);
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	k->parent = parent;
	k->empty_auth = empty_auth ? 1 : 0;
	if ((r = dup_bytes(pub, pub_len, &k->pub)) < 0)
		goto out;
	k->pub_len = pub_len;
	if ((r = dup_bytes(priv, priv_len, &k->priv)) < 0)
		goto out;
	k->priv_len = priv_len;
	*ret = k;
	k = NULL;
	r = 0;
out:
	keyfile_free(k);
	return r;
}

/* Move the optional fields we keep out of a decoded key into their own
 * structure and encode that; the key no longer owns them afterwards. */
static int
opts_from_key(TPMID_TSSPRIVKEY *tk, uint8_t **ret, size_t *ret_len)
{
	TPMID_TSSOPTS *o = NULL;
	unsigned char *der = NULL;
	int n, r;

	*ret = NULL;
	*ret_len = 0;
	if (tk->empty_auth == -1 && tk->policy == NULL && tk->secret == NULL &&
	    tk->auth_policy == NULL && tk->rsa_parent == -1)
		return 0;
	if ((o = TPMID_TSSOPTS_new()) == NULL)
		return TPMID_E_NOMEM;
	o->empty_auth = tk->empty_auth;
	o->rsa_parent = tk->rsa_parent;
	o->policy = tk->policy;
	o->secret = tk->secret;
	o->auth_policy = tk->auth_policy;
	tk->policy = NULL;
	tk->secret = NULL;
	tk->auth_policy = NULL;
	if ((n = i2d_TPMID_TSSOPTS(o, &der)) <= 0) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	*ret = der;
	*ret_len = (size_t)n;
	der = NULL;
	r = 0;
out:
	OPENSSL_free(der);
	TPMID_TSSOPTS_free(o);
	return r;
}

static const char *
oid_kind(const char *oid)
{
	if (strcmp(oid, OID_IMPORTABLE) == 0)
		return " (an importable key, not a loadable key)";
	if (strcmp(oid, OID_SEALED) == 0)
		return " (sealed data, not a loadable key)";
	return " (not a TPM 2.0 loadable key)";
}

int
keyfile_parse_der(const uint8_t *der, size_t len, struct keyfile **ret)
{
	TPMID_TSSPRIVKEY *tk = NULL;
	struct keyfile *k = NULL;
	const unsigned char *p = der;
	uint64_t parent;
	uint8_t *opt = NULL;
	size_t opt_len = 0;
	char oid[128];
	int r;

	*ret = NULL;
	if (der == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "keyfile: no data");
	if (len > KEYFILE_MAX)
		return tpmid_seterr(TPMID_E_TOOBIG,
		    "TSS2 key: %zu bytes, larger than the %d byte limit", len, KEYFILE_MAX);
	if (len == 0)
		return tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: empty");
	tk = d2i_TPMID_TSSPRIVKEY(NULL, &p, (long)len);
	if (tk == NULL) {
		unsigned long e = ERR_peek_last_error();
		const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: not a valid TPMKey ASN.1 structure%s%s",
		    why != NULL ? ": " : "", why != NULL ? why : "");
		goto out;
	}
	if ((size_t)(p - der) != len) {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: %zu trailing bytes after the DER",
		    len - (size_t)(p - der));
		goto out;
	}
	if (OBJ_obj2txt(oid, sizeof(oid), tk->type, 1) <= 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: unreadable type OID");
		goto out;
	}
	if (strcmp(oid, OID_LOADABLE) != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: type OID %s%s; expected %s", oid,
		    oid_kind(oid), OID_LOADABLE);
		goto out;
	}
	/* The parent is a TPM handle (TPM 2.0 Part 2, TPM_HANDLE is UINT32):
	 * 0x40000001 for the owner hierarchy's primary, or a persistent one. */
	if (ASN1_INTEGER_get_uint64(&parent, tk->parent) != 1 || parent > UINT32_MAX) {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: parent is not a 32-bit TPM handle");
		goto out;
	}
	if ((r = check_tpm2b("TSS2 key: pubkey", tk->pubkey->data, (size_t)tk->pubkey->length)) < 0 ||
	    (r = check_tpm2b("TSS2 key: privkey", tk->privkey->data, (size_t)tk->privkey->length)) < 0)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	k->parent = (uint32_t)parent;
	/* Absent emptyAuth means FALSE: the key has an auth value. */
	k->empty_auth = tk->empty_auth != -1 && tk->empty_auth != 0;
	if ((r = dup_bytes(tk->pubkey->data, (size_t)tk->pubkey->length, &k->pub)) < 0)
		goto out;
	k->pub_len = (size_t)tk->pubkey->length;
	if ((r = dup_bytes(tk->privkey->data, (size_t)tk->privkey->length, &k->priv)) < 0)
		goto out;
	k->priv_len = (size_t)tk->privkey->length;
	if (tk->description != NULL) {
		const unsigned char *d = tk->description->data;
		size_t dlen = (size_t)tk->description->length;

		if (dlen > 0 && memchr(d, '\0', dlen) != NULL) {
			r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: description contains a NUL");
			goto out;
		}
		if ((k->description = strdup_n((const char *)d, dlen)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
	}
	if ((r = opts_from_key(tk, &opt, &opt_len)) < 0)
		goto out;
	if (opt != NULL) {
		if ((r = dup_bytes(opt, opt_len, &k->opt_der)) < 0)
			goto out;
		k->opt_der_len = opt_len;
	}
	*ret = k;
	k = NULL;
	r = 0;
out:
	/* Library code leaves no errors behind on OpenSSL's per-thread queue. */
	ERR_clear_error();
	OPENSSL_free(opt);
	TPMID_TSSPRIVKEY_free(tk);
	keyfile_free(k);
	return r;
}

static int
only_space(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)p[i]))
			return 0;
	return 1;
}

int
keyfile_is_pem(const char *text, size_t len)
{
	size_t blen = strlen(KEYFILE_PEM_BEGIN);

	if (text == NULL)
		return 0;
	while (len > 0 && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	return len >= blen && memcmp(text, KEYFILE_PEM_BEGIN, blen) == 0;
}

int
keyfile_parse_pem(const char *pem, size_t len, struct keyfile **ret)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	char *rest;
	long rest_len;
	int r;

	*ret = NULL;
	if (pem == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "keyfile: no data");
	if (len > KEYFILE_PEM_MAX)
		return tpmid_seterr(TPMID_E_TOOBIG,
		    "TSS2 key: PEM text of %zu bytes, larger than the %d byte limit", len,
		    KEYFILE_PEM_MAX);
	/* PEM_read_bio() skips any text before a BEGIN line; we do not, so a
	 * key field is one key and nothing else. */
	if (!keyfile_is_pem(pem, len))
		return tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: does not start with \"%s\"",
		    KEYFILE_PEM_BEGIN);
	/* Indentation before the BEGIN line (JSON editors...) is harmless,
	 * but PEM_read_bio() wants the line to start with the dashes. */
	while (len > 0 && isspace((unsigned char)*pem)) {
		pem++;
		len--;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_BAD_BASE64_DECODE)
			r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: bad base64 in the PEM body");
		else if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_BAD_END_LINE)
			r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: bad or missing END line");
		else
			r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: unreadable PEM%s%s",
			    e != 0 ? ": " : "", e != 0 ? ERR_reason_error_string(e) : "");
		goto out;
	}
	if (strcmp(name, KEYFILE_PEM_LABEL) != 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: PEM label \"%s\", expected \"%s\"",
		    name, KEYFILE_PEM_LABEL);
		goto out;
	}
	/* RFC 1421 headers (Proc-Type: 4,ENCRYPTED ...) have no place here. */
	if (header != NULL && header[0] != '\0') {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: unexpected PEM headers");
		goto out;
	}
	rest_len = BIO_get_mem_data(bio, &rest);
	if (rest_len > 0 && !only_space(rest, (size_t)rest_len)) {
		r = tpmid_seterr(TPMID_E_FORMAT, "TSS2 key: trailing text after the END line");
		goto out;
	}
	r = keyfile_parse_der(data, (size_t)dlen, ret);
out:
	ERR_clear_error();
	if (data != NULL)
		OPENSSL_clear_free(data, (size_t)dlen);
	OPENSSL_free(name);
	OPENSSL_free(header);
	BIO_free(bio);
	return r;
}

/* An emptyAuth field as a DER content octet, or -1 for absent. `kept` is
 * what the file had; reuse it when it still says the same thing. */
static ASN1_BOOLEAN
empty_auth_value(int empty_auth, ASN1_BOOLEAN kept)
{
	if (empty_auth)
		return (kept != -1 && kept != 0) ? kept : DER_TRUE;
	return kept == 0 ? 0 : -1;
}

int
keyfile_to_der(const struct keyfile *k, uint8_t **ret_der, size_t *ret_len)
{
	TPMID_TSSPRIVKEY *tk = NULL;
	TPMID_TSSOPTS *o = NULL;
	const unsigned char *p;
	unsigned char *der = NULL;
	ASN1_BOOLEAN kept_empty = -1;
	int n = 0, r;

	*ret_der = NULL;
	*ret_len = 0;
	if (k == NULL || k->pub == NULL || k->priv == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "keyfile: incomplete key");
	if (k->pub_len > INT32_MAX || k->priv_len > INT32_MAX || k->opt_der_len > INT32_MAX)
		return tpmid_seterr(TPMID_E_TOOBIG, "keyfile: blob too large");
	if ((tk = TPMID_TSSPRIVKEY_new()) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if (k->opt_der != NULL) {
		p = k->opt_der;
		o = d2i_TPMID_TSSOPTS(NULL, &p, (long)k->opt_der_len);
		if (o == NULL || (size_t)(p - k->opt_der) != k->opt_der_len) {
			r = tpmid_seterr(TPMID_E_INVAL, "keyfile: corrupt optional fields");
			goto out;
		}
		kept_empty = o->empty_auth;
		tk->rsa_parent = o->rsa_parent;
		tk->policy = o->policy;
		tk->secret = o->secret;
		tk->auth_policy = o->auth_policy;
		o->policy = NULL;
		o->secret = NULL;
		o->auth_policy = NULL;
	}
	tk->empty_auth = empty_auth_value(k->empty_auth, kept_empty);
	/* TPMID_TSSPRIVKEY_new() allocated the required fields already; the
	 * type starts out as the static undefined object. */
	if ((tk->type = OBJ_txt2obj(OID_LOADABLE, 1)) == NULL ||
	    ASN1_INTEGER_set_uint64(tk->parent, k->parent) != 1 ||
	    ASN1_OCTET_STRING_set(tk->pubkey, k->pub, (int)k->pub_len) != 1 ||
	    ASN1_OCTET_STRING_set(tk->privkey, k->priv, (int)k->priv_len) != 1) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if (k->description != NULL) {
		if ((tk->description = ASN1_UTF8STRING_new()) == NULL ||
		    ASN1_STRING_set(tk->description, k->description, -1) != 1) {
			r = TPMID_E_NOMEM;
			goto out;
		}
	}
	if ((n = i2d_TPMID_TSSPRIVKEY(tk, &der)) <= 0) {
		r = tpmid_seterr(TPMID_E_NOMEM, "keyfile: DER encoding failed");
		goto out;
	}
	if ((size_t)n > KEYFILE_MAX) {
		r = tpmid_seterr(TPMID_E_TOOBIG, "keyfile: %d bytes, larger than the %d byte limit",
		    n, KEYFILE_MAX);
		goto out;
	}
	/* Hand out malloc() memory, not OPENSSL_malloc(), so callers free(). */
	if ((r = dup_bytes(der, (size_t)n, ret_der)) < 0)
		goto out;
	*ret_len = (size_t)n;
	r = 0;
out:
	ERR_clear_error();
	if (der != NULL)
		OPENSSL_clear_free(der, n > 0 ? (size_t)n : 0);
	TPMID_TSSOPTS_free(o);
	TPMID_TSSPRIVKEY_free(tk);
	return r;
}

int
keyfile_to_pem(const struct keyfile *k, char **ret_pem)
{
	BIO *bio = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char *mem, *pem;
	long mem_len;
	int r;

	*ret_pem = NULL;
	if ((r = keyfile_to_der(k, &der, &der_len)) < 0)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	/* Same writer tpm2-openssl uses: 64-column base64, no headers. */
	if (PEM_write_bio(bio, KEYFILE_PEM_LABEL, "", der, (long)der_len) <= 0) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((mem_len = BIO_get_mem_data(bio, &mem)) <= 0) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((pem = strdup_n(mem, (size_t)mem_len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	*ret_pem = pem;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	freezero(der, der_len);
	return r;
}
