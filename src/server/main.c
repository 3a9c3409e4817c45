/* main.c - parleyd: command line, start-up order and shutdown.
 *
 * Start-up: settings (defaults < config file < flags) -> data directory and
 * TLS certificate -> bind -> drop root -> database and migrations ->
 * first-start super administrator -> event loop. Nothing is created or
 * changed before the whole configuration has been checked. */
#include "api_sso.h"
#include "bootstrap.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "cluster.h"
#include "config.h"
#include "server.h"
#include "store.h"
#include "tlsgen.h"
#include "transport.h"

#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: parleyd [options]\n"
                 "  -c, --config FILE       read settings from FILE\n"
                 "  -d, --data-dir DIR      data directory (setting data_dir)\n"
                 "  -l, --listen HOST:PORT  address to listen on (setting listen)\n"
                 "  -s, --set NAME=VALUE    set any setting (repeatable)\n"
                 "  -p, --print-config      print the effective configuration and exit\n"
                 "  -n, --check             check the configuration and exit\n"
                 "  -v, --verbose           log at debug level\n"
                 "  -V, --version           print the version and exit\n"
                 "  -h, --help              this help\n"
                 "See parleyd(8).\n");
}

struct options {
    const char *config_file;
    bool print_config, print_man, check_only;
};

static int set_or_fail(struct config *cfg, const char *name, const char *value)
{
    char err[512];
    if (config_set(cfg, name, value, err, sizeof(err)) < 0) {
        fprintf(stderr, "parleyd: %s\n", err);
        return -1;
    }
    return 0;
}

/* Two passes: the config file first, then flags, so flags win. */
static int parse_args(int argc, char **argv, struct config *cfg, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"set", required_argument, NULL, 's'},
        {"print-config", no_argument, NULL, 'p'},
        {"check", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"print-man-settings", no_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    const char *shortopts = "c:d:l:s:pnvVh";
    char err[1024];
    int ch;

    while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_file = optarg;
            break;
        case 'p':
            o->print_config = true;
            break;
        case 'M':
            o->print_man = true;
            break;
        case 'n':
            o->check_only = true;
            break;
        case 'V':
            printf("parleyd %s\n", PARLEY_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        case 'd':
        case 'l':
        case 's':
        case 'v':
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "parleyd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->config_file && config_load_file(cfg, o->config_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "parleyd: %s\n", err);
        return -1;
    }
    optind = 1;
    while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int rc = 0;
        if (ch == 'd')
            rc = set_or_fail(cfg, "data_dir", optarg);
        else if (ch == 'l')
            rc = set_or_fail(cfg, "listen", optarg);
        else if (ch == 'v')
            rc = set_or_fail(cfg, "log_level", "debug");
        else if (ch == 's') {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "parleyd: --set expects NAME=VALUE, got '%s'\n", optarg);
                return -1;
            }
            *eq = 0;
            rc = set_or_fail(cfg, optarg, eq + 1);
            *eq = '=';
        }
        if (rc < 0)
            return -1;
    }
    if (config_finish(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "parleyd: %s\n", err);
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char *p = xstrdup(path);
    int rc = 0;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, mode) < 0 && errno != EEXIST)
        rc = -1;
    if (rc < 0)
        log_warn("cannot create directory '%s'", p);
    free(p);
    return rc;
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static char *dir_of(const char *path)
{
    char *d = xstrdup(path), *slash = strrchr(d, '/');
    if (slash && slash != d)
        *slash = 0;
    else
        strlcpy_p(d, slash ? "/" : ".", strlen(d) + 1);
    return d;
}

/* The data directory, and the self-signed certificate when none exists. */
static int prepare_files(const struct config *cfg)
{
    bool have_cert = file_exists(cfg->tls_cert), have_key = file_exists(cfg->tls_key);
    char *tlsdir;
    int rc = 0;

    if (mkdir_p(cfg->data_dir, 0700) < 0)
        return -1;
    if (have_cert && have_key)
        return 0;
    if (have_cert != have_key) {
        log_error("found '%s' but not '%s': restore the missing file, or remove both to create a "
                  "new self-signed certificate",
                  have_cert ? cfg->tls_cert : cfg->tls_key,
                  have_cert ? cfg->tls_key : cfg->tls_cert);
        return -1;
    }
    tlsdir = dir_of(cfg->tls_cert);
    rc = mkdir_p(tlsdir, 0700);
    free(tlsdir);
    if (rc == 0)
        rc = tlsgen_self_signed(cfg->tls_cert, cfg->tls_key, cfg->hostname, cfg->listen_host);
    if (rc == 0)
        log_info("created a self-signed certificate for %s in '%s'", cfg->hostname, cfg->tls_cert);
    return rc < 0 ? -1 : 0;
}

static void raise_fd_limit(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t target = (rlim_t)want + 64;
    if (rl.rlim_cur >= target)
        return;
    rl.rlim_cur = target < rl.rlim_max ? target : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < target)
        log_warnx("open-file limit is %llu, below max_connections + 64",
                  (unsigned long long)rl.rlim_cur);
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (lchown(path, chown_uid, chown_gid) < 0)
        log_warn("cannot give '%s' to the service user", path);
    return 0;
}

/* Running as root: hand the data directory to `user`, then become it. */
static int drop_privileges(const struct config *cfg)
{
    struct passwd *pw;

    if (geteuid() != 0)
        return 0;
    pw = getpwnam(cfg->user);
    if (!pw) {
        log_error("no such user '%s' (setting user)", cfg->user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        log_warnx("setting user is '%s', a root account: keeping root privileges", cfg->user);
        return 0;
    }
    chown_uid = pw->pw_uid;
    chown_gid = pw->pw_gid;
    nftw(cfg->data_dir, chown_one, 16, FTW_PHYS);
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        log_warn("cannot switch to user '%s'", cfg->user);
        return -1;
    }
    if (setuid(0) == 0) {
        log_error("still able to regain root after dropping privileges");
        return -1;
    }
    if (access(cfg->data_dir, R_OK | W_OK | X_OK) < 0) {
        log_warn("user '%s' cannot use the data directory '%s' (a parent directory may be "
                 "closed to it: move the data directory, or set user to an account that can "
                 "reach it)",
                 cfg->user, cfg->data_dir);
        return -1;
    }
    log_info("running as user '%s'", cfg->user);
    return 0;
}

static int open_store(const struct config *cfg, struct store **out)
{
    struct store_options so;
    store_options_default(&so);
    so.sqlite_sync_full = cfg->sqlite_sync_full;
    so.pool_size = cfg->store_pool_size;
    return store_open(cfg->store, &so, out);
}

static void url_for(const struct server *srv, const char *path, char *out, size_t len)
{
    const char *host = srv->cfg->hostname;
    if (strcmp(srv->cfg->listen_host, "0.0.0.0") != 0 && strcmp(srv->cfg->listen_host, "::") != 0)
        host = srv->cfg->listen_host;
    snprintf(out, len, strchr(host, ':') ? "https://[%s]:%d%s" : "https://%s:%d%s", host, srv->port,
             path);
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct options o = {0};
    struct server srv;
    char url[512], fp[96];
    int status = 1;

    memset(&srv, 0, sizeof(srv));
    signal(SIGPIPE, SIG_IGN);
    config_init(&cfg);
    if (parse_args(argc, argv, &cfg, &o) < 0)
        goto out;
    if (o.print_man) {
        config_print_man(stdout);
        status = 0;
        goto out;
    }
    if (o.print_config) {
        config_print(&cfg, stdout);
        status = 0;
        goto out;
    }
    if (o.check_only) {
        printf("parleyd: configuration is valid\n");
        status = 0;
        goto out;
    }
    log_set_level(cfg.log_level);

    srv.cfg = &cfg;
    srv.started = time(NULL);
    if (prepare_files(&cfg) < 0)
        goto out;
    raise_fd_limit(cfg.max_connections);
    if (transport_start(&srv) < 0)
        goto out;
    if (drop_privileges(&cfg) < 0 || open_store(&cfg, &srv.store) < 0) {
        transport_free(&srv);
        goto out;
    }
    /* Several nodes share one PostgreSQL; SQLite belongs to one process. */
    if (cfg.cluster_nats && strcmp(store_backend(srv.store), "postgresql") != 0) {
        log_warnx("setting cluster_nats needs a PostgreSQL store (store = postgresql://...)");
        transport_free(&srv);
        goto out;
    }
    if (cfg.cluster_nats && cluster_open(cfg.cluster_nats) < 0) {
        transport_free(&srv);
        goto out;
    }
    url_for(&srv, "/admin", url, sizeof(url));
    if (bootstrap_super_admin(srv.store, url, stdout) < 0) {
        transport_free(&srv);
        goto out;
    }
    if (tlsgen_fingerprint(cfg.tls_cert, fp) == 0)
        log_info("certificate sha256=%s", fp);
    url_for(&srv, "", url, sizeof(url));
    log_info("listening on %s store=%s data_dir=%s", url, store_backend(srv.store), cfg.data_dir);

    transport_run(&srv);
    status = 0;
out:
    transport_free(&srv);
    api_sso_shutdown();
    cluster_close();
    if (srv.store) {
        store_close(srv.store);
        log_info("stopped");
    }
    config_release(&cfg);
    return status;
}
