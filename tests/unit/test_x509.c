/* Unit tests for agent/x509.c: subject and SAN parsing, PKCS#10 requests
 * (RFC 2986) signed through the callback by a software P-256/P-384 key and
 * checked with OpenSSL, and certificate/key matching.
 *
 * OpenSSL's allocator is replaced by a counting one (main() installs it
 * before anything else touches libcrypto) so error paths can be checked for
 * leaked OpenSSL objects: tests/lsan.supp suppresses every leak whose stack
 * goes through libcrypto, so LSan alone would not see them. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/format/ec.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"

/* --- counting allocator for libcrypto ------------------------------------ */

static long live_allocs;

static void *
count_malloc(size_t n, const char *file, int line)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p != NULL)
		live_allocs++;
	return p;
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	void *q;

	if (p == NULL)
		return count_malloc(n, file, line);
	if (n == 0) {
		free(p);
		live_allocs--;
		return NULL;
	}
	q = realloc(p, n);
	return q;
}

static void
count_free(void *p, const char *file, int line)
{
	if (p != NULL) {
		free(p);
		live_allocs--;
	}
}

/* --- helpers --------------------------------------------------------------- */

static void
assert_errmsg_has(int r, const char *needle)
{
	const char *msg = tpmid_errmsg(r);

	if (strstr(msg, needle) == NULL)
		fail_msg("error message \"%s\" does not contain \"%s\"", msg, needle);
}

static void
assert_entry(X509_NAME *nm, int idx, int nid, const char *value)
{
	X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, idx);
	const ASN1_STRING *d;

	assert_non_null(e);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), nid);
	d = X509_NAME_ENTRY_get_data(e);
	assert_int_equal(ASN1_STRING_length(d), strlen(value));
	assert_memory_equal(ASN1_STRING_get0_data(d), value, strlen(value));
}

static void
assert_gen_str(const GENERAL_NAME *g, int type, const char *value)
{
	const ASN1_STRING *s;
	int t;

	s = GENERAL_NAME_get0_value(g, &t);
	assert_int_equal(t, type);
	assert_int_equal(ASN1_STRING_length(s), strlen(value));
	assert_memory_equal(ASN1_STRING_get0_data(s), value, strlen(value));
}

static void
assert_gen_ip(const GENERAL_NAME *g, const uint8_t *ip, size_t len)
{
	const ASN1_OCTET_STRING *s;
	int t;

	s = GENERAL_NAME_get0_value(g, &t);
	assert_int_equal(t, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(s), len);
	assert_memory_equal(ASN1_STRING_get0_data(s), ip, len);
}

static EVP_PKEY *
keygen(enum tpmid_curve alg)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	    alg == CURVE_P384 ? "P-384" : "P-256");

	assert_non_null(k);
	return k;
}

static void
spki_der(EVP_PKEY *k, uint8_t **ret, size_t *ret_len)
{
	unsigned char *p = NULL;
	int n = i2d_PUBKEY(k, &p);

	assert_true(n > 0);
	*ret = malloc((size_t)n);
	assert_non_null(*ret);
	memcpy(*ret, p, (size_t)n);
	*ret_len = (size_t)n;
	OPENSSL_free(p);
}

static char *
bio_str(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s;

	assert_true(n > 0);
	s = strdup_n(data, (size_t)n);
	assert_non_null(s);
	return s;
}

static char *
spki_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	s = bio_str(b);
	BIO_free(b);
	return s;
}

/* A self-signed certificate for `k`. */
static char *
cert_pem(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *s;

	assert_non_null(x);
	assert_non_null(nm);
	assert_non_null(b);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"test", -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, nm), 1);
	assert_int_equal(X509_set_issuer_name(x, nm), 1);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	s = bio_str(b);
	BIO_free(b);
	X509_NAME_free(nm);
	X509_free(x);
	return s;
}

static char *
concat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* --- signing callback -------------------------------------------------------- */

struct signer {
	EVP_PKEY *key;
	size_t expect_len; /* digest length the callback must be handed */
	int fail;          /* return this instead of signing */
	int calls;
	uint8_t digest[EVP_MAX_MD_SIZE];
};

static int
sign_cb(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t **ret_der, size_t *ret_len)
{
	struct signer *s = ctx;
	EVP_PKEY_CTX *c;
	uint8_t *sig;
	size_t n = 0;

	s->calls++;
	assert_non_null(ret_der);
	assert_non_null(ret_len);
	assert_int_equal(digest_len, s->expect_len);
	memcpy(s->digest, digest, digest_len);
	if (s->fail != 0)
		return s->fail;
	assert_non_null(c = EVP_PKEY_CTX_new(s->key, NULL));
	assert_int_equal(EVP_PKEY_sign_init(c), 1);
	assert_int_equal(EVP_PKEY_sign(c, NULL, &n, digest, digest_len), 1);
	assert_non_null(sig = malloc(n));
	assert_int_equal(EVP_PKEY_sign(c, sig, &n, digest, digest_len), 1);
	EVP_PKEY_CTX_free(c);
	*ret_der = sig;
	*ret_len = n;
	return 0;
}

static X509_REQ *
read_req(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_REQ *req;

	assert_non_null(b);
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(req);
	return req;
}

/* --- x509_parse_subject ------------------------------------------------------ */

static void
test_subject_all_keys(void **state)
{
	X509_NAME *nm;

	(void)state;
	assert_int_equal(x509_parse_subject("CN=web,O=Example,OU=Ops,C=DE,ST=Bayern,"
	    "L=M\xc3\xbcnchen,DC=example,UID=u1,emailAddress=a@b.example,serialNumber=1234",
	    &nm), 0);
	assert_non_null(nm);
	assert_int_equal(X509_NAME_entry_count(nm), 10);
	/* Order as written, one RDN per component. */
	assert_entry(nm, 0, NID_commonName, "web");
	assert_entry(nm, 1, NID_organizationName, "Example");
	assert_entry(nm, 2, NID_organizationalUnitName, "Ops");
	assert_entry(nm, 3, NID_countryName, "DE");
	assert_entry(nm, 4, NID_stateOrProvinceName, "Bayern");
	assert_entry(nm, 5, NID_localityName, "M\xc3\xbcnchen");
	assert_entry(nm, 6, NID_domainComponent, "example");
	assert_entry(nm, 7, NID_userId, "u1");
	assert_entry(nm, 8, NID_pkcs9_emailAddress, "a@b.example");
	assert_entry(nm, 9, NID_serialNumber, "1234");
	assert_int_equal(X509_NAME_ENTRY_set(X509_NAME_get_entry(nm, 9)), 9);
	X509_NAME_free(nm);

	/* Long names and dotted OIDs OpenSSL knows. */
	assert_int_equal(x509_parse_subject("commonName=a,organizationName=b,2.5.4.11=c,"
	    "title=d", &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 4);
	assert_entry(nm, 0, NID_commonName, "a");
	assert_entry(nm, 1, NID_organizationName, "b");
	assert_entry(nm, 2, NID_organizationalUnitName, "c");
	assert_entry(nm, 3, NID_title, "d");
	X509_NAME_free(nm);

	/* A repeated key is a second RDN, not an error. */
	assert_int_equal(x509_parse_subject("DC=www,DC=example,DC=org", &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 3);
	assert_entry(nm, 2, NID_domainComponent, "org");
	X509_NAME_free(nm);
}

/* The header and `tpmid csr --help` promise any dotted OID, not only the
 * ones in OpenSSL's table. */
static void
test_subject_unknown_oid(void **state)
{
	X509_NAME *nm;
	X509_NAME_ENTRY *e;
	char txt[64];

	(void)state;
	assert_int_equal(x509_parse_subject("CN=a,1.3.6.1.4.1.55555.1.2=v", &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 2);
	e = X509_NAME_get_entry(nm, 1);
	assert_true(OBJ_obj2txt(txt, sizeof(txt), X509_NAME_ENTRY_get_object(e), 1) > 0);
	assert_string_equal(txt, "1.3.6.1.4.1.55555.1.2");
	assert_memory_equal(ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(e)), "v", 1);
	X509_NAME_free(nm);
}

static void
test_subject_escapes(void **state)
{
	X509_NAME *nm;

	(void)state;
	assert_int_equal(x509_parse_subject("CN=web,O=Example\\, Inc.,C=DE", &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 3);
	assert_entry(nm, 0, NID_commonName, "web");
	assert_entry(nm, 1, NID_organizationName, "Example, Inc.");
	assert_entry(nm, 2, NID_countryName, "DE");
	X509_NAME_free(nm);

	/* '\' escapes any character, including itself; a '=' in a value needs
	 * no escape (the first '=' splits). */
	assert_int_equal(x509_parse_subject("CN=a\\\\b\\,c\\d,O=x=y", &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 2);
	assert_entry(nm, 0, NID_commonName, "a\\b,cd");
	assert_entry(nm, 1, NID_organizationName, "x=y");
	X509_NAME_free(nm);

	/* Only escaped commas: one component. */
	assert_int_equal(x509_parse_subject("CN=\\,\\,", &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 1);
	assert_entry(nm, 0, NID_commonName, ",,");
	X509_NAME_free(nm);
}

static void
test_subject_whitespace(void **state)
{
	X509_NAME *nm;

	(void)state;
	/* Blanks around keys, values and separators go; inner blanks stay. */
	assert_int_equal(x509_parse_subject("  CN = web server  ,\tO=\tExample Inc \n, C =DE",
	    &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 3);
	assert_entry(nm, 0, NID_commonName, "web server");
	assert_entry(nm, 1, NID_organizationName, "Example Inc");
	assert_entry(nm, 2, NID_countryName, "DE");
	X509_NAME_free(nm);

	/* As implemented, trimming happens after unescaping, so an escaped
	 * trailing blank is trimmed too (RFC 4514 would keep it). */
	assert_int_equal(x509_parse_subject("CN=web\\ ", &nm), 0);
	assert_entry(nm, 0, NID_commonName, "web");
	X509_NAME_free(nm);
}

struct bad_subject {
	const char *in;
	const char *quoted; /* must appear in tpmid_errmsg() */
	const char *why;
};

static void
test_subject_rejects(void **state)
{
	static const struct bad_subject bad[] = {
		{ "", "empty subject", NULL },
		{ "web", "\"web\"", "KEY=VALUE" },
		{ "CN=web,garbage", "\"garbage\"", "KEY=VALUE" },
		{ "CN=web,O=Example, Inc.", "\" Inc.\"", "KEY=VALUE" },
		{ "CN=web,FOO=bar", "\"FOO=bar\"", "unknown attribute \"FOO\"" },
		{ "CN=web, foo bar = x ", "\" foo bar = x \"", "unknown attribute \"foo bar\"" },
		{ "=web", "\"=web\"", "unknown attribute \"\"" },
		{ "CN=", "\"CN=\"", "empty value" },
		{ "CN=  \t", "\"CN=  \t\"", "empty value" },
		{ "CN=web,", "\"\"", "KEY=VALUE" },
		{ ",CN=web", "\"\"", "KEY=VALUE" },
		{ "CN=web,,O=x", "\"\"", "KEY=VALUE" },
		{ "CN=web\\", "\"CN=web\\\"", "lone '\\'" },
		{ "C=DEU", "\"C=DEU\"", "two letters" },
		{ "2.5.4.6=D", "\"2.5.4.6=D\"", "value not allowed for C (two letters" },
		{ "emailAddress=\xc3\xbc@x", "\"emailAddress=\xc3\xbc@x\"", "not allowed" },
		{ "\xff\xfe", "\"\xff\xfe\"", "KEY=VALUE" },
	};
	X509_NAME *nm;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < ELEMENTSOF(bad); i++) {
		nm = (X509_NAME *)&nm; /* must be cleared */
		r = x509_parse_subject(bad[i].in, &nm);
		if (r != TPMID_E_INVAL)
			fail_msg("subject \"%s\": got %d", bad[i].in, r);
		assert_null(nm);
		assert_errmsg_has(r, bad[i].quoted);
		if (bad[i].why != NULL)
			assert_errmsg_has(r, bad[i].why);
		/* Nothing left in OpenSSL's error queue. */
		assert_int_equal(ERR_peek_error(), 0);
	}
	nm = (X509_NAME *)&nm;
	assert_int_equal(x509_parse_subject(NULL, &nm), TPMID_E_INVAL);
	assert_null(nm);
	assert_errmsg_has(TPMID_E_INVAL, "empty subject");
}

/* A component longer than the parser's buffer: rejected, and the message
 * quotes (the start of) what was written. */
static void
test_subject_too_long(void **state)
{
	char in[4096];
	X509_NAME *nm;
	int r;

	(void)state;
	memcpy(in, "CN=", 3);
	memset(in + 3, 'a', sizeof(in) - 4);
	in[sizeof(in) - 1] = '\0';
	r = x509_parse_subject(in, &nm);
	assert_int_equal(r, TPMID_E_INVAL);
	assert_null(nm);
	assert_errmsg_has(r, "too long");
	assert_errmsg_has(r, "\"CN=aaaaaaaa");

	/* Long, but under the limit (1023 bytes as written), is fine. */
	memset(in + 3, ' ', 1016);
	memcpy(in + 1019, "webx", 5);
	assert_int_equal(strlen(in), 1023);
	assert_int_equal(x509_parse_subject(in, &nm), 0);
	assert_int_equal(X509_NAME_entry_count(nm), 1);
	assert_entry(nm, 0, NID_commonName, "webx");
	X509_NAME_free(nm);
	/* One byte more is too long. */
	memcpy(in + 1019, "webxy", 6);
	assert_int_equal(x509_parse_subject(in, &nm), TPMID_E_INVAL);
	assert_errmsg_has(TPMID_E_INVAL, "too long");

}

static void
test_subject_no_leak_on_error(void **state)
{
	X509_NAME *nm;
	long before;

	(void)state;
	/* Warm OpenSSL's lazily built tables and error queue first. */
	assert_int_equal(x509_parse_subject("CN=a,C=DEU", &nm), TPMID_E_INVAL);
	before = live_allocs;
	assert_int_equal(x509_parse_subject("CN=a,O=b,C=DEU", &nm), TPMID_E_INVAL);
	assert_int_equal(x509_parse_subject("CN=a,O=b,FOO=c", &nm), TPMID_E_INVAL);
	assert_int_equal(x509_parse_subject("CN=a,O=b,", &nm), TPMID_E_INVAL);
	assert_int_equal(live_allocs, before);
	/* And OpenSSL's error queue is left clean. */
	assert_int_equal(ERR_peek_error(), 0);
}

/* --- x509_parse_san ---------------------------------------------------------- */

static const uint8_t ip4[] = { 192, 0, 2, 1 };
static const uint8_t ip6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t ip6_v4[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7 };

static void
test_san_types(void **state)
{
	GENERAL_NAMES *g;

	(void)state;
	assert_int_equal(x509_parse_san("DNS:a.example,IP:192.0.2.1,IP:2001:db8::1,"
	    "URI:spiffe://example.org/web,email:a@b.example,IP:::ffff:192.0.2.7", &g), 0);
	assert_non_null(g);
	assert_int_equal(sk_GENERAL_NAME_num(g), 6);
	assert_gen_str(sk_GENERAL_NAME_value(g, 0), GEN_DNS, "a.example");
	assert_gen_ip(sk_GENERAL_NAME_value(g, 1), ip4, sizeof(ip4));
	assert_gen_ip(sk_GENERAL_NAME_value(g, 2), ip6, sizeof(ip6));
	assert_gen_str(sk_GENERAL_NAME_value(g, 3), GEN_URI, "spiffe://example.org/web");
	assert_gen_str(sk_GENERAL_NAME_value(g, 4), GEN_EMAIL, "a@b.example");
	assert_gen_ip(sk_GENERAL_NAME_value(g, 5), ip6_v4, sizeof(ip6_v4));
	GENERAL_NAMES_free(g);

	/* Types are case-insensitive; blanks around type and value go; a '\'
	 * escapes a comma inside a value. */
	assert_int_equal(x509_parse_san(" dns : a.example ,Ip:192.0.2.1,EMAIL:x@y,"
	    "uri:https://x.example/?a=1\\,2", &g), 0);
	assert_int_equal(sk_GENERAL_NAME_num(g), 4);
	assert_gen_str(sk_GENERAL_NAME_value(g, 0), GEN_DNS, "a.example");
	assert_gen_ip(sk_GENERAL_NAME_value(g, 1), ip4, sizeof(ip4));
	assert_gen_str(sk_GENERAL_NAME_value(g, 2), GEN_EMAIL, "x@y");
	assert_gen_str(sk_GENERAL_NAME_value(g, 3), GEN_URI, "https://x.example/?a=1,2");
	GENERAL_NAMES_free(g);

	/* Single entry. */
	assert_int_equal(x509_parse_san("DNS:*.example", &g), 0);
	assert_int_equal(sk_GENERAL_NAME_num(g), 1);
	assert_gen_str(sk_GENERAL_NAME_value(g, 0), GEN_DNS, "*.example");
	GENERAL_NAMES_free(g);
}

static void
test_san_rejects(void **state)
{
	static const struct bad_subject bad[] = {
		{ "", "empty SAN list", NULL },
		{ "a.example", "\"a.example\"", "TYPE:VALUE" },
		{ "DNS:a,b.example", "\"b.example\"", "TYPE:VALUE" },
		{ "RID:1.2.3", "\"RID:1.2.3\"", "unknown type \"RID\"" },
		{ "otherName:1.2.3;UTF8:x", "\"otherName:1.2.3;UTF8:x\"", "unknown type" },
		{ "dirName:sect", "\"dirName:sect\"", "unknown type" },
		{ ":a.example", "\":a.example\"", "unknown type \"\"" },
		{ "DNS:", "\"DNS:\"", "not a valid DNS value" },
		{ "DNS:  ", "\"DNS:  \"", "not a valid DNS value" },
		{ "URI:", "\"URI:\"", "not a valid URI value" },
		{ "email:", "\"email:\"", "not a valid email value" },
		{ "IP:", "\"IP:\"", "not a valid IP value" },
		{ "IP:256.0.0.1", "\"IP:256.0.0.1\"", "not a valid IP value" },
		{ "IP:192.0.2", "\"IP:192.0.2\"", "not a valid IP value" },
		{ "IP:192.0.2.1.5", "\"IP:192.0.2.1.5\"", "not a valid IP value" },
		{ "IP:192.0.2.1/24", "\"IP:192.0.2.1/24\"", "not a valid IP value" },
		{ "IP:web.example", "\"IP:web.example\"", "not a valid IP value" },
		{ "IP:2001:db8:::1", "\"IP:2001:db8:::1\"", "not a valid IP value" },
		{ "IP:2001:db8::g", "\"IP:2001:db8::g\"", "not a valid IP value" },
		{ "IP:1:2:3:4:5:6:7:8:9", "\"IP:1:2:3:4:5:6:7:8:9\"", "not a valid IP value" },
		{ "IP:fe80::1%eth0", "\"IP:fe80::1%eth0\"", "not a valid IP value" },
		{ "DNS:a.example,", "\"\"", "TYPE:VALUE" },
		{ ",DNS:a.example", "\"\"", "TYPE:VALUE" },
		{ "DNS:a.example,,DNS:b.example", "\"\"", "TYPE:VALUE" },
		{ "DNS:a.example, ,DNS:b.example", "\" \"", "TYPE:VALUE" },
		{ "DNS:a.example\\", "\"DNS:a.example\\\"", "lone '\\'" },
	};
	GENERAL_NAMES *g;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < ELEMENTSOF(bad); i++) {
		g = (GENERAL_NAMES *)&g;
		r = x509_parse_san(bad[i].in, &g);
		if (r != TPMID_E_INVAL)
			fail_msg("SAN \"%s\": got %d", bad[i].in, r);
		assert_null(g);
		assert_errmsg_has(r, bad[i].quoted);
		if (bad[i].why != NULL)
			assert_errmsg_has(r, bad[i].why);
		assert_int_equal(ERR_peek_error(), 0);
	}
	g = (GENERAL_NAMES *)&g;
	assert_int_equal(x509_parse_san(NULL, &g), TPMID_E_INVAL);
	assert_null(g);
	assert_errmsg_has(TPMID_E_INVAL, "empty SAN list");
}

static void
test_san_too_long(void **state)
{
	char in[2048];
	GENERAL_NAMES *g;
	int r;

	(void)state;
	memcpy(in, "DNS:a,DNS:", 10);
	memset(in + 10, 'b', sizeof(in) - 11);
	in[sizeof(in) - 1] = '\0';
	r = x509_parse_san(in, &g);
	assert_int_equal(r, TPMID_E_INVAL);
	assert_null(g);
	assert_errmsg_has(r, "too long");
	assert_errmsg_has(r, "\"DNS:bbbbbbbb");
}

static void
test_san_no_leak_on_error(void **state)
{
	GENERAL_NAMES *g;
	long before;

	(void)state;
	assert_int_equal(x509_parse_san("DNS:a,IP:1.2.3.4,IP:x", &g), TPMID_E_INVAL);
	before = live_allocs;
	/* Entries already parsed are freed with the list. */
	assert_int_equal(x509_parse_san("DNS:a,IP:1.2.3.4,URI:u,IP:x", &g), TPMID_E_INVAL);
	assert_int_equal(x509_parse_san("DNS:a,email:b,FOO:c", &g), TPMID_E_INVAL);
	assert_int_equal(x509_parse_san("DNS:a,email:b,", &g), TPMID_E_INVAL);
	assert_int_equal(live_allocs, before);
	assert_int_equal(ERR_peek_error(), 0);
}

/* --- x509_csr_make ------------------------------------------------------------ */

static void
csr_roundtrip(enum tpmid_curve alg, const EVP_MD *md, int sig_nid)
{
	EVP_PKEY *k = keygen(alg);
	struct signer s = { .key = k, .expect_len = (size_t)EVP_MD_get_size(md) };
	uint8_t *spki, dg[EVP_MAX_MD_SIZE];
	unsigned char *tbs = NULL;
	unsigned int dg_len;
	size_t spki_len;
	char *pem;
	X509_REQ *req;
	const X509_ALGOR *algo;
	const ASN1_BIT_STRING *sig;
	const ASN1_OBJECT *obj;
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *gens;
	X509_NAME *nm;
	int ptype, crit, tbs_len;

	spki_der(k, &spki, &spki_len);
	assert_int_equal(x509_csr_make(spki, spki_len, alg, "CN=web,O=Example\\, Inc.,C=DE",
	    "DNS:web.example,IP:192.0.2.1,IP:2001:db8::1,URI:spiffe://example.org/web,"
	    "email:ops@example.org", sign_cb, &s, &pem), 0);
	assert_int_equal(s.calls, 1);
	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----\n"));
	assert_int_equal(ERR_peek_error(), 0);

	req = read_req(pem);
	assert_int_equal(X509_REQ_get_version(req), X509_REQ_VERSION_1);
	assert_int_equal(X509_REQ_verify(req, k), 1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), k), 1);

	/* RFC 5758 section 3.2: ecdsa-with-SHA256/384, parameters absent. */
	X509_REQ_get0_signature(req, &sig, &algo);
	X509_ALGOR_get0(&obj, &ptype, NULL, algo);
	assert_int_equal(OBJ_obj2nid(obj), sig_nid);
	assert_int_equal(ptype, V_ASN1_UNDEF);
	assert_int_equal(X509_REQ_get_signature_nid(req), sig_nid);

	/* The callback was handed the right hash of CertificationRequestInfo. */
	assert_true((tbs_len = i2d_re_X509_REQ_tbs(req, &tbs)) > 0);
	assert_int_equal(EVP_Digest(tbs, (size_t)tbs_len, dg, &dg_len, md, NULL), 1);
	assert_int_equal(dg_len, s.expect_len);
	assert_memory_equal(dg, s.digest, dg_len);
	OPENSSL_free(tbs);

	nm = X509_REQ_get_subject_name(req);
	assert_int_equal(X509_NAME_entry_count(nm), 3);
	assert_entry(nm, 0, NID_commonName, "web");
	assert_entry(nm, 1, NID_organizationName, "Example, Inc.");
	assert_entry(nm, 2, NID_countryName, "DE");

	assert_non_null(exts = X509_REQ_get_extensions(req));
	assert_int_equal(sk_X509_EXTENSION_num(exts), 1);
	assert_non_null(gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL));
	assert_int_equal(crit, 0);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 5);
	assert_gen_str(sk_GENERAL_NAME_value(gens, 0), GEN_DNS, "web.example");
	assert_gen_ip(sk_GENERAL_NAME_value(gens, 1), ip4, sizeof(ip4));
	assert_gen_ip(sk_GENERAL_NAME_value(gens, 2), ip6, sizeof(ip6));
	assert_gen_str(sk_GENERAL_NAME_value(gens, 3), GEN_URI, "spiffe://example.org/web");
	assert_gen_str(sk_GENERAL_NAME_value(gens, 4), GEN_EMAIL, "ops@example.org");
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	free(pem);

	/* Without SANs: no extension request attribute at all. */
	s.calls = 0;
	assert_int_equal(x509_csr_make(spki, spki_len, alg, "CN=bare", NULL, sign_cb, &s, &pem),
	    0);
	assert_int_equal(s.calls, 1);
	req = read_req(pem);
	assert_int_equal(X509_REQ_verify(req, k), 1);
	assert_int_equal(X509_REQ_get_signature_nid(req), sig_nid);
	assert_int_equal(X509_REQ_get_attr_count(req), 0);
	assert_entry(X509_REQ_get_subject_name(req), 0, NID_commonName, "bare");
	X509_REQ_free(req);
	free(pem);

	free(spki);
	EVP_PKEY_free(k);
}

static void
test_csr_p256(void **state)
{
	(void)state;
	csr_roundtrip(CURVE_P256, EVP_sha256(), NID_ecdsa_with_SHA256);
}

static void
test_csr_p384(void **state)
{
	(void)state;
	csr_roundtrip(CURVE_P384, EVP_sha384(), NID_ecdsa_with_SHA384);
}

/* Signed by a key other than the one in the request: x509.c sets the
 * signature as given, and the request does not verify. */
static void
test_csr_wrong_signer(void **state)
{
	EVP_PKEY *k = keygen(CURVE_P256), *other = keygen(CURVE_P256);
	struct signer s = { .key = other, .expect_len = 32 };
	uint8_t *spki;
	size_t spki_len;
	X509_REQ *req;
	char *pem;

	(void)state;
	spki_der(k, &spki, &spki_len);
	assert_int_equal(x509_csr_make(spki, spki_len, CURVE_P256, "CN=x", NULL, sign_cb,
	    &s, &pem), 0);
	req = read_req(pem);
	assert_int_not_equal(X509_REQ_verify(req, k), 1);
	ERR_clear_error();
	X509_REQ_free(req);
	free(pem);
	free(spki);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}

static void
test_csr_sign_fails(void **state)
{
	EVP_PKEY *k = keygen(CURVE_P384);
	struct signer s = { .key = k, .expect_len = 48 };
	uint8_t *spki;
	size_t spki_len;
	char *pem;
	long before;
	int r;

	(void)state;
	spki_der(k, &spki, &spki_len);
	/* Warm-up with the same inputs, so lazily built OpenSSL state does
	 * not count as a leak below. */
	assert_int_equal(x509_csr_make(spki, spki_len, CURVE_P384, "CN=x,O=y",
	    "DNS:a,IP:192.0.2.1", sign_cb, &s, &pem), 0);
	free(pem);

	before = live_allocs;
	s.calls = 0;
	s.fail = tpmid_seterr(TPMID_E_LOCKED, "key 'web' is locked");
	pem = (char *)&pem;
	r = x509_csr_make(spki, spki_len, CURVE_P384, "CN=x,O=y", "DNS:a,IP:192.0.2.1",
	    sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_LOCKED);
	assert_int_equal(s.calls, 1);
	assert_null(pem);
	/* The callback's detail survives. */
	assert_string_equal(tpmid_errmsg(r), "key 'web' is locked");
	assert_int_equal(live_allocs, before);
	assert_int_equal(ERR_peek_error(), 0);

	s.fail = TPMID_E_TPM;
	assert_int_equal(x509_csr_make(spki, spki_len, CURVE_P384, "CN=x", NULL, sign_cb,
	    &s, &pem), TPMID_E_TPM);
	assert_null(pem);
	assert_int_equal(live_allocs, before);

	free(spki);
	EVP_PKEY_free(k);
}

/* Bad inputs fail before anything is signed. */
static void
test_csr_rejects(void **state)
{
	EVP_PKEY *k = keygen(CURVE_P256);
	struct signer s = { .key = k, .expect_len = 32 };
	uint8_t *spki, junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	size_t spki_len;
	char *pem;
	long before;
	int r;

	(void)state;
	spki_der(k, &spki, &spki_len);
	before = live_allocs;

	pem = (char *)&pem;
	r = x509_csr_make(spki, spki_len, CURVE_NONE, "CN=x", NULL, sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_CURVE);
	assert_null(pem);
	r = x509_csr_make(spki, spki_len, (enum tpmid_curve)99, "CN=x", NULL, sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_CURVE);

	pem = (char *)&pem;
	r = x509_csr_make(spki, spki_len, CURVE_P256, "CN=x,bogus", NULL, sign_cb, &s,
	    &pem);
	assert_int_equal(r, TPMID_E_INVAL);
	assert_null(pem);
	assert_errmsg_has(r, "\"bogus\"");

	r = x509_csr_make(spki, spki_len, CURVE_P256, "", NULL, sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_INVAL);

	r = x509_csr_make(spki, spki_len, CURVE_P256, "CN=x", "DNS:a,IP:999.1.1.1",
	    sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_INVAL);
	assert_null(pem);
	assert_errmsg_has(r, "\"IP:999.1.1.1\"");

	/* An empty (not NULL) SAN list is an error, not "no SANs". */
	r = x509_csr_make(spki, spki_len, CURVE_P256, "CN=x", "", sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_INVAL);

	r = x509_csr_make(junk, sizeof(junk), CURVE_P256, "CN=x", NULL, sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_null(pem);
	r = x509_csr_make(spki, spki_len - 1, CURVE_P256, "CN=x", NULL, sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_FORMAT);
	r = x509_csr_make(spki, 0, CURVE_P256, "CN=x", NULL, sign_cb, &s, &pem);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_errmsg_has(r, "public key does not parse");

	assert_int_equal(s.calls, 0);
	assert_int_equal(ERR_peek_error(), 0);
	/* Allow for OpenSSL's first-use state (decoders fetched by the first
	 * d2i_PUBKEY); run the whole set again and require no growth. */
	before = live_allocs;
	(void)x509_csr_make(spki, spki_len, CURVE_P256, "CN=x,bogus", NULL, sign_cb, &s,
	    &pem);
	(void)x509_csr_make(spki, spki_len, CURVE_P256, "CN=x", "DNS:a,IP:999.1.1.1",
	    sign_cb, &s, &pem);
	(void)x509_csr_make(junk, sizeof(junk), CURVE_P256, "CN=x", "DNS:a", sign_cb, &s,
	    &pem);
	assert_int_equal(live_allocs, before);

	free(spki);
	EVP_PKEY_free(k);
}

/* --- x509_cert_matches / x509_cert_matches_spki ------------------------------ */

static void
test_cert_matches(void **state)
{
	EVP_PKEY *k = keygen(CURVE_P256), *other = keygen(CURVE_P256),
		 *k384 = keygen(CURVE_P384);
	char *cert = cert_pem(k), *cert_other = cert_pem(other), *cert384 = cert_pem(k384);
	char *pub = spki_pem(k), *norm, *messy;
	uint8_t *spki;
	size_t spki_len;
	long before;

	(void)state;
	spki_der(k, &spki, &spki_len);

	assert_int_equal(x509_cert_matches(cert, pub, NULL), 0);
	assert_int_equal(x509_cert_matches(cert, pub, &norm), 0);
	assert_string_equal(norm, cert);
	free(norm);
	assert_int_equal(x509_cert_matches_spki(cert, spki, spki_len), 0);

	/* A text dump before and junk after are dropped from the copy. */
	messy = concat3("Certificate:\n    Data: ...\n", cert, "trailing junk\n");
	assert_int_equal(x509_cert_matches(messy, pub, &norm), 0);
	assert_string_equal(norm, cert);
	free(norm);
	free(messy);

	/* Another key, same curve and other curve. */
	norm = (char *)&norm;
	assert_int_equal(x509_cert_matches(cert_other, pub, &norm), TPMID_E_MISMATCH);
	assert_null(norm);
	assert_errmsg_has(TPMID_E_MISMATCH, "does not match");
	assert_int_equal(x509_cert_matches(cert384, pub, NULL), TPMID_E_MISMATCH);
	assert_int_equal(x509_cert_matches_spki(cert_other, spki, spki_len), TPMID_E_MISMATCH);
	assert_int_equal(x509_cert_matches_spki(cert384, spki, spki_len), TPMID_E_MISMATCH);
	assert_int_equal(ERR_peek_error(), 0);

	before = live_allocs;
	assert_int_equal(x509_cert_matches(cert_other, pub, NULL), TPMID_E_MISMATCH);
	assert_int_equal(x509_cert_matches_spki(cert384, spki, spki_len), TPMID_E_MISMATCH);
	assert_int_equal(live_allocs, before);

	free(spki);
	free(pub);
	free(cert384);
	free(cert_other);
	free(cert);
	EVP_PKEY_free(k384);
	EVP_PKEY_free(other);
	EVP_PKEY_free(k);
}

static void
test_cert_matches_garbage(void **state)
{
	static const char *const junk_certs[] = {
		"",
		"garbage",
		"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
	};
	EVP_PKEY *k = keygen(CURVE_P256);
	char *cert = cert_pem(k), *pub = spki_pem(k), *norm, *truncated;
	uint8_t *spki;
	size_t spki_len, i;
	long before;

	(void)state;
	spki_der(k, &spki, &spki_len);
	for (i = 0; i < ELEMENTSOF(junk_certs); i++) {
		norm = (char *)&norm;
		assert_int_equal(x509_cert_matches(junk_certs[i], pub, &norm), TPMID_E_FORMAT);
		assert_null(norm);
		assert_errmsg_has(TPMID_E_FORMAT, "not a PEM X.509 certificate");
		assert_int_equal(x509_cert_matches_spki(junk_certs[i], spki, spki_len),
		    TPMID_E_FORMAT);
	}
	/* A truncated certificate. */
	truncated = strdup(cert);
	truncated[strlen(truncated) / 2] = '\0';
	assert_int_equal(x509_cert_matches(truncated, pub, NULL), TPMID_E_FORMAT);
	free(truncated);
	/* A public key where the certificate should be. */
	assert_int_equal(x509_cert_matches(pub, pub, NULL), TPMID_E_FORMAT);

	/* Good certificate, bad key. */
	norm = (char *)&norm;
	assert_int_equal(x509_cert_matches(cert, "garbage", &norm), TPMID_E_FORMAT);
	assert_null(norm);
	assert_errmsg_has(TPMID_E_FORMAT, "public key does not parse");
	assert_int_equal(x509_cert_matches(cert, NULL, NULL), TPMID_E_FORMAT);
	/* A certificate where the public key should be. */
	assert_int_equal(x509_cert_matches(cert, cert, NULL), TPMID_E_FORMAT);
	assert_int_equal(x509_cert_matches_spki(cert, (const uint8_t *)"\x30\x00", 2),
	    TPMID_E_FORMAT);
	assert_int_equal(x509_cert_matches_spki(cert, spki, spki_len - 1), TPMID_E_FORMAT);
	assert_int_equal(x509_cert_matches_spki(cert, spki, 0), TPMID_E_FORMAT);
	assert_int_equal(ERR_peek_error(), 0);

	before = live_allocs;
	assert_int_equal(x509_cert_matches(junk_certs[3], pub, NULL), TPMID_E_FORMAT);
	assert_int_equal(x509_cert_matches(cert, "garbage", NULL), TPMID_E_FORMAT);
	assert_int_equal(x509_cert_matches_spki(cert, spki, spki_len - 1), TPMID_E_FORMAT);
	assert_int_equal(live_allocs, before);

	free(spki);
	free(pub);
	free(cert);
	EVP_PKEY_free(k);
}

/* --- x509_bundle_normalize ---------------------------------------------------- */

static void
test_bundle_normalize(void **state)
{
	EVP_PKEY *a = keygen(CURVE_P256), *b = keygen(CURVE_P384);
	char *ca = cert_pem(a), *cb = cert_pem(b), *in, *both, *out, *broken;

	(void)state;
	in = concat3("# CA one\n", ca, "\n# CA two\n");
	both = concat3(in, cb, "\n");
	assert_int_equal(x509_bundle_normalize(both, &out), 0);
	free(in);
	in = concat3(ca, cb, "");
	assert_string_equal(out, in);
	free(out);
	free(in);
	free(both);

	assert_int_equal(x509_bundle_normalize(ca, &out), 0);
	assert_string_equal(out, ca);
	free(out);

	out = (char *)&out;
	assert_int_equal(x509_bundle_normalize("", &out), TPMID_E_FORMAT);
	assert_null(out);
	assert_errmsg_has(TPMID_E_FORMAT, "no PEM certificate");
	assert_int_equal(x509_bundle_normalize("just text\n", &out), TPMID_E_FORMAT);

	/* A good block followed by a broken one names the broken one. */
	broken = concat3(ca, "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n", "-----END CERTIFICATE-----\n");
	out = (char *)&out;
	assert_int_equal(x509_bundle_normalize(broken, &out), TPMID_E_FORMAT);
	assert_null(out);
	assert_errmsg_has(TPMID_E_FORMAT, "certificate 2");
	free(broken);
	assert_int_equal(ERR_peek_error(), 0);

	free(cb);
	free(ca);
	EVP_PKEY_free(b);
	EVP_PKEY_free(a);
}

/* --- encrypted PEM blocks -------------------------------------------------- */

/* `pem` with RFC 1421 encryption headers after its BEGIN line. */
static char *
mark_encrypted(const char *pem)
{
	static const char hdr[] = "Proc-Type: 4,ENCRYPTED\n"
	    "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n";
	const char *nl = strchr(pem, '\n');
	char *head, *s;

	assert_non_null(nl);
	head = strdup_n(pem, (size_t)(nl + 1 - pem));
	assert_non_null(head);
	s = concat3(head, hdr, nl + 1);
	free(head);
	return s;
}

/* A certificate, CA bundle or public key marked encrypted is refused as
 * malformed; nothing asks for a passphrase. With OpenSSL's default
 * callback the agent (set-cert) and the CLI (cert --set) used to prompt
 * "Enter PEM pass phrase:" on their terminal, or read the line from
 * standard input, which is where this test looks. */
static void
test_encrypted_pem_no_prompt(void **state)
{
	EVP_PKEY *k = keygen(CURVE_P256);
	char *cert = cert_pem(k), *pub = spki_pem(k);
	char *enc_cert = mark_encrypted(cert), *enc_pub = mark_encrypted(pub), *both, *out;
	uint8_t *spki, *der;
	size_t spki_len, der_len;
	int fds[2], saved;
	char c;

	(void)state;
	spki_der(k, &spki, &spki_len);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "passphrase\n", 11), 11);
	close(fds[1]);
	fflush(stdout);
	assert_true((saved = dup(STDIN_FILENO)) >= 0);
	assert_true(dup2(fds[0], STDIN_FILENO) >= 0);
	close(fds[0]);

	assert_int_equal(x509_cert_matches(enc_cert, pub, NULL), TPMID_E_FORMAT);
	assert_int_equal(x509_cert_matches_spki(enc_cert, spki, spki_len), TPMID_E_FORMAT);
	out = (char *)&out;
	assert_int_equal(x509_bundle_normalize(enc_cert, &out), TPMID_E_FORMAT);
	assert_null(out);
	assert_int_equal(x509_cert_matches(cert, enc_pub, NULL), TPMID_E_FORMAT);
	assert_int_equal(ec_spki_from_pem(enc_pub, &der, &der_len), TPMID_E_FORMAT);
	/* The broken second block of a bundle too. */
	both = concat3(cert, enc_cert, "");
	assert_int_equal(x509_bundle_normalize(both, &out), TPMID_E_FORMAT);
	assert_errmsg_has(TPMID_E_FORMAT, "certificate 2");
	free(both);
	assert_int_equal(ERR_peek_error(), 0);

	/* Standard input still holds what was written to it. */
	assert_int_equal(read(STDIN_FILENO, &c, 1), 1);
	assert_int_equal(c, 'p');
	assert_true(dup2(saved, STDIN_FILENO) >= 0);
	close(saved);

	free(spki);
	free(enc_pub);
	free(enc_cert);
	free(pub);
	free(cert);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject_all_keys),
		cmocka_unit_test(test_subject_unknown_oid),
		cmocka_unit_test(test_subject_escapes),
		cmocka_unit_test(test_subject_whitespace),
		cmocka_unit_test(test_subject_rejects),
		cmocka_unit_test(test_subject_too_long),
		cmocka_unit_test(test_subject_no_leak_on_error),
		cmocka_unit_test(test_san_types),
		cmocka_unit_test(test_san_rejects),
		cmocka_unit_test(test_san_too_long),
		cmocka_unit_test(test_san_no_leak_on_error),
		cmocka_unit_test(test_csr_p256),
		cmocka_unit_test(test_csr_p384),
		cmocka_unit_test(test_csr_wrong_signer),
		cmocka_unit_test(test_csr_sign_fails),
		cmocka_unit_test(test_csr_rejects),
		cmocka_unit_test(test_cert_matches),
		cmocka_unit_test(test_cert_matches_garbage),
		cmocka_unit_test(test_bundle_normalize),
		cmocka_unit_test(test_encrypted_pem_no_prompt),
	};

	/* Before anything allocates through libcrypto. */
	if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) != 1) {
		fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
