/* envelope_test.c - sealing, splitting and opening envelopes, and every
 * refusal: tampering, strangers, replays, expiry, deleted pre-keys. */
#include "testutil.h"

#include <openssl/crypto.h>

#include "proto/envelope.h"

#define MAX_PARTIES    8
#define VECTOR1_SAFETY "19665 51641 16892 18277 67712 34835 33186 19169 28494 16948 83368 21074"
#define VECTOR1_QR                                                                                 \
    "AEA74MCXJAY5YCT7ZBMXBLRLMX6BU74U6VSRTBQ4BUQIKFI7PJJSBXXQZABB5QWSN2DCZIMAI3X3KLRDY2KR6FFFQBPI" \
    "VKBOZ"                                                                                        \
    "TBOQEQC5I"
#define VECTOR1_SHA256 "0090569d0baa5dd5ca7db31e14f68b4e299790f4246b7a06d04d16cc38872b7d"

struct party {
    uint8_t user[KEYS_ID_LEN];
    struct keys_identity id;
    struct keys_device dev;
};

struct world {
    const struct suite *suite;
    struct party p[MAX_PARTIES];
    size_t n;
    struct replay_cache replay;
};

static void party_make(struct world *w, const char *name, size_t n_onetime)
{
    struct party *p = &w->p[w->n++];
    memset(p->user, 0, KEYS_ID_LEN);
    memcpy(p->user, name, strlen(name) < KEYS_ID_LEN ? strlen(name) : KEYS_ID_LEN);
    assert_int_equal(keys_identity_generate(&p->id, w->suite, p->user), 0);
    assert_int_equal(keys_device_generate(&p->dev, w->suite, p->user), 0);
    assert_int_equal(keys_identity_certify(&p->id, &p->dev, 1700000000), 0);
    assert_int_equal(keys_device_add_prekeys(&p->dev, n_onetime, 1700000000), 0);
    assert_int_equal(keys_device_rotate_fallback(&p->dev, 1700000000), 0);
}

static void world_make(struct world *w, unsigned suite, size_t n)
{
    static const char *names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace"};
    memset(w, 0, sizeof(*w));
    w->suite = suite_get(suite);
    for (size_t i = 0; i < n; i++)
        party_make(w, names[i], 2);
    assert_int_equal(replay_cache_init(&w->replay, 64), 0);
}

static void world_release(struct world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        keys_device_release(&w->p[i].dev);
        keys_identity_release(&w->p[i].id);
    }
    replay_cache_release(&w->replay);
}

/* The directory of pinned identity keys a client keeps. */
static int lookup(void *arg, const uint8_t user[KEYS_ID_LEN], const struct sig_key **out)
{
    struct world *w = arg;
    for (size_t i = 0; i < w->n; i++)
        if (!memcmp(w->p[i].user, user, KEYS_ID_LEN)) {
            *out = &w->p[i].id.key;
            return 0;
        }
    return PARLEY_ENOTFOUND;
}

static struct envelope_open_cb cb_for(struct world *w)
{
    struct envelope_open_cb cb = {lookup, replay_cache_cb, w, &w->replay, 1700000100, NULL};
    return cb;
}

/* Alice (p[0]) seals for the first pre-key of parties [1, n). */
static void seal(struct world *w, size_t n, const char *msg, struct buf *env, uint8_t flags,
                 uint64_t expires)
{
    struct envelope_recipient r[MAX_PARTIES];
    struct envelope_header h = {0};

    h.flags = flags;
    h.expires_at = expires;
    memcpy(h.conversation, "conversation-001", KEYS_ID_LEN);
    for (size_t i = 1; i < n; i++) {
        const struct keys_prekey *pk = &w->p[i].dev.prekeys[0];
        r[i - 1] = (struct envelope_recipient){w->p[i].dev.device_id, pk->id, &pk->key};
    }
    assert_int_equal(
        envelope_seal(&w->p[0].dev, &h, r, n - 1, (const uint8_t *)msg, strlen(msg), env), 0);
}

static int open_as(struct world *w, size_t who, const uint8_t *d, size_t len,
                   struct envelope_opened *o)
{
    struct envelope_open_cb cb = cb_for(w);
    return envelope_open(d, len, &w->p[who].dev, &cb, o);
}

static void roundtrip(unsigned suite)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20);
    struct envelope_route r;
    static const char msg[] = "the server never sees this";

    world_make(&w, suite, 4);
    seal(&w, 4, msg, &env, ENVELOPE_BURN_ON_READ, 1800000000);
    assert_int_equal(envelope_route_parse(env.data, env.len, &r), 0);
    assert_int_equal(r.n_wraps, 3);
    assert_int_equal(r.hdr.flags, ENVELOPE_BURN_ON_READ);
    assert_int_equal(r.hdr.expires_at, 1800000000);
    assert_memory_equal(r.hdr.sender_device, w.p[0].dev.device_id, KEYS_ID_LEN);
    for (size_t i = 1; i < 4; i++) {
        struct buf d = BUF_INIT(1 << 20);
        struct envelope_opened o;
        uint32_t pid;
        assert_memory_equal(envelope_route_device(&r, i - 1, &pid), w.p[i].dev.device_id,
                            KEYS_ID_LEN);
        assert_int_equal(pid, w.p[i].dev.prekeys[0].id);
        assert_int_equal(envelope_split(env.data, env.len, w.p[i].dev.device_id, &d), 0);
        /* A device receives one wrap, not three. */
        assert_true(d.len < env.len);
        assert_int_equal(open_as(&w, i, d.data, d.len, &o), 0);
        assert_int_equal(o.pt_len, strlen(msg));
        assert_memory_equal(o.pt, msg, o.pt_len);
        assert_memory_equal(o.sender_user, w.p[0].user, KEYS_ID_LEN);
        assert_memory_equal(o.hdr.msg_id, r.hdr.msg_id, KEYS_ID_LEN);
        assert_int_equal(o.prekey_kind, KEYS_PREKEY_ONETIME);
        envelope_opened_release(&o);
        /* The cache is per receiving device in real life; reset it here. */
        replay_cache_release(&w.replay);
        assert_int_equal(replay_cache_init(&w.replay, 64), 0);
        buf_release(&d);
    }
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__roundtrip_default(void **state)
{
    roundtrip(SUITE_DEFAULT);
}

static void test_envelope__roundtrip_fips(void **state)
{
    roundtrip(SUITE_FIPS);
}

static void flips(unsigned suite)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;

    world_make(&w, suite, 4);
    seal(&w, 4, "flip me", &env, 0, 0);
    assert_int_equal(envelope_split(env.data, env.len, w.p[2].dev.device_id, &d), 0);
    /* Every byte of the delivery. */
    for (size_t i = 0; i < d.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            d.data[i] ^= (uint8_t)(1 << bit);
            assert_true(open_as(&w, 2, d.data, d.len, &o) < 0);
            d.data[i] ^= (uint8_t)(1 << bit);
        }
    }
    /* Every truncation. */
    for (size_t l = 0; l < d.len; l++)
        assert_true(open_as(&w, 2, d.data, l, &o) < 0);
    /* Every byte of the full envelope, split and opened by the device. */
    for (size_t i = 0; i < env.len; i++) {
        struct buf d2 = BUF_INIT(1 << 20);
        env.data[i] ^= 0x01;
        if (envelope_split(env.data, env.len, w.p[2].dev.device_id, &d2) == 0)
            assert_true(open_as(&w, 2, d2.data, d2.len, &o) < 0);
        env.data[i] ^= 0x01;
        buf_release(&d2);
    }
    /* Untouched, it still opens. */
    assert_int_equal(open_as(&w, 2, d.data, d.len, &o), 0);
    envelope_opened_release(&o);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__any_flipped_byte_fails_default(void **state)
{
    flips(SUITE_DEFAULT);
}

static void test_envelope__any_flipped_byte_fails_fips(void **state)
{
    flips(SUITE_FIPS);
}

static void test_envelope__non_recipient_cannot_open(void **state)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;

    world_make(&w, SUITE_DEFAULT, 4);
    seal(&w, 3, "for bob and carol only", &env, 0, 0); /* dave (p[3]) is not a recipient */
    assert_int_equal(envelope_split(env.data, env.len, w.p[3].dev.device_id, &d), PARLEY_ENOTFOUND);
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    /* Bob's delivery in Dave's hands: not his wrap. */
    assert_int_equal(open_as(&w, 3, d.data, d.len, &o), PARLEY_EPERM);
    /* Even with Bob's device id and pre-key ids, Dave's keys do not open it. */
    memcpy(w.p[3].dev.device_id, w.p[1].dev.device_id, KEYS_ID_LEN);
    for (size_t i = 0; i < w.p[3].dev.n_prekeys; i++)
        w.p[3].dev.prekeys[i].id = w.p[1].dev.prekeys[i].id;
    assert_int_equal(open_as(&w, 3, d.data, d.len, &o), PARLEY_EAUTH);
    assert_null(o.pt);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__replay_is_rejected(void **state)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;

    world_make(&w, SUITE_DEFAULT, 2);
    seal(&w, 2, "once", &env, 0, 0);
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), 0);
    envelope_opened_release(&o);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), PARLEY_EREPLAY);
    assert_null(o.pt);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__forward_secrecy(void **state)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;
    struct keys_device copy;
    struct buf saved = BUF_INIT(KEYS_MAX_STORE);

    world_make(&w, SUITE_DEFAULT, 2);
    seal(&w, 2, "read once, then gone", &env, 0, 0);
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), 0);
    assert_int_equal(o.prekey_kind, KEYS_PREKEY_ONETIME);
    /* The client deletes the one-time pre-key after opening. */
    assert_int_equal(keys_device_consume_prekey(&w.p[1].dev, o.prekey_id), 0);
    envelope_opened_release(&o);
    /* Later, an attacker holds everything the device still has (identity,
     * device signing key, fallback and other pre-keys, via its key store)
     * and a recorded copy of the delivery: it cannot open it. */
    assert_int_equal(keys_device_save(&w.p[1].dev, &saved), 0);
    assert_int_equal(keys_device_load(&copy, saved.data, saved.len), 0);
    replay_cache_release(&w.replay);
    assert_int_equal(replay_cache_init(&w.replay, 64), 0);
    {
        struct envelope_open_cb cb = cb_for(&w);
        assert_int_equal(envelope_open(d.data, d.len, &copy, &cb, &o), PARLEY_ENOTFOUND);
        /* Nor by trying every key it holds under the pre-key id named. */
        for (size_t i = 0; i < copy.n_prekeys; i++) {
            uint32_t keep = copy.prekeys[i].id;
            copy.prekeys[i].id = w.p[1].dev.prekeys[0].id - 1; /* the consumed id (1) */
            assert_int_equal(envelope_open(d.data, d.len, &copy, &cb, &o), PARLEY_EAUTH);
            copy.prekeys[i].id = keep;
        }
    }
    keys_device_release(&copy);
    buf_release_secure(&saved);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__fallback_prekey_opens(void **state)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;
    struct envelope_recipient r;
    struct envelope_header h = {0};
    const struct keys_prekey *fb;

    world_make(&w, SUITE_DEFAULT, 2);
    fb = keys_device_find_prekey(&w.p[1].dev, w.p[1].dev.fallback_id);
    r = (struct envelope_recipient){w.p[1].dev.device_id, fb->id, &fb->key};
    assert_int_equal(envelope_seal(&w.p[0].dev, &h, &r, 1, (const uint8_t *)"x", 1, &env), 0);
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), 0);
    assert_int_equal(o.prekey_kind, KEYS_PREKEY_FALLBACK);
    assert_int_equal(keys_device_consume_prekey(&w.p[1].dev, o.prekey_id), PARLEY_EPERM);
    envelope_opened_release(&o);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__chain_is_checked(void **state)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;
    struct keys_identity mallory;

    world_make(&w, SUITE_DEFAULT, 2);
    /* Alice's device is re-certified by another identity claiming to be
     * Alice: receivers pinned Alice's real key and refuse. */
    assert_int_equal(keys_identity_generate(&mallory, w.suite, w.p[0].user), 0);
    assert_int_equal(keys_identity_certify(&mallory, &w.p[0].dev, 1700000000), 0);
    seal(&w, 2, "forged", &env, 0, 0);
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), PARLEY_EAUTH);
    /* An unknown sender. */
    memset(w.p[0].user, 'z', KEYS_ID_LEN);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), PARLEY_ENOTFOUND);
    keys_identity_release(&mallory);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__expiry(void **state)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;

    world_make(&w, SUITE_DEFAULT, 2);
    seal(&w, 2, "expired", &env, 0, 1700000050); /* cb_for's clock is 1700000100 */
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), PARLEY_EPERM);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

/* Every Merkle tree shape: each device of n opens its own delivery. */
static void test_envelope__audit_paths_for_all_sizes(void **state)
{
    struct world w;
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};
    struct keys_device devs[33];
    struct envelope_recipient r[33];

    world_make(&w, SUITE_DEFAULT, 1);
    for (size_t i = 0; i < 33; i++) {
        assert_int_equal(keys_device_generate(&devs[i], w.suite, w.p[0].user), 0);
        assert_int_equal(keys_device_add_prekeys(&devs[i], 1, 1), 0);
        r[i] = (struct envelope_recipient){devs[i].device_id, devs[i].prekeys[0].id,
                                           &devs[i].prekeys[0].key};
    }
    for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
        struct buf env = BUF_INIT(1 << 20);
        struct envelope_splitter sp;
        struct envelope_header h = {0};
        size_t n = sizes[k];
        assert_int_equal(envelope_seal(&w.p[0].dev, &h, r, n, (const uint8_t *)"tree", 4, &env), 0);
        assert_int_equal(envelope_splitter_init(&sp, env.data, env.len), 0);
        for (size_t i = 0; i < n; i++) {
            struct buf d = BUF_INIT(1 << 20);
            struct envelope_opened o;
            struct envelope_open_cb cb = {lookup, NULL, &w, NULL, 0, NULL};
            assert_int_equal(envelope_splitter_for(&sp, devs[i].device_id, &d), 0);
            assert_int_equal(envelope_open(d.data, d.len, &devs[i], &cb, &o), 0);
            assert_memory_equal(o.pt, "tree", 4);
            envelope_opened_release(&o);
            buf_release(&d);
        }
        envelope_splitter_release(&sp);
        buf_release(&env);
    }
    /* Duplicate recipients are refused. */
    {
        struct buf env = BUF_INIT(1 << 20);
        struct envelope_header h = {0};
        r[1] = r[0];
        assert_int_equal(envelope_seal(&w.p[0].dev, &h, r, 2, (const uint8_t *)"x", 1, &env),
                         PARLEY_EINVAL);
        buf_release(&env);
    }
    for (size_t i = 0; i < 33; i++)
        keys_device_release(&devs[i]);
    world_release(&w);
}

static void full_flow(unsigned suite)
{
    struct world w;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20), bundle = BUF_INIT(1 << 20);
    struct buf one = BUF_INIT(1 << 20);
    struct keys_bundle kb;
    struct envelope_recipient r;
    struct envelope_header h = {0};
    struct envelope_opened o;

    world_make(&w, suite, 2);
    assert_int_equal(keys_device_bundle(&w.p[1].dev, 0, &bundle), 0);
    assert_int_equal(keys_bundle_take(bundle.data, bundle.len, &one, NULL), 0);
    assert_int_equal(keys_bundle_verify(one.data, one.len, &w.p[1].id.key, &kb), 0);
    r = (struct envelope_recipient){kb.cert.device_id, kb.prekeys[0].id, &kb.prekeys[0].key};
    assert_int_equal(envelope_seal(&w.p[0].dev, &h, &r, 1, (const uint8_t *)"hi", 2, &env), 0);
    assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(&w, 1, d.data, d.len, &o), 0);
    envelope_opened_release(&o);
    keys_bundle_release(&kb);
    buf_release(&one);
    buf_release(&bundle);
    buf_release(&d);
    buf_release(&env);
    world_release(&w);
}

static void test_envelope__fips_suite_never_uses_x25519_or_ed25519(void **state)
{
    proto_alg_reset_for_testing();
    full_flow(SUITE_FIPS);
    assert_int_equal(proto_alg_count(PROTO_ALG_X25519), 0);
    assert_int_equal(proto_alg_count(PROTO_ALG_ED25519), 0);
    assert_true(proto_alg_count(PROTO_ALG_P384) > 0);
    assert_true(proto_alg_count(PROTO_ALG_ECDSA) > 0);
    assert_true(proto_alg_count(PROTO_ALG_AESGCM) > 0);
    /* And the converse, so the counters are known to work. */
    proto_alg_reset_for_testing();
    full_flow(SUITE_DEFAULT);
    assert_true(proto_alg_count(PROTO_ALG_X25519) > 0);
    assert_true(proto_alg_count(PROTO_ALG_ED25519) > 0);
    assert_int_equal(proto_alg_count(PROTO_ALG_P384), 0);
    assert_int_equal(proto_alg_count(PROTO_ALG_ECDSA), 0);
}

/* ---- the published vector (docs/protocol.md, "Test vectors") ---- */

struct logged_rand {
    struct test_drbg drbg;
    uint8_t log[8][64];
    size_t len[8], n;
};

static int logged_fill(void *arg, uint8_t *buf, size_t n)
{
    struct logged_rand *l = arg;
    if (test_drbg_fill(&l->drbg, buf, n) < 0)
        return -1;
    if (l->n < 8 && n <= 64) {
        memcpy(l->log[l->n], buf, n);
        l->len[l->n++] = n;
    }
    return 0;
}

static void print_hex(const char *name, const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    assert_non_null(h);
    hex(p, n, h);
    print_message("# %s=%s\n", name, h);
    free(h);
}

static void test_envelope__deterministic_vector(void **state)
{
    static const uint8_t alice_id[KEYS_ID_LEN] = "alice@example.or";
    static const uint8_t bob_id[KEYS_ID_LEN] = "bob@example.org!";
    static const char msg[] = "Hello, Bob! This is Parley envelope vector 1.";
    const struct suite *s = suite_get(SUITE_DEFAULT);
    struct keys_identity ai, bi;
    struct keys_device ad, bd;
    struct logged_rand lr = {0};
    struct envelope_header h = {0};
    struct envelope_recipient r;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    uint8_t digest[32];
    unsigned dl;
    char dh[65];

    test_drbg_seed(&lr.drbg, "parley envelope vector 1");
    proto_rand_set_for_testing(test_drbg_fill, &lr.drbg);
    assert_int_equal(keys_identity_generate(&ai, s, alice_id), 0);
    assert_int_equal(keys_device_generate(&ad, s, alice_id), 0);
    assert_int_equal(keys_identity_certify(&ai, &ad, 1700000000), 0);
    assert_int_equal(keys_identity_generate(&bi, s, bob_id), 0);
    assert_int_equal(keys_device_generate(&bd, s, bob_id), 0);
    assert_int_equal(keys_identity_certify(&bi, &bd, 1700000000), 0);
    assert_int_equal(keys_device_add_prekeys(&bd, 1, 1700000000), 0);
    proto_rand_set_for_testing(logged_fill, &lr);
    for (int i = 0; i < KEYS_ID_LEN; i++)
        h.conversation[i] = (uint8_t)i;
    h.flags = ENVELOPE_BURN_ON_READ;
    h.expires_at = 1700086400;
    r = (struct envelope_recipient){bd.device_id, bd.prekeys[0].id, &bd.prekeys[0].key};
    assert_int_equal(envelope_seal(&ad, &h, &r, 1, (const uint8_t *)msg, strlen(msg), &env), 0);
    proto_rand_set_for_testing(NULL, NULL);
    assert_int_equal(lr.n, 3); /* msg_id, message key, ephemeral key */
    assert_int_equal(envelope_split(env.data, env.len, bd.device_id, &d), 0);

    print_hex("alice_identity_sk", ai.key.sk, ai.key.sk_len);
    print_hex("alice_identity_pk", ai.key.pk, ai.key.pk_len);
    print_hex("alice_device_id", ad.device_id, KEYS_ID_LEN);
    print_hex("alice_device_sk", ad.sign.sk, ad.sign.sk_len);
    print_hex("alice_device_cert", ad.cert, ad.cert_len);
    print_hex("bob_device_id", bd.device_id, KEYS_ID_LEN);
    print_hex("bob_prekey_sk", bd.prekeys[0].key.sk, bd.prekeys[0].key.sk_len);
    print_hex("bob_prekey_pk", bd.prekeys[0].key.pk, bd.prekeys[0].key.pk_len);
    print_hex("msg_id", lr.log[0], lr.len[0]);
    print_hex("message_key", lr.log[1], lr.len[1]);
    print_hex("ephemeral_sk", lr.log[2], lr.len[2]);
    print_hex("envelope", env.data, env.len);
    print_hex("delivery", d.data, d.len);
    assert_true(EVP_Digest(env.data, env.len, digest, &dl, EVP_sha256(), NULL));
    hex(digest, 32, dh);
    print_message("# envelope_sha256=%s\n", dh);
    assert_string_equal(dh, VECTOR1_SHA256);
    {
        char sn[KEYS_SAFETY_NUMBER_LEN + 1], qr[KEYS_QR_LEN + 1];
        assert_int_equal(keys_safety_number(s, alice_id, &ai.key, bob_id, &bi.key, sn), 0);
        assert_int_equal(keys_fingerprint_qr(s, alice_id, &ai.key, bob_id, &bi.key, qr), 0);
        print_hex("bob_identity_pk", bi.key.pk, bi.key.pk_len);
        print_message("# safety_number=%s\n# alice_qr_for_bob=%s\n", sn, qr);
        assert_string_equal(sn, VECTOR1_SAFETY);
        assert_string_equal(qr, VECTOR1_QR);
    }

    /* And Bob opens it. */
    {
        struct envelope_opened o;
        struct sig_key pinned;
        assert_int_equal(sig_key_dup_public(&pinned, &ai.key), 0);
        {
            struct world w1 = {0};
            memcpy(w1.p[0].user, alice_id, KEYS_ID_LEN);
            w1.p[0].id.key = pinned;
            w1.n = 1;
            struct envelope_open_cb cb = {lookup, NULL, &w1, NULL, 1700000000, NULL};
            assert_int_equal(envelope_open(d.data, d.len, &bd, &cb, &o), 0);
        }
        assert_memory_equal(o.pt, msg, strlen(msg));
        envelope_opened_release(&o);
        sig_key_release(&pinned);
    }
    buf_release(&env);
    buf_release(&d);
    keys_device_release(&ad);
    keys_device_release(&bd);
    keys_identity_release(&ai);
    keys_identity_release(&bi);
}

/* ---- allocation failures -------------------------------------------------- */

/* OpenSSL's allocator, failing the n-th allocation once armed: every error
 * path of seal, split and open must return an error code, never crash, and
 * (under ASan) never leak. */
static long oom_countdown = -1; /* < 0: disarmed */
static long oom_seen;

static void *oom_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    oom_seen++;
    if (oom_countdown >= 0 && oom_countdown-- == 0)
        return NULL;
    return malloc(n);
}

static void *oom_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    oom_seen++;
    if (oom_countdown >= 0 && oom_countdown-- == 0)
        return NULL;
    return realloc(p, n);
}

static void oom_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

static void oom_warm_up(struct world *w)
{
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;

    seal(w, 3, "warm", &env, 0, 0);
    assert_int_equal(envelope_split(env.data, env.len, w->p[1].dev.device_id, &d), 0);
    assert_int_equal(open_as(w, 1, d.data, d.len, &o), 0);
    envelope_opened_release(&o);
    buf_release(&env);
    buf_release(&d);
}

static void test_envelope__allocation_failures_are_errors(void **state)
{
    struct world w;
    long total;

    world_make(&w, SUITE_DEFAULT, 3);
    oom_warm_up(&w); /* fetch every algorithm before anything fails */
    for (int phase = 0; phase < 3; phase++) {
        struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
        struct envelope_opened o;
        struct envelope_recipient r[2];
        struct envelope_header h = {0};
        for (size_t i = 1; i < 3; i++)
            r[i - 1] = (struct envelope_recipient){w.p[i].dev.device_id, w.p[i].dev.prekeys[0].id,
                                                   &w.p[i].dev.prekeys[0].key};
        /* Prepare the inputs of the phase without failures. */
        if (phase > 0)
            assert_int_equal(envelope_seal(&w.p[0].dev, &h, r, 2, (const uint8_t *)"oom", 3, &env),
                             0);
        if (phase > 1)
            assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
        oom_seen = 0;
        for (long n = 0;; n++) {
            struct buf out = BUF_INIT(1 << 20);
            int rc;
            oom_countdown = n;
            oom_seen = 0;
            if (phase == 0)
                rc = envelope_seal(&w.p[0].dev, &h, r, 2, (const uint8_t *)"oom", 3, &out);
            else if (phase == 1) {
                rc = envelope_split(env.data, env.len, w.p[1].dev.device_id, &out);
                if (rc == 0) {
                    struct buf again = BUF_INIT(1 << 20);
                    oom_countdown = -1;
                    assert_int_equal(
                        envelope_split(env.data, env.len, w.p[1].dev.device_id, &again), 0);
                    assert_int_equal(again.len, out.len);
                    assert_memory_equal(again.data, out.data, out.len);
                    buf_release(&again);
                }
            } else {
                struct envelope_open_cb cb = {lookup, NULL, &w, NULL, 0, NULL};
                rc = envelope_open(d.data, d.len, &w.p[1].dev, &cb, &o);
                if (rc == 0) {
                    assert_int_equal(o.pt_len, 3);
                    assert_memory_equal(o.pt, "oom", 3);
                    envelope_opened_release(&o);
                }
            }
            total = oom_seen;
            oom_countdown = -1;
            buf_release(&out);
            if (n >= total) {
                assert_int_equal(rc, 0); /* nothing failed: it must work */
                print_message("# phase %d: %ld allocation failures injected\n", phase, n);
                assert_true(n > 20);
                break;
            }
            /* OpenSSL survives some failed allocations (caches, the
             * error queue): success is fine, a wrong answer or a crash
             * is not. */
            assert_true(rc <= 0);
        }
        buf_release(&env);
        buf_release(&d);
    }
    world_release(&w);
}

static void test_envelope__replay_cache(void **state)
{
    struct replay_cache rc;
    uint8_t id[KEYS_ID_LEN] = {0};
    assert_int_equal(replay_cache_init(&rc, 4), 0);
    for (int i = 0; i < 4; i++) {
        id[0] = (uint8_t)i;
        assert_int_equal(replay_cache_check(&rc, id), 0);
        assert_int_equal(replay_cache_check(&rc, id), PARLEY_EREPLAY);
    }
    replay_cache_release(&rc);
}

/* With the verified-certificate cache: the second envelope from the same
 * device skips the certificate check, but nothing else, and a changed pin
 * for the sender's user is not answered from the cache. */
static void test_envelope__cert_cache(void **state)
{
    struct world w;
    struct keys_cert_cache cc;
    struct keys_identity other;
    struct buf env = BUF_INIT(1 << 20), d = BUF_INIT(1 << 20);
    struct envelope_opened o;

    world_make(&w, SUITE_DEFAULT, 2);
    assert_int_equal(keys_cert_cache_init(&cc, 4), 0);
    struct envelope_open_cb cb = {lookup, NULL, &w, NULL, 1700000100, &cc};
    for (int i = 0; i < 2; i++) {
        buf_reset(&env);
        buf_reset(&d);
        seal(&w, 2, "cached", &env, 0, 0);
        assert_int_equal(envelope_split(env.data, env.len, w.p[1].dev.device_id, &d), 0);
        assert_int_equal(envelope_open(d.data, d.len, &w.p[1].dev, &cb, &o), 0);
        assert_memory_equal(o.pt, "cached", 6);
        envelope_opened_release(&o);
    }
    assert_int_equal(cc.misses, 1);
    assert_int_equal(cc.hits, 1);

    /* The envelope signature is still checked on a hit. */
    d.data[d.len - 1] ^= 1;
    assert_int_equal(envelope_open(d.data, d.len, &w.p[1].dev, &cb, &o), PARLEY_EAUTH);
    envelope_opened_release(&o);
    d.data[d.len - 1] ^= 1;

    /* Alice's user pinned to another identity key now: the cached
     * certificate (made by her old key) is refused. */
    assert_int_equal(keys_identity_generate(&other, w.suite, w.p[0].user), 0);
    struct sig_key keep = w.p[0].id.key;
    w.p[0].id.key = other.key;
    assert_int_equal(envelope_open(d.data, d.len, &w.p[1].dev, &cb, &o), PARLEY_EAUTH);
    envelope_opened_release(&o);
    w.p[0].id.key = keep;
    assert_int_equal(envelope_open(d.data, d.len, &w.p[1].dev, &cb, &o), 0);
    envelope_opened_release(&o);

    keys_identity_release(&other);
    keys_cert_cache_release(&cc);
    buf_release(&env);
    buf_release(&d);
    world_release(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope__cert_cache),
        cmocka_unit_test(test_envelope__roundtrip_default),
        cmocka_unit_test(test_envelope__roundtrip_fips),
        cmocka_unit_test(test_envelope__any_flipped_byte_fails_default),
        cmocka_unit_test(test_envelope__any_flipped_byte_fails_fips),
        cmocka_unit_test(test_envelope__non_recipient_cannot_open),
        cmocka_unit_test(test_envelope__replay_is_rejected),
        cmocka_unit_test(test_envelope__forward_secrecy),
        cmocka_unit_test(test_envelope__fallback_prekey_opens),
        cmocka_unit_test(test_envelope__chain_is_checked),
        cmocka_unit_test(test_envelope__expiry),
        cmocka_unit_test(test_envelope__audit_paths_for_all_sizes),
        cmocka_unit_test(test_envelope__fips_suite_never_uses_x25519_or_ed25519),
        cmocka_unit_test(test_envelope__replay_cache),
        cmocka_unit_test(test_envelope__deterministic_vector),
        cmocka_unit_test(test_envelope__allocation_failures_are_errors),
    };
    /* Before OpenSSL allocates anything. */
    if (!CRYPTO_set_mem_functions(oom_malloc, oom_realloc, oom_free))
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
