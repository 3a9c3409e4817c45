/* store_schema.c - the schema, as a list of versioned migrations.
 *
 * store_open() applies, in order and each in its own transaction, every
 * migration not yet recorded in schema_migrations (gaps below the highest
 * recorded version included), and refuses a database newer than the last
 * entry here.
 *
 * To change the schema, append an entry with the next version number. Never
 * edit or reorder an entry that has shipped: databases in the field have
 * already run it. `sql_pg` is NULL when the SQLite text also runs on
 * PostgreSQL. Keep the dialects close: BIGINT for integers that may exceed
 * 2^31 (SQLite treats any INTEGER as 64-bit), BLOB vs BYTEA, identity vs
 * AUTOINCREMENT, 0/1 INTEGER flags instead of BOOLEAN so that both backends
 * bind and read them as integers. See docs/internals/store.md. */
#include "store_int.h"

#define M4_SQL(BLOBT, IDPK)                                                                        \
    "CREATE TABLE identities ( "                                                                   \
    "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE, "                        \
    "  identity_key " BLOBT " NOT NULL, "                                                          \
    "  identity_backup " BLOBT " NOT NULL, "                                                       \
    "  created_at BIGINT NOT NULL); "                                                              \
    "CREATE TABLE devices ( "                                                                      \
    "  id " IDPK ", "                                                                              \
    "  device_id " BLOBT " UNIQUE NOT NULL, "                                                      \
    "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, "                           \
    "  cert " BLOBT " NOT NULL, "                                                                  \
    "  bundle " BLOBT " NOT NULL, "                                                                \
    "  prekeys_left INTEGER NOT NULL DEFAULT 0, "                                                  \
    "  name TEXT NOT NULL DEFAULT '', "                                                            \
    "  platform TEXT NOT NULL DEFAULT '', "                                                        \
    "  client_version TEXT NOT NULL DEFAULT '', "                                                  \
    "  next_seq BIGINT NOT NULL DEFAULT 0, "                                                       \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  last_seen BIGINT NOT NULL); "                                                               \
    "CREATE INDEX devices_by_user ON devices (user_id); "                                          \
    "CREATE TABLE client_sessions ( "                                                              \
    "  id " IDPK ", "                                                                              \
    "  token_hash " BLOBT " UNIQUE NOT NULL, "                                                     \
    "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, "                           \
    "  device_id BIGINT REFERENCES devices(id) ON DELETE CASCADE, "                                \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  expires_at BIGINT NOT NULL DEFAULT 0, "                                                     \
    "  revoked INTEGER NOT NULL DEFAULT 0); "                                                      \
    "CREATE INDEX client_sessions_by_user ON client_sessions (user_id); "                          \
    "CREATE INDEX client_sessions_by_device ON client_sessions (device_id); "                      \
    "CREATE TABLE conversations ( "                                                                \
    "  id " IDPK ", "                                                                              \
    "  conv_id " BLOBT " UNIQUE NOT NULL, "                                                        \
    "  type INTEGER NOT NULL CHECK (type IN (0, 1, 2)), "                                          \
    "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "                     \
    "  expiration BIGINT NOT NULL DEFAULT 0, "                                                     \
    "  burn_on_read BIGINT NOT NULL DEFAULT 0, "                                                   \
    "  created_by BIGINT REFERENCES users(id) ON DELETE SET NULL, "                                \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  deleted INTEGER NOT NULL DEFAULT 0); "                                                      \
    "CREATE TABLE members ( "                                                                      \
    "  conv_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, "                   \
    "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, "                           \
    "  role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'moderator')), "              \
    "  added_at BIGINT NOT NULL, "                                                                 \
    "  PRIMARY KEY (conv_id, user_id)); "                                                          \
    "CREATE INDEX members_by_user ON members (user_id); "                                          \
    "CREATE TABLE envelopes ( "                                                                    \
    "  id " IDPK ", "                                                                              \
    "  msg_id " BLOBT " NOT NULL, "                                                                \
    "  conv_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, "                   \
    "  sender_device BIGINT NOT NULL, "                                                            \
    "  body " BLOBT " NOT NULL, "                                                                  \
    "  ts_ms BIGINT NOT NULL, "                                                                    \
    "  expires_at BIGINT NOT NULL DEFAULT 0, "                                                     \
    "  flags INTEGER NOT NULL DEFAULT 0, "                                                         \
    "  UNIQUE (sender_device, msg_id)); "                                                          \
    "CREATE INDEX envelopes_by_expiry ON envelopes (expires_at) WHERE expires_at > 0; "            \
    "CREATE TABLE queue ( "                                                                        \
    "  device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE, "                       \
    "  seq BIGINT NOT NULL, "                                                                      \
    "  envelope_id BIGINT NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE, "                   \
    "  PRIMARY KEY (device_id, seq)); "                                                            \
    "CREATE INDEX queue_by_envelope ON queue (envelope_id); "

/* Migration 7: client configuration files (api_cconf.c). */
#define CC_SQL(BLOBT, IDPK)                                                                        \
    "CREATE TABLE client_configs ( "                                                               \
    "  id " IDPK ", "                                                                              \
    "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "                     \
    "  name TEXT NOT NULL, "                                                                       \
    "  security_group_id BIGINT REFERENCES security_groups(id) ON DELETE SET NULL, "               \
    "  service_host TEXT NOT NULL, "                                                               \
    "  service_port INTEGER NOT NULL, "                                                            \
    "  token_hash TEXT UNIQUE NOT NULL, "                                                          \
    "  file " BLOBT " NOT NULL, "                                                                  \
    "  created_by TEXT NOT NULL DEFAULT '', "                                                      \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  expires_at BIGINT NOT NULL, "                                                               \
    "  expired_at BIGINT, "                                                                        \
    "  downloads BIGINT NOT NULL DEFAULT 0, "                                                      \
    "  UNIQUE (network_id, name)); "

/* Migration 8: network administrator pages (api_admin_netpages.c). */
#define NP_SQL(IDPK)                                                                               \
    "CREATE TABLE network_options ( "                                                              \
    "  network_id BIGINT PRIMARY KEY REFERENCES networks(id) ON DELETE CASCADE, "                  \
    "  settings TEXT NOT NULL DEFAULT '{}', "                                                      \
    "  updated_at BIGINT NOT NULL); "                                                              \
    "CREATE TABLE security_tags ( "                                                                \
    "  id " IDPK ", "                                                                              \
    "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "                     \
    "  name TEXT NOT NULL, "                                                                       \
    "  color TEXT NOT NULL, "                                                                      \
    "  security_groups TEXT NOT NULL DEFAULT '[]', "                                               \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  UNIQUE (network_id, name)); "                                                               \
    "CREATE TABLE default_rooms ( "                                                                \
    "  id " IDPK ", "                                                                              \
    "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "                     \
    "  name TEXT NOT NULL, "                                                                       \
    "  description TEXT NOT NULL DEFAULT '', "                                                     \
    "  all_users INTEGER NOT NULL DEFAULT 0, "                                                     \
    "  security_groups TEXT NOT NULL DEFAULT '[]', "                                               \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  UNIQUE (network_id, name)); "                                                               \
    "CREATE TABLE guest_blocks ( "                                                                 \
    "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "                     \
    "  username TEXT NOT NULL, "                                                                   \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  PRIMARY KEY (network_id, username)); "

/* Version 50: device linking (api_link.c). */
#define LINK_SQL(BLOBT, IDPK)                                                                      \
    "CREATE TABLE device_links ( "                                                                 \
    "  id " IDPK ", "                                                                              \
    "  link_id " BLOBT " UNIQUE NOT NULL, "                                                        \
    "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, "                           \
    "  from_device BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE, "                     \
    "  to_device BIGINT REFERENCES devices(id) ON DELETE CASCADE, "                                \
    "  offer " BLOBT ", "                                                                          \
    "  header " BLOBT ", "                                                                         \
    "  n_chunks INTEGER NOT NULL DEFAULT 0, "                                                      \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  expires_at BIGINT NOT NULL); "                                                              \
    "CREATE INDEX device_links_by_user ON device_links (user_id); "                                \
    "CREATE INDEX device_links_by_expiry ON device_links (expires_at); "                           \
    "CREATE TABLE device_link_chunks ( "                                                           \
    "  link BIGINT NOT NULL REFERENCES device_links(id) ON DELETE CASCADE, "                       \
    "  idx INTEGER NOT NULL, "                                                                     \
    "  data " BLOBT " NOT NULL, "                                                                  \
    "  PRIMARY KEY (link, idx)); "
/* Files (api_files.c): one row per blob in data_dir/files. No foreign
 * keys on purpose: a row goes only when its blob has been unlinked (the
 * sweep), so a cascade from a deleted network, conversation or user must
 * not drop the row and leave the blob behind. */
#define FILES_SQL(BLOBT, IDPK)                                                                     \
    "CREATE TABLE files ( "                                                                        \
    "  id " IDPK ", "                                                                              \
    "  file_id " BLOBT " UNIQUE NOT NULL, "                                                        \
    "  network_id BIGINT NOT NULL, "                                                               \
    "  conv_id BIGINT NOT NULL, "                                                                  \
    "  uploader_id BIGINT NOT NULL, "                                                              \
    "  size BIGINT NOT NULL, "                                                                     \
    "  max_bytes BIGINT NOT NULL, "                                                                \
    "  stored BIGINT NOT NULL DEFAULT 0, "                                                         \
    "  complete INTEGER NOT NULL DEFAULT 0, "                                                      \
    "  burn_on_read INTEGER NOT NULL DEFAULT 0, "                                                  \
    "  removed INTEGER NOT NULL DEFAULT 0, "                                                       \
    "  created_at BIGINT NOT NULL, "                                                               \
    "  expires_at BIGINT NOT NULL DEFAULT 0); "                                                    \
    "CREATE INDEX files_by_conv ON files (conv_id); "                                              \
    "CREATE INDEX files_by_expiry ON files (expires_at); "                                         \
    "CREATE TABLE file_downloads ( "                                                               \
    "  file_id BIGINT NOT NULL, "                                                                  \
    "  user_id BIGINT NOT NULL, "                                                                  \
    "  PRIMARY KEY (file_id, user_id)); "

const struct store_migration store_migrations[] = {
    {
        .version = 1,
        .name = "foundation",
        /* kv: server-wide settings and bootstrap state.
         * admins: the administrators of the deployment. */
        .sql_sqlite = "CREATE TABLE kv ("
                      "  key TEXT PRIMARY KEY,"
                      "  value TEXT NOT NULL,"
                      "  updated_at BIGINT NOT NULL);"
                      "CREATE TABLE admins ("
                      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                      "  username TEXT UNIQUE NOT NULL,"
                      "  password_hash TEXT NOT NULL,"
                      "  must_change_password INTEGER NOT NULL DEFAULT 1,"
                      "  is_super INTEGER NOT NULL DEFAULT 0,"
                      "  created_at BIGINT NOT NULL);",
        .sql_pg = "CREATE TABLE kv ("
                  "  key TEXT PRIMARY KEY,"
                  "  value TEXT NOT NULL,"
                  "  updated_at BIGINT NOT NULL);"
                  "CREATE TABLE admins ("
                  "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                  "  username TEXT UNIQUE NOT NULL,"
                  "  password_hash TEXT NOT NULL,"
                  "  must_change_password INTEGER NOT NULL DEFAULT 1,"
                  "  is_super INTEGER NOT NULL DEFAULT 0,"
                  "  created_at BIGINT NOT NULL);",
    },
    {
        .version = 2,
        .name = "directory",
        /* networks: one organisation's space; network_id is the public id.
         * security_groups: per-network policy; `settings` is a JSON object
         * of every security-group setting (defaults apply to absent keys).
         * users: end users, bots and guests. user_id is the 16-byte id the
         * end-to-end keys are bound to (KEYS_ID_LEN); usernames are unique
         * within a network; status follows the Team Directory's states. */
        .sql_sqlite =
            "CREATE TABLE networks ( "
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "  network_id TEXT UNIQUE NOT NULL, "
            "  name TEXT NOT NULL, "
            "  federation_domain TEXT, "
            "  settings TEXT NOT NULL DEFAULT '{}', "
            "  created_at BIGINT NOT NULL, "
            "  updated_at BIGINT NOT NULL); "
            "CREATE TABLE security_groups ( "
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
            "  name TEXT NOT NULL, "
            "  is_default INTEGER NOT NULL DEFAULT 0, "
            "  settings TEXT NOT NULL DEFAULT '{}', "
            "  created_at BIGINT NOT NULL, "
            "  updated_at BIGINT NOT NULL, "
            "  UNIQUE (network_id, name)); "
            "CREATE TABLE users ( "
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
            "  user_id BLOB UNIQUE NOT NULL, "
            "  username TEXT NOT NULL, "
            "  first_name TEXT NOT NULL DEFAULT '', "
            "  last_name TEXT NOT NULL DEFAULT '', "
            "  password_hash TEXT NOT NULL, "
            "  status TEXT NOT NULL DEFAULT 'pending' "
            "    CHECK (status IN ('pending', 'active', 'suspended', 'deleted')), "
            "  is_restricted INTEGER NOT NULL DEFAULT 0, "
            "  user_type TEXT NOT NULL DEFAULT 'user' "
            "    CHECK (user_type IN ('user', 'web_admin', 'bot', 'guest')), "
            "  is_compliance INTEGER NOT NULL DEFAULT 0, "
            "  security_group_id BIGINT REFERENCES security_groups(id) ON DELETE SET NULL, "
            "  failed_logins INTEGER NOT NULL DEFAULT 0, "
            "  created_at BIGINT NOT NULL, "
            "  activated_at BIGINT, "
            "  updated_at BIGINT NOT NULL, "
            "  UNIQUE (network_id, username)); "
            "CREATE INDEX users_by_group ON users (security_group_id); ",
        .sql_pg = "CREATE TABLE networks ( "
                  "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                  "  network_id TEXT UNIQUE NOT NULL, "
                  "  name TEXT NOT NULL, "
                  "  federation_domain TEXT, "
                  "  settings TEXT NOT NULL DEFAULT '{}', "
                  "  created_at BIGINT NOT NULL, "
                  "  updated_at BIGINT NOT NULL); "
                  "CREATE TABLE security_groups ( "
                  "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                  "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
                  "  name TEXT NOT NULL, "
                  "  is_default INTEGER NOT NULL DEFAULT 0, "
                  "  settings TEXT NOT NULL DEFAULT '{}', "
                  "  created_at BIGINT NOT NULL, "
                  "  updated_at BIGINT NOT NULL, "
                  "  UNIQUE (network_id, name)); "
                  "CREATE TABLE users ( "
                  "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                  "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
                  "  user_id BYTEA UNIQUE NOT NULL, "
                  "  username TEXT NOT NULL, "
                  "  first_name TEXT NOT NULL DEFAULT '', "
                  "  last_name TEXT NOT NULL DEFAULT '', "
                  "  password_hash TEXT NOT NULL, "
                  "  status TEXT NOT NULL DEFAULT 'pending' "
                  "    CHECK (status IN ('pending', 'active', 'suspended', 'deleted')), "
                  "  is_restricted INTEGER NOT NULL DEFAULT 0, "
                  "  user_type TEXT NOT NULL DEFAULT 'user' "
                  "    CHECK (user_type IN ('user', 'web_admin', 'bot', 'guest')), "
                  "  is_compliance INTEGER NOT NULL DEFAULT 0, "
                  "  security_group_id BIGINT REFERENCES security_groups(id) ON DELETE SET NULL, "
                  "  failed_logins INTEGER NOT NULL DEFAULT 0, "
                  "  created_at BIGINT NOT NULL, "
                  "  activated_at BIGINT, "
                  "  updated_at BIGINT NOT NULL, "
                  "  UNIQUE (network_id, username)); "
                  "CREATE INDEX users_by_group ON users (security_group_id); ",
    },
    {
        .version = 3,
        .name = "admin",
        /* The admin plane (docs/internals/admin.md). admins gains its sign-in
         * state: TOTP (the secret is never returned by the API), lockout
         * counters and a role. roles: named permission sets; the built-in
         * ones take their permissions from rbac.c, not from this table.
         * admin_sessions and api_tokens keep SHA-256 hashes of their secrets
         * only. network_admins: which administrator runs which network.
         * audit_log: every admin action; network_id is the public id as text
         * so entries outlive a deleted network. */
        .sql_sqlite =
            "ALTER TABLE admins ADD COLUMN first_name TEXT NOT NULL DEFAULT ''; "
            "ALTER TABLE admins ADD COLUMN last_name TEXT NOT NULL DEFAULT ''; "
            "ALTER TABLE admins ADD COLUMN totp_secret TEXT; "
            "ALTER TABLE admins ADD COLUMN totp_pending TEXT; "
            "ALTER TABLE admins ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN role_id BIGINT; "
            "CREATE TABLE roles ( "
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "  name TEXT UNIQUE NOT NULL, "
            "  permissions TEXT NOT NULL DEFAULT '[]', "
            "  is_builtin INTEGER NOT NULL DEFAULT 0, "
            "  created_at BIGINT NOT NULL); "
            "INSERT INTO roles (name, is_builtin, created_at) VALUES "
            "  ('super_administrator', 1, 0), ('network_administrator', 1, 0), ('read_only', 1, "
            "0); "
            "CREATE TABLE admin_sessions ( "
            "  token_hash TEXT PRIMARY KEY, "
            "  admin_id BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE, "
            "  csrf_hash TEXT NOT NULL, "
            "  created_at BIGINT NOT NULL, "
            "  last_seen BIGINT NOT NULL, "
            "  expires_at BIGINT NOT NULL, "
            "  ip TEXT NOT NULL DEFAULT ''); "
            "CREATE INDEX admin_sessions_by_admin ON admin_sessions (admin_id); "
            "CREATE TABLE network_admins ( "
            "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
            "  admin_id BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE, "
            "  status TEXT NOT NULL DEFAULT 'accepted' CHECK (status IN ('invited', 'accepted')), "
            "  created_at BIGINT NOT NULL, "
            "  PRIMARY KEY (network_id, admin_id)); "
            "CREATE TABLE api_tokens ( "
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "  token_hash TEXT UNIQUE NOT NULL, "
            "  label TEXT NOT NULL, "
            "  scope TEXT NOT NULL CHECK (scope IN ('deployment', 'network')), "
            "  network_id BIGINT REFERENCES networks(id) ON DELETE CASCADE, "
            "  permissions TEXT NOT NULL DEFAULT '[]', "
            "  created_by BIGINT REFERENCES admins(id) ON DELETE SET NULL, "
            "  created_at BIGINT NOT NULL, "
            "  last_used BIGINT, "
            "  revoked_at BIGINT); "
            "CREATE TABLE audit_log ( "
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "  ts BIGINT NOT NULL, "
            "  actor_kind TEXT NOT NULL, "
            "  actor_id BIGINT, "
            "  actor_name TEXT NOT NULL DEFAULT '', "
            "  action TEXT NOT NULL, "
            "  target TEXT NOT NULL DEFAULT '', "
            "  network_id TEXT, "
            "  ip TEXT NOT NULL DEFAULT '', "
            "  details TEXT NOT NULL DEFAULT '{}'); "
            "CREATE INDEX audit_log_by_ts ON audit_log (ts); ",
        .sql_pg =
            "ALTER TABLE admins ADD COLUMN first_name TEXT NOT NULL DEFAULT ''; "
            "ALTER TABLE admins ADD COLUMN last_name TEXT NOT NULL DEFAULT ''; "
            "ALTER TABLE admins ADD COLUMN totp_secret TEXT; "
            "ALTER TABLE admins ADD COLUMN totp_pending TEXT; "
            "ALTER TABLE admins ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0; "
            "ALTER TABLE admins ADD COLUMN role_id BIGINT; "
            "CREATE TABLE roles ( "
            "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "  name TEXT UNIQUE NOT NULL, "
            "  permissions TEXT NOT NULL DEFAULT '[]', "
            "  is_builtin INTEGER NOT NULL DEFAULT 0, "
            "  created_at BIGINT NOT NULL); "
            "INSERT INTO roles (name, is_builtin, created_at) VALUES "
            "  ('super_administrator', 1, 0), ('network_administrator', 1, 0), ('read_only', 1, "
            "0); "
            "CREATE TABLE admin_sessions ( "
            "  token_hash TEXT PRIMARY KEY, "
            "  admin_id BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE, "
            "  csrf_hash TEXT NOT NULL, "
            "  created_at BIGINT NOT NULL, "
            "  last_seen BIGINT NOT NULL, "
            "  expires_at BIGINT NOT NULL, "
            "  ip TEXT NOT NULL DEFAULT ''); "
            "CREATE INDEX admin_sessions_by_admin ON admin_sessions (admin_id); "
            "CREATE TABLE network_admins ( "
            "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
            "  admin_id BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE, "
            "  status TEXT NOT NULL DEFAULT 'accepted' CHECK (status IN ('invited', 'accepted')), "
            "  created_at BIGINT NOT NULL, "
            "  PRIMARY KEY (network_id, admin_id)); "
            "CREATE TABLE api_tokens ( "
            "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "  token_hash TEXT UNIQUE NOT NULL, "
            "  label TEXT NOT NULL, "
            "  scope TEXT NOT NULL CHECK (scope IN ('deployment', 'network')), "
            "  network_id BIGINT REFERENCES networks(id) ON DELETE CASCADE, "
            "  permissions TEXT NOT NULL DEFAULT '[]', "
            "  created_by BIGINT REFERENCES admins(id) ON DELETE SET NULL, "
            "  created_at BIGINT NOT NULL, "
            "  last_used BIGINT, "
            "  revoked_at BIGINT); "
            "CREATE TABLE audit_log ( "
            "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "  ts BIGINT NOT NULL, "
            "  actor_kind TEXT NOT NULL, "
            "  actor_id BIGINT, "
            "  actor_name TEXT NOT NULL DEFAULT '', "
            "  action TEXT NOT NULL, "
            "  target TEXT NOT NULL DEFAULT '', "
            "  network_id TEXT, "
            "  ip TEXT NOT NULL DEFAULT '', "
            "  details TEXT NOT NULL DEFAULT '{}'); "
            "CREATE INDEX audit_log_by_ts ON audit_log (ts); ",
    },
    {
        .version = 4,
        .name = "messaging",
        /* identities: a user's root identity public key and the
         * password-encrypted backup of its secret half (docs/client-protocol.md).
         * devices: a user's devices; `bundle` is the stored pre-key bundle
         * (keys_bundle_take hands out one pre-key per claim), `prekeys_left`
         * its one-time pre-keys, `next_seq` the last queue seq handed out.
         * client_sessions: login tokens (device NULL) and device tokens, by
         * the SHA-256 of the token. conversations/members: who receives what.
         * envelopes: each accepted envelope, whole; queue: one row per
         * recipient device, numbered by seq per device, deleted on ack.
         * See docs/internals/messaging.md. */
        .sql_sqlite = M4_SQL("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        .sql_pg = M4_SQL("BYTEA", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    },
    {
        .version = 5,
        .name = "compliance_devices",
        /* Every envelope must also be wrapped for the network's compliance
         * bots: find them without scanning the network's users. */
        .sql_sqlite = "CREATE INDEX users_compliance ON users (network_id) "
                      "WHERE is_compliance = 1;",
    },
    {
        .version = 6,
        .name = "device_seqs",
        /* Each accepted envelope advances every recipient's queue counter.
         * In `devices` that rewrote a whole device row, pre-key bundle
         * (overflow pages) included, per recipient per envelope; here a
         * counter is a few bytes and hundreds share a page.
         * devices.next_seq is no longer read or written. */
        .sql_sqlite = "CREATE TABLE device_seqs ( "
                      "  device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE, "
                      "  next_seq BIGINT NOT NULL); "
                      "INSERT INTO device_seqs (device_id, next_seq) "
                      "SELECT id, next_seq FROM devices;",
        .sql_pg = "CREATE TABLE device_seqs ( "
                  "  device_id BIGINT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE, "
                  "  next_seq BIGINT NOT NULL); "
                  "INSERT INTO device_seqs (device_id, next_seq) "
                  "SELECT id, next_seq FROM devices;",
    },
    {
        .version = 7,
        .name = "client_configs",
        /* Client configuration files made by the admin API: the sealed file
         * as handed out (never its password) and the SHA-256 of the
         * download token that its deeplink and landing page carry.
         * expired_at is set when an administrator expires it early. */
        .sql_sqlite = CC_SQL("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        .sql_pg = CC_SQL("BYTEA", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    },
    {
        .version = 8,
        .name = "network_pages",
        /* Network administrator pages (api_admin_netpages.c): options not
         * in the network profile (file management, the calling port),
         * security tags and the security groups they apply to, default
         * room definitions for the room bot, and blocked guest users. */
        .sql_sqlite = NP_SQL("INTEGER PRIMARY KEY AUTOINCREMENT"),
        .sql_pg = NP_SQL("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    },
    {
        .version = 20,
        .name = "files",
        /* Encrypted file blobs: who may read them (the conversation), how
         * large they may grow (max_bytes, from the declared size), whether
         * the upload finished, and when the blob goes (expiry, removal,
         * burn-on-read once every member downloaded it). */
        .sql_sqlite = FILES_SQL("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        .sql_pg = FILES_SQL("BYTEA", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    },
    {
        .version = 21,
        .name = "file_vault",
        /* Files saved in a room's or group's Files view outlive the
         * messages that brought them: no expiry while in_vault is set. Its
         * folders and names travel encrypted in room control messages. */
        .sql_sqlite = "ALTER TABLE files ADD COLUMN in_vault INTEGER NOT NULL DEFAULT 0;",
    },
    {
        .version = 50,
        .name = "device_links",
        /* Linking a new device (docs/client-protocol.md, "Linking a
         * device"): the relay's state of each session, named by the
         * code-derived link_id, and the encrypted history chunks. The
         * server never holds a key to any of it; rows live ten minutes. */
        .sql_sqlite = LINK_SQL("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        .sql_pg = LINK_SQL("BYTEA", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    },
    {
        .version = 60,
        .name = "sso",
        /* SSO (OpenID Connect) configuration: scope 'deployment' for the
         * administrators' sign-in, or a network's public id for its users
         * (network_id then set). The client secret is sealed under
         * admin.key like TOTP secrets ('' when none). company_id is NULL
         * until set and unique across the deployment: clients use it to
         * find their network's identity provider. */
        .sql_sqlite = "CREATE TABLE sso_configs ( "
                      "  scope TEXT PRIMARY KEY, "
                      "  network_id BIGINT REFERENCES networks(id) ON DELETE CASCADE, "
                      "  enabled INTEGER NOT NULL DEFAULT 0, "
                      "  company_id TEXT UNIQUE, "
                      "  issuer_url TEXT NOT NULL DEFAULT '', "
                      "  client_id TEXT NOT NULL DEFAULT '', "
                      "  client_secret TEXT NOT NULL DEFAULT '', "
                      "  scopes TEXT NOT NULL DEFAULT 'openid email profile', "
                      "  token_grace_minutes INTEGER NOT NULL DEFAULT 0, "
                      "  group_sync INTEGER NOT NULL DEFAULT 0, "
                      "  group_sync_ou TEXT NOT NULL DEFAULT '', "
                      "  updated_at BIGINT NOT NULL);",
    },
    {
        .version = 81,
        .name = "sso_signin",
        /* Single sign-on of users (api_sso.c): which claim names the
         * user, whether unknown users are created at their first sign-in,
         * and the sign-ins in progress. A row is keyed by the SHA-256 of
         * its state (phase 'authorize': the provider has not answered
         * yet) or of the one-time sign-in code handed to the browser
         * (phase 'code'); both are single-use and expire. */
        .sql_sqlite =
            "ALTER TABLE sso_configs ADD COLUMN username_claim TEXT NOT NULL DEFAULT 'email'; "
            "ALTER TABLE sso_configs ADD COLUMN auto_provision INTEGER NOT NULL DEFAULT 1; "
            "CREATE TABLE sso_logins ( "
            "  id_hash BLOB PRIMARY KEY, "
            "  phase TEXT NOT NULL CHECK (phase IN ('authorize', 'code')), "
            "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
            "  nonce TEXT NOT NULL DEFAULT '', "
            "  code_verifier TEXT NOT NULL DEFAULT '', "
            "  client_challenge TEXT NOT NULL, "
            "  redirect_uri TEXT NOT NULL DEFAULT '', "
            "  user_row BIGINT REFERENCES users(id) ON DELETE CASCADE, "
            "  expires_at BIGINT NOT NULL); "
            "CREATE INDEX sso_logins_by_expiry ON sso_logins (expires_at);",
        .sql_pg =
            "ALTER TABLE sso_configs ADD COLUMN username_claim TEXT NOT NULL DEFAULT 'email'; "
            "ALTER TABLE sso_configs ADD COLUMN auto_provision INTEGER NOT NULL DEFAULT 1; "
            "CREATE TABLE sso_logins ( "
            "  id_hash BYTEA PRIMARY KEY, "
            "  phase TEXT NOT NULL CHECK (phase IN ('authorize', 'code')), "
            "  network_id BIGINT NOT NULL REFERENCES networks(id) ON DELETE CASCADE, "
            "  nonce TEXT NOT NULL DEFAULT '', "
            "  code_verifier TEXT NOT NULL DEFAULT '', "
            "  client_challenge TEXT NOT NULL, "
            "  redirect_uri TEXT NOT NULL DEFAULT '', "
            "  user_row BIGINT REFERENCES users(id) ON DELETE CASCADE, "
            "  expires_at BIGINT NOT NULL); "
            "CREATE INDEX sso_logins_by_expiry ON sso_logins (expires_at);",
    },
    {
        .version = 92,
        .name = "targets_gen",
        /* A generation bumped by every write that can change whom an
         * envelope goes to (msgstore.c load_targets: members, the users'
         * status, network, security group and compliance flag, devices,
         * conversations' deleted flag, default security groups). The
         * committer caches each conversation's recipient devices under the
         * generation it read them at, and reads the generation again in
         * every envelope's transaction. It starts at a random value, so
         * two databases do not share generations. */
        .sql_sqlite = "CREATE TABLE targets_gen (id INTEGER PRIMARY KEY CHECK (id = 1), gen BIGINT "
                      "NOT NULL); "
                      "INSERT INTO targets_gen (id, gen) VALUES (1, random() / 4); "
                      "CREATE TRIGGER targets_gen_members_ins AFTER INSERT ON members BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_members_del AFTER DELETE ON members BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_members_upd AFTER UPDATE OF conv_id, user_id ON "
                      "members BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_users_ins AFTER INSERT ON users BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_users_del AFTER DELETE ON users BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_users_upd AFTER UPDATE OF status, network_id, "
                      "security_group_id, is_compliance ON users BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_devices_ins AFTER INSERT ON devices BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_devices_del AFTER DELETE ON devices BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_devices_upd AFTER UPDATE OF device_id, user_id "
                      "ON devices BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_convs_del AFTER DELETE ON conversations BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_convs_upd AFTER UPDATE OF conv_id, deleted ON "
                      "conversations BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_groups_ins AFTER INSERT ON security_groups BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_groups_del AFTER DELETE ON security_groups BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; "
                      "CREATE TRIGGER targets_gen_groups_upd AFTER UPDATE OF network_id, "
                      "is_default ON security_groups BEGIN "
                      "  UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; END; ",
        .sql_pg =
            "CREATE TABLE targets_gen (id INTEGER PRIMARY KEY CHECK (id = 1), gen BIGINT NOT "
            "NULL); "
            "INSERT INTO targets_gen (id, gen) VALUES (1, (random() * 1e15)::bigint); "
            "CREATE FUNCTION targets_gen_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE targets_gen SET gen = gen + 1 WHERE id = 1; RETURN NULL; END $$; "
            "CREATE TRIGGER targets_gen_members_ins AFTER INSERT ON members "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_members_del AFTER DELETE ON members "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_members_upd AFTER UPDATE OF conv_id, user_id ON members "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_users_ins AFTER INSERT ON users "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_users_del AFTER DELETE ON users "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_users_upd AFTER UPDATE OF status, network_id, "
            "security_group_id, is_compliance ON users "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_devices_ins AFTER INSERT ON devices "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_devices_del AFTER DELETE ON devices "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_devices_upd AFTER UPDATE OF device_id, user_id ON devices "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_convs_del AFTER DELETE ON conversations "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_convs_upd AFTER UPDATE OF conv_id, deleted ON "
            "conversations "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_groups_ins AFTER INSERT ON security_groups "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_groups_del AFTER DELETE ON security_groups "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); "
            "CREATE TRIGGER targets_gen_groups_upd AFTER UPDATE OF network_id, is_default ON "
            "security_groups "
            "  FOR EACH STATEMENT EXECUTE FUNCTION targets_gen_bump(); ",
    },
};

const size_t store_migrations_count = ARRAY_SIZE(store_migrations);
