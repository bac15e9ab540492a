/* tpmid sign NAME --in FILE: a DER ECDSA signature over FILE's hash
 * (SHA-256 for P-256, SHA-384 for P-384), or over FILE itself as the
 * digest with --digest. Verifiable with
 * `openssl dgst -sha256 -verify pub.pem -signature SIG FILE`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/cli/cli.h"
#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"

static const char usage[] =
    "usage: tpmid sign NAME --in FILE [--digest] [--out SIG [--force]]\n"
    "                       [--pin | --pin-file F | --pin-stdin]\n"
    "\n"
    "Sign FILE with identity NAME's key in the TPM and write the DER ECDSA\n"
    "signature (as 'openssl dgst -verify' and 'openssl pkeyutl' expect).\n"
    "FILE is hashed with SHA-256 (P-256 keys) or SHA-384 (P-384 keys).\n"
    "\n"
    "  --in FILE          the data to sign ('-' for standard input)\n"
    "  --digest           FILE is already the digest (32 or 48 bytes)\n"
    "  --out SIG          write the signature to SIG (default: standard output,\n"
    "                     which must not be a terminal); an existing file\n"
    "                     is not replaced\n"
    "  --force            replace SIG if it exists\n"
    "  --pin              ask for the PIN on the terminal (or SSH_ASKPASS)\n"
    "  --pin-file F       the PIN is the first line of F\n"
    "  --pin-stdin        the PIN is the first line of standard input\n"
    "  --help             show this help\n"
    "A PIN key without a PIN option uses the PIN the agent holds ('tpmid\n"
    "unlock'), else asks on the terminal when there is one.\n";

static int
hash_file(const char *path, const struct curve_info *c, uint8_t *dg, size_t *dg_len)
{
	EVP_MD_CTX *md = NULL;
	uint8_t buf[65536];
	unsigned int n = 0;
	ssize_t got;
	int fd, r = TPMID_E_NOMEM;

	*dg_len = 0;
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return tpmid_seterr(errno == ENOENT ? TPMID_E_NOENT : TPMID_E_IO, "%s: %s", path,
		    strerror(errno));
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, ec_md(c), NULL) != 1)
		goto out;
	for (;;) {
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = tpmid_seterr(TPMID_E_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, dg, &n) != 1)
		goto out;
	*dg_len = n;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}

int
cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "in", required_argument, NULL, 'i' },
		{ "digest", no_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'F' },
		CLI_PIN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_pin_opt po = { 0 };
	struct backend b = { 0 };
	struct id_info info = { 0 };
	_cleanup_secret_ struct secret *pin = NULL;
	const char *name, *in = NULL, *out_path = NULL;
	uint8_t dg[EVP_MAX_MD_SIZE], *raw = NULL, *sig = NULL;
	size_t dg_len = 0, raw_len = 0, sig_len = 0;
	const struct curve_info *curve;
	char prompt[128];
	int c, r, digest = 0, force = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			in = optarg;
			break;
		case 'd':
			digest = 1;
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
	if (in == NULL)
		return cli_usage_error(argv[0], "--in FILE is required");
	if (po.from_stdin && strcmp(in, "-") == 0)
		return cli_usage_error(argv[0], "--pin-stdin and --in - both want standard input");
	if ((out_path == NULL || strcmp(out_path, "-") == 0) && cli_stdout_is_tty())
		return cli_usage_error(argv[0], "refusing to write a binary signature to a "
		    "terminal: use --out SIG or redirect standard output");
	if ((r = cli_check_output(out_path, force)) != 0)
		return cli_fail(r, "sign '%s'", name);
	snprintf(prompt, sizeof(prompt), "PIN for '%s': ", name);
	if ((r = cli_pin_get(&po, prompt, 0, &pin)) != 0)
		return cli_fail(r, "sign '%s'", name);
	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "sign '%s'", name);
	if ((r = backend_info(&b, name, &info)) != 0) {
		r = cli_fail(r, "sign '%s'", name);
		goto out;
	}
	if ((curve = curve_get(info.alg)) == NULL) {
		r = cli_fail(tpmid_seterr(TPMID_E_CURVE, "unknown key algorithm"), "sign '%s'",
		    name);
		goto out;
	}
	if (digest) {
		if ((r = read_file(in, 16384, &raw, &raw_len)) != 0) {
			r = cli_fail(r, "sign '%s'", name);
			goto out;
		}
		if (raw_len != curve->digest_len) {
			r = cli_fail(tpmid_seterr(TPMID_E_INVAL, "%s is %zu bytes; a %s digest for "
			    "%s is %zu bytes", in, raw_len, curve->hash_nist, curve->name,
			    curve->digest_len),
			    "sign '%s'", name);
			goto out;
		}
		memcpy(dg, raw, raw_len);
		dg_len = raw_len;
	} else if ((r = hash_file(in, curve, dg, &dg_len)) != 0) {
		r = cli_fail(r, "sign '%s'", name);
		goto out;
	}
	if ((r = cli_pin_for_sign(&info, prompt, &pin)) != 0) {
		r = cli_fail(r, "sign '%s'", name);
		goto out;
	}
	r = backend_sign_digest(&b, name, dg, dg_len, pin, &sig, &sig_len);
	if (cli_pin_explain(&b, name, r) != 0) {
		r = cli_fail(r, "sign '%s'", name);
		goto out;
	}
	if ((r = cli_write_output(out_path, sig, sig_len, 0644, !force)) != 0)
		r = cli_fail(r, "sign '%s'", name);
out:
	free(raw);
	free(sig);
	id_info_clear(&info);
	backend_close(&b);
	return r;
}
