/* agentbench: latency and throughput of signatures through tpmid-agent.
 *
 *   agentbench tpmid SOCKET NAME N [CLIENTS]   sign-digest@tpmid via the client library
 *   agentbench ssh   SOCKET NAME N [CLIENTS]   SSH_AGENTC_SIGN_REQUEST, raw ssh-agent frames
 *
 * Each of CLIENTS processes (default 1) opens its own connection and makes N
 * signatures over distinct digests; latencies of every request are collected
 * in shared memory. Prints one line: p50/p99 per-sign latency and aggregate
 * signatures per second over the wall time of the whole run. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/wire/client.h"
#include "agent/wire/sshmsg.h"
#include "common/buf.h"
#include "common/err.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* --- raw ssh-agent client ------------------------------------------------ */

static int
xfer(int fd, struct tbuf *req, struct tbuf *rsp)
{
	uint8_t hdr[4];
	uint32_t len;
	uint8_t *p;
	size_t got;
	ssize_t n;

	len = (uint32_t)tbuf_len(req);
	hdr[0] = len >> 24; hdr[1] = len >> 16; hdr[2] = len >> 8; hdr[3] = len;
	if (write_all(fd, hdr, 4) < 0 || write_all(fd, tbuf_ptr(req), len) < 0)
		return -1;
	for (got = 0; got < 4; got += (size_t)n)
		if ((n = read(fd, hdr + got, 4 - got)) <= 0)
			return -1;
	if (wire_frame_len(hdr, WIRE_REPLY_MAX, &len) < 0)
		return -1;
	tbuf_reset(rsp);
	if (tbuf_reserve(rsp, len, &p) < 0)
		return -1;
	for (got = 0; got < len; got += (size_t)n)
		if ((n = read(fd, p + got, len - got)) <= 0)
			return -1;
	return 0;
}

static int
ssh_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Find the key blob whose comment is `name` (REQUEST_IDENTITIES). */
static int
ssh_find_key(int fd, const char *name, uint8_t **blob, size_t *blob_len)
{
	struct tbuf *req = tbuf_new(0), *rsp = tbuf_new(0);
	const uint8_t *b, *c;
	size_t bl, cl;
	uint32_t n, i;
	uint8_t type;
	int r = -1;

	tbuf_put_u8(req, SSH_AGENTC_REQUEST_IDENTITIES);
	if (xfer(fd, req, rsp) < 0 || tbuf_get_u8(rsp, &type) < 0 ||
	    type != SSH_AGENT_IDENTITIES_ANSWER || tbuf_get_u32(rsp, &n) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (tbuf_get_string_direct(rsp, &b, &bl) < 0 ||
		    tbuf_get_string_direct(rsp, &c, &cl) < 0)
			goto out;
		if (cl == strlen(name) && memcmp(c, name, cl) == 0) {
			*blob = malloc(bl);
			memcpy(*blob, b, bl);
			*blob_len = bl;
			r = 0;
			break;
		}
	}
out:
	tbuf_free(req);
	tbuf_free(rsp);
	return r;
}

static int
run_ssh(const char *sock, const char *name, int n, double *lat)
{
	struct tbuf *req = tbuf_new(0), *rsp = tbuf_new(0);
	uint8_t *blob = NULL, data[64], type;
	size_t blob_len = 0;
	double t;
	int fd, i, r = -1;

	if ((fd = ssh_connect(sock)) < 0 || ssh_find_key(fd, name, &blob, &blob_len) < 0) {
		fprintf(stderr, "agentbench: no ssh key '%s' at %s\n", name, sock);
		goto out;
	}
	memset(data, 0x5a, sizeof(data));
	for (i = 0; i < n; i++) {
		memcpy(data, &i, sizeof(i));
		tbuf_reset(req);
		tbuf_put_u8(req, SSH_AGENTC_SIGN_REQUEST);
		tbuf_put_string(req, blob, blob_len);
		tbuf_put_string(req, data, sizeof(data));
		tbuf_put_u32(req, 0);
		t = now();
		if (xfer(fd, req, rsp) < 0 || tbuf_get_u8(rsp, &type) < 0 ||
		    type != SSH_AGENT_SIGN_RESPONSE) {
			fprintf(stderr, "agentbench: ssh sign %d failed\n", i);
			goto out;
		}
		lat[i] = now() - t;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(blob);
	tbuf_free(req);
	tbuf_free(rsp);
	return r;
}

static int
run_tpmid(const char *sock, const char *name, int n, double *lat)
{
	struct wire_request q = { .type = WIRE_REQ_INFO, .name = (char *)name };
	struct wire_reply rep;
	struct client *c = NULL;
	const struct curve_info *curve;
	uint8_t dg[64];
	double t;
	int i, r;

	if ((r = client_connect(sock, &c)) < 0) {
		fprintf(stderr, "agentbench: %s\n", tpmid_errmsg(r));
		return -1;
	}
	/* The digest size must match the key: ask the agent. */
	if ((r = client_call(c, &q, &rep)) < 0 || (curve = curve_get(rep.info.alg)) == NULL) {
		fprintf(stderr, "agentbench: %s: %s\n", name, tpmid_errmsg(r));
		wire_reply_clear(&rep);
		client_free(c);
		return -1;
	}
	wire_reply_clear(&rep);
	memset(dg, 0x5a, sizeof(dg));
	q.type = WIRE_REQ_SIGN_DIGEST;
	q.data = dg;
	q.data_len = curve->digest_len;
	for (i = 0; i < n; i++) {
		memcpy(dg, &i, sizeof(i));
		t = now();
		if ((r = client_call(c, &q, &rep)) < 0) {
			fprintf(stderr, "agentbench: sign %d: %s\n", i, tpmid_errmsg(r));
			client_free(c);
			return -1;
		}
		lat[i] = now() - t;
		wire_reply_clear(&rep);
	}
	client_free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	int n, clients, i, failed = 0, status;
	double *lat, t0, wall;
	size_t total;
	pid_t pid;

	if (argc < 5) {
		fprintf(stderr, "usage: agentbench tpmid|ssh SOCKET NAME N [CLIENTS]\n");
		return 2;
	}
	n = atoi(argv[4]);
	clients = argc > 5 ? atoi(argv[5]) : 1;
	if (n <= 0 || clients <= 0 || clients > 256)
		return 2;
	total = (size_t)n * (size_t)clients;
	lat = mmap(NULL, total * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED)
		return 1;
	t0 = now();
	for (i = 0; i < clients; i++) {
		if ((pid = fork()) < 0)
			return 1;
		if (pid == 0) {
			int r = strcmp(argv[1], "ssh") == 0 ?
			    run_ssh(argv[2], argv[3], n, lat + (size_t)i * n) :
			    run_tpmid(argv[2], argv[3], n, lat + (size_t)i * n);
			_exit(r < 0 ? 1 : 0);
		}
	}
	for (i = 0; i < clients; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	wall = now() - t0;
	if (failed) {
		fprintf(stderr, "agentbench: %d client(s) failed\n", failed);
		return 1;
	}
	qsort(lat, total, sizeof(double), cmpd);
	printf("mode=%s clients=%d n=%d p50_ms=%.3f p99_ms=%.3f signs_per_s=%.1f\n", argv[1],
	    clients, n, lat[total / 2] * 1e3, lat[(size_t)(total * 0.99)] * 1e3, total / wall);
	return 0;
}
