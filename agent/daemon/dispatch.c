/* Request dispatch: one frame body in, one reply body out.
 *
 * This is the trust boundary of the agent: every byte here comes from a
 * local peer, so it is parsed through struct tbuf (agent/wire/codec.c), access is
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
#include "agent/wire/wire.h"
#include "agent/daemon/sshagent.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static int
peer_is_owner(const struct dispatch_ctx *d, const struct peer *peer)
{
	return uid_owner_or_root(peer->uid, d->agent_uid);
}

static int
reply_failure(struct tbuf *reply, int err, const char *msg)
{
	return wire_put_failure(reply, err, msg);
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
refuse(const struct dispatch_ctx *d, struct tbuf *reply, const struct peer *peer,
    enum wire_req type, const char *name, int err, const char *why)
{
	char msg[256], safe[TPMID_NAME_MAX + 16];

	name = log_safe(name, safe, sizeof(safe));
	if (ratelog_allow(d, peer))
		log_warn("refused %s%s%s%s for uid %u pid %ld: %s", wire_req_name(type),
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

/* status@tpmid for such a peer: whether the TPM answers and how many
 * identities it may use; not the TCTI, the counters, how many PINs are
 * held or handles nothing records, which are the owner's business. */
static void
filter_status(struct dispatch_ctx *d, const struct peer *peer, struct status_info *st)
{
	struct id_info *a = NULL;
	size_t n = 0;
	int ok = st->tpm_ok;

	memset(st, 0, sizeof(*st));
	st->tpm_ok = ok;
	if (engine_list(d->engine, &a, &n) == 0) {
		filter_list(d, peer, a, &n);
		st->identities = (unsigned)n;
	}
	tpmid_clearerr();
	id_info_free_array(a, n);
}

static int
process_tpmid(struct dispatch_ctx *d, const struct peer *peer, enum wire_req type,
    struct tbuf *in, struct tbuf *reply)
{
	const struct wire_req_desc *desc = wire_req_desc(type);
	struct wire_request q;
	struct wire_reply rep;
	const char *ext = desc->name, *lname;
	char lbuf[TPMID_NAME_MAX + 16], mbuf[WIRE_ERRMSG_MAX];
	size_t mark;
	int r;

	memset(&rep, 0, sizeof(rep));
	memset(&q, 0, sizeof(q));
	/* A payload that does not parse exactly is a malformed frame: the
	 * connection is closed (not answered), like OpenSSH's agent. */
	if ((r = wire_get_request(type, in, &q)) < 0) {
		if (ratelog_allow(d, peer))
			log_info("malformed %s from uid %u pid %ld: closing the connection", ext,
			    (unsigned)peer->uid, (long)peer->pid);
		return r;
	}

	if (desc->access == WIRE_ACCESS_OWNER && !peer_is_owner(d, peer)) {
		r = refuse(d, reply, peer, type, q.name, TPMID_E_PERM,
		    "permission denied: only the agent's owner and root may do this");
		goto out;
	}
	if (desc->access == WIRE_ACCESS_IDENTITY) {
		tpmid_clearerr();
		r = engine_check_access(d->engine, q.name, peer->uid, peer->gid);
		if (r == TPMID_E_PERM) {
			r = refuse(d, reply, peer, type, q.name, TPMID_E_PERM,
			    "permission denied: not in the identity's allowed_uids/allowed_gids");
			goto out;
		}
		if (r < 0 && !peer_is_owner(d, peer)) {
			/* Only the owner learns why ("no identity 'x' in
			 * /path", a malformed file): anyone else gets the same
			 * answer for a missing identity as for a forbidden one,
			 * so names and the store path cannot be probed. */
			r = refuse(d, reply, peer, type, q.name, TPMID_E_PERM,
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
	if (d->lock->locked && (desc->flags & WIRE_USES_KEY)) {
		r = reply_failure(reply, TPMID_E_LOCKED,
		    "the agent is locked (unlock it with 'ssh-add -X')");
		goto out;
	}

	tpmid_clearerr();
	lname = log_safe(q.name, lbuf, sizeof(lbuf));
	r = engine_call_peer(d->engine, peer->uid, &q, &rep);
	/* A peer other than the owner lists only what it may use. */
	if (r == 0 && desc->reply == WIRE_REPLY_LIST && !peer_is_owner(d, peer))
		filter_list(d, peer, rep.list, &rep.n_list);
	if (r == 0 && desc->reply == WIRE_REPLY_STATUS && !peer_is_owner(d, peer))
		filter_status(d, peer, &rep.status);
	if (r < 0) {
		const char *msg = tpmid_errmsg(r);

		if (ratelog_allow(d, peer))
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
	if ((r = wire_put_reply(reply, &rep)) < 0) {
		/* Too big for one frame: drop the partial reply, say why. */
		(void)tbuf_consume_end(reply, tbuf_len(reply) - mark);
		r = reply_failure(reply, r, r == TPMID_E_TOOBIG ?
		    "reply too large for one agent frame" : tpmid_strerror(r));
	}
out:
	wire_reply_clear(&rep);
	wire_request_clear(&q);
	/* Failing to append even a failure reply means the reply buffer is
	 * unusable: close the connection. */
	return r < 0 ? r : 0;
}

void
dispatch_ctx_clear(struct dispatch_ctx *d)
{
	sshagent_cache_free(d->blobs);
	d->blobs = NULL;
}

/* The @tpmid request a frame body is, or WIRE_REQ_NONE. */
static enum wire_req
frame_tpmid_req(const uint8_t *msg, size_t len)
{
	struct tbuf in;
	const uint8_t *name;
	size_t name_len;
	uint8_t msgtype;

	tbuf_init_view(&in, msg, len);
	if (tbuf_get_u8(&in, &msgtype) < 0 || msgtype != SSH_AGENTC_EXTENSION ||
	    tbuf_get_string_direct(&in, &name, &name_len) < 0 ||
	    !wire_is_tpmid_ext(name, name_len))
		return WIRE_REQ_NONE;
	return wire_req_lookup(name, name_len);
}

unsigned
dispatch_tpm_flags(const uint8_t *msg, size_t len)
{
	enum wire_req type;

	if (len > 0 && msg[0] == SSH_AGENTC_SIGN_REQUEST)
		return WIRE_USES_TPM;
	if ((type = frame_tpmid_req(msg, len)) == WIRE_REQ_NONE ||
	    !(wire_req_desc(type)->flags & WIRE_USES_TPM))
		return 0;
	return wire_req_desc(type)->flags & (WIRE_USES_TPM | WIRE_SLOW);
}

int
dispatch_is_tpmid(const uint8_t *msg, size_t len)
{
	return frame_tpmid_req(msg, len) != WIRE_REQ_NONE;
}

int
dispatch_refuse(int tpmid, int err, const char *why, struct tbuf *reply)
{
	if (tpmid)
		return reply_failure(reply, err, why);
	/* ssh-agent messages have one failure, without a reason. */
	return tbuf_put_u8(reply, SSH_AGENT_FAILURE) < 0 ? TPMID_E_NOMEM : 0;
}

int
dispatch_frame(struct dispatch_ctx *d, const struct peer *peer, const uint8_t *msg,
    size_t len, struct tbuf *reply)
{
	struct tbuf in, peek;
	const uint8_t *name;
	size_t name_len;
	enum wire_req type;
	uint8_t msgtype;
	int r;

	tbuf_init_view(&in, msg, len);
	if ((r = tbuf_get_u8(&in, &msgtype)) < 0)
		return TPMID_E_FORMAT;

	if (msgtype == SSH_AGENTC_EXTENSION) {
		/* draft-miller-ssh-agent section 3.8: string extension type,
		 * then extension-specific contents. */
		peek = in;
		if ((r = tbuf_get_string_direct(&peek, &name, &name_len)) < 0)
			return TPMID_E_FORMAT;
		if (wire_is_tpmid_ext(name, name_len)) {
			if ((type = wire_req_lookup(name, name_len)) == WIRE_REQ_NONE) {
				log_debug("unknown extension from uid %u pid %ld",
				    (unsigned)peer->uid, (long)peer->pid);
				return tbuf_put_u8(reply, SSH_AGENT_FAILURE) < 0 ?
				    TPMID_E_NOMEM : 0;
			}
			return process_tpmid(d, peer, type, &peek, reply);
		}
	}
	return sshagent_process(d, peer, msgtype, &in, reply);
}
