/* tpmid ssh-offer NAME [--on | --off]: whether the agent lists the
 * identity to ssh. ssh tries every listed key in turn and a server counts
 * each as a failed authentication (MaxAuthTries, 6 by default), so with
 * many identities logins fail with "Too many authentication failures". */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "agent/cli/cli.h"
#include "common/err.h"

static const char usage[] =
    "usage: tpmid ssh-offer NAME [--on | --off]\n"
    "\n"
    "Show or set whether tpmid-agent lists identity NAME to ssh and ssh-add\n"
    "(the default is on). ssh tries every listed key, and servers give up\n"
    "after a few (MaxAuthTries, 6): with many identities, either turn off\n"
    "those that are not for ssh (ssh then cannot use them at all: it signs\n"
    "only with keys the agent lists), or name the key for each host:\n"
    "  tpmid pubkey NAME --format ssh --out ~/.ssh/NAME.pub\n"
    "  ssh -o IdentitiesOnly=yes -i ~/.ssh/NAME.pub host\n"
    "(or IdentitiesOnly/IdentityFile in ~/.ssh/config). 'tpmid list' shows\n"
    "the setting in its SSH column.\n"
    "\n"
    "  --on    list NAME to ssh\n"
    "  --off   do not list NAME to ssh\n"
    "  --help  show this help\n";

int
cmd_ssh_offer(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "on", no_argument, NULL, '1' },
		{ "off", no_argument, NULL, '0' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_SET_SSH };
	struct wire_reply rep = { 0 };
	struct id_info info = { 0 };
	const char *name;
	int c, r, set = -1;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case '0':
		case '1':
			if (set != -1 && set != c - '0')
				return cli_usage_error(argv[0], "--on and --off conflict");
			set = c - '0';
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
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "ssh-offer '%s'", name);
	if (set == -1) {
		if ((r = backend_info(&b, name, &info)) != 0)
			r = cli_fail(r, "ssh-offer '%s'", name);
		else
			printf("%s\n", info.ssh_hidden ? "off" : "on");
		goto out;
	}
	q.name = (char *)name;
	q.flag = set;
	if ((r = backend_call(&b, &q, &rep)) != 0) {
		r = cli_fail(r, "ssh-offer '%s'", name);
		goto out;
	}
	printf("identity '%s' is %s to ssh\n", name, set ? "offered" : "no longer offered");
out:
	id_info_clear(&info);
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
