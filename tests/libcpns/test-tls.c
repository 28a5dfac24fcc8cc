/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-tls"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-tls.h"
#include "cpns-tls-private.h"

#define HANDSHAKE_TIMEOUT_MS 10000

static CpnsCertificate *shared_cert;

/* ------------------------------------------------------------------ */
/* Loopback plumbing */

static void
connect_pair (GSocketConnection **server_conn,
              GSocketConnection **client_conn)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (listener, addr, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);

  /* The listen backlog completes the connect; accept then returns at once. */
  *client_conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (effective),
                                          NULL, &error);
  g_assert_no_error (error);
  *server_conn = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} Result;

static void
on_handshake (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  Result *r = user_data;

  r->ok = cpns_tls_channel_handshake_finish (CPNS_TLS_CHANNEL (source), res, &r->error);
  r->done = TRUE;
}

static void
wait_for (gboolean *flag)
{
  while (!*flag)
    g_main_context_iteration (NULL, TRUE);
}

typedef struct
{
  GSocketConnection *server_conn;
  GSocketConnection *client_conn;
  CpnsTlsChannel    *server;
  CpnsTlsChannel    *client;
  Result             server_result;
  Result             client_result;
  guint              lookups;
  char              *last_lookup;
} Fixture;

static const guint8 psk_key[CPNS_KEY_LEN] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};
#define PSK_IDENTITY "sess-0123456789abcdef0123456789abcdef"

static gboolean
lookup_psk (const char *identity,
            guint8      key[CPNS_KEY_LEN],
            gpointer    user_data)
{
  Fixture *f = user_data;

  f->lookups++;
  g_free (f->last_lookup);
  f->last_lookup = g_strdup (identity);
  if (g_strcmp0 (identity, PSK_IDENTITY) != 0)
    return FALSE;
  memcpy (key, psk_key, CPNS_KEY_LEN);
  return TRUE;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  connect_pair (&f->server_conn, &f->client_conn);
  f->server = cpns_tls_channel_new_server (G_IO_STREAM (f->server_conn), shared_cert,
                                           lookup_psk, f, NULL);
}

static void
drain_context (void)
{
  /* Let pending closes and idle emissions finish. */
  gint64 end = g_get_monotonic_time () + 50 * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->client != NULL)
    cpns_tls_channel_close (f->client);
  if (f->server != NULL)
    cpns_tls_channel_close (f->server);
  g_clear_object (&f->client);
  g_clear_object (&f->server);
  drain_context ();
  g_clear_object (&f->server_conn);
  g_clear_object (&f->client_conn);
  g_clear_error (&f->server_result.error);
  g_clear_error (&f->client_result.error);
  g_free (f->last_lookup);
}

static void
run_handshakes (Fixture *f)
{
  cpns_tls_channel_handshake_async (f->server, HANDSHAKE_TIMEOUT_MS, NULL,
                                    on_handshake, &f->server_result);
  cpns_tls_channel_handshake_async (f->client, HANDSHAKE_TIMEOUT_MS, NULL,
                                    on_handshake, &f->client_result);
  wait_for (&f->server_result.done);
  wait_for (&f->client_result.done);
}

static void
assert_exporters_match (Fixture *f)
{
  const char *labels[] = { CPNS_EXPORTER_SESSION_BINDING, CPNS_EXPORTER_PAIRING };
  guint8 first[CPNS_EXPORTER_LEN];

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      guint8 a[CPNS_EXPORTER_LEN], b[CPNS_EXPORTER_LEN];
      g_autoptr(GError) error = NULL;

      g_assert_true (cpns_tls_channel_export (f->server, labels[i], a, &error));
      g_assert_no_error (error);
      g_assert_true (cpns_tls_channel_export (f->client, labels[i], b, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (a, sizeof a, b, sizeof b);
      if (i == 0)
        memcpy (first, a, sizeof first);
      else
        g_assert_false (memcmp (first, a, sizeof a) == 0);
    }
}

/* ------------------------------------------------------------------ */
/* Certificate */

static void
test_certificate_generate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsCertificate) cert = NULL;
  g_autoptr(CpnsCertificate) again = NULL;
  g_autoptr(CpnsCertificate) other = NULL;
  g_autoptr(CpnsCertificate) mixed = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *other_cert_pem = NULL;
  char *key_pem;
  const char *sha;

  cert = cpns_certificate_generate ("PN Gateway test", 30, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cert);

  sha = cpns_certificate_get_sha256 (cert);
  g_assert_cmpuint (strlen (sha), ==, 64);
  for (const char *p = sha; *p; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'));

  cert_pem = cpns_certificate_dup_cert_pem (cert);
  key_pem = cpns_certificate_dup_key_pem (cert);
  g_assert_true (g_str_has_prefix (cert_pem, "-----BEGIN CERTIFICATE-----"));
  g_assert_nonnull (strstr (key_pem, "PRIVATE KEY-----"));

  again = cpns_certificate_new_from_pem (cert_pem, key_pem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_certificate_get_sha256 (again), ==, sha);

  /* A key that belongs to another certificate is refused. */
  other = cpns_certificate_generate ("other", 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_certificate_get_sha256 (other), !=, sha);
  other_cert_pem = cpns_certificate_dup_cert_pem (other);
  mixed = cpns_certificate_new_from_pem (other_cert_pem, key_pem, &error);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_null (mixed);
  g_clear_error (&error);

  /* Garbage is refused. */
  g_assert_null (cpns_certificate_new_from_pem ("not a pem", key_pem, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_clear_error (&error);

  cpns_free_secret_string (key_pem);
}

/* ------------------------------------------------------------------ */
/* Handshakes */

static void
test_cert_handshake (Fixture       *f,
                     gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn), NULL);
  run_handshakes (f);

  g_assert_no_error (f->server_result.error);
  g_assert_no_error (f->client_result.error);
  g_assert_true (f->server_result.ok && f->client_result.ok);
  g_assert_false (cpns_tls_channel_is_psk (f->server));
  g_assert_false (cpns_tls_channel_is_psk (f->client));
  g_assert_null (cpns_tls_channel_get_psk_identity (f->server));
  g_assert_cmpstr (cpns_tls_channel_get_peer_sha256 (f->client), ==,
                   cpns_certificate_get_sha256 (shared_cert));
  g_assert_cmpint (gnutls_protocol_get_version (cpns_tls_channel_get_session (f->server)),
                   ==, GNUTLS_TLS1_3);
  g_assert_cmpuint (f->lookups, ==, 0);
  assert_exporters_match (f);

  {
    g_autoptr(GSocketAddress) remote = cpns_tls_channel_get_remote_address (f->server);
    g_autofree char *ip = NULL;

    g_assert_true (G_IS_INET_SOCKET_ADDRESS (remote));
    ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
    g_assert_cmpstr (ip, ==, "127.0.0.1");
  }
}

static void
test_cert_pin_match (Fixture       *f,
                     gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn),
                                           cpns_certificate_get_sha256 (shared_cert));
  run_handshakes (f);

  g_assert_no_error (f->server_result.error);
  g_assert_no_error (f->client_result.error);
  assert_exporters_match (f);
}

static void
test_cert_pin_mismatch (Fixture       *f,
                        gconstpointer  data)
{
  const char *pin = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  g_autofree char *actual = g_strndup (cpns_certificate_get_sha256 (shared_cert), 16);

  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn), pin);
  run_handshakes (f);

  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH);
  g_assert_nonnull (strstr (f->client_result.error->message, "0011223344556677"));
  g_assert_nonnull (strstr (f->client_result.error->message, actual));
  /* The server never gets to a session it could read a frame on. */
  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_true (cpns_tls_channel_is_closed (f->client));
  g_assert_true (cpns_tls_channel_is_closed (f->server));
}

static void
test_psk_handshake (Fixture       *f,
                    gconstpointer  data)
{
  gnutls_session_t session;
  gnutls_cipher_algorithm_t cipher;

  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, psk_key);
  run_handshakes (f);

  g_assert_no_error (f->server_result.error);
  g_assert_no_error (f->client_result.error);
  g_assert_true (cpns_tls_channel_is_psk (f->server));
  g_assert_true (cpns_tls_channel_is_psk (f->client));
  g_assert_cmpstr (cpns_tls_channel_get_psk_identity (f->server), ==, PSK_IDENTITY);
  g_assert_cmpstr (cpns_tls_channel_get_psk_identity (f->client), ==, PSK_IDENTITY);
  g_assert_null (cpns_tls_channel_get_peer_sha256 (f->client));
  g_assert_cmpuint (f->lookups, >=, 1);

  session = cpns_tls_channel_get_session (f->server);
  g_assert_cmpint (gnutls_protocol_get_version (session), ==, GNUTLS_TLS1_3);
  g_assert_cmpint (gnutls_kx_get (session), ==, GNUTLS_KX_ECDHE_PSK);
  cipher = gnutls_cipher_get (session);
  g_assert_true (cipher == GNUTLS_CIPHER_AES_128_GCM ||
                 cipher == GNUTLS_CIPHER_CHACHA20_POLY1305);
  g_assert_cmpint (gnutls_mac_get (session), ==, GNUTLS_MAC_AEAD);
  assert_exporters_match (f);
}

static void
test_psk_wrong_key (Fixture       *f,
                    gconstpointer  data)
{
  guint8 wrong[CPNS_KEY_LEN];

  memcpy (wrong, psk_key, sizeof wrong);
  wrong[31] ^= 0x01;
  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, wrong);
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_cmpuint (f->lookups, >=, 1);
}

static void
test_psk_unknown_identity (Fixture       *f,
                           gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               "sess-ffffffffffffffffffffffffffffffff",
                                               psk_key);
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_cmpstr (f->last_lookup, ==, "sess-ffffffffffffffffffffffffffffffff");
}

static void
test_tls12_client_refused (Fixture       *f,
                           gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn), NULL);
  cpns_tls_channel_set_priority (f->client, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_tls12_psk_client_refused (Fixture       *f,
                               gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, psk_key);
  cpns_tls_channel_set_priority (f->client,
                                 "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:+PSK");
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_plain_psk_client_refused (Fixture       *f,
                               gconstpointer  data)
{
  /* psk_ke only: no (EC)DHE with the PSK. */
  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, psk_key);
  cpns_tls_channel_set_priority (f->client,
                                 "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK");
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_no_common_group_refused (Fixture       *f,
                              gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn), NULL);
  cpns_tls_channel_set_priority (f->client,
                                 "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-FFDHE2048");
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_psk_no_common_group_refused (Fixture       *f,
                                  gconstpointer  data)
{
  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, psk_key);
  cpns_tls_channel_set_priority (f->client,
                                 "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+DHE-PSK:"
                                 "-GROUP-ALL:+GROUP-FFDHE2048");
  run_handshakes (f);

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_stalled_handshake_times_out (Fixture       *f,
                                  gconstpointer  data)
{
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed_ms;
  guint8 byte;
  gssize n;
  GInputStream *in;

  /* The client connects and sends nothing. */
  cpns_tls_channel_handshake_async (f->server, 300, NULL, on_handshake, &f->server_result);
  wait_for (&f->server_result.done);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TIMEOUT);
  g_assert_cmpint (elapsed_ms, >=, 290);
  g_assert_cmpint (elapsed_ms, <, 5000);
  g_assert_true (cpns_tls_channel_is_closed (f->server));

  /* The server dropped the connection. */
  in = g_io_stream_get_input_stream (G_IO_STREAM (f->client_conn));
  n = g_input_stream_read (in, &byte, 1, NULL, NULL);
  g_assert_cmpint (n, <=, 0);
}

static void
test_stalled_after_hello_times_out (Fixture       *f,
                                    gconstpointer  data)
{
  /* A client that sends half a record header and stops. */
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (f->client_conn));
  const guint8 partial[] = { 0x16, 0x03, 0x01 };

  g_assert_true (g_output_stream_write_all (out, partial, sizeof partial, NULL, NULL, NULL));
  cpns_tls_channel_handshake_async (f->server, 300, NULL, on_handshake, &f->server_result);
  wait_for (&f->server_result.done);
  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TIMEOUT);
}

static void
test_handshake_cancelled (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  cpns_tls_channel_handshake_async (f->server, 0, cancellable, on_handshake,
                                    &f->server_result);
  g_cancellable_cancel (cancellable);
  wait_for (&f->server_result.done);
  g_assert_error (f->server_result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (cpns_tls_channel_is_closed (f->server));
}

static void
test_close_during_handshake (Fixture       *f,
                             gconstpointer  data)
{
  cpns_tls_channel_handshake_async (f->server, HANDSHAKE_TIMEOUT_MS, NULL, on_handshake,
                                    &f->server_result);
  cpns_tls_channel_close (f->server);
  wait_for (&f->server_result.done);
  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_CLOSED);
  g_assert_true (cpns_tls_channel_is_closed (f->server));
}

static gboolean
refuse_all (const char *identity,
            guint8      key[CPNS_KEY_LEN],
            gpointer    user_data)
{
  return FALSE;
}

static void
test_psk_only_server_refuses_certificate_client (Fixture       *f,
                                                 gconstpointer  data)
{
  /* A server without a certificate cannot serve certificate mode. */
  g_clear_object (&f->server);
  f->server = cpns_tls_channel_new_server (G_IO_STREAM (f->server_conn), NULL,
                                           refuse_all, NULL, NULL);
  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn), NULL);
  run_handshakes (f);
  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_certificate_only_server_refuses_psk_client (Fixture       *f,
                                                 gconstpointer  data)
{
  g_clear_object (&f->server);
  f->server = cpns_tls_channel_new_server (G_IO_STREAM (f->server_conn), shared_cert,
                                           NULL, NULL, NULL);
  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, psk_key);
  run_handshakes (f);
  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
  g_assert_error (f->client_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

static void
test_peer_garbage_handshake (Fixture       *f,
                             gconstpointer  data)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (f->client_conn));
  const char *garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

  g_assert_true (g_output_stream_write_all (out, garbage, strlen (garbage), NULL, NULL, NULL));
  cpns_tls_channel_handshake_async (f->server, HANDSHAKE_TIMEOUT_MS, NULL, on_handshake,
                                    &f->server_result);
  wait_for (&f->server_result.done);
  g_assert_error (f->server_result.error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED);
}

/* ------------------------------------------------------------------ */
/* Frames */

typedef struct
{
  GPtrArray *messages;     /* CpnsMessage */
  gboolean   closed;
  guint      closed_count;
  GError    *closed_error;
  gboolean   unref_on_closed;
  CpnsTlsChannel **owner;  /* cleared when unref_on_closed */
  gboolean   close_on_message;
  CpnsTlsChannel *alive;   /* weak */
} Peer;

static void
on_message (CpnsTlsChannel *channel,
            CpnsMessage    *msg,
            gpointer        user_data)
{
  Peer *p = user_data;

  g_ptr_array_add (p->messages, cpns_message_ref (msg));
  if (p->close_on_message)
    {
      cpns_tls_channel_close (channel);
      if (p->owner != NULL)
        g_clear_object (p->owner);
    }
}

static void
on_closed (CpnsTlsChannel *channel,
           const GError   *error,
           gpointer        user_data)
{
  Peer *p = user_data;

  p->closed = TRUE;
  p->closed_count++;
  g_clear_error (&p->closed_error);
  if (error != NULL)
    p->closed_error = g_error_copy (error);
  if (p->unref_on_closed && p->owner != NULL)
    g_clear_object (p->owner);
}

static void
peer_init (Peer            *p,
           CpnsTlsChannel **owner)
{
  memset (p, 0, sizeof *p);
  p->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) cpns_message_unref);
  p->owner = owner;
  p->alive = *owner;
  g_object_add_weak_pointer (G_OBJECT (p->alive), (gpointer *) &p->alive);
  g_signal_connect (*owner, "message-received", G_CALLBACK (on_message), p);
  g_signal_connect (*owner, "closed", G_CALLBACK (on_closed), p);
}

static void
peer_clear (Peer *p)
{
  if (p->alive != NULL)
    {
      g_signal_handlers_disconnect_by_data (p->alive, p);
      g_object_remove_weak_pointer (G_OBJECT (p->alive), (gpointer *) &p->alive);
    }
  g_ptr_array_unref (p->messages);
  g_clear_error (&p->closed_error);
}

static void
wait_for_messages (Peer  *p,
                   guint  n)
{
  while (p->messages->len < n && !p->closed)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (p->messages->len, >=, n);
}

static CpnsMessage *
new_ping (void)
{
  return cpns_message_new ("ping");
}

static CpnsMessage *
new_bye (const char *reason)
{
  CpnsMessage *msg = cpns_message_new ("bye");

  if (reason != NULL)
    cpns_message_set_string (msg, "reason", reason);
  return msg;
}

static void
open_pair (Fixture *f,
           Peer    *server,
           Peer    *client)
{
  f->client = cpns_tls_channel_new_client (G_IO_STREAM (f->client_conn), NULL);
  run_handshakes (f);
  g_assert_no_error (f->server_result.error);
  g_assert_no_error (f->client_result.error);
  peer_init (server, &f->server);
  peer_init (client, &f->client);
  cpns_tls_channel_start (f->server);
  cpns_tls_channel_start (f->client);
}

/* Writes raw bytes as TLS application data from the client (tests only). */
static void
client_send_raw (Fixture      *f,
                 const guint8 *data,
                 gsize         len)
{
  gnutls_session_t session = cpns_tls_channel_get_session (f->client);
  ssize_t ret;

  do
    ret = gnutls_record_send (session, data, len);
  while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
  g_assert_cmpint (ret, ==, (ssize_t) len);
}

static void
append_frame (GByteArray *out,
              const char *json)
{
  guint32 len = GUINT32_TO_BE ((guint32) strlen (json));

  g_byte_array_append (out, (const guint8 *) &len, 4);
  g_byte_array_append (out, (const guint8 *) json, strlen (json));
}

static void
test_frames_round_trip (Fixture       *f,
                        gconstpointer  data)
{
  Peer server, client;
  g_autoptr(CpnsMessage) ping = new_ping ();
  g_autoptr(CpnsMessage) bye = new_bye ("done");

  open_pair (f, &server, &client);

  cpns_tls_channel_send (f->client, ping);
  cpns_tls_channel_send (f->client, bye);
  wait_for_messages (&server, 2);
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[0]), ==, "ping");
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[1]), ==, "bye");
  g_assert_cmpstr (cpns_message_get_string (server.messages->pdata[1], "reason"), ==, "done");

  cpns_tls_channel_send (f->server, ping);
  wait_for_messages (&client, 1);
  g_assert_cmpstr (cpns_message_get_kind (client.messages->pdata[0]), ==, "ping");

  /* A clean close: NULL on this side, CLOSED on the peer, once each. */
  cpns_tls_channel_close (f->client);
  g_assert_true (cpns_tls_channel_is_closed (f->client));
  wait_for (&client.closed);
  wait_for (&server.closed);
  g_assert_no_error (client.closed_error);
  g_assert_error (server.closed_error, CPNS_ERROR, CPNS_ERROR_CLOSED);
  cpns_tls_channel_close (f->client);
  drain_context ();
  g_assert_cmpuint (client.closed_count, ==, 1);
  g_assert_cmpuint (server.closed_count, ==, 1);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_frames_many_in_one_record (Fixture       *f,
                                gconstpointer  data)
{
  Peer server, client;
  g_autoptr(GByteArray) raw = g_byte_array_new ();
  g_autoptr(GByteArray) split = g_byte_array_new ();

  open_pair (f, &server, &client);

  append_frame (raw, "{\"v\":1,\"type\":\"ping\"}");
  append_frame (raw, "{\"v\":1,\"type\":\"pong\"}");
  append_frame (raw, "{\"v\":1,\"type\":\"bye\",\"reason\":\"x\"}");
  client_send_raw (f, raw->data, raw->len);
  wait_for_messages (&server, 3);
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[0]), ==, "ping");
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[1]), ==, "pong");
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[2]), ==, "bye");

  /* One frame split over many records. */
  append_frame (split, "{\"v\":1,\"type\":\"pong\"}");
  for (guint i = 0; i < split->len; i++)
    client_send_raw (f, split->data + i, 1);
  wait_for_messages (&server, 4);
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[3]), ==, "pong");
  g_assert_false (server.closed);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_frames_large_queue (Fixture       *f,
                         gconstpointer  data)
{
  Peer server, client;
  const guint n = 400;
  g_autofree char *reason = g_strnfill (900, 'r');

  open_pair (f, &server, &client);

  /* Far more than a socket buffer: flushed as the peer reads. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CpnsMessage) bye = new_bye (reason);
      cpns_tls_channel_send (f->server, bye);
    }
  wait_for_messages (&client, n);
  g_assert_cmpuint (client.messages->len, ==, n);
  g_assert_cmpstr (cpns_message_get_string (client.messages->pdata[n - 1], "reason"), ==,
                   reason);

  peer_clear (&server);
  peer_clear (&client);
}

static void
assert_error_frame (Peer          *p,
                    CpnsErrorCode  code)
{
  g_autoptr(GError) carried = NULL;
  CpnsMessage *last;

  wait_for_messages (p, 1);
  last = p->messages->pdata[p->messages->len - 1];
  g_assert_cmpstr (cpns_message_get_kind (last), ==, "error");
  carried = cpns_message_to_error (last);
  g_assert_error (carried, CPNS_ERROR, (gint) code);
}

static void
test_frames_oversize (Fixture       *f,
                      gconstpointer  data)
{
  Peer server, client;
  const guint8 header[] = { 0x00, 0x01, 0x00, 0x01 };   /* 65,537 */

  open_pair (f, &server, &client);

  client_send_raw (f, header, sizeof header);
  assert_error_frame (&client, CPNS_ERROR_TOO_LARGE);
  wait_for (&server.closed);
  wait_for (&client.closed);
  g_assert_error (server.closed_error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_assert_error (client.closed_error, CPNS_ERROR, CPNS_ERROR_CLOSED);
  g_assert_cmpuint (server.messages->len, ==, 0);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_frames_preauth_limit (Fixture       *f,
                           gconstpointer  data)
{
  Peer server, client;
  const guint8 header[] = { 0x00, 0x00, 0x20, 0x01 };   /* 8,193 */

  open_pair (f, &server, &client);
  cpns_tls_channel_set_max_frame (f->server, CPNS_MAX_PREAUTH_SIZE);

  client_send_raw (f, header, sizeof header);
  assert_error_frame (&client, CPNS_ERROR_TOO_LARGE);
  wait_for (&server.closed);
  g_assert_error (server.closed_error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_frames_zero_length (Fixture       *f,
                         gconstpointer  data)
{
  Peer server, client;
  const guint8 header[] = { 0, 0, 0, 0 };

  open_pair (f, &server, &client);
  client_send_raw (f, header, sizeof header);
  assert_error_frame (&client, CPNS_ERROR_TOO_LARGE);
  wait_for (&server.closed);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_frames_garbage (Fixture       *f,
                     gconstpointer  data)
{
  Peer server, client;
  g_autoptr(GByteArray) raw = g_byte_array_new ();

  open_pair (f, &server, &client);

  /* A good frame, then garbage, then a frame that must not be read. */
  append_frame (raw, "{\"v\":1,\"type\":\"ping\"}");
  append_frame (raw, "{not json");
  append_frame (raw, "{\"v\":1,\"type\":\"pong\"}");
  client_send_raw (f, raw->data, raw->len);

  assert_error_frame (&client, CPNS_ERROR_BAD_REQUEST);
  wait_for (&server.closed);
  wait_for (&client.closed);
  g_assert_error (server.closed_error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpuint (server.messages->len, ==, 1);
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[0]), ==, "ping");

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_frames_unknown_type (Fixture       *f,
                          gconstpointer  data)
{
  Peer server, client;
  g_autoptr(GByteArray) raw = g_byte_array_new ();

  open_pair (f, &server, &client);
  append_frame (raw, "{\"v\":1,\"type\":\"no_such_thing\"}");
  client_send_raw (f, raw->data, raw->len);

  assert_error_frame (&client, CPNS_ERROR_UNKNOWN_TYPE);
  wait_for (&server.closed);
  g_assert_error (server.closed_error, CPNS_ERROR, CPNS_ERROR_UNKNOWN_TYPE);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_send_error_and_close (Fixture       *f,
                           gconstpointer  data)
{
  Peer server, client;
  g_autoptr(GError) denied = g_error_new (CPNS_ERROR, CPNS_ERROR_DENIED, "denied: no");
  g_autoptr(CpnsMessage) ping = new_ping ();

  open_pair (f, &server, &client);

  cpns_tls_channel_send_error_and_close (f->server, denied);
  /* Nothing is sent after the error. */
  cpns_tls_channel_send (f->server, ping);
  assert_error_frame (&client, CPNS_ERROR_DENIED);
  wait_for (&server.closed);
  wait_for (&client.closed);
  g_assert_no_error (server.closed_error);
  g_assert_cmpuint (client.messages->len, ==, 1);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_unref_in_handlers (Fixture       *f,
                        gconstpointer  data)
{
  Peer server, client;
  g_autoptr(CpnsMessage) ping = new_ping ();
  g_autoptr(CpnsMessage) pong = cpns_message_new ("pong");

  open_pair (f, &server, &client);
  /* The server drops its channel from inside "message-received", the
   * client from inside "closed". */
  server.close_on_message = TRUE;
  client.unref_on_closed = TRUE;

  cpns_tls_channel_send (f->client, ping);
  cpns_tls_channel_send (f->client, pong);
  wait_for (&client.closed);
  g_assert_null (f->server);
  g_assert_null (f->client);
  g_assert_cmpuint (server.messages->len, ==, 1);
  wait_for (&server.closed);
  g_assert_cmpuint (server.closed_count, ==, 1);
  g_assert_no_error (server.closed_error);
  /* Both are finalized once their closes complete. */
  while (server.alive != NULL || client.alive != NULL)
    g_main_context_iteration (NULL, TRUE);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_peer_reset (Fixture       *f,
                 gconstpointer  data)
{
  Peer server, client;

  open_pair (f, &server, &client);
  /* The client's socket goes away without close_notify. */
  g_io_stream_close (G_IO_STREAM (f->client_conn), NULL, NULL);
  wait_for (&server.closed);
  g_assert_error (server.closed_error, CPNS_ERROR, CPNS_ERROR_CLOSED);

  peer_clear (&server);
  peer_clear (&client);
}

static void
test_psk_frames (Fixture       *f,
                 gconstpointer  data)
{
  Peer server, client;
  g_autoptr(CpnsMessage) ping = new_ping ();

  f->client = cpns_tls_channel_new_client_psk (G_IO_STREAM (f->client_conn),
                                               PSK_IDENTITY, psk_key);
  /* Queued before the handshake: sent once it completes. */
  cpns_tls_channel_send (f->client, ping);
  run_handshakes (f);
  g_assert_no_error (f->server_result.error);
  g_assert_no_error (f->client_result.error);
  peer_init (&server, &f->server);
  peer_init (&client, &f->client);
  cpns_tls_channel_start (f->server);
  cpns_tls_channel_start (f->client);
  wait_for_messages (&server, 1);
  g_assert_cmpstr (cpns_message_get_kind (server.messages->pdata[0]), ==, "ping");

  peer_clear (&server);
  peer_clear (&client);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  shared_cert = cpns_certificate_generate ("PN Gateway test", 30, &error);
  g_assert_no_error (error);

  g_test_add_func ("/tls/certificate/generate", test_certificate_generate);

#define ADD(path, func) \
  g_test_add ("/tls/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("handshake/certificate", test_cert_handshake);
  ADD ("handshake/pin-match", test_cert_pin_match);
  ADD ("handshake/pin-mismatch", test_cert_pin_mismatch);
  ADD ("handshake/psk", test_psk_handshake);
  ADD ("handshake/psk-wrong-key", test_psk_wrong_key);
  ADD ("handshake/psk-unknown-identity", test_psk_unknown_identity);
  ADD ("handshake/tls12-client", test_tls12_client_refused);
  ADD ("handshake/tls12-psk-client", test_tls12_psk_client_refused);
  ADD ("handshake/plain-psk-client", test_plain_psk_client_refused);
  ADD ("handshake/no-common-group", test_no_common_group_refused);
  ADD ("handshake/psk-no-common-group", test_psk_no_common_group_refused);
  ADD ("handshake/stalled-timeout", test_stalled_handshake_times_out);
  ADD ("handshake/stalled-partial-timeout", test_stalled_after_hello_times_out);
  ADD ("handshake/cancelled", test_handshake_cancelled);
  ADD ("handshake/garbage", test_peer_garbage_handshake);
  ADD ("handshake/close-during", test_close_during_handshake);
  ADD ("handshake/psk-only-server", test_psk_only_server_refuses_certificate_client);
  ADD ("handshake/certificate-only-server", test_certificate_only_server_refuses_psk_client);

  ADD ("frames/round-trip", test_frames_round_trip);
  ADD ("frames/many-in-one-record", test_frames_many_in_one_record);
  ADD ("frames/large-queue", test_frames_large_queue);
  ADD ("frames/oversize", test_frames_oversize);
  ADD ("frames/preauth-limit", test_frames_preauth_limit);
  ADD ("frames/zero-length", test_frames_zero_length);
  ADD ("frames/garbage", test_frames_garbage);
  ADD ("frames/unknown-type", test_frames_unknown_type);
  ADD ("frames/send-error-and-close", test_send_error_and_close);
  ADD ("frames/unref-in-handlers", test_unref_in_handlers);
  ADD ("frames/peer-reset", test_peer_reset);
  ADD ("frames/psk", test_psk_frames);

#undef ADD

  ret = g_test_run ();
  cpns_certificate_unref (shared_cert);
  return ret;
}
