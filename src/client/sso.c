/* sso.c - single sign-on through the network's identity provider
 * (parley.h, "Single sign-on"; docs/protocol.md).
 *
 * The client makes its own PKCE pair: the server learns only the S256
 * challenge at /sso/start, and the one-time sign-in code it later hands
 * the browser is worth nothing without the verifier, which stays here.
 * With PARLEY_SSO_LOOPBACK a listener on 127.0.0.1 (an ephemeral port)
 * takes the browser's redirect (RFC 8252 §7.3); it reads one small request
 * line and answers a fixed page. */
#include "client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/str.h"

#define SSO_REQ_MAX 8192

struct parley_sso {
    struct parley_client *c; /* configuration and HTTPS only: no account */
    const struct parley_config *cfg;
    char verifier[64];
    char *url;
    char redirect[64];
    int fd; /* the loopback listener, or -1 */
    char code[256];
    char error[512];
};

static void b64url(const uint8_t *p, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = 0;
}

/* The server's error message, if the answer has one. */
static void keep_error(struct parley_sso *s, json_t *resp, const char *fallback)
{
    const char *m = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
    snprintf(s->error, sizeof(s->error), "%s", m ? m : fallback);
}

static int listen_loopback(struct parley_sso *s)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return PARLEY_EIO;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return PARLEY_EIO;
    }
    s->fd = fd;
    snprintf(s->redirect, sizeof(s->redirect), "http://127.0.0.1:%u/callback",
             (unsigned)ntohs(a.sin_port));
    return 0;
}

int parley_sso_begin(const char *data_dir, const struct parley_config *cfg, const char *company_id,
                     const char *login_hint, int flags, struct parley_sso **out)
{
    struct parley_sso *s;
    uint8_t r[32], h[32];
    char challenge[64];
    json_t *body = NULL, *resp = NULL;
    const char *url;
    long status;
    int rc;

    if (!out)
        return PARLEY_EINVAL;
    *out = NULL;
    if (!data_dir || !cfg || !company_id || !*company_id)
        return PARLEY_EINVAL;
    if (!(s = calloc(1, sizeof(*s))))
        return PARLEY_ENOMEM;
    s->fd = -1;
    s->cfg = cfg;
    *out = s;
    if ((rc = client_make_data_dir(data_dir)) < 0 || (rc = client_alloc(&s->c)) < 0 ||
        (rc = client_set_config(s->c, data_dir, cfg)) < 0)
        return rc;
    /* RFC 7636 §4.1: 32 random bytes, base64url: 43 characters. */
    if (RAND_bytes(r, sizeof(r)) != 1)
        return PARLEY_ECRYPTO;
    b64url(r, sizeof(r), s->verifier);
    OPENSSL_cleanse(r, sizeof(r));
    SHA256((const unsigned char *)s->verifier, strlen(s->verifier), h);
    b64url(h, sizeof(h), challenge);
    if ((flags & PARLEY_SSO_LOOPBACK) && (rc = listen_loopback(s)) < 0)
        return rc;
    body = json_pack("{ssss}", "company_id", company_id, "code_challenge", challenge);
    if (!body)
        return PARLEY_ENOMEM;
    if (s->redirect[0])
        json_object_set_new(body, "redirect_uri", json_string(s->redirect));
    if (login_hint && *login_hint)
        json_object_set_new(body, "login_hint", json_string(login_hint));
    rc = api_request(&s->c->api, "POST", "/api/v1/client/sso/start", NULL, body, &status, &resp);
    json_decref(body);
    if (rc < 0) {
        snprintf(s->error, sizeof(s->error), "cannot reach the server");
        return rc;
    }
    if ((rc = api_status_error(status, resp)) < 0) {
        keep_error(s, resp, "the server refused to start the sign-in");
        /* 502: the server could not use the identity provider. */
        if (status == 502)
            rc = PARLEY_EIO;
        json_decref(resp);
        return rc;
    }
    url = json_string_value(json_object_get(resp, "authorization_url"));
    if (!url || strncmp(url, "https://", 8) != 0 ||
        !json_is_string(json_object_get(resp, "network_id")) ||
        strcmp(json_string_value(json_object_get(resp, "network_id")), cfg->network_id) != 0) {
        snprintf(s->error, sizeof(s->error),
                 "the server answered an authorization URL for another network");
        json_decref(resp);
        return PARLEY_EPROTO;
    }
    s->url = strdup(url);
    json_decref(resp);
    return s->url ? 0 : PARLEY_ENOMEM;
}

const char *parley_sso_url(const struct parley_sso *s)
{
    return s && s->url ? s->url : "";
}

const char *parley_sso_redirect_uri(const struct parley_sso *s)
{
    return s ? s->redirect : "";
}

const char *parley_sso_error(const struct parley_sso *s)
{
    return s ? s->error : "";
}

/* The value of `name` in the query `q` (up to a space or the end),
 * percent-decoded into out. Returns false when absent or too long. */
static bool query_arg(const char *q, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name), o = 0;
    const char *p = q;

    while (p && *p && *p != ' ') {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            for (p += nl + 1; *p && *p != '&' && *p != ' '; p++) {
                char ch = *p;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
                    ch = (char)(hex_value(p[1]) << 4 | hex_value(p[2]));
                    p += 2;
                }
                if (o + 1 >= n)
                    return false;
                out[o++] = (ch >= 0x20 && ch != 0x7f) ? ch : '?';
            }
            out[o] = 0;
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

static void answer(int fd, const char *status, const char *text)
{
    char b[1024];
    int n = snprintf(b, sizeof(b),
                     "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: "
                     "no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     status, strlen(text), text);
    if (n > 0)
        (void)!write(fd, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

/* One connection: 1 = the callback came (code or error), 0 = something
 * else (ignored), <0 = error. */
static int serve_one(struct parley_sso *s, int fd, int timeout_ms)
{
    char req[SSO_REQ_MAX + 1];
    size_t got = 0;
    const char *q;

    while (got < SSO_REQ_MAX && !memmem(req, got, "\r\n", 2)) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;
        if (poll(&p, 1, timeout_ms) <= 0)
            return 0;
        n = read(fd, req + got, SSO_REQ_MAX - got);
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    req[got] = 0;
    if (strncmp(req, "GET /callback?", 14) != 0) {
        answer(fd, "404 Not Found", "not found");
        return 0;
    }
    q = req + 14;
    if (query_arg(q, "code", s->code, sizeof(s->code)) && s->code[0]) {
        answer(fd, "200 OK",
               "<!doctype html><title>Parley</title><p>Signed in. You can close this window "
               "and return to Parley.</p>");
        OPENSSL_cleanse(req, sizeof(req));
        return 1;
    }
    char err[64] = "", desc[400] = "";
    if (!query_arg(q, "error", err, sizeof(err)))
        snprintf(err, sizeof(err), "invalid_request");
    query_arg(q, "error_description", desc, sizeof(desc));
    snprintf(s->error, sizeof(s->error), "%s%s%s", err, desc[0] ? ": " : "", desc);
    answer(fd, "200 OK",
           "<!doctype html><title>Parley</title><p>The sign-in was refused. Return to Parley "
           "for the reason.</p>");
    return 1;
}

int parley_sso_wait(struct parley_sso *s, int timeout_ms)
{
    struct timespec t0, t;

    if (!s || s->fd < 0)
        return PARLEY_EINVAL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {s->fd, POLLIN, 0};
        long left;
        int fd, rc;

        clock_gettime(CLOCK_MONOTONIC, &t);
        left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left <= 0)
            return PARLEY_EBUSY;
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        rc = serve_one(s, fd, 5000);
        close(fd);
        if (rc == 1)
            return s->code[0] ? 0 : PARLEY_EAUTH;
    }
}

int parley_sso_set_code(struct parley_sso *s, const char *code)
{
    size_t n;

    if (!s || !code)
        return PARLEY_EINVAL;
    while (*code == ' ' || *code == '\t')
        code++;
    n = strcspn(code, " \t\r\n");
    if (n == 0 || n >= sizeof(s->code))
        return PARLEY_EINVAL;
    memcpy(s->code, code, n);
    s->code[n] = 0;
    return 0;
}

int parley_sso_finish(struct parley_sso *s, const char *data_dir, const char *passphrase,
                      const struct parley_device_info *dev, struct parley_client **out)
{
    struct api_login login = {0};
    json_t *body, *resp = NULL;
    char username[256];
    const char *u;
    long status;
    int rc;

    if (!out)
        return PARLEY_EINVAL;
    *out = NULL;
    if (!s || !s->c || !data_dir || !passphrase || !s->code[0])
        return PARLEY_EINVAL;
    body = json_pack("{ssss}", "code", s->code, "code_verifier", s->verifier);
    if (!body)
        return PARLEY_ENOMEM;
    rc = api_request(&s->c->api, "POST", "/api/v1/client/sso/finish", NULL, body, &status, &resp);
    json_decref(body);
    OPENSSL_cleanse(s->code, sizeof(s->code));
    s->code[0] = 0;
    if (rc < 0) {
        snprintf(s->error, sizeof(s->error), "cannot reach the server");
        return rc;
    }
    if ((rc = api_status_error(status, resp)) < 0) {
        keep_error(s, resp, "the server refused the sign-in code");
        json_decref(resp);
        return rc;
    }
    u = json_string_value(json_object_get(resp, "username"));
    if (!u || !*u || strlen(u) >= sizeof(username) || (rc = api_login_parse(resp, &login)) < 0) {
        json_decref(resp);
        snprintf(s->error, sizeof(s->error), "the server's answer is malformed");
        return rc < 0 ? rc : PARLEY_EPROTO;
    }
    strlcpy_p(username, u, sizeof(username));
    json_decref(resp);
    rc = client_sso_account(data_dir, s->cfg, username, &login, passphrase, dev, out);
    if (rc == PARLEY_EAUTH)
        snprintf(s->error, sizeof(s->error), "the passphrase does not open this account's keys");
    /* The login token has done its work (the device has its own). */
    resp = NULL;
    if (api_request(&s->c->api, "POST", "/api/v1/client/logout", login.token, NULL, &status,
                    &resp) == 0)
        json_decref(resp);
    api_login_release(&login);
    return rc;
}

void parley_sso_free(struct parley_sso *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    parley_client_free(s->c);
    free(s->url);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}
