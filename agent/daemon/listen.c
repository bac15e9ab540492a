/* tpmid-agent's listening socket: our own (directory and socket born with
 * their modes, a live agent never replaced, a stale socket replaced, only
 * our own socket ever removed) or one passed by systemd (LISTEN_FDS). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/daemon/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define SD_LISTEN_FDS_START 3

int
listen_activated(int *ret_fd)
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
		return tpmid_seterr(TPMID_E_IO, "cannot create socket directory %s: %s (set "
		    "XDG_RUNTIME_DIR to a private directory, or give --socket PATH)", dir,
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
int
listen_unlink_if_ours(const char *path, const struct stat *bound)
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

/* daemon.h. What it bound is the lstat() of the path right after bind(). */
int
listen_bind(const char *path, int system_mode, int *ret_fd, struct stat *ret_st)
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
	/* Remember the inode we just created, for listen_unlink_if_ours() at exit.
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
		(void)listen_unlink_if_ours(path, &bst);
		return r;
	}
	*ret_fd = fd;
	*ret_st = bst;
	return 0;
}

char *
listen_path_of(int fd)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sa.sun_path[0] == '\0')
		return strdup("(activated socket)");
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	return strdup(sa.sun_path);
}
