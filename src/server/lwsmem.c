/* lwsmem.c - see lwsmem.h. */
#include "lwsmem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <libwebsockets.h>

/* lws's name for a WebSocket connection's receive buffer. */
#define RX_REASON "rx_ubuf"

/* Mapped buffers by address. lws allocates on the loop thread; the lock
 * costs nothing there and keeps the table sound if that ever changes. */
struct mapping {
    struct mapping *next;
    void *p;
    size_t len;
};

#define BUCKETS 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *buckets[BUCKETS];
static size_t n_mapped;

static size_t bucket(const void *p)
{
    /* Mappings are page-aligned: the page number is the key. */
    uint64_t k = (uint64_t)(uintptr_t)p >> 12;
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 52) % BUCKETS;
}

/* The length of p's mapping, or 0 when p is not one of ours; `drop`
 * removes it from the table. */
static size_t lookup(void *p, bool drop)
{
    struct mapping **pp, *m;
    size_t len = 0;

    pthread_mutex_lock(&lock);
    for (pp = &buckets[bucket(p)]; (m = *pp); pp = &m->next)
        if (m->p == p) {
            len = m->len;
            if (drop) {
                *pp = m->next;
                n_mapped--;
                free(m);
            }
            break;
        }
    pthread_mutex_unlock(&lock);
    return len;
}

static void *map(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (size + page - 1) / page * page;
    struct mapping *m = malloc(sizeof(*m));
    void *p;

    if (!m)
        return NULL;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        free(m);
        return NULL;
    }
    m->p = p;
    m->len = len;
    pthread_mutex_lock(&lock);
    m->next = buckets[bucket(p)];
    buckets[bucket(p)] = m;
    n_mapped++;
    pthread_mutex_unlock(&lock);
    return p;
}

void *lwsmem_realloc(void *ptr, size_t size, const char *reason)
{
    size_t old = ptr ? lookup(ptr, false) : 0;
    void *p = NULL;

    if (!old) {
        if (!size) {
            free(ptr);
            return NULL;
        }
        /* When mapping fails (vm.max_map_count reached, one map per
         * connection), the buffer comes from malloc as before. */
        if (!ptr && reason && strcmp(reason, RX_REASON) == 0 && (p = map(size)))
            return p;
        return realloc(ptr, size);
    }
    /* A mapped buffer freed, or resized (lws does not resize it today). */
    if (size) {
        p = malloc(size);
        if (!p)
            return NULL; /* as realloc: the old block stays */
        memcpy(p, ptr, size < old ? size : old);
    }
    lookup(ptr, true);
    munmap(ptr, old);
    return p;
}

size_t lwsmem_mapped(void)
{
    size_t n;
    pthread_mutex_lock(&lock);
    n = n_mapped;
    pthread_mutex_unlock(&lock);
    return n;
}

void lwsmem_install(void)
{
    lws_set_allocator(lwsmem_realloc);
}
