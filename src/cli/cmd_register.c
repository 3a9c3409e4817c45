/* cmd_register.c - `parley register`: the first sign-in of a user an
 * administrator created, from the configuration file they handed out. */
#include "cli.h"

#include <getopt.h>

int cmd_register(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"new-password", no_argument, NULL, 'n'},
        {"device-name", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    struct parley_device_info dev = {NULL, NULL};
    struct parley_config *cfg = NULL;
    struct parley_client *c = NULL;
    bool change = false;
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "nN:", opts, NULL)) != -1) {
        if (ch == 'n')
            change = true;
        else if (ch == 'N')
            dev.name = optarg;
        else
            return 2;
    }
    if (!cli->config_path || !cli->username) {
        fprintf(stderr, "usage: parley --config FILE --username USER register [--new-password]\n");
        return 2;
    }
    rc = cli_open_config(cli, &cfg);
    if (rc < 0)
        return cli_fail(cli->config_path, rc);
    char *pw = cli_password(cli, 0, "PARLEY_PASSWORD", "initial password");
    char *npw = change ? cli_password(cli, 1, "PARLEY_NEW_PASSWORD", "new password") : NULL;
    char why[256];
    if (npw && parley_config_password_check(cfg, npw, why, sizeof(why)) < 0) {
        fprintf(stderr, "parley: register: %s\n", why);
        cli_password_free(pw);
        cli_password_free(npw);
        parley_config_free(cfg);
        return 1;
    }
    rc = parley_client_register(cli->data_dir, cfg, cli->username, pw, npw, &dev, &c);
    cli_password_free(pw);
    cli_password_free(npw);
    if (rc < 0) {
        parley_config_free(cfg);
        return cli_fail("register", rc);
    }
    printf("registered %s on %s\nuser_id %s\ndevice_id %s\n", parley_client_username(c),
           parley_config_network_name(cfg), parley_client_user_id(c), parley_client_device_id(c));
    parley_client_free(c);
    parley_config_free(cfg);
    return 0;
}
