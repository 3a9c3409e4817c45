/* urlcheck.c - see urlcheck.h. A small URL splitter written by hand: it
 * accepts a strict subset of RFC 3986 (what an OpenID Connect issuer looks
 * like), which is simpler to get right than to wrap a general parser. */
#include "urlcheck.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* Printable ASCII without space: what we accept anywhere in the URL. */
static bool url_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

int urlcheck_parse(const char *url, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    const char *p, *h, *he, *end;
    size_t n = strlen(url), hl;
    long v;

    if (n > URLCHECK_MAX) {
        snprintf(err, errlen, "must be at most %d characters", URLCHECK_MAX);
        return PARLEY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!url_char((unsigned char)url[i])) {
            snprintf(err, errlen, "must be printable ASCII without spaces");
            return PARLEY_EINVAL;
        }
    }
    if (strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "must start with https://");
        return PARLEY_EINVAL;
    }
    h = url + 8;
    end = h + strcspn(h, "/?#");
    if (memchr(h, '@', (size_t)(end - h))) {
        snprintf(err, errlen, "must not carry a user name or password");
        return PARLEY_EINVAL;
    }
    if (strchr(url, '#')) {
        snprintf(err, errlen, "must not have a fragment (#...)");
        return PARLEY_EINVAL;
    }
    if (*h == '[') {
        he = memchr(h, ']', (size_t)(end - h));
        if (!he) {
            snprintf(err, errlen, "has an IPv6 address without its closing ']'");
            return PARLEY_EINVAL;
        }
        h++;
        p = he + 1;
    } else {
        he = h;
        while (he < end && *he != ':')
            he++;
        p = he;
    }
    hl = (size_t)(he - h);
    if (hl == 0 || hl >= hostlen || hl >= URLCHECK_HOSTMAX) {
        snprintf(err, errlen, hl ? "has a host name that is too long" : "has no host");
        return PARLEY_EINVAL;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    if (h[-1] == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) {
            snprintf(err, errlen, "has '[%s]', which is not an IPv6 address", host);
            return PARLEY_EINVAL;
        }
    } else {
        for (size_t i = 0; i < hl; i++) {
            if (!host_char(host[i])) {
                snprintf(err, errlen, "has a host with a character a DNS name cannot hold");
                return PARLEY_EINVAL;
            }
            if (host[i] >= 'A' && host[i] <= 'Z')
                host[i] = (char)(host[i] - 'A' + 'a');
        }
    }
    *port = 443;
    if (p < end) {
        char *pe;
        if (*p != ':' || p + 1 == end) {
            snprintf(err, errlen, "has a malformed port");
            return PARLEY_EINVAL;
        }
        v = strtol(p + 1, &pe, 10);
        if (pe != end || v < 1 || v > 65535 || p[1] < '0' || p[1] > '9') {
            snprintf(err, errlen, "must have a port from 1 to 65535");
            return PARLEY_EINVAL;
        }
        *port = (int)v;
    }
    return 0;
}

static bool v4_private(uint32_t a)
{
    return (a >> 24) == 0 ||                /* 0.0.0.0/8, "this network" */
           (a >> 24) == 10 ||               /* RFC 1918 */
           (a >> 24) == 127 ||              /* loopback */
           (a >> 22) == (100 << 2 | 1) ||   /* 100.64.0.0/10, RFC 6598 */
           (a >> 16) == (169 << 8 | 254) || /* link-local */
           (a >> 20) == (172 << 4 | 1) ||   /* 172.16.0.0/12 */
           (a >> 16) == (192 << 8 | 168);   /* 192.168.0.0/16 */
}

bool urlcheck_addr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return v4_private(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *b = s6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) || IN6_IS_ADDR_V4COMPAT(&s6->sin6_addr))
            return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                              b[15]);
        return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
               IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) || IN6_IS_ADDR_SITELOCAL(&s6->sin6_addr) ||
               (b[0] & 0xfe) == 0xfc; /* fc00::/7, unique local (RFC 4193) */
    }
    return true; /* nothing else is reachable over TCP/IP: refuse it */
}

int urlcheck_host(const char *host, bool allow_private, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    bool any_public = false;
    int rc = getaddrinfo(host, NULL, &hints, &res);

    if (rc != 0 || !res) {
        snprintf(err, errlen, "has host '%s', which does not resolve (%s)", host, gai_strerror(rc));
        return PARLEY_ENOTFOUND;
    }
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!urlcheck_addr_private(ai->ai_addr))
            any_public = true;
    freeaddrinfo(res);
    if (any_public || allow_private)
        return 0;
    snprintf(err, errlen,
             "has host '%s', which is a private, loopback or link-local address; turn on the "
             "deployment setting allow_private_ips to use it",
             host);
    return PARLEY_EPERM;
}
