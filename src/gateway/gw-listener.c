/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-listener"

#include "config.h"

#include "gw-listener.h"
#include "gw-peer.h"

struct _GwListener
{
  GwCore         *core;
  GSocketService *service;
  guint16         port;
  guint           unauth_total;
  GHashTable     *unauth_by_host;   /* host → count */
  guint           peak_total;       /* the most counted at once */
  guint           peak_per_host;    /* the most from one address at once */
};

static char *
host_of (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  if (G_IS_INET_SOCKET_ADDRESS (remote))
    return g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  return g_strdup ("unknown");
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           user_data)
{
  GwListener *self = user_data;
  GwCore *core = self->core;
  g_autofree char *host = host_of (connection);
  guint per_host = GPOINTER_TO_UINT (g_hash_table_lookup (self->unauth_by_host, host));
  GwPeer *peer;

  if (core->stopping || self->unauth_total >= GW_MAX_UNAUTH_TOTAL ||
      per_host >= GW_MAX_UNAUTH_PER_HOST)
    {
      g_debug ("refusing a connection from %s (%u unauthenticated, %u from it)",
               host, self->unauth_total, per_host);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  self->unauth_total++;
  g_hash_table_replace (self->unauth_by_host, g_strdup (host), GUINT_TO_POINTER (per_host + 1));
  self->peak_total = MAX (self->peak_total, self->unauth_total);
  self->peak_per_host = MAX (self->peak_per_host, per_host + 1);

  peer = gw_peer_new (core, connection, TRUE);
  core->peers = g_list_prepend (core->peers, peer);
  gw_peer_start (peer);
  return TRUE;
}

void
gw_listener_release (GwListener *self,
                     const char *host)
{
  guint per_host;

  if (self == NULL)
    return;
  per_host = GPOINTER_TO_UINT (g_hash_table_lookup (self->unauth_by_host, host));
  if (self->unauth_total > 0)
    self->unauth_total--;
  if (per_host <= 1)
    g_hash_table_remove (self->unauth_by_host, host);
  else
    g_hash_table_replace (self->unauth_by_host, g_strdup (host), GUINT_TO_POINTER (per_host - 1));
}

guint
gw_listener_unauth_count (GwListener *self)
{
  return self->unauth_total;
}

void
gw_listener_get_unauth_peak (GwListener *self,
                             guint      *total,
                             guint      *per_host)
{
  if (total)
    *total = self->peak_total;
  if (per_host)
    *per_host = self->peak_per_host;
}

GwListener *
gw_listener_new (GwCore      *core,
                 const char  *address,
                 guint16      port,
                 GError     **error)
{
  GwListener *self = g_new0 (GwListener, 1);

  self->core = core;
  self->unauth_by_host = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->service = g_socket_service_new ();
  if (address == NULL || g_str_equal (address, "0.0.0.0") || g_str_equal (address, "::"))
    {
      if (port == 0)
        self->port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (self->service), NULL, error);
      else if (g_socket_listener_add_inet_port (G_SOCKET_LISTENER (self->service), port, NULL, error))
        self->port = port;
    }
  else
    {
      g_autoptr(GSocketAddress) sa = g_inet_socket_address_new_from_string (address, port);
      g_autoptr(GSocketAddress) effective = NULL;

      if (sa == NULL)
        g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                     "\"%s\" is not an IP address to listen on", address);
      else if (g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), sa,
                                              G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                              NULL, &effective, error))
        self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
    }
  if (self->port == 0)
    {
      gw_listener_free (self);
      return NULL;
    }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  g_debug ("listening on port %u", self->port);
  return self;
}

guint16
gw_listener_get_port (GwListener *self)
{
  return self->port;
}

void
gw_listener_stop (GwListener *self)
{
  if (self->service)
    {
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
}

void
gw_listener_free (GwListener *self)
{
  if (self == NULL)
    return;
  if (self->service)
    gw_listener_stop (self);
  g_clear_object (&self->service);
  g_hash_table_destroy (self->unauth_by_host);
  g_free (self);
}
