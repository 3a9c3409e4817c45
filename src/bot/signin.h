/* signin.h - how the bot programs run by parley-bot (parley-botengine,
 * parley-roombot) sign their account in. */
#ifndef PARLEY_BOT_SIGNIN_H
#define PARLEY_BOT_SIGNIN_H

#include <parley/parley.h>

/* Sign `username` in with the local state in `data_dir` (created if
 * missing). The password is line 1 of `pwfile` ("-": standard input, see
 * secret_line) or $PARLEY_PASSWORD. With `config`, the configuration file
 * (its password: line 3 or $PARLEY_CONFIG_PASSWORD) is opened into *cfg
 * and the account registers if it has no local state yet; without it, the
 * copy the local state keeps serves. Exits when a password or the
 * configuration file is missing or unreadable. Returns 0 with *out, or the
 * sign-in error (logged). *password (if not NULL) receives the password
 * for the caller to secret_free; otherwise it is wiped here. */
int bot_sign_in(const char *data_dir, const char *username, const char *config, const char *pwfile,
                const struct parley_device_info *dev, struct parley_config **cfg,
                struct parley_client **out, char **password);

#endif
