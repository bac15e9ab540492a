/* Request dispatch: one complete frame in, one reply frame out.
 *
 * The socket speaks the ssh-agent protocol (draft-miller-ssh-agent):
 * frames are `uint32 length, byte type, payload`. Standard ssh-agent
 * messages go to sshagent_process(); tpmid's own requests are
 * SSH_AGENTC_EXTENSION messages named "<request>@tpmid" (PROTOCOL.md). */
#ifndef TPMID_AGENT_DISPATCH_H
#define TPMID_AGENT_DISPATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent/engine/engine.h"
#include "common/buf.h"
#include "common/limits.h"

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* ssh-agent LOCK state (draft-miller-ssh-agent section 3.7), one per
 * agent: while locked, identities are hidden and every sign is refused.
 * Changed only by the event loop's thread; `locked` is also read by the
 * TPM worker's. */
struct agent_lock {
	atomic_int locked;
	struct secret *pass;
	struct timespec unlock_not_before; /* delay after a failed UNLOCK */
	unsigned unlock_failures;
};

struct sshagent_cache;

/* One per thread that dispatches: the event loop's (with the front
 * engine) and the TPM worker's (with the engine that owns the TPM). */
struct dispatch_ctx {
	struct engine *engine;
	uid_t agent_uid;
	struct agent_lock *lock;        /* shared */
	struct sshagent_cache *blobs;   /* this context's, for SIGN_REQUEST */
	/* PIN on demand (daemon/askpass.h), the TPM worker's context only:
	 * `askpass` enabled; `pin` the one the dialog returned for the request
	 * being dispatched; `askpass_for` set by an ssh sign that wants one. */
	int askpass;
	const struct secret *pin;
	char askpass_for[TPMID_NAME_MAX + 1];
};

/* Free what the context owns (not the engine or the lock). */
void dispatch_ctx_clear(struct dispatch_ctx *d);

/* Whether the frame body needs the TPM: 0 if not, else WIRE_USES_TPM and
 * WIRE_SLOW when it may take seconds (agent/wire/requests.h; ssh's
 * SIGN_REQUEST is WIRE_USES_TPM). Those go to the TPM worker
 * (agent/daemon/worker.c), everything else is answered by the loop; a
 * frame that does not parse needs no TPM (the loop refuses it). */
unsigned dispatch_tpm_flags(const uint8_t *msg, size_t len);
/* Whether a log line caused by `peer` may be written (ratelog.c): always
 * for the owner and root, else a bounded number per uid and window. */
int ratelog_allow(const struct dispatch_ctx *d, const struct peer *peer);
/* Whether the frame body is one of tpmid's requests (else ssh-agent's). */
int dispatch_is_tpmid(const uint8_t *msg, size_t len);
/* Append the failure reply of the frame's protocol: tpmid's (code and
 * `why`) or ssh-agent's SSH_AGENT_FAILURE. */
int dispatch_refuse(int tpmid, int err, const char *why, struct tbuf *reply);

/* Process one frame body (`type` byte + payload, the length prefix already
 * stripped and checked). Always appends a whole reply body (type + payload)
 * to `reply`; returns a negative code only when the connection must be
 * closed (malformed frame). */
int dispatch_frame(struct dispatch_ctx *d, const struct peer *peer, const uint8_t *msg,
    size_t len, struct tbuf *reply);

#endif
