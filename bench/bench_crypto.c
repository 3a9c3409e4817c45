/* bench_crypto.c - cost of sealing and opening end-to-end envelopes.
 *
 * For both suites and 1, 10, 100, 500 and 1000 recipient devices: the time
 * to seal one envelope (content + one HPKE wrap per device + signature),
 * the server's split into per-device deliveries, and one device's open.
 * In the same run, the raw cost of the X25519 work a seal does per device,
 * done the plain EVP way (a fresh key from EVP_PKEY_Q_keygen, then a
 * derive): the baseline the per-device seal cost is compared with.
 * The machine is shared and noisy: every figure is the median of several
 * repetitions, and the baseline is measured between the seal runs.
 * The last line is machine-readable:
 *   seal_us_per_device_x25519=<1000-device seal / 1000> raw_x25519_us=<baseline> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "proto/envelope.h"

#define MAX_N 1000

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* CPU time of this thread: what other tenants of the machine cannot add to. */
static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_crypto: %s failed: %s (%d)\n", what, parley_strerror(rc), rc);
    exit(1);
}

/* One fresh X25519 key and one derive, the plain way: what a seal needs per
 * device before any HKDF or AES. Microseconds per pair, over `iters`. */
static double raw_cpu_last;

static double raw_x25519(EVP_PKEY *peer, int iters)
{
    uint8_t out[32];
    double t0 = now_us(), c0 = cpu_us();
    for (int i = 0; i < iters; i++) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
        size_t len = sizeof(out);
        if (!c || EVP_PKEY_derive_init(c) <= 0 || EVP_PKEY_derive_set_peer(c, peer) <= 0 ||
            EVP_PKEY_derive(c, out, &len) <= 0)
            die("raw x25519", PARLEY_ECRYPTO);
        EVP_PKEY_CTX_free(c);
        EVP_PKEY_free(k);
    }
    raw_cpu_last = (cpu_us() - c0) / iters;
    return (now_us() - t0) / iters;
}

struct setup {
    const struct suite *suite;
    struct keys_identity id;
    struct keys_device sender;
    struct keys_device *devs;
    struct envelope_recipient *rcpt;
};

static void setup_make(struct setup *s, unsigned suite, size_t n)
{
    static const uint8_t user[KEYS_ID_LEN] = "bench-user-00001";
    int rc;

    s->suite = suite_get(suite);
    if ((rc = keys_identity_generate(&s->id, s->suite, user)) < 0 ||
        (rc = keys_device_generate(&s->sender, s->suite, user)) < 0 ||
        (rc = keys_identity_certify(&s->id, &s->sender, 1)) < 0)
        die("setup", rc);
    s->devs = calloc(n, sizeof(*s->devs));
    s->rcpt = calloc(n, sizeof(*s->rcpt));
    if (!s->devs || !s->rcpt)
        die("setup", PARLEY_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        if ((rc = keys_device_generate(&s->devs[i], s->suite, user)) < 0 ||
            (rc = keys_device_add_prekeys(&s->devs[i], 1, 1)) < 0)
            die("device", rc);
        s->rcpt[i] = (struct envelope_recipient){s->devs[i].device_id, s->devs[i].prekeys[0].id,
                                                 &s->devs[i].prekeys[0].key};
    }
}

static void setup_release(struct setup *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        keys_device_release(&s->devs[i]);
    free(s->devs);
    free(s->rcpt);
    keys_device_release(&s->sender);
    keys_identity_release(&s->id);
}

static int lookup(void *arg, const uint8_t user[KEYS_ID_LEN], const struct sig_key **out)
{
    *out = &((struct setup *)arg)->id.key;
    return 0;
}

struct row {
    const char *suite;
    size_t n;
    double seal_ms, seal_us_dev, seal_cpu_us_dev, split_us_dev, open_us;
};

static struct row measure(struct setup *s, size_t n, int reps, EVP_PKEY *peer, double *raw,
                          double *rawc, int *nraw)
{
    static const char msg[] = "a message of ordinary length, about a hundred bytes long, "
                              "sealed once for every device";
    double seal[16], sealc[16], split[16], open[16];
    struct row r = {s->suite->name, n, 0, 0, 0, 0, 0};

    for (int k = 0; k < reps; k++) {
        struct buf env = BUF_INIT(64u << 20);
        struct envelope_header h = {0};
        struct envelope_splitter sp;
        struct envelope_opened o;
        struct envelope_open_cb cb = {lookup, NULL, s, NULL, 0, NULL};
        size_t who = (size_t)k % n;
        double t0, c0;
        int rc;

        c0 = cpu_us();
        t0 = now_us();
        rc = envelope_seal(&s->sender, &h, s->rcpt, n, (const uint8_t *)msg, sizeof(msg) - 1, &env);
        seal[k] = now_us() - t0;
        sealc[k] = cpu_us() - c0;
        if (rc < 0)
            die("seal", rc);
        t0 = now_us();
        if ((rc = envelope_splitter_init(&sp, env.data, env.len)) < 0)
            die("split", rc);
        for (size_t i = 0; i < n; i++) {
            struct buf d = BUF_INIT(64u << 20);
            if ((rc = envelope_splitter_for(&sp, s->devs[i].device_id, &d)) < 0)
                die("split", rc);
            buf_release(&d);
        }
        split[k] = (now_us() - t0) / (double)n;
        {
            struct buf d = BUF_INIT(64u << 20);
            if ((rc = envelope_splitter_for(&sp, s->devs[who].device_id, &d)) < 0)
                die("split", rc);
            t0 = now_us();
            rc = envelope_open(d.data, d.len, &s->devs[who], &cb, &o);
            open[k] = now_us() - t0;
            if (rc < 0)
                die("open", rc);
            envelope_opened_release(&o);
            buf_release(&d);
        }
        envelope_splitter_release(&sp);
        buf_release(&env);
        /* The baseline, interleaved so that both see the same machine. */
        if (peer && *nraw < 64) {
            raw[*nraw] = raw_x25519(peer, (int)(n < 200 ? 200 : n));
            rawc[(*nraw)++] = raw_cpu_last;
        }
    }
    r.seal_ms = median(seal, reps) / 1000;
    r.seal_us_dev = median(seal, reps) / (double)n;
    r.seal_cpu_us_dev = median(sealc, reps) / (double)n;
    r.split_us_dev = median(split, reps);
    r.open_us = median(open, reps);
    return r;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {1, 10, 100, 500, 1000};
    const int reps_x = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 9;
    const int reps_p = 3;
    struct row rows[10];
    double raw[64], rawc[64], raw_us, raw_cpu, seal1000 = 0, seal1000c = 0;
    int nraw = 0, nr = 0;
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");

    if (!peer || reps_x < 1 || reps_x > 16)
        die("init", PARLEY_EINVAL);
    raw[nraw++] = raw_x25519(peer, 500); /* warm-up, discarded below */
    nraw = 0;
    for (unsigned suite = SUITE_DEFAULT; suite <= SUITE_FIPS; suite++) {
        struct setup s;
        setup_make(&s, suite, MAX_N);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            bool x = suite == SUITE_DEFAULT;
            rows[nr] =
                measure(&s, sizes[i], x ? reps_x : reps_p, x ? peer : NULL, raw, rawc, &nraw);
            if (x && sizes[i] == 1000) {
                seal1000 = rows[nr].seal_us_dev;
                seal1000c = rows[nr].seal_cpu_us_dev;
            }
            nr++;
        }
        setup_release(&s, MAX_N);
    }
    raw_us = median(raw, nraw);
    raw_cpu = median(rawc, nraw);

    printf("%-32s %7s %10s %11s %11s %12s %10s\n", "suite", "devices", "seal_ms", "seal_us/dev",
           "(cpu_us)", "split_us/dev", "open_us");
    for (int i = 0; i < nr; i++)
        printf("%-32s %7zu %10.3f %11.1f %11.1f %12.2f %10.1f\n", rows[i].suite, rows[i].n,
               rows[i].seal_ms, rows[i].seal_us_dev, rows[i].seal_cpu_us_dev, rows[i].split_us_dev,
               rows[i].open_us);
    printf("raw X25519 keygen+derive (EVP_PKEY_Q_keygen + EVP_PKEY_derive), median of %d: "
           "%.1f us\n",
           nraw, raw_us);
    printf("  the same in CPU time: %.1f us (seal %.1f us/device)\n", raw_cpu, seal1000c);
    printf("x25519 seal per device at 1000 devices / raw: %.2fx wall, %.2fx cpu "
           "(target <= 1.30x, <= 80 us)\n",
           seal1000 / raw_us, seal1000c / raw_cpu);
    printf("seal_us_per_device_x25519=%.1f raw_x25519_us=%.1f\n", seal1000, raw_us);
    EVP_PKEY_free(peer);
    return 0;
}
