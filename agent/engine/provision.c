/* Provisioning: keys made in the TPM (keygen) or brought into it
 * (import), recorded as identities; identities deleted; the SRK shown or
 * persisted. Every TPM step goes through engine_recover() on failure. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "agent/engine/internal.h"
#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"
#include "store/keyfile.h"

/* Largest key file import takes (a PEM EC key or TSS2 key is ~1 KiB). */
#define IMPORT_MAX (64 * 1024)

/* Fail early, before the TPM does any work, when the name is taken. */
static int
check_new_name(struct engine *e, const char *name)
{
	struct store_stamp st;
	int r;

	if ((r = engine_check_name(name)) != 0)
		return r;
	r = store_stat(e->store, name, &st);
	if (r == 0)
		return tpmid_seterr(TPMID_E_EXISTS, "identity '%s' already exists in %s", name,
		    store_dir(e->store));
	if (r != TPMID_E_NOENT)
		return r;
	tpmid_clearerr();
	return 0;
}

/* TPM2_EvictControl's answer was lost (`r`, TPMID_E_TPM_RESET): the key
 * may have become persistent at `handle` all the same. Recover the
 * connection, and when the object there is this key, evict it again, so a
 * failed keygen leaves nothing behind. Returns `r` with its message;
 * *ret_clean 0 when the key may still be there. */
static int
undo_lost_persist(struct engine *e, const struct keyfile *kf, uint32_t handle, int r,
    int *ret_clean)
{
	struct attempt once = { .no_retry = 1 };
	struct tpm_key *pk = NULL;
	char msg[512];
	int r2;

	snprintf(msg, sizeof(msg), "%s", tpmid_errmsg(r));
	(void)engine_recover(e, r, &once, NULL);
	if ((r2 = tpm_load_persistent(e->tpm, handle, kf->pub, kf->pub_len, &pk)) == 0) {
		r2 = tpm_evict_key(e->tpm, pk);
		tpm_key_free(e->tpm, pk);
	}
	*ret_clean = r2 == 0 || r2 == TPMID_E_NOENT || r2 == TPMID_E_MISMATCH;
	return tpmid_seterr(r, "%s", msg);
}

/* Record a key the TPM just made or imported as identity `name`: persist it
 * if asked, then write the file. On failure nothing is left behind (the
 * persistent copy is evicted again). */
static int
record_identity(struct engine *e, const char *name, const struct keyfile *kf, int pin,
    enum persist_mode persist, uint32_t handle, const uint8_t *p11_id, size_t p11_id_len,
    struct id_info *ret)
{
	struct tpmid_errstate saved;
	struct identity *id = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm_key *k = NULL;
	struct attempt a = { 0 };
	EVP_PKEY *pub = NULL;
	enum tpmid_curve curve = CURVE_NONE;
	const uint8_t *srk;
	size_t srk_len;
	uint32_t got = 0;
	int r, tombstone = 0, clean;

	if ((r = tpm_blob_public(kf->pub, kf->pub_len, &curve, &pub, NULL)) != 0)
		goto out;
	if ((r = engine_srk_name(e, &srk, &srk_len)) != 0)
		goto out;
	if ((r = identity_new(name, &id)) != 0)
		goto out;
	id->alg = curve;
	id->pin = pin;
	if ((r = keyfile_to_pem(kf, &id->key_pem)) != 0 ||
	    (r = ec_pem_from_pkey(pub, &id->public_key_pem)) != 0)
		goto out;
	if ((id->parent_name = malloc(srk_len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	memcpy(id->parent_name, srk, srk_len);
	id->parent_name_len = srk_len;
	if (p11_id_len > 0) {
		if ((id->pkcs11_id = malloc(p11_id_len)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		memcpy(id->pkcs11_id, p11_id, p11_id_len);
		id->pkcs11_id_len = p11_id_len;
	}

	if (persist != PERSIST_NO) {
		blob.pub = kf->pub;
		blob.pub_len = kf->pub_len;
		blob.priv = kf->priv;
		blob.priv_len = kf->priv_len;
		for (;;) {
			if ((r = tpm_load(e->tpm, &blob, srk, srk_len, &k)) == 0 ||
			    !engine_recover(e, r, &a, NULL))
				break;
			/* The SRK name may have been re-read after a reset. */
			if ((r = engine_srk_name(e, &srk, &srk_len)) != 0)
				goto out;
		}
		if (r != 0)
			goto out;
		/* A killed keygen's key is evicted by the next process, and a
		 * handle it held is free again. */
		(void)engine_tidy(e, 0);
		tpmid_clearerr();
		if (persist == PERSIST_AUTO && (r = tpm_free_persistent(e->tpm, &handle)) != 0)
			goto out;
		/* Recorded before the key becomes persistent: killed from
		 * here until the file is written, the key is evicted by the
		 * next tpmid process (delete.c). */
		id->handle = handle;
		if ((r = store_tombstone_write(e->store, id)) != 0)
			goto out;
		tombstone = 1;
		/* Not retried: EvictControl is not safe to send twice. */
		r = tpm_persist(e->tpm, k, handle, &got);
		tpm_key_free(e->tpm, k);
		k = NULL;
		if (r == TPMID_E_TPM_RESET && got != 0) {
			r = undo_lost_persist(e, kf, got, r, &clean);
			if (!clean)
				tombstone = 0; /* the next tpmid process evicts it */
		}
		if (r != 0)
			goto out;
		id->handle = got;
	}
	if ((r = store_save(e->store, id, STORE_CREATE)) != 0) {
		if (got != 0 && tpm_evict(e->tpm, got) != 0)
			tombstone = 0; /* the next tpmid process evicts it */
		goto out;
	}
	if (ret != NULL) {
		struct entry *en;

		if ((r = entry_get(e, name, &en)) == 0)
			r = entry_info(e, en, ret);
	}
out:
	if (tombstone) {
		tpmid_err_save(&saved);
		(void)store_delete_end(e->store, name, 0);
		tpmid_err_restore(&saved);
	}
	tpm_key_free(e->tpm, k);
	EVP_PKEY_free(pub);
	identity_free(id);
	return r;
}

int
engine_keygen(struct engine *e, const char *name, enum tpmid_curve alg,
    const struct secret *pin, enum persist_mode persist, uint32_t handle,
    const uint8_t *p11_id, size_t p11_id_len, struct id_info *ret)
{
	struct tpm_blob blob = { 0 };
	struct keyfile *kf = NULL;
	struct attempt a = { .no_retry = 1 };
	struct tpm *t;
	int has_pin = pin != NULL && pin->len > 0;
	int r;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	if (curve_get(alg) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported curve (use p256 or p384)");
	if (persist == PERSIST_HANDLE &&
	    (handle < TPMID_PERSIST_FIRST || handle > TPMID_PERSIST_LAST))
		return tpmid_seterr(TPMID_E_INVAL, "persistent handle 0x%08x out of range "
		    "0x%08x..0x%08x", handle, TPMID_PERSIST_FIRST, TPMID_PERSIST_LAST);
	if (p11_id_len > TPMID_P11_ID_MAX)
		return tpmid_seterr(TPMID_E_INVAL, "a PKCS#11 id of %zu bytes (at most %d)",
		    p11_id_len, TPMID_P11_ID_MAX);
	if ((r = check_new_name(e, name)) != 0)
		return r;
	for (;;) {
		if ((r = engine_tpm(e, &t)) == 0 &&
		    (r = tpm_keygen(t, alg, has_pin ? pin : NULL, &blob)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			return r;
	}
	if ((r = keyfile_new(TPM_PARENT_OWNER, !has_pin, blob.pub, blob.pub_len, blob.priv,
	    blob.priv_len, &kf)) != 0)
		goto out;
	r = record_identity(e, name, kf, has_pin, persist, handle, p11_id, p11_id_len, ret);
out:
	keyfile_free(kf);
	tpm_blob_clear(&blob);
	return r;
}

/* A TSS2 PRIVATE KEY made elsewhere (tpm2-openssl, ssh-tpm-agent): usable
 * as is when it is a child of our SRK. The parent field may say the owner
 * hierarchy (the H-2 primary) or a persistent handle holding a copy of it;
 * either way, a load under our SRK only passes the TPM's integrity check
 * when the SRK is really its parent, so that is the test. */
static int
import_tss2(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	struct keyfile *kf = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm_key *k = NULL;
	struct attempt a = { 0 };
	const uint8_t *srk;
	size_t srk_len;
	int r;

	if ((r = keyfile_parse_pem((const char *)data, len, &kf)) != 0)
		return r;
	if (pin != NULL && pin->len > 0) {
		r = tpmid_seterr(TPMID_E_INVAL, "a TSS2 key file keeps its own auth value; "
		    "a PIN cannot be set on import");
		goto out;
	}
	if (kf->parent != TPM_PARENT_OWNER && (kf->parent & 0xff000000u) != 0x81000000u) {
		r = tpmid_seterr(TPMID_E_PARENT, "key file parent 0x%08x is not the owner "
		    "hierarchy's storage root key", kf->parent);
		goto out;
	}
	if ((r = tpm_blob_public(kf->pub, kf->pub_len, NULL, NULL, NULL)) != 0)
		goto out;
	blob.pub = kf->pub;
	blob.pub_len = kf->pub_len;
	blob.priv = kf->priv;
	blob.priv_len = kf->priv_len;
	for (;;) {
		if ((r = engine_srk_name(e, &srk, &srk_len)) == 0 &&
		    (r = tpm_load(e->tpm, &blob, NULL, 0, &k)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			break;
	}
	if (r != 0) {
		if (r != TPMID_E_NOTPM && r != TPMID_E_NOMEM && r != TPMID_E_TPM_RESET &&
		    r != TPMID_E_TPM_MEMORY)
			r = tpmid_seterr(TPMID_E_PARENT, "the key file does not load under this "
			    "TPM's storage root key (made on another TPM or under another "
			    "parent): %s", tpmid_errmsg(r));
		goto out;
	}
	tpm_key_free(e->tpm, k);
	r = record_identity(e, name, kf, !kf->empty_auth, PERSIST_NO, 0, NULL, 0, ret);
out:
	keyfile_free(kf);
	return r;
}

int
engine_import(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	struct tpm_blob blob = { 0 };
	struct keyfile *kf = NULL;
	struct attempt a = { .no_retry = 1 };
	EVP_PKEY *pk = NULL;
	struct tpm *t;
	int has_pin = pin != NULL && pin->len > 0;
	int r;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	if (len == 0 || len > IMPORT_MAX)
		return tpmid_seterr(TPMID_E_FORMAT, "key data is empty or larger than %d bytes",
		    IMPORT_MAX);
	if ((r = check_new_name(e, name)) != 0)
		return r;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	if (keyfile_is_pem((const char *)data, len))
		return import_tss2(e, name, data, len, pin, ret);
	if ((r = ec_privkey_decode(data, len, &pk)) != 0)
		return r;
	for (;;) {
		if ((r = engine_tpm(e, &t)) == 0 &&
		    (r = tpm_import(t, pk, has_pin ? pin : NULL, &blob)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			goto out;
	}
	/* The software key is in the TPM now; drop our copy before anything
	 * else can fail. */
	EVP_PKEY_free(pk);
	pk = NULL;
	if ((r = keyfile_new(TPM_PARENT_OWNER, !has_pin, blob.pub, blob.pub_len, blob.priv,
	    blob.priv_len, &kf)) != 0)
		goto out;
	r = record_identity(e, name, kf, has_pin, PERSIST_NO, 0, NULL, 0, ret);
out:
	EVP_PKEY_free(pk); /* EC private keys are cleared by OpenSSL on free */
	keyfile_free(kf);
	tpm_blob_clear(&blob);
	return r;
}

/* The SRK name the TPM's endorsement key vouches for (tss/ek.c), with
 * `ca_file` the CAs its certificate must verify up to; *ret_text says
 * what vouched. */
static int
srk_from_ek(struct engine *e, const char *ca_file, uint8_t **ret, size_t *ret_len,
    char **ret_text)
{
	struct tpm_ek_report rep;
	X509_STORE *trust = NULL;
	struct tpm *t;
	int r;

	*ret = NULL;
	*ret_len = 0;
	*ret_text = NULL;
	if ((trust = X509_STORE_new()) == NULL)
		return TPMID_E_NOMEM;
	if (X509_STORE_load_file(trust, ca_file) != 1) {
		r = tpmid_seterr(TPMID_E_FORMAT, "--ek-ca %s: no PEM certificates could be read",
		    ca_file);
		goto out;
	}
	if ((r = engine_tpm(e, &t)) != 0 || (r = tpm_srk_verify_ek(t, trust, &rep)) != 0)
		goto out;
	if ((*ret = malloc(rep.srk_name_len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	memcpy(*ret, rep.srk_name, rep.srk_name_len);
	*ret_len = rep.srk_name_len;
	if (asprintf(ret_text, "%s endorsement key (%s%08x), certificate NV 0x%08x serial "
	    "%s issued by %s, verified up to %s", rep.what,
	    rep.ek_handle ? "persistent 0x" : "template L-2, not persistent", rep.ek_handle,
	    rep.nv, rep.serial, rep.issuer, ca_file) < 0) {
		*ret_text = NULL;
		r = TPMID_E_NOMEM;
	}
out:
	if (r != 0) {
		free(*ret);
		*ret = NULL;
		*ret_len = 0;
	}
	X509_STORE_free(trust);
	return r;
}

int
engine_srk(struct engine *e, int persist, const char *expect_hex, const char *ek_ca,
    char **ret_name_hex, char **ret_ek_text)
{
	const uint8_t *name;
	uint8_t *want = NULL, *recorded = NULL, *verified = NULL;
	size_t len, want_len = 0, recorded_len = 0, verified_len = 0;
	struct tpm *t;
	int r;

	*ret_name_hex = NULL;
	*ret_ek_text = NULL;
	if (expect_hex != NULL) {
		if (hex_decode(expect_hex, &want, &want_len) != 0 || want_len < 2 ||
		    want_len > 2 + 64)
			return tpmid_seterr(TPMID_E_INVAL, "--expect: '%s' is not an SRK name "
			    "(hex, as 'tpmid srk' prints it)", expect_hex);
		/* Pinning is for a store that trusts nothing yet, or the
		 * same name: never a silent switch to another key. */
		if (store_srk_name_get(e->store, &recorded, &recorded_len) == 0 &&
		    recorded_len > 0 &&
		    timingsafe_memeq(recorded, recorded_len, want, want_len) != 0) {
			r = tpmid_seterr(TPMID_E_SRK, "this store already trusts another storage "
			    "root key; remove %s/.srk-name first if the TPM was cleared",
			    store_dir(e->store));
			goto out;
		}
	}
	if ((r = engine_tpm(e, &t)) != 0)
		goto out;
	if (ek_ca != NULL) {
		if ((r = srk_from_ek(e, ek_ca, &verified, &verified_len, ret_ek_text)) != 0)
			goto out;
		if (want != NULL &&
		    timingsafe_memeq(want, want_len, verified, verified_len) != 0) {
			r = tpmid_seterr(TPMID_E_SRK, "--expect names another storage root key than "
			    "the one the TPM's endorsement key vouches for");
			goto out;
		}
		free(recorded);
		recorded = NULL;
		if (store_srk_name_get(e->store, &recorded, &recorded_len) == 0 &&
		    recorded_len > 0 &&
		    timingsafe_memeq(recorded, recorded_len, verified, verified_len) != 0) {
			r = tpmid_seterr(TPMID_E_SRK, "the storage root key recorded in %s/.srk-name "
			    "is not the one this TPM's endorsement key vouches for: it was recorded "
			    "through an interposer, or the TPM was cleared since (then remove "
			    ".srk-name; the keys made before are gone)", store_dir(e->store));
			goto out;
		}
		tpmid_clearerr();
		free(want);
		want = verified;
		want_len = verified_len;
		verified = NULL;
	}
	if (want != NULL)
		tpm_srk_hint(t, want, want_len);
	if ((r = engine_srk_name(e, &name, &len)) != 0)
		goto out;
	if (persist && (r = tpm_srk_persist(t)) != 0)
		goto out;
	if ((*ret_name_hex = hex_encode(name, len)) == NULL)
		r = TPMID_E_NOMEM;
out:
	if (r != 0) {
		free(*ret_ek_text);
		*ret_ek_text = NULL;
	}
	free(want);
	free(recorded);
	free(verified);
	return r;
}
