/* p11clients MODULE MODE ARGS...: the calls real clients make to generate
 * and use keys, with their templates as they send them (pkcs11-keygen.sh;
 * pkcs11-tool's own --keypairgen is driven there directly):
 *
 *   tlsuv-gen LABEL PIN     OpenZiti's tlsuv (src/p11.c p11_gen_key, keys.c):
 *                           curve from CKM_EC_KEY_PAIR_GEN's ulMaxKeySize, an
 *                           8-byte CKA_ID from C_GenerateRandom, DECRYPT/UNWRAP
 *                           and ENCRYPT/WRAP asked for; then the returned
 *                           handles used at once (EC_PARAMS/EC_POINT from the
 *                           public key, size query first) and a CKM_ECDSA
 *                           signature into a 512-byte buffer; then, as a later
 *                           run loads it, found again by label. Prints the
 *                           curve's bits.
 *   tlsuv-cert LABEL PIN DER  tlsuv's p11_store_key_cert: CKA_ID and CKA_LABEL
 *                           read from the private key, C_CreateObject of the
 *                           certificate, then found by {CKO_CERTIFICATE, ID}.
 *   tedge-gen LABEL PIN     thin-edge's `tedge cert create-key-hsm`
 *                           (tedge-p11 CryptokiSession::create_key): a random
 *                           20-byte CKA_ID that no object may have yet, no
 *                           CKA_CLASS/KEY_TYPE in the templates; then the
 *                           public key's KEY_TYPE and EC_POINT (DER OCTET
 *                           STRING), the object URI printed, and a signature
 *                           as tedge makes it: the key found by {TOKEN,
 *                           CLASS, LABEL, ID}, EC_PARAMS read from the
 *                           private key, SHA-256 in software, CKM_ECDSA with a
 *                           size query.
 *   refuse NAME             templates tpmid refuses, each with the CKR it
 *                           must give (NAME: an existing identity).
 * Signatures are verified with OpenSSL against the key's EC_POINT. Exit 0
 * when everything is as expected; what failed goes to stderr. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *f;
static int failed;

#define CHECK(what, rv, want) check(what, rv, want, __LINE__)

static int
check(const char *what, CK_RV rv, CK_RV want, int line)
{
	if (rv == want)
		return 1;
	fprintf(stderr, "line %d: %s: rv 0x%lx, expected 0x%lx\n", line, what, rv, want);
	failed = 1;
	return 0;
}

static const CK_BBOOL T = CK_TRUE, F = CK_FALSE;
static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY, c_priv = CKO_PRIVATE_KEY,
    c_cert = CKO_CERTIFICATE;
static const CK_KEY_TYPE k_ec = CKK_EC, k_rsa = CKK_RSA;
static const CK_CERTIFICATE_TYPE x509 = CKC_X_509;

#define A(t, v) { (t), (void *)&(v), sizeof(v) }
#define AB(t, p, n) { (t), (void *)(p), (n) }

static CK_SESSION_HANDLE
open_login(CK_SLOT_ID slot, CK_FLAGS flags, const char *pin)
{
	CK_SESSION_HANDLE s = 0;
	CK_RV rv;

	CHECK("C_OpenSession", f->C_OpenSession(slot, CKF_SERIAL_SESSION | flags, NULL, NULL, &s),
	    CKR_OK);
	if (pin != NULL) {
		rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
		if (rv != CKR_USER_ALREADY_LOGGED_IN)
			CHECK("C_Login", rv, CKR_OK);
	}
	return s;
}

/* An attribute's value, after a size query (malloc'ed; NULL if absent). */
static CK_BYTE *
get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_BYTE *v;

	if (!CHECK("C_GetAttributeValue (size)", f->C_GetAttributeValue(s, o, &a, 1), CKR_OK))
		return NULL;
	if ((v = malloc(a.ulValueLen + 1)) == NULL)
		return NULL;
	a.pValue = v;
	if (!CHECK("C_GetAttributeValue", f->C_GetAttributeValue(s, o, &a, 1), CKR_OK)) {
		free(v);
		return NULL;
	}
	*len = a.ulValueLen;
	return v;
}

/* The public key of EC_PARAMS + EC_POINT (a DER OCTET STRING, as PKCS#11
 * section 2.3.3 says). */
static EVP_PKEY *
ec_key(const CK_BYTE *params, CK_ULONG pl, const CK_BYTE *point, CK_ULONG ptl)
{
	const char *group = pl == sizeof(p256) && memcmp(params, p256, pl) == 0 ? "P-256" :
	    pl == sizeof(p384) && memcmp(params, p384, pl) == 0 ? "P-384" : NULL;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *ps = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	if (group == NULL || ptl < 3 || point[0] != 0x04 || point[1] != ptl - 2 ||
	    point[2] != 0x04) {
		fprintf(stderr, "EC_PARAMS/EC_POINT are not a P-256/P-384 key in an OCTET STRING\n");
		failed = 1;
		goto out;
	}
	if (b == NULL || c == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point + 2, ptl - 2) ||
	    (ps = OSSL_PARAM_BLD_to_param(b)) == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, ps) != 1)
		k = NULL;
out:
	OSSL_PARAM_free(ps);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* Raw r || s over `dg` verified against `k`. */
static int
verify(EVP_PKEY *k, const CK_BYTE *dg, size_t dl, const CK_BYTE *sig, CK_ULONG sl)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	unsigned char *der = NULL;
	int n, ok = 0;

	if (es != NULL && c != NULL &&
	    ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)sl / 2, NULL),
	    BN_bin2bn(sig + sl / 2, (int)sl / 2, NULL)) &&
	    (n = i2d_ECDSA_SIG(es, &der)) > 0 && EVP_PKEY_verify_init(c) == 1)
		ok = EVP_PKEY_verify(c, der, (size_t)n, dg, dl) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(c);
	if (!ok) {
		fprintf(stderr, "signature does not verify\n");
		failed = 1;
	}
	return ok;
}

/* The first object matching `t`, or 0. */
static CK_OBJECT_HANDLE
find1(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_OBJECT_HANDLE o = 0;
	CK_ULONG got = 0;

	CHECK("C_FindObjectsInit", f->C_FindObjectsInit(s, t, n), CKR_OK);
	CHECK("C_FindObjects", f->C_FindObjects(s, &o, 1, &got), CKR_OK);
	CHECK("C_FindObjectsFinal", f->C_FindObjectsFinal(s), CKR_OK);
	return got == 1 ? o : 0;
}

static void
sign_check(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, EVP_PKEY *k, int size_query)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_BYTE dg[SHA256_DIGEST_LENGTH], sig[512];
	CK_ULONG sl = sizeof(sig);
	static const char msg[] = "a TLS handshake, say";

	SHA256((const unsigned char *)msg, sizeof(msg), dg);
	CHECK("C_SignInit", f->C_SignInit(s, &m, priv), CKR_OK);
	if (size_query) {
		CHECK("C_Sign (size)", f->C_Sign(s, dg, sizeof(dg), NULL, &sl), CKR_OK);
		if (sl > sizeof(sig))
			sl = sizeof(sig);
	}
	if (CHECK("C_Sign", f->C_Sign(s, dg, sizeof(dg), sig, &sl), CKR_OK) && k != NULL)
		verify(k, dg, sizeof(dg), sig, sl);
}

/* ---- tlsuv ------------------------------------------------------------ */

static int
tlsuv_gen(const char *label, const char *pin)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, pl = 0, ptl = 0;
	CK_MECHANISM_INFO mi;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub = 0, priv = 0;
	CK_BYTE id[8], *params, *point;
	const CK_BYTE *curve;
	CK_ULONG curve_len;
	EVP_PKEY *k;

	CHECK("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	if (n == 0)
		return 1;
	s = open_login(slots[0], CKF_RW_SESSION, pin);
	CHECK("C_GetMechanismInfo", f->C_GetMechanismInfo(slots[0], CKM_EC_KEY_PAIR_GEN, &mi),
	    CKR_OK);
	if (!(mi.flags & CKF_GENERATE_KEY_PAIR)) {
		fprintf(stderr, "CKM_EC_KEY_PAIR_GEN without CKF_GENERATE_KEY_PAIR\n");
		return 1;
	}
	/* get_ec_params(): the largest curve ulMaxKeySize allows. */
	if (mi.ulMaxKeySize >= 521) {
		curve = p521;
		curve_len = sizeof(p521);
	} else if (mi.ulMaxKeySize >= 384) {
		curve = p384;
		curve_len = sizeof(p384);
	} else {
		curve = p256;
		curve_len = sizeof(p256);
	}
	printf("curve: %lu bits\n", mi.ulMaxKeySize >= 521 ? 521UL : mi.ulMaxKeySize >= 384 ?
	    384UL : 256UL);
	CHECK("C_GenerateRandom", f->C_GenerateRandom(s, id, sizeof(id)), CKR_OK);
	{
		CK_ATTRIBUTE pt[] = { AB(CKA_ID, id, sizeof(id)), A(CKA_CLASS, c_pub),
			A(CKA_KEY_TYPE, k_ec), A(CKA_TOKEN, T), A(CKA_ENCRYPT, T),
			A(CKA_VERIFY, T), A(CKA_WRAP, T), AB(CKA_LABEL, label, strlen(label)),
			AB(CKA_EC_PARAMS, curve, curve_len) };
		CK_ATTRIBUTE kt[] = { AB(CKA_ID, id, sizeof(id)), A(CKA_CLASS, c_priv),
			A(CKA_KEY_TYPE, k_ec), A(CKA_PRIVATE, T), A(CKA_TOKEN, T),
			A(CKA_SENSITIVE, T), A(CKA_DECRYPT, T), A(CKA_SIGN, T), A(CKA_UNWRAP, T),
			AB(CKA_LABEL, label, strlen(label)) };

		if (!CHECK("C_GenerateKeyPair", f->C_GenerateKeyPair(s, &m, pt, 9, kt, 10, &pub,
		    &priv), CKR_OK))
			return 1;
	}
	/* load_pkcs11_ec(): the returned handles, at once. */
	params = get_attr(s, pub, CKA_EC_PARAMS, &pl);
	point = get_attr(s, pub, CKA_EC_POINT, &ptl);
	if (params == NULL || point == NULL)
		return 1;
	k = ec_key(params, pl, point, ptl);
	sign_check(s, priv, k, 0);
	CHECK("C_CloseSession", f->C_CloseSession(s), CKR_OK);

	/* p11_load_key(), as the next run does: by label, a new session. */
	s = open_login(slots[0], CKF_RW_SESSION, pin);
	{
		CK_ATTRIBUTE t1[] = { A(CKA_CLASS, c_priv), AB(CKA_LABEL, label, strlen(label)) };
		CK_ATTRIBUTE t2[] = { A(CKA_CLASS, c_pub), AB(CKA_LABEL, label, strlen(label)) };
		CK_KEY_TYPE kt = 0;
		CK_ATTRIBUTE a = A(CKA_KEY_TYPE, kt);
		CK_OBJECT_HANDLE p2 = find1(s, t1, 2), q2 = find1(s, t2, 2);

		if (p2 == 0 || q2 == 0) {
			fprintf(stderr, "the new key is not found by its label\n");
			return 1;
		}
		CHECK("CKA_KEY_TYPE", f->C_GetAttributeValue(s, p2, &a, 1), CKR_OK);
		if (kt != CKK_EC)
			failed = 1;
		sign_check(s, p2, k, 0);
	}
	EVP_PKEY_free(k);
	free(params);
	free(point);
	return failed;
}

static int
tlsuv_cert(const char *label, const char *pin, const char *der_path)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE priv, cert = 0, found;
	CK_BYTE der[16384], *id, *lab, *val;
	CK_ULONG idl = 0, labl = 0, vl = 0;
	size_t dl;
	FILE *fp = fopen(der_path, "rb");

	if (fp == NULL)
		return 1;
	dl = fread(der, 1, sizeof(der), fp);
	fclose(fp);
	s = open_login(0, CKF_RW_SESSION, pin);
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_priv), AB(CKA_LABEL, label, strlen(label)) };

		if ((priv = find1(s, t, 2)) == 0)
			return 1;
	}
	id = get_attr(s, priv, CKA_ID, &idl);
	lab = get_attr(s, priv, CKA_LABEL, &labl);
	if (id == NULL || lab == NULL)
		return 1;
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), A(CKA_PRIVATE, F), A(CKA_TOKEN, T),
			A(CKA_CERTIFICATE_TYPE, x509), AB(CKA_ID, id, idl), AB(CKA_LABEL, lab, labl),
			AB(CKA_SUBJECT, "", 0), AB(CKA_VALUE, der, dl) };

		CHECK("C_CreateObject", f->C_CreateObject(s, t, 8, &cert), CKR_OK);
	}
	{
		CK_ATTRIBUTE t[] = { A(CKA_CLASS, c_cert), AB(CKA_ID, id, idl) };

		found = find1(s, t, 2);
	}
	if (found == 0 || found != cert) {
		fprintf(stderr, "the certificate is not found by {CKO_CERTIFICATE, CKA_ID}\n");
		return 1;
	}
	val = get_attr(s, found, CKA_VALUE, &vl);
	if (val == NULL || vl != dl || memcmp(val, der, dl) != 0) {
		fprintf(stderr, "CKA_VALUE is not the certificate stored\n");
		failed = 1;
	}
	free(val);
	free(id);
	free(lab);
	return failed;
}

/* ---- tedge -------------------------------------------------------------- */

static int
tedge_gen(const char *label, const char *pin)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub = 0, priv = 0, o[16];
	CK_ULONG n = 0, i, l, ptl = 0, pl = 0;
	CK_BYTE id[20], *v, *point, *params;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE ka = A(CKA_KEY_TYPE, kt);
	EVP_PKEY *k;
	CK_RV rv;

	s = open_login(0, CKF_RW_SESSION, pin);
	/* Traces every object's CKA_ID and CKA_LABEL first. */
	CHECK("C_FindObjectsInit", f->C_FindObjectsInit(s, NULL, 0), CKR_OK);
	CHECK("C_FindObjects", f->C_FindObjects(s, o, 16, &n), CKR_OK);
	CHECK("C_FindObjectsFinal", f->C_FindObjectsFinal(s), CKR_OK);
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE a[2] = { { CKA_ID, NULL, 0 }, { CKA_LABEL, NULL, 0 } };

		rv = f->C_GetAttributeValue(s, o[i], a, 2);
		if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
			CHECK("C_GetAttributeValue (trace)", rv, CKR_OK);
	}
	CHECK("C_GenerateRandom", f->C_GenerateRandom(s, id, sizeof(id)), CKR_OK);
	{
		CK_ATTRIBUTE t = AB(CKA_ID, id, sizeof(id));

		if (find1(s, &t, 1) != 0) {
			fprintf(stderr, "an object already has the new CKA_ID\n");
			return 1;
		}
	}
	{
		CK_ATTRIBUTE pt[] = { AB(CKA_EC_PARAMS, p256, sizeof(p256)), A(CKA_TOKEN, T),
			A(CKA_PRIVATE, F), A(CKA_VERIFY, T), A(CKA_ENCRYPT, T),
			AB(CKA_LABEL, label, strlen(label)), AB(CKA_ID, id, sizeof(id)) };
		CK_ATTRIBUTE kt2[] = { A(CKA_TOKEN, T), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
			A(CKA_EXTRACTABLE, F), A(CKA_SIGN, T), A(CKA_DECRYPT, T),
			AB(CKA_LABEL, label, strlen(label)), AB(CKA_ID, id, sizeof(id)) };

		if (!CHECK("C_GenerateKeyPair", f->C_GenerateKeyPair(s, &m, pt, 7, kt2, 8, &pub,
		    &priv), CKR_OK))
			return 1;
	}
	/* export_public_key_pem() and export_object_uri(): the public key. */
	CHECK("CKA_KEY_TYPE", f->C_GetAttributeValue(s, pub, &ka, 1), CKR_OK);
	point = get_attr(s, pub, CKA_EC_POINT, &ptl);
	v = get_attr(s, pub, CKA_ID, &l);
	if (kt != CKK_EC || point == NULL || v == NULL || l != sizeof(id) ||
	    memcmp(v, id, l) != 0) {
		fprintf(stderr, "the public key's type, point or id is not what was asked\n");
		return 1;
	}
	printf("uri: pkcs11:token=tpmid;id=");
	for (i = 0; i < l; i++)
		printf("%%%02x", v[i]);
	printf(";object=%s\n", label);
	free(v);
	CHECK("C_CloseSession", f->C_CloseSession(s), CKR_OK);

	/* Signing, from that URI: found by {TOKEN, CLASS, LABEL, ID}. */
	s = open_login(0, 0, pin);
	{
		CK_ATTRIBUTE t[] = { A(CKA_TOKEN, T), A(CKA_CLASS, c_priv),
			AB(CKA_LABEL, label, strlen(label)), AB(CKA_ID, id, sizeof(id)) };

		if ((priv = find1(s, t, 4)) == 0) {
			fprintf(stderr, "the new key is not found by label and id\n");
			return 1;
		}
	}
	CHECK("CKA_KEY_TYPE", f->C_GetAttributeValue(s, priv, &ka, 1), CKR_OK);
	params = get_attr(s, priv, CKA_EC_PARAMS, &pl);
	if (params == NULL)
		return 1;
	k = ec_key(params, pl, point, ptl);
	sign_check(s, priv, k, 1);
	EVP_PKEY_free(k);
	free(params);
	free(point);
	return failed;
}

/* ---- refusals ------------------------------------------------------------ */

static int
refuse(const char *existing)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, rsa = { CKM_RSA_PKCS_KEY_PAIR_GEN,
		NULL, 0 };
	CK_SESSION_HANDLE rw = open_login(0, CKF_RW_SESSION, NULL), ro = open_login(0, 0, NULL);
	CK_OBJECT_HANDLE a, b;
	CK_BYTE long_id[65] = { 0 };
	CK_MECHANISM_TYPE allowed[] = { CKM_ECDSA };
	CK_SLOT_ID slots[64];
	CK_ULONG ns = 64;
	static const struct {
		const char *what;
		CK_ATTRIBUTE pub[3], priv[2];
		CK_RV want;
	} cases[] = {
#define P256 AB(CKA_EC_PARAMS, p256, sizeof(p256))
#define L(x) AB(CKA_LABEL, x, sizeof(x) - 1)
		{ "RSA key type", { P256, A(CKA_KEY_TYPE, k_rsa), L("r1") }, { L("r1") },
			CKR_TEMPLATE_INCONSISTENT },
		{ "P-521", { AB(CKA_EC_PARAMS, p521, sizeof(p521)), L("r2") }, { L("r2") },
			CKR_CURVE_NOT_SUPPORTED },
		{ "no curve", { L("r3") }, { L("r3") }, CKR_TEMPLATE_INCOMPLETE },
		{ "extractable", { P256, L("r4") }, { A(CKA_EXTRACTABLE, T), L("r4") },
			CKR_ATTRIBUTE_VALUE_INVALID },
		{ "not sensitive", { P256, L("r5") }, { A(CKA_SENSITIVE, F), L("r5") },
			CKR_ATTRIBUTE_VALUE_INVALID },
		{ "session object", { P256, A(CKA_TOKEN, F), L("r6") }, { L("r6") },
			CKR_ATTRIBUTE_VALUE_INVALID },
		{ "no signing", { P256, L("r7") }, { A(CKA_SIGN, F), L("r7") },
			CKR_ATTRIBUTE_VALUE_INVALID },
		{ "always authenticate", { P256, L("r8") }, { A(CKA_ALWAYS_AUTHENTICATE, T), L("r8") },
			CKR_ATTRIBUTE_VALUE_INVALID },
		{ "labels differ", { P256, L("r9") }, { L("r10") }, CKR_TEMPLATE_INCONSISTENT },
		{ "CKA_LOCAL set", { P256, L("r11") }, { A(CKA_LOCAL, T), L("r11") },
			CKR_ATTRIBUTE_READ_ONLY },
		{ "unknown attribute", { P256, AB(CKA_MODULUS, "x", 1), L("r12") }, { L("r12") },
			CKR_ATTRIBUTE_TYPE_INVALID },
		{ "bad name", { P256, L("no good") }, { L("no good") }, CKR_ATTRIBUTE_VALUE_INVALID },
		{ "wrong class", { P256, A(CKA_CLASS, c_priv), L("r13") }, { L("r13") },
			CKR_TEMPLATE_INCONSISTENT },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CK_ULONG np = 0, nk = 0;

		while (np < 3 && cases[i].pub[np].type | cases[i].pub[np].ulValueLen)
			np++;
		while (nk < 2 && cases[i].priv[nk].type | cases[i].priv[nk].ulValueLen)
			nk++;
		if (f->C_GenerateKeyPair(rw, &m, (CK_ATTRIBUTE_PTR)cases[i].pub, np,
		    (CK_ATTRIBUTE_PTR)cases[i].priv, nk, &a, &b) != cases[i].want) {
			fprintf(stderr, "%s: not refused with 0x%lx\n", cases[i].what, cases[i].want);
			failed = 1;
		}
	}
	{
		CK_ATTRIBUTE p[] = { P256, AB(CKA_LABEL, existing, strlen(existing)) };
		CK_ATTRIBUTE q[] = { P256, L("r14"), AB(CKA_ID, long_id, sizeof(long_id)) };
		CK_ATTRIBUTE r[] = { P256, L("r15"), AB(CKA_ALLOWED_MECHANISMS, allowed, 3) };

		CHECK("existing name", f->C_GenerateKeyPair(rw, &m, p, 2, NULL, 0, &a, &b),
		    CKR_ATTRIBUTE_VALUE_INVALID);
		CHECK("65-byte CKA_ID", f->C_GenerateKeyPair(rw, &m, q, 3, NULL, 0, &a, &b),
		    CKR_ATTRIBUTE_VALUE_INVALID);
		CHECK("odd CKA_ALLOWED_MECHANISMS", f->C_GenerateKeyPair(rw, &m, r, 3, NULL, 0, &a,
		    &b), CKR_ATTRIBUTE_VALUE_INVALID);
		r[2].ulValueLen = sizeof(allowed);
		CHECK("read-only session", f->C_GenerateKeyPair(ro, &m, r, 3, NULL, 0, &a, &b),
		    CKR_SESSION_READ_ONLY);
		CHECK("RSA mechanism", f->C_GenerateKeyPair(rw, &rsa, r, 3, NULL, 0, &a, &b),
		    CKR_MECHANISM_INVALID);
		CHECK("mechanism parameter", f->C_GenerateKeyPair(rw, &(CK_MECHANISM){
		    CKM_EC_KEY_PAIR_GEN, (void *)p256, 1 }, r, 3, NULL, 0, &a, &b),
		    CKR_MECHANISM_PARAM_INVALID);
		CHECK("NULL handles", f->C_GenerateKeyPair(rw, &m, r, 3, NULL, 0, NULL, &b),
		    CKR_ARGUMENTS_BAD);
		/* An identity's own token takes no new keys. */
		CHECK("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
		if (ns > 1) {
			CK_SESSION_HANDLE s1 = open_login(slots[1], CKF_RW_SESSION, NULL);

			CHECK("identity token", f->C_GenerateKeyPair(s1, &m, r, 3, NULL, 0, &a, &b),
			    CKR_TOKEN_WRITE_PROTECTED);
		}
	}
	{
		CK_ATTRIBUTE key[] = { A(CKA_CLASS, c_priv), A(CKA_KEY_TYPE, k_ec), L("r16") };
		CK_ATTRIBUTE junk[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509),
			AB(CKA_VALUE, "\x30\x03\x02\x01\x01", 5) };
		CK_ATTRIBUTE none[] = { A(CKA_CLASS, c_cert), A(CKA_CERTIFICATE_TYPE, x509) };

		CHECK("C_CreateObject (a key)", f->C_CreateObject(rw, key, 3, &a),
		    CKR_ATTRIBUTE_VALUE_INVALID);
		CHECK("C_CreateObject (not a certificate)", f->C_CreateObject(rw, junk, 3, &a),
		    CKR_ATTRIBUTE_VALUE_INVALID);
		CHECK("C_CreateObject (no value)", f->C_CreateObject(rw, none, 2, &a),
		    CKR_TEMPLATE_INCOMPLETE);
		CHECK("C_CreateObject (read-only)", f->C_CreateObject(ro, junk, 3, &a),
		    CKR_SESSION_READ_ONLY);
	}
#undef P256
#undef L
	return failed;
}

int
main(int argc, char **argv)
{
	CK_C_GetFunctionList gfl;
	void *h;
	int r = 2;

	if (argc < 4) {
		fprintf(stderr, "usage: p11clients MODULE tlsuv-gen|tlsuv-cert|tedge-gen|refuse "
		    "ARGS...\n");
		return 2;
	}
	if ((h = dlopen(argv[1], RTLD_NOW)) == NULL ||
	    (gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList")) == NULL ||
	    gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	if (strcmp(argv[2], "tlsuv-gen") == 0 && argc == 5)
		r = tlsuv_gen(argv[3], argv[4]);
	else if (strcmp(argv[2], "tlsuv-cert") == 0 && argc == 6)
		r = tlsuv_cert(argv[3], argv[4], argv[5]);
	else if (strcmp(argv[2], "tedge-gen") == 0 && argc == 5)
		r = tedge_gen(argv[3], argv[4]);
	else if (strcmp(argv[2], "refuse") == 0 && argc == 4)
		r = refuse(argv[3]);
	else
		fprintf(stderr, "p11clients: bad mode or arguments\n");
	f->C_Finalize(NULL);
	return r;
}
