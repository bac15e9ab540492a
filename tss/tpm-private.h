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
 *
 * Functions here follow tpm.h's rules: 0 or a negative TPMID_E_* with a
 * detail set, outputs written only on success unless said otherwise. */
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
#define PERSISTENT_FIRST 0x81000000u
#define PERSISTENT_LAST 0x81FFFFFFu

struct tpm {
	char *tcti_conf;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	TSS2_SYS_CONTEXT *sys; /* owned by esys */
	unsigned gen;          /* bumped by tpm_reconnect(); keys carry the value they were made in */

	ESYS_TR srk; /* ESYS_TR_NONE until first use */
	int srk_persistent;
	TPM2B_NAME srk_name;
	TPM2B_PUBLIC srk_pub;
	uint8_t hint[TPM_NAME_MAX];
	size_t hint_len;

	struct tss_crypto *crypto;
	struct tss_session *sess; /* salted HMAC session for PIN signs, kept open */
};

struct tpm_key {
	ESYS_TR tr;
	TPM2_HANDLE handle;
	TPM2B_NAME name;
	enum tpm_curve curve;
	int persistent;
	int noda;
	unsigned gen;
};

/* ---- tss/object.c -------------------------------------------------- */

/* TPM curve ID, the ECDSA hash that goes with it and the field/digest size
 * for a tpm_curve. TPMID_E_CURVE for TPM_CURVE_NONE and unknown values. */
int tss_curve_params(enum tpm_curve curve, TPMI_ECC_CURVE *ret_id, TPMI_ALG_HASH *ret_hash,
    size_t *ret_len);
/* Length of a PIN as an authValue: 0 for NULL or empty, TPMID_E_INVAL when
 * longer than the SHA-256 digest (Part 1 §19.6.5). */
int tss_pin_len(const struct secret *pin);
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
int tss_check_key_public(const TPM2B_PUBLIC *pub, enum tpm_curve *ret);
/* 1 when both public areas marshal to the same bytes, else 0. */
int tss_same_public(const TPM2B_PUBLIC *a, const TPM2B_PUBLIC *b);

#endif
