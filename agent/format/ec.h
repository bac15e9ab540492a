/* EC public keys and hashes in OpenSSL's terms, for the curves of the
 * table in common/curve.h: the conversions several rooms need (PEM <-> DER
 * SubjectPublicKeyInfo, the curve of a key, the hash of a curve). */
#ifndef TPMID_FORMAT_EC_H
#define TPMID_FORMAT_EC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/evp.h>

#include "common/curve.h"

/* The curve's hash (SHA-256 for P-256, SHA-384 for P-384); NULL only if
 * OpenSSL lacks it. */
const EVP_MD *ec_md(const struct curve_info *c);

/* The table entry for an EC key on a named curve tpmid speaks.
 * TPMID_E_CURVE (detail names the key type or curve) otherwise. */
int ec_pkey_curve(EVP_PKEY *pk, const struct curve_info **ret);

/* A software EC private key as `tpmid import` takes it: PEM or DER,
 * PKCS#8 or SEC1 (OpenSSL's decoders try each), unencrypted. TPMID_E_FORMAT
 * if it is none of those, TPMID_E_CURVE unless it is a P-256 or P-384 key.
 * The caller frees *ret (OpenSSL clears EC private keys on free). */
int ec_privkey_decode(const uint8_t *data, size_t len, EVP_PKEY **ret);

/* PEM "PUBLIC KEY" -> DER SubjectPublicKeyInfo in fresh memory.
 * TPMID_E_FORMAT if it does not parse. */
int ec_spki_from_pem(const char *pem, uint8_t **ret, size_t *ret_len);
/* DER SubjectPublicKeyInfo -> PEM text (fresh string). */
int ec_pem_from_spki(const uint8_t *spki, size_t len, char **ret);
/* The public half of `pk` as PEM text (fresh string). */
int ec_pem_from_pkey(EVP_PKEY *pk, char **ret);

/* What a memory BIO holds, as a fresh NUL-terminated string (for the PEM
 * writers of agent/format/). TPMID_E_NOMEM when empty or out of memory. */
int bio_text(BIO *bio, char **ret);

/* The pem_password_cb for every PEM_read_bio_*() of agent/format/: it
 * refuses. Given NULL instead, OpenSSL asks for the passphrase of a block
 * marked "Proc-Type: 4,ENCRYPTED" (RFC 1421 section 4.6.1.1) on the
 * terminal or standard input (PEM_def_callback), even for a certificate
 * or a public key. */
int pem_no_passphrase(char *buf, int size, int rwflag, void *u);

#endif
