/* cmd_fingerprint.c - `parley fingerprint USER`: the safety number to
 * compare with USER out of band, and the same as a QR code drawn in the
 * terminal (libqrencode) for USER's device to scan. --trust accepts USER's
 * current identity key after a comparison. `parley whois USER` shows what
 * the directory says about USER, security tags included. */
#include "cli.h"

#include <getopt.h>

#include <qrencode.h>

void cli_print_qr(const char *text)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return;
    int w = qr->width, q = 2;
    for (int y = -q; y < w + q; y += 2) {
        for (int x = -q; x < w + q; x++) {
            bool top = y >= 0 && y < w && x >= 0 && x < w && (qr->data[y * w + x] & 1);
            bool bot =
                y + 1 >= 0 && y + 1 < w && x >= 0 && x < w && (qr->data[(y + 1) * w + x] & 1);
            /* Dark modules print as spaces on a light background. */
            fputs(top && bot ? " " : top ? "\u2584" : bot ? "\u2580" : "\u2588", stdout);
        }
        putchar('\n');
    }
    QRcode_free(qr);
}

int cmd_fingerprint(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", no_argument, NULL, 't'},
        {"no-qr", no_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0},
    };
    char number[PARLEY_SAFETY_NUMBER_LEN], code[PARLEY_QR_CODE_LEN];
    bool trust = false, qr = true;
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "tQ", opts, NULL)) != -1) {
        if (ch == 't')
            trust = true;
        else if (ch == 'Q')
            qr = false;
        else
            return 2;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: parley fingerprint [--trust] [--no-qr] USER\n");
        return 2;
    }
    struct parley_client *c = cli_client(cli, false);
    rc = trust ? parley_client_trust(c, argv[optind]) : 0;
    if (rc == 0)
        rc = parley_client_fingerprint(c, argv[optind], number, code);
    parley_client_free(c);
    if (rc < 0)
        return cli_fail("fingerprint", rc);
    printf("safety number with %s:\n%s\n", argv[optind], number);
    if (qr) {
        cli_print_qr(code);
        printf("%s\n", code);
    }
    return 0;
}

/* `parley whois USER`: what the directory says about USER, with the
 * security tags the client shows beside the username. */
int cmd_policy(struct cli *cli, int argc, char **argv)
{
    char *json = NULL;
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: parley policy\n");
        return 2;
    }
    struct parley_client *c = cli_client(cli, false);
    rc = parley_client_policy(c, &json);
    parley_client_free(c);
    if (rc < 0)
        return cli_fail("policy", rc);
    printf("%s\n", json);
    free(json);
    return 0;
}

int cmd_whois(struct cli *cli, int argc, char **argv)
{
    struct parley_user_info u;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: parley whois USER|NETWORK_ID/USER|USER_ID\n");
        return 2;
    }
    struct parley_client *c = cli_client(cli, false);
    rc = parley_client_user_info(c, argv[1], &u);
    parley_client_free(c);
    if (rc < 0)
        return cli_fail("whois", rc);
    printf("username: %s\nuser_id:  %s\nnetwork:  %s\nstatus:   %s\ntags:     %s\n", u.username,
           u.user_id, u.network_id, u.status, u.tags[0] ? u.tags : "(none)");
    return 0;
}
