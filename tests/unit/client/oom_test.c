/* oom_test.c - libparley never aborts: every parser of outside bytes, run
 * with the n-th allocation failing for every n until it succeeds, returns
 * an error (and frees what it took, which ASan checks) instead of crashing.
 * The allocator is swapped with the linker's --wrap for our own objects and
 * json_set_alloc_funcs for jansson. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client/api.h"
#include "client/config.h"
#include "client/frame.h"
#include "client/msgtypes.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long countdown = -1; /* the allocation that fails; -1: none */

static bool fail_now(void)
{
    if (countdown < 0)
        return false;
    return countdown-- == 0;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

static void *json_malloc(size_t n)
{
    return __wrap_malloc(n);
}

static void json_free(void *p)
{
    free(p);
}

#define UID "00112233445566778899aabbccddeeff"

/* Run `fn` with allocation k failing, k = 0, 1, ... until it succeeds;
 * every failed run must report one of the allowed errors. */
static void exhaust(int (*fn)(void), int allowed_a, int allowed_b)
{
    int rc;
    long k = 0;
    json_set_alloc_funcs(json_malloc, json_free);
    do {
        countdown = k++;
        rc = fn();
        countdown = -1;
        if (rc != 0 && rc != allowed_a && rc != allowed_b)
            fail_msg("allocation %ld failing gave %d", k - 1, rc);
    } while (rc != 0 && k < 100000);
    assert_int_equal(rc, 0);
    assert_true(k > 1); /* at least one allocation was made to fail */
    json_set_alloc_funcs(malloc, free);
}

static int run_config(void)
{
    static const char doc[] =
        "{\"version\":1,\"service_host\":\"h\",\"service_port\":1,\"network_id\":\"n\","
        "\"suite\":\"x25519\",\"pinned_certs\":[\"-----BEGIN CERTIFICATE-----\\nA\\n"
        "-----END CERTIFICATE-----\"],\"policy\":{\"a\":[1,2]}}";
    struct parley_config *cfg;
    char err[256];
    int rc = config_parse(doc, strlen(doc), &cfg, err, sizeof(err));
    parley_config_free(cfg);
    return rc;
}

static int run_payload(void)
{
    static const char p[] = "{\"msgtype\":4001,\"control\":{\"members\":[\"a\"],\"masters\":[],"
                            "\"title\":\"t\"}}";
    json_t *j;
    char err[256], *enc = NULL;
    size_t len;
    int mt, rc = msgtype_decode((const uint8_t *)p, strlen(p), &j, &mt, err, sizeof(err));
    if (rc == 0) {
        rc = msgtype_encode(j, &enc, &len);
        free(enc);
        json_decref(j);
    }
    return rc;
}

static int run_user(void)
{
    static const char p[] = "{\"user_id\":\"" UID "\",\"username\":\"b\",\"status\":\"active\","
                            "\"identity_key\":\"AAEC\",\"devices\":[{\"device_id\":\"" UID "\","
                            "\"cert\":\"AwQF\"},{\"device_id\":\"" UID "\",\"cert\":\"AwQF\"}]}";
    struct api_user u;
    json_t *j;
    int rc = api_parse(p, strlen(p), &j);
    if (rc == 0) {
        rc = api_user_parse(j, &u);
        if (rc == 0)
            api_user_release(&u);
        json_decref(j);
    }
    return rc;
}

static int run_frame(void)
{
    static const char p[] =
        "{\"type\":\"nack\",\"msg_id\":\"" UID "\",\"code\":\"devices_changed\","
        "\"missing\":[\"" UID "\"],\"extra\":[]}";
    struct frame_ctl c;
    struct buf b = BUF_INIT(256);
    uint64_t seq = 5;
    int rc = frame_ctl_parse(p, strlen(p), &c);
    if (rc == 0)
        rc = frame_ack(&seq, 1, &b);
    buf_release(&b);
    return rc;
}

static void test_oom__config_document(void **state)
{
    exhaust(run_config, PARLEY_ENOMEM, PARLEY_ECONFIG); /* jansson: "invalid JSON" */
}

static void test_oom__payloads(void **state)
{
    exhaust(run_payload, PARLEY_ENOMEM, PARLEY_EPROTO);
}

static void test_oom__server_answers(void **state)
{
    exhaust(run_user, PARLEY_ENOMEM, PARLEY_EPROTO);
}

static void test_oom__control_frames(void **state)
{
    exhaust(run_frame, PARLEY_ENOMEM, PARLEY_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom__config_document),
        cmocka_unit_test(test_oom__payloads),
        cmocka_unit_test(test_oom__server_answers),
        cmocka_unit_test(test_oom__control_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
