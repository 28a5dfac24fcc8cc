/* SPDX-License-Identifier: GPL-3.0-or-later */
/* 200 simulated devices pair and connect through one gateway. */
#include "config.h"

#include "gw-test-fixture.h"

#define COUNT 200

static void
test_200_devices (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autoptr(GHashTable) connected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *count = g_strdup_printf ("%d", COUNT);
  g_autoptr(TPne) sim = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpint (t_server_cli (fx.server, "policy", "set", "alice", "--default", "allow", NULL), ==, 0);
  sim = t_pne_spawn ("simulate", "--count", count, "--gateway", fx.address, "--connect",
                     "--state-dir", fx.pne_dir, NULL);
  g_assert_cmpint (t_pne_wait (sim, 280000), ==, 0);
  while ((e = t_gateway_wait_step (fx.gw, "5b", "done", 2000)) != NULL)
    {
      JsonObject *s = json_object_get_object_member (e, "step");

      if (g_str_equal (json_object_get_string_member (s, "flow"), "connection"))
        g_hash_table_add (connected, g_strdup (json_object_get_string_member (s, "pne_id")));
    }
  g_assert_cmpuint (g_hash_table_size (connected), ==, COUNT);
  g_assert_cmpint (t_server_count_entities (fx.server), ==, COUNT);
  fixture_stop (&fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/load/200-devices", test_200_devices);
  return g_test_run ();
}
