/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-pairing"

#include "config.h"

#include <json-glib/json-glib.h>

#include "cpns-ids.h"
#include "gw-discovery.h"
#include "gw-event-private.h"
#include "gw-flow.h"
#include "gw-pairing-flow.h"
#include "gw-server-session.h"

#define REPLY_TIMEOUT_MS     30000
#define FAIL_SAFE_TIMEOUT_MS 60000
#define CODE_TIMEOUT_S       120

/* The states of §4.3–4.4 on the gateway side. */
typedef enum
{
  PAIRING_COMMIT_SENT,    /* waiting for pairing_nonce */
  PAIRING_CODE_PROMPT,    /* the person compares the codes */
  PAIRING_WAIT_ID,        /* waiting for pne_id_request */
  PAIRING_REGISTERING,    /* POST /entities in flight (maybe after step 1) */
  PAIRING_KEY_SENT,       /* waiting for key_assignment_response */
  PAIRING_CONFIRMING,     /* POST key-confirm in flight */
  PAIRING_DONE,
  PAIRING_FAILED,
} PairingState;

struct _GwPairingFlow
{
  GwPeer       *peer;        /* owns this flow */
  GwCore       *core;
  GwFlow       *flow;
  PairingState  state;
  char         *descriptor_json;
  JsonObject   *entity;
  char         *name;
  char         *entity_type;
  gboolean      has_credentials;
  char         *cred_pne_id;
  char         *cred_pn_id;
  char         *cred_key_id;
  guint8        exporter[CPNS_EXPORTER_LEN];
  guint8        n_g[CPNS_NONCE_LEN];
  guint64       prompt_id;
  guint         timer;
  guint         fail_safe;
  char         *pne_id;
  char         *key_id;
  guint8        euk[CPNS_KEY_LEN];   /* transit only; wiped at key confirmation */
  gboolean      have_euk;
  gint64        issued_at;
  gboolean      registered;          /* the server has the entity (pending) */
  gboolean      rekey;               /* §5.3: a new key for a known pne_id */
};

static void
wipe_euk (GwPairingFlow *self)
{
  cpns_wipe (self->euk, sizeof self->euk);
  self->have_euk = FALSE;
}

static void
stop_timers (GwPairingFlow *self)
{
  gw_clock_clear (self->core->clock, &self->timer);
  gw_clock_clear (self->core->clock, &self->fail_safe);
}

/* Ends the flow with @code: the running step fails, the PNE gets an
 * error frame, anything registered on the server is rolled back. */
static void
fail (GwPairingFlow *self,
      CpnsErrorCode  code,
      const char    *what)
{
  g_autoptr(GError) error = gw_error_new_advice (code, what);
  g_autoptr(GError) wire = g_error_new_literal (CPNS_ERROR, code, what);

  if (self->state == PAIRING_DONE || self->state == PAIRING_FAILED)
    return;
  self->state = PAIRING_FAILED;
  stop_timers (self);
  wipe_euk (self);
  if (self->prompt_id)
    gw_prompts_withdraw (self->core->prompts, self->prompt_id, GW_WITHDRAWN_PEER_LEFT);
  self->prompt_id = 0;
  gw_flow_fail (self->flow, error);
  if (self->registered && self->pne_id)
    gw_pairing_rollback (self->core, self->pne_id);
  self->registered = FALSE;
  if (code == CPNS_ERROR_REJECTED || code == CPNS_ERROR_TIMEOUT || code == CPNS_ERROR_AUTH_FAILED)
    gw_discovery_note_failure (self->core->discovery);
  gw_peer_fail (self->peer, wire);
}

static gboolean
on_reply_timeout (gpointer data)
{
  GwPairingFlow *self = data;

  self->timer = 0;
  fail (self, CPNS_ERROR_TIMEOUT, "The device did not answer in time");
  return G_SOURCE_REMOVE;
}

static void
expect_reply (GwPairingFlow *self)
{
  gw_clock_clear (self->core->clock, &self->timer);
  self->timer = gw_clock_add_timeout (self->core->clock, REPLY_TIMEOUT_MS, on_reply_timeout, self);
}

static gboolean
on_fail_safe (gpointer data)
{
  GwPairingFlow *self = data;

  self->fail_safe = 0;
  fail (self, CPNS_ERROR_TIMEOUT,
        "The device did not confirm its key within 60 s; it was removed again");
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------ */
/* Rollback (§4.4 fail-safe) */

typedef struct
{
  GwCore *core;
  char   *pne_id;
} Rollback;

static void
on_rollback_reply (CpnsMessage  *reply,
                   const GError *error,
                   gpointer      data)
{
  Rollback *rb = data;

  if (error == NULL || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND))
    {
      g_debug ("rolled back %s", rb->pne_id);
      gw_registry_delete_entity (rb->core->registry, rb->pne_id, NULL);
    }
  else
    g_debug ("rollback of %s deferred: %s", rb->pne_id, error->message);
  g_free (rb->pne_id);
  g_free (rb);
}

void
gw_pairing_rollback (GwCore     *core,
                     const char *pne_id)
{
  g_autofree char *path = g_strdup_printf ("/cpns/v1/entities/%s", pne_id);
  Rollback *rb = g_new0 (Rollback, 1);

  g_hash_table_remove (core->pairing_ids, pne_id);
  /* Stays pending in the registry until the server confirms. */
  gw_registry_set_pending (core->registry, pne_id, TRUE, NULL);
  rb->core = core;
  rb->pne_id = g_strdup (pne_id);
  if (core->stopping)
    {
      /* No server calls while stopping: the next start cleans up. */
      on_rollback_reply (NULL, &(GError) { G_IO_ERROR, G_IO_ERROR_CANCELLED, (char *) "stopping" }, rb);
      return;
    }
  gw_server_session_call (core->server, "DELETE", path, NULL, NULL, NULL, on_rollback_reply, rb);
}

/* ------------------------------------------------------------------ */

static void
send_complete (GwPairingFlow *self,
               const char    *pne_id)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("pairing_complete");

  cpns_message_set_string (msg, "pne_id", pne_id);
  cpns_message_set_string (msg, "pn_id", self->core->pn_id);
  cpns_message_set_string (msg, "gateway_id", self->core->gateway_id);
  gw_peer_send (self->peer, msg);
  gw_peer_set_authenticated (self->peer);
  self->state = PAIRING_DONE;
  stop_timers (self);
  if (self->core->active_pairings > 0)
    self->core->active_pairings--;
  gw_peer_close (self->peer);
}

static GwEntityInfo *
entity_from_request (GwPairingFlow *self,
                     const char    *pne_id)
{
  GwEntityInfo *e = g_new0 (GwEntityInfo, 1);
  gint64 now = gw_clock_now (self->core->clock) / G_USEC_PER_SEC;

  e->pne_id = g_strdup (pne_id);
  e->name = g_strdup (self->name);
  e->entity_type = g_strdup (self->entity_type);
  e->manufacturer = g_strdup (json_object_get_string_member_with_default (self->entity, "manufacturer", NULL));
  e->model = g_strdup (json_object_get_string_member_with_default (self->entity, "model", NULL));
  e->serial = g_strdup (json_object_get_string_member_with_default (self->entity, "serial", NULL));
  e->state = GW_ENTITY_PAIRING;
  e->key_mode = g_strdup (self->core->key_mode);
  e->registered_at = now;
  e->last_seen = now;
  e->address = g_strdup (self->peer->host);
  return e;
}

/* 3a: the PNE keeps its credentials. */
static void
complete_with_credentials (GwPairingFlow *self)
{
  g_autoptr(GwEntityInfo) e = gw_registry_get_entity (self->core->registry, self->cred_pne_id);

  gw_flow_set_pne (self->flow, self->cred_pne_id, NULL);
  gw_flow_begin (self->flow, GW_STEP_3A);
  gw_flow_done (self->flow, "The device already holds an ID and key for this network");
  gw_flow_skip (self->flow, GW_STEP_3BD, "The device keeps its ID");
  gw_flow_skip (self->flow, GW_STEP_3E, "The device keeps its key; step 4 proves it");
  if (e == NULL)
    {
      e = entity_from_request (self, self->cred_pne_id);
      e->key_id = g_strdup (self->cred_key_id);
      g_clear_pointer (&e->key_mode, g_free);
    }
  e->state = GW_ENTITY_REGISTERED;
  e->last_seen = gw_clock_now (self->core->clock) / G_USEC_PER_SEC;
  gw_registry_put_entity (self->core->registry, e, self->descriptor_json, FALSE, NULL);
  gw_core_emit_entity (self->core, self->cred_pne_id);
  send_complete (self, self->cred_pne_id);
}

static void
on_code_answered (GwPromptAnswer   answer,
                  GwWithdrawReason reason,
                  gpointer         data)
{
  GwPairingFlow *self = data;
  g_autoptr(CpnsMessage) msg = NULL;
  gboolean accepted;

  self->prompt_id = 0;
  if (self->state != PAIRING_CODE_PROMPT)
    return;
  if (reason == GW_WITHDRAWN_EXPIRED)
    {
      fail (self, CPNS_ERROR_TIMEOUT, "Nobody confirmed the pairing code in time");
      return;
    }
  if (reason == GW_WITHDRAWN_CANCELLED)
    {
      fail (self, CPNS_ERROR_INTERNAL, "The gateway is stopping");
      return;
    }
  if (answer != GW_ANSWER_CONFIRM)
    {
      fail (self, CPNS_ERROR_REJECTED, "The pairing code was rejected");
      return;
    }

  accepted = self->has_credentials && !self->rekey &&
             g_strcmp0 (self->cred_pn_id, self->core->pn_id) == 0;
  if (accepted)
    {
      g_autoptr(GwEntityInfo) e = gw_registry_get_entity (self->core->registry, self->cred_pne_id);

      if (e && (e->state == GW_ENTITY_REVOKED || e->blocked))
        accepted = FALSE;
    }
  msg = cpns_message_new ("pairing_response");
  cpns_message_set_string (msg, "result", "accepted");
  cpns_message_set_string (msg, "gateway_id", self->core->gateway_id);
  cpns_message_set_string (msg, "pn_id", self->core->pn_id);
  {
    g_autofree char *name = g_utf8_substring (self->core->gateway_name, 0,
                                              MIN (64, g_utf8_strlen (self->core->gateway_name, -1)));
    cpns_message_set_string (msg, "name", name);
  }
  cpns_message_set_string (msg, "cert_sha256", cpns_certificate_get_sha256 (self->core->certificate));
  cpns_message_set_bool (msg, "credentials_accepted", accepted);
  gw_peer_send (self->peer, msg);
  gw_flow_done (self->flow, "The person confirmed the pairing code");

  if (accepted)
    {
      complete_with_credentials (self);
      return;
    }
  gw_flow_skip (self->flow, GW_STEP_3A,
                self->rekey ? "A new key was asked for; the device keeps its ID"
                : self->has_credentials ? "The device's credentials are not valid here; a new ID and key follow"
                                        : "The device has no credentials; an ID and key follow");
  gw_flow_begin (self->flow, GW_STEP_3BD);
  self->state = PAIRING_WAIT_ID;
  expect_reply (self);
}

static void
on_nonce (GwPairingFlow *self,
          CpnsMessage   *msg)
{
  g_autoptr(CpnsMessage) reveal = cpns_message_new ("pairing_reveal");
  guint8 n_p[CPNS_NONCE_LEN];
  GwPromptInfo *info;

  gw_clock_clear (self->core->clock, &self->timer);
  if (!cpns_message_get_bytes (msg, "n_p", n_p, sizeof n_p))
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, "bad_request: field 'n_p'");
      return;
    }
  cpns_message_set_bytes (reveal, "n_g", self->n_g, sizeof self->n_g);
  gw_peer_send (self->peer, reveal);

  info = g_new0 (GwPromptInfo, 1);
  info->kind = GW_PROMPT_PAIRING_CODE;
  info->pne_name = g_strdup (self->name);
  info->entity_type = g_strdup (self->entity_type);
  info->manufacturer = g_strdup (json_object_get_string_member_with_default (self->entity, "manufacturer", NULL));
  info->model = g_strdup (json_object_get_string_member_with_default (self->entity, "model", NULL));
  info->address = g_strdup (self->peer->address);
  info->code = cpns_pairing_code (self->exporter, self->n_g, n_p);
  info->first_time = !self->has_credentials;
  self->state = PAIRING_CODE_PROMPT;
  self->prompt_id = gw_prompts_raise (self->core->prompts, info,
                                      self->core->config->approval_timeout_s ? self->core->config->approval_timeout_s
                                                                             : CODE_TIMEOUT_S,
                                      on_code_answered, self);
}

static void send_key (GwPairingFlow *self);

static void
on_registered (CpnsMessage  *reply,
               const GError *error,
               gpointer      data)
{
  GwPeer *peer = data;
  GwPairingFlow *self = peer->pairing;

  if (self == NULL || gw_peer_is_closed (peer) || self->state != PAIRING_REGISTERING)
    {
      /* The device left while the server registered it: undo. (A re-key
       * needs nothing: the old key stays until the new one is confirmed.) */
      if (self && self->pne_id && !self->rekey)
        gw_pairing_rollback (peer->core, self->pne_id);
      gw_peer_unref (peer);
      return;
    }
  if (error)
    {
      CpnsErrorCode code = error->domain == CPNS_ERROR ? error->code : CPNS_ERROR_INTERNAL;

      /* The server may have registered it before the answer was lost (a
       * connection cut after the request, a timeout, a 5xx): fail() rolls
       * it back there too, and the pending row stays until the server
       * confirms the removal (or says not_found). */
      if (!self->rekey)
        self->registered = TRUE;
      else
        g_hash_table_remove (self->core->pairing_ids, self->pne_id);
      if (code >= CPNS_ERROR_PIN_MISMATCH || code == CPNS_ERROR_UNAUTHORIZED)
        code = CPNS_ERROR_SERVER_UNREACHABLE;
      fail (self, code, "The server did not register the device");
      gw_peer_unref (peer);
      return;
    }
  self->registered = !self->rekey;
  if (g_str_equal (self->core->key_mode, "server"))
    {
      if (!cpns_message_get_bytes (reply, "euk", self->euk, sizeof self->euk))
        {
          fail (self, CPNS_ERROR_INTERNAL, "The server did not send a key");
          gw_peer_unref (peer);
          return;
        }
      self->have_euk = TRUE;
      g_free (self->key_id);
      self->key_id = g_strdup (cpns_message_get_string (reply, "key_id"));
    }
  send_key (self);
  gw_peer_unref (peer);
}

static void
send_key (GwPairingFlow *self)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("key_assignment_request");
  g_autoptr(GDateTime) issued = g_date_time_new_from_unix_utc (self->issued_at);

  cpns_message_set_string (msg, "pne_id", self->pne_id);
  cpns_message_set_string (msg, "key_id", self->key_id);
  cpns_message_set_bytes (msg, "euk", self->euk, sizeof self->euk);
  cpns_message_set_string (msg, "mode", self->core->key_mode);
  cpns_message_set_time (msg, "issued_at", issued);
  gw_peer_send (self->peer, msg);
  self->state = PAIRING_KEY_SENT;
  self->fail_safe = gw_clock_add_timeout (self->core->clock, FAIL_SAFE_TIMEOUT_MS, on_fail_safe, self);
}

static void
register_entity (GwPairingFlow *self)
{
  g_autoptr(CpnsMessage) body = cpns_message_new (self->rekey ? "api.rekey.request"
                                                              : "api.entities.request");
  g_autofree char *path = self->rekey ? g_strdup_printf ("/cpns/v1/entities/%s/rekey", self->pne_id)
                                      : g_strdup ("/cpns/v1/entities");

  if (!self->rekey)
    {
      cpns_message_set_string (body, "pne_id", self->pne_id);
      cpns_message_set_object (body, "entity", self->entity);
    }
  cpns_message_set_string (body, "key_assignment", self->core->key_mode);
  if (g_str_equal (self->core->key_mode, "gateway"))
    {
      cpns_random_key (self->euk, sizeof self->euk);
      self->have_euk = TRUE;
      self->key_id = cpns_id_new (CPNS_ID_KEY);
      cpns_message_set_bytes (body, "euk", self->euk, sizeof self->euk);
      cpns_message_set_string (body, "key_id", self->key_id);
    }
  self->state = PAIRING_REGISTERING;
  gw_server_session_call (self->core->server, "POST", path, body,
                          "api.entities.response", self->peer->cancellable,
                          on_registered, gw_peer_ref (self->peer));
}

static void
on_session_ready (const GError *error,
                  gpointer      data)
{
  GwPeer *peer = data;
  GwPairingFlow *self = peer->pairing;

  if (self && !gw_peer_is_closed (peer) && self->state == PAIRING_REGISTERING)
    {
      if (error)
        {
          if (!self->rekey)
            gw_registry_delete_entity (self->core->registry, self->pne_id, NULL);
          g_hash_table_remove (self->core->pairing_ids, self->pne_id);
          fail (self, CPNS_ERROR_SERVER_UNREACHABLE, "The gateway could not reach the CPNS server");
        }
      else
        {
          gw_flow_done (self->flow, "Secure session with the CPNS server established");
          gw_flow_begin (self->flow, GW_STEP_3E);
          register_entity (self);
        }
    }
  gw_peer_unref (peer);
}

static void
on_id_request (GwPairingFlow *self)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("pne_id_response");
  g_autoptr(GwEntityInfo) e = NULL;
  g_autoptr(GError) error = NULL;

  gw_clock_clear (self->core->clock, &self->timer);
  /* A re-key keeps the device's ID (and its name and history). */
  self->pne_id = self->rekey ? g_strdup (self->cred_pne_id) : cpns_id_new (CPNS_ID_PNE);
  self->issued_at = gw_clock_now (self->core->clock) / G_USEC_PER_SEC;
  gw_flow_set_pne (self->flow, self->pne_id, NULL);

  if (!self->rekey)
    {
      /* Durable before the server hears of it: a crash from here on leaves
       * a pending row that the next session removes from the server. */
      e = entity_from_request (self, self->pne_id);
      if (!gw_registry_put_entity (self->core->registry, e, self->descriptor_json, TRUE, &error))
        {
          fail (self, CPNS_ERROR_INTERNAL, "The gateway could not record the device");
          return;
        }
      g_hash_table_add (self->core->pairing_ids, g_strdup (self->pne_id));
    }

  cpns_message_set_string (msg, "pne_id", self->pne_id);
  cpns_message_set_string (msg, "pn_id", self->core->pn_id);
  gw_peer_send (self->peer, msg);
  gw_flow_done (self->flow, NULL);

  self->state = PAIRING_REGISTERING;
  if (gw_server_session_get_state (self->core->server) == GW_SESSION_CONNECTED)
    {
      gw_flow_skip (self->flow, GW_STEP_1, "A secure session with the CPNS server exists");
      gw_flow_begin (self->flow, GW_STEP_3E);
      register_entity (self);
    }
  else
    {
      gw_flow_begin (self->flow, GW_STEP_1);
      gw_server_session_ensure (self->core->server, on_session_ready, gw_peer_ref (self->peer));
    }
}

static void
on_key_confirmed (CpnsMessage  *reply,
                  const GError *error,
                  gpointer      data)
{
  GwPeer *peer = data;
  GwPairingFlow *self = peer->pairing;
  g_autoptr(GwEntityInfo) e = NULL;

  if (self == NULL || gw_peer_is_closed (peer) || self->state != PAIRING_CONFIRMING)
    {
      gw_peer_unref (peer);
      return;
    }
  if (error)
    {
      CpnsErrorCode code = error->domain == CPNS_ERROR ? error->code : CPNS_ERROR_INTERNAL;

      if (code >= CPNS_ERROR_PIN_MISMATCH || code == CPNS_ERROR_UNAUTHORIZED)
        code = CPNS_ERROR_SERVER_UNREACHABLE;
      fail (self, code, "The server did not accept the key confirmation");
      gw_peer_unref (peer);
      return;
    }
  gw_clock_clear (self->core->clock, &self->fail_safe);
  e = gw_registry_get_entity (self->core->registry, self->pne_id);
  if (e)
    {
      e->state = GW_ENTITY_REGISTERED;
      g_free (e->key_id);
      e->key_id = g_strdup (self->key_id);
      g_free (e->key_mode);
      e->key_mode = g_strdup (self->core->key_mode);
      e->key_issued_at = self->issued_at;
      gw_registry_put_entity (self->core->registry, e, NULL, FALSE, NULL);
    }
  g_hash_table_remove (self->core->pairing_ids, self->pne_id);
  if (self->rekey)
    {
      /* Sessions made with the old key end with it. */
      g_hash_table_remove (self->core->rekey_ids, self->pne_id);
      gw_core_drop_pne_sessions (self->core, self->pne_id);
    }
  self->registered = FALSE;
  gw_flow_done (self->flow, self->rekey ? "New key assigned and confirmed; the old key is revoked"
                            : g_str_equal (self->core->key_mode, "server")
                              ? "Key assigned by the CPNS server and confirmed"
                              : "Key assigned by the gateway and confirmed");
  gw_core_emit_entity (self->core, self->pne_id);
  send_complete (self, self->pne_id);
  gw_peer_unref (peer);
}

static void
on_key_response (GwPairingFlow *self,
                 CpnsMessage   *msg)
{
  g_autoptr(CpnsMessage) body = NULL;
  g_autofree char *path = NULL;
  guint8 confirm[CPNS_MAC_LEN];
  guint8 expected[CPNS_MAC_LEN];

  if (g_strcmp0 (cpns_message_get_string (msg, "key_id"), self->key_id) != 0 ||
      !cpns_message_get_bytes (msg, "key_confirm", confirm, sizeof confirm))
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, "bad_request: field 'key_id' is not the key just assigned");
      return;
    }
  cpns_key_confirm (self->euk, self->pne_id, self->key_id, expected);
  /* The EUK's transit ends here (§6). */
  wipe_euk (self);
  if (!cpns_memeq_ct (confirm, sizeof confirm, expected, sizeof expected))
    {
      fail (self, CPNS_ERROR_AUTH_FAILED, "The device's key confirmation did not verify");
      return;
    }
  body = cpns_message_new ("api.key_confirm.request");
  cpns_message_set_string (body, "key_id", self->key_id);
  cpns_message_set_bytes (body, "key_confirm", confirm, sizeof confirm);
  path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", self->pne_id);
  self->state = PAIRING_CONFIRMING;
  gw_server_session_call (self->core->server, "POST", path, body, "api.key_confirm.response",
                          self->peer->cancellable, on_key_confirmed, gw_peer_ref (self->peer));
}

void
gw_pairing_flow_message (GwPairingFlow *self,
                         CpnsMessage   *msg)
{
  const char *kind = cpns_message_get_kind (msg);

  if (self->state == PAIRING_COMMIT_SENT && g_str_equal (kind, "pairing_nonce"))
    on_nonce (self, msg);
  else if (self->state == PAIRING_WAIT_ID && g_str_equal (kind, "pne_id_request"))
    on_id_request (self);
  else if (self->state == PAIRING_KEY_SENT && g_str_equal (kind, "key_assignment_response"))
    on_key_response (self, msg);
  else if (g_str_equal (kind, "pne_id_request") && self->pne_id)
    fail (self, CPNS_ERROR_CONFLICT, "conflict: a second pne_id_request on this connection");
  else
    {
      g_autofree char *what = g_strdup_printf ("conflict: unexpected %s during pairing", kind);
      fail (self, CPNS_ERROR_CONFLICT, what);
    }
}

GwPairingFlow *
gw_pairing_flow_new (GwPeer      *peer,
                     CpnsMessage *request)
{
  GwPairingFlow *self = g_new0 (GwPairingFlow, 1);
  GwCore *core = peer->core;
  g_autoptr(CpnsMessage) commit = cpns_message_new ("pairing_commit");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  guint8 commitment[32];

  self->peer = peer;
  self->core = core;
  self->entity = json_object_ref (cpns_message_get_json_object (request, "entity"));
  node = json_node_init_object (json_node_alloc (), self->entity);
  self->descriptor_json = json_to_string (node, FALSE);
  self->name = g_strdup (json_object_get_string_member (self->entity, "name"));
  self->entity_type = g_strdup (json_object_get_string_member (self->entity, "entity_type"));
  self->has_credentials = cpns_message_get_bool (request, "has_credentials");
  self->cred_pne_id = g_strdup (cpns_message_get_string (request, "pne_id"));
  self->cred_pn_id = g_strdup (cpns_message_get_string (request, "pn_id"));
  self->cred_key_id = g_strdup (cpns_message_get_string (request, "key_id"));
  self->rekey = self->has_credentials && self->cred_pne_id &&
                g_strcmp0 (self->cred_pn_id, core->pn_id) == 0 &&
                g_hash_table_contains (core->rekey_ids, self->cred_pne_id);
  self->flow = gw_flow_new (core, self->rekey ? GW_FLOW_REKEY : GW_FLOW_PAIRING,
                            self->rekey ? self->cred_pne_id : NULL, self->name);
  core->active_pairings++;
  gw_flow_begin (self->flow, GW_STEP_2);

  if (!gw_core_is_enrolled (core))
    {
      fail (self, CPNS_ERROR_SERVER_UNREACHABLE, "This gateway is not enrolled with a CPNS server yet");
      return self;
    }
  if (!cpns_tls_channel_export (peer->channel, CPNS_EXPORTER_PAIRING, self->exporter, &error))
    {
      fail (self, CPNS_ERROR_INTERNAL, "The TLS exporter failed");
      return self;
    }
  /* Commit before seeing n_p (§4.3). */
  cpns_random_nonce (self->n_g, sizeof self->n_g);
  cpns_pairing_commitment (self->exporter, self->n_g, commitment);
  cpns_message_set_bytes (commit, "commitment", commitment, sizeof commitment);
  gw_peer_send (peer, commit);
  self->state = PAIRING_COMMIT_SENT;
  expect_reply (self);
  return self;
}

void
gw_pairing_flow_peer_closed (GwPairingFlow *self,
                             const GError  *error)
{
  if (self->state == PAIRING_DONE || self->state == PAIRING_FAILED)
    return;
  self->state = PAIRING_FAILED;
  stop_timers (self);
  wipe_euk (self);
  if (self->prompt_id)
    gw_prompts_withdraw (self->core->prompts, self->prompt_id, GW_WITHDRAWN_PEER_LEFT);
  self->prompt_id = 0;
  {
    g_autoptr(GError) e = NULL;

    if (error && error->domain == CPNS_ERROR && error->code < CPNS_ERROR_PIN_MISMATCH)
      e = gw_error_new_advice (error->code, "The device ended the pairing");
    else
      e = gw_error_new_advice (CPNS_ERROR_CLOSED, "The device disconnected during pairing");
    gw_flow_fail (self->flow, e);
  }
  if (self->pne_id && (self->registered || g_hash_table_contains (self->core->pairing_ids, self->pne_id)))
    {
      if (self->registered)
        gw_pairing_rollback (self->core, self->pne_id);
      /* REGISTERING: on_registered rolls back when the answer comes. */
    }
  self->registered = FALSE;
  gw_discovery_note_failure (self->core->discovery);
}

void
gw_pairing_flow_free (GwPairingFlow *self)
{
  if (self == NULL)
    return;
  stop_timers (self);
  wipe_euk (self);
  if (self->state != PAIRING_DONE && self->core->active_pairings > 0)
    self->core->active_pairings--;
  g_clear_pointer (&self->flow, gw_flow_free);
  g_clear_pointer (&self->entity, json_object_unref);
  g_free (self->descriptor_json);
  g_free (self->name);
  g_free (self->entity_type);
  g_free (self->cred_pne_id);
  g_free (self->cred_pn_id);
  g_free (self->cred_key_id);
  g_free (self->pne_id);
  g_free (self->key_id);
  cpns_wipe (self->exporter, sizeof self->exporter);
  g_free (self);
}
