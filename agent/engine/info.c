/* What the engine tells about identities: info, the list, the file as
 * stored. The list goes through the entry cache: each file is stat()ed
 * and only re-read when it changed. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/internal.h"
#include "agent/format/ec.h"
#include "common/err.h"
#include "common/util.h"

static int
dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (s != NULL && (*ret = strdup(s)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

/* The entry's public key as DER SubjectPublicKeyInfo, decoded from the PEM
 * once per file version: this is on every ssh SIGN_REQUEST's path. */
int
entry_spki(struct entry *en)
{
	int r;

	if (en->spki != NULL)
		return 0;
	if ((r = ec_spki_from_pem(en->id->public_key_pem, &en->spki, &en->spki_len)) != 0)
		return tpmid_seterr(r, "identity '%s': tpmid.public_key is not a PEM public key",
		    en->name);
	return 0;
}

int
entry_info(struct engine *e, struct entry *en, struct id_info *ret)
{
	const struct identity *id = en->id;
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", id->name);
	ret->alg = id->alg;
	ret->pin = id->pin;
	ret->unlocked = entry_unlocked(e, en);
	ret->handle = id->handle;
	ret->ssh_hidden = id->ssh_hidden;
	if ((r = entry_spki(en)) != 0)
		goto out;
	if ((ret->spki = malloc(en->spki_len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	memcpy(ret->spki, en->spki, en->spki_len);
	ret->spki_len = en->spki_len;
	if (id->pkcs11_id_len > 0) {
		if ((ret->pkcs11_id = malloc(id->pkcs11_id_len)) == NULL) {
			r = TPMID_E_NOMEM;
			goto out;
		}
		memcpy(ret->pkcs11_id, id->pkcs11_id, id->pkcs11_id_len);
		ret->pkcs11_id_len = id->pkcs11_id_len;
	}
	if ((r = dup_opt(id->cert_pem, &ret->cert_pem)) != 0 ||
	    (r = dup_opt(id->ca_pem, &ret->ca_pem)) != 0 ||
	    (r = dup_opt(id->ssh_cert, &ret->ssh_cert)) != 0)
		goto out;
out:
	if (r != 0)
		id_info_clear(ret);
	return r;
}

int
engine_info(struct engine *e, const char *name, struct id_info *ret)
{
	struct entry *en;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	return entry_info(e, en, ret);
}

/* List through the entry cache: each file is stat()ed and only re-read when
 * it changed, so listing 100 identities (every ssh login asks) costs 100
 * stats, not 100 parses. */
int
engine_list(struct engine *e, struct id_info **ret, size_t *ret_n)
{
	struct store_entry *se = NULL;
	struct id_info *a = NULL;
	struct entry *en;
	size_t n = 0, i, k = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if ((r = store_list_names(e->store, &se, &n)) != 0)
		return r;
	if (n > 0 && (a = calloc(n, sizeof(*a))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = entry_get(e, se[i].name, &en);
		if (r == TPMID_E_NOENT) /* deleted while we looked */
			continue;
		if (r == 0)
			r = entry_info(e, en, &a[k]);
		if (r == TPMID_E_NOMEM)
			goto out;
		if (r != 0) {
			/* A file that does not parse, or whose public key is
			 * unusable, is listed with what is wrong with it. */
			memset(&a[k], 0, sizeof(a[k]));
			snprintf(a[k].name, sizeof(a[k].name), "%s", se[i].name);
			if ((a[k].error = strdup(tpmid_errmsg(r))) == NULL) {
				r = TPMID_E_NOMEM;
				goto out;
			}
		}
		k++;
	}
	r = 0;
	*ret = a;
	*ret_n = k;
	a = NULL;
out:
	id_info_free_array(a, n);
	store_list_free(se, n);
	return r;
}

int
engine_identity_json(struct engine *e, const char *name, char **ret)
{
	struct entry *en;
	char *path = NULL;
	uint8_t *txt = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	/* Validates the name and that the file parses. */
	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if ((path = store_path(e->store, name)) == NULL)
		return TPMID_E_NOMEM;
	r = read_file(path, IDENTITY_FILE_MAX, &txt, &len);
	free(path);
	if (r != 0)
		return r;
	*ret = (char *)txt;
	return 0;
}

int
engine_export_tss2(struct engine *e, const char *name, char **ret)
{
	struct entry *en;
	int r;

	*ret = NULL;
	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if (en->id->key_pem == NULL)
		return tpmid_seterr(TPMID_E_NOENT, "identity has no key blob (only a persistent "
		    "handle 0x%08x)", en->id->handle);
	if ((*ret = strdup(en->id->key_pem)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

/* The front reports how the TPM side last found things; the TPM side (or
 * direct mode) asks the TPM, and finishes what killed processes left. */
int
engine_status(struct engine *e, struct status_info *ret)
{
	struct store_entry *se = NULL;
	struct tpm *t;
	size_t n = 0;
	unsigned cnt;
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->tcti, sizeof(ret->tcti), "%s", e->tcti);
	snprintf(ret->store, sizeof(ret->store), "%s", store_dir(e->store));
	/* The front cannot ask the TPM (a stalled TPM would stall status):
	 * it reports how the TPM side last found it. */
	if (e->front)
		ret->tpm_ok = e->sh->tpm_ok && !e->sh->stalled;
	else {
		e->sh->tpm_ok = ret->tpm_ok = engine_tpm(e, &t) == 0 &&
		    tpm_transient_count(t, &cnt) == 0;
		if (ret->tpm_ok)
			(void)engine_tidy(e, 1);
	}
	tpmid_clearerr();
	pthread_mutex_lock(&e->sh->mu);
	ret->n_orphans = e->sh->n_orphans;
	memcpy(ret->orphan, e->sh->orphan, sizeof(ret->orphan));
	pthread_mutex_unlock(&e->sh->mu);
	if ((r = store_list_names(e->store, &se, &n)) != 0)
		return r;
	store_list_free(se, n);
	ret->identities = (unsigned)n;
	ret->loaded = e->sh->loaded;
	ret->max_loaded = e->max_loaded;
	(void)pin_expire(e->sh, &ret->unlocked);
	ret->signs = e->sh->signs;
	ret->tpm_resets = e->sh->tpm_resets;
	return 0;
}
