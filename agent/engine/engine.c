/* The engine: identities from the store, keys in the TPM, and the cache of
 * loaded keys between them (engine.h is the contract, internal.h the map
 * of the other files). This file: the engine's life, and the recovery every
 * TPM operation goes through on failure.
 *
 * Out of TPM memory flushes our least recently used key (then the cached
 * session) and retries; a TPM reset drops every handle, reconnects and
 * retries once. The engine never logs; the agent and the CLI report
 * tpmid_errmsg(). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine/internal.h"
#include "common/err.h"
#include "common/util.h"

int
engine_srk_name(struct engine *e, const uint8_t **ret, size_t *ret_len)
{
	struct tpm *t;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	if ((r = tpm_srk_name(t, ret, ret_len)) != 0)
		return r;
	/* Best effort: a read-only store only costs start-up time. */
	(void)store_srk_name_put(e->store, *ret, *ret_len);
	tpmid_clearerr();
	return 0;
}

/* Out of TPM memory: flush our least recently used key, then the cached
 * session. A TPM reset or a lost connection: if our SRK is still there it
 * was neither, one of our objects vanished; otherwise reconnect. */
int
engine_recover(struct engine *e, int r, struct attempt *a, const struct entry *keep)
{
	int reset = 0;

	if (++a->rounds > RECOVER_MAX)
		return 0;
	if (r == TPMID_E_TPM_MEMORY) {
		if (engine_evict_lru(e, keep) == 0)
			return 1;
		if (e->tpm != NULL && tpm_release_session(e->tpm) == 0)
			return 1;
		return 0;
	}
	if (r == TPMID_E_TPM_RESET && a->resets == 0 && e->tpm != NULL) {
		/* A lost or garbled answer, objects gone from under us, or a
		 * TPM reset: start over on a new connection, with our objects
		 * flushed (tpm_recover). Every key we held is stale after it;
		 * unloading them only frees memory. */
		a->resets++;
		r = tpm_recover(e->tpm, &reset);
		if (reset)
			e->sh->tpm_resets++;
		e->sh->tpm_ok = r == 0;
		engine_unload_all(e);
		/* Only what is safe to send twice is retried (a sign, a
		 * load); the rest reports the fault it met. */
		return r == 0 && !a->no_retry;
	}
	return 0;
}

int
engine_new(const struct engine_cfg *cfg, struct engine **ret)
{
	struct engine *e;
	const uint8_t *nm;
	size_t nm_len;
	int r;

	*ret = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return TPMID_E_NOMEM;
	e->owner = geteuid();
	e->max_loaded = cfg->max_loaded ? cfg->max_loaded : ENGINE_MAX_LOADED_DEFAULT;
	if ((r = shared_new(&e->sh)) != 0)
		goto out;
	if ((e->tcti = strdup(tpm_tcti_default(cfg->tcti))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = store_open(cfg->store_dir, !cfg->store_lazy, &e->store)) != 0)
		goto out;
	if (!cfg->lazy_tpm && (r = engine_srk_name(e, &nm, &nm_len)) != 0)
		goto out;
	*ret = e;
	e = NULL;
out:
	engine_free(e);
	return r;
}

int
engine_new_front(struct engine *back, struct engine **ret)
{
	struct engine *e;
	int r;

	*ret = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return TPMID_E_NOMEM;
	e->front = 1;
	e->owner = back->owner;
	e->max_loaded = back->max_loaded;
	e->sh = shared_ref(back->sh);
	e->rescan_seen = e->sh->rescan;
	if ((e->tcti = strdup(back->tcti)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	/* Its own handle on the same directory: a store is not shared
	 * between threads. */
	if ((r = store_open(store_dir(back->store), 0, &e->store)) != 0)
		goto out;
	*ret = e;
	e = NULL;
out:
	engine_free(e);
	return r;
}

const char *
engine_tcti(const struct engine *e)
{
	return e->tcti;
}

void
engine_set_stalled(struct engine *e, int stalled)
{
	e->sh->stalled = stalled;
}

void
engine_free(struct engine *e)
{
	struct entry *en;

	if (e == NULL)
		return;
	while ((en = e->entries) != NULL) {
		e->entries = en->next;
		entry_free(e, en);
	}
	if (e->tpm != NULL)
		tpm_close(e->tpm); /* flushing everything also empties our record */
	free(e->held_dir);
	store_free(e->store);
	free(e->tcti);
	shared_unref(e->sh);
	free(e);
}

int
engine_tick(struct engine *e)
{
	return pin_expire(e->sh, NULL);
}

void
engine_rescan(struct engine *e)
{
	struct entry *en;

	for (en = e->entries; en != NULL; en = en->next)
		en->stale = 1;
	/* And the other engine, at its next use. */
	e->sh->rescan++;
}
