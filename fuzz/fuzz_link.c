/* fuzz_link.c - the device-linking formats (src/proto/link.c): typed
 * codes, offers and transfer headers as the relay and a device read them,
 * and chunks under a fixed transfer key. The keys are fixed, so no Argon2
 * runs per input. */
#include "fuzz_world.h"

#include "proto/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct link_keys k = {{1}, {2}};
    const struct suite *s = suite_get(data && size ? 1 + (data[0] & 1) : 1);
    uint8_t code[LINK_CODE_BYTES], dev[KEYS_ID_LEN];
    struct link_transfer t;
    static struct hpke_key sk[2];
    static bool sk_ready[2];
    struct hpke_key pk;
    struct buf out = BUF_INIT(LINK_CHUNK_MAX);
    char text[64];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

    memcpy(text, data, n);
    text[n] = '\0';
    (void)link_code_parse(text, code);
    (void)link_offer_parse(s, data, size, dev);
    hpke_key_init(&pk);
    if (link_offer_open(s, &k, data, size, dev, &pk) == 0)
        hpke_key_release(&pk);
    /* One ephemeral key per suite for the whole run. */
    if (!sk_ready[s->id - 1]) {
        struct prim pr;
        if (prim_init(&pr) == 0 && hpke_key_generate(&sk[s->id - 1], &pr, s->kem_id) == 0)
            sk_ready[s->id - 1] = true;
        prim_release(&pr);
    }
    if (sk_ready[s->id - 1])
        (void)link_header_open(s, &k, data, size / 2, &sk[s->id - 1], data + size / 2,
                               size - size / 2, &t);
    memset(&t, 0, sizeof(t));
    t.n_chunks = 4;
    (void)link_chunk_open(&t, k.link_id, data && size ? data[0] & 7 : 0, data, size, &out);
    buf_release(&out);
    return 0;
}
