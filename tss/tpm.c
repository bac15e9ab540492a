/* tss/tpm.c: the connection to the TPM as tpmid uses it, through tpm2-tss
 * ESAPI (and SAPI underneath for the PIN-sign fast path, see
 * tss/session.c): open, close, recover; flushing and listing handles; the
 * sessions struct tpm owns. The SRK, keys, import and sign live in the
 * files tss/tpm-private.h lists.
 *
 * Ownership rules (all of tss/): every ESYS_TR a function creates is
 * flushed (transient) or closed (persistent) by that function on failure,
 * or by tpm_key_free()/tpm_close() later. Every transient object and
 * session the connection makes is also recorded by its TPM handle number
 * (tss_own), so tpm_recover() can flush exactly those after a fault that
 * cost the ESAPI context its own records. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "common/err.h"
#include "common/util.h"
#include "tss/rc.h"
#include "tss/session.h"
#include "tss/tpm-private.h"

const char *
tpm_tcti_default(const char *conf)
{
	const char *e;

	if (conf != NULL && *conf != '\0')
		return conf;
	e = getenv("TPMID_TCTI");
	if (e != NULL && *e != '\0')
		return e;
	return "device:/dev/tpmrm0";
}

const char *
tpm_tcti(const struct tpm *t)
{
	return t->tcti_conf;
}

/* ---- connection ------------------------------------------------------ */

static void
disconnect(struct tpm *t)
{
	if (t->esys != NULL)
		Esys_Finalize(&t->esys);
	if (t->tcti != NULL)
		Tss2_TctiLdr_Finalize(&t->tcti);
	t->esys = NULL;
	t->tcti = NULL;
	t->sys = NULL;
}

/* The TPM's reset and restart counts (TPM2_ReadClock, Part 3 §29.1;
 * Part 1 §36.6: resetCount grows at every TPM Reset, restartCount at every
 * TPM Restart or Resume). Transient objects survive neither. */
static int
read_counts(struct tpm *t, uint32_t *ret_reset, uint32_t *ret_restart)
{
	TPMS_TIME_INFO *ti = NULL;
	TSS2_RC rc;

	*ret_reset = *ret_restart = 0;
	TSS_CALL(rc, Esys_ReadClock(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ti));
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "reading the TPM's clock (TPM2_ReadClock)");
	*ret_reset = ti->clockInfo.resetCount;
	*ret_restart = ti->clockInfo.restartCount;
	Esys_Free(ti);
	return 0;
}

/* Every loaded transient object and session handle, into a fresh array. */
static int
list_loaded(struct tpm *t, TPM2_HANDLE **ret, size_t *ret_n)
{
	static const TPM2_HANDLE ranges[][2] = {
		{ TRANSIENT_FIRST, PERSISTENT_FIRST - 1 },
		{ LOADED_SESSION_FIRST, LOADED_SESSION_LAST },
	};
	TPM2_HANDLE *a = NULL, *na, from;
	TPML_HANDLE l;
	size_t n = 0, k, i;
	int more, r;

	*ret = NULL;
	*ret_n = 0;
	for (k = 0; k < ELEMENTSOF(ranges); k++) {
		for (from = ranges[k][0];;) {
			if ((r = tss_get_handles(t, from, &l, &more)) < 0)
				goto out;
			for (i = 0; i < l.count && l.handle[i] <= ranges[k][1]; i++) {
				if ((na = reallocarray(a, n + 1, sizeof(*a))) == NULL) {
					r = TPMID_E_NOMEM;
					goto out;
				}
				a = na;
				a[n++] = l.handle[i];
			}
			if (!more || l.count == 0 || i < l.count)
				break;
			from = l.handle[l.count - 1] + 1;
		}
	}
	*ret = a;
	*ret_n = n;
	a = NULL;
	r = 0;
out:
	free(a);
	return r;
}

static void held_changed(struct tpm *t);

/* TPM2_FlushContext by handle number (through SAPI: no ESYS_TR needed). */
static TSS2_RC
flush_number(struct tpm *t, TPM2_HANDLE h)
{
	TSS2_RC rc;

	TSS_CALL(rc, Tss2_Sys_FlushContext(t->sys, h));
	return rc;
}

/* A small set of handle numbers. Adding never fails the caller: without
 * memory the handle is only missing from a later flush by number. */
static void
hset_add(struct hset *s, TPM2_HANDLE h)
{
	TPM2_HANDLE *na;
	size_t nn;

	if (u32_in(s->h, s->n, h))
		return;
	if (s->n == s->a) {
		nn = s->a ? s->a * 2 : 8;
		if ((na = reallocarray(s->h, nn, sizeof(*na))) == NULL)
			return;
		s->h = na;
		s->a = nn;
	}
	s->h[s->n++] = h;
}

static void
hset_del(struct hset *s, TPM2_HANDLE h)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->h[i] == h) {
			s->h[i] = s->h[--s->n];
			return;
		}
}

static int
connect_tpm(struct tpm *t)
{
	struct tss_backoff backoff = { 0 };
	TSS2_RC rc;
	int r, saved;

	errno = 0;
	rc = Tss2_TctiLdr_Initialize(t->tcti_conf, &t->tcti);
	saved = errno;
	if (rc != TSS2_RC_SUCCESS) {
		t->tcti = NULL;
		r = tss_no_tpm(t->tcti_conf, rc, saved);
		goto out;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->esys = NULL;
		r = tss_rc_err(rc, TSS_RC_OPEN, "initializing ESAPI");
		goto out;
	}
	rc = Esys_GetSysContext(t->esys, &t->sys);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, TSS_RC_OPEN, "getting the SAPI context");
		goto out;
	}
	/* Part 3 §9.3: Startup(CLEAR) on a started TPM answers
	 * TPM_RC_INITIALIZE, which is what we expect almost always (firmware,
	 * the kernel or swtpm's startup-clear flag did it). */
	do {
		errno = 0;
		rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
		saved = errno;
		if (tss_rc_tpm_code(rc) == TPM2_RC_INITIALIZE)
			rc = TSS2_RC_SUCCESS;
	} while (tss_backoff(&backoff, rc));
	if (rc != TSS2_RC_SUCCESS) {
		if (tss_rc_map(rc, TSS_RC_OPEN) == TPMID_E_NOTPM)
			r = tss_no_tpm(t->tcti_conf, rc, saved);
		else
			r = tss_rc_err(rc, TSS_RC_OPEN, "TPM2_Startup");
		goto out;
	}
	r = 0;
out:
	/* Half a connection is no connection: t->esys == NULL is what the
	 * rest of tss/ checks (tss_connected()). */
	if (r < 0)
		disconnect(t);
	return r;
}

int
tpm_open(const char *tcti_conf, struct tpm **ret)
{
	struct tpm *t = NULL;
	int r;

	*ret = NULL;
	/* Library code does not log, and tpm2-tss would print its own error
	 * lines to stderr for things we report properly (no TPM, wrong PIN).
	 * A TSS2_LOG the user set is respected. */
	setenv("TSS2_LOG", "all+NONE", 0);

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return tpmid_seterr(TPMID_E_NOMEM, "out of memory");
	t->srk = ESYS_TR_NONE;
	t->tcti_conf = strdup(tpm_tcti_default(tcti_conf));
	if (t->tcti_conf == NULL) {
		r = tpmid_seterr(TPMID_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = tss_crypto_new(&t->crypto)) < 0)
		goto out;
	if ((r = connect_tpm(t)) < 0)
		goto out;
	/* What was here before us is not ours to flush after a fault. */
	if ((r = read_counts(t, &t->reset_count, &t->restart_count)) < 0 ||
	    (r = list_loaded(t, &t->foreign, &t->n_foreign)) < 0)
		goto out;
	*ret = t;
	t = NULL;
	r = 0;
out:
	tpm_close(t);
	return r;
}

void
tpm_close(struct tpm *t)
{
	if (t == NULL)
		return;
	tss_drop_session(t, 1);
	tss_srk_drop(t, 1);
	/* Whatever we made and could not flush before goes now. */
	if (t->sys != NULL)
		(void)tss_flush_strays(t);
	disconnect(t);
	tss_crypto_free(t->crypto);
	free(t->tcti_conf);
	free(t->owned.h);
	free(t->stray.h);
	free(t->foreign);
	freezero(t, sizeof(*t));
}

int
tpm_recover(struct tpm *t, int *ret_reset)
{
	TPM2_HANDLE *owned = t->owned.h, *now = NULL;
	size_t n_owned = t->owned.n, n_now = 0, i;
	uint32_t reset, restart;
	int r;

	*ret_reset = 0;
	/* The old ESAPI context is dropped whole: after a lost or garbled
	 * response it refuses every call (TSS2_ESYS_RC_BAD_SEQUENCE), and
	 * its ESYS_TRs describe objects we are about to flush anyway. */
	tss_drop_session(t, 0);
	tss_srk_drop(t, 0);
	disconnect(t);
	t->gen++;
	memset(&t->owned, 0, sizeof(t->owned));
	free(t->stray.h);
	memset(&t->stray, 0, sizeof(t->stray));
	if ((r = connect_tpm(t)) < 0)
		goto out;
	if ((r = read_counts(t, &reset, &restart)) < 0 ||
	    (r = list_loaded(t, &now, &n_now)) < 0)
		goto out;
	if (reset != t->reset_count || restart != t->restart_count) {
		/* Part 1 §36.6: Startup flushed every transient object. What
		 * is loaded now was loaded since, by somebody else. */
		*ret_reset = 1;
		t->reset_count = reset;
		t->restart_count = restart;
		free(t->foreign);
		t->foreign = now;
		t->n_foreign = n_now;
		now = NULL;
		r = 0;
		goto out;
	}
	/* Not reset: our objects are still there (through a resource manager
	 * the new connection sees none: the old one's went with it). Flush
	 * what we recorded, and what appeared since we came that is not in
	 * that record: an object whose create answer was lost on the way
	 * (TPM2_Load, CreatePrimary, StartAuthSession). While it runs,
	 * tpmid-agent is the only client of a TPM without a resource manager
	 * (DESIGN.md: its few slots are shared by all), so such an object is
	 * ours. Flushing by number is one command each, and an already gone
	 * handle is only an error we ignore. */
	for (i = 0; i < n_owned; i++)
		(void)flush_number(t, owned[i]);
	for (i = 0; i < n_now; i++)
		if (!u32_in(owned, n_owned, now[i]) && !u32_in(t->foreign, t->n_foreign, now[i]))
			(void)flush_number(t, now[i]);
	r = 0;
out:
	if (r < 0) {
		disconnect(t); /* tss_connected() says so; the next call retries */
		/* Nothing was flushed: the next recovery still owes it. */
		free(t->owned.h);
		t->owned.h = owned;
		t->owned.n = t->owned.a = n_owned;
		owned = NULL;
	}
	held_changed(t);
	free(owned);
	free(now);
	return r;
}

/* ---- objects and handles --------------------------------------------- */

/* Forget our SRK, flushing (or closing) it first when `flush`. Kept with
 * the rest of struct tpm's life, which close and reconnect need; srk.c
 * makes the SRK, this file owns the slot it lives in. */
void
tss_srk_drop(struct tpm *t, int flush)
{
	if (flush && t->esys != NULL) {
		if (t->srk_persistent)
			tss_close(t, &t->srk);
		else
			tss_flush(t, &t->srk);
	}
	t->srk = ESYS_TR_NONE;
	t->srk_persistent = 0;
	memset(&t->srk_name, 0, sizeof(t->srk_name));
	memset(&t->srk_pub, 0, sizeof(t->srk_pub));
}

/* Flush a transient object or session and forget its ESYS_TR. ESAPI drops
 * an ESYS_TR only when TPM2_FlushContext succeeds; when it fails (the
 * object was flushed behind our back, the TPM was reset, the link broke)
 * the metadata would otherwise stay in the ESYS_CONTEXT until
 * Esys_Finalize, which in the agent is never. Errors are not reported:
 * callers flush while cleaning up and have nothing better to do. */
void
tss_flush(struct tpm *t, ESYS_TR *tr)
{
	TPM2_HANDLE h = 0;
	TSS2_RC rc;

	if (*tr == ESYS_TR_NONE)
		return;
	(void)Esys_TR_GetTpmHandle(t->esys, *tr, &h);
	TSS_CALL(rc, Esys_FlushContext(t->esys, *tr));
	if (rc != TSS2_RC_SUCCESS)
		(void)Esys_TR_Close(t->esys, tr);
	*tr = ESYS_TR_NONE;
	if (h == 0)
		return;
	/* Gone, or flushed now: no longer ours. Refused or unanswered (a
	 * fault on the link, a busy TPM): still ours, and a stray until a
	 * later flush by number takes it (tss_flush_strays, tpm_close,
	 * tpm_recover). */
	if (rc == TSS2_RC_SUCCESS || tss_rc_tpm_code(rc) == TPM2_RC_HANDLE ||
	    (tss_rc_tpm_code(rc) & ~0xFu) == TPM2_RC_REFERENCE_H0)
		tss_disown(t, h);
	else
		hset_add(&t->stray, h);
}

size_t
tss_flush_strays(struct tpm *t)
{
	size_t i = 0, n = 0;
	TPM2_HANDLE h;

	while (i < t->stray.n) {
		h = t->stray.h[i];
		if (flush_number(t, h) == TSS2_RC_SUCCESS) {
			hset_del(&t->stray, h);
			tss_disown(t, h);
			n++;
			continue;
		}
		i++;
	}
	return n;
}

/* Persistent objects are not flushed, only their ESYS_TR is closed
 * (nothing is sent to the TPM, so this cannot fail for a known ESYS_TR). */
void
tss_close(struct tpm *t, ESYS_TR *tr)
{
	if (*tr == ESYS_TR_NONE)
		return;
	(void)Esys_TR_Close(t->esys, tr);
	*tr = ESYS_TR_NONE;
}

/* Tell tpm_on_held()'s callback what we hold now. */
static void
held_changed(struct tpm *t)
{
	struct tpm_held h;

	if (t->held_fn == NULL)
		return;
	h.reset_count = t->reset_count;
	h.restart_count = t->restart_count;
	h.handles = t->owned.h;
	h.n = t->owned.n;
	h.pending = t->creating;
	h.known = t->foreign;
	h.n_known = t->n_foreign;
	t->held_fn(t->held_ctx, &h);
}

void
tss_creating(struct tpm *t, int pending)
{
	if (t->creating == pending)
		return;
	t->creating = pending;
	held_changed(t);
}

void
tpm_on_held(struct tpm *t, void (*fn)(void *ctx, const struct tpm_held *h), void *ctx)
{
	t->held_fn = fn;
	t->held_ctx = ctx;
	held_changed(t);
}

int
tpm_has_rm(const struct tpm *t)
{
	return strncmp(t->tcti_conf, "device:/dev/tpmrm", 17) == 0 ||
	    strncmp(t->tcti_conf, "tabrmd", 6) == 0;
}

static void
forget_foreign(struct tpm *t, TPM2_HANDLE h)
{
	size_t k;

	for (k = 0; k < t->n_foreign; k++)
		if (t->foreign[k] == h) {
			t->foreign[k] = t->foreign[--t->n_foreign];
			return;
		}
}

size_t
tpm_flush_dead(struct tpm *t, const struct tpm_held *dead, const uint32_t *claimed,
    size_t n_claimed)
{
	TPM2_HANDLE *now = NULL, h;
	size_t i, n_now = 0, n = 0;

	if (t->esys == NULL || dead->reset_count != t->reset_count ||
	    dead->restart_count != t->restart_count)
		return 0;
	for (i = 0; i < dead->n; i++) {
		h = dead->handles[i];
		if (u32_in(t->owned.h, t->owned.n, h) || u32_in(claimed, n_claimed, h))
			continue;
		if (flush_number(t, h) == TSS2_RC_SUCCESS)
			n++;
		forget_foreign(t, h);
	}
	if (!dead->pending || list_loaded(t, &now, &n_now) < 0)
		goto out;
	for (i = 0; i < n_now; i++) {
		h = now[i];
		if (u32_in(dead->known, dead->n_known, h) ||
		    u32_in(dead->handles, dead->n, h) || u32_in(claimed, n_claimed, h) ||
		    u32_in(t->owned.h, t->owned.n, h))
			continue;
		if (flush_number(t, h) == TSS2_RC_SUCCESS)
			n++;
		forget_foreign(t, h);
	}
out:
	free(now);
	tpmid_clearerr();
	return n;
}

void
tss_own(struct tpm *t, TPM2_HANDLE h)
{
	hset_add(&t->owned, h);
	if (!t->creating) /* else tss_creating(t, 0) writes it */
		held_changed(t);
}

void
tss_own_tr(struct tpm *t, ESYS_TR tr)
{
	TPM2_HANDLE h;

	if (Esys_TR_GetTpmHandle(t->esys, tr, &h) == TSS2_RC_SUCCESS)
		tss_own(t, h);
}

void
tss_disown(struct tpm *t, TPM2_HANDLE h)
{
	size_t n = t->owned.n;

	hset_del(&t->owned, h);
	hset_del(&t->stray, h);
	if (t->owned.n != n)
		held_changed(t);
}

int
tss_connected(const struct tpm *t)
{
	if (t->esys == NULL)
		return tpmid_seterr(TPMID_E_TPM_RESET, "not connected to the TPM at '%s'", t->tcti_conf);
	return 0;
}

int
tss_tr_name(struct tpm *t, ESYS_TR tr, TPM2B_NAME *ret)
{
	TPM2B_NAME *n = NULL;
	TSS2_RC rc;

	memset(ret, 0, sizeof(*ret));
	rc = Esys_TR_GetName(t->esys, tr, &n);
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "reading an object's name");
	*ret = *n;
	Esys_Free(n);
	return 0;
}

/* Owner-authorized commands (CreatePrimary, EvictControl) use the empty
 * owner password; a failure there is not about any PIN. */
int
tss_owner_err(TSS2_RC rc, const char *what)
{
	int r = tss_rc_err(rc, 0, what);

	if (r == TPMID_E_BADPIN)
		return tpmid_seterr(TPMID_E_PERM,
		    "%s: the TPM's owner hierarchy has a password; tpmid needs it empty "
		    "(tpm2_changeauth -c owner with the old password)", what);
	return r;
}

int
tss_get_handles(struct tpm *t, TPM2_HANDLE first, TPML_HANDLE *ret, int *ret_more)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more_data = 0;
	TSS2_RC rc;

	memset(ret, 0, sizeof(*ret));
	*ret_more = 0;
	TSS_CALL(rc, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, &more_data, &cap));
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "listing TPM handles (TPM2_GetCapability)");
	*ret = cap->data.handles;
	*ret_more = more_data == TPM2_YES;
	Esys_Free(cap);
	return 0;
}

int
tss_handle_exists(struct tpm *t, TPM2_HANDLE h, int *ret)
{
	TPML_HANDLE l;
	int more, r;

	*ret = 0;
	if ((r = tss_get_handles(t, h, &l, &more)) < 0)
		return r;
	*ret = l.count > 0 && l.handle[0] == h;
	return 0;
}

int
tpm_transient_count(struct tpm *t, unsigned *ret)
{
	TPML_HANDLE l;
	TPM2_HANDLE from = TRANSIENT_FIRST;
	unsigned n = 0;
	int more, r;

	*ret = 0;
	if ((r = tss_connected(t)) < 0)
		return r;
	for (;;) {
		if ((r = tss_get_handles(t, from, &l, &more)) < 0)
			return r;
		n += l.count;
		if (!more || l.count == 0)
			break;
		from = l.handle[l.count - 1] + 1;
	}
	*ret = n;
	return 0;
}

int
tpm_transient_avail(struct tpm *t, unsigned *ret)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more_data = 0;
	TSS2_RC rc;
	int r;

	*ret = 0;
	if ((r = tss_connected(t)) < 0)
		return r;
	TSS_CALL(rc, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    TPM2_CAP_TPM_PROPERTIES, TPM2_PT_HR_TRANSIENT_AVAIL, 1, &more_data, &cap));
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "reading the free object slots (TPM2_GetCapability)");
	if (cap->data.tpmProperties.count < 1 ||
	    cap->data.tpmProperties.tpmProperty[0].property != TPM2_PT_HR_TRANSIENT_AVAIL)
		r = tpmid_seterr(TPMID_E_TPM, "the TPM did not report TPM2_PT_HR_TRANSIENT_AVAIL");
	else
		*ret = cap->data.tpmProperties.tpmProperty[0].value;
	Esys_Free(cap);
	return r;
}

int
tpm_da_state(struct tpm *t, struct tpm_da *ret)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more_data = 0;
	const TPMS_TAGGED_PROPERTY *p;
	TSS2_RC rc;
	uint32_t i, seen = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = tss_connected(t)) < 0)
		return r;
	/* TPM2_PT_LOCKOUT_COUNTER, _MAX_AUTH_FAIL, _INTERVAL are consecutive
	 * (Part 2 §6.13): one command. */
	TSS_CALL(rc, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 3, &more_data, &cap));
	if (rc != TSS2_RC_SUCCESS)
		return tss_rc_err(rc, 0, "reading the dictionary-attack state (TPM2_GetCapability)");
	for (i = 0; i < cap->data.tpmProperties.count && i < TPM2_MAX_TPM_PROPERTIES; i++) {
		p = &cap->data.tpmProperties.tpmProperty[i];
		if (p->property == TPM2_PT_LOCKOUT_COUNTER) {
			ret->counter = p->value;
			seen |= 1;
		} else if (p->property == TPM2_PT_MAX_AUTH_FAIL) {
			ret->max_tries = p->value;
			seen |= 2;
		} else if (p->property == TPM2_PT_LOCKOUT_INTERVAL) {
			ret->interval_s = p->value;
			seen |= 4;
		}
	}
	Esys_Free(cap);
	if (seen != 7) {
		memset(ret, 0, sizeof(*ret));
		return tpmid_seterr(TPMID_E_TPM, "the TPM did not report its dictionary-attack "
		    "state (TPM2_PT_LOCKOUT_COUNTER..INTERVAL)");
	}
	return 0;
}

/* ---- sessions ---------------------------------------------------------- */

static const TPMT_SYM_DEF session_sym = {
	.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB
};

/* ESAPI salted session with TPMA_SESSION_DECRYPT: the command's first
 * parameter (inSensitive of TPM2_Create, encryptionKey of TPM2_Import) is
 * AES-128-CFB encrypted under a key only we and the TPM know (Part 1
 * §21.3). Rare operations, so ESAPI's slower crypto is fine here. */
int
tss_start_decrypt_session(struct tpm *t, ESYS_TR *ret)
{
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	*ret = ESYS_TR_NONE;
	tss_creating(t, 1);
	TSS_CALL(rc, Esys_StartAuthSession(t->esys, t->srk, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &session_sym, TPM2_ALG_SHA256, &s));
	if (rc == TSS2_RC_SUCCESS)
		tss_own_tr(t, s);
	tss_creating(t, 0);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "starting a salted session (TPM2_StartAuthSession)");
		goto out;
	}
	rc = Esys_TRSess_SetAttributes(t->esys, s, TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION,
	    0xff);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_rc_err(rc, 0, "setting session attributes");
		goto out;
	}
	*ret = s;
	s = ESYS_TR_NONE;
	r = 0;
out:
	tss_flush(t, &s);
	return r;
}

void
tss_drop_session(struct tpm *t, int flush)
{
	if (t->sess == NULL)
		return;
	tss_disown(t, tss_session_handle(t->sess));
	if (flush && t->sys != NULL)
		tss_session_flush(t->sys, t->sess);
	else
		tss_session_free(t->sess);
	t->sess = NULL;
}

int
tpm_release_session(struct tpm *t)
{
	if (t->esys != NULL && tss_flush_strays(t) > 0)
		return 0;
	if (t->sess == NULL)
		return tpmid_seterr(TPMID_E_NOENT, "no cached session to release");
	tss_drop_session(t, 1);
	return 0;
}
