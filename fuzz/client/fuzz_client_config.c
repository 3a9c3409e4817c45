/* fuzz_client_config.c - the JSON document inside a client configuration
 * file (the container around it is fuzzed by fuzz_pbe). */
#include "client/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parley_config *cfg = NULL;
    char err[256];

    if (config_parse((const char *)data, size, &cfg, err, sizeof(err)) == 0) {
        /* What was accepted must be usable as the accessors promise. */
        if (!cfg || cfg->port < 1 || cfg->port > 65535 || cfg->n_pins == 0 ||
            !parley_config_service_host(cfg) || !parley_config_policy(cfg))
            __builtin_trap();
        parley_config_free(cfg);
    } else if (cfg) {
        __builtin_trap();
    }
    return 0;
}
