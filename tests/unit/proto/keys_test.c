/* keys_test.c - identity chain, pre-keys, bundles, key store, fingerprints. */
#include "testutil.h"

#include "proto/keys.h"

static const uint8_t alice[KEYS_ID_LEN] = "alice-user-id-01";
static const uint8_t bob[KEYS_ID_LEN] = "bob-user-id-0002";

struct world {
    struct keys_identity id;
    struct keys_device dev;
};

static void make(struct world *w, unsigned suite, const uint8_t *user, size_t n_onetime)
{
    const struct suite *s = suite_get(suite);
    assert_int_equal(keys_identity_generate(&w->id, s, user), 0);
    assert_int_equal(keys_device_generate(&w->dev, s, user), 0);
    assert_int_equal(keys_identity_certify(&w->id, &w->dev, 1700000000), 0);
    assert_int_equal(keys_device_add_prekeys(&w->dev, n_onetime, 1700000000), 0);
    assert_int_equal(keys_device_rotate_fallback(&w->dev, 1700000000), 0);
}

static void unmake(struct world *w)
{
    keys_device_release(&w->dev);
    keys_identity_release(&w->id);
}

static void chain(unsigned suite)
{
    struct world a, b;
    struct keys_bundle kb;
    struct buf bb = BUF_INIT(1 << 20);

    make(&a, suite, alice, 5);
    make(&b, suite, bob, 1);
    assert_int_equal(keys_device_bundle(&a.dev, 0, &bb), 0);
    assert_int_equal(keys_bundle_verify(bb.data, bb.len, &a.id.key, &kb), 0);
    assert_int_equal(kb.n_prekeys, 6);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(kb.prekeys[i].kind, KEYS_PREKEY_ONETIME);
        assert_int_equal(kb.prekeys[i].id, i + 1);
        assert_memory_equal(kb.prekeys[i].key.pk,
                            keys_device_find_prekey(&a.dev, (uint32_t)(i + 1))->key.pk,
                            kb.prekeys[i].key.pk_len);
    }
    assert_int_equal(kb.prekeys[5].kind, KEYS_PREKEY_FALLBACK);
    assert_memory_equal(kb.cert.device_id, a.dev.device_id, KEYS_ID_LEN);
    keys_bundle_release(&kb);
    /* Pinned to somebody else's identity: refused. */
    assert_int_equal(keys_bundle_verify(bb.data, bb.len, &b.id.key, &kb), PARLEY_EAUTH);
    /* Only the new pre-keys (replenishment) plus the fallback. */
    buf_reset(&bb);
    bb.len = 0;
    assert_int_equal(keys_device_bundle(&a.dev, 4, &bb), 0);
    assert_int_equal(keys_bundle_verify(bb.data, bb.len, &a.id.key, &kb), 0);
    assert_int_equal(kb.n_prekeys, 3);
    keys_bundle_release(&kb);
    buf_release(&bb);
    unmake(&a);
    unmake(&b);
}

static void test_keys__chain_and_bundle_default(void **state)
{
    chain(SUITE_DEFAULT);
}

static void test_keys__chain_and_bundle_fips(void **state)
{
    chain(SUITE_FIPS);
}

static void tamper(unsigned suite)
{
    struct world a;
    struct keys_bundle kb;
    struct buf bb = BUF_INIT(1 << 20);

    make(&a, suite, alice, 1);
    assert_int_equal(keys_device_bundle(&a.dev, 0, &bb), 0);
    for (size_t i = 0; i < bb.len; i++) {
        bb.data[i] ^= 0x01;
        assert_true(keys_bundle_verify(bb.data, bb.len, &a.id.key, &kb) < 0);
        bb.data[i] ^= 0x01;
    }
    for (size_t l = 0; l < bb.len; l++)
        assert_true(keys_bundle_verify(bb.data, l, &a.id.key, &kb) < 0);
    assert_int_equal(keys_bundle_verify(bb.data, bb.len, &a.id.key, &kb), 0);
    keys_bundle_release(&kb);
    buf_release(&bb);
    unmake(&a);
}

static void test_keys__any_flipped_byte_breaks_bundle(void **state)
{
    tamper(SUITE_DEFAULT);
    tamper(SUITE_FIPS);
}

static void test_keys__fallback_only_when_pool_empty(void **state)
{
    struct world a;
    struct buf stored = BUF_INIT(1 << 20);

    make(&a, SUITE_DEFAULT, alice, 3);
    assert_int_equal(keys_device_bundle(&a.dev, 0, &stored), 0);
    for (int round = 0; round < 6; round++) {
        struct buf one = BUF_INIT(1 << 20), rest = BUF_INIT(1 << 20);
        struct keys_bundle kb;
        assert_int_equal(keys_bundle_take(stored.data, stored.len, &one, &rest), 0);
        assert_int_equal(keys_bundle_verify(one.data, one.len, &a.id.key, &kb), 0);
        assert_int_equal(kb.n_prekeys, 1);
        if (round < 3) {
            assert_int_equal(kb.prekeys[0].kind, KEYS_PREKEY_ONETIME);
            assert_int_equal(kb.prekeys[0].id, round + 1);
        } else {
            assert_int_equal(kb.prekeys[0].kind, KEYS_PREKEY_FALLBACK);
            assert_int_equal(kb.prekeys[0].id, a.dev.fallback_id);
        }
        keys_bundle_release(&kb);
        assert_int_equal(keys_bundle_verify(rest.data, rest.len, &a.id.key, &kb), 0);
        assert_int_equal(kb.n_prekeys, round < 3 ? 3 - round : 1);
        keys_bundle_release(&kb);
        buf_release(&stored);
        stored = rest;
        buf_release(&one);
    }
    buf_release(&stored);
    unmake(&a);
}

static void test_keys__consume_and_rotate(void **state)
{
    struct world a;
    uint32_t fb1;

    make(&a, SUITE_DEFAULT, alice, 2);
    assert_int_equal(keys_device_count_onetime(&a.dev), 2);
    assert_int_equal(keys_device_consume_prekey(&a.dev, 1), 0);
    assert_null(keys_device_find_prekey(&a.dev, 1));
    assert_int_equal(keys_device_consume_prekey(&a.dev, 1), PARLEY_ENOTFOUND);
    assert_int_equal(keys_device_count_onetime(&a.dev), 1);
    fb1 = a.dev.fallback_id;
    assert_int_equal(keys_device_consume_prekey(&a.dev, fb1), PARLEY_EPERM);
    assert_int_equal(keys_device_rotate_fallback(&a.dev, 1800000000), 0);
    assert_true(a.dev.fallback_id != fb1);
    /* The previous fallback stays until the grace period ends. */
    assert_non_null(keys_device_find_prekey(&a.dev, fb1));
    assert_int_equal(keys_device_drop_fallbacks(&a.dev, 1700000000), 0);
    assert_int_equal(keys_device_drop_fallbacks(&a.dev, 1800000001), 1);
    assert_null(keys_device_find_prekey(&a.dev, fb1));
    assert_non_null(keys_device_find_prekey(&a.dev, a.dev.fallback_id));
    unmake(&a);
}

static void store(unsigned suite)
{
    struct world a;
    struct keys_device back;
    struct keys_identity idb;
    struct buf b = BUF_INIT(KEYS_MAX_STORE), ib = BUF_INIT(4096);

    make(&a, suite, alice, 4);
    assert_int_equal(keys_device_save(&a.dev, &b), 0);
    assert_int_equal(keys_device_load(&back, b.data, b.len), 0);
    assert_int_equal(back.n_prekeys, a.dev.n_prekeys);
    assert_int_equal(back.fallback_id, a.dev.fallback_id);
    assert_int_equal(back.next_prekey_id, a.dev.next_prekey_id);
    assert_memory_equal(back.sign.pk, a.dev.sign.pk, a.dev.sign.pk_len);
    assert_memory_equal(back.cert, a.dev.cert, a.dev.cert_len);
    for (size_t i = 0; i < back.n_prekeys; i++)
        assert_memory_equal(back.prekeys[i].key.pk, a.dev.prekeys[i].key.pk,
                            a.dev.prekeys[i].key.pk_len);
    keys_device_release(&back);
    for (size_t l = 0; l < b.len; l += 7)
        assert_true(keys_device_load(&back, b.data, l) < 0);
    b.data[4] = 9; /* unknown version */
    assert_int_equal(keys_device_load(&back, b.data, b.len), PARLEY_EPROTO);
    buf_release_secure(&b);

    assert_int_equal(keys_identity_save(&a.id, &ib), 0);
    assert_int_equal(keys_identity_load(&idb, ib.data, ib.len), 0);
    assert_memory_equal(idb.key.pk, a.id.key.pk, a.id.key.pk_len);
    assert_memory_equal(idb.user_id, alice, KEYS_ID_LEN);
    keys_identity_release(&idb);
    assert_true(keys_identity_load(&idb, ib.data, ib.len - 1) < 0);
    buf_release_secure(&ib);
    unmake(&a);
}

static void test_keys__store_roundtrip(void **state)
{
    store(SUITE_DEFAULT);
    store(SUITE_FIPS);
}

static void test_keys__safety_number_and_qr(void **state)
{
    struct world a, b;
    const struct suite *s = suite_get(SUITE_DEFAULT);
    char n1[KEYS_SAFETY_NUMBER_LEN + 1], n2[KEYS_SAFETY_NUMBER_LEN + 1];
    char qa[KEYS_QR_LEN + 1];

    make(&a, SUITE_DEFAULT, alice, 0);
    make(&b, SUITE_DEFAULT, bob, 0);
    assert_int_equal(keys_safety_number(s, alice, &a.id.key, bob, &b.id.key, n1), 0);
    assert_int_equal(keys_safety_number(s, bob, &b.id.key, alice, &a.id.key, n2), 0);
    assert_string_equal(n1, n2);
    assert_int_equal(strlen(n1), KEYS_SAFETY_NUMBER_LEN);
    for (int i = 0; i < KEYS_SAFETY_NUMBER_LEN; i++)
        assert_true(i % 6 == 5 ? n1[i] == ' ' : (n1[i] >= '0' && n1[i] <= '9'));
    assert_int_equal(keys_fingerprint_qr(s, alice, &a.id.key, bob, &b.id.key, qa), 0);
    assert_int_equal(strlen(qa), KEYS_QR_LEN);
    /* Bob scans Alice's code. */
    assert_int_equal(keys_fingerprint_qr_check(s, qa, bob, &b.id.key, alice, &a.id.key), 0);
    /* Alice scanning her own code, or a changed key: refused. */
    assert_int_equal(keys_fingerprint_qr_check(s, qa, alice, &a.id.key, bob, &b.id.key),
                     PARLEY_EAUTH);
    assert_int_equal(keys_fingerprint_qr_check(s, "ABC", bob, &b.id.key, alice, &a.id.key),
                     PARLEY_EPROTO);
    keys_identity_release(&b.id);
    assert_int_equal(keys_identity_generate(&b.id, s, bob), 0);
    assert_int_equal(keys_safety_number(s, alice, &a.id.key, bob, &b.id.key, n2), 0);
    assert_string_not_equal(n1, n2);
    assert_int_equal(keys_fingerprint_qr_check(s, qa, bob, &b.id.key, alice, &a.id.key),
                     PARLEY_EAUTH);
    unmake(&a);
    unmake(&b);
}

/* ECDSA: every signature is low-s, and its high-s twin (r, n - s), which
 * OpenSSL would accept, is refused, so signatures are not malleable. */
static void test_keys__ecdsa_signatures_have_one_encoding(void **state)
{
    static const uint8_t n[48] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37,
                                  0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a,
                                  0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73};
    struct sig_key k;
    struct prim_iov m = {"message", 7};
    uint8_t sig[96], twin[96];

    assert_int_equal(sig_key_generate(&k, SIG_ECDSA_P384), 0);
    for (int i = 0; i < 32; i++) {
        int borrow = 0;
        assert_int_equal(sig_sign(&k, &m, 1, sig), 0);
        assert_true(sig[48] < 0x80); /* s <= n/2 */
        assert_int_equal(sig_verify(&k, &m, 1, sig, 96), 0);
        memcpy(twin, sig, 48);
        for (int j = 47; j >= 0; j--) { /* twin s = n - s */
            int d = n[j] - sig[48 + j] - borrow;
            borrow = d < 0;
            twin[48 + j] = (uint8_t)(d + (borrow ? 256 : 0));
        }
        assert_int_equal(sig_verify(&k, &m, 1, twin, 96), PARLEY_EAUTH);
    }
    sig_key_release(&k);
}

static void test_keys__cert_names_its_user(void **state)
{
    struct world a;
    struct keys_cert c;

    make(&a, SUITE_DEFAULT, alice, 0);
    assert_int_equal(keys_cert_verify(a.dev.cert, a.dev.cert_len, &a.id.key, alice, &c), 0);
    assert_memory_equal(c.device.pk, a.dev.sign.pk, 32);
    keys_cert_release(&c);
    assert_int_equal(keys_cert_verify(a.dev.cert, a.dev.cert_len, &a.id.key, bob, &c),
                     PARLEY_EAUTH);
    unmake(&a);
}

/* The verified-certificate cache answers only for the exact bytes it
 * verified, under the identity key and user it verified them against. */
static void cert_cache(unsigned suite)
{
    struct world a, b, m;
    struct keys_cert_cache cc;
    struct keys_cert c;
    const struct suite *s = suite_get(suite);

    make(&a, suite, alice, 0);
    make(&b, suite, bob, 0);
    /* A device of a second identity key for the same user id: what a
     * server swapping alice's key would present. */
    make(&m, suite, alice, 0);
    assert_int_equal(keys_cert_cache_init(&cc, 2), 0);

    assert_int_equal(keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, &a.id.key, alice, &c),
                     0);
    assert_memory_equal(c.device.pk, a.dev.sign.pk, s->sig_pk_len);
    keys_cert_release(&c);
    assert_int_equal(cc.misses, 1);
    assert_int_equal(cc.hits, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, &a.id.key, alice, &c), 0);
        assert_memory_equal(c.device_id, a.dev.device_id, KEYS_ID_LEN);
        assert_memory_equal(c.device.pk, a.dev.sign.pk, s->sig_pk_len);
        assert_non_null(c.device.pkey);
        keys_cert_release(&c); /* the cached copy stays usable */
    }
    assert_int_equal(cc.hits, 3);

    /* The cached certificate under another identity key or another user. */
    assert_int_equal(keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, &m.id.key, alice, &c),
                     PARLEY_EAUTH);
    assert_int_equal(keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, &b.id.key, bob, &c),
                     PARLEY_EAUTH);
    assert_int_equal(keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, &a.id.key, bob, &c),
                     PARLEY_EAUTH);
    /* A certificate of the other key, checked against the pinned one. */
    assert_int_equal(keys_cert_verify_cached(&cc, m.dev.cert, m.dev.cert_len, &a.id.key, alice, &c),
                     PARLEY_EAUTH);

    /* Every single-byte change of the cached certificate is refused. */
    uint8_t *t = malloc(a.dev.cert_len);
    assert_non_null(t);
    for (size_t i = 0; i < a.dev.cert_len; i++) {
        memcpy(t, a.dev.cert, a.dev.cert_len);
        t[i] ^= 0x01;
        int rc = keys_cert_verify_cached(&cc, t, a.dev.cert_len, &a.id.key, alice, &c);
        assert_true(rc == PARLEY_EAUTH || rc == PARLEY_EPROTO);
    }
    /* Truncated or extended. */
    assert_int_equal(
        keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len - 1, &a.id.key, alice, &c),
        PARLEY_EPROTO);
    free(t);

    /* Eviction (capacity 2): the other certificates displace alice's, which
     * then verifies in full again, still correctly. */
    assert_int_equal(keys_cert_verify_cached(&cc, b.dev.cert, b.dev.cert_len, &b.id.key, bob, &c),
                     0);
    keys_cert_release(&c);
    assert_int_equal(keys_cert_verify_cached(&cc, m.dev.cert, m.dev.cert_len, &m.id.key, alice, &c),
                     0);
    keys_cert_release(&c);
    uint64_t misses = cc.misses;
    assert_int_equal(keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, &a.id.key, alice, &c),
                     0);
    keys_cert_release(&c);
    assert_int_equal(cc.misses, misses + 1);
    /* Required arguments. */
    assert_int_equal(keys_cert_verify_cached(&cc, a.dev.cert, a.dev.cert_len, NULL, alice, &c),
                     PARLEY_EINVAL);
    keys_cert_cache_release(&cc);
    assert_int_equal(keys_cert_cache_init(&cc, 0), PARLEY_EINVAL);
    unmake(&a);
    unmake(&b);
    unmake(&m);
}

static void test_keys__cert_cache_default(void **state)
{
    cert_cache(SUITE_DEFAULT);
}

static void test_keys__cert_cache_fips(void **state)
{
    cert_cache(SUITE_FIPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys__chain_and_bundle_default),
        cmocka_unit_test(test_keys__chain_and_bundle_fips),
        cmocka_unit_test(test_keys__any_flipped_byte_breaks_bundle),
        cmocka_unit_test(test_keys__fallback_only_when_pool_empty),
        cmocka_unit_test(test_keys__consume_and_rotate),
        cmocka_unit_test(test_keys__store_roundtrip),
        cmocka_unit_test(test_keys__safety_number_and_qr),
        cmocka_unit_test(test_keys__cert_names_its_user),
        cmocka_unit_test(test_keys__cert_cache_default),
        cmocka_unit_test(test_keys__cert_cache_fips),
        cmocka_unit_test(test_keys__ecdsa_signatures_have_one_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
