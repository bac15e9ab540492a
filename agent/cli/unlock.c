/* tpmid unlock / lock: the PINs the agent holds. They only make sense with
 * a running agent (a PIN held by this short-lived process would die with
 * it), so they insist on one. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"

static const char unlock_usage[] =
    "usage: tpmid unlock NAME [--pin-file F | --pin-stdin] [--timeout SECONDS]\n"
    "\n"
    "Give the running tpmid-agent identity NAME's PIN. The agent checks it\n"
    "with the TPM (one signature) and holds it in locked memory, so ssh and\n"
    "other clients can use the key without asking, until 'tpmid lock', the\n"
    "timeout, or the agent's exit. Without a PIN option the PIN is asked for on\n"
    "the terminal, or through SSH_ASKPASS when there is none (SSH_ASKPASS_REQUIRE\n"
    "is honoured as by ssh-add).\n"
    "\n"
    "  --pin-file F       the PIN is the first line of F\n"
    "  --pin-stdin        the PIN is the first line of standard input\n"
    "  --timeout SECONDS  forget the PIN after SECONDS (default 0: never)\n"
    "  --help             show this help\n";

static const char lock_usage[] =
    "usage: tpmid lock [NAME]\n"
    "\n"
    "Make the running tpmid-agent forget the PIN it holds for NAME, or for\n"
    "every identity when NAME is not given.\n"
    "\n"
    "  --help  show this help\n";

static int
agent_backend(struct backend *ret)
{
	struct backend_opts o;
	char *path = NULL;
	int r;

	memset(&o, 0, sizeof(o));
	o.socket = cli_g.socket;
	o.tcti = cli_g.tcti;
	o.store_dir = cli_g.store;
	o.agent_only = 1;
	if (cli_g.direct)
		return tpmid_seterr(TPMID_E_NOAGENT, "--direct: this command needs tpmid-agent");
	r = backend_open(&o, ret);
	if (r == TPMID_E_NOAGENT) {
		path = cli_g.socket ? strdup(cli_g.socket) : client_default_socket();
		tpmid_seterr(r, "no agent answers at %s: start tpmid-agent first (a PIN can only "
		    "be held by the agent)", path ? path : "the agent socket");
		free(path);
	}
	return r;
}

int
cmd_unlock(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_PIN_LONGOPTS_NOPROMPT,
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_pin_opt po = { 0 };
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_UNLOCK };
	struct wire_reply rep;
	_cleanup_secret_ struct secret *pin = NULL;
	const char *name;
	char prompt[128];
	struct id_info info = { 0 };
	uint32_t timeout = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case CLI_PIN_FILE:
		case CLI_PIN_STDIN:
			if ((r = cli_pin_opt_set(argv[0], &po, c, optarg)) != 0)
				return r;
			break;
		case 't':
			if (parse_u32(optarg, &timeout) != 0)
				return cli_usage_error(argv[0], "--timeout: '%s' is not a number of "
				    "seconds", optarg);
			break;
		case 'h':
			fputs(unlock_usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if ((r = cli_one_name(argv[0], argc, argv, &name)) != 0)
		return r;
	/* Connect first: no point asking for a PIN nobody can hold. */
	if ((r = agent_backend(&b)) != 0)
		return cli_fail(r, "unlock '%s'", name);
	if (!po.file && !po.from_stdin)
		po.prompt = 1;
	snprintf(prompt, sizeof(prompt), "PIN for '%s': ", name);
	/* Nor for an identity that is not there. */
	if ((r = backend_info(&b, name, &info)) != 0 ||
	    (r = cli_pin_get(&po, prompt, 0, &pin)) != 0) {
		r = cli_fail(r, "unlock '%s'", name);
		goto out;
	}
	q.name = (char *)name;
	q.pin = pin;
	q.timeout_s = timeout;
	r = backend_call(&b, &q, &rep);
	wire_reply_clear(&rep);
	if (r != 0) {
		r = cli_fail(r, "unlock '%s'", name);
		goto out;
	}
	if (timeout != 0)
		printf("identity '%s' unlocked for %u seconds\n", name, timeout);
	else
		printf("identity '%s' unlocked\n", name);
out:
	id_info_clear(&info);
	backend_close(&b);
	return r;
}

int
cmd_lock(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_LOCK };
	struct wire_reply rep;
	const char *name = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(lock_usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if (optind < argc && (r = cli_one_name(argv[0], argc, argv, &name)) != 0)
		return r;
	if ((r = agent_backend(&b)) != 0)
		return cli_fail(r, "lock");
	q.name = (char *)name;
	if ((r = backend_call(&b, &q, &rep)) != 0)
		r = name ? cli_fail(r, "lock '%s'", name) : cli_fail(r, "lock");
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
