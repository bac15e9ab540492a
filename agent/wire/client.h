/* Client side of the agent socket: used by the CLI (backend_agent_ops) and,
 * later, the PKCS#11 shim. One connection, requests answered in order. */
#ifndef TPMID_AGENT_CLIENT_H
#define TPMID_AGENT_CLIENT_H

#include "agent/engine/engine.h"

struct client;

/* Default socket path: $TPMID_SOCKET, else $XDG_RUNTIME_DIR/tpmid/agent.sock,
 * else /run/user/<uid>/tpmid/agent.sock. Fresh string. */
char *client_default_socket(void);
/* Connect; TPMID_E_NOAGENT if nothing listens at `path` (NULL: default). */
int client_connect(const char *path, struct client **ret);
void client_free(struct client *c);

struct proto_request;
struct proto_reply;
/* Send one request and read its reply (agent/proto.h). 0 with `ret`
 * filled (free with proto_reply_clear()); a failure reply returns the
 * agent's TPMID_E_* code with its message in tpmid_errmsg(). */
int client_call(struct client *c, const struct proto_request *q, struct proto_reply *ret);

#endif
