/* api.c - HTTPS requests to parleyd with the certificate pinned, and the
 * parsers of its answers. */
#include "api.h"

#include <pthread.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

#include "common/str.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int api_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc == CURLE_OK ? 0 : PARLEY_EIO;
}

struct api_idle {
    pthread_mutex_t mu;
    CURL *h[API_IDLE_HANDLES];
    int n;
};

int api_init(struct api *a, const char *host, int port, const char *ca_file)
{
    /* An IPv6 literal needs brackets in a URL. */
    bool v6 = strchr(host, ':') != NULL;
    if (snprintf(a->base, sizeof(a->base), "https://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "",
                 port) >= (int)sizeof(a->base))
        return PARLEY_EINVAL;
    if (strlcpy_p(a->ca_file, ca_file, sizeof(a->ca_file)) >= sizeof(a->ca_file))
        return PARLEY_EINVAL;
    api_release(a);
    if (!(a->idle = calloc(1, sizeof(*a->idle))))
        return PARLEY_ENOMEM;
    pthread_mutex_init(&a->idle->mu, NULL);
    return api_global_init();
}

void api_release(struct api *a)
{
    if (!a->idle)
        return;
    for (int i = 0; i < a->idle->n; i++)
        curl_easy_cleanup(a->idle->h[i]);
    pthread_mutex_destroy(&a->idle->mu);
    free(a->idle);
    a->idle = NULL;
}

/* A handle for one request: an idle one (reset to defaults; it keeps its
 * connections and caches) or a new one. */
static CURL *handle_get(const struct api *a)
{
    CURL *cu = NULL;
    if (a->idle) {
        pthread_mutex_lock(&a->idle->mu);
        if (a->idle->n > 0)
            cu = a->idle->h[--a->idle->n];
        pthread_mutex_unlock(&a->idle->mu);
    }
    if (cu) {
        curl_easy_reset(cu);
        return cu;
    }
    return curl_easy_init();
}

static void handle_put(const struct api *a, CURL *cu, bool reusable)
{
    if (reusable && a->idle) {
        pthread_mutex_lock(&a->idle->mu);
        if (a->idle->n < API_IDLE_HANDLES) {
            a->idle->h[a->idle->n++] = cu;
            cu = NULL;
        }
        pthread_mutex_unlock(&a->idle->mu);
    }
    if (cu)
        curl_easy_cleanup(cu);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

void api_curl_pin(const struct api *a, CURL *cu)
{
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https");
    if (a->ca_file[0]) {
        /* The pinned certificates are the only trust anchors: the system
         * store is never consulted (CURLOPT_CAPATH off). */
        curl_easy_setopt(cu, CURLOPT_CAINFO, a->ca_file);
        curl_easy_setopt(cu, CURLOPT_CAPATH, NULL);
    } else {
        /* No pinning: OpenSSL's system trust store, as the WebSocket
         * (lws) uses it, SSL_CERT_FILE and SSL_CERT_DIR included. */
        const char *file = getenv(X509_get_default_cert_file_env());
        const char *dir = getenv(X509_get_default_cert_dir_env());
        curl_easy_setopt(cu, CURLOPT_CAINFO, file ? file : X509_get_default_cert_file());
        curl_easy_setopt(cu, CURLOPT_CAPATH, dir ? dir : X509_get_default_cert_dir());
    }
    curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "libparley/" PARLEY_VERSION);
}

int api_request(const struct api *a, const char *method, const char *path, const char *token,
                json_t *body, long *status, json_t **resp)
{
    struct buf url = BUF_INIT(8192), auth = BUF_INIT(API_MAX_TOKEN + 32);
    struct buf in = BUF_INIT(API_MAX_RESPONSE);
    struct curl_slist *hdrs = NULL, *h;
    char *out = NULL;
    CURL *cu = NULL;
    int rc;

    *status = 0;
    *resp = NULL;
    if ((rc = buf_printf(&url, "%s%s", a->base, path)) < 0)
        goto out;
    if (!(cu = handle_get(a))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    if (!(h = curl_slist_append(hdrs, "Accept: application/json"))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    hdrs = h;
    if (token) {
        if ((rc = buf_printf(&auth, "Authorization: Bearer %s", token)) < 0)
            goto out;
        if (!(h = curl_slist_append(hdrs, (char *)auth.data))) {
            rc = PARLEY_ENOMEM;
            goto out;
        }
        hdrs = h;
    }
    if (body) {
        if (!(out = json_dumps(body, JSON_COMPACT))) {
            rc = PARLEY_ENOMEM;
            goto out;
        }
        if (!(h = curl_slist_append(hdrs, "Content-Type: application/json"))) {
            rc = PARLEY_ENOMEM;
            goto out;
        }
        hdrs = h;
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, out);
    }
    curl_easy_setopt(cu, CURLOPT_URL, (char *)url.data);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &in);
    api_curl_pin(a, cu);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, 60L);
    if (curl_easy_perform(cu) != CURLE_OK) {
        rc = PARLEY_EIO;
        goto out;
    }
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status);
    rc = in.len ? api_parse((const char *)in.data, in.len, resp) : 0;
out:
    if (out) {
        OPENSSL_cleanse(out, strlen(out)); /* bodies carry login secrets */
        free(out);
    }
    curl_slist_free_all(hdrs);
    if (cu)
        handle_put(a, cu, rc != PARLEY_EIO);
    buf_release_secure(&auth);
    buf_release_secure(&in);
    buf_release(&url);
    return rc;
}

int api_status_error(long status, json_t *resp)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 400:
        return PARLEY_EINVAL;
    case 401:
        return PARLEY_EAUTH;
    case 403:
        return PARLEY_EPERM;
    case 404:
        return PARLEY_ENOTFOUND;
    case 409:
        return PARLEY_ECONFLICT;
    case 413:
        return PARLEY_ETOOBIG;
    case 429:
        return PARLEY_EBUSY;
    }
    (void)resp;
    return PARLEY_EIO;
}

int api_parse(const char *p, size_t n, json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (n > API_MAX_RESPONSE)
        return PARLEY_ETOOBIG;
    *out = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    return *out ? 0 : PARLEY_EPROTO;
}

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int api_b64_decode(const char *s, size_t max, uint8_t **out, size_t *len)
{
    size_t n = strlen(s), pad = 0;
    *out = NULL;
    *len = 0;
    if (n % 4 != 0 || n / 4 * 3 > max + 2)
        return PARLEY_EPROTO;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    /* Every character but the padding must be in the alphabet: OpenSSL's
     * decoder skips whitespace, which a strict format must not. */
    for (size_t i = 0; i < n - pad; i++)
        if (b64_val((unsigned char)s[i]) < 0)
            return PARLEY_EPROTO;
    uint8_t *p = malloc(n / 4 * 3 + 1);
    if (!p)
        return PARLEY_ENOMEM;
    int r = n ? EVP_DecodeBlock(p, (const unsigned char *)s, (int)n) : 0;
    if (r < 0 || (size_t)r < pad || (size_t)r - pad > max) {
        free(p);
        return PARLEY_EPROTO;
    }
    *out = p;
    *len = (size_t)r - pad;
    return 0;
}

char *api_b64_encode(const uint8_t *p, size_t n)
{
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (!s)
        return NULL;
    EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

int api_get_id(json_t *obj, const char *key, uint8_t out[KEYS_ID_LEN])
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) != 2 * KEYS_ID_LEN)
        return PARLEY_EPROTO;
    return hex_decode(json_string_value(v), 2 * KEYS_ID_LEN, out, KEYS_ID_LEN) == 0 ? 0
                                                                                    : PARLEY_EPROTO;
}

/* An optional base64 field: absent or null leaves *out NULL. */
static int get_b64(json_t *obj, const char *key, size_t max, uint8_t **out, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return PARLEY_EPROTO;
    return api_b64_decode(json_string_value(v), max, out, len);
}

static int get_str(json_t *obj, const char *key, char *out, size_t size)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v))
        return PARLEY_EPROTO;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int api_login_parse(json_t *j, struct api_login *out)
{
    int rc;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return PARLEY_EPROTO;
    if ((rc = get_str(j, "token", out->token, sizeof(out->token))) < 0 ||
        (rc = api_get_id(j, "user_id", out->user_id)) < 0 ||
        (rc = get_str(j, "status", out->status, sizeof(out->status))) < 0)
        goto fail;
    rc = get_b64(j, "identity_key", SUITE_MAX_SIG_PK, &out->identity_key, &out->identity_key_len);
    if (rc == 0)
        rc = get_b64(j, "identity_backup", 64 * 1024, &out->identity_backup,
                     &out->identity_backup_len);
    if (rc == 0 && !out->identity_key != !out->identity_backup)
        rc = PARLEY_EPROTO;
    if (rc == 0)
        return 0;
fail:
    api_login_release(out);
    return rc;
}

void api_login_release(struct api_login *l)
{
    OPENSSL_cleanse(l->token, sizeof(l->token));
    free(l->identity_key);
    free(l->identity_backup);
    l->identity_key = l->identity_backup = NULL;
}

int api_user_parse(json_t *j, struct api_user *out)
{
    json_t *devs, *d;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return PARLEY_EPROTO;
    if ((rc = api_get_id(j, "user_id", out->user_id)) < 0 ||
        (rc = get_str(j, "username", out->username, sizeof(out->username))) < 0 ||
        (rc = get_str(j, "status", out->status, sizeof(out->status))) < 0 ||
        (rc = get_b64(j, "identity_key", SUITE_MAX_SIG_PK, &out->identity_key,
                      &out->identity_key_len)) < 0)
        goto fail;
    if (json_object_get(j, "network_id") &&
        (rc = get_str(j, "network_id", out->network_id, sizeof(out->network_id))) < 0)
        goto fail;
    {
        json_t *tags = json_object_get(j, "security_tags"), *t;
        size_t used = 0;
        json_array_foreach(tags, i, t)
        {
            const char *name = json_string_value(json_object_get(t, "name"));
            const char *color = json_string_value(json_object_get(t, "color"));
            int w;
            if (!name)
                continue;
            w = snprintf(out->tags + used, sizeof(out->tags) - used, "%s%s%s%s%s", used ? ", " : "",
                         name, color && *color ? " (" : "", color && *color ? color : "",
                         color && *color ? ")" : "");
            if (w < 0 || (size_t)w >= sizeof(out->tags) - used)
                break; /* the rest does not fit: shown as far as it goes */
            used += (size_t)w;
        }
    }
    devs = json_object_get(j, "devices");
    if (devs && !json_is_null(devs)) {
        if (!json_is_array(devs) || json_array_size(devs) > API_MAX_DEVICES) {
            rc = PARLEY_EPROTO;
            goto fail;
        }
        if (json_array_size(devs) &&
            !(out->devices = calloc(json_array_size(devs), sizeof(*out->devices)))) {
            rc = PARLEY_ENOMEM;
            goto fail;
        }
        json_array_foreach(devs, i, d)
        {
            struct api_device *dv = &out->devices[i];
            out->n_devices = i + 1;
            if (!json_is_object(d) || (rc = api_get_id(d, "device_id", dv->device_id)) < 0 ||
                (rc = get_b64(d, "cert", 4096, &dv->cert, &dv->cert_len)) < 0)
                goto fail;
            if (!dv->cert) {
                rc = PARLEY_EPROTO;
                goto fail;
            }
        }
    }
    return 0;
fail:
    api_user_release(out);
    return rc ? rc : PARLEY_EPROTO;
}

void api_user_release(struct api_user *u)
{
    free(u->identity_key);
    for (size_t i = 0; i < u->n_devices; i++)
        free(u->devices[i].cert);
    free(u->devices);
    memset(u, 0, sizeof(*u));
}

int api_claim_parse(json_t *j, struct api_bundle **out, size_t *n)
{
    json_t *arr = json_object_get(j, "bundles"), *b;
    struct api_bundle *v = NULL;
    size_t i, count = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) > API_MAX_CLAIM)
        return PARLEY_EPROTO;
    if (json_array_size(arr) && !(v = calloc(json_array_size(arr), sizeof(*v))))
        return PARLEY_ENOMEM;
    json_array_foreach(arr, i, b)
    {
        count = i + 1;
        if (!json_is_object(b) || (rc = api_get_id(b, "device_id", v[i].device_id)) < 0 ||
            (rc = get_b64(b, "bundle", 64 * 1024, &v[i].bundle, &v[i].len)) < 0)
            break;
        if (!v[i].bundle) {
            rc = PARLEY_EPROTO;
            break;
        }
    }
    if (rc < 0) {
        api_bundles_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return 0;
}

void api_bundles_free(struct api_bundle *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        free(b[i].bundle);
    free(b);
}

static int get_u32(json_t *obj, const char *key, uint32_t *out)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
        return PARLEY_EPROTO;
    *out = (uint32_t)json_integer_value(v);
    return 0;
}

int api_conv_parse(json_t *j, struct api_conv *out)
{
    json_t *arr, *m;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(j))
        return PARLEY_EPROTO;
    if ((rc = api_get_id(j, "conv_id", out->conv_id)) < 0 ||
        (rc = get_str(j, "type", out->type, sizeof(out->type))) < 0 ||
        (rc = get_u32(j, "expiration", &out->expiration)) < 0 ||
        (rc = get_u32(j, "burn_on_read", &out->burn_on_read)) < 0)
        goto fail;
    arr = json_object_get(j, "members");
    if (!json_is_array(arr) || json_array_size(arr) > API_MAX_MEMBERS) {
        rc = PARLEY_EPROTO;
        goto fail;
    }
    if (json_array_size(arr) &&
        !(out->members = calloc(json_array_size(arr), sizeof(*out->members)))) {
        rc = PARLEY_ENOMEM;
        goto fail;
    }
    json_array_foreach(arr, i, m)
    {
        out->n_members = i + 1;
        if (!json_is_object(m) || (rc = api_get_id(m, "user_id", out->members[i].user_id)) < 0)
            goto fail;
        const char *role = json_string_value(json_object_get(m, "role"));
        out->members[i].is_moderator = role && strcmp(role, "moderator") == 0;
    }
    return 0;
fail:
    api_conv_release(out);
    return rc ? rc : PARLEY_EPROTO;
}

void api_conv_release(struct api_conv *c)
{
    free(c->members);
    memset(c, 0, sizeof(*c));
}
