/* The standard ssh-agent messages (draft-miller-ssh-agent), served from
 * the identities in the store with their keys in the TPM.
 *
 *  - REQUEST_IDENTITIES (section 3.4): every identity the peer may use, as
 *    an RFC 5656 ECDSA key blob with the identity name as comment, and its
 *    OpenSSH certificate (PROTOCOL.certkeys) as a second entry.
 *  - SIGN_REQUEST (section 3.6): ECDSA over SHA-256 (P-256) or SHA-384
 *    (P-384), RFC 5656 section 6.2.1, signed in the TPM.
 *  - LOCK/UNLOCK (section 3.7): owner and root only; passphrase compared
 *    in constant time;
 *    after a failed UNLOCK further tries are refused for a growing delay
 *    (without sleeping: the event loop serves everyone else meanwhile).
 *  - ADD_* / REMOVE_* / smartcard messages (sections 3.2, 3.3, 3.5):
 *    refused. tpmid keys never enter or leave the agent in the clear; keys
 *    are added with `tpmid import`, removed with `tpmid delete`.
 *  - EXTENSION (section 3.8): "query" is answered; "session-bind@openssh.com"
 *    (OpenSSH PROTOCOL.agent) is parsed and refused, since tpmid has no
 *    destination-constrained keys to enforce a binding for; anything else
 *    gets SSH_AGENT_FAILURE.
 *
 * A request whose payload does not parse exactly (short, or with trailing
 * bytes) returns a negative code: dispatch closes that connection. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "agent/wire/wire.h"
#include "agent/daemon/sshagent.h"
#include "agent/format/ec.h"
#include "agent/format/sshwire.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

/* draft-miller-ssh-agent section 3.6.1: signature flags. Both are defined
 * for "ssh-rsa" keys only and have no meaning for ECDSA. */
#define SSH_AGENT_RSA_SHA2_256 0x02
#define SSH_AGENT_RSA_SHA2_512 0x04
#define SSH_AGENT_KNOWN_FLAGS (SSH_AGENT_RSA_SHA2_256 | SSH_AGENT_RSA_SHA2_512)

#define SSHAGENT_BLOB_MAX 4096
#define SSHAGENT_LOCK_PASS_MAX 1024
/* Delay after the n-th failed UNLOCK: 100 ms * n, at most 10 s. */
#define SSHAGENT_UNLOCK_DELAY_MS 100
#define SSHAGENT_UNLOCK_DELAY_MAX_MS 10000

/* ---- key blob -> identity cache ------------------------------------------
 *
 * A SIGN_REQUEST names its key by blob. Listing the whole store for each
 * one would parse every identity file per signature, so the blobs seen by
 * the last listing are remembered, and a hit is confirmed against the
 * identity as it is now (engine_info(), which re-reads a changed file):
 * the cache only saves the search, it never decides. A miss or a stale hit
 * relists once. The agent is single-threaded; the cache belongs to the
 * engine it was built from. */
struct blob_ent {
	char name[TPMID_NAME_MAX + 1];
	uint8_t *blob;       /* key or certificate blob */
	size_t len;
	uint8_t *spki;       /* the identity's key when listed */
	size_t spki_len;
	char *ssh_cert;      /* its certificate line (certificate entries) */
};

struct sshagent_cache {
	struct blob_ent *ents;
	size_t n;
};

static void
blob_ent_clear(struct blob_ent *b)
{
	free(b->blob);
	free(b->spki);
	free(b->ssh_cert);
	memset(b, 0, sizeof(*b));
}

static void
cache_clear(struct sshagent_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		blob_ent_clear(&c->ents[i]);
	free(c->ents);
	memset(c, 0, sizeof(*c));
}

void
sshagent_cache_free(struct sshagent_cache *c)
{
	cache_clear(c);
	free(c);
}

static int
cache_add(struct blob_ent **a, size_t *n, size_t *cap, const struct id_info *id,
    const uint8_t *p, size_t len, int is_cert)
{
	struct blob_ent *na, *b;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;

		if ((na = reallocarray(*a, nc, sizeof(*na))) == NULL)
			return TPMID_E_NOMEM;
		*a = na;
		*cap = nc;
	}
	b = &(*a)[*n];
	memset(b, 0, sizeof(*b));
	if ((b->blob = malloc(len)) == NULL || (b->spki = malloc(id->spki_len)) == NULL ||
	    (is_cert && (b->ssh_cert = strdup(id->ssh_cert)) == NULL)) {
		blob_ent_clear(b);
		return TPMID_E_NOMEM;
	}
	memcpy(b->blob, p, len);
	b->len = len;
	memcpy(b->spki, id->spki, id->spki_len);
	b->spki_len = id->spki_len;
	snprintf(b->name, sizeof(b->name), "%s", id->name);
	(*n)++;
	return 0;
}

/* The key blob of an identity, and its certificate blob when it has a
 * certificate that certifies its key (anything else is skipped: a broken
 * ssh_cert must not hide the plain key). */
static int
identity_blobs(const struct id_info *id, struct tbuf *key, uint8_t **ret_cert,
    size_t *ret_cert_len)
{
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	int r;

	*ret_cert = NULL;
	*ret_cert_len = 0;
	if (id->error != NULL || sshwire_keytype(id->alg) == NULL)
		return TPMID_E_FORMAT;
	if ((r = sshwire_pubkey_blob(id->spki, id->spki_len, key)) < 0)
		return r;
	if (id->ssh_cert == NULL)
		return 0;
	if (sshwire_line_blob(id->ssh_cert, &cert, &cert_len) == 0 &&
	    sshwire_cert_matches(cert, cert_len, id->spki, id->spki_len) == 0) {
		*ret_cert = cert;
		*ret_cert_len = cert_len;
		return 0;
	}
	free(cert);
	log_debug("identity '%s': ssh_cert is not a certificate for its key; not offered",
	    id->name);
	return 0;
}

static int
cache_rebuild(struct dispatch_ctx *d, struct id_info *list, size_t n)
{
	struct blob_ent *a = NULL;
	size_t i, k = 0, cap = 0;
	struct tbuf *key = NULL;
	uint8_t *cert = NULL;
	size_t cert_len;
	int r;

	if (d->blobs == NULL && (d->blobs = calloc(1, sizeof(*d->blobs))) == NULL)
		return TPMID_E_NOMEM;
	cache_clear(d->blobs);
	if ((key = tbuf_new(SSHAGENT_BLOB_MAX)) == NULL)
		return TPMID_E_NOMEM;
	for (i = 0; i < n; i++) {
		tbuf_reset(key);
		if (identity_blobs(&list[i], key, &cert, &cert_len) < 0)
			continue;
		r = cache_add(&a, &k, &cap, &list[i], tbuf_ptr(key), tbuf_len(key), 0);
		if (r == 0 && cert != NULL)
			r = cache_add(&a, &k, &cap, &list[i], cert, cert_len, 1);
		free(cert);
		cert = NULL;
		if (r < 0)
			goto out;
	}
	d->blobs->ents = a;
	d->blobs->n = k;
	a = NULL;
	k = 0;
	r = 0;
out:
	tbuf_free(key);
	for (i = 0; i < k; i++)
		blob_ent_clear(&a[i]);
	free(a);
	return r;
}

static const struct blob_ent *
cache_lookup(const struct sshagent_cache *c, const uint8_t *blob, size_t len)
{
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (c->ents[i].len == len && memcmp(c->ents[i].blob, blob, len) == 0)
			return &c->ents[i];
	return NULL;
}

/* The identity as it is now still has the key (and certificate) the entry
 * was made from. Comparing the stored forms avoids decoding the key again:
 * OpenSSL 3's decoders cost more than a TPM signature. */
static int
cache_still_valid(const struct blob_ent *b, const struct id_info *now)
{
	if (now->error != NULL || now->spki_len != b->spki_len ||
	    memcmp(now->spki, b->spki, b->spki_len) != 0)
		return 0;
	if (b->ssh_cert == NULL)
		return 1;
	return now->ssh_cert != NULL && strcmp(now->ssh_cert, b->ssh_cert) == 0;
}

/* Find the identity whose key or certificate blob is exactly `blob`.
 * `ret` is filled (caller clears it) and 0 returned; TPMID_E_NOENT when no
 * identity has that key. */
static int
find_identity(struct dispatch_ctx *d, const uint8_t *blob, size_t len, struct id_info *ret)
{
	struct engine *e = d->engine;
	struct id_info *list = NULL;
	const struct blob_ent *b;
	size_t n = 0;
	int attempt, r;

	memset(ret, 0, sizeof(*ret));
	for (attempt = 0; attempt < 2; attempt++) {
		if (attempt == 1) {
			if ((r = engine_list(e, &list, &n)) < 0)
				return r;
			r = cache_rebuild(d, list, n);
			id_info_free_array(list, n);
			if (r < 0)
				return r;
		}
		if ((b = cache_lookup(d->blobs, blob, len)) == NULL)
			continue;
		/* Confirm against the identity as it is now (engine_info()
		 * re-reads a changed file). */
		if (engine_info(e, b->name, ret) == 0 && cache_still_valid(b, ret))
			return 0;
		id_info_clear(ret);
	}
	return TPMID_E_NOENT;
}

/* ---- replies ------------------------------------------------------------- */

static int
reply_status(struct tbuf *reply, int ok)
{
	return tbuf_put_u8(reply, ok ? SSH_AGENT_SUCCESS : SSH_AGENT_FAILURE);
}

static int
reply_failure(struct tbuf *reply)
{
	return reply_status(reply, 0);
}

/* ---- REQUEST_IDENTITIES (section 3.4) ----------------------------------- */

static int
process_request_identities(struct dispatch_ctx *d, const struct peer *peer,
    struct tbuf *req, struct tbuf *reply)
{
	struct id_info *list = NULL;
	struct tbuf *key = NULL, *keys = NULL;
	uint8_t *cert = NULL;
	size_t n = 0, i, cert_len;
	uint32_t count = 0;
	int r;

	if ((r = tbuf_expect_end(req)) < 0)
		return r;
	/* Section 3.7: a locked agent lists no keys. */
	if (d->lock->locked) {
		if ((r = tbuf_put_u8(reply, SSH_AGENT_IDENTITIES_ANSWER)) < 0 ||
		    (r = tbuf_put_u32(reply, 0)) < 0)
			return r;
		return 0;
	}
	if ((r = engine_list(d->engine, &list, &n)) < 0) {
		if (ratelog_allow(d, peer))
			log_warn("listing identities for uid %u pid %ld failed: %s",
			    (unsigned)peer->uid, (long)peer->pid, tpmid_errmsg(r));
		return reply_failure(reply);
	}
	/* Refresh the SIGN_REQUEST cache with what the client now knows. */
	if ((r = cache_rebuild(d, list, n)) < 0)
		goto out;
	if ((key = tbuf_new(SSHAGENT_BLOB_MAX)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((keys = tbuf_new(WIRE_REPLY_MAX)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (list[i].error != NULL) {
			log_debug("identity '%s' skipped: %s", list[i].name, list[i].error);
			continue;
		}
		/* tpmid ssh-offer --off. OpenSSH signs only with keys it
		 * matched in this listing, so ssh will not use it at all. */
		if (list[i].ssh_hidden)
			continue;
		if (engine_check_access(d->engine, list[i].name, peer->uid, peer->gid) < 0)
			continue;
		tbuf_reset(key);
		if (identity_blobs(&list[i], key, &cert, &cert_len) < 0) {
			log_debug("identity '%s' skipped: not an SSH ECDSA key", list[i].name);
			continue;
		}
		if ((r = tbuf_put_stringb(keys, key)) < 0 ||
		    (r = tbuf_put_cstring(keys, list[i].name)) < 0)
			goto out;
		count++;
		if (cert != NULL) {
			if ((r = tbuf_put_string(keys, cert, cert_len)) < 0 ||
			    (r = tbuf_put_cstring(keys, list[i].name)) < 0)
				goto out;
			count++;
			free(cert);
			cert = NULL;
		}
	}
	if ((r = tbuf_put_u8(reply, SSH_AGENT_IDENTITIES_ANSWER)) < 0 ||
	    (r = tbuf_put_u32(reply, count)) < 0 ||
	    (r = tbuf_put(reply, tbuf_ptr(keys), tbuf_len(keys))) < 0)
		goto out;
	r = 0;
out:
	free(cert);
	tbuf_free(keys);
	tbuf_free(key);
	id_info_free_array(list, n);
	return r;
}

/* ---- SIGN_REQUEST (section 3.6) ----------------------------------------- */

static int
process_sign_request(struct dispatch_ctx *d, const struct peer *peer, struct tbuf *req,
    struct tbuf *reply)
{
	const uint8_t *blob, *data;
	size_t blob_len, data_len, dg_len = 0, der_len = 0;
	uint8_t dg[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdl = 0;
	struct tbuf *sig = NULL;
	struct id_info id;
	const EVP_MD *md;
	uint32_t flags;
	int r;

	memset(&id, 0, sizeof(id));
	if ((r = tbuf_get_string_direct(req, &blob, &blob_len)) < 0 ||
	    (r = tbuf_get_string_direct(req, &data, &data_len)) < 0 ||
	    (r = tbuf_get_u32(req, &flags)) < 0 || (r = tbuf_expect_end(req)) < 0)
		return r;
	if (d->lock->locked) {
		if (ratelog_allow(d, peer))
			log_info("sign request from uid %u pid %ld refused: the agent is locked",
			    (unsigned)peer->uid, (long)peer->pid);
		return reply_failure(reply);
	}
	/* Section 3.6.1 defines only the RSA hash flags, which do not apply
	 * to ECDSA (RFC 5656 fixes the hash by curve) and are ignored. Any
	 * other bit asks for a signature variant we cannot make: refuse. */
	if ((flags & ~(uint32_t)SSH_AGENT_KNOWN_FLAGS) != 0) {
		if (ratelog_allow(d, peer))
			log_info("sign request from uid %u pid %ld refused: unsupported flags 0x%x",
			    (unsigned)peer->uid, (long)peer->pid, flags);
		return reply_failure(reply);
	}
	if (blob_len > SSHAGENT_BLOB_MAX ||
	    (r = find_identity(d, blob, blob_len, &id)) == TPMID_E_NOENT) {
		if (ratelog_allow(d, peer))
			log_info("sign request from uid %u pid %ld refused: no identity has that key",
			    (unsigned)peer->uid, (long)peer->pid);
		r = reply_failure(reply);
		goto out;
	}
	if (r < 0)
		goto out;
	if (engine_check_access(d->engine, id.name, peer->uid, peer->gid) < 0) {
		if (ratelog_allow(d, peer))
			log_warn("refused ssh sign with '%s' for uid %u pid %ld: permission denied "
			    "(uid not allowed by the identity)", id.name, (unsigned)peer->uid,
			    (long)peer->pid);
		r = reply_failure(reply);
		goto out;
	}
	if (id.pin && !id.unlocked && d->pin == NULL) {
		/* --askpass: the owner's own ssh gets a PIN dialog (the worker
		 * parks the request, askpass.h); others could only make the
		 * owner's screen pop up, so they are refused as before. */
		if (d->askpass && peer->uid == d->agent_uid) {
			snprintf(d->askpass_for, sizeof(d->askpass_for), "%s", id.name);
			r = reply_failure(reply);
			goto out;
		}
		log_warn("identity '%s' needs unlocking: run tpmid unlock %s (ssh sign for "
		    "uid %u pid %ld refused)", id.name, id.name, (unsigned)peer->uid,
		    (long)peer->pid);
		r = reply_failure(reply);
		goto out;
	}
	md = ec_md(curve_get(id.alg));
	if (!EVP_Digest(data, data_len, dg, &mdl, md, NULL)) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	dg_len = mdl;
	tpmid_clearerr();
	if ((r = engine_sign_digest(d->engine, id.name, dg, dg_len, id.pin ? d->pin : NULL, &der,
	    &der_len)) < 0) {
		if (r == TPMID_E_LOCKED && ratelog_allow(d, peer))
			log_warn("identity '%s' needs unlocking: run tpmid unlock %s", id.name,
			    id.name);
		else if (r != TPMID_E_LOCKED && ratelog_allow(d, peer))
			log_warn("ssh sign with '%s' for uid %u pid %ld failed: %s", id.name,
			    (unsigned)peer->uid, (long)peer->pid, tpmid_errmsg(r));
		r = reply_failure(reply);
		goto out;
	}
	if ((sig = tbuf_new(SSHAGENT_BLOB_MAX)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = sshwire_sig_from_der(id.alg, der, der_len, sig)) < 0) {
		log_warn("ssh sign with '%s': %s", id.name, tpmid_errmsg(r));
		r = reply_failure(reply);
		goto out;
	}
	if ((r = tbuf_put_u8(reply, SSH_AGENT_SIGN_RESPONSE)) < 0 ||
	    (r = tbuf_put_stringb(reply, sig)) < 0)
		goto out;
	log_debug("ssh sign with '%s' for uid %u pid %ld: ok", id.name, (unsigned)peer->uid,
	    (long)peer->pid);
	r = 0;
out:
	explicit_bzero(dg, sizeof(dg));
	tbuf_free(sig);
	free(der);
	id_info_clear(&id);
	return r;
}

/* ---- LOCK / UNLOCK (section 3.7) ---------------------------------------- */

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* LOCK and UNLOCK change state that every peer shares (a locked agent
 * signs for nobody), so, like lock@tpmid and unlock@tpmid, they are for the
 * agent's owner and root only (PROTOCOL.md "Access"). Without this a peer
 * admitted by the socket mode (group tpmid) or by an identity's
 * allowed_uids could lock the agent with a passphrase the owner does not
 * know, or keep the owner out with wrong UNLOCKs that arm the delay. */
static int
peer_may_lock(const struct dispatch_ctx *d, const struct peer *peer, const char *what)
{
	if (uid_owner_or_root(peer->uid, d->agent_uid))
		return 1;
	if (ratelog_allow(d, peer))
		log_warn("refused ssh-agent %s for uid %u pid %ld: permission denied "
		    "(only the agent's owner and root may do this)", what, (unsigned)peer->uid,
		    (long)peer->pid);
	return 0;
}

static int
process_lock(struct dispatch_ctx *d, const struct peer *peer, struct tbuf *req,
    struct tbuf *reply)
{
	const uint8_t *pass;
	size_t pass_len;
	int r;

	if ((r = tbuf_get_string_direct(req, &pass, &pass_len)) < 0 ||
	    (r = tbuf_expect_end(req)) < 0)
		return r;
	if (!peer_may_lock(d, peer, "lock"))
		return reply_failure(reply);
	/* Locking a locked agent fails (a second LOCK must not replace the
	 * passphrase of the first). */
	if (d->lock->locked || pass_len > SSHAGENT_LOCK_PASS_MAX) {
		if (ratelog_allow(d, peer))
			log_info("lock from uid %u pid %ld refused%s", (unsigned)peer->uid,
			    (long)peer->pid, d->lock->locked ? ": already locked" : "");
		return reply_failure(reply);
	}
	secret_free(d->lock->pass);
	if ((d->lock->pass = secret_new(pass, pass_len)) == NULL)
		return TPMID_E_NOMEM;
	d->lock->locked = 1;
	d->lock->unlock_failures = 0;
	log_info("agent locked by uid %u pid %ld", (unsigned)peer->uid, (long)peer->pid);
	return reply_status(reply, 1);
}

static int
process_unlock(struct dispatch_ctx *d, const struct peer *peer, struct tbuf *req,
    struct tbuf *reply)
{
	const uint8_t *pass;
	size_t pass_len;
	struct timespec now;
	unsigned ms;
	int r;

	if ((r = tbuf_get_string_direct(req, &pass, &pass_len)) < 0 ||
	    (r = tbuf_expect_end(req)) < 0)
		return r;
	if (!peer_may_lock(d, peer, "unlock"))
		return reply_failure(reply);
	if (!d->lock->locked || d->lock->pass == NULL)
		return reply_failure(reply);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ts_before(&now, &d->lock->unlock_not_before)) {
		if (ratelog_allow(d, peer))
			log_info("unlock from uid %u pid %ld refused: too soon after a failed unlock",
			    (unsigned)peer->uid, (long)peer->pid);
		return reply_failure(reply);
	}
	if (timingsafe_memeq(pass, pass_len, d->lock->pass->p, d->lock->pass->len) == 0) {
		secret_free(d->lock->pass);
		d->lock->pass = NULL;
		d->lock->locked = 0;
		d->lock->unlock_failures = 0;
		log_info("agent unlocked by uid %u pid %ld", (unsigned)peer->uid,
		    (long)peer->pid);
		return reply_status(reply, 1);
	}
	/* Slow down guessing without blocking the event loop: refuse further
	 * tries until the delay has passed. */
	if (d->lock->unlock_failures < UINT32_MAX)
		d->lock->unlock_failures++;
	ms = d->lock->unlock_failures > SSHAGENT_UNLOCK_DELAY_MAX_MS / SSHAGENT_UNLOCK_DELAY_MS ?
	    SSHAGENT_UNLOCK_DELAY_MAX_MS : d->lock->unlock_failures * SSHAGENT_UNLOCK_DELAY_MS;
	d->lock->unlock_not_before = now;
	d->lock->unlock_not_before.tv_sec += ms / 1000;
	d->lock->unlock_not_before.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d->lock->unlock_not_before.tv_nsec >= 1000000000L) {
		d->lock->unlock_not_before.tv_sec++;
		d->lock->unlock_not_before.tv_nsec -= 1000000000L;
	}
	log_warn("failed unlock from uid %u pid %ld (%u in a row; next try in %u ms)",
	    (unsigned)peer->uid, (long)peer->pid, d->lock->unlock_failures, ms);
	return reply_failure(reply);
}

/* ---- EXTENSION (section 3.8) -------------------------------------------- */

/* draft-miller-ssh-agent section 3.8.1: the reply lists the extension
 * names this agent supports: "query" and tpmid's own requests. */
static int
process_ext_query(struct tbuf *req, struct tbuf *reply)
{
	const char *name;
	int i, r;

	if ((r = tbuf_expect_end(req)) < 0)
		return r;
	if ((r = tbuf_put_u8(reply, SSH_AGENT_EXTENSION_RESPONSE)) < 0 ||
	    (r = tbuf_put_cstring(reply, "query")) < 0 ||
	    (r = tbuf_put_cstring(reply, "query")) < 0)
		return r;
	for (i = WIRE_REQ_NONE + 1; i < WIRE_REQ__MAX; i++) {
		if ((name = wire_req_name((enum wire_req)i)) == NULL)
			continue;
		if ((r = tbuf_put_cstring(reply, name)) < 0)
			return r;
	}
	return 0;
}

/* OpenSSH PROTOCOL.agent "session-bind@openssh.com":
 *   string hostkey, string session identifier, string signature,
 *   bool is_forwarding
 * It lets an agent enforce per-destination key constraints. tpmid accepts
 * no constrained keys, so there is nothing to bind: the message is checked
 * for well-formedness and refused (ssh treats the refusal as "agent does
 * not support binding" and carries on). */
static int
process_ext_session_bind(const struct peer *peer, struct tbuf *req, struct tbuf *reply)
{
	const uint8_t *hostkey, *sid, *sig;
	size_t hostkey_len, sid_len, sig_len;
	int fwd, r;

	if ((r = tbuf_get_string_direct(req, &hostkey, &hostkey_len)) < 0 ||
	    (r = tbuf_get_string_direct(req, &sid, &sid_len)) < 0 ||
	    (r = tbuf_get_string_direct(req, &sig, &sig_len)) < 0 ||
	    (r = tbuf_get_bool(req, &fwd)) < 0 || (r = tbuf_expect_end(req)) < 0)
		return r;
	log_debug("session-bind%s from uid %u pid %ld: not supported (no constrained keys)",
	    fwd ? " (forwarding)" : "", (unsigned)peer->uid, (long)peer->pid);
	return reply_failure(reply);
}

static int
process_extension(struct dispatch_ctx *d, const struct peer *peer, struct tbuf *req,
    struct tbuf *reply)
{
	const uint8_t *name;
	size_t name_len;
	int r;

	(void)d;
	if ((r = tbuf_get_string_direct(req, &name, &name_len)) < 0)
		return r;
	if (name_len == 5 && memcmp(name, "query", 5) == 0)
		return process_ext_query(req, reply);
	if (name_len == 24 && memcmp(name, "session-bind@openssh.com", 24) == 0)
		return process_ext_session_bind(peer, req, reply);
	/* Section 3.8: an extension the agent does not support gets
	 * SSH_AGENT_FAILURE (not EXTENSION_FAILURE, which means a supported
	 * extension failed). Its contents are not ours to parse. */
	log_debug("unsupported extension \"%.*s\" from uid %u pid %ld",
	    (int)(name_len > 64 ? 64 : name_len), name, (unsigned)peer->uid, (long)peer->pid);
	return reply_failure(reply);
}

/* ---- entry ---------------------------------------------------------------- */

int
sshagent_process(struct dispatch_ctx *d, const struct peer *peer, uint8_t type,
    struct tbuf *req, struct tbuf *reply)
{
	switch (type) {
	case SSH_AGENTC_REQUEST_IDENTITIES:
		return process_request_identities(d, peer, req, reply);
	case SSH_AGENTC_SIGN_REQUEST:
		return process_sign_request(d, peer, req, reply);
	case SSH_AGENTC_LOCK:
		return process_lock(d, peer, req, reply);
	case SSH_AGENTC_UNLOCK:
		return process_unlock(d, peer, req, reply);
	case SSH_AGENTC_EXTENSION:
		return process_extension(d, peer, req, reply);
	case SSH_AGENTC_ADD_IDENTITY:
	case SSH_AGENTC_ADD_ID_CONSTRAINED:
	case SSH_AGENTC_REMOVE_IDENTITY:
	case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
	case SSH_AGENTC_ADD_SMARTCARD_KEY:
	case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
	case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
		/* Keys never enter or leave the agent in the clear: software
		 * keys are not accepted, TPM keys are managed with the CLI. */
		if (ratelog_allow(d, peer))
			log_info("refused ssh-agent message %u from uid %u pid %ld: keys live in the "
			    "TPM (use 'tpmid import' / 'tpmid delete')", type, (unsigned)peer->uid,
			    (long)peer->pid);
		return reply_failure(reply);
	default:
		/* Section 3: unknown messages get SSH_AGENT_FAILURE. */
		log_debug("unknown ssh-agent message %u from uid %u pid %ld", type,
		    (unsigned)peer->uid, (long)peer->pid);
		return reply_failure(reply);
	}
}
