/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include <json-glib/json-glib.h>

#include "gw-event.h"
#include "gw-event-private.h"

typedef struct
{
  GwEvent        event;
  gatomicrefcount ref;
} GwEventReal;

G_DEFINE_BOXED_TYPE (GwEvent, gw_event, gw_event_ref, gw_event_unref)

GwEvent *
gw_event_new (GwEventType type)
{
  GwEventReal *real = g_new0 (GwEventReal, 1);

  g_atomic_ref_count_init (&real->ref);
  real->event.type = type;
  real->event.time = g_get_real_time ();
  return &real->event;
}

GwEvent *
gw_event_ref (GwEvent *event)
{
  GwEventReal *real = (GwEventReal *) event;

  g_return_val_if_fail (event != NULL, NULL);
  g_atomic_ref_count_inc (&real->ref);
  return event;
}

void
gw_session_info_free (GwSessionInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->server_url);
  g_free (info->server_name);
  g_free (info->user_id);
  g_free (info->pn_id);
  g_free (info->gateway_id);
  g_free (info->gateway_name);
  g_free (info->pin_sha256);
  g_clear_error (&info->last_error);
  g_free (info);
}

void
gw_discovered_info_free (GwDiscoveredInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->name);
  g_free (info->entity_type);
  g_free (info->address);
  g_free (info);
}

void
gw_step_info_free (GwStepInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->pne_id);
  g_free (info->pne_name);
  g_clear_error (&info->error);
  g_free (info->detail);
  g_free (info);
}

GwStepInfo *
gw_step_info_copy (const GwStepInfo *info)
{
  GwStepInfo *copy = g_new0 (GwStepInfo, 1);

  *copy = *info;
  copy->pne_id = g_strdup (info->pne_id);
  copy->pne_name = g_strdup (info->pne_name);
  copy->error = info->error ? g_error_copy (info->error) : NULL;
  copy->detail = g_strdup (info->detail);
  return copy;
}

void
gw_prompt_info_free (GwPromptInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->pne_id);
  g_free (info->pne_name);
  g_free (info->entity_type);
  g_free (info->manufacturer);
  g_free (info->model);
  g_free (info->address);
  g_free (info->reason);
  g_free (info->rule_id);
  g_free (info);
}

GwPromptInfo *
gw_prompt_info_copy (const GwPromptInfo *info)
{
  GwPromptInfo *copy = g_new0 (GwPromptInfo, 1);

  *copy = *info;
  copy->pne_id = g_strdup (info->pne_id);
  copy->pne_name = g_strdup (info->pne_name);
  copy->entity_type = g_strdup (info->entity_type);
  copy->manufacturer = g_strdup (info->manufacturer);
  copy->model = g_strdup (info->model);
  copy->address = g_strdup (info->address);
  copy->reason = g_strdup (info->reason);
  copy->rule_id = g_strdup (info->rule_id);
  return copy;
}

void
gw_entity_info_free (GwEntityInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->pne_id);
  g_free (info->name);
  g_free (info->entity_type);
  g_free (info->manufacturer);
  g_free (info->model);
  g_free (info->serial);
  g_strfreev (info->services);
  g_free (info->key_mode);
  g_free (info->key_id);
  g_free (info->session_id);
  g_free (info->address);
  g_free (info);
}

GwEntityInfo *
gw_entity_info_copy (const GwEntityInfo *info)
{
  GwEntityInfo *copy = g_new0 (GwEntityInfo, 1);

  *copy = *info;
  copy->pne_id = g_strdup (info->pne_id);
  copy->name = g_strdup (info->name);
  copy->entity_type = g_strdup (info->entity_type);
  copy->manufacturer = g_strdup (info->manufacturer);
  copy->model = g_strdup (info->model);
  copy->serial = g_strdup (info->serial);
  copy->services = g_strdupv (info->services);
  copy->key_mode = g_strdup (info->key_mode);
  copy->key_id = g_strdup (info->key_id);
  copy->session_id = g_strdup (info->session_id);
  copy->address = g_strdup (info->address);
  return copy;
}

void
gw_event_unref (GwEvent *event)
{
  GwEventReal *real = (GwEventReal *) event;

  g_return_if_fail (event != NULL);
  if (!g_atomic_ref_count_dec (&real->ref))
    return;
  gw_session_info_free (event->session);
  g_free (event->pairing_window);
  gw_discovered_info_free (event->discovered);
  gw_step_info_free (event->step);
  gw_prompt_info_free (event->prompt);
  gw_entity_info_free (event->entity);
  g_clear_error (&event->error);
  g_free (real);
}

const char *
gw_event_type_to_string (GwEventType type)
{
  static const char *names[] = {
    "session", "enrollment", "pairing_window", "discovered",
    "discovered_expired", "flow_step", "prompt_raised", "prompt_withdrawn",
    "entity_changed", "entity_removed", "error", "stopped",
  };

  if ((guint) type < G_N_ELEMENTS (names))
    return names[type];
  return "unknown";
}

const char *
gw_step_to_string (GwStep step)
{
  static const char *names[] = {
    "1", "2", "3a", "3b-d", "3e", "4a", "4b", "4c", "4d-f", "4g", "5a", "5b",
  };

  if ((guint) step < G_N_ELEMENTS (names))
    return names[step];
  return "unknown";
}

const char *
gw_step_outcome_to_string (GwStepOutcome outcome)
{
  static const char *names[] = { "running", "done", "failed", "skipped" };

  if ((guint) outcome < G_N_ELEMENTS (names))
    return names[outcome];
  return "unknown";
}

const char *
gw_session_state_to_string (GwSessionState state)
{
  static const char *names[] = {
    "not_enrolled", "disconnected", "connecting", "connected", "retrying",
  };

  if ((guint) state < G_N_ELEMENTS (names))
    return names[state];
  return "unknown";
}

const char *
gw_entity_state_to_string (GwEntityState state)
{
  static const char *names[] = {
    "pairing", "registered", "connecting", "waiting", "connected",
    "disconnected", "revoked", "blocked",
  };

  if ((guint) state < G_N_ELEMENTS (names))
    return names[state];
  return "unknown";
}

const char *
gw_tls_failure_to_string (GwTlsFailureClass failure)
{
  static const char *names[] = {
    NULL, "expired", "not_yet_valid", "wrong_host", "unknown_ca", "pin_mismatch", "handshake",
  };

  if ((guint) failure < G_N_ELEMENTS (names))
    return names[failure];
  return "handshake";
}

const char *
gw_flow_kind_to_string (GwFlowKind kind)
{
  static const char *names[] = { "pairing", "connection", "resume", "rekey", "remove" };

  if ((guint) kind < G_N_ELEMENTS (names))
    return names[kind];
  return "unknown";
}

const char *
gw_prompt_kind_to_string (GwPromptKind kind)
{
  return kind == GW_PROMPT_PAIRING_CODE ? "pairing_code" : "approval";
}

const char *
gw_withdraw_reason_to_string (GwWithdrawReason reason)
{
  static const char *names[] = { "answered", "expired", "peer_left", "cancelled" };

  if ((guint) reason < G_N_ELEMENTS (names))
    return names[reason];
  return "unknown";
}

static void
add_string (JsonBuilder *b,
            const char  *name,
            const char  *value)
{
  if (value == NULL)
    return;
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_int (JsonBuilder *b,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* @session, when given, supplies the failure class of a TLS error:
 * "class", and the refused certificate's dates when known. */
static void
add_error (JsonBuilder         *b,
           const char          *name,
           const GError        *error,
           const GwSessionInfo *session)
{
  const char *code = NULL;

  if (error == NULL)
    return;
  if (error->domain == CPNS_ERROR)
    code = cpns_error_code_to_string (error->code);
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  add_string (b, "code", code ? code : "internal");
  add_string (b, "message", error->message);
  if (session && session->tls_failure != GW_TLS_FAILURE_NONE &&
      (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED) ||
       g_error_matches (error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH)))
    {
      add_string (b, "class", gw_tls_failure_to_string (session->tls_failure));
      if (session->cert_not_before)
        add_int (b, "cert_not_before", session->cert_not_before);
      if (session->cert_not_after)
        add_int (b, "cert_not_after", session->cert_not_after);
    }
  json_builder_end_object (b);
}

char *
gw_event_to_json (const GwEvent *event)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (event != NULL, NULL);

  json_builder_begin_object (b);
  add_string (b, "type", gw_event_type_to_string (event->type));
  add_int (b, "time", event->time);

  if (event->session)
    {
      const GwSessionInfo *s = event->session;

      json_builder_set_member_name (b, "session");
      json_builder_begin_object (b);
      add_string (b, "state", gw_session_state_to_string (s->state));
      add_string (b, "server_url", s->server_url);
      add_string (b, "user_id", s->user_id);
      add_string (b, "pn_id", s->pn_id);
      add_string (b, "gateway_id", s->gateway_id);
      add_string (b, "gateway_name", s->gateway_name);
      add_int (b, "expires_at", s->expires_at);
      if (s->state == GW_SESSION_RETRYING)
        add_int (b, "retry_in_s", s->retry_in_s);
      add_string (b, "pin_sha256", s->pin_sha256);
      add_error (b, "last_error", s->last_error, s);
      json_builder_end_object (b);
    }
  if (event->pairing_window)
    {
      const GwPairingWindowInfo *w = event->pairing_window;

      json_builder_set_member_name (b, "pairing_window");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "open");
      json_builder_add_boolean_value (b, w->open);
      add_int (b, "closes_at", w->closes_at);
      add_int (b, "remaining_s", w->remaining_s);
      add_int (b, "failed_pairings", w->failed_pairings);
      json_builder_end_object (b);
    }
  if (event->discovered)
    {
      const GwDiscoveredInfo *d = event->discovered;

      json_builder_set_member_name (b, "discovered");
      json_builder_begin_object (b);
      add_string (b, "id", d->id);
      add_string (b, "name", d->name);
      add_string (b, "entity_type", d->entity_type);
      add_string (b, "address", d->address);
      add_int (b, "last_heard", d->last_heard);
      json_builder_end_object (b);
    }
  if (event->step)
    {
      const GwStepInfo *s = event->step;

      json_builder_set_member_name (b, "step");
      json_builder_begin_object (b);
      add_int (b, "flow_id", (gint64) s->flow_id);
      add_string (b, "flow", gw_flow_kind_to_string (s->flow_kind));
      add_string (b, "pne_id", s->pne_id);
      add_string (b, "pne_name", s->pne_name);
      add_string (b, "step", gw_step_to_string (s->step));
      add_string (b, "outcome", gw_step_outcome_to_string (s->outcome));
      add_int (b, "started_at", s->started_at);
      add_int (b, "finished_at", s->finished_at);
      add_error (b, "error", s->error, NULL);
      add_string (b, "detail", s->detail);
      json_builder_end_object (b);
    }
  if (event->prompt)
    {
      const GwPromptInfo *p = event->prompt;

      json_builder_set_member_name (b, "prompt");
      json_builder_begin_object (b);
      add_int (b, "id", (gint64) p->id);
      add_string (b, "kind", gw_prompt_kind_to_string (p->kind));
      add_string (b, "pne_id", p->pne_id);
      add_string (b, "pne_name", p->pne_name);
      add_string (b, "entity_type", p->entity_type);
      add_string (b, "address", p->address);
      if (p->kind == GW_PROMPT_PAIRING_CODE)
        {
          g_autofree char *code = g_strdup_printf ("%06u", p->code);
          add_string (b, "code", code);
        }
      add_string (b, "reason", p->reason);
      add_string (b, "rule_id", p->rule_id);
      json_builder_set_member_name (b, "first_time");
      json_builder_add_boolean_value (b, p->first_time);
      add_int (b, "deadline", p->deadline);
      json_builder_end_object (b);
      if (event->type == GW_EVENT_PROMPT_WITHDRAWN)
        add_string (b, "withdraw_reason",
                    gw_withdraw_reason_to_string (event->withdraw_reason));
    }
  if (event->entity)
    {
      const GwEntityInfo *e = event->entity;

      json_builder_set_member_name (b, "entity");
      json_builder_begin_object (b);
      add_string (b, "pne_id", e->pne_id);
      add_string (b, "name", e->name);
      add_string (b, "entity_type", e->entity_type);
      add_string (b, "manufacturer", e->manufacturer);
      add_string (b, "model", e->model);
      add_string (b, "serial", e->serial);
      if (e->services)
        {
          json_builder_set_member_name (b, "services");
          json_builder_begin_array (b);
          for (guint i = 0; e->services[i]; i++)
            json_builder_add_string_value (b, e->services[i]);
          json_builder_end_array (b);
        }
      add_string (b, "state", gw_entity_state_to_string (e->state));
      add_string (b, "key_mode", e->key_mode);
      add_string (b, "key_id", e->key_id);
      add_int (b, "key_issued_at", e->key_issued_at);
      /* The session id is the PSK identity, not the key: fine to show. */
      add_string (b, "session_id", e->session_id);
      add_int (b, "session_expires_at", e->session_expires_at);
      add_int (b, "last_seen", e->last_seen);
      add_int (b, "registered_at", e->registered_at);
      json_builder_set_member_name (b, "blocked");
      json_builder_add_boolean_value (b, e->blocked);
      add_string (b, "address", e->address);
      json_builder_end_object (b);
    }
  add_error (b, "error", event->error, event->session);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}
