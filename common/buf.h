/* struct tbuf: the one buffer type for untrusted bytes (socket frames, SSH
 * wire data, key blobs). Modelled on OpenSSH's sshbuf: reads consume from the
 * front, writes append at the back, every length is checked against what is
 * available before it is used (`len > avail`, never `off + len > size`), and
 * a buffer never grows past its `max`.
 *
 * All functions return 0 or a negative TPMID_E_* code; on failure nothing is
 * consumed and output parameters are left cleared. */
#ifndef TPMID_BUF_H
#define TPMID_BUF_H

#include <stddef.h>
#include <stdint.h>

#define TBUF_MAX_DEFAULT (256 * 1024 + 4096)

struct tbuf {
	uint8_t *d;      /* storage (owned unless readonly) */
	size_t off;      /* read offset */
	size_t size;     /* end of valid data */
	size_t alloc;    /* allocated bytes */
	size_t max;      /* hard cap on size */
	int readonly;    /* view over caller memory */
	int secret;      /* wipe on free/realloc */
};

/* A new empty buffer that will never hold more than `max` bytes. */
struct tbuf *tbuf_new(size_t max);
/* A read-only view over caller memory (not copied; must outlive the view). */
struct tbuf *tbuf_from(const void *p, size_t len);
void tbuf_init_view(struct tbuf *b, const void *p, size_t len);
/* Mark as holding secrets: contents are wiped on free, reset and growth. */
void tbuf_set_secret(struct tbuf *b);
void tbuf_free(struct tbuf *b);
void tbuf_reset(struct tbuf *b);

size_t tbuf_len(const struct tbuf *b);           /* bytes available to read */
const uint8_t *tbuf_ptr(const struct tbuf *b);   /* pointer to readable bytes */
/* Make room for `len` bytes at the end and return a pointer to them. */
int tbuf_reserve(struct tbuf *b, size_t len, uint8_t **ret);
int tbuf_consume(struct tbuf *b, size_t len);
int tbuf_consume_end(struct tbuf *b, size_t len);
/* TPMID_E_FORMAT if any bytes are left (trailing garbage). */
int tbuf_expect_end(const struct tbuf *b);

int tbuf_get(struct tbuf *b, void *out, size_t len);
int tbuf_get_u8(struct tbuf *b, uint8_t *ret);
int tbuf_get_bool(struct tbuf *b, int *ret);
int tbuf_get_u32(struct tbuf *b, uint32_t *ret);
int tbuf_get_u64(struct tbuf *b, uint64_t *ret);
/* SSH string: u32 length + bytes. The pointer refers into the buffer and is
 * valid until the buffer is modified. */
int tbuf_get_string_direct(struct tbuf *b, const uint8_t **ret, size_t *ret_len);
/* SSH string copied into fresh memory, with a NUL appended (not counted). */
int tbuf_get_string(struct tbuf *b, uint8_t **ret, size_t *ret_len);
/* SSH string that must be text without embedded NULs; NUL-terminated copy. */
int tbuf_get_cstring(struct tbuf *b, char **ret, size_t *ret_len);
/* SSH string read into a view buffer over the same memory. */
int tbuf_get_stringb(struct tbuf *b, struct tbuf *view);

int tbuf_put(struct tbuf *b, const void *p, size_t len);
int tbuf_put_u8(struct tbuf *b, uint8_t v);
int tbuf_put_u32(struct tbuf *b, uint32_t v);
int tbuf_put_u64(struct tbuf *b, uint64_t v);
int tbuf_put_string(struct tbuf *b, const void *p, size_t len);
int tbuf_put_cstring(struct tbuf *b, const char *s);
int tbuf_put_stringb(struct tbuf *b, const struct tbuf *v);
/* SSH mpint (RFC 4251 section 5) from an unsigned big-endian magnitude. */
int tbuf_put_mpint_bytes(struct tbuf *b, const uint8_t *p, size_t len);
/* SSH mpint to an unsigned big-endian magnitude (positive values only). */
int tbuf_get_mpint_bytes(struct tbuf *b, const uint8_t **ret, size_t *ret_len);

/* Overwrite the u32 at absolute data offset `pos` (for length prefixes). */
int tbuf_poke_u32(struct tbuf *b, size_t pos, uint32_t v);

#endif
