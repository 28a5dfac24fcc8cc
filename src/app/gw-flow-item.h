/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include "gw-event.h"

G_BEGIN_DECLS

typedef struct
{
  gboolean       present;
  GwStepOutcome  outcome;
  gint64         started_at;   /* unix µs */
  gint64         finished_at;  /* unix µs; 0 while running */
  GError        *error;        /* FAILED */
  char          *detail;
  guint64        flow_id;
} GwFlowStepRecord;

#define GW_TYPE_FLOW_ITEM (gw_flow_item_get_type ())
G_DECLARE_FINAL_TYPE (GwFlowItem, gw_flow_item, GW, FLOW_ITEM, GObject)

/* The journey of one device through the five steps: the latest record of
 * each step and sub-step, gathered from its pairing and connection flows.
 * Emits "changed" after each applied step. */
GwFlowItem             *gw_flow_item_new         (const char       *pne_id);
const char             *gw_flow_item_get_pne_id  (GwFlowItem       *self);
void                    gw_flow_item_set_pne_id  (GwFlowItem       *self,
                                                  const char       *pne_id);
const char             *gw_flow_item_get_name    (GwFlowItem       *self);
const GwFlowStepRecord *gw_flow_item_get_step    (GwFlowItem       *self,
                                                  GwStep            step);
void                    gw_flow_item_apply       (GwFlowItem       *self,
                                                  const GwStepInfo *info);
/* Copies every present step of @other into @self (used when a pairing
 * flow learns its device's ID). */
void                    gw_flow_item_merge       (GwFlowItem       *self,
                                                  GwFlowItem       *other);
gboolean                gw_flow_item_is_running  (GwFlowItem       *self);
/* Whether all of steps 1–5 are done (3a may be skipped). */
gboolean                gw_flow_item_is_complete (GwFlowItem       *self);

G_END_DECLS
