/* Unit tests for tss/rc.c: TSS2_RC -> TPMID_E_* (pure, no TPM needed).
 * Codes per TPM 2.0 Part 2 §6.6; layers per the TSS 2.0 TSS2_RC spec. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <tss2/tss2_common.h>
#include <tss2/tss2_tpm2_types.h>

#include "common/err.h"
#include "tss/rc.h"

#define FMT1_SESSION(code, n) ((code) | TPM2_RC_S | ((uint32_t)(n) << 8))
#define FMT1_HANDLE(code, n) ((code) | ((uint32_t)(n) << 8))
#define FMT1_PARAM(code, n) ((code) | TPM2_RC_P | ((uint32_t)(n) << 8))

static void
test_success(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TSS2_RC_SUCCESS, 0), 0);
	assert_int_equal(tss_rc_map(TSS2_RC_SUCCESS, TSS_RC_OPEN | TSS_RC_LOAD), 0);
	assert_int_equal(tss_rc_err(TSS2_RC_SUCCESS, 0, "x"), 0);
}

static void
test_tpm_code_strips_bits(void **state)
{
	(void)state;
	/* Session-indexed variants as a TPM returns them. */
	assert_int_equal(FMT1_SESSION(TPM2_RC_AUTH_FAIL, 1), 0x98e);
	assert_int_equal(FMT1_SESSION(TPM2_RC_BAD_AUTH, 1), 0x9a2);
	assert_int_equal(tss_rc_tpm_code(0x98e), TPM2_RC_AUTH_FAIL);
	assert_int_equal(tss_rc_tpm_code(0x9a2), TPM2_RC_BAD_AUTH);
	assert_int_equal(tss_rc_tpm_code(0xa8e), TPM2_RC_AUTH_FAIL); /* session 2 */
	assert_int_equal(tss_rc_tpm_code(0x1df), TPM2_RC_INTEGRITY); /* parameter 1 */
	assert_int_equal(tss_rc_tpm_code(0x18b), TPM2_RC_HANDLE);    /* handle 1 */
	/* Format zero keeps its warning bit. */
	assert_int_equal(tss_rc_tpm_code(0x921), TPM2_RC_LOCKOUT);
	assert_int_equal(tss_rc_tpm_code(0x100), TPM2_RC_INITIALIZE);
	/* Relayed through a resource manager (layer 12). */
	assert_int_equal(tss_rc_tpm_code(TSS2_RESMGR_TPM_RC_LAYER | 0x98e), TPM2_RC_AUTH_FAIL);
	/* Not a TPM code at all. */
	assert_int_equal(tss_rc_tpm_code(TSS2_TCTI_RC_IO_ERROR), 0);
	assert_int_equal(tss_rc_tpm_code(TSS2_ESYS_RC_BAD_VALUE), 0);
}

static void
test_badpin(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TPM2_RC_AUTH_FAIL, 0), TPMID_E_BADPIN);
	assert_int_equal(tss_rc_map(TPM2_RC_BAD_AUTH, 0), TPMID_E_BADPIN);
	assert_int_equal(tss_rc_map(0x98e, 0), TPMID_E_BADPIN);
	assert_int_equal(tss_rc_map(0x9a2, 0), TPMID_E_BADPIN);
	assert_int_equal(tss_rc_map(FMT1_SESSION(TPM2_RC_AUTH_FAIL, 3), 0), TPMID_E_BADPIN);
	assert_int_equal(tss_rc_map(FMT1_SESSION(TPM2_RC_BAD_AUTH, 2), 0), TPMID_E_BADPIN);
	assert_int_equal(tss_rc_map(TSS2_RESMGR_TPM_RC_LAYER | 0x98e, 0), TPMID_E_BADPIN);
}

static void
test_lockout(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TPM2_RC_LOCKOUT, 0), TPMID_E_LOCKOUT);
	assert_int_equal(tss_rc_map(TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_LOCKOUT, 0), TPMID_E_LOCKOUT);
}

static void
test_memory(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TPM2_RC_OBJECT_MEMORY, 0), TPMID_E_TPM_MEMORY); /* 0x902 */
	assert_int_equal(tss_rc_map(TPM2_RC_SESSION_MEMORY, 0), TPMID_E_TPM_MEMORY);
	assert_int_equal(tss_rc_map(TPM2_RC_MEMORY, 0), TPMID_E_TPM_MEMORY);
	assert_int_equal(tss_rc_map(TPM2_RC_OBJECT_HANDLES, 0), TPMID_E_TPM_MEMORY);
	assert_int_equal(tss_rc_map(TPM2_RC_SESSION_HANDLES, 0), TPMID_E_TPM_MEMORY);
	assert_int_equal(tss_rc_map(0x902, TSS_RC_LOAD), TPMID_E_TPM_MEMORY);
}

static void
test_reset(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TPM2_RC_INITIALIZE, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TPM2_RC_REFERENCE_H0, 0), TPMID_E_TPM_RESET); /* 0x910 */
	assert_int_equal(tss_rc_map(TPM2_RC_REFERENCE_H6, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TPM2_RC_REFERENCE_S0, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TPM2_RC_REFERENCE_S6, 0), TPMID_E_TPM_RESET);
	/* Handle and value errors on handles / session slots: our objects
	 * are gone. */
	assert_int_equal(tss_rc_map(FMT1_HANDLE(TPM2_RC_HANDLE, 1), 0), TPMID_E_TPM_RESET); /* 0x18b */
	assert_int_equal(tss_rc_map(FMT1_HANDLE(TPM2_RC_VALUE, 1), 0), TPMID_E_TPM_RESET);  /* 0x184 */
	assert_int_equal(tss_rc_map(FMT1_SESSION(TPM2_RC_HANDLE, 1), 0), TPMID_E_TPM_RESET); /* 0x98b */
	assert_int_equal(tss_rc_map(FMT1_SESSION(TPM2_RC_VALUE, 1), 0), TPMID_E_TPM_RESET);
	/* ... but on a parameter they are plain argument errors. */
	assert_int_equal(tss_rc_map(FMT1_PARAM(TPM2_RC_VALUE, 1), 0), TPMID_E_TPM); /* 0x1c4 */
	assert_int_equal(tss_rc_map(FMT1_PARAM(TPM2_RC_HANDLE, 2), 0), TPMID_E_TPM);
}

static void
test_transport(void **state)
{
	(void)state;
	/* Before the connection: no TPM. After: the TPM went away. */
	assert_int_equal(tss_rc_map(TSS2_TCTI_RC_IO_ERROR, TSS_RC_OPEN), TPMID_E_NOTPM);
	assert_int_equal(tss_rc_map(TSS2_TCTI_RC_NO_CONNECTION, TSS_RC_OPEN), TPMID_E_NOTPM);
	assert_int_equal(tss_rc_map(TSS2_TCTI_RC_IO_ERROR, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_TCTI_RC_NO_CONNECTION, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_TCTI_RC_TRY_AGAIN, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_SYS_RC_MALFORMED_RESPONSE, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_SYS_RC_INSUFFICIENT_RESPONSE, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_ESYS_RC_MALFORMED_RESPONSE, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_ESYS_RC_IO_ERROR, TSS_RC_OPEN), TPMID_E_NOTPM);
	/* ESAPI refusing calls after a command it could not finish, and a
	 * garbled size: only a new connection helps (issue 8's wedge). */
	assert_int_equal(tss_rc_map(TSS2_ESYS_RC_BAD_SEQUENCE, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_SYS_RC_BAD_SEQUENCE, 0), TPMID_E_TPM_RESET);
	assert_int_equal(tss_rc_map(TSS2_SYS_RC_INSUFFICIENT_CONTEXT, 0), TPMID_E_TPM_RESET);
}

static void
test_curve_parent(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TPM2_RC_CURVE, 0), TPMID_E_CURVE);
	assert_int_equal(tss_rc_map(FMT1_PARAM(TPM2_RC_CURVE, 2), 0), TPMID_E_CURVE);
	assert_int_equal(tss_rc_map(TPM2_RC_ECC_POINT, 0), TPMID_E_CURVE);
	assert_int_equal(tss_rc_map(FMT1_PARAM(TPM2_RC_ECC_POINT, 1), 0), TPMID_E_CURVE);
	/* TPM_RC_INTEGRITY: wrong parent only when loading/importing. */
	assert_int_equal(tss_rc_map(0x1df, TSS_RC_LOAD), TPMID_E_PARENT);
	assert_int_equal(tss_rc_map(TPM2_RC_INTEGRITY, TSS_RC_LOAD), TPMID_E_PARENT);
	assert_int_equal(tss_rc_map(0x1df, 0), TPMID_E_TPM);
}

static void
test_other(void **state)
{
	(void)state;
	assert_int_equal(tss_rc_map(TPM2_RC_COMMAND_CODE, 0), TPMID_E_TPM);
	assert_int_equal(tss_rc_map(TPM2_RC_NV_DEFINED, 0), TPMID_E_TPM);
	assert_int_equal(tss_rc_map(TPM2_RC_FAILURE, 0), TPMID_E_TPM);
	assert_int_equal(tss_rc_map(TSS2_ESYS_RC_BAD_VALUE, 0), TPMID_E_TPM);
	assert_int_equal(tss_rc_map(TSS2_ESYS_RC_RSP_AUTH_FAILED, 0), TPMID_E_TPM);
	assert_int_equal(tss_rc_map(TSS2_ESYS_RC_MEMORY, 0), TPMID_E_NOMEM);
	assert_int_equal(tss_rc_map(TSS2_MU_RC_INSUFFICIENT_BUFFER, 0), TPMID_E_TPM);
	/* Nothing non-zero ever maps to success. */
	assert_true(tss_rc_map(0x80000001u, 0) < 0);
	assert_true(tss_rc_map(0x400, 0) < 0); /* vendor-defined format zero */
}

static void
test_retry(void **state)
{
	(void)state;
	assert_true(tss_rc_is_retry(TPM2_RC_RETRY));
	assert_true(tss_rc_is_retry(TPM2_RC_YIELDED));
	assert_true(tss_rc_is_retry(TPM2_RC_TESTING));
	assert_true(tss_rc_is_retry(TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_RETRY));
	assert_false(tss_rc_is_retry(TPM2_RC_LOCKOUT));
	assert_false(tss_rc_is_retry(TSS2_RC_SUCCESS));
	assert_false(tss_rc_is_retry(TSS2_TCTI_RC_TRY_AGAIN));
	assert_true(tss_rc_is_retry(TPM2_RC_NV_RATE));
}

/* The backoff waits only for retry warnings, and never longer in all than
 * its budget: 1, 2, 4 ... ms, capped at 64 ms a wait and 3 s in all. */
static void
test_backoff(void **state)
{
	struct tss_backoff b = { 0 };
	unsigned waits = 0;

	(void)state;
	assert_int_equal(tss_backoff(&b, TSS2_RC_SUCCESS), 0);
	assert_int_equal(tss_backoff(&b, TPM2_RC_LOCKOUT), 0);
	assert_int_equal(b.waited_ms, 0);
	while (tss_backoff(&b, TPM2_RC_RETRY))
		waits++;
	assert_true(b.waited_ms <= TSS_BACKOFF_BUDGET_MS);
	assert_true(b.waited_ms > TSS_BACKOFF_BUDGET_MS - TSS_BACKOFF_MAX_MS);
	/* Enough waits for 50 RETRY answers in a row on a path that does not
	 * resubmit by itself. */
	assert_true(waits >= 50);
}

static void
test_detail(void **state)
{
	const char *m;
	int r;

	(void)state;
	r = tss_rc_err(0x98e, 0, "TPM2_Sign");
	assert_int_equal(r, TPMID_E_BADPIN);
	m = tpmid_errmsg(r);
	assert_non_null(strstr(m, "TPM2_Sign"));
	assert_non_null(strstr(m, "wrong PIN"));
	assert_non_null(strstr(m, "0x98e"));
	assert_non_null(strstr(m, "session(1)")); /* Tss2_RC_Decode text kept */

	r = tss_rc_err(TPM2_RC_LOCKOUT, 0, "TPM2_Sign");
	assert_int_equal(r, TPMID_E_LOCKOUT);
	assert_non_null(strstr(tpmid_errmsg(r), "tpm2_dictionarylockout --clear-lockout"));

	r = tss_rc_err(TSS2_TCTI_RC_IO_ERROR, TSS_RC_OPEN, "connecting");
	assert_int_equal(r, TPMID_E_NOTPM);
	assert_non_null(strstr(tpmid_errmsg(r), "TPMID_TCTI"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_tpm_code_strips_bits),
		cmocka_unit_test(test_badpin),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_curve_parent),
		cmocka_unit_test(test_other),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_detail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
