/* Unit tests for agent/sshwire.c: RFC 5656 key and signature blobs,
 * OpenSSH public key lines and certificates (PROTOCOL.certkeys).
 *
 * Vectors made once with OpenSSH 9.2 (ssh-keygen -t ecdsa; ssh-keygen -e
 * -m PKCS8 for the SubjectPublicKeyInfo; ssh-keygen -s CA for the
 * certificates) and checked in. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/format/sshwire.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

static const char p256_spki_pem[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEje+/8umxpFkXRIKKmSCx0LaTIK7R\n"
	    "JDABGYQAqU5Tsiby6YeLcpJLxWGGV8uFsWUVsfg8MNF2JkhGFKfi4syrzg==\n"
	    "-----END PUBLIC KEY-----\n";
static const char p384_spki_pem[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEeuS28xpusYuyGiJdZXlgKv0JKsldKZgO\n"
	    "Vaaz+klmedD01T9gWF/Cc4HYny5MhKcbwO37+CYX/oIlKYvijkh2Wa5C18OVW1vs\n"
	    "ytwdDQ4XNjZjGfIRX+AEIRdnYrmxU+A3\n"
	    "-----END PUBLIC KEY-----\n";
static const char other_spki_pem[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcBzfKNMCthYe37wvYaStsSDwnuA9\n"
	    "YJCGiwgG1NNIbUw3jsTFxDV8atOpvpCx9SQAgm2leOi4uNeVPkXWp4QZnA==\n"
	    "-----END PUBLIC KEY-----\n";
static const char p256_pub[] =
	    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBI3vv/LpsaRZF0SCipkgsdC2kyCu0SQwARmEAKlOU7Im8umHi3KSS8VhhlfLhbFlFbH4PDDRdiZIRhSn4uLMq84= p256-plain";
static const char p384_pub[] =
	    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHrktvMabrGLshoiXWV5YCr9CSrJXSmYDlWms/pJZnnQ9NU/YFhfwnOB2J8uTISnG8Dt+/gmF/6CJSmL4o5IdlmuQtfDlVtb7MrcHQ0OFzY2YxnyEV/gBCEXZ2K5sVPgNw== p384-plain";
static const char p256_cert[] =
	    "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgEhUTnMFPIXzFHxieLTQ2Kn/1SycHSWPOj77awsuO14YAAAAIbmlzdHAyNTYAAABBBI3vv/LpsaRZF0SCipkgsdC2kyCu0SQwARmEAKlOU7Im8umHi3KSS8VhhlfLhbFlFbH4PDDRdiZIRhSn4uLMq84AAAAAAAAAAAAAAAEAAAAHdGVzdC1pZAAAAAkAAAAFYWxpY2UAAAAAAAAAAP//////////AAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAgG/pY2gjGr1Ql8suO3gPholVGVVFhaq8/pUwfpdJ/FlMAAABTAAAAC3NzaC1lZDI1NTE5AAAAQNtCBKg0KvJxb4vcEJOo4OAstbpai0xzxUy0DoIjLdSkaVVxI3aNQVUR+7SOISDdePszSnQHZzIreLHE4waR+gM= p256-plain";
static const char ed_cert[] =
	    "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIG7h+hn7eoVsxzoTxad7dApa5gUMdOnEM755ZCNPuSxjAAAAICWyb7+SFBqfOmtWxxebzBAdmSNpJpWcbSsSYTWpZf/VAAAAAAAAAAAAAAABAAAABWVkLWlkAAAACQAAAAVhbGljZQAAAAAAAAAA//////////8AAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACAb+ljaCMavVCXyy47eA+GiVUZVUWFqrz+lTB+l0n8WUwAAAFMAAAALc3NoLWVkMjU1MTkAAABAqr7pw2XSN3gTyoOrufWAav7tgtEO8htGZhK+F/EAAfRmo8BaqHm4vvVq38YD/XSDsZogS0n91kEzHrlD28lKAQ== ed";

static uint8_t *
spki_der(const char *pem, size_t *ret_len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	unsigned char *der = NULL;
	uint8_t *copy;
	int n;

	assert_non_null(pk);
	n = i2d_PUBKEY(pk, &der);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	memcpy(copy, der, (size_t)n);
	*ret_len = (size_t)n;
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return copy;
}

static void
test_types(void **state)
{
	(void)state;
	assert_string_equal(sshwire_keytype(CURVE_P256), "ecdsa-sha2-nistp256");
	assert_string_equal(sshwire_keytype(CURVE_P384), "ecdsa-sha2-nistp384");
	assert_null(sshwire_keytype(CURVE_NONE));
	assert_string_equal(sshwire_certtype(CURVE_P256),
	    "ecdsa-sha2-nistp256-cert-v01@openssh.com");
	assert_string_equal(sshwire_certtype(CURVE_P384),
	    "ecdsa-sha2-nistp384-cert-v01@openssh.com");
	assert_null(sshwire_certtype((enum tpmid_curve)7));
}

/* The line we make equals ssh-keygen's .pub line, comment included. */
static void
test_pubkey_line(void **state)
{
	static const struct { const char *pem, *pub, *comment; } v[] = {
		{ p256_spki_pem, p256_pub, "p256-plain" },
		{ p384_spki_pem, p384_pub, "p384-plain" },
	};
	size_t i, len, blob_len;
	uint8_t *spki, *blob;
	char *line, want[1024];
	struct tbuf *b;

	(void)state;
	for (i = 0; i < ELEMENTSOF(v); i++) {
		spki = spki_der(v[i].pem, &len);
		assert_int_equal(sshwire_pubkey_line(spki, len, v[i].comment, &line), 0);
		assert_string_equal(line, v[i].pub);
		free(line);
		/* No comment: no trailing space. */
		assert_int_equal(sshwire_pubkey_line(spki, len, NULL, &line), 0);
		snprintf(want, sizeof(want), "%s", v[i].pub);
		*strrchr(want, ' ') = '\0';
		assert_string_equal(line, want);
		free(line);
		/* The blob equals what the line decodes to. */
		b = tbuf_new(0);
		assert_int_equal(sshwire_pubkey_blob(spki, len, b), 0);
		assert_int_equal(sshwire_line_blob(v[i].pub, &blob, &blob_len), 0);
		assert_int_equal(blob_len, tbuf_len(b));
		assert_memory_equal(blob, tbuf_ptr(b), blob_len);
		free(blob);
		tbuf_free(b);
		free(spki);
	}
}

static void
test_pubkey_errors(void **state)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	unsigned char *der = NULL;
	struct tbuf *b = tbuf_new(0);
	char *line = NULL;
	size_t len;
	uint8_t *spki;
	int n;

	(void)state;
	assert_int_equal(sshwire_pubkey_blob(junk, sizeof(junk), b), TPMID_E_FORMAT);
	assert_int_equal(sshwire_pubkey_blob(NULL, 0, b), TPMID_E_FORMAT);
	assert_non_null(pk);
	n = i2d_PUBKEY(pk, &der);
	assert_int_equal(sshwire_pubkey_line(der, (size_t)n, "x", &line), TPMID_E_CURVE);
	assert_null(line);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	/* A P-521 key is EC but not one of ours. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp521r1");
	der = NULL;
	n = i2d_PUBKEY(pk, &der);
	assert_int_equal(sshwire_pubkey_blob(der, (size_t)n, b), TPMID_E_CURVE);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	/* Trailing bytes after the SPKI. */
	spki = spki_der(p256_spki_pem, &len);
	spki = realloc(spki, len + 1);
	spki[len] = 0;
	assert_int_equal(sshwire_pubkey_blob(spki, len + 1, b), TPMID_E_FORMAT);
	assert_int_equal(tbuf_len(b), 0);
	free(spki);
	tbuf_free(b);
}

static void
test_line_blob(void **state)
{
	char buf[2048];
	uint8_t *blob = NULL;
	size_t len = 0, b64;

	(void)state;
	/* Padding: '=' (P-256 blob, 104 bytes) and '==' (P-384, 136 bytes). */
	assert_int_equal(sshwire_line_blob(p256_pub, &blob, &len), 0);
	assert_int_equal(len, 104);
	free(blob);
	assert_int_equal(sshwire_line_blob(p384_pub, &blob, &len), 0);
	assert_int_equal(len, 136);
	free(blob);
	/* Leading blanks, no comment, trailing newline. */
	snprintf(buf, sizeof(buf), "  %s", p256_pub);
	*strrchr(buf, ' ') = '\n';
	assert_int_equal(sshwire_line_blob(buf, &blob, &len), 0);
	assert_int_equal(len, 104);
	free(blob);

	/* Type word differs from the blob's type. */
	snprintf(buf, sizeof(buf), "ecdsa-sha2-nistp384%s", strchr(p256_pub, ' '));
	assert_int_equal(sshwire_line_blob(buf, &blob, &len), TPMID_E_FORMAT);
	assert_null(blob);
	/* Missing base64, bad length, bad character, '=' inside. */
	assert_int_equal(sshwire_line_blob("ecdsa-sha2-nistp256", &blob, &len), TPMID_E_FORMAT);
	assert_int_equal(sshwire_line_blob("", &blob, &len), TPMID_E_FORMAT);
	snprintf(buf, sizeof(buf), "%s", p256_pub);
	b64 = (size_t)(strchr(buf, ' ') - buf) + 1;
	buf[b64 + 10] = '*';
	assert_int_equal(sshwire_line_blob(buf, &blob, &len), TPMID_E_FORMAT);
	snprintf(buf, sizeof(buf), "%s", p256_pub);
	buf[b64 + 10] = '=';
	assert_int_equal(sshwire_line_blob(buf, &blob, &len), TPMID_E_FORMAT);
	snprintf(buf, sizeof(buf), "%s", p256_pub);
	memmove(buf + b64 + 10, buf + b64 + 11, strlen(buf + b64 + 11) + 1);
	assert_int_equal(sshwire_line_blob(buf, &blob, &len), TPMID_E_FORMAT);
	assert_int_equal(sshwire_line_blob("ssh-ed25519 AAAA", &blob, &len), TPMID_E_FORMAT);
	assert_null(blob);
	assert_int_equal(len, 0);
}

static void
test_cert_matches(void **state)
{
	uint8_t *p256, *p384, *other, *cert, *edcert, *m;
	size_t p256_len, p384_len, other_len, cert_len, edcert_len, i;

	(void)state;
	p256 = spki_der(p256_spki_pem, &p256_len);
	p384 = spki_der(p384_spki_pem, &p384_len);
	other = spki_der(other_spki_pem, &other_len);
	assert_int_equal(sshwire_line_blob(p256_cert, &cert, &cert_len), 0);
	assert_int_equal(sshwire_line_blob(ed_cert, &edcert, &edcert_len), 0);

	assert_int_equal(sshwire_cert_matches(cert, cert_len, p256, p256_len), 0);
	assert_int_equal(sshwire_cert_matches(cert, cert_len, other, other_len),
	    TPMID_E_MISMATCH);
	assert_int_equal(sshwire_cert_matches(cert, cert_len, p384, p384_len),
	    TPMID_E_MISMATCH);
	assert_int_equal(sshwire_cert_matches(edcert, edcert_len, p256, p256_len),
	    TPMID_E_FORMAT);
	/* A plain key blob is not a certificate. */
	{
		struct tbuf *b = tbuf_new(0);

		assert_int_equal(sshwire_pubkey_blob(p256, p256_len, b), 0);
		assert_int_equal(sshwire_cert_matches(tbuf_ptr(b), tbuf_len(b), p256, p256_len),
		    TPMID_E_FORMAT);
		tbuf_free(b);
	}
	/* Every truncation is malformed; so is a trailing byte. */
	for (i = 0; i < cert_len; i++)
		assert_int_equal(sshwire_cert_matches(cert, i, p256, p256_len), TPMID_E_FORMAT);
	m = malloc(cert_len + 1);
	memcpy(m, cert, cert_len);
	m[cert_len] = 0;
	assert_int_equal(sshwire_cert_matches(m, cert_len + 1, p256, p256_len), TPMID_E_FORMAT);
	/* Every single-byte change: no crash, and a change inside Q or the
	 * curve is never accepted as a match. */
	for (i = 0; i < cert_len; i++) {
		int r;

		memcpy(m, cert, cert_len);
		m[i] ^= 0x80;
		r = sshwire_cert_matches(m, cert_len, p256, p256_len);
		/* Q lives at offset 4+40 (type) + 4+32 (nonce) + 4+8 (curve) + 4. */
		if (i >= 96 && i < 96 + 65)
			assert_int_not_equal(r, 0);
	}
	free(m);
	free(cert);
	free(edcert);
	free(p256);
	free(p384);
	free(other);
}

static void
put_der_sig(const uint8_t *r, size_t rl, const uint8_t *s, size_t sl, uint8_t **der,
    int *der_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();

	assert_true(ECDSA_SIG_set0(sig, BN_bin2bn(r, (int)rl, NULL), BN_bin2bn(s, (int)sl,
	    NULL)));
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(sig, der);
	assert_true(*der_len > 0);
	ECDSA_SIG_free(sig);
}

static void
test_sig_from_der(void **state)
{
	/* r has its top bit set (mpint needs a 00 byte), s is short (leading
	 * zeros are not encoded). */
	uint8_t r[32], s[32];
	static const uint8_t want_head[] = {
		0, 0, 0, 19, 'e', 'c', 'd', 's', 'a', '-', 's', 'h', 'a', '2', '-', 'n', 'i', 's',
		't', 'p', '2', '5', '6',
		0, 0, 0, 4 + 33 + 4 + 30,
		0, 0, 0, 33, 0,
	};
	struct tbuf *b = tbuf_new(0);
	const uint8_t *mp;
	size_t mpl;
	uint8_t *der;
	int der_len;
	struct tbuf v, inner;
	const uint8_t *t;
	size_t tl;

	(void)state;
	memset(r, 0xa5, sizeof(r));
	memset(s, 0x11, sizeof(s));
	s[0] = s[1] = 0;
	put_der_sig(r, sizeof(r), s, sizeof(s), &der, &der_len);
	assert_int_equal(sshwire_sig_from_der(CURVE_P256, der, (size_t)der_len, b), 0);
	assert_true(tbuf_len(b) > sizeof(want_head));
	assert_memory_equal(tbuf_ptr(b), want_head, sizeof(want_head));
	tbuf_init_view(&v, tbuf_ptr(b), tbuf_len(b));
	assert_int_equal(tbuf_get_string_direct(&v, &t, &tl), 0);
	assert_int_equal(tbuf_get_stringb(&v, &inner), 0);
	assert_int_equal(tbuf_expect_end(&v), 0);
	assert_int_equal(tbuf_get_mpint_bytes(&inner, &mp, &mpl), 0);
	assert_int_equal(mpl, 32);
	assert_memory_equal(mp, r, 32);
	assert_int_equal(tbuf_get_mpint_bytes(&inner, &mp, &mpl), 0);
	assert_int_equal(mpl, 30);
	assert_memory_equal(mp, s + 2, 30);
	assert_int_equal(tbuf_expect_end(&inner), 0);

	/* P-384 names its own type. */
	tbuf_reset(b);
	assert_int_equal(sshwire_sig_from_der(CURVE_P384, der, (size_t)der_len, b), 0);
	tbuf_init_view(&v, tbuf_ptr(b), tbuf_len(b));
	assert_int_equal(tbuf_get_string_direct(&v, &t, &tl), 0);
	assert_int_equal(tl, 19);
	assert_memory_equal(t, "ecdsa-sha2-nistp384", 19);

	/* Malformed: trailing byte, truncated, empty, unknown alg, r too big. */
	tbuf_reset(b);
	der = realloc(der, (size_t)der_len + 1);
	der[der_len] = 0;
	assert_int_equal(sshwire_sig_from_der(CURVE_P256, der, (size_t)der_len + 1, b),
	    TPMID_E_FORMAT);
	assert_int_equal(sshwire_sig_from_der(CURVE_P256, der, (size_t)der_len - 1, b),
	    TPMID_E_FORMAT);
	assert_int_equal(sshwire_sig_from_der(CURVE_P256, der, 0, b), TPMID_E_FORMAT);
	assert_int_equal(sshwire_sig_from_der(CURVE_NONE, der, (size_t)der_len, b),
	    TPMID_E_CURVE);
	assert_int_equal(tbuf_len(b), 0);
	OPENSSL_free(der);
	{
		uint8_t big[48];

		memset(big, 0x7f, sizeof(big));
		put_der_sig(big, sizeof(big), s, sizeof(s), &der, &der_len);
		assert_int_equal(sshwire_sig_from_der(CURVE_P256, der, (size_t)der_len, b),
		    TPMID_E_FORMAT);
		assert_int_equal(sshwire_sig_from_der(CURVE_P384, der, (size_t)der_len, b),
		    0);
		OPENSSL_free(der);
	}
	tbuf_free(b);
}

/* A real signature made by OpenSSL verifies after the round trip through
 * the SSH form (r and s survive exactly). */
static void
test_sig_roundtrip(void **state)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
	uint8_t dg[48], der[256], *der2 = NULL;
	size_t der_len = sizeof(der);
	struct tbuf *b = tbuf_new(0), v, inner;
	const uint8_t *t, *rp, *sp;
	size_t tl, rl, sl;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	int n;

	(void)state;
	memset(dg, 0x5a, sizeof(dg));
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, der, &der_len, dg, sizeof(dg)), 1);
	assert_int_equal(sshwire_sig_from_der(CURVE_P384, der, der_len, b), 0);
	tbuf_init_view(&v, tbuf_ptr(b), tbuf_len(b));
	assert_int_equal(tbuf_get_string_direct(&v, &t, &tl), 0);
	assert_int_equal(tbuf_get_stringb(&v, &inner), 0);
	assert_int_equal(tbuf_get_mpint_bytes(&inner, &rp, &rl), 0);
	assert_int_equal(tbuf_get_mpint_bytes(&inner, &sp, &sl), 0);
	ECDSA_SIG_set0(sig, BN_bin2bn(rp, (int)rl, NULL), BN_bin2bn(sp, (int)sl, NULL));
	n = i2d_ECDSA_SIG(sig, &der2);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, der2, (size_t)n, dg, sizeof(dg)), 1);
	OPENSSL_free(der2);
	ECDSA_SIG_free(sig);
	tbuf_free(b);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_pubkey_line),
		cmocka_unit_test(test_pubkey_errors),
		cmocka_unit_test(test_line_blob),
		cmocka_unit_test(test_cert_matches),
		cmocka_unit_test(test_sig_from_der),
		cmocka_unit_test(test_sig_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
