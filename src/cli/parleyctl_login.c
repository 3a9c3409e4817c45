/* parleyctl_login.c - the commands that handle passwords and the session:
 * `login` (with the forced password change and TOTP), `logout` and
 * `me password`. */
#include "parleyctl.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/xmalloc.h"

/* Options of these commands: --name VALUE or --name=VALUE. */
struct ctl_args {
    const char *username, *password_file, *new_password_file, *totp;
};

static int parse(const struct ctl_cmd *cmd, struct ctl *ctl, int argc, char **argv,
                 struct ctl_args *a)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"username", offsetof(struct ctl_args, username)},
        {"password-file", offsetof(struct ctl_args, password_file)},
        {"new-password-file", offsetof(struct ctl_args, new_password_file)},
        {"totp", offsetof(struct ctl_args, totp)},
    };
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        size_t k;
        if (strcmp(arg, "--json") == 0) {
            ctl->json = true;
            continue;
        }
        for (k = 0; k < ARRAY_SIZE(opts); k++) {
            size_t n = strlen(opts[k].name);
            if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, opts[k].name, n) != 0)
                continue;
            if (arg[2 + n] == '=')
                v = arg + 3 + n;
            else if (arg[2 + n] == '\0' && i + 1 < argc)
                v = argv[++i];
            else
                continue;
            break;
        }
        if (k == ARRAY_SIZE(opts)) {
            fprintf(stderr,
                    "parleyctl: unexpected argument '%s'\nusage: parleyctl %s%s%s (see "
                    "parleyctl(1))\n",
                    arg, cmd->group, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
            return CTL_EXIT_USAGE;
        }
        *(const char **)((char *)a + opts[k].off) = v;
    }
    return 0;
}

/* The new password: --new-password-file, else line 2 of --password-file,
 * else asked twice. NULL after printing why. */
static char *new_password(const struct ctl_args *a)
{
    char *pw, *again;

    if (a->new_password_file)
        return ctl_secret(a->new_password_file, 0, NULL);
    if (a->password_file)
        return ctl_secret(a->password_file, 1, NULL);
    if (!(pw = ctl_secret(NULL, 0, "new password")))
        return NULL;
    if (!(again = ctl_secret(NULL, 0, "new password again")) || strcmp(pw, again) != 0) {
        fprintf(stderr, "parleyctl: the passwords differ\n");
        ctl_secret_free(pw);
        pw = NULL;
    }
    ctl_secret_free(again);
    return pw;
}

static int change_password(struct ctl *ctl, const char *current, const char *fresh)
{
    json_t *body = json_pack("{s:s,s:s}", "current_password", current, "new_password", fresh);
    char *text = json_dumps(body, JSON_COMPACT);
    struct ctl_resp r;
    int rc = CTL_EXIT_API;

    json_decref(body);
    if (ctl_http(ctl, "POST", "/api/v1/admin/me/password", text, &r) == 0) {
        if (r.status >= 400)
            rc = ctl_api_error(&r);
        else {
            rc = CTL_EXIT_OK;
            if (ctl->json)
                ctl_print(ctl, &r, NULL, NULL);
            else
                printf("password changed\n");
        }
        ctl_resp_release(&r);
    }
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

/* POST /login; fills *r. Asks for a TOTP code if the server wants one. */
static int sign_in(struct ctl *ctl, const struct ctl_args *a, const char *pw, struct ctl_resp *r)
{
    char *code = a->totp ? xstrdup(a->totp) : NULL;
    int rc;

    for (int attempt = 0;; attempt++) {
        json_t *body = json_pack("{s:s,s:s}", "username", a->username, "password", pw);
        if (code)
            json_object_set_new(body, "totp", json_string(code));
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        rc = ctl_http(ctl, "POST", "/api/v1/admin/login", text, r);
        OPENSSL_cleanse(text, strlen(text));
        free(text);
        if (rc < 0 || r->status != 401 || code || attempt > 0 || !strstr(r->body, "totp_required"))
            break;
        ctl_resp_release(r);
        if (!(code = ctl_secret(NULL, 0, "TOTP code"))) {
            rc = PARLEY_EINVAL;
            break;
        }
    }
    ctl_secret_free(code);
    return rc;
}

int ctl_cmd_login(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a = {0};
    struct ctl_resp r = {0};
    json_t *j = NULL;
    char *pw = NULL, *fresh = NULL;
    int rc = parse(cmd, ctl, argc, argv, &a);

    if (rc)
        return rc;
    if (!a.username) {
        fprintf(stderr, "parleyctl: which administrator? give --username\n");
        return CTL_EXIT_USAGE;
    }
    /* A new sign-in replaces the stored session. */
    ctl->cookie = ctl->csrf = NULL;
    ctl->token = NULL;
    if (!(pw = ctl_secret(a.password_file, 0, "password"))) {
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    if (sign_in(ctl, &a, pw, &r) < 0) {
        rc = CTL_EXIT_API;
        goto out;
    }
    if (r.status >= 400) {
        rc = ctl_api_error(&r);
        goto out;
    }
    j = json_loads(r.body, 0, NULL);
    const char *csrf = json_string_value(json_object_get(j, "csrf_token"));
    if (!csrf || !r.cookie) {
        fprintf(stderr, "parleyctl: the server's sign-in reply has no session\n");
        rc = CTL_EXIT_API;
        goto out;
    }
    if (ctl_session_save(ctl, r.cookie, csrf) < 0) {
        rc = CTL_EXIT_API;
        goto out;
    }
    ctl->cookie = r.cookie;
    ctl->csrf = csrf;
    printf("signed in as %s to %s\n", a.username, ctl->server);
    rc = CTL_EXIT_OK;
    if (json_is_true(json_object_get(j, "must_change_password"))) {
        printf("this account must change its password\n");
        if (!(fresh = new_password(&a))) {
            fprintf(stderr, "parleyctl: change it with parleyctl me password\n");
            rc = CTL_EXIT_API;
            goto out;
        }
        rc = change_password(ctl, pw, fresh);
    }
out:
    ctl->cookie = ctl->csrf = NULL;
    json_decref(j);
    ctl_resp_release(&r);
    ctl_secret_free(pw);
    ctl_secret_free(fresh);
    return rc;
}

int ctl_cmd_logout(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a = {0};
    struct ctl_resp r;
    int rc = parse(cmd, ctl, argc, argv, &a);

    if (rc)
        return rc;
    if (!ctl->cookie) {
        fprintf(stderr, "parleyctl: not signed in\n");
        ctl_session_remove(ctl);
        return CTL_EXIT_API;
    }
    rc = ctl_http(ctl, cmd->method, cmd->path, NULL, &r) < 0 ? CTL_EXIT_API : CTL_EXIT_OK;
    /* The local session goes whatever the server said. */
    ctl_session_remove(ctl);
    if (rc == CTL_EXIT_OK) {
        if (r.status >= 400 && r.status != 401)
            rc = ctl_api_error(&r);
        else
            printf("signed out\n");
        ctl_resp_release(&r);
    }
    return rc;
}

int ctl_cmd_password(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a = {0};
    char *cur = NULL, *fresh = NULL;
    int rc = parse(cmd, ctl, argc, argv, &a);

    if (rc)
        return rc;
    if (!(cur = ctl_secret(a.password_file, 0, "current password")) || !(fresh = new_password(&a)))
        rc = CTL_EXIT_USAGE;
    else
        rc = change_password(ctl, cur, fresh);
    ctl_secret_free(cur);
    ctl_secret_free(fresh);
    return rc;
}
