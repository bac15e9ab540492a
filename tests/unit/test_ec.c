/* Unit tests for agent/format/ec.c: the private key decoder of tpmid import
 * (ec_privkey_decode) over every encoding it promises, and what it refuses.
 * The keys are made here with OpenSSL and written by OpenSSL's encoders,
 * as `openssl genpkey` and `openssl ec` would write them. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"

/* `k` encoded by OpenSSL as `format` ("PEM", "DER") and `structure`
 * ("PrivateKeyInfo", "type-specific": SEC1, "SubjectPublicKeyInfo": the
 * public key only). `pass` makes an EncryptedPrivateKeyInfo (PKCS#8 PBES2
 * with AES-256-CBC) when not NULL. */
static uint8_t *
encode(EVP_PKEY *k, const char *format, const char *structure, const char *pass,
    size_t *ret_len)
{
	OSSL_ENCODER_CTX *ctx;
	unsigned char *data = NULL;
	size_t len = 0;

	int sel = strcmp(structure, "SubjectPublicKeyInfo") == 0 ?
	    OSSL_KEYMGMT_SELECT_PUBLIC_KEY : OSSL_KEYMGMT_SELECT_KEYPAIR;

	ctx = OSSL_ENCODER_CTX_new_for_pkey(k, sel | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS,
	    format, structure, NULL);
	assert_non_null(ctx);
	if (pass != NULL) {
		assert_int_equal(OSSL_ENCODER_CTX_set_cipher(ctx, "AES-256-CBC", NULL), 1);
		assert_int_equal(OSSL_ENCODER_CTX_set_passphrase(ctx,
		    (const unsigned char *)pass, strlen(pass)), 1);
	}
	assert_int_equal(OSSL_ENCODER_to_data(ctx, &data, &len), 1);
	OSSL_ENCODER_CTX_free(ctx);
	*ret_len = len;
	return data;
}

static void
test_privkey_encodings(void **state)
{
	static const char *const curves[] = { "P-256", "P-384" };
	static const struct {
		const char *format, *structure;
	} enc[] = {
		{ "PEM", "PrivateKeyInfo" },
		{ "DER", "PrivateKeyInfo" },
		{ "PEM", "type-specific" },
		{ "DER", "type-specific" },
	};
	const struct curve_info *c;
	EVP_PKEY *k, *got;
	uint8_t *data;
	size_t len, i, j;

	(void)state;
	for (i = 0; i < ELEMENTSOF(curves); i++) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		assert_non_null(k);
		for (j = 0; j < ELEMENTSOF(enc); j++) {
			data = encode(k, enc[j].format, enc[j].structure, NULL, &len);
			got = (EVP_PKEY *)&got;
			assert_int_equal(ec_privkey_decode(data, len, &got), 0);
			assert_int_equal(EVP_PKEY_eq(got, k), 1);
			assert_int_equal(ec_pkey_curve(got, &c), 0);
			assert_int_equal(c->id, i == 0 ? CURVE_P256 : CURVE_P384);
			EVP_PKEY_free(got);
			OPENSSL_clear_free(data, len);
		}
		EVP_PKEY_free(k);
	}
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_privkey_refused(void **state)
{
	static const char garbage[] = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
	EVP_PKEY *k, *got;
	uint8_t *data;
	size_t len;

	(void)state;
	/* Encrypted PKCS#8: refused, without asking anyone for a passphrase. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	data = encode(k, "PEM", "PrivateKeyInfo", "secret", &len);
	assert_non_null(memmem(data, len, "ENCRYPTED PRIVATE KEY", 21));
	got = (EVP_PKEY *)&got;
	assert_int_equal(ec_privkey_decode(data, len, &got), TPMID_E_FORMAT);
	assert_null(got);
	OPENSSL_free(data);
	/* A public key is not a private key. */
	data = encode(k, "PEM", "SubjectPublicKeyInfo", NULL, &len);
	assert_int_equal(ec_privkey_decode(data, len, &got), TPMID_E_FORMAT);
	OPENSSL_free(data);
	EVP_PKEY_free(k);

	/* Other curves and key types. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	data = encode(k, "PEM", "PrivateKeyInfo", NULL, &len);
	assert_int_equal(ec_privkey_decode(data, len, &got), TPMID_E_CURVE);
	assert_null(got);
	assert_non_null(strstr(tpmid_errmsg(TPMID_E_CURVE), "secp521r1"));
	OPENSSL_clear_free(data, len);
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	data = encode(k, "DER", "PrivateKeyInfo", NULL, &len);
	assert_int_equal(ec_privkey_decode(data, len, &got), TPMID_E_CURVE);
	OPENSSL_clear_free(data, len);
	EVP_PKEY_free(k);

	assert_int_equal(ec_privkey_decode((const uint8_t *)garbage, strlen(garbage), &got),
	    TPMID_E_FORMAT);
	assert_int_equal(ec_privkey_decode((const uint8_t *)"", 0, &got), TPMID_E_FORMAT);
	assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_privkey_encodings),
		cmocka_unit_test(test_privkey_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
