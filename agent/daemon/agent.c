/* tpmid-agent: socket setup, the event loop, signals and daemonizing.
 *
 * Wire handling follows OpenSSH's ssh-agent: every connection has an input
 * buffer that learns the 4-byte frame length before it buffers any body
 * byte and refuses frames over PROTO_REQUEST_MAX
 * (draft-miller-ssh-agent section 3), an output buffer with a hard cap,
 * and the peer's credentials taken with SO_PEERCRED right after accept.
 * Requests are executed one at a time (the TPM is serial), at most one per
 * connection per loop turn. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/agent.h"
#include "agent/wire/client.h"
#include "agent/daemon/dispatch.h"
#include "agent/engine/engine.h"
#include "agent/wire/proto.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SD_LISTEN_FDS_START 3
/* A reply is only produced while less than this is waiting to be sent, so
 * a peer that does not read stops being served instead of growing our
 * memory; the hard cap is for the one reply that may cross it. */
#define CONN_OUT_SOFT (64 * 1024)
#define CONN_OUT_MAX (PROTO_REPLY_MAX + CONN_OUT_SOFT + 4)
#define CONN_IN_MAX (PROTO_REQUEST_MAX + 4)
/* Buffers that grew for one big frame are given back afterwards, so idle
 * connections stay small. */
#define CONN_BUF_KEEP (16 * 1024)
#define ACCEPT_PER_TURN 16
/* Peers other than the agent's uid and root (group tpmid on a system
 * agent, uids an identity allows) share the table with the owner: without
 * a bound one such uid could hold every slot open (a byte every idle
 * period is enough) and lock the owner and everybody else out. They get at
 * most CONN_PER_UID_MAX connections per uid, and never the last
 * CONN_OWNER_RESERVE slots. */
#define CONN_OWNER_RESERVE 16
#define CONN_PER_UID_MAX 32

struct conn {
	int fd;
	struct peer peer;
	struct tbuf *in;     /* secret: requests may carry PINs or keys */
	struct tbuf *out;
	struct timespec last; /* last progress (bytes in or out) */
	int eof;             /* peer shut down its side */
};

struct agent {
	const struct agent_cfg *cfg;
	struct dispatch_ctx d;
	struct engine *engine;
	int lfd;
	int sfd;                 /* signalfd */
	char *path;              /* socket path (for logs, unlink) */
	int bound;               /* we bound it: unlink at exit */
	dev_t sock_dev;          /* what we bound: unlink only if the path */
	ino_t sock_ino;          /* still names it */
	struct conn *conns[AGENT_MAX_CONNS];
	size_t nconns;
	size_t rr;               /* round-robin start */
	struct tbuf *scratch;    /* reply body being built */
	int stopping;
	struct timespec stop_deadline;
	struct timespec last_full_warn;
};

/* --- time -------------------------------------------------------------- */

static struct timespec
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static long long
ms_between(struct timespec a, struct timespec b)
{
	return (long long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

/* --- socket setup -------------------------------------------------------- */

int
agent_listen_activated(int *ret_fd)
{
	const char *s;
	uint32_t pid, n;
	int fd = SD_LISTEN_FDS_START, type = 0, acc = 0, fl;
	socklen_t sl;
	struct sockaddr_un sa;
	int r = 0;

	*ret_fd = -1;
	if ((s = getenv("LISTEN_PID")) == NULL)
		return 0;
	/* sd_listen_fds(3): the variables are only for the process whose pid
	 * they name; a forked child must not take them for its own. */
	if (parse_u32(s, &pid) < 0 || (pid_t)pid != getpid())
		goto out;
	if ((s = getenv("LISTEN_FDS")) == NULL || parse_u32(s, &n) < 0 || n == 0) {
		r = tpmid_seterr(TPMID_E_INVAL, "socket activation: LISTEN_FDS is missing or 0");
		goto out;
	}
	if (n > 1)
		log_warn("socket activation: %u sockets passed, using the first only", n);
	sl = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_STREAM) {
		r = tpmid_seterr(TPMID_E_INVAL,
		    "socket activation: fd %d is not a stream socket", fd);
		goto out;
	}
	sl = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) < 0 || !acc) {
		r = tpmid_seterr(TPMID_E_INVAL,
		    "socket activation: fd %d is not listening", fd);
		goto out;
	}
	sl = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sa.sun_family != AF_UNIX) {
		r = tpmid_seterr(TPMID_E_INVAL,
		    "socket activation: fd %d is not a UNIX socket", fd);
		goto out;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "socket activation: fcntl: %s", strerror(errno));
		goto out;
	}
	*ret_fd = fd;
	r = 1;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}

/* The directory that holds the socket: created 0700 (user) or 0750 group
 * tpmid (system); an existing one must be ours (or root's). Only the last
 * component is created. */
static int
socket_dir(const char *path, int system_mode)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	struct group *gr;
	size_t len;

	if (slash == NULL || slash == path)
		return 0;
	len = (size_t)(slash - path);
	if (len >= sizeof(dir))
		return tpmid_seterr(TPMID_E_INVAL, "%s: path too long", path);
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (mkdir(dir, system_mode ? 0750 : 0700) == 0) {
		/* mkdir is subject to the umask: set the mode exactly. */
		if (chmod(dir, system_mode ? 0750 : 0700) < 0)
			return tpmid_seterr(TPMID_E_IO, "%s: chmod: %s", dir, strerror(errno));
		if (system_mode && (gr = getgrnam(AGENT_SYSTEM_GROUP)) != NULL &&
		    chown(dir, (uid_t)-1, gr->gr_gid) < 0)
			log_warn("%s: cannot give the directory to group %s: %s", dir,
			    AGENT_SYSTEM_GROUP, strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return tpmid_seterr(TPMID_E_IO, "cannot create socket directory %s: %s", dir,
		    strerror(errno));
	if (stat(dir, &st) < 0)
		return tpmid_seterr(TPMID_E_IO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return tpmid_seterr(TPMID_E_INVAL, "%s is not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return tpmid_seterr(TPMID_E_PERM,
		    "socket directory %s belongs to uid %u, not to us (uid %u)", dir,
		    (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		return tpmid_seterr(TPMID_E_PERM,
		    "socket directory %s is world-writable; refusing to use it", dir);
	return 0;
}

/* Who serves `path` right now? 1 + pid if something accepts connections,
 * 0 if the socket is stale (connection refused), negative on other errors. */
static int
probe_socket(const char *path, const struct sockaddr_un *sa, pid_t *ret_pid)
{
	struct ucred cr;
	socklen_t sl = sizeof(cr);
	int fd, r;

	*ret_pid = 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return tpmid_seterr(TPMID_E_IO, "socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) == 0)
			*ret_pid = cr.pid;
		r = 1;
	} else if (errno == ECONNREFUSED)
		r = 0;
	else if (errno == ENOENT)
		r = 0;
	else
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

static int
refuse_live(const char *path, pid_t pid)
{
	if (pid > 0)
		return tpmid_seterr(TPMID_E_BUSY,
		    "another agent is already serving %s (pid %ld)", path, (long)pid);
	return tpmid_seterr(TPMID_E_BUSY, "another agent is already serving %s", path);
}

/* Remove the socket at `path` only if it is still the one described by
 * `bound` (st_dev/st_ino taken right after our bind): once we stopped
 * listening, a new agent may have found our socket stale and bound its
 * own there, and that one must not be removed. Returns 1 if removed, 0 if
 * left (gone, or not ours any more; logged at debug), negative on error.
 * The lstat-unlink pair is not atomic; callers narrow the window by
 * unlinking while still listening (a live socket is never replaced). */
static int
unlink_if_ours(const char *path, const struct stat *bound)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT) {
			log_debug("not removing %s: it is gone already", path);
			return 0;
		}
		return tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode) || st.st_dev != bound->st_dev || st.st_ino != bound->st_ino) {
		log_debug("not removing %s: it is no longer the socket we bound "
		    "(another agent may have replaced it)", path);
		return 0;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return tpmid_seterr(TPMID_E_IO, "cannot remove %s: %s", path, strerror(errno));
	return 1;
}

/* agent_bind() that also returns what it bound (lstat of the path right
 * after bind()), for unlink_if_ours(). */
static int
agent_bind_st(const char *path, int system_mode, int *ret_fd, struct stat *ret_st)
{
	struct sockaddr_un sa;
	struct stat st, bst;
	mode_t old;
	pid_t pid;
	int fd = -1, r, tries;

	*ret_fd = -1;
	memset(ret_st, 0, sizeof(*ret_st));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return tpmid_seterr(TPMID_E_INVAL, "%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	if ((r = socket_dir(path, system_mode)) < 0)
		return r;

	for (tries = 0; tries < 2; tries++) {
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode))
				return tpmid_seterr(TPMID_E_EXISTS,
				    "%s exists and is not a socket; refusing to replace it", path);
			if ((r = probe_socket(path, &sa, &pid)) < 0)
				return r;
			if (r == 1)
				return refuse_live(path, pid);
			if (unlink(path) < 0 && errno != ENOENT)
				return tpmid_seterr(TPMID_E_IO, "cannot remove stale socket %s: %s",
				    path, strerror(errno));
			log_info("replaced stale socket %s", path);
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
			return tpmid_seterr(TPMID_E_IO, "socket: %s", strerror(errno));
		/* The socket is born with the right mode: no window in which
		 * another user could connect. */
		old = umask(system_mode ? 0117 : 0177);
		r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (r == 0)
			break;
		r = errno;
		close(fd);
		fd = -1;
		/* Lost a race with another agent starting: look again. */
		if (r != EADDRINUSE)
			return tpmid_seterr(TPMID_E_IO, "cannot bind %s: %s", path, strerror(r));
	}
	if (fd < 0)
		return tpmid_seterr(TPMID_E_BUSY, "cannot bind %s: address in use", path);
	/* Remember the inode we just created, for unlink_if_ours() at exit.
	 * (Until listen() a second agent starting now would take it for
	 * stale; that window is a few instructions wide.) */
	if (lstat(path, &bst) < 0 || !S_ISSOCK(bst.st_mode)) {
		r = tpmid_seterr(TPMID_E_IO, "%s: the socket vanished right after bind", path);
		close(fd);
		return r;
	}
	if (chmod(path, system_mode ? 0660 : 0600) < 0)
		log_warn("%s: chmod: %s", path, strerror(errno));
	if (listen(fd, AGENT_MAX_CONNS) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "listen on %s: %s", path, strerror(errno));
		close(fd);
		(void)unlink_if_ours(path, &bst);
		return r;
	}
	*ret_fd = fd;
	*ret_st = bst;
	return 0;
}

int
agent_bind(const char *path, int system_mode, int *ret_fd)
{
	struct stat st;

	return agent_bind_st(path, system_mode, ret_fd, &st);
}

/* --- connections --------------------------------------------------------- */

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

static void
conn_close(struct agent *a, size_t i, const char *why)
{
	struct conn *c = a->conns[i];

	log_debug("closing connection from uid %u pid %ld: %s", (unsigned)c->peer.uid,
	    (long)c->peer.pid, why);
	conn_free(c);
	a->conns[i] = a->conns[--a->nconns];
	a->conns[a->nconns] = NULL;
	if (a->rr > a->nconns)
		a->rr = 0;
}

static struct tbuf *
new_inbuf(void)
{
	struct tbuf *b = tbuf_new(CONN_IN_MAX);

	if (b != NULL)
		tbuf_set_secret(b);
	return b;
}

/* May a new connection from `uid` take a slot (see CONN_OWNER_RESERVE)? */
static int
conn_slot_for(const struct agent *a, uid_t uid)
{
	size_t i, mine = 0;

	if (uid == 0 || uid == a->d.agent_uid)
		return 1;
	if (a->nconns >= AGENT_MAX_CONNS - CONN_OWNER_RESERVE)
		return 0;
	for (i = 0; i < a->nconns; i++)
		mine += a->conns[i]->peer.uid == uid;
	return mine < CONN_PER_UID_MAX;
}

static void
do_accept(struct agent *a)
{
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
		if (a->nconns >= AGENT_MAX_CONNS || !conn_slot_for(a, cr.uid)) {
			t = now();
			if (ms_between(a->last_full_warn, t) > 10000 ||
			    a->last_full_warn.tv_sec == 0) {
				log_warn("%zu connections open; refusing uid %u pid %ld",
				    a->nconns, (unsigned)cr.uid, (long)cr.pid);
				a->last_full_warn = t;
			}
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->in = new_inbuf()) == NULL ||
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
		c->last = now();
		/* Every uid may connect (the socket's mode is the outer gate);
		 * each request is checked against the peer's uid/gid in
		 * dispatch_frame() (PROTOCOL.md "Access"). */
		if (cr.uid != a->d.agent_uid && cr.uid != 0)
			log_debug("connection from uid %u pid %ld (not the agent's uid: "
			    "requests are checked per identity)", (unsigned)cr.uid, (long)cr.pid);
		a->conns[a->nconns++] = c;
	}
}

/* Bytes still missing for the frame at the front of `in`: 0 when a whole
 * frame is buffered; negative when the announced length is refused. */
static int
frame_missing(const struct tbuf *in, size_t *ret)
{
	const uint8_t *p = tbuf_ptr(in);
	size_t have = tbuf_len(in);
	uint32_t len;

	*ret = 0;
	if (have < 4) {
		*ret = 4 - have;
		return 0;
	}
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (len == 0)
		return TPMID_E_FORMAT;
	if (len > PROTO_REQUEST_MAX)
		return TPMID_E_TOOBIG;
	if (have - 4 < len)
		*ret = 4 + (size_t)len - have;
	return 0;
}

/* Read what the current frame still needs and no more: the length prefix
 * first, then, once it is checked, the body. Returns 0, or negative when
 * the connection must be closed. */
static int
conn_read(struct conn *c)
{
	uint8_t *p;
	size_t need;
	ssize_t n;
	int r;

	for (;;) {
		if ((r = frame_missing(c->in, &need)) < 0) {
			log_info("uid %u pid %ld sent a frame %s; closing the connection",
			    (unsigned)c->peer.uid, (long)c->peer.pid,
			    r == TPMID_E_TOOBIG ? "over the 256 KiB limit" : "of length 0");
			return r;
		}
		if (need == 0)
			return 0;
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
		c->last = now();
	}
}

static int
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
		c->last = now();
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

static int
conn_has_frame(const struct conn *c)
{
	size_t need;

	return frame_missing(c->in, &need) == 0 && need == 0;
}

/* Execute the one frame at the front of c->in. Negative: close. */
static int
conn_process(struct agent *a, struct conn *c)
{
	const uint8_t *body;
	size_t len;
	int r;

	if ((r = proto_frame_next(c->in, PROTO_REQUEST_MAX, &body, &len)) <= 0)
		return r < 0 ? r : 0;
	tbuf_reset(a->scratch);
	r = dispatch_frame(&a->d, &c->peer, body, len, a->scratch);
	/* The request may have held a PIN: wipe it now, not at reuse. */
	if (c->in->alloc > CONN_BUF_KEEP) {
		tbuf_free(c->in);
		if ((c->in = new_inbuf()) == NULL)
			return TPMID_E_NOMEM;
	} else
		tbuf_reset(c->in);
	if (r < 0)
		return r;
	if (tbuf_len(a->scratch) == 0)
		return TPMID_E_AGENT;
	if ((r = proto_frame_put(c->out, tbuf_ptr(a->scratch), tbuf_len(a->scratch))) < 0)
		return r;
	if (a->scratch->alloc > CONN_BUF_KEEP) {
		tbuf_free(a->scratch);
		if ((a->scratch = tbuf_new(PROTO_REPLY_MAX)) == NULL)
			return TPMID_E_NOMEM;
	}
	/* Answer at once rather than after another poll() turn. */
	return conn_write(c);
}

/* --- signals ------------------------------------------------------------- */

static int
signals_setup(struct agent *a)
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

static void
stop_listening(struct agent *a)
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
		if ((r = unlink_if_ours(a->path, &st)) < 0)
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
				a->stop_deadline = now();
				a->stop_deadline.tv_sec += AGENT_SHUTDOWN_FLUSH_MS / 1000;
				stop_listening(a);
			}
			break;
		default:
			break;
		}
	}
}

/* --- the loop ------------------------------------------------------------ */

static int
poll_timeout_ms(struct agent *a, struct timespec t, int tick_s)
{
	long long best = -1, left;
	unsigned idle = a->cfg->idle_timeout_s ? a->cfg->idle_timeout_s : AGENT_IDLE_TIMEOUT_S;
	size_t i;

	if (tick_s >= 0)
		best = (long long)tick_s * 1000;
	for (i = 0; i < a->nconns; i++) {
		unsigned lim = tbuf_len(a->conns[i]->out) > 0 ?
		    AGENT_STALL_TIMEOUT_S : idle;

		left = (long long)lim * 1000 - ms_between(a->conns[i]->last, t);
		if (left < 0)
			left = 0;
		if (best < 0 || left < best)
			best = left;
	}
	if (a->stopping) {
		left = ms_between(t, a->stop_deadline);
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
	size_t i = 0;

	while (i < a->nconns) {
		struct conn *c = a->conns[i];
		int stalled = tbuf_len(c->out) > 0;
		long long lim = (long long)(stalled ? AGENT_STALL_TIMEOUT_S : idle) * 1000;

		if (ms_between(c->last, t) >= lim) {
			if (stalled)
				log_info("uid %u pid %ld stopped reading its replies; closing",
				    (unsigned)c->peer.uid, (long)c->peer.pid);
			conn_close(a, i, stalled ? "not reading" : "idle timeout");
			continue;
		}
		i++;
	}
}

static int
run_loop(struct agent *a)
{
	struct pollfd pfd[AGENT_MAX_CONNS + 2];
	struct conn *polled[AGENT_MAX_CONNS];
	struct timespec t;
	size_t i, n, np, nc;
	int tick, r, lslot;

	for (;;) {
		tick = engine_tick(a->engine);
		t = now();
		if (a->stopping) {
			int pending = 0;

			for (i = 0; i < a->nconns; i++)
				pending |= tbuf_len(a->conns[i]->out) > 0;
			if (!pending || ms_between(t, a->stop_deadline) <= 0)
				return 0;
		}

		np = 0;
		pfd[np].fd = a->sfd;
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
			 * and the peer takes its replies. */
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
			if ((rev & POLLIN) && conn_read(c) < 0) {
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
		if (lslot && a->lfd >= 0 && (pfd[1].revents & POLLIN))
			do_accept(a);

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
				if (!conn_has_frame(c) || tbuf_len(c->out) >= CONN_OUT_SOFT)
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

			if (c->eof && tbuf_len(c->out) == 0 && !conn_has_frame(c)) {
				conn_close(a, i, "peer closed");
				continue;
			}
			i++;
		}
		expire_idle(a, now());
	}
}

/* --- startup -------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: tpmid-agent [--foreground] [--socket PATH] [--store DIR] [--tcti STR]\n"
	    "                   [--max-loaded N] [--idle-timeout S] [--log-level L] [--system]\n"
	    "\n"
	    "Serve the TPM-backed identities in the store over a UNIX socket that speaks\n"
	    "the ssh-agent protocol (SSH_AUTH_SOCK may point at it) plus tpmid's own\n"
	    "requests (PROTOCOL.md).\n"
	    "\n"
	    "  -f, --foreground     stay in the foreground and log to stderr\n"
	    "                       (default: detach, log to syslog, print the environment)\n"
	    "  -s, --socket PATH    socket path (default: $TPMID_SOCKET, else\n"
	    "                       $XDG_RUNTIME_DIR/tpmid/agent.sock; system: %s)\n"
	    "      --store DIR      identity store (default: $TPMID_STORE, else\n"
	    "                       $XDG_DATA_HOME/tpmid; system: %s)\n"
	    "      --tcti STR       TPM connection (default: $TPMID_TCTI, else device:/dev/tpmrm0)\n"
	    "      --max-loaded N   keys kept loaded in the TPM (default %d)\n"
	    "      --idle-timeout S close connections idle for S seconds (default %d)\n"
	    "      --log-level L    error, warn, info (default) or debug\n"
	    "      --system         system agent: socket dir 0750 group %s, socket 0660\n"
	    "  -h, --help           this text\n"
	    "  -V, --version        version\n"
	    "\n"
	    "Socket activation (systemd LISTEN_FDS) is used when present. SIGHUP rescans\n"
	    "the store; SIGTERM finishes the current request, flushes the TPM and exits.\n",
	    AGENT_SYSTEM_SOCKET, AGENT_SYSTEM_STORE, ENGINE_MAX_LOADED_DEFAULT,
	    AGENT_IDLE_TIMEOUT_S, AGENT_SYSTEM_GROUP);
}

static int
parse_args(int argc, char **argv, struct agent_cfg *cfg)
{
	enum { OPT_STORE = 256, OPT_TCTI, OPT_MAX_LOADED, OPT_LOG_LEVEL, OPT_SYSTEM,
	    OPT_IDLE };
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "max-loaded", required_argument, NULL, OPT_MAX_LOADED },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "system", no_argument, NULL, OPT_SYSTEM },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, "fs:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg->foreground = 1;
			break;
		case 's':
			cfg->socket = optarg;
			break;
		case OPT_STORE:
			cfg->store_dir = optarg;
			break;
		case OPT_TCTI:
			cfg->tcti = optarg;
			break;
		case OPT_MAX_LOADED:
			if (parse_u32(optarg, &v) < 0 || v == 0 || v > 1024) {
				fprintf(stderr, "tpmid-agent: --max-loaded: expected 1..1024, got '%s'\n",
				    optarg);
				return 2;
			}
			cfg->max_loaded = v;
			break;
		case OPT_IDLE:
			if (parse_u32(optarg, &v) < 0 || v == 0 || v > 86400) {
				fprintf(stderr, "tpmid-agent: --idle-timeout: expected 1..86400 seconds, got '%s'\n",
				    optarg);
				return 2;
			}
			cfg->idle_timeout_s = v;
			break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &cfg->log_level) < 0) {
				fprintf(stderr, "tpmid-agent: --log-level: expected error, warn, info or debug, got '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case OPT_SYSTEM:
			cfg->system = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("tpmid-agent %s\n", TPMID_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'tpmid-agent --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tpmid-agent: unexpected argument '%s'\nTry 'tpmid-agent --help'.\n",
		    argv[optind]);
		return 2;
	}
	return 0;
}

/* Detach like ssh-agent: the parent prints the environment for a shell and
 * exits; the child runs in its own session with stdio on /dev/null. */
static int
daemonize(const char *path)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return tpmid_seterr(TPMID_E_IO, "fork: %s", strerror(errno));
	if (pid > 0) {
		printf("SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n", path);
		printf("TPMID_SOCKET=%s; export TPMID_SOCKET;\n", path);
		printf("TPMID_AGENT_PID=%ld; export TPMID_AGENT_PID;\n", (long)pid);
		printf("echo tpmid-agent pid %ld;\n", (long)pid);
		fflush(stdout);
		_exit(0);
	}
	if (setsid() < 0)
		return tpmid_seterr(TPMID_E_IO, "setsid: %s", strerror(errno));
	if (chdir("/") < 0)
		return tpmid_seterr(TPMID_E_IO, "chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static char *
socket_path_of(int fd)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sa.sun_path[0] == '\0')
		return strdup("(activated socket)");
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	return strdup(sa.sun_path);
}

int
agent_main(const struct agent_cfg *cfg)
{
	struct agent a;
	struct engine_cfg ecfg;
	struct engine_status st;
	struct stat sst;
	struct timespec t0 = now(), t;
	const char *store_dir = cfg->store_dir;
	const char *s;
	size_t i;
	int r, activated, status = 1;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.lfd = a.sfd = -1;
	a.d.agent_uid = geteuid();

	harden_process();
	log_init("tpmid-agent", 0, cfg->log_level);

	/* Signals are blocked before anything that may be interrupted, so a
	 * SIGTERM during startup is handled by the loop, not lost. */
	if ((r = signals_setup(&a)) < 0)
		goto fail;

	if ((activated = agent_listen_activated(&a.lfd)) < 0) {
		r = activated;
		goto fail;
	}
	if (activated) {
		a.path = socket_path_of(a.lfd);
		if (cfg->socket != NULL)
			log_info("socket activation: serving %s (--socket ignored)", a.path);
	} else {
		if (cfg->socket != NULL)
			a.path = strdup(cfg->socket);
		else if (cfg->system)
			a.path = strdup(AGENT_SYSTEM_SOCKET);
		else
			a.path = client_default_socket();
		if (a.path == NULL) {
			r = TPMID_E_NOMEM;
			goto fail;
		}
		if ((r = agent_bind_st(a.path, cfg->system, &a.lfd, &sst)) < 0)
			goto fail;
		a.bound = 1;
		a.sock_dev = sst.st_dev;
		a.sock_ino = sst.st_ino;
	}

	if (store_dir == NULL && cfg->system &&
	    ((s = getenv("TPMID_STORE")) == NULL || *s == '\0'))
		store_dir = AGENT_SYSTEM_STORE;
	memset(&ecfg, 0, sizeof(ecfg));
	ecfg.tcti = cfg->tcti;
	ecfg.store_dir = store_dir;
	ecfg.max_loaded = cfg->max_loaded;
	/* Ready first, TPM later: the socket answers before the TPM is
	 * touched; the first request (or the check below) connects. */
	ecfg.lazy_tpm = 1;
	if ((r = engine_new(&ecfg, &a.engine)) < 0)
		goto fail;
	a.d.engine = a.engine;
	if ((a.scratch = tbuf_new(PROTO_REPLY_MAX)) == NULL) {
		r = TPMID_E_NOMEM;
		goto fail;
	}

	if (!cfg->foreground) {
		if ((r = daemonize(a.path)) < 0)
			goto fail;
		log_init("tpmid-agent", 1, cfg->log_level);
	}

	t = now();
	log_info("ready: serving %s%s (pid %ld, started in %.1f ms)", a.path,
	    activated ? " (socket activation)" : "", (long)getpid(),
	    (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6);

	/* Is the TPM there? Only a warning: the engine reconnects on demand
	 * and the agent must outlive a missing or restarting TPM. */
	tpmid_clearerr();
	if ((r = engine_status(a.engine, &st)) < 0)
		log_warn("TPM status check failed: %s", tpmid_errmsg(r));
	else if (!st.tpm_ok)
		log_warn("the TPM at %s is not reachable; requests will fail until it is",
		    st.tcti);
	else
		log_info("TPM at %s reachable; %u identities in the store", st.tcti,
		    st.identities);

	status = run_loop(&a);
	log_info("stopped");
	goto out;

fail:
	log_error("%s", tpmid_errmsg(r));
	status = 1;
out:
	stop_listening(&a);
	for (i = 0; i < a.nconns; i++)
		conn_free(a.conns[i]);
	/* Flushes every loaded key and the SRK, wipes held PINs. */
	engine_free(a.engine);
	secret_free(a.d.lock_pass);
	tbuf_free(a.scratch);
	if (a.sfd >= 0)
		close(a.sfd);
	free(a.path);
	return status;
}

int
main(int argc, char **argv)
{
	struct agent_cfg cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.log_level = LOG_LVL_INFO;
	if ((r = parse_args(argc, argv, &cfg)) != 0)
		return r;
	return agent_main(&cfg);
}
