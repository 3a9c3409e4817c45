/* bench_files.c - encrypted file transfer through a real parleyd on
 * loopback: libparley seals and uploads a file (parley_file_send), the
 * other user downloads and opens it (parley_file_get), both over TLS.
 *
 * The baseline, measured in the same run on the same machine, is the
 * record sealer alone (filecrypt_seal over 1 MiB records, one thread):
 * what one core does before any disk or network is involved. Each timed
 * transfer moves a fresh file (a new key, a new upload) of SIZE bytes,
 * read from and written to the page cache. Peak memory is the high-water
 * mark (VmHWM) during the transfers of this process, which holds both
 * clients, and of parleyd. On a loaded machine the wall-clock rates fall
 * with the CPU the processes get; the CPU each side spends per megabyte
 * (MB per CPU second) is printed too, as it varies much less.
 *
 *   bench_files [-s MiB] [-r RUNS] [-c]   (defaults: 1024 MiB, 3 runs)
 * -c compares each downloaded file with the source, byte for byte (the
 * soak test, tools/soak-files, runs it on 5 GiB).
 * PARLEYD names the server binary. Prints a table and, last, one line:
 *   upload_MBps=<n> download_MBps=<n> peak_rss_MiB=<n> */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <parley/parley.h>

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

/* CPU seconds (user + system) used so far by process `pid`. */
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

static char *read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = calloc(1, 65536);
    if (!f)
        die("read the certificate", 0);
    size_t n = fread(s, 1, 65535, f);
    s[n] = 0;
    fclose(f);
    return s;
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
    double up[MAX_RUNS], down[MAX_RUNS], base[MAX_RUNS], ccpu[MAX_RUNS], scpu[MAX_RUNS];
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

    snprintf(path, sizeof(path), "%s/tls/cert.pem", srv.dir);
    char *pem = read_small(path);
    json_t *doc = json_pack("{sisssisssssss[s]s{}}", "version", 1, "service_host", "127.0.0.1",
                            "service_port", srv.port, "network_id", NETWORK, "network_name",
                            "bench", "suite", "x25519", "pinned_certs", pem, "policy");
    char *json = json_dumps(doc, JSON_COMPACT);
    snprintf(file, sizeof(file), "%s/bench.parley", tmp);
    if ((rc = parley_config_create(file, json, "pw")) < 0 ||
        (rc = parley_config_open(file, "pw", &cfg)) < 0)
        die("config", rc);
    free(json);
    free(pem);
    json_decref(doc);
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
        double c0 = harness_cpu_s(getpid()), s0 = harness_cpu_s(srv.pid);
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
        if (check && !same_file(src, dst))
            die("the downloaded file differs from the source", 0);
        unlink(dst);
        fprintf(stderr, "run %d: upload %.0f MB/s, download %.0f MB/s, seal %.0f MB/s\n", i + 1,
                up[i], down[i], base[i]);
    }
    long chw = hwm_kib(getpid()), shw = hwm_kib(srv.pid);
    parley_client_free(a);
    parley_client_free(b);
    parley_config_free(cfg);
    harness_cleanup(&srv);
    snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
    if (system(path) != 0)
        fprintf(stderr, "bench_files: cannot remove %s\n", tmp);

    double mu = median(up, runs), md = median(down, runs), mb = median(base, runs);
    double peak = (double)(chw > shw ? chw : shw) / 1024.0;
    double mc = median(ccpu, runs), ms = median(scpu, runs);
    printf("encrypted files through parleyd on loopback (TLS, SQLite): %.0f MiB file, %d runs\n",
           (double)size / MiB, runs);
    printf("%-34s %10s %10s %10s\n", "", "median", "min", "max");
    printf("%-34s %10.0f %10.0f %10.0f\n", "baseline: seal 1 MiB records, MB/s", mb, base[0],
           base[runs - 1]);
    printf("%-34s %10.0f %10.0f %10.0f\n", "upload (seal + PUT), MB/s", mu, up[0], up[runs - 1]);
    printf("%-34s %10.0f %10.0f %10.0f\n", "download (GET + open), MB/s", md, down[0],
           down[runs - 1]);
    printf("%-34s %10.2f\n", "upload / baseline", mu / mb);
    printf("%-34s %10.2f\n", "download / baseline", md / mb);
    printf("%-34s %10.0f\n", "client MB per CPU second", (double)size / 1e6 / mc);
    printf("%-34s %10.0f\n", "parleyd MB per CPU second", (double)size / 1e6 / ms);
    printf("%-34s %10.1f\n", "peak RSS client (both users), MiB", (double)chw / 1024.0);
    printf("%-34s %10.1f\n", "peak RSS parleyd, MiB", (double)shw / 1024.0);
    printf("upload_MBps=%.0f download_MBps=%.0f peak_rss_MiB=%.0f\n", mu, md, peak);
    return 0;
}
