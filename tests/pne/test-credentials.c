/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-credentials"

#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "cpns.h"
#include "pne-credentials.h"

static char *
make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("pne-creds-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
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

static PneCredentials *
sample_credentials (const char *name)
{
  PneCredentials *creds = pne_credentials_new ();
  const char *services[] = { "http:tcp:8080", "mdns:udp", NULL };

  creds->pn_id = cpns_id_new (CPNS_ID_PN);
  creds->pne_id = cpns_id_new (CPNS_ID_PNE);
  creds->key_id = cpns_id_new (CPNS_ID_KEY);
  cpns_random_key (creds->euk, CPNS_KEY_LEN);
  creds->gateway_id = cpns_id_new (CPNS_ID_GATEWAY);
  creds->gateway_name = g_strdup ("Alice's laptop");
  creds->gateway_sha256 = g_strnfill (64, 'a');
  creds->gateway_address = g_strdup ("127.0.0.1:7471");
  creds->name = g_strdup (name);
  creds->entity_type = g_strdup ("sensor");
  creds->services = g_strdupv ((char **) services);
  creds->session_id = cpns_id_new (CPNS_ID_SESSION);
  cpns_random_key (creds->session_key, CPNS_KEY_LEN);
  creds->session_expires = g_get_real_time () / G_USEC_PER_SEC + 3600;
  return creds;
}

static void
assert_same (const PneCredentials *a,
             const PneCredentials *b)
{
  g_assert_cmpstr (a->pn_id, ==, b->pn_id);
  g_assert_cmpstr (a->pne_id, ==, b->pne_id);
  g_assert_cmpstr (a->key_id, ==, b->key_id);
  g_assert_cmpmem (a->euk, CPNS_KEY_LEN, b->euk, CPNS_KEY_LEN);
  g_assert_cmpstr (a->gateway_id, ==, b->gateway_id);
  g_assert_cmpstr (a->gateway_name, ==, b->gateway_name);
  g_assert_cmpstr (a->gateway_sha256, ==, b->gateway_sha256);
  g_assert_cmpstr (a->gateway_address, ==, b->gateway_address);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->entity_type, ==, b->entity_type);
  g_assert_true (g_strv_equal ((const char * const *) a->services,
                               (const char * const *) b->services));
  g_assert_cmpstr (a->session_id, ==, b->session_id);
  g_assert_cmpmem (a->session_key, CPNS_KEY_LEN, b->session_key, CPNS_KEY_LEN);
  g_assert_cmpint (a->session_expires, ==, b->session_expires);
}

static void
test_roundtrip_and_mode (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *state = g_build_filename (dir, "sub", "state", NULL);
  g_autofree char *path = g_build_filename (state, PNE_CREDENTIALS_FILE, NULL);
  g_autoptr(PneCredentials) creds = sample_credentials ("Kitchen \"Sensor\"\nline two ü");
  g_autoptr(PneCredentials) loaded = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;
  mode_t old_umask;

  /* A permissive umask must not make the file readable by others. */
  old_umask = umask (0);
  g_assert_true (pne_credentials_save (creds, state, PNE_CREDENTIALS_SAVE_DEFAULT, &error));
  umask (old_umask);
  g_assert_no_error (error);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (state, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0077, ==, 0);

  loaded = pne_credentials_load (state, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  assert_same (creds, loaded);
  g_assert_true (pne_credentials_has_live_session (loaded, g_get_real_time () / G_USEC_PER_SEC));

  /* Without a session. */
  pne_credentials_clear_session (creds);
  g_assert_true (pne_credentials_save (creds, state, PNE_CREDENTIALS_SAVE_DEFAULT, &error));
  g_clear_pointer (&loaded, pne_credentials_free);
  loaded = pne_credentials_load (state, &error);
  g_assert_no_error (error);
  g_assert_null (loaded->session_id);
  g_assert_false (pne_credentials_has_live_session (loaded, 0));

  remove_tree (dir);
}

static void
test_missing (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autoptr(GError) error = NULL;
  PneCredentials *creds;

  creds = pne_credentials_load (dir, &error);
  g_assert_null (creds);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "not paired"));
  /* Deleting nothing is fine. */
  g_clear_error (&error);
  g_assert_true (pne_credentials_delete (dir, &error));
  g_assert_no_error (error);
  remove_tree (dir);
}

static void
test_crash_before_rename (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autoptr(PneCredentials) old_creds = sample_credentials ("Old");
  g_autoptr(PneCredentials) new_creds = sample_credentials ("New");
  g_autoptr(PneCredentials) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;
  guint n_files = 0;

  g_assert_true (pne_credentials_save (old_creds, dir, PNE_CREDENTIALS_SAVE_DEFAULT, &error));
  g_assert_no_error (error);
  g_assert_true (pne_credentials_save (new_creds, dir,
                                       PNE_CREDENTIALS_SAVE_CRASH_BEFORE_RENAME, &error));
  g_assert_no_error (error);

  /* The "crash" left a temporary file beside the old one. */
  listing = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (listing)) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 2);
  g_clear_pointer (&listing, g_dir_close);

  loaded = pne_credentials_load (dir, &error);
  g_assert_no_error (error);
  assert_same (old_creds, loaded);

  /* Loading cleaned up the leftover. */
  n_files = 0;
  listing = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (listing)) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 1);

  remove_tree (dir);
}

static void
test_pending (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autoptr(PneCredentials) creds = sample_credentials ("Pending");
  g_autoptr(PneCredentials) loaded = NULL;
  g_autofree char *pending = g_build_filename (dir, PNE_CREDENTIALS_PENDING_FILE, NULL);
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  /* A pending file (key received, no pairing_complete) is not credentials. */
  g_assert_true (pne_credentials_save (creds, dir, PNE_CREDENTIALS_SAVE_PENDING, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (pending, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  loaded = pne_credentials_load (dir, &error);
  g_assert_null (loaded);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (g_file_test (pending, G_FILE_TEST_EXISTS));

  /* Committed, it is. */
  g_assert_true (pne_credentials_save (creds, dir, PNE_CREDENTIALS_SAVE_PENDING, &error));
  g_assert_true (pne_credentials_commit_pending (dir, &error));
  g_assert_no_error (error);
  loaded = pne_credentials_load (dir, &error);
  g_assert_no_error (error);
  assert_same (creds, loaded);

  /* Discarded, nothing is left. */
  g_assert_true (pne_credentials_save (creds, dir, PNE_CREDENTIALS_SAVE_PENDING, &error));
  pne_credentials_discard_pending (dir);
  g_assert_false (g_file_test (pending, G_FILE_TEST_EXISTS));

  g_assert_true (pne_credentials_delete (dir, &error));
  g_assert_no_error (error);
  g_clear_pointer (&loaded, pne_credentials_free);
  loaded = pne_credentials_load (dir, &error);
  g_assert_null (loaded);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  remove_tree (dir);
}

static void
test_corrupt (void)
{
  g_autoptr(PneCredentials) creds = sample_credentials ("Corrupt");
  g_autofree char *good = pne_credentials_serialize (creds);
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, PNE_CREDENTIALS_FILE, NULL);
  const char *bad_texts[] = {
    "",
    "garbage",
    "format=1\n",
    "format=2\npn_id=x\n",
    "format=1\npn_id=pn-00\n",
    "\x01\x02\xff\xfe",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad_texts); i++)
    {
      g_autoptr(GError) error = NULL;
      PneCredentials *loaded;

      g_assert_true (g_file_set_contents (path, bad_texts[i], -1, NULL));
      loaded = pne_credentials_load (dir, &error);
      g_assert_null (loaded);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_nonnull (strstr (error->message, "corrupt"));
      g_assert_nonnull (strstr (error->message, path));
    }

  /* Every truncation of a good file either loads or fails cleanly. */
  for (gsize cut = 0; cut < strlen (good); cut += 7)
    {
      g_autoptr(GError) error = NULL;
      PneCredentials *loaded;

      g_assert_true (g_file_set_contents (path, good, cut, NULL));
      loaded = pne_credentials_load (dir, &error);
      if (loaded == NULL)
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      pne_credentials_free (loaded);
    }

  /* A wrong EUK length. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) text = g_string_new (good);
    const char *euk = strstr (text->str, "\neuk=");

    g_assert_nonnull (euk);
    g_string_insert (text, euk - text->str + 5, "AAAA");
    g_assert_true (g_file_set_contents (path, text->str, text->len, NULL));
    g_assert_null (pne_credentials_load (dir, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "euk"));
  }

  remove_tree (dir);
}

static void
test_no_secret_in_errors (void)
{
  g_autoptr(PneCredentials) creds = sample_credentials ("Secretive");
  g_autofree char *text = pne_credentials_serialize (creds);
  g_autofree char *euk = cpns_base64url_encode (creds->euk, CPNS_KEY_LEN);
  g_autoptr(GString) bad = g_string_new (text);
  g_autoptr(GError) error = NULL;

  /* The EUK appears in the file (that is where §6 keeps it)… */
  g_assert_nonnull (strstr (text, euk));
  /* …but a parse error never quotes it. */
  g_string_append (bad, "this line is broken\n");
  g_assert_null (pne_credentials_parse (bad->str, bad->len, "test", &error));
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, euk));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pne/credentials/roundtrip-mode", test_roundtrip_and_mode);
  g_test_add_func ("/pne/credentials/missing", test_missing);
  g_test_add_func ("/pne/credentials/crash-before-rename", test_crash_before_rename);
  g_test_add_func ("/pne/credentials/pending", test_pending);
  g_test_add_func ("/pne/credentials/corrupt", test_corrupt);
  g_test_add_func ("/pne/credentials/no-secret-in-errors", test_no_secret_in_errors);

  return g_test_run ();
}
