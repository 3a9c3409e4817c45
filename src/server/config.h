/* config.h - parleyd's settings: one table declares them all.
 *
 * The table in config.c (name, type, default, bounds, help) drives the
 * config-file parser, the command-line overrides, `parleyd --print-config`
 * and the SETTINGS section of parleyd(8), so they cannot drift apart.
 * Precedence: built-in defaults < the config file < command-line flags. */
#ifndef PARLEY_SERVER_CONFIG_H
#define PARLEY_SERVER_CONFIG_H

#include "common/compat.h"
#include "common/log.h"

struct config {
    char *listen;      /* as given: HOST:PORT */
    char *listen_host; /* parsed from listen */
    int listen_port;
    char *data_dir;
    char *store;
    char *cluster_nats; /* NULL: a single node */
    bool sqlite_sync_full;
    int store_pool_size;
    char *tls_cert;
    char *tls_key;
    char *hostname;
    enum log_level log_level;
    char *user;
    int max_connections;
    int shutdown_timeout;
    int64_t http_max_body;
    int64_t ws_max_message;
    /* Admin plane (admin_auth.c). */
    int admin_lockout_attempts;
    int admin_lockout_minutes;
    int admin_login_rate;
    int admin_session_idle_minutes;
    int admin_session_max_hours;
    char *console_dir;             /* the web console's static files (console.c) */
    char *sso_ca_file;             /* trust anchors for identity providers; NULL: the system's */
    int compliance_file_hold_days; /* removed files kept for compliance bots (api_files.c) */
};

/* Fill `c` with the built-in defaults (derived ones, such as paths under the
 * data directory, are resolved by config_finish). */
void config_init(struct config *c);
void config_release(struct config *c);

/* Set one setting from text. On error returns PARLEY_ECONFIG and writes a
 * message naming the setting, the bad value and what is allowed into err. */
int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen);

/* Read `key = value` lines from `path` ('#' starts a comment). Unknown keys
 * and bad values are errors that name the file and line. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* The same for `len` bytes at `data`; `name` stands for the file in
 * messages. */
int config_load_buffer(struct config *c, const char *name, const char *data, size_t len, char *err,
                       size_t errlen);

/* Resolve the defaults that depend on other settings (store and TLS paths
 * under data_dir, host name). Call once after all sources are applied. */
int config_finish(struct config *c, char *err, size_t errlen);

/* Write every setting as a config file that parleyd accepts. */
void config_print(const struct config *c, FILE *out);
/* Write the SETTINGS section of parleyd(8) in roff. */
void config_print_man(FILE *out);

#endif
