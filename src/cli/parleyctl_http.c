/* parleyctl_http.c - parleyctl's side of the wire: the session file, one
 * HTTPS request with libcurl (the server certificate always verified, by
 * trust anchors or by a pinned fingerprint), error replies, human output
 * and secrets read without echo. */
#include "common/secret.h"
#include "parleyctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/xmalloc.h"

#define CTL_MAX_REPLY (64u << 20)

/* ---- session file ---- */

/* The session file holds "key value" lines: server, cacert, fingerprint,
 * cookie, csrf. It is read whole into ctl->session_buf, which then owns
 * every value. */
int ctl_session_load(struct ctl *ctl)
{
    FILE *f = ctl->session_path ? fopen(ctl->session_path, "r") : NULL;
    const char *val[5] = {NULL};
    static const char *const keys[] = {"server", "cacert", "fingerprint", "cookie", "csrf"};
    size_t len;

    if (!f)
        return 0;
    ctl->session_buf = xcalloc(1, CTL_SESSION_MAX);
    len = fread(ctl->session_buf, 1, CTL_SESSION_MAX - 1, f);
    fclose(f);
    ctl->session_buf[len] = '\0';
    for (char *line = ctl->session_buf, *nl; line && *line; line = nl) {
        char *sp = strchr(line, ' ');
        if ((nl = strchr(line, '\n')))
            *nl++ = '\0';
        if (!sp || (nl && sp > nl))
            continue;
        *sp = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (strcmp(line, keys[i]) == 0)
                val[i] = sp + 1;
    }
    if (!ctl->server)
        ctl->server = val[0];
    /* The trust settings and the session belong to the stored server. */
    if (ctl->server && val[0] && strcmp(ctl->server, val[0]) == 0) {
        if (!ctl->cacert && !ctl->fingerprint) {
            ctl->cacert = val[1];
            ctl->fingerprint = val[2];
        }
        ctl->cookie = val[3];
        ctl->csrf = val[4];
    }
    return 0;
}

/* mkdir -p of the directory part of `path`, mode 0700. */
static void make_parent(const char *path)
{
    char *d = xstrdup(path);
    for (char *s = strchr(d + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(d, 0700) < 0 && errno != EEXIST)
            break;
        *s = '/';
    }
    free(d);
}

int ctl_session_save(const struct ctl *ctl, const char *cookie, const char *csrf)
{
    char *tmp = xasprintf("%s.tmp", ctl->session_path);
    int fd, rc = 0;
    FILE *f;

    make_parent(ctl->session_path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        fprintf(stderr, "parleyctl: cannot write session file '%s': %s\n", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        rc = PARLEY_EIO;
        goto out;
    }
    fprintf(f, "server %s\n", ctl->server);
    if (ctl->cacert) {
        /* Absolute, so later commands find it from any directory. */
        char *abs = realpath(ctl->cacert, NULL);
        fprintf(f, "cacert %s\n", abs ? abs : ctl->cacert);
        free(abs);
    }
    if (ctl->fingerprint)
        fprintf(f, "fingerprint %s\n", ctl->fingerprint);
    fprintf(f, "cookie %s\ncsrf %s\n", cookie, csrf);
    if (fclose(f) != 0 || rename(tmp, ctl->session_path) < 0) {
        fprintf(stderr, "parleyctl: cannot write session file '%s': %s\n", ctl->session_path,
                strerror(errno));
        unlink(tmp);
        rc = PARLEY_EIO;
    }
out:
    free(tmp);
    return rc;
}

void ctl_session_remove(const struct ctl *ctl)
{
    if (ctl->session_path)
        unlink(ctl->session_path);
}

/* ---- one request ---- */

struct sink {
    char *data;
    size_t len;
    bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t add = size * n;
    if (s->len + add > CTL_MAX_REPLY) {
        s->too_big = true;
        return 0;
    }
    s->data = xrealloc(s->data, s->len + add + 1);
    memcpy(s->data + s->len, ptr, add);
    s->len += add;
    s->data[s->len] = '\0';
    return add;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    char **cookie = ud;
    size_t len = size * n;
    static const char name[] = "set-cookie: parley_admin=";
    if (len > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        const char *v = ptr + sizeof(name) - 1;
        size_t vlen = 0;
        while (v + vlen < ptr + len && !strchr(";\r\n", v[vlen]))
            vlen++;
        free(*cookie);
        *cookie = xasprintf("%.*s", (int)vlen, v);
    }
    return len;
}

/* "AB:CD:..." or "abcd..." (64 hex digits) into 32 bytes. */
static int parse_fingerprint(const char *s, unsigned char out[32])
{
    size_t n = 0;
    for (; *s && n < 64; s++) {
        int v;
        if (*s == ':')
            continue;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
            v = (*s | 0x20) - 'a' + 10;
        else
            return PARLEY_EINVAL;
        if (n % 2 == 0)
            out[n / 2] = (unsigned char)(v << 4);
        else
            out[n / 2] |= (unsigned char)v;
        n++;
    }
    return n == 64 && !*s ? 0 : PARLEY_EINVAL;
}

static int pin_index = -1;

/* OpenSSL verify callback under --fingerprint: the chain is accepted if,
 * and only if, the server's own certificate has the pinned SHA-256. */
static int on_verify(int preverify, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    const unsigned char *want = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pin_index);
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!want || !leaf || !X509_digest(leaf, EVP_sha256(), md, &mdlen) || mdlen != 32 ||
        CRYPTO_memcmp(md, want, 32) != 0) {
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    X509_STORE_CTX_set_error(x, X509_V_OK);
    return 1;
}

static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *pin)
{
    SSL_CTX *ctx = sslctx;
    if (pin_index < 0)
        pin_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX_set_ex_data(ctx, pin_index, pin);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
    return CURLE_OK;
}

static struct curl_slist *request_headers(const struct ctl *ctl, const char *method, bool has_body)
{
    struct curl_slist *h = NULL;
    char *line;
    bool is_write = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;

    if (has_body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (ctl->token) {
        line = xasprintf("Authorization: Bearer %s", ctl->token);
        h = curl_slist_append(h, line);
    } else if (ctl->cookie) {
        line = xasprintf("Cookie: parley_admin=%s", ctl->cookie);
        h = curl_slist_append(h, line);
        OPENSSL_cleanse(line, strlen(line));
        free(line);
        if (!is_write || !ctl->csrf)
            return h;
        line = xasprintf("X-CSRF-Token: %s", ctl->csrf);
        h = curl_slist_append(h, line);
    } else {
        return h;
    }
    OPENSSL_cleanse(line, strlen(line));
    free(line);
    return h;
}

int ctl_http(const struct ctl *ctl, const char *method, const char *path, const char *body,
             struct ctl_resp *r)
{
    struct sink s = {xstrdup(""), 0, false};
    unsigned char pin[32];
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", *url = NULL;
    CURL *c = NULL;
    CURLcode cc;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    if (!ctl->server) {
        fprintf(stderr, "parleyctl: which server? give --server URL, set $PARLEYCTL_SERVER, or "
                        "sign in with parleyctl login\n");
        rc = PARLEY_EINVAL;
        goto out;
    }
    if (ctl->fingerprint && parse_fingerprint(ctl->fingerprint, pin) < 0) {
        fprintf(stderr,
                "parleyctl: bad --fingerprint '%s': want the 64 hex digits of the "
                "certificate's SHA-256, as parleyd logs it\n",
                ctl->fingerprint);
        rc = PARLEY_EINVAL;
        goto out;
    }
    url = xasprintf("%s%s", ctl->server, path);
    if (!(c = curl_easy_init()))
        fatalx("cannot start libcurl");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->cookie);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ctl->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, ctl->cacert);
    if (ctl->fingerprint) {
        /* The pin names the server; its certificate need not chain to a
         * trust anchor nor carry the name in the URL. */
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, pin);
    }
    hdrs = request_headers(ctl, method, body != NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "parleyctl: cannot reach '%s': %s\n", ctl->server,
                s.too_big   ? "reply too large"
                : errbuf[0] ? errbuf
                            : curl_easy_strerror(cc));
        if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
            fprintf(stderr, "parleyctl: the server certificate was not trusted: give --cacert "
                            "FILE or --fingerprint SHA256 (see parleyctl(1))\n");
        rc = PARLEY_EIO;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = s.data;
    r->len = s.len;
    s.data = NULL;
out:
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    free(url);
    free(s.data);
    if (rc < 0) {
        free(r->cookie);
        r->cookie = NULL;
    }
    return rc;
}

void ctl_resp_release(struct ctl_resp *r)
{
    free(r->body);
    if (r->cookie) {
        OPENSSL_cleanse(r->cookie, strlen(r->cookie));
        free(r->cookie);
    }
    memset(r, 0, sizeof(*r));
}

int ctl_api_error(const struct ctl_resp *r)
{
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));

    fprintf(stderr, "parleyctl: %s (HTTP %ld%s%s)\n", msg ? msg : "request failed", r->status,
            code ? " " : "", code ? code : "");
    if (code && strcmp(code, "unauthenticated") == 0)
        fprintf(stderr, "parleyctl: sign in with parleyctl login, or give --token\n");
    else if (code && strcmp(code, "password_change_required") == 0)
        fprintf(stderr, "parleyctl: change it with parleyctl me password\n");
    json_decref(j);
    return CTL_EXIT_API;
}

/* ---- output ---- */

/* The value at dotted `path` ("actor.name") of `obj`, or NULL. */
static json_t *lookup(json_t *obj, const char *path)
{
    char *p = xstrdup(path), *save = NULL;
    for (char *t = strtok_r(p, ".", &save); t && obj; t = strtok_r(NULL, ".", &save))
        obj = json_object_get(obj, t);
    free(p);
    return obj;
}

/* A cell: strings bare, null as "-", the rest as compact JSON. malloc'd. */
static char *cell(const json_t *v)
{
    if (!v || json_is_null(v))
        return xstrdup("-");
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : xstrdup("?");
}

static size_t split_columns(char *cols, const char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(cols, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

#define CTL_MAX_COLS 16

static void print_table(json_t *arr, const char *columns)
{
    char *cols = xstrdup(columns);
    const char *name[CTL_MAX_COLS];
    size_t nc = split_columns(cols, name, CTL_MAX_COLS), width[CTL_MAX_COLS], i, c;
    json_t *row;

    for (c = 0; c < nc; c++)
        width[c] = strlen(name[c]);
    json_array_foreach(arr, i, row) for (c = 0; c < nc; c++)
    {
        char *s = cell(lookup(row, name[c]));
        if (strlen(s) > width[c])
            width[c] = strlen(s);
        free(s);
    }
    for (c = 0; c < nc; c++)
        printf("%-*s%s", c + 1 < nc ? (int)width[c] : 0, name[c], c + 1 < nc ? "  " : "\n");
    json_array_foreach(arr, i, row) for (c = 0; c < nc; c++)
    {
        char *s = cell(lookup(row, name[c]));
        printf("%-*s%s", c + 1 < nc ? (int)width[c] : 0, s, c + 1 < nc ? "  " : "\n");
        free(s);
    }
    free(cols);
}

static void print_object(json_t *obj, const char *columns)
{
    const char *key;
    json_t *v;

    if (columns) {
        char *cols = xstrdup(columns);
        const char *name[CTL_MAX_COLS];
        size_t nc = split_columns(cols, name, CTL_MAX_COLS);
        for (size_t c = 0; c < nc; c++) {
            if (!(v = lookup(obj, name[c])))
                continue;
            char *s = cell(v);
            printf("%s: %s\n", name[c], s);
            free(s);
        }
        free(cols);
        return;
    }
    json_object_foreach(obj, key, v)
    {
        char *s = cell(v);
        printf("%s: %s\n", key, s);
        free(s);
    }
}

void ctl_print(const struct ctl *ctl, const struct ctl_resp *r, const char *list_key,
               const char *columns)
{
    json_t *j = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL), *arr;
    size_t i;

    /* Not JSON (a CSV export, a file), or asked for JSON: the body as it
     * came. */
    if (!j || ctl->json) {
        fwrite(r->body, 1, r->len, stdout);
        if (j && r->len && r->body[r->len - 1] != '\n')
            fputc('\n', stdout);
        json_decref(j);
        return;
    }
    arr = list_key ? json_object_get(j, list_key) : NULL;
    if (json_is_array(arr) && columns) {
        print_table(arr, columns);
    } else if (json_is_array(arr)) {
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            char *s = cell(v);
            printf("%s\n", s);
            free(s);
        }
    } else if (json_is_object(j)) {
        print_object(j, columns);
    }
    json_decref(j);
}

/* ---- secrets ---- */

void ctl_secret_free(char *s)
{
    secret_free(s);
}

char *ctl_secret(const char *file, int line, const char *prompt)
{
    char *s = NULL;

    if (file) {
        FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
        if (!f) {
            fprintf(stderr, "parleyctl: cannot open '%s': %s\n", file, strerror(errno));
            return NULL;
        }
        for (int i = 0; i <= line; i++) {
            ctl_secret_free(s);
            if (!(s = secret_read_line(f)))
                break;
        }
        if (f != stdin)
            fclose(f);
        if (!s)
            fprintf(stderr, "parleyctl: '%s' has no line %d\n", file, line + 1);
        return s;
    }
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty) {
        fprintf(stderr, "parleyctl: no terminal to ask for the %s: use a file option\n", prompt);
        return NULL;
    }
    struct termios old, quiet;
    fprintf(tty, "%s: ", prompt);
    fflush(tty);
    bool restore = tcgetattr(fileno(tty), &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    s = secret_read_line(tty);
    if (restore)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    if (!s)
        fprintf(stderr, "parleyctl: no %s given\n", prompt);
    return s;
}
