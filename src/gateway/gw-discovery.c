/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-discovery"

#include "config.h"

#include "cpns-discovery.h"
#include "gw-discovery.h"
#include "gw-event-private.h"
#include "gw-listener.h"

#define ANNOUNCE_MS         2000
#define DISCOVERED_EXPIRY_S 30
#define PERMIT_S            120
#define MAX_FAILURES        20
#define MAX_DISCOVERED      256

typedef struct
{
  GwDiscoveredInfo *info;
  GSocketAddress   *from;
} Discovered;

struct _GwDiscovery
{
  GwCore              *core;
  CpnsDiscoverySocket *socket;
  gboolean             open;
  gint64               closes_at;     /* µs */
  guint                failed;
  guint                tick_timer;    /* 1 s: countdown, expiry sweep */
  guint                announce_timer;
  GHashTable          *discovered;    /* id → Discovered */
  GHashTable          *permits;       /* host → gint64* until (µs) */
  gboolean             muted;         /* discovery switched off by the user */
};

static void
discovered_free (Discovered *d)
{
  gw_discovered_info_free (d->info);
  g_clear_object (&d->from);
  g_free (d);
}

static void
emit_window (GwDiscovery *self)
{
  GwEvent *event = gw_event_new (GW_EVENT_PAIRING_WINDOW);

  event->time = gw_clock_now (self->core->clock);
  event->pairing_window = gw_discovery_dup_window_info (self);
  gw_core_emit (self->core, event);
}

GwPairingWindowInfo *
gw_discovery_dup_window_info (GwDiscovery *self)
{
  GwPairingWindowInfo *w = g_new0 (GwPairingWindowInfo, 1);

  if (self == NULL)
    return w;
  w->open = self->open;
  w->closes_at = self->open ? self->closes_at : 0;
  if (self->open)
    {
      gint64 left = self->closes_at - gw_clock_now (self->core->clock);
      w->remaining_s = left > 0 ? (guint) ((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
    }
  w->failed_pairings = self->failed;
  return w;
}

static CpnsMessage *
gateway_descriptor (GwDiscovery *self,
                    gboolean     response,
                    gboolean     pairing_open)
{
  GwCore *core = self->core;
  g_autofree char *name = NULL;

  if (!gw_core_is_enrolled (core) || core->listener == NULL)
    return NULL;
  name = g_utf8_substring (core->gateway_name, 0, MIN (64, g_utf8_strlen (core->gateway_name, -1)));
  return cpns_discovery_new_gateway (response, core->gateway_id, core->pn_id, name,
                                     gw_listener_get_port (core->listener),
                                     cpns_certificate_get_sha256 (core->certificate),
                                     pairing_open);
}

static void
send_to (GwDiscovery    *self,
         GSocketAddress *to,
         gboolean        pairing_open)
{
  g_autoptr(CpnsMessage) msg = gateway_descriptor (self, TRUE, pairing_open);
  g_autoptr(GError) error = NULL;

  if (msg && self->socket && !cpns_discovery_socket_send_to (self->socket, msg, to, &error))
    g_debug ("discovery send failed: %s", error->message);
}

static gboolean
on_announce (gpointer data)
{
  GwDiscovery *self = data;
  g_autoptr(CpnsMessage) msg = self->muted ? NULL : gateway_descriptor (self, FALSE, self->open);
  g_autoptr(GError) error = NULL;

  if (msg && self->socket && !cpns_discovery_socket_broadcast (self->socket, msg, &error))
    g_debug ("discovery broadcast failed: %s", error->message);
  return G_SOURCE_CONTINUE;
}

static void
sweep (GwDiscovery *self)
{
  gint64 now = gw_clock_now (self->core->clock);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->discovered);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Discovered *d = value;

      if (now - d->info->last_heard >= (gint64) DISCOVERED_EXPIRY_S * G_USEC_PER_SEC)
        {
          GwEvent *event = gw_event_new (GW_EVENT_DISCOVERED_EXPIRED);

          event->time = now;
          event->discovered = g_new0 (GwDiscoveredInfo, 1);
          *event->discovered = *d->info;
          event->discovered->id = g_strdup (d->info->id);
          event->discovered->name = g_strdup (d->info->name);
          event->discovered->entity_type = g_strdup (d->info->entity_type);
          event->discovered->address = g_strdup (d->info->address);
          g_hash_table_iter_remove (&iter);
          gw_core_emit (self->core, event);
        }
    }
}

static gboolean
on_tick (gpointer data)
{
  GwDiscovery *self = data;

  sweep (self);
  if (self->open)
    {
      if (gw_clock_now (self->core->clock) >= self->closes_at)
        gw_discovery_close_window (self);
      else
        emit_window (self);
    }
  if (!self->open && g_hash_table_size (self->discovered) == 0)
    {
      self->tick_timer = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
ensure_tick (GwDiscovery *self)
{
  if (self->tick_timer == 0)
    self->tick_timer = gw_clock_add_timeout (self->core->clock, 1000, on_tick, self);
}

static void
heard_pne (GwDiscovery    *self,
           CpnsMessage    *msg,
           GSocketAddress *from)
{
  g_autofree char *host = NULL;
  g_autofree char *address = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *id = NULL;
  Discovered *d;
  GwEvent *event;

  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return;
  host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)));
  address = g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)));
  nonce = g_strdup (cpns_message_get_string (msg, "nonce"));
  /* One entry per discovery round: a PNE's datagram may arrive twice, by
   * multicast (from its LAN address) and by a unicast target (e.g. from
   * 127.0.0.1); the nonce says it is the same device. */
  id = nonce != NULL ? g_strdup_printf ("pne/%s", nonce) : g_strdup_printf ("addr/%s", address);
  d = g_hash_table_lookup (self->discovered, id);
  if (d == NULL)
    {
      if (g_hash_table_size (self->discovered) >= MAX_DISCOVERED)
        return;
      d = g_new0 (Discovered, 1);
      d->info = g_new0 (GwDiscoveredInfo, 1);
      d->info->id = g_strdup (id);
      d->info->address = g_strdup (address);
      d->from = g_object_ref (from);
      g_hash_table_insert (self->discovered, g_strdup (id), d);
    }
  g_free (d->info->name);
  d->info->name = g_strdup (cpns_message_get_string (msg, "name"));
  g_free (d->info->entity_type);
  d->info->entity_type = g_strdup (cpns_message_get_string (msg, "entity_type"));
  d->info->last_heard = gw_clock_now (self->core->clock);

  event = gw_event_new (GW_EVENT_DISCOVERED);
  event->time = d->info->last_heard;
  event->discovered = g_new0 (GwDiscoveredInfo, 1);
  *event->discovered = *d->info;
  event->discovered->id = g_strdup (d->info->id);
  event->discovered->name = g_strdup (d->info->name);
  event->discovered->entity_type = g_strdup (d->info->entity_type);
  event->discovered->address = g_strdup (d->info->address);
  gw_core_emit (self->core, event);
  ensure_tick (self);
}

static void
on_datagram (CpnsDiscoverySocket *socket,
             CpnsMessage         *msg,
             GSocketAddress      *from,
             gpointer             user_data)
{
  gw_discovery_handle_datagram (user_data, msg, from);
}

void
gw_discovery_handle_datagram (GwDiscovery    *self,
                              CpnsMessage    *msg,
                              GSocketAddress *from)
{

  if (self->muted || g_strcmp0 (cpns_message_get_string (msg, "mode"), "pne") != 0)
    return;   /* switched off, or another gateway */
  heard_pne (self, msg, from);
  if (g_str_equal (cpns_message_get_kind (msg), "entity_discovery_request") && self->open)
    send_to (self, from, TRUE);
}

GwDiscovery *
gw_discovery_new (GwCore    *core,
                  gboolean   with_socket,
                  GError   **error)
{
  GwDiscovery *self = g_new0 (GwDiscovery, 1);
  GwEngineConfig *config = core->config;

  self->core = core;
  self->discovered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) discovered_free);
  self->permits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (with_socket)
    {
      self->socket = cpns_discovery_socket_new (NULL, config->discovery_port, config->discovery_group, error);
      if (self->socket == NULL)
        {
          gw_discovery_free (self);
          return NULL;
        }
      for (guint i = 0; config->discovery_targets && config->discovery_targets[i]; i++)
        cpns_discovery_socket_add_target (self->socket, config->discovery_targets[i]);
      g_signal_connect (self->socket, "datagram-received", G_CALLBACK (on_datagram), self);
    }
  return self;
}

guint16
gw_discovery_get_port (GwDiscovery *self)
{
  return self->socket ? cpns_discovery_socket_get_port (self->socket) : 0;
}

void
gw_discovery_open_window (GwDiscovery *self,
                          guint        seconds)
{
  seconds = CLAMP (seconds, 1, 900);
  self->open = TRUE;
  self->failed = 0;
  self->closes_at = gw_clock_now (self->core->clock) + (gint64) seconds * G_USEC_PER_SEC;
  ensure_tick (self);
  if (self->announce_timer == 0 && self->socket)
    self->announce_timer = gw_clock_add_timeout (self->core->clock, ANNOUNCE_MS, on_announce, self);
  on_announce (self);
  emit_window (self);
}

void
gw_discovery_close_window (GwDiscovery *self)
{
  gboolean was_open = self->open;

  self->open = FALSE;
  self->closes_at = 0;
  gw_clock_clear (self->core->clock, &self->announce_timer);
  if (was_open)
    emit_window (self);
}

gboolean
gw_discovery_may_pair (GwDiscovery *self,
                       const char  *host)
{
  gint64 *until;

  if (self->open)
    return TRUE;
  until = g_hash_table_lookup (self->permits, host);
  return until && *until > gw_clock_now (self->core->clock);
}

void
gw_discovery_note_failure (GwDiscovery *self)
{
  if (self == NULL || !self->open)
    return;
  self->failed++;
  if (self->failed >= MAX_FAILURES)
    gw_discovery_close_window (self);
}

static void
permit (GwDiscovery *self,
        const char  *host)
{
  gint64 *until = g_new (gint64, 1);

  *until = gw_clock_now (self->core->clock) + (gint64) PERMIT_S * G_USEC_PER_SEC;
  g_hash_table_replace (self->permits, g_strdup (host), until);
}

gboolean
gw_discovery_pair_discovered (GwDiscovery  *self,
                              const char   *discovered_id,
                              GError      **error)
{
  Discovered *d = discovered_id ? g_hash_table_lookup (self->discovered, discovered_id) : NULL;
  g_autofree char *host = NULL;

  if (d == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                   "That device is no longer in the discovered list. %s",
                   gw_error_advice (CPNS_ERROR_NOT_FOUND));
      return FALSE;
    }
  host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (d->from)));
  permit (self, host);
  send_to (self, d->from, TRUE);
  return TRUE;
}

gboolean
gw_discovery_pair_address (GwDiscovery  *self,
                           const char   *host_port,
                           GError      **error)
{
  g_autoptr(GSocketConnectable) conn = NULL;
  g_autoptr(GSocketAddressEnumerator) en = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autofree char *host = NULL;

  conn = host_port ? g_network_address_parse (host_port, CPNS_DEFAULT_DISCOVERY_PORT, NULL) : NULL;
  if (conn)
    {
      en = g_socket_connectable_enumerate (conn);
      addr = g_socket_address_enumerator_next (en, NULL, NULL);
    }
  if (addr == NULL || !G_IS_INET_SOCKET_ADDRESS (addr))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "\"%s\" is not an address the gateway can reach. Give the device's address as"
                   " host:port.", host_port ? host_port : "");
      return FALSE;
    }
  host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
  permit (self, host);
  send_to (self, addr, TRUE);
  return TRUE;
}

void
gw_discovery_set_enabled (GwDiscovery *self,
                          gboolean     enabled)
{
  /* Off: no announcements, no answers, nothing listed. Pairing by
   * address still works. */
  self->muted = !enabled;
}

void
gw_discovery_shutdown (GwDiscovery *self)
{
  gw_clock_clear (self->core->clock, &self->tick_timer);
  gw_clock_clear (self->core->clock, &self->announce_timer);
  if (self->socket)
    {
      g_signal_handlers_disconnect_by_data (self->socket, self);
      cpns_discovery_socket_close (self->socket);
    }
}

void
gw_discovery_free (GwDiscovery *self)
{
  if (self == NULL)
    return;
  gw_discovery_shutdown (self);
  g_clear_object (&self->socket);
  g_hash_table_destroy (self->discovered);
  g_hash_table_destroy (self->permits);
  g_free (self);
}
