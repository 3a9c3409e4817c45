/* parleyctl.h - what the parts of `parleyctl`, the administrator's command
 * line over the admin REST API (/api/v1/admin), share: the global options,
 * the session file, one HTTPS request, and the command table.
 *
 * Every command is one row of ctl_commands[] (parleyctl_cmds.c) naming the
 * method and path template it calls, so a test can check that each admin
 * route of parleyd's route table has a command. */
#ifndef PARLEY_CLI_PARLEYCTL_H
#define PARLEY_CLI_PARLEYCTL_H

#include "common/compat.h"

#include <jansson.h>

/* Exit statuses (parleyctl(1) EXIT STATUS). */
enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_API = 1,   /* the server refused, or it could not be reached */
    CTL_EXIT_USAGE = 2, /* bad command line */
};

/* The session file is at most this long (it holds a few short lines). */
#define CTL_SESSION_MAX 4096

/* Global options and the signed-in session. Strings point into argv, the
 * environment or session_buf. */
struct ctl {
    const char *server;      /* https://host:port */
    const char *cacert;      /* PEM file of trust anchors, or NULL: the system store */
    const char *fingerprint; /* SHA-256 of the server certificate, or NULL */
    const char *token;       /* bearer API token, or NULL */
    const char *network;     /* --network: fills :network_id */
    const char *network_env; /* $PARLEYCTL_NETWORK: the same when no argument does */
    const char *session_path;
    const char *output; /* --output FILE of a download */
    bool json;
    /* From the session file. */
    char *session_buf;
    const char *cookie;
    const char *csrf;
};

/* A reply of the server. */
struct ctl_resp {
    long status;
    char *body;   /* NUL-terminated, malloc'd */
    size_t len;   /* of body, which may hold NUL bytes (downloads) */
    char *cookie; /* the parley_admin cookie it set, or NULL */
};

/* Load the session file named by ctl->session_path, if any, filling the
 * fields the command line left unset. Returns 0 (also when there is none). */
int ctl_session_load(struct ctl *ctl);
/* Write the session file (mode 0600, its directory 0700) with the server,
 * its trust settings, `cookie` and `csrf`. Returns 0, or PARLEY_EIO with a
 * message printed. */
int ctl_session_save(const struct ctl *ctl, const char *cookie, const char *csrf);
/* Remove the session file. */
void ctl_session_remove(const struct ctl *ctl);

/* One request to ctl->server: `path` is already expanded and may carry a
 * query string; `body` (JSON text) may be NULL. Sends the bearer token, or
 * the session cookie with X-CSRF-Token on writes. Verifies the server
 * certificate (see parleyctl(1) on --cacert and --fingerprint). Returns 0
 * and fills *r (free with ctl_resp_release), or PARLEY_EIO after printing
 * why the server could not be reached. */
int ctl_http(const struct ctl *ctl, const char *method, const char *path, const char *body,
             struct ctl_resp *r);
void ctl_resp_release(struct ctl_resp *r);

/* For a status >= 400: print the server's error message to stderr and
 * return CTL_EXIT_API. */
int ctl_api_error(const struct ctl_resp *r);

/* Print a reply: the raw body with --json or if it is not JSON, else a
 * table of `list_key`'s array with `columns` (comma-separated), else
 * "key: value" lines (only `columns`, if set). */
void ctl_print(const struct ctl *ctl, const struct ctl_resp *r, const char *list_key,
               const char *columns);

/* A secret: the first line of `file` if not NULL, else asked on the
 * terminal without echo with `prompt`. Returns a malloc'd string (free with
 * ctl_secret_free), or NULL after printing why. */
char *ctl_secret(const char *file, int line, const char *prompt);
void ctl_secret_free(char *s);

/* Kinds of command options. */
enum ctl_opt_kind {
    CTL_STR,      /* --name VALUE: a string member */
    CTL_INT,      /* --name N: an integer member */
    CTL_BOOL,     /* --name true|false: a boolean member */
    CTL_LIST,     /* --name A,B,C: an array of strings */
    CTL_INTLIST,  /* --name 1,2,3: an array of integers */
    CTL_SETTINGS, /* --set NAME=VALUE (repeatable): members of "settings" */
    CTL_SECRET,   /* --name-file FILE, else asked: a string member */
    CTL_QUERY,    /* --name VALUE: a query parameter */
    CTL_FILES,    /* --name FILE (repeatable): an array of the files' texts */
    CTL_OUTPUT,   /* --name FILE: write the reply there (mode 0600) */
    CTL_FILE64,   /* --name FILE: a string member, the file in base64 */
};

struct ctl_opt {
    const char *name; /* without the leading "--" */
    enum ctl_opt_kind kind;
    const char *field; /* JSON member or query parameter */
    bool required;
};

#define CTL_MAX_OPTS 12

/* A command: `group verb` calls `method path`. Path parameters ":x" take
 * --network for ":network_id", else the positional arguments in order.
 * `fn`, when set, runs instead of the generic request. */
struct ctl_cmd {
    const char *group;
    const char *verb; /* NULL: the group alone is the command */
    const char *method;
    const char *path;
    const char *help;
    struct ctl_opt opts[CTL_MAX_OPTS];
    const char *list_key; /* human output: the array to tabulate */
    const char *columns;
    int (*fn)(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv);
};

extern const struct ctl_cmd ctl_commands[];
extern const size_t ctl_commands_count;

/* Run `cmd` with its arguments (argv[0] is the first one after the verb).
 * Returns the exit status. */
int ctl_run(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv);
/* Print the usage of every command to `f`. */
void ctl_usage(FILE *f);

/* Special commands (parleyctl_login.c). */
int ctl_cmd_login(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv);
int ctl_cmd_logout(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv);
int ctl_cmd_password(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv);

#endif
