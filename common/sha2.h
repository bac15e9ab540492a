/* SHA-256 and SHA-384 (FIPS 180-4), for the one room that may not use
 * OpenSSL: the PKCS#11 module (agent/pkcs11/) hashes CKM_ECDSA_SHA256/384
 * input in the calling process, which may have replaced OpenSSL's default
 * methods (libp11's engine as ENGINE_METHOD_ALL, as mosquitto sets it), so
 * it must not call OpenSSL at all, and libc has no hash. Everything else
 * in tpmid hashes with OpenSSL's EVP. tests/unit/test_sha2.c checks these
 * against OpenSSL on the FIPS 180-4 examples and random inputs. */
#ifndef TPMID_COMMON_SHA2_H
#define TPMID_COMMON_SHA2_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA384_DIGEST_LEN 48

struct sha2 {
	int is384;
	uint64_t h[8];           /* SHA-256 uses the low 32 bits */
	uint64_t bytes;          /* message length so far */
	uint8_t block[128];
	size_t used;
};

/* `digest_len` 32: SHA-256; 48: SHA-384. -1 for any other length. */
int sha2_init(struct sha2 *c, size_t digest_len);
void sha2_update(struct sha2 *c, const void *data, size_t len);
/* Writes the digest (32 or 48 bytes) and wipes the context. */
void sha2_final(struct sha2 *c, uint8_t *out);

#endif
