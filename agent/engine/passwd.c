/* Changing, adding or removing an identity's PIN: TPM2_ObjectChangeAuth
 * gives a new private area for the same key, which replaces tpmid.key
 * atomically. The old blob still opens with the old PIN (the TPM cannot
 * take back copies): only the store's copy is replaced. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/engine/internal.h"
#include "common/err.h"
#include "common/util.h"
#include "store/keyfile.h"

struct new_key {
	const char *old_pem; /* the blob the change was made from */
	char *pem;           /* the new blob */
	int pin;
};

static int
replace_key(struct identity *id, void *arg)
{
	struct new_key *nk = arg;

	/* Written over only if nobody replaced the key meanwhile. */
	if (id->key_pem == NULL || strcmp(id->key_pem, nk->old_pem) != 0)
		return tpmid_seterr(TPMID_E_BUSY, "identity '%s' changed while its PIN was being "
		    "changed; try again", id->name);
	free(id->key_pem);
	id->key_pem = nk->pem;
	nk->pem = NULL;
	id->pin = nk->pin;
	return 0;
}

int
engine_passwd(struct engine *e, const char *name, const struct secret *old_pin,
    const struct secret *new_pin)
{
	struct new_key nk = { 0 };
	struct keyfile *kf = NULL, *nkf = NULL;
	struct attempt a = { 0 };
	struct entry *en;
	uint8_t *priv = NULL;
	size_t priv_len = 0;
	int r, noda_clear = 0, has_new = new_pin != NULL && new_pin->len > 0;

	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if (en->id->handle != 0)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s' has a persistent key (0x%08x), "
		    "which would keep its old PIN: a persistent key's PIN cannot be changed; "
		    "make a new key", name, en->id->handle);
	if (en->id->key_pem == NULL)
		return tpmid_seterr(TPMID_E_FORMAT, "identity '%s' has no key blob", name);
	if (en->id->pin && (old_pin == NULL || old_pin->len == 0))
		return tpmid_seterr(TPMID_E_LOCKED, "identity '%s' needs its current PIN", name);
	if ((r = keyfile_parse_pem(en->id->key_pem, strlen(en->id->key_pem), &kf)) != 0 ||
	    (r = tpm_blob_public(kf->pub, kf->pub_len, NULL, NULL, &noda_clear)) != 0)
		goto out;
	/* tpmid makes keys without a PIN with noDA (DESIGN.md): guesses at
	 * a PIN put on such a key would never count towards the lockout. */
	if (has_new && !noda_clear) {
		r = tpmid_seterr(TPMID_E_INVAL, "identity '%s' was made without a PIN, so without "
		    "dictionary-attack protection (noDA): a PIN on it could be guessed without "
		    "limit; make a new key with a PIN (tpmid keygen NAME --pin)", name);
		goto out;
	}
	for (;;) {
		if ((r = entry_load_key(e, en)) == 0) {
			en->used = ++e->clock;
			r = tpm_change_auth(e->tpm, en->key, en->id->pin ? old_pin : NULL, new_pin,
			    &priv, &priv_len);
			if (r == 0)
				break;
		}
		if (!engine_recover(e, r, &a, en))
			goto out;
	}
	if ((r = keyfile_new(kf->parent, !has_new, kf->pub, kf->pub_len, priv, priv_len,
	    &nkf)) != 0 || (r = keyfile_to_pem(nkf, &nk.pem)) != 0)
		goto out;
	nk.old_pem = en->id->key_pem;
	nk.pin = has_new;
	r = store_update(e->store, name, replace_key, &nk);
	/* The key loaded from the old blob still takes the old PIN. */
	entry_unload(e, en);
	engine_rescan(e);
out:
	free(nk.pem);
	freezero(priv, priv_len);
	keyfile_free(nkf);
	keyfile_free(kf);
	return r;
}
