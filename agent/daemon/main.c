/* tpmid-agent: options, start-up and shutdown. The daemon is one process,
 * one thread, one poll() loop (loop.c) over the socket (listen.c); each
 * request goes through dispatch.c to the engine. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/worker.h"
#include "agent/engine/engine.h"
#include "agent/wire/client.h"
#include "agent/wire/wire.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: tpmid-agent [--foreground] [--socket PATH] [--store DIR] [--tcti STR]\n"
	    "                   [--max-loaded N] [--idle-timeout S] [--tpm-timeout S]\n"
	    "                   [--log-level L] [--system] [--askpass[=PROGRAM]]\n"
	    "\n"
	    "Serve the TPM-backed identities in the store over a UNIX socket that speaks\n"
	    "the ssh-agent protocol (SSH_AUTH_SOCK may point at it) plus tpmid's own\n"
	    "requests (PROTOCOL.md).\n"
	    "\n"
	    "  -f, --foreground     stay in the foreground and log to stderr\n"
	    "                       (default: detach, log to syslog, print the environment)\n"
	    "  -s, --socket PATH    socket path (default: $TPMID_SOCKET, else\n"
	    "                       $XDG_RUNTIME_DIR/tpmid/agent.sock, else\n"
	    "                       /run/user/UID/tpmid/agent.sock if /run/user/UID exists,\n"
	    "                       else ${TMPDIR:-/tmp}/tpmid-UID/agent.sock; system: %s)\n"
	    "      --store DIR      identity store (default: $TPMID_STORE, else\n"
	    "                       $XDG_DATA_HOME/tpmid; system: %s)\n"
	    "      --tcti STR       TPM connection (default: $TPMID_TCTI, else device:/dev/tpmrm0)\n"
	    "      --max-loaded N   keys kept loaded in the TPM (default %d)\n"
	    "      --idle-timeout S close connections idle for S seconds (default %d)\n"
	    "      --tpm-timeout S  answer a request the TPM has not finished in S seconds\n"
	    "                       (1..%d, default %d; key creation and import: %dx) with\n"
	    "                       'the TPM is not answering', and refuse the requests that\n"
	    "                       need it until it answers; others are served meanwhile\n"
	    "      --log-level L    error, warn, info (default) or debug\n"
	    "      --system         system agent: socket dir 0750 group %s, socket 0660\n"
	    "      --askpass[=PROGRAM]\n"
	    "                       when your own ssh asks a PIN key to sign and no PIN\n"
	    "                       is held, ask for it with PROGRAM (default:\n"
	    "                       $SSH_ASKPASS, else ssh-askpass; it needs the agent's\n"
	    "                       DISPLAY or WAYLAND_DISPLAY) instead of refusing; the\n"
	    "                       PIN signs that one request and is not kept (%d s to\n"
	    "                       answer; one dialog at a time; other users' requests\n"
	    "                       are refused as without it)\n"
	    "  -h, --help           this text\n"
	    "  -V, --version        version\n"
	    "\n"
	    "Socket activation (systemd LISTEN_FDS) is used when present. SIGHUP rescans\n"
	    "the store; SIGTERM finishes the current request, flushes the TPM and exits.\n",
	    AGENT_SYSTEM_SOCKET, AGENT_SYSTEM_STORE, ENGINE_MAX_LOADED_DEFAULT,
	    AGENT_IDLE_TIMEOUT_S, AGENT_TPM_TIMEOUT_MAX_S, AGENT_TPM_TIMEOUT_S,
	    AGENT_TPM_SLOW_FACTOR, AGENT_SYSTEM_GROUP, AGENT_ASKPASS_TIMEOUT_S);
}

static int
parse_args(int argc, char **argv, struct agent_cfg *cfg)
{
	enum { OPT_STORE = 256, OPT_TCTI, OPT_MAX_LOADED, OPT_LOG_LEVEL, OPT_SYSTEM,
	    OPT_IDLE, OPT_TPM_TIMEOUT, OPT_ASKPASS };
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "max-loaded", required_argument, NULL, OPT_MAX_LOADED },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "tpm-timeout", required_argument, NULL, OPT_TPM_TIMEOUT },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "system", no_argument, NULL, OPT_SYSTEM },
		{ "askpass", optional_argument, NULL, OPT_ASKPASS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, "fs:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg->foreground = 1;
			break;
		case 's':
			cfg->socket = optarg;
			break;
		case OPT_STORE:
			cfg->store_dir = optarg;
			break;
		case OPT_TCTI:
			cfg->tcti = optarg;
			break;
		case OPT_MAX_LOADED:
			if (parse_u32(optarg, &v) < 0 || v == 0 || v > 1024) {
				fprintf(stderr, "tpmid-agent: --max-loaded: expected 1..1024, got '%s'\n",
				    optarg);
				return 2;
			}
			cfg->max_loaded = v;
			break;
		case OPT_IDLE:
			if (parse_u32(optarg, &v) < 0 || v == 0 || v > 86400) {
				fprintf(stderr, "tpmid-agent: --idle-timeout: expected 1..86400 seconds, got '%s'\n",
				    optarg);
				return 2;
			}
			cfg->idle_timeout_s = v;
			break;
		case OPT_TPM_TIMEOUT:
			if (parse_u32(optarg, &v) < 0 || v == 0 || v > AGENT_TPM_TIMEOUT_MAX_S) {
				fprintf(stderr, "tpmid-agent: --tpm-timeout: expected 1..%d seconds, got '%s'\n",
				    AGENT_TPM_TIMEOUT_MAX_S, optarg);
				return 2;
			}
			cfg->tpm_timeout_s = v;
			break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &cfg->log_level) < 0) {
				fprintf(stderr, "tpmid-agent: --log-level: expected error, warn, info or debug, got '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case OPT_SYSTEM:
			cfg->system = 1;
			break;
		case OPT_ASKPASS:
			if (optarg != NULL && *optarg == '\0') {
				fprintf(stderr, "tpmid-agent: --askpass=: empty program name\n");
				return 2;
			}
			cfg->askpass = optarg != NULL ? optarg : getenv("SSH_ASKPASS");
			if (cfg->askpass == NULL || *cfg->askpass == '\0')
				cfg->askpass = "ssh-askpass"; /* in PATH, as OpenSSH's default */
			/* A path must still name it after the detach's chdir("/"). */
			if (strchr(cfg->askpass, '/') != NULL) {
				if (access(cfg->askpass, X_OK) != 0) {
					fprintf(stderr, "tpmid-agent: --askpass: %s: %s\n", cfg->askpass,
					    strerror(errno));
					return 2;
				}
				free(cfg->askpass_abs);
				if ((cfg->askpass = cfg->askpass_abs = path_absolute(cfg->askpass)) ==
				    NULL) {
					fprintf(stderr, "tpmid-agent: out of memory\n");
					return 2;
				}
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("tpmid-agent %s\n", TPMID_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'tpmid-agent --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tpmid-agent: unexpected argument '%s'\nTry 'tpmid-agent --help'.\n",
		    argv[optind]);
		return 2;
	}
	return 0;
}

/* Detach like ssh-agent: the parent prints the environment for a shell and
 * exits; the child runs in its own session with stdio on /dev/null. */
static int
daemonize(const char *path)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return tpmid_seterr(TPMID_E_IO, "fork: %s", strerror(errno));
	if (pid > 0) {
		printf("SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n", path);
		printf("TPMID_SOCKET=%s; export TPMID_SOCKET;\n", path);
		printf("TPMID_AGENT_PID=%ld; export TPMID_AGENT_PID;\n", (long)pid);
		printf("echo tpmid-agent pid %ld;\n", (long)pid);
		fflush(stdout);
		_exit(0);
	}
	if (setsid() < 0)
		return tpmid_seterr(TPMID_E_IO, "setsid: %s", strerror(errno));
	if (chdir("/") < 0)
		return tpmid_seterr(TPMID_E_IO, "chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

/* The TPM worker's first act: is the TPM there? Only a warning: the
 * engine reconnects on demand and the agent must outlive a missing or
 * restarting TPM. Run in the worker so a hung TPM cannot hold up start-up. */
static void
check_tpm(struct dispatch_ctx *d)
{
	struct status_info st;
	int r;

	tpmid_clearerr();
	if ((r = engine_status(d->engine, &st)) < 0)
		log_warn("TPM status check failed: %s", tpmid_errmsg(r));
	else if (!st.tpm_ok)
		log_warn("the TPM at %s is not reachable; requests will fail until it is",
		    st.tcti);
	else
		log_info("TPM at %s reachable; %u identit%s in the store", st.tcti,
		    st.identities, st.identities == 1 ? "y" : "ies");
}

static int
agent_main(const struct agent_cfg *cfg)
{
	struct agent a;
	struct engine_cfg ecfg;
	struct stat sst;
	struct timespec t0 = daemon_now(), t;
	const char *store_dir = cfg->store_dir;
	const char *s;
	int r, activated, status = 1;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.lfd = a.sfd = -1;
	a.d.agent_uid = a.wd.agent_uid = geteuid();
	a.d.lock = a.wd.lock = &a.lock;
	a.wd.askpass = cfg->askpass != NULL;
	if ((r = agent_askpass_init(&a.askpass, cfg->askpass)) < 0) {
		log_init("tpmid-agent", 0, cfg->log_level);
		log_error("%s", tpmid_errmsg(r));
		return 1;
	}

	harden_process();
	log_init("tpmid-agent", 0, cfg->log_level);

	/* Signals are blocked before anything that may be interrupted, so a
	 * SIGTERM during startup is handled by the loop, not lost. */
	if ((r = loop_signals_setup(&a)) < 0)
		goto out;

	if ((activated = listen_activated(&a.lfd)) < 0) {
		r = activated;
		goto out;
	}
	if (activated) {
		a.path = listen_path_of(a.lfd);
		if (cfg->socket != NULL)
			log_info("socket activation: serving %s (--socket ignored)", a.path);
	} else {
		/* Absolute: after daemonize()'s chdir("/") the socket is
		 * still removed at exit. */
		if (cfg->socket != NULL)
			a.path = path_absolute(cfg->socket);
		else if (cfg->system)
			a.path = strdup(AGENT_SYSTEM_SOCKET);
		else
			a.path = client_default_socket();
		if (a.path == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		if ((r = listen_bind(a.path, cfg->system, &a.lfd, &sst)) < 0)
			goto out;
		a.bound = 1;
		a.sock_dev = sst.st_dev;
		a.sock_ino = sst.st_ino;
	}

	if (store_dir == NULL && cfg->system &&
	    ((s = getenv("TPMID_STORE")) == NULL || *s == '\0'))
		store_dir = AGENT_SYSTEM_STORE;
	memset(&ecfg, 0, sizeof(ecfg));
	ecfg.tcti = cfg->tcti;
	ecfg.store_dir = store_dir;
	ecfg.max_loaded = cfg->max_loaded;
	/* Ready first, TPM later: the socket answers before the TPM is
	 * touched; the first request (or the check below) connects. */
	ecfg.lazy_tpm = 1;
	if ((r = engine_new(&ecfg, &a.engine)) < 0 ||
	    (r = engine_new_front(a.engine, &a.front)) < 0)
		goto out;
	a.d.engine = a.front;
	a.wd.engine = a.engine;
	if ((a.scratch = tbuf_new(WIRE_REPLY_MAX)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}

	if (!cfg->foreground) {
		if ((r = daemonize(a.path)) < 0)
			goto out;
		log_init("tpmid-agent", 1, cfg->log_level);
	}
	/* After the fork: threads do not survive it. */
	if ((r = worker_start(&a.wd, check_tpm, &a.worker)) < 0)
		goto out;

	t = daemon_now();
	log_info("ready: serving %s%s (pid %ld, started in %.1f ms)", a.path,
	    activated ? " (socket activation)" : "", (long)getpid(),
	    (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6);

	status = loop_run(&a);
	log_info("stopped");
	r = 0;
out:
	if (r < 0)
		log_error("%s", tpmid_errmsg(r));
	loop_stop_listening(&a);
	loop_close_all(&a);
	/* The worker finishes its request, given as long as one may take
	 * (none at all when the TPM is known to be stalled). */
	if (worker_stop(a.worker, a.stalled ? 0 : 1000 * (cfg->tpm_timeout_s ?
	    cfg->tpm_timeout_s : AGENT_TPM_TIMEOUT_S)) < 0) {
		/* The worker is inside a TPM call that will not return: its
		 * engine cannot be touched. Our record of held objects stays,
		 * so the next tpmid process flushes them (store/held.h). */
		log_warn("the TPM is not answering; exiting without flushing our TPM "
		    "objects (the next tpmid process will)");
		_exit(status);
	}
	dispatch_ctx_clear(&a.d);
	dispatch_ctx_clear(&a.wd);
	engine_free(a.front);
	/* Flushes every loaded key and the SRK, wipes held PINs. */
	engine_free(a.engine);
	secret_free(a.lock.pass);
	tbuf_free(a.scratch);
	if (a.sfd >= 0)
		close(a.sfd);
	free(a.path);
	return status;
}

int
main(int argc, char **argv)
{
	struct agent_cfg cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.log_level = LOG_LVL_INFO;
	if ((r = parse_args(argc, argv, &cfg)) == 0)
		r = agent_main(&cfg);
	free(cfg.askpass_abs);
	return r;
}
