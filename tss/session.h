/* tss/session.h: tpmid's own salted HMAC session, run on the SAPI context
 * underneath ESAPI (only tss/ includes this).
 *
 * Why not ESAPI's sessions: tpm2-tss 3.2.x computes every session HMAC and
 * KDF through OpenSSL 3 objects it fetches by name on each use; on swtpm that
 * costs ~5x the TPM's own time for a Sign. Here the digest and HMAC
 * implementations are fetched once per struct tpm (struct tss_crypto) and
 * reused, so a PIN sign costs one TPM round trip plus two HMACs.
 *
 * The session is unbound and salted with the SRK (TPM 2.0 Part 1 §19.6.3,
 * §19.6.11): an interposer on the bus sees neither the PIN nor anything it
 * can grind offline against it, and cannot forge the response HMAC. */
#ifndef TPMID_TSS_SESSION_H
#define TPMID_TSS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_sys.h>

#include "common/util.h"

struct tss_crypto; /* OpenSSL objects fetched once */
struct tss_session;

int tss_crypto_new(struct tss_crypto **ret);
void tss_crypto_free(struct tss_crypto *c);

/* EVP_PKEY for an ECC public point on a TPM curve (P-256/P-384).
 * TPMID_E_CURVE for other curves, TPMID_E_FORMAT for a bad point. */
int tss_ec_pubkey(TPMI_ECC_CURVE curve, const TPM2B_ECC_PARAMETER *x,
    const TPM2B_ECC_PARAMETER *y, EVP_PKEY **ret);

/* Start an unbound HMAC session (SHA-256, symmetric NULL) salted with the
 * ECC key `tpm_key` whose public area is `key_pub` (the SRK). */
int tss_session_start(TSS2_SYS_CONTEXT *sys, struct tss_crypto *c, TPM2_HANDLE tpm_key,
    const TPMT_PUBLIC *key_pub, struct tss_session **ret);
/* The session's TPM handle. */
TPM2_HANDLE tss_session_handle(const struct tss_session *s);
/* Flush the session in the TPM (errors ignored) and free it. */
void tss_session_flush(TSS2_SYS_CONTEXT *sys, struct tss_session *s);
/* Free without talking to the TPM (connection gone, TPM reset). */
void tss_session_free(struct tss_session *s);

/* TPM2_Sign (Part 3 §20.2) with the session authorizing `key` (handle and
 * name) with `auth`. ECDSA with `hash`. On success *ret_sig is the TPM's
 * signature, the response HMAC has been verified and nonces rolled. On
 * failure the nonces may be out of step with the TPM's: the caller flushes
 * the session (or frees it after TPMID_E_TPM_RESET) and starts a new one. */
int tss_session_sign(TSS2_SYS_CONTEXT *sys, struct tss_crypto *c, struct tss_session *s,
    TPM2_HANDLE key, const TPM2B_NAME *key_name, const struct secret *auth,
    const TPM2B_DIGEST *digest, TPMI_ALG_HASH hash, TPMT_SIGNATURE *ret_sig);

#endif
