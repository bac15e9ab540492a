/* What the agent's two engines share (engine_new_front): the PINs held for
 * identities, and the counters status reports. The agent runs its TPM work
 * in a worker thread with one engine and answers everything else at once
 * with the other, so a stalled TPM never holds up `list` or ssh's
 * REQUEST_IDENTITIES; this is the only state both touch, so it is the only
 * state behind a lock. A direct-mode CLI has one engine and one of these.
 *
 * A held PIN is bound to the key it was checked against (a digest of the
 * identity's key blob, handle and auth mode): if the identity file is
 * replaced by another key, the PIN is dropped rather than tried against
 * it, whichever engine notices first. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "agent/engine/internal.h"
#include "common/err.h"
#include "common/util.h"

struct held_pin {
	struct held_pin *next;
	char name[TPMID_NAME_MAX + 1];
	uint8_t fp[ENTRY_FP_LEN];
	struct secret *pin;
	time_t expiry;           /* pin_now() seconds; 0: until locked */
};

/* Monotonic seconds, for PIN timeouts. */
static time_t
pin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
shared_new(struct shared **ret)
{
	struct shared *s;

	*ret = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return TPMID_E_NOMEM;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return TPMID_E_NOMEM;
	}
	s->refs = 1;
	s->tpm_ok = 1;
	*ret = s;
	return 0;
}

struct shared *
shared_ref(struct shared *s)
{
	pthread_mutex_lock(&s->mu);
	s->refs++;
	pthread_mutex_unlock(&s->mu);
	return s;
}

static void
held_free(struct held_pin *h)
{
	secret_free(h->pin);
	free(h);
}

void
shared_unref(struct shared *s)
{
	struct held_pin *h;
	unsigned left;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left > 0)
		return;
	while ((h = s->pins) != NULL) {
		s->pins = h->next;
		held_free(h);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The key a PIN is checked against, as the identity file names it. */
void
entry_fingerprint(const struct identity *id, uint8_t fp[ENTRY_FP_LEN])
{
	unsigned char mode[5];
	EVP_MD_CTX *md;
	unsigned int n = 0;

	memset(fp, 0, ENTRY_FP_LEN);
	mode[0] = (unsigned char)(id->pin ? 1 : 0);
	mode[1] = (unsigned char)(id->handle >> 24);
	mode[2] = (unsigned char)(id->handle >> 16);
	mode[3] = (unsigned char)(id->handle >> 8);
	mode[4] = (unsigned char)id->handle;
	/* On failure the zero fingerprint matches nothing held. */
	if ((md = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, mode, sizeof(mode)) != 1 ||
	    (id->key_pem != NULL &&
	    EVP_DigestUpdate(md, id->key_pem, strlen(id->key_pem)) != 1) ||
	    EVP_DigestFinal_ex(md, fp, &n) != 1 || n != ENTRY_FP_LEN)
		memset(fp, 0, ENTRY_FP_LEN);
	EVP_MD_CTX_free(md);
}

/* The live record for `en` (locked), dropping an expired one or one held
 * for another key. */
static struct held_pin *
find_locked(struct shared *s, const struct entry *en)
{
	struct held_pin **pp, *h;

	for (pp = &s->pins; (h = *pp) != NULL; pp = &h->next) {
		if (strcmp(h->name, en->name) != 0)
			continue;
		if ((h->expiry != 0 && pin_now() >= h->expiry) ||
		    memcmp(h->fp, en->fp, ENTRY_FP_LEN) != 0) {
			*pp = h->next;
			held_free(h);
			return NULL;
		}
		return h;
	}
	return NULL;
}

int
pin_hold(struct shared *s, const struct entry *en, const struct secret *pin,
    unsigned timeout_s)
{
	struct held_pin *h;

	if ((h = calloc(1, sizeof(*h))) == NULL || (h->pin = secret_dup(pin)) == NULL) {
		free(h);
		return TPMID_E_NOMEM;
	}
	memcpy(h->name, en->name, sizeof(h->name));
	memcpy(h->fp, en->fp, ENTRY_FP_LEN);
	h->expiry = timeout_s ? pin_now() + (time_t)timeout_s : 0;
	pin_forget(s, en->name);
	pthread_mutex_lock(&s->mu);
	h->next = s->pins;
	s->pins = h;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int
pin_copy(struct shared *s, const struct entry *en, struct secret **ret)
{
	struct held_pin *h;
	int r = 0;

	*ret = NULL;
	pthread_mutex_lock(&s->mu);
	if ((h = find_locked(s, en)) != NULL && (*ret = secret_dup(h->pin)) == NULL)
		r = TPMID_E_NOMEM;
	pthread_mutex_unlock(&s->mu);
	return r;
}

int
pin_held(struct shared *s, const struct entry *en)
{
	int r;

	pthread_mutex_lock(&s->mu);
	r = find_locked(s, en) != NULL;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void
pin_forget(struct shared *s, const char *name)
{
	struct held_pin **pp, *h;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->pins; (h = *pp) != NULL;) {
		if (name == NULL || strcmp(h->name, name) == 0) {
			*pp = h->next;
			held_free(h);
			continue;
		}
		pp = &h->next;
	}
	pthread_mutex_unlock(&s->mu);
}

int
pin_expire(struct shared *s, unsigned *ret_count)
{
	struct held_pin **pp, *h;
	time_t now = pin_now();
	long next = -1;
	unsigned n = 0;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->pins; (h = *pp) != NULL;) {
		if (h->expiry != 0 && now >= h->expiry) {
			*pp = h->next;
			held_free(h);
			continue;
		}
		if (h->expiry != 0 && (next < 0 || h->expiry - now < next))
			next = (long)(h->expiry - now);
		n++;
		pp = &h->next;
	}
	pthread_mutex_unlock(&s->mu);
	if (ret_count != NULL)
		*ret_count = n;
	return next > INT32_MAX ? INT32_MAX : (int)next;
}
