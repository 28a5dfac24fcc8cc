/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "gw-command.h"
#include "gw-event.h"
#include "gw-entity-item.h"
#include "gw-flow-item.h"
#include "gw-prompt-item.h"

G_BEGIN_DECLS

#define GW_TYPE_APP_STATE (gw_app_state_get_type ())
G_DECLARE_FINAL_TYPE (GwAppState, gw_app_state, GW, APP_STATE, GObject)

/* The app's view of the engine: every page reads it, only engine events
 * change it, and every user decision leaves it as a command ("command"
 * signal, which the application forwards to the engine). */
GwAppState     *gw_app_state_new                  (void);
void            gw_app_state_handle_event         (GwAppState     *self,
                                                   const GwEvent  *event);
/* New devices reach the entities model in batches, from an idle; this
 * adds the pending ones now (tests, or before reading the model). */
void            gw_app_state_flush                (GwAppState     *self);
/* Takes ownership of @command; emits "command". */
void            gw_app_state_send                 (GwAppState     *self,
                                                   GwCommand      *command);
void            gw_app_state_answer_prompt        (GwAppState     *self,
                                                   guint64         prompt_id,
                                                   GwPromptAnswer  answer);
/* Forget an expired prompt (the user dismissed it). */
void            gw_app_state_dismiss_prompt       (GwAppState     *self,
                                                   GwPromptItem   *prompt);

GListModel     *gw_app_state_get_entities         (GwAppState     *self);  /* GwEntityItem */
GListModel     *gw_app_state_get_discovered       (GwAppState     *self);  /* GwDiscoveredItem */
GListModel     *gw_app_state_get_prompts          (GwAppState     *self);  /* GwPromptItem */
GListModel     *gw_app_state_get_activity         (GwAppState     *self);  /* GwActivityItem, newest first */
GwEntityItem   *gw_app_state_lookup_entity        (GwAppState     *self,
                                                   const char     *pne_id);
GwPromptItem   *gw_app_state_lookup_prompt        (GwAppState     *self,
                                                   guint64         prompt_id);
/* The device's journey through the steps (created empty on demand). */
GwFlowItem     *gw_app_state_get_journey          (GwAppState     *self,
                                                   const char     *pne_id);
/* The flow that changed most recently while running, or NULL. */
GwFlowItem     *gw_app_state_get_active_flow      (GwAppState     *self);

GwSessionState  gw_app_state_get_session_state    (GwAppState     *self);
/* The last session snapshot (never NULL; fields may be NULL). */
const GwSessionInfo *gw_app_state_get_session     (GwAppState     *self);
/* The session info of the last failed enrollment (its TLS failure class). */
const GwSessionInfo *gw_app_state_get_enrollment_failure (GwAppState *self);
gboolean        gw_app_state_get_enrolled         (GwAppState     *self);
gboolean        gw_app_state_get_pairing_open     (GwAppState     *self);
guint           gw_app_state_get_pairing_remaining (GwAppState    *self);
guint           gw_app_state_get_n_connected      (GwAppState     *self);
guint           gw_app_state_get_n_waiting        (GwAppState     *self);
/* Seconds left before a retry, counted down locally. */
guint           gw_app_state_get_retry_in         (GwAppState     *self);

G_END_DECLS
