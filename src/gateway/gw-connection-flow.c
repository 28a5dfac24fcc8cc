/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-connection"

#include "config.h"

#include <json-glib/json-glib.h>

#include "gw-connection-flow.h"
#include "gw-event-private.h"
#include "gw-flow.h"
#include "gw-server-session.h"

#define REPLY_TIMEOUT_MS   30000
#define APPROVAL_TIMEOUT_S 120

/* The states of §4.5 (and §4.6) on the gateway side. */
typedef enum
{
  SETUP_SESSION,         /* step 1 on demand (trigger II) */
  SETUP_AUTH_POSTED,     /* POST /auth in flight */
  SETUP_CHALLENGE_SENT,  /* waiting for auth_response */
  SETUP_VERIFYING,       /* POST verify in flight */
  SETUP_ASKING,          /* the person decides */
  SETUP_DECIDING,        /* POST decision in flight */
  SETUP_WAIT_CONFIRM,    /* waiting for session_key_confirm */
  SETUP_CONNECTED,       /* steps 5a–5b done; heartbeats */
  SETUP_FAILED,
} SetupState;

struct _GwConnectionFlow
{
  GwPeer      *peer;
  GwCore      *core;
  GwFlow      *flow;
  SetupState   state;
  gboolean     resume;
  char        *pne_id;
  char        *name;
  char        *auth_id;
  guint8       nonce_p[CPNS_NONCE_LEN];
  char       **requested;
  guint        timer;
  guint64      prompt_id;
  gboolean     remember;
  gboolean     first_time;   /* never connected before */
  char        *session_id;
  guint8       session_key[CPNS_KEY_LEN];
  gint64       expires_at;
  char       **granted;
};

static void
fail (GwConnectionFlow *self,
      CpnsErrorCode     code,
      const char       *what,
      gint64            retry_after)
{
  g_autoptr(GError) error = gw_error_new_advice (code, what);
  g_autoptr(GError) wire = g_error_new_literal (CPNS_ERROR, code, what);

  if (self->state == SETUP_FAILED)
    return;
  self->state = SETUP_FAILED;
  gw_clock_clear (self->core->clock, &self->timer);
  cpns_wipe (self->session_key, sizeof self->session_key);
  if (self->prompt_id)
    gw_prompts_withdraw (self->core->prompts, self->prompt_id, GW_WITHDRAWN_PEER_LEFT);
  self->prompt_id = 0;
  gw_flow_fail (self->flow, error);
  if (self->pne_id)
    {
      g_autoptr(GwEntityInfo) e = gw_registry_get_entity (self->core->registry, self->pne_id);

      if (e && (e->state == GW_ENTITY_CONNECTING || e->state == GW_ENTITY_WAITING))
        {
          e->state = GW_ENTITY_DISCONNECTED;
          gw_registry_put_entity_live (self->core->registry, e, NULL);
          gw_core_emit_entity (self->core, self->pne_id);
        }
    }
  if (code == CPNS_ERROR_LOCKED_OUT && self->peer->channel)
    {
      g_autoptr(CpnsMessage) msg = cpns_message_new ("error");

      cpns_message_set_string (msg, "code", "locked_out");
      cpns_message_set_string (msg, "message", what);
      cpns_message_set_int (msg, "retry_after", retry_after > 0 ? retry_after : 300);
      gw_peer_send (self->peer, msg);
      gw_peer_close (self->peer);
      return;
    }
  gw_peer_fail (self->peer, wire);
}

static void
fail_from_server (GwConnectionFlow *self,
                  const GError     *error,
                  const char       *what)
{
  CpnsErrorCode code = error->domain == CPNS_ERROR ? error->code : CPNS_ERROR_INTERNAL;
  g_autofree char *text = NULL;

  if (gw_peer_is_closed (self->peer))
    return;
  if (code >= CPNS_ERROR_PIN_MISMATCH || code == CPNS_ERROR_UNAUTHORIZED ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = CPNS_ERROR_SERVER_UNREACHABLE;
  if (code == CPNS_ERROR_LOCKED_OUT && self->pne_id)
    gw_core_note_lockout (self->core, self->pne_id, 300);
  text = g_strdup_printf ("%s (%s)", what, error->message);
  fail (self, code, text, 300);
}

static gboolean
on_reply_timeout (gpointer data)
{
  GwConnectionFlow *self = data;

  self->timer = 0;
  fail (self, CPNS_ERROR_TIMEOUT, "The device did not answer in time", 0);
  return G_SOURCE_REMOVE;
}

static void
expect_reply (GwConnectionFlow *self)
{
  gw_clock_clear (self->core->clock, &self->timer);
  self->timer = gw_clock_add_timeout (self->core->clock, REPLY_TIMEOUT_MS, on_reply_timeout, self);
}

static void
set_entity_state (GwConnectionFlow *self,
                  GwEntityState     state,
                  JsonObject       *descriptor)
{
  g_autoptr(GwEntityInfo) e = gw_registry_get_entity (self->core->registry, self->pne_id);
  gint64 now = gw_clock_now (self->core->clock) / G_USEC_PER_SEC;
  g_autofree char *descriptor_json = NULL;
  gboolean created = FALSE;

  if (descriptor)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), descriptor);
      descriptor_json = json_to_string (node, FALSE);
    }
  if (e == NULL)
    {
      /* Known to the server, not (or no longer) to this registry. */
      e = g_new0 (GwEntityInfo, 1);
      e->pne_id = g_strdup (self->pne_id);
      e->name = g_strdup (descriptor ? json_object_get_string_member_with_default (descriptor, "name", "device")
                                     : "device");
      e->entity_type = g_strdup (descriptor ? json_object_get_string_member_with_default (descriptor, "entity_type", "other")
                                            : "other");
      e->registered_at = now;
      created = TRUE;
    }
  e->state = state;
  e->last_seen = now;
  g_free (e->address);
  e->address = g_strdup (self->peer->host);
  /* Only a new row or a new descriptor is a registration (synchronous=FULL).
   * A state change of a row already stored durably is live state: testing
   * "registered_at == now" instead made both state changes of a setup that
   * follows its pairing within the same second pay an fsync on the engine
   * thread. */
  if (descriptor_json || created)
    gw_registry_put_entity (self->core->registry, e, descriptor_json, FALSE, NULL);
  else
    gw_registry_put_entity_live (self->core->registry, e, NULL);
  gw_core_emit_entity (self->core, self->pne_id);
}

/* Steps 5a and 5b, shared by setup and resume. */
static void
complete (GwConnectionFlow *self)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("connection_setup_complete");
  g_autoptr(GDateTime) expires = g_date_time_new_from_unix_utc (self->expires_at);
  const char *none[] = { NULL };
  gboolean online = gw_server_session_get_state (self->core->server) == GW_SESSION_CONNECTED;

  gw_flow_begin (self->flow, GW_STEP_5A);
  set_entity_state (self, GW_ENTITY_CONNECTED, NULL);
  gw_core_update_inventory (self->core, self->pne_id, "connected", self->session_id, self->granted);
  gw_flow_done (self->flow, online ? "Inventory updated on the gateway and sent to the server"
                                   : "Inventory updated on the gateway; the server update is queued");

  gw_flow_begin (self->flow, GW_STEP_5B);
  cpns_message_set_string (msg, "session_id", self->session_id);
  cpns_message_set_string (msg, "pn_id", self->core->pn_id);
  cpns_message_set_time (msg, "expires_at", expires);
  cpns_message_set_strv (msg, "granted_services",
                         (const char * const *) (self->granted ? self->granted : (char **) none));
  gw_peer_send (self->peer, msg);
  gw_flow_done (self->flow, NULL);
  self->state = SETUP_CONNECTED;
  gw_peer_set_connected (self->peer, self->pne_id);
}

/* ------------------------------------------------------------------ */
/* 4d–f → 4g */

static void
on_allowed (GwConnectionFlow *self,
            CpnsMessage      *result)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("authorization_result");
  g_autoptr(GDateTime) expires = cpns_message_dup_time (result, "expires_at");
  const char *rule = cpns_message_get_string (result, "rule_id");
  const char *none[] = { NULL };
  g_autofree char *detail = NULL;

  if (!cpns_message_get_bytes (result, "session_key", self->session_key, sizeof self->session_key) ||
      cpns_message_get_string (result, "session_id") == NULL)
    {
      fail (self, CPNS_ERROR_INTERNAL, "The server allowed the connection but sent no session", 0);
      return;
    }
  self->session_id = g_strdup (cpns_message_get_string (result, "session_id"));
  self->expires_at = expires ? g_date_time_to_unix (expires)
                             : gw_clock_now (self->core->clock) / G_USEC_PER_SEC + 86400;
  self->granted = cpns_message_dup_strv (result, "granted_services");
  if (self->state == SETUP_DECIDING)
    detail = g_strdup (self->remember ? "Allowed by the person; a rule now allows it always"
                                      : "Allowed once by the person");
  else
    detail = rule ? g_strdup_printf ("Allowed by policy rule %s", rule)
                  : g_strdup ("Allowed by the network's default policy");
  gw_flow_done (self->flow, detail);

  gw_flow_begin (self->flow, GW_STEP_4G);
  cpns_message_set_string (msg, "decision", "allow");
  cpns_message_set_string (msg, "session_id", self->session_id);
  if (expires)
    cpns_message_set_time (msg, "expires_at", expires);
  else
    {
      g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (self->expires_at);
      cpns_message_set_time (msg, "expires_at", t);
    }
  cpns_message_set_strv (msg, "granted_services",
                         (const char * const *) (self->granted ? self->granted : (char **) none));
  gw_peer_send (self->peer, msg);
  self->state = SETUP_WAIT_CONFIRM;
  expect_reply (self);
}

static void
on_decision_reply (CpnsMessage  *reply,
                   const GError *error,
                   gpointer      data)
{
  GwPeer *peer = data;
  GwConnectionFlow *self = peer->setup;

  if (self && !gw_peer_is_closed (peer) && self->state == SETUP_DECIDING)
    {
      if (error)
        fail_from_server (self, error, "The server did not accept the decision");
      else if (g_strcmp0 (cpns_message_get_string (reply, "decision"), "allow") == 0)
        on_allowed (self, reply);
      else
        fail (self, CPNS_ERROR_DENIED, "The connection was not allowed", 0);
    }
  gw_peer_unref (peer);
}

static void
ignore_reply (CpnsMessage  *reply,
              const GError *error,
              gpointer      data)
{
}

static void
on_approval (GwPromptAnswer   answer,
             GwWithdrawReason reason,
             gpointer         data)
{
  GwConnectionFlow *self = data;
  g_autoptr(CpnsMessage) body = cpns_message_new ("api.decision.request");
  g_autofree char *path = NULL;
  gboolean allow = answer == GW_ANSWER_ALLOW_ONCE || answer == GW_ANSWER_ALLOW_ALWAYS;

  self->prompt_id = 0;
  if (self->state != SETUP_ASKING)
    return;
  if (reason == GW_WITHDRAWN_CANCELLED)
    {
      fail (self, CPNS_ERROR_DENIED, "The gateway is stopping", 0);
      return;
    }
  self->remember = answer == GW_ANSWER_ALLOW_ALWAYS;
  cpns_message_set_string (body, "decision", allow ? "allow" : "deny");
  cpns_message_set_bool (body, "remember", self->remember);
  path = g_strdup_printf ("/cpns/v1/auth/%s/decision", self->auth_id);
  if (!allow)
    {
      /* Record the decision on the server, but deny at once. */
      gw_server_session_call (self->core->server, "POST", path, body, NULL, NULL,
                              ignore_reply, NULL);
      fail (self, CPNS_ERROR_DENIED,
            reason == GW_WITHDRAWN_EXPIRED ? "Nobody approved the connection in time, so it was denied"
                                           : "The person denied the connection", 0);
      return;
    }
  self->state = SETUP_DECIDING;
  set_entity_state (self, GW_ENTITY_CONNECTING, NULL);
  gw_server_session_call (self->core->server, "POST", path, body, "api.auth_result",
                          self->peer->cancellable, on_decision_reply, gw_peer_ref (self->peer));
}

static void
ask_person (GwConnectionFlow *self,
            CpnsMessage      *result)
{
  g_autoptr(CpnsMessage) pending = cpns_message_new ("authorization_pending");
  JsonObject *descriptor = cpns_message_get_json_object (result, "entity");
  g_autoptr(GwEntityInfo) known = gw_registry_get_entity (self->core->registry, self->pne_id);
  guint timeout = self->core->config->approval_timeout_s ? self->core->config->approval_timeout_s
                                                         : APPROVAL_TIMEOUT_S;
  g_autoptr(GDateTime) expires = NULL;
  GwPromptInfo *info = g_new0 (GwPromptInfo, 1);

  gw_clock_clear (self->core->clock, &self->timer);
  expires = g_date_time_new_from_unix_utc (gw_clock_now (self->core->clock) / G_USEC_PER_SEC + timeout);
  cpns_message_set_string (pending, "reason", "awaiting_user_approval");
  cpns_message_set_time (pending, "expires_at", expires);
  gw_peer_send (self->peer, pending);

  set_entity_state (self, GW_ENTITY_WAITING, descriptor);
  info->kind = GW_PROMPT_APPROVAL;
  info->pne_id = g_strdup (self->pne_id);
  info->pne_name = g_strdup (known ? known->name
                                   : descriptor ? json_object_get_string_member_with_default (descriptor, "name", NULL)
                                                : NULL);
  info->entity_type = g_strdup (known ? known->entity_type
                                      : descriptor ? json_object_get_string_member_with_default (descriptor, "entity_type", NULL)
                                                   : NULL);
  info->manufacturer = g_strdup (known ? known->manufacturer : NULL);
  info->model = g_strdup (known ? known->model : NULL);
  info->address = g_strdup (self->peer->address);
  info->rule_id = g_strdup (cpns_message_get_string (result, "rule_id"));
  info->reason = g_strdup (info->rule_id ? "A policy rule asks for your approval"
                                         : "The network's policy asks for your approval");
  info->first_time = self->first_time;
  self->state = SETUP_ASKING;
  self->prompt_id = gw_prompts_raise (self->core->prompts, info, timeout, on_approval, self);
}

static void
on_verify_reply (CpnsMessage  *reply,
                 const GError *error,
                 gpointer      data)
{
  GwPeer *peer = data;
  GwConnectionFlow *self = peer->setup;

  if (self == NULL || gw_peer_is_closed (peer) || self->state != SETUP_VERIFYING)
    {
      gw_peer_unref (peer);
      return;
    }
  if (error)
    {
      if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_DENIED))
        {
          gw_flow_done (self->flow, "The server authenticated the device");
          gw_flow_begin (self->flow, GW_STEP_4DF);
        }
      fail_from_server (self, error, g_error_matches (error, CPNS_ERROR, CPNS_ERROR_DENIED)
                                       ? "The network's policy denied the connection"
                                       : "The server did not authenticate the device");
      gw_peer_unref (peer);
      return;
    }
  gw_flow_done (self->flow, "The server and the device authenticated each other");
  gw_flow_begin (self->flow, GW_STEP_4DF);
  if (g_strcmp0 (cpns_message_get_string (reply, "decision"), "ask") == 0)
    ask_person (self, reply);
  else
    on_allowed (self, reply);
  gw_peer_unref (peer);
}

static void
on_auth_response (GwConnectionFlow *self,
                  CpnsMessage      *msg)
{
  g_autoptr(CpnsMessage) body = cpns_message_new ("api.verify.request");
  g_autofree char *path = NULL;
  guint8 proof[CPNS_MAC_LEN];

  gw_clock_clear (self->core->clock, &self->timer);
  if (g_strcmp0 (cpns_message_get_string (msg, "auth_id"), self->auth_id) != 0)
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, "bad_request: field 'auth_id' is not the one issued", 0);
      return;
    }
  cpns_message_get_bytes (msg, "pne_proof", proof, sizeof proof);
  cpns_message_set_bytes (body, "pne_proof", proof, sizeof proof);
  path = g_strdup_printf ("/cpns/v1/auth/%s/verify", self->auth_id);
  self->state = SETUP_VERIFYING;
  gw_server_session_call (self->core->server, "POST", path, body, "api.auth_result",
                          self->peer->cancellable, on_verify_reply, gw_peer_ref (self->peer));
}

static void
on_auth_reply (CpnsMessage  *reply,
               const GError *error,
               gpointer      data)
{
  GwPeer *peer = data;
  GwConnectionFlow *self = peer->setup;
  g_autoptr(CpnsMessage) challenge = NULL;
  guint8 nonce_s[CPNS_NONCE_LEN];
  guint8 proof[CPNS_MAC_LEN];

  if (self == NULL || gw_peer_is_closed (peer) || self->state != SETUP_AUTH_POSTED)
    {
      gw_peer_unref (peer);
      return;
    }
  if (error)
    {
      fail_from_server (self, error, "The server refused to authenticate the device");
      gw_peer_unref (peer);
      return;
    }
  self->auth_id = g_strdup (cpns_message_get_string (reply, "auth_id"));
  cpns_message_get_bytes (reply, "nonce_s", nonce_s, sizeof nonce_s);
  cpns_message_get_bytes (reply, "server_proof", proof, sizeof proof);
  gw_flow_done (self->flow, "The server sent its challenge");

  gw_flow_begin (self->flow, GW_STEP_4C);
  challenge = cpns_message_new ("auth_challenge");
  cpns_message_set_string (challenge, "auth_id", self->auth_id);
  cpns_message_set_string (challenge, "gateway_id", self->core->gateway_id);
  cpns_message_set_bytes (challenge, "nonce_s", nonce_s, sizeof nonce_s);
  cpns_message_set_bytes (challenge, "server_proof", proof, sizeof proof);
  gw_peer_send (self->peer, challenge);
  self->state = SETUP_CHALLENGE_SENT;
  expect_reply (self);
  gw_peer_unref (peer);
}

static void
post_auth (GwConnectionFlow *self)
{
  g_autoptr(CpnsMessage) body = cpns_message_new ("api.auth.request");
  const char *none[] = { NULL };

  gw_flow_begin (self->flow, GW_STEP_4B);
  cpns_message_set_string (body, "pne_id", self->pne_id);
  cpns_message_set_bytes (body, "nonce_p", self->nonce_p, sizeof self->nonce_p);
  cpns_message_set_strv (body, "requested_services",
                         (const char * const *) (self->requested ? self->requested : (char **) none));
  self->state = SETUP_AUTH_POSTED;
  gw_server_session_call (self->core->server, "POST", "/cpns/v1/auth", body, "api.auth.response",
                          self->peer->cancellable, on_auth_reply, gw_peer_ref (self->peer));
}

static void
on_session_ready (const GError *error,
                  gpointer      data)
{
  GwPeer *peer = data;
  GwConnectionFlow *self = peer->setup;

  if (self && !gw_peer_is_closed (peer) && self->state == SETUP_SESSION)
    {
      if (error)
        fail (self, CPNS_ERROR_SERVER_UNREACHABLE, "The gateway could not reach the CPNS server", 0);
      else
        {
          gw_flow_done (self->flow, "Secure session with the CPNS server established");
          post_auth (self);
        }
    }
  gw_peer_unref (peer);
}

static void
on_key_confirm (GwConnectionFlow *self,
                CpnsMessage      *msg)
{
  g_autoptr(CpnsMessage) ack = cpns_message_new ("session_key_confirm_ack");
  g_autoptr(GError) error = NULL;
  guint8 exporter[CPNS_EXPORTER_LEN];
  guint8 mac[CPNS_MAC_LEN];
  guint8 expected[CPNS_MAC_LEN];

  gw_clock_clear (self->core->clock, &self->timer);
  if (!cpns_tls_channel_export (self->peer->channel, CPNS_EXPORTER_SESSION_BINDING, exporter, &error))
    {
      fail (self, CPNS_ERROR_INTERNAL, "The TLS exporter failed", 0);
      return;
    }
  cpns_message_get_bytes (msg, "mac", mac, sizeof mac);
  cpns_pne_session_confirm (self->session_key, self->session_id, exporter, expected);
  if (!cpns_memeq_ct (mac, sizeof mac, expected, sizeof expected))
    {
      fail (self, CPNS_ERROR_AUTH_FAILED,
            "The device's session confirmation did not verify (wrong key or a relayed connection)", 0);
      return;
    }
  cpns_gw_session_confirm (self->session_key, self->session_id, exporter, mac);
  cpns_message_set_bytes (ack, "mac", mac, sizeof mac);
  gw_peer_send (self->peer, ack);
  gw_core_add_pne_session (self->core, self->pne_id, self->session_id, self->session_key,
                           self->expires_at, self->granted);
  cpns_wipe (self->session_key, sizeof self->session_key);
  gw_flow_done (self->flow, "Session key shared and bound to this connection");
  complete (self);
}

void
gw_connection_flow_message (GwConnectionFlow *self,
                            CpnsMessage      *msg)
{
  const char *kind = cpns_message_get_kind (msg);

  if (self->state == SETUP_CHALLENGE_SENT && g_str_equal (kind, "auth_response"))
    on_auth_response (self, msg);
  else if (self->state == SETUP_WAIT_CONFIRM && g_str_equal (kind, "session_key_confirm"))
    on_key_confirm (self, msg);
  else if (self->state == SETUP_CONNECTED)
    g_debug ("%s: ignoring %s on an established session", self->peer->address, kind);
  else
    {
      g_autofree char *what = g_strdup_printf ("conflict: unexpected %s during connection setup", kind);
      fail (self, CPNS_ERROR_CONFLICT, what, 0);
    }
}

static gboolean
check_entity (GwConnectionFlow *self)
{
  g_autoptr(GwEntityInfo) e = gw_registry_get_entity (self->core->registry, self->pne_id);
  gint64 *until = g_hash_table_lookup (self->core->lockouts, self->pne_id);

  if (e)
    {
      g_free (self->name);
      self->name = g_strdup (e->name);
      gw_flow_set_pne (self->flow, NULL, e->name);
    }
  if (e && e->blocked)
    {
      fail (self, CPNS_ERROR_DENIED, "This device is blocked on the gateway", 0);
      return FALSE;
    }
  if (e && e->state == GW_ENTITY_REVOKED)
    {
      fail (self, CPNS_ERROR_REVOKED, "This device was removed from the network", 0);
      return FALSE;
    }
  if (until && *until > gw_clock_now (self->core->clock) / G_USEC_PER_SEC)
    {
      fail (self, CPNS_ERROR_LOCKED_OUT, "Too many failed attempts for this device",
            *until - gw_clock_now (self->core->clock) / G_USEC_PER_SEC);
      return FALSE;
    }
  return TRUE;
}

static void
start_resume (GwConnectionFlow *self,
              CpnsMessage      *msg)
{
  const char *session_id = cpns_message_get_string (msg, "session_id");
  GwPneSession *s = gw_core_lookup_pne_session (self->core, session_id);

  self->flow = gw_flow_new (self->core, GW_FLOW_RESUME, self->pne_id, NULL);
  if (!check_entity (self))
    return;
  if (s == NULL || g_strcmp0 (cpns_tls_channel_get_psk_identity (self->peer->channel), session_id) != 0 ||
      !g_str_equal (s->pne_id, self->pne_id))
    {
      gw_flow_begin (self->flow, GW_STEP_5A);
      fail (self, CPNS_ERROR_NOT_FOUND, "This session is not known to the gateway", 0);
      return;
    }
  self->session_id = g_strdup (s->session_id);
  self->expires_at = s->expires_at;
  self->granted = g_strdupv (s->granted_services);
  gw_peer_set_authenticated (self->peer);
  complete (self);
}

GwConnectionFlow *
gw_connection_flow_new (GwPeer      *peer,
                        CpnsMessage *first)
{
  GwConnectionFlow *self = g_new0 (GwConnectionFlow, 1);
  GwCore *core = peer->core;

  self->peer = peer;
  self->core = core;
  self->pne_id = g_strdup (cpns_message_get_string (first, "pne_id"));
  g_free (peer->pne_id);
  peer->pne_id = NULL;

  if (g_str_equal (cpns_message_get_kind (first), "session_resume_request"))
    {
      self->resume = TRUE;
      start_resume (self, first);
      return self;
    }

  self->flow = gw_flow_new (core, GW_FLOW_CONNECTION, self->pne_id, NULL);
  gw_flow_begin (self->flow, GW_STEP_4A);
  if (!check_entity (self))
    return self;
  if (!gw_core_is_enrolled (core) ||
      g_strcmp0 (cpns_message_get_string (first, "pn_id"), core->pn_id) != 0)
    {
      fail (self, CPNS_ERROR_NOT_FOUND, "The device belongs to another personal network", 0);
      return self;
    }
  cpns_message_get_bytes (first, "nonce_p", self->nonce_p, sizeof self->nonce_p);
  self->requested = cpns_message_dup_strv (first, "requested_services");
  gw_flow_done (self->flow, "The device asked to connect");
  {
    g_autoptr(GwEntityInfo) e = gw_registry_get_entity (core->registry, self->pne_id);

    self->first_time = e == NULL || e->state == GW_ENTITY_REGISTERED;
    if (e)
      set_entity_state (self, GW_ENTITY_CONNECTING, NULL);
  }

  if (gw_server_session_get_state (core->server) == GW_SESSION_CONNECTED)
    {
      gw_flow_skip (self->flow, GW_STEP_1, "A secure session with the CPNS server exists");
      post_auth (self);
    }
  else
    {
      gw_flow_begin (self->flow, GW_STEP_1);
      self->state = SETUP_SESSION;
      gw_server_session_ensure (core->server, on_session_ready, gw_peer_ref (peer));
    }
  return self;
}

void
gw_connection_flow_peer_closed (GwConnectionFlow *self,
                                const GError     *error)
{
  gw_clock_clear (self->core->clock, &self->timer);
  cpns_wipe (self->session_key, sizeof self->session_key);
  if (self->prompt_id)
    gw_prompts_withdraw (self->core->prompts, self->prompt_id, GW_WITHDRAWN_PEER_LEFT);
  self->prompt_id = 0;
  if (self->state == SETUP_CONNECTED || self->state == SETUP_FAILED)
    return;
  self->state = SETUP_FAILED;
  if (self->flow && gw_flow_is_running (self->flow))
    {
      g_autoptr(GError) e = NULL;

      if (error && error->domain == CPNS_ERROR && error->code < CPNS_ERROR_PIN_MISMATCH)
        e = gw_error_new_advice (error->code, "The device ended the connection setup");
      else
        e = gw_error_new_advice (CPNS_ERROR_CLOSED, "The device disconnected during connection setup");
      gw_flow_fail (self->flow, e);
    }
  if (self->pne_id)
    {
      g_autoptr(GwEntityInfo) e = gw_registry_get_entity (self->core->registry, self->pne_id);

      if (e && (e->state == GW_ENTITY_CONNECTING || e->state == GW_ENTITY_WAITING))
        {
          e->state = GW_ENTITY_DISCONNECTED;
          gw_registry_put_entity_live (self->core->registry, e, NULL);
          gw_core_emit_entity (self->core, self->pne_id);
        }
    }
}

void
gw_connection_flow_free (GwConnectionFlow *self)
{
  if (self == NULL)
    return;
  gw_clock_clear (self->core->clock, &self->timer);
  cpns_wipe (self->session_key, sizeof self->session_key);
  g_clear_pointer (&self->flow, gw_flow_free);
  g_free (self->pne_id);
  g_free (self->name);
  g_free (self->auth_id);
  g_strfreev (self->requested);
  g_free (self->session_id);
  g_strfreev (self->granted);
  g_free (self);
}
