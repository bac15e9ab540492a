/* libFuzzer target: the agent's frame parser and dispatch_frame().
 *
 * The input is a byte stream as a peer would send it on the socket. It is
 * fed in chunks whose sizes come from the input itself, split into frames
 * exactly as the agent's loop does (wire_frame_next(): length prefix
 * checked before the body is buffered), and every frame is dispatched
 * against a real engine: an empty temporary store, lazy TPM start and a
 * TCTI with nothing behind it (connection refused), so no TPM is needed
 * and every path that would reach the TPM fails fast and cleanly.
 *
 * Checked: no crash, no leak, no hang (libFuzzer -timeout); every frame
 * that is not refused gets exactly one non-empty reply; a refused frame
 * ends the "connection" like the agent does. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/daemon/dispatch.h"
#include "agent/engine/engine.h"
#include "agent/wire/wire.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static struct engine *engine;
static char store_dir[] = "/tmp/tpmid-fuzz-frame.XXXXXX";

static void
cleanup(void)
{
	engine_free(engine);
	engine = NULL;
	/* The store stays empty (nothing can be created without a TPM); remove
	 * what store_open may have made. */
	{
		char lock[sizeof(store_dir) + 16];

		snprintf(lock, sizeof(lock), "%s/.lock", store_dir);
		(void)unlink(lock);
	}
	(void)rmdir(store_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct engine_cfg cfg;

	(void)argc;
	(void)argv;
	log_init("fuzz_frame", 0, LOG_LVL_ERROR);
	if (mkdtemp(store_dir) == NULL)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	/* Port 1 on loopback: nothing listens, connect() is refused at once. */
	cfg.tcti = "swtpm:host=127.0.0.1,port=1";
	cfg.store_dir = store_dir;
	cfg.lazy_tpm = 1;
	if (engine_new(&cfg, &engine) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dispatch_ctx d;
	struct agent_lock lock;
	struct peer peer;
	struct tbuf *in, *reply;
	const uint8_t *body;
	size_t off = 0, chunk, len;
	uint8_t sel;
	int r;

	if (size < 1)
		return 0;
	/* First byte: who the peer is and how the stream is chunked. */
	sel = data[0];
	data++;
	size--;

	memset(&d, 0, sizeof(d));
	memset(&lock, 0, sizeof(lock));
	d.lock = &lock;
	d.engine = engine;
	d.agent_uid = getuid();
	peer.uid = (sel & 1) ? 65534 : getuid();
	peer.gid = (sel & 1) ? 65534 : getgid();
	peer.pid = 4242;

	in = tbuf_new(WIRE_REQUEST_MAX + 4);
	reply = tbuf_new(WIRE_REPLY_MAX);
	if (in == NULL || reply == NULL)
		abort();
	tbuf_set_secret(in);

	chunk = (size_t)(sel >> 1) + 1;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (tbuf_put(in, data + off, n) < 0)
			break;
		off += n;
		for (;;) {
			r = wire_frame_next(in, WIRE_REQUEST_MAX, &body, &len);
			if (r < 0)
				goto done; /* the agent closes the connection */
			if (r == 0)
				break;
			tbuf_reset(reply);
			r = dispatch_frame(&d, &peer, body, len, reply);
			if (r < 0)
				goto done;
			/* Every accepted frame gets one reply. */
			if (tbuf_len(reply) == 0 || tbuf_len(reply) > WIRE_REPLY_MAX)
				abort();
		}
	}
done:
	tbuf_free(in);
	tbuf_free(reply);
	secret_free(lock.pass);
	dispatch_ctx_clear(&d);
	return 0;
}
