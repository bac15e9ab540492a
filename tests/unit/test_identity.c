/* Unit tests for store/identity.c: identity JSON parse, validate, rewrite. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/err.h"
#include "common/util.h"
#include "store/identity.h"

/* tpm2-openssl P-256 key (see test_keyfile.c), JSON-escaped. */
#define KEY_JSON \
	"-----BEGIN TSS2 PRIVATE KEY-----\\n" \
	"MIHwBgZngQUKAQOgAwEBAQIEQAAAAQRYAFYAIwALAAYAcgAAABAAEAADABAAIIKy\\n" \
	"FtpmjZpZvDIIX8jAkSPI2xpVM99PDMtgHKbx4K/oACAXsFRW7QmRJduXzW89btmc\\n" \
	"BuPZVE07HU8j6OqDH2vsjASBgAB+ACB7+ET080oE/9QeoAu/WM+Pe9BRNJvH4CGX\\n" \
	"KFNMDUf3VgAQz59brg8z4Vq9HqWXr35mOCE4wy2QDjbnVhr515xS4+msQIhKC0kQ\\n" \
	"T8ZrRpHBmVSKDNyR4QKlVtBG8jSvw33ZA4M49YGDjt9RpKkpRBBhkdvelIABOzDy\\n" \
	"vvBz\\n" \
	"-----END TSS2 PRIVATE KEY-----\\n"
#define KEY_PEM_START "-----BEGIN TSS2 PRIVATE KEY-----\nMIHw"

#define CERT_JSON "-----BEGIN CERTIFICATE-----\\nMIIBfake\\n-----END CERTIFICATE-----\\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
#define PKCS11_URI "pkcs11:///usr/lib/x86_64-linux-gnu/pkcs11/libtpmid-pkcs11.so?id=%01"

static const char full_doc[] =
	"{\n"
	"  \"ztAPI\": \"https://ctrl.example.net:1280\",\n"
	"  \"x-top\": { \"a\": [1, 2, {\"b\": null}] },\n"
	"  \"id\": {\n"
	"    \"cert\": \"pem:" CERT_JSON "\",\n"
	"    \"key\": \"" PKCS11_URI "\",\n"
	"    \"ca\": \"pem:" CERT_JSON "\",\n"
	"    \"x-id\": true\n"
	"  },\n"
	"  \"tpmid\": {\n"
	"    \"version\": 1,\n"
	"    \"name\": \"ziggy\",\n"
	"    \"alg\": \"ecdsa-p384\",\n"
	"    \"auth\": \"pin\",\n"
	"    \"key\": \"" KEY_JSON "\",\n"
	"    \"handle\": \"0x81000010\",\n"
	"    \"parent_name\": \"000bA1b2\",\n"
	"    \"public_key\": \"-----BEGIN PUBLIC KEY-----\\nX\\n-----END PUBLIC KEY-----\\n\",\n"
	"    \"ssh_cert\": \"ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA\",\n"
	"    \"allowed_uids\": [1001, 0],\n"
	"    \"allowed_gids\": [100],\n"
	"    \"x-tpmid\": \"keep me\"\n"
	"  },\n"
	"  \"x-last\": 3.5\n"
	"}\n";

static void
assert_detail_has(int r, const char *needle)
{
	const char *msg = tpmid_errmsg(r);

	if (strstr(msg, needle) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", msg, needle);
}

static json_object *
get_path(json_object *o, const char *a, const char *b)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

static void
test_parse_full(void **state)
{
	struct identity *id = NULL;

	(void)state;
	assert_int_equal(identity_parse(full_doc, strlen(full_doc), "ziggy", &id), 0);
	assert_string_equal(id->name, "ziggy");
	assert_int_equal(id->alg, CURVE_P384);
	assert_int_equal(id->pin, 1);
	assert_non_null(id->key_pem);
	assert_memory_equal(id->key_pem, KEY_PEM_START, strlen(KEY_PEM_START));
	assert_int_equal(id->handle, 0x81000010);
	assert_int_equal(id->parent_name_len, 4);
	assert_memory_equal(id->parent_name, "\x00\x0b\xa1\xb2", 4);
	assert_string_equal(id->public_key_pem,
	    "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n");
	assert_string_equal(id->cert_pem, CERT_PEM);
	assert_string_equal(id->ca_pem, CERT_PEM);
	assert_string_equal(id->id_key, PKCS11_URI);
	assert_string_equal(id->ssh_cert, "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA");
	assert_int_equal(id->n_allowed_uids, 2);
	assert_int_equal(id->allowed_uids[0], 1001);
	assert_int_equal(id->allowed_uids[1], 0);
	assert_int_equal(id->n_allowed_gids, 1);
	assert_int_equal(id->allowed_gids[0], 100);
	identity_free(id);

	/* Without an expected name the file's own is taken. */
	assert_int_equal(identity_parse(full_doc, strlen(full_doc), NULL, &id), 0);
	assert_string_equal(id->name, "ziggy");
	identity_free(id);
}

static void
test_roundtrip_unknown_fields(void **state)
{
	struct identity *id = NULL, *id2 = NULL;
	char *out = NULL, *out2 = NULL;
	json_object *doc, *v;

	(void)state;
	assert_int_equal(identity_parse(full_doc, strlen(full_doc), "ziggy", &id), 0);
	assert_int_equal(identity_serialize(id, &out), 0);

	/* Readable: 2-space indent, trailing newline, PEM slashes unescaped. */
	assert_true(out[strlen(out) - 1] == '\n');
	assert_non_null(strstr(out, "\n  \"tpmid\": {\n    \"version\": 1,"));
	assert_null(strstr(out, "\\/"));
	assert_non_null(strstr(out, "K/oACAX"));

	doc = json_tokener_parse(out);
	assert_non_null(doc);
	/* Unknown members at all three levels. */
	v = get_path(doc, "x-top", "a");
	assert_non_null(v);
	assert_int_equal(json_object_array_length(v), 3);
	v = get_path(doc, "x-last", NULL);
	assert_true(v != NULL && json_object_get_double(v) == 3.5);
	v = get_path(doc, "id", "x-id");
	assert_true(v != NULL && json_object_get_boolean(v));
	v = get_path(doc, "tpmid", "x-tpmid");
	assert_non_null(v);
	assert_string_equal(json_object_get_string(v), "keep me");
	v = get_path(doc, "ztAPI", NULL);
	assert_string_equal(json_object_get_string(v), "https://ctrl.example.net:1280");
	/* Ours, written back canonically. */
	assert_string_equal(json_object_get_string(get_path(doc, "tpmid", "parent_name")),
	    "000ba1b2");
	assert_string_equal(json_object_get_string(get_path(doc, "tpmid", "handle")),
	    "0x81000010");
	assert_string_equal(json_object_get_string(get_path(doc, "id", "cert")),
	    "pem:" CERT_PEM);
	json_object_put(doc);

	/* A second round is a fixed point, and the order of members is the
	 * file's. */
	assert_int_equal(identity_parse(out, strlen(out), "ziggy", &id2), 0);
	assert_int_equal(identity_serialize(id2, &out2), 0);
	assert_string_equal(out, out2);
	assert_true(strstr(out, "\"ztAPI\"") < strstr(out, "\"x-top\""));
	assert_true(strstr(out, "\"x-top\"") < strstr(out, "\"id\""));
	assert_true(strstr(out, "\"tpmid\"") < strstr(out, "\"x-last\""));

	free(out);
	free(out2);
	identity_free(id);
	identity_free(id2);
}

static void
test_modify_and_clear(void **state)
{
	struct identity *id = NULL, *id2 = NULL;
	char *out = NULL;
	json_object *doc;

	(void)state;
	assert_int_equal(identity_parse(full_doc, strlen(full_doc), "ziggy", &id), 0);
	assert_int_equal(identity_set_str(&id->cert_pem, NULL), 0);
	assert_int_equal(identity_set_str(&id->id_key, NULL), 0);
	assert_int_equal(identity_set_str(&id->ssh_cert, NULL), 0);
	assert_int_equal(identity_set_str(&id->ca_pem, "CA2"), 0);
	free(id->allowed_uids);
	id->allowed_uids = NULL;
	id->n_allowed_uids = 0;
	free(id->parent_name);
	id->parent_name = NULL;
	id->parent_name_len = 0;
	id->handle = 0;
	id->pin = 0;
	id->alg = CURVE_P256;
	assert_int_equal(identity_serialize(id, &out), 0);

	doc = json_tokener_parse(out);
	assert_non_null(doc);
	assert_null(get_path(doc, "id", "cert"));
	assert_null(get_path(doc, "id", "key"));
	assert_string_equal(json_object_get_string(get_path(doc, "id", "ca")), "pem:CA2");
	assert_null(get_path(doc, "tpmid", "ssh_cert"));
	assert_null(get_path(doc, "tpmid", "allowed_uids"));
	assert_null(get_path(doc, "tpmid", "parent_name"));
	assert_null(get_path(doc, "tpmid", "handle"));
	assert_non_null(get_path(doc, "tpmid", "allowed_gids"));
	assert_string_equal(json_object_get_string(get_path(doc, "tpmid", "auth")), "none");
	assert_string_equal(json_object_get_string(get_path(doc, "tpmid", "alg")), "ecdsa-p256");
	assert_non_null(get_path(doc, "id", "x-id"));
	json_object_put(doc);

	assert_int_equal(identity_parse(out, strlen(out), "ziggy", &id2), 0);
	assert_null(id2->cert_pem);
	assert_int_equal(id2->handle, 0);
	assert_int_equal(id2->pin, 0);
	free(out);
	identity_free(id);
	identity_free(id2);
}

/* id.cert / id.ca with other schemes are not ours: cert_pem stays NULL and
 * the value survives a rewrite. */
static void
test_foreign_cert_scheme_kept(void **state)
{
	static const char doc_text[] =
		"{\"id\":{\"cert\":\"file:///etc/ziti/c.pem\",\"ca\":\"file:///etc/ziti/ca.pem\"},"
		"\"tpmid\":{\"version\":1,\"name\":\"a\",\"alg\":\"ecdsa-p256\",\"auth\":\"none\","
		"\"handle\":\"0x81000001\"}}";
	struct identity *id = NULL;
	json_object *doc;
	char *out = NULL;

	(void)state;
	assert_int_equal(identity_parse(doc_text, strlen(doc_text), "a", &id), 0);
	assert_null(id->cert_pem);
	assert_null(id->ca_pem);
	assert_null(id->key_pem);
	assert_int_equal(id->handle, 0x81000001);
	assert_int_equal(identity_serialize(id, &out), 0);
	doc = json_tokener_parse(out);
	assert_string_equal(json_object_get_string(get_path(doc, "id", "cert")),
	    "file:///etc/ziti/c.pem");
	assert_string_equal(json_object_get_string(get_path(doc, "id", "ca")),
	    "file:///etc/ziti/ca.pem");
	/* Slashes stay slashes. */
	assert_non_null(strstr(out, "file:///etc/ziti/c.pem"));
	json_object_put(doc);
	free(out);
	identity_free(id);
}

static void
test_new_serialize(void **state)
{
	struct identity *id = NULL, *id2 = NULL;
	char *out = NULL;

	(void)state;
	assert_int_equal(identity_new("web", &id), 0);
	assert_string_equal(id->name, "web");
	/* No key and no handle: nothing we could read back. */
	assert_int_equal(identity_serialize(id, &out), TPMID_E_INVAL);
	assert_null(out);
	id->handle = 0x81000020;
	assert_int_equal(identity_serialize(id, &out), 0);
	assert_string_equal(out,
	    "{\n"
	    "  \"tpmid\": {\n"
	    "    \"version\": 1,\n"
	    "    \"name\": \"web\",\n"
	    "    \"alg\": \"ecdsa-p256\",\n"
	    "    \"auth\": \"none\",\n"
	    "    \"handle\": \"0x81000020\"\n"
	    "  }\n"
	    "}\n");
	free(out);

	/* Attaching a certificate puts "id" before "tpmid", as OpenZiti
	 * writes it. */
	assert_int_equal(identity_set_str(&id->cert_pem, "C"), 0);
	id->allowed_uids = calloc(1, sizeof(uid_t));
	id->allowed_uids[0] = 42;
	id->n_allowed_uids = 1;
	assert_int_equal(identity_serialize(id, &out), 0);
	assert_true(strstr(out, "\"id\"") < strstr(out, "\"tpmid\""));
	assert_int_equal(identity_parse(out, strlen(out), "web", &id2), 0);
	assert_string_equal(id2->cert_pem, "C");
	assert_int_equal(id2->n_allowed_uids, 1);
	assert_int_equal(id2->allowed_uids[0], 42);
	free(out);

	/* Things the parser would refuse are refused on the way out too. */
	id->handle = 0x80000001;
	assert_int_equal(identity_serialize(id, &out), TPMID_E_INVAL);
	id->handle = 0x81000020;
	id->alg = CURVE_NONE;
	assert_int_equal(identity_serialize(id, &out), TPMID_E_INVAL);
	id->alg = CURVE_P384;
	assert_int_equal(identity_set_str(&id->key_pem, "not a key"), 0);
	assert_int_equal(identity_serialize(id, &out), TPMID_E_INVAL);

	identity_free(id);
	identity_free(id2);
	assert_int_equal(identity_new("-bad", &id), TPMID_E_INVAL);
	assert_null(id);
	assert_int_equal(identity_new(NULL, &id), TPMID_E_INVAL);
}

/* Substitute "@KEY@" in a template (no printf: the templates are data). */
static char *
expand(const char *tmpl)
{
	const char *at = strstr(tmpl, "@KEY@");
	size_t klen = strlen(KEY_JSON);
	char *s;

	if (at == NULL)
		return strdup(tmpl);
	s = malloc(strlen(tmpl) + klen + 1);
	memcpy(s, tmpl, (size_t)(at - tmpl));
	memcpy(s + (at - tmpl), KEY_JSON, klen);
	strcpy(s + (at - tmpl) + klen, at + 5);
	return s;
}

#define TP "\"tpmid\":{\"version\":1,\"name\":\"a\","
#define T0 "{" TP
#define OKT "\"alg\":\"ecdsa-p256\",\"auth\":\"none\","
#define KEYF "\"key\":\"@KEY@\""

static const struct {
	const char *json;
	int err;
	const char *detail;
} bad_docs[] = {
	{ "", TPMID_E_FORMAT, "unexpected end of input" },
	{ "{", TPMID_E_FORMAT, "unexpected end of input" },
	{ "{\n  \"a\": 1,\n  x\n}", TPMID_E_FORMAT, "invalid JSON at line 3 column 3" },
	{ "{\"a\": [1,]}", TPMID_E_FORMAT, "invalid JSON" },
	{ "{} x", TPMID_E_FORMAT, "invalid JSON at line 1 column 4" },
	{ "{}\n\n {}", TPMID_E_FORMAT, "invalid JSON at line 3 column 2" },
	{ "[1]", TPMID_E_FORMAT, "expected a JSON object" },
	{ "\"str\"", TPMID_E_FORMAT, "expected a JSON object" },
	{ "{\"ztAPI\":\"x\"}", TPMID_E_FORMAT, "no \"tpmid\" object" },
	{ "{\"tpmid\":[]}", TPMID_E_FORMAT, "tpmid: expected an object" },
	{ "{\"tpmid\":{\"name\":\"a\"}}", TPMID_E_FORMAT, "tpmid.version: missing" },
	{ "{\"tpmid\":{\"version\":\"1\"}}", TPMID_E_FORMAT, "tpmid.version: expected an integer" },
	{ "{\"tpmid\":{\"version\":1.0}}", TPMID_E_FORMAT, "tpmid.version: expected an integer" },
	{ "{\"tpmid\":{\"version\":2}}", TPMID_E_FORMAT, "unsupported version 2" },
	{ "{\"tpmid\":{\"version\":0}}", TPMID_E_FORMAT, "unsupported version 0" },
	{ "{\"tpmid\":{\"version\":1}}", TPMID_E_FORMAT, "tpmid.name: missing" },
	{ "{\"tpmid\":{\"version\":1,\"name\":7}}", TPMID_E_FORMAT, "tpmid.name: expected a string" },
	{ "{\"tpmid\":{\"version\":1,\"name\":\"b\"}}", TPMID_E_FORMAT, "does not match the file name" },
	{ "{\"tpmid\":{\"version\":1,\"name\":\"a\\u0000b\"}}", TPMID_E_FORMAT, "contains a NUL" },
	{ "{\"tpmid\":{\"version\":1,\"name\":\"../a\"}}", TPMID_E_FORMAT, "not a valid name" },
	{ T0 "\"auth\":\"none\"," KEYF "}}", TPMID_E_FORMAT, "tpmid.alg: missing" },
	{ T0 "\"alg\":\"rsa-2048\",\"auth\":\"none\"," KEYF "}}", TPMID_E_FORMAT,
	  "tpmid.alg: expected \"ecdsa-p256\" or \"ecdsa-p384\"" },
	{ T0 "\"alg\":256,\"auth\":\"none\"," KEYF "}}", TPMID_E_FORMAT, "tpmid.alg: expected a string" },
	{ T0 "\"alg\":\"ecdsa-p256\"," KEYF "}}", TPMID_E_FORMAT, "tpmid.auth: missing" },
	{ T0 "\"alg\":\"ecdsa-p256\",\"auth\":\"password\"," KEYF "}}", TPMID_E_FORMAT,
	  "tpmid.auth: expected \"none\" or \"pin\"" },
	{ T0 OKT "\"x\":1}}", TPMID_E_FORMAT, "neither \"key\" nor \"handle\"" },
	{ T0 OKT "\"key\":\"hello\"}}", TPMID_E_FORMAT, "tpmid.key: TSS2 key: does not start with" },
	{ T0 OKT "\"key\":\"-----BEGIN TSS2 PRIVATE KEY-----\\nMAA=\\n-----END TSS2 PRIVATE KEY-----\\n\"}}",
	  TPMID_E_FORMAT, "tpmid.key: TSS2 key: not a valid TPMKey" },
	{ T0 OKT "\"key\":[]}}", TPMID_E_FORMAT, "tpmid.key: expected a string" },
	{ T0 OKT "\"handle\":\"0x80000001\"}}", TPMID_E_FORMAT, "not a persistent handle" },
	{ T0 OKT "\"handle\":\"0x82000000\"}}", TPMID_E_FORMAT, "not a persistent handle" },
	{ T0 OKT "\"handle\":\"81000010\"}}", TPMID_E_FORMAT, "not a hex handle" },
	{ T0 OKT "\"handle\":\"0x81000010zz\"}}", TPMID_E_FORMAT, "not a hex handle" },
	{ T0 OKT "\"handle\":\"0x\"}}", TPMID_E_FORMAT, "not a hex handle" },
	{ T0 OKT "\"handle\":\"0x-1\"}}", TPMID_E_FORMAT, "not a hex handle" },
	{ T0 OKT "\"handle\":\"0x0081000010\"}}", TPMID_E_FORMAT, "not a hex handle" },
	{ T0 OKT "\"handle\":2164260880}}", TPMID_E_FORMAT, "tpmid.handle: expected a string" },
	{ T0 OKT KEYF ",\"parent_name\":\"abc\"}}", TPMID_E_FORMAT, "tpmid.parent_name" },
	{ T0 OKT KEYF ",\"parent_name\":\"zz\"}}", TPMID_E_FORMAT, "tpmid.parent_name" },
	{ T0 OKT KEYF ",\"parent_name\":\"\"}}", TPMID_E_FORMAT, "tpmid.parent_name" },
	{ T0 OKT KEYF ",\"public_key\":1}}", TPMID_E_FORMAT, "tpmid.public_key: expected a string" },
	{ T0 OKT KEYF ",\"ssh_cert\":{}}}", TPMID_E_FORMAT, "tpmid.ssh_cert: expected a string" },
	{ T0 OKT KEYF ",\"allowed_uids\":1000}}", TPMID_E_FORMAT, "tpmid.allowed_uids: expected an array" },
	{ T0 OKT KEYF ",\"allowed_uids\":[-1]}}", TPMID_E_FORMAT, "tpmid.allowed_uids[0]: -1 is not a valid id" },
	{ T0 OKT KEYF ",\"allowed_uids\":[1,\"2\"]}}", TPMID_E_FORMAT, "tpmid.allowed_uids[1]: expected an integer" },
	{ T0 OKT KEYF ",\"allowed_uids\":[1.5]}}", TPMID_E_FORMAT, "tpmid.allowed_uids[0]: expected an integer" },
	{ T0 OKT KEYF ",\"allowed_uids\":[4294967295]}}", TPMID_E_FORMAT, "not a valid id" },
	{ T0 OKT KEYF ",\"allowed_gids\":[99999999999]}}", TPMID_E_FORMAT, "tpmid.allowed_gids[0]" },
	{ T0 OKT KEYF ",\"allowed_gids\":[null]}}", TPMID_E_FORMAT, "tpmid.allowed_gids[0]" },
	{ "{\"id\":[]," TP OKT KEYF "}}", TPMID_E_FORMAT, "id: expected an object" },
	{ "{\"id\":{\"cert\":5}," TP OKT KEYF "}}", TPMID_E_FORMAT, "id.cert: expected a string" },
	{ "{\"id\":{\"ca\":false}," TP OKT KEYF "}}", TPMID_E_FORMAT, "id.ca: expected a string" },
	{ "{\"id\":{\"key\":1}," TP OKT KEYF "}}", TPMID_E_FORMAT, "id.key: expected a string" },
};

static void
test_validation_errors(void **state)
{
	struct identity *id;
	size_t i;
	char *json;
	int r;

	(void)state;
	for (i = 0; i < ELEMENTSOF(bad_docs); i++) {
		json = expand(bad_docs[i].json);
		id = (struct identity *)1;
		tpmid_clearerr();
		r = identity_parse(json, strlen(json), "a", &id);
		if (r != bad_docs[i].err)
			fail_msg("case %zu (%s): got %d (%s)", i, json, r, tpmid_errmsg(r));
		if (strstr(tpmid_errmsg(r), bad_docs[i].detail) == NULL)
			fail_msg("case %zu (%s): detail \"%s\" lacks \"%s\"", i, json,
			    tpmid_errmsg(r), bad_docs[i].detail);
		assert_null(id);
		free(json);
	}
}

static void
test_valid_minimal(void **state)
{
	static const char *good[] = {
		T0 OKT KEYF "}}",
		T0 OKT "\"handle\":\"0x81000000\"}}",
		T0 OKT "\"handle\":\"0X81FFFFFF\"}}",
		"  \n" T0 OKT KEYF ",\"allowed_uids\":[],\"ssh_cert\":\"x\"}}\n\n",
		"{\"id\":{}," TP "\"alg\":\"ecdsa-p384\",\"auth\":\"pin\"," KEYF "}}",
		/* null reads as absent (Go's encoding/json writes it for nil). */
		"{\"id\":{\"key\":null,\"cert\":null}," TP OKT KEYF ",\"handle\":null}}",
	};
	struct identity *id;
	size_t i;
	char *json;
	int r;

	(void)state;
	for (i = 0; i < ELEMENTSOF(good); i++) {
		json = expand(good[i]);
		id = NULL;
		r = identity_parse(json, strlen(json), "a", &id);
		if (r != 0)
			fail_msg("case %zu: %s", i, tpmid_errmsg(r));
		identity_free(id);
		free(json);
	}
}

static void
test_input_limits(void **state)
{
	static const char with_nul[] = "{\"tpmid\":\0{}}";
	struct identity *id = (struct identity *)1;
	char *big;
	int r;

	(void)state;
	r = identity_parse(with_nul, sizeof(with_nul) - 1, "a", &id);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_detail_has(r, "NUL byte at line 1 column 10");
	assert_null(id);

	big = malloc(IDENTITY_FILE_MAX + 1);
	memset(big, ' ', IDENTITY_FILE_MAX + 1);
	assert_int_equal(identity_parse(big, IDENTITY_FILE_MAX + 1, "a", &id), TPMID_E_TOOBIG);
	free(big);

	/* Deep nesting stops at the tokener's depth limit. */
	big = malloc(20001);
	memset(big, '[', 10000);
	memset(big + 10000, ']', 10000);
	big[20000] = '\0';
	assert_int_equal(identity_parse(big, 20000, "a", &id), TPMID_E_FORMAT);
	free(big);

	assert_int_equal(identity_parse(NULL, 0, "a", &id), TPMID_E_INVAL);
	assert_int_equal(identity_parse("{}", 2, "bad/name", &id), TPMID_E_INVAL);
}

static void
test_name_valid(void **state)
{
	static const char *good[] = {
		"a", "web", "Web-01", "a.b_c-d", "0", "x.", "_x",
		"1234567890123456789012345678901234567890123456789012345678901234",
	};
	static const char *bad[] = {
		"", ".hidden", "-opt", "a/b", "a b", "a\nb", "é", "a:b", "..", ".", "a\\b",
		"12345678901234567890123456789012345678901234567890123456789012345",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ELEMENTSOF(good); i++)
		if (!identity_name_valid(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	for (i = 0; i < ELEMENTSOF(bad); i++)
		if (identity_name_valid(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
	assert_false(identity_name_valid(NULL));
}

static void
test_set_str(void **state)
{
	char *f = NULL;

	(void)state;
	assert_int_equal(identity_set_str(&f, "one"), 0);
	assert_string_equal(f, "one");
	assert_int_equal(identity_set_str(&f, "two"), 0);
	assert_string_equal(f, "two");
	assert_int_equal(identity_set_str(&f, NULL), 0);
	assert_null(f);
	identity_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_roundtrip_unknown_fields),
		cmocka_unit_test(test_modify_and_clear),
		cmocka_unit_test(test_foreign_cert_scheme_kept),
		cmocka_unit_test(test_new_serialize),
		cmocka_unit_test(test_validation_errors),
		cmocka_unit_test(test_valid_minimal),
		cmocka_unit_test(test_input_limits),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_set_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
