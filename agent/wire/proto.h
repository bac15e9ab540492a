/* tpmid's requests on the agent socket (PROTOCOL.md).
 *
 * Framing is the ssh-agent one (draft-miller-ssh-agent section 3):
 * `uint32 length, byte type, byte[length - 1] payload`. tpmid's own
 * requests are SSH_AGENTC_EXTENSION (27) messages named "<request>@tpmid"
 * (draft-miller-ssh-agent section 3.8); the agent answers
 *
 *   success: byte SSH_AGENT_EXTENSION_RESPONSE (29), string name, payload
 *   failure: byte SSH_AGENT_EXTENSION_FAILURE (28), uint32 code (a negative
 *            TPMID_E_* as two's complement int32), string message
 *
 * and SSH_AGENT_FAILURE (5) for extensions it does not know.
 *
 * The encoders and decoders here are shared by the agent (dispatch.c),
 * the client library (client.c) and the PKCS#11 shim. Every decoder reads
 * through struct tbuf, rejects trailing bytes (TPMID_E_FORMAT) and leaves
 * its output cleared on failure. */
#ifndef TPMID_AGENT_PROTO_H
#define TPMID_AGENT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "agent/engine/engine.h"
#include "common/buf.h"
#include "common/util.h"

/* Hard cap on a request frame (length prefix excluded), checked before the
 * body is buffered; the same cap OpenSSH's agent uses. */
#define PROTO_REQUEST_MAX (256 * 1024)
/* Hard cap on a reply frame: a list of many identities with certificate
 * chains may exceed the request cap. */
#define PROTO_REPLY_MAX (4 * 1024 * 1024)
/* Cap on the message string of a failure reply. */
#define PROTO_ERRMSG_MAX 1024
/* Cap on the number of identities in one list reply. */
#define PROTO_LIST_MAX 65536

#define PROTO_EXT_SUFFIX "@tpmid"

/* ssh-agent message numbers used here (draft-miller-ssh-agent section
 * 6.1); the full table lives in agent/sshagent.h. */
#define PROTO_MSG_FAILURE 5
#define PROTO_MSG_EXTENSION 27
#define PROTO_MSG_EXTENSION_FAILURE 28
#define PROTO_MSG_EXTENSION_RESPONSE 29

enum proto_req {
	PROTO_REQ_NONE = 0,
	PROTO_REQ_LIST,         /* "list@tpmid" */
	PROTO_REQ_INFO,         /* "info@tpmid" */
	PROTO_REQ_IDENTITY,     /* "identity@tpmid" */
	PROTO_REQ_SIGN_DIGEST,  /* "sign-digest@tpmid" */
	PROTO_REQ_SIGN,         /* "sign@tpmid" (the agent hashes) */
	PROTO_REQ_KEYGEN,       /* "keygen@tpmid" */
	PROTO_REQ_IMPORT,       /* "import@tpmid" */
	PROTO_REQ_DELETE,       /* "delete@tpmid" */
	PROTO_REQ_UNLOCK,       /* "unlock@tpmid" */
	PROTO_REQ_LOCK,         /* "lock@tpmid" */
	PROTO_REQ_STATUS,       /* "status@tpmid" */
	PROTO_REQ_SET_CERT,     /* "set-cert@tpmid" */
	PROTO_REQ_SET_SSH_CERT, /* "set-ssh-cert@tpmid" */
	PROTO_REQ__MAX,
};

/* "list@tpmid" etc.; NULL for an out-of-range value. */
const char *proto_req_name(enum proto_req type);
/* Look an extension name up (exact match, not NUL-terminated input).
 * PROTO_REQ_NONE if it is not one of ours. */
enum proto_req proto_req_lookup(const uint8_t *name, size_t len);
/* 1 if the extension name ends in "@tpmid" (ours, known or not). */
int proto_is_tpmid_ext(const uint8_t *name, size_t len);

/* One request, decoded. Which fields are used depends on `type`
 * (PROTOCOL.md lists them); unused ones stay zero/NULL. */
struct proto_request {
	enum proto_req type;
	char *name;              /* identity; NULL for list/status, lock-all */
	uint8_t *data;           /* digest, data to sign, or key to import */
	size_t data_len;
	struct secret *pin;      /* NULL when none was sent */
	enum tpmid_curve alg;   /* keygen */
	enum engine_persist persist; /* keygen */
	uint32_t handle;         /* keygen with ENGINE_PERSIST_HANDLE */
	uint32_t timeout_s;      /* unlock */
	char *cert_pem;          /* set-cert */
	char *ca_pem;            /* set-cert, NULL = none */
	char *line;              /* set-ssh-cert */
};
/* Free and wipe everything the request holds (data is wiped: it may be an
 * imported private key). */
void proto_request_clear(struct proto_request *r);

/* One successful reply, decoded. */
struct proto_reply {
	enum proto_req type;
	struct id_info *list;    /* list */
	size_t n_list;
	struct id_info info;     /* info, keygen, import */
	char *json;              /* identity */
	uint8_t *der;            /* sign-digest, sign */
	size_t der_len;
	struct engine_status status; /* status */
};
void proto_reply_clear(struct proto_reply *r);

/* Append a request frame body (type byte + payload, no length prefix).
 * TPMID_E_INVAL if a field the request needs is missing. */
int proto_put_request(struct tbuf *out, const struct proto_request *r);
/* Decode the payload of a request of `type`; `msg` is positioned just
 * after the extension name. Trailing bytes: TPMID_E_FORMAT. */
int proto_get_request(enum proto_req type, struct tbuf *msg, struct proto_request *ret);

/* Append a success reply body (type 29, name, payload) for `r->type`. */
int proto_put_reply(struct tbuf *out, const struct proto_reply *r);
/* Append a failure reply body (type 28, code, message). `msg` NULL: the
 * fixed text for `err`. `err` must be a negative TPMID_E_* code. */
int proto_put_failure(struct tbuf *out, int err, const char *msg);

/* Decode a reply frame body to a request of `type`. Returns 0 and fills
 * `ret` on success. A failure reply returns its code with the agent's
 * message recorded by tpmid_seterr(), so the caller prints exactly what
 * direct mode prints. SSH_AGENT_FAILURE: TPMID_E_UNSUPPORTED. Anything
 * else malformed: TPMID_E_AGENT. */
int proto_get_reply(enum proto_req type, const uint8_t *body, size_t len,
    struct proto_reply *ret);

/* struct id_info and struct engine_status on the wire (PROTOCOL.md). */
int proto_put_id_info(struct tbuf *out, const struct id_info *i);
int proto_get_id_info(struct tbuf *in, struct id_info *ret);
int proto_put_status(struct tbuf *out, const struct engine_status *s);
int proto_get_status(struct tbuf *in, struct engine_status *ret);

/* Frame splitting for a connection's input buffer. If `in` starts with a
 * whole frame, point `*ret_body`/`*ret_len` at its body (inside `in`,
 * valid until `in` is modified), consume it and return 1. Return 0 when
 * more bytes are needed. TPMID_E_TOOBIG when the announced length exceeds
 * `max`, TPMID_E_FORMAT for a zero length: both are decided from the
 * 4-byte prefix alone, before the body is buffered. */
int proto_frame_next(struct tbuf *in, size_t max, const uint8_t **ret_body,
    size_t *ret_len);
/* Prepend nothing, append a whole frame: uint32 length + body. */
int proto_frame_put(struct tbuf *out, const uint8_t *body, size_t len);

#endif
