/* EC key conversions (ec.h). Everything is OpenSSL's work; this file only
 * turns its results into tpmid errors and fresh memory. */
#include "config.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"

const EVP_MD *
ec_md(const struct curve_info *c)
{
	return c == NULL ? NULL : EVP_get_digestbyname(c->hash);
}

int
ec_pkey_curve(EVP_PKEY *pk, const struct curve_info **ret)
{
	char group[64];

	*ret = NULL;
	if (!EVP_PKEY_is_a(pk, "EC"))
		return tpmid_seterr(TPMID_E_CURVE, "%s key: only ECDSA P-256 and P-384 keys are "
		    "supported", EVP_PKEY_get0_type_name(pk));
	if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1) {
		ERR_clear_error();
		return tpmid_seterr(TPMID_E_CURVE, "EC key with explicit curve parameters: only "
		    "named P-256 and P-384 are supported");
	}
	if ((*ret = curve_by_group(group)) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "EC key on curve %s: only P-256 and P-384 are "
		    "supported", group);
	return 0;
}

static int
has(const uint8_t *data, size_t len, const char *s)
{
	return memmem(data, len, s, strlen(s)) != NULL;
}

/* What an undecodable key file is instead, so import can say so: an
 * encrypted key, a public key or a certificate are common mix-ups. */
static int
not_a_private_key(const uint8_t *data, size_t len)
{
	const unsigned char *p = data;
	X509 *x;
	EVP_PKEY *pub;

	if (has(data, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    has(data, len, "Proc-Type: 4,ENCRYPTED"))
		return tpmid_seterr(TPMID_E_FORMAT, "an encrypted private key: decrypt it first "
		    "('openssl pkey -in FILE -out plain.pem' asks for its passphrase), import "
		    "plain.pem, then remove it");
	if (has(data, len, "-----BEGIN CERTIFICATE-----") ||
	    ((x = d2i_X509(NULL, &p, (long)len)) != NULL && (X509_free(x), 1)))
		return tpmid_seterr(TPMID_E_FORMAT, "a certificate, not a private key: import "
		    "needs the private key; attach a certificate with 'tpmid cert NAME --set FILE'");
	p = data;
	if (has(data, len, "PUBLIC KEY-----") || has(data, len, "ecdsa-sha2-nistp") ||
	    ((pub = d2i_PUBKEY(NULL, &p, (long)len)) != NULL && (EVP_PKEY_free(pub), 1)))
		return tpmid_seterr(TPMID_E_FORMAT, "a public key, not a private key: import "
		    "needs the private key");
	return tpmid_seterr(TPMID_E_FORMAT, "not a TSS2 PRIVATE KEY, OpenSSH private key or "
	    "unencrypted PEM/DER (PKCS#8, SEC1) private key");
}

int
ec_privkey_decode(const uint8_t *data, size_t len, EVP_PKEY **ret)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pk = NULL;
	const unsigned char *p = data;
	const struct curve_info *c;
	size_t left = len;
	int r = 0;

	*ret = NULL;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pk, NULL, NULL, NULL,
	    OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (dctx == NULL)
		return TPMID_E_NOMEM;
	/* No passphrase callback: an encrypted key fails here ("No password
	 * method specified"); OSSL_DECODER, unlike PEM_read_bio_*(), has no
	 * terminal fallback. */
	if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pk == NULL) {
		r = not_a_private_key(data, len);
		goto out;
	}
	if ((r = ec_pkey_curve(pk, &c)) != 0)
		goto out;
	*ret = pk;
	pk = NULL;
out:
	ERR_clear_error();
	EVP_PKEY_free(pk);
	OSSL_DECODER_CTX_free(dctx);
	return r;
}

int
bio_text(BIO *bio, char **ret)
{
	char *p;
	long n;

	*ret = NULL;
	if ((n = BIO_get_mem_data(bio, &p)) <= 0)
		return TPMID_E_NOMEM;
	if ((*ret = strdup_n(p, (size_t)n)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

int
pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	/* PEM_do_header() fails with "bad password read". */
	return -1;
}

int
ec_pem_from_pkey(EVP_PKEY *pk, char **ret)
{
	BIO *bio = NULL;
	int r = TPMID_E_NOMEM;

	*ret = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, pk) != 1)
		goto out;
	r = bio_text(bio, ret);
out:
	BIO_free(bio);
	return r;
}

int
ec_pem_from_spki(const uint8_t *spki, size_t len, char **ret)
{
	const unsigned char *p = spki;
	EVP_PKEY *pk = NULL;
	int r;

	*ret = NULL;
	if (spki == NULL || len > INT32_MAX || (pk = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return tpmid_seterr(TPMID_E_FORMAT, "public key does not parse");
	}
	r = ec_pem_from_pkey(pk, ret);
	EVP_PKEY_free(pk);
	return r;
}

int
ec_spki_from_pem(const char *pem, uint8_t **ret, size_t *ret_len)
{
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char *der = NULL;
	int n, r = 0;

	*ret = NULL;
	*ret_len = 0;
	if (pem == NULL)
		return TPMID_E_FORMAT;
	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return TPMID_E_NOMEM;
	if ((pk = PEM_read_bio_PUBKEY(bio, NULL, pem_no_passphrase, NULL)) == NULL) {
		ERR_clear_error();
		r = TPMID_E_FORMAT;
		goto out;
	}
	if ((n = i2d_PUBKEY(pk, &der)) <= 0 || (*ret = malloc((size_t)n)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	memcpy(*ret, der, (size_t)n);
	*ret_len = (size_t)n;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return r;
}
