/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 3, the main-loop part: the gateway engine runs in this
 * process as the app runs it (gw_engine_start() on the default main
 * context, events delivered there), while a flood thread keeps IDLE idle
 * unauthenticated TCP sockets open against its port (10 per source
 * address, re-opened as the engine closes them) and sends RATE garbage
 * handshakes per second. The main loop carries a 10 ms tick: how late a
 * tick fires (wall time, preemption included) and how much CPU the main
 * thread spent between two ticks (its own work; asserted < 100 ms).
 * Every 100 ms the loop sends the engine a command
 * (open the pairing window) and times the answering event, as a click in
 * the app would. A control thread ticks off the loop: its lateness is the
 * machine's load. Figures: max and p99 tick lateness, command round trips,
 * sockets the engine closed, handshakes sent.
 *
 *   stress-lan-flood-mainloop [--tap] [SECONDS IDLE RATE]   (harness: 60 1000 200)
 *
 * The widgets of the app are not in this loop (tests/app/test-app-flood.c
 * has them); the engine is, with its event delivery.
 *
 * /stress/lan-flood/engine-limits runs the same flood against a GwCore on
 * this thread's loop and asserts §4.3's limits from the engine's side:
 * exact snapshots of the sockets it holds (at most 32, 4 per address, never
 * one it no longer counts) and the listener's own peak counts. Loopback
 * only. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "gw-core.h"
#include "gw-engine.h"
#include "gw-listener.h"
#include "flood-socket.h"
#include "sec-tls-client.h"

#define TICK_MS 10
/* The goal is 100 ms; a sanitizer build runs the engine several times
 * slower, so it is held to 300 ms (the normal build checks the goal). */
#if defined(__SANITIZE_ADDRESS__)
#define STALL_LIMIT_MS 300
#else
#define STALL_LIMIT_MS 100
#endif

static guint seconds = 10, idle_target = 1000, rate = 200;

typedef struct
{
  guint16  port;
  gint     stop;
  guint    idle_opened;
  guint    idle_closed_by_engine;
  guint    garbage_sent;
  guint    garbage_refused;
  guint    samples;
  guint    max_held;              /* accepted by the engine, still established */
  guint    max_held_per_address;
  guint    max_backlog;           /* established, not yet accepted */
} Flood;

/* The engine's side, from /proc/net/tcp: established sockets on its port
 * that it has accepted (they have an inode) in all and per remote address,
 * and those still waiting in the listen backlog (inode 0). No PNE is
 * authenticated in this test, so every accepted socket is unauthenticated. */
G_GNUC_UNUSED static void
sample_engine_sockets (Flood *f)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GHashTable) per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint held = 0, backlog = 0;

  if (!g_file_get_contents ("/proc/net/tcp", &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      g_auto(GStrv) col = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) v = g_ptr_array_new ();
      const char *colon;
      guint n;

      for (guint k = 0; col[k]; k++)
        if (*col[k])
          g_ptr_array_add (v, col[k]);
      if (v->len < 10)
        continue;
      colon = strchr (g_ptr_array_index (v, 1), ':');
      if (!colon || g_ascii_strtoull (colon + 1, NULL, 16) != f->port ||
          g_strcmp0 (g_ptr_array_index (v, 3), "01") != 0)
        continue;
      if (g_strcmp0 (g_ptr_array_index (v, 9), "0") == 0)
        {
          backlog++;
          continue;
        }
      held++;
      {
        char *addr = g_strndup (g_ptr_array_index (v, 2), 8);

        n = GPOINTER_TO_UINT (g_hash_table_lookup (per_address, addr)) + 1;
        g_hash_table_replace (per_address, addr, GUINT_TO_POINTER (n));
        f->max_held_per_address = MAX (f->max_held_per_address, n);
      }
    }
  f->samples++;
  f->max_held = MAX (f->max_held, held);
  f->max_backlog = MAX (f->max_backlog, backlog);
}

/* Samples the engine's sockets once a second, off the flood thread: the
 * table holds thousands of TIME_WAIT rows under the flood and parsing it
 * costs CPU (too much under a sanitizer, where it is not sampled). */
static gpointer
sampler_thread (gpointer data)
{
  Flood *f = data;

  while (!g_atomic_int_get (&f->stop))
    {
#if !defined(__SANITIZE_ADDRESS__)
      sample_engine_sockets (f);
#endif
      for (guint i = 0; i < 10 && !g_atomic_int_get (&f->stop); i++)
        g_usleep (100000);
    }
  return NULL;
}

static gpointer
flood_thread (gpointer data)
{
  Flood *f = data;
  g_autofree int *idle = g_new (int, idle_target);
  guint8 garbage[512];
  gint64 start = g_get_monotonic_time (), next_garbage = start;
  guint64 garbage_n = 0;

  for (guint i = 0; i < idle_target; i++)
    {
      /* 127.1.a.b: 10 sockets per address. */
      idle[i] = flood_connect_from (0x7f010000u + 1 + i / 10, f->port);
      if (idle[i] >= 0)
        f->idle_opened++;
    }
  while (!g_atomic_int_get (&f->stop))
    {
      gint64 now = g_get_monotonic_time ();

      /* Garbage handshakes at RATE per second, each from the next
       * address of 127.2.0.0/16. */
      while (next_garbage <= now)
        {
          guint32 src = 0x7f020000u + 1 + (guint32) (garbage_n % 60000);
          int fd = flood_connect_from (src, f->port);

          garbage_n++;
          next_garbage = start + (gint64) (garbage_n * G_USEC_PER_SEC / rate);
          if (fd < 0)
            {
              f->garbage_refused++;
              continue;
            }
          for (guint k = 0; k < sizeof garbage; k++)
            garbage[k] = (guint8) g_random_int ();
          garbage[0] = 0x16;   /* looks like a handshake record */
          if (send (fd, garbage, sizeof garbage, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
            f->garbage_sent++;
          else
            f->garbage_refused++;
          close (fd);
        }
      /* Re-open what the engine closed. */
      for (guint i = 0; i < idle_target; i++)
        if (idle[i] < 0 || flood_closed_by_peer (idle[i]))
          {
            if (idle[i] >= 0)
              {
                close (idle[i]);
                f->idle_closed_by_engine++;
              }
            idle[i] = flood_connect_from (0x7f010000u + 1 + i / 10, f->port);
            if (idle[i] >= 0)
              f->idle_opened++;
          }
      g_usleep (2000);
    }
  for (guint i = 0; i < idle_target; i++)
    if (idle[i] >= 0)
      close (idle[i]);
  return NULL;
}

typedef struct
{
  GMainLoop *loop;
  GwEngine  *engine;
  gint64     last_tick;
  gint64     last_cpu;         /* the main thread's CPU time, µs */
  double     max_busy_ms;      /* main-thread CPU time between two ticks */
  GArray    *late_ms;          /* double, per tick */
  GArray    *command_ms;       /* double, per command */
  gint64     command_sent;     /* 0: none outstanding */
  guint      events;
} Loop;

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
on_tick (gpointer data)
{
  Loop *l = data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();
  double late = (now - l->last_tick) / 1000.0 - TICK_MS;

  l->max_busy_ms = MAX (l->max_busy_ms, (cpu - l->last_cpu) / 1000.0);
  l->last_cpu = cpu;

  g_array_append_val (l->late_ms, late);
  l->last_tick = now;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_command_tick (gpointer data)
{
  Loop *l = data;
  GwCommand *cmd;

  if (l->command_sent != 0)
    return G_SOURCE_CONTINUE;
  cmd = gw_command_new (GW_COMMAND_OPEN_PAIRING_WINDOW);
  cmd->seconds = 900;
  l->command_sent = g_get_monotonic_time ();
  gw_engine_send (l->engine, cmd);
  return G_SOURCE_CONTINUE;
}

static void
on_event (GwEvent  *event,
          gpointer  data)
{
  Loop *l = data;

  l->events++;
  if (event->type == GW_EVENT_PAIRING_WINDOW && l->command_sent != 0)
    {
      double ms = (g_get_monotonic_time () - l->command_sent) / 1000.0;

      g_array_append_val (l->command_ms, ms);
      l->command_sent = 0;
    }
}

/* The control: a plain thread ticking at the same period, off the main
 * loop. Its lateness is the machine's (CPU shared with other jobs), not
 * the engine's. */
typedef struct
{
  gint   stop;
  double max_late_ms;
} Control;

static gpointer
control_thread (gpointer data)
{
  Control *c = data;
  gint64 last = g_get_monotonic_time ();

  while (!g_atomic_int_get (&c->stop))
    {
      gint64 now;
      double late;

      g_usleep (TICK_MS * 1000);
      now = g_get_monotonic_time ();
      late = (now - last) / 1000.0 - TICK_MS;
      c->max_late_ms = MAX (c->max_late_ms, late);
      last = now;
    }
  return NULL;
}

static gboolean
on_done (gpointer data);

/* Runs the loop for 200 ms: the start-up events are delivered. */
static void
settle (Loop *l)
{
  g_timeout_add (200, on_done, l);
  g_main_loop_run (l->loop);
}

static gboolean
on_done (gpointer data)
{
  g_main_loop_quit (((Loop *) data)->loop);
  return G_SOURCE_REMOVE;
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

static double
percentile (GArray *values,
            double  p)
{
  guint i;

  if (values->len == 0)
    return -1;
  g_array_sort (values, cmp_double);
  i = (guint) (p * (values->len - 1) + 0.5);
  return g_array_index (values, double, i);
}

/* VmRSS of this process (engine included) in KiB. */
static gint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmRSS:");
  return line ? g_ascii_strtoll (line + 6, NULL, 10) : -1;
}

static void
raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

static void
test_mainloop_under_flood (void)
{
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  Flood flood = { 0 };
  Loop l = { 0 };
  Control control = { 0 };
  GThread *thread, *control_t, *sampler_t;
  guint tick_id, cmd_id;
  double late_max, late_p99, cmd_p50, cmd_p99, cmd_max;
  guint ticks, commands;
  gint64 rss_before, rss_after;

  raise_nofile ();
  dir = g_dir_make_tmp ("stress-flood-XXXXXX", &error);
  g_assert_no_error (error);
  config->data_dir = g_strdup (dir);
  g_free (config->listen_address);
  config->listen_address = g_strdup ("127.0.0.1");
  config->listen_port = 0;
  config->discovery_enabled = FALSE;
  config->discovery_port = 0;
  g_clear_pointer (&config->discovery_group, g_free);

  l.loop = g_main_loop_new (NULL, FALSE);
  l.late_ms = g_array_new (FALSE, FALSE, sizeof (double));
  l.command_ms = g_array_new (FALSE, FALSE, sizeof (double));
  l.engine = gw_engine_new (config);
  g_assert_true (gw_engine_start (l.engine, on_event, &l, &error));
  g_assert_no_error (error);
  flood.port = gw_engine_get_listen_port (l.engine);
  g_assert_cmpuint (flood.port, !=, 0);

  settle (&l);
  rss_before = rss_kib ();
  thread = g_thread_new ("flood", flood_thread, &flood);
  sampler_t = g_thread_new ("sampler", sampler_thread, &flood);
  control_t = g_thread_new ("control", control_thread, &control);
  l.last_tick = g_get_monotonic_time ();
  l.last_cpu = thread_cpu_us ();
  tick_id = g_timeout_add (TICK_MS, on_tick, &l);
  cmd_id = g_timeout_add (100, on_command_tick, &l);
  g_timeout_add_seconds (seconds, on_done, &l);
  g_main_loop_run (l.loop);
  g_source_remove (tick_id);
  g_source_remove (cmd_id);
  g_atomic_int_set (&flood.stop, 1);
  g_thread_join (thread);
  g_thread_join (sampler_t);
  g_atomic_int_set (&control.stop, 1);
  g_thread_join (control_t);
  rss_after = rss_kib ();

  ticks = l.late_ms->len;
  commands = l.command_ms->len;
  late_max = percentile (l.late_ms, 1.0);
  late_p99 = percentile (l.late_ms, 0.99);
  cmd_p50 = percentile (l.command_ms, 0.5);
  cmd_p99 = percentile (l.command_ms, 0.99);
  cmd_max = percentile (l.command_ms, 1.0);
  g_print ("# FIGURE main loop under LAN flood (%u s, %u idle sockets from %u addresses, %u garbage "
           "handshakes/s): %u ticks of %d ms, lateness p99 %.1f ms, max %.1f ms (limit %d; control "
           "thread off the loop: max %.1f ms); main-thread CPU between two ticks at most %.1f ms; "
           "%u commands, event round trip p50 %.1f ms, p99 %.1f ms, max %.1f ms; %u events; "
           "idle sockets opened %u, closed by the engine %u; garbage handshakes sent %u, "
           "refused at connect %u; engine side (%u samples): at most %u unauthenticated sockets held, "
           "%u per address, %u waiting in the listen backlog; process RSS %" G_GINT64_FORMAT " KiB before, %" G_GINT64_FORMAT
           " KiB after\n",
           seconds, idle_target, (idle_target + 9) / 10, rate, ticks, TICK_MS, late_p99, late_max,
           STALL_LIMIT_MS, control.max_late_ms, l.max_busy_ms, commands, cmd_p50, cmd_p99, cmd_max, l.events, flood.idle_opened,
           flood.idle_closed_by_engine, flood.garbage_sent, flood.garbage_refused, flood.samples, flood.max_held,
           flood.max_held_per_address, flood.max_backlog, rss_before, rss_after);

  /* The flood reached the engine, and the engine shed it. */
  g_assert_cmpuint (flood.garbage_sent, >, seconds * rate / 5);
  g_assert_cmpuint (flood.idle_closed_by_engine, >, idle_target / 10);
  /* The /proc/net/tcp sample is a figure only: the table is read in many
   * pieces while sockets come and go, so one read can count a socket and
   * the one that replaced it. /stress/lan-flood/engine-limits asserts the
   * limits from exact snapshots. */
  /* The loop never stalled, and commands kept being answered. */
  g_assert_cmpuint (ticks, >, seconds * 1000 / TICK_MS / 5);
  /* The loop's own work between two ticks stays under the limit. Wall
   * lateness on this shared machine is mostly preemption (the control
   * thread sees it too), so it is a figure, not asserted. */
  g_assert_cmpfloat (l.max_busy_ms, <, STALL_LIMIT_MS);
  g_assert_cmpuint (commands, >, seconds * 2);
  g_assert_cmpfloat (cmd_max, <, 1000);

  gw_engine_stop (l.engine);
  gw_engine_free (l.engine);
  g_array_unref (l.late_ms);
  g_array_unref (l.command_ms);
  g_main_loop_unref (l.loop);
  {
    g_autofree char *reg = g_build_filename (dir, "registry.sqlite", NULL);
    g_autofree char *wal = g_strconcat (reg, "-wal", NULL);
    g_autofree char *shm = g_strconcat (reg, "-shm", NULL);

    g_unlink (reg);
    g_unlink (wal);
    g_unlink (shm);
    g_rmdir (dir);
  }
}

/* ------------------------------------------------------------------ */
/* The engine's side of §4.3's limits, exactly. The core runs on this
 * thread's main context (as in tests/gateway/test-gw-state.c), so between
 * two dispatches nothing accepts or closes one of its sockets: a scan of
 * this process's descriptors from a callback on the same loop is an exact
 * snapshot of the connections the engine holds. Every accepted socket of
 * the flood is unauthenticated (none completes a handshake). */

typedef struct
{
  GMainLoop  *loop;
  GwCore     *core;
  guint16     port;
  guint       snapshots;
  guint       max_held;            /* accepted sockets open, in all */
  guint       max_held_per_address;
  int         max_over_count;      /* held − the listener's count */
  guint       last_held;
  int         max_fd;              /* the highest descriptor seen in use */
  guint32     watch;               /* an address (host order)... */
  guint       watch_held;          /* ...and how many the last snapshot held from it */
  gint64      max_snapshot_us;
} Limits;

/* Accepted connections open in this process on 127.0.0.1:port: every
 * descriptor up to past the highest one seen last time (descriptors are
 * allocated lowest first; getsockname() on a free one fails at once). */
static void
snapshot_held (Limits *lim)
{
  g_autoptr(GHashTable) per_address = g_hash_table_new (NULL, NULL);
  int top = MAX (lim->max_fd + 1024, 2048);
  guint held = 0;
  int over;

  for (int fd = 0; fd < top; fd++)
    {
      struct sockaddr_in local = { 0 }, remote = { 0 };
      socklen_t len = sizeof local;
      int listening = 0;
      socklen_t optlen = sizeof listening;

      if (getsockname (fd, (struct sockaddr *) &local, &len) != 0)
        {
          if (errno != EBADF)
            lim->max_fd = MAX (lim->max_fd, fd);
          continue;
        }
      lim->max_fd = MAX (lim->max_fd, fd);
      if (local.sin_family != AF_INET || ntohs (local.sin_port) != lim->port ||
          ntohl (local.sin_addr.s_addr) != INADDR_LOOPBACK)
        continue;
      if (getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || listening)
        continue;
      held++;
      len = sizeof remote;
      if (getpeername (fd, (struct sockaddr *) &remote, &len) == 0)
        {
          gpointer key = GUINT_TO_POINTER (ntohl (remote.sin_addr.s_addr));
          guint n = GPOINTER_TO_UINT (g_hash_table_lookup (per_address, key)) + 1;

          g_hash_table_insert (per_address, key, GUINT_TO_POINTER (n));
          lim->max_held_per_address = MAX (lim->max_held_per_address, n);
        }
    }
  lim->watch_held = GPOINTER_TO_UINT (g_hash_table_lookup (per_address, GUINT_TO_POINTER (lim->watch)));
  over = (int) held - (int) gw_listener_unauth_count (lim->core->listener);
  lim->snapshots++;
  lim->last_held = held;
  lim->max_held = MAX (lim->max_held, held);
  lim->max_over_count = MAX (lim->max_over_count, over);
}

static gboolean
on_snapshot (gpointer data)
{
  Limits *lim = data;
  gint64 t = g_get_monotonic_time ();

  snapshot_held (lim);
  lim->max_snapshot_us = MAX (lim->max_snapshot_us, g_get_monotonic_time () - t);
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_limits (gpointer data)
{
  g_main_loop_quit (((Limits *) data)->loop);
  return G_SOURCE_REMOVE;
}

/* Runs the loop until the engine has taken @fd in (counted it) or closed
 * it, at most 1 s. */
static void
wait_taken (Limits *lim,
            int     fd,
            guint   count_before)
{
  gint64 end = g_get_monotonic_time () + G_USEC_PER_SEC;

  while (gw_listener_unauth_count (lim->core->listener) == count_before && !flood_closed_by_peer (fd) &&
         g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (500);
    }
}

/* Runs the loop until the listener counts nothing (at most 10 s). */
static void
wait_unauth_zero (Limits *lim)
{
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (gw_listener_unauth_count (lim->core->listener) > 0 && g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (1000);
    }
  g_assert_cmpuint (gw_listener_unauth_count (lim->core->listener), ==, 0);
}

#define CLOSERS 4   /* one address's worth (GW_MAX_UNAUTH_PER_HOST) */

typedef struct
{
  guint16 port;
  guint   sent;        /* byes sent after a completed handshake */
  gint    done;
} Closers;

/* Completes CLOSERS handshakes and says bye on each, then holds the
 * sockets 3 s without reading or closing: the engine closes its side
 * (close_notify, then waits for the peer's close, up to 1 s). */
static gpointer
closers_thread (gpointer data)
{
  Closers *c = data;
  SecTls *tls[CLOSERS] = { NULL };

  for (guint i = 0; i < CLOSERS; i++)
    {
      tls[i] = sec_tls_connect (c->port);
      if (tls[i] && sec_tls_handshake (tls[i], NULL) &&
          sec_tls_send_frame (tls[i], "{\"v\":1,\"type\":\"bye\"}"))
        c->sent++;
    }
  g_usleep (3 * G_USEC_PER_SEC);
  for (guint i = 0; i < CLOSERS; i++)
    g_clear_pointer (&tls[i], sec_tls_free);
  g_atomic_int_set (&c->done, 1);
  return NULL;
}

static void
discard_event (GwEvent  *event,
               gpointer  data)
{
  gw_event_unref (event);
}

static void
test_engine_limits (void)
{
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  GMainContext *context = g_main_context_default ();
  guint limit_seconds = MAX (seconds * 4 / 5, 4);
  Flood flood = { 0 };
  Limits lim = { 0 };
  GThread *thread, *sampler_t;
  guint snap_id, peak_total = 0, peak_per_host = 0;

  raise_nofile ();
  dir = g_dir_make_tmp ("stress-limits-XXXXXX", &error);
  g_assert_no_error (error);
  config->data_dir = g_strdup (dir);
  g_free (config->listen_address);
  config->listen_address = g_strdup ("127.0.0.1");
  config->listen_port = 0;
  config->discovery_enabled = FALSE;
  config->discovery_port = 0;
  g_clear_pointer (&config->discovery_group, g_free);

  lim.loop = g_main_loop_new (context, FALSE);
  lim.core = gw_core_new (config, context, gw_clock_new_real (context), discard_event, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (gw_core_start_network (lim.core, &error));
  g_assert_no_error (error);
  lim.port = flood.port = gw_listener_get_port (lim.core->listener);

  thread = g_thread_new ("flood", flood_thread, &flood);
  sampler_t = g_thread_new ("sampler", sampler_thread, &flood);
  snap_id = g_timeout_add (20, on_snapshot, &lim);
  g_timeout_add_seconds (limit_seconds, quit_limits, &lim);
  g_main_loop_run (lim.loop);
  g_source_remove (snap_id);
  g_atomic_int_set (&flood.stop, 1);
  g_thread_join (thread);
  g_thread_join (sampler_t);
  gw_listener_get_unauth_peak (lim.core->listener, &peak_total, &peak_per_host);
  g_print ("# FIGURE engine-side limits under LAN flood (%u s, %u idle sockets from %u addresses, "
           "%u garbage handshakes/s): %u exact snapshots of the engine's open accepted sockets: at most "
           "%u in all, %u from one address, at most %d more than the listener counted; the listener's "
           "peak count %u in all, %u from one address; idle sockets opened %u, closed by the engine %u; "
           "garbage handshakes sent %u; a snapshot took at most %.1f ms; for comparison, /proc/net/tcp "
           "read concurrently (%u samples): %u established and accepted, %u from one address, %u in the "
           "listen backlog\n",
           limit_seconds, idle_target, (idle_target + 9) / 10, rate, lim.snapshots, lim.max_held,
           lim.max_held_per_address, lim.max_over_count, peak_total, peak_per_host, flood.idle_opened,
           flood.idle_closed_by_engine, flood.garbage_sent, lim.max_snapshot_us / 1000.0, flood.samples,
           flood.max_held, flood.max_held_per_address, flood.max_backlog);

  /* The flood reached the limits... */
  g_assert_cmpuint (lim.snapshots, >, limit_seconds * 10);
  g_assert_cmpuint (flood.garbage_sent, >, limit_seconds * rate / 10);
  g_assert_cmpuint (flood.idle_closed_by_engine, >, limit_seconds * 2);
  g_assert_cmpuint (peak_total, >=, GW_MAX_UNAUTH_PER_HOST * 2);
  g_assert_cmpuint (peak_per_host, ==, GW_MAX_UNAUTH_PER_HOST);
  g_assert_cmpuint (lim.max_held, >=, GW_MAX_UNAUTH_PER_HOST * 2);
  /* ...and the engine never held more than they allow, nor a socket it
   * no longer counted. */
  g_assert_cmpuint (lim.max_held, <=, GW_MAX_UNAUTH_TOTAL);
  g_assert_cmpuint (lim.max_held_per_address, <=, GW_MAX_UNAUTH_PER_HOST);
  g_assert_cmpint (lim.max_over_count, <=, 0);

  /* Then, the flood gone (its sockets closed), one at a time: 6 idle
   * sockets from one address and one from each of 40 others. The engine
   * keeps exactly 4 of the first and 32 in all. */
  {
    int fds[46];
    gint64 start = g_get_monotonic_time (), quiet = start + 2500 * 1000, end = start + 10 * G_USEC_PER_SEC;

    /* Everything of the flood's accepted and closed: the listen backlog
     * drained, the last handshakes timed out (2 s after their accept). */
    while (g_get_monotonic_time () < quiet ||
           (gw_listener_unauth_count (lim.core->listener) > 0 && g_get_monotonic_time () < end))
      {
        while (g_main_context_iteration (NULL, FALSE))
          ;
        g_usleep (1000);
      }
    g_print ("# flood drained in %.1f s\n", (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
    g_assert_cmpuint (gw_listener_unauth_count (lim.core->listener), ==, 0);
    lim.watch = 0x7f090101u;
    for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
      {
        guint before = gw_listener_unauth_count (lim.core->listener);

        fds[i] = flood_connect_from (i < 6 ? 0x7f090101u : 0x7f090201u + i, lim.port);
        g_assert_cmpint (fds[i], >=, 0);
        wait_taken (&lim, fds[i], before);
      }
    snapshot_held (&lim);
    g_print ("# FIGURE one at a time after the flood: the engine holds %u sockets (counted %u), "
             "%u of 6 from one address\n", lim.last_held, gw_listener_unauth_count (lim.core->listener),
             lim.watch_held);
    g_assert_cmpuint (lim.last_held, ==, GW_MAX_UNAUTH_TOTAL);
    g_assert_cmpuint (gw_listener_unauth_count (lim.core->listener), ==, GW_MAX_UNAUTH_TOTAL);
    g_assert_cmpuint (lim.watch_held, ==, GW_MAX_UNAUTH_PER_HOST);
    for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
      close (fds[i]);
  }

  g_assert_cmpuint (lim.max_held_per_address, <=, GW_MAX_UNAUTH_PER_HOST);
  g_assert_cmpint (lim.max_over_count, <=, 0);

  /* Peers that complete the TLS handshake, say bye and then neither read
   * nor close: the engine closes, and its socket lingers while the TLS
   * close waits for the peer (up to 1 s; 3 s + 1 s when the peer does not
   * read). It stays counted until it is really closed. */
  {
    Closers closers = { .port = lim.port };
    GThread *closer_t;
    guint snaps;

    wait_unauth_zero (&lim);
    lim.max_over_count = G_MININT;
    snaps = lim.snapshots;
    snap_id = g_timeout_add (20, on_snapshot, &lim);
    closer_t = g_thread_new ("closers", closers_thread, &closers);
    while (!g_atomic_int_get (&closers.done))
      {
        while (g_main_context_iteration (NULL, FALSE))
          ;
        g_usleep (1000);
      }
    g_thread_join (closer_t);
    g_source_remove (snap_id);
    g_print ("# FIGURE closing peers: %u of %u completed a handshake and said bye, "
             "%u snapshots while their sockets lingered: at most %d held beyond the listener's count\n",
             closers.sent, (guint) CLOSERS, lim.snapshots - snaps, lim.max_over_count);
    g_assert_cmpuint (closers.sent, ==, CLOSERS);
    g_assert_cmpuint (lim.snapshots - snaps, >, 20);
    g_assert_cmpint (lim.max_over_count, <=, 0);
  }

  gw_core_stop (lim.core);
  for (int i = 0; i < 200 && g_main_context_pending (context); i++)
    g_main_context_iteration (context, FALSE);
  snapshot_held (&lim);
  g_assert_cmpuint (lim.last_held, ==, 0);
  g_clear_pointer (&lim.core, gw_core_free);
  while (g_main_context_pending (context))
    g_main_context_iteration (context, FALSE);
  g_main_loop_unref (lim.loop);
  {
    g_autofree char *reg = g_build_filename (dir, "registry.sqlite", NULL);
    g_autofree char *wal = g_strconcat (reg, "-wal", NULL);
    g_autofree char *shm = g_strconcat (reg, "-shm", NULL);

    g_unlink (reg);
    g_unlink (wal);
    g_unlink (shm);
    g_rmdir (dir);
  }
}

/* Debug messages are dropped; the others go to GLib's handler. */
static void
drop_debug (const char     *domain,
            GLogLevelFlags  level,
            const char     *message,
            gpointer        data)
{
  if ((level & G_LOG_LEVEL_DEBUG) == 0)
    g_log_default_handler (domain, level, message, data);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* The engine logs every refused connection at debug level; a flood
   * makes that tens of thousands of lines, which tests print. */
  g_log_set_default_handler (drop_debug, NULL);
  if (argc > 1)
    seconds = (guint) g_ascii_strtoull (argv[1], NULL, 10);
  if (argc > 2)
    idle_target = (guint) g_ascii_strtoull (argv[2], NULL, 10);
  if (argc > 3)
    rate = (guint) g_ascii_strtoull (argv[3], NULL, 10);
  g_assert_cmpuint (seconds, >, 0);
  g_assert_cmpuint (rate, >, 0);
  g_test_add_func ("/stress/lan-flood/mainloop", test_mainloop_under_flood);
  g_test_add_func ("/stress/lan-flood/engine-limits", test_engine_limits);
  return g_test_run ();
}
