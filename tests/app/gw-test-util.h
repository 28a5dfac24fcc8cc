/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>
#include "gw-event.h"

G_BEGIN_DECLS

/* Builders of the engine's events, as the engine would send them. */
GwEvent *gw_test_session_event    (GwSessionState  state,
                                   guint           retry_in_s,
                                   CpnsErrorCode   error_code);  /* -1: no error */
GwEvent *gw_test_entity_event     (const char     *pne_id,
                                   const char     *name,
                                   const char     *type,
                                   GwEntityState   state);
GwEvent *gw_test_step_event       (guint64         flow_id,
                                   GwFlowKind      kind,
                                   const char     *pne_id,
                                   const char     *pne_name,
                                   GwStep          step,
                                   GwStepOutcome   outcome,
                                   CpnsErrorCode   error_code);  /* -1: no error */
GwEvent *gw_test_prompt_event     (GwEventType     type,         /* RAISED or WITHDRAWN */
                                   guint64         id,
                                   GwPromptKind    kind,
                                   const char     *pne_name,
                                   guint32         code,
                                   int             seconds_left,
                                   GwWithdrawReason reason);
GwEvent *gw_test_pairing_window_event (gboolean open,
                                       guint    remaining_s);
GwEvent *gw_test_discovered_event (const char     *id,
                                   const char     *name,
                                   const char     *type,
                                   const char     *address);

/* Run the main loop until @widget has drawn @n frames (or 3 s passed). */
void     gw_test_wait_frames      (GtkWidget      *widget,
                                   guint           n);
void     gw_test_iterate          (guint           ms);
/* Render @widget (a window or any widget) to a PNG file in the build dir;
 * returns its path. */
char    *gw_test_screenshot       (GtkWidget      *widget,
                                   const char     *name);

G_END_DECLS
