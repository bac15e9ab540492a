/* tss/import.c: bringing a key made outside the TPM under the SRK with
 * TPM2_Import (Part 3 §13.3).
 *
 * The private scalar never crosses the bus in clear: it travels inside the
 * inner duplication wrapper of Part 1 §23.3.2.3, whose symmetric key goes
 * to the TPM parameter-encrypted in a session salted with the SRK. */
#include "config.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/tpm-private.h"

static int
pkey_curve(EVP_PKEY *k, enum tpmid_curve *ret)
{
	const struct curve_info *c;
	char name[64];

	*ret = CURVE_NONE;
	if (!EVP_PKEY_is_a(k, "EC"))
		return tpmid_seterr(TPMID_E_CURVE, "not an EC private key (use NIST P-256 or P-384)");
	if (!EVP_PKEY_get_group_name(k, name, sizeof(name), NULL))
		return tpmid_seterr(TPMID_E_CURVE, "EC key without a named curve (explicit parameters "
		    "are not supported; use NIST P-256 or P-384)");
	if ((c = curve_by_group(name)) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported curve %s (use NIST P-256 or P-384)", name);
	*ret = c->id;
	return 0;
}

static int
bn_to_param(const BIGNUM *bn, size_t len, TPM2B_ECC_PARAMETER *out)
{
	memset(out, 0, sizeof(*out));
	if (len > sizeof(out->buffer) || BN_num_bytes(bn) > (int)len ||
	    BN_bn2binpad(bn, out->buffer, (int)len) < 0)
		return tpmid_seterr(TPMID_E_FORMAT, "EC key component larger than the curve");
	out->size = (UINT16)len;
	return 0;
}

/* Build the inner duplication wrapper of Part 1 §23.3.2.3 for TPM2_Import
 * without an outer wrapper (inSymSeed empty):
 *   innerIntegrity = H_nameAlg(TPM2B_SENSITIVE || name)
 *   duplicate      = AES-128-CFB(key, IV = 0, TPM2B(innerIntegrity) || TPM2B_SENSITIVE)
 * so only ciphertext under a fresh random key crosses the bus; the key
 * itself travels parameter-encrypted in a salted session. */
int
tss_inner_wrap(const TPM2B_SENSITIVE *sens, const TPM2B_NAME *name, const TPM2B_DATA *key,
    TPM2B_PRIVATE *out)
{
	uint8_t sbuf[sizeof(TPM2B_SENSITIVE)];
	uint8_t plain[sizeof(out->buffer)];
	uint8_t iv[16] = { 0 };
	unsigned int dlen = 0;
	size_t soff = 0, poff = 0;
	EVP_CIPHER_CTX *cctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	TPM2B_DIGEST integ = { 0 };
	int outl = 0, finl = 0, r;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	if (key->size != 16)
		return tpmid_seterr(TPMID_E_INVAL, "inner wrapper key is %u bytes, not 16 (AES-128)",
		    (unsigned)key->size);
	rc = Tss2_MU_TPM2B_SENSITIVE_Marshal(sens, sbuf, sizeof(sbuf), &soff);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "marshaling the key to import");
		goto out;
	}
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL || !EVP_DigestInit_ex(mctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(mctx, sbuf, soff) || !EVP_DigestUpdate(mctx, name->name, name->size) ||
	    !EVP_DigestFinal_ex(mctx, integ.buffer, &dlen)) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: SHA-256 failed");
		goto out;
	}
	integ.size = (UINT16)dlen;
	rc = Tss2_MU_TPM2B_DIGEST_Marshal(&integ, plain, sizeof(plain), &poff);
	if (rc != TSS2_RC_SUCCESS || soff > sizeof(plain) - poff) {
		r = tpmid_seterr(TPMID_E_TOOBIG, "key to import does not fit a TPM2B_PRIVATE");
		goto out;
	}
	memcpy(plain + poff, sbuf, soff);
	poff += soff;

	cctx = EVP_CIPHER_CTX_new();
	if (cctx == NULL || !EVP_EncryptInit_ex(cctx, EVP_aes_128_cfb128(), NULL, key->buffer, iv) ||
	    !EVP_EncryptUpdate(cctx, out->buffer, &outl, plain, (int)poff) ||
	    !EVP_EncryptFinal_ex(cctx, out->buffer + outl, &finl) || (size_t)(outl + finl) != poff) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: AES-128-CFB failed");
		goto out;
	}
	out->size = (UINT16)poff;
	r = 0;
out:
	EVP_CIPHER_CTX_free(cctx);
	EVP_MD_CTX_free(mctx);
	explicit_bzero(sbuf, sizeof(sbuf));
	explicit_bzero(plain, sizeof(plain));
	return r;
}

int
tpm_import(struct tpm *t, EVP_PKEY *priv, const struct secret *pin, struct tpm_blob *ret)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_SENSITIVE sens = { 0 };
	TPM2B_DATA enckey = { 0 };
	TPM2B_PRIVATE dup = { 0 };
	TPM2B_ENCRYPTED_SECRET seed = { 0 };
	TPMT_SYM_DEF_OBJECT sym = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB };
	TPM2B_PRIVATE *out_priv = NULL;
	TPM2B_NAME name = { 0 };
	struct tpm_blob b = { 0 };
	size_t flen = 0;
	BIGNUM *d = NULL, *x = NULL, *y = NULL;
	ESYS_TR sess = ESYS_TR_NONE;
	enum tpmid_curve curve;
	TPMI_ECC_CURVE cid = 0;
	TPMI_ALG_HASH hash = 0;
	TSS2_RC rc;
	int r, plen;

	memset(ret, 0, sizeof(*ret));
	if ((plen = tss_pin_len(pin)) < 0)
		return plen;
	if ((r = pkey_curve(priv, &curve)) < 0 || (r = tss_curve_params(curve, &cid, &hash, &flen)) < 0)
		return r;
	if (!EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_PRIV_KEY, &d)) {
		r = tpmid_seterr(TPMID_E_FORMAT, "the key to import has no private part");
		goto out;
	}
	if (!EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
		r = tpmid_seterr(TPMID_E_FORMAT, "the key to import has no public point");
		goto out;
	}

	/* Imported keys were born outside the TPM: not fixedTPM/fixedParent
	 * (Part 1 §27.2: TPM2_Import refuses those) nor sensitiveDataOrigin. */
	pub.publicArea.type = TPM2_ALG_ECC;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	pub.publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	if (plen == 0)
		pub.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	pub.publicArea.parameters.eccDetail.curveID = cid;
	pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	if ((r = bn_to_param(x, flen, &pub.publicArea.unique.ecc.x)) < 0 ||
	    (r = bn_to_param(y, flen, &pub.publicArea.unique.ecc.y)) < 0)
		goto out;

	/* The inner wrapper's integrity covers the name (Part 1 §23.3.2.3). */
	if ((r = tss_object_name(&pub, &name)) < 0)
		goto out;

	sens.sensitiveArea.sensitiveType = TPM2_ALG_ECC;
	if (plen > 0) {
		sens.sensitiveArea.authValue.size = (UINT16)plen;
		memcpy(sens.sensitiveArea.authValue.buffer, pin->p, (size_t)plen);
	}
	/* seedValue: for an asymmetric signing key only an obfuscation value
	 * (Part 1 §27.2.3); nameAlg-sized random like a TPM-made key. */
	sens.sensitiveArea.seedValue.size = 32;
	enckey.size = 16;
	if (RAND_bytes(sens.sensitiveArea.seedValue.buffer, 32) != 1 ||
	    RAND_bytes(enckey.buffer, enckey.size) != 1) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: no random bytes");
		goto out;
	}
	if ((r = bn_to_param(d, flen, &sens.sensitiveArea.sensitive.ecc)) < 0)
		goto out;
	if ((r = tss_inner_wrap(&sens, &name, &enckey, &dup)) < 0)
		goto out;

	if ((r = tss_srk_ensure(t)) < 0 || (r = tss_start_decrypt_session(t, &sess)) < 0)
		goto out;
	TSS_CALL(rc, Esys_Import(t->esys, t->srk, sess, ESYS_TR_NONE, ESYS_TR_NONE, &enckey, &pub, &dup, &seed,
	    &sym, &out_priv));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "importing the key (TPM2_Import)");
		goto out;
	}
	if ((r = tss_marshal_public(&pub, &b.pub, &b.pub_len)) < 0 ||
	    (r = tss_marshal_private(out_priv, &b.priv, &b.priv_len)) < 0)
		goto out;
	*ret = b;
	memset(&b, 0, sizeof(b));
	r = 0;
out:
	tss_flush(t, &sess);
	BN_clear_free(d);
	BN_free(x);
	BN_free(y);
	explicit_bzero(&sens, sizeof(sens));
	explicit_bzero(&enckey, sizeof(enckey));
	explicit_bzero(&dup, sizeof(dup));
	tpm_blob_clear(&b);
	Esys_Free(out_priv);
	return r;
}

