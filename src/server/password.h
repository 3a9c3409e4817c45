/* password.h - Argon2id password hashing for administrators and users. */
#ifndef PARLEY_SERVER_PASSWORD_H
#define PARLEY_SERVER_PASSWORD_H

#include "common/compat.h"

/* Argon2id cost: t=3 passes over 64 MiB, one lane (RFC 9106 §4's second
 * recommended option). About 170 ms and 64 MiB per hash on a 2-core machine,
 * so callers bound how many run at once. */
#define PASSWORD_T_COST      3
#define PASSWORD_M_COST_KIB  (64 * 1024)
#define PASSWORD_PARALLELISM 1
#define PASSWORD_ENCODED_MAX 128

/* Hash `pw` with a fresh random salt into the PHC string form
 * ($argon2id$v=19$m=...,t=...,p=...$salt$hash). Returns 0, PARLEY_EINVAL
 * (empty or over 1024 bytes) or PARLEY_ECRYPTO. */
int password_hash(const char *pw, char out[PASSWORD_ENCODED_MAX]);

/* Check `pw` against an encoded hash. Returns 0 on match, PARLEY_EAUTH on
 * mismatch, PARLEY_EINVAL for a malformed hash. Constant time in the
 * password. */
int password_verify(const char *encoded, const char *pw);

/* Spend one verification on a fixed hash, so that a sign-in for an unknown
 * name costs what one for a known name costs. Thread-safe. */
void password_verify_dummy(const char *pw);

/* A random password of `len` characters (len < outlen) from an alphabet
 * without look-alikes (no 0/O, 1/l/I), for one-time passwords. */
int password_generate(char *out, size_t outlen, size_t len);

#endif
