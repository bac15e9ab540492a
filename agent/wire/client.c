/* Client side of the agent socket (PROTOCOL.md): connect, check who
 * listens, send one request frame, read one reply frame, decode it with the
 * same codec the agent uses. Links with common/ alone (for the PKCS#11
 * module in other programs' processes): no OpenSSL, no globals. Failure
 * replies come back as the agent's TPMID_E_* code with its message
 * recorded by tpmid_seterr(), so the CLI prints the same line it would
 * print in direct mode.
 *
 * The agent closes connections idle for --idle-timeout (60 s by default).
 * A program may sit between requests for longer (a PIN typed slowly, a
 * large file hashed, a tool that keeps its PKCS#11 session), so a
 * connection idle for a moment, or one the agent has closed, is dialled
 * again before the next request: it is never cut under a request that
 * was still being prepared. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/wire/client.h"
#include "agent/wire/wire.h"
#include "common/err.h"
#include "common/util.h"

/* Send/receive timeouts: a request that is not answered in time is a
 * clear error, never a hang. The agent answers what needs no TPM at once,
 * and what does within its --tpm-timeout (at most 25 s; key creation and
 * import 4x that: agent/daemon/daemon.h), so these only catch a hung
 * agent. */
#define CLIENT_TIMEOUT_S 5
#define CLIENT_TPM_TIMEOUT_S 30
#define CLIENT_SLOW_TIMEOUT_S 120
/* Idle longer than this, dial again: well under the shortest
 * --idle-timeout (1 s), so the agent never closes a connection just as a
 * request is sent on it. */
#define CLIENT_REDIAL_MS 500

struct client {
	int fd;          /* -1 once the connection is unusable */
	char *path;
	unsigned timeout_s;
	int64_t last_ms; /* CLOCK_MONOTONIC of the last reply */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
client_default_socket(void)
{
	const char *s;
	char *p = NULL, run[64];
	struct stat st;

	if ((s = getenv("TPMID_SOCKET")) != NULL && *s != '\0')
		return strdup(s);
	if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s != '\0') {
		if (asprintf(&p, "%s/tpmid/agent.sock", s) < 0)
			return NULL;
		return p;
	}
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)getuid());
	if (stat(run, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (asprintf(&p, "%s/tpmid/agent.sock", run) < 0)
			return NULL;
		return p;
	}
	/* No per-user runtime directory (root, su, containers): a private
	 * directory under $TMPDIR, as ssh-agent makes. The agent creates it
	 * 0700 and refuses one another uid made; the CLI trusts a socket
	 * there only from an agent of its own uid or root (client_connect). */
	if ((s = getenv("TMPDIR")) == NULL || *s != '/')
		s = "/tmp";
	if (asprintf(&p, "%s/tpmid-%u/agent.sock", s, (unsigned)getuid()) < 0)
		return NULL;
	return p;
}

static void
set_timeout(struct client *c, unsigned secs)
{
	struct timeval tv = { .tv_sec = secs, .tv_usec = 0 };

	if (c->timeout_s == secs)
		return;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->timeout_s = secs;
}

/* Who is listening? PINs and key material are about to be sent, so the
 * peer is checked with SO_PEERCRED before the first byte goes out
 * (PROTOCOL.md section 6). An agent running as our euid or as root is
 * trusted. Any other uid is trusted only where it must have been put by
 * that uid or root: the system agent, /run/tpmid/agent.sock owned by
 * tpmid in a 0750 directory owned by tpmid or root (contrib/systemd).
 * Anything else, typically a socket some other user bound in /tmp (or in
 * a directory they made in /tmp) at the path we were told to use, is
 * refused.
 *
 * For a peer uid `agent` other than ours and root's, all of these hold:
 *   - the path (not followed: lstat) is a socket owned by `agent`;
 *   - its directory is owned by root or `agent` and not writable by group
 *     or others (sticky or not: other users may create names there);
 *   - every directory above it is owned by root, `agent` or us, and is
 *     not writable by group or others, except a sticky one (like /tmp)
 *     whose entry on our path is owned by root or us: nobody else can
 *     rename or replace that entry.
 * The directory is resolved with realpath() first, so symlinks in it are
 * judged by where they lead; the socket name itself must not be a link.
 * Returns 0 to go on, TPMID_E_PERM with a detail naming the path, the uid
 * and the reason, or TPMID_E_IO if the peer cannot be identified. */
static int
check_peer(int fd, const char *path)
{
	struct ucred cr;
	socklen_t sl = sizeof(cr);
	struct stat st;
	char dir[PATH_MAX], real[PATH_MAX], sock[PATH_MAX + NAME_MAX + 2];
	const char *slash, *base;
	char *cut;
	uid_t me = geteuid(), agent, child_uid = 0;
	int first = 1;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0)
		return tpmid_seterr(TPMID_E_IO, "agent socket %s: cannot identify the agent "
		    "(SO_PEERCRED): %s", path, strerror(errno));
	if (sl != sizeof(cr))
		return tpmid_seterr(TPMID_E_IO, "agent socket %s: cannot identify the agent "
		    "(short SO_PEERCRED)", path);
	agent = cr.uid;
	if (agent == me || agent == 0)
		return 0;

	/* Split into directory and name; the name is looked up in the
	 * resolved directory so both checks are about the same entry. */
	if ((slash = strrchr(path, '/')) == NULL) {
		strcpy(dir, ".");
		base = path;
	} else if (slash == path) {
		strcpy(dir, "/");
		base = slash + 1;
	} else {
		/* path is shorter than sun_path, so this fits. */
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		base = slash + 1;
	}
	if (*base == '\0' || realpath(dir, real) == NULL)
		return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, not "
		    "you or root, and its directory cannot be resolved: %s", path,
		    (unsigned)agent, *base == '\0' ? "no socket name" : strerror(errno));
	if (snprintf(sock, sizeof(sock), "%s/%s", strcmp(real, "/") == 0 ? "" : real,
	    base) >= (int)sizeof(sock))
		return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: path too long", path);
	if (lstat(sock, &st) < 0)
		return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, not "
		    "you or root, and the socket cannot be checked: %s", path, (unsigned)agent,
		    strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, not "
		    "you or root, and %s is not a socket (a link?)", path, (unsigned)agent, sock);
	if (st.st_uid != agent)
		return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, not "
		    "you or root, and the socket belongs to uid %u", path, (unsigned)agent,
		    (unsigned)st.st_uid);

	/* Walk from the socket's directory up to "/". lstat: realpath gave
	 * no links, and one appearing now is refused, not followed. */
	for (;;) {
		if (lstat(real, &st) < 0)
			return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, "
			    "not you or root, and %s cannot be checked: %s", path,
			    (unsigned)agent, real, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, "
			    "not you or root, and %s is not a directory", path, (unsigned)agent,
			    real);
		if (st.st_uid != 0 && st.st_uid != agent && (first || st.st_uid != me))
			return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, "
			    "not you or root, from a directory (%s) owned by uid %u", path,
			    (unsigned)agent, real, (unsigned)st.st_uid);
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    (first || !(st.st_mode & S_ISVTX) || (child_uid != 0 && child_uid != me)))
			return tpmid_seterr(TPMID_E_PERM, "refusing agent at %s: it runs as uid %u, "
			    "not you or root, from a directory others can write (%s)", path,
			    (unsigned)agent, real);
		if (strcmp(real, "/") == 0)
			return 0;
		child_uid = st.st_uid;
		first = 0;
		cut = strrchr(real, '/');
		if (cut == real)
			cut[1] = '\0';
		else
			*cut = '\0';
	}
}

/* Open c->fd to c->path and check who listens. */
static int
dial(struct client *c)
{
	struct sockaddr_un sa;
	int err;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return tpmid_seterr(TPMID_E_INVAL, "%s: socket path too long", c->path);
	memcpy(sa.sun_path, c->path, strlen(c->path));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return tpmid_seterr(TPMID_E_IO, "socket: %s", strerror(errno));
	c->timeout_s = 0;
	set_timeout(c, CLIENT_TIMEOUT_S);
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		if (err == EINTR)
			continue;
		if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
			return tpmid_seterr(TPMID_E_NOAGENT, "no agent listening at %s", c->path);
		if (err == EACCES || err == EPERM)
			return tpmid_seterr(TPMID_E_PERM, "agent socket %s: %s", c->path,
			    strerror(err));
		return tpmid_seterr(TPMID_E_NOAGENT, "agent socket %s: %s", c->path,
		    strerror(err));
	}
	c->last_ms = now_ms();
	return check_peer(c->fd, c->path);
}

int
client_connect(const char *path, struct client **ret)
{
	struct client *c = NULL;
	char *def = NULL;
	int r;

	*ret = NULL;
	if (path == NULL && (path = def = client_default_socket()) == NULL)
		return TPMID_E_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	/* calloc() leaves fd 0: client_free() on the error path below must
	 * not close the caller's standard input. */
	c->fd = -1;
	if ((c->path = strdup(path)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = dial(c)) < 0)
		goto out;
	*ret = c;
	c = NULL;
	r = 0;
out:
	client_free(c);
	free(def);
	return r;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c);
}

static void
client_broken(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int
io_error(struct client *c, int err, const char *what)
{
	client_broken(c);
	if (err == EAGAIN || err == EWOULDBLOCK)
		return tpmid_seterr(TPMID_E_AGENT, "the agent at %s did not answer within %u s",
		    c->path, c->timeout_s);
	if (err == 0)
		return tpmid_seterr(TPMID_E_AGENT, "the agent at %s closed the connection (%s)",
		    c->path, what);
	return tpmid_seterr(TPMID_E_AGENT, "agent at %s: %s: %s", c->path, what, strerror(err));
}

static int
send_all(struct client *c, const uint8_t *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = send(c->fd, p, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return io_error(c, errno, "send");
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
recv_all(struct client *c, uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = recv(c->fd, p, len, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return io_error(c, errno, "receive");
		}
		if (n == 0)
			return io_error(c, 0, "receive");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Between requests the agent sends nothing: a readable or hung-up socket
 * means it closed the connection (idle timeout, restart). */
static int
redial_if_stale(struct client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int r;

	if (now_ms() - c->last_ms < CLIENT_REDIAL_MS && poll(&p, 1, 0) == 0)
		return 0;
	client_broken(c);
	if ((r = dial(c)) < 0)
		client_broken(c);
	return r;
}

int
client_call(struct client *c, const struct wire_request *q, struct wire_reply *ret)
{
	struct tbuf *out = NULL;
	const struct wire_req_desc *d = wire_req_desc(q->type);
	uint8_t hdr[4], *body = NULL;
	uint32_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (c->fd < 0)
		return tpmid_seterr(TPMID_E_NOAGENT, "the connection to the agent at %s was lost",
		    c->path);
	if ((r = redial_if_stale(c)) < 0)
		return r;
	/* The request may carry a PIN or a private key: wipe it after use. */
	if (d == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "unknown request type %d", (int)q->type);
	if ((out = tbuf_new(WIRE_REQUEST_MAX + 4)) == NULL)
		return TPMID_E_NOMEM;
	tbuf_set_secret(out);
	if ((r = tbuf_put_u32(out, 0)) < 0 || (r = wire_put_request(out, q)) < 0) {
		if (r == TPMID_E_TOOBIG)
			r = tpmid_seterr(r, "request too large for the agent (limit %u bytes)",
			    WIRE_REQUEST_MAX);
		goto out;
	}
	if ((r = tbuf_poke_u32(out, 0, (uint32_t)(tbuf_len(out) - 4))) < 0)
		goto out;
	set_timeout(c, (d->flags & WIRE_SLOW) ? CLIENT_SLOW_TIMEOUT_S :
	    (d->flags & WIRE_USES_TPM) ? CLIENT_TPM_TIMEOUT_S : CLIENT_TIMEOUT_S);
	if ((r = send_all(c, tbuf_ptr(out), tbuf_len(out))) < 0)
		goto out;

	if ((r = recv_all(c, hdr, sizeof(hdr))) < 0)
		goto out;
	if (wire_frame_len(hdr, WIRE_REPLY_MAX, &len) < 0) {
		client_broken(c);
		r = tpmid_seterr(TPMID_E_AGENT, "agent at %s sent a bad frame length %u",
		    c->path, (unsigned)hdr[0] << 24 | (unsigned)hdr[1] << 16 |
		    (unsigned)hdr[2] << 8 | hdr[3]);
		goto out;
	}
	if ((body = malloc(len)) == NULL) {
		/* The reply stays unread in the socket: the next call would
		 * take its body for a length prefix. */
		client_broken(c);
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = recv_all(c, body, len)) < 0)
		goto out;
	c->last_ms = now_ms();
	r = wire_get_reply(q->type, body, len, ret);
out:
	free(body);
	tbuf_free(out);
	return r;
}
