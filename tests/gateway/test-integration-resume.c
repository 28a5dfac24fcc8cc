/* SPDX-License-Identifier: GPL-3.0-or-later */
/* §4.6 resume while the server is down (and the inventory catching up),
 * §4.7 revocation. */
#include "config.h"

#include "cpns-crypto.h"
#include "gw-test-fixture.h"

static const char *
step_flow (JsonObject *event)
{
  return json_object_get_string_member (json_object_get_object_member (event, "step"), "flow");
}

static void
test_resume_while_server_down (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *pne_id = NULL;
  g_autofree char *srv_dir = NULL;
  g_autoptr(TPne) pne = NULL;
  guint16 port;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL), ==, 0);
  g_assert_true (wait_server_state (fx.server, pne_id, "disconnected", 5000));

  /* The server goes away. */
  port = fx.server->port;
  srv_dir = g_strdup (fx.server->dir);
  t_server_stop (fx.server);
  g_clear_pointer (&fx.server, t_server_free);
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "retrying", 10000));

  /* The device resumes with its PSK: no server needed. */
  pne = t_pne_spawn ("connect", "--state-dir", fx.pne_dir, NULL);
  e = t_gateway_wait_step (fx.gw, "5a", "done", PNE_TIMEOUT_MS);
  g_assert_nonnull (e);
  g_assert_cmpstr (step_flow (e), ==, "resume");
  g_assert_nonnull (strstr (json_object_get_string_member (json_object_get_object_member (e, "step"), "detail"),
                            "queued"));
  e = t_gateway_wait_step (fx.gw, "5b", "done", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (step_flow (e), ==, "resume");

  /* The server comes back: the gateway reconnects by itself and the
   * queued inventory update reaches it. */
  fx.server = t_server_start (srv_dir, port);
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "connected", 20000));
  g_assert_true (wait_server_state (fx.server, pne_id, "connected", 10000));

  g_subprocess_send_signal (pne->proc, SIGINT);
  t_pne_wait (pne, 10000);
  g_assert_true (wait_server_state (fx.server, pne_id, "disconnected", 5000));
  fixture_stop (&fx);
}

static void
test_revocation (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always",
                          "--heartbeat", "5", NULL };
  g_autofree char *pne_id = NULL;
  g_autoptr(TPne) pne = NULL;
  g_autofree char *creds = NULL;
  g_autofree char *saved = NULL;
  gsize saved_len = 0;
  gint64 start;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  pne = t_pne_spawn ("connect", "--state-dir", fx.pne_dir, NULL);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "5b", "done", PNE_TIMEOUT_MS));

  /* A copy of the credentials as they were (the device discards them when
   * told it is revoked; a device that missed that would still try). */
  creds = g_build_filename (fx.pne_dir, "credentials", NULL);
  g_assert_true (g_file_get_contents (creds, &saved, &saved_len, NULL));

  start = g_get_monotonic_time ();
  g_assert_cmpint (t_server_cli (fx.server, "entity", "revoke", "alice", pne_id, NULL), ==, 0);
  /* Disconnected within one heartbeat, told why. */
  g_assert_cmpint (t_pne_wait (pne, 10000), ==, 8);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  e = t_gateway_wait_type (fx.gw, "entity_changed", 5000);
  while (e && g_strcmp0 (json_object_get_string_member (json_object_get_object_member (e, "entity"), "state"),
                         "revoked") != 0)
    e = t_gateway_wait_type (fx.gw, "entity_changed", 5000);
  g_assert_nonnull (e);

  /* Its PSK is refused; a full setup is refused by the server. */
  g_assert_true (g_file_set_contents_full (creds, saved, saved_len, G_FILE_SET_CONTENTS_CONSISTENT,
                                           0600, NULL));
  cpns_wipe (saved, saved_len);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL),
                   ==, 8);
  g_assert_null (t_gateway_wait_step (fx.gw, "5b", "done", 500));
  fixture_stop (&fx);
}

/* Trigger II while the server is briefly away: the device waits (no
 * error) and the pairing completes once the server is back. */
static void
test_pairing_waits_for_server (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  g_autofree char *srv_dir = NULL;
  g_autoptr(TPne) pne = NULL;
  guint16 port;

  fixture_start (&fx, extra);
  port = fx.server->port;
  srv_dir = g_strdup (fx.server->dir);
  t_server_stop (fx.server);
  g_clear_pointer (&fx.server, t_server_free);

  pne = t_pne_spawn ("pair", "--gateway", fx.address, "--name", "Patient", "--type", "sensor",
                     "--yes", "--state-dir", fx.pne_dir, NULL);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "1", "running", PNE_TIMEOUT_MS));
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "retrying", 10000));
  t_sleep (1500);
  fx.server = t_server_start (srv_dir, port);
  g_assert_cmpint (t_pne_wait (pne, PNE_TIMEOUT_MS), ==, 0);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "1", "done", 1000));
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "done", 5000));
  fixture_stop (&fx);
}

/* Revoked while the gateway could not hear about it: applied when the
 * gateway reconnects (it reads the inventory). */
static void
test_revocation_while_away (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *pne_id = NULL;
  g_autofree char *srv_dir = NULL;
  g_autoptr(TPne) pne = NULL;
  guint16 port;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  pne = t_pne_spawn ("connect", "--state-dir", fx.pne_dir, NULL);
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "5b", "done", PNE_TIMEOUT_MS));

  port = fx.server->port;
  srv_dir = g_strdup (fx.server->dir);
  t_server_stop (fx.server);
  g_assert_cmpint (t_server_cli (fx.server, "entity", "revoke", "alice", pne_id, NULL), ==, 0);
  g_clear_pointer (&fx.server, t_server_free);
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "retrying", 10000));
  fx.server = t_server_start (srv_dir, port);
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "connected", 20000));
  g_assert_cmpint (t_pne_wait (pne, 10000), ==, 8);
  fixture_stop (&fx);
}

/* The server's session token lasts 6 s here: the gateway renews it
 * before it expires, without dropping to "connecting" or "retrying". */
static void
test_token_refresh (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", "--connect", NULL };
  gint64 first_expiry, expiry = 0;
  guint renewals = 0;
  JsonObject *e;

  t_server_set_test_timings ("session=6,expiring=2");
  fixture_start (&fx, extra);
  e = t_gateway_wait_session (fx.gw, "connected", 10000);
  g_assert_nonnull (e);
  first_expiry = json_object_get_int_member (json_object_get_object_member (e, "session"), "expires_at");
  while (renewals < 2 && (e = t_gateway_wait_type (fx.gw, "session", 10000)) != NULL)
    {
      JsonObject *session = json_object_get_object_member (e, "session");

      g_assert_cmpstr (json_object_get_string_member (session, "state"), ==, "connected");
      expiry = json_object_get_int_member (session, "expires_at");
      renewals++;
    }
  g_assert_cmpuint (renewals, ==, 2);
  g_assert_cmpint (expiry, >, first_expiry);
  /* The renewed session serves a pairing. */
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  fixture_stop (&fx);
  t_server_set_test_timings (NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/resume/server-down", test_resume_while_server_down);
  g_test_add_func ("/gateway/revocation", test_revocation);
  g_test_add_func ("/gateway/session/token-refresh", test_token_refresh);
  g_test_add_func ("/gateway/revocation/while-away", test_revocation_while_away);
  g_test_add_func ("/gateway/session/trigger-2-waits", test_pairing_waits_for_server);
  return g_test_run ();
}
