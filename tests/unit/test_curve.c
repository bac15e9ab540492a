/* Unit tests for common/curve.c (the curve table) and agent/format/ec.c:
 * every name form finds its entry, and the table's sizes and names agree
 * with what OpenSSL knows about each curve. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "agent/format/ec.h"
#include "common/curve.h"
#include "common/err.h"

static void
test_lookups(void **state)
{
	size_t i;

	(void)state;
	assert_true(curve_count >= 2);
	assert_int_equal(curve_table[0].id, CURVE_P256); /* the default */
	for (i = 0; i < curve_count; i++) {
		const struct curve_info *c = &curve_table[i];

		assert_ptr_equal(curve_get(c->id), c);
		assert_ptr_equal(curve_by_name(c->name), c);
		assert_ptr_equal(curve_by_name(c->option), c);
		assert_ptr_equal(curve_by_name(c->nist), c);
		assert_ptr_equal(curve_by_group(c->group), c);
		assert_ptr_equal(curve_by_group(c->nist), c);
		assert_ptr_equal(curve_by_tpm(c->tpm_curve), c);
		assert_string_equal(curve_name(c->id), c->name);
	}
	assert_ptr_equal(curve_by_name("p-384"), curve_get(CURVE_P384));
	assert_null(curve_get(CURVE_NONE));
	assert_null(curve_get((enum tpmid_curve)77));
	assert_null(curve_by_name("p521"));
	assert_null(curve_by_name(""));
	assert_null(curve_by_name(NULL));
	assert_null(curve_by_group("secp256k1"));
	assert_null(curve_by_tpm(0x0010));
	assert_string_equal(curve_name(CURVE_NONE), "?");
}

/* The wire values are fixed by PROTOCOL.md. */
static void
test_wire_values(void **state)
{
	(void)state;
	assert_int_equal(CURVE_NONE, 0);
	assert_int_equal(CURVE_P256, 1);
	assert_int_equal(CURVE_P384, 2);
}

/* What the table claims, OpenSSL confirms. */
static void
test_agrees_with_openssl(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < curve_count; i++) {
		const struct curve_info *c = &curve_table[i];
		EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(c->group));
		const EVP_MD *md = ec_md(c);
		char name[32];

		assert_non_null(g);
		assert_int_equal((EC_GROUP_get_degree(g) + 7) / 8, c->field_len);
		assert_int_equal(EC_curve_nist2nid(c->nist), OBJ_sn2nid(c->group));
		EC_GROUP_free(g);
		assert_non_null(md);
		assert_int_equal(EVP_MD_get_size(md), c->digest_len);
		assert_int_not_equal(OBJ_txt2nid(c->sig_alg), NID_undef);
		snprintf(name, sizeof(name), "ecdsa-sha2-%s", c->ssh_curve);
		assert_string_equal(c->ssh_keytype, name);
		assert_true(strncmp(c->ssh_certtype, c->ssh_keytype, strlen(c->ssh_keytype)) == 0);
	}
}

static void
test_pkey_curve(void **state)
{
	const struct curve_info *c;
	EVP_PKEY *pk;
	size_t i;

	(void)state;
	for (i = 0; i < curve_count; i++) {
		pk = EVP_EC_gen(curve_table[i].group);
		assert_non_null(pk);
		assert_int_equal(ec_pkey_curve(pk, &c), 0);
		assert_ptr_equal(c, &curve_table[i]);
		EVP_PKEY_free(pk);
	}
	pk = EVP_EC_gen("secp256k1");
	assert_non_null(pk);
	assert_int_equal(ec_pkey_curve(pk, &c), TPMID_E_CURVE);
	assert_null(c);
	assert_non_null(strstr(tpmid_errmsg(TPMID_E_CURVE), "secp256k1"));
	EVP_PKEY_free(pk);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	assert_int_equal(ec_pkey_curve(pk, &c), TPMID_E_CURVE);
	EVP_PKEY_free(pk);
}

static void
test_pem_spki_round_trip(void **state)
{
	EVP_PKEY *pk = EVP_EC_gen("P-384");
	char *pem = NULL, *pem2 = NULL;
	uint8_t *spki = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(pk);
	assert_int_equal(ec_pem_from_pkey(pk, &pem), 0);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(ec_spki_from_pem(pem, &spki, &len), 0);
	assert_int_equal(ec_pem_from_spki(spki, len, &pem2), 0);
	assert_string_equal(pem, pem2);
	free(pem2);
	free(spki);
	assert_int_equal(ec_spki_from_pem("not a key", &spki, &len), TPMID_E_FORMAT);
	assert_null(spki);
	assert_int_equal(ec_pem_from_spki((const uint8_t *)"\x30\x00", 2, &pem2), TPMID_E_FORMAT);
	assert_null(pem2);
	free(pem);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_wire_values),
		cmocka_unit_test(test_agrees_with_openssl),
		cmocka_unit_test(test_pkey_curve),
		cmocka_unit_test(test_pem_spki_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
