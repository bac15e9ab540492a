/* OpenSSH private keys ("-----BEGIN OPENSSH PRIVATE KEY-----",
 * openssh-key-v1, PROTOCOL.key), ECDSA P-256/P-384 only, unencrypted or
 * passphrase-protected (bcrypt-pbkdf + aes256-ctr/aes256-gcm...). */
#ifndef TPMID_STORE_SSHKEY_H
#define TPMID_STORE_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/util.h"

/* 1 if the text starts (after whitespace) with the openssh-key-v1 PEM
 * header. */
int sshkey_is_openssh(const uint8_t *text, size_t len);

/* Parse the private key. `passphrase` NULL for none. Returns
 * TPMID_E_NEEDPIN when the key is encrypted and no passphrase was given,
 * TPMID_E_BADPIN when the passphrase is wrong, TPMID_E_CURVE for non-ECDSA
 * keys, TPMID_E_FORMAT for malformed input. All intermediate copies of the
 * private key are wiped. `ret_comment` may be NULL. */
int sshkey_parse_private(const uint8_t *text, size_t len, const struct secret *passphrase,
    EVP_PKEY **ret, char **ret_comment);

/* bcrypt_pbkdf (OpenBSD bcrypt_pbkdf(3), the KDF of PROTOCOL.key): derive
 * `key_len` bytes from `pass` and `salt` with `rounds` rounds. Exposed for
 * the unit tests' known-answer vectors. */
int sshkey_bcrypt_pbkdf(const uint8_t *pass, size_t pass_len, const uint8_t *salt,
    size_t salt_len, uint8_t *key, size_t key_len, unsigned rounds);

#endif
