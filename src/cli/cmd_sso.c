/* cmd_sso.c - `parley sso-login`: sign in through the network's identity
 * provider with its company ID. The authorization URL is printed for the
 * user to open in a browser; the browser comes back to a listener on
 * 127.0.0.1, or with --paste the user types the code the server's page
 * shows. The passphrase (first line of --password-file, $PARLEY_PASSPHRASE
 * or the terminal) protects the keys; the identity provider never sees it. */
#include "cli.h"

#include <getopt.h>

#include "common/secret.h"

int cmd_sso_login(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"company-id", required_argument, NULL, 'C'},
        {"login-hint", required_argument, NULL, 'H'},
        {"paste", no_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"device-name", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    struct parley_device_info dev = {NULL, NULL};
    struct parley_config *cfg = NULL;
    struct parley_client *c = NULL;
    struct parley_sso *s = NULL;
    const char *company = NULL, *hint = NULL;
    bool paste = false;
    long timeout = 300;
    char *end;
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "C:H:pt:N:", opts, NULL)) != -1) {
        if (ch == 'C') {
            company = optarg;
        } else if (ch == 'H') {
            hint = optarg;
        } else if (ch == 'p') {
            paste = true;
        } else if (ch == 't') {
            timeout = strtol(optarg, &end, 10);
            if (*end || timeout < 1 || timeout > 3600) {
                fprintf(stderr, "parley: --timeout takes 1 to 3600 seconds\n");
                return 2;
            }
        } else if (ch == 'N') {
            dev.name = optarg;
        } else {
            return 2;
        }
    }
    if (!cli->config_path || !company) {
        fprintf(stderr, "usage: parley --config FILE sso-login --company-id ID [--paste] "
                        "[--login-hint EMAIL] [--timeout SECONDS]\n");
        return 2;
    }
    rc = cli_open_config(cli, &cfg);
    if (rc < 0)
        return cli_fail(cli->config_path, rc);
    rc = parley_sso_begin(cli->data_dir, cfg, company, hint, paste ? 0 : PARLEY_SSO_LOOPBACK, &s);
    if (rc < 0) {
        fprintf(stderr, "parley: sso-login: %s\n", parley_sso_error(s));
        goto out;
    }
    fprintf(stderr, "Open this address in a browser to sign in:\n");
    printf("%s\n", parley_sso_url(s));
    fflush(stdout);
    if (paste) {
        fprintf(stderr, "Then enter the sign-in code the page shows: ");
        char *code = secret_read_line(stdin);
        rc = code ? parley_sso_set_code(s, code) : PARLEY_EINVAL;
        cli_password_free(code);
    } else {
        fprintf(stderr, "Waiting for the browser on %s ...\n", parley_sso_redirect_uri(s));
        rc = parley_sso_wait(s, (int)timeout * 1000);
    }
    if (rc < 0) {
        fprintf(stderr, "parley: sso-login: %s\n",
                rc == PARLEY_EBUSY     ? "no answer from the browser in time"
                : *parley_sso_error(s) ? parley_sso_error(s)
                                       : "no sign-in code");
        goto out;
    }
    char *pp = cli_password(cli, 0, "PARLEY_PASSPHRASE", "passphrase for this account's keys");
    rc = parley_sso_finish(s, cli->data_dir, pp, &dev, &c);
    cli_password_free(pp);
    if (rc < 0) {
        fprintf(stderr, "parley: sso-login: %s\n",
                *parley_sso_error(s) ? parley_sso_error(s) : parley_strerror(rc));
        goto out;
    }
    printf("signed in as %s on %s\nuser_id %s\ndevice_id %s\n", parley_client_username(c),
           parley_config_network_name(cfg), parley_client_user_id(c), parley_client_device_id(c));
out:
    parley_client_free(c);
    parley_sso_free(s);
    parley_config_free(cfg);
    return rc < 0 ? 1 : 0;
}
