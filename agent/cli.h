/* The tpmid command line: one file per subcommand (cmd_*.c), dispatched
 * from the table in cli.c. Exit status: 0 ok, 1 failure, 2 usage error.
 * Errors go to stderr as one line naming the identity or file. */
#ifndef TPMID_AGENT_CLI_H
#define TPMID_AGENT_CLI_H

#include "agent/backend.h"

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

/* PIN / passphrase input (cli_pin.c). */
int cli_read_pin_file(const char *path, struct secret **ret);
int cli_read_pin_stdin(struct secret **ret);
/* Prompt on /dev/tty without echo, else via $SSH_ASKPASS when there is no
 * terminal. `confirm`: ask twice and compare. */
int cli_prompt_secret(const char *prompt, int confirm, struct secret **ret);

int cmd_keygen(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_csr(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_unlock(int argc, char **argv);   /* cmd_agent.c */
int cmd_lock(int argc, char **argv);     /* cmd_agent.c */
int cmd_status(int argc, char **argv);   /* cmd_agent.c */
int cmd_ssh_cert(int argc, char **argv); /* cmd_ssh.c */

#endif
