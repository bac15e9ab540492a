/* tss/session.c: a salted, unbound HMAC session driven through SAPI.
 *
 * References: TPM 2.0 Part 1 §19.6 (HMAC sessions: §19.6.8 HMAC key,
 * §19.6.10 session key, §19.6.11 salt, §19.6.16 response HMAC), §11.4.10.2
 * (KDFa), §11.4.10.3 and Annex C.6.1 (ECDH salt, KDFe); Part 3 §11.1
 * (TPM2_StartAuthSession), §20.2 (TPM2_Sign). */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "common/curve.h"
#include "common/err.h"
#include "tss/rc.h"
#include "tss/session.h"

#define SESSION_HASH_LEN 32 /* SHA-256: the session's authHash and the SRK's nameAlg */

struct tss_crypto {
	EVP_MD *sha256;
	EVP_MAC *hmac;
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac; /* HMAC with SHA-256 bound once */
};

struct tss_session {
	TPMI_SH_AUTH_SESSION handle;
	uint8_t key[SESSION_HASH_LEN]; /* sessionKey */
	TPM2B_NONCE nonce_tpm;
	TPM2B_NONCE nonce_caller;
};

struct chunk {
	const void *p;
	size_t len;
};

int
tss_crypto_new(struct tss_crypto **ret)
{
	struct tss_crypto *c = NULL;
	OSSL_PARAM params[2];
	int r;

	*ret = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return tpmid_seterr(TPMID_E_NOMEM, "out of memory");
	/* Fetched once and reused for every HMAC and hash of every command:
	 * the per-call name look-ups are what make ESAPI sessions slow. */
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	c->md = EVP_MD_CTX_new();
	if (c->sha256 == NULL || c->hmac == NULL || c->md == NULL) {
		r = tpmid_seterr(TPMID_E_UNSUPPORTED, "OpenSSL provides no SHA-256 or HMAC");
		goto out;
	}
	c->mac = EVP_MAC_CTX_new(c->hmac);
	if (c->mac == NULL) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(c->mac, params)) {
		r = tpmid_seterr(TPMID_E_UNSUPPORTED, "OpenSSL: cannot set up HMAC-SHA256");
		goto out;
	}
	*ret = c;
	c = NULL;
	r = 0;
out:
	tss_crypto_free(c);
	return r;
}

void
tss_crypto_free(struct tss_crypto *c)
{
	if (c == NULL)
		return;
	EVP_MAC_CTX_free(c->mac);
	EVP_MD_CTX_free(c->md);
	EVP_MAC_free(c->hmac);
	EVP_MD_free(c->sha256);
	free(c);
}

static int
sha256(struct tss_crypto *c, const struct chunk *v, size_t n, uint8_t ret[SESSION_HASH_LEN])
{
	unsigned int len = 0;
	size_t i;
	int r = TPMID_E_TPM;

	if (!EVP_DigestInit_ex(c->md, c->sha256, NULL))
		goto out;
	for (i = 0; i < n; i++)
		if (v[i].len > 0 && !EVP_DigestUpdate(c->md, v[i].p, v[i].len))
			goto out;
	if (!EVP_DigestFinal_ex(c->md, ret, &len) || len != SESSION_HASH_LEN)
		goto out;
	r = 0;
out:
	if (r < 0)
		tpmid_seterr(r, "OpenSSL: SHA-256 failed");
	return r;
}

static int
hmac256(struct tss_crypto *c, const uint8_t *key, size_t key_len, const struct chunk *v, size_t n,
    uint8_t ret[SESSION_HASH_LEN])
{
	size_t len = 0, i;
	int r = TPMID_E_TPM;

	/* HMAC with an empty key is legal (unsalted unbound sessions); OpenSSL
	 * wants a non-NULL pointer for it. */
	if (!EVP_MAC_init(c->mac, key_len ? key : (const uint8_t *)"", key_len, NULL))
		goto out;
	for (i = 0; i < n; i++)
		if (v[i].len > 0 && !EVP_MAC_update(c->mac, v[i].p, v[i].len))
			goto out;
	if (!EVP_MAC_final(c->mac, ret, &len, SESSION_HASH_LEN) || len != SESSION_HASH_LEN)
		goto out;
	r = 0;
out:
	if (r < 0)
		tpmid_seterr(r, "OpenSSL: HMAC-SHA256 failed");
	return r;
}

/* The reused HMAC context keeps the last key (sessionKey || PIN): OpenSSL's
 * HMAC holds a copy for EVP_MAC_CTX_dup and the key-padded digest states.
 * Re-keying it with zeros frees and cleanses that copy, so no PIN outlives
 * the command in ordinary heap (it is held only in struct secret, until
 * 'tpmid lock'). */
static void
hmac_forget(struct tss_crypto *c)
{
	static const uint8_t zero[SESSION_HASH_LEN];

	(void)EVP_MAC_init(c->mac, zero, sizeof(zero), NULL);
}

static void
be32(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* KDFa (Part 1 §11.4.10.2), SHA-256, for exactly 256 bits (one round):
 * HMAC(key, [1]32 || label || 0x00 || contextU || contextV || [bits]32).
 * The label's terminating NUL is part of the input. */
static int
kdfa256(struct tss_crypto *c, const uint8_t *key, size_t key_len, const char *label,
    const TPM2B_NONCE *u, const TPM2B_NONCE *v, uint8_t out[SESSION_HASH_LEN])
{
	uint8_t counter[4], bits[4];
	struct chunk in[5];

	be32(counter, 1);
	be32(bits, SESSION_HASH_LEN * 8);
	in[0] = (struct chunk){ counter, 4 };
	in[1] = (struct chunk){ label, strlen(label) + 1 };
	in[2] = (struct chunk){ u->buffer, u->size };
	in[3] = (struct chunk){ v->buffer, v->size };
	in[4] = (struct chunk){ bits, 4 };
	return hmac256(c, key, key_len, in, ELEMENTSOF(in), out);
}

/* KDFe (Part 1 §11.4.10.3), SHA-256, 256 bits (one round):
 * H([1]32 || Z || label || 0x00 || partyUInfo || partyVInfo). */
static int
kdfe256(struct tss_crypto *c, const uint8_t *z, size_t z_len, const char *label,
    const TPM2B_ECC_PARAMETER *u, const TPM2B_ECC_PARAMETER *v, uint8_t out[SESSION_HASH_LEN])
{
	uint8_t counter[4];
	struct chunk in[5];

	be32(counter, 1);
	in[0] = (struct chunk){ counter, 4 };
	in[1] = (struct chunk){ z, z_len };
	in[2] = (struct chunk){ label, strlen(label) + 1 };
	in[3] = (struct chunk){ u->buffer, u->size };
	in[4] = (struct chunk){ v->buffer, v->size };
	return sha256(c, in, ELEMENTSOF(in), out);
}

static int
curve_of_tpm(TPMI_ECC_CURVE curve, const char **ret_name, size_t *ret_len)
{
	const struct curve_info *c = curve_by_tpm(curve);

	if (c == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported TPM curve 0x%04x (use NIST P-256 or P-384)",
		    (unsigned)curve);
	*ret_name = c->group;
	*ret_len = c->field_len;
	return 0;
}

int
tss_ec_pubkey(TPMI_ECC_CURVE curve, const TPM2B_ECC_PARAMETER *x, const TPM2B_ECC_PARAMETER *y,
    EVP_PKEY **ret)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t point[1 + 2 * 48];
	const char *group = NULL;
	size_t flen = 0;
	int r;

	*ret = NULL;
	if ((r = curve_of_tpm(curve, &group, &flen)) < 0)
		return r;
	if (x->size == 0 || y->size == 0 || x->size > flen || y->size > flen)
		return tpmid_seterr(TPMID_E_FORMAT, "ECC public point has bad coordinate sizes (%u, %u)",
		    (unsigned)x->size, (unsigned)y->size);
	/* SEC1 uncompressed point; TPM coordinates may be shorter than the
	 * field when they have leading zeros. */
	memset(point, 0, sizeof(point));
	point[0] = 0x04;
	memcpy(point + 1 + flen - x->size, x->buffer, x->size);
	memcpy(point + 1 + 2 * flen - y->size, y->buffer, y->size);

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * flen) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		/* oct2point rejects points off the curve. */
		r = tpmid_seterr(TPMID_E_FORMAT, "ECC public point is not on %s", group);
		goto out;
	}
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

static int
bn_param(EVP_PKEY *k, const char *name, size_t flen, TPM2B_ECC_PARAMETER *out)
{
	BIGNUM *bn = NULL;
	int r = 0;

	if (!EVP_PKEY_get_bn_param(k, name, &bn) || BN_bn2binpad(bn, out->buffer, (int)flen) < 0)
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: cannot read the ephemeral ECDH key");
	else
		out->size = (UINT16)flen;
	BN_free(bn);
	return r;
}

/* The ECDH salt (Part 1 Annex C.6.1): an ephemeral key Qe on the tpmKey's
 * curve, Z = x(de * Qs), salt = KDFe(nameAlg, Z, "SECRET", Qe.x, Qs.x,
 * digest bits); the TPM receives Qe as a marshaled TPMS_ECC_POINT. */
static int
make_salt(struct tss_crypto *c, const TPMT_PUBLIC *key_pub, uint8_t salt[SESSION_HASH_LEN],
    TPM2B_ENCRYPTED_SECRET *enc)
{
	EVP_PKEY *peer = NULL, *eph = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	TPMS_ECC_POINT qe = { 0 };
	uint8_t z[48];
	size_t z_len = sizeof(z), off = 0, flen = 0;
	const char *group = NULL;
	TSS2_RC rc;
	int r;

	memset(salt, 0, SESSION_HASH_LEN);
	memset(enc, 0, sizeof(*enc));
	if (key_pub->type != TPM2_ALG_ECC || key_pub->nameAlg != TPM2_ALG_SHA256)
		return tpmid_seterr(TPMID_E_CURVE, "the storage root key is not an ECC key with SHA-256");
	if ((r = curve_of_tpm(key_pub->parameters.eccDetail.curveID, &group, &flen)) < 0)
		return r;
	if ((r = tss_ec_pubkey(key_pub->parameters.eccDetail.curveID, &key_pub->unique.ecc.x,
		 &key_pub->unique.ecc.y, &peer)) < 0)
		goto out;
	eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	if (eph == NULL) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: cannot make an ephemeral %s key", group);
		goto out;
	}
	if ((r = bn_param(eph, OSSL_PKEY_PARAM_EC_PUB_X, flen, &qe.x)) < 0 ||
	    (r = bn_param(eph, OSSL_PKEY_PARAM_EC_PUB_Y, flen, &qe.y)) < 0)
		goto out;
	dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
	if (dctx == NULL || EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_derive_set_peer(dctx, peer) <= 0 ||
	    EVP_PKEY_derive(dctx, z, &z_len) <= 0 || z_len != flen) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: ECDH with the storage root key failed");
		goto out;
	}
	if ((r = kdfe256(c, z, z_len, "SECRET", &qe.x, &key_pub->unique.ecc.x, salt)) < 0)
		goto out;
	rc = Tss2_MU_TPMS_ECC_POINT_Marshal(&qe, enc->secret, sizeof(enc->secret), &off);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "marshaling the session salt");
		goto out;
	}
	enc->size = (UINT16)off;
	r = 0;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(peer);
	return r;
}

int
tss_session_start(TSS2_SYS_CONTEXT *sys, struct tss_crypto *c, TPM2_HANDLE tpm_key,
    const TPMT_PUBLIC *key_pub, struct tss_session **ret)
{
	struct tss_session *s = NULL;
	TPM2B_ENCRYPTED_SECRET enc = { 0 };
	/* symmetric NULL: TPM2_Sign carries nothing secret in its
	 * parameters; the PIN itself never travels, only HMACs keyed by it. */
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	uint8_t salt[SESSION_HASH_LEN] = { 0 };
	struct tss_backoff backoff = { 0 };
	TSS2_RC rc;
	int r, started = 0;

	*ret = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return tpmid_seterr(TPMID_E_NOMEM, "out of memory");
	if ((r = make_salt(c, key_pub, salt, &enc)) < 0)
		goto out;
	s->nonce_caller.size = SESSION_HASH_LEN;
	if (RAND_bytes(s->nonce_caller.buffer, SESSION_HASH_LEN) != 1) {
		r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: no random bytes");
		goto out;
	}
	do
		rc = Tss2_Sys_StartAuthSession(sys, tpm_key, TPM2_RH_NULL, NULL, &s->nonce_caller, &enc,
		    TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &s->handle, &s->nonce_tpm, NULL);
	while (tss_backoff(&backoff, rc));
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "starting a salted session (TPM2_StartAuthSession)");
		goto out;
	}
	started = 1;
	/* Part 1 §19.6.10, unbound: sessionKey = KDFa(authHash, salt, "ATH",
	 * nonceTPM, nonceCaller, digest bits). */
	if ((r = kdfa256(c, salt, sizeof(salt), "ATH", &s->nonce_tpm, &s->nonce_caller, s->key)) < 0)
		goto out;
	*ret = s;
	s = NULL;
	r = 0;
out:
	OPENSSL_cleanse(salt, sizeof(salt));
	if (started)
		tss_session_flush(sys, s); /* a session we cannot use: give the slot back */
	else
		tss_session_free(s);
	return r;
}

TPM2_HANDLE
tss_session_handle(const struct tss_session *s)
{
	return s->handle;
}

void
tss_session_free(struct tss_session *s)
{
	freezero(s, sizeof(*s));
}

void
tss_session_flush(TSS2_SYS_CONTEXT *sys, struct tss_session *s)
{
	if (s == NULL)
		return;
	(void)Tss2_Sys_FlushContext(sys, s->handle);
	tss_session_free(s);
}

int
tss_session_sign(TSS2_SYS_CONTEXT *sys, struct tss_crypto *c, struct tss_session *s,
    TPM2_HANDLE key, const TPM2B_NAME *key_name, const struct secret *auth,
    const TPM2B_DIGEST *digest, TPMI_ALG_HASH hash, TPMT_SIGNATURE *ret_sig)
{
	TSS2L_SYS_AUTH_COMMAND cmd = { .count = 1 };
	TSS2L_SYS_AUTH_RESPONSE rsp = { 0 };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = hash };
	TPMT_TK_HASHCHECK validation = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMA_SESSION attrs = TPMA_SESSION_CONTINUESESSION;
	uint8_t hkey[SESSION_HASH_LEN + sizeof(TPMU_HA)];
	uint8_t cc[4], rc0[4] = { 0 }, cp_hash[SESSION_HASH_LEN], rp_hash[SESSION_HASH_LEN];
	uint8_t expect[SESSION_HASH_LEN];
	const uint8_t *cp, *rp;
	size_t cp_len, rp_len, auth_len = 0, hkey_len;
	struct tss_backoff backoff = { 0 };
	TSS2_RC rc;
	int r;

	memset(ret_sig, 0, sizeof(*ret_sig));
	if (auth != NULL)
		auth_len = auth->len;
	if (auth_len > sizeof(TPMU_HA))
		return tpmid_seterr(TPMID_E_INVAL, "PIN longer than %zu bytes", sizeof(TPMU_HA));
	/* Part 1 §19.6.8: the HMAC key is sessionKey || authValue, with the
	 * authValue's trailing zero octets removed (§19.6.5). */
	while (auth_len > 0 && auth->p[auth_len - 1] == 0)
		auth_len--;
	memcpy(hkey, s->key, SESSION_HASH_LEN);
	if (auth_len > 0)
		memcpy(hkey + SESSION_HASH_LEN, auth->p, auth_len);
	hkey_len = SESSION_HASH_LEN + auth_len;
	be32(cc, TPM2_CC_Sign);

	for (;;) {
		struct chunk cph[3], hm[4];

		rc = Tss2_Sys_Sign_Prepare(sys, key, digest, &scheme, &validation);
		if (rc == TSS2_RC_SUCCESS)
			rc = Tss2_Sys_GetCpBuffer(sys, &cp_len, &cp);
		if (rc != TSS2_RC_SUCCESS) {
			r = tss_rc_err(rc, 0, "preparing TPM2_Sign");
			goto out;
		}
		/* cpHash = H(commandCode || Name(keyHandle) || parameters),
		 * Part 1 §18.7. */
		cph[0] = (struct chunk){ cc, 4 };
		cph[1] = (struct chunk){ key_name->name, key_name->size };
		cph[2] = (struct chunk){ cp, cp_len };
		if ((r = sha256(c, cph, ELEMENTSOF(cph), cp_hash)) < 0)
			goto out;
		/* A fresh nonceCaller for every command (Part 1 §19.6.2). */
		s->nonce_caller.size = SESSION_HASH_LEN;
		if (RAND_bytes(s->nonce_caller.buffer, SESSION_HASH_LEN) != 1) {
			r = tpmid_seterr(TPMID_E_TPM, "OpenSSL: no random bytes");
			goto out;
		}
		/* Part 1 §19.6.9: HMAC(key, cpHash || nonceNewer (caller) ||
		 * nonceOlder (TPM) || sessionAttributes). */
		hm[0] = (struct chunk){ cp_hash, sizeof(cp_hash) };
		hm[1] = (struct chunk){ s->nonce_caller.buffer, s->nonce_caller.size };
		hm[2] = (struct chunk){ s->nonce_tpm.buffer, s->nonce_tpm.size };
		hm[3] = (struct chunk){ &attrs, 1 };
		cmd.auths[0].sessionHandle = s->handle;
		cmd.auths[0].nonce = s->nonce_caller;
		cmd.auths[0].sessionAttributes = attrs;
		cmd.auths[0].hmac.size = SESSION_HASH_LEN;
		if ((r = hmac256(c, hkey, hkey_len, hm, ELEMENTSOF(hm), cmd.auths[0].hmac.buffer)) < 0)
			goto out;
		rc = Tss2_Sys_SetCmdAuths(sys, &cmd);
		if (rc == TSS2_RC_SUCCESS)
			rc = Tss2_Sys_Execute(sys);
		/* A retry warning means the TPM did not run the command and
		 * kept nonceTPM (Part 1 §19.6.2): sign again with a new
		 * nonceCaller. */
		if (!tss_backoff(&backoff, rc))
			break;
	}
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "TPM2_Sign");
		goto out;
	}

	rc = Tss2_Sys_GetRspAuths(sys, &rsp);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_Sys_GetRpBuffer(sys, &rp_len, &rp);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "reading the TPM2_Sign response");
		goto out;
	}
	if (rsp.count != 1 || rsp.auths[0].hmac.size != SESSION_HASH_LEN) {
		r = tpmid_seterr(TPMID_E_TPM, "TPM2_Sign: malformed response authorization");
		goto out;
	}
	{
		struct chunk rph[3], hm[4];

		/* rpHash = H(responseCode || commandCode || parameters) and the
		 * response HMAC over rpHash || nonceTPM (new) || nonceCaller
		 * || sessionAttributes (Part 1 §19.6.16). Verifying it proves
		 * the signature came from the TPM holding the SRK. */
		rph[0] = (struct chunk){ rc0, 4 };
		rph[1] = (struct chunk){ cc, 4 };
		rph[2] = (struct chunk){ rp, rp_len };
		if ((r = sha256(c, rph, ELEMENTSOF(rph), rp_hash)) < 0)
			goto out;
		hm[0] = (struct chunk){ rp_hash, sizeof(rp_hash) };
		hm[1] = (struct chunk){ rsp.auths[0].nonce.buffer, rsp.auths[0].nonce.size };
		hm[2] = (struct chunk){ s->nonce_caller.buffer, s->nonce_caller.size };
		hm[3] = (struct chunk){ &rsp.auths[0].sessionAttributes, 1 };
		if ((r = hmac256(c, hkey, hkey_len, hm, ELEMENTSOF(hm), expect)) < 0)
			goto out;
	}
	if (CRYPTO_memcmp(expect, rsp.auths[0].hmac.buffer, SESSION_HASH_LEN) != 0) {
		r = tpmid_seterr(TPMID_E_TPM,
		    "TPM2_Sign: the response HMAC does not verify (reply altered on the way, or session out of step)");
		goto out;
	}
	s->nonce_tpm = rsp.auths[0].nonce;
	rc = Tss2_Sys_Sign_Complete(sys, ret_sig);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "decoding the TPM2_Sign response");
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(hkey, sizeof(hkey));
	hmac_forget(c);
	return r;
}
