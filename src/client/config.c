/* config.c - the client configuration file: check the JSON document, seal
 * it in a password-based container, open it again.
 *
 * The document comes from an administrator's file, so it is outside bytes:
 * every field is type- and range-checked and every string has a cap before
 * the client uses it (fuzz/client/fuzz_client_config.c). */
#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/file.h"
#include "proto/pbe.h"
#include "proto/suite.h"

/* Administrators' files use the default Argon2id costs; the limits on
 * opening are tighter than pbe_limits_default so that a hostile file cannot
 * make a client spend more than the default memory. */
static const struct pbe_limits config_limits = {
    .max_t_cost = 16,
    .max_m_cost_kib = 256 * 1024,
    .max_parallelism = 8,
    .max_plaintext = CONFIG_MAX_JSON,
};

void parley_config_free(struct parley_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->host);
    free(cfg->network_id);
    free(cfg->network_name);
    free(cfg->suite_name);
    for (size_t i = 0; i < cfg->n_pins; i++)
        free(cfg->pins[i]);
    free(cfg->pins);
    free(cfg->policy);
    if (cfg->json) {
        OPENSSL_cleanse(cfg->json, strlen(cfg->json));
        free(cfg->json);
    }
    free(cfg);
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* A string field: present, a string, 1..max bytes, no control characters. */
static int get_string(json_t *root, const char *key, size_t max, bool required, char **out,
                      char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    if (!v) {
        if (!required)
            return 0;
        snprintf(err, errlen, "missing field '%s'", key);
        return PARLEY_ECONFIG;
    }
    const char *s = json_string_value(v);
    if (!s) {
        snprintf(err, errlen, "field '%s' must be a string", key);
        return PARLEY_ECONFIG;
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(s) != n || !printable(s)) {
        snprintf(err, errlen, "field '%s' must be 1 to %zu printable characters", key, max);
        return PARLEY_ECONFIG;
    }
    *out = strdup(s);
    return *out ? 0 : PARLEY_ENOMEM;
}

static bool is_pem_cert(const char *s, size_t n)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    return n <= CONFIG_MAX_PEM && strlen(s) == n && strncmp(s, begin, sizeof(begin) - 1) == 0 &&
           strstr(s, end) != NULL;
}

/* With certificate_pinning (the default) the pinned certificates are the
 * only trust anchors; without it the file carries none and the system
 * trust store vouches for the server. */
static int parse_pins(json_t *root, struct parley_config *cfg, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, "pinned_certs");
    json_t *pinning = json_object_get(root, "certificate_pinning");
    size_t n = json_array_size(arr);

    if (pinning && !json_is_boolean(pinning)) {
        snprintf(err, errlen, "field 'certificate_pinning' must be true or false");
        return PARLEY_ECONFIG;
    }
    cfg->pinning = !pinning || json_is_true(pinning);
    if (!cfg->pinning) {
        if (arr && (!json_is_array(arr) || n != 0)) {
            snprintf(err, errlen,
                     "field 'pinned_certs' must be empty when 'certificate_pinning' is false");
            return PARLEY_ECONFIG;
        }
        return 0;
    }
    if (!json_is_array(arr) || n == 0 || n > CONFIG_MAX_PINS) {
        snprintf(err, errlen, "field 'pinned_certs' must be an array of 1 to %d PEM certificates",
                 CONFIG_MAX_PINS);
        return PARLEY_ECONFIG;
    }
    cfg->pins = calloc(n, sizeof(*cfg->pins));
    if (!cfg->pins)
        return PARLEY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || !is_pem_cert(json_string_value(v), json_string_length(v))) {
            snprintf(err, errlen, "pinned_certs[%zu] is not a PEM certificate", i);
            return PARLEY_ECONFIG;
        }
        cfg->pins[i] = strdup(json_string_value(v));
        if (!cfg->pins[i])
            return PARLEY_ENOMEM;
        cfg->n_pins = i + 1;
    }
    return 0;
}

static int parse_doc(json_t *root, struct parley_config *cfg, char *err, size_t errlen)
{
    int rc;
    json_t *v;

    if (!json_is_object(root)) {
        snprintf(err, errlen, "the configuration must be a JSON object");
        return PARLEY_ECONFIG;
    }
    v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        snprintf(err, errlen, "field 'version' must be 1");
        return PARLEY_ECONFIG;
    }
    if ((rc = get_string(root, "service_host", CONFIG_MAX_HOST, true, &cfg->host, err, errlen)))
        return rc;
    v = json_object_get(root, "service_port");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
        snprintf(err, errlen, "field 'service_port' must be an integer from 1 to 65535");
        return PARLEY_ECONFIG;
    }
    cfg->port = (int)json_integer_value(v);
    if ((rc = get_string(root, "network_id", CONFIG_MAX_NET_ID, true, &cfg->network_id, err,
                         errlen)))
        return rc;
    if ((rc = get_string(root, "network_name", CONFIG_MAX_NAME, false, &cfg->network_name, err,
                         errlen)))
        return rc;
    if (!cfg->network_name && !(cfg->network_name = strdup(cfg->network_id)))
        return PARLEY_ENOMEM;
    if ((rc = get_string(root, "suite", 16, true, &cfg->suite_name, err, errlen)))
        return rc;
    if (strcmp(cfg->suite_name, "x25519") == 0) {
        cfg->suite_id = SUITE_DEFAULT;
    } else if (strcmp(cfg->suite_name, "p384") == 0) {
        cfg->suite_id = SUITE_FIPS;
    } else {
        snprintf(err, errlen, "field 'suite' must be \"x25519\" or \"p384\"");
        return PARLEY_ECONFIG;
    }
    if ((rc = parse_pins(root, cfg, err, errlen)))
        return rc;
    v = json_object_get(root, "policy");
    if (v && !json_is_object(v)) {
        snprintf(err, errlen, "field 'policy' must be an object");
        return PARLEY_ECONFIG;
    }
    cfg->policy = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (!cfg->policy)
        return PARLEY_ENOMEM;
    cfg->json = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    return cfg->json ? 0 : PARLEY_ENOMEM;
}

int config_parse(const char *json, size_t len, struct parley_config **out, char *err, size_t errlen)
{
    struct parley_config *cfg = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    int rc;

    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (len > CONFIG_MAX_JSON) {
        snprintf(err, errlen, "the configuration is over %d bytes", CONFIG_MAX_JSON);
        return PARLEY_ECONFIG;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at line %d: %s", jerr.line, jerr.text);
        return PARLEY_ECONFIG;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = parse_doc(root, cfg, err, errlen);
    if (rc == 0) {
        *out = cfg;
        cfg = NULL;
    }
out:
    parley_config_free(cfg);
    json_decref(root);
    return rc;
}

int parley_config_seal(const char *json, const char *password, uint8_t **out, size_t *out_len)
{
    struct parley_config *cfg = NULL;
    struct buf b = BUF_INIT(CONFIG_MAX_JSON + 1024);
    char err[256];
    int rc;

    if (!json || !password || !out || !out_len)
        return PARLEY_EINVAL;
    *out = NULL;
    rc = config_parse(json, strlen(json), &cfg, err, sizeof(err));
    if (rc < 0)
        goto out;
    /* Seal the normalised form, so that what is opened is what was checked. */
    rc = pbe_seal((const uint8_t *)password, strlen(password), NULL, (const uint8_t *)cfg->json,
                  strlen(cfg->json), &b);
    if (rc < 0)
        goto out;
    *out = buf_detach(&b, out_len);
out:
    buf_release(&b);
    parley_config_free(cfg);
    return rc;
}

int parley_config_create(const char *path, const char *json, const char *password)
{
    uint8_t *p = NULL;
    size_t n = 0;
    int rc;

    if (!path)
        return PARLEY_EINVAL;
    rc = parley_config_seal(json, password, &p, &n);
    if (rc == 0)
        rc = file_write_atomic(path, p, n);
    free(p);
    return rc;
}

int parley_config_open_mem(const uint8_t *p, size_t len, const char *password,
                           struct parley_config **out)
{
    struct buf pt = BUF_INIT(CONFIG_MAX_JSON);
    char err[256];
    int rc;

    if (!p || !password || !out)
        return PARLEY_EINVAL;
    *out = NULL;
    rc = pbe_open((const uint8_t *)password, strlen(password), p, len, &config_limits, &pt);
    if (rc < 0)
        goto out;
    rc = config_parse((const char *)pt.data, pt.len, out, err, sizeof(err));
out:
    buf_release_secure(&pt);
    return rc;
}

int parley_config_open(const char *path, const char *password, struct parley_config **out)
{
    struct buf b = BUF_INIT(CONFIG_MAX_JSON + 1024);
    uint8_t chunk[4096];
    int fd, rc = 0;

    if (!path || !out)
        return PARLEY_EINVAL;
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? PARLEY_ENOTFOUND : PARLEY_EIO;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = PARLEY_EIO;
            break;
        }
        if (r == 0)
            break;
        if ((rc = buf_append(&b, chunk, (size_t)r)) < 0)
            break;
    }
    close(fd);
    if (rc == 0)
        rc = parley_config_open_mem(b.data ? b.data : chunk, b.len, password, out);
    buf_release(&b);
    return rc;
}

int config_write_pins(const struct parley_config *cfg, const char *path)
{
    struct buf b = BUF_INIT(CONFIG_MAX_PINS * (CONFIG_MAX_PEM + 2));
    int rc = 0;

    for (size_t i = 0; i < cfg->n_pins && rc == 0; i++) {
        rc = buf_append_str(&b, cfg->pins[i]);
        if (rc == 0 && b.len && b.data[b.len - 1] != '\n')
            rc = buf_append_byte(&b, '\n');
    }
    if (rc == 0)
        rc = file_write_atomic(path, b.data, b.len);
    buf_release(&b);
    return rc;
}

const char *parley_config_service_host(const struct parley_config *cfg)
{
    return cfg->host;
}

int parley_config_service_port(const struct parley_config *cfg)
{
    return cfg->port;
}

const char *parley_config_network_id(const struct parley_config *cfg)
{
    return cfg->network_id;
}

const char *parley_config_network_name(const struct parley_config *cfg)
{
    return cfg->network_name;
}

const char *parley_config_suite(const struct parley_config *cfg)
{
    return cfg->suite_name;
}

size_t parley_config_pinned_count(const struct parley_config *cfg)
{
    return cfg->n_pins;
}

const char *parley_config_pinned_cert(const struct parley_config *cfg, size_t i)
{
    return i < cfg->n_pins ? cfg->pins[i] : NULL;
}

const char *parley_config_policy(const struct parley_config *cfg)
{
    return cfg->policy;
}

int parley_config_password_check(const struct parley_config *cfg, const char *password, char *why,
                                 size_t why_len)
{
    json_t *pol = json_loads(cfg->policy ? cfg->policy : "{}", 0, NULL);
    json_int_t min = json_integer_value(json_object_get(pol, "password_min_length"));
    bool up = false, low = false, digit = false, sym = false;
    size_t chars = 0;
    struct buf lacks = BUF_INIT(512);
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
        chars += (*p & 0xc0) != 0x80; /* UTF-8: count characters, not bytes */
        up |= *p >= 'A' && *p <= 'Z';
        low |= *p >= 'a' && *p <= 'z';
        digit |= *p >= '0' && *p <= '9';
        sym |= *p < 0x80 &&
               !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
    }
    const struct {
        bool broken;
        const char *what;
    } rules[] = {
        {min > 0 && chars < (size_t)min, "enough characters"},
        {json_is_true(json_object_get(pol, "password_require_uppercase")) && !up,
         "an uppercase letter"},
        {json_is_true(json_object_get(pol, "password_require_lowercase")) && !low,
         "a lowercase letter"},
        {json_is_true(json_object_get(pol, "password_require_digit")) && !digit, "a digit"},
        {json_is_true(json_object_get(pol, "password_require_symbol")) && !sym, "a symbol"},
    };
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (!rules[i].broken)
            continue;
        if (i == 0)
            (void)buf_printf(&lacks, "at least %lld characters", (long long)min);
        else
            (void)buf_printf(&lacks, "%s%s", lacks.len ? ", " : "", rules[i].what);
        rc = PARLEY_EINVAL;
    }
    if (why && why_len)
        snprintf(why, why_len, "%s%.*s%s", rc ? "the password needs " : "", (int)lacks.len,
                 lacks.data ? (const char *)lacks.data : "",
                 rc ? " (the security group's password rules)" : "");
    buf_release(&lacks);
    json_decref(pol);
    return rc;
}
