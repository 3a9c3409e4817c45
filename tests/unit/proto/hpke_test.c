/* hpke_test.c - RFC 9180 vectors and properties of the HPKE layer. */
#include "testutil.h"

#include "proto/hpke.h"

#define P384_CT                                                                                    \
    "30e9606d3f663f94efaca571fd93f88e7ef494108b840704020595ba35e2fc706422524097e94d82abe8578d8c"
#define P384_ENC                                                                                   \
    "04a290ee659033c50033dc705468dc8f656aab1360d4edeb3b4e87c0b7f5a87dc01114ac4d02099e0811b553a0e8" \
    "7d2902dc0d0ff4cb470b9373e4489575995972645177452960741adc43424cb1aa8adac34ab8b486cc510a801da8" \
    "34d9301496"

static void test_hpke__derive_key_pair_vectors(void **state)
{
    json_t *j = load_json("tests/unit/proto/data/hpke-vectors.json");
    json_t *arr = json_object_get(j, "derive_key_pair"), *v;
    struct prim p;
    size_t i;

    assert_int_equal(prim_init(&p), 0);
    json_array_foreach(arr, i, v)
    {
        uint8_t ikm[128], sk[128], pk[160];
        size_t ni = unhex(json_string_value(json_object_get(v, "ikm")), ikm, sizeof(ikm));
        size_t ns = unhex(json_string_value(json_object_get(v, "sk")), sk, sizeof(sk));
        size_t np = unhex(json_string_value(json_object_get(v, "pk")), pk, sizeof(pk));
        struct hpke_key k;
        uint16_t kem = (uint16_t)json_integer_value(json_object_get(v, "kem_id"));

        assert_int_equal(hpke_key_derive(&k, &p, kem, ikm, ni), 0);
        assert_int_equal(k.sk_len, ns);
        assert_memory_equal(k.sk, sk, ns);
        assert_int_equal(k.pk_len, np);
        assert_memory_equal(k.pk, pk, np);
        hpke_key_release(&k);
    }
    assert_true(i >= 5);
    prim_release(&p);
    json_decref(j);
}

static void test_hpke__seal_vectors(void **state)
{
    json_t *j = load_json("tests/unit/proto/data/hpke-vectors.json");
    json_t *arr = json_object_get(j, "seal"), *v;
    size_t i;

    json_array_foreach(arr, i, v)
    {
        uint8_t info[64], skr[80], ske[80], pkr[160], enc[160], aad[64], pt[128], ct[160];
        uint8_t enc_out[160], ct_out[160], pt_out[160];
        struct hpke_params prm = {
            (uint16_t)json_integer_value(json_object_get(v, "kem_id")),
            (uint16_t)json_integer_value(json_object_get(v, "kdf_id")),
            (uint16_t)json_integer_value(json_object_get(v, "aead_id")),
        };
#define H(name, buf) unhex(json_string_value(json_object_get(v, name)), buf, sizeof(buf))
        size_t ninfo = H("info", info), nskr = H("skRm", skr), nske = H("skEm", ske);
        size_t npkr = H("pkRm", pkr), nenc = H("enc", enc), naad = H("aad", aad);
        size_t npt = H("pt", pt), nct = H("ct", ct);
#undef H
        struct hpke h;
        struct hpke_key kr, ke, pr;

        assert_int_equal(hpke_init(&h, &prm, info, ninfo), 0);
        assert_int_equal(hpke_key_from_private(&kr, prm.kem, skr, nskr), 0);
        assert_memory_equal(kr.pk, pkr, npkr);
        assert_int_equal(hpke_key_from_private(&ke, prm.kem, ske, nske), 0);
        assert_int_equal(hpke_key_from_public(&pr, prm.kem, pkr, npkr), 0);
        assert_int_equal(
            hpke_seal_with_ephemeral(&h, &pr, &ke, aad, naad, pt, npt, enc_out, ct_out), 0);
        assert_memory_equal(enc_out, enc, nenc);
        assert_int_equal(npt + HPKE_TAG, nct);
        assert_memory_equal(ct_out, ct, nct);
        assert_int_equal(hpke_open(&h, &kr, enc, nenc, aad, naad, ct, nct, pt_out), 0);
        assert_memory_equal(pt_out, pt, npt);
        hpke_key_release(&kr);
        hpke_key_release(&ke);
        hpke_key_release(&pr);
        hpke_release(&h);
    }
    assert_int_equal(i, 3);
    json_decref(j);
}

struct fixed_rand {
    const uint8_t *p;
    size_t n;
};

static int give_fixed(void *arg, uint8_t *buf, size_t n)
{
    struct fixed_rand *f = arg;
    if (n != f->n)
        return -1;
    memcpy(buf, f->p, n);
    return 0;
}

/* The production path (hpke_seal: X25519 ephemeral key and DH fused in one
 * context) reproduces the vectors when the randomness yields skEm. */
static void test_hpke__production_seal_matches_vectors(void **state)
{
    json_t *j = load_json("tests/unit/proto/data/hpke-vectors.json");
    json_t *arr = json_object_get(j, "seal"), *v;
    size_t i, done = 0;

    json_array_foreach(arr, i, v)
    {
        uint8_t info[64], ske[80], pkr[160], enc[160], aad[64], pt[128], ct[160];
        uint8_t enc_out[160], ct_out[160];
        struct hpke_params prm = {
            (uint16_t)json_integer_value(json_object_get(v, "kem_id")),
            (uint16_t)json_integer_value(json_object_get(v, "kdf_id")),
            (uint16_t)json_integer_value(json_object_get(v, "aead_id")),
        };
#define H(name, buf) unhex(json_string_value(json_object_get(v, name)), buf, sizeof(buf))
        size_t ninfo = H("info", info), nske = H("skEm", ske), npkr = H("pkRm", pkr);
        size_t nenc = H("enc", enc), naad = H("aad", aad), npt = H("pt", pt), nct = H("ct", ct);
#undef H
        struct fixed_rand fr = {ske, nske};
        struct hpke h;
        struct hpke_key pr;

        if (prm.kem != HPKE_KEM_X25519)
            continue;
        assert_int_equal(hpke_init(&h, &prm, info, ninfo), 0);
        assert_int_equal(hpke_key_from_public(&pr, prm.kem, pkr, npkr), 0);
        proto_rand_set_for_testing(give_fixed, &fr);
        assert_int_equal(hpke_seal(&h, &pr, aad, naad, pt, npt, enc_out, ct_out), 0);
        proto_rand_set_for_testing(NULL, NULL);
        assert_memory_equal(enc_out, enc, nenc);
        assert_memory_equal(ct_out, ct, nct);
        hpke_key_release(&pr);
        hpke_release(&h);
        done++;
    }
    assert_int_equal(done, 2);
    json_decref(j);
}

/* Our own DHKEM(P-384, HKDF-SHA384), HKDF-SHA384, AES-256-GCM vector (no
 * published one exists): keys from DeriveKeyPair on fixed ikm, so anyone
 * can recompute it. Also in docs/protocol.md. */
static void test_hpke__p384_suite_vector(void **state)
{
    struct hpke_params prm = {HPKE_KEM_P384, HPKE_KDF_SHA384, HPKE_AEAD_AES256GCM};
    static const char info[] = "Ode on a Grecian Urn";
    static const char pt[] = "Beauty is truth, truth beauty";
    static const char aad[] = "Count-0";
    uint8_t ikm_r[48], ikm_e[48], enc[97], ct[sizeof(pt) - 1 + 16], back[64];
    char hx[2 * sizeof(ct) + 1], hxe[2 * 97 + 1];
    struct hpke h;
    struct hpke_key kr, ke;

    memset(ikm_r, 0x52, sizeof(ikm_r)); /* 'R' */
    memset(ikm_e, 0x45, sizeof(ikm_e)); /* 'E' */
    assert_int_equal(hpke_init(&h, &prm, (const uint8_t *)info, strlen(info)), 0);
    assert_int_equal(hpke_key_derive(&kr, &h.prim, HPKE_KEM_P384, ikm_r, 48), 0);
    assert_int_equal(hpke_key_derive(&ke, &h.prim, HPKE_KEM_P384, ikm_e, 48), 0);
    assert_int_equal(hpke_seal_with_ephemeral(&h, &kr, &ke, (const uint8_t *)aad, strlen(aad),
                                              (const uint8_t *)pt, strlen(pt), enc, ct),
                     0);
    hex(ct, sizeof(ct), hx);
    hex(enc, sizeof(enc), hxe);
    print_message("# p384 enc=%s\n# p384 ct=%s\n", hxe, hx);
    assert_string_equal(hx, P384_CT);
    assert_string_equal(hxe, P384_ENC);
    assert_int_equal(
        hpke_open(&h, &kr, enc, 97, (const uint8_t *)aad, strlen(aad), ct, sizeof(ct), back), 0);
    assert_memory_equal(back, pt, strlen(pt));
    hpke_key_release(&kr);
    hpke_key_release(&ke);
    hpke_release(&h);
}

static void roundtrip(uint16_t kem, uint16_t kdf)
{
    struct hpke_params prm = {kem, kdf, HPKE_AEAD_AES256GCM};
    struct hpke h;
    struct hpke_key kr, other, pub;
    uint8_t key[32], enc[97], ct[48], out[32];
    size_t nenc = hpke_kem_pk_len(kem);

    memset(key, 7, sizeof(key));
    assert_int_equal(hpke_init(&h, &prm, (const uint8_t *)"x", 1), 0);
    assert_int_equal(hpke_key_generate(&kr, &h.prim, kem), 0);
    assert_int_equal(hpke_key_generate(&other, &h.prim, kem), 0);
    assert_int_equal(hpke_key_from_public(&pub, kem, kr.pk, kr.pk_len), 0);
    assert_int_equal(hpke_seal(&h, &pub, (const uint8_t *)"a", 1, key, 32, enc, ct), 0);
    assert_int_equal(hpke_open(&h, &kr, enc, nenc, (const uint8_t *)"a", 1, ct, 48, out), 0);
    assert_memory_equal(out, key, 32);
    /* wrong recipient, wrong aad, any flipped byte: refused */
    assert_int_equal(hpke_open(&h, &other, enc, nenc, (const uint8_t *)"a", 1, ct, 48, out),
                     PARLEY_EAUTH);
    assert_int_equal(hpke_open(&h, &kr, enc, nenc, (const uint8_t *)"b", 1, ct, 48, out),
                     PARLEY_EAUTH);
    for (size_t i = 0; i < 48; i++) {
        ct[i] ^= 1;
        assert_int_equal(hpke_open(&h, &kr, enc, nenc, (const uint8_t *)"a", 1, ct, 48, out),
                         PARLEY_EAUTH);
        ct[i] ^= 1;
    }
    for (size_t i = 0; i < nenc; i++) {
        enc[i] ^= 0x40;
        assert_true(hpke_open(&h, &kr, enc, nenc, (const uint8_t *)"a", 1, ct, 48, out) < 0);
        enc[i] ^= 0x40;
    }
    assert_true(hpke_open(&h, &kr, enc, nenc - 1, (const uint8_t *)"a", 1, ct, 48, out) < 0);
    hpke_key_release(&kr);
    hpke_key_release(&other);
    hpke_key_release(&pub);
    hpke_release(&h);
}

static void test_hpke__roundtrip_and_tamper_x25519(void **state)
{
    roundtrip(HPKE_KEM_X25519, HPKE_KDF_SHA256);
}

static void test_hpke__roundtrip_and_tamper_p384(void **state)
{
    roundtrip(HPKE_KEM_P384, HPKE_KDF_SHA384);
}

static void test_hpke__rejects_bad_keys(void **state)
{
    struct hpke_key k;
    uint8_t zero[97] = {0}, big[48];

    memset(big, 0xff, sizeof(big));
    zero[0] = 4;
    assert_int_equal(hpke_key_from_public(&k, HPKE_KEM_P384, zero, 97), PARLEY_EPROTO);
    assert_int_equal(hpke_key_from_public(&k, HPKE_KEM_P384, zero, 96), PARLEY_EPROTO);
    assert_int_equal(hpke_key_from_private(&k, HPKE_KEM_P384, big, 48), PARLEY_EPROTO);
    assert_int_equal(hpke_key_from_private(&k, HPKE_KEM_P384, zero + 1, 48), PARLEY_EPROTO);
    assert_int_equal(hpke_key_from_public(&k, 0x9999, zero, 32), PARLEY_EINVAL);
    /* An all-zero X25519 point gives an all-zero DH: refused (§7.1.4). */
    {
        struct hpke_params prm = {HPKE_KEM_X25519, HPKE_KDF_SHA256, HPKE_AEAD_AES256GCM};
        struct hpke h;
        struct hpke_key kr;
        uint8_t ct[48] = {0}, out[32];
        assert_int_equal(hpke_init(&h, &prm, NULL, 0), 0);
        assert_int_equal(hpke_key_generate(&kr, &h.prim, HPKE_KEM_X25519), 0);
        assert_int_equal(hpke_open(&h, &kr, zero + 1, 32, NULL, 0, ct, 48, out), PARLEY_EAUTH);
        hpke_key_release(&kr);
        hpke_release(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hpke__derive_key_pair_vectors),
        cmocka_unit_test(test_hpke__seal_vectors),
        cmocka_unit_test(test_hpke__production_seal_matches_vectors),
        cmocka_unit_test(test_hpke__p384_suite_vector),
        cmocka_unit_test(test_hpke__roundtrip_and_tamper_x25519),
        cmocka_unit_test(test_hpke__roundtrip_and_tamper_p384),
        cmocka_unit_test(test_hpke__rejects_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
