/* p11.h: mechanisms and C_Sign*. Every signature is one sign-digest@tpmid
 * to the agent: the module hashes (CKM_ECDSA_SHA256/384) or takes the
 * caller's digest (CKM_ECDSA), fits it to the curve, and turns the DER
 * ECDSA-Sig-Value that comes back into PKCS#11's r || s. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/pkcs11/p11.h"
#include "common/err.h"

/* The mechanisms, in the order C_GetMechanismList gives them. Key
 * generation reports 256 bits at most: tlsuv (OpenZiti) takes the largest
 * curve ulMaxKeySize allows, and P-256 is the curve every TPM has (the TCG
 * PC Client profile makes P-384 optional); P-384 is made when a template
 * asks for it. */
static const struct {
	CK_MECHANISM_TYPE type;
	size_t hash_len;               /* 0: the input is the digest */
	CK_FLAGS flags;
	CK_ULONG max_bits;
} mechs[] = {
	{ CKM_ECDSA, 0, CKF_SIGN, 384 },
	{ CKM_ECDSA_SHA256, SHA256_DIGEST_LEN, CKF_SIGN, 384 },
	{ CKM_ECDSA_SHA384, SHA384_DIGEST_LEN, CKF_SIGN, 384 },
	{ CKM_EC_KEY_PAIR_GEN, 0, CKF_GENERATE_KEY_PAIR, 256 },
};
#define N_MECHS (sizeof(mechs) / sizeof(mechs[0]))

static int
mech_index(CK_MECHANISM_TYPE t)
{
	size_t i;

	for (i = 0; i < N_MECHS; i++)
		if (mechs[i].type == t)
			return (int)i;
	return -1;
}

CK_RV
p11_mechanisms(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n)
{
	size_t i;

	if (n == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!p11_slot_valid(slot))
		return CKR_SLOT_ID_INVALID;
	if (list != NULL && *n < N_MECHS) {
		*n = N_MECHS;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (list != NULL)
		for (i = 0; i < N_MECHS; i++)
			list[i] = mechs[i].type;
	*n = N_MECHS;
	return CKR_OK;
}

CK_RV
p11_mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	int k;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!p11_slot_valid(slot))
		return CKR_SLOT_ID_INVALID;
	if ((k = mech_index(type)) < 0)
		return CKR_MECHANISM_INVALID;
	memset(info, 0, sizeof(*info));
	info->ulMinKeySize = 256;
	info->ulMaxKeySize = mechs[k].max_bits;
	info->flags = CKF_HW | mechs[k].flags | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
	return CKR_OK;
}

void
p11_sign_clear(struct p11_session *s)
{
	freezero(s->sig, s->sig_len);
	explicit_bzero(&s->sha, sizeof(s->sha));
	explicit_bzero(s->raw, sizeof(s->raw));
	s->sig = NULL;
	s->sig_len = s->raw_len = 0;
	s->signing = s->multi = 0;
}

CK_RV
p11_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	struct p11_session *s;
	struct p11_id *id;
	enum p11_kind kind;
	CK_RV rv;
	int k;

	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (s->signing)
		return CKR_OPERATION_ACTIVE;
	if ((k = mech_index(m->mechanism)) < 0 || !(mechs[k].flags & CKF_SIGN))
		return CKR_MECHANISM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((rv = p11_object(s, key, &id, &kind)) != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	if (kind != P11_PRIV)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	p11_sign_clear(s);
	s->mech = m->mechanism;
	s->key = (size_t)(id - p11.ids);
	if (mechs[k].hash_len != 0)
		sha2_init(&s->sha, mechs[k].hash_len);
	s->signing = 1;
	return CKR_OK;
}

/* DER ECDSA-Sig-Value (RFC 3279 section 2.2.3) to r || s, each half
 * `fl` bytes, zero-padded on the left. */
static int
der_to_raw(const uint8_t *der, size_t len, size_t fl, uint8_t *out)
{
	const uint8_t *p = der, *v, *x;
	size_t n = len, vl, xl, i;
	uint8_t t;

	if (p11_der_next(&p, &n, &t, &v, &vl, NULL, NULL) < 0 || t != 0x30 || n != 0)
		return -1;
	p = v;
	n = vl;
	memset(out, 0, 2 * fl);
	for (i = 0; i < 2; i++) {
		if (p11_der_next(&p, &n, &t, &x, &xl, NULL, NULL) < 0 || t != 0x02 || xl == 0)
			return -1;
		while (xl > 0 && x[0] == 0) {
			x++;
			xl--;
		}
		if (xl > fl)
			return -1;
		memcpy(out + i * fl + (fl - xl), x, xl);
	}
	return n == 0 ? 0 : -1;
}

/* Sign `dg` (any length: FIPS 186-4 section 6.4 uses its leftmost bits up
 * to the curve's size; shorter is the same integer left-padded) with the
 * session's key; the raw signature into s->sig. */
static CK_RV
sign_digest(struct p11_session *s, const uint8_t *dg, size_t dg_len)
{
	struct p11_id *id = &p11.ids[s->key];
	struct wire_request q = { .type = WIRE_REQ_SIGN_DIGEST };
	struct wire_reply rep;
	uint8_t fitted[SHA384_DIGEST_LEN];
	size_t fl = id->curve->digest_len;
	int r;

	const struct secret *pin = NULL;
	int slot0 = s->slot == P11_SLOT_ID;

	if (!p11_in_slot(s, id))
		return CKR_KEY_HANDLE_INVALID;
	if (id->pin) {
		if (!p11_logged_in(s))
			return CKR_USER_NOT_LOGGED_IN;
		if (slot0 ? id->pin_refused : id->login_refused)
			return CKR_PIN_INCORRECT; /* never the same wrong PIN twice */
		/* The login PIN goes only with a key that needs one. */
		pin = slot0 ? p11.login : id->login;
	}
	memset(fitted, 0, sizeof(fitted));
	if (dg_len >= fl)
		memcpy(fitted, dg, fl);
	else
		memcpy(fitted + (fl - dg_len), dg, dg_len);
	q.name = id->name;
	q.data = fitted;
	q.data_len = fl;
	q.pin = (struct secret *)pin;
	r = p11_call(&q, &rep);
	explicit_bzero(fitted, sizeof(fitted));
	if (r == TPMID_E_BADPIN && slot0)
		id->pin_refused = 1;
	else if (r == TPMID_E_BADPIN)
		id->login_refused = 1;
	if (r == 0) {
		if ((s->sig = malloc(2 * id->curve->field_len)) == NULL)
			r = TPMID_E_NOMEM;
		else if (der_to_raw(rep.der, rep.der_len, id->curve->field_len, s->sig) < 0)
			r = TPMID_E_FORMAT;
		else
			s->sig_len = 2 * id->curve->field_len;
	}
	wire_reply_clear(&rep);
	return p11_rv(r);
}

/* Section 5.2: with a NULL buffer, or one too small, the length is told
 * and the operation stays active; once the signature is handed out (or
 * anything else fails) it ends. */
static CK_RV
hand_out(struct p11_session *s, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	CK_ULONG want = s->sig_len;

	if (sig == NULL) {
		*sig_len = want;
		return CKR_OK;
	}
	if (*sig_len < want) {
		*sig_len = want;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(sig, s->sig, want);
	*sig_len = want;
	p11_sign_clear(s);
	return CKR_OK;
}

static size_t
sig_size(const struct p11_session *s)
{
	return 2 * p11.ids[s->key].curve->field_len;
}

/* The end of C_Sign (`data` the whole input) and C_SignFinal (`data`
 * NULL: what C_SignUpdate gathered): answer a size query, else sign once
 * and hand the signature out (section 5.2 for both). */
static CK_RV
finish(struct p11_session *s, const uint8_t *data, size_t len, CK_BYTE_PTR sig,
    CK_ULONG_PTR sig_len)
{
	uint8_t dg[SHA384_DIGEST_LEN];
	CK_RV rv;

	if (s->sig == NULL) {
		/* A size query needs no signature yet. */
		if (sig == NULL || *sig_len < sig_size(s)) {
			*sig_len = sig_size(s);
			return sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		}
		if (s->mech == CKM_ECDSA)
			rv = data != NULL ? sign_digest(s, data, len) :
			    sign_digest(s, s->raw, s->raw_len);
		else {
			if (data != NULL)
				sha2_update(&s->sha, data, len);
			sha2_final(&s->sha, dg);
			rv = sign_digest(s, dg, s->mech == CKM_ECDSA_SHA256 ? 32 : 48);
			explicit_bzero(dg, sizeof(dg));
		}
		if (rv != CKR_OK) {
			p11_sign_clear(s);
			return rv;
		}
	}
	return hand_out(s, sig, sig_len);
}

CK_RV
p11_sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
    CK_ULONG_PTR sig_len)
{
	struct p11_session *s;

	if ((data == NULL && len > 0) || sig_len == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!s->signing || s->multi)
		return CKR_OPERATION_NOT_INITIALIZED;
	return finish(s, data != NULL ? data : (const uint8_t *)"", len, sig, sig_len);
}

CK_RV
p11_sign_update(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	struct p11_session *s;
	size_t take;

	if (part == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!s->signing || s->sig != NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	s->multi = 1;
	if (s->mech != CKM_ECDSA) {
		sha2_update(&s->sha, part, len);
		return CKR_OK;
	}
	/* Only the leftmost bytes are signed (sign_digest): keep those. */
	take = len < sizeof(s->raw) - s->raw_len ? len : sizeof(s->raw) - s->raw_len;
	memcpy(s->raw + s->raw_len, part, take);
	s->raw_len += take;
	return CKR_OK;
}

CK_RV
p11_sign_final(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	struct p11_session *s;

	if (sig_len == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (!s->signing)
		return CKR_OPERATION_NOT_INITIALIZED;
	return finish(s, NULL, 0, sig, sig_len);
}
