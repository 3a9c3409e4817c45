/* fuzz_bundle.c - key bundles (verify, and the server's keyless take),
 * device certificates, and the key-store and identity loaders. */
#include "fuzz_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_world world;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keys_bundle b;
    struct keys_cert c;
    struct keys_device dev;
    struct keys_identity id;
    struct buf one = BUF_INIT(1 << 20), rest = BUF_INIT(1 << 20);

    if (!ready) {
        fuzz_world_make(&world);
        ready = 1;
    }
    if (keys_bundle_verify(data, size, NULL, &b) == 0)
        keys_bundle_release(&b);
    for (unsigned i = 0; i < 2; i++)
        if (keys_bundle_verify(data, size, &world.receiver[i].id.key, &b) == 0)
            keys_bundle_release(&b);
    if (keys_bundle_take(data, size, &one, &rest) == 0 &&
        keys_bundle_verify(one.data, one.len, NULL, &b) == 0)
        keys_bundle_release(&b);
    if (keys_cert_verify(data, size, NULL, NULL, &c) == 0)
        keys_cert_release(&c);
    if (keys_device_load(&dev, data, size) == 0)
        keys_device_release(&dev);
    if (keys_identity_load(&id, data, size) == 0)
        keys_identity_release(&id);
    buf_release(&one);
    buf_release(&rest);
    return 0;
}
