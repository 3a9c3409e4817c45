/* parleyctl_cmds.c - the command table of parleyctl, one row per admin
 * endpoint, and the generic runner that turns a row and its arguments into
 * one request: path parameters from the arguments, body members and query
 * parameters from the options.
 *
 * Adding an endpoint: one row here (tests/integration/parleyctl_test.c
 * fails until every /api/v1/admin route of routes.c has one) and a line in
 * docs/man/parleyctl.1. */
#include "parleyctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xmalloc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* The command table leaves trailing fields of its option rows to their zero
 * defaults; clang warns about that idiom ({{NULL}}), gcc does not. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define ADM "/api/v1/admin"

/* The largest file an option reads (the server takes 8 MiB of CSV). */
#define CTL_MAX_FILE (8u << 20)

/* Options shared by several rows. */
/* clang-format off */
#define O_PAGING {"limit", CTL_QUERY, "limit", false}, {"offset", CTL_QUERY, "offset", false}
#define O_ANALYTICS \
    {"from", CTL_QUERY, "from", false}, {"to", CTL_QUERY, "to", false}, \
    {"interval", CTL_QUERY, "interval", false}, {"format", CTL_QUERY, "format", false}
#define O_NAMES \
    {"first-name", CTL_STR, "first_name", false}, {"last-name", CTL_STR, "last_name", false}
#define O_SSO \
    {"enabled", CTL_BOOL, "enabled", false}, {"company-id", CTL_STR, "company_id", false}, \
    {"issuer-url", CTL_STR, "issuer_url", false}, {"client-id", CTL_STR, "client_id", false}, \
    {"client-secret-file", CTL_SECRET, "client_secret", false}, \
    {"scopes", CTL_STR, "scopes", false}, \
    {"token-grace-period-minutes", CTL_INT, "token_grace_period_minutes", false}, \
    {"username-claim", CTL_STR, "username_claim", false}, \
    {"auto-provision", CTL_BOOL, "auto_provision", false}, \
    {"group-sync", CTL_BOOL, "security_group_sync.enabled", false}, \
    {"group-sync-ou", CTL_STR, "security_group_sync.ou", false}
/* clang-format on */

#define USER_COLS  "user_id,username,status,user_type,security_group.name,first_name,last_name"
#define ADMIN_COLS "id,username,is_super,role,totp_enabled,locked,first_name,last_name"
#define TOKEN_COLS "id,label,scope,network_id,created_by,last_used"

/* clang-format off */
const struct ctl_cmd ctl_commands[] = {
    /* Sign-in and the caller's own account (scope self). The options of
     * rows with their own `fn` are parsed there and listed here for the
     * usage text. */
    {"login", NULL, "POST", ADM "/login",
     "sign in and keep the session",
     {{"username", CTL_STR, "username", true},
      {"password-file", CTL_SECRET, "password", false},
      {"totp", CTL_STR, "totp", false},
      {"new-password-file", CTL_SECRET, "new_password", false}},
     NULL, NULL, ctl_cmd_login},
    {"logout", NULL, "POST", ADM "/logout",
     "end the session", {{NULL}}, NULL, NULL, ctl_cmd_logout},
    {"me", "show", "GET", ADM "/me",
     "the signed-in administrator", {{NULL}}, NULL,
     "id,username,first_name,last_name,is_super,role,totp_enabled,must_change_password,"
     "networks,permissions",
     NULL},
    {"me", "update", "PATCH", ADM "/me",
     "change your names", {O_NAMES}, NULL, NULL, NULL},
    {"me", "password", "POST", ADM "/me/password",
     "change your password",
     {{"password-file", CTL_SECRET, "current_password", false},
      {"new-password-file", CTL_SECRET, "new_password", false}},
     NULL, NULL, ctl_cmd_password},
    {"me", "totp-begin", "POST", ADM "/me/totp/begin",
     "start TOTP enrolment", {{NULL}}, NULL, "secret,otpauth_uri", NULL},
    {"me", "totp-confirm", "POST", ADM "/me/totp/confirm",
     "finish TOTP enrolment with a code", {{"code", CTL_STR, "code", true}}, NULL, NULL, NULL},
    {"me", "totp-disable", "POST", ADM "/me/totp/disable",
     "turn TOTP off with a code", {{"code", CTL_STR, "code", true}}, NULL, NULL, NULL},
    {"invitations", "list", "GET", ADM "/me/invitations",
     "networks you are invited to", {{NULL}}, "invitations", "network_id,name,invited_at", NULL},
    {"invitations", "accept", "POST", ADM "/me/invitations/:network_id/accept",
     "accept an invitation", {{NULL}}, NULL, NULL, NULL},
    {"invitations", "decline", "DELETE", ADM "/me/invitations/:network_id",
     "decline an invitation", {{NULL}}, NULL, NULL, NULL},
    {"permissions", NULL, "GET", ADM "/permissions",
     "every permission name", {{NULL}}, "permissions", NULL, NULL},
    {"settings", NULL, "GET", ADM "/settings",
     "describe every setting", {{NULL}}, NULL, NULL, NULL},

    /* Deployment: administrators, lockout, roles, tokens, audit. */
    {"admins", "list", "GET", ADM "/admins",
     "list administrators", {{NULL}}, "admins", ADMIN_COLS, NULL},
    {"admins", "create", "POST", ADM "/admins",
     "create an administrator",
     {{"username", CTL_STR, "username", true},
      {"password-file", CTL_SECRET, "password", true},
      O_NAMES,
      {"super", CTL_BOOL, "is_super", false},
      {"role", CTL_STR, "role", false},
      {"networks", CTL_LIST, "networks", false},
      {"must-change-password", CTL_BOOL, "must_change_password", false}},
     NULL, NULL, NULL},
    {"admins", "show", "GET", ADM "/admins/:id",
     "show an administrator", {{NULL}}, NULL, NULL, NULL},
    {"admins", "update", "PATCH", ADM "/admins/:id",
     "change names, role or reset the password",
     {O_NAMES,
      {"password-file", CTL_SECRET, "password", false},
      {"role", CTL_STR, "role", false}},
     NULL, NULL, NULL},
    {"admins", "delete", "DELETE", ADM "/admins/:id",
     "delete an administrator", {{NULL}}, NULL, NULL, NULL},
    {"admins", "unlock", "POST", ADM "/admins/:id/unlock",
     "unlock a locked administrator", {{NULL}}, NULL, NULL, NULL},
    {"admins", "add-network", "PUT", ADM "/admins/:id/networks/:network_id",
     "make an administrator administer a network", {{NULL}}, NULL, NULL, NULL},
    {"admins", "remove-network", "DELETE", ADM "/admins/:id/networks/:network_id",
     "take a network from an administrator", {{NULL}}, NULL, NULL, NULL},
    {"lockout", NULL, "GET", ADM "/lockout",
     "locked accounts and failed sign-ins", {{NULL}}, NULL, NULL, NULL},
    {"roles", "list", "GET", ADM "/roles",
     "list roles", {{NULL}}, "roles", "id,name,builtin,admins,permissions", NULL},
    {"roles", "create", "POST", ADM "/roles",
     "create a role",
     {{"name", CTL_STR, "name", true},
      {"permissions", CTL_LIST, "permissions", true}},
     NULL, NULL, NULL},
    {"roles", "update", "PATCH", ADM "/roles/:id",
     "rename a role or change its permissions",
     {{"name", CTL_STR, "name", false},
      {"permissions", CTL_LIST, "permissions", false}},
     NULL, NULL, NULL},
    {"roles", "delete", "DELETE", ADM "/roles/:id",
     "delete a role", {{NULL}}, NULL, NULL, NULL},
    {"tokens", "list", "GET", ADM "/tokens",
     "list every API token", {{NULL}}, "tokens", TOKEN_COLS, NULL},
    {"tokens", "create", "POST", ADM "/tokens",
     "create an API token (shown once)",
     {{"label", CTL_STR, "label", true},
      {"scope", CTL_STR, "scope", true},
      {"network", CTL_STR, "network_id", false},
      {"permissions", CTL_LIST, "permissions", false}},
     NULL, NULL, NULL},
    {"tokens", "revoke", "DELETE", ADM "/tokens/:id",
     "revoke an API token", {{NULL}}, NULL, NULL, NULL},
    {"audit", NULL, "GET", ADM "/audit",
     "read the audit log",
     {{"action", CTL_QUERY, "action", false},
      {"actor", CTL_QUERY, "actor", false},
      {"network", CTL_QUERY, "network_id", false},
      {"since", CTL_QUERY, "since", false},
      {"until", CTL_QUERY, "until", false},
      O_PAGING},
     "entries", "id,ts,actor.name,action,target,network_id,ip", NULL},
    {"deployment", "settings", "GET", ADM "/deployment/settings",
     "the deployment's settings", {{NULL}}, NULL, NULL, NULL},
    {"deployment", "update-settings", "PATCH", ADM "/deployment/settings",
     "change deployment settings", {{"set", CTL_SETTINGS, "settings", true}}, NULL, NULL, NULL},
    {"deployment", "appearance", "GET", ADM "/deployment/appearance",
     "the sign-in page text and logo", {{NULL}}, NULL, NULL, NULL},
    {"deployment", "update-appearance", "PUT", ADM "/deployment/appearance",
     "change the sign-in page text or logo",
     {{"login-text", CTL_STR, "login_text", false},
      {"logo", CTL_FILE64, "logo_base64", false},
      {"remove-logo", CTL_BOOL, "remove_logo", false}},
     NULL, NULL, NULL},
    {"deployment", "crash-report", "GET", ADM "/deployment/crash-report",
     "the crash report, for support", {{"output", CTL_OUTPUT, NULL, false}}, NULL, NULL, NULL},

    /* Networks and what lives in them. */
    {"networks", "list", "GET", ADM "/networks",
     "list the networks you reach", {{NULL}}, "networks",
     "network_id,name,federation_domain,users,security_groups", NULL},
    {"networks", "create", "POST", ADM "/networks",
     "create a network",
     {{"name", CTL_STR, "name", true},
      {"federation-domain", CTL_STR, "federation_domain", false},
      {"admins", CTL_LIST, "admins", false},
      {"compliance-bot", CTL_STR, "compliance_bot.username", false},
      {"compliance-bot-password-file", CTL_SECRET, "compliance_bot.password", false}},
     NULL, "network_id,name,federation_domain", NULL},
    {"networks", "show", "GET", ADM "/networks/:network_id",
     "show a network and its settings", {{NULL}}, NULL, NULL, NULL},
    {"networks", "update", "PATCH", ADM "/networks/:network_id",
     "rename a network or change its settings",
     {{"name", CTL_STR, "name", false},
      {"federation-domain", CTL_STR, "federation_domain", false},
      {"set", CTL_SETTINGS, "settings", false}},
     NULL, "network_id,name,federation_domain", NULL},
    {"networks", "delete", "DELETE", ADM "/networks/:network_id",
     "delete a network", {{NULL}}, NULL, NULL, NULL},
    {"network-admins", "list", "GET", ADM "/networks/:network_id/admins",
     "administrators of a network", {{NULL}}, "admins", "id,username,status", NULL},
    {"network-admins", "invite", "POST", ADM "/networks/:network_id/admins",
     "invite an administrator to a network", {{"username", CTL_STR, "username", true}}, NULL, NULL,
     NULL},
    {"network-admins", "remove", "DELETE", ADM "/networks/:network_id/admins/:id",
     "remove an administrator from a network", {{NULL}}, NULL, NULL, NULL},
    {"users", "list", "GET", ADM "/networks/:network_id/users",
     "list users", {{"status", CTL_QUERY, "status", false}, O_PAGING}, "users", USER_COLS, NULL},
    {"users", "create", "POST", ADM "/networks/:network_id/users",
     "create a user",
     {{"username", CTL_STR, "username", true},
      {"password-file", CTL_SECRET, "password", true},
      O_NAMES,
      {"security-group", CTL_INT, "security_group_id", false},
      {"type", CTL_STR, "user_type", false}},
     NULL, USER_COLS, NULL},
    {"users", "export-csv", "GET", ADM "/networks/:network_id/users.csv",
     "every user of a network as CSV", {{NULL}}, NULL, NULL, NULL},
    {"users", "bulk-template", "GET", ADM "/networks/:network_id/bulk-users/template.csv",
     "the CSV template of bulk operations", {{NULL}}, NULL, NULL, NULL},
    {"users", "bulk-suspend", "POST", ADM "/networks/:network_id/bulk-users/suspend",
     "suspend every user a CSV file names", {{"csv", CTL_FILE64, "csv_base64", true}},
     NULL, NULL, NULL},
    {"users", "bulk-delete", "POST", ADM "/networks/:network_id/bulk-users/delete",
     "delete every user a CSV file names",
     {{"csv", CTL_FILE64, "csv_base64", true},
      {"acknowledge-deletion", CTL_BOOL, "acknowledge_deletion", true}},
     NULL, NULL, NULL},
    {"users", "show", "GET", ADM "/networks/:network_id/users/:user_id",
     "show a user", {{NULL}}, NULL, NULL, NULL},
    {"users", "update", "PATCH", ADM "/networks/:network_id/users/:user_id",
     "change a user",
     {O_NAMES,
      {"security-group", CTL_INT, "security_group_id", false},
      {"type", CTL_STR, "user_type", false},
      {"restricted", CTL_BOOL, "is_restricted", false}},
     NULL, USER_COLS, NULL},
    {"users", "delete", "DELETE", ADM "/networks/:network_id/users/:user_id",
     "delete a user", {{NULL}}, NULL, NULL, NULL},
    {"users", "suspend", "POST", ADM "/networks/:network_id/users/:user_id/suspend",
     "suspend a user", {{NULL}}, NULL, USER_COLS, NULL},
    {"users", "unsuspend", "POST", ADM "/networks/:network_id/users/:user_id/unsuspend",
     "lift a suspension", {{NULL}}, NULL, USER_COLS, NULL},
    {"bots", "list", "GET", ADM "/networks/:network_id/bots",
     "list bots", {{"status", CTL_QUERY, "status", false}, O_PAGING}, "bots", USER_COLS, NULL},
    {"bots", "create", "POST", ADM "/networks/:network_id/bots",
     "create a bot account",
     {{"username", CTL_STR, "username", true},
      {"password-file", CTL_SECRET, "password", true},
      O_NAMES,
      {"security-group", CTL_INT, "security_group_id", false}},
     NULL, USER_COLS, NULL},
    {"security-groups", "list", "GET", ADM "/networks/:network_id/security-groups",
     "list security groups", {{NULL}}, "security_groups", "id,name,is_default,users", NULL},
    {"security-groups", "create", "POST", ADM "/networks/:network_id/security-groups",
     "create a security group",
     {{"name", CTL_STR, "name", true},
      {"set", CTL_SETTINGS, "settings", false}},
     NULL, NULL, NULL},
    {"security-groups", "show", "GET", ADM "/networks/:network_id/security-groups/:id",
     "show a security group and its settings", {{NULL}}, NULL, NULL, NULL},
    {"security-groups", "update", "PATCH", ADM "/networks/:network_id/security-groups/:id",
     "rename a security group or change its settings",
     {{"name", CTL_STR, "name", false},
      {"set", CTL_SETTINGS, "settings", false}},
     NULL, NULL, NULL},
    {"security-groups", "delete", "DELETE", ADM "/networks/:network_id/security-groups/:id",
     "delete a security group", {{NULL}}, NULL, NULL, NULL},
    {"network-tokens", "list", "GET", ADM "/networks/:network_id/tokens",
     "API tokens of a network", {{NULL}}, "tokens", TOKEN_COLS, NULL},
    {"network-tokens", "create", "POST", ADM "/networks/:network_id/tokens",
     "create a network API token (shown once)",
     {{"label", CTL_STR, "label", true},
      {"permissions", CTL_LIST, "permissions", false}},
     NULL, NULL, NULL},
    {"network-tokens", "revoke", "DELETE", ADM "/networks/:network_id/tokens/:id",
     "revoke a network API token", {{NULL}}, NULL, NULL, NULL},
    {"client-configs", "list", "GET", ADM "/networks/:network_id/client-configs",
     "client configuration files of a network",
     {{"status", CTL_QUERY, "status", false}, O_PAGING}, "client_configs",
     "id,name,status,security_group_id,service_host,service_port,expires_at,downloads", NULL},
    {"client-configs", "create", "POST", ADM "/networks/:network_id/client-configs",
     "create a client configuration file sealed with a password",
     {{"name", CTL_STR, "name", true},
      {"password-file", CTL_SECRET, "password", true},
      {"security-group", CTL_INT, "security_group_id", false},
      {"expires-in-days", CTL_INT, "expires_in_days", false},
      {"service-host", CTL_STR, "service_host", false},
      {"service-port", CTL_INT, "service_port", false},
      {"certificate-pinning", CTL_BOOL, "certificate_pinning", false},
      {"pinned-cert", CTL_FILES, "pinned_certs", false},
      {"suite", CTL_STR, "suite", false}},
     NULL, NULL, NULL},
    {"client-configs", "show", "GET", ADM "/networks/:network_id/client-configs/:id",
     "show a client configuration", {{NULL}}, NULL, NULL, NULL},
    {"client-configs", "download", "GET", ADM "/networks/:network_id/client-configs/:id/file",
     "download the configuration file", {{"output", CTL_OUTPUT, NULL, false}}, NULL, NULL, NULL},
    {"client-configs", "expire", "POST", ADM "/networks/:network_id/client-configs/:id/expire",
     "expire a configuration file now", {{NULL}}, NULL, NULL, NULL},
    {"sso", "show", "GET", ADM "/sso",
     "SSO for administrator sign-in", {{NULL}}, NULL, NULL, NULL},
    {"sso", "update", "PUT", ADM "/sso",
     "change SSO for administrator sign-in (options not given keep their value)",
     {O_SSO}, NULL, NULL, NULL},
    {"network-sso", "show", "GET", ADM "/networks/:network_id/sso",
     "SSO for the network's users", {{NULL}}, NULL, NULL, NULL},
    {"network-sso", "update", "PUT", ADM "/networks/:network_id/sso",
     "change SSO for the network's users (options not given keep their value)",
     {O_SSO}, NULL, NULL, NULL},
    {"network-options", "show", "GET", ADM "/networks/:network_id/options",
     "the network's options", {{NULL}}, NULL, NULL, NULL},
    {"network-options", "update", "PATCH", ADM "/networks/:network_id/options",
     "change the network's options", {{"set", CTL_SETTINGS, "settings", true}}, NULL, NULL, NULL},
    {"security-tags", "list", "GET", ADM "/networks/:network_id/security-tags",
     "security tags of a network", {{NULL}}, "security_tags", "id,name,color,security_groups",
     NULL},
    {"security-tags", "create", "POST", ADM "/networks/:network_id/security-tags",
     "create a security tag",
     {{"name", CTL_STR, "name", true},
      {"color", CTL_STR, "color", true},
      {"security-groups", CTL_INTLIST, "security_groups", false}},
     NULL, NULL, NULL},
    {"security-tags", "delete", "DELETE", ADM "/networks/:network_id/security-tags/:id",
     "delete a security tag", {{NULL}}, NULL, NULL, NULL},
    {"default-rooms", "list", "GET", ADM "/networks/:network_id/default-rooms",
     "rooms new users join", {{NULL}}, "default_rooms",
     "id,name,all_users,security_groups,description", NULL},
    {"default-rooms", "create", "POST", ADM "/networks/:network_id/default-rooms",
     "create a default room",
     {{"name", CTL_STR, "name", true},
      {"description", CTL_STR, "description", false},
      {"all-users", CTL_BOOL, "all_users", false},
      {"security-groups", CTL_INTLIST, "security_groups", false}},
     NULL, NULL, NULL},
    {"default-rooms", "delete", "DELETE", ADM "/networks/:network_id/default-rooms/:id",
     "delete a default room", {{NULL}}, NULL, NULL, NULL},
    {"guests", "list", "GET", ADM "/networks/:network_id/guests",
     "guest accounts and blocked guests", {{NULL}}, NULL, NULL, NULL},
    {"guests", "block", "POST", ADM "/networks/:network_id/guests/blocked",
     "block a guest", {{"username", CTL_STR, "username", true}}, NULL, NULL, NULL},
    {"guests", "unblock", "DELETE", ADM "/networks/:network_id/guests/blocked/:username",
     "unblock a guest", {{NULL}}, NULL, NULL, NULL},
    {"analytics", "overview", "GET", ADM "/networks/:network_id/analytics/overview",
     "users, devices and sign-ins over a time range", {O_ANALYTICS}, NULL, NULL, NULL},
    {"analytics", "members", "GET", ADM "/networks/:network_id/analytics/members",
     "member activity over a time range", {O_ANALYTICS}, NULL, NULL, NULL},
    {"analytics", "messages", "GET", ADM "/networks/:network_id/analytics/messages",
     "messages over a time range", {O_ANALYTICS}, NULL, NULL, NULL},
};
/* clang-format on */

const size_t ctl_commands_count = ARRAY_SIZE(ctl_commands);

static bool has_body(const struct ctl_cmd *cmd)
{
    for (const struct ctl_opt *o = cmd->opts; o->name; o++)
        if (o->kind != CTL_QUERY && o->kind != CTL_OUTPUT)
            return true;
    return false;
}

/* "PATH_PARAM ..." for the usage line. */
static void print_params(FILE *f, const char *path)
{
    for (const char *s = strchr(path, ':'); s; s = strchr(s + 1, ':')) {
        size_t n = strcspn(s + 1, "/.");
        fputc(' ', f);
        for (size_t i = 0; i < n; i++)
            fputc(s[1 + i] >= 'a' && s[1 + i] <= 'z' ? s[1 + i] - 'a' + 'A' : s[1 + i], f);
    }
}

/* What the value of each kind of option looks like, for the usage text. */
static const char *const metavar[] = {
    [CTL_STR] = "VALUE",    [CTL_INT] = "N",           [CTL_BOOL] = "true|false",
    [CTL_LIST] = "A,B,...", [CTL_INTLIST] = "N,N,...", [CTL_SETTINGS] = "NAME=VALUE",
    [CTL_SECRET] = "FILE",  [CTL_QUERY] = "VALUE",     [CTL_FILES] = "FILE",
    [CTL_OUTPUT] = "FILE",  [CTL_FILE64] = "FILE",
};

void ctl_usage(FILE *f)
{
    for (size_t i = 0; i < ctl_commands_count; i++) {
        const struct ctl_cmd *c = &ctl_commands[i];
        fprintf(f, "  %s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
        print_params(f, c->path);
        for (const struct ctl_opt *o = c->opts; o->name; o++)
            fprintf(f, " %s--%s %s%s", o->required ? "" : "[", o->name, metavar[o->kind],
                    o->required ? "" : "]");
        fprintf(f, "\n      %s\n", c->help);
    }
}

static const struct ctl_opt *find_opt(const struct ctl_cmd *cmd, const char *name)
{
    for (const struct ctl_opt *o = cmd->opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static int usage_error(const struct ctl_cmd *cmd, const char *fmt, ...) PARLEY_PRINTF(2, 3);
static int usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "parleyctl: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: parleyctl %s%s%s", cmd->group, cmd->verb ? " " : "",
            cmd->verb ? cmd->verb : "");
    print_params(stderr, cmd->path);
    fprintf(stderr, " [OPTIONS] (see parleyctl(1))\n");
    return CTL_EXIT_USAGE;
}

/* Percent-encode `s` onto `out` (RFC 3986 unreserved characters pass). */
static void append_escaped(struct buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            buf_append(out, s, 1);
        else
            buf_printf(out, "%%%02X", ch);
    }
}

/* The contents of file `path` (malloc'd, NUL-terminated, *len bytes), or
 * NULL with errno set. At most CTL_MAX_FILE bytes. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text;

    if (!f)
        return NULL;
    text = xmalloc(CTL_MAX_FILE + 1);
    *len = fread(text, 1, CTL_MAX_FILE + 1, f);
    fclose(f);
    if (*len > CTL_MAX_FILE) {
        free(text);
        errno = EFBIG;
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

/* Set body member `o` from the option value `v`. Returns 0 or a usage
 * error status. */
static int set_member(const struct ctl_cmd *cmd, const struct ctl_opt *o, const char *v,
                      json_t *body)
{
    const char *dot = o->field ? strchr(o->field, '.') : NULL;
    char *end;
    long long n;

    /* "outer.inner" sets member inner of object member outer. */
    if (dot && o->kind != CTL_QUERY && o->kind != CTL_OUTPUT) {
        struct ctl_opt inner = *o;
        char *outer = xasprintf("%.*s", (int)(dot - o->field), o->field);
        json_t *obj = json_object_get(body, outer);
        if (!obj)
            json_object_set_new(body, outer, obj = json_object());
        free(outer);
        inner.field = dot + 1;
        return set_member(cmd, &inner, v, obj);
    }

    switch (o->kind) {
    case CTL_STR:
        json_object_set_new(body, o->field, json_string(v));
        return 0;
    case CTL_INT:
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return usage_error(cmd, "'%s' is not an integer", v);
        json_object_set_new(body, o->field, json_integer(n));
        return 0;
    case CTL_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return usage_error(cmd, "'%s' must be true or false", v);
        json_object_set_new(body, o->field, json_boolean(v[0] == 't'));
        return 0;
    case CTL_LIST:
    case CTL_INTLIST: {
        json_t *a = json_array();
        char *copy = xstrdup(v), *save = NULL;
        int rc = 0;
        for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
            if (o->kind == CTL_LIST) {
                json_array_append_new(a, json_string(t));
                continue;
            }
            errno = 0;
            n = strtoll(t, &end, 10);
            if (errno || end == t || *end)
                rc = usage_error(cmd, "'%s' is not an integer", t);
            else
                json_array_append_new(a, json_integer(n));
        }
        free(copy);
        if (rc == 0)
            json_object_set_new(body, o->field, json_incref(a));
        json_decref(a);
        return rc;
    }
    case CTL_SETTINGS: {
        const char *eq = strchr(v, '=');
        json_t *set = json_object_get(body, o->field), *val;
        if (!eq || eq == v)
            return usage_error(cmd, "--set wants NAME=VALUE, got '%s'", v);
        if (!set)
            json_object_set_new(body, o->field, set = json_object());
        /* A value that parses as JSON (3600, true, ["a"]) is sent as such,
         * anything else as a string. */
        val = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        if (!val)
            val = json_string(eq + 1);
        char *name = xasprintf("%.*s", (int)(eq - v), v);
        json_object_set_new(set, name, val);
        free(name);
        return 0;
    }
    case CTL_SECRET: {
        char *s = ctl_secret(v, 0, NULL);
        if (!s)
            return CTL_EXIT_USAGE;
        json_object_set_new(body, o->field, json_string(s));
        ctl_secret_free(s);
        return 0;
    }
    case CTL_FILES:
    case CTL_FILE64: {
        size_t len = 0;
        char *text = read_file(v, &len), *enc;
        json_t *a;
        if (!text)
            return usage_error(cmd, "cannot read '%s': %s", v, strerror(errno));
        if (o->kind == CTL_FILE64) {
            enc = xmalloc(4 * ((len + 2) / 3) + 1);
            EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)text, (int)len);
            json_object_set_new(body, o->field, json_string(enc));
            free(enc);
        } else {
            if (!(a = json_object_get(body, o->field)))
                json_object_set_new(body, o->field, a = json_array());
            json_array_append_new(a, json_stringn(text, len));
        }
        free(text);
        return 0;
    }
    case CTL_QUERY:
    case CTL_OUTPUT:
        break;
    }
    return 0;
}

/* Ask for the required secrets the command line did not give. */
static int ask_secrets(const struct ctl_cmd *cmd, json_t *body)
{
    for (const struct ctl_opt *o = cmd->opts; o->name; o++) {
        if (o->kind != CTL_SECRET || !o->required || json_object_get(body, o->field))
            continue;
        char *prompt = xasprintf("%s (%s %s)", o->field, cmd->group, cmd->verb);
        char *s = ctl_secret(NULL, 0, prompt);
        free(prompt);
        if (!s)
            return CTL_EXIT_USAGE;
        json_object_set_new(body, o->field, json_string(s));
        ctl_secret_free(s);
    }
    return 0;
}

/* Fill the path template from --network and the positional arguments. */
static int expand_path(struct ctl *ctl, const struct ctl_cmd *cmd, char **pos, int npos,
                       struct buf *path)
{
    int used = 0, nparams = 0;
    /* --network always fills :network_id; $PARLEYCTL_NETWORK only when the
     * arguments are one short, so `networks show ID` means that network. */
    for (const char *s = strchr(cmd->path, ':'); s; s = strchr(s + 1, ':'))
        nparams++;
    const char *network = ctl->network;
    if (!network && npos < nparams)
        network = ctl->network_env;
    for (const char *s = cmd->path; *s;) {
        if (*s != ':') {
            buf_append(path, s, 1);
            s++;
            continue;
        }
        size_t n = strcspn(s + 1, "/.");
        const char *v = NULL;
        if (n == strlen("network_id") && strncmp(s + 1, "network_id", n) == 0 && network)
            v = network;
        else if (used < npos)
            v = pos[used++];
        if (!v || !*v) {
            char *name = xasprintf("%.*s", (int)n, s + 1);
            int rc = usage_error(cmd, "missing %s", name);
            free(name);
            return rc;
        }
        append_escaped(path, v);
        s += 1 + n;
    }
    if (used < npos)
        return usage_error(cmd, "unexpected argument '%s'", pos[used]);
    return 0;
}

/* Apply option `name` with value `v`; returns 0 or a usage status. */
static int apply_opt(struct ctl *ctl, const struct ctl_cmd *cmd, const struct ctl_opt *o,
                     const char *v, json_t *body, struct buf *query)
{
    if (o->kind == CTL_OUTPUT) {
        ctl->output = v;
        return 0;
    }
    if (o->kind != CTL_QUERY)
        return set_member(cmd, o, v, body);
    buf_append(query, query->len ? "&" : "?", 1);
    buf_printf(query, "%s=", o->field);
    append_escaped(query, v);
    return 0;
}

/* --data JSON: members of a raw JSON object, for fields without an option. */
static int merge_data(const struct ctl_cmd *cmd, const char *v, json_t *body)
{
    json_t *obj = json_loads(v, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return usage_error(cmd, "--data wants a JSON object, got '%s'", v);
    }
    json_object_update(body, obj);
    json_decref(obj);
    return 0;
}

/* Split argv into options (applied) and positional arguments. */
static int parse_args(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv,
                      json_t *body, struct buf *query, char **pos, int *npos)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            pos[(*npos)++] = argv[i];
            continue;
        }
        char *name = xstrdup(a + 2), *eq = strchr(name, '=');
        const char *v = NULL;
        if (eq) {
            *eq = '\0';
            v = a + 2 + (eq - name) + 1;
        }
        const struct ctl_opt *o = find_opt(cmd, name);
        int rc = 0;
        if (!o && strcmp(name, "json") == 0 && !eq) {
            ctl->json = true;
        } else if (!o && strcmp(name, "network") != 0 && strcmp(name, "data") != 0) {
            rc = usage_error(cmd, "unknown option '%s'", a);
        } else if (!v && i + 1 >= argc) {
            rc = usage_error(cmd, "option '%s' needs a value", a);
        } else {
            if (!v)
                v = argv[++i];
            if (o)
                rc = apply_opt(ctl, cmd, o, v, body, query);
            else if (strcmp(name, "network") == 0)
                ctl->network = v;
            else
                rc = merge_data(cmd, v, body);
        }
        free(name);
        if (rc)
            return rc;
    }
    return 0;
}

/* Write a downloaded file, private to its owner: it may be a sealed
 * configuration or a list of users. */
static int write_output(const char *path, const struct ctl_resp *r)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;

    while (fd >= 0 && off < r->len) {
        ssize_t n = write(fd, r->body + off, r->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (fd < 0 || off < r->len || close(fd) < 0) {
        fprintf(stderr, "parleyctl: cannot write '%s': %s\n", path, strerror(errno));
        return CTL_EXIT_API;
    }
    return CTL_EXIT_OK;
}

/* A required option that is still missing, or NULL. */
static const struct ctl_opt *missing_opt(const struct ctl_cmd *cmd, const json_t *body,
                                         const char *query)
{
    for (const struct ctl_opt *o = cmd->opts; o->name; o++) {
        if (!o->required || o->kind == CTL_SECRET)
            continue;
        if (o->kind == CTL_QUERY ? !strstr(query, o->field) : !json_object_get(body, o->field))
            return o;
    }
    return NULL;
}

int ctl_run(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv)
{
    char **pos = xcalloc((size_t)argc + 1, sizeof(*pos));
    json_t *body = json_object();
    struct buf path, query;
    struct ctl_resp r = {0};
    const struct ctl_opt *o;
    char *text = NULL;
    int npos = 0, rc;

    buf_init(&path, 4096);
    buf_init(&query, 4096);
    rc = parse_args(ctl, cmd, argc, argv, body, &query, pos, &npos);
    if (rc == 0)
        rc = expand_path(ctl, cmd, pos, npos, &path);
    buf_append_byte(&query, 0);
    if (rc == 0 && (o = missing_opt(cmd, body, (const char *)query.data)))
        rc = usage_error(cmd, "missing --%s", o->name);
    if (rc == 0)
        rc = ask_secrets(cmd, body);
    if (rc)
        goto out;
    buf_append_str(&path, (const char *)query.data);
    buf_append_byte(&path, 0);
    if (has_body(cmd) || json_object_size(body))
        text = json_dumps(body, JSON_COMPACT);
    if (ctl_http(ctl, cmd->method, (const char *)path.data, text, &r) < 0) {
        rc = CTL_EXIT_API;
        goto out;
    }
    if (r.status >= 400) {
        rc = ctl_api_error(&r);
        goto out;
    }
    if (ctl->output)
        rc = write_output(ctl->output, &r);
    else
        ctl_print(ctl, &r, cmd->list_key, cmd->columns);
out:
    if (text) {
        /* The body may hold a password. */
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    ctl_resp_release(&r);
    json_decref(body);
    buf_release(&path);
    buf_release(&query);
    free(pos);
    return rc;
}
