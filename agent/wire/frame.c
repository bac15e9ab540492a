/* Framing (draft-miller-ssh-agent section 3): every message is
 * `uint32 length, byte[length] body`. The one place the length prefix is
 * read: the daemon's connections, the client and the codec's tests all
 * come here, so every reader applies the same caps before buffering. */
#include "config.h"

#include <string.h>

#include "agent/wire/wire.h"
#include "common/err.h"

int
wire_frame_len(const uint8_t prefix[4], size_t max, uint32_t *ret)
{
	uint32_t len;

	*ret = 0;
	len = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 | (uint32_t)prefix[2] << 8 |
	    prefix[3];
	/* Every message has at least its type byte. */
	if (len == 0)
		return TPMID_E_FORMAT;
	if (len > max)
		return TPMID_E_TOOBIG;
	*ret = len;
	return 0;
}

int
wire_frame_missing(const struct tbuf *in, size_t max, size_t *ret)
{
	size_t have = tbuf_len(in);
	uint32_t len;
	int r;

	*ret = 0;
	if (have < 4) {
		*ret = 4 - have;
		return 0;
	}
	if ((r = wire_frame_len(tbuf_ptr(in), max, &len)) < 0)
		return r;
	if (have - 4 < len)
		*ret = 4 + (size_t)len - have;
	return 0;
}

int
wire_frame_next(struct tbuf *in, size_t max, const uint8_t **ret_body, size_t *ret_len)
{
	size_t missing;
	uint32_t len;
	int r;

	*ret_body = NULL;
	*ret_len = 0;
	if ((r = wire_frame_missing(in, max, &missing)) < 0)
		return r;
	if (missing > 0)
		return 0;
	(void)wire_frame_len(tbuf_ptr(in), max, &len);
	*ret_body = tbuf_ptr(in) + 4;
	*ret_len = len;
	(void)tbuf_consume(in, 4 + (size_t)len);
	return 1;
}

int
wire_frame_put(struct tbuf *out, const uint8_t *body, size_t len)
{
	int r;

	if (len > UINT32_MAX)
		return TPMID_E_TOOBIG;
	if ((r = tbuf_put_u32(out, (uint32_t)len)) < 0)
		return r;
	if ((r = tbuf_put(out, body, len)) < 0) {
		(void)tbuf_consume_end(out, 4);
		return r;
	}
	return 0;
}
