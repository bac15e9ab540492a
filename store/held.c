/* Records of the TPM objects a process holds (held.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "store/atomic.h"
#include "store/held.h"

#define HELD_FILE_MAX 16384
#define HELD_MAX 256 /* handles in one record; a TPM holds far fewer */

/* FNV-1a: names a TCTI in a file name; the file says the TCTI in full. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static int
mkdir_0700(const char *p)
{
	struct stat st;

	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return tpmid_seterr(errno == EACCES ? TPMID_E_PERM : TPMID_E_IO, "%s: %s", p,
		    strerror(errno));
	if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return tpmid_seterr(TPMID_E_PERM, "%s: not a private directory of ours", p);
	return 0;
}

int
held_dir(char **ret)
{
	const char *rt = getenv("XDG_RUNTIME_DIR"), *tmp;
	char *dir = NULL, run[64];
	struct stat st;
	int r;

	*ret = NULL;
	/* Beside the agent's socket directory, not in it: that one's mode
	 * (0750 group tpmid for the system agent) is the agent's to set. */
	if (rt != NULL && *rt == '/')
		r = asprintf(&dir, "%s/tpmid-held", rt);
	else if (geteuid() == 0)
		r = asprintf(&dir, "/run/tpmid-held");
	else {
		snprintf(run, sizeof(run), "/run/user/%u", (unsigned)geteuid());
		/* No runtime directory (su, containers): beside the agent's
		 * fallback socket directory (client_default_socket), private
		 * and ours or refused by mkdir_0700(). */
		if (stat(run, &st) == 0 && S_ISDIR(st.st_mode))
			r = asprintf(&dir, "%s/tpmid-held", run);
		else {
			if ((tmp = getenv("TMPDIR")) == NULL || *tmp != '/')
				tmp = "/tmp";
			r = asprintf(&dir, "%s/tpmid-%u-held", tmp, (unsigned)geteuid());
		}
	}
	if (r < 0)
		return TPMID_E_NOMEM;
	if ((r = mkdir_0700(dir)) < 0) {
		free(dir);
		return r;
	}
	*ret = dir;
	return 0;
}

static char *
record_path(const char *dir, const char *tcti, pid_t pid)
{
	char *p;

	if (asprintf(&p, "%s/%016llx.%ld", dir, (unsigned long long)fnv1a(tcti), (long)pid) < 0)
		return NULL;
	return p;
}

int
held_remove(const char *dir, const char *tcti, pid_t pid)
{
	char *path;
	int r = 0;

	if ((path = record_path(dir, tcti, pid)) == NULL)
		return TPMID_E_NOMEM;
	if (unlink(path) < 0 && errno != ENOENT)
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
	free(path);
	return r;
}

static void
put_list(FILE *f, const char *key, const uint32_t *h, size_t n)
{
	size_t i;

	fputs(key, f);
	for (i = 0; i < n && i < HELD_MAX; i++)
		fprintf(f, " 0x%08x", h[i]);
	fputc('\n', f);
}

/* The kernel's start time of `pid` (clock ticks since boot; proc(5),
 * /proc/PID/stat field 22), 0 when unknown. With the pid it names one
 * process: a pid alone does not once pids wrap - a killed agent's record
 * read as alive because a new process had its pid, and its objects stayed
 * in the TPM. */
static unsigned long long
proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')': count the
	 * fields from its last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (i = 3; i <= 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	return p != NULL ? strtoull(p + 1, NULL, 10) : 0;
}

int
held_put(const char *dir, const char *tcti, const struct held_record *rec)
{
	char *path, *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (rec->n == 0 && !rec->pending)
		return held_remove(dir, tcti, rec->pid);
	if ((path = record_path(dir, tcti, rec->pid)) == NULL)
		return TPMID_E_NOMEM;
	if ((f = open_memstream(&text, &len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	fprintf(f, "tcti %s\ncounts %u %u\n", tcti, rec->reset_count, rec->restart_count);
	put_list(f, "handles", rec->handles, rec->n);
	fprintf(f, "pending %d\n", rec->pending ? 1 : 0);
	put_list(f, "known", rec->known, rec->n_known);
	fprintf(f, "start %llu\n", proc_start(rec->pid));
	if (fclose(f) != 0) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	r = atomic_write(path, text, len, 0600, 0);
out:
	free(text);
	free(path);
	return r;
}

/* "KEY 0x.. 0x..\n" at *pp into a fresh array; advances *pp. */
static int
get_list(const char **pp, const char *key, uint32_t **ret, size_t *ret_n)
{
	const char *p = *pp;
	size_t kl = strlen(key);
	unsigned long v;
	char *end;

	if (strncmp(p, key, kl) != 0)
		return TPMID_E_FORMAT;
	p += kl;
	if ((*ret = calloc(HELD_MAX, sizeof(**ret))) == NULL)
		return TPMID_E_NOMEM;
	while (*p == ' ' && *ret_n < HELD_MAX) {
		errno = 0;
		v = strtoul(p + 1, &end, 16);
		if (errno != 0 || end == p + 1 || v > UINT32_MAX)
			return TPMID_E_FORMAT;
		(*ret)[(*ret_n)++] = (uint32_t)v;
		p = end;
	}
	if (*p != '\n')
		return TPMID_E_FORMAT;
	*pp = p + 1;
	return 0;
}

/* Parse one record; 0 when it is a record for `tcti`. */
static int
parse_record(const char *text, const char *tcti, struct held_record *rec)
{
	const char *p, *nl;
	size_t tl = strlen(tcti);
	int r;

	if (strncmp(text, "tcti ", 5) != 0 || strncmp(text + 5, tcti, tl) != 0 ||
	    text[5 + tl] != '\n')
		return TPMID_E_FORMAT;
	p = text + 5 + tl + 1;
	if (sscanf(p, "counts %u %u\n", &rec->reset_count, &rec->restart_count) != 2 ||
	    (nl = strchr(p, '\n')) == NULL)
		return TPMID_E_FORMAT;
	p = nl + 1;
	if ((r = get_list(&p, "handles", &rec->handles, &rec->n)) < 0)
		return r;
	if (sscanf(p, "pending %d\n", &rec->pending) != 1 || (nl = strchr(p, '\n')) == NULL)
		return TPMID_E_FORMAT;
	p = nl + 1;
	if ((r = get_list(&p, "known", &rec->known, &rec->n_known)) < 0)
		return r;
	/* Absent in records of older versions: the pid alone decides. */
	if (sscanf(p, "start %llu\n", &rec->start) != 1)
		rec->start = 0;
	return 0;
}

int
held_list(const char *dir, const char *tcti, struct held_record **ret, size_t *ret_n)
{
	struct held_record *a = NULL, *na, rec;
	unsigned long long st;
	char prefix[32], *path = NULL, *end;
	uint8_t *text = NULL;
	struct dirent *de;
	size_t n = 0, len;
	DIR *d;
	long pid;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	snprintf(prefix, sizeof(prefix), "%016llx.", (unsigned long long)fnv1a(tcti));
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : tpmid_seterr(TPMID_E_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		/* A process killed while writing its record leaves the temp
		 * file of atomic_write(), ".<name>.XXXXXX": remove a dead
		 * one's. */
		if (de->d_name[0] == '.' && strncmp(de->d_name + 1, prefix, strlen(prefix)) == 0) {
			pid = strtol(de->d_name + 1 + strlen(prefix), &end, 10);
			if (*end == '.' && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
				(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		pid = strtol(de->d_name + strlen(prefix), &end, 10);
		if (*end != '\0' || pid <= 0 || pid == (long)getpid())
			continue;
		free(path);
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			path = NULL;
			r = TPMID_E_NOMEM;
			goto out;
		}
		memset(&rec, 0, sizeof(rec));
		rec.pid = (pid_t)pid;
		/* Running, or not ours to judge (EPERM): alive. */
		rec.alive = kill((pid_t)pid, 0) == 0 || errno != ESRCH;
		free(text);
		text = NULL;
		if (read_file(path, HELD_FILE_MAX, &text, &len) < 0 ||
		    parse_record((const char *)text, tcti, &rec) < 0) {
			free(rec.handles);
			free(rec.known);
			tpmid_clearerr();
			continue;
		}
		/* Another process with the writer's pid is not the writer. */
		if (rec.alive && rec.start != 0 && (st = proc_start(rec.pid)) != 0 &&
		    st != rec.start)
			rec.alive = 0;
		if ((na = reallocarray(a, n + 1, sizeof(*a))) == NULL) {
			free(rec.handles);
			free(rec.known);
			r = TPMID_E_NOMEM;
			goto out;
		}
		a = na;
		a[n++] = rec;
	}
	*ret = a;
	*ret_n = n;
	a = NULL;
	n = 0;
out:
	held_records_free(a, n);
	free(text);
	free(path);
	closedir(d);
	return r;
}

void
held_records_free(struct held_record *r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(r[i].handles);
		free(r[i].known);
	}
	free(r);
}
