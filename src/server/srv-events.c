/* SPDX-License-Identifier: GPL-3.0-or-later */
/* §5.7 events over a WebSocket. Every change that gateways hear about is
 * written to the store's events outbox in the transaction that makes it,
 * by this process or another (the admin CLI); the serving process polls
 * the outbox and pushes new rows to the WebSockets of that PN. */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include "srv-server-private.h"

#define EVENTS_PER_POLL 512

typedef struct
{
  SrvServer               *server;
  SoupWebsocketConnection *connection;
  char                    *user_id;
  char                    *gateway_id;
  char                    *token_hash;
  gint64                   expires_at;
  gboolean                 warned;
  gulong                   closed_id;
} SrvWsClient;

static void
client_free (SrvWsClient *client)
{
  if (client->closed_id)
    g_signal_handler_disconnect (client->connection, client->closed_id);
  g_object_unref (client->connection);
  g_free (client->user_id);
  g_free (client->gateway_id);
  g_free (client->token_hash);
  g_free (client);
}

void
srv_handle_events_request (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;

  if (!srv_request_authenticate (req, &error))
    return srv_reply_error (req, error);
  if (!soup_websocket_server_check_handshake (req->msg, NULL, NULL, NULL, NULL))
    return srv_reply_error_code (req, CPNS_ERROR_BAD_REQUEST,
                                 "bad_request: /cpns/v1/events is a WebSocket (Upgrade: websocket)");
  /* No status: SoupServer completes the upgrade, then srv_events_attach(). */
  g_object_set_data_full (G_OBJECT (req->msg), "srv-session",
                          g_steal_pointer (&req->session), (GDestroyNotify) srv_session_free);
  g_object_set_data_full (G_OBJECT (req->msg), "srv-token-hash",
                          g_steal_pointer (&req->token_hash), g_free);
}

static gboolean
client_free_idle (gpointer data)
{
  client_free (data);
  return G_SOURCE_REMOVE;
}

static void
closed_cb (SoupWebsocketConnection *connection,
           SrvWsClient             *client)
{
  SrvServer *server = client->server;

  g_debug ("events socket of gateway %s closed", client->gateway_id);
  g_ptr_array_remove (server->ws_clients, client);
  /* Not while the connection is still emitting "closed". */
  g_signal_handler_disconnect (connection, client->closed_id);
  client->closed_id = 0;
  g_idle_add (client_free_idle, client);
}

void
srv_events_attach (SrvServer               *server,
                   SoupServerMessage       *msg,
                   SoupWebsocketConnection *connection)
{
  SrvSession *session = g_object_get_data (G_OBJECT (msg), "srv-session");
  const char *token_hash = g_object_get_data (G_OBJECT (msg), "srv-token-hash");
  SrvWsClient *client;

  if (session == NULL || token_hash == NULL)
    {
      soup_websocket_connection_close (connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NULL);
      return;
    }
  client = g_new0 (SrvWsClient, 1);
  client->server = server;
  client->connection = g_object_ref (connection);
  client->user_id = g_strdup (session->user_id);
  client->gateway_id = g_strdup (session->gateway_id);
  client->token_hash = g_strdup (token_hash);
  client->expires_at = session->expires_at;
  client->closed_id = g_signal_connect (connection, "closed", G_CALLBACK (closed_cb), client);
  soup_websocket_connection_set_keepalive_interval (connection, 30);
  g_ptr_array_add (server->ws_clients, client);
  g_debug ("events socket opened for gateway %s", client->gateway_id);
}

static gboolean
client_is_open (SrvWsClient *client)
{
  return soup_websocket_connection_get_state (client->connection) == SOUP_WEBSOCKET_STATE_OPEN;
}

static void
send_expiring (SrvWsClient *client)
{
  g_autoptr(JsonObject) event = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  json_object_set_string_member (event, "type", "session_expiring");
  srv_json_set_time (event, "expires_at", client->expires_at);
  node = json_node_init_object (json_node_alloc (), event);
  text = json_to_string (node, FALSE);
  soup_websocket_connection_send_text (client->connection, text);
}

void
srv_events_poll (SrvServer *server)
{
  const SrvTimings *t = srv_timings_get ();
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GPtrArray) snapshot = NULL;
  gint64 now = srv_now ();

  events = srv_store_events_after (server->store, server->last_event_id, EVENTS_PER_POLL, NULL);
  if (events != NULL && events->len > 0)
    server->last_event_id = ((SrvEvent *) g_ptr_array_index (events, events->len - 1))->id;
  if (server->ws_clients->len == 0)
    return;

  /* Sending may close a socket and remove its client: walk a copy. */
  snapshot = g_ptr_array_copy (server->ws_clients, NULL, NULL);
  for (guint i = 0; i < snapshot->len; i++)
    {
      SrvWsClient *client = g_ptr_array_index (snapshot, i);

      if (g_ptr_array_find (server->ws_clients, client, NULL) == FALSE || !client_is_open (client))
        continue;

      for (guint j = 0; events && j < events->len; j++)
        {
          SrvEvent *event = g_ptr_array_index (events, j);

          /* A failed send starts closing the socket: send no more. */
          if (strcmp (event->user_id, client->user_id) == 0 && client_is_open (client))
            soup_websocket_connection_send_text (client->connection, event->body);
        }

      /* The session behind the socket: ended, expiring, expired. */
      {
        g_autoptr(SrvSession) session = srv_store_lookup_session (server->store, client->token_hash,
                                                                  now, NULL);

        if (session == NULL)
          {
            soup_websocket_connection_close (client->connection, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                             "session ended");
            continue;
          }
        if (!client->warned && now >= client->expires_at - t->expiring_notice &&
            client_is_open (client))
          {
            client->warned = TRUE;
            send_expiring (client);
          }
      }
    }
}

void
srv_events_close_all (SrvServer *server)
{
  while (server->ws_clients->len > 0)
    {
      SrvWsClient *client = g_ptr_array_steal_index (server->ws_clients, server->ws_clients->len - 1);

      if (client_is_open (client))
        soup_websocket_connection_close (client->connection, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      client_free (client);
    }
}
