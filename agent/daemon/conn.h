/* tpmid-agent's connections (conn.c): accepting with the peer's
 * credentials, reading exactly one frame at a time, queued and capped
 * output, closing. The loop (loop.c) decides when; these do the I/O.
 * Private to agent/daemon/. */
#ifndef TPMID_DAEMON_CONN_H
#define TPMID_DAEMON_CONN_H

#include <stddef.h>
#include <time.h>

#include "agent/daemon/daemon.h"
#include "agent/daemon/worker.h"
#include "agent/wire/wire.h"
#include "common/buf.h"

/* A reply is only produced while less than this is waiting to be sent, so
 * a peer that does not read stops being served instead of growing our
 * memory; the hard cap is for the one reply that may cross it. */
#define CONN_OUT_SOFT (64 * 1024)
#define CONN_OUT_MAX (WIRE_REPLY_MAX + CONN_OUT_SOFT + 4)
#define CONN_IN_MAX (WIRE_REQUEST_MAX + 4)
/* Buffers that grew for one big frame are given back afterwards, so idle
 * connections stay small. */
#define CONN_BUF_KEEP (16 * 1024)
#define ACCEPT_PER_TURN 16
/* Who gets a connection slot: slots.c. A frame must arrive whole within
 * AGENT_FRAME_TIMEOUT_S of its first byte (capped by the idle timeout): a
 * byte a second does not keep a connection open. */

struct conn {
	int fd;
	struct peer peer;
	struct tbuf *in;     /* secret: requests may carry PINs or keys */
	struct tbuf *out;
	struct timespec last; /* last progress (bytes in or out) */
	struct timespec frame_start; /* first byte of the frame now in `in` */
	int eof;             /* peer shut down its side */
	struct job *job;     /* its request at the TPM worker, or NULL */
};

/* Accept what is waiting (at most ACCEPT_PER_TURN), each with its peer's
 * SO_PEERCRED and a fair slot (slots.c), or refused. */
void conn_accept(struct agent *a);
/* Close connection `i` of the table; a request it has at the worker (or at
 * the PIN dialog) is dropped or its answer discarded. */
void conn_close(struct agent *a, size_t i, const char *why);
/* Read what the current frame still needs: 0, or negative to close. */
int conn_read(struct agent *a, struct conn *c);
/* Send what is queued, as far as the socket takes it: 0, or negative. */
int conn_write(struct conn *c);
/* A whole frame is buffered. */
int conn_has_frame(const struct conn *c);
/* Queue reply body `body` and start sending it. */
int conn_reply(struct conn *c, const struct tbuf *body);
/* Queue and send what of job `j`'s reply the worker did not send itself. */
int conn_reply_rest(struct conn *c, struct job *j);
/* The connection's index in the table (nconns if gone). */
size_t conn_index(const struct agent *a, const struct conn *c);
/* A fresh input buffer (secret: requests may carry PINs). */
struct tbuf *conn_new_inbuf(void);
/* The loop answers (or drops) a job the worker has: 1 if the worker had
 * not answered it, and now will not; 0 if it sent the reply itself. */
int job_take(struct job *j);

#endif
