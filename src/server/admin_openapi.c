/* admin_openapi.c - OpenAPI 3 from the route table; see admin_openapi.h. */
#include "admin_openapi.h"
#include "api_admin.h"
#include "sgroup_settings.h"

/* "/networks/:network_id" -> "/networks/{network_id}"; collects the
 * parameter names into `params`. */
static char *openapi_path(const char *path, json_t *params)
{
    char out[512];
    size_t n = 0;

    while (*path && n < sizeof(out) - 4) {
        if (path[0] == '/' && path[1] == ':') {
            size_t len = strcspn(path + 2, "/");
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)len, path + 2);
            n += (size_t)snprintf(out + n, sizeof(out) - n, "/{%s}", name);
            json_array_append_new(params,
                                  json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", "path",
                                            "required", 1, "schema", "type", "string"));
            path += 2 + len;
        } else {
            out[n++] = *path++;
        }
    }
    out[n] = 0;
    return strdup(out);
}

static const char *const scope_help[] = {
    "No authentication.",
    "The signed-in administrator's own account (allowed while a password change is pending; "
    "not for API tokens).",
    "Any authenticated caller; results are limited to what the caller may see.",
    "Deployment scope: super administrators and deployment API tokens.",
    "Network scope: administrators of the network, network tokens of it, and deployment "
    "callers.",
};

static json_t *error_response(const char *what)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", what, "content", "application/json",
                     "schema", "$ref", "#/components/schemas/Error");
}

static json_t *operation(const struct http_route *r, json_t *params)
{
    char summary[256], curl[600];
    json_t *op, *resp = json_object();
    const char *perm = rbac_perm_name(r->perm);

    snprintf(summary, sizeof(summary), "%s %s", http_method_name(r->method), r->path);
    snprintf(curl, sizeof(curl),
             "curl -H 'Authorization: Bearer $PARLEY_TOKEN'%s -X %s https://HOST:8443%s",
             (r->flags & HTTP_ROUTE_BODY) ? " -H 'Content-Type: application/json' -d '{...}'" : "",
             http_method_name(r->method), r->path);
    op = json_pack("{s:s,s:s,s:s,s:s,s:O}", "summary", summary, "description", scope_help[r->scope],
                   "x-parley-permission", perm[0] ? perm : "none", "x-parley-scope",
                   rbac_scope_name(r->scope), "parameters", params);
    json_object_set_new(op, "x-curl", json_string(curl));
    json_object_set_new(resp, "200", json_pack("{s:s}", "description", "success"));
    json_object_set_new(resp, "400",
                        error_response("bad input; the message names the field to fix"));
    if (r->scope != RBAC_SCOPE_PUBLIC) {
        json_object_set_new(resp, "401", error_response("not signed in"));
        json_object_set_new(resp, "403",
                            error_response("missing permission, scope or CSRF token, or a "
                                           "password change is pending"));
    } else {
        json_object_set_new(op, "security", json_array());
    }
    json_object_set_new(resp, "404", error_response("no such object, or not in your networks"));
    json_object_set_new(op, "responses", resp);
    if (r->flags & HTTP_ROUTE_BODY)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 1, "content",
                                      "application/json", "schema", "type", "object"));
    return op;
}

/* The end-user single sign-on endpoints (api_sso.c): not admin routes,
 * but what an administrator wiring an identity provider needs to see. */
static void sso_paths(json_t *paths)
{
    static const char start[] =
        "{\"post\":{\"summary\":\"POST /api/v1/client/sso/start\",\"tags\":[\"client SSO\"],"
        "\"description\":\"Begin a user's sign-in through the identity provider of the network "
        "whose SSO company ID is company_id. code_challenge is the client's own PKCE S256 "
        "challenge (43 base64url characters); redirect_uri, if given, must be a loopback "
        "http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH (RFC 8252), where the browser is "
        "sent with the one-time sign-in code; without it the server's page shows the code. "
        "Answers the provider's authorization URL (authorization code flow, PKCE S256, state "
        "and nonce valid once for expires_in seconds).\",\"security\":[],"
        "\"x-parley-scope\":\"public\",\"requestBody\":{\"required\":true,\"content\":{"
        "\"application/json\":{\"schema\":{\"type\":\"object\",\"required\":[\"company_id\","
        "\"code_challenge\"],\"properties\":{\"company_id\":{\"type\":\"string\"},"
        "\"code_challenge\":{\"type\":\"string\"},\"redirect_uri\":{\"type\":\"string\"},"
        "\"login_hint\":{\"type\":\"string\"}}}}}},\"responses\":{\"200\":{\"description\":"
        "\"the URL to open in a browser\",\"content\":{\"application/json\":{\"schema\":{"
        "\"type\":\"object\",\"properties\":{\"authorization_url\":{\"type\":\"string\"},"
        "\"network_id\":{\"type\":\"string\"},\"expires_in\":{\"type\":\"integer\"}}}}}},"
        "\"400\":{\"description\":\"bad input; the message names the field\"},"
        "\"404\":{\"description\":\"no network signs in with SSO under that company ID\"},"
        "\"429\":{\"description\":\"too many sign-ins in progress\"},"
        "\"502\":{\"description\":\"the identity provider could not be used (discovery "
        "failed, private address refused, ...): the message says why\"}}}}";
    static const char callback[] =
        "{\"get\":{\"summary\":\"GET /sso/{network_id}/callback\",\"tags\":[\"client SSO\"],"
        "\"description\":\"The redirect URI to register at the identity provider (the network "
        "SSO configuration's network_endpoint). The browser returns here with code and state; "
        "the server exchanges the code at the token endpoint, verifies the ID token (RS256 or "
        "ES256, iss, aud, exp, iat, nonce) and maps the identity to a user of the network. "
        "Answers an HTML page, or a redirect to the client's loopback redirect_uri with code "
        "or error and error_description.\",\"security\":[],\"x-parley-scope\":\"public\","
        "\"parameters\":[{\"name\":\"network_id\",\"in\":\"path\",\"required\":true,"
        "\"schema\":{\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\","
        "\"required\":true,\"schema\":{\"type\":\"string\"}},{\"name\":\"code\",\"in\":"
        "\"query\",\"schema\":{\"type\":\"string\"}},{\"name\":\"error\",\"in\":\"query\","
        "\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":{\"description\":"
        "\"signed in: the page shows the one-time sign-in code\"},\"302\":{\"description\":"
        "\"to the client's loopback redirect_uri\"},\"400\":{\"description\":\"unknown, "
        "spent or expired state\"},\"401\":{\"description\":\"the provider refused, or its ID "
        "token failed a check (the page names it)\"},\"403\":{\"description\":\"no such user "
        "and auto_provision is off, unverified email, suspended account\"},\"502\":{"
        "\"description\":\"the identity provider could not be reached\"}}}}";
    static const char finish[] =
        "{\"post\":{\"summary\":\"POST /api/v1/client/sso/finish\",\"tags\":[\"client SSO\"],"
        "\"description\":\"Trade the one-time sign-in code and the PKCE code_verifier whose "
        "S256 challenge began the sign-in for a login token, as POST /api/v1/client/login "
        "answers, with the username the identity maps to. The code is spent by any attempt.\","
        "\"security\":[],\"x-parley-scope\":\"public\",\"requestBody\":{\"required\":true,"
        "\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"required\":["
        "\"code\",\"code_verifier\"],\"properties\":{\"code\":{\"type\":\"string\"},"
        "\"code_verifier\":{\"type\":\"string\"}}}}}},\"responses\":{\"200\":{\"description\":"
        "\"signed in\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\","
        "\"properties\":{\"token\":{\"type\":\"string\"},\"user_id\":{\"type\":\"string\"},"
        "\"username\":{\"type\":\"string\"},\"status\":{\"type\":\"string\"},"
        "\"identity_key\":{\"type\":\"string\",\"nullable\":true},\"identity_backup\":{"
        "\"type\":\"string\",\"nullable\":true}}}}}},\"400\":{\"description\":\"bad input; "
        "the message names the field\"},\"401\":{\"description\":\"unknown, spent or expired "
        "code, or a verifier that does not match\"},\"403\":{\"description\":\"account "
        "suspended\"}}}}";
    json_object_set_new(paths, "/api/v1/client/sso/start", json_loads(start, 0, NULL));
    json_object_set_new(paths, "/sso/{network_id}/callback", json_loads(callback, 0, NULL));
    json_object_set_new(paths, "/api/v1/client/sso/finish", json_loads(finish, 0, NULL));
}

json_t *admin_openapi_build(void)
{
    json_t *paths = json_object();
    json_t *doc;

    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        json_t *params = json_array(), *item;
        char *p, method[16];
        if (r->fn != api_admin_entry) {
            json_decref(params);
            continue;
        }
        p = openapi_path(r->path, params);
        item = json_object_get(paths, p);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, p, item);
        }
        snprintf(method, sizeof(method), "%s", http_method_name(r->method));
        for (char *c = method; *c; c++)
            *c = (char)(*c - 'A' + 'a');
        json_object_set_new(item, method, operation(r, params));
        json_decref(params);
        free(p);
    }
    sso_paths(paths);
    doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:{s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s}}}}}},"
        "s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}},s:[{s:[]},{s:[]}]}",
        "openapi", "3.0.3", "info", "title", "Parley admin API", "version", PARLEY_VERSION,
        "description",
        "The super-administrator and network-administrator API. Sign in with POST "
        "/api/v1/admin/login (session cookie + X-CSRF-Token on state-changing requests) or "
        "send an API token as 'Authorization: Bearer pat_...'. Generated from parleyd's route "
        "table. Also lists the end-user single sign-on endpoints (tag 'client SSO').",
        "servers", "url", "/", "paths", paths, "components", "schemas", "Error", "type", "object",
        "properties", "error", "type", "object", "properties", "code", "type", "string", "message",
        "type", "string", "securitySchemes", "session", "type", "apiKey", "in", "cookie", "name",
        ADMIN_COOKIE_NAME, "token", "type", "http", "scheme", "bearer", "bearerFormat", "pat_",
        "security", "session", "token");
    json_object_set_new(json_object_get(doc, "components"), "x-security-group-settings",
                        sgroup_settings_describe(sgroup_settings, sgroup_settings_count));
    json_object_set_new(
        json_object_get(doc, "components"), "x-network-settings",
        sgroup_settings_describe(sgroup_network_settings, sgroup_network_settings_count));
    return doc;
}
