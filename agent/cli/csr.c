/* tpmid csr NAME --subject DN: a PKCS#10 request signed by the TPM key
 * (through the agent when it runs: the request is built here and only the
 * digest travels). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"

static const char usage[] =
    "usage: tpmid csr NAME --subject DN [--san LIST] [--out FILE [--force]]\n"
    "                      [--pin | --pin-file F | --pin-stdin]\n"
    "\n"
    "Write a PKCS#10 certificate request (PEM) for identity NAME, signed in\n"
    "the TPM with ecdsa-with-SHA256 (P-256) or ecdsa-with-SHA384 (P-384).\n"
    "\n"
    "  --subject DN   e.g. \"CN=web,O=Example\\, Inc.,C=DE\": comma-separated\n"
    "                 KEY=VALUE in the order written; '\\' escapes a ',' in a\n"
    "                 value; KEY is CN, O, OU, C, ST, L, DC, UID, emailAddress,\n"
    "                 serialNumber, another OpenSSL name or a dotted OID\n"
    "  --san LIST     subjectAltName, e.g. \"DNS:web.example,IP:192.0.2.1,\n"
    "                 URI:spiffe://example/web,email:ops@example.org\"\n"
    "  --out FILE     write to FILE instead of standard output; an existing\n"
    "                 file is not replaced\n"
    "  --force        replace FILE if it exists\n"
    "  --pin, --pin-file F, --pin-stdin\n"
    "                 the key's PIN (see 'tpmid sign --help')\n"
    "  --help         show this help\n";

struct csr_sign {
	struct backend *b;
	const char *name;
	const struct secret *pin;
};

static int
csr_sign_cb(void *ctx, const uint8_t *dg, size_t dg_len, uint8_t **ret_der, size_t *ret_len)
{
	struct csr_sign *s = ctx;

	return backend_sign_digest(s->b, s->name, dg, dg_len, s->pin, ret_der, ret_len);
}

int
cmd_csr(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 'S' },
		{ "san", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'F' },
		CLI_PIN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_pin_opt po = { 0 };
	struct backend b = { 0 };
	struct id_info info = { 0 };
	struct csr_sign cs;
	_cleanup_secret_ struct secret *pin = NULL;
	const char *name, *subject = NULL, *san = NULL, *out_path = NULL;
	X509_NAME *nm = NULL;
	GENERAL_NAMES *gens = NULL;
	char *pem = NULL, prompt[128];
	int c, r, force = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			subject = optarg;
			break;
		case 'a':
			san = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'F':
			force = 1;
			break;
		case CLI_PIN_PROMPT:
		case CLI_PIN_FILE:
		case CLI_PIN_STDIN:
			if ((r = cli_pin_opt_set(argv[0], &po, c, optarg)) != 0)
				return r;
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
	if (subject == NULL)
		return cli_usage_error(argv[0], "--subject DN is required");
	/* Bad input is a usage error, found before the TPM is touched. */
	if ((r = x509_parse_subject(subject, &nm)) != 0)
		return cli_usage_error(argv[0], "--subject: %s", tpmid_errmsg(r));
	X509_NAME_free(nm);
	if (san != NULL) {
		if ((r = x509_parse_san(san, &gens)) != 0)
			return cli_usage_error(argv[0], "--san: %s", tpmid_errmsg(r));
		GENERAL_NAMES_free(gens);
	}
	if ((r = cli_check_output(out_path, force)) != 0)
		return cli_fail(r, "csr '%s'", name);
	snprintf(prompt, sizeof(prompt), "PIN for '%s': ", name);
	if ((r = cli_pin_get(&po, prompt, 0, &pin)) != 0)
		return cli_fail(r, "csr '%s'", name);
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "csr '%s'", name);
	if ((r = backend_info(&b, name, &info)) != 0) {
		r = cli_fail(r, "csr '%s'", name);
		goto out;
	}
	if ((r = cli_pin_for_sign(&info, prompt, &pin)) != 0) {
		r = cli_fail(r, "csr '%s'", name);
		goto out;
	}
	cs.b = &b;
	cs.name = name;
	cs.pin = pin;
	if ((r = x509_csr_make(info.spki, info.spki_len, info.alg, subject, san, csr_sign_cb, &cs,
	    &pem)) != 0) {
		r = cli_fail(cli_pin_explain(&b, name, r), "csr '%s'", name);
		goto out;
	}
	if ((r = cli_write_output(out_path, pem, strlen(pem), 0644, !force)) != 0)
		r = cli_fail(r, "csr '%s'", name);
out:
	free(pem);
	id_info_clear(&info);
	backend_close(&b);
	return r;
}
