/* PINs from other users, and the TPM's dictionary-attack budget.
 *
 * Every PIN key in a TPM draws on one dictionary-attack counter (Part 1
 * §19.8.6): after max_tries failures the TPM refuses every DA-protected
 * key until it forgets failures, one per lockout interval. A peer listed
 * in an identity's allowed_uids could otherwise spend it all with wrong
 * PINs and lock the owner out of the owner's own keys. So a PIN that a
 * peer other than the agent's owner (or root) sends reaches the TPM only
 *  - while more than half of the TPM's tries are left: the rest is the
 *    owner's reserve, however many peers there are; and
 *  - when that uid gave no wrong PIN within the last lockout interval:
 *    one uid cannot spend faster than the TPM forgets.
 * A PIN the owner unlocked (held) costs nothing and stays usable. One
 * TPM2_GetCapability per peer PIN; the owner's PINs are not checked. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "agent/engine/internal.h"
#include "common/err.h"
#include "common/util.h"

/* Lower bound of the per-uid wait, for a TPM whose interval is 0 or tiny. */
#define PEER_WAIT_MIN 10

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct peer_fail *
fail_find(struct engine *e, uid_t uid)
{
	size_t i;

	for (i = 0; i < ELEMENTSOF(e->peer_fail); i++)
		if (e->peer_fail[i].at != 0 && e->peer_fail[i].uid == uid)
			return &e->peer_fail[i];
	return NULL;
}

int
budget_peer_pin(struct engine *e, const char *name)
{
	const struct peer_fail *f;
	struct tpm_da da;
	struct tpm *t;
	time_t now = now_s(), hold;
	uint32_t left, reserve;
	int r;

	if (!e->peer.set || uid_owner_or_root(e->peer.uid, e->owner))
		return 0;
	if ((r = engine_tpm(e, &t)) != 0 || (r = tpm_da_state(t, &da)) != 0)
		return r;
	hold = da.interval_s > PEER_WAIT_MIN ? (time_t)da.interval_s : PEER_WAIT_MIN;
	if ((f = fail_find(e, e->peer.uid)) != NULL && now - f->at < hold)
		return tpmid_seterr(TPMID_E_LOCKOUT, "uid %u gave a wrong PIN %llds ago: another "
		    "PIN from it is tried in %llds (the TPM forgives one failure every %us, and "
		    "its tries are shared by every PIN key; ask the owner to 'tpmid unlock %s')",
		    (unsigned)e->peer.uid, (long long)(now - f->at),
		    (long long)(hold - (now - f->at)), da.interval_s, name);
	left = da.counter < da.max_tries ? da.max_tries - da.counter : 0;
	reserve = (da.max_tries + 1) / 2;
	if (left <= reserve)
		return tpmid_seterr(TPMID_E_LOCKOUT, "the TPM has %u PIN tries left before it locks "
		    "out every PIN key; they are kept for the agent's owner (ask the owner to "
		    "'tpmid unlock %s')", left, name);
	return 0;
}

void
budget_peer_failed(struct engine *e)
{
	struct peer_fail *f, *oldest;
	size_t i;

	if (!e->peer.set || uid_owner_or_root(e->peer.uid, e->owner))
		return;
	if ((f = fail_find(e, e->peer.uid)) == NULL) {
		/* Full: the oldest entry goes; its uid is still held back by
		 * the reserve. */
		oldest = &e->peer_fail[0];
		for (i = 0; i < ELEMENTSOF(e->peer_fail); i++)
			if (e->peer_fail[i].at < oldest->at)
				oldest = &e->peer_fail[i];
		f = oldest;
	}
	f->uid = e->peer.uid;
	f->at = now_s();
	if (f->at == 0)
		f->at = 1;
}
