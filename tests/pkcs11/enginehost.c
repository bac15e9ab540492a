/* enginehost MODULE KEY-URI PUBKEY.pem [CERT-URI CERT.pem]: a host program
 * that uses the module the way mosquitto does. It loads libp11's engine
 * ("pkcs11", through OpenSSL's dynamic engine from its engines directory),
 * points MODULE_PATH at MODULE, initializes it and makes it the default
 * for everything (ENGINE_set_default(e, ENGINE_METHOD_ALL)); then, with the
 * engine still the default, it loads the private key KEY-URI, checks that
 * it is PUBKEY.pem's key, signs 3 messages with EVP_DigestSign (SHA-256 on
 * P-256, SHA-384 on P-384) and verifies each with PUBKEY.pem (and a
 * changed message not). With CERT-URI, it also loads that certificate
 * through the engine (LOAD_CERT_CTRL) and compares it with CERT.pem.
 * Exit 0 when all of it holds (pkcs11-openssl.sh runs it). */
#include "config.h"

/* The ENGINE API is deprecated in OpenSSL 3.0, and what this tests. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdio.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static void
say(const char *what)
{
	fprintf(stderr, "enginehost: %s\n", what);
	ERR_print_errors_fp(stderr);
}

static int
sign_verify(EVP_PKEY *key, EVP_PKEY *pub, const EVP_MD *md, int i)
{
	unsigned char msg[64], sig[256];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int n = snprintf((char *)msg, sizeof(msg), "message %d through libp11's engine", i);
	int ok = 0;

	if (c == NULL || EVP_DigestSignInit(c, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(c, sig, &sl, msg, (size_t)n) != 1) {
		fprintf(stderr, "enginehost: EVP_DigestSign %d failed\n", i);
		goto out;
	}
	EVP_MD_CTX_free(c);
	if ((c = EVP_MD_CTX_new()) == NULL || EVP_DigestVerifyInit(c, NULL, md, NULL, pub) != 1 ||
	    EVP_DigestVerify(c, sig, sl, msg, (size_t)n) != 1) {
		fprintf(stderr, "enginehost: signature %d does not verify\n", i);
		goto out;
	}
	EVP_MD_CTX_free(c);
	msg[0] ^= 1;
	if ((c = EVP_MD_CTX_new()) == NULL || EVP_DigestVerifyInit(c, NULL, md, NULL, pub) != 1 ||
	    EVP_DigestVerify(c, sig, sl, msg, (size_t)n) == 1) {
		fprintf(stderr, "enginehost: signature %d verifies a changed message\n", i);
		goto out;
	}
	ok = 1;
out:
	EVP_MD_CTX_free(c);
	ERR_clear_error();
	return ok;
}

int
main(int argc, char **argv)
{
	struct { const char *id; X509 *cert; } parms = { NULL, NULL };
	EVP_PKEY *pub = NULL, *key = NULL;
	X509 *want = NULL;
	ENGINE *e = NULL;
	FILE *fp;
	int i, init = 0, rc = 1;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: enginehost MODULE KEY-URI PUBKEY.pem [CERT-URI CERT.pem]\n");
		return 2;
	}
	if ((fp = fopen(argv[3], "r")) == NULL) {
		say("cannot open the public key");
		goto out;
	}
	pub = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pub == NULL) {
		say("cannot read the public key");
		goto out;
	}
	if (argc == 6) {
		if ((fp = fopen(argv[5], "r")) == NULL) {
			say("cannot open the certificate");
			goto out;
		}
		want = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
		if (want == NULL) {
			say("cannot read the certificate");
			goto out;
		}
	}

	if ((e = ENGINE_by_id("pkcs11")) == NULL) {
		say("ENGINE_by_id(\"pkcs11\") failed (libp11's engine)");
		goto out;
	}
	if (!ENGINE_ctrl_cmd_string(e, "MODULE_PATH", argv[1], 0)) {
		say("MODULE_PATH failed");
		goto out;
	}
	if (!ENGINE_init(e)) {
		say("ENGINE_init failed");
		goto out;
	}
	init = 1;
	if (!ENGINE_set_default(e, ENGINE_METHOD_ALL)) {
		say("ENGINE_set_default(ENGINE_METHOD_ALL) failed");
		goto out;
	}

	if ((key = ENGINE_load_private_key(e, argv[2], NULL, NULL)) == NULL) {
		say("ENGINE_load_private_key failed");
		goto out;
	}
	if (EVP_PKEY_eq(key, pub) != 1) {
		say("the engine's key is not the public key's");
		goto out;
	}
	for (i = 0; i < 3; i++)
		if (!sign_verify(key, pub, EVP_PKEY_get_bits(key) > 256 ? EVP_sha384() : EVP_sha256(), i))
			goto out;
	printf("3 signatures by %s verify\n", argv[2]);

	if (want != NULL) {
		parms.id = argv[4];
		if (!ENGINE_ctrl_cmd(e, "LOAD_CERT_CTRL", 0, &parms, NULL, 1) || parms.cert == NULL) {
			say("LOAD_CERT_CTRL failed");
			goto out;
		}
		if (X509_cmp(parms.cert, want) != 0) {
			say("the engine's certificate is not the PEM file's");
			goto out;
		}
		printf("certificate %s loaded\n", argv[4]);
	}
	rc = 0;
out:
	X509_free(parms.cert);
	X509_free(want);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	if (init)
		ENGINE_finish(e);
	ENGINE_free(e);
	return rc;
}
