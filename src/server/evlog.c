/* evlog.c - the network's event log (evlog.h). */
#include "evlog.h"

#include <pthread.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "common/str.h"
#include "store.h"

#define CACHE_SLOTS 64
#define CACHE_TTL_S 30

static const char *const names[] = {"activity", "ip_address", "messaging", "username_id"};

enum evlog_level evlog_level_parse(const char *s)
{
    for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum evlog_level)i;
    return EVLOG_ACTIVITY;
}

static int field(struct buf *out, const char *key, const char *value)
{
    return value ? buf_printf(out, " %s=%s", key, value) : 0;
}

int evlog_format(enum evlog_level level, const struct evlog_event *e, struct buf *out)
{
    int rc = buf_printf(out, "event=%s", e->event);
    if (rc == 0)
        rc = field(out, "network", e->network_id);
    if (rc == 0)
        rc = field(out, "conversation", e->conv);
    if (rc == 0 && level >= EVLOG_IP)
        rc = field(out, "ip", e->ip);
    if (rc == 0 && level >= EVLOG_MESSAGING) {
        rc = field(out, "device", e->device_id);
        if (rc == 0 && e->platform && *e->platform)
            rc = field(out, "platform", e->platform);
        if (rc == 0 && strcmp(e->event, "message") == 0)
            rc = buf_printf(out, " recipient_devices=%zu", e->n_recipients);
    }
    if (rc == 0 && level >= EVLOG_USER_ID)
        rc = field(out, "user", e->user_id);
    return rc;
}

/* ---- the per-network cache ---- */

static struct {
    int64_t row;
    time_t at;
    enum evlog_level level;
    char network_id[64];
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

int evlog_network(struct store *st, int64_t network_row, enum evlog_level *level,
                  char network_id[64])
{
    size_t slot = (size_t)network_row % CACHE_SLOTS;
    time_t now = time(NULL);
    struct store_conn *c;
    struct store_rows *r = NULL;
    int rc;

    pthread_mutex_lock(&cache_mu);
    if (cache[slot].row == network_row && now - cache[slot].at < CACHE_TTL_S) {
        *level = cache[slot].level;
        strlcpy_p(network_id, cache[slot].network_id, 64);
        pthread_mutex_unlock(&cache_mu);
        return 0;
    }
    pthread_mutex_unlock(&cache_mu);
    *level = EVLOG_ACTIVITY;
    network_id[0] = 0;
    if ((rc = store_conn_get(st, &c)) < 0)
        return rc;
    struct store_val p[] = {STORE_INT(network_row)};
    rc = store_query(c, "SELECT network_id, settings FROM networks WHERE id = $1", p, 1, &r);
    if (rc == 0 && store_rows_next(r) == 1) {
        json_t *settings = json_loads(store_rows_text(r, 1) ?: "{}", 0, NULL);
        *level = evlog_level_parse(json_string_value(json_object_get(settings, "event_logging")));
        strlcpy_p(network_id, store_rows_text(r, 0) ?: "", 64);
        json_decref(settings);
    }
    store_rows_free(r);
    store_conn_put(st, c);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&cache_mu);
    cache[slot].row = network_row;
    cache[slot].at = now;
    cache[slot].level = *level;
    strlcpy_p(cache[slot].network_id, network_id, sizeof(cache[slot].network_id));
    pthread_mutex_unlock(&cache_mu);
    return 0;
}

void evlog_forget(int64_t network_row)
{
    pthread_mutex_lock(&cache_mu);
    if (cache[(size_t)network_row % CACHE_SLOTS].row == network_row)
        cache[(size_t)network_row % CACHE_SLOTS].row = 0;
    pthread_mutex_unlock(&cache_mu);
}
