/* integ.h - the integrations parley-bot can host: one table row each.
 *
 * An integration is either built in (a function that runs with the bot's
 * signed-in client) or an external program that parley-bot launches in
 * the integration directory. A new integration is one row in integ.c,
 * plus its configuration questions if it has any.
 *
 * External programs get (docs/man/parley-bot.8, "INTEGRATIONS"):
 *   argv:  PROGRAM --account-dir DIR --username NAME --integration-dir DIR
 *          --config FILE
 *   stdin: the bot's password, one line (the program signs in itself with
 *          libparley, parley_client_login)
 *   cwd:   the integration directory
 * They are looked up next to parley-bot first, then in $PATH, and run in
 * the foreground of `parley-bot run`, which restarts them with the same
 * rules as built-in integrations. A program with a command line of its own
 * (the bot engine, the room bot) has an argv builder in its row instead:
 * it gets the same facts and the password on stdin all the same. */
#ifndef PARLEY_BOT_INTEG_H
#define PARLEY_BOT_INTEG_H

#include "common/compat.h"

#include <signal.h>

#include <jansson.h>
#include <parley/parley.h>

enum integ_answer {
    IQ_YESNO = 1, /* "yes" or "no" */
    IQ_DIR,       /* an absolute directory path */
    IQ_PREFIX,    /* a file prefix (rlog_prefix_ok) */
    IQ_INT,       /* an integer within [min, max] */
    IQ_FILE,      /* an absolute file path */
    IQ_URL,       /* empty, or an https:// URL */
};

struct integ_question {
    const char *key;    /* stored in the bot's record; --set KEY=VALUE */
    const char *prompt; /* as the console asks it */
    const char *def;    /* default; "@" at the start stands for the integration directory */
    enum integ_answer kind;
    int64_t min, max;
    const char *only_if; /* asked only when this yes/no key is "yes" */
};

/* What a built-in integration gets while it runs. */
struct integ_run {
    struct parley_client *client;
    const json_t *config; /* the answers (object of strings) */
    const char *dir;      /* the integration directory */
    volatile sig_atomic_t *stop;
    int64_t restart_at_ms; /* CLOCK_MONOTONIC; 0 = never */
};

/* Returns 0 to stop, 1 when restart_at_ms passed (the runtime restarts
 * the bot), or a negative PARLEY_E* code. */
typedef int (*integ_run_fn)(const struct integ_run *r);

/* What an external integration is started with. */
struct integ_launch {
    const char *program;  /* as found: next to parley-bot, else a name for $PATH */
    const char *name;     /* the bot's name */
    const char *username; /* its account's username */
    const char *account;  /* the account's local state (parley-bot add made it) */
    const char *dir;      /* the integration directory */
    const char *record;   /* the bot's record (bot.json) */
    const json_t *config; /* the answers */
};

#define INTEG_ARGV_MAX 24

/* Fill argv (malloc'd strings, NULL-terminated, at most INTEG_ARGV_MAX - 1)
 * for program l->program. The password always comes on stdin. */
typedef void (*integ_argv_fn)(const struct integ_launch *l, char *argv[INTEG_ARGV_MAX]);

struct integration {
    const char *name;
    const char *description;
    const char *version;
    const struct integ_question *questions;
    size_t n_questions;
    integ_run_fn run;    /* built in, or NULL */
    const char *program; /* external, or NULL */
    integ_argv_fn argv;  /* external: its command line; NULL for the convention above */
};

extern const struct integration integ_table[];
extern const size_t integ_count;

const struct integration *integ_find(const char *name);

/* Check `value` as an answer to q. Returns 0 or PARLEY_EINVAL with a
 * reason in err. */
int integ_answer_check(const struct integ_question *q, const char *value, char *err, size_t errlen);
/* The default of q for integration directory `dir` (malloc'd). */
char *integ_default(const struct integ_question *q, const char *dir);
/* The answer to `key` in `config` as an integer (0 if absent). */
int64_t integ_int(const json_t *config, const char *key);
/* The command line of external integration `in` (integ_argv_fn); free it
 * with integ_argv_free. */
void integ_argv(const struct integration *in, const struct integ_launch *l,
                char *argv[INTEG_ARGV_MAX]);
void integ_argv_free(char *argv[INTEG_ARGV_MAX]);

#endif
