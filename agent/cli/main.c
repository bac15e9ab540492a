/* tpmid: the command line. Global options are taken from anywhere before
 * "--", then the subcommand named by the first other word runs from the
 * table below with its own getopt_long() parser (one file per command). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	{ "ssh-offer", cmd_ssh_offer, "show or set whether ssh is offered the identity" },
	{ "export", cmd_export, "write the key as a TSS2 PRIVATE KEY file" },
	{ "delete", cmd_delete, "delete an identity (and evict its persistent key)" },
	{ "unlock", cmd_unlock, "give the agent an identity's PIN" },
	{ "lock", cmd_lock, "make the agent forget held PINs" },
	{ "passwd", cmd_passwd, "change, add or remove an identity's PIN" },
	{ "status", cmd_status, "show the agent or TPM status" },
	{ "srk", cmd_srk, "show or persist the storage root key (faster starts)" },
	{ "doctor", cmd_doctor, "check the setup; one line per finding, with the fix" },
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
	    "through tpmid-agent when its socket answers, else open the TPM directly;\n"
	    "a socket named by --socket or $TPMID_SOCKET must answer (use --direct).\n"
	    "\n"
	    "Global options (also accepted after COMMAND):\n"
	    "  --socket PATH  agent socket (default $TPMID_SOCKET, else\n"
	    "                 $XDG_RUNTIME_DIR/tpmid/agent.sock, else\n"
	    "                 /run/user/UID/tpmid/agent.sock if that directory exists,\n"
	    "                 else ${TMPDIR:-/tmp}/tpmid-UID/agent.sock)\n"
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
