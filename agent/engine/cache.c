/* The engine's identity entries and the cache of loaded keys: an entry is
 * re-read when its file's stamp changes (stat per use, so edits by the CLI
 * or by hand are seen at once), and keys are
 * loaded on first use and kept in an LRU bounded by max_loaded (the SRK
 * stays loaded besides), in the TPM opened here on first need. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "agent/engine/internal.h"
#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"
#include "store/held.h"
#include "store/keyfile.h"

int
engine_check_name(const char *name)
{
	if (!identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL, "'%s' is not a valid identity name "
		    "(1-%d characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-')", name,
		    TPMID_NAME_MAX);
	return 0;
}

void
entry_unload(struct engine *e, struct entry *en)
{
	if (en->key == NULL)
		return;
	if (e->tpm != NULL)
		tpm_key_free(e->tpm, en->key);
	en->key = NULL;
	if (en->transient)
		e->sh->loaded--;
	en->transient = 0;
}

void
entry_free(struct engine *e, struct entry *en)
{
	entry_unload(e, en);
	identity_free(en->id);
	free(en->spki);
	free(en);
}

void
engine_unload_all(struct engine *e)
{
	struct entry *en;

	for (en = e->entries; en != NULL; en = en->next)
		entry_unload(e, en);
	/* On a new connection other programs may hold other slots. */
	e->room = 0;
}

/* How many keys fit: asked once, when a second key is about to be loaded
 * (a CLI that signs with one key never pays the command). Our SRK and
 * keys are loaded, so they fit plus what the TPM still has free; through
 * a resource manager, which swaps objects out between commands, there is
 * no such bound. */
static void
engine_learn_room(struct engine *e, struct tpm *t)
{
	unsigned avail;

	e->room = UINT_MAX;
	if (tpm_has_rm(t) || tpm_transient_avail(t, &avail) != 0) {
		tpmid_clearerr();
		return;
	}
	e->room = e->sh->loaded + avail > 0 ? e->sh->loaded + avail : 1;
}

/* Flush the least recently used loaded key other than `keep`. 0 if one was
 * flushed, TPMID_E_NOENT if we hold none. */
int
engine_evict_lru(struct engine *e, const struct entry *keep)
{
	struct entry *en, *victim = NULL;

	/* Only transient keys: unloading a persistent key's handle frees no
	 * TPM memory. */
	for (en = e->entries; en != NULL; en = en->next)
		if (en->key != NULL && en->transient && en != keep &&
		    (victim == NULL || en->used < victim->used))
			victim = en;
	if (victim == NULL)
		return TPMID_E_NOENT;
	entry_unload(e, victim);
	return 0;
}

struct entry *
entry_find(struct engine *e, const char *name)
{
	struct entry *en;

	for (en = e->entries; en != NULL; en = en->next)
		if (strcmp(en->name, name) == 0)
			return en;
	return NULL;
}

void
entry_remove(struct engine *e, const char *name)
{
	struct entry **pp, *en;

	for (pp = &e->entries; (en = *pp) != NULL; pp = &en->next)
		if (strcmp(en->name, name) == 0) {
			*pp = en->next;
			entry_free(e, en);
			return;
		}
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The current identity `name`: the cached parse while the file's stamp is
 * unchanged, else a fresh read. A changed key drops the loaded key and the
 * held PIN (they belonged to the old key). */
int
entry_get(struct engine *e, const char *name, struct entry **ret)
{
	struct store_stamp st;
	struct identity *id = NULL;
	struct entry *en;
	int r;

	*ret = NULL;
	if ((r = engine_check_name(name)) != 0)
		return r;
	if (e->rescan_seen != e->sh->rescan) {
		e->rescan_seen = e->sh->rescan;
		for (en = e->entries; en != NULL; en = en->next)
			en->stale = 1;
	}
	en = entry_find(e, name);
	if ((r = store_stat(e->store, name, &st)) != 0) {
		if (r == TPMID_E_NOENT) {
			entry_remove(e, name);
			return tpmid_seterr(r, "no identity '%s' in %s", name, store_dir(e->store));
		}
		return r;
	}
	if (en != NULL && !en->stale && store_stamp_eq(&en->stamp, &st)) {
		*ret = en;
		return 0;
	}
	if ((r = store_load(e->store, name, &id, &st)) != 0) {
		if (r == TPMID_E_NOENT) {
			entry_remove(e, name);
			return tpmid_seterr(r, "no identity '%s' in %s", name, store_dir(e->store));
		}
		return r;
	}
	if (en == NULL) {
		if ((en = calloc(1, sizeof(*en))) == NULL) {
			identity_free(id);
			return TPMID_E_NOMEM;
		}
		snprintf(en->name, sizeof(en->name), "%s", name);
		en->next = e->entries;
		e->entries = en;
	} else {
		/* A held PIN is bound to the key (entry_fingerprint): a new
		 * one is never tried with it. */
		if (!same_str(en->id->key_pem, id->key_pem) || en->id->handle != id->handle ||
		    en->id->pin != id->pin)
			entry_unload(e, en);
		identity_free(en->id);
	}
	free(en->spki);
	en->spki = NULL;
	en->spki_len = 0;
	en->id = id;
	entry_fingerprint(id, en->fp);
	en->stamp = st;
	en->stale = 0;
	*ret = en;
	return 0;
}

/* Load the entry's key if it is not loaded: the persistent handle when the
 * identity has one (falling back to the blob if it was evicted behind our
 * back), else the TSS2 key blob under the SRK whose name was recorded. */
void
entry_make_room(struct engine *e, struct entry *en, int transient)
{
	unsigned bound;

	if (e->tpm == NULL || (en != NULL && en->key != NULL && en->transient))
		return;
	if (e->room == 0 && e->sh->loaded > 0)
		engine_learn_room(e, e->tpm);
	/* A transient key also keeps within --max-loaded; a persistent one,
	 * which stays in the TPM's NV, needs only a slot for the command. */
	bound = e->room ? e->room : UINT_MAX;
	if (transient && e->max_loaded < bound)
		bound = e->max_loaded;
	while (e->sh->loaded >= bound && engine_evict_lru(e, en) == 0)
		;
}

/* "public_key" is what pubkey, csr and ssh show; the blob's public area is
 * the key the TPM signs with. A file where they differ (edited, or pieced
 * together from two) would make signatures nobody can verify, so it is
 * refused before the TPM sees it. No TPM command: both are in the file. */
static int
check_public(const struct identity *id, const struct keyfile *kf)
{
	EVP_PKEY *pk = NULL;
	uint8_t *want = NULL;
	unsigned char *got = NULL;
	size_t want_len = 0;
	int n = 0, r;

	if (id->public_key_pem == NULL)
		return 0;
	if ((r = tpm_blob_public(kf->pub, kf->pub_len, NULL, &pk, NULL)) != 0) {
		tpmid_err_prefix("identity '%s': tpmid.key", id->name);
		return r;
	}
	if ((r = ec_spki_from_pem(id->public_key_pem, &want, &want_len)) != 0)
		tpmid_err_prefix("identity '%s': tpmid.public_key", id->name);
	else if ((n = i2d_PUBKEY(pk, &got)) <= 0)
		r = TPMID_E_NOMEM;
	else if ((size_t)n != want_len || memcmp(got, want, want_len) != 0)
		r = tpmid_seterr(TPMID_E_FORMAT, "identity '%s': tpmid.public_key is not the "
		    "public key of tpmid.key (the file was edited or pieced together); "
		    "signatures would not verify against 'tpmid pubkey'", id->name);
	OPENSSL_free(got);
	free(want);
	EVP_PKEY_free(pk);
	return r;
}

int
entry_load_key(struct engine *e, struct entry *en)
{
	struct identity *id = en->id;
	struct keyfile *kf = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm *t;
	int r;

	if (en->key != NULL)
		return 0;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	en->transient = 0;
	if (id->key_pem != NULL &&
	    (r = keyfile_parse_pem(id->key_pem, strlen(id->key_pem), &kf)) != 0) {
		tpmid_err_prefix("identity '%s': tpmid.key", id->name);
		goto out;
	}
	/* "auth": "none" on a key that has an auth value (emptyAuth FALSE)
	 * would be signed with the empty password, and on a DA-protected key
	 * every such sign costs a dictionary-attack try. Refuse before the
	 * TPM sees it (entry_get unloads when "auth" changes, so loading is
	 * the one place to check). */
	if (kf != NULL && (r = check_public(id, kf)) != 0)
		goto out;
	if (kf != NULL && !id->pin && !kf->empty_auth) {
		r = tpmid_seterr(TPMID_E_FORMAT, "identity '%s': \"auth\" is \"none\" but its key "
		    "has an auth value (emptyAuth is false); set \"auth\": \"pin\"", id->name);
		goto out;
	}
	if (id->handle != 0) {
		entry_make_room(e, en, 0);
		r = tpm_load_persistent(t, id->handle, kf ? kf->pub : NULL, kf ? kf->pub_len : 0,
		    &en->key);
		/* Evicted behind our back, and perhaps the handle reused by
		 * another key: the blob still loads under the SRK. */
		if ((r != TPMID_E_NOENT && r != TPMID_E_MISMATCH) || kf == NULL)
			goto out;
		tpmid_clearerr();
	}
	if (kf == NULL) {
		r = tpmid_seterr(TPMID_E_FORMAT, "identity '%s' has neither a key nor a handle",
		    id->name);
		goto out;
	}
	entry_make_room(e, en, 1);
	blob.pub = kf->pub;
	blob.pub_len = kf->pub_len;
	blob.priv = kf->priv;
	blob.priv_len = kf->priv_len;
	r = tpm_load(t, &blob, id->parent_name, id->parent_name_len, &en->key);
	if (r == 0)
		en->transient = 1;
out:
	if (r == 0 && en->transient)
		e->sh->loaded++;
	else if (r != 0)
		en->key = NULL;
	keyfile_free(kf);
	return r;
}

int
entry_unlocked(struct engine *e, const struct entry *en)
{
	return en != NULL && en->id->pin && pin_held(e->sh, en);
}

/* tpm_on_held(): keep this process's record current. A failure to write
 * it only costs the cleanup after a crash, and must not replace the
 * detail of an error on its way up. */
static void
held_changed(void *ctx, const struct tpm_held *h)
{
	struct engine *e = ctx;
	struct tpmid_errstate saved;
	struct held_record rec = {
		.pid = getpid(), .reset_count = h->reset_count, .restart_count = h->restart_count,
		.handles = (uint32_t *)(uintptr_t)h->handles, .n = h->n, .pending = h->pending,
		.known = (uint32_t *)(uintptr_t)h->known, .n_known = h->n_known,
	};

	tpmid_err_save(&saved);
	(void)held_put(e->held_dir, e->tcti, &rec);
	tpmid_err_restore(&saved);
}

/* On a TPM without a resource manager: flush what killed tpmid processes
 * left loaded (their records; what running ones hold is theirs), then
 * keep our own record. */
static void
held_start(struct engine *e)
{
	struct held_record *recs = NULL;
	uint32_t *claimed = NULL;
	size_t n = 0, n_claimed = 0, i, k;
	struct tpm_held v;
	int live_pending = 0;

	if (tpm_has_rm(e->tpm) || held_dir(&e->held_dir) < 0) {
		tpmid_clearerr();
		return;
	}
	if (held_list(e->held_dir, e->tcti, &recs, &n) == 0) {
		for (i = 0; i < n; i++)
			if (recs[i].alive) {
				n_claimed += recs[i].n;
				/* A running one is making an object we cannot tell
				 * from a dead one's: sweep nothing unrecorded now. */
				live_pending |= recs[i].pending;
			}
		if (n_claimed > 0 && (claimed = calloc(n_claimed, sizeof(*claimed))) == NULL)
			goto out;
		for (i = 0, k = 0; claimed != NULL && i < n; i++)
			if (recs[i].alive) {
				memcpy(claimed + k, recs[i].handles, recs[i].n * sizeof(*claimed));
				k += recs[i].n;
			}
		for (i = 0; i < n; i++) {
			if (recs[i].alive)
				continue;
			v.reset_count = recs[i].reset_count;
			v.restart_count = recs[i].restart_count;
			v.handles = recs[i].handles;
			v.n = recs[i].n;
			v.pending = recs[i].pending && !live_pending;
			v.known = recs[i].known;
			v.n_known = recs[i].n_known;
			(void)tpm_flush_dead(e->tpm, &v, claimed, n_claimed);
			(void)held_remove(e->held_dir, e->tcti, recs[i].pid);
		}
	}
out:
	free(claimed);
	held_records_free(recs, n);
	tpmid_clearerr();
	tpm_on_held(e->tpm, held_changed, e);
}

int
engine_tpm(struct engine *e, struct tpm **ret)
{
	uint8_t *hint = NULL;
	size_t hint_len = 0;
	int r;

	*ret = NULL;
	if (e->front)
		return tpmid_seterr(TPMID_E_TPM, "internal error: the agent's front engine "
		    "needs no TPM");
	if (e->tpm == NULL) {
		if ((r = tpm_open(e->tcti, &e->tpm)) != 0) {
			e->sh->tpm_ok = 0;
			e->tpm = NULL;
			/* The user must learn which TCTI was tried. */
			if (r == TPMID_E_NOTPM && strstr(tpmid_errmsg(r), e->tcti) == NULL)
				tpmid_seterr(r, "no TPM reachable at TCTI \"%s\" (set --tcti or "
				    "TPMID_TCTI)", e->tcti);
			return r;
		}
		held_start(e);
		/* A persisted SRK copy is trusted only under the name this
		 * store recorded (DESIGN.md "TPM conventions"). */
		if (store_srk_name_get(e->store, &hint, &hint_len) == 0)
			tpm_srk_hint(e->tpm, hint, hint_len);
		free(hint);
		tpmid_clearerr();
	}
	*ret = e->tpm;
	return 0;
}
