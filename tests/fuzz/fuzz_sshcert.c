/* libFuzzer target for the OpenSSH half of set-cert: an OpenSSH certificate
 * line checked against an identity's key (agent/format/sshwire.c,
 * PROTOCOL.certkeys) as engine_set_ssh_cert() takes it from the user (first
 * line only, then sshwire_line_blob and sshwire_cert_matches), and as the
 * agent re-checks a stored one before offering it to ssh
 * (agent/daemon/sshagent.c). The keys are the fixed identity keys of
 * fuzz.h, for which the seed corpus holds real ssh-keygen -s certificates.
 *
 * The input is taken both as the text line and, for binary seeds, as the
 * certificate blob itself. Checked: results are 0, TPMID_E_MISMATCH or
 * TPMID_E_FORMAT (TPMID_E_NOMEM aside); a blob certifies at most one of the
 * two keys. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/format/ec.h"
#include "agent/format/sshwire.h"
#include "common/err.h"
#include "tests/fuzz/fuzz.h"

static uint8_t *spki[2];
static size_t spki_len[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (ec_spki_from_pem(fuzz_id_p256_pem, &spki[0], &spki_len[0]) != 0 ||
	    ec_spki_from_pem(fuzz_id_p384_pem, &spki[1], &spki_len[1]) != 0)
		abort();
	return 0;
}

static void
check_blob(const uint8_t *blob, size_t len)
{
	int r[2], i;

	for (i = 0; i < 2; i++) {
		r[i] = sshwire_cert_matches(blob, len, spki[i], spki_len[i]);
		if (r[i] != 0 && r[i] != TPMID_E_MISMATCH && r[i] != TPMID_E_FORMAT &&
		    r[i] != TPMID_E_NOMEM)
			abort();
	}
	if (r[0] == 0 && r[1] == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *blob = NULL;
	size_t blob_len = 0, n;
	char *line;

	check_blob(data, size);

	/* engine_set_ssh_cert(): one line, without the .pub file's newline. */
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (sshwire_line_blob(line, &blob, &blob_len) == 0) {
		if (blob == NULL)
			abort();
		check_blob(blob, blob_len);
	} else if (blob != NULL)
		abort();
	free(blob);
	free(line);
	return 0;
}
