/* api_admin_tools.h - the network administrator's tools beyond the
 * directory: client configuration files (api_cconf.c) and bulk user
 * operations (api_admin_bulk.c); and the super administrator's deployment
 * pages (api_admin_deploy.c). Admin handlers run behind
 * api_admin_entry like every ADMIN_ROUTE row; the two /config/:token
 * handlers are public (the token is the credential). */
#ifndef PARLEY_SERVER_API_ADMIN_TOOLS_H
#define PARLEY_SERVER_API_ADMIN_TOOLS_H

#include "http.h"

struct admin_ctx;

/* Client configuration files. */
void api_admin_cconf_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_cconf_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_cconf_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_cconf_file(struct http_req *req, struct admin_ctx *ctx);
void api_admin_cconf_expire(struct http_req *req, struct admin_ctx *ctx);
/* GET /config/:token: the deeplink landing page (HTML). */
void api_cconf_landing(struct http_req *req);
/* GET /config/:token/file: the file, until it expires. */
void api_cconf_download(struct http_req *req);

/* Bulk user operations (api_admin_bulk.c). */
void api_admin_bulk_template(struct http_req *req, struct admin_ctx *ctx);
void api_admin_bulk_suspend(struct http_req *req, struct admin_ctx *ctx);
void api_admin_bulk_delete(struct http_req *req, struct admin_ctx *ctx);

/* Deployment pages of the super administrator (api_admin_deploy.c). */
void api_admin_deploy_settings_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_deploy_settings_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_deploy_appearance_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_deploy_appearance_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_deploy_crash_report(struct http_req *req, struct admin_ctx *ctx);
/* The value of deployment setting `name` (default filled in) as a new
 * reference in *out. Returns 0, PARLEY_ENOTFOUND or a store error. */
struct store_conn;
int api_admin_deploy_setting(struct store_conn *c, const char *name, json_t **out);
/* While the deployment lists local domains (Global Federation), a new
 * user's name must be user@domain with one of them (any case). Returns 0,
 * PARLEY_EINVAL with a message for field 'username' in err, or a store
 * error. */
int api_admin_local_domain_check(struct store_conn *c, const char *username, char *err,
                                 size_t errlen);
/* GET /api/v1/appearance and /api/v1/appearance/logo: public, for the
 * console's sign-in page. */
void api_appearance(struct http_req *req);
void api_appearance_logo(struct http_req *req);

/* SSO configuration (api_admin_sso.c): the administrators' sign-in
 * (deployment) and each network's users. */
void api_admin_sso_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_sso_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_sso_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_net_sso_update(struct http_req *req, struct admin_ctx *ctx);
/* On a network route: while the network's SSO is enabled, reply 409
 * sso_enabled saying that `what` is not offered, and return true. Also
 * true after replying to a store error. */
bool api_admin_sso_blocks(struct http_req *req, struct admin_ctx *ctx, const char *what);

/* Network administrator pages (api_admin_netpages.c). */
void api_admin_netopts_get(struct http_req *req, struct admin_ctx *ctx);
void api_admin_netopts_update(struct http_req *req, struct admin_ctx *ctx);
void api_admin_tags_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_tags_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_tags_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_rooms_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_rooms_create(struct http_req *req, struct admin_ctx *ctx);
void api_admin_rooms_delete(struct http_req *req, struct admin_ctx *ctx);
void api_admin_guests_list(struct http_req *req, struct admin_ctx *ctx);
void api_admin_guests_block(struct http_req *req, struct admin_ctx *ctx);
void api_admin_guests_unblock(struct http_req *req, struct admin_ctx *ctx);
/* Analytics dashboard (api_admin_analytics.c). */
void api_admin_analytics_overview(struct http_req *req, struct admin_ctx *ctx);
void api_admin_analytics_members(struct http_req *req, struct admin_ctx *ctx);
void api_admin_analytics_messages(struct http_req *req, struct admin_ctx *ctx);

#endif
