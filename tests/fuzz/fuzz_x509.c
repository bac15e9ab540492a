/* libFuzzer target for the X.509 half of set-cert: the certificate checks
 * of agent/format/x509.c as the engine (engine_set_cert: the certificate
 * must carry the identity's key, the CA bundle is re-encoded) and the CLI
 * (tpmid cert --set: x509_cert_matches_spki, x509_bundle_normalize) run
 * them on a user's PEM, against the fixed identity keys of fuzz.h, for
 * which the seed corpus holds real certificates and chains.
 *
 * The input is the certificate, and the CA bundle too. Checked:
 *  - the PEM-key and DER-key checks give the same answer;
 *  - a certificate that matches re-encodes to PEM that matches and
 *    re-encodes to itself; it matches at most one of the two keys;
 *  - a bundle that normalizes normalizes to itself, and starts with the
 *    certificate the match checks read;
 *  - nothing is left on OpenSSL's error queue, and nothing reads standard
 *    input (an encrypted PEM block must fail, not ask for a passphrase).
 * Results other than 0, TPMID_E_MISMATCH and TPMID_E_FORMAT are bugs
 * (TPMID_E_NOMEM aside). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "agent/format/ec.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"

struct idkey {
	const char *pem;
	uint8_t *der;
	size_t der_len;
};

static struct idkey keys[] = {
	{ fuzz_id_p256_pem, NULL, 0 },
	{ fuzz_id_p384_pem, NULL, 0 },
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ec_spki_from_pem(keys[i].pem, &keys[i].der, &keys[i].der_len) != 0)
			abort();
	fuzz_stdin_guard();
	return 0;
}

static void
check_result(int r)
{
	if (r != 0 && r != TPMID_E_MISMATCH && r != TPMID_E_FORMAT && r != TPMID_E_NOMEM)
		abort();
	if (ERR_peek_error() != 0)
		abort();
}

/* The engine's check, and the CLI's; returns their common answer. */
static int
check_cert(const char *text, const struct idkey *k)
{
	char *norm = NULL, *norm2 = NULL;
	int r, r2;

	r = x509_cert_matches(text, k->pem, &norm);
	check_result(r);
	r2 = x509_cert_matches_spki(text, k->der, k->der_len);
	check_result(r2);
	if (r != r2 && r != TPMID_E_NOMEM && r2 != TPMID_E_NOMEM)
		abort();
	if (r == 0) {
		/* What the identity file stores must pass the same check. */
		if (norm == NULL || x509_cert_matches(norm, k->pem, &norm2) != 0 ||
		    strcmp(norm, norm2) != 0)
			abort();
	} else if (norm != NULL)
		abort();
	free(norm);
	free(norm2);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *out = NULL, *out2 = NULL;
	int m0, m1, r;

	/* The engine gets NUL-terminated strings from the wire codec; an
	 * embedded NUL ends the text there, as it would. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	m0 = check_cert(text, &keys[0]);
	m1 = check_cert(text, &keys[1]);
	if (m0 == 0 && m1 == 0)
		abort();

	r = x509_bundle_normalize(text, &out);
	check_result(r);
	if (r == TPMID_E_MISMATCH)
		abort();
	if (r == 0) {
		if (out == NULL || x509_bundle_normalize(out, &out2) != 0 || strcmp(out, out2) != 0)
			abort();
		/* A bundle's first certificate is the one the checks read. */
		if (m0 != TPMID_E_NOMEM && check_cert(out, &keys[0]) != m0)
			abort();
	} else if (out != NULL)
		abort();
	free(out);
	free(out2);
	free(text);
	fuzz_stdin_check();
	return 0;
}
