/* Unit tests for common/util.c: bounded file reads, hex, number parsing,
 * constant-time compare, secrets. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"

static char *
tmpfile_with(size_t n, char c)
{
	char *path = strdup("/tmp/tpmid-test-util.XXXXXX");
	int fd = mkstemp(path);
	char *buf = malloc(n + 1);

	assert_true(fd >= 0);
	memset(buf, c, n);
	assert_int_equal(write_all(fd, buf, n), 0);
	close(fd);
	free(buf);
	return path;
}

static void
read_file_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 32, 4095, 4096, 4097, 8191, 8192, 20000 };
	size_t i, n;
	uint8_t *p;

	(void)state;
	for (i = 0; i < ELEMENTSOF(sizes); i++) {
		char *path = tmpfile_with(sizes[i], 'a');
		/* Caps far above, exactly at, and just below the size. */
		assert_int_equal(read_file(path, 4096 > sizes[i] ? 4096 : sizes[i] + 4000, &p, &n), 0);
		assert_int_equal(n, sizes[i]);
		assert_int_equal(p[n], '\0');
		free(p);
		assert_int_equal(read_file(path, sizes[i], &p, &n), 0);
		assert_int_equal(n, sizes[i]);
		free(p);
		if (sizes[i] > 0) {
			assert_int_equal(read_file(path, sizes[i] - 1, &p, &n), TPMID_E_TOOBIG);
			assert_null(p);
			assert_int_equal(n, 0);
		}
		unlink(path);
		free(path);
	}
}

static void
read_file_missing(void **state)
{
	uint8_t *p;
	size_t n;

	(void)state;
	tpmid_clearerr();
	assert_int_equal(read_file("/nonexistent/x", 100, &p, &n), TPMID_E_NOENT);
	assert_non_null(strstr(tpmid_errmsg(TPMID_E_NOENT), "/nonexistent/x"));
}

static void
hex_round_trip(void **state)
{
	static const uint8_t data[] = { 0x00, 0x0b, 0xff, 0x7a };
	uint8_t *p;
	size_t n;
	char *s;

	(void)state;
	s = hex_encode(data, sizeof(data));
	assert_string_equal(s, "000bff7a");
	assert_int_equal(hex_decode("000BfF7a", &p, &n), 0);
	assert_memory_equal(p, data, sizeof(data));
	assert_int_equal(n, sizeof(data));
	free(p);
	free(s);
	assert_int_equal(hex_decode("abc", &p, &n), TPMID_E_FORMAT);
	assert_int_equal(hex_decode("zz", &p, &n), TPMID_E_FORMAT);
	assert_null(p);
}

static void
parse_numbers(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(parse_u32("0x81000010", &v), 0);
	assert_int_equal(v, 0x81000010u);
	assert_int_equal(parse_u32("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u32("4294967295", &v), 0);
	assert_int_equal(parse_u32("4294967296", &v), TPMID_E_INVAL);
	assert_int_equal(parse_u32("-1", &v), TPMID_E_INVAL);
	assert_int_equal(parse_u32("", &v), TPMID_E_INVAL);
	assert_int_equal(parse_u32("12x", &v), TPMID_E_INVAL);
	assert_int_equal(parse_u32(" 1", &v), TPMID_E_INVAL);
}

static void
compare_and_secrets(void **state)
{
	struct secret *s, *d;

	(void)state;
	assert_int_equal(timingsafe_memeq("abc", 3, "abc", 3), 0);
	assert_int_not_equal(timingsafe_memeq("abc", 3, "abd", 3), 0);
	assert_int_not_equal(timingsafe_memeq("abc", 3, "abcd", 4), 0);
	s = secret_new("1234", 4);
	assert_non_null(s);
	assert_int_equal(s->len, 4);
	assert_memory_equal(s->p, "1234", 4);
	assert_int_equal(s->p[4], '\0');
	d = secret_dup(s);
	assert_memory_equal(d->p, s->p, 5);
	secret_free(s);
	secret_free(d);
	secret_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_file_sizes),
		cmocka_unit_test(read_file_missing),
		cmocka_unit_test(hex_round_trip),
		cmocka_unit_test(parse_numbers),
		cmocka_unit_test(compare_and_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
