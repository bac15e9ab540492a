/* askpass.h: run an askpass program and take the first line it prints. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/askpass.h"
#include "common/err.h"
#include "common/limits.h"

int
secret_first_line(const uint8_t *buf, size_t len, const char *what, const char *noun,
    size_t max, struct secret **ret)
{
	size_t n = 0;

	*ret = NULL;
	while (n < len && buf[n] != '\n')
		n++;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0)
		return tpmid_seterr(TPMID_E_INVAL, "%s: empty %s", what, noun);
	if (n > max)
		return tpmid_seterr(TPMID_E_TOOBIG, "%s: %s longer than %zu bytes", what, noun, max);
	if (memchr(buf, '\0', n) != NULL)
		return tpmid_seterr(TPMID_E_INVAL, "%s: %s contains a NUL byte", what, noun);
	if ((*ret = secret_new(buf, n)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void
close_pair(int p[2])
{
	close(p[0]);
	close(p[1]);
}

int
askpass_run(const char *program, const char *prompt, const char *noun, size_t max,
    int timeout_ms, int cancel_fd, struct secret **ret)
{
	uint8_t buf[TPMID_PASSPHRASE_MAX + 2];
	struct pollfd pf[2];
	long long until = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
	size_t n = 0;
	ssize_t got;
	pid_t pid;
	int p[2], ep[2], status, err = 0, r = 0, wait, k;
	int stopped = 0; /* 1: timed out, 2: cancelled */

	*ret = NULL;
	if (max > TPMID_PASSPHRASE_MAX)
		max = TPMID_PASSPHRASE_MAX;
	if (pipe2(p, O_CLOEXEC) != 0)
		return tpmid_seterr(TPMID_E_IO, "pipe: %s", strerror(errno));
	if (pipe2(ep, O_CLOEXEC) != 0) {
		r = tpmid_seterr(TPMID_E_IO, "pipe: %s", strerror(errno));
		close_pair(p);
		return r;
	}
	if ((pid = fork()) < 0) {
		r = tpmid_seterr(TPMID_E_IO, "fork: %s", strerror(errno));
		close_pair(p);
		close_pair(ep);
		return r;
	}
	if (pid == 0) {
		if (dup2(p[1], STDOUT_FILENO) >= 0)
			execlp(program, program, prompt, (char *)NULL);
		err = errno;
		(void)!write(ep[1], &err, sizeof(err));
		_exit(127);
	}
	close(p[1]);
	close(ep[1]);
	/* EOF here (exec succeeded) comes at once; an errno if it failed. */
	if (read(ep[0], &err, sizeof(err)) != (ssize_t)sizeof(err))
		err = 0;
	close(ep[0]);
	while (err == 0 && n < sizeof(buf)) {
		pf[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = cancel_fd, .events = POLLIN };
		wait = -1;
		if (timeout_ms >= 0) {
			long long left = until - now_ms();

			wait = left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
		}
		k = poll(pf, cancel_fd >= 0 ? 2 : 1, wait);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 && timeout_ms >= 0 && now_ms() >= until) {
			stopped = 1;
			break;
		}
		if (k > 0 && cancel_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP))) {
			stopped = 2;
			break;
		}
		if (k <= 0)
			continue;
		got = read(p[0], buf + n, sizeof(buf) - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(p[0]);
	if (stopped)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = tpmid_seterr(TPMID_E_IO, "waitpid: %s", strerror(errno));
			goto out;
		}
	}
	if (stopped == 1)
		r = tpmid_seterr(TPMID_E_CANCELLED, "%s gave no %s within %d s", program, noun,
		    timeout_ms / 1000);
	else if (stopped == 2)
		r = tpmid_seterr(TPMID_E_CANCELLED, "asking for the %s was given up", noun);
	else if (err != 0)
		r = tpmid_seterr(TPMID_E_NOENT, "cannot run the askpass program '%s': %s", program,
		    strerror(err));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		r = tpmid_seterr(TPMID_E_CANCELLED, "%s did not return a %s (cancelled)", program,
		    noun);
	else if ((r = secret_first_line(buf, n, program, noun, max, ret)) == TPMID_E_INVAL)
		r = tpmid_seterr(TPMID_E_CANCELLED, "no %s entered", noun);
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}
