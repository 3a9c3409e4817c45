/* signin.c - see signin.h. */
#include "signin.h"

#include <errno.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/secret.h"

int bot_sign_in(const char *data_dir, const char *username, const char *config, const char *pwfile,
                const struct parley_device_info *dev, struct parley_config **cfg,
                struct parley_client **out, char **password)
{
    char *pw = secret_line(pwfile, 0, "PARLEY_PASSWORD");
    int rc;

    *cfg = NULL;
    *out = NULL;
    if (!pw)
        fatalx("no password: give --password-file or set PARLEY_PASSWORD");
    if (config) {
        char *cpw = secret_line(pwfile, 2, "PARLEY_CONFIG_PASSWORD");
        if (!cpw)
            fatalx("no configuration file password: line 3 of --password-file or "
                   "$PARLEY_CONFIG_PASSWORD");
        rc = parley_config_open(config, cpw, cfg);
        secret_free(cpw);
        if (rc < 0)
            fatalx("%s: %s", config, parley_strerror(rc));
    }
    if (mkdir(data_dir, 0700) < 0 && errno != EEXIST)
        fatal("cannot create %s", data_dir);
    /* An account registered before (by parley-bot add, or an earlier
     * start) needs no configuration file: its local state keeps one. */
    rc = parley_client_login(data_dir, *cfg, username, pw, dev, out);
    if (rc == PARLEY_ENOTFOUND && *cfg) {
        rc = parley_client_register(data_dir, *cfg, username, pw, NULL, dev, out);
        if (rc == 0)
            log_info("registered user=%s", username);
    }
    if (rc < 0)
        log_error("cannot sign in as %s: %s%s", username, parley_strerror(rc),
                  !*cfg && rc == PARLEY_ENOTFOUND ? " (first start: give --config)" : "");
    if (password && rc == 0)
        *password = pw;
    else
        secret_free(pw);
    return rc;
}
