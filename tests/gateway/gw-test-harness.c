/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sqlite3.h>

#include "gw-test-harness.h"

char *
t_build_path (const char *relative)
{
  const char *root = g_getenv ("CPNS_BUILD_ROOT");

  g_assert_nonnull (root);
  return g_build_filename (root, relative, NULL);
}

char *
t_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("cpns-gw-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
t_sleep (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

static void
die_with_parent (gpointer data)
{
  /* A test that aborts must not leave programs behind. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static const char *server_timings;
static const char *messages_debug;

void
t_server_set_test_timings (const char *timings)
{
  server_timings = timings;
}

void
t_set_messages_debug (const char *domains)
{
  messages_debug = domains;
}

/* g_subprocess_newv with the child tied to this process's life. */
static GSubprocess *
spawn (const char * const *argv,
       GSubprocessFlags    flags,
       GError            **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (server_timings)
    g_subprocess_launcher_setenv (launcher, "CPNS_SERVER_TEST_TIMINGS", server_timings, TRUE);
  if (messages_debug)
    g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", messages_debug, TRUE);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

static gboolean
wait_process (GSubprocess *proc,
              guint        timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      /* g_subprocess_get_if_exited needs the process to be reaped, which
       * the GLib child watch does on the main context. */
      g_autoptr(GError) error = NULL;

      if (g_subprocess_get_identifier (proc) == NULL)
        return TRUE;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
  return g_subprocess_get_identifier (proc) == NULL;
}

static int
exit_status (GSubprocess *proc)
{
  if (g_subprocess_get_if_exited (proc))
    return g_subprocess_get_exit_status (proc);
  if (g_subprocess_get_if_signaled (proc))
    return 128 + g_subprocess_get_term_sig (proc);
  return -1;
}

/* ------------------------------------------------------------------ */
/* cpns-server */

static int
run_sync (const char * const *argv,
          char              **out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                   G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_autofree char *err = NULL;

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (proc) && err && *err)
    g_test_message ("%s: %s", argv[1], err);
  return exit_status (proc);
}

TServer *
t_server_start (const char *dir,
                guint16     port)
{
  TServer *server = g_new0 (TServer, 1);
  g_autofree char *exe = t_build_path ("src/server/cpns-server");
  g_autofree char *db = g_build_filename (dir, "cpns-server.db", NULL);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  server->dir = g_strdup (dir);
  if (!g_file_test (db, G_FILE_TEST_EXISTS))
    {
      const char *argv[] = { exe, "init", "--data-dir", dir, "--hostname", "127.0.0.1", NULL };
      g_autofree char *text = NULL;

      g_assert_cmpint (run_sync (argv, &text), ==, 0);
    }
  {
    const char *argv[] = { exe, "serve", "--data-dir", dir, "--listen", listen, NULL };

    server->proc = spawn (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    g_assert_no_error (error);
  }
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->proc));
  while (g_get_monotonic_time () < end)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
      const char *p;

      g_assert_no_error (error);
      g_assert_nonnull (line);
      p = strstr (line, "port=");
      if (p)
        {
          server->port = (guint16) g_ascii_strtoull (p + 5, NULL, 10);
          break;
        }
    }
  g_assert_cmpuint (server->port, !=, 0);
  server->url = g_strdup_printf ("https://127.0.0.1:%u", server->port);
  return server;
}

void
t_server_stop (TServer *server)
{
  if (server->proc == NULL)
    return;
  g_subprocess_send_signal (server->proc, SIGTERM);
  g_assert_true (wait_process (server->proc, 10000));
  g_clear_object (&server->proc);
}

void
t_server_free (TServer *server)
{
  if (server == NULL)
    return;
  if (server->proc)
    {
      g_subprocess_force_exit (server->proc);
      wait_process (server->proc, 5000);
    }
  g_clear_object (&server->proc);
  g_free (server->dir);
  g_free (server->url);
  g_free (server->pin);
  g_free (server);
}

char *
t_server_invite (TServer    *server,
                 const char *user)
{
  g_autofree char *exe = t_build_path ("src/server/cpns-server");
  const char *argv[] = { exe, "user", "add", user, "--data-dir", server->dir,
                         "--server-url", server->url, "--json", NULL };
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *obj;
  const char *pin;

  g_assert_cmpint (run_sync (argv, &out), ==, 0);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));
  pin = json_object_get_string_member_with_default (obj, "pin", NULL);
  if (pin && g_str_has_prefix (pin, "sha256:"))
    {
      g_free (server->pin);
      server->pin = g_strdup (pin + 7);
    }
  return g_strdup (json_object_get_string_member (obj, "invitation"));
}

int
t_server_cli (TServer    *server,
              const char *first_arg,
              ...)
{
  g_autofree char *exe = t_build_path ("src/server/cpns-server");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  va_list ap;

  g_ptr_array_add (argv, exe);
  va_start (ap, first_arg);
  for (const char *a = first_arg; a; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, (gpointer) "--data-dir");
  g_ptr_array_add (argv, server->dir);
  g_ptr_array_add (argv, NULL);
  return run_sync ((const char * const *) argv->pdata, &out);
}

static sqlite3 *
open_db (TServer *server)
{
  g_autofree char *path = g_build_filename (server->dir, "cpns-server.db", NULL);
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

char *
t_server_entity_state (TServer    *server,
                       const char *pne_id)
{
  sqlite3 *db = open_db (server);
  sqlite3_stmt *stmt = NULL;
  char *state = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT state FROM entities WHERE pne_id = ?", -1,
                                       &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, pne_id, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    state = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return state;
}

gint64
t_server_count_entities (TServer *server)
{
  sqlite3 *db = open_db (server);
  sqlite3_stmt *stmt = NULL;
  gint64 n = -1;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT count(*) FROM entities", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

/* ------------------------------------------------------------------ */
/* cpns-gatewayd */

static void read_next (TGateway *gw);

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  TGateway *gw = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, &error);
  g_autoptr(JsonParser) parser = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      gw->eof = TRUE;
      return;
    }
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, line, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_ptr_array_add (gw->events, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
  else
    {
      g_test_message ("gatewayd said: %s", line);
      g_ptr_array_add (gw->said, g_strdup (line));
    }
  read_next (gw);
}

static void
read_next (TGateway *gw)
{
  g_data_input_stream_read_line_async (gw->out, G_PRIORITY_DEFAULT, gw->cancellable, on_line, gw);
}

TGateway *
t_gateway_start (const char         *data_dir,
                 const char * const *extra)
{
  TGateway *gw = g_new0 (TGateway, 1);
  g_autofree char *exe = t_build_path ("src/gateway/cpns-gatewayd");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  gboolean discovery = FALSE;
  JsonObject *ready;

  gw->dir = g_strdup (data_dir);
  gw->events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  gw->said = g_ptr_array_new_with_free_func (g_free);
  gw->cancellable = g_cancellable_new ();
  for (guint i = 0; extra && extra[i]; i++)
    if (g_str_has_prefix (extra[i], "--discovery"))
      discovery = TRUE;
  g_ptr_array_add (argv, exe);
  g_ptr_array_add (argv, (gpointer) "--data-dir");
  g_ptr_array_add (argv, (gpointer) data_dir);
  g_ptr_array_add (argv, (gpointer) "--events");
  g_ptr_array_add (argv, (gpointer) "json");
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1:0");
  g_ptr_array_add (argv, (gpointer) (discovery ? "--no-multicast" : "--no-discovery"));
  for (guint i = 0; extra && extra[i]; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  gw->proc = spawn ((const char * const *) argv->pdata,
                                G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                &error);
  g_assert_no_error (error);
  gw->in = g_object_ref (g_subprocess_get_stdin_pipe (gw->proc));
  gw->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (gw->proc));
  read_next (gw);
  ready = t_gateway_wait_type (gw, "ready", 15000);
  g_assert_nonnull (ready);
  gw->port = (guint16) json_object_get_int_member (ready, "listen_port");
  gw->discovery_port = (guint16) json_object_get_int_member (ready, "discovery_port");
  g_assert_cmpuint (gw->port, !=, 0);
  return gw;
}

void
t_gateway_send (TGateway   *gw,
                const char *line)
{
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (gw->in, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (gw->in, NULL, NULL);
}

/* Reads more of the gateway's output: FALSE once it ended or @end (µs,
 * monotonic) passed. */
static gboolean
read_more (TGateway *gw,
           gint64    end)
{
  if (gw->eof || g_get_monotonic_time () >= end)
    return FALSE;
  if (!g_main_context_iteration (NULL, FALSE))
    g_usleep (1000);
  return TRUE;
}

JsonObject *
t_gateway_wait (TGateway    *gw,
                TEventMatch  match,
                gpointer     data,
                guint        timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  do
    {
      while (gw->cursor < gw->events->len)
        {
          JsonObject *e = g_ptr_array_index (gw->events, gw->cursor++);

          if (match (e, data))
            return e;
        }
    }
  while (read_more (gw, end));
  return NULL;
}

static gboolean
match_type (JsonObject *e,
            gpointer    data)
{
  return g_strcmp0 (json_object_get_string_member_with_default (e, "type", NULL), data) == 0;
}

JsonObject *
t_gateway_wait_type (TGateway   *gw,
                     const char *type,
                     guint       timeout_ms)
{
  return t_gateway_wait (gw, match_type, (gpointer) type, timeout_ms);
}

typedef struct
{
  const char *a;
  const char *b;
} Pair;

static gboolean
match_step (JsonObject *e,
            gpointer    data)
{
  Pair *p = data;
  JsonObject *s;

  if (!match_type (e, (gpointer) "flow_step"))
    return FALSE;
  s = json_object_get_object_member (e, "step");
  return g_strcmp0 (json_object_get_string_member (s, "step"), p->a) == 0 &&
         g_strcmp0 (json_object_get_string_member (s, "outcome"), p->b) == 0;
}

JsonObject *
t_gateway_wait_step (TGateway   *gw,
                     const char *step,
                     const char *outcome,
                     guint       timeout_ms)
{
  Pair p = { step, outcome };

  return t_gateway_wait (gw, match_step, &p, timeout_ms);
}

static gboolean
match_session (JsonObject *e,
               gpointer    data)
{
  if (!match_type (e, (gpointer) "session"))
    return FALSE;
  return g_strcmp0 (json_object_get_string_member (json_object_get_object_member (e, "session"),
                                                   "state"), data) == 0;
}

JsonObject *
t_gateway_wait_session (TGateway   *gw,
                        const char *state,
                        guint       timeout_ms)
{
  return t_gateway_wait (gw, match_session, (gpointer) state, timeout_ms);
}

gboolean
t_gateway_wait_said (TGateway   *gw,
                     const char *text,
                     guint       timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  do
    {
      for (guint i = 0; i < gw->said->len; i++)
        if (strstr (g_ptr_array_index (gw->said, i), text))
          return TRUE;
    }
  while (read_more (gw, end));
  return FALSE;
}

int
t_gateway_stop (TGateway *gw)
{
  g_subprocess_send_signal (gw->proc, SIGINT);
  g_assert_true (wait_process (gw->proc, 20000));
  /* Read what is left (the "stopped" event). */
  t_sleep (50);
  return exit_status (gw->proc);
}

void
t_gateway_kill (TGateway *gw)
{
  g_subprocess_force_exit (gw->proc);
  wait_process (gw->proc, 5000);
}

void
t_gateway_free (TGateway *gw)
{
  if (gw == NULL)
    return;
  if (g_subprocess_get_identifier (gw->proc))
    t_gateway_kill (gw);
  g_cancellable_cancel (gw->cancellable);
  t_sleep (10);
  g_clear_object (&gw->cancellable);
  g_clear_object (&gw->in);
  g_clear_object (&gw->out);
  g_clear_object (&gw->proc);
  g_ptr_array_unref (gw->events);
  g_ptr_array_unref (gw->said);
  g_free (gw->dir);
  g_free (gw);
}

/* ------------------------------------------------------------------ */
/* cpns-pne */

static void
on_pne_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  TPne *pne = user_data;
  g_autoptr(GBytes) err = NULL;

  g_subprocess_communicate_finish (G_SUBPROCESS (source), result, &pne->stdout_bytes, &err, NULL);
  pne->status = exit_status (G_SUBPROCESS (source));
  pne->done = TRUE;
}

TPne *
t_pne_spawnv (const char * const *args)
{
  TPne *pne = g_new0 (TPne, 1);
  g_autofree char *exe = t_build_path ("src/pne/cpns-pne");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, exe);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  pne->proc = spawn ((const char * const *) argv->pdata,
                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                                 &error);
  g_assert_no_error (error);
  g_subprocess_communicate_async (pne->proc, NULL, NULL, on_pne_done, pne);
  return pne;
}

TPne *
t_pne_spawn (const char *first_arg,
             ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first_arg);
  for (const char *a = first_arg; a; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return t_pne_spawnv ((const char * const *) args->pdata);
}

int
t_pne_wait (TPne  *pne,
            guint  timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!pne->done && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  if (!pne->done)
    {
      g_subprocess_force_exit (pne->proc);
      while (!pne->done)
        g_main_context_iteration (NULL, TRUE);
      return -1;
    }
  if (pne->status != 0 && pne->stdout_bytes)
    g_test_message ("cpns-pne (exit %d): %.*s", pne->status,
                    (int) g_bytes_get_size (pne->stdout_bytes),
                    (const char *) g_bytes_get_data (pne->stdout_bytes, NULL));
  return pne->status;
}

int
t_pne_run (guint       timeout_ms,
           const char *first_arg,
           ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(TPne) pne = NULL;
  va_list ap;

  va_start (ap, first_arg);
  for (const char *a = first_arg; a; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  pne = t_pne_spawnv ((const char * const *) args->pdata);
  return t_pne_wait (pne, timeout_ms);
}

void
t_pne_free (TPne *pne)
{
  if (pne == NULL)
    return;
  if (!pne->done)
    t_pne_wait (pne, 1);
  g_clear_pointer (&pne->stdout_bytes, g_bytes_unref);
  g_clear_object (&pne->proc);
  g_free (pne);
}

char *
t_pne_credential (const char *state_dir,
                  const char *key)
{
  g_autofree char *path = g_build_filename (state_dir, "credentials", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *prefix = g_strconcat (key, "=", NULL);

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strdup (lines[i] + strlen (prefix));
  return NULL;
}

void
t_pne_forget_session (const char *state_dir)
{
  g_autofree char *path = g_build_filename (state_dir, "credentials", NULL);
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      if (g_str_has_prefix (lines[i], "session_") || lines[i][0] == '\0')
        continue;
      g_string_append_printf (out, "%s\n", lines[i]);
    }
  g_file_set_contents_full (path, out->str, out->len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
  g_assert_no_error (error);
}

void
t_pne_set_credential (const char *state_dir,
                      const char *key,
                      const char *value)
{
  g_autofree char *path = g_build_filename (state_dir, "credentials", NULL);
  g_autofree char *text = NULL;
  g_autofree char *prefix = g_strconcat (key, "=", NULL);
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      if (lines[i][0] == '\0')
        continue;
      if (g_str_has_prefix (lines[i], prefix))
        g_string_append_printf (out, "%s%s\n", prefix, value);
      else
        g_string_append_printf (out, "%s\n", lines[i]);
    }
  g_file_set_contents_full (path, out->str, out->len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
  g_assert_no_error (error);
}

gboolean
t_gateway_wait_exit (TGateway *gw,
                   guint     timeout_ms)
{
  return wait_process (gw->proc, timeout_ms);
}
