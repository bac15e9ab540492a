/* Certificates on identities: an X.509 certificate (and CA bundle) in
 * id.cert / id.ca where OpenZiti looks, an OpenSSH certificate in
 * tpmid.ssh_cert. Each is refused unless it certifies the identity's key.
 * Also whether ssh-agent's listing offers the identity (tpmid.ssh). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/internal.h"
#include "agent/format/ec.h"
#include "agent/format/sshwire.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"

/* The cached parse now differs from the file (or the write failed): re-read
 * it on next use rather than trust the stamp alone (an inode number can be
 * reused by the rename). */
static int
updated(struct engine *e, const char *name, int r)
{
	struct entry *en;

	if ((en = entry_find(e, name)) != NULL)
		en->stale = 1;
	return r;
}

struct set_cert {
	const char *cert_pem, *ca_pem;
};

/* Under the store's lock, on the identity as it is now: its key may have
 * changed since the request was checked by anyone. */
static int
set_cert(struct identity *id, void *arg)
{
	const struct set_cert *a = arg;
	char *cert = NULL, *ca = NULL;
	int r;

	if ((r = x509_cert_matches(a->cert_pem, id->public_key_pem, &cert)) != 0) {
		if (r == TPMID_E_MISMATCH)
			tpmid_seterr(r, "certificate does not match identity '%s' (its public key "
			    "is not the identity's)", id->name);
		goto out;
	}
	if (a->ca_pem != NULL && (r = x509_bundle_normalize(a->ca_pem, &ca)) != 0)
		goto out;
	if ((r = identity_set_str(&id->cert_pem, cert)) != 0)
		goto out;
	r = identity_set_str(&id->ca_pem, ca);
out:
	free(cert);
	free(ca);
	return r;
}

int
engine_set_cert(struct engine *e, const char *name, const char *cert_pem,
    const char *ca_pem)
{
	struct set_cert a = { cert_pem, ca_pem };
	int r;

	if (cert_pem == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no certificate given");
	if ((r = engine_check_name(name)) != 0)
		return r;
	return updated(e, name, store_update(e->store, name, set_cert, &a));
}

/* As set_cert(), for an OpenSSH certificate line. */
static int
set_ssh_cert(struct identity *id, void *arg)
{
	const char *line = arg;
	uint8_t *blob = NULL, *spki = NULL;
	size_t blob_len = 0, spki_len = 0, n;
	char *clean = NULL;
	int r;

	/* One line, without the trailing newline the .pub file has. */
	n = strcspn(line, "\r\n");
	if ((clean = strndup(line, n)) == NULL)
		return TPMID_E_NOMEM;
	if ((r = sshwire_line_blob(clean, &blob, &blob_len)) != 0)
		goto out;
	if ((r = ec_spki_from_pem(id->public_key_pem, &spki, &spki_len)) != 0) {
		tpmid_seterr(r, "identity '%s': tpmid.public_key is not a PEM public key", id->name);
		goto out;
	}
	if ((r = sshwire_cert_matches(blob, blob_len, spki, spki_len)) != 0) {
		if (r == TPMID_E_MISMATCH)
			tpmid_seterr(r, "OpenSSH certificate does not certify identity '%s''s key",
			    id->name);
		goto out;
	}
	r = identity_set_str(&id->ssh_cert, clean);
out:
	free(clean);
	free(blob);
	free(spki);
	return r;
}

int
engine_set_ssh_cert(struct engine *e, const char *name, const char *line)
{
	int r;

	if (line == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no certificate given");
	if ((r = engine_check_name(name)) != 0)
		return r;
	return updated(e, name, store_update(e->store, name, set_ssh_cert,
	    (void *)(uintptr_t)line));
}

static int
set_ssh(struct identity *id, void *arg)
{
	id->ssh_hidden = !*(const int *)arg;
	return 0;
}

int
engine_set_ssh(struct engine *e, const char *name, int offer)
{
	int r;

	if ((r = engine_check_name(name)) != 0)
		return r;
	return updated(e, name, store_update(e->store, name, set_ssh, &offer));
}
