/* lstore_test.c - the account file: secrets encrypted at rest, the
 * password, de-duplication, pins, conversations and messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <unistd.h>

#include "client/lstore.h"
#include "proto/keys.h"
#include "proto/suite.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/parley-lstore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/acct.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[160];
    static const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Every byte SQLite wrote for this account (main file and WAL). */
static void read_all(const char *path, struct buf *out)
{
    static const char *sfx[] = {"", "-wal"};
    char p[160];
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        FILE *fp = fopen(p, "rb");
        if (!fp)
            continue;
        uint8_t chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            assert_int_equal(buf_append(out, chunk, n), 0);
        fclose(fp);
    }
}

static void test_lstore__key_store_encrypted_at_rest(void **state)
{
    struct fixture *f = *state;
    struct keys_device dev;
    struct buf saved = BUF_INIT(KEYS_MAX_STORE), raw = BUF_INIT(64 << 20);
    struct buf back = BUF_INIT(KEYS_MAX_STORE);
    uint8_t uid[16] = {1, 2, 3};
    struct lstore *st;

    assert_int_equal(keys_device_generate(&dev, suite_get(SUITE_DEFAULT), uid), 0);
    assert_int_equal(keys_device_add_prekeys(&dev, 5, 1000), 0);
    assert_int_equal(keys_device_save(&dev, &saved), 0);

    assert_int_equal(lstore_create(f->path, "correct horse", "net", "alice", &st), 0);
    assert_int_equal(lstore_secret_put(st, "keystore", saved.data, saved.len), 0);
    lstore_close(st);

    read_all(f->path, &raw);
    assert_true(raw.len > 0);
    /* Neither the serialised store nor the signing key appears anywhere. */
    assert_null(memmem(raw.data, raw.len, saved.data, saved.len));
    assert_null(memmem(raw.data, raw.len, dev.sign.sk, dev.sign.sk_len));
    assert_null(memmem(raw.data, raw.len, dev.prekeys[0].key.sk, 16));
    assert_null(memmem(raw.data, raw.len, "PDKS", 4));

    st = (void *)1;
    assert_int_equal(lstore_open(f->path, "wrong horse", &st), PARLEY_EAUTH);
    assert_null(st);
    assert_int_equal(lstore_open(f->path, "correct horse", &st), 0);
    assert_int_equal(lstore_secret_get(st, "keystore", &back), 0);
    assert_int_equal(back.len, saved.len);
    assert_memory_equal(back.data, saved.data, saved.len);
    assert_int_equal(lstore_secret_get(st, "missing", &back), PARLEY_ENOTFOUND);
    assert_int_equal(lstore_secret_get(st, "storage_key", &back), PARLEY_EINVAL);
    lstore_close(st);

    char *net, *user;
    assert_int_equal(lstore_peek(f->path, &net, &user), 0);
    assert_string_equal(net, "net");
    assert_string_equal(user, "alice");
    free(net);
    free(user);

    buf_release_secure(&saved);
    buf_release_secure(&back);
    buf_release(&raw);
    keys_device_release(&dev);
}

static void test_lstore__create_refuses_existing(void **state)
{
    struct fixture *f = *state;
    struct lstore *st;
    assert_int_equal(lstore_create(f->path, "pw", "net", "bob", &st), 0);
    lstore_close(st);
    assert_int_equal(lstore_create(f->path, "pw", "net", "bob", &st), PARLEY_EEXIST);
    assert_int_equal(lstore_open("/nonexistent/x.db", "pw", &st), PARLEY_ENOTFOUND);
}

static void test_lstore__secret_bound_to_its_name(void **state)
{
    struct fixture *f = *state;
    struct lstore *st;
    struct buf b = BUF_INIT(1024);
    assert_int_equal(lstore_create(f->path, "pw", "net", "bob", &st), 0);
    assert_int_equal(lstore_secret_put(st, "device_token", (const uint8_t *)"tok", 3), 0);
    /* Moving the ciphertext under another name must not decrypt. */
    assert_int_equal(lstore_begin(st), 0);
    assert_int_equal(lstore_secret_put(st, "identity", (const uint8_t *)"x", 1), 0);
    assert_int_equal(lstore_commit(st), 0);
    lstore_close(st);

    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "sqlite3 '%s' \"UPDATE secrets SET blob = (SELECT blob FROM secrets WHERE"
             " name = 'device_token') WHERE name = 'identity'\"",
             f->path);
    if (system(cmd) != 0)
        skip();
    assert_int_equal(lstore_open(f->path, "pw", &st), 0);
    assert_int_equal(lstore_secret_get(st, "identity", &b), PARLEY_EAUTH);
    assert_int_equal(lstore_secret_get(st, "device_token", &b), 0);
    assert_memory_equal(b.data, "tok", 3);
    buf_release_secure(&b);
    lstore_close(st);
}

static int collect(void *arg, const struct lstore_msg *m)
{
    struct buf *b = arg;
    return buf_printf(b, "%s:%d:%s;", m->sender, m->msgtype, m->body);
}

static void test_lstore__messages_dedup_and_order(void **state)
{
    struct fixture *f = *state;
    struct lstore *st;
    struct buf out = BUF_INIT(4096), raw = BUF_INIT(64 << 20);
    struct lstore_msg m = {
        .msg_id = "00112233445566778899aabbccddeeff",
        .conv_id = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
        .sender = "u1",
        .sender_device = "d1",
        .msgtype = 1000,
        .body = "{\"message\":\"first secret words\",\"msgtype\":1000}",
        .ts_ms = 2000,
        .state = LSTORE_MSG_RECEIVED,
    };
    assert_int_equal(lstore_create(f->path, "pw", "net", "bob", &st), 0);
    assert_int_equal(lstore_msg_seen(st, m.msg_id), 0);
    assert_int_equal(lstore_msg_put(st, &m), 0);
    assert_int_equal(lstore_msg_seen(st, m.msg_id), PARLEY_EREPLAY);
    assert_int_equal(lstore_msg_put(st, &m), PARLEY_EREPLAY);

    struct lstore_msg m2 = m;
    memcpy(m2.msg_id, "ffffffffffffffffffffffffffffffff", 32);
    m2.body = "{\"message\":\"earlier\",\"msgtype\":1000}";
    m2.ts_ms = 1000;
    m2.sender[1] = '2';
    assert_int_equal(lstore_msg_put(st, &m2), 0);

    assert_int_equal(lstore_msg_each(st, m.conv_id, 0, collect, &out), 0);
    assert_string_equal((char *)out.data, "u2:1000:{\"message\":\"earlier\",\"msgtype\":1000};"
                                          "u1:1000:{\"message\":\"first secret words\","
                                          "\"msgtype\":1000};");
    buf_reset(&out);
    assert_int_equal(lstore_msg_each(st, m.conv_id, 1, collect, &out), 0);
    assert_non_null(strstr((char *)out.data, "first secret"));
    assert_null(strstr((char *)out.data, "earlier"));

    char sender[33], conv[33];
    int bor = -1;
    assert_int_equal(lstore_msg_meta(st, m.msg_id, conv, &bor), 0);
    assert_string_equal(conv, m.conv_id);
    assert_int_equal(bor, 0);
    assert_int_equal(lstore_msg_meta(st, "nope", conv, &bor), PARLEY_ENOTFOUND);
    assert_int_equal(lstore_msg_sender(st, m2.msg_id, sender), 0);
    assert_string_equal(sender, "u2");
    assert_int_equal(lstore_msg_sender(st, "nope", sender), PARLEY_ENOTFOUND);

    /* Expired messages go; their ids stay seen. */
    assert_int_equal(lstore_msg_set_expiry(st, m2.msg_id, 500), 0);
    assert_int_equal(lstore_msg_purge_expired(st, 499), 0);
    assert_int_equal(lstore_msg_purge_expired(st, 500), 1);
    assert_int_equal(lstore_msg_put(st, &m2), PARLEY_EREPLAY);
    buf_reset(&out);
    assert_int_equal(lstore_msg_each(st, m.conv_id, 0, collect, &out), 0);
    assert_null(strstr((char *)out.data, "earlier"));

    /* A deleted message stays seen: a replay is still refused. */
    assert_int_equal(lstore_msg_set_state(st, m.msg_id, LSTORE_MSG_DELETED), 0);
    assert_int_equal(lstore_msg_put(st, &m), PARLEY_EREPLAY);
    assert_int_equal(lstore_msg_set_state(st, "nope", LSTORE_MSG_READ), PARLEY_ENOTFOUND);
    lstore_close(st);

    read_all(f->path, &raw);
    assert_null(memmem(raw.data, raw.len, "first secret words", 18));
    buf_release(&raw);
    buf_release(&out);
}

static void test_lstore__pins_and_conversations(void **state)
{
    struct fixture *f = *state;
    struct lstore *st;
    struct buf key = BUF_INIT(256);
    int verified = -1;
    char *name;

    assert_int_equal(lstore_create(f->path, "pw", "net", "bob", &st), 0);
    assert_int_equal(lstore_pin_get(st, "u1", &key, &verified), PARLEY_ENOTFOUND);
    assert_int_equal(lstore_pin_put(st, "u1", "alice", (const uint8_t *)"KEY1", 4, 0), 0);
    assert_int_equal(lstore_pin_get(st, "u1", &key, &verified), 0);
    assert_int_equal(key.len, 4);
    assert_int_equal(verified, 0);
    assert_int_equal(lstore_pin_username(st, "u1", &name), 0);
    assert_string_equal(name, "alice");
    free(name);

    struct lstore_conv c = {.conv_id = "8000", .type = "room", .title = "Ops", .expiration = 60};
    struct lstore_conv back;
    assert_int_equal(lstore_conv_put(st, &c), 0);
    assert_int_equal(lstore_conv_get(st, "8000", &back), 0);
    assert_string_equal(back.type, "room");
    assert_string_equal(back.title, "Ops");
    assert_int_equal(back.expiration, 60);
    free(back.title);
    assert_int_equal(lstore_conv_delete(st, "8000"), 0);
    assert_int_equal(lstore_conv_get(st, "8000", &back), PARLEY_ENOTFOUND);
    assert_int_equal(lstore_prekey_used(st, 7, 100), 0);
    assert_int_equal(lstore_set(st, "device_id", "abc"), 0);
    assert_int_equal(lstore_get(st, "device_id", &name), 0);
    assert_string_equal(name, "abc");
    free(name);
    assert_int_equal(lstore_get(st, "nothing", &name), PARLEY_ENOTFOUND);
    buf_release(&key);
    lstore_close(st);
}

static int collect_ids(void *arg, const struct lstore_msg *m)
{
    char *ids = arg;
    size_t n = strlen(ids);
    snprintf(ids + n, 512 - n, "%s%s;", m->msg_id, m->body);
    return 0;
}

/* The journal keeps received messages in arrival order, through expiry,
 * until marked done; done forgets the copy but not the id. */
static void test_lstore__journal(void **state)
{
    struct fixture *f = *state;
    struct lstore *st;
    char ids[512] = "";
    static const char *mid[] = {"bbbb0000000000000000000000000000",
                                "aaaa0000000000000000000000000000",
                                "cccc0000000000000000000000000000"};

    assert_int_equal(lstore_create(f->path, "pw", "net", "bot", &st), 0);
    for (int i = 0; i < 3; i++) {
        struct lstore_msg m = {.msgtype = 1000,
                               .body = i == 1 ? "B" : "x",
                               .expires_at = 10,
                               .state = LSTORE_MSG_RECEIVED};
        snprintf(m.msg_id, sizeof(m.msg_id), "%s", mid[i]);
        snprintf(m.conv_id, sizeof(m.conv_id), "c%031d", 0);
        snprintf(m.sender, sizeof(m.sender), "s%031d", 0);
        snprintf(m.sender_device, sizeof(m.sender_device), "d%031d", 0);
        assert_int_equal(lstore_msg_put(st, &m), 0);
        if (i < 2)
            assert_int_equal(lstore_journal_add(st, mid[i]), 0);
    }
    /* Expired, but journaled ones stay. */
    assert_int_equal(lstore_msg_purge_expired(st, 100), 1);
    assert_int_equal(lstore_journal_each(st, collect_ids, ids), 0);
    assert_string_equal(ids, "bbbb0000000000000000000000000000x;"
                             "aaaa0000000000000000000000000000B;");
    assert_int_equal(lstore_journal_done(st, mid[0]), 0);
    ids[0] = '\0';
    assert_int_equal(lstore_journal_each(st, collect_ids, ids), 0);
    assert_string_equal(ids, "aaaa0000000000000000000000000000B;");
    assert_int_equal(lstore_msg_seen(st, mid[0]), PARLEY_EREPLAY);
    lstore_close(st);
}

/* A walk whose callback runs the same query again (statements are reused
 * per store handle: a busy one must not be handed out twice). */
struct nested {
    struct lstore *st;
    char outer[512], inner[512];
    int depth;
};

static int nested_cb(void *arg, const struct lstore_msg *m)
{
    struct nested *n = arg;
    char *out = n->depth ? n->inner : n->outer;
    size_t l = strlen(out);
    snprintf(out + l, 512 - l, "%.4s;", m->msg_id);
    if (n->depth == 0) {
        n->depth++;
        assert_int_equal(lstore_journal_each(n->st, nested_cb, n), 0);
        n->depth--;
    }
    return 0;
}

static void test_lstore__statements_reused_safely(void **state)
{
    struct fixture *f = *state;
    struct nested n = {0};
    static const char *mid[] = {"1111aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                "2222aaaaaaaaaaaaaaaaaaaaaaaaaaaa"};

    assert_int_equal(lstore_create(f->path, "pw", "net", "bot", &n.st), 0);
    for (int i = 0; i < 2; i++) {
        struct lstore_msg m = {.msgtype = 1000, .body = "x", .state = LSTORE_MSG_RECEIVED};
        snprintf(m.msg_id, sizeof(m.msg_id), "%s", mid[i]);
        snprintf(m.conv_id, sizeof(m.conv_id), "c%031d", 0);
        snprintf(m.sender, sizeof(m.sender), "s%031d", 0);
        snprintf(m.sender_device, sizeof(m.sender_device), "d%031d", 0);
        assert_int_equal(lstore_msg_put(n.st, &m), 0);
        assert_int_equal(lstore_journal_add(n.st, mid[i]), 0);
    }
    assert_int_equal(lstore_journal_each(n.st, nested_cb, &n), 0);
    assert_string_equal(n.outer, "1111;2222;");
    assert_string_equal(n.inner, "1111;2222;1111;2222;");

    /* A rolled back transaction leaves nothing, and the same statements
     * work again afterwards. */
    struct lstore_msg m = {.msgtype = 1000, .body = "y", .state = LSTORE_MSG_RECEIVED};
    snprintf(m.msg_id, sizeof(m.msg_id), "3333%028d", 0);
    snprintf(m.conv_id, sizeof(m.conv_id), "c%031d", 0);
    snprintf(m.sender, sizeof(m.sender), "s%031d", 0);
    snprintf(m.sender_device, sizeof(m.sender_device), "d%031d", 0);
    assert_int_equal(lstore_begin(n.st), 0);
    assert_int_equal(lstore_savepoint(n.st), 0);
    assert_int_equal(lstore_msg_put(n.st, &m), 0);
    lstore_rollback_to(n.st);
    assert_int_equal(lstore_msg_seen(n.st, m.msg_id), 0);
    assert_int_equal(lstore_msg_put(n.st, &m), 0);
    lstore_rollback(n.st);
    assert_int_equal(lstore_msg_seen(n.st, m.msg_id), 0);
    assert_int_equal(lstore_begin(n.st), 0);
    assert_int_equal(lstore_msg_put(n.st, &m), 0);
    assert_int_equal(lstore_commit(n.st), 0);
    assert_int_equal(lstore_msg_seen(n.st, m.msg_id), PARLEY_EREPLAY);
    lstore_close(n.st);
    /* Reopened: what was committed is there. */
    assert_int_equal(lstore_open(f->path, "pw", &n.st), 0);
    assert_int_equal(lstore_msg_seen(n.st, m.msg_id), PARLEY_EREPLAY);
    lstore_close(n.st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lstore__key_store_encrypted_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lstore__create_refuses_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lstore__secret_bound_to_its_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lstore__messages_dedup_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lstore__pins_and_conversations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lstore__journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lstore__statements_reused_safely, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
