/* Unit tests for tss/srk.c: the trust decision for a persisted SRK copy
 * (DESIGN.md "TPM conventions"; tss_srk_trust()). Given the public area
 * the TPM returned for 0x81000001, the name it reported and the H-2 name
 * recorded earlier: use the copy only when the name is the recorded one
 * and the public area hashes to it (Part 1 §16). The vectors are a real
 * H-2 SRK and a real other key (tests/unit/tss_vectors.h). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "tss/tpm-private.h"
#include "tests/unit/tss_vectors.h"

static void
vec(const uint8_t *pub, size_t pub_len, const uint8_t *name, size_t name_len,
    TPM2B_PUBLIC *ret_pub, TPM2B_NAME *ret_name)
{
	assert_int_equal(tss_unmarshal_public(pub, pub_len, ret_pub), 0);
	assert_true(name_len <= sizeof(ret_name->name));
	memcpy(ret_name->name, name, name_len);
	ret_name->size = (UINT16)name_len;
}

/* The H-2 SRK, named as the TPM names it, recorded under that name. */
static void
test_accept_matching(void **state)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;

	(void)state;
	vec(H2_SRK_PUB, sizeof(H2_SRK_PUB), H2_SRK_NAME, sizeof(H2_SRK_NAME), &pub, &name);
	assert_int_equal(tss_srk_trust(&pub, &name, H2_SRK_NAME, sizeof(H2_SRK_NAME)), 0);
}

/* The name is the recorded one but the public area is another key's (an
 * interposer answering ReadPublic with its own key to learn the session
 * salt): refused as an error, not silently replaced. */
static void
test_refuse_public_not_hashing_to_name(void **state)
{
	TPM2B_PUBLIC pub, other;
	TPM2B_NAME name, unused;

	(void)state;
	vec(H2_SRK_PUB, sizeof(H2_SRK_PUB), H2_SRK_NAME, sizeof(H2_SRK_NAME), &pub, &name);
	vec(RFC6979_PUB, sizeof(RFC6979_PUB), RFC6979_NAME, sizeof(RFC6979_NAME), &other, &unused);
	tpmid_clearerr();
	assert_int_equal(tss_srk_trust(&other, &name, H2_SRK_NAME, sizeof(H2_SRK_NAME)), TPMID_E_TPM);
	assert_non_null(strstr(tpmid_errmsg(TPMID_E_TPM), "does not match its name"));

	/* One bit of the SRK's own point changed is as bad. */
	pub.publicArea.unique.ecc.x.buffer[0] ^= 0x80;
	assert_int_equal(tss_srk_trust(&pub, &name, H2_SRK_NAME, sizeof(H2_SRK_NAME)), TPMID_E_TPM);

	/* So is a public area whose nameAlg we cannot hash. */
	vec(H2_SRK_PUB, sizeof(H2_SRK_PUB), H2_SRK_NAME, sizeof(H2_SRK_NAME), &pub, &name);
	pub.publicArea.nameAlg = TPM2_ALG_SHA384;
	assert_int_equal(tss_srk_trust(&pub, &name, H2_SRK_NAME, sizeof(H2_SRK_NAME)), TPMID_E_TPM);
}

/* Another object at 0x81000001, consistent in itself (e.g. a primary made
 * with tpm2_createprimary's defaults, which lack noDA): not the recorded
 * H-2 key, so not used; the caller creates the primary instead. */
static void
test_refuse_name_not_recorded(void **state)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	uint8_t recorded[sizeof(H2_SRK_NAME)];

	(void)state;
	vec(RFC6979_PUB, sizeof(RFC6979_PUB), RFC6979_NAME, sizeof(RFC6979_NAME), &pub, &name);
	assert_int_equal(tss_srk_trust(&pub, &name, H2_SRK_NAME, sizeof(H2_SRK_NAME)),
	    TPMID_E_MISMATCH);

	/* The real SRK, but the record is from another TPM (last bit off). */
	vec(H2_SRK_PUB, sizeof(H2_SRK_PUB), H2_SRK_NAME, sizeof(H2_SRK_NAME), &pub, &name);
	memcpy(recorded, H2_SRK_NAME, sizeof(recorded));
	recorded[sizeof(recorded) - 1] ^= 1;
	assert_int_equal(tss_srk_trust(&pub, &name, recorded, sizeof(recorded)), TPMID_E_MISMATCH);
	/* A prefix of the name is not the name. */
	assert_int_equal(tss_srk_trust(&pub, &name, H2_SRK_NAME, sizeof(H2_SRK_NAME) - 1),
	    TPMID_E_MISMATCH);
	/* Nothing recorded: nothing to trust, even an empty name. */
	assert_int_equal(tss_srk_trust(&pub, &name, NULL, 0), TPMID_E_MISMATCH);
	name.size = 0;
	assert_int_equal(tss_srk_trust(&pub, &name, H2_SRK_NAME, 0), TPMID_E_MISMATCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_matching),
		cmocka_unit_test(test_refuse_public_not_hashing_to_name),
		cmocka_unit_test(test_refuse_name_not_recorded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
