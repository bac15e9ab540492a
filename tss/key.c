/* tss/key.c: tpmid's signing keys in the TPM: create (TPM2_Create), load
 * (TPM2_Load, or a persistent handle), flush, persist and evict
 * (TPM2_EvictControl).
 *
 * Ownership: a struct tpm_key owns its ESYS_TR until tpm_key_free(); a key
 * made before tpm_recover() is stale (its generation differs) and is
 * neither used nor flushed, because its handle died with the old
 * connection. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/tpm-private.h"

static int
check_persistent_handle(uint32_t handle)
{
	if (handle < PERSISTENT_FIRST || handle > PERSISTENT_LAST)
		return tpmid_seterr(TPMID_E_INVAL,
		    "0x%08x is not a persistent handle (0x81000000..0x81ffffff)", handle);
	return 0;
}

/* An ESYS_TR for the persistent object at `handle` (TPM2_ReadPublic
 * underneath); TPMID_E_NOENT when nothing is there. */
static int
open_persistent(struct tpm *t, uint32_t handle, ESYS_TR *ret)
{
	TSS2_RC rc;

	*ret = ESYS_TR_NONE;
	TSS_CALL(rc, Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret));
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (tss_rc_tpm_code(rc) == TPM2_RC_HANDLE)
		return tpmid_seterr(TPMID_E_NOENT, "no object at persistent handle 0x%08x", handle);
	return tss_rc_err(rc, 0, "reading persistent handle");
}

int
tss_key_current(const struct tpm *t, const struct tpm_key *k)
{
	if (k->gen != t->gen || t->esys == NULL)
		return tpmid_seterr(TPMID_E_TPM_RESET,
		    "the key was loaded before the TPM connection was reset; load it again");
	return 0;
}

int
tpm_keygen(struct tpm *t, enum tpmid_curve curve, const struct secret *pin, struct tpm_blob *ret)
{
	TPM2B_SENSITIVE_CREATE insens = { 0 };
	TPM2B_PUBLIC tmpl = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcr = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_CREATION_DATA *cd = NULL;
	TPM2B_DIGEST *ch = NULL;
	TPMT_TK_CREATION *ct = NULL;
	struct tpm_blob b = { 0 };
	ESYS_TR sess = ESYS_TR_NONE;
	TPMI_ECC_CURVE cid = 0;
	TPMI_ALG_HASH hash = 0;
	size_t dlen = 0;
	TSS2_RC rc;
	int r, plen;

	memset(ret, 0, sizeof(*ret));
	if ((r = tss_curve_params(curve, &cid, &hash, &dlen)) < 0)
		return r;
	if ((plen = tss_pin_len(pin)) < 0)
		return plen;
	if ((r = tss_srk_ensure(t)) < 0)
		return r;

	/* DESIGN.md signing-key template. Scheme NULL so the caller picks
	 * ECDSA + hash per sign (what tpm2-openssl generates, too); nameAlg
	 * SHA-256 for both curves. noDA only without a PIN: a PIN is
	 * guessable, so guesses must count against the lockout. */
	tmpl.publicArea.type = TPM2_ALG_ECC;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	if (plen == 0)
		tmpl.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	tmpl.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	tmpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	tmpl.publicArea.parameters.eccDetail.curveID = cid;
	tmpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;

	if (plen > 0) {
		insens.sensitive.userAuth.size = (UINT16)plen;
		memcpy(insens.sensitive.userAuth.buffer, pin->p, (size_t)plen);
		if ((r = tss_start_decrypt_session(t, &sess)) < 0)
			goto out;
	}
	TSS_CALL(rc, Esys_Create(t->esys, t->srk, plen > 0 ? sess : ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
	    &insens, &tmpl, &outside, &pcr, &priv, &pub, &cd, &ch, &ct));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "creating the key (TPM2_Create)");
		goto out;
	}
	if ((r = tss_marshal_public(pub, &b.pub, &b.pub_len)) < 0 ||
	    (r = tss_marshal_private(priv, &b.priv, &b.priv_len)) < 0)
		goto out;
	*ret = b;
	memset(&b, 0, sizeof(b));
	r = 0;
out:
	explicit_bzero(&insens, sizeof(insens));
	tss_flush(t, &sess);
	tpm_blob_clear(&b);
	Esys_Free(priv);
	Esys_Free(pub);
	Esys_Free(cd);
	Esys_Free(ch);
	Esys_Free(ct);
	return r;
}

/* Wrap a loaded key's ESYS_TR. On success *ret owns `tr`; on failure the
 * caller still does. */
static int
key_new(struct tpm *t, ESYS_TR tr, const TPM2B_PUBLIC *pub, enum tpmid_curve curve, int persistent,
    struct tpm_key **ret)
{
	struct tpm_key *k = NULL;
	TSS2_RC rc;
	int r;

	*ret = NULL;
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	k->curve = curve;
	k->persistent = persistent;
	k->noda = !!(pub->publicArea.objectAttributes & TPMA_OBJECT_NODA);
	k->gen = t->gen;
	rc = Esys_TR_GetTpmHandle(t->esys, tr, &k->handle);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "reading a key's TPM handle");
		goto out;
	}
	if ((r = tss_tr_name(t, tr, &k->name)) < 0)
		goto out;
	k->tr = tr;
	*ret = k;
	k = NULL;
	r = 0;
out:
	freezero(k, sizeof(*k));
	return r;
}

int
tpm_load(struct tpm *t, const struct tpm_blob *blob, const uint8_t *parent_name,
    size_t parent_name_len, struct tpm_key **ret)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	ESYS_TR tr = ESYS_TR_NONE;
	enum tpmid_curve curve = CURVE_NONE;
	TSS2_RC rc;
	int r;

	*ret = NULL;
	if ((r = tss_srk_ensure(t)) < 0)
		return r;
	/* Parent pinning (DESIGN.md): a key recorded under another SRK is
	 * refused before anything is sent, which also stops a bus interposer
	 * from substituting its own "SRK". */
	if (parent_name != NULL && parent_name_len > 0 &&
	    timingsafe_memeq(parent_name, parent_name_len, t->srk_name.name, t->srk_name.size) != 0)
		return tpmid_seterr(TPMID_E_PARENT,
		    "the key was made under another storage root key than this TPM's (another TPM, "
		    "or the owner hierarchy was cleared); it cannot be used here");
	if ((r = tss_unmarshal_public(blob->pub, blob->pub_len, &pub)) < 0 ||
	    (r = tss_check_key_public(&pub, &curve)) < 0 ||
	    (r = tss_unmarshal_private(blob->priv, blob->priv_len, &priv)) < 0)
		goto out;
	tss_creating(t, 1);
	TSS_CALL(rc, Esys_Load(t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv,
	    &pub, &tr));
	if (rc == TSS2_RC_SUCCESS)
		tss_own_tr(t, tr);
	tss_creating(t, 0);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, TSS_RC_LOAD, "loading the key (TPM2_Load)");
		/* The parent is this SRK (its name matched above), so a
		 * failed integrity check means the blob itself was damaged
		 * (TPM 2.0 Part 1, 23.5: the HMAC binds the private to the
		 * public area under the parent's seed). */
		if (r == TPMID_E_PARENT && parent_name != NULL && parent_name_len > 0)
			r = tpmid_seterr(TPMID_E_FORMAT, "the key blob is damaged: the TPM's "
			    "integrity check failed (TPM_RC_INTEGRITY) although it was made under "
			    "this storage root key; restore the identity file from a backup");
		goto out;
	}
	if ((r = key_new(t, tr, &pub, curve, 0, ret)) < 0)
		goto out;
	tr = ESYS_TR_NONE;
	r = 0;
out:
	tss_flush(t, &tr);
	explicit_bzero(&priv, sizeof(priv));
	return r;
}

int
tpm_load_persistent(struct tpm *t, uint32_t handle, const uint8_t *expect_pub, size_t expect_pub_len,
    struct tpm_key **ret)
{
	TPM2B_PUBLIC *pub = NULL, want = { 0 };
	TPM2B_NAME want_name = { 0 }, got_name = { 0 };
	ESYS_TR tr = ESYS_TR_NONE;
	enum tpmid_curve curve = CURVE_NONE;
	TSS2_RC rc;
	int r;

	*ret = NULL;
	if ((r = check_persistent_handle(handle)) < 0 || (r = tss_connected(t)) < 0)
		return r;
	if (expect_pub != NULL && ((r = tss_unmarshal_public(expect_pub, expect_pub_len, &want)) < 0 ||
	    (r = tss_object_name(&want, &want_name)) < 0))
		return r;
	if ((r = open_persistent(t, handle, &tr)) < 0)
		goto out;
	if (expect_pub != NULL) {
		/* ESAPI checked that the public area the TPM sent hashes to
		 * the name it sent; a name is a hash of the public area, so
		 * equal names are the expected key, and its public area is
		 * the one we hold: no second TPM2_ReadPublic. */
		if ((r = tss_tr_name(t, tr, &got_name)) < 0)
			goto out;
		if (timingsafe_memeq(got_name.name, got_name.size, want_name.name, want_name.size) != 0) {
			r = tpmid_seterr(TPMID_E_MISMATCH,
			    "the object at persistent handle 0x%08x is not this identity's key", handle);
			goto out;
		}
	} else {
		/* Only a handle recorded: the TPM's public area says what it is. */
		TSS_CALL(rc, Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
		    NULL, NULL));
		if (rc != TSS2_RC_SUCCESS) {
			r = tss_rc_err(rc, 0, "reading the public area (TPM2_ReadPublic)");
			goto out;
		}
		want = *pub;
	}
	if ((r = tss_check_key_public(&want, &curve)) < 0)
		goto out;
	if ((r = key_new(t, tr, &want, curve, 1, ret)) < 0)
		goto out;
	tr = ESYS_TR_NONE;
	r = 0;
out:
	Esys_Free(pub);
	tss_close(t, &tr);
	return r;
}

void
tpm_key_free(struct tpm *t, struct tpm_key *k)
{
	if (k == NULL)
		return;
	/* A stale key's handle died with the old connection: memory only. */
	if (t != NULL && t->esys != NULL && k->gen == t->gen) {
		if (k->persistent)
			tss_close(t, &k->tr);
		else
			tss_flush(t, &k->tr);
	}
	freezero(k, sizeof(*k));
}

enum tpmid_curve
tpm_key_curve(const struct tpm_key *k)
{
	return k->curve;
}

int
tpm_persistent_handles(struct tpm *t, uint32_t **ret, size_t *ret_n)
{
	TPML_HANDLE l;
	TPM2_HANDLE from = TPMID_PERSIST_FIRST;
	uint32_t *h = NULL, *nh, i;
	size_t n = 0;
	int more, r;

	*ret = NULL;
	*ret_n = 0;
	do {
		if ((r = tss_get_handles(t, from, &l, &more)) < 0)
			goto out;
		if (l.count == 0)
			break;
		if ((nh = reallocarray(h, n + l.count, sizeof(*h))) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		h = nh;
		/* Ascending (Part 3 §30.2); a TPM that sends a smaller one
		 * would otherwise keep us here. */
		for (i = 0; i < l.count; i++) {
			if (l.handle[i] < from) {
				r = tpmid_seterr(TPMID_E_TPM, "TPM2_GetCapability: handles out of order");
				goto out;
			}
			if (l.handle[i] <= TPMID_PERSIST_LAST)
				h[n++] = l.handle[i];
		}
		from = l.handle[l.count - 1] + 1;
	} while (more && from <= TPMID_PERSIST_LAST && from > TPMID_PERSIST_FIRST);
	*ret = h;
	*ret_n = n;
	h = NULL;
	r = 0;
out:
	free(h);
	return r;
}

/* The TPM lists handles in ascending order (Part 3 §30.2), so the first
 * one that is not the next candidate leaves a gap: the candidate is free. */
int
tpm_free_persistent(struct tpm *t, uint32_t *ret)
{
	TPML_HANDLE l;
	TPM2_HANDLE cand = TPMID_PERSIST_FIRST, from = TPMID_PERSIST_FIRST;
	uint32_t i;
	int more, r;

	*ret = 0;
	for (;;) {
		if ((r = tss_get_handles(t, from, &l, &more)) < 0)
			return r;
		for (i = 0; i < l.count && l.handle[i] == cand; i++)
			cand++;
		if (i < l.count || !more || l.count == 0)
			break;
		from = l.handle[l.count - 1] + 1;
	}
	if (cand > TPMID_PERSIST_LAST)
		return tpmid_seterr(TPMID_E_HANDLE, "no free persistent handle from 0x%08x up",
		    TPMID_PERSIST_FIRST);
	*ret = cand;
	return 0;
}

int
tpm_persist(struct tpm *t, struct tpm_key *k, uint32_t handle, uint32_t *ret_handle)
{
	ESYS_TR ptr = ESYS_TR_NONE;
	TSS2_RC rc;
	uint32_t c;
	int r;

	if (ret_handle != NULL)
		*ret_handle = 0;
	if ((r = tss_key_current(t, k)) < 0)
		return r;
	if (k->persistent) {
		if (handle != 0 && handle != k->handle)
			return tpmid_seterr(TPMID_E_INVAL, "the key is already persistent at 0x%08x",
			    k->handle);
		if (ret_handle != NULL)
			*ret_handle = k->handle;
		return 0;
	}
	if (handle == 0) {
		if ((r = tpm_free_persistent(t, &handle)) < 0)
			return r;
	} else if ((r = check_persistent_handle(handle)) < 0)
		return r;
	/* A handle in use is refused by the TPM itself (TPM_RC_NV_DEFINED,
	 * Part 3 §28.5): no TPM2_GetCapability first. */
	TSS_CALL(rc, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, k->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, handle, &ptr));
	if (rc != TSS2_RC_SUCCESS) {
		c = tss_rc_tpm_code(rc);
		if (c == TPM2_RC_NV_DEFINED)
			r = tpmid_seterr(TPMID_E_HANDLE, "persistent handle 0x%08x is already in use",
			    handle);
		else if (c == TPM2_RC_NV_SPACE)
			r = tpmid_seterr(TPMID_E_HANDLE,
			    "no room left in the TPM for another persistent object (evict one first)");
		else
			r = tss_owner_err(rc, "persisting the key (TPM2_EvictControl)");
		/* The answer was lost, not refused: the key may be persistent
		 * now. Say where, so the caller can look and take it back. */
		if (r == TPMID_E_TPM_RESET && ret_handle != NULL)
			*ret_handle = handle;
		goto out;
	}
	if (ret_handle != NULL)
		*ret_handle = handle;
	r = 0;
out:
	/* `k` stays the transient key it was; the persistent copy is
	 * reached by handle (tpm_load_persistent()). */
	tss_close(t, &ptr);
	return r;
}

/* TPM2_EvictControl of the persistent object `tr` at `handle`. */
static int
evict_tr(struct tpm *t, ESYS_TR tr, uint32_t handle)
{
	ESYS_TR evicted = ESYS_TR_NONE;
	TSS2_RC rc;

	TSS_CALL(rc, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, handle, &evicted));
	/* ESAPI keeps the evicted object's ESYS_TR (and returns ESYS_TR_NONE
	 * in `evicted`; closed should a version return one): closing `tr`
	 * is the caller's. */
	tss_close(t, &evicted);
	if (rc != TSS2_RC_SUCCESS)
		return tss_owner_err(rc, "evicting the persistent object (TPM2_EvictControl)");
	return 0;
}

int
tpm_evict(struct tpm *t, uint32_t handle)
{
	ESYS_TR tr = ESYS_TR_NONE;
	int r, ours;

	if ((r = check_persistent_handle(handle)) < 0 || (r = tss_connected(t)) < 0)
		return r;
	/* Evicting the SRK copy we use: forget it, recreate on demand. */
	ours = t->srk_persistent && handle == TPM_SRK_PERSISTENT;
	if (!ours && (r = open_persistent(t, handle, &tr)) < 0)
		goto out;
	if ((r = evict_tr(t, ours ? t->srk : tr, handle)) < 0)
		goto out;
	if (ours) {
		tss_drop_session(t, 1);
		tss_srk_drop(t, 1);
	}
	r = 0;
out:
	tss_close(t, &tr);
	return r;
}

int
tpm_evict_key(struct tpm *t, struct tpm_key *k)
{
	int r;

	if (!k->persistent)
		return tpmid_seterr(TPMID_E_INVAL, "not a persistent key");
	if ((r = tss_key_current(t, k)) < 0)
		return r;
	if ((r = evict_tr(t, k->tr, k->handle)) < 0)
		return r;
	tss_close(t, &k->tr);
	return 0;
}
