/* Client side of the agent socket (PROTOCOL.md): connect, send one request
 * frame, read one reply frame, decode it with the same codec the agent
 * uses. Failure replies come back as the agent's TPMID_E_* code with its
 * message recorded by tpmid_seterr(), so the CLI prints the same line it
 * would print in direct mode. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/cli/backend.h"
#include "agent/wire/client.h"
#include "agent/wire/proto.h"
#include "common/err.h"
#include "common/util.h"

/* Send/receive timeouts: a request that is not answered in time is a
 * clear error, never a hang. Key creation may take seconds on a hardware
 * TPM, so those requests get longer. */
#define CLIENT_TIMEOUT_S 5
#define CLIENT_SLOW_TIMEOUT_S 60

struct client {
	int fd;          /* -1 once the connection is unusable */
	char *path;
	unsigned timeout_s;
};

char *
client_default_socket(void)
{
	const char *s;
	char *p = NULL;

	if ((s = getenv("TPMID_SOCKET")) != NULL && *s != '\0')
		return strdup(s);
	if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s != '\0') {
		if (asprintf(&p, "%s/tpmid/agent.sock", s) < 0)
			return NULL;
		return p;
	}
	if (asprintf(&p, "/run/user/%u/tpmid/agent.sock", (unsigned)getuid()) < 0)
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

int
client_connect(const char *path, struct client **ret)
{
	struct sockaddr_un sa;
	struct client *c = NULL;
	char *def = NULL;
	int r, err;

	*ret = NULL;
	if (path == NULL && (path = def = client_default_socket()) == NULL)
		return TPMID_E_NOMEM;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		r = tpmid_seterr(TPMID_E_INVAL, "%s: socket path too long", path);
		goto out;
	}
	memcpy(sa.sun_path, path, strlen(path));
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
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "socket: %s", strerror(errno));
		goto out;
	}
	set_timeout(c, CLIENT_TIMEOUT_S);
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		if (err == EINTR)
			continue;
		if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
			r = tpmid_seterr(TPMID_E_NOAGENT, "no agent listening at %s", path);
		else if (err == EACCES || err == EPERM)
			r = tpmid_seterr(TPMID_E_PERM, "agent socket %s: %s", path, strerror(err));
		else
			r = tpmid_seterr(TPMID_E_NOAGENT, "agent socket %s: %s", path, strerror(err));
		goto out;
	}
	if ((r = check_peer(c->fd, path)) < 0)
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

/* One request, one reply. Exported through client.h for the PKCS#11 shim;
 * the CLI goes through backend_agent_ops below. */
int
client_call(struct client *c, const struct proto_request *q, struct proto_reply *ret)
{
	struct tbuf *out = NULL;
	uint8_t hdr[4], *body = NULL;
	uint32_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (c->fd < 0)
		return tpmid_seterr(TPMID_E_NOAGENT, "the connection to the agent at %s was lost",
		    c->path);
	/* The request may carry a PIN or a private key: wipe it after use. */
	if ((out = tbuf_new(PROTO_REQUEST_MAX + 4)) == NULL)
		return TPMID_E_NOMEM;
	tbuf_set_secret(out);
	if ((r = tbuf_put_u32(out, 0)) < 0 || (r = proto_put_request(out, q)) < 0) {
		if (r == TPMID_E_TOOBIG)
			r = tpmid_seterr(r, "request too large for the agent (limit %u bytes)",
			    PROTO_REQUEST_MAX);
		goto out;
	}
	if ((r = tbuf_poke_u32(out, 0, (uint32_t)(tbuf_len(out) - 4))) < 0)
		goto out;
	set_timeout(c, (q->type == PROTO_REQ_KEYGEN || q->type == PROTO_REQ_IMPORT ||
	    q->type == PROTO_REQ_UNLOCK) ? CLIENT_SLOW_TIMEOUT_S : CLIENT_TIMEOUT_S);
	if ((r = send_all(c, tbuf_ptr(out), tbuf_len(out))) < 0)
		goto out;

	if ((r = recv_all(c, hdr, sizeof(hdr))) < 0)
		goto out;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > PROTO_REPLY_MAX) {
		client_broken(c);
		r = tpmid_seterr(TPMID_E_AGENT, "agent at %s sent a bad frame length %u",
		    c->path, len);
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
	r = proto_get_reply(q->type, body, len, ret);
out:
	free(body);
	tbuf_free(out);
	return r;
}

/* --- backend_agent_ops: struct backend_ops over the socket ------------- */

static int
call_simple(void *ctx, struct proto_request *q)
{
	struct proto_reply rep;
	int r;

	r = client_call(ctx, q, &rep);
	proto_reply_clear(&rep);
	return r;
}

static int
agent_list(void *ctx, struct id_info **ret, size_t *ret_n)
{
	struct proto_request q = { .type = PROTO_REQ_LIST };
	struct proto_reply rep;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if ((r = client_call(ctx, &q, &rep)) < 0)
		return r;
	*ret = rep.list;
	*ret_n = rep.n_list;
	rep.list = NULL;
	rep.n_list = 0;
	proto_reply_clear(&rep);
	return 0;
}

static int
agent_info_common(void *ctx, struct proto_request *q, struct id_info *ret)
{
	struct proto_reply rep;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = client_call(ctx, q, &rep)) < 0)
		return r;
	*ret = rep.info;
	memset(&rep.info, 0, sizeof(rep.info));
	proto_reply_clear(&rep);
	return 0;
}

static int
agent_info(void *ctx, const char *name, struct id_info *ret)
{
	struct proto_request q = { .type = PROTO_REQ_INFO, .name = (char *)name };

	return agent_info_common(ctx, &q, ret);
}

static int
agent_identity_json(void *ctx, const char *name, char **ret)
{
	struct proto_request q = { .type = PROTO_REQ_IDENTITY, .name = (char *)name };
	struct proto_reply rep;
	int r;

	*ret = NULL;
	if ((r = client_call(ctx, &q, &rep)) < 0)
		return r;
	*ret = rep.json;
	rep.json = NULL;
	proto_reply_clear(&rep);
	return 0;
}

static int
agent_sign_digest(void *ctx, const char *name, const uint8_t *dg, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	struct proto_request q = {
		.type = PROTO_REQ_SIGN_DIGEST, .name = (char *)name,
		.data = (uint8_t *)(uintptr_t)dg, .data_len = len,
		.pin = (struct secret *)(uintptr_t)pin,
	};
	struct proto_reply rep;
	int r;

	*ret_der = NULL;
	*ret_len = 0;
	if ((r = client_call(ctx, &q, &rep)) < 0)
		return r;
	*ret_der = rep.der;
	*ret_len = rep.der_len;
	rep.der = NULL;
	proto_reply_clear(&rep);
	return 0;
}

static int
agent_keygen(void *ctx, const char *name, enum tpmid_curve alg, const struct secret *pin,
    enum engine_persist persist, uint32_t handle, struct id_info *ret)
{
	struct proto_request q = {
		.type = PROTO_REQ_KEYGEN, .name = (char *)name, .alg = alg,
		.persist = persist, .handle = handle,
		.pin = (struct secret *)(uintptr_t)pin,
	};

	return agent_info_common(ctx, &q, ret);
}

static int
agent_import(void *ctx, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	struct proto_request q = {
		.type = PROTO_REQ_IMPORT, .name = (char *)name,
		.data = (uint8_t *)(uintptr_t)data, .data_len = len,
		.pin = (struct secret *)(uintptr_t)pin,
	};

	return agent_info_common(ctx, &q, ret);
}

static int
agent_delete(void *ctx, const char *name)
{
	struct proto_request q = { .type = PROTO_REQ_DELETE, .name = (char *)name };

	return call_simple(ctx, &q);
}

static int
agent_unlock(void *ctx, const char *name, const struct secret *pin, unsigned timeout_s)
{
	struct proto_request q = {
		.type = PROTO_REQ_UNLOCK, .name = (char *)name,
		.pin = (struct secret *)(uintptr_t)pin, .timeout_s = timeout_s,
	};

	return call_simple(ctx, &q);
}

static int
agent_lock(void *ctx, const char *name)
{
	struct proto_request q = { .type = PROTO_REQ_LOCK, .name = (char *)name };

	return call_simple(ctx, &q);
}

static int
agent_set_cert(void *ctx, const char *name, const char *cert_pem, const char *ca_pem)
{
	struct proto_request q = {
		.type = PROTO_REQ_SET_CERT, .name = (char *)name,
		.cert_pem = (char *)cert_pem, .ca_pem = (char *)ca_pem,
	};

	return call_simple(ctx, &q);
}

static int
agent_set_ssh_cert(void *ctx, const char *name, const char *line)
{
	struct proto_request q = {
		.type = PROTO_REQ_SET_SSH_CERT, .name = (char *)name, .line = (char *)line,
	};

	return call_simple(ctx, &q);
}

static int
agent_status(void *ctx, struct engine_status *ret)
{
	struct proto_request q = { .type = PROTO_REQ_STATUS };
	struct proto_reply rep;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = client_call(ctx, &q, &rep)) < 0)
		return r;
	*ret = rep.status;
	proto_reply_clear(&rep);
	return 0;
}

static void
agent_close(void *ctx)
{
	client_free(ctx);
}

const struct backend_ops backend_agent_ops = {
	.kind = "agent",
	.list = agent_list,
	.info = agent_info,
	.identity_json = agent_identity_json,
	.sign_digest = agent_sign_digest,
	.keygen = agent_keygen,
	.import = agent_import,
	.delete = agent_delete,
	.unlock = agent_unlock,
	.lock = agent_lock,
	.set_cert = agent_set_cert,
	.set_ssh_cert = agent_set_ssh_cert,
	.status = agent_status,
	.close = agent_close,
};
