/* tss/auth.c: changing a key's auth value (its PIN) with
 * TPM2_ObjectChangeAuth (Part 3 §14.1). ESAPI runs the session here, not
 * tpmid's own (session.c): this is rare, and ESAPI's parameter encryption
 * keeps the new PIN off the bus in clear. */
#include "config.h"

#include <string.h>

#include <tss2/tss2_esys.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/tpm-private.h"
#include "tss/tpm.h"

int
tpm_change_auth(struct tpm *t, struct tpm_key *k, const struct secret *old_pin,
    const struct secret *new_pin, uint8_t **ret_priv, size_t *ret_priv_len)
{
	TPM2B_AUTH old = { 0 }, nw = { 0 }, none = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	ESYS_TR sess = ESYS_TR_NONE;
	TSS2_RC rc;
	int r, olen, nlen;

	*ret_priv = NULL;
	*ret_priv_len = 0;
	if ((r = tss_key_current(t, k)) < 0)
		return r;
	/* A persistent object would keep its auth value: the new private
	 * area only replaces the blob. */
	if (k->persistent)
		return tpmid_seterr(TPMID_E_INVAL, "a persistent key's PIN cannot be changed "
		    "in place");
	if ((olen = tss_pin_len(old_pin)) < 0)
		return olen;
	if ((nlen = tss_pin_len(new_pin)) < 0)
		return nlen;
	old.size = (UINT16)olen;
	if (olen > 0)
		memcpy(old.buffer, old_pin->p, (size_t)olen);
	nw.size = (UINT16)nlen;
	if (nlen > 0)
		memcpy(nw.buffer, new_pin->p, (size_t)nlen);
	if ((r = tss_srk_ensure(t)) < 0 || (r = tss_start_decrypt_session(t, &sess)) < 0)
		goto out;
	if ((rc = Esys_TR_SetAuth(t->esys, k->tr, &old)) != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "setting the key's auth value");
		goto out;
	}
	/* The session authorizes the key with the old PIN (HMAC) and
	 * encrypts newAuth, the first parameter (decrypt attribute). */
	TSS_CALL(rc, Esys_ObjectChangeAuth(t->esys, k->tr, t->srk, sess, ESYS_TR_NONE,
	    ESYS_TR_NONE, &nw, &priv));
	(void)Esys_TR_SetAuth(t->esys, k->tr, &none);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "changing the key's PIN (TPM2_ObjectChangeAuth)");
		if (r == TPMID_E_BADPIN || r == TPMID_E_LOCKOUT)
			r = tss_da_detail(t, r);
		goto out;
	}
	r = tss_marshal_private(priv, ret_priv, ret_priv_len);
out:
	tss_flush(t, &sess);
	explicit_bzero(&old, sizeof(old));
	explicit_bzero(&nw, sizeof(nw));
	if (priv != NULL)
		explicit_bzero(priv, sizeof(*priv));
	Esys_Free(priv);
	return r;
}
