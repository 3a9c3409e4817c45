/* harness.h - boot a real parleyd for a test and talk to it.
 *
 * harness_start() creates a temp data directory and a fresh database on
 * the backend PARLEY_TEST_STORE names (testdb.h), writes an inline config
 * and starts the parleyd binary named by $PARLEYD on 127.0.0.1:0, then
 * waits for its "listening" log line to learn the port. Standard output and
 * the log are kept in files in the data directory. Requests use libcurl
 * with the server's own certificate as the only trust anchor; WebSocket
 * tests speak RFC 6455 by hand over an OpenSSL connection, so they test the
 * wire and not a client library. */
#ifndef PARLEY_TESTS_HARNESS_H
#define PARLEY_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct parleyd {
    pid_t pid;
    int port;
    char dir[256];      /* data directory */
    char *store_uri;    /* from testdb_create */
    char *extra_config; /* lines appended to the config file */
    bool keep_port;     /* restarts listen on the port of the first start */
};

/* Create the data directory and database; nothing is started. Returns 0. */
int harness_init(struct parleyd *p, const char *extra_config);
/* Start parleyd (again, with the same directory and database). Returns 0,
 * or -1 if it exited or did not listen within 60 s (generous: sanitizer
 * builds start slowly on a loaded machine). */
int harness_start(struct parleyd *p);
/* Send `sig` and wait up to `timeout_s` seconds. Returns the exit status
 * (or 128 + signal), -1 on timeout (the process is then killed). Sets
 * *elapsed_s if not NULL. */
int harness_stop(struct parleyd *p, int sig, double timeout_s, double *elapsed_s);
/* Stop (SIGKILL if running), drop the database, remove the directory. */
void harness_cleanup(struct parleyd *p);

/* Read a file of the data directory ("stdout.txt", "parleyd.log", ...) into
 * a malloc'd NUL-terminated string; NULL if missing. */
char *harness_read(const struct parleyd *p, const char *name);
/* Any file, the same way. */
char *harness_read_file(const char *path);
/* A log another process appends to: read again (up to 2 s) while its last
 * line is cut, as a reader sees a write page by page. A line still cut
 * then is returned as it is. */
char *harness_read_log(const char *path);

/* Run parleyd with `args` (NULL-terminated) to completion, capturing stdout
 * and stderr into malloc'd strings. Returns its exit status. */
int harness_run(char *const args[], char **out, char **err);

struct http_resp {
    long status;
    char *body;    /* NUL-terminated */
    char *headers; /* raw header block */
};

/* One HTTPS request. `body` may be NULL. Returns 0 or -1 (transport error).
 * Free with http_resp_free(). */
int harness_http(const struct parleyd *p, const char *method, const char *path, const char *body,
                 struct http_resp *r);
/* harness_http with extra request headers: a NULL-terminated list of
 * "Name: value" lines, or NULL. */
int harness_http_h(const struct parleyd *p, const char *method, const char *path, const char *body,
                   const char *const *headers, struct http_resp *r);
void http_resp_free(struct http_resp *r);

struct ws_conn {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
};

/* A TLS connection to parleyd (verified against its certificate), nothing
 * sent yet: for requests that must overlap. Returns 0 or -1; close with
 * ws_close. */
int tls_open(const struct parleyd *p, struct ws_conn *w);
/* Write one HTTP/1.1 request (`body` may be NULL). Returns 0 or -1. */
int tls_send_request(const struct parleyd *p, struct ws_conn *w, const char *method,
                     const char *path, const char *body);
/* Read one response (with a Content-Length). Returns the status or -1;
 * *body is malloc'd and NUL-terminated. */
long tls_read_response(struct ws_conn *w, char **body);

/* Open a WebSocket to `path` offering `subprotocol` (NULL: none). Returns
 * the HTTP status of the handshake (101 on success) or -1. */
int ws_open(const struct parleyd *p, const char *path, const char *subprotocol, struct ws_conn *w);
/* Send one masked frame with `opcode` (1 text, 2 binary, 8 close...). */
int ws_send(struct ws_conn *w, int opcode, const void *data, size_t len);
/* Receive one whole frame within timeout_ms. Returns its opcode (8 for
 * close: *payload then holds the 2-byte code first), or -1 on timeout or
 * EOF. *payload is malloc'd and NUL-terminated. */
int ws_recv(struct ws_conn *w, int timeout_ms, char **payload, size_t *len);
void ws_close(struct ws_conn *w);

/* CPU seconds (user + system) process `pid` has used so far, from
 * /proc/PID/stat; 0 if unknown. For benchmarks: CPU per operation varies
 * far less than wall time on a shared machine. */
double harness_cpu_s(pid_t pid);

/* A libcurl write callback: appends to a malloc'd, NUL-terminated buffer
 * (start with {NULL, 0}; free data). */
struct harness_sink {
    char *data;
    size_t len;
};
size_t harness_sink_write(char *ptr, size_t size, size_t nmemb, void *arg);

#endif
