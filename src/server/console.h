/* console.h - the web console's static files (web/console) under /admin.
 *
 * parleyd serves the console as plain files from the directory of the
 * setting console_dir; the console itself talks only to the admin REST API.
 * Loop thread only, like every handler. */
#ifndef PARLEY_SERVER_CONSOLE_H
#define PARLEY_SERVER_CONSOLE_H

#include "http.h"

/* The Content-Security-Policy of the console's pages: scripts, styles and
 * fonts from the console itself only, images also as data: URIs (the TOTP
 * QR code and the uploaded logo preview), requests to this origin only. */
#define CONSOLE_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "                   \
    "frame-ancestors 'none'"

/* Largest file served; the console's files are far smaller. */
#define CONSOLE_MAX_FILE (4 << 20)

/* GET / : redirect to /admin/. */
void console_redirect(struct http_req *req);

/* GET /admin, /admin/ and /admin/PATH: index.html for the first two, else
 * the file PATH under console_dir. PATH is made of letters, digits, '.',
 * '_', '-' and '/', no segment is empty or starts with '.', and its
 * extension is one of a fixed list that gives the Content-Type; anything
 * else is 404, so no request can leave the directory. Replies carry an
 * ETag and "Cache-Control: no-cache", and If-None-Match gets 304. */
void console_file(struct http_req *req);

/* The checks above on a path relative to console_dir. Returns the
 * Content-Type for `rel`, or NULL when it must not be served. */
const char *console_path_type(const char *rel);

#endif
