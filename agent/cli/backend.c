/* backend_open(): the agent when its socket answers, else the engine
 * in-process (backend.h). The commands never need to know which. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/cli/backend.h"
#include "common/err.h"
#include "store/store.h"

/* The value the user gave for a setting, and where: the option, else the
 * environment variable; NULL when neither (the default applies). */
static const char *
explicit_value(const char *opt, const char *optname, const char *var, const char **ret_src)
{
	const char *e;

	if (opt != NULL) {
		*ret_src = optname;
		return opt;
	}
	if ((e = getenv(var)) != NULL && *e != '\0') {
		*ret_src = var;
		return e;
	}
	return NULL;
}

static int
mismatch(const struct backend_opts *o, const char *what, const char *src, const char *want,
    const char *have)
{
	char *sock = o->socket != NULL ? strdup(o->socket) : client_default_socket();
	int r;

	if (*have == '\0')
		r = tpmid_seterr(TPMID_E_INVAL, "%s names %s %s, but the agent at %s does not "
		    "show this user its %s; use --direct to open %s without the agent",
		    src, what, want, sock ? sock : "?", what, want);
	else
		r = tpmid_seterr(TPMID_E_INVAL, "%s names %s %s, but the agent at %s serves %s %s; "
		    "use --direct to open %s without the agent, or --socket for an agent "
		    "that serves it", src, what, want, sock ? sock : "?", what, have, want);
	free(sock);
	return r;
}

/* An agent serves its own store and TPM. When the user named a store or a
 * TPM (option or environment), they must be the agent's, or the command
 * would quietly act on ones the user did not ask for: a key made in the
 * agent's store when another was named. */
static int
agent_matches(const struct backend_opts *o, struct client *c)
{
	struct wire_request q = { .type = WIRE_REQ_STATUS };
	struct wire_reply rep;
	const char *tcti, *store, *tsrc = NULL, *ssrc = NULL;
	char *dir = NULL;
	int r;

	tcti = explicit_value(o->tcti, "--tcti", "TPMID_TCTI", &tsrc);
	store = explicit_value(o->store_dir, "--store", "TPMID_STORE", &ssrc);
	if (tcti == NULL && store == NULL)
		return 0;
	if ((r = client_call(c, &q, &rep)) < 0)
		return r;
	if (store != NULL && (r = store_resolve_dir(store, &dir)) == 0 &&
	    strcmp(dir, rep.status.store) != 0)
		r = mismatch(o, "store", ssrc, dir, rep.status.store);
	if (r == 0 && tcti != NULL && strcmp(tcti, rep.status.tcti) != 0)
		r = mismatch(o, "TPM", tsrc, tcti, rep.status.tcti);
	free(dir);
	wire_reply_clear(&rep);
	return r;
}

int
backend_open(const struct backend_opts *o, struct backend *ret)
{
	struct engine_cfg cfg;
	const char *env;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!o->direct) {
		r = client_connect(o->socket, &ret->client);
		if (r == 0 && (r = agent_matches(o, ret->client)) < 0) {
			client_free(ret->client);
			ret->client = NULL;
			return r;
		}
		if (r == 0)
			return 0;
		/* Only "nobody listens" falls back: an agent that answers but
		 * fails must not be silently bypassed (it owns the TPM). */
		if (r != TPMID_E_NOAGENT || o->agent_only)
			return r;
		/* Nor an agent the user named: opening the TPM and the store
		 * here instead would put keys where the user did not ask
		 * (contrib/sshd's host key in root's own store). */
		if (o->socket != NULL || ((env = getenv("TPMID_SOCKET")) != NULL && *env != '\0'))
			return tpmid_seterr(r, "%s (named by %s); start the agent there, or use "
			    "--direct to open the TPM without it", tpmid_errmsg(r),
			    o->socket != NULL ? "--socket" : "TPMID_SOCKET");
		tpmid_clearerr();
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.tcti = o->tcti;
	cfg.store_dir = o->store_dir;
	/* Commands like list and pubkey need no TPM at all, nor a store
	 * they could write. */
	cfg.lazy_tpm = 1;
	cfg.store_lazy = 1;
	return engine_new(&cfg, &ret->engine);
}

void
backend_close(struct backend *b)
{
	if (b == NULL)
		return;
	client_free(b->client);
	engine_free(b->engine);
	memset(b, 0, sizeof(*b));
}

int
backend_call(struct backend *b, const struct wire_request *q, struct wire_reply *ret)
{
	int r;

	if (b->client != NULL)
		return client_call(b->client, q, ret);
	r = engine_call(b->engine, q, ret);
	/* Without a resource manager every process shares the TPM's few
	 * object slots (3 on swtpm), and an agent keeps its keys loaded. */
	if (r == TPMID_E_TPM_MEMORY)
		r = tpmid_seterr(r, "%s; opened directly (%s), this process shares the TPM's "
		    "object slots with every other TPM client, an agent's loaded keys "
		    "included: use the agent (without --direct), or a resource manager "
		    "(device:/dev/tpmrm0, or tpm2-abrmd with --tcti tabrmd)",
		    tpmid_errmsg(r), engine_tcti(b->engine));
	return r;
}

int
backend_info(struct backend *b, const char *name, struct id_info *ret)
{
	struct wire_request q = { .type = WIRE_REQ_INFO, .name = (char *)name };
	struct wire_reply rep;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = backend_call(b, &q, &rep)) < 0)
		return r;
	*ret = rep.info;
	memset(&rep.info, 0, sizeof(rep.info));
	wire_reply_clear(&rep);
	return 0;
}

int
backend_sign_digest(struct backend *b, const char *name, const uint8_t *dg, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	struct wire_request q = {
		.type = WIRE_REQ_SIGN_DIGEST, .name = (char *)name,
		.data = (uint8_t *)(uintptr_t)dg, .data_len = len,
		.pin = (struct secret *)(uintptr_t)pin,
	};
	struct wire_reply rep;
	int r;

	*ret_der = NULL;
	*ret_len = 0;
	if ((r = backend_call(b, &q, &rep)) < 0)
		return r;
	*ret_der = rep.der;
	*ret_len = rep.der_len;
	rep.der = NULL;
	wire_reply_clear(&rep);
	return 0;
}
