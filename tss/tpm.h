/* tss/: the only code that includes tss2 headers.
 *
 * Everything here returns 0 or a negative TPMID_E_* code (common/err.h) with
 * a detail a person can act on (tpmid_errmsg()); TSS2_RC never leaks out.
 * Nothing here logs.
 *
 * Conventions (DESIGN.md, "TPM conventions"):
 *  - SRK: the H-2 ECC P-256 primary under the owner hierarchy; a persisted
 *    copy at 0x81000001 is used only when its name equals the H-2 name
 *    (known from a previous CreatePrimary, see tpm_open's srk_name_hint).
 *  - Signing keys: ECC P-256/P-384, fixedTPM|fixedParent|
 *    sensitiveDataOrigin|userWithAuth|sign, noDA only without a PIN.
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

#include "common/util.h"

enum tpm_curve {
	TPM_CURVE_NONE = 0,
	TPM_CURVE_P256 = 1,
	TPM_CURVE_P384 = 2,
};

/* TPM2_RH_OWNER: the TSS2 key-file "parent" meaning "the H-2 primary". */
#define TPM_PARENT_OWNER 0x40000001u
#define TPM_SRK_PERSISTENT 0x81000001u
#define TPM_PERSIST_FIRST 0x81000010u
#define TPM_PERSIST_LAST 0x81FFFFFFu
#define TPM_NAME_MAX 68 /* nameAlg (2) + SHA-512 digest */

/* A key's loadable form: marshaled TPM2B_PUBLIC and TPM2B_PRIVATE (each with
 * its 2-byte size prefix, exactly as in a TSS2 PRIVATE KEY file). */
struct tpm_blob {
	uint8_t *pub;
	size_t pub_len;
	uint8_t *priv;
	size_t priv_len;
};
void tpm_blob_clear(struct tpm_blob *b);

struct tpm;     /* an open TPM connection with its SRK */
struct tpm_key; /* a loaded (or persistent) signing key */

/* The TCTI config actually used: `conf` if non-NULL, else $TPMID_TCTI, else
 * "device:/dev/tpmrm0". Never NULL. */
const char *tpm_tcti_default(const char *conf);

/* Open the TPM. Tolerates an already-started TPM (sends Startup(CLEAR) and
 * ignores TPM_RC_INITIALIZE), retries TPM_RC_RETRY/YIELDED/TESTING.
 * The SRK is made available lazily on first use and kept loaded.
 * TPMID_E_NOTPM names the TCTI when nothing answers. */
int tpm_open(const char *tcti_conf, struct tpm **ret);
/* Flush everything loaded through this context, then disconnect. */
void tpm_close(struct tpm *t);
/* Drop the connection and all loaded state (handles become invalid, every
 * struct tpm_key must have been freed or will be treated as unloaded) and
 * connect again. Used after TPMID_E_TPM_RESET. */
int tpm_reconnect(struct tpm *t);
const char *tpm_tcti(const struct tpm *t);
/* Whether the TPM still holds our SRK under its name, i.e. it was not reset
 * since we loaded it. 0: still there (a TPMID_E_TPM_RESET error came from
 * something else, e.g. a key flushed behind our back, and our other
 * handles are still ours to flush); TPMID_E_TPM_RESET: gone, replaced or
 * unreachable (do not flush: reconnect). */
int tpm_probe(struct tpm *t);

/* Name of the SRK (loading/creating it if needed). Pointer owned by `t`.
 * If `hint`/`hint_len` name a persisted H-2 copy known from before, the
 * persisted handle is used when its name matches (fast start). */
int tpm_srk_name(struct tpm *t, const uint8_t **ret, size_t *ret_len);
void tpm_srk_hint(struct tpm *t, const uint8_t *name, size_t len);
/* Make the SRK persistent at 0x81000001 (for fast starts); no-op if a
 * matching copy is already there; TPMID_E_HANDLE if another object is. */
int tpm_srk_persist(struct tpm *t);

/* Create a signing key under the SRK. `pin` NULL or empty = no PIN (noDA). */
int tpm_keygen(struct tpm *t, enum tpm_curve curve, const struct secret *pin,
    struct tpm_blob *ret);
/* Import an EC private key (OpenSSL EVP_PKEY, P-256/P-384) under the SRK
 * with TPM2_Import. The sensitive part is protected on the bus (inner
 * wrapper, key parameter-encrypted). All copies of the private scalar made
 * here are wiped. The caller owns and frees `priv`. */
int tpm_import(struct tpm *t, EVP_PKEY *priv, const struct secret *pin,
    struct tpm_blob *ret);

/* Parse a marshaled TPM2B_PUBLIC: curve, public key as an EVP_PKEY, whether
 * the key wants an auth value (!noDA is not it: reads the object's
 * attributes; `*ret_has_auth_hint` is 1 when noDA is clear). Any output may
 * be NULL. TPMID_E_CURVE for non-ECC/other curves, TPMID_E_FORMAT if bad. */
int tpm_blob_public(const uint8_t *pub, size_t pub_len, enum tpm_curve *ret_curve,
    EVP_PKEY **ret_pkey, int *ret_has_auth_hint);

/* Load a key blob under the SRK. If `parent_name` is given it must equal
 * the SRK's name (TPMID_E_PARENT otherwise, before anything is loaded). */
int tpm_load(struct tpm *t, const struct tpm_blob *blob, const uint8_t *parent_name,
    size_t parent_name_len, struct tpm_key **ret);
/* Use a persistent key at `handle` (0x81xxxxxx). Its public area must equal
 * `expect_pub` when given (TPMID_E_MISMATCH otherwise). */
int tpm_load_persistent(struct tpm *t, uint32_t handle, const uint8_t *expect_pub,
    size_t expect_pub_len, struct tpm_key **ret);
/* Flush a transient key (persistent ones are left in place) and free. */
void tpm_key_free(struct tpm *t, struct tpm_key *k);
enum tpm_curve tpm_key_curve(const struct tpm_key *k);

/* ECDSA-sign a digest (32 bytes for P-256 / SHA-256, 48 for P-384 /
 * SHA-384; other sizes are TPMID_E_INVAL) and return a DER
 * ECDSA-Sig-Value. `pin` NULL/empty for no-PIN keys (password session);
 * otherwise a salted HMAC session is used. Wrong PIN: TPMID_E_BADPIN with
 * the tries left in the detail when the TPM reports them; lockout:
 * TPMID_E_LOCKOUT; out of TPM memory: TPMID_E_TPM_MEMORY; TPM restarted or
 * connection lost: TPMID_E_TPM_RESET. */
int tpm_sign(struct tpm *t, struct tpm_key *k, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_der_len);

/* Make a loaded key persistent. `handle` 0 = the first free handle from
 * TPM_PERSIST_FIRST up. TPMID_E_HANDLE if the requested one is taken. */
int tpm_persist(struct tpm *t, struct tpm_key *k, uint32_t handle, uint32_t *ret_handle);
/* Evict a persistent object. TPMID_E_NOENT if nothing is there. */
int tpm_evict(struct tpm *t, uint32_t handle);

/* Number of transient objects loaded in the TPM (all clients). */
int tpm_transient_count(struct tpm *t, unsigned *ret);

/* Flush the least valuable loaded thing this context can give up to make
 * room (used by callers after TPMID_E_TPM_MEMORY when they have no key of
 * their own to evict): the cached HMAC session. Returns 0 if something was
 * freed, TPMID_E_NOENT otherwise. */
int tpm_release_session(struct tpm *t);

#endif
