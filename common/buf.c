#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "util.h"

#define TBUF_CHUNK 256

struct tbuf *
tbuf_new(size_t max)
{
	struct tbuf *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = max ? max : TBUF_MAX_DEFAULT;
	return b;
}

void
tbuf_init_view(struct tbuf *b, const void *p, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->d = (uint8_t *)(uintptr_t)p;
	b->size = b->alloc = b->max = len;
	b->readonly = 1;
}

struct tbuf *
tbuf_from(const void *p, size_t len)
{
	struct tbuf *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	tbuf_init_view(b, p, len);
	return b;
}

void
tbuf_set_secret(struct tbuf *b)
{
	b->secret = 1;
}

void
tbuf_free(struct tbuf *b)
{
	if (b == NULL)
		return;
	if (!b->readonly) {
		if (b->secret)
			freezero(b->d, b->alloc);
		else
			free(b->d);
	}
	freezero(b, sizeof(*b));
}

void
tbuf_reset(struct tbuf *b)
{
	if (!b->readonly && b->secret && b->d != NULL)
		explicit_bzero(b->d, b->alloc);
	b->off = 0;
	if (!b->readonly)
		b->size = 0;
}

size_t
tbuf_len(const struct tbuf *b)
{
	return b->size - b->off;
}

const uint8_t *
tbuf_ptr(const struct tbuf *b)
{
	static const uint8_t empty[1];

	/* A buffer that never held data has no storage; NULL + 0 is
	 * undefined behaviour, so hand out a valid empty pointer. */
	if (b->d == NULL)
		return empty;
	return b->d + b->off;
}

int
tbuf_reserve(struct tbuf *b, size_t len, uint8_t **ret)
{
	size_t live, need, nalloc;
	uint8_t *n;

	*ret = NULL;
	if (b->readonly)
		return TPMID_E_INVAL;
	/* The cap applies to unread data, as with sshbuf: bytes already
	 * consumed are reclaimed (moved out) before growing. */
	live = b->size - b->off;
	if (len > b->max || live > b->max - len)
		return TPMID_E_TOOBIG;
	if (b->off > 0 && len > b->alloc - b->size) {
		memmove(b->d, b->d + b->off, live);
		if (b->secret)
			explicit_bzero(b->d + live, b->size - live);
		b->size = live;
		b->off = 0;
	}
	need = b->size + len;
	if (need > b->alloc) {
		nalloc = (need + TBUF_CHUNK - 1) / TBUF_CHUNK * TBUF_CHUNK;
		if (nalloc < b->alloc * 2 && b->alloc * 2 <= b->max)
			nalloc = b->alloc * 2;
		if (nalloc > b->max)
			nalloc = b->max;
		if (b->secret) {
			if ((n = malloc(nalloc)) == NULL)
				return TPMID_E_NOMEM;
			if (b->d != NULL)
				memcpy(n, b->d, b->size);
			freezero(b->d, b->alloc);
		} else if ((n = realloc(b->d, nalloc)) == NULL)
			return TPMID_E_NOMEM;
		b->d = n;
		b->alloc = nalloc;
	}
	*ret = b->d + b->size;
	b->size += len;
	return 0;
}

int
tbuf_consume(struct tbuf *b, size_t len)
{
	if (len > tbuf_len(b))
		return TPMID_E_FORMAT;
	b->off += len;
	return 0;
}

int
tbuf_consume_end(struct tbuf *b, size_t len)
{
	if (len > tbuf_len(b))
		return TPMID_E_FORMAT;
	b->size -= len;
	return 0;
}

int
tbuf_expect_end(const struct tbuf *b)
{
	return tbuf_len(b) == 0 ? 0 : TPMID_E_FORMAT;
}

int
tbuf_get(struct tbuf *b, void *out, size_t len)
{
	if (len > tbuf_len(b))
		return TPMID_E_FORMAT;
	if (out != NULL && len > 0)
		memcpy(out, tbuf_ptr(b), len);
	b->off += len;
	return 0;
}

int
tbuf_get_u8(struct tbuf *b, uint8_t *ret)
{
	*ret = 0;
	return tbuf_get(b, ret, 1);
}

int
tbuf_get_bool(struct tbuf *b, int *ret)
{
	uint8_t v;
	int r;

	*ret = 0;
	if ((r = tbuf_get_u8(b, &v)) < 0)
		return r;
	*ret = v != 0;
	return 0;
}

int
tbuf_get_u32(struct tbuf *b, uint32_t *ret)
{
	const uint8_t *p;

	*ret = 0;
	if (tbuf_len(b) < 4)
		return TPMID_E_FORMAT;
	p = tbuf_ptr(b);
	*ret = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	b->off += 4;
	return 0;
}

int
tbuf_get_u64(struct tbuf *b, uint64_t *ret)
{
	uint32_t hi, lo;
	size_t save = b->off;
	int r;

	*ret = 0;
	if ((r = tbuf_get_u32(b, &hi)) < 0 || (r = tbuf_get_u32(b, &lo)) < 0) {
		b->off = save;
		return r;
	}
	*ret = (uint64_t)hi << 32 | lo;
	return 0;
}

int
tbuf_get_string_direct(struct tbuf *b, const uint8_t **ret, size_t *ret_len)
{
	uint32_t len;
	size_t save = b->off;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if ((r = tbuf_get_u32(b, &len)) < 0)
		return r;
	if (len > tbuf_len(b)) {
		b->off = save;
		return TPMID_E_FORMAT;
	}
	*ret = tbuf_ptr(b);
	*ret_len = len;
	b->off += len;
	return 0;
}

int
tbuf_get_string(struct tbuf *b, uint8_t **ret, size_t *ret_len)
{
	const uint8_t *p;
	size_t len, save = b->off;
	uint8_t *copy;
	int r;

	*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if ((r = tbuf_get_string_direct(b, &p, &len)) < 0)
		return r;
	if ((copy = malloc(len + 1)) == NULL) {
		b->off = save;
		return TPMID_E_NOMEM;
	}
	if (len > 0)
		memcpy(copy, p, len);
	copy[len] = '\0';
	*ret = copy;
	if (ret_len != NULL)
		*ret_len = len;
	return 0;
}

int
tbuf_get_cstring(struct tbuf *b, char **ret, size_t *ret_len)
{
	const uint8_t *p;
	size_t len, save = b->off;
	char *copy;
	int r;

	*ret = NULL;
	if (ret_len != NULL)
		*ret_len = 0;
	if ((r = tbuf_get_string_direct(b, &p, &len)) < 0)
		return r;
	if (len > 0 && memchr(p, '\0', len) != NULL) {
		b->off = save;
		return TPMID_E_FORMAT;
	}
	if ((copy = malloc(len + 1)) == NULL) {
		b->off = save;
		return TPMID_E_NOMEM;
	}
	if (len > 0)
		memcpy(copy, p, len);
	copy[len] = '\0';
	*ret = copy;
	if (ret_len != NULL)
		*ret_len = len;
	return 0;
}

int
tbuf_get_stringb(struct tbuf *b, struct tbuf *view)
{
	const uint8_t *p;
	size_t len;
	int r;

	if ((r = tbuf_get_string_direct(b, &p, &len)) < 0)
		return r;
	tbuf_init_view(view, p, len);
	return 0;
}

int
tbuf_put(struct tbuf *b, const void *p, size_t len)
{
	uint8_t *d;
	int r;

	if ((r = tbuf_reserve(b, len, &d)) < 0)
		return r;
	if (len > 0)
		memcpy(d, p, len);
	return 0;
}

int
tbuf_put_u8(struct tbuf *b, uint8_t v)
{
	return tbuf_put(b, &v, 1);
}

int
tbuf_put_u32(struct tbuf *b, uint32_t v)
{
	uint8_t p[4] = { v >> 24, v >> 16, v >> 8, v };

	return tbuf_put(b, p, sizeof(p));
}

int
tbuf_put_u64(struct tbuf *b, uint64_t v)
{
	int r;

	if ((r = tbuf_put_u32(b, (uint32_t)(v >> 32))) < 0)
		return r;
	return tbuf_put_u32(b, (uint32_t)v);
}

int
tbuf_put_string(struct tbuf *b, const void *p, size_t len)
{
	uint8_t *d;
	int r;

	if (len > UINT32_MAX)
		return TPMID_E_TOOBIG;
	if (len > SIZE_MAX - 4)
		return TPMID_E_TOOBIG;
	if ((r = tbuf_reserve(b, len + 4, &d)) < 0)
		return r;
	d[0] = len >> 24; d[1] = len >> 16; d[2] = len >> 8; d[3] = len;
	if (len > 0)
		memcpy(d + 4, p, len);
	return 0;
}

int
tbuf_put_cstring(struct tbuf *b, const char *s)
{
	return tbuf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

int
tbuf_put_stringb(struct tbuf *b, const struct tbuf *v)
{
	return tbuf_put_string(b, tbuf_ptr(v), tbuf_len(v));
}

int
tbuf_put_mpint_bytes(struct tbuf *b, const uint8_t *p, size_t len)
{
	uint8_t *d;
	size_t pad;
	int r;

	/* Strip leading zeros; prepend one zero if the top bit is set so the
	 * value reads as positive (RFC 4251 section 5). */
	while (len > 0 && *p == 0) {
		p++;
		len--;
	}
	pad = (len > 0 && (p[0] & 0x80)) ? 1 : 0;
	if (len > UINT32_MAX - 1 || len > SIZE_MAX - 5)
		return TPMID_E_TOOBIG;
	if ((r = tbuf_reserve(b, 4 + pad + len, &d)) < 0)
		return r;
	d[0] = (len + pad) >> 24; d[1] = (len + pad) >> 16;
	d[2] = (len + pad) >> 8; d[3] = len + pad;
	if (pad)
		d[4] = 0;
	if (len > 0)
		memcpy(d + 4 + pad, p, len);
	return 0;
}

int
tbuf_get_mpint_bytes(struct tbuf *b, const uint8_t **ret, size_t *ret_len)
{
	const uint8_t *p;
	size_t len, save = b->off;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if ((r = tbuf_get_string_direct(b, &p, &len)) < 0)
		return r;
	/* Negative values and non-minimal encodings (a leading zero that is
	 * not needed for the sign, including "00" for zero) are format
	 * errors (RFC 4251 section 5). */
	if ((len > 0 && (p[0] & 0x80)) ||
	    (len > 0 && p[0] == 0 && (len == 1 || (p[1] & 0x80) == 0))) {
		b->off = save;
		return TPMID_E_FORMAT;
	}
	if (len > 0 && p[0] == 0) {
		p++;
		len--;
	}
	*ret = p;
	*ret_len = len;
	return 0;
}

int
tbuf_poke_u32(struct tbuf *b, size_t pos, uint32_t v)
{
	if (b->readonly || pos > b->size || b->size - pos < 4)
		return TPMID_E_INVAL;
	b->d[pos] = v >> 24;
	b->d[pos + 1] = v >> 16;
	b->d[pos + 2] = v >> 8;
	b->d[pos + 3] = v;
	return 0;
}
