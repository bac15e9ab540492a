#include "config.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

/* Room for the longest messages (an SRK mismatch names two TPM names and
 * says what to do; a store mismatch names two paths); a longer one is cut
 * with "..." rather than mid-word without a sign. */
static _Thread_local char detail[TPMID_ERRMSG_MAX];
static _Thread_local int detail_err;

const char *
tpmid_strerror(int err)
{
	switch (err) {
	case TPMID_OK: return "success";
	case TPMID_E_NOMEM: return "out of memory";
	case TPMID_E_INVAL: return "invalid argument";
	case TPMID_E_IO: return "input/output error";
	case TPMID_E_NOENT: return "no such identity";
	case TPMID_E_EXISTS: return "identity already exists";
	case TPMID_E_FORMAT: return "malformed data";
	case TPMID_E_TOOBIG: return "data too large";
	case TPMID_E_NOTPM: return "no TPM reachable";
	case TPMID_E_TPM: return "TPM error";
	case TPMID_E_BADPIN: return "wrong PIN";
	case TPMID_E_LOCKOUT: return "TPM is in dictionary-attack lockout";
	case TPMID_E_PARENT: return "key does not belong under this TPM's storage root key";
	case TPMID_E_CURVE: return "unsupported key type or curve (use NIST P-256 or P-384)";
	case TPMID_E_TPM_MEMORY: return "TPM out of object or session memory";
	case TPMID_E_TPM_RESET: return "TPM was restarted or the connection to it was lost";
	case TPMID_E_PERM: return "permission denied";
	case TPMID_E_LOCKED: return "key is locked (run 'tpmid unlock NAME')";
	case TPMID_E_NOAGENT: return "agent not reachable";
	case TPMID_E_AGENT: return "agent protocol error";
	case TPMID_E_MISMATCH: return "certificate does not match the identity's key";
	case TPMID_E_UNSUPPORTED: return "operation not supported";
	case TPMID_E_HANDLE: return "persistent handle unavailable";
	case TPMID_E_NEEDPIN: return "this key needs a PIN";
	case TPMID_E_CANCELLED: return "cancelled";
	case TPMID_E_BUSY: return "resource busy";
	case TPMID_E_TIMEOUT: return "the TPM is not answering";
	case TPMID_E_SRK: return "the TPM's storage root key is not the one recorded";
	default: return "unknown error";
	}
}

int
tpmid_vseterr(int err, const char *fmt, va_list ap)
{
	char out[sizeof(detail)];

	/* Format aside first: an argument may be tpmid_errmsg(), which points
	 * into `detail` itself (wrapping a lower layer's message). */
	if (vsnprintf(out, sizeof(out), fmt, ap) >= (int)sizeof(out))
		memcpy(out + sizeof(out) - 4, "...", 4);
	memcpy(detail, out, sizeof(detail));
	detail_err = err;
	return err;
}

int
tpmid_seterr(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tpmid_vseterr(err, fmt, ap);
	va_end(ap);
	return err;
}

void
tpmid_err_prefix(const char *fmt, ...)
{
	char out[sizeof(detail)];
	size_t n;
	va_list ap;
	int w;

	if (detail_err == 0)
		return;
	va_start(ap, fmt);
	w = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	n = (size_t)w;
	/* Append ": <old detail>", truncating the tail if it does not fit. */
	if (n + 2 < sizeof(out)) {
		memcpy(out + n, ": ", 2);
		n += 2;
		size_t old = strnlen(detail, sizeof(detail) - 1);
		if (old > sizeof(out) - n - 1)
			old = sizeof(out) - n - 1;
		memcpy(out + n, detail, old);
		out[n + old] = '\0';
	}
	out[sizeof(out) - 1] = '\0';
	memcpy(detail, out, sizeof(detail));
}

const char *
tpmid_errmsg(int err)
{
	if (err != 0 && err == detail_err && detail[0] != '\0')
		return detail;
	return tpmid_strerror(err);
}

void
tpmid_clearerr(void)
{
	detail[0] = '\0';
	detail_err = 0;
}

void
tpmid_err_save(struct tpmid_errstate *s)
{
	s->err = detail_err;
	memcpy(s->detail, detail, sizeof(s->detail));
}

void
tpmid_err_restore(const struct tpmid_errstate *s)
{
	detail_err = s->err;
	memcpy(detail, s->detail, sizeof(detail));
}
