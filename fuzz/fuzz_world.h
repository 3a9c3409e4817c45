/* fuzz_world.h - a deterministic set of keys shared by the proto fuzz
 * targets and by gen_corpus.c, so that the seed corpus holds envelopes and
 * bundles the fuzzers can open all the way (header only). */
#ifndef PARLEY_FUZZ_WORLD_H
#define PARLEY_FUZZ_WORLD_H

#include <openssl/evp.h>

#include "proto/envelope.h"
#include "proto/pbe.h"

#define FUZZ_PASSWORD "fuzz"
/* Costs small enough to run Argon2 on every input. */
static const struct pbe_params fuzz_pbe_params PARLEY_UNUSED = {1, 64, 1};
static const struct pbe_limits fuzz_pbe_limits PARLEY_UNUSED = {1, 64, 1, 1 << 16};

struct fuzz_party {
    struct keys_identity id;
    struct keys_device dev;
};

struct fuzz_world {
    struct fuzz_party sender[2], receiver[2]; /* [0] default suite, [1] fips */
};

static uint8_t fuzz_seed[32] PARLEY_UNUSED;
static uint64_t fuzz_counter PARLEY_UNUSED;

/* SHA-256 in counter mode over a fixed seed: the same keys on every run. */
static inline int fuzz_rand(void *arg, uint8_t *buf, size_t n)
{
    (void)arg;
    while (n) {
        uint8_t in[40], out[32];
        unsigned ol;
        size_t take = n < 32 ? n : 32;
        memcpy(in, fuzz_seed, 32);
        for (int i = 0; i < 8; i++)
            in[32 + i] = (uint8_t)(fuzz_counter >> (56 - 8 * i));
        fuzz_counter++;
        if (!EVP_Digest(in, sizeof(in), out, &ol, EVP_sha256(), NULL))
            return -1;
        memcpy(buf, out, take);
        buf += take;
        n -= take;
    }
    return 0;
}

static inline void fuzz_party_make(struct fuzz_party *p, unsigned suite, const char *user)
{
    uint8_t uid[KEYS_ID_LEN] = {0};
    const struct suite *s = suite_get(suite);
    memcpy(uid, user, strlen(user) < KEYS_ID_LEN ? strlen(user) : KEYS_ID_LEN);
    if (keys_identity_generate(&p->id, s, uid) < 0 || keys_device_generate(&p->dev, s, uid) < 0 ||
        keys_identity_certify(&p->id, &p->dev, 1700000000) < 0 ||
        keys_device_add_prekeys(&p->dev, 2, 1700000000) < 0 ||
        keys_device_rotate_fallback(&p->dev, 1700000000) < 0)
        abort();
}

static inline void fuzz_world_make(struct fuzz_world *w)
{
    unsigned ol;
    EVP_Digest("parley fuzz world", 17, fuzz_seed, &ol, EVP_sha256(), NULL);
    fuzz_counter = 0;
    proto_rand_set_for_testing(fuzz_rand, NULL);
    for (unsigned i = 0; i < 2; i++) {
        fuzz_party_make(&w->sender[i], SUITE_DEFAULT + i, i ? "fuzz-sender-fips" : "fuzz-sender");
        fuzz_party_make(&w->receiver[i], SUITE_DEFAULT + i, i ? "fuzz-rcvr-fips" : "fuzz-rcvr");
    }
    proto_rand_set_for_testing(NULL, NULL);
}

static inline void fuzz_world_release(struct fuzz_world *w)
{
    for (unsigned i = 0; i < 2; i++) {
        keys_device_release(&w->sender[i].dev);
        keys_identity_release(&w->sender[i].id);
        keys_device_release(&w->receiver[i].dev);
        keys_identity_release(&w->receiver[i].id);
    }
}

static inline int fuzz_lookup(void *arg, const uint8_t user[KEYS_ID_LEN],
                              const struct sig_key **out)
{
    struct fuzz_world *w = arg;
    for (unsigned i = 0; i < 2; i++)
        if (!memcmp(w->sender[i].id.user_id, user, KEYS_ID_LEN)) {
            *out = &w->sender[i].id.key;
            return 0;
        }
    return PARLEY_ENOTFOUND;
}

#endif
