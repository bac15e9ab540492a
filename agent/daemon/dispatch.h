/* Request dispatch: one complete frame in, one reply frame out.
 *
 * The socket speaks the ssh-agent protocol (draft-miller-ssh-agent):
 * frames are `uint32 length, byte type, payload`. Standard ssh-agent
 * messages go to sshagent_process(); tpmid's own requests are
 * SSH_AGENTC_EXTENSION messages named "<request>@tpmid" (PROTOCOL.md). */
#ifndef TPMID_AGENT_DISPATCH_H
#define TPMID_AGENT_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent/engine/engine.h"
#include "common/buf.h"

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

struct dispatch_ctx {
	struct engine *engine;
	uid_t agent_uid;
	/* ssh-agent LOCK state (draft-miller-ssh-agent section 3.7): while
	 * locked, identities are hidden and every sign is refused. */
	int locked;
	struct secret *lock_pass;
	struct timespec unlock_not_before; /* delay after a failed UNLOCK */
	unsigned unlock_failures;
};

/* Process one frame body (`type` byte + payload, the length prefix already
 * stripped and checked). Always appends a whole reply body (type + payload)
 * to `reply`; returns a negative code only when the connection must be
 * closed (malformed frame). */
int dispatch_frame(struct dispatch_ctx *d, const struct peer *peer, const uint8_t *msg,
    size_t len, struct tbuf *reply);

#endif
