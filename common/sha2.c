/* sha2.h: SHA-256 and SHA-384, FIPS 180-4 sections 5.3, 6.2 and 6.5. */
#include "config.h"

#include <string.h>

#include "common/sha2.h"

/* Section 4.2.2 */
static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

/* Section 4.2.3 */
static const uint64_t K512[80] = {
	0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
	0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
	0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
	0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
	0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
	0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
	0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
	0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
	0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
	0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
	0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
	0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
	0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
	0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
	0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
	0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
	0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
	0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
	0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
	0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

static void
block256(uint64_t *hh, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = (ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7] +
		    (ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	a = (uint32_t)hh[0]; b = (uint32_t)hh[1]; c = (uint32_t)hh[2]; d = (uint32_t)hh[3];
	e = (uint32_t)hh[4]; f = (uint32_t)hh[5]; g = (uint32_t)hh[6]; h = (uint32_t)hh[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) +
		    K256[i] + w[i];
		t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	hh[0] = (uint32_t)(hh[0] + a); hh[1] = (uint32_t)(hh[1] + b);
	hh[2] = (uint32_t)(hh[2] + c); hh[3] = (uint32_t)(hh[3] + d);
	hh[4] = (uint32_t)(hh[4] + e); hh[5] = (uint32_t)(hh[5] + f);
	hh[6] = (uint32_t)(hh[6] + g); hh[7] = (uint32_t)(hh[7] + h);
}

static void
block512(uint64_t *hh, const uint8_t *p)
{
	uint64_t w[80], a, b, c, d, e, f, g, h, t1, t2;
	int i, k;

	for (i = 0; i < 16; i++)
		for (w[i] = 0, k = 0; k < 8; k++)
			w[i] = w[i] << 8 | p[8 * i + k];
	for (i = 16; i < 80; i++)
		w[i] = (ROR64(w[i - 2], 19) ^ ROR64(w[i - 2], 61) ^ (w[i - 2] >> 6)) + w[i - 7] +
		    (ROR64(w[i - 15], 1) ^ ROR64(w[i - 15], 8) ^ (w[i - 15] >> 7)) + w[i - 16];
	a = hh[0]; b = hh[1]; c = hh[2]; d = hh[3]; e = hh[4]; f = hh[5]; g = hh[6]; h = hh[7];
	for (i = 0; i < 80; i++) {
		t1 = h + (ROR64(e, 14) ^ ROR64(e, 18) ^ ROR64(e, 41)) + ((e & f) ^ (~e & g)) +
		    K512[i] + w[i];
		t2 = (ROR64(a, 28) ^ ROR64(a, 34) ^ ROR64(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	hh[0] += a; hh[1] += b; hh[2] += c; hh[3] += d;
	hh[4] += e; hh[5] += f; hh[6] += g; hh[7] += h;
}

int
sha2_init(struct sha2 *c, size_t digest_len)
{
	/* Sections 5.3.3 and 5.3.4 */
	static const uint64_t iv256[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	static const uint64_t iv384[8] = {
		0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL,
		0x152fecd8f70e5939ULL, 0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL,
		0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL,
	};

	memset(c, 0, sizeof(*c));
	if (digest_len == SHA256_DIGEST_LEN)
		memcpy(c->h, iv256, sizeof(c->h));
	else if (digest_len == SHA384_DIGEST_LEN) {
		c->is384 = 1;
		memcpy(c->h, iv384, sizeof(c->h));
	} else
		return -1;
	return 0;
}

void
sha2_update(struct sha2 *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t bs = c->is384 ? 128 : 64, n;

	c->bytes += len;
	while (len > 0) {
		n = bs - c->used < len ? bs - c->used : len;
		memcpy(c->block + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == bs) {
			if (c->is384)
				block512(c->h, c->block);
			else
				block256(c->h, c->block);
			c->used = 0;
		}
	}
}

void
sha2_final(struct sha2 *c, uint8_t *out)
{
	size_t bs = c->is384 ? 128 : 64, lenpos = bs - (c->is384 ? 16 : 8), i, n;
	uint64_t bits = c->bytes * 8;

	/* Section 5.1: a 1 bit, zeros, and the length in bits (big endian,
	 * 64 bits; SHA-384's 128-bit length has zero high half here). */
	c->block[c->used++] = 0x80;
	if (c->used > lenpos) {
		memset(c->block + c->used, 0, bs - c->used);
		if (c->is384)
			block512(c->h, c->block);
		else
			block256(c->h, c->block);
		c->used = 0;
	}
	memset(c->block + c->used, 0, bs - c->used);
	for (i = 0; i < 8; i++)
		c->block[bs - 1 - i] = (uint8_t)(bits >> (8 * i));
	if (c->is384)
		block512(c->h, c->block);
	else
		block256(c->h, c->block);
	if (c->is384)
		for (i = 0, n = SHA384_DIGEST_LEN; i < n; i++)
			out[i] = (uint8_t)(c->h[i / 8] >> (56 - 8 * (i % 8)));
	else
		for (i = 0, n = SHA256_DIGEST_LEN; i < n; i++)
			out[i] = (uint8_t)(c->h[i / 4] >> (24 - 8 * (i % 4)));
	explicit_bzero(c, sizeof(*c));
}
