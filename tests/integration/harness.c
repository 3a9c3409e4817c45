/* harness.c - see harness.h. */
#include "harness.h"
#include "testdb.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const char *parleyd_path(void)
{
    const char *p = getenv("PARLEYD");
    return p ? p : "parleyd";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *harness_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    if (fread(data, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    data[n] = 0;
    fclose(f);
    return data;
}

char *harness_read_log(const char *path)
{
    char *s = harness_read_file(path);
    for (int i = 0; i < 40 && s && *s && s[strlen(s) - 1] != '\n'; i++) {
        free(s);
        usleep(50 * 1000);
        s = harness_read_file(path);
    }
    return s;
}

char *harness_read(const struct parleyd *p, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", p->dir, name);
    return harness_read_file(path);
}

int harness_init(struct parleyd *p, const char *extra_config)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/parley-it.XXXXXX");
    if (!mkdtemp(p->dir))
        return -1;
    p->extra_config = extra_config ? strdup(extra_config) : NULL;
    /* SQLite: the zero-configuration default, a file in the data directory
     * (which parleyd hands to its service user when started as root). */
    if (strcmp(testdb_backend(), "pg") != 0)
        return 0;
    return testdb_create(&p->store_uri) < 0 ? -1 : 0;
}

static int write_config(const struct parleyd *p, char *path, size_t len)
{
    FILE *f;
    snprintf(path, len, "%s.conf", p->dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# written by the test harness\nshutdown_timeout = 5\n%s%s\n%s\n",
            p->store_uri ? "store = " : "", p->store_uri ? p->store_uri : "",
            p->extra_config ? p->extra_config : "");
    fclose(f);
    return 0;
}

/* The port from `listening on https://127.0.0.1:PORT` in the log. */
static int find_port(const char *log)
{
    const char *s = log ? strstr(log, "listening on https://127.0.0.1:") : NULL;
    return s ? (int)strtol(s + strlen("listening on https://127.0.0.1:"), NULL, 10) : 0;
}

int harness_start(struct parleyd *p)
{
    char conf[300], out[300], logf[300], listen[32] = "127.0.0.1:0";
    double deadline = now_s() + 60;
    pid_t pid;

    if (write_config(p, conf, sizeof(conf)) < 0)
        return -1;
    snprintf(out, sizeof(out), "%s/stdout.txt", p->dir);
    snprintf(logf, sizeof(logf), "%s/parleyd.log", p->dir);
    /* A restart must find its own line, not the previous run's. */
    unlink(logf);
    /* Clients configured with the first port find a restarted server. */
    if (p->keep_port && p->port > 0)
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", p->port);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execl(parleyd_path(), "parleyd", "--config", conf, "--data-dir", p->dir, "--listen", listen,
              (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    while (now_s() < deadline) {
        int status;
        char *log;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            p->pid = 0;
            log = harness_read(p, "parleyd.log");
            fprintf(stderr, "parleyd exited during start-up:\n%s\n", log ? log : "");
            free(log);
            return -1;
        }
        log = harness_read(p, "parleyd.log");
        p->port = find_port(log);
        free(log);
        if (p->port > 0)
            return 0;
        usleep(20000);
    }
    fprintf(stderr, "parleyd did not listen within 60 s\n");
    harness_stop(p, SIGKILL, 5, NULL);
    return -1;
}

int harness_stop(struct parleyd *p, int sig, double timeout_s, double *elapsed_s)
{
    double t0 = now_s();
    int status;

    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    while (now_s() - t0 < timeout_s) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            if (elapsed_s)
                *elapsed_s = now_s() - t0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(5000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
    if (elapsed_s)
        *elapsed_s = now_s() - t0;
    return -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void harness_cleanup(struct parleyd *p)
{
    char conf[300];
    if (p->pid > 0)
        harness_stop(p, SIGKILL, 5, NULL);
    testdb_destroy(p->store_uri);
    free(p->store_uri);
    free(p->extra_config);
    nftw(p->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(conf, sizeof(conf), "%s.conf", p->dir);
    unlink(conf);
    memset(p, 0, sizeof(*p));
}

static char *slurp_fd(int fd)
{
    size_t n = 0, cap = 4096;
    char *s = malloc(cap);
    ssize_t k;
    while ((k = read(fd, s + n, cap - n - 1)) > 0) {
        n += (size_t)k;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    s[n] = 0;
    return s;
}

int harness_run(char *const args[], char **out, char **err)
{
    char tout[] = "/tmp/parley-run.XXXXXX", terr[] = "/tmp/parley-run.XXXXXX";
    int fo = mkstemp(tout), fe = mkstemp(terr), status;
    pid_t pid = fork();

    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(parleyd_path(), args);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    *out = slurp_fd(fo);
    *err = slurp_fd(fe);
    close(fo);
    close(fe);
    unlink(tout);
    unlink(terr);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

size_t harness_sink_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct harness_sink *s = arg;
    size_t n = size * nmemb;
    s->data = realloc(s->data, s->len + n + 1);
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = 0;
    return n;
}

int harness_http(const struct parleyd *p, const char *method, const char *path, const char *body,
                 struct http_resp *r)
{
    return harness_http_h(p, method, path, body, NULL, r);
}

int harness_http_h(const struct parleyd *p, const char *method, const char *path, const char *body,
                   const char *const *headers, struct http_resp *r)
{
    char url[512], ca[300];
    struct harness_sink b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", p->port, path);
    snprintf(ca, sizeof(ca), "%s/tls/cert.pem", p->dir);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca); /* verify the server's own certificate */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, harness_sink_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    for (size_t i = 0; headers && headers[i]; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        fprintf(stderr, "curl %s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    r->body = b.data;
    r->headers = h.data;
    return rc == CURLE_OK ? 0 : -1;
}

void http_resp_free(struct http_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

/* --- WebSocket, RFC 6455, by hand --- */

static int ssl_read_full(SSL *ssl, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int k = SSL_read(ssl, (char *)buf + got, (int)(n - got));
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static int ssl_write_all(SSL *ssl, const void *buf, size_t n)
{
    return SSL_write(ssl, buf, (int)n) == (int)n ? 0 : -1;
}

int tls_open(const struct parleyd *p, struct ws_conn *w)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    char ca[300];
    int one = 1;

    memset(w, 0, sizeof(*w));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    w->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(w->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    snprintf(ca, sizeof(ca), "%s/tls/cert.pem", p->dir);
    w->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(w->ctx, ca, NULL);
    SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, NULL);
    w->ssl = SSL_new(w->ctx);
    SSL_set1_host(w->ssl, "127.0.0.1");
    SSL_set_alpn_protos(w->ssl, (const unsigned char *)"\x08http/1.1", 9);
    SSL_set_fd(w->ssl, w->fd);
    return SSL_connect(w->ssl) == 1 ? 0 : -1;
}

int tls_send_request(const struct parleyd *p, struct ws_conn *w, const char *method,
                     const char *path, const char *body)
{
    char head[1024];
    size_t bl = body ? strlen(body) : 0;

    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             method, path, p->port, bl);
    if (ssl_write_all(w->ssl, head, strlen(head)) < 0)
        return -1;
    return bl ? ssl_write_all(w->ssl, body, bl) : 0;
}

long tls_read_response(struct ws_conn *w, char **body)
{
    char head[8192];
    size_t n = 0, len = 0;
    const char *cl;
    long status = -1;

    *body = NULL;
    while (n < sizeof(head) - 1) {
        if (SSL_read(w->ssl, head + n, 1) != 1)
            return -1;
        n++;
        head[n] = 0;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (sscanf(head, "HTTP/1.1 %ld", &status) != 1)
        return -1;
    if ((cl = strcasestr(head, "\ncontent-length:")) != NULL)
        len = strtoul(cl + 16, NULL, 10);
    *body = calloc(1, len + 1);
    if (len && ssl_read_full(w->ssl, *body, len) < 0)
        return -1;
    return status;
}

int ws_open(const struct parleyd *p, const char *path, const char *subprotocol, struct ws_conn *w)
{
    unsigned char nonce[16];
    char key[32], req[1024], resp[4096];
    size_t n = 0;
    int status = -1;

    if (tls_open(p, w) < 0)
        return -1;
    RAND_bytes(nonce, sizeof(nonce));
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             "%s%s%s\r\n",
             path, p->port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
             subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    if (ssl_write_all(w->ssl, req, strlen(req)) < 0)
        return -1;
    /* Read the response head byte by byte so no frame bytes are consumed. */
    while (n < sizeof(resp) - 1) {
        if (SSL_read(w->ssl, resp + n, 1) != 1)
            break;
        n++;
        resp[n] = 0;
        if (n >= 4 && memcmp(resp + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        return -1;
    if (status == 101) {
        /* RFC 6455 §4.2.2: accept = base64(SHA-1(key + GUID)). */
        unsigned char md[20];
        char want[64], concat[128];
        snprintf(concat, sizeof(concat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
        EVP_Digest(concat, strlen(concat), md, NULL, EVP_sha1(), NULL);
        EVP_EncodeBlock((unsigned char *)want, md, sizeof(md));
        if (!strcasestr(resp, want))
            return -1;
    }
    return status;
}

int ws_send(struct ws_conn *w, int opcode, const void *data, size_t len)
{
    unsigned char hdr[14], mask[4];
    unsigned char *frame;
    size_t h = 0;
    int rc;

    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    RAND_bytes(mask, 4);
    memcpy(hdr + h, mask, 4);
    h += 4;
    frame = malloc(h + len);
    memcpy(frame, hdr, h);
    for (size_t i = 0; i < len; i++)
        frame[h + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    rc = ssl_write_all(w->ssl, frame, h + len);
    free(frame);
    return rc;
}

int ws_recv(struct ws_conn *w, int timeout_ms, char **payload, size_t *len)
{
    unsigned char h[2], ext[8];
    uint64_t n;
    struct pollfd pfd = {.fd = w->fd, .events = POLLIN};

    *payload = NULL;
    *len = 0;
    if (SSL_pending(w->ssl) == 0 && poll(&pfd, 1, timeout_ms) != 1)
        return -1;
    if (ssl_read_full(w->ssl, h, 2) < 0)
        return -1;
    n = h[1] & 0x7f;
    if (n == 126) {
        if (ssl_read_full(w->ssl, ext, 2) < 0)
            return -1;
        n = (uint64_t)ext[0] << 8 | ext[1];
    } else if (n == 127) {
        if (ssl_read_full(w->ssl, ext, 8) < 0)
            return -1;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | ext[i];
    }
    if (h[1] & 0x80) /* a server must not mask (RFC 6455 §5.1) */
        return -1;
    *payload = malloc(n + 1);
    if (ssl_read_full(w->ssl, *payload, n) < 0) {
        free(*payload);
        *payload = NULL;
        return -1;
    }
    (*payload)[n] = 0;
    *len = n;
    return h[0] & 0x0f;
}

void ws_close(struct ws_conn *w)
{
    if (w->ssl)
        SSL_free(w->ssl);
    if (w->ctx)
        SSL_CTX_free(w->ctx);
    if (w->fd > 0)
        close(w->fd);
    memset(w, 0, sizeof(*w));
}

double harness_cpu_s(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields 14 and 15 (utime, stime), counted after the ")" of comm. */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
