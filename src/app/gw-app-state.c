/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-activity-item.h"
#include "gw-app-state.h"
#include "gw-discovered-item.h"
#include "gw-error-text.h"
#include "gw-format.h"

#define MAX_ACTIVITY 20000

struct _GwAppState
{
  GObject        parent_instance;

  GListStore    *entities;
  GHashTable    *entity_by_id;     /* pne_id → GwEntityItem (borrowed from the store or pending) */
  GPtrArray     *pending;          /* new GwEntityItems not yet in the store */
  guint          flush_id;
  GListStore    *discovered;
  GListStore    *prompts;
  GListStore    *activity;
  GHashTable    *journeys;         /* pne_id → GwFlowItem */
  GHashTable    *flows;            /* flow_id (guint64 *) → GwFlowItem */
  GwFlowItem    *active_flow;

  GwSessionInfo  session;
  GwSessionInfo  enrollment;       /* the session as the last failed enrollment left it */
  gint64         retry_at_us;      /* RETRYING: when the next attempt is due */
  guint          retry_in;

  gboolean       pairing_open;
  gint64         pairing_closes_at;
  guint          pairing_remaining;

  guint          n_connected;
  guint          n_waiting;

  guint          tick_id;
  guint          slow_tick_id;
};

G_DEFINE_FINAL_TYPE (GwAppState, gw_app_state, G_TYPE_OBJECT)

enum {
  SESSION_CHANGED,
  PAIRING_WINDOW_CHANGED,
  COUNTS_CHANGED,
  PROMPT_RAISED,
  PROMPT_WITHDRAWN,
  ACTIVE_FLOW_CHANGED,
  ENROLLMENT_DONE,
  ERROR,
  TOAST,
  COMMAND,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
session_info_clear (GwSessionInfo *s)
{
  g_free (s->server_url);
  g_free (s->server_name);
  g_free (s->user_id);
  g_free (s->pn_id);
  g_free (s->gateway_id);
  g_free (s->gateway_name);
  g_free (s->pin_sha256);
  g_clear_error (&s->last_error);
  memset (s, 0, sizeof *s);
}

static void
session_info_copy (GwSessionInfo       *dst,
                   const GwSessionInfo *src)
{
  session_info_clear (dst);
  *dst = *src;
  dst->server_url = g_strdup (src->server_url);
  dst->server_name = g_strdup (src->server_name);
  dst->user_id = g_strdup (src->user_id);
  dst->pn_id = g_strdup (src->pn_id);
  dst->gateway_id = g_strdup (src->gateway_id);
  dst->gateway_name = g_strdup (src->gateway_name);
  dst->pin_sha256 = g_strdup (src->pin_sha256);
  dst->last_error = src->last_error ? g_error_copy (src->last_error) : NULL;
}

static void
gw_app_state_dispose (GObject *object)
{
  GwAppState *self = GW_APP_STATE (object);

  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->slow_tick_id, g_source_remove);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->entity_by_id, g_hash_table_unref);
  g_clear_pointer (&self->journeys, g_hash_table_unref);
  g_clear_pointer (&self->flows, g_hash_table_unref);
  g_clear_object (&self->active_flow);
  g_clear_object (&self->entities);
  g_clear_object (&self->discovered);
  g_clear_object (&self->prompts);
  g_clear_object (&self->activity);
  G_OBJECT_CLASS (gw_app_state_parent_class)->dispose (object);
}

static void
gw_app_state_finalize (GObject *object)
{
  GwAppState *self = GW_APP_STATE (object);

  session_info_clear (&self->session);
  session_info_clear (&self->enrollment);
  G_OBJECT_CLASS (gw_app_state_parent_class)->finalize (object);
}

static void
gw_app_state_class_init (GwAppStateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType t = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = gw_app_state_dispose;
  object_class->finalize = gw_app_state_finalize;

  signals[SESSION_CHANGED] = g_signal_new ("session-changed", t, G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[PAIRING_WINDOW_CHANGED] = g_signal_new ("pairing-window-changed", t, G_SIGNAL_RUN_LAST,
                                                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[COUNTS_CHANGED] = g_signal_new ("counts-changed", t, G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[PROMPT_RAISED] = g_signal_new ("prompt-raised", t, G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, GW_TYPE_PROMPT_ITEM);
  signals[PROMPT_WITHDRAWN] = g_signal_new ("prompt-withdrawn", t, G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, GW_TYPE_PROMPT_ITEM);
  signals[ACTIVE_FLOW_CHANGED] = g_signal_new ("active-flow-changed", t, G_SIGNAL_RUN_LAST,
                                               0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* The error is NULL on success. */
  signals[ENROLLMENT_DONE] = g_signal_new ("enrollment-done", t, G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                           G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[ERROR] = g_signal_new ("error", t, G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                 G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  /* A short translated sentence for a toast. */
  signals[TOAST] = g_signal_new ("toast", t, G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[COMMAND] = g_signal_new ("command", t, G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                                   GW_TYPE_COMMAND | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
gw_app_state_init (GwAppState *self)
{
  self->entities = g_list_store_new (GW_TYPE_ENTITY_ITEM);
  self->entity_by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->pending = g_ptr_array_new_with_free_func (g_object_unref);
  self->discovered = g_list_store_new (GW_TYPE_DISCOVERED_ITEM);
  self->prompts = g_list_store_new (GW_TYPE_PROMPT_ITEM);
  self->activity = g_list_store_new (GW_TYPE_ACTIVITY_ITEM);
  self->journeys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->flows = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->session.state = GW_SESSION_NOT_ENROLLED;
}

GwAppState *
gw_app_state_new (void)
{
  return g_object_new (GW_TYPE_APP_STATE, NULL);
}

/* ---- activity ---------------------------------------------------------- */

static void
log_activity (GwAppState *self,
              gint64      time_us,
              const char *kind,
              const char *pne_id,
              const char *device,
              const char *what,
              const char *outcome,
              gboolean    problem,
              const char *detail,
              const char *code)
{
  g_autoptr(GwActivityItem) item = NULL;
  guint n;

  item = gw_activity_item_new (time_us ? time_us : g_get_real_time (), kind, pne_id,
                               device, what, outcome, problem, detail, code);
  g_list_store_insert (self->activity, 0, item);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->activity));
  if (n > MAX_ACTIVITY)
    g_list_store_splice (self->activity, MAX_ACTIVITY, n - MAX_ACTIVITY, NULL, 0);
}

static const char *
error_code_name (const GError *error)
{
  if (error == NULL || error->domain != CPNS_ERROR)
    return NULL;
  return cpns_error_code_to_string ((CpnsErrorCode) error->code);
}

/* ---- timers ------------------------------------------------------------ */

static gboolean needs_tick (GwAppState *self);

static gboolean
on_tick (gpointer data)
{
  GwAppState *self = data;
  gint64 now = g_get_real_time ();
  guint n;

  n = g_list_model_get_n_items (G_LIST_MODEL (self->prompts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwPromptItem) p = g_list_model_get_item (G_LIST_MODEL (self->prompts), i);
      gw_prompt_item_tick (p, now);
    }
  n = g_list_model_get_n_items (G_LIST_MODEL (self->discovered));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwDiscoveredItem) d = g_list_model_get_item (G_LIST_MODEL (self->discovered), i);
      gw_discovered_item_tick (d, now);
    }
  if (self->pairing_open)
    {
      gint64 left = (self->pairing_closes_at - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
      guint remaining = (guint) CLAMP (left, 0, G_MAXINT);

      if (remaining != self->pairing_remaining)
        {
          self->pairing_remaining = remaining;
          g_signal_emit (self, signals[PAIRING_WINDOW_CHANGED], 0);
        }
    }
  if (self->session.state == GW_SESSION_RETRYING)
    {
      gint64 left = (self->retry_at_us - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
      guint retry_in = (guint) CLAMP (left, 0, G_MAXINT);

      if (retry_in != self->retry_in)
        {
          self->retry_in = retry_in;
          g_signal_emit (self, signals[SESSION_CHANGED], 0);
        }
    }
  if (!needs_tick (self))
    {
      self->tick_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
needs_tick (GwAppState *self)
{
  return self->pairing_open ||
         self->session.state == GW_SESSION_RETRYING ||
         g_list_model_get_n_items (G_LIST_MODEL (self->discovered)) > 0 ||
         self->n_waiting > 0;
}

static void
ensure_tick (GwAppState *self)
{
  if (self->tick_id == 0 && needs_tick (self))
    {
      self->tick_id = g_timeout_add_seconds (1, on_tick, self);
      g_source_set_name_by_id (self->tick_id, "[gw] app state tick");
    }
}

static gboolean
on_slow_tick (gpointer data)
{
  GwAppState *self = data;
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->entities));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwEntityItem) e = g_list_model_get_item (G_LIST_MODEL (self->entities), i);
      gw_entity_item_refresh_times (e, now_s);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- counts ------------------------------------------------------------ */

static void
recount_waiting (GwAppState *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->prompts));
  guint waiting = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwPromptItem) p = g_list_model_get_item (G_LIST_MODEL (self->prompts), i);
      if (gw_prompt_item_get_status (p) == GW_PROMPT_STATUS_PENDING)
        waiting++;
    }
  if (waiting != self->n_waiting)
    {
      self->n_waiting = waiting;
      g_signal_emit (self, signals[COUNTS_CHANGED], 0);
    }
}

/* ---- events ------------------------------------------------------------ */

static const char *
session_state_words (GwSessionState state)
{
  switch (state)
    {
    case GW_SESSION_NOT_ENROLLED: return _("Not enrolled");
    case GW_SESSION_DISCONNECTED: return _("Disconnected");
    case GW_SESSION_CONNECTING: return _("Connecting");
    case GW_SESSION_CONNECTED: return _("Connected");
    case GW_SESSION_RETRYING: return _("Retrying");
    default: return "";
    }
}

static void
handle_session (GwAppState    *self,
                const GwEvent *event)
{
  GwSessionState old = self->session.state;
  const GwSessionInfo *s = event->session;

  if (s == NULL)
    return;
  session_info_copy (&self->session, s);
  if (s->state == GW_SESSION_RETRYING)
    {
      self->retry_at_us = g_get_real_time () + (gint64) s->retry_in_s * G_USEC_PER_SEC;
      self->retry_in = s->retry_in_s;
    }
  else
    self->retry_in = 0;
  ensure_tick (self);

  if (old != s->state)
    {
      g_autofree char *text = s->last_error ? gw_error_text_for_session (s->last_error, s) : NULL;

      log_activity (self, event->time, "session", NULL, s->server_name ? s->server_name : _("Server"),
                    _("Server session"), session_state_words (s->state),
                    s->last_error != NULL, text, error_code_name (s->last_error));
    }
  if (old != GW_SESSION_CONNECTED && s->state == GW_SESSION_CONNECTED && old != GW_SESSION_NOT_ENROLLED)
    {
      g_autofree char *text = g_strdup_printf (_("Connected to %s"), s->server_name ? s->server_name : "");
      g_signal_emit (self, signals[TOAST], 0, text);
    }
  g_signal_emit (self, signals[SESSION_CHANGED], 0);
}

static void
handle_enrollment (GwAppState    *self,
                   const GwEvent *event)
{
  if (event->error != NULL)
    {
      g_autofree char *text = NULL;

      if (event->session)
        session_info_copy (&self->enrollment, event->session);
      else
        session_info_clear (&self->enrollment);
      text = gw_error_text_for_session (event->error, &self->enrollment);
      log_activity (self, event->time, "enrollment", NULL, _("This gateway"), _("Enrollment"),
                    _("Failed"), TRUE, text, error_code_name (event->error));
      g_signal_emit (self, signals[ENROLLMENT_DONE], 0, event->error);
      return;
    }
  log_activity (self, event->time, "enrollment", NULL, _("This gateway"), _("Enrollment"),
                _("Done"), FALSE, NULL, NULL);
  handle_session (self, event);
  g_signal_emit (self, signals[ENROLLMENT_DONE], 0, NULL);

  /* Only this app's own request enrolls (first-run page, --enroll):
   * the person just asked to join the network, so joining it is their
   * trigger I of step 1. Later starts stay as they are: the session
   * opens on Connect or when a device needs the server (trigger II). */
  if (self->session.state == GW_SESSION_DISCONNECTED)
    gw_app_state_send (self, gw_command_new (GW_COMMAND_CONNECT));
}

static void
handle_pairing_window (GwAppState    *self,
                       const GwEvent *event)
{
  const GwPairingWindowInfo *w = event->pairing_window;
  gboolean was_open = self->pairing_open;

  if (w == NULL)
    return;
  self->pairing_open = w->open;
  self->pairing_closes_at = w->open ? w->closes_at : 0;
  self->pairing_remaining = w->open ? w->remaining_s : 0;
  if (was_open != w->open)
    log_activity (self, event->time, "pairing_window", NULL, _("This gateway"), _("Pairing window"),
                  w->open ? _("Open") : _("Closed"), FALSE, NULL, NULL);
  ensure_tick (self);
  g_signal_emit (self, signals[PAIRING_WINDOW_CHANGED], 0);
}

static guint
find_discovered (GwAppState *self,
                 const char *id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->discovered));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwDiscoveredItem) d = g_list_model_get_item (G_LIST_MODEL (self->discovered), i);
      if (g_strcmp0 (gw_discovered_item_get_id (d), id) == 0)
        return i;
    }
  return G_MAXUINT;
}

static void
handle_discovered (GwAppState    *self,
                   const GwEvent *event,
                   gboolean       expired)
{
  const GwDiscoveredInfo *d = event->discovered;
  guint pos;

  if (d == NULL || d->id == NULL)
    return;
  pos = find_discovered (self, d->id);
  if (expired)
    {
      if (pos != G_MAXUINT)
        g_list_store_remove (self->discovered, pos);
      return;
    }
  if (pos != G_MAXUINT)
    {
      g_autoptr(GwDiscoveredItem) item = g_list_model_get_item (G_LIST_MODEL (self->discovered), pos);
      gw_discovered_item_update (item, d);
    }
  else
    {
      g_autoptr(GwDiscoveredItem) item = gw_discovered_item_new (d);
      g_list_store_append (self->discovered, item);
    }
  ensure_tick (self);
}

static GwFlowItem *
journey_for (GwAppState *self,
             const char *pne_id)
{
  GwFlowItem *j = g_hash_table_lookup (self->journeys, pne_id);

  if (j == NULL)
    {
      j = gw_flow_item_new (pne_id);
      g_hash_table_insert (self->journeys, g_strdup (pne_id), j);
    }
  return j;
}

static void
set_active_flow (GwAppState *self,
                 GwFlowItem *flow)
{
  if (g_set_object (&self->active_flow, flow))
    g_signal_emit (self, signals[ACTIVE_FLOW_CHANGED], 0);
}

static void
handle_flow_step (GwAppState    *self,
                  const GwEvent *event)
{
  const GwStepInfo *st = event->step;
  GwFlowItem *flow;
  g_autofree char *what = NULL;
  const char *device;

  if (st == NULL || (guint) st->step >= GW_STEP_LAST)
    return;

  flow = g_hash_table_lookup (self->flows, &st->flow_id);
  if (st->pne_id != NULL)
    {
      GwFlowItem *journey = journey_for (self, st->pne_id);

      if (flow != NULL && flow != journey)
        {
          /* The pairing flow just learned its device's ID. */
          gw_flow_item_merge (journey, flow);
          if (self->active_flow == flow)
            set_active_flow (self, journey);
        }
      if (flow != journey)
        {
          gint64 *key = g_new (gint64, 1);

          *key = (gint64) st->flow_id;
          g_hash_table_replace (self->flows, key, g_object_ref (journey));
        }
      flow = journey;
    }
  else if (flow == NULL)
    {
      gint64 *key = g_new (gint64, 1);

      *key = (gint64) st->flow_id;
      flow = gw_flow_item_new (NULL);
      g_hash_table_insert (self->flows, key, flow);
    }
  gw_flow_item_apply (flow, st);

  /* Only live steps move the "in progress" view, not the history replay. */
  if (st->finished_at == 0 || event->time - st->finished_at < 10 * G_USEC_PER_SEC)
    set_active_flow (self, flow);

  device = st->pne_name ? st->pne_name : (st->pne_id ? st->pne_id : _("New device"));
  /* Translators: "Step 4d–f: Policy decision" */
  what = g_strdup_printf (_("Step %s: %s"), gw_format_step_short (st->step), gw_format_step_title (st->step));
  log_activity (self, event->time ? event->time : st->started_at, "flow_step", st->pne_id, device, what,
                gw_format_outcome (st->outcome), st->outcome == GW_STEP_FAILED,
                st->error ? gw_error_text (st->error) : st->detail,
                error_code_name (st->error));

  if (st->outcome == GW_STEP_FAILED && event->time - st->finished_at < 10 * G_USEC_PER_SEC)
    {
      /* Translators: "“Kitchen Sensor”: Policy decision failed" */
      g_autofree char *text = g_strdup_printf (_("“%s”: %s failed"), device,
                                               gw_format_step_title (st->step));
      g_signal_emit (self, signals[TOAST], 0, text);
    }
  else if (st->outcome == GW_STEP_DONE && st->step == GW_STEP_5B &&
           event->time - st->finished_at < 10 * G_USEC_PER_SEC)
    {
      g_autofree char *text = g_strdup_printf (_("“%s” is connected"), device);
      g_signal_emit (self, signals[TOAST], 0, text);
    }
}

static void
handle_prompt_raised (GwAppState    *self,
                      const GwEvent *event)
{
  g_autoptr(GwPromptItem) item = NULL;
  const GwPromptInfo *p = event->prompt;

  if (p == NULL || gw_app_state_lookup_prompt (self, p->id) != NULL)
    return;
  item = gw_prompt_item_new (p);
  g_list_store_insert (self->prompts, 0, item);
  log_activity (self, event->time, "prompt", p->pne_id, p->pne_name,
                p->kind == GW_PROMPT_PAIRING_CODE ? _("Pairing code to confirm") : _("Connection to approve"),
                _("Waiting for you"), FALSE, p->reason, NULL);
  recount_waiting (self);
  ensure_tick (self);
  g_signal_emit (self, signals[PROMPT_RAISED], 0, item);
}

static void
handle_prompt_withdrawn (GwAppState    *self,
                         const GwEvent *event)
{
  GwPromptItem *item;
  const GwPromptInfo *p = event->prompt;
  GwPromptStatus status;
  const char *outcome;
  guint pos;

  if (p == NULL || (item = gw_app_state_lookup_prompt (self, p->id)) == NULL)
    return;
  g_object_ref (item);

  switch (event->withdraw_reason)
    {
    case GW_WITHDRAWN_EXPIRED: status = GW_PROMPT_STATUS_EXPIRED; outcome = _("Expired"); break;
    case GW_WITHDRAWN_PEER_LEFT: status = GW_PROMPT_STATUS_PEER_LEFT; outcome = _("Device left"); break;
    case GW_WITHDRAWN_CANCELLED: status = GW_PROMPT_STATUS_CANCELLED; outcome = _("Cancelled"); break;
    case GW_WITHDRAWN_ANSWERED:
    default: status = GW_PROMPT_STATUS_ANSWERED; outcome = _("Answered"); break;
    }
  gw_prompt_item_set_status (item, status);
  log_activity (self, event->time, "prompt", p->pne_id, p->pne_name,
                p->kind == GW_PROMPT_PAIRING_CODE ? _("Pairing code to confirm") : _("Connection to approve"),
                outcome, status != GW_PROMPT_STATUS_ANSWERED, gw_prompt_item_get_status_text (item), NULL);

  /* An expired prompt stays listed, saying so, until dismissed. */
  if (status != GW_PROMPT_STATUS_EXPIRED &&
      g_list_store_find (self->prompts, item, &pos))
    g_list_store_remove (self->prompts, pos);
  if (status == GW_PROMPT_STATUS_PEER_LEFT || status == GW_PROMPT_STATUS_EXPIRED)
    g_signal_emit (self, signals[TOAST], 0, gw_prompt_item_get_status_text (item));
  recount_waiting (self);
  g_signal_emit (self, signals[PROMPT_WITHDRAWN], 0, item);
  g_object_unref (item);
}

static void
count_entity (GwAppState    *self,
              GwEntityState  state,
              int            delta)
{
  if (state == GW_ENTITY_CONNECTED)
    self->n_connected = (guint) ((int) self->n_connected + delta);
}

void
gw_app_state_flush (GwAppState *self)
{
  g_return_if_fail (GW_IS_APP_STATE (self));

  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (self->pending->len == 0)
    return;
  /* One items-changed for a burst: the sorted and filtered views above the
   * store then do their work once, not once per device. */
  g_list_store_splice (self->entities,
                       g_list_model_get_n_items (G_LIST_MODEL (self->entities)), 0,
                       self->pending->pdata, self->pending->len);
  g_ptr_array_set_size (self->pending, 0);
  g_signal_emit (self, signals[COUNTS_CHANGED], 0);
}

static gboolean
on_flush (gpointer data)
{
  GwAppState *self = data;

  self->flush_id = 0;
  gw_app_state_flush (self);
  return G_SOURCE_REMOVE;
}

static void
handle_entity_changed (GwAppState    *self,
                       const GwEvent *event)
{
  const GwEntityInfo *e = event->entity;
  GwEntityItem *item;

  if (e == NULL || e->pne_id == NULL)
    return;
  item = g_hash_table_lookup (self->entity_by_id, e->pne_id);
  if (item != NULL)
    {
      GwEntityState old = gw_entity_item_get_state (item);

      gw_entity_item_update (item, e);
      if (old == e->state)
        return;
      count_entity (self, old, -1);
      count_entity (self, e->state, +1);
    }
  else
    {
      GwEntityItem *new_item = gw_entity_item_new (e);

      g_ptr_array_add (self->pending, new_item);
      g_hash_table_insert (self->entity_by_id,
                           (gpointer) gw_entity_item_get_pne_id (new_item), new_item);
      count_entity (self, e->state, +1);
      if (self->slow_tick_id == 0)
        {
          self->slow_tick_id = g_timeout_add_seconds (60, on_slow_tick, self);
          g_source_set_name_by_id (self->slow_tick_id, "[gw] entity times");
        }
      /* Events of a burst are all dispatched before this idle runs. */
      if (self->flush_id == 0)
        {
          self->flush_id = g_idle_add_full (G_PRIORITY_HIGH_IDLE, on_flush, self, NULL);
          g_source_set_name_by_id (self->flush_id, "[gw] add entities");
        }
      return;
    }
  g_signal_emit (self, signals[COUNTS_CHANGED], 0);
}

static void
handle_entity_removed (GwAppState    *self,
                       const GwEvent *event)
{
  const GwEntityInfo *e = event->entity;
  GwEntityItem *item;
  guint pos;

  if (e == NULL || e->pne_id == NULL)
    return;
  item = g_hash_table_lookup (self->entity_by_id, e->pne_id);
  if (item == NULL)
    return;
  gw_app_state_flush (self);
  count_entity (self, gw_entity_item_get_state (item), -1);
  log_activity (self, event->time, "entity_removed", e->pne_id, gw_entity_item_get_name (item),
                _("Removed from the network"), _("Done"), FALSE, NULL, NULL);
  g_hash_table_remove (self->entity_by_id, e->pne_id);
  if (g_list_store_find (self->entities, item, &pos))
    g_list_store_remove (self->entities, pos);
  g_signal_emit (self, signals[COUNTS_CHANGED], 0);
}

static void
handle_error (GwAppState    *self,
              const GwEvent *event)
{
  const char *device = NULL;
  const char *pne_id = NULL;

  if (event->error == NULL)
    return;
  if (event->entity != NULL)
    {
      pne_id = event->entity->pne_id;
      device = event->entity->name;
    }
  else if (event->step != NULL)
    {
      pne_id = event->step->pne_id;
      device = event->step->pne_name;
    }
  log_activity (self, event->time, "error", pne_id, device ? device : _("This gateway"),
                _("Error"), _("Failed"), TRUE, gw_error_text (event->error),
                error_code_name (event->error));
  g_signal_emit (self, signals[ERROR], 0, event->error);
}

void
gw_app_state_handle_event (GwAppState    *self,
                           const GwEvent *event)
{
  g_return_if_fail (GW_IS_APP_STATE (self));
  g_return_if_fail (event != NULL);

  switch (event->type)
    {
    case GW_EVENT_SESSION: handle_session (self, event); break;
    case GW_EVENT_ENROLLMENT: handle_enrollment (self, event); break;
    case GW_EVENT_PAIRING_WINDOW: handle_pairing_window (self, event); break;
    case GW_EVENT_DISCOVERED: handle_discovered (self, event, FALSE); break;
    case GW_EVENT_DISCOVERED_EXPIRED: handle_discovered (self, event, TRUE); break;
    case GW_EVENT_FLOW_STEP: handle_flow_step (self, event); break;
    case GW_EVENT_PROMPT_RAISED: handle_prompt_raised (self, event); break;
    case GW_EVENT_PROMPT_WITHDRAWN: handle_prompt_withdrawn (self, event); break;
    case GW_EVENT_ENTITY_CHANGED: handle_entity_changed (self, event); break;
    case GW_EVENT_ENTITY_REMOVED: handle_entity_removed (self, event); break;
    case GW_EVENT_ERROR: handle_error (self, event); break;
    case GW_EVENT_STOPPED:
    default:
      break;
    }
}

/* ---- commands ---------------------------------------------------------- */

void
gw_app_state_send (GwAppState *self,
                   GwCommand  *command)
{
  g_return_if_fail (GW_IS_APP_STATE (self));
  g_return_if_fail (command != NULL);

  g_signal_emit (self, signals[COMMAND], 0, command);
  gw_command_unref (command);
}

void
gw_app_state_answer_prompt (GwAppState     *self,
                            guint64         prompt_id,
                            GwPromptAnswer  answer)
{
  GwCommand *cmd;
  GwPromptItem *item;

  g_return_if_fail (GW_IS_APP_STATE (self));

  item = gw_app_state_lookup_prompt (self, prompt_id);
  if (item != NULL && gw_prompt_item_get_status (item) != GW_PROMPT_STATUS_PENDING)
    return;
  cmd = gw_command_new (GW_COMMAND_ANSWER_PROMPT);
  cmd->prompt_id = prompt_id;
  cmd->answer = answer;
  gw_app_state_send (self, cmd);
}

void
gw_app_state_dismiss_prompt (GwAppState   *self,
                             GwPromptItem *prompt)
{
  guint pos;

  g_return_if_fail (GW_IS_APP_STATE (self));

  if (gw_prompt_item_get_status (prompt) == GW_PROMPT_STATUS_PENDING)
    return;
  if (g_list_store_find (self->prompts, prompt, &pos))
    g_list_store_remove (self->prompts, pos);
}

/* ---- getters ----------------------------------------------------------- */

GListModel *gw_app_state_get_entities (GwAppState *self) { return G_LIST_MODEL (self->entities); }
GListModel *gw_app_state_get_discovered (GwAppState *self) { return G_LIST_MODEL (self->discovered); }
GListModel *gw_app_state_get_prompts (GwAppState *self) { return G_LIST_MODEL (self->prompts); }
GListModel *gw_app_state_get_activity (GwAppState *self) { return G_LIST_MODEL (self->activity); }
GwFlowItem *gw_app_state_get_active_flow (GwAppState *self) { return self->active_flow; }
GwSessionState gw_app_state_get_session_state (GwAppState *self) { return self->session.state; }
const GwSessionInfo *gw_app_state_get_session (GwAppState *self) { return &self->session; }
const GwSessionInfo *gw_app_state_get_enrollment_failure (GwAppState *self) { return &self->enrollment; }
gboolean gw_app_state_get_enrolled (GwAppState *self) { return self->session.state != GW_SESSION_NOT_ENROLLED; }
gboolean gw_app_state_get_pairing_open (GwAppState *self) { return self->pairing_open; }
guint gw_app_state_get_pairing_remaining (GwAppState *self) { return self->pairing_remaining; }
guint gw_app_state_get_n_connected (GwAppState *self) { return self->n_connected; }
guint gw_app_state_get_n_waiting (GwAppState *self) { return self->n_waiting; }
guint gw_app_state_get_retry_in (GwAppState *self) { return self->retry_in; }

GwEntityItem *
gw_app_state_lookup_entity (GwAppState *self,
                            const char *pne_id)
{
  g_return_val_if_fail (GW_IS_APP_STATE (self), NULL);
  return pne_id ? g_hash_table_lookup (self->entity_by_id, pne_id) : NULL;
}

GwPromptItem *
gw_app_state_lookup_prompt (GwAppState *self,
                            guint64     prompt_id)
{
  guint n;

  g_return_val_if_fail (GW_IS_APP_STATE (self), NULL);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->prompts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwPromptItem) p = g_list_model_get_item (G_LIST_MODEL (self->prompts), i);
      if (gw_prompt_item_get_id (p) == prompt_id)
        return p;  /* the store keeps a reference */
    }
  return NULL;
}

GwFlowItem *
gw_app_state_get_journey (GwAppState *self,
                          const char *pne_id)
{
  g_return_val_if_fail (GW_IS_APP_STATE (self), NULL);
  g_return_val_if_fail (pne_id != NULL, NULL);
  return journey_for (self, pne_id);
}
