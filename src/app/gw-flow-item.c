/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include "gw-flow-item.h"

struct _GwFlowItem
{
  GObject           parent_instance;
  char             *pne_id;
  char             *name;
  GwFlowStepRecord  steps[GW_STEP_LAST];
};

G_DEFINE_FINAL_TYPE (GwFlowItem, gw_flow_item, G_TYPE_OBJECT)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
record_clear (GwFlowStepRecord *r)
{
  g_clear_error (&r->error);
  g_clear_pointer (&r->detail, g_free);
  memset (r, 0, sizeof *r);
}

static void
gw_flow_item_finalize (GObject *object)
{
  GwFlowItem *self = GW_FLOW_ITEM (object);

  for (guint i = 0; i < GW_STEP_LAST; i++)
    record_clear (&self->steps[i]);
  g_free (self->pne_id);
  g_free (self->name);
  G_OBJECT_CLASS (gw_flow_item_parent_class)->finalize (object);
}

static void
gw_flow_item_class_init (GwFlowItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gw_flow_item_finalize;
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
gw_flow_item_init (GwFlowItem *self)
{
}

GwFlowItem *
gw_flow_item_new (const char *pne_id)
{
  GwFlowItem *self = g_object_new (GW_TYPE_FLOW_ITEM, NULL);

  self->pne_id = g_strdup (pne_id);
  return self;
}

const char *
gw_flow_item_get_pne_id (GwFlowItem *self)
{
  g_return_val_if_fail (GW_IS_FLOW_ITEM (self), NULL);
  return self->pne_id;
}

void
gw_flow_item_set_pne_id (GwFlowItem *self,
                         const char *pne_id)
{
  g_return_if_fail (GW_IS_FLOW_ITEM (self));
  g_free (self->pne_id);
  self->pne_id = g_strdup (pne_id);
}

const char *
gw_flow_item_get_name (GwFlowItem *self)
{
  g_return_val_if_fail (GW_IS_FLOW_ITEM (self), NULL);
  return self->name;
}

const GwFlowStepRecord *
gw_flow_item_get_step (GwFlowItem *self,
                       GwStep      step)
{
  g_return_val_if_fail (GW_IS_FLOW_ITEM (self), NULL);
  g_return_val_if_fail ((guint) step < GW_STEP_LAST, NULL);
  return &self->steps[step];
}

/* Steps 2–3 belong to pairing, 4–5 to connection; step 1 to either. */
static gboolean
same_phase (GwStep a,
            GwStep b)
{
  gboolean a_pair = a >= GW_STEP_2 && a <= GW_STEP_3E;
  gboolean b_pair = b >= GW_STEP_2 && b <= GW_STEP_3E;
  gboolean a_conn = a >= GW_STEP_4A;
  gboolean b_conn = b >= GW_STEP_4A;

  return (a_pair && b_pair) || (a_conn && b_conn);
}

static void
apply_record (GwFlowItem             *self,
              GwStep                  step,
              const GwFlowStepRecord *src)
{
  GwFlowStepRecord *r = &self->steps[step];

  /* A new flow of the same phase starts over: forget that phase's
   * records from the older flow so the timeline does not mix attempts. */
  if (step != GW_STEP_1 && src->flow_id != 0)
    for (guint i = GW_STEP_2; i < GW_STEP_LAST; i++)
      if (self->steps[i].present && self->steps[i].flow_id != src->flow_id &&
          same_phase ((GwStep) i, step) && self->steps[i].flow_id < src->flow_id)
        record_clear (&self->steps[i]);

  record_clear (r);
  r->present = TRUE;
  r->outcome = src->outcome;
  r->started_at = src->started_at;
  r->finished_at = src->finished_at;
  r->error = src->error ? g_error_copy (src->error) : NULL;
  r->detail = g_strdup (src->detail);
  r->flow_id = src->flow_id;
}

void
gw_flow_item_apply (GwFlowItem       *self,
                    const GwStepInfo *info)
{
  GwFlowStepRecord src = { 0 };

  g_return_if_fail (GW_IS_FLOW_ITEM (self));
  g_return_if_fail (info != NULL && (guint) info->step < GW_STEP_LAST);

  /* Step 1 is skipped when the server session already exists: its goal,
   * a secure session, is met. Never let it hide an earlier real run. */
  if (info->step == GW_STEP_1 && info->outcome == GW_STEP_SKIPPED)
    {
      const GwFlowStepRecord *old = &self->steps[GW_STEP_1];

      if (old->present && old->outcome == GW_STEP_DONE)
        {
          g_signal_emit (self, signals[CHANGED], 0);
          return;
        }
    }

  src.present = TRUE;
  src.outcome = info->outcome;
  src.started_at = info->started_at;
  src.finished_at = info->finished_at;
  src.error = info->error;
  src.detail = info->detail;
  src.flow_id = info->flow_id;
  apply_record (self, info->step, &src);
  if (info->pne_name != NULL && g_strcmp0 (info->pne_name, self->name) != 0)
    {
      g_free (self->name);
      self->name = g_strdup (info->pne_name);
    }
  g_signal_emit (self, signals[CHANGED], 0);
}

void
gw_flow_item_merge (GwFlowItem *self,
                    GwFlowItem *other)
{
  g_return_if_fail (GW_IS_FLOW_ITEM (self));
  g_return_if_fail (GW_IS_FLOW_ITEM (other));

  for (guint i = 0; i < GW_STEP_LAST; i++)
    if (other->steps[i].present)
      apply_record (self, (GwStep) i, &other->steps[i]);
  if (self->name == NULL)
    self->name = g_strdup (other->name);
  g_signal_emit (self, signals[CHANGED], 0);
}

gboolean
gw_flow_item_is_running (GwFlowItem *self)
{
  for (guint i = 0; i < GW_STEP_LAST; i++)
    if (self->steps[i].present && self->steps[i].outcome == GW_STEP_RUNNING)
      return TRUE;
  return FALSE;
}

gboolean
gw_flow_item_is_complete (GwFlowItem *self)
{
  static const GwStep needed[] = { GW_STEP_1, GW_STEP_2, GW_STEP_4A, GW_STEP_4G, GW_STEP_5A };

  for (guint i = 0; i < G_N_ELEMENTS (needed); i++)
    if (!self->steps[needed[i]].present || self->steps[needed[i]].outcome != GW_STEP_DONE)
      return FALSE;
  for (guint i = 0; i < GW_STEP_LAST; i++)
    if (self->steps[i].present &&
        (self->steps[i].outcome == GW_STEP_FAILED || self->steps[i].outcome == GW_STEP_RUNNING))
      return FALSE;
  return TRUE;
}
