/* tpmid srk [--persist] [--expect NAME] [--ek-ca CA.pem]: show the storage
 * root key, pin it, verify it against the endorsement key, or persist it.
 *
 * The SRK is the H-2 primary (DESIGN.md); creating it costs a
 * CreatePrimary on every agent start. A copy persisted at 0x81000001 makes
 * starts fast; it is used only while its name matches the H-2 name recorded
 * in the store, so an unrelated object at that handle is never trusted.
 * Always opens the TPM directly: run it while no agent holds the TPM's
 * few object slots. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/cli/cli.h"
#include "agent/engine/engine.h"
#include "common/err.h"

static const char usage[] =
    "usage: tpmid srk [--persist] [--expect NAME] [--ek-ca CA.pem]\n"
    "\n"
    "Print the name of the TPM's storage root key (the H-2 ECC P-256 primary\n"
    "every tpmid key lives under) and record it in the store. PINs and\n"
    "imported keys travel to the TPM encrypted to this key; once its name is\n"
    "recorded, a TPM that answers with another one (an interposer on the bus,\n"
    "or a cleared TPM) is refused before anything secret is sent. The first\n"
    "use records whatever the TPM answers (trust on first use) unless the\n"
    "name is pinned with --expect.\n"
    "\n"
    "  --expect NAME  the name the SRK must have (hex, as printed here, e.g.\n"
    "                 taken on a trusted setup): refuse otherwise, and record\n"
    "                 it for a store that has none recorded yet\n"
    "  --ek-ca CA.pem verify the SRK against the TPM's endorsement key instead\n"
    "                 of trusting the first answer: the TPM's ECC EK\n"
    "                 certificate must verify up to these CAs (the TPM\n"
    "                 vendor's), the EK must hold its key, and the SRK is\n"
    "                 created under a session only that TPM can key, so an\n"
    "                 interposer cannot change it. Proves the SRK is the\n"
    "                 certified TPM's (not that this device holds that TPM);\n"
    "                 refuses if the store recorded another SRK\n"
    "  --persist      also make the SRK persistent at 0x81000001, so the agent\n"
    "                 does not re-create it at every start (fails if another\n"
    "                 object occupies 0x81000001; a matching copy is left)\n"
    "  --help         show this help\n"
    "\n"
    "Opens the TPM directly (--tcti / TPMID_TCTI), not through the agent.\n";

int
cmd_srk(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "persist", no_argument, NULL, 'p' },
		{ "expect", required_argument, NULL, 'e' },
		{ "ek-ca", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct engine_cfg cfg = { 0 };
	struct engine *e = NULL;
	char *name = NULL;
	const char *expect = NULL, *ek_ca = NULL;
	char *ek_text = NULL;
	int c, r, persist = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			persist = 1;
			break;
		case 'e':
			expect = optarg;
			break;
		case 'k':
			ek_ca = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	cfg.tcti = cli_g.tcti;
	cfg.store_dir = cli_g.store;
	cfg.lazy_tpm = 1;
	if ((r = engine_new(&cfg, &e)) != 0)
		return cli_fail(r, "srk");
	if ((r = engine_srk(e, persist, expect, ek_ca, &name, &ek_text)) != 0) {
		r = cli_fail(r, persist ? "srk --persist" : "srk");
		goto out;
	}
	printf("name:      %s\n", name);
	if (ek_text != NULL)
		printf("verified:  %s\n", ek_text);
	if (persist)
		printf("persisted: 0x81000001\n");
out:
	free(ek_text);
	free(name);
	engine_free(e);
	return r;
}
