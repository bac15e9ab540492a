/* What the commands say and write: one-line errors naming what failed,
 * usage errors, and output files written whole or not at all. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"
#include "store/atomic.h"
#include "store/identity.h"

int
cli_fail(int r, const char *fmt, ...)
{
	char ctx[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tpmid: %s: %s\n", ctx, tpmid_errmsg(r));
	return 1;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tpmid %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tpmid %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int
cli_getopt_error(const char *cmd, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", arg);
	if (optopt != 0 && optopt != '?')
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", arg);
}

const char *
cli_escape(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0' && o + 5 < size; s++) {
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (*s != '\0' && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

int
cli_one_name(const char *cmd, int argc, char **argv, const char **ret)
{
	char esc[CLI_ESCAPE_MAX];

	*ret = NULL;
	if (optind >= argc)
		return cli_usage_error(cmd, "missing identity NAME");
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		    cli_escape(argv[optind + 1], esc, sizeof(esc)));
	/* Checked here, before any PIN is asked for or the agent is asked:
	 * the same usage error in agent and direct mode. */
	if (!identity_name_valid(argv[optind]))
		return cli_usage_error(cmd, "'%s' is not a valid identity name (1-%d characters "
		    "of A-Z a-z 0-9 . _ -, not starting with '.' or '-')",
		    cli_escape(argv[optind], esc, sizeof(esc)), TPMID_NAME_MAX);
	*ret = argv[optind];
	return 0;
}

int
cli_check_new_name(struct backend *b, const char *name)
{
	struct id_info info;
	int r;

	if ((r = backend_info(b, name, &info)) == 0) {
		id_info_clear(&info);
		return tpmid_seterr(TPMID_E_EXISTS, "identity '%s' already exists", name);
	}
	if (r != TPMID_E_NOENT)
		return r;
	tpmid_clearerr();
	return 0;
}

int
cli_flush_stdout(void)
{
	/* A full disk or a closed pipe shows only here, after the printf()s:
	 * a listing that was not written must not exit 0. */
	if (fflush(stdout) != 0 || ferror(stdout))
		return tpmid_seterr(TPMID_E_IO, "standard output: %s",
		    errno != 0 ? strerror(errno) : "write error");
	return 0;
}

int
cli_stdout_is_tty(void)
{
	return isatty(STDOUT_FILENO);
}

int
cli_check_output(const char *path, int force)
{
	struct stat st;

	if (force || path == NULL || strcmp(path, "-") == 0 || lstat(path, &st) != 0)
		return 0;
	/* Devices, FIFOs and sockets (/dev/null, /dev/stdout, a pipe) are
	 * written in place, not replaced: nothing to clobber. */
	if (!S_ISLNK(st.st_mode) ? !S_ISREG(st.st_mode) :
	    (stat(path, &st) == 0 && !S_ISREG(st.st_mode)))
		return 0;
	return tpmid_seterr(TPMID_E_EXISTS, "%s exists (use --force to replace it)", path);
}

int
cli_write_output(const char *path, const void *p, size_t len, unsigned mode, int no_clobber)
{
	char *real = NULL;
	struct stat st;
	int fd, r;

	if (path == NULL || strcmp(path, "-") == 0) {
		if ((r = write_all(STDOUT_FILENO, p, len)) != 0)
			return tpmid_seterr(r, "standard output: %s", strerror(errno));
		return 0;
	}
	if (no_clobber && (r = cli_check_output(path, 0)) != 0)
		return r;
	/* A device, FIFO or socket (/dev/null, /dev/stdout, a pipe) is written
	 * in place: renaming a file over it would replace the device node. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return tpmid_seterr(TPMID_E_IO, "%s: is a directory", path);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)) < 0)
			return tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		r = write_all(fd, p, len);
		if (close(fd) != 0 && r == 0)
			r = TPMID_E_IO;
		return r == 0 ? 0 : tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
	}
	/* A symlink to a regular file: replace the file it points to, not the
	 * link. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if ((real = realpath(path, NULL)) == NULL)
			return tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		path = real;
	}
	/* Temp file + rename: a reader never sees half a key or signature. */
	r = atomic_write(path, p, len, (mode_t)mode, no_clobber ? ATOMIC_NO_CLOBBER : 0);
	if (r == TPMID_E_EXISTS)
		r = tpmid_seterr(r, "%s exists (use --force to replace it)", path);
	free(real);
	return r;
}
