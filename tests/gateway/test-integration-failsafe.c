/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Failures: the fail-safe of §4.4, a gateway killed mid-pairing, wrong
 * proofs and the lockout. A scripted device ("raw PNE", libcpns on a
 * TLS client channel) stops exactly where each case needs it to. */
#include "config.h"

#include "cpns-base64.h"
#include "cpns-ids.h"
#include "cpns-message.h"
#include "cpns-tls.h"
#include "gw-test-fixture.h"

typedef struct
{
  GSocketConnection *connection;
  CpnsTlsChannel    *channel;
  GQueue             messages;
  gboolean           closed;
} RawPne;

static void
on_raw_message (CpnsTlsChannel *channel,
                CpnsMessage    *msg,
                gpointer        data)
{
  RawPne *raw = data;

  g_queue_push_tail (&raw->messages, cpns_message_ref (msg));
}

static void
on_raw_closed (CpnsTlsChannel *channel,
               const GError   *error,
               gpointer        data)
{
  RawPne *raw = data;

  raw->closed = TRUE;
}

static void
on_raw_handshake (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  gboolean *done = data;
  g_autoptr(GError) error = NULL;

  cpns_tls_channel_handshake_finish (CPNS_TLS_CHANNEL (source), result, &error);
  g_assert_no_error (error);
  *done = TRUE;
}

static RawPne *
raw_connect (guint16 port)
{
  RawPne *raw = g_new0 (RawPne, 1);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;

  raw->connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  raw->channel = cpns_tls_channel_new_client (G_IO_STREAM (raw->connection), NULL);
  g_signal_connect (raw->channel, "message-received", G_CALLBACK (on_raw_message), raw);
  g_signal_connect (raw->channel, "closed", G_CALLBACK (on_raw_closed), raw);
  cpns_tls_channel_handshake_async (raw->channel, 5000, NULL, on_raw_handshake, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  cpns_tls_channel_start (raw->channel);
  return raw;
}

static CpnsMessage *
raw_wait (RawPne     *raw,
          const char *kind,
          guint       timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  CpnsMessage *msg;

  while (g_queue_is_empty (&raw->messages) && !raw->closed && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  msg = g_queue_pop_head (&raw->messages);
  g_assert_nonnull (msg);
  if (kind)
    g_assert_cmpstr (cpns_message_get_kind (msg), ==, kind);
  return msg;
}

static void
raw_free (RawPne *raw)
{
  g_signal_handlers_disconnect_by_data (raw->channel, raw);
  cpns_tls_channel_close (raw->channel);
  t_sleep (20);
  g_queue_clear_full (&raw->messages, (GDestroyNotify) cpns_message_unref);
  g_object_unref (raw->channel);
  g_object_unref (raw->connection);
  g_free (raw);
}

/* Pairs up to the key and returns the pne_id; the channel stays open. */
static char *
raw_pair_until_key (RawPne *raw)
{
  g_autoptr(CpnsMessage) req = cpns_message_new ("pairing_request");
  g_autoptr(CpnsMessage) nonce = cpns_message_new ("pairing_nonce");
  g_autoptr(CpnsMessage) idreq = cpns_message_new ("pne_id_request");
  g_autoptr(JsonObject) entity = json_object_new ();
  g_autoptr(CpnsMessage) commit = NULL;
  g_autoptr(CpnsMessage) reveal = NULL;
  g_autoptr(CpnsMessage) response = NULL;
  g_autoptr(CpnsMessage) idresp = NULL;
  g_autoptr(CpnsMessage) key = NULL;
  guint8 n_p[CPNS_NONCE_LEN];

  json_object_set_string_member (entity, "name", "Scripted device");
  json_object_set_string_member (entity, "entity_type", "other");
  cpns_message_set_object (req, "entity", entity);
  cpns_message_set_bool (req, "has_credentials", FALSE);
  cpns_tls_channel_send (raw->channel, req);
  commit = raw_wait (raw, "pairing_commit", 10000);
  cpns_random_nonce (n_p, sizeof n_p);
  cpns_message_set_bytes (nonce, "n_p", n_p, sizeof n_p);
  cpns_tls_channel_send (raw->channel, nonce);
  reveal = raw_wait (raw, "pairing_reveal", 10000);
  response = raw_wait (raw, "pairing_response", 10000);
  g_assert_false (cpns_message_get_bool (response, "credentials_accepted"));
  cpns_tls_channel_send (raw->channel, idreq);
  idresp = raw_wait (raw, "pne_id_response", 10000);
  key = raw_wait (raw, "key_assignment_request", 20000);
  g_assert_cmpstr (cpns_message_get_string (key, "pne_id"), ==, cpns_message_get_string (idresp, "pne_id"));
  return g_strdup (cpns_message_get_string (idresp, "pne_id"));
}

/* The device got its key and vanished before confirming: §4.4 fail-safe. */
static void
test_failsafe_rollback (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  g_autofree char *pne_id = NULL;
  RawPne *raw;
  JsonObject *e;

  fixture_start (&fx, extra);
  raw = raw_connect (fx.gw->port);
  pne_id = raw_pair_until_key (raw);
  g_assert_true (wait_server_state (fx.server, pne_id, "pending", 5000));
  raw_free (raw);   /* gone before key_assignment_response */

  e = t_gateway_wait_step (fx.gw, "3e", "failed", 10000);
  g_assert_nonnull (e);
  /* Deleted on the server, forgotten here. */
  g_assert_true (wait_server_state (fx.server, pne_id, NULL, 10000));
  for (guint i = 0; i < fx.gw->events->len; i++)
    {
      JsonObject *ev = g_ptr_array_index (fx.gw->events, i);

      if (g_str_equal (json_object_get_string_member (ev, "type"), "entity_changed"))
        g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (ev, "entity"), "pne_id"),
                         !=, pne_id);
    }
  fixture_stop (&fx);
}

/* The gateway dies mid-pairing; on its next start no orphan remains. */
static void
test_gateway_killed_mid_pairing (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  const char *restart[] = { "--connect", NULL };
  g_autofree char *pne_id = NULL;
  g_autofree char *gw_dir = NULL;
  RawPne *raw;

  fixture_start (&fx, extra);
  gw_dir = g_strdup (fx.gw->dir);
  raw = raw_connect (fx.gw->port);
  pne_id = raw_pair_until_key (raw);
  t_gateway_kill (fx.gw);
  raw_free (raw);
  g_clear_pointer (&fx.gw, t_gateway_free);
  g_assert_true (wait_server_state (fx.server, pne_id, "pending", 2000));

  fx.gw = t_gateway_start (gw_dir, restart);
  g_assert_nonnull (t_gateway_wait_session (fx.gw, "connected", 15000));
  g_assert_true (wait_server_state (fx.server, pne_id, NULL, 10000));
  /* The step left running when it died is in the history as failed. */
  fx.gw->cursor = 0;
  g_assert_nonnull (t_gateway_wait_step (fx.gw, "3e", "failed", 1000));
  fixture_stop (&fx);
}

/* Connection setup with a wrong proof: auth_failed, and after five of
 * them the server locks the device out. */
static void
test_wrong_proof_lockout (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *pne_id = NULL;
  g_autofree char *pn_id = NULL;
  guint failures = 0;
  gboolean locked = FALSE;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  pn_id = t_pne_credential (fx.pne_dir, "pn_id");

  for (guint attempt = 0; attempt < 8 && !locked; attempt++)
    {
      RawPne *raw = raw_connect (fx.gw->port);
      g_autoptr(CpnsMessage) req = cpns_message_new ("connection_setup_request");
      g_autoptr(CpnsMessage) challenge = NULL;
      guint8 nonce[CPNS_NONCE_LEN], proof[CPNS_MAC_LEN];

      cpns_random_nonce (nonce, sizeof nonce);
      cpns_message_set_string (req, "pne_id", pne_id);
      cpns_message_set_string (req, "pn_id", pn_id);
      cpns_message_set_bytes (req, "nonce_p", nonce, sizeof nonce);
      cpns_tls_channel_send (raw->channel, req);
      challenge = raw_wait (raw, NULL, 10000);
      if (g_str_equal (cpns_message_get_kind (challenge), "auth_challenge"))
        {
          g_autoptr(CpnsMessage) resp = cpns_message_new ("auth_response");
          g_autoptr(CpnsMessage) answer = NULL;

          cpns_random_key (proof, sizeof proof);   /* not made with the EUK */
          cpns_message_set_string (resp, "auth_id", cpns_message_get_string (challenge, "auth_id"));
          cpns_message_set_bytes (resp, "pne_proof", proof, sizeof proof);
          cpns_tls_channel_send (raw->channel, resp);
          answer = raw_wait (raw, "error", 10000);
          g_assert_cmpstr (cpns_message_get_string (answer, "code"), ==, "auth_failed");
          failures++;
        }
      else
        {
          g_assert_cmpstr (cpns_message_get_kind (challenge), ==, "error");
          g_assert_cmpstr (cpns_message_get_string (challenge, "code"), ==, "locked_out");
          g_assert_true (cpns_message_has (challenge, "retry_after"));
          locked = TRUE;
        }
      raw_free (raw);
    }
  g_assert_cmpuint (failures, ==, 5);
  g_assert_true (locked);
  fixture_stop (&fx);
}

/* The device's key does not match the server's: the server's proof does
 * not verify on the device, which refuses (server_auth_failed). */
static void
test_device_refuses_server_proof (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  guint8 other[CPNS_KEY_LEN];
  g_autofree char *encoded = NULL;
  JsonObject *e;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  cpns_random_key (other, sizeof other);
  encoded = cpns_base64url_encode (other, sizeof other);
  t_pne_set_credential (fx.pne_dir, "euk", encoded);
  g_assert_cmpint (t_pne_run (PNE_TIMEOUT_MS, "connect", "--once", "--state-dir", fx.pne_dir, NULL),
                   ==, 3);
  e = t_gateway_wait_step (fx.gw, "4c", "failed", 5000);
  g_assert_nonnull (e);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (json_object_get_object_member (e, "step"), "error"), "code"),
                   ==, "server_auth_failed");
  fixture_stop (&fx);
}

/* A device that stops answering pings is dropped after three heartbeats. */
static void
test_heartbeat_drop (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", "--heartbeat", "1", NULL };
  g_autofree char *pne_id = NULL, *pn_id = NULL, *euk_text = NULL;
  g_autoptr(CpnsMessage) req = cpns_message_new ("connection_setup_request");
  g_autoptr(CpnsMessage) challenge = NULL, resp = NULL, confirm = NULL, msg = NULL;
  guint8 euk[CPNS_KEY_LEN], nonce_p[CPNS_NONCE_LEN], nonce_s[CPNS_NONCE_LEN];
  guint8 proof[CPNS_MAC_LEN], key[CPNS_KEY_LEN], exporter[CPNS_EXPORTER_LEN], mac[CPNS_MAC_LEN];
  const char *gateway_id;
  char *session_id = NULL;
  guint pings = 0;
  gint64 start;
  RawPne *raw;

  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  pn_id = t_pne_credential (fx.pne_dir, "pn_id");
  euk_text = t_pne_credential (fx.pne_dir, "euk");
  g_assert_true (cpns_base64url_decode_exact (euk_text, euk, sizeof euk));

  /* A full §4.5 setup by hand. */
  raw = raw_connect (fx.gw->port);
  cpns_random_nonce (nonce_p, sizeof nonce_p);
  cpns_message_set_string (req, "pne_id", pne_id);
  cpns_message_set_string (req, "pn_id", pn_id);
  cpns_message_set_bytes (req, "nonce_p", nonce_p, sizeof nonce_p);
  cpns_tls_channel_send (raw->channel, req);
  challenge = raw_wait (raw, "auth_challenge", 10000);
  gateway_id = cpns_message_get_string (challenge, "gateway_id");
  g_assert_true (cpns_message_get_bytes (challenge, "nonce_s", nonce_s, sizeof nonce_s));
  cpns_pne_auth_proof (euk, pne_id, gateway_id, nonce_s, nonce_p, proof);
  resp = cpns_message_new ("auth_response");
  cpns_message_set_string (resp, "auth_id", cpns_message_get_string (challenge, "auth_id"));
  cpns_message_set_bytes (resp, "pne_proof", proof, sizeof proof);
  cpns_tls_channel_send (raw->channel, resp);
  do
    {
      g_clear_pointer (&msg, cpns_message_unref);
      msg = raw_wait (raw, NULL, 10000);
    }
  while (g_str_equal (cpns_message_get_kind (msg), "authorization_pending"));
  g_assert_cmpstr (cpns_message_get_kind (msg), ==, "authorization_result");
  session_id = g_strdup (cpns_message_get_string (msg, "session_id"));
  cpns_session_key (euk, nonce_p, nonce_s, pne_id, gateway_id, session_id, key);
  g_assert_true (cpns_tls_channel_export (raw->channel, CPNS_EXPORTER_SESSION_BINDING, exporter, NULL));
  cpns_pne_session_confirm (key, session_id, exporter, mac);
  confirm = cpns_message_new ("session_key_confirm");
  cpns_message_set_bytes (confirm, "mac", mac, sizeof mac);
  cpns_tls_channel_send (raw->channel, confirm);
  g_clear_pointer (&msg, cpns_message_unref);
  msg = raw_wait (raw, "session_key_confirm_ack", 10000);
  g_clear_pointer (&msg, cpns_message_unref);
  msg = raw_wait (raw, "connection_setup_complete", 10000);
  g_assert_cmpstr (cpns_message_get_string (msg, "session_id"), ==, session_id);

  /* Now silent: pings come every second, then the gateway gives up. */
  start = g_get_monotonic_time ();
  while (!raw->closed && g_get_monotonic_time () - start < 10 * G_USEC_PER_SEC)
    {
      CpnsMessage *m = g_queue_pop_head (&raw->messages);

      if (m)
        {
          if (g_str_equal (cpns_message_get_kind (m), "ping"))
            pings++;
          cpns_message_unref (m);
        }
      else
        t_sleep (10);
    }
  g_assert_true (raw->closed);
  g_assert_cmpuint (pings, >=, 2);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  g_assert_true (wait_server_state (fx.server, pne_id, "disconnected", 5000));
  cpns_wipe (euk, sizeof euk);
  cpns_wipe (key, sizeof key);
  g_free (session_id);
  raw_free (raw);
  fixture_stop (&fx);
}

static gboolean
closed_soon (GSocket *socket,
             guint    timeout_ms)
{
  char buf[16];
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  g_socket_set_blocking (socket, FALSE);
  while (g_get_monotonic_time () < end)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (socket, buf, sizeof buf, NULL, &error);

      if (n == 0 || (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
        return TRUE;
      g_usleep (5000);
    }
  return FALSE;
}

/* §4.3: at most 4 unauthenticated connections per address; the handshake
 * must finish within 2 s. */
static void
test_unauthenticated_limits (void)
{
  Fixture fx = { 0 };
  const char *extra[] = { "--confirm-pairing", "always", NULL };
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  GSocketConnection *conns[5];
  gint64 start;

  fixture_start (&fx, extra);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GError) error = NULL;

      conns[i] = g_socket_client_connect_to_host (client, "127.0.0.1", fx.gw->port, NULL, &error);
      g_assert_no_error (error);
      t_sleep (50);
    }
  /* The fifth is closed at once, the first four are not. */
  g_assert_true (closed_soon (g_socket_connection_get_socket (conns[4]), 1000));
  g_assert_false (closed_soon (g_socket_connection_get_socket (conns[0]), 300));
  /* No handshake within 2 s: closed. */
  start = g_get_monotonic_time ();
  g_assert_true (closed_soon (g_socket_connection_get_socket (conns[1]), 4000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  for (guint i = 0; i < 5; i++)
    g_object_unref (conns[i]);
  /* And the gateway still serves. */
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  fixture_stop (&fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gateway/failsafe/rollback", test_failsafe_rollback);
  g_test_add_func ("/gateway/failsafe/gateway-killed", test_gateway_killed_mid_pairing);
  g_test_add_func ("/gateway/failsafe/wrong-proof-lockout", test_wrong_proof_lockout);
  g_test_add_func ("/gateway/failsafe/device-refuses-server-proof", test_device_refuses_server_proof);
  g_test_add_func ("/gateway/limits/unauthenticated", test_unauthenticated_limits);
  g_test_add_func ("/gateway/heartbeat/drop", test_heartbeat_drop);
  return g_test_run ();
}
