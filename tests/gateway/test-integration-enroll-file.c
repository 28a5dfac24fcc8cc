/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cpns-gatewayd --enroll-file: the invitation (a one-time code) read from
 * a file or standard input instead of the command line, where every user
 * of the machine can read it. */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "gw-test-harness.h"

#define WAIT_MS 20000

/* The process's command line as one string (NULs as spaces). */
static char *
proc_cmdline (GSubprocess *proc)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/cmdline", g_subprocess_get_identifier (proc));
  char *text = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  for (gsize i = 0; i < len; i++)
    if (text[i] == '\0')
      text[i] = ' ';
  return text;
}

static char *
write_invitation (const char *dir,
                  const char *text)
{
  char *path = g_build_filename (dir, "invitation", NULL);

  g_assert_true (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  return path;
}

/* From a 0600 file: enrolled, and the code is nowhere on the command line. */
static void
test_enroll_file (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *srv_dir = g_build_filename (dir, "server", NULL);
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autoptr(TServer) server = t_server_start (srv_dir, 0);
  g_autofree char *invitation = t_server_invite (server, "alice");
  g_autofree char *line = g_strconcat (invitation, "\n", NULL);
  g_autofree char *path = write_invitation (dir, line);
  g_autofree char *cmdline = NULL;
  const char *extra[] = { "--enroll-file", path, "--connect", NULL };
  g_autoptr(TGateway) gw = NULL;
  const char *code;
  JsonObject *e;

  gw = t_gateway_start (gw_dir, extra);
  code = strstr (invitation, "code=");
  g_assert_nonnull (code);
  cmdline = proc_cmdline (gw->proc);
  g_assert_null (strstr (cmdline, "cpns://"));
  g_assert_null (strstr (cmdline, code));
  e = t_gateway_wait_type (gw, "enrollment", WAIT_MS);
  g_assert_nonnull (e);
  g_assert_false (json_object_has_member (e, "error"));
  g_assert_nonnull (t_gateway_wait_session (gw, "connected", WAIT_MS));
  g_assert_cmpint (t_gateway_stop (gw), ==, 0);
  t_server_stop (server);
}

/* Reads the gateway's stdout until a line of @type; the parsed object. */
static JsonObject *
read_until_type (GDataInputStream *out,
                 const char       *type)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonNode *root;

      g_assert_no_error (error);
      if (line == NULL)
        return NULL;
      if (!json_parser_load_from_data (parser, line, -1, NULL))
        continue;
      root = json_parser_get_root (parser);
      if (JSON_NODE_HOLDS_OBJECT (root) &&
          g_strcmp0 (json_object_get_string_member_with_default (json_node_get_object (root), "type", ""), type) == 0)
        return json_object_ref (json_node_get_object (root));
    }
}

/* "-": the first line of standard input is the invitation; the lines
 * after it are still commands ("quit"). */
static void
test_enroll_stdin (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *srv_dir = g_build_filename (dir, "server", NULL);
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autoptr(TServer) server = t_server_start (srv_dir, 0);
  g_autofree char *invitation = t_server_invite (server, "alice");
  g_autofree char *exe = t_build_path ("src/gateway/cpns-gatewayd");
  g_autofree char *line = g_strconcat (invitation, "\n", NULL);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) e = NULL;
  GOutputStream *in;

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                           exe, "--data-dir", gw_dir, "--events", "json", "--listen", "127.0.0.1:0",
                           "--no-discovery", "--enroll-file", "-", NULL);
  g_assert_no_error (error);
  in = g_subprocess_get_stdin_pipe (proc);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_assert_true (g_output_stream_write_all (in, line, strlen (line), NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_flush (in, NULL, &error));

  e = read_until_type (out, "enrollment");
  g_assert_nonnull (e);
  g_assert_false (json_object_has_member (e, "error"));

  g_assert_true (g_output_stream_write_all (in, "quit\n", 5, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_flush (in, NULL, &error));
  g_assert_true (g_subprocess_wait (proc, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  t_server_stop (server);
}

/* Runs cpns-gatewayd with @args (and @input on stdin); its exit code and
 * standard error. */
static int
run_gatewayd (const char * const *args,
              const char         *input,
              char              **err_text)
{
  g_autofree char *exe = t_build_path ("src/gateway/cpns-gatewayd");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, exe);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                            G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (proc, input, NULL, NULL, err_text, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

/* Every bad file stops the program before it starts, with exit code 2
 * and a message that names the file and never repeats its contents. */
static void
test_enroll_file_bad (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autofree char *missing = g_build_filename (dir, "no-such-file", NULL);
  g_autofree char *garbage = write_invitation (dir, "cpns://enroll?server=https%3A%2F%2Fh&user=alice&code=SECRETSECRETSECR\n");
  g_autofree char *empty = g_build_filename (dir, "empty", NULL);
  g_autofree char *long_line = g_build_filename (dir, "long", NULL);
  g_autofree char *err = NULL;
  g_autofree char *big = g_strnfill (10000, 'a');

  g_assert_true (g_file_set_contents (empty, "\n  \n", -1, NULL));
  g_assert_true (g_file_set_contents (long_line, big, -1, NULL));

  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll-file", missing, NULL };
    g_assert_cmpint (run_gatewayd (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "no-such-file"));
    g_assert_nonnull (strstr (err, g_strerror (ENOENT)));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll-file", garbage, NULL };
    g_assert_cmpint (run_gatewayd (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "does not hold a cpns://enroll invitation"));
    g_assert_nonnull (strstr (err, "code"));
    g_assert_null (strstr (err, "SECRETSECRETSECR"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll-file", empty, NULL };
    g_assert_cmpint (run_gatewayd (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "no invitation in it"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll-file", long_line, NULL };
    g_assert_cmpint (run_gatewayd (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "longer than any invitation"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll-file", "-", NULL };
    g_assert_cmpint (run_gatewayd (args, "", &err), ==, 2);
    g_assert_nonnull (strstr (err, "standard input: no invitation in it"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll-file", dir, NULL };
    g_assert_cmpint (run_gatewayd (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "--enroll-file"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--data-dir", gw_dir, "--enroll", "cpns://enroll?x", "--enroll-file", empty, NULL };
    g_assert_cmpint (run_gatewayd (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "not both"));
    g_clear_pointer (&err, g_free);
  }
  /* Nothing started: no registry was created. */
  g_assert_false (g_file_test (gw_dir, G_FILE_TEST_EXISTS));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gatewayd/enroll-file/file", test_enroll_file);
  g_test_add_func ("/gatewayd/enroll-file/stdin", test_enroll_stdin);
  g_test_add_func ("/gatewayd/enroll-file/bad", test_enroll_file_bad);
  return g_test_run ();
}
