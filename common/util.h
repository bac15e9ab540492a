/* Small helpers shared by every layer. */
#ifndef TPMID_UTIL_H
#define TPMID_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
/* A numeric macro as a string literal (for help texts). */
#define TPMID_STR(x) TPMID_STR_(x)
#define TPMID_STR_(x) #x

/* Everything is built with -fvisibility=hidden (configure.ac): a shared
 * object exports exactly what its API marks with this, so no helper of
 * ours (read_file, freezero, ...) can clash with a host program's. */
#define TPMID_EXPORT __attribute__((visibility("default")))

/* Wipe then free; NULL is fine. */
void freezero(void *p, size_t len);
/* free() a NUL-terminated string after wiping it. */
void freezero_str(char *s);

/* Constant-time comparison: 0 when equal (lengths compared too). */
int timingsafe_memeq(const void *a, size_t alen, const void *b, size_t blen);

/* A secret (PIN, auth value, passphrase): page-locked where possible, never
 * swapped or dumped (MADV_DONTDUMP), wiped when freed. */
struct secret {
	uint8_t *p;
	size_t len;
	size_t alloc;
};
struct secret *secret_new(const void *p, size_t len);
struct secret *secret_dup(const struct secret *s);
void secret_free(struct secret *s);

/* Cleanup helpers for __attribute__((cleanup)). */
static inline void freep(void *p) { free(*(void **)p); }
static inline void secret_freep(struct secret **s) { secret_free(*s); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_secret_ _cleanup_(secret_freep)

/* Read a whole file (regular file or pipe) of at most `max` bytes into fresh
 * memory with a NUL appended. TPMID_E_TOOBIG when larger; detail names the
 * path. */
int read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len);
/* Same for an open fd (not closed). */
int read_fd(int fd, size_t max, uint8_t **ret, size_t *ret_len);
/* Write all bytes, retrying on EINTR/short writes. */
int write_all(int fd, const void *p, size_t len);

/* Copy exactly `n` bytes and NUL-terminate. Unlike strndup() it never
 * reads past `n`: for buffers that are not strings (BIO memory, ASN.1
 * string data). Returns NULL on allocation failure. */
char *strdup_n(const void *p, size_t n);
/* `path` made absolute against the working directory (no other change):
 * a daemon that chdir()s to "/" must still find what it was told. Fresh
 * string; NULL with errno set on failure. */
char *path_absolute(const char *path);

/* Lower-case hex encoding; returns NUL-terminated fresh string or NULL. */
char *hex_encode(const uint8_t *p, size_t len);
/* Hex decoding (either case, even length); TPMID_E_FORMAT otherwise. */
int hex_decode(const char *s, uint8_t **ret, size_t *ret_len);

/* Parse an unsigned 32-bit number (decimal or 0x-hex), whole string. */
int parse_u32(const char *s, uint32_t *ret);

/* Whether `v` is among the `n` values of `a` (TPM handle lists). */
static inline int
u32_in(const uint32_t *a, size_t n, uint32_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] == v)
			return 1;
	return 0;
}

/* The one "owner or root" rule (PROTOCOL.md sections 3 and 6): full
 * access for `owner` itself and the superuser. */
static inline int
uid_owner_or_root(uid_t uid, uid_t owner)
{
	return uid == owner || uid == 0;
}

/* Harden the process: no core dumps, not ptrace-attachable. */
void harden_process(void);

#endif
