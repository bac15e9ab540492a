/* Unit tests for store/store.c: the identity directory, atomic writes. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/atomic.h"
#include "store/held.h"
#include "store/store.h"

struct fixture {
	char tmp[64];
	char *dir;     /* <tmp>/store */
	struct store *s;
};

static void
rm_rf(const char *path)
{
	char *cmd;

	/* Test-only cleanup of a mkdtemp() directory we created. */
	if (asprintf(&cmd, "rm -rf '%s'", path) > 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup of %s failed\n", path);
		free(cmd);
	}
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	umask(022);
	strcpy(f->tmp, "/tmp/tpmid-test-store.XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	if (asprintf(&f->dir, "%s/store", f->tmp) < 0)
		return -1;
	if (store_open(f->dir, 1, &f->s) < 0)
		return -1;
	atomic_test_fail_hook = NULL;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	atomic_test_fail_hook = NULL;
	store_free(f->s);
	rm_rf(f->tmp);
	free(f->dir);
	free(f);
	return 0;
}

static void
assert_detail_has(int r, const char *needle)
{
	const char *msg = tpmid_errmsg(r);

	if (strstr(msg, needle) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", msg, needle);
}

/* A handle-only identity; `tag` goes into ssh_cert so versions differ. */
static struct identity *
make_id(const char *name, const char *tag)
{
	struct identity *id = NULL;

	assert_int_equal(identity_new(name, &id), 0);
	id->handle = 0x81000010;
	assert_int_equal(identity_set_str(&id->ssh_cert, tag), 0);
	return id;
}

static char *
slurp(const char *path, size_t *len)
{
	uint8_t *d = NULL;

	*len = 0;
	if (read_file(path, 4 * 1024 * 1024, &d, len) < 0)
		return NULL;
	return (char *)d;
}

static void
write_text(const char *dir, const char *file, const char *text)
{
	char *p;
	int fd;

	assert_true(asprintf(&p, "%s/%s", dir, file) > 0);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	free(p);
}

/* Anything in the directory that looks like one of our temp files. */
static int
count_temps(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strstr(de->d_name, ".json.") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
test_open_modes(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	struct stat st;
	char *deep;

	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_string_equal(store_dir(f->s), f->dir);

	/* mkdir -p: parents 0755, the store itself 0700. */
	assert_true(asprintf(&deep, "%s/a/b/tpmid/", f->tmp) > 0);
	assert_int_equal(store_open(deep, 1, &s), 0);
	/* The trailing slash is dropped. */
	assert_int_equal(strlen(store_dir(s)), strlen(deep) - 1);
	assert_memory_equal(store_dir(s), deep, strlen(deep) - 1);
	store_free(s);
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	deep[strlen(deep) - strlen("/tpmid/")] = '\0';
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(deep);

	/* Group/world-writable: refused. */
	assert_int_equal(chmod(f->dir, 0770), 0);
	s = (struct store *)1;
	assert_int_equal(store_open(f->dir, 0, &s), TPMID_E_PERM);
	assert_null(s);
	assert_detail_has(TPMID_E_PERM, "chmod 700");
	assert_int_equal(chmod(f->dir, 0707), 0);
	assert_int_equal(store_open(f->dir, 1, &s), TPMID_E_PERM);
	assert_int_equal(chmod(f->dir, 0700), 0);

	/* A file where the directory should be. */
	write_text(f->tmp, "plain", "x");
	assert_true(asprintf(&deep, "%s/plain", f->tmp) > 0);
	assert_int_equal(store_open(deep, 1, &s), TPMID_E_INVAL);
	free(deep);
	assert_int_equal(store_open("", 1, &s), TPMID_E_INVAL);
}

static void
test_open_missing_without_create(void **state)
{
	struct fixture *f = *state;
	struct store_entry *e = NULL;
	struct identity *id = NULL;
	struct store *s = NULL;
	struct stat st;
	size_t n = 1;
	char *dir;

	assert_true(asprintf(&dir, "%s/later", f->tmp) > 0);
	assert_int_equal(store_open(dir, 0, &s), 0);
	assert_int_equal(stat(dir, &st), -1);
	assert_int_equal(store_list(s, &e, &n), 0);
	assert_int_equal(n, 0);
	store_list_free(e, n);
	assert_int_equal(store_load(s, "web", &id, NULL), TPMID_E_NOENT);
	assert_int_equal(store_delete(s, "web"), TPMID_E_NOENT);

	/* The first save creates it, 0700. */
	id = make_id("web", "v1");
	assert_int_equal(store_save(s, id, STORE_CREATE), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	identity_free(id);
	store_free(s);
	free(dir);
}

static void
test_resolve_env(void **state)
{
	struct store *s = NULL;
	char *saved[4];
	static const char *vars[] = { "TPMID_STORE", "XDG_DATA_HOME", "HOME", NULL };
	size_t i;

	(void)state;
	for (i = 0; vars[i] != NULL; i++)
		saved[i] = getenv(vars[i]) ? strdup(getenv(vars[i])) : NULL;

	setenv("TPMID_STORE", "/nonexistent/ts", 1);
	setenv("XDG_DATA_HOME", "/nonexistent/xdg", 1);
	setenv("HOME", "/nonexistent/home", 1);
	assert_int_equal(store_open(NULL, 0, &s), 0);
	assert_string_equal(store_dir(s), "/nonexistent/ts");
	store_free(s);

	unsetenv("TPMID_STORE");
	assert_int_equal(store_open(NULL, 0, &s), 0);
	assert_string_equal(store_dir(s), "/nonexistent/xdg/tpmid");
	store_free(s);

	/* The XDG spec says relative values are invalid and to be ignored. */
	setenv("XDG_DATA_HOME", "relative/xdg", 1);
	assert_int_equal(store_open(NULL, 0, &s), 0);
	assert_string_equal(store_dir(s), "/nonexistent/home/.local/share/tpmid");
	store_free(s);

	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	/* From getpwuid(); a container may have no entry for our uid. */
	if (store_open(NULL, 0, &s) == 0) {
		assert_non_null(strstr(store_dir(s), "/.local/share/tpmid"));
		store_free(s);
	} else
		assert_null(s);

	assert_int_equal(store_open("/explicit/dir", 0, &s), 0);
	assert_string_equal(store_dir(s), "/explicit/dir");
	store_free(s);

	for (i = 0; vars[i] != NULL; i++) {
		if (saved[i] != NULL)
			setenv(vars[i], saved[i], 1);
		else
			unsetenv(vars[i]);
		free(saved[i]);
	}
}

static void
test_create_load_list_delete(void **state)
{
	struct fixture *f = *state;
	struct identity *a = make_id("alpha", "A"), *b = make_id("beta", "B"), *got = NULL;
	struct store_stamp st1, st2, st3;
	struct store_entry *e = NULL;
	struct stat st;
	size_t n = 0;
	char *path;

	assert_int_equal(store_save(f->s, b, STORE_CREATE), 0);
	assert_int_equal(store_save(f->s, a, STORE_CREATE), 0);

	path = store_path(f->s, "alpha");
	assert_non_null(path);
	assert_true(strcmp(path + strlen(f->dir), "/alpha.json") == 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(store_load(f->s, "alpha", &got, &st1), 0);
	assert_string_equal(got->name, "alpha");
	assert_string_equal(got->ssh_cert, "A");
	assert_int_equal(got->handle, 0x81000010);
	assert_int_equal(store_stat(f->s, "alpha", &st2), 0);
	assert_true(store_stamp_eq(&st1, &st2));
	assert_int_equal(st1.size, st.st_size);
	identity_free(got);

	/* Rewrite: the stamp changes (new inode from the rename). */
	assert_int_equal(identity_set_str(&a->ssh_cert, "A2"), 0);
	assert_int_equal(store_save(f->s, a, 0), 0);
	assert_int_equal(store_stat(f->s, "alpha", &st3), 0);
	assert_false(store_stamp_eq(&st1, &st3));

	assert_int_equal(store_list(f->s, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].name, "alpha");
	assert_string_equal(e[1].name, "beta");
	assert_non_null(e[0].id);
	assert_null(e[0].error);
	assert_string_equal(e[0].id->ssh_cert, "A2");
	store_list_free(e, n);

	assert_int_equal(store_delete(f->s, "alpha"), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(store_load(f->s, "alpha", &got, NULL), TPMID_E_NOENT);
	assert_detail_has(TPMID_E_NOENT, "identity 'alpha' not found in");
	assert_int_equal(store_delete(f->s, "alpha"), TPMID_E_NOENT);
	assert_int_equal(store_stat(f->s, "alpha", &st2), TPMID_E_NOENT);
	assert_int_equal(count_temps(f->dir), 0);

	free(path);
	identity_free(a);
	identity_free(b);
}

static void
test_create_conflict(void **state)
{
	struct fixture *f = *state;
	struct identity *a = make_id("web", "first"), *b = make_id("web", "second"), *got = NULL;
	int r;

	assert_int_equal(store_save(f->s, a, STORE_CREATE), 0);
	r = store_save(f->s, b, STORE_CREATE);
	assert_int_equal(r, TPMID_E_EXISTS);
	assert_detail_has(r, "identity 'web' already exists");
	assert_int_equal(store_load(f->s, "web", &got, NULL), 0);
	assert_string_equal(got->ssh_cert, "first");
	identity_free(got);
	/* Without the flag it replaces. */
	assert_int_equal(store_save(f->s, b, 0), 0);
	assert_int_equal(store_load(f->s, "web", &got, NULL), 0);
	assert_string_equal(got->ssh_cert, "second");
	identity_free(got);
	identity_free(a);
	identity_free(b);
}

static void
test_malformed_listed(void **state)
{
	struct fixture *f = *state;
	struct identity *good = make_id("good", "G"), *got = (struct identity *)1;
	struct store_entry *e = NULL;
	size_t n = 0;
	char *path;
	int r;

	assert_int_equal(store_save(f->s, good, 0), 0);
	write_text(f->dir, "broken.json", "{\n  \"tpmid\": {\n    \"version\": 1,,\n");
	write_text(f->dir, "old.json",
	    "{\"tpmid\":{\"version\":7,\"name\":\"old\",\"alg\":\"ecdsa-p256\"}}");
	/* Not identities: skipped silently. */
	write_text(f->dir, ".hidden.json", "{");
	write_text(f->dir, ".good.json.AbC123", "{");
	write_text(f->dir, "notes.txt", "hello");
	write_text(f->dir, "bad name.json", "{");
	write_text(f->dir, ".json", "{");

	r = store_load(f->s, "broken", &got, NULL);
	assert_int_equal(r, TPMID_E_FORMAT);
	assert_null(got);
	assert_true(asprintf(&path, "%s/broken.json: invalid JSON at line 3", f->dir) > 0);
	assert_detail_has(r, path);
	free(path);

	assert_int_equal(store_list(f->s, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].name, "broken");
	assert_null(e[0].id);
	assert_int_equal(e[0].err, TPMID_E_FORMAT);
	assert_non_null(strstr(e[0].error, "broken.json: invalid JSON"));
	assert_string_equal(e[1].name, "good");
	assert_non_null(e[1].id);
	assert_null(e[1].error);
	assert_string_equal(e[2].name, "old");
	assert_non_null(strstr(e[2].error, "old.json: tpmid.version: unsupported version 7"));
	store_list_free(e, n);
	identity_free(good);
}

static void
test_refuses_odd_files(void **state)
{
	struct fixture *f = *state;
	struct identity *got = (struct identity *)1, *good = make_id("good", "G");
	char *target, *link, *big;
	int r;

	assert_int_equal(store_save(f->s, good, 0), 0);
	/* A symlink planted in the store is not followed. */
	target = store_path(f->s, "good");
	assert_true(asprintf(&link, "%s/evil.json", f->dir) > 0);
	assert_int_equal(symlink(target, link), 0);
	r = store_load(f->s, "evil", &got, NULL);
	assert_int_equal(r, TPMID_E_PERM);
	assert_detail_has(r, "symbolic link");
	assert_null(got);
	free(link);
	free(target);

	/* A directory with the right name. */
	assert_true(asprintf(&link, "%s/dir.json", f->dir) > 0);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(store_load(f->s, "dir", &got, NULL), TPMID_E_FORMAT);
	free(link);

	/* Larger than the cap: refused before parsing. */
	big = malloc(IDENTITY_FILE_MAX + 2);
	memset(big, ' ', IDENTITY_FILE_MAX + 1);
	big[IDENTITY_FILE_MAX + 1] = '\0';
	write_text(f->dir, "big.json", big);
	free(big);
	assert_int_equal(store_load(f->s, "big", &got, NULL), TPMID_E_TOOBIG);

	/* Names are checked before any path is built. */
	assert_int_equal(store_load(f->s, "../etc/passwd", &got, NULL), TPMID_E_INVAL);
	assert_int_equal(store_delete(f->s, ".lock"), TPMID_E_INVAL);
	assert_null(store_path(f->s, "a/b"));
	identity_free(good);
}

static const char *fail_stage;
static int fail_errno;

static int
fail_hook(const char *stage)
{
	return strcmp(stage, fail_stage) == 0 ? fail_errno : 0;
}

static void
test_atomic_under_failure(void **state)
{
	static const char *stages[] = { "write", "fsync", "rename" };
	struct fixture *f = *state;
	struct identity *v1 = make_id("web", "version-1"), *v2 = make_id("web", "version-2");
	char *path, *before, *after;
	size_t blen, alen, i;
	int r;

	assert_int_equal(store_save(f->s, v1, STORE_CREATE), 0);
	path = store_path(f->s, "web");
	before = slurp(path, &blen);
	assert_non_null(before);

	for (i = 0; i < ELEMENTSOF(stages); i++) {
		fail_stage = stages[i];
		fail_errno = ENOSPC;
		atomic_test_fail_hook = fail_hook;
		r = store_save(f->s, v2, 0);
		atomic_test_fail_hook = NULL;
		assert_int_equal(r, TPMID_E_IO);
		assert_detail_has(r, strerror(ENOSPC));
		assert_detail_has(r, "/web.json: "); /* the target, not the temp */
		after = slurp(path, &alen);
		assert_int_equal(alen, blen);
		assert_memory_equal(after, before, blen);
		free(after);
		assert_int_equal(count_temps(f->dir), 0);
	}
	/* A non-positive return means EIO. */
	fail_stage = "fsync";
	fail_errno = -1;
	atomic_test_fail_hook = fail_hook;
	r = store_save(f->s, v2, 0);
	atomic_test_fail_hook = NULL;
	assert_int_equal(r, TPMID_E_IO);
	assert_detail_has(r, strerror(EIO));
	assert_int_equal(count_temps(f->dir), 0);

	/* A failed STORE_CREATE leaves no file at all. */
	fail_stage = "write";
	fail_errno = ENOSPC;
	atomic_test_fail_hook = fail_hook;
	identity_free(v1);
	v1 = make_id("fresh", "x");
	assert_int_equal(store_save(f->s, v1, STORE_CREATE), TPMID_E_IO);
	atomic_test_fail_hook = NULL;
	{
		struct identity *none = NULL;

		assert_int_equal(store_load(f->s, "fresh", &none, NULL), TPMID_E_NOENT);
	}
	assert_int_equal(count_temps(f->dir), 0);

	/* And once the disk is back, the write goes through. */
	assert_int_equal(store_save(f->s, v2, 0), 0);
	after = slurp(path, &alen);
	assert_non_null(strstr(after, "version-2"));
	free(after);

	free(before);
	free(path);
	identity_free(v1);
	identity_free(v2);
}

#define WRITES 200

static void
writer(struct store *s, const char *tag)
{
	struct identity *id = make_id("shared", tag);
	int i;

	for (i = 0; i < WRITES; i++)
		if (store_save(s, id, 0) < 0)
			_exit(1);
	identity_free(id);
	_exit(0);
}

static void
test_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	struct identity *seed = make_id("shared", "writer-A"), *got;
	pid_t pa, pb, w;
	int status, reads = 0, alive = 2, r;

	assert_int_equal(store_save(f->s, seed, 0), 0);
	identity_free(seed);
	fflush(NULL);
	if ((pa = fork()) == 0)
		writer(f->s, "writer-A");
	if ((pb = fork()) == 0)
		writer(f->s, "writer-B");
	assert_true(pa > 0 && pb > 0);

	/* Readers take no lock: rename() must make every read whole. */
	while (alive > 0) {
		got = NULL;
		r = store_load(f->s, "shared", &got, NULL);
		if (r != 0)
			fail_msg("read %d: %s", reads, tpmid_errmsg(r));
		if (strcmp(got->ssh_cert, "writer-A") != 0 && strcmp(got->ssh_cert, "writer-B") != 0)
			fail_msg("read %d: unexpected content \"%s\"", reads, got->ssh_cert);
		identity_free(got);
		reads++;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			alive--;
		}
	}
	assert_true(reads > 0);
	assert_int_equal(store_load(f->s, "shared", &got, NULL), 0);
	identity_free(got);
	assert_int_equal(count_temps(f->dir), 0);
}

/* store_update's callback: count in ssh_cert. */
static int
increment(struct identity *id, void *arg)
{
	char buf[32];

	(void)arg;
	snprintf(buf, sizeof(buf), "%ld", strtol(id->ssh_cert, NULL, 10) + 1);
	return identity_set_str(&id->ssh_cert, buf);
}

static int
refuse(struct identity *id, void *arg)
{
	(void)arg;
	(void)identity_set_str(&id->ssh_cert, "never written");
	return TPMID_E_MISMATCH;
}

static void
incrementer(struct store *s)
{
	int i;

	for (i = 0; i < WRITES; i++)
		if (store_update(s, "counter", increment, NULL) < 0)
			_exit(1);
	_exit(0);
}

/* Two read-modify-write loops on one identity lose no update: each
 * re-reads under the lock. */
static void
test_update(void **state)
{
	struct fixture *f = *state;
	struct identity *seed = make_id("counter", "0"), *got;
	pid_t pa, pb;
	int status;

	assert_int_equal(store_update(f->s, "counter", increment, NULL), TPMID_E_NOENT);
	assert_int_equal(store_save(f->s, seed, STORE_CREATE), 0);
	identity_free(seed);
	fflush(NULL);
	if ((pa = fork()) == 0)
		incrementer(f->s);
	if ((pb = fork()) == 0)
		incrementer(f->s);
	assert_true(pa > 0 && pb > 0);
	assert_int_equal(waitpid(pa, &status, 0), pa);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(waitpid(pb, &status, 0), pb);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_load(f->s, "counter", &got, NULL), 0);
	assert_int_equal(strtol(got->ssh_cert, NULL, 10), 2 * WRITES);
	identity_free(got);

	/* A refusing callback writes nothing. */
	assert_int_equal(store_update(f->s, "counter", refuse, NULL), TPMID_E_MISMATCH);
	assert_int_equal(store_load(f->s, "counter", &got, NULL), 0);
	assert_int_equal(strtol(got->ssh_cert, NULL, 10), 2 * WRITES);
	identity_free(got);
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_dir_stamp(void **state)
{
	struct fixture *f = *state;
	struct store_stamp a, b;
	struct identity *id = make_id("x", "1");

	assert_int_equal(store_dir_stamp(f->s, &a), 0);
	assert_true(store_stamp_eq(&a, &a));
	/* Directory mtimes can be coarse; push it back so a change shows. */
	{
		struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };

		assert_int_equal(utimensat(AT_FDCWD, f->dir, ts, 0), 0);
	}
	assert_int_equal(store_dir_stamp(f->s, &a), 0);
	assert_int_equal(store_save(f->s, id, 0), 0);
	assert_int_equal(store_dir_stamp(f->s, &b), 0);
	assert_false(store_stamp_eq(&a, &b));
	identity_free(id);
}

/* atomic_write() on its own: the caller's mode exactly, replace by
 * default, refuse an existing target with ATOMIC_NO_CLOBBER, and no temp
 * file left by any outcome. */
static void
test_atomic_write(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char *path = NULL, *got;
	size_t len;
	mode_t old;

	assert_true(asprintf(&path, "%s/out.txt", f->tmp) > 0);
	old = umask(077);
	assert_int_equal(atomic_write(path, "one", 3, 0644, 0), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(atomic_write(path, "two", 3, 0600, 0), 0);
	got = slurp(path, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "two", 3);
	free(got);
	assert_int_equal(atomic_write(path, "three", 5, 0600, ATOMIC_NO_CLOBBER), TPMID_E_EXISTS);
	assert_non_null(strstr(tpmid_errmsg(TPMID_E_EXISTS), path));
	got = slurp(path, &len);
	assert_memory_equal(got, "two", 3);
	free(got);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(atomic_write(path, "four", 4, 0600, ATOMIC_NO_CLOBBER), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	{
		DIR *d = opendir(f->tmp);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, ".out.txt.", 9) == 0)
				fail_msg("temp file left: %s", de->d_name);
		closedir(d);
	}
	/* A directory that does not exist: the error names the target. */
	free(path);
	assert_true(asprintf(&path, "%s/nope/out.txt", f->tmp) > 0);
	assert_int_equal(atomic_write(path, "x", 1, 0600, 0), TPMID_E_IO);
	assert_detail_has(TPMID_E_IO, path);
	free(path);
}

/* The SRK name record: absent, written, read back, not rewritten when
 * equal, replaced when different, and junk reads as absent. */
static void
test_srk_name(void **state)
{
	static const uint8_t n1[] = { 0x00, 0x0b, 0xde, 0xad }, n2[] = { 0x00, 0x0b, 0xbe, 0xef };
	struct fixture *f = *state;
	struct stat st1, st2;
	uint8_t *got = NULL;
	size_t len = 0;
	char *path = NULL;
	FILE *fp;

	assert_true(asprintf(&path, "%s/.srk-name", f->dir) > 0);
	assert_int_equal(store_srk_name_get(f->s, &got, &len), TPMID_E_NOENT);
	assert_null(got);
	assert_int_equal(store_srk_name_put(f->s, n1, sizeof(n1)), 0);
	assert_int_equal(store_srk_name_get(f->s, &got, &len), 0);
	assert_int_equal(len, sizeof(n1));
	assert_memory_equal(got, n1, sizeof(n1));
	free(got);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0600);
	assert_int_equal(store_srk_name_put(f->s, n1, sizeof(n1)), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino); /* equal: not rewritten */
	assert_int_equal(store_srk_name_put(f->s, n2, sizeof(n2)), 0);
	assert_int_equal(store_srk_name_get(f->s, &got, &len), 0);
	assert_memory_equal(got, n2, sizeof(n2));
	free(got);
	assert_non_null(fp = fopen(path, "w"));
	fputs("not hex\n", fp);
	fclose(fp);
	assert_int_equal(store_srk_name_get(f->s, &got, &len), TPMID_E_NOENT);
	assert_null(got);
	/* Not an identity: list skips it. */
	{
		struct store_entry *e = NULL;
		size_t n = 0;

		assert_int_equal(store_list_names(f->s, &e, &n), 0);
		assert_int_equal(n, 0);
		store_list_free(e, n);
	}
	free(path);
}

/* Records of held TPM objects (store/held.h): written, listed with their
 * process's liveness, removed; a dead writer's temp file is swept. */
static void
test_held_records(void **state)
{
	static const uint32_t h1[] = { 0x80000000, 0x80000001 }, known[] = { 0x80000005 };
	struct fixture *f = *state;
	struct held_record rec = { 0 }, *got = NULL;
	size_t n = 0;
	pid_t dead;
	FILE *fp;

	/* A pid that surely ran and is gone. */
	if ((dead = fork()) == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);

	rec.pid = dead;
	rec.reset_count = 3;
	rec.restart_count = 7;
	rec.handles = (uint32_t *)h1;
	rec.n = 2;
	rec.pending = 1;
	rec.known = (uint32_t *)known;
	rec.n_known = 1;
	assert_int_equal(held_put(f->dir, "swtpm:port=1", &rec), 0);
	rec.pid = getppid(); /* alive */
	rec.pending = 0;
	rec.n = 1;
	assert_int_equal(held_put(f->dir, "swtpm:port=1", &rec), 0);
	rec.pid = dead;
	assert_int_equal(held_put(f->dir, "swtpm:port=2", &rec), 0); /* another TPM */

	assert_int_equal(held_list(f->dir, "swtpm:port=1", &got, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (got[i].pid == dead) {
			assert_false(got[i].alive);
			assert_int_equal(got[i].reset_count, 3);
			assert_int_equal(got[i].restart_count, 7);
			assert_int_equal(got[i].n, 2);
			assert_int_equal(got[i].handles[1], 0x80000001);
			assert_int_equal(got[i].pending, 1);
			assert_int_equal(got[i].n_known, 1);
			assert_int_equal(got[i].known[0], 0x80000005);
		} else {
			assert_int_equal(got[i].pid, getppid());
			assert_true(got[i].alive);
			assert_int_equal(got[i].pending, 0);
		}
	}
	held_records_free(got, n);
	assert_int_equal(held_remove(f->dir, "swtpm:port=1", dead), 0);
	assert_int_equal(held_list(f->dir, "swtpm:port=1", &got, &n), 0);
	assert_int_equal(n, 1);
	held_records_free(got, n);
	/* No handles and nothing pending: the record goes. */
	rec.pid = getppid();
	rec.n = 0;
	assert_int_equal(held_put(f->dir, "swtpm:port=1", &rec), 0);
	assert_int_equal(held_list(f->dir, "swtpm:port=1", &got, &n), 0);
	assert_int_equal(n, 0);
	held_records_free(got, n);
	/* A living process with the writer's pid but another start time is
	 * not the writer (pids wrap): its record is a dead one's. */
	rec.pid = getppid();
	rec.n = 1;
	assert_int_equal(held_put(f->dir, "swtpm:port=1", &rec), 0);
	{
		char suffix[32], *path = NULL, buf[4096], *st;
		struct dirent *de;
		DIR *d = opendir(f->dir);
		size_t len;

		snprintf(suffix, sizeof(suffix), ".%ld", (long)getppid());
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name), sl = strlen(suffix);

			if (de->d_name[0] != '.' && l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
				assert_true(asprintf(&path, "%s/%s", f->dir, de->d_name) > 0);
		}
		closedir(d);
		assert_non_null(path);
		assert_non_null(fp = fopen(path, "r"));
		len = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[len] = '\0';
		assert_non_null(st = strstr(buf, "start "));
		assert_true(strtoull(st + 6, NULL, 10) > 0);
		strcpy(st, "start 1\n");
		assert_non_null(fp = fopen(path, "w"));
		fputs(buf, fp);
		fclose(fp);
		free(path);
	}
	assert_int_equal(held_list(f->dir, "swtpm:port=1", &got, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].pid, getppid());
	assert_false(got[0].alive);
	held_records_free(got, n);
	assert_int_equal(held_remove(f->dir, "swtpm:port=1", getppid()), 0);
	/* A record that does not parse is skipped, not trusted. */
	assert_int_equal(held_remove(f->dir, "swtpm:port=2", dead), 0);
	rec.pid = dead;
	rec.n = 2;
	assert_int_equal(held_put(f->dir, "swtpm:port=1", &rec), 0);
	{
		char suffix[32], *path = NULL;
		struct dirent *de;
		DIR *d = opendir(f->dir);

		snprintf(suffix, sizeof(suffix), ".%ld", (long)dead);
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name), sl = strlen(suffix);

			if (de->d_name[0] != '.' && l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
				assert_true(asprintf(&path, "%s/%s", f->dir, de->d_name) > 0);
		}
		closedir(d);
		assert_non_null(path);
		assert_non_null(fp = fopen(path, "w"));
		fputs("tcti swtpm:port=1\ncounts 3 7\nhandles 0xzz\n", fp);
		fclose(fp);
		free(path);
	}
	assert_int_equal(held_list(f->dir, "swtpm:port=1", &got, &n), 0);
	assert_int_equal(n, 0);
	held_records_free(got, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_load_list_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_odd_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_under_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_stamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srk_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_records, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
