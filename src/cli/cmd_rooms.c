/* cmd_rooms.c - `parley rooms`: create, list and change groups and rooms. */
#include "cli.h"

#include <getopt.h>

#include "common/str.h"

#define MAX_NAMES 500

static int rooms_create(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"title", required_argument, NULL, 't'},
        {"members", required_argument, NULL, 'm'},
        {"moderators", required_argument, NULL, 'M'},
        {"group", no_argument, NULL, 'g'},
        {"expiration", required_argument, NULL, 'e'},
        {"burn-on-read", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    static const char *members[MAX_NAMES], *mods[MAX_NAMES];
    size_t n_members = 0, n_mods = 0;
    const char *title = NULL, *type = "room";
    int64_t exp = 0, bor = 0;
    char id[PARLEY_ID_HEX];
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "t:m:M:ge:b:", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            title = optarg;
            break;
        case 'm':
            n_members = cli_split(optarg, members, MAX_NAMES);
            break;
        case 'M':
            n_mods = cli_split(optarg, mods, MAX_NAMES);
            break;
        case 'g':
            type = "group";
            break;
        case 'e':
            if (str_to_i64(optarg, 0, UINT32_MAX, &exp) < 0)
                return 2;
            break;
        case 'b':
            if (str_to_i64(optarg, 0, UINT32_MAX, &bor) < 0)
                return 2;
            break;
        default:
            return 2;
        }
    }
    struct parley_client *c = cli_client(cli, true);
    rc = parley_conv_create(c, type, title, members, n_members, mods, n_mods, (uint32_t)exp,
                            (uint32_t)bor, id);
    parley_client_free(c);
    if (rc < 0)
        return cli_fail("rooms create", rc);
    printf("%s\n", id);
    return 0;
}

/* rooms modify CONV [--title T] [--description D] [--expiration S]
 * [--burn-on-read S] [--moderators a,b] */
static int rooms_modify(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"title", required_argument, NULL, 't'},
        {"description", required_argument, NULL, 'd'},
        {"expiration", required_argument, NULL, 'e'},
        {"burn-on-read", required_argument, NULL, 'b'},
        {"moderators", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    static const char *mods[MAX_NAMES];
    struct parley_conv_change chg = {.expiration = -1, .burn_on_read = -1, .moderators = mods};
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "t:d:e:b:M:", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            chg.title = optarg;
            break;
        case 'd':
            chg.description = optarg;
            break;
        case 'e':
        case 'b':
            if (str_to_i64(optarg, 0, UINT32_MAX, ch == 'e' ? &chg.expiration : &chg.burn_on_read) <
                0) {
                fprintf(stderr, "parley: rooms modify: --%s takes seconds (0 = off)\n",
                        ch == 'e' ? "expiration" : "burn-on-read");
                return 2;
            }
            break;
        case 'M':
            chg.n_moderators = cli_split(optarg, mods, MAX_NAMES);
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 1 || (!chg.title && !chg.description && chg.expiration < 0 &&
                               chg.burn_on_read < 0 && !chg.n_moderators)) {
        fprintf(stderr, "usage: parley rooms modify CONV [--title T] [--description D] "
                        "[--expiration S] [--burn-on-read S] [--moderators a,b]\n");
        return 2;
    }
    struct parley_client *c = cli_client(cli, true);
    rc = parley_conv_set(c, argv[optind], &chg);
    parley_client_free(c);
    if (rc == PARLEY_EPERM) {
        fprintf(stderr, "parley: rooms modify: only the room's moderators may change it\n");
        return 1;
    }
    return rc < 0 ? cli_fail("rooms modify", rc) : 0;
}

int cmd_rooms(struct cli *cli, int argc, char **argv)
{
    static const char *names[MAX_NAMES];
    char *out = NULL;
    int rc;

    if (argc < 2) {
        fprintf(stderr,
                "usage: parley rooms create|list|members|add|remove|modify|leave|delete ...\n");
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "create") == 0)
        return rooms_create(cli, argc - 1, argv + 1);
    if (strcmp(sub, "modify") == 0)
        return rooms_modify(cli, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0) {
        struct parley_client *c = cli_client(cli, false);
        rc = parley_conv_list(c, &out);
        parley_client_free(c);
        if (rc < 0)
            return cli_fail("rooms list", rc);
        printf("%s\n", out);
        free(out);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: parley rooms %s CONV [USERS]\n", sub);
        return 2;
    }
    const char *conv = argv[2];
    bool needs_conn = strcmp(sub, "members") != 0;
    struct parley_client *c = cli_client(cli, needs_conn);
    if (strcmp(sub, "members") == 0) {
        rc = parley_conv_members(c, conv, &out);
        if (rc == 0)
            printf("%s\n", out);
        free(out);
    } else if ((strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0) && argc == 4) {
        size_t n = cli_split(argv[3], names, MAX_NAMES);
        rc = strcmp(sub, "add") == 0 ? parley_conv_modify(c, conv, names, n, NULL, 0, NULL, 0)
                                     : parley_conv_modify(c, conv, NULL, 0, names, n, NULL, 0);
    } else if (strcmp(sub, "leave") == 0) {
        rc = parley_conv_leave(c, conv);
    } else if (strcmp(sub, "delete") == 0) {
        rc = parley_conv_delete(c, conv);
    } else {
        parley_client_free(c);
        fprintf(stderr, "parley: unknown rooms command '%s'\n", sub);
        return 2;
    }
    parley_client_free(c);
    return rc < 0 ? cli_fail(sub, rc) : 0;
}
