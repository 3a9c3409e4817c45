/* fuzz_envelope.c - the envelope parsers: the server's routing view and
 * per-device split of a full envelope, and a device opening a delivery
 * (with real keys, so valid seeds reach the signature checks and the
 * decryption), with and without the verified-certificate cache. */
#include "fuzz_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_world world;
static struct keys_cert_cache certs;
static int ready;

/* Each receiver opens it twice: without and with the certificate cache
 * (which the first receiver's opening may have filled). */
static void try_open(const uint8_t *d, size_t len)
{
    uint8_t sender[KEYS_ID_LEN];

    (void)envelope_delivery_sender(d, len, sender);
    for (unsigned i = 0; i < 4; i++) {
        struct envelope_open_cb cb = {fuzz_lookup, NULL, &world, NULL, 0, i & 1 ? &certs : NULL};
        struct envelope_opened o;
        if (envelope_open(d, len, &world.receiver[i / 2].dev, &cb, &o) == 0)
            envelope_opened_release(&o);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct envelope_route r;
    struct envelope_splitter sp;

    if (!ready) {
        fuzz_world_make(&world);
        if (keys_cert_cache_init(&certs, 8) < 0)
            abort();
        ready = 1;
    }
    /* As a delivery. */
    try_open(data, size);
    /* As a full envelope on the server, then at each recipient. */
    if (envelope_route_parse(data, size, &r) == 0 && envelope_splitter_init(&sp, data, size) == 0) {
        for (size_t i = 0; i < r.n_wraps && i < 8; i++) {
            struct buf d = BUF_INIT(ENVELOPE_MAX_CONTENT + 65536);
            if (envelope_splitter_for(&sp, envelope_route_device(&r, i, NULL), &d) == 0)
                try_open(d.data, d.len);
            buf_release(&d);
        }
        envelope_splitter_release(&sp);
    }
    return 0;
}
