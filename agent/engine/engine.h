/* The engine: identities from the store, keys in the TPM, and the cache of
 * loaded keys between them. The agent serves it over the socket; the CLI
 * runs it in-process when no agent answers; both send it the same
 * requests (engine_call), so both behave the same. It speaks the wire's
 * types (agent/wire/wire.h) and never logs: callers report
 * tpmid_errmsg().
 *
 * Key cache: the SRK stays loaded; signing keys are loaded on first use and
 * kept in an LRU bounded by max_loaded. On TPMID_E_TPM_MEMORY the least
 * recently used key is flushed and the operation retried. On
 * TPMID_E_TPM_RESET (a lost or garbled response, objects gone, a TPM
 * restart) the TPM connection is recovered (tpm_recover: our objects
 * flushed by number), the cache emptied, and a sign or load retried once;
 * keygen, import and persist report the fault instead.
 *
 * Identities are re-read from the store when their file changes (stat
 * compare per request), so edits by the CLI or by hand are seen at once.
 *
 * PINs: a PIN given to engine_unlock() is held in locked memory (struct
 * secret) until engine_lock(), its timeout, or engine_free().
 *
 * Threads: an engine is used by one thread at a time. The agent runs two:
 * the engine that owns the TPM in its TPM worker, and a front
 * (engine_new_front) in its event loop for everything that needs no TPM
 * (list, info, status, lock...), so a stalled TPM holds up only the
 * requests that need it. The two share held PINs and counters. */
#ifndef TPMID_ENGINE_H
#define TPMID_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/wire/wire.h"
#include "common/util.h"

#define ENGINE_MAX_LOADED_DEFAULT 3

struct engine_cfg {
	const char *tcti;       /* NULL: $TPMID_TCTI, else device:/dev/tpmrm0 */
	const char *store_dir;  /* NULL: store_open() default */
	unsigned max_loaded;    /* 0: ENGINE_MAX_LOADED_DEFAULT */
	int lazy_tpm;           /* 1: do not touch the TPM until needed */
	int store_lazy;         /* 1: make the store directory only to write
				 * (read-only commands need no writable store) */
};

struct engine;

int engine_new(const struct engine_cfg *cfg, struct engine **ret);
/* A second engine on `back`'s store that shares its held PINs and
 * counters but never opens the TPM: requests that need it fail. Free it
 * before or after `back`, from its own thread. */
int engine_new_front(struct engine *back, struct engine **ret);
/* Flush every key and the SRK, wipe held PINs (when the last engine
 * sharing them goes), close the TPM. */
void engine_free(struct engine *e);
/* The TCTI configuration this engine opens the TPM with. */
const char *engine_tcti(const struct engine *e);
/* The agent found the TPM not answering (1) or answering again (0):
 * status reports tpm_ok accordingly. */
void engine_set_stalled(struct engine *e, int stalled);

int engine_list(struct engine *e, struct id_info **ret, size_t *ret_n);
int engine_info(struct engine *e, const char *name, struct id_info *ret);
/* The identity file as stored (JSON text). */
int engine_identity_json(struct engine *e, const char *name, char **ret);
/* The key blob as a TSS2 PRIVATE KEY PEM (fresh string); TPMID_E_NOENT
 * with a detail when the identity has only a persistent handle. */
int engine_export_tss2(struct engine *e, const char *name, char **ret);

/* Sign a digest (length must match the curve's hash: 32 for P-256, 48 for
 * P-384). `pin` NULL: use the PIN held by engine_unlock() if the key needs
 * one (TPMID_E_LOCKED if none is held). Returns a DER ECDSA-Sig-Value. */
int engine_sign_digest(struct engine *e, const char *name, const uint8_t *digest,
    size_t digest_len, const struct secret *pin, uint8_t **ret_der, size_t *ret_len);
/* Hash `data` with the curve's hash (SHA-256 / SHA-384) and sign it. */
int engine_sign_data(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len);

/* Create a key in the TPM and record the identity. `pin` NULL or empty: no
 * PIN. `handle` is used with PERSIST_HANDLE. `p11_id` (0..TPMID_P11_ID_MAX
 * bytes) is the CKA_ID a PKCS#11 client chose, kept as tpmid.pkcs11_id. */
int engine_keygen(struct engine *e, const char *name, enum tpmid_curve alg,
    const struct secret *pin, enum persist_mode persist, uint32_t handle,
    const uint8_t *p11_id, size_t p11_id_len, struct id_info *ret);
/* Import a key: `data` is a PEM EC private key (PKCS#8 or SEC1), DER
 * PKCS#8, or a TSS2 PRIVATE KEY PEM whose parent is our SRK. Key material
 * is wiped after use. */
int engine_import(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret);
/* Evict a persisted key, drop it from the cache and remove its file. */
int engine_delete(struct engine *e, const char *name);

/* Verify `pin` with the TPM (one signature over a random digest) and hold
 * it. `timeout_s` 0 = until locked. */
int engine_unlock(struct engine *e, const char *name, const struct secret *pin,
    unsigned timeout_s);
/* Forget held PINs: one identity, or all when `name` is NULL. */
int engine_lock(struct engine *e, const char *name);

/* Attach an X.509 certificate (must match the key) and optional CA bundle. */
int engine_set_cert(struct engine *e, const char *name, const char *cert_pem,
    const char *ca_pem);
/* Attach an OpenSSH certificate line (must certify this key). */
int engine_set_ssh_cert(struct engine *e, const char *name, const char *line);
/* Change, add (new_pin set, old NULL) or remove (new_pin NULL) the PIN of a
 * non-persistent key: a new blob from TPM2_ObjectChangeAuth replaces the
 * stored one (passwd.c). */
int engine_passwd(struct engine *e, const char *name, const struct secret *old_pin,
    const struct secret *new_pin);
/* Whether ssh-agent's identity listing offers the identity (tpmid.ssh). */
int engine_set_ssh(struct engine *e, const char *name, int offer);

int engine_status(struct engine *e, struct status_info *ret);

/* The SRK's name (hex, fresh string), loading it if needed, and recorded
 * in the store: from then on a TPM that answers with another SRK is refused
 * (TPMID_E_SRK). `expect_hex` (NULL: trust on first use) pins the name the
 * SRK must have, for a store that has none recorded. With `persist`, also
 * make the H-2 SRK persistent at 0x81000001 (TPMID_E_HANDLE if another
 * object is there) so later starts skip CreatePrimary. With `ek_ca` (a PEM
 * file of CAs), the name is the one the TPM's endorsement key vouches for
 * (tpm_srk_verify_ek; refused if another is recorded or expected), and
 * *ret_ek_text says what vouched. */
int engine_srk(struct engine *e, int persist, const char *expect_hex, const char *ek_ca,
    char **ret_name_hex, char **ret_ek_text);

/* Access control: 0 if a peer with uid/gid may use identity `name` (the
 * engine's own uid, root, or listed in allowed_uids/allowed_gids),
 * TPMID_E_PERM otherwise, TPMID_E_NOENT if no such identity. */
int engine_check_access(struct engine *e, const char *name, uid_t uid, gid_t gid);

/* Execute one agent request (agent/wire/requests.h) and fill `rep` (its
 * `type` set; free with wire_reply_clear()). No access checks: the daemon
 * makes them before, from the request table; in-process the caller is the
 * owner. Returns the operation's result. */
int engine_call(struct engine *e, const struct wire_request *q, struct wire_reply *rep);
/* engine_call() for a request from a socket peer of `uid`: what only the
 * owner may do unchecked (a PIN that costs a dictionary-attack try) is
 * held to the peer's share (budget.c). */
int engine_call_peer(struct engine *e, uid_t uid, const struct wire_request *q,
    struct wire_reply *rep);

/* Housekeeping for the agent's loop: expire PIN timeouts, return seconds
 * until the next expiry (or -1 if none). */
int engine_tick(struct engine *e);
/* Drop cached identity data so the next request re-reads the store. */
void engine_rescan(struct engine *e);

#endif
