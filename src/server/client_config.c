/* client_config.c - build, check and seal client configuration files.
 *
 * The checks are the client's (src/client/config.c) so that a file the
 * server hands out is one every client opens; the sealing is the shared
 * container of src/proto/pbe.c. */
#include "client_config.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proto/pbe.h"

bool cconf_host_ok(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > CCONF_MAX_HOST)
        return false;
    for (const char *s = host; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        if (!ok)
            return false;
    }
    return true;
}

bool cconf_pem_ok(const char *pem, size_t len)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    BIO *bio;
    X509 *x;

    if (len > CCONF_MAX_PEM || strlen(pem) != len || strncmp(pem, begin, sizeof(begin) - 1) != 0 ||
        !strstr(pem, "-----END CERTIFICATE-----"))
        return false;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return false;
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    X509_free(x);
    return x != NULL;
}

int cconf_document(const struct cconf_doc *d, char **json, char *err, size_t errlen)
{
    size_t n = json_array_size(d->pins);
    json_t *doc, *policy;

    *json = NULL;
    if (!d->service_host || !cconf_host_ok(d->service_host)) {
        snprintf(err, errlen,
                 "field 'service_host' must be a host name or IP address of 1 to %d characters",
                 CCONF_MAX_HOST);
        return PARLEY_EINVAL;
    }
    if (d->service_port < 1 || d->service_port > 65535) {
        snprintf(err, errlen, "field 'service_port' must be from 1 to 65535");
        return PARLEY_EINVAL;
    }
    if (d->no_pinning && n != 0) {
        snprintf(err, errlen,
                 "field 'pinned_certs' must be left out when 'certificate_pinning' is false");
        return PARLEY_EINVAL;
    }
    if (!d->no_pinning && (!json_is_array(d->pins) || n == 0 || n > CCONF_MAX_PINS)) {
        snprintf(err, errlen, "field 'pinned_certs' must hold 1 to %d PEM certificates",
                 CCONF_MAX_PINS);
        return PARLEY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(d->pins, i);
        if (!json_is_string(v) || !cconf_pem_ok(json_string_value(v), json_string_length(v))) {
            snprintf(err, errlen, "field 'pinned_certs': item %zu is not a PEM certificate", i);
            return PARLEY_EINVAL;
        }
    }
    if (strcmp(d->suite, "x25519") != 0 && strcmp(d->suite, "p384") != 0) {
        snprintf(err, errlen, "field 'suite' must be \"x25519\" or \"p384\"");
        return PARLEY_EINVAL;
    }
    policy =
        d->policy && json_is_object(d->policy) ? json_incref((json_t *)d->policy) : json_object();
    doc = json_pack("{s:i,s:s,s:i,s:s,s:s,s:s,s:O,s:o}", "version", 1, "service_host",
                    d->service_host, "service_port", d->service_port, "network_id", d->network_id,
                    "network_name", d->network_name, "suite", d->suite, "pinned_certs", d->pins,
                    "policy", policy);
    /* Absent means true (docs/client-protocol.md), so files with pins keep
     * the form older clients read. */
    if (doc && d->no_pinning)
        json_object_set_new(doc, "certificate_pinning", json_false());
    if (!doc) {
        snprintf(err, errlen, "the configuration could not be built");
        return PARLEY_EINVAL;
    }
    /* The client seals the normalised form; so does the server. */
    *json = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!*json)
        return PARLEY_ENOMEM;
    if (strlen(*json) > CCONF_MAX_JSON) {
        free(*json);
        *json = NULL;
        snprintf(err, errlen, "the configuration is over %d bytes", CCONF_MAX_JSON);
        return PARLEY_EINVAL;
    }
    return 0;
}

int cconf_seal(const char *json, const char *password, struct buf *out)
{
    return pbe_seal((const uint8_t *)password, strlen(password), NULL, (const uint8_t *)json,
                    strlen(json), out);
}
