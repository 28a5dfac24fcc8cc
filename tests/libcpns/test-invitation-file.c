/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cpns_invitation_read_file: the invitation for --enroll-file, from a
 * file or standard input. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "cpns.h"

#define CODE "ABCD-EFGH-2345-67QR"
#define INVITATION "cpns://enroll?server=https%3A%2F%2Fhost%3A7443&user=alice&code=" CODE
/* A code-shaped secret that must never show up in a message. */
#define SECRET "SECRETSECRETSECR"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("test-invitation-file-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_rmdir (path);
      else
        g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* Writes @contents (of @len bytes, -1: a string) to a file named @name. */
static char *
write_file (Fixture    *f,
            const char *name,
            const char *contents,
            gssize      len)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (f->dir, name, NULL);

  g_file_set_contents_full (path, contents, len, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
  return path;
}

/* Reading @path fails with @domain/@code; the message names the file
 * and holds @expected, and none of the file's secret parts. */
static void
assert_fails (const char *path,
              GQuark      domain,
              int         code,
              const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = g_filename_display_name (path);
  char *result = cpns_invitation_read_file (path, &error);

  g_assert_null (result);
  g_assert_error (error, domain, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, display));
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_null (strstr (error->message, SECRET));
  g_assert_null (strstr (error->message, CODE));
  g_assert_null (strstr (error->message, "alice"));
}

static void
test_good (Fixture       *f,
           gconstpointer  data)
{
  static const char *const contents[] = {
    INVITATION,
    INVITATION "\n",
    "  " INVITATION " \t\r\n",
    INVITATION "\nsecond line, never read\n",
    INVITATION "\n\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (contents); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = write_file (f, "invitation.txt", contents[i], -1);
      char *invitation = cpns_invitation_read_file (path, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (invitation, ==, INVITATION);
      cpns_free_secret_string (invitation);
    }
}

static void
test_bad (Fixture       *f,
          gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (f->dir, "no-such-file", NULL);
  g_autofree char *empty = write_file (f, "empty", "", 0);
  g_autofree char *blank = write_file (f, "blank", "  \t\n" INVITATION "\n", -1);
  g_autofree char *subdir = g_build_filename (f->dir, "a-directory", NULL);
  g_autofree char *not_one = NULL;
  g_autofree char *bad_code = NULL;
  g_autofree char *long_line = NULL;
  g_autofree char *long_secret = NULL;
  g_autofree char *long_path = NULL;

  /* Not an invitation: a secret-looking line, and an invitation whose
   * code is wrong (the message says which part, not its value). */
  not_one = write_file (f, "not-one", "code=" SECRET "\n", -1);
  bad_code = write_file (f, "bad-code",
                         "cpns://enroll?server=https%3A%2F%2Fhost&user=alice&code=" SECRET "\n",
                         -1);
  /* 4096 bytes and no end of line before them: longer than any invitation
   * (the parser takes up to 4096), even though it starts like one. */
  long_secret = g_strnfill (4200, 'S');
  long_line = g_strconcat (INVITATION "&x=", long_secret, "\n", NULL);
  long_path = write_file (f, "long", long_line, -1);
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);

  assert_fails (missing, G_FILE_ERROR, G_FILE_ERROR_NOENT, g_strerror (ENOENT));
  assert_fails (subdir, G_FILE_ERROR, G_FILE_ERROR_ISDIR, g_strerror (EISDIR));
  assert_fails (empty, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "no invitation in it");
  /* Only the first line counts, even when the invitation follows it. */
  assert_fails (blank, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "no invitation in it");
  assert_fails (not_one, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                "does not hold a cpns://enroll invitation (");
  assert_fails (bad_code, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "'code' must be");
  assert_fails (long_path, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                "the first line is longer than any invitation");
}

/* The longest line still taken: 4095 bytes then an end of line. */
static void
test_longest (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gsize pad_len = 4095 - strlen (INVITATION "&x=");
  g_autofree char *pad = g_strnfill (pad_len, 'a');
  g_autofree char *expected = g_strconcat (INVITATION "&x=", pad, NULL);
  g_autofree char *line = g_strconcat (expected, "\n", NULL);
  g_autofree char *path = write_file (f, "longest", line, -1);
  char *invitation;

  g_assert_cmpuint (strlen (expected), ==, 4095);
  invitation = cpns_invitation_read_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (invitation, ==, expected);
  cpns_free_secret_string (invitation);
}

/* "-": standard input, read up to the end of the first line and not a
 * byte further (cpns-gatewayd reads its commands from the rest). */
static void
test_stdin (void)
{
  static const char written[] = INVITATION "\nquit\n";
  g_autoptr(GError) error = NULL;
  int fds[2];
  int saved = dup (STDIN_FILENO);
  char rest[16] = { 0 };
  char *invitation;

  g_assert_cmpint (saved, >=, 0);
  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (fds[1], written, strlen (written)), ==, (gssize) strlen (written));
  g_assert_true (g_close (fds[1], NULL));
  g_assert_cmpint (dup2 (fds[0], STDIN_FILENO), ==, STDIN_FILENO);
  g_assert_true (g_close (fds[0], NULL));

  invitation = cpns_invitation_read_file ("-", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (invitation, ==, INVITATION);
  cpns_free_secret_string (invitation);
  g_assert_cmpint (read (STDIN_FILENO, rest, sizeof rest - 1), ==, 5);
  g_assert_cmpstr (rest, ==, "quit\n");

  /* Nothing left: "standard input" is named, as the file would be. */
  invitation = cpns_invitation_read_file ("-", &error);
  g_assert_null (invitation);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "standard input: no invitation in it");

  g_assert_cmpint (dup2 (saved, STDIN_FILENO), ==, STDIN_FILENO);
  g_assert_true (g_close (saved, NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/invitation-file/good", Fixture, NULL, fixture_set_up, test_good, fixture_tear_down);
  g_test_add ("/invitation-file/bad", Fixture, NULL, fixture_set_up, test_bad, fixture_tear_down);
  g_test_add_func ("/invitation-file/stdin", test_stdin);
  g_test_add ("/invitation-file/longest", Fixture, NULL, fixture_set_up, test_longest,
              fixture_tear_down);

  return g_test_run ();
}
