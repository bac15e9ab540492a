/* What several libFuzzer targets share: the fixed identity keys that the
 * certificate targets check against, and a guard on standard input.
 *
 * The identity keys are derived from fixed labels by tests/fuzz/seed.sh
 * (d = SHA-256/384(label) mod (n - 1) + 1), which issues the seed corpus's
 * X.509 and OpenSSH certificates for them and checks that the PEM below is
 * what it derived, so a seed certificate really certifies these keys. */
#ifndef TPMID_FUZZ_H
#define TPMID_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Not every target uses every item. */
#define FUZZ_MAYBE_UNUSED __attribute__((unused))

/* "tpmid fuzz identity P-256" */
static const char fuzz_id_p256_pem[] FUZZ_MAYBE_UNUSED =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE88DBYnUc8Y665Gg0IvNlXNWynAIQ\n"
	"FWW4GwwjQG1Ln55pc9anQbRQdbNY8uL9ZaoX7h7wm/wtaWdHKgvFw+/D8A==\n"
	"-----END PUBLIC KEY-----\n";

/* "tpmid fuzz identity P-384" */
static const char fuzz_id_p384_pem[] FUZZ_MAYBE_UNUSED =
	"-----BEGIN PUBLIC KEY-----\n"
	"MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEz/FdKwurnG56jONhKFD2E3DnrFCLefzA\n"
	"IWwp04O+EZ+A8AuSAGq2JL5BfhbQpa72/onaeVnlQdZpch0m7iQ6ex/qcWpnN9G5\n"
	"+JB9SEgpHLmb5FKdOSFCoFRVMXb8j07q\n"
	"-----END PUBLIC KEY-----\n";

/* Standard input becomes a pipe holding one line, so that code which asks
 * for a passphrase (OpenSSL's PEM_def_callback() reads standard input when
 * there is no terminal) consumes it; fuzz_stdin_check() aborts when the
 * line is gone. With a terminal the prompt shows there and the input
 * times out instead. */
FUZZ_MAYBE_UNUSED static void
fuzz_stdin_guard(void)
{
	int fds[2];

	if (pipe(fds) != 0 || write(fds[1], "fuzz\n", 5) != 5 ||
	    dup2(fds[0], STDIN_FILENO) < 0)
		abort();
	/* A second reader sees EOF instead of blocking until -timeout. */
	close(fds[0]);
	close(fds[1]);
}

FUZZ_MAYBE_UNUSED static void
fuzz_stdin_check(void)
{
	int n = 0;

	if (ioctl(STDIN_FILENO, FIONREAD, &n) != 0 || n != 5) {
		fprintf(stderr, "standard input was read: something asked for a passphrase\n");
		abort();
	}
}

#endif
