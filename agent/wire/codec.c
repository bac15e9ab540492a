/* Encoders and decoders for tpmid's agent extension messages
 * (PROTOCOL.md), driven by the request table (requests.h): a request's
 * fields are read and written in the order its line lists them.
 *
 * Everything read from the wire goes through struct tbuf; every decoder
 * checks that the message ends exactly where its last field does
 * (trailing bytes are a format error, as in OpenSSH's agent). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/wire/wire.h"
#include "common/err.h"
#include "common/util.h"

/* Longest string field we accept in a request other than bulk data (names;
 * PEM text is bounded by the frame cap anyway). */
#define WIRE_NAME_WIRE_MAX 4096
/* A PIN longer than the TPM takes (TPMID_PIN_MAX) still decodes, so the
 * engine can say "PIN too long" instead of the connection being closed. */
#define WIRE_PIN_MAX 1024

static const struct wire_req_desc descs[WIRE_REQ__MAX] = {
#define X(ID, id, name_, fields_, reply_, access_, flags_) \
	[WIRE_REQ_##ID] = { .name = name_, .fields = fields_, .reply = reply_, \
	    .access = access_, .flags = flags_ },
	WIRE_REQUESTS(X)
#undef X
};

const struct wire_req_desc *
wire_req_desc(enum wire_req type)
{
	if ((int)type <= WIRE_REQ_NONE || type >= WIRE_REQ__MAX)
		return NULL;
	return &descs[type];
}

const char *
wire_req_name(enum wire_req type)
{
	const struct wire_req_desc *d = wire_req_desc(type);

	return d == NULL ? NULL : d->name;
}

enum wire_req
wire_req_lookup(const uint8_t *name, size_t len)
{
	int i;

	for (i = WIRE_REQ_NONE + 1; i < WIRE_REQ__MAX; i++) {
		if (strlen(descs[i].name) == len && memcmp(descs[i].name, name, len) == 0)
			return (enum wire_req)i;
	}
	return WIRE_REQ_NONE;
}

int
wire_is_tpmid_ext(const uint8_t *name, size_t len)
{
	size_t sl = strlen(WIRE_EXT_SUFFIX);

	return len >= sl && memcmp(name + len - sl, WIRE_EXT_SUFFIX, sl) == 0;
}

void
wire_request_clear(struct wire_request *r)
{
	if (r == NULL)
		return;
	free(r->name);
	freezero(r->data, r->data_len);
	secret_free(r->pin);
	secret_free(r->new_pin);
	free(r->cert_pem);
	free(r->ca_pem);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

/* struct id_info is what travels on the wire, so its lifecycle lives with
 * the codec: the engine, the daemon and the CLI all free it here. */
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
	free(i->pkcs11_id);
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
wire_reply_clear(struct wire_reply *r)
{
	if (r == NULL)
		return;
	id_info_free_array(r->list, r->n_list);
	id_info_clear(&r->info);
	free(r->text);
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

/* A bool: one byte, 0 or 1; anything else is malformed. */
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
	if (len > WIRE_PIN_MAX)
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

/* A required text field on the way out: missing is the caller's bug. */
static int
put_required(struct tbuf *out, const char *s)
{
	if (s == NULL || *s == '\0')
		return TPMID_E_INVAL;
	return tbuf_put_cstring(out, s);
}

/* --- requests ----------------------------------------------------------- */

static int
put_field(struct tbuf *out, enum wire_field f, const struct wire_request *r)
{
	switch (f) {
	case WF_NAME:
		return put_required(out, r->name);
	case WF_NAME_OPT:
		return put_opt_cstring(out, r->name);
	case WF_DATA:
		return tbuf_put_string(out, r->data, r->data_len);
	case WF_PIN:
		return put_pin(out, r->pin);
	case WF_ALG:
		return tbuf_put_u32(out, (uint32_t)r->alg);
	case WF_PERSIST:
		return tbuf_put_u32(out, (uint32_t)r->persist);
	case WF_HANDLE:
		return tbuf_put_u32(out, r->handle);
	case WF_TIMEOUT:
		return tbuf_put_u32(out, r->timeout_s);
	case WF_FLAG:
		return tbuf_put_u8(out, r->flag ? 1 : 0);
	case WF_NEWPIN:
		return put_pin(out, r->new_pin);
	case WF_CERT:
		return put_required(out, r->cert_pem);
	case WF_CA_OPT:
		return put_opt_cstring(out, r->ca_pem);
	case WF_LINE:
		return put_required(out, r->line);
	default:
		return TPMID_E_INVAL;
	}
}

int
wire_put_request(struct tbuf *out, const struct wire_request *r)
{
	const struct wire_req_desc *d = wire_req_desc(r->type);
	size_t i, mark = tbuf_len(out);
	int rc;

	if (d == NULL)
		return TPMID_E_INVAL;
	if ((rc = tbuf_put_u8(out, SSH_AGENTC_EXTENSION)) < 0 ||
	    (rc = tbuf_put_cstring(out, d->name)) < 0)
		goto out;
	for (i = 0; i < WIRE_FIELDS_MAX && d->fields[i] != WF_END; i++)
		if ((rc = put_field(out, d->fields[i], r)) < 0)
			goto out;
	rc = 0;
out:
	/* Never leave half a request behind (it may hold part of a PIN). */
	if (rc < 0)
		(void)tbuf_consume_end(out, tbuf_len(out) - mark);
	return rc;
}

static int
get_field(struct tbuf *in, enum wire_field f, struct wire_request *q)
{
	uint32_t v;
	int r;

	switch (f) {
	case WF_NAME:
		return get_text(in, WIRE_NAME_WIRE_MAX, 0, &q->name);
	case WF_NAME_OPT:
		return get_text(in, WIRE_NAME_WIRE_MAX, 1, &q->name);
	case WF_DATA:
		return tbuf_get_string(in, &q->data, &q->data_len);
	case WF_PIN:
		return get_pin(in, &q->pin);
	case WF_ALG:
		if ((r = tbuf_get_u32(in, &v)) < 0)
			return r;
		/* An unknown curve decodes: the engine answers TPMID_E_CURVE. */
		q->alg = (enum tpmid_curve)v;
		return 0;
	case WF_PERSIST:
		if ((r = tbuf_get_u32(in, &v)) < 0)
			return r;
		/* Unknown persist modes are a format error, not a guess. */
		if (v > PERSIST_HANDLE)
			return TPMID_E_FORMAT;
		q->persist = (enum persist_mode)v;
		return 0;
	case WF_HANDLE:
		return tbuf_get_u32(in, &q->handle);
	case WF_TIMEOUT:
		return tbuf_get_u32(in, &q->timeout_s);
	case WF_FLAG:
		return get_flag(in, &q->flag);
	case WF_NEWPIN:
		return get_pin(in, &q->new_pin);
	case WF_CERT:
		return get_text(in, WIRE_REQUEST_MAX, 0, &q->cert_pem);
	case WF_CA_OPT:
		return get_text(in, WIRE_REQUEST_MAX, 1, &q->ca_pem);
	case WF_LINE:
		return get_text(in, WIRE_REQUEST_MAX, 0, &q->line);
	default:
		return TPMID_E_INVAL;
	}
}

int
wire_get_request(enum wire_req type, struct tbuf *msg, struct wire_request *ret)
{
	const struct wire_req_desc *d = wire_req_desc(type);
	struct wire_request q;
	size_t i;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (d == NULL)
		return TPMID_E_INVAL;
	memset(&q, 0, sizeof(q));
	q.type = type;
	for (i = 0; i < WIRE_FIELDS_MAX && d->fields[i] != WF_END && r == 0; i++)
		r = get_field(msg, d->fields[i], &q);
	if (r == 0)
		r = tbuf_expect_end(msg);
	if (r < 0) {
		wire_request_clear(&q);
		return r;
	}
	*ret = q;
	return 0;
}

/* --- id_info and status ---------------------------------------------- */

int
wire_put_id_info(struct tbuf *out, const struct id_info *i)
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
	    (r = put_opt_cstring(out, i->error)) < 0 ||
	    (r = tbuf_put_u8(out, i->ssh_hidden ? 1 : 0)) < 0 ||
	    (r = tbuf_put_string(out, i->pkcs11_id, i->pkcs11_id_len)) < 0)
		return r;
	return 0;
}

int
wire_get_id_info(struct tbuf *in, struct id_info *ret)
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
	if ((r = get_text(in, WIRE_REPLY_MAX, 1, &i.cert_pem)) < 0 ||
	    (r = get_text(in, WIRE_REPLY_MAX, 1, &i.ca_pem)) < 0 ||
	    (r = get_text(in, WIRE_REPLY_MAX, 1, &i.ssh_cert)) < 0 ||
	    (r = get_text(in, WIRE_REPLY_MAX, 1, &i.error)) < 0 ||
	    (r = get_flag(in, &i.ssh_hidden)) < 0 ||
	    (r = tbuf_get_string_direct(in, &p, &len)) < 0)
		goto out;
	if (len > TPMID_P11_ID_MAX) {
		r = TPMID_E_FORMAT;
		goto out;
	}
	if (len > 0) {
		if ((i.pkcs11_id = malloc(len)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		memcpy(i.pkcs11_id, p, len);
		i.pkcs11_id_len = len;
	}
	*ret = i;
	return 0;
out:
	id_info_clear(&i);
	return r;
}

int
wire_put_status(struct tbuf *out, const struct status_info *s)
{
	unsigned i;
	int r;

	if ((r = tbuf_put_u8(out, s->tpm_ok ? 1 : 0)) < 0 ||
	    (r = tbuf_put_cstring(out, s->tcti)) < 0 ||
	    (r = tbuf_put_u32(out, s->identities)) < 0 ||
	    (r = tbuf_put_u32(out, s->loaded)) < 0 ||
	    (r = tbuf_put_u32(out, s->max_loaded)) < 0 ||
	    (r = tbuf_put_u32(out, s->unlocked)) < 0 ||
	    (r = tbuf_put_u64(out, s->signs)) < 0 ||
	    (r = tbuf_put_u64(out, s->tpm_resets)) < 0 ||
	    (r = tbuf_put_u32(out, s->n_orphans)) < 0)
		return r;
	for (i = 0; i < s->n_orphans && i < WIRE_ORPHANS_MAX; i++)
		if ((r = tbuf_put_u32(out, s->orphan[i])) < 0)
			return r;
	return tbuf_put_cstring(out, s->store);
}

/* A text field into a fixed buffer: it must fit and hold no NUL. */
static int
get_text_buf(struct tbuf *in, char *buf, size_t size)
{
	const uint8_t *p;
	size_t len;
	int r;

	if ((r = tbuf_get_string_direct(in, &p, &len)) < 0)
		return r;
	if (len >= size || memchr(p, '\0', len) != NULL)
		return TPMID_E_FORMAT;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

int
wire_get_status(struct tbuf *in, struct status_info *ret)
{
	struct status_info s;
	unsigned i;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&s, 0, sizeof(s));
	if ((r = get_flag(in, &s.tpm_ok)) < 0 ||
	    (r = get_text_buf(in, s.tcti, sizeof(s.tcti))) < 0)
		return r;
	if ((r = tbuf_get_u32(in, &s.identities)) < 0 ||
	    (r = tbuf_get_u32(in, &s.loaded)) < 0 ||
	    (r = tbuf_get_u32(in, &s.max_loaded)) < 0 ||
	    (r = tbuf_get_u32(in, &s.unlocked)) < 0 ||
	    (r = tbuf_get_u64(in, &s.signs)) < 0 ||
	    (r = tbuf_get_u64(in, &s.tpm_resets)) < 0 ||
	    (r = tbuf_get_u32(in, &s.n_orphans)) < 0)
		return r;
	for (i = 0; i < s.n_orphans && i < WIRE_ORPHANS_MAX; i++)
		if ((r = tbuf_get_u32(in, &s.orphan[i])) < 0)
			return r;
	if ((r = get_text_buf(in, s.store, sizeof(s.store))) < 0)
		return r;
	*ret = s;
	return 0;
}

/* --- replies ------------------------------------------------------------ */

int
wire_put_reply(struct tbuf *out, const struct wire_reply *rep)
{
	const struct wire_req_desc *d = wire_req_desc(rep->type);
	size_t k;
	int r;

	if (d == NULL)
		return TPMID_E_INVAL;
	/* draft-miller-ssh-agent section 3.8: an extension-specific reply is
	 * SSH_AGENT_EXTENSION_RESPONSE with the extension name echoed. */
	if ((r = tbuf_put_u8(out, SSH_AGENT_EXTENSION_RESPONSE)) < 0 ||
	    (r = tbuf_put_cstring(out, d->name)) < 0)
		return r;
	switch (d->reply) {
	case WIRE_REPLY_LIST:
		if (rep->n_list > WIRE_LIST_MAX)
			return TPMID_E_TOOBIG;
		if ((r = tbuf_put_u32(out, (uint32_t)rep->n_list)) < 0)
			return r;
		for (k = 0; k < rep->n_list; k++)
			if ((r = wire_put_id_info(out, &rep->list[k])) < 0)
				return r;
		return 0;
	case WIRE_REPLY_INFO:
		return wire_put_id_info(out, &rep->info);
	case WIRE_REPLY_TEXT:
		return put_opt_cstring(out, rep->text);
	case WIRE_REPLY_DER:
		return tbuf_put_string(out, rep->der, rep->der_len);
	case WIRE_REPLY_STATUS:
		return wire_put_status(out, &rep->status);
	case WIRE_REPLY_NONE:
		return 0;
	default:
		return TPMID_E_INVAL;
	}
}

int
wire_put_failure(struct tbuf *out, int err, const char *msg)
{
	size_t len;
	int r;

	if (err >= 0 || err <= TPMID_E__LAST)
		err = TPMID_E_AGENT;
	if (msg == NULL)
		msg = tpmid_strerror(err);
	len = strnlen(msg, WIRE_ERRMSG_MAX);
	if ((r = tbuf_put_u8(out, SSH_AGENT_EXTENSION_FAILURE)) < 0 ||
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
	    (r = get_text(in, WIRE_ERRMSG_MAX, 1, &msg)) < 0 ||
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
get_list(struct tbuf *in, struct wire_reply *rep)
{
	uint32_t n, k;
	int r;

	if ((r = tbuf_get_u32(in, &n)) < 0)
		return r;
	/* Every entry is at least 34 bytes: refuse counts the frame cannot
	 * hold before allocating for them. */
	if (n > WIRE_LIST_MAX || n > tbuf_len(in) / 34)
		return TPMID_E_FORMAT;
	if (n == 0)
		return 0;
	if ((rep->list = calloc(n, sizeof(*rep->list))) == NULL)
		return TPMID_E_NOMEM;
	for (k = 0; k < n; k++) {
		if ((r = wire_get_id_info(in, &rep->list[k])) < 0)
			return r;
		rep->n_list = k + 1;
	}
	return 0;
}

int
wire_get_reply(enum wire_req type, const uint8_t *body, size_t len, struct wire_reply *ret)
{
	const struct wire_req_desc *d = wire_req_desc(type);
	struct wire_reply rep;
	struct tbuf in;
	const uint8_t *name;
	size_t name_len;
	uint8_t msgtype;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&rep, 0, sizeof(rep));
	rep.type = type;
	if (d == NULL)
		return TPMID_E_INVAL;
	tbuf_init_view(&in, body, len);
	if ((r = tbuf_get_u8(&in, &msgtype)) < 0)
		return tpmid_seterr(TPMID_E_AGENT, "empty reply from the agent");

	switch (msgtype) {
	case SSH_AGENT_EXTENSION_RESPONSE:
		break;
	case SSH_AGENT_EXTENSION_FAILURE:
		return get_failure(&in);
	case SSH_AGENT_FAILURE:
		return tpmid_seterr(TPMID_E_UNSUPPORTED, "the agent does not support %s", d->name);
	default:
		return tpmid_seterr(TPMID_E_AGENT,
		    "unexpected reply type %u from the agent to %s", msgtype, d->name);
	}

	if ((r = tbuf_get_string_direct(&in, &name, &name_len)) < 0)
		goto out;
	if (name_len != strlen(d->name) || memcmp(name, d->name, name_len) != 0) {
		r = TPMID_E_FORMAT;
		goto out;
	}
	switch (d->reply) {
	case WIRE_REPLY_LIST:
		r = get_list(&in, &rep);
		break;
	case WIRE_REPLY_INFO:
		r = wire_get_id_info(&in, &rep.info);
		break;
	case WIRE_REPLY_TEXT:
		r = get_text(&in, WIRE_REPLY_MAX, 0, &rep.text);
		break;
	case WIRE_REPLY_DER:
		r = tbuf_get_string(&in, &rep.der, &rep.der_len);
		if (r == 0 && rep.der_len == 0)
			r = TPMID_E_FORMAT;
		break;
	case WIRE_REPLY_STATUS:
		r = wire_get_status(&in, &rep.status);
		break;
	case WIRE_REPLY_NONE:
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
		wire_reply_clear(&rep);
		if (r == TPMID_E_NOMEM)
			return r;
		return tpmid_seterr(TPMID_E_AGENT, "malformed %s reply from the agent", d->name);
	}
	*ret = rep;
	return 0;
}
