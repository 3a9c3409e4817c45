/* parleyctl_test.c - parleyctl, the administrator's command line, against
 * a real parleyd: the real binary ($PARLEYCTL) signs in with the forced
 * password change, creates a network and users, suspends one, lists them
 * as JSON and as a table, creates an API token and uses it, reads the audit
 * log, and reports bad values and bad command lines with the documented
 * exit statuses. A first case, without a server, holds the command table
 * against parleyd's route table: every admin route must have a command. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "admin_util.h"
#include "cli/parleyctl.h"
#include "server/http.h"
#include "testdb.h"

#define TEST_CONFIG "admin_login_rate = 100000\n"
#define USER_PW     "User-Pass-1234!"

/* ---- the command table covers the route table ---- */

static void test_parleyctl__every_admin_route_has_a_command(void **state)
{
    size_t admin_routes = 0;

    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        bool found = false;
        if (strncmp(r->path, "/api/v1/admin/", 14) != 0)
            continue;
        admin_routes++;
        for (size_t k = 0; k < ctl_commands_count && !found; k++)
            found = strcmp(ctl_commands[k].method, http_method_name(r->method)) == 0 &&
                    strcmp(ctl_commands[k].path, r->path) == 0;
        if (!found)
            fail_msg("no parleyctl command for %s %s", http_method_name(r->method), r->path);
    }
    assert_true(admin_routes > 50);
    /* And no command calls a route that does not exist. */
    for (size_t k = 0; k < ctl_commands_count; k++) {
        bool found = false;
        for (size_t i = 0; i < http_routes_count && !found; i++)
            found = strcmp(ctl_commands[k].method, http_method_name(http_routes[i].method)) == 0 &&
                    strcmp(ctl_commands[k].path, http_routes[i].path) == 0;
        if (!found)
            fail_msg("command %s %s calls no route (%s %s)", ctl_commands[k].group,
                     ctl_commands[k].verb ? ctl_commands[k].verb : "", ctl_commands[k].method,
                     ctl_commands[k].path);
    }
}

/* ---- running the binary ---- */

struct world {
    struct parleyd p;
    char server[64], cacert[300], session[300], pwfile[300], userpw[300];
};

static char *slurp(int fd)
{
    size_t len = 0, cap = 4096;
    char *s = malloc(cap);
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, s + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2)
            s = realloc(s, cap *= 2);
    }
    s[len] = '\0';
    return s;
}

/* $PARLEYCTL_NETWORK of the runs, or NULL. */
static const char *network_env;

/* Run parleyctl with `args` (NULL-terminated) after the connection options
 * of `w` (none if `bare`), capturing its output. `token` is put in
 * $PARLEYCTL_TOKEN when not NULL. Returns the exit status. */
static int run_ctl(const struct world *w, bool bare, const char *token, char **out, char **err,
                   const char *const *args)
{
    char tout[] = "/tmp/parleyctl-out.XXXXXX", terr[] = "/tmp/parleyctl-err.XXXXXX";
    int fo = mkstemp(tout), fe = mkstemp(terr), status;
    const char *argv[48];
    char none[300];
    int n = 0;
    pid_t pid;

    argv[n++] = "parleyctl";
    if (!bare) {
        argv[n++] = "--server";
        argv[n++] = w->server;
        argv[n++] = "--cacert";
        argv[n++] = w->cacert;
    }
    /* Bare runs see no stored session either: it names a trust anchor. */
    snprintf(none, sizeof(none), "%s/no-session", w->p.dir);
    argv[n++] = "--session";
    argv[n++] = bare ? none : w->session;
    for (; *args && n < 47; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        if (token)
            setenv("PARLEYCTL_TOKEN", token, 1);
        else
            unsetenv("PARLEYCTL_TOKEN");
        unsetenv("PARLEYCTL_SERVER");
        if (network_env)
            setenv("PARLEYCTL_NETWORK", network_env, 1);
        else
            unsetenv("PARLEYCTL_NETWORK");
        /* No terminal: every secret must come from a file. */
        setsid();
        execv(getenv("PARLEYCTL"), (char *const *)argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    *out = slurp(fo);
    *err = slurp(fe);
    close(fo);
    close(fe);
    unlink(tout);
    unlink(terr);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CTL(w, out, err, ...)                                                                      \
    run_ctl(w, false, NULL, out, err, (const char *const[]){__VA_ARGS__, NULL})

/* Run and expect exit status `want`; returns stdout parsed as JSON (or
 * NULL), and frees the rest. */
static json_t *ctl_json(const struct world *w, int want, const char *const *args)
{
    char *out, *err;
    int rc = run_ctl(w, false, NULL, &out, &err, args);
    json_t *j;
    if (rc != want)
        fail_msg("parleyctl %s %s: exit %d, want %d\nstdout: %s\nstderr: %s", args[0],
                 args[1] ? args[1] : "", rc, want, out, err);
    j = json_loads(out, 0, NULL);
    free(out);
    free(err);
    return j;
}
#define CTL_JSON(w, want, ...) ctl_json(w, want, (const char *const[]){__VA_ARGS__, NULL})

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_world(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char first[64], *text;

    if (harness_init(&w->p, TEST_CONFIG) < 0 || harness_start(&w->p) < 0) {
        harness_cleanup(&w->p);
        free(w);
        return -1;
    }
    snprintf(w->server, sizeof(w->server), "https://127.0.0.1:%d", w->p.port);
    snprintf(w->cacert, sizeof(w->cacert), "%s/tls/cert.pem", w->p.dir);
    snprintf(w->session, sizeof(w->session), "%s/ctl/parleyctl/session", w->p.dir);
    snprintf(w->pwfile, sizeof(w->pwfile), "%s/ctl-admin.pw", w->p.dir);
    snprintf(w->userpw, sizeof(w->userpw), "%s/ctl-user.pw", w->p.dir);
    /* Line 1: the one-time password; line 2: the new one. */
    adm_first_password(&w->p, first);
    text = adm_fmt("%s\n%s\n", first, ADM_SUPER_PW);
    write_file(w->pwfile, text);
    free(text);
    write_file(w->userpw, USER_PW "\n");
    *state = w;
    return 0;
}

static int teardown_world(void **state)
{
    struct world *w = *state;
    harness_cleanup(&w->p);
    free(w);
    return 0;
}

/* The user of `list` named `name`, or NULL. */
static json_t *find_user(json_t *list, const char *key, const char *name)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(list, key), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "username")), name) == 0)
            return u;
    }
    return NULL;
}

static void test_parleyctl__login_forced_change_and_session_file(void **state)
{
    struct world *w = *state;
    struct stat st;
    char *out, *err;
    json_t *j;

    /* Before sign-in: a clear error and exit 1. */
    assert_int_equal(CTL(w, &out, &err, "me", "show"), 1);
    assert_non_null(strstr(err, "parleyctl login"));
    free(out);
    free(err);

    assert_int_equal(
        CTL(w, &out, &err, "login", "--username", "admin", "--password-file", w->pwfile), 0);
    assert_non_null(strstr(out, "signed in as admin"));
    assert_non_null(strstr(out, "password changed"));
    assert_null(strstr(out, ADM_SUPER_PW));
    free(out);
    free(err);
    assert_int_equal(stat(w->session, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* The session is reused, and the new password holds. */
    j = CTL_JSON(w, 0, "me", "show", "--json");
    assert_string_equal(json_string_value(json_object_get(j, "username")), "admin");
    assert_false(json_is_true(json_object_get(j, "must_change_password")));
    json_decref(j);
    assert_int_equal(adm_login(&w->p, "admin", ADM_SUPER_PW, NULL, NULL, NULL), 200);
    /* That sign-in ended the stored session (one session per admin): sign
     * in again with the new password, from line 2 of a file. */
    char *pw2 = adm_fmt("%s/ctl-admin2.pw", w->p.dir);
    write_file(pw2, ADM_SUPER_PW "\n");
    assert_int_equal(CTL(w, &out, &err, "login", "--username=admin", "--password-file", pw2), 0);
    free(out);
    free(err);
    free(pw2);
}

static void test_parleyctl__networks_users_tokens_audit(void **state)
{
    struct world *w = *state;
    char *out, *err, nid[64], alice[64];
    json_t *j, *u;

    j = CTL_JSON(w, 0, "networks", "create", "--name", "Engineering", "--json");
    assert_non_null(j);
    snprintf(nid, sizeof(nid), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);
    assert_true(strlen(nid) > 0);

    /* Users, with --network and positionally. */
    json_decref(CTL_JSON(w, 0, "users", "create", "--network", nid, "--username", "alice",
                         "--password-file", w->userpw, "--first-name", "Alice"));
    json_decref(CTL_JSON(w, 0, "--network", nid, "users", "create", "--username", "bob",
                         "--password-file", w->userpw));
    j = CTL_JSON(w, 0, "users", "list", nid, "--json");
    assert_int_equal(json_array_size(json_object_get(j, "users")), 2);
    u = find_user(j, "users", "alice");
    assert_non_null(u);
    snprintf(alice, sizeof(alice), "%s", json_string_value(json_object_get(u, "user_id")));
    json_decref(j);

    assert_int_equal(CTL(w, &out, &err, "users", "suspend", "--network", nid, alice), 0);
    free(out);
    free(err);
    j = CTL_JSON(w, 0, "users", "list", "--network", nid, "--json");
    assert_string_equal(
        json_string_value(json_object_get(find_user(j, "users", "alice"), "status")), "suspended");
    assert_string_equal(json_string_value(json_object_get(find_user(j, "users", "bob"), "status")),
                        "pending");
    json_decref(j);

    /* A network created with its compliance bot: the bot is there before
     * any user, a pending bot; a name not ending in "bot" is refused. */
    j = CTL_JSON(w, 0, "networks", "create", "--name", "Retained", "--compliance-bot", "archivebot",
                 "--compliance-bot-password-file", w->userpw, "--json");
    char rid[64];
    snprintf(rid, sizeof(rid), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);
    j = CTL_JSON(w, 0, "bots", "list", rid, "--json");
    assert_int_equal(json_array_size(json_object_get(j, "bots")), 1);
    assert_string_equal(
        json_string_value(json_object_get(find_user(j, "bots", "archivebot"), "status")),
        "pending");
    json_decref(j);
    json_decref(CTL_JSON(w, 1, "networks", "create", "--name", "Bad", "--compliance-bot", "archive",
                         "--compliance-bot-password-file", w->userpw));

    /* $PARLEYCTL_NETWORK fills a missing NETWORK_ID, and only then. */
    network_env = nid;
    j = CTL_JSON(w, 0, "users", "list", "--json");
    assert_int_equal(json_array_size(json_object_get(j, "users")), 2);
    json_decref(j);
    json_decref(CTL_JSON(w, 1, "networks", "show", "nosuchnetwork"));
    network_env = NULL;

    /* The table has a header row and one row a user. */
    assert_int_equal(CTL(w, &out, &err, "users", "list", "--network", nid), 0);
    assert_true(strncmp(out, "user_id", 7) == 0);
    assert_non_null(strstr(out, "alice"));
    assert_non_null(strstr(out, "suspended"));
    free(out);
    free(err);
    assert_int_equal(CTL(w, &out, &err, "users", "export-csv", "--network", nid), 0);
    assert_non_null(strstr(out, "alice"));
    free(out);
    free(err);

    /* Security groups with settings as NAME=VALUE. */
    json_decref(CTL_JSON(w, 0, "security-groups", "create", "--network", nid, "--name", "Ops",
                         "--set", "max_expiration=3600"));
    j = CTL_JSON(w, 0, "security-groups", "list", "--network", nid, "--json");
    assert_int_equal(json_array_size(json_object_get(j, "security_groups")), 2);
    json_decref(j);

    /* A client configuration file, downloaded to a private file. */
    j = CTL_JSON(w, 0, "client-configs", "create", "--network", nid, "--name", "laptops",
                 "--password-file", w->userpw, "--expires-in-days", "7", "--json");
    char cid[32], *cfile = adm_fmt("%s/laptops.parley", w->p.dir);
    snprintf(cid, sizeof(cid), "%lld", (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(
        CTL(w, &out, &err, "client-configs", "download", "--network", nid, cid, "--output", cfile),
        0);
    free(out);
    free(err);
    struct stat cst;
    assert_int_equal(stat(cfile, &cst), 0);
    assert_true(cst.st_size > 0);
    assert_int_equal(cst.st_mode & 0777, 0600);
    free(cfile);
    json_decref(CTL_JSON(w, 0, "client-configs", "expire", "--network", nid, cid));
    assert_int_equal(
        CTL(w, &out, &err, "client-configs", "list", "--network", nid, "--status", "expired"), 0);
    assert_non_null(strstr(out, "laptops"));
    free(out);
    free(err);

    /* SSO: nested members from their own options, the secret from a file
     * and never shown; while it is on, user creation is refused. */
    {
        char *secret = adm_fmt("%s/sso.secret", w->p.dir);
        write_file(secret, "ctl-sso-secret-99\n");
        j = CTL_JSON(w, 0, "network-sso", "update", "--network", nid, "--enabled", "true",
                     "--company-id", "eng", "--issuer-url", "https://93.184.216.34/realms/eng",
                     "--client-id", "parley", "--client-secret-file", secret, "--group-sync",
                     "true", "--group-sync-ou", "OU=Eng", "--token-grace-period-minutes", "60",
                     "--json");
        assert_true(json_is_true(json_object_get(j, "client_secret_set")));
        json_decref(j);
        j = CTL_JSON(w, 0, "network-sso", "show", "--network", nid, "--json");
        assert_true(json_is_true(json_object_get(j, "enabled")));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(j, "security_group_sync"), "ou")),
            "OU=Eng");
        assert_int_equal(json_integer_value(json_object_get(j, "token_grace_period_minutes")), 60);
        json_decref(j);
        assert_int_equal(CTL(w, &out, &err, "network-sso", "show", "--network", nid), 0);
        assert_null(strstr(out, "ctl-sso-secret"));
        free(out);
        free(err);
        assert_int_equal(CTL(w, &out, &err, "users", "create", "--network", nid, "--username",
                             "carol", "--password-file", w->userpw),
                         1);
        assert_non_null(strstr(err, "SSO"));
        free(out);
        free(err);
        json_decref(
            CTL_JSON(w, 0, "network-sso", "update", "--network", nid, "--enabled", "false"));
        /* A private issuer is refused while allow_private_ips is off. */
        assert_int_equal(CTL(w, &out, &err, "sso", "update", "--issuer-url", "https://10.0.0.5/"),
                         1);
        assert_non_null(strstr(err, "allow_private_ips"));
        free(out);
        free(err);
        j = CTL_JSON(w, 0, "sso", "show", "--json");
        assert_false(json_is_true(json_object_get(j, "enabled")));
        json_decref(j);
        free(secret);
    }

    /* An API token, shown once, then used with no session at all. */
    j = CTL_JSON(w, 0, "tokens", "create", "--label", "ci", "--scope", "deployment", "--json");
    char token[128];
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    assert_true(strncmp(token, "pat_", 4) == 0);
    {
        struct world nosession = *w;
        snprintf(nosession.session, sizeof(nosession.session), "%s/none", w->p.dir);
        assert_int_equal(run_ctl(&nosession, false, token, &out, &err,
                                 (const char *const[]){"networks", "list", "--json", NULL}),
                         0);
        assert_non_null(strstr(out, "Engineering"));
        free(out);
        free(err);
        assert_int_equal(run_ctl(&nosession, false, NULL, &out, &err,
                                 (const char *const[]){"--token", token, "users", "unsuspend",
                                                       "--network", nid, alice, NULL}),
                         0);
        free(out);
        free(err);
    }

    /* The audit log shows what was done, filtered by action. */
    j = CTL_JSON(w, 0, "audit", "--json");
    char *dump = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(dump, "\"network.create\""));
    assert_non_null(strstr(dump, "\"user.create\""));
    assert_non_null(strstr(dump, "\"user.suspend\""));
    assert_non_null(strstr(dump, "\"user.unsuspend\""));
    assert_non_null(strstr(dump, "\"token.create\""));
    free(dump);
    json_decref(j);
    j = CTL_JSON(w, 0, "audit", "--action", "user.suspend", "--json");
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);
    assert_int_equal(CTL(w, &out, &err, "audit", "--action", "user.suspend"), 0);
    assert_non_null(strstr(out, "user.suspend"));
    free(out);
    free(err);

    /* Bulk suspension from a CSV file. */
    char *csv = adm_fmt("%s/offboard.csv", w->p.dir);
    write_file(csv, "username\nbob\n");
    j = CTL_JSON(w, 0, "users", "bulk-suspend", "--network", nid, "--csv", csv, "--json");
    assert_int_equal(json_integer_value(json_object_get(j, "succeeded")), 1);
    json_decref(j);
    j = CTL_JSON(w, 0, "users", "list", "--network", nid, "--status", "suspended", "--json");
    assert_non_null(find_user(j, "users", "bob"));
    assert_null(find_user(j, "users", "alice"));
    json_decref(j);
    assert_int_equal(CTL(w, &out, &err, "users", "bulk-delete", "--network", nid, "--csv", csv), 2);
    assert_non_null(strstr(err, "--acknowledge-deletion"));
    free(out);
    free(err);
    free(csv);

    /* Deployment pages. */
    json_decref(CTL_JSON(w, 0, "deployment", "update-appearance", "--login-text", "Welcome"));
    j = CTL_JSON(w, 0, "deployment", "appearance", "--json");
    assert_string_equal(json_string_value(json_object_get(j, "login_text")), "Welcome");
    json_decref(j);
    j = CTL_JSON(w, 0, "deployment", "settings", "--json");
    assert_true(json_is_object(j));
    json_decref(j);
    json_decref(CTL_JSON(w, 1, "deployment", "update-settings", "--set", "no_such_setting=1"));
    char *report = adm_fmt("%s/crash.json", w->p.dir);
    json_decref(CTL_JSON(w, 0, "deployment", "crash-report", "--output", report));
    assert_int_equal(access(report, R_OK), 0);
    free(report);

    /* Network pages: options, tags, default rooms, guests. */
    json_decref(CTL_JSON(w, 0, "network-options", "show", nid));
    json_decref(CTL_JSON(w, 0, "security-tags", "create", nid, "--name", "red", "--color",
                         "#ff0000", "--security-groups", "1"));
    json_decref(CTL_JSON(w, 2, "security-tags", "create", nid, "--name", "red", "--color",
                         "#ff0000", "--security-groups", "1,x"));
    assert_int_equal(CTL(w, &out, &err, "security-tags", "list", nid), 0);
    assert_non_null(strstr(out, "#ff0000"));
    free(out);
    free(err);
    assert_int_equal(CTL(w, &out, &err, "default-rooms", "create", nid, "--name", "lobby",
                         "--all-users", "true"),
                     1);
    assert_non_null(strstr(err, "room_bot_enabled"));
    free(out);
    free(err);
    json_decref(CTL_JSON(w, 0, "deployment", "update-settings", "--set", "room_bot_enabled=true"));
    json_decref(
        CTL_JSON(w, 0, "default-rooms", "create", nid, "--name", "lobby", "--all-users", "true"));
    j = CTL_JSON(w, 0, "default-rooms", "list", nid, "--json");
    assert_int_equal(json_array_size(json_object_get(j, "default_rooms")), 1);
    json_decref(j);
    json_decref(CTL_JSON(w, 0, "guests", "block", nid, "--username", "mallory@elsewhere.example"));
    assert_int_equal(CTL(w, &out, &err, "guests", "list", nid), 0);
    assert_non_null(strstr(out, "mallory@elsewhere.example"));
    free(out);
    free(err);
    json_decref(CTL_JSON(w, 0, "guests", "unblock", nid, "mallory@elsewhere.example"));

    /* Analytics, as JSON and as CSV. */
    j = CTL_JSON(w, 0, "analytics", "overview", nid, "--interval", "week", "--json");
    assert_true(json_is_object(j));
    json_decref(j);
    assert_int_equal(CTL(w, &out, &err, "analytics", "members", nid, "--format", "csv"), 0);
    assert_true(strlen(out) > 0);
    free(out);
    free(err);
    json_decref(CTL_JSON(w, 1, "analytics", "messages", nid, "--interval", "year"));

    /* Bad values: the server's message, exit 1. */
    assert_int_equal(CTL(w, &out, &err, "users", "create", "--network", nid, "--username",
                         "bad name!", "--password-file", w->userpw),
                     1);
    assert_non_null(strstr(err, "username"));
    assert_non_null(strstr(err, "HTTP 400"));
    free(out);
    free(err);
    assert_int_equal(CTL(w, &out, &err, "users", "list", "--network", nid, "--limit", "0"), 1);
    assert_non_null(strstr(err, "limit"));
    free(out);
    free(err);
    assert_int_equal(CTL(w, &out, &err, "security-groups", "update", "--network", nid, "1", "--set",
                         "max_expiration=5"),
                     1);
    assert_non_null(strstr(err, "max_expiration"));
    free(out);
    free(err);
    assert_int_equal(CTL(w, &out, &err, "users", "show", "--network", "nosuchnetwork", alice), 1);
    assert_non_null(strstr(err, "HTTP 404"));
    free(out);
    free(err);

    /* Bad command lines: exit 2, nothing sent. */
    static const char *const bad[][6] = {
        {"users", "frobnicate", NULL},
        {"frobnicate", NULL},
        {"users", "show", "--network", "x", NULL},
        {"users", "list", "--network", "x", "extra", NULL},
        {"users", "create", "--network", "x", "--no-such-option", NULL},
        {"users", "update", "--network", "x", "u", "--security-group"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[8] = {0};
        for (size_t k = 0; k < 6 && bad[i][k]; k++)
            args[k] = bad[i][k];
        assert_int_equal(run_ctl(w, false, NULL, &out, &err, args), 2);
        assert_true(strlen(err) > 0);
        free(out);
        free(err);
    }
    assert_int_equal(
        CTL(w, &out, &err, "users", "update", "--network", nid, alice, "--restricted", "maybe"), 2);
    free(out);
    free(err);

    /* Logout ends the session on the server and here. */
    assert_int_equal(CTL(w, &out, &err, "logout"), 0);
    free(out);
    free(err);
    assert_int_equal(access(w->session, F_OK), -1);
    assert_int_equal(CTL(w, &out, &err, "networks", "list"), 1);
    free(out);
    free(err);
}

static void test_parleyctl__totp_enrolment_and_sign_in(void **state)
{
    struct world *w = *state;
    char *pw = adm_fmt("%s/ctl-admin2.pw", w->p.dir), *out, *err, code[7], secret[128];
    json_t *j;

    assert_int_equal(CTL(w, &out, &err, "login", "--username", "admin", "--password-file", pw), 0);
    free(out);
    free(err);
    j = CTL_JSON(w, 0, "me", "totp-begin", "--json");
    snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(j, "secret")));
    json_decref(j);
    assert_true(strlen(secret) >= 16);
    /* A wrong code is refused with the server's message. */
    assert_int_equal(CTL(w, &out, &err, "me", "totp-confirm", "--code", "000000x"), 1);
    assert_non_null(strstr(err, "code"));
    free(out);
    free(err);
    adm_totp(secret, time(NULL), code);
    json_decref(CTL_JSON(w, 0, "me", "totp-confirm", "--code", code));
    assert_int_equal(CTL(w, &out, &err, "logout"), 0);
    free(out);
    free(err);

    /* Without a code and without a terminal to ask for one: exit 1. */
    assert_int_equal(CTL(w, &out, &err, "login", "--username", "admin", "--password-file", pw), 1);
    assert_non_null(strstr(err, "TOTP"));
    free(out);
    free(err);
    /* The next step's code (the last one cannot be replayed). */
    adm_totp(secret, time(NULL) + 30, code);
    assert_int_equal(
        CTL(w, &out, &err, "login", "--username", "admin", "--password-file", pw, "--totp", code),
        0);
    free(out);
    free(err);
    j = CTL_JSON(w, 0, "me", "show", "--json");
    assert_true(json_is_true(json_object_get(j, "totp_enabled")));
    json_decref(j);
    free(pw);
}

/* ---- the server certificate is always verified ---- */

static void cert_sha256(const char *path, char out[96])
{
    unsigned char md[32];
    unsigned int len = 0;
    FILE *f = fopen(path, "r");
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    X509_digest(x, EVP_sha256(), md, &len);
    X509_free(x);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 3 * i, 4, "%02X%s", md[i], i < 31 ? ":" : "");
}

static void test_parleyctl__certificate_checked(void **state)
{
    struct world *w = *state;
    const char *const probe[] = {"--server", w->server,    NULL,     NULL,
                                 "login",    "--username", "nobody", "--password-file",
                                 w->userpw,  NULL};
    char fp[96], *out, *err;
    const char *args[12];

    memcpy(args, probe, sizeof(probe));
    /* No trust anchor for the self-signed certificate: refused. */
    args[2] = "login";
    args[3] = "--username";
    args[4] = "nobody";
    args[5] = "--password-file";
    args[6] = w->userpw;
    args[7] = NULL;
    assert_int_equal(run_ctl(w, true, NULL, &out, &err, args), 1);
    if (!strstr(err, "not trusted"))
        fail_msg("stderr: %s", err);
    free(out);
    free(err);

    /* The right pin reaches the server (which refuses the account). */
    cert_sha256(w->cacert, fp);
    memcpy(args, probe, sizeof(probe));
    args[2] = "--fingerprint";
    args[3] = fp;
    assert_int_equal(run_ctl(w, true, NULL, &out, &err, args), 1);
    assert_non_null(strstr(err, "HTTP 401"));
    free(out);
    free(err);

    /* A wrong pin does not. */
    fp[0] = fp[0] == 'A' ? 'B' : 'A';
    assert_int_equal(run_ctl(w, true, NULL, &out, &err, args), 1);
    assert_null(strstr(err, "HTTP 401"));
    assert_non_null(strstr(err, "cannot reach"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parleyctl__every_admin_route_has_a_command),
        cmocka_unit_test(test_parleyctl__login_forced_change_and_session_file),
        cmocka_unit_test(test_parleyctl__networks_users_tokens_audit),
        cmocka_unit_test(test_parleyctl__totp_enrolment_and_sign_in),
        cmocka_unit_test(test_parleyctl__certificate_checked),
    };

    if (!testdb_backend_available())
        return testdb_skip("PARLEY_TEST_PG is not set");
    return cmocka_run_group_tests_name("parleyctl", tests, setup_world, teardown_world);
}
