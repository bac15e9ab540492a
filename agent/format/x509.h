/* X.509 helpers for the CLI and the engine: PKCS#10 requests (RFC 2986)
 * signed by a key we cannot touch (the signature comes from a callback, so
 * the same code works in-process and through the agent), and certificate
 * checks against an identity's public key. Nothing here logs; errors carry
 * a detail quoting the offending input. */
#ifndef TPMID_AGENT_X509_H
#define TPMID_AGENT_X509_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/curve.h"

/* Sign `digest` (SHA-256 for P-256, SHA-384 for P-384) and return a DER
 * ECDSA-Sig-Value in fresh memory. 0 or a negative TPMID_E_* code. */
typedef int (*x509_sign_fn)(void *ctx, const uint8_t *digest, size_t digest_len,
    uint8_t **ret_der, size_t *ret_len);

/* Parse "CN=web,O=Example\, Inc.,C=DE" (RFC 4514 order as written; '\'
 * escapes the next character) into a name. Keys are OpenSSL short or long
 * names (CN, O, OU, C, ST, L, DC, UID, emailAddress, serialNumber...) or
 * dotted OIDs. TPMID_E_INVAL with the bad component quoted. */
int x509_parse_subject(const char *s, X509_NAME **ret);

/* Parse "DNS:a.example,IP:192.0.2.1,URI:spiffe://x,email:a@b" into
 * GeneralNames. TPMID_E_INVAL with the bad component quoted. */
int x509_parse_san(const char *s, GENERAL_NAMES **ret);

/* Build a PEM certificate request for the key `spki` (DER
 * SubjectPublicKeyInfo, ECDSA P-256/P-384 per `alg`), subject `subject`,
 * optional SANs `san` (NULL: none), signed with ecdsa-with-SHA256/384 by
 * `sign`. */
int x509_csr_make(const uint8_t *spki, size_t spki_len, enum tpmid_curve alg,
    const char *subject, const char *san, x509_sign_fn sign, void *sign_ctx, char **ret_pem);

/* 0 if the first certificate in `cert_pem` carries the public key in
 * `spki_pem` (PEM SubjectPublicKeyInfo), TPMID_E_MISMATCH if it carries
 * another, TPMID_E_FORMAT if either does not parse. On success
 * `ret_norm_pem` (may be NULL) receives the certificate re-encoded as
 * plain PEM (no text dump, no trailing junk). */
int x509_cert_matches(const char *cert_pem, const char *spki_pem, char **ret_norm_pem);
/* Same against a DER SubjectPublicKeyInfo. */
int x509_cert_matches_spki(const char *cert_pem, const uint8_t *spki, size_t spki_len);

/* Parse a PEM bundle of at least one certificate and re-encode it as
 * concatenated plain PEM. TPMID_E_FORMAT if it holds no certificate. */
int x509_bundle_normalize(const char *pem, char **ret);

#endif
