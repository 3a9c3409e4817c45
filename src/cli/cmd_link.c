/* cmd_link.c - `parley link show` on a signed-in device prints a short code
 * (and the same as a QR code) and sends the history to the new device that
 * enters it with `parley link accept CODE` (docs/protocol.md, "Device
 * linking"). The new device signs in first, with --config, as usual. */
#include "cli.h"

#include <getopt.h>

#include "common/str.h"

#define DEFAULT_TIMEOUT 600 /* the life of a link on the server */

static int show(struct cli *cli, bool qr, int timeout_s)
{
    char code[PARLEY_LINK_CODE_LEN];
    struct parley_link *l = NULL;
    size_t n = 0;
    int rc;

    struct parley_client *c = cli_client(cli, false);
    rc = parley_link_start(c, code, &l);
    if (rc < 0) {
        parley_client_free(c);
        return cli_fail("link", rc);
    }
    printf("On the new device, sign in as %s, then run:\n  parley link accept %s\n",
           parley_client_username(c), code);
    if (qr)
        cli_print_qr(code);
    printf("waiting up to %d s for the new device...\n", timeout_s);
    fflush(stdout);
    rc = parley_link_serve(l, timeout_s * 1000, &n);
    parley_link_free(l);
    parley_client_free(c);
    if (rc == PARLEY_EBUSY) {
        fprintf(stderr, "parley: link: no device answered within %d s\n", timeout_s);
        return 1;
    }
    if (rc < 0)
        return cli_fail("link", rc);
    printf("linked: sent %zu messages\n", n);
    return 0;
}

static int accept_code(struct cli *cli, const char *code, int timeout_s)
{
    size_t n = 0;
    struct parley_client *c = cli_client(cli, false);
    int rc = parley_link_accept(c, code, timeout_s * 1000, &n);
    parley_client_free(c);
    if (rc == PARLEY_EINVAL) {
        fprintf(stderr,
                "parley: link: '%s' is not a code: 16 characters of 0-9 and A-Z "
                "(no I, L, O or U), dashes optional\n",
                code);
        return 1;
    }
    if (rc == PARLEY_ENOTFOUND) {
        fprintf(stderr, "parley: link: no such code for this account (a typo, or it expired)\n");
        return 1;
    }
    if (rc < 0)
        return cli_fail("link", rc);
    printf("linked: received %zu messages\n", n);
    return 0;
}

int cmd_link(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-qr", no_argument, NULL, 'Q'},
        {"timeout", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    bool qr = true;
    int64_t timeout = DEFAULT_TIMEOUT;
    int ch;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "Qt:", opts, NULL)) != -1) {
        if (ch == 'Q') {
            qr = false;
        } else if (ch == 't') {
            if (str_to_i64(optarg, 1, 3600, &timeout) < 0) {
                fprintf(stderr, "parley: link: --timeout takes 1 to 3600 seconds\n");
                return 2;
            }
        } else {
            return 2;
        }
    }
    if (argc - optind == 1 && strcmp(argv[optind], "show") == 0)
        return show(cli, qr, (int)timeout);
    if (argc - optind == 2 && strcmp(argv[optind], "accept") == 0)
        return accept_code(cli, argv[optind + 1], (int)timeout);
    fprintf(stderr, "usage: parley link show [--no-qr] [--timeout SECONDS]\n"
                    "       parley link accept CODE [--timeout SECONDS]\n");
    return 2;
}
