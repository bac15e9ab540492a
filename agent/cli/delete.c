/* tpmid delete NAME: evict the persistent key (if any), remove the file. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "agent/cli/cli.h"
#include "common/err.h"

static const char usage[] =
    "usage: tpmid delete NAME\n"
    "\n"
    "Delete identity NAME: evict its persistent key from the TPM (if it has\n"
    "one) and remove its identity file. The key cannot be recovered.\n"
    "\n"
    "  --help  show this help\n";

int
cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_DELETE };
	struct wire_reply rep;
	const char *name;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if ((r = cli_one_name(argv[0], argc, argv, &name)) != 0)
		return r;
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "delete '%s'", name);
	q.name = (char *)name;
	if ((r = backend_call(&b, &q, &rep)) != 0)
		r = cli_fail(r, "delete '%s'", name);
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
