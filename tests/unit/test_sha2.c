/* Unit tests for common/sha2.c: the FIPS 180-4 examples, and agreement
 * with OpenSSL on every length around the block and padding boundaries
 * and on inputs fed in uneven pieces. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/sha2.h"
#include "common/util.h"

static void
hexeq(const uint8_t *got, size_t n, const char *want)
{
	char buf[2 * 64 + 1];
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", got[i]);
	assert_string_equal(buf, want);
}

static void
fips_examples(void **state)
{
	struct sha2 c;
	uint8_t out[48];
	const char *abc2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	assert_int_equal(sha2_init(&c, 32), 0);
	sha2_update(&c, "abc", 3);
	sha2_final(&c, out);
	hexeq(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(sha2_init(&c, 32), 0);
	sha2_update(&c, abc2, strlen(abc2));
	sha2_final(&c, out);
	hexeq(out, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_int_equal(sha2_init(&c, 48), 0);
	sha2_update(&c, "abc", 3);
	sha2_final(&c, out);
	hexeq(out, 48, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
	    "8086072ba1e7cc2358baeca134c825a7");
	assert_int_equal(sha2_init(&c, 20), -1);
}

static void
agrees_with_openssl(void **state)
{
	static uint8_t data[1200];
	uint8_t mine[48], ref[48];
	unsigned rl;
	size_t len, off, step;
	int k;
	struct sha2 c;

	(void)state;
	assert_int_equal(RAND_bytes(data, sizeof(data)), 1);
	for (k = 0; k < 2; k++) {
		size_t dl = k ? 48 : 32;
		const EVP_MD *md = k ? EVP_sha384() : EVP_sha256();

		for (len = 0; len <= 300; len++) {
			/* Fed whole, then in pieces of every size up to 17. */
			for (step = 0; step <= 17; step += (len > 140 ? 17 : 1)) {
				assert_int_equal(sha2_init(&c, dl), 0);
				if (step == 0)
					sha2_update(&c, data, len);
				else
					for (off = 0; off < len; off += step)
						sha2_update(&c, data + off, len - off < step ? len - off : step);
				sha2_final(&c, mine);
				assert_int_equal(EVP_Digest(data, len, ref, &rl, md, NULL), 1);
				assert_memory_equal(mine, ref, dl);
			}
		}
		assert_int_equal(sha2_init(&c, dl), 0);
		sha2_update(&c, data, sizeof(data));
		sha2_final(&c, mine);
		assert_int_equal(EVP_Digest(data, sizeof(data), ref, &rl, md, NULL), 1);
		assert_memory_equal(mine, ref, dl);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fips_examples),
		cmocka_unit_test(agrees_with_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
