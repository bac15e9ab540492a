/* tss/rc.c: one place where TPM and TSS response codes become tpmid errors.
 *
 * Layout of a TPM response code (TPM 2.0 Part 2 §6.6):
 *  - format one (bit 7 set): bits 0..5 error, bit 6 P (parameter), bits
 *    8..11 the handle (1..7), session (8..15, bit 11 set) or parameter
 *    number. TPM_RC_AUTH_FAIL for session 1 is thus 0x98e, TPM_RC_BAD_AUTH
 *    for session 1 is 0x9a2.
 *  - format zero (bit 7 clear): bit 8 set for TPM 2.0 codes, bit 11 set for
 *    warnings (TPM2_RC_WARN), bit 10 for vendor codes.
 * The TSS puts its own layer number in bits 16..23 (0 for the TPM; 12 when a
 * resource manager relays a TPM code). */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include "common/err.h"
#include "tss/rc.h"

#define FMT0_MASK (TPM2_RC_WARN | TPM2_RC_VER1 | 0x7Fu | 0x400u) /* keep vendor bit */
#define FMT1_MASK (TPM2_RC_FMT1 | 0x3Fu)

static int
is_tpm_layer(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

uint32_t
tss_rc_tpm_code(TSS2_RC rc)
{
	uint32_t c;

	if (!is_tpm_layer(rc))
		return 0;
	c = rc & 0xFFFFu;
	if (c & TPM2_RC_FMT1)
		return c & FMT1_MASK;
	return c & FMT0_MASK;
}

/* Format-one code refers to a handle (not a parameter, not a session). */
static int
fmt1_is_handle(TSS2_RC rc)
{
	uint32_t c = rc & 0xFFFFu;

	return (c & TPM2_RC_FMT1) && !(c & TPM2_RC_P) && !(c & TPM2_RC_S) &&
	    (c & TPM2_RC_N_MASK) != 0;
}

/* Format-one code refers to a session (N = 8..15). */
static int
fmt1_is_session(TSS2_RC rc)
{
	uint32_t c = rc & 0xFFFFu;

	return (c & TPM2_RC_FMT1) && !(c & TPM2_RC_P) && (c & TPM2_RC_S);
}

int
tss_rc_is_retry(TSS2_RC rc)
{
	uint32_t c = tss_rc_tpm_code(rc);

	return c == TPM2_RC_RETRY || c == TPM2_RC_YIELDED || c == TPM2_RC_TESTING ||
	    c == TPM2_RC_NV_RATE;
}

int
tss_backoff(struct tss_backoff *b, TSS2_RC rc)
{
	struct timespec ts;
	unsigned ms;

	if (!tss_rc_is_retry(rc))
		return 0;
	ms = b->next_ms ? b->next_ms : TSS_BACKOFF_FIRST_MS;
	if (b->waited_ms + ms > TSS_BACKOFF_BUDGET_MS)
		return 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
	b->waited_ms += ms;
	b->next_ms = ms * 2 > TSS_BACKOFF_MAX_MS ? TSS_BACKOFF_MAX_MS : ms * 2;
	return 1;
}

/* Transport failures below the TPM: the TCTI (socket/device), or SAPI/ESAPI
 * seeing a truncated or garbled response from it. */
static int
is_transport(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
	TSS2_RC base = rc & 0xFFFFu;

	if (layer == TSS2_TCTI_RC_LAYER)
		return 1;
	if (layer != TSS2_SYS_RC_LAYER && layer != TSS2_ESAPI_RC_LAYER)
		return 0;
	switch (base) {
	case TSS2_BASE_RC_IO_ERROR:
	case TSS2_BASE_RC_NO_CONNECTION:
	case TSS2_BASE_RC_MALFORMED_RESPONSE:
	case TSS2_BASE_RC_INSUFFICIENT_RESPONSE:
	/* ESAPI refuses every call after a command it could not finish (a
	 * response lost half way): only a new context recovers. */
	case TSS2_BASE_RC_BAD_SEQUENCE:
	case TSS2_BASE_RC_TRY_AGAIN:
	/* A garbled header announcing more than any response holds. */
	case TSS2_BASE_RC_INSUFFICIENT_CONTEXT:
		return 1;
	default:
		return 0;
	}
}

int
tss_rc_map(TSS2_RC rc, unsigned flags)
{
	uint32_t c;

	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (is_transport(rc))
		return (flags & TSS_RC_OPEN) ? TPMID_E_NOTPM : TPMID_E_TPM_RESET;
	if (!is_tpm_layer(rc)) {
		if ((rc & 0xFFFFu) == TSS2_BASE_RC_MEMORY)
			return TPMID_E_NOMEM;
		return TPMID_E_TPM;
	}

	c = tss_rc_tpm_code(rc);
	/* TPM 2.0 Part 1 §19.8.2 / §19.6.4: a failed HMAC or password check
	 * is AUTH_FAIL for DA-protected objects, BAD_AUTH for noDA ones. */
	if (c == TPM2_RC_AUTH_FAIL || c == TPM2_RC_BAD_AUTH)
		return TPMID_E_BADPIN;

	switch (c) {
	case TPM2_RC_LOCKOUT:
		return TPMID_E_LOCKOUT;
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
	case TPM2_RC_OBJECT_HANDLES:
	case TPM2_RC_SESSION_HANDLES:
		return TPMID_E_TPM_MEMORY;
	case TPM2_RC_INITIALIZE:
	case TPM2_RC_REFERENCE_H0:
	case TPM2_RC_REFERENCE_H1:
	case TPM2_RC_REFERENCE_H2:
	case TPM2_RC_REFERENCE_H3:
	case TPM2_RC_REFERENCE_H4:
	case TPM2_RC_REFERENCE_H5:
	case TPM2_RC_REFERENCE_H6:
	case TPM2_RC_REFERENCE_S0:
	case TPM2_RC_REFERENCE_S1:
	case TPM2_RC_REFERENCE_S2:
	case TPM2_RC_REFERENCE_S3:
	case TPM2_RC_REFERENCE_S4:
	case TPM2_RC_REFERENCE_S5:
	case TPM2_RC_REFERENCE_S6:
		/* Our handles are gone: the TPM was reset (Part 1 §28.4) or
		 * another client flushed them; either way reload. */
		return TPMID_E_TPM_RESET;
	case TPM2_RC_HANDLE:
	case TPM2_RC_VALUE:
		/* On a handle or session slot these name our own loaded
		 * objects that no longer exist; on a parameter they are
		 * ordinary argument errors. */
		if (fmt1_is_handle(rc) || fmt1_is_session(rc))
			return TPMID_E_TPM_RESET;
		return TPMID_E_TPM;
	case TPM2_RC_CURVE:
	case TPM2_RC_ECC_POINT:
		return TPMID_E_CURVE;
	case TPM2_RC_INTEGRITY:
		return (flags & TSS_RC_LOAD) ? TPMID_E_PARENT : TPMID_E_TPM;
	default:
		return TPMID_E_TPM;
	}
}

static const char *
meaning(int err)
{
	switch (err) {
	case TPMID_E_NOTPM: return "no TPM answers at the TCTI; set --tcti or TPMID_TCTI";
	case TPMID_E_BADPIN: return "wrong PIN";
	case TPMID_E_LOCKOUT:
		return "the TPM is in dictionary-attack lockout; wait for it to recover or "
		       "clear it with 'tpm2_dictionarylockout --clear-lockout'";
	case TPMID_E_TPM_MEMORY:
		return "the TPM is out of object or session slots; stop other TPM clients "
		       "or flush stale handles ('tpm2_flushcontext -t -s')";
	case TPMID_E_TPM_RESET: return "the TPM was restarted or the connection to it was lost";
	case TPMID_E_CURVE: return "the TPM does not support this curve or point";
	case TPMID_E_PARENT:
		return "the key was made under another storage root key (another TPM, or the "
		       "owner hierarchy was cleared)";
	case TPMID_E_NOMEM: return "out of memory";
	default: return "TPM command failed";
	}
}

int
tss_rc_err(TSS2_RC rc, unsigned flags, const char *what)
{
	int err = tss_rc_map(rc, flags);

	if (err == 0)
		return 0;
	return tpmid_seterr(err, "%s: %s (%s, 0x%x)", what ? what : "TPM", meaning(err),
	    Tss2_RC_Decode(rc), (unsigned)rc);
}
