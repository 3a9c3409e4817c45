/* client_harness.c - see client_harness.h. */
#include "client_harness.h"

#include <stdlib.h>

#include <jansson.h>

struct parley_config *harness_client_config(const struct parleyd *p, const char *network_id,
                                            const char *path, const char *password)
{
    struct parley_config *cfg = NULL;
    char *pem = harness_read(p, "tls/cert.pem"), *json = NULL;
    json_t *doc = NULL;

    if (pem)
        doc = json_pack("{sisssisssssss[s]s{}}", "version", 1, "service_host", "127.0.0.1",
                        "service_port", p->port, "network_id", network_id, "network_name",
                        "Test network", "suite", "x25519", "pinned_certs", pem, "policy");
    if (doc)
        json = json_dumps(doc, JSON_COMPACT);
    if (json && parley_config_create(path, json, password) == 0)
        (void)parley_config_open(path, password, &cfg);
    free(json);
    json_decref(doc);
    free(pem);
    return cfg;
}
