/* config_test.c - the client configuration file: create, open, reject. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>

#include "client/config.h"

#define PEM "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY\n-----END CERTIFICATE-----\n"

static const char good[] =
    "{\"version\":1,\"service_host\":\"chat.example.org\",\"service_port\":8443,"
    "\"network_id\":\"net-1\",\"network_name\":\"Example\",\"suite\":\"x25519\","
    "\"pinned_certs\":[\""
    "-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUY\\n"
    "-----END CERTIFICATE-----\\n\"],\"policy\":{\"max_expiration\":86400}}";

static void test_config__create_and_open(void **state)
{
    char path[] = "/tmp/parley-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(parley_config_create(path, good, "s3cret pass"), 0);

    struct parley_config *cfg = NULL;
    assert_int_equal(parley_config_open(path, "s3cret pass", &cfg), 0);
    assert_string_equal(parley_config_service_host(cfg), "chat.example.org");
    assert_int_equal(parley_config_service_port(cfg), 8443);
    assert_string_equal(parley_config_network_id(cfg), "net-1");
    assert_string_equal(parley_config_network_name(cfg), "Example");
    assert_string_equal(parley_config_suite(cfg), "x25519");
    assert_int_equal(parley_config_pinned_count(cfg), 1);
    assert_string_equal(parley_config_pinned_cert(cfg, 0), PEM);
    assert_null(parley_config_pinned_cert(cfg, 1));
    assert_string_equal(parley_config_policy(cfg), "{\"max_expiration\":86400}");
    parley_config_free(cfg);
    unlink(path);
}

static void test_config__wrong_password_fails(void **state)
{
    uint8_t *p;
    size_t n;
    struct parley_config *cfg = (void *)1;
    assert_int_equal(parley_config_seal(good, "right", &p, &n), 0);
    assert_int_equal(parley_config_open_mem(p, n, "wrong", &cfg), PARLEY_EAUTH);
    assert_null(cfg);
    /* A flipped byte anywhere fails authentication too. */
    p[n - 1] ^= 1;
    assert_int_equal(parley_config_open_mem(p, n, "right", &cfg), PARLEY_EAUTH);
    free(p);
}

static void test_config__file_holds_no_plaintext(void **state)
{
    uint8_t *p;
    size_t n;
    assert_int_equal(parley_config_seal(good, "pw", &p, &n), 0);
    assert_null(memmem(p, n, "chat.example.org", 16));
    assert_null(memmem(p, n, "BEGIN CERTIFICATE", 17));
    free(p);
}

static void test_config__rejects_invalid_documents(void **state)
{
    static const char *bad[] = {
        "[]",
        "{\"version\":2}",
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":0,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"pinned_certs\":[\"" PEM "\"]}",
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"rsa\",\"pinned_certs\":[]}",
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"p384\",\"pinned_certs\":[]}",
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"p384\",\"pinned_certs\":[\"not a pem\"]}",
        "{\"version\":1,\"service_host\":\"\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"p384\",\"pinned_certs\":[\"x\"]}",
        "{\"version\":1,\"version\":1}",
        "not json",
        /* Pinning off carries no pins; pinning on needs them. */
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"certificate_pinning\":false,\"pinned_certs\":[\"" PEM "\"]}",
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"certificate_pinning\":\"no\"}",
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"certificate_pinning\":true}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct parley_config *cfg = NULL;
        char err[256];
        assert_int_equal(config_parse(bad[i], strlen(bad[i]), &cfg, err, sizeof(err)),
                         PARLEY_ECONFIG);
        assert_null(cfg);
        assert_true(err[0] != '\0');
    }
    uint8_t *p = NULL;
    size_t n;
    assert_int_equal(parley_config_seal("{}", "pw", &p, &n), PARLEY_ECONFIG);
    assert_null(p);
}

static void test_config__pinning_off(void **state)
{
    static const char doc[] =
        "{\"version\":1,\"service_host\":\"chat.example.org\",\"service_port\":443,"
        "\"network_id\":\"n\",\"suite\":\"x25519\",\"certificate_pinning\":false}";
    struct parley_config *cfg;
    char err[256];
    assert_int_equal(config_parse(doc, strlen(doc), &cfg, err, sizeof(err)), 0);
    assert_false(cfg->pinning);
    assert_int_equal(parley_config_pinned_count(cfg), 0);
    parley_config_free(cfg);
}

/* The security group's password rules, as the configuration file carries
 * them, applied to a password the user chooses. */
static void test_config__password_rules(void **state)
{
    static const char doc[] =
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"certificate_pinning\":false,\"policy\":{"
        "\"password_min_length\":10,\"password_require_uppercase\":true,"
        "\"password_require_lowercase\":true,\"password_require_digit\":true,"
        "\"password_require_symbol\":true}}";
    static const char open_doc[] =
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"certificate_pinning\":false}";
    struct parley_config *cfg, *open_cfg;
    char err[256], why[256];
    (void)state;
    assert_int_equal(config_parse(doc, strlen(doc), &cfg, err, sizeof(err)), 0);
    assert_int_equal(parley_config_password_check(cfg, "Longer-pass-9", why, sizeof(why)), 0);
    assert_string_equal(why, "");
    /* Ten characters, not ten bytes. */
    assert_int_equal(
        parley_config_password_check(cfg, "Pw-1\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                     why, sizeof(why)),
        0);
    assert_int_equal(parley_config_password_check(
                         cfg, "Pw-1\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", why, sizeof(why)),
                     PARLEY_EINVAL);
    assert_int_equal(parley_config_password_check(cfg, "Sh-1", why, sizeof(why)), PARLEY_EINVAL);
    assert_non_null(strstr(why, "at least 10 characters"));
    assert_int_equal(parley_config_password_check(cfg, "alllowercase", why, sizeof(why)),
                     PARLEY_EINVAL);
    assert_non_null(strstr(why, "an uppercase letter"));
    assert_non_null(strstr(why, "a digit"));
    assert_non_null(strstr(why, "a symbol"));
    assert_null(strstr(why, "lowercase"));
    assert_int_equal(parley_config_password_check(cfg, "NOLOWER-123", why, sizeof(why)),
                     PARLEY_EINVAL);
    assert_non_null(strstr(why, "a lowercase letter"));
    assert_int_equal(parley_config_password_check(cfg, "Nosymbol123", NULL, 0), PARLEY_EINVAL);
    /* No rules in the policy: nothing to refuse. */
    assert_int_equal(config_parse(open_doc, strlen(open_doc), &open_cfg, err, sizeof(err)), 0);
    assert_int_equal(parley_config_password_check(open_cfg, "x", why, sizeof(why)), 0);
    parley_config_free(cfg);
    parley_config_free(open_cfg);
}

static void test_config__p384_and_defaults(void **state)
{
    static const char doc[] =
        "{\"version\":1,\"service_host\":\"127.0.0.1\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"p384\",\"pinned_certs\":[\"-----BEGIN CERTIFICATE-----\\nA\\n"
        "-----END CERTIFICATE-----\"],\"future_field\":true}";
    struct parley_config *cfg;
    char err[256];
    assert_int_equal(config_parse(doc, strlen(doc), &cfg, err, sizeof(err)), 0);
    assert_string_equal(parley_config_suite(cfg), "p384");
    assert_string_equal(parley_config_network_name(cfg), "n");
    assert_string_equal(parley_config_policy(cfg), "{}");

    char path[] = "/tmp/parley-pins-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(config_write_pins(cfg, path), 0);
    FILE *f = fopen(path, "r");
    char line[64];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "-----BEGIN CERTIFICATE-----\n");
    fclose(f);
    unlink(path);
    parley_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__create_and_open),
        cmocka_unit_test(test_config__wrong_password_fails),
        cmocka_unit_test(test_config__file_holds_no_plaintext),
        cmocka_unit_test(test_config__rejects_invalid_documents),
        cmocka_unit_test(test_config__p384_and_defaults),
        cmocka_unit_test(test_config__password_rules),
        cmocka_unit_test(test_config__pinning_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
