/* libFuzzer target for the key decoding of tpmid import, as engine_import()
 * (agent/engine/provision.c) runs it on the bytes the CLI or a client sent,
 * minus the TPM: a TSS2 PRIVATE KEY file by its PEM header
 * (keyfile_parse_pem), anything else through OpenSSL's decoders
 * (ec_privkey_decode: PEM or DER, PKCS#8 or SEC1). OpenSSH keys are
 * turned into PKCS#8 by the CLI before this point (fuzz_sshkey).
 *
 * Checked: a key that decodes is a P-256 or P-384 key pair whose PKCS#8
 * and SEC1 DER decode again to the same key; a TSS2 key file that parses
 * writes out as PEM that parses again; nothing reads standard input (an
 * encrypted key must fail, not ask for a passphrase). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/encoder.h>
#include <openssl/evp.h>

#include "agent/format/ec.h"
#include "common/err.h"
#include "store/keyfile.h"
#include "tests/fuzz/fuzz.h"

/* engine_import()'s limit on the key data. */
#define IMPORT_MAX (64 * 1024)

/* `pk` re-encoded as DER `structure` decodes to the same key. */
static void
check_reencoded(EVP_PKEY *pk, const char *structure)
{
	OSSL_ENCODER_CTX *ctx;
	unsigned char *der = NULL;
	size_t len = 0;
	EVP_PKEY *back = NULL;

	ctx = OSSL_ENCODER_CTX_new_for_pkey(pk, OSSL_KEYMGMT_SELECT_KEYPAIR |
	    OSSL_KEYMGMT_SELECT_ALL_PARAMETERS, "DER", structure, NULL);
	if (ctx == NULL || OSSL_ENCODER_to_data(ctx, &der, &len) != 1)
		abort();
	if (ec_privkey_decode(der, len, &back) != 0 || EVP_PKEY_eq(back, pk) != 1)
		abort();
	EVP_PKEY_free(back);
	OPENSSL_clear_free(der, len);
	OSSL_ENCODER_CTX_free(ctx);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_stdin_guard();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct curve_info *c;
	struct keyfile *kf = NULL, *kf2 = NULL;
	EVP_PKEY *pk = NULL;
	char *pem = NULL;

	if (size == 0 || size > IMPORT_MAX)
		return 0;
	if (keyfile_is_pem((const char *)data, size)) {
		if (keyfile_parse_pem((const char *)data, size, &kf) == 0) {
			if (keyfile_to_pem(kf, &pem) != 0 ||
			    keyfile_parse_pem(pem, strlen(pem), &kf2) != 0)
				abort();
			keyfile_free(kf2);
			free(pem);
			keyfile_free(kf);
		}
	} else if (ec_privkey_decode(data, size, &pk) == 0) {
		if (pk == NULL || ec_pkey_curve(pk, &c) != 0)
			abort();
		check_reencoded(pk, "PrivateKeyInfo");
		check_reencoded(pk, "type-specific");
		EVP_PKEY_free(pk);
	} else if (pk != NULL)
		abort();
	fuzz_stdin_check();
	return 0;
}
