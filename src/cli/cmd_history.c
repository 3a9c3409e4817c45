/* cmd_history.c - `parley history USER_OR_CONV`: the messages of a
 * conversation kept in the local state, oldest first. */
#include "cli.h"

#include <getopt.h>

#include <jansson.h>

#include "common/str.h"

int cmd_history(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    int64_t limit = 0;
    bool json = false;
    char *out = NULL;
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "jl:", opts, NULL)) != -1) {
        if (ch == 'j')
            json = true;
        else if (ch == 'l' && str_to_i64(optarg, 1, INT32_MAX, &limit) == 0)
            continue;
        else
            return 2;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: parley history [--json] [--limit N] USER_OR_CONV\n");
        return 2;
    }
    struct parley_client *c = cli_client(cli, false);
    rc = parley_client_history(c, argv[optind], (size_t)limit, &out);
    parley_client_free(c);
    if (rc < 0)
        return cli_fail("history", rc);
    json_t *arr = json_loads(out, 0, NULL), *m;
    size_t i;
    json_array_foreach(arr, i, m)
    {
        if (json) {
            char *s = json_dumps(m, JSON_COMPACT);
            printf("%s\n", s ? s : "");
            free(s);
            continue;
        }
        json_t *body = json_object_get(m, "body");
        const char *text = json_string_value(json_object_get(body, "message"));
        printf("%s %s: %s\n", json_string_value(json_object_get(m, "state")),
               json_string_value(json_object_get(m, "sender")), text ? text : "<control>");
    }
    json_decref(arr);
    free(out);
    return 0;
}
