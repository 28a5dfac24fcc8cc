/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 9: KILLS rounds; each round starts one operation
 * (enrollment of a further gateway, pairing, connection setup, removal
 * from the gateway, revocation on the server, re-key), SIGKILLs either
 * cpns-server or cpns-gatewayd at a random moment of it (0–700 ms) and
 * restarts the killed program on the same data directory (the server on
 * the same port). What the test saw acknowledged is recorded:
 *  - pairing / re-key: the device's `pair` exited 0 (pairing_complete);
 *  - removal: the gateway emitted entity_removed;
 *  - revocation: `cpns-server entity revoke` exited 0;
 *  - enrollment: the gateway emitted an enrollment event without error.
 * After the start-up reconciliation (the session is connected again and
 * the inventory was read), checked:
 *  - lost: an acknowledged device that is missing from the server or from
 *    the registry, or fails to connect; an acknowledged removal or
 *    revocation that is still live on either side; an acknowledged
 *    enrollment unknown to the server or without its keyring item;
 *  - duplicates: a device name held by more than one live entity;
 *  - orphans: live server entities unknown to the registry, live registry
 *    entities (state 6 = revoked is kept as history) unknown to (or
 *    revoked on) the server, pending rows left on
 *    either side, keyring gateway secrets whose gateway the server does
 *    not know;
 *  - PRAGMA integrity_check on both databases (programs stopped).
 *
 *   stress-crash-durability [--tap] [KILLS [SEED]]   (harness 200, suite 20)
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <libsecret/secret.h>
#include <sqlite3.h>

#include "gw-test-fixture.h"

static guint kills = 20;
static guint32 seed = 9009;
static Fixture fx;

typedef enum
{
  OP_ENROLL, OP_PAIR, OP_CONNECT, OP_REMOVE, OP_REVOKE, OP_REKEY, N_OPS
} Op;

static const char *op_names[] = { "enroll", "pair", "connect", "remove", "revoke", "rekey" };

typedef struct
{
  char     *dir;
  char     *name;
  char     *pne_id;
  gboolean  gone;        /* acknowledged removal / revocation */
  gboolean  uncertain;   /* an operation on it was cut without acknowledgement */
} Device;

typedef struct
{
  guint attempted[N_OPS];
  guint acked[N_OPS];
  guint server_kills, gateway_kills;
} Counts;

static const char *gw_extra[] = { "--confirm-pairing", "always", "--approve", "always",
                                  "--pairing-window", "900", NULL };

static void
device_free (Device *d)
{
  g_free (d->dir);
  g_free (d->name);
  g_free (d->pne_id);
  g_free (d);
}

static GPtrArray *
query_column (const char *db_path,
              const char *sql)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (out, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return out;
}

static gboolean
contains_str (GPtrArray  *list,
              const char *s)
{
  for (guint i = 0; i < list->len; i++)
    if (g_strcmp0 (list->pdata[i], s) == 0)
      return TRUE;
  return FALSE;
}

static guint
count_duplicates (GPtrArray *names)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint dup = 0;

  for (guint i = 0; i < names->len; i++)
    if (!g_hash_table_add (seen, names->pdata[i]))
      dup++;
  return dup;
}

static void
restart_server (void)
{
  g_autofree char *dir = g_strdup (fx.server->dir);
  guint16 port = fx.server->port;

  g_subprocess_send_signal (fx.server->proc, SIGKILL);
  g_clear_pointer (&fx.server, t_server_free);
  fx.server = t_server_start (dir, port);
}

static TGateway *
restart_gateway (TGateway   *gw,
                 const char *dir)
{
  g_subprocess_send_signal (gw->proc, SIGKILL);
  t_gateway_free (gw);
  return t_gateway_start (dir, gw_extra);
}

static void
restart_main_gateway (void)
{
  g_autofree char *dir = g_build_filename (fx.dir, "gateway", NULL);

  fx.gw = restart_gateway (fx.gw, dir);
  g_free (fx.address);
  fx.address = g_strdup_printf ("127.0.0.1:%u", fx.gw->port);
}

static gboolean
seen_event (TGateway   *gw,
            const char *type,
            const char *pne_id)
{
  for (guint i = 0; i < gw->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (gw->events, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), type) != 0)
        continue;
      if (pne_id == NULL)
        return TRUE;
      if (json_object_has_member (e, "entity") &&
          g_strcmp0 (json_object_get_string_member_with_default (
                       json_object_get_object_member (e, "entity"), "pne_id", NULL), pne_id) == 0)
        return TRUE;
    }
  return FALSE;
}

static Device *
pick_live (GPtrArray *devs,
           GRand     *rand)
{
  g_autoptr(GPtrArray) live = g_ptr_array_new ();

  for (guint i = 0; i < devs->len; i++)
    {
      Device *d = devs->pdata[i];

      if (d->pne_id && !d->gone && !d->uncertain)
        g_ptr_array_add (live, d);
    }
  if (live->len == 0)
    return NULL;
  return live->pdata[g_rand_int_range (rand, 0, (gint32) live->len)];
}

/* Waits until the main gateway's session is connected (after a restart of
 * either program) so that the next operation starts from a settled state. */
static void
settle (void)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gboolean asked = FALSE;

  while (g_get_monotonic_time () < end)
    {
      JsonObject *last = NULL;

      for (guint i = 0; i < fx.gw->events->len; i++)
        {
          JsonObject *e = g_ptr_array_index (fx.gw->events, i);

          if (json_object_has_member (e, "session") &&
              g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), "session") == 0)
            last = json_object_get_object_member (e, "session");
        }
      if (last && g_strcmp0 (json_object_get_string_member (last, "state"), "connected") == 0)
        return;
      /* A restarted gateway connects its server session on demand: ask
       * for it, which runs the start-up reconciliation. */
      if (last && g_strcmp0 (json_object_get_string_member (last, "state"), "disconnected") == 0 &&
          !asked)
        {
          t_gateway_send (fx.gw, "connect");
          asked = TRUE;
        }
      t_sleep (50);
    }
  g_test_message ("session not connected again within 20 s");
  for (guint i = 0; i < fx.gw->events->len; i++)
    {
      g_autoptr(JsonNode) n = json_node_init_object (json_node_alloc (), g_ptr_array_index (fx.gw->events, i));
      g_autofree char *text = json_to_string (n, FALSE);

      g_test_message ("  %.300s", text);
    }
}

typedef struct
{
  TGateway *gw;
  char     *dir;
  char     *user;
  char     *gateway_id;
  gboolean  acked;
} Enrolled;

static void
enrolled_free (Enrolled *en)
{
  g_clear_pointer (&en->gw, t_gateway_free);
  g_free (en->dir);
  g_free (en->user);
  g_free (en->gateway_id);
  g_free (en);
}

static void
enrollment_result (Enrolled *en)
{
  for (guint i = 0; i < en->gw->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (en->gw->events, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), "enrollment") == 0 &&
          !json_object_has_member (e, "error"))
        {
          JsonObject *s = json_object_has_member (e, "session")
                            ? json_object_get_object_member (e, "session") : NULL;

          en->acked = TRUE;
          if (s && json_object_has_member (s, "gateway_id") && en->gateway_id == NULL)
            en->gateway_id = g_strdup (json_object_get_string_member (s, "gateway_id"));
        }
      if (en->gateway_id == NULL && json_object_has_member (e, "session"))
        {
          JsonObject *s = json_object_get_object_member (e, "session");
          const char *id = json_object_get_string_member_with_default (s, "gateway_id", NULL);

          if (id && *id)
            en->gateway_id = g_strdup (id);
        }
    }
}

static void
run_round (guint      round,
           GRand     *rand,
           GPtrArray *devs,
           GPtrArray *enrolls,
           Counts    *c)
{
  Op op = (Op) g_rand_int_range (rand, 0, N_OPS);
  gboolean kill_server = g_rand_boolean (rand);
  guint delay = (guint) g_rand_int_range (rand, 0, 700);
  Device *d = NULL;
  g_autoptr(TPne) pne = NULL;

  if (op != OP_PAIR && op != OP_ENROLL)
    {
      d = pick_live (devs, rand);
      if (d == NULL)
        op = OP_PAIR;
    }
  c->attempted[op]++;
  if (kill_server)
    c->server_kills++;
  else
    c->gateway_kills++;
  g_test_message ("%.1f s: round %u: %s %s, kill %s after %u ms", g_get_monotonic_time () / 1e6, round,
                  op_names[op], d && d->pne_id ? d->pne_id : "", kill_server ? "server" : "gateway", delay);

  switch (op)
    {
    case OP_ENROLL:
      {
        Enrolled *en = g_new0 (Enrolled, 1);
        g_autofree char *invitation = NULL;
        g_autoptr(GPtrArray) args = g_ptr_array_new ();

        en->user = g_strdup_printf ("user%03u", round);
        en->dir = g_strdup_printf ("%s/gw-%03u", fx.dir, round);
        invitation = t_server_invite (fx.server, en->user);
        g_ptr_array_add (args, (gpointer) "--enroll");
        g_ptr_array_add (args, invitation);
        for (guint i = 0; gw_extra[i]; i++)
          g_ptr_array_add (args, (gpointer) gw_extra[i]);
        g_ptr_array_add (args, NULL);
        en->gw = t_gateway_start (en->dir, (const char * const *) args->pdata);
        t_sleep (delay);
        if (kill_server)
          {
            restart_server ();
            t_gateway_wait_type (en->gw, "enrollment", 25000);
            enrollment_result (en);
          }
        else
          {
            enrollment_result (en);
            en->gw = restart_gateway (en->gw, en->dir);
            /* Started again without --enroll: whatever it kept. */
            t_sleep (500);
            enrollment_result (en);
          }
        if (en->acked)
          c->acked[op]++;
        /* Stop it cleanly: the checks read the server and keyring. */
        if (g_subprocess_get_identifier (en->gw->proc))
          t_gateway_stop (en->gw);
        g_ptr_array_add (enrolls, en);
      }
      break;

    case OP_PAIR:
    case OP_REKEY:
      if (op == OP_PAIR)
        {
          d = g_new0 (Device, 1);
          d->name = g_strdup_printf ("dev%03u", round);
          d->dir = g_strdup_printf ("%s/dev-%03u", fx.dir, round);
          g_ptr_array_add (devs, d);
        }
      else
        {
          g_autofree char *line = g_strdup_printf ("rekey %s", d->pne_id);

          t_gateway_send (fx.gw, line);
          t_sleep (100);
        }
      pne = t_pne_spawn ("pair", "--gateway", fx.address, "--name", d->name, "--type", "sensor",
                         "--yes", "--state-dir", d->dir, NULL);
      t_sleep (delay);
      if (kill_server)
        restart_server ();
      else
        restart_main_gateway ();
      if (t_pne_wait (pne, 40000) == 0)
        {
          g_autofree char *id = t_pne_credential (d->dir, "pne_id");

          c->acked[op]++;
          g_assert_nonnull (id);
          if (d->pne_id)
            g_assert_cmpstr (d->pne_id, ==, id);   /* a re-key keeps the ID */
          g_free (d->pne_id);
          d->pne_id = g_steal_pointer (&id);
          d->uncertain = FALSE;
        }
      else if (op == OP_PAIR)
        {
          /* Not acknowledged: the device may still have finished. */
          d->pne_id = t_pne_credential (d->dir, "pne_id");
          d->uncertain = TRUE;
        }
      else
        d->uncertain = TRUE;
      break;

    case OP_CONNECT:
      t_pne_forget_session (d->dir);
      pne = t_pne_spawn ("connect", "--once", "--gateway", fx.address, "--state-dir", d->dir, NULL);
      t_sleep (delay);
      if (kill_server)
        restart_server ();
      else
        restart_main_gateway ();
      if (t_pne_wait (pne, 40000) == 0)
        c->acked[op]++;
      break;

    case OP_REMOVE:
      {
        g_autofree char *line = g_strdup_printf ("remove %s", d->pne_id);
        gboolean acked;

        t_gateway_send (fx.gw, line);
        t_sleep (delay);
        acked = seen_event (fx.gw, "entity_removed", d->pne_id);
        if (kill_server)
          {
            restart_server ();
            /* The command keeps going after the server came back. */
            for (guint i = 0; i < 250 && !acked; i++)
              {
                t_sleep (100);
                acked = seen_event (fx.gw, "entity_removed", d->pne_id);
              }
          }
        else
          restart_main_gateway ();
        if (acked)
          {
            c->acked[op]++;
            d->gone = TRUE;
          }
        else
          d->uncertain = TRUE;
      }
      break;

    case OP_REVOKE:
      {
        g_autofree char *exe = t_build_path ("src/server/cpns-server");
        const char *argv[] = { exe, "entity", "revoke", "alice", d->pne_id, "--data-dir",
                               fx.server->dir, NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocess) cli = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                              G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);

        g_assert_no_error (error);
        t_sleep (delay);
        if (kill_server)
          restart_server ();
        else
          restart_main_gateway ();
        g_subprocess_wait (cli, NULL, &error);
        g_assert_no_error (error);
        if (g_subprocess_get_if_exited (cli) && g_subprocess_get_exit_status (cli) == 0)
          {
            c->acked[op]++;
            d->gone = TRUE;
          }
        else
          d->uncertain = TRUE;
      }
      break;

    case N_OPS:
    default:
      g_assert_not_reached ();
    }
  settle ();
}

/* gateway_id of every gateway secret in the keyring (values not loaded). */
static GPtrArray *
keyring_gateway_ids (void)
{
  static const SecretSchema schema = {
    "io.github.cpns.Gateway.GatewaySecret", SECRET_SCHEMA_NONE,
    { { "server_url", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "gateway_id", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 } }
  };
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  GList *items = secret_password_search_sync (&schema, SECRET_SEARCH_ALL, NULL, &error, NULL);

  g_assert_no_error (error);
  for (GList *l = items; l; l = l->next)
    {
      g_autoptr(GHashTable) attrs = secret_retrievable_get_attributes (l->data);

      g_ptr_array_add (out, g_strdup (g_hash_table_lookup (attrs, "gateway_id")));
    }
  g_list_free_full (items, g_object_unref);
  return out;
}

static void
test_crash_durability (void)
{
  g_autofree char *registry = g_build_filename (fx.dir, "gateway", "registry.sqlite", NULL);
  g_autofree char *server_db = NULL;
  g_autoptr(GPtrArray) devs = g_ptr_array_new_with_free_func ((GDestroyNotify) device_free);
  g_autoptr(GPtrArray) enrolls = g_ptr_array_new_with_free_func ((GDestroyNotify) enrolled_free);
  g_autoptr(GPtrArray) integrity_gw = NULL, integrity_srv = NULL;
  g_autoptr(GPtrArray) gw_ids = NULL, gw_pending = NULL, gw_names = NULL;
  g_autoptr(GPtrArray) srv_live = NULL, srv_all = NULL, srv_pending = NULL, srv_names = NULL;
  g_autoptr(GPtrArray) srv_gateways = NULL, keyring = NULL;
  GRand *rand = g_rand_new_with_seed (seed);
  Counts c = { 0 };
  guint lost = 0, duplicates, orphans = 0, uncertain = 0, uncertain_connect = 0;
  gint64 start = g_get_monotonic_time ();
  GString *acks = g_string_new (NULL);

  for (guint round = 0; round < kills; round++)
    run_round (round, rand, devs, enrolls, &c);

  /* Every live acknowledged device connects (full setup). */
  for (guint i = 0; i < devs->len; i++)
    {
      Device *d = devs->pdata[i];

      if (d->uncertain)
        {
          uncertain++;
          if (d->pne_id && !d->gone &&
              t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--gateway", fx.address,
                         "--state-dir", d->dir, NULL) == 0)
            uncertain_connect++;
          continue;
        }
      if (d->gone || d->pne_id == NULL)
        continue;
      t_pne_forget_session (d->dir);
      if (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--gateway", fx.address, "--state-dir",
                     d->dir, NULL) != 0)
        {
          lost++;
          g_test_message ("lost: %s (%s) does not connect", d->name, d->pne_id);
        }
    }
  t_sleep (500);

  /* Both programs stopped: read the databases as they are on disk. */
  g_assert_cmpint (t_gateway_stop (fx.gw), ==, 0);
  t_server_stop (fx.server);
  server_db = g_build_filename (fx.server->dir, "cpns-server.db", NULL);

  integrity_gw = query_column (registry, "PRAGMA integrity_check");
  integrity_srv = query_column (server_db, "PRAGMA integrity_check");
  gw_ids = query_column (registry, "SELECT pne_id FROM entities WHERE pending = 0 AND state != 6");
  gw_pending = query_column (registry, "SELECT pne_id FROM entities WHERE pending != 0");
  gw_names = query_column (registry, "SELECT name FROM entities WHERE state != 6");
  srv_all = query_column (server_db, "SELECT pne_id FROM entities WHERE user_id = (SELECT user_id"
                                     " FROM users WHERE user_id = 'alice')");
  srv_live = query_column (server_db, "SELECT pne_id FROM entities WHERE user_id = 'alice'"
                                      " AND state NOT IN ('pending', 'revoked')");
  srv_pending = query_column (server_db, "SELECT pne_id FROM entities WHERE state = 'pending'");
  srv_names = query_column (server_db, "SELECT json_extract (descriptor, '$.name') FROM entities"
                                       " WHERE user_id = 'alice' AND state != 'revoked'");
  srv_gateways = query_column (server_db, "SELECT gateway_id FROM gateways");
  keyring = keyring_gateway_ids ();

  for (guint i = 0; i < devs->len; i++)
    {
      Device *d = devs->pdata[i];

      if (d->uncertain || d->pne_id == NULL)
        continue;
      if (d->gone && (contains_str (gw_ids, d->pne_id) || contains_str (srv_live, d->pne_id)))
        {
          lost++;
          g_test_message ("lost removal: %s still live", d->pne_id);
        }
      if (!d->gone && (!contains_str (gw_ids, d->pne_id) || !contains_str (srv_live, d->pne_id)))
        {
          lost++;
          g_test_message ("lost: %s missing (gateway %d, server %d)", d->pne_id,
                          contains_str (gw_ids, d->pne_id), contains_str (srv_live, d->pne_id));
        }
    }
  for (guint i = 0; i < enrolls->len; i++)
    {
      Enrolled *en = enrolls->pdata[i];

      if (en->acked && (en->gateway_id == NULL || !contains_str (srv_gateways, en->gateway_id) ||
                        !contains_str (keyring, en->gateway_id)))
        {
          lost++;
          g_test_message ("lost enrollment of %s", en->user);
        }
    }
  for (guint i = 0; i < srv_live->len; i++)
    if (!contains_str (gw_ids, srv_live->pdata[i]))
      {
        orphans++;
        g_test_message ("orphan on the server: %s", (char *) srv_live->pdata[i]);
      }
  for (guint i = 0; i < gw_ids->len; i++)
    if (!contains_str (srv_live, gw_ids->pdata[i]))
      {
        orphans++;
        g_test_message ("orphan in the registry: %s", (char *) gw_ids->pdata[i]);
      }
  for (guint i = 0; i < keyring->len; i++)
    if (!contains_str (srv_gateways, keyring->pdata[i]))
      {
        orphans++;
        g_test_message ("orphan keyring item: gateway %s", (char *) keyring->pdata[i]);
      }
  orphans += gw_pending->len + srv_pending->len;
  duplicates = count_duplicates (gw_names) + count_duplicates (srv_names);

  for (guint op = 0; op < N_OPS; op++)
    g_string_append_printf (acks, "%s%s %u/%u", op ? ", " : "", op_names[op], c.acked[op],
                            c.attempted[op]);
  g_print ("# FIGURE crash durability (seed %u): %u SIGKILLs (%u server, %u gateway) in %.1f s;"
           " acknowledged/attempted: %s; lost %u, duplicates %u, orphans %u"
           " (pending rows: server %u, registry %u; keyring items %u, server gateways %u);"
           " unacknowledged devices %u (%u of them still connect);"
           " integrity_check server %s, registry %s\n",
           seed, kills, c.server_kills, c.gateway_kills,
           (g_get_monotonic_time () - start) / 1e6, acks->str, lost, duplicates, orphans,
           srv_pending->len, gw_pending->len, keyring->len, srv_gateways->len,
           uncertain, uncertain_connect,
           integrity_srv->len ? (char *) integrity_srv->pdata[0] : "?",
           integrity_gw->len ? (char *) integrity_gw->pdata[0] : "?");
  g_string_free (acks, TRUE);
  (void) srv_all;
  g_assert_cmpuint (lost, ==, 0);
  g_assert_cmpuint (duplicates, ==, 0);
  g_assert_cmpuint (orphans, ==, 0);
  g_assert_cmpstr (integrity_srv->pdata[0], ==, "ok");
  g_assert_cmpstr (integrity_gw->pdata[0], ==, "ok");
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (argc > 1)
    kills = (guint) g_ascii_strtoull (argv[1], NULL, 10);
  if (argc > 2)
    seed = (guint32) g_ascii_strtoull (argv[2], NULL, 10);
  fixture_start (&fx, gw_extra);
  g_test_add_func ("/stress/crash-durability", test_crash_durability);
  ret = g_test_run ();
  fixture_stop (&fx);
  return ret;
}
