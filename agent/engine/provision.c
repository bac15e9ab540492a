/* Provisioning: keys made in the TPM (keygen) or brought into it
 * (import), recorded as identities; identities deleted; the SRK shown or
 * persisted. Every TPM step goes through engine_recover() on failure. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent/engine/internal.h"
#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"
#include "store/keyfile.h"

/* Largest key file import takes (a PEM EC key or TSS2 key is ~1 KiB). */
#define IMPORT_MAX (64 * 1024)

/* Fail early, before the TPM does any work, when the name is taken. */
static int
check_new_name(struct engine *e, const char *name)
{
	struct store_stamp st;
	int r;

	if ((r = engine_check_name(name)) != 0)
		return r;
	r = store_stat(e->store, name, &st);
	if (r == 0)
		return tpmid_seterr(TPMID_E_EXISTS, "identity '%s' already exists in %s", name,
		    store_dir(e->store));
	if (r != TPMID_E_NOENT)
		return r;
	tpmid_clearerr();
	return 0;
}

/* TPM2_EvictControl's answer was lost (`r`, TPMID_E_TPM_RESET): the key
 * may have become persistent at `handle` all the same. Recover the
 * connection, and when the object there is this key, evict it again, so a
 * failed keygen leaves nothing behind. Returns `r` with its message. */
static int
undo_lost_persist(struct engine *e, const struct keyfile *kf, uint32_t handle, int r)
{
	struct attempt once = { .no_retry = 1 };
	struct tpm_key *pk = NULL;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", tpmid_errmsg(r));
	(void)engine_recover(e, r, &once, NULL);
	if (tpm_load_persistent(e->tpm, handle, kf->pub, kf->pub_len, &pk) == 0) {
		tpm_key_free(e->tpm, pk);
		(void)tpm_evict(e->tpm, handle);
	}
	return tpmid_seterr(r, "%s", msg);
}

/* Record a key the TPM just made or imported as identity `name`: persist it
 * if asked, then write the file. On failure nothing is left behind (the
 * persistent copy is evicted again). */
static int
record_identity(struct engine *e, const char *name, const struct keyfile *kf, int pin,
    enum persist_mode persist, uint32_t handle, struct id_info *ret)
{
	struct identity *id = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm_key *k = NULL;
	struct attempt a = { 0 };
	EVP_PKEY *pub = NULL;
	enum tpmid_curve curve = CURVE_NONE;
	const uint8_t *srk;
	size_t srk_len;
	uint32_t got = 0;
	int r;

	if ((r = tpm_blob_public(kf->pub, kf->pub_len, &curve, &pub, NULL)) != 0)
		goto out;
	if ((r = engine_srk_name(e, &srk, &srk_len)) != 0)
		goto out;
	if ((r = identity_new(name, &id)) != 0)
		goto out;
	id->alg = curve;
	id->pin = pin;
	if ((r = keyfile_to_pem(kf, &id->key_pem)) != 0 ||
	    (r = ec_pem_from_pkey(pub, &id->public_key_pem)) != 0)
		goto out;
	if ((id->parent_name = malloc(srk_len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	memcpy(id->parent_name, srk, srk_len);
	id->parent_name_len = srk_len;

	if (persist != PERSIST_NO) {
		blob.pub = kf->pub;
		blob.pub_len = kf->pub_len;
		blob.priv = kf->priv;
		blob.priv_len = kf->priv_len;
		for (;;) {
			if ((r = tpm_load(e->tpm, &blob, srk, srk_len, &k)) == 0 ||
			    !engine_recover(e, r, &a, NULL))
				break;
			/* The SRK name may have been re-read after a reset. */
			if ((r = engine_srk_name(e, &srk, &srk_len)) != 0)
				goto out;
		}
		if (r != 0)
			goto out;
		/* Not retried: EvictControl is not safe to send twice. */
		r = tpm_persist(e->tpm, k, persist == PERSIST_HANDLE ? handle : 0, &got);
		tpm_key_free(e->tpm, k);
		k = NULL;
		if (r == TPMID_E_TPM_RESET && got != 0)
			r = undo_lost_persist(e, kf, got, r);
		if (r != 0)
			goto out;
		id->handle = got;
	}
	if ((r = store_save(e->store, id, STORE_CREATE)) != 0) {
		if (got != 0)
			(void)tpm_evict(e->tpm, got);
		goto out;
	}
	if (ret != NULL) {
		struct entry *en;

		if ((r = entry_get(e, name, &en)) == 0)
			r = entry_info(e, en, ret);
	}
out:
	EVP_PKEY_free(pub);
	identity_free(id);
	return r;
}

int
engine_keygen(struct engine *e, const char *name, enum tpmid_curve alg,
    const struct secret *pin, enum persist_mode persist, uint32_t handle,
    struct id_info *ret)
{
	struct tpm_blob blob = { 0 };
	struct keyfile *kf = NULL;
	struct attempt a = { .no_retry = 1 };
	struct tpm *t;
	int has_pin = pin != NULL && pin->len > 0;
	int r;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	if (curve_get(alg) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported curve (use p256 or p384)");
	if (persist == PERSIST_HANDLE &&
	    (handle < TPMID_PERSIST_FIRST || handle > TPMID_PERSIST_LAST))
		return tpmid_seterr(TPMID_E_INVAL, "persistent handle 0x%08x out of range "
		    "0x%08x..0x%08x", handle, TPMID_PERSIST_FIRST, TPMID_PERSIST_LAST);
	if ((r = check_new_name(e, name)) != 0)
		return r;
	for (;;) {
		if ((r = engine_tpm(e, &t)) == 0 &&
		    (r = tpm_keygen(t, alg, has_pin ? pin : NULL, &blob)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			return r;
	}
	if ((r = keyfile_new(TPM_PARENT_OWNER, !has_pin, blob.pub, blob.pub_len, blob.priv,
	    blob.priv_len, &kf)) != 0)
		goto out;
	r = record_identity(e, name, kf, has_pin, persist, handle, ret);
out:
	keyfile_free(kf);
	tpm_blob_clear(&blob);
	return r;
}

/* A TSS2 PRIVATE KEY made elsewhere (tpm2-openssl, ssh-tpm-agent): usable
 * as is when it is a child of our SRK. The parent field may say the owner
 * hierarchy (the H-2 primary) or a persistent handle holding a copy of it;
 * either way, a load under our SRK only passes the TPM's integrity check
 * when the SRK is really its parent, so that is the test. */
static int
import_tss2(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	struct keyfile *kf = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm_key *k = NULL;
	struct attempt a = { 0 };
	const uint8_t *srk;
	size_t srk_len;
	int r;

	if ((r = keyfile_parse_pem((const char *)data, len, &kf)) != 0)
		return r;
	if (pin != NULL && pin->len > 0) {
		r = tpmid_seterr(TPMID_E_INVAL, "a TSS2 key file keeps its own auth value; "
		    "a PIN cannot be set on import");
		goto out;
	}
	if (kf->parent != TPM_PARENT_OWNER && (kf->parent & 0xff000000u) != 0x81000000u) {
		r = tpmid_seterr(TPMID_E_PARENT, "key file parent 0x%08x is not the owner "
		    "hierarchy's storage root key", kf->parent);
		goto out;
	}
	if ((r = tpm_blob_public(kf->pub, kf->pub_len, NULL, NULL, NULL)) != 0)
		goto out;
	blob.pub = kf->pub;
	blob.pub_len = kf->pub_len;
	blob.priv = kf->priv;
	blob.priv_len = kf->priv_len;
	for (;;) {
		if ((r = engine_srk_name(e, &srk, &srk_len)) == 0 &&
		    (r = tpm_load(e->tpm, &blob, NULL, 0, &k)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			break;
	}
	if (r != 0) {
		if (r != TPMID_E_NOTPM && r != TPMID_E_NOMEM && r != TPMID_E_TPM_RESET &&
		    r != TPMID_E_TPM_MEMORY)
			r = tpmid_seterr(TPMID_E_PARENT, "the key file does not load under this "
			    "TPM's storage root key (made on another TPM or under another "
			    "parent): %s", tpmid_errmsg(r));
		goto out;
	}
	tpm_key_free(e->tpm, k);
	r = record_identity(e, name, kf, !kf->empty_auth, PERSIST_NO, 0, ret);
out:
	keyfile_free(kf);
	return r;
}

int
engine_import(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	struct tpm_blob blob = { 0 };
	struct keyfile *kf = NULL;
	struct attempt a = { .no_retry = 1 };
	EVP_PKEY *pk = NULL;
	struct tpm *t;
	int has_pin = pin != NULL && pin->len > 0;
	int r;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	if (len == 0 || len > IMPORT_MAX)
		return tpmid_seterr(TPMID_E_FORMAT, "key data is empty or larger than %d bytes",
		    IMPORT_MAX);
	if ((r = check_new_name(e, name)) != 0)
		return r;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	if (keyfile_is_pem((const char *)data, len))
		return import_tss2(e, name, data, len, pin, ret);
	if ((r = ec_privkey_decode(data, len, &pk)) != 0)
		return r;
	for (;;) {
		if ((r = engine_tpm(e, &t)) == 0 &&
		    (r = tpm_import(t, pk, has_pin ? pin : NULL, &blob)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			goto out;
	}
	/* The software key is in the TPM now; drop our copy before anything
	 * else can fail. */
	EVP_PKEY_free(pk);
	pk = NULL;
	if ((r = keyfile_new(TPM_PARENT_OWNER, !has_pin, blob.pub, blob.pub_len, blob.priv,
	    blob.priv_len, &kf)) != 0)
		goto out;
	r = record_identity(e, name, kf, has_pin, PERSIST_NO, 0, ret);
out:
	EVP_PKEY_free(pk); /* EC private keys are cleared by OpenSSL on free */
	keyfile_free(kf);
	tpm_blob_clear(&blob);
	return r;
}

/* Evict the persistent key at `handle`. The key may have been evicted
 * behind our back and the handle reused by another identity or program:
 * with the key's public area (`kf`) known, an object that is not this
 * identity's key is left alone. Nothing there: done. */
static int
evict_checked(struct engine *e, uint32_t handle, const struct keyfile *kf)
{
	struct attempt a = { .no_retry = 1 };
	struct tpm_key *k = NULL;
	struct tpm *t;
	int r;

	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	for (;;) {
		/* Reading a persistent object takes an object slot. */
		entry_make_room(e, NULL, 0);
		if (kf != NULL) {
			r = tpm_load_persistent(t, handle, kf->pub, kf->pub_len, &k);
			if (r == 0)
				r = tpm_evict_key(t, k);
			tpm_key_free(t, k);
			k = NULL;
		} else
			r = tpm_evict(t, handle);
		if (r == TPMID_E_MISMATCH || r == TPMID_E_NOENT) {
			tpmid_clearerr();
			return 0;
		}
		if (r == 0 || !engine_recover(e, r, &a, NULL))
			return r;
	}
}

int
engine_delete(struct engine *e, const char *name)
{
	struct entry *en = NULL;
	struct keyfile *kf = NULL;
	uint32_t handle = 0;
	int r;

	r = entry_get(e, name, &en);
	if (r == TPMID_E_NOENT || r == TPMID_E_INVAL)
		return r;
	/* A malformed file can still be deleted; only a parsed one can tell
	 * us about a persistent handle. */
	if (r == 0) {
		handle = en->id->handle;
		/* The key's public area, to check that the object at the
		 * handle is still this identity's before evicting it. */
		if (handle != 0 && en->id->key_pem != NULL &&
		    keyfile_parse_pem(en->id->key_pem, strlen(en->id->key_pem), &kf) != 0)
			kf = NULL;
	}
	tpmid_clearerr();
	entry_remove(e, name);
	pin_forget(e->sh, name);
	if (handle != 0 && (r = evict_checked(e, handle, kf)) != 0) {
		tpmid_err_prefix("evicting 0x%08x", handle);
		goto out;
	}
	r = store_delete(e->store, name);
out:
	keyfile_free(kf);
	return r;
}

int
engine_srk(struct engine *e, int persist, const char *expect_hex, char **ret_name_hex)
{
	const uint8_t *name;
	uint8_t *want = NULL, *recorded = NULL;
	size_t len, want_len = 0, recorded_len = 0;
	struct tpm *t;
	int r;

	*ret_name_hex = NULL;
	if (expect_hex != NULL) {
		if (hex_decode(expect_hex, &want, &want_len) != 0 || want_len < 2 ||
		    want_len > 2 + 64)
			return tpmid_seterr(TPMID_E_INVAL, "--expect: '%s' is not an SRK name "
			    "(hex, as 'tpmid srk' prints it)", expect_hex);
		/* Pinning is for a store that trusts nothing yet, or the
		 * same name: never a silent switch to another key. */
		if (store_srk_name_get(e->store, &recorded, &recorded_len) == 0 &&
		    recorded_len > 0 &&
		    timingsafe_memeq(recorded, recorded_len, want, want_len) != 0) {
			r = tpmid_seterr(TPMID_E_SRK, "this store already trusts another storage "
			    "root key; remove %s/.srk-name first if the TPM was cleared",
			    store_dir(e->store));
			goto out;
		}
	}
	if ((r = engine_tpm(e, &t)) != 0)
		goto out;
	if (want != NULL)
		tpm_srk_hint(t, want, want_len);
	if ((r = engine_srk_name(e, &name, &len)) != 0)
		goto out;
	if (persist && (r = tpm_srk_persist(t)) != 0)
		goto out;
	if ((*ret_name_hex = hex_encode(name, len)) == NULL)
		r = TPMID_E_NOMEM;
out:
	free(want);
	free(recorded);
	return r;
}
