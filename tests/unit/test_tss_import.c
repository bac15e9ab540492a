/* Unit tests for tss/import.c: the inner duplication wrapper TPM2_Import
 * receives (TPM 2.0 Part 1 §23.3.2.3, nameAlg SHA-256, symmetric AES-128
 * CFB, IV zero, no outer wrapper):
 *   duplicate = CFB_key(TPM2B(innerIntegrity) || TPM2B_SENSITIVE)
 *   innerIntegrity = SHA-256(TPM2B_SENSITIVE || name)
 * A fixed TPM2B_SENSITIVE is wrapped under a fixed key, decrypted here with
 * OpenSSL and taken apart byte by byte; the expected TPM2B_SENSITIVE is
 * spelled out by hand from Part 2 §12.3.2.4-5 (TPMT_SENSITIVE) rather than
 * produced by the marshaler the code under test uses. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "tss/tpm-private.h"
#include "tests/unit/tss_vectors.h"

static const uint8_t KEY[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The key to import: RFC 6979 §A.2.5's d, a fixed seedValue and `auth`
 * (the PIN) as authValue. */
static void
make_sensitive(const char *auth, TPM2B_SENSITIVE *sens)
{
	size_t i;

	memset(sens, 0, sizeof(*sens));
	sens->sensitiveArea.sensitiveType = TPM2_ALG_ECC;
	sens->sensitiveArea.authValue.size = (UINT16)strlen(auth);
	memcpy(sens->sensitiveArea.authValue.buffer, auth, strlen(auth));
	sens->sensitiveArea.seedValue.size = 32;
	for (i = 0; i < 32; i++)
		sens->sensitiveArea.seedValue.buffer[i] = (uint8_t)(0xa0 + i);
	sens->sensitiveArea.sensitive.ecc.size = sizeof(RFC6979_D);
	memcpy(sens->sensitiveArea.sensitive.ecc.buffer, RFC6979_D, sizeof(RFC6979_D));
}

/* TPM2B_SENSITIVE by hand: size || sensitiveType || TPM2B authValue ||
 * TPM2B seedValue || TPM2B ecc private scalar. Returns the length. */
static size_t
expect_sensitive(const char *auth, uint8_t *out)
{
	size_t alen = strlen(auth), off = 2, i;

	put16(out + off, TPM2_ALG_ECC);
	off += 2;
	put16(out + off, alen);
	memcpy(out + off + 2, auth, alen);
	off += 2 + alen;
	put16(out + off, 32);
	for (i = 0; i < 32; i++)
		out[off + 2 + i] = (uint8_t)(0xa0 + i);
	off += 2 + 32;
	put16(out + off, sizeof(RFC6979_D));
	memcpy(out + off + 2, RFC6979_D, sizeof(RFC6979_D));
	off += 2 + sizeof(RFC6979_D);
	put16(out, off - 2);
	return off;
}

static size_t
cfb_decrypt(const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0;

	assert_non_null(c);
	assert_true(EVP_DecryptInit_ex(c, EVP_aes_128_cfb128(), NULL, KEY, iv));
	assert_true(EVP_DecryptUpdate(c, out, &n, in, (int)len));
	assert_true(EVP_DecryptFinal_ex(c, out + n, &f));
	EVP_CIPHER_CTX_free(c);
	return (size_t)(n + f);
}

static void
check_wrap(const char *auth)
{
	TPM2B_SENSITIVE sens;
	TPM2B_NAME name = { 0 };
	TPM2B_DATA key = { 0 };
	TPM2B_PRIVATE dup = { 0 };
	uint8_t want_sens[256], plain[sizeof(dup.buffer)], integ[32];
	unsigned int ilen = 0;
	size_t slen, plen;
	EVP_MD_CTX *md;

	make_sensitive(auth, &sens);
	slen = expect_sensitive(auth, want_sens);
	assert_int_equal(slen, 2 + 72 + strlen(auth));
	/* The name of the imported key is the one the TPM computed for it. */
	name.size = sizeof(RFC6979_NAME);
	memcpy(name.name, RFC6979_NAME, sizeof(RFC6979_NAME));
	key.size = sizeof(KEY);
	memcpy(key.buffer, KEY, sizeof(KEY));

	assert_int_equal(tss_inner_wrap(&sens, &name, &key, &dup), 0);
	assert_int_equal(dup.size, 2 + 32 + slen);
	/* Ciphertext: the scalar must not appear in clear. */
	assert_null(memmem(dup.buffer, dup.size, RFC6979_D, 8));

	plen = cfb_decrypt(dup.buffer, dup.size, plain);
	assert_int_equal(plen, dup.size);
	/* TPM2B(innerIntegrity): a SHA-256 digest... */
	assert_int_equal(plain[0], 0x00);
	assert_int_equal(plain[1], 32);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_true(EVP_DigestInit_ex(md, EVP_sha256(), NULL));
	assert_true(EVP_DigestUpdate(md, want_sens, slen));
	assert_true(EVP_DigestUpdate(md, RFC6979_NAME, sizeof(RFC6979_NAME)));
	assert_true(EVP_DigestFinal_ex(md, integ, &ilen));
	EVP_MD_CTX_free(md);
	assert_int_equal(ilen, 32);
	/* ...over the sensitive area and the name... */
	assert_memory_equal(plain + 2, integ, 32);
	/* ...followed by the TPM2B_SENSITIVE itself. */
	assert_memory_equal(plain + 34, want_sens, slen);
}

static void
test_wrap_without_pin(void **state)
{
	(void)state;
	check_wrap("");
}

static void
test_wrap_with_pin(void **state)
{
	(void)state;
	check_wrap("123456");
}

/* The integrity digest binds the name: the same sensitive area under
 * another name wraps differently. */
static void
test_wrap_binds_name(void **state)
{
	TPM2B_SENSITIVE sens;
	TPM2B_NAME a = { 0 }, b = { 0 };
	TPM2B_DATA key = { 0 };
	TPM2B_PRIVATE da = { 0 }, db = { 0 };

	(void)state;
	make_sensitive("", &sens);
	a.size = sizeof(RFC6979_NAME);
	memcpy(a.name, RFC6979_NAME, a.size);
	b.size = sizeof(H2_SRK_NAME);
	memcpy(b.name, H2_SRK_NAME, b.size);
	key.size = sizeof(KEY);
	memcpy(key.buffer, KEY, sizeof(KEY));
	assert_int_equal(tss_inner_wrap(&sens, &a, &key, &da), 0);
	assert_int_equal(tss_inner_wrap(&sens, &b, &key, &db), 0);
	assert_int_equal(da.size, db.size);
	/* Same key and IV: the ciphertexts share the TPM2B size in front,
	 * then differ where the integrity digest is. */
	assert_memory_equal(da.buffer, db.buffer, 2);
	assert_memory_not_equal(da.buffer + 2, db.buffer + 2, 32);
}

/* The wrapper is AES-128: any other key length is a caller bug, refused. */
static void
test_wrap_refuses_other_key_sizes(void **state)
{
	TPM2B_SENSITIVE sens;
	TPM2B_NAME name = { 0 };
	TPM2B_DATA key = { 0 };
	TPM2B_PRIVATE dup = { 0 };

	(void)state;
	make_sensitive("", &sens);
	name.size = sizeof(RFC6979_NAME);
	memcpy(name.name, RFC6979_NAME, name.size);
	key.size = 32;
	assert_int_equal(tss_inner_wrap(&sens, &name, &key, &dup), TPMID_E_INVAL);
	assert_int_equal(dup.size, 0);
	key.size = 0;
	assert_int_equal(tss_inner_wrap(&sens, &name, &key, &dup), TPMID_E_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap_without_pin),
		cmocka_unit_test(test_wrap_with_pin),
		cmocka_unit_test(test_wrap_binds_name),
		cmocka_unit_test(test_wrap_refuses_other_key_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
