/* The curve table (curve.h). Adding a curve is one entry here, plus what
 * the TPM and OpenSSL need to know (tss/ and agent/format/ ask this
 * table, never a switch of their own). */
#include "config.h"

#include <strings.h>

#include "common/curve.h"
#include "common/util.h"

const struct curve_info curve_table[] = {
	{
		.id = CURVE_P256, .name = "ecdsa-p256", .option = "p256", .nist = "P-256",
		.group = "prime256v1", .hash = "SHA256", .hash_nist = "SHA-256",
		.sig_alg = "ecdsa-with-SHA256", .ssh_curve = "nistp256",
		.ssh_keytype = "ecdsa-sha2-nistp256",
		.ssh_certtype = "ecdsa-sha2-nistp256-cert-v01@openssh.com",
		.tpm_curve = 0x0003, .tpm_hash = 0x000B, .field_len = 32, .digest_len = 32,
		/* 1.2.840.10045.3.1.7 */
		.oid_der = (const uint8_t *)"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07",
		.oid_der_len = 10,
	},
	{
		.id = CURVE_P384, .name = "ecdsa-p384", .option = "p384", .nist = "P-384",
		.group = "secp384r1", .hash = "SHA384", .hash_nist = "SHA-384",
		.sig_alg = "ecdsa-with-SHA384", .ssh_curve = "nistp384",
		.ssh_keytype = "ecdsa-sha2-nistp384",
		.ssh_certtype = "ecdsa-sha2-nistp384-cert-v01@openssh.com",
		.tpm_curve = 0x0004, .tpm_hash = 0x000C, .field_len = 48, .digest_len = 48,
		/* 1.3.132.0.34 */
		.oid_der = (const uint8_t *)"\x06\x05\x2b\x81\x04\x00\x22",
		.oid_der_len = 7,
	},
};
const size_t curve_count = ELEMENTSOF(curve_table);

const struct curve_info *
curve_get(enum tpmid_curve id)
{
	size_t i;

	for (i = 0; i < curve_count; i++)
		if (curve_table[i].id == id)
			return &curve_table[i];
	return NULL;
}

const struct curve_info *
curve_by_name(const char *s)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < curve_count; i++)
		if (strcmp(s, curve_table[i].name) == 0 || strcmp(s, curve_table[i].option) == 0 ||
		    strcasecmp(s, curve_table[i].nist) == 0)
			return &curve_table[i];
	return NULL;
}

const struct curve_info *
curve_by_group(const char *group)
{
	size_t i;

	if (group == NULL)
		return NULL;
	for (i = 0; i < curve_count; i++)
		if (strcmp(group, curve_table[i].group) == 0 ||
		    strcmp(group, curve_table[i].nist) == 0)
			return &curve_table[i];
	return NULL;
}

const struct curve_info *
curve_by_tpm(uint16_t tpm_curve)
{
	size_t i;

	for (i = 0; i < curve_count; i++)
		if (curve_table[i].tpm_curve == tpm_curve)
			return &curve_table[i];
	return NULL;
}

const char *
curve_name(enum tpmid_curve id)
{
	const struct curve_info *c = curve_get(id);

	return c != NULL ? c->name : "?";
}
