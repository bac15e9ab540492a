/* The agent's requests (agent/wire/requests.h) carried out by the engine:
 * one small handler per line of the table. The daemon calls engine_call()
 * for requests from the socket (after its access checks); the CLI calls it
 * in-process when no agent answers. So both paths run the same code, and a
 * request added to the table does not build until its handler is here. */
#include "config.h"

#include <string.h>

#include "agent/engine/internal.h"
#include "common/err.h"

typedef int (*req_handler)(struct engine *, const struct wire_request *, struct wire_reply *);

/* Declared from the table, so a missing handler is a build error. */
#define X(ID, id, ...) \
	static int req_##id(struct engine *, const struct wire_request *, struct wire_reply *);
WIRE_REQUESTS(X)
#undef X

static const req_handler handlers[WIRE_REQ__MAX] = {
#define X(ID, id, ...) [WIRE_REQ_##ID] = req_##id,
	WIRE_REQUESTS(X)
#undef X
};

static int
req_list(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_list(e, &rep->list, &rep->n_list);
}

static int
req_info(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_info(e, q->name, &rep->info);
}

static int
req_identity(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_identity_json(e, q->name, &rep->text);
}

static int
req_sign_digest(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_sign_digest(e, q->name, q->data, q->data_len, q->pin, &rep->der,
	    &rep->der_len);
}

static int
req_sign(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_sign_data(e, q->name, q->data, q->data_len, q->pin, &rep->der,
	    &rep->der_len);
}

static int
req_keygen(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_keygen(e, q->name, q->alg, q->pin, q->persist, q->handle, NULL, 0,
	    &rep->info);
}

static int
req_keygen_pkcs11(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_keygen(e, q->name, q->alg, q->pin, PERSIST_NO, 0, q->data, q->data_len,
	    &rep->info);
}

static int
req_import(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_import(e, q->name, q->data, q->data_len, q->pin, &rep->info);
}

static int
req_delete(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_delete(e, q->name);
}

static int
req_unlock(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_unlock(e, q->name, q->pin, q->timeout_s);
}

static int
req_lock(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_lock(e, q->name);
}

static int
req_status(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_status(e, &rep->status);
}

static int
req_set_cert(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_set_cert(e, q->name, q->cert_pem, q->ca_pem);
}

static int
req_set_ssh_cert(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_set_ssh_cert(e, q->name, q->line);
}

static int
req_passwd(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_passwd(e, q->name, q->pin, q->new_pin);
}

static int
req_set_ssh(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_set_ssh(e, q->name, q->flag);
}

static int
req_export(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	return engine_export_tss2(e, q->name, &rep->text);
}

int
engine_call(struct engine *e, const struct wire_request *q, struct wire_reply *rep)
{
	int r;

	memset(rep, 0, sizeof(*rep));
	if (wire_req_desc(q->type) == NULL || handlers[q->type] == NULL)
		return tpmid_seterr(TPMID_E_UNSUPPORTED, "unknown request %d", (int)q->type);
	rep->type = q->type;
	if ((r = handlers[q->type](e, q, rep)) < 0) {
		wire_reply_clear(rep);
		rep->type = q->type;
	}
	return r;
}

int
engine_call_peer(struct engine *e, uid_t uid, const struct wire_request *q,
    struct wire_reply *rep)
{
	int r;

	e->peer.set = 1;
	e->peer.uid = uid;
	r = engine_call(e, q, rep);
	e->peer.set = 0;
	return r;
}
