/* tss/rc.h: TSS2_RC -> TPMID_E_* (only tss/ includes this).
 *
 * Response codes come from several layers (TPM 2.0 Part 2 §6.6; TSS 2.0
 * "TSS2_RC" layering): the TPM itself (layer 0, or 12 when relayed by a
 * resource manager), and the TCTI/SAPI/ESAPI/MU libraries. tss_rc_map() is
 * pure so it can be unit tested without a TPM. */
#ifndef TPMID_TSS_RC_H
#define TPMID_TSS_RC_H

#include <stdint.h>

#include <tss2/tss2_common.h>

enum {
	/* The connection is not established yet: transport failures mean
	 * "no TPM here" rather than "the TPM went away". */
	TSS_RC_OPEN = 1u << 0,
	/* TPM2_Load/TPM2_Import: TPM_RC_INTEGRITY means the blob was not made
	 * under this parent (Part 1 §23.2 outer integrity). */
	TSS_RC_LOAD = 1u << 1,
};

/* The TPM's own code with the layer removed and, for format-one codes
 * (Part 2 §6.6.3), the handle/session/parameter number bits stripped, so it
 * compares equal to the TPM2_RC_* constants. 0 for non-TPM layers. */
uint32_t tss_rc_tpm_code(TSS2_RC rc);

/* 1 when `rc` is a transient TPM warning worth resubmitting
 * (TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING, TPM_RC_NV_RATE; Part 2
 * §6.6.3 "warnings": the command was not executed). */
int tss_rc_is_retry(TSS2_RC rc);

/* Bounded backoff for those warnings. ESAPI already resubmits a command
 * that draws one up to 5 times without pausing; a TPM that keeps
 * answering RETRY (self-test, NV rate limit, a busy firmware TPM) is given
 * pauses of 1, 2, 4 ... ms, at most 64 ms each and 3 s in all, before the
 * warning is reported (some 50 answers in a row on the PIN path, which
 * resubmits itself, and 250 through ESAPI). Use:
 *   struct tss_backoff b = { 0 };
 *   do rc = Esys_X(...); while (tss_backoff(&b, rc));
 * tss_backoff() sleeps and returns 1 when the command should be sent
 * again, 0 otherwise. */
#define TSS_BACKOFF_FIRST_MS 1
#define TSS_BACKOFF_MAX_MS 64
#define TSS_BACKOFF_BUDGET_MS 3000
struct tss_backoff {
	unsigned waited_ms;
	unsigned next_ms;
};
int tss_backoff(struct tss_backoff *b, TSS2_RC rc);

/* Pure mapping to a negative TPMID_E_* (never 0 for a non-zero rc; 0 for
 * TSS2_RC_SUCCESS). `flags`: TSS_RC_* above. */
int tss_rc_map(TSS2_RC rc, unsigned flags);

/* tss_rc_map() plus a detail "<what>: <meaning> (<Tss2_RC_Decode text>)"
 * set with tpmid_seterr(). Returns the mapped code. */
int tss_rc_err(TSS2_RC rc, unsigned flags, const char *what);

#endif
