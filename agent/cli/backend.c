/* backend_open(): the agent when its socket answers, else the engine
 * in-process (backend.h). The CLI never needs to know which. */
#include "config.h"

#include <string.h>

#include "agent/cli/backend.h"
#include "agent/wire/client.h"
#include "agent/engine/engine.h"
#include "common/err.h"

int
backend_open(const struct backend_opts *o, struct backend *ret)
{
	struct engine_cfg cfg;
	struct client *c = NULL;
	struct engine *e = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!o->direct) {
		r = client_connect(o->socket, &c);
		if (r == 0) {
			ret->ops = &backend_agent_ops;
			ret->ctx = c;
			return 0;
		}
		/* Only "nobody listens" falls back: an agent that answers but
		 * fails must not be silently bypassed (it owns the TPM). */
		if (r != TPMID_E_NOAGENT || o->agent_only)
			return r;
		tpmid_clearerr();
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.tcti = o->tcti;
	cfg.store_dir = o->store_dir;
	/* Commands like list and pubkey need no TPM at all. */
	cfg.lazy_tpm = 1;
	if ((r = engine_new(&cfg, &e)) != 0)
		return r;
	ret->ops = &backend_direct_ops;
	ret->ctx = e;
	return 0;
}

void
backend_close(struct backend *b)
{
	if (b == NULL || b->ops == NULL)
		return;
	b->ops->close(b->ctx);
	b->ops = NULL;
	b->ctx = NULL;
}
