/* askpass.h: the agent's PIN dialog, off the event loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/daemon/askpass.h"
#include "common/askpass.h"
#include "common/limits.h"
#include "common/log.h"

int
agent_askpass_init(struct agent_askpass *ap, const char *program)
{
	memset(ap, 0, sizeof(*ap));
	ap->efd = ap->cancel_fd = -1;
	if (program == NULL)
		return 0;
	if ((ap->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (ap->cancel_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		int r = tpmid_seterr(TPMID_E_IO, "eventfd: %s", strerror(errno));

		agent_askpass_fini(ap);
		return r;
	}
	ap->program = program;
	return 0;
}

int
agent_askpass_fd(const struct agent_askpass *ap)
{
	return ap->efd;
}

static void *
dialog(void *arg)
{
	struct agent_askpass *ap = arg;
	uint64_t one = 1;

	ap->rc = askpass_run(ap->program, ap->prompt, "PIN", TPMID_PIN_MAX,
	    AGENT_ASKPASS_TIMEOUT_S * 1000, ap->cancel_fd, &ap->pin);
	if (ap->rc != 0)
		snprintf(ap->why, sizeof(ap->why), "%s", tpmid_errmsg(ap->rc));
	while (write(ap->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return NULL;
}

/* The peer's command name, for the prompt: the person should know which
 * program wants their key. */
static void
peer_comm(pid_t pid, char *buf, size_t n)
{
	char path[64];
	ssize_t got;
	size_t i;
	int fd;

	snprintf(buf, n, "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got <= 0) {
		snprintf(buf, n, "?");
		return;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
}

int
agent_askpass_start(struct agent_askpass *ap, struct job *j, const char *name)
{
	char comm[32];
	uint64_t v;
	int r;

	if (ap->program == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "--askpass is not enabled");
	if (ap->running)
		return tpmid_seterr(TPMID_E_BUSY, "a PIN dialog is already open");
	peer_comm(j->peer.pid, comm, sizeof(comm));
	snprintf(ap->prompt, sizeof(ap->prompt), "tpmid-agent: PIN for identity '%s' "
	    "(ssh sign request from %s, pid %ld)", name, comm, (long)j->peer.pid);
	/* A cancel left from the last dialog must not end this one. */
	if (read(ap->cancel_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("askpass: reading the cancel eventfd: %s", strerror(errno));
	ap->pin = NULL;
	ap->rc = 0;
	ap->why[0] = '\0';
	ap->job = j;
	if ((r = pthread_create(&ap->thread, NULL, dialog, ap)) != 0) {
		ap->job = NULL;
		return tpmid_seterr(TPMID_E_NOMEM, "cannot start the PIN dialog: %s", strerror(r));
	}
	ap->running = 1;
	return 0;
}

struct job *
agent_askpass_done(struct agent_askpass *ap, struct secret **ret_pin, int *ret_rc,
    const char **ret_why)
{
	struct job *j;
	uint64_t v;

	*ret_pin = NULL;
	*ret_rc = 0;
	*ret_why = NULL;
	if (!ap->running || read(ap->efd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return NULL;
	pthread_join(ap->thread, NULL);
	ap->running = 0;
	j = ap->job;
	ap->job = NULL;
	*ret_pin = ap->pin;
	ap->pin = NULL;
	*ret_rc = ap->rc;
	*ret_why = ap->why;
	return j;
}

void
agent_askpass_cancel(struct agent_askpass *ap)
{
	uint64_t one = 1;

	if (ap->running)
		while (write(ap->cancel_fd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
}

void
agent_askpass_fini(struct agent_askpass *ap)
{
	if (ap->running) {
		agent_askpass_cancel(ap);
		pthread_join(ap->thread, NULL);
		ap->running = 0;
	}
	secret_free(ap->pin);
	ap->pin = NULL;
	job_free(ap->job);
	ap->job = NULL;
	if (ap->efd >= 0)
		close(ap->efd);
	if (ap->cancel_fd >= 0)
		close(ap->cancel_fd);
	ap->efd = ap->cancel_fd = -1;
	ap->program = NULL;
}
