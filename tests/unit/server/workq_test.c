/* workq_test.c - jobs run off the loop thread and finish on it; a deferred
 * request whose connection goes away resumes as NULL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/http.h"
#include "server/workq.h"

#include <pthread.h>

struct job {
    pthread_t loop, worker, done_on;
    int order; /* 1 after work, 2 after done */
};

static void on_work(void *arg)
{
    struct job *j = arg;
    j->worker = pthread_self();
    j->order = 1;
}

static void on_done(void *arg)
{
    struct job *j = arg;
    assert_int_equal(j->order, 1);
    j->done_on = pthread_self();
    j->order = 2;
}

static void test_workq__work_on_a_worker_done_on_the_loop(void **state)
{
    uv_loop_t loop;
    struct job jobs[3];

    assert_int_equal(workq_submit(on_work, on_done, &jobs[0]), PARLEY_ECLOSED);
    assert_int_equal(uv_loop_init(&loop), 0);
    workq_open(&loop);
    for (int i = 0; i < 3; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].loop = pthread_self();
        assert_int_equal(workq_submit(on_work, on_done, &jobs[i]), 0);
    }
    assert_int_equal(workq_pending(), 3);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(workq_pending(), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jobs[i].order, 2);
        assert_false(pthread_equal(jobs[i].worker, jobs[i].loop));
        assert_true(pthread_equal(jobs[i].done_on, jobs[i].loop));
    }
    workq_open(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void nothing(void *arg)
{
    (void)arg;
}

static void test_workq__refuses_past_the_bound(void **state)
{
    uv_loop_t loop;
    int i;

    assert_int_equal(uv_loop_init(&loop), 0);
    workq_open(&loop);
    for (i = 0; i < WORKQ_MAX_PENDING; i++)
        assert_int_equal(workq_submit(nothing, nothing, NULL), 0);
    assert_int_equal(workq_submit(nothing, nothing, NULL), PARLEY_EBUSY);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(workq_submit(nothing, nothing, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    workq_open(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_http__defer_then_resume(void **state)
{
    struct http_req req;
    struct http_pending *p;

    memset(&req, 0, sizeof(req));
    p = http_defer(&req);
    assert_ptr_equal(req.pending, p);
    assert_ptr_equal(http_resume(p), &req);
    assert_null(req.pending);
    assert_true(req.resumed);
}

static void test_http__resume_after_the_connection_went_away(void **state)
{
    struct http_req req;
    struct http_pending *p;

    memset(&req, 0, sizeof(req));
    p = http_defer(&req);
    http_req_release(&req); /* the connection closed */
    assert_null(req.pending);
    assert_null(http_resume(p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workq__work_on_a_worker_done_on_the_loop),
        cmocka_unit_test(test_workq__refuses_past_the_bound),
        cmocka_unit_test(test_http__defer_then_resume),
        cmocka_unit_test(test_http__resume_after_the_connection_went_away),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
