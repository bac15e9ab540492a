/* The one atomic file writer: identity files, the store's SRK record and
 * every file the CLI writes (--out) go through it, so a reader or a crash
 * sees the old file or the new one, never a mix. */
#ifndef TPMID_STORE_ATOMIC_H
#define TPMID_STORE_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

#define ATOMIC_NO_CLOBBER 0x1 /* fail with TPMID_E_EXISTS if `path` exists */

/* Write `len` bytes as the regular file `path`, mode `mode`: a temp file
 * ".<name>.XXXXXX" in the same directory (so rename(2) is atomic,
 * POSIX.1-2017 rename()), fsync, rename over `path` (link(2) with
 * ATOMIC_NO_CLOBBER, which fails on an existing target), fsync of the
 * directory so the rename itself is durable. On failure nothing is left
 * behind and `path` is as it was. Errors are TPMID_E_IO (TPMID_E_PERM,
 * TPMID_E_EXISTS) with a detail naming `path`, never the temp file.
 * The caller serializes concurrent writers if it needs to (store_save
 * holds the store lock). */
int atomic_write(const char *path, const void *p, size_t len, mode_t mode, unsigned flags);

/* Make a completed rename, link or unlink in `dir` durable: they change
 * the directory, which has its own data to flush. */
int atomic_sync_dir(const char *dir);

/* For tests: called before each step ("write", "fsync", "rename"); a
 * nonzero return makes that step fail as if the disk had, with the return
 * value as errno when positive (e.g. ENOSPC), else EIO. NULL in
 * production. */
extern int (*atomic_test_fail_hook)(const char *stage);

#endif
