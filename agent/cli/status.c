/* tpmid status: where commands go (agent or TPM), which store and TPM they
 * use, and how the agent is doing; as text or, with --json, for scripts. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"

static const char usage[] =
    "usage: tpmid status [--json]\n"
    "\n"
    "Show whether the agent answers (else the TPM is opened directly), the\n"
    "store directory and TCTI in use, whether the TPM is reachable, and the\n"
    "number of identities, loaded keys and held PINs; and persistent handles\n"
    "in tpmid's range (0x81000010 up) that no identity records. What a killed\n"
    "tpmid left half done (a delete or keygen --persist) is finished by the\n"
    "next delete, keygen --persist, agent start or status without an agent.\n"
    "Another user's agent shows only whether its TPM answers and how many\n"
    "identities that user may use. Exit status 0 when the status could be\n"
    "read and printed (even if the TPM is unreachable), 1 otherwise.\n"
    "\n"
    "  --json  print one JSON object instead (keys: agent, socket, store,\n"
    "          tcti, tpm, identities, loaded, max_loaded, unlocked,\n"
    "          signatures, tpm_resets, unrecorded)\n"
    "  --help  show this help\n";

static void
add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

/* Empty strings (another user's agent) are JSON null: unknown, not "". */
static struct json_object *
str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_object_new_string(s) : NULL;
}

static int
print_json(const struct status_info *st, const char *sock)
{
	struct json_object *o, *arr;
	char h[16];
	unsigned i;

	if ((o = json_object_new_object()) == NULL)
		return TPMID_E_NOMEM;
	add(o, "agent", json_object_new_boolean(sock != NULL));
	add(o, "socket", str_or_null(sock));
	add(o, "store", str_or_null(st->store));
	add(o, "tcti", str_or_null(st->tcti));
	add(o, "tpm", json_object_new_string(st->tpm_ok ? "reachable" : "unreachable"));
	add(o, "identities", json_object_new_int64(st->identities));
	add(o, "loaded", json_object_new_int64(st->loaded));
	add(o, "max_loaded", json_object_new_int64(st->max_loaded));
	add(o, "unlocked", json_object_new_int64(st->unlocked));
	add(o, "signatures", json_object_new_uint64(st->signs));
	add(o, "tpm_resets", json_object_new_uint64(st->tpm_resets));
	arr = json_object_new_array();
	for (i = 0; arr != NULL && i < st->n_orphans && i < WIRE_ORPHANS_MAX; i++) {
		snprintf(h, sizeof(h), "0x%08x", st->orphan[i]);
		json_object_array_add(arr, json_object_new_string(h));
	}
	add(o, "unrecorded", arr);
	add(o, "unrecorded_count", json_object_new_int64(st->n_orphans));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

static void
print_text(const struct status_info *st, const char *sock)
{
	unsigned i;

	if (sock != NULL)
		printf("agent:       running (%s)\n", sock);
	else
		printf("agent:       not running (TPM opened directly)\n");
	printf("store:       %s\n", *st->store != '\0' ? st->store : "(not shown to this user)");
	printf("tcti:        %s\n", *st->tcti != '\0' ? st->tcti : "(not shown to this user)");
	printf("tpm:         %s\n", st->tpm_ok ? "reachable" : "unreachable");
	printf("identities:  %u\n", st->identities);
	printf("loaded keys: %u (max %u)\n", st->loaded, st->max_loaded);
	printf("unlocked:    %u\n", st->unlocked);
	printf("signatures:  %" PRIu64 "\n", st->signs);
	printf("tpm resets:  %" PRIu64 "\n", st->tpm_resets);
	/* Left by a killed tpmid that could not be finished, or put there by
	 * another program: the user decides (tpm2_evictcontrol). */
	if (st->n_orphans > 0) {
		printf("unrecorded:  %u persistent handle%s in tpmid's range that no identity "
		    "records:", st->n_orphans, st->n_orphans == 1 ? "" : "s");
		for (i = 0; i < st->n_orphans && i < WIRE_ORPHANS_MAX; i++)
			printf(" 0x%08x", st->orphan[i]);
		printf("%s\n", st->n_orphans > WIRE_ORPHANS_MAX ? " ..." : "");
	}
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_STATUS };
	struct wire_reply rep = { 0 };
	char *sock = NULL;
	int c, r, json = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "status");
	if ((r = backend_call(&b, &q, &rep)) != 0) {
		r = cli_fail(r, "status");
		goto out;
	}
	if (backend_is_agent(&b) &&
	    (sock = cli_g.socket ? strdup(cli_g.socket) : client_default_socket()) == NULL) {
		r = cli_fail(TPMID_E_NOMEM, "status");
		goto out;
	}
	if (json)
		r = print_json(&rep.status, sock);
	else
		print_text(&rep.status, sock);
	if (r == 0)
		r = cli_flush_stdout();
	r = r != 0 ? cli_fail(r, "status") : 0;
out:
	wire_reply_clear(&rep);
	free(sock);
	backend_close(&b);
	return r;
}
