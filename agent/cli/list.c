/* tpmid list: every identity in the store, one line each (or JSON).
 * A malformed identity file is reported on stderr with its name and the
 * problem; the others are still listed, and the exit status is then 1 so
 * scripts notice. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "agent/cli/cli.h"
#include "common/err.h"

static const char usage[] =
    "usage: tpmid list [--json]\n"
    "\n"
    "List the identities in the store: NAME, ALG (ecdsa-p256/ecdsa-p384),\n"
    "AUTH (none, pin, or pin+unlocked when the agent holds the PIN), HANDLE\n"
    "(persistent handle or -), CERT (x509, ssh, x509+ssh or -) and SSH (on, or\n"
    "off when the agent does not list it to ssh: 'tpmid ssh-offer').\n"
    "An identity file that cannot be read is reported on standard error as\n"
    "\"NAME  error: MESSAGE\"; the others are still listed and the exit status is 1.\n"
    "Identities that hold the same key (imported twice with --force) are named\n"
    "in a note on standard error (\"same_key_as\" in JSON).\n"
    "\n"
    "  --json  print a JSON array instead (malformed files appear with \"error\")\n"
    "  --help  show this help\n";

static const char *
auth_str(const struct id_info *i)
{
	if (!i->pin)
		return "none";
	return i->unlocked ? "pin+unlocked" : "pin";
}

static const char *
cert_str(const struct id_info *i)
{
	if (i->cert_pem != NULL && i->ssh_cert != NULL)
		return "x509+ssh";
	if (i->cert_pem != NULL)
		return "x509";
	if (i->ssh_cert != NULL)
		return "ssh";
	return "-";
}

/* The index of another identity holding the same key as a[i] (the next
 * one after i, wrapping), or n. ssh offers such a key once per identity. */
static size_t
same_key(const struct id_info *a, size_t n, size_t i)
{
	size_t k, j;

	if (a[i].spki == NULL)
		return n;
	for (k = 1; k < n; k++) {
		j = (i + k) % n;
		if (a[j].error == NULL && a[j].spki != NULL && a[j].spki_len == a[i].spki_len &&
		    memcmp(a[j].spki, a[i].spki, a[i].spki_len) == 0)
			return j;
	}
	return n;
}

static int
print_json(const struct id_info *a, size_t n)
{
	struct json_object *arr, *o;
	char handle[16];
	size_t i, j;

	if ((arr = json_object_new_array()) == NULL)
		return TPMID_E_NOMEM;
	for (i = 0; i < n; i++) {
		if ((o = json_object_new_object()) == NULL) {
			json_object_put(arr);
			return TPMID_E_NOMEM;
		}
		json_object_object_add(o, "name", json_object_new_string(a[i].name));
		if (a[i].error != NULL) {
			json_object_object_add(o, "error", json_object_new_string(a[i].error));
		} else {
			json_object_object_add(o, "alg", json_object_new_string(curve_name(a[i].alg)));
			json_object_object_add(o, "auth",
			    json_object_new_string(a[i].pin ? "pin" : "none"));
			json_object_object_add(o, "unlocked", json_object_new_boolean(a[i].unlocked));
			if (a[i].handle != 0) {
				snprintf(handle, sizeof(handle), "0x%08x", a[i].handle);
				json_object_object_add(o, "handle", json_object_new_string(handle));
			} else {
				json_object_object_add(o, "handle", NULL);
			}
			json_object_object_add(o, "cert", json_object_new_boolean(a[i].cert_pem != NULL));
			json_object_object_add(o, "ca", json_object_new_boolean(a[i].ca_pem != NULL));
			json_object_object_add(o, "ssh_cert",
			    json_object_new_boolean(a[i].ssh_cert != NULL));
			json_object_object_add(o, "ssh", json_object_new_boolean(!a[i].ssh_hidden));
			j = same_key(a, n, i);
			json_object_object_add(o, "same_key_as",
			    j < n ? json_object_new_string(a[j].name) : NULL);
		}
		json_object_array_add(arr, o);
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return 0;
}

int
cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_LIST };
	struct wire_reply rep = { 0 };
	struct id_info *a;
	size_t n, i, j;
	char handle[16];
	int c, r, json = 0, bad = 0;

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
		return cli_fail(r, "list");
	r = backend_call(&b, &q, &rep);
	a = rep.list;
	n = rep.n_list;
	if (r != 0) {
		r = cli_fail(r, "list");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (a[i].error != NULL) {
			fprintf(stderr, "%s  error: %s\n", a[i].name, a[i].error);
			bad = 1;
		}
	if (json) {
		if ((r = print_json(a, n)) != 0) {
			r = cli_fail(r, "list");
			goto out;
		}
	} else {
		printf("%-24s %-10s %-12s %-10s %-8s %s\n", "NAME", "ALG", "AUTH", "HANDLE", "CERT",
		    "SSH");
		for (i = 0; i < n; i++) {
			if (a[i].error != NULL)
				continue;
			if (a[i].handle != 0)
				snprintf(handle, sizeof(handle), "0x%08x", a[i].handle);
			else
				snprintf(handle, sizeof(handle), "-");
			printf("%-24s %-10s %-12s %-10s %-8s %s\n", a[i].name, curve_name(a[i].alg),
			    auth_str(&a[i]), handle, cert_str(&a[i]), a[i].ssh_hidden ? "off" : "on");
		}
		/* On stderr: the table stays one line per identity. */
		for (i = 0; i < n; i++)
			if (a[i].error == NULL && (j = same_key(a, n, i)) > i && j < n)
				fprintf(stderr, "note: '%s' and '%s' hold the same key; ssh offers "
				    "it twice and may sign with either\n", a[i].name, a[j].name);
	}
	if ((r = cli_flush_stdout()) != 0) {
		r = cli_fail(r, "list");
		goto out;
	}
	r = bad ? 1 : 0;
out:
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
