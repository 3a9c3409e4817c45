/* main.c - parley-botengine: run one bot account as a Parley client and
 * serve the ZeroMQ bot API to the bot process (docs/bots.md,
 * docs/man/parley-botengine.1). */
#include "engine.h"

#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xmalloc.h"
#include "bot/signin.h"

/* The directory the npm packages connect under. */
#define DEFAULT_IPC_DIR "/opt/WickrIO/clients"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: parley-botengine --data-dir DIR --username NAME [--config FILE]\n"
               "                        [--password-file FILE|-] [--ipc-dir DIR] [--name NAME]\n"
               "                        [--log-level LEVEL]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"username", required_argument, NULL, 'u'},
        {"config", required_argument, NULL, 'c'},
        {"password-file", required_argument, NULL, 'p'},
        {"ipc-dir", required_argument, NULL, 'i'},
        {"name", required_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *pwfile = NULL, *config = NULL, *ipc_dir = DEFAULT_IPC_DIR;
    const char *name = NULL;
    struct engine e;
    struct parley_config *cfg = NULL;
    struct parley_device_info dev = {"bot engine", "linux"};
    enum log_level level;
    int ch, rc, status = 1;

    memset(&e, 0, sizeof(e));
    stream_init(&e.stream);
    while ((ch = getopt_long(argc, argv, "d:u:c:p:i:n:l:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data_dir = optarg;
            break;
        case 'u':
            e.username = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'p':
            pwfile = optarg;
            break;
        case 'i':
            ipc_dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'l':
            if (log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "parley-botengine: unknown log level '%s'\n", optarg);
                return 2;
            }
            log_set_level(level);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!data_dir || !e.username || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!name)
        name = e.username;

    char *pw = NULL;
    rc = bot_sign_in(data_dir, e.username, config, pwfile, &dev, &cfg, &e.c, &pw);
    if (rc < 0)
        goto out;
    if (cfg)
        e.server_host = parley_config_service_host(cfg);
    char keypath[4096];
    snprintf(keypath, sizeof(keypath), "%s/botapi.key", data_dir);
    snprintf(e.kv_path, sizeof(e.kv_path), "%s/botapi.kv", data_dir);
    rc = botkey_open(&e.key, keypath, pw);
    secret_free(pw);
    if (rc < 0) {
        log_error("cannot open the bot's string key %s: %s", keypath, parley_strerror(rc));
        goto out;
    }
    snprintf(e.queue_path, sizeof(e.queue_path), "%s/botapi.queue", data_dir);
    if ((rc = engine_queue_load(&e)) < 0) {
        log_error("cannot read the queued messages %s: %s", e.queue_path, parley_strerror(rc));
        goto out;
    }
    if ((rc = engine_kv_load(&e)) < 0) {
        log_error("cannot read the bot's key-value store %s: %s", e.kv_path, parley_strerror(rc));
        goto out;
    }
    if (!(e.vgroups = json_object()))
        goto out;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (engine_bind(&e, ipc_dir, name) < 0)
        goto out;
    /* Messages the bot had not taken when the engine last stopped, however
     * it stopped, are queued again (after an older version's queue file). */
    if ((rc = parley_client_journal(e.c)) < 0) {
        log_error("cannot read the account's journal: %s", parley_strerror(rc));
        goto out;
    }
    if ((rc = parley_client_connect(e.c)) < 0) {
        log_error("cannot connect: %s", parley_strerror(rc));
        goto out;
    }
    status = engine_run(&e, &stop) < 0 ? 1 : 0;
    log_info("stopping");
out:
    engine_close(&e);
    botkey_release(&e.key);
    json_decref(e.kv);
    json_decref(e.vgroups);
    parley_client_free(e.c);
    parley_config_free(cfg);
    return status;
}
