/* p11.h: what a client adds to the token. C_GenerateKeyPair asks the
 * agent for a new identity (keygen-pkcs11@tpmid: the key is made in the
 * TPM, the agent's owner only); C_CreateObject takes the certificate a
 * client got for one of the keys (set-cert@tpmid). Both only on slot 0's
 * token, the one with every identity: a key made on an identity's token
 * would not be on it.
 *
 * Templates (PKCS#11 sections 4.1.3 and 5.10): what a client asks for and
 * tpmid cannot give is refused, what it merely would like is tolerated:
 *  - refused: CKA_TOKEN false (a session object that would outlive the
 *    session as an identity), CKA_EXTRACTABLE true, CKA_SENSITIVE false,
 *    CKA_ALWAYS_AUTHENTICATE true, CKA_SIGN/CKA_VERIFY false (the key does
 *    nothing else), a curve other than P-256/P-384 (CKR_CURVE_NOT_SUPPORTED);
 *    CKR_ATTRIBUTE_VALUE_INVALID, CKR_ATTRIBUTE_READ_ONLY for attributes
 *    only the token sets, CKR_ATTRIBUTE_TYPE_INVALID for unknown ones;
 *  - tolerated and not granted: CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE,
 *    CKA_ENCRYPT, CKA_WRAP, CKA_*_RECOVER (tlsuv asks for DECRYPT/UNWRAP
 *    and ENCRYPT/WRAP, pkcs11-tool for DERIVE): the TPM key is sign-only
 *    and the objects say so;
 *  - ignored: CKA_PRIVATE (a key's private object is private when it has
 *    a PIN), CKA_MODIFIABLE/COPYABLE/DESTROYABLE, CKA_SUBJECT, dates,
 *    CKA_ALLOWED_MECHANISMS (the key allows the ECDSA mechanisms).
 * CKA_LABEL is the identity's name (a random "pkcs11-…" one without it);
 * CKA_ID is kept as given (tpmid.pkcs11_id), since clients find the key by
 * it afterwards (tedge builds its key URI with it).
 *
 * The new key's PIN is slot 0's login PIN when the session is logged in
 * with a non-empty one, else it has none. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "agent/pkcs11/p11.h"
#include "common/err.h"

/* What a template asks for. */
struct want {
	const struct curve_info *curve;
	char label[TPMID_NAME_MAX + 1];
	uint8_t id[TPMID_P11_ID_MAX];
	size_t id_len;
	int has_label, has_id, has_class;
	const uint8_t *value;          /* certificates: CKA_VALUE */
	size_t value_len;
	int x509;                      /* CKA_CERTIFICATE_TYPE given: X.509 */
};

static CK_RV
get_bool(const CK_ATTRIBUTE *a, CK_BBOOL *v)
{
	if (a->ulValueLen != sizeof(CK_BBOOL))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*v = *(const CK_BBOOL *)a->pValue;
	return CKR_OK;
}

static CK_RV
get_ulong(const CK_ATTRIBUTE *a, CK_ULONG *v)
{
	if (a->ulValueLen != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(v, a->pValue, sizeof(*v));
	return CKR_OK;
}

/* CKA_LABEL and CKA_ID may come in both templates; they must agree. */
static CK_RV
take_label(struct want *w, const CK_ATTRIBUTE *a)
{
	if (a->ulValueLen == 0 || a->ulValueLen > TPMID_NAME_MAX ||
	    memchr(a->pValue, '\0', a->ulValueLen) != NULL)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (w->has_label && (strlen(w->label) != a->ulValueLen ||
	    memcmp(w->label, a->pValue, a->ulValueLen) != 0))
		return CKR_TEMPLATE_INCONSISTENT;
	memcpy(w->label, a->pValue, a->ulValueLen);
	w->label[a->ulValueLen] = '\0';
	w->has_label = 1;
	return CKR_OK;
}

static CK_RV
take_id(struct want *w, const CK_ATTRIBUTE *a)
{
	if (a->ulValueLen == 0 || a->ulValueLen > TPMID_P11_ID_MAX)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (w->has_id && (w->id_len != a->ulValueLen || memcmp(w->id, a->pValue, w->id_len) != 0))
		return CKR_TEMPLATE_INCONSISTENT;
	memcpy(w->id, a->pValue, a->ulValueLen);
	w->id_len = a->ulValueLen;
	w->has_id = 1;
	return CKR_OK;
}

static CK_RV
take_curve(struct want *w, const CK_ATTRIBUTE *a)
{
	const struct curve_info *c;
	int i;

	for (i = CURVE_NONE + 1; (c = curve_get((enum tpmid_curve)i)) != NULL; i++)
		if (a->ulValueLen == c->oid_der_len &&
		    memcmp(a->pValue, c->oid_der, c->oid_der_len) == 0)
			break;
	if (c == NULL)
		return CKR_CURVE_NOT_SUPPORTED;
	if (w->curve != NULL && w->curve != c)
		return CKR_TEMPLATE_INCONSISTENT;
	w->curve = c;
	return CKR_OK;
}

/* A boolean attribute that must have one value, or may have any. */
static CK_RV
take_bool(const CK_ATTRIBUTE *a, int must)
{
	CK_BBOOL v;
	CK_RV rv;

	if ((rv = get_bool(a, &v)) != CKR_OK)
		return rv;
	if (must >= 0 && (v != CK_FALSE) != must)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return CKR_OK;
}

/* One template describing an object of class `cls`. */
static CK_RV
read_template(const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_CLASS cls, struct want *w)
{
	CK_ULONG i, v;
	CK_RV rv;

	for (i = 0; i < n; i++) {
		const CK_ATTRIBUTE *a = &t[i];

		if (a->pValue == NULL && a->ulValueLen > 0)
			return CKR_ARGUMENTS_BAD;
		switch (a->type) {
		case CKA_CLASS:
			rv = get_ulong(a, &v);
			/* Only certificates are created: another class is not
			 * inconsistent there, it is refused. */
			if (rv == CKR_OK && v != cls)
				rv = cls == CKO_CERTIFICATE ? CKR_ATTRIBUTE_VALUE_INVALID :
				    CKR_TEMPLATE_INCONSISTENT;
			w->has_class = 1;
			break;
		case CKA_LABEL:
			rv = take_label(w, a);
			break;
		case CKA_ID:
			rv = take_id(w, a);
			break;
		case CKA_TOKEN:
			rv = take_bool(a, 1);
			break;
		case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE: case CKA_DESTROYABLE:
			rv = take_bool(a, -1);
			break;
		case CKA_SUBJECT: case CKA_START_DATE: case CKA_END_DATE:
			rv = CKR_OK;
			break;
		default:
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		}
		if (rv == CKR_ATTRIBUTE_TYPE_INVALID && cls == CKO_CERTIFICATE) {
			switch (a->type) {
			case CKA_CERTIFICATE_TYPE:
				rv = get_ulong(a, &v);
				if (rv == CKR_OK && v != CKC_X_509)
					rv = CKR_ATTRIBUTE_VALUE_INVALID;
				w->x509 = 1;
				break;
			case CKA_VALUE:
				if (a->ulValueLen == 0 || a->ulValueLen > P11_CERT_MAX) {
					rv = CKR_ATTRIBUTE_VALUE_INVALID;
					break;
				}
				w->value = a->pValue;
				w->value_len = a->ulValueLen;
				rv = CKR_OK;
				break;
			case CKA_TRUSTED:
				rv = take_bool(a, 0);
				break;
			case CKA_ISSUER: case CKA_SERIAL_NUMBER: case CKA_CERTIFICATE_CATEGORY:
			case CKA_URL: case CKA_HASH_OF_SUBJECT_PUBLIC_KEY:
			case CKA_HASH_OF_ISSUER_PUBLIC_KEY:
				rv = CKR_OK; /* the agent keeps the certificate itself */
				break;
			}
		} else if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
			switch (a->type) {
			case CKA_KEY_TYPE:
				rv = get_ulong(a, &v);
				if (rv == CKR_OK && v != CKK_EC)
					rv = CKR_TEMPLATE_INCONSISTENT;
				break;
			case CKA_EC_PARAMS:
				rv = take_curve(w, a);
				break;
			case CKA_SIGN: case CKA_VERIFY: case CKA_SENSITIVE:
				rv = take_bool(a, 1);
				break;
			case CKA_EXTRACTABLE: case CKA_ALWAYS_AUTHENTICATE:
				rv = take_bool(a, 0);
				break;
			case CKA_DECRYPT: case CKA_UNWRAP: case CKA_DERIVE: case CKA_ENCRYPT:
			case CKA_WRAP: case CKA_SIGN_RECOVER: case CKA_VERIFY_RECOVER:
			case CKA_WRAP_WITH_TRUSTED: case CKA_TRUSTED:
				rv = take_bool(a, -1);
				break;
			case CKA_ALLOWED_MECHANISMS:
				rv = a->ulValueLen % sizeof(CK_MECHANISM_TYPE) == 0 ? CKR_OK :
				    CKR_ATTRIBUTE_VALUE_INVALID;
				break;
			case CKA_LOCAL: case CKA_KEY_GEN_MECHANISM: case CKA_ALWAYS_SENSITIVE:
			case CKA_NEVER_EXTRACTABLE: case CKA_EC_POINT: case CKA_VALUE:
				rv = CKR_ATTRIBUTE_READ_ONLY;
				break;
			}
		}
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

/* Where a client may add objects: a read/write session on slot 0. */
static CK_RV
writable(CK_SESSION_HANDLE h, struct p11_session **ret)
{
	if ((*ret = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!((*ret)->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if ((*ret)->slot != P11_SLOT_ID)
		return CKR_TOKEN_WRITE_PROTECTED;
	return CKR_OK;
}

/* The agent's answer to a request that writes: the owner's only. */
static CK_RV
write_rv(int r)
{
	switch (r) {
	case TPMID_E_PERM: return CKR_TOKEN_WRITE_PROTECTED;
	case TPMID_E_EXISTS: case TPMID_E_INVAL: case TPMID_E_MISMATCH: case TPMID_E_FORMAT:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	case TPMID_E_CURVE: return CKR_CURVE_NOT_SUPPORTED;
	default: return p11_rv(r);
	}
}

CK_RV
p11_generate_key_pair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
    CK_ULONG n_pub, CK_ATTRIBUTE_PTR priv, CK_ULONG n_priv, CK_OBJECT_HANDLE_PTR ret_pub,
    CK_OBJECT_HANDLE_PTR ret_priv)
{
	struct wire_request q = { .type = WIRE_REQ_KEYGEN_PKCS11 };
	struct wire_reply rep;
	struct p11_session *s;
	struct want w;
	uint8_t rnd[8];
	ssize_t k;
	CK_RV rv;
	int r;

	if (m == NULL || ret_pub == NULL || ret_priv == NULL || (pub == NULL && n_pub > 0) ||
	    (priv == NULL && n_priv > 0))
		return CKR_ARGUMENTS_BAD;
	if ((rv = writable(h, &s)) != CKR_OK)
		return rv;
	if (m->mechanism != CKM_EC_KEY_PAIR_GEN)
		return CKR_MECHANISM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	memset(&w, 0, sizeof(w));
	if ((rv = read_template(pub, n_pub, CKO_PUBLIC_KEY, &w)) != CKR_OK ||
	    (rv = read_template(priv, n_priv, CKO_PRIVATE_KEY, &w)) != CKR_OK)
		return rv;
	if (w.curve == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	if (!w.has_label) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return CKR_FUNCTION_FAILED;
		snprintf(w.label, sizeof(w.label), "pkcs11-%02x%02x%02x%02x%02x%02x%02x%02x",
		    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	}
	q.name = w.label;
	q.alg = w.curve->id;
	q.data = w.id;
	q.data_len = w.id_len;
	if (p11.logged_in && p11.login != NULL && p11.login->len > 0)
		q.pin = p11.login;
	r = p11_call(&q, &rep);
	wire_reply_clear(&rep);
	if (r != 0)
		return write_rv(r);
	if ((rv = p11_refresh()) != CKR_OK)
		return rv;
	if ((k = p11_id_by_name(w.label)) < 0)
		return CKR_DEVICE_REMOVED; /* deleted meanwhile */
	*ret_pub = (CK_OBJECT_HANDLE)((size_t)(k + 1) << 2 | P11_PUB);
	*ret_priv = (CK_OBJECT_HANDLE)((size_t)(k + 1) << 2 | P11_PRIV);
	return CKR_OK;
}

/* The present identity whose key the certificate `c` certifies. */
static ssize_t
cert_owner(const struct p11_cert *c)
{
	uint8_t point[P11_EC_POINT_MAX];
	size_t i, len;

	for (i = 0; i < p11.n_ids; i++)
		if (p11.ids[i].present &&
		    p11_spki_point(c->spki, c->spki_len, p11.ids[i].curve, point, &len) == 0 &&
		    len == p11.ids[i].point_len && memcmp(point, p11.ids[i].point, len) == 0)
			return (ssize_t)i;
	return -1;
}

CK_RV
p11_create_object(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
	struct wire_request q = { .type = WIRE_REQ_SET_CERT };
	struct wire_request qi = { .type = WIRE_REQ_INFO };
	struct wire_reply rep, info;
	struct p11_session *s;
	struct p11_cert c;
	struct p11_id *id;
	struct want w;
	char name[TPMID_NAME_MAX + 1];
	ssize_t k;
	CK_RV rv;
	int r;

	if ((t == NULL && n > 0) || ret == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((rv = writable(h, &s)) != CKR_OK)
		return rv;
	/* Certificates only: keys are made in the TPM, never brought in
	 * through here (tpmid import does that, for the owner). */
	memset(&w, 0, sizeof(w));
	if ((rv = read_template(t, n, CKO_CERTIFICATE, &w)) != CKR_OK)
		return rv;
	if (!w.has_class || w.value == NULL || !w.x509)
		return CKR_TEMPLATE_INCOMPLETE;
	if (p11_cert_fields(w.value, w.value_len, &c) < 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((rv = p11_refresh()) != CKR_OK)
		return rv;
	if ((k = cert_owner(&c)) < 0)
		return CKR_ATTRIBUTE_VALUE_INVALID; /* no key of ours */
	id = &p11.ids[k];
	/* A label or id that names another object than the key's is a
	 * mistake worth reporting, not a guess. */
	if ((w.has_label && strcmp(w.label, id->name) != 0) ||
	    (w.has_id && (w.id_len != id->id_len || memcmp(w.id, id->id, w.id_len) != 0)))
		return CKR_TEMPLATE_INCONSISTENT;
	snprintf(name, sizeof(name), "%s", id->name);
	/* set-cert replaces the CA bundle too: keep the one there is. */
	qi.name = name;
	if ((r = p11_call(&qi, &info)) != 0) {
		wire_reply_clear(&info);
		return p11_rv(r);
	}
	q.name = name;
	q.cert_pem = p11_der_cert_pem(w.value, w.value_len);
	q.ca_pem = info.info.ca_pem;
	r = q.cert_pem == NULL ? TPMID_E_NOMEM : p11_call(&q, &rep);
	free(q.cert_pem);
	wire_reply_clear(&info);
	wire_reply_clear(&rep);
	if (r != 0)
		return write_rv(r);
	if ((rv = p11_refresh()) != CKR_OK)
		return rv;
	if ((k = p11_id_by_name(name)) < 0)
		return CKR_DEVICE_REMOVED; /* deleted meanwhile */
	*ret = (CK_OBJECT_HANDLE)((size_t)(k + 1) << 2 | P11_CERT);
	return CKR_OK;
}

CK_RV
p11_generate_random(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
	ssize_t got;

	if (out == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	if (p11_session(h) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	/* getrandom(2), the kernel's CSPRNG: the TPM's generator would cost
	 * a round trip to the agent and a TPM command per call. */
	while (len > 0) {
		if ((got = getrandom(out, len > 256 ? 256 : len, 0)) <= 0)
			return CKR_FUNCTION_FAILED;
		out += got;
		len -= (CK_ULONG)got;
	}
	return CKR_OK;
}
