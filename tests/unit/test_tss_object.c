/* Unit tests for tss/object.c: marshaling and the object name
 * nameAlg || H(TPMT_PUBLIC) (TPM 2.0 Part 1 §16), against names a real TPM
 * computed (tests/unit/tss_vectors.h says how they were made). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "tss/tpm-private.h"
#include "tests/unit/tss_vectors.h"

static void
load_pub(const uint8_t *p, size_t len, TPM2B_PUBLIC *pub)
{
	assert_int_equal(tss_unmarshal_public(p, len, pub), 0);
}

static void
test_name_of_loaded_external_key(void **state)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;

	(void)state;
	load_pub(RFC6979_PUB, sizeof(RFC6979_PUB), &pub);
	assert_int_equal(tss_object_name(&pub, &name), 0);
	assert_int_equal(name.size, sizeof(RFC6979_NAME));
	assert_memory_equal(name.name, RFC6979_NAME, sizeof(RFC6979_NAME));
}

static void
test_name_of_h2_srk(void **state)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;

	(void)state;
	load_pub(H2_SRK_PUB, sizeof(H2_SRK_PUB), &pub);
	assert_int_equal(tss_object_name(&pub, &name), 0);
	assert_int_equal(name.size, sizeof(H2_SRK_NAME));
	assert_memory_equal(name.name, H2_SRK_NAME, sizeof(H2_SRK_NAME));
}

/* Every field of the public area is under the hash. */
static void
test_name_covers_the_public_area(void **state)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;

	(void)state;
	load_pub(RFC6979_PUB, sizeof(RFC6979_PUB), &pub);
	pub.publicArea.unique.ecc.y.buffer[31] ^= 1;
	assert_int_equal(tss_object_name(&pub, &name), 0);
	assert_int_equal(name.size, sizeof(RFC6979_NAME));
	assert_memory_not_equal(name.name, RFC6979_NAME, sizeof(RFC6979_NAME));

	load_pub(RFC6979_PUB, sizeof(RFC6979_PUB), &pub);
	pub.publicArea.objectAttributes &= ~TPMA_OBJECT_NODA;
	assert_int_equal(tss_object_name(&pub, &name), 0);
	assert_memory_not_equal(name.name, RFC6979_NAME, sizeof(RFC6979_NAME));
}

static void
test_name_other_namealg_refused(void **state)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;

	(void)state;
	load_pub(RFC6979_PUB, sizeof(RFC6979_PUB), &pub);
	pub.publicArea.nameAlg = TPM2_ALG_SM3_256;
	name.size = 7;
	assert_int_equal(tss_object_name(&pub, &name), TPMID_E_UNSUPPORTED);
	assert_int_equal(name.size, 0);
	/* SHA-384 (a P-384 EK's) is named with its own algorithm. */
	pub.publicArea.nameAlg = TPM2_ALG_SHA384;
	assert_int_equal(tss_object_name(&pub, &name), 0);
	assert_int_equal(name.size, 2 + 48);
	assert_int_equal(name.name[0], 0x00);
	assert_int_equal(name.name[1], 0x0c);
}

/* Marshaling back gives the TPM's bytes: the vector round-trips. */
static void
test_marshal_round_trip(void **state)
{
	TPM2B_PUBLIC pub;
	uint8_t *p = NULL;
	size_t len = 0;

	(void)state;
	load_pub(H2_SRK_PUB, sizeof(H2_SRK_PUB), &pub);
	assert_int_equal(tss_marshal_public(&pub, &p, &len), 0);
	assert_int_equal(len, sizeof(H2_SRK_PUB));
	assert_memory_equal(p, H2_SRK_PUB, len);
	free(p);
}

static void
test_unmarshal_refuses_bad_input(void **state)
{
	uint8_t buf[sizeof(RFC6979_PUB) + 1];
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;

	(void)state;
	assert_int_equal(tss_unmarshal_public(NULL, 0, &pub), TPMID_E_FORMAT);
	assert_int_equal(tss_unmarshal_public(RFC6979_PUB, sizeof(RFC6979_PUB) - 1, &pub),
	    TPMID_E_FORMAT);
	memcpy(buf, RFC6979_PUB, sizeof(RFC6979_PUB));
	buf[sizeof(RFC6979_PUB)] = 0;
	assert_int_equal(tss_unmarshal_public(buf, sizeof(buf), &pub), TPMID_E_FORMAT);
	assert_non_null(strstr(tpmid_errmsg(TPMID_E_FORMAT), "1 trailing bytes"));
	assert_int_equal(tss_unmarshal_private(NULL, 0, &priv), TPMID_E_FORMAT);
}

/* tpm_blob_public reads curve, key and the auth hint from the public area. */
static void
test_blob_public(void **state)
{
	static const uint8_t x[] = { 0x60, 0xfe, 0xd4, 0xba };
	uint8_t point[65];
	size_t plen = 0;
	enum tpmid_curve curve = CURVE_NONE;
	EVP_PKEY *pkey = NULL;
	int auth = -1;

	(void)state;
	assert_int_equal(tpm_blob_public(RFC6979_PUB, sizeof(RFC6979_PUB), &curve, &pkey, &auth), 0);
	assert_int_equal(curve, CURVE_P256);
	assert_int_equal(auth, 0); /* noDA: made without a PIN */
	assert_non_null(pkey);
	assert_true(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point,
	    sizeof(point), &plen));
	assert_int_equal(plen, 65);
	assert_int_equal(point[0], 0x04);
	assert_memory_equal(point + 1, x, sizeof(x));
	EVP_PKEY_free(pkey);

	/* Outputs are optional. */
	assert_int_equal(tpm_blob_public(RFC6979_PUB, sizeof(RFC6979_PUB), NULL, NULL, NULL), 0);
	/* The SRK is an ECC P-256 key too; tpm_blob_public does not judge its use. */
	assert_int_equal(tpm_blob_public(H2_SRK_PUB, sizeof(H2_SRK_PUB), &curve, NULL, &auth), 0);
	assert_int_equal(curve, CURVE_P256);
	assert_int_equal(auth, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_of_loaded_external_key),
		cmocka_unit_test(test_name_of_h2_srk),
		cmocka_unit_test(test_name_covers_the_public_area),
		cmocka_unit_test(test_name_other_namealg_refused),
		cmocka_unit_test(test_marshal_round_trip),
		cmocka_unit_test(test_unmarshal_refuses_bad_input),
		cmocka_unit_test(test_blob_public),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
