/* config.c - the settings table and everything generated from it. */
#include "config.h"
#include "common/str.h"
#include "common/xmalloc.h"

#include <ctype.h>
#include <unistd.h>
#include <arpa/inet.h>

enum setting_type {
    SET_STRING, /* free text */
    SET_INT,    /* decimal integer in [min, max] */
    SET_SIZE,   /* bytes, with an optional K, M or G suffix, in [min, max] */
    SET_BOOL,   /* yes/no, true/false, on/off */
    SET_ENUM,   /* one of choices[] (stored as its index) */
    SET_LISTEN, /* HOST:PORT */
};

struct setting {
    const char *name;
    enum setting_type type;
    const char *def; /* NULL: derived in config_finish, described in help */
    int64_t min, max;
    const char *const *choices;
    size_t offset;
    const char *help;
};

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const sync_modes[] = {"normal", "full", NULL};

#define OFF(f) offsetof(struct config, f)

/* Every setting of parleyd. Keep help texts to one sentence or two: they are
 * printed by --print-config and become the man page's SETTINGS section. */
static const struct setting settings[] = {
    {"listen", SET_LISTEN, "0.0.0.0:8443", 0, 65535, NULL, OFF(listen),
     "Address and port for HTTPS and WebSocket clients, as HOST:PORT. Port 0 picks a free port "
     "(the log says which)."},
    {"data_dir", SET_STRING, NULL, 0, 0, NULL, OFF(data_dir),
     "Directory for the database, certificates and files; created on first start. Default: "
     "/var/lib/parleyd when run as root, else $XDG_DATA_HOME/parleyd or ~/.local/share/parleyd."},
    {"store", SET_STRING, NULL, 0, 0, NULL, OFF(store),
     "Database: sqlite:PATH, or a postgresql:// connection URI. Default: "
     "sqlite:DATA_DIR/parley.db."},
    {"sqlite_synchronous", SET_ENUM, "full", 0, 0, sync_modes, OFF(sqlite_sync_full),
     "SQLite durability: full survives power loss (one fsync per group commit); normal survives "
     "process crashes only."},
    {"store_pool_size", SET_INT, "4", 1, 64, NULL, OFF(store_pool_size),
     "Database connections kept open for reads."},
    {"tls_cert", SET_STRING, NULL, 0, 0, NULL, OFF(tls_cert),
     "PEM certificate chain. Default: DATA_DIR/tls/cert.pem, a self-signed certificate created on "
     "first start when neither it nor tls_key exists."},
    {"tls_key", SET_STRING, NULL, 0, 0, NULL, OFF(tls_key),
     "PEM private key of tls_cert. Default: DATA_DIR/tls/key.pem."},
    {"hostname", SET_STRING, NULL, 0, 0, NULL, OFF(hostname),
     "Host name clients use; goes into the self-signed certificate and the console URL. Default: "
     "the system's host name."},
    {"sso_ca_file", SET_STRING, NULL, 0, 0, NULL, OFF(sso_ca_file),
     "PEM file of the certificate authorities parleyd trusts when it calls an SSO identity "
     "provider (discovery, keys, token endpoint). Unset: the system's trust store."},
    {"cluster_nats", SET_STRING, NULL, 0, 0, NULL, OFF(cluster_nats),
     "NATS server(s) linking the nodes of a deployment that share one PostgreSQL store, as "
     "nats://HOST:PORT (comma-separated for several). Unset: a single node."},
    {"log_level", SET_ENUM, "info", 0, 0, log_levels, OFF(log_level),
     "Lowest level logged: debug, info, warn or error."},
    {"user", SET_STRING, "nobody", 0, 0, NULL, OFF(user),
     "When started as root, the user parleyd switches to after binding its port; the data "
     "directory is given to this user."},
    {"max_connections", SET_INT, "10000", 1, 1000000, NULL, OFF(max_connections),
     "Most simultaneous client connections (also raises the open-file limit to match)."},
    {"shutdown_timeout", SET_INT, "5", 1, 60, NULL, OFF(shutdown_timeout),
     "Seconds a SIGTERM or SIGINT waits for connections and pending writes before exiting."},
    {"http_max_body", SET_SIZE, "1M", 1024, 64 << 20, NULL, OFF(http_max_body),
     "Largest HTTP request body accepted (file uploads use their own chunked route)."},
    {"ws_max_message", SET_SIZE, "256K", 1024, 16 << 20, NULL, OFF(ws_max_message),
     "Largest WebSocket message accepted from a client."},
    {"admin_lockout_attempts", SET_INT, "5", 1, 100, NULL, OFF(admin_lockout_attempts),
     "Failed sign-ins (wrong password or two-factor code) after which an administrator account "
     "is locked."},
    {"admin_lockout_minutes", SET_INT, "30", 0, 525600, NULL, OFF(admin_lockout_minutes),
     "How long a locked administrator account stays locked; 0 keeps it locked until a super "
     "administrator unlocks it."},
    {"admin_login_rate", SET_INT, "20", 1, 100000, NULL, OFF(admin_login_rate),
     "Most administrator sign-in attempts accepted from one IP address per minute (each costs an "
     "Argon2id verification)."},
    {"admin_session_idle_minutes", SET_INT, "30", 1, 10080, NULL, OFF(admin_session_idle_minutes),
     "An administrator session unused this long ends."},
    {"console_dir", SET_STRING, NULL, 0, 0, NULL, OFF(console_dir),
     "Directory of the web console's files, served at /admin. Default: the installed copy "
     "(PREFIX/share/parley/console) when it exists, else web/console in the source tree parleyd "
     "was built from."},
    {"admin_session_max_hours", SET_INT, "12", 1, 720, NULL, OFF(admin_session_max_hours),
     "An administrator session ends this long after sign-in, used or not."},
    {"compliance_file_hold_days", SET_INT, "30", 0, 3650, NULL, OFF(compliance_file_hold_days),
     "Days the encrypted blob of a recalled, expired or deleted file is kept for a network's "
     "compliance bot that has not downloaded it yet (only the bot can read it); 0 removes blobs "
     "at once."},
};

static const struct setting *find_setting(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

static void *field(struct config *c, const struct setting *s)
{
    return (char *)c + s->offset;
}

static const void *cfield(const struct config *c, const struct setting *s)
{
    return (const char *)c + s->offset;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return PARLEY_EINVAL;
}

static int parse_size(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char num[32];
    size_t n = strlen(v);
    int64_t mult = 1, x;

    if (n == 0 || n >= sizeof(num))
        return PARLEY_EINVAL;
    memcpy(num, v, n + 1);
    switch (toupper((unsigned char)num[n - 1])) {
    case 'K':
        mult = 1024;
        break;
    case 'M':
        mult = 1024 * 1024;
        break;
    case 'G':
        mult = 1024 * 1024 * 1024;
        break;
    }
    if (mult != 1)
        num[n - 1] = 0;
    if (str_to_i64(num, 0, INT64_MAX / mult, &x) < 0)
        return PARLEY_EINVAL;
    x *= mult;
    if (x < min || x > max)
        return PARLEY_EINVAL;
    *out = x;
    return 0;
}

/* HOST:PORT, where HOST is an IPv4 address, [IPv6] or a name. */
static int parse_listen(const char *v, char **host, int *port)
{
    const char *colon = strrchr(v, ':');
    int64_t p;
    size_t hl;

    if (!colon || colon == v || str_to_i64(colon + 1, 0, 65535, &p) < 0)
        return PARLEY_EINVAL;
    hl = (size_t)(colon - v);
    if (v[0] == '[') {
        if (hl < 3 || v[hl - 1] != ']')
            return PARLEY_EINVAL;
        v++;
        hl -= 2;
    }
    for (size_t i = 0; i < hl; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr(".-:", v[i]))
            return PARLEY_EINVAL;
    free(*host);
    *host = xmalloc(hl + 1);
    memcpy(*host, v, hl);
    (*host)[hl] = 0;
    *port = (int)p;
    return 0;
}

static void describe_allowed(const struct setting *s, char *out, size_t len)
{
    switch (s->type) {
    case SET_INT:
        snprintf(out, len, "an integer from %lld to %lld", (long long)s->min, (long long)s->max);
        break;
    case SET_SIZE:
        snprintf(out, len, "a size from %lld to %lld bytes (K, M and G suffixes allowed)",
                 (long long)s->min, (long long)s->max);
        break;
    case SET_BOOL:
        snprintf(out, len, "yes or no");
        break;
    case SET_ENUM: {
        size_t k = 0;
        k += (size_t)snprintf(out, len, "one of:");
        for (size_t i = 0; s->choices[i] && k < len; i++)
            k += (size_t)snprintf(out + k, len - k, " %s", s->choices[i]);
        break;
    }
    case SET_LISTEN:
        snprintf(out, len, "HOST:PORT with a port from 0 to 65535");
        break;
    case SET_STRING:
        snprintf(out, len, "a non-empty value without control characters");
        break;
    }
}

int config_set(struct config *c, const char *name, const char *value, char *err, size_t errlen)
{
    const struct setting *s = find_setting(name);
    char allowed[160];
    int64_t x;
    int rc = 0;

    if (!s) {
        snprintf(err, errlen, "unknown setting '%s' (parleyd --print-config lists them)", name);
        return PARLEY_ECONFIG;
    }
    switch (s->type) {
    case SET_STRING:
        if (!*value) {
            rc = PARLEY_EINVAL;
            break;
        }
        for (const char *p = value; *p; p++)
            if ((unsigned char)*p < 0x20)
                rc = PARLEY_EINVAL;
        if (rc == 0) {
            char **f = field(c, s);
            free(*f);
            *f = xstrdup(value);
        }
        break;
    case SET_INT:
        rc = str_to_i64(value, s->min, s->max, &x);
        if (rc == 0)
            *(int *)field(c, s) = (int)x;
        break;
    case SET_SIZE:
        rc = parse_size(value, s->min, s->max, &x);
        if (rc == 0)
            *(int64_t *)field(c, s) = x;
        break;
    case SET_BOOL:
        rc = parse_bool(value, (bool *)field(c, s));
        break;
    case SET_ENUM:
        rc = PARLEY_EINVAL;
        for (int i = 0; s->choices[i]; i++) {
            if (strcmp(value, s->choices[i]) == 0) {
                /* Enums are stored in a field of the matching type. */
                if (s->offset == OFF(sqlite_sync_full))
                    c->sqlite_sync_full = i == 1;
                else
                    *(enum log_level *)field(c, s) = (enum log_level)i;
                rc = 0;
            }
        }
        break;
    case SET_LISTEN:
        rc = parse_listen(value, &c->listen_host, &c->listen_port);
        if (rc == 0) {
            free(c->listen);
            c->listen = xstrdup(value);
        }
        break;
    }
    if (rc < 0) {
        describe_allowed(s, allowed, sizeof(allowed));
        snprintf(err, errlen, "invalid value '%.200s' for %s: expected %s", value, name, allowed);
        return PARLEY_ECONFIG;
    }
    return 0;
}

void config_init(struct config *c)
{
    char err[256];
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
        if (settings[i].def && config_set(c, settings[i].name, settings[i].def, err, sizeof(err)))
            BUG("bad default: %s", err);
}

void config_release(struct config *c)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
        if (settings[i].type == SET_STRING || settings[i].type == SET_LISTEN)
            free(*(char **)field(c, &settings[i]));
    free(c->listen_host);
    memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* The most a config file may hold: far more than any real one. */
#define CONFIG_MAX_FILE (1 << 20)
#define CONFIG_MAX_LINE 4096

int config_load_buffer(struct config *c, const char *name, const char *data, size_t len, char *err,
                       size_t errlen)
{
    char line[CONFIG_MAX_LINE], msg[512];
    size_t pos = 0;
    int lineno = 0;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        char *key, *value, *eq;

        lineno++;
        if (n >= sizeof(line) || memchr(data + pos, 0, n)) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno,
                     n >= sizeof(line) ? "line too long" : "NUL byte in line");
            return PARLEY_ECONFIG;
        }
        memcpy(line, data + pos, n);
        line[n] = 0;
        pos += n + 1;
        key = trim(line);
        if (*key == 0 || *key == '#')
            continue;
        eq = strchr(key, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'name = value'", name, lineno);
            return PARLEY_ECONFIG;
        }
        *eq = 0;
        key = trim(key);
        value = trim(eq + 1);
        if (config_set(c, key, value, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
            return PARLEY_ECONFIG;
        }
    }
    return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *data;
    size_t n;
    int rc;

    if (!f) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return PARLEY_ECONFIG;
    }
    data = xmalloc(CONFIG_MAX_FILE + 1);
    n = fread(data, 1, CONFIG_MAX_FILE + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read config file '%s': %s", path, strerror(errno));
        rc = PARLEY_ECONFIG;
    } else if (n > CONFIG_MAX_FILE) {
        snprintf(err, errlen, "config file '%s' is larger than %d bytes", path, CONFIG_MAX_FILE);
        rc = PARLEY_ECONFIG;
    } else {
        rc = config_load_buffer(c, path, data, n, err, errlen);
    }
    free(data);
    fclose(f);
    return rc;
}

static char *default_data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (geteuid() == 0)
        return xstrdup("/var/lib/parleyd");
    if (xdg && *xdg == '/')
        return xasprintf("%s/parleyd", xdg);
    if (home && *home == '/')
        return xasprintf("%s/.local/share/parleyd", home);
    return xstrdup("parleyd-data");
}

int config_finish(struct config *c, char *err, size_t errlen)
{
    if (!c->data_dir)
        c->data_dir = default_data_dir();
    if (!c->store)
        c->store = xasprintf("sqlite:%s/parley.db", c->data_dir);
    if (strncmp(c->store, "sqlite:", 7) != 0 && strncmp(c->store, "postgresql://", 13) != 0 &&
        strncmp(c->store, "postgres://", 11) != 0) {
        snprintf(err, errlen,
                 "invalid value for store: expected sqlite:PATH or a postgresql:// URI");
        return PARLEY_ECONFIG;
    }
    if (!c->tls_cert != !c->tls_key) {
        snprintf(err, errlen, "tls_cert and tls_key must be set together");
        return PARLEY_ECONFIG;
    }
    if (!c->tls_cert) {
        c->tls_cert = xasprintf("%s/tls/cert.pem", c->data_dir);
        c->tls_key = xasprintf("%s/tls/key.pem", c->data_dir);
    }
    if (!c->console_dir)
        c->console_dir = xstrdup(access(PARLEY_CONSOLE_INSTALL_DIR, R_OK | X_OK) == 0
                                     ? PARLEY_CONSOLE_INSTALL_DIR
                                     : PARLEY_CONSOLE_SOURCE_DIR);
    if (!c->hostname) {
        char h[256] = "localhost";
        if (gethostname(h, sizeof(h) - 1) < 0 || !*h)
            strlcpy_p(h, "localhost", sizeof(h));
        h[sizeof(h) - 1] = 0;
        c->hostname = xstrdup(h);
    }
    return 0;
}

static void format_value(const struct config *c, const struct setting *s, char *out, size_t len)
{
    switch (s->type) {
    case SET_STRING:
    case SET_LISTEN: {
        const char *v = *(char *const *)cfield(c, s);
        snprintf(out, len, "%s", v ? v : "");
        break;
    }
    case SET_INT:
        snprintf(out, len, "%d", *(const int *)cfield(c, s));
        break;
    case SET_SIZE:
        snprintf(out, len, "%lld", (long long)*(const int64_t *)cfield(c, s));
        break;
    case SET_BOOL:
        snprintf(out, len, "%s", *(const bool *)cfield(c, s) ? "yes" : "no");
        break;
    case SET_ENUM:
        if (s->offset == OFF(sqlite_sync_full))
            snprintf(out, len, "%s", s->choices[c->sqlite_sync_full ? 1 : 0]);
        else
            snprintf(out, len, "%s", s->choices[*(const enum log_level *)cfield(c, s)]);
        break;
    }
}

void config_print(const struct config *c, FILE *out)
{
    char v[1024], allowed[160];
    fprintf(out, "# parleyd configuration (parleyd --print-config)\n");
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        const struct setting *s = &settings[i];
        describe_allowed(s, allowed, sizeof(allowed));
        format_value(c, s, v, sizeof(v));
        fprintf(out, "\n# %s\n# Allowed: %s.\n", s->help, allowed);
        if (s->def)
            fprintf(out, "# Default: %s\n", s->def);
        /* An optional setting left unset prints commented out, so that
         * the output reads back as the same configuration. */
        if (s->type == SET_STRING && !*(char *const *)((const char *)c + s->offset)) {
            fprintf(out, "# %s =\n", s->name);
            continue;
        }
        /* Redact a password embedded in a database or NATS URI. */
        if ((s->offset == OFF(store) || s->offset == OFF(cluster_nats)) && strchr(v, '@') &&
            strstr(v, "://")) {
            char *at = strchr(v, '@'), *colon = strchr(strstr(v, "://") + 3, ':');
            if (colon && colon < at)
                fprintf(out, "%s = %.*s:REDACTED%s\n", s->name, (int)(colon - v), v, at);
            else
                fprintf(out, "%s = %s\n", s->name, v);
        } else {
            fprintf(out, "%s = %s\n", s->name, v);
        }
    }
}

/* roff needs a backslash before '-' to render a minus/hyphen faithfully. */
static void roff_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '-' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void config_print_man(FILE *out)
{
    char allowed[160];
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        const struct setting *s = &settings[i];
        describe_allowed(s, allowed, sizeof(allowed));
        fprintf(out, ".TP\n.B ");
        roff_text(out, s->name);
        fputc('\n', out);
        roff_text(out, s->help);
        fprintf(out, "\nAllowed: ");
        roff_text(out, allowed);
        fputc('.', out);
        if (s->def) {
            fprintf(out, " Default: ");
            roff_text(out, s->def);
            fputc('.', out);
        }
        fputc('\n', out);
    }
}
