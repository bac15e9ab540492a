/* TSS2 PRIVATE KEY files (the TPM 2.0 key-file convention used by
 * tpm2-openssl, tpm2-tss-engine, ssh-tpm-agent, the kernel's trusted keys):
 *
 *   TPMKey ::= SEQUENCE {
 *     type        OBJECT IDENTIFIER,           -- 2.23.133.10.1.3 (loadable)
 *     emptyAuth   [0] EXPLICIT BOOLEAN OPTIONAL,
 *     policy      [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
 *     secret      [2] EXPLICIT OCTET STRING OPTIONAL,
 *     authPolicy  [3] EXPLICIT SEQUENCE OF TPMAuthPolicy OPTIONAL,
 *     description [4] EXPLICIT UTF8String OPTIONAL,
 *     rsaParent   [5] EXPLICIT BOOLEAN OPTIONAL,
 *     parent      INTEGER,
 *     pubkey      OCTET STRING,                -- marshaled TPM2B_PUBLIC
 *     privkey     OCTET STRING }               -- marshaled TPM2B_PRIVATE
 *
 * Encoded and decoded with OpenSSL's ASN.1 templates. Optional fields are
 * parsed and kept as DER so a read + write round trip preserves them. */
#ifndef TPMID_STORE_KEYFILE_H
#define TPMID_STORE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_MAX (64 * 1024)

struct keyfile {
	int empty_auth;       /* 1 if emptyAuth TRUE */
	uint32_t parent;      /* 0x40000001 = H-2 primary under owner */
	uint8_t *pub;         /* marshaled TPM2B_PUBLIC */
	size_t pub_len;
	uint8_t *priv;        /* marshaled TPM2B_PRIVATE */
	size_t priv_len;
	char *description;    /* optional, NULL if absent */
	uint8_t *opt_der;     /* opaque: DER of the optional fields we keep
	                       * ([1] [2] [3] [5], and [0]'s raw content octet;
	                       * empty_auth above is what counts) */
	size_t opt_der_len;
};

/* Parse PEM text ("-----BEGIN TSS2 PRIVATE KEY-----"). TPMID_E_FORMAT with
 * a detail saying what is wrong (bad base64, wrong OID, missing field...).
 * Only a loadable key (2.23.133.10.1.3) is accepted; only whitespace may
 * surround the one PEM block. TPMID_E_TOOBIG for DER over KEYFILE_MAX or
 * PEM text over 2 * KEYFILE_MAX. A DER parse + keyfile_to_der() round trip
 * is byte-exact. */
int keyfile_parse_pem(const char *pem, size_t len, struct keyfile **ret);
int keyfile_parse_der(const uint8_t *der, size_t len, struct keyfile **ret);
/* 1 if the text looks like a TSS2 PRIVATE KEY PEM (header check only). */
int keyfile_is_pem(const char *text, size_t len);
int keyfile_to_pem(const struct keyfile *k, char **ret_pem);
int keyfile_to_der(const struct keyfile *k, uint8_t **ret_der, size_t *ret_len);
int keyfile_new(uint32_t parent, int empty_auth, const uint8_t *pub, size_t pub_len,
    const uint8_t *priv, size_t priv_len, struct keyfile **ret);
void keyfile_free(struct keyfile *k);

#endif
