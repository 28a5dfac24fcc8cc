/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reliability (issue 7, item 11): bounded waits. The CPNS server is
 * replaced by a black hole on its port (accepts TCP, never answers). While
 * the gateway's server session hangs on it, the engine stays responsive
 * (commands answered, events flowing, a PNE resumes its PSK session), the
 * session attempt ends by itself, and when the real server comes back on
 * the same port the gateway connects again. */
#include "config.h"

#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw-test-fixture.h"

typedef struct
{
  int      fd;
  GThread *thread;
  gint     stop;
  gint     accepted;
  GArray  *held;      /* int */
} BlackHole;

static gpointer
black_hole_thread (gpointer data)
{
  BlackHole *b = data;

  while (!g_atomic_int_get (&b->stop))
    {
      struct pollfd pfd = { b->fd, POLLIN, 0 };
      int conn;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      conn = accept (b->fd, NULL, NULL);
      if (conn >= 0)
        {
          g_array_append_val (b->held, conn);
          g_atomic_int_inc (&b->accepted);
        }
    }
  return NULL;
}

static BlackHole *
black_hole_start (guint16 port)
{
  BlackHole *b = g_new0 (BlackHole, 1);
  struct sockaddr_in sin = { 0 };
  int one = 1;

  b->held = g_array_new (FALSE, FALSE, sizeof (int));
  b->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt (b->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sin.sin_family = AF_INET;
  sin.sin_port = htons (port);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  for (int i = 0; bind (b->fd, (struct sockaddr *) &sin, sizeof sin) != 0; i++)
    {
      g_assert_cmpint (i, <, 50);
      g_usleep (100000);
    }
  g_assert_cmpint (listen (b->fd, 64), ==, 0);
  b->thread = g_thread_new ("black-hole", black_hole_thread, b);
  return b;
}

static void
black_hole_stop (BlackHole *b)
{
  g_atomic_int_set (&b->stop, 1);
  g_thread_join (b->thread);
  for (guint i = 0; i < b->held->len; i++)
    close (g_array_index (b->held, int, i));
  close (b->fd);
  g_array_unref (b->held);
  g_free (b);
}

static gboolean
session_not_connecting (JsonObject *e,
                        gpointer    data)
{
  if (g_strcmp0 (json_object_get_string_member_with_default (e, "type", ""), "session") != 0)
    return FALSE;
  return g_strcmp0 (json_object_get_string_member (json_object_get_object_member (e, "session"), "state"),
                    "connecting") != 0;
}

static void
test_black_hole (void)
{
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", "--connect", NULL };
  Fixture fx = { 0 };
  BlackHole *hole;
  g_autofree char *srv_dir = NULL;
  guint16 port;
  gint64 start, hang_start, worst_command = 0, resume_ms, ended_ms, back_ms;
  JsonObject *e;
  const char *ended_state = NULL;

  fixture_start (&fx, extra);
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "connected", 20000));
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);

  /* The server goes; a black hole takes its port. */
  port = fx.server->port;
  srv_dir = g_strdup (fx.server->dir);
  t_server_stop (fx.server);
  g_clear_pointer (&fx.server, t_server_free);
  hole = black_hole_start (port);

  /* A new server session: it hangs on the black hole. */
  t_gateway_send (fx.gw, "disconnect");
  t_sleep (200);
  t_gateway_send (fx.gw, "connect");
  hang_start = g_get_monotonic_time ();
  e = t_gateway_wait_session (fx.gw, "connecting", 5000);
  g_assert_nonnull (e);
  for (int i = 0; i < 50 && g_atomic_int_get (&hole->accepted) == 0; i++)
    t_sleep (100);
  g_assert_cmpint (g_atomic_int_get (&hole->accepted), >=, 1);

  /* Meanwhile: commands are answered at once… */
  for (int i = 0; i < 5; i++)
    {
      gint64 ms;

      start = g_get_monotonic_time ();
      t_gateway_send (fx.gw, i % 2 ? "close" : "open 60");
      g_assert_nonnull (t_gateway_wait_type (fx.gw, "pairing_window", 2000));
      ms = (g_get_monotonic_time () - start) / 1000;
      worst_command = MAX (worst_command, ms);
    }
  /* …and a device resumes its session without the server. */
  start = g_get_monotonic_time ();
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  resume_ms = (g_get_monotonic_time () - start) / 1000;

  /* The hanging attempt ends by itself (HTTP timeout), then retries. */
  e = t_gateway_wait (fx.gw, session_not_connecting, NULL, 30000);
  ended_ms = (g_get_monotonic_time () - hang_start) / 1000;
  g_assert_nonnull (e);
  ended_state = json_object_get_string_member (json_object_get_object_member (e, "session"), "state");
  g_assert_true (g_strcmp0 (ended_state, "retrying") == 0 || g_strcmp0 (ended_state, "disconnected") == 0);

  /* The real server comes back on the same port. */
  black_hole_stop (hole);
  start = g_get_monotonic_time ();
  fx.server = t_server_start (srv_dir, port);
  t_gateway_send (fx.gw, "connect");
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "connected", 30000));
  back_ms = (g_get_monotonic_time () - start) / 1000;

  g_print ("# FIGURE black-hole server: commands answered in <= %" G_GINT64_FORMAT " ms, PSK resume in %"
           G_GINT64_FORMAT " ms while hanging; the attempt ended (%s) after %.1f s; connected again %.1f s"
           " after the server returned\n", worst_command, resume_ms, ended_state, ended_ms / 1000.0,
           back_ms / 1000.0);
  g_assert_cmpint (worst_command, <, 1000);
  for (guint i = 0; i < fx.gw->events->len; i++)
    {
      JsonObject *ev = fx.gw->events->pdata[i];

      if (g_strcmp0 (json_object_get_string_member_with_default (ev, "type", ""), "session") == 0)
        g_test_message ("session event %u: %s", i,
                        json_object_get_string_member (json_object_get_object_member (ev, "session"), "state"));
    }
  fixture_stop (&fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/security/bounded-waits/black-hole", test_black_hole);
  return g_test_run ();
}
