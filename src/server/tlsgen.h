/* tlsgen.h - the self-signed certificate of the zero-configuration setup. */
#ifndef PARLEY_SERVER_TLSGEN_H
#define PARLEY_SERVER_TLSGEN_H

#include "common/compat.h"

/* Create an ECDSA P-256 key and a self-signed certificate valid for five
 * years, with subjectAltNames for `hostname`, localhost, 127.0.0.1, ::1 and
 * `listen_host` when it is a specific IP address. The key is written with
 * mode 0600. Both files are written to temporary names and renamed, so a
 * crash never leaves half a key. Returns 0, PARLEY_EIO or PARLEY_ECRYPTO;
 * logs why. */
int tlsgen_self_signed(const char *cert_path, const char *key_path, const char *hostname,
                       const char *listen_host);

/* SHA-256 fingerprint of the first certificate in a PEM file, as colon-
 * separated uppercase hex (95 characters + NUL), for pinning by clients. */
int tlsgen_fingerprint(const char *cert_path, char out[96]);

#endif
