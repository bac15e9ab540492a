/* The agent protocol (PROTOCOL.md): its types, limits and codec.
 *
 * Framing is the ssh-agent one (draft-miller-ssh-agent section 3):
 * `uint32 length, byte type, byte[length - 1] payload`. tpmid's own
 * requests are SSH_AGENTC_EXTENSION (27) messages named "<request>@tpmid"
 * (section 3.8), listed in requests.h; the agent answers
 *
 *   success: byte SSH_AGENT_EXTENSION_RESPONSE (29), string name, payload
 *   failure: byte SSH_AGENT_EXTENSION_FAILURE (28), uint32 code (a negative
 *            TPMID_E_* as two's complement int32), string message
 *
 * and SSH_AGENT_FAILURE (5) for extensions it does not know.
 *
 * This room depends on common/ alone (no OpenSSL, json-c or tpm2-tss) and
 * is built position-independent, so the CLI, the daemon and a PKCS#11
 * module in someone else's process can all link it. Every decoder reads
 * through struct tbuf, rejects trailing bytes (TPMID_E_FORMAT) and leaves
 * its output cleared on failure. */
#ifndef TPMID_WIRE_H
#define TPMID_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/wire/requests.h"
#include "agent/wire/sshmsg.h"
#include "common/buf.h"
#include "common/curve.h"
#include "common/limits.h"
#include "common/util.h"

/* Hard cap on a request frame (length prefix excluded), checked before the
 * body is buffered; the same cap OpenSSH's agent uses. */
#define WIRE_REQUEST_MAX (256 * 1024)
/* Hard cap on a reply frame: a list of many identities with certificate
 * chains may exceed the request cap. */
#define WIRE_REPLY_MAX (4 * 1024 * 1024)
/* Cap on the message string of a failure reply. */
#define WIRE_ERRMSG_MAX 1024
/* Cap on the number of identities in one list reply. */
#define WIRE_LIST_MAX 65536

#define WIRE_EXT_SUFFIX "@tpmid"

/* --- the request table's vocabulary (requests.h) --------------------- */

/* Request fields, each with its wire encoding (PROTOCOL.md 2.3). */
enum wire_field {
	WF_END = 0,
	WF_NAME,     /* string name, required */
	WF_NAME_OPT, /* string name, empty = none */
	WF_DATA,     /* string bytes: digest, data, key */
	WF_PIN,      /* string pin, empty = none; received into locked memory */
	WF_ALG,      /* uint32 curve (common/curve.h values) */
	WF_PERSIST,  /* uint32 enum persist_mode; unknown values are malformed */
	WF_HANDLE,   /* uint32 persistent handle */
	WF_TIMEOUT,  /* uint32 seconds */
	WF_CERT,     /* string PEM, required */
	WF_CA_OPT,   /* string PEM, empty = none */
	WF_LINE,     /* string OpenSSH certificate line, required */
	WF_FLAG,     /* byte 0 or 1 */
	WF_NEWPIN,   /* string new pin, empty = none; locked memory, like WF_PIN */
};
#define WIRE_FIELDS_MAX 6
#define WIRE_FIELDS(...) { __VA_ARGS__ }

enum wire_reply_kind {
	WIRE_REPLY_NONE,   /* nothing after the echoed name */
	WIRE_REPLY_LIST,   /* uint32 n, n x id_info */
	WIRE_REPLY_INFO,   /* id_info */
	WIRE_REPLY_TEXT,   /* string text */
	WIRE_REPLY_DER,    /* string signature (non-empty) */
	WIRE_REPLY_STATUS, /* status */
};

/* Who may send a request (PROTOCOL.md section 3). */
enum wire_access {
	WIRE_ACCESS_ANY,      /* any peer the socket admits */
	WIRE_ACCESS_IDENTITY, /* the identity's allowed uids/gids, owner, root */
	WIRE_ACCESS_OWNER,    /* the agent's uid and root */
};

#define WIRE_SLOW 0x1     /* may take seconds on a hardware TPM: client waits longer */
#define WIRE_USES_KEY 0x2 /* uses a key: refused while the agent is locked */
#define WIRE_USES_TPM 0x4 /* talks to the TPM: the agent runs it in its TPM
			   * worker, bounded by --tpm-timeout */

enum wire_req {
	WIRE_REQ_NONE = 0,
#define X(ID, id, name, fields, reply, access, flags) WIRE_REQ_##ID,
	WIRE_REQUESTS(X)
#undef X
	WIRE_REQ__MAX,
};

struct wire_req_desc {
	const char *name;                      /* "sign-digest@tpmid" */
	enum wire_field fields[WIRE_FIELDS_MAX];
	enum wire_reply_kind reply;
	enum wire_access access;
	unsigned flags;                        /* WIRE_SLOW, WIRE_USES_KEY, WIRE_USES_TPM */
};

/* The table entry for `type`; NULL for WIRE_REQ_NONE or out of range. */
const struct wire_req_desc *wire_req_desc(enum wire_req type);
/* "list@tpmid" etc.; NULL for an out-of-range value. */
const char *wire_req_name(enum wire_req type);
/* Look an extension name up (exact match, not NUL-terminated input).
 * WIRE_REQ_NONE if it is not one of ours. */
enum wire_req wire_req_lookup(const uint8_t *name, size_t len);
/* 1 if the extension name ends in "@tpmid" (ours, known or not). */
int wire_is_tpmid_ext(const uint8_t *name, size_t len);

/* --- what travels ----------------------------------------------------- */

enum persist_mode {
	PERSIST_NO = 0,
	PERSIST_AUTO = 1,   /* first free handle from TPMID_PERSIST_FIRST */
	PERSIST_HANDLE = 2, /* the given handle */
};

/* One identity as list/info/keygen/import return it (PROTOCOL.md 2.2). */
struct id_info {
	char name[TPMID_NAME_MAX + 1];
	enum tpmid_curve alg;
	int pin;           /* the key needs a PIN */
	int unlocked;      /* the agent holds its PIN */
	uint32_t handle;   /* persistent handle or 0 */
	uint8_t *spki;     /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	char *cert_pem;    /* X.509 certificate (PEM) or NULL */
	char *ca_pem;      /* CA bundle (PEM) or NULL */
	char *ssh_cert;    /* OpenSSH certificate line or NULL */
	char *error;       /* set for a malformed identity file: only name valid */
	int ssh_hidden;    /* not listed to ssh (tpmid.ssh false) */
	uint8_t *pkcs11_id; /* CKA_ID a PKCS#11 client chose, or NULL */
	size_t pkcs11_id_len;
};
void id_info_clear(struct id_info *i);
void id_info_free_array(struct id_info *a, size_t n);

/* The agent's (or the direct engine's) state, as status returns it. */
#define WIRE_ORPHANS_MAX 16
struct status_info {
	int tpm_ok;             /* TPM reachable right now */
	char tcti[256];
	char store[4096];       /* absolute store directory (PATH_MAX) */
	unsigned identities;
	unsigned loaded;        /* keys currently loaded by us */
	unsigned max_loaded;
	unsigned unlocked;      /* PIN keys with a held PIN */
	uint64_t signs;         /* signatures made since start */
	uint64_t tpm_resets;    /* TPM resets seen (its reset/restart count changed) */
	unsigned n_orphans;     /* persistent handles in tpmid's range no identity
				 * records (only the first WIRE_ORPHANS_MAX listed) */
	uint32_t orphan[WIRE_ORPHANS_MAX];
};

/* One request, decoded. Which fields are used depends on `type` (its
 * field list in requests.h); unused ones stay zero/NULL. */
struct wire_request {
	enum wire_req type;
	char *name;              /* identity; NULL for list/status, lock-all */
	uint8_t *data;           /* digest, data to sign, key to import, or
	                            keygen-pkcs11's CKA_ID */
	size_t data_len;
	struct secret *pin;      /* NULL when none was sent */
	struct secret *new_pin;  /* passwd: NULL = no PIN */
	enum tpmid_curve alg;    /* keygen */
	enum persist_mode persist; /* keygen */
	uint32_t handle;         /* keygen with PERSIST_HANDLE */
	uint32_t timeout_s;      /* unlock */
	int flag;                /* set-ssh: offer to ssh */
	char *cert_pem;          /* set-cert */
	char *ca_pem;            /* set-cert, NULL = none */
	char *line;              /* set-ssh-cert */
};
/* Free and wipe everything the request holds (data is wiped: it may be an
 * imported private key). */
void wire_request_clear(struct wire_request *r);

/* One successful reply. Which member is set depends on the request's reply
 * kind. Filled by the codec (client) or the engine (agent, direct mode);
 * wire_reply_clear() frees either. */
struct wire_reply {
	enum wire_req type;
	struct id_info *list;    /* WIRE_REPLY_LIST */
	size_t n_list;
	struct id_info info;     /* WIRE_REPLY_INFO */
	char *text;              /* WIRE_REPLY_TEXT */
	uint8_t *der;            /* WIRE_REPLY_DER */
	size_t der_len;
	struct status_info status; /* WIRE_REPLY_STATUS */
};
void wire_reply_clear(struct wire_reply *r);

/* --- codec (codec.c) -------------------------------------------------- */

/* Append a request frame body (type byte + payload, no length prefix).
 * TPMID_E_INVAL if a field the request needs is missing. */
int wire_put_request(struct tbuf *out, const struct wire_request *r);
/* Decode the payload of a request of `type`; `msg` is positioned just
 * after the extension name. Trailing bytes: TPMID_E_FORMAT. */
int wire_get_request(enum wire_req type, struct tbuf *msg, struct wire_request *ret);

/* Append a success reply body (type 29, name, payload) for `r->type`. */
int wire_put_reply(struct tbuf *out, const struct wire_reply *r);
/* Append a failure reply body (type 28, code, message). `msg` NULL: the
 * fixed text for `err`. `err` must be a negative TPMID_E_* code. */
int wire_put_failure(struct tbuf *out, int err, const char *msg);

/* Decode a reply frame body to a request of `type`. Returns 0 and fills
 * `ret` on success. A failure reply returns its code with the agent's
 * message recorded by tpmid_seterr(), so the caller prints exactly what
 * direct mode prints. SSH_AGENT_FAILURE: TPMID_E_UNSUPPORTED. Anything
 * else malformed: TPMID_E_AGENT. */
int wire_get_reply(enum wire_req type, const uint8_t *body, size_t len,
    struct wire_reply *ret);

/* struct id_info and struct status_info on the wire (PROTOCOL.md 2.2). */
int wire_put_id_info(struct tbuf *out, const struct id_info *i);
int wire_get_id_info(struct tbuf *in, struct id_info *ret);
int wire_put_status(struct tbuf *out, const struct status_info *s);
int wire_get_status(struct tbuf *in, struct status_info *ret);

/* --- framing (frame.c) ------------------------------------------------- */

/* The body length announced by a 4-byte prefix. TPMID_E_FORMAT for 0
 * (every message has a type byte), TPMID_E_TOOBIG above `max`: decided
 * before a body byte is buffered. */
int wire_frame_len(const uint8_t prefix[4], size_t max, uint32_t *ret);
/* Bytes still missing for the frame at the front of `in`: 0 when a whole
 * frame is buffered; negative (wire_frame_len) when its length is refused. */
int wire_frame_missing(const struct tbuf *in, size_t max, size_t *ret);
/* If `in` starts with a whole frame, point `*ret_body`/`*ret_len` at its
 * body (inside `in`, valid until `in` is modified), consume it and return
 * 1. Return 0 when more bytes are needed; negative as wire_frame_len. */
int wire_frame_next(struct tbuf *in, size_t max, const uint8_t **ret_body,
    size_t *ret_len);
/* Append a whole frame: uint32 length + body. */
int wire_frame_put(struct tbuf *out, const uint8_t *body, size_t len);

#endif
