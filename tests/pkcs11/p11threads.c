/* p11threads MODULE LABEL PUBKEY.pem THREADS N: THREADS threads, each with
 * its own session on slot 0, sign N different messages with the private
 * key labelled LABEL (CKM_ECDSA_SHA256, a size query first as most
 * callers do) at the same time; every signature is checked with OpenSSL
 * against PUBKEY.pem. Exit 0 when all verify (pkcs11-tool.sh runs it:
 * the module must be safe with CKF_OS_LOCKING_OK callers). */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *f;
static CK_OBJECT_HANDLE key;
static EVP_PKEY *pub;
static int per_thread;
static const char *label;

/* r || s to DER and verify with OpenSSL. */
static int
verify(const unsigned char *msg, size_t len, const unsigned char *sig, size_t sl)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *der = NULL;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int dl, ok = 0;

	if (es == NULL || c == NULL ||
	    !ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)sl / 2, NULL),
	    BN_bin2bn(sig + sl / 2, (int)sl / 2, NULL)) ||
	    (dl = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	ok = EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(c, der, (size_t)dl, msg, len) == 1;
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(c);
	return ok;
}

static void *
worker(void *arg)
{
	long id = (long)arg;
	CK_SESSION_HANDLE s;
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char msg[64], sig[512];
	CK_ULONG sl;
	int i, bad = 0;

	if (f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return (void *)1L;
	for (i = 0; i < per_thread; i++) {
		int n = snprintf((char *)msg, sizeof(msg), "thread %ld message %d", id, i);

		sl = 0;
		if (f->C_SignInit(s, &m, key) != CKR_OK ||
		    f->C_Sign(s, msg, (CK_ULONG)n, NULL, &sl) != CKR_OK || sl > sizeof(sig) ||
		    f->C_Sign(s, msg, (CK_ULONG)n, sig, &sl) != CKR_OK ||
		    !verify(msg, (size_t)n, sig, sl))
			bad++;
	}
	f->C_CloseSession(s);
	return (void *)(long)bad;
}

int
main(int argc, char **argv)
{
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList gfl;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[2];
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	pthread_t th[64];
	void *h, *ret;
	long bad = 0;
	int nt, i;
	FILE *fp;

	if (argc != 6 || (nt = atoi(argv[4])) < 1 || nt > 64 || (per_thread = atoi(argv[5])) < 1) {
		fprintf(stderr, "usage: p11threads MODULE LABEL PUBKEY.pem THREADS N\n");
		return 2;
	}
	label = argv[2];
	if ((fp = fopen(argv[3], "r")) == NULL || (pub = PEM_read_PUBKEY(fp, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "cannot read %s\n", argv[3]);
		return 1;
	}
	fclose(fp);
	if ((h = dlopen(argv[1], RTLD_NOW)) == NULL ||
	    (gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList")) == NULL || gfl(&f) != CKR_OK) {
		fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
		return 1;
	}
	if (f->C_Initialize(&ia) != CKR_OK || f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL,
	    &s) != CKR_OK) {
		fprintf(stderr, "C_Initialize/C_OpenSession failed\n");
		return 1;
	}
	t[0] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	t[1] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
	if (f->C_FindObjectsInit(s, t, 2) != CKR_OK || f->C_FindObjects(s, &key, 1, &n) != CKR_OK ||
	    f->C_FindObjectsFinal(s) != CKR_OK || n != 1) {
		fprintf(stderr, "no private key labelled %s\n", label);
		return 1;
	}
	for (i = 0; i < nt; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(long)i) != 0)
			return 1;
	for (i = 0; i < nt; i++) {
		pthread_join(th[i], &ret);
		bad += (long)ret;
	}
	f->C_CloseSession(s);
	f->C_Finalize(NULL);
	EVP_PKEY_free(pub);
	printf("%d threads x %d signatures: %ld failed or did not verify\n", nt, per_thread, bad);
	return bad == 0 ? 0 : 1;
}
