/* bench_retention.c - how fast the compliance bot's retention stage
 * writes: messages formatted into retention lines (rformat) and appended
 * to a rotating log (rlog) with one fdatasync per batch of 256 lines,
 * which is the policy the bot runs with (docs/retention.md). The payloads
 * cycle through the message types of Appendix A.
 *
 * In the same run, two baselines over the same bytes: formatting alone
 * (no I/O), and writing the already formatted lines with write(2) and the
 * same fdatasync per batch (no formatting): the ratios show where the time
 * goes. Each figure is the median of 5 runs of 50,000 messages; the machine
 * is shared, so the medians are what to compare. The log directory is
 * $BENCH_DIR (default /tmp): put it on the disk the bot would use.
 *
 * Then the whole pipeline: a real parleyd on loopback, a sender and a
 * receiver signed in with libparley; the receiver is offline while the
 * sender sends E2E_N text messages, then it connects and runs the
 * compliance integration (compliance_run, as parley-bot does) until every
 * message is a line of its retention log. That rate is bound by receiving
 * (TLS, opening each envelope: a key agreement and the signature check,
 * the sender's certificate being checked once; storing it in the local
 * state) far more than by writing. Its baseline, in the same run: opening
 * alone, the same kind of envelope opened over and over on one thread
 * with the client's certificate cache (what two cores could open at most
 * is twice that).
 *
 * The last line is machine-readable: retention_msgs_per_s=<median of the
 * whole pipeline>; writer_msgs_per_s is the stage above alone. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <signal.h>

#include <jansson.h>
#include <parley/parley.h>

#include "bot/compliance.h"
#include "proto/envelope.h"
#include "bot/rformat.h"
#include "bot/rlog.h"
#include "client_harness.h"
#include "harness.h"
#include "provision.h"

#define E2E_N    2000
#define E2E_RUNS 3
#define NETWORK  "00000000000000000000000000000b0b"

#define N    50000
#define RUNS 5

static const char *payloads[] = {
    "{\"msgtype\":1000,\"message\":\"lunch at noon? the usual place, bring the quarterly "
    "numbers\"}",
    "{\"msgtype\":1000,\"message\":\"see https://weather.example/today\","
    "\"links\":[{\"url\":\"https://weather.example/today\"}]}",
    "{\"msgtype\":6000,\"file\":{\"filename\":\"claymation.gif\","
    "\"guid\":\"b3078e72-c983-44c4-9097-8b884782b328\",\"isscreenshot\":false}}",
    "{\"msgtype\":4001,\"control\":{\"bor\":0,\"changemask\":47,\"description\":\"\","
    "\"masters\":[\"00000000000000000000000000000001\"],\"members\":["
    "\"00000000000000000000000000000001\",\"00000000000000000000000000000002\"],"
    "\"title\":\"Creating a room\",\"ttl\":2592000}}",
    "{\"msgtype\":8000,\"location\":{\"latitude\":40.75017899435506,"
    "\"longitude\":-74.99449803034105}}",
    "{\"msgtype\":4011,\"control\":{\"isrecall\":false,\"msgid\":"
    "\"4ab537d0f85d11e88c2225680208f9ff\"}}",
    "{\"msgtype\":7000,\"call\":{\"duration\":38,\"meetingid\":1,\"status\":1,"
    "\"startmsgid\":\"72c9a3b08bea11ea89078f7ca8a1b909\"}}",
    "{\"msgtype\":9000,\"edit\":{\"originalmessageid\":\"11457fa08da211ea881baffab0b42745\","
    "\"text\":\"https://howdoyoudo.example\",\"type\":\"text\"}}",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
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

static int names(void *arg, const char *id, char **out)
{
    (void)arg;
    *out = strdup(id[31] == '1' ? "user001" : "user002");
    return 0;
}

static void fail(const char *what, int rc)
{
    fprintf(stderr, "bench_retention: %s: %s\n", what, parley_strerror(rc));
    exit(1);
}

static void msg_of(int i, struct rformat_msg *m, char id[33])
{
    snprintf(id, 33, "%032x", i);
    *m = (struct rformat_msg){
        .msg_id = id,
        .vgroupid = i % 3 ? "7ad65d17b945d7672190ecab6902fdd06eff162b91adfcda23df3b2ff95875e8"
                          : "S19a8782d9a0441d5e13f15b6789f00bc2f9b8231aa364a2eb3a8269dce2ac21",
        .sender = "dr002@ent-beta.example",
        .receiver = i % 3 ? "dr001@ent-beta.example" : NULL,
        .ts_ms = 1691176258901 + i,
        .expires_at = 1693768258,
        .payload = payloads[i % (sizeof(payloads) / sizeof(payloads[0]))],
    };
}

static void clean(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_retention: cannot remove %s\n", dir);
}

/* The bot's stage: format, append, sync every batch. Messages per second. */
static double run_full(const char *dir, bool sync, uint64_t *bytes)
{
    struct rlog_config cfg = {dir, "bench", 1073741824, !sync};
    struct buf line = BUF_INIT(RFORMAT_MAX_LINE);
    struct rlog *r;
    char id[33];
    int rc;
    double t0;

    clean(dir);
    if ((rc = rlog_open(&cfg, &r)) < 0)
        fail("rlog_open", rc);
    t0 = now_s();
    for (int i = 0; i < N; i++) {
        struct rformat_msg m;
        msg_of(i, &m, id);
        buf_reset(&line);
        if ((rc = rformat_line(&m, names, NULL, &line)) < 0 ||
            (rc = rlog_append(r, (const char *)line.data, line.len)) < 0)
            fail("append", rc);
        if (rlog_batch_full(r) && (rc = rlog_commit(r)) < 0)
            fail("commit", rc);
    }
    if ((rc = rlog_commit(r)) < 0)
        fail("commit", rc);
    double t = now_s() - t0;
    *bytes = rlog_size(r);
    rlog_close(r);
    buf_release(&line);
    return N / t;
}

static double run_format_only(struct buf *all)
{
    char id[33];
    double t0 = now_s();
    buf_reset(all);
    for (int i = 0; i < N; i++) {
        struct rformat_msg m;
        msg_of(i, &m, id);
        int rc = rformat_line(&m, names, NULL, all);
        if (rc < 0)
            fail("format", rc);
    }
    return N / (now_s() - t0);
}

/* write(2) of the formatted lines, 256 lines per write and fdatasync. */
static double run_write_only(const char *dir, const struct buf *all)
{
    char path[600];
    size_t off = 0;
    int fd;
    double t0;

    clean(dir);
    if (mkdir(dir, 0700) < 0)
        fail("mkdir", PARLEY_EIO);
    snprintf(path, sizeof(path), "%s/raw.log", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    t0 = now_s();
    for (int i = 0; i < N; i += RLOG_BATCH_LINES) {
        size_t end = off;
        for (int k = 0; k < RLOG_BATCH_LINES && end < all->len; k++)
            end = (size_t)((const uint8_t *)memchr(all->data + end, '\n', all->len - end) -
                           all->data) +
                  1;
        if (write(fd, all->data + off, end - off) != (ssize_t)(end - off) || fdatasync(fd) < 0)
            fail("write", PARLEY_EIO);
        off = end;
    }
    double t = now_s() - t0;
    close(fd);
    return N / t;
}

/* ---- opening alone ---- */

static int bench_identity(void *arg, const uint8_t user[KEYS_ID_LEN], const struct sig_key **out)
{
    (void)user;
    *out = &((const struct keys_identity *)arg)->key;
    return 0;
}

/* Envelopes opened per second on one thread: a text message like the
 * pipeline's, sealed once for one device (wrapped to a pre-key), opened
 * E2E_N times with the sender's certificate cached, as a client does. */
static double run_open_only(void)
{
    static const uint8_t user[KEYS_ID_LEN] = "bench-user-00001";
    static const char text[] = "{\"msgtype\":1000,\"message\":\"message 1 of run 0: the "
                               "quarterly numbers\"}";
    const struct suite *su = suite_get(SUITE_DEFAULT);
    struct keys_identity id;
    struct keys_device snd, rcv;
    struct keys_cert_cache certs;
    struct envelope_header h = {0};
    struct envelope_splitter sp;
    struct buf env = BUF_INIT(1 << 16), d = BUF_INIT(1 << 16);
    int rc;

    if ((rc = keys_identity_generate(&id, su, user)) < 0 ||
        (rc = keys_device_generate(&snd, su, user)) < 0 ||
        (rc = keys_identity_certify(&id, &snd, 1)) < 0 ||
        (rc = keys_device_generate(&rcv, su, user)) < 0 ||
        (rc = keys_device_add_prekeys(&rcv, 1, 1)) < 0 ||
        (rc = keys_cert_cache_init(&certs, 64)) < 0)
        fail("open-only keys", rc);
    struct envelope_recipient r = {rcv.device_id, rcv.prekeys[0].id, &rcv.prekeys[0].key};
    if ((rc = envelope_seal(&snd, &h, &r, 1, (const uint8_t *)text, sizeof(text) - 1, &env)) < 0 ||
        (rc = envelope_splitter_init(&sp, env.data, env.len)) < 0 ||
        (rc = envelope_splitter_for(&sp, rcv.device_id, &d)) < 0)
        fail("open-only seal", rc);
    struct envelope_open_cb cb = {.identity = bench_identity, .arg = &id, .certs = &certs};
    double t0 = now_s();
    for (int i = 0; i < E2E_N; i++) {
        struct envelope_opened o;
        if ((rc = envelope_open(d.data, d.len, &rcv, &cb, &o)) < 0)
            fail("open", rc);
        envelope_opened_release(&o);
    }
    double rate = E2E_N / (now_s() - t0);
    envelope_splitter_release(&sp);
    buf_release(&env);
    buf_release(&d);
    keys_cert_cache_release(&certs);
    keys_device_release(&rcv);
    keys_device_release(&snd);
    keys_identity_release(&id);
    return rate;
}

/* ---- the whole pipeline ---- */

struct e2e {
    struct parley_client *c;
    json_t *config;
    char dir[600];
    volatile sig_atomic_t stop;
    int rc;
};

static void *e2e_run(void *arg)
{
    struct e2e *e = arg;
    struct integ_run r = {e->c, e->config, e->dir, &e->stop, 0};
    e->rc = compliance_run(&r);
    return NULL;
}

/* Lines in the log so far. Polled every 10 ms in this process, whose CPU
 * time is counted as the bot's: read in large blocks, not a byte at a
 * time, so the measuring costs little beside what it measures. */
static size_t count_lines(const char *dir)
{
    char path[700], b[1 << 16];
    size_t n = 0;
    ssize_t r;
    snprintf(path, sizeof(path), "%s/receivedMessages.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    while ((r = read(fd, b, sizeof(b))) > 0)
        for (const char *p = b, *end = b + r; (p = memchr(p, '\n', (size_t)(end - p))); p++)
            n++;
    close(fd);
    return n;
}

/* Messages per second from "receiver connects" to "last line synced". */
static double e2e_once(struct parleyd *srv, struct parley_config *cfg, const char *tmp, int run,
                       struct parley_client *alice, double *bot_us, double *srv_us,
                       double *send_rate)
{
    char user[32], path[600];
    struct e2e e = {0};
    uint8_t uid[16];
    int rc;

    snprintf(user, sizeof(user), "keeper%d", run);
    if (harness_provision_user(srv, NETWORK, user, "bench pw", uid) < 0)
        fail("provision", PARLEY_EIO);
    snprintf(path, sizeof(path), "%s/%s", tmp, user);
    if ((rc = parley_client_register(path, cfg, user, "bench pw", NULL, NULL, &e.c)) < 0)
        fail("register", rc);
    double ts = now_s();
    for (int i = 0; i < E2E_N; i++) {
        char text[64];
        snprintf(text, sizeof(text), "message %d of run %d: the quarterly numbers", i, run);
        if ((rc = parley_client_send_text(alice, user, text, NULL)) < 0)
            fail("send", rc);
    }
    *send_rate = E2E_N / (now_s() - ts);
    snprintf(e.dir, sizeof(e.dir), "%s/%s-log", tmp, user);
    if (mkdir(e.dir, 0700) < 0)
        fail("mkdir", PARLEY_EIO);
    e.config = json_pack("{ss}", "new_file_save", "no");
    pthread_t th;
    double t0 = now_s(), t1 = 0, c0 = harness_cpu_s(getpid()), s0 = harness_cpu_s(srv->pid);
    pthread_create(&th, NULL, e2e_run, &e);
    for (int t = 0; t < 600 * 100 && !t1; t++) {
        if (count_lines(e.dir) >= E2E_N)
            t1 = now_s();
        else
            usleep(10 * 1000);
    }
    /* CPU per message (this process is the bot here: the sender is idle). */
    *bot_us = (harness_cpu_s(getpid()) - c0) / E2E_N * 1e6;
    *srv_us = (harness_cpu_s(srv->pid) - s0) / E2E_N * 1e6;
    e.stop = 1;
    pthread_join(th, NULL);
    if (!t1 || e.rc < 0)
        fail("the bot did not write every line", e.rc < 0 ? e.rc : PARLEY_EBUSY);
    if (count_lines(e.dir) != E2E_N)
        fail("the log holds more lines than messages", PARLEY_EPROTO);
    parley_client_free(e.c);
    json_decref(e.config);
    return E2E_N / (t1 - t0);
}

int main(void)
{
    const char *base = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp";
    char dir[512];
    double full[RUNS], nosync[RUNS], fmt[RUNS], raw[RUNS];
    struct buf all = BUF_INIT((size_t)N * 512);
    uint64_t bytes = 0;

    snprintf(dir, sizeof(dir), "%s/parley-bench-retention-%d", base, (int)getpid());
    for (int r = 0; r < RUNS; r++) {
        full[r] = run_full(dir, true, &bytes);
        nosync[r] = run_full(dir, false, &bytes);
        fmt[r] = run_format_only(&all);
        raw[r] = run_write_only(dir, &all);
    }
    clean(dir);
    double f = median(full, RUNS), ns = median(nosync, RUNS), fo = median(fmt, RUNS),
           wo = median(raw, RUNS);
    printf("retention log: %d messages per run, median of %d runs, %.0f bytes per line, "
           "log in %s\n\n",
           N, RUNS, (double)bytes / N, base);
    printf("%-52s %12s %8s\n", "stage", "msgs/s", "ratio");
    printf("%-52s %12.0f %8.2f\n", "format + append + fdatasync per 256 lines (the bot)", f, 1.0);
    printf("%-52s %12.0f %8.2f\n", "format + append, no sync", ns, ns / f);
    printf("%-52s %12.0f %8.2f\n", "baseline: format only", fo, fo / f);
    printf("%-52s %12.0f %8.2f\n", "baseline: write + fdatasync per 256 lines only", wo, wo / f);
    buf_release(&all);

    /* The whole pipeline. */
    struct parleyd srv = {0};
    char tmp[] = "/tmp/parley-bench-retention-e2e-XXXXXX", path[600];
    double e2e[E2E_RUNS], bus[E2E_RUNS], sus[E2E_RUNS], snd[E2E_RUNS], opn[E2E_RUNS];
    uint8_t uid[16];
    int rc;

    if (!mkdtemp(tmp))
        fail("mkdtemp", PARLEY_EIO);
    if (harness_init(&srv, NULL) < 0 ||
        harness_provision_user(&srv, NETWORK, "alice", "bench pw", uid) < 0 ||
        harness_start(&srv) < 0)
        fail("start parleyd", PARLEY_EIO);
    snprintf(path, sizeof(path), "%s/bench.parley", tmp);
    struct parley_config *cfg = harness_client_config(&srv, NETWORK, path, "pw");
    if (!cfg)
        fail("config", PARLEY_EIO);
    struct parley_client *alice = NULL;
    snprintf(path, sizeof(path), "%s/alice", tmp);
    if ((rc = parley_client_register(path, cfg, "alice", "bench pw", NULL, NULL, &alice)) < 0 ||
        (rc = parley_client_connect(alice)) < 0 ||
        (rc = parley_client_wait_online(alice, 15000)) < 0)
        fail("alice", rc);
    for (int r = 0; r < E2E_RUNS; r++) {
        e2e[r] = e2e_once(&srv, cfg, tmp, r, alice, &bus[r], &sus[r], &snd[r]);
        opn[r] = run_open_only();
    }
    parley_client_free(alice);
    parley_config_free(cfg);
    harness_cleanup(&srv);
    clean(tmp);
    double ee = median(e2e, E2E_RUNS), oo = median(opn, E2E_RUNS);
    printf("\nwhole pipeline: %d text messages queued for an offline receiver, median of %d "
           "runs\n\n",
           E2E_N, E2E_RUNS);
    printf("%-52s %12s %8s\n", "stage", "msgs/s", "ratio");
    printf("%-52s %12.0f %8.2f\n", "connect, receive, open, store, log, sync (the bot)", ee, 1.0);
    printf("%-52s %12.0f %8.2f\n", "writer stage alone (above)", f, f / ee);
    printf("%-52s %12.0f %8.2f\n", "baseline: opening alone, one thread", oo, oo / ee);
    printf("\nCPU per message while catching up (median): bot %.0f us, parleyd %.0f us\n",
           median(bus, E2E_RUNS), median(sus, E2E_RUNS));
    printf("for information, the sender (parley_client_send_text, one at a time, each waiting "
           "for its ack): %.0f msgs/s\n",
           median(snd, E2E_RUNS));
    printf("\nwriter_msgs_per_s=%.0f\n", f);
    printf("retention_msgs_per_s=%.0f\n", ee);
    return 0;
}
