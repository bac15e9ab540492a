/* libwireprobe.so: a shared object that links the wire room and common/
 * (as the PKCS#11 module will) and exports one function. wire-only.sh
 * loads it into another program (python's ctypes) and checks with nm that
 * nothing else is exported: -fvisibility=hidden and the version script
 * (wireprobe.sym) keep read_file, freezero, client_call... to ourselves. */
#include "config.h"

#include "agent/wire/client.h"
#include "agent/wire/wire.h"
#include "common/util.h"

/* The number of identities the agent at `socket` reports, or a negative
 * TPMID_E_* code. */
TPMID_EXPORT int tpmid_wire_probe(const char *socket);

int
tpmid_wire_probe(const char *socket)
{
	struct wire_request q = { .type = WIRE_REQ_STATUS };
	struct wire_reply rep = { 0 };
	struct client *c = NULL;
	int r;

	if ((r = client_connect(socket, &c)) < 0)
		return r;
	if ((r = client_call(c, &q, &rep)) == 0)
		r = (int)rep.status.identities;
	wire_reply_clear(&rep);
	client_free(c);
	return r;
}
