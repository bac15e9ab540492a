/* tpmid-agent: the daemon that owns the TPM and serves the socket.
 *
 * One process, two threads. A poll() loop owns the connections and answers
 * at once every request that needs no TPM (list, info, status, ssh's
 * REQUEST_IDENTITIES, lock...) with a front engine; the requests that do
 * (signatures, keygen, import, delete, unlock) go, one at a time since the
 * TPM is serial, to a TPM worker thread that owns the TPM, and are answered
 * with a clear error when the TPM has not finished them in --tpm-timeout
 * seconds. At most one request per connection is in progress and one is
 * started per connection per loop turn (round robin); every per-connection
 * resource is capped so a client that stops reading or writing never
 * delays the others.
 *
 *   main.c      options, start-up, shutdown
 *   listen.c    the listening socket (own or systemd's)
 *   loop.c      the poll loop: requests, signals, timers, deadlines of TPM
 *               requests
 *   conn.c      connections: accept, frame I/O, capped buffers, close
 *   worker.c    the TPM worker thread
 *   askpass.c   the PIN dialog thread (--askpass)
 *   dispatch.c  one frame in, one reply out: tpmid requests and access
 *   sshagent.c  the standard ssh-agent messages */
#ifndef TPMID_DAEMON_H
#define TPMID_DAEMON_H

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "agent/daemon/askpass.h"
#include "agent/daemon/dispatch.h"
#include "common/buf.h"
#include "common/log.h"

#define AGENT_MAX_CONNS 128          /* concurrent connections */
#define AGENT_IDLE_TIMEOUT_S 60      /* no request for this long: close */
#define AGENT_STALL_TIMEOUT_S 10     /* reply pending, peer not reading */
#define AGENT_FRAME_TIMEOUT_S 10     /* a request frame begun must be complete */
#define AGENT_SHUTDOWN_FLUSH_MS 1000 /* SIGTERM: time to flush replies */
/* A request that needs the TPM is answered within this (--tpm-timeout);
 * key creation and import, which take seconds on some TPMs, get
 * AGENT_TPM_SLOW_FACTOR times as long. The maximum keeps the answer ahead
 * of the CLI's own timeout (agent/wire/client.c). */
#define AGENT_TPM_TIMEOUT_S 10
#define AGENT_TPM_TIMEOUT_MAX_S 25
#define AGENT_TPM_SLOW_FACTOR 4
#define AGENT_SYSTEM_SOCKET "/run/tpmid/agent.sock"
#define AGENT_SYSTEM_STORE "/var/lib/tpmid"
#define AGENT_SYSTEM_GROUP "tpmid"

struct agent_cfg {
	const char *socket;     /* NULL: default (client_default_socket / system) */
	const char *store_dir;  /* NULL: $TPMID_STORE / store default / system */
	const char *tcti;       /* NULL: $TPMID_TCTI / device:/dev/tpmrm0 */
	unsigned max_loaded;    /* 0: engine default */
	unsigned idle_timeout_s;
	unsigned tpm_timeout_s; /* 0: AGENT_TPM_TIMEOUT_S */
	int foreground;
	int system;             /* system mode: /run/tpmid, group tpmid, 0660 */
	const char *askpass;    /* --askpass: the PIN dialog program, or NULL */
	char *askpass_abs;      /* owned: askpass made absolute */
	enum log_level log_level;
};

struct conn;
struct worker;

/* The running daemon: set up by main.c, run by loop.c. */
struct agent {
	const struct agent_cfg *cfg;
	struct dispatch_ctx d;   /* the loop's: front engine */
	struct dispatch_ctx wd;  /* the TPM worker's: the engine */
	struct agent_lock lock;
	struct engine *engine;   /* owns the TPM; used by the worker only */
	struct engine *front;    /* the loop's: no TPM */
	struct worker *worker;
	struct agent_askpass askpass; /* PIN on demand for ssh (askpass.h) */
	int stalled;             /* a TPM request is past its deadline */
	struct timespec stall_since;
	int lfd;
	int sfd;                 /* signalfd */
	char *path;              /* socket path (for logs, unlink) */
	int bound;               /* we bound it: unlink at exit */
	dev_t sock_dev;          /* what we bound: unlink only if the path */
	ino_t sock_ino;          /* still names it */
	struct conn *conns[AGENT_MAX_CONNS];
	size_t nconns;
	size_t rr;               /* round-robin start */
	struct tbuf *scratch;    /* reply body being built */
	int stopping;
	struct timespec stop_deadline;
	struct timespec last_full_warn;
};

/* --- listen.c --- */

/* Socket activation (systemd's LISTEN_FDS protocol, sd_listen_fds(3)):
 * returns 1 with `*ret_fd` = 3 when LISTEN_PID is our pid and LISTEN_FDS
 * passes a listening AF_UNIX stream socket, 0 when not activated, negative
 * TPMID_E_* when the passed descriptor is unusable. Clears the variables
 * so children do not inherit them. */
int listen_activated(int *ret_fd);
/* Create the socket directory (0700 user / 0750 group tpmid system), bind
 * `path` under a tight umask (socket 0600 / 0660) and listen; `ret_st` is
 * what was bound (for listen_unlink_if_ours). A stale socket (connect
 * refused) is replaced; a live one is TPMID_E_BUSY with a detail naming
 * the serving pid. */
int listen_bind(const char *path, int system_mode, int *ret_fd, struct stat *ret_st);
/* Remove `path` only if it is still the socket `bound` describes: 1 if
 * removed, 0 if left (gone, or replaced by another agent), negative on
 * error. */
int listen_unlink_if_ours(const char *path, const struct stat *bound);
/* The path a listening socket is bound to (fresh string). */
char *listen_path_of(int fd);

/* --- clock.c --- */
struct timespec daemon_now(void);
/* Milliseconds from `a` to `b` (negative when b is earlier). */
long long daemon_ms_between(struct timespec a, struct timespec b);

/* --- loop.c --- */
/* Block SIGTERM/SIGINT/SIGHUP and receive them through a signalfd. */
int loop_signals_setup(struct agent *a);
/* Serve until SIGTERM/SIGINT (then flush pending replies for up to
 * AGENT_SHUTDOWN_FLUSH_MS). Returns the process exit status. */
int loop_run(struct agent *a);
/* Stop accepting and remove our socket (if we bound it and it is ours). */
void loop_stop_listening(struct agent *a);
/* Close every connection. */
void loop_close_all(struct agent *a);

#endif
