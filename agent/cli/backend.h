/* The CLI's two ways to reach identities: the agent over its socket when
 * it answers, the engine in this process otherwise. Both take the same
 * requests (agent/wire/requests.h) and give the same replies, so every
 * command prints the same either way. */
#ifndef TPMID_CLI_BACKEND_H
#define TPMID_CLI_BACKEND_H

#include "agent/engine/engine.h"
#include "agent/wire/client.h"
#include "agent/wire/wire.h"

struct backend {
	struct client *client; /* the agent, when it answered */
	struct engine *engine; /* else the engine, in this process */
};

struct backend_opts {
	const char *socket;   /* NULL: $TPMID_SOCKET, else the default path */
	const char *tcti;
	const char *store_dir;
	int direct;           /* 1: never use the agent */
	int agent_only;       /* 1: fail if the agent does not answer */
};

/* Connect to the agent if its socket answers, else open the engine (which
 * touches the TPM only when a request needs it). A socket the user named
 * (`socket`, or $TPMID_SOCKET) must answer: only the default one falls
 * back (TPMID_E_NOAGENT otherwise, saying to use --direct). A store or TPM
 * the user named (`store_dir`/`tcti` or $TPMID_STORE/$TPMID_TCTI) must be
 * the agent's (TPMID_E_INVAL otherwise, naming both). */
int backend_open(const struct backend_opts *o, struct backend *ret);
void backend_close(struct backend *b);

static inline int
backend_is_agent(const struct backend *b)
{
	return b->client != NULL;
}

/* One request, one reply (free with wire_reply_clear()); errors as the
 * agent or the engine reported them (tpmid_errmsg()). */
int backend_call(struct backend *b, const struct wire_request *q, struct wire_reply *ret);

/* The calls most commands make, without building a request. */
int backend_info(struct backend *b, const char *name, struct id_info *ret);
int backend_sign_digest(struct backend *b, const char *name, const uint8_t *dg, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len);

#endif
