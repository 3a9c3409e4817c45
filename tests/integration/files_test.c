/* files_test.c - encrypted files end to end: libparley clients and raw
 * HTTP against a real parleyd, once per store backend. A file sent by one
 * user arrives byte for byte at another; uploads resume after the client
 * is killed and after the server is killed and restarted; the security
 * group's limits are refused before any byte is stored; a changed blob is
 * detected; blobs go when they expire or are deleted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <parley/parley.h>

#include "client_harness.h"
#include "harness.h"
#include "msgutil.h"
#include "provision.h"

#define NET "net-files"
#define MiB (1024 * 1024)

struct world {
    struct parleyd p;
    struct parley_config *cfg;
    char dirs[3][128]; /* client data directories: alice, bob, carol */
    char tmp[128];     /* files to send and receive */
};

static char *read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 64 * 1024);
    size_t n = fread(s, 1, 64 * 1024 - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static struct parley_config *make_config(const struct parleyd *p)
{
    char file[400];
    snprintf(file, sizeof(file), "%s/client.parley", p->dir);
    struct parley_config *cfg = harness_client_config(p, NET, file, "config pass");
    assert_non_null(cfg);
    return cfg;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    uint8_t id[16];
    if (harness_init(&w->p, NULL) < 0)
        return -1;
    w->p.keep_port = true;
    if (harness_provision_user(&w->p, NET, "alice", "initial pw", id) < 0 ||
        harness_provision_user(&w->p, NET, "bob", "initial pw", id) < 0 ||
        harness_provision_user(&w->p, NET, "carol", "initial pw", id) < 0)
        return -1;
    if (harness_start(&w->p) < 0)
        return -1;
    w->cfg = make_config(&w->p);
    for (int i = 0; i < 3; i++) {
        snprintf(w->dirs[i], sizeof(w->dirs[i]), "/tmp/parley-files-XXXXXX");
        if (!mkdtemp(w->dirs[i]))
            return -1;
    }
    snprintf(w->tmp, sizeof(w->tmp), "/tmp/parley-files-data-XXXXXX");
    if (!mkdtemp(w->tmp))
        return -1;
    *state = w;
    return 0;
}

static void rm_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot remove %s\n", dir);
}

static int teardown(void **state)
{
    struct world *w = *state;
    if (!w)
        return 0;
    parley_config_free(w->cfg);
    if (getenv("PARLEY_TEST_SHOW_LOG")) {
        char *log = harness_read(&w->p, "parleyd.log");
        fprintf(stderr, "%s", log ? log : "(no log)\n");
        free(log);
    }
    harness_cleanup(&w->p);
    for (int i = 0; i < 3; i++)
        rm_tree(w->dirs[i]);
    rm_tree(w->tmp);
    free(w);
    return 0;
}

static struct parley_client *reg(struct world *w, int dir, const char *user)
{
    struct parley_client *c = NULL;
    assert_int_equal(
        parley_client_register(w->dirs[dir], w->cfg, user, "initial pw", NULL, NULL, &c), 0);
    return c;
}

static struct parley_client *login(struct world *w, int dir, const char *user)
{
    struct parley_client *c = NULL;
    assert_int_equal(parley_client_login(w->dirs[dir], NULL, user, "initial pw", NULL, &c), 0);
    return c;
}

static void online(struct parley_client *c)
{
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 15000), 0);
}

/* A file of `len` random bytes (or, with `text`, compressible ones). */
static void make_file(const char *path, size_t len, bool text)
{
    FILE *f = fopen(path, "wb");
    uint8_t *buf = malloc(MiB);
    assert_non_null(f);
    for (size_t done = 0; done < len;) {
        size_t n = len - done < MiB ? len - done : MiB;
        if (text)
            for (size_t i = 0; i < n; i++)
                buf[i] =
                    (uint8_t)("the quick brown fox jumps over the lazy dog\n"[(done + i) % 44]);
        else
            assert_int_equal(RAND_bytes(buf, (int)n), 1);
        assert_int_equal(fwrite(buf, 1, n, f), n);
        done += n;
    }
    fclose(f);
    free(buf);
}

static void assert_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    uint8_t *ba = malloc(MiB), *bb = malloc(MiB);
    size_t na, nb;
    assert_non_null(fa);
    assert_non_null(fb);
    do {
        na = fread(ba, 1, MiB, fa);
        nb = fread(bb, 1, MiB, fb);
        assert_int_equal(na, nb);
        assert_memory_equal(ba, bb, na);
    } while (na > 0);
    fclose(fa);
    fclose(fb);
    free(ba);
    free(bb);
}

/* The next file message within 30 s: its id and payload. */
static json_t *next_file(struct parley_client *c, char msg_id[PARLEY_ID_HEX])
{
    for (int i = 0; i < 150; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 200, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE && ev->msgtype == 6000) {
            json_t *body = json_loads(ev->body, 0, NULL);
            memcpy(msg_id, ev->msg_id, PARLEY_ID_HEX);
            parley_event_free(ev);
            return body;
        }
        parley_event_free(ev);
    }
    fail_msg("no file message arrived");
    return NULL;
}

/* Blobs in the server's data directory: how many, and the total length. */
static int blobs(const struct parleyd *p, long long *bytes)
{
    char dir[300];
    DIR *d;
    struct dirent *e;
    int n = 0;

    *bytes = 0;
    snprintf(dir, sizeof(dir), "%s/files", p->dir);
    if (!(d = opendir(dir)))
        return 0;
    while ((e = readdir(d))) {
        char path[600];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0) {
            n++;
            *bytes += st.st_size;
        }
    }
    closedir(d);
    return n;
}

static void path_in(const struct world *w, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", w->tmp, name);
}

struct progress_log {
    uint64_t first, last;
    int calls;
    uint64_t kill_at; /* raise SIGKILL once done reaches it (0: never) */
};

static int on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress_log *l = arg;
    if (l->calls++ == 0)
        l->first = done;
    l->last = done;
    assert_true(done <= total);
    if (l->kill_at && done >= l->kill_at)
        raise(SIGKILL);
    return 0;
}

static void test_files__send_and_get_both_ways(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    char src[300], dst[300], id[PARLEY_ID_HEX], got[PARLEY_ID_HEX], why[256] = "";
    struct progress_log pl = {0};
    struct parley_file_opts o = {.name = "report.bin",
                                 .progress = on_progress,
                                 .progress_arg = &pl,
                                 .error = why,
                                 .error_len = sizeof(why)};
    long long bytes;

    online(a);
    online(b);
    /* Three records and a bit: record boundaries are crossed. */
    path_in(w, "src.bin", src, sizeof(src));
    make_file(src, 3 * MiB + 12345, false);
    assert_int_equal(parley_file_send(a, "bob", src, &o, id), 0);
    assert_int_equal(pl.last, 3 * MiB + 12345);

    json_t *p = next_file(b, got);
    assert_string_equal(got, id);
    json_t *f = json_object_get(p, "file");
    assert_string_equal(json_string_value(json_object_get(f, "filename")), "report.bin");
    assert_int_equal(json_integer_value(json_object_get(f, "size")), 3 * MiB + 12345);
    assert_string_equal(json_string_value(json_object_get(f, "uploadedbyuser")), "alice");
    assert_false(json_is_true(json_object_get(f, "isscreenshot")));
    assert_int_equal(strlen(json_string_value(json_object_get(f, "guid"))), 32);
    /* The server holds ciphertext only: not the plaintext, a bit longer. */
    assert_int_equal(blobs(&w->p, &bytes), 1);
    assert_int_equal(bytes, 3 * MiB + 12345 + 4 * 20);
    json_decref(p);

    path_in(w, "dst.bin", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), 0);
    assert_same_file(src, dst);
    /* The sender reads its own file back too (its other devices would). */
    path_in(w, "dst2.bin", dst, sizeof(dst));
    assert_int_equal(parley_file_get(a, id, dst, NULL), 0);
    assert_same_file(src, dst);

    /* An empty file, and a voice memo, the other way. */
    path_in(w, "empty", src, sizeof(src));
    make_file(src, 0, false);
    o = (struct parley_file_opts){.is_voice_memo = 1, .voice_memo_duration_s = 7};
    assert_int_equal(parley_file_send(b, "alice", src, &o, id), 0);
    p = next_file(a, got);
    f = json_object_get(p, "file");
    assert_true(json_is_true(json_object_get(f, "isvoicememo")));
    assert_int_equal(json_integer_value(json_object_get(f, "voicememoduration")), 7);
    json_decref(p);
    path_in(w, "empty.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(a, got, dst, NULL), 0);
    assert_same_file(src, dst);

    parley_client_free(a);
    parley_client_free(b);
}

static void test_files__compression_before_encryption(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], id[PARLEY_ID_HEX], got[PARLEY_ID_HEX];
    long long bytes;

    assert_int_equal(harness_stop(&w->p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_provision_sql(&w->p, "UPDATE security_groups SET settings = "
                                                  "'{\"file_compression\": true}'"),
                     0);
    assert_int_equal(harness_start(&w->p), 0);
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    online(b);
    path_in(w, "text.txt", src, sizeof(src));
    make_file(src, 5 * MiB, true);
    assert_int_equal(parley_file_send(a, "bob", src, NULL, id), 0);
    /* Deflated before sealing: far smaller on the server. */
    assert_int_equal(blobs(&w->p, &bytes), 1);
    assert_true(bytes < MiB / 4);
    json_t *p = next_file(b, got);
    assert_true(json_is_true(json_object_get(json_object_get(p, "file"), "compressed")));
    json_decref(p);
    path_in(w, "text.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), 0);
    assert_same_file(src, dst);
    parley_client_free(a);
    parley_client_free(b);
}

static void test_files__limits_refused_before_any_byte(void **state)
{
    struct world *w = *state;
    char src[300], why[256] = "", id[PARLEY_ID_HEX];
    struct parley_file_opts o = {.error = why, .error_len = sizeof(why)};
    long long bytes;

    assert_int_equal(harness_stop(&w->p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_provision_sql(&w->p, "UPDATE security_groups SET settings = "
                                                  "'{\"max_upload_bytes\": 4096}'"),
                     0);
    assert_int_equal(harness_start(&w->p), 0);
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    online(b);
    path_in(w, "big", src, sizeof(src));
    make_file(src, 5000, false);
    assert_int_equal(parley_file_send(a, "bob", src, &o, id), PARLEY_ETOOBIG);
    assert_non_null(strstr(why, "at most 4096 bytes"));
    assert_non_null(strstr(why, "max_upload_bytes"));
    assert_int_equal(blobs(&w->p, &bytes), 0);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 0);
    /* At the limit it goes. */
    make_file(src, 4096, false);
    assert_int_equal(parley_file_send(a, "bob", src, &o, id), 0);

    /* Attachments off: no upload, and no download of what was sent. */
    char got[PARLEY_ID_HEX], dst[300];
    json_decref(next_file(b, got));
    parley_client_free(a);
    parley_client_free(b);
    assert_int_equal(harness_stop(&w->p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_provision_sql(&w->p, "UPDATE security_groups SET settings = "
                                                  "'{\"file_attachments\": false}'"),
                     0);
    assert_int_equal(harness_start(&w->p), 0);
    a = login(w, 0, "alice");
    b = login(w, 1, "bob");
    online(a);
    why[0] = 0;
    make_file(src, 10, false);
    assert_int_equal(parley_file_send(a, "bob", src, &o, id), PARLEY_EPERM);
    assert_non_null(strstr(why, "file_attachments"));
    path_in(w, "refused", dst, sizeof(dst));
    why[0] = 0;
    assert_int_equal(parley_file_get(b, got, dst, &o), PARLEY_EPERM);
    assert_non_null(strstr(why, "turned off"));
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 1);
    parley_client_free(a);
    parley_client_free(b);
}

static void test_files__resume_after_client_killed(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], id[PARLEY_ID_HEX], got[PARLEY_ID_HEX];
    struct progress_log pl = {0};
    struct parley_file_opts o = {.progress = on_progress, .progress_arg = &pl};
    long long bytes;
    int status;

    parley_client_free(reg(w, 0, "alice"));
    struct parley_client *b = reg(w, 1, "bob");
    path_in(w, "big.bin", src, sizeof(src));
    make_file(src, 40 * MiB, false);

    /* The first sender is killed outright half way through. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct parley_client *a = login(w, 0, "alice");
        struct progress_log kl = {.kill_at = 20 * MiB};
        struct parley_file_opts ko = {.progress = on_progress, .progress_arg = &kl};
        online(a);
        parley_file_send(a, "bob", src, &ko, id);
        _exit(3); /* not reached when the kill happened */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(blobs(&w->p, &bytes), 1);
    assert_true(bytes >= 16 * MiB && bytes < 40 * MiB);

    /* Sending the same file again goes on from where the server is. */
    struct parley_client *a = login(w, 0, "alice");
    online(a);
    online(b);
    assert_int_equal(parley_file_send(a, "bob", src, &o, id), 0);
    assert_true(pl.first >= 16 * MiB);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 1);

    json_decref(next_file(b, got));
    path_in(w, "big.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), 0);
    assert_same_file(src, dst);
    parley_client_free(a);
    parley_client_free(b);
}

struct sender {
    struct parley_client *c;
    const char *src;
    char id[PARLEY_ID_HEX];
    int rc;
};

static void *send_thread(void *arg)
{
    struct sender *s = arg;
    s->rc = parley_file_send(s->c, "bob", s->src, NULL, s->id);
    return NULL;
}

static void test_files__resume_after_server_restart(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], got[PARLEY_ID_HEX];
    struct sender s = {0};
    pthread_t t;
    long long bytes = 0;

    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    path_in(w, "big.bin", src, sizeof(src));
    make_file(src, 40 * MiB, false);
    s.c = a;
    s.src = src;
    assert_int_equal(pthread_create(&t, NULL, send_thread, &s), 0);
    /* Kill the server once part of the file is in, then start it again. */
    for (int i = 0; i < 3000 && bytes < 8 * MiB; i++) {
        usleep(2000);
        blobs(&w->p, &bytes);
    }
    assert_true(bytes >= 8 * MiB);
    assert_int_equal(harness_stop(&w->p, SIGKILL, 10, NULL), 128 + SIGKILL);
    blobs(&w->p, &bytes);
    assert_true(bytes < 40 * MiB);
    usleep(300 * 1000);
    assert_int_equal(harness_start(&w->p), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(s.rc, 0);

    online(b);
    json_decref(next_file(b, got));
    assert_string_equal(got, s.id);
    path_in(w, "big.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), 0);
    assert_same_file(src, dst);
    parley_client_free(a);
    parley_client_free(b);
}

/* The one blob of the server, for tampering. */
static void blob_path(const struct parleyd *p, char *out, size_t n)
{
    char dir[300];
    DIR *d;
    struct dirent *e;
    snprintf(dir, sizeof(dir), "%s/files", p->dir);
    d = opendir(dir);
    assert_non_null(d);
    out[0] = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            snprintf(out, n, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(out[0] != 0);
}

static void test_files__tampered_blob_detected(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], blob[700], why[256] = "", id[PARLEY_ID_HEX], got[PARLEY_ID_HEX];
    struct parley_file_opts o = {.error = why, .error_len = sizeof(why)};
    struct stat st;

    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    online(b);
    path_in(w, "src.bin", src, sizeof(src));
    make_file(src, 2 * MiB + 100, false);
    assert_int_equal(parley_file_send(a, "bob", src, NULL, id), 0);
    json_decref(next_file(b, got));
    blob_path(&w->p, blob, sizeof(blob));

    /* One bit changed in the second record, on the server's disk. */
    int fd = open(blob, O_RDWR);
    uint8_t byte;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &byte, 1, MiB + 100), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, MiB + 100), 1);
    path_in(w, "tampered.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, &o), PARLEY_EAUTH);
    assert_non_null(strstr(why, "integrity"));
    assert_int_not_equal(stat(dst, &st), 0); /* nothing half-checked is handed out */
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, MiB + 100), 1);

    /* Truncated: the final record gone. */
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(ftruncate(fd, 2 * (MiB + 20)), 0);
    close(fd);
    why[0] = 0;
    path_in(w, "truncated.out", dst, sizeof(dst));
    assert_true(parley_file_get(b, got, dst, &o) < 0);
    assert_int_not_equal(stat(dst, &st), 0);
    parley_client_free(a);
    parley_client_free(b);
}

static void test_files__blobs_removed_after_expiry_and_recall(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], id[PARLEY_ID_HEX], got[PARLEY_ID_HEX];
    long long bytes;

    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    online(b);
    path_in(w, "src.bin", src, sizeof(src));
    make_file(src, 100000, false);

    /* Recall: the uploader deletes it; the blob goes at once. */
    assert_int_equal(parley_file_send(a, "bob", src, NULL, id), 0);
    json_decref(next_file(b, got));
    assert_int_equal(blobs(&w->p, &bytes), 1);
    assert_int_equal(parley_file_delete(b, got), PARLEY_EPERM); /* not bob's */
    assert_int_equal(parley_file_delete(a, id), 0);
    for (int i = 0; i < 100 && blobs(&w->p, &bytes) > 0; i++)
        usleep(50000);
    assert_int_equal(blobs(&w->p, &bytes), 0);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 0);
    path_in(w, "gone.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), PARLEY_ENOTFOUND);

    /* Expiry: the sweep removes a file whose time has come. */
    assert_int_equal(parley_file_send(a, "bob", src, NULL, id), 0);
    json_decref(next_file(b, got));
    assert_int_equal(blobs(&w->p, &bytes), 1);
    assert_int_equal(harness_provision_sql(&w->p, "UPDATE files SET expires_at = 1"), 0);
    for (int i = 0; i < 200 && blobs(&w->p, &bytes) > 0; i++)
        usleep(50000);
    assert_int_equal(blobs(&w->p, &bytes), 0);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 0);
    assert_int_equal(parley_file_get(b, got, dst, NULL), PARLEY_ENOTFOUND);
    parley_client_free(a);
    parley_client_free(b);
}

/* Wait up to 10 s for the server to hold `n` blobs. */
static void wait_blobs(const struct world *w, int n)
{
    long long bytes;
    for (int i = 0; i < 200 && blobs(&w->p, &bytes) != n; i++)
        usleep(50000);
    assert_int_equal(blobs(&w->p, &bytes), n);
}

static void expect_msgtype(struct parley_client *c, int msgtype);

static void test_files__blob_burnt_once_every_member_read_it(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], room[PARLEY_ID_HEX], id[PARLEY_ID_HEX], got[PARLEY_ID_HEX],
        got_c[PARLEY_ID_HEX];
    const char *members[] = {"bob", "carol"};
    struct parley_client *a, *b, *c;
    struct stat st;

    a = reg(w, 0, "alice");
    b = reg(w, 1, "bob");
    c = reg(w, 2, "carol");
    online(a);
    online(b);
    online(c);
    /* A room with burn-on-read: its files burn once read. */
    assert_int_equal(parley_conv_create(a, "room", "Burn", members, 2, NULL, 0, 0, 30, room), 0);
    expect_msgtype(b, 4001);
    expect_msgtype(c, 4001);
    path_in(w, "secret.bin", src, sizeof(src));
    make_file(src, 2 * MiB + 7, false);
    assert_int_equal(parley_file_send(a, room, src, NULL, id), 0);
    json_decref(next_file(b, got));
    json_decref(next_file(c, got_c));
    assert_int_equal(
        harness_provision_count(&w->p, "SELECT COUNT(*) FROM files WHERE burn_on_read = 1"), 1);

    /* Bob reads it; carol has not: it stays, and the uploader reading it
     * changes nothing. */
    path_in(w, "bob.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), 0);
    assert_same_file(src, dst);
    path_in(w, "alice.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(a, id, dst, NULL), 0);
    usleep(300000);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 1);
    wait_blobs(w, 1);

    /* Carol reads it to the end: the blob and its row go. */
    path_in(w, "carol.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(c, got_c, dst, NULL), 0);
    assert_same_file(src, dst);
    wait_blobs(w, 0);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 0);
    /* Read once: not again, by anyone. */
    path_in(w, "again.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), PARLEY_ENOTFOUND);
    assert_int_not_equal(stat(dst, &st), 0);

    /* Without burn-on-read a file read by everyone stays. */
    assert_int_equal(parley_file_send(a, "bob", src, NULL, id), 0);
    json_decref(next_file(b, got));
    path_in(w, "kept.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), 0);
    usleep(300000);
    wait_blobs(w, 1);
    assert_int_equal(
        harness_provision_count(&w->p, "SELECT COUNT(*) FROM files WHERE burn_on_read = 0"), 1);
    parley_client_free(a);
    parley_client_free(b);
    parley_client_free(c);
}

static void test_files__blob_removed_with_its_room(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], room[PARLEY_ID_HEX], id[PARLEY_ID_HEX], got[PARLEY_ID_HEX],
        kept[PARLEY_ID_HEX];
    const char *members[] = {"bob"};
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");

    online(a);
    online(b);
    assert_int_equal(parley_conv_create(a, "room", "Short-lived", members, 1, NULL, 0, 0, 0, room),
                     0);
    expect_msgtype(b, 4001);
    path_in(w, "room.bin", src, sizeof(src));
    make_file(src, MiB + 3, false);
    assert_int_equal(parley_file_send(a, room, src, NULL, id), 0);
    json_decref(next_file(b, got));
    /* And one in the direct conversation, which the room's end leaves. */
    assert_int_equal(parley_file_send(a, "bob", src, NULL, kept), 0);
    json_decref(next_file(b, kept));
    wait_blobs(w, 2);

    assert_int_equal(parley_conv_delete(a, room), 0);
    wait_blobs(w, 1);
    assert_int_equal(harness_provision_count(&w->p, "SELECT COUNT(*) FROM files"), 1);
    path_in(w, "room.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, got, dst, NULL), PARLEY_ENOTFOUND);
    path_in(w, "kept.out", dst, sizeof(dst));
    assert_int_equal(parley_file_get(b, kept, dst, NULL), 0);
    assert_same_file(src, dst);
    parley_client_free(a);
    parley_client_free(b);
}

/* The next message of type `msgtype` within 30 s. */
static void expect_msgtype(struct parley_client *c, int msgtype)
{
    for (int i = 0; i < 150; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 200, &ev) < 0)
            continue;
        int mt = ev->type == PARLEY_EVENT_MESSAGE ? ev->msgtype : 0;
        parley_event_free(ev);
        if (mt == msgtype)
            return;
    }
    fail_msg("no message of type %d arrived", msgtype);
}

/* A file of the view by name: its guid and folder, or NULL. */
static json_t *vault_file(struct parley_client *c, const char *room, const char *name)
{
    char *s = NULL;
    json_t *v, *f, *found = NULL;
    size_t i;
    assert_int_equal(parley_vault_list(c, room, &s), 0);
    v = json_loads(s, 0, NULL);
    free(s);
    json_array_foreach(json_object_get(v, "files"), i, f)
    {
        assert_null(json_object_get(f, "key")); /* the list never shows keys */
        if (strcmp(json_string_value(json_object_get(f, "filename")), name) == 0)
            found = json_incref(f);
    }
    json_decref(v);
    return found;
}

static bool has_folder(struct parley_client *c, const char *room, const char *folder)
{
    char *s = NULL;
    bool has;
    assert_int_equal(parley_vault_list(c, room, &s), 0);
    has = strstr(s, folder) != NULL;
    free(s);
    return has;
}

static void test_files__room_files_view_with_folders(void **state)
{
    struct world *w = *state;
    char src[300], src2[300], dst[300], room[PARLEY_ID_HEX], guid[PARLEY_ID_HEX], id[PARLEY_ID_HEX],
        got[PARLEY_ID_HEX], why[256] = "";
    struct parley_file_opts o = {.error = why, .error_len = sizeof(why)};
    const char *members[] = {"bob"};
    long long bytes;

    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    online(b);
    assert_int_equal(parley_conv_create(a, "room", "Ops", members, 1, NULL, 0, 0, 0, room), 0);
    expect_msgtype(b, 4001);
    path_in(w, "plan.pdf", src, sizeof(src));
    make_file(src, 1500000, false);

    /* Off for the network: refused when the upload is created. */
    assert_int_equal(parley_vault_upload(a, room, src, "/", &o, guid), PARLEY_EPERM);
    assert_non_null(strstr(why, "file_management"));
    assert_int_equal(blobs(&w->p, &bytes), 0);
    assert_int_equal(harness_provision_sql(
                         &w->p, "INSERT INTO network_options (network_id, settings, updated_at) "
                                "SELECT id, '{\"file_management\": true}', 0 FROM networks"),
                     0);

    /* The moderator makes a folder and uploads into it. */
    assert_int_equal(parley_vault_mkdir(a, room, "/reports"), 0);
    assert_int_equal(parley_vault_upload(a, room, src, "/reports", NULL, guid), 0);
    expect_msgtype(b, 4004);
    expect_msgtype(b, 4004);
    assert_true(has_folder(b, room, "\"/reports\""));
    json_t *f = vault_file(b, room, "plan.pdf");
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "folder")), "/reports");
    assert_string_equal(json_string_value(json_object_get(f, "guid")), guid);
    json_decref(f);
    /* A member downloads it. */
    path_in(w, "plan.out", dst, sizeof(dst));
    assert_int_equal(parley_vault_get(b, room, guid, dst, NULL), 0);
    assert_same_file(src, dst);

    /* Members view; they do not change the view, and nothing is uploaded. */
    assert_int_equal(parley_vault_mkdir(b, room, "/mine"), PARLEY_EPERM);
    why[0] = 0;
    assert_int_equal(parley_vault_upload(b, room, src, "/", &o, guid), PARLEY_EPERM);
    assert_non_null(strstr(why, "moderators"));
    assert_int_equal(blobs(&w->p, &bytes), 1);

    /* A file sent to the room is saved from its message. */
    path_in(w, "minutes.txt", src2, sizeof(src2));
    make_file(src2, 3000, true);
    assert_int_equal(parley_file_send(a, room, src2, NULL, id), 0);
    json_decref(next_file(b, got));
    assert_int_equal(parley_vault_save(b, room, got, "/"), PARLEY_EPERM);
    assert_int_equal(parley_vault_save(a, room, id, "/"), 0);
    expect_msgtype(b, 4004);
    f = vault_file(b, room, "minutes.txt");
    assert_non_null(f);
    char saved[PARLEY_ID_HEX];
    snprintf(saved, sizeof(saved), "%s", json_string_value(json_object_get(f, "guid")));
    json_decref(f);

    /* Saved files outlive their messages' expiry; others do not. */
    assert_int_equal(harness_provision_sql(&w->p, "UPDATE files SET expires_at = 1"), 0);
    usleep(4500 * 1000); /* two sweeps */
    assert_int_equal(blobs(&w->p, &bytes), 2);

    /* Organise: move to the top; delete one. */
    assert_int_equal(parley_vault_move(a, room, guid, "/"), 0);
    expect_msgtype(b, 4004);
    f = vault_file(b, room, "plan.pdf");
    assert_string_equal(json_string_value(json_object_get(f, "folder")), "/");
    json_decref(f);
    assert_int_equal(parley_vault_delete(a, room, saved), 0);
    expect_msgtype(b, 4004);
    assert_null(vault_file(b, room, "minutes.txt"));
    for (int i = 0; i < 100 && blobs(&w->p, &bytes) > 1; i++)
        usleep(50000);
    assert_int_equal(blobs(&w->p, &bytes), 1);
    /* Bad folder paths are refused. */
    assert_int_equal(parley_vault_mkdir(a, room, "reports"), PARLEY_EINVAL);
    assert_int_equal(parley_vault_mkdir(a, room, "/a/../b"), PARLEY_EINVAL);
    parley_client_free(a);
    parley_client_free(b);
}

/* One raw request with a device token and extra headers; the body is
 * sent as it is. Returns the status; *out gets the JSON answer (may be
 * NULL), r the raw answer. */
static long raw(const struct parleyd *p, const char *method, const char *path, const char *token,
                const char *body, const char *h1, const char *h2, struct http_resp *r)
{
    char auth[200];
    const char *hdrs[4] = {auth, h1, h1 ? h2 : NULL, NULL};
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    assert_int_equal(harness_http_h(p, method, path, body, hdrs, r), 0);
    return r->status;
}

static const char *err_msg(const struct http_resp *r, char *buf, size_t n)
{
    json_t *j = json_loads(r->body, 0, NULL);
    snprintf(buf, n, "%s",
             json_string_value(json_object_get(json_object_get(j, "error"), "message")) ?: "");
    json_decref(j);
    return buf;
}

static void test_files__bad_input_gets_clear_errors(void **state)
{
    struct world *w = *state;
    struct tc_user ua, ub;
    struct tc_device da, db;
    uint8_t conv[KEYS_ID_LEN];
    struct http_resp r;
    char body[300], path[200], dpath[220], m[512], id[40];
    json_t *j = NULL;

    assert_int_equal(harness_stop(&w->p, SIGTERM, 10, NULL), 0);
    tc_user_provision(&w->p, &ua, "ann");
    tc_user_provision(&w->p, &ub, "ben");
    assert_int_equal(harness_start(&w->p), 0);
    tc_user_ready(&w->p, &ua, &da);
    tc_user_ready(&w->p, &ub, &db);
    tc_conv_direct(&w->p, &da, &ub, conv);

    /* Creating an upload. */
    assert_int_equal(tc_http(&w->p, "POST", "/api/v1/client/files", NULL, "{}", NULL), 401);
    assert_int_equal(tc_http(&w->p, "POST", "/api/v1/client/files", da.token,
                             "{\"conv_id\":\"xyz\",\"size\":1}", NULL),
                     400);
    snprintf(body, sizeof(body), "{\"conv_id\":\"%s\",\"size\":6000000000}", tc_hex(conv));
    assert_int_equal(tc_http(&w->p, "POST", "/api/v1/client/files", da.token, body, NULL), 400);
    assert_int_equal(tc_http(&w->p, "POST", "/api/v1/client/files", da.token,
                             "{\"conv_id\":\"00112233445566778899aabbccddeeff\",\"size\":1}", NULL),
                     404);
    snprintf(body, sizeof(body), "{\"conv_id\":\"%s\",\"size\":100}", tc_hex(conv));
    assert_int_equal(tc_http(&w->p, "POST", "/api/v1/client/files", da.token, body, &j), 201);
    assert_int_equal(json_integer_value(json_object_get(j, "max_bytes")), 120);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "file_id")));
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/client/files/%s", id);
    snprintf(dpath, sizeof(dpath), "%s/data", path);

    /* Parts: each refusal says what to send instead. */
    assert_int_equal(raw(&w->p, "PUT", path, da.token, "0123456789", NULL, NULL, &r), 400);
    assert_non_null(strstr(err_msg(&r, m, sizeof(m)), "Content-Range"));
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, "0123456789", "Content-Range: bytes 9-0/10", NULL, &r),
        400);
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, "0123456789", "Content-Range: bytes 0-8/120", NULL, &r),
        400); /* length differs from the range */
    assert_non_null(strstr(err_msg(&r, m, sizeof(m)), "Content-Length"));
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, "0123456789", "Content-Range: bytes 10-19/120", NULL, &r),
        409);
    j = json_loads(r.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "received")), 0);
    json_decref(j);
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, "0123456789", "Content-Range: bytes 0-9/200", NULL, &r),
        413);
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, db.token, "0123456789", "Content-Range: bytes 0-9/*", NULL, &r),
        403); /* not the uploader */
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, "0123456789", "Content-Range: bytes 0-9/*", NULL, &r),
        200);
    http_resp_free(&r);
    assert_int_equal(tc_http(&w->p, "GET", dpath, db.token, NULL, NULL), 409); /* not complete */
    char rest[111];
    for (int i = 0; i < 110; i++)
        rest[i] = (char)('a' + i % 26);
    rest[110] = 0;
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, rest, "Content-Range: bytes 10-119/120", NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"complete\":true"));
    http_resp_free(&r);
    assert_int_equal(
        raw(&w->p, "PUT", path, da.token, "0123456789", "Content-Range: bytes 0-9/*", NULL, &r),
        409); /* complete already */
    http_resp_free(&r);

    /* Downloads, whole and ranged. */
    assert_int_equal(raw(&w->p, "GET", dpath, db.token, NULL, NULL, NULL, &r), 200);
    assert_int_equal(strlen(r.body), 120);
    assert_memory_equal(r.body, "0123456789abc", 13);
    http_resp_free(&r);
    assert_int_equal(raw(&w->p, "GET", dpath, db.token, NULL, "Range: bytes=5-12", NULL, &r), 206);
    assert_string_equal(r.body, "56789abc");
    assert_non_null(strcasestr(r.headers, "content-range: bytes 5-12/120"));
    http_resp_free(&r);
    assert_int_equal(raw(&w->p, "GET", dpath, db.token, NULL, "Range: bytes=-3", NULL, &r), 206);
    assert_int_equal(strlen(r.body), 3);
    http_resp_free(&r);
    assert_int_equal(raw(&w->p, "GET", dpath, db.token, NULL, "Range: bytes=500-", NULL, &r), 416);
    assert_non_null(strcasestr(r.headers, "content-range: bytes */120"));
    http_resp_free(&r);

    /* Deleting: not by the other member; by the uploader, and it is gone. */
    assert_int_equal(tc_http(&w->p, "DELETE", path, db.token, NULL, NULL), 403);
    assert_int_equal(tc_http(&w->p, "DELETE", path, da.token, NULL, NULL), 200);
    assert_int_equal(tc_http(&w->p, "GET", path, db.token, NULL, NULL), 404);
    assert_int_equal(tc_http(&w->p, "GET", "/api/v1/client/files/nothex", da.token, NULL, NULL),
                     400);
    tc_device_release(&da);
    tc_device_release(&db);
    tc_user_release(&ua);
    tc_user_release(&ub);
}

/* Run the parley command line ($PARLEY_CLI) as `user` of client
 * directory `dir`; stdout into *out. Returns the exit status. */
static int cli(struct world *w, int dir, const char *user, char *const args[], char **out)
{
    char pw[300], tout[] = "/tmp/parley-cli.XXXXXX", *argv[16];
    int fo = mkstemp(tout), status, n = 0;
    FILE *f;

    snprintf(pw, sizeof(pw), "%s/pw", w->dirs[dir]);
    f = fopen(pw, "w");
    fprintf(f, "initial pw\n");
    fclose(f);
    argv[n++] = "parley";
    argv[n++] = "--data-dir";
    argv[n++] = w->dirs[dir];
    argv[n++] = "--username";
    argv[n++] = (char *)user;
    argv[n++] = "--password-file";
    argv[n++] = pw;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1);
        execv(getenv("PARLEY_CLI"), argv);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    *out = read_small(tout);
    close(fo);
    unlink(tout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_files__cli_send_file_and_get_file(void **state)
{
    struct world *w = *state;
    char src[300], dst[300], *out = NULL, msg_id[PARLEY_ID_HEX];

    assert_non_null(getenv("PARLEY_CLI"));
    parley_client_free(reg(w, 0, "alice"));
    parley_client_free(reg(w, 1, "bob"));
    path_in(w, "notes.bin", src, sizeof(src));
    make_file(src, 2 * MiB + 7, false);
    char *send[] = {"send-file", "bob", src, NULL};
    assert_int_equal(cli(w, 0, "alice", send, &out), 0);
    assert_int_equal(strlen(out), 33); /* the message id and a newline */
    snprintf(msg_id, sizeof(msg_id), "%.32s", out);
    free(out);

    path_in(w, "notes.out", dst, sizeof(dst));
    char *get[] = {"get-file", msg_id, dst, NULL};
    assert_int_equal(cli(w, 1, "bob", get, &out), 0);
    free(out);
    assert_same_file(src, dst);
    /* A message that is not a file's is refused with a reason. */
    char *bad[] = {"get-file", "00112233445566778899aabbccddeeff", dst, NULL};
    assert_int_equal(cli(w, 1, "bob", bad, &out), 1);
    free(out);
    char *usage[] = {"get-file", msg_id, NULL};
    assert_int_equal(cli(w, 1, "bob", usage, &out), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_files__send_and_get_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__compression_before_encryption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__limits_refused_before_any_byte, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_files__resume_after_client_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__resume_after_server_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__tampered_blob_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__blobs_removed_after_expiry_and_recall, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_files__blob_burnt_once_every_member_read_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_files__blob_removed_with_its_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__room_files_view_with_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__bad_input_gets_clear_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files__cli_send_file_and_get_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
