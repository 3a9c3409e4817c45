/* fuzz_config.c - the config-file parser and every setting's validator. */
#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    char err[1024];

    config_init(&c);
    if (config_load_buffer(&c, "fuzz.conf", (const char *)data, size, err, sizeof(err)) == 0)
        config_finish(&c, err, sizeof(err));
    config_release(&c);
    return 0;
}
