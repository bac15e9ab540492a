/* The engine's inside, shared by its files and nobody else (engine.h is
 * the contract for the rest of the tree). Calls run one way, down this
 * list: every file may use cache.c, the operations also engine.c, and
 * neither of those two calls back up.
 *
 *   request.c    the agent requests (agent/wire/requests.h) -> the below
 *   sign.c       signing, and the PINs held for it (unlock/lock)
 *   budget.c     whether a PIN from another user may cost a TPM try
 *   provision.c  keygen, import, the SRK
 *   delete.c     delete, and what killed processes left (tombstones,
 *                persistent handles nothing records)
 *   cert.c       X.509 and OpenSSH certificates on identities
 *   info.c       info, list, status, the identity file as text
 *   access.c     who may use an identity
 *   engine.c     lifecycle, recovery from TPM faults, housekeeping
 *   cache.c      the identity entries (parsed file), the LRU of loaded
 *                keys, and the TPM connection they load into
 *   shared.c     what the agent's two engines share: held PINs, counters
 *                (used by all above; uses nobody) */
#ifndef TPMID_ENGINE_INTERNAL_H
#define TPMID_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent/engine/engine.h"
#include "store/identity.h"
#include "store/store.h"
#include "tss/tpm.h"

/* Bound on flush-and-retry rounds per operation (engine_recover). */
#define RECOVER_MAX 8

#define ENTRY_FP_LEN 32

/* One identity we have seen: its parsed file (re-read when the file's stamp
 * changes) and its loaded key if any. */
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
	uint8_t fp[ENTRY_FP_LEN]; /* the key a held PIN is bound to */
	uint8_t *spki;           /* DER of id->public_key_pem, decoded once */
	size_t spki_len;
};

/* Shared by an engine and its front (engine_new_front), which run in two
 * threads: the held PINs under `mu`, the counters atomic. */
struct shared {
	pthread_mutex_t mu;
	unsigned refs;
	struct held_pin *pins;
	atomic_uint loaded;      /* transient keys the TPM side holds */
	atomic_uint_least64_t signs;
	atomic_uint_least64_t tpm_resets;
	atomic_int tpm_ok;       /* the last TPM operation reached the TPM */
	atomic_int stalled;      /* the agent finds the TPM not answering */
	atomic_uint rescan;      /* engine_rescan() generation */
	/* Under mu: persistent handles in tpmid's range no identity records,
	 * as engine_tidy() last found them (status). */
	uint32_t orphan[WIRE_ORPHANS_MAX];
	unsigned n_orphans;
};

/* A wrong PIN from a peer other than the owner (budget.c). */
struct peer_fail {
	uid_t uid;
	time_t at;               /* monotonic seconds; 0: free */
};

struct engine {
	char *tcti;
	struct store *store;
	struct tpm *tpm;         /* NULL until first needed (lazy_tpm) */
	uid_t owner;             /* the engine's user: full access (access.c) */
	char *held_dir;          /* records of held TPM objects (store/held.h), or NULL */
	unsigned max_loaded;
	unsigned room;           /* keys the TPM has room for (0: not asked
				  * yet; entry_make_room) */
	uint64_t clock;
	struct shared *sh;
	unsigned rescan_seen;    /* sh->rescan as of the last entry_get */
	int front;               /* never opens the TPM (engine_new_front) */
	struct {
		int set;         /* the request came from a socket peer... */
		uid_t uid;       /* ...of this uid (engine_call_peer) */
	} peer;
	struct peer_fail peer_fail[32];
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

/* budget.c */
/* Before a PIN the caller sent (not a held one) goes to the TPM: 0 for the
 * owner, root and in-process callers; for another peer, TPMID_E_LOCKOUT
 * when the TPM's dictionary-attack tries are down to the owner's reserve
 * or the uid gave a wrong PIN within the TPM's lockout interval. */
int budget_peer_pin(struct engine *e, const char *name);
/* That PIN was wrong (TPMID_E_BADPIN): count it against the peer's uid. */
void budget_peer_failed(struct engine *e);

/* delete.c */
/* Finish the tombstones of killed processes (evicting their keys) and,
 * with `scan`, list the persistent handles in tpmid's range that nothing
 * records (one TPM2_GetCapability). No TPM command when there is nothing
 * to finish and no scan. */
int engine_tidy(struct engine *e, int scan);

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
/* Before a command that needs an object slot for `en`'s key - loading it,
 * or any use of a persistent key, which the TPM loads for each command -
 * unload least recently used keys until the TPM has room (learned from
 * the TPM when a second key is due: TPM2_PT_HR_TRANSIENT_AVAIL) and, for a
 * transient key, until max_loaded is kept. Saves the failed command and
 * the retry TPM_RC_OBJECT_MEMORY would cost. `en` NULL: a persistent object
 * of no entry. */
void entry_make_room(struct engine *e, struct entry *en, int transient);
/* Load the entry's key if it is not loaded (within max_loaded). */
int entry_load_key(struct engine *e, struct entry *en);
/* Flush the entry's key from the TPM (it is loaded again on next use). */
void entry_unload(struct engine *e, struct entry *en);
/* Whether a PIN is held for the entry and has not expired. */
int entry_unlocked(struct engine *e, const struct entry *en);
/* Flush every key we loaded (after a reset: forget them). */
void engine_unload_all(struct engine *e);
/* Flush the least recently used transient key other than `keep`: 0, or
 * TPMID_E_NOENT when there is none. */
int engine_evict_lru(struct engine *e, const struct entry *keep);

/* shared.c */
int shared_new(struct shared **ret);
struct shared *shared_ref(struct shared *s);
void shared_unref(struct shared *s);
/* Digest of what a PIN is checked against: key blob, handle, auth mode. */
void entry_fingerprint(const struct identity *id, uint8_t fp[ENTRY_FP_LEN]);
/* Hold a copy of `pin` for `en`'s key (replacing any). */
int pin_hold(struct shared *s, const struct entry *en, const struct secret *pin,
    unsigned timeout_s);
/* A copy of the PIN held for `en`'s key (free it), or *ret NULL if none. */
int pin_copy(struct shared *s, const struct entry *en, struct secret **ret);
int pin_held(struct shared *s, const struct entry *en);
/* Forget the PIN held for `name`, or all when NULL. */
void pin_forget(struct shared *s, const char *name);
/* Drop expired PINs: seconds until the next expiry or -1; `ret_count`
 * (may be NULL) the PINs still held. */
int pin_expire(struct shared *s, unsigned *ret_count);

/* sign.c: one signature with `en`'s key, `pin` (NULL: none) as given. */
int entry_sign(struct engine *e, struct entry *en, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len);

/* info.c */
int entry_spki(struct entry *en);
int entry_info(struct engine *e, struct entry *en, struct id_info *ret);

#endif
