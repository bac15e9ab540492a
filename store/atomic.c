/* atomic_write() (atomic.h): the crash-safe write sequence, once. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "store/atomic.h"

int (*atomic_test_fail_hook)(const char *stage) = NULL;

/* A nonzero hook return is the errno the failing step would have
 * reported (EIO if it is not positive). */
static int
hook(const char *stage)
{
	int e;

	if (atomic_test_fail_hook == NULL || (e = atomic_test_fail_hook(stage)) == 0)
		return 0;
	errno = e > 0 ? e : EIO;
	return -1;
}

int
atomic_sync_dir(const char *dir)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return tpmid_seterr(TPMID_E_IO, "%s: %s", dir, strerror(errno));
	if (fsync(fd) < 0)
		r = tpmid_seterr(TPMID_E_IO, "%s: fsync: %s", dir, strerror(errno));
	close(fd);
	return r;
}

static int
io_err(const char *path, const char *what)
{
	int e = errno;

	return tpmid_seterr(e == EACCES || e == EPERM ? TPMID_E_PERM : TPMID_E_IO, "%s: %s%s%s",
	    path, what, *what != '\0' ? ": " : "", strerror(e));
}

int
atomic_write(const char *path, const void *p, size_t len, mode_t mode, unsigned flags)
{
	char *dcopy = NULL, *bcopy = NULL, *tmp = NULL;
	const char *dir, *base;
	int fd = -1, r;

	if ((dcopy = strdup(path)) == NULL || (bcopy = strdup(path)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	dir = dirname(dcopy);
	base = basename(bcopy);
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = io_err(path, "cannot create a temporary file");
		free(tmp);
		tmp = NULL; /* nothing to unlink */
		goto out;
	}
	/* mkostemp() made it 0600; the caller's mode, exactly (no umask). */
	if (fchmod(fd, mode) < 0) {
		r = io_err(path, "chmod");
		goto out;
	}
	if (hook("write") < 0 || write_all(fd, p, len) < 0) {
		r = io_err(path, "write");
		goto out;
	}
	if (hook("fsync") < 0 || fsync(fd) < 0) {
		r = io_err(path, "fsync");
		goto out;
	}
	/* close() can report a deferred write error (NFS); check it. */
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = io_err(path, "close");
		goto out;
	}
	if (flags & ATOMIC_NO_CLOBBER) {
		if (hook("rename") < 0 || link(tmp, path) < 0) {
			r = errno == EEXIST ? tpmid_seterr(TPMID_E_EXISTS, "%s exists", path) :
			    io_err(path, "link");
			goto out;
		}
		(void)unlink(tmp);
	} else if (hook("rename") < 0 || rename(tmp, path) < 0) {
		r = io_err(path, "rename");
		goto out;
	}
	free(tmp);
	tmp = NULL; /* in place: nothing left to clean up */
	/* The new file is in place; a failure here only means it may not
	 * survive a crash, which the caller still hears about. */
	r = atomic_sync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	free(dcopy);
	free(bcopy);
	return r;
}
