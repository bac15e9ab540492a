/* Certificates on identities: an X.509 certificate (and CA bundle) in
 * id.cert / id.ca where OpenZiti looks, an OpenSSH certificate in
 * tpmid.ssh_cert. Each is refused unless it certifies the identity's key. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/engine/internal.h"
#include "agent/format/sshwire.h"
#include "agent/format/x509.h"
#include "common/err.h"
#include "common/util.h"

int
engine_set_cert(struct engine *e, const char *name, const char *cert_pem,
    const char *ca_pem)
{
	struct entry *en;
	char *cert = NULL, *ca = NULL;
	int r;

	if (cert_pem == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no certificate given");
	if ((r = entry_get(e, name, &en)) != 0)
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
	uint8_t *blob = NULL;
	size_t blob_len = 0, n;
	char *clean = NULL;
	int r;

	if (line == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "no certificate given");
	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	/* One line, without the trailing newline the .pub file has. */
	n = strcspn(line, "\r\n");
	if ((clean = strndup(line, n)) == NULL)
		return TPMID_E_NOMEM;
	if ((r = sshwire_line_blob(clean, &blob, &blob_len)) != 0)
		goto out;
	if ((r = entry_spki(en)) != 0)
		goto out;
	if ((r = sshwire_cert_matches(blob, blob_len, en->spki, en->spki_len)) != 0) {
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
	return r;
}
