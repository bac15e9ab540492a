/* OpenSSH private keys ("-----BEGIN OPENSSH PRIVATE KEY-----",
 * openssh-key-v1, PROTOCOL.key), ECDSA P-256/P-384 only, unencrypted or
 * passphrase-protected (bcrypt-pbkdf + aes256-ctr/aes256-gcm...). */
#ifndef TPMID_STORE_SSHKEY_H
#define TPMID_STORE_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/util.h"

/* The most bcrypt_pbkdf rounds a passphrase-protected key may ask for
 * (PROTOCOL.key: kdfoptions' uint32 rounds, which the file chooses). Every
 * round costs the same, so the file sets the price of opening it: at the
 * old cap of 2^20 a crafted key took about 2 hours of CPU. ssh-keygen
 * writes 16 by default and `-a` values in the hundreds are common (-a 100
 * is the usual advice); 1024 admits those with room to spare. A 48-byte
 * aes256-ctr key and IV at 1024 rounds took 7.1 s here (ssh-keygen -y
 * 8.4 s; Debian 12, 2 vCPUs, OpenSSL 3.0), -a 100 0.75 s, -a 16 0.15 s.
 * Fuzzing builds (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the libFuzzer
 * convention) cap it at 4 so an input cannot spend seconds in the KDF. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SSHKEY_ROUNDS_MAX 4u
#else
#define SSHKEY_ROUNDS_MAX 1024u
#endif

/* 1 if the text starts (after whitespace) with the openssh-key-v1 PEM
 * header. */
int sshkey_is_openssh(const uint8_t *text, size_t len);

/* Parse the private key. `passphrase` NULL for none. Returns
 * TPMID_E_NEEDPIN when the key is encrypted and no passphrase was given,
 * TPMID_E_BADPIN when the passphrase is wrong, TPMID_E_CURVE for non-ECDSA
 * keys, TPMID_E_UNSUPPORTED for ciphers and KDFs we lack and for more than
 * SSHKEY_ROUNDS_MAX rounds (refused before the passphrase is needed),
 * TPMID_E_FORMAT for malformed input. All intermediate copies of the
 * private key are wiped. `ret_comment` may be NULL. */
int sshkey_parse_private(const uint8_t *text, size_t len, const struct secret *passphrase,
    EVP_PKEY **ret, char **ret_comment);

/* bcrypt_pbkdf (OpenBSD bcrypt_pbkdf(3), the KDF of PROTOCOL.key): derive
 * `key_len` bytes from `pass` and `salt` with `rounds` rounds. Exposed for
 * the unit tests' known-answer vectors. */
int sshkey_bcrypt_pbkdf(const uint8_t *pass, size_t pass_len, const uint8_t *salt,
    size_t salt_len, uint8_t *key, size_t key_len, unsigned rounds);

#endif
