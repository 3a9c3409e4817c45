/* api_link.c - the relay for linking a new device to an account
 * (docs/client-protocol.md, "Linking a device"). See api_link.h.
 *
 * The server stores and forwards opaque bytes between two devices of the
 * same user: the new device's offer, then the encrypted history chunks and
 * the header that unlocks them for that device alone. It never holds a key
 * to any of it (docs/protocol.md, "Device linking"). What it enforces is
 * who may read and write which part, and how much and for how long: a
 * session lives LINK_TTL seconds, a user has at most LINK_MAX_LIVE at once,
 * and the first offer closes the session to every other device. */
#include "api_link.h"
#include "api_client_util.h"
#include "common/str.h"
#include "proto/link.h"
#include "store.h"

#define LINK_TTL      600
#define LINK_MAX_LIVE 4

/* One session as the caller may see it. */
struct link_row {
    int64_t row;
    int64_t from_device, to_device; /* device rows; to_device 0 until offered */
    bool has_offer, has_header;
    int64_t n_chunks;
    int64_t expires_at;
};

static const char sql_link[] =
    "SELECT id, from_device, to_device, offer IS NOT NULL, header IS NOT NULL, n_chunks, "
    "expires_at FROM device_links WHERE link_id = $1 AND user_id = $2 AND expires_at > $3";

/* The live session `link_id` of the caller's user: PARLEY_ENOTFOUND when
 * there is none, it expired, or it belongs to another user. */
static int link_load(struct store_conn *c, const uint8_t link_id[LINK_ID_LEN], int64_t user_row,
                     struct link_row *out)
{
    struct store_val p[] = {STORE_BLOB(link_id, LINK_ID_LEN), STORE_INT(user_row),
                            STORE_INT((int64_t)time(NULL))};
    struct store_rows *r = NULL;
    int rc = store_query(c, sql_link, p, ARRAY_SIZE(p), &r);

    if (rc == 0)
        rc = store_rows_next(r);
    if (rc == 1) {
        out->row = store_rows_int(r, 0);
        out->from_device = store_rows_int(r, 1);
        out->to_device = store_rows_int(r, 2);
        out->has_offer = store_rows_int(r, 3) != 0;
        out->has_header = store_rows_int(r, 4) != 0;
        out->n_chunks = store_rows_int(r, 5);
        out->expires_at = store_rows_int(r, 6);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    return rc;
}

static void reply_not_found(struct http_req *req)
{
    http_reply_error(req, 404, "not_found",
                     "no such link for this device: check the code, or it expired (links last "
                     "%d minutes)",
                     LINK_TTL / 60);
}

/* The ":link_id" path segment. Replies 400 and returns -1 if malformed. */
static int path_link_id(struct http_req *req, uint8_t out[LINK_ID_LEN])
{
    const char *s = req->params[0];
    if (strlen(s) != 2 * LINK_ID_LEN || hex_decode(s, 2 * LINK_ID_LEN, out, LINK_ID_LEN) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "path segment 'link_id' must be 32 hex characters");
        return -1;
    }
    return 0;
}

/* The ":index" path segment of a chunk. */
static int path_index(struct http_req *req, int64_t *out)
{
    if (str_to_i64(req->params[1], 0, LINK_MAX_CHUNKS - 1, out) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "path segment 'index' must be an integer from 0 to %d",
                         LINK_MAX_CHUNKS - 1);
        return -1;
    }
    return 0;
}

/* ---- POST /links ---------------------------------------------------------- */

struct create_job {
    const struct client_auth *a;
    const uint8_t *link_id;
    int64_t expires_at;
};

static int create_write(struct store_conn *c, void *arg)
{
    struct create_job *j = arg;
    int64_t now = (int64_t)time(NULL), live = 0;
    struct store_val pn[] = {STORE_INT(now)};
    struct store_val pu[] = {STORE_INT(j->a->user_row), STORE_INT(now)};
    int rc;

    /* Expired sessions of every user go here, so the table stays small
     * without a timer. */
    rc = store_exec(c, "DELETE FROM device_links WHERE expires_at <= $1", pn, 1, NULL);
    if (rc == 0)
        rc = store_query_int(c,
                             "SELECT COUNT(*) FROM device_links WHERE user_id = $1 AND "
                             "expires_at > $2",
                             pu, 2, &live);
    if (rc < 0)
        return rc;
    if (live >= LINK_MAX_LIVE)
        return PARLEY_EBUSY;
    j->expires_at = now + LINK_TTL;
    struct store_val p[] = {STORE_BLOB(j->link_id, LINK_ID_LEN), STORE_INT(j->a->user_row),
                            STORE_INT(j->a->device_row), STORE_INT(now), STORE_INT(j->expires_at)};
    return store_exec(c,
                      "INSERT INTO device_links (link_id, user_id, from_device, created_at, "
                      "expires_at) VALUES ($1, $2, $3, $4, $5)",
                      p, ARRAY_SIZE(p), NULL);
}

void api_link_create(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct create_job j = {0};
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_LINK_CREATE, &b) < 0)
        return;
    j.a = &a;
    j.link_id = b.v[0].id;
    rc = store_write_sync(req->srv->store, create_write, &j);
    if (rc == PARLEY_EBUSY)
        http_reply_error(req, 429, "rate_limited",
                         "this user already has %d links open: finish or delete one first",
                         LINK_MAX_LIVE);
    else if (rc == PARLEY_EEXIST)
        http_reply_error(req, 409, "conflict", "field 'link_id': already in use; make a new code");
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 201,
                        json_pack("{s:o,s:I}", "link_id", api_json_id(j.link_id), "expires_at",
                                  (json_int_t)j.expires_at));
    api_body_release(&b);
}

/* ---- GET /links/:link_id --------------------------------------------------- */

void api_link_get(struct http_req *req)
{
    struct client_auth a;
    uint8_t id[LINK_ID_LEN];
    struct link_row l;
    struct store_conn *c;
    struct store_rows *r = NULL;
    json_t *offer = json_null(), *header = json_null();
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_link_id(req, id) < 0)
        return;
    if ((rc = store_conn_get(req->srv->store, &c)) < 0) {
        api_reply_store_error(req, rc);
        return;
    }
    rc = link_load(c, id, a.user_row, &l);
    /* Only the two devices of the session see it. */
    if (rc == 0 && a.device_row != l.from_device && a.device_row != l.to_device)
        rc = PARLEY_ENOTFOUND;
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(l.row)};
        rc = store_query(c, "SELECT offer, header FROM device_links WHERE id = $1", p, 1, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            size_t n;
            const uint8_t *o = store_rows_blob(r, 0, &n);
            if (o)
                offer = api_json_b64(o, n);
            const uint8_t *h = store_rows_blob(r, 1, &n);
            /* The header goes to the offering device only. */
            if (h && a.device_row == l.to_device)
                header = api_json_b64(h, n);
            rc = 0;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    store_conn_put(req->srv->store, c);
    if (rc == PARLEY_ENOTFOUND)
        reply_not_found(req);
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 200,
                        json_pack("{s:o,s:O,s:O,s:I,s:I}", "link_id", api_json_id(id), "offer",
                                  offer, "header", header, "chunks",
                                  (json_int_t)(l.has_header ? l.n_chunks : 0), "expires_at",
                                  (json_int_t)l.expires_at));
    json_decref(offer);
    json_decref(header);
}

/* ---- PUT /links/:link_id/offer ------------------------------------------ */

struct offer_job {
    const struct client_auth *a;
    const uint8_t *link_id;
    const struct api_value *offer;
};

static int offer_write(struct store_conn *c, void *arg)
{
    struct offer_job *j = arg;
    struct link_row l;
    int64_t changes = 0;
    int rc = link_load(c, j->link_id, j->a->user_row, &l);

    if (rc < 0)
        return rc;
    if (l.from_device == j->a->device_row)
        return PARLEY_EINVAL;
    struct store_val p[] = {STORE_INT(l.row), STORE_BLOB(j->offer->bin, j->offer->binlen),
                            STORE_INT(j->a->device_row)};
    /* The first offer wins; the session is then closed to other devices. */
    rc = store_exec(c,
                    "UPDATE device_links SET offer = $2, to_device = $3 WHERE id = $1 AND "
                    "offer IS NULL",
                    p, ARRAY_SIZE(p), &changes);
    return rc == 0 && changes == 0 ? PARLEY_ECONFLICT : rc;
}

void api_link_offer(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct offer_job j;
    uint8_t id[LINK_ID_LEN], dev[KEYS_ID_LEN];
    const struct suite *s;
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_link_id(req, id) < 0)
        return;
    if (api_body_get(req, API_BODY_LINK_OFFER, &b) < 0)
        return;
    /* The relay checks the offer's shape and that it names the caller; its
     * MAC only the device that shows the code can check. */
    s = b.v[0].binlen > 4 ? suite_get(b.v[0].bin[4]) : NULL;
    if (!s || link_offer_parse(s, b.v[0].bin, b.v[0].binlen, dev) < 0) {
        http_reply_error(req, 400, "bad_request", "field 'offer': not a link offer");
        goto out;
    }
    if (memcmp(dev, a.device_id, KEYS_ID_LEN) != 0) {
        http_reply_error(req, 400, "bad_request", "field 'offer': names another device");
        goto out;
    }
    j.a = &a;
    j.link_id = id;
    j.offer = &b.v[0];
    rc = store_write_sync(req->srv->store, offer_write, &j);
    if (rc == PARLEY_ENOTFOUND)
        reply_not_found(req);
    else if (rc == PARLEY_EINVAL)
        http_reply_error(req, 409, "conflict",
                         "this device shows the code; enter it on the new device");
    else if (rc == PARLEY_ECONFLICT)
        http_reply_error(req, 409, "conflict", "another device already answered this code");
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 200, json_object());
out:
    api_body_release(&b);
}

/* ---- PUT /links/:link_id/chunks/:index ------------------------------------ */

struct chunk_job {
    const struct client_auth *a;
    const uint8_t *link_id;
    int64_t index;
    const struct api_value *data;
};

/* The sending side may write only once the offer is there and until the
 * header closes the transfer. */
static int sender_ready(struct store_conn *c, const struct client_auth *a, const uint8_t *link_id,
                        struct link_row *l)
{
    int rc = link_load(c, link_id, a->user_row, l);
    if (rc < 0)
        return rc;
    if (l->from_device != a->device_row)
        return PARLEY_ENOTFOUND;
    if (!l->has_offer || l->has_header)
        return PARLEY_ECONFLICT;
    return 0;
}

static int chunk_write(struct store_conn *c, void *arg)
{
    struct chunk_job *j = arg;
    struct link_row l;
    int rc = sender_ready(c, j->a, j->link_id, &l);

    if (rc < 0)
        return rc;
    struct store_val p[] = {STORE_INT(l.row), STORE_INT(j->index),
                            STORE_BLOB(j->data->bin, j->data->binlen)};
    /* Sending a chunk again (a retry) replaces it. */
    rc = store_exec(c, "DELETE FROM device_link_chunks WHERE link = $1 AND idx = $2", p, 2, NULL);
    if (rc == 0)
        rc = store_exec(c, "INSERT INTO device_link_chunks (link, idx, data) VALUES ($1, $2, $3)",
                        p, 3, NULL);
    return rc;
}

static void reply_sender_error(struct http_req *req, int rc)
{
    if (rc == PARLEY_ENOTFOUND)
        reply_not_found(req);
    else if (rc == PARLEY_ECONFLICT)
        http_reply_error(req, 409, "conflict",
                         "the transfer is not open: wait for the new device's offer; a "
                         "finished transfer cannot change");
    else if (rc == PARLEY_EINVAL)
        http_reply_error(req, 400, "bad_request",
                         "field 'chunks': chunks 0 to chunks-1 must all be sent first");
    else
        api_reply_store_error(req, rc);
}

void api_link_chunk_put(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct chunk_job j;
    uint8_t id[LINK_ID_LEN];
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_link_id(req, id) < 0 ||
        path_index(req, &j.index) < 0)
        return;
    if (api_body_get(req, API_BODY_LINK_CHUNK, &b) < 0)
        return;
    if (b.v[0].binlen < LINK_CHUNK_OVERHEAD) {
        http_reply_error(req, 400, "bad_request", "field 'data': shorter than a chunk's tag");
        goto out;
    }
    j.a = &a;
    j.link_id = id;
    j.data = &b.v[0];
    rc = store_write_sync(req->srv->store, chunk_write, &j);
    if (rc < 0)
        reply_sender_error(req, rc);
    else
        http_reply_json(req, 200, json_object());
out:
    api_body_release(&b);
}

/* ---- PUT /links/:link_id/transfer ----------------------------------------- */

struct done_job {
    const struct client_auth *a;
    const uint8_t *link_id;
    const struct api_body *b;
};

static int done_write(struct store_conn *c, void *arg)
{
    struct done_job *j = arg;
    struct link_row l;
    int64_t n = j->b->v[1].i, have = 0;
    int rc = sender_ready(c, j->a, j->link_id, &l);

    if (rc < 0)
        return rc;
    struct store_val p[] = {STORE_INT(l.row), STORE_INT(n),
                            STORE_BLOB(j->b->v[0].bin, j->b->v[0].binlen)};
    /* Chunks past the announced count are dropped; every one below it must
     * be there. */
    rc = store_exec(c, "DELETE FROM device_link_chunks WHERE link = $1 AND idx >= $2", p, 2, NULL);
    if (rc == 0)
        rc = store_query_int(c, "SELECT COUNT(*) FROM device_link_chunks WHERE link = $1", p, 1,
                             &have);
    if (rc < 0)
        return rc;
    if (n == 0 || have != n)
        return PARLEY_EINVAL;
    return store_exec(c, "UPDATE device_links SET header = $3, n_chunks = $2 WHERE id = $1", p, 3,
                      NULL);
}

void api_link_done(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct done_job j;
    uint8_t id[LINK_ID_LEN];
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_link_id(req, id) < 0)
        return;
    if (api_body_get(req, API_BODY_LINK_DONE, &b) < 0)
        return;
    j.a = &a;
    j.link_id = id;
    j.b = &b;
    rc = store_write_sync(req->srv->store, done_write, &j);
    if (rc < 0)
        reply_sender_error(req, rc);
    else
        http_reply_json(req, 200, json_object());
    api_body_release(&b);
}

/* ---- GET /links/:link_id/chunks/:index ------------------------------------ */

void api_link_chunk_get(struct http_req *req)
{
    struct client_auth a;
    uint8_t id[LINK_ID_LEN];
    int64_t index;
    struct link_row l;
    struct store_conn *c;
    struct store_rows *r = NULL;
    json_t *data = NULL;
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_link_id(req, id) < 0 ||
        path_index(req, &index) < 0)
        return;
    if ((rc = store_conn_get(req->srv->store, &c)) < 0) {
        api_reply_store_error(req, rc);
        return;
    }
    rc = link_load(c, id, a.user_row, &l);
    if (rc == 0 && (a.device_row != l.to_device || !l.has_header || index >= l.n_chunks))
        rc = PARLEY_ENOTFOUND;
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(l.row), STORE_INT(index)};
        rc = store_query(c, "SELECT data FROM device_link_chunks WHERE link = $1 AND idx = $2", p,
                         2, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            size_t n;
            const uint8_t *d = store_rows_blob(r, 0, &n);
            data = api_json_b64(d, n);
            rc = data ? 0 : PARLEY_ENOMEM;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    store_conn_put(req->srv->store, c);
    if (rc == PARLEY_ENOTFOUND)
        reply_not_found(req);
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 200, json_pack("{s:o}", "data", data));
}

/* ---- DELETE /links/:link_id ------------------------------------------------ */

struct delete_job {
    const struct client_auth *a;
    const uint8_t *link_id;
};

static int delete_write(struct store_conn *c, void *arg)
{
    struct delete_job *j = arg;
    struct link_row l;
    int rc = link_load(c, j->link_id, j->a->user_row, &l);

    if (rc < 0)
        return rc;
    if (j->a->device_row != l.from_device && j->a->device_row != l.to_device)
        return PARLEY_ENOTFOUND;
    struct store_val p[] = {STORE_INT(l.row)};
    return store_exec(c, "DELETE FROM device_links WHERE id = $1", p, 1, NULL);
}

void api_link_delete(struct http_req *req)
{
    struct client_auth a;
    struct delete_job j;
    uint8_t id[LINK_ID_LEN];
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_link_id(req, id) < 0)
        return;
    j.a = &a;
    j.link_id = id;
    rc = store_write_sync(req->srv->store, delete_write, &j);
    if (rc == PARLEY_ENOTFOUND)
        reply_not_found(req);
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 200, json_object());
}
