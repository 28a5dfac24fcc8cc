/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-registry"

#include "config.h"

#include <sqlite3.h>
#include <json-glib/json-glib.h>

#include "cpns-error.h"
#include "gw-event-private.h"
#include "gw-registry.h"

struct _GwRegistry
{
  sqlite3 *db;        /* synchronous=FULL: entities, settings, queue */
  sqlite3 *history;   /* the same file, synchronous=NORMAL: flow history */
  guint64  last_flow_id;
  /* Prepared statements of the per-step writes and reads, by their SQL
   * text (a literal) per connection: parsing them again at every step
   * was a tenth of the engine thread's CPU in a connection setup. */
  GHashTable *db_stmts;
  GHashTable *history_stmts;
};

static const char *schema_sql =
  "CREATE TABLE IF NOT EXISTS settings ("
  "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
  "CREATE TABLE IF NOT EXISTS entities ("
  "  pne_id TEXT PRIMARY KEY, name TEXT NOT NULL, entity_type TEXT NOT NULL,"
  "  manufacturer TEXT, model TEXT, serial TEXT, descriptor TEXT,"
  "  state INTEGER NOT NULL, key_mode TEXT, key_id TEXT,"
  "  key_issued_at INTEGER NOT NULL DEFAULT 0,"
  "  registered_at INTEGER NOT NULL DEFAULT 0,"
  "  last_seen INTEGER NOT NULL DEFAULT 0,"
  "  blocked INTEGER NOT NULL DEFAULT 0, address TEXT,"
  "  pending INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS flow_steps ("
  "  flow_id INTEGER NOT NULL, flow_kind INTEGER NOT NULL, pne_id TEXT,"
  "  pne_name TEXT, step INTEGER NOT NULL, outcome INTEGER NOT NULL,"
  "  started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,"
  "  error_code TEXT, error_message TEXT, detail TEXT,"
  "  PRIMARY KEY (flow_id, step));"
  "CREATE TABLE IF NOT EXISTS inventory_queue ("
  "  pne_id TEXT PRIMARY KEY, state TEXT NOT NULL, session_id TEXT,"
  "  services TEXT);";

static gboolean
set_sql_error (sqlite3  *db,
               GError  **error)
{
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
               "registry database: %s", sqlite3_errmsg (db));
  return FALSE;
}

static gboolean
exec (GwRegistry  *self,
      const char  *sql,
      GError     **error)
{
  char *msg = NULL;

  if (sqlite3_exec (self->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "registry database: %s", msg ? msg : "error");
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

static sqlite3_stmt *prepare (GwRegistry *self,
                              const char *sql);

GwRegistry *
gw_registry_open (const char  *path,
                  GError     **error)
{
  g_autoptr(GwRegistry) self = g_new0 (GwRegistry, 1);
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "cannot create %s", dir);
      return NULL;
    }
  if (sqlite3_open_v2 (path, &self->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      set_sql_error (self->db, error);
      return NULL;
    }
  sqlite3_busy_timeout (self->db, 5000);
  if (!exec (self, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "PRAGMA foreign_keys=ON;", error) ||
      !exec (self, schema_sql, error))
    return NULL;
  /* The flow history is written at every step of every flow; losing its
   * last rows in a power cut is acceptable, an fsync per row under load
   * is not. In WAL mode NORMAL still never corrupts the database. */
  if (sqlite3_open_v2 (path, &self->history, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      set_sql_error (self->history, error);
      return NULL;
    }
  sqlite3_busy_timeout (self->history, 5000);
  sqlite3_exec (self->history, "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
  {
    sqlite3_stmt *stmt = prepare (self, "SELECT MAX(flow_id) FROM flow_steps");
    g_autofree char *last = gw_registry_get_setting (self, "last_flow_id");

    if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
      self->last_flow_id = (guint64) sqlite3_column_int64 (stmt, 0);
    if (stmt)
      sqlite3_finalize (stmt);
    if (last)
      self->last_flow_id = MAX (self->last_flow_id, g_ascii_strtoull (last, NULL, 10));
  }
  return g_steal_pointer (&self);
}

void
gw_registry_free (GwRegistry *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->db_stmts, g_hash_table_unref);
  g_clear_pointer (&self->history_stmts, g_hash_table_unref);
  if (self->history)
    sqlite3_close (self->history);
  if (self->db)
    sqlite3_close (self->db);
  g_free (self);
}

static sqlite3_stmt *
prepare (GwRegistry *self,
         const char *sql)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      g_debug ("prepare failed: %s", sqlite3_errmsg (self->db));
      return NULL;
    }
  return stmt;
}

static void
bind_text (sqlite3_stmt *stmt,
           int           i,
           const char   *text)
{
  if (text)
    sqlite3_bind_text (stmt, i, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, i);
}

static char *
col_text (sqlite3_stmt *stmt,
          int           i)
{
  const unsigned char *t = sqlite3_column_text (stmt, i);

  return t ? g_strdup ((const char *) t) : NULL;
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

/* A cached statement for @sql on @db, reset and unbound. Use it with
 * step_cached() or reset it after reading, so that it never holds a read
 * snapshot open between calls. */
static sqlite3_stmt *
cached (GwRegistry *self,
        sqlite3    *db,
        const char *sql)
{
  GHashTable **table = db == self->db ? &self->db_stmts : &self->history_stmts;
  sqlite3_stmt *stmt;

  if (*table == NULL)
    *table = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_stmt);
  stmt = g_hash_table_lookup (*table, sql);
  if (stmt != NULL)
    {
      sqlite3_clear_bindings (stmt);
      return stmt;
    }
  if (sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
    {
      g_debug ("prepare failed: %s", sqlite3_errmsg (db));
      return NULL;
    }
  g_hash_table_insert (*table, (gpointer) sql, stmt);
  return stmt;
}

/* Runs a cached write statement once and resets it. */
static gboolean
step_cached (sqlite3       *db,
             sqlite3_stmt  *stmt,
             GError       **error)
{
  int rc = sqlite3_step (stmt);
  gboolean ok = rc == SQLITE_DONE || rc == SQLITE_ROW;

  if (!ok)
    set_sql_error (db, error);
  sqlite3_reset (stmt);
  return ok;
}

static gboolean
step_done (GwRegistry    *self,
           sqlite3_stmt  *stmt,
           GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return set_sql_error (self->db, error);
  return TRUE;
}

char *
gw_registry_get_setting (GwRegistry *self,
                         const char *key)
{
  sqlite3_stmt *stmt = prepare (self, "SELECT value FROM settings WHERE key = ?");
  char *value = NULL;

  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, key);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = col_text (stmt, 0);
  sqlite3_finalize (stmt);
  return value;
}

gboolean
gw_registry_set_setting (GwRegistry  *self,
                         const char  *key,
                         const char  *value,
                         GError     **error)
{
  sqlite3_stmt *stmt;

  if (value)
    stmt = prepare (self, "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)");
  else
    stmt = prepare (self, "DELETE FROM settings WHERE key = ?");
  if (stmt == NULL)
    return set_sql_error (self->db, error);
  bind_text (stmt, 1, key);
  if (value)
    bind_text (stmt, 2, value);
  return step_done (self, stmt, error);
}

gboolean
gw_registry_save_enrollment (GwRegistry               *self,
                             const GwEnrollmentRecord *record,
                             GError                  **error)
{
  const struct { const char *key, *value; } settings[] = {
    { "server_url", record->server_url },
    { "pin_sha256", record->pin_sha256 },
    { "user_id", record->user_id },
    { "pn_id", record->pn_id },
    { "gateway_name", record->gateway_name },
    { "gateway_id", record->gateway_id },
  };

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    if (!gw_registry_set_setting (self, settings[i].key, settings[i].value, error))
      {
        exec (self, "ROLLBACK", NULL);
        return FALSE;
      }
  if (!exec (self, "COMMIT", error))
    {
      exec (self, "ROLLBACK", NULL);
      return FALSE;
    }
  return TRUE;
}

static char **
services_from_descriptor (const char *descriptor_json)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) out = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonArray *services;

  if (descriptor_json == NULL)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, descriptor_json, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  obj = json_node_get_object (root);
  if (!json_object_has_member (obj, "services"))
    return NULL;
  services = json_object_get_array_member (obj, "services");
  if (services == NULL)
    return NULL;
  out = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (services); i++)
    {
      JsonObject *s = json_array_get_object_element (services, i);
      const char *name, *protocol;

      if (s == NULL)
        continue;
      name = json_object_get_string_member_with_default (s, "name", "?");
      protocol = json_object_get_string_member_with_default (s, "protocol", "?");
      if (json_object_has_member (s, "port"))
        g_ptr_array_add (out, g_strdup_printf ("%s (%s:%" G_GINT64_FORMAT ")", name, protocol,
                                               json_object_get_int_member (s, "port")));
      else
        g_ptr_array_add (out, g_strdup_printf ("%s (%s)", name, protocol));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static gboolean
put_entity (GwRegistry         *self,
            sqlite3            *db,
            const GwEntityInfo *e,
            const char         *descriptor_json,
            gboolean            pending,
            GError            **error);

gboolean
gw_registry_put_entity (GwRegistry         *self,
                        const GwEntityInfo *e,
                        const char         *descriptor_json,
                        gboolean            pending,
                        GError            **error)
{
  return put_entity (self, self->db, e, descriptor_json, pending, error);
}

gboolean
gw_registry_put_entity_live (GwRegistry         *self,
                             const GwEntityInfo *e,
                             GError            **error)
{
  return put_entity (self, self->history, e, NULL, FALSE, error);
}

static gboolean
put_entity (GwRegistry         *self,
            sqlite3            *db,
            const GwEntityInfo *e,
            const char         *descriptor_json,
            gboolean            pending,
            GError            **error)
{
  static const char *sql =
    "INSERT INTO entities (pne_id, name, entity_type, manufacturer, model, serial,"
    " descriptor, state, key_mode, key_id, key_issued_at, registered_at, last_seen,"
    " blocked, address, pending) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(pne_id) DO UPDATE SET name=excluded.name,"
    " entity_type=excluded.entity_type, manufacturer=excluded.manufacturer,"
    " model=excluded.model, serial=excluded.serial,"
    " descriptor=COALESCE(excluded.descriptor, entities.descriptor),"
    " state=excluded.state, key_mode=excluded.key_mode, key_id=excluded.key_id,"
    " key_issued_at=excluded.key_issued_at, registered_at=excluded.registered_at,"
    " last_seen=excluded.last_seen, blocked=excluded.blocked,"
    " address=excluded.address, pending=excluded.pending";
  sqlite3_stmt *stmt = cached (self, db, sql);

  if (stmt == NULL)
    return set_sql_error (db, error);
  bind_text (stmt, 1, e->pne_id);
  bind_text (stmt, 2, e->name);
  bind_text (stmt, 3, e->entity_type);
  bind_text (stmt, 4, e->manufacturer);
  bind_text (stmt, 5, e->model);
  bind_text (stmt, 6, e->serial);
  bind_text (stmt, 7, descriptor_json);
  sqlite3_bind_int (stmt, 8, e->state);
  bind_text (stmt, 9, e->key_mode);
  bind_text (stmt, 10, e->key_id);
  sqlite3_bind_int64 (stmt, 11, e->key_issued_at);
  sqlite3_bind_int64 (stmt, 12, e->registered_at);
  sqlite3_bind_int64 (stmt, 13, e->last_seen);
  sqlite3_bind_int (stmt, 14, e->blocked ? 1 : 0);
  bind_text (stmt, 15, e->address);
  sqlite3_bind_int (stmt, 16, pending ? 1 : 0);
  return step_cached (db, stmt, error);
}

#define ENTITY_COLUMNS \
  "pne_id, name, entity_type, manufacturer, model, serial, descriptor, state," \
  " key_mode, key_id, key_issued_at, registered_at, last_seen, blocked, address"

static GwEntityInfo *
entity_from_row (sqlite3_stmt *stmt)
{
  GwEntityInfo *e = g_new0 (GwEntityInfo, 1);
  g_autofree char *descriptor = NULL;

  e->pne_id = col_text (stmt, 0);
  e->name = col_text (stmt, 1);
  e->entity_type = col_text (stmt, 2);
  e->manufacturer = col_text (stmt, 3);
  e->model = col_text (stmt, 4);
  e->serial = col_text (stmt, 5);
  descriptor = col_text (stmt, 6);
  e->services = services_from_descriptor (descriptor);
  e->state = sqlite3_column_int (stmt, 7);
  e->key_mode = col_text (stmt, 8);
  e->key_id = col_text (stmt, 9);
  e->key_issued_at = sqlite3_column_int64 (stmt, 10);
  e->registered_at = sqlite3_column_int64 (stmt, 11);
  e->last_seen = sqlite3_column_int64 (stmt, 12);
  e->blocked = sqlite3_column_int (stmt, 13) != 0;
  e->address = col_text (stmt, 14);
  return e;
}

GwEntityInfo *
gw_registry_get_entity (GwRegistry *self,
                        const char *pne_id)
{
  sqlite3_stmt *stmt = cached (self, self->db,
                               "SELECT " ENTITY_COLUMNS " FROM entities WHERE pne_id = ?");
  GwEntityInfo *e = NULL;

  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, pne_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    e = entity_from_row (stmt);
  sqlite3_reset (stmt);
  return e;
}

char *
gw_registry_get_descriptor (GwRegistry *self,
                            const char *pne_id)
{
  sqlite3_stmt *stmt = prepare (self, "SELECT descriptor FROM entities WHERE pne_id = ?");
  char *d = NULL;

  if (stmt == NULL)
    return NULL;
  bind_text (stmt, 1, pne_id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    d = col_text (stmt, 0);
  sqlite3_finalize (stmt);
  return d;
}

GPtrArray *
gw_registry_list_entities (GwRegistry *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_entity_info_free);
  sqlite3_stmt *stmt = prepare (self, "SELECT " ENTITY_COLUMNS
                                " FROM entities WHERE pending = 0 ORDER BY registered_at, pne_id");

  if (stmt == NULL)
    return out;
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (out, entity_from_row (stmt));
  sqlite3_finalize (stmt);
  return out;
}

char **
gw_registry_list_pending (GwRegistry *self)
{
  GPtrArray *out = g_ptr_array_new ();
  sqlite3_stmt *stmt = prepare (self, "SELECT pne_id FROM entities WHERE pending = 1");

  if (stmt)
    {
      while (sqlite3_step (stmt) == SQLITE_ROW)
        g_ptr_array_add (out, col_text (stmt, 0));
      sqlite3_finalize (stmt);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

gboolean
gw_registry_set_pending (GwRegistry  *self,
                         const char  *pne_id,
                         gboolean     pending,
                         GError     **error)
{
  sqlite3_stmt *stmt = prepare (self, "UPDATE entities SET pending = ? WHERE pne_id = ?");

  if (stmt == NULL)
    return set_sql_error (self->db, error);
  sqlite3_bind_int (stmt, 1, pending ? 1 : 0);
  bind_text (stmt, 2, pne_id);
  return step_done (self, stmt, error);
}

gboolean
gw_registry_delete_entity (GwRegistry  *self,
                           const char  *pne_id,
                           GError     **error)
{
  sqlite3_stmt *stmt;

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  stmt = prepare (self, "DELETE FROM entities WHERE pne_id = ?");
  if (stmt == NULL)
    goto fail;
  bind_text (stmt, 1, pne_id);
  if (!step_done (self, stmt, error))
    goto fail;
  stmt = prepare (self, "DELETE FROM inventory_queue WHERE pne_id = ?");
  if (stmt == NULL)
    goto fail;
  bind_text (stmt, 1, pne_id);
  if (!step_done (self, stmt, error))
    goto fail;
  return exec (self, "COMMIT", error);

fail:
  if (error && *error == NULL)
    set_sql_error (self->db, error);
  exec (self, "ROLLBACK", NULL);
  return FALSE;
}

guint64
gw_registry_next_flow_id (GwRegistry *self)
{
  /* Ids only need to be unique among the recorded flows. */
  return ++self->last_flow_id;
}

gboolean
gw_registry_record_step (GwRegistry       *self,
                         const GwStepInfo *s,
                         GError          **error)
{
  sqlite3_stmt *stmt = cached (self, self->history,
    "INSERT OR REPLACE INTO flow_steps (flow_id, flow_kind, pne_id, pne_name, step,"
    " outcome, started_at, finished_at, error_code, error_message, detail)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?)");

  if (stmt == NULL)
    return set_sql_error (self->history, error);
  sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) s->flow_id);
  sqlite3_bind_int (stmt, 2, s->flow_kind);
  bind_text (stmt, 3, s->pne_id);
  bind_text (stmt, 4, s->pne_name);
  sqlite3_bind_int (stmt, 5, s->step);
  sqlite3_bind_int (stmt, 6, s->outcome);
  sqlite3_bind_int64 (stmt, 7, s->started_at);
  sqlite3_bind_int64 (stmt, 8, s->finished_at);
  if (s->error && s->error->domain == CPNS_ERROR)
    bind_text (stmt, 9, cpns_error_code_to_string (s->error->code));
  else
    bind_text (stmt, 9, s->error ? "internal" : NULL);
  bind_text (stmt, 10, s->error ? s->error->message : NULL);
  bind_text (stmt, 11, s->detail);
  return step_cached (self->history, stmt, error);
}

GPtrArray *
gw_registry_list_steps (GwRegistry *self,
                        guint       limit)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_step_info_free);
  g_autofree char *sql = g_strdup_printf (
    "SELECT * FROM (SELECT flow_id, flow_kind, pne_id, pne_name, step, outcome,"
    " started_at, finished_at, error_code, error_message, detail FROM flow_steps"
    " ORDER BY started_at DESC, flow_id DESC, step DESC LIMIT %d)"
    " ORDER BY started_at, flow_id, step", limit ? (int) limit : -1);
  sqlite3_stmt *stmt = prepare (self, sql);

  if (stmt == NULL)
    return out;
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      GwStepInfo *s = g_new0 (GwStepInfo, 1);
      g_autofree char *code = NULL;
      g_autofree char *message = NULL;

      s->flow_id = (guint64) sqlite3_column_int64 (stmt, 0);
      s->flow_kind = sqlite3_column_int (stmt, 1);
      s->pne_id = col_text (stmt, 2);
      s->pne_name = col_text (stmt, 3);
      s->step = sqlite3_column_int (stmt, 4);
      s->outcome = sqlite3_column_int (stmt, 5);
      s->started_at = sqlite3_column_int64 (stmt, 6);
      s->finished_at = sqlite3_column_int64 (stmt, 7);
      code = col_text (stmt, 8);
      message = col_text (stmt, 9);
      if (code)
        {
          CpnsErrorCode c = CPNS_ERROR_INTERNAL;

          cpns_error_code_from_string (code, &c);
          s->error = g_error_new_literal (CPNS_ERROR, c, message ? message : code);
        }
      s->detail = col_text (stmt, 10);
      g_ptr_array_add (out, s);
    }
  sqlite3_finalize (stmt);
  return out;
}

void
gw_registry_fail_running_steps (GwRegistry *self)
{
  g_autofree char *sql = g_strdup_printf (
    "UPDATE flow_steps SET outcome = %d, finished_at = %" G_GINT64_FORMAT ","
    " error_code = 'internal', error_message = 'The gateway stopped while this step"
    " was running. Start the flow again.' WHERE outcome = %d",
    GW_STEP_FAILED, g_get_real_time (), GW_STEP_RUNNING);

  exec (self, sql, NULL);
}

gboolean
gw_registry_queue_inventory (GwRegistry  *self,
                             const char  *pne_id,
                             const char  *state,
                             const char  *session_id,
                             const char  *services_json,
                             GError     **error)
{
  /* Safe against a crash of the process (WAL); a power cut may lose the
   * newest entry, which the next connection of the device rewrites. */
  sqlite3_stmt *stmt = cached (self, self->history,
    "INSERT OR REPLACE INTO inventory_queue (pne_id, state, session_id, services)"
    " VALUES (?,?,?,?)");

  if (stmt == NULL)
    return set_sql_error (self->history, error);
  bind_text (stmt, 1, pne_id);
  bind_text (stmt, 2, state);
  bind_text (stmt, 3, session_id);
  bind_text (stmt, 4, services_json);
  return step_cached (self->history, stmt, error);
}

void
gw_queued_inventory_free (GwQueuedInventory *item)
{
  if (item == NULL)
    return;
  g_free (item->pne_id);
  g_free (item->state);
  g_free (item->session_id);
  g_free (item->services_json);
  g_free (item);
}

GPtrArray *
gw_registry_list_inventory_queue (GwRegistry *self)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gw_queued_inventory_free);
  sqlite3_stmt *stmt = prepare (self, "SELECT pne_id, state, session_id, services"
                                " FROM inventory_queue ORDER BY rowid");

  if (stmt == NULL)
    return out;
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      GwQueuedInventory *q = g_new0 (GwQueuedInventory, 1);

      q->pne_id = col_text (stmt, 0);
      q->state = col_text (stmt, 1);
      q->session_id = col_text (stmt, 2);
      q->services_json = col_text (stmt, 3);
      g_ptr_array_add (out, q);
    }
  sqlite3_finalize (stmt);
  return out;
}

void
gw_registry_dequeue_inventory (GwRegistry *self,
                               const char *pne_id)
{
  sqlite3_stmt *stmt = cached (self, self->history, "DELETE FROM inventory_queue WHERE pne_id = ?");

  if (stmt == NULL)
    return;
  bind_text (stmt, 1, pne_id);
  step_cached (self->history, stmt, NULL);
}
