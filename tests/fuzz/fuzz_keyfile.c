/* libFuzzer target for the TSS2 PRIVATE KEY parsers (store/keyfile.c).
 *
 * Feeds the input as DER and as PEM text. Whatever parses must encode, and
 * its encoding must parse back to the same encoding (a fixed point), so a
 * key we accept is a key we can write. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/keyfile.h"

static void
check_fixed_point(const struct keyfile *k)
{
	struct keyfile *k2 = NULL;
	uint8_t *der = NULL, *der2 = NULL;
	size_t len = 0, len2 = 0;
	char *pem = NULL;

	if (keyfile_to_der(k, &der, &len) != 0)
		abort();
	if (keyfile_parse_der(der, len, &k2) != 0)
		abort();
	if (keyfile_to_der(k2, &der2, &len2) != 0 || len2 != len || memcmp(der, der2, len) != 0)
		abort();
	keyfile_free(k2);
	k2 = NULL;
	if (keyfile_to_pem(k, &pem) != 0)
		abort();
	if (keyfile_parse_pem(pem, strlen(pem), &k2) != 0)
		abort();
	if (k2->parent != k->parent || k2->empty_auth != k->empty_auth ||
	    k2->pub_len != k->pub_len || memcmp(k2->pub, k->pub, k->pub_len) != 0 ||
	    k2->priv_len != k->priv_len || memcmp(k2->priv, k->priv, k->priv_len) != 0)
		abort();
	keyfile_free(k2);
	free(pem);
	free(der);
	free(der2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyfile *k = NULL;

	if (keyfile_parse_der(data, size, &k) == 0) {
		check_fixed_point(k);
		keyfile_free(k);
		k = NULL;
	}
	(void)keyfile_is_pem((const char *)data, size);
	if (keyfile_parse_pem((const char *)data, size, &k) == 0) {
		check_fixed_point(k);
		keyfile_free(k);
	}
	return 0;
}
