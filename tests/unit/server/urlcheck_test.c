/* urlcheck_test.c - administrator URLs: what the splitter accepts, and
 * which addresses count as private. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/urlcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int parse(const char *url, char host[URLCHECK_HOSTMAX + 1], int *port)
{
    char err[256];
    return urlcheck_parse(url, host, URLCHECK_HOSTMAX + 1, port, err, sizeof(err));
}

static void test_urlcheck__splits_https_urls(void **state)
{
    char host[URLCHECK_HOSTMAX + 1];
    int port;

    assert_int_equal(parse("https://IdP.Example.com/realms/acme?x=1", host, &port), 0);
    assert_string_equal(host, "idp.example.com");
    assert_int_equal(port, 443);
    assert_int_equal(parse("HTTPS://10.0.0.1:8443", host, &port), 0);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 8443);
    assert_int_equal(parse("https://[fd00::1]:9000/x", host, &port), 0);
    assert_string_equal(host, "fd00::1");
    assert_int_equal(port, 9000);
}

static void test_urlcheck__refuses_what_is_not_a_plain_https_url(void **state)
{
    static const char *const bad[] = {
        "http://idp.example/",
        "https://",
        "https:///path",
        "https://u:p@idp/",
        "https://idp/#frag",
        "https://idp:0/",
        "https://idp:65536/",
        "https://idp:/",
        "https://idp:12a/",
        "https://[zz]/",
        "https://[::1/",
        "https://idp example/",
        "https://id_p.example/",
        "https://idp\x01/",
        "ftp://idp/",
        "https://idp:+443/",
        "javascript:alert(1)",
        "",
    };
    char host[URLCHECK_HOSTMAX + 1];
    int port;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(bad[i], host, &port) == 0)
            fail_msg("accepted '%s'", bad[i]);
}

static bool private4(const char *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, a, &s.sin_addr);
    return urlcheck_addr_private((struct sockaddr *)&s);
}

static bool private6(const char *a)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return urlcheck_addr_private((struct sockaddr *)&s);
}

static void test_urlcheck__private_addresses(void **state)
{
    static const char *const priv4[] = {"127.0.0.1",    "10.255.0.1",    "172.16.0.1",
                                        "172.31.255.1", "192.168.1.1",   "169.254.169.254",
                                        "100.64.0.1",   "100.127.255.1", "0.0.0.0"};
    static const char *const pub4[] = {"93.184.216.34", "172.32.0.1",  "172.15.255.255",
                                       "100.128.0.1",   "192.169.0.1", "8.8.8.8"};
    static const char *const priv6[] = {
        "::1", "::", "fe80::1", "fc00::1", "fd12::1", "::ffff:192.168.0.1", "fec0::1"};
    static const char *const pub6[] = {"2001:db8::1", "2606:4700::1111", "::ffff:8.8.8.8"};

    for (size_t i = 0; i < sizeof(priv4) / sizeof(priv4[0]); i++)
        if (!private4(priv4[i]))
            fail_msg("%s should be private", priv4[i]);
    for (size_t i = 0; i < sizeof(pub4) / sizeof(pub4[0]); i++)
        if (private4(pub4[i]))
            fail_msg("%s should be public", pub4[i]);
    for (size_t i = 0; i < sizeof(priv6) / sizeof(priv6[0]); i++)
        if (!private6(priv6[i]))
            fail_msg("%s should be private", priv6[i]);
    for (size_t i = 0; i < sizeof(pub6) / sizeof(pub6[0]); i++)
        if (private6(pub6[i]))
            fail_msg("%s should be public", pub6[i]);
}

static void test_urlcheck__hosts_by_policy(void **state)
{
    char err[300];

    assert_int_equal(urlcheck_host("127.0.0.1", false, err, sizeof(err)), PARLEY_EPERM);
    assert_non_null(strstr(err, "allow_private_ips"));
    assert_int_equal(urlcheck_host("127.0.0.1", true, err, sizeof(err)), 0);
    assert_int_equal(urlcheck_host("localhost", false, err, sizeof(err)), PARLEY_EPERM);
    assert_int_equal(urlcheck_host("93.184.216.34", false, err, sizeof(err)), 0);
    assert_int_equal(urlcheck_host("no-such-host.invalid", true, err, sizeof(err)),
                     PARLEY_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urlcheck__splits_https_urls),
        cmocka_unit_test(test_urlcheck__refuses_what_is_not_a_plain_https_url),
        cmocka_unit_test(test_urlcheck__private_addresses),
        cmocka_unit_test(test_urlcheck__hosts_by_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
