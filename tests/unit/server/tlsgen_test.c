/* tlsgen_test.c - the self-signed certificate: names, key mode, fingerprint. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "server/tlsgen.h"

static void test_tlsgen__names_key_mode_and_fingerprint(void **state)
{
    char dir[] = "/tmp/parley-tls.XXXXXX", cert[128], key[128], fp[96];
    struct stat st;
    X509 *x;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    assert_int_equal(tlsgen_self_signed(cert, key, "chat.example.org", "192.0.2.7"), 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    f = fopen(cert, "r");
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    assert_int_equal(X509_check_host(x, "chat.example.org", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "other.example.org", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "192.0.2.8", 0), 0);
    /* Valid now, and self-signed. */
    assert_true(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    assert_true(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
    X509_free(x);

    assert_int_equal(tlsgen_fingerprint(cert, fp), 0);
    assert_int_equal(strlen(fp), 95);
    assert_int_equal(fp[2], ':');
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlsgen__names_key_mode_and_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
