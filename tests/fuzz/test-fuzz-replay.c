/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Replays the committed seed corpus of every fuzz target, and any crash
 * reproducers, through the same entry points the fuzzers use. */
#include "config.h"

#include "fuzz-targets.h"

static guint
replay_dir (const char   *dir,
            CpnsFuzzFunc  func)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize len;
      g_autoptr(GError) error = NULL;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      g_file_get_contents (path, &contents, &len, &error);
      g_assert_no_error (error);
      func ((const guint8 *) contents, len);
      n++;
    }
  return n;
}

static void
test_replay (gconstpointer user_data)
{
  const CpnsFuzzTarget *target = user_data;
  const char *root = g_getenv ("CPNS_SOURCE_ROOT");
  g_autofree char *corpus = NULL;
  g_autofree char *crashes = NULL;
  guint n, c;

  g_assert_nonnull (root);
  corpus = g_build_filename (root, "tests", "fuzz", "corpus", target->name, NULL);
  crashes = g_build_filename (root, "tests", "fuzz", "crashes", target->name, NULL);
  n = replay_dir (corpus, target->func);
  c = replay_dir (crashes, target->func);
  g_test_message ("%s: %u corpus files, %u crash reproducers", target->name, n, c);
  g_assert_cmpuint (n, >=, 4);
}

int
main (int   argc,
      char *argv[])
{
  gsize n;
  const CpnsFuzzTarget *targets = cpns_fuzz_targets (&n);

  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *path = g_strdup_printf ("/fuzz/replay/%s", targets[i].name);

      g_test_add_data_func (path, &targets[i], test_replay);
    }

  return g_test_run ();
}
