/* urlcheck.h - the checks an administrator-supplied URL passes before
 * parleyd stores it as something it will fetch (an SSO issuer today).
 *
 * A URL must be https, with a host and no user information, and its host
 * must not point only into private address space unless the deployment
 * setting allow_private_ips is on: otherwise an administrator of one
 * network could make the server reach services on its own private
 * networks (server-side request forgery). Bytes from outside:
 * fuzz/server/fuzz_urlcheck.c. */
#ifndef PARLEY_SERVER_URLCHECK_H
#define PARLEY_SERVER_URLCHECK_H

#include "common/compat.h"

#include <sys/socket.h>

#define URLCHECK_MAX     2048
#define URLCHECK_HOSTMAX 254

/* Split an absolute https URL. `host` gets the host without brackets (a
 * DNS name in lowercase, or an IPv4 or IPv6 literal), *port the port
 * (443 when absent). Returns 0, or PARLEY_EINVAL with a message in err
 * that says what is wrong (it does not name the field: callers prefix it). */
int urlcheck_parse(const char *url, char *host, size_t hostlen, int *port, char *err,
                   size_t errlen);

/* Is `sa` an address parleyd should not reach for an administrator:
 * loopback, RFC 1918 and RFC 6598 (shared) space, link-local, unspecified,
 * "this network", IPv6 unique-local and site-local, and IPv4 mapped into
 * IPv6 from any of these? */
bool urlcheck_addr_private(const struct sockaddr *sa);

/* Check the host of a parsed URL: a literal address is classified as is, a
 * name is resolved (getaddrinfo: blocking, so call it off the loop thread)
 * and refused when every address it has is private. Returns 0 (allowed),
 * PARLEY_EPERM (private, and allow_private is false) or PARLEY_ENOTFOUND
 * (the name does not resolve), with a message in err. */
int urlcheck_host(const char *host, bool allow_private, char *err, size_t errlen);

#endif
