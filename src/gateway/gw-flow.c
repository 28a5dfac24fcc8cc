/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include "gw-event-private.h"
#include "gw-flow.h"

struct _GwFlow
{
  GwCore     *core;
  GwStepInfo  info;       /* the current (or last) step */
  gboolean    running;
};

GwFlow *
gw_flow_new (GwCore     *core,
             GwFlowKind  kind,
             const char *pne_id,
             const char *pne_name)
{
  GwFlow *flow = g_new0 (GwFlow, 1);

  flow->core = core;
  flow->info.flow_id = gw_registry_next_flow_id (core->registry);
  flow->info.flow_kind = kind;
  flow->info.pne_id = g_strdup (pne_id);
  flow->info.pne_name = g_strdup (pne_name);
  return flow;
}

void
gw_flow_set_pne (GwFlow     *flow,
                 const char *pne_id,
                 const char *pne_name)
{
  if (pne_id)
    {
      g_free (flow->info.pne_id);
      flow->info.pne_id = g_strdup (pne_id);
    }
  if (pne_name)
    {
      g_free (flow->info.pne_name);
      flow->info.pne_name = g_strdup (pne_name);
    }
}

guint64
gw_flow_get_id (GwFlow *flow)
{
  return flow->info.flow_id;
}

GwStep
gw_flow_get_step (GwFlow *flow)
{
  return flow->info.step;
}

gboolean
gw_flow_is_running (GwFlow *flow)
{
  return flow->running;
}

static void
publish (GwFlow *flow)
{
  GwEvent *event = gw_event_new (GW_EVENT_FLOW_STEP);
  g_autoptr(GError) error = NULL;

  if (!gw_registry_record_step (flow->core->registry, &flow->info, &error))
    g_debug ("cannot record step: %s", error->message);
  event->time = gw_clock_now (flow->core->clock);
  event->step = gw_step_info_copy (&flow->info);
  g_debug ("flow %" G_GUINT64_FORMAT " step %s %s", flow->info.flow_id,
           gw_step_to_string (flow->info.step),
           gw_step_outcome_to_string (flow->info.outcome));
  gw_core_emit (flow->core, event);
}

static void
finish (GwFlow        *flow,
        GwStepOutcome  outcome,
        const GError  *error,
        const char    *detail)
{
  flow->info.outcome = outcome;
  flow->info.finished_at = gw_clock_now (flow->core->clock);
  g_clear_error (&flow->info.error);
  if (error)
    flow->info.error = g_error_copy (error);
  g_free (flow->info.detail);
  flow->info.detail = g_strdup (detail);
  flow->running = FALSE;
  publish (flow);
}

void
gw_flow_begin (GwFlow *flow,
               GwStep  step)
{
  if (flow->running)
    finish (flow, GW_STEP_DONE, NULL, NULL);
  flow->info.step = step;
  flow->info.outcome = GW_STEP_RUNNING;
  flow->info.started_at = gw_clock_now (flow->core->clock);
  flow->info.finished_at = 0;
  g_clear_error (&flow->info.error);
  g_clear_pointer (&flow->info.detail, g_free);
  flow->running = TRUE;
  publish (flow);
}

void
gw_flow_done (GwFlow     *flow,
              const char *detail)
{
  if (flow->running)
    finish (flow, GW_STEP_DONE, NULL, detail);
}

void
gw_flow_skip (GwFlow     *flow,
              GwStep      step,
              const char *detail)
{
  if (flow->running)
    finish (flow, GW_STEP_DONE, NULL, NULL);
  flow->info.step = step;
  flow->info.started_at = gw_clock_now (flow->core->clock);
  finish (flow, GW_STEP_SKIPPED, NULL, detail);
}

void
gw_flow_fail (GwFlow       *flow,
              const GError *error)
{
  if (!flow->running)
    {
      if (flow->info.outcome == GW_STEP_FAILED)
        return;   /* already failed: one failure per flow */
      flow->info.started_at = gw_clock_now (flow->core->clock);
    }
  finish (flow, GW_STEP_FAILED, error, NULL);
}

void
gw_flow_free (GwFlow *flow)
{
  if (flow == NULL)
    return;
  if (flow->running)
    {
      g_autoptr(GError) error =
        gw_error_new_advice (CPNS_ERROR_CLOSED, "The connection ended before this step finished");
      finish (flow, GW_STEP_FAILED, error, NULL);
    }
  g_free (flow->info.pne_id);
  g_free (flow->info.pne_name);
  g_clear_error (&flow->info.error);
  g_free (flow->info.detail);
  g_free (flow);
}
