/* p11.h: the identity table, object attributes, C_FindObjects*. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pkcs11/p11.h"
#include "common/err.h"

/* ---- the identity table ------------------------------------------------ */

static void
id_clear(struct p11_id *id)
{
	secret_free(id->login);
	id->login = NULL;
	id->logged_in = id->login_refused = 0;
	free(id->cert);
	id->cert = NULL;
	id->cert_len = 0;
	memset(&id->cf, 0, sizeof(id->cf));
}

void
p11_ids_free(void)
{
	size_t i;

	for (i = 0; i < p11.n_ids; i++)
		id_clear(&p11.ids[i]);
	free(p11.ids);
	p11.ids = NULL;
	p11.n_ids = 0;
}

/* Fill `id` from the agent's entry; -1 when it is not a usable key. */
static int
id_fill(struct p11_id *id, const struct id_info *in)
{
	struct sha2 c;
	uint8_t h[SHA256_DIGEST_LEN];

	if (in->error != NULL || (id->curve = curve_get(in->alg)) == NULL ||
	    p11_spki_point(in->spki, in->spki_len, id->curve, id->point, &id->point_len) < 0)
		return -1;
	snprintf(id->name, sizeof(id->name), "%s", in->name);
	id->pin = in->pin;
	sha2_init(&c, SHA256_DIGEST_LEN);
	sha2_update(&c, id->point + 2, id->point_len - 2);
	sha2_final(&c, h);
	memcpy(id->kid, h, P11_ID_LEN);
	if (in->pkcs11_id_len > 0 && in->pkcs11_id_len <= sizeof(id->id)) {
		memcpy(id->id, in->pkcs11_id, in->pkcs11_id_len);
		id->id_len = in->pkcs11_id_len;
	} else {
		memcpy(id->id, id->kid, P11_ID_LEN);
		id->id_len = P11_ID_LEN;
	}
	if (in->cert_pem != NULL &&
	    p11_pem_cert_der(in->cert_pem, &id->cert, &id->cert_len) == 0 &&
	    p11_cert_fields(id->cert, id->cert_len, &id->cf) < 0) {
		free(id->cert); /* not parseable here: no certificate object */
		id->cert = NULL;
		id->cert_len = 0;
	}
	return 0;
}

/* FNV-1a (32 bits) of the name, into 1..2^31-2: stable slot ids. */
static CK_SLOT_ID
slot_of(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return 1 + (CK_SLOT_ID)(h % 0x7ffffffeu);
}

/* Each present identity its slot; of two that collide, the one whose name
 * sorts later has none (it is still on slot 0). */
static void
assign_slots(void)
{
	size_t i, k;

	for (i = 0; i < p11.n_ids; i++)
		p11.ids[i].slot = p11.ids[i].present ? slot_of(p11.ids[i].name) : 0;
	for (i = 0; i < p11.n_ids; i++)
		for (k = 0; k < p11.n_ids; k++)
			if (k != i && p11.ids[i].slot != 0 && p11.ids[k].slot == p11.ids[i].slot &&
			    strcmp(p11.ids[k].name, p11.ids[i].name) < 0)
				p11.ids[i].slot = 0;
}

CK_RV
p11_refresh(void)
{
	struct wire_request q = { .type = WIRE_REQ_LIST };
	struct wire_reply rep;
	struct p11_id tmp, *grown;
	size_t i, k;
	int r;

	if ((r = p11_call(&q, &rep)) < 0) {
		wire_reply_clear(&rep);
		if (r == TPMID_E_NOAGENT)
			for (k = 0; k < p11.n_ids; k++)
				p11.ids[k].present = 0;
		return p11_rv(r);
	}
	for (k = 0; k < p11.n_ids; k++)
		p11.ids[k].present = 0;
	for (i = 0; i < rep.n_list; i++) {
		memset(&tmp, 0, sizeof(tmp));
		if (id_fill(&tmp, &rep.list[i]) < 0) {
			id_clear(&tmp);
			continue;
		}
		/* The same name and key keeps its handle; a new key under an
		 * old name is a new object. */
		for (k = 0; k < p11.n_ids; k++)
			if (strcmp(p11.ids[k].name, tmp.name) == 0 &&
			    p11.ids[k].point_len == tmp.point_len &&
			    memcmp(p11.ids[k].point, tmp.point, tmp.point_len) == 0)
				break;
		if (k < p11.n_ids) {
			/* Its logins stay; the rest is the agent's latest. */
			tmp.pin_refused = p11.ids[k].pin_refused;
			tmp.login_refused = p11.ids[k].login_refused;
			tmp.login = p11.ids[k].login;
			tmp.logged_in = p11.ids[k].logged_in;
			p11.ids[k].login = NULL;
			id_clear(&p11.ids[k]);
			p11.ids[k] = tmp;
			p11.ids[k].present = 1;
			continue;
		}
		if (p11.n_ids == P11_MAX_IDS ||
		    (grown = reallocarray(p11.ids, p11.n_ids + 1, sizeof(*grown))) == NULL) {
			id_clear(&tmp);
			continue;
		}
		p11.ids = grown;
		tmp.present = 1;
		p11.ids[p11.n_ids++] = tmp;
	}
	wire_reply_clear(&rep);
	assign_slots();
	return CKR_OK;
}

ssize_t
p11_id_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < p11.n_ids; i++)
		if (p11.ids[i].present && strcmp(p11.ids[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

int
p11_slot_valid(CK_SLOT_ID slot)
{
	return slot == P11_SLOT_ID || p11_slot_id(slot) != NULL;
}

struct p11_id *
p11_slot_id(CK_SLOT_ID slot)
{
	size_t i;

	if (slot == P11_SLOT_ID)
		return NULL;
	for (i = 0; i < p11.n_ids; i++)
		if (p11.ids[i].present && p11.ids[i].slot == slot)
			return &p11.ids[i];
	return NULL;
}

int
p11_any_pin(CK_SLOT_ID slot)
{
	struct p11_id *id;
	size_t i;

	if (slot != P11_SLOT_ID)
		return (id = p11_slot_id(slot)) != NULL && id->pin;
	for (i = 0; i < p11.n_ids; i++)
		if (p11.ids[i].present && p11.ids[i].pin)
			return 1;
	return 0;
}

int
p11_in_slot(const struct p11_session *s, const struct p11_id *id)
{
	return id->present && (s->slot == P11_SLOT_ID || s->slot == id->slot);
}

int
p11_logged_in(const struct p11_session *s)
{
	struct p11_id *id;

	if (s->slot == P11_SLOT_ID)
		return p11.logged_in;
	return (id = p11_slot_id(s->slot)) != NULL && id->logged_in;
}

/* Private key objects of PIN keys are private objects: visible after
 * C_Login only (PKCS#11 section 4.4). */
static int
visible(const struct p11_session *s, const struct p11_id *id, enum p11_kind kind)
{
	if (!p11_in_slot(s, id))
		return 0;
	if (kind == P11_CERT && id->cert == NULL)
		return 0;
	return kind != P11_PRIV || !id->pin || p11_logged_in(s);
}

CK_RV
p11_object(const struct p11_session *s, CK_OBJECT_HANDLE h, struct p11_id **ret_id,
    enum p11_kind *ret_kind)
{
	size_t i = (size_t)(h >> 2);
	enum p11_kind kind = (enum p11_kind)(h & 3);

	if (i == 0 || i > p11.n_ids || kind == 0 || !visible(s, &p11.ids[i - 1], kind))
		return CKR_OBJECT_HANDLE_INVALID;
	*ret_id = &p11.ids[i - 1];
	*ret_kind = kind;
	return CKR_OK;
}

/* ---- attributes (PKCS#11 sections 4.4 to 4.9; the mechanisms' 2.3) ---- */

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* The value of attribute `type` of an object: CKR_OK with p and len set, or
 * CKR_ATTRIBUTE_TYPE_INVALID / CKR_ATTRIBUTE_SENSITIVE. `buf` holds
 * values made on the spot. */
static CK_RV
attr(const struct p11_id *id, enum p11_kind kind, CK_ATTRIBUTE_TYPE type, const void **p,
    size_t *len, uint8_t *buf)
{
	static const CK_MECHANISM_TYPE allowed[] = { CKM_ECDSA, CKM_ECDSA_SHA256,
		CKM_ECDSA_SHA384 };
	CK_ULONG ul;
	int priv = kind == P11_PRIV;

#define UL(v) do { ul = (v); memcpy(buf, &ul, sizeof(ul)); *p = buf; *len = sizeof(ul); \
		return CKR_OK; } while (0)
#define BOOL(v) do { *p = (v) ? &yes : &no; *len = sizeof(CK_BBOOL); return CKR_OK; } while (0)
#define BYTES(v, l) do { *p = (v); *len = (l); return CKR_OK; } while (0)
	switch (type) {
	case CKA_CLASS:
		UL(priv ? CKO_PRIVATE_KEY : kind == P11_PUB ? CKO_PUBLIC_KEY : CKO_CERTIFICATE);
	case CKA_TOKEN:
		BOOL(1);
	case CKA_PRIVATE:
		BOOL(priv && id->pin);
	case CKA_MODIFIABLE: case CKA_COPYABLE: case CKA_DESTROYABLE:
		BOOL(0);
	case CKA_LABEL:
		BYTES(id->name, strlen(id->name));
	case CKA_ID:
		BYTES(id->id, id->id_len);
	}
	if (kind == P11_CERT) {
		switch (type) {
		case CKA_CERTIFICATE_TYPE: UL(CKC_X_509);
		case CKA_CERTIFICATE_CATEGORY: UL(1); /* token user */
		case CKA_TRUSTED: BOOL(0);
		case CKA_VALUE: BYTES(id->cert, id->cert_len);
		case CKA_SUBJECT: BYTES(id->cf.subject, id->cf.subject_len);
		case CKA_ISSUER: BYTES(id->cf.issuer, id->cf.issuer_len);
		case CKA_SERIAL_NUMBER: BYTES(id->cf.serial, id->cf.serial_len);
		}
		return CKR_ATTRIBUTE_TYPE_INVALID;
	}
	switch (type) {
	case CKA_KEY_TYPE: UL(CKK_EC);
	case CKA_EC_PARAMS: BYTES(id->curve->oid_der, id->curve->oid_der_len);
	case CKA_EC_POINT: BYTES(id->point, id->point_len);
	case CKA_LOCAL: BOOL(0); /* imported keys are not: we cannot tell */
	case CKA_KEY_GEN_MECHANISM: UL(CK_UNAVAILABLE_INFORMATION);
	case CKA_DERIVE: case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_WRAP: case CKA_UNWRAP:
	case CKA_SIGN_RECOVER: case CKA_VERIFY_RECOVER:
		BOOL(0);
	case CKA_ALLOWED_MECHANISMS:
		BYTES(allowed, sizeof(allowed));
	case CKA_SUBJECT:
		BYTES(id->cf.subject, id->cf.subject != NULL ? id->cf.subject_len : 0);
	}
	if (kind == P11_PUB) {
		switch (type) {
		case CKA_VERIFY: BOOL(1);
		case CKA_TRUSTED: BOOL(0);
		}
		return CKR_ATTRIBUTE_TYPE_INVALID;
	}
	switch (type) {
	case CKA_SIGN: BOOL(1);
	case CKA_SENSITIVE: case CKA_ALWAYS_SENSITIVE: case CKA_NEVER_EXTRACTABLE: BOOL(1);
	case CKA_EXTRACTABLE: case CKA_ALWAYS_AUTHENTICATE: case CKA_WRAP_WITH_TRUSTED: BOOL(0);
	case CKA_VALUE: return CKR_ATTRIBUTE_SENSITIVE;
	}
	return CKR_ATTRIBUTE_TYPE_INVALID;
#undef UL
#undef BOOL
#undef BYTES
}

CK_RV
p11_get_attributes(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct p11_id *id;
	enum p11_kind kind;
	uint8_t buf[64];
	const void *p;
	size_t len;
	struct p11_session *s;
	CK_RV rv, ret = CKR_OK;
	CK_ULONG i;

	if (t == NULL && n > 0)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if ((rv = p11_object(s, o, &id, &kind)) != CKR_OK)
		return rv;
	/* Section 5.7, C_GetAttributeValue: every attribute is processed;
	 * the last error of these three kinds is returned. */
	for (i = 0; i < n; i++) {
		if ((rv = attr(id, kind, t[i].type, &p, &len, buf)) != CKR_OK) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			ret = rv;
		} else if (t[i].pValue == NULL)
			t[i].ulValueLen = len;
		else if (t[i].ulValueLen < len) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			ret = CKR_BUFFER_TOO_SMALL;
		} else {
			if (len > 0) /* an empty value may have no pointer */
				memcpy(t[i].pValue, p, len);
			t[i].ulValueLen = len;
		}
	}
	return ret;
}

/* ---- C_FindObjects* (section 5.7) --------------------------------------- */

void
p11_find_clear(struct p11_session *s)
{
	CK_ULONG i;

	for (i = 0; i < s->tmpl_n; i++)
		free(s->tmpl[i].pValue);
	free(s->tmpl);
	free(s->found);
	s->tmpl = NULL;
	s->found = NULL;
	s->tmpl_n = s->n_found = s->next_found = 0;
	s->finding = 0;
}

static int
matches(const struct p11_id *id, enum p11_kind kind, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	uint8_t buf[64];
	const void *p;
	size_t len;
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (attr(id, kind, t[i].type, &p, &len, buf) != CKR_OK || len != t[i].ulValueLen ||
		    (len > 0 && memcmp(p, t[i].pValue, len) != 0))
			return 0;
	return 1;
}

CK_RV
p11_find_init(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct p11_session *s;
	CK_ULONG i;
	size_t k;
	CK_RV rv;
	int kind;

	if (t == NULL && n > 0)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (s->finding)
		return CKR_OPERATION_ACTIVE;
	for (i = 0; i < n; i++)
		if (t[i].pValue == NULL && t[i].ulValueLen > 0)
			return CKR_ARGUMENTS_BAD;
	if ((rv = p11_refresh()) != CKR_OK)
		return rv;
	if (n > 0 && (s->tmpl = calloc(n, sizeof(*s->tmpl))) == NULL)
		return CKR_HOST_MEMORY;
	s->tmpl_n = n;
	for (i = 0; i < n; i++) {
		s->tmpl[i].type = t[i].type;
		s->tmpl[i].ulValueLen = t[i].ulValueLen;
		if (t[i].ulValueLen > 0) {
			if ((s->tmpl[i].pValue = malloc(t[i].ulValueLen)) == NULL) {
				p11_find_clear(s);
				return CKR_HOST_MEMORY;
			}
			memcpy(s->tmpl[i].pValue, t[i].pValue, t[i].ulValueLen);
		}
	}
	/* The matches now: what C_FindObjects hands out, one or more at a
	 * time (an object that appears meanwhile waits for the next search). */
	if (p11.n_ids > 0 && (s->found = calloc(3 * p11.n_ids, sizeof(*s->found))) == NULL) {
		p11_find_clear(s);
		return CKR_HOST_MEMORY;
	}
	for (k = 0; k < p11.n_ids; k++)
		for (kind = P11_PRIV; kind <= P11_CERT; kind++)
			if (visible(s, &p11.ids[k], (enum p11_kind)kind) &&
			    matches(&p11.ids[k], (enum p11_kind)kind, s->tmpl, s->tmpl_n))
				s->found[s->n_found++] = (CK_OBJECT_HANDLE)((k + 1) << 2 | (size_t)kind);
	s->finding = 1;
	return CKR_OK;
}

CK_RV
p11_find(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR n)
{
	struct p11_session *s;

	if (o == NULL || n == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!s->finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	for (*n = 0; *n < max && s->next_found < s->n_found; (*n)++)
		o[*n] = s->found[s->next_found++];
	return CKR_OK;
}

CK_RV
p11_find_final(CK_SESSION_HANDLE h)
{
	struct p11_session *s;

	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!s->finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	p11_find_clear(s);
	return CKR_OK;
}
