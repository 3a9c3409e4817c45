/* parleyctl.c - parleyctl, the administrator's command line over the
 * admin REST API: parses the global options, finds the session file and
 * dispatches `GROUP [VERB]` through ctl_commands[] (parleyctl_cmds.c). */
#include "parleyctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "common/xmalloc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: parleyctl [--server URL] [--cacert FILE | --fingerprint SHA256]\n"
               "                 [--token TOKEN] [--session FILE] [--network ID] [--json]\n"
               "                 COMMAND [ARGS]\n\n"
               "A NETWORK_ID argument may be given as --network ID instead.\n"
               "commands:\n");
    ctl_usage(f);
}

/* The row for argv[0] (and argv[1] if the group has verbs); *used says how
 * many words named it. NULL if none. */
static const struct ctl_cmd *find_cmd(int argc, char **argv, int *used)
{
    bool group_known = false;
    for (size_t i = 0; i < ctl_commands_count; i++) {
        const struct ctl_cmd *c = &ctl_commands[i];
        if (strcmp(c->group, argv[0]) != 0)
            continue;
        group_known = true;
        if (!c->verb) {
            *used = 1;
            return c;
        }
        if (argc > 1 && strcmp(c->verb, argv[1]) == 0) {
            *used = 2;
            return c;
        }
    }
    if (group_known)
        fprintf(stderr, "parleyctl: %s: unknown or missing subcommand%s%s\n", argv[0],
                argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    else
        fprintf(stderr, "parleyctl: unknown command '%s'\n", argv[0]);
    return NULL;
}

/* $XDG_CONFIG_HOME/parleyctl/session, else ~/.config/parleyctl/session. */
static char *default_session(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        return xasprintf("%s/parleyctl/session", xdg);
    return xasprintf("%s/.config/parleyctl/session", home ? home : ".");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"cacert", required_argument, NULL, 'c'},
        {"fingerprint", required_argument, NULL, 'f'},
        {"token", required_argument, NULL, 't'},
        {"session", required_argument, NULL, 'S'},
        {"network", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctl ctl = {0};
    const struct ctl_cmd *cmd;
    char *session = NULL, *server = NULL;
    int ch, used = 0, rc;

    ctl.server = getenv("PARLEYCTL_SERVER");
    ctl.token = getenv("PARLEYCTL_TOKEN");
    ctl.session_path = getenv("PARLEYCTL_SESSION");
    ctl.network_env = getenv("PARLEYCTL_NETWORK");
    if (ctl.token && !*ctl.token)
        ctl.token = NULL;
    /* '+': stop at the command; its own options follow it. */
    while ((ch = getopt_long(argc, argv, "+s:c:f:t:S:n:jhV", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            ctl.server = optarg;
            break;
        case 'c':
            ctl.cacert = optarg;
            break;
        case 'f':
            ctl.fingerprint = optarg;
            break;
        case 't':
            ctl.token = optarg;
            break;
        case 'S':
            ctl.session_path = optarg;
            break;
        case 'n':
            ctl.network = optarg;
            break;
        case 'j':
            ctl.json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        case 'V':
            printf("parleyctl %s\n", PARLEY_VERSION);
            return CTL_EXIT_OK;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (ctl.cacert && ctl.fingerprint) {
        fprintf(stderr, "parleyctl: give --cacert or --fingerprint, not both\n");
        return CTL_EXIT_USAGE;
    }
    if (!(cmd = find_cmd(argc - optind, argv + optind, &used))) {
        fprintf(stderr, "run 'parleyctl --help' for the list of commands\n");
        return CTL_EXIT_USAGE;
    }
    if (!ctl.session_path)
        ctl.session_path = session = default_session();
    /* Strip a trailing slash so paths join cleanly. */
    if (ctl.server && *ctl.server && ctl.server[strlen(ctl.server) - 1] == '/') {
        server = xstrdup(ctl.server);
        server[strlen(server) - 1] = '\0';
        ctl.server = server;
    }
    ctl_session_load(&ctl);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    argc -= optind + used;
    argv += optind + used;
    rc = cmd->fn ? cmd->fn(&ctl, cmd, argc, argv) : ctl_run(&ctl, cmd, argc, argv);
    curl_global_cleanup();
    if (ctl.session_buf) {
        OPENSSL_cleanse(ctl.session_buf, CTL_SESSION_MAX);
        free(ctl.session_buf);
    }
    free(session);
    free(server);
    return rc;
}
