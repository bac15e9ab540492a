/* tss/tpm-private.h: what the files behind tss/tpm.h share (only tss/ and
 * its unit tests include this).
 *
 * tss/tpm.c     the connection: open/close/reconnect/probe, handle listing,
 *               flushing, the ESAPI parameter-encryption session
 * tss/srk.c     the H-2 storage root key and the persisted copy's trust check
 * tss/object.c  marshaling, object names, key public areas (no TPM I/O)
 * tss/import.c  TPM2_Import and its inner duplication wrapper
 * tss/key.c     keygen, load, free, persist, evict
 * tss/sign.c    TPM2_Sign and what a failed authorization means
 * tss/tcti.c    why a TCTI gave no TPM (our own checks, not stale errno)
 * (tss/rc.h and tss/session.h are the TSS2_RC mapping and tpmid's own
 * HMAC session, each with its own header.)
 *
 * Functions here follow tpm.h's rules: 0 or a negative TPMID_E_* with a
 * detail set (unless said otherwise); outputs are cleared on entry and
 * set only on success. */
#ifndef TPMID_TSS_TPM_PRIVATE_H
#define TPMID_TSS_TPM_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tcti.h>

#include "common/util.h"
#include "tss/tpm.h"

/* Part 2 §7.2 handle ranges. Spelled out: the tss2 header macros shift a
 * signed int into the sign bit (undefined behaviour under UBSan). */
#define TRANSIENT_FIRST 0x80000000u
#define LOADED_SESSION_FIRST 0x02000000u
#define LOADED_SESSION_LAST 0x02FFFFFFu
#define PERSISTENT_FIRST 0x81000000u
#define PERSISTENT_LAST 0x81FFFFFFu

struct tpm {
	char *tcti_conf;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	TSS2_SYS_CONTEXT *sys; /* owned by esys */
	unsigned gen;          /* bumped by tpm_recover(); keys carry the value they were made in */

	ESYS_TR srk; /* ESYS_TR_NONE until first use */
	int srk_persistent;
	TPM2B_NAME srk_name;
	TPM2B_PUBLIC srk_pub;
	uint8_t hint[TPM_NAME_MAX];
	size_t hint_len;

	struct tss_crypto *crypto;
	struct tss_session *sess; /* salted HMAC session for PIN signs, kept open */

	/* For tpm_recover(): the transient objects and sessions this
	 * connection made and has not flushed (their TPM handle numbers),
	 * those the TPM already held before we first connected, and the
	 * TPM's reset and restart counts then (TPM2_ReadClock, Part 3
	 * §29.1): a change means every transient object is gone. */
	struct hset {
		TPM2_HANDLE *h;
		size_t n, a;
	} owned, stray; /* stray: owned, but a flush of it failed */
	TPM2_HANDLE *foreign;
	size_t n_foreign;
	uint32_t reset_count, restart_count;
	void (*held_fn)(void *ctx, const struct tpm_held *h); /* tpm_on_held() */
	void *held_ctx;
	int creating;           /* tss_creating() */
};

struct tpm_key {
	ESYS_TR tr;
	TPM2_HANDLE handle;
	TPM2B_NAME name;
	enum tpmid_curve curve;
	int persistent;
	int noda;
	unsigned gen;
};

/* ---- tss/tpm.c ----------------------------------------------------- */

/* Send a TPM command again while it draws a retry warning (tss/rc.h,
 * tss_backoff): `rc = (call)` with the bounded pauses. */
#define TSS_CALL(rc, call) \
	do { \
		struct tss_backoff tss_b_ = { 0 }; \
		do \
			(rc) = (call); \
		while (tss_backoff(&tss_b_, (rc))); \
	} while (0)

/* Record a transient object or session this connection made (by TPM
 * handle number; tss_own_tr() reads it from the ESYS_TR), and forget it
 * once flushed. Recording never fails the operation: without memory the
 * handle is only missing from a later recovery's list. */
void tss_own(struct tpm *t, TPM2_HANDLE h);
void tss_own_tr(struct tpm *t, ESYS_TR tr);
void tss_disown(struct tpm *t, TPM2_HANDLE h);
/* Around a command that makes an object: tss_creating(t, 1) before it is
 * sent, tss_creating(t, 0) after (success or not), so a record written in
 * between says a create was pending (struct tpm_held). */
void tss_creating(struct tpm *t, int pending);
/* Flush every stray handle again (a flush refused or unanswered earlier):
 * the number flushed now. */
size_t tss_flush_strays(struct tpm *t);

/* TPMID_E_NOTPM with a detail saying why TCTI `conf` gave no TPM: module
 * missing, device path wrong, a socket error (`err_no` is believed only
 * for those), else what `rc` decodes to. */
int tss_no_tpm(const char *conf, TSS2_RC rc, int err_no);

/* Flush a transient object or session and set *tr to ESYS_TR_NONE; the
 * ESYS_TR is closed even when the flush fails. No-op for ESYS_TR_NONE. */
void tss_flush(struct tpm *t, ESYS_TR *tr);
/* Close a persistent object's ESYS_TR (nothing is sent to the TPM) and set
 * *tr to ESYS_TR_NONE. No-op for ESYS_TR_NONE. */
void tss_close(struct tpm *t, ESYS_TR *tr);
/* 0 when `t` is connected; TPMID_E_TPM_RESET naming the TCTI after a
 * failed tpm_recover(). */
int tss_connected(const struct tpm *t);
/* The name ESAPI holds for `tr` (from the TPM's answer when the ESYS_TR
 * was made: CreatePrimary, Load, or the ReadPublic of
 * Esys_TR_FromTPMPublic). */
int tss_tr_name(struct tpm *t, ESYS_TR tr, TPM2B_NAME *ret);
/* tss_rc_err() for owner-authorized commands: a failed authorization there
 * means the owner hierarchy has a password (TPMID_E_PERM), not a bad PIN. */
int tss_owner_err(TSS2_RC rc, const char *what);
/* One TPM2_GetCapability(TPM2_CAP_HANDLES) page from `first` on. */
int tss_get_handles(struct tpm *t, TPM2_HANDLE first, TPML_HANDLE *ret, int *ret_more);
/* *ret = 1 when `h` is in use, 0 otherwise. */
int tss_handle_exists(struct tpm *t, TPM2_HANDLE h, int *ret);
/* An ESAPI HMAC session salted with the SRK (which must be loaded), with
 * TPMA_SESSION_DECRYPT: the command's first parameter travels encrypted.
 * The caller flushes *ret (tss_flush()). */
int tss_start_decrypt_session(struct tpm *t, ESYS_TR *ret);
/* Forget the cached PIN-sign session; with `flush`, flush it in the TPM
 * first (without: the TPM or the connection that knew it is gone). */
void tss_drop_session(struct tpm *t, int flush);

/* ---- tss/srk.c ----------------------------------------------------- */

/* Make t->srk usable: already loaded, the persisted copy when
 * tss_srk_trust() accepts it, else TPM2_CreatePrimary with the H-2
 * template. Errors as tpm_srk_name(). */
int tss_srk_ensure(struct tpm *t);
/* Forget the SRK; with `flush`, flush it (transient) or close its ESYS_TR
 * (persisted copy) first. Without: the connection is gone. */
void tss_srk_drop(struct tpm *t, int flush);
/* The persisted-copy trust decision, pure (see srk.c): 0 to use the copy,
 * TPMID_E_MISMATCH (no detail) when `name` is not `recorded`, TPMID_E_TPM
 * when `pub` does not hash to `name`. */
int tss_srk_trust(const TPM2B_PUBLIC *pub, const TPM2B_NAME *name, const uint8_t *recorded,
    size_t recorded_len);

/* ---- tss/key.c ----------------------------------------------------- */

/* 0 when `k` was loaded on t's current connection; TPMID_E_TPM_RESET
 * ("load it again") when it predates a tpm_recover() or `t` is not
 * connected. */
int tss_key_current(const struct tpm *t, const struct tpm_key *k);

/* ---- tss/import.c -------------------------------------------------- */

/* The inner duplication wrapper of Part 1 §23.3.2.3 for an object with
 * nameAlg SHA-256, under the AES-128 key `key` (16 bytes, IV zero, CFB):
 *   *out = AES-128-CFB(TPM2B(SHA-256(TPM2B_SENSITIVE || name)) || TPM2B_SENSITIVE)
 * TPMID_E_INVAL for a key that is not 16 bytes, TPMID_E_TOOBIG when the
 * result would not fit a TPM2B_PRIVATE. Every plaintext copy made here is
 * wiped; the caller wipes `sens` and `key`. */
int tss_inner_wrap(const TPM2B_SENSITIVE *sens, const TPM2B_NAME *name, const TPM2B_DATA *key,
    TPM2B_PRIVATE *out);

/* ---- tss/object.c -------------------------------------------------- */

/* TPM curve ID, the ECDSA hash that goes with it and the field/digest size
 * for a curve of common/curve.h. TPMID_E_CURVE for CURVE_NONE and unknown values. */
int tss_curve_params(enum tpmid_curve curve, TPMI_ECC_CURVE *ret_id, TPMI_ALG_HASH *ret_hash,
    size_t *ret_len);
/* Length of a PIN as an authValue: 0 for NULL or empty, TPMID_E_INVAL when
 * longer than the SHA-256 digest (Part 1 §19.6.5). */
int tss_pin_len(const struct secret *pin);
/* After a failed authorization (TPMID_E_BADPIN, TPMID_E_LOCKOUT): the same
 * code with a detail saying how many tries are left or how long to wait. */
int tss_da_detail(struct tpm *t, int err);
/* A TPM object's name, nameAlg || H_nameAlg(TPMT_PUBLIC) (Part 1 §16); the
 * one place tpmid computes it. SHA-256 names only (TPMID_E_UNSUPPORTED
 * otherwise). *ret is zeroed first. */
int tss_object_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret);
/* Marshal to a malloc'ed buffer (TPM2B size prefix included). The private
 * one is wiped from the stack copy. */
int tss_marshal_public(const TPM2B_PUBLIC *pub, uint8_t **ret, size_t *ret_len);
int tss_marshal_private(const TPM2B_PRIVATE *priv, uint8_t **ret, size_t *ret_len);
/* Unmarshal exactly `len` bytes (trailing bytes are TPMID_E_FORMAT, as is an
 * empty or malformed input). *out is zeroed first. */
int tss_unmarshal_public(const uint8_t *p, size_t len, TPM2B_PUBLIC *out);
int tss_unmarshal_private(const uint8_t *p, size_t len, TPM2B_PRIVATE *out);
/* A signing key's public area: ECC on P-256 or P-384 (TPMID_E_CURVE). */
int tss_check_key_public(const TPM2B_PUBLIC *pub, enum tpmid_curve *ret);

/* ---- tss/srk.c ----------------------------------------------------- */

/* The H-2 template the SRK is created from (also by tss/ek.c). */
const TPM2B_PUBLIC *tss_srk_template(void);

#endif
