/* Unit tests for common/err.c: the error space and per-thread details. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"

static void
test_strerror_all(void **state)
{
	int i, j;

	(void)state;
	for (i = TPMID_OK; i > TPMID_E__LAST; i--) {
		const char *m = tpmid_strerror(i);

		assert_non_null(m);
		assert_true(strlen(m) > 0);
		if (i != TPMID_OK)
			assert_string_not_equal(m, "unknown error");
		/* Distinct, so a message identifies its code. */
		for (j = i - 1; j > TPMID_E__LAST; j--)
			if (strcmp(m, tpmid_strerror(j)) == 0)
				fail_msg("codes %d and %d share \"%s\"", i, j, m);
	}
	assert_string_equal(tpmid_strerror(TPMID_E__LAST), "unknown error");
	assert_string_equal(tpmid_strerror(1), "unknown error");
	assert_string_equal(tpmid_strerror(-1000), "unknown error");
	assert_non_null(tpmid_strerror(INT32_MIN));
}

static void
test_seterr_errmsg(void **state)
{
	(void)state;
	tpmid_clearerr();
	assert_string_equal(tpmid_errmsg(TPMID_E_IO), tpmid_strerror(TPMID_E_IO));

	assert_int_equal(tpmid_seterr(TPMID_E_IO, "%s: %d", "file", 5), TPMID_E_IO);
	assert_string_equal(tpmid_errmsg(TPMID_E_IO), "file: 5");
	/* The detail belongs to its code only. */
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT), tpmid_strerror(TPMID_E_FORMAT));
	assert_string_equal(tpmid_errmsg(0), tpmid_strerror(0));

	/* A later detail replaces the earlier one. */
	tpmid_seterr(TPMID_E_FORMAT, "bad");
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT), "bad");
	assert_string_equal(tpmid_errmsg(TPMID_E_IO), tpmid_strerror(TPMID_E_IO));

	/* The detail may be built from itself: the import path wraps the
	 * load error as "...: <old detail>" (it used to come out garbled and
	 * duplicated, vsnprintf reading the buffer it was writing). */
	tpmid_seterr(TPMID_E_PARENT, "the parent was cleared");
	tpmid_seterr(TPMID_E_PARENT, "the key file does not load here: %s",
	    tpmid_errmsg(TPMID_E_PARENT));
	assert_string_equal(tpmid_errmsg(TPMID_E_PARENT),
	    "the key file does not load here: the parent was cleared");
	tpmid_seterr(TPMID_E_IO, "abc");
	tpmid_seterr(TPMID_E_IO, "%s+%s", tpmid_errmsg(TPMID_E_IO), tpmid_errmsg(TPMID_E_IO));
	assert_string_equal(tpmid_errmsg(TPMID_E_IO), "abc+abc");

	/* An empty detail falls back to the fixed text. */
	tpmid_seterr(TPMID_E_FORMAT, "%s", "");
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT), tpmid_strerror(TPMID_E_FORMAT));

	tpmid_clearerr();
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT), tpmid_strerror(TPMID_E_FORMAT));
}

static void
test_long_detail_truncated(void **state)
{
	char big[TPMID_ERRMSG_MAX * 2];
	const char *m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tpmid_seterr(TPMID_E_IO, "%s", big);
	m = tpmid_errmsg(TPMID_E_IO);
	assert_true(strlen(m) > 100 && strlen(m) < sizeof(big) - 1);
	tpmid_err_prefix("%s", big);
	m = tpmid_errmsg(TPMID_E_IO);
	assert_true(strlen(m) < sizeof(big) - 1);
	tpmid_clearerr();
}

static void
test_prefix(void **state)
{
	(void)state;
	tpmid_seterr(TPMID_E_FORMAT, "tpmid.alg: expected \"ecdsa-p256\"");
	tpmid_err_prefix("%s", "/s/web.json");
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT),
	    "/s/web.json: tpmid.alg: expected \"ecdsa-p256\"");
	tpmid_err_prefix("load %s", "web");
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT),
	    "load web: /s/web.json: tpmid.alg: expected \"ecdsa-p256\"");

	/* Nothing recorded: nothing to prefix. */
	tpmid_clearerr();
	tpmid_err_prefix("ctx");
	assert_string_equal(tpmid_errmsg(TPMID_E_FORMAT), tpmid_strerror(TPMID_E_FORMAT));
}

static void *
other_thread(void *arg)
{
	(void)arg;
	/* Fresh thread: no detail, and what it sets stays here. */
	if (strcmp(tpmid_errmsg(TPMID_E_IO), tpmid_strerror(TPMID_E_IO)) != 0)
		return (void *)1;
	tpmid_seterr(TPMID_E_IO, "thread detail");
	return NULL;
}

static void
test_per_thread(void **state)
{
	pthread_t t;
	void *res;

	(void)state;
	tpmid_seterr(TPMID_E_IO, "main detail");
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	assert_int_equal(pthread_join(t, &res), 0);
	assert_null(res);
	assert_string_equal(tpmid_errmsg(TPMID_E_IO), "main detail");
	tpmid_clearerr();
}

static int vwrap(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
vwrap(int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tpmid_vseterr(err, fmt, ap);
	va_end(ap);
	return r;
}

static void
test_vseterr(void **state)
{
	(void)state;
	assert_int_equal(vwrap(TPMID_E_BUSY, "lock %s held by %d", ".lock", 42), TPMID_E_BUSY);
	assert_string_equal(tpmid_errmsg(TPMID_E_BUSY), "lock .lock held by 42");
	tpmid_clearerr();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_all),
		cmocka_unit_test(test_seterr_errmsg),
		cmocka_unit_test(test_long_detail_truncated),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_per_thread),
		cmocka_unit_test(test_vseterr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
