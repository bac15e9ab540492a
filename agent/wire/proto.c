/* Encoders and decoders for tpmid's agent extension messages (PROTOCOL.md).
 *
 * Everything read from the wire goes through struct tbuf; every decoder
 * checks that the message ends exactly where its last field does
 * (trailing bytes are a format error, as in OpenSSH's agent). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/wire/proto.h"
#include "common/err.h"
#include "common/util.h"

/* Longest string field we accept in a request other than bulk data (names,
 * PINs, PEM text is bounded by the frame cap anyway). */
#define PROTO_NAME_WIRE_MAX 4096
#define PROTO_PIN_MAX 1024

static const char *const req_names[PROTO_REQ__MAX] = {
	[PROTO_REQ_LIST] = "list@tpmid",
	[PROTO_REQ_INFO] = "info@tpmid",
	[PROTO_REQ_IDENTITY] = "identity@tpmid",
	[PROTO_REQ_SIGN_DIGEST] = "sign-digest@tpmid",
	[PROTO_REQ_SIGN] = "sign@tpmid",
	[PROTO_REQ_KEYGEN] = "keygen@tpmid",
	[PROTO_REQ_IMPORT] = "import@tpmid",
	[PROTO_REQ_DELETE] = "delete@tpmid",
	[PROTO_REQ_UNLOCK] = "unlock@tpmid",
	[PROTO_REQ_LOCK] = "lock@tpmid",
	[PROTO_REQ_STATUS] = "status@tpmid",
	[PROTO_REQ_SET_CERT] = "set-cert@tpmid",
	[PROTO_REQ_SET_SSH_CERT] = "set-ssh-cert@tpmid",
};

const char *
proto_req_name(enum proto_req type)
{
	if ((int)type <= PROTO_REQ_NONE || type >= PROTO_REQ__MAX)
		return NULL;
	return req_names[type];
}

enum proto_req
proto_req_lookup(const uint8_t *name, size_t len)
{
	int i;

	for (i = PROTO_REQ_NONE + 1; i < PROTO_REQ__MAX; i++) {
		if (strlen(req_names[i]) == len && memcmp(req_names[i], name, len) == 0)
			return (enum proto_req)i;
	}
	return PROTO_REQ_NONE;
}

int
proto_is_tpmid_ext(const uint8_t *name, size_t len)
{
	size_t sl = strlen(PROTO_EXT_SUFFIX);

	return len >= sl && memcmp(name + len - sl, PROTO_EXT_SUFFIX, sl) == 0;
}

void
proto_request_clear(struct proto_request *r)
{
	if (r == NULL)
		return;
	free(r->name);
	freezero(r->data, r->data_len);
	secret_free(r->pin);
	free(r->cert_pem);
	free(r->ca_pem);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

/* struct id_info is what travels on the wire, so its lifecycle lives with
 * the codec: the engine, the agent, the CLI and the PKCS#11 shim all free
 * it here (declared in engine.h). */
void
id_info_clear(struct id_info *i)
{
	if (i == NULL)
		return;
	free(i->spki);
	free(i->cert_pem);
	free(i->ca_pem);
	free(i->ssh_cert);
	free(i->error);
	memset(i, 0, sizeof(*i));
}

void
id_info_free_array(struct id_info *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		id_info_clear(&a[i]);
	free(a);
}

void
proto_reply_clear(struct proto_reply *r)
{
	size_t k;

	if (r == NULL)
		return;
	for (k = 0; k < r->n_list; k++)
		id_info_clear(&r->list[k]);
	free(r->list);
	id_info_clear(&r->info);
	free(r->json);
	free(r->der);
	explicit_bzero(&r->status, sizeof(r->status));
	memset(r, 0, sizeof(*r));
}

/* --- small field helpers ------------------------------------------------ */

/* A string that means "absent" when empty. */
static int
put_opt_cstring(struct tbuf *out, const char *s)
{
	return tbuf_put_cstring(out, s == NULL ? "" : s);
}

/* A text field without NULs, at most `max` bytes; empty -> NULL when
 * `opt`. */
static int
get_text(struct tbuf *in, size_t max, int opt, char **ret)
{
	const uint8_t *p;
	size_t len, save = in->off;
	int r;

	*ret = NULL;
	if ((r = tbuf_get_string_direct(in, &p, &len)) < 0)
		return r;
	if (len > max) {
		in->off = save;
		return TPMID_E_FORMAT;
	}
	if (len == 0 && opt)
		return 0;
	in->off = save;
	return tbuf_get_cstring(in, ret, NULL);
}

static int
get_bytes(struct tbuf *in, uint8_t **ret, size_t *ret_len)
{
	return tbuf_get_string(in, ret, ret_len);
}

/* A PIN: empty = none. The bytes go straight into locked memory. */
static int
get_pin(struct tbuf *in, struct secret **ret)
{
	const uint8_t *p;
	size_t len;
	int r;

	*ret = NULL;
	if ((r = tbuf_get_string_direct(in, &p, &len)) < 0)
		return r;
	if (len > PROTO_PIN_MAX)
		return TPMID_E_FORMAT;
	if (len == 0)
		return 0;
	if ((*ret = secret_new(p, len)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

static int
put_pin(struct tbuf *out, const struct secret *pin)
{
	if (pin == NULL)
		return tbuf_put_string(out, NULL, 0);
	return tbuf_put_string(out, pin->p, pin->len);
}

/* --- requests ----------------------------------------------------------- */

static int
need_name(const struct proto_request *r)
{
	return r->name != NULL && r->name[0] != '\0' ? 0 : TPMID_E_INVAL;
}

int
proto_put_request(struct tbuf *out, const struct proto_request *r)
{
	const char *ext = proto_req_name(r->type);
	int rc;

	if (ext == NULL)
		return TPMID_E_INVAL;
	if ((rc = tbuf_put_u8(out, PROTO_MSG_EXTENSION)) < 0 ||
	    (rc = tbuf_put_cstring(out, ext)) < 0)
		return rc;

	switch (r->type) {
	case PROTO_REQ_LIST:
	case PROTO_REQ_STATUS:
		return 0;
	case PROTO_REQ_INFO:
	case PROTO_REQ_IDENTITY:
	case PROTO_REQ_DELETE:
		if ((rc = need_name(r)) < 0)
			return rc;
		return tbuf_put_cstring(out, r->name);
	case PROTO_REQ_SIGN_DIGEST:
	case PROTO_REQ_SIGN:
	case PROTO_REQ_IMPORT:
		if ((rc = need_name(r)) < 0)
			return rc;
		if ((rc = tbuf_put_cstring(out, r->name)) < 0 ||
		    (rc = tbuf_put_string(out, r->data, r->data_len)) < 0)
			return rc;
		return put_pin(out, r->pin);
	case PROTO_REQ_KEYGEN:
		if ((rc = need_name(r)) < 0)
			return rc;
		if ((rc = tbuf_put_cstring(out, r->name)) < 0 ||
		    (rc = tbuf_put_u32(out, (uint32_t)r->alg)) < 0 ||
		    (rc = tbuf_put_u32(out, (uint32_t)r->persist)) < 0 ||
		    (rc = tbuf_put_u32(out, r->handle)) < 0)
			return rc;
		return put_pin(out, r->pin);
	case PROTO_REQ_UNLOCK:
		if ((rc = need_name(r)) < 0)
			return rc;
		if ((rc = tbuf_put_cstring(out, r->name)) < 0 ||
		    (rc = put_pin(out, r->pin)) < 0)
			return rc;
		return tbuf_put_u32(out, r->timeout_s);
	case PROTO_REQ_LOCK:
		return put_opt_cstring(out, r->name);
	case PROTO_REQ_SET_CERT:
		if ((rc = need_name(r)) < 0)
			return rc;
		if (r->cert_pem == NULL)
			return TPMID_E_INVAL;
		if ((rc = tbuf_put_cstring(out, r->name)) < 0 ||
		    (rc = tbuf_put_cstring(out, r->cert_pem)) < 0)
			return rc;
		return put_opt_cstring(out, r->ca_pem);
	case PROTO_REQ_SET_SSH_CERT:
		if ((rc = need_name(r)) < 0)
			return rc;
		if (r->line == NULL)
			return TPMID_E_INVAL;
		if ((rc = tbuf_put_cstring(out, r->name)) < 0)
			return rc;
		return tbuf_put_cstring(out, r->line);
	default:
		return TPMID_E_INVAL;
	}
}

static int
get_name(struct tbuf *in, int opt, char **ret)
{
	return get_text(in, PROTO_NAME_WIRE_MAX, opt, ret);
}

int
proto_get_request(enum proto_req type, struct tbuf *msg, struct proto_request *ret)
{
	struct proto_request q;
	uint32_t v;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&q, 0, sizeof(q));
	q.type = type;

	switch (type) {
	case PROTO_REQ_LIST:
	case PROTO_REQ_STATUS:
		r = 0;
		break;
	case PROTO_REQ_INFO:
	case PROTO_REQ_IDENTITY:
	case PROTO_REQ_DELETE:
		r = get_name(msg, 0, &q.name);
		break;
	case PROTO_REQ_SIGN_DIGEST:
	case PROTO_REQ_SIGN:
	case PROTO_REQ_IMPORT:
		if ((r = get_name(msg, 0, &q.name)) < 0 ||
		    (r = get_bytes(msg, &q.data, &q.data_len)) < 0)
			break;
		r = get_pin(msg, &q.pin);
		break;
	case PROTO_REQ_KEYGEN:
		if ((r = get_name(msg, 0, &q.name)) < 0 || (r = tbuf_get_u32(msg, &v)) < 0)
			break;
		q.alg = (enum tpmid_curve)v;
		if ((r = tbuf_get_u32(msg, &v)) < 0)
			break;
		/* Unknown persist modes are a format error, not a guess. */
		if (v > ENGINE_PERSIST_HANDLE) {
			r = TPMID_E_FORMAT;
			break;
		}
		q.persist = (enum engine_persist)v;
		if ((r = tbuf_get_u32(msg, &q.handle)) < 0)
			break;
		r = get_pin(msg, &q.pin);
		break;
	case PROTO_REQ_UNLOCK:
		if ((r = get_name(msg, 0, &q.name)) < 0 || (r = get_pin(msg, &q.pin)) < 0)
			break;
		r = tbuf_get_u32(msg, &q.timeout_s);
		break;
	case PROTO_REQ_LOCK:
		r = get_name(msg, 1, &q.name);
		break;
	case PROTO_REQ_SET_CERT:
		if ((r = get_name(msg, 0, &q.name)) < 0 ||
		    (r = get_text(msg, PROTO_REQUEST_MAX, 0, &q.cert_pem)) < 0)
			break;
		r = get_text(msg, PROTO_REQUEST_MAX, 1, &q.ca_pem);
		break;
	case PROTO_REQ_SET_SSH_CERT:
		if ((r = get_name(msg, 0, &q.name)) < 0)
			break;
		r = get_text(msg, PROTO_REQUEST_MAX, 0, &q.line);
		break;
	default:
		r = TPMID_E_INVAL;
		break;
	}
	if (r == 0)
		r = tbuf_expect_end(msg);
	if (r < 0) {
		proto_request_clear(&q);
		return r;
	}
	*ret = q;
	return 0;
}

/* --- id_info and status ---------------------------------------------- */

int
proto_put_id_info(struct tbuf *out, const struct id_info *i)
{
	int r;

	if ((r = tbuf_put_cstring(out, i->name)) < 0 ||
	    (r = tbuf_put_u32(out, (uint32_t)i->alg)) < 0 ||
	    (r = tbuf_put_u8(out, i->pin ? 1 : 0)) < 0 ||
	    (r = tbuf_put_u8(out, i->unlocked ? 1 : 0)) < 0 ||
	    (r = tbuf_put_u32(out, i->handle)) < 0 ||
	    (r = tbuf_put_string(out, i->spki, i->spki_len)) < 0 ||
	    (r = put_opt_cstring(out, i->cert_pem)) < 0 ||
	    (r = put_opt_cstring(out, i->ca_pem)) < 0 ||
	    (r = put_opt_cstring(out, i->ssh_cert)) < 0 ||
	    (r = put_opt_cstring(out, i->error)) < 0)
		return r;
	return 0;
}

static int
get_flag(struct tbuf *in, int *ret)
{
	uint8_t v;
	int r;

	*ret = 0;
	if ((r = tbuf_get_u8(in, &v)) < 0)
		return r;
	if (v > 1)
		return TPMID_E_FORMAT;
	*ret = v;
	return 0;
}

int
proto_get_id_info(struct tbuf *in, struct id_info *ret)
{
	struct id_info i;
	const uint8_t *p;
	size_t len;
	uint32_t v;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&i, 0, sizeof(i));
	if ((r = tbuf_get_string_direct(in, &p, &len)) < 0)
		goto out;
	if (len > TPMID_NAME_MAX || memchr(p, '\0', len) != NULL) {
		r = TPMID_E_FORMAT;
		goto out;
	}
	memcpy(i.name, p, len);
	i.name[len] = '\0';
	if ((r = tbuf_get_u32(in, &v)) < 0)
		goto out;
	i.alg = (enum tpmid_curve)v;
	if ((r = get_flag(in, &i.pin)) < 0 || (r = get_flag(in, &i.unlocked)) < 0 ||
	    (r = tbuf_get_u32(in, &i.handle)) < 0)
		goto out;
	if ((r = tbuf_get_string_direct(in, &p, &len)) < 0)
		goto out;
	if (len > 0) {
		if ((i.spki = malloc(len)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		memcpy(i.spki, p, len);
		i.spki_len = len;
	}
	if ((r = get_text(in, PROTO_REPLY_MAX, 1, &i.cert_pem)) < 0 ||
	    (r = get_text(in, PROTO_REPLY_MAX, 1, &i.ca_pem)) < 0 ||
	    (r = get_text(in, PROTO_REPLY_MAX, 1, &i.ssh_cert)) < 0 ||
	    (r = get_text(in, PROTO_REPLY_MAX, 1, &i.error)) < 0)
		goto out;
	*ret = i;
	return 0;
out:
	id_info_clear(&i);
	return r;
}

int
proto_put_status(struct tbuf *out, const struct engine_status *s)
{
	int r;

	if ((r = tbuf_put_u8(out, s->tpm_ok ? 1 : 0)) < 0 ||
	    (r = tbuf_put_cstring(out, s->tcti)) < 0 ||
	    (r = tbuf_put_u32(out, s->identities)) < 0 ||
	    (r = tbuf_put_u32(out, s->loaded)) < 0 ||
	    (r = tbuf_put_u32(out, s->max_loaded)) < 0 ||
	    (r = tbuf_put_u32(out, s->unlocked)) < 0 ||
	    (r = tbuf_put_u64(out, s->signs)) < 0 ||
	    (r = tbuf_put_u64(out, s->tpm_resets)) < 0)
		return r;
	return 0;
}

int
proto_get_status(struct tbuf *in, struct engine_status *ret)
{
	struct engine_status s;
	const uint8_t *p;
	size_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&s, 0, sizeof(s));
	if ((r = get_flag(in, &s.tpm_ok)) < 0 ||
	    (r = tbuf_get_string_direct(in, &p, &len)) < 0)
		return r;
	if (len >= sizeof(s.tcti) || memchr(p, '\0', len) != NULL)
		return TPMID_E_FORMAT;
	memcpy(s.tcti, p, len);
	s.tcti[len] = '\0';
	if ((r = tbuf_get_u32(in, &s.identities)) < 0 ||
	    (r = tbuf_get_u32(in, &s.loaded)) < 0 ||
	    (r = tbuf_get_u32(in, &s.max_loaded)) < 0 ||
	    (r = tbuf_get_u32(in, &s.unlocked)) < 0 ||
	    (r = tbuf_get_u64(in, &s.signs)) < 0 ||
	    (r = tbuf_get_u64(in, &s.tpm_resets)) < 0)
		return r;
	*ret = s;
	return 0;
}

/* --- replies ------------------------------------------------------------ */

int
proto_put_reply(struct tbuf *out, const struct proto_reply *rep)
{
	const char *ext = proto_req_name(rep->type);
	size_t k;
	int r;

	if (ext == NULL)
		return TPMID_E_INVAL;
	/* draft-miller-ssh-agent section 3.8: an extension-specific reply is
	 * SSH_AGENT_EXTENSION_RESPONSE with the extension name echoed. */
	if ((r = tbuf_put_u8(out, PROTO_MSG_EXTENSION_RESPONSE)) < 0 ||
	    (r = tbuf_put_cstring(out, ext)) < 0)
		return r;
	switch (rep->type) {
	case PROTO_REQ_LIST:
		if (rep->n_list > PROTO_LIST_MAX)
			return TPMID_E_TOOBIG;
		if ((r = tbuf_put_u32(out, (uint32_t)rep->n_list)) < 0)
			return r;
		for (k = 0; k < rep->n_list; k++)
			if ((r = proto_put_id_info(out, &rep->list[k])) < 0)
				return r;
		return 0;
	case PROTO_REQ_INFO:
	case PROTO_REQ_KEYGEN:
	case PROTO_REQ_IMPORT:
		return proto_put_id_info(out, &rep->info);
	case PROTO_REQ_IDENTITY:
		return put_opt_cstring(out, rep->json);
	case PROTO_REQ_SIGN_DIGEST:
	case PROTO_REQ_SIGN:
		return tbuf_put_string(out, rep->der, rep->der_len);
	case PROTO_REQ_STATUS:
		return proto_put_status(out, &rep->status);
	case PROTO_REQ_DELETE:
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_LOCK:
	case PROTO_REQ_SET_CERT:
	case PROTO_REQ_SET_SSH_CERT:
		return 0;
	default:
		return TPMID_E_INVAL;
	}
}

int
proto_put_failure(struct tbuf *out, int err, const char *msg)
{
	size_t len;
	int r;

	if (err >= 0 || err <= TPMID_E__LAST)
		err = TPMID_E_AGENT;
	if (msg == NULL)
		msg = tpmid_strerror(err);
	len = strnlen(msg, PROTO_ERRMSG_MAX);
	if ((r = tbuf_put_u8(out, PROTO_MSG_EXTENSION_FAILURE)) < 0 ||
	    (r = tbuf_put_u32(out, (uint32_t)(int32_t)err)) < 0 ||
	    (r = tbuf_put_string(out, msg, len)) < 0)
		return r;
	return 0;
}

/* The agent's message is printed by the CLI: keep it one line of printable
 * text whatever the agent sent. */
static void
sanitize_msg(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int
get_failure(struct tbuf *in)
{
	uint32_t code;
	char *msg = NULL;
	int32_t err;
	int r;

	if ((r = tbuf_get_u32(in, &code)) < 0 ||
	    (r = get_text(in, PROTO_ERRMSG_MAX, 1, &msg)) < 0 ||
	    (r = tbuf_expect_end(in)) < 0) {
		free(msg);
		return tpmid_seterr(TPMID_E_AGENT, "malformed failure reply from the agent");
	}
	err = (int32_t)code;
	if (err >= 0 || err <= TPMID_E__LAST)
		err = TPMID_E_AGENT;
	if (msg != NULL) {
		sanitize_msg(msg);
		tpmid_seterr(err, "%s", msg);
		free(msg);
	} else
		tpmid_clearerr();
	return err;
}

static int
get_list(struct tbuf *in, struct proto_reply *rep)
{
	uint32_t n, k;
	int r;

	if ((r = tbuf_get_u32(in, &n)) < 0)
		return r;
	/* Every entry is at least 34 bytes: refuse counts the frame cannot
	 * hold before allocating for them. */
	if (n > PROTO_LIST_MAX || n > tbuf_len(in) / 34)
		return TPMID_E_FORMAT;
	if (n == 0)
		return 0;
	if ((rep->list = calloc(n, sizeof(*rep->list))) == NULL)
		return TPMID_E_NOMEM;
	for (k = 0; k < n; k++) {
		if ((r = proto_get_id_info(in, &rep->list[k])) < 0)
			return r;
		rep->n_list = k + 1;
	}
	return 0;
}

int
proto_get_reply(enum proto_req type, const uint8_t *body, size_t len, struct proto_reply *ret)
{
	struct proto_reply rep;
	struct tbuf in;
	const uint8_t *name;
	const char *ext = proto_req_name(type);
	size_t name_len;
	uint8_t msgtype;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&rep, 0, sizeof(rep));
	rep.type = type;
	if (ext == NULL)
		return TPMID_E_INVAL;
	tbuf_init_view(&in, body, len);
	if ((r = tbuf_get_u8(&in, &msgtype)) < 0)
		return tpmid_seterr(TPMID_E_AGENT, "empty reply from the agent");

	switch (msgtype) {
	case PROTO_MSG_EXTENSION_RESPONSE:
		break;
	case PROTO_MSG_EXTENSION_FAILURE:
		return get_failure(&in);
	case PROTO_MSG_FAILURE:
		return tpmid_seterr(TPMID_E_UNSUPPORTED,
		    "the agent does not support %s", ext);
	default:
		return tpmid_seterr(TPMID_E_AGENT,
		    "unexpected reply type %u from the agent to %s", msgtype, ext);
	}

	if ((r = tbuf_get_string_direct(&in, &name, &name_len)) < 0)
		goto out;
	if (name_len != strlen(ext) || memcmp(name, ext, name_len) != 0) {
		r = TPMID_E_FORMAT;
		goto out;
	}
	switch (type) {
	case PROTO_REQ_LIST:
		r = get_list(&in, &rep);
		break;
	case PROTO_REQ_INFO:
	case PROTO_REQ_KEYGEN:
	case PROTO_REQ_IMPORT:
		r = proto_get_id_info(&in, &rep.info);
		break;
	case PROTO_REQ_IDENTITY:
		r = get_text(&in, PROTO_REPLY_MAX, 0, &rep.json);
		break;
	case PROTO_REQ_SIGN_DIGEST:
	case PROTO_REQ_SIGN:
		r = get_bytes(&in, &rep.der, &rep.der_len);
		if (r == 0 && rep.der_len == 0)
			r = TPMID_E_FORMAT;
		break;
	case PROTO_REQ_STATUS:
		r = proto_get_status(&in, &rep.status);
		break;
	case PROTO_REQ_DELETE:
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_LOCK:
	case PROTO_REQ_SET_CERT:
	case PROTO_REQ_SET_SSH_CERT:
		r = 0;
		break;
	default:
		r = TPMID_E_INVAL;
		break;
	}
	if (r == 0)
		r = tbuf_expect_end(&in);
out:
	if (r < 0) {
		proto_reply_clear(&rep);
		if (r == TPMID_E_NOMEM)
			return r;
		return tpmid_seterr(TPMID_E_AGENT, "malformed %s reply from the agent", ext);
	}
	*ret = rep;
	return 0;
}

/* --- framing ------------------------------------------------------------ */

int
proto_frame_next(struct tbuf *in, size_t max, const uint8_t **ret_body, size_t *ret_len)
{
	const uint8_t *p;
	uint32_t len;

	*ret_body = NULL;
	*ret_len = 0;
	if (tbuf_len(in) < 4)
		return 0;
	p = tbuf_ptr(in);
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	/* draft-miller-ssh-agent section 3: every message has at least its
	 * type byte; the length is checked before the body is buffered. */
	if (len == 0)
		return TPMID_E_FORMAT;
	if (len > max)
		return TPMID_E_TOOBIG;
	if (tbuf_len(in) - 4 < len)
		return 0;
	*ret_body = p + 4;
	*ret_len = len;
	(void)tbuf_consume(in, 4 + (size_t)len);
	return 1;
}

int
proto_frame_put(struct tbuf *out, const uint8_t *body, size_t len)
{
	int r;

	if (len > UINT32_MAX)
		return TPMID_E_TOOBIG;
	if ((r = tbuf_put_u32(out, (uint32_t)len)) < 0)
		return r;
	if ((r = tbuf_put(out, body, len)) < 0) {
		(void)tbuf_consume_end(out, 4);
		return r;
	}
	return 0;
}
