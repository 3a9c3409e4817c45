/* cmd_login.c - `parley login`: unlock the local state, or with --config
 * add this device to an existing account. */
#include "cli.h"

int cmd_login(struct cli *cli, int argc, char **argv)
{
    struct parley_client *c = cli_client(cli, false);
    printf("signed in as %s\nuser_id %s\ndevice_id %s\n", parley_client_username(c),
           parley_client_user_id(c), parley_client_device_id(c));
    parley_client_free(c);
    return 0;
}
