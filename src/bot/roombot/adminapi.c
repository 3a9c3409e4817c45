/* adminapi.c - admin API reads over libcurl (adminapi.h). */
#include "adminapi.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xmalloc.h"

/* Answers above this size are refused: a page of 1000 users is ~400 KiB. */
#define MAX_BODY (8u * 1024 * 1024)

int adminapi_init(struct adminapi *a, const char *base, const char *ca_pem, const char *token)
{
    memset(a, 0, sizeof(*a));
    a->base = strdup(base);
    a->ca_pem = strdup(ca_pem);
    a->auth = xasprintf("Authorization: Bearer %s", token);
    if (!a->base || !a->ca_pem) {
        adminapi_release(a);
        return PARLEY_ENOMEM;
    }
    return 0;
}

void adminapi_release(struct adminapi *a)
{
    free(a->base);
    free(a->ca_pem);
    if (a->auth) {
        OPENSSL_cleanse(a->auth, strlen(a->auth));
        free(a->auth);
    }
    memset(a, 0, sizeof(*a));
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

int adminapi_get(struct adminapi *a, const char *path, json_t **out)
{
    struct buf body = BUF_INIT(MAX_BODY);
    struct curl_slist *hdrs = NULL, *h2;
    struct curl_blob ca = {a->ca_pem, strlen(a->ca_pem), CURL_BLOB_COPY};
    char *url = xasprintf("%s%s", a->base, path);
    long status = 0;
    int rc = PARLEY_EIO;
    CURL *cu = curl_easy_init();

    *out = NULL;
    if (!cu || !(hdrs = curl_slist_append(NULL, a->auth))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    if (!(h2 = curl_slist_append(hdrs, "Accept: application/json"))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    hdrs = h2;
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https");
    /* The pinned certificates are the only trust anchors. */
    curl_easy_setopt(cu, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(cu, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(cu, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "parley-roombot/" PARLEY_VERSION);
    CURLcode cc = curl_easy_perform(cu);
    if (cc != CURLE_OK) {
        log_warnx("admin API %s: %s", path, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401 || status == 403) {
        log_warnx("admin API %s: %ld: the API token is wrong, revoked or lacks a permission", path,
                  status);
        rc = PARLEY_EAUTH;
        goto out;
    }
    if (status == 404) {
        rc = PARLEY_ENOTFOUND;
        goto out;
    }
    if (status != 200) {
        log_warnx("admin API %s: status %ld", path, status);
        goto out;
    }
    *out = json_loadb(body.data ? (const char *)body.data : "", body.len, 0, NULL);
    rc = *out ? 0 : PARLEY_EPROTO;
out:
    curl_slist_free_all(hdrs);
    if (cu)
        curl_easy_cleanup(cu);
    free(url);
    buf_release(&body);
    return rc;
}
