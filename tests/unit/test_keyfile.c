/* Unit tests for store/keyfile.c: TSS2 PRIVATE KEY parse/encode. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/keyfile.h"

/* Made by tpm2-openssl 1.x against swtpm:
 *   openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256
 * Parent 0x40000001 (the H-2 primary), emptyAuth TRUE written as 0x01. */
static const char vec_p256_pem[] =
	"-----BEGIN TSS2 PRIVATE KEY-----\n"
	"MIHwBgZngQUKAQOgAwEBAQIEQAAAAQRYAFYAIwALAAYAcgAAABAAEAADABAAIIKy\n"
	"FtpmjZpZvDIIX8jAkSPI2xpVM99PDMtgHKbx4K/oACAXsFRW7QmRJduXzW89btmc\n"
	"BuPZVE07HU8j6OqDH2vsjASBgAB+ACB7+ET080oE/9QeoAu/WM+Pe9BRNJvH4CGX\n"
	"KFNMDUf3VgAQz59brg8z4Vq9HqWXr35mOCE4wy2QDjbnVhr515xS4+msQIhKC0kQ\n"
	"T8ZrRpHBmVSKDNyR4QKlVtBG8jSvw33ZA4M49YGDjt9RpKkpRBBhkdvelIABOzDy\n"
	"vvBz\n"
	"-----END TSS2 PRIVATE KEY-----\n";

/* The same key's DER, as hex. */
static const char vec_p256_hex[] =
	"3081f006066781050a0103a003010101020440000001045800560023000b0006"
	"007200000010001000030010002082b216da668d9a59bc32085fc8c09123c8db"
	"1a5533df4f0ccb601ca6f1e0afe8002017b05456ed099125db97cd6f3d6ed99c"
	"06e3d9544d3b1d4f23e8ea831f6bec8c048180007e00207bf844f4f34a04ffd4"
	"1ea00bbf58cf8f7bd051349bc7e0219728534c0d47f7560010cf9f5bae0f33e1"
	"5abd1ea597af7e66382138c32d900e36e7561af9d79c52e3e9ac40884a0b4910"
	"4fc66b4691c199548a0cdc91e102a556d046f234afc37dd9038338f581838edf"
	"51a4a92944106191dbde9480013b30f2bef073";

/* tpm2-openssl, group:P-384. */
static const char vec_p384_pem[] =
	"-----BEGIN TSS2 PRIVATE KEY-----\n"
	"MIIBIAYGZ4EFCgEDoAMBAQECBEAAAAEEeAB2ACMACwAGAHIAAAAQABAABAAQADCi\n"
	"IQWUig6f0Kei+0/JWtmkWtLbhcsXXNX7xB0wBypJPHrqnjmASIlpttcv14fZO0wA\n"
	"ML5PEHC+ZNpzQDiepqvWR51Ci78OoVtq4HM40numUD1lhT2fQJH1y5CkmmIW0/rI\n"
	"AgSBkACOACAmAqxwU2QYJ7Hl4UTVfsoLSwuv3ZoGWtj1RL33Ipo++AAQAMl0crzV\n"
	"Eh4MeSmSnrXSkupfpKU0BzVT1l8gL6OPiNylnUudfLst+pxSBnv5U26KWtXBTYOT\n"
	"CRFtOZQXHIvxHck3BbesneG7Td9RdoznNMfLspBvUK6PRH7KzZPnDSEt2ZkJ+KuB\n"
	"V9HwRA==\n"
	"-----END TSS2 PRIVATE KEY-----\n";

/* Every optional field, made with `openssl asn1parse -genconf`: emptyAuth
 * 0xFF, a policy (TPM_CC_PolicyPCR 0x16F), a secret, an authPolicy named
 * "pin", description "test key", rsaParent FALSE, parent 0x81000001, and
 * the P-256 vector's blobs. */
static const char vec_opt_pem[] =
	"-----BEGIN TSS2 PRIVATE KEY-----\n"
	"MIIBRwYGZ4EFCgEDoAMBAf+hEjAQMA6gBAICAW+hBgQEAAsBAqIOBAxzZWNyZXQt\n"
	"Ynl0ZXOjHzAdMBugBQwDcGluoRIwEDAOoAQCAgFvoQYEBAALAQKkCgwIdGVzdCBr\n"
	"ZXmlAwEBAAIFAIEAAAEEWABWACMACwAGAHIAAAAQABAAAwAQACCCshbaZo2aWbwy\n"
	"CF/IwJEjyNsaVTPfTwzLYBym8eCv6AAgF7BUVu0JkSXbl81vPW7ZnAbj2VRNOx1P\n"
	"I+jqgx9r7IwEgYAAfgAge/hE9PNKBP/UHqALv1jPj3vQUTSbx+AhlyhTTA1H91YA\n"
	"EM+fW64PM+FavR6ll69+ZjghOMMtkA4251Ya+decUuPprECISgtJEE/Ga0aRwZlU\n"
	"igzckeECpVbQRvI0r8N92QODOPWBg47fUaSpKUQQYZHb3pSAATsw8r7wcw==\n"
	"-----END TSS2 PRIVATE KEY-----\n";

/* Offsets into vec_p256's DER (see `openssl asn1parse`). */
#define OFF_OID_LAST 10   /* last arc of the type OID */
#define OFF_PUB 22        /* pubkey OCTET STRING tag */
#define OFF_PRIV 112      /* privkey OCTET STRING tag */

static uint8_t *
vec_der(size_t *len)
{
	uint8_t *d;

	assert_int_equal(hex_decode(vec_p256_hex, &d, len), 0);
	return d;
}

static void
assert_detail_has(int r, const char *needle)
{
	const char *msg = tpmid_errmsg(r);

	if (strstr(msg, needle) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", msg, needle);
}

static void
test_vector_p256_roundtrip(void **state)
{
	struct keyfile *k = NULL, *k2 = NULL;
	uint8_t *der, *out = NULL;
	size_t der_len, out_len;
	char *pem = NULL;

	(void)state;
	assert_int_equal(keyfile_parse_pem(vec_p256_pem, strlen(vec_p256_pem), &k), 0);
	assert_non_null(k);
	assert_int_equal(k->parent, 0x40000001);
	assert_int_equal(k->empty_auth, 1);
	assert_int_equal(k->pub_len, 88);
	assert_int_equal(k->priv_len, 128);
	assert_int_equal(k->pub[0] << 8 | k->pub[1], 86);
	assert_null(k->description);

	/* Byte-exact, PEM and DER. */
	assert_int_equal(keyfile_to_pem(k, &pem), 0);
	assert_string_equal(pem, vec_p256_pem);
	der = vec_der(&der_len);
	assert_int_equal(keyfile_to_der(k, &out, &out_len), 0);
	assert_int_equal(out_len, der_len);
	assert_memory_equal(out, der, der_len);

	/* DER in, same structure out. */
	assert_int_equal(keyfile_parse_der(der, der_len, &k2), 0);
	assert_int_equal(k2->parent, k->parent);
	assert_int_equal(k2->pub_len, k->pub_len);
	assert_memory_equal(k2->priv, k->priv, k->priv_len);

	free(pem);
	free(out);
	free(der);
	keyfile_free(k);
	keyfile_free(k2);
}

static void
test_vector_p384_roundtrip(void **state)
{
	struct keyfile *k = NULL;
	char *pem = NULL;

	(void)state;
	assert_int_equal(keyfile_parse_pem(vec_p384_pem, strlen(vec_p384_pem), &k), 0);
	assert_int_equal(k->parent, 0x40000001);
	assert_int_equal(k->empty_auth, 1);
	assert_int_equal(keyfile_to_pem(k, &pem), 0);
	assert_string_equal(pem, vec_p384_pem);
	free(pem);
	keyfile_free(k);
}

static void
test_optional_fields_kept(void **state)
{
	struct keyfile *k = NULL, *k2 = NULL;
	char *pem = NULL, *pem2 = NULL;

	(void)state;
	assert_int_equal(keyfile_parse_pem(vec_opt_pem, strlen(vec_opt_pem), &k), 0);
	assert_int_equal(k->parent, 0x81000001);
	assert_int_equal(k->empty_auth, 1);
	assert_non_null(k->description);
	assert_string_equal(k->description, "test key");
	assert_non_null(k->opt_der);
	assert_true(k->opt_der_len > 0);
	assert_int_equal(keyfile_to_pem(k, &pem), 0);
	assert_string_equal(pem, vec_opt_pem);

	/* Changing the fields we model keeps the ones we do not. */
	free(k->description);
	k->description = strdup("renamed");
	k->parent = 0x40000001;
	assert_int_equal(keyfile_to_pem(k, &pem2), 0);
	assert_int_equal(keyfile_parse_pem(pem2, strlen(pem2), &k2), 0);
	assert_string_equal(k2->description, "renamed");
	assert_int_equal(k2->parent, 0x40000001);
	assert_int_equal(k2->opt_der_len, k->opt_der_len);
	assert_memory_equal(k2->opt_der, k->opt_der, k->opt_der_len);

	free(pem);
	free(pem2);
	keyfile_free(k);
	keyfile_free(k2);
}

static void
test_new_roundtrip(void **state)
{
	static const uint8_t pub[] = { 0x00, 0x03, 0xaa, 0xbb, 0xcc };
	static const uint8_t priv[] = { 0x00, 0x02, 0x11, 0x22 };
	static const uint32_t parents[] = { 0x40000001, 0x81000001, 0xffffffff, 0 };
	struct keyfile *k = NULL, *k2 = NULL;
	uint8_t *der = NULL;
	size_t der_len, i;
	char *pem = NULL;

	(void)state;
	for (i = 0; i < ELEMENTSOF(parents); i++) {
		for (int ea = 0; ea <= 1; ea++) {
			assert_int_equal(keyfile_new(parents[i], ea, pub, sizeof(pub), priv,
			    sizeof(priv), &k), 0);
			assert_int_equal(keyfile_to_pem(k, &pem), 0);
			assert_true(keyfile_is_pem(pem, strlen(pem)));
			assert_int_equal(keyfile_parse_pem(pem, strlen(pem), &k2), 0);
			assert_int_equal(k2->parent, parents[i]);
			assert_int_equal(k2->empty_auth, ea);
			assert_int_equal(k2->pub_len, sizeof(pub));
			assert_memory_equal(k2->pub, pub, sizeof(pub));
			assert_memory_equal(k2->priv, priv, sizeof(priv));
			assert_int_equal(keyfile_to_der(k, &der, &der_len), 0);
			if (ea) {
				/* DER TRUE is 0xFF (X.690 11.1): a0 03 01 01 ff. */
				assert_memory_equal(der + 10, "\xa0\x03\x01\x01\xff", 5);
			} else {
				/* Absent emptyAuth: parent INTEGER right after the OID. */
				assert_int_equal(der[10], 0x02);
			}
			free(der);
			free(pem);
			keyfile_free(k);
			keyfile_free(k2);
		}
	}
}

static void
test_new_rejects(void **state)
{
	static const uint8_t pub[] = { 0x00, 0x03, 0xaa, 0xbb, 0xcc };
	static const uint8_t badpub[] = { 0x00, 0x04, 0xaa, 0xbb, 0xcc };
	static const uint8_t empty[] = { 0x00, 0x00 };
	struct keyfile *k = (struct keyfile *)1;
	uint8_t *big;

	(void)state;
	assert_int_equal(keyfile_new(1, 1, badpub, sizeof(badpub), pub, sizeof(pub), &k),
	    TPMID_E_FORMAT);
	assert_null(k);
	assert_int_equal(keyfile_new(1, 1, pub, sizeof(pub), empty, sizeof(empty), &k),
	    TPMID_E_FORMAT);
	assert_int_equal(keyfile_new(1, 1, pub, 1, pub, sizeof(pub), &k), TPMID_E_FORMAT);
	assert_int_equal(keyfile_new(1, 1, NULL, 0, pub, sizeof(pub), &k), TPMID_E_INVAL);
	/* A TPM2B cannot exceed 64 KiB + 2 anyway; KEYFILE_MAX + 1 is refused
	 * before anything is copied. */
	big = calloc(1, KEYFILE_MAX + 2);
	big[0] = 0xff;
	big[1] = 0xff;
	assert_int_equal(keyfile_new(1, 1, big, 0xffff + 2, pub, sizeof(pub), &k),
	    TPMID_E_TOOBIG);
	free(big);
}

static void
expect_oid_rejected(uint8_t last_arc, const char *needle)
{
	struct keyfile *k = (struct keyfile *)1;
	uint8_t *der;
	size_t len;
	int r;

	der = vec_der(&len);
	der[OFF_OID_LAST] = last_arc;
	r = keyfile_parse_der(der, len, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_null(k);
	assert_detail_has(r, needle);
	free(der);
}

static void
test_wrong_oid(void **state)
{
	(void)state;
	expect_oid_rejected(0x04, "2.23.133.10.1.4 (an importable key, not a loadable key)");
	expect_oid_rejected(0x05, "2.23.133.10.1.5 (sealed data, not a loadable key)");
	expect_oid_rejected(0x09, "2.23.133.10.1.9 (not a TPM 2.0 loadable key)");
}

static void
test_truncated(void **state)
{
	struct keyfile *k;
	uint8_t *der;
	size_t len, i;

	(void)state;
	der = vec_der(&len);
	for (i = 0; i < len; i++) {
		k = (struct keyfile *)1;
		int r = keyfile_parse_der(der, i, &k);
		if (r != TPMID_E_FORMAT)
			fail_msg("prefix of %zu bytes: got %d", i, r);
		assert_null(k);
	}
	free(der);
}

static void
test_trailing(void **state)
{
	struct keyfile *k = (struct keyfile *)1;
	uint8_t *der, *longer;
	size_t len;
	char *pem;
	int r;

	(void)state;
	der = vec_der(&len);
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	r = keyfile_parse_der(longer, len + 1, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_null(k);
	assert_detail_has(r, "1 trailing bytes");

	/* Whitespace after the END line is fine, text is not. */
	assert_int_equal(asprintf(&pem, "\n  %s\n\n", vec_p256_pem) > 0, 1);
	assert_int_equal(keyfile_parse_pem(pem, strlen(pem), &k), 0);
	keyfile_free(k);
	free(pem);
	assert_int_equal(asprintf(&pem, "%sgarbage\n", vec_p256_pem) > 0, 1);
	r = keyfile_parse_pem(pem, strlen(pem), &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "trailing text");
	free(pem);
	/* Two keys in one field is one too many. */
	assert_int_equal(asprintf(&pem, "%s%s", vec_p256_pem, vec_p384_pem) > 0, 1);
	assert_int_equal(keyfile_parse_pem(pem, strlen(pem), &k), TPMID_E_FORMAT);
	free(pem);
	free(longer);
	free(der);
}

static void
test_bad_pem(void **state)
{
	struct keyfile *k = (struct keyfile *)1;
	char *pem;
	int r;

	(void)state;
	pem = strdup(vec_p256_pem);
	pem[40] = '!';
	r = keyfile_parse_pem(pem, strlen(pem), &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_null(k);
	assert_detail_has(r, "base64");
	free(pem);

	/* Missing END line. */
	pem = strndup(vec_p256_pem, strlen(vec_p256_pem) - 31);
	assert_int_equal(keyfile_parse_pem(pem, strlen(pem), &k), TPMID_E_FORMAT);
	free(pem);

	/* Another label. */
	r = keyfile_parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    60, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "does not start with");

	/* Encrypted-PEM style headers. */
	assert_int_equal(asprintf(&pem, "-----BEGIN TSS2 PRIVATE KEY-----\n"
	    "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n%s",
	    strchr(vec_p256_pem, '\n') + 1) > 0, 1);
	r = keyfile_parse_pem(pem, strlen(pem), &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	free(pem);

	/* Valid PEM armour around something that is not a TPMKey. */
	r = keyfile_parse_pem("-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n"
	    "-----END TSS2 PRIVATE KEY-----\n", 69, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "TPMKey");

	assert_int_equal(keyfile_parse_pem("", 0, &k), TPMID_E_FORMAT);
	assert_int_equal(keyfile_parse_der((const uint8_t *)"", 0, &k), TPMID_E_FORMAT);
	assert_int_equal(keyfile_parse_pem(NULL, 0, &k), TPMID_E_INVAL);
}

static void
test_oversized(void **state)
{
	struct keyfile *k = (struct keyfile *)1;
	uint8_t *big;
	char *pem;

	(void)state;
	big = calloc(1, 2 * KEYFILE_MAX + 2);
	assert_int_equal(keyfile_parse_der(big, KEYFILE_MAX + 1, &k), TPMID_E_TOOBIG);
	assert_null(k);
	pem = (char *)big;
	memset(pem, 'A', 2 * KEYFILE_MAX + 1);
	memcpy(pem, "-----BEGIN TSS2 PRIVATE KEY-----\n", 33);
	assert_int_equal(keyfile_parse_pem(pem, 2 * KEYFILE_MAX + 1, &k), TPMID_E_TOOBIG);
	free(big);
}

/* Mutations of single fields in the vector's DER. */
static void
test_field_errors(void **state)
{
	struct keyfile *k = (struct keyfile *)1;
	uint8_t *der;
	size_t len;
	int r;

	(void)state;
	/* pubkey's TPM2B size one larger than what follows. */
	der = vec_der(&len);
	der[OFF_PUB + 3] += 1;
	r = keyfile_parse_der(der, len, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "pubkey: TPM2B size field says 87 bytes but 86 follow");
	free(der);

	/* privkey's (long-form length 04 81 80, then 00 7e). */
	der = vec_der(&len);
	der[OFF_PRIV + 4] = 0x7d;
	r = keyfile_parse_der(der, len, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "privkey");
	free(der);

	/* Parent negative: 02 04 40 00 00 01 -> 02 04 c0 00 00 01. */
	der = vec_der(&len);
	der[18] = 0xc0;
	r = keyfile_parse_der(der, len, &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "parent");
	free(der);

	/* pubkey retagged as INTEGER: structure mismatch. */
	der = vec_der(&len);
	der[OFF_PUB] = 0x02;
	assert_int_equal(keyfile_parse_der(der, len, &k), TPMID_E_FORMAT);
	free(der);

	/* Outer length larger than the data. */
	der = vec_der(&len);
	der[2] += 1;
	assert_int_equal(keyfile_parse_der(der, len, &k), TPMID_E_FORMAT);
	free(der);
	assert_null(k);
}

/* Minimal keys built by hand: the template takes any INTEGER as parent,
 * the 32-bit range check is ours; and a key without emptyAuth. */
static void
test_parent_too_wide(void **state)
{
	static const uint8_t wide[] = {
		0x30, 0x1b,
		0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01, 0x03,
		0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x04, 0x04, 0x00, 0x02, 0xaa, 0xbb,
		0x04, 0x04, 0x00, 0x02, 0xcc, 0xdd,
	};
	static const uint8_t noauth[] = {
		0x30, 0x1a,
		0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01, 0x03,
		0x02, 0x04, 0x40, 0x00, 0x00, 0x01,
		0x04, 0x04, 0x00, 0x02, 0xaa, 0xbb,
		0x04, 0x04, 0x00, 0x02, 0xcc, 0xdd,
	};
	struct keyfile *k = (struct keyfile *)1;
	uint8_t *out;
	size_t out_len;
	int r;

	(void)state;
	r = keyfile_parse_der(wide, sizeof(wide), &k);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "32-bit");
	assert_null(k);

	/* Absent emptyAuth: the key has an auth value; round trip exact. */
	assert_int_equal(keyfile_parse_der(noauth, sizeof(noauth), &k), 0);
	assert_int_equal(k->empty_auth, 0);
	assert_null(k->opt_der);
	assert_int_equal(keyfile_to_der(k, &out, &out_len), 0);
	assert_int_equal(out_len, sizeof(noauth));
	assert_memory_equal(out, noauth, sizeof(noauth));
	free(out);
	keyfile_free(k);
}

static void
test_is_pem(void **state)
{
	(void)state;
	assert_true(keyfile_is_pem(vec_p256_pem, strlen(vec_p256_pem)));
	assert_true(keyfile_is_pem("  \n-----BEGIN TSS2 PRIVATE KEY-----", 35));
	assert_false(keyfile_is_pem("-----BEGIN TSS2 PRIVATE KEY----", 31));
	assert_false(keyfile_is_pem("-----BEGIN PRIVATE KEY-----\n", 28));
	assert_false(keyfile_is_pem("", 0));
	assert_false(keyfile_is_pem(NULL, 0));
	/* The length bounds the check even if the text goes on. */
	assert_false(keyfile_is_pem(vec_p256_pem, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_p256_roundtrip),
		cmocka_unit_test(test_vector_p384_roundtrip),
		cmocka_unit_test(test_optional_fields_kept),
		cmocka_unit_test(test_new_roundtrip),
		cmocka_unit_test(test_new_rejects),
		cmocka_unit_test(test_wrong_oid),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_bad_pem),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_field_errors),
		cmocka_unit_test(test_parent_too_wide),
		cmocka_unit_test(test_is_pem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
