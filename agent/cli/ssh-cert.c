/* tpmid ssh-cert NAME [--set CERT.pub]: attach an
 * OpenSSH certificate (PROTOCOL.certkeys) to an identity, or print the one
 * it has. The agent then offers the certificate next to the plain key, so
 * sshd with TrustedUserCAKeys accepts the identity without authorized_keys.
 * The engine refuses a certificate that certifies another key. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/format/sshwire.h"
#include "common/err.h"
#include "common/util.h"

#define SSH_CERT_FILE_MAX (64 * 1024)

static const char usage[] =
    "usage: tpmid ssh-cert NAME [--set CERT.pub]\n"
    "\n"
    "Without options, print identity NAME's OpenSSH certificate line.\n"
    "\n"
    "  --set FILE  attach the OpenSSH certificate in FILE (e.g. made with\n"
    "              'ssh-keygen -s CA -I ID -n PRINCIPALS NAME.pub'); refused\n"
    "              unless it certifies NAME's key. '-' reads standard input\n"
    "  --help      show this help\n";

/* The first non-blank, non-comment line of a -cert.pub file. */
static int
first_line(const uint8_t *text, size_t len, char **ret)
{
	const char *p = (const char *)text, *end = p + len, *e;

	*ret = NULL;
	while (p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p < e && *p != '#') {
			if ((*ret = strndup(p, (size_t)(e - p))) == NULL)
				return TPMID_E_NOMEM;
			(*ret)[strcspn(*ret, "\r")] = '\0';
			return 0;
		}
		p = e + 1;
	}
	return tpmid_seterr(TPMID_E_FORMAT, "no OpenSSH certificate line found");
}

int
cmd_ssh_cert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request q = { .type = WIRE_REQ_SET_SSH_CERT };
	struct wire_reply rep;
	struct id_info info = { 0 };
	const char *name, *set = NULL;
	uint8_t *text = NULL, *blob = NULL;
	size_t text_len = 0, blob_len = 0;
	char *line = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			set = optarg;
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

	if (set != NULL) {
		/* Check the file before touching the backend, so a wrong file
		 * is reported as such (with its name) whichever backend runs. */
		r = strcmp(set, "-") == 0 ? read_fd(0, SSH_CERT_FILE_MAX, &text, &text_len) :
		    read_file(set, SSH_CERT_FILE_MAX, &text, &text_len);
		if (r != 0)
			return cli_fail(r, "ssh-cert '%s': %s", name, set);
		if ((r = first_line(text, text_len, &line)) != 0 ||
		    (r = sshwire_line_blob(line, &blob, &blob_len)) != 0) {
			r = cli_fail(r, "ssh-cert '%s': %s", name, set);
			goto out;
		}
		if ((r = cli_backend(&b)) != 0) {
			r = cli_fail(r, "ssh-cert '%s'", name);
			goto out;
		}
		q.name = (char *)name;
		q.line = line;
		r = backend_call(&b, &q, &rep);
		wire_reply_clear(&rep);
		if (r != 0) {
			r = cli_fail(r, "ssh-cert '%s': %s", name, set);
			goto out;
		}
		r = 0;
		goto out;
	}

	if ((r = cli_backend(&b)) != 0)
		return cli_fail(r, "ssh-cert '%s'", name);
	if ((r = backend_info(&b, name, &info)) != 0) {
		r = cli_fail(r, "ssh-cert '%s'", name);
		goto out;
	}
	if (info.ssh_cert == NULL) {
		fprintf(stderr, "tpmid: ssh-cert '%s': no OpenSSH certificate attached (use "
		    "'tpmid ssh-cert %s --set FILE')\n", name, name);
		r = 1;
		goto out;
	}
	printf("%s\n", info.ssh_cert);
	r = fflush(stdout) == 0 ? 0 : cli_fail(TPMID_E_IO, "ssh-cert '%s': writing output",
	    name);
out:
	free(blob);
	free(line);
	free(text);
	id_info_clear(&info);
	backend_close(&b);
	return r;
}
