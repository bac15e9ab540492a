/* Unit tests for agent/wire/ (codec.c, frame.c): every request and reply round-trips, and
 * truncated, trailing, oversized and unknown input is refused. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/wire/wire.h"
#include "common/buf.h"
#include "common/err.h"

static const uint8_t digest32[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

/* Encode `q`, then decode it the way dispatch_frame() does. */
static int
roundtrip_request(const struct wire_request *q, struct wire_request *out, struct tbuf **ret_wire)
{
	struct tbuf *b = tbuf_new(WIRE_REQUEST_MAX);
	const uint8_t *name;
	size_t name_len;
	uint8_t type;
	enum wire_req rt;
	int r;

	assert_non_null(b);
	assert_int_equal(wire_put_request(b, q), 0);
	if (ret_wire != NULL) {
		*ret_wire = tbuf_new(WIRE_REQUEST_MAX);
		assert_int_equal(tbuf_put(*ret_wire, tbuf_ptr(b), tbuf_len(b)), 0);
	}
	assert_int_equal(tbuf_get_u8(b, &type), 0);
	assert_int_equal(type, SSH_AGENTC_EXTENSION);
	assert_int_equal(tbuf_get_string_direct(b, &name, &name_len), 0);
	assert_true(wire_is_tpmid_ext(name, name_len));
	rt = wire_req_lookup(name, name_len);
	assert_int_equal(rt, q->type);
	r = wire_get_request(rt, b, out);
	tbuf_free(b);
	return r;
}

static void
test_req_names(void **state)
{
	int i;

	(void)state;
	for (i = WIRE_REQ_NONE + 1; i < WIRE_REQ__MAX; i++) {
		const char *n = wire_req_name((enum wire_req)i);

		assert_non_null(n);
		assert_int_equal(wire_req_lookup((const uint8_t *)n, strlen(n)), i);
		assert_true(wire_is_tpmid_ext((const uint8_t *)n, strlen(n)));
	}
	assert_null(wire_req_name(WIRE_REQ_NONE));
	assert_null(wire_req_name(WIRE_REQ__MAX));
	assert_int_equal(wire_req_lookup((const uint8_t *)"bogus@tpmid", 11), WIRE_REQ_NONE);
	assert_int_equal(wire_req_lookup((const uint8_t *)"list@tpmi", 9), WIRE_REQ_NONE);
	assert_int_equal(wire_req_lookup((const uint8_t *)"list@tpmidx", 11), WIRE_REQ_NONE);
	assert_true(wire_is_tpmid_ext((const uint8_t *)"bogus@tpmid", 11));
	assert_false(wire_is_tpmid_ext((const uint8_t *)"query", 5));
	assert_false(wire_is_tpmid_ext((const uint8_t *)"session-bind@openssh.com", 24));
	assert_false(wire_is_tpmid_ext((const uint8_t *)"", 0));
}

/* The bytes each request puts on the wire, built here field by field in
 * the order PROTOCOL.md section 2.3 documents (not by the codec), so the
 * table in requests.h cannot drift from what other clients speak. */
static void
expect_bytes(const struct wire_request *q, const struct tbuf *want)
{
	struct tbuf *got = tbuf_new(0);

	assert_int_equal(wire_put_request(got, q), 0);
	assert_int_equal(tbuf_len(got), tbuf_len(want));
	assert_memory_equal(tbuf_ptr(got), tbuf_ptr(want), tbuf_len(want));
	tbuf_free(got);
}

static struct tbuf *
ext(const char *name)
{
	struct tbuf *b = tbuf_new(0);

	assert_int_equal(tbuf_put_u8(b, 27), 0);
	assert_int_equal(tbuf_put_cstring(b, name), 0);
	return b;
}

static void
test_req_wire_bytes(void **state)
{
	struct secret *pin = secret_new("1234", 4);
	struct wire_request q;
	struct tbuf *w;
	/* PROTOCOL.md section 7, byte for byte. */
	static const uint8_t example_head[] = {
		0x1b, 0, 0, 0, 0x11, 's', 'i', 'g', 'n', '-', 'd', 'i', 'g', 'e', 's', 't',
		'@', 't', 'p', 'm', 'i', 'd', 0, 0, 0, 3, 'w', 'e', 'b', 0, 0, 0, 0x20,
	};

	(void)state;
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_SIGN_DIGEST;
	q.name = "web";
	q.data = (uint8_t *)digest32;
	q.data_len = 32;
	w = tbuf_new(0);
	assert_int_equal(tbuf_put(w, example_head, sizeof(example_head)), 0);
	assert_int_equal(tbuf_put(w, digest32, 32), 0);
	assert_int_equal(tbuf_put_u32(w, 0), 0); /* no PIN */
	assert_int_equal(tbuf_len(w), 69);       /* the example's length */
	expect_bytes(&q, w);
	tbuf_free(w);

	/* keygen: name, alg, persist, handle, pin. */
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_KEYGEN;
	q.name = "k";
	q.alg = CURVE_P384;
	q.persist = PERSIST_HANDLE;
	q.handle = 0x81000020;
	q.pin = pin;
	w = ext("keygen@tpmid");
	tbuf_put_cstring(w, "k");
	tbuf_put_u32(w, 2);
	tbuf_put_u32(w, 2);
	tbuf_put_u32(w, 0x81000020);
	tbuf_put_string(w, "1234", 4);
	expect_bytes(&q, w);
	tbuf_free(w);

	/* unlock: name, pin, timeout (the PIN before the number). */
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_UNLOCK;
	q.name = "k";
	q.pin = pin;
	q.timeout_s = 3600;
	w = ext("unlock@tpmid");
	tbuf_put_cstring(w, "k");
	tbuf_put_string(w, "1234", 4);
	tbuf_put_u32(w, 3600);
	expect_bytes(&q, w);
	tbuf_free(w);

	/* lock: an empty name means every identity. */
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_LOCK;
	w = ext("lock@tpmid");
	tbuf_put_cstring(w, "");
	expect_bytes(&q, w);
	tbuf_free(w);

	/* set-cert: name, cert, ca (empty = none); set-ssh-cert: name, line. */
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_SET_CERT;
	q.name = "k";
	q.cert_pem = "C";
	w = ext("set-cert@tpmid");
	tbuf_put_cstring(w, "k");
	tbuf_put_cstring(w, "C");
	tbuf_put_cstring(w, "");
	expect_bytes(&q, w);
	tbuf_free(w);
	q.type = WIRE_REQ_SET_SSH_CERT;
	q.line = "L";
	w = ext("set-ssh-cert@tpmid");
	tbuf_put_cstring(w, "k");
	tbuf_put_cstring(w, "L");
	expect_bytes(&q, w);
	tbuf_free(w);

	/* list and status carry nothing after the name. */
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_STATUS;
	w = ext("status@tpmid");
	expect_bytes(&q, w);
	tbuf_free(w);
	secret_free(pin);
}

/* What the request table says about who may send what, and what is slow:
 * PROTOCOL.md sections 2.3, 3 and 6. */
static void
test_req_table(void **state)
{
	static const struct {
		enum wire_req type;
		enum wire_access access;
		unsigned flags;
	} want[] = {
		{ WIRE_REQ_LIST, WIRE_ACCESS_ANY, 0 },
		{ WIRE_REQ_STATUS, WIRE_ACCESS_ANY, 0 },
		{ WIRE_REQ_INFO, WIRE_ACCESS_IDENTITY, 0 },
		{ WIRE_REQ_IDENTITY, WIRE_ACCESS_IDENTITY, 0 },
		{ WIRE_REQ_SIGN_DIGEST, WIRE_ACCESS_IDENTITY, WIRE_USES_KEY | WIRE_USES_TPM },
		{ WIRE_REQ_SIGN, WIRE_ACCESS_IDENTITY, WIRE_USES_KEY | WIRE_USES_TPM },
		{ WIRE_REQ_KEYGEN, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_TPM },
		{ WIRE_REQ_KEYGEN_PKCS11, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_TPM },
		{ WIRE_REQ_IMPORT, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_TPM },
		{ WIRE_REQ_DELETE, WIRE_ACCESS_OWNER, WIRE_USES_TPM },
		{ WIRE_REQ_UNLOCK, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_KEY | WIRE_USES_TPM },
		{ WIRE_REQ_LOCK, WIRE_ACCESS_OWNER, 0 },
		{ WIRE_REQ_SET_CERT, WIRE_ACCESS_OWNER, 0 },
		{ WIRE_REQ_SET_SSH_CERT, WIRE_ACCESS_OWNER, 0 },
		{ WIRE_REQ_EXPORT, WIRE_ACCESS_IDENTITY, 0 },
		{ WIRE_REQ_SET_SSH, WIRE_ACCESS_OWNER, 0 },
		{ WIRE_REQ_PASSWD, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_KEY | WIRE_USES_TPM },
	};
	size_t i;
	int j;

	(void)state;
	/* A new request must be listed here too: its access is a decision. */
	assert_int_equal(ELEMENTSOF(want), WIRE_REQ__MAX - 1);
	for (i = 0; i < ELEMENTSOF(want); i++) {
		const struct wire_req_desc *d = wire_req_desc(want[i].type);

		assert_non_null(d);
		assert_int_equal(d->access, want[i].access);
		assert_int_equal(d->flags, want[i].flags);
	}
	for (j = WIRE_REQ_NONE + 1; j < WIRE_REQ__MAX; j++) {
		const struct wire_req_desc *d = wire_req_desc((enum wire_req)j);
		size_t n = strlen(d->name);

		/* Every name is ours and no field list overflows its array. */
		assert_true(n > 6 && strcmp(d->name + n - 6, "@tpmid") == 0);
		assert_int_equal(d->fields[WIRE_FIELDS_MAX - 1], WF_END);
	}
	assert_null(wire_req_desc(WIRE_REQ_NONE));
	assert_null(wire_req_desc(WIRE_REQ__MAX));
}

static void
test_req_simple(void **state)
{
	static const enum wire_req types[] = { WIRE_REQ_LIST, WIRE_REQ_STATUS };
	static const enum wire_req named[] = { WIRE_REQ_INFO, WIRE_REQ_IDENTITY,
		WIRE_REQ_DELETE };
	struct wire_request q, out;
	size_t i;

	(void)state;
	for (i = 0; i < ELEMENTSOF(types); i++) {
		memset(&q, 0, sizeof(q));
		q.type = types[i];
		assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
		assert_int_equal(out.type, types[i]);
		assert_null(out.name);
		wire_request_clear(&out);
	}
	for (i = 0; i < ELEMENTSOF(named); i++) {
		memset(&q, 0, sizeof(q));
		q.type = named[i];
		q.name = "web";
		assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
		assert_string_equal(out.name, "web");
		wire_request_clear(&out);
		/* A name is required. */
		q.name = NULL;
		{
			struct tbuf *b = tbuf_new(0);

			assert_int_equal(wire_put_request(b, &q), TPMID_E_INVAL);
			tbuf_free(b);
		}
	}
}

static void
test_req_sign(void **state)
{
	struct wire_request q, out;
	struct secret *pin = secret_new("1234", 4);

	(void)state;
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_SIGN_DIGEST;
	q.name = "web";
	q.data = (uint8_t *)digest32;
	q.data_len = sizeof(digest32);
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_string_equal(out.name, "web");
	assert_int_equal(out.data_len, 32);
	assert_memory_equal(out.data, digest32, 32);
	assert_null(out.pin);
	wire_request_clear(&out);

	q.type = WIRE_REQ_SIGN;
	q.pin = pin;
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_non_null(out.pin);
	assert_int_equal(out.pin->len, 4);
	assert_memory_equal(out.pin->p, "1234", 4);
	wire_request_clear(&out);

	q.type = WIRE_REQ_IMPORT;
	q.data = (uint8_t *)"-----BEGIN PRIVATE KEY-----";
	q.data_len = 27;
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_int_equal(out.data_len, 27);
	assert_int_equal(out.pin->len, 4);
	wire_request_clear(&out);
	secret_free(pin);
}

static void
test_req_keygen_unlock_lock(void **state)
{
	struct wire_request q, out;
	struct secret *pin = secret_new("secret-pin", 10);

	(void)state;
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_KEYGEN;
	q.name = "dev";
	q.alg = CURVE_P384;
	q.persist = PERSIST_HANDLE;
	q.handle = 0x81000020;
	q.pin = pin;
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_string_equal(out.name, "dev");
	assert_int_equal(out.alg, CURVE_P384);
	assert_int_equal(out.persist, PERSIST_HANDLE);
	assert_int_equal(out.handle, 0x81000020);
	assert_int_equal(out.pin->len, 10);
	wire_request_clear(&out);

	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_UNLOCK;
	q.name = "dev";
	q.pin = pin;
	q.timeout_s = 300;
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_int_equal(out.timeout_s, 300);
	assert_memory_equal(out.pin->p, "secret-pin", 10);
	wire_request_clear(&out);

	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_LOCK;
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_null(out.name); /* all */
	wire_request_clear(&out);
	q.name = "dev";
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_string_equal(out.name, "dev");
	wire_request_clear(&out);
	secret_free(pin);
}

static void
test_req_certs(void **state)
{
	struct wire_request q, out;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_SET_CERT;
	q.name = "web";
	q.cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_string_equal(out.cert_pem, q.cert_pem);
	assert_null(out.ca_pem);
	wire_request_clear(&out);
	q.ca_pem = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_string_equal(out.ca_pem, q.ca_pem);
	wire_request_clear(&out);

	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_SET_SSH_CERT;
	q.name = "web";
	q.line = "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA web";
	assert_int_equal(roundtrip_request(&q, &out, NULL), 0);
	assert_string_equal(out.line, q.line);
	wire_request_clear(&out);
}

/* Every strict prefix of every request's payload is refused, and so is
 * one trailing byte. */
static void
test_req_truncated_trailing(void **state)
{
	struct secret *pin = secret_new("1234", 4);
	struct wire_request qs[6], out;
	size_t i, cut;

	(void)state;
	memset(qs, 0, sizeof(qs));
	qs[0] = (struct wire_request){ .type = WIRE_REQ_SIGN_DIGEST, .name = "a",
		.data = (uint8_t *)digest32, .data_len = 32, .pin = pin };
	qs[1] = (struct wire_request){ .type = WIRE_REQ_KEYGEN, .name = "a",
		.alg = CURVE_P256, .pin = pin };
	qs[2] = (struct wire_request){ .type = WIRE_REQ_UNLOCK, .name = "a", .pin = pin,
		.timeout_s = 5 };
	qs[3] = (struct wire_request){ .type = WIRE_REQ_SET_CERT, .name = "a",
		.cert_pem = "x", .ca_pem = "y" };
	qs[4] = (struct wire_request){ .type = WIRE_REQ_INFO, .name = "abc" };
	qs[5] = (struct wire_request){ .type = WIRE_REQ_SET_SSH_CERT, .name = "a",
		.line = "l" };

	for (i = 0; i < ELEMENTSOF(qs); i++) {
		struct tbuf *w = NULL, v;
		const uint8_t *name;
		size_t name_len, payload_off, full;
		uint8_t type;

		assert_int_equal(roundtrip_request(&qs[i], &out, &w), 0);
		wire_request_clear(&out);
		/* Find where the payload starts. */
		tbuf_init_view(&v, tbuf_ptr(w), tbuf_len(w));
		assert_int_equal(tbuf_get_u8(&v, &type), 0);
		assert_int_equal(tbuf_get_string_direct(&v, &name, &name_len), 0);
		payload_off = tbuf_len(w) - tbuf_len(&v);
		full = tbuf_len(w);
		for (cut = payload_off; cut < full; cut++) {
			tbuf_init_view(&v, tbuf_ptr(w) + payload_off, cut - payload_off);
			assert_int_equal(wire_get_request(qs[i].type, &v, &out), TPMID_E_FORMAT);
			assert_null(out.name);
			assert_null(out.pin);
		}
		assert_int_equal(tbuf_put_u8(w, 0), 0);
		tbuf_init_view(&v, tbuf_ptr(w) + payload_off, tbuf_len(w) - payload_off);
		assert_int_equal(wire_get_request(qs[i].type, &v, &out), TPMID_E_FORMAT);
		tbuf_free(w);
	}
	/* list/status take no payload at all. */
	{
		struct tbuf v;
		uint8_t junk = 0;

		tbuf_init_view(&v, &junk, 1);
		assert_int_equal(wire_get_request(WIRE_REQ_LIST, &v, &out), TPMID_E_FORMAT);
	}
	secret_free(pin);
}

static void
test_req_bad_fields(void **state)
{
	struct tbuf *b = tbuf_new(0);
	struct wire_request out;

	(void)state;
	/* keygen with an unknown persist mode */
	assert_int_equal(tbuf_put_cstring(b, "a"), 0);
	assert_int_equal(tbuf_put_u32(b, 1), 0);
	assert_int_equal(tbuf_put_u32(b, 7), 0);
	assert_int_equal(tbuf_put_u32(b, 0), 0);
	assert_int_equal(tbuf_put_string(b, NULL, 0), 0);
	assert_int_equal(wire_get_request(WIRE_REQ_KEYGEN, b, &out), TPMID_E_FORMAT);
	tbuf_reset(b);
	/* a name with an embedded NUL */
	assert_int_equal(tbuf_put_string(b, "a\0b", 3), 0);
	assert_int_equal(wire_get_request(WIRE_REQ_INFO, b, &out), TPMID_E_FORMAT);
	tbuf_reset(b);
	/* a string whose length runs past the end */
	assert_int_equal(tbuf_put_u32(b, 1000), 0);
	assert_int_equal(tbuf_put(b, "abc", 3), 0);
	assert_int_equal(wire_get_request(WIRE_REQ_DELETE, b, &out), TPMID_E_FORMAT);
	tbuf_reset(b);
	/* unknown request type */
	assert_int_equal(wire_get_request(WIRE_REQ_NONE, b, &out), TPMID_E_INVAL);
	assert_int_equal(wire_get_request(WIRE_REQ__MAX, b, &out), TPMID_E_INVAL);
	tbuf_free(b);
}

static void
fill_info(struct id_info *i, const char *name, int with_certs)
{
	static uint8_t spki[91];

	memset(i, 0, sizeof(*i));
	memset(spki, 0x30, sizeof(spki));
	snprintf(i->name, sizeof(i->name), "%s", name);
	i->alg = CURVE_P256;
	i->pin = 1;
	i->unlocked = 1;
	i->handle = 0x81000010;
	i->spki = spki;
	i->spki_len = sizeof(spki);
	if (with_certs) {
		i->cert_pem = "CERT";
		i->ca_pem = "CA";
		i->ssh_cert = "SSHCERT";
		i->pkcs11_id = (uint8_t *)"\x01\x02\x00\x03";
		i->pkcs11_id_len = 4;
	}
}

static void
check_info(const struct id_info *a, const struct id_info *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->alg, b->alg);
	assert_int_equal(a->pin, b->pin);
	assert_int_equal(a->unlocked, b->unlocked);
	assert_int_equal(a->handle, b->handle);
	assert_int_equal(a->spki_len, b->spki_len);
	assert_memory_equal(a->spki, b->spki, a->spki_len);
	if (a->cert_pem == NULL)
		assert_null(b->cert_pem);
	else
		assert_string_equal(a->cert_pem, b->cert_pem);
	if (a->ca_pem == NULL)
		assert_null(b->ca_pem);
	else
		assert_string_equal(a->ca_pem, b->ca_pem);
	if (a->ssh_cert == NULL)
		assert_null(b->ssh_cert);
	else
		assert_string_equal(a->ssh_cert, b->ssh_cert);
	if (a->error == NULL)
		assert_null(b->error);
	else
		assert_string_equal(a->error, b->error);
	assert_int_equal(a->pkcs11_id_len, b->pkcs11_id_len);
	if (a->pkcs11_id_len > 0)
		assert_memory_equal(a->pkcs11_id, b->pkcs11_id, a->pkcs11_id_len);
}

static void
roundtrip_reply(const struct wire_reply *rep, struct wire_reply *out)
{
	struct tbuf *b = tbuf_new(WIRE_REPLY_MAX);
	size_t full, cut;

	assert_int_equal(wire_put_reply(b, rep), 0);
	full = tbuf_len(b);
	/* Truncations are refused as agent protocol errors. */
	for (cut = 0; cut < full; cut++) {
		int r = wire_get_reply(rep->type, tbuf_ptr(b), cut, out);

		assert_int_equal(r, TPMID_E_AGENT);
		assert_null(out->list);
		assert_null(out->der);
	}
	/* So are trailing bytes. */
	assert_int_equal(tbuf_put_u8(b, 0), 0);
	assert_int_equal(wire_get_reply(rep->type, tbuf_ptr(b), full + 1, out), TPMID_E_AGENT);
	/* A reply to another request (name mismatch) too. */
	if (rep->type != WIRE_REQ_DELETE)
		assert_int_equal(wire_get_reply(WIRE_REQ_DELETE, tbuf_ptr(b), full, out),
		    TPMID_E_AGENT);
	assert_int_equal(wire_get_reply(rep->type, tbuf_ptr(b), full, out), 0);
	assert_int_equal(out->type, rep->type);
	tbuf_free(b);
}

static void
test_reply_info_list(void **state)
{
	struct wire_reply rep, out;
	struct id_info list[3];
	size_t i;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	rep.type = WIRE_REQ_INFO;
	fill_info(&rep.info, "web", 1);
	roundtrip_reply(&rep, &out);
	check_info(&rep.info, &out.info);
	wire_reply_clear(&out);

	rep.type = WIRE_REQ_KEYGEN;
	fill_info(&rep.info, "dev", 0);
	roundtrip_reply(&rep, &out);
	check_info(&rep.info, &out.info);
	wire_reply_clear(&out);

	rep.type = WIRE_REQ_IMPORT;
	roundtrip_reply(&rep, &out);
	check_info(&rep.info, &out.info);
	wire_reply_clear(&out);

	memset(&rep, 0, sizeof(rep));
	rep.type = WIRE_REQ_LIST;
	fill_info(&list[0], "a", 0);
	fill_info(&list[1], "b", 1);
	memset(&list[2], 0, sizeof(list[2]));
	snprintf(list[2].name, sizeof(list[2].name), "broken");
	list[2].error = "broken.json: tpmid.alg: expected \"ecdsa-p256\"";
	rep.list = list;
	rep.n_list = 3;
	roundtrip_reply(&rep, &out);
	assert_int_equal(out.n_list, 3);
	for (i = 0; i < 3; i++)
		check_info(&list[i], &out.list[i]);
	wire_reply_clear(&out);

	/* empty list */
	rep.n_list = 0;
	rep.list = NULL;
	roundtrip_reply(&rep, &out);
	assert_int_equal(out.n_list, 0);
	wire_reply_clear(&out);
}

static void
test_reply_other(void **state)
{
	static const enum wire_req empty[] = { WIRE_REQ_DELETE, WIRE_REQ_UNLOCK,
		WIRE_REQ_LOCK, WIRE_REQ_SET_CERT, WIRE_REQ_SET_SSH_CERT };
	struct wire_reply rep, out;
	uint8_t der[70];
	size_t i;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	rep.type = WIRE_REQ_IDENTITY;
	rep.text = "{\"tpmid\":{\"name\":\"web\"}}\n";
	roundtrip_reply(&rep, &out);
	assert_string_equal(out.text, rep.text);
	wire_reply_clear(&out);

	memset(der, 0x42, sizeof(der));
	memset(&rep, 0, sizeof(rep));
	rep.type = WIRE_REQ_SIGN_DIGEST;
	rep.der = der;
	rep.der_len = sizeof(der);
	roundtrip_reply(&rep, &out);
	assert_int_equal(out.der_len, sizeof(der));
	assert_memory_equal(out.der, der, sizeof(der));
	wire_reply_clear(&out);
	rep.type = WIRE_REQ_SIGN;
	roundtrip_reply(&rep, &out);
	assert_int_equal(out.der_len, sizeof(der));
	wire_reply_clear(&out);

	memset(&rep, 0, sizeof(rep));
	rep.type = WIRE_REQ_STATUS;
	rep.status.tpm_ok = 1;
	snprintf(rep.status.tcti, sizeof(rep.status.tcti), "swtpm:port=2321");
	rep.status.identities = 100;
	rep.status.loaded = 3;
	rep.status.max_loaded = 3;
	rep.status.unlocked = 1;
	rep.status.signs = 1ULL << 40;
	rep.status.tpm_resets = 2;
	/* More than fit: the count is kept, the first WIRE_ORPHANS_MAX sent. */
	rep.status.n_orphans = WIRE_ORPHANS_MAX + 2;
	for (i = 0; i < WIRE_ORPHANS_MAX; i++)
		rep.status.orphan[i] = 0x81000010u + (uint32_t)i * 7;
	roundtrip_reply(&rep, &out);
	assert_memory_equal(&out.status, &rep.status, sizeof(rep.status));
	wire_reply_clear(&out);

	for (i = 0; i < ELEMENTSOF(empty); i++) {
		memset(&rep, 0, sizeof(rep));
		rep.type = empty[i];
		roundtrip_reply(&rep, &out);
		wire_reply_clear(&out);
	}
}

static void
test_reply_failure(void **state)
{
	struct tbuf *b = tbuf_new(0);
	struct wire_reply out;
	uint8_t f = SSH_AGENT_FAILURE, odd = 14;

	(void)state;
	assert_int_equal(wire_put_failure(b, TPMID_E_BADPIN,
	    "wrong PIN for 'web' (2 tries left before lockout)"), 0);
	tpmid_clearerr();
	assert_int_equal(wire_get_reply(WIRE_REQ_SIGN_DIGEST, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_BADPIN);
	assert_string_equal(tpmid_errmsg(TPMID_E_BADPIN),
	    "wrong PIN for 'web' (2 tries left before lockout)");
	tbuf_reset(b);

	/* No message given: the fixed text. */
	assert_int_equal(wire_put_failure(b, TPMID_E_NOENT, NULL), 0);
	assert_int_equal(wire_get_reply(WIRE_REQ_INFO, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_NOENT);
	assert_string_equal(tpmid_errmsg(TPMID_E_NOENT), tpmid_strerror(TPMID_E_NOENT));
	tbuf_reset(b);

	/* Control characters from the agent never reach the terminal. */
	assert_int_equal(wire_put_failure(b, TPMID_E_IO, "bad\n\x1b[31mthing"), 0);
	assert_int_equal(wire_get_reply(WIRE_REQ_INFO, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_IO);
	assert_string_equal(tpmid_errmsg(TPMID_E_IO), "bad??[31mthing");
	tbuf_reset(b);

	/* Codes out of range become a protocol error. */
	assert_int_equal(tbuf_put_u8(b, SSH_AGENT_EXTENSION_FAILURE), 0);
	assert_int_equal(tbuf_put_u32(b, 5), 0);
	assert_int_equal(tbuf_put_cstring(b, "x"), 0);
	assert_int_equal(wire_get_reply(WIRE_REQ_INFO, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_AGENT);
	tbuf_reset(b);
	assert_int_equal(wire_put_failure(b, 3, "positive"), 0);
	assert_int_equal(wire_get_reply(WIRE_REQ_INFO, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_AGENT);
	tbuf_reset(b);
	/* A bare EXTENSION_FAILURE (another implementation) is malformed for
	 * us but still a clean error. */
	assert_int_equal(tbuf_put_u8(b, SSH_AGENT_EXTENSION_FAILURE), 0);
	assert_int_equal(wire_get_reply(WIRE_REQ_INFO, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_AGENT);
	tbuf_free(b);

	/* SSH_AGENT_FAILURE: the agent does not know the request. */
	assert_int_equal(wire_get_reply(WIRE_REQ_STATUS, &f, 1, &out), TPMID_E_UNSUPPORTED);
	/* Unknown reply types and empty replies. */
	assert_int_equal(wire_get_reply(WIRE_REQ_STATUS, &odd, 1, &out), TPMID_E_AGENT);
	assert_int_equal(wire_get_reply(WIRE_REQ_STATUS, &odd, 0, &out), TPMID_E_AGENT);
}

static void
test_reply_list_count(void **state)
{
	struct tbuf *b = tbuf_new(0);
	struct wire_reply out;

	(void)state;
	/* A count the frame cannot hold is refused before allocating. */
	assert_int_equal(tbuf_put_u8(b, SSH_AGENT_EXTENSION_RESPONSE), 0);
	assert_int_equal(tbuf_put_cstring(b, "list@tpmid"), 0);
	assert_int_equal(tbuf_put_u32(b, 0xffffffff), 0);
	assert_int_equal(wire_get_reply(WIRE_REQ_LIST, tbuf_ptr(b), tbuf_len(b), &out),
	    TPMID_E_AGENT);
	tbuf_free(b);
}

static void
test_frames(void **state)
{
	struct tbuf *in = tbuf_new(WIRE_REQUEST_MAX + 8);
	const uint8_t *body;
	size_t len;
	uint8_t hdr[4];

	(void)state;
	/* Need more. */
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), 0);
	assert_int_equal(tbuf_put(in, "\0\0", 2), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), 0);
	assert_int_equal(tbuf_put(in, "\0\1", 2), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), 0);
	/* Whole frame, then a second one back to back. */
	assert_int_equal(tbuf_put_u8(in, 11), 0);
	assert_int_equal(wire_frame_put(in, (const uint8_t *)"\x1b\x00", 2), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), 1);
	assert_int_equal(len, 1);
	assert_int_equal(body[0], 11);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), 1);
	assert_int_equal(len, 2);
	assert_int_equal(body[0], 0x1b);
	assert_int_equal(tbuf_len(in), 0);
	/* Zero length: refused at once. */
	assert_int_equal(tbuf_put_u32(in, 0), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), TPMID_E_FORMAT);
	tbuf_reset(in);
	/* Over the cap: refused from the prefix alone, before any body. */
	assert_int_equal(tbuf_put_u32(in, WIRE_REQUEST_MAX + 1), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), TPMID_E_TOOBIG);
	tbuf_reset(in);
	hdr[0] = 0xff; hdr[1] = 0xff; hdr[2] = 0xff; hdr[3] = 0xff;
	assert_int_equal(tbuf_put(in, hdr, 4), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), TPMID_E_TOOBIG);
	tbuf_reset(in);
	/* Exactly the cap is fine. */
	assert_int_equal(tbuf_put_u32(in, WIRE_REQUEST_MAX), 0);
	assert_int_equal(wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len), 0);
	tbuf_free(in);
}

static void
test_request_too_big(void **state)
{
	struct tbuf *b = tbuf_new(WIRE_REQUEST_MAX);
	struct wire_request q;
	uint8_t *big = calloc(1, WIRE_REQUEST_MAX);

	(void)state;
	memset(&q, 0, sizeof(q));
	q.type = WIRE_REQ_SIGN;
	q.name = "web";
	q.data = big;
	q.data_len = WIRE_REQUEST_MAX;
	assert_int_equal(wire_put_request(b, &q), TPMID_E_TOOBIG);
	free(big);
	tbuf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_req_names),
		cmocka_unit_test(test_req_wire_bytes),
		cmocka_unit_test(test_req_table),
		cmocka_unit_test(test_req_simple),
		cmocka_unit_test(test_req_sign),
		cmocka_unit_test(test_req_keygen_unlock_lock),
		cmocka_unit_test(test_req_certs),
		cmocka_unit_test(test_req_truncated_trailing),
		cmocka_unit_test(test_req_bad_fields),
		cmocka_unit_test(test_reply_info_list),
		cmocka_unit_test(test_reply_other),
		cmocka_unit_test(test_reply_failure),
		cmocka_unit_test(test_reply_list_count),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_request_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
