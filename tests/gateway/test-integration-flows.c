/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The five steps end to end: cpns-server + cpns-gatewayd + cpns-pne. */
#include "config.h"

#include <sys/stat.h>

#include "gw-test-fixture.h"

static void
run_full_flow (const char *key_mode)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--key-mode", key_mode, "--confirm-pairing", "always",
                          "--approve", "always", NULL };
  g_autofree char *pairing = NULL;
  g_autofree char *connection = NULL;
  g_autofree char *creds = NULL;
  g_autofree char *pne_id = NULL;
  g_autoptr(TPne) pne = NULL;
  JsonObject *e;
  struct stat st;

  fixture_start (&fx, extra);
  /* Trigger II: nothing has connected to the server yet. */
  g_assert_null (t_gateway_wait_session (fx.gw, "connected", 200));

  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  /* The device may finish before its last events reached us. */
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "done", 5000));
  pairing = step_trace (fx.gw, "pairing");
  g_assert_cmpstr (pairing, ==,
                   "2:running 2:done 3a:skipped 3b-d:running 3b-d:done 1:running 1:done"
                   " 3e:running 3e:done");

  /* The credentials file is private. */
  creds = g_build_filename (fx.pne_dir, "credentials", NULL);
  g_assert_cmpint (stat (creds, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  g_assert_nonnull (pne_id);
  g_assert_true (wait_server_state (fx.server, pne_id, "registered", 5000));

  e = t_gateway_wait_type (fx.gw, "entity_changed", 1000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "entity"), "key_mode"),
                   ==, key_mode);

  /* Steps 4–5; the device stays connected. */
  pne = t_pne_spawn ("connect", "--state-dir", fx.pne_dir, NULL);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "5b", "done", PNE_TIMEOUT_MS));
  connection = step_trace (fx.gw, "connection");
  g_assert_cmpstr (connection, ==,
                   "4a:running 4a:done 1:skipped 4b:running 4b:done 4c:running 4c:done"
                   " 4d-f:running 4d-f:done 4g:running 4g:done 5a:running 5a:done"
                   " 5b:running 5b:done");
  /* Step 5a reached the server's inventory. */
  g_assert_true (wait_server_state (fx.server, pne_id, "connected", 5000));

  /* Ctrl-C on the device: bye, and the inventory says so. */
  g_subprocess_send_signal (pne->proc, SIGINT);
  t_pne_wait (pne, 10000);
  g_assert_true (wait_server_state (fx.server, pne_id, "disconnected", 5000));

  fixture_stop (&fx);
}

static void
test_full_flow_server_keys (void)
{
  run_full_flow ("server");
}

static void
test_full_flow_gateway_keys (void)
{
  run_full_flow ("gateway");
}

/* 3a: a device that holds credentials for this PN keeps them. */
static void
test_pairing_skips_3a (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "done", 5000));
  before = t_pne_credential (fx.pne_dir, "key_id");

  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  e = t_gateway_wait_step (fx.gw, "3a", "done", 5000);
  g_assert_nonnull (e);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3b-d", "skipped", 1000));
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "skipped", 1000));
  after = t_pne_credential (fx.pne_dir, "key_id");
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpint (t_server_count_entities (fx.server), ==, 1);
  fixture_stop (&fx);
}

/* The person says the codes differ. */
static void
test_wrong_code_rejected (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "ask", NULL };
  g_autoptr(TPne) pne = NULL;
  JsonObject *e, *err;
  struct stat st;
  g_autofree char *creds = NULL;

  fixture_start (&fx, extra);
  pne = t_pne_spawn ("pair", "--gateway", fx.address, "--name", "Speaker", "--type", "speaker",
                     "--yes", "--state-dir", fx.pne_dir, NULL);
  e = t_gateway_wait_type (fx.gw, "prompt_raised", PNE_TIMEOUT_MS);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "prompt"), "kind"),
                   ==, "pairing_code");
  t_gateway_send (fx.gw, "n");
  g_assert_cmpint (t_pne_wait (pne, PNE_TIMEOUT_MS), ==, 2);   /* rejected */
  e = t_gateway_wait_step (fx.gw, "2", "failed", 5000);
  g_assert_nonnull (e);
  err = json_object_get_object_member (json_object_get_object_member (e, "step"), "error");
  g_assert_cmpstr (json_object_get_string_member (err, "code"), ==, "rejected");
  /* A person-readable sentence about what to do. */
  g_assert_nonnull (strstr (json_object_get_string_member (err, "message"), "pair"));
  creds = g_build_filename (fx.pne_dir, "credentials", NULL);
  g_assert_cmpint (stat (creds, &st), !=, 0);
  g_assert_cmpint (t_server_count_entities (fx.server), ==, 0);
  fixture_stop (&fx);
}

/* A different certificate on reconnect: the device refuses, sends nothing. */
static void
test_pin_mismatch_on_reconnect (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *other_dir = NULL;
  g_autofree char *other_address = NULL;
  g_autoptr(TGateway) other = NULL;
  guint before;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);

  /* Another gateway (its own certificate) at another port. */
  other_dir = g_build_filename (fx.dir, "impostor", NULL);
  other = t_gateway_start (other_dir, NULL);
  other_address = g_strdup_printf ("127.0.0.1:%u", other->port);
  t_sleep (100);
  before = other->events->len;
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--gateway", other_address,
                              "--state-dir", fx.pne_dir, NULL), ==, 7);
  t_sleep (200);
  /* No flow started there: the device sent nothing. */
  for (guint i = before; i < other->events->len; i++)
    g_assert_cmpstr (json_object_get_string_member (g_ptr_array_index (other->events, i), "type"),
                     !=, "flow_step");
  g_assert_cmpint (t_gateway_stop (other), ==, 0);

  /* The real one still works. */
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL),
                   ==, 0);
  fixture_stop (&fx);
}

/* Discovery on loopback: the device finds the gateway whose window is open. */
static void
test_pairing_by_discovery (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--discovery-port", "0", NULL };
  g_autofree char *target = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpuint (fx.gw->discovery_port, !=, 0);
  target = g_strdup_printf ("127.0.0.1:%u", fx.gw->discovery_port);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "pair", "--discover", "--discovery-target", target,
                              "--no-multicast", "--timeout", "20", "--name", "Finder", "--type", "phone",
                              "--yes", "--state-dir", fx.pne_dir, NULL), ==, 0);
  fx.gw->cursor = 0;
  e = t_gateway_wait_type (fx.gw, "discovered", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (e, "discovered"), "name"),
                   ==, "Finder");
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "done", 5000));
  fixture_stop (&fx);
}

/* Window closed: the person picks the device from the discovered list. */
static void
test_pair_discovered (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--discovery-port", "0", NULL };
  g_autofree char *target = NULL;
  g_autofree char *command = NULL;
  g_autoptr(TPne) pne = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  t_gateway_send (fx.gw, "close");
  e = t_gateway_wait_type (fx.gw, "pairing_window", 5000);
  while (e && json_object_get_boolean_member (json_object_get_object_member (e, "pairing_window"), "open"))
    e = t_gateway_wait_type (fx.gw, "pairing_window", 5000);
  g_assert_nonnull (e);

  target = g_strdup_printf ("127.0.0.1:%u", fx.gw->discovery_port);
  pne = t_pne_spawn ("pair", "--discover", "--discovery-target", target, "--no-multicast",
                     "--timeout", "20", "--name", "Picked", "--type", "camera", "--yes",
                     "--state-dir", fx.pne_dir, NULL);
  e = t_gateway_wait_type (fx.gw, "discovered", 15000);
  g_assert_nonnull (e);
  command = g_strdup_printf ("pair-discovered %s",
                             json_object_get_string_member (json_object_get_object_member (e, "discovered"), "id"));
  t_gateway_send (fx.gw, command);
  g_assert_cmpint (t_pne_wait (pne, PNE_TIMEOUT_MS), ==, 0);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "done", 5000));
  fixture_stop (&fx);
}

/* The invitation's pin does not match the server's certificate: no
 * enrollment (the code is never sent), exit code 3. */
static void
test_server_pin_mismatch (void)
{
  g_autofree char *dir = t_tmpdir ();
  g_autofree char *srv_dir = g_build_filename (dir, "server", NULL);
  g_autofree char *gw_dir = g_build_filename (dir, "gateway", NULL);
  g_autoptr(TServer) server = t_server_start (srv_dir, 0);
  g_autofree char *invitation = t_server_invite (server, "alice");
  g_autofree char *wrong = NULL;
  g_autoptr(TGateway) gw = NULL;
  const char *pin;
  const char *extra[3] = { "--enroll", NULL, NULL };
  JsonObject *e;
  char *p;

  /* Flip one hex digit of the pin. */
  wrong = g_strdup (invitation);
  p = strstr (wrong, "pin=sha256:");
  g_assert_nonnull (p);
  p += strlen ("pin=sha256:");
  *p = *p == '0' ? '1' : '0';
  extra[1] = wrong;
  gw = t_gateway_start (gw_dir, extra);
  e = t_gateway_wait_type (gw, "enrollment", 20000);
  g_assert_nonnull (e);
  pin = json_object_get_string_member (json_object_get_object_member (e, "error"), "code");
  g_assert_cmpstr (pin, ==, "pin_mismatch");
  g_assert_true (t_gateway_wait_exit (gw, 10000));
  g_assert_cmpint (g_subprocess_get_exit_status (gw->proc), ==, 3);

  /* The right pin still works: the code was not spent. */
  {
    const char *again[] = { "--enroll", invitation, NULL };
    g_autoptr(TGateway) ok = t_gateway_start (gw_dir, again);

    e = t_gateway_wait_type (ok, "enrollment", 20000);
    g_assert_nonnull (e);
    g_assert_false (json_object_has_member (e, "error"));
    g_assert_cmpint (t_gateway_stop (ok), ==, 0);
  }
  t_server_stop (server);
}

/* Re-key (§5.3): same ID, name and history; a new key. */
static void
test_rekey (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *pne_id = NULL, *key1 = NULL, *key2 = NULL, *pne_id2 = NULL, *line = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  key1 = t_pne_credential (fx.pne_dir, "key_id");

  line = g_strdup_printf ("rekey %s", pne_id);
  t_gateway_send (fx.gw, line);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3a", "skipped", 5000));
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  do
    e = t_gateway_wait_step (fx.gw, "3e", "done", 5000);
  while (e && g_strcmp0 (json_object_get_string_member (json_object_get_object_member (e, "step"), "flow"),
                         "rekey") != 0);
  g_assert_nonnull (e);
  pne_id2 = t_pne_credential (fx.pne_dir, "pne_id");
  key2 = t_pne_credential (fx.pne_dir, "key_id");
  g_assert_cmpstr (pne_id2, ==, pne_id);
  g_assert_cmpstr (key2, !=, key1);
  g_assert_cmpint (t_server_count_entities (fx.server), ==, 1);
  /* The new key works. */
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  g_assert_true (wait_server_state (fx.server, pne_id, "disconnected", 5000));
  fixture_stop (&fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/flow/full/server-keys", test_full_flow_server_keys);
  g_test_add_func ("/gateway/flow/full/gateway-keys", test_full_flow_gateway_keys);
  g_test_add_func ("/gateway/flow/pairing/3a-skip", test_pairing_skips_3a);
  g_test_add_func ("/gateway/flow/pairing/wrong-code", test_wrong_code_rejected);
  g_test_add_func ("/gateway/flow/connection/pin-mismatch", test_pin_mismatch_on_reconnect);
  g_test_add_func ("/gateway/flow/pairing/discovery", test_pairing_by_discovery);
  g_test_add_func ("/gateway/flow/pairing/pick-discovered", test_pair_discovered);
  g_test_add_func ("/gateway/flow/rekey", test_rekey);
  g_test_add_func ("/gateway/session/server-pin-mismatch", test_server_pin_mismatch);
  return g_test_run ();
}
