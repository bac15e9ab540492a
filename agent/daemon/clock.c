/* daemon.h: the monotonic clock every timer of the agent reads. */
#include "config.h"

#include <time.h>

#include "agent/daemon/daemon.h"

struct timespec
daemon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

long long
daemon_ms_between(struct timespec a, struct timespec b)
{
	return (long long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}
