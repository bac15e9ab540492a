/* libFuzzer target for the OpenSSH private key parser (agent/format/sshkey.c,
 * openssh-key-v1 of OpenSSH PROTOCOL.key), the way tpmid import runs it:
 * first without a passphrase, and when the key wants one, with the
 * passphrase of the seed corpus's encrypted keys ("tpmid-fuzz"). A key
 * that parses is handed on as the CLI hands it on, PKCS#8 DER, and the
 * engine's decoder (ec_privkey_decode) must take it and find the same key.
 *
 * This is a fuzzing build, so a key may ask for at most SSHKEY_ROUNDS_MAX
 * (4) bcrypt rounds; more is refused before any KDF runs, as beyond 1024
 * in a normal build. The seeds use ssh-keygen -a 2. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/format/ec.h"
#include "agent/format/sshkey.h"
#include "common/err.h"
#include "common/util.h"

#define FUZZ_PASSPHRASE "tpmid-fuzz"

/* What openssh_to_pkcs8() in agent/cli/import.c sends to the engine. */
static void
check_engine_takes(EVP_PKEY *pk)
{
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *der = NULL;
	const struct curve_info *c;
	EVP_PKEY *back = NULL;
	int n;

	if (ec_pkey_curve(pk, &c) != 0)
		abort();
	if ((p8 = EVP_PKEY2PKCS8(pk)) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0)
		abort();
	if (ec_privkey_decode(der, (size_t)n, &back) != 0 || EVP_PKEY_eq(back, pk) != 1)
		abort();
	EVP_PKEY_free(back);
	OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secret *pass;
	EVP_PKEY *pk = NULL;
	char *comment = NULL;
	int r;

	r = sshkey_parse_private(data, size, NULL, &pk, &comment);
	if (r == TPMID_E_NEEDPIN) {
		if ((pass = secret_new(FUZZ_PASSPHRASE, strlen(FUZZ_PASSPHRASE))) == NULL)
			abort();
		r = sshkey_parse_private(data, size, pass, &pk, &comment);
		secret_free(pass);
	}
	if (r == 0) {
		/* tpmid import picks the parser by this header. */
		if (pk == NULL || comment == NULL || !sshkey_is_openssh(data, size))
			abort();
		check_engine_takes(pk);
	} else if (pk != NULL || comment != NULL)
		abort();
	EVP_PKEY_free(pk);
	free(comment);
	return 0;
}
