/* PKCS#10 requests signed through a callback, and certificate/key checks
 * (x509.h). The private key never exists here: the request's
 * CertificationRequestInfo is encoded, hashed and handed to the callback
 * (the TPM, in-process or through the agent), and the returned DER
 * signature is set on the request as is. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/format/ec.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"

#define COMPONENT_MAX 1024

/* Split `s` at the next unescaped `sep`. The component is copied into
 * `out` with escapes removed and surrounding blanks trimmed; `*rest` is
 * left after the separator (NULL at the end). `raw` receives the component
 * as written for error messages. */
static int
next_component(const char **rest, char sep, char *out, size_t out_size, char *raw,
    size_t raw_size)
{
	const char *p = *rest, *start = *rest;
	size_t n = 0, rn;
	int esc = 0, r = 0;

	for (; *p != '\0'; p++) {
		if (!esc && *p == '\\') {
			esc = 1;
			continue;
		}
		if (!esc && *p == sep)
			break;
		esc = 0;
		if (n + 1 >= out_size) {
			r = TPMID_E_TOOBIG; /* still fill `raw` for the message */
			break;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
	rn = (size_t)(p - start);
	if (rn >= raw_size)
		rn = raw_size - 1;
	memcpy(raw, start, rn);
	raw[rn] = '\0';
	*rest = *p == '\0' ? NULL : p + 1;
	if (r != 0)
		return r;
	if (esc)
		return TPMID_E_INVAL; /* dangling backslash */
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
x509_parse_subject(const char *s, X509_NAME **ret)
{
	X509_NAME *nm = NULL;
	ASN1_OBJECT *obj = NULL;
	char comp[COMPONENT_MAX], raw[COMPONENT_MAX];
	const char *rest = s;
	char *eq, *key, *val;
	int nid, r = 0;

	*ret = NULL;
	if (s == NULL || *s == '\0')
		return tpmid_seterr(TPMID_E_INVAL, "empty subject (expected e.g. \"CN=web,O=Example\")");
	if ((nm = X509_NAME_new()) == NULL)
		return TPMID_E_NOMEM;
	while (rest != NULL) {
		if ((r = next_component(&rest, ',', comp, sizeof(comp), raw, sizeof(raw))) != 0) {
			/* Quote only the start of an overlong one, or the message
			 * buffer cuts off the reason. */
			r = r == TPMID_E_TOOBIG ?
			    tpmid_seterr(TPMID_E_INVAL, "subject component \"%.32s...\": too long "
			    "(over %d bytes)", raw, COMPONENT_MAX - 1) :
			    tpmid_seterr(TPMID_E_INVAL, "subject component \"%s\": ends with a lone "
			    "'\\'", raw);
			goto out;
		}
		if ((eq = strchr(comp, '=')) == NULL) {
			r = tpmid_seterr(TPMID_E_INVAL, "subject component \"%s\": expected KEY=VALUE "
			    "(escape a comma in a value as '\\,')", raw);
			goto out;
		}
		*eq = '\0';
		key = trim(comp);
		val = trim(eq + 1);
		if (*val == '\0') {
			r = tpmid_seterr(TPMID_E_INVAL, "subject component \"%s\": empty value", raw);
			goto out;
		}
		/* By name or dotted OID, including OIDs OpenSSL has no name for. */
		if ((obj = OBJ_txt2obj(key, 0)) == NULL) {
			ERR_clear_error();
			r = tpmid_seterr(TPMID_E_INVAL, "subject component \"%s\": unknown attribute "
			    "\"%s\" (use CN, O, OU, C, ST, L, DC, UID, emailAddress, serialNumber "
			    "or an OID)", raw, key);
			goto out;
		}
		nid = OBJ_obj2nid(obj);
		if (X509_NAME_add_entry_by_OBJ(nm, obj, MBSTRING_UTF8, (unsigned char *)val, -1, -1,
		    0) != 1) {
			ERR_clear_error();
			r = tpmid_seterr(TPMID_E_INVAL, "subject component \"%s\": value not allowed "
			    "for %s%s", raw, nid != NID_undef ? OBJ_nid2sn(nid) : key,
			    nid == NID_countryName ? " (two letters, e.g. C=DE)" : "");
			goto out;
		}
		ASN1_OBJECT_free(obj);
		obj = NULL;
	}
	*ret = nm;
	nm = NULL;
out:
	ASN1_OBJECT_free(obj);
	X509_NAME_free(nm);
	return r;
}

int
x509_parse_san(const char *s, GENERAL_NAMES **ret)
{
	static const struct {
		const char *prefix;
		int type;
	} kinds[] = {
		{ "DNS", GEN_DNS }, { "IP", GEN_IPADD }, { "URI", GEN_URI },
		{ "email", GEN_EMAIL },
	};
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *g;
	char comp[COMPONENT_MAX], raw[COMPONENT_MAX];
	const char *rest = s;
	char *colon, *key, *val;
	size_t i;
	int r = 0;

	*ret = NULL;
	if (s == NULL || *s == '\0')
		return tpmid_seterr(TPMID_E_INVAL, "empty SAN list (expected e.g. \"DNS:web.example\")");
	if ((gens = GENERAL_NAMES_new()) == NULL)
		return TPMID_E_NOMEM;
	while (rest != NULL) {
		if ((r = next_component(&rest, ',', comp, sizeof(comp), raw, sizeof(raw))) != 0) {
			r = r == TPMID_E_TOOBIG ?
			    tpmid_seterr(TPMID_E_INVAL, "SAN \"%.32s...\": too long (over %d bytes)",
			    raw, COMPONENT_MAX - 1) :
			    tpmid_seterr(TPMID_E_INVAL, "SAN \"%s\": ends with a lone '\\'", raw);
			goto out;
		}
		if ((colon = strchr(comp, ':')) == NULL) {
			r = tpmid_seterr(TPMID_E_INVAL, "SAN \"%s\": expected TYPE:VALUE with TYPE one "
			    "of DNS, IP, URI, email", raw);
			goto out;
		}
		*colon = '\0';
		key = trim(comp);
		val = trim(colon + 1);
		for (i = 0; i < ELEMENTSOF(kinds); i++)
			if (strcasecmp(key, kinds[i].prefix) == 0)
				break;
		if (i == ELEMENTSOF(kinds)) {
			r = tpmid_seterr(TPMID_E_INVAL, "SAN \"%s\": unknown type \"%s\" (use DNS, IP, "
			    "URI or email)", raw, key);
			goto out;
		}
		if (*val == '\0' ||
		    (g = a2i_GENERAL_NAME(NULL, NULL, NULL, kinds[i].type, val, 0)) == NULL) {
			ERR_clear_error();
			r = tpmid_seterr(TPMID_E_INVAL, "SAN \"%s\": not a valid %s value", raw,
			    kinds[i].prefix);
			goto out;
		}
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			r = TPMID_E_NOMEM;
			goto out;
		}
	}
	*ret = gens;
	gens = NULL;
out:
	GENERAL_NAMES_free(gens);
	return r;
}

/* The bit string of a signature: whole bytes, no unused bits. */
static int
set_signature(X509_REQ *req, const uint8_t *der, size_t der_len)
{
	ASN1_BIT_STRING *bs;

	if (der_len > INT32_MAX || (bs = ASN1_BIT_STRING_new()) == NULL)
		return TPMID_E_NOMEM;
	if (ASN1_BIT_STRING_set(bs, (unsigned char *)der, (int)der_len) != 1) {
		ASN1_BIT_STRING_free(bs);
		return TPMID_E_NOMEM;
	}
	bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bs);
	return 0;
}

int
x509_csr_make(const uint8_t *spki, size_t spki_len, enum tpmid_curve alg,
    const char *subject, const char *san, x509_sign_fn sign, void *sign_ctx, char **ret_pem)
{
	X509_REQ *req = NULL;
	X509_NAME *nm = NULL;
	GENERAL_NAMES *gens = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_ALGOR *algor = NULL;
	EVP_PKEY *pk = NULL;
	const unsigned char *p = spki;
	unsigned char *tbs = NULL;
	uint8_t dg[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int dg_len = 0;
	size_t sig_len = 0;
	const struct curve_info *c;
	const EVP_MD *md;
	BIO *bio = NULL;
	int tbs_len, sig_nid, r;

	*ret_pem = NULL;
	if ((c = curve_get(alg)) == NULL || (md = ec_md(c)) == NULL ||
	    (sig_nid = OBJ_txt2nid(c->sig_alg)) == NID_undef)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported key algorithm");
	if ((r = x509_parse_subject(subject, &nm)) != 0)
		goto out;
	if (san != NULL && (r = x509_parse_san(san, &gens)) != 0)
		goto out;
	if (spki_len > INT32_MAX || (pk = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL) {
		r = tpmid_seterr(TPMID_E_FORMAT, "identity public key does not parse");
		goto out;
	}
	r = TPMID_E_NOMEM;
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, nm) != 1 ||
	    X509_REQ_set_pubkey(req, pk) != 1)
		goto out;
	if (gens != NULL) {
		if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1 ||
		    X509_REQ_add_extensions(req, exts) != 1)
			goto out;
	}
	if ((algor = X509_ALGOR_new()) == NULL ||
	    X509_ALGOR_set0(algor, OBJ_nid2obj(sig_nid), V_ASN1_UNDEF, NULL) != 1 ||
	    X509_REQ_set1_signature_algo(req, algor) != 1)
		goto out;
	/* RFC 2986 section 4.2: the signature covers the DER of
	 * CertificationRequestInfo; i2d_re_ re-encodes it after our edits. */
	if ((tbs_len = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0)
		goto out;
	if (EVP_Digest(tbs, (size_t)tbs_len, dg, &dg_len, md, NULL) != 1)
		goto out;
	if ((r = sign(sign_ctx, dg, dg_len, &sig, &sig_len)) != 0)
		goto out;
	if ((r = set_signature(req, sig, sig_len)) != 0)
		goto out;
	r = TPMID_E_NOMEM;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_REQ(bio, req) != 1)
		goto out;
	r = bio_text(bio, ret_pem);
out:
	if (r != 0)
		ERR_clear_error();
	BIO_free(bio);
	free(sig);
	OPENSSL_free(tbs);
	X509_ALGOR_free(algor);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(nm);
	EVP_PKEY_free(pk);
	X509_REQ_free(req);
	return r;
}

static int
cert_to_pem(X509 *x, BIO *bio)
{
	return PEM_write_bio_X509(bio, x) == 1 ? 0 : TPMID_E_NOMEM;
}

static int
read_cert(const char *cert_pem, X509 **ret)
{
	BIO *bio;

	*ret = NULL;
	if ((bio = BIO_new_mem_buf(cert_pem, -1)) == NULL)
		return TPMID_E_NOMEM;
	*ret = PEM_read_bio_X509(bio, NULL, pem_no_passphrase, NULL);
	BIO_free(bio);
	if (*ret == NULL) {
		ERR_clear_error();
		return tpmid_seterr(TPMID_E_FORMAT, "not a PEM X.509 certificate");
	}
	return 0;
}

static int
cert_vs_key(X509 *x, EVP_PKEY *pk)
{
	EVP_PKEY *cpk;

	if ((cpk = X509_get0_pubkey(x)) == NULL) {
		ERR_clear_error();
		return tpmid_seterr(TPMID_E_FORMAT, "certificate public key does not parse");
	}
	if (EVP_PKEY_eq(cpk, pk) != 1) {
		ERR_clear_error();
		return tpmid_seterr(TPMID_E_MISMATCH, "certificate does not match the key");
	}
	return 0;
}

int
x509_cert_matches(const char *cert_pem, const char *spki_pem, char **ret_norm_pem)
{
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	int r;

	if (ret_norm_pem != NULL)
		*ret_norm_pem = NULL;
	if ((r = read_cert(cert_pem, &x)) != 0)
		goto out;
	if (spki_pem == NULL || (bio = BIO_new_mem_buf(spki_pem, -1)) == NULL ||
	    (pk = PEM_read_bio_PUBKEY(bio, NULL, pem_no_passphrase, NULL)) == NULL) {
		ERR_clear_error();
		r = tpmid_seterr(TPMID_E_FORMAT, "identity public key does not parse");
		goto out;
	}
	if ((r = cert_vs_key(x, pk)) != 0)
		goto out;
	if (ret_norm_pem != NULL) {
		BIO_free(bio);
		if ((bio = BIO_new(BIO_s_mem())) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		if ((r = cert_to_pem(x, bio)) != 0 || (r = bio_text(bio, ret_norm_pem)) != 0)
			goto out;
	}
out:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	X509_free(x);
	return r;
}

int
x509_cert_matches_spki(const char *cert_pem, const uint8_t *spki, size_t spki_len)
{
	const unsigned char *p = spki;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	int r;

	if ((r = read_cert(cert_pem, &x)) != 0)
		return r;
	if (spki_len > INT32_MAX || (pk = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL) {
		ERR_clear_error();
		r = tpmid_seterr(TPMID_E_FORMAT, "identity public key does not parse");
		goto out;
	}
	r = cert_vs_key(x, pk);
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	return r;
}

int
x509_bundle_normalize(const char *pem, char **ret)
{
	BIO *in = NULL, *outb = NULL;
	X509 *x;
	int count = 0, r = 0;

	*ret = NULL;
	if ((in = BIO_new_mem_buf(pem, -1)) == NULL || (outb = BIO_new(BIO_s_mem())) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(in, NULL, pem_no_passphrase, NULL)) != NULL) {
		r = cert_to_pem(x, outb);
		X509_free(x);
		if (r != 0)
			goto out;
		count++;
	}
	/* Running out of PEM blocks ends the loop with "no start line";
	 * anything else is a broken block. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE && count > 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "CA bundle: certificate %d does not parse",
		    count + 1);
		goto out;
	}
	if (count == 0) {
		r = tpmid_seterr(TPMID_E_FORMAT, "CA bundle holds no PEM certificate");
		goto out;
	}
	r = bio_text(outb, ret);
out:
	ERR_clear_error();
	BIO_free(in);
	BIO_free(outb);
	return r;
}
