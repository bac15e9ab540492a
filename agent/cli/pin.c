/* PINs and passphrases into the CLI: from a file, from stdin, from the
 * terminal without echo, or from $SSH_ASKPASS when there is no terminal
 * (with SSH_ASKPASS_REQUIRE honoured the way ssh-add's readpass.c does).
 * Every buffer that held a secret is wiped; nothing is ever echoed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "common/askpass.h"
#include "common/err.h"
#include "common/util.h"

/* What a secret is and how long it may be: a PIN becomes a key's TPM
 * authValue (TPMID_PIN_MAX, common/limits.h), a passphrase never reaches
 * the TPM. */
const struct cli_secret_kind cli_pin = { "PIN", TPMID_PIN_MAX };
const struct cli_secret_kind cli_passphrase = { "passphrase", TPMID_PASSPHRASE_MAX };

static int
first_line_secret(const uint8_t *buf, size_t len, const char *what,
    const struct cli_secret_kind *kind, struct secret **ret)
{
	return secret_first_line(buf, len, what, kind->noun, kind->max, ret);
}

int
cli_read_pin_file(const char *path, struct secret **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	/* Room for the longest PIN, a CR/LF and a little slack for a second
	 * line we ignore. */
	if ((r = read_file(path, 64 * 1024, &buf, &len)) != 0) {
		if (r == TPMID_E_TOOBIG)
			return tpmid_seterr(r, "PIN file %s: too large", path);
		return r;
	}
	r = first_line_secret(buf, len, path, &cli_pin, ret);
	freezero(buf, len);
	return r;
}

int
cli_read_pin_stdin(struct secret **ret)
{
	uint8_t buf[TPMID_PIN_MAX + 2];
	size_t n = 0;
	ssize_t got;
	int r;

	*ret = NULL;
	/* Byte by byte up to the newline: stdin may carry more after it. */
	while (n < sizeof(buf)) {
		got = read(STDIN_FILENO, buf + n, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = tpmid_seterr(TPMID_E_IO, "standard input: %s", strerror(errno));
			goto out;
		}
		if (got == 0 || buf[n] == '\n')
			break;
		n++;
	}
	r = first_line_secret(buf, n, "standard input", &cli_pin, ret);
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* The terminal state to put back if a signal arrives while echo is off
 * (then the signal's default action proceeds, as readpassphrase(3) does).
 * A stop (Ctrl-Z) gives the shell its terminal back with echo on, and
 * once continued (fg) echo goes off again and the prompt is repeated:
 * the rest of the PIN is never shown. */
static int tty_fd = -1;
static struct termios tty_saved, tty_noecho;
static const char *tty_prompt;
static struct sigaction tty_sa;
static volatile sig_atomic_t tty_restore;

static void
tty_signal(int sig)
{
	struct sigaction dfl;
	sigset_t set;
	int saved_errno = errno;

	if (tty_restore)
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	(void)sigaction(sig, &dfl, NULL);
	/* Delivered at once (it is blocked while its handler runs). */
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	/* Only a stop returns here, when the job is continued. */
	(void)sigaction(sig, &tty_sa, NULL);
	if (tty_restore) {
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_noecho);
		(void)!write(tty_fd, "\n", 1);
		(void)!write(tty_fd, tty_prompt, strlen(tty_prompt));
	}
	errno = saved_errno;
}

/* Read a line from the terminal with echo off. */
static int
tty_read(const char *prompt, const struct cli_secret_kind *kind, struct secret **ret)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU };
	struct sigaction osa[ELEMENTSOF(sigs)];
	size_t i;
	char buf[TPMID_PASSPHRASE_MAX + 2];
	size_t n = 0;
	ssize_t got;
	char c;
	int fd, r = 0, restore = 0;

	*ret = NULL;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return TPMID_E_NOENT;
	(void)!write(fd, prompt, strlen(prompt));
	/* Ctrl-C must not leave the terminal without echo. */
	tty_prompt = prompt;
	memset(&tty_sa, 0, sizeof(tty_sa));
	tty_sa.sa_handler = tty_signal;
	sigemptyset(&tty_sa.sa_mask);
	for (i = 0; i < ELEMENTSOF(sigs); i++)
		sigaction(sigs[i], &tty_sa, &osa[i]);
	if (tcgetattr(fd, &tty_saved) == 0) {
		tty_noecho = tty_saved;
		tty_noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tty_noecho.c_lflag |= ICANON;
		tty_fd = fd;
		if (tcsetattr(fd, TCSAFLUSH, &tty_noecho) == 0)
			restore = 1;
		tty_restore = restore;
	}
	for (;;) {
		got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || c == '\n' || c == '\r')
			break;
		if (n >= kind->max) {
			r = tpmid_seterr(TPMID_E_TOOBIG, "%s longer than %zu bytes", kind->noun,
			    kind->max);
			/* Drain the rest of the line. */
			continue;
		}
		buf[n++] = c;
	}
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_restore = 0;
	tty_fd = -1;
	(void)!write(fd, "\n", 1);
	for (i = 0; i < ELEMENTSOF(sigs); i++)
		sigaction(sigs[i], &osa[i], NULL);
	close(fd);
	if (r == 0 && n == 0)
		r = tpmid_seterr(TPMID_E_CANCELLED, "no PIN entered");
	if (r == 0 && (*ret = secret_new(buf, n)) == NULL)
		r = TPMID_E_NOMEM;
	explicit_bzero(buf, sizeof(buf));
	c = 0;
	return r;
}

/* $SSH_ASKPASS (common/askpass.c), with the advice a CLI user needs when
 * it cannot be run. */
static int
askpass_read(const char *askpass, const char *prompt, const struct cli_secret_kind *kind,
    struct secret **ret)
{
	char why[TPMID_ERRMSG_MAX];
	int r;

	r = askpass_run(askpass, prompt, kind->noun, kind->max, -1, -1, ret);
	if (r != TPMID_E_NOENT)
		return r;
	snprintf(why, sizeof(why), "%s", tpmid_errmsg(r));
	return tpmid_seterr(r, "%s (set SSH_ASKPASS to a program that asks for the %s, or use "
	    "--pin-file or --pin-stdin)", why, kind->noun);
}

/* One answer, from the terminal or askpass per SSH_ASKPASS_REQUIRE. */
static int
prompt_once(const char *prompt, const struct cli_secret_kind *kind, struct secret **ret)
{
	const char *askpass = getenv("SSH_ASKPASS"), *req = getenv("SSH_ASKPASS_REQUIRE");
	const char *disp = getenv("DISPLAY"), *wdisp = getenv("WAYLAND_DISPLAY");
	int allow_askpass, use_askpass = 0, r;

	*ret = NULL;
	/* Like OpenSSH: askpass needs a display unless forced. */
	allow_askpass = (disp != NULL && *disp != '\0') || (wdisp != NULL && *wdisp != '\0');
	if (req != NULL) {
		if (strcasecmp(req, "force") == 0) {
			use_askpass = 1;
			allow_askpass = 1;
		} else if (strcasecmp(req, "prefer") == 0) {
			use_askpass = allow_askpass;
		} else if (strcasecmp(req, "never") == 0) {
			allow_askpass = 0;
		}
	}
	if (askpass == NULL || *askpass == '\0')
		askpass = "ssh-askpass"; /* found in PATH, as OpenSSH's default is */
	if (!use_askpass) {
		r = tty_read(prompt, kind, ret);
		if (r != TPMID_E_NOENT)
			return r;
	}
	if (!allow_askpass)
		return tpmid_seterr(TPMID_E_NEEDPIN, "no terminal to ask for the PIN on (use "
		    "--pin-file or --pin-stdin, or set SSH_ASKPASS and DISPLAY)");
	return askpass_read(askpass, prompt, kind, ret);
}

int
cli_prompt_secret(const char *prompt, const struct cli_secret_kind *kind, int confirm,
    struct secret **ret)
{
	struct secret *a = NULL, *b = NULL;
	char *again = NULL;
	int r;

	*ret = NULL;
	if ((r = prompt_once(prompt, kind, &a)) != 0)
		goto out;
	if (confirm) {
		if (asprintf(&again, "Enter it again: ") < 0) {
			again = NULL;
			r = TPMID_E_NOMEM;
			goto out;
		}
		if ((r = prompt_once(again, kind, &b)) != 0)
			goto out;
		if (timingsafe_memeq(a->p, a->len, b->p, b->len) != 0) {
			r = tpmid_seterr(TPMID_E_INVAL, "the two entries differ");
			goto out;
		}
	}
	*ret = a;
	a = NULL;
out:
	free(again);
	secret_free(a);
	secret_free(b);
	return r;
}

int
cli_pin_opt_set(const char *cmd, struct cli_pin_opt *o, int which, const char *arg)
{
	if (o->file != NULL || o->from_stdin || o->prompt)
		return cli_usage_error(cmd, "give at most one of --pin-file, --pin-stdin, --pin");
	switch (which) {
	case CLI_PIN_FILE:
		o->file = arg;
		break;
	case CLI_PIN_STDIN:
		o->from_stdin = 1;
		break;
	case CLI_PIN_PROMPT:
		o->prompt = 1;
		break;
	default:
		return cli_usage_error(cmd, "bad PIN option");
	}
	return 0;
}

int
cli_pin_get(const struct cli_pin_opt *o, const char *prompt, int confirm,
    struct secret **ret)
{
	*ret = NULL;
	if (o->file != NULL)
		return cli_read_pin_file(o->file, ret);
	if (o->from_stdin)
		return cli_read_pin_stdin(ret);
	if (o->prompt)
		return cli_prompt_secret(prompt, &cli_pin, confirm, ret);
	return 0;
}

int
cli_pin_for_sign(const struct id_info *info, const char *prompt, struct secret **pin)
{
	int r;

	if (!info->pin || info->unlocked || *pin != NULL)
		return 0;
	r = cli_prompt_secret(prompt, &cli_pin, 0, pin);
	return r == TPMID_E_NEEDPIN ? 0 : r;
}

int
cli_pin_explain(const struct backend *b, const char *name, int r)
{
	int fd;

	if (r != TPMID_E_LOCKED || backend_is_agent(b))
		return r;
	/* --pin asks on the terminal: no use advising it without one. */
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0) {
		close(fd);
		tpmid_seterr(r, "identity '%s' needs its PIN: use --pin, --pin-file or "
		    "--pin-stdin (or start tpmid-agent and run 'tpmid unlock %s')", name, name);
	} else
		tpmid_seterr(r, "identity '%s' needs its PIN: use --pin-file or --pin-stdin, "
		    "or set SSH_ASKPASS (or start tpmid-agent and run 'tpmid unlock %s')", name,
		    name);
	return r;
}
