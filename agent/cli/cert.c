/* tpmid cert NAME [--set CERT.pem [--ca CA.pem]]: attach the X.509
 * certificate issued for the identity's key (and its CA bundle), stored as
 * "pem:" values in id.cert / id.ca where OpenZiti looks; without --set,
 * print the stored certificate. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"

#define PEM_FILE_MAX (1024 * 1024)

static const char usage[] =
    "usage: tpmid cert NAME [--ca-only]\n"
    "       tpmid cert NAME --set CERT.pem [--ca CA.pem]\n"
    "\n"
    "Without --set, print identity NAME's certificate (PEM).\n"
    "With --set, attach CERT.pem (refused unless its public key is the\n"
    "identity's) and, with --ca, the CA bundle CA.pem (one or more PEM\n"
    "certificates). Both are stored in the identity file as \"pem:\" values of\n"
    "id.cert and id.ca; other fields of the file are kept.\n"
    "\n"
    "  --set CERT.pem  the certificate to attach\n"
    "  --ca CA.pem     the CA bundle to attach with it\n"
    "  --ca-only       print the stored CA bundle instead of the certificate\n"
    "  --help          show this help\n";

int
cmd_cert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'c' },
		{ "ca-only", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_SET_CERT };
	struct wire_reply rep;
	struct id_info info = { 0 };
	const char *name, *set = NULL, *ca = NULL;
	uint8_t *cert_pem = NULL, *ca_pem = NULL;
	size_t len = 0;
	char *norm = NULL;
	int c, r, ca_only = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			set = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'C':
			ca_only = 1;
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
	if (ca != NULL && set == NULL)
		return cli_usage_error(argv[0], "--ca needs --set CERT.pem");
	if (ca_only && set != NULL)
		return cli_usage_error(argv[0], "--ca-only prints; it does not go with --set");
	if (set != NULL) {
		if ((r = read_file(set, PEM_FILE_MAX, &cert_pem, &len)) != 0)
			return cli_fail(r, "cert '%s'", name);
		if (ca != NULL && (r = read_file(ca, PEM_FILE_MAX, &ca_pem, &len)) != 0) {
			r = cli_fail(r, "cert '%s'", name);
			goto out;
		}
		if (ca != NULL && (r = x509_bundle_normalize((char *)ca_pem, &norm)) != 0) {
			r = cli_fail(r, "cert '%s': %s", name, ca);
			goto out;
		}
	}
	if ((r = cli_backend(&b)) != 0) {
		r = cli_fail(r, "cert '%s'", name);
		goto out;
	}
	if ((r = backend_info(&b, name, &info)) != 0) {
		r = cli_fail(r, "cert '%s'", name);
		goto out;
	}
	if (set == NULL) {
		const char *p = ca_only ? info.ca_pem : info.cert_pem;
		if (p == NULL) {
			r = cli_fail(tpmid_seterr(TPMID_E_NOENT, "no %s attached (use 'tpmid cert %s "
			    "--set CERT.pem')", ca_only ? "CA bundle" : "certificate", name),
			    "cert '%s'", name);
			goto out;
		}
		if ((r = cli_write_output(NULL, p, strlen(p), 0644, 0)) != 0)
			r = cli_fail(r, "cert '%s'", name);
		goto out;
	}
	/* Checked here too so the message names the file, agent or not. */
	if ((r = x509_cert_matches_spki((char *)cert_pem, info.spki, info.spki_len)) != 0) {
		if (r == TPMID_E_MISMATCH)
			tpmid_seterr(r, "%s does not match identity '%s' (it certifies another "
			    "public key)", set, name);
		else
			tpmid_err_prefix("%s", set);
		r = cli_fail(r, "cert '%s'", name);
		goto out;
	}
	q.name = (char *)name;
	q.cert_pem = (char *)cert_pem;
	q.ca_pem = (char *)ca_pem;
	r = backend_call(&b, &q, &rep);
	wire_reply_clear(&rep);
	if (r != 0) {
		r = cli_fail(r, "cert '%s'", name);
		goto out;
	}
	printf("attached %s%s%s to identity '%s'\n", set, ca ? " and CA bundle " : "",
	    ca ? ca : "", name);
out:
	free(norm);
	free(cert_pem);
	free(ca_pem);
	id_info_clear(&info);
	backend_close(&b);
	return r;
}
