/* Request dispatch: one frame body in, one reply body out.
 *
 * This is the trust boundary of the agent: every byte here comes from a
 * local peer, so it is parsed through struct tbuf (proto.c), access is
 * checked against the peer's SO_PEERCRED credentials for every request,
 * and refusals are logged with the peer's uid and pid. PINs and key
 * material are never logged.
 *
 * Message routing (draft-miller-ssh-agent section 3.8): an
 * SSH_AGENTC_EXTENSION whose name ends in "@tpmid" is ours; an unknown
 * "@tpmid" name gets SSH_AGENT_FAILURE; everything else, including other
 * extensions, goes to sshagent_process(). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/dispatch.h"
#include "agent/wire/proto.h"
#include "agent/daemon/sshagent.h"
#include "common/err.h"
#include "common/log.h"

static int
peer_is_admin(const struct dispatch_ctx *d, const struct peer *peer)
{
	return peer->uid == 0 || peer->uid == d->agent_uid;
}

/* Requests that change identities or held PINs: only the agent's own uid
 * and root (PROTOCOL.md "Access"). */
static int
req_is_admin_only(enum proto_req type)
{
	switch (type) {
	case PROTO_REQ_KEYGEN:
	case PROTO_REQ_IMPORT:
	case PROTO_REQ_DELETE:
	case PROTO_REQ_UNLOCK:
	case PROTO_REQ_LOCK:
	case PROTO_REQ_SET_CERT:
	case PROTO_REQ_SET_SSH_CERT:
		return 1;
	default:
		return 0;
	}
}

/* Requests that use one identity and are open to peers the identity
 * allows (allowed_uids / allowed_gids). */
static int
req_uses_identity(enum proto_req type)
{
	switch (type) {
	case PROTO_REQ_INFO:
	case PROTO_REQ_IDENTITY:
	case PROTO_REQ_SIGN_DIGEST:
	case PROTO_REQ_SIGN:
		return 1;
	default:
		return 0;
	}
}

static int
reply_failure(struct tbuf *reply, int err, const char *msg)
{
	return proto_put_failure(reply, err, msg);
}

/* Text that came from the peer (a name not validated yet, or an engine
 * message quoting one) may carry newlines or terminal escapes; logged raw
 * it would let any peer that can connect forge log lines, refusals
 * included. Copy it with control characters replaced and bounded. */
static const char *
log_safe(const char *s, char *buf, size_t n)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; s[i] != '\0' && i + 1 < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static int
refuse(struct tbuf *reply, const struct peer *peer, enum proto_req type, const char *name,
    int err, const char *why)
{
	char msg[256], safe[TPMID_NAME_MAX + 16];

	name = log_safe(name, safe, sizeof(safe));
	log_warn("refused %s%s%s%s for uid %u pid %ld: %s", proto_req_name(type),
	    name != NULL ? " '" : "", name != NULL ? name : "", name != NULL ? "'" : "",
	    (unsigned)peer->uid, (long)peer->pid, why);
	/* The CLI names the identity itself; the message says why. */
	snprintf(msg, sizeof(msg), "%s (uid %u)", why, (unsigned)peer->uid);
	return reply_failure(reply, err, msg);
}

/* list@tpmid for a peer that is neither the agent's uid nor root: only the
 * identities it may use, and no malformed-file entries (their access
 * lists cannot be read). */
static void
filter_list(struct dispatch_ctx *d, const struct peer *peer, struct id_info *a, size_t *n)
{
	size_t i, k = 0;

	for (i = 0; i < *n; i++) {
		if (a[i].error == NULL &&
		    engine_check_access(d->engine, a[i].name, peer->uid, peer->gid) == 0) {
			if (k != i) {
				a[k] = a[i];
				memset(&a[i], 0, sizeof(a[i]));
			}
			k++;
		} else
			id_info_clear(&a[i]);
	}
	*n = k;
}

/* Call the engine for request `q`; fills `rep` on success. */
static int
call_engine(struct dispatch_ctx *d, const struct peer *peer, const struct proto_request *q,
    struct proto_reply *rep)
{
	struct engine *e = d->engine;
	int r;

	switch (q->type) {
	case PROTO_REQ_LIST:
		r = engine_list(e, &rep->list, &rep->n_list);
		if (r == 0 && !peer_is_admin(d, peer))
			filter_list(d, peer, rep->list, &rep->n_list);
		return r;
	case PROTO_REQ_INFO:
		return engine_info(e, q->name, &rep->info);
	case PROTO_REQ_IDENTITY:
		return engine_identity_json(e, q->name, &rep->json);
	case PROTO_REQ_SIGN_DIGEST:
		return engine_sign_digest(e, q->name, q->data, q->data_len, q->pin, &rep->der,
		    &rep->der_len);
	case PROTO_REQ_SIGN:
		return engine_sign_data(e, q->name, q->data, q->data_len, q->pin, &rep->der,
		    &rep->der_len);
	case PROTO_REQ_KEYGEN:
		return engine_keygen(e, q->name, q->alg, q->pin, q->persist, q->handle,
		    &rep->info);
	case PROTO_REQ_IMPORT:
		return engine_import(e, q->name, q->data, q->data_len, q->pin, &rep->info);
	case PROTO_REQ_DELETE:
		return engine_delete(e, q->name);
	case PROTO_REQ_UNLOCK:
		return engine_unlock(e, q->name, q->pin, q->timeout_s);
	case PROTO_REQ_LOCK:
		return engine_lock(e, q->name);
	case PROTO_REQ_STATUS:
		return engine_status(e, &rep->status);
	case PROTO_REQ_SET_CERT:
		return engine_set_cert(e, q->name, q->cert_pem, q->ca_pem);
	case PROTO_REQ_SET_SSH_CERT:
		return engine_set_ssh_cert(e, q->name, q->line);
	default:
		return TPMID_E_UNSUPPORTED;
	}
}

/* Free what call_engine() put into `rep`. The engine allocates id_info
 * members, so they go back through id_info_clear(). */
static void
reply_free(struct proto_reply *rep)
{
	if (rep->list != NULL)
		id_info_free_array(rep->list, rep->n_list);
	rep->list = NULL;
	rep->n_list = 0;
	id_info_clear(&rep->info);
	free(rep->json);
	free(rep->der);
	memset(rep, 0, sizeof(*rep));
}

static int
process_tpmid(struct dispatch_ctx *d, const struct peer *peer, enum proto_req type,
    struct tbuf *in, struct tbuf *reply)
{
	struct proto_request q;
	struct proto_reply rep;
	const char *ext = proto_req_name(type), *lname;
	char lbuf[TPMID_NAME_MAX + 16], mbuf[PROTO_ERRMSG_MAX];
	size_t mark;
	int r;

	memset(&rep, 0, sizeof(rep));
	/* A payload that does not parse exactly is a malformed frame: the
	 * connection is closed (not answered), like OpenSSH's agent. */
	if ((r = proto_get_request(type, in, &q)) < 0) {
		log_info("malformed %s from uid %u pid %ld: closing the connection", ext,
		    (unsigned)peer->uid, (long)peer->pid);
		return r;
	}

	if (req_is_admin_only(type) && !peer_is_admin(d, peer)) {
		r = refuse(reply, peer, type, q.name, TPMID_E_PERM,
		    "permission denied: only the agent's owner and root may do this");
		goto out;
	}
	if (req_uses_identity(type)) {
		tpmid_clearerr();
		r = engine_check_access(d->engine, q.name, peer->uid, peer->gid);
		if (r == TPMID_E_PERM) {
			r = refuse(reply, peer, type, q.name, TPMID_E_PERM,
			    "permission denied: not in the identity's allowed_uids/allowed_gids");
			goto out;
		}
		if (r < 0 && !peer_is_admin(d, peer)) {
			/* Only the owner learns why ("no identity 'x' in
			 * /path", a malformed file): anyone else gets the same
			 * answer for a missing identity as for a forbidden one,
			 * so names and the store path cannot be probed. */
			r = refuse(reply, peer, type, q.name, TPMID_E_PERM,
			    "permission denied: not in the identity's allowed_uids/allowed_gids");
			goto out;
		}
		if (r < 0) {
			r = reply_failure(reply, r, tpmid_errmsg(r));
			goto out;
		}
	}
	/* While the agent is locked (draft-miller-ssh-agent section 3.7) no
	 * key is used, whichever protocol asks. */
	if (d->locked && (type == PROTO_REQ_SIGN || type == PROTO_REQ_SIGN_DIGEST ||
	    type == PROTO_REQ_UNLOCK)) {
		r = reply_failure(reply, TPMID_E_LOCKED,
		    "the agent is locked (unlock it with 'ssh-add -X')");
		goto out;
	}

	tpmid_clearerr();
	rep.type = type;
	lname = log_safe(q.name, lbuf, sizeof(lbuf));
	if ((r = call_engine(d, peer, &q, &rep)) < 0) {
		const char *msg = tpmid_errmsg(r);

		log_info("%s%s%s%s for uid %u pid %ld failed: %s", ext,
		    lname != NULL ? " '" : "", lname != NULL ? lname : "",
		    lname != NULL ? "'" : "", (unsigned)peer->uid, (long)peer->pid,
		    log_safe(msg, mbuf, sizeof(mbuf)));
		r = reply_failure(reply, r, msg);
		goto out;
	}
	log_debug("%s%s%s%s for uid %u pid %ld: ok", ext, lname != NULL ? " '" : "",
	    lname != NULL ? lname : "", lname != NULL ? "'" : "", (unsigned)peer->uid,
	    (long)peer->pid);

	mark = tbuf_len(reply);
	if ((r = proto_put_reply(reply, &rep)) < 0) {
		/* Too big for one frame: drop the partial reply, say why. */
		(void)tbuf_consume_end(reply, tbuf_len(reply) - mark);
		r = reply_failure(reply, r, r == TPMID_E_TOOBIG ?
		    "reply too large for one agent frame" : tpmid_strerror(r));
	}
out:
	reply_free(&rep);
	proto_request_clear(&q);
	/* Failing to append even a failure reply means the reply buffer is
	 * unusable: close the connection. */
	return r < 0 ? r : 0;
}

int
dispatch_frame(struct dispatch_ctx *d, const struct peer *peer, const uint8_t *msg,
    size_t len, struct tbuf *reply)
{
	struct tbuf in, peek;
	const uint8_t *name;
	size_t name_len;
	enum proto_req type;
	uint8_t msgtype;
	int r;

	tbuf_init_view(&in, msg, len);
	if ((r = tbuf_get_u8(&in, &msgtype)) < 0)
		return TPMID_E_FORMAT;

	if (msgtype == PROTO_MSG_EXTENSION) {
		/* draft-miller-ssh-agent section 3.8: string extension type,
		 * then extension-specific contents. */
		peek = in;
		if ((r = tbuf_get_string_direct(&peek, &name, &name_len)) < 0)
			return TPMID_E_FORMAT;
		if (proto_is_tpmid_ext(name, name_len)) {
			if ((type = proto_req_lookup(name, name_len)) == PROTO_REQ_NONE) {
				log_debug("unknown extension from uid %u pid %ld",
				    (unsigned)peer->uid, (long)peer->pid);
				return tbuf_put_u8(reply, PROTO_MSG_FAILURE) < 0 ?
				    TPMID_E_NOMEM : 0;
			}
			return process_tpmid(d, peer, type, &peek, reply);
		}
	}
	return sshagent_process(d, peer, msgtype, &in, reply);
}
