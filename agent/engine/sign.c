/* Signing, and the PINs held for it: a PIN given to engine_unlock() is
 * checked by the TPM (one signature) and held in locked memory (struct
 * secret, shared.c) until engine_lock(), its timeout, or the engine's end. */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "agent/engine/internal.h"
#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"

/* The PIN to use for a sign: the caller's, else a copy of the held one
 * (`*ret_held`, freed by the caller: another thread may forget the held
 * PIN meanwhile). */
static int
pick_pin(struct engine *e, struct entry *en, const struct secret *pin,
    const struct secret **ret, struct secret **ret_held)
{
	int r;

	*ret = NULL;
	*ret_held = NULL;
	if (!en->id->pin)
		return 0;
	if (pin != NULL && pin->len > 0) {
		*ret = pin;
		return 0;
	}
	if ((r = pin_copy(e->sh, en, ret_held)) != 0)
		return r;
	if (*ret_held == NULL)
		return tpmid_seterr(TPMID_E_LOCKED, "identity '%s' needs its PIN: run 'tpmid unlock %s'",
		    en->name, en->name);
	*ret = *ret_held;
	return 0;
}

int
entry_sign(struct engine *e, struct entry *en, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	struct attempt a = { 0 };
	int r;

	for (;;) {
		if ((r = entry_load_key(e, en)) == 0) {
			en->used = ++e->clock;
			entry_make_room(e, en, 0);
			r = tpm_sign(e->tpm, en->key, digest, digest_len, pin, ret_der, ret_len);
			if (r == 0) {
				e->sh->signs++;
				e->sh->tpm_ok = 1;
				return 0;
			}
		}
		if (!engine_recover(e, r, &a, en))
			return r;
	}
}

int
engine_sign_digest(struct engine *e, const char *name, const uint8_t *digest,
    size_t digest_len, const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	const struct secret *use = NULL;
	struct secret *held = NULL;
	const struct curve_info *c;
	struct entry *en;
	int r;

	*ret_der = NULL;
	*ret_len = 0;
	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if ((c = curve_get(en->id->alg)) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "identity '%s': unknown algorithm", name);
	if (digest_len != c->digest_len)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s' (%s) signs %zu-byte digests, "
		    "got %zu bytes", name, c->nist, c->digest_len, digest_len);
	if ((r = pick_pin(e, en, pin, &use, &held)) != 0)
		return r;
	if (use != NULL && held == NULL && (r = budget_peer_pin(e, name)) != 0)
		return r;
	r = entry_sign(e, en, digest, digest_len, use, ret_der, ret_len);
	if (r == TPMID_E_BADPIN && held == NULL)
		budget_peer_failed(e);
	/* A held PIN the TPM rejects (the key's auth was changed behind our
	 * back) must not be replayed: every later sign would cost another
	 * dictionary-attack try until lockout. Forget it; the user unlocks
	 * again. */
	if (r == TPMID_E_BADPIN && held != NULL)
		pin_forget(e->sh, en->name);
	secret_free(held);
	return r;
}

int
engine_sign_data(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned int dg_len = 0;
	struct entry *en;
	const EVP_MD *md;
	int r;

	*ret_der = NULL;
	*ret_len = 0;
	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if ((md = ec_md(curve_get(en->id->alg))) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "identity '%s': unknown algorithm", name);
	if (EVP_Digest(data, len, dg, &dg_len, md, NULL) != 1)
		return tpmid_seterr(TPMID_E_NOMEM, "hashing failed");
	return engine_sign_digest(e, name, dg, dg_len, pin, ret_der, ret_len);
}

int
engine_unlock(struct engine *e, const char *name, const struct secret *pin,
    unsigned timeout_s)
{
	uint8_t dg[EVP_MAX_MD_SIZE];
	uint8_t *der = NULL;
	size_t der_len = 0;
	const struct curve_info *c;
	struct entry *en;
	int r;

	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if (!en->id->pin)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s' has no PIN", name);
	if (pin == NULL || pin->len == 0)
		return tpmid_seterr(TPMID_E_NEEDPIN, "no PIN given for identity '%s'", name);
	if ((c = curve_get(en->id->alg)) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "identity '%s': unknown algorithm", name);
	if (RAND_bytes(dg, c->digest_len) != 1)
		return tpmid_seterr(TPMID_E_NOMEM, "no random bytes");
	if ((r = budget_peer_pin(e, name)) != 0)
		return r;
	/* The TPM is the judge of the PIN: one signature proves it. */
	r = entry_sign(e, en, dg, c->digest_len, pin, &der, &der_len);
	free(der);
	if (r == TPMID_E_BADPIN)
		budget_peer_failed(e);
	if (r != 0)
		return r;
	return pin_hold(e->sh, en, pin, timeout_s);
}

int
engine_lock(struct engine *e, const char *name)
{
	struct store_stamp st;
	int r;

	if (name == NULL) {
		pin_forget(e->sh, NULL);
		return 0;
	}
	if ((r = engine_check_name(name)) != 0)
		return r;
	pin_forget(e->sh, name);
	if ((r = store_stat(e->store, name, &st)) != 0)
		return r == TPMID_E_NOENT ?
		    tpmid_seterr(r, "no identity '%s' in %s", name, store_dir(e->store)) : r;
	return 0;
}
