/* The CLI's view of "where identities live": the agent over its socket when
 * it answers, the engine in-process otherwise. Same operations, same
 * results, so every command prints the same either way. */
#ifndef TPMID_AGENT_BACKEND_H
#define TPMID_AGENT_BACKEND_H

#include "agent/engine/engine.h"

struct backend_ops {
	const char *kind; /* "agent" or "direct" */
	int (*list)(void *ctx, struct id_info **ret, size_t *ret_n);
	int (*info)(void *ctx, const char *name, struct id_info *ret);
	int (*identity_json)(void *ctx, const char *name, char **ret);
	int (*sign_digest)(void *ctx, const char *name, const uint8_t *dg, size_t len,
	    const struct secret *pin, uint8_t **ret_der, size_t *ret_len);
	int (*keygen)(void *ctx, const char *name, enum tpmid_curve alg,
	    const struct secret *pin, enum engine_persist persist, uint32_t handle,
	    struct id_info *ret);
	int (*import)(void *ctx, const char *name, const uint8_t *data, size_t len,
	    const struct secret *pin, struct id_info *ret);
	int (*delete)(void *ctx, const char *name);
	int (*unlock)(void *ctx, const char *name, const struct secret *pin, unsigned timeout_s);
	int (*lock)(void *ctx, const char *name);
	int (*set_cert)(void *ctx, const char *name, const char *cert_pem, const char *ca_pem);
	int (*set_ssh_cert)(void *ctx, const char *name, const char *line);
	int (*status)(void *ctx, struct engine_status *ret);
	void (*close)(void *ctx);
};

struct backend {
	const struct backend_ops *ops;
	void *ctx;
};

struct backend_opts {
	const char *socket;   /* NULL: $TPMID_SOCKET, else the default path */
	const char *tcti;
	const char *store_dir;
	int direct;           /* 1: never use the agent */
	int agent_only;       /* 1: fail if the agent does not answer */
};

/* Connect to the agent if its socket answers, else open the engine. */
int backend_open(const struct backend_opts *o, struct backend *ret);
void backend_close(struct backend *b);

/* The backends themselves (engine.c / client.c). */
extern const struct backend_ops backend_direct_ops;
extern const struct backend_ops backend_agent_ops;

#endif
