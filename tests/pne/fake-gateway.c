/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "fake-gateway"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpns.h"
#include "fake-gateway.h"

typedef struct
{
  guint8 key[CPNS_KEY_LEN];
  char  *pne_id;
} FakeSession;

typedef struct
{
  FakeGateway    *fake;
  CpnsTlsChannel *channel;
  guint8          n_g[CPNS_NONCE_LEN];
  char           *pne_id;
  gboolean        has_credentials;
  guint8          nonce_p[CPNS_NONCE_LEN];
  guint8          nonce_s[CPNS_NONCE_LEN];
  char           *auth_id;
  char           *session_id;
  guint8          session_key[CPNS_KEY_LEN];
  gboolean        connected;
} FakeConn;

struct _FakeGateway
{
  CpnsCertificate     *cert;
  GSocketService      *service;
  char                *address;
  char                *gateway_id;
  char                *pn_id;
  FakeFlags            flags;
  FakeRecord           record;
  GHashTable          *keys;       /* pne_id → euk */
  GHashTable          *sessions;   /* session_id → FakeSession */
  GPtrArray           *conns;
  CpnsDiscoverySocket *discovery;
  char                *discovery_address;
  gboolean             discovery_closed;
};

static void
fake_session_free (gpointer data)
{
  FakeSession *session = data;

  cpns_wipe (session->key, CPNS_KEY_LEN);
  g_free (session->pne_id);
  g_free (session);
}

static void
fake_conn_free (gpointer data)
{
  FakeConn *conn = data;

  if (conn->channel != NULL)
    {
      g_signal_handlers_disconnect_by_data (conn->channel, conn);
      cpns_tls_channel_close (conn->channel);
      g_clear_object (&conn->channel);
    }
  g_free (conn->pne_id);
  g_free (conn->auth_id);
  g_free (conn->session_id);
  cpns_wipe (conn->session_key, CPNS_KEY_LEN);
  g_free (conn);
}

static void
record (FakeGateway *fake,
        const char  *kind)
{
  g_ptr_array_add (fake->record.received, g_strdup (kind));
}

gboolean
fake_record_has (FakeRecord *rec,
                 const char *kind)
{
  for (guint i = 0; i < rec->received->len; i++)
    if (g_str_equal (g_ptr_array_index (rec->received, i), kind))
      return TRUE;
  return FALSE;
}

static void
send_msg (FakeConn    *conn,
          CpnsMessage *msg)
{
  cpns_tls_channel_send (conn->channel, msg);
}

static void
send_error (FakeConn      *conn,
            CpnsErrorCode  code,
            const char    *message)
{
  g_autoptr(GError) error = g_error_new_literal (CPNS_ERROR, code, message);

  cpns_tls_channel_send_error_and_close (conn->channel, error);
}

static void
export (FakeConn   *conn,
        const char *label,
        guint8      out[CPNS_EXPORTER_LEN])
{
  g_autoptr(GError) error = NULL;

  g_assert_true (cpns_tls_channel_export (conn->channel, label, out, &error));
  g_assert_no_error (error);
}

static void
send_pairing_complete (FakeConn *conn)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("pairing_complete");

  cpns_message_set_string (msg, "pne_id", conn->pne_id);
  cpns_message_set_string (msg, "pn_id", conn->fake->pn_id);
  cpns_message_set_string (msg, "gateway_id", conn->fake->gateway_id);
  send_msg (conn, msg);
  cpns_tls_channel_close (conn->channel);
}

static void
send_setup_complete (FakeConn *conn)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("connection_setup_complete");
  g_autoptr(GDateTime) expires = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) later = g_date_time_add_hours (expires, 24);
  const char *none[] = { NULL };

  cpns_message_set_string (msg, "session_id", conn->session_id);
  cpns_message_set_string (msg, "pn_id", conn->fake->pn_id);
  cpns_message_set_time (msg, "expires_at", later);
  cpns_message_set_strv (msg, "granted_services", none);
  send_msg (conn, msg);
  conn->connected = TRUE;
}

static void
send_authorization (FakeConn *conn)
{
  FakeGateway *fake = conn->fake;
  g_autoptr(CpnsMessage) msg = cpns_message_new ("authorization_result");
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) later = g_date_time_add_hours (now, 24);
  const char *none[] = { NULL };
  const guint8 *euk = g_hash_table_lookup (fake->keys, conn->pne_id);
  FakeSession *session;

  conn->session_id = cpns_id_new (CPNS_ID_SESSION);
  cpns_session_key (euk, conn->nonce_p, conn->nonce_s, conn->pne_id, fake->gateway_id,
                    conn->session_id, conn->session_key);
  session = g_new0 (FakeSession, 1);
  memcpy (session->key, conn->session_key, CPNS_KEY_LEN);
  session->pne_id = g_strdup (conn->pne_id);
  g_hash_table_replace (fake->sessions, g_strdup (conn->session_id), session);

  cpns_message_set_string (msg, "decision", "allow");
  cpns_message_set_string (msg, "session_id", conn->session_id);
  cpns_message_set_time (msg, "expires_at", later);
  cpns_message_set_strv (msg, "granted_services", none);
  send_msg (conn, msg);
}

static gboolean
send_authorization_later (gpointer user_data)
{
  FakeConn *conn = user_data;

  if (conn->channel != NULL && !cpns_tls_channel_is_closed (conn->channel))
    send_authorization (conn);
  return G_SOURCE_REMOVE;
}

static void
on_message (CpnsTlsChannel *channel,
            CpnsMessage    *msg,
            gpointer        user_data)
{
  FakeConn *conn = user_data;
  FakeGateway *fake = conn->fake;
  const char *kind = cpns_message_get_kind (msg);
  guint8 exporter[CPNS_EXPORTER_LEN];

  if (g_str_equal (kind, "error"))
    {
      g_autofree char *entry = g_strdup_printf ("error:%s",
                                                cpns_message_get_string (msg, "code"));
      record (fake, entry);
      return;
    }
  record (fake, kind);
  if (fake->flags & FAKE_SILENT)
    return;

  if (g_str_equal (kind, "ping"))
    {
      g_autoptr(CpnsMessage) pong = cpns_message_new ("pong");

      send_msg (conn, pong);
    }
  else if (g_str_equal (kind, "bye"))
    {
      cpns_tls_channel_close (channel);
    }
  else if (g_str_equal (kind, "pairing_request"))
    {
      g_autoptr(CpnsMessage) commit = cpns_message_new ("pairing_commit");
      guint8 commitment[32];

      conn->has_credentials = cpns_message_get_bool (msg, "has_credentials");
      fake->record.has_credentials_seen = conn->has_credentials;
      if (conn->has_credentials)
        conn->pne_id = g_strdup (cpns_message_get_string (msg, "pne_id"));
      cpns_random_nonce (conn->n_g, CPNS_NONCE_LEN);
      export (conn, CPNS_EXPORTER_PAIRING, exporter);
      cpns_pairing_commitment (exporter, conn->n_g, commitment);
      cpns_message_set_bytes (commit, "commitment", commitment, sizeof commitment);
      send_msg (conn, commit);
    }
  else if (g_str_equal (kind, "pairing_nonce"))
    {
      g_autoptr(CpnsMessage) reveal = cpns_message_new ("pairing_reveal");
      g_autoptr(CpnsMessage) response = cpns_message_new ("pairing_response");
      guint8 n_p[CPNS_NONCE_LEN];
      guint8 n_g[CPNS_NONCE_LEN];
      gboolean accept_creds;

      g_assert_true (cpns_message_get_bytes (msg, "n_p", n_p, CPNS_NONCE_LEN));
      memcpy (n_g, conn->n_g, CPNS_NONCE_LEN);
      if (fake->flags & FAKE_BAD_COMMITMENT)
        n_g[0] ^= 0x01;
      cpns_message_set_bytes (reveal, "n_g", n_g, CPNS_NONCE_LEN);
      send_msg (conn, reveal);

      export (conn, CPNS_EXPORTER_PAIRING, exporter);
      g_free (fake->record.code);
      fake->record.code = cpns_pairing_code_format (cpns_pairing_code (exporter, n_g, n_p),
                                                    TRUE);
      /* The gateway's user confirms at once. */
      accept_creds = conn->has_credentials && !(fake->flags & FAKE_REJECT_CREDENTIALS)
                     && conn->pne_id != NULL
                     && g_hash_table_contains (fake->keys, conn->pne_id);
      cpns_message_set_string (response, "result", "accepted");
      cpns_message_set_string (response, "gateway_id", fake->gateway_id);
      cpns_message_set_string (response, "pn_id", fake->pn_id);
      cpns_message_set_string (response, "name", "Fake Gateway");
      if (fake->flags & FAKE_WRONG_CERT_IN_RESPONSE)
        cpns_message_set_string (response, "cert_sha256",
                                 "00000000000000000000000000000000"
                                 "00000000000000000000000000000000");
      else
        cpns_message_set_string (response, "cert_sha256", cpns_certificate_get_sha256 (fake->cert));
      cpns_message_set_bool (response, "credentials_accepted", accept_creds);
      send_msg (conn, response);
      if (accept_creds)
        send_pairing_complete (conn);
    }
  else if (g_str_equal (kind, "pne_id_request"))
    {
      g_autoptr(CpnsMessage) id_msg = cpns_message_new ("pne_id_response");
      g_autoptr(CpnsMessage) key_msg = cpns_message_new ("key_assignment_request");
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *key_id = cpns_id_new (CPNS_ID_KEY);
      guint8 euk[CPNS_KEY_LEN];

      g_free (conn->pne_id);
      conn->pne_id = cpns_id_new (CPNS_ID_PNE);
      g_free (fake->record.last_pne_id);
      fake->record.last_pne_id = g_strdup (conn->pne_id);
      cpns_message_set_string (id_msg, "pne_id", conn->pne_id);
      cpns_message_set_string (id_msg, "pn_id", fake->pn_id);
      send_msg (conn, id_msg);

      cpns_random_key (euk, CPNS_KEY_LEN);
      g_hash_table_replace (fake->keys, g_strdup (conn->pne_id), g_memdup2 (euk, CPNS_KEY_LEN));
      cpns_message_set_string (key_msg, "pne_id", conn->pne_id);
      cpns_message_set_string (key_msg, "key_id", key_id);
      cpns_message_set_bytes (key_msg, "euk", euk, CPNS_KEY_LEN);
      cpns_message_set_string (key_msg, "mode", "server");
      cpns_message_set_time (key_msg, "issued_at", now);
      send_msg (conn, key_msg);
      cpns_wipe (euk, CPNS_KEY_LEN);
      if (fake->flags & FAKE_CLOSE_AFTER_KEY)
        cpns_tls_channel_close (channel);
    }
  else if (g_str_equal (kind, "key_assignment_response"))
    {
      const guint8 *euk = g_hash_table_lookup (fake->keys, conn->pne_id);
      guint8 expected[CPNS_MAC_LEN], got[CPNS_MAC_LEN];

      cpns_key_confirm (euk, conn->pne_id, cpns_message_get_string (msg, "key_id"), expected);
      g_assert_true (cpns_message_get_bytes (msg, "key_confirm", got, CPNS_MAC_LEN));
      fake->record.key_confirm_ok = memcmp (expected, got, CPNS_MAC_LEN) == 0;
      if (fake->flags & FAKE_SKIP_PAIRING_COMPLETE)
        cpns_tls_channel_close (channel);
      else
        send_pairing_complete (conn);
    }
  else if (g_str_equal (kind, "connection_setup_request"))
    {
      g_autoptr(CpnsMessage) challenge = cpns_message_new ("auth_challenge");
      const guint8 *euk;
      guint8 proof[CPNS_MAC_LEN];

      conn->pne_id = g_strdup (cpns_message_get_string (msg, "pne_id"));
      euk = g_hash_table_lookup (fake->keys, conn->pne_id);
      if (euk == NULL)
        {
          send_error (conn, CPNS_ERROR_NOT_FOUND, "unknown entity");
          return;
        }
      g_assert_true (cpns_message_get_bytes (msg, "nonce_p", conn->nonce_p, CPNS_NONCE_LEN));
      cpns_random_nonce (conn->nonce_s, CPNS_NONCE_LEN);
      conn->auth_id = cpns_id_new (CPNS_ID_AUTH);
      cpns_server_auth_proof (euk, conn->pne_id, fake->gateway_id, conn->nonce_p,
                              conn->nonce_s, proof);
      if (fake->flags & FAKE_WRONG_SERVER_PROOF)
        proof[5] ^= 0x40;
      cpns_message_set_string (challenge, "auth_id", conn->auth_id);
      cpns_message_set_string (challenge, "gateway_id", fake->gateway_id);
      cpns_message_set_bytes (challenge, "nonce_s", conn->nonce_s, CPNS_NONCE_LEN);
      cpns_message_set_bytes (challenge, "server_proof", proof, CPNS_MAC_LEN);
      send_msg (conn, challenge);
    }
  else if (g_str_equal (kind, "auth_response"))
    {
      const guint8 *euk = g_hash_table_lookup (fake->keys, conn->pne_id);
      guint8 expected[CPNS_MAC_LEN], got[CPNS_MAC_LEN];

      cpns_pne_auth_proof (euk, conn->pne_id, fake->gateway_id, conn->nonce_s, conn->nonce_p,
                           expected);
      g_assert_true (cpns_message_get_bytes (msg, "pne_proof", got, CPNS_MAC_LEN));
      fake->record.pne_proof_ok = memcmp (expected, got, CPNS_MAC_LEN) == 0
                                  && g_strcmp0 (cpns_message_get_string (msg, "auth_id"),
                                                conn->auth_id) == 0;
      if (!fake->record.pne_proof_ok)
        {
          send_error (conn, CPNS_ERROR_AUTH_FAILED, "bad proof");
          return;
        }
      if (fake->flags & FAKE_DENY)
        {
          send_error (conn, CPNS_ERROR_DENIED, "denied by policy");
          return;
        }
      if (fake->flags & (FAKE_ASK | FAKE_ASK_FOREVER))
        {
          g_autoptr(CpnsMessage) pending = cpns_message_new ("authorization_pending");
          g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
          g_autoptr(GDateTime) later = g_date_time_add_seconds (now, 120);

          cpns_message_set_string (pending, "reason", "awaiting_user_approval");
          cpns_message_set_time (pending, "expires_at", later);
          send_msg (conn, pending);
          if (fake->flags & FAKE_ASK)
            g_timeout_add (200, send_authorization_later, conn);
          return;
        }
      send_authorization (conn);
    }
  else if (g_str_equal (kind, "session_key_confirm"))
    {
      g_autoptr(CpnsMessage) ack = cpns_message_new ("session_key_confirm_ack");
      guint8 expected[CPNS_MAC_LEN], got[CPNS_MAC_LEN], mac[CPNS_MAC_LEN];

      export (conn, CPNS_EXPORTER_SESSION_BINDING, exporter);
      cpns_pne_session_confirm (conn->session_key, conn->session_id, exporter, expected);
      g_assert_true (cpns_message_get_bytes (msg, "mac", got, CPNS_MAC_LEN));
      fake->record.pne_confirm_ok = memcmp (expected, got, CPNS_MAC_LEN) == 0;
      if (!fake->record.pne_confirm_ok)
        {
          send_error (conn, CPNS_ERROR_AUTH_FAILED, "bad session confirm");
          return;
        }
      cpns_gw_session_confirm (conn->session_key, conn->session_id, exporter, mac);
      if (fake->flags & FAKE_WRONG_ACK_MAC)
        mac[0] ^= 0x80;
      cpns_message_set_bytes (ack, "mac", mac, CPNS_MAC_LEN);
      send_msg (conn, ack);
      if (!(fake->flags & FAKE_WRONG_ACK_MAC))
        send_setup_complete (conn);
    }
  else if (g_str_equal (kind, "session_resume_request"))
    {
      FakeSession *session = g_hash_table_lookup (fake->sessions,
                                                  cpns_message_get_string (msg, "session_id"));

      if (!cpns_tls_channel_is_psk (channel) || session == NULL
          || g_strcmp0 (cpns_tls_channel_get_psk_identity (channel),
                        cpns_message_get_string (msg, "session_id")) != 0)
        {
          send_error (conn, CPNS_ERROR_NOT_FOUND, "no such session");
          return;
        }
      conn->pne_id = g_strdup (session->pne_id);
      conn->session_id = g_strdup (cpns_message_get_string (msg, "session_id"));
      send_setup_complete (conn);
    }
}

static void
on_closed (CpnsTlsChannel *channel,
           const GError   *error,
           gpointer        user_data)
{
  FakeConn *conn = user_data;

  conn->connected = FALSE;
}

static void
on_handshake (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  FakeConn *conn = user_data;
  g_autoptr(GError) error = NULL;

  if (!cpns_tls_channel_handshake_finish (CPNS_TLS_CHANNEL (source), result, &error))
    {
      g_debug ("fake gateway: handshake failed: %s", error->message);
      return;
    }
  conn->fake->record.n_handshakes++;
  if (cpns_tls_channel_is_psk (CPNS_TLS_CHANNEL (source)))
    conn->fake->record.n_psk++;
  cpns_tls_channel_start (CPNS_TLS_CHANNEL (source));
}

static gboolean
lookup_psk (const char *identity,
            guint8      key[CPNS_KEY_LEN],
            gpointer    user_data)
{
  FakeGateway *fake = user_data;
  FakeSession *session = g_hash_table_lookup (fake->sessions, identity);

  if (session == NULL)
    return FALSE;
  memcpy (key, session->key, CPNS_KEY_LEN);
  return TRUE;
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  FakeGateway *fake = user_data;
  FakeConn *conn = g_new0 (FakeConn, 1);

  fake->record.n_accepted++;
  conn->fake = fake;
  conn->channel = cpns_tls_channel_new_server (G_IO_STREAM (connection), fake->cert,
                                               lookup_psk, fake, NULL);
  g_signal_connect (conn->channel, "message-received", G_CALLBACK (on_message), conn);
  g_signal_connect (conn->channel, "closed", G_CALLBACK (on_closed), conn);
  g_ptr_array_add (fake->conns, conn);
  cpns_tls_channel_handshake_async (conn->channel, 5000, NULL, on_handshake, conn);
  return TRUE;
}

FakeGateway *
fake_gateway_new (void)
{
  FakeGateway *fake = g_new0 (FakeGateway, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  guint16 port;

  fake->cert = cpns_certificate_generate ("Fake Gateway", 30, &error);
  g_assert_no_error (error);
  fake->gateway_id = cpns_id_new (CPNS_ID_GATEWAY);
  fake->pn_id = cpns_id_new (CPNS_ID_PN);
  fake->record.received = g_ptr_array_new_with_free_func (g_free);
  fake->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fake->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, fake_session_free);
  fake->conns = g_ptr_array_new_with_free_func (fake_conn_free);

  fake->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (fake->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                 &effective, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  fake->address = g_strdup_printf ("127.0.0.1:%u", port);
  g_signal_connect (fake->service, "incoming", G_CALLBACK (on_incoming), fake);
  g_socket_service_start (fake->service);
  return fake;
}

void
fake_gateway_free (FakeGateway *fake)
{
  if (fake == NULL)
    return;
  g_socket_service_stop (fake->service);
  g_socket_listener_close (G_SOCKET_LISTENER (fake->service));
  g_clear_object (&fake->service);
  if (fake->discovery != NULL)
    {
      g_signal_handlers_disconnect_by_data (fake->discovery, fake);
      cpns_discovery_socket_close (fake->discovery);
      g_clear_object (&fake->discovery);
    }
  g_ptr_array_unref (fake->conns);
  g_hash_table_unref (fake->keys);
  g_hash_table_unref (fake->sessions);
  g_ptr_array_unref (fake->record.received);
  g_free (fake->record.code);
  g_free (fake->record.last_pne_id);
  cpns_certificate_unref (fake->cert);
  g_free (fake->address);
  g_free (fake->discovery_address);
  g_free (fake->gateway_id);
  g_free (fake->pn_id);
  g_free (fake);
}

const char *
fake_gateway_get_address (FakeGateway *fake)
{
  return fake->address;
}

const char *
fake_gateway_get_cert_sha256 (FakeGateway *fake)
{
  return cpns_certificate_get_sha256 (fake->cert);
}

const char *
fake_gateway_get_gateway_id (FakeGateway *fake)
{
  return fake->gateway_id;
}

void
fake_gateway_set_flags (FakeGateway *fake,
                        FakeFlags    flags)
{
  fake->flags = flags;
}

FakeRecord *
fake_gateway_get_record (FakeGateway *fake)
{
  return &fake->record;
}

void
fake_gateway_forget_sessions (FakeGateway *fake)
{
  g_hash_table_remove_all (fake->sessions);
}

void
fake_gateway_forget_entities (FakeGateway *fake)
{
  g_hash_table_remove_all (fake->keys);
  g_hash_table_remove_all (fake->sessions);
}

void
fake_gateway_revoke_all (FakeGateway *fake)
{
  for (guint i = 0; i < fake->conns->len; i++)
    {
      FakeConn *conn = g_ptr_array_index (fake->conns, i);

      if (conn->connected && !cpns_tls_channel_is_closed (conn->channel))
        {
          g_hash_table_remove (fake->keys, conn->pne_id);
          send_error (conn, CPNS_ERROR_REVOKED, "the entity was removed from the PN");
        }
    }
  g_hash_table_remove_all (fake->sessions);
}

void
fake_gateway_bye_all (FakeGateway *fake)
{
  for (guint i = 0; i < fake->conns->len; i++)
    {
      FakeConn *conn = g_ptr_array_index (fake->conns, i);

      if (conn->connected && !cpns_tls_channel_is_closed (conn->channel))
        {
          g_autoptr(CpnsMessage) bye = cpns_message_new ("bye");

          send_msg (conn, bye);
          cpns_tls_channel_close (conn->channel);
        }
    }
}

void
fake_gateway_drop_all (FakeGateway *fake)
{
  for (guint i = 0; i < fake->conns->len; i++)
    {
      FakeConn *conn = g_ptr_array_index (fake->conns, i);

      if (conn->connected && !cpns_tls_channel_is_closed (conn->channel))
        {
          conn->connected = FALSE;
          cpns_tls_channel_close (conn->channel);
        }
    }
}

guint
fake_gateway_count_connected (FakeGateway *fake)
{
  guint n = 0;

  for (guint i = 0; i < fake->conns->len; i++)
    {
      FakeConn *conn = g_ptr_array_index (fake->conns, i);

      if (conn->connected && !cpns_tls_channel_is_closed (conn->channel))
        n++;
    }
  return n;
}

static void
on_datagram (CpnsDiscoverySocket *socket,
             CpnsMessage         *msg,
             GSocketAddress      *from,
             gpointer             user_data)
{
  FakeGateway *fake = user_data;
  g_autoptr(CpnsMessage) answer = NULL;
  g_autoptr(GError) error = NULL;
  const char *kind = cpns_message_get_kind (msg);
  guint port;

  if (g_strcmp0 (cpns_message_get_string (msg, "mode"), "pne") != 0)
    return;
  if (g_str_equal (kind, "entity_discovery_response"))
    {
      record (fake, "entity_discovery_response");
      return;
    }
  record (fake, "entity_discovery_request");
  port = (guint) strtoul (strrchr (fake->address, ':') + 1, NULL, 10);
  /* Open: answer the PNE. Closed: no answer (§4.2), but the GW's own
   * request (window closed) reaches the PNE, which must answer it. */
  answer = cpns_discovery_new_gateway (!fake->discovery_closed, fake->gateway_id, fake->pn_id,
                                       "Fake Gateway", (guint16) port,
                                       cpns_certificate_get_sha256 (fake->cert),
                                       !fake->discovery_closed);
  cpns_discovery_socket_send_to (socket, answer, from, &error);
  g_assert_no_error (error);
}

void
fake_gateway_set_discovery_open (FakeGateway *fake,
                                 gboolean     open)
{
  fake->discovery_closed = !open;
}

const char *
fake_gateway_start_discovery (FakeGateway *fake)
{
  g_autoptr(GError) error = NULL;

  fake->discovery = cpns_discovery_socket_new ("127.0.0.1", 0, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (fake->discovery, "datagram-received", G_CALLBACK (on_datagram), fake);
  fake->discovery_address = g_strdup_printf ("127.0.0.1:%u",
                                             cpns_discovery_socket_get_port (fake->discovery));
  return fake->discovery_address;
}
