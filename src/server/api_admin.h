/* api_admin.h - the admin REST API under /api/v1/admin.
 *
 * Every admin row of routes.c is written with ADMIN_ROUTE: its fn is
 * api_admin_entry, which authenticates the caller (session cookie plus
 * X-CSRF-Token on state-changing requests, or Authorization: Bearer with an
 * API token), refuses everything but the caller's own account while a
 * password change is pending, checks the route's permission and scope
 * (rbac.h), resolves the network of network-scoped routes, and only then
 * runs the row's admin_fn. Handlers therefore never check access
 * themselves. See docs/internals/admin.md. */
#ifndef PARLEY_SERVER_API_ADMIN_H
#define PARLEY_SERVER_API_ADMIN_H

#include "admin_auth.h"
#include "audit.h"
#include "http.h"
#include "rbac.h"

struct admin_ctx {
    struct store_conn *c;      /* borrowed for the request */
    struct admin_identity who; /* kind ADMIN_ACTOR_NONE on public routes */
    struct audit_actor actor;
    char ip[64];
    int64_t net;            /* NETWORK routes: networks.id of params[0] */
    const char *network_id; /* NETWORK routes: params[0] */
};

#define ADMIN_ROUTE(method, path, handler, flags, perm, scope)                                     \
    {                                                                                              \
        (method), (path), api_admin_entry, (flags), (handler), (perm), (scope)                     \
    }

#define ADMIN_PATH "/api/v1/admin"

/* The fn of every admin route. */
void api_admin_entry(struct http_req *req);

/* Reply helpers for handlers. */
void api_admin_store_error(struct http_req *req, struct admin_ctx *ctx, int rc);
/* Parse the request body against `fields`; on failure replies 400 and
 * returns NULL. */
struct admin_field;
json_t *api_admin_body(struct http_req *req, const struct admin_field *fields, size_t n);
/* A query-string argument ("limit", ...) into out; false if absent. */
bool api_admin_query(struct http_req *req, const char *name, char *out, size_t len);
/* Parse limit/offset query arguments (defaults 100/0, limit at most 1000);
 * replies 400 and returns false on bad values. */
bool api_admin_paging(struct http_req *req, int64_t *limit, int64_t *offset);
/* A path parameter that is a row id into *id; replies 404 when it is not
 * one. */
bool api_admin_param_id(struct http_req *req, int i, int64_t *id);
/* An optional integer query parameter within [min, max]; replies 400 and
 * returns false when it is malformed. */
bool api_admin_query_int(struct http_req *req, const char *name, int64_t min, int64_t max,
                         int64_t *out);
/* Write an audit entry for the caller; steals `details` (may be NULL). */
void api_admin_audit(struct admin_ctx *ctx, const char *action, const char *target,
                     json_t *details);

/* Work off the loop (Argon2id) in the middle of a handler. The handler
 * fills a struct that begins with a struct admin_job, sets work, done and
 * release, and calls api_admin_defer() as its last act instead of replying.
 * work(job) then runs on a worker thread (workq.h): it may touch only the
 * job. done(req, ctx, job) runs on the loop thread with a fresh store
 * connection and the caller's identity, and must reply exactly once.
 * release(job) runs last, always, and frees the job, wiping its secrets.
 * If the client went away meanwhile, done is skipped: a request nobody
 * waits for changes nothing. If the worker queue is full the request gets
 * 503 at once and release runs. */
struct admin_job {
    void (*work)(struct admin_job *job);
    void (*done)(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job);
    void (*release)(struct admin_job *job);
    /* api_admin_defer's own. */
    struct http_pending *pending;
    struct server *srv;
    struct admin_ctx saved;
    bool actor_is_who;
};
void api_admin_defer(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job);
/* Wipe string member `field` of a parsed body (a password) and the raw
 * request body, then drop `body`. */
void api_admin_body_wipe(struct http_req *req, json_t *body, const char *field);

/* Handlers (api_admin.c): sign-in and the caller's account. */
void api_admin_login(struct http_req *req, struct admin_ctx *ctx);
void api_admin_logout(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_password(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_totp_begin(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_totp_confirm(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_totp_disable(struct http_req *req, struct admin_ctx *ctx);
/* Deployment (api_admin.c): administrators and lockout; (api_admin_rbac.c)
 * permissions, roles, tokens, audit, settings. */
void api_admin_admins_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_unlock(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_network_add(struct http_req *req, struct admin_ctx *ctx);
void api_admin_admins_network_remove(struct http_req *req, struct admin_ctx *ctx);
void api_admin_lockout(struct http_req *req, struct admin_ctx *ctx);
void api_admin_permissions(struct http_req *req, struct admin_ctx *ctx);
void api_admin_roles_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_roles_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_roles_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_roles_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_tokens_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_tokens_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_tokens_revoke(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_tokens_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_tokens_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_tokens_revoke(struct http_req *req, struct admin_ctx *ctx);
void api_admin_audit_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_settings_describe(struct http_req *req, struct admin_ctx *ctx);
/* Networks (api_admin_net.c). */
void api_admin_networks_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_networks_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_networks_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_networks_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_networks_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_suspend(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_unsuspend(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_users_export(struct http_req *req, struct admin_ctx *ctx);
void api_admin_bots_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_bots_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_sgroups_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_sgroups_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_sgroups_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_sgroups_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_sgroups_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_admins_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_admins_invite(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_admins_remove(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_invitations(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_invitation_accept(struct http_req *req, struct admin_ctx *ctx);
void api_admin_me_invitation_decline(struct http_req *req, struct admin_ctx *ctx);

#endif
