/* bench_files.c - encrypted file transfer through a real parleyd on
 * loopback: libparley seals and uploads a file (parley_file_send), the
 * other user downloads and opens it (parley_file_get), both over TLS.
 *
 * Two baselines, measured in each run on the same machine: the record
 * sealer alone (filecrypt_seal over 1 MiB records, one thread), and TLS
 * alone over loopback (one thread writes, one reads; no HTTP, no disk, no
 * file encryption). The ratios to them stay readable when the machine is
 * shared and the wall-clock rates are not. Each timed transfer moves a
 * fresh file (a new key, a new upload) of SIZE bytes, read from and
 * written to the page cache. Peak memory is the high-water mark (VmHWM)
 * during the transfers of this process, which holds both clients, and of
 * parleyd. On a loaded machine the wall-clock rates fall with the CPU the
 * processes get: the run-queue wait (the time their threads were ready to
 * run but waited for a CPU, from schedstat) says how much, and the CPU
 * each side spends per megabyte (MB per CPU second) varies much less; from
 * those, the rate the CPU cost allows on this machine's cores when nothing
 * else runs.
 *
 *   bench_files [-s MiB] [-r RUNS] [-c]   (defaults: 1024 MiB, 3 runs)
 * -c compares each downloaded file with the source, byte for byte (the
 * soak test, tools/soak-files, runs it on 5 GiB).
 * PARLEYD names the server binary. Prints a table and, last, one line:
 *   upload_MBps=<n> download_MBps=<n> peak_rss_MiB=<n> */
#include <arpa/inet.h>
#include <dirent.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <parley/parley.h>

#include "client_harness.h"
#include "harness.h"
#include "proto/filecrypt.h"
#include "provision.h"

#define NETWORK  "net-bench-files"
#define MiB      (1024.0 * 1024.0)
#define MAX_RUNS 9

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_files: %s: %s\n", what, rc ? parley_strerror(rc) : "failed");
    exit(1);
}

static long hwm_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Reset the high-water mark (Linux: "5" to clear_refs), so that set-up
 * (registration runs Argon2id with 64 MiB) does not count. */
static void hwm_reset(pid_t pid)
{
    char path[64];
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    if ((f = fopen(path, "w"))) {
        fputs("5", f);
        fclose(f);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* MB/s (10^6 bytes) of filecrypt_seal over `total` bytes of 1 MiB records. */
static double baseline_seal(uint64_t total)
{
    uint8_t key[FILECRYPT_KEY_LEN] = {1}, *in = malloc(FILECRYPT_CHUNK),
            *out = malloc(FILECRYPT_RECORD_MAX);
    struct filecrypt fc;
    size_t len;
    double t0;

    RAND_bytes(in, FILECRYPT_CHUNK);
    if (filecrypt_init(&fc, key) < 0)
        die("filecrypt_init", 0);
    t0 = now_s();
    for (uint64_t i = 0; i < total / FILECRYPT_CHUNK; i++)
        if (filecrypt_seal(&fc, i, false, false, in, FILECRYPT_CHUNK, out, &len) < 0)
            die("filecrypt_seal", 0);
    t0 = now_s() - t0;
    filecrypt_release(&fc);
    free(in);
    free(out);
    return (double)total / t0 / 1e6;
}

/* Seconds process `pid`'s threads spent runnable but waiting for a CPU
 * (the second field of /proc/PID/task/TID/schedstat): on a shared machine,
 * the time the transfers lost to other work. */
static double runq_s(pid_t pid)
{
    char path[96], line[128];
    unsigned long long oncpu, wait;
    double total = 0;
    struct dirent *e;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return 0;
    while ((e = readdir(d))) {
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (fgets(line, sizeof(line), f) && sscanf(line, "%llu %llu", &oncpu, &wait) == 2)
            total += (double)wait / 1e9;
        fclose(f);
    }
    closedir(d);
    return total;
}

/* ---- baseline: TLS alone over loopback ----------------------------------
 * What the transport costs with nothing else: one thread writes `total`
 * bytes with SSL_write in 1 MiB pieces, another reads them with SSL_read,
 * over a loopback TCP connection with the same 4 MiB socket buffers as
 * the transfers, TLS 1.3 with parleyd's certificate, the cipher both
 * sides prefer (AES-256-GCM here, as for the transfers). No HTTP, no disk,
 * no file encryption: an upper bound for either direction. */

struct tls_peer {
    SSL_CTX *ctx;
    int fd;
    uint64_t total;
    int ok;
};

static void big_buffers(int fd)
{
    int size = 4 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static void *tls_reader(void *arg)
{
    struct tls_peer *t = arg;
    SSL *ssl = SSL_new(t->ctx);
    uint8_t *buf = malloc(256 * 1024);
    uint64_t got = 0;

    SSL_set_fd(ssl, t->fd);
    if (SSL_accept(ssl) == 1)
        while (got < t->total) {
            int n = SSL_read(ssl, buf, 256 * 1024);
            if (n <= 0)
                break;
            got += (uint64_t)n;
        }
    t->ok = got == t->total;
    SSL_free(ssl);
    free(buf);
    return NULL;
}

static double baseline_tls(const char *dir, uint64_t total)
{
    char cert[600], key[600];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    struct tls_peer srv = {.total = total};
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    uint8_t *buf = malloc(FILECRYPT_CHUNK);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0);
    pthread_t t;
    double t0 = 0, rate = 0;
    SSL *ssl = NULL;

    snprintf(cert, sizeof(cert), "%s/tls/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/tls/key.pem", dir);
    srv.ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(srv.ctx, TLS1_3_VERSION);
    if (!buf || !cctx || !srv.ctx || SSL_CTX_use_certificate_chain_file(srv.ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(srv.ctx, key, SSL_FILETYPE_PEM) != 1 ||
        bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
        die("TLS baseline set-up", 0);
    big_buffers(lfd);
    big_buffers(cfd);
    if (connect(cfd, (struct sockaddr *)&a, sizeof(a)) < 0 || (srv.fd = accept(lfd, NULL, 0)) < 0)
        die("TLS baseline connect", 0);
    RAND_bytes(buf, FILECRYPT_CHUNK);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL); /* our own socket; nothing to trust */
    ssl = SSL_new(cctx);
    SSL_set_fd(ssl, cfd);
    pthread_create(&t, NULL, tls_reader, &srv);
    if (SSL_connect(ssl) == 1) {
        t0 = now_s();
        for (uint64_t done = 0; done < total; done += FILECRYPT_CHUNK)
            if (SSL_write(ssl, buf, FILECRYPT_CHUNK) != FILECRYPT_CHUNK)
                break;
    }
    pthread_join(t, NULL);
    if (srv.ok)
        rate = (double)total / (now_s() - t0) / 1e6;
    else
        die("TLS baseline transfer", 0);
    SSL_free(ssl);
    SSL_CTX_free(cctx);
    SSL_CTX_free(srv.ctx);
    close(cfd);
    close(srv.fd);
    close(lfd);
    free(buf);
    return rate;
}

static void make_file(const char *path, uint64_t size)
{
    FILE *f = fopen(path, "wb");
    uint8_t *buf = malloc(FILECRYPT_CHUNK);
    if (!f)
        die("create the source file", 0);
    RAND_bytes(buf, FILECRYPT_CHUNK);
    for (uint64_t done = 0; done < size;) {
        size_t n = size - done < FILECRYPT_CHUNK ? (size_t)(size - done) : FILECRYPT_CHUNK;
        buf[0]++; /* no two records alike */
        if (fwrite(buf, 1, n, f) != n)
            die("write the source file", 0);
        done += n;
    }
    fclose(f);
    free(buf);
}

/* Whether two files hold the same bytes (read in 1 MiB pieces). */
static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    uint8_t *ba = malloc(FILECRYPT_CHUNK), *bb = malloc(FILECRYPT_CHUNK);
    size_t na, nb;
    bool same = fa && fb;

    while (same) {
        na = fread(ba, 1, FILECRYPT_CHUNK, fa);
        nb = fread(bb, 1, FILECRYPT_CHUNK, fb);
        same = na == nb && memcmp(ba, bb, na) == 0;
        if (na == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    free(ba);
    free(bb);
    return same;
}

static struct parley_client *client(const char *dir, struct parley_config *cfg, const char *user)
{
    struct parley_client *c = NULL;
    int rc = parley_client_register(dir, cfg, user, "bench pw", NULL, NULL, &c);
    if (rc < 0)
        die("register", rc);
    if ((rc = parley_client_connect(c)) < 0 || (rc = parley_client_wait_online(c, 15000)) < 0)
        die("connect", rc);
    return c;
}

/* The id of the next file message `c` receives. */
static void next_file(struct parley_client *c, char id[PARLEY_ID_HEX])
{
    for (int i = 0; i < 600; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 100, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE && ev->msgtype == 6000) {
            memcpy(id, ev->msg_id, PARLEY_ID_HEX);
            parley_event_free(ev);
            return;
        }
        parley_event_free(ev);
    }
    die("no file message arrived", 0);
}

int main(int argc, char **argv)
{
    struct parleyd srv = {0};
    struct parley_config *cfg = NULL;
    char tmp[] = "/tmp/parley-bench-files-XXXXXX", path[512], src[600], dst[600], file[600];
    double up[MAX_RUNS], down[MAX_RUNS], base[MAX_RUNS], tls[MAX_RUNS], ccpu[MAX_RUNS],
        scpu[MAX_RUNS], cwait[MAX_RUNS], swait[MAX_RUNS], tcpu[MAX_RUNS];
    uint64_t size = 1024ull << 20;
    uint8_t uid[16];
    int runs = 3, ch, rc;
    bool check = false;

    while ((ch = getopt(argc, argv, "s:r:c")) != -1) {
        if (ch == 'c')
            check = true;
        else if (ch == 's')
            size = (uint64_t)strtoull(optarg, NULL, 10) << 20;
        else if (ch == 'r')
            runs = (int)strtol(optarg, NULL, 10);
        else
            return 2;
    }
    if (runs < 1 || runs > MAX_RUNS || size == 0) {
        fprintf(stderr, "usage: bench_files [-s MiB] [-r RUNS (1..%d)] [-c]\n", MAX_RUNS);
        return 2;
    }
    if (!mkdtemp(tmp))
        die("mkdtemp", 0);
    if (harness_init(&srv, NULL) < 0 ||
        harness_provision_user(&srv, NETWORK, "alice", "bench pw", uid) < 0 ||
        harness_provision_user(&srv, NETWORK, "bob", "bench pw", uid) < 0 ||
        harness_start(&srv) < 0)
        die("start parleyd", 0);

    snprintf(file, sizeof(file), "%s/bench.parley", tmp);
    if (!(cfg = harness_client_config(&srv, NETWORK, file, "pw")))
        die("config", PARLEY_EIO);
    snprintf(path, sizeof(path), "%s/alice", tmp);
    struct parley_client *a = client(path, cfg, "alice");
    snprintf(path, sizeof(path), "%s/bob", tmp);
    struct parley_client *b = client(path, cfg, "bob");

    snprintf(src, sizeof(src), "%s/src.bin", tmp);
    snprintf(dst, sizeof(dst), "%s/dst.bin", tmp);
    make_file(src, size);
    hwm_reset(getpid());
    hwm_reset(srv.pid);
    for (int i = 0; i < runs; i++) {
        char id[PARLEY_ID_HEX], why[256] = "";
        struct parley_file_opts o = {.error = why, .error_len = sizeof(why)};
        double t0;

        base[i] = baseline_seal(256ull << 20);
        double t0c = harness_cpu_s(getpid());
        tls[i] = baseline_tls(srv.dir, 256ull << 20);
        tcpu[i] = harness_cpu_s(getpid()) - t0c;
        double c0 = harness_cpu_s(getpid()), s0 = harness_cpu_s(srv.pid), w0 = now_s();
        double cr0 = runq_s(getpid()), sr0 = runq_s(srv.pid);
        /* A new modification time: a new upload, not a resumed one. */
        if (utimes(src, NULL) < 0)
            die("utimes", 0);
        t0 = now_s();
        if ((rc = parley_file_send(a, "bob", src, &o, NULL)) < 0) {
            fprintf(stderr, "bench_files: %s\n", why);
            die("send", rc);
        }
        up[i] = (double)size / (now_s() - t0) / 1e6;
        next_file(b, id);
        t0 = now_s();
        if ((rc = parley_file_get(b, id, dst, &o)) < 0) {
            fprintf(stderr, "bench_files: %s\n", why);
            die("get", rc);
        }
        down[i] = (double)size / (now_s() - t0) / 1e6;
        /* CPU per transfer (both directions): what the noise of a shared
         * machine does not change much. */
        ccpu[i] = (harness_cpu_s(getpid()) - c0) / 2;
        scpu[i] = (harness_cpu_s(srv.pid) - s0) / 2;
        /* The share of the transfers' time that the busiest thread of each
         * side could have run but waited for a CPU (summed over threads, so
         * it may exceed 100% when several wait at once). */
        w0 = now_s() - w0;
        cwait[i] = 100 * (runq_s(getpid()) - cr0) / w0;
        swait[i] = 100 * (runq_s(srv.pid) - sr0) / w0;
        if (check && !same_file(src, dst))
            die("the downloaded file differs from the source", 0);
        unlink(dst);
        fprintf(stderr,
                "run %d: upload %.0f MB/s, download %.0f MB/s, seal %.0f MB/s, TLS %.0f MB/s, "
                "run-queue wait client %.0f%% parleyd %.0f%%\n",
                i + 1, up[i], down[i], base[i], tls[i], cwait[i], swait[i]);
    }
    long chw = hwm_kib(getpid()), shw = hwm_kib(srv.pid);
    parley_client_free(a);
    parley_client_free(b);
    parley_config_free(cfg);
    harness_cleanup(&srv);
    snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
    if (system(path) != 0)
        fprintf(stderr, "bench_files: cannot remove %s\n", tmp);

    /* min and max before median (which sorts). */
    double lo[6], hi[6], *cols[6] = {base, tls, up, down, cwait, swait};
    for (int k = 0; k < 6; k++) {
        lo[k] = hi[k] = cols[k][0];
        for (int i = 1; i < runs; i++) {
            lo[k] = cols[k][i] < lo[k] ? cols[k][i] : lo[k];
            hi[k] = cols[k][i] > hi[k] ? cols[k][i] : hi[k];
        }
    }
    double mu = median(up, runs), md = median(down, runs), mb = median(base, runs);
    double mt = median(tls, runs), mcw = median(cwait, runs), msw = median(swait, runs);
    double peak = (double)(chw > shw ? chw : shw) / 1024.0;
    double mc = median(ccpu, runs), ms = median(scpu, runs);
    printf("encrypted files through parleyd on loopback (TLS, SQLite): %.0f MiB file, %d runs\n",
           (double)size / MiB, runs);
    printf("%-38s %10s %10s %10s\n", "", "median", "min", "max");
    printf("%-38s %10.0f %10.0f %10.0f\n", "baseline: seal 1 MiB records, MB/s", mb, lo[0], hi[0]);
    printf("%-38s %10.0f %10.0f %10.0f\n", "baseline: TLS alone on loopback, MB/s", mt, lo[1],
           hi[1]);
    printf("%-38s %10.0f %10.0f %10.0f\n", "upload (seal + PUT), MB/s", mu, lo[2], hi[2]);
    printf("%-38s %10.0f %10.0f %10.0f\n", "download (GET + open), MB/s", md, lo[3], hi[3]);
    printf("%-38s %10.0f %10.0f %10.0f\n", "run-queue wait, client, % of time", mcw, lo[4], hi[4]);
    printf("%-38s %10.0f %10.0f %10.0f\n", "run-queue wait, parleyd, % of time", msw, lo[5], hi[5]);
    printf("%-38s %10.2f\n", "upload / seal baseline", mu / mb);
    printf("%-38s %10.2f\n", "download / seal baseline", md / mb);
    printf("%-38s %10.2f\n", "upload / TLS baseline", mu / mt);
    printf("%-38s %10.2f\n", "download / TLS baseline", md / mt);
    printf("%-38s %10.0f\n", "TLS alone MB per CPU second (both ends)",
           (double)(256ull << 20) / 1e6 / median(tcpu, runs));
    printf("%-38s %10.0f\n", "client MB per CPU second", (double)size / 1e6 / mc);
    printf("%-38s %10.0f\n", "parleyd MB per CPU second", (double)size / 1e6 / ms);
    /* Client and parleyd together spend 1/mc_rate + 1/ms_rate CPU seconds
     * per MB (each direction, averaged); with every core free and the work
     * spread perfectly, no faster than this. */
    double per_mb = mc / ((double)size / 1e6) + ms / ((double)size / 1e6);
    printf("%-38s %10.0f\n", "ceiling: idle cores / CPU per MB, MB/s",
           (double)sysconf(_SC_NPROCESSORS_ONLN) / per_mb);
    printf("%-38s %10.1f\n", "peak RSS client (both users), MiB", (double)chw / 1024.0);
    printf("%-38s %10.1f\n", "peak RSS parleyd, MiB", (double)shw / 1024.0);
    printf("upload_MBps=%.0f download_MBps=%.0f peak_rss_MiB=%.0f\n", mu, md, peak);
    return 0;
}
