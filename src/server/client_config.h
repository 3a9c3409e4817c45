/* client_config.h - client configuration files made by the server.
 *
 * The file is the one libparley reads (docs/client-protocol.md, "Client
 * configuration file"): the password-based container of src/proto/pbe.h,
 * with the default Argon2id costs, around one compact JSON document with
 * sorted keys. libparley's parley_config_seal() seals the same way; the
 * integration test opens what this code makes with parley_config_open_mem()
 * and registers a user with it. */
#ifndef PARLEY_SERVER_CLIENT_CONFIG_H
#define PARLEY_SERVER_CLIENT_CONFIG_H

#include "common/buf.h"
#include "common/compat.h"

#include <jansson.h>

#define CCONF_MAX_HOST 253
#define CCONF_MAX_PINS 8
#define CCONF_MAX_PEM  (16 * 1024)
#define CCONF_MAX_JSON (256 * 1024)

struct cconf_doc {
    const char *service_host;
    int service_port;
    const char *network_id;
    const char *network_name;
    const char *suite;    /* "x25519" or "p384" */
    const json_t *pins;   /* array of PEM certificates (borrowed) */
    const json_t *policy; /* object or NULL (borrowed) */
    bool no_pinning;      /* no pins: clients use the system trust store */
};

/* Check that `host` is a host name or an IP address literal a client can
 * dial: 1-253 characters of letters, digits, '.', '-', ':', '[' and ']'. */
bool cconf_host_ok(const char *host);

/* Check one PEM certificate (at most CCONF_MAX_PEM bytes, parsed by
 * OpenSSL). */
bool cconf_pem_ok(const char *pem, size_t len);

/* Build and check the document. Returns 0 and sets *json (free with free)
 * or PARLEY_EINVAL with a message naming the field in err. */
int cconf_document(const struct cconf_doc *d, char **json, char *err, size_t errlen);

/* Seal `json` under `password` into `out` (a buf with room for the
 * container). Returns 0 or a PARLEY_E* code of pbe_seal. */
int cconf_seal(const char *json, const char *password, struct buf *out);

#endif
