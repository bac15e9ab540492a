/* The storage root key, verified against the endorsement key.
 *
 * Trust on first use (srk.c) records whatever SRK the TPM - or whoever sits
 * on its bus - answers the first time. The endorsement key makes it
 * provable. Its manufacturer certifies the EK's public key (TCG EK
 * Credential Profile 2.0 §2.2.1.5: the certificate in NV at 0x01c0000a
 * for ECC P-256, 0x01c00016 for P-384), and only the TPM holding the EK's
 * private key can decrypt a session salt encrypted to it (Part 1 §19.6.13,
 * §21.3). So:
 *  1. read the certificate and verify it up to a CA the caller trusts;
 *  2. use the EK only if its public key is the certified one (the
 *     persistent copy the TCG Provisioning Guidance puts at 0x81010002 /
 *     0x81010016, else the P-256 one created from the EK Credential
 *     Profile's template L-2);
 *  3. start an HMAC session salted to it and create the SRK with that
 *     session authorizing the owner hierarchy. The response HMAC, which
 *     ESAPI checks, covers the SRK's public area and cannot be recomputed
 *     without the salt: the SRK that comes back is the certified TPM's.
 * Not proved: that the certified TPM is the one in this device (a relay to
 * another genuine TPM passes). Compare the EK certificate's serial with the
 * device's records for that.
 *
 * Only ECC EKs (P-256, P-384): the SRK is ECC, ESAPI salts with ECDH, and
 * nearly every TPM 2.0 carries an ECC P-256 EK certificate. RSA EKs are not
 * used. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <tss2/tss2_esys.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/session.h"
#include "tss/tpm-private.h"

/* NV reads in pieces every TPM accepts (MAX_NV_BUFFER_SIZE is at least
 * 512 on PC Client TPMs). */
#define EK_NV_CHUNK 512
#define EK_CERT_MAX 4096

struct ek_kind {
	const char *what;
	TPM2_HANDLE nv;         /* certificate */
	TPM2_HANDLE persistent; /* the usual persistent copy */
	int has_template;       /* can be created (template L-2) */
};

/* Most likely first. */
static const struct ek_kind ek_kinds[] = {
	{ "ECC P-256", 0x01c0000au, 0x81010002u, 1 },
	{ "ECC P-384", 0x01c00016u, 0x81010016u, 0 },
};

/* EK Credential Profile 2.0 §B.3.4, template L-2: ECC NIST P-256, the
 * authPolicy PolicySecret(TPM_RH_ENDORSEMENT), an all-zero unique. */
static const TPM2B_PUBLIC ek_template_l2 = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
		    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.authPolicy = {
			.size = 32,
			.buffer = { 0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90,
			    0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06,
			    0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa },
		},
		.parameters.eccDetail = {
			.symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
			    .mode.aes = TPM2_ALG_CFB },
			.scheme = { .scheme = TPM2_ALG_NULL },
			.curveID = TPM2_ECC_NIST_P256,
			.kdf = { .scheme = TPM2_ALG_NULL },
		},
		.unique.ecc = { .x = { .size = 32 }, .y = { .size = 32 } },
	},
};

static const TPMT_SYM_DEF ek_session_sym = {
	.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB
};

/* The certificate at NV index `nv`: TPMID_E_NOENT when there is none. */
static int
read_cert(struct tpm *t, TPM2_HANDLE nv, X509 **ret)
{
	ESYS_TR tr = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *pub = NULL;
	TPM2B_MAX_NV_BUFFER *part = NULL;
	uint8_t *der = NULL;
	const uint8_t *p;
	uint16_t size, off = 0, n;
	TSS2_RC rc;
	int r;

	*ret = NULL;
	TSS_CALL(rc, Esys_TR_FromTPMPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &tr));
	if (rc != TSS2_RC_SUCCESS) {
		if (tss_rc_tpm_code(rc) == TPM2_RC_HANDLE)
			return TPMID_E_NOENT;
		return tss_rc_err(rc, 0, "reading the EK certificate's NV index (TPM2_NV_ReadPublic)");
	}
	TSS_CALL(rc, Esys_NV_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
	    NULL));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "reading the EK certificate's NV index (TPM2_NV_ReadPublic)");
		goto out;
	}
	size = pub->nvPublic.dataSize;
	if (size == 0 || size > EK_CERT_MAX) {
		r = tpmid_seterr(TPMID_E_FORMAT, "the EK certificate at NV 0x%08x has %u bytes",
		    (unsigned)nv, (unsigned)size);
		goto out;
	}
	if ((der = malloc(size)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	while (off < size) {
		n = size - off < EK_NV_CHUNK ? size - off : EK_NV_CHUNK;
		/* EK certificate indices are readable with their own (empty)
		 * authorization (EK Credential Profile §2.2.1.5.1). */
		TSS_CALL(rc, Esys_NV_Read(t->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		    ESYS_TR_NONE, n, off, &part));
		if (rc != TSS2_RC_SUCCESS) {
			r = tss_rc_err(rc, 0, "reading the EK certificate (TPM2_NV_Read)");
			goto out;
		}
		if (part->size != n) {
			r = tpmid_seterr(TPMID_E_TPM, "TPM2_NV_Read returned %u bytes, asked %u",
			    (unsigned)part->size, (unsigned)n);
			goto out;
		}
		memcpy(der + off, part->buffer, n);
		off += n;
		Esys_Free(part);
		part = NULL;
	}
	p = der;
	/* Some TPMs pad the index: the DER's own length ends it. */
	if ((*ret = d2i_X509(NULL, &p, size)) == NULL) {
		r = tpmid_seterr(TPMID_E_FORMAT, "the data at NV 0x%08x is not an X.509 certificate",
		    (unsigned)nv);
		goto out;
	}
	r = 0;
out:
	Esys_Free(part);
	Esys_Free(pub);
	free(der);
	tss_close(t, &tr);
	return r;
}

static int
verify_cert(X509 *cert, X509_STORE *trust, char *why, size_t why_len)
{
	X509_STORE_CTX *ctx;
	int ok = 0;

	if ((ctx = X509_STORE_CTX_new()) == NULL)
		return TPMID_E_NOMEM;
	if (X509_STORE_CTX_init(ctx, trust, cert, NULL) == 1) {
		/* EK certificates carry TCG extensions (the TPM's make and
		 * model in a critical subjectAltName directoryName, TCG
		 * attribute OIDs) OpenSSL does not know: only the chain and
		 * its signatures are what we rely on. */
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_IGNORE_CRITICAL);
		ok = X509_verify_cert(ctx) == 1;
		if (!ok)
			snprintf(why, why_len, "%s",
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
	X509_STORE_CTX_free(ctx);
	return ok ? 0 : TPMID_E_MISMATCH;
}

/* `tr` holds the certified key: its public area (as ESAPI read it) is
 * `cert`'s public key. */
static int
ek_matches(struct tpm *t, ESYS_TR tr, X509 *cert)
{
	TPM2B_NAME want, held;
	TPM2B_PUBLIC *pub = NULL;
	EVP_PKEY *got = NULL;
	TSS2_RC rc;
	int r;

	TSS_CALL(rc, Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
	    NULL, NULL));
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "reading the EK's public area (TPM2_ReadPublic)");
	/* ESAPI salts to the public area it read when `tr` was made, not to
	 * this answer: the two must hash to one name, or an interposer could
	 * show us the certified key and ESAPI its own. */
	if ((r = tss_object_name(pub, &want)) < 0 || (r = tss_tr_name(t, tr, &held)) < 0)
		goto out;
	if (timingsafe_memeq(want.name, want.size, held.name, held.size) != 0) {
		r = TPMID_E_MISMATCH;
		goto out;
	}
	if (pub->publicArea.type != TPM2_ALG_ECC ||
	    (r = tss_ec_pubkey(pub->publicArea.parameters.eccDetail.curveID,
		&pub->publicArea.unique.ecc.x, &pub->publicArea.unique.ecc.y, &got)) < 0) {
		r = TPMID_E_MISMATCH;
		goto out;
	}
	r = EVP_PKEY_eq(got, X509_get0_pubkey(cert)) == 1 ? 0 : TPMID_E_MISMATCH;
out:
	EVP_PKEY_free(got);
	Esys_Free(pub);
	return r;
}

/* The EK of `k` as an ESYS_TR whose public key is `cert`'s: the persistent
 * copy, else (template L-2) a transient one (*ret_transient set: flush it).
 * TPMID_E_NOENT when neither is there or matches. */
static int
ek_load(struct tpm *t, const struct ek_kind *k, X509 *cert, ESYS_TR *ret, int *ret_transient)
{
	TPM2B_SENSITIVE_CREATE insens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcr = { 0 };
	ESYS_TR tr = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	*ret = ESYS_TR_NONE;
	*ret_transient = 0;
	TSS_CALL(rc, Esys_TR_FromTPMPublic(t->esys, k->persistent, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &tr));
	if (rc == TSS2_RC_SUCCESS) {
		if ((r = ek_matches(t, tr, cert)) == 0) {
			*ret = tr;
			return 0;
		}
		tss_close(t, &tr);
		if (r != TPMID_E_MISMATCH)
			return r;
	}
	if (!k->has_template)
		return TPMID_E_NOENT;
	tss_creating(t, 1);
	TSS_CALL(rc, Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &insens, &ek_template_l2, &outside, &pcr, &tr, NULL, NULL,
	    NULL, NULL));
	if (rc == TSS2_RC_SUCCESS)
		tss_own_tr(t, tr);
	tss_creating(t, 0);
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "creating the endorsement key (TPM2_CreatePrimary)");
	if ((r = ek_matches(t, tr, cert)) != 0) {
		tss_flush(t, &tr);
		return r == TPMID_E_MISMATCH ? TPMID_E_NOENT : r;
	}
	*ret = tr;
	*ret_transient = 1;
	return 0;
}

static void
serial_hex(X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(buf, len, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

int
tpm_srk_verify_ek(struct tpm *t, X509_STORE *trust, struct tpm_ek_report *ret)
{
	TPM2B_SENSITIVE_CREATE insens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcr = { 0 };
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR ek = ESYS_TR_NONE, sess = ESYS_TR_NONE, srk = ESYS_TR_NONE;
	const struct ek_kind *k = NULL;
	X509 *cert = NULL;
	TPM2B_NAME name;
	char why[256] = "";
	TSS2_RC rc;
	size_t i;
	int r, transient = 0, found = 0, reset;

	memset(ret, 0, sizeof(*ret));
	if ((r = tss_connected(t)) < 0)
		return r;
	/* 1. A certificate that chains to the trusted CAs. */
	for (i = 0; i < ELEMENTSOF(ek_kinds) && !found; i++) {
		k = &ek_kinds[i];
		X509_free(cert);
		cert = NULL;
		if ((r = read_cert(t, k->nv, &cert)) == TPMID_E_NOENT)
			continue;
		if (r < 0)
			goto out;
		found = 1;
	}
	if (!found) {
		r = tpmid_seterr(TPMID_E_NOENT, "the TPM has no ECC endorsement key certificate "
		    "(NV 0x01c0000a, 0x01c00016): the storage root key cannot be verified "
		    "against it");
		goto out;
	}
	if ((r = verify_cert(cert, trust, why, sizeof(why))) != 0) {
		r = tpmid_seterr(TPMID_E_MISMATCH, "the TPM's %s endorsement key certificate does not "
		    "verify against the given CAs: %s", k->what, why);
		goto out;
	}
	/* 2. The certified key itself. */
	if ((r = ek_load(t, k, cert, &ek, &transient)) != 0) {
		if (r == TPMID_E_NOENT)
			r = tpmid_seterr(TPMID_E_MISMATCH, "no endorsement key in the TPM has the "
			    "certified %s public key (persistent 0x%08x%s): an interposer on the "
			    "bus, or an EK certificate of another TPM", k->what,
			    (unsigned)k->persistent, k->has_template ? ", or template L-2" : "");
		goto out;
	}
	/* 3. The SRK, created under a session only that key's TPM can key. */
	TSS_CALL(rc, Esys_StartAuthSession(t->esys, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &ek_session_sym, TPM2_ALG_SHA256, &sess));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "starting a session salted to the EK (TPM2_StartAuthSession)");
		goto out;
	}
	tss_own_tr(t, sess);
	tss_creating(t, 1);
	TSS_CALL(rc, Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, sess, ESYS_TR_NONE,
	    ESYS_TR_NONE, &insens, tss_srk_template(), &outside, &pcr, &srk, &pub, NULL, NULL,
	    NULL));
	if (rc == TSS2_RC_SUCCESS)
		tss_own_tr(t, srk);
	tss_creating(t, 0);
	if (rc == TSS2_ESYS_RC_RSP_AUTH_FAILED) {
		/* ESAPI made no ESYS_TR of the rejected answer, but the TPM
		 * made the object: start over on a fresh connection, which
		 * flushes what we own and what appeared meanwhile (tpm.c). */
		(void)tpm_recover(t, &reset);
		sess = ek = srk = ESYS_TR_NONE;
		transient = 0;
		r = tpmid_seterr(TPMID_E_SRK, "the TPM's answer creating the storage root key "
		    "fails the check of the session salted to its endorsement key: something on "
		    "the bus between tpmid and the TPM changed it");
		goto out;
	}
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_owner_err(rc, "creating the storage root key (TPM2_CreatePrimary)");
		goto out;
	}
	if ((r = tss_tr_name(t, srk, &name)) < 0)
		goto out;
	memcpy(ret->srk_name, name.name, name.size);
	ret->srk_name_len = name.size;
	ret->what = k->what;
	ret->nv = k->nv;
	ret->ek_handle = transient ? 0 : k->persistent;
	X509_NAME_oneline(X509_get_issuer_name(cert), ret->issuer, sizeof(ret->issuer));
	serial_hex(cert, ret->serial, sizeof(ret->serial));
	r = 0;
out:
	tss_flush(t, &srk);
	tss_flush(t, &sess);
	if (transient)
		tss_flush(t, &ek);
	else
		tss_close(t, &ek);
	Esys_Free(pub);
	X509_free(cert);
	return r;
}
