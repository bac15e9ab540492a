/* The agent's TPM worker (worker.h): a queue in, a list out, one thread
 * between them. The loop learns of finished jobs through an eventfd it
 * polls with the sockets. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/daemon/worker.h"
#include "agent/wire/wire.h"
#include "common/err.h"
#include "common/log.h"

struct worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dispatch_ctx *d;
	void (*first)(struct dispatch_ctx *);
	struct job *queue, **queue_tail;
	struct job *done;        /* finished, newest first */
	int efd;
	int stop;
	int ended;               /* the thread has returned (mu) */
	pthread_cond_t ended_cv;
};

int
job_new(const struct peer *peer, const uint8_t *msg, size_t len, struct job **ret)
{
	struct job *j;

	*ret = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return TPMID_E_NOMEM;
	j->fd = -1;
	atomic_init(&j->state, JOB_PENDING);
	j->peer = *peer;
	if ((j->req = tbuf_new(WIRE_REQUEST_MAX)) == NULL ||
	    (j->reply = tbuf_new(WIRE_REPLY_MAX)) == NULL) {
		job_free(j);
		return TPMID_E_NOMEM;
	}
	tbuf_set_secret(j->req);
	if (tbuf_put(j->req, msg, len) < 0) {
		job_free(j);
		return TPMID_E_NOMEM;
	}
	*ret = j;
	return 0;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	tbuf_free(j->req);
	tbuf_free(j->reply);
	secret_free(j->pin);
	free(j);
}

/* Send the framed reply on the job's own descriptor, as much as the
 * socket takes now (the loop queues the rest), unless the loop has
 * answered it already. */
static void
send_reply(struct job *j)
{
	uint8_t len[4];
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;
	int want = JOB_PENDING;
	size_t body = tbuf_len(j->reply);

	if (j->fd < 0 || j->rc < 0 || body == 0 ||
	    !atomic_compare_exchange_strong(&j->state, &want, JOB_SENT))
		return;
	len[0] = (uint8_t)(body >> 24);
	len[1] = (uint8_t)(body >> 16);
	len[2] = (uint8_t)(body >> 8);
	len[3] = (uint8_t)body;
	iov[0].iov_base = len;
	iov[0].iov_len = sizeof(len);
	iov[1].iov_base = (void *)(uintptr_t)tbuf_ptr(j->reply);
	iov[1].iov_len = body;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	do
		n = sendmsg(j->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	j->sent = n > 0 ? (size_t)n : 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j;
	uint64_t one = 1;

	if (w->first != NULL)
		w->first(w->d);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->queue == NULL)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		j = w->queue;
		if ((w->queue = j->next) == NULL)
			w->queue_tail = &w->queue;
		j->next = NULL;
		pthread_mutex_unlock(&w->mu);

		tbuf_reset(j->reply);
		w->d->pin = j->pin;
		j->rc = dispatch_frame(w->d, &j->peer, tbuf_ptr(j->req), tbuf_len(j->req),
		    j->reply);
		w->d->pin = NULL;
		if (w->d->askpass_for[0] != '\0') {
			/* Parked for a PIN dialog: the request is needed again
			 * (an ssh sign carries no secret), the reply is the
			 * fallback refusal the loop sends if no PIN comes. */
			memcpy(j->askpass_for, w->d->askpass_for, sizeof(j->askpass_for));
			w->d->askpass_for[0] = '\0';
		} else {
			/* The request may have held a PIN or a key: wipe it now. */
			tbuf_reset(j->req);
			send_reply(j);
		}

		pthread_mutex_lock(&w->mu);
		j->next = w->done;
		w->done = j;
		pthread_mutex_unlock(&w->mu);
		while (write(w->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&w->mu);
	}
	w->ended = 1;
	pthread_cond_broadcast(&w->ended_cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int
worker_start(struct dispatch_ctx *d, void (*first)(struct dispatch_ctx *),
    struct worker **ret)
{
	struct worker *w;
	int r;

	*ret = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return TPMID_E_NOMEM;
	w->d = d;
	w->first = first;
	w->queue_tail = &w->queue;
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "eventfd: %s", strerror(errno));
		free(w);
		return r;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->ended_cv, NULL);
	/* Signals stay blocked in this thread too (the mask is inherited):
	 * the loop takes them from its signalfd. */
	if ((r = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		close(w->efd);
		pthread_cond_destroy(&w->ended_cv);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return tpmid_seterr(TPMID_E_NOMEM, "cannot start the TPM worker: %s",
		    strerror(r));
	}
	*ret = w;
	return 0;
}

int
worker_fd(const struct worker *w)
{
	return w->efd;
}

void
worker_submit(struct worker *w, struct job *j)
{
	pthread_mutex_lock(&w->mu);
	j->next = NULL;
	*w->queue_tail = j;
	w->queue_tail = &j->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

struct job *
worker_done(struct worker *w)
{
	struct job *j;
	uint64_t v;
	ssize_t n;

	/* Clear the count first: a job finished after it is seen below or
	 * wakes the next poll(). Nothing to clear is EAGAIN: fine. */
	n = read(w->efd, &v, sizeof(v));
	(void)n;
	pthread_mutex_lock(&w->mu);
	if ((j = w->done) != NULL) {
		w->done = j->next;
		j->next = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	return j;
}

int
worker_cancel(struct worker *w, struct job *j)
{
	struct job **pp;
	int found = 0;

	pthread_mutex_lock(&w->mu);
	for (pp = &w->queue; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			if ((*pp = j->next) == NULL)
				w->queue_tail = pp;
			j->next = NULL;
			found = 1;
			break;
		}
	pthread_mutex_unlock(&w->mu);
	return found;
}

static void
free_list(struct job *j)
{
	struct job *next;

	for (; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
}

int
worker_stop(struct worker *w, unsigned wait_ms)
{
	struct timespec until;
	int r = 0;

	if (w == NULL)
		return 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	while (!w->ended && r == 0)
		r = pthread_cond_timedwait(&w->ended_cv, &w->mu, &until);
	pthread_mutex_unlock(&w->mu);
	if (!w->ended)
		return tpmid_seterr(TPMID_E_TIMEOUT, "the TPM worker is still waiting for the TPM");
	pthread_join(w->thread, NULL);
	free_list(w->queue);
	free_list(w->done);
	close(w->efd);
	pthread_cond_destroy(&w->ended_cv);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return 0;
}
