/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 3, the app's part: the real app (GwApplication, its engine
 * thread and its window) enrolled with a real cpns-server, PNES simulated
 * devices paired and connected to it (cpns-pne simulate --stay; the test
 * confirms each pairing code and allows each connection, as a person
 * would), the Devices page on screen listing them; then for SECONDS a
 * flood thread in this process keeps IDLE idle unauthenticated sockets
 * open against the engine's port (10 per source address, re-opened as the
 * engine closes them) and sends RATE garbage handshakes per second.
 *
 * Measured on the GTK main loop during the flood: the gaps between the
 * ticks of a G_PRIORITY_HIGH timeout every 10 ms (wall time, preemption
 * included), the main thread's own CPU time between two ticks, and the
 * frame clock's frame times (intervals between "after-paint"; a tick
 * callback keeps frames coming and redraws the Devices page each frame).
 * The requirement is no stall over 100 ms; on a shared machine wall time
 * also counts preemption, so the test asserts the main thread's own work
 * between two ticks (< 100 ms) and a generous bound on the wall gaps
 * (< 1 s), and prints every figure (see the README for the harness run).
 *
 * Also measured, before the flood, while the devices pair and connect (a
 * burst of engine events; frame clock kept running): the frames painted
 * and the longest gap between two. Handling those events at default
 * priority once left the window unpainted for seconds; asserted: at least
 * 10 frames a second and no gap of 1 s.
 *
 *   test-app-flood [--tap] [SECONDS PNES IDLE RATE]   (harness: 60 64 1000 200)
 *
 * Loopback only. */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw-application.h"
#include "gw-devices-page.h"
#include "gw-first-run-page.h"
#include "gw-network-page.h"
#include "gw-test-harness.h"
#include "gw-test-util.h"
#include "gw-window.h"
#include "flood-socket.h"

#define WAIT_MS   60000
#define TICK_MS   10
/* The requirement is 100 ms; wall gaps include preemption by the other
 * jobs of a shared 2-core machine, so the wall bound is generous. */
#define CPU_LIMIT_MS  100
#define WALL_LIMIT_MS 1000

static guint seconds = 20, n_pnes = 64, idle_target = 1000, rate = 200;
static GwApplication *app;
static GwWindow *window;

/* ------------------------------------------------------------------ */
/* The flood (as tests/stress/lan-flood.c) */

typedef struct
{
  gint     stop;
  guint16  port;
  guint    garbage_sent;
  guint    idle_opened;
  guint    idle_closed_by_engine;
} Flood;

static gpointer
flood_thread (gpointer data)
{
  Flood *f = data;
  g_autofree int *idle = g_new (int, idle_target);
  guint8 junk[512];
  gint64 start = g_get_monotonic_time (), next = start;
  guint64 n = 0;

  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) (i * 151 + 7);
  junk[0] = 0x16; junk[1] = 0x03; junk[2] = 0x01; junk[3] = 0x01; junk[4] = 0xfb;
  for (guint i = 0; i < idle_target; i++)
    {
      /* 127.2.x.y: 10 sockets per address. */
      idle[i] = flood_connect_from (0x7f020001u + i / 10, f->port);
      f->idle_opened += idle[i] >= 0;
    }
  while (!g_atomic_int_get (&f->stop))
    {
      /* Garbage handshakes at RATE per second, each from the next
       * address of 127.3.0.0/16. */
      while (next <= g_get_monotonic_time ())
        {
          int fd = flood_connect_from (0x7f030001u + (guint32) (n % 60000), f->port);

          n++;
          next = start + (gint64) (n * G_USEC_PER_SEC / rate);
          if (fd < 0)
            continue;
          if (send (fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
            f->garbage_sent++;
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
            idle[i] = flood_connect_from (0x7f020001u + i / 10, f->port);
            f->idle_opened += idle[i] >= 0;
          }
      g_usleep (2000);
    }
  for (guint i = 0; i < idle_target; i++)
    if (idle[i] >= 0)
      close (idle[i]);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The GTK main loop's figures */

typedef struct
{
  gint64  last_tick;
  gint64  last_cpu;
  GArray *gap_ms;          /* double: wall time between two ticks */
  double  max_cpu_ms;      /* the main thread's CPU between two ticks */
  gint64  last_paint;
  GArray *frame_ms;        /* double: between two "after-paint" */
  gboolean recording;
  double  setup_max_paint_gap_ms;
  guint   setup_paints;
} Figures;

static Figures fig;

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
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_us ();

  if (fig.recording)
    {
      double gap = (now - fig.last_tick) / 1000.0;

      g_array_append_val (fig.gap_ms, gap);
      fig.max_cpu_ms = MAX (fig.max_cpu_ms, (cpu - fig.last_cpu) / 1000.0);
    }
  fig.last_tick = now;
  fig.last_cpu = cpu;
  return G_SOURCE_CONTINUE;
}

static void
on_after_paint (GdkFrameClock *clock,
                gpointer       data)
{
  gint64 now = g_get_monotonic_time ();

  if (fig.recording && fig.last_paint > 0)
    {
      double ms = (now - fig.last_paint) / 1000.0;

      g_array_append_val (fig.frame_ms, ms);
    }
  else if (!fig.recording && fig.frame_ms == NULL && fig.last_paint > 0)
    {
      fig.setup_max_paint_gap_ms = MAX (fig.setup_max_paint_gap_ms, (now - fig.last_paint) / 1000.0);
      fig.setup_paints++;
    }
  fig.last_paint = now;
}

/* Keeps the frame clock running (a frame is due every ~16 ms). */
static gboolean
keep_ticking (GtkWidget     *widget,
              GdkFrameClock *clock,
              gpointer       data)
{
  return G_SOURCE_CONTINUE;
}

/* Keeps the frame clock running and the Devices page repainting. */
static gboolean
redraw_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       data)
{
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
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
  if (values->len == 0)
    return -1;
  g_array_sort (values, cmp_double);
  return g_array_index (values, double, (guint) (p * (values->len - 1) + 0.5));
}

/* ------------------------------------------------------------------ */
/* The person: confirms every pairing code, allows every connection. */

static guint answered;
static GHashTable *answered_ids;   /* prompt ids already answered */

static gboolean
answer_prompts (gpointer data)
{
  GwAppState *state = gw_application_get_state (app);
  GListModel *prompts = gw_app_state_get_prompts (state);
  g_autoptr(GArray) pending = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GArray) kinds = g_array_new (FALSE, FALSE, sizeof (GwPromptKind));

  for (guint i = 0; i < g_list_model_get_n_items (prompts); i++)
    {
      g_autoptr(GwPromptItem) p = g_list_model_get_item (prompts, i);

      if (gw_prompt_item_get_status (p) == GW_PROMPT_STATUS_PENDING &&
          !g_hash_table_contains (answered_ids, &(guint64) { gw_prompt_item_get_id (p) }))
        {
          guint64 id = gw_prompt_item_get_id (p);
          GwPromptKind kind = gw_prompt_item_get_kind (p);

          g_array_append_val (pending, id);
          g_array_append_val (kinds, kind);
        }
    }
  for (guint i = 0; i < pending->len; i++)
    {
      GwPromptKind kind = g_array_index (kinds, GwPromptKind, i);

      g_hash_table_add (answered_ids, g_memdup2 (&g_array_index (pending, guint64, i), sizeof (guint64)));
      gw_app_state_answer_prompt (state, g_array_index (pending, guint64, i),
                                  kind == GW_PROMPT_PAIRING_CODE ? GW_ANSWER_CONFIRM
                                                                 : GW_ANSWER_ALLOW_ALWAYS);
      answered++;
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */

typedef gboolean (*Cond) (gpointer data);

static gboolean
wait_for (Cond     cond,
          gpointer data,
          guint    timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  return TRUE;
}

static gboolean
is_enrolled (gpointer data)
{
  return gw_app_state_get_enrolled (gw_application_get_state (app)) &&
         g_strcmp0 (gw_window_get_visible_page (window), "network") == 0;
}

static gboolean
is_connected (gpointer data)
{
  return gw_app_state_get_session_state (gw_application_get_state (app)) == GW_SESSION_CONNECTED;
}

static gboolean
is_pairing_open (gpointer data)
{
  return gw_app_state_get_pairing_open (gw_application_get_state (app));
}

static gboolean
all_connected (gpointer data)
{
  return gw_app_state_get_n_connected (gw_application_get_state (app)) >= n_pnes;
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
test_app_flood (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *srv_dir = g_build_filename (dir, "server", NULL);
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autofree char *sim_dir = g_build_filename (dir, "simulated", NULL);
  g_autofree char *invitation = NULL;
  g_autofree char *address = NULL;
  g_autofree char *count = g_strdup_printf ("%u", n_pnes);
  g_autoptr(TServer) server = NULL;
  g_autoptr(TPne) sim = NULL;
  g_autoptr(GwEngineConfig) config = gw_engine_config_new ();
  g_autoptr(GError) error = NULL;
  GwFirstRunPage *first_run;
  GwNetworkPage *network;
  GtkWidget *devices;
  GdkFrameClock *clock;
  Flood flood = { 0 };
  GThread *thread;
  guint answer_id, tick_id, redraw_id, connected_after;
  gulong paint_id, setup_paint_id;
  guint setup_tick_id;
  gint64 t_setup = g_get_monotonic_time (), end;
  double setup_s, gap_max, gap_p99, frame_p50, frame_p99, frame_max;
  guint ticks, frames;

  raise_nofile ();
  {
    g_autoptr(GSettings) settings = g_settings_new (APP_ID);
    g_settings_set_boolean (settings, "notifications-enabled", FALSE);
  }
  server = t_server_start (srv_dir, 0);
  invitation = t_server_invite (server, "alice");

  /* The app with its engine, on loopback only. */
  g_free (config->data_dir);
  config->data_dir = g_strdup (gw_dir);
  g_free (config->listen_address);
  config->listen_address = g_strdup ("127.0.0.1");
  config->listen_port = 0;
  config->discovery_enabled = FALSE;
  config->discovery_port = 0;
  g_clear_pointer (&config->discovery_group, g_free);
  app = gw_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_OPEN);
  gw_application_set_engine_config (app, config);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (gw_application_get_engine (app));
  g_application_activate (G_APPLICATION (app));
  window = GW_WINDOW (gw_application_get_main_window (app));
  gw_test_wait_frames (GTK_WIDGET (window), 2);
  /* While the devices pair and connect, frames are due all the time: the
   * longest gap between two is how long the loop left the window unpainted. */
  setup_paint_id = g_signal_connect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), "after-paint",
                                     G_CALLBACK (on_after_paint), NULL);
  setup_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (window), keep_ticking, NULL, NULL);

  /* Enroll, connect, open the pairing window. */
  first_run = GW_FIRST_RUN_PAGE (gw_window_get_page (window, "first-run"));
  gw_window_set_invitation (window, invitation);
  gw_first_run_page_connect (first_run);
  if (gw_first_run_page_get_pin_shown (first_run))
    gw_first_run_page_confirm_pin (first_run);
  g_assert_true (wait_for (is_enrolled, NULL, WAIT_MS));
  network = GW_NETWORK_PAGE (gw_window_get_page (window, "network"));
  if (!is_connected (NULL))
    gw_network_page_activate_connect (network);
  g_assert_true (wait_for (is_connected, NULL, WAIT_MS));
  gw_network_page_set_pairing_open (network, TRUE);
  g_assert_true (wait_for (is_pairing_open, NULL, WAIT_MS));

  /* PNES devices pair and stay connected; the person says yes to each. */
  answered_ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  answer_id = g_timeout_add (20, answer_prompts, NULL);
  address = g_strdup_printf ("127.0.0.1:%u", gw_engine_get_listen_port (gw_application_get_engine (app)));
  sim = t_pne_spawn ("simulate", "--count", count, "--gateway", address, "--stay",
                     "--state-dir", sim_dir, NULL);
  g_assert_true (wait_for (all_connected, NULL, WAIT_MS));
  gw_network_page_set_pairing_open (network, FALSE);
  gtk_widget_remove_tick_callback (GTK_WIDGET (window), setup_tick_id);
  g_signal_handler_disconnect (gtk_widget_get_frame_clock (GTK_WIDGET (window)), setup_paint_id);
  setup_s = (g_get_monotonic_time () - t_setup) / (double) G_USEC_PER_SEC;
  g_print ("# FIGURE app while %u PNEs pair and connect (no flood; enroll included, %.1f s): %u frames, "
           "longest gap between two %.1f ms\n", n_pnes, setup_s, fig.setup_paints, fig.setup_max_paint_gap_ms);
  /* Engine events once starved painting here for seconds (see
   * gw-application.c); the loop keeps painting. */
  g_assert_cmpuint (fig.setup_paints, >, setup_s * 10);
  g_assert_cmpfloat (fig.setup_max_paint_gap_ms, <, WALL_LIMIT_MS);

  /* The Devices page lists them. */
  gw_window_show_page (window, "devices");
  devices = gw_window_get_page (window, "devices");
  gw_test_wait_frames (GTK_WIDGET (window), 3);
  g_assert_true (gtk_widget_get_mapped (devices));

  /* The flood, with the loop measured. */
  fig.gap_ms = g_array_new (FALSE, FALSE, sizeof (double));
  fig.frame_ms = g_array_new (FALSE, FALSE, sizeof (double));
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  g_assert_nonnull (clock);
  paint_id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), NULL);
  redraw_id = gtk_widget_add_tick_callback (devices, redraw_tick, NULL, NULL);
  tick_id = g_timeout_add_full (G_PRIORITY_HIGH, TICK_MS, on_tick, NULL, NULL);
  fig.last_tick = g_get_monotonic_time ();
  fig.last_cpu = thread_cpu_us ();
  fig.last_paint = 0;
  fig.recording = TRUE;
  flood.port = gw_engine_get_listen_port (gw_application_get_engine (app));
  thread = g_thread_new ("flood", flood_thread, &flood);
  end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  fig.recording = FALSE;
  g_atomic_int_set (&flood.stop, 1);
  g_thread_join (thread);
  g_source_remove (tick_id);
  gtk_widget_remove_tick_callback (devices, redraw_id);
  g_signal_handler_disconnect (clock, paint_id);
  connected_after = gw_app_state_get_n_connected (gw_application_get_state (app));

  ticks = fig.gap_ms->len;
  frames = fig.frame_ms->len;
  gap_p99 = percentile (fig.gap_ms, 0.99);
  gap_max = percentile (fig.gap_ms, 1.0);
  frame_p50 = percentile (fig.frame_ms, 0.5);
  frame_p99 = percentile (fig.frame_ms, 0.99);
  frame_max = percentile (fig.frame_ms, 1.0);
  g_print ("# FIGURE app under LAN flood (%u s, %u PNEs connected and listed on the Devices page, "
           "%u idle sockets from %u addresses, %u garbage handshakes/s): GTK main loop %u ticks of "
           "%d ms (G_PRIORITY_HIGH): gap p99 %.1f ms, max %.1f ms; main-thread CPU between two ticks "
           "at most %.1f ms; %u frames: frame time p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
           "%u PNEs still connected; idle sockets opened %u, closed by the engine %u; "
           "garbage handshakes sent %u; set-up (enroll, pair and connect %u) %.1f s, %u prompts answered\n",
           seconds, n_pnes, idle_target, (idle_target + 9) / 10, rate, ticks, TICK_MS, gap_p99, gap_max,
           fig.max_cpu_ms, frames, frame_p50, frame_p99, frame_max, connected_after, flood.idle_opened,
           flood.idle_closed_by_engine, flood.garbage_sent, n_pnes, setup_s, answered);

  /* The flood reached the engine... */
  g_assert_cmpuint (flood.garbage_sent, >, seconds * rate / 10);
  g_assert_cmpuint (flood.idle_closed_by_engine, >, seconds * 2);
  /* ...the connected devices stayed... */
  g_assert_cmpuint (connected_after, ==, n_pnes);
  /* ...and the GTK loop kept running and painting. */
  g_assert_cmpuint (ticks, >, seconds * 1000 / TICK_MS / 5);
  g_assert_cmpuint (frames, >, seconds * 10);
  g_assert_cmpfloat (fig.max_cpu_ms, <, CPU_LIMIT_MS);
  g_assert_cmpfloat (gap_max, <, WALL_LIMIT_MS);
  g_assert_cmpfloat (frame_max, <, WALL_LIMIT_MS);

  g_source_remove (answer_id);
  g_clear_pointer (&answered_ids, g_hash_table_destroy);
  g_subprocess_send_signal (sim->proc, SIGINT);
  t_pne_wait (sim, 10000);
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  gw_test_iterate (100);
  t_server_stop (server);
  g_array_unref (fig.gap_ms);
  g_array_unref (fig.frame_ms);
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
  int ret;

  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  /* The engine logs every refused connection at debug level; a flood
   * makes that tens of thousands of lines, which tests print. */
  g_log_set_default_handler (drop_debug, NULL);
  if (argc > 4)
    {
      seconds = (guint) g_ascii_strtoull (argv[1], NULL, 10);
      n_pnes = (guint) g_ascii_strtoull (argv[2], NULL, 10);
      idle_target = (guint) g_ascii_strtoull (argv[3], NULL, 10);
      rate = (guint) g_ascii_strtoull (argv[4], NULL, 10);
    }
  g_assert_cmpuint (seconds, >, 0);
  g_assert_cmpuint (rate, >, 0);
  g_assert_cmpuint (n_pnes, >, 0);
  g_test_add_func ("/ui/app-flood", test_app_flood);
  ret = g_test_run ();
  if (app != NULL)
    {
      g_application_quit (G_APPLICATION (app));
      g_clear_object (&app);
    }
  return ret;
}
