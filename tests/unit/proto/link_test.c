/* link_test.c - device linking: codes, offer, header and chunks, and that
 * a relay which lacks the code can neither read nor substitute anything. */
#include "testutil.h"

#include "proto/link.h"

static const uint8_t user[KEYS_ID_LEN] = "user-0123456789";
static const uint8_t dev_a[KEYS_ID_LEN] = "device-A-012345";
static const uint8_t dev_b[KEYS_ID_LEN] = "device-B-012345";

static void test_link__code_format_and_parse(void **state)
{
    uint8_t code[LINK_CODE_BYTES], back[LINK_CODE_BYTES];
    char text[LINK_CODE_TEXT];

    (void)state;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(link_code_new(code), 0);
        link_code_format(code, text);
        assert_int_equal(strlen(text), 19);
        assert_true(text[4] == '-' && text[9] == '-' && text[14] == '-');
        assert_int_equal(link_code_parse(text, back), 0);
        assert_memory_equal(code, back, sizeof(code));
    }
    /* Known value: all-zero bytes, then 0xff... */
    memset(code, 0, sizeof(code));
    link_code_format(code, text);
    assert_string_equal(text, "0000-0000-0000-0000");
    memset(code, 0xff, sizeof(code));
    link_code_format(code, text);
    assert_string_equal(text, "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
    /* Lower case, spaces, O for 0 and I/L for 1 are what people type. */
    assert_int_equal(link_code_parse("zzzz zzzz zzzz zzzz", back), 0);
    assert_memory_equal(code, back, sizeof(code));
    assert_int_equal(link_code_parse("oooo-0000-0000-0000", back), 0);
    assert_int_equal(link_code_parse("IIII-LLLL-1111-1111", code), 0);
    assert_int_equal(link_code_parse("1111-1111-1111-1111", back), 0);
    assert_memory_equal(code, back, sizeof(code));
    /* Wrong length or characters outside the alphabet. */
    assert_int_equal(link_code_parse("ZZZZ-ZZZZ-ZZZZ-ZZZ", back), PARLEY_EINVAL);
    assert_int_equal(link_code_parse("ZZZZ-ZZZZ-ZZZZ-ZZZZZ", back), PARLEY_EINVAL);
    assert_int_equal(link_code_parse("ZZZZ-ZZZZ-ZZZZ-ZZZU", back), PARLEY_EINVAL);
    assert_int_equal(link_code_parse("", back), PARLEY_EINVAL);
}

static void test_link__keys_depend_on_code_and_user(void **state)
{
    uint8_t code[LINK_CODE_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    uint8_t other_user[KEYS_ID_LEN] = "user-9999999999";
    struct link_keys a, b, c, d;

    (void)state;
    assert_int_equal(link_keys_derive(code, user, &a), 0);
    assert_int_equal(link_keys_derive(code, user, &b), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(link_keys_derive(code, other_user, &c), 0);
    assert_memory_not_equal(a.link_id, c.link_id, LINK_ID_LEN);
    code[9] ^= 1;
    assert_int_equal(link_keys_derive(code, user, &d), 0);
    assert_memory_not_equal(a.link_id, d.link_id, LINK_ID_LEN);
    assert_memory_not_equal(a.mac_key, d.mac_key, LINK_MAC_LEN);
    link_keys_wipe(&a);
    link_keys_wipe(&b);
    link_keys_wipe(&c);
    link_keys_wipe(&d);
}

/* The whole exchange in one suite: offer, header, chunks. */
static void exchange(unsigned suite_id)
{
    const struct suite *s = suite_get(suite_id);
    struct link_keys k = {{7}, {9}}, wrong = {{7}, {8}};
    struct hpke_key eph, pk;
    struct prim pr;
    struct buf offer = BUF_INIT(LINK_OFFER_MAX), hdr = BUF_INIT(LINK_HEADER_MAX);
    struct buf c0 = BUF_INIT(LINK_CHUNK_MAX + 16), c1 = BUF_INIT(LINK_CHUNK_MAX + 16);
    struct buf pt = BUF_INIT(2 * LINK_CHUNK_MAX);
    struct link_transfer ta = {0}, tb;
    uint8_t got[KEYS_ID_LEN];
    static uint8_t history[LINK_CHUNK_MAX + 100];

    for (size_t i = 0; i < sizeof(history); i++)
        history[i] = (uint8_t)(i * 7);
    assert_int_equal(prim_init(&pr), 0);
    assert_int_equal(hpke_key_generate(&eph, &pr, s->kem_id), 0);
    prim_release(&pr);

    /* B's offer; A opens it. */
    assert_int_equal(link_offer_make(s, &k, dev_b, &eph, &offer), 0);
    assert_true(offer.len <= LINK_OFFER_MAX);
    assert_int_equal(link_offer_parse(s, offer.data, offer.len, got), 0);
    assert_memory_equal(got, dev_b, KEYS_ID_LEN);
    hpke_key_init(&pk);
    assert_int_equal(link_offer_open(s, &wrong, offer.data, offer.len, got, &pk), PARLEY_EAUTH);
    assert_int_equal(link_offer_open(s, &k, offer.data, offer.len, got, &pk), 0);
    /* Any changed byte (a relay swapping the key or the device) fails. */
    for (size_t i = 0; i < offer.len; i++) {
        struct hpke_key x;
        hpke_key_init(&x);
        offer.data[i] ^= 0x20;
        assert_true(link_offer_open(s, &k, offer.data, offer.len, got, &x) < 0);
        offer.data[i] ^= 0x20;
    }
    assert_int_equal(link_offer_parse(s, offer.data, offer.len - 1, got), PARLEY_EPROTO);

    /* A's header and two chunks. */
    memcpy(ta.from, dev_a, KEYS_ID_LEN);
    memcpy(ta.to, dev_b, KEYS_ID_LEN);
    ta.n_chunks = 2;
    ta.total = sizeof(history);
    assert_int_equal(link_header_make(s, &k, offer.data, offer.len, &pk, &ta, &hdr), 0);
    assert_true(hdr.len <= LINK_HEADER_MAX);
    assert_int_equal(link_chunk_seal(&ta, k.link_id, 0, history, LINK_CHUNK_MAX, &c0), 0);
    assert_int_equal(link_chunk_seal(&ta, k.link_id, 1, history + LINK_CHUNK_MAX, 100, &c1), 0);
    assert_int_equal(link_chunk_seal(&ta, k.link_id, 2, history, 1, &c1), PARLEY_EINVAL);

    /* B opens it all. */
    assert_int_equal(
        link_header_open(s, &wrong, offer.data, offer.len, &eph, hdr.data, hdr.len, &tb),
        PARLEY_EAUTH);
    for (size_t i = 0; i < hdr.len; i++) {
        hdr.data[i] ^= 0x01;
        assert_true(link_header_open(s, &k, offer.data, offer.len, &eph, hdr.data, hdr.len, &tb) <
                    0);
        hdr.data[i] ^= 0x01;
    }
    assert_int_equal(link_header_open(s, &k, offer.data, offer.len, &eph, hdr.data, hdr.len, &tb),
                     0);
    assert_memory_equal(tb.tk, ta.tk, LINK_TK_LEN);
    assert_memory_equal(tb.from, dev_a, KEYS_ID_LEN);
    assert_int_equal(tb.n_chunks, 2);
    assert_int_equal(tb.total, sizeof(history));
    /* Chunks cannot be swapped or opened in another place. */
    assert_int_equal(link_chunk_open(&tb, k.link_id, 1, c0.data, c0.len, &pt), PARLEY_EAUTH);
    assert_int_equal(link_chunk_open(&tb, wrong.mac_key, 0, c0.data, c0.len, &pt), PARLEY_EAUTH);
    assert_int_equal(link_chunk_open(&tb, k.link_id, 0, c0.data, c0.len, &pt), 0);
    assert_int_equal(link_chunk_open(&tb, k.link_id, 1, c1.data, c1.len, &pt), 0);
    assert_int_equal(pt.len, sizeof(history));
    assert_memory_equal(pt.data, history, sizeof(history));
    /* The header is bound to the offer it answers. */
    offer.data[offer.len - 1] ^= 1;
    assert_int_equal(link_header_open(s, &k, offer.data, offer.len, &eph, hdr.data, hdr.len, &tb),
                     PARLEY_EAUTH);

    hpke_key_release(&pk);
    hpke_key_release(&eph);
    buf_release(&offer);
    buf_release(&hdr);
    buf_release(&c0);
    buf_release(&c1);
    buf_release(&pt);
}

static void test_link__exchange_default_suite(void **state)
{
    (void)state;
    exchange(1);
}

static void test_link__exchange_fips_suite(void **state)
{
    (void)state;
    exchange(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link__code_format_and_parse),
        cmocka_unit_test(test_link__keys_depend_on_code_and_user),
        cmocka_unit_test(test_link__exchange_default_suite),
        cmocka_unit_test(test_link__exchange_fips_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
