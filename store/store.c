/* The identity store: a directory of "<name>.json" files (store.h).
 *
 * Writes follow the usual crash-safe sequence: a temp file in the same
 * directory (so rename(2) is atomic, POSIX.1-2017 rename()), fsync of the
 * data, rename over the old file, fsync of the directory so the rename
 * itself is durable. Writers serialize on flock() of "<dir>/.lock"; readers
 * take no lock, since rename() means they see either the old file or the
 * new one, never a mix. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "store/atomic.h"
#include "store/store.h"

#define STORE_SUFFIX ".json"
#define STORE_LOCK ".lock"
#define STORE_TOMBSTONE ".deleting."
#define STORE_SRK_NAME ".srk-name"
/* A TPM name is at most 2 + 64 bytes; anything much longer is not ours. */
#define SRK_NAME_FILE_MAX 1024

struct store {
	char *dir;
};

static char *
join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

/* The default location (store.h): $TPMID_STORE, then the XDG base
 * directory spec's $XDG_DATA_HOME (only if absolute, as the spec demands),
 * then ~/.local/share, with ~ from $HOME or the password database. */
static int
default_dir(char **ret)
{
	const char *e;
	struct passwd *pw;

	*ret = NULL;
	if ((e = getenv("TPMID_STORE")) != NULL && *e != '\0')
		*ret = strdup(e);
	else if ((e = getenv("XDG_DATA_HOME")) != NULL && *e == '/')
		*ret = join(e, "tpmid");
	else {
		if ((e = getenv("HOME")) == NULL || *e == '\0') {
			if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL ||
			    *pw->pw_dir == '\0')
				return tpmid_seterr(TPMID_E_NOENT,
				    "no store directory: set TPMID_STORE or HOME");
			e = pw->pw_dir;
		}
		*ret = join(e, ".local/share/tpmid");
	}
	return *ret == NULL ? TPMID_E_NOMEM : 0;
}

/* mkdir -p: missing parents 0755 (like XDG directories), the store 0700. */
static int
mkdir_p(const char *dir)
{
	char *p, *c;
	int r = 0;

	if ((p = strdup(dir)) == NULL)
		return TPMID_E_NOMEM;
	for (c = p + 1; *c != '\0'; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			r = tpmid_seterr(TPMID_E_IO, "%s: cannot create directory: %s", p,
			    strerror(errno));
			goto out;
		}
		*c = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		r = tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO,
		    "%s: cannot create directory: %s", p, strerror(errno));
out:
	free(p);
	return r;
}

/* Whoever can write the directory can swap identity files (and with them
 * which key a name signs with), so like sshd's StrictModes we refuse a
 * store that someone other than us (or root) owns or that group or others
 * can write. */
static int
check_dir(const char *dir, int *ret_missing)
{
	struct stat st;

	*ret_missing = 0;
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT) {
			*ret_missing = 1;
			return 0;
		}
		return tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", dir,
		    strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return tpmid_seterr(TPMID_E_INVAL, "%s: store is not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return tpmid_seterr(TPMID_E_PERM, "%s: store directory is owned by uid %u, not by us",
		    dir, (unsigned int)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return tpmid_seterr(TPMID_E_PERM,
		    "%s: store directory is writable by group or others (mode %04o); "
		    "run 'chmod 700 %s'", dir, (unsigned int)(st.st_mode & 07777), dir);
	return 0;
}

static int
ensure_dir(const char *dir)
{
	int missing, r;

	if ((r = check_dir(dir, &missing)) < 0)
		return r;
	if (!missing)
		return 0;
	if ((r = mkdir_p(dir)) < 0)
		return r;
	return check_dir(dir, &missing);
}

/* One spelling per directory: absolute (a daemon that chdir()s to "/"
 * must still find it), through symlinks when it exists, no trailing
 * slashes (they would double up in every path we print). */
static int
canonical_dir(char **dir)
{
	char *abs, *real;
	size_t n;

	if ((abs = path_absolute(*dir)) == NULL)
		return tpmid_seterr(TPMID_E_IO, "%s: cannot resolve the store directory: %s",
		    *dir, strerror(errno));
	free(*dir);
	*dir = abs;
	if ((real = realpath(*dir, NULL)) != NULL) {
		free(*dir);
		*dir = real;
	}
	for (n = strlen(*dir); n > 1 && (*dir)[n - 1] == '/'; n--)
		(*dir)[n - 1] = '\0';
	return 0;
}

int
store_resolve_dir(const char *dir, char **ret)
{
	int r;

	*ret = NULL;
	if (dir != NULL) {
		if (*dir == '\0')
			return tpmid_seterr(TPMID_E_INVAL, "empty store directory name");
		if ((*ret = strdup(dir)) == NULL)
			return TPMID_E_NOMEM;
	} else if ((r = default_dir(ret)) < 0)
		return r;
	if ((r = canonical_dir(ret)) < 0) {
		free(*ret);
		*ret = NULL;
	}
	return r;
}

int
store_open(const char *dir, int create, struct store **ret)
{
	struct store *s = NULL;
	int missing, r;

	*ret = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return TPMID_E_NOMEM;
	if ((r = store_resolve_dir(dir, &s->dir)) < 0)
		goto out;
	if (create)
		r = ensure_dir(s->dir);
	else
		r = check_dir(s->dir, &missing);
	if (r < 0)
		goto out;
	/* Created just now: its real path is known only from here on. */
	if ((r = canonical_dir(&s->dir)) < 0)
		goto out;
	*ret = s;
	s = NULL;
	r = 0;
out:
	store_free(s);
	return r;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	free(s->dir);
	free(s);
}

const char *
store_dir(const struct store *s)
{
	return s->dir;
}

char *
store_path(const struct store *s, const char *name)
{
	char *p;

	if (!identity_name_valid(name)) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&p, "%s/%s%s", s->dir, name, STORE_SUFFIX) < 0)
		return NULL;
	return p;
}

static int
check_name(const char *name)
{
	if (!identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL,
		    "invalid identity name \"%.80s\": use 1-%d of A-Z a-z 0-9 . _ -, "
		    "not starting with '.' or '-'", name != NULL ? name : "", TPMID_NAME_MAX);
	return 0;
}

static void
stamp_from_stat(const struct stat *st, struct store_stamp *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->dev = st->st_dev;
	ret->ino = st->st_ino;
	ret->size = st->st_size;
	ret->mtime = st->st_mtim;
}

int
store_stamp_eq(const struct store_stamp *a, const struct store_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Read and parse the identity `name` from `path` (its file, or its
 * tombstone). */
static int
load_path(struct store *s, const char *path, const char *name, struct identity **ret,
    struct store_stamp *ret_stamp)
{
	struct identity *id = NULL;
	struct stat st;
	uint8_t *data = NULL;
	size_t len = 0;
	int fd = -1, r;

	*ret = NULL;
	if (ret_stamp != NULL)
		memset(ret_stamp, 0, sizeof(*ret_stamp));
	/* O_NOFOLLOW: a symlink planted in the store must not redirect us to
	 * some other file. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			r = tpmid_seterr(TPMID_E_NOENT, "identity '%s' not found in %s", name, s->dir);
		else if (errno == ELOOP)
			r = tpmid_seterr(TPMID_E_PERM, "%s: is a symbolic link; refusing to follow it",
			    path);
		else
			r = tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = tpmid_seterr(TPMID_E_FORMAT, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > IDENTITY_FILE_MAX) {
		r = tpmid_seterr(TPMID_E_TOOBIG, "%s: larger than %d bytes", path, IDENTITY_FILE_MAX);
		goto out;
	}
	if ((r = read_fd(fd, IDENTITY_FILE_MAX, &data, &len)) < 0) {
		if (r == TPMID_E_TOOBIG)
			r = tpmid_seterr(r, "%s: larger than %d bytes", path, IDENTITY_FILE_MAX);
		else if (r == TPMID_E_IO)
			r = tpmid_seterr(r, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((r = identity_parse((const char *)data, len, name, &id)) < 0) {
		tpmid_err_prefix("%s", path);
		goto out;
	}
	if (ret_stamp != NULL)
		stamp_from_stat(&st, ret_stamp);
	*ret = id;
	id = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	identity_free(id);
	free(data);
	return r;
}

int
store_load(struct store *s, const char *name, struct identity **ret,
    struct store_stamp *ret_stamp)
{
	char *path;
	int r;

	*ret = NULL;
	if (ret_stamp != NULL)
		memset(ret_stamp, 0, sizeof(*ret_stamp));
	if ((r = check_name(name)) < 0)
		return r;
	if ((path = store_path(s, name)) == NULL)
		return TPMID_E_NOMEM;
	r = load_path(s, path, name, ret, ret_stamp);
	free(path);
	return r;
}

int
store_stat(struct store *s, const char *name, struct store_stamp *ret)
{
	struct stat st;
	char *path;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = check_name(name)) < 0)
		return r;
	if ((path = store_path(s, name)) == NULL)
		return TPMID_E_NOMEM;
	if (lstat(path, &st) < 0) {
		r = tpmid_seterr(errno == ENOENT ? TPMID_E_NOENT : TPMID_E_IO, "%s: %s", path,
		    strerror(errno));
		free(path);
		return r;
	}
	free(path);
	stamp_from_stat(&st, ret);
	return 0;
}

int
store_dir_stamp(struct store *s, struct store_stamp *ret)
{
	struct stat st;

	memset(ret, 0, sizeof(*ret));
	if (stat(s->dir, &st) < 0)
		return tpmid_seterr(errno == ENOENT ? TPMID_E_NOENT : TPMID_E_IO, "%s: %s", s->dir,
		    strerror(errno));
	stamp_from_stat(&st, ret);
	return 0;
}

/* atomic_write()'s temp file for identity `name`, ".<name>.json.XXXXXX"
 * (mkostemp's six characters), else 0. */
static int
is_temp(const char *file)
{
	char name[TPMID_NAME_MAX + 1];
	const char *dot;
	size_t n = strlen(file), sl = strlen(STORE_SUFFIX);

	if (file[0] != '.' || n < 1 + sl + 7 || file[n - 7] != '.')
		return 0;
	dot = file + n - 7 - sl;
	if (strncmp(dot, STORE_SUFFIX, sl) != 0 || (size_t)(dot - file - 1) > TPMID_NAME_MAX)
		return 0;
	memcpy(name, file + 1, (size_t)(dot - file - 1));
	name[dot - file - 1] = '\0';
	return identity_name_valid(name);
}

/* Remove identity temp files a killed writer left. Called with the lock
 * held: every writer of an identity file holds it while its temp file
 * exists, so any we see now is dead. Best effort; the SRK record's temp
 * files (written without the lock) do not match. */
static void
sweep_temps(struct store *s)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(s->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (is_temp(de->d_name))
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* Take the writers' lock. The lock file is never removed: unlinking it
 * would let a late writer lock an orphaned inode while another locks a new
 * one. */
static int
lock_store(struct store *s, int *ret_fd)
{
	char *path;
	int fd, r = 0;

	*ret_fd = -1;
	if ((path = join(s->dir, STORE_LOCK)) == NULL)
		return TPMID_E_NOMEM;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600)) < 0) {
		r = tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		r = tpmid_seterr(TPMID_E_IO, "%s: lock: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	*ret_fd = fd;
	sweep_temps(s);
out:
	free(path);
	return r;
}

static void
unlock_store(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

int
store_save(struct store *s, const struct identity *id, int flags)
{
	char *json = NULL, *path = NULL;
	struct stat st;
	int lockfd = -1, r;

	if (id == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no identity");
	if ((r = check_name(id->name)) < 0)
		return r;
	if ((r = identity_serialize(id, &json)) < 0)
		return r;
	if ((r = ensure_dir(s->dir)) < 0)
		goto out;
	if ((path = store_path(s, id->name)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = lock_store(s, &lockfd)) < 0)
		goto out;
	/* Checked under the lock so two creators cannot both succeed. */
	if ((flags & STORE_CREATE) != 0) {
		if (lstat(path, &st) == 0) {
			r = tpmid_seterr(TPMID_E_EXISTS, "identity '%s' already exists (%s)",
			    id->name, path);
			goto out;
		}
		if (errno != ENOENT) {
			r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	r = atomic_write(path, json, strlen(json), 0600, 0);
out:
	unlock_store(lockfd);
	free(path);
	free(json);
	return r;
}

int
store_update(struct store *s, const char *name, store_update_fn fn, void *arg)
{
	struct identity *id = NULL;
	char *json = NULL, *path = NULL;
	int lockfd = -1, r;

	if ((r = check_name(name)) < 0)
		return r;
	if ((path = store_path(s, name)) == NULL)
		return TPMID_E_NOMEM;
	if ((r = lock_store(s, &lockfd)) < 0) {
		if (access(s->dir, F_OK) < 0 && errno == ENOENT)
			r = tpmid_seterr(TPMID_E_NOENT, "no identity '%s' in %s", name, s->dir);
		goto out;
	}
	/* Read under the lock: a writer that read before it could not lose
	 * another's change (every writer of an existing file comes here). */
	if ((r = store_load(s, name, &id, NULL)) < 0) {
		if (r == TPMID_E_NOENT)
			r = tpmid_seterr(r, "no identity '%s' in %s", name, s->dir);
		goto out;
	}
	if ((r = fn(id, arg)) < 0)
		goto out;
	if ((r = identity_serialize(id, &json)) < 0)
		goto out;
	r = atomic_write(path, json, strlen(json), 0600, 0);
out:
	unlock_store(lockfd);
	identity_free(id);
	free(path);
	free(json);
	return r;
}

int
store_delete(struct store *s, const char *name)
{
	char *path = NULL;
	int lockfd = -1, r;

	if ((r = check_name(name)) < 0)
		return r;
	if ((path = store_path(s, name)) == NULL)
		return TPMID_E_NOMEM;
	if ((r = lock_store(s, &lockfd)) < 0) {
		/* No store directory: nothing to delete. */
		if (access(s->dir, F_OK) < 0 && errno == ENOENT)
			r = tpmid_seterr(TPMID_E_NOENT, "identity '%s' not found in %s", name, s->dir);
		goto out;
	}
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			r = tpmid_seterr(TPMID_E_NOENT, "identity '%s' not found in %s", name, s->dir);
		else
			r = tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	r = atomic_sync_dir(s->dir);
out:
	unlock_store(lockfd);
	free(path);
	return r;
}

/* Parse the identity file at `path` (NULL: e->name's own file) into
 * e->id; a broken one gives e->err and e->error instead, so that a listing
 * shows it beside the good ones. 0: keep the entry; 1: the file is gone
 * (removed while we looked); TPMID_E_NOMEM. */
static int
entry_fill(struct store *s, const char *path, struct store_entry *e)
{
	char *own = NULL;
	int r;

	if (path == NULL && (path = own = store_path(s, e->name)) == NULL)
		return TPMID_E_NOMEM;
	r = load_path(s, path, e->name, &e->id, NULL);
	free(own);
	if (r == 0 || r == TPMID_E_NOMEM)
		return r;
	if (r == TPMID_E_NOENT)
		return 1;
	e->err = r;
	if ((e->error = strdup(tpmid_errmsg(r))) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

/* ".<name>.json.deleting.<pid>": the process that wrote it finishes it,
 * or, once that process is dead, whoever looks next. */
static char *
tombstone_path(const struct store *s, const char *name, long pid)
{
	char *p;

	if (asprintf(&p, "%s/.%s%s" STORE_TOMBSTONE "%ld", s->dir, name, STORE_SUFFIX,
	    pid > 0 ? pid : (long)getpid()) < 0)
		return NULL;
	return p;
}

/* rename(from, to) and make it durable, under the lock. TPMID_E_NOENT when
 * `from` is not there; with `keep`, TPMID_E_EXISTS when `to` already is
 * (then nothing moves). */
static int
move_locked(struct store *s, const char *from, const char *to, int keep)
{
	struct stat st;
	int lockfd = -1, r;

	if ((r = lock_store(s, &lockfd)) < 0)
		return r;
	if (keep && lstat(to, &st) == 0) {
		r = TPMID_E_EXISTS;
		goto out;
	}
	if (rename(from, to) < 0) {
		r = errno == ENOENT ? TPMID_E_NOENT : tpmid_seterr(errno == EACCES ? TPMID_E_PERM :
		    TPMID_E_IO, "rename %s: %s", from, strerror(errno));
		goto out;
	}
	r = atomic_sync_dir(s->dir);
out:
	unlock_store(lockfd);
	return r;
}

/* Move identity `name` from its file to this process's tombstone, or back
 * (never over a file made meanwhile). */
static int
move_identity(struct store *s, const char *name, int to_tombstone)
{
	char *path = NULL, *tomb = NULL;
	int r;

	if ((r = check_name(name)) < 0)
		return r;
	if ((path = store_path(s, name)) == NULL || (tomb = tombstone_path(s, name, 0)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if (!to_tombstone)
		r = move_locked(s, tomb, path, 1);
	else if ((r = move_locked(s, path, tomb, 0)) == TPMID_E_NOENT)
		r = tpmid_seterr(r, "identity '%s' not found in %s", name, s->dir);
out:
	free(path);
	free(tomb);
	return r;
}

int
store_delete_begin(struct store *s, const char *name)
{
	return move_identity(s, name, 1);
}

int
store_tombstone_write(struct store *s, const struct identity *id)
{
	char *json = NULL, *tomb = NULL;
	int lockfd = -1, r;

	if ((r = check_name(id->name)) < 0)
		return r;
	if ((r = identity_serialize(id, &json)) < 0)
		return r;
	if ((r = ensure_dir(s->dir)) < 0)
		goto out;
	if ((tomb = tombstone_path(s, id->name, 0)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = lock_store(s, &lockfd)) < 0)
		goto out;
	r = atomic_write(tomb, json, strlen(json), 0600, 0);
out:
	unlock_store(lockfd);
	free(tomb);
	free(json);
	return r;
}

int
store_delete_undo(struct store *s, const char *name)
{
	return move_identity(s, name, 0);
}

int
store_delete_end(struct store *s, const char *name, long pid)
{
	char *tomb = NULL;
	int lockfd = -1, r;

	if ((r = check_name(name)) < 0)
		return r;
	if ((tomb = tombstone_path(s, name, pid)) == NULL)
		return TPMID_E_NOMEM;
	if ((r = lock_store(s, &lockfd)) < 0)
		goto out;
	if (unlink(tomb) < 0 && errno != ENOENT) {
		r = tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", tomb,
		    strerror(errno));
		goto out;
	}
	r = atomic_sync_dir(s->dir);
out:
	unlock_store(lockfd);
	free(tomb);
	return r;
}

/* A tombstone's name and writer, or 0 if `file` is not one. */
static int
tombstone_parse(const char *file, char name[static TPMID_NAME_MAX + 1], long *ret_pid)
{
	const char *t;
	char *end;
	size_t nl;
	long pid;

	if (file[0] != '.' || (t = strstr(file, STORE_SUFFIX STORE_TOMBSTONE)) == NULL)
		return 0;
	nl = (size_t)(t - file - 1);
	if (nl == 0 || nl > TPMID_NAME_MAX)
		return 0;
	t += strlen(STORE_SUFFIX STORE_TOMBSTONE);
	errno = 0;
	pid = strtol(t, &end, 10);
	if (*t < '1' || *t > '9' || *end != '\0' || errno != 0 || pid <= 0 || pid > INT_MAX)
		return 0;
	memcpy(name, file + 1, nl);
	name[nl] = '\0';
	*ret_pid = pid;
	return identity_name_valid(name);
}

int
store_list_deleting(struct store *s, int all, struct store_entry **ret, size_t *ret_n)
{
	struct store_entry *e = NULL, *ne;
	char name[TPMID_NAME_MAX + 1], *path = NULL;
	struct dirent *de;
	size_t n = 0;
	long pid;
	DIR *d;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	if ((d = opendir(s->dir)) == NULL)
		return errno == ENOENT ? 0 : tpmid_seterr(errno == EACCES ? TPMID_E_PERM :
		    TPMID_E_IO, "%s: %s", s->dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!tombstone_parse(de->d_name, name, &pid))
			continue;
		/* A living writer finishes its own (EPERM: alive, another
		 * user's); ours are left from a failed undo. */
		if (!all && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if ((ne = reallocarray(e, n + 1, sizeof(*e))) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		e = ne;
		memset(&e[n], 0, sizeof(e[n]));
		memcpy(e[n].name, name, sizeof(name));
		e[n].pid = pid;
		free(path);
		if ((path = tombstone_path(s, name, pid)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		if ((r = entry_fill(s, path, &e[n])) < 0)
			goto out;
		if (r == 0) /* else finished while we looked */
			n++;
	}
	*ret = e;
	*ret_n = n;
	e = NULL;
	n = 0;
	r = 0;
out:
	free(path);
	store_list_free(e, n);
	closedir(d);
	return r;
}

void
store_list_free(struct store_entry *e, size_t n)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < n; i++) {
		identity_free(e[i].id);
		free(e[i].error);
	}
	free(e);
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_entry *)a)->name, ((const struct store_entry *)b)->name);
}

/* "<name>.json" with a valid name, else 0. Temp files (".x.json.XXXXXX"),
 * the lock and anything else a person left in the directory are skipped. */
static int
entry_name(const char *file, char name[static TPMID_NAME_MAX + 1])
{
	size_t n = strlen(file), sl = strlen(STORE_SUFFIX);

	if (file[0] == '.' || n <= sl || n - sl > TPMID_NAME_MAX ||
	    strcmp(file + n - sl, STORE_SUFFIX) != 0)
		return 0;
	memcpy(name, file, n - sl);
	name[n - sl] = '\0';
	return identity_name_valid(name);
}

static int
list_dir(struct store *s, int load, struct store_entry **ret, size_t *ret_n)
{
	struct store_entry *e = NULL, *ne;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if ((d = opendir(s->dir)) == NULL) {
		if (errno == ENOENT)
			return 0; /* no store yet: no identities */
		return tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", s->dir,
		    strerror(errno));
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				r = tpmid_seterr(TPMID_E_IO, "%s: %s", s->dir, strerror(errno));
				goto out;
			}
			break;
		}
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 16;

			if ((ne = reallocarray(e, na, sizeof(*e))) == NULL) {
				r = TPMID_E_NOMEM;
				goto out;
			}
			e = ne;
			alloc = na;
		}
		memset(&e[n], 0, sizeof(e[n]));
		if (!entry_name(de->d_name, e[n].name))
			continue;
		if (load && (r = entry_fill(s, NULL, &e[n])) < 0)
			goto out;
		if (!load || r == 0) /* else deleted while we looked */
			n++;
	}
	if (n > 0)
		qsort(e, n, sizeof(*e), entry_cmp);
	*ret = e;
	*ret_n = n;
	e = NULL;
	n = 0;
	r = 0;
out:
	store_list_free(e, n);
	closedir(d);
	return r;
}

int
store_list(struct store *s, struct store_entry **ret, size_t *ret_n)
{
	return list_dir(s, 1, ret, ret_n);
}

int
store_list_names(struct store *s, struct store_entry **ret, size_t *ret_n)
{
	return list_dir(s, 0, ret, ret_n);
}

int
store_srk_name_get(struct store *s, uint8_t **ret, size_t *ret_len)
{
	uint8_t *txt = NULL;
	size_t len = 0;
	char *path;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if ((path = join(s->dir, STORE_SRK_NAME)) == NULL)
		return TPMID_E_NOMEM;
	r = read_file(path, SRK_NAME_FILE_MAX, &txt, &len);
	free(path);
	if (r < 0)
		return r == TPMID_E_NOMEM ? r : TPMID_E_NOENT;
	while (len > 0 && (txt[len - 1] == '\n' || txt[len - 1] == ' '))
		txt[--len] = '\0';
	r = hex_decode((const char *)txt, ret, ret_len);
	free(txt);
	if (r == 0 && *ret_len == 0) {
		free(*ret);
		*ret = NULL;
		r = TPMID_E_NOENT;
	}
	return r == TPMID_E_NOMEM ? r : (r < 0 ? TPMID_E_NOENT : 0);
}

int
store_srk_name_put(struct store *s, const uint8_t *name, size_t len)
{
	uint8_t *old = NULL;
	size_t old_len = 0;
	char *path = NULL, *hex = NULL, *line = NULL;
	int r;

	if (store_srk_name_get(s, &old, &old_len) == 0 && old_len == len &&
	    memcmp(old, name, len) == 0) {
		r = 0; /* already recorded */
		goto out;
	}
	tpmid_clearerr();
	if ((hex = hex_encode(name, len)) == NULL || (path = join(s->dir, STORE_SRK_NAME)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if (asprintf(&line, "%s\n", hex) < 0) {
		line = NULL;
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = ensure_dir(s->dir)) < 0)
		goto out;
	r = atomic_write(path, line, strlen(line), 0600, 0);
out:
	free(old);
	free(path);
	free(hex);
	free(line);
	return r;
}
