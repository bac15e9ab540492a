/* Unit tests for common/buf.c: the bounded buffer for untrusted bytes. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

static void
test_put_get_roundtrip(void **state)
{
	struct tbuf *b = tbuf_new(0);
	const uint8_t *p;
	uint8_t u8, raw[3];
	uint32_t u32;
	uint64_t u64;
	uint8_t *s;
	char *cs;
	size_t len;
	int bv;

	(void)state;
	assert_non_null(b);
	assert_int_equal(b->max, TBUF_MAX_DEFAULT);
	assert_int_equal(tbuf_put_u8(b, 0xab), 0);
	assert_int_equal(tbuf_put_u8(b, 2), 0);
	assert_int_equal(tbuf_put_u32(b, 0xdeadbeef), 0);
	assert_int_equal(tbuf_put_u64(b, 0x0102030405060708ULL), 0);
	assert_int_equal(tbuf_put_string(b, "abc", 3), 0);
	assert_int_equal(tbuf_put_cstring(b, "hello"), 0);
	assert_int_equal(tbuf_put_cstring(b, NULL), 0);
	assert_int_equal(tbuf_put(b, "xyz", 3), 0);
	assert_int_equal(tbuf_len(b), 1 + 1 + 4 + 8 + 7 + 9 + 4 + 3);
	/* Wire layout: big-endian (RFC 4251 section 5). */
	assert_memory_equal(tbuf_ptr(b), "\xab\x02\xde\xad\xbe\xef\x01\x02", 8);

	assert_int_equal(tbuf_get_u8(b, &u8), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(tbuf_get_bool(b, &bv), 0);
	assert_int_equal(bv, 1);
	assert_int_equal(tbuf_get_u32(b, &u32), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(tbuf_get_u64(b, &u64), 0);
	assert_true(u64 == 0x0102030405060708ULL);
	assert_int_equal(tbuf_get_string(b, &s, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "abc", 4); /* NUL appended */
	free(s);
	assert_int_equal(tbuf_get_cstring(b, &cs, &len), 0);
	assert_string_equal(cs, "hello");
	free(cs);
	assert_int_equal(tbuf_get_string_direct(b, &p, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(tbuf_expect_end(b), TPMID_E_FORMAT);
	assert_int_equal(tbuf_get(b, raw, 3), 0);
	assert_memory_equal(raw, "xyz", 3);
	assert_int_equal(tbuf_expect_end(b), 0);
	tbuf_free(b);
}

/* Every getter on too little input: an error, nothing consumed, output
 * cleared. */
static void
test_short_input(void **state)
{
	static const uint8_t data[] = { 0x00, 0x00, 0x00, 0x05, 'a', 'b', 'c' };
	struct tbuf v;
	const uint8_t *p = (const uint8_t *)1;
	uint8_t u8 = 9, *s = (uint8_t *)1, out[8];
	uint32_t u32 = 9;
	uint64_t u64 = 9;
	size_t len = 9, n;
	char *cs = (char *)1;
	int bv = 9;
	struct tbuf view;

	(void)state;
	tbuf_init_view(&v, data, 0);
	assert_int_equal(tbuf_get_u8(&v, &u8), TPMID_E_FORMAT);
	assert_int_equal(u8, 0);
	assert_int_equal(tbuf_get_bool(&v, &bv), TPMID_E_FORMAT);
	assert_int_equal(bv, 0);
	assert_int_equal(tbuf_get(&v, out, 1), TPMID_E_FORMAT);
	assert_int_equal(tbuf_consume(&v, 1), TPMID_E_FORMAT);
	assert_int_equal(tbuf_consume_end(&v, 1), TPMID_E_FORMAT);

	for (n = 0; n < 4; n++) {
		tbuf_init_view(&v, data, n);
		assert_int_equal(tbuf_get_u32(&v, &u32), TPMID_E_FORMAT);
		assert_int_equal(u32, 0);
		assert_int_equal(tbuf_len(&v), n);
	}
	for (n = 0; n < 8; n++) {
		uint8_t eight[8] = { 0 };

		tbuf_init_view(&v, eight, n);
		assert_int_equal(tbuf_get_u64(&v, &u64), TPMID_E_FORMAT);
		assert_true(u64 == 0);
		assert_int_equal(tbuf_len(&v), n); /* half-read u64 rewound */
	}

	/* String claims 5 bytes, 3 follow. */
	tbuf_init_view(&v, data, sizeof(data));
	assert_int_equal(tbuf_get_string_direct(&v, &p, &len), TPMID_E_FORMAT);
	assert_null(p);
	assert_int_equal(len, 0);
	assert_int_equal(tbuf_len(&v), sizeof(data));
	assert_int_equal(tbuf_get_string(&v, &s, &len), TPMID_E_FORMAT);
	assert_null(s);
	assert_int_equal(tbuf_get_cstring(&v, &cs, &len), TPMID_E_FORMAT);
	assert_null(cs);
	assert_int_equal(tbuf_get_stringb(&v, &view), TPMID_E_FORMAT);
	assert_int_equal(tbuf_get_mpint_bytes(&v, &p, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_len(&v), sizeof(data));
	/* Length prefix itself short. */
	tbuf_init_view(&v, data, 3);
	assert_int_equal(tbuf_get_string_direct(&v, &p, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_len(&v), 3);
}

/* A u32 length of 0xffffffff must not wrap any offset arithmetic. */
static void
test_huge_length(void **state)
{
	static const uint8_t data[] = { 0xff, 0xff, 0xff, 0xff, 'a', 'b' };
	static const uint8_t data2[] = { 0xff, 0xff, 0xff, 0xfe, 'a' };
	struct tbuf v;
	const uint8_t *p;
	uint8_t *s;
	char *cs;
	size_t len;

	(void)state;
	tbuf_init_view(&v, data, sizeof(data));
	assert_int_equal(tbuf_consume(&v, 1), 0);
	/* After consuming, off + len could wrap where off + len > size would
	 * be the (wrong) check. */
	tbuf_init_view(&v, data, sizeof(data));
	assert_int_equal(tbuf_get_string_direct(&v, &p, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_get_string(&v, &s, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_get_cstring(&v, &cs, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_get_mpint_bytes(&v, &p, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_len(&v), sizeof(data));
	tbuf_init_view(&v, data2, sizeof(data2));
	assert_int_equal(tbuf_get_string_direct(&v, &p, &len), TPMID_E_FORMAT);
	assert_int_equal(tbuf_consume(&v, SIZE_MAX), TPMID_E_FORMAT);
	assert_int_equal(tbuf_consume_end(&v, SIZE_MAX), TPMID_E_FORMAT);
	assert_int_equal(tbuf_get(&v, NULL, SIZE_MAX), TPMID_E_FORMAT);
}

static void
test_max_cap(void **state)
{
	struct tbuf *b = tbuf_new(10);
	uint8_t *d;
	size_t i;

	(void)state;
	assert_int_equal(tbuf_put(b, "0123456789", 10), 0);
	assert_int_equal(tbuf_put_u8(b, 1), TPMID_E_TOOBIG);
	assert_int_equal(tbuf_len(b), 10);
	assert_int_equal(tbuf_reserve(b, SIZE_MAX, &d), TPMID_E_TOOBIG);
	assert_null(d);
	assert_int_equal(tbuf_put_string(b, "", 0), TPMID_E_TOOBIG);
	/* Consumed space is reclaimed before the cap is applied. */
	assert_int_equal(tbuf_consume(b, 10), 0);
	assert_int_equal(tbuf_put(b, "abcdefghij", 10), 0);
	assert_int_equal(tbuf_put_u8(b, 1), TPMID_E_TOOBIG);
	tbuf_reset(b);
	assert_int_equal(tbuf_len(b), 0);
	tbuf_free(b);

	/* Growth across many chunks keeps contents. */
	b = tbuf_new(100000);
	for (i = 0; i < 10000; i++)
		assert_int_equal(tbuf_put_u8(b, (uint8_t)i), 0);
	for (i = 0; i < 10000; i++) {
		uint8_t v;

		assert_int_equal(tbuf_get_u8(b, &v), 0);
		assert_int_equal(v, (uint8_t)i);
	}
	tbuf_free(b);

	/* A secret buffer behaves the same. */
	b = tbuf_new(64);
	tbuf_set_secret(b);
	for (i = 0; i < 64; i++)
		assert_int_equal(tbuf_put_u8(b, 0x5a), 0);
	assert_int_equal(tbuf_put_u8(b, 0), TPMID_E_TOOBIG);
	tbuf_reset(b);
	tbuf_free(b);
	tbuf_free(NULL);
}

static void
test_readonly_view(void **state)
{
	static const uint8_t data[] = { 0, 0, 0, 2, 'h', 'i', 7 };
	struct tbuf *v = tbuf_from(data, sizeof(data));
	struct tbuf inner;
	uint8_t *d;

	(void)state;
	assert_int_equal(tbuf_put_u8(v, 1), TPMID_E_INVAL);
	assert_int_equal(tbuf_reserve(v, 1, &d), TPMID_E_INVAL);
	assert_int_equal(tbuf_poke_u32(v, 0, 1), TPMID_E_INVAL);
	assert_int_equal(tbuf_get_stringb(v, &inner), 0);
	assert_int_equal(tbuf_len(&inner), 2);
	assert_memory_equal(tbuf_ptr(&inner), "hi", 2);
	assert_int_equal(tbuf_consume_end(v, 1), 0);
	assert_int_equal(tbuf_expect_end(v), 0);
	tbuf_free(v);
}

static void
test_cstring_nul(void **state)
{
	static const uint8_t data[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	struct tbuf v;
	uint8_t *s;
	char *cs = (char *)1;
	size_t len;

	(void)state;
	tbuf_init_view(&v, data, sizeof(data));
	assert_int_equal(tbuf_get_cstring(&v, &cs, &len), TPMID_E_FORMAT);
	assert_null(cs);
	assert_int_equal(tbuf_len(&v), sizeof(data));
	/* A plain string may hold NULs. */
	assert_int_equal(tbuf_get_string(&v, &s, &len), 0);
	assert_int_equal(len, 3);
	free(s);
}

static void
test_poke(void **state)
{
	struct tbuf *b = tbuf_new(0);

	(void)state;
	assert_int_equal(tbuf_put_u32(b, 0), 0);
	assert_int_equal(tbuf_put_u8(b, 9), 0);
	assert_int_equal(tbuf_poke_u32(b, 0, 0x01020304), 0);
	assert_memory_equal(tbuf_ptr(b), "\x01\x02\x03\x04\x09", 5);
	assert_int_equal(tbuf_poke_u32(b, 2, 1), TPMID_E_INVAL);
	assert_int_equal(tbuf_poke_u32(b, SIZE_MAX, 1), TPMID_E_INVAL);
	tbuf_free(b);
}

/* RFC 4251 section 5 examples plus the edges. */
static void
test_mpint_encode(void **state)
{
	static const struct {
		const char *in;
		size_t in_len;
		const char *out;
		size_t out_len;
	} v[] = {
		{ "", 0, "\0\0\0\0", 4 },                            /* zero */
		{ "\0\0\0", 3, "\0\0\0\0", 4 },                      /* zero, padded */
		{ "\x09\xa3\x78\xf9\xb2\xe3\x32\xa7", 8,
		  "\0\0\0\x08\x09\xa3\x78\xf9\xb2\xe3\x32\xa7", 12 },
		{ "\x80", 1, "\0\0\0\x02\x00\x80", 6 },              /* high bit */
		{ "\0\0\x80\x01", 4, "\0\0\0\x03\x00\x80\x01", 7 },  /* zeros, high bit */
		{ "\0\x7f", 2, "\0\0\0\x01\x7f", 5 },                /* leading zero */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ELEMENTSOF(v); i++) {
		struct tbuf *b = tbuf_new(0);

		assert_int_equal(tbuf_put_mpint_bytes(b, (const uint8_t *)v[i].in, v[i].in_len), 0);
		assert_int_equal(tbuf_len(b), v[i].out_len);
		assert_memory_equal(tbuf_ptr(b), v[i].out, v[i].out_len);
		tbuf_free(b);
	}
}

static void
test_mpint_decode(void **state)
{
	static const struct {
		const char *in;
		size_t in_len;
		int err;
		const char *mag;
		size_t mag_len;
	} v[] = {
		{ "\0\0\0\0", 4, 0, "", 0 },
		{ "\0\0\0\x02\x00\x80", 6, 0, "\x80", 1 },
		{ "\0\0\0\x01\x7f", 5, 0, "\x7f", 1 },
		{ "\0\0\0\x01\x80", 5, TPMID_E_FORMAT, NULL, 0 },       /* negative */
		{ "\0\0\0\x02\xff\x01", 6, TPMID_E_FORMAT, NULL, 0 },   /* negative */
		{ "\0\0\0\x02\x00\x01", 6, TPMID_E_FORMAT, NULL, 0 },   /* non-minimal */
		{ "\0\0\0\x03\x00\x00\x80", 7, TPMID_E_FORMAT, NULL, 0 },
		{ "\0\0\0\x02\x00", 5, TPMID_E_FORMAT, NULL, 0 },       /* short */
	};
	size_t i, len;
	const uint8_t *p;

	(void)state;
	for (i = 0; i < ELEMENTSOF(v); i++) {
		struct tbuf b;
		int r;

		tbuf_init_view(&b, v[i].in, v[i].in_len);
		r = tbuf_get_mpint_bytes(&b, &p, &len);
		if (r != v[i].err)
			fail_msg("case %zu: got %d, want %d", i, r, v[i].err);
		if (r == 0) {
			assert_int_equal(len, v[i].mag_len);
			if (len > 0)
				assert_memory_equal(p, v[i].mag, len);
			assert_int_equal(tbuf_len(&b), 0);
		} else {
			assert_null(p);
			assert_int_equal(len, 0);
			assert_int_equal(tbuf_len(&b), v[i].in_len); /* not consumed */
		}
	}
}

/* Encode then decode returns the magnitude without leading zeros. */
static void
test_mpint_roundtrip(void **state)
{
	uint8_t in[33];
	size_t i, len;
	const uint8_t *p;

	(void)state;
	for (i = 0; i < 256; i++) {
		struct tbuf *b = tbuf_new(0);

		memset(in, 0, sizeof(in));
		in[1] = (uint8_t)i;
		in[32] = 0x42;
		assert_int_equal(tbuf_put_mpint_bytes(b, in, sizeof(in)), 0);
		assert_int_equal(tbuf_get_mpint_bytes(b, &p, &len), 0);
		if (i == 0) {
			assert_int_equal(len, 1);
			assert_int_equal(p[0], 0x42);
		} else {
			assert_int_equal(len, 32);
			assert_int_equal(p[0], i);
		}
		tbuf_free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_roundtrip),
		cmocka_unit_test(test_short_input),
		cmocka_unit_test(test_huge_length),
		cmocka_unit_test(test_max_cap),
		cmocka_unit_test(test_readonly_view),
		cmocka_unit_test(test_cstring_nul),
		cmocka_unit_test(test_poke),
		cmocka_unit_test(test_mpint_encode),
		cmocka_unit_test(test_mpint_decode),
		cmocka_unit_test(test_mpint_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
