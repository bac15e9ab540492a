/* tpmid doctor: check what a working setup needs, one line per finding
 * with what to do. Reads only: it records nothing and changes nothing (the
 * SRK is compared with the store's record only when one exists). */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "common/err.h"
#include "common/util.h"
#include "store/store.h"

static const char usage[] =
    "usage: tpmid doctor\n"
    "\n"
    "Check the setup and print one line per finding, \"ok\", \"warn\" or\n"
    "\"FAIL\", with what to do: the agent socket (and whether SSH_AUTH_SOCK\n"
    "points at it), the TPM (reachable at the TCTI in use; the device's\n"
    "permissions), the storage root key (compared with the store's record,\n"
    "when no agent holds the TPM), the store (ownership, modes, identity\n"
    "files that do not parse), persistent handles no identity records, and\n"
    "the systemd user units. Changes nothing. Exit status 0 when nothing\n"
    "failed, 1 otherwise.\n"
    "\n"
    "  --help  show this help\n";

static int failed;

static void __attribute__((format(printf, 2, 3)))
finding(const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "FAIL") == 0)
		failed = 1;
	printf("%-4s  ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
check_store(const struct status_info *st, const struct id_info *a, size_t n)
{
	char *dir = NULL, *p = NULL;
	struct stat sb;
	size_t i;

	if (*st->store == '\0') {
		finding("ok", "store: the agent serves another user's store");
		return;
	}
	dir = strdup(st->store);
	if (dir == NULL || stat(dir, &sb) < 0)
		finding("ok", "store %s: not created yet (the first keygen or import makes it)",
		    st->store);
	else if (sb.st_uid != geteuid() && sb.st_uid != 0)
		finding("FAIL", "store %s: owned by uid %u; tpmid refuses it: chown it to "
		    "yourself or use --store", dir, (unsigned)sb.st_uid);
	else if ((sb.st_mode & 077) != 0)
		finding((sb.st_mode & 022) ? "FAIL" : "warn", "store %s: mode %04o; run "
		    "'chmod 700 %s'", dir, (unsigned)(sb.st_mode & 07777), dir);
	else
		finding("ok", "store %s: %u identit%s", dir, st->identities,
		    st->identities == 1 ? "y" : "ies");
	for (i = 0; i < n; i++) {
		if (a[i].error != NULL) {
			finding("FAIL", "identity '%s': %s (fix or move the file aside)", a[i].name,
			    a[i].error);
			continue;
		}
		free(p);
		if (asprintf(&p, "%s/%s.json", dir, a[i].name) < 0) {
			p = NULL;
			continue;
		}
		if (stat(p, &sb) == 0 && (sb.st_mode & 077) != 0)
			finding("warn", "identity file %s: mode %04o; run 'chmod 600 %s'", p,
			    (unsigned)(sb.st_mode & 07777), p);
	}
	free(p);
	free(dir);
}

static void
check_tpm(const struct status_info *st)
{
	const char *dev;

	if (*st->tcti == '\0') {
		finding(st->tpm_ok ? "ok" : "FAIL", "TPM: %s (the agent does not show its TCTI "
		    "to other users)", st->tpm_ok ? "reachable" : "unreachable");
		return;
	}
	if (st->tpm_ok) {
		finding("ok", "TPM at %s: reachable", st->tcti);
		return;
	}
	dev = strncmp(st->tcti, "device:", 7) == 0 ? st->tcti + 7 : NULL;
	if (dev != NULL && access(dev, F_OK) != 0)
		finding("FAIL", "TPM at %s: %s does not exist; on a machine without a TPM "
		    "use swtpm (./quickstart) and set TPMID_TCTI", st->tcti, dev);
	else if (dev != NULL && access(dev, R_OK | W_OK) != 0)
		finding("FAIL", "TPM at %s: %s is not readable and writable by you; add "
		    "yourself to its group ('ls -l %s', usually tss) and log in again",
		    st->tcti, dev, dev);
	else
		finding("FAIL", "TPM at %s: unreachable; check that it runs (swtpm, "
		    "tpm2-abrmd) or set TPMID_TCTI / --tcti", st->tcti);
}

static void
check_srk(struct backend *b, const struct status_info *st)
{
	struct store *s = NULL;
	uint8_t *rec = NULL;
	size_t rec_len = 0;
	char *name = NULL, *ek = NULL;
	int r;

	if (*st->store == '\0' || store_open(st->store, 0, &s) != 0) {
		tpmid_clearerr(); /* the store line above says why */
		goto out;
	}
	if (store_srk_name_get(s, &rec, &rec_len) != 0) {
		tpmid_clearerr();
		finding("warn", "storage root key: no name recorded yet; the first key records "
		    "what the TPM answers (trust on first use): pin it first with 'tpmid srk "
		    "--ek-ca VENDOR-CA.pem' or 'tpmid srk --expect NAME'");
		goto out;
	}
	if (backend_is_agent(b)) {
		finding("ok", "storage root key: name recorded; the agent checks it on every "
		    "connection to the TPM");
		goto out;
	}
	if (!st->tpm_ok)
		goto out;
	if ((r = engine_srk(b->engine, 0, NULL, NULL, &name, &ek)) != 0)
		finding("FAIL", "storage root key: %s", tpmid_errmsg(r));
	else
		finding("ok", "storage root key: matches the name recorded in the store");
out:
	free(name);
	free(ek);
	free(rec);
	store_free(s);
}

static void
check_units(void)
{
	FILE *f;
	char line[64] = "";

	if (access("/run/systemd/system", F_OK) != 0 || getenv("XDG_RUNTIME_DIR") == NULL)
		return; /* no systemd user manager to ask */
	if ((f = popen("systemctl --user is-enabled tpmid-agent.socket 2>/dev/null", "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, "enabled") == 0)
		finding("ok", "systemd: tpmid-agent.socket is enabled for your user");
	else
		finding("warn", "systemd: tpmid-agent.socket is %s; to start the agent on "
		    "demand run 'systemctl --user enable --now tpmid-agent.socket'",
		    *line != '\0' ? line : "not installed");
}

int
cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backend b = { 0 };
	struct wire_request qs = { .type = WIRE_REQ_STATUS }, ql = { .type = WIRE_REQ_LIST };
	struct wire_reply st = { 0 }, ls = { 0 };
	const char *ssh;
	char *sock = NULL;
	unsigned i;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_getopt_error(argv[0], c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	failed = 0;
	if ((sock = cli_g.socket ? strdup(cli_g.socket) : client_default_socket()) == NULL)
		return cli_fail(TPMID_E_NOMEM, "doctor");
	if ((r = cli_backend(&b)) != 0) {
		finding("FAIL", "%s", tpmid_errmsg(r));
		goto out;
	}
	if (backend_is_agent(&b))
		finding("ok", "agent: answers at %s", sock);
	else
		finding("warn", "agent: not running at %s; commands open the TPM directly. "
		    "Start it with 'tpmid-agent' (or its systemd units) for ssh and for "
		    "keys kept loaded", sock);
	ssh = getenv("SSH_AUTH_SOCK");
	if (backend_is_agent(&b) && (ssh == NULL || strcmp(ssh, sock) != 0))
		finding("warn", "ssh: SSH_AUTH_SOCK is %s%s%s; for ssh to use the TPM keys "
		    "run 'export SSH_AUTH_SOCK=%s'", ssh ? "'" : "", ssh ? ssh : "not set",
		    ssh ? "'" : "", sock);
	else if (backend_is_agent(&b))
		finding("ok", "ssh: SSH_AUTH_SOCK points at the agent");
	if ((r = backend_call(&b, &qs, &st)) != 0) {
		finding("FAIL", "status: %s", tpmid_errmsg(r));
		goto out;
	}
	check_tpm(&st.status);
	if (backend_call(&b, &ql, &ls) != 0)
		tpmid_clearerr();
	check_store(&st.status, ls.list, ls.n_list);
	check_srk(&b, &st.status);
	if (st.status.n_orphans > 0) {
		printf("warn  TPM: %u persistent handle%s in tpmid's range that no identity "
		    "records:", st.status.n_orphans, st.status.n_orphans == 1 ? "" : "s");
		for (i = 0; i < st.status.n_orphans && i < WIRE_ORPHANS_MAX; i++)
			printf(" 0x%08x", st.status.orphan[i]);
		printf("; if nothing else uses them, free them with 'tpm2_evictcontrol -c "
		    "HANDLE'\n");
	}
	check_units();
out:
	wire_reply_clear(&st);
	wire_reply_clear(&ls);
	backend_close(&b);
	free(sock);
	if ((r = cli_flush_stdout()) != 0)
		return cli_fail(r, "doctor");
	return failed ? 1 : 0;
}
