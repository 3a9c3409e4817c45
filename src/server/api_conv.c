/* api_conv.c - conversations and their members. See api_conv.h. */
#include "api_conv.h"
#include "api_client.h"
#include "api_client_util.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "federation.h"
#include "proto/ids.h"
#include "sgroup_settings.h"
#include "store.h"

struct conv_row {
    int64_t row;
    int type;
    int64_t expiration, burn_on_read, created_at;
    uint8_t conv_id[KEYS_ID_LEN];
};

/* What a job decided when it refuses: the handler replies with it. */
struct conv_err {
    int status;
    const char *code;
    char msg[256];
};

static int refuse(struct conv_err *e, int status, const char *code, const char *fmt, ...)
    PARLEY_PRINTF(4, 5);
static int refuse(struct conv_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return PARLEY_EINVAL; /* rolls the job back */
}

static int load_conv(struct store_conn *c, const uint8_t conv_id[KEYS_ID_LEN], int64_t network_row,
                     struct conv_row *out)
{
    struct store_val p[] = {STORE_BLOB(conv_id, KEYS_ID_LEN), STORE_INT(network_row)};
    struct store_rows *r = NULL;
    /* A conversation of the caller's network, or one with a member of it
     * (local federation lets members of several networks share one). */
    int rc = store_query(c,
                         "SELECT id, type, expiration, burn_on_read, created_at FROM conversations "
                         "WHERE conv_id = $1 AND deleted = 0 AND (network_id = $2 OR EXISTS "
                         "(SELECT 1 FROM members m JOIN users u ON u.id = m.user_id WHERE "
                         "m.conv_id = conversations.id AND u.network_id = $2))",
                         p, 2, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        out->row = store_rows_int(r, 0);
        out->type = (int)store_rows_int(r, 1);
        out->expiration = store_rows_int(r, 2);
        out->burn_on_read = store_rows_int(r, 3);
        out->created_at = store_rows_int(r, 4);
        memcpy(out->conv_id, conv_id, KEYS_ID_LEN);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    return rc;
}

/* The caller's role in the conversation: "member", "moderator", or "" when
 * not a member. */
static int member_role(struct store_conn *c, int64_t conv_row, int64_t user_row, char role[16])
{
    struct store_val p[] = {STORE_INT(conv_row), STORE_INT(user_row)};
    struct store_rows *r = NULL;
    int rc =
        store_query(c, "SELECT role FROM members WHERE conv_id = $1 AND user_id = $2", p, 2, &r);
    role[0] = 0;
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        strlcpy_p(role, store_rows_text(r, 0), 16);
        rc = 0;
    }
    store_rows_free(r);
    return rc;
}

static int count_members(struct store_conn *c, int64_t conv_row, int64_t *n)
{
    struct store_val p[] = {STORE_INT(conv_row)};
    return store_query_int(c, "SELECT COUNT(*) FROM members WHERE conv_id = $1", p, 1, n);
}

static int conv_json(struct store_conn *c, const struct conv_row *cv, json_t **out)
{
    char vg[IDS_VGROUPID_LEN + 1];
    struct store_val p[] = {STORE_INT(cv->row)};
    struct store_rows *r = NULL;
    json_t *members = json_array();
    int rc;

    ids_vgroupid(cv->conv_id, vg);
    rc = store_query(c,
                     "SELECT u.user_id, m.role FROM members m JOIN users u ON u.id = m.user_id "
                     "WHERE m.conv_id = $1 ORDER BY m.added_at, u.id",
                     p, 1, &r);
    while ((rc == 0 || rc == 1) && (rc = store_rows_next(r)) == 1) {
        size_t bl;
        const uint8_t *b = store_rows_blob(r, 0, &bl);
        json_array_append_new(members, json_pack("{s:o,s:s}", "user_id", api_json_id(b), "role",
                                                 store_rows_text(r, 1)));
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(members);
        return rc;
    }
    *out = json_pack("{s:o,s:s,s:s,s:o,s:I,s:I,s:I}", "conv_id", api_json_id(cv->conv_id),
                     "vgroupid", vg, "type", ids_conv_type_name((enum ids_conv_type)cv->type),
                     "members", members, "expiration", (json_int_t)cv->expiration, "burn_on_read",
                     (json_int_t)cv->burn_on_read, "created_at", (json_int_t)cv->created_at);
    return 0;
}

static int add_member(struct store_conn *c, int64_t conv_row, int64_t user_row, const char *role)
{
    struct store_val p[] = {STORE_INT(conv_row), STORE_INT(user_row), STORE_TEXT(role),
                            STORE_INT((int64_t)time(NULL))};
    return store_exec(c,
                      "INSERT INTO members (conv_id, user_id, role, added_at) VALUES ($1, $2, $3, "
                      "$4) ON CONFLICT (conv_id, user_id) DO NOTHING",
                      p, 4, NULL);
}

/* A user who may join conversations, in any network of the deployment:
 * row, network row and network id. Whether the caller may reach one of
 * another network is federation.h's to say. */
struct user_ref {
    int64_t row, network_row;
    char network_id[129];
};

static int user_row_of(struct store_conn *c, const uint8_t user_id[KEYS_ID_LEN], struct user_ref *u)
{
    struct store_val p[] = {STORE_BLOB(user_id, KEYS_ID_LEN)};
    struct store_rows *r = NULL;
    int rc = store_query(c,
                         "SELECT u.id, u.network_id, n.network_id FROM users u JOIN networks n "
                         "ON n.id = u.network_id WHERE u.user_id = $1 AND u.status IN "
                         "('pending', 'active')",
                         p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        u->row = store_rows_int(r, 0);
        u->network_row = store_rows_int(r, 1);
        strlcpy_p(u->network_id, store_rows_text(r, 2), sizeof(u->network_id));
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    return rc;
}

/* Whether the conversation has a member outside network `network_row`. */
static int has_foreign_member(struct store_conn *c, int64_t conv_row, int64_t network_row,
                              bool *yes)
{
    struct store_val p[] = {STORE_INT(conv_row), STORE_INT(network_row)};
    int64_t n = 0;
    int rc = store_query_int(c,
                             "SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id "
                             "WHERE m.conv_id = $1 AND u.network_id <> $2",
                             p, 2, &n);
    *yes = n > 0;
    return rc;
}

/* Add `u` to the conversation if local federation lets them reach every
 * member (checked only when networks mix: `*mixed` says whether they do
 * already, and becomes true when `u` makes them). */
static int add_member_checked(struct store_conn *c, struct conv_err *e, const char *field,
                              int64_t conv_row, int64_t caller_network, const struct user_ref *u,
                              const char *role, bool *mixed)
{
    char why[300];
    int rc;

    if (*mixed || u->network_row != caller_network) {
        rc = fed_check_conv(c, conv_row, u->row, why, sizeof(why));
        if (rc < 0)
            return rc;
        if (rc == 0)
            return refuse(e, 403, "forbidden", "field '%s': %s", field, why);
        *mixed |= u->network_row != caller_network;
    }
    return add_member(c, conv_row, u->row, role);
}

/* The longest expiration `user_row`'s security group allows (0: none). */
static int max_expiration(struct store_conn *c, int64_t user_row, int64_t *max)
{
    struct store_val p[] = {STORE_INT(user_row)};
    int64_t group = 0;
    json_t *settings = NULL;
    int rc = store_query_int(c,
                             "SELECT COALESCE(u.security_group_id, (SELECT id FROM security_groups "
                             "WHERE network_id = u.network_id AND is_default = 1 ORDER BY id "
                             "LIMIT 1), 0) FROM users u WHERE u.id = $1",
                             p, 1, &group);
    *max = 0;
    if (rc == 0 && group && sgroup_settings_get(c, group, &settings) == 0)
        *max = json_integer_value(json_object_get(settings, "max_expiration"));
    json_decref(settings);
    return rc;
}

/* The security group's max_expiration ("Auto-Destruct") bounds what a
 * conversation may ask for: users choose any shorter time, never a longer
 * one. 0 (or no field) takes the maximum. Burn-on-read is bounded the same
 * way, since no message outlives its group's maximum. Refuses with a 400
 * naming the field. */
static int check_timers(struct conv_err *e, const struct api_value *exp,
                        const struct api_value *bor, int64_t max_exp)
{
    if (max_exp <= 0)
        return 0;
    if (exp->present && exp->i > max_exp)
        return refuse(e, 400, "bad_request",
                      "field 'expiration' must be at most %lld s (your security group's "
                      "max_expiration), got %lld",
                      (long long)max_exp, (long long)exp->i);
    if (bor->present && bor->i > max_exp)
        return refuse(e, 400, "bad_request",
                      "field 'burn_on_read' must be at most %lld s (your security group's "
                      "max_expiration), got %lld",
                      (long long)max_exp, (long long)bor->i);
    return 0;
}

static void id_hex(const uint8_t id[KEYS_ID_LEN], char out[2 * KEYS_ID_LEN + 1])
{
    hex_encode(id, KEYS_ID_LEN, out);
}

/* ---- create ------------------------------------------------------------- */

struct create_job {
    const struct client_auth *a;
    const struct api_body *b;
    enum ids_conv_type type;
    struct conv_err err;
    json_t *reply;
    bool created;
};

static int create_direct(struct store_conn *c, struct create_job *j, struct conv_row *cv)
{
    const struct api_body *b = j->b;
    int64_t now = (int64_t)time(NULL), existed = 0;
    struct user_ref peer;
    char why[300];
    int rc;

    if (!b->v[1].present)
        return refuse(&j->err, 400, "bad_request", "field 'peer' is required for type 'direct'");
    if (memcmp(b->v[1].id, j->a->user_id, KEYS_ID_LEN) == 0)
        return refuse(&j->err, 400, "bad_request", "field 'peer' must be another user");
    rc = user_row_of(c, b->v[1].id, &peer);
    if (rc == PARLEY_ENOTFOUND)
        return refuse(&j->err, 404, "not_found", "field 'peer': no such user");
    if (rc < 0)
        return rc;
    if (peer.network_row != j->a->network_row) {
        rc = fed_check(c, j->a->user_row, peer.row, why, sizeof(why));
        if (rc < 0)
            return rc;
        if (rc == 0)
            return refuse(&j->err, 403, "forbidden", "field 'peer': %s", why);
    }
    /* Across networks the id takes the smaller network id, so both sides
     * name the same conversation (docs/client-protocol.md). */
    if (ids_conv_direct(strcmp(peer.network_id, j->a->network_id) < 0 ? peer.network_id
                                                                      : j->a->network_id,
                        j->a->user_id, b->v[1].id, cv->conv_id) < 0)
        return PARLEY_EINVAL;
    struct store_val q[] = {STORE_BLOB(cv->conv_id, KEYS_ID_LEN)};
    rc = store_query_int(c, "SELECT id FROM conversations WHERE conv_id = $1", q, 1, &existed);
    if (rc == PARLEY_ENOTFOUND) {
        struct store_val p[] = {STORE_BLOB(cv->conv_id, KEYS_ID_LEN), STORE_INT(j->a->network_row),
                                STORE_INT(j->a->user_row), STORE_INT(now)};
        rc = store_exec(c,
                        "INSERT INTO conversations (conv_id, type, network_id, created_by, "
                        "created_at) VALUES ($1, 0, $2, $3, $4)",
                        p, 4, NULL);
        if (rc == 0)
            rc = store_query_int(c, "SELECT id FROM conversations WHERE conv_id = $1", q, 1,
                                 &existed);
        j->created = true;
    } else if (rc == 0) {
        /* A deleted direct conversation comes back: direct ones are never gone. */
        struct store_val p[] = {STORE_INT(existed)};
        rc = store_exec(c, "UPDATE conversations SET deleted = 0 WHERE id = $1 AND deleted <> 0", p,
                        1, NULL);
    }
    if (rc == 0)
        rc = add_member(c, existed, j->a->user_row, "member");
    if (rc == 0)
        rc = add_member(c, existed, peer.row, "member");
    return rc;
}

static bool in_ids(const struct api_value *v, const uint8_t id[KEYS_ID_LEN])
{
    for (size_t i = 0; v->present && i < v->n_ids; i++)
        if (memcmp(v->ids[i], id, KEYS_ID_LEN) == 0)
            return true;
    return false;
}

/* Distinct ids among the creator, `a` and `b`: the member count a request
 * asks for, checked before any lookup so an oversized request gets 413. */
static size_t distinct(const uint8_t self[KEYS_ID_LEN], const struct api_value *a,
                       const struct api_value *b)
{
    size_t n = 1;
    for (int pass = 0; pass < 2; pass++) {
        const struct api_value *v = pass ? b : a;
        for (size_t i = 0; v->present && i < v->n_ids; i++) {
            bool seen = memcmp(v->ids[i], self, KEYS_ID_LEN) == 0 || (pass && in_ids(a, v->ids[i]));
            n += !seen;
        }
    }
    return n;
}

static int create_multi(struct store_conn *c, struct create_job *j, struct conv_row *cv)
{
    const struct api_body *b = j->b;
    const struct api_value *members = &b->v[3], *mods = &b->v[4];
    int64_t now = (int64_t)time(NULL), row = 0, max_exp = 0, expiration = 0, n = 0;
    char hex[2 * KEYS_ID_LEN + 1];
    bool mixed = false;
    int rc;

    if (!b->v[2].present)
        return refuse(&j->err, 400, "bad_request", "field 'conv_id' is required for type '%s'",
                      ids_conv_type_name(j->type));
    memcpy(cv->conv_id, b->v[2].id, KEYS_ID_LEN);
    if (ids_conv_type(cv->conv_id) != (int)j->type)
        return refuse(&j->err, 400, "bad_request",
                      "field 'conv_id': its top two bits must be %d for type '%s'", (int)j->type,
                      ids_conv_type_name(j->type));
    if (j->type == IDS_CONV_GROUP && mods->present && mods->n_ids)
        return refuse(&j->err, 400, "bad_request",
                      "field 'moderators': only rooms have moderators");
    if (distinct(j->a->user_id, members, mods) > CONV_MAX_MEMBERS)
        return refuse(&j->err, 413, "too_large", "field 'members': at most %d members",
                      CONV_MAX_MEMBERS);
    rc = max_expiration(c, j->a->user_row, &max_exp);
    if (rc < 0)
        return rc;
    if ((rc = check_timers(&j->err, &b->v[5], &b->v[6], max_exp)) < 0)
        return rc;
    expiration = b->v[5].present ? b->v[5].i : 0;
    if (max_exp > 0 && expiration == 0)
        expiration = max_exp; /* none asked for: the security group's maximum */
    struct store_val p[] = {STORE_BLOB(cv->conv_id, KEYS_ID_LEN),
                            STORE_INT(j->type),
                            STORE_INT(j->a->network_row),
                            STORE_INT(expiration),
                            STORE_INT(b->v[6].present ? b->v[6].i : 0),
                            STORE_INT(j->a->user_row),
                            STORE_INT(now)};
    rc = store_query_int(c,
                         "INSERT INTO conversations (conv_id, type, network_id, expiration, "
                         "burn_on_read, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
                         "$7) RETURNING id",
                         p, ARRAY_SIZE(p), &row);
    if (rc == PARLEY_EEXIST)
        return refuse(&j->err, 409, "conflict",
                      "field 'conv_id': this conversation already exists");
    if (rc < 0)
        return rc;
    j->created = true;
    rc = add_member(c, row, j->a->user_row, j->type == IDS_CONV_ROOM ? "moderator" : "member");
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        const struct api_value *v = pass == 0 ? mods : members;
        for (size_t i = 0; rc == 0 && v->present && i < v->n_ids; i++) {
            struct user_ref u;
            const char *field = pass == 0 ? "moderators" : "members";
            rc = user_row_of(c, v->ids[i], &u);
            if (rc == PARLEY_ENOTFOUND) {
                id_hex(v->ids[i], hex);
                return refuse(&j->err, 404, "not_found",
                              "field '%s': user %s is not an active user", field, hex);
            }
            if (rc == 0)
                rc = add_member_checked(
                    c, &j->err, field, row, j->a->network_row, &u,
                    pass == 0 || in_ids(mods, v->ids[i]) ? "moderator" : "member", &mixed);
        }
    }
    if (rc == 0)
        rc = count_members(c, row, &n);
    if (rc == 0 && n > CONV_MAX_MEMBERS)
        return refuse(&j->err, 413, "too_large", "field 'members': at most %d members",
                      CONV_MAX_MEMBERS);
    return rc;
}

static int create_write(struct store_conn *c, void *arg)
{
    struct create_job *j = arg;
    struct conv_row cv;
    int rc;

    memset(&cv, 0, sizeof(cv));
    rc = j->type == IDS_CONV_DIRECT ? create_direct(c, j, &cv) : create_multi(c, j, &cv);
    if (rc == 0)
        rc = load_conv(c, cv.conv_id, j->a->network_row, &cv);
    if (rc == 0)
        rc = conv_json(c, &cv, &j->reply);
    return rc;
}

static void reply_job(struct http_req *req, int rc, struct conv_err *e, json_t **reply, int status)
{
    if (e->status)
        http_reply_error(req, e->status, e->code, "%s", e->msg);
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else {
        http_reply_json(req, status, *reply);
        *reply = NULL;
    }
}

void api_conv_create(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct create_job j = {0};
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_CONV_CREATE, &b) < 0)
        return;
    if (ids_conv_type_parse(b.v[0].s, &j.type) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'type' must be \"direct\", \"group\" or \"room\"");
        goto out;
    }
    j.a = &a;
    j.b = &b;
    rc = store_write_sync(req->srv->store, create_write, &j);
    reply_job(req, rc, &j.err, &j.reply, j.created && j.type != IDS_CONV_DIRECT ? 201 : 200);
out:
    json_decref(j.reply);
    api_body_release(&b);
}

/* ---- read --------------------------------------------------------------- */

static int path_conv_id(struct http_req *req, uint8_t id[KEYS_ID_LEN])
{
    if (strlen(req->params[0]) != 2 * KEYS_ID_LEN ||
        hex_decode(req->params[0], 2 * KEYS_ID_LEN, id, KEYS_ID_LEN) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "path segment 'conv_id' must be 32 hex characters");
        return -1;
    }
    return 0;
}

void api_conv_list(struct http_req *req)
{
    struct client_auth a;
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    struct conv_row *rows = NULL;
    size_t n = 0, cap = 0;
    json_t *arr = json_array(), *one;
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        goto out;
    rc = store_conn_get(req->srv->store, &c);
    if (rc == 0)
        rc = store_begin_read(c);
    if (rc < 0)
        goto fail;
    struct store_val p[] = {STORE_INT(a.user_row)};
    rc = store_query(c,
                     "SELECT c.id, c.type, c.expiration, c.burn_on_read, c.created_at, c.conv_id "
                     "FROM conversations c JOIN members m ON m.conv_id = c.id "
                     "WHERE m.user_id = $1 AND c.deleted = 0 ORDER BY c.id",
                     p, 1, &r);
    while ((rc == 0 || rc == 1) && (rc = store_rows_next(r)) == 1) {
        size_t bl;
        const uint8_t *bid = store_rows_blob(r, 5, &bl);
        if (n == cap)
            rows = xrealloc(rows, (cap = cap ? cap * 2 : 16) * sizeof(*rows));
        rows[n].row = store_rows_int(r, 0);
        rows[n].type = (int)store_rows_int(r, 1);
        rows[n].expiration = store_rows_int(r, 2);
        rows[n].burn_on_read = store_rows_int(r, 3);
        rows[n].created_at = store_rows_int(r, 4);
        memcpy(rows[n].conv_id, bid, bl == KEYS_ID_LEN ? KEYS_ID_LEN : 0);
        n++;
    }
    store_rows_free(r);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = conv_json(c, &rows[i], &one);
        if (rc == 0)
            json_array_append_new(arr, one);
    }
    store_commit(c);
    if (rc < 0)
        goto fail;
    http_reply_json(req, 200, json_pack("{s:O}", "conversations", arr));
    goto out;
fail:
    api_reply_store_error(req, rc);
out:
    json_decref(arr);
    free(rows);
    if (c)
        store_conn_put(req->srv->store, c);
}

static bool is_compliance_bot(struct store_conn *c, int64_t user_row)
{
    struct store_val p[] = {STORE_INT(user_row)};
    int64_t yes = 0;
    return store_query_int(c,
                           "SELECT 1 FROM users WHERE id = $1 AND is_compliance = 1 AND status = "
                           "'active'",
                           p, 1, &yes) == 0 &&
           yes == 1;
}

void api_conv_get(struct http_req *req)
{
    struct client_auth a;
    struct store_conn *c = NULL;
    struct conv_row cv;
    uint8_t id[KEYS_ID_LEN];
    char role[16];
    json_t *one = NULL;
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0 || path_conv_id(req, id) < 0)
        return;
    rc = store_conn_get(req->srv->store, &c);
    if (rc == 0)
        rc = store_begin_read(c);
    if (rc == 0)
        rc = load_conv(c, id, a.network_row, &cv);
    if (rc == 0)
        rc = member_role(c, cv.row, a.user_row, role);
    /* The network's compliance bot is in no conversation but keeps a copy
     * of all of them: it may read who is in each (the retention log names
     * the receiver of a direct message). */
    if (rc == 0 && !role[0] && !is_compliance_bot(c, a.user_row))
        rc = PARLEY_ENOTFOUND;
    if (rc == 0)
        rc = conv_json(c, &cv, &one);
    if (c) {
        store_commit(c);
        store_conn_put(req->srv->store, c);
    }
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "no such conversation among yours");
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 200, one);
}

int api_conv_member_rows(struct store_conn *c, const uint8_t conv_id[KEYS_ID_LEN],
                         int64_t network_row, int64_t user_row, int64_t **users, size_t *n)
{
    struct conv_row cv;
    struct store_rows *r = NULL;
    size_t cap = 0;
    bool is_member = false;
    int rc;

    *users = NULL;
    *n = 0;
    rc = load_conv(c, conv_id, network_row, &cv);
    if (rc < 0)
        return rc;
    struct store_val p[] = {STORE_INT(cv.row)};
    rc = store_query(c, "SELECT user_id FROM members WHERE conv_id = $1", p, 1, &r);
    while ((rc == 0 || rc == 1) && (rc = store_rows_next(r)) == 1) {
        if (*n == cap)
            *users = xrealloc(*users, (cap = cap ? cap * 2 : 16) * sizeof(**users));
        (*users)[(*n)++] = store_rows_int(r, 0);
        is_member |= store_rows_int(r, 0) == user_row;
    }
    store_rows_free(r);
    if (rc == 0 && !is_member)
        rc = PARLEY_ENOTFOUND;
    if (rc < 0) {
        free(*users);
        *users = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- change ------------------------------------------------------------- */

enum change_kind { CHANGE_MEMBERS, CHANGE_LEAVE, CHANGE_DELETE, CHANGE_SETTINGS };

struct change_job {
    const struct client_auth *a;
    const struct api_body *b; /* CHANGE_MEMBERS, CHANGE_SETTINGS */
    enum change_kind kind;
    uint8_t conv_id[KEYS_ID_LEN];
    struct conv_err err;
    json_t *reply;
};

static int remove_member(struct store_conn *c, int64_t conv_row, int64_t user_row)
{
    struct store_val p[] = {STORE_INT(conv_row), STORE_INT(user_row)};
    return store_exec(c, "DELETE FROM members WHERE conv_id = $1 AND user_id = $2", p, 2, NULL);
}

static int change_members(struct store_conn *c, struct change_job *j, const struct conv_row *cv,
                          const char *role)
{
    const struct api_value *add = &j->b->v[0], *rem = &j->b->v[1], *mods = &j->b->v[2];
    bool is_room = cv->type == IDS_CONV_ROOM;
    char hex[2 * KEYS_ID_LEN + 1];
    int64_t n = 0;
    bool mixed = false;
    int rc = 0;

    if (is_room && strcmp(role, "moderator") != 0)
        return refuse(&j->err, 403, "forbidden", "only moderators change a room's members");
    if (!is_room && mods->present && mods->n_ids)
        return refuse(&j->err, 400, "bad_request",
                      "field 'moderators': only rooms have moderators");
    for (size_t i = 0; !is_room && rem->present && i < rem->n_ids; i++)
        if (memcmp(rem->ids[i], j->a->user_id, KEYS_ID_LEN) != 0)
            return refuse(&j->err, 403, "forbidden",
                          "field 'remove': in a group members remove only themselves");
    if (add->present && add->n_ids > CONV_MAX_MEMBERS)
        return refuse(&j->err, 413, "too_large", "field 'add': at most %d members",
                      CONV_MAX_MEMBERS);
    if (add->present && add->n_ids)
        rc = has_foreign_member(c, cv->row, j->a->network_row, &mixed);
    for (size_t i = 0; rc == 0 && add->present && i < add->n_ids; i++) {
        struct user_ref u;
        rc = user_row_of(c, add->ids[i], &u);
        if (rc == PARLEY_ENOTFOUND) {
            id_hex(add->ids[i], hex);
            return refuse(&j->err, 404, "not_found", "field 'add': user %s is not an active user",
                          hex);
        }
        if (rc == 0)
            rc = add_member_checked(c, &j->err, "add", cv->row, j->a->network_row, &u, "member",
                                    &mixed);
    }
    for (size_t i = 0; rc == 0 && rem->present && i < rem->n_ids; i++) {
        int64_t u = 0;
        struct store_val p[] = {STORE_BLOB(rem->ids[i], KEYS_ID_LEN)};
        rc = store_query_int(c, "SELECT id FROM users WHERE user_id = $1", p, 1, &u);
        if (rc == PARLEY_ENOTFOUND) {
            rc = 0; /* not a user: not a member either */
            continue;
        }
        if (rc == 0)
            rc = remove_member(c, cv->row, u);
    }
    for (size_t i = 0; rc == 0 && mods->present && i < mods->n_ids; i++) {
        int64_t changes = 0;
        struct store_val p[] = {STORE_INT(cv->row), STORE_BLOB(mods->ids[i], KEYS_ID_LEN)};
        rc = store_exec(c,
                        "UPDATE members SET role = 'moderator' WHERE conv_id = $1 AND user_id = "
                        "(SELECT id FROM users WHERE user_id = $2)",
                        p, 2, &changes);
        if (rc == 0 && changes == 0) {
            id_hex(mods->ids[i], hex);
            return refuse(&j->err, 400, "bad_request",
                          "field 'moderators': user %s is not a member (add them too)", hex);
        }
    }
    if (rc == 0)
        rc = count_members(c, cv->row, &n);
    if (rc == 0 && n > CONV_MAX_MEMBERS)
        return refuse(&j->err, 413, "too_large", "field 'add': at most %d members",
                      CONV_MAX_MEMBERS);
    if (rc == 0)
        rc = conv_json(c, cv, &j->reply);
    return rc;
}

/* Expiration and burn-on-read of a group (any member) or a room
 * (moderators). Title and description travel encrypted (4004); these two
 * the server needs to know. */
static int change_settings(struct store_conn *c, struct change_job *j, struct conv_row *cv,
                           const char *role)
{
    const struct api_value *exp = &j->b->v[0], *bor = &j->b->v[1];
    int64_t max_exp = 0;
    int rc;

    if (cv->type == IDS_CONV_ROOM && strcmp(role, "moderator") != 0)
        return refuse(&j->err, 403, "forbidden", "only moderators change a room's settings");
    if (!exp->present && !bor->present)
        return refuse(&j->err, 400, "bad_request",
                      "give field 'expiration' or 'burn_on_read' (seconds, 0 = off)");
    if ((rc = max_expiration(c, j->a->user_row, &max_exp)) < 0)
        return rc;
    if ((rc = check_timers(&j->err, exp, bor, max_exp)) < 0)
        return rc;
    if (exp->present) {
        cv->expiration = exp->i;
        if (max_exp > 0 && cv->expiration == 0)
            cv->expiration = max_exp; /* none asked for: the security group's maximum */
    }
    if (bor->present)
        cv->burn_on_read = bor->i;
    struct store_val p[] = {STORE_INT(cv->row), STORE_INT(cv->expiration),
                            STORE_INT(cv->burn_on_read)};
    rc = store_exec(c, "UPDATE conversations SET expiration = $2, burn_on_read = $3 WHERE id = $1",
                    p, 3, NULL);
    if (rc == 0)
        rc = conv_json(c, cv, &j->reply);
    return rc;
}

static int change_write(struct store_conn *c, void *arg)
{
    struct change_job *j = arg;
    struct conv_row cv;
    char role[16];
    int rc = load_conv(c, j->conv_id, j->a->network_row, &cv);

    if (rc == 0)
        rc = member_role(c, cv.row, j->a->user_row, role);
    if (rc == PARLEY_ENOTFOUND || (rc == 0 && !role[0]))
        return refuse(&j->err, 404, "not_found", "no such conversation among yours");
    if (rc < 0)
        return rc;
    if (cv.type == IDS_CONV_DIRECT)
        return refuse(&j->err, 403, "forbidden", "a direct conversation cannot be changed");
    switch (j->kind) {
    case CHANGE_MEMBERS:
        return change_members(c, j, &cv, role);
    case CHANGE_SETTINGS:
        return change_settings(c, j, &cv, role);
    case CHANGE_LEAVE:
        break;
    case CHANGE_DELETE:
        if (cv.type == IDS_CONV_ROOM) {
            struct store_val p[] = {STORE_INT(cv.row)};
            if (strcmp(role, "moderator") != 0)
                return refuse(&j->err, 403, "forbidden", "only moderators delete a room");
            rc = store_exec(c, "UPDATE conversations SET deleted = 1 WHERE id = $1", p, 1, NULL);
            if (rc == 0)
                rc = store_exec(c, "DELETE FROM members WHERE conv_id = $1", p, 1, NULL);
            j->reply = json_object();
            return rc;
        }
        break; /* a group member deletes the group for themselves: leaves it */
    }
    rc = remove_member(c, cv.row, j->a->user_row);
    j->reply = json_object();
    return rc;
}

static void change(struct http_req *req, enum change_kind kind)
{
    struct client_auth a;
    struct api_body b = {0};
    struct change_job j = {0};
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0 || path_conv_id(req, j.conv_id) < 0)
        return;
    if (kind == CHANGE_MEMBERS && api_body_get(req, API_BODY_MEMBERS, &b) < 0)
        return;
    if (kind == CHANGE_SETTINGS && api_body_get(req, API_BODY_CONV_SETTINGS, &b) < 0)
        return;
    j.a = &a;
    j.b = &b;
    j.kind = kind;
    rc = store_write_sync(req->srv->store, change_write, &j);
    reply_job(req, rc, &j.err, &j.reply, 200);
    json_decref(j.reply);
    api_body_release(&b);
}

void api_conv_members(struct http_req *req)
{
    change(req, CHANGE_MEMBERS);
}

void api_conv_settings(struct http_req *req)
{
    change(req, CHANGE_SETTINGS);
}

void api_conv_leave(struct http_req *req)
{
    change(req, CHANGE_LEAVE);
}

void api_conv_delete(struct http_req *req)
{
    change(req, CHANGE_DELETE);
}
