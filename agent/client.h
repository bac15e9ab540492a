/* Client side of the agent socket: used by the CLI (backend_agent_ops) and,
 * later, the PKCS#11 shim. One connection, requests answered in order. */
#ifndef TPMID_AGENT_CLIENT_H
#define TPMID_AGENT_CLIENT_H

#include "agent/engine.h"

struct client;

/* Default socket path: $TPMID_SOCKET, else $XDG_RUNTIME_DIR/tpmid/agent.sock,
 * else /run/user/<uid>/tpmid/agent.sock. Fresh string. */
char *client_default_socket(void);
/* Connect; TPMID_E_NOAGENT if nothing listens at `path` (NULL: default). */
int client_connect(const char *path, struct client **ret);
void client_free(struct client *c);

#endif
