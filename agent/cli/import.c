/* tpmid import NAME --key FILE: an existing key wrapped into the TPM.
 *
 * OpenSSH private keys are decrypted here (asking for the passphrase like
 * ssh-keygen) and passed on as PKCS#8 DER; PEM/DER EC keys and TSS2 PRIVATE
 * KEY files go to the backend as they are. Every copy of the key material
 * this process holds is wiped. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/cli/cli.h"
#include "agent/format/ec.h"
#include "agent/format/sshkey.h"
#include "common/err.h"
#include "common/util.h"
#include "store/keyfile.h"
#include "tss/tpm.h"

#define KEY_FILE_MAX (64 * 1024)
#define PASSPHRASE_TRIES 3

static const char usage[] =
    "usage: tpmid import NAME --key FILE [--no-pin | --pin | --pin-file F | --pin-stdin]\n"
    "                    [--force]\n"
    "\n"
    "Import an existing private key into the TPM as identity NAME. FILE is\n"
    "  - an EC private key, P-256 or P-384: PEM or DER, PKCS#8 or SEC1\n"
    "    (as made by 'openssl genpkey' or 'openssl ecparam -genkey'),\n"
    "  - an OpenSSH private key (ssh-keygen -t ecdsa); the passphrase is asked\n"
    "    for on the terminal (or SSH_ASKPASS) when it is encrypted,\n"
    "  - a TSS2 PRIVATE KEY file made under this TPM's storage root key\n"
    "    (tpm2-openssl, ssh-tpm-agent...), kept as it is with its own auth.\n"
    "The TPM wraps the key; FILE is not changed, remove it yourself when done.\n"
    "\n"
    "  --key FILE         the key to import ('-' for standard input)\n"
    "  --no-pin           the imported key needs no PIN (the default)\n"
    "  --pin              ask for a new PIN twice on the terminal (or SSH_ASKPASS)\n"
    "  --pin-file FILE    the new PIN is the first line of FILE (at most " TPMID_STR(TPMID_PIN_MAX) " bytes)\n"
    "  --pin-stdin        the new PIN is the first line of standard input\n"
    "  --force            import a key the store already holds under another\n"
    "                     name (ssh then offers both and may pick either)\n"
    "  --help             show this help\n";

/* Decrypt an OpenSSH key, asking for its passphrase when it has one. */
static int
openssh_to_pkcs8(const char *path, const uint8_t *text, size_t len, uint8_t **ret,
    size_t *ret_len)
{
	struct secret *pass = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char *der = NULL;
	char prompt[512];
	int n = 0, tries = 0, r;

	*ret = NULL;
	*ret_len = 0;
	snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", path);
	for (;;) {
		r = sshkey_parse_private(text, len, pass, &pk, NULL);
		secret_free(pass);
		pass = NULL;
		if (r == 0)
			break;
		if (r == TPMID_E_BADPIN) {
			if (++tries >= PASSPHRASE_TRIES)
				return tpmid_seterr(r, "%s: wrong passphrase", path);
			fprintf(stderr, "Bad passphrase, try again.\n");
		} else if (r != TPMID_E_NEEDPIN) {
			tpmid_err_prefix("%s", path);
			return r;
		}
		if ((r = cli_prompt_secret(prompt, &cli_passphrase, 0, &pass)) != 0)
			return r;
	}
	r = TPMID_E_NOMEM;
	if ((p8 = EVP_PKEY2PKCS8(pk)) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0)
		goto out;
	if ((*ret = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(*ret, der, (size_t)n);
	*ret_len = (size_t)n;
	r = 0;
out:
	if (der != NULL && n > 0)
		OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pk);
	return r;
}

/* The public key (DER SubjectPublicKeyInfo) of the key in `text`: an EC
 * private key, or a TSS2 key file's public area. */
static int
import_spki(const uint8_t *text, size_t len, uint8_t **ret, size_t *ret_len)
{
	struct keyfile *kf = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char *der = NULL;
	int n, r;

	*ret = NULL;
	*ret_len = 0;
	if (keyfile_is_pem((const char *)text, len)) {
		if ((r = keyfile_parse_pem((const char *)text, len, &kf)) == 0)
			r = tpm_blob_public(kf->pub, kf->pub_len, NULL, &pk, NULL);
		keyfile_free(kf);
	} else
		r = ec_privkey_decode(text, len, &pk);
	if (r != 0)
		return r;
	if ((n = i2d_PUBKEY(pk, &der)) <= 0)
		r = TPMID_E_NOMEM;
	else {
		*ret = der;
		*ret_len = (size_t)n;
	}
	EVP_PKEY_free(pk);
	return r;
}

/* Two identities with one key: ssh offers the key once per identity and
 * signs with whichever it picks, so a PIN on one copy and not the other
 * fails as "agent refused operation". Refused unless --force, naming the
 * identity that holds it. An unreadable key is left to the backend to
 * report. */
static int
check_not_held(struct backend *b, const uint8_t *text, size_t len)
{
	struct wire_request q = { .type = WIRE_REQ_LIST };
	struct wire_reply rep = { 0 };
	uint8_t *spki = NULL;
	size_t spki_len = 0, i;
	int r;

	if (import_spki(text, len, &spki, &spki_len) != 0) {
		tpmid_clearerr();
		return 0;
	}
	if ((r = backend_call(b, &q, &rep)) == 0)
		for (i = 0; i < rep.n_list; i++)
			if (rep.list[i].spki != NULL && rep.list[i].spki_len == spki_len &&
			    memcmp(rep.list[i].spki, spki, spki_len) == 0) {
				r = tpmid_seterr(TPMID_E_EXISTS, "the store already holds this key "
				    "as identity '%s' (use --force to import it again)",
				    rep.list[i].name);
				break;
			}
	OPENSSL_free(spki);
	wire_reply_clear(&rep);
	return r;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "no-pin", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'F' },
		CLI_PIN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_pin_opt po = { 0 };
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_IMPORT };
	struct wire_reply rep = { 0 };
	_cleanup_secret_ struct secret *pin = NULL;
	const char *name, *key = NULL;
	uint8_t *text = NULL, *der = NULL;
	size_t text_len = 0, der_len = 0;
	char prompt[128];
	int c, r, no_pin = 0, force = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'n':
			no_pin = 1;
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
	if (key == NULL)
		return cli_usage_error(argv[0], "--key FILE is required");
	if (no_pin && (po.file || po.from_stdin || po.prompt))
		return cli_usage_error(argv[0], "--no-pin conflicts with a PIN option");
	if (po.from_stdin && strcmp(key, "-") == 0)
		return cli_usage_error(argv[0], "--pin-stdin and --key - both want standard input");
	if ((r = read_file(key, KEY_FILE_MAX, &text, &text_len)) != 0) {
		r = cli_fail(r, "import '%s'", name);
		goto out;
	}
	if (sshkey_is_openssh(text, text_len)) {
		if ((r = openssh_to_pkcs8(key, text, text_len, &der, &der_len)) != 0) {
			r = cli_fail(r, "import '%s'", name);
			goto out;
		}
		freezero(text, text_len);
		text = der;
		text_len = der_len;
		der = NULL;
	}
	if ((r = cli_backend(&b)) != 0 || (r = cli_check_new_name(&b, name)) != 0 ||
	    (!force && (r = check_not_held(&b, text, text_len)) != 0)) {
		r = cli_fail(r, "import '%s' from %s", name, key);
		goto out;
	}
	/* Asked for only once the import can go ahead. */
	snprintf(prompt, sizeof(prompt), "New PIN for '%s': ", name);
	if ((r = cli_pin_get(&po, prompt, 1, &pin)) != 0) {
		r = cli_fail(r, "import '%s'", name);
		goto out;
	}
	q.name = (char *)name;
	q.data = text;
	q.data_len = text_len;
	q.pin = pin;
	if ((r = backend_call(&b, &q, &rep)) != 0) {
		r = cli_fail(r, "import '%s' from %s", name, key);
		goto out;
	}
	printf("imported %s as identity '%s' (%s, %s)\n", key, rep.info.name,
	    curve_name(rep.info.alg), rep.info.pin ? "PIN" : "no PIN");
out:
	freezero(text, text_len);
	wire_reply_clear(&rep);
	backend_close(&b);
	return r;
}
