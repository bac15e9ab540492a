/* p11args MODULE: every entry point of the module's function list with
 * bad arguments (cmocka; pkcs11-tool.sh runs it against an agent that has
 * a no-PIN P-256 identity "k"). One table names all 68 functions of
 * PKCS#11 v2.40 and says which take a session and which tpmid does not
 * offer; the tests walk it:
 *  - before C_Initialize everything answers CKR_CRYPTOKI_NOT_INITIALIZED
 *    (or CKR_FUNCTION_NOT_SUPPORTED for what is not offered at all);
 *  - a session handle that is not open: CKR_SESSION_HANDLE_INVALID;
 *  - NULL where a pointer is needed: CKR_ARGUMENTS_BAD;
 *  - buffers too small: CKR_BUFFER_TOO_SMALL with the size told (5.2),
 *    and a signature operation still active after it;
 *  - C_Initialize's own argument rules (5.4), and after C_Finalize the
 *    module is uninitialized again. */
#include "config.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *f;
static const char *module;

/* What a call gets to work with. */
static CK_SESSION_HANDLE s;
static CK_SLOT_ID slot;
static CK_INFO info;
static CK_SLOT_INFO si;
static CK_TOKEN_INFO ti;
static CK_SESSION_INFO sinfo;
static CK_SLOT_ID slots[64];
static CK_MECHANISM_TYPE mt[16];
static CK_MECHANISM_INFO mi;
static CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
static CK_OBJECT_HANDLE o, o2;
static CK_ATTRIBUTE attr = { CKA_CLASS, NULL, 0 };
static CK_BYTE buf[256], buf2[256];
static CK_ULONG n, n2;

enum kind {
	GEN,  /* no session */
	SES,  /* takes a session handle first */
	NS,   /* not offered: CKR_FUNCTION_NOT_SUPPORTED always */
};

/* Every function of the list, in its order (PKCS#11 v2.40 section 5). */
#define CALLS(X) \
	X(C_Initialize, GEN, CKR_OK) \
	X(C_Finalize, GEN, f->C_Finalize(NULL)) \
	X(C_GetInfo, GEN, f->C_GetInfo(&info)) \
	X(C_GetFunctionList, GEN, CKR_OK) \
	X(C_GetSlotList, GEN, (n = 64, f->C_GetSlotList(CK_TRUE, slots, &n))) \
	X(C_GetSlotInfo, GEN, f->C_GetSlotInfo(slot, &si)) \
	X(C_GetTokenInfo, GEN, f->C_GetTokenInfo(slot, &ti)) \
	X(C_GetMechanismList, GEN, (n = 16, f->C_GetMechanismList(slot, mt, &n))) \
	X(C_GetMechanismInfo, GEN, f->C_GetMechanismInfo(slot, CKM_ECDSA, &mi)) \
	X(C_InitToken, NS, f->C_InitToken(slot, buf, 4, buf2)) \
	X(C_InitPIN, NS, f->C_InitPIN(s, buf, 4)) \
	X(C_SetPIN, NS, f->C_SetPIN(s, buf, 4, buf2, 4)) \
	X(C_OpenSession, GEN, f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &o)) \
	X(C_CloseSession, SES, f->C_CloseSession(s)) \
	X(C_CloseAllSessions, GEN, f->C_CloseAllSessions(slot + 0x7fffffff)) \
	X(C_GetSessionInfo, SES, f->C_GetSessionInfo(s, &sinfo)) \
	X(C_GetOperationState, NS, (n = sizeof(buf), f->C_GetOperationState(s, buf, &n))) \
	X(C_SetOperationState, NS, f->C_SetOperationState(s, buf, 4, 0, 0)) \
	X(C_Login, SES, f->C_Login(s, CKU_USER, buf, 4)) \
	X(C_Logout, SES, f->C_Logout(s)) \
	X(C_CreateObject, SES, f->C_CreateObject(s, &attr, 1, &o)) \
	X(C_CopyObject, NS, f->C_CopyObject(s, o, &attr, 1, &o2)) \
	X(C_DestroyObject, NS, f->C_DestroyObject(s, o)) \
	X(C_GetObjectSize, NS, f->C_GetObjectSize(s, o, &n)) \
	X(C_GetAttributeValue, SES, f->C_GetAttributeValue(s, o, &attr, 1)) \
	X(C_SetAttributeValue, NS, f->C_SetAttributeValue(s, o, &attr, 1)) \
	X(C_FindObjectsInit, SES, f->C_FindObjectsInit(s, &attr, 0)) \
	X(C_FindObjects, SES, f->C_FindObjects(s, &o, 1, &n)) \
	X(C_FindObjectsFinal, SES, f->C_FindObjectsFinal(s)) \
	X(C_EncryptInit, NS, f->C_EncryptInit(s, &m, o)) \
	X(C_Encrypt, NS, (n = sizeof(buf2), f->C_Encrypt(s, buf, 4, buf2, &n))) \
	X(C_EncryptUpdate, NS, (n = sizeof(buf2), f->C_EncryptUpdate(s, buf, 4, buf2, &n))) \
	X(C_EncryptFinal, NS, (n = sizeof(buf2), f->C_EncryptFinal(s, buf2, &n))) \
	X(C_DecryptInit, NS, f->C_DecryptInit(s, &m, o)) \
	X(C_Decrypt, NS, (n = sizeof(buf2), f->C_Decrypt(s, buf, 4, buf2, &n))) \
	X(C_DecryptUpdate, NS, (n = sizeof(buf2), f->C_DecryptUpdate(s, buf, 4, buf2, &n))) \
	X(C_DecryptFinal, NS, (n = sizeof(buf2), f->C_DecryptFinal(s, buf2, &n))) \
	X(C_DigestInit, NS, f->C_DigestInit(s, &m)) \
	X(C_Digest, NS, (n = sizeof(buf2), f->C_Digest(s, buf, 4, buf2, &n))) \
	X(C_DigestUpdate, NS, f->C_DigestUpdate(s, buf, 4)) \
	X(C_DigestKey, NS, f->C_DigestKey(s, o)) \
	X(C_DigestFinal, NS, (n = sizeof(buf2), f->C_DigestFinal(s, buf2, &n))) \
	X(C_SignInit, SES, f->C_SignInit(s, &m, o)) \
	X(C_Sign, SES, (n = sizeof(buf2), f->C_Sign(s, buf, 32, buf2, &n))) \
	X(C_SignUpdate, SES, f->C_SignUpdate(s, buf, 4)) \
	X(C_SignFinal, SES, (n = sizeof(buf2), f->C_SignFinal(s, buf2, &n))) \
	X(C_SignRecoverInit, NS, f->C_SignRecoverInit(s, &m, o)) \
	X(C_SignRecover, NS, (n = sizeof(buf2), f->C_SignRecover(s, buf, 4, buf2, &n))) \
	X(C_VerifyInit, NS, f->C_VerifyInit(s, &m, o)) \
	X(C_Verify, NS, f->C_Verify(s, buf, 4, buf2, 64)) \
	X(C_VerifyUpdate, NS, f->C_VerifyUpdate(s, buf, 4)) \
	X(C_VerifyFinal, NS, f->C_VerifyFinal(s, buf2, 64)) \
	X(C_VerifyRecoverInit, NS, f->C_VerifyRecoverInit(s, &m, o)) \
	X(C_VerifyRecover, NS, (n = sizeof(buf2), f->C_VerifyRecover(s, buf, 4, buf2, &n))) \
	X(C_DigestEncryptUpdate, NS, (n = sizeof(buf2), f->C_DigestEncryptUpdate(s, buf, 4, buf2, &n))) \
	X(C_DecryptDigestUpdate, NS, (n = sizeof(buf2), f->C_DecryptDigestUpdate(s, buf, 4, buf2, &n))) \
	X(C_SignEncryptUpdate, NS, (n = sizeof(buf2), f->C_SignEncryptUpdate(s, buf, 4, buf2, &n))) \
	X(C_DecryptVerifyUpdate, NS, (n = sizeof(buf2), f->C_DecryptVerifyUpdate(s, buf, 4, buf2, &n))) \
	X(C_GenerateKey, NS, f->C_GenerateKey(s, &m, &attr, 1, &o)) \
	X(C_GenerateKeyPair, SES, f->C_GenerateKeyPair(s, &m, &attr, 1, &attr, 1, &o, &o2)) \
	X(C_WrapKey, NS, (n = sizeof(buf2), f->C_WrapKey(s, &m, o, o2, buf2, &n))) \
	X(C_UnwrapKey, NS, f->C_UnwrapKey(s, &m, o, buf, 4, &attr, 1, &o2)) \
	X(C_DeriveKey, NS, f->C_DeriveKey(s, &m, o, &attr, 1, &o2)) \
	X(C_SeedRandom, SES, f->C_SeedRandom(s, buf, 4)) \
	X(C_GenerateRandom, SES, f->C_GenerateRandom(s, buf, 4)) \
	X(C_GetFunctionStatus, NS, f->C_GetFunctionStatus(s)) \
	X(C_CancelFunction, NS, f->C_CancelFunction(s)) \
	X(C_WaitForSlotEvent, NS, f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL))

#define NAME(name, kind, call) #name,
#define KIND(name, kind, call) kind,
static const char *const names[] = { CALLS(NAME) };
static const enum kind kinds[] = { CALLS(KIND) };
#define N_CALLS (sizeof(names) / sizeof(names[0]))

/* Call function `i` of the table. */
static CK_RV
call(size_t i)
{
	size_t k = 0;

#define CALL(name, kind, expr) if (i == k++) return (expr);
	CALLS(CALL)
#undef CALL
	return CKR_GENERAL_ERROR;
}

static void
test_table_is_the_list(void **state)
{
	/* p11-kit's pkcs11.h packs the list: the pointers are not aligned. */
	const char *p = (const char *)f + sizeof(CK_VERSION);
	size_t i, count = (sizeof(CK_FUNCTION_LIST) - sizeof(CK_VERSION)) / sizeof(CK_VOID_PTR);
	CK_VOID_PTR fn;

	(void)state;
	assert_int_equal(N_CALLS, count);
	assert_int_equal(f->version.major, 2);
	for (i = 0; i < count; i++) {
		memcpy(&fn, p + i * sizeof(fn), sizeof(fn));
		if (fn == NULL)
			fail_msg("%s is NULL in the function list", names[i]);
	}
}

static void
test_uninitialized(void **state)
{
	size_t i;
	CK_RV rv;

	(void)state;
	s = 1;
	slot = 0;
	o = 4 | 1;
	for (i = 0; i < N_CALLS; i++) {
		if (strcmp(names[i], "C_Initialize") == 0 || strcmp(names[i], "C_GetFunctionList") == 0)
			continue;
		rv = call(i);
		if (rv != CKR_CRYPTOKI_NOT_INITIALIZED && !(kinds[i] == NS && rv == CKR_FUNCTION_NOT_SUPPORTED))
			fail_msg("%s before C_Initialize: 0x%lx", names[i], rv);
	}
}

static void
test_initialize_args(void **state)
{
	CK_C_INITIALIZE_ARGS a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.pReserved = &a;
	assert_int_equal(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	memset(&a, 0, sizeof(a));
	a.CreateMutex = (CK_CREATEMUTEX)1; /* some callbacks but not all */
	assert_int_equal(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	assert_int_equal(f->C_Initialize(&a), CKR_OK);
	assert_int_equal(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(f->C_Finalize(&a), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
}

static void
test_bad_session(void **state)
{
	static const CK_SESSION_HANDLE bad[] = { 0, 255, 256, 257, 0x7fffffff, (CK_ULONG)-1 };
	size_t i, k;
	CK_RV rv;

	(void)state;
	slot = 0;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		s = bad[k];
		for (i = 0; i < N_CALLS; i++) {
			if (kinds[i] == GEN)
				continue;
			rv = call(i);
			if (rv != CKR_SESSION_HANDLE_INVALID &&
			    !(kinds[i] == NS && rv == CKR_FUNCTION_NOT_SUPPORTED))
				fail_msg("%s with session %lu: 0x%lx", names[i], s, rv);
		}
	}
}

static void
test_not_supported(void **state)
{
	size_t i;
	CK_RV rv;

	(void)state;
	assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
	    CKR_OK);
	o = 4 | 1;
	for (i = 0; i < N_CALLS; i++)
		if (kinds[i] == NS && (rv = call(i)) != CKR_FUNCTION_NOT_SUPPORTED)
			fail_msg("%s: 0x%lx, not CKR_FUNCTION_NOT_SUPPORTED", names[i], rv);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

/* The key "k" on slot 0 (a no-PIN key: no login needed). */
static CK_OBJECT_HANDLE
key_k(CK_SESSION_HANDLE h)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "k", 1 } };
	CK_OBJECT_HANDLE k = 0;
	CK_ULONG got = 0;

	assert_int_equal(f->C_FindObjectsInit(h, t, 2), CKR_OK);
	assert_int_equal(f->C_FindObjects(h, &k, 1, &got), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(h), CKR_OK);
	assert_int_equal(got, 1);
	return k;
}

static void
test_null_pointers(void **state)
{
	CK_OBJECT_HANDLE k;
	CK_ATTRIBUTE nul = { CKA_LABEL, NULL, 5 };

	(void)state;
	assert_int_equal(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetSlotInfo(0, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetTokenInfo(0, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetMechanismList(0, mt, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetMechanismInfo(0, CKM_ECDSA, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, NULL),
	    CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_OpenSession(0, CKF_RW_SESSION, NULL, NULL, &s),
	    CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	assert_int_equal(f->C_OpenSession(0x7ffffffe, CKF_SERIAL_SESSION, NULL, NULL, &s),
	    CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_GetSlotInfo(0x7ffffffe, &si), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_GetMechanismInfo(0, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);

	assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
	    CKR_OK);
	k = key_k(s);
	assert_int_equal(f->C_GetSessionInfo(s, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Login(s, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Login(s, 7, buf, 4), CKR_USER_TYPE_INVALID);
	assert_int_equal(f->C_GetAttributeValue(s, k, NULL, 1), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetAttributeValue(s, 0, &attr, 1), CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(f->C_GetAttributeValue(s, (CK_OBJECT_HANDLE)-1, &attr, 1),
	    CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(f->C_FindObjectsInit(s, NULL, 1), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_FindObjectsInit(s, &nul, 1), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_FindObjects(s, &o, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_FindObjectsInit(s, NULL, 0), CKR_OK);
	assert_int_equal(f->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
	assert_int_equal(f->C_FindObjects(s, NULL, 1, &n), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_FindObjects(s, &o, 1, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignInit(s, NULL, k), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 }, k),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_EC_KEY_PAIR_GEN, NULL, 0 }, k),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_ECDSA, buf, 4 }, k),
	    CKR_MECHANISM_PARAM_INVALID);
	assert_int_equal(f->C_SignInit(s, &m, 0), CKR_KEY_HANDLE_INVALID);
	assert_int_equal(f->C_SignInit(s, &m, (k & ~(CK_ULONG)3) | 2), CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, &n), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignInit(s, &m, k), CKR_OK);
	assert_int_equal(f->C_SignInit(s, &m, k), CKR_OPERATION_ACTIVE);
	assert_int_equal(f->C_Sign(s, NULL, 32, buf2, &n), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_SignUpdate(s, NULL, 4), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_SignFinal(s, buf2, NULL), CKR_ARGUMENTS_BAD);
	/* Still active after the bad calls: a good one finishes it. */
	n = sizeof(buf2);
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, &n), CKR_OK);
	assert_int_equal(n, 64);
	assert_int_equal(f->C_GenerateKeyPair(s, NULL, &attr, 1, &attr, 1, &o, &o2),
	    CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GenerateKeyPair(s, &m, NULL, 1, &attr, 1, &o, &o2), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GenerateKeyPair(s, &m, &attr, 1, &attr, 1, &o, NULL),
	    CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_CreateObject(s, NULL, 1, &o), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_CreateObject(s, &attr, 1, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GenerateRandom(s, NULL, 4), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GenerateRandom(s, NULL, 0), CKR_OK);
	assert_int_equal(f->C_SeedRandom(s, buf, 4), CKR_RANDOM_SEED_NOT_SUPPORTED);
	assert_int_equal(f->C_GetObjectSize(s, k, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
	assert_int_equal(f->C_CloseSession(s), CKR_SESSION_HANDLE_INVALID);
}

static void
test_buffer_sizes(void **state)
{
	CK_OBJECT_HANDLE k;
	CK_BYTE small[8];
	CK_ATTRIBUTE a[2] = { { CKA_EC_POINT, small, sizeof(small) }, { CKA_LABEL, NULL, 0 } };
	CK_SLOT_ID one[1];
	CK_MECHANISM_TYPE onem[1];

	(void)state;
	/* Lists: the count is told, nothing else written (5.5). */
	n = 64;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	assert_true(n >= 2); /* slot 0 and k's */
	n2 = 1;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, one, &n2), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(n2, n);
	n = 0;
	assert_int_equal(f->C_GetMechanismList(0, NULL, &n), CKR_OK);
	n2 = 1;
	assert_int_equal(f->C_GetMechanismList(0, onem, &n2), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(n2, n);

	assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	k = key_k(s);
	/* Attributes: each too small one is marked, the others filled. */
	assert_int_equal(f->C_GetAttributeValue(s, (k & ~(CK_ULONG)3) | 2, a, 2),
	    CKR_BUFFER_TOO_SMALL);
	assert_int_equal(a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(a[1].ulValueLen, 1);
	/* Signatures: a size query and a short buffer keep the operation. */
	assert_int_equal(f->C_SignInit(s, &m, k), CKR_OK);
	assert_int_equal(f->C_Sign(s, buf, 32, NULL, &n), CKR_OK);
	assert_int_equal(n, 64);
	n = 10;
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, &n), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(n, 64);
	n = 64;
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, &n), CKR_OK);
	/* Then it is over. */
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, &n), CKR_OPERATION_NOT_INITIALIZED);
	/* Multi-part: the same rules at C_SignFinal. */
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_ECDSA_SHA256, NULL, 0 }, k), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, buf, 100), CKR_OK);
	assert_int_equal(f->C_Sign(s, buf, 32, buf2, &n), CKR_OPERATION_NOT_INITIALIZED);
	n = 1;
	assert_int_equal(f->C_SignFinal(s, buf2, &n), CKR_BUFFER_TOO_SMALL);
	n = sizeof(buf2);
	assert_int_equal(f->C_SignFinal(s, buf2, &n), CKR_OK);
	assert_int_equal(n, 64);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

int
main(int argc, char **argv)
{
	CK_C_GetFunctionList gfl;
	void *h;
	const struct CMUnitTest before[] = {
		cmocka_unit_test(test_table_is_the_list),
		cmocka_unit_test(test_uninitialized),
		cmocka_unit_test(test_initialize_args),
	};
	const struct CMUnitTest after[] = {
		cmocka_unit_test(test_bad_session),
		cmocka_unit_test(test_not_supported),
		cmocka_unit_test(test_null_pointers),
		cmocka_unit_test(test_buffer_sizes),
	};
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: p11args MODULE\n");
		return 2;
	}
	module = argv[1];
	if ((h = dlopen(module, RTLD_NOW)) == NULL ||
	    (gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList")) == NULL ||
	    gfl(&f) != CKR_OK) {
		fprintf(stderr, "cannot load %s\n", module);
		return 1;
	}
	/* test_initialize_args leaves the module initialized. */
	r = cmocka_run_group_tests_name("before C_Initialize", before, NULL, NULL);
	r |= cmocka_run_group_tests_name("initialized", after, NULL, NULL);
	f->C_Finalize(NULL);
	return r;
}
