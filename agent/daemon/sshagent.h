/* The standard ssh-agent messages (draft-miller-ssh-agent): identities,
 * signatures, lock/unlock, refusal of software keys, and the standard
 * extensions. Called by dispatch_frame() for every non-"@tpmid" message. */
#ifndef TPMID_AGENT_SSHAGENT_H
#define TPMID_AGENT_SSHAGENT_H

#include <stdint.h>

#include "agent/daemon/dispatch.h"
#include "common/buf.h"

/* Message numbers (draft-miller-ssh-agent section 6.1). */
#define SSH_AGENT_FAILURE 5
#define SSH_AGENT_SUCCESS 6
#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_AGENTC_SIGN_REQUEST 13
#define SSH_AGENT_SIGN_RESPONSE 14
#define SSH_AGENTC_ADD_IDENTITY 17
#define SSH_AGENTC_REMOVE_IDENTITY 18
#define SSH_AGENTC_REMOVE_ALL_IDENTITIES 19
#define SSH_AGENTC_ADD_SMARTCARD_KEY 20
#define SSH_AGENTC_REMOVE_SMARTCARD_KEY 21
#define SSH_AGENTC_LOCK 22
#define SSH_AGENTC_UNLOCK 23
#define SSH_AGENTC_ADD_ID_CONSTRAINED 25
#define SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED 26
#define SSH_AGENTC_EXTENSION 27
#define SSH_AGENT_EXTENSION_FAILURE 28
#define SSH_AGENT_EXTENSION_RESPONSE 29

/* Handle message `type` with payload `req` (type byte consumed). Appends
 * the reply body to `reply`. Returns 0 when a reply was appended (success
 * or a FAILURE reply), negative when the frame is malformed and the
 * connection must be closed. Non-"@tpmid" SSH_AGENTC_EXTENSION messages
 * also come here. */
int sshagent_process(struct dispatch_ctx *d, const struct peer *peer, uint8_t type,
    struct tbuf *req, struct tbuf *reply);

#endif
