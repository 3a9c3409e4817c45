/* fuzz_oidc.c - what an identity provider sends (oidc.h) on arbitrary
 * bytes. The first byte picks the parser: discovery document, JWK Set,
 * token endpoint answer, or an ID token checked against a fixed P-256 key
 * (the seed corpus holds a token that key signed, so the fuzzer starts
 * past the signature and reaches the claim checks). Whatever verifies has
 * a subject. */
#include "server/oidc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwks_doc[] =
    "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"f1\",\"use\":\"sig\",\"crv\":\"P-256\","
    "\"x\":\"4bsohrPF4z4ikQzP4j2BM9TF5NHqauPxvoA7xboUjsc\",\"y\":\"r3v4jSBI5BLOnZU8rawK6H2krTiiFvb_"
    "IEXEMwT5EDA\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct oidc_jwks *keys;
    char err[512], *s, *tok = NULL;
    struct oidc_provider p;
    struct oidc_jwks *k = NULL;
    struct oidc_claims cl;
    struct oidc_expect e = {"https://idp.example", "parley", "n0nce", 1800000100};

    if (size < 1)
        return 0;
    if (!keys && oidc_jwks_parse(jwks_doc, strlen(jwks_doc), &keys, err, sizeof(err)) != 0)
        abort();
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    switch (data[0] % 4) {
    case 0:
        if (oidc_discovery_parse(s, size - 1, "https://idp.example", &p, err, sizeof(err)) == 0 &&
            (strcmp(p.issuer, "https://idp.example") != 0 || !p.token_endpoint[0] ||
             !p.jwks_uri[0] || !p.authorization_endpoint[0]))
            abort();
        break;
    case 1:
        if (oidc_jwks_parse(s, size - 1, &k, err, sizeof(err)) == 0 &&
            (oidc_jwks_count(k) == 0 || oidc_jwks_count(k) > OIDC_MAX_KEYS))
            abort();
        oidc_jwks_free(k);
        break;
    case 2:
        if (oidc_token_response_parse(s, size - 1, &tok, err, sizeof(err)) == 0 && !tok)
            abort();
        free(tok);
        break;
    default:
        if (oidc_id_token_verify(s, keys, &e, &cl, err, sizeof(err)) == 0 && !cl.sub[0])
            abort();
        break;
    }
    free(s);
    return 0;
}
