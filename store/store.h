/* The store: a directory of identity files, one per identity, named
 * "<name>.json", mode 0600, in a directory created 0700.
 *
 * Writes are atomic (temp file in the same directory, fsync, rename, fsync
 * of the directory) and serialized by an flock()ed "<dir>/.lock", so a crash
 * or a full disk mid-write leaves the previous file whole and two writers
 * never interleave. */
#ifndef TPMID_STORE_STORE_H
#define TPMID_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "store/identity.h"

struct store;

/* A file's identity for cheap change detection (stat, no read). */
struct store_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* Resolve the store directory: `dir` if non-NULL, else $TPMID_STORE, else
 * $XDG_DATA_HOME/tpmid (when absolute), else ~/.local/share/tpmid ($HOME,
 * else the password database). Creates it with mode 0700 (missing parents
 * 0755) when `create` is set; without `create` a missing directory is not
 * an error (it lists empty, loads give TPMID_E_NOENT, store_save creates
 * it). An existing directory that is not owned by us or root, or that is
 * group- or world-writable, is refused with TPMID_E_PERM (like sshd's
 * StrictModes): whoever can write it can swap identity files. */
int store_open(const char *dir, int create, struct store **ret);
/* The directory store_open() would use, as it would spell it: absolute,
 * symlinks resolved when it exists. Fresh string. */
int store_resolve_dir(const char *dir, char **ret);
void store_free(struct store *s);
const char *store_dir(const struct store *s);
/* Full path of an identity's file ("<dir>/<name>.json"); fresh string. */
char *store_path(const struct store *s, const char *name);

/* Load one identity. TPMID_E_NOENT if absent; TPMID_E_FORMAT with a detail
 * naming the path and the problem if malformed. `ret_stamp` may be NULL. */
int store_load(struct store *s, const char *name, struct identity **ret,
    struct store_stamp *ret_stamp);
int store_stat(struct store *s, const char *name, struct store_stamp *ret);
int store_stamp_eq(const struct store_stamp *a, const struct store_stamp *b);

#define STORE_CREATE 0x1   /* fail with TPMID_E_EXISTS if the file exists */
/* Write atomically (see above). */
int store_save(struct store *s, const struct identity *id, int flags);
int store_delete(struct store *s, const char *name);
/* Read-modify-write of an existing identity under the writers' lock: the
 * file is read after the lock is taken, `fn` changes the identity (or
 * returns a negative code: nothing is written), and the result is written
 * atomically. Two updaters of one identity never lose each other's change.
 * TPMID_E_NOENT when the identity does not exist. */
typedef int (*store_update_fn)(struct identity *id, void *arg);
int store_update(struct store *s, const char *name, store_update_fn fn, void *arg);

/* List identities. Each entry has either `id` set or `error` (a message
 * naming the file and what is wrong), sorted by name. */
struct store_entry {
	char name[TPMID_NAME_MAX + 1];
	struct identity *id;
	char *error;
	int err;
	long pid;                /* store_list_deleting(): the tombstone's writer */
};
int store_list(struct store *s, struct store_entry **ret, size_t *ret_n);
void store_list_free(struct store_entry *e, size_t n);
/* The same listing without reading the files: only `name` is set. For
 * callers that keep their own stat-checked cache of parsed identities. */
int store_list_names(struct store *s, struct store_entry **ret, size_t *ret_n);

/* Steps a kill can separate - a persistent key and the file that records
 * it - are bracketed by a tombstone, ".<name>.json.deleting.<pid>": an
 * identity whose key is to be evicted unless the process finishes.
 * store_delete_begin() moves "<name>.json" there (no longer listed or
 * loaded; TPMID_E_NOENT if there is no such identity);
 * store_tombstone_write() writes `id` there (before persisting a new key).
 * store_delete_end(pid 0) removes this process's tombstone;
 * store_delete_undo() moves it back (TPMID_E_EXISTS, leaving it, when an
 * identity of that name was made meanwhile). store_list_deleting() lists
 * (as store_list(), with `pid` set) the tombstones of processes that are
 * gone (or this process's, left when an undo failed), for the next one to
 * finish: evict, then store_delete_end(pid); with `all`, also those of
 * living processes. */
int store_delete_begin(struct store *s, const char *name);
int store_tombstone_write(struct store *s, const struct identity *id);
int store_delete_end(struct store *s, const char *name, long pid);
int store_delete_undo(struct store *s, const char *name);
int store_list_deleting(struct store *s, int all, struct store_entry **ret, size_t *ret_n);

/* Directory change stamp (mtime of the directory) for rescans. */
int store_dir_stamp(struct store *s, struct store_stamp *ret);

/* The storage root key's name as last seen by this store's user (hex in
 * "<dir>/.srk-name"): a persisted SRK copy is used only while its name
 * equals it (tss/tpm.h tpm_srk_hint). store_srk_name_get: 0 with a fresh
 * copy, TPMID_E_NOENT when none is recorded or the record is unreadable.
 * store_srk_name_put: written atomically, and only when it differs. */
int store_srk_name_get(struct store *s, uint8_t **ret, size_t *ret_len);
int store_srk_name_put(struct store *s, const uint8_t *name, size_t len);

#endif
