/* routes.c - every HTTP endpoint of parleyd, one row each.
 * Adding an endpoint: one row here, one handler, one test. */
#include "http.h"
#include "api_system.h"
#include "api_admin.h"

/* Rows that are not admin routes leave the admin fields of struct
 * http_route zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

const struct http_route http_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, 0},
    {HTTP_GET, "/api/v1/version", api_version, 0},
    /* Admin API (api_admin.h): each row names the permission and scope
     * api_admin_entry checks before the handler runs. */
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/login", api_admin_login, HTTP_ROUTE_BODY, RBAC_NONE, RBAC_SCOPE_PUBLIC),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/logout", api_admin_logout, 0, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/me", api_admin_me, 0, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_PATCH, "/api/v1/admin/me", api_admin_me_update, HTTP_ROUTE_BODY, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/me/password", api_admin_me_password, HTTP_ROUTE_BODY, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/me/totp/begin", api_admin_me_totp_begin, 0, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/me/totp/confirm", api_admin_me_totp_confirm, HTTP_ROUTE_BODY, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/me/totp/disable", api_admin_me_totp_disable, HTTP_ROUTE_BODY, RBAC_NONE, RBAC_SCOPE_SELF),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/permissions", api_admin_permissions, 0, RBAC_NONE, RBAC_SCOPE_ANY),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/settings", api_admin_settings_describe, 0, RBAC_NONE, RBAC_SCOPE_ANY),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/admins", api_admin_admins_list, 0, RBAC_ADMINS_READ, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/admins", api_admin_admins_create, HTTP_ROUTE_BODY, RBAC_ADMINS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/admins/:id", api_admin_admins_get, 0, RBAC_ADMINS_READ, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_PATCH, "/api/v1/admin/admins/:id", api_admin_admins_update, HTTP_ROUTE_BODY, RBAC_ADMINS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/admins/:id", api_admin_admins_delete, 0, RBAC_ADMINS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/admins/:id/unlock", api_admin_admins_unlock, 0, RBAC_ADMINS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_PUT, "/api/v1/admin/admins/:id/networks/:network_id", api_admin_admins_network_add, 0, RBAC_ADMINS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/admins/:id/networks/:network_id", api_admin_admins_network_remove, 0, RBAC_ADMINS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/lockout", api_admin_lockout, 0, RBAC_ADMINS_READ, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/roles", api_admin_roles_list, 0, RBAC_ROLES_READ, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/roles", api_admin_roles_create, HTTP_ROUTE_BODY, RBAC_ROLES_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_PATCH, "/api/v1/admin/roles/:id", api_admin_roles_update, HTTP_ROUTE_BODY, RBAC_ROLES_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/roles/:id", api_admin_roles_delete, 0, RBAC_ROLES_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/tokens", api_admin_tokens_list, 0, RBAC_TOKENS_READ, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/tokens", api_admin_tokens_create, HTTP_ROUTE_BODY, RBAC_TOKENS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/tokens/:id", api_admin_tokens_revoke, 0, RBAC_TOKENS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/audit", api_admin_audit_list, 0, RBAC_AUDIT_READ, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks", api_admin_networks_list, 0, RBAC_NETWORKS_READ, RBAC_SCOPE_ANY),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/networks", api_admin_networks_create, HTTP_ROUTE_BODY, RBAC_NETWORKS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id", api_admin_networks_get, 0, RBAC_NETWORKS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_PATCH, "/api/v1/admin/networks/:network_id", api_admin_networks_update, HTTP_ROUTE_BODY, RBAC_NETWORKS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/networks/:network_id", api_admin_networks_delete, 0, RBAC_NETWORKS_WRITE, RBAC_SCOPE_DEPLOYMENT),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id/users", api_admin_users_list, 0, RBAC_USERS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/networks/:network_id/users", api_admin_users_create, HTTP_ROUTE_BODY, RBAC_USERS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id/users.csv", api_admin_users_export, 0, RBAC_USERS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id/users/:user_id", api_admin_users_get, 0, RBAC_USERS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_PATCH, "/api/v1/admin/networks/:network_id/users/:user_id", api_admin_users_update, HTTP_ROUTE_BODY, RBAC_USERS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/networks/:network_id/users/:user_id", api_admin_users_delete, 0, RBAC_USERS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/networks/:network_id/users/:user_id/suspend", api_admin_users_suspend, 0, RBAC_USERS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/networks/:network_id/users/:user_id/unsuspend", api_admin_users_unsuspend, 0, RBAC_USERS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id/bots", api_admin_bots_list, 0, RBAC_USERS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/networks/:network_id/bots", api_admin_bots_create, HTTP_ROUTE_BODY, RBAC_USERS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id/security-groups", api_admin_sgroups_list, 0, RBAC_SECURITY_GROUPS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_POST, "/api/v1/admin/networks/:network_id/security-groups", api_admin_sgroups_create, HTTP_ROUTE_BODY, RBAC_SECURITY_GROUPS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_GET, "/api/v1/admin/networks/:network_id/security-groups/:id", api_admin_sgroups_get, 0, RBAC_SECURITY_GROUPS_READ, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_PATCH, "/api/v1/admin/networks/:network_id/security-groups/:id", api_admin_sgroups_update, HTTP_ROUTE_BODY, RBAC_SECURITY_GROUPS_WRITE, RBAC_SCOPE_NETWORK),
    ADMIN_ROUTE(HTTP_DELETE, "/api/v1/admin/networks/:network_id/security-groups/:id", api_admin_sgroups_delete, 0, RBAC_SECURITY_GROUPS_WRITE, RBAC_SCOPE_NETWORK),
};

const size_t http_routes_count = ARRAY_SIZE(http_routes);
