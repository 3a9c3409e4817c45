/* config.h - the client configuration file: a password-based container
 * (src/proto/pbe.h) around one JSON document naming the service, the
 * network, the cipher suite, the pinned server certificates and the
 * network's client policy (docs/client-protocol.md, "Client configuration
 * file"). */
#ifndef PARLEY_CLIENT_CONFIG_H
#define PARLEY_CLIENT_CONFIG_H

#include "common/compat.h"

#include <parley/parley.h>

#define CONFIG_MAX_JSON   (256 * 1024)
#define CONFIG_MAX_PINS   8
#define CONFIG_MAX_PEM    (16 * 1024)
#define CONFIG_MAX_HOST   253
#define CONFIG_MAX_NET_ID 64
#define CONFIG_MAX_NAME   256

struct parley_config {
    char *host;
    int port;
    char *network_id;
    char *network_name;
    char *suite_name; /* "x25519" or "p384" */
    unsigned suite_id;
    char **pins; /* PEM certificates */
    size_t n_pins;
    bool pinning; /* false: no pins, the system trust store decides */
    char *policy; /* compact JSON object */
    char *json;   /* the whole document, compact, keys sorted */
};

/* Parse and check a configuration document (`len` bytes, not necessarily
 * NUL-terminated). Returns 0, PARLEY_ECONFIG with a reason in err,
 * PARLEY_ENOMEM. Free *out with parley_config_free. */
int config_parse(const char *json, size_t len, struct parley_config **out, char *err,
                 size_t errlen);

/* Write the pinned certificates to `path` as one PEM file (the trust
 * anchors of both TLS stacks). Returns 0 or PARLEY_EIO. */
int config_write_pins(const struct parley_config *cfg, const char *path);

#endif
