/* The agent's TPM worker: one thread that runs, one at a time, the
 * requests that need the TPM (dispatch_needs_tpm), with the engine that
 * owns it. A TPM that stops answering (a hung bus, a SIGSTOPped swtpm)
 * blocks this thread inside a TCTI read that nothing can interrupt; the
 * event loop keeps serving everything else, answers the stuck request when
 * its deadline passes (job_fail) and takes the result, if it ever comes,
 * as the sign that the TPM is back. */
#ifndef TPMID_DAEMON_WORKER_H
#define TPMID_DAEMON_WORKER_H

#include <stdatomic.h>
#include <time.h>

#include "agent/daemon/dispatch.h"
#include "common/buf.h"
#include "common/limits.h"
#include "common/util.h"

enum job_state {
	JOB_PENDING,             /* queued or running */
	JOB_SENT,                /* the worker sent (some of) the reply itself */
	JOB_TAKEN,               /* the loop answered it: the worker must not */
};

/* One request for the worker. The loop owns it except between
 * worker_submit() and its return by worker_done(); while the worker has it,
 * the worker touches only `req`, `reply`, `rc`, `sent` and `state`.
 *
 * The worker sends the reply itself when the connection had nothing else
 * queued (`fd` >= 0, a dup of the connection's, so a connection the loop
 * closes meanwhile can never be confused with a new one on the same
 * number): the client hears back one thread hand-over sooner. Whoever
 * moves `state` from JOB_PENDING first answers. */
struct job {
	struct job *next;
	void *conn;              /* the loop's connection (loop only) */
	struct peer peer;
	struct tbuf *req;        /* frame body, secret (PINs, imported keys) */
	struct tbuf *reply;      /* reply body, filled by the worker */
	int rc;                  /* dispatch_frame()'s result */
	int fd;                  /* for the worker's own send, or -1 */
	size_t sent;             /* bytes of the framed reply the worker sent */
	atomic_int state;        /* enum job_state */
	/* The loop's alone: */
	int tpmid;               /* a tpmid request (else ssh-agent's) */
	struct timespec submitted;
	struct timespec deadline;
	int abandoned;           /* answered already: discard the result */
	/* PIN on demand (askpass.h): the worker found this ssh sign needs
	 * identity `askpass_for`'s PIN (kept its request, sent nothing); the
	 * loop parks it (`at_askpass`) and submits it again with `pin`. */
	char askpass_for[TPMID_NAME_MAX + 1];
	int at_askpass;
	struct secret *pin;
};

/* A job for `peer` carrying a copy of frame body `msg`. */
int job_new(const struct peer *peer, const uint8_t *msg, size_t len, struct job **ret);
/* Wipe and free (NULL is fine). */
void job_free(struct job *j);

struct worker;

/* Start the thread; it dispatches with `d` (its own context), after
 * running `first(d)` if not NULL (the agent's TPM check at start-up, which
 * must not hold up the loop either). */
int worker_start(struct dispatch_ctx *d, void (*first)(struct dispatch_ctx *),
    struct worker **ret);
/* Readable when worker_done() has something (an eventfd). */
int worker_fd(const struct worker *w);
void worker_submit(struct worker *w, struct job *j);
/* A finished job, or NULL when none is left. */
struct job *worker_done(struct worker *w);
/* Take back a job that has not started: 1 (the caller owns it again), or
 * 0 when the worker is running it or has finished it. */
int worker_cancel(struct worker *w, struct job *j);
/* Stop the thread once it is idle, waiting at most `wait_ms`: 0 when it
 * ended (the worker is freed, and queued jobs with it), TPMID_E_TIMEOUT
 * when it is still inside a TPM call (then nothing is freed: the process
 * must exit without touching the worker's engine). */
int worker_stop(struct worker *w, unsigned wait_ms);

#endif
