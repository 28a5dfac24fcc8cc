/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-discovery"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "cpns-discovery.h"
#include "cpns-error.h"

#define GATEWAY_ID  "gw-0123456789abcdef0123456789abcdef"
#define PN_ID       "pn-0123456789abcdef0123456789abcdef"
#define CERT_SHA256 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const guint8 nonce[CPNS_NONCE_LEN] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
};

typedef struct
{
  GPtrArray *messages;   /* CpnsMessage */
  GPtrArray *from;       /* GSocketAddress */
} Inbox;

static void
on_datagram (CpnsDiscoverySocket *socket,
             CpnsMessage         *msg,
             GSocketAddress      *from,
             gpointer             user_data)
{
  Inbox *inbox = user_data;

  g_ptr_array_add (inbox->messages, cpns_message_ref (msg));
  g_ptr_array_add (inbox->from, g_object_ref (from));
}

static void
inbox_init (Inbox               *inbox,
            CpnsDiscoverySocket *socket)
{
  inbox->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) cpns_message_unref);
  inbox->from = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (socket, "datagram-received", G_CALLBACK (on_datagram), inbox);
}

static void
inbox_clear (Inbox *inbox)
{
  g_ptr_array_unref (inbox->messages);
  g_ptr_array_unref (inbox->from);
}

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates until @inbox holds @n datagrams or 5 s pass. */
static void
wait_for_datagrams (Inbox *inbox,
                    guint  n)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (5000, on_deadline, &expired);

  while (inbox->messages->len < n && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  g_assert_cmpuint (inbox->messages->len, >=, n);
}

/* Lets anything in flight on loopback arrive. */
static void
settle (void)
{
  gint64 end = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (2000);
    }
}

static CpnsDiscoverySocket *
new_loopback_socket (guint16 port)
{
  g_autoptr(GError) error = NULL;
  CpnsDiscoverySocket *socket;

  socket = cpns_discovery_socket_new ("127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (socket);
  g_assert_cmpuint (cpns_discovery_socket_get_port (socket), !=, 0);
  return socket;
}

static void
test_builders (void)
{
  g_autoptr(CpnsMessage) gw = NULL;
  g_autoptr(CpnsMessage) pne = NULL;
  g_autoptr(CpnsMessage) gw_back = NULL;
  g_autoptr(CpnsMessage) pne_back = NULL;
  g_autoptr(GBytes) gw_bytes = NULL;
  g_autoptr(GBytes) pne_bytes = NULL;
  g_autoptr(GError) error = NULL;
  guint8 nonce_back[CPNS_NONCE_LEN];

  gw = cpns_discovery_new_gateway (TRUE, GATEWAY_ID, PN_ID, "Living room", 7471,
                                   CERT_SHA256, TRUE);
  gw_bytes = cpns_message_encode (gw, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (gw_bytes), <=, CPNS_MAX_DATAGRAM_SIZE);
  gw_back = cpns_message_decode_datagram (g_bytes_get_data (gw_bytes, NULL),
                                          g_bytes_get_size (gw_bytes), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_kind (gw_back), ==, "entity_discovery_response");
  g_assert_cmpstr (cpns_message_get_string (gw_back, "mode"), ==, "pn_gw");
  g_assert_cmpstr (cpns_message_get_string (gw_back, "gateway_id"), ==, GATEWAY_ID);
  g_assert_cmpstr (cpns_message_get_string (gw_back, "pn_id"), ==, PN_ID);
  g_assert_cmpstr (cpns_message_get_string (gw_back, "name"), ==, "Living room");
  g_assert_cmpint (cpns_message_get_int (gw_back, "port"), ==, 7471);
  g_assert_cmpstr (cpns_message_get_string (gw_back, "cert_sha256"), ==, CERT_SHA256);
  g_assert_true (cpns_message_get_bool (gw_back, "pairing_open"));

  pne = cpns_discovery_new_pne (FALSE, "Kitchen speaker", "speaker", nonce);
  pne_bytes = cpns_message_encode (pne, &error);
  g_assert_no_error (error);
  pne_back = cpns_message_decode_datagram (g_bytes_get_data (pne_bytes, NULL),
                                           g_bytes_get_size (pne_bytes), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_kind (pne_back), ==, "entity_discovery_request");
  g_assert_cmpstr (cpns_message_get_string (pne_back, "mode"), ==, "pne");
  g_assert_cmpstr (cpns_message_get_string (pne_back, "entity_type"), ==, "speaker");
  g_assert_true (cpns_message_get_bytes (pne_back, "nonce", nonce_back, sizeof nonce_back));
  g_assert_cmpmem (nonce_back, sizeof nonce_back, nonce, sizeof nonce);
}

static void
test_request_response_unicast (void)
{
  g_autoptr(CpnsDiscoverySocket) gateway = new_loopback_socket (0);
  g_autoptr(CpnsDiscoverySocket) pne = new_loopback_socket (0);
  g_autoptr(CpnsMessage) request = cpns_discovery_new_pne (FALSE, "Kitchen speaker",
                                                           "speaker", nonce);
  g_autoptr(CpnsMessage) response = NULL;
  g_autofree char *target = NULL;
  g_autoptr(GError) error = NULL;
  Inbox gw_inbox, pne_inbox;
  GSocketAddress *from;

  inbox_init (&gw_inbox, gateway);
  inbox_init (&pne_inbox, pne);

  target = g_strdup_printf ("127.0.0.1:%u", cpns_discovery_socket_get_port (gateway));
  cpns_discovery_socket_add_target (pne, target);
  g_assert_true (cpns_discovery_socket_broadcast (pne, request, &error));
  g_assert_no_error (error);

  wait_for_datagrams (&gw_inbox, 1);
  g_assert_cmpstr (cpns_message_get_kind (gw_inbox.messages->pdata[0]), ==,
                   "entity_discovery_request");
  g_assert_cmpstr (cpns_message_get_string (gw_inbox.messages->pdata[0], "name"), ==,
                   "Kitchen speaker");
  from = gw_inbox.from->pdata[0];
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)), ==,
                    cpns_discovery_socket_get_port (pne));

  /* The gateway answers by unicast to the datagram's source. */
  response = cpns_discovery_new_gateway (TRUE, GATEWAY_ID, PN_ID, "Home", 17471,
                                         CERT_SHA256, TRUE);
  g_assert_true (cpns_discovery_socket_send_to (gateway, response, from, &error));
  g_assert_no_error (error);

  wait_for_datagrams (&pne_inbox, 1);
  g_assert_cmpstr (cpns_message_get_kind (pne_inbox.messages->pdata[0]), ==,
                   "entity_discovery_response");
  g_assert_cmpint (cpns_message_get_int (pne_inbox.messages->pdata[0], "port"), ==, 17471);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (pne_inbox.from->pdata[0])),
                    ==, cpns_discovery_socket_get_port (gateway));

  settle ();
  g_assert_cmpuint (gw_inbox.messages->len, ==, 1);
  g_assert_cmpuint (pne_inbox.messages->len, ==, 1);

  inbox_clear (&gw_inbox);
  inbox_clear (&pne_inbox);
}

static void
send_raw (GSocket    *sender,
          guint16     port,
          const char *data,
          gsize       len)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (loopback, port);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_socket_send_to (sender, to, data, len, NULL, &error), ==, (gssize) len);
  g_assert_no_error (error);
}

static void
test_bad_datagrams_dropped (void)
{
  g_autoptr(CpnsDiscoverySocket) receiver = new_loopback_socket (0);
  g_autoptr(GSocket) sender = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) big = g_string_new ("{\"v\":1,\"type\":\"entity_discovery_request\","
                                         "\"mode\":\"pne\",\"name\":\"x\","
                                         "\"entity_type\":\"speaker\","
                                         "\"nonce\":\"AQIDBAUGBwgJCgsMDQ4PEA\",\"pad\":\"");
  const char *good = "{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\","
                     "\"name\":\"ok\",\"entity_type\":\"speaker\","
                     "\"nonce\":\"AQIDBAUGBwgJCgsMDQ4PEA\"}";
  const char *bad[] = {
    "hello",
    "{\"v\":1,\"type\":\"ping\"}",
    "{\"v\":2,\"type\":\"entity_discovery_request\"}",
    "{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\",\"name\":\"x\","
      "\"entity_type\":\"speaker\"}",
    "{\"v\":1,\"type\":\"entity_discovery_response\",\"mode\":\"pn_gw\",\"name\":\"x\"}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
  };
  Inbox inbox;
  guint16 port = cpns_discovery_socket_get_port (receiver);

  inbox_init (&inbox, receiver);

  sender = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);

  /* Over 1,200 bytes, otherwise a valid request. */
  while (big->len < 1300)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}");
  send_raw (sender, port, big->str, big->len);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    send_raw (sender, port, bad[i], strlen (bad[i]));
  send_raw (sender, port, good, strlen (good));

  wait_for_datagrams (&inbox, 1);
  settle ();
  g_assert_cmpuint (inbox.messages->len, ==, 1);
  g_assert_cmpstr (cpns_message_get_string (inbox.messages->pdata[0], "name"), ==, "ok");

  inbox_clear (&inbox);
}

static void
test_invalid_message_not_sent (void)
{
  g_autoptr(CpnsDiscoverySocket) socket = new_loopback_socket (0);
  g_autoptr(CpnsMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *long_name = g_strnfill (200, 'n');

  msg = cpns_discovery_new_pne (FALSE, long_name, "speaker", nonce);
  cpns_discovery_socket_add_target (socket, "127.0.0.1:9");
  g_assert_false (cpns_discovery_socket_broadcast (socket, msg, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
}

static void
test_targets (void)
{
  g_autoptr(CpnsDiscoverySocket) socket = new_loopback_socket (0);
  const char *bad[] = { "nohost", "127.0.0.1", "::1", "[::1]:7472", "example.invalid:7472",
                        "127.0.0.1:notaport" };
  g_autoptr(GError) error = NULL;

  g_assert_true (cpns_discovery_socket_add_target_checked (socket, "127.0.0.1:17472", &error));
  g_assert_no_error (error);
  g_assert_true (cpns_discovery_socket_add_target_checked (socket, "localhost:17472", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (cpns_discovery_socket_add_target_checked (socket, bad[i], &error));
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
}

static void
test_shared_port (void)
{
  g_autoptr(CpnsDiscoverySocket) first = new_loopback_socket (0);
  g_autoptr(CpnsDiscoverySocket) second = NULL;
  g_autoptr(CpnsDiscoverySocket) sender = new_loopback_socket (0);
  g_autoptr(CpnsMessage) msg = cpns_discovery_new_pne (FALSE, "Shared", "speaker", nonce);
  g_autofree char *target = NULL;
  g_autoptr(GError) error = NULL;
  Inbox a, b;
  guint16 port = cpns_discovery_socket_get_port (first);

  /* Several programs on one host can bind the discovery port. */
  second = cpns_discovery_socket_new ("127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cpns_discovery_socket_get_port (second), ==, port);

  inbox_init (&a, first);
  inbox_init (&b, second);
  target = g_strdup_printf ("127.0.0.1:%u", port);
  cpns_discovery_socket_add_target (sender, target);
  g_assert_true (cpns_discovery_socket_broadcast (sender, msg, &error));
  g_assert_no_error (error);

  /* A unicast datagram reaches one of them. */
  while (a.messages->len + b.messages->len < 1)
    g_main_context_iteration (NULL, TRUE);
  settle ();
  g_assert_cmpuint (a.messages->len + b.messages->len, ==, 1);

  inbox_clear (&a);
  inbox_clear (&b);
}

static void
test_multicast_loopback (void)
{
  g_autoptr(CpnsDiscoverySocket) first = NULL;
  g_autoptr(CpnsDiscoverySocket) second = NULL;
  g_autoptr(CpnsDiscoverySocket) sender = NULL;
  g_autoptr(CpnsMessage) msg = cpns_discovery_new_pne (FALSE, "Group", "speaker", nonce);
  g_autoptr(GError) error = NULL;
  g_autofree char *group = NULL;
  Inbox a, b, own;
  guint16 port;

  /* Two programs share the discovery port on one host, on the group, with
   * multicast kept on the loopback interface. */
  first = cpns_discovery_socket_new_on_interface (NULL, 0, CPNS_DEFAULT_DISCOVERY_GROUP ":1",
                                                  "127.0.0.1", &error);
  g_assert_no_error (error);
  port = cpns_discovery_socket_get_port (first);
  g_clear_object (&first);
  group = g_strdup_printf ("%s:%u", CPNS_DEFAULT_DISCOVERY_GROUP, port);

  first = cpns_discovery_socket_new_on_interface (NULL, port, group, "127.0.0.1", &error);
  g_assert_no_error (error);
  second = cpns_discovery_socket_new_on_interface (NULL, port, group, "127.0.0.1", &error);
  g_assert_no_error (error);
  /* A sender on an ephemeral port (a PNE in pairing mode). */
  sender = cpns_discovery_socket_new_on_interface (NULL, 0, group, "127.0.0.1", &error);
  g_assert_no_error (error);

  inbox_init (&a, first);
  inbox_init (&b, second);
  inbox_init (&own, sender);

  g_assert_true (cpns_discovery_socket_broadcast (sender, msg, &error));
  g_assert_no_error (error);

  /* Every member of the group gets it. */
  wait_for_datagrams (&a, 1);
  wait_for_datagrams (&b, 1);
  settle ();
  g_assert_cmpuint (a.messages->len, ==, 1);
  g_assert_cmpuint (b.messages->len, ==, 1);
  g_assert_cmpuint (own.messages->len, ==, 0);
  g_assert_cmpstr (cpns_message_get_string (a.messages->pdata[0], "name"), ==, "Group");
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a.from->pdata[0])),
                    ==, cpns_discovery_socket_get_port (sender));

  inbox_clear (&a);
  inbox_clear (&b);
  inbox_clear (&own);
}

static void
test_close (void)
{
  g_autoptr(CpnsDiscoverySocket) socket = new_loopback_socket (0);
  g_autoptr(CpnsMessage) msg = cpns_discovery_new_pne (FALSE, "x", "speaker", nonce);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (loopback, 9);
  g_autoptr(GError) error = NULL;

  cpns_discovery_socket_close (socket);
  cpns_discovery_socket_close (socket);
  g_assert_false (cpns_discovery_socket_send_to (socket, msg, to, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_CLOSED);
}

static void
test_bad_group (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsDiscoverySocket) socket = NULL;

  socket = cpns_discovery_socket_new ("127.0.0.1", 0, "10.0.0.1", &error);
  g_assert_null (socket);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/discovery/builders", test_builders);
  g_test_add_func ("/discovery/request-response-unicast", test_request_response_unicast);
  g_test_add_func ("/discovery/bad-datagrams-dropped", test_bad_datagrams_dropped);
  g_test_add_func ("/discovery/invalid-message-not-sent", test_invalid_message_not_sent);
  g_test_add_func ("/discovery/targets", test_targets);
  g_test_add_func ("/discovery/shared-port", test_shared_port);
  g_test_add_func ("/discovery/multicast-loopback", test_multicast_loopback);
  g_test_add_func ("/discovery/close", test_close);
  g_test_add_func ("/discovery/bad-group", test_bad_group);

  return g_test_run ();
}
