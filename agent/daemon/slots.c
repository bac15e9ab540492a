/* The connection table is shared; no party may lock the others out of it.
 * A party is a uid for peers other than the agent's uid and root (group
 * tpmid on a system agent, uids an identity allows), and a process for the
 * owner's and root's connections (one runaway client of the owner must not
 * lock out the owner's others). Measured before: four other uids filled
 * every slot they could use, and one process of the owner's took all 128.
 *  - Other uids never get the last SLOTS_OWNER_RESERVE slots, and at most
 *    SLOTS_PER_UID each; a process at most SLOTS_PER_PID.
 *  - When the slots a newcomer may use are full, the party holding the
 *    most gives up its longest-idle connection without a request at the
 *    TPM, if it holds more than one beyond the newcomer's party: every
 *    party keeps a fair share, and holding connections open buys nothing.
 * (A frame must also arrive whole in time: loop.c, AGENT_FRAME_TIMEOUT_S.) */
#include "config.h"

#include <stdint.h>

#include "agent/daemon/slots.h"
#include "common/util.h"

#define SLOTS_OWNER_RESERVE 16
#define SLOTS_PER_UID 32
#define SLOTS_PER_PID 32

static int
is_owner(const struct peer *p, uid_t owner)
{
	return uid_owner_or_root(p->uid, owner);
}

static int
same_party(const struct peer *x, const struct peer *y, uid_t owner)
{
	if (is_owner(x, owner) != is_owner(y, owner))
		return 0;
	return is_owner(x, owner) ? x->pid == y->pid : x->uid == y->uid;
}

/* Slots of `p`'s party among those the pool counts (all, or with
 * `others_only` those of other uids). */
static size_t
party_count(const struct slot *s, size_t n, const struct peer *p, int others_only, uid_t owner)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if ((!others_only || !is_owner(&s[i].peer, owner)) &&
		    same_party(&s[i].peer, p, owner))
			k++;
	return k;
}

/* The slot to free for `p` in a full pool, or SLOTS_REFUSE. */
static int
evict_for(const struct slot *s, size_t n, const struct peer *p, int others_only, uid_t owner)
{
	size_t i, k, most = 0, heavy = SIZE_MAX, victim = SIZE_MAX;
	size_t mine = party_count(s, n, p, others_only, owner);

	for (i = 0; i < n; i++) {
		if (others_only && is_owner(&s[i].peer, owner))
			continue;
		if ((k = party_count(s, n, &s[i].peer, others_only, owner)) > most) {
			most = k;
			heavy = i;
		}
	}
	if (heavy == SIZE_MAX || most <= mine + 1)
		return SLOTS_REFUSE;
	for (i = 0; i < n; i++) {
		if (s[i].busy || !same_party(&s[i].peer, &s[heavy].peer, owner) ||
		    (others_only && is_owner(&s[i].peer, owner)))
			continue;
		if (victim == SIZE_MAX || s[i].last.tv_sec < s[victim].last.tv_sec ||
		    (s[i].last.tv_sec == s[victim].last.tv_sec &&
		    s[i].last.tv_nsec < s[victim].last.tv_nsec))
			victim = i;
	}
	return victim == SIZE_MAX ? SLOTS_REFUSE : (int)victim;
}

int
slots_admit(const struct slot *s, size_t n, size_t max, const struct peer *p, uid_t owner)
{
	size_t i, others = 0, pid = 0, uid = 0;

	for (i = 0; i < n; i++) {
		others += !is_owner(&s[i].peer, owner);
		pid += s[i].peer.pid == p->pid;
		uid += s[i].peer.uid == p->uid;
	}
	if (pid >= SLOTS_PER_PID || (!is_owner(p, owner) && uid >= SLOTS_PER_UID))
		return SLOTS_REFUSE;
	if (!is_owner(p, owner) && others + SLOTS_OWNER_RESERVE >= max)
		return evict_for(s, n, p, 1, owner);
	if (n >= max)
		return evict_for(s, n, p, 0, owner);
	return SLOTS_TAKE;
}
