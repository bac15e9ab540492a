/* The engine's inside, shared by its files and nobody else (engine.h is
 * the contract for the rest of the tree). Calls run one way, down this
 * list: every file may use cache.c, the operations also engine.c, and
 * neither of those two calls back up.
 *
 *   request.c    the agent requests (agent/wire/requests.h) -> the below
 *   sign.c       signing, and the PINs held for it (unlock/lock)
 *   provision.c  keygen, import, delete, the SRK
 *   cert.c       X.509 and OpenSSH certificates on identities
 *   info.c       info, list, the identity file as text
 *   access.c     who may use an identity
 *   engine.c     lifecycle, recovery from TPM faults, status, housekeeping
 *   cache.c      the identity entries (parsed file, held PIN), the LRU of
 *                loaded keys, and the TPM connection they load into */
#ifndef TPMID_ENGINE_INTERNAL_H
#define TPMID_ENGINE_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent/engine/engine.h"
#include "store/identity.h"
#include "store/store.h"
#include "tss/tpm.h"

/* Bound on flush-and-retry rounds per operation (engine_recover). */
#define RECOVER_MAX 8

/* One identity we have seen: its parsed file (re-read when the file's stamp
 * changes), its loaded key if any, and the PIN held for it. */
struct entry {
	struct entry *next;
	char name[TPMID_NAME_MAX + 1];
	struct identity *id;
	struct store_stamp stamp;
	int stale;               /* re-read on next use (engine_rescan) */
	struct tpm_key *key;     /* loaded (or persistent) key, NULL if not */
	int transient;           /* key occupies a transient slot (not a
				  * persistent handle): counts in loaded */
	uint64_t used;           /* LRU clock value of the last use */
	struct secret *pin;      /* held PIN (engine_unlock) */
	time_t pin_expiry;       /* 0: until locked */
	uint8_t *spki;           /* DER of id->public_key_pem, decoded once */
	size_t spki_len;
};

struct engine {
	char *tcti;
	struct store *store;
	struct tpm *tpm;         /* NULL until first needed (lazy_tpm) */
	uid_t owner;             /* the engine's user: full access (access.c) */
	char *held_dir;          /* records of held TPM objects (store/held.h), or NULL */
	unsigned max_loaded;
	unsigned loaded;
	uint64_t clock;
	uint64_t signs;
	uint64_t tpm_resets;
	struct entry *entries;
};

/* Operation state for engine_recover(): one recovery per operation,
 * bounded flushes. `no_retry`: the operation is not safe to send twice
 * (keygen, import, persist): after a recovery it reports the fault. */
struct attempt {
	int resets;
	int rounds;
	int no_retry;
};


/* engine.c */
/* The SRK's name (loads the SRK); records it in the store for fast starts. */
int engine_srk_name(struct engine *e, const uint8_t **ret, size_t *ret_len);
/* After a failed TPM operation: do what makes a retry possible and say
 * whether to retry (1) or give up with `r` (0). `keep` is not evicted. */
int engine_recover(struct engine *e, int r, struct attempt *a, const struct entry *keep);

/* cache.c */
/* The TPM, opened on first need (and its SRK hint loaded). */
int engine_tpm(struct engine *e, struct tpm **ret);
/* 0 if `name` is a valid identity name, else TPMID_E_INVAL saying why. */
int engine_check_name(const char *name);
/* The current entry for `name` (validated), re-read if its file changed. */
int entry_get(struct engine *e, const char *name, struct entry **ret);
struct entry *entry_find(struct engine *e, const char *name);
void entry_remove(struct engine *e, const char *name);
void entry_free(struct engine *e, struct entry *en);
/* Load the entry's key if it is not loaded (within max_loaded). */
int entry_load_key(struct engine *e, struct entry *en);
void entry_drop_pin(struct entry *en);
/* Whether a PIN is held for the entry and has not expired. */
int entry_unlocked(const struct entry *en);
/* Monotonic seconds, for PIN timeouts. */
time_t engine_now(void);
/* Flush every key we loaded (after a reset: forget them). */
void engine_unload_all(struct engine *e);
/* Flush the least recently used transient key other than `keep`: 0, or
 * TPMID_E_NOENT when there is none. */
int engine_evict_lru(struct engine *e, const struct entry *keep);

/* sign.c: one signature with `en`'s key, `pin` (NULL: none) as given. */
int entry_sign(struct engine *e, struct entry *en, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len);

/* info.c */
int entry_spki(struct entry *en);
int entry_info(struct entry *en, struct id_info *ret);

#endif
