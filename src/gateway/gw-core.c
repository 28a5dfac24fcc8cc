/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include <json-glib/json-glib.h>

#include "cpns-invitation.h"
#include "gw-discovery.h"
#include "gw-event-private.h"
#include "gw-flow.h"
#include "gw-listener.h"
#include "gw-pairing-flow.h"
#include "gw-peer.h"
#include "gw-secret-store.h"
#include "gw-server-session.h"

#define INVENTORY_RETRY_MS 5000

/* ------------------------------------------------------------------ */
/* Errors that say what to do */

const char *
gw_error_advice (CpnsErrorCode code)
{
  switch (code)
    {
    case CPNS_ERROR_BAD_REQUEST:
    case CPNS_ERROR_UNSUPPORTED_VERSION:
    case CPNS_ERROR_UNKNOWN_TYPE:
    case CPNS_ERROR_TOO_LARGE:
      return "The device sent something this gateway does not understand; update its software and try again.";
    case CPNS_ERROR_UNAUTHORIZED:
      return "The server did not accept this gateway's credentials; enroll the gateway again with a new invitation.";
    case CPNS_ERROR_AUTH_FAILED:
      return "The device's key is not valid; remove the device and pair it again.";
    case CPNS_ERROR_SERVER_AUTH_FAILED:
      return "The server could not prove its identity; check that the gateway talks to the right server.";
    case CPNS_ERROR_DENIED:
      return "The connection was denied; change the policy on the server or approve the device next time if it should connect.";
    case CPNS_ERROR_REJECTED:
      return "The pairing was rejected; start pairing again and compare the codes carefully.";
    case CPNS_ERROR_PAIRING_CLOSED:
      return "Open the pairing window on the gateway, then start pairing on the device again.";
    case CPNS_ERROR_NOT_FOUND:
      return "The server does not know this device; pair it again.";
    case CPNS_ERROR_TIMEOUT:
      return "Nobody answered in time; start again and answer within the time shown.";
    case CPNS_ERROR_CONFLICT:
      return "The request does not fit the current state; start the flow again.";
    case CPNS_ERROR_REVOKED:
      return "This device was removed from your network; pair it again if it should come back.";
    case CPNS_ERROR_LOCKED_OUT:
      return "Too many failed attempts; wait a few minutes before trying again.";
    case CPNS_ERROR_SERVER_UNREACHABLE:
      return "Check the network and that the CPNS server is running; the gateway keeps retrying.";
    case CPNS_ERROR_PIN_MISMATCH:
      return "The certificate is not the one you trusted; do not continue unless you know why it changed, then enroll or pair again.";
    case CPNS_ERROR_TLS_FAILED:
      return "The secure connection could not be set up; check the addresses and try again.";
    case CPNS_ERROR_CLOSED:
      return "The device went away; start again on the device.";
    case CPNS_ERROR_NO_SECRET_SERVICE:
      return "Start and unlock your keyring (Secret Service), then try again.";
    case CPNS_ERROR_INTERNAL:
    default:
      return "Something went wrong inside the gateway; try again, and report a bug if it keeps happening.";
    }
}

GError *
gw_error_new_advice (CpnsErrorCode  code,
                     const char    *what)
{
  return g_error_new (CPNS_ERROR, code, "%s. %s", what, gw_error_advice (code));
}

/* ------------------------------------------------------------------ */

static void
pne_session_free (GwPneSession *s)
{
  cpns_wipe (s->key, sizeof s->key);
  g_free (s->pne_id);
  g_free (s->session_id);
  g_strfreev (s->granted_services);
  g_free (s);
}

static GwEngineConfig *
config_copy (const GwEngineConfig *c)
{
  GwEngineConfig *copy = g_new0 (GwEngineConfig, 1);

  *copy = *c;
  copy->data_dir = g_strdup (c->data_dir);
  copy->listen_address = g_strdup (c->listen_address);
  copy->discovery_group = g_strdup (c->discovery_group);
  copy->discovery_targets = g_strdupv (c->discovery_targets);
  copy->key_mode = g_strdup (c->key_mode);
  copy->gateway_name = g_strdup (c->gateway_name);
  return copy;
}

static char *
setting (GwCore     *core,
         const char *key)
{
  return gw_registry_get_setting (core->registry, key);
}

static gboolean
load_certificate (GwCore  *core,
                  GError **error)
{
  g_autofree char *cert_pem = setting (core, "cert_pem");
  g_autofree char *owner = g_build_filename (core->data_dir, "registry.sqlite", NULL);
  g_autoptr(GError) local = NULL;

  if (cert_pem)
    {
      char *key_pem = gw_secret_store_load_tls_key (owner, &local);

      if (key_pem)
        {
          core->certificate = cpns_certificate_new_from_pem (cert_pem, key_pem, &local);
          cpns_free_secret_string (key_pem);
          if (core->certificate)
            return TRUE;
        }
      g_debug ("stored certificate unusable (%s); making a new one",
               local ? local->message : "no private key");
      g_clear_error (&local);
    }
  core->certificate = cpns_certificate_generate (core->gateway_name ? core->gateway_name
                                                                    : "PN Gateway",
                                                 3650, error);
  if (core->certificate == NULL)
    return FALSE;
  {
    char *key_pem = cpns_certificate_dup_key_pem (core->certificate);
    g_autofree char *new_cert_pem = cpns_certificate_dup_cert_pem (core->certificate);

    if (gw_secret_store_save_tls_key (owner, key_pem, &local))
      gw_registry_set_setting (core->registry, "cert_pem", new_cert_pem, NULL);
    else
      g_debug ("certificate kept in memory only: %s", local->message);
    cpns_free_secret_string (key_pem);
  }
  return TRUE;
}

static void
core_prompt_emit (GwEvent  *event,
                  gpointer  data)
{
  gw_core_emit (data, event);
}

GwCore *
gw_core_new (const GwEngineConfig  *config,
             GMainContext          *context,
             GwClock               *clock,
             GwCoreEmitFunc         emit,
             gpointer               emit_data,
             GError               **error)
{
  GwCore *core = g_new0 (GwCore, 1);
  g_autofree char *path = NULL;
  g_autofree char *stored_mode = NULL;

  core->config = config_copy (config);
  core->context = g_main_context_ref (context);
  core->clock = clock;
  core->emit = emit;
  core->emit_data = emit_data;
  core->data_dir = config->data_dir ? g_strdup (config->data_dir)
                                    : g_build_filename (g_get_user_data_dir (), "cpns-gateway", NULL);
  core->pne_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) pne_session_free);
  core->connected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  core->lockouts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  core->pairing_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  core->rekey_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  core->inventory_sending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  core->prompts = gw_prompts_new (clock, core_prompt_emit, core);

  path = g_build_filename (core->data_dir, "registry.sqlite", NULL);
  core->registry = gw_registry_open (path, error);
  if (core->registry == NULL)
    {
      gw_core_free (core);
      return NULL;
    }
  gw_registry_fail_running_steps (core->registry);

  core->server_url = setting (core, "server_url");
  core->user_id = setting (core, "user_id");
  core->gateway_id = setting (core, "gateway_id");
  core->pn_id = setting (core, "pn_id");
  core->pin_sha256 = setting (core, "pin_sha256");
  core->gateway_name = setting (core, "gateway_name");
  if (core->gateway_name == NULL)
    core->gateway_name = g_strdup (config->gateway_name ? config->gateway_name : g_get_host_name ());
  stored_mode = setting (core, "key_mode");
  core->key_mode = g_strdup (config->key_mode ? config->key_mode
                                              : stored_mode ? stored_mode : "server");
  core->pairing_window_s = config->pairing_window_s ? MIN (config->pairing_window_s, 900) : 120;

  if (!load_certificate (core, error))
    {
      gw_core_free (core);
      return NULL;
    }
  core->server = gw_server_session_new (core);
  return core;
}

gboolean
gw_core_start_network (GwCore  *core,
                       GError **error)
{
  core->listener = gw_listener_new (core, core->config->listen_address,
                                    core->config->listen_port, error);
  if (core->listener == NULL)
    return FALSE;
  core->discovery = gw_discovery_new (core, core->config->discovery_enabled, error);
  if (core->discovery == NULL)
    return FALSE;
  return TRUE;
}

void
gw_core_emit (GwCore  *core,
              GwEvent *event)
{
  core->emit (event, core->emit_data);
}

void
gw_core_emit_error (GwCore       *core,
                    const GError *error,
                    const char   *pne_id)
{
  GwEvent *event = gw_event_new (GW_EVENT_ERROR);

  event->time = gw_clock_now (core->clock);
  event->error = error->domain == CPNS_ERROR ? g_error_copy (error) : cpns_error_to_cpns (error);
  if (pne_id)
    event->entity = gw_core_dup_entity (core, pne_id);
  gw_core_emit (core, event);
}

gboolean
gw_core_is_enrolled (GwCore *core)
{
  return core->server_url && core->gateway_id;
}

GwEntityInfo *
gw_core_dup_entity (GwCore     *core,
                    const char *pne_id)
{
  GwEntityInfo *e = gw_registry_get_entity (core->registry, pne_id);
  GHashTableIter iter;
  gpointer value;

  if (e == NULL)
    return NULL;
  if (e->blocked)
    e->state = GW_ENTITY_BLOCKED;
  g_hash_table_iter_init (&iter, core->pne_sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GwPneSession *s = value;

      if (g_str_equal (s->pne_id, pne_id))
        {
          g_free (e->session_id);
          e->session_id = g_strdup (s->session_id);
          e->session_expires_at = s->expires_at;
        }
    }
  return e;
}

void
gw_core_emit_entity (GwCore     *core,
                     const char *pne_id)
{
  GwEntityInfo *e = gw_core_dup_entity (core, pne_id);
  GwEvent *event;

  if (e == NULL)
    return;
  event = gw_event_new (GW_EVENT_ENTITY_CHANGED);
  event->time = gw_clock_now (core->clock);
  event->entity = e;
  gw_core_emit (core, event);
}

static void
set_entity_state (GwCore        *core,
                  const char    *pne_id,
                  GwEntityState  state)
{
  g_autoptr(GwEntityInfo) e = gw_registry_get_entity (core->registry, pne_id);

  if (e == NULL)
    return;
  e->state = state;
  e->last_seen = gw_clock_now (core->clock) / G_USEC_PER_SEC;
  gw_registry_put_entity (core->registry, e, NULL, FALSE, NULL);
  gw_core_emit_entity (core, pne_id);
}

void
gw_core_emit_initial (GwCore *core)
{
  g_autoptr(GPtrArray) entities = gw_registry_list_entities (core->registry);
  g_autoptr(GPtrArray) steps = gw_registry_list_steps (core->registry, 2000);
  GwEvent *event;

  event = gw_event_new (GW_EVENT_SESSION);
  event->session = gw_server_session_dup_info (core->server);
  gw_core_emit (core, event);

  event = gw_event_new (GW_EVENT_PAIRING_WINDOW);
  event->pairing_window = gw_discovery_dup_window_info (core->discovery);
  gw_core_emit (core, event);

  for (guint i = 0; i < entities->len; i++)
    {
      GwEntityInfo *e = g_ptr_array_index (entities, i);

      /* Nothing is connected right after a start. */
      if (e->state == GW_ENTITY_CONNECTED || e->state == GW_ENTITY_CONNECTING ||
          e->state == GW_ENTITY_WAITING)
        {
          e->state = GW_ENTITY_DISCONNECTED;
          gw_registry_put_entity (core->registry, e, NULL, FALSE, NULL);
        }
      gw_core_emit_entity (core, e->pne_id);
    }
  for (guint i = 0; i < steps->len; i++)
    {
      event = gw_event_new (GW_EVENT_FLOW_STEP);
      event->step = gw_step_info_copy (g_ptr_array_index (steps, i));
      event->time = event->step->finished_at ? event->step->finished_at : event->step->started_at;
      gw_core_emit (core, event);
    }
}

void
gw_core_stop (GwCore *core)
{
  GList *peers;

  core->stopping = TRUE;
  gw_prompts_cancel_all (core->prompts);
  peers = g_list_copy (core->peers);
  for (GList *l = peers; l; l = l->next)
    gw_peer_ref (l->data);
  for (GList *l = peers; l; l = l->next)
    gw_peer_close (l->data);
  g_list_free_full (peers, (GDestroyNotify) gw_peer_unref);
  g_list_free_full (g_steal_pointer (&core->closing_peers), (GDestroyNotify) gw_peer_unref);
  if (core->listener)
    gw_listener_stop (core->listener);
  if (core->discovery)
    gw_discovery_shutdown (core->discovery);
  if (core->server)
    gw_server_session_shutdown (core->server);
  gw_clock_clear (core->clock, &core->inventory_retry);
}

gboolean
gw_core_is_winding_down (GwCore *core)
{
  return core->server && gw_server_session_get_in_flight (core->server) > 0;
}

static void inventory_puts_detach (GwCore *core);

void
gw_core_free (GwCore *core)
{
  if (core == NULL)
    return;
  inventory_puts_detach (core);
  g_list_free_full (g_steal_pointer (&core->peers), (GDestroyNotify) gw_peer_unref);
  g_list_free_full (g_steal_pointer (&core->closing_peers), (GDestroyNotify) gw_peer_unref);
  g_clear_pointer (&core->server, gw_server_session_free);
  g_clear_pointer (&core->listener, gw_listener_free);
  g_clear_pointer (&core->discovery, gw_discovery_free);
  g_clear_pointer (&core->prompts, gw_prompts_free);
  g_clear_pointer (&core->certificate, cpns_certificate_unref);
  g_clear_pointer (&core->registry, gw_registry_free);
  g_clear_pointer (&core->pne_sessions, g_hash_table_destroy);
  g_clear_pointer (&core->connected, g_hash_table_destroy);
  g_clear_pointer (&core->lockouts, g_hash_table_destroy);
  g_clear_pointer (&core->pairing_ids, g_hash_table_destroy);
  g_clear_pointer (&core->rekey_ids, g_hash_table_destroy);
  g_clear_pointer (&core->inventory_sending, g_hash_table_destroy);
  g_clear_pointer (&core->clock, gw_clock_free);
  g_clear_pointer (&core->context, g_main_context_unref);
  g_clear_pointer (&core->config, gw_engine_config_free);
  g_free (core->data_dir);
  g_free (core->key_mode);
  g_free (core->server_url);
  g_free (core->user_id);
  g_free (core->gateway_id);
  g_free (core->pn_id);
  g_free (core->pin_sha256);
  g_free (core->gateway_name);
  g_free (core);
}

/* ------------------------------------------------------------------ */
/* PNE sessions */

GwPneSession *
gw_core_add_pne_session (GwCore       *core,
                         const char   *pne_id,
                         const char   *session_id,
                         const guint8  key[CPNS_KEY_LEN],
                         gint64        expires_at,
                         char        **granted_services)
{
  GwPneSession *s = g_new0 (GwPneSession, 1);

  s->pne_id = g_strdup (pne_id);
  s->session_id = g_strdup (session_id);
  memcpy (s->key, key, CPNS_KEY_LEN);
  s->expires_at = expires_at;
  s->granted_services = g_strdupv (granted_services);
  g_hash_table_replace (core->pne_sessions, s->session_id, s);
  return s;
}

GwPneSession *
gw_core_lookup_pne_session (GwCore     *core,
                            const char *session_id)
{
  GwPneSession *s = g_hash_table_lookup (core->pne_sessions, session_id);

  if (s && s->expires_at <= gw_clock_now (core->clock) / G_USEC_PER_SEC)
    {
      g_hash_table_remove (core->pne_sessions, session_id);
      return NULL;
    }
  return s;
}

static gboolean
session_belongs (gpointer key,
                 gpointer value,
                 gpointer data)
{
  GwPneSession *s = value;

  return g_str_equal (s->pne_id, data);
}

void
gw_core_drop_pne_sessions (GwCore     *core,
                           const char *pne_id)
{
  g_hash_table_foreach_remove (core->pne_sessions, session_belongs, (gpointer) pne_id);
}

void
gw_core_set_connected (GwCore     *core,
                       const char *pne_id,
                       GwPeer     *peer)
{
  if (peer)
    {
      GwPeer *old = g_hash_table_lookup (core->connected, pne_id);

      g_hash_table_replace (core->connected, g_strdup (pne_id), peer);
      if (old && old != peer)
        gw_peer_close (old);   /* the device came back on a new connection */
    }
  else
    g_hash_table_remove (core->connected, pne_id);
}

void
gw_core_note_lockout (GwCore     *core,
                      const char *pne_id,
                      gint64      retry_after_s)
{
  gint64 *until = g_new (gint64, 1);

  *until = gw_clock_now (core->clock) / G_USEC_PER_SEC + retry_after_s;
  g_hash_table_replace (core->lockouts, g_strdup (pne_id), until);
}

/* ------------------------------------------------------------------ */
/* Inventory (step 5a) */

/* One PUT per PNE at a time: two in flight on two pooled connections
 * could reach the server in the wrong order (a "disconnected" applied
 * before the "connected" sent 3 ms earlier). The durable queue holds only
 * the latest state per PNE; when a PUT ends, a newer queued state is sent
 * next. */
typedef struct
{
  GwCore *core;
  char   *pne_id;
  char   *state;
  char   *session_id;
  char   *services_json;
} InventoryPut;

static void send_inventory (GwCore     *core,
                            const char *pne_id,
                            const char *state,
                            const char *session_id,
                            const char *services_json);

static void
inventory_put_free (InventoryPut *put)
{
  g_free (put->pne_id);
  g_free (put->state);
  g_free (put->session_id);
  g_free (put->services_json);
  g_free (put);
}

/* The cancelled callbacks of PUTs still in flight run after gw_core_free()
 * (on the engine thread's last iterations): they must not reach the core. */
static void
inventory_puts_detach (GwCore *core)
{
  GHashTableIter iter;
  gpointer value;

  if (core->inventory_sending == NULL)
    return;
  g_hash_table_iter_init (&iter, core->inventory_sending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((InventoryPut *) value)->core = NULL;
}

static gboolean
on_inventory_retry (gpointer data)
{
  GwCore *core = data;

  core->inventory_retry = 0;
  if (gw_server_session_get_state (core->server) == GW_SESSION_CONNECTED)
    gw_core_flush_inventory (core);
  return G_SOURCE_REMOVE;
}

static gboolean
queued_is_put (const GwQueuedInventory *q,
               const InventoryPut      *put)
{
  return g_strcmp0 (q->state, put->state) == 0 &&
         g_strcmp0 (q->session_id, put->session_id) == 0 &&
         g_strcmp0 (q->services_json, put->services_json) == 0;
}

static void
on_inventory_put (CpnsMessage  *reply,
                  const GError *error,
                  gpointer      data)
{
  InventoryPut *put = data;
  GwCore *core = put->core;

  /* NULL: the core was freed while this PUT was in flight. */
  if (core == NULL)
    {
      inventory_put_free (put);
      return;
    }
  g_hash_table_remove (core->inventory_sending, put->pne_id);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (error == NULL || (error->domain == CPNS_ERROR &&
                            (error->code == CPNS_ERROR_NOT_FOUND ||
                             error->code == CPNS_ERROR_REVOKED ||
                             error->code == CPNS_ERROR_BAD_REQUEST)))
        {
          /* Done (or can never succeed): drop it from the queue unless a
           * newer state was queued meanwhile; send that one now. */
          g_autoptr(GPtrArray) queue = gw_registry_list_inventory_queue (core->registry);

          for (guint i = 0; i < queue->len; i++)
            {
              GwQueuedInventory *q = g_ptr_array_index (queue, i);

              if (!g_str_equal (q->pne_id, put->pne_id))
                continue;
              if (queued_is_put (q, put))
                gw_registry_dequeue_inventory (core->registry, put->pne_id);
              else if (!core->stopping &&
                       gw_server_session_get_state (core->server) == GW_SESSION_CONNECTED)
                send_inventory (core, q->pne_id, q->state, q->session_id, q->services_json);
            }
          if (error)
            g_debug ("inventory update for %s dropped: %s", put->pne_id, error->message);
        }
      else if (core->inventory_retry == 0 && !core->stopping)
        {
          g_debug ("inventory update for %s queued: %s", put->pne_id, error->message);
          core->inventory_retry = gw_clock_add_timeout (core->clock, INVENTORY_RETRY_MS,
                                                        on_inventory_retry, core);
        }
    }
  inventory_put_free (put);
}

static void
send_inventory (GwCore     *core,
                const char *pne_id,
                const char *state,
                const char *session_id,
                const char *services_json)
{
  g_autoptr(CpnsMessage) body = NULL;
  g_autofree char *path = NULL;
  InventoryPut *put;

  /* The queue keeps this state; the PUT in flight sends it when it ends. */
  if (g_hash_table_contains (core->inventory_sending, pne_id))
    return;

  body = cpns_message_new ("api.inventory_put.request");
  path = g_strdup_printf ("/cpns/v1/inventory/%s", pne_id);
  cpns_message_set_string (body, "state", state);
  if (session_id)
    cpns_message_set_string (body, "session_id", session_id);
  if (services_json)
    {
      g_autoptr(JsonNode) node = json_from_string (services_json, NULL);

      if (node && JSON_NODE_HOLDS_ARRAY (node))
        cpns_message_set_array (body, "services", json_node_get_array (node));
    }
  put = g_new0 (InventoryPut, 1);
  put->core = core;
  put->pne_id = g_strdup (pne_id);
  put->state = g_strdup (state);
  put->session_id = g_strdup (session_id);
  put->services_json = g_strdup (services_json);
  g_hash_table_insert (core->inventory_sending, g_strdup (pne_id), put);
  gw_server_session_call (core->server, "PUT", path, body, "api.inventory_put.response",
                          NULL, on_inventory_put, put);
}

void
gw_core_update_inventory (GwCore      *core,
                          const char  *pne_id,
                          const char  *state,
                          const char  *session_id,
                          char       **services)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *services_json = NULL;

  json_builder_begin_array (b);
  for (guint i = 0; services && services[i]; i++)
    json_builder_add_string_value (b, services[i]);
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  services_json = json_to_string (root, FALSE);
  /* Durable first: the queue survives a crash or a server outage. */
  gw_registry_queue_inventory (core->registry, pne_id, state, session_id, services_json, NULL);
  if (gw_server_session_get_state (core->server) == GW_SESSION_CONNECTED ||
      g_str_equal (state, "connected"))
    send_inventory (core, pne_id, state, session_id, services_json);
}

void
gw_core_flush_inventory (GwCore *core)
{
  g_autoptr(GPtrArray) queue = gw_registry_list_inventory_queue (core->registry);

  for (guint i = 0; i < queue->len; i++)
    {
      GwQueuedInventory *q = g_ptr_array_index (queue, i);

      send_inventory (core, q->pne_id, q->state, q->session_id, q->services_json);
    }
}

static void
on_inventory_read (CpnsMessage  *reply,
                   const GError *error,
                   gpointer      data)
{
  GwCore *core = data;
  JsonArray *entities;

  if (error || reply == NULL)
    return;
  entities = cpns_message_get_json_array (reply, "entities");
  for (guint i = 0; entities && i < json_array_get_length (entities); i++)
    {
      JsonObject *e = json_array_get_object_element (entities, i);
      const char *pne_id = json_object_get_string_member_with_default (e, "pne_id", NULL);
      g_autoptr(GwEntityInfo) local = NULL;

      if (pne_id == NULL ||
          g_strcmp0 (json_object_get_string_member_with_default (e, "state", NULL), "revoked") != 0)
        continue;
      local = gw_registry_get_entity (core->registry, pne_id);
      if (local && local->state != GW_ENTITY_REVOKED)
        gw_core_revoke_entity (core, pne_id, GW_ENTITY_REVOKED);
    }
}

void
gw_core_sync_revocations (GwCore *core)
{
  /* Revocations pushed while the events WebSocket was down are in the
   * inventory: apply them (§4.7). */
  if (core->stopping)
    return;
  gw_server_session_call (core->server, "GET", "/cpns/v1/inventory", NULL, "api.inventory.response",
                          NULL, on_inventory_read, core);
}

void
gw_core_on_server_connected (GwCore *core)
{
  g_auto(GStrv) pending = gw_registry_list_pending (core->registry);

  /* Entities registered by a pairing that never finished (the gateway
   * stopped or the server was away during the fail-safe): remove them. */
  for (guint i = 0; pending[i]; i++)
    if (!g_hash_table_contains (core->pairing_ids, pending[i]))
      gw_pairing_rollback (core, pending[i]);
  gw_core_flush_inventory (core);
}

/* ------------------------------------------------------------------ */
/* Revocation, removal, blocking */

void
gw_core_revoke_entity (GwCore        *core,
                       const char    *pne_id,
                       GwEntityState  new_state)
{
  GwPeer *peer;

  if (pne_id == NULL)
    return;
  gw_core_drop_pne_sessions (core, pne_id);
  peer = g_hash_table_lookup (core->connected, pne_id);
  if (peer)
    {
      g_autoptr(GError) error = g_error_new_literal (CPNS_ERROR,
                                                     new_state == GW_ENTITY_BLOCKED ? CPNS_ERROR_DENIED
                                                                                    : CPNS_ERROR_REVOKED,
                                                     "This device was removed from the personal network");
      g_autoptr(GwPeer) ref = gw_peer_ref (peer);

      g_hash_table_remove (core->connected, pne_id);
      gw_peer_fail (ref, error);
    }
  if (new_state == GW_ENTITY_REVOKED)
    {
      set_entity_state (core, pne_id, GW_ENTITY_REVOKED);
      gw_registry_dequeue_inventory (core->registry, pne_id);
    }
}

typedef struct
{
  GwCore *core;
  GwFlow *flow;
  char   *pne_id;
} RemoveOp;

static void
on_remove_reply (CpnsMessage  *reply,
                 const GError *error,
                 gpointer      data)
{
  RemoveOp *op = data;
  GwCore *core = op->core;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ;
  else if (error && !g_error_matches (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND))
    {
      g_autoptr(GError) e = gw_error_new_advice (error->domain == CPNS_ERROR ? error->code
                                                                              : CPNS_ERROR_INTERNAL,
                                                 "The device could not be removed from the server");
      gw_flow_fail (op->flow, e);
      gw_core_emit_error (core, e, op->pne_id);
    }
  else
    {
      GwEvent *event = gw_event_new (GW_EVENT_ENTITY_REMOVED);

      gw_core_revoke_entity (core, op->pne_id, GW_ENTITY_DISCONNECTED);
      event->time = gw_clock_now (core->clock);
      event->entity = gw_core_dup_entity (core, op->pne_id);
      if (event->entity == NULL)
        {
          event->entity = g_new0 (GwEntityInfo, 1);
          event->entity->pne_id = g_strdup (op->pne_id);
        }
      gw_registry_delete_entity (core->registry, op->pne_id, NULL);
      gw_flow_done (op->flow, "removed from the server and from this gateway");
      gw_core_emit (core, event);
    }
  gw_flow_free (op->flow);
  g_free (op->pne_id);
  g_free (op);
}

static void
remove_entity (GwCore     *core,
               const char *pne_id)
{
  g_autoptr(GwEntityInfo) e = gw_registry_get_entity (core->registry, pne_id);
  g_autofree char *path = NULL;
  RemoveOp *op;

  if (e == NULL)
    {
      g_autoptr(GError) error = gw_error_new_advice (CPNS_ERROR_NOT_FOUND, "No such device");
      gw_core_emit_error (core, error, NULL);
      return;
    }
  op = g_new0 (RemoveOp, 1);
  op->core = core;
  op->pne_id = g_strdup (pne_id);
  op->flow = gw_flow_new (core, GW_FLOW_REMOVE, pne_id, e->name);
  gw_flow_begin (op->flow, GW_STEP_3E);
  path = g_strdup_printf ("/cpns/v1/entities/%s", pne_id);
  gw_server_session_call (core->server, "DELETE", path, NULL, NULL, NULL, on_remove_reply, op);
}

/* ------------------------------------------------------------------ */
/* Commands */

static void
emit_enrollment (GwCore       *core,
                 const GError *error)
{
  GwEvent *event = gw_event_new (GW_EVENT_ENROLLMENT);

  event->time = gw_clock_now (core->clock);
  event->session = gw_server_session_dup_info (core->server);
  if (error)
    event->error = error->domain == CPNS_ERROR ? g_error_copy (error) : cpns_error_to_cpns (error);
  gw_core_emit (core, event);
}

static void
on_enrolled (const GError *error,
             gpointer      data)
{
  GwCore *core = data;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  emit_enrollment (core, error);
  if (error == NULL)
    {
      GwEvent *event = gw_event_new (GW_EVENT_SESSION);

      event->time = gw_clock_now (core->clock);
      event->session = gw_server_session_dup_info (core->server);
      gw_core_emit (core, event);
    }
}

static void
enroll (GwCore    *core,
        GwCommand *cmd)
{
  g_autoptr(CpnsInvitation) inv = NULL;
  g_autoptr(GError) error = NULL;
  const char *url = cmd->server_url, *user = cmd->user_id, *code = cmd->code;
  const char *pin = cmd->pin_sha256;

  if (cmd->invitation)
    {
      inv = cpns_invitation_parse (cmd->invitation, &error);
      if (inv == NULL)
        {
          g_autoptr(GError) e = g_error_new (CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                                             "The invitation is not valid (%s). Ask the server's"
                                             " operator for a new one.", error->message);
          emit_enrollment (core, e);
          return;
        }
      url = inv->server_url;
      user = inv->user_id;
      code = inv->code;
      pin = inv->pin_sha256;
    }
  if (url == NULL || user == NULL || code == NULL)
    {
      error = gw_error_new_advice (CPNS_ERROR_BAD_REQUEST,
                                   "Enrollment needs a server address, a user and a code");
      emit_enrollment (core, error);
      return;
    }
  if (cmd->gateway_name)
    {
      g_free (core->gateway_name);
      core->gateway_name = g_strdup (cmd->gateway_name);
    }
  gw_server_session_enroll (core->server, url, user, code, pin, core->gateway_name,
                            on_enrolled, core);
}

static void
forget_enrollment (GwCore *core)
{
  if (core->server_url && core->gateway_id)
    gw_secret_store_clear_gateway_secret (core->server_url, core->gateway_id, NULL);
  gw_server_session_disconnect (core->server);
  for (const char * const *k = (const char * const[]) { "server_url", "pin_sha256", "user_id",
                                                        "gateway_id", "pn_id", NULL }; *k; k++)
    gw_registry_set_setting (core->registry, *k, NULL, NULL);
  g_clear_pointer (&core->server_url, g_free);
  g_clear_pointer (&core->pin_sha256, g_free);
  g_clear_pointer (&core->user_id, g_free);
  g_clear_pointer (&core->gateway_id, g_free);
  g_clear_pointer (&core->pn_id, g_free);
  gw_server_session_configure (core->server);
  gw_server_session_disconnect (core->server);
}

static void
command_error (GwCore       *core,
               const GError *error,
               const char   *pne_id)
{
  gw_core_emit_error (core, error, pne_id);
}

void
gw_core_handle_command (GwCore    *core,
                        GwCommand *cmd)
{
  g_autoptr(GError) error = NULL;

  if (core->stopping)
    return;
  switch (cmd->type)
    {
    case GW_COMMAND_ENROLL:
      enroll (core, cmd);
      break;
    case GW_COMMAND_FORGET_ENROLLMENT:
      forget_enrollment (core);
      break;
    case GW_COMMAND_CONNECT:
      if (!gw_core_is_enrolled (core))
        {
          error = gw_error_new_advice (CPNS_ERROR_UNAUTHORIZED, "This gateway is not enrolled yet");
          command_error (core, error, NULL);
        }
      else
        gw_server_session_connect (core->server);
      break;
    case GW_COMMAND_DISCONNECT:
      gw_server_session_disconnect (core->server);
      break;
    case GW_COMMAND_OPEN_PAIRING_WINDOW:
      gw_discovery_open_window (core->discovery, cmd->seconds ? cmd->seconds : core->pairing_window_s);
      break;
    case GW_COMMAND_CLOSE_PAIRING_WINDOW:
      gw_discovery_close_window (core->discovery);
      break;
    case GW_COMMAND_PAIR_DISCOVERED:
      if (!gw_discovery_pair_discovered (core->discovery, cmd->discovered_id, &error))
        command_error (core, error, NULL);
      break;
    case GW_COMMAND_PAIR_ADDRESS:
      if (!gw_discovery_pair_address (core->discovery, cmd->address, &error))
        command_error (core, error, NULL);
      break;
    case GW_COMMAND_ANSWER_PROMPT:
      if (!gw_prompts_answer (core->prompts, cmd->prompt_id, cmd->answer, &error))
        command_error (core, error, NULL);
      break;
    case GW_COMMAND_RENAME:
      {
        g_autoptr(GwEntityInfo) e = cmd->pne_id ? gw_registry_get_entity (core->registry, cmd->pne_id) : NULL;

        if (e == NULL || cmd->name == NULL || !g_utf8_validate (cmd->name, -1, NULL) ||
            g_utf8_strlen (cmd->name, -1) < 1 || g_utf8_strlen (cmd->name, -1) > 64)
          {
            error = gw_error_new_advice (CPNS_ERROR_BAD_REQUEST,
                                         "A device name is 1 to 64 characters");
            command_error (core, error, cmd->pne_id);
            break;
          }
        g_free (e->name);
        e->name = g_strdup (cmd->name);
        gw_registry_put_entity (core->registry, e, NULL, FALSE, NULL);
        gw_core_emit_entity (core, cmd->pne_id);
      }
      break;
    case GW_COMMAND_REMOVE:
      remove_entity (core, cmd->pne_id);
      break;
    case GW_COMMAND_BLOCK:
      {
        g_autoptr(GwEntityInfo) e = cmd->pne_id ? gw_registry_get_entity (core->registry, cmd->pne_id) : NULL;

        if (e == NULL)
          {
            error = gw_error_new_advice (CPNS_ERROR_NOT_FOUND, "No such device");
            command_error (core, error, NULL);
            break;
          }
        e->blocked = cmd->flag;
        if (!cmd->flag && e->state == GW_ENTITY_BLOCKED)
          e->state = GW_ENTITY_DISCONNECTED;
        gw_registry_put_entity (core->registry, e, NULL, FALSE, NULL);
        if (cmd->flag)
          gw_core_revoke_entity (core, cmd->pne_id, GW_ENTITY_BLOCKED);
        gw_core_emit_entity (core, cmd->pne_id);
      }
      break;
    case GW_COMMAND_REKEY:
      {
        g_autoptr(GwEntityInfo) e = cmd->pne_id ? gw_registry_get_entity (core->registry, cmd->pne_id) : NULL;
        g_autoptr(GwFlow) flow = NULL;

        if (e == NULL || e->state == GW_ENTITY_REVOKED)
          {
            error = gw_error_new_advice (CPNS_ERROR_NOT_FOUND, "No such device to re-key");
            command_error (core, error, cmd->pne_id);
            break;
          }
        /* §5.3 over CPNS-1: the device gets its new key (same ID) the next
         * time it pairs; its credentials are then not accepted (3a). */
        g_hash_table_add (core->rekey_ids, g_strdup (cmd->pne_id));
        flow = gw_flow_new (core, GW_FLOW_REKEY, cmd->pne_id, e->name);
        gw_flow_skip (flow, GW_STEP_3A, "A new key was asked for: pair the device again to deliver it");
        gw_core_emit_entity (core, cmd->pne_id);
      }
      break;
    case GW_COMMAND_SET_KEY_MODE:
      if (g_strcmp0 (cmd->key_mode, "server") != 0 && g_strcmp0 (cmd->key_mode, "gateway") != 0)
        {
          error = gw_error_new_advice (CPNS_ERROR_BAD_REQUEST,
                                       "The key assignment mode is \"server\" or \"gateway\"");
          command_error (core, error, NULL);
          break;
        }
      g_free (core->key_mode);
      core->key_mode = g_strdup (cmd->key_mode);
      gw_registry_set_setting (core->registry, "key_mode", core->key_mode, NULL);
      break;
    case GW_COMMAND_SET_PAIRING_WINDOW_LENGTH:
      core->pairing_window_s = CLAMP (cmd->seconds, 10, 900);
      break;
    case GW_COMMAND_SET_DISCOVERY:
      gw_discovery_set_enabled (core->discovery, cmd->flag);
      break;
    default:
      break;
    }
}
