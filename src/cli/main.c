/* main.c - parley, the end-user command line over libparley: parses the
 * options every subcommand shares and dispatches through one table. */
#include "common/secret.h"
#include "cli.h"

#include <getopt.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/xmalloc.h"

static const struct cli_cmd commands[] = {
    {"register", cmd_register, "register --config FILE --username USER [--new-password]"},
    {"login", cmd_login, "login [--config FILE] --username USER"},
    {"sso-login", cmd_sso_login,
     "sso-login --config FILE --company-id ID [--paste] [--login-hint EMAIL] [--timeout S]"},
    {"send", cmd_send, "send USER_OR_CONV TEXT"},
    {"listen", cmd_listen, "listen [--json] [--read] [--count N] [--timeout SECONDS]"},
    {"history", cmd_history, "history USER_OR_CONV [--json] [--limit N]"},
    {"rooms", cmd_rooms,
     "rooms create|list|members|add|remove|modify|leave|delete ... (see parley(1))"},
    {"room", cmd_rooms, "room ...: the same as rooms"},
    {"fingerprint", cmd_fingerprint, "fingerprint USER [--trust]"},
    {"whois", cmd_whois, "whois USER|NETWORK_ID/USER|USER_ID"},
    {"policy", cmd_policy, "policy"},
    {"link", cmd_link, "link show [--no-qr] [--timeout SECONDS] | link accept CODE"},
    {"send-file", cmd_send_file,
     "send-file [--name NAME] [--screenshot] [--voice-memo SECONDS] USER_OR_CONV PATH"},
    {"get-file", cmd_get_file, "get-file MSG_ID OUT"},
    {"files", cmd_vault,
     "files CONV list|upload PATH [FOLDER]|save MSG_ID [FOLDER]|mkdir FOLDER|mv GUID "
     "FOLDER|rm GUID|get GUID OUT"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: parley [--data-dir DIR] [--config FILE] [--username USER]\n"
               "              [--password-file FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(f, "  parley %s\n", commands[i].usage);
}

int cli_fail(const char *what, int err)
{
    fprintf(stderr, "parley: %s: %s\n", what, parley_strerror(err));
    return 1;
}

size_t cli_split(char *s, const char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        if (*t)
            out[n++] = t;
    return n;
}

void cli_password_free(char *pw)
{
    secret_free(pw);
}

char *cli_password(struct cli *cli, int which, const char *env, const char *prompt)
{
    char *pw = NULL;

    if (cli->password_file) {
        FILE *f = fopen(cli->password_file, "r");
        if (!f)
            fatal("cannot open password file '%s'", cli->password_file);
        for (int i = 0; i <= which; i++) {
            cli_password_free(pw);
            if (!(pw = secret_read_line(f)))
                fatalx("password file '%s' has no line %d", cli->password_file, which + 1);
        }
        fclose(f);
        return pw;
    }
    if (env && getenv(env))
        return xstrdup(getenv(env));
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        fatalx("no terminal to ask for the %s: use --password-file or $%s", prompt,
               env ? env : "PARLEY_PASSWORD");
    struct termios old, quiet;
    fprintf(tty, "%s: ", prompt);
    fflush(tty);
    bool restore = tcgetattr(fileno(tty), &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    pw = secret_read_line(tty);
    if (restore)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    if (!pw)
        fatalx("no %s given", prompt);
    return pw;
}

int cli_open_config(struct cli *cli, struct parley_config **cfg)
{
    /* A file made without a password is sealed under the empty one: open
     * it without asking, and ask only when that fails. */
    int rc = parley_config_open(cli->config_path, "", cfg);
    if (rc != PARLEY_EAUTH)
        return rc;
    char *cpw = cli_password(cli, 2, "PARLEY_CONFIG_PASSWORD", "configuration file password");
    rc = parley_config_open(cli->config_path, cpw, cfg);
    cli_password_free(cpw);
    return rc;
}

struct parley_client *cli_client(struct cli *cli, bool connect)
{
    struct parley_config *cfg = NULL;
    struct parley_client *c = NULL;
    int rc;

    if (!cli->username)
        fatalx("which account? give --username or set $PARLEY_USER");
    if (cli->config_path && (rc = cli_open_config(cli, &cfg)) < 0)
        exit(cli_fail(cli->config_path, rc));
    char *pw = cli_password(cli, 0, "PARLEY_PASSWORD", "password");
    rc = parley_client_login(cli->data_dir, cfg, cli->username, pw, NULL, &c);
    cli_password_free(pw);
    parley_config_free(cfg);
    if (rc < 0)
        exit(cli_fail("sign in", rc));
    if (connect) {
        if ((rc = parley_client_connect(c)) < 0 || (rc = parley_client_wait_online(c, 15000)) < 0) {
            parley_client_free(c);
            exit(cli_fail("connect", rc));
        }
    }
    return c;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"username", required_argument, NULL, 'u'},
        {"password-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli = {0};
    char *home_dir = NULL;
    int ch;

    cli.username = getenv("PARLEY_USER");
    cli.data_dir = getenv("PARLEY_DATA_DIR");
    /* '+': stop at the subcommand; its own options follow it. */
    while ((ch = getopt_long(argc, argv, "+d:c:u:p:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            cli.data_dir = optarg;
            break;
        case 'c':
            cli.config_path = optarg;
            break;
        case 'u':
            cli.username = optarg;
            break;
        case 'p':
            cli.password_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("parley %s\n", PARLEY_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (!cli.data_dir) {
        const char *home = getenv("HOME");
        cli.data_dir = home_dir = xasprintf("%s/.parley", home ? home : ".");
    }
    log_set_level(LOG_LEVEL_WARN);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            optind++;
            int rc = commands[i].fn(&cli, argc - optind + 1, argv + optind - 1);
            free(home_dir);
            return rc;
        }
    }
    fprintf(stderr, "parley: unknown command '%s'\n", argv[optind]);
    usage(stderr);
    free(home_dir);
    return 2;
}
