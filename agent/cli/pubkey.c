/* tpmid pubkey NAME: the identity's public key as PEM, OpenSSH or DER. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/format/ec.h"
#include "agent/format/sshwire.h"
#include "common/err.h"

static const char usage[] =
    "usage: tpmid pubkey NAME [--format pem|ssh|der] [--out FILE [--force]]\n"
    "\n"
    "Print identity NAME's public key.\n"
    "\n"
    "  --format F  pem (SubjectPublicKeyInfo, the default), ssh (an\n"
    "              authorized_keys line with NAME as comment) or der\n"
    "  --out FILE  write to FILE instead of standard output (der output is\n"
    "              never written to a terminal); an existing file is not\n"
    "              replaced\n"
    "  --force     replace FILE if it exists\n"
    "  --help      show this help\n";

int
cmd_pubkey(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum { F_PEM, F_SSH, F_DER } fmt = F_PEM;
	struct backend b = { 0 };
	struct id_info info = { 0 };
	const char *name, *out_path = NULL;
	char *text = NULL, *line = NULL;
	int c, r, force = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "pem") == 0)
				fmt = F_PEM;
			else if (strcmp(optarg, "ssh") == 0)
				fmt = F_SSH;
			else if (strcmp(optarg, "der") == 0)
				fmt = F_DER;
			else
				return cli_usage_error(argv[0], "unknown format '%s' (use pem, ssh or der)",
				    optarg);
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'F':
			force = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if ((r = cli_one_name(argv[0], argc, argv, &name)) != 0)
		return r;
	if (fmt == F_DER && (out_path == NULL || strcmp(out_path, "-") == 0) && cli_stdout_is_tty())
		return cli_usage_error(argv[0], "refusing to write DER to a terminal: use --out "
		    "FILE or redirect standard output");
	if ((r = cli_check_output(out_path, force)) != 0)
		return cli_fail(r, "pubkey '%s'", name);
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "pubkey '%s'", name);
	if ((r = backend_info(&b, name, &info)) != 0) {
		r = cli_fail(r, "pubkey '%s'", name);
		goto out;
	}
	switch (fmt) {
	case F_PEM:
		if ((r = ec_pem_from_spki(info.spki, info.spki_len, &text)) == 0)
			r = cli_write_output(out_path, text, strlen(text), 0644, !force);
		break;
	case F_SSH:
		if ((r = sshwire_pubkey_line(info.spki, info.spki_len, name, &line)) == 0 &&
		    (r = asprintf(&text, "%s\n", line) < 0 ? TPMID_E_NOMEM : 0) == 0)
			r = cli_write_output(out_path, text, strlen(text), 0644, !force);
		break;
	case F_DER:
		r = cli_write_output(out_path, info.spki, info.spki_len, 0644, !force);
		break;
	}
	if (r != 0)
		r = cli_fail(r, "pubkey '%s'", name);
out:
	free(line);
	free(text);
	id_info_clear(&info);
	backend_close(&b);
	return r;
}
