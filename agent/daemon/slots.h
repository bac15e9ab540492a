/* Who may take one of the agent's connection slots (slots.c). */
#ifndef TPMID_DAEMON_SLOTS_H
#define TPMID_DAEMON_SLOTS_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "agent/daemon/dispatch.h"

/* One taken slot, as the policy sees it. */
struct slot {
	struct peer peer;
	struct timespec last; /* last progress */
	int busy;             /* a request of it is at the TPM: never evicted */
};

#define SLOTS_TAKE (-1)   /* take a free slot */
#define SLOTS_REFUSE (-2) /* no fair slot: close the newcomer */

/* A newcomer `p` asks for a slot among the `n` taken ones (of at most
 * `max`), `owner` being the agent's uid: SLOTS_TAKE, SLOTS_REFUSE, or the
 * index of the slot to close first to make room for it. */
int slots_admit(const struct slot *s, size_t n, size_t max, const struct peer *p, uid_t owner);

#endif
