/* The elliptic curves tpmid speaks, and every fact about them that more
 * than one room needs: one table (curve.c), looked up by whichever name
 * the caller holds. Nothing here depends on OpenSSL or tpm2-tss: names are
 * strings, TPM identifiers plain numbers (tss/ asserts they match). */
#ifndef TPMID_CURVE_H
#define TPMID_CURVE_H

#include <stddef.h>
#include <stdint.h>

/* The values travel on the agent socket (PROTOCOL.md, id_info.alg and
 * keygen's alg): never renumber. */
enum tpmid_curve {
	CURVE_NONE = 0,
	CURVE_P256 = 1,
	CURVE_P384 = 2,
};

struct curve_info {
	enum tpmid_curve id;
	const char *name;         /* "ecdsa-p256": identity files' "alg", list */
	const char *option;       /* "p256": tpmid keygen --curve */
	const char *nist;         /* "P-256": messages; OpenSSL's NIST name */
	const char *group;        /* "prime256v1": OpenSSL's group name */
	const char *hash;         /* "SHA256": OpenSSL's name of the curve's hash */
	const char *hash_nist;    /* "SHA-256": messages */
	const char *sig_alg;      /* "ecdsa-with-SHA256": X.509 signature algorithm */
	const char *ssh_curve;    /* "nistp256": RFC 5656 section 10.1 */
	const char *ssh_keytype;  /* "ecdsa-sha2-nistp256": RFC 5656 section 6.2 */
	const char *ssh_certtype; /* OpenSSH PROTOCOL.certkeys */
	uint16_t tpm_curve;       /* TPM_ECC_NIST_P256 (TPM 2.0 Part 2 section 6.4) */
	uint16_t tpm_hash;        /* TPM_ALG_SHA256 (Part 2 section 6.3) */
	size_t field_len;         /* bytes of a coordinate or private scalar */
	size_t digest_len;        /* bytes of the curve's hash: what a key signs */
	const uint8_t *oid_der;   /* the curve's OID, DER (tag 06 included): RFC
	                             5480 section 2.1.1.1 namedCurve, PKCS#11's
	                             CKA_EC_PARAMS */
	size_t oid_der_len;
};

/* The table, in order of preference (the first is the default). */
extern const struct curve_info curve_table[];
extern const size_t curve_count;

/* Lookups; NULL when nothing matches. */
const struct curve_info *curve_get(enum tpmid_curve id);
/* "ecdsa-p256", "p256" or "P-256" (the NIST name in any case). */
const struct curve_info *curve_by_name(const char *s);
/* An OpenSSL group name ("prime256v1") or NIST name ("P-256"). */
const struct curve_info *curve_by_group(const char *group);
const struct curve_info *curve_by_tpm(uint16_t tpm_curve);

/* "ecdsa-p256"; "?" for an unknown id (never NULL: for messages). */
const char *curve_name(enum tpmid_curve id);

#endif
