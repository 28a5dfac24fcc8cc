/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-cli"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cpns.h"
#include "fake-gateway.h"
#include "pne-credentials.h"

/* The cpns-pne binary, run as a subprocess while the fake gateway runs on
 * this process's main loop. */

static char *pne_path;

typedef struct
{
  gboolean done;
  char    *out;
  char    *err;
  int      status;
} CliResult;

static void
cli_result_clear (CliResult *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  CliResult *r = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &r->out, &r->err, &error);
  g_assert_no_error (error);
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  CliResult *r = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_if_exited (G_SUBPROCESS (source)))
    r->status = g_subprocess_get_exit_status (G_SUBPROCESS (source));
  else
    r->status = -g_subprocess_get_term_sig (G_SUBPROCESS (source));
  r->done = TRUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  g_error ("cpns-pne did not finish in time");
  return G_SOURCE_REMOVE;
}

/* Runs cpns-pne with @args, feeding @input on stdin. */
static void
run_cliv (CliResult          *r,
          const char         *input,
          const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *joined = NULL;
  guint deadline;

  memset (r, 0, sizeof *r);
  g_ptr_array_add (argv, pne_path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  joined = g_strjoinv (" ", (char **) args);

  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                               | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, input != NULL ? input : "", NULL,
                                       on_communicated, r);
  g_subprocess_wait_async (process, NULL, on_waited, r);
  deadline = g_timeout_add_seconds (40, on_deadline, NULL);
  while (!r->done || r->out == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (deadline);
  g_test_message ("cpns-pne %s → %d\nstdout:\n%s\nstderr:\n%s", joined, r->status, r->out,
                  r->err);
}

static void
run_cli (CliResult  *r,
         const char *input,
         ...) G_GNUC_NULL_TERMINATED;

static void
run_cli (CliResult  *r,
         const char *input,
         ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  va_start (ap, input);
  for (arg = va_arg (ap, const char *); arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  run_cliv (r, input, (const char * const *) args->pdata);
}

static int
exit_code (CliResult *r)
{
  /* A negative status is a signal (a crash). */
  g_assert_cmpint (r->status, >=, 0);
  return r->status;
}

/* The JSON lines of stdout; asserts that every line is one JSON object. */
static GPtrArray *
json_lines (const char *out)
{
  GPtrArray *objects = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      JsonNode *root;

      if (*lines[i] == '\0')
        continue;
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      root = json_parser_get_root (parser);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
      g_ptr_array_add (objects, json_object_ref (json_node_get_object (root)));
    }
  return objects;
}

static JsonObject *
find_step (GPtrArray  *objects,
           const char *step)
{
  for (guint i = 0; i < objects->len; i++)
    {
      JsonObject *object = g_ptr_array_index (objects, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "step", ""), step) == 0)
        return object;
    }
  return NULL;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* ------------------------------------------------------------------ */

static void
test_help_version (void)
{
  CliResult r;

  run_cli (&r, NULL, "--help", NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  g_assert_nonnull (strstr (r.out, "pair"));
  g_assert_nonnull (strstr (r.out, "simulate"));
  g_assert_nonnull (strstr (r.out, "Exit codes"));
  g_assert_nonnull (strstr (r.out, "pin mismatch"));
  cli_result_clear (&r);

  run_cli (&r, NULL, "pair", "--help", NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  g_assert_nonnull (strstr (r.out, "--yes"));
  g_assert_nonnull (strstr (r.out, "--state-dir"));
  g_assert_nonnull (strstr (r.out, "Exit codes"));
  cli_result_clear (&r);

  run_cli (&r, NULL, "--version", NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "cpns-pne " PACKAGE_VERSION));
  cli_result_clear (&r);
}

static void
test_bad_arguments (void)
{
  const struct
  {
    const char *args[10];
    const char *expect;
  } cases[] = {
    { { NULL }, "missing command" },
    { { "frobnicate", NULL }, "unknown command" },
    { { "pair", "--bogus", NULL }, "Unknown option" },
    { { "pair", "--name", "Lamp", NULL }, "--name and --type" },
    { { "pair", "--name", "Lamp", "--type", "toaster", NULL }, "entity_type" },
    { { "pair", "--name", "Lamp", "--type", "actuator", "--gateway", "nohost", NULL },
      "HOST:PORT" },
    { { "pair", "--name", "Lamp", "--type", "actuator", "--gateway", "h:1", "--discover", NULL },
      "cannot be used together" },
    { { "pair", "--name", "Lamp", "--type", "actuator", "--service", "http", NULL }, "NAME:PROTO" },
    { { "connect", "extra", NULL }, "unexpected argument" },
    { { "simulate", NULL }, "--count" },
    { { "simulate", "--count", "0", NULL }, "--count" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CliResult r;
      const char * const *a = cases[i].args;

      run_cliv (&r, NULL, a);
      g_assert_cmpint (exit_code (&r), ==, 1);
      g_assert_nonnull (strstr (r.err, cases[i].expect));
      g_assert_cmpstr (r.out, ==, "");
      cli_result_clear (&r);
    }
}

static void
test_status_without_credentials (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pne-cli-XXXXXX", &error);
  g_autoptr(GPtrArray) objects = NULL;
  CliResult r;

  run_cli (&r, NULL, "status", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 9);
  g_assert_nonnull (strstr (r.err, "not paired"));
  cli_result_clear (&r);

  run_cli (&r, NULL, "status", "--state-dir", dir, "--json", NULL);
  g_assert_cmpint (exit_code (&r), ==, 9);
  objects = json_lines (r.out);
  g_assert_cmpuint (objects->len, ==, 1);
  g_assert_false (json_object_get_boolean_member (g_ptr_array_index (objects, 0), "paired"));
  cli_result_clear (&r);

  run_cli (&r, NULL, "connect", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 9);
  cli_result_clear (&r);

  /* A corrupt file: a clear error, not a crash. */
  {
    g_autofree char *path = g_build_filename (dir, PNE_CREDENTIALS_FILE, NULL);

    g_assert_true (g_file_set_contents (path, "format=1\npn_id=garbage\n", -1, NULL));
    run_cli (&r, NULL, "status", "--state-dir", dir, NULL);
    g_assert_cmpint (exit_code (&r), ==, 9);
    g_assert_nonnull (strstr (r.err, "corrupt"));
    cli_result_clear (&r);
  }

  remove_tree (dir);
}

static void
test_pair_connect_forget (void)
{
  g_autoptr(FakeGateway) fake = fake_gateway_new ();
  FakeRecord *rec = fake_gateway_get_record (fake);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pne-cli-XXXXXX", &error);
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(PneCredentials) creds = NULL;
  g_autofree char *euk = NULL;
  g_autofree char *session_key = NULL;
  JsonObject *step;
  CliResult r;

  run_cli (&r, NULL, "pair", "--gateway", fake_gateway_get_address (fake), "--name", "Test Lamp",
           "--type", "actuator", "--service", "switch:coap:5683", "--yes", "--json",
           "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  step = find_step (objects, "pairing_code");
  g_assert_nonnull (step);
  g_assert_cmpstr (json_object_get_string_member (step, "code"), ==, rec->code);
  g_assert_nonnull (find_step (objects, "pne_id_assigned"));
  g_assert_nonnull (find_step (objects, "key_assigned"));
  g_assert_nonnull (find_step (objects, "paired"));
  g_assert_nonnull (find_step (objects, "done"));
  creds = pne_credentials_load (dir, &error);
  g_assert_no_error (error);
  /* Never a secret on stdout. */
  euk = cpns_base64url_encode (creds->euk, CPNS_KEY_LEN);
  g_assert_null (strstr (r.out, euk));
  g_assert_null (strstr (r.err, euk));
  cli_result_clear (&r);
  g_clear_pointer (&objects, g_ptr_array_unref);

  run_cli (&r, NULL, "status", "--state-dir", dir, "--json", NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  g_assert_true (json_object_get_boolean_member (g_ptr_array_index (objects, 0), "paired"));
  g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (objects, 0), "pne_id"), ==,
                   creds->pne_id);
  g_assert_null (strstr (r.out, euk));
  cli_result_clear (&r);
  g_clear_pointer (&objects, g_ptr_array_unref);

  /* Full connection setup, then bye. */
  run_cli (&r, NULL, "connect", "--state-dir", dir, "--once", "--json", NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  step = find_step (objects, "connected");
  g_assert_nonnull (step);
  g_assert_false (json_object_get_boolean_member (step, "resumed"));
  g_assert_nonnull (find_step (objects, "disconnected"));
  cli_result_clear (&r);
  g_clear_pointer (&objects, g_ptr_array_unref);
  g_assert_true (fake_record_has (rec, "bye"));

  g_clear_pointer (&creds, pne_credentials_free);
  creds = pne_credentials_load (dir, &error);
  g_assert_no_error (error);
  session_key = cpns_base64url_encode (creds->session_key, CPNS_KEY_LEN);

  /* Resume. */
  run_cli (&r, NULL, "connect", "--state-dir", dir, "--once", "--json", NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  step = find_step (objects, "connected");
  g_assert_nonnull (step);
  g_assert_true (json_object_get_boolean_member (step, "resumed"));
  g_assert_null (strstr (r.out, session_key));
  cli_result_clear (&r);
  g_clear_pointer (&objects, g_ptr_array_unref);

  run_cli (&r, NULL, "forget", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  cli_result_clear (&r);
  run_cli (&r, NULL, "status", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 9);
  cli_result_clear (&r);

  remove_tree (dir);
}

static void
test_pair_rejected_on_terminal (void)
{
  g_autoptr(FakeGateway) fake = fake_gateway_new ();
  FakeRecord *rec = fake_gateway_get_record (fake);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pne-cli-XXXXXX", &error);
  CliResult r;

  run_cli (&r, "n\n", "pair", "--gateway", fake_gateway_get_address (fake), "--name", "Test Lamp",
           "--type", "actuator", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 2);
  g_assert_nonnull (strstr (r.err, "Does the gateway show this code"));
  g_assert_nonnull (rec->code);
  g_assert_nonnull (strstr (r.out, rec->code));
  g_assert_true (fake_record_has (rec, "error:rejected"));
  cli_result_clear (&r);

  /* Accepted on the terminal. */
  run_cli (&r, "y\n", "pair", "--gateway", fake_gateway_get_address (fake), "--name", "Test Lamp",
           "--type", "actuator", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  cli_result_clear (&r);

  remove_tree (dir);
}

static void
test_failure_exit_codes (void)
{
  g_autoptr(FakeGateway) fake = fake_gateway_new ();
  g_autoptr(FakeGateway) impostor = fake_gateway_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pne-cli-XXXXXX", &error);
  CliResult r;

  fake_gateway_set_flags (fake, FAKE_BAD_COMMITMENT);
  run_cli (&r, NULL, "pair", "--gateway", fake_gateway_get_address (fake), "--name", "Lamp",
           "--type", "actuator", "--yes", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 3);
  cli_result_clear (&r);

  fake_gateway_set_flags (fake, 0);
  run_cli (&r, NULL, "pair", "--gateway", fake_gateway_get_address (fake), "--name", "Lamp",
           "--type", "actuator", "--yes", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  cli_result_clear (&r);

  run_cli (&r, NULL, "connect", "--gateway", fake_gateway_get_address (impostor), "--once",
           "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 7);
  g_assert_nonnull (strstr (r.err, "pinned"));
  cli_result_clear (&r);

  fake_gateway_set_flags (fake, FAKE_WRONG_SERVER_PROOF);
  run_cli (&r, NULL, "connect", "--once", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 3);
  cli_result_clear (&r);

  fake_gateway_set_flags (fake, FAKE_DENY);
  run_cli (&r, NULL, "connect", "--once", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 4);
  cli_result_clear (&r);

  /* Nobody listening: unreachable. */
  run_cli (&r, NULL, "connect", "--once", "--gateway", "127.0.0.1:9", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 6);
  cli_result_clear (&r);

  remove_tree (dir);
}

/* A running cpns-pne whose stdout is read line by line. */
typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  GPtrArray        *lines;
  gboolean          eof;
  gboolean          exited;
  int               status;
} LiveCli;

static void read_next_line (LiveCli *live);

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  LiveCli *live = user_data;
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                          NULL, &error);

  if (line == NULL)
    {
      live->eof = TRUE;
      return;
    }
  g_test_message ("cpns-pne: %s", line);
  g_ptr_array_add (live->lines, line);
  read_next_line (live);
}

static void
read_next_line (LiveCli *live)
{
  g_data_input_stream_read_line_async (live->out, G_PRIORITY_DEFAULT, NULL, on_line, live);
}

static void
on_live_exited (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  LiveCli *live = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  live->status = g_subprocess_get_if_exited (G_SUBPROCESS (source))
                 ? g_subprocess_get_exit_status (G_SUBPROCESS (source)) : -1;
  live->exited = TRUE;
}

static void
live_start (LiveCli            *live,
            const char * const *argv)
{
  g_autoptr(GError) error = NULL;

  memset (live, 0, sizeof *live);
  live->lines = g_ptr_array_new_with_free_func (g_free);
  live->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  live->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (live->process));
  read_next_line (live);
  g_subprocess_wait_async (live->process, NULL, on_live_exited, live);
}

static void
live_clear (LiveCli *live)
{
  g_clear_object (&live->out);
  g_clear_object (&live->process);
  g_clear_pointer (&live->lines, g_ptr_array_unref);
}

/* The number of stdout lines whose "step" is @step. */
static guint
live_count_step (LiveCli    *live,
                 const char *step)
{
  g_autofree char *needle = g_strdup_printf ("\"step\":\"%s\"", step);
  guint n = 0;

  for (guint i = 0; i < live->lines->len; i++)
    if (strstr (g_ptr_array_index (live->lines, i), needle) != NULL)
      n++;
  return n;
}

static void
live_wait_step (LiveCli    *live,
                const char *step,
                guint       count)
{
  guint deadline = g_timeout_add_seconds (20, on_deadline, NULL);

  while (live_count_step (live, step) < count)
    {
      g_assert_false (live->eof);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (deadline);
}

/* A connected device whose connection drops reconnects (here: resumes);
 * the gateway's bye ends it with exit code 0. */
static void
test_connect_reconnects (void)
{
  g_autoptr(FakeGateway) fake = fake_gateway_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pne-cli-XXXXXX", &error);
  const char *argv[] = { pne_path, "connect", "--json", "--state-dir", dir, NULL };
  LiveCli live;
  CliResult r;
  guint deadline;

  run_cli (&r, NULL, "pair", "--gateway", fake_gateway_get_address (fake), "--name", "Lamp",
           "--type", "actuator", "--yes", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  cli_result_clear (&r);

  live_start (&live, argv);
  live_wait_step (&live, "connected", 1);
  g_assert_cmpuint (fake_gateway_get_record (fake)->n_psk, ==, 0);

  fake_gateway_drop_all (fake);
  live_wait_step (&live, "reconnecting", 1);
  /* Back within the first back-off, with the stored session. */
  live_wait_step (&live, "connected", 2);
  g_assert_cmpuint (fake_gateway_get_record (fake)->n_psk, ==, 1);
  g_assert_false (live.exited);

  fake_gateway_bye_all (fake);
  deadline = g_timeout_add_seconds (20, on_deadline, NULL);
  while (!live.exited || !live.eof)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (deadline);
  g_assert_cmpint (live.status, ==, 0);
  g_assert_cmpuint (live_count_step (&live, "bye"), ==, 1);
  live_clear (&live);

  remove_tree (dir);
}

static void
test_simulate (void)
{
  g_autoptr(FakeGateway) fake = fake_gateway_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pne-cli-XXXXXX", &error);
  g_autoptr(GPtrArray) objects = NULL;
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  JsonObject *summary;
  guint psk_before;
  CliResult r;

  run_cli (&r, NULL, "simulate", "--count", "6", "--gateway", fake_gateway_get_address (fake),
           "--connect", "--concurrency", "3", "--json", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  summary = find_step (objects, "summary");
  g_assert_nonnull (summary);
  g_assert_cmpint (json_object_get_int_member (summary, "paired"), ==, 6);
  g_assert_cmpint (json_object_get_int_member (summary, "connected"), ==, 6);
  g_assert_cmpint (json_object_get_int_member (summary, "failed"), ==, 0);
  /* Six different devices, each with its own state. */
  for (guint i = 0; i < objects->len; i++)
    {
      JsonObject *object = g_ptr_array_index (objects, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "step", ""),
                     "paired") == 0)
        g_hash_table_add (names, (gpointer) json_object_get_string_member (object, "name"));
    }
  g_assert_cmpuint (g_hash_table_size (names), ==, 6);
  g_assert_true (g_hash_table_contains (names, "Kitchen Sensor"));
  g_assert_true (g_hash_table_contains (names, "Living Room Speaker"));
  for (guint i = 1; i <= 6; i++)
    {
      g_autofree char *sub = g_strdup_printf ("pne-%04u", i);
      g_autofree char *sub_dir = g_build_filename (dir, sub, NULL);
      g_autoptr(PneCredentials) creds = pne_credentials_load (sub_dir, &error);

      g_assert_no_error (error);
      g_assert_nonnull (creds->session_id);
    }
  cli_result_clear (&r);
  g_clear_pointer (&objects, g_ptr_array_unref);

  /* A second run resumes every device with PSK. */
  run_cli (&r, NULL, "simulate", "--count", "6", "--gateway", fake_gateway_get_address (fake),
           "--connect", "--json", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  summary = find_step (objects, "summary");
  g_assert_cmpint (json_object_get_int_member (summary, "connected"), ==, 6);
  g_assert_cmpfloat (json_object_get_double_member (summary, "resume_p50_ms"), >, 0);
  cli_result_clear (&r);
  g_clear_pointer (&objects, g_ptr_array_unref);

  /* --no-resume: full connection setups although the sessions are live. */
  psk_before = fake_gateway_get_record (fake)->n_psk;
  run_cli (&r, NULL, "simulate", "--count", "6", "--gateway", fake_gateway_get_address (fake),
           "--connect", "--no-resume", "--json", "--state-dir", dir, NULL);
  g_assert_cmpint (exit_code (&r), ==, 0);
  objects = json_lines (r.out);
  summary = find_step (objects, "summary");
  g_assert_cmpint (json_object_get_int_member (summary, "connected"), ==, 6);
  g_assert_cmpfloat (json_object_get_double_member (summary, "connect_p50_ms"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (summary, "resume_p50_ms"), ==, 0);
  g_assert_cmpuint (fake_gateway_get_record (fake)->n_psk, ==, psk_before);
  cli_result_clear (&r);

  remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  pne_path = g_build_filename (g_getenv ("CPNS_BUILD_ROOT"), "src", "pne", "cpns-pne", NULL);
  if (!g_file_test (pne_path, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("cpns-pne not found at %s", pne_path);

  g_test_add_func ("/pne/cli/help-version", test_help_version);
  g_test_add_func ("/pne/cli/bad-arguments", test_bad_arguments);
  g_test_add_func ("/pne/cli/status-without-credentials", test_status_without_credentials);
  g_test_add_func ("/pne/cli/pair-connect-forget", test_pair_connect_forget);
  g_test_add_func ("/pne/cli/pair-rejected-on-terminal", test_pair_rejected_on_terminal);
  g_test_add_func ("/pne/cli/failure-exit-codes", test_failure_exit_codes);
  g_test_add_func ("/pne/cli/connect-reconnects", test_connect_reconnects);
  g_test_add_func ("/pne/cli/simulate", test_simulate);

  return g_test_run ();
}
