/* oidc.c - see oidc.h. JSON through jansson (size-limited before parsing),
 * signatures through OpenSSL 3 EVP, HTTPS through libcurl. */
#include "b64.h"
#include "oidc.h"
#include "common/str.h"
#include "common/xmalloc.h"

#include <pthread.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

/* ---- JSON helpers -------------------------------------------------------- */

static json_t *load_object(const char *doc, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j;

    if (len > OIDC_MAX_DOC) {
        snprintf(err, errlen, "document larger than %d bytes", OIDC_MAX_DOC);
        return NULL;
    }
    j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(err, errlen, "not JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, errlen, "not a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *str_member(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* ---- discovery ------------------------------------------------------------ */

static int copy_url(const json_t *doc, const char *name, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    const char *v = str_member(doc, name);
    char host[URLCHECK_HOSTMAX + 1], why[200];
    int port;

    if (!v || !*v) {
        snprintf(err, errlen, "discovery document has no '%s'", name);
        return PARLEY_EPROTO;
    }
    if (strlen(v) >= outlen || urlcheck_parse(v, host, sizeof(host), &port, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "discovery document: '%s' is not a usable https URL", name);
        return PARLEY_EPROTO;
    }
    strlcpy_p(out, v, outlen);
    return 0;
}

int oidc_discovery_parse(const char *doc, size_t len, const char *want_issuer,
                         struct oidc_provider *out, char *err, size_t errlen)
{
    json_t *j = load_object(doc, len, err, errlen), *m;
    const char *iss;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!j)
        return PARLEY_EPROTO;
    iss = str_member(j, "issuer");
    if (!iss || strcmp(iss, want_issuer) != 0) {
        snprintf(err, errlen,
                 "discovery document names issuer '%.200s', not the configured '%.200s'",
                 iss ? iss : "", want_issuer);
        json_decref(j);
        return PARLEY_EPROTO;
    }
    strlcpy_p(out->issuer, iss, sizeof(out->issuer));
    rc = copy_url(j, "authorization_endpoint", out->authorization_endpoint,
                  sizeof(out->authorization_endpoint), err, errlen);
    if (rc == 0)
        rc = copy_url(j, "token_endpoint", out->token_endpoint, sizeof(out->token_endpoint), err,
                      errlen);
    if (rc == 0)
        rc = copy_url(j, "jwks_uri", out->jwks_uri, sizeof(out->jwks_uri), err, errlen);
    if (rc == 0 && (m = json_object_get(j, "code_challenge_methods_supported"))) {
        bool s256 = false;
        size_t i;
        json_t *v;
        json_array_foreach(m, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), "S256") == 0)
                s256 = true;
        }
        if (!s256) {
            snprintf(err, errlen, "the identity provider does not support PKCE with S256");
            rc = PARLEY_EPROTO;
        }
    }
    json_decref(j);
    return rc;
}

/* ---- JWKS ------------------------------------------------------------------ */

enum key_type { KEY_RSA, KEY_EC };

struct oidc_key {
    enum key_type type;
    char kid[128];
    EVP_PKEY *pkey;
};

struct oidc_jwks {
    size_t n;
    struct oidc_key k[OIDC_MAX_KEYS];
};

static int member_b64(const json_t *o, const char *name, size_t max, uint8_t **out, size_t *len)
{
    const char *s = str_member(o, name);
    if (!s)
        return PARLEY_EINVAL;
    return b64url_decode(s, strlen(s), max, out, len);
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;

    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pk;
}

static EVP_PKEY *rsa_key(const json_t *jwk)
{
    uint8_t *n = NULL, *e = NULL;
    size_t nl, el;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pk = NULL;

    if (member_b64(jwk, "n", 1024, &n, &nl) < 0 || member_b64(jwk, "e", 8, &e, &el) < 0)
        goto out;
    /* 2048 bits at least (RFC 7518 §3.3). */
    while (nl > 0 && n[0] == 0) {
        memmove(n, n + 1, nl - 1);
        nl--;
    }
    if (nl < 256 || el == 0)
        goto out;
    bn = BN_bin2bn(n, (int)nl, NULL);
    be = BN_bin2bn(e, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto out;
    pk = fromdata("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pk;
}

static EVP_PKEY *ec_key(const json_t *jwk)
{
    uint8_t *x = NULL, *y = NULL, pt[65];
    size_t xl, yl;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pk = NULL;
    const char *crv = str_member(jwk, "crv");

    if (!crv || strcmp(crv, "P-256") != 0)
        return NULL;
    if (member_b64(jwk, "x", 32, &x, &xl) < 0 || member_b64(jwk, "y", 32, &y, &yl) < 0 ||
        xl != 32 || yl != 32)
        goto out;
    pt[0] = 4;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    bld = OSSL_PARAM_BLD_new();
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)))
        goto out;
    pk = fromdata("EC", bld); /* checks the point is on the curve */
out:
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pk;
}

int oidc_jwks_parse(const char *doc, size_t len, struct oidc_jwks **out, char *err, size_t errlen)
{
    json_t *j = load_object(doc, len, err, errlen), *keys, *jwk;
    struct oidc_jwks *ks;
    size_t i;

    *out = NULL;
    if (!j)
        return PARLEY_EPROTO;
    keys = json_object_get(j, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errlen, "JWKS has no 'keys' array");
        json_decref(j);
        return PARLEY_EPROTO;
    }
    ks = xcalloc(1, sizeof(*ks));
    json_array_foreach(keys, i, jwk)
    {
        const char *kty = str_member(jwk, "kty"), *use = str_member(jwk, "use"),
                   *kid = str_member(jwk, "kid");
        struct oidc_key *k;

        if (ks->n == OIDC_MAX_KEYS)
            break;
        if (!kty || (use && strcmp(use, "sig") != 0))
            continue;
        k = &ks->k[ks->n];
        if (strcmp(kty, "RSA") == 0) {
            k->type = KEY_RSA;
            k->pkey = rsa_key(jwk);
        } else if (strcmp(kty, "EC") == 0) {
            k->type = KEY_EC;
            k->pkey = ec_key(jwk);
        }
        if (!k->pkey)
            continue;
        strlcpy_p(k->kid, kid ? kid : "", sizeof(k->kid));
        ks->n++;
    }
    json_decref(j);
    if (ks->n == 0) {
        snprintf(err, errlen, "JWKS holds no usable signing key (RSA 2048+ or EC P-256)");
        free(ks);
        return PARLEY_EPROTO;
    }
    *out = ks;
    return 0;
}

size_t oidc_jwks_count(const struct oidc_jwks *k)
{
    return k ? k->n : 0;
}

void oidc_jwks_free(struct oidc_jwks *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        EVP_PKEY_free(k->k[i].pkey);
    free(k);
}

/* ---- token response ------------------------------------------------------- */

int oidc_token_response_parse(const char *doc, size_t len, char **id_token, char *err,
                              size_t errlen)
{
    json_t *j = load_object(doc, len, err, errlen);
    const char *e, *t;
    int rc = 0;

    *id_token = NULL;
    if (!j)
        return PARLEY_EPROTO;
    if ((e = str_member(j, "error"))) {
        /* The code is from a fixed vocabulary; keep it printable and short. */
        char code[64];
        size_t i;
        for (i = 0; e[i] && i < sizeof(code) - 1; i++)
            code[i] = (e[i] >= 0x20 && e[i] < 0x7f) ? e[i] : '?';
        code[i] = 0;
        snprintf(err, errlen, "the identity provider refused the code: %s", code);
        rc = PARLEY_EAUTH;
    } else if (!(t = str_member(j, "id_token")) || !*t || strlen(t) > OIDC_MAX_JWT) {
        snprintf(err, errlen, "the token endpoint answered without a usable id_token");
        rc = PARLEY_EPROTO;
    } else {
        *id_token = xstrdup(t);
    }
    json_decref(j);
    return rc;
}

/* ---- ID token ---------------------------------------------------------------- */

static bool ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* ES256 signatures are r || s (RFC 7518 §3.4); OpenSSL wants DER. */
static int es256_der(const uint8_t *sig, size_t len, uint8_t **der, size_t *derlen)
{
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    unsigned char *p = NULL;
    int n;

    if (len != 64)
        return PARLEY_EAUTH;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return PARLEY_ENOMEM;
    }
    n = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    if (n <= 0)
        return PARLEY_ECRYPTO;
    *der = p;
    *derlen = (size_t)n;
    return 0;
}

static bool verify_with(EVP_PKEY *pk, enum key_type t, const char *signed_part, size_t signed_len,
                        const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *der = NULL;
    size_t derlen = 0;
    bool ok = false;

    if (!md)
        return false;
    if (t == KEY_EC) {
        if (es256_der(sig, siglen, &der, &derlen) < 0)
            goto out;
        sig = der;
        siglen = derlen;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
        EVP_DigestVerify(md, sig, siglen, (const unsigned char *)signed_part, signed_len) == 1)
        ok = true;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return ok;
}

static void copy_claim(const json_t *o, const char *name, char *out, size_t outlen)
{
    const char *v = str_member(o, name);
    out[0] = 0;
    if (v && strlen(v) < outlen)
        strlcpy_p(out, v, outlen);
}

static bool aud_holds(const json_t *aud, const char *client_id)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), client_id) == 0;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), client_id) == 0)
            return true;
    }
    return false;
}

static int check_claims(const json_t *c, const struct oidc_expect *e, struct oidc_claims *out,
                        char *err, size_t errlen)
{
    const char *iss = str_member(c, "iss"), *nonce = str_member(c, "nonce"),
               *azp = str_member(c, "azp");
    json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat"),
           *ev = json_object_get(c, "email_verified");

    if (!iss || strcmp(iss, e->issuer) != 0) {
        snprintf(err, errlen, "ID token issuer (iss) is not the configured issuer");
        return PARLEY_EAUTH;
    }
    if (!aud_holds(json_object_get(c, "aud"), e->client_id) ||
        (azp && strcmp(azp, e->client_id) != 0)) {
        snprintf(err, errlen, "ID token audience (aud) is not this network's client_id");
        return PARLEY_EAUTH;
    }
    if (!json_is_integer(exp) || !json_is_integer(iat)) {
        snprintf(err, errlen, "ID token lacks exp or iat");
        return PARLEY_EPROTO;
    }
    if (json_integer_value(exp) <= e->now - OIDC_SKEW) {
        snprintf(err, errlen, "ID token has expired (exp)");
        return PARLEY_EAUTH;
    }
    if (json_integer_value(iat) > e->now + OIDC_SKEW) {
        snprintf(err, errlen, "ID token is issued in the future (iat)");
        return PARLEY_EAUTH;
    }
    if (!nonce || !ct_equal(nonce, e->nonce)) {
        snprintf(err, errlen, "ID token nonce does not match this sign-in");
        return PARLEY_EAUTH;
    }
    copy_claim(c, "sub", out->sub, sizeof(out->sub));
    if (!out->sub[0]) {
        snprintf(err, errlen, "ID token has no usable subject (sub)");
        return PARLEY_EPROTO;
    }
    copy_claim(c, "email", out->email, sizeof(out->email));
    /* Providers send true, or (some) the string "true". */
    out->email_verified =
        json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
    copy_claim(c, "preferred_username", out->preferred_username, sizeof(out->preferred_username));
    copy_claim(c, "given_name", out->given_name, sizeof(out->given_name));
    copy_claim(c, "family_name", out->family_name, sizeof(out->family_name));
    return 0;
}

int oidc_id_token_verify(const char *jwt, const struct oidc_jwks *keys, const struct oidc_expect *e,
                         struct oidc_claims *out, char *err, size_t errlen)
{
    const char *d1, *d2, *alg, *kid;
    size_t len = strlen(jwt), hl, pl, sl;
    uint8_t *h = NULL, *p = NULL, *sig = NULL;
    json_t *hdr = NULL, *claims = NULL;
    enum key_type want;
    bool any = false, ok = false;
    int rc = PARLEY_EPROTO;

    memset(out, 0, sizeof(*out));
    if (len > OIDC_MAX_JWT || !(d1 = strchr(jwt, '.')) || !(d2 = strchr(d1 + 1, '.')) ||
        strchr(d2 + 1, '.')) {
        snprintf(err, errlen, "ID token is not a compact JWS");
        return PARLEY_EPROTO;
    }
    if (b64url_decode(jwt, (size_t)(d1 - jwt), 4096, &h, &hl) < 0 ||
        b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), OIDC_MAX_JWT, &p, &pl) < 0 ||
        b64url_decode(d2 + 1, strlen(d2 + 1), 1024, &sig, &sl) < 0) {
        snprintf(err, errlen, "ID token is not base64url");
        goto out;
    }
    hdr = load_object((const char *)h, hl, err, errlen);
    if (!hdr)
        goto out;
    alg = str_member(hdr, "alg");
    kid = str_member(hdr, "kid");
    if (!alg || (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0)) {
        snprintf(err, errlen, "ID token algorithm '%.20s' is not accepted (RS256, ES256)",
                 alg ? alg : "");
        rc = PARLEY_EAUTH;
        goto out;
    }
    if (json_object_get(hdr, "crit")) {
        snprintf(err, errlen, "ID token has critical header extensions");
        goto out;
    }
    want = alg[0] == 'R' ? KEY_RSA : KEY_EC;
    for (size_t i = 0; keys && i < keys->n && !ok; i++) {
        const struct oidc_key *k = &keys->k[i];
        if (k->type != want || (kid && strcmp(kid, k->kid) != 0))
            continue;
        any = true;
        ok = verify_with(k->pkey, k->type, jwt, (size_t)(d2 - jwt), sig, sl);
    }
    if (!any) {
        snprintf(err, errlen, "no key of the identity provider matches the ID token (kid)");
        rc = PARLEY_ENOTFOUND;
        goto out;
    }
    if (!ok) {
        snprintf(err, errlen, "ID token signature is not valid");
        rc = PARLEY_EAUTH;
        goto out;
    }
    claims = load_object((const char *)p, pl, err, errlen);
    if (!claims)
        goto out;
    rc = check_claims(claims, e, out, err, errlen);
out:
    json_decref(hdr);
    json_decref(claims);
    free(h);
    if (p)
        OPENSSL_cleanse(p, pl);
    free(p);
    free(sig);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- HTTPS -------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct fetch {
    char *data;
    size_t len;
    bool too_big;
    bool allow_private;
    bool refused; /* a connection to a private address was refused */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct fetch *f = arg;
    size_t n = size * nmemb;

    if (f->len + n > OIDC_MAX_DOC) {
        f->too_big = true;
        return 0;
    }
    f->data = xrealloc(f->data, f->len + n + 1);
    memcpy(f->data + f->len, ptr, n);
    f->len += n;
    f->data[f->len] = 0;
    return n;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct fetch *f = arg;

    (void)purpose;
    if (!f->allow_private && urlcheck_addr_private(&a->addr)) {
        f->refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int oidc_http(const char *url, const char *form, const char *basic_user, const char *basic_pass,
              const char *ca_file, bool allow_private, long *status, char **body, size_t *len,
              char *err, size_t errlen)
{
    char host[URLCHECK_HOSTMAX + 1], why[200];
    struct fetch f = {0};
    struct curl_slist *hdrs = NULL;
    CURLcode cc;
    CURL *c;
    int port;

    *body = NULL;
    *len = 0;
    *status = 0;
    if (urlcheck_parse(url, host, sizeof(host), &port, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        return PARLEY_EINVAL;
    }
    pthread_once(&curl_once, curl_init_once);
    if (!(c = curl_easy_init())) {
        snprintf(err, errlen, "out of memory");
        return PARLEY_ENOMEM;
    }
    f.allow_private = allow_private;
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &f);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "parleyd");
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
    }
    if (basic_user && basic_pass) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, basic_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, basic_pass);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    if (f.refused) {
        snprintf(err, errlen,
                 "%s resolves to a private address; a super administrator can allow it with the "
                 "deployment setting allow_private_ips",
                 host);
        free(f.data);
        return PARLEY_EPERM;
    }
    if (f.too_big) {
        snprintf(err, errlen, "%s sent more than %d bytes", host, OIDC_MAX_DOC);
        free(f.data);
        return PARLEY_ETOOBIG;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach %s: %s", host, curl_easy_strerror(cc));
        free(f.data);
        return PARLEY_EIO;
    }
    if (!f.data)
        f.data = xstrdup("");
    *body = f.data;
    *len = f.len;
    return 0;
}

char *oidc_urlencode(const char *s)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o = 0;
    return out;
}
