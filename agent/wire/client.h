/* Client side of the agent socket: what the CLI and any other program
 * that talks to tpmid-agent use (PROTOCOL.md section 6). One connection,
 * requests answered in order; dialled again when the agent closed it
 * between requests (idle timeout, restart). */
#ifndef TPMID_WIRE_CLIENT_H
#define TPMID_WIRE_CLIENT_H

#include "agent/wire/wire.h"

struct client;

/* Default socket path: $TPMID_SOCKET, else $XDG_RUNTIME_DIR/tpmid/agent.sock,
 * else /run/user/<uid>/tpmid/agent.sock when that directory exists, else
 * ${TMPDIR:-/tmp}/tpmid-<uid>/agent.sock. Fresh string, NULL without
 * memory. */
char *client_default_socket(void);
/* Connect to `path` (NULL: the default) and check who listens before
 * anything is sent (PROTOCOL.md section 6). 0 with `*ret` set;
 * TPMID_E_NOAGENT if nothing listens, TPMID_E_PERM if the socket or the
 * agent behind it is refused, TPMID_E_IO otherwise; the detail names the
 * path. */
int client_connect(const char *path, struct client **ret);
void client_free(struct client *c);

/* Send one request and read its reply. 0 with `ret` filled (free with
 * wire_reply_clear()); a failure reply returns the agent's TPMID_E_* code
 * with its message in tpmid_errmsg(); TPMID_E_AGENT for a timeout, a lost
 * connection or a malformed reply, after which the client is unusable. */
int client_call(struct client *c, const struct wire_request *q, struct wire_reply *ret);

#endif
