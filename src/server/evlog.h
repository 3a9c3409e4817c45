/* evlog.h - the network's event log: one line per session start and per
 * accepted message in parleyd's log, as verbose as the network's "Event
 * logging" setting asks (specification, "Event logging"):
 *
 *   activity     event, network, conversation kind        (the default)
 *   ip_address   + the client's IP address
 *   messaging    + device id, device platform, recipient devices
 *   username_id  + the user id
 *
 * Message contents, names and keys never appear at any level. */
#ifndef PARLEY_SERVER_EVLOG_H
#define PARLEY_SERVER_EVLOG_H

#include "common/buf.h"
#include "common/compat.h"

enum evlog_level { EVLOG_ACTIVITY, EVLOG_IP, EVLOG_MESSAGING, EVLOG_USER_ID };

/* "activity", "ip_address", "messaging", "username_id"; anything else is
 * the default, activity. */
enum evlog_level evlog_level_parse(const char *s);

struct evlog_event {
    const char *event;      /* "session_start", "message" */
    const char *network_id; /* public id */
    const char *conv;       /* "direct", "group", "room" or NULL */
    const char *ip;         /* NULL if unknown */
    const char *device_id;  /* hex */
    const char *platform;
    const char *user_id; /* hex */
    size_t n_recipients; /* for "message": the devices it is queued for */
};

/* The line for `e` at `level` (pure; unit-tested). Fields whose value is
 * NULL are left out. */
int evlog_format(enum evlog_level level, const struct evlog_event *e, struct buf *out);

/* The level and public id of network `network_row`, cached for 30 s.
 * Returns 0, or a store error (then activity). */
struct store;
int evlog_network(struct store *st, int64_t network_row, enum evlog_level *level,
                  char network_id[64]);
/* Forget the cached level of a network whose settings just changed. */
void evlog_forget(int64_t network_row);

#endif
