/* cluster.c - NATS fan-out between nodes. See cluster.h.
 *
 * Subjects (all under "parley."):
 *   wake.<device hex>   empty: the device's queue grew
 *   relay               {"u":[user rows],"m":{the control message}}
 *   kick.device.<hex>   decimal WebSocket close code
 *   kick.user.<hex>     empty
 * Every node subscribes to "parley.>" and ignores what concerns no session
 * of its own. NEEDSWORK: per-device subscriptions would spare the nodes
 * hints for devices they do not hold, at the cost of a subscription per
 * session. */
#include "cluster.h"

#include <nats/nats.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "loopq.h"
#include "store.h"
#include "ws.h"

#define SUBJECT_ALL "parley.>"
#define MAX_PAYLOAD (256 * 1024)

static natsConnection *nc;
static natsSubscription *sub;

bool cluster_enabled(void)
{
    return nc != NULL;
}

/* What arrived, copied off cnats's thread for the loop. */
struct item {
    char subject[128];
    size_t len;
    char data[]; /* NUL-terminated */
};

static bool subject_id(const char *subject, const char *prefix, uint8_t out[KEYS_ID_LEN])
{
    size_t n = strlen(prefix);
    return strncmp(subject, prefix, n) == 0 && strlen(subject + n) == 2 * KEYS_ID_LEN &&
           hex_decode(subject + n, 2 * KEYS_ID_LEN, out, KEYS_ID_LEN) == 0;
}

static void on_item(struct server *srv, void *arg)
{
    struct item *it = arg;
    uint8_t id[KEYS_ID_LEN];
    int64_t code;

    if (!srv)
        goto out;
    if (subject_id(it->subject, "parley.wake.", id)) {
        ws_cluster_wake(srv, id);
    } else if (subject_id(it->subject, "parley.kick.device.", id)) {
        if (str_to_i64(it->data, 1000, 4999, &code) == 0)
            ws_cluster_kick_device(srv, id, (unsigned)code);
    } else if (subject_id(it->subject, "parley.kick.user.", id)) {
        ws_cluster_kick_user(srv, id);
    } else if (strcmp(it->subject, "parley.relay") == 0) {
        json_t *root = json_loadb(it->data, it->len, JSON_REJECT_DUPLICATES, NULL);
        json_t *u = json_object_get(root, "u"), *m = json_object_get(root, "m"), *v;
        size_t i, n = json_array_size(u);
        int64_t *rows = n ? xcalloc(n, sizeof(*rows)) : NULL;
        json_array_foreach(u, i, v) rows[i] = json_integer_value(v);
        if (json_is_object(m) && n)
            ws_cluster_relay(srv, rows, n, m);
        free(rows);
        json_decref(root);
    }
out:
    free(it);
}

/* cnats's thread: copy and hand over to the loop. */
static void on_msg(natsConnection *c, natsSubscription *s, natsMsg *msg, void *closure)
{
    const char *subject = natsMsg_GetSubject(msg);
    int len = natsMsg_GetDataLength(msg);
    struct item *it;

    (void)c;
    (void)s;
    (void)closure;
    if (len < 0 || len > MAX_PAYLOAD || strlen(subject) >= sizeof(it->subject)) {
        natsMsg_Destroy(msg);
        return;
    }
    it = xmalloc(sizeof(*it) + (size_t)len + 1);
    strlcpy_p(it->subject, subject, sizeof(it->subject));
    memcpy(it->data, natsMsg_GetData(msg), (size_t)len);
    it->data[len] = '\0';
    it->len = (size_t)len;
    natsMsg_Destroy(msg);
    if (loopq_post(on_item, it) < 0)
        free(it); /* shutting down */
}

static void on_disconnected(natsConnection *c, void *closure)
{
    (void)c;
    (void)closure;
    log_warnx("cluster: lost the NATS connection; reconnecting (live fan-out between nodes "
              "pauses, queues stay durable)");
}

static void on_reconnected(natsConnection *c, void *closure)
{
    (void)c;
    (void)closure;
    log_info("cluster: NATS connection back");
}

/* Each comma-separated URL with its password replaced (store_uri_redact). */
static char *redact(const char *urls)
{
    struct buf b = BUF_INIT(SIZE_MAX);
    char *copy = xstrdup(urls), *save = NULL;
    for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        char *r = store_uri_redact(u);
        if (b.len)
            buf_append_byte(&b, ',');
        buf_append_str(&b, r);
        free(r);
    }
    free(copy);
    if (!b.data)
        return xstrdup("");
    return (char *)buf_detach(&b, &(size_t){0});
}

int cluster_open(const char *url)
{
    natsOptions *o = NULL;
    natsStatus s;

    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, url); /* one URL, or several separated by commas */
    /* A node needs no hint about what it published itself. */
    if (s == NATS_OK)
        s = natsOptions_SetNoEcho(o, true);
    /* Hints are small and latency-bound: no write coalescing delay. */
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 500);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, false, NULL, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_reconnected, NULL);
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, o);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&sub, nc, SUBJECT_ALL, on_msg, NULL);
    /* A busy node must not drop hints as a slow consumer. */
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(sub, 1000000, 256 * 1024 * 1024);
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    natsOptions_Destroy(o);
    /* A URL may carry a password: the log shows it redacted. */
    char *shown = redact(url);
    if (s != NATS_OK) {
        log_warnx("cluster: cannot use NATS at %s: %s", shown, natsStatus_GetText(s));
        free(shown);
        cluster_close();
        return PARLEY_EIO;
    }
    log_info("cluster: connected to NATS at %s", shown);
    free(shown);
    return 0;
}

void cluster_close(void)
{
    if (sub) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
        sub = NULL;
    }
    if (nc) {
        natsConnection_FlushTimeout(nc, 1000);
        natsConnection_Destroy(nc);
        nc = NULL;
    }
    nats_Close();
}

static void publish(const char *subject, const char *data, size_t len)
{
    natsStatus s;
    if (!nc)
        return;
    s = natsConnection_Publish(nc, subject, data, (int)len);
    if (s != NATS_OK)
        log_warnx("cluster: cannot publish %s: %s", subject, natsStatus_GetText(s));
}

static void publish_id(const char *prefix, const uint8_t id[KEYS_ID_LEN], const char *data)
{
    char subject[96], hex[2 * KEYS_ID_LEN + 1];
    hex_encode(id, KEYS_ID_LEN, hex);
    snprintf(subject, sizeof(subject), "%s%s", prefix, hex);
    publish(subject, data, strlen(data));
}

void cluster_wake_device(const uint8_t device[KEYS_ID_LEN])
{
    if (nc)
        publish_id("parley.wake.", device, "");
}

void cluster_relay(const int64_t *users, size_t n, json_t *msg)
{
    json_t *u, *root;
    char *text;

    if (!nc || n == 0)
        return;
    u = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(u, json_integer(users[i]));
    root = json_pack("{s:o,s:O}", "u", u, "m", msg);
    text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (text)
        publish("parley.relay", text, strlen(text));
    free(text);
    json_decref(root);
}

void cluster_kick_device(const uint8_t device[KEYS_ID_LEN], unsigned code)
{
    char c[16];
    if (!nc)
        return;
    snprintf(c, sizeof(c), "%u", code);
    publish_id("parley.kick.device.", device, c);
}

void cluster_kick_user(const uint8_t user[KEYS_ID_LEN])
{
    if (nc)
        publish_id("parley.kick.user.", user, "");
}
