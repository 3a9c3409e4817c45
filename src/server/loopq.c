/* loopq.c - see loopq.h. */
#include "loopq.h"
#include "common/xmalloc.h"

#include <pthread.h>

struct loopq_item {
    struct loopq_item *next;
    loopq_fn fn;
    void *arg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct loopq_item *head, **tail = &head;
static struct lws_context *context; /* NULL while closed */

void loopq_open(struct lws_context *ctx)
{
    pthread_mutex_lock(&lock);
    context = ctx;
    pthread_mutex_unlock(&lock);
}

static struct loopq_item *take_all(void)
{
    struct loopq_item *list;
    pthread_mutex_lock(&lock);
    list = head;
    head = NULL;
    tail = &head;
    pthread_mutex_unlock(&lock);
    return list;
}

static void run_list(struct server *srv, struct loopq_item *it)
{
    while (it) {
        struct loopq_item *next = it->next;
        it->fn(srv, it->arg);
        free(it);
        it = next;
    }
}

void loopq_close(void)
{
    pthread_mutex_lock(&lock);
    context = NULL;
    pthread_mutex_unlock(&lock);
    run_list(NULL, take_all());
}

int loopq_post(loopq_fn fn, void *arg)
{
    struct loopq_item *it = xmalloc(sizeof(*it));
    int rc = 0;

    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    pthread_mutex_lock(&lock);
    if (!context) {
        rc = PARLEY_ECLOSED;
    } else {
        bool was_empty = !head;
        *tail = it;
        tail = &it->next;
        /* One wake-up for a run of posts (a group commit posts one item
         * per job): a non-empty list has a wake-up pending, and the loop
         * takes the whole list. Under the lock, so the context cannot be
         * destroyed meanwhile: loopq_close takes the lock before the
         * context goes. */
        if (was_empty)
            lws_cancel_service(context);
    }
    pthread_mutex_unlock(&lock);
    if (rc < 0)
        free(it);
    return rc;
}

void loopq_drain(struct server *srv)
{
    run_list(srv, take_all());
}
