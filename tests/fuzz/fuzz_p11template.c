/* libFuzzer target for what the PKCS#11 module (agent/pkcs11/) reads from
 * its host: attribute templates and the DER inside them. The module's own
 * functions run on a session set up by hand, with no agent behind it (the
 * first request answers CKR_DEVICE_REMOVED), over a table of two
 * identities whose certificate, when the input holds one, is the input's.
 *
 * Input: one selector byte, then attributes, each as type (4 bytes, big
 * endian), flags (1: bit 0 = NULL pValue), length (2 bytes) and that many
 * value bytes (fewer when the input ends). The selector picks:
 *  0  C_GenerateKeyPair (the first half of the attributes the public
 *     template, the rest the private one): the answer is one of the
 *     template CKRs or CKR_DEVICE_REMOVED, never anything else;
 *  1  C_CreateObject: the same for certificates;
 *  2  C_FindObjectsInit's copy (the agent is gone: refresh fails first,
 *     so only the argument checks run) and C_GetAttributeValue on every
 *     object of the table with the attributes as the query (the first
 *     CKA_VALUE, when there is one, is identity k's certificate): lengths
 *     follow section 5.7 (each value fits the buffer it was written to);
 *  3  the rest of the input as a certificate: p11_cert_fields(), and when
 *     it parses, DER -> PEM -> DER gives the same bytes and the fields lie
 *     inside it. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pkcs11/p11.h"

#define MAX_ATTRS 32

static const CK_RV keygen_ok[] = {
	CKR_ARGUMENTS_BAD, CKR_TEMPLATE_INCONSISTENT, CKR_TEMPLATE_INCOMPLETE,
	CKR_ATTRIBUTE_VALUE_INVALID, CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_READ_ONLY,
	CKR_CURVE_NOT_SUPPORTED, CKR_DEVICE_REMOVED, CKR_HOST_MEMORY,
};

static int
allowed(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(keygen_ok) / sizeof(keygen_ok[0]); i++)
		if (rv == keygen_ok[i])
			return 1;
	return 0;
}

/* A P-256 point (any 65 bytes do here: the attribute code copies it). */
static void
fake_id(struct p11_id *id, const char *name, const uint8_t *cert, size_t cert_len)
{
	memset(id, 0, sizeof(*id));
	strcpy(id->name, name);
	id->curve = curve_get(CURVE_P256);
	id->present = 1;
	id->point[0] = 0x04;
	id->point[1] = 65;
	memset(id->point + 2, 0x04, 65);
	id->point_len = 67;
	memset(id->id, 0xab, P11_ID_LEN);
	id->id_len = P11_ID_LEN;
	if (cert != NULL && p11_cert_fields(cert, cert_len, &id->cf) == 0 &&
	    (id->cert = malloc(cert_len)) != NULL) {
		memcpy(id->cert, cert, cert_len);
		id->cert_len = cert_len;
		(void)p11_cert_fields(id->cert, cert_len, &id->cf);
	}
}

static void
setup(const uint8_t *cert, size_t cert_len)
{
	static char socket_path[] = "/nonexistent/tpmid-fuzz.sock";

	memset(&p11, 0, sizeof(p11));
	p11.initialized = 1;
	p11.pid = getpid();
	p11.socket = socket_path;
	p11.ids = calloc(2, sizeof(*p11.ids));
	if (p11.ids == NULL)
		abort();
	fake_id(&p11.ids[0], "k", cert, cert_len);
	fake_id(&p11.ids[1], "pk", NULL, 0);
	p11.ids[1].pin = 1;
	p11.n_ids = 2;
	p11.sessions[0].open = 1;
	p11.sessions[0].flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
}

static void
teardown(void)
{
	size_t i;

	p11_find_clear(&p11.sessions[0]);
	p11_sign_clear(&p11.sessions[0]);
	for (i = 0; i < p11.n_ids; i++)
		free(p11.ids[i].cert);
	free(p11.ids);
	memset(&p11, 0, sizeof(p11));
}

/* Parse the attributes; values point into the input or are NULL. */
static CK_ULONG
parse(const uint8_t *p, size_t n, CK_ATTRIBUTE *a)
{
	CK_ULONG k = 0;
	size_t len;

	while (k < MAX_ATTRS && n >= 7) {
		a[k].type = (CK_ATTRIBUTE_TYPE)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3]);
		len = (size_t)p[5] << 8 | p[6];
		p += 7;
		n -= 7;
		if (len > n)
			len = n;
		a[k].pValue = (p[-3] & 1) ? NULL : (void *)p;
		a[k].ulValueLen = len;
		p += len;
		n -= len;
		k++;
	}
	return k;
}

static void
query(CK_ATTRIBUTE *in, CK_ULONG n)
{
	CK_ATTRIBUTE q[MAX_ATTRS];
	uint8_t bufs[MAX_ATTRS][128];
	CK_OBJECT_HANDLE h;
	CK_ULONG i;
	size_t k;
	int kind;

	for (k = 0; k < p11.n_ids; k++)
		for (kind = P11_PRIV; kind <= P11_CERT; kind++) {
			h = (CK_OBJECT_HANDLE)((k + 1) << 2 | (size_t)kind);
			for (i = 0; i < n; i++) {
				q[i].type = in[i].type;
				q[i].pValue = in[i].pValue == NULL ? NULL : bufs[i];
				q[i].ulValueLen = in[i].ulValueLen > sizeof(bufs[i]) ? sizeof(bufs[i]) :
				    in[i].ulValueLen;
			}
			(void)p11_get_attributes(1, h, q, n);
			for (i = 0; i < n; i++)
				if (q[i].pValue != NULL && q[i].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
				    q[i].ulValueLen > sizeof(bufs[i]))
					abort(); /* wrote past the buffer it was given */
		}
}

static void
cert_roundtrip(const uint8_t *der, size_t len)
{
	struct p11_cert c;
	uint8_t *back = NULL;
	size_t back_len = 0;
	char *pem;

	if (p11_cert_fields(der, len, &c) < 0)
		return;
	if (c.subject < der || c.subject + c.subject_len > der + len ||
	    c.spki < der || c.spki + c.spki_len > der + len)
		abort();
	if (len > P11_CERT_MAX)
		return;
	if ((pem = p11_der_cert_pem(der, len)) == NULL)
		abort();
	if (p11_pem_cert_der(pem, &back, &back_len) < 0 || back_len != len ||
	    memcmp(back, der, len) != 0)
		abort();
	free(back);
	free(pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CK_ATTRIBUTE a[MAX_ATTRS];
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE h1, h2;
	CK_ULONG n, i;
	CK_RV rv;

	if (size < 1)
		return 0;
	if (data[0] % 4 == 3) {
		cert_roundtrip(data + 1, size - 1);
		return 0;
	}
	n = parse(data + 1, size - 1, a);
	for (i = 0; i < n && (a[i].type != CKA_VALUE || a[i].pValue == NULL); i++)
		;
	if (i < n)
		setup(a[i].pValue, a[i].ulValueLen);
	else
		setup(NULL, 0);
	switch (data[0] % 4) {
	case 0:
		rv = p11_generate_key_pair(1, &m, a, n / 2, a + n / 2, n - n / 2, &h1, &h2);
		if (!allowed(rv))
			abort();
		break;
	case 1:
		rv = p11_create_object(1, a, n, &h1);
		if (!allowed(rv))
			abort();
		break;
	case 2:
		(void)p11_find_init(1, a, n);
		/* The failed refresh marked the table absent. */
		p11.ids[0].present = p11.ids[1].present = 1;
		query(a, n);
		break;
	}
	teardown();
	return 0;
}
