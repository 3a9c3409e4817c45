/* cmd_send.c - `parley send USER_OR_CONV TEXT`: one text message, end to
 * end encrypted, acknowledged by the server before the command exits.
 * `--payload` sends TEXT as a payload JSON object of any message type. */
#include "cli.h"

#include <getopt.h>

int cmd_send(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"payload", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    char msg_id[PARLEY_ID_HEX];
    bool raw = false;
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "P", opts, NULL)) != -1) {
        if (ch != 'P')
            return 2;
        raw = true;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: parley send [--payload] USER_OR_CONV TEXT\n");
        return 2;
    }
    if (raw) {
        char err[256];
        if (parley_payload_check(argv[optind + 1], err, sizeof(err)) < 0) {
            fprintf(stderr, "parley: invalid payload: %s\n", err);
            return 1;
        }
    }
    struct parley_client *c = cli_client(cli, true);
    rc = raw ? parley_client_send(c, argv[optind], argv[optind + 1], msg_id)
             : parley_client_send_text(c, argv[optind], argv[optind + 1], msg_id);
    parley_client_free(c);
    if (rc < 0)
        return cli_fail("send", rc);
    printf("%s\n", msg_id);
    return 0;
}
