/* actions.c - the handlers of the bot API's actions (docs/bots.md has the
 * table): each answers a reply code and text. Actions Parley has no
 * counterpart for answer BOTREQ_UNSUPPORTED with the reason, so a bot
 * fails clearly instead of believing something happened. */
#include "engine.h"

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "proto/ids.h"

typedef int (*action_fn)(struct engine *e, const struct botreq *r, char **out);

static int reply_json(json_t *v, char **out)
{
    if (!v)
        return PARLEY_ENOMEM;
    *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return *out ? BOTREQ_OK : PARLEY_ENOMEM;
}

/* A libparley error as a reply. */
static int failed(int err, const char *what, char **out)
{
    *out = xasprintf("%s: %s", what, parley_strerror(err));
    switch (err) {
    case PARLEY_ENOTFOUND:
        return BOTREQ_NOT_FOUND;
    case PARLEY_EPERM:
    case PARLEY_EAUTH:
        return BOTREQ_CONFLICT;
    case PARLEY_EPROTO:
    case PARLEY_EINVAL:
        return BOTREQ_BAD_REQUEST;
    default:
        return BOTREQ_FAILED;
    }
}

static int unsupported(char **out, const char *why)
{
    *out = xstrdup(why);
    return BOTREQ_UNSUPPORTED;
}

static int on_ping(struct engine *e, const struct botreq *r, char **out)
{
    *out = xstrdup("pong");
    return BOTREQ_OK;
}

/* The packages poll until the state is exactly RUNNING; it is once the
 * account's connection has been authenticated. */
static int on_get_state(struct engine *e, const struct botreq *r, char **out)
{
    *out = xstrdup(e->online ? "RUNNING" : "STARTING");
    return BOTREQ_OK;
}

static int on_start_async(struct engine *e, const struct botreq *r, char **out)
{
    e->async_on = true;
    /* A restarted bot asks again: a message pushed to the previous one and
     * never answered goes out again (the REQ socket is relaxed). */
    if (e->push_waiting)
        e->push_sent_ms = 0;
    *out = xstrdup("Success");
    return BOTREQ_OK;
}

/* File streaming (stream.h): messages go to rotating files instead of
 * the bot. Attachments are not received yet, so "attachments" is only
 * checked. Messages already queued for the bot stay queued. */
static int on_set_streaming(struct engine *e, const struct botreq *r, char **out)
{
    const char *type = botreq_str(r, "type", "");
    char err[256];

    if (strcmp(type, "off") == 0) {
        stream_stop(&e->stream);
        *out = xstrdup("Success");
        return BOTREQ_OK;
    }
    if (strcmp(type, "file") != 0) {
        *out = xstrdup("set_streaming: \"type\" must be \"file\" or \"off\"");
        return BOTREQ_BAD_REQUEST;
    }
    const char *dest = botreq_str(r, "destination", NULL), *base = botreq_str(r, "base_name", NULL);
    if (!dest || !base || !json_object_get(r->doc, "max_file_size")) {
        *out = xstrdup("set_streaming: \"destination\", \"base_name\" and \"max_file_size\" "
                       "are required");
        return BOTREQ_BAD_REQUEST;
    }
    int rc =
        stream_start(&e->stream, dest, base, botreq_int(r, "max_file_size", 0), err, sizeof(err));
    if (rc < 0) {
        *out = xstrdup(err);
        return rc == PARLEY_EIO ? BOTREQ_FAILED : BOTREQ_BAD_REQUEST;
    }
    log_info("streaming messages to files dir=%s", dest);
    *out = xstrdup("Success");
    return BOTREQ_OK;
}

static int on_unsupported(struct engine *e, const struct botreq *r, char **out)
{
    static const struct {
        int id;
        const char *why;
    } reasons[] = {
        {BA_POST_EVENT, "events are not supported by Parley"},
        {BA_URLCALLBACK, "URL callbacks are not supported: use start_async_messages"},
        {BA_SEND_NETWORK, "network and security group broadcasts are not supported"},
        {BA_NETWORK_ROOMS, "network rooms are not supported: rooms belong to their members"},
        {BA_GET_DIRECTORY, "the directory is not available to bots"},
        {BA_GET_SECURITY_GROUPS, "security groups are not available to bots"},
        {BA_MESSAGE_STATUS, "the broadcast message status database is not supported"},
        {BA_DELETE_MESSAGE, "deleting and recalling sent messages is not supported"},
        {BA_VERIFICATION, "key verification is done by users: bots cannot verify"},
        {BA_GET_USER_INFO, "user information is not available to bots"},
        {BA_SET_AVATAR, "avatars are not supported"},
        {BA_GET_BOTS_LIST, "the bot list is an administrator's: use the admin API"},
        {BA_TRANSMIT_QUEUE, "the transmit queue is not exposed: sends complete before replying"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
        if (reasons[i].id == r->action->id)
            return unsupported(out, reasons[i].why);
    return unsupported(out, "not supported by Parley");
}

static int on_statistics(struct engine *e, const struct botreq *r, char **out)
{
    if (r->action->id == BA_CLEAR_STATISTICS) {
        memset(&e->stats, 0, sizeof(e->stats));
        *out = xstrdup("Success");
        return BOTREQ_OK;
    }
    return reply_json(json_pack("{s{sIsIsIsIsIsI}}", "statistics", "message_count",
                                (json_int_t)e->queue.n, "pending_messages", (json_int_t)e->queue.n,
                                "sent", (json_int_t)e->stats.sent, "received",
                                (json_int_t)e->stats.received, "sent_errors",
                                (json_int_t)e->stats.sent_errors, "recv_errors",
                                (json_int_t)e->stats.recv_errors),
                      out);
}

/* Pull mode: one queued message, or "{ }" when none (as the packages
 * expect). */
static int on_get_received(struct engine *e, const struct botreq *r, char **out)
{
    if (e->queue.n == 0 || (e->push_waiting && e->queue.n == 1)) {
        *out = xstrdup("{ }");
        return BOTREQ_OK;
    }
    /* The head may be out for pushing; pull takes the one after it. It
     * leaves the journal once the reply is sent (on_command). */
    size_t at = e->push_waiting ? 1 : 0;
    struct msgq *q = &e->queue;
    size_t idx = (q->head + at) % q->cap;
    *out = q->items[idx].text;
    free(e->taken_id);
    e->taken_id = q->items[idx].id;
    if (at == 0) {
        q->head = (q->head + 1) % q->cap;
    } else {
        /* Close the gap behind the pushed head. */
        for (size_t i = at; i + 1 < q->n; i++)
            q->items[(q->head + i) % q->cap] = q->items[(q->head + i + 1) % q->cap];
    }
    q->n--;
    return BOTREQ_OK;
}

/* ---- conversations ---- */

/* {"vgroupid", "title", "description", "members":[{name}],
 * "masters":[{name}], "ttl", "bor"} for one listed conversation. */
static json_t *conv_object(struct engine *e, json_t *conv)
{
    const char *id = json_string_value(json_object_get(conv, "conv_id"));
    char vg[65], *mj = NULL;
    json_t *members = json_array(), *masters = json_array(), *list = NULL, *m;
    size_t i;

    if (!id || engine_vgroup_of(e, id, vg) < 0 || !members || !masters)
        goto fail;
    if (parley_conv_members(e->c, id, &mj) < 0 || !(list = json_loads(mj, 0, NULL)))
        goto fail;
    json_array_foreach(list, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "username"));
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!name)
            name = json_string_value(json_object_get(m, "user_id"));
        if (!name)
            continue;
        json_array_append_new(members, json_pack("{ss}", "name", name));
        if (role && strcmp(role, "moderator") == 0)
            json_array_append_new(masters, json_pack("{ss}", "name", name));
    }
    json_decref(list);
    free(mj);
    const char *title = json_string_value(json_object_get(conv, "title"));
    return json_pack("{sssssssoso sIsI}", "vgroupid", vg, "title", title ? title : "",
                     "description", "", "members", members, "masters", masters, "ttl",
                     json_integer_value(json_object_get(conv, "expiration")), "bor",
                     json_integer_value(json_object_get(conv, "burn_on_read")));
fail:
    json_decref(list);
    free(mj);
    json_decref(members);
    json_decref(masters);
    return NULL;
}

/* The caller's conversations of `type` ("room" or "group"), or one by
 * vgroupid (NULL: all). */
static int list_convs(struct engine *e, const char *type, const char *only, const char *key,
                      char **out)
{
    char *lj = NULL, conv[PARLEY_ID_HEX] = "";
    json_t *doc = NULL, *arr = json_array(), *c;
    size_t i;
    int rc;

    if (only && engine_conv_of(e, only, conv) < 0)
        return failed(PARLEY_ENOTFOUND, "no such conversation", out);
    if ((rc = parley_conv_list(e->c, &lj)) < 0) {
        json_decref(arr);
        return failed(rc, "cannot list conversations", out);
    }
    doc = json_loads(lj, 0, NULL);
    free(lj);
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "conversations");
    json_array_foreach(list, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *id = json_string_value(json_object_get(c, "conv_id"));
        if (!t || !id || strcmp(t, type) != 0 || (only && strcmp(id, conv) != 0))
            continue;
        json_t *o = conv_object(e, c);
        if (o)
            json_array_append_new(arr, o);
    }
    json_decref(doc);
    if (only && json_array_size(arr) == 0) {
        json_decref(arr);
        return failed(PARLEY_ENOTFOUND, "no such conversation", out);
    }
    return reply_json(json_pack("{so}", key, arr), out);
}

static int on_get_rooms(struct engine *e, const struct botreq *r, char **out)
{
    return list_convs(e, "room",
                      r->action->id == BA_GET_ROOM ? botreq_str(r, "vgroupid", "") : NULL, "rooms",
                      out);
}

static int on_get_groupconvos(struct engine *e, const struct botreq *r, char **out)
{
    return list_convs(e, "group",
                      r->action->id == BA_GET_GROUPCONVO ? botreq_str(r, "vgroupid", "") : NULL,
                      "groupconvos", out);
}

static uint32_t seconds(const struct botreq *r, const char *name)
{
    int64_t v = botreq_int(r, name, 0);
    return v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static int create_conv(struct engine *e, const struct botreq *r, const char *type, const char *obj,
                       char **out)
{
    char f[64], conv[PARLEY_ID_HEX], vg[65];
    size_t nm = 0, nmod = 0;
    int rc;

    snprintf(f, sizeof(f), "%s.members", obj);
    const char **members = botreq_users(r, f, &nm);
    snprintf(f, sizeof(f), "%s.masters", obj);
    const char **mods = botreq_users(r, f, &nmod);
    snprintf(f, sizeof(f), "%s.title", obj);
    const char *title = botreq_str(r, f, "");
    char fttl[64], fbor[64];
    snprintf(fttl, sizeof(fttl), "%s.ttl", obj);
    snprintf(fbor, sizeof(fbor), "%s.bor", obj);
    if (!members || !mods) {
        rc = failed(PARLEY_ENOMEM, "add", out);
        goto out;
    }
    rc = parley_conv_create(e->c, type, title, members, nm, mods, nmod, seconds(r, fttl),
                            seconds(r, fbor), conv);
    if (rc < 0) {
        rc = failed(rc, strcmp(type, "room") == 0 ? "cannot create room" : "cannot create group",
                    out);
        goto out;
    }
    if (engine_vgroup_of(e, conv, vg) < 0) {
        rc = failed(PARLEY_ENOMEM, "add", out);
        goto out;
    }
    rc = reply_json(json_pack("{ss}", "vgroupid", vg), out);
out:
    free(members);
    free(mods);
    return rc;
}

static int on_add_room(struct engine *e, const struct botreq *r, char **out)
{
    return create_conv(e, r, "room", "room", out);
}

static int on_add_groupconvo(struct engine *e, const struct botreq *r, char **out)
{
    return create_conv(e, r, "group", "groupconvo", out);
}

static bool listed(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* Whether modify_room asks for a title, description, ttl or bor other
 * than the room's: Parley has no call to change them. */
static bool params_change(struct engine *e, const struct botreq *r, const char *conv)
{
    const char *title = botreq_str(r, "title", NULL);
    char *lj = NULL;
    json_t *doc, *c, *found = NULL;
    size_t i;
    bool change;

    if (*botreq_str(r, "description", ""))
        return true;
    if (!title && !seconds(r, "ttl") && !seconds(r, "bor"))
        return false;
    if (parley_conv_list(e->c, &lj) < 0)
        return true;
    doc = json_loads(lj, 0, NULL);
    free(lj);
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "conversations");
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "conv_id"));
        if (id && strcmp(id, conv) == 0)
            found = c;
    }
    const char *now = json_string_value(json_object_get(found, "title"));
    change = !found || (title && (!now || strcmp(title, now) != 0)) ||
             (seconds(r, "ttl") &&
              seconds(r, "ttl") != json_integer_value(json_object_get(found, "expiration"))) ||
             (seconds(r, "bor") &&
              seconds(r, "bor") != json_integer_value(json_object_get(found, "burn_on_read")));
    json_decref(doc);
    return change;
}

/* modify_room: a non-empty members list is the room's new membership:
 * Parley adds and removes the difference (an empty one, which the
 * packages send when only the title changes, leaves it alone); new
 * masters are added and promoted. */
static int on_modify_room(struct engine *e, const struct botreq *r, char **out)
{
    char conv[PARLEY_ID_HEX], *mj = NULL;
    const char **add = NULL, **rm = NULL, **members = NULL, **mods = NULL;
    size_t nadd = 0, nrm = 0, nm = 0, nmod = 0, i;
    json_t *cur = NULL, *m;
    int rc;

    if (engine_conv_of(e, botreq_str(r, "vgroupid", ""), conv) < 0)
        return failed(PARLEY_ENOTFOUND, "no such room", out);
    if (params_change(e, r, conv))
        return unsupported(out, "modify_room: changing a room's title, description, ttl or bor "
                                "is not supported; members and masters are");
    if ((rc = parley_conv_members(e->c, conv, &mj)) < 0)
        return failed(rc, "cannot read the room's members", out);
    cur = json_loads(mj, 0, NULL);
    free(mj);
    members = botreq_users(r, "members", &nm);
    mods = botreq_users(r, "masters", &nmod);
    add = calloc(nm + nmod + 1, sizeof(*add));
    rm = calloc(json_array_size(cur) + 1, sizeof(*rm));
    if (!members || !mods || !add || !rm) {
        rc = failed(PARLEY_ENOMEM, "modify_room", out);
        goto out;
    }
    bool has_members = nm > 0;
    const char **want[] = {members, mods};
    size_t nwant[] = {nm, nmod};
    for (int w = 0; w < 2; w++)
        for (size_t k = 0; k < nwant[w]; k++) {
            bool there = false;
            json_array_foreach(cur, i, m)
            {
                const char *name = json_string_value(json_object_get(m, "username"));
                there |= name && strcmp(name, want[w][k]) == 0;
            }
            if (!there && !listed(add, nadd, want[w][k]))
                add[nadd++] = want[w][k];
        }
    if (has_members)
        json_array_foreach(cur, i, m)
        {
            const char *name = json_string_value(json_object_get(m, "username"));
            if (name && strcmp(name, e->username) != 0 && !listed(members, nm, name) &&
                !listed(mods, nmod, name))
                rm[nrm++] = name;
        }
    rc = parley_conv_modify(e->c, conv, add, nadd, rm, nrm, mods, nmod);
    if (rc < 0)
        rc = failed(rc, "cannot modify the room", out);
    else {
        *out = xstrdup("Success");
        rc = BOTREQ_OK;
    }
out:
    free(add);
    free(rm);
    free(members);
    free(mods);
    json_decref(cur);
    return rc;
}

static int on_leave_delete(struct engine *e, const struct botreq *r, char **out)
{
    char conv[PARLEY_ID_HEX];
    int rc;

    if (engine_conv_of(e, botreq_str(r, "vgroupid", ""), conv) < 0)
        return failed(PARLEY_ENOTFOUND, "no such conversation", out);
    rc = r->action->id == BA_DELETE_ROOM ? parley_conv_delete(e->c, conv)
                                         : parley_conv_leave(e->c, conv);
    if (rc < 0)
        return failed(rc, r->action->name, out);
    *out = xstrdup("Success");
    return BOTREQ_OK;
}

/* ---- sending ---- */

static int send_one(struct engine *e, const char *to, json_t *payload)
{
    char *pj = json_dumps(payload, JSON_COMPACT);
    int rc = pj ? parley_client_send(e->c, to, pj, NULL) : PARLEY_ENOMEM;
    free(pj);
    if (rc < 0)
        e->stats.sent_errors++;
    else
        e->stats.sent++;
    return rc;
}

static int on_send_message(struct engine *e, const struct botreq *r, char **out)
{
    const char *vg = botreq_str(r, "vgroupid", NULL), *msg = botreq_str(r, "message", NULL);
    json_t *users = json_object_get(r->doc, "users"), *payload = NULL, *meta;
    int rc;

    if (json_object_get(r->doc, "attachment") || botreq_bool(r, "isvoicememo", false))
        return unsupported(out, "send_message: attachments and voice memos are not supported "
                                "by this engine yet");
    if (botreq_str(r, "username_filename", NULL) || botreq_str(r, "userid_filename", NULL))
        return unsupported(out, "send_message: recipient files are not supported; name the "
                                "users in \"users\"");
    if (!msg) {
        *out = xstrdup("send_message: field \"message\" is required");
        return BOTREQ_BAD_REQUEST;
    }
    if (!vg == !users || (users && json_array_size(users) == 0)) {
        *out = xstrdup("send_message: give exactly one of \"vgroupid\" and a non-empty "
                       "\"users\"");
        return BOTREQ_BAD_REQUEST;
    }
    payload = json_pack("{siss}", "msgtype", 1000, "message", msg);
    if (!payload)
        return PARLEY_ENOMEM;
    /* Buttons and tables travel with the text for clients that show them. */
    meta = json_object_get(r->doc, "messagemeta");
    if (json_is_object(meta))
        json_object_set(payload, "messagemeta", meta);
    if (vg) {
        char conv[PARLEY_ID_HEX];
        if (engine_conv_of(e, vg, conv) < 0) {
            json_decref(payload);
            return failed(PARLEY_ENOTFOUND, "send_message: no such conversation", out);
        }
        rc = send_one(e, conv, payload);
        json_decref(payload);
        if (rc < 0)
            return failed(rc, "send_message", out);
        *out = xstrdup("Success");
        return BOTREQ_OK;
    }
    size_t n = 0, bad = 0;
    const char **names = botreq_users(r, "users", &n);
    struct buf why = BUF_INIT(4096);
    int last = 0;
    for (size_t i = 0; names && i < n; i++) {
        if ((rc = send_one(e, names[i], payload)) < 0) {
            last = rc;
            if (bad++ < 5)
                buf_printf(&why, "%s%s: %s", bad > 1 ? "; " : "", names[i], parley_strerror(rc));
        }
    }
    free(names);
    json_decref(payload);
    if (!names) {
        buf_release(&why);
        return failed(PARLEY_ENOMEM, "send_message", out);
    }
    if (bad) {
        *out = xasprintf("send_message: %zu of %zu not sent (%s)", bad, n,
                         why.data ? (char *)why.data : "");
        buf_release(&why);
        return last == PARLEY_ENOTFOUND && bad == n ? BOTREQ_NOT_FOUND : BOTREQ_FAILED;
    }
    buf_release(&why);
    *out = xstrdup("Success");
    return BOTREQ_OK;
}

/* ---- strings and key-values ---- */

static int on_encrypt(struct engine *e, const struct botreq *r, char **out)
{
    const char *s = botreq_str(r, "string", "");
    int rc = botkey_seal(&e->key, s, strlen(s), out);
    return rc < 0 ? failed(rc, "encrypt_string", out) : BOTREQ_OK;
}

static int on_decrypt(struct engine *e, const struct botreq *r, char **out)
{
    size_t n;
    int rc = botkey_open_string(&e->key, botreq_str(r, "string", ""), out, &n);
    if (rc == PARLEY_EPROTO || rc == PARLEY_EAUTH) {
        *out = xstrdup("decrypt_string: not a string this bot's engine encrypted");
        return BOTREQ_BAD_REQUEST;
    }
    return rc < 0 ? failed(rc, "decrypt_string", out) : BOTREQ_OK;
}

static int on_keyvalue(struct engine *e, const struct botreq *r, char **out)
{
    const char *key = botreq_str(r, "key", "");
    int rc;

    switch (r->action->id) {
    case BA_GET_KEYVALUE: {
        json_t *v = json_object_get(e->kv, key);
        if (!v)
            return failed(PARLEY_ENOTFOUND, "get_keyvalue", out);
        *out = xstrdup(json_string_value(v));
        return BOTREQ_OK;
    }
    case BA_ADD_KEYVALUE:
        rc = json_object_set_new(e->kv, key, json_string(botreq_str(r, "value", "")));
        break;
    case BA_DELETE_KEYVALUE:
        if (json_object_del(e->kv, key) < 0)
            return failed(PARLEY_ENOTFOUND, "delete_keyvalue", out);
        rc = 0;
        break;
    default:
        rc = json_object_clear(e->kv);
        break;
    }
    if (rc < 0)
        return failed(PARLEY_EPROTO, r->action->name, out);
    if ((rc = engine_kv_save(e)) < 0)
        return failed(rc, r->action->name, out);
    *out = xstrdup("Success");
    return BOTREQ_OK;
}

/* set_control: the packages send provisioning switches of the original
 * client. Those that describe what Parley already does are accepted; the
 * others fail. The request is hand-built JSON: one "key":"value" pair. */
static int on_set_control(struct engine *e, const struct botreq *r, char **out)
{
    static const char *const accepted[] = {
        "contactbackup", /* Parley keeps no contact backup for bots */
        "convobackup",   /* nor a conversation backup */
        "cleardb",       /* the engine keeps no message database of its own */
        "doreceive",     /* "true": messages are received */
        "readreceipt",   /* receipts are the client protocol's business */
    };
    const char *key;
    json_t *v;
    json_object_foreach(r->doc, key, v)
    {
        if (strcmp(key, "action") == 0)
            continue;
        for (size_t i = 0; i < ARRAY_SIZE(accepted); i++)
            if (strcmp(key, accepted[i]) == 0) {
                *out = xstrdup("Success");
                return BOTREQ_OK;
            }
        return unsupported(out, "set_control: this control is not supported by Parley");
    }
    *out = xstrdup("set_control: no control given");
    return BOTREQ_BAD_REQUEST;
}

static int on_server_info(struct engine *e, const struct botreq *r, char **out)
{
    return reply_json(json_pack("{ssssss}", "server", e->server_host ? e->server_host : "",
                                "product", "parley", "version", PARLEY_VERSION),
                      out);
}

static const struct {
    int id;
    action_fn fn;
} handlers[] = {
    {BA_PING, on_ping},
    {BA_GET_STATE, on_get_state},
    {BA_START_ASYNC, on_start_async},
    {BA_SET_STREAMING, on_set_streaming},
    {BA_GET_STATISTICS, on_statistics},
    {BA_CLEAR_STATISTICS, on_statistics},
    {BA_GET_ROOMS, on_get_rooms},
    {BA_GET_ROOM, on_get_rooms},
    {BA_ADD_ROOM, on_add_room},
    {BA_MODIFY_ROOM, on_modify_room},
    {BA_LEAVE_ROOM, on_leave_delete},
    {BA_DELETE_ROOM, on_leave_delete},
    {BA_ADD_GROUPCONVO, on_add_groupconvo},
    {BA_GET_GROUPCONVOS, on_get_groupconvos},
    {BA_GET_GROUPCONVO, on_get_groupconvos},
    {BA_DELETE_GROUPCONVO, on_leave_delete},
    {BA_GET_RECEIVED, on_get_received},
    {BA_SEND_MESSAGE, on_send_message},
    {BA_ENCRYPT_STRING, on_encrypt},
    {BA_DECRYPT_STRING, on_decrypt},
    {BA_ADD_KEYVALUE, on_keyvalue},
    {BA_GET_KEYVALUE, on_keyvalue},
    {BA_DELETE_KEYVALUE, on_keyvalue},
    {BA_CLEARALL_KEYVALUES, on_keyvalue},
    {BA_SET_CONTROL, on_set_control},
    {BA_GET_SERVER_INFO, on_server_info},
};

char *engine_handle(struct engine *e, const void *frame, size_t len)
{
    struct botreq r;
    char err[256], *text = NULL, *reply;
    int code = botreq_parse(frame, len, &r, err, sizeof(err));

    if (code != 0) {
        /* The parser's own words, not the request's: a malformed request
         * may hold a string the bot wanted encrypted. */
        log_info("bot request refused: %s", strncmp(err, "request is not valid JSON", 25) == 0
                                                ? "request is not valid JSON"
                                                : err);
        return botreq_reply(code, err);
    }
    action_fn fn = on_unsupported;
    for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
        if (handlers[i].id == r.action->id)
            fn = handlers[i].fn;
    code = fn(e, &r, &text);
    if (code < 0) /* allocation failures */
        code = failed(code, r.action->name, &text);
    if (code != BOTREQ_OK)
        log_info("bot request failed action=%s code=%d", r.action->name, code);
    else
        log_debug("bot request action=%s", r.action->name);
    reply = botreq_reply(code, text);
    /* Results of decrypt_string are the bot's secrets. */
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    botreq_release(&r);
    return reply;
}
