/* Deleting identities, and what a killed process left between a persistent
 * key and its file: tombstones (store/store.h) finished, and persistent
 * handles in tpmid's range that no identity records found (status).
 *
 * Deleting a persistent identity moves its file to a tombstone, evicts the
 * key, then removes the tombstone; making one (record_identity) writes the
 * tombstone before TPM2_EvictControl and removes it once the file is
 * written. A kill anywhere leaves either a usable identity or a tombstone
 * the next tpmid process finishes - never an identity whose handle now
 * holds somebody else's key, and no persistent object nobody knows of. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/engine/internal.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "store/keyfile.h"

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

/* The handles live identities record (sorted), plus those of tombstones
 * when `tombstones` (a process still making or deleting them). */
static int
recorded_handles(struct engine *e, int tombstones, uint32_t **ret, size_t *ret_n)
{
	struct store_entry *se = NULL, *te = NULL;
	size_t n = 0, tn = 0, i, k = 0;
	uint32_t *h = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if ((r = store_list(e->store, &se, &n)) != 0)
		return r;
	if (tombstones && (r = store_list_deleting(e->store, 1, &te, &tn)) != 0)
		goto out;
	if ((h = calloc(n + tn + 1, sizeof(*h))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (se[i].id != NULL && se[i].id->handle != 0)
			h[k++] = se[i].id->handle;
	for (i = 0; i < tn; i++)
		if (te[i].id != NULL && te[i].id->handle != 0)
			h[k++] = te[i].id->handle;
	*ret = h;
	*ret_n = k;
	h = NULL;
out:
	free(h);
	store_list_free(se, n);
	store_list_free(te, tn);
	return r;
}

/* A tombstone of a process that is gone: evict its key unless a live
 * identity records the handle (the process died after writing the file),
 * then remove the tombstone. A handle-only identity (no key blob) cannot
 * tell its key from another program's: its object is left for status to
 * report. */
static int
finish_tombstone(struct engine *e, const struct store_entry *se, const uint32_t *live,
    size_t nlive)
{
	const struct identity *id = se->id;
	struct keyfile *kf = NULL;
	int r = 0;

	if (id != NULL && id->handle != 0 && id->key_pem != NULL &&
	    !u32_in(live, nlive, id->handle)) {
		if ((r = keyfile_parse_pem(id->key_pem, strlen(id->key_pem), &kf)) != 0)
			goto out;
		if ((r = evict_checked(e, id->handle, kf)) != 0) {
			tpmid_err_prefix("finishing the deletion of '%s': evicting 0x%08x", se->name,
			    id->handle);
			goto out;
		}
		log_info("evicted 0x%08x, left by a killed tpmid process (identity '%s', pid %ld)",
		    id->handle, se->name, se->pid);
	}
	r = store_delete_end(e->store, se->name, se->pid);
out:
	keyfile_free(kf);
	return r;
}

/* The persistent handles in tpmid's range no identity or tombstone records,
 * into the shared status. */
static int
scan_orphans(struct engine *e)
{
	uint32_t *in_tpm = NULL, *rec = NULL;
	size_t n = 0, nrec = 0, i;
	struct tpm *t;
	unsigned k = 0;
	int r;

	if ((r = engine_tpm(e, &t)) != 0 || (r = tpm_persistent_handles(t, &in_tpm, &n)) != 0 ||
	    (r = recorded_handles(e, 1, &rec, &nrec)) != 0)
		goto out;
	pthread_mutex_lock(&e->sh->mu);
	for (i = 0; i < n; i++)
		if (!u32_in(rec, nrec, in_tpm[i])) {
			if (k < WIRE_ORPHANS_MAX)
				e->sh->orphan[k] = in_tpm[i];
			k++;
		}
	e->sh->n_orphans = k;
	pthread_mutex_unlock(&e->sh->mu);
out:
	free(in_tpm);
	free(rec);
	return r;
}

int
engine_tidy(struct engine *e, int scan)
{
	struct store_entry *se = NULL;
	uint32_t *live = NULL;
	size_t n = 0, nlive = 0, i;
	int r, r2;

	if ((r = store_list_deleting(e->store, 0, &se, &n)) != 0)
		return r;
	if (n > 0 && (r = recorded_handles(e, 0, &live, &nlive)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((r2 = finish_tombstone(e, &se[i], live, nlive)) != 0) {
			log_warn("%s", tpmid_errmsg(r2));
			if (r == 0)
				r = r2;
		}
	tpmid_clearerr();
	if (scan && (r2 = scan_orphans(e)) != 0 && r == 0)
		r = r2;
out:
	free(live);
	store_list_free(se, n);
	return r;
}

int
engine_delete(struct engine *e, const char *name)
{
	struct tpmid_errstate saved;
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
	if (handle == 0) {
		r = store_delete(e->store, name);
		goto out;
	}
	if ((r = store_delete_begin(e->store, name)) != 0)
		goto out;
	if ((r = evict_checked(e, handle, kf)) != 0) {
		/* Still there: the identity stays as it was. */
		tpmid_err_prefix("evicting 0x%08x", handle);
		tpmid_err_save(&saved);
		if (store_delete_undo(e->store, name) != 0)
			log_warn("identity '%s' stays deleted; the next tpmid process evicts "
			    "0x%08x", name, handle);
		tpmid_err_restore(&saved);
		goto out;
	}
	/* The handles nothing records are as they were: no rescan. */
	r = store_delete_end(e->store, name, 0);
out:
	keyfile_free(kf);
	return r;
}
