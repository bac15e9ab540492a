/* tpmid keygen NAME: a new ECDSA key made inside the TPM. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"

static const char usage[] =
    "usage: tpmid keygen NAME [--curve p256|p384]\n"
    "                         [--no-pin | --pin | --pin-file FILE | --pin-stdin]\n"
    "                         [--persist[=HANDLE]]\n"
    "\n"
    "Create an ECDSA key inside the TPM and record it as identity NAME.\n"
    "\n"
    "  --curve C          p256 (default) or p384\n"
    "  --no-pin           the key needs no PIN (the default)\n"
    "  --pin              ask for a PIN twice on the terminal (or SSH_ASKPASS)\n"
    "  --pin-file FILE    the PIN is the first line of FILE (at most " TPMID_STR(TPMID_PIN_MAX) " bytes)\n"
    "  --pin-stdin        the PIN is the first line of standard input\n"
    "  --persist[=HANDLE] also make the key persistent in the TPM, at HANDLE\n"
    "                     (0x81000010-0x81ffffff) or the first free handle from\n"
    "                     0x81000010\n"
    "  --help             show this help\n";

int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "curve", required_argument, NULL, 'c' },
		{ "no-pin", no_argument, NULL, 'n' },
		CLI_PIN_LONGOPTS,
		{ "persist", optional_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_pin_opt po = { 0 };
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_KEYGEN };
	struct wire_reply rep = { 0 };
	const struct id_info *info = &rep.info;
	_cleanup_secret_ struct secret *pin = NULL;
	enum tpmid_curve alg = curve_table[0].id;
	const struct curve_info *curve;
	enum persist_mode persist = PERSIST_NO;
	uint32_t handle = 0;
	const char *name;
	char prompt[128];
	int c, r, no_pin = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if ((curve = curve_by_name(optarg)) == NULL)
				return cli_usage_error(argv[0], "unknown curve '%s' (use p256 or p384)",
				    optarg);
			alg = curve->id;
			break;
		case 'n':
			no_pin = 1;
			break;
		case CLI_PIN_PROMPT:
		case CLI_PIN_FILE:
		case CLI_PIN_STDIN:
			if ((r = cli_pin_opt_set(argv[0], &po, c, optarg)) != 0)
				return r;
			break;
		case 'p':
			if (optarg == NULL) {
				persist = PERSIST_AUTO;
				break;
			}
			if (parse_u32(optarg, &handle) != 0 || handle < TPMID_PERSIST_FIRST ||
			    handle > TPMID_PERSIST_LAST)
				return cli_usage_error(argv[0], "--persist: '%s' is not a handle in "
				    "0x%08x..0x%08x", optarg, TPMID_PERSIST_FIRST, TPMID_PERSIST_LAST);
			persist = PERSIST_HANDLE;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	/* getopt takes "--persist 0x81000030" as --persist and a second
	 * word: an optional value must be attached. */
	if (persist == PERSIST_AUTO && optind + 1 < argc && strncmp(argv[optind + 1], "0x", 2) == 0)
		return cli_usage_error(argv[0], "unexpected argument '%s' (to choose the handle, "
		    "attach it: --persist=%s)", argv[optind + 1], argv[optind + 1]);
	if (persist == PERSIST_AUTO && optind + 1 < argc && strncmp(argv[optind], "0x", 2) == 0)
		return cli_usage_error(argv[0], "unexpected argument '%s' (to choose the handle, "
		    "attach it: --persist=%s)", argv[optind], argv[optind]);
	if ((r = cli_one_name(argv[0], argc, argv, &name)) != 0)
		return r;
	if (no_pin && (po.file || po.from_stdin || po.prompt))
		return cli_usage_error(argv[0], "--no-pin conflicts with a PIN option");
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "keygen '%s'", name);
	/* Asked for only once the name is known to be free. */
	snprintf(prompt, sizeof(prompt), "New PIN for '%s': ", name);
	if ((r = cli_check_new_name(&b, name)) != 0 ||
	    (r = cli_pin_get(&po, prompt, 1, &pin)) != 0) {
		r = cli_fail(r, "keygen '%s'", name);
		goto out;
	}
	q.name = (char *)name;
	q.alg = alg;
	q.persist = persist;
	q.handle = handle;
	q.pin = pin;
	r = backend_call(&b, &q, &rep);
	if (r != 0) {
		r = cli_fail(r, "keygen '%s'", name);
		goto out;
	}
	printf("created identity '%s' (%s, %s", info->name, curve_name(info->alg),
	    info->pin ? "PIN" : "no PIN");
	if (info->handle != 0)
		printf(", persistent handle 0x%08x", info->handle);
	printf(")\n");
out:
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
