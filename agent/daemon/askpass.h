/* PIN on demand for ssh (tpmid-agent --askpass): when the owner's ssh asks
 * a PIN key to sign and no PIN is held, the agent runs an askpass program
 * (as ssh-tpm-agent does) instead of failing, and the PIN it returns
 * signs that one request; it is never held.
 *
 * The program runs in a thread of its own, one at a time, so a person
 * taking a minute to type never delays other clients: the loop parks the
 * request (its connection waits, with no TPM deadline), is woken through
 * an eventfd when the answer is in, and hands the request back to the TPM
 * worker with the PIN. A connection that goes away cancels the dialog. */
#ifndef TPMID_DAEMON_ASKPASS_H
#define TPMID_DAEMON_ASKPASS_H

#include <pthread.h>

#include "agent/daemon/worker.h"
#include "common/err.h"
#include "common/util.h"

/* The askpass program is killed after this long without an answer. */
#define AGENT_ASKPASS_TIMEOUT_S 120

struct agent_askpass {
	const char *program;     /* NULL: --askpass not given */
	int efd;                 /* readable: the dialog finished */
	int cancel_fd;           /* eventfd the dialog polls: written = give up */
	int running;             /* a thread was started and not joined */
	pthread_t thread;
	struct job *job;         /* the parked request (loop's) */
	char prompt[256];
	/* Set by the thread before it signals efd: */
	struct secret *pin;
	int rc;
	char why[TPMID_ERRMSG_MAX];
};

/* `program` NULL: disabled (every call below is then a no-op). */
int agent_askpass_init(struct agent_askpass *ap, const char *program);
/* For poll(): -1 when disabled. */
int agent_askpass_fd(const struct agent_askpass *ap);
/* Ask for identity `name`'s PIN on behalf of job `j` (the ssh peer's pid
 * and command name go into the prompt). TPMID_E_BUSY while another dialog
 * is open. */
int agent_askpass_start(struct agent_askpass *ap, struct job *j, const char *name);
/* The parked job once its dialog finished (NULL if it has not): the PIN in
 * *ret_pin, or NULL with *ret_rc and *ret_why saying why not. */
struct job *agent_askpass_done(struct agent_askpass *ap, struct secret **ret_pin, int *ret_rc,
    const char **ret_why);
/* Close the dialog now (its connection went away). */
void agent_askpass_cancel(struct agent_askpass *ap);
/* Cancel, wait for the thread, free the parked job and the descriptors. */
void agent_askpass_fini(struct agent_askpass *ap);

#endif
