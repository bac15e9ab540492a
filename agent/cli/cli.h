/* The tpmid command line: one file per subcommand (agent/cli/<command>.c),
 * dispatched from the table in main.c; PIN input in pin.c, the agent and
 * direct backends in backend.c. Exit status: 0 ok, 1 failure, 2 usage
 * error. Errors go to stderr as one line naming the identity or file. */
#ifndef TPMID_CLI_H
#define TPMID_CLI_H

#include "agent/cli/backend.h"

#define EXIT_USAGE 2

/* Global options (before or after the subcommand name). */
struct cli_global {
	const char *socket;   /* --socket */
	const char *tcti;     /* --tcti */
	const char *store;    /* --store */
	int direct;           /* --direct: never use the agent */
};
extern struct cli_global cli_g;

/* Open the backend per the global options (agent if it answers). */
int cli_backend(struct backend *ret);
/* Print "tpmid: <context>: <message for r>" to stderr; returns 1. */
int cli_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "tpmid <cmd>: <message>\n" + "Try 'tpmid <cmd> --help'." ; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* PIN / passphrase input (pin.c). */
int cli_read_pin_file(const char *path, struct secret **ret);
int cli_read_pin_stdin(struct secret **ret);
/* What is asked for: its name in messages and its longest length. */
struct cli_secret_kind {
	const char *noun;
	size_t max;
};
extern const struct cli_secret_kind cli_pin;        /* TPMID_PIN_MAX */
extern const struct cli_secret_kind cli_passphrase; /* TPMID_PASSPHRASE_MAX */
/* Prompt on /dev/tty without echo, else via $SSH_ASKPASS when there is no
 * terminal. `confirm`: ask twice and compare. */
int cli_prompt_secret(const char *prompt, const struct cli_secret_kind *kind, int confirm,
    struct secret **ret);

/* Shared helpers for the commands (output.c, pin.c). */

/* Where a PIN comes from: at most one of these is set. */
struct cli_pin_opt {
	const char *file;  /* --pin-file */
	int from_stdin;    /* --pin-stdin */
	int prompt;        /* --pin: ask on the terminal / SSH_ASKPASS */
};
/* The PIN options, as getopt_long entries whose values are the CLI_PIN_*
 * codes, so a command's switch passes its `c` straight on:
 *   case CLI_PIN_PROMPT: case CLI_PIN_FILE: case CLI_PIN_STDIN:
 *       r = cli_pin_opt_set(argv[0], &po, c, optarg); */
#define CLI_PIN_FILE 'f'
#define CLI_PIN_STDIN 's'
#define CLI_PIN_PROMPT 'P'
#define CLI_PIN_LONGOPTS_NOPROMPT \
	{ "pin-file", required_argument, NULL, CLI_PIN_FILE }, \
	{ "pin-stdin", no_argument, NULL, CLI_PIN_STDIN }
#define CLI_PIN_LONGOPTS \
	{ "pin", no_argument, NULL, CLI_PIN_PROMPT }, CLI_PIN_LONGOPTS_NOPROMPT
/* Record a PIN option for `cmd`; usage error (returns 2) when a second
 * source is given. 0 otherwise. */
int cli_pin_opt_set(const char *cmd, struct cli_pin_opt *o, int which, const char *arg);
/* The PIN per `o`, or NULL when no source was given. */
/* Before signing with identity `info`: when its key needs a PIN, none was
 * given (*pin NULL) and the agent holds none, ask on the terminal or via
 * SSH_ASKPASS. Having no way to ask is not an error here: the backend then
 * reports TPMID_E_LOCKED, which cli_pin_explain() turns into advice. */
int cli_pin_for_sign(const struct id_info *info, const char *prompt, struct secret **pin);
/* After a sign through backend `b` failed with `r`: in direct mode nothing
 * can hold a PIN, so TPMID_E_LOCKED gets a detail saying how to give one.
 * Returns r. */
int cli_pin_explain(const struct backend *b, const char *name, int r);
int cli_pin_get(const struct cli_pin_opt *o, const char *prompt, int confirm,
    struct secret **ret);

/* Report a getopt_long() error (`c` is '?' or ':') as a usage error. */
int cli_getopt_error(const char *cmd, int c, char **argv);
/* Flush stdout; TPMID_E_IO (with a detail) when what was printed could not
 * be written (a full disk, a closed pipe). */
int cli_flush_stdout(void);
/* 1 if stdout is a terminal (binary output must not go there). */
int cli_stdout_is_tty(void);
/* TPMID_E_EXISTS (with the detail) when `path` is an existing file and not
 * `force`: checked before a PIN is asked or the TPM used. Devices, FIFOs
 * and stdout ("-", NULL) always pass. */
int cli_check_output(const char *path, int force);
/* Write output to `path` (NULL or "-": stdout). A file is written to a
 * temp name and renamed into place with `mode`; `no_clobber` refuses an
 * existing file. Errors name the path. */
int cli_write_output(const char *path, const void *p, size_t len, unsigned mode,
    int no_clobber);

/* After getopt: exactly one positional NAME left, and a valid identity
 * name, else a usage error (2). */
int cli_one_name(const char *cmd, int argc, char **argv, const char **ret);
/* TPMID_E_EXISTS when identity `name` exists: checked before a PIN is
 * asked for, so nobody types a PIN for a command bound to fail. */
int cli_check_new_name(struct backend *b, const char *name);
/* `s` for a message: control and non-ASCII bytes as \xHH, cut with "..."
 * to fit `size` (CLI_ESCAPE_MAX is enough for an 80-byte prefix). */
#define CLI_ESCAPE_MAX 336
const char *cli_escape(const char *s, char *buf, size_t size);

int cmd_keygen(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_csr(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_unlock(int argc, char **argv);   /* unlock.c */
int cmd_lock(int argc, char **argv);     /* unlock.c */
int cmd_status(int argc, char **argv);
int cmd_ssh_cert(int argc, char **argv);
int cmd_ssh_offer(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_srk(int argc, char **argv);

#endif
