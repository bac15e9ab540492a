/* Log lines another user can cause - refusals, malformed frames, slow or
 * greedy connections - are limited per uid: a peer looping on refused
 * requests wrote 56,380 lines (4.7 MB) in 30 s. At most RATELOG_BURST
 * lines per uid per RATELOG_WINDOW_S; the first line of the next window
 * says how many were dropped. The owner's and root's lines are not
 * limited (their problems are the ones worth reading, and they could
 * flood their own log anyway). Shared by the loop and the TPM worker. */
#include "config.h"

#include <pthread.h>
#include <time.h>

#include "agent/daemon/dispatch.h"
#include "common/log.h"
#include "common/util.h"

#define RATELOG_BURST 20
#define RATELOG_WINDOW_S 10
#define RATELOG_UIDS 64

struct uid_window {
	uid_t uid;
	time_t start;        /* 0: free */
	unsigned lines;
	unsigned dropped;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct uid_window tab[RATELOG_UIDS];

int
ratelog_allow(const struct dispatch_ctx *d, const struct peer *peer)
{
	struct timespec ts;
	struct uid_window *w = NULL;
	unsigned dropped = 0;
	size_t i;
	int ok;

	if (uid_owner_or_root(peer->uid, d->agent_uid))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&mu);
	for (i = 0; i < RATELOG_UIDS; i++)
		if (tab[i].start != 0 && tab[i].uid == peer->uid) {
			w = &tab[i];
			break;
		}
	if (w == NULL) {
		/* A free slot, else the one whose window began longest ago. */
		w = &tab[0];
		for (i = 0; i < RATELOG_UIDS && w->start != 0; i++)
			if (tab[i].start < w->start)
				w = &tab[i];
		w->start = 0;
	}
	if (w->start == 0 || ts.tv_sec - w->start >= RATELOG_WINDOW_S) {
		dropped = w->start != 0 && w->uid == peer->uid ? w->dropped : 0;
		w->uid = peer->uid;
		w->start = ts.tv_sec ? ts.tv_sec : 1;
		w->lines = 0;
		w->dropped = 0;
	}
	ok = w->lines < RATELOG_BURST;
	if (ok)
		w->lines++;
	else
		w->dropped++;
	pthread_mutex_unlock(&mu);
	if (dropped > 0)
		log_warn("uid %u: %u more log lines like the ones above were dropped (at most %d "
		    "per %d s)", (unsigned)peer->uid, dropped, RATELOG_BURST, RATELOG_WINDOW_S);
	return ok;
}
