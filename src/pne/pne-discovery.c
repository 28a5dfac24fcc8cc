/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <string.h>

#include "cpns-crypto.h"
#include "cpns-discovery.h"
#include "pne-discovery.h"

#define DEFAULT_INTERVAL_MS 2000

struct _PneDiscovery
{
  GObject              parent_instance;

  char                *name;
  char                *entity_type;
  guint8               nonce[CPNS_NONCE_LEN];
  CpnsDiscoverySocket *socket;
  gulong               datagram_id;
  guint                interval_ms;
  guint                timer_id;
};

enum
{
  GATEWAY_HEARD,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PneDiscovery, pne_discovery, G_TYPE_OBJECT)

static void
pne_discovery_dispose (GObject *object)
{
  PneDiscovery *self = PNE_DISCOVERY (object);

  pne_discovery_stop (self);
  if (self->socket != NULL)
    {
      g_clear_signal_handler (&self->datagram_id, self->socket);
      cpns_discovery_socket_close (self->socket);
      g_clear_object (&self->socket);
    }
  G_OBJECT_CLASS (pne_discovery_parent_class)->dispose (object);
}

static void
pne_discovery_finalize (GObject *object)
{
  PneDiscovery *self = PNE_DISCOVERY (object);

  g_free (self->name);
  g_free (self->entity_type);
  G_OBJECT_CLASS (pne_discovery_parent_class)->finalize (object);
}

static void
pne_discovery_class_init (PneDiscoveryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pne_discovery_dispose;
  object_class->finalize = pne_discovery_finalize;

  signals[GATEWAY_HEARD] =
    g_signal_new ("gateway-heard", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING, CPNS_TYPE_MESSAGE);
}

static void
pne_discovery_init (PneDiscovery *self)
{
  self->interval_ms = DEFAULT_INTERVAL_MS;
}

static void
on_datagram (CpnsDiscoverySocket *socket,
             CpnsMessage         *msg,
             GSocketAddress      *from,
             gpointer             user_data)
{
  PneDiscovery *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  g_autofree char *address = NULL;
  const char *kind = cpns_message_get_kind (msg);
  gint64 port;

  if (g_strcmp0 (cpns_message_get_string (msg, "mode"), "pn_gw") != 0)
    return;   /* another PNE */
  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return;

  /* Answer a gateway's request while in pairing mode (§4.2). */
  if (g_strcmp0 (kind, "entity_discovery_request") == 0)
    {
      g_autoptr(CpnsMessage) answer = cpns_discovery_new_pne (TRUE, self->name,
                                                              self->entity_type, self->nonce);

      if (!cpns_discovery_socket_send_to (self->socket, answer, from, &error))
        g_debug ("Cannot answer a gateway's discovery request: %s", error->message);
    }

  port = cpns_message_get_int (msg, "port");
  if (port <= 0 || port > 65535)
    return;
  host = g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)));
  if (strchr (host, ':') != NULL)
    address = g_strdup_printf ("[%s]:%" G_GINT64_FORMAT, host, port);
  else
    address = g_strdup_printf ("%s:%" G_GINT64_FORMAT, host, port);

  g_signal_emit (self, signals[GATEWAY_HEARD], 0, address, msg);
}

PneDiscovery *
pne_discovery_new (const char *name,
                   const char *entity_type,
                   gboolean    multicast,
                   GError    **error)
{
  g_autoptr(PneDiscovery) self = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (entity_type != NULL, NULL);

  self = g_object_new (PNE_TYPE_DISCOVERY, NULL);
  self->name = g_strdup (name);
  self->entity_type = g_strdup (entity_type);
  cpns_random_nonce (self->nonce, CPNS_NONCE_LEN);
  /* An ephemeral port: gateways answer by unicast (PROTOCOL-NOTES §4.2).
   * With a group, the socket sends there too (port 7472, TTL 1). */
  self->socket = cpns_discovery_socket_new (NULL, 0,
                                            multicast ? CPNS_DEFAULT_DISCOVERY_GROUP : NULL,
                                            error);
  if (self->socket == NULL)
    return NULL;
  self->datagram_id = g_signal_connect (self->socket, "datagram-received",
                                        G_CALLBACK (on_datagram), self);
  return g_steal_pointer (&self);
}

void
pne_discovery_add_target (PneDiscovery *self,
                          const char   *host_port)
{
  g_return_if_fail (PNE_IS_DISCOVERY (self));

  cpns_discovery_socket_add_target (self->socket, host_port);
}

void
pne_discovery_set_interval (PneDiscovery *self,
                            guint         interval_ms)
{
  g_return_if_fail (PNE_IS_DISCOVERY (self));

  self->interval_ms = MAX (interval_ms, 10);
}

static gboolean
announce (gpointer user_data)
{
  PneDiscovery *self = user_data;
  g_autoptr(CpnsMessage) request = cpns_discovery_new_pne (FALSE, self->name,
                                                           self->entity_type, self->nonce);
  g_autoptr(GError) error = NULL;

  if (!cpns_discovery_socket_broadcast (self->socket, request, &error))
    g_debug ("Cannot send a discovery request: %s", error->message);
  return G_SOURCE_CONTINUE;
}

void
pne_discovery_start (PneDiscovery *self)
{
  g_return_if_fail (PNE_IS_DISCOVERY (self));

  if (self->timer_id != 0)
    return;
  announce (self);
  self->timer_id = g_timeout_add (self->interval_ms, announce, self);
}

void
pne_discovery_stop (PneDiscovery *self)
{
  g_return_if_fail (PNE_IS_DISCOVERY (self));

  g_clear_handle_id (&self->timer_id, g_source_remove);
}
