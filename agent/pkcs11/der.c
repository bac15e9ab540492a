/* p11.h: the little DER and PEM the module reads and writes. The module
 * may not use OpenSSL (the host may have replaced its default methods),
 * and it needs only the public point of an SPKI, the names, serial and key
 * of a certificate (RFC 5280 section 4.1), and PEM's base64 (RFC 7468) to
 * hand a certificate to the agent, which checks everything with OpenSSL. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/pkcs11/p11.h"

int
p11_der_next(const uint8_t **p, size_t *n, uint8_t *tag, const uint8_t **val, size_t *vlen,
    const uint8_t **whole, size_t *whole_len)
{
	const uint8_t *q = *p;
	size_t left = *n, len, hdr = 2, k;

	if (left < 2 || (q[0] & 0x1f) == 0x1f)
		return -1;
	len = q[1];
	if (len & 0x80) {
		k = len & 0x7f;
		if (k == 0 || k > 4 || left < 2 + k)
			return -1;
		for (len = 0, hdr = 2; hdr < 2 + k; hdr++)
			len = len << 8 | q[hdr];
	}
	if (len > left - hdr)
		return -1;
	*tag = q[0];
	*val = q + hdr;
	*vlen = len;
	if (whole != NULL) {
		*whole = q;
		*whole_len = hdr + len;
	}
	*p = q + hdr + len;
	*n = left - hdr - len;
	return 0;
}

#define DER(p, n, tag, v, vl) p11_der_next(&(p), &(n), &(tag), &(v), &(vl), NULL, NULL)

int
p11_spki_point(const uint8_t *spki, size_t len, const struct curve_info *c, uint8_t *point,
    size_t *point_len)
{
	const uint8_t *p = spki, *v, *alg, *bits;
	size_t n = len, vl, algl, bitsl, want = 1 + 2 * c->field_len;
	uint8_t t;

	if (DER(p, n, t, v, vl) < 0 || t != 0x30 || n != 0)
		return -1;
	p = v;
	n = vl;
	if (DER(p, n, t, alg, algl) < 0 || t != 0x30 || DER(p, n, t, bits, bitsl) < 0 ||
	    t != 0x03 || n != 0)
		return -1;
	/* The curve's OID must be the algorithm's parameter. */
	if (algl < c->oid_der_len ||
	    memcmp(alg + algl - c->oid_der_len, c->oid_der, c->oid_der_len) != 0)
		return -1;
	if (bitsl != 1 + want || bits[0] != 0 || bits[1] != 0x04)
		return -1;
	point[0] = 0x04; /* OCTET STRING */
	point[1] = (uint8_t)want;
	memcpy(point + 2, bits + 1, want);
	*point_len = 2 + want;
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

int
p11_pem_cert_der(const char *pem, uint8_t **ret, size_t *ret_len)
{
	const char *s = strstr(pem, PEM_BEGIN), *e, *q;
	uint32_t acc = 0;
	size_t n = 0, bits = 0;
	uint8_t *out;

	if (s == NULL || (e = strstr(s, PEM_END)) == NULL)
		return -1;
	s += strlen(PEM_BEGIN);
	if ((out = malloc((size_t)(e - s) * 3 / 4 + 3)) == NULL)
		return -1;
	for (q = s; q < e; q++) {
		const char *k;

		if (*q == '=')
			break;
		if (*q == '\n' || *q == '\r' || *q == ' ' || *q == '\t')
			continue;
		if (*q == '\0' || (k = strchr(b64, *q)) == NULL) {
			free(out);
			return -1;
		}
		acc = acc << 6 | (uint32_t)(k - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

char *
p11_der_cert_pem(const uint8_t *der, size_t len)
{
	size_t groups = (len + 2) / 3, lines = (groups + 15) / 16;
	size_t i, col = 0;
	char *out, *o;

	if (len > P11_CERT_MAX)
		return NULL;
	if ((out = malloc(sizeof(PEM_BEGIN) + 4 * groups + lines + sizeof(PEM_END) + 2)) == NULL)
		return NULL;
	o = out;
	memcpy(o, PEM_BEGIN "\n", sizeof(PEM_BEGIN));
	o += sizeof(PEM_BEGIN);
	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)der[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)der[i + 1] << 8;
		if (i + 2 < len)
			v |= der[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
		/* RFC 7468 section 2: lines of 64 characters. */
		if (++col == 16 || i + 3 >= len) {
			*o++ = '\n';
			col = 0;
		}
	}
	memcpy(o, PEM_END "\n", sizeof(PEM_END) + 1);
	return out;
}

/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
 * serialNumber INTEGER, signature, issuer Name, validity, subject Name,
 * subjectPublicKeyInfo, ... } ... } (RFC 5280 section 4.1). */
int
p11_cert_fields(const uint8_t *der, size_t len, struct p11_cert *c)
{
	const uint8_t *p = der, *v, *tbs, *w;
	size_t n = len, vl, tbsl, wl;
	uint8_t t;

	memset(c, 0, sizeof(*c));
	if (DER(p, n, t, v, vl) < 0 || t != 0x30 || n != 0)
		return -1;
	p = v;
	n = vl;
	if (DER(p, n, t, tbs, tbsl) < 0 || t != 0x30)
		return -1;
	p = tbs;
	n = tbsl;
	if (p11_der_next(&p, &n, &t, &v, &vl, &w, &wl) < 0)
		return -1;
	if (t == 0xa0 && p11_der_next(&p, &n, &t, &v, &vl, &w, &wl) < 0)
		return -1;
	if (t != 0x02)
		return -1;
	c->serial = w;                 /* CKA_SERIAL_NUMBER: the DER INTEGER */
	c->serial_len = wl;
	if (DER(p, n, t, v, vl) < 0 || t != 0x30)          /* signature */
		return -1;
	if (p11_der_next(&p, &n, &t, &v, &vl, &w, &wl) < 0 || t != 0x30)
		return -1;
	c->issuer = w;
	c->issuer_len = wl;
	if (DER(p, n, t, v, vl) < 0 || t != 0x30)          /* validity */
		return -1;
	if (p11_der_next(&p, &n, &t, &v, &vl, &w, &wl) < 0 || t != 0x30)
		return -1;
	c->subject = w;
	c->subject_len = wl;
	if (p11_der_next(&p, &n, &t, &v, &vl, &w, &wl) < 0 || t != 0x30)
		return -1;
	c->spki = w;
	c->spki_len = wl;
	return 0;
}
