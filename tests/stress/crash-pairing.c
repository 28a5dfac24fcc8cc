/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 9 (the gateway's part, during pairing): CYCLES times, a
 * batch of simulated devices pairs with cpns-gatewayd and the gateway is
 * killed with SIGKILL at a random moment (0–1.5 s into the batch), then
 * restarted on the same data directory. Afterwards:
 *  - 0 lost acknowledged pairings: every device that finished pairing
 *    (credentials file written at pairing_complete) connects;
 *  - the gateway's registry passes PRAGMA integrity_check;
 *  - every entity registered on the server is known to the gateway
 *    (figure: orphans on each side after the start-up reconciliation and
 *    the fail-safe).
 *
 *   crash-pairing [--tap] [CYCLES DEVICES [gateway|server]]
 *                                   (harness: 30 4; suite: 4 3 gateway)
 * With "server", the CPNS server is the one killed (and restarted on its
 * port); the same checks apply, plus the server's integrity_check.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <sqlite3.h>

#include "gw-test-fixture.h"

static guint cycles = 4, devices = 3;
static gboolean kill_server;
static Fixture fx;

static GPtrArray *
query_column (const char *db_path,
              const char *sql)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
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

static void
test_crash_pairing (void)
{
  g_autofree char *gw_dir = g_build_filename (fx.dir, "gateway", NULL);
  g_autoptr(GPtrArray) gw_pending = NULL;
  g_autofree char *registry = g_build_filename (gw_dir, "registry.sqlite", NULL);
  g_autofree char *server_db = g_build_filename (fx.server->dir, "cpns-server.db", NULL);
  g_autoptr(GPtrArray) acked = g_ptr_array_new_with_free_func (g_free);   /* state dirs */
  g_autoptr(GPtrArray) integrity = NULL;
  g_autoptr(GPtrArray) server_integrity = NULL;
  g_autoptr(GPtrArray) gw_ids = NULL;
  g_autoptr(GPtrArray) srv_ids = NULL;
  guint lost = 0, orphans_server = 0, orphans_gateway = 0, attempted = 0;
  GRand *rand = g_rand_new_with_seed (7471);

  for (guint cycle = 0; cycle < cycles; cycle++)
    {
      g_autofree char *sim = g_strdup_printf ("%s/sim-%02u", fx.dir, cycle);
      g_autofree char *count = g_strdup_printf ("%u", devices);
      g_autoptr(TPne) pne = t_pne_spawn ("simulate", "--count", count, "--gateway", fx.address,
                                         "--state-dir", sim, NULL);
      guint delay = (guint) g_rand_int_range (rand, 0, 1500);

      attempted += devices;
      t_sleep (delay);
      if (kill_server)
        {
          /* The server dies mid-flow and comes back on its port. */
          g_autofree char *dir = g_strdup (fx.server->dir);
          guint16 port = fx.server->port;

          g_subprocess_send_signal (fx.server->proc, SIGKILL);
          t_sleep (300);
          g_clear_pointer (&fx.server, t_server_free);
          fx.server = t_server_start (dir, port);
        }
      else
        {
          g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", fx.gw->port);
          const char *restart[] = { "--confirm-pairing", "always", "--approve", "always",
                                    "--pairing-window", "900", "--listen", listen, NULL };

          g_subprocess_send_signal (fx.gw->proc, SIGKILL);
          t_sleep (100);
          g_clear_pointer (&fx.gw, t_gateway_free);
          /* Back on the same port: the devices' retries reach it. */
          fx.gw = t_gateway_start (gw_dir, restart);
          g_assert_cmpstr (listen + strlen ("127.0.0.1:"), ==, strchr (fx.address, ':') + 1);
        }
      /* Devices still retrying the dead address are stopped after 12 s. */
      t_pne_wait (pne, 12000);
      for (guint i = 0; i < devices; i++)
        {
          g_autofree char *dir = g_strdup_printf ("%s/pne-%04u", sim, i + 1);
          g_autofree char *creds = g_build_filename (dir, "credentials", NULL);

          if (g_file_test (creds, G_FILE_TEST_EXISTS))
            g_ptr_array_add (acked, g_steal_pointer (&dir));
        }
    }

  /* Every acknowledged pairing still works (the gateway's port changed:
   * connect by address). */
  for (guint i = 0; i < acked->len; i++)
    if (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--gateway", fx.address, "--state-dir",
                   (char *) acked->pdata[i], NULL) != 0)
      {
        lost++;
        g_test_message ("lost: %s", (char *) acked->pdata[i]);
      }

  /* Let the gateway talk to the server (its start-up reconciliation and
   * fail-safe deletions run with a server session). */
  t_gateway_send (fx.gw, "connect");
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "connected", 20000));
  t_sleep (2000);
  integrity = query_column (registry, "PRAGMA integrity_check");
  server_integrity = query_column (server_db, "PRAGMA integrity_check");
  gw_ids = query_column (registry, "SELECT pne_id FROM entities WHERE pending = 0");
  gw_pending = query_column (registry, "SELECT pne_id FROM entities WHERE pending != 0");
  srv_ids = query_column (server_db, "SELECT pne_id FROM entities WHERE state != 'pending' AND state != 'revoked'");
  for (guint i = 0; i < srv_ids->len; i++)
    if (!contains_str (gw_ids, srv_ids->pdata[i]))
      orphans_server++;
  for (guint i = 0; i < gw_ids->len; i++)
    if (!contains_str (srv_ids, gw_ids->pdata[i]))
      orphans_gateway++;

  g_print ("# FIGURE crash during pairing (%s killed): %u SIGKILLs, %u pairings attempted, %u acknowledged,"
           " %u lost; integrity: registry %s, server %s; server entities unknown to the gateway %u, gateway"
           " entities unknown to the server %u (gateway entries still pending %u)\n", kill_server ? "server" : "gateway", cycles, attempted,
           acked->len, lost, integrity->len ? (char *) integrity->pdata[0] : "?",
           server_integrity->len ? (char *) server_integrity->pdata[0] : "?", orphans_server, orphans_gateway,
           gw_pending->len);
  g_assert_cmpuint (lost, ==, 0);
  g_assert_cmpstr (integrity->pdata[0], ==, "ok");
  g_assert_cmpstr (server_integrity->pdata[0], ==, "ok");
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (argc > 2)
    {
      cycles = (guint) g_ascii_strtoull (argv[1], NULL, 10);
      devices = (guint) g_ascii_strtoull (argv[2], NULL, 10);
    }
  kill_server = argc > 3 && g_str_equal (argv[3], "server");
  fixture_start (&fx, extra);
  g_test_add_func ("/stress/crash-pairing", test_crash_pairing);
  ret = g_test_run ();
  fixture_stop (&fx);
  return ret;
}
