/* pbe_test.c - password-encrypted containers. */
#include "testutil.h"

#include "proto/pbe.h"

static const struct pbe_params fast = {1, 64, 1}; /* tests only */
static const uint8_t pw[] = "correct horse battery staple";

static void test_pbe__roundtrip(void **state)
{
    struct buf c = BUF_INIT(1 << 20), p = BUF_INIT(1 << 20);
    static const char cfg[] = "host=chat.example.org\npin=sha256/...\n";

    assert_int_equal(pbe_seal(pw, sizeof(pw) - 1, &fast, (const uint8_t *)cfg, strlen(cfg), &c), 0);
    assert_int_equal(c.len, PBE_HEADER_LEN + strlen(cfg) + 16);
    assert_int_equal(pbe_open(pw, sizeof(pw) - 1, c.data, c.len, NULL, &p), 0);
    assert_int_equal(p.len, strlen(cfg));
    assert_memory_equal(p.data, cfg, p.len);
    buf_release_secure(&p);
    /* Empty plaintext works too. */
    buf_reset(&c);
    c.len = 0;
    assert_int_equal(pbe_seal(pw, sizeof(pw) - 1, &fast, NULL, 0, &c), 0);
    assert_int_equal(pbe_open(pw, sizeof(pw) - 1, c.data, c.len, NULL, &p), 0);
    assert_int_equal(p.len, 0);
    buf_release(&p);
    buf_release(&c);
}

static void test_pbe__wrong_password_and_tampering(void **state)
{
    struct buf c = BUF_INIT(1 << 20), p = BUF_INIT(1 << 20);

    assert_int_equal(pbe_seal(pw, sizeof(pw) - 1, &fast, (const uint8_t *)"secret", 6, &c), 0);
    assert_int_equal(pbe_open((const uint8_t *)"wrong", 5, c.data, c.len, NULL, &p), PARLEY_EAUTH);
    for (size_t i = 0; i < c.len; i++) {
        c.data[i] ^= 0x01;
        assert_true(pbe_open(pw, sizeof(pw) - 1, c.data, c.len, NULL, &p) < 0);
        assert_int_equal(p.len, 0);
        c.data[i] ^= 0x01;
    }
    for (size_t l = 0; l < c.len; l++)
        assert_true(pbe_open(pw, sizeof(pw) - 1, c.data, l, NULL, &p) < 0);
    buf_release(&p);
    buf_release(&c);
}

static void test_pbe__absurd_costs_refused_before_work(void **state)
{
    struct buf c = BUF_INIT(1 << 20), p = BUF_INIT(1 << 20);
    struct pbe_header h;
    struct pbe_limits tight = {1, 64, 1, 1024};

    assert_int_equal(pbe_seal(pw, sizeof(pw) - 1, &fast, (const uint8_t *)"x", 1, &c), 0);
    /* m_cost = 0xffffffff KiB (4 TiB) */
    memset(c.data + 12, 0xff, 4);
    assert_int_equal(pbe_parse(c.data, c.len, NULL, &h), PARLEY_ETOOBIG);
    assert_int_equal(pbe_open(pw, sizeof(pw) - 1, c.data, c.len, NULL, &p), PARLEY_ETOOBIG);
    /* t_cost huge */
    memset(c.data + 12, 0, 4);
    c.data[15] = 64;
    memset(c.data + 8, 0x7f, 4);
    assert_int_equal(pbe_parse(c.data, c.len, NULL, &h), PARLEY_ETOOBIG);
    c.data[8] = c.data[9] = c.data[10] = 0;
    c.data[11] = 1;
    assert_int_equal(pbe_parse(c.data, c.len, NULL, &h), 0);
    assert_int_equal(h.params.m_cost_kib, 64);
    /* Below Argon2's minimum: malformed. */
    c.data[15] = 4;
    assert_int_equal(pbe_parse(c.data, c.len, NULL, &h), PARLEY_EPROTO);
    c.data[15] = 128;
    assert_int_equal(pbe_parse(c.data, c.len, &tight, &h), PARLEY_ETOOBIG);
    assert_int_equal(pbe_seal(pw, 1, &(struct pbe_params){1, 4, 1}, NULL, 0, &c), PARLEY_EINVAL);
    buf_release(&p);
    buf_release(&c);
}

static void test_pbe__default_params_are_rfc9106(void **state)
{
    assert_int_equal(pbe_params_default.t_cost, 3);
    assert_int_equal(pbe_params_default.m_cost_kib, 65536);
    assert_int_equal(pbe_params_default.parallelism, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbe__roundtrip),
        cmocka_unit_test(test_pbe__wrong_password_and_tampering),
        cmocka_unit_test(test_pbe__absurd_costs_refused_before_work),
        cmocka_unit_test(test_pbe__default_params_are_rfc9106),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
