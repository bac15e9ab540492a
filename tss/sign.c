/* tss/sign.c: TPM2_Sign (Part 3 §20.2) with a loaded key, and what a
 * failed authorization means to the person holding the PIN.
 *
 * No-PIN keys sign through ESAPI with the empty password; PIN keys through
 * tpmid's own salted HMAC session on SAPI (tss/session.c), kept open in
 * struct tpm between signs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <tss2/tss2_esys.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/session.h"
#include "tss/tpm-private.h"

/* Part 2 §11.2.5.4 / §10.7: TPMS_SIGNATURE_ECDSA (r, s) -> DER
 * ECDSA-Sig-Value (SEC1 / RFC 3279). */
static int
sig_to_der(const TPMT_SIGNATURE *sig, uint8_t **ret, size_t *ret_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	uint8_t *der = NULL, *p;
	int len, r;

	*ret = NULL;
	*ret_len = 0;
	if (sig->sigAlg != TPM2_ALG_ECDSA)
		return tpmid_seterr(TPMID_E_TPM, "TPM returned a 0x%04x signature, not ECDSA",
		    (unsigned)sig->sigAlg);
	br = BN_bin2bn(sig->signature.ecdsa.signatureR.buffer, sig->signature.ecdsa.signatureR.size, NULL);
	bs = BN_bin2bn(sig->signature.ecdsa.signatureS.buffer, sig->signature.ecdsa.signatureS.size, NULL);
	es = ECDSA_SIG_new();
	if (br == NULL || bs == NULL || es == NULL || !ECDSA_SIG_set0(es, br, bs)) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	br = bs = NULL;
	len = i2d_ECDSA_SIG(es, NULL);
	if (len <= 0 || (der = malloc((size_t)len)) == NULL) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	p = der;
	if (i2d_ECDSA_SIG(es, &p) != len) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: cannot encode the signature");
		goto out;
	}
	*ret = der;
	*ret_len = (size_t)len;
	der = NULL;
	r = 0;
out:
	free(der);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return r;
}

/* After a failed authorization, say how many tries remain (Part 1 §19.8.2:
 * failedTries vs. maxTries, read as TPM_PT_LOCKOUT_COUNTER and
 * TPM_PT_MAX_AUTH_FAIL) or, in lockout, how long to wait. Keeps `err`. */
int
tss_da_detail(struct tpm *t, int err)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	uint32_t counter = 0, max = 0, interval = 0, i;
	int have = 0;
	TSS2_RC rc;

	TSS_CALL(rc, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 3, &more, &cap));
	if (rc == TSS2_RC_SUCCESS) {
		for (i = 0; i < cap->data.tpmProperties.count; i++) {
			const TPMS_TAGGED_PROPERTY *p = &cap->data.tpmProperties.tpmProperty[i];

			if (p->property == TPM2_PT_LOCKOUT_COUNTER) {
				counter = p->value;
				have |= 1;
			} else if (p->property == TPM2_PT_MAX_AUTH_FAIL) {
				max = p->value;
				have |= 2;
			} else if (p->property == TPM2_PT_LOCKOUT_INTERVAL) {
				interval = p->value;
			}
		}
	}
	Esys_Free(cap);
	if (err == TPMID_E_BADPIN) {
		if (have != 3 || max == 0)
			return tpmid_seterr(err, "wrong PIN");
		if (counter >= max)
			return tpmid_seterr(err, "wrong PIN (no tries left: the TPM is now in "
			    "dictionary-attack lockout)");
		return tpmid_seterr(err, "wrong PIN (%u %s left before lockout)", max - counter,
		    max - counter == 1 ? "try" : "tries");
	}
	if (interval > 0)
		return tpmid_seterr(err, "the TPM is in dictionary-attack lockout after too many wrong "
		    "PINs; one try comes back every %u s, or clear it with "
		    "'tpm2_dictionarylockout --clear-lockout'", interval);
	return err;
}

/* No PIN: empty password (Part 1 §19.8.4); nothing secret on the bus, so
 * no session and the TPM's own speed. */
static int
sign_nopin(struct tpm *t, struct tpm_key *k, const TPM2B_DIGEST *d, TPMI_ALG_HASH hash,
    TPMT_SIGNATURE *ret)
{
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = hash };
	TPMT_TK_HASHCHECK validation = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc;

	memset(ret, 0, sizeof(*ret));
	TSS_CALL(rc, Esys_Sign(t->esys, k->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, d, &scheme,
	    &validation, &sig));
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "TPM2_Sign");
	*ret = *sig;
	Esys_Free(sig);
	return 0;
}

/* A PIN: tpmid's salted HMAC session (tss/session.c), started on first
 * use and kept in struct tpm. */
static int
sign_pin(struct tpm *t, struct tpm_key *k, const TPM2B_DIGEST *d, TPMI_ALG_HASH hash,
    const struct secret *pin, TPMT_SIGNATURE *sig)
{
	TPM2_HANDLE srk_handle;
	TSS2_RC rc;
	int r;

	memset(sig, 0, sizeof(*sig));
	if (t->sess == NULL) {
		if ((r = tss_srk_ensure(t)) < 0)
			return r;
		rc = Esys_TR_GetTpmHandle(t->esys, t->srk, &srk_handle);
		if (rc != TSS2_RC_SUCCESS)
			return tss_rc_err(rc, 0, "reading the SRK's handle");
		tss_creating(t, 1);
		r = tss_session_start(t->sys, t->crypto, srk_handle, &t->srk_pub.publicArea, &t->sess);
		if (r == 0)
			tss_own(t, tss_session_handle(t->sess));
		tss_creating(t, 0);
		if (r < 0)
			return r;
	}
	r = tss_session_sign(t->sys, t->crypto, t->sess, k->handle, &k->name, pin, d, hash, sig);
	if (r < 0) {
		/* Any failure may have left the session unusable (or the TPM
		 * may have lost it); start a fresh one next time. After a
		 * reset or a lost connection, do not talk to the TPM. */
		tss_drop_session(t, r != TPMID_E_TPM_RESET);
	}
	return r;
}

int
tpm_sign(struct tpm *t, struct tpm_key *k, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_der_len)
{
	TPMT_SIGNATURE sig;
	TPM2B_DIGEST d = { 0 };
	TPMI_ECC_CURVE cid = 0;
	TPMI_ALG_HASH hash = 0;
	size_t dlen = 0;
	int r, plen;

	*ret_der = NULL;
	*ret_der_len = 0;
	if ((r = tss_key_current(t, k)) < 0)
		return r;
	if ((r = tss_curve_params(k->curve, &cid, &hash, &dlen)) < 0)
		return r;
	if (digest_len != dlen)
		return tpmid_seterr(TPMID_E_INVAL, "digest is %zu bytes; %s signs %zu-byte %s digests",
		    digest_len, curve_get(k->curve)->nist, dlen, curve_get(k->curve)->hash_nist);
	if ((plen = tss_pin_len(pin)) < 0)
		return plen;
	d.size = (UINT16)dlen;
	memcpy(d.buffer, digest, dlen);

	if (plen > 0)
		r = sign_pin(t, k, &d, hash, pin, &sig);
	else
		r = sign_nopin(t, k, &d, hash, &sig);
	/* The TPM says "bad auth" in both cases; what it means differs. */
	if (r == TPMID_E_BADPIN && plen == 0)
		return tpmid_seterr(TPMID_E_NEEDPIN, "this key needs a PIN");
	if ((r == TPMID_E_BADPIN && !k->noda) || r == TPMID_E_LOCKOUT)
		return tss_da_detail(t, r);
	if (r < 0)
		return r;
	return sig_to_der(&sig, ret_der, ret_der_len);
}

