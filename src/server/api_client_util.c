/* api_client_util.c - see api_client_util.h. */
#include "api_client_util.h"
#include "b64.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "proto/filecrypt.h"

#include "proto/link.h"

#define BUNDLE_MAX (1u << 20)

static const struct api_field login_fields[] = {
    {"network_id", API_STR, true, 128},
    {"username", API_STR, true, 256},
    {"login_secret", API_STR, true, 128},
    {"new_login_secret", API_STR, false, 128},
};
static const struct api_field identity_fields[] = {
    {"identity_key", API_B64, true, 256},
    {"identity_backup", API_B64, true, 65536},
};
static const struct api_field device_fields[] = {
    {"cert", API_B64, true, 4096},           {"bundle", API_B64, true, BUNDLE_MAX},
    {"name", API_OSTR, false, 128},          {"platform", API_OSTR, false, 64},
    {"client_version", API_OSTR, false, 64},
};
static const struct api_field bundle_fields[] = {
    {"bundle", API_B64, true, BUNDLE_MAX},
};
static const struct api_field claim_fields[] = {
    {"devices", API_IDS, true, 1000},
};
static const struct api_field conv_create_fields[] = {
    {"type", API_STR, true, 16},
    {"peer", API_ID, false, 0},
    {"conv_id", API_ID, false, 0},
    {"members", API_IDS, false, 1000},
    {"moderators", API_IDS, false, 1000},
    {"expiration", API_INT, false, 10 * 366 * 86400},
    {"burn_on_read", API_INT, false, 10 * 366 * 86400},
};
static const struct api_field members_fields[] = {
    {"add", API_IDS, false, 1000},
    {"remove", API_IDS, false, 1000},
    {"moderators", API_IDS, false, 1000},
};

static const struct api_field conv_settings_fields[] = {
    {"expiration", API_INT, false, 10 * 366 * 86400},
    {"burn_on_read", API_INT, false, 10 * 366 * 86400},
};
static const struct api_field link_create_fields[] = {
    {"link_id", API_ID, true, 0},
};
static const struct api_field link_offer_fields[] = {
    {"offer", API_B64, true, LINK_OFFER_MAX},
};
static const struct api_field link_chunk_fields[] = {
    {"data", API_B64, true, LINK_CHUNK_MAX + LINK_CHUNK_OVERHEAD},
};
static const struct api_field link_done_fields[] = {
    {"header", API_B64, true, LINK_HEADER_MAX},
    {"chunks", API_INT, true, LINK_MAX_CHUNKS},
};
static const struct api_field file_create_fields[] = {
    {"conv_id", API_ID, true, 0},
    {"size", API_INT, true, FILECRYPT_MAX_SIZE},
    {"expires_in", API_INT, false, 10 * 366 * 86400},
    {"burn_on_read", API_BOOL, false, 0},
    {"vault", API_BOOL, false, 0},
};
static const struct api_field sso_start_fields[] = {
    {"company_id", API_STR, true, 64},
    {"code_challenge", API_STR, true, 128},
    {"redirect_uri", API_STR, false, 128},
    {"login_hint", API_STR, false, 256},
};
static const struct api_field sso_finish_fields[] = {
    {"code", API_STR, true, 128},
    {"code_verifier", API_STR, true, 128},
};

const struct api_field *const api_body_fields[API_BODY_COUNT] = {
    login_fields,       identity_fields,    device_fields,     bundle_fields,
    claim_fields,       conv_create_fields, members_fields,    link_create_fields,
    link_offer_fields,  link_chunk_fields,  link_done_fields,  conv_settings_fields,
    file_create_fields, sso_start_fields,   sso_finish_fields,
};
const size_t api_body_nfields[API_BODY_COUNT] = {
    ARRAY_SIZE(login_fields),       ARRAY_SIZE(identity_fields),
    ARRAY_SIZE(device_fields),      ARRAY_SIZE(bundle_fields),
    ARRAY_SIZE(claim_fields),       ARRAY_SIZE(conv_create_fields),
    ARRAY_SIZE(members_fields),     ARRAY_SIZE(link_create_fields),
    ARRAY_SIZE(link_offer_fields),  ARRAY_SIZE(link_chunk_fields),
    ARRAY_SIZE(link_done_fields),   ARRAY_SIZE(conv_settings_fields),
    ARRAY_SIZE(file_create_fields), ARRAY_SIZE(sso_start_fields),
    ARRAY_SIZE(sso_finish_fields),
};

static int parse_id(json_t *j, uint8_t out[KEYS_ID_LEN])
{
    const char *s = json_string_value(j);
    if (!s || json_string_length(j) != 2 * KEYS_ID_LEN)
        return PARLEY_EINVAL;
    for (size_t i = 0; i < 2 * KEYS_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return PARLEY_EINVAL;
    return hex_decode(s, 2 * KEYS_ID_LEN, out, KEYS_ID_LEN);
}

static int parse_field(const struct api_field *f, json_t *j, struct api_value *v, char *err,
                       size_t errlen)
{
    int rc;

    switch (f->kind) {
    case API_STR:
    case API_OSTR:
        if (!json_is_string(j)) {
            snprintf(err, errlen, "field '%s' must be a string", f->name);
            return PARLEY_EINVAL;
        }
        v->s = json_string_value(j);
        v->slen = json_string_length(j);
        if ((f->kind == API_STR && v->slen == 0) || v->slen > f->max || strlen(v->s) != v->slen) {
            snprintf(err, errlen, "field '%s' must be %s1 to %zu bytes without NUL", f->name,
                     f->kind == API_OSTR ? "0 or " : "", f->max);
            return PARLEY_EINVAL;
        }
        return 0;
    case API_B64:
        if (!json_is_string(j)) {
            snprintf(err, errlen, "field '%s' must be a base64 string", f->name);
            return PARLEY_EINVAL;
        }
        rc = b64_decode(json_string_value(j), json_string_length(j), f->max, &v->bin, &v->binlen);
        if (rc == PARLEY_ETOOBIG) {
            snprintf(err, errlen, "field '%s' is longer than %zu bytes", f->name, f->max);
            return PARLEY_EINVAL;
        }
        if (rc < 0 || v->binlen == 0) {
            snprintf(err, errlen, "field '%s' must be non-empty standard base64 with padding",
                     f->name);
            return PARLEY_EINVAL;
        }
        return 0;
    case API_ID:
        if (parse_id(j, v->id) < 0) {
            snprintf(err, errlen, "field '%s' must be 32 lowercase hex characters", f->name);
            return PARLEY_EINVAL;
        }
        return 0;
    case API_IDS:
        if (!json_is_array(j) || json_array_size(j) > f->max) {
            snprintf(err, errlen, "field '%s' must be an array of at most %zu ids", f->name,
                     f->max);
            return PARLEY_EINVAL;
        }
        v->n_ids = json_array_size(j);
        v->ids = xcalloc(v->n_ids ? v->n_ids : 1, KEYS_ID_LEN);
        for (size_t i = 0; i < v->n_ids; i++) {
            if (parse_id(json_array_get(j, i), v->ids[i]) < 0) {
                snprintf(err, errlen, "field '%s' item %zu must be 32 lowercase hex characters",
                         f->name, i);
                return PARLEY_EINVAL;
            }
            for (size_t k = 0; k < i; k++) {
                if (memcmp(v->ids[k], v->ids[i], KEYS_ID_LEN) == 0) {
                    snprintf(err, errlen, "field '%s' names item %zu twice", f->name, i);
                    return PARLEY_EINVAL;
                }
            }
        }
        return 0;
    case API_INT:
        if (!json_is_integer(j) || json_integer_value(j) < 0 ||
            (uint64_t)json_integer_value(j) > f->max) {
            snprintf(err, errlen, "field '%s' must be an integer from 0 to %zu", f->name, f->max);
            return PARLEY_EINVAL;
        }
        v->i = json_integer_value(j);
        return 0;
    case API_BOOL:
        if (!json_is_boolean(j)) {
            snprintf(err, errlen, "field '%s' must be true or false", f->name);
            return PARLEY_EINVAL;
        }
        v->b = json_is_true(j);
        return 0;
    }
    return PARLEY_EINVAL;
}

int api_body_parse(const void *data, size_t len, const struct api_field *fields, size_t n,
                   struct api_body *out, char *err, size_t errlen)
{
    json_error_t jerr;

    memset(out, 0, sizeof(*out));
    if (n > API_MAX_FIELDS)
        BUG("too many fields");
    out->n = n;
    out->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root || !json_is_object(out->root)) {
        snprintf(err, errlen, "request body must be a JSON object%s%s", out->root ? "" : ": ",
                 out->root ? "" : jerr.text);
        return PARLEY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_object_get(out->root, fields[i].name);
        if (!j || json_is_null(j)) {
            if (fields[i].required) {
                snprintf(err, errlen, "field '%s' is required", fields[i].name);
                return PARLEY_EINVAL;
            }
            continue;
        }
        out->v[i].present = true;
        if (parse_field(&fields[i], j, &out->v[i], err, errlen) < 0)
            return PARLEY_EINVAL;
    }
    return 0;
}

void api_body_release(struct api_body *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].bin);
        free(b->v[i].ids);
    }
    json_decref(b->root);
    memset(b, 0, sizeof(*b));
}

int api_body_get(struct http_req *req, enum api_body_kind kind, struct api_body *out)
{
    char err[256];

    if (api_body_parse(req->body.data ? (const char *)req->body.data : "", req->body.len,
                       api_body_fields[kind], api_body_nfields[kind], out, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s", err);
        api_body_release(out);
        return -1;
    }
    return 0;
}

int api_auth(struct http_req *req, enum api_auth_need need, struct client_auth *a)
{
    char hdr[256];
    int n = lws_hdr_copy(req->wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION);
    int rc;

    if (n <= 7 || strncasecmp(hdr, "Bearer ", 7) != 0) {
        http_reply_error(req, 401, "unauthorized",
                         "header 'Authorization: Bearer <token>' is missing or malformed");
        return -1;
    }
    rc = auth_token_lookup(req->srv->store, hdr + 7, (size_t)n - 7, a);
    if (rc == PARLEY_EPERM) {
        http_reply_error(req, 403, "forbidden", "account suspended");
        return -1;
    }
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 401, "unauthorized",
                         "token is unknown, expired or revoked: log in again");
        return -1;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        return -1;
    }
    if (need == API_AUTH_DEVICE && a->device_row == 0) {
        http_reply_error(req, 401, "unauthorized",
                         "this endpoint needs a device token (POST /api/v1/client/devices)");
        return -1;
    }
    return 0;
}

json_t *api_json_id(const uint8_t id[KEYS_ID_LEN])
{
    char hex[2 * KEYS_ID_LEN + 1];
    hex_encode(id, KEYS_ID_LEN, hex);
    return json_string(hex);
}

json_t *api_json_b64(const uint8_t *p, size_t n)
{
    char *s = b64_encode(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

void api_reply_store_error(struct http_req *req, int rc)
{
    log_warnx("client api: %s %s: store error: %s", http_method_name(req->method), req->path,
              parley_strerror(rc));
    http_reply_error(req, rc == PARLEY_EBUSY || rc == PARLEY_ECONFLICT ? 503 : 500,
                     "internal_error", "the server could not complete the request; try again");
}
