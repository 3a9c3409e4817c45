/* workq.c - see workq.h. */
#include "workq.h"
#include "common/xmalloc.h"

struct workq_job {
    uv_work_t req; /* first: libuv hands it back */
    workq_fn work;
    workq_done_fn done;
    void *arg;
};

static uv_loop_t *wq_loop;
static int pending;

void workq_open(uv_loop_t *loop)
{
    wq_loop = loop;
}

int workq_pending(void)
{
    return pending;
}

static void on_work(uv_work_t *w)
{
    struct workq_job *j = (struct workq_job *)w;
    j->work(j->arg);
}

/* libuv calls this on the loop thread. Jobs are never cancelled, so the
 * status is always 0 and the work has run. */
static void on_after_work(uv_work_t *w, int status)
{
    struct workq_job *j = (struct workq_job *)w;
    (void)status;
    pending--;
    j->done(j->arg);
    free(j);
}

int workq_submit(workq_fn work, workq_done_fn done, void *arg)
{
    struct workq_job *j;

    if (!wq_loop)
        return PARLEY_ECLOSED;
    if (pending >= WORKQ_MAX_PENDING)
        return PARLEY_EBUSY;
    j = xcalloc(1, sizeof(*j));
    j->work = work;
    j->done = done;
    j->arg = arg;
    if (uv_queue_work(wq_loop, &j->req, on_work, on_after_work) != 0) {
        free(j);
        return PARLEY_ECLOSED;
    }
    pending++;
    return 0;
}
