/* parley.h - the public API of libparley, the Parley client library.
 *
 * libparley does everything a client does: it opens the password-encrypted
 * client configuration file an administrator hands out, keeps the account's
 * local state (one SQLite file per account, keys encrypted at rest under a
 * key derived from the user's password), registers and signs in over HTTPS
 * with the server certificate pinned, and sends and receives end-to-end
 * encrypted messages over one WebSocket (docs/client-protocol.md).
 *
 * Conventions: every fallible function returns 0 or a negative PARLEY_E*
 * code (parley/error.h); libparley never aborts, it returns PARLEY_ENOMEM.
 * Identifiers (user, device, conversation and message ids) are 32 lowercase
 * hex characters; buffers for them are PARLEY_ID_HEX bytes.
 *
 * Threads: a `struct parley_client` may be used from any number of threads
 * at once. parley_client_connect() starts one library-owned thread that runs
 * the WebSocket; received messages are decrypted, stored durably, then
 * acknowledged to the server and queued as events, which the application
 * takes with parley_client_next_event() (a poll-style queue: no callback ever
 * runs on the library's thread, so the application needs no locking of its
 * own). parley_client_event_fd() gives a descriptor that is readable while
 * the queue is not empty, for applications with their own poll loop. */
#ifndef PARLEY_PARLEY_H
#define PARLEY_PARLEY_H

#include <stddef.h>
#include <stdint.h>

#include <parley/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PARLEY_ID_HEX 33 /* 32 hex characters and a NUL */

/* ---- Client configuration file ------------------------------------------
 * A password-based container (docs/protocol.md) holding one JSON object
 * (docs/client-protocol.md, "Client configuration file"). */
struct parley_config;

/* Check `json` against the configuration format and encrypt it under
 * `password`. On success *out (free() it) holds the file's bytes. Returns 0,
 * PARLEY_ECONFIG (the document is not a valid configuration), PARLEY_EINVAL,
 * PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int parley_config_seal(const char *json, const char *password, uint8_t **out, size_t *out_len);
/* The same, written to a new file `path` (mode 0600; an existing file is
 * replaced atomically). Adds PARLEY_EIO. */
int parley_config_create(const char *path, const char *json, const char *password);
/* Decrypt and check a configuration file. Returns 0, PARLEY_EAUTH (wrong
 * password or a changed file), PARLEY_EPROTO (not a container),
 * PARLEY_ECONFIG (a container whose document is invalid), PARLEY_EIO,
 * PARLEY_ENOMEM. Free *out with parley_config_free(). */
int parley_config_open(const char *path, const char *password, struct parley_config **out);
int parley_config_open_mem(const uint8_t *p, size_t len, const char *password,
                           struct parley_config **out);
void parley_config_free(struct parley_config *cfg);
/* Accessors; the strings live as long as `cfg`. */
const char *parley_config_service_host(const struct parley_config *cfg);
int parley_config_service_port(const struct parley_config *cfg);
const char *parley_config_network_id(const struct parley_config *cfg);
const char *parley_config_network_name(const struct parley_config *cfg);
const char *parley_config_suite(const struct parley_config *cfg); /* "x25519" or "p384" */
size_t parley_config_pinned_count(const struct parley_config *cfg);
const char *parley_config_pinned_cert(const struct parley_config *cfg, size_t i); /* PEM */
/* The "policy" object as compact JSON ("{}" when absent). */
const char *parley_config_policy(const struct parley_config *cfg);
/* Check a password the user chooses against the policy's password rules
 * (password_min_length, password_require_uppercase/_lowercase/_digit/
 * _symbol; absent rules do not apply). Returns 0, or PARLEY_EINVAL with a
 * sentence saying what the password lacks in `why` (may be NULL). The
 * server never sees a user's password, so this is where the security
 * group's complexity rules apply to it. */
int parley_config_password_check(const struct parley_config *cfg, const char *password, char *why,
                                 size_t why_len);

/* ---- Accounts -------------------------------------------------------------
 * A client is one account on one device, kept in `data_dir` (created if
 * missing, mode 0700). Passwords are NUL-terminated UTF-8; they never leave
 * the process (docs/client-protocol.md, "Login secret"). */
struct parley_client;

struct parley_device_info {
    const char *name;     /* shown to the user's other devices; NULL: "parley" */
    const char *platform; /* NULL: "linux" */
};

/* Register a user the administrator created: log in with the initial
 * `password`, optionally replace it with `new_password` (NULL: keep it),
 * create the user's identity and its password-encrypted backup, then this
 * device. Creates the local state; fails with PARLEY_EEXIST if it exists.
 * Returns 0, PARLEY_EINVAL (`new_password` breaks the policy's password
 * rules: parley_config_password_check says why), PARLEY_EAUTH (wrong
 * password), PARLEY_EPERM (suspended, or
 * the network forbids changing the password), PARLEY_ECONFLICT (the user
 * already has an identity: use parley_client_login), PARLEY_EIO (network),
 * PARLEY_EPROTO (a malformed answer), PARLEY_ESTORE, PARLEY_ENOMEM. */
int parley_client_register(const char *data_dir, const struct parley_config *cfg,
                           const char *username, const char *password, const char *new_password,
                           const struct parley_device_info *dev, struct parley_client **out);

/* Sign in. With local state for `username` in `data_dir` (cfg may then be
 * NULL), unlock it with `password` (PARLEY_EAUTH if wrong). Without local
 * state, `cfg` is required and this device is added to the existing
 * account: log in, open the identity backup with the password, certify a
 * new device and upload its pre-keys. Returns the codes of register. */
int parley_client_login(const char *data_dir, const struct parley_config *cfg, const char *username,
                        const char *password, const struct parley_device_info *dev,
                        struct parley_client **out);

/* ---- Single sign-on ------------------------------------------------------
 * A network whose users sign in through an OpenID Connect identity provider
 * (docs/protocol.md, "Single sign-on"). The user types the network's
 * company ID; the server answers with the provider's authorization URL,
 * which the user opens in a browser. After the provider authenticates the
 * user, the browser comes back to parleyd, which hands the client a
 * one-time sign-in code: through a redirect to a listener of this process
 * on 127.0.0.1 (PARLEY_SSO_LOOPBACK, RFC 8252), or shown on the server's
 * page for the user to paste (parley_sso_set_code). The code is bound to a
 * PKCE verifier that never leaves this process.
 *
 * The identity provider replaces the password towards the server, not the
 * keys: a *passphrase* of the user's choosing, which never leaves the
 * process, encrypts the local state and the identity backup, exactly as
 * the password does for a password account. A second device of the user
 * needs the same passphrase. */
struct parley_sso;

#define PARLEY_SSO_LOOPBACK 1 /* listen on 127.0.0.1 for the browser */

/* Ask the server for the authorization URL of the identity provider of
 * `company_id` (`login_hint`, may be NULL, pre-fills the provider's sign-in
 * form). `cfg` (the network's configuration file) must outlive the
 * handle; the pinned certificates are written into `data_dir`. Returns 0,
 * PARLEY_ENOTFOUND (no network signs in with SSO under that company ID),
 * PARLEY_EIO (network, or the server could not reach the provider: see
 * parley_sso_error), PARLEY_EPROTO, PARLEY_ENOMEM. Free with
 * parley_sso_free (also on failure, for the message). */
int parley_sso_begin(const char *data_dir, const struct parley_config *cfg, const char *company_id,
                     const char *login_hint, int flags, struct parley_sso **out);
/* The URL to open in a browser. */
const char *parley_sso_url(const struct parley_sso *s);
/* The loopback redirect the server sends the browser to ("" without
 * PARLEY_SSO_LOOPBACK). */
const char *parley_sso_redirect_uri(const struct parley_sso *s);
/* PARLEY_SSO_LOOPBACK: wait up to `timeout_ms` for the browser. Returns 0
 * (the code arrived), PARLEY_EAUTH (the provider or the server refused the
 * sign-in: parley_sso_error says why), PARLEY_EBUSY (timeout),
 * PARLEY_EINVAL (no listener). */
int parley_sso_wait(struct parley_sso *s, int timeout_ms);
/* The code shown on the server's page, typed or pasted by the user. */
int parley_sso_set_code(struct parley_sso *s, const char *code);
/* Trade the code for a session, then register (first sign-in: a new
 * identity and its backup under `passphrase`), add this device (open the
 * backup with `passphrase`), or unlock existing local state with it.
 * Returns 0, PARLEY_EAUTH (the code is unknown, spent or expired, or the
 * passphrase does not open the backup or the local state), PARLEY_EPERM
 * (suspended), and the codes of parley_client_register. */
int parley_sso_finish(struct parley_sso *s, const char *data_dir, const char *passphrase,
                      const struct parley_device_info *dev, struct parley_client **out);
/* The server's or the provider's message for the last failure ("" if none). */
const char *parley_sso_error(const struct parley_sso *s);
/* Close the listener, wipe the verifier and free. NULL is a no-op. */
void parley_sso_free(struct parley_sso *s);

/* Stop the connection, wipe the keys held in memory and free. NULL is a
 * no-op. */
void parley_client_free(struct parley_client *c);

/* This account's ids and name. */
const char *parley_client_user_id(const struct parley_client *c);
const char *parley_client_device_id(const struct parley_client *c);
const char *parley_client_username(const struct parley_client *c);
/* The network's configuration this client runs with: the one given to
 * register or login, or the copy kept in the local state when login got
 * none. Owned by the client (parley_config_* read it). */
const struct parley_config *parley_client_config(const struct parley_client *c);

/* This device's public signing key in hex (what an administrator compares
 * to recognise the device). `len` must hold 2 * key length + 1 (257 is
 * always enough). Returns 0 or PARLEY_EINVAL. */
int parley_client_signing_key(const struct parley_client *c, char *out, size_t len);

/* ---- Connection -------------------------------------------------------- */

/* Start the library's connection thread: it connects, authenticates with
 * the device token, receives queued messages, and reconnects with
 * exponential backoff (1 s doubling to 60 s) until parley_client_free().
 * Returns 0 at once; PARLEY_EBUSY if already started. */
int parley_client_connect(struct parley_client *c);
/* Wait up to `timeout_ms` until the connection is authenticated. Returns
 * 0 or PARLEY_EBUSY on timeout. */
int parley_client_wait_online(struct parley_client *c, int timeout_ms);

/* ---- Events -------------------------------------------------------------- */
enum parley_event_type {
    PARLEY_EVENT_MESSAGE = 1,  /* a message was received and stored */
    PARLEY_EVENT_ONLINE = 2,   /* the connection is authenticated */
    PARLEY_EVENT_OFFLINE = 3,  /* the connection was lost; it will retry */
    PARLEY_EVENT_ERROR = 4,    /* a delivery could not be accepted: see err */
    PARLEY_EVENT_TYPING = 5,   /* sender is (active) or stopped typing in conv_id */
    PARLEY_EVENT_PRESENCE = 6, /* sender's availability: body is the status */
    PARLEY_EVENT_READ = 7,     /* sender read msg_id (one-to-one conv_id) */
};

/* An event; every string is NUL-terminated and owned by the event. */
struct parley_event {
    enum parley_event_type type;
    int err;                           /* PARLEY_EVENT_ERROR: the PARLEY_E* code */
    char msg_id[PARLEY_ID_HEX];        /* MESSAGE, READ */
    char conv_id[PARLEY_ID_HEX];       /* MESSAGE, TYPING, READ */
    char sender[PARLEY_ID_HEX];        /* MESSAGE: the sender's user id; READ: the reader's */
    char sender_device[PARLEY_ID_HEX]; /* MESSAGE */
    const char *sender_name;           /* MESSAGE: username if known, else NULL */
    int msgtype;                       /* MESSAGE: payload "msgtype" (1000 text...) */
    int64_t ts_ms;                     /* MESSAGE: server receive time, milliseconds */
    uint64_t expires_at;               /* MESSAGE: Unix seconds, 0 = never */
    int burn_on_read;                  /* MESSAGE: the envelope's burn-on-read flag */
    uint32_t conv_burn_on_read;        /* MESSAGE: the conversation's burn-on-read s, 0 = off */
    int active;                        /* TYPING: 1 typing, 0 stopped */
    int64_t idle_s;                    /* PRESENCE: seconds idle */
    const char *body;                  /* MESSAGE: the payload JSON; ERROR: a message */
};

/* Take the next event, waiting up to `timeout_ms` (0: do not wait, -1:
 * forever). Returns 0 and *ev (free with parley_event_free), or
 * PARLEY_EBUSY when none came in time. */
int parley_client_next_event(struct parley_client *c, int timeout_ms, struct parley_event **ev);
void parley_event_free(struct parley_event *ev);
/* A descriptor that polls readable while events are queued. */
int parley_client_event_fd(struct parley_client *c);

/* ---- Journal (exactly-once processing) ------------------------------------
 * For applications that must not lose a message across their own crashes
 * (the retention bot). Call parley_client_journal() after sign-in and
 * before parley_client_connect(): from then on every received message is
 * also recorded in the local state, in the same transaction that stores it
 * (so before the server is acknowledged), and stays recorded, expiry
 * notwithstanding, until the application calls parley_client_event_done()
 * for it. The call first queues a MESSAGE event for every message still
 * recorded from earlier runs, in arrival order, so after a crash the
 * application sees again exactly what it had not marked done. */
int parley_client_journal(struct parley_client *c);
/* Mark messages handled: forget their journal entries and stored copies
 * (their ids stay seen, so replays are still refused), in one local
 * transaction. Returns 0 or PARLEY_ESTORE. */
int parley_client_event_done(struct parley_client *c, const char *const *msg_ids, size_t n);

/* The username of user `user_id` (32 hex): the one recorded when its
 * identity was pinned, else asked of the directory. free() *out. Returns
 * 0, PARLEY_ENOTFOUND, PARLEY_EIO. */
int parley_client_user_name(struct parley_client *c, const char *user_id, char **out);
/* The user's policy as the server holds it now (the configuration file
 * carries a copy taken when it was made): a JSON object with
 * "security_group_id", "settings" (the security group's, defaults filled
 * in) and "network" (the network's). free() *json_out. Returns 0,
 * PARLEY_EAUTH, PARLEY_EIO, PARLEY_ENOMEM. */
int parley_client_policy(struct parley_client *c, char **json_out);

/* What the directory says about a user: `user` is a username of the
 * account's network, "NETWORK_ID/username" for one of another network of
 * the deployment (local federation), or a user id (32 hex). tags lists
 * the user's security tags as "name (color)", comma-separated, "" for
 * none; clients show them beside the username. Returns 0,
 * PARLEY_ENOTFOUND, PARLEY_EPERM (local federation does not let the two
 * reach each other), PARLEY_EIO. */
struct parley_user_info {
    char user_id[PARLEY_ID_HEX];
    char username[256];
    char network_id[129];
    char status[16];
    char tags[512];
};
int parley_client_user_info(struct parley_client *c, const char *user,
                            struct parley_user_info *out);
/* A conversation's expiration and burn-on-read seconds as this client
 * learnt them (room control messages); 0 when unknown. Returns 0 or
 * PARLEY_ENOTFOUND if the client has never seen the conversation. */
int parley_client_conv_settings(struct parley_client *c, const char *conv_id, uint32_t *expiration,
                                uint32_t *burn_on_read);

/* ---- Messages ------------------------------------------------------------
 * `to` names a conversation: a username (the direct conversation with that
 * user) or a 32-hex conversation id (a group or room). */

/* Send a payload (docs/client-protocol.md, "Message payloads": a JSON
 * object with "msgtype" and that type's fields) and wait up to 30 s for the
 * server's ack. Seals one envelope for every device of every member and the
 * user's own other devices; when the server answers devices_changed, it
 * fetches the devices again and reseals (up to three times). When the
 * connection comes back before the answer, or the server could not store
 * the envelope (internal_error), the same envelope is sent again within
 * the 30 s, so recipients never see it twice. Writes the new
 * message id to msg_id (may be NULL). Returns 0, PARLEY_EPROTO (an invalid
 * payload), PARLEY_ENOTFOUND (no such user or conversation, or not a
 * member of it), PARLEY_EAUTH
 * (a member's identity key changed: see parley_client_trust), PARLEY_EPERM
 * (not a member, refused), PARLEY_EBUSY (no ack in time), PARLEY_EIO. */
int parley_client_send(struct parley_client *c, const char *to, const char *payload_json,
                       char msg_id[PARLEY_ID_HEX]);
/* A text message (msgtype 1000). */
int parley_client_send_text(struct parley_client *c, const char *to, const char *text,
                            char msg_id[PARLEY_ID_HEX]);

/* Mark a received message read. A burn-on-read message is deleted from
 * the local state once the conversation's burn-on-read time has passed
 * (at once when it is 0). In a one-to-one conversation, while connected,
 * a read receipt goes to the author's devices (PARLEY_EVENT_READ), unless
 * the network turned read receipts off. Returns 0 or PARLEY_ENOTFOUND. */
int parley_client_mark_read(struct parley_client *c, const char *msg_id);

/* The stored messages of a conversation, oldest first, as a JSON array of
 * objects {msg_id, conv_id, sender, msgtype, body, ts, expires_at, state}.
 * `limit` 0 means all. *json_out is free()d by the caller. */
int parley_client_history(struct parley_client *c, const char *to, size_t limit, char **json_out);

/* Tell the other members' live sessions that the user is (active = 1) or
 * stopped (0) typing in `to`. Not stored, not encrypted, best effort:
 * returns 0 once queued. */
int parley_client_typing(struct parley_client *c, const char *to, int active);
/* Publish the user's availability ("available", "away" or "busy") and idle
 * seconds to contacts, where the security group allows it. */
int parley_client_presence(struct parley_client *c, const char *status, uint32_t idle_s);

/* ---- Conversations (groups and rooms) ----------------------------------- */

/* Create a group ("group") or a room ("room") with these members and, for
 * a room, moderators (usernames; the caller is always both). `expiration`
 * and `burn_on_read` are seconds, 0 = off. Sends the "create room" control
 * message (4001) to the members. Writes the new id to conv_id. */
int parley_conv_create(struct parley_client *c, const char *type, const char *title,
                       const char *const *members, size_t n_members, const char *const *moderators,
                       size_t n_moderators, uint32_t expiration, uint32_t burn_on_read,
                       char conv_id[PARLEY_ID_HEX]);
/* The caller's conversations as the server lists them (a JSON array, with
 * "title" added from local state when known). free() *json_out. */
int parley_conv_list(struct parley_client *c, char **json_out);
/* One conversation's members as a JSON array of {user_id, username, role}. */
int parley_conv_members(struct parley_client *c, const char *conv, char **json_out);
/* Add, remove and promote members (usernames; each list may be empty). */
int parley_conv_modify(struct parley_client *c, const char *conv, const char *const *add,
                       size_t n_add, const char *const *remove, size_t n_remove,
                       const char *const *moderators, size_t n_moderators);
/* What parley_conv_set changes: NULL strings, negative numbers and no
 * moderators leave that part as it is. */
struct parley_conv_change {
    const char *title;
    const char *description;
    int64_t expiration;            /* seconds, 0 = none; the server may cap it */
    int64_t burn_on_read;          /* seconds after reading, 0 = off */
    const char *const *moderators; /* usernames of members to promote */
    size_t n_moderators;
};
/* Change a group's or room's settings and tell the members (a "modify room
 * parameters" message, 4004, with its change mask). In a room only
 * moderators may (PARLEY_EPERM); members' clients ignore a 4004 from
 * anyone else. Returns 0, PARLEY_EINVAL (a direct conversation, or nothing
 * to change), PARLEY_EPERM, PARLEY_ENOTFOUND, PARLEY_EIO. */
int parley_conv_set(struct parley_client *c, const char *conv, const struct parley_conv_change *ch);
int parley_conv_leave(struct parley_client *c, const char *conv);
int parley_conv_delete(struct parley_client *c, const char *conv);

/* ---- Identity verification ---------------------------------------------- */

#define PARLEY_SAFETY_NUMBER_LEN 72 /* 71 characters and a NUL */
#define PARLEY_QR_CODE_LEN       107

/* The safety number the user compares with `username` out of band, and the
 * code to show as a QR image for the other side to scan. Pins the other
 * user's identity key on first use. */
int parley_client_fingerprint(struct parley_client *c, const char *username,
                              char number[PARLEY_SAFETY_NUMBER_LEN], char qr[PARLEY_QR_CODE_LEN]);
/* Accept `username`'s current identity key (after the user compared the
 * safety numbers): pins it and marks it verified. */
int parley_client_trust(struct parley_client *c, const char *username);

/* ---- Linking a device ---------------------------------------------------------
 * A signed-in device shows a short code (typed, or scanned as a QR code);
 * a new device of the same user, already signed in with the password,
 * enters it and receives the conversation history, encrypted end to end
 * (docs/protocol.md, "Device linking"). The code is good for one answer and
 * ten minutes. */
#define PARLEY_LINK_CODE_LEN 20 /* "XXXX-XXXX-XXXX-XXXX" and a NUL */

struct parley_link;

/* On the signed-in device: open a link and write the code to show. */
int parley_link_start(struct parley_client *c, char code[PARLEY_LINK_CODE_LEN],
                      struct parley_link **out);
/* Wait up to `timeout_ms` for the new device's answer, check that it was
 * made with the code by a device of this user, then send it this device's
 * pinned keys, conversations and messages. Returns 0 (and the number of
 * messages sent in *n_messages, which may be NULL), PARLEY_EBUSY (no answer
 * yet: call again), PARLEY_EAUTH (an answer without the code, or from a
 * device not certified by this user's identity: the link is closed),
 * PARLEY_ENOTFOUND (the link expired), PARLEY_EIO. */
int parley_link_serve(struct parley_link *l, int timeout_ms, size_t *n_messages);
/* Close the link (on the server too, unless it was served) and free. */
void parley_link_free(struct parley_link *l);
/* On the new device: answer `code` and wait up to `timeout_ms` for the
 * history, then store it, keeping what this device already has. Returns 0
 * (*n_messages: messages added), PARLEY_EINVAL (not a code: 16 characters
 * of 0-9 and A-Z without I, L, O, U), PARLEY_ENOTFOUND (no such link: a
 * typo, or it expired), PARLEY_ECONFLICT (another device answered first),
 * PARLEY_EAUTH (the transfer was not made with the code), PARLEY_EBUSY,
 * PARLEY_EIO. */
int parley_link_accept(struct parley_client *c, const char *code, int timeout_ms,
                       size_t *n_messages);
/* ---- Files ----------------------------------------------------------------
 * Files up to 5 GiB, end-to-end encrypted under a fresh key in authenticated
 * 1 MiB chunks (docs/protocol.md, "Encrypted files"), uploaded in resumable
 * parts and announced by a file message (msgtype 6000) that carries the
 * key. Memory stays bounded whatever the file's size. */

/* Progress: `done` of `total` plaintext bytes. A non-zero return cancels
 * the transfer (PARLEY_ECANCELED); it can be resumed later. Called on the
 * caller's thread. */
typedef int (*parley_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct parley_file_opts {
    const char *name;               /* shown name; NULL: the path's last component */
    int is_screenshot;              /* "isscreenshot" */
    int is_voice_memo;              /* "isvoicememo" */
    uint32_t voice_memo_duration_s; /* "voicememoduration" */
    parley_progress_fn progress;    /* may be NULL */
    void *progress_arg;
    char *error; /* may be NULL: on failure, why, in words */
    size_t error_len;
};

/* Encrypt the file at `path`, upload it and send the file message to `to`
 * (as parley_client_send). An upload that stopped (network loss, a killed
 * process, a restarted server) resumes where it stopped when the same file
 * (same path, size and modification time) is sent to the same conversation
 * again. The security group's compression setting is applied before
 * encryption. Returns 0, PARLEY_EPERM (file attachments are off for the
 * user's security group), PARLEY_ETOOBIG (larger than the group's maximum
 * upload size), PARLEY_ECANCELED, PARLEY_EIO (the file cannot be read, or
 * the network failed after retries), and the codes of parley_client_send. */
int parley_file_send(struct parley_client *c, const char *to, const char *path,
                     const struct parley_file_opts *opts, char msg_id[PARLEY_ID_HEX]);

/* Download and decrypt the file of the received or sent file message
 * `msg_id` into `out_path` (replaced atomically when complete). A download
 * that stopped resumes from `out_path`.part. Returns 0, PARLEY_ENOTFOUND (no
 * such file message, or the file expired or was deleted), PARLEY_EPERM
 * (downloads are off for the user's security group), PARLEY_EAUTH (the
 * file was tampered with), PARLEY_EPROTO (truncated or malformed),
 * PARLEY_ECANCELED, PARLEY_EIO. `opts` may be NULL; only its progress and
 * error fields are used. */
int parley_file_get(struct parley_client *c, const char *msg_id, const char *out_path,
                    const struct parley_file_opts *opts);

/* Delete the file of file message `msg_id` from the server (its uploader,
 * or a moderator of its room): recalled files stop being downloadable at
 * once and their blob is removed, once the network's compliance bot (if
 * any) has its copy. */
int parley_file_delete(struct parley_client *c, const char *msg_id);

/* ---- The Files view of rooms and groups -----------------------------------
 * Where the network has file management on, a room's moderators (any member
 * of a group) keep files in folders for the conversation; every member
 * lists and downloads them. Each change is a room control message (4004,
 * changemask 64, "filevaultinfo"), so names, folders and keys stay end to
 * end encrypted and the retention log records every change; saved files
 * no longer expire with their messages. Folders are paths: "/" or
 * "/reports/2026". Members see the changes made after they joined.
 * Functions return PARLEY_EPERM for a member who may not change the view
 * (or when the network has file management off), PARLEY_EINVAL for a
 * direct conversation or a bad folder path. */

/* The view as JSON {"folders": ["/", ...], "files": [{"guid", "filename",
 * "folder", "size", ...}]}. free() *json_out. */
int parley_vault_list(struct parley_client *c, const char *conv, char **json_out);
/* Upload a file straight into the view (folder NULL: "/"). */
int parley_vault_upload(struct parley_client *c, const char *conv, const char *path,
                        const char *folder, const struct parley_file_opts *opts,
                        char guid[PARLEY_ID_HEX]);
/* Save the file of file message `msg_id` (sent to `conv`) into the view. */
int parley_vault_save(struct parley_client *c, const char *conv, const char *msg_id,
                      const char *folder);
int parley_vault_mkdir(struct parley_client *c, const char *conv, const char *folder);
int parley_vault_move(struct parley_client *c, const char *conv, const char *guid,
                      const char *folder);
/* Remove a file from the view and, where the caller may, from the server. */
int parley_vault_delete(struct parley_client *c, const char *conv, const char *guid);
/* Download a file of the view (as parley_file_get). */
int parley_vault_get(struct parley_client *c, const char *conv, const char *guid,
                     const char *out_path, const struct parley_file_opts *opts);

/* ---- Payload table -------------------------------------------------------- */

/* The name of a message type ("text", "edit", ...), or NULL if unknown. */
const char *parley_msgtype_name(int msgtype);
/* Check a payload against the table of message types. Returns 0 or
 * PARLEY_EPROTO; on error, a reason goes to err (may be NULL). */
int parley_payload_check(const char *payload_json, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
