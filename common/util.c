#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

void
freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void
freezero_str(char *s)
{
	if (s != NULL)
		freezero(s, strlen(s));
}

int
timingsafe_memeq(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile uint8_t *pa = a, *pb = b;
	size_t i, n = alen < blen ? alen : blen;
	uint8_t acc = 0;

	for (i = 0; i < n; i++)
		acc |= pa[i] ^ pb[i];
	return (acc == 0 && alen == blen) ? 0 : -1;
}

struct secret *
secret_new(const void *p, size_t len)
{
	struct secret *s;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* Round up to whole pages so mlock/madvise cover only our memory. */
	s->alloc = (len + 1 + pg - 1) / pg * pg;
	s->p = mmap(NULL, s->alloc, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->p == MAP_FAILED) {
		free(s);
		return NULL;
	}
	(void)mlock(s->p, s->alloc);      /* best effort: RLIMIT_MEMLOCK may be 0 */
	(void)madvise(s->p, s->alloc, MADV_DONTDUMP);
	if (len > 0 && p != NULL)
		memcpy(s->p, p, len);
	s->p[len] = '\0';
	s->len = len;
	return s;
}

struct secret *
secret_dup(const struct secret *s)
{
	return s == NULL ? NULL : secret_new(s->p, s->len);
}

void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s->p, s->alloc);
	munlock(s->p, s->alloc);
	munmap(s->p, s->alloc);
	freezero(s, sizeof(*s));
}

int
read_fd(int fd, size_t max, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf = NULL, *n;
	size_t len = 0, alloc = 0, cap;
	ssize_t got;

	*ret = NULL;
	*ret_len = 0;
	/* Room for max bytes, one more to detect "too big", and the NUL. */
	if (max > SIZE_MAX - 2)
		return TPMID_E_INVAL;
	cap = max + 2;
	for (;;) {
		if (len + 1 >= alloc) {
			size_t nalloc = alloc ? alloc * 2 : 4096;
			if (nalloc > cap || nalloc < alloc)
				nalloc = cap;
			if (nalloc <= alloc) {
				freezero(buf, alloc);
				return TPMID_E_TOOBIG;
			}
			/* Fresh allocation + copy so nothing sensitive lingers. */
			if ((n = malloc(nalloc)) == NULL) {
				freezero(buf, alloc);
				return TPMID_E_NOMEM;
			}
			if (len > 0)
				memcpy(n, buf, len);
			freezero(buf, alloc);
			buf = n;
			alloc = nalloc;
		}
		got = read(fd, buf + len, alloc - len - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			freezero(buf, alloc);
			return TPMID_E_IO;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > max) {
			freezero(buf, alloc);
			return TPMID_E_TOOBIG;
		}
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

int
read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	int fd, r;

	*ret = NULL;
	*ret_len = 0;
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return tpmid_seterr(errno == ENOENT ? TPMID_E_NOENT : TPMID_E_IO,
		    "%s: %s", path, strerror(errno));
	r = read_fd(fd, max, ret, ret_len);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r == TPMID_E_TOOBIG)
		return tpmid_seterr(r, "%s: larger than %zu bytes", path, max);
	if (r == TPMID_E_IO)
		return tpmid_seterr(r, "%s: %s", path, strerror(errno));
	return r;
}

int
write_all(int fd, const void *p, size_t len)
{
	const uint8_t *c = p;
	ssize_t w;

	while (len > 0) {
		w = write(fd, c, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return TPMID_E_IO;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

char *
strdup_n(const void *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX || (s = malloc(n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

char *
path_absolute(const char *path)
{
	char *cwd, *s;

	if (*path == '/')
		return strdup(path);
	if ((cwd = getcwd(NULL, 0)) == NULL)
		return NULL;
	if (asprintf(&s, "%s/%s", cwd, path) < 0)
		s = NULL;
	free(cwd);
	return s;
}

char *
hex_encode(const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s;
	size_t i;

	if (len > (SIZE_MAX - 1) / 2 || (s = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * len] = '\0';
	return s;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, uint8_t **ret, size_t *ret_len)
{
	size_t i, n = strlen(s);
	uint8_t *p;
	int hi, lo;

	*ret = NULL;
	*ret_len = 0;
	if (n % 2 != 0)
		return TPMID_E_FORMAT;
	if ((p = malloc(n / 2 + 1)) == NULL)
		return TPMID_E_NOMEM;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hexval(s[2 * i])) < 0 || (lo = hexval(s[2 * i + 1])) < 0) {
			free(p);
			return TPMID_E_FORMAT;
		}
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = p;
	*ret_len = n / 2;
	return 0;
}

int
parse_u32(const char *s, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	*ret = 0;
	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return TPMID_E_INVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return TPMID_E_INVAL;
	*ret = (uint32_t)v;
	return 0;
}

void
harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
