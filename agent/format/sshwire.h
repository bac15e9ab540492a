/* SSH wire formats for ECDSA keys (RFC 5656) and OpenSSH certificates
 * (PROTOCOL.certkeys): public key blobs, authorized_keys lines, signature
 * encoding, certificate checks. Shared by the agent and the CLI. */
#ifndef TPMID_AGENT_SSHWIRE_H
#define TPMID_AGENT_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/curve.h"

/* "ecdsa-sha2-nistp256" / "ecdsa-sha2-nistp384", NULL for others. */
const char *sshwire_keytype(enum tpmid_curve alg);
const char *sshwire_certtype(enum tpmid_curve alg);

/* Append the RFC 5656 public key blob (string keytype, string curve,
 * string Q) for a DER SubjectPublicKeyInfo. */
int sshwire_pubkey_blob(const uint8_t *spki, size_t spki_len, struct tbuf *out);
/* "ecdsa-sha2-nistp256 AAAA... comment" (no newline); fresh string. */
int sshwire_pubkey_line(const uint8_t *spki, size_t spki_len, const char *comment,
    char **ret);
/* Decode an OpenSSH public key/cert line's base64 blob. */
int sshwire_line_blob(const char *line, uint8_t **ret, size_t *ret_len);

/* Append an SSH signature blob (string keytype, string(mpint r, mpint s))
 * built from a DER ECDSA-Sig-Value. */
int sshwire_sig_from_der(enum tpmid_curve alg, const uint8_t *der, size_t der_len,
    struct tbuf *out);

/* 0 if the OpenSSH certificate line/blob certifies the key `spki`;
 * TPMID_E_MISMATCH if it certifies another key, TPMID_E_FORMAT if it is
 * not an ecdsa-sha2-nistp256/384 certificate. */
int sshwire_cert_matches(const uint8_t *cert_blob, size_t cert_len, const uint8_t *spki,
    size_t spki_len);

#endif
