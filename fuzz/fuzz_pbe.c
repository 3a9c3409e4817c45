/* fuzz_pbe.c - the password-based container: parsing with the default
 * limits, and opening with limits so small that Argon2 stays cheap. */
#include "fuzz_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pbe_header h;
    struct buf out = BUF_INIT(1 << 20);

    (void)pbe_parse(data, size, NULL, &h);
    (void)pbe_open((const uint8_t *)FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), data, size,
                   &fuzz_pbe_limits, &out);
    buf_release_secure(&out);
    return 0;
}
