/* tss/srk.c: the storage root key, the parent of every tpmid key.
 *
 * DESIGN.md "TPM conventions": the SRK is the H-2 ECC P-256 primary under
 * the owner hierarchy, created once per struct tpm and kept loaded. A
 * persisted copy at 0x81000001 saves the CreatePrimary, but only when it is
 * provably the same key: its name must equal the H-2 name recorded earlier
 * and its public area must hash to that name (tss_srk_trust()).
 *
 * Every session that carries a secret (a new key's PIN, an imported key,
 * a PIN sign) is salted to the SRK's public key, which comes from the
 * TPM's answer on a bus an attacker may sit on. So once a name is recorded
 * (trust on first use, or pinned with `tpmid srk --expect`), a
 * CreatePrimary whose answer names another key is refused before any such
 * session exists: an interposer's own key, or a TPM whose owner seed
 * changed (cleared), which the user must acknowledge (tpm_srk_hint()). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/tpm-private.h"

/* The H-2 template (TPM2 key-file convention, "ECC with empty unique"): ECC
 * P-256, SHA-256, AES-128-CFB, restricted decrypt, noDA, zero-length unique.
 * Every field matters: the primary is derived from the owner seed and this
 * template (Part 1 §27.7), so any difference gives another key. */
static const TPM2B_PUBLIC srk_template_h2 = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
		    TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
			    .mode.aes = TPM2_ALG_CFB },
			.scheme = { .scheme = TPM2_ALG_NULL },
			.curveID = TPM2_ECC_NIST_P256,
			.kdf = { .scheme = TPM2_ALG_NULL },
		},
	},
};

const TPM2B_PUBLIC *
tss_srk_template(void)
{
	return &srk_template_h2;
}

/* The trust decision for the persisted SRK copy, pure so it can be tested
 * without a TPM. `pub`: the public area the TPM returned for 0x81000001
 * (TPM2_ReadPublic); `name`: the name it reported for the handle;
 * `recorded`: the H-2 name known from an earlier CreatePrimary
 * (tpm_srk_hint()). The name must be the recorded one: the public area
 * alone cannot tell the H-2 key from other primaries (DESIGN.md "TPM
 * conventions"). The public area must hash to that name: it salts every
 * PIN session (and ESAPI keeps it for the keygen/import sessions), yet it
 * comes from a round trip that nothing else ties to the name, so an
 * interposer could answer it with its own key and learn the session key.
 * Returns 0: use the copy. TPMID_E_MISMATCH (no detail set): another
 * object, not the recorded H-2 key; not an error, the caller creates the
 * primary instead. TPMID_E_TPM (detail set): the name is ours but the
 * public area does not hash to it. */
int
tss_srk_trust(const TPM2B_PUBLIC *pub, const TPM2B_NAME *name, const uint8_t *recorded,
    size_t recorded_len)
{
	TPM2B_NAME pub_name;

	if (recorded_len == 0 ||
	    timingsafe_memeq(name->name, name->size, recorded, recorded_len) != 0)
		return TPMID_E_MISMATCH;
	if (tss_object_name(pub, &pub_name) != 0 ||
	    timingsafe_memeq(pub_name.name, pub_name.size, name->name, name->size) != 0)
		return tpmid_seterr(TPMID_E_TPM, "persistent SRK 0x81000001: the public area the TPM "
		    "returned does not match its name (TPM replies altered on the way?)");
	return 0;
}

/* The primary the TPM answered with is not the recorded one. */
static int
srk_mismatch(const TPM2B_NAME *got, const uint8_t *want, size_t want_len)
{
	char *g = hex_encode(got->name, got->size), *w = hex_encode(want, want_len);
	int r;

	r = tpmid_seterr(TPMID_E_SRK, "the TPM answered with a storage root key (name %s) "
	    "that is not the one recorded for this store (%s); nothing secret was sent. "
	    "Either something between tpmid and the TPM is altering its answers (an "
	    "interposer on the bus, a tampered TCTI), or the TPM was cleared, which "
	    "destroys every key made before: then remove the record (.srk-name in the "
	    "store) and the identities, and run 'tpmid srk' to trust the new one",
	    g != NULL ? g : "?", w != NULL ? w : "?");
	free(g);
	free(w);
	return r;
}

/* Use the persisted SRK copy only when tss_srk_trust() says so. */
static int
srk_try_persistent(struct tpm *t)
{
	ESYS_TR tr = ESYS_TR_NONE;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_NAME name;
	TSS2_RC rc;
	int r;

	TSS_CALL(rc, Esys_TR_FromTPMPublic(t->esys, TPM_SRK_PERSISTENT, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &tr));
	if (rc != TSS2_RC_SUCCESS) {
		/* Nothing there is the common case; other errors are real. */
		if (tss_rc_tpm_code(rc) == TPM2_RC_HANDLE)
			r = 0;
		else
			r = tss_rc_err(rc, 0, "reading persistent SRK 0x81000001");
		goto out;
	}
	/* ESAPI took this name and a public area from the TPM2_ReadPublic it
	 * sent to make the ESYS_TR (and salts the keygen/import sessions with
	 * that area); ours, for the PIN sessions, comes from a second
	 * ReadPublic below. */
	if ((r = tss_tr_name(t, tr, &name)) < 0)
		goto out;
	/* Spare the ReadPublic round trip for an object that is not ours;
	 * tss_srk_trust() makes the decision. */
	if (timingsafe_memeq(name.name, name.size, t->hint, t->hint_len) != 0) {
		r = 0; /* not ours: the caller falls back to CreatePrimary */
		goto out;
	}
	TSS_CALL(rc, Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "reading persistent SRK 0x81000001");
		goto out;
	}
	if ((r = tss_srk_trust(pub, &name, t->hint, t->hint_len)) < 0) {
		if (r == TPMID_E_MISMATCH)
			r = 0; /* not ours, as above */
		goto out;
	}
	t->srk = tr;
	tr = ESYS_TR_NONE;
	t->srk_persistent = 1;
	t->srk_name = name;
	t->srk_pub = *pub;
	r = 0;
out:
	Esys_Free(pub);
	tss_close(t, &tr);
	return r;
}

int
tss_srk_ensure(struct tpm *t)
{
	TPM2B_SENSITIVE_CREATE insens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcr = { 0 };
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_CREATION_DATA *cd = NULL;
	TPM2B_DIGEST *ch = NULL;
	TPMT_TK_CREATION *ct = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	TPM2B_NAME name;
	TSS2_RC rc;
	int r;

	if (t->srk != ESYS_TR_NONE)
		return 0;
	if ((r = tss_connected(t)) < 0)
		return r;
	if (t->hint_len > 0) {
		if ((r = srk_try_persistent(t)) < 0)
			return r;
		if (t->srk != ESYS_TR_NONE)
			return 0;
	}
	tss_creating(t, 1);
	TSS_CALL(rc, Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &insens, tss_srk_template(), &outside, &pcr, &tr, &pub, &cd, &ch, &ct));
	if (rc == TSS2_RC_SUCCESS)
		tss_own_tr(t, tr);
	tss_creating(t, 0);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_owner_err(rc, "creating the storage root key (TPM2_CreatePrimary)");
		goto out;
	}
	if ((r = tss_tr_name(t, tr, &name)) < 0)
		goto out;
	/* ESAPI has checked that the public area hashes to this name. */
	if (t->hint_len > 0 &&
	    timingsafe_memeq(name.name, name.size, t->hint, t->hint_len) != 0) {
		r = srk_mismatch(&name, t->hint, t->hint_len);
		goto out;
	}
	t->srk = tr;
	tr = ESYS_TR_NONE;
	t->srk_name = name;
	t->srk_pub = *pub;
	r = 0;
out:
	tss_flush(t, &tr);
	Esys_Free(pub);
	Esys_Free(cd);
	Esys_Free(ch);
	Esys_Free(ct);
	return r;
}

int
tpm_srk_name(struct tpm *t, const uint8_t **ret, size_t *ret_len)
{
	int r;

	*ret = NULL;
	*ret_len = 0;
	if ((r = tss_srk_ensure(t)) < 0)
		return r;
	*ret = t->srk_name.name;
	*ret_len = t->srk_name.size;
	return 0;
}

void
tpm_srk_hint(struct tpm *t, const uint8_t *name, size_t len)
{
	if (name == NULL || len == 0 || len > sizeof(t->hint)) {
		t->hint_len = 0;
		return;
	}
	memcpy(t->hint, name, len);
	t->hint_len = len;
}

int
tpm_srk_persist(struct tpm *t)
{
	ESYS_TR tr = ESYS_TR_NONE, ptr = ESYS_TR_NONE;
	TPM2B_NAME name;
	TSS2_RC rc;
	int r, exists = 0;

	if ((r = tss_srk_ensure(t)) < 0)
		return r;
	if (t->srk_persistent)
		return 0;
	if ((r = tss_handle_exists(t, TPM_SRK_PERSISTENT, &exists)) < 0)
		return r;
	if (exists) {
		TSS_CALL(rc, Esys_TR_FromTPMPublic(t->esys, TPM_SRK_PERSISTENT, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, &tr));
		if (rc != TSS2_RC_SUCCESS) {
			r = tss_rc_err(rc, 0, "reading persistent handle 0x81000001");
			goto out;
		}
		if ((r = tss_tr_name(t, tr, &name)) < 0)
			goto out;
		if (timingsafe_memeq(name.name, name.size, t->srk_name.name, t->srk_name.size) != 0) {
			r = tpmid_seterr(TPMID_E_HANDLE,
			    "persistent handle 0x81000001 holds another object, not the H-2 storage "
			    "root key; evict it ('tpm2_evictcontrol -c 0x81000001') or keep the SRK transient");
			goto out;
		}
		/* A matching copy: switch to it and give the slot back. */
		tss_flush(t, &t->srk);
		t->srk = tr;
		tr = ESYS_TR_NONE;
		t->srk_persistent = 1;
		r = 0;
		goto out;
	}
	TSS_CALL(rc, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM_SRK_PERSISTENT, &ptr));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_owner_err(rc, "persisting the storage root key at 0x81000001 (TPM2_EvictControl)");
		goto out;
	}
	tss_flush(t, &t->srk);
	t->srk = ptr;
	ptr = ESYS_TR_NONE;
	t->srk_persistent = 1;
	r = 0;
out:
	tss_close(t, &tr);
	tss_close(t, &ptr);
	return r;
}
