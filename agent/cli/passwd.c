/* tpmid passwd NAME: change, add or remove an identity's PIN in the TPM
 * (TPM2_ObjectChangeAuth); the new key blob replaces the stored one. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"

static const char usage[] =
    "usage: tpmid passwd NAME [--pin-file F | --pin-stdin]\n"
    "                    [--new-pin-file F | --new-pin-stdin | --no-pin]\n"
    "\n"
    "Change identity NAME's PIN, add one, or remove it (--no-pin). The TPM\n"
    "makes a new key blob for the same key with the new PIN, and it replaces\n"
    "the one in the identity file; the public key, certificates and ssh\n"
    "setting stay. A copy of the old identity file or of 'tpmid export'\n"
    "output made before still opens with the old PIN: the TPM cannot take\n"
    "copies back, so delete them. Not for persistent keys (--persist), and a\n"
    "PIN cannot be added to a key made without one (tpmid makes those\n"
    "without dictionary-attack protection): make a new key instead.\n"
    "Without PIN options the current PIN (if any) is asked for once and the\n"
    "new one twice, on the terminal or through SSH_ASKPASS. A PIN the agent\n"
    "held for NAME is forgotten.\n"
    "\n"
    "  --pin-file F       the current PIN is the first line of F\n"
    "  --pin-stdin        the current PIN is the first line of standard input\n"
    "  --new-pin-file F   the new PIN is the first line of F\n"
    "  --new-pin-stdin    the new PIN is the first line of standard input\n"
    "  --no-pin           remove the PIN\n"
    "  --help             show this help\n";

int
cmd_passwd(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_PIN_LONGOPTS_NOPROMPT,
		{ "new-pin-file", required_argument, NULL, 'N' },
		{ "new-pin-stdin", no_argument, NULL, 'S' },
		{ "no-pin", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_pin_opt oldo = { 0 }, newo = { 0 };
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_PASSWD };
	struct wire_reply rep = { 0 };
	struct id_info info = { 0 };
	_cleanup_secret_ struct secret *old = NULL;
	_cleanup_secret_ struct secret *nw = NULL;
	const char *name;
	char prompt[128];
	int c, r, no_pin = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case CLI_PIN_FILE:
		case CLI_PIN_STDIN:
			if ((r = cli_pin_opt_set(argv[0], &oldo, c, optarg)) != 0)
				return r;
			break;
		case 'N':
			if ((r = cli_pin_opt_set(argv[0], &newo, CLI_PIN_FILE, optarg)) != 0)
				return r;
			break;
		case 'S':
			if ((r = cli_pin_opt_set(argv[0], &newo, CLI_PIN_STDIN, NULL)) != 0)
				return r;
			break;
		case 'n':
			no_pin = 1;
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
	if (no_pin && (newo.file || newo.from_stdin))
		return cli_usage_error(argv[0], "--no-pin conflicts with a new PIN option");
	if (oldo.from_stdin && newo.from_stdin)
		return cli_usage_error(argv[0], "--pin-stdin and --new-pin-stdin both want "
		    "standard input");
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "passwd '%s'", name);
	/* Nothing is asked for a missing identity or a useless change. */
	if ((r = backend_info(&b, name, &info)) != 0) {
		r = cli_fail(r, "passwd '%s'", name);
		goto out;
	}
	if (!info.pin && no_pin) {
		r = cli_fail(tpmid_seterr(TPMID_E_INVAL, "it has no PIN"), "passwd '%s'", name);
		goto out;
	}
	if (info.pin) {
		if (!oldo.file && !oldo.from_stdin)
			oldo.prompt = 1;
		snprintf(prompt, sizeof(prompt), "Current PIN for '%s': ", name);
		if ((r = cli_pin_get(&oldo, prompt, 0, &old)) != 0) {
			r = cli_fail(r, "passwd '%s'", name);
			goto out;
		}
	}
	if (!no_pin) {
		if (!newo.file && !newo.from_stdin)
			newo.prompt = 1;
		snprintf(prompt, sizeof(prompt), "New PIN for '%s': ", name);
		if ((r = cli_pin_get(&newo, prompt, 1, &nw)) != 0) {
			r = cli_fail(r, "passwd '%s'", name);
			goto out;
		}
	}
	q.name = (char *)name;
	q.pin = old;
	q.new_pin = nw;
	if ((r = backend_call(&b, &q, &rep)) != 0) {
		r = cli_fail(r, "passwd '%s'", name);
		goto out;
	}
	printf("identity '%s': %s\n", name, no_pin ? "PIN removed" :
	    info.pin ? "PIN changed" : "PIN added");
out:
	id_info_clear(&info);
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
