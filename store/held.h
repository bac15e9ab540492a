/* Records of what a tpmid process holds in a TPM that has no resource
 * manager (swtpm, /dev/tpm0): one small file per process in the runtime
 * directory, rewritten when it loads or flushes something and removed
 * when it exits. A process that was killed leaves its record behind, and
 * the next tpmid process on the same TPM flushes exactly those handles
 * (tss/tpm.h tpm_flush_dead) and nothing that belongs to another program.
 *
 *   <runtime>/tpmid-held/<tcti hash>.<pid>:
 *     tcti <TCTI configuration>
 *     counts <reset count> <restart count>
 *     handles 0x80000000 0x80000001 ...
 *     pending 0|1           (a create is on its way)
 *     known 0x80000002 ...  (what else the process knew to be loaded)
 */
#ifndef TPMID_STORE_HELD_H
#define TPMID_STORE_HELD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct held_record {
	pid_t pid;
	int alive;              /* the process still runs */
	uint32_t reset_count, restart_count;
	uint32_t *handles;
	size_t n;
	int pending;
	uint32_t *known;
	size_t n_known;
	unsigned long long start; /* the writer's start time (/proc), 0: unknown */
};

/* The records directory ($XDG_RUNTIME_DIR/tpmid-held; /run/tpmid-held for
 * root without XDG_RUNTIME_DIR, else /run/user/<uid>/tpmid-held), created
 * 0700. Fresh string; TPMID_E_IO/PERM when it cannot be made. */
int held_dir(char **ret);
/* Write (atomically) this process's record for `tcti` (pid, counts,
 * handles, pending and known as in struct held_record); with no handles
 * and nothing pending, remove it. */
int held_put(const char *dir, const char *tcti, const struct held_record *rec);
/* Remove the record of `pid` for `tcti`. */
int held_remove(const char *dir, const char *tcti, pid_t pid);
/* Every record for `tcti` but this process's own, each marked alive or
 * not (unreadable or foreign files are skipped). Free with
 * held_records_free(). */
int held_list(const char *dir, const char *tcti, struct held_record **ret, size_t *ret_n);
void held_records_free(struct held_record *r, size_t n);

#endif
