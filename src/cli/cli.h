/* cli.h - what the subcommands of `parley` share: the options common to
 * all of them, reading passwords, and opening the signed-in client. */
#ifndef PARLEY_CLI_CLI_H
#define PARLEY_CLI_CLI_H

#include "common/compat.h"

#include <parley/parley.h>

struct cli {
    const char *data_dir;
    const char *config_path;
    const char *username;
    const char *password_file;
    bool json;
};

/* A subcommand: argv[0] is its name; options already removed. Returns the
 * process exit status. */
struct cli_cmd {
    const char *name;
    int (*fn)(struct cli *cli, int argc, char **argv);
    const char *usage;
};

int cmd_register(struct cli *cli, int argc, char **argv);
int cmd_login(struct cli *cli, int argc, char **argv);
int cmd_sso_login(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_listen(struct cli *cli, int argc, char **argv);
int cmd_history(struct cli *cli, int argc, char **argv);
int cmd_rooms(struct cli *cli, int argc, char **argv);
int cmd_fingerprint(struct cli *cli, int argc, char **argv);
int cmd_whois(struct cli *cli, int argc, char **argv);
int cmd_policy(struct cli *cli, int argc, char **argv);
int cmd_link(struct cli *cli, int argc, char **argv);
int cmd_send_file(struct cli *cli, int argc, char **argv);
int cmd_get_file(struct cli *cli, int argc, char **argv);
int cmd_vault(struct cli *cli, int argc, char **argv);

/* A password: the first line of --password-file, else $`env`, else asked
 * on the terminal without echo. `which` names it in the prompt and selects
 * the file line (0: the account password, 1: the new password, 2: the
 * configuration file's password). free() the result (wiped first with
 * cli_password_free). Exits on failure. */
char *cli_password(struct cli *cli, int which, const char *env, const char *prompt);
void cli_password_free(char *pw);

/* Open --config: a file without a password at once, else with the
 * configuration file password (cli_password, which 2). Returns 0 or the
 * error of parley_config_open. */
struct parley_config;
int cli_open_config(struct cli *cli, struct parley_config **cfg);

/* Sign in from local state (or, with --config, as a new device) and
 * optionally connect and wait until online. Exits on failure. */
struct parley_client *cli_client(struct cli *cli, bool connect);

/* Draw `text` as a QR code in the terminal: two module rows per line with
 * half blocks, and a quiet zone (libqrencode; cmd_fingerprint.c). */
void cli_print_qr(const char *text);

/* Print "parley: what: reason" to stderr; returns 1. */
int cli_fail(const char *what, int err);

/* Split "a,b,c" in place into at most `max` parts; returns the count. */
size_t cli_split(char *s, const char **out, size_t max);

#endif
