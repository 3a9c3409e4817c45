/* oidc_test.c - the relying party's parsers and ID token checks, with
 * tokens signed here by keys made for the test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/b64.h"
#include "server/oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#define ISS   "https://idp.example"
#define AUD   "parley"
#define NONCE "n0nce-1"
#define NOW   1800000000

struct fx {
    EVP_PKEY *key, *other;
    struct oidc_jwks *jwks;
};

static void b64u(const void *p, size_t n, char *out)
{
    b64url_encode(p, n, out);
}

static EVP_PKEY *p256(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    return k;
}

/* A JWKS holding `k` as kid "k1". */
static char *jwks_of(EVP_PKEY *k)
{
    uint8_t pt[65];
    size_t n = 0;
    char x[64], y[64], *out = malloc(512);

    assert_int_equal(
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n), 1);
    assert_int_equal(n, 65);
    b64u(pt + 1, 32, x);
    b64u(pt + 33, 32, y);
    snprintf(out, 512,
             "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"EC\",\"kid\":\"k1\","
             "\"use\":\"sig\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             x, y);
    return out;
}

/* header.payload.signature, ES256 by `k` (NULL: no signature). */
static char *token(EVP_PKEY *k, const char *header, const char *claims)
{
    char *h = malloc(B64_LEN(strlen(header)) + 1), *c = malloc(B64_LEN(strlen(claims)) + 1);
    char *out = malloc(8192), sig64[100] = "";
    b64u(header, strlen(header), h);
    b64u(claims, strlen(claims), c);
    snprintf(out, 8192, "%s.%s", h, c);
    if (k) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t der[80], raw[64] = {0};
        size_t dl = sizeof(der);
        const unsigned char *p = der;
        assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
        assert_int_equal(EVP_DigestSign(md, der, &dl, (uint8_t *)out, strlen(out)), 1);
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
        assert_non_null(s);
        BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + 32, 32);
        ECDSA_SIG_free(s);
        EVP_MD_CTX_free(md);
        b64u(raw, 64, sig64);
    }
    size_t l = strlen(out);
    snprintf(out + l, 8192 - l, ".%s", sig64);
    free(h);
    free(c);
    return out;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256], *doc;
    f->key = p256();
    f->other = p256();
    doc = jwks_of(f->key);
    assert_int_equal(oidc_jwks_parse(doc, strlen(doc), &f->jwks, err, sizeof(err)), 0);
    assert_int_equal(oidc_jwks_count(f->jwks), 1); /* the symmetric key is skipped */
    free(doc);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    oidc_jwks_free(f->jwks);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other);
    free(f);
    return 0;
}

static const char hdr_ok[] = "{\"alg\":\"ES256\",\"kid\":\"k1\"}";

/* Claims with one member replaced: `extra` is appended last, and JSON
 * objects here are built so that it wins (no duplicates: the base lacks
 * whatever `skip` names). */
static char *claims(const char *skip, const char *extra)
{
    static const char *const base[] = {"\"iss\":\"" ISS "\"",         "\"aud\":\"" AUD "\"",
                                       "\"sub\":\"user-1\"",          "\"exp\":1800000300",
                                       "\"iat\":1800000000",          "\"nonce\":\"" NONCE "\"",
                                       "\"email\":\"a@example.com\"", "\"email_verified\":true"};
    char *out = calloc(1, 2048);
    size_t l = 0;
    out[l++] = '{';
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
        if (skip && strncmp(base[i] + 1, skip, strlen(skip)) == 0)
            continue;
        l += (size_t)snprintf(out + l, 2048 - l, "%s%s", l > 1 ? "," : "", base[i]);
    }
    if (extra)
        l += (size_t)snprintf(out + l, 2048 - l, "%s%s", l > 1 ? "," : "", extra);
    snprintf(out + l, 2048 - l, "}");
    return out;
}

static int verify(struct fx *f, const char *jwt, int64_t now, struct oidc_claims *cl, char *err)
{
    struct oidc_expect e = {ISS, AUD, NONCE, now};
    return oidc_id_token_verify(jwt, f->jwks, &e, cl, err, 256);
}

static int check(struct fx *f, EVP_PKEY *k, const char *hdr, const char *skip, const char *extra,
                 int64_t now, const char *want_msg)
{
    char *c = claims(skip, extra), *t = token(k, hdr, c), err[256] = "";
    struct oidc_claims cl;
    int rc = verify(f, t, now, &cl, err);
    if (want_msg && !strstr(err, want_msg))
        fail_msg("message '%s' lacks '%s'", err, want_msg);
    free(c);
    free(t);
    return rc;
}

static void test_oidc__valid_token_gives_claims(void **state)
{
    struct fx *f = *state;
    char *c = claims(NULL, NULL), *t = token(f->key, hdr_ok, c), err[256];
    struct oidc_claims cl;

    assert_int_equal(verify(f, t, NOW + 10, &cl, err), 0);
    assert_string_equal(cl.sub, "user-1");
    assert_string_equal(cl.email, "a@example.com");
    assert_true(cl.email_verified);
    /* Within the allowed clock difference, either way. */
    assert_int_equal(verify(f, t, NOW + 300 + OIDC_SKEW - 1, &cl, err), 0);
    assert_int_equal(verify(f, t, NOW - OIDC_SKEW, &cl, err), 0);
    /* An audience array holding us; a kid-less header finds the key. */
    assert_int_equal(check(f, f->key, hdr_ok, "aud", "\"aud\":[\"x\",\"" AUD "\"]", NOW, NULL), 0);
    assert_int_equal(check(f, f->key, "{\"alg\":\"ES256\"}", NULL, NULL, NOW, NULL), 0);
    free(c);
    free(t);
}

static void test_oidc__bad_tokens_are_refused(void **state)
{
    struct fx *f = *state;
    char *c, *t, err[256];
    struct oidc_claims cl;

    assert_int_equal(check(f, f->other, hdr_ok, NULL, NULL, NOW, "signature"), PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, "aud", "\"aud\":\"other\"", NOW, "aud"),
                     PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, NULL, "\"azp\":\"other\"", NOW, "aud"), PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, "iss", "\"iss\":\"https://evil\"", NOW, "iss"),
                     PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, NULL, NULL, NOW + 300 + OIDC_SKEW, "exp"),
                     PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, NULL, NULL, NOW - OIDC_SKEW - 1, "iat"),
                     PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, "nonce", "\"nonce\":\"n0nce-2\"", NOW, "nonce"),
                     PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, "nonce", NULL, NOW, "nonce"), PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, hdr_ok, "sub", NULL, NOW, "sub"), PARLEY_EPROTO);
    assert_int_equal(check(f, f->key, hdr_ok, "exp", NULL, NOW, "exp"), PARLEY_EPROTO);
    assert_int_equal(check(f, f->key, "{\"alg\":\"ES256\",\"kid\":\"k9\"}", NULL, NULL, NOW, "kid"),
                     PARLEY_ENOTFOUND);
    assert_int_equal(check(f, NULL, "{\"alg\":\"none\"}", NULL, NULL, NOW, "none"), PARLEY_EAUTH);
    assert_int_equal(check(f, f->key, "{\"alg\":\"HS256\"}", NULL, NULL, NOW, "HS256"),
                     PARLEY_EAUTH);
    assert_int_equal(
        check(f, f->key, "{\"alg\":\"ES256\",\"crit\":[\"x\"]}", NULL, NULL, NOW, "critical"),
        PARLEY_EPROTO);

    /* A changed payload under the original signature. */
    c = claims(NULL, NULL);
    t = token(f->key, hdr_ok, c);
    char *dot = strchr(t, '.') + 1;
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_true(verify(f, t, NOW, &cl, err) < 0);
    assert_string_equal(cl.sub, "");
    free(t);
    free(c);
    /* Not three parts. */
    assert_int_equal(verify(f, "abc.def", NOW, &cl, err), PARLEY_EPROTO);
    assert_int_equal(verify(f, "a.b.c.d", NOW, &cl, err), PARLEY_EPROTO);
}

static void test_oidc__discovery_and_keys(void **state)
{
    struct oidc_provider p;
    struct oidc_jwks *k = NULL;
    char err[256], *tok = NULL;
    const char *good = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/a\","
                       "\"token_endpoint\":\"" ISS "/t\",\"jwks_uri\":\"" ISS "/k\"}";
    (void)state;

    assert_int_equal(oidc_discovery_parse(good, strlen(good), ISS, &p, err, sizeof(err)), 0);
    assert_string_equal(p.token_endpoint, ISS "/t");
    assert_int_equal(oidc_discovery_parse(good, strlen(good), ISS "/x", &p, err, sizeof(err)),
                     PARLEY_EPROTO);
    assert_non_null(strstr(err, "issuer"));
    const char *plain = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/a\","
                        "\"token_endpoint\":\"http://idp.example/t\",\"jwks_uri\":\"" ISS "/k\"}";
    assert_int_equal(oidc_discovery_parse(plain, strlen(plain), ISS, &p, err, sizeof(err)),
                     PARLEY_EPROTO);
    assert_non_null(strstr(err, "token_endpoint"));
    const char *nos256 = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/a\","
                         "\"token_endpoint\":\"" ISS "/t\",\"jwks_uri\":\"" ISS "/k\","
                         "\"code_challenge_methods_supported\":[\"plain\"]}";
    assert_int_equal(oidc_discovery_parse(nos256, strlen(nos256), ISS, &p, err, sizeof(err)),
                     PARLEY_EPROTO);
    assert_non_null(strstr(err, "S256"));

    /* A 1024-bit RSA key is not usable. */
    char n[200], doc[400];
    uint8_t big[128];
    memset(big, 0xc5, sizeof(big));
    b64u(big, sizeof(big), n);
    snprintf(doc, sizeof(doc), "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", n);
    assert_int_equal(oidc_jwks_parse(doc, strlen(doc), &k, err, sizeof(err)), PARLEY_EPROTO);
    assert_null(k);
    assert_int_equal(oidc_jwks_parse("[]", 2, &k, err, sizeof(err)), PARLEY_EPROTO);

    assert_int_equal(
        oidc_token_response_parse("{\"error\":\"invalid_grant\"}", 25, &tok, err, sizeof(err)),
        PARLEY_EAUTH);
    assert_non_null(strstr(err, "invalid_grant"));
    assert_int_equal(
        oidc_token_response_parse("{\"access_token\":\"x\"}", 20, &tok, err, sizeof(err)),
        PARLEY_EPROTO);
    assert_int_equal(
        oidc_token_response_parse("{\"id_token\":\"a.b.c\"}", 20, &tok, err, sizeof(err)), 0);
    assert_string_equal(tok, "a.b.c");
    free(tok);
}

static void test_oidc__b64url_is_strict(void **state)
{
    uint8_t *out;
    size_t n;
    (void)state;

    assert_int_equal(b64url_decode("aGk", 3, 16, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "hi", 2);
    free(out);
    assert_int_equal(b64url_decode("aGl", 3, 16, &out, &n), PARLEY_EINVAL); /* bits left */
    assert_int_equal(b64url_decode("aGk=", 4, 16, &out, &n), PARLEY_EINVAL);
    assert_int_equal(b64url_decode("a+k", 3, 16, &out, &n), PARLEY_EINVAL);
    assert_int_equal(b64url_decode("a", 1, 16, &out, &n), PARLEY_EINVAL);
    assert_int_equal(b64url_decode("aGVsbG8", 7, 4, &out, &n), PARLEY_ETOOBIG);
    char *e = oidc_urlencode("a b&c=d/é~");
    assert_string_equal(e, "a%20b%26c%3Dd%2F%C3%A9~");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oidc__valid_token_gives_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oidc__bad_tokens_are_refused, setup, teardown),
        cmocka_unit_test(test_oidc__discovery_and_keys),
        cmocka_unit_test(test_oidc__b64url_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
