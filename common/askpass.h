/* Asking a person for a secret through an askpass program ($SSH_ASKPASS,
 * ssh-askpass), the way OpenSSH's readpass.c runs it: the prompt is its
 * one argument, the first line of its standard output is the answer, a
 * non-zero exit is a cancel. Shared by the CLI (no terminal) and the agent
 * (tpmid-agent --askpass), which runs it off its event loop. */
#ifndef TPMID_COMMON_ASKPASS_H
#define TPMID_COMMON_ASKPASS_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* The first line of `buf` (without its LF, and a CR before it) as a secret
 * of at most `max` bytes: TPMID_E_INVAL (empty, NUL inside) or
 * TPMID_E_TOOBIG with a detail naming `what` and `noun` ("PIN"). */
int secret_first_line(const uint8_t *buf, size_t len, const char *what, const char *noun,
    size_t max, struct secret **ret);

/* Run `program` with `prompt`; its answer (a `noun` of at most `max` bytes)
 * into *ret. `timeout_ms` < 0 waits as long as it takes; otherwise the
 * program is killed then. `cancel_fd` >= 0: readable
 * means give up (the program is killed). Both are TPMID_E_CANCELLED, as is
 * a cancel. A program that
 * cannot be run is TPMID_E_NOENT with the reason (an errno sent back
 * through a close-on-exec pipe), never taken for a cancel. Safe in a
 * threaded process: the child only calls dup2 and exec. */
int askpass_run(const char *program, const char *prompt, const char *noun, size_t max,
    int timeout_ms, int cancel_fd, struct secret **ret);

#endif
