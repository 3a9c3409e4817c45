/* oidc.h - parleyd as an OpenID Connect relying party: the parsers of what
 * an identity provider sends (discovery document, JWKS, token response, ID
 * token) and the HTTPS calls that fetch them.
 *
 * Everything here is pure or blocking (libcurl): call it on a worker, never
 * on the loop thread. The parsers take bytes from outside and are fuzzed by
 * fuzz/server/fuzz_oidc.c. Only asymmetric ID token signatures are
 * accepted (RS256, ES256): "none" and the HMAC algorithms are refused, so
 * that a token cannot be forged with the (public) client id or an empty
 * signature. See docs/protocol.md, "Single sign-on". */
#ifndef PARLEY_SERVER_OIDC_H
#define PARLEY_SERVER_OIDC_H

#include "common/compat.h"
#include "urlcheck.h"

#define OIDC_MAX_DOC   (256 * 1024) /* the largest document we read */
#define OIDC_MAX_JWT   (16 * 1024)
#define OIDC_MAX_KEYS  32
#define OIDC_SKEW      60 /* seconds of clock difference tolerated */
#define OIDC_CLAIM_MAX 256

/* What discovery tells us (OpenID Connect Discovery 1.0 §3). */
struct oidc_provider {
    char issuer[URLCHECK_MAX + 1];
    char authorization_endpoint[URLCHECK_MAX + 1];
    char token_endpoint[URLCHECK_MAX + 1];
    char jwks_uri[URLCHECK_MAX + 1];
};

/* Parse a discovery document. Its "issuer" must equal `want_issuer`
 * exactly (§4.3), and every endpoint must pass urlcheck_parse (https, no
 * user information). If the document lists code_challenge_methods_supported,
 * it must include S256. Returns 0 or PARLEY_EINVAL / PARLEY_EPROTO with a
 * message in err. */
int oidc_discovery_parse(const char *doc, size_t len, const char *want_issuer,
                         struct oidc_provider *out, char *err, size_t errlen);

/* A parsed JWK Set: the RSA (2048 bits or more) and P-256 signing keys it
 * holds; others are skipped. */
struct oidc_jwks;
int oidc_jwks_parse(const char *doc, size_t len, struct oidc_jwks **out, char *err, size_t errlen);
size_t oidc_jwks_count(const struct oidc_jwks *k);
void oidc_jwks_free(struct oidc_jwks *k);

/* The "id_token" member of a token endpoint answer (RFC 6749 §5.1), copied
 * into a malloc'd string. PARLEY_EPROTO when missing or not a string; an
 * "error" answer (§5.2) gives PARLEY_EAUTH with its code in err. */
int oidc_token_response_parse(const char *doc, size_t len, char **id_token, char *err,
                              size_t errlen);

struct oidc_expect {
    const char *issuer;
    const char *client_id;
    const char *nonce;
    int64_t now;
};

struct oidc_claims {
    char sub[OIDC_CLAIM_MAX];
    char email[OIDC_CLAIM_MAX];
    bool email_verified;
    char preferred_username[OIDC_CLAIM_MAX];
    char given_name[OIDC_CLAIM_MAX];
    char family_name[OIDC_CLAIM_MAX];
};

/* Verify an ID token (OpenID Connect Core §3.1.3.7): compact JWS with alg
 * RS256 or ES256, signed by a key of `keys` (by "kid" when the header has
 * one), iss equal to e->issuer, aud holding e->client_id (and azp, if
 * present, equal to it), exp in the future and iat not in the future (both
 * within OIDC_SKEW), nonce equal to e->nonce (constant time). Fills *out.
 * Returns 0, PARLEY_ENOTFOUND (no key with that kid: refetch the JWKS once),
 * PARLEY_EAUTH (bad signature, or a claim that does not match: err says
 * which) or PARLEY_EPROTO (malformed). */
int oidc_id_token_verify(const char *jwt, const struct oidc_jwks *keys, const struct oidc_expect *e,
                         struct oidc_claims *out, char *err, size_t errlen);

/* One HTTPS call to an identity provider. `form` NULL: GET; else POST
 * application/x-www-form-urlencoded. `basic_user`/`basic_pass` (both or
 * neither): HTTP Basic client authentication (RFC 6749 §2.3.1). `ca_file`
 * NULL: the system trust store. Connections to private addresses are
 * refused at connect time (after resolution, so DNS rebinding does not
 * help) unless allow_private; redirects are not followed; at most
 * OIDC_MAX_DOC bytes are read; 10 s timeout. Returns 0 with *status and a
 * malloc'd NUL-terminated body, or PARLEY_EPERM / PARLEY_EIO / PARLEY_ETOOBIG
 * with a message in err (never holding the form, which carries secrets). */
int oidc_http(const char *url, const char *form, const char *basic_user, const char *basic_pass,
              const char *ca_file, bool allow_private, long *status, char **body, size_t *len,
              char *err, size_t errlen);

/* Percent-encode `s` for a URL query or a form (RFC 3986 unreserved kept).
 * Returns a malloc'd string. */
char *oidc_urlencode(const char *s);

#endif
