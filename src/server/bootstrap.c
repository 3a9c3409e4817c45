/* bootstrap.c - the super administrator of a new deployment. */
#include "bootstrap.h"
#include "common/log.h"
#include "password.h"
#include "store.h"

#include <openssl/crypto.h>

#define ONE_TIME_PASSWORD_LEN 20 /* 20 characters of 56: about 116 bits */

struct new_admin {
    const char *hash;
    bool created;
};

/* Runs on the committer thread: insert the admin unless a super admin exists,
 * so that two nodes starting at once on one database create only one. */
static int insert_if_none(struct store_conn *c, void *arg)
{
    struct new_admin *na = arg;
    struct store_val p[] = {STORE_TEXT(BOOTSTRAP_ADMIN), STORE_TEXT(na->hash),
                            STORE_INT((int64_t)time(NULL))};
    int64_t changes = 0;
    int rc = store_exec(c,
                        "INSERT INTO admins (username, password_hash, must_change_password, "
                        "is_super, created_at) SELECT $1, $2, 1, 1, $3 WHERE NOT EXISTS "
                        "(SELECT 1 FROM admins WHERE is_super = 1)",
                        p, ARRAY_SIZE(p), &changes);
    na->created = rc == 0 && changes == 1;
    return rc;
}

static int count_super_admins(struct store *st, int64_t *n)
{
    struct store_conn *c;
    int rc = store_conn_get(st, &c);
    if (rc < 0)
        return rc;
    rc = store_query_int(c, "SELECT COUNT(*) FROM admins WHERE is_super = 1", NULL, 0, n);
    store_conn_put(st, c);
    return rc;
}

int bootstrap_super_admin(struct store *st, const char *console_url, FILE *out)
{
    char pw[ONE_TIME_PASSWORD_LEN + 1], hash[PASSWORD_ENCODED_MAX];
    struct new_admin na = {hash, false};
    int64_t n = 0;
    int rc;

    rc = count_super_admins(st, &n);
    if (rc < 0 || n > 0)
        goto out;
    rc = password_generate(pw, sizeof(pw), ONE_TIME_PASSWORD_LEN);
    if (rc == 0)
        rc = password_hash(pw, hash);
    if (rc < 0) {
        log_error("cannot create the super administrator's password: %s", parley_strerror(rc));
        goto out;
    }
    rc = store_write_sync(st, insert_if_none, &na);
    if (rc < 0) {
        log_error("cannot create the super administrator: %s", parley_strerror(rc));
        goto out;
    }
    if (na.created) {
        /* The only place this password ever appears: not in the log. */
        fprintf(out,
                "\n"
                "  Parley is ready. Sign in to the administration console as the super\n"
                "  administrator; you will be asked to choose a new password.\n"
                "\n"
                "    console:   %s\n"
                "    user:      %s\n"
                "    password:  %s   (shown once)\n"
                "\n",
                console_url, BOOTSTRAP_ADMIN, pw);
        fflush(out);
        log_info("created the super administrator '%s'; its one-time password was printed on "
                 "standard output",
                 BOOTSTRAP_ADMIN);
    }
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc;
}
