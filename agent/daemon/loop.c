/* tpmid-agent's event loop: connections, signals, timers.
 *
 * Wire handling follows OpenSSH's ssh-agent: every connection has an input
 * buffer that learns the 4-byte frame length before it buffers any body
 * byte and refuses frames over WIRE_REQUEST_MAX (draft-miller-ssh-agent
 * section 3), an output buffer with a hard cap, and the peer's credentials
 * taken with SO_PEERCRED right after accept. Requests are started at most
 * one per connection per loop turn, round robin; those that need the TPM
 * go to the TPM worker (worker.c), one at a time since the TPM is serial,
 * and the connection waits for that answer (or its deadline) before its
 * next request is read. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/conn.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/dispatch.h"
#include "agent/daemon/slots.h"
#include "agent/daemon/worker.h"
#include "agent/engine/engine.h"
#include "agent/wire/wire.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static unsigned
tpm_timeout_s(const struct agent *a, unsigned flags)
{
	unsigned t = a->cfg->tpm_timeout_s ? a->cfg->tpm_timeout_s : AGENT_TPM_TIMEOUT_S;

	return (flags & WIRE_SLOW) ? t * AGENT_TPM_SLOW_FACTOR : t;
}

/* Answer a request that needs the TPM with TPMID_E_TIMEOUT, the reason
 * in `why`. Negative: close. */
static int
conn_fail_tpm(struct agent *a, struct conn *c, int tpmid, const char *why)
{
	int r;

	tbuf_reset(a->scratch);
	if ((r = dispatch_refuse(tpmid, TPMID_E_TIMEOUT, why, a->scratch)) < 0)
		return r;
	c->last = daemon_now();
	return conn_reply(c, a->scratch);
}

static void
stall_message(struct agent *a, char *buf, size_t n)
{
	snprintf(buf, n, "the TPM is not answering: a request has waited %lld s for it "
	    "(tpmid-agent --tpm-timeout %u); the agent keeps serving and uses the TPM "
	    "again once it answers", (long long)daemon_ms_between(a->stall_since, daemon_now()) / 1000,
	    tpm_timeout_s(a, 0));
}

/* Execute the one frame at the front of c->in, or hand it to the TPM
 * worker (refused at once while the TPM is stalled). Negative: close. */
static int
conn_process(struct agent *a, struct conn *c)
{
	const uint8_t *body;
	struct job *j = NULL;
	unsigned flags = 0;
	char why[256];
	size_t len;
	int r;

	if ((r = wire_frame_next(c->in, WIRE_REQUEST_MAX, &body, &len)) <= 0)
		return r < 0 ? r : 0;
	tbuf_reset(a->scratch);
	if (a->worker != NULL)
		flags = dispatch_tpm_flags(body, len);
	if (flags == 0)
		r = dispatch_frame(&a->d, &c->peer, body, len, a->scratch);
	else if (a->stalled) {
		stall_message(a, why, sizeof(why));
		r = dispatch_refuse(dispatch_is_tpmid(body, len), TPMID_E_TIMEOUT, why,
		    a->scratch);
	} else if ((r = job_new(&c->peer, body, len, &j)) == 0) {
		j->conn = c;
		/* Nothing queued before it: the worker may answer directly. */
		if (tbuf_len(c->out) == 0)
			j->fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
		j->tpmid = dispatch_is_tpmid(body, len);
		j->submitted = j->deadline = daemon_now();
		j->deadline.tv_sec += tpm_timeout_s(a, flags);
		c->job = j;
		worker_submit(a->worker, j);
	}
	/* The request may have held a PIN: wipe it now, not at reuse. */
	if (c->in->alloc > CONN_BUF_KEEP) {
		tbuf_free(c->in);
		if ((c->in = conn_new_inbuf()) == NULL)
			return TPMID_E_NOMEM;
	} else
		tbuf_reset(c->in);
	if (r < 0 || j != NULL)
		return r;
	if ((r = conn_reply(c, a->scratch)) < 0)
		return r;
	if (a->scratch->alloc > CONN_BUF_KEEP) {
		tbuf_free(a->scratch);
		if ((a->scratch = tbuf_new(WIRE_REPLY_MAX)) == NULL)
			return TPMID_E_NOMEM;
	}
	return 0;
}

/* An ssh sign that needs a PIN nobody holds (--askpass): open the dialog
 * and keep the job (1), or 0 when it cannot be opened (one is open
 * already): then the job's fallback refusal is sent. */
static int
park_for_pin(struct agent *a, struct job *j)
{
	int r;

	if ((r = agent_askpass_start(&a->askpass, j, j->askpass_for)) < 0) {
		log_warn("ssh sign with '%s' for uid %u pid %ld refused: %s", j->askpass_for,
		    (unsigned)j->peer.uid, (long)j->peer.pid, tpmid_errmsg(r));
		return 0;
	}
	log_info("asking for the PIN of '%s' (ssh sign for pid %ld) with %s", j->askpass_for,
	    (long)j->peer.pid, a->cfg->askpass);
	j->at_askpass = 1;
	return 1;
}

/* The PIN dialog finished: the request goes back to the TPM worker with
 * the PIN, or its refusal is sent. */
static void
take_pin(struct agent *a)
{
	struct secret *pin;
	struct job *j;
	struct conn *c;
	const char *why;
	int rc;

	if ((j = agent_askpass_done(&a->askpass, &pin, &rc, &why)) == NULL)
		return;
	j->at_askpass = 0;
	if (j->abandoned) {
		secret_free(pin);
		job_free(j);
		return;
	}
	c = j->conn;
	if (pin != NULL && !a->stalled) {
		j->pin = pin;
		j->askpass_for[0] = '\0';
		j->submitted = j->deadline = daemon_now();
		j->deadline.tv_sec += tpm_timeout_s(a, WIRE_USES_TPM);
		worker_submit(a->worker, j);
		return;
	}
	secret_free(pin);
	log_warn("ssh sign with '%s' for uid %u pid %ld refused: %s", j->askpass_for,
	    (unsigned)j->peer.uid, (long)j->peer.pid, pin != NULL ? "the TPM is not answering" :
	    why != NULL && *why != '\0' ? why : tpmid_errmsg(rc));
	c->job = NULL;
	c->last = daemon_now();
	if (conn_reply_rest(c, j) < 0)
		conn_close(a, conn_index(a, c), "write error");
	job_free(j);
}

/* Answers from the TPM worker. Any answer means the TPM answers again. */
static void
take_done(struct agent *a)
{
	struct job *j;
	struct conn *c;
	size_t k;

	while ((j = worker_done(a->worker)) != NULL) {
		if (a->stalled) {
			log_warn("the TPM answers again, after %lld s", (long long)daemon_ms_between(
			    a->stall_since, daemon_now()) / 1000);
			a->stalled = 0;
			engine_set_stalled(a->front, 0);
		}
		if (j->abandoned) {
			job_free(j);
			continue;
		}
		if (j->askpass_for[0] != '\0' && park_for_pin(a, j))
			continue;
		c = j->conn;
		c->job = NULL;
		c->last = daemon_now();
		k = conn_index(a, c);
		if (j->rc < 0 || conn_reply_rest(c, j) < 0)
			conn_close(a, k, "malformed request or write error");
		job_free(j);
	}
}

/* Requests the TPM has not finished by their deadline are answered now.
 * One that the worker is running means the TPM stopped answering: until
 * it answers again, every request that needs it is refused at once. */
static void
check_deadlines(struct agent *a, struct timespec t)
{
	char why[256];
	size_t i;

	for (i = 0; i < a->nconns;) {
		struct conn *c = a->conns[i];
		struct job *j = c->job;
		int r;

		if (j == NULL || j->at_askpass ||
		    (daemon_ms_between(j->deadline, t) < 0 && !a->stalled)) {
			i++;
			continue;
		}
		if (worker_cancel(a->worker, j)) {
			/* Never started: the TPM is stalled, or busy with a
			 * queue longer than the deadline. */
			if (a->stalled)
				stall_message(a, why, sizeof(why));
			else
				snprintf(why, sizeof(why), "the TPM is busy: the request "
				    "waited %u s for it without starting (tpmid-agent "
				    "--tpm-timeout)", tpm_timeout_s(a, 0));
			c->job = NULL;
			r = conn_fail_tpm(a, c, j->tpmid, why);
			job_free(j);
		} else if (daemon_ms_between(j->deadline, t) >= 0) {
			if (!job_take(j)) {
				/* The worker answered just now: not a stall. */
				i++;
				continue;
			}
			if (!a->stalled) {
				a->stalled = 1;
				a->stall_since = j->submitted;
				engine_set_stalled(a->front, 1);
				log_warn("the TPM has not answered for %u s; requests that "
				    "need it fail until it does", tpm_timeout_s(a, 0));
			}
			stall_message(a, why, sizeof(why));
			j->abandoned = 1;
			c->job = NULL;
			r = conn_fail_tpm(a, c, j->tpmid, why);
		} else {
			i++;
			continue;
		}
		if (r < 0) {
			conn_close(a, i, "write error");
			continue;
		}
		i++;
	}
}

int
loop_signals_setup(struct agent *a)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return tpmid_seterr(TPMID_E_IO, "sigprocmask: %s", strerror(errno));
	if ((a->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return tpmid_seterr(TPMID_E_IO, "signalfd: %s", strerror(errno));
	return 0;
}

void
loop_stop_listening(struct agent *a)
{
	struct stat st = { .st_dev = a->sock_dev, .st_ino = a->sock_ino };
	int r;

	/* Remove the socket only if we made it: an activated socket belongs
	 * to systemd, which may start us again on the next connection. And
	 * only if the path still names the socket we bound: a new agent may
	 * have replaced it. The unlink comes before the close: while we
	 * listen, a starting agent sees a live socket and does not replace
	 * it, so it cannot slip in between our check and our unlink. */
	if (a->bound && a->path != NULL) {
		if ((r = listen_unlink_if_ours(a->path, &st)) < 0)
			log_warn("%s", tpmid_errmsg(r));
		a->bound = 0;
	}
	if (a->lfd >= 0) {
		close(a->lfd);
		a->lfd = -1;
	}
}

static void
handle_signals(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			log_info("SIGHUP: rescanning the identity store");
			engine_rescan(a->engine);
			break;
		case SIGTERM:
		case SIGINT:
			if (!a->stopping) {
				log_info("%s: shutting down", si.ssi_signo == SIGTERM ?
				    "SIGTERM" : "SIGINT");
				a->stopping = 1;
				a->stop_deadline = daemon_now();
				a->stop_deadline.tv_sec += AGENT_SHUTDOWN_FLUSH_MS / 1000;
				loop_stop_listening(a);
			}
			break;
		default:
			break;
		}
	}
}

static int
poll_timeout_ms(struct agent *a, struct timespec t, int tick_s)
{
	long long best = -1, left;
	unsigned idle = a->cfg->idle_timeout_s ? a->cfg->idle_timeout_s : AGENT_IDLE_TIMEOUT_S;
	long long frame_lim = (long long)(idle < AGENT_FRAME_TIMEOUT_S ? idle :
	    AGENT_FRAME_TIMEOUT_S) * 1000;
	size_t i;

	if (tick_s >= 0)
		best = (long long)tick_s * 1000;
	for (i = 0; i < a->nconns; i++) {
		unsigned lim = tbuf_len(a->conns[i]->out) > 0 ?
		    AGENT_STALL_TIMEOUT_S : idle;

		if (a->conns[i]->job != NULL && a->conns[i]->job->at_askpass)
			continue; /* a person is typing: no deadline but theirs */
		if (a->conns[i]->job != NULL)
			left = daemon_ms_between(t, a->conns[i]->job->deadline);
		else
			left = (long long)lim * 1000 - daemon_ms_between(a->conns[i]->last, t);
		if (a->conns[i]->job == NULL && tbuf_len(a->conns[i]->in) > 0 &&
		    !conn_has_frame(a->conns[i]) &&
		    frame_lim - daemon_ms_between(a->conns[i]->frame_start, t) < left)
			left = frame_lim - daemon_ms_between(a->conns[i]->frame_start, t);
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	if (a->stopping) {
		left = daemon_ms_between(t, a->stop_deadline);
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	/* Never sleep forever: a bounded wake-up keeps the timers honest. */
	if (best < 0 || best > 60000)
		best = 60000;
	return (int)best + (best > 0 ? 10 : 0);
}

static void
expire_idle(struct agent *a, struct timespec t)
{
	unsigned idle = a->cfg->idle_timeout_s ? a->cfg->idle_timeout_s : AGENT_IDLE_TIMEOUT_S;
	long long frame_lim = (long long)(idle < AGENT_FRAME_TIMEOUT_S ? idle :
	    AGENT_FRAME_TIMEOUT_S) * 1000;
	size_t i = 0;

	while (i < a->nconns) {
		struct conn *c = a->conns[i];
		int stalled = tbuf_len(c->out) > 0;
		long long lim = (long long)(stalled ? AGENT_STALL_TIMEOUT_S : idle) * 1000;

		/* A frame begun must be finished in time, however slowly
		 * its bytes trickle in. */
		if (c->job == NULL && tbuf_len(c->in) > 0 && !conn_has_frame(c) &&
		    daemon_ms_between(c->frame_start, t) >= frame_lim) {
			if (ratelog_allow(&a->d, &c->peer))
				log_info("uid %u pid %ld did not complete a frame in %lld s; closing",
				    (unsigned)c->peer.uid, (long)c->peer.pid, frame_lim / 1000);
			conn_close(a, i, "frame timeout");
			continue;
		}
		/* Waiting for the TPM is waiting for us (check_deadlines). */
		if (c->job == NULL && daemon_ms_between(c->last, t) >= lim) {
			if (stalled)
				if (ratelog_allow(&a->d, &c->peer))
					log_info("uid %u pid %ld stopped reading its replies; closing",
					    (unsigned)c->peer.uid, (long)c->peer.pid);
			conn_close(a, i, stalled ? "not reading" : "idle timeout");
			continue;
		}
		i++;
	}
}

int
loop_run(struct agent *a)
{
	struct pollfd pfd[AGENT_MAX_CONNS + 4];
	struct conn *polled[AGENT_MAX_CONNS];
	struct timespec t;
	size_t i, n, np, nc;
	int tick, r, lslot;

	for (;;) {
		tick = engine_tick(a->engine);
		t = daemon_now();
		if (a->stopping) {
			int pending = 0;

			for (i = 0; i < a->nconns; i++)
				pending |= tbuf_len(a->conns[i]->out) > 0 ||
				    a->conns[i]->job != NULL;
			if (!pending || daemon_ms_between(t, a->stop_deadline) <= 0)
				return 0;
		}

		np = 0;
		pfd[np].fd = a->sfd;
		pfd[np++].events = POLLIN;
		pfd[np].fd = a->worker != NULL ? worker_fd(a->worker) : -1;
		pfd[np++].events = POLLIN;
		pfd[np].fd = agent_askpass_fd(&a->askpass);
		pfd[np++].events = POLLIN;
		lslot = a->lfd >= 0;
		if (lslot) {
			pfd[np].fd = a->lfd;
			pfd[np++].events = POLLIN;
		}
		nc = 0;
		for (i = 0; i < a->nconns; i++) {
			struct conn *c = a->conns[i];
			short ev = 0;

			/* Backpressure: read only while no whole frame waits
			 * and the peer takes its replies (a frame read while
			 * the last one is at the TPM worker waits for it). */
			if (!a->stopping && !c->eof && !conn_has_frame(c) &&
			    tbuf_len(c->out) < CONN_OUT_SOFT)
				ev |= POLLIN;
			if (tbuf_len(c->out) > 0)
				ev |= POLLOUT;
			polled[nc++] = c;
			pfd[np].fd = c->fd;
			pfd[np++].events = ev;
		}

		r = poll(pfd, np, poll_timeout_ms(a, t, tick));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		/* Connections first (their slots refer to `polled`), then
		 * signals and accept, which change the connection table. */
		n = np - nc;

		/* I/O on the connections that were polled. */
		for (i = 0; i < nc; i++, n++) {
			struct conn *c = polled[i];
			short rev = pfd[n].revents;
			size_t k;

			if (rev == 0)
				continue;
			for (k = 0; k < a->nconns && a->conns[k] != c; k++)
				;
			if (k == a->nconns)
				continue;
			if ((rev & POLLOUT) && conn_write(c) < 0) {
				conn_close(a, k, "write error");
				continue;
			}
			if ((rev & POLLIN) && conn_read(a, c) < 0) {
				conn_close(a, k, "read error or bad frame");
				continue;
			}
			if ((rev & (POLLERR | POLLNVAL)) ||
			    ((rev & POLLHUP) && !(rev & POLLIN))) {
				conn_close(a, k, "hang-up");
				continue;
			}
		}

		if (pfd[0].revents & POLLIN)
			handle_signals(a);
		if (a->worker != NULL) {
			take_done(a);
			if (pfd[2].revents & POLLIN)
				take_pin(a);
			check_deadlines(a, daemon_now());
		}
		if (lslot && a->lfd >= 0 && (pfd[3].revents & POLLIN))
			conn_accept(a);

		/* Requests: at most one per connection per turn, starting at a
		 * rotating position so nobody is always first. */
		if (!a->stopping && a->nconns > 0) {
			size_t start = a->rr % a->nconns, cnt = a->nconns;
			struct conn *order[AGENT_MAX_CONNS];

			for (i = 0; i < cnt; i++)
				order[i] = a->conns[(start + i) % cnt];
			for (i = 0; i < cnt; i++) {
				struct conn *c = order[i];
				size_t k;

				for (k = 0; k < a->nconns && a->conns[k] != c; k++)
					;
				if (k == a->nconns)
					continue;
				if (c->job != NULL || !conn_has_frame(c) ||
				    tbuf_len(c->out) >= CONN_OUT_SOFT)
					continue;
				if ((r = conn_process(a, c)) < 0) {
					conn_close(a, k, "malformed request or write error");
					continue;
				}
			}
			a->rr = start + 1;
		}

		/* Peers that closed their side: done once nothing is owed. */
		for (i = 0; i < a->nconns;) {
			struct conn *c = a->conns[i];

			if (c->eof && tbuf_len(c->out) == 0 && !conn_has_frame(c) &&
			    c->job == NULL) {
				conn_close(a, i, "peer closed");
				continue;
			}
			i++;
		}
		expire_idle(a, daemon_now());
	}
}

void
loop_close_all(struct agent *a)
{
	while (a->nconns > 0)
		conn_close(a, a->nconns - 1, "shutting down");
	agent_askpass_fini(&a->askpass);
}
