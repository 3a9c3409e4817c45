/* botkey_test.c - the per-bot key of encrypt_string/decrypt_string
 * (src/bot/engine/botkey.c): durable across opens, bound to the password,
 * and strict about what it opens. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "bot/engine/botkey.h"

struct dir {
    char path[64], key[128], file[128];
};

static int setup(void **state)
{
    struct dir *d = calloc(1, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "/tmp/parley-botkey-XXXXXX");
    if (!mkdtemp(d->path))
        return -1;
    snprintf(d->key, sizeof(d->key), "%s/botapi.key", d->path);
    snprintf(d->file, sizeof(d->file), "%s/kv", d->path);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct dir *d = *state;
    unlink(d->key);
    unlink(d->file);
    rmdir(d->path);
    free(d);
    return 0;
}

static void test_botkey__round_trip_across_opens(void **state)
{
    struct dir *d = *state;
    struct botkey k1, k2, wrong;
    char *sealed, *again, *plain;
    size_t n;
    struct stat st;

    assert_int_equal(botkey_open(&k1, d->key, "bot password"), 0);
    assert_int_equal(stat(d->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(botkey_seal(&k1, "users: [alice]", 14, &sealed), 0);
    assert_int_equal(strncmp(sealed, "pbs1.", 5), 0);
    assert_null(strstr(sealed, "alice"));
    /* A random nonce: the same text seals differently. */
    assert_int_equal(botkey_seal(&k1, "users: [alice]", 14, &again), 0);
    assert_string_not_equal(sealed, again);
    free(again);

    /* Reopened (a restart), the key opens what it sealed before. */
    assert_int_equal(botkey_open(&k2, d->key, "bot password"), 0);
    assert_int_equal(botkey_open_string(&k2, sealed, &plain, &n), 0);
    assert_int_equal(n, 14);
    assert_string_equal(plain, "users: [alice]");
    free(plain);

    /* The empty string seals too. */
    assert_int_equal(botkey_seal(&k2, "", 0, &again), 0);
    assert_int_equal(botkey_open_string(&k1, again, &plain, &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(plain, "");
    free(plain);
    free(again);

    /* Another password does not open the key file. */
    assert_int_equal(botkey_open(&wrong, d->key, "not it"), PARLEY_EAUTH);
    assert_false(wrong.loaded);

    /* Sealed files round-trip; a missing one is reported as such. */
    assert_int_equal(botkey_read_file(&k1, d->file, &plain, &n), PARLEY_ENOTFOUND);
    assert_int_equal(botkey_write_file(&k1, d->file, "{\"k\":\"v\"}", 9), 0);
    assert_int_equal(botkey_read_file(&k2, d->file, &plain, &n), 0);
    assert_string_equal(plain, "{\"k\":\"v\"}");
    free(plain);

    botkey_release(&k1);
    botkey_release(&k2);
    free(sealed);
}

static void test_botkey__refuses_what_it_did_not_seal(void **state)
{
    struct dir *d = *state;
    struct botkey k, other;
    char *sealed, *plain = NULL;
    size_t n;

    assert_int_equal(botkey_open(&k, d->key, "pw"), 0);
    assert_int_equal(botkey_seal(&k, "secret", 6, &sealed), 0);

    assert_int_equal(botkey_open_string(&k, "secret", &plain, &n), PARLEY_EPROTO);
    assert_int_equal(botkey_open_string(&k, "pbs1.", &plain, &n), PARLEY_EPROTO);
    assert_int_equal(botkey_open_string(&k, "pbs1.abc", &plain, &n), PARLEY_EPROTO);
    assert_int_equal(botkey_open_string(&k, "pbs1.zz", &plain, &n), PARLEY_EPROTO);
    /* One changed digit fails authentication. */
    size_t last = strlen(sealed) - 1;
    char was = sealed[last];
    sealed[last] = was == '0' ? '1' : '0';
    assert_int_equal(botkey_open_string(&k, sealed, &plain, &n), PARLEY_EAUTH);
    sealed[last] = was;
    assert_int_equal(botkey_open_string(&k, sealed, &plain, &n), 0);
    free(plain);

    /* Another bot's key (another file) cannot open it. */
    unlink(d->key);
    assert_int_equal(botkey_open(&other, d->key, "pw"), 0);
    assert_int_equal(botkey_open_string(&other, sealed, &plain, &n), PARLEY_EAUTH);

    /* A file that is not a sealed one. */
    FILE *f = fopen(d->file, "w");
    fputs("short", f);
    fclose(f);
    assert_int_equal(botkey_read_file(&k, d->file, &plain, &n), PARLEY_EPROTO);

    botkey_release(&k);
    botkey_release(&other);
    free(sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_botkey__round_trip_across_opens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_botkey__refuses_what_it_did_not_seal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
