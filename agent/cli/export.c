/* tpmid export NAME --tss2: the identity's key blob as a TSS2 PRIVATE KEY
 * file, which tpm2-openssl (`openssl pkeyutl -provider tpm2 -inkey FILE`)
 * loads under the same SRK. The blob is TPM-wrapped: it is useless without
 * this TPM, but still written 0600 since it names the key. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "common/err.h"

static const char usage[] =
    "usage: tpmid export NAME --tss2 [--out FILE] [--force]\n"
    "\n"
    "Write identity NAME's key as a TSS2 PRIVATE KEY PEM file (the TPM-wrapped\n"
    "blob; the private key never leaves the TPM). OpenSSL's tpm2 provider uses\n"
    "it directly: openssl pkeyutl -provider tpm2 -provider default -sign -inkey FILE\n"
    "\n"
    "  --tss2       the format (the only one; required)\n"
    "  --out FILE   write to FILE, mode 0600 (default: standard output)\n"
    "  --force      replace FILE if it exists\n"
    "  --help       show this help\n";

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tss2", no_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	const char *name, *out_path = NULL;
	struct wire_request q = { .type = WIRE_REQ_EXPORT };
	struct wire_reply rep = { 0 };
	int c, r, tss2 = 0, force = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tss2 = 1;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'f':
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
	if (!tss2)
		return cli_usage_error(argv[0], "say which format: --tss2");
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "export '%s'", name);
	q.name = (char *)name;
	if ((r = backend_call(&b, &q, &rep)) != 0) {
		r = cli_fail(r, "export '%s'", name);
		goto out;
	}
	if ((r = cli_write_output(out_path, rep.text, strlen(rep.text), 0600, !force)) != 0)
		r = cli_fail(r, "export '%s'", name);
out:
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
