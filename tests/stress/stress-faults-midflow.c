/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 10 (faults mid-flow), the transport part: cpns-gatewayd
 * reaches cpns-server through a fault-injecting TCP proxy written here
 * (the invitation names the proxy's port; TLS passes through untouched,
 * so the server's pin still matches). The proxy reads the TLS record
 * headers of the client's direction: a client's second application-data
 * record is its first request after the handshake.
 *
 * For each fault, each flow (pairing, connection setup) and each offset
 * S (the fault hits the S-th new server connection after it is armed, so
 * successive offsets land on successive protocol steps: session, POST
 * /entities, key-confirm, /auth, verify, decision, inventory PUT):
 *  - drop: every open proxied connection is cut when the fault is armed;
 *    the S-th new one is cut right after its first request reached the
 *    server (connection dropped after send);
 *  - restart: cpns-server is SIGKILLed when the S-th new connection's
 *    first request passed, and restarted on the same port.
 * Checked per run: the flow ends completed (the device's command exits 0
 * and the entity is live on the server) or cleanly rolled back (non-zero
 * exit, no pending entity on the server, no credentials file for a
 * pairing); at the end: no pending entity; the user saw the pending state
 * (session "retrying" events with retry_in_s); the retry delays (from
 * event timestamps) are not all equal (jitter).
 *
 *   stress-faults-midflow [--tap] [MAX_OFFSET [drop|restart]]
 *                                       (harness 8, both faults; suite: 2 drop)
 *
 * The HTTP part (`http` mode): the gateway reaches the server through
 * fault-proxy.c instead, which terminates TLS with the server's own
 * certificate and key and sees every CPNS-2 request, so a fault hits a
 * named protocol step: the first request of that step after arming.
 * Faults: 500 and 503 (a §2 error body, nothing forwarded), stall
 * (nothing forwarded, no answer for 30 s, then closed), drop (forwarded,
 * its answer withheld, both connections cut). Steps of pairing: challenge, session,
 * events, entities, key-confirm; of connection setup: challenge,
 * session, events, auth, verify, decision, inventory-put (the session
 * steps run with the gateway's server session ended beforehand, so the
 * flow has to open one). Asserted per run: the fault hit its step; the
 * outcome is the one decided for that step (below); afterwards no
 * pending entity on the server, no pending / pairing / connecting row in
 * the gateway registry, no credentials from a failed pairing and no
 * session from a failed setup; a completed setup ends "connected" on the
 * server (a faulted inventory PUT is sent again); a session step showed
 * "retrying" with retry_in_s; the events channel is open again; the
 * session is connected again. Over all runs: retry delays vary (jitter).
 *
 *   stress-faults-midflow [--tap] http FAULTS [STEPS]
 *       FAULTS: comma list of 500,503,stall,drop; STEPS: comma list of
 *       step names (default: all steps of both flows)
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <sqlite3.h>

#include "fault-proxy.h"
#include "gw-test-fixture.h"

typedef enum { FAULT_DROP, FAULT_RESTART, N_FAULTS } Fault;
static const char *fault_names[] = { "drop", "restart" };

static guint max_offset = 3;
static guint first_fault = 0, last_fault = N_FAULTS - 1;

/* ------------------------------------------------------------------ */
/* The proxy (GThreadedSocketService: one thread per connection). */

typedef struct
{
  GMutex     lock;
  guint16    upstream_port;
  GPtrArray *open;            /* GSocketConnection (client side) */
  gint       armed;           /* connections until the faulted one; -1: none */
  Fault      fault;
  gint       restart_due;     /* set by a proxy thread, handled by the test */
  guint      connections;
} Proxy;

static Proxy proxy;

typedef struct
{
  GInputStream  *from;
  GOutputStream *to;
} Pump;

static gpointer
pump_thread (gpointer data)
{
  Pump *p = data;
  char buf[16384];
  gssize n;

  while ((n = g_input_stream_read (p->from, buf, sizeof buf, NULL, NULL)) > 0)
    if (!g_output_stream_write_all (p->to, buf, (gsize) n, NULL, NULL, NULL))
      break;
  g_output_stream_close (p->to, NULL, NULL);
  return NULL;
}

static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *client,
        GObject                *source,
        gpointer                data)
{
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GSocketConnection) up = NULL;
  GInputStream *cin = g_io_stream_get_input_stream (G_IO_STREAM (client));
  GOutputStream *uout;
  Pump back;
  GThread *t;
  gboolean faulted = FALSE;
  guint app_records = 0;
  guchar hdr[5];
  char buf[16384];

  up = g_socket_client_connect_to_host (sc, "127.0.0.1", proxy.upstream_port, NULL, NULL);
  if (up == NULL)
    return TRUE;
  uout = g_io_stream_get_output_stream (G_IO_STREAM (up));
  g_mutex_lock (&proxy.lock);
  proxy.connections++;
  g_ptr_array_add (proxy.open, g_object_ref (client));
  if (proxy.armed == 0)
    faulted = TRUE;
  if (proxy.armed >= 0)
    proxy.armed--;
  g_mutex_unlock (&proxy.lock);

  back.from = g_io_stream_get_input_stream (G_IO_STREAM (up));
  back.to = g_io_stream_get_output_stream (G_IO_STREAM (client));
  t = g_thread_new ("proxy-back", pump_thread, &back);

  /* Client → server, record by record. */
  for (;;)
    {
      gsize got = 0, len;

      if (!g_input_stream_read_all (cin, hdr, sizeof hdr, &got, NULL, NULL) || got != sizeof hdr)
        break;
      len = ((gsize) hdr[3] << 8) | hdr[4];
      if (len > sizeof buf ||
          !g_input_stream_read_all (cin, buf, len, &got, NULL, NULL) || got != len)
        break;
      if (!g_output_stream_write_all (uout, hdr, sizeof hdr, NULL, NULL, NULL) ||
          !g_output_stream_write_all (uout, buf, len, NULL, NULL, NULL))
        break;
      if (hdr[0] == 23 && ++app_records == 2 && faulted)
        {
          if (proxy.fault == FAULT_RESTART)
            {
              g_atomic_int_set (&proxy.restart_due, 1);
              continue;   /* the server goes away under it */
            }
          g_usleep (50 * 1000);   /* let the request reach the server */
          break;
        }
    }
  g_io_stream_close (G_IO_STREAM (up), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (client), NULL, NULL);
  g_thread_join (t);
  g_mutex_lock (&proxy.lock);
  g_ptr_array_remove_fast (proxy.open, client);
  g_mutex_unlock (&proxy.lock);
  return TRUE;
}

static void
proxy_arm (Fault fault,
           gint  offset)
{
  g_mutex_lock (&proxy.lock);
  proxy.fault = fault;
  proxy.armed = offset;
  /* Open connections are cut: new ones must be made. */
  for (guint i = 0; i < proxy.open->len; i++)
    {
      GSocket *s = g_socket_connection_get_socket (proxy.open->pdata[i]);

      g_socket_shutdown (s, TRUE, TRUE, NULL);
    }
  g_mutex_unlock (&proxy.lock);
}

static void
proxy_disarm (void)
{
  g_mutex_lock (&proxy.lock);
  proxy.armed = -1;
  g_mutex_unlock (&proxy.lock);
}

/* ------------------------------------------------------------------ */

typedef struct
{
  char      *dir;
  TServer   *server;
  TGateway  *gw;
  char      *address;
  guint16    proxy_port;
} Env;

static Env env;

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

/* libsoup's server logs a warning when a client resets its connection
 * before the server asked for the peer's address; both proxies cut
 * connections on purpose, and under the tests' G_DEBUG=fatal-warnings
 * that warning would kill the server. It runs without fatal warnings. */
static TServer *
start_server (const char *dir,
              guint16     port)
{
  g_autofree char *saved = g_strdup (g_getenv ("G_DEBUG"));
  TServer *server;

  g_setenv ("G_DEBUG", "gc-friendly", TRUE);
  server = t_server_start (dir, port);
  if (saved)
    g_setenv ("G_DEBUG", saved, TRUE);
  else
    g_unsetenv ("G_DEBUG");
  return server;
}

/* Runs the device's command, restarting the server when the proxy says
 * so; its exit code. */
static int
run_device (TPne *pne)
{
  gint64 end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (!pne->done && g_get_monotonic_time () < end)
    {
      if (g_atomic_int_compare_and_exchange (&proxy.restart_due, 1, 0))
        {
          g_autofree char *dir = g_strdup (env.server->dir);
          guint16 port = env.server->port;

          g_subprocess_send_signal (env.server->proc, SIGKILL);
          g_clear_pointer (&env.server, t_server_free);
          env.server = start_server (dir, port);
        }
      t_sleep (10);
    }
  return t_pne_wait (pne, 1000);
}

static void
test_faults (void)
{
  g_autofree char *server_db = g_build_filename (env.server->dir, "cpns-server.db", NULL);
  guint completed = 0, rolled_back = 0, runs = 0, retrying = 0;
  g_autoptr(GArray) delays = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GPtrArray) pending = NULL;
  gint64 last_retry = 0;
  guint n = 0;
  gboolean jitter = FALSE;
  g_autoptr(GString) retry_in = g_string_new (NULL);

  for (guint f = first_fault; f <= last_fault; f++)
    for (guint flow = 0; flow < 2; flow++)
      for (guint s = 0; s < max_offset; s++)
        {
          g_autofree char *dir = g_strdup_printf ("%s/dev-%u-%u-%u", env.dir, f, flow, s);
          g_autofree char *creds = g_build_filename (dir, "credentials", NULL);
          g_autofree char *name = g_strdup_printf ("dev%u%u%u", f, flow, s);
          g_autoptr(TPne) pne = NULL;
          int rc;

          if (flow == 1)
            {
              /* A paired device, then its full connection setup. */
              g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "pair", "--gateway", env.address, "--name", name,
                                          "--type", "sensor", "--yes", "--state-dir", dir, NULL), ==, 0);
              t_pne_forget_session (dir);
            }
          proxy_arm ((Fault) f, (gint) s);
          if (flow == 0)
            pne = t_pne_spawn ("pair", "--gateway", env.address, "--name", name, "--type", "sensor",
                               "--yes", "--state-dir", dir, NULL);
          else
            pne = t_pne_spawn ("connect", "--once", "--gateway", env.address, "--state-dir", dir, NULL);
          g_test_message ("%.1f s: %s/%s/offset %u", g_get_monotonic_time () / 1e6, fault_names[f],
                          flow ? "connection" : "pairing", s);
          rc = run_device (pne);
          proxy_disarm ();
          runs++;
          if (rc == 0)
            {
              g_autofree char *id = t_pne_credential (dir, "pne_id");
              g_autofree char *state = NULL;

              completed++;
              g_assert_nonnull (id);
              /* Live on the server (the live state itself may lag: an
               * inventory PUT cut by the proxy is sent again later). */
              state = t_server_entity_state (env.server, id);
              g_assert_nonnull (state);
              g_assert_cmpstr (state, !=, "pending");
              g_assert_cmpstr (state, !=, "revoked");
            }
          else
            {
              rolled_back++;
              g_test_message ("%s/%s/offset %u: device exit %d", fault_names[f],
                              flow ? "connection" : "pairing", s, rc);
              if (flow == 0)
                g_assert_false (g_file_test (creds, G_FILE_TEST_EXISTS));
            }
          t_sleep (200);
        }

  /* The user saw the pending state; retry delays from event times. */
  for (guint i = 0; i < env.gw->events->len; i++)
    {
      JsonObject *e = g_ptr_array_index (env.gw->events, i);
      JsonObject *s;
      const char *state;

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), "session") != 0)
        continue;
      s = json_object_get_object_member (e, "session");
      state = json_object_get_string_member (s, "state");
      if (g_strcmp0 (state, "retrying") == 0)
        {
          retrying++;
          g_assert_true (json_object_has_member (s, "retry_in_s"));
          g_string_append_printf (retry_in, " %" G_GINT64_FORMAT, json_object_get_int_member (s, "retry_in_s"));
          last_retry = json_object_get_int_member (e, "time");
        }
      else if (g_strcmp0 (state, "connecting") == 0 && last_retry)
        {
          gint64 d = json_object_get_int_member (e, "time") - last_retry;

          g_array_append_val (delays, d);
          last_retry = 0;
        }
    }
  for (guint i = 1; i < delays->len; i++)
    if (ABS (g_array_index (delays, gint64, i) - g_array_index (delays, gint64, 0)) > 20000)
      jitter = TRUE;
  pending = query_column (server_db, "SELECT pne_id FROM entities WHERE state = 'pending'");
  n = delays->len;
  g_print ("# FIGURE faults mid-flow: %u runs (%u faults x 2 flows x %u offsets) over %u proxied"
           " connections: %u completed, %u cleanly rolled back, 0 half-done; pending entities on the"
           " server %u; %u \"retrying\" session events; retry delays (ms):",
           runs, last_fault - first_fault + 1, max_offset, proxy.connections, completed, rolled_back, pending->len,
           retrying);
  for (guint i = 0; i < n; i++)
    g_print (" %" G_GINT64_FORMAT, g_array_index (delays, gint64, i) / 1000);
  g_print ("; announced retry_in_s:%s\n", retry_in->str);
  g_assert_cmpuint (pending->len, ==, 0);
  g_assert_cmpuint (completed + rolled_back, ==, runs);
  g_assert_cmpuint (retrying, >, 0);
  if (n >= 3)
    g_assert_true (jitter);
}

/* ------------------------------------------------------------------ */
/* HTTP faults through the TLS-terminating proxy (fault-proxy.c). */

static FaultProxy *fproxy;
static char **http_faults;
static char **http_steps;

static const char *pairing_steps[] = { "challenge", "session", "events", "entities", "key-confirm", NULL };
static const char *connection_steps[] = { "challenge", "session", "events", "auth", "verify", "decision",
                                          "inventory-put", NULL };

static FpFault
parse_fault (const char *name)
{
  if (g_str_equal (name, "500"))
    return FP_FAULT_500;
  if (g_str_equal (name, "503"))
    return FP_FAULT_503;
  if (g_str_equal (name, "stall"))
    return FP_FAULT_STALL;
  if (g_str_equal (name, "drop"))
    return FP_FAULT_DROP;
  g_error ("unknown fault %s", name);
}

static gboolean
is_session_step (const char *step)
{
  return g_str_equal (step, "challenge") || g_str_equal (step, "session") || g_str_equal (step, "events");
}

/* The outcome decided for a 5xx or a stall at each step (see
 * docs/PROTOCOL-NOTES.md, §5): the session steps are retried with backoff
 * while the flow waits, so the flow completes; the inventory PUT is
 * queued and sent again, so the setup completes; a failed entity,
 * key-confirm, auth, verify or decision call is not repeated: the flow
 * is rolled back. */
static gboolean
expect_completed (const char *step)
{
  return is_session_step (step) || g_str_equal (step, "inventory-put");
}

static const char *
last_session_state (void)
{
  for (guint i = env.gw->events->len; i > 0; i--)
    {
      JsonObject *e = g_ptr_array_index (env.gw->events, i - 1);

      if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), "session") == 0)
        return json_object_get_string_member (json_object_get_object_member (e, "session"), "state");
    }
  return NULL;
}

static gboolean
wait_session_state (const char *state,
                    guint       timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_strcmp0 (last_session_state (), state) != 0)
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      t_sleep (20);
    }
  return TRUE;
}

static gint64
count_rows (const char *db_path,
            const char *sql)
{
  g_autoptr(GPtrArray) rows = query_column (db_path, sql);

  return rows->len;
}

/* Polls @check until it holds, for up to @timeout_ms. */
typedef gboolean (*Check) (gpointer data);

static gboolean
eventually (Check    check,
            gpointer data,
            guint    timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!check (data))
    {
      if (g_get_monotonic_time () > end)
        return check (data);
      t_sleep (50);
    }
  return TRUE;
}

typedef struct
{
  const char *server_db;
  const char *registry_db;
  const char *pne_id;
} Clean;

static gboolean
no_half_state (gpointer data)
{
  Clean *c = data;

  return count_rows (c->server_db, "SELECT pne_id FROM entities WHERE state = 'pending'") == 0 &&
         count_rows (c->registry_db, "SELECT pne_id FROM entities WHERE pending = 1 OR state IN (0, 2, 3)") == 0;
}

/* The setup reached the server's inventory (`connect --once` ends with
 * "disconnected") and the gateway has nothing left to send. */
static gboolean
inventory_sent (gpointer data)
{
  Clean *c = data;
  g_autofree char *state = t_server_entity_state (env.server, c->pne_id);

  return (g_strcmp0 (state, "connected") == 0 || g_strcmp0 (state, "disconnected") == 0) &&
         count_rows (c->registry_db, "SELECT pne_id FROM inventory_queue") == 0;
}

static gboolean
was_hit (gpointer data)
{
  return fault_proxy_was_hit (fproxy);
}

static gboolean
events_open (gpointer data)
{
  return fault_proxy_open_websockets (fproxy) > 0 && g_strcmp0 (last_session_state (), "connected") == 0;
}

static void
test_http_faults (void)
{
  g_autofree char *server_db = g_build_filename (env.server->dir, "cpns-server.db", NULL);
  g_autofree char *registry_db = g_build_filename (env.dir, "gateway", "registry.sqlite", NULL);
  g_autoptr(GString) table = g_string_new (NULL);
  g_autoptr(GArray) delays = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GString) retry_in = g_string_new (NULL);
  guint runs = 0, completed = 0, rolled_back = 0, retrying = 0, unexpected = 0;
  gint64 last_retry = 0, t0 = g_get_monotonic_time ();
  gboolean jitter = FALSE;

  for (guint f = 0; http_faults[f]; f++)
    for (guint flow = 0; flow < 2; flow++)
      {
        const char * const *steps = flow ? connection_steps : pairing_steps;

        for (guint s = 0; steps[s]; s++)
          {
            const char *step = steps[s];
            FpFault fault = parse_fault (http_faults[f]);
            g_autofree char *dir = NULL, *creds = NULL, *name = NULL, *id = NULL;
            g_autoptr(TPne) pne = NULL;
            Clean clean = { server_db, registry_db, NULL };
            guint first_event, run_retrying = 0;
            gint64 start, elapsed;
            gboolean hit, ok, events_ok = TRUE, inventory_ok = TRUE;
            int rc;

            if (http_steps && !g_strv_contains ((const char * const *) http_steps, step))
              continue;
            dir = g_strdup_printf ("%s/dev-%s-%u-%s", env.dir, http_faults[f], flow, step);
            creds = g_build_filename (dir, "credentials", NULL);
            name = g_strdup_printf ("d%s%u%u", http_faults[f], flow, s);
            if (flow == 1)
              {
                g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "pair", "--gateway", env.address, "--name", name,
                                            "--type", "sensor", "--yes", "--state-dir", dir, NULL), ==, 0);
                t_pne_forget_session (dir);
              }
            if (is_session_step (step))
              {
                /* The flow must open the session itself. */
                t_gateway_send (env.gw, "disconnect");
                g_assert_true (wait_session_state ("disconnected", 10000));
              }
            else
              g_assert_true (wait_session_state ("connected", 30000));
            first_event = env.gw->events->len;
            fault_proxy_arm (fproxy, fault, step);
            start = g_get_monotonic_time ();
            if (flow == 0)
              pne = t_pne_spawn ("pair", "--gateway", env.address, "--name", name, "--type", "sensor",
                                 "--yes", "--state-dir", dir, NULL);
            else
              pne = t_pne_spawn ("connect", "--once", "--gateway", env.address, "--state-dir", dir, NULL);
            rc = t_pne_wait (pne, 75000);
            elapsed = g_get_monotonic_time () - start;
            /* The events WebSocket opens after the session, in parallel
             * with the flow, which may be done before it is asked for. */
            eventually (was_hit, NULL, 20000);
            hit = fault_proxy_disarm (fproxy);
            runs++;
            g_assert_true (hit);

            id = t_pne_credential (dir, "pne_id");
            clean.pne_id = id;
            if (rc == 0)
              {
                g_autofree char *state = NULL;
                g_autofree char *session = t_pne_credential (dir, "session_id");

                completed++;
                g_assert_nonnull (id);
                state = t_server_entity_state (env.server, id);
                g_assert_nonnull (state);
                g_assert_cmpstr (state, !=, "pending");
                g_assert_cmpstr (state, !=, "revoked");
                if (flow == 1)
                  {
                    g_assert_nonnull (session);
                    /* A faulted inventory PUT is sent again. */
                    inventory_ok = eventually (inventory_sent, &clean, 30000);
                  }
              }
            else
              {
                rolled_back++;
                if (flow == 0)
                  g_assert_false (g_file_test (creds, G_FILE_TEST_EXISTS));
                else
                  {
                    g_autofree char *session = t_pne_credential (dir, "session_id");
                    g_autofree char *state = t_server_entity_state (env.server, id);

                    g_assert_null (session);
                    g_assert_cmpstr (state, !=, "connected");
                  }
              }
            /* Nothing half-done on either side (a rollback's DELETE may
             * wait for the session to come back). */
            ok = eventually (no_half_state, &clean, 40000);
            if (g_str_equal (step, "events"))
              events_ok = eventually (events_open, NULL, 40000);
            g_assert_true (wait_session_state ("connected", 40000));

            for (guint i = first_event; i < env.gw->events->len; i++)
              {
                JsonObject *e = g_ptr_array_index (env.gw->events, i);
                JsonObject *so;
                const char *state;

                if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), "session") != 0)
                  continue;
                so = json_object_get_object_member (e, "session");
                state = json_object_get_string_member (so, "state");
                if (g_strcmp0 (state, "retrying") == 0)
                  {
                    run_retrying++;
                    g_assert_true (json_object_has_member (so, "retry_in_s"));
                    g_string_append_printf (retry_in, " %" G_GINT64_FORMAT,
                                            json_object_get_int_member (so, "retry_in_s"));
                    last_retry = json_object_get_int_member (e, "time");
                  }
                else if (g_strcmp0 (state, "connecting") == 0 && last_retry)
                  {
                    gint64 d = json_object_get_int_member (e, "time") - last_retry;

                    g_array_append_val (delays, d);
                    last_retry = 0;
                  }
              }
            last_retry = 0;
            retrying += run_retrying;

            g_string_append_printf (table, "#   %-5s %-10s %-13s %-11s exit %d  %5.1f s  retrying %u%s%s%s\n",
                                    http_faults[f], flow ? "connection" : "pairing", step,
                                    rc == 0 ? "completed" : "rolled back", rc, elapsed / 1e6, run_retrying,
                                    ok ? "" : "  HALF STATE LEFT", events_ok ? "" : "  NO EVENTS CHANNEL",
                                    inventory_ok ? "" : "  INVENTORY NOT SENT");
            g_test_message ("%s/%s/%s: %s (exit %d) in %.1f s", http_faults[f], flow ? "connection" : "pairing",
                            step, rc == 0 ? "completed" : "rolled back", rc, elapsed / 1e6);
            g_assert_true (ok);
            g_assert_true (events_ok);
            g_assert_true (inventory_ok);
            if (fault != FP_FAULT_DROP)
              {
                if ((rc == 0) != expect_completed (step))
                  unexpected++;
                if (is_session_step (step))
                  g_assert_cmpuint (run_retrying, >, 0);
              }
          }
      }

  for (guint i = 1; i < delays->len; i++)
    if (ABS (g_array_index (delays, gint64, i) - g_array_index (delays, gint64, 0)) > 20000)
      jitter = TRUE;
  g_print ("# FIGURE faults mid-flow (HTTP): %u runs in %.0f s over %u proxied connections, %u requests:"
           " %u completed, %u rolled back, %u not the decided outcome; 0 half-done;"
           " %u \"retrying\" session events; announced retry_in_s:%s; retrying→connecting (ms):",
           runs, (g_get_monotonic_time () - t0) / 1e6, fault_proxy_connections (fproxy),
           fault_proxy_requests (fproxy), completed, rolled_back, unexpected, retrying, retry_in->str);
  for (guint i = 0; i < delays->len; i++)
    g_print (" %" G_GINT64_FORMAT, g_array_index (delays, gint64, i) / 1000);
  g_print ("\n#   fault flow       step          outcome\n%s", table->str);
  g_assert_cmpuint (unexpected, ==, 0);
  if (delays->len >= 3)
    g_assert_true (jitter);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *srv_dir = NULL, *gw_dir = NULL, *invitation = NULL, *real_url = NULL;
  const char *extra[] = { "--enroll", NULL, "--confirm-pairing", "always", "--approve", "always",
                          "--pairing-window", "900", "--connect", NULL };
  JsonObject *e;
  gboolean http = FALSE;
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (argc > 1 && g_str_equal (argv[1], "http"))
    {
      http = TRUE;
      http_faults = g_strsplit (argc > 2 ? argv[2] : "500,stall", ",", -1);
      if (argc > 3 && !g_str_equal (argv[3], "all"))
        http_steps = g_strsplit (argv[3], ",", -1);
      for (guint f = 0; http_faults[f]; f++)
        parse_fault (http_faults[f]);
    }
  else if (argc > 1)
    max_offset = (guint) g_ascii_strtoull (argv[1], NULL, 10);
  if (!http && argc > 2)
    {
      for (guint f = 0; f < N_FAULTS; f++)
        if (g_str_equal (argv[2], fault_names[f]))
          first_fault = last_fault = f;
    }

  env.dir = t_tmpdir ();
  srv_dir = g_build_filename (env.dir, "server", NULL);
  gw_dir = g_build_filename (env.dir, "gateway", NULL);
  env.server = start_server (srv_dir, 0);

  if (http)
    {
      g_autofree char *cert = g_build_filename (srv_dir, "server-cert.pem", NULL);
      g_autofree char *key = g_build_filename (srv_dir, "server-key.pem", NULL);

      fproxy = fault_proxy_new (env.server->port, cert, key, &error);
      g_assert_no_error (error);
      env.proxy_port = fault_proxy_get_port (fproxy);
    }
  else
    {
      g_mutex_init (&proxy.lock);
      proxy.open = g_ptr_array_new_with_free_func (g_object_unref);
      proxy.armed = -1;
      proxy.upstream_port = env.server->port;
      service = g_threaded_socket_service_new (16);
      env.proxy_port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
      g_assert_no_error (error);
      g_signal_connect (service, "run", G_CALLBACK (on_run), NULL);
      g_socket_service_start (service);
    }

  /* The invitation names the proxy. */
  real_url = env.server->url;
  env.server->url = g_strdup_printf ("https://127.0.0.1:%u", env.proxy_port);
  invitation = t_server_invite (env.server, "alice");
  g_free (env.server->url);
  env.server->url = g_steal_pointer (&real_url);
  extra[1] = invitation;
  env.gw = t_gateway_start (gw_dir, extra);
  e = t_gateway_wait_type (env.gw, "enrollment", 20000);
  g_assert_nonnull (e);
  g_assert_false (json_object_has_member (e, "error"));
  env.address = g_strdup_printf ("127.0.0.1:%u", env.gw->port);

  if (http)
    g_test_add_func ("/stress/faults-midflow/http", test_http_faults);
  else
    g_test_add_func ("/stress/faults-midflow", test_faults);
  ret = g_test_run ();

  g_assert_cmpint (t_gateway_stop (env.gw), ==, 0);
  g_clear_pointer (&env.gw, t_gateway_free);
  if (service)
    g_socket_service_stop (service);
  g_clear_pointer (&fproxy, fault_proxy_free);
  g_strfreev (http_faults);
  g_strfreev (http_steps);
  t_server_stop (env.server);
  g_clear_pointer (&env.server, t_server_free);
  g_free (env.address);
  g_free (env.dir);
  return ret;
}
