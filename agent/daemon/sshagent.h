/* The standard ssh-agent messages (draft-miller-ssh-agent): identities,
 * signatures, lock/unlock, refusal of software keys, and the standard
 * extensions. Called by dispatch_frame() for every non-"@tpmid" message. */
#ifndef TPMID_AGENT_SSHAGENT_H
#define TPMID_AGENT_SSHAGENT_H

#include <stdint.h>

#include "agent/daemon/dispatch.h"
#include "agent/wire/sshmsg.h"
#include "common/buf.h"


/* Handle message `type` with payload `req` (type byte consumed). Appends
 * the reply body to `reply`. Returns 0 when a reply was appended (success
 * or a FAILURE reply), negative when the frame is malformed and the
 * connection must be closed. Non-"@tpmid" SSH_AGENTC_EXTENSION messages
 * also come here. */
/* Free a context's SIGN_REQUEST lookup cache (NULL is fine). */
void sshagent_cache_free(struct sshagent_cache *c);

int sshagent_process(struct dispatch_ctx *d, const struct peer *peer, uint8_t type,
    struct tbuf *req, struct tbuf *reply);

#endif
