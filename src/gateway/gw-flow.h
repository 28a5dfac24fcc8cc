/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-core.h"

G_BEGIN_DECLS

/*
 * GwFlow: the step timeline of one flow (pairing, connection, resume,
 * rekey, remove). Each step goes running → done / failed / skipped; each
 * transition is recorded in the registry and emitted as
 * GW_EVENT_FLOW_STEP. A flow freed with a step still running fails it
 * with CLOSED.
 */
typedef struct _GwFlow GwFlow;

GwFlow      *gw_flow_new        (GwCore       *core,
                                 GwFlowKind    kind,
                                 const char   *pne_id,
                                 const char   *pne_name);
void         gw_flow_free       (GwFlow       *flow);
void         gw_flow_set_pne    (GwFlow       *flow,
                                 const char   *pne_id,
                                 const char   *pne_name);
guint64      gw_flow_get_id     (GwFlow       *flow);
GwStep       gw_flow_get_step   (GwFlow       *flow);
gboolean     gw_flow_is_running (GwFlow       *flow);
/* Ends a running step as done, then starts @step. */
void         gw_flow_begin      (GwFlow       *flow,
                                 GwStep        step);
void         gw_flow_done       (GwFlow       *flow,
                                 const char   *detail);
void         gw_flow_skip       (GwFlow       *flow,
                                 GwStep        step,
                                 const char   *detail);
/* Fails the running step (or, if none, records @step as failed). */
void         gw_flow_fail       (GwFlow       *flow,
                                 const GError *error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwFlow, gw_flow_free)

G_END_DECLS
