/* tpmid: the command line. Global options are taken from anywhere before
 * "--", then the subcommand named by the first other word runs from the
 * table below with its own getopt_long() parser (cmd_*.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/backend.h"
#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"

struct cli_global cli_g;

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "keygen", cmd_keygen, "create a key in the TPM and record the identity" },
	{ "import", cmd_import, "wrap an existing EC, OpenSSH or TSS2 key into the TPM" },
	{ "list", cmd_list, "list identities" },
	{ "pubkey", cmd_pubkey, "print an identity's public key (PEM, OpenSSH or DER)" },
	{ "sign", cmd_sign, "sign a file or a digest (DER ECDSA signature)" },
	{ "csr", cmd_csr, "make a PKCS#10 certificate request signed in the TPM" },
	{ "cert", cmd_cert, "attach or print an identity's X.509 certificate" },
	{ "ssh-cert", cmd_ssh_cert, "attach an OpenSSH certificate" },
	{ "export", cmd_export, "write the key as a TSS2 PRIVATE KEY file" },
	{ "delete", cmd_delete, "delete an identity (and evict its persistent key)" },
	{ "unlock", cmd_unlock, "give the agent an identity's PIN" },
	{ "lock", cmd_lock, "make the agent forget held PINs" },
	{ "status", cmd_status, "show the agent or TPM status" },
	{ "srk", cmd_srk, "show or persist the storage root key (faster starts)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: tpmid [--socket PATH] [--tcti CONF] [--store DIR] [--direct] COMMAND [ARGS]\n"
	    "       tpmid --help | --version\n"
	    "\n"
	    "Keys live in the TPM; identities are JSON files in the store. Commands go\n"
	    "through tpmid-agent when its socket answers, else open the TPM directly.\n"
	    "\n"
	    "Global options (also accepted after COMMAND):\n"
	    "  --socket PATH  agent socket (default $TPMID_SOCKET, else\n"
	    "                 $XDG_RUNTIME_DIR/tpmid/agent.sock)\n"
	    "  --tcti CONF    TPM connection (default $TPMID_TCTI, else device:/dev/tpmrm0)\n"
	    "  --store DIR    identity store (default $TPMID_STORE, else\n"
	    "                 $XDG_DATA_HOME/tpmid, else ~/.local/share/tpmid)\n"
	    "  --direct       never use the agent; open the TPM in this process\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'tpmid COMMAND --help' for a command's options.\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

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

int
cli_one_name(const char *cmd, int argc, char **argv, const char **ret)
{
	*ret = NULL;
	if (optind >= argc)
		return cli_usage_error(cmd, "missing identity NAME");
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	*ret = argv[optind];
	return 0;
}

int
cli_backend(struct backend *ret)
{
	struct backend_opts o;

	memset(&o, 0, sizeof(o));
	o.socket = cli_g.socket;
	o.tcti = cli_g.tcti;
	o.store_dir = cli_g.store;
	o.direct = cli_g.direct;
	return backend_open(&o, ret);
}

int
cli_stdout_is_tty(void)
{
	return isatty(STDOUT_FILENO);
}

int
cli_write_output(const char *path, const void *p, size_t len, unsigned mode, int no_clobber)
{
	char *tmp = NULL, *real = NULL;
	struct stat st;
	int fd = -1, r;

	if (path == NULL || strcmp(path, "-") == 0) {
		if ((r = write_all(STDOUT_FILENO, p, len)) != 0)
			return tpmid_seterr(r, "standard output: %s", strerror(errno));
		return 0;
	}
	if (no_clobber && lstat(path, &st) == 0)
		return tpmid_seterr(TPMID_E_EXISTS, "%s exists (use --force to replace it)", path);
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
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return TPMID_E_NOMEM;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode)) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, p, len) != 0 || fsync(fd) != 0) {
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (no_clobber) {
		/* link() fails on an existing target, unlike rename(). */
		if (link(tmp, path) != 0) {
			r = tpmid_seterr(errno == EEXIST ? TPMID_E_EXISTS : TPMID_E_IO, "%s: %s", path,
			    errno == EEXIST ? "exists (use --force to replace it)" : strerror(errno));
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		unlink(tmp);
	free(tmp);
	free(real);
	return r;
}

/* Global options. Returns the number of argv words consumed (1 or 2), 0 if
 * `argv[i]` is not a global option, or -1 after a usage error. */
static int
global_opt(int argc, char **argv, int i, const char *where)
{
	static const struct {
		const char *name;
		const char **dst;
	} valued[] = {
		{ "--socket", &cli_g.socket },
		{ "--tcti", &cli_g.tcti },
		{ "--store", &cli_g.store },
	};
	const char *a = argv[i];
	size_t k, n;

	if (strcmp(a, "--direct") == 0) {
		cli_g.direct = 1;
		return 1;
	}
	for (k = 0; k < ELEMENTSOF(valued); k++) {
		n = strlen(valued[k].name);
		if (strncmp(a, valued[k].name, n) != 0)
			continue;
		if (a[n] == '=') {
			*valued[k].dst = a + n + 1;
			return 1;
		}
		if (a[n] != '\0')
			continue;
		if (i + 1 >= argc) {
			if (where != NULL)
				cli_usage_error(where, "option '%s' needs a value", a);
			else
				fprintf(stderr, "tpmid: option '%s' needs a value\n"
				    "Try 'tpmid --help'.\n", a);
			return -1;
		}
		*valued[k].dst = argv[i + 1];
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char **nargv;
	const char *cmd = NULL;
	int i, n, nargc = 0, rest = 0, r;
	size_t k;

	/* PINs and key material pass through this process. */
	harden_process();
	if ((nargv = calloc((size_t)argc + 1, sizeof(*nargv))) == NULL) {
		fprintf(stderr, "tpmid: out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (rest || (cmd != NULL && strcmp(argv[i], "--") == 0)) {
			rest = 1;
			nargv[nargc++] = argv[i];
			continue;
		}
		if ((n = global_opt(argc, argv, i, cmd)) < 0) {
			r = EXIT_USAGE;
			goto out;
		}
		if (n > 0) {
			i += n - 1;
			continue;
		}
		if (cmd != NULL) {
			nargv[nargc++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			r = 0;
			goto out;
		}
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("tpmid %s\n", TPMID_VERSION);
			r = 0;
			goto out;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "tpmid: unknown option '%s'\nTry 'tpmid --help'.\n", argv[i]);
			r = EXIT_USAGE;
			goto out;
		}
		cmd = argv[i];
		nargv[nargc++] = argv[i];
	}
	if (cmd == NULL) {
		usage(stderr);
		r = EXIT_USAGE;
		goto out;
	}
	if (strcmp(cmd, "help") == 0) {
		if (nargc < 2) {
			usage(stdout);
			r = 0;
			goto out;
		}
		/* "tpmid help keygen" = "tpmid keygen --help" */
		cmd = nargv[1];
		nargv[0] = nargv[1];
		nargv[1] = (char *)"--help";
		nargc = 2;
	}
	for (k = 0; k < ELEMENTSOF(commands); k++)
		if (strcmp(commands[k].name, cmd) == 0)
			break;
	if (k == ELEMENTSOF(commands)) {
		fprintf(stderr, "tpmid: unknown command '%s'\nTry 'tpmid --help'.\n", cmd);
		r = EXIT_USAGE;
		goto out;
	}
	nargv[nargc] = NULL;
	opterr = 0;
	optind = 1;
	r = commands[k].fn(nargc, nargv);
out:
	free(nargv);
	return r;
}
