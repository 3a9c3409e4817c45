/* integ.c - the integration table (integ.h). */
#include "integ.h"

#include "common/str.h"
#include "common/xmalloc.h"
#include "compliance.h"
#include "rlog.h"

/* The compliance integration's questions, worded as the specification's
 * console asks them (chapter "Data Retention", "Configuring the
 * compliance integration"). */
static const struct integ_question compliance_questions[] = {
    {"new_file_save", "Use new file save process [yes/no]", "no", IQ_YESNO, 0, 0, NULL},
    {"message_dir", "Please specify the directory to save message data", "@/messages", IQ_DIR, 0, 0,
     "new_file_save"},
    {"file_prefix", "Please add a prefix for message data files", "receivedMessages", IQ_PREFIX, 0,
     0, "new_file_save"},
    {"max_file_bytes",
     "Please enter the maximum size in bytes for each messages file [1GB = 1073741824]",
     "1073741824", IQ_INT, RLOG_MIN_BYTES, 10000000000LL, "new_file_save"},
    {"attachment_dir", "Please specify the directory to save attachment data", "@/attachments",
     IQ_DIR, 0, 0, "new_file_save"},
    {"restart_minutes",
     "Memory can reach 100% if the bot isn't restarted periodically. Please enter a time in "
     "minutes to restart the service [24hrs = 1440]",
     "1440", IQ_INT, 0, 525600, NULL},
};

/* The ZeroMQ bot engine (parley-botengine(1)): bots written against the
 * bot API packages connect to its ipc sockets under `ipc_dir`/<bot name>. */
static const struct integ_question engine_questions[] = {
    {"ipc_dir", "Please specify the directory of the bot API sockets", "/opt/WickrIO/clients",
     IQ_DIR, 0, 0, NULL},
};

static void engine_argv(const struct integ_launch *l, char *argv[INTEG_ARGV_MAX])
{
    const char *ipc = json_string_value(json_object_get(l->config, "ipc_dir"));
    size_t n = 0;
    argv[n++] = xstrdup(l->program);
    argv[n++] = xstrdup("--data-dir");
    argv[n++] = xstrdup(l->account);
    argv[n++] = xstrdup("--username");
    argv[n++] = xstrdup(l->username);
    argv[n++] = xstrdup("--name");
    argv[n++] = xstrdup(l->name);
    argv[n++] = xstrdup("--ipc-dir");
    argv[n++] = xstrdup(ipc ? ipc : "/opt/WickrIO/clients");
    argv[n++] = xstrdup("--password-file");
    argv[n++] = xstrdup("-");
    argv[n] = NULL;
}

/* The room bot (parley-roombot(1)): keeps the network's default rooms,
 * reading their definitions through the admin API with a token. */
static const struct integ_question roombot_questions[] = {
    {"token_file", "Please specify the file holding the admin API token", "@/admin-token", IQ_FILE,
     0, 0, NULL},
    {"admin_url", "Please enter the admin API URL (empty: the server of the configuration)", "",
     IQ_URL, 0, 0, NULL},
    {"interval", "Please enter the seconds between checks of the default rooms", "60", IQ_INT, 1,
     86400, NULL},
};

static void roombot_argv(const struct integ_launch *l, char *argv[INTEG_ARGV_MAX])
{
    const char *url = json_string_value(json_object_get(l->config, "admin_url"));
    const char *tok = json_string_value(json_object_get(l->config, "token_file"));
    size_t n = 0;
    argv[n++] = xstrdup(l->program);
    argv[n++] = xstrdup("--data-dir");
    argv[n++] = xstrdup(l->account);
    argv[n++] = xstrdup("--username");
    argv[n++] = xstrdup(l->username);
    argv[n++] = xstrdup("--token-file");
    argv[n++] = tok ? xstrdup(tok) : xasprintf("%s/admin-token", l->dir);
    argv[n++] = xstrdup("--interval");
    argv[n++] = xasprintf("%lld", (long long)(integ_int(l->config, "interval") ?: 60));
    if (url && *url) {
        argv[n++] = xstrdup("--admin-url");
        argv[n++] = xstrdup(url);
    }
    argv[n++] = xstrdup("--password-file");
    argv[n++] = xstrdup("-");
    argv[n] = NULL;
}

/* clang-format off */
const struct integration integ_table[] = {
    {"compliance", "data retention: a copy of every message of the network, one JSON line each",
     "0.1.0", compliance_questions, ARRAY_SIZE(compliance_questions), compliance_run, NULL, NULL},
    {"botengine", "the ZeroMQ bot engine, for bots written against the bot API packages",
     "0.1.0", engine_questions, ARRAY_SIZE(engine_questions), NULL, "parley-botengine",
     engine_argv},
    {"roombot", "the room bot: keeps the network's default rooms and their members",
     "0.1.0", roombot_questions, ARRAY_SIZE(roombot_questions), NULL, "parley-roombot",
     roombot_argv},
};
/* clang-format on */
const size_t integ_count = ARRAY_SIZE(integ_table);

const struct integration *integ_find(const char *name)
{
    for (size_t i = 0; name && i < integ_count; i++)
        if (strcmp(integ_table[i].name, name) == 0)
            return &integ_table[i];
    return NULL;
}

int integ_answer_check(const struct integ_question *q, const char *v, char *err, size_t errlen)
{
    int64_t n;

    switch (q->kind) {
    case IQ_YESNO:
        if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0)
            return 0;
        snprintf(err, errlen, "'%s': answer yes or no", q->key);
        return PARLEY_EINVAL;
    case IQ_DIR:
        if (v[0] == '/' && strlen(v) < 3000 && !strstr(v, "/../") && !strchr(v, '\n'))
            return 0;
        snprintf(err, errlen, "'%s': give an absolute directory path", q->key);
        return PARLEY_EINVAL;
    case IQ_FILE:
        if (v[0] == '/' && v[strlen(v) - 1] != '/' && strlen(v) < 3000 && !strstr(v, "/../") &&
            !strchr(v, '\n'))
            return 0;
        snprintf(err, errlen, "'%s': give an absolute file path", q->key);
        return PARLEY_EINVAL;
    case IQ_URL:
        if (!v[0] ||
            (strncmp(v, "https://", 8) == 0 && v[8] && strlen(v) < 2000 && !strpbrk(v, " \t\r\n")))
            return 0;
        snprintf(err, errlen, "'%s': give an https:// URL, or nothing", q->key);
        return PARLEY_EINVAL;
    case IQ_PREFIX:
        if (rlog_prefix_ok(v))
            return 0;
        snprintf(err, errlen,
                 "'%s': use 1 to %d letters, digits, '.', '_' or '-', not starting with '.'",
                 q->key, RLOG_MAX_PREFIX);
        return PARLEY_EINVAL;
    case IQ_INT:
        if (str_to_i64(v, q->min, q->max, &n) == 0)
            return 0;
        snprintf(err, errlen, "'%s': give a whole number from %lld to %lld", q->key,
                 (long long)q->min, (long long)q->max);
        return PARLEY_EINVAL;
    }
    return PARLEY_EINVAL;
}

char *integ_default(const struct integ_question *q, const char *dir)
{
    if (q->def[0] == '@')
        return xasprintf("%s%s", dir, q->def + 1);
    return xstrdup(q->def);
}

int64_t integ_int(const json_t *config, const char *key)
{
    int64_t n = 0;
    const char *s = json_string_value(json_object_get(config, key));
    if (s && str_to_i64(s, INT64_MIN, INT64_MAX, &n) < 0)
        n = 0;
    return n;
}

void integ_argv(const struct integration *in, const struct integ_launch *l,
                char *argv[INTEG_ARGV_MAX])
{
    size_t n = 0;
    if (in->argv) {
        in->argv(l, argv);
        return;
    }
    argv[n++] = xstrdup(l->program);
    argv[n++] = xstrdup("--account-dir");
    argv[n++] = xstrdup(l->account);
    argv[n++] = xstrdup("--username");
    argv[n++] = xstrdup(l->username);
    argv[n++] = xstrdup("--integration-dir");
    argv[n++] = xstrdup(l->dir);
    argv[n++] = xstrdup("--config");
    argv[n++] = xstrdup(l->record);
    argv[n] = NULL;
}

void integ_argv_free(char *argv[INTEG_ARGV_MAX])
{
    for (size_t i = 0; i < INTEG_ARGV_MAX && argv[i]; i++)
        free(argv[i]);
}
