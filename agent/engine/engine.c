/* The engine: identities from the store, keys in the TPM, and the cache of
 * loaded keys between them (engine.h is the contract).
 *
 * Every TPM operation goes through engine_recover() on failure: out of TPM
 * memory flushes our least recently used key (then the cached session) and
 * retries; a TPM reset drops every handle, reconnects and retries once. The
 * engine never logs; the agent and the CLI report tpmid_errmsg(). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "agent/cli/backend.h"
#include "agent/engine/engine.h"
#include "agent/format/ec.h"
#include "agent/format/sshwire.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"
#include "store/identity.h"
#include "store/keyfile.h"
#include "store/store.h"
#include "tss/tpm.h"

#define SRK_NAME_FILE ".srk-name"
#define IMPORT_MAX (64 * 1024)
#define SRK_FILE_MAX 16384 /* read_fd() needs room beyond its 4 KiB reads */
#define RECOVER_MAX 8 /* bound on flush-and-retry rounds per operation */

/* One identity we have seen: its parsed file (re-read when the file's stamp
 * changes), its loaded key if any, and the PIN held for it. */
struct entry {
	struct entry *next;
	char name[TPMID_NAME_MAX + 1];
	struct identity *id;
	struct store_stamp stamp;
	int stale;               /* re-read on next use (engine_rescan) */
	struct tpm_key *key;     /* loaded (or persistent) key, NULL if not */
	int transient;           /* key occupies a transient slot (not a
				  * persistent handle): counts in loaded */
	uint64_t used;           /* LRU clock value of the last use */
	struct secret *pin;      /* held PIN (engine_unlock) */
	time_t pin_expiry;       /* 0: until locked */
	uint8_t *spki;           /* DER of id->public_key_pem, decoded once */
	size_t spki_len;
};

struct engine {
	char *tcti;
	struct store *store;
	struct tpm *tpm;         /* NULL until first needed (lazy_tpm) */
	unsigned max_loaded;
	unsigned loaded;
	uint64_t clock;
	uint64_t signs;
	uint64_t tpm_resets;
	struct entry *entries;
};

/* Operation state for engine_recover(): one reset retry, bounded flushes. */
struct attempt {
	int resets;
	int rounds;
};

static time_t
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* --- SRK name memory ------------------------------------------------------ */

/* The H-2 SRK's name from "<store>/.srk-name" so tpm_open can use a
 * persisted copy without re-deriving the primary (fast start). */
static void
srk_hint_load(struct engine *e)
{
	char *path = NULL;
	uint8_t *txt = NULL, *name = NULL;
	size_t txt_len = 0, name_len = 0;

	if (asprintf(&path, "%s/%s", store_dir(e->store), SRK_NAME_FILE) < 0)
		return;
	if (read_file(path, SRK_FILE_MAX, &txt, &txt_len) == 0) {
		while (txt_len > 0 && (txt[txt_len - 1] == '\n' || txt[txt_len - 1] == ' '))
			txt[--txt_len] = '\0';
		if (hex_decode((char *)txt, &name, &name_len) == 0 && name_len > 0)
			tpm_srk_hint(e->tpm, name, name_len);
	}
	tpmid_clearerr();
	free(name);
	free(txt);
	free(path);
}

/* Remember the SRK name for the next start. Best effort: a read-only store
 * only costs start-up time. */
static void
srk_hint_save(struct engine *e, const uint8_t *name, size_t len)
{
	char *path = NULL, *tmp = NULL, *hex = NULL;
	uint8_t *old = NULL;
	size_t old_len = 0;
	int fd = -1;

	if ((hex = hex_encode(name, len)) == NULL)
		goto out;
	if (asprintf(&path, "%s/%s", store_dir(e->store), SRK_NAME_FILE) < 0) {
		path = NULL;
		goto out;
	}
	if (read_file(path, SRK_FILE_MAX, &old, &old_len) == 0 &&
	    old_len >= 2 * len && memcmp(old, hex, 2 * len) == 0)
		goto out; /* already recorded */
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto out;
	if (write_all(fd, hex, strlen(hex)) != 0 || write_all(fd, "\n", 1) != 0 ||
	    fsync(fd) != 0) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0)
		unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	tpmid_clearerr();
	free(old);
	free(tmp);
	free(path);
	free(hex);
}

/* --- TPM connection and key cache ----------------------------------------- */

static int
engine_tpm(struct engine *e, struct tpm **ret)
{
	int r;

	*ret = NULL;
	if (e->tpm == NULL) {
		if ((r = tpm_open(e->tcti, &e->tpm)) != 0) {
			e->tpm = NULL;
			/* The user must learn which TCTI was tried. */
			if (r == TPMID_E_NOTPM && strstr(tpmid_errmsg(r), e->tcti) == NULL)
				tpmid_seterr(r, "no TPM reachable at TCTI \"%s\" (set --tcti or "
				    "TPMID_TCTI)", e->tcti);
			return r;
		}
		srk_hint_load(e);
	}
	*ret = e->tpm;
	return 0;
}

/* The SRK's name (loads the SRK); records it for fast starts. */
static int
engine_srk_name(struct engine *e, const uint8_t **ret, size_t *ret_len)
{
	struct tpm *t;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	if ((r = tpm_srk_name(t, ret, ret_len)) != 0)
		return r;
	srk_hint_save(e, *ret, *ret_len);
	return 0;
}

int
engine_srk(struct engine *e, int persist, char **ret_name_hex)
{
	const uint8_t *name;
	struct tpm *t;
	size_t len;
	int r;

	*ret_name_hex = NULL;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	if (persist && (r = tpm_srk_persist(t)) != 0)
		return r;
	if ((r = engine_srk_name(e, &name, &len)) != 0)
		return r;
	if ((*ret_name_hex = hex_encode(name, len)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

static void
entry_unload(struct engine *e, struct entry *en)
{
	if (en->key == NULL)
		return;
	if (e->tpm != NULL)
		tpm_key_free(e->tpm, en->key);
	en->key = NULL;
	if (en->transient)
		e->loaded--;
	en->transient = 0;
}

static void
entry_drop_pin(struct entry *en)
{
	secret_free(en->pin);
	en->pin = NULL;
	en->pin_expiry = 0;
}

static void
entry_free(struct engine *e, struct entry *en)
{
	entry_unload(e, en);
	entry_drop_pin(en);
	identity_free(en->id);
	free(en->spki);
	free(en);
}

static void
unload_all(struct engine *e)
{
	struct entry *en;

	for (en = e->entries; en != NULL; en = en->next)
		entry_unload(e, en);
}

/* Flush the least recently used loaded key other than `keep`. 0 if one was
 * flushed, TPMID_E_NOENT if we hold none. */
static int
evict_lru(struct engine *e, const struct entry *keep)
{
	struct entry *en, *victim = NULL;

	/* Only transient keys: unloading a persistent key's handle frees no
	 * TPM memory. */
	for (en = e->entries; en != NULL; en = en->next)
		if (en->key != NULL && en->transient && en != keep &&
		    (victim == NULL || en->used < victim->used))
			victim = en;
	if (victim == NULL)
		return TPMID_E_NOENT;
	entry_unload(e, victim);
	return 0;
}

/* Decide whether a failed TPM operation is worth retrying, after doing what
 * makes the retry possible. Returns 1 to retry, 0 to give up with `r`. */
static int
engine_recover(struct engine *e, int r, struct attempt *a, const struct entry *keep)
{
	if (++a->rounds > RECOVER_MAX)
		return 0;
	if (r == TPMID_E_TPM_MEMORY) {
		if (evict_lru(e, keep) == 0)
			return 1;
		if (e->tpm != NULL && tpm_release_session(e->tpm) == 0)
			return 1;
		return 0;
	}
	if (r == TPMID_E_TPM_RESET && a->resets == 0 && e->tpm != NULL) {
		a->resets++;
		if (tpm_probe(e->tpm) == 0) {
			/* Our SRK is still there, so the TPM was not reset: one
			 * of our objects vanished (flushed behind our back).
			 * Our other handles are still ours: flush them, and load
			 * afresh. */
			unload_all(e);
			return 1;
		}
		/* A real reset (or the TPM is gone): reconnect first, which
		 * makes every key stale, so unload_all() only frees memory.
		 * Flushing before would hit handle numbers that, without a
		 * resource manager, may now be another client's objects. */
		e->tpm_resets++;
		r = tpm_reconnect(e->tpm);
		unload_all(e);
		return r == 0;
	}
	return 0;
}

/* --- identities ----------------------------------------------------------- */

static struct entry *
entry_find(struct engine *e, const char *name)
{
	struct entry *en;

	for (en = e->entries; en != NULL; en = en->next)
		if (strcmp(en->name, name) == 0)
			return en;
	return NULL;
}

static void
entry_remove(struct engine *e, const char *name)
{
	struct entry **pp, *en;

	for (pp = &e->entries; (en = *pp) != NULL; pp = &en->next)
		if (strcmp(en->name, name) == 0) {
			*pp = en->next;
			entry_free(e, en);
			return;
		}
}

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The current identity `name`: the cached parse while the file's stamp is
 * unchanged, else a fresh read. A changed key drops the loaded key and the
 * held PIN (they belonged to the old key). */
static int
get_entry(struct engine *e, const char *name, struct entry **ret)
{
	struct store_stamp st;
	struct identity *id = NULL;
	struct entry *en;
	int r;

	*ret = NULL;
	if (!identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL, "'%s' is not a valid identity name "
		    "(1-64 characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-')", name);
	en = entry_find(e, name);
	if ((r = store_stat(e->store, name, &st)) != 0) {
		if (r == TPMID_E_NOENT) {
			entry_remove(e, name);
			return tpmid_seterr(r, "no identity '%s' in %s", name, store_dir(e->store));
		}
		return r;
	}
	if (en != NULL && !en->stale && store_stamp_eq(&en->stamp, &st)) {
		*ret = en;
		return 0;
	}
	if ((r = store_load(e->store, name, &id, &st)) != 0) {
		if (r == TPMID_E_NOENT) {
			entry_remove(e, name);
			return tpmid_seterr(r, "no identity '%s' in %s", name, store_dir(e->store));
		}
		return r;
	}
	if (en == NULL) {
		if ((en = calloc(1, sizeof(*en))) == NULL) {
			identity_free(id);
			return TPMID_E_NOMEM;
		}
		snprintf(en->name, sizeof(en->name), "%s", name);
		en->next = e->entries;
		e->entries = en;
	} else {
		if (!same_str(en->id->key_pem, id->key_pem) || en->id->handle != id->handle ||
		    en->id->pin != id->pin) {
			entry_unload(e, en);
			entry_drop_pin(en);
		}
		identity_free(en->id);
	}
	free(en->spki);
	en->spki = NULL;
	en->spki_len = 0;
	en->id = id;
	en->stamp = st;
	en->stale = 0;
	*ret = en;
	return 0;
}

/* Load the entry's key if it is not loaded: the persistent handle when the
 * identity has one (falling back to the blob if it was evicted behind our
 * back), else the TSS2 key blob under the SRK whose name was recorded. */
static int
load_key(struct engine *e, struct entry *en)
{
	struct identity *id = en->id;
	struct keyfile *kf = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm *t;
	int r;

	if (en->key != NULL)
		return 0;
	if ((r = engine_tpm(e, &t)) != 0)
		return r;
	en->transient = 0;
	if (id->key_pem != NULL &&
	    (r = keyfile_parse_pem(id->key_pem, strlen(id->key_pem), &kf)) != 0) {
		tpmid_err_prefix("identity '%s': tpmid.key", id->name);
		goto out;
	}
	/* "auth": "none" on a key that has an auth value (emptyAuth FALSE)
	 * would be signed with the empty password, and on a DA-protected key
	 * every such sign costs a dictionary-attack try. Refuse before the
	 * TPM sees it (get_entry unloads when "auth" changes, so loading is
	 * the one place to check). */
	if (kf != NULL && !id->pin && !kf->empty_auth) {
		r = tpmid_seterr(TPMID_E_FORMAT, "identity '%s': \"auth\" is \"none\" but its key "
		    "has an auth value (emptyAuth is false); set \"auth\": \"pin\"", id->name);
		goto out;
	}
	if (id->handle != 0) {
		r = tpm_load_persistent(t, id->handle, kf ? kf->pub : NULL, kf ? kf->pub_len : 0,
		    &en->key);
		if (r != TPMID_E_NOENT || kf == NULL)
			goto out;
	}
	if (kf == NULL) {
		r = tpmid_seterr(TPMID_E_FORMAT, "identity '%s' has neither a key nor a handle",
		    id->name);
		goto out;
	}
	/* A transient load takes one of the TPM's few object slots: keep
	 * within --max-loaded by unloading the least recently used first. */
	while (e->loaded >= e->max_loaded && evict_lru(e, en) == 0)
		;
	blob.pub = kf->pub;
	blob.pub_len = kf->pub_len;
	blob.priv = kf->priv;
	blob.priv_len = kf->priv_len;
	r = tpm_load(t, &blob, id->parent_name, id->parent_name_len, &en->key);
	if (r == 0)
		en->transient = 1;
out:
	if (r == 0 && en->transient)
		e->loaded++;
	else if (r != 0)
		en->key = NULL;
	keyfile_free(kf);
	return r;
}

/* The PIN to use for a sign: the caller's, else the held one. */
static int
pick_pin(struct entry *en, const struct secret *pin, const struct secret **ret)
{
	*ret = NULL;
	if (!en->id->pin)
		return 0;
	if (pin != NULL && pin->len > 0) {
		*ret = pin;
		return 0;
	}
	if (en->pin != NULL && en->pin_expiry != 0 && now_mono() >= en->pin_expiry)
		entry_drop_pin(en);
	if (en->pin == NULL)
		return tpmid_seterr(TPMID_E_LOCKED, "identity '%s' needs its PIN: run 'tpmid unlock %s'",
		    en->name, en->name);
	*ret = en->pin;
	return 0;
}

static int
sign_entry(struct engine *e, struct entry *en, const uint8_t *digest, size_t digest_len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	struct attempt a = { 0 };
	int r;

	for (;;) {
		if ((r = load_key(e, en)) == 0) {
			en->used = ++e->clock;
			r = tpm_sign(e->tpm, en->key, digest, digest_len, pin, ret_der, ret_len);
			if (r == 0) {
				e->signs++;
				return 0;
			}
		}
		if (!engine_recover(e, r, &a, en))
			return r;
	}
}

int
engine_sign_digest(struct engine *e, const char *name, const uint8_t *digest,
    size_t digest_len, const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	const struct secret *use = NULL;
	const struct curve_info *c;
	struct entry *en;
	int r;

	*ret_der = NULL;
	*ret_len = 0;
	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	if ((c = curve_get(en->id->alg)) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "identity '%s': unknown algorithm", name);
	if (digest_len != c->digest_len)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s' (%s) signs %zu-byte digests, "
		    "got %zu bytes", name, c->nist, c->digest_len, digest_len);
	if ((r = pick_pin(en, pin, &use)) != 0)
		return r;
	r = sign_entry(e, en, digest, digest_len, use, ret_der, ret_len);
	/* A held PIN the TPM rejects (the key's auth was changed behind our
	 * back) must not be replayed: every later sign would cost another
	 * dictionary-attack try until lockout. Forget it; the user unlocks
	 * again. */
	if (r == TPMID_E_BADPIN && use != NULL && use == en->pin)
		entry_drop_pin(en);
	return r;
}

int
engine_sign_data(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	uint8_t dg[EVP_MAX_MD_SIZE];
	unsigned int dg_len = 0;
	struct entry *en;
	const EVP_MD *md;
	int r;

	*ret_der = NULL;
	*ret_len = 0;
	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	if ((md = ec_md(curve_get(en->id->alg))) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "identity '%s': unknown algorithm", name);
	if (EVP_Digest(data, len, dg, &dg_len, md, NULL) != 1)
		return tpmid_seterr(TPMID_E_NOMEM, "hashing failed");
	return engine_sign_digest(e, name, dg, dg_len, pin, ret_der, ret_len);
}

/* --- engine lifecycle ----------------------------------------------------- */

int
engine_new(const struct engine_cfg *cfg, struct engine **ret)
{
	struct engine *e;
	const uint8_t *nm;
	size_t nm_len;
	int r;

	*ret = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return TPMID_E_NOMEM;
	e->max_loaded = cfg->max_loaded ? cfg->max_loaded : ENGINE_MAX_LOADED_DEFAULT;
	if ((e->tcti = strdup(tpm_tcti_default(cfg->tcti))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = store_open(cfg->store_dir, 1, &e->store)) != 0)
		goto out;
	if (!cfg->lazy_tpm && (r = engine_srk_name(e, &nm, &nm_len)) != 0)
		goto out;
	*ret = e;
	e = NULL;
out:
	engine_free(e);
	return r;
}

void
engine_free(struct engine *e)
{
	struct entry *en;

	if (e == NULL)
		return;
	while ((en = e->entries) != NULL) {
		e->entries = en->next;
		entry_free(e, en);
	}
	if (e->tpm != NULL)
		tpm_close(e->tpm);
	store_free(e->store);
	free(e->tcti);
	free(e);
}

/* --- info and list -------------------------------------------------------- */

static int
dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (s != NULL && (*ret = strdup(s)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

static int
entry_unlocked(struct entry *en)
{
	if (en == NULL || en->pin == NULL)
		return 0;
	return en->pin_expiry == 0 || now_mono() < en->pin_expiry;
}

/* The entry's public key as DER SubjectPublicKeyInfo, decoded from the PEM
 * once per file version: this is on every ssh SIGN_REQUEST's path. */
static int
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

static int
fill_info(struct entry *en, struct id_info *ret)
{
	const struct identity *id = en->id;
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", id->name);
	ret->alg = id->alg;
	ret->pin = id->pin;
	ret->unlocked = entry_unlocked(en);
	ret->handle = id->handle;
	if ((r = entry_spki(en)) != 0)
		goto out;
	if ((ret->spki = malloc(en->spki_len)) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	memcpy(ret->spki, en->spki, en->spki_len);
	ret->spki_len = en->spki_len;
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
	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	return fill_info(en, ret);
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
		r = get_entry(e, se[i].name, &en);
		if (r == TPMID_E_NOENT) /* deleted while we looked */
			continue;
		if (r == 0)
			r = fill_info(en, &a[k]);
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
	if ((r = get_entry(e, name, &en)) != 0)
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

/* --- keygen and import ---------------------------------------------------- */

/* Fail early, before the TPM does any work, when the name is taken. */
static int
check_new_name(struct engine *e, const char *name)
{
	struct store_stamp st;
	int r;

	if (!identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL, "'%s' is not a valid identity name "
		    "(1-64 characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-')", name);
	r = store_stat(e->store, name, &st);
	if (r == 0)
		return tpmid_seterr(TPMID_E_EXISTS, "identity '%s' already exists in %s", name,
		    store_dir(e->store));
	if (r != TPMID_E_NOENT)
		return r;
	tpmid_clearerr();
	return 0;
}

/* Record a key the TPM just made or imported as identity `name`: persist it
 * if asked, then write the file. On failure nothing is left behind (the
 * persistent copy is evicted again). */
static int
record_identity(struct engine *e, const char *name, const struct keyfile *kf, int pin,
    enum engine_persist persist, uint32_t handle, struct id_info *ret)
{
	struct identity *id = NULL;
	struct tpm_blob blob = { 0 };
	struct tpm_key *k = NULL;
	struct attempt a = { 0 };
	EVP_PKEY *pub = NULL;
	enum tpm_curve curve = TPM_CURVE_NONE;
	const uint8_t *srk;
	size_t srk_len;
	uint32_t got = 0;
	int r;

	if ((r = tpm_blob_public(kf->pub, kf->pub_len, &curve, &pub, NULL)) != 0)
		goto out;
	if ((r = engine_srk_name(e, &srk, &srk_len)) != 0)
		goto out;
	if ((r = identity_new(name, &id)) != 0)
		goto out;
	id->alg = (enum tpmid_curve)curve; /* enum tpm_curve has the table's values */
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

	if (persist != ENGINE_PERSIST_NO) {
		blob.pub = kf->pub;
		blob.pub_len = kf->pub_len;
		blob.priv = kf->priv;
		blob.priv_len = kf->priv_len;
		for (;;) {
			r = tpm_load(e->tpm, &blob, srk, srk_len, &k);
			if (r == 0) {
				r = tpm_persist(e->tpm, k, persist == ENGINE_PERSIST_HANDLE ? handle : 0,
				    &got);
				tpm_key_free(e->tpm, k);
				k = NULL;
			}
			if (r == 0 || !engine_recover(e, r, &a, NULL))
				break;
			/* The SRK name may have been re-read after a reset. */
			if ((r = engine_srk_name(e, &srk, &srk_len)) != 0)
				goto out;
		}
		if (r != 0)
			goto out;
		id->handle = got;
	}
	if ((r = store_save(e->store, id, STORE_CREATE)) != 0) {
		if (got != 0)
			(void)tpm_evict(e->tpm, got);
		goto out;
	}
	if (ret != NULL) {
		struct entry *en;

		if ((r = get_entry(e, name, &en)) == 0)
			r = fill_info(en, ret);
	}
out:
	EVP_PKEY_free(pub);
	identity_free(id);
	return r;
}

int
engine_keygen(struct engine *e, const char *name, enum tpmid_curve alg,
    const struct secret *pin, enum engine_persist persist, uint32_t handle,
    struct id_info *ret)
{
	struct tpm_blob blob = { 0 };
	struct keyfile *kf = NULL;
	struct attempt a = { 0 };
	struct tpm *t;
	int has_pin = pin != NULL && pin->len > 0;
	int r;

	if (ret != NULL)
		memset(ret, 0, sizeof(*ret));
	if (curve_get(alg) == NULL)
		return tpmid_seterr(TPMID_E_CURVE, "unsupported curve (use p256 or p384)");
	if (persist == ENGINE_PERSIST_HANDLE &&
	    (handle < TPM_PERSIST_FIRST || handle > TPM_PERSIST_LAST))
		return tpmid_seterr(TPMID_E_INVAL, "persistent handle 0x%08x out of range "
		    "0x%08x..0x%08x", handle, TPM_PERSIST_FIRST, TPM_PERSIST_LAST);
	if ((r = check_new_name(e, name)) != 0)
		return r;
	for (;;) {
		if ((r = engine_tpm(e, &t)) == 0 &&
		    (r = tpm_keygen(t, (enum tpm_curve)alg, has_pin ? pin : NULL, &blob)) == 0)
			break;
		if (!engine_recover(e, r, &a, NULL))
			return r;
	}
	if ((r = keyfile_new(TPM_PARENT_OWNER, !has_pin, blob.pub, blob.pub_len, blob.priv,
	    blob.priv_len, &kf)) != 0)
		goto out;
	r = record_identity(e, name, kf, has_pin, persist, handle, ret);
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
	r = record_identity(e, name, kf, !kf->empty_auth, ENGINE_PERSIST_NO, 0, ret);
out:
	keyfile_free(kf);
	return r;
}

/* A software EC private key: PEM or DER, PKCS#8 or SEC1 (OpenSSL's
 * decoders try each), P-256 or P-384, wrapped into the TPM by TPM2_Import. */
static int
decode_ec_key(const uint8_t *data, size_t len, EVP_PKEY **ret)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pk = NULL;
	const unsigned char *p = data;
	const struct curve_info *c;
	size_t left = len;
	int r = 0;

	*ret = NULL;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pk, NULL, NULL, NULL,
	    OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
	if (dctx == NULL)
		return TPMID_E_NOMEM;
	if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pk == NULL) {
		r = tpmid_seterr(TPMID_E_FORMAT, "not a TSS2 PRIVATE KEY, OpenSSH private key or "
		    "unencrypted PEM/DER (PKCS#8, SEC1) private key");
		goto out;
	}
	if ((r = ec_pkey_curve(pk, &c)) != 0)
		goto out;
	*ret = pk;
	pk = NULL;
out:
	EVP_PKEY_free(pk);
	OSSL_DECODER_CTX_free(dctx);
	return r;
}

int
engine_import(struct engine *e, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	struct tpm_blob blob = { 0 };
	struct keyfile *kf = NULL;
	struct attempt a = { 0 };
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
	if ((r = decode_ec_key(data, len, &pk)) != 0)
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
	r = record_identity(e, name, kf, has_pin, ENGINE_PERSIST_NO, 0, ret);
out:
	EVP_PKEY_free(pk); /* EC private keys are cleared by OpenSSL on free */
	keyfile_free(kf);
	tpm_blob_clear(&blob);
	return r;
}

/* --- delete, unlock, lock ------------------------------------------------- */

int
engine_delete(struct engine *e, const char *name)
{
	struct entry *en = NULL;
	struct keyfile *kf = NULL;
	struct tpm_key *k = NULL;
	struct tpm *t;
	uint32_t handle = 0;
	int r;

	r = get_entry(e, name, &en);
	if (r == TPMID_E_NOENT || r == TPMID_E_INVAL)
		return r;
	/* A malformed file can still be deleted; only a parsed one can tell
	 * us about a persistent handle. */
	if (r == 0) {
		handle = en->id->handle;
		/* The key's public area, to check that the object at the
		 * handle is still this identity's before evicting it. */
		if (handle != 0 && en->id->key_pem != NULL &&
		    keyfile_parse_pem(en->id->key_pem, strlen(en->id->key_pem), &kf) != 0)
			kf = NULL;
	}
	tpmid_clearerr();
	entry_remove(e, name);
	if (handle != 0) {
		if ((r = engine_tpm(e, &t)) != 0)
			goto out;
		/* The key may have been evicted behind our back and the handle
		 * reused by another identity or program: never evict an object
		 * that is not this identity's key. */
		if (kf != NULL) {
			r = tpm_load_persistent(t, handle, kf->pub, kf->pub_len, &k);
			tpm_key_free(t, k);
			if (r == TPMID_E_MISMATCH || r == TPMID_E_NOENT) {
				tpmid_clearerr();
				handle = 0;
			} else if (r != 0) {
				tpmid_err_prefix("checking 0x%08x", handle);
				goto out;
			}
		}
		if (handle != 0) {
			r = tpm_evict(t, handle);
			if (r != 0 && r != TPMID_E_NOENT) {
				tpmid_err_prefix("evicting 0x%08x", handle);
				goto out;
			}
		}
	}
	r = store_delete(e->store, name);
out:
	keyfile_free(kf);
	return r;
}

int
engine_unlock(struct engine *e, const char *name, const struct secret *pin,
    unsigned timeout_s)
{
	uint8_t dg[48];
	uint8_t *der = NULL;
	size_t der_len = 0;
	struct secret *held = NULL;
	struct entry *en;
	int r;

	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	if (!en->id->pin)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s' has no PIN", name);
	if (pin == NULL || pin->len == 0)
		return tpmid_seterr(TPMID_E_NEEDPIN, "no PIN given for identity '%s'", name);
	if (RAND_bytes(dg, sizeof(dg)) != 1)
		return tpmid_seterr(TPMID_E_NOMEM, "no random bytes");
	/* The TPM is the judge of the PIN: one signature proves it. */
	r = sign_entry(e, en, dg, curve_get(en->id->alg)->digest_len, pin, &der, &der_len);
	free(der);
	if (r != 0)
		return r;
	if ((held = secret_dup(pin)) == NULL)
		return TPMID_E_NOMEM;
	entry_drop_pin(en);
	en->pin = held;
	en->pin_expiry = timeout_s ? now_mono() + (time_t)timeout_s : 0;
	return 0;
}

int
engine_lock(struct engine *e, const char *name)
{
	struct entry *en;
	struct store_stamp st;
	int r;

	if (name == NULL) {
		for (en = e->entries; en != NULL; en = en->next)
			entry_drop_pin(en);
		return 0;
	}
	if ((en = entry_find(e, name)) != NULL) {
		entry_drop_pin(en);
		return 0;
	}
	if (!identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL, "'%s' is not a valid identity name", name);
	if ((r = store_stat(e->store, name, &st)) != 0)
		return r == TPMID_E_NOENT ?
		    tpmid_seterr(r, "no identity '%s' in %s", name, store_dir(e->store)) : r;
	return 0;
}

/* --- certificates --------------------------------------------------------- */

int
engine_set_cert(struct engine *e, const char *name, const char *cert_pem,
    const char *ca_pem)
{
	struct entry *en;
	char *cert = NULL, *ca = NULL;
	int r;

	if (cert_pem == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no certificate given");
	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	if ((r = x509_cert_matches(cert_pem, en->id->public_key_pem, &cert)) != 0) {
		if (r == TPMID_E_MISMATCH)
			tpmid_seterr(r, "certificate does not match identity '%s' (its public key "
			    "is not the identity's)", name);
		goto out;
	}
	if (ca_pem != NULL && (r = x509_bundle_normalize(ca_pem, &ca)) != 0)
		goto out;
	if ((r = identity_set_str(&en->id->cert_pem, cert)) != 0)
		goto out;
	if ((r = identity_set_str(&en->id->ca_pem, ca)) != 0)
		goto out;
	r = store_save(e->store, en->id, 0);
out:
	/* The cached parse now differs from the file (or the save failed):
	 * re-read it next time. */
	en->stale = 1;
	free(cert);
	free(ca);
	return r;
}

int
engine_set_ssh_cert(struct engine *e, const char *name, const char *line)
{
	struct entry *en;
	uint8_t *blob = NULL, *spki = NULL;
	size_t blob_len = 0, spki_len = 0, n;
	char *clean = NULL;
	int r;

	if (line == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no certificate given");
	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	/* One line, without the trailing newline the .pub file has. */
	n = strcspn(line, "\r\n");
	if ((clean = strndup(line, n)) == NULL)
		return TPMID_E_NOMEM;
	if ((r = sshwire_line_blob(clean, &blob, &blob_len)) != 0)
		goto out;
	if ((r = ec_spki_from_pem(en->id->public_key_pem, &spki, &spki_len)) != 0)
		goto out;
	if ((r = sshwire_cert_matches(blob, blob_len, spki, spki_len)) != 0) {
		if (r == TPMID_E_MISMATCH)
			tpmid_seterr(r, "OpenSSH certificate does not certify identity '%s''s key",
			    name);
		goto out;
	}
	if ((r = identity_set_str(&en->id->ssh_cert, clean)) != 0)
		goto out;
	r = store_save(e->store, en->id, 0);
out:
	en->stale = 1;
	free(clean);
	free(blob);
	free(spki);
	return r;
}

/* --- status, access, housekeeping ----------------------------------------- */

int
engine_status(struct engine *e, struct engine_status *ret)
{
	struct store_entry *se = NULL;
	struct entry *en;
	struct tpm *t;
	size_t n = 0;
	unsigned cnt;
	int r;

	memset(ret, 0, sizeof(*ret));
	snprintf(ret->tcti, sizeof(ret->tcti), "%s", e->tcti);
	ret->tpm_ok = engine_tpm(e, &t) == 0 && tpm_transient_count(t, &cnt) == 0;
	tpmid_clearerr();
	if ((r = store_list(e->store, &se, &n)) != 0)
		return r;
	store_list_free(se, n);
	ret->identities = (unsigned)n;
	ret->loaded = e->loaded;
	ret->max_loaded = e->max_loaded;
	for (en = e->entries; en != NULL; en = en->next)
		ret->unlocked += entry_unlocked(en) ? 1 : 0;
	ret->signs = e->signs;
	ret->tpm_resets = e->tpm_resets;
	return 0;
}

/* Whether `uid` is a member of `want` through its supplementary groups
 * (SO_PEERCRED only carries the primary gid), looked up in the group
 * database as login would have set them. */
static int
uid_in_group(uid_t uid, gid_t primary, gid_t want)
{
	struct passwd pw, *pwp = NULL;
	gid_t small[64], *groups = small;
	int i, n = (int)ELEMENTSOF(small), found = 0;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return 0;
	if (getgrouplist(pw.pw_name, primary, groups, &n) < 0) {
		/* n now holds the number needed. */
		if (n <= 0 || n > NGROUPS_MAX ||
		    (groups = calloc((size_t)n, sizeof(*groups))) == NULL)
			return 0;
		if (getgrouplist(pw.pw_name, primary, groups, &n) < 0)
			n = 0;
	}
	for (i = 0; i < n && !found; i++)
		found = groups[i] == want;
	if (groups != small)
		free(groups);
	return found;
}

int
engine_check_access(struct engine *e, const char *name, uid_t uid, gid_t gid)
{
	struct entry *en;
	size_t i;
	int r;

	if ((r = get_entry(e, name, &en)) != 0)
		return r;
	if (uid == 0 || uid == getuid() || uid == geteuid())
		return 0;
	for (i = 0; i < en->id->n_allowed_uids; i++)
		if (en->id->allowed_uids[i] == uid)
			return 0;
	for (i = 0; i < en->id->n_allowed_gids; i++)
		if (en->id->allowed_gids[i] == gid || uid_in_group(uid, gid,
		    en->id->allowed_gids[i]))
			return 0;
	return tpmid_seterr(TPMID_E_PERM, "uid %u may not use identity '%s'", (unsigned)uid,
	    name);
}

int
engine_tick(struct engine *e)
{
	struct entry *en;
	time_t now = now_mono();
	long next = -1;

	for (en = e->entries; en != NULL; en = en->next) {
		if (en->pin == NULL || en->pin_expiry == 0)
			continue;
		if (now >= en->pin_expiry) {
			entry_drop_pin(en);
			continue;
		}
		if (next < 0 || en->pin_expiry - now < next)
			next = (long)(en->pin_expiry - now);
	}
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

void
engine_rescan(struct engine *e)
{
	struct entry *en;

	for (en = e->entries; en != NULL; en = en->next)
		en->stale = 1;
}

/* --- backend_direct_ops: the engine in-process ---------------------------- */

static int
d_list(void *ctx, struct id_info **ret, size_t *ret_n)
{
	return engine_list(ctx, ret, ret_n);
}

static int
d_info(void *ctx, const char *name, struct id_info *ret)
{
	return engine_info(ctx, name, ret);
}

static int
d_identity_json(void *ctx, const char *name, char **ret)
{
	return engine_identity_json(ctx, name, ret);
}

static int
d_sign_digest(void *ctx, const char *name, const uint8_t *dg, size_t len,
    const struct secret *pin, uint8_t **ret_der, size_t *ret_len)
{
	return engine_sign_digest(ctx, name, dg, len, pin, ret_der, ret_len);
}

static int
d_keygen(void *ctx, const char *name, enum tpmid_curve alg, const struct secret *pin,
    enum engine_persist persist, uint32_t handle, struct id_info *ret)
{
	return engine_keygen(ctx, name, alg, pin, persist, handle, ret);
}

static int
d_import(void *ctx, const char *name, const uint8_t *data, size_t len,
    const struct secret *pin, struct id_info *ret)
{
	return engine_import(ctx, name, data, len, pin, ret);
}

static int
d_delete(void *ctx, const char *name)
{
	return engine_delete(ctx, name);
}

static int
d_unlock(void *ctx, const char *name, const struct secret *pin, unsigned timeout_s)
{
	return engine_unlock(ctx, name, pin, timeout_s);
}

static int
d_lock(void *ctx, const char *name)
{
	return engine_lock(ctx, name);
}

static int
d_set_cert(void *ctx, const char *name, const char *cert_pem, const char *ca_pem)
{
	return engine_set_cert(ctx, name, cert_pem, ca_pem);
}

static int
d_set_ssh_cert(void *ctx, const char *name, const char *line)
{
	return engine_set_ssh_cert(ctx, name, line);
}

static int
d_status(void *ctx, struct engine_status *ret)
{
	return engine_status(ctx, ret);
}

static void
d_close(void *ctx)
{
	engine_free(ctx);
}

const struct backend_ops backend_direct_ops = {
	.kind = "direct",
	.list = d_list,
	.info = d_info,
	.identity_json = d_identity_json,
	.sign_digest = d_sign_digest,
	.keygen = d_keygen,
	.import = d_import,
	.delete = d_delete,
	.unlock = d_unlock,
	.lock = d_lock,
	.set_cert = d_set_cert,
	.set_ssh_cert = d_set_ssh_cert,
	.status = d_status,
	.close = d_close,
};
