/* wireclient: a client of tpmid-agent built from agent/wire/ and common/
 * alone (Makefile.am links nothing else), to prove the wire room stands on
 * its own, as the PKCS#11 module will need it to.
 *
 *   wireclient SOCKET status
 *   wireclient SOCKET list
 *   wireclient SOCKET sign NAME DIGEST-FILE SIG-FILE   (sign-digest@tpmid)
 *
 * Exit status 0 on success, 1 with one line on stderr otherwise. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/wire/client.h"
#include "agent/wire/wire.h"
#include "common/err.h"
#include "common/util.h"

static int
fail(int r, const char *what)
{
	fprintf(stderr, "wireclient: %s: %s\n", what, tpmid_errmsg(r));
	return 1;
}

int
main(int argc, char **argv)
{
	struct wire_request q = { 0 };
	struct wire_reply rep = { 0 };
	struct client *c = NULL;
	uint8_t *dg = NULL;
	size_t dg_len = 0, i;
	FILE *f;
	int r, status = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: wireclient SOCKET status|list|sign NAME DIGEST SIG\n");
		return 2;
	}
	if ((r = client_connect(argv[1], &c)) < 0)
		return fail(r, "connect");
	if (strcmp(argv[2], "status") == 0) {
		q.type = WIRE_REQ_STATUS;
		if ((r = client_call(c, &q, &rep)) < 0) {
			status = fail(r, "status");
			goto out;
		}
		printf("tcti %s\nidentities %u\ntpm %s\n", rep.status.tcti, rep.status.identities,
		    rep.status.tpm_ok ? "reachable" : "unreachable");
	} else if (strcmp(argv[2], "list") == 0) {
		q.type = WIRE_REQ_LIST;
		if ((r = client_call(c, &q, &rep)) < 0) {
			status = fail(r, "list");
			goto out;
		}
		for (i = 0; i < rep.n_list; i++)
			printf("%s %s\n", rep.list[i].name, curve_name(rep.list[i].alg));
	} else if (strcmp(argv[2], "sign") == 0 && argc == 6) {
		if ((r = read_file(argv[4], 64, &dg, &dg_len)) < 0) {
			status = fail(r, argv[4]);
			goto out;
		}
		q.type = WIRE_REQ_SIGN_DIGEST;
		q.name = argv[3];
		q.data = dg;
		q.data_len = dg_len;
		if ((r = client_call(c, &q, &rep)) < 0) {
			status = fail(r, "sign");
			goto out;
		}
		if ((f = fopen(argv[5], "wb")) == NULL ||
		    fwrite(rep.der, 1, rep.der_len, f) != rep.der_len || fclose(f) != 0) {
			status = fail(TPMID_E_IO, argv[5]);
			goto out;
		}
	} else {
		fprintf(stderr, "wireclient: unknown command '%s'\n", argv[2]);
		status = 2;
		goto out;
	}
	status = 0;
out:
	wire_reply_clear(&rep);
	free(dg);
	client_free(c);
	return status;
}
