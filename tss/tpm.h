/* tss/: the only code that includes tss2 headers.
 *
 * Everything here returns 0 or a negative TPMID_E_* code (common/err.h) with
 * a detail a person can act on (tpmid_errmsg()); TSS2_RC never leaks out.
 * Nothing here logs.
 *
 * Conventions (DESIGN.md, "TPM conventions"):
 *  - SRK: the H-2 ECC P-256 primary under the owner hierarchy; a persisted
 *    copy at 0x81000001 is used only when its name equals the H-2 name
 *    known from a previous CreatePrimary (see tpm_srk_hint()) and its
 *    public area hashes to that name.
 *  - Signing keys: ECC P-256/P-384, fixedTPM|fixedParent|
 *    sensitiveDataOrigin|userWithAuth|sign (imported ones userWithAuth|sign
 *    only), noDA only without a PIN.
 *  - A PIN never crosses the bus in clear: keygen/import with a PIN go
 *    through a session salted with the SRK with parameter encryption; signs
 *    with a PIN key go through a salted HMAC session.
 *  - Everything this module loads it flushes (tpm_key_free, tpm_close).
 */
#ifndef TPMID_TSS_TPM_H
#define TPMID_TSS_TPM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/types.h>

#include "common/curve.h"
#include "common/limits.h"
#include "common/util.h"


/* TPM2_RH_OWNER: the TSS2 key-file "parent" meaning "the H-2 primary". */
#define TPM_PARENT_OWNER 0x40000001u
#define TPM_SRK_PERSISTENT 0x81000001u
#define TPM_NAME_MAX 68 /* nameAlg (2) + SHA-512 digest */

/* A key's loadable form: marshaled TPM2B_PUBLIC and TPM2B_PRIVATE (each with
 * its 2-byte size prefix, exactly as in a TSS2 PRIVATE KEY file). */
struct tpm_blob {
	uint8_t *pub;
	size_t pub_len;
	uint8_t *priv;
	size_t priv_len;
};
/* Free both buffers (the private one wiped first) and zero *b. NULL is a
 * no-op. */
void tpm_blob_clear(struct tpm_blob *b);

struct tpm;     /* an open TPM connection with its SRK */
struct tpm_key; /* a loaded (or persistent) signing key */

/* The TCTI config actually used: `conf` if non-NULL, else $TPMID_TCTI, else
 * "device:/dev/tpmrm0". Never NULL. */
const char *tpm_tcti_default(const char *conf);

/* Open the TPM at tpm_tcti_default(tcti_conf). Tolerates an already-started
 * TPM: sends TPM2_Startup(CLEAR) and takes TPM_RC_INITIALIZE as success.
 * That Startup is retried here while the TPM answers TPM_RC_RETRY,
 * TPM_RC_YIELDED or TPM_RC_TESTING (up to 11 tries, 20 ms apart); later
 * commands are resubmitted by ESAPI itself, PIN signs by tss/session.c.
 * The SRK is made available lazily on first use and kept loaded. Sets
 * TSS2_LOG=all+NONE in the environment unless the user set TSS2_LOG (the
 * library must not print). 0 and *ret set; otherwise *ret is NULL and:
 * TPMID_E_NOTPM (the detail names the TCTI) when nothing answers,
 * TPMID_E_NOMEM, or the TPM's refusal of Startup mapped to TPMID_E_*. */
int tpm_open(const char *tcti_conf, struct tpm **ret);
/* Flush what the context loaded for itself, the SRK (a persisted copy only
 * has its ESYS_TR closed) and the cached PIN-sign session, then disconnect
 * and free `t`. Keys are not tracked here: tpm_key_free() them first. NULL
 * is a no-op. */
void tpm_close(struct tpm *t);
/* Recover from any fault that answered TPMID_E_TPM_RESET: a lost, cut or
 * garbled response, an ESAPI context that refuses further calls, objects
 * gone from under us, a TPM reset. Drops the ESAPI context and connects
 * again; then, unless the TPM's reset or restart count changed (*ret_reset
 * = 1: every transient object is gone and nothing is flushed), flushes by
 * handle number every transient object and session this connection had
 * made, and any that appeared since tpm_open() was called and is not in
 * that record (one whose create response was lost). Nothing the TPM held
 * before tpm_open() is touched. Keys loaded before become stale:
 * tpm_sign() and tpm_persist() answer TPMID_E_TPM_RESET for them and
 * tpm_key_free() only frees their memory. 0 when connected again;
 * otherwise the connection errors of tpm_open(), and `t` stays valid but
 * unconnected (commands answer TPMID_E_TPM_RESET) until a later
 * tpm_recover() succeeds. Costs TPM2_Startup, TPM2_ReadClock, two
 * TPM2_GetCapability and one TPM2_FlushContext per object. */
int tpm_recover(struct tpm *t, int *ret_reset);
/* What this process holds in the TPM, for a record a later process can
 * clean up after when this one dies (kill -9, a crash): the TPM's reset
 * and restart counts and the handle numbers of our transient objects and
 * sessions. */
struct tpm_held {
	uint32_t reset_count, restart_count;
	const uint32_t *handles;
	size_t n;
	/* A command that makes an object (CreatePrimary, Load,
	 * StartAuthSession) is on its way: if the process dies now, its new
	 * handle is in no record. `known` then lists what the process knew
	 * to be loaded besides its own (what was there when it connected). */
	int pending;
	const uint32_t *known;
	size_t n_known;
};
/* Call `fn` with what we hold whenever it changes (an object loaded or
 * flushed, a recovery), and once now. Only for a TCTI without a resource
 * manager (tpm_has_rm()): through one the kernel or tpm2-abrmd flushes a
 * dead client's objects itself. `fn` must not call back into `t`. */
void tpm_on_held(struct tpm *t, void (*fn)(void *ctx, const struct tpm_held *h), void *ctx);
/* 1 when the TCTI goes through a resource manager (device:/dev/tpmrm*,
 * tabrmd), which flushes a client's objects when it goes away. */
int tpm_has_rm(const struct tpm *t);
/* Flush the handles a dead tpmid process recorded, when the TPM was not
 * reset since the record was written (same reset and restart counts;
 * otherwise they are gone already), leaving alone any that is ours. When
 * it died with a create pending, also what is loaded now that it did not
 * know of and that no running tpmid process claims (`claimed`): the
 * object it was making. They are then no longer counted among the objects
 * that were there before us. Returns how many were flushed. */
size_t tpm_flush_dead(struct tpm *t, const struct tpm_held *dead, const uint32_t *claimed,
    size_t n_claimed);
/* The TCTI configuration `t` connects to; owned by `t`. */
const char *tpm_tcti(const struct tpm *t);

/* The SRK's name (nameAlg || digest), loading the SRK first if needed: the
 * persisted copy when tpm_srk_hint() named it and it checks out, else
 * TPM2_CreatePrimary with the H-2 template. 0 and *ret pointing into `t`
 * (contents valid until the SRK is dropped: tpm_recover(), tpm_evict()
 * of 0x81000001, tpm_close()); otherwise *ret is NULL and:
 * TPMID_E_TPM_RESET when not connected, TPMID_E_PERM when the owner
 * hierarchy has a password, TPMID_E_TPM when the persisted copy's public
 * area does not hash to its name, TPMID_E_SRK when the primary the TPM
 * created is not the one tpm_srk_hint() named, or another TPM error. */
int tpm_srk_name(struct tpm *t, const uint8_t **ret, size_t *ret_len);
/* Record the SRK name known from before (the store's .srk-name, or one the
 * user pinned). The next time the SRK is loaded, the persisted copy at
 * 0x81000001 is used instead of TPM2_CreatePrimary only when its name
 * equals this one and its public area hashes to it; and a primary that
 * TPM2_CreatePrimary answers with another name is refused (TPMID_E_SRK)
 * before any session is salted to it. NULL, empty or longer than
 * TPM_NAME_MAX clears the hint (trust on first use). An SRK already loaded
 * is kept. */
void tpm_srk_hint(struct tpm *t, const uint8_t *name, size_t len);
/* Verify the SRK against the TPM's endorsement key (tss/ek.c): the ECC
 * EK certificate in NV (0x01c0000a P-256, 0x01c00016 P-384) must verify up
 * to `trust`, the EK (persistent at 0x81010002 / 0x81010016, else created
 * from template L-2) must have its public key, and the SRK is created
 * under an HMAC session salted to that EK, whose response HMAC an
 * interposer cannot forge. 0 and *ret filled with the SRK's name and what
 * vouched for it; otherwise TPMID_E_NOENT (no ECC EK certificate),
 * TPMID_E_MISMATCH (the certificate does not verify, or no EK has its
 * key), TPMID_E_SRK (the SRK answer failed the session's check), or the
 * TPM's error. Nothing is recorded and the SRK made here is flushed. */
struct tpm_ek_report {
	uint8_t srk_name[TPM_NAME_MAX];
	size_t srk_name_len;
	const char *what;        /* "ECC P-256", "ECC P-384" */
	uint32_t nv;             /* the certificate's NV index */
	uint32_t ek_handle;      /* persistent EK used; 0: made from template L-2 */
	char issuer[256];        /* of the EK certificate, one line */
	char serial[80];         /* hex */
};
int tpm_srk_verify_ek(struct tpm *t, X509_STORE *trust, struct tpm_ek_report *ret);
/* Make the SRK persistent at 0x81000001 (for fast starts) and use that copy
 * from now on. 0 when done, or when 0x81000001 already holds a copy with
 * our SRK's name (then that copy is used and the transient SRK flushed);
 * TPMID_E_HANDLE when another object holds 0x81000001; TPMID_E_PERM when
 * the owner hierarchy has a password; errors of tpm_srk_name() or the
 * TPM's. */
int tpm_srk_persist(struct tpm *t);

/* Create a signing key under the SRK with TPM2_Create (template in
 * DESIGN.md) on `curve`. `pin` NULL or empty = no PIN (noDA); otherwise
 * the PIN is the key's authValue and travels parameter-encrypted in a
 * session salted with the SRK. 0 and *ret filled (tpm_blob_clear() it);
 * otherwise *ret is empty and: TPMID_E_CURVE for an unknown curve,
 * TPMID_E_INVAL for a PIN over 32 bytes, errors of tpm_srk_name(), or the
 * TPM's (TPMID_E_TPM_MEMORY, TPMID_E_TPM_RESET, ...). */
int tpm_keygen(struct tpm *t, enum tpmid_curve curve, const struct secret *pin,
    struct tpm_blob *ret);
/* Import an EC private key (OpenSSL EVP_PKEY, P-256/P-384) under the SRK
 * with TPM2_Import, as userWithAuth|sign (plus noDA without a PIN; never
 * fixedTPM). The sensitive part is protected on the bus: inner wrapper
 * (Part 1 §23.3.2.3) under a fresh AES-128 key that travels
 * parameter-encrypted in a session salted with the SRK. All copies of the
 * private scalar made here are wiped. The caller owns and frees `priv`.
 * 0 and *ret filled (tpm_blob_clear() it); otherwise *ret is empty and:
 * TPMID_E_CURVE for a non-EC key, explicit parameters or another curve,
 * TPMID_E_FORMAT for a key without private part or public point,
 * TPMID_E_INVAL for a PIN over 32 bytes, errors of tpm_srk_name(), or the
 * TPM's. */
int tpm_import(struct tpm *t, EVP_PKEY *priv, const struct secret *pin,
    struct tpm_blob *ret);

/* Parse a marshaled TPM2B_PUBLIC of exactly `pub_len` bytes (no TPM
 * involved). Outputs, each optional (NULL): the curve; the public key as an
 * EVP_PKEY (EVP_PKEY_free() it); and `*ret_has_auth_hint`, a guess whether
 * the key wants a PIN. The public area cannot tell whether a key has an
 * auth value, but tpmid makes keys with a PIN without noDA and keys
 * without one with noDA, so the hint is 1 when noDA is clear (a key made
 * by another tool may not follow that). 0 with the outputs set; otherwise they are cleared
 * and: TPMID_E_FORMAT for empty, malformed or trailing bytes or a point
 * off the curve, TPMID_E_CURVE for a non-ECC key or another curve. */
int tpm_blob_public(const uint8_t *pub, size_t pub_len, enum tpmid_curve *ret_curve,
    EVP_PKEY **ret_pkey, int *ret_has_auth_hint);

/* Load a key blob under the SRK with TPM2_Load, loading the SRK first if
 * needed. If `parent_name` is given it must equal the SRK's name
 * (TPMID_E_PARENT otherwise, before anything is loaded). 0 and *ret set
 * (tpm_key_free() it); otherwise *ret is NULL and: TPMID_E_FORMAT for a
 * malformed blob, TPMID_E_CURVE for a key that is not ECC P-256/P-384,
 * TPMID_E_PARENT also when the TPM finds the blob was not made under this
 * SRK, TPMID_E_TPM_MEMORY when the TPM has no free object slot, errors of
 * tpm_srk_name(), or the TPM's. */
int tpm_load(struct tpm *t, const struct tpm_blob *blob, const uint8_t *parent_name,
    size_t parent_name_len, struct tpm_key **ret);
/* Use the persistent key at `handle` (nothing is loaded). Its public area
 * must equal `expect_pub` when given. 0 and *ret set (tpm_key_free() it;
 * the object stays in the TPM); otherwise *ret is NULL and: TPMID_E_INVAL
 * for a handle outside 0x81000000..0x81ffffff, TPMID_E_TPM_RESET when not
 * connected, TPMID_E_FORMAT for a malformed `expect_pub`, TPMID_E_NOENT
 * when nothing is there, TPMID_E_MISMATCH when another key is,
 * TPMID_E_CURVE when it is not an ECC P-256/P-384 key, or the TPM's
 * error. */
int tpm_load_persistent(struct tpm *t, uint32_t handle, const uint8_t *expect_pub,
    size_t expect_pub_len, struct tpm_key **ret);
/* Flush a transient key (of a persistent one only the ESYS_TR is closed;
 * the object stays) and free `k`. A key loaded before tpm_recover() is
 * only freed: its handle died with the old connection. NULL `k` is a
 * no-op; NULL `t` frees memory only. */
void tpm_key_free(struct tpm *t, struct tpm_key *k);
/* The key's curve, as found in its public area when it was loaded. */
enum tpmid_curve tpm_key_curve(const struct tpm_key *k);

/* ECDSA-sign a digest (32 bytes for P-256 / SHA-256, 48 for P-384 /
 * SHA-384) with TPM2_Sign. `pin` NULL/empty for no-PIN keys (password
 * session); otherwise a salted HMAC session, kept open for the next PIN
 * sign. 0 and *ret_der set to a DER ECDSA-Sig-Value (free() it); otherwise
 * *ret_der is NULL and: TPMID_E_INVAL for another digest size or a PIN
 * over 32 bytes; TPMID_E_NEEDPIN when a PIN key is used without a PIN;
 * wrong PIN: TPMID_E_BADPIN with the tries left in the detail when the TPM
 * reports them; lockout: TPMID_E_LOCKOUT; out of TPM memory:
 * TPMID_E_TPM_MEMORY; TPM restarted, connection lost or a key loaded
 * before tpm_recover(): TPMID_E_TPM_RESET. */
int tpm_sign(struct tpm *t, struct tpm_key *k, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_der_len);

/* Make a persistent copy of the loaded key `k` with TPM2_EvictControl; `k`
 * itself stays as it was (reach the copy with tpm_load_persistent()).
 * `handle` 0 = the first free handle from TPMID_PERSIST_FIRST up. 0 and
 * *ret_handle (optional) set to the handle used; for a key that is already
 * persistent, its own handle (TPMID_E_INVAL if another was asked).
 * Otherwise *ret_handle is 0 and: TPMID_E_INVAL for a handle outside
 * 0x81000000..0x81ffffff, TPMID_E_HANDLE when the handle is taken, none is
 * free or the TPM has no room left, TPMID_E_PERM when the owner hierarchy
 * has a password, TPMID_E_TPM_RESET for a key loaded before
 * tpm_recover(), or the TPM's error. When the EvictControl answer itself
 * was lost (TPMID_E_TPM_RESET), *ret_handle is the handle tried: the key
 * may be persistent there. */
int tpm_persist(struct tpm *t, struct tpm_key *k, uint32_t handle, uint32_t *ret_handle);
/* TPM2_ObjectChangeAuth (Part 3 §14.1): a new private area for the loaded
 * (transient) key `k`, under the SRK, whose auth value is `new_pin` (NULL
 * or empty: none), authorized with `old_pin`. The new PIN travels
 * encrypted in an SRK-salted session. The loaded object and every old
 * blob keep the old auth value (the TPM changes only the copy it
 * returns). *ret_priv is a marshaled TPM2B_PRIVATE. TPMID_E_BADPIN /
 * TPMID_E_LOCKOUT with a detail on a wrong old PIN. */
int tpm_change_auth(struct tpm *t, struct tpm_key *k, const struct secret *old_pin,
    const struct secret *new_pin, uint8_t **ret_priv, size_t *ret_priv_len);
/* The lowest free persistent handle from TPMID_PERSIST_FIRST up (what
 * tpm_persist() with handle 0 takes, if nothing else takes it first). 0
 * and *ret set; TPMID_E_HANDLE when none is free, or the TPM's error. */
int tpm_free_persistent(struct tpm *t, uint32_t *ret);
/* The persistent handles in use in tpmid's range, TPMID_PERSIST_FIRST to
 * TPMID_PERSIST_LAST, ascending (free() *ret). One TPM2_GetCapability per
 * 254 handles. */
int tpm_persistent_handles(struct tpm *t, uint32_t **ret, size_t *ret_n);
/* Evict the persistent object at `handle` (TPM2_EvictControl). If it is
 * the SRK copy this context uses, the context forgets it (and the PIN-sign
 * session) and creates the primary on next use. 0 when evicted;
 * TPMID_E_INVAL for a handle outside 0x81000000..0x81ffffff,
 * TPMID_E_TPM_RESET when not connected, TPMID_E_NOENT if nothing is there,
 * TPMID_E_PERM when the owner hierarchy has a password, or the TPM's
 * error. */
int tpm_evict(struct tpm *t, uint32_t handle);
/* Evict persistent key `k` (from tpm_load_persistent, which checked it is
 * the expected key) with no further lookup; `k` is then only memory (free
 * it with tpm_key_free). Errors as tpm_evict(). */
int tpm_evict_key(struct tpm *t, struct tpm_key *k);

/* Number of transient objects loaded in the TPM as this connection sees
 * them: every client's without a resource manager (swtpm, /dev/tpm0), only
 * our own through one (/dev/tpmrm0). 0 and *ret set; otherwise *ret is 0
 * and TPMID_E_TPM_RESET when not connected, or the TPM's error. */
int tpm_transient_count(struct tpm *t, unsigned *ret);
/* TPM2_PT_HR_TRANSIENT_AVAIL (Part 2 §6.13): how many more transient
 * objects the TPM could load now (one TPM2_GetCapability). Errors as
 * tpm_transient_count(). */
int tpm_transient_avail(struct tpm *t, unsigned *ret);
/* The dictionary-attack state every DA-protected key (every PIN key)
 * shares (Part 1 §19.8.6, Part 2 §6.13): authorization failures counted,
 * the count at which the TPM locks them all out, and the seconds after
 * which it forgets one failure. One TPM2_GetCapability. 0 and *ret set;
 * otherwise TPMID_E_TPM_RESET when not connected, or the TPM's error. */
struct tpm_da {
	uint32_t counter;
	uint32_t max_tries;
	uint32_t interval_s;
};
int tpm_da_state(struct tpm *t, struct tpm_da *ret);

/* Flush the least valuable loaded things this context can give up to make
 * room (used by callers after TPMID_E_TPM_MEMORY when they have no key of
 * their own to evict): objects of ours whose earlier flush was refused or
 * unanswered, else the cached PIN-sign HMAC session (the next PIN sign
 * starts a new one). Returns 0 if something was freed, TPMID_E_NOENT
 * otherwise. */
int tpm_release_session(struct tpm *t);

#endif
