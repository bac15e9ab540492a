/* conn.h: tpmid-agent's connections. See loop.c for the wire rules they
 * follow (OpenSSH ssh-agent's: length first, capped buffers). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/daemon/conn.h"
#include "agent/daemon/slots.h"
#include "common/err.h"
#include "common/log.h"

static void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	tbuf_free(c->in);
	tbuf_free(c->out);
	free(c);
}

/* The loop answers (or drops) a job the worker has: 1 if the worker had
 * not answered it, and now will not; 0 if it had sent the reply itself. */
int
job_take(struct job *j)
{
	int want = JOB_PENDING;

	return atomic_compare_exchange_strong(&j->state, &want, JOB_TAKEN);
}

void
conn_close(struct agent *a, size_t i, const char *why)
{
	struct conn *c = a->conns[i];

	/* A request the worker has not started is dropped; one it is running
	 * finishes (the TPM cannot be interrupted) and its answer is
	 * discarded. */
	if (c->job != NULL) {
		if (c->job->at_askpass) {
			/* The dialog thread owns it now: close the dialog. */
			c->job->abandoned = 1;
			agent_askpass_cancel(&a->askpass);
		} else if (worker_cancel(a->worker, c->job))
			job_free(c->job);
		else {
			(void)job_take(c->job);
			c->job->abandoned = 1;
		}
		c->job = NULL;
	}
	log_debug("closing connection from uid %u pid %ld: %s", (unsigned)c->peer.uid,
	    (long)c->peer.pid, why);
	conn_free(c);
	a->conns[i] = a->conns[--a->nconns];
	a->conns[a->nconns] = NULL;
	if (a->rr > a->nconns)
		a->rr = 0;
}

struct tbuf *
conn_new_inbuf(void)
{
	struct tbuf *b = tbuf_new(CONN_IN_MAX);

	if (b != NULL)
		tbuf_set_secret(b);
	return b;
}

/* May a new connection from `p` take a slot (slots.c)? Closes another
 * party's connection when that makes room fairly. */
static int
conn_slot_for(struct agent *a, const struct peer *p)
{
	struct slot view[AGENT_MAX_CONNS];
	const struct conn *c;
	size_t i;
	int k;

	for (i = 0; i < a->nconns; i++) {
		view[i].peer = a->conns[i]->peer;
		view[i].last = a->conns[i]->last;
		view[i].busy = a->conns[i]->job != NULL;
	}
	if ((k = slots_admit(view, a->nconns, AGENT_MAX_CONNS, p, a->d.agent_uid)) == SLOTS_TAKE)
		return 1;
	if (k == SLOTS_REFUSE)
		return 0;
	c = a->conns[k];
	if (ratelog_allow(&a->d, p))
		log_info("connection table full: closing the longest-idle connection of uid %u "
		    "pid %ld for uid %u pid %ld", (unsigned)c->peer.uid, (long)c->peer.pid,
		    (unsigned)p->uid, (long)p->pid);
	conn_close(a, (size_t)k, "evicted for a fair share");
	return 1;
}

void
conn_accept(struct agent *a)
{
	struct peer pr;
	struct conn *c;
	struct ucred cr;
	socklen_t sl;
	struct timespec t;
	int fd, k;

	for (k = 0; k < ACCEPT_PER_TURN; k++) {
		fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		/* Who is this? Asked once, right away, from the kernel. */
		sl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0) {
			log_warn("SO_PEERCRED: %s; dropping the connection", strerror(errno));
			close(fd);
			continue;
		}
		pr.uid = cr.uid;
		pr.gid = cr.gid;
		pr.pid = cr.pid;
		if (!conn_slot_for(a, &pr)) {
			t = daemon_now();
			if (daemon_ms_between(a->last_full_warn, t) > 10000 ||
			    a->last_full_warn.tv_sec == 0) {
				log_warn("%zu connections open; refusing uid %u pid %ld",
				    a->nconns, (unsigned)cr.uid, (long)cr.pid);
				a->last_full_warn = t;
			}
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->in = conn_new_inbuf()) == NULL ||
		    (c->out = tbuf_new(CONN_OUT_MAX)) == NULL) {
			log_error("out of memory accepting a connection");
			if (c != NULL)
				c->fd = -1;
			conn_free(c);
			close(fd);
			return;
		}
		c->fd = fd;
		c->peer.uid = cr.uid;
		c->peer.gid = cr.gid;
		c->peer.pid = cr.pid;
		c->last = daemon_now();
		/* Every uid may connect (the socket's mode is the outer gate);
		 * each request is checked against the peer's uid/gid in
		 * dispatch_frame() (PROTOCOL.md "Access"). */
		if (cr.uid != a->d.agent_uid && cr.uid != 0)
			log_debug("connection from uid %u pid %ld (not the agent's uid: "
			    "requests are checked per identity)", (unsigned)cr.uid, (long)cr.pid);
		a->conns[a->nconns++] = c;
	}
}

/* Read what the current frame still needs and no more: the length prefix
 * first, then, once it is checked, the body. Returns 0, or negative when
 * the connection must be closed. */
int
conn_read(struct agent *a, struct conn *c)
{
	uint8_t *p;
	size_t need;
	ssize_t n;
	int r, empty;

	for (;;) {
		if ((r = wire_frame_missing(c->in, WIRE_REQUEST_MAX, &need)) < 0) {
			if (ratelog_allow(&a->d, &c->peer))
				log_info("uid %u pid %ld sent a frame %s; closing the connection",
				    (unsigned)c->peer.uid, (long)c->peer.pid,
				    r == TPMID_E_TOOBIG ? "over the 256 KiB limit" : "of length 0");
			return r;
		}
		if (need == 0)
			return 0;
		empty = tbuf_len(c->in) == 0;
		if ((r = tbuf_reserve(c->in, need, &p)) < 0)
			return r;
		n = recv(c->fd, p, need, 0);
		if (n < 0) {
			(void)tbuf_consume_end(c->in, need);
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return TPMID_E_IO;
		}
		(void)tbuf_consume_end(c->in, need - (size_t)n);
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		c->last = daemon_now();
		if (empty)
			c->frame_start = c->last;
	}
}

int
conn_write(struct conn *c)
{
	ssize_t n;

	while (tbuf_len(c->out) > 0) {
		n = send(c->fd, tbuf_ptr(c->out), tbuf_len(c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return TPMID_E_IO;
		}
		(void)tbuf_consume(c->out, (size_t)n);
		c->last = daemon_now();
	}
	/* Give back memory a big reply needed. */
	if (c->out->alloc > CONN_BUF_KEEP) {
		struct tbuf *b = tbuf_new(CONN_OUT_MAX);

		if (b != NULL) {
			tbuf_free(c->out);
			c->out = b;
		}
	} else
		tbuf_reset(c->out);
	return 0;
}

int
conn_has_frame(const struct conn *c)
{
	size_t need;

	return wire_frame_missing(c->in, WIRE_REQUEST_MAX, &need) == 0 && need == 0;
}

/* Queue reply body `body` on the connection and start sending it. */
int
conn_reply(struct conn *c, const struct tbuf *body)
{
	int r;

	if (tbuf_len(body) == 0)
		return TPMID_E_AGENT;
	if ((r = wire_frame_put(c->out, tbuf_ptr(body), tbuf_len(body))) < 0)
		return r;
	/* Answer at once rather than after another poll() turn. */
	return conn_write(c);
}

/* What of the job's reply the worker did not send itself (all of it, if
 * it sent nothing), queued and sent. c->out was empty when the worker was
 * let answer, and nothing was added since. */
int
conn_reply_rest(struct conn *c, struct job *j)
{
	int r;

	if (atomic_load(&j->state) != JOB_SENT)
		return conn_reply(c, j->reply);
	if ((r = wire_frame_put(c->out, tbuf_ptr(j->reply), tbuf_len(j->reply))) < 0)
		return r;
	(void)tbuf_consume(c->out, j->sent);
	return conn_write(c);
}

size_t
conn_index(const struct agent *a, const struct conn *c)
{
	size_t k;

	for (k = 0; k < a->nconns && a->conns[k] != c; k++)
		;
	return k;
}
