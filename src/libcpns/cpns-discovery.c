/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cpns-discovery.h"
#include "cpns-error.h"

/*
 * Discovery datagrams of §4.2 and the UDP socket that carries them.
 *
 * The socket is IPv4 (the group of §4.2 is IPv4). It is bound with
 * SO_REUSEADDR/SO_REUSEPORT so that several programs on one host can share
 * the discovery port; with IP_MULTICAST_LOOP on they all see each other's
 * group datagrams (including their own: callers ignore those by content).
 * The group may be given as "ADDR" or "ADDR:PORT"; without a port,
 * datagrams for the group go to the socket's own port, or to
 * CPNS_DEFAULT_DISCOVERY_PORT when it was bound to an ephemeral one.
 */

/* Big enough to see that a datagram is over the limit. */
#define RECV_BUFFER (CPNS_MAX_DATAGRAM_SIZE + 512)

CpnsMessage *
cpns_discovery_new_gateway (gboolean    response,
                            const char *gateway_id,
                            const char *pn_id,
                            const char *name,
                            guint16     port,
                            const char *cert_sha256,
                            gboolean    pairing_open)
{
  CpnsMessage *msg;

  g_return_val_if_fail (gateway_id != NULL, NULL);
  g_return_val_if_fail (pn_id != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (cert_sha256 != NULL, NULL);

  msg = cpns_message_new (response ? "entity_discovery_response" : "entity_discovery_request");
  cpns_message_set_string (msg, "mode", "pn_gw");
  cpns_message_set_string (msg, "gateway_id", gateway_id);
  cpns_message_set_string (msg, "pn_id", pn_id);
  cpns_message_set_string (msg, "name", name);
  cpns_message_set_int (msg, "port", port);
  cpns_message_set_string (msg, "cert_sha256", cert_sha256);
  cpns_message_set_bool (msg, "pairing_open", pairing_open);
  return msg;
}

CpnsMessage *
cpns_discovery_new_pne (gboolean      response,
                        const char   *name,
                        const char   *entity_type,
                        const guint8  nonce[CPNS_NONCE_LEN])
{
  CpnsMessage *msg;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (entity_type != NULL, NULL);
  g_return_val_if_fail (nonce != NULL, NULL);

  msg = cpns_message_new (response ? "entity_discovery_response" : "entity_discovery_request");
  cpns_message_set_string (msg, "mode", "pne");
  cpns_message_set_string (msg, "name", name);
  cpns_message_set_string (msg, "entity_type", entity_type);
  cpns_message_set_bytes (msg, "nonce", nonce, CPNS_NONCE_LEN);
  return msg;
}

/* ------------------------------------------------------------------ */

struct _CpnsDiscoverySocket
{
  GObject          parent_instance;

  GMainContext    *context;
  GSocket         *socket;
  GSource         *source;
  GSocketAddress  *group;       /* NULL when none */
  GPtrArray       *targets;     /* GSocketAddress */
  guint16          port;
  guint8          *buffer;
};

G_DEFINE_FINAL_TYPE (CpnsDiscoverySocket, cpns_discovery_socket, G_TYPE_OBJECT)

enum {
  SIGNAL_DATAGRAM_RECEIVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cpns_discovery_socket_dispose (GObject *object)
{
  CpnsDiscoverySocket *self = CPNS_DISCOVERY_SOCKET (object);

  cpns_discovery_socket_close (self);

  G_OBJECT_CLASS (cpns_discovery_socket_parent_class)->dispose (object);
}

static void
cpns_discovery_socket_finalize (GObject *object)
{
  CpnsDiscoverySocket *self = CPNS_DISCOVERY_SOCKET (object);

  g_clear_object (&self->socket);
  g_clear_object (&self->group);
  g_clear_pointer (&self->targets, g_ptr_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->buffer);

  G_OBJECT_CLASS (cpns_discovery_socket_parent_class)->finalize (object);
}

static void
cpns_discovery_socket_class_init (CpnsDiscoverySocketClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cpns_discovery_socket_dispose;
  object_class->finalize = cpns_discovery_socket_finalize;

  /**
   * CpnsDiscoverySocket::datagram-received:
   * @msg: the decoded datagram
   * @from: its source address
   */
  signals[SIGNAL_DATAGRAM_RECEIVED] =
    g_signal_new ("datagram-received",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2,
                  CPNS_TYPE_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_SOCKET_ADDRESS);
}

static void
cpns_discovery_socket_init (CpnsDiscoverySocket *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->targets = g_ptr_array_new_with_free_func (g_object_unref);
  self->buffer = g_malloc (RECV_BUFFER);
}

static gboolean
on_socket_readable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  CpnsDiscoverySocket *self = user_data;

  g_object_ref (self);

  while (self->socket != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketAddress) from = NULL;
      g_autoptr(CpnsMessage) msg = NULL;
      gssize n;

      n = g_socket_receive_from (self->socket, &from, (char *) self->buffer, RECV_BUFFER,
                                 NULL, &error);
      if (n < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("discovery: receive failed: %s", error->message);
          break;
        }

      msg = cpns_message_decode_datagram ((const char *) self->buffer, (gsize) n, &error);
      if (msg == NULL)
        {
          g_debug ("discovery: dropping a datagram of %" G_GSSIZE_FORMAT " bytes: %s",
                   n, error->message);
          continue;
        }
      if (from == NULL)
        continue;

      g_signal_emit (self, signals[SIGNAL_DATAGRAM_RECEIVED], 0, msg, from);
    }

  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

/* "HOST:PORT" (numeric IPv4 or "localhost") into an address. */
static GSocketAddress *
parse_host_port (const char  *host_port,
                 guint16      default_port,
                 GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GInetAddress) address = NULL;
  const char *host;
  guint16 port;

  connectable = g_network_address_parse (host_port, default_port, error);
  if (connectable == NULL)
    return NULL;

  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    address = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    address = g_inet_address_new_from_string (host);

  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: '%s' is not an IPv4 address", host);
      return NULL;
    }
  if (port == 0)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: '%s' has no port", host_port);
      return NULL;
    }
  return g_inet_socket_address_new (address, port);
}

CpnsDiscoverySocket *
cpns_discovery_socket_new (const char  *bind_address,
                           guint16      port,
                           const char  *group,
                           GError     **error)
{
  return cpns_discovery_socket_new_on_interface (bind_address, port, group, NULL, error);
}

/* Joins @group on the interface that has @interface_address (NULL: the
 * one the kernel picks) and sends group datagrams out of it. */
static gboolean
join_group (GSocket      *socket,
            GInetAddress *group,
            GInetAddress *interface_address,
            GError      **error)
{
  struct ip_mreq mreq;
  struct in_addr iface;
  int fd = g_socket_get_fd (socket);

  memset (&mreq, 0, sizeof mreq);
  memcpy (&mreq.imr_multiaddr, g_inet_address_to_bytes (group), sizeof mreq.imr_multiaddr);
  if (interface_address != NULL)
    memcpy (&iface, g_inet_address_to_bytes (interface_address), sizeof iface);
  else
    iface.s_addr = htonl (INADDR_ANY);
  mreq.imr_interface = iface;

  if (interface_address != NULL &&
      setsockopt (fd, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "IP_MULTICAST_IF: %s", g_strerror (errsv));
      return FALSE;
    }
  if (setsockopt (fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
    {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "IP_ADD_MEMBERSHIP: %s", g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

CpnsDiscoverySocket *
cpns_discovery_socket_new_on_interface (const char  *bind_address,
                                        guint16      port,
                                        const char  *group,
                                        const char  *interface_address,
                                        GError     **error)
{
  g_autoptr(GInetAddress) iface_inet = NULL;
  g_autoptr(CpnsDiscoverySocket) self = NULL;
  g_autoptr(GInetAddress) bind_inet = NULL;
  g_autoptr(GSocketAddress) bind_addr = NULL;
  g_autoptr(GSocketAddress) local = NULL;

  self = g_object_new (CPNS_TYPE_DISCOVERY_SOCKET, NULL);

  if (interface_address != NULL)
    {
      iface_inet = g_inet_address_new_from_string (interface_address);
      if (iface_inet == NULL || g_inet_address_get_family (iface_inet) != G_SOCKET_FAMILY_IPV4)
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: '%s' is not an IPv4 address", interface_address);
          return NULL;
        }
    }

  if (bind_address != NULL)
    {
      bind_inet = g_inet_address_new_from_string (bind_address);
      if (bind_inet == NULL || g_inet_address_get_family (bind_inet) != G_SOCKET_FAMILY_IPV4)
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: '%s' is not an IPv4 address", bind_address);
          return NULL;
        }
    }
  else
    {
      bind_inet = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
    }

  if (group != NULL)
    {
      self->group = parse_host_port (group,
                                     port != 0 ? port : CPNS_DEFAULT_DISCOVERY_PORT,
                                     error);
      if (self->group == NULL)
        return NULL;
      if (!g_inet_address_get_is_multicast (
              g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (self->group))))
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: '%s' is not a multicast group", group);
          return NULL;
        }
    }

  self->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                               G_SOCKET_PROTOCOL_UDP, error);
  if (self->socket == NULL)
    return NULL;
  g_socket_set_blocking (self->socket, FALSE);

  bind_addr = g_inet_socket_address_new (bind_inet, port);
  if (!g_socket_bind (self->socket, bind_addr, TRUE, error))
    return NULL;

  local = g_socket_get_local_address (self->socket, error);
  if (local == NULL)
    return NULL;
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  if (self->group != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      GInetAddress *group_inet =
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (self->group));

      g_socket_set_multicast_loopback (self->socket, TRUE);
      g_socket_set_multicast_ttl (self->socket, 1);
      /* Without a multicast route (a host with only loopback, a test
       * namespace) unicast targets still work; the group is best effort. */
      if (!join_group (self->socket, group_inet, iface_inet, &local_error))
        g_debug ("discovery: cannot join %s: %s", group, local_error->message);
    }

  self->source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->source, G_SOURCE_FUNC (on_socket_readable), self, NULL);
  g_source_attach (self->source, self->context);

  return g_steal_pointer (&self);
}

guint16
cpns_discovery_socket_get_port (CpnsDiscoverySocket *self)
{
  g_return_val_if_fail (CPNS_IS_DISCOVERY_SOCKET (self), 0);

  return self->port;
}

gboolean
cpns_discovery_socket_add_target_checked (CpnsDiscoverySocket  *self,
                                          const char           *host_port,
                                          GError              **error)
{
  GSocketAddress *address;

  g_return_val_if_fail (CPNS_IS_DISCOVERY_SOCKET (self), FALSE);
  g_return_val_if_fail (host_port != NULL, FALSE);

  address = parse_host_port (host_port, 0, error);
  if (address == NULL)
    return FALSE;
  g_ptr_array_add (self->targets, address);
  return TRUE;
}

void
cpns_discovery_socket_add_target (CpnsDiscoverySocket *self,
                                  const char          *host_port)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CPNS_IS_DISCOVERY_SOCKET (self));
  g_return_if_fail (host_port != NULL);

  if (!cpns_discovery_socket_add_target_checked (self, host_port, &error))
    g_debug ("discovery: ignoring target '%s': %s", host_port, error->message);
}

static GBytes *
encode_datagram (CpnsMessage  *msg,
                 GError      **error)
{
  g_autoptr(GBytes) bytes = cpns_message_encode (msg, error);

  if (bytes == NULL)
    return NULL;
  if (g_bytes_get_size (bytes) > CPNS_MAX_DATAGRAM_SIZE)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE,
                   "too_large: a discovery datagram is limited to %d bytes",
                   CPNS_MAX_DATAGRAM_SIZE);
      return NULL;
    }
  return g_steal_pointer (&bytes);
}

static gboolean
send_bytes (CpnsDiscoverySocket  *self,
            GBytes               *bytes,
            GSocketAddress       *to,
            GError              **error)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  gssize n;

  if (self->socket == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_CLOSED, "closed: discovery socket closed");
      return FALSE;
    }

  n = g_socket_send_to (self->socket, to, data, len, NULL, error);
  return n >= 0;
}

gboolean
cpns_discovery_socket_broadcast (CpnsDiscoverySocket  *self,
                                 CpnsMessage          *msg,
                                 GError              **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) last_error = NULL;
  guint sent = 0, failed = 0;

  g_return_val_if_fail (CPNS_IS_DISCOVERY_SOCKET (self), FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);

  bytes = encode_datagram (msg, error);
  if (bytes == NULL)
    return FALSE;

  if (self->group != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      if (send_bytes (self, bytes, self->group, &local_error))
        sent++;
      else
        {
          g_debug ("discovery: sending to the group failed: %s", local_error->message);
          failed++;
          g_clear_error (&last_error);
          last_error = g_steal_pointer (&local_error);
        }
    }

  for (guint i = 0; i < self->targets->len; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (send_bytes (self, bytes, self->targets->pdata[i], &local_error))
        sent++;
      else
        {
          g_debug ("discovery: sending to a target failed: %s", local_error->message);
          failed++;
          g_clear_error (&last_error);
          last_error = g_steal_pointer (&local_error);
        }
    }

  /* Succeeds when at least one destination took it (or there is none). */
  if (sent == 0 && failed > 0)
    {
      g_propagate_error (error, g_steal_pointer (&last_error));
      return FALSE;
    }
  return TRUE;
}

gboolean
cpns_discovery_socket_send_to (CpnsDiscoverySocket  *self,
                               CpnsMessage          *msg,
                               GSocketAddress       *to,
                               GError              **error)
{
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (CPNS_IS_DISCOVERY_SOCKET (self), FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (G_IS_SOCKET_ADDRESS (to), FALSE);

  bytes = encode_datagram (msg, error);
  if (bytes == NULL)
    return FALSE;
  return send_bytes (self, bytes, to, error);
}

void
cpns_discovery_socket_close (CpnsDiscoverySocket *self)
{
  g_return_if_fail (CPNS_IS_DISCOVERY_SOCKET (self));

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  if (self->socket != NULL)
    {
      g_socket_close (self->socket, NULL);
      g_clear_object (&self->socket);
    }
}
