/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Gateway benchmark (README "Gateway benchmark"): cpns-server,
 * cpns-gatewayd and the cpns-pne simulator on loopback. Prints the
 * figures of issue 4 next to the bare TLS handshakes and the server
 * round trip they build on. Run it under a D-Bus session with a keyring:
 *   dbus-run-session -- tools/with-keyring ./_build/bench/bench-gateway */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sqlite3.h>

static char *build_root;
static char *work_dir;

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn (const char * const *argv,
       const char         *stdout_path)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (stdout_path ? G_SUBPROCESS_FLAGS_STDIN_PIPE : G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (stdout_path)
    g_subprocess_launcher_set_stdout_file_path (launcher, stdout_path);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (proc == NULL)
    g_error ("cannot start %s: %s", argv[0], error->message);
  return proc;
}

static char *
program (const char *relative)
{
  return g_build_filename (build_root, relative, NULL);
}

static char *
run_capture (const char * const *argv)
{
  g_autoptr(GSubprocess) proc = spawn (argv, NULL);
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error))
    g_error ("%s: %s", argv[0], error->message);
  return out;
}

/* The "summary" object of cpns-pne simulate --json. */
static JsonObject *
simulate (const char *state_dir,
          const char *gateway,
          guint       count,
          guint       concurrency,
          gboolean    no_resume)
{
  g_autofree char *exe = program ("src/pne/cpns-pne");
  g_autofree char *count_s = g_strdup_printf ("%u", count);
  g_autofree char *conc_s = g_strdup_printf ("%u", concurrency);
  const char *argv[] = { exe, "simulate", "--count", count_s, "--gateway", gateway, "--connect",
                         "--concurrency", conc_s, "--state-dir", state_dir, "--json",
                         no_resume ? "--no-resume" : NULL, NULL };
  g_autofree char *out = run_capture (argv);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  JsonObject *summary = NULL;

  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *obj;

      if (lines[i][0] != '{' || !json_parser_load_from_data (parser, lines[i], -1, NULL) ||
          json_parser_get_root (parser) == NULL ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      obj = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (obj, "step", NULL), "summary") == 0)
        {
          g_clear_pointer (&summary, json_object_unref);
          summary = json_object_ref (obj);
        }
    }
  if (summary == NULL)
    g_error ("cpns-pne simulate printed no summary");
  return summary;
}

static double
num (JsonObject *obj,
     const char *member)
{
  return json_object_get_double_member_with_default (obj, member, 0);
}

static double
handshake_p50 (const char *mode)
{
  g_autofree char *exe = program ("bench/bench-tls");
  const char *argv[] = { exe, "--runs", "500", "--mode", mode, NULL };
  g_autofree char *out = run_capture (argv);
  const char *p = strstr (out, "p50");

  return p ? g_ascii_strtod (p + 3, NULL) : 0;
}

static gint64
rss_kib (GSubprocess *proc)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (proc));
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  p = strstr (text, "VmRSS:");
  return p ? g_ascii_strtoll (p + 6, NULL, 10) : 0;
}

static gint64
count_connected (const char *server_dir)
{
  g_autofree char *path = g_build_filename (server_dir, "cpns-server.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n = 0;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return 0;
  sqlite3_busy_timeout (db, 2000);
  if (sqlite3_prepare_v2 (db, "SELECT count(*) FROM entities WHERE state = 'connected'", -1,
                          &stmt, NULL) == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static gboolean
accept_any (SoupMessage          *msg,
            GTlsCertificate      *cert,
            GTlsCertificateFlags  errors,
            gpointer              data)
{
  return TRUE;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* p50 of an HTTPS round trip to the server (GET /healthz, kept alive). */
static double
server_round_trip_p50 (const char *url)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(GArray) ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *healthz = g_strconcat (url, "/healthz", NULL);

  for (guint i = 0; i < 201; i++)
    {
      g_autoptr(SoupMessage) msg = soup_message_new ("GET", healthz);
      g_autoptr(GBytes) body = NULL;
      gint64 t0 = g_get_monotonic_time ();
      double d;

      g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any), NULL);
      body = soup_session_send_and_read (session, msg, NULL, NULL);
      d = (g_get_monotonic_time () - t0) / 1000.0;
      if (i > 0)   /* the first one pays the handshake */
        g_array_append_val (ms, d);
    }
  g_array_sort (ms, compare_double);
  return g_array_index (ms, double, ms->len / 2);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  int runs = 500, conc_count = 256, rss_count = 1000;
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Pairings, setups and resumes measured one at a time (default 500)", "N" },
    { "concurrency-count", 0, 0, G_OPTION_ARG_INT, &conc_count, "Devices per concurrency point (default 256)", "N" },
    { "rss-count", 0, 0, G_OPTION_ARG_INT, &rss_count, "Devices kept connected for the memory figure (default 1000)", "N" },
    { NULL }
  };
  g_autofree char *exe_dir = g_path_get_dirname (argv[0]);
  g_autofree char *server_exe = NULL, *gatewayd_exe = NULL;
  g_autofree char *server_dir = NULL, *gw_dir = NULL, *gw_out = NULL, *sim_dir = NULL, *rss_dir = NULL;
  g_autofree char *server_url = NULL, *gateway = NULL, *invitation = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GSubprocess) gatewayd = NULL;
  g_autoptr(JsonObject) first = NULL, resumed = NULL;
  double cert_hs, psk_hs, rtt, per_s[3] = { 0 };
  guint concurrency[3] = { 1, 16, 256 };
  guint16 server_port = 0, gw_port = 0;
  gint64 rss_before, rss_after, connected = 0;

  setlocale (LC_ALL, "");
  context = g_option_context_new ("- gateway benchmark on loopback");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || runs < 1 || conc_count < 1 || rss_count < 1)
    {
      g_printerr ("bench-gateway: %s\n", error ? error->message : "bad option");
      return 2;
    }
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    {
      g_printerr ("bench-gateway: run it under dbus-run-session -- tools/with-keyring\n");
      return 2;
    }
  build_root = g_build_filename (exe_dir, "..", NULL);
  work_dir = g_dir_make_tmp ("bench-gateway-XXXXXX", &error);
  g_assert_no_error (error);
  server_exe = program ("src/server/cpns-server");
  gatewayd_exe = program ("src/gateway/cpns-gatewayd");
  server_dir = g_build_filename (work_dir, "server", NULL);
  gw_dir = g_build_filename (work_dir, "gateway", NULL);
  gw_out = g_build_filename (work_dir, "gateway.out", NULL);
  sim_dir = g_build_filename (work_dir, "sim", NULL);
  rss_dir = g_build_filename (work_dir, "rss", NULL);

  /* The baselines first, on a quiet machine. */
  g_print ("Baselines …\n");
  cert_hs = handshake_p50 ("cert");
  psk_hs = handshake_p50 ("psk");

  {
    const char *init[] = { server_exe, "init", "--data-dir", server_dir, "--hostname", "127.0.0.1", NULL };
    const char *serve[] = { server_exe, "serve", "--data-dir", server_dir, "--listen", "127.0.0.1:0", NULL };
    g_autofree char *out = run_capture (init);
    g_autoptr(GDataInputStream) in = NULL;

    server = spawn (serve, NULL);
    in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
    while (server_port == 0)
      {
        g_autofree char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
        const char *p = line ? strstr (line, "port=") : NULL;

        if (line == NULL)
          g_error ("cpns-server did not start");
        if (p)
          server_port = (guint16) g_ascii_strtoull (p + 5, NULL, 10);
      }
    server_url = g_strdup_printf ("https://127.0.0.1:%u", server_port);
  }
  {
    const char *add[] = { server_exe, "user", "add", "bench", "--data-dir", server_dir,
                          "--server-url", server_url, "--json", NULL };
    const char *allow[] = { server_exe, "policy", "set", "bench", "--default", "allow",
                            "--data-dir", server_dir, NULL };
    g_autofree char *out = run_capture (add);
    g_autofree char *out2 = run_capture (allow);
    g_autoptr(JsonParser) parser = json_parser_new ();

    if (!json_parser_load_from_data (parser, out, -1, NULL))
      g_error ("cpns-server user add: %s", out);
    invitation = g_strdup (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)),
                                                          "invitation"));
  }
  rtt = server_round_trip_p50 (server_url);
  {
    const char *argv_gw[] = { gatewayd_exe, "--data-dir", gw_dir, "--enroll", invitation,
                              "--listen", "127.0.0.1:0", "--no-discovery", "--events", "json",
                              "--confirm-pairing", "always", "--approve", "always",
                              "--pairing-window", "900", "--connect", NULL };
    gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

    gatewayd = spawn (argv_gw, gw_out);
    while (gw_port == 0 && g_get_monotonic_time () < end)
      {
        g_autofree char *text = NULL;
        const char *p;

        g_usleep (50000);
        if (g_file_get_contents (gw_out, &text, NULL, NULL) && (p = strstr (text, "\"listen_port\":")))
          gw_port = (guint16) g_ascii_strtoull (p + 14, NULL, 10);
      }
    if (gw_port == 0)
      g_error ("cpns-gatewayd did not start");
    gateway = g_strdup_printf ("127.0.0.1:%u", gw_port);
    g_usleep (G_USEC_PER_SEC);   /* enrollment and the server session */
  }

  g_print ("Pairing and connecting %d devices one at a time …\n", runs);
  first = simulate (sim_dir, gateway, runs, 1, TRUE);
  g_print ("Resuming them one at a time …\n");
  resumed = simulate (sim_dir, gateway, runs, 1, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (concurrency); i++)
    {
      g_autoptr(JsonObject) s = NULL;

      g_print ("Full connection setups of %d devices, %u at a time …\n", MIN (conc_count, runs), concurrency[i]);
      s = simulate (sim_dir, gateway, MIN (conc_count, runs), concurrency[i], TRUE);
      per_s[i] = num (s, "per_second");
    }

  g_print ("Keeping %d devices connected …\n", rss_count);
  rss_before = rss_kib (gatewayd);
  {
    g_autofree char *exe = program ("src/pne/cpns-pne");
    g_autofree char *count_s = g_strdup_printf ("%d", rss_count);
    g_autofree char *sim_out = g_build_filename (work_dir, "rss.out", NULL);
    const char *argv_sim[] = { exe, "simulate", "--count", count_s, "--gateway", gateway, "--stay",
                               "--concurrency", "16", "--state-dir", rss_dir, NULL };
    g_autoptr(GSubprocess) sim = spawn (argv_sim, sim_out);
    gint64 end = g_get_monotonic_time () + 900 * G_USEC_PER_SEC;

    while (g_get_monotonic_time () < end &&
           (connected = count_connected (server_dir)) < rss_count)
      g_usleep (500000);
    g_usleep (2 * G_USEC_PER_SEC);
    rss_after = rss_kib (gatewayd);
    g_subprocess_send_signal (sim, SIGINT);
    g_subprocess_wait (sim, NULL, NULL);
  }
  g_subprocess_send_signal (gatewayd, SIGINT);
  g_subprocess_wait (gatewayd, NULL, NULL);
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);

  {
    double setup_goal = 2 * cert_hs + rtt;
    double resume_goal = 1.5 * psk_hs;
    double kib = connected > 0 ? (double) (rss_after - rss_before) / connected : 0;

    g_print ("\nGateway benchmark (loopback: cpns-server + cpns-gatewayd + cpns-pne simulate, policy allow,\n"
             "pairing confirmed automatically)\n");
    g_print ("  baseline: certificate handshake p50 %.2f ms, PSK handshake p50 %.2f ms,\n"
             "            server round trip (GET /healthz, kept alive) p50 %.2f ms\n",
             cert_hs, psk_hs, rtt);
    g_print ("  pairing (steps 2–3)          p50 %8.1f ms  p99 %8.1f ms  over %d\n",
             num (first, "pair_p50_ms"), num (first, "pair_p99_ms"), runs);
    g_print ("  connection setup (4–5)       p50 %8.1f ms  p99 %8.1f ms  over %d"
             "  goal %.1f ms (2 handshakes + 1 round trip): %.1f×\n",
             num (first, "connect_p50_ms"), num (first, "connect_p99_ms"), runs,
             setup_goal, setup_goal > 0 ? num (first, "connect_p50_ms") / setup_goal : 0);
    g_print ("  full pairing (2–5), sum      p50 %8.1f ms  p99 %8.1f ms\n",
             num (first, "pair_p50_ms") + num (first, "connect_p50_ms"),
             num (first, "pair_p99_ms") + num (first, "connect_p99_ms"));
    g_print ("  PSK resume                   p50 %8.1f ms  p99 %8.1f ms  over %d"
             "  goal %.2f ms (1.5 PSK handshakes): %.1f×\n",
             num (resumed, "resume_p50_ms"), num (resumed, "resume_p99_ms"), runs,
             resume_goal, resume_goal > 0 ? num (resumed, "resume_p50_ms") / resume_goal : 0);
    g_print ("  devices established per second (full setups): %.1f at 1, %.1f at 16, %.1f at 256 concurrent\n",
             per_s[0], per_s[1], per_s[2]);
    g_print ("  gateway memory: %" G_GINT64_FORMAT " KiB → %" G_GINT64_FORMAT " KiB with %" G_GINT64_FORMAT
             " devices connected: %.1f KiB per device (goal ≤ 64 KiB)\n",
             rss_before, rss_after, connected, kib);
  }
  return 0;
}
