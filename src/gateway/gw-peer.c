/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-peer"

#include "config.h"

#include "gw-connection-flow.h"
#include "gw-discovery.h"
#include "gw-listener.h"
#include "gw-pairing-flow.h"
#include "gw-peer.h"

#define HANDSHAKE_TIMEOUT_MS    2000
#define FIRST_FRAME_TIMEOUT_MS 10000
#define MAX_PAIRINGS               8

static gboolean
psk_lookup (const char *identity,
            guint8      key[CPNS_KEY_LEN],
            gpointer    user_data)
{
  GwCore *core = user_data;
  GwPneSession *s = gw_core_lookup_pne_session (core, identity);

  if (s == NULL)
    return FALSE;
  memcpy (key, s->key, CPNS_KEY_LEN);
  return TRUE;
}

GwPeer *
gw_peer_new (GwCore            *core,
             GSocketConnection *connection,
             gboolean           counted_unauth)
{
  GwPeer *peer = g_new0 (GwPeer, 1);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  peer->ref = 1;
  peer->core = core;
  peer->connection = g_object_ref (connection);
  peer->counted_unauth = counted_unauth;
  peer->cancellable = g_cancellable_new ();
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (remote);

      peer->host = g_inet_address_to_string (g_inet_socket_address_get_address (isa));
      peer->address = g_strdup_printf ("%s:%u", peer->host, g_inet_socket_address_get_port (isa));
    }
  else
    {
      peer->host = g_strdup ("unknown");
      peer->address = g_strdup ("unknown");
    }
  peer->phase = GW_PEER_HANDSHAKE;
  return peer;
}

static void release_unauth (GwPeer *peer);

GwPeer *
gw_peer_ref (GwPeer *peer)
{
  peer->ref++;
  return peer;
}

void
gw_peer_unref (GwPeer *peer)
{
  if (peer == NULL || --peer->ref > 0)
    return;
  release_unauth (peer);
  gw_clock_clear (peer->core->clock, &peer->timer);
  gw_clock_clear (peer->core->clock, &peer->heartbeat_timer);
  g_clear_pointer (&peer->pairing, gw_pairing_flow_free);
  g_clear_pointer (&peer->setup, gw_connection_flow_free);
  if (peer->channel)
    g_signal_handlers_disconnect_by_data (peer->channel, peer);
  g_clear_object (&peer->channel);
  g_clear_object (&peer->connection);
  g_clear_object (&peer->cancellable);
  g_free (peer->host);
  g_free (peer->address);
  g_free (peer->pne_id);
  g_free (peer);
}

gboolean
gw_peer_is_closed (GwPeer *peer)
{
  return peer->phase == GW_PEER_CLOSED;
}

static void
release_unauth (GwPeer *peer)
{
  if (peer->counted_unauth)
    {
      peer->counted_unauth = FALSE;
      gw_listener_release (peer->core->listener, peer->host);
    }
}

/* The end of the connection, whatever ended it. */
static void
peer_closed (GwPeer       *peer,
             const GError *error)
{
  GwCore *core = peer->core;
  GList *link;

  if (peer->phase == GW_PEER_CLOSED)
    return;
  gw_peer_ref (peer);
  peer->phase = GW_PEER_CLOSED;
  g_cancellable_cancel (peer->cancellable);
  gw_clock_clear (core->clock, &peer->timer);
  gw_clock_clear (core->clock, &peer->heartbeat_timer);
  if (peer->counted_unauth && peer->channel && cpns_tls_channel_is_closing (peer->channel) &&
      !core->stopping)
    {
      /* Its socket stays open while the TLS close completes (up to 4 s):
       * it counts against §4.3's limits until the channel reports it
       * closed (on_channel_closed) or the engine stops. */
      core->closing_peers = g_list_prepend (core->closing_peers, gw_peer_ref (peer));
    }
  else
    release_unauth (peer);
  if (peer->pairing)
    gw_pairing_flow_peer_closed (peer->pairing, error);
  if (peer->setup)
    gw_connection_flow_peer_closed (peer->setup, error);
  if (peer->pne_id && g_hash_table_lookup (core->connected, peer->pne_id) == peer)
    {
      gw_core_set_connected (core, peer->pne_id, NULL);
      if (!core->stopping)
        {
          g_autoptr(GwEntityInfo) e = gw_registry_get_entity (core->registry, peer->pne_id);

          if (e && e->state == GW_ENTITY_CONNECTED)
            {
              e->state = GW_ENTITY_DISCONNECTED;
              e->last_seen = gw_clock_now (core->clock) / G_USEC_PER_SEC;
              gw_registry_put_entity_live (core->registry, e, NULL);
              gw_core_update_inventory (core, peer->pne_id, "disconnected", NULL, NULL);
              gw_core_emit_entity (core, peer->pne_id);
            }
        }
    }
  link = g_list_find (core->peers, peer);
  if (link)
    {
      core->peers = g_list_delete_link (core->peers, link);
      gw_peer_unref (peer);
    }
  gw_peer_unref (peer);
}

static void
on_channel_closed (CpnsTlsChannel *channel,
                   const GError   *error,
                   gpointer        user_data)
{
  GwPeer *peer = user_data;
  g_autoptr(GwPeer) hold = gw_peer_ref (peer);
  GList *link;

  g_debug ("%s: closed%s%s", peer->address, error ? ": " : "", error ? error->message : "");
  peer_closed (peer, error);
  release_unauth (peer);
  link = g_list_find (peer->core->closing_peers, peer);
  if (link)
    {
      peer->core->closing_peers = g_list_delete_link (peer->core->closing_peers, link);
      gw_peer_unref (peer);
    }
}

void
gw_peer_send (GwPeer      *peer,
              CpnsMessage *msg)
{
  if (peer->phase == GW_PEER_CLOSED || peer->channel == NULL)
    return;
  cpns_tls_channel_send (peer->channel, msg);
}

void
gw_peer_fail (GwPeer       *peer,
              const GError *error)
{
  if (peer->phase == GW_PEER_CLOSED)
    return;
  if (peer->channel && !cpns_tls_channel_is_closed (peer->channel) &&
      error && error->domain == CPNS_ERROR && error->code < CPNS_ERROR_PIN_MISMATCH)
    {
      cpns_tls_channel_send_error_and_close (peer->channel, error);
      /* "closed" follows; mark now so nothing more is sent. */
      peer_closed (peer, error);
    }
  else
    gw_peer_close (peer);
}

void
gw_peer_close (GwPeer *peer)
{
  if (peer->phase == GW_PEER_CLOSED)
    return;
  if (peer->channel)
    cpns_tls_channel_close (peer->channel);
  else
    g_io_stream_close (G_IO_STREAM (peer->connection), NULL, NULL);
  peer_closed (peer, NULL);
}

void
gw_peer_set_authenticated (GwPeer *peer)
{
  release_unauth (peer);
  if (peer->channel)
    cpns_tls_channel_set_max_frame (peer->channel, CPNS_MAX_MESSAGE_SIZE);
}

static gboolean
on_heartbeat (gpointer data)
{
  GwPeer *peer = data;
  GwCore *core = peer->core;
  gint64 silent = gw_clock_now (core->clock) - peer->last_rx;
  guint hb = core->config->heartbeat_s ? core->config->heartbeat_s : 30;

  if (silent > (gint64) hb * 3 * G_USEC_PER_SEC)
    {
      g_debug ("%s: silent for %" G_GINT64_FORMAT " s, dropping", peer->address,
               silent / G_USEC_PER_SEC);
      peer->heartbeat_timer = 0;
      gw_peer_close (peer);
      return G_SOURCE_REMOVE;
    }
  {
    g_autoptr(CpnsMessage) ping = cpns_message_new ("ping");
    gw_peer_send (peer, ping);
  }
  return G_SOURCE_CONTINUE;
}

void
gw_peer_set_connected (GwPeer     *peer,
                       const char *pne_id)
{
  GwCore *core = peer->core;
  guint hb = core->config->heartbeat_s ? core->config->heartbeat_s : 30;

  g_free (peer->pne_id);
  peer->pne_id = g_strdup (pne_id);
  peer->phase = GW_PEER_CONNECTED;
  gw_peer_set_authenticated (peer);
  gw_core_set_connected (core, pne_id, peer);
  gw_clock_clear (core->clock, &peer->heartbeat_timer);
  peer->heartbeat_timer = gw_clock_add_timeout (core->clock, hb * 1000, on_heartbeat, peer);
}

static void
fail_code (GwPeer        *peer,
           CpnsErrorCode  code,
           const char    *message)
{
  g_autoptr(GError) error = g_error_new_literal (CPNS_ERROR, code, message);

  gw_peer_fail (peer, error);
}

static void
on_first_frame (GwPeer      *peer,
                CpnsMessage *msg)
{
  GwCore *core = peer->core;
  const char *kind = cpns_message_get_kind (msg);
  gboolean psk = cpns_tls_channel_is_psk (peer->channel);

  if (g_str_equal (kind, "ping"))
    {
      g_autoptr(CpnsMessage) pong = cpns_message_new ("pong");
      gw_peer_send (peer, pong);
      return;
    }
  gw_clock_clear (core->clock, &peer->timer);
  if (g_str_equal (kind, "pairing_request") && !psk)
    {
      if (!gw_discovery_may_pair (core->discovery, peer->host))
        {
          fail_code (peer, CPNS_ERROR_PAIRING_CLOSED, "The gateway's pairing window is not open");
          return;
        }
      if (core->active_pairings >= MAX_PAIRINGS)
        {
          fail_code (peer, CPNS_ERROR_CONFLICT, "Too many pairings at once; try again shortly");
          return;
        }
      peer->phase = GW_PEER_PAIRING;
      peer->pairing = gw_pairing_flow_new (peer, msg);
    }
  else if ((g_str_equal (kind, "connection_setup_request") && !psk) ||
           (g_str_equal (kind, "session_resume_request") && psk))
    {
      peer->phase = GW_PEER_SETUP;
      peer->setup = gw_connection_flow_new (peer, msg);
    }
  else
    fail_code (peer, CPNS_ERROR_BAD_REQUEST,
               "bad_request: a connection starts with pairing_request,"
               " connection_setup_request or (PSK) session_resume_request");
}

static void
on_message (CpnsTlsChannel *channel,
            CpnsMessage    *msg,
            gpointer        user_data)
{
  GwPeer *peer = user_data;
  g_autoptr(GwPeer) hold = gw_peer_ref (peer);
  const char *kind = cpns_message_get_kind (msg);

  if (peer->phase == GW_PEER_CLOSED)
    return;
  peer->last_rx = gw_clock_now (peer->core->clock);
  if (g_str_equal (kind, "pong"))
    return;
  if (g_str_equal (kind, "ping") && peer->phase != GW_PEER_FIRST_FRAME)
    {
      g_autoptr(CpnsMessage) pong = cpns_message_new ("pong");
      gw_peer_send (peer, pong);
      return;
    }
  if (g_str_equal (kind, "error"))
    {
      g_autoptr(GError) error = cpns_message_to_error (msg);

      g_debug ("%s: peer sent error: %s", peer->address, error ? error->message : "?");
      if (peer->channel)
        cpns_tls_channel_close (peer->channel);
      peer_closed (peer, error);
      return;
    }
  if (g_str_equal (kind, "bye"))
    {
      gw_peer_close (peer);
      return;
    }
  switch (peer->phase)
    {
    case GW_PEER_FIRST_FRAME:
      on_first_frame (peer, msg);
      break;
    case GW_PEER_PAIRING:
      gw_pairing_flow_message (peer->pairing, msg);
      break;
    case GW_PEER_SETUP:
    case GW_PEER_CONNECTED:
      gw_connection_flow_message (peer->setup, msg);
      break;
    case GW_PEER_HANDSHAKE:
    case GW_PEER_CLOSED:
    default:
      break;
    }
}

static gboolean
on_first_frame_timeout (gpointer data)
{
  GwPeer *peer = data;

  peer->timer = 0;
  g_debug ("%s: no first frame in time", peer->address);
  gw_peer_close (peer);
  return G_SOURCE_REMOVE;
}

static void
on_handshake (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GwPeer *peer = user_data;
  g_autoptr(GError) error = NULL;

  if (!cpns_tls_channel_handshake_finish (CPNS_TLS_CHANNEL (source), result, &error))
    {
      g_debug ("%s: handshake failed: %s", peer->address, error->message);
      if (peer->phase != GW_PEER_CLOSED)
        {
          cpns_tls_channel_close (peer->channel);
          peer_closed (peer, error);
        }
      gw_peer_unref (peer);
      return;
    }
  if (peer->phase == GW_PEER_CLOSED)
    {
      gw_peer_unref (peer);
      return;
    }
  peer->phase = GW_PEER_FIRST_FRAME;
  peer->last_rx = gw_clock_now (peer->core->clock);
  peer->timer = gw_clock_add_timeout (peer->core->clock, FIRST_FRAME_TIMEOUT_MS,
                                      on_first_frame_timeout, peer);
  cpns_tls_channel_start (peer->channel);
  gw_peer_unref (peer);
}

void
gw_peer_start (GwPeer *peer)
{
  GwCore *core = peer->core;

  peer->channel = cpns_tls_channel_new_server (G_IO_STREAM (peer->connection), core->certificate,
                                               psk_lookup, core, NULL);
  cpns_tls_channel_set_max_frame (peer->channel, CPNS_MAX_PREAUTH_SIZE);
  g_signal_connect (peer->channel, "message-received", G_CALLBACK (on_message), peer);
  g_signal_connect (peer->channel, "closed", G_CALLBACK (on_channel_closed), peer);
  cpns_tls_channel_handshake_async (peer->channel, HANDSHAKE_TIMEOUT_MS, peer->cancellable,
                                    on_handshake, gw_peer_ref (peer));
}
