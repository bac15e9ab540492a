/* tss/object.c: TPM objects as bytes: marshaling public and private areas
 * (Part 2 §12.2.5 TPM2B_PUBLIC, §12.3.7 TPM2B_PRIVATE), an object's name
 * (Part 1 §16), and what tpmid accepts as a signing key's public area. No
 * TPM round trips here, so everything in this file can be unit tested. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/session.h"
#include "tss/tpm-private.h"


void
tpm_blob_clear(struct tpm_blob *b)
{
	if (b == NULL)
		return;
	free(b->pub);
	freezero(b->priv, b->priv_len);
	memset(b, 0, sizeof(*b));
}

/* curve.c's table speaks the TPM's numbers (TPM 2.0 Part 2 sections 6.3,
 * 6.4) without including tss2 headers; hold it to them. */
_Static_assert(TPM2_ECC_NIST_P256 == 0x0003 && TPM2_ECC_NIST_P384 == 0x0004,
    "TPM curve identifiers in common/curve.c");
_Static_assert(TPM2_ALG_SHA256 == 0x000B && TPM2_ALG_SHA384 == 0x000C,
    "TPM hash identifiers in common/curve.c");

int
tss_curve_params(enum tpmid_curve curve, TPMI_ECC_CURVE *ret_id, TPMI_ALG_HASH *ret_hash,
    size_t *ret_len)
{
	const struct curve_info *c = curve_get(curve);

	*ret_id = 0;
	*ret_hash = 0;
	*ret_len = 0;
	if (c == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported curve (use NIST P-256 or P-384)");
	*ret_id = c->tpm_curve;
	*ret_hash = c->tpm_hash;
	*ret_len = c->digest_len;
	return 0;
}

int
tss_pin_len(const struct secret *pin)
{
	if (pin == NULL || pin->len == 0)
		return 0;
	if (pin->len > TPMID_PIN_MAX)
		return tpmid_seterr(TPMID_E_INVAL, "PIN too long (at most %d bytes)", TPMID_PIN_MAX);
	return (int)pin->len;
}

/* A TPM object's name: nameAlg || H_nameAlg(TPMT_PUBLIC) (Part 1 §16), the
 * hash over the marshaled public area without its TPM2B size. Computed
 * here, not taken from the TPM: where a name is a check (the persisted
 * SRK) the TPM's word is what is being checked, and a key being imported
 * has no name in the TPM yet. SHA-256 names only (every object tpmid makes
 * or trusts has nameAlg SHA-256): TPMID_E_UNSUPPORTED for another nameAlg. */
int
tss_object_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t off = 0;
	unsigned int dlen = 0;
	const EVP_MD *md;
	TPMI_ALG_HASH alg = pub->publicArea.nameAlg;
	TSS2_RC rc;

	memset(ret, 0, sizeof(*ret));
	/* tpmid's keys and SRK are SHA-256; a P-384 endorsement key
	 * (tss/ek.c) is SHA-384 (EK Credential Profile, template H-3). */
	if (alg == TPM2_ALG_SHA256)
		md = EVP_sha256();
	else if (alg == TPM2_ALG_SHA384)
		md = EVP_sha384();
	else
		return tpmid_seterr(TPMID_E_UNSUPPORTED,
		    "object name algorithm 0x%04x is not supported (SHA-256 and SHA-384 only)",
		    (unsigned)alg);
	rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off);
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "marshaling a public area");
	if (!EVP_Digest(buf, off, ret->name + 2, &dlen, md, NULL))
		return tpmid_seterr(TPMID_E_TPM, "OpenSSL: the name digest failed");
	ret->name[0] = (uint8_t)(alg >> 8);
	ret->name[1] = (uint8_t)alg;
	ret->size = (UINT16)(2 + dlen);
	return 0;
}

int
tss_marshal_public(const TPM2B_PUBLIC *pub, uint8_t **ret, size_t *ret_len)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)], *p;
	size_t off = 0;
	TSS2_RC rc;

	*ret = NULL;
	*ret_len = 0;
	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "marshaling a public area");
	if ((p = malloc(off)) == NULL)
		return tpmid_seterr(TPMID_E_NOMEM, "out of memory");
	memcpy(p, buf, off);
	*ret = p;
	*ret_len = off;
	return 0;
}

int
tss_marshal_private(const TPM2B_PRIVATE *priv, uint8_t **ret, size_t *ret_len)
{
	uint8_t buf[sizeof(TPM2B_PRIVATE)], *p;
	size_t off = 0;
	TSS2_RC rc;
	int r;

	*ret = NULL;
	*ret_len = 0;
	rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "marshaling a private area");
		goto out;
	}
	if ((p = malloc(off)) == NULL) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(p, buf, off);
	*ret = p;
	*ret_len = off;
	r = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

int
tss_unmarshal_public(const uint8_t *p, size_t len, TPM2B_PUBLIC *out)
{
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	if (p == NULL || len == 0)
		return tpmid_seterr(TPMID_E_FORMAT, "key public area is empty");
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, len, &off, out);
	if (rc != TSS2_RC_SUCCESS)
		return tpmid_seterr(TPMID_E_FORMAT, "key public area is malformed (%s)", Tss2_RC_Decode(rc));
	if (off != len)
		return tpmid_seterr(TPMID_E_FORMAT, "key public area has %zu trailing bytes", len - off);
	return 0;
}

int
tss_unmarshal_private(const uint8_t *p, size_t len, TPM2B_PRIVATE *out)
{
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	if (p == NULL || len == 0)
		return tpmid_seterr(TPMID_E_FORMAT, "key private blob is empty");
	rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, len, &off, out);
	if (rc != TSS2_RC_SUCCESS)
		return tpmid_seterr(TPMID_E_FORMAT, "key private blob is malformed (%s)", Tss2_RC_Decode(rc));
	if (off != len)
		return tpmid_seterr(TPMID_E_FORMAT, "key private blob has %zu trailing bytes", len - off);
	return 0;
}

/* A signing key's public area must be ECC on a curve we speak. */
int
tss_check_key_public(const TPM2B_PUBLIC *pub, enum tpmid_curve *ret)
{
	const struct curve_info *c;

	*ret = CURVE_NONE;
	if (pub->publicArea.type != TPM2_ALG_ECC)
		return tpmid_seterr(TPMID_E_CURVE, "not an ECC key (TPM key type 0x%04x)",
		    (unsigned)pub->publicArea.type);
	c = curve_by_tpm(pub->publicArea.parameters.eccDetail.curveID);
	if (c == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported curve 0x%04x (use NIST P-256 or P-384)",
		    (unsigned)pub->publicArea.parameters.eccDetail.curveID);
	*ret = c->id;
	return 0;
}

int
tpm_blob_public(const uint8_t *pub, size_t pub_len, enum tpmid_curve *ret_curve, EVP_PKEY **ret_pkey,
    int *ret_has_auth_hint)
{
	TPM2B_PUBLIC p;
	enum tpmid_curve c = CURVE_NONE;
	EVP_PKEY *pkey = NULL;
	int r;

	if (ret_curve != NULL)
		*ret_curve = CURVE_NONE;
	if (ret_pkey != NULL)
		*ret_pkey = NULL;
	if (ret_has_auth_hint != NULL)
		*ret_has_auth_hint = 0;
	if ((r = tss_unmarshal_public(pub, pub_len, &p)) < 0)
		return r;
	if ((r = tss_check_key_public(&p, &c)) < 0)
		return r;
	if (ret_pkey != NULL &&
	    (r = tss_ec_pubkey(p.publicArea.parameters.eccDetail.curveID, &p.publicArea.unique.ecc.x,
		 &p.publicArea.unique.ecc.y, &pkey)) < 0)
		return r;
	if (ret_curve != NULL)
		*ret_curve = c;
	if (ret_pkey != NULL)
		*ret_pkey = pkey;
	if (ret_has_auth_hint != NULL)
		*ret_has_auth_hint = !(p.publicArea.objectAttributes & TPMA_OBJECT_NODA);
	return 0;
}

