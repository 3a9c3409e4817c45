/* botkey.h - the per-bot secret behind encrypt_string and decrypt_string,
 * and the engine's small encrypted files.
 *
 * Bots keep their configuration tokens and user lists encrypted by the
 * engine and expect them to decrypt after a restart, so the secret is
 * durable: 32 random bytes in `<data-dir>/botapi.key`, a password-based
 * container (src/proto/pbe.h) under the bot account's password, made on
 * first start. Strings are sealed with AES-256-GCM under that key and a
 * random nonce, and travel as "pbs1." followed by lowercase hex of
 * nonce || ciphertext || tag. */
#ifndef PARLEY_BOT_BOTKEY_H
#define PARLEY_BOT_BOTKEY_H

#include "common/compat.h"

#define BOTKEY_LEN 32

struct botkey {
    uint8_t key[BOTKEY_LEN];
    bool loaded;
};

/* Open the key file at `path` with `password`, creating it (mode 0600)
 * when it does not exist. Returns 0, PARLEY_EAUTH (a wrong password or a
 * changed file), PARLEY_EPROTO, PARLEY_EIO, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int botkey_open(struct botkey *k, const char *path, const char *password);
/* Wipe the key. */
void botkey_release(struct botkey *k);

/* Seal `len` bytes of `pt`; *out (free() it) is the NUL-terminated text
 * form. Returns 0, PARLEY_ENOMEM or PARLEY_ECRYPTO. */
int botkey_seal(struct botkey *k, const void *pt, size_t len, char **out);
/* Open a text form made by botkey_seal. *out (free() it, after wiping if
 * it holds secrets) is NUL-terminated, *out_len excludes the NUL. Returns
 * 0, PARLEY_EPROTO (not a sealed string), PARLEY_EAUTH (another key or a
 * changed string), PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int botkey_open_string(struct botkey *k, const char *s, char **out, size_t *out_len);

/* Write `len` bytes sealed to `path` atomically (mode 0600), and read them
 * back (PARLEY_ENOTFOUND when the file does not exist). */
int botkey_write_file(struct botkey *k, const char *path, const void *p, size_t len);
int botkey_read_file(struct botkey *k, const char *path, char **out, size_t *out_len);

#endif
