/* SPDX-License-Identifier: GPL-3.0-or-later */
/* App benchmark (README "App benchmark"): time to the first frame, and with
 * 10,000 devices in the inventory: ingesting them, a filter keystroke, and
 * frame times while scrolling (GdkFrameClock), plus RSS. Run it under a
 * display: xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- \
 *   env GSK_RENDERER=cairo GSETTINGS_BACKEND=memory \
 *   GSETTINGS_SCHEMA_DIR=_build/data _build/bench/bench-app [N] */
#define G_LOG_DOMAIN "bench-app"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "gw-application.h"
#include "gw-devices-page.h"
#include "gw-window.h"

static gint64 t0;
static GArray *frame_work;     /* double, ms: before-paint → after-paint */
static gint64 paint_start;
static gint64 first_frame_us = -1;
static gboolean recording;
static guint frames_painted;

static void
on_before_paint (GdkFrameClock *clock)
{
  paint_start = g_get_monotonic_time ();
}

static void
on_after_paint (GdkFrameClock *clock)
{
  gint64 now = g_get_monotonic_time ();

  if (first_frame_us < 0)
    first_frame_us = now - t0;
  frames_painted++;
  if (recording && paint_start > 0)
    {
      double ms = (now - paint_start) / 1000.0;
      g_array_append_val (frame_work, ms);
    }
}

static GtkWidget *bench_window;

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Waits until @n more frames were painted; asks for them, since an idle
 * window paints nothing. */
static void
wait_frames (guint n)
{
  guint target = frames_painted + n;
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint id = g_timeout_add (10, wake, NULL);

  while (frames_painted < target && g_get_monotonic_time () < end)
    {
      if (bench_window != NULL && !recording)
        gtk_widget_queue_draw (bench_window);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (id);
}

static long
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *p;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  p = strstr (status, "VmRSS:");
  return p ? strtol (p + 6, NULL, 10) : -1;
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
percentile (GArray *a,
            double  p)
{
  guint i;

  if (a->len == 0)
    return 0;
  i = (guint) (p * (a->len - 1) + 0.5);
  return g_array_index (a, double, i);
}

static void
feed (GwAppState *state,
      GwEvent    *event)
{
  gw_app_state_handle_event (state, event);
  gw_event_unref (event);
}

static GwEvent *
entity_event (guint i)
{
  static const char *types[] = { "sensor", "speaker", "phone", "camera", "light", "tv", "printer", "tablet" };
  static const char *rooms[] = { "Kitchen", "Living Room", "Hall", "Garage", "Office", "Bedroom", "Garden", "Attic" };
  static const GwEntityState states[] = { GW_ENTITY_CONNECTED, GW_ENTITY_CONNECTED, GW_ENTITY_DISCONNECTED,
                                          GW_ENTITY_REGISTERED, GW_ENTITY_WAITING, GW_ENTITY_REVOKED };
  GwEvent *ev = gw_event_new (GW_EVENT_ENTITY_CHANGED);
  GwEntityInfo *e = g_new0 (GwEntityInfo, 1);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *services[] = { "temperature (coap:5683)", NULL };

  ev->time = g_get_real_time ();
  ev->entity = e;
  e->pne_id = g_strdup_printf ("pne-%032x", i + 1);
  e->entity_type = g_strdup (types[i % G_N_ELEMENTS (types)]);
  e->name = g_strdup_printf ("%s %s %u", rooms[(i / 8) % G_N_ELEMENTS (rooms)], e->entity_type, i);
  e->manufacturer = g_strdup ("Acme");
  e->model = g_strdup ("T-100");
  e->serial = g_strdup_printf ("%u", 1000 + i);
  e->services = g_strdupv ((char **) services);
  e->state = states[i % G_N_ELEMENTS (states)];
  e->key_mode = g_strdup (i % 3 ? "server" : "gateway");
  e->key_id = g_strdup_printf ("key-%016x", i);
  e->key_issued_at = now - (i % 90) * 86400;
  e->last_seen = now - (i % 500) * 60;
  e->registered_at = now - 100 * 86400;
  return ev;
}

static gboolean
scroll_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       data)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (widget));
  guint *left = data;
  double v = gtk_adjustment_get_value (adj) + 97.0;   /* ~2.5 rows per frame */

  if (v > gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj))
    v = 0;
  gtk_adjustment_set_value (adj, v);
  if (*left > 0)
    (*left)--;
  return *left > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- baseline: a bare GtkColumnView in the same run --------------------- */

static void
baseline_setup (GtkSignalListItemFactory *factory,
                GtkListItem              *item)
{
  gtk_list_item_set_child (item, gtk_label_new (""));
}

static void
baseline_bind (GtkSignalListItemFactory *factory,
               GtkListItem              *item)
{
  gtk_label_set_label (GTK_LABEL (gtk_list_item_get_child (item)),
                       gtk_string_object_get_string (gtk_list_item_get_item (item)));
}

/* Scrolls a plain window holding a GtkColumnView of @n strings in 6 label
 * columns for 300 frames, the same way; returns the p50 frame work. */
static double
baseline_scroll (guint n)
{
  GtkStringList *strings = gtk_string_list_new (NULL);
  GtkWidget *window, *scrolled, *view;
  GdkFrameClock *clock;
  guint left = 300;
  double p50;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *s = g_strdup_printf ("Kitchen sensor %u", i);
      gtk_string_list_append (strings, s);
    }
  view = gtk_column_view_new (GTK_SELECTION_MODEL (gtk_single_selection_new (G_LIST_MODEL (strings))));
  for (int c = 0; c < 6; c++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;

      g_signal_connect (factory, "setup", G_CALLBACK (baseline_setup), NULL);
      g_signal_connect (factory, "bind", G_CALLBACK (baseline_bind), NULL);
      column = gtk_column_view_column_new ("Column", factory);
      gtk_column_view_column_set_fixed_width (column, 120);
      gtk_column_view_append_column (GTK_COLUMN_VIEW (view), column);
      g_object_unref (column);
    }
  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), view);
  window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 1240, 760);
  gtk_window_set_child (GTK_WINDOW (window), scrolled);
  bench_window = window;
  gtk_widget_realize (window);
  clock = gtk_widget_get_frame_clock (window);
  g_signal_connect (clock, "before-paint", G_CALLBACK (on_before_paint), NULL);
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), NULL);
  gtk_window_present (GTK_WINDOW (window));
  wait_frames (10);
  g_array_set_size (frame_work, 0);
  recording = TRUE;
  gtk_widget_add_tick_callback (scrolled, scroll_tick, &left, NULL);
  while (left > 0)
    g_main_context_iteration (NULL, TRUE);
  wait_frames (2);
  recording = FALSE;
  g_array_sort (frame_work, cmp_double);
  p50 = percentile (frame_work, 0.5);
  printf ("baseline, bare GtkColumnView (6 label columns, %u rows, same window): scrolling frame work "
          "p50 %.2f ms, p95 %.2f ms, max %.2f ms\n",
          n, p50, percentile (frame_work, 0.95), percentile (frame_work, 1.0));
  bench_window = NULL;
  gtk_window_destroy (GTK_WINDOW (window));
  g_array_set_size (frame_work, 0);
  return p50;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GwApplication) app = NULL;
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 10000;
  const char *keys = "kitchen s";
  GwAppState *state;
  GwWindow *window;
  GwDevicesPage *devices;
  GdkFrameClock *clock;
  GListModel *visible;
  GtkWidget *scrolled;
  GArray *keystroke = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *keystroke_frame = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *keystroke_worst = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 t;
  guint scroll_left = 300, over16 = 0, narrowest = G_MAXUINT;
  long rss_start, rss_loaded, rss_end;
  double ingest_ms;

  t0 = g_get_monotonic_time ();
  setvbuf (stdout, NULL, _IOLBF, 0);
  frame_work = g_array_new (FALSE, FALSE, sizeof (double));
  gtk_init ();
  adw_init ();
  printf ("startup: gtk_init + adw_init %.1f ms\n", (g_get_monotonic_time () - t0) / 1000.0);

  app = gw_application_new ();
  gw_application_set_engine_enabled (app, FALSE);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  if (!g_application_register (G_APPLICATION (app), NULL, &error))
    g_error ("register: %s", error->message);
  printf ("startup: application registered %.1f ms\n", (g_get_monotonic_time () - t0) / 1000.0);
  state = gw_application_get_state (app);
  {
    GwEvent *ev = gw_event_new (GW_EVENT_SESSION);
    ev->session = g_new0 (GwSessionInfo, 1);
    ev->session->state = GW_SESSION_CONNECTED;
    ev->session->server_name = g_strdup ("cpns.example.org");
    ev->session->user_id = g_strdup ("alice");
    ev->session->expires_at = g_get_real_time () / G_USEC_PER_SEC + 3600;
    feed (state, ev);
  }
  window = gw_window_new (GTK_APPLICATION (app), state);
  gtk_window_set_default_size (GTK_WINDOW (window), 1240, 760);
  bench_window = GTK_WIDGET (window);
  printf ("startup: window built %.1f ms\n", (g_get_monotonic_time () - t0) / 1000.0);
  gtk_widget_realize (GTK_WIDGET (window));
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  g_signal_connect (clock, "before-paint", G_CALLBACK (on_before_paint), NULL);
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), NULL);
  gtk_window_present (GTK_WINDOW (window));
  wait_frames (1);
  printf ("first frame (process start → first paint of the Network page): %.1f ms\n", first_frame_us / 1000.0);
  wait_frames (5);
  rss_start = rss_kib ();

  /* Ingest N entities the way the engine reports them at start. */
  t = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    feed (state, entity_event (i));
  gw_app_state_flush (state);   /* what the idle after a burst does */
  ingest_ms = (g_get_monotonic_time () - t) / 1000.0;
  gw_window_show_page (window, "devices");
  devices = GW_DEVICES_PAGE (gw_window_get_page (window, "devices"));
  t = g_get_monotonic_time ();
  wait_frames (1);
  printf ("%u entities: ingest %.1f ms (%.2f µs each), first frame of the inventory %.1f ms\n",
          n, ingest_ms, ingest_ms * 1000.0 / n, (g_get_monotonic_time () - t) / 1000.0);
  wait_frames (10);
  rss_loaded = rss_kib ();
  visible = gw_devices_page_get_visible_model (devices);

  if (g_getenv ("BENCH_HIDDEN"))
    gw_window_show_page (window, "network");
  /* Type "kitchen s" one key at a time, then delete it again. */
  for (int pass = 0; pass < 2; pass++)
    {
      gsize len = strlen (keys);
      for (gsize k = 1; k <= len; k++)
        {
          g_autofree char *text = g_strndup (keys, pass == 0 ? k : len - k);
          double ms;

          double done_ms, worst = 0;

          g_array_set_size (frame_work, 0);
          recording = TRUE;
          t = g_get_monotonic_time ();
          gw_devices_page_set_search (devices, text);
          ms = (g_get_monotonic_time () - t) / 1000.0;
          g_array_append_val (keystroke, ms);
          gtk_widget_queue_draw (GTK_WIDGET (window));
          wait_frames (1);
          /* The filter works in slices between frames: wait until done. */
          while (gw_devices_page_get_filtering (devices))
            g_main_context_iteration (NULL, TRUE);
          done_ms = (g_get_monotonic_time () - t) / 1000.0;
          wait_frames (1);
          recording = FALSE;
          for (guint i = 0; i < frame_work->len; i++)
            worst = MAX (worst, g_array_index (frame_work, double, i));
          g_array_append_val (keystroke_frame, done_ms);
          g_array_append_val (keystroke_worst, worst);
          narrowest = MIN (narrowest, g_list_model_get_n_items (visible));
          if (g_getenv ("BENCH_VERBOSE"))
            printf ("  \"%s\" → %u rows: apply %.2f ms, filtered in %.1f ms, worst frame %.1f ms (%u frames)\n",
                    text, g_list_model_get_n_items (visible), ms, done_ms, worst, frame_work->len);
        }
    }
  g_array_sort (keystroke, cmp_double);
  g_array_sort (keystroke_frame, cmp_double);
  g_array_sort (keystroke_worst, cmp_double);
  printf ("filter keystroke (%u keys, %u → %u rows): apply p50 %.2f ms, max %.2f ms; "
          "keystroke → list filtered p50 %.1f ms, max %.1f ms; "
          "worst frame while filtering p50 %.1f ms, max %.1f ms\n",
          keystroke->len, n, narrowest,
          percentile (keystroke, 0.5), percentile (keystroke, 1.0),
          percentile (keystroke_frame, 0.5), percentile (keystroke_frame, 1.0),
          percentile (keystroke_worst, 0.5), percentile (keystroke_worst, 1.0));
  g_array_set_size (frame_work, 0);

  /* Scroll through the inventory for 300 frames. */
  scrolled = gw_devices_page_get_scrolled_window (devices);
  wait_frames (5);
  recording = TRUE;
  t = g_get_monotonic_time ();
  gtk_widget_add_tick_callback (scrolled, scroll_tick, &scroll_left, NULL);
  while (scroll_left > 0)
    g_main_context_iteration (NULL, TRUE);
  wait_frames (2);
  recording = FALSE;
  for (guint i = 0; i < frame_work->len; i++)
    if (g_array_index (frame_work, double, i) > 16.0)
      over16++;
  g_array_sort (frame_work, cmp_double);
  printf ("scrolling (%u frames in %.0f ms): frame work p50 %.2f ms, p95 %.2f ms, max %.2f ms, "
          "%u frames over 16 ms\n",
          frame_work->len, (g_get_monotonic_time () - t) / 1000.0,
          percentile (frame_work, 0.5), percentile (frame_work, 0.95), percentile (frame_work, 1.0), over16);
  rss_end = rss_kib ();
  {
    double app_p50 = percentile (frame_work, 0.5);
    double base_p50;

    bench_window = NULL;
    gtk_window_destroy (GTK_WINDOW (window));
    window = NULL;
    base_p50 = baseline_scroll (n);
    printf ("scrolling: the app's p50 frame work is %.2f× the bare column view's\n",
            base_p50 > 0 ? app_p50 / base_p50 : 0.0);
  }
  printf ("RSS: %ld KiB at first frame, %ld KiB with %u entities, %ld KiB after scrolling\n",
          rss_start, rss_loaded, n, rss_end);

  g_array_unref (keystroke);
  g_array_unref (keystroke_frame);
  g_array_unref (keystroke_worst);
  g_array_unref (frame_work);
  return 0;
}
