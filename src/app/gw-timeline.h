/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>
#include "gw-flow-item.h"

G_BEGIN_DECLS

/* Aggregate state of one of the five main steps. */
typedef enum
{
  GW_TIMELINE_PENDING,
  GW_TIMELINE_RUNNING,
  GW_TIMELINE_DONE,
  GW_TIMELINE_FAILED,
  GW_TIMELINE_SKIPPED,
} GwTimelineState;

#define GW_TYPE_TIMELINE (gw_timeline_get_type ())
G_DECLARE_FINAL_TYPE (GwTimeline, gw_timeline, GW, TIMELINE, GtkWidget)

/* A drawn view of a device's journey through the five steps of PN
 * establishment and their sub-steps; emits "retry" (the failed GwStep)
 * when the user asks to retry a failed step. */
GtkWidget       *gw_timeline_new             (void);
GwFlowItem      *gw_timeline_get_flow        (GwTimeline *self);
void             gw_timeline_set_flow        (GwTimeline *self,
                                              GwFlowItem *flow);
/* @main_step is 1…5. */
GwTimelineState  gw_timeline_get_main_state  (GwTimeline *self,
                                              guint       main_step);
/* A plain-text account of the timeline (also its accessible description). */
char            *gw_timeline_dup_summary     (GwTimeline *self);
gboolean         gw_timeline_get_can_retry   (GwTimeline *self);
gboolean         gw_timeline_is_animating    (GwTimeline *self);

G_END_DECLS
