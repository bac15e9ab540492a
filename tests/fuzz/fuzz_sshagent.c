/* libFuzzer target: the standard ssh-agent messages (sshagent_process(),
 * draft-miller-ssh-agent) reached through dispatch_frame(), as the agent
 * runs them.
 *
 * The engine is real: a temporary store holding three identities and a
 * TCTI with nothing behind it (loopback port 1: connection refused), with
 * the TPM opened lazily, so listing, key matching, access checks, the
 * locked-PIN refusal and LOCK/UNLOCK all run for real, and a signature
 * fails fast and cleanly where the TPM would be asked.
 *
 *   "fz"     P-256, no PIN, persistent handle, with an OpenSSH certificate
 *   "fzpin"  P-384, PIN (never unlocked here)
 *   "fzbad"  P-256 with a certificate line for another key (not offered)
 *
 * The keys are fixed (the OpenSSH 9.2 vectors of tests/unit/test_sshwire.c)
 * so the seed corpus can name them by blob.
 *
 * Input: byte 0 picks the peer (bit 0: a stranger uid instead of ours),
 * then a stream of frames `uint32 length, body` handled in order against
 * one connection state (so LOCK then SIGN_REQUEST is reachable), stopping
 * where the agent would close the connection.
 *
 * Checked: no crash, leak or hang; every accepted frame gets exactly one
 * non-empty reply; REQUEST_IDENTITIES never lists more than the store. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/daemon/dispatch.h"
#include "agent/engine/engine.h"
#include "agent/wire/wire.h"
#include "agent/daemon/sshagent.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "store/identity.h"
#include "store/store.h"

static const char p256_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEje+/8umxpFkXRIKKmSCx0LaTIK7R\n"
    "JDABGYQAqU5Tsiby6YeLcpJLxWGGV8uFsWUVsfg8MNF2JkhGFKfi4syrzg==\n"
    "-----END PUBLIC KEY-----\n";
static const char p384_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEeuS28xpusYuyGiJdZXlgKv0JKsldKZgO\n"
    "Vaaz+klmedD01T9gWF/Cc4HYny5MhKcbwO37+CYX/oIlKYvijkh2Wa5C18OVW1vs\n"
    "ytwdDQ4XNjZjGfIRX+AEIRdnYrmxU+A3\n"
    "-----END PUBLIC KEY-----\n";
static const char other_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcBzfKNMCthYe37wvYaStsSDwnuA9\n"
    "YJCGiwgG1NNIbUw3jsTFxDV8atOpvpCx9SQAgm2leOi4uNeVPkXWp4QZnA==\n"
    "-----END PUBLIC KEY-----\n";
/* ssh-keygen -s CA -I test-id -n alice p256.pub */
static const char p256_cert[] =
    "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12"
    "MDFAb3BlbnNzaC5jb20AAAAgEhUTnMFPIXzFHxieLTQ2Kn/1SycHSWPOj77awsuO14YAAAAIbmlzdHAyNTYA"
    "AABBBI3vv/LpsaRZF0SCipkgsdC2kyCu0SQwARmEAKlOU7Im8umHi3KSS8VhhlfLhbFlFbH4PDDRdiZIRhSn"
    "4uLMq84AAAAAAAAAAAAAAAEAAAAHdGVzdC1pZAAAAAkAAAAFYWxpY2UAAAAAAAAAAP//////////AAAAAAAA"
    "AIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAA"
    "AAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXIt"
    "cmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAgG/pY2gjGr1Ql8suO3gPholVGVVFhaq8/pUwfpdJ/"
    "FlMAAABTAAAAC3NzaC1lZDI1NTE5AAAAQNtCBKg0KvJxb4vcEJOo4OAstbpai0xzxUy0DoIjLdSkaVVxI3aN"
    "QVUR+7SOISDdePszSnQHZzIreLHE4waR+gM= p256-plain";

#define N_IDENTITIES 4 /* fz, its certificate, fzpin, fzbad */

static struct engine *engine;
static char tmp_store[] = "/tmp/tpmid-fuzz-sshagent.XXXXXX";

static void
cleanup(void)
{
	static const char *const files[] = { "fz.json", "fzpin.json", "fzbad.json", ".lock" };
	char path[sizeof(tmp_store) + 32];
	size_t i;

	engine_free(engine);
	engine = NULL;
	for (i = 0; i < ELEMENTSOF(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp_store, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(tmp_store);
}

static void
add_identity(struct store *s, const char *name, enum tpmid_curve alg, int pin,
    const char *pem, const char *cert)
{
	struct identity *id = NULL;

	if (identity_new(name, &id) < 0)
		abort();
	id->alg = alg;
	id->pin = pin;
	/* Handle-only: nothing to load but a persistent handle, which the
	 * unreachable TPM will never answer for. */
	id->handle = 0x81000010u;
	if (identity_set_str(&id->public_key_pem, pem) < 0 ||
	    (cert != NULL && identity_set_str(&id->ssh_cert, cert) < 0) ||
	    store_save(s, id, STORE_CREATE) < 0) {
		fprintf(stderr, "fuzz_sshagent: cannot create identity %s: %s\n", name,
		    tpmid_errmsg(-1));
		abort();
	}
	identity_free(id);
}

/* The setup must reach the code it is meant to fuzz: the store's keys and
 * the certificate are listed, the mismatching certificate is not. */
static void
self_check(void)
{
	static const uint8_t req[] = { SSH_AGENTC_REQUEST_IDENTITIES };
	struct dispatch_ctx d;
	struct agent_lock lock;
	struct peer peer = { getuid(), getgid(), 1 };
	struct tbuf *reply = tbuf_new(WIRE_REPLY_MAX);
	uint8_t type = 0;
	uint32_t n = 0;

	memset(&d, 0, sizeof(d));
	memset(&lock, 0, sizeof(lock));
	d.lock = &lock;
	d.engine = engine;
	d.agent_uid = getuid();
	if (reply == NULL || dispatch_frame(&d, &peer, req, sizeof(req), reply) < 0 ||
	    tbuf_get_u8(reply, &type) < 0 || tbuf_get_u32(reply, &n) < 0 ||
	    type != SSH_AGENT_IDENTITIES_ANSWER || n != N_IDENTITIES) {
		fprintf(stderr, "fuzz_sshagent: setup lists %u keys (type %u), want %d\n", n, type,
		    N_IDENTITIES);
		abort();
	}
	tbuf_free(reply);
	dispatch_ctx_clear(&d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct engine_cfg cfg;
	struct store *s = NULL;

	(void)argc;
	(void)argv;
	log_init("fuzz_sshagent", 0, LOG_LVL_ERROR);
	if (mkdtemp(tmp_store) == NULL)
		abort();
	if (store_open(tmp_store, 1, &s) < 0)
		abort();
	add_identity(s, "fz", CURVE_P256, 0, p256_pem, p256_cert);
	add_identity(s, "fzpin", CURVE_P384, 1, p384_pem, NULL);
	add_identity(s, "fzbad", CURVE_P256, 0, other_pem, p256_cert);
	store_free(s);

	memset(&cfg, 0, sizeof(cfg));
	cfg.tcti = "swtpm:host=127.0.0.1,port=1";
	cfg.store_dir = tmp_store;
	cfg.lazy_tpm = 1;
	if (engine_new(&cfg, &engine) < 0)
		abort();
	atexit(cleanup);
	self_check();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dispatch_ctx d;
	struct agent_lock lock;
	struct peer peer;
	struct tbuf in, *reply;
	uint32_t len;
	uint8_t sel, *body;
	int r;

	if (size < 1)
		return 0;
	sel = data[0];
	tbuf_init_view(&in, data + 1, size - 1);

	memset(&d, 0, sizeof(d));
	memset(&lock, 0, sizeof(lock));
	d.lock = &lock;
	d.engine = engine;
	d.agent_uid = getuid();
	peer.uid = (sel & 1) ? 65534 : getuid();
	peer.gid = (sel & 1) ? 65534 : getgid();
	peer.pid = 4242;
	if ((reply = tbuf_new(WIRE_REPLY_MAX)) == NULL)
		abort();

	while (tbuf_get_u32(&in, &len) == 0) {
		if (len == 0 || len > WIRE_REQUEST_MAX || len > tbuf_len(&in))
			break; /* the agent's framing refuses these before dispatch */
		/* A private copy, as the agent's connection buffer is: the
		 * fuzzer's input must stay untouched. */
		if ((body = malloc(len)) == NULL)
			abort();
		memcpy(body, tbuf_ptr(&in), len);
		(void)tbuf_consume(&in, len);
		tbuf_reset(reply);
		r = dispatch_frame(&d, &peer, body, len, reply);
		free(body);
		if (r < 0)
			break; /* the agent closes the connection */
		if (tbuf_len(reply) == 0)
			abort();
		/* Never more entries than the store has keys and certificates. */
		if (tbuf_ptr(reply)[0] == SSH_AGENT_IDENTITIES_ANSWER) {
			struct tbuf v;
			uint8_t t;
			uint32_t n;

			tbuf_init_view(&v, tbuf_ptr(reply), tbuf_len(reply));
			if (tbuf_get_u8(&v, &t) < 0 || tbuf_get_u32(&v, &n) < 0 ||
			    n > N_IDENTITIES)
				abort();
		}
	}
	tbuf_free(reply);
	secret_free(lock.pass);
	dispatch_ctx_clear(&d);
	return 0;
}
