/* tpmid-agent: the daemon that owns the TPM and serves the socket.
 *
 * One process, one thread, one poll() loop: the TPM is serial, so requests
 * are executed one at a time, at most one per connection per loop turn
 * (round robin), and every per-connection resource is capped so that a
 * client that stops reading or writing never delays the others. */
#ifndef TPMID_AGENT_AGENT_H
#define TPMID_AGENT_AGENT_H

#include <sys/types.h>

#include "common/log.h"

#define AGENT_MAX_CONNS 128          /* concurrent connections */
#define AGENT_IDLE_TIMEOUT_S 60      /* no request for this long: close */
#define AGENT_STALL_TIMEOUT_S 10     /* reply pending, peer not reading */
#define AGENT_SHUTDOWN_FLUSH_MS 1000 /* SIGTERM: time to flush replies */
#define AGENT_SYSTEM_SOCKET "/run/tpmid/agent.sock"
#define AGENT_SYSTEM_STORE "/var/lib/tpmid"
#define AGENT_SYSTEM_GROUP "tpmid"

struct agent_cfg {
	const char *socket;     /* NULL: default (client_default_socket / system) */
	const char *store_dir;  /* NULL: $TPMID_STORE / store default / system */
	const char *tcti;       /* NULL: $TPMID_TCTI / device:/dev/tpmrm0 */
	unsigned max_loaded;    /* 0: engine default */
	unsigned idle_timeout_s;
	int foreground;
	int system;             /* system mode: /run/tpmid, group tpmid, 0660 */
	enum log_level log_level;
};

/* Socket activation (systemd's LISTEN_FDS protocol, sd_listen_fds(3)):
 * returns 1 with `*ret_fd` = 3 when LISTEN_PID is our pid and LISTEN_FDS
 * passes a listening AF_UNIX stream socket, 0 when not activated, negative
 * TPMID_E_* when the passed descriptor is unusable. Clears the variables
 * so children do not inherit them. */
int agent_listen_activated(int *ret_fd);

/* Create the socket directory (0700 user / 0750 group tpmid system), bind
 * `path` under a tight umask (socket 0600 / 0660) and listen. A stale
 * socket (connect refused) is replaced; a live one is TPMID_E_BUSY with a
 * detail naming the serving pid. */
int agent_bind(const char *path, int system_mode, int *ret_fd);

/* Run the daemon until SIGTERM/SIGINT. Returns the process exit status. */
int agent_main(const struct agent_cfg *cfg);

#endif
