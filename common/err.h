/* tpmid's one error space.
 *
 * Every fallible function returns 0 on success or a negative TPMID_E_* code.
 * Lower layers may attach a human-readable detail with tpmid_seterr(); the
 * detail is per thread and describes the most recent failure, so the CLI and
 * the agent can print one actionable line ("wrong PIN for 'web' (2 tries left
 * before lockout)") without library code ever logging. */
#ifndef TPMID_ERR_H
#define TPMID_ERR_H

#include <stdarg.h>

enum {
	TPMID_OK = 0,
	TPMID_E_NOMEM = -1,        /* out of memory */
	TPMID_E_INVAL = -2,        /* invalid argument */
	TPMID_E_IO = -3,           /* I/O error (errno in detail) */
	TPMID_E_NOENT = -4,        /* no such identity / file */
	TPMID_E_EXISTS = -5,       /* identity already exists */
	TPMID_E_FORMAT = -6,       /* malformed file or message */
	TPMID_E_TOOBIG = -7,       /* size limit exceeded */
	TPMID_E_NOTPM = -8,        /* no TPM reachable at the TCTI */
	TPMID_E_TPM = -9,          /* other TPM failure */
	TPMID_E_BADPIN = -10,      /* wrong PIN */
	TPMID_E_LOCKOUT = -11,     /* dictionary-attack lockout */
	TPMID_E_PARENT = -12,      /* key's parent is not our SRK */
	TPMID_E_CURVE = -13,       /* unsupported curve / key type */
	TPMID_E_TPM_MEMORY = -14,  /* TPM out of object/session slots */
	TPMID_E_TPM_RESET = -15,   /* TPM restarted or connection lost */
	TPMID_E_PERM = -16,        /* permission denied */
	TPMID_E_LOCKED = -17,      /* PIN key not unlocked / agent locked */
	TPMID_E_NOAGENT = -18,     /* agent not reachable */
	TPMID_E_AGENT = -19,       /* agent refused or protocol error */
	TPMID_E_MISMATCH = -20,    /* certificate does not match the key */
	TPMID_E_UNSUPPORTED = -21, /* request not supported */
	TPMID_E_HANDLE = -22,      /* persistent handle in use / none free */
	TPMID_E_NEEDPIN = -23,     /* the key needs a PIN and none was given */
	TPMID_E_CANCELLED = -24,   /* the user cancelled (empty prompt, EOF) */
	TPMID_E_BUSY = -25,        /* resource busy (lock held, agent running) */
	TPMID_E_TIMEOUT = -26,     /* the TPM did not answer in time (stalled) */
	TPMID_E_SRK = -27,         /* the TPM's SRK is not the one recorded */
	TPMID_E__LAST = -28,
};

/* Fixed text for an error code; never NULL. */
const char *tpmid_strerror(int err);

/* Record a detail message for the current thread (printf-style). Returns
 * `err` so callers can write `return tpmid_seterr(TPMID_E_IO, "...")`. */
int tpmid_seterr(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tpmid_vseterr(int err, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Prefix the current detail with "prefix: " (adds context on the way up). */
void tpmid_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The detail for `err` if one was recorded for that code, else its fixed
 * text. Valid until the next tpmid_seterr() on this thread. */
const char *tpmid_errmsg(int err);

void tpmid_clearerr(void);

/* Keep the current detail across code that may set its own (a callback
 * run while an error is on its way up). */
#define TPMID_ERRMSG_MAX 2048 /* a detail's size, NUL included */
struct tpmid_errstate {
	int err;
	char detail[TPMID_ERRMSG_MAX];
};
void tpmid_err_save(struct tpmid_errstate *s);
void tpmid_err_restore(const struct tpmid_errstate *s);

#endif
