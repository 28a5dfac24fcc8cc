/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cpns-gateway --enroll-file: the invitation read from a file (or the
 * first line of standard input) instead of the command line. */
#define G_LOG_DOMAIN "gw-test"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "gw-application.h"
#include "gw-test-util.h"

/* A well-formed invitation (the server need not exist: no engine here). */
#define INVITATION "cpns://enroll?server=https%3A%2F%2F127.0.0.1%3A7443&user=alice" \
                   "&code=ABCD-EFGH-JKMN-PQRS&pin=sha256:" \
                   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

typedef struct
{
  GApplication *app;
  char         *invitation;
} Run;

static void
on_command (GwAppState *state,
            GwCommand  *command,
            Run        *run)
{
  if (command->type != GW_COMMAND_ENROLL)
    return;
  g_free (run->invitation);
  run->invitation = g_strdup (command->invitation);
  g_application_quit (run->app);
}

/* The app in this process, with @argv, no engine: what it asked the
 * engine to enroll with (NULL: nothing), and its exit status. */
static char *
run_app (const char * const *args,
         int                *status)
{
  g_autoptr(GwApplication) app = gw_application_new ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  Run run = { G_APPLICATION (app), NULL };

  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE | G_APPLICATION_HANDLES_OPEN);
  gw_application_set_engine_enabled (app, FALSE);
  g_signal_connect (gw_application_get_state (app), "command", G_CALLBACK (on_command), &run);
  g_ptr_array_add (argv, (gpointer) "cpns-gateway");
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  *status = g_application_run (G_APPLICATION (app), (int) argv->len - 1, (char **) argv->pdata);
  return run.invitation;
}

static char *
write_file (const char *dir,
            const char *name,
            const char *text)
{
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  return path;
}

/* The first line of the file, surrounding blanks removed, is the
 * invitation the app enrolls with (trusting its pin, as --enroll does). */
static void
test_enroll_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("gw-enroll-file-XXXXXX", NULL);
  g_autofree char *path = write_file (dir, "invitation", "  " INVITATION " \r\nsecond line\n");
  const char *args[] = { "--enroll-file", path, NULL };
  g_autofree char *invitation = NULL;
  int status = -1;

  invitation = run_app (args, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (invitation, ==, INVITATION);
  g_unlink (path);
  g_rmdir (dir);
}

/* Runs the cpns-gateway program with @args and @input on standard input:
 * its exit status and standard error. */
static int
run_program (const char * const *args,
             const char         *input,
             char              **err_text)
{
  g_autofree char *exe = g_build_filename (g_getenv ("CPNS_BUILD_ROOT"), "src", "app", "cpns-gateway", NULL);
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

/* A bad file: exit status 2 before any window, a message that names the
 * file and what is wrong, never the file's contents. */
static void
test_enroll_file_bad (void)
{
  g_autofree char *dir = g_dir_make_tmp ("gw-enroll-file-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (dir, "no-such-file", NULL);
  g_autofree char *garbage = write_file (dir, "garbage", "cpns://enroll?user=alice&code=SECRETSECRETSECR\n");
  g_autofree char *empty = write_file (dir, "empty", "\n");
  g_autofree char *err = NULL;

  {
    const char *args[] = { "--enroll-file", missing, NULL };
    g_assert_cmpint (run_program (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "--enroll-file"));
    g_assert_nonnull (strstr (err, "no-such-file"));
    g_assert_nonnull (strstr (err, g_strerror (ENOENT)));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--enroll-file", garbage, NULL };
    g_assert_cmpint (run_program (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "does not hold a cpns://enroll invitation"));
    g_assert_null (strstr (err, "SECRETSECRETSECR"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--enroll-file", empty, NULL };
    g_assert_cmpint (run_program (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "no invitation in it"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--enroll-file", "-", NULL };
    g_assert_cmpint (run_program (args, "not an invitation\n", &err), ==, 2);
    g_assert_nonnull (strstr (err, "standard input does not hold a cpns://enroll invitation"));
    g_clear_pointer (&err, g_free);
  }
  {
    const char *args[] = { "--enroll", INVITATION, "--enroll-file", empty, NULL };
    g_assert_cmpint (run_program (args, NULL, &err), ==, 2);
    g_assert_nonnull (strstr (err, "not both"));
    g_clear_pointer (&err, g_free);
  }
  g_unlink (missing);
  g_unlink (garbage);
  g_unlink (empty);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/app/enroll-file/file", test_enroll_file);
  g_test_add_func ("/app/enroll-file/bad", test_enroll_file_bad);
  return g_test_run ();
}
