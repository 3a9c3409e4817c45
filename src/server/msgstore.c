/* msgstore.c - see msgstore.h. */
#include "msgstore.h"

#include <pthread.h>

#include "api_client.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "federation.h"
#include "sgroup_settings.h"
#include "store.h"

/* Clocks disagree a little; an expiry this far past the network's maximum
 * is still accepted. */
#define MSG_EXPIRY_SLACK 60

static const char *const verdict_codes[] = {
    [MSG_OK] = "ok",
    [MSG_BAD_ENVELOPE] = "bad_envelope",
    [MSG_NOT_MEMBER] = "not_member",
    [MSG_FORBIDDEN] = "forbidden",
    [MSG_EXPIRED] = "expired",
    [MSG_TOO_LARGE] = "too_large",
    [MSG_DEVICES_CHANGED] = "devices_changed",
    [MSG_INTERNAL] = "internal_error",
};

const char *msg_verdict_code(enum msg_verdict v)
{
    return verdict_codes[v];
}

static enum msg_verdict verdict(struct msg_submit *m, enum msg_verdict v, const char *fmt, ...)
    PARLEY_PRINTF(3, 4);
static enum msg_verdict verdict(struct msg_submit *m, enum msg_verdict v, const char *fmt, ...)
{
    va_list ap;
    m->verdict = v;
    va_start(ap, fmt);
    vsnprintf(m->message, sizeof(m->message), fmt, ap);
    va_end(ap);
    return v;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, KEYS_ID_LEN);
}

enum msg_verdict msgstore_precheck(struct msg_submit *m, size_t max_len)
{
    const uint8_t *env = m->frame + 1;
    size_t len = m->frame_len - 1;
    uint8_t(*ids)[KEYS_ID_LEN];
    bool dup = false;

    m->verdict = MSG_OK;
    if (m->frame_len < 1 || m->frame[0] != 0x01)
        return verdict(m, MSG_BAD_ENVELOPE, "binary message must start with kind 0x01 (envelope)");
    if (m->frame_len > max_len)
        return verdict(m, MSG_TOO_LARGE, "envelope is larger than %zu bytes (ws_max_message)",
                       max_len);
    if (envelope_route_parse(env, len, &m->route) < 0)
        return verdict(m, MSG_BAD_ENVELOPE, "envelope does not parse (docs/protocol.md)");
    if (memcmp(m->route.hdr.sender_device, m->session_device, KEYS_ID_LEN) != 0)
        return verdict(m, MSG_FORBIDDEN, "sender_device is not this session's device");
    if (m->route.n_wraps > ENVELOPE_MAX_WRAPS)
        return verdict(m, MSG_TOO_LARGE, "at most %d wraps", ENVELOPE_MAX_WRAPS);
    ids = xcalloc(m->route.n_wraps + 1, KEYS_ID_LEN);
    for (size_t i = 0; i < m->route.n_wraps; i++) {
        uint32_t pk;
        memcpy(ids[i], envelope_route_device(&m->route, i, &pk), KEYS_ID_LEN);
    }
    qsort(ids, m->route.n_wraps, KEYS_ID_LEN, cmp_id);
    for (size_t i = 1; i < m->route.n_wraps && !dup; i++)
        dup = memcmp(ids[i - 1], ids[i], KEYS_ID_LEN) == 0;
    free(ids);
    if (dup)
        return verdict(m, MSG_BAD_ENVELOPE, "a device has two wraps");
    return MSG_OK;
}

void msgstore_submit_free(struct msg_submit *m)
{
    if (!m)
        return;
    free(m->frame);
    free(m->missing);
    free(m->extra);
    free(m->rcpt);
    free(m);
}

/* ---- the submit job ----------------------------------------------------- */

struct cur_device {
    uint8_t id[KEYS_ID_LEN];
    int64_t row;
    bool wrapped;
};

static int cmp_cur(const void *a, const void *b)
{
    return memcmp(((const struct cur_device *)a)->id, ((const struct cur_device *)b)->id,
                  KEYS_ID_LEN);
}

/* Returns 1 when the envelope was accepted before (m->ts_ms updated). */
static int find_duplicate(struct store_conn *c, struct msg_submit *m)
{
    struct store_val p[] = {STORE_INT(m->sender_device_row),
                            STORE_BLOB(m->route.hdr.msg_id, KEYS_ID_LEN)};
    int64_t ts = 0;
    int rc = store_query_int(
        c, "SELECT ts_ms FROM envelopes WHERE sender_device = $1 AND msg_id = $2", p, 2, &ts);
    if (rc == PARLEY_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    m->ts_ms = ts;
    return 1;
}

/* The sender's security group caps how long the server keeps an envelope.
 * Reading and filling a group's settings costs a query and a few dozen
 * JSON values, too much per envelope: the committer keeps the answer for a
 * few seconds (it is the only thread here, so no lock), and a changed
 * setting applies within MAXEXP_TTL. */
#define MAXEXP_SLOTS 64
#define MAXEXP_TTL   5

static struct {
    int64_t group, value;
    time_t fetched;
} maxexp_cache[MAXEXP_SLOTS];

static int64_t group_max_expiration(struct store_conn *c, int64_t group)
{
    size_t slot = (size_t)group % MAXEXP_SLOTS;
    time_t now = time(NULL);
    json_t *settings = NULL;
    int64_t v = 0;

    if (maxexp_cache[slot].group == group && now - maxexp_cache[slot].fetched < MAXEXP_TTL)
        return maxexp_cache[slot].value;
    if (sgroup_settings_get(c, group, &settings) == 0)
        v = json_integer_value(json_object_get(settings, "max_expiration"));
    json_decref(settings);
    maxexp_cache[slot].group = group;
    maxexp_cache[slot].value = v;
    maxexp_cache[slot].fetched = now;
    return v;
}

/* One statement finds the conversation (the sender must be a member), the
 * sender's security group, and the devices the envelope must be wrapped
 * for: those of the conversation's active members, and those of the
 * active compliance bots of every network with a member, which receive
 * every conversation's messages (docs/protocol.md). No row: not a member,
 * or no such conversation (the sender's own device is always a row
 * otherwise). *cross says whether a device belongs to another network
 * than the sender's (local federation, federation.h). The CROSS JOINs fix
 * SQLite's join order: networks first, then their compliance bots through
 * the partial index users_compliance; left free, it built an automatic
 * index over every user for each envelope. */
static int load_targets(struct store_conn *c, struct msg_submit *m, int64_t *conv_row,
                        int64_t *group, struct cur_device **out, size_t *n, bool *cross)
{
    struct store_val p[] = {STORE_BLOB(m->route.hdr.conversation, KEYS_ID_LEN),
                            STORE_INT(m->sender_user_row)};
    struct store_rows *r = NULL;
    size_t cap = 0;
    int rc = store_query(c,
                         "WITH cv AS (SELECT c.id AS cid, COALESCE(u.security_group_id, "
                         "(SELECT id FROM security_groups WHERE network_id = u.network_id "
                         "AND is_default = 1 ORDER BY id LIMIT 1), 0) AS grp "
                         "FROM conversations c "
                         "JOIN members m ON m.conv_id = c.id AND m.user_id = $2 "
                         "JOIN users u ON u.id = m.user_id "
                         "WHERE c.conv_id = $1 AND c.deleted = 0), "
                         "nets AS (SELECT DISTINCT mu.network_id AS nid FROM cv "
                         "JOIN members mm ON mm.conv_id = cv.cid "
                         "JOIN users mu ON mu.id = mm.user_id) "
                         "SELECT cv.cid, cv.grp, d.id, d.device_id, u.network_id FROM cv "
                         "JOIN members m ON m.conv_id = cv.cid "
                         "JOIN users u ON u.id = m.user_id AND u.status = 'active' "
                         "JOIN devices d ON d.user_id = u.id "
                         "UNION SELECT cv.cid, cv.grp, d.id, d.device_id, u.network_id FROM cv "
                         "CROSS JOIN nets CROSS JOIN users u JOIN devices d ON d.user_id = u.id "
                         "WHERE u.network_id = nets.nid AND u.is_compliance = 1 "
                         "AND u.status = 'active'",
                         p, 2, &r);
    *out = NULL;
    *n = 0;
    *group = 0;
    *cross = false;
    while ((rc == 0 || rc == 1) && (rc = store_rows_next(r)) == 1) {
        size_t bl;
        const uint8_t *b = store_rows_blob(r, 3, &bl);
        if (*n == cap)
            *out = xrealloc(*out, (cap = cap ? cap * 2 : 16) * sizeof(**out));
        *conv_row = store_rows_int(r, 0);
        *group = store_rows_int(r, 1);
        (*out)[*n].row = store_rows_int(r, 2);
        memset((*out)[*n].id, 0, KEYS_ID_LEN);
        if (b && bl == KEYS_ID_LEN)
            memcpy((*out)[*n].id, b, KEYS_ID_LEN);
        (*out)[*n].wrapped = false;
        *cross |= store_rows_int(r, 4) != m->network_row;
        (*n)++;
    }
    store_rows_free(r);
    if (rc == 0 && *n == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc == 0)
        qsort(*out, *n, sizeof(**out), cmp_cur);
    return rc;
}

/* ---- the targets cache --------------------------------------------------
 *
 * load_targets' answer depends only on rows whose every write bumps
 * targets_gen.gen (triggers of migration 92: members, users' status,
 * network, security group and compliance flag, devices, conversations'
 * deleted flag, security groups' default). The committer reads the
 * generation inside the job's transaction and reuses an answer read under
 * the same generation, so a removed member, a suspended user or a deleted
 * device is never queued for, whichever path or node wrote the change. A
 * refusal (no such conversation, not a member) is not cached. Only the
 * committer runs submit jobs, so the cache needs no lock. */
#define TARGETS_SLOTS       1024
#define TARGETS_MAX_DEVICES (256u * 1024) /* cached device entries, all slots */

struct targets_entry {
    const struct store_conn *c; /* the committer's connection: one per store */
    int64_t gen, user_row, network_row, conv_row, group;
    uint8_t conv[KEYS_ID_LEN];
    bool cross;
    struct cur_device *dev;
    size_t n;
};

static struct targets_entry targets_cache[TARGETS_SLOTS];
static size_t targets_cached_devices;

static struct targets_entry *targets_slot(const uint8_t conv[KEYS_ID_LEN], int64_t user_row)
{
    uint64_t h = (uint64_t)user_row * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < KEYS_ID_LEN; i++)
        h = (h ^ conv[i]) * 0x100000001b3ull;
    return &targets_cache[h % TARGETS_SLOTS];
}

static void targets_drop(struct targets_entry *e)
{
    targets_cached_devices -= e->n;
    free(e->dev);
    memset(e, 0, sizeof(*e));
}

static void targets_clear(void)
{
    for (size_t i = 0; i < TARGETS_SLOTS; i++)
        if (targets_cache[i].dev)
            targets_drop(&targets_cache[i]);
}

static int targets_gen(struct store_conn *c, int64_t *gen)
{
    return store_query_int(c, "SELECT gen FROM targets_gen WHERE id = 1", NULL, 0, gen);
}

/* load_targets through the cache; *max_exp is the sender's security
 * group's maximum expiration. *out is the caller's to free. */
static int load_targets_cached(struct store_conn *c, struct msg_submit *m, int64_t *conv_row,
                               int64_t *max_exp, struct cur_device **out, size_t *n, bool *cross)
{
    const uint8_t *conv = m->route.hdr.conversation;
    struct targets_entry *e = targets_slot(conv, m->sender_user_row);
    int64_t gen = 0, group = 0;
    int rc = targets_gen(c, &gen);

    if (rc < 0)
        return rc;
    *max_exp = 0;
    if (e->dev && e->c == c && e->gen == gen && e->user_row == m->sender_user_row &&
        e->network_row == m->network_row && memcmp(e->conv, conv, KEYS_ID_LEN) == 0) {
        *conv_row = e->conv_row;
        *cross = e->cross;
        *n = e->n;
        *out = xmalloc(e->n * sizeof(**out));
        memcpy(*out, e->dev, e->n * sizeof(**out));
        group = e->group;
    } else {
        rc = load_targets(c, m, conv_row, &group, out, n, cross);
        if (rc < 0)
            return rc;
        if (e->dev)
            targets_drop(e);
        if (targets_cached_devices + *n > TARGETS_MAX_DEVICES)
            targets_clear();
        if (*n <= TARGETS_MAX_DEVICES) {
            *e = (struct targets_entry){.c = c,
                                        .gen = gen,
                                        .user_row = m->sender_user_row,
                                        .network_row = m->network_row,
                                        .conv_row = *conv_row,
                                        .group = group,
                                        .cross = *cross,
                                        .n = *n};
            memcpy(e->conv, conv, KEYS_ID_LEN);
            e->dev = xmalloc(*n * sizeof(*e->dev));
            memcpy(e->dev, *out, *n * sizeof(*e->dev));
            targets_cached_devices += *n;
        }
    }
    if (group)
        *max_exp = group_max_expiration(c, group);
    return 0;
}

/* Every current device except the sender's has a wrap, and every wrap is a
 * current device. Fills m->missing/extra. Returns true when complete. */
static bool check_complete(struct msg_submit *m, struct cur_device *cur, size_t n)
{
    for (size_t i = 0; i < m->route.n_wraps; i++) {
        uint32_t pk;
        struct cur_device key, *hit;
        memcpy(key.id, envelope_route_device(&m->route, i, &pk), KEYS_ID_LEN);
        hit = bsearch(&key, cur, n, sizeof(*cur), cmp_cur);
        if (hit) {
            hit->wrapped = true;
            continue;
        }
        if (!m->extra)
            m->extra = xcalloc(m->route.n_wraps, KEYS_ID_LEN);
        memcpy(m->extra[m->n_extra++], key.id, KEYS_ID_LEN);
    }
    for (size_t i = 0; i < n; i++) {
        if (cur[i].wrapped || memcmp(cur[i].id, m->session_device, KEYS_ID_LEN) == 0)
            continue;
        if (!m->missing)
            m->missing = xcalloc(n, KEYS_ID_LEN);
        memcpy(m->missing[m->n_missing++], cur[i].id, KEYS_ID_LEN);
    }
    return m->n_missing == 0 && m->n_extra == 0;
}

static int cmp_rcpt(const void *a, const void *b)
{
    int64_t x = ((const struct msg_recipient *)a)->device_row;
    int64_t y = ((const struct msg_recipient *)b)->device_row;
    return x < y ? -1 : x > y;
}

/* Read (device row, seq) pairs back into m->rcpt (sorted by device row). */
static int take_seqs(struct store_rows *r, struct msg_submit *m, size_t *got)
{
    int rc;

    *got = 0;
    while ((rc = store_rows_next(r)) == 1) {
        struct msg_recipient key = {.device_row = store_rows_int(r, 0)};
        struct msg_recipient *hit = bsearch(&key, m->rcpt, m->n_rcpt, sizeof(key), cmp_rcpt);
        if (hit) {
            hit->seq = store_rows_int(r, 1);
            (*got)++;
        }
    }
    return rc;
}

/* ---- the seq floor ----------------------------------------------------- *
 *
 * Recipients may be sent an envelope as soon as its queue rows are written,
 * before the group commit that makes them durable (m->early). If that
 * commit then fails, or the process dies first, the queue numbers (seq)
 * they saw were never stored, and the next envelope for that device would
 * be given the same number. A client acknowledges by number, and keeps
 * unsent acks for its next connection: its ack of the lost envelope would
 * then delete the new one unread. So a seq handed out before its commit
 * must never be handed out again.
 *
 * Every new seq is above the floor: a device's next seq is
 * max(next_seq, floor) + 1. The floor is stored (kv 'seq_floor') and raised
 * in the first group commit after start-up and after any failed submit, to
 * SEQ_FLOOR_GAP above both the stored floor and every device's next_seq
 * (on a database no parleyd delivered early on, the first floor is 0).
 * Early delivery waits until that raise is committed: from then on, a seq
 * seen early is at most max(next_seq, floor) + (envelopes for that device
 * in one batch) < SEQ_FLOOR_GAP above what the next raise starts from.
 * Committer thread only. */
#define SEQ_FLOOR_GAP (1 << 20) /* more than a group commit's jobs */

static int64_t seq_floor;    /* the floor in force */
static bool floor_committed; /* seq_floor is durable: early delivery allowed */
static bool floor_raising;   /* a raise is in the open batch */

static int raise_floor(struct store_conn *c, struct msg_submit *m)
{
    int64_t top = 0, stored = 0, floor = 0;
    bool has_floor = false;
    char text[32];
    struct store_rows *r = NULL;
    int rc =
        store_query_int(c, "SELECT COALESCE(MAX(next_seq), 0) FROM device_seqs", NULL, 0, &top);

    if (rc < 0)
        return rc;
    {
        struct store_val p[] = {STORE_TEXT("seq_floor")};
        rc = store_query(c, "SELECT value FROM kv WHERE key = $1", p, 1, &r);
        if (rc == 0 && store_rows_next(r) == 1) {
            stored = strtoll(store_rows_text(r, 0), NULL, 10);
            has_floor = true;
        }
        store_rows_free(r);
        if (rc < 0)
            return rc;
    }
    /* No floor stored: no parleyd has delivered early on this database,
     * and queues may go on from where they are. */
    if (has_floor)
        floor = (top > stored ? top : stored) + SEQ_FLOOR_GAP;
    snprintf(text, sizeof(text), "%lld", (long long)floor);
    struct store_val p[] = {STORE_TEXT("seq_floor"), STORE_TEXT(text),
                            STORE_INT((int64_t)time(NULL))};
    rc = store_exec(c,
                    "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at",
                    p, 3, NULL);
    if (rc < 0)
        return rc;
    seq_floor = floor;
    floor_raising = true;
    m->raised_floor = true;
    return 0;
}

/* Number the envelope in every recipient's queue and insert the rows: a
 * fixed number of statements per envelope whatever the number of
 * recipients (PostgreSQL: one, with an array; SQLite: two, with JSON). */
static int write_queue_rows(struct store_conn *c, struct msg_submit *m, int64_t env_row)
{
    struct buf ids = BUF_INIT(SIZE_MAX), pairs = BUF_INIT(SIZE_MAX);
    struct store_rows *r = NULL;
    bool pg = m->is_pg;
    size_t got = 0;
    int rc = 0;

    qsort(m->rcpt, m->n_rcpt, sizeof(*m->rcpt), cmp_rcpt);
    buf_append_byte(&ids, pg ? '{' : '[');
    for (size_t i = 0; i < m->n_rcpt; i++)
        buf_printf(&ids, "%s%lld", i ? "," : "", (long long)m->rcpt[i].device_row);
    buf_append_byte(&ids, pg ? '}' : ']');
    if (pg) {
        struct store_val p[] = {STORE_TEXTN((const char *)ids.data, ids.len), STORE_INT(env_row),
                                STORE_INT(seq_floor)};
        rc = store_query(c,
                         "WITH d AS (INSERT INTO device_seqs (device_id, next_seq) "
                         "SELECT unnest($1::bigint[]), $3::bigint + 1 ON CONFLICT (device_id) "
                         "DO UPDATE SET next_seq = GREATEST(device_seqs.next_seq, $3::bigint) + 1 "
                         "RETURNING device_id, next_seq) "
                         "INSERT INTO queue (device_id, seq, envelope_id) "
                         "SELECT device_id, next_seq, $2 FROM d RETURNING device_id, seq",
                         p, 3, &r);
        if (rc == 0)
            rc = take_seqs(r, m, &got);
        goto out;
    }
    if (m->n_rcpt == 1) {
        /* The common 1:1 case, without JSON or RETURNING (SQLite gathers
         * RETURNING rows in a temporary b-tree it opens per statement):
         * advance the counter, queue at it, read it back. The committer
         * is the only writer, so nothing moves the counter in between. */
        struct store_val d[] = {STORE_INT(m->rcpt[0].device_row), STORE_INT(env_row)};
        struct store_val f[] = {STORE_INT(m->rcpt[0].device_row), STORE_INT(seq_floor)};
        rc = store_exec(c,
                        "INSERT INTO device_seqs (device_id, next_seq) VALUES ($1, $2 + 1) "
                        "ON CONFLICT (device_id) DO UPDATE SET next_seq = max(next_seq, $2) + 1",
                        f, 2, NULL);
        if (rc == 0)
            rc = store_exec(c,
                            "INSERT INTO queue (device_id, seq, envelope_id) "
                            "SELECT device_id, next_seq, $2 FROM device_seqs WHERE device_id = $1",
                            d, 2, NULL);
        if (rc == 0)
            rc = store_query_int(c, "SELECT next_seq FROM device_seqs WHERE device_id = $1", d, 1,
                                 &m->rcpt[0].seq);
        got = rc == 0;
        goto out;
    }
    struct store_val p[] = {STORE_TEXTN((const char *)ids.data, ids.len), STORE_INT(seq_floor)};
    rc = store_query(c,
                     "INSERT INTO device_seqs (device_id, next_seq) "
                     "SELECT value, $2 + 1 FROM json_each($1) WHERE true "
                     "ON CONFLICT (device_id) DO UPDATE SET next_seq = max(next_seq, $2) + 1 "
                     "RETURNING device_id, next_seq",
                     p, 2, &r);
    if (rc == 0)
        rc = take_seqs(r, m, &got);
    store_rows_free(r);
    r = NULL;
    if (rc < 0)
        goto out;
    buf_append_byte(&pairs, '[');
    for (size_t i = 0; i < m->n_rcpt; i++)
        buf_printf(&pairs, "%s[%lld,%lld]", i ? "," : "", (long long)m->rcpt[i].device_row,
                   (long long)m->rcpt[i].seq);
    buf_append_byte(&pairs, ']');
    struct store_val q[] = {STORE_TEXTN((const char *)pairs.data, pairs.len), STORE_INT(env_row)};
    rc = store_exec(c,
                    "INSERT INTO queue (device_id, seq, envelope_id) "
                    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), $2 "
                    "FROM json_each($1)",
                    q, 2, NULL);
out:
    store_rows_free(r);
    buf_release(&ids);
    buf_release(&pairs);
    if (rc == 0 && got != m->n_rcpt)
        rc = PARLEY_ESTORE; /* a recipient device vanished mid-transaction */
    return rc;
}

static int write_envelope(struct store_conn *c, struct msg_submit *m, int64_t conv_row,
                          const struct cur_device *cur, size_t n)
{
    int64_t env_row = 0;
    int rc;

    m->rcpt = xcalloc(n + 1, sizeof(*m->rcpt));
    for (size_t i = 0; i < n; i++) {
        if (!cur[i].wrapped || memcmp(cur[i].id, m->session_device, KEYS_ID_LEN) == 0)
            continue;
        m->rcpt[m->n_rcpt].device_row = cur[i].row;
        memcpy(m->rcpt[m->n_rcpt].device_id, cur[i].id, KEYS_ID_LEN);
        m->n_rcpt++;
    }
    if (m->n_rcpt == 0)
        return 0; /* nobody else to deliver to: nothing to keep */
    struct store_val p[] = {STORE_BLOB(m->route.hdr.msg_id, KEYS_ID_LEN),
                            STORE_INT(conv_row),
                            STORE_INT(m->sender_device_row),
                            STORE_BLOB(m->frame + 1, m->frame_len - 1),
                            STORE_INT(m->ts_ms),
                            STORE_INT(m->keep_until),
                            STORE_INT(m->route.hdr.flags)};
    /* The unique (sender_device, msg_id) key turns a resent envelope into
     * no row here, which saves a lookup on every new one. SQLite: no
     * RETURNING (a temporary b-tree per statement); the committer owns its
     * connection, so last_insert_rowid() is this row's. */
    if (m->is_pg) {
        rc = store_query_int(c,
                             "INSERT INTO envelopes (msg_id, conv_id, sender_device, body, ts_ms, "
                             "expires_at, flags) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                             "ON CONFLICT (sender_device, msg_id) DO NOTHING RETURNING id",
                             p, ARRAY_SIZE(p), &env_row);
    } else {
        int64_t added = 0;
        rc = store_exec(c,
                        "INSERT INTO envelopes (msg_id, conv_id, sender_device, body, ts_ms, "
                        "expires_at, flags) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                        "ON CONFLICT (sender_device, msg_id) DO NOTHING",
                        p, ARRAY_SIZE(p), &added);
        if (rc == 0 && added == 0)
            rc = PARLEY_ENOTFOUND;
        else if (rc == 0)
            rc = store_query_int(c, "SELECT last_insert_rowid()", NULL, 0, &env_row);
    }
    if (rc == PARLEY_ENOTFOUND) {
        m->n_rcpt = 0;
        rc = find_duplicate(c, m);
        m->duplicate = rc == 1;
        return rc < 0 ? rc : rc == 1 ? 0 : PARLEY_ESTORE;
    }
    if (rc == 0)
        rc = write_queue_rows(c, m, env_row);
    return rc;
}

/* A refusal is not sent back for an envelope accepted before (a client
 * resending after a lost ack): that one gets its original acknowledgement.
 * Returns 0, or a negative store error. */
static int refuse(struct msg_submit *m, struct store_conn *c, enum msg_verdict v, const char *why)
{
    int rc = find_duplicate(c, m);
    if (rc < 0)
        return rc;
    if (rc == 1)
        m->duplicate = true;
    else
        verdict(m, v, "%s", why);
    return 0;
}

static int submit_job(struct store_conn *c, void *arg)
{
    struct msg_submit *m = arg;
    struct cur_device *cur = NULL;
    int64_t conv_row = 0, max_exp = 0, now = m->ts_ms / 1000;
    uint64_t exp = m->route.hdr.expires_at;
    char why[320], fed[300];
    bool cross = false;
    size_t n = 0;
    int rc;

    if (!floor_committed && !floor_raising) {
        rc = raise_floor(c, m);
        if (rc < 0)
            return rc;
    }
    /* Checks first, duplicate detection last (write_envelope): a new
     * envelope, the common case, costs no lookup by message id. */
    rc = load_targets_cached(c, m, &conv_row, &max_exp, &cur, &n, &cross);
    if (rc == PARLEY_ENOTFOUND)
        return refuse(m, c, MSG_NOT_MEMBER, "no such conversation, or you are not a member");
    if (rc < 0)
        goto out;
    /* Members of several networks: the security groups may have changed
     * since they were added, so every envelope asks again. */
    if (cross) {
        rc = fed_check_conv(c, conv_row, m->sender_user_row, fed, sizeof(fed));
        if (rc < 0)
            goto out;
        if (rc == 0) {
            snprintf(why, sizeof(why), "local federation: %s", fed);
            rc = refuse(m, c, MSG_FORBIDDEN, why);
            goto out;
        }
    }
    if (exp != 0 && exp <= (uint64_t)now) {
        rc = refuse(m, c, MSG_EXPIRED, "expires_at is in the past");
        goto out;
    }
    if (max_exp > 0 && exp > (uint64_t)(now + max_exp + MSG_EXPIRY_SLACK)) {
        snprintf(why, sizeof(why), "expires_at is more than %lld s ahead (the maximum expiration)",
                 (long long)max_exp);
        rc = refuse(m, c, MSG_FORBIDDEN, why);
        goto out;
    }
    /* No expiry asked for: the server keeps its copy at most the maximum. */
    m->keep_until = max_exp > 0 && exp == 0 ? now + max_exp : (int64_t)exp;
    if (!check_complete(m, cur, n)) {
        rc = find_duplicate(c, m);
        if (rc == 1) {
            m->duplicate = true;
            free(m->missing);
            free(m->extra);
            m->missing = m->extra = NULL;
            m->n_missing = m->n_extra = 0;
            rc = 0;
        } else if (rc == 0) {
            verdict(m, MSG_DEVICES_CHANGED,
                    "the members' devices changed: fetch them again and seal for every device");
        }
        goto out;
    }
    rc = write_envelope(c, m, conv_row, cur, n);
    if (rc == 0 && m->early && floor_committed && m->n_rcpt > 0 && !m->duplicate)
        m->early(m);
out:
    free(cur);
    return rc;
}

static void submit_done(void *arg, int rc)
{
    struct msg_submit *m = arg;

    /* Jobs end in batch order, before the next batch runs. A failed job
     * took back its rows, and a failed batch all of them: seqs may have
     * been seen early that are not stored, so raise the floor again. */
    if (m->raised_floor)
        floor_raising = false;
    if (rc < 0)
        floor_committed = false;
    else if (m->raised_floor)
        floor_committed = true;
    if (rc < 0) {
        log_warnx("envelope not stored: %s", parley_strerror(rc));
        m->n_rcpt = 0;
        m->duplicate = false;
        verdict(m, MSG_INTERNAL, "the server could not store the envelope; send it again");
    }
    m->done(m);
}

/* Committer thread, after the COMMIT or the ROLLBACK. */
static void submit_committed(void *arg, int rc)
{
    /* A failed batch was rolled back, maybe with a change that bumped
     * targets_gen: an answer cached under that generation could match a
     * later, different change. */
    if (rc < 0)
        targets_clear();
    submit_done(arg, rc);
}

void msgstore_submit(struct store *st, struct msg_submit *m)
{
    m->is_pg = store_is_pg(st);
    if (store_submit(st, submit_job, submit_committed, m) < 0)
        submit_done(m, PARLEY_ECLOSED);
}

/* ---- acks, purge, touch ------------------------------------------------- */

/* Acknowledgements of every session wait here for one committer job: the
 * first ack after a flush queues the job, the later ones join it until it
 * runs (while the committer is busy with a commit, that is most of them).
 * One job then deletes everything acknowledged meanwhile, instead of one
 * job, savepoint and envelope sweep per client ack message. */
struct ack_pending {
    int64_t *dev, *seq; /* pairs, in arrival order */
    size_t n, cap;
    bool is_pg;
};

static pthread_mutex_t ack_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ack_pending ack_waiting;
static struct store *ack_store; /* non-NULL while a flush job is queued */

struct ack_job {
    struct ack_pending *own; /* NULL: the shared ack_waiting */
    bool ran;
};

/* Append "[a,b,c]" (SQLite, read with json_each) or "{a,b,c}" (a
 * PostgreSQL array literal). */
static void id_array(struct buf *b, bool pg, const int64_t *v, size_t n)
{
    buf_append_byte(b, pg ? '{' : '[');
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%s%lld", i ? "," : "", (long long)v[i]);
    buf_append_byte(b, pg ? '}' : ']');
}

/* Delete the queue rows of `a`, collecting their envelope ids into env.
 * PostgreSQL: one statement over two arrays. SQLite: one statement per
 * run of one device's seqs (the (device_id, seq) key is used for each). */
static int ack_delete_queue(struct store_conn *c, bool pg, const struct ack_pending *a,
                            int64_t *env, size_t *n_env)
{
    struct buf b1 = BUF_INIT(SIZE_MAX), b2 = BUF_INIT(SIZE_MAX);
    struct store_rows *r = NULL;
    int rc = 0;

    for (size_t i = 0; i < a->n && rc == 0;) {
        size_t j = i + 1;
        if (pg) {
            j = a->n;
            id_array(&b1, true, a->dev, a->n);
            id_array(&b2, true, a->seq, a->n);
        } else {
            while (j < a->n && a->dev[j] == a->dev[i])
                j++;
            id_array(&b2, false, a->seq + i, j - i);
        }
        struct store_val p[] = {STORE_TEXTN((const char *)b1.data, b1.len),
                                STORE_TEXTN((const char *)b2.data, b2.len)};
        struct store_val q[] = {STORE_INT(a->dev[i]), STORE_TEXTN((const char *)b2.data, b2.len)};
        rc = pg ? store_query(c,
                              "DELETE FROM queue q USING unnest($1::bigint[], $2::bigint[]) "
                              "AS a(d, s) WHERE q.device_id = a.d AND q.seq = a.s "
                              "RETURNING q.envelope_id",
                              p, 2, &r)
                : store_query(c,
                              "DELETE FROM queue WHERE device_id = $1 AND seq IN "
                              "(SELECT value FROM json_each($2)) RETURNING envelope_id",
                              q, 2, &r);
        while (rc == 0 && (rc = store_rows_next(r)) == 1) {
            if (*n_env < a->n)
                env[(*n_env)++] = store_rows_int(r, 0);
            rc = 0;
        }
        store_rows_free(r);
        r = NULL;
        buf_reset(&b1);
        buf_reset(&b2);
        i = j;
    }
    buf_release(&b1);
    buf_release(&b2);
    return rc;
}

/* Stable order by device, so that one device's seqs form one run. */
static int cmp_pair(const void *x, const void *y)
{
    const int64_t *a = x, *b = y;
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* Two statements on PostgreSQL whatever was acknowledged (a statement per
 * device on SQLite, then one): the queue rows go, then the envelopes no
 * queue row refers to any more (the last recipient's ack drops the
 * envelope, and with it a burn-on-read message's last copy). Seqs
 * acknowledged twice, or expired meanwhile, match nothing. */
static int ack_flush_fn(struct store_conn *c, void *arg)
{
    struct ack_job *job = arg;
    struct ack_pending a, *own = job->own;
    struct buf envs = BUF_INIT(SIZE_MAX);
    int64_t *env = NULL, *pairs;
    size_t n_env = 0;
    bool pg;
    int rc;

    if (own) {
        a = *own; /* a job of its own (ack_other_store) */
        own->dev = own->seq = NULL;
    } else {
        pthread_mutex_lock(&ack_lock);
        a = ack_waiting;
        memset(&ack_waiting, 0, sizeof(ack_waiting));
        ack_store = NULL;
        pthread_mutex_unlock(&ack_lock);
    }
    job->ran = true;
    pg = a.is_pg;
    if (a.n == 0)
        return 0;
    if (!pg) {
        pairs = xmalloc(a.n * 2 * sizeof(*pairs));
        for (size_t i = 0; i < a.n; i++) {
            pairs[2 * i] = a.dev[i];
            pairs[2 * i + 1] = a.seq[i];
        }
        qsort(pairs, a.n, 2 * sizeof(*pairs), cmp_pair);
        for (size_t i = 0; i < a.n; i++) {
            a.dev[i] = pairs[2 * i];
            a.seq[i] = pairs[2 * i + 1];
        }
        free(pairs);
    }
    env = xcalloc(a.n + 1, sizeof(*env));
    rc = ack_delete_queue(c, pg, &a, env, &n_env);
    if (rc == 0 && n_env > 0) {
        id_array(&envs, pg, env, n_env);
        struct store_val q[] = {STORE_TEXTN((const char *)envs.data, envs.len)};
        rc = store_exec(c,
                        pg ? "DELETE FROM envelopes e WHERE e.id = ANY($1::bigint[]) AND NOT "
                             "EXISTS (SELECT 1 FROM queue q WHERE q.envelope_id = e.id)"
                           : "DELETE FROM envelopes WHERE id IN (SELECT value FROM "
                             "json_each($1)) AND NOT EXISTS (SELECT 1 FROM queue "
                             "WHERE queue.envelope_id = envelopes.id)",
                        q, 1, NULL);
    }
    free(env);
    free(a.dev);
    free(a.seq);
    buf_release(&envs);
    return rc;
}

static void free_done(void *arg, int rc)
{
    if (rc < 0)
        log_warnx("message store job failed: %s", parley_strerror(rc));
    free(arg);
}

static void ack_flush_done(void *arg, int rc)
{
    struct ack_job *job = arg;
    if (rc < 0)
        log_warnx("message store job failed: %s", parley_strerror(rc));
    if (job->own) {
        free(job->own->dev);
        free(job->own->seq);
        free(job->own);
    } else if (!job->ran) {
        /* Its batch broke before it ran: the next ack queues a new job.
         * What waited is dropped; unacknowledged entries are delivered
         * again on the next connection. */
        pthread_mutex_lock(&ack_lock);
        free(ack_waiting.dev);
        free(ack_waiting.seq);
        memset(&ack_waiting, 0, sizeof(ack_waiting));
        ack_store = NULL;
        pthread_mutex_unlock(&ack_lock);
    }
    free(job);
}

/* A second store in one process (not parleyd's case) gets a job per ack. */
static void ack_other_store(struct store *st, int64_t device_row, const int64_t *seqs, size_t n)
{
    struct ack_pending *a = xcalloc(1, sizeof(*a));
    a->dev = xmalloc(n * sizeof(int64_t));
    a->seq = xmalloc(n * sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        a->dev[i] = device_row;
        a->seq[i] = seqs[i];
    }
    a->n = a->cap = n;
    a->is_pg = store_is_pg(st);
    struct ack_job *job = xcalloc(1, sizeof(*job));
    job->own = a;
    if (store_submit(st, ack_flush_fn, ack_flush_done, job) < 0)
        ack_flush_done(job, 0);
}

void msgstore_ack(struct store *st, int64_t device_row, const int64_t *seqs, size_t n)
{
    bool submit = false;

    if (n == 0)
        return;
    pthread_mutex_lock(&ack_lock);
    if (ack_store && ack_store != st) {
        pthread_mutex_unlock(&ack_lock);
        ack_other_store(st, device_row, seqs, n);
        return;
    }
    if (ack_waiting.n + n > ack_waiting.cap) {
        ack_waiting.cap = (ack_waiting.n + n) * 2;
        ack_waiting.dev = xrealloc(ack_waiting.dev, ack_waiting.cap * sizeof(int64_t));
        ack_waiting.seq = xrealloc(ack_waiting.seq, ack_waiting.cap * sizeof(int64_t));
    }
    for (size_t i = 0; i < n; i++) {
        ack_waiting.dev[ack_waiting.n + i] = device_row;
        ack_waiting.seq[ack_waiting.n + i] = seqs[i];
    }
    ack_waiting.n += n;
    if (!ack_store) {
        ack_store = st;
        ack_waiting.is_pg = store_is_pg(st);
        submit = true;
    }
    pthread_mutex_unlock(&ack_lock);
    if (submit) {
        struct ack_job *job = xcalloc(1, sizeof(*job));
        if (store_submit(st, ack_flush_fn, ack_flush_done, job) < 0)
            ack_flush_done(job, 0); /* closing: not run, dropped */
    }
}

struct purge_job {
    void (*done)(void *arg, int rc);
    void *arg;
    int64_t removed;
};

static int purge_fn(struct store_conn *c, void *arg)
{
    struct purge_job *j = arg;
    struct store_val p[] = {STORE_INT((int64_t)time(NULL))};
    int rc = store_exec(c, "DELETE FROM envelopes WHERE expires_at > 0 AND expires_at <= $1", p, 1,
                        &j->removed);
    /* Expired login tokens and revoked tokens are of no further use. */
    if (rc == 0)
        rc = store_exec(c,
                        "DELETE FROM client_sessions WHERE revoked <> 0 OR "
                        "(expires_at > 0 AND expires_at <= $1)",
                        p, 1, NULL);
    return rc;
}

static void purge_done(void *arg, int rc)
{
    struct purge_job *j = arg;
    if (rc == 0 && j->removed > 0)
        log_info("expirer removed=%lld", (long long)j->removed);
    if (j->done)
        j->done(j->arg, rc);
    free(j);
}

void msgstore_purge(struct store *st, void (*done)(void *arg, int rc), void *arg)
{
    struct purge_job *j = xcalloc(1, sizeof(*j));
    j->done = done;
    j->arg = arg;
    if (store_submit(st, purge_fn, purge_done, j) < 0)
        purge_done(j, PARLEY_ECLOSED);
}

static int touch_fn(struct store_conn *c, void *arg)
{
    int64_t *row = arg;
    struct store_val p[] = {STORE_INT(*row), STORE_INT((int64_t)time(NULL))};
    return store_exec(c, "UPDATE devices SET last_seen = $2 WHERE id = $1", p, 2, NULL);
}

void msgstore_touch_device(struct store *st, int64_t device_row)
{
    int64_t *row = xmalloc(sizeof(*row));
    *row = device_row;
    if (store_submit(st, touch_fn, free_done, row) < 0)
        free(row);
}

/* ---- reads -------------------------------------------------------------- */

int msgstore_read_queue(struct store *st, int64_t device_row, int64_t after, struct msg_queued *out,
                        int max)
{
    struct store_val p[] = {STORE_INT(device_row), STORE_INT(after), STORE_INT((int64_t)time(NULL)),
                            STORE_INT(max)};
    struct store_conn *c;
    struct store_rows *r = NULL;
    int rc = store_conn_get(st, &c), n = 0;

    if (rc < 0)
        return rc;
    rc = store_query(c,
                     "SELECT q.seq, e.ts_ms, e.body FROM queue q "
                     "JOIN envelopes e ON e.id = q.envelope_id "
                     "WHERE q.device_id = $1 AND q.seq > $2 "
                     "AND (e.expires_at = 0 OR e.expires_at > $3) ORDER BY q.seq LIMIT $4",
                     p, 4, &r);
    while (rc == 0 && n < max && (rc = store_rows_next(r)) == 1) {
        size_t bl;
        const uint8_t *b = store_rows_blob(r, 2, &bl);
        out[n].seq = store_rows_int(r, 0);
        out[n].ts_ms = store_rows_int(r, 1);
        out[n].body = xmalloc(bl + 1);
        memcpy(out[n].body, b, bl);
        out[n].len = bl;
        n++;
        rc = 0;
    }
    store_rows_free(r);
    store_conn_put(st, c);
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            free(out[i].body);
        return rc;
    }
    return n;
}

int64_t msgstore_prekeys_left(struct store *st, int64_t device_row)
{
    struct store_val p[] = {STORE_INT(device_row)};
    struct store_conn *c;
    int64_t v = 0;
    int rc = store_conn_get(st, &c);

    if (rc < 0)
        return rc;
    rc = store_query_int(c, "SELECT prekeys_left FROM devices WHERE id = $1", p, 1, &v);
    store_conn_put(st, c);
    return rc < 0 ? rc : v;
}
