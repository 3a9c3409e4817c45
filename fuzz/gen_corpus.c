/* gen_corpus.c - writes the seed corpora of the proto fuzz targets into
 * fuzz/corpus/ from the deterministic keys of fuzz_world.h:
 *   gen_corpus fuzz/corpus
 * Built with the fuzz targets; rerun it when a format changes. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz_world.h"
#include "proto/link.h"

static void put(const char *dir, const char *target, const char *name, const struct buf *b)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, target);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        abort();
    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0)
        abort();
}

int main(int argc, char **argv)
{
    static const char *suffix[] = {"default", "fips"};
    struct fuzz_world w;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    fuzz_world_make(&w);
    for (unsigned i = 0; i < 2; i++) {
        struct keys_device *rd = &w.receiver[i].dev;
        struct envelope_recipient r[2] = {
            {rd->device_id, rd->prekeys[0].id, &rd->prekeys[0].key},
            {w.sender[i].dev.device_id, w.sender[i].dev.prekeys[0].id,
             &w.sender[i].dev.prekeys[0].key},
        };
        struct envelope_header h = {0};
        struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20), bundle = BUF_INIT(1 << 20);
        struct buf one = BUF_INIT(1 << 20), rest = BUF_INIT(1 << 20), store = BUF_INIT(1 << 20);
        struct buf ident = BUF_INIT(1 << 20);
        char name[64];

        h.flags = ENVELOPE_BURN_ON_READ;
        h.expires_at = 1900000000;
        memcpy(h.conversation, "fuzz-conversatio", KEYS_ID_LEN);
        if (envelope_seal(&w.sender[i].dev, &h, r, 2, (const uint8_t *)"hello, fuzzer", 13, &env) <
                0 ||
            envelope_split(env.data, env.len, rd->device_id, &d) < 0 ||
            keys_device_bundle(rd, 0, &bundle) < 0 ||
            keys_bundle_take(bundle.data, bundle.len, &one, &rest) < 0 ||
            keys_device_save(rd, &store) < 0 || keys_identity_save(&w.receiver[i].id, &ident) < 0)
            abort();
        snprintf(name, sizeof(name), "full-%s", suffix[i]);
        put(argv[1], "fuzz_envelope", name, &env);
        snprintf(name, sizeof(name), "delivery-%s", suffix[i]);
        put(argv[1], "fuzz_envelope", name, &d);
        snprintf(name, sizeof(name), "bundle-%s", suffix[i]);
        put(argv[1], "fuzz_bundle", name, &bundle);
        snprintf(name, sizeof(name), "single-%s", suffix[i]);
        put(argv[1], "fuzz_bundle", name, &one);
        snprintf(name, sizeof(name), "store-%s", suffix[i]);
        put(argv[1], "fuzz_bundle", name, &store);
        snprintf(name, sizeof(name), "identity-%s", suffix[i]);
        put(argv[1], "fuzz_bundle", name, &ident);
        buf_release(&env);
        buf_release(&d);
        buf_release(&bundle);
        buf_release(&one);
        buf_release(&rest);
        buf_release(&store);
        buf_release(&ident);
    }
    {
        struct buf c = BUF_INIT(1 << 20);
        if (pbe_seal((const uint8_t *)FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), &fuzz_pbe_params,
                     (const uint8_t *)"host=chat.example.org\n", 22, &c) < 0)
            abort();
        put(argv[1], "fuzz_pbe", "config", &c);
        buf_release(&c);
    }
    /* Device linking: a typed code, and an offer and a header under the
     * fixed keys of fuzz_link.c. */
    for (unsigned i = 0; i < 2; i++) {
        static const struct link_keys k = {{1}, {2}};
        const struct suite *s = suite_get(i + 1);
        struct link_transfer t = {.n_chunks = 1, .total = 10};
        struct buf offer = BUF_INIT(LINK_OFFER_MAX), hdr = BUF_INIT(LINK_HEADER_MAX);
        struct buf code = BUF_INIT(64);
        struct hpke_key eph;
        struct prim pr;
        char name[64];
        if (prim_init(&pr) < 0 || hpke_key_generate(&eph, &pr, s->kem_id) < 0 ||
            link_offer_make(s, &k, w.receiver[i].dev.device_id, &eph, &offer) < 0 ||
            link_header_make(s, &k, offer.data, offer.len, &eph, &t, &hdr) < 0 ||
            buf_append_str(&code, "7KQ2-M9XD-4TNB-W0ZE") < 0)
            abort();
        snprintf(name, sizeof(name), "offer-%s", suffix[i]);
        put(argv[1], "fuzz_link", name, &offer);
        snprintf(name, sizeof(name), "header-%s", suffix[i]);
        put(argv[1], "fuzz_link", name, &hdr);
        put(argv[1], "fuzz_link", "code", &code);
        hpke_key_release(&eph);
        prim_release(&pr);
        buf_release(&offer);
        buf_release(&hdr);
        buf_release(&code);
    }
    fuzz_world_release(&w);
    return 0;
}
