/* p11.h: the module's state and its one way to the agent. The bottom of
 * the module: object.c, sign.c and module.c build on it. */
#include "config.h"

#include <string.h>

#include "agent/pkcs11/p11.h"
#include "agent/wire/client.h"
#include "common/err.h"

struct p11 p11;

CK_RV
p11_rv(int err)
{
	switch (err) {
	case 0: return CKR_OK;
	case TPMID_E_NOMEM: return CKR_HOST_MEMORY;
	case TPMID_E_BADPIN: return CKR_PIN_INCORRECT;
	case TPMID_E_LOCKOUT: return CKR_PIN_LOCKED;
	case TPMID_E_LOCKED: case TPMID_E_NEEDPIN: return CKR_USER_NOT_LOGGED_IN;
	case TPMID_E_NOENT: return CKR_KEY_HANDLE_INVALID;
	case TPMID_E_PERM: return CKR_KEY_FUNCTION_NOT_PERMITTED;
	case TPMID_E_NOAGENT: return CKR_DEVICE_REMOVED;
	case TPMID_E_TOOBIG: return CKR_DATA_LEN_RANGE;
	case TPMID_E_NOTPM: case TPMID_E_TPM: case TPMID_E_TPM_RESET:
	case TPMID_E_TPM_MEMORY: case TPMID_E_TIMEOUT: return CKR_DEVICE_ERROR;
	default: return CKR_FUNCTION_FAILED;
	}
}

int
p11_call(const struct wire_request *q, struct wire_reply *rep)
{
	int r;

	memset(rep, 0, sizeof(*rep));
	if (p11.client == NULL && client_connect(p11.socket, &p11.client) < 0)
		return TPMID_E_NOAGENT;
	r = client_call(p11.client, q, rep);
	if (r == TPMID_E_AGENT) {
		/* Lost, timed out or garbled: this client is done; the next
		 * call dials again (the agent may have restarted). */
		client_free(p11.client);
		p11.client = NULL;
		return TPMID_E_NOAGENT;
	}
	return r;
}

struct p11_session *
p11_session(CK_SESSION_HANDLE h)
{
	if (h == 0 || h > P11_MAX_SESSIONS || !p11.sessions[h - 1].open)
		return NULL;
	return &p11.sessions[h - 1];
}

