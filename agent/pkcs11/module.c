/* p11.h: general functions, slot and token, sessions, login, and the
 * function list. Every entry point takes the module mutex. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pkcs11/p11.h"
#include "agent/wire/client.h"
#include "common/err.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Every entry point holds the module lock from its first use of the
 * state to its return: `_cleanup_unlock_ pthread_mutex_t *held = lock();`. */
static pthread_mutex_t *
lock(void)
{
	pthread_mutex_lock(&mu);
	return &mu;
}

static void
unlockp(pthread_mutex_t **m)
{
	if (*m != NULL)
		pthread_mutex_unlock(*m);
}
#define _cleanup_unlock_ _cleanup_(unlockp)

/* Entered with the mutex held: is the module usable by this process? */
static CK_RV
ready(void)
{
	if (!p11.initialized || p11.pid != getpid())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	return CKR_OK;
}

/* Space-padded, not NUL-terminated (PKCS#11 section 3.2 UTF8 fields). */
static void
pad(unsigned char *dst, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(dst, ' ', n);
	memcpy(dst, s, l < n ? l : n);
}

/* Log slot `slot` out (PKCS#11: a login belongs to a token). */
static void
logout(CK_SLOT_ID slot)
{
	struct p11_id *id;
	size_t i;

	if (slot != P11_SLOT_ID) {
		for (i = 0; i < p11.n_ids; i++)
			if (p11.ids[i].slot == slot) {
				id = &p11.ids[i];
				secret_free(id->login);
				id->login = NULL;
				id->logged_in = id->login_refused = 0;
			}
		return;
	}
	secret_free(p11.login);
	p11.login = NULL;
	p11.logged_in = 0;
	for (i = 0; i < p11.n_ids; i++)
		p11.ids[i].pin_refused = 0;
}

/* Slot `slot` exists and the agent answers: CKR_OK, else the CKR. The
 * identity behind an identity slot into *ret_id (NULL for slot 0). */
static CK_RV
slot_check(CK_SLOT_ID slot, struct p11_id **ret_id)
{
	CK_RV rv = p11_refresh();

	*ret_id = NULL;
	if (slot != P11_SLOT_ID && (*ret_id = p11_slot_id(slot)) == NULL)
		return CKR_SLOT_ID_INVALID;
	return rv == CKR_OK ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
}

static void
session_clear(struct p11_session *s)
{
	p11_find_clear(s);
	p11_sign_clear(s);
	memset(s, 0, sizeof(*s));
}

/* Drop everything. In a forked child the connection is the parent's:
 * client_free() only closes the child's copy of the descriptor. */
static void
reset(void)
{
	size_t i;

	for (i = 0; i < P11_MAX_SESSIONS; i++)
		session_clear(&p11.sessions[i]);
	logout(P11_SLOT_ID);
	p11_ids_free(); /* and every identity slot's login */
	if (p11.client != NULL)
		client_free(p11.client);
	free(p11.socket);
	memset(&p11, 0, sizeof(p11));
}

/* ---- general (PKCS#11 section 5.4) ------------------------------------ */

static CK_RV
m_Initialize(CK_VOID_PTR init_args)
{
	CK_C_INITIALIZE_ARGS *a = init_args;
	uint8_t h[SHA256_DIGEST_LEN];
	struct sha2 c;
	CK_RV rv = CKR_OK;
	size_t i;

	if (a != NULL) {
		if (a->pReserved != NULL)
			return CKR_ARGUMENTS_BAD;
		/* Either all four callbacks or none (5.4); with them we still
		 * use our own (OS) locking, which CKF_OS_LOCKING_OK allows;
		 * without that flag the application promised no threads. */
		if (!((a->CreateMutex == NULL && a->DestroyMutex == NULL && a->LockMutex == NULL &&
		    a->UnlockMutex == NULL) || (a->CreateMutex != NULL && a->DestroyMutex != NULL &&
		    a->LockMutex != NULL && a->UnlockMutex != NULL)))
			return CKR_ARGUMENTS_BAD;
		if (a->CreateMutex != NULL && !(a->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
	}
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if (p11.initialized && p11.pid == getpid())
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	if (p11.initialized)
		reset(); /* a forked child starts over */
	if ((p11.socket = client_default_socket()) == NULL)
		return CKR_HOST_MEMORY;
	/* A stable serial for the token: the agent it stands for. */
	sha2_init(&c, SHA256_DIGEST_LEN);
	sha2_update(&c, p11.socket, strlen(p11.socket));
	sha2_final(&c, h);
	for (i = 0; i < 8; i++)
		snprintf(p11.serial + 2 * i, 3, "%02x", h[i]);
	p11.pid = getpid();
	p11.initialized = 1;
	return rv;
}

static CK_RV
m_Finalize(CK_VOID_PTR reserved)
{
	CK_RV rv;

	if (reserved != NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) == CKR_OK)
		reset();
	return rv;
}

static CK_RV
m_GetInfo(CK_INFO_PTR info)
{
	CK_RV rv;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) == CKR_OK) {
		memset(info, 0, sizeof(*info));
		info->cryptokiVersion.major = 2;
		info->cryptokiVersion.minor = 40;
		pad(info->manufacturerID, sizeof(info->manufacturerID), "tpmid");
		pad(info->libraryDescription, sizeof(info->libraryDescription),
		    "tpmid-agent (TPM 2.0 keys)");
		info->libraryVersion.major = 0;
		info->libraryVersion.minor = 1;
	}
	return rv;
}

/* ---- slot and token (section 5.5) ------------------------------------- */

static CK_RV
m_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG n = 1, k;
	size_t i;
	CK_RV rv;

	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	/* Slot 0 is always there, its token present while the agent answers;
	 * an identity's slot is there while the agent lists it. */
	if (p11_refresh() != CKR_OK) {
		if (token_present)
			n = 0;
		else if (list != NULL && *count < 1)
			rv = CKR_BUFFER_TOO_SMALL;
		else if (list != NULL)
			list[0] = P11_SLOT_ID;
		*count = n;
		return rv;
	}
	for (i = 0; i < p11.n_ids; i++)
		n += p11.ids[i].present && p11.ids[i].slot != 0;
	if (list != NULL && *count < n)
		rv = CKR_BUFFER_TOO_SMALL;
	else if (list != NULL) {
		list[0] = P11_SLOT_ID;
		for (i = 0, k = 1; i < p11.n_ids; i++)
			if (p11.ids[i].present && p11.ids[i].slot != 0)
				list[k++] = p11.ids[i].slot;
	}
	*count = n;
	return rv;
}

static CK_RV
m_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	struct p11_id *id;
	CK_RV rv;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if ((rv = slot_check(slot, &id)) == CKR_SLOT_ID_INVALID)
		return rv;
	memset(info, 0, sizeof(*info));
	pad(info->slotDescription, sizeof(info->slotDescription), id != NULL ? id->name :
	    "tpmid-agent: every identity");
	pad(info->manufacturerID, sizeof(info->manufacturerID), "tpmid");
	info->flags = CKF_REMOVABLE_DEVICE;
	if (rv == CKR_OK)
		info->flags |= CKF_TOKEN_PRESENT;
	rv = CKR_OK;
	info->hardwareVersion.major = 2;
	return rv;
}

static CK_RV
m_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	struct p11_id *id;
	char serial[17];
	CK_RV rv;
	size_t i, n = 0;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if ((rv = slot_check(slot, &id)) != CKR_OK)
		return rv;
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		n += p11.sessions[i].open && p11.sessions[i].slot == slot;
	memset(info, 0, sizeof(*info));
	pad(info->label, sizeof(info->label), id != NULL ? id->name : "tpmid");
	pad(info->manufacturerID, sizeof(info->manufacturerID), "tpmid");
	pad(info->model, sizeof(info->model), id != NULL ? "TPM 2.0 key" : "TPM 2.0 agent");
	if (id != NULL)
		for (i = 0; i < 8; i++)
			snprintf(serial + 2 * i, 3, "%02x", id->kid[i]);
	pad(info->serialNumber, sizeof(info->serialNumber), id != NULL ? serial : p11.serial);
	info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_RNG;
	/* Keys are made on slot 0's token only (create.c), but an identity's
	 * token is not flagged write-protected: that would refuse the RW
	 * sessions tlsuv opens on every slot. */
	if (p11_any_pin(slot))
		info->flags |= CKF_LOGIN_REQUIRED;
	info->ulMaxSessionCount = P11_MAX_SESSIONS;
	info->ulSessionCount = n;
	info->ulMaxRwSessionCount = P11_MAX_SESSIONS;
	info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxPinLen = TPMID_PIN_MAX;
	info->ulMinPinLen = 0;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 2;
	info->firmwareVersion.major = 0;
	info->firmwareVersion.minor = 1;
	return rv;
}

/* ---- sessions (section 5.6) ------------------------------------------- */

static CK_RV
m_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
    CK_SESSION_HANDLE_PTR ret)
{
	struct p11_id *id;
	CK_RV rv;
	size_t i;

	(void)app;
	(void)notify; /* no callbacks are ever made */
	if (ret == NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if ((rv = slot_check(slot, &id)) != CKR_OK)
		return rv;
	for (i = 0; i < P11_MAX_SESSIONS && p11.sessions[i].open; i++)
		;
	if (i == P11_MAX_SESSIONS)
		return CKR_SESSION_COUNT;
	memset(&p11.sessions[i], 0, sizeof(p11.sessions[i]));
	p11.sessions[i].open = 1;
	p11.sessions[i].slot = slot;
	p11.sessions[i].flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	*ret = i + 1;
	return rv;
}

static CK_RV
m_CloseSession(CK_SESSION_HANDLE h)
{
	struct p11_session *s;
	CK_SLOT_ID slot;
	CK_RV rv;
	size_t i, n = 0;

	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	slot = s->slot;
	session_clear(s);
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		n += p11.sessions[i].open && p11.sessions[i].slot == slot;
	if (n == 0)
		logout(slot); /* section 5.6: the token's last session logs out */
	return rv;
}

static CK_RV
m_CloseAllSessions(CK_SLOT_ID slot)
{
	CK_RV rv;
	size_t i;

	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if (!p11_slot_valid(slot))
		return CKR_SLOT_ID_INVALID;
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		if (p11.sessions[i].open && p11.sessions[i].slot == slot)
			session_clear(&p11.sessions[i]);
	logout(slot);
	return rv;
}

static CK_RV
m_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct p11_session *s;
	CK_RV rv;

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	memset(info, 0, sizeof(*info));
	info->slotID = s->slot;
	info->flags = s->flags;
	if (s->flags & CKF_RW_SESSION)
		info->state = p11_logged_in(s) ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION;
	else
		info->state = p11_logged_in(s) ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
	return rv;
}

/* ---- login (section 5.6) ---------------------------------------------- */

static CK_RV
m_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	struct p11_session *s;
	struct p11_id *id = NULL;
	_cleanup_secret_ struct secret *sec = NULL;
	CK_RV rv;
	size_t i;

	if (pin == NULL && pin_len > 0)
		return CKR_ARGUMENTS_BAD;
	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if ((s = p11_session(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	if (user == CKU_SO) {
		/* There is no security officer: the store's owner manages
		 * identities with the tpmid command. */
		rv = CKR_PIN_INCORRECT;
		return rv;
	}
	if (user != CKU_USER && user != CKU_CONTEXT_SPECIFIC)
		return CKR_USER_TYPE_INVALID;
	if (s->slot != P11_SLOT_ID && (id = p11_slot_id(s->slot)) == NULL)
		return CKR_DEVICE_REMOVED;
	if (user == CKU_USER && p11_logged_in(s))
		return CKR_USER_ALREADY_LOGGED_IN;
	if (pin == NULL) {
		/* A protected authentication path: there is none. */
		rv = CKR_ARGUMENTS_BAD;
		return rv;
	}
	if (pin_len > TPMID_PIN_MAX || memchr(pin, '\0', pin_len) != NULL)
		return CKR_PIN_LEN_RANGE;
	if ((sec = secret_new(pin, pin_len)) == NULL)
		return CKR_HOST_MEMORY;
	if (id != NULL) {
		/* Kept unchecked, as on slot 0 (p11.h): tried with the
		 * first signature. A key without a PIN is never sent one. */
		secret_free(id->login);
		id->login = sec;
		sec = NULL;
		id->login_refused = 0;
		id->logged_in = 1;
		return rv;
	}
	secret_free(p11.login);
	p11.login = sec;
	sec = NULL;
	for (i = 0; i < p11.n_ids; i++)
		p11.ids[i].pin_refused = 0;
	p11.logged_in = 1;
	return rv;
}

static CK_RV
m_Logout(CK_SESSION_HANDLE h)
{
	struct p11_session *s;
	CK_RV rv;

	_cleanup_unlock_ pthread_mutex_t *held = lock();

	if ((rv = ready()) != CKR_OK)
		return rv;
	if ((s = p11_session(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!p11_logged_in(s))
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		logout(s->slot);
	return rv;
}

/* ---- the rest, under the module lock ---------------------------------- */

#define LOCKED(call) do { \
		_cleanup_unlock_ pthread_mutex_t *held = lock(); \
		CK_RV rv_ = ready(); \
		\
		return rv_ == CKR_OK ? (call) : rv_; \
	} while (0)

static CK_RV
m_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	LOCKED(p11_find_init(h, t, n));
}

static CK_RV
m_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR n)
{
	LOCKED(p11_find(h, o, max, n));
}

static CK_RV
m_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	LOCKED(p11_find_final(h));
}

static CK_RV
m_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	LOCKED(p11_get_attributes(h, o, t, n));
}

static CK_RV
m_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n)
{
	LOCKED(p11_mechanisms(slot, list, n));
}

static CK_RV
m_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	LOCKED(p11_mechanism_info(slot, type, info));
}

static CK_RV
m_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	LOCKED(p11_sign_init(h, m, key));
}

static CK_RV
m_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	LOCKED(p11_sign(h, data, len, sig, sig_len));
}

static CK_RV
m_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len)
{
	LOCKED(p11_sign_update(h, part, len));
}

static CK_RV
m_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	LOCKED(p11_sign_final(h, sig, sig_len));
}

static CK_RV
m_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG n_pub,
    CK_ATTRIBUTE_PTR priv, CK_ULONG n_priv, CK_OBJECT_HANDLE_PTR ret_pub,
    CK_OBJECT_HANDLE_PTR ret_priv)
{
	LOCKED(p11_generate_key_pair(h, m, pub, n_pub, priv, n_priv, ret_pub, ret_priv));
}

static CK_RV
m_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
	LOCKED(p11_create_object(h, t, n, ret));
}

static CK_RV
m_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
	LOCKED(p11_generate_random(h, out, len));
}

static CK_RV
m_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
	(void)seed;
	(void)len;
	_cleanup_unlock_ pthread_mutex_t *held = lock();
	CK_RV rv = ready();

	if (rv == CKR_OK && p11_session(h) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	return rv == CKR_OK ? CKR_RANDOM_SEED_NOT_SUPPORTED : rv;
}

static CK_RV
m_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ULONG_PTR size)
{
	(void)h;
	(void)o;
	if (size == NULL)
		return CKR_ARGUMENTS_BAD;
	return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV
m_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	(void)flags;
	(void)slot;
	(void)reserved;
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* Every function tpmid does not offer (section 5: "not supported"). The
 * table below points each at one of these by its argument shape. */
#define NS(name, ...) static CK_RV name(__VA_ARGS__) { return CKR_FUNCTION_NOT_SUPPORTED; }
#define U __attribute__((unused))
NS(ns_init_token, U CK_SLOT_ID a, U CK_UTF8CHAR_PTR b, U CK_ULONG c, U CK_UTF8CHAR_PTR d)
NS(ns_init_pin, U CK_SESSION_HANDLE a, U CK_UTF8CHAR_PTR b, U CK_ULONG c)
NS(ns_set_pin, U CK_SESSION_HANDLE a, U CK_UTF8CHAR_PTR b, U CK_ULONG c, U CK_UTF8CHAR_PTR d,
    U CK_ULONG e)
NS(ns_op_state_get, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG_PTR c)
NS(ns_op_state_set, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG c, U CK_OBJECT_HANDLE d,
    U CK_OBJECT_HANDLE e)
NS(ns_copy, U CK_SESSION_HANDLE a, U CK_OBJECT_HANDLE b, U CK_ATTRIBUTE_PTR c, U CK_ULONG d,
    U CK_OBJECT_HANDLE_PTR e)
NS(ns_destroy, U CK_SESSION_HANDLE a, U CK_OBJECT_HANDLE b)
NS(ns_set_attr, U CK_SESSION_HANDLE a, U CK_OBJECT_HANDLE b, U CK_ATTRIBUTE_PTR c, U CK_ULONG d)
NS(ns_op_init, U CK_SESSION_HANDLE a, U CK_MECHANISM_PTR b, U CK_OBJECT_HANDLE c)
NS(ns_op, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG c, U CK_BYTE_PTR d, U CK_ULONG_PTR e)
NS(ns_op_final, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG_PTR c)
NS(ns_digest_init, U CK_SESSION_HANDLE a, U CK_MECHANISM_PTR b)
NS(ns_update, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG c)
NS(ns_digest_key, U CK_SESSION_HANDLE a, U CK_OBJECT_HANDLE b)
NS(ns_verify, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG c, U CK_BYTE_PTR d, U CK_ULONG e)
NS(ns_verify_final, U CK_SESSION_HANDLE a, U CK_BYTE_PTR b, U CK_ULONG c)
NS(ns_genkey, U CK_SESSION_HANDLE a, U CK_MECHANISM_PTR b, U CK_ATTRIBUTE_PTR c, U CK_ULONG d,
    U CK_OBJECT_HANDLE_PTR e)
NS(ns_wrap, U CK_SESSION_HANDLE a, U CK_MECHANISM_PTR b, U CK_OBJECT_HANDLE c,
    U CK_OBJECT_HANDLE d, U CK_BYTE_PTR e, U CK_ULONG_PTR f)
NS(ns_unwrap, U CK_SESSION_HANDLE a, U CK_MECHANISM_PTR b, U CK_OBJECT_HANDLE c, U CK_BYTE_PTR d,
    U CK_ULONG e, U CK_ATTRIBUTE_PTR f, U CK_ULONG g, U CK_OBJECT_HANDLE_PTR h)
NS(ns_derive, U CK_SESSION_HANDLE a, U CK_MECHANISM_PTR b, U CK_OBJECT_HANDLE c,
    U CK_ATTRIBUTE_PTR d, U CK_ULONG e, U CK_OBJECT_HANDLE_PTR f)
NS(ns_session, U CK_SESSION_HANDLE a)

static CK_FUNCTION_LIST functions = {
	.version = { 2, 40 },
	.C_Initialize = m_Initialize,
	.C_Finalize = m_Finalize,
	.C_GetInfo = m_GetInfo,
	.C_GetFunctionList = C_GetFunctionList,
	.C_GetSlotList = m_GetSlotList,
	.C_GetSlotInfo = m_GetSlotInfo,
	.C_GetTokenInfo = m_GetTokenInfo,
	.C_GetMechanismList = m_GetMechanismList,
	.C_GetMechanismInfo = m_GetMechanismInfo,
	.C_InitToken = ns_init_token,
	.C_InitPIN = ns_init_pin,
	.C_SetPIN = ns_set_pin,
	.C_OpenSession = m_OpenSession,
	.C_CloseSession = m_CloseSession,
	.C_CloseAllSessions = m_CloseAllSessions,
	.C_GetSessionInfo = m_GetSessionInfo,
	.C_GetOperationState = ns_op_state_get,
	.C_SetOperationState = ns_op_state_set,
	.C_Login = m_Login,
	.C_Logout = m_Logout,
	.C_CreateObject = m_CreateObject,
	.C_CopyObject = ns_copy,
	.C_DestroyObject = ns_destroy,
	.C_GetObjectSize = m_GetObjectSize,
	.C_GetAttributeValue = m_GetAttributeValue,
	.C_SetAttributeValue = ns_set_attr,
	.C_FindObjectsInit = m_FindObjectsInit,
	.C_FindObjects = m_FindObjects,
	.C_FindObjectsFinal = m_FindObjectsFinal,
	.C_EncryptInit = ns_op_init,
	.C_Encrypt = ns_op,
	.C_EncryptUpdate = ns_op,
	.C_EncryptFinal = ns_op_final,
	.C_DecryptInit = ns_op_init,
	.C_Decrypt = ns_op,
	.C_DecryptUpdate = ns_op,
	.C_DecryptFinal = ns_op_final,
	.C_DigestInit = ns_digest_init,
	.C_Digest = ns_op,
	.C_DigestUpdate = ns_update,
	.C_DigestKey = ns_digest_key,
	.C_DigestFinal = ns_op_final,
	.C_SignInit = m_SignInit,
	.C_Sign = m_Sign,
	.C_SignUpdate = m_SignUpdate,
	.C_SignFinal = m_SignFinal,
	.C_SignRecoverInit = ns_op_init,
	.C_SignRecover = ns_op,
	.C_VerifyInit = ns_op_init,
	.C_Verify = ns_verify,
	.C_VerifyUpdate = ns_update,
	.C_VerifyFinal = ns_verify_final,
	.C_VerifyRecoverInit = ns_op_init,
	.C_VerifyRecover = ns_op,
	.C_DigestEncryptUpdate = ns_op,
	.C_DecryptDigestUpdate = ns_op,
	.C_SignEncryptUpdate = ns_op,
	.C_DecryptVerifyUpdate = ns_op,
	.C_GenerateKey = ns_genkey,
	.C_GenerateKeyPair = m_GenerateKeyPair,
	.C_WrapKey = ns_wrap,
	.C_UnwrapKey = ns_unwrap,
	.C_DeriveKey = ns_derive,
	.C_SeedRandom = m_SeedRandom,
	.C_GenerateRandom = m_GenerateRandom,
	.C_GetFunctionStatus = ns_session,
	.C_CancelFunction = ns_session,
	.C_WaitForSlotEvent = m_WaitForSlotEvent,
};

TPMID_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	if (ret == NULL)
		return CKR_ARGUMENTS_BAD;
	*ret = &functions;
	return CKR_OK;
}
