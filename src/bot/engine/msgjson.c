/* msgjson.c - a received message as the bots' message JSON (msgjson.h). */
#include "msgjson.h"

#include <jansson.h>

#include "common/xmalloc.h"

/* "YYYY-MM-DD hh:mm:ss.mmm" in UTC, the form of the retention record. */
static void iso_time(int64_t ms, char out[64], size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, n, "%s", "");
        return;
    }
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d.%03d", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(ms % 1000));
}

/* A human-readable date, as the packages log and show ("ttl" and "bor"
 * are expiry dates there, not durations). */
static void human_time(int64_t s, char *out, size_t n)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, n, "%a %b %e %H:%M:%S %Y UTC", &tm) == 0)
        snprintf(out, n, "%s", "");
}

char *msgjson_build(const struct parley_event *ev, const char *vgroupid, const char *receiver)
{
    json_t *body = ev->body ? json_loads(ev->body, 0, NULL) : NULL;
    json_t *out = NULL;
    char ts[48], iso[64], human[64];
    char *text = NULL;

    if (!json_is_object(body))
        goto out;
    /* The payload's own fields first (message, control, file, location,
     * call, edit, keyverify, links), then the envelope's, which win. */
    out = json_deep_copy(body);
    if (!out)
        goto out;
    snprintf(ts, sizeof(ts), "%lld.%06lld", (long long)(ev->ts_ms / 1000),
             (long long)(ev->ts_ms % 1000) * 1000);
    iso_time(ev->ts_ms, iso, sizeof(iso));
    human_time(ev->ts_ms / 1000, human, sizeof(human));
    if (json_object_set_new(out, "message_id", json_string(ev->msg_id)) < 0 ||
        json_object_set_new(out, "msg_ts", json_string(ts)) < 0 ||
        json_object_set_new(out, "msgtype", json_integer(ev->msgtype)) < 0 ||
        json_object_set_new(out, "sender",
                            json_string(ev->sender_name ? ev->sender_name : ev->sender)) < 0 ||
        json_object_set_new(out, "sender_type", json_string("normal")) < 0 ||
        json_object_set_new(out, "time", json_string(human)) < 0 ||
        json_object_set_new(out, "time_iso", json_string(iso)) < 0 ||
        json_object_set_new(out, "vgroupid", json_string(vgroupid)) < 0)
        goto out;
    if (receiver && json_object_set_new(out, "receiver", json_string(receiver)) < 0)
        goto out;
    if (ev->expires_at) {
        human_time((int64_t)ev->expires_at, human, sizeof(human));
        if (json_object_set_new(out, ev->burn_on_read ? "bor" : "ttl", json_string(human)) < 0)
            goto out;
    }
    text = json_dumps(out, JSON_COMPACT);
out:
    json_decref(out);
    json_decref(body);
    return text;
}
