/* libtpmid-pkcs11.so: a PKCS#11 module (v2.40 API, p11-kit's pkcs11.h)
 * that forwards to tpmid-agent over its socket. No TPM code, no OpenSSL
 * (the host may have replaced its default methods), no database, no copy
 * of any key: the agent does every signature.
 *
 * Slots, each with its token (PKCS#11 has one user PIN per token, tpmid one
 * per identity, so there are two kinds):
 *  - slot 0, token "tpmid": every identity the calling uid may use, so
 *    OpenZiti's slot-less `?label=NAME&pin=PIN` form reaches all of them;
 *  - one slot per identity, token label = the identity's name (its first
 *    32 bytes), slot id = 1 + FNV-1a(name) mod 2^31-2: the same id in
 *    every process and after restarts (two names that collide: the second
 *    in name order has no slot of its own, only slot 0).
 * Per identity: a private key, a public key and (when the identity has
 * one) a certificate object, sharing CKA_LABEL = the name and CKA_ID = the
 * one the client chose at C_GenerateKeyPair, else the first 16 bytes of
 * SHA-256 over the public point.
 *
 * PINs:
 *  - C_Login keeps the PIN in this process only, in locked memory; it
 *    unlocks nothing in the agent, so another program (or ssh) gains
 *    nothing and C_Logout takes nothing from them.
 *  - C_Login checks nothing: the PIN is tried only against the key a
 *    C_Sign uses, sent with that one signature (CKR_PIN_INCORRECT,
 *    CKR_PIN_LOCKED there), never against a key it was not used for, so
 *    it costs no dictionary-attack try on another. Checking at C_Login
 *    would: ssh-agent's PKCS#11 helper logs in to every token that wants a
 *    login with the one PIN it was given, and each wrong check is a TPM
 *    dictionary-attack try on a key nobody chose. A key that refused the
 *    PIN is not tried again with the same login (CKR_PIN_INCORRECT at
 *    once) until the next C_Login on that token.
 *  - Keys without a PIN sign with or without a login, and a login on their
 *    slot succeeds with any PIN (none is sent). Their private key objects
 *    are public (CKA_PRIVATE false) and visible before login; those of PIN
 *    keys only after it (libp11 logs in when it finds none). A token has
 *    CKF_LOGIN_REQUIRED only when one of its keys needs a PIN.
 *
 * Threads: one mutex around every entry point (CKF_OS_LOCKING_OK; the TPM
 * is serial anyway). Fork: a child must call C_Initialize again (until
 * then CKR_CRYPTOKI_NOT_INITIALIZED); the parent's connection is left to
 * the parent. Agent down: the token is not present, sessions fail with
 * CKR_DEVICE_REMOVED, and the next call after it returns reconnects.
 *
 *   state.c   the module's state, the agent connection, error mapping
 *   der.c     the DER and PEM it reads and writes (no OpenSSL)
 *   object.c  the identity table and slots, attributes, C_FindObjects*
 *   sign.c    C_Sign*, mechanisms, DER <-> raw signatures
 *   create.c  C_GenerateKeyPair, C_CreateObject (certificates),
 *             C_GenerateRandom
 *   module.c  the entry points: C_Initialize, info, slot and token,
 *             sessions, login, and the function list */
#ifndef TPMID_PKCS11_P11_H
#define TPMID_PKCS11_P11_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "agent/wire/wire.h"
#include "common/curve.h"
#include "common/limits.h"
#include "common/sha2.h"
#include "common/util.h"

#define P11_SLOT_ID 0
#define P11_MAX_SESSIONS 256
/* Identities the module has seen this process: object handles index it
 * and stay valid (an identity deleted since is simply gone). */
#define P11_MAX_IDS 4096
/* CKA_ID of a key whose creator chose none: the first bytes of SHA-256
 * over its public point. */
#define P11_ID_LEN 16
#define P11_EC_POINT_MAX (2 + 1 + 2 * 48)   /* OCTET STRING { 04 X Y } */
/* Multi-part CKM_ECDSA (no hash) input is what C_SignFinal signs: it is
 * truncated to the curve's size anyway, so a little is enough. */
#define P11_RAW_MAX 512

/* A certificate handed to C_CreateObject (the agent takes up to 256 KiB of
 * PEM in a request). */
#define P11_CERT_MAX (64 * 1024)

/* Object handle = (index + 1) << 2 | kind. */
enum p11_kind { P11_PRIV = 1, P11_PUB = 2, P11_CERT = 3 };

/* Fields of a DER certificate, pointing into it. */
struct p11_cert {
	const uint8_t *subject, *issuer, *serial, *spki;
	size_t subject_len, issuer_len, serial_len, spki_len;
};

struct p11_id {
	char name[TPMID_NAME_MAX + 1];
	const struct curve_info *curve;
	int pin;                       /* the key needs a PIN */
	int present;                   /* in the agent's last list */
	CK_SLOT_ID slot;               /* its own slot, 0 = none (collision) */
	int pin_refused;               /* refused slot 0's login PIN */
	int login_refused;             /* refused its own slot's login PIN */
	struct secret *login;          /* its own slot's login PIN */
	int logged_in;                 /* its own slot is logged in */
	uint8_t point[P11_EC_POINT_MAX]; /* CKA_EC_POINT (DER OCTET STRING) */
	size_t point_len;
	uint8_t kid[P11_ID_LEN];       /* SHA-256(point)[0..16]: the token's serial */
	uint8_t id[TPMID_P11_ID_MAX];  /* CKA_ID: tpmid.pkcs11_id, else kid */
	size_t id_len;
	uint8_t *cert;                 /* DER, or NULL */
	size_t cert_len;
	struct p11_cert cf;            /* within `cert` */
};

struct p11_session {
	int open;
	CK_SLOT_ID slot;
	CK_FLAGS flags;                /* CKF_SERIAL_SESSION [| CKF_RW_SESSION] */
	/* C_FindObjects */
	int finding;
	CK_ATTRIBUTE *tmpl;            /* deep copy */
	CK_ULONG tmpl_n;
	CK_OBJECT_HANDLE *found;
	CK_ULONG n_found, next_found;
	/* C_Sign */
	int signing;
	CK_MECHANISM_TYPE mech;
	size_t key;                    /* index into the identity table */
	struct sha2 sha;               /* hashing mechanisms */
	uint8_t raw[P11_RAW_MAX];      /* CKM_ECDSA multi-part */
	size_t raw_len;
	int multi;                     /* C_SignUpdate was called */
	uint8_t *sig;                  /* a finished signature kept for the
	                                  size-query retry (5.2) */
	size_t sig_len;
};

struct client;

/* The module's state, guarded by `mu` (module.c). */
struct p11 {
	int initialized;
	pid_t pid;                     /* who called C_Initialize */
	char *socket;                  /* the agent's socket */
	struct client *client;
	struct secret *login;          /* slot 0's login PIN */
	int logged_in;                 /* slot 0 is logged in */
	struct p11_id *ids;
	size_t n_ids;
	struct p11_session sessions[P11_MAX_SESSIONS];
	char serial[17];
};

extern struct p11 p11;

/* --- state.c --- */
/* One request to the agent (connecting first when needed); the agent's
 * code, or TPMID_E_NOAGENT when it cannot be reached. */
int p11_call(const struct wire_request *q, struct wire_reply *rep);
/* CKR for a TPMID_E_* code. */
CK_RV p11_rv(int err);
struct p11_session *p11_session(CK_SESSION_HANDLE h);

/* --- der.c --- */
/* The next DER TLV of [*p, *p + *n) (definite lengths up to 4 bytes): its
 * tag and value, and optionally its whole encoding; -1 when malformed. */
int p11_der_next(const uint8_t **p, size_t *n, uint8_t *tag, const uint8_t **val, size_t *vlen,
    const uint8_t **whole, size_t *whole_len);
/* The public point of a SubjectPublicKeyInfo on curve `c`, as CKA_EC_POINT
 * (DER OCTET STRING, at most P11_EC_POINT_MAX bytes); -1 if it is not. */
int p11_spki_point(const uint8_t *spki, size_t len, const struct curve_info *c, uint8_t *point,
    size_t *point_len);
/* The first CERTIFICATE block of a PEM text, decoded (malloc'ed). */
int p11_pem_cert_der(const char *pem, uint8_t **ret, size_t *ret_len);
/* A DER certificate as PEM text (malloc'ed), or NULL. */
char *p11_der_cert_pem(const uint8_t *der, size_t len);
/* Subject, issuer, serial and key of a DER certificate; -1 if malformed. */
int p11_cert_fields(const uint8_t *der, size_t len, struct p11_cert *c);

/* --- object.c --- */
/* Refresh the identity table from the agent (list@tpmid). */
CK_RV p11_refresh(void);
/* The identity and kind an object handle names, if it is there and
 * visible to this login state. */
CK_RV p11_object(const struct p11_session *s, CK_OBJECT_HANDLE h, struct p11_id **ret_id,
    enum p11_kind *ret_kind);
/* Slot 0, or an identity's slot the agent lists now. */
int p11_slot_valid(CK_SLOT_ID slot);
/* The identity whose own slot `slot` is, or NULL (slot 0, or none). */
struct p11_id *p11_slot_id(CK_SLOT_ID slot);
/* Whether slot `slot`'s token shows a key that needs a PIN. */
int p11_any_pin(CK_SLOT_ID slot);
/* Whether `s`'s slot is logged in. */
int p11_logged_in(const struct p11_session *s);
/* A session's view: may it see identity `id` at all? */
int p11_in_slot(const struct p11_session *s, const struct p11_id *id);
void p11_ids_free(void);
void p11_find_clear(struct p11_session *s);
/* The table index of the present identity called `name`, or -1. */
ssize_t p11_id_by_name(const char *name);
/* What the entry points of the same names do, under the module lock. */
CK_RV p11_find_init(CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG);
CK_RV p11_find(CK_SESSION_HANDLE, CK_OBJECT_HANDLE_PTR, CK_ULONG, CK_ULONG_PTR);
CK_RV p11_find_final(CK_SESSION_HANDLE);
CK_RV p11_get_attributes(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG);

/* --- sign.c --- */
void p11_sign_clear(struct p11_session *s);
CK_RV p11_mechanisms(CK_SLOT_ID, CK_MECHANISM_TYPE_PTR, CK_ULONG_PTR);
CK_RV p11_mechanism_info(CK_SLOT_ID, CK_MECHANISM_TYPE, CK_MECHANISM_INFO_PTR);
CK_RV p11_sign_init(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
CK_RV p11_sign(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
CK_RV p11_sign_update(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);
CK_RV p11_sign_final(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);

/* --- create.c --- */
CK_RV p11_generate_key_pair(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
    CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR, CK_OBJECT_HANDLE_PTR);
CK_RV p11_create_object(CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR);
CK_RV p11_generate_random(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);

#endif
