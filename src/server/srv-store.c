/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include <fcntl.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "cpns-error.h"
#include "cpns-ids.h"
#include "srv-store.h"
#include "srv-time.h"

#define MAX_EPHEMERAL 100000

typedef struct
{
  char   *user_id;
  char   *auth_id;
  char   *pne_id;
  char   *gateway_id;
  char   *decision;
  char   *rule_id;
  char   *source;
  gint64  at;
} PendingDecision;

struct _SrvStore
{
  gatomicrefcount ref;
  sqlite3    *db;
  /* The same file, synchronous=NORMAL: lockout counters. A commit there
   * survives the process (SIGKILL, restart), not a power cut, and costs
   * no fsync on the path an attacker drives. */
  sqlite3    *lockout_db;
  sqlite3_stmt *lockout_save;
  sqlite3_stmt *lockout_delete;
  sqlite3_stmt *lockout_prune;
  char       *path;
  GHashTable *statements;   /* const char *sql → sqlite3_stmt* */
  GHashTable *challenges;   /* challenge_id → SrvChallenge* */
  GHashTable *auths;        /* auth_id → SrvAuthExchange* */
  GPtrArray  *decisions;    /* PendingDecision* */
  /* Sessions change only through this process (create, delete) or by
   * expiring, so a cache of them is exact: token_hash → SrvSession*. */
  GHashTable *session_cache;
};

#define MAX_CACHED_SESSIONS 10000

/* ------------------------------------------------------------------ */
/* Schema */

static const char *const migrations[] = {
  /* 1 */
  "CREATE TABLE users ("
  "  user_id TEXT PRIMARY KEY,"
  "  pn_id TEXT NOT NULL UNIQUE,"
  "  default_action TEXT NOT NULL DEFAULT 'ask'"
  "    CHECK (default_action IN ('allow','ask','deny')),"
  "  revision INTEGER NOT NULL DEFAULT 0,"
  "  created_at INTEGER NOT NULL);"
  "CREATE TABLE enrollment_codes ("
  "  code_hash TEXT PRIMARY KEY,"
  "  user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,"
  "  created_at INTEGER NOT NULL,"
  "  expires_at INTEGER NOT NULL,"
  "  used_at INTEGER);"
  "CREATE INDEX enrollment_codes_user ON enrollment_codes(user_id);"
  "CREATE TABLE gateways ("
  "  gateway_id TEXT PRIMARY KEY,"
  "  user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,"
  "  name TEXT NOT NULL,"
  "  secret BLOB NOT NULL CHECK (length(secret) = 32),"
  "  created_at INTEGER NOT NULL);"
  "CREATE TABLE sessions ("
  "  token_hash TEXT PRIMARY KEY,"
  "  gateway_id TEXT NOT NULL REFERENCES gateways(gateway_id) ON DELETE CASCADE,"
  "  created_at INTEGER NOT NULL,"
  "  expires_at INTEGER NOT NULL);"
  "CREATE TABLE entities ("
  "  pne_id TEXT PRIMARY KEY,"
  "  user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,"
  "  gateway_id TEXT REFERENCES gateways(gateway_id) ON DELETE SET NULL,"
  "  descriptor TEXT NOT NULL,"
  "  state TEXT NOT NULL CHECK (state IN"
  "    ('pending','registered','connected','disconnected','revoked')),"
  "  key_assignment TEXT NOT NULL CHECK (key_assignment IN ('server','gateway')),"
  "  key_id TEXT,"
  "  euk BLOB CHECK (euk IS NULL OR length(euk) = 32),"
  "  pending_key_id TEXT,"
  "  pending_euk BLOB CHECK (pending_euk IS NULL OR length(pending_euk) = 32),"
  "  pending_mode TEXT,"
  "  session_id TEXT,"
  "  services TEXT,"
  "  created_at INTEGER NOT NULL,"
  "  registered_at INTEGER,"
  "  last_seen INTEGER,"
  "  revision INTEGER NOT NULL);"
  "CREATE UNIQUE INDEX entities_key_id ON entities(key_id) WHERE key_id IS NOT NULL;"
  "CREATE UNIQUE INDEX entities_pending_key_id ON entities(pending_key_id)"
  "  WHERE pending_key_id IS NOT NULL;"
  "CREATE INDEX entities_user_revision ON entities(user_id, revision);"
  "CREATE TABLE policy_rules ("
  "  rule_id TEXT PRIMARY KEY,"
  "  user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,"
  "  position INTEGER NOT NULL,"
  "  match_pne_id TEXT,"
  "  match_entity_type TEXT,"
  "  match_gateway_id TEXT,"
  "  action TEXT NOT NULL CHECK (action IN ('allow','ask','deny')),"
  "  expires_at INTEGER,"
  "  UNIQUE (user_id, position));"
  "CREATE TABLE decisions ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  user_id TEXT NOT NULL,"
  "  auth_id TEXT NOT NULL,"
  "  pne_id TEXT NOT NULL,"
  "  gateway_id TEXT,"
  "  decision TEXT NOT NULL,"
  "  rule_id TEXT,"
  "  source TEXT NOT NULL,"
  "  at INTEGER NOT NULL);"
  "CREATE INDEX decisions_pne ON decisions(pne_id);"
  "CREATE TABLE events ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  user_id TEXT NOT NULL,"
  "  body TEXT NOT NULL,"
  "  at INTEGER NOT NULL);",
  /* 2: failure counters and locks of srv-limiter.c (PROTOCOL.md §5),
   * so that a restart does not lift a lockout. failures: the times (µs)
   * of the failures still in the window, oldest first, space-separated. */
  "CREATE TABLE lockouts ("
  "  scope TEXT NOT NULL,"
  "  key TEXT NOT NULL,"
  "  failures TEXT NOT NULL DEFAULT '',"
  "  last_failure INTEGER NOT NULL DEFAULT 0,"
  "  locked_until INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY (scope, key)) WITHOUT ROWID;",
};

G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == SRV_STORE_SCHEMA_VERSION);

/* ------------------------------------------------------------------ */
/* Helpers */

static gboolean
set_sqlite_error (SrvStore    *store,
                  GError     **error,
                  const char  *what)
{
  int code = sqlite3_extended_errcode (store->db);

  if ((code & 0xff) == SQLITE_CONSTRAINT)
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                 "conflict: %s violates a uniqueness or integrity rule", what);
  else
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                 "internal: database error while %s: %s", what, sqlite3_errmsg (store->db));
  return FALSE;
}

/* A cached prepared statement, reset and unbound. */
static sqlite3_stmt *
stmt (SrvStore   *store,
      const char *sql)
{
  sqlite3_stmt *s = g_hash_table_lookup (store->statements, sql);

  if (s == NULL)
    {
      if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
        {
          g_critical ("cannot prepare statement: %s", sqlite3_errmsg (store->db));
          return NULL;
        }
      g_hash_table_insert (store->statements, (gpointer) sql, s);
    }
  else
    {
      sqlite3_reset (s);
      sqlite3_clear_bindings (s);
    }
  return s;
}

static void
bind_text (sqlite3_stmt *s,
           int           index,
           const char   *text)
{
  if (text == NULL)
    sqlite3_bind_null (s, index);
  else
    sqlite3_bind_text (s, index, text, -1, SQLITE_TRANSIENT);
}

static void
bind_blob (sqlite3_stmt *s,
           int           index,
           const guint8 *data,
           gsize         len)
{
  if (data == NULL)
    sqlite3_bind_null (s, index);
  else
    sqlite3_bind_blob (s, index, data, (int) len, SQLITE_TRANSIENT);
}

static char *
column_dup (sqlite3_stmt *s,
            int           col)
{
  const unsigned char *text = sqlite3_column_text (s, col);

  return text ? g_strdup ((const char *) text) : NULL;
}

static gboolean
column_key (sqlite3_stmt *s,
            int           col,
            guint8        out[CPNS_KEY_LEN])
{
  const void *blob = sqlite3_column_blob (s, col);

  if (blob == NULL || sqlite3_column_bytes (s, col) != CPNS_KEY_LEN)
    return FALSE;
  memcpy (out, blob, CPNS_KEY_LEN);
  return TRUE;
}

/* Runs a statement that returns no row. */
static gboolean
step_done (SrvStore     *store,
           sqlite3_stmt *s,
           const char   *what,
           GError      **error)
{
  int rc = sqlite3_step (s);

  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return set_sqlite_error (store, error, what);
  return TRUE;
}

static gboolean
exec (SrvStore    *store,
      const char  *sql,
      GError     **error)
{
  char *msg = NULL;

  if (sqlite3_exec (store->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "internal: database error: %s", msg ? msg : "unknown");
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

static gboolean
begin (SrvStore  *store,
       GError   **error)
{
  sqlite3_stmt *s = stmt (store, "BEGIN IMMEDIATE");

  return s != NULL && step_done (store, s, "starting a transaction", error);
}

static gboolean
commit (SrvStore  *store,
        GError   **error)
{
  sqlite3_stmt *s = stmt (store, "COMMIT");

  if (s == NULL || !step_done (store, s, "committing", error))
    {
      sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
rollback (SrvStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

/* Bumps the PN revision of @user_id and returns it (-1 on error). */
static gint64
bump_revision (SrvStore    *store,
               const char  *user_id,
               GError     **error)
{
  sqlite3_stmt *s = stmt (store,
                          "UPDATE users SET revision = revision + 1 WHERE user_id = ?1 "
                          "RETURNING revision");
  gint64 revision;

  bind_text (s, 1, user_id);
  if (sqlite3_step (s) != SQLITE_ROW)
    {
      set_sqlite_error (store, error, "updating the revision");
      sqlite3_reset (s);
      return -1;
    }
  revision = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  return revision;
}

static gboolean
add_event (SrvStore    *store,
           const char  *user_id,
           JsonObject  *event,
           GError     **error)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), event);
  g_autofree char *body = json_to_string (node, FALSE);
  sqlite3_stmt *s = stmt (store, "INSERT INTO events (user_id, body, at) VALUES (?1, ?2, ?3)");

  bind_text (s, 1, user_id);
  bind_text (s, 2, body);
  sqlite3_bind_int64 (s, 3, srv_now ());
  return step_done (store, s, "recording an event", error);
}

static gboolean
add_inventory_event (SrvStore    *store,
                     const char  *user_id,
                     gint64       revision,
                     GError     **error)
{
  g_autoptr(JsonObject) event = json_object_new ();

  json_object_set_string_member (event, "type", "inventory_changed");
  json_object_set_int_member (event, "revision", revision);
  return add_event (store, user_id, event, error);
}

static gboolean
add_simple_event (SrvStore    *store,
                  const char  *user_id,
                  const char  *type,
                  const char  *pne_id,
                  GError     **error)
{
  g_autoptr(JsonObject) event = json_object_new ();

  json_object_set_string_member (event, "type", type);
  if (pne_id)
    json_object_set_string_member (event, "pne_id", pne_id);
  return add_event (store, user_id, event, error);
}

/* ------------------------------------------------------------------ */
/* Lifetime */

static void
finalize_statement (gpointer data)
{
  sqlite3_finalize (data);
}

static void
pending_decision_free (PendingDecision *d)
{
  g_free (d->user_id);
  g_free (d->auth_id);
  g_free (d->pne_id);
  g_free (d->gateway_id);
  g_free (d->decision);
  g_free (d->rule_id);
  g_free (d->source);
  g_free (d);
}

static gboolean
open_lockout_db (SrvStore  *store,
                 GError   **error)
{
  if (sqlite3_open_v2 (store->path, &store->lockout_db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
      sqlite3_exec (store->lockout_db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "internal: cannot open the database %s: %s", store->path,
                   store->lockout_db ? sqlite3_errmsg (store->lockout_db) : "out of memory");
      return FALSE;
    }
  sqlite3_busy_timeout (store->lockout_db, 5000);
  return TRUE;
}

static gboolean
migrate (SrvStore  *store,
         GError   **error)
{
  sqlite3_stmt *s = NULL;
  int version = 0;

  if (sqlite3_prepare_v2 (store->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step (s) == SQLITE_ROW)
    version = sqlite3_column_int (s, 0);
  sqlite3_finalize (s);

  if (version > SRV_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "internal: the database has schema version %d, newer than this "
                   "cpns-server understands (%d)", version, SRV_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  for (int v = version; v < SRV_STORE_SCHEMA_VERSION; v++)
    {
      g_autofree char *set_version = g_strdup_printf ("PRAGMA user_version = %d", v + 1);

      if (!exec (store, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!exec (store, migrations[v], error) || !exec (store, set_version, error) ||
          !exec (store, "COMMIT", error))
        return rollback (store);
      g_debug ("database migrated to schema version %d", v + 1);
    }
  return TRUE;
}

SrvStore *
srv_store_open (const char  *path,
                GError     **error)
{
  g_autoptr(SrvStore) store = g_new0 (SrvStore, 1);

  g_return_val_if_fail (path != NULL, NULL);

  g_atomic_ref_count_init (&store->ref);
  store->path = g_strdup (path);
  store->statements = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                             finalize_statement);
  store->challenges = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) srv_challenge_free);
  store->auths = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) srv_auth_exchange_free);
  store->decisions = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_decision_free);
  store->session_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                (GDestroyNotify) srv_session_free);

  /* The database holds gateway secrets and EUKs: owner only. SQLite
   * gives its -wal and -shm files the same mode. */
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

      if (fd >= 0)
        g_close (fd, NULL);
    }

  if (sqlite3_open_v2 (path, &store->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "internal: cannot open the database %s: %s", path,
                   store->db ? sqlite3_errmsg (store->db) : "out of memory");
      return NULL;
    }
  sqlite3_busy_timeout (store->db, 5000);
  if (!exec (store, "PRAGMA journal_mode = WAL", error) ||
      !exec (store, "PRAGMA synchronous = FULL", error) ||
      !exec (store, "PRAGMA foreign_keys = ON", error) ||
      !exec (store, "PRAGMA secure_delete = ON", error) ||
      !migrate (store, error) ||
      !open_lockout_db (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

SrvStore *
srv_store_ref (SrvStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_atomic_ref_count_inc (&store->ref);
  return store;
}

void
srv_store_free (SrvStore *store)
{
  if (store == NULL)
    return;
  if (!g_atomic_ref_count_dec (&store->ref))
    return;
  g_clear_pointer (&store->lockout_save, sqlite3_finalize);
  g_clear_pointer (&store->lockout_delete, sqlite3_finalize);
  g_clear_pointer (&store->lockout_prune, sqlite3_finalize);
  if (store->lockout_db)
    sqlite3_close (store->lockout_db);
  if (store->db != NULL && store->decisions->len > 0)
    srv_store_flush_decisions (store, NULL);
  g_clear_pointer (&store->statements, g_hash_table_unref);
  if (store->db)
    sqlite3_close (store->db);
  g_clear_pointer (&store->challenges, g_hash_table_unref);
  g_clear_pointer (&store->auths, g_hash_table_unref);
  g_clear_pointer (&store->decisions, g_ptr_array_unref);
  g_clear_pointer (&store->session_cache, g_hash_table_unref);
  g_free (store->path);
  g_free (store);
}

const char *
srv_store_get_path (SrvStore *store)
{
  return store->path;
}

char *
srv_store_integrity_check (SrvStore *store)
{
  sqlite3_stmt *s = NULL;
  GString *out = g_string_new (NULL);

  if (sqlite3_prepare_v2 (store->db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK)
    while (sqlite3_step (s) == SQLITE_ROW)
      {
        if (out->len)
          g_string_append_c (out, '\n');
        g_string_append (out, (const char *) sqlite3_column_text (s, 0));
      }
  sqlite3_finalize (s);
  return g_string_free (out, FALSE);
}

void
srv_store_begin_read (SrvStore *store)
{
  sqlite3_stmt *s = stmt (store, "BEGIN");

  step_done (store, s, "starting a read", NULL);
}

void
srv_store_end_read (SrvStore *store)
{
  sqlite3_stmt *s;

  if (sqlite3_get_autocommit (store->db))
    return;
  s = stmt (store, "COMMIT");
  step_done (store, s, "ending a read", NULL);
}

/* ------------------------------------------------------------------ */
/* Record types */

void
srv_user_free (SrvUser *user)
{
  if (user == NULL)
    return;
  g_free (user->user_id);
  g_free (user->pn_id);
  g_free (user->default_action);
  g_free (user);
}

void
srv_gateway_free (SrvGateway *gateway)
{
  if (gateway == NULL)
    return;
  cpns_wipe (gateway->secret, sizeof gateway->secret);
  g_free (gateway->gateway_id);
  g_free (gateway->user_id);
  g_free (gateway->pn_id);
  g_free (gateway->name);
  g_free (gateway);
}

void
srv_session_free (SrvSession *session)
{
  if (session == NULL)
    return;
  g_free (session->gateway_id);
  g_free (session->user_id);
  g_free (session->pn_id);
  g_free (session);
}

void
srv_entity_free (SrvEntity *entity)
{
  if (entity == NULL)
    return;
  cpns_wipe (entity->euk, sizeof entity->euk);
  cpns_wipe (entity->pending_euk, sizeof entity->pending_euk);
  g_free (entity->pne_id);
  g_free (entity->user_id);
  g_free (entity->pn_id);
  g_free (entity->gateway_id);
  g_free (entity->descriptor);
  g_free (entity->state);
  g_free (entity->key_assignment);
  g_free (entity->key_id);
  g_free (entity->pending_key_id);
  g_free (entity->pending_mode);
  g_free (entity->session_id);
  g_free (entity->services);
  g_free (entity);
}

void
srv_challenge_free (SrvChallenge *challenge)
{
  if (challenge == NULL)
    return;
  g_free (challenge->challenge_id);
  g_free (challenge->gateway_id);
  g_free (challenge);
}

void
srv_auth_exchange_free (SrvAuthExchange *exchange)
{
  if (exchange == NULL)
    return;
  g_free (exchange->auth_id);
  g_free (exchange->pne_id);
  g_free (exchange->gateway_id);
  g_free (exchange->user_id);
  g_strfreev (exchange->requested_services);
  g_free (exchange);
}

void
srv_event_free (SrvEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->user_id);
  g_free (event->body);
  g_free (event);
}

/* ------------------------------------------------------------------ */
/* Users and enrollment */

gboolean
srv_store_add_user_code (SrvStore    *store,
                         const char  *user_id,
                         const char  *code_hash,
                         gint64       now,
                         gint64       expires_at,
                         gboolean    *out_created,
                         GError     **error)
{
  sqlite3_stmt *s;
  gboolean exists;

  if (!begin (store, error))
    return FALSE;

  s = stmt (store, "SELECT 1 FROM users WHERE user_id = ?1");
  bind_text (s, 1, user_id);
  exists = sqlite3_step (s) == SQLITE_ROW;
  sqlite3_reset (s);

  if (!exists)
    {
      g_autofree char *pn_id = cpns_id_new (CPNS_ID_PN);

      s = stmt (store, "INSERT INTO users (user_id, pn_id, created_at) VALUES (?1, ?2, ?3)");
      bind_text (s, 1, user_id);
      bind_text (s, 2, pn_id);
      sqlite3_bind_int64 (s, 3, now);
      if (!step_done (store, s, "creating the user", error))
        return rollback (store);
    }

  s = stmt (store,
            "INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at) "
            "VALUES (?1, ?2, ?3, ?4)");
  bind_text (s, 1, code_hash);
  bind_text (s, 2, user_id);
  sqlite3_bind_int64 (s, 3, now);
  sqlite3_bind_int64 (s, 4, expires_at);
  if (!step_done (store, s, "recording the enrollment code", error))
    return rollback (store);
  if (!commit (store, error))
    return FALSE;
  if (out_created)
    *out_created = !exists;
  return TRUE;
}

static SrvUser *
user_from_row (sqlite3_stmt *s)
{
  SrvUser *user = g_new0 (SrvUser, 1);

  user->user_id = column_dup (s, 0);
  user->pn_id = column_dup (s, 1);
  user->default_action = column_dup (s, 2);
  user->revision = sqlite3_column_int64 (s, 3);
  user->created_at = sqlite3_column_int64 (s, 4);
  user->n_gateways = sqlite3_column_int (s, 5);
  user->n_entities = sqlite3_column_int (s, 6);
  return user;
}

#define USER_COLUMNS \
  "u.user_id, u.pn_id, u.default_action, u.revision, u.created_at, " \
  "(SELECT count(*) FROM gateways g WHERE g.user_id = u.user_id), " \
  "(SELECT count(*) FROM entities e WHERE e.user_id = u.user_id AND e.state != 'revoked') "

SrvUser *
srv_store_get_user (SrvStore    *store,
                    const char  *user_id,
                    GError     **error)
{
  sqlite3_stmt *s = stmt (store, "SELECT " USER_COLUMNS "FROM users u WHERE u.user_id = ?1");
  SrvUser *user = NULL;

  bind_text (s, 1, user_id);
  if (sqlite3_step (s) == SQLITE_ROW)
    user = user_from_row (s);
  sqlite3_reset (s);
  if (user == NULL)
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND, "not_found: no user '%s'", user_id);
  return user;
}

GPtrArray *
srv_store_list_users (SrvStore  *store,
                      GError   **error)
{
  sqlite3_stmt *s = stmt (store, "SELECT " USER_COLUMNS "FROM users u ORDER BY u.user_id");
  GPtrArray *users = g_ptr_array_new_with_free_func ((GDestroyNotify) srv_user_free);
  int rc;

  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    g_ptr_array_add (users, user_from_row (s));
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      g_ptr_array_unref (users);
      set_sqlite_error (store, error, "listing users");
      return NULL;
    }
  return users;
}

gboolean
srv_store_enroll (SrvStore     *store,
                  const char   *user_id,
                  const char   *code_hash,
                  gint64        now,
                  const char   *gateway_id,
                  const char   *gateway_name,
                  const guint8  secret[CPNS_KEY_LEN],
                  GError      **error)
{
  sqlite3_stmt *s;
  g_autofree char *matched = NULL;
  int rc;

  if (!begin (store, error))
    return FALSE;

  /* Compare every live code of the user in constant time, rather than
   * looking the hash up in an index. */
  s = stmt (store,
            "SELECT code_hash FROM enrollment_codes "
            "WHERE user_id = ?1 AND used_at IS NULL AND expires_at > ?2");
  bind_text (s, 1, user_id);
  sqlite3_bind_int64 (s, 2, now);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *candidate = (const char *) sqlite3_column_text (s, 0);

      if (candidate != NULL &&
          cpns_memeq_ct (candidate, strlen (candidate), code_hash, strlen (code_hash)) &&
          matched == NULL)
        matched = g_strdup (candidate);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, "checking the enrollment code");
      return rollback (store);
    }
  if (matched == NULL)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED,
                           "unauthorized: the enrollment code is wrong, used or expired");
      return rollback (store);
    }

  s = stmt (store, "UPDATE enrollment_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL");
  bind_text (s, 1, matched);
  sqlite3_bind_int64 (s, 2, now);
  if (!step_done (store, s, "using the enrollment code", error))
    return rollback (store);

  s = stmt (store,
            "INSERT INTO gateways (gateway_id, user_id, name, secret, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
  bind_text (s, 1, gateway_id);
  bind_text (s, 2, user_id);
  bind_text (s, 3, gateway_name);
  bind_blob (s, 4, secret, CPNS_KEY_LEN);
  sqlite3_bind_int64 (s, 5, now);
  if (!step_done (store, s, "creating the gateway", error))
    return rollback (store);
  return commit (store, error);
}

SrvGateway *
srv_store_get_gateway (SrvStore    *store,
                       const char  *gateway_id,
                       GError     **error)
{
  sqlite3_stmt *s = stmt (store,
                          "SELECT g.gateway_id, g.user_id, u.pn_id, g.name, g.secret "
                          "FROM gateways g JOIN users u USING (user_id) WHERE g.gateway_id = ?1");
  SrvGateway *gateway = NULL;

  bind_text (s, 1, gateway_id);
  if (sqlite3_step (s) == SQLITE_ROW)
    {
      gateway = g_new0 (SrvGateway, 1);
      gateway->gateway_id = column_dup (s, 0);
      gateway->user_id = column_dup (s, 1);
      gateway->pn_id = column_dup (s, 2);
      gateway->name = column_dup (s, 3);
      column_key (s, 4, gateway->secret);
    }
  sqlite3_reset (s);
  if (gateway == NULL)
    g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND, "not_found: unknown gateway_id");
  return gateway;
}

/* ------------------------------------------------------------------ */
/* Sessions */

void
srv_store_put_challenge (SrvStore     *store,
                         SrvChallenge *challenge)
{
  if (g_hash_table_size (store->challenges) >= MAX_EPHEMERAL)
    srv_store_expire_ephemeral (store, srv_now ());
  g_hash_table_replace (store->challenges, challenge->challenge_id, challenge);
}

SrvChallenge *
srv_store_take_challenge (SrvStore    *store,
                          const char  *challenge_id,
                          GError     **error)
{
  gpointer key, value;

  if (!g_hash_table_steal_extended (store->challenges, challenge_id, &key, &value))
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                           "not_found: unknown or already used challenge_id");
      return NULL;
    }
  return value;
}

guint
srv_store_count_challenges (SrvStore   *store,
                            const char *gateway_id)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, store->challenges);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((SrvChallenge *) value)->gateway_id, gateway_id) == 0)
      n++;
  return n;
}

gboolean
srv_store_create_session (SrvStore    *store,
                          const char  *token_hash,
                          const char  *gateway_id,
                          gint64       now,
                          gint64       expires_at,
                          GError     **error)
{
  sqlite3_stmt *s;

  if (!begin (store, error))
    return FALSE;
  /* Expired sessions of this gateway go at the same time. */
  s = stmt (store, "DELETE FROM sessions WHERE gateway_id = ?1 AND expires_at <= ?2");
  bind_text (s, 1, gateway_id);
  sqlite3_bind_int64 (s, 2, now);
  if (!step_done (store, s, "removing expired sessions", error))
    return rollback (store);
  s = stmt (store,
            "INSERT INTO sessions (token_hash, gateway_id, created_at, expires_at) "
            "VALUES (?1, ?2, ?3, ?4)");
  bind_text (s, 1, token_hash);
  bind_text (s, 2, gateway_id);
  sqlite3_bind_int64 (s, 3, now);
  sqlite3_bind_int64 (s, 4, expires_at);
  if (!step_done (store, s, "creating the session", error))
    return rollback (store);
  return commit (store, error);
}

SrvSession *
srv_store_lookup_session (SrvStore    *store,
                          const char  *token_hash,
                          gint64       now,
                          GError     **error)
{
  sqlite3_stmt *s = stmt (store,
                          "SELECT s.gateway_id, g.user_id, u.pn_id, s.expires_at "
                          "FROM sessions s JOIN gateways g USING (gateway_id) "
                          "JOIN users u ON u.user_id = g.user_id "
                          "WHERE s.token_hash = ?1 AND s.expires_at > ?2");
  SrvSession *session = NULL;
  SrvSession *cached = g_hash_table_lookup (store->session_cache, token_hash);

  if (cached != NULL && cached->expires_at > now)
    {
      session = g_new0 (SrvSession, 1);
      session->gateway_id = g_strdup (cached->gateway_id);
      session->user_id = g_strdup (cached->user_id);
      session->pn_id = g_strdup (cached->pn_id);
      session->expires_at = cached->expires_at;
      return session;
    }
  if (cached != NULL)
    g_hash_table_remove (store->session_cache, token_hash);

  bind_text (s, 1, token_hash);
  sqlite3_bind_int64 (s, 2, now);
  if (sqlite3_step (s) == SQLITE_ROW)
    {
      session = g_new0 (SrvSession, 1);
      session->gateway_id = column_dup (s, 0);
      session->user_id = column_dup (s, 1);
      session->pn_id = column_dup (s, 2);
      session->expires_at = sqlite3_column_int64 (s, 3);
    }
  sqlite3_reset (s);
  if (session == NULL)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED,
                           "unauthorized: the session token is unknown or expired");
      return NULL;
    }
  if (g_hash_table_size (store->session_cache) >= MAX_CACHED_SESSIONS)
    g_hash_table_remove_all (store->session_cache);
  cached = g_new0 (SrvSession, 1);
  cached->gateway_id = g_strdup (session->gateway_id);
  cached->user_id = g_strdup (session->user_id);
  cached->pn_id = g_strdup (session->pn_id);
  cached->expires_at = session->expires_at;
  g_hash_table_replace (store->session_cache, g_strdup (token_hash), cached);
  return session;
}

gboolean
srv_store_delete_session (SrvStore    *store,
                          const char  *token_hash,
                          GError     **error)
{
  sqlite3_stmt *s;

  if (!begin (store, error))
    return FALSE;
  s = stmt (store, "DELETE FROM sessions WHERE token_hash = ?1");
  bind_text (s, 1, token_hash);
  if (!step_done (store, s, "ending the session", error))
    return rollback (store);
  if (!commit (store, error))
    return FALSE;
  g_hash_table_remove (store->session_cache, token_hash);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Entities */

#define ENTITY_COLUMNS \
  "e.pne_id, e.user_id, u.pn_id, e.gateway_id, e.descriptor, e.state, " \
  "e.key_assignment, e.key_id, e.euk, e.pending_key_id, e.pending_euk, " \
  "e.pending_mode, e.session_id, e.services, e.created_at, e.registered_at, " \
  "e.last_seen, e.revision "

static SrvEntity *
entity_from_row (sqlite3_stmt *s)
{
  SrvEntity *e = g_new0 (SrvEntity, 1);

  e->pne_id = column_dup (s, 0);
  e->user_id = column_dup (s, 1);
  e->pn_id = column_dup (s, 2);
  e->gateway_id = column_dup (s, 3);
  e->descriptor = column_dup (s, 4);
  e->state = column_dup (s, 5);
  e->key_assignment = column_dup (s, 6);
  e->key_id = column_dup (s, 7);
  e->has_euk = column_key (s, 8, e->euk);
  e->pending_key_id = column_dup (s, 9);
  e->has_pending_euk = column_key (s, 10, e->pending_euk);
  e->pending_mode = column_dup (s, 11);
  e->session_id = column_dup (s, 12);
  e->services = column_dup (s, 13);
  e->created_at = sqlite3_column_int64 (s, 14);
  e->registered_at = sqlite3_column_int64 (s, 15);
  e->last_seen = sqlite3_column_int64 (s, 16);
  e->revision = sqlite3_column_int64 (s, 17);
  return e;
}

static gboolean
key_id_taken (SrvStore   *store,
              const char *key_id)
{
  sqlite3_stmt *s = stmt (store,
                          "SELECT 1 FROM entities WHERE key_id = ?1 OR pending_key_id = ?1");
  gboolean taken;

  bind_text (s, 1, key_id);
  taken = sqlite3_step (s) == SQLITE_ROW;
  sqlite3_reset (s);
  return taken;
}

gboolean
srv_store_register_entity (SrvStore     *store,
                           const char   *user_id,
                           const char   *gateway_id,
                           const char   *pne_id,
                           const char   *descriptor,
                           const char   *key_assignment,
                           const char   *key_id,
                           const guint8  euk[CPNS_KEY_LEN],
                           gint64        now,
                           GError      **error)
{
  sqlite3_stmt *s;
  gboolean exists;
  gint64 revision;

  if (!begin (store, error))
    return FALSE;

  s = stmt (store, "SELECT 1 FROM entities WHERE pne_id = ?1");
  bind_text (s, 1, pne_id);
  exists = sqlite3_step (s) == SQLITE_ROW;
  sqlite3_reset (s);
  if (exists)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: this pne_id is already registered");
      return rollback (store);
    }
  if (key_id_taken (store, key_id))
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: this key_id is already in use");
      return rollback (store);
    }

  revision = bump_revision (store, user_id, error);
  if (revision < 0)
    return rollback (store);

  s = stmt (store,
            "INSERT INTO entities (pne_id, user_id, gateway_id, descriptor, state, "
            "  key_assignment, key_id, euk, created_at, revision) "
            "VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?9)");
  bind_text (s, 1, pne_id);
  bind_text (s, 2, user_id);
  bind_text (s, 3, gateway_id);
  bind_text (s, 4, descriptor);
  bind_text (s, 5, key_assignment);
  bind_text (s, 6, key_id);
  bind_blob (s, 7, euk, CPNS_KEY_LEN);
  sqlite3_bind_int64 (s, 8, now);
  sqlite3_bind_int64 (s, 9, revision);
  if (!step_done (store, s, "registering the entity", error))
    return rollback (store);
  if (!add_inventory_event (store, user_id, revision, error))
    return rollback (store);
  return commit (store, error);
}

SrvEntity *
srv_store_get_entity (SrvStore    *store,
                      const char  *user_id,
                      const char  *pne_id,
                      GError     **error)
{
  sqlite3_stmt *s = stmt (store,
                          "SELECT " ENTITY_COLUMNS
                          "FROM entities e JOIN users u USING (user_id) "
                          "WHERE e.pne_id = ?1 AND (?2 IS NULL OR e.user_id = ?2)");
  SrvEntity *entity = NULL;

  bind_text (s, 1, pne_id);
  bind_text (s, 2, user_id);
  if (sqlite3_step (s) == SQLITE_ROW)
    entity = entity_from_row (s);
  sqlite3_reset (s);
  if (entity == NULL)
    g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                         "not_found: no such entity in this PN");
  return entity;
}

char *
srv_store_confirm_key (SrvStore    *store,
                       const char  *user_id,
                       const char  *pne_id,
                       const char  *key_id,
                       gint64       now,
                       GError     **error)
{
  g_autoptr(SrvEntity) e = NULL;
  sqlite3_stmt *s;
  gint64 revision;
  const char *new_state;

  if (!begin (store, error))
    return NULL;
  e = srv_store_get_entity (store, user_id, pne_id, error);
  if (e == NULL)
    {
      rollback (store);
      return NULL;
    }

  if (g_strcmp0 (e->state, "revoked") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_REVOKED, "revoked: the entity was removed");
      rollback (store);
      return NULL;
    }

  if (g_strcmp0 (e->state, "pending") == 0 && g_strcmp0 (e->key_id, key_id) == 0)
    {
      revision = bump_revision (store, e->user_id, error);
      if (revision < 0)
        {
          rollback (store);
          return NULL;
        }
      s = stmt (store,
                "UPDATE entities SET state = 'registered', registered_at = ?2, revision = ?3 "
                "WHERE pne_id = ?1");
      bind_text (s, 1, pne_id);
      sqlite3_bind_int64 (s, 2, now);
      sqlite3_bind_int64 (s, 3, revision);
      new_state = "registered";
    }
  else if (e->pending_key_id != NULL && g_strcmp0 (e->pending_key_id, key_id) == 0)
    {
      revision = bump_revision (store, e->user_id, error);
      if (revision < 0)
        {
          rollback (store);
          return NULL;
        }
      /* The old key is revoked now that the new one is confirmed. */
      s = stmt (store,
                "UPDATE entities SET key_id = pending_key_id, euk = pending_euk, "
                "  key_assignment = pending_mode, pending_key_id = NULL, pending_euk = NULL, "
                "  pending_mode = NULL, revision = ?2, "
                "  state = CASE state WHEN 'pending' THEN 'registered' ELSE state END, "
                "  registered_at = coalesce(registered_at, ?3) "
                "WHERE pne_id = ?1");
      bind_text (s, 1, pne_id);
      sqlite3_bind_int64 (s, 2, revision);
      sqlite3_bind_int64 (s, 3, now);
      new_state = g_strcmp0 (e->state, "pending") == 0 ? "registered" : e->state;
    }
  else
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: key_id is not a key waiting for confirmation");
      rollback (store);
      return NULL;
    }

  if (!step_done (store, s, "confirming the key", error) ||
      !add_inventory_event (store, e->user_id, revision, error) ||
      !commit (store, error))
    {
      rollback (store);
      return NULL;
    }
  return g_strdup (new_state);
}

gboolean
srv_store_begin_rekey (SrvStore     *store,
                       const char   *user_id,
                       const char   *pne_id,
                       const char   *key_assignment,
                       const char   *key_id,
                       const guint8  euk[CPNS_KEY_LEN],
                       GError      **error)
{
  g_autoptr(SrvEntity) e = NULL;
  sqlite3_stmt *s;

  if (!begin (store, error))
    return FALSE;
  e = srv_store_get_entity (store, user_id, pne_id, error);
  if (e == NULL)
    return rollback (store);
  if (g_strcmp0 (e->state, "revoked") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_REVOKED, "revoked: the entity was removed");
      return rollback (store);
    }
  if (g_strcmp0 (e->state, "pending") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: the entity's first key is not confirmed yet");
      return rollback (store);
    }
  if (key_id_taken (store, key_id))
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: this key_id is already in use");
      return rollback (store);
    }
  s = stmt (store,
            "UPDATE entities SET pending_key_id = ?2, pending_euk = ?3, pending_mode = ?4 "
            "WHERE pne_id = ?1");
  bind_text (s, 1, pne_id);
  bind_text (s, 2, key_id);
  bind_blob (s, 3, euk, CPNS_KEY_LEN);
  bind_text (s, 4, key_assignment);
  if (!step_done (store, s, "starting the rekey", error))
    return rollback (store);
  return commit (store, error);
}

gboolean
srv_store_remove_entity (SrvStore    *store,
                         const char  *user_id,
                         const char  *pne_id,
                         gint64       now,
                         GError     **error)
{
  g_autoptr(SrvEntity) e = NULL;
  sqlite3_stmt *s;
  gint64 revision;

  if (!begin (store, error))
    return FALSE;
  e = srv_store_get_entity (store, user_id, pne_id, error);
  if (e == NULL)
    return rollback (store);
  if (g_strcmp0 (e->state, "revoked") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_REVOKED,
                           "revoked: the entity was already removed");
      return rollback (store);
    }
  revision = bump_revision (store, e->user_id, error);
  if (revision < 0)
    return rollback (store);

  if (g_strcmp0 (e->state, "pending") == 0)
    {
      s = stmt (store, "DELETE FROM entities WHERE pne_id = ?1");
      bind_text (s, 1, pne_id);
    }
  else
    {
      s = stmt (store,
                "UPDATE entities SET state = 'revoked', euk = NULL, pending_euk = NULL, "
                "  pending_key_id = NULL, pending_mode = NULL, session_id = NULL, "
                "  last_seen = ?2, revision = ?3 "
                "WHERE pne_id = ?1");
      bind_text (s, 1, pne_id);
      sqlite3_bind_int64 (s, 2, now);
      sqlite3_bind_int64 (s, 3, revision);
    }
  if (!step_done (store, s, "removing the entity", error))
    return rollback (store);
  if (!add_simple_event (store, e->user_id, "entity_revoked", pne_id, error) ||
      !add_inventory_event (store, e->user_id, revision, error))
    return rollback (store);
  return commit (store, error);
}

guint
srv_store_purge_pending (SrvStore  *store,
                         gint64     older_than,
                         GError   **error)
{
  g_autoptr(GPtrArray) doomed = g_ptr_array_new_with_free_func ((GDestroyNotify) srv_entity_free);
  sqlite3_stmt *s;
  int rc;

  if (!begin (store, error))
    return 0;
  s = stmt (store,
            "SELECT " ENTITY_COLUMNS
            "FROM entities e JOIN users u USING (user_id) "
            "WHERE e.state = 'pending' AND e.created_at < ?1");
  sqlite3_bind_int64 (s, 1, older_than);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    g_ptr_array_add (doomed, entity_from_row (s));
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, "finding pending entities");
      rollback (store);
      return 0;
    }

  for (guint i = 0; i < doomed->len; i++)
    {
      SrvEntity *e = g_ptr_array_index (doomed, i);
      gint64 revision = bump_revision (store, e->user_id, error);

      if (revision < 0)
        {
          rollback (store);
          return 0;
        }
      s = stmt (store, "DELETE FROM entities WHERE pne_id = ?1");
      bind_text (s, 1, e->pne_id);
      if (!step_done (store, s, "purging a pending entity", error) ||
          !add_inventory_event (store, e->user_id, revision, error))
        {
          rollback (store);
          return 0;
        }
    }

  /* Also: rekeys never confirmed keep the old key. */
  if (!commit (store, error))
    return 0;
  return doomed->len;
}

/* ------------------------------------------------------------------ */
/* Inventory */

static gint64 update_inventory (SrvStore    *store,
                                const char  *user_id,
                                const char  *pne_id,
                                const char  *state,
                                const char  *session_id,
                                const char  *services,
                                gint64       now,
                                GError     **error);

gint64
srv_store_update_inventory (SrvStore    *store,
                            const char  *user_id,
                            const char  *pne_id,
                            const char  *state,
                            const char  *session_id,
                            const char  *services,
                            gint64       now,
                            GError     **error)
{
  gint64 revision;

  /* Connected/disconnected is live state that the gateway re-sends (its
   * queue) and that changes on every connection, not a registration: this
   * commit is not fsynced on its own (synchronous=NORMAL for it alone). In
   * WAL mode it is still atomic and survives kill -9; a power cut can lose
   * only the newest such updates, never a registration, a key
   * confirmation or a revocation, whose FULL commits fsync the WAL with
   * every frame before them. The fsync here blocked the server's only
   * thread for 1-30 ms under load, delaying the next device's POST /auth. */
  sqlite3_exec (store->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
  revision = update_inventory (store, user_id, pne_id, state, session_id, services, now, error);
  sqlite3_exec (store->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
  return revision;
}

static gint64
update_inventory (SrvStore    *store,
                  const char  *user_id,
                  const char  *pne_id,
                  const char  *state,
                  const char  *session_id,
                  const char  *services,
                  gint64       now,
                  GError     **error)
{
  g_autoptr(SrvEntity) e = NULL;
  sqlite3_stmt *s;
  gint64 revision;

  if (!begin (store, error))
    return -1;
  e = srv_store_get_entity (store, user_id, pne_id, error);
  if (e == NULL)
    {
      rollback (store);
      return -1;
    }
  if (g_strcmp0 (e->state, "revoked") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_REVOKED, "revoked: the entity was removed");
      rollback (store);
      return -1;
    }
  if (g_strcmp0 (e->state, "pending") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: the entity's key is not confirmed yet");
      rollback (store);
      return -1;
    }

  revision = bump_revision (store, e->user_id, error);
  if (revision < 0)
    {
      rollback (store);
      return -1;
    }
  s = stmt (store,
            "UPDATE entities SET state = ?2, session_id = ?3, services = ?4, "
            "  last_seen = ?5, revision = ?6 WHERE pne_id = ?1");
  bind_text (s, 1, pne_id);
  bind_text (s, 2, state);
  bind_text (s, 3, session_id);
  bind_text (s, 4, services);
  sqlite3_bind_int64 (s, 5, now);
  sqlite3_bind_int64 (s, 6, revision);
  if (!step_done (store, s, "updating the inventory", error) ||
      !add_inventory_event (store, e->user_id, revision, error) ||
      !commit (store, error))
    {
      rollback (store);
      return -1;
    }
  return revision;
}

GPtrArray *
srv_store_list_entities (SrvStore    *store,
                         const char  *user_id,
                         gint64       since,
                         gint64      *out_revision,
                         GError     **error)
{
  g_autoptr(SrvUser) user = NULL;
  GPtrArray *entities;
  sqlite3_stmt *s;
  int rc;

  /* One read transaction, so the revision matches the list. */
  if (!exec (store, "BEGIN", error))
    return NULL;
  user = srv_store_get_user (store, user_id, error);
  if (user == NULL)
    {
      rollback (store);
      return NULL;
    }
  entities = g_ptr_array_new_with_free_func ((GDestroyNotify) srv_entity_free);
  s = stmt (store,
            "SELECT " ENTITY_COLUMNS
            "FROM entities e JOIN users u USING (user_id) "
            "WHERE e.user_id = ?1 AND e.revision > ?2 ORDER BY e.revision");
  bind_text (s, 1, user_id);
  sqlite3_bind_int64 (s, 2, since);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    g_ptr_array_add (entities, entity_from_row (s));
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, "listing entities");
      g_ptr_array_unref (entities);
      rollback (store);
      return NULL;
    }
  exec (store, "COMMIT", NULL);
  if (out_revision)
    *out_revision = user->revision;
  return entities;
}

/* ------------------------------------------------------------------ */
/* Authentication exchanges */

void
srv_store_put_auth (SrvStore        *store,
                    SrvAuthExchange *exchange)
{
  if (g_hash_table_size (store->auths) >= MAX_EPHEMERAL)
    srv_store_expire_ephemeral (store, srv_now ());
  g_hash_table_replace (store->auths, exchange->auth_id, exchange);
}

SrvAuthExchange *
srv_store_lookup_auth (SrvStore   *store,
                       const char *auth_id)
{
  return g_hash_table_lookup (store->auths, auth_id);
}

void
srv_store_finish_auth (SrvStore   *store,
                       const char *auth_id)
{
  g_hash_table_remove (store->auths, auth_id);
}

guint
srv_store_count_auths (SrvStore   *store,
                       const char *gateway_id)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, store->auths);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((SrvAuthExchange *) value)->gateway_id, gateway_id) == 0)
      n++;
  return n;
}

void
srv_store_expire_ephemeral (SrvStore *store,
                            gint64    before)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, store->challenges);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SrvChallenge *) value)->expires_at < before)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, store->auths);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SrvAuthExchange *) value)->expires_at < before)
      g_hash_table_iter_remove (&iter);
}

/* ------------------------------------------------------------------ */
/* Policy */

SrvPolicy *
srv_store_get_policy (SrvStore    *store,
                      const char  *user_id,
                      GError     **error)
{
  g_autoptr(SrvPolicy) policy = NULL;
  sqlite3_stmt *s;
  int rc;

  s = stmt (store, "SELECT default_action FROM users WHERE user_id = ?1");
  bind_text (s, 1, user_id);
  if (sqlite3_step (s) == SQLITE_ROW)
    policy = srv_policy_new ((const char *) sqlite3_column_text (s, 0));
  sqlite3_reset (s);
  if (policy == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND, "not_found: no user '%s'", user_id);
      return NULL;
    }
  s = stmt (store,
            "SELECT rule_id, match_pne_id, match_entity_type, match_gateway_id, action, "
            "  expires_at FROM policy_rules WHERE user_id = ?1 ORDER BY position");
  bind_text (s, 1, user_id);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      SrvRule *rule = srv_rule_new ();

      rule->id = column_dup (s, 0);
      rule->match_pne_id = column_dup (s, 1);
      rule->match_entity_type = column_dup (s, 2);
      rule->match_gateway_id = column_dup (s, 3);
      rule->action = column_dup (s, 4);
      rule->expires_at = sqlite3_column_int64 (s, 5);
      g_ptr_array_add (policy->rules, rule);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, "reading the policy");
      return NULL;
    }
  return g_steal_pointer (&policy);
}

static gboolean
insert_rule (SrvStore       *store,
             const char     *user_id,
             const SrvRule  *rule,
             gint64          position,
             GError        **error)
{
  sqlite3_stmt *s = stmt (store,
                          "INSERT INTO policy_rules (rule_id, user_id, position, match_pne_id, "
                          "  match_entity_type, match_gateway_id, action, expires_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");

  bind_text (s, 1, rule->id);
  bind_text (s, 2, user_id);
  sqlite3_bind_int64 (s, 3, position);
  bind_text (s, 4, rule->match_pne_id);
  bind_text (s, 5, rule->match_entity_type);
  bind_text (s, 6, rule->match_gateway_id);
  bind_text (s, 7, rule->action);
  if (rule->expires_at != 0)
    sqlite3_bind_int64 (s, 8, rule->expires_at);
  else
    sqlite3_bind_null (s, 8);
  return step_done (store, s, "storing a policy rule", error);
}

static gboolean
user_exists (SrvStore    *store,
             const char  *user_id,
             GError     **error)
{
  g_autoptr(SrvUser) user = srv_store_get_user (store, user_id, error);

  return user != NULL;
}

gboolean
srv_store_replace_policy (SrvStore         *store,
                          const char       *user_id,
                          const SrvPolicy  *policy,
                          GError          **error)
{
  sqlite3_stmt *s;

  if (!begin (store, error))
    return FALSE;
  if (!user_exists (store, user_id, error))
    return rollback (store);
  s = stmt (store, "UPDATE users SET default_action = ?2 WHERE user_id = ?1");
  bind_text (s, 1, user_id);
  bind_text (s, 2, policy->default_action);
  if (!step_done (store, s, "setting the default action", error))
    return rollback (store);
  s = stmt (store, "DELETE FROM policy_rules WHERE user_id = ?1");
  bind_text (s, 1, user_id);
  if (!step_done (store, s, "clearing the policy", error))
    return rollback (store);
  for (guint i = 0; i < policy->rules->len; i++)
    if (!insert_rule (store, user_id, g_ptr_array_index (policy->rules, i), i, error))
      return rollback (store);
  if (!add_simple_event (store, user_id, "policy_changed", NULL, error))
    return rollback (store);
  return commit (store, error);
}

gboolean
srv_store_set_default_action (SrvStore    *store,
                              const char  *user_id,
                              const char  *action,
                              GError     **error)
{
  sqlite3_stmt *s;

  if (!begin (store, error))
    return FALSE;
  if (!user_exists (store, user_id, error))
    return rollback (store);
  s = stmt (store, "UPDATE users SET default_action = ?2 WHERE user_id = ?1");
  bind_text (s, 1, user_id);
  bind_text (s, 2, action);
  if (!step_done (store, s, "setting the default action", error) ||
      !add_simple_event (store, user_id, "policy_changed", NULL, error))
    return rollback (store);
  return commit (store, error);
}

gboolean
srv_store_add_rule (SrvStore       *store,
                    const char     *user_id,
                    const SrvRule  *rule,
                    gboolean        first,
                    GError        **error)
{
  sqlite3_stmt *s;
  gint64 position = 0;

  if (!begin (store, error))
    return FALSE;
  if (!user_exists (store, user_id, error))
    return rollback (store);
  s = stmt (store,
            first ? "SELECT coalesce(min(position), 1) - 1 FROM policy_rules WHERE user_id = ?1"
                  : "SELECT coalesce(max(position), -1) + 1 FROM policy_rules WHERE user_id = ?1");
  bind_text (s, 1, user_id);
  if (sqlite3_step (s) == SQLITE_ROW)
    position = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  if (!insert_rule (store, user_id, rule, position, error) ||
      !add_simple_event (store, user_id, "policy_changed", NULL, error))
    return rollback (store);
  return commit (store, error);
}

void
srv_store_log_decision (SrvStore   *store,
                        const char *user_id,
                        const char *auth_id,
                        const char *pne_id,
                        const char *gateway_id,
                        const char *decision,
                        const char *rule_id,
                        const char *source,
                        gint64      now)
{
  PendingDecision *d = g_new0 (PendingDecision, 1);

  d->user_id = g_strdup (user_id);
  d->auth_id = g_strdup (auth_id);
  d->pne_id = g_strdup (pne_id);
  d->gateway_id = g_strdup (gateway_id);
  d->decision = g_strdup (decision);
  d->rule_id = g_strdup (rule_id);
  d->source = g_strdup (source);
  d->at = now;
  g_ptr_array_add (store->decisions, d);
}

gboolean
srv_store_flush_decisions (SrvStore  *store,
                           GError   **error)
{
  if (store->decisions->len == 0)
    return TRUE;
  if (!begin (store, error))
    return FALSE;
  for (guint i = 0; i < store->decisions->len; i++)
    {
      PendingDecision *d = g_ptr_array_index (store->decisions, i);
      sqlite3_stmt *s = stmt (store,
                              "INSERT INTO decisions (user_id, auth_id, pne_id, gateway_id, "
                              "  decision, rule_id, source, at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");

      bind_text (s, 1, d->user_id);
      bind_text (s, 2, d->auth_id);
      bind_text (s, 3, d->pne_id);
      bind_text (s, 4, d->gateway_id);
      bind_text (s, 5, d->decision);
      bind_text (s, 6, d->rule_id);
      bind_text (s, 7, d->source);
      sqlite3_bind_int64 (s, 8, d->at);
      if (!step_done (store, s, "recording a decision", error))
        return rollback (store);
    }
  if (!commit (store, error))
    return FALSE;
  g_ptr_array_set_size (store->decisions, 0);
  return TRUE;
}

gint64
srv_store_count_decisions (SrvStore   *store,
                           const char *pne_id)
{
  sqlite3_stmt *s = stmt (store, "SELECT count(*) FROM decisions WHERE pne_id = ?1");
  gint64 n = 0;

  bind_text (s, 1, pne_id);
  if (sqlite3_step (s) == SQLITE_ROW)
    n = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  return n;
}

/* ------------------------------------------------------------------ */
/* Events */

gint64
srv_store_last_event_id (SrvStore *store)
{
  sqlite3_stmt *s = stmt (store, "SELECT coalesce(max(id), 0) FROM events");
  gint64 id = 0;

  if (sqlite3_step (s) == SQLITE_ROW)
    id = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  return id;
}

GPtrArray *
srv_store_events_after (SrvStore  *store,
                        gint64     after,
                        guint      limit,
                        GError   **error)
{
  sqlite3_stmt *s = stmt (store,
                          "SELECT id, user_id, body FROM events WHERE id > ?1 ORDER BY id LIMIT ?2");
  GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) srv_event_free);
  int rc;

  sqlite3_bind_int64 (s, 1, after);
  sqlite3_bind_int64 (s, 2, limit);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      SrvEvent *event = g_new0 (SrvEvent, 1);

      event->id = sqlite3_column_int64 (s, 0);
      event->user_id = column_dup (s, 1);
      event->body = column_dup (s, 2);
      g_ptr_array_add (events, event);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      g_ptr_array_unref (events);
      set_sqlite_error (store, error, "reading events");
      return NULL;
    }
  return events;
}

void
srv_store_prune_events (SrvStore *store,
                        gint64    before)
{
  sqlite3_stmt *s = stmt (store, "DELETE FROM events WHERE at < ?1");

  sqlite3_bind_int64 (s, 1, before);
  step_done (store, s, "pruning events", NULL);
}

void
srv_store_prune_decisions (SrvStore *store,
                           gint64    before)
{
  sqlite3_stmt *s = stmt (store, "DELETE FROM decisions WHERE at < ?1");

  sqlite3_bind_int64 (s, 1, before);
  step_done (store, s, "pruning the decision log", NULL);
}

/* ------------------------------------------------------------------ */
/* Lockout counters (srv-limiter.c) */

static gboolean
set_lockout_error (SrvStore    *store,
                   GError     **error,
                   const char  *what)
{
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
               "internal: database error while %s: %s", what, sqlite3_errmsg (store->lockout_db));
  return FALSE;
}

static sqlite3_stmt *
lockout_stmt (SrvStore      *store,
              sqlite3_stmt **slot,
              const char    *sql)
{
  if (*slot == NULL &&
      sqlite3_prepare_v3 (store->lockout_db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
    {
      g_critical ("cannot prepare statement: %s", sqlite3_errmsg (store->lockout_db));
      *slot = NULL;
      return NULL;
    }
  sqlite3_reset (*slot);
  sqlite3_clear_bindings (*slot);
  return *slot;
}

gboolean
srv_store_load_lockouts (SrvStore        *store,
                         const char      *scope,
                         SrvLockoutFunc   func,
                         gpointer         user_data,
                         GError         **error)
{
  sqlite3_stmt *s = NULL;
  int rc;

  if (sqlite3_prepare_v2 (store->lockout_db,
                          "SELECT key, failures, locked_until FROM lockouts WHERE scope = ?",
                          -1, &s, NULL) != SQLITE_OK)
    return set_lockout_error (store, error, "reading lockouts");
  bind_text (s, 1, scope);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *key = (const char *) sqlite3_column_text (s, 0);
      const char *text = (const char *) sqlite3_column_text (s, 1);
      g_auto(GStrv) parts = g_strsplit (text ? text : "", " ", -1);
      g_autoptr(GArray) failures = g_array_new (FALSE, FALSE, sizeof (gint64));

      if (key == NULL)
        continue;
      for (guint i = 0; parts[i]; i++)
        {
          gint64 t;

          if (parts[i][0] != '\0' && g_ascii_string_to_signed (parts[i], 10, 0, G_MAXINT64, &t, NULL))
            g_array_append_val (failures, t);
        }
      func (key, (const gint64 *) (gpointer) failures->data, failures->len,
            sqlite3_column_int64 (s, 2), user_data);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    return set_lockout_error (store, error, "reading lockouts");
  return TRUE;
}

gboolean
srv_store_save_lockout (SrvStore      *store,
                        const char    *scope,
                        const char    *key,
                        const gint64  *failures,
                        guint          n_failures,
                        gint64         locked_until,
                        GError       **error)
{
  sqlite3_stmt *s;
  int rc;

  if (n_failures == 0 && locked_until == 0)
    {
      s = lockout_stmt (store, &store->lockout_delete,
                        "DELETE FROM lockouts WHERE scope = ? AND key = ?");
      if (s == NULL)
        return set_lockout_error (store, error, "saving a lockout");
      bind_text (s, 1, scope);
      bind_text (s, 2, key);
    }
  else
    {
      g_autoptr(GString) text = g_string_new (NULL);

      for (guint i = 0; i < n_failures; i++)
        g_string_append_printf (text, "%s%" G_GINT64_FORMAT, i ? " " : "", failures[i]);
      s = lockout_stmt (store, &store->lockout_save,
                        "INSERT OR REPLACE INTO lockouts (scope, key, failures, last_failure, locked_until)"
                        " VALUES (?, ?, ?, ?, ?)");
      if (s == NULL)
        return set_lockout_error (store, error, "saving a lockout");
      bind_text (s, 1, scope);
      bind_text (s, 2, key);
      bind_text (s, 3, text->str);
      sqlite3_bind_int64 (s, 4, n_failures ? failures[n_failures - 1] : 0);
      sqlite3_bind_int64 (s, 5, locked_until);
    }
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return set_lockout_error (store, error, "saving a lockout");
  return TRUE;
}

guint
srv_store_prune_lockouts (SrvStore   *store,
                          const char *scope,
                          gint64      now,
                          gint64      failed_before)
{
  sqlite3_stmt *s = lockout_stmt (store, &store->lockout_prune,
                                  "DELETE FROM lockouts WHERE scope = ? AND locked_until <= ?"
                                  " AND last_failure <= ?");

  if (s == NULL)
    return 0;
  bind_text (s, 1, scope);
  sqlite3_bind_int64 (s, 2, now);
  sqlite3_bind_int64 (s, 3, failed_before);
  if (sqlite3_step (s) != SQLITE_DONE)
    {
      g_message ("cannot prune lockouts: %s", sqlite3_errmsg (store->lockout_db));
      sqlite3_reset (s);
      return 0;
    }
  sqlite3_reset (s);
  return (guint) sqlite3_changes (store->lockout_db);
}
