/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_WINDOW (gw_window_get_type ())
G_DECLARE_FINAL_TYPE (GwWindow, gw_window, GW, WINDOW, AdwApplicationWindow)

/* The main window: first-run page until enrolled, then Network · Devices ·
 * Activity; shows prompts as dialogs and events as toasts. */
GwWindow   *gw_window_new               (GtkApplication *application,
                                         GwAppState     *state);
GwAppState *gw_window_get_state         (GwWindow       *self);
void        gw_window_set_invitation    (GwWindow       *self,
                                         const char     *invitation);
void        gw_window_enroll            (GwWindow       *self,
                                         const char     *invitation);
/* Shows (or raises) the dialog of @prompt. */
GtkWidget  *gw_window_review_prompt     (GwWindow       *self,
                                         GwPromptItem   *prompt);
GtkWidget  *gw_window_get_prompt_dialog (GwWindow       *self,
                                         guint64         prompt_id);
void        gw_window_show_page         (GwWindow       *self,
                                         const char     *name);  /* "network" "devices" "activity" */
const char *gw_window_get_visible_page  (GwWindow       *self);  /* also "first-run" */
GtkWidget  *gw_window_get_page          (GwWindow       *self,
                                         const char     *name);
void        gw_window_add_toast         (GwWindow       *self,
                                         const char     *text);
/* The number of toasts shown so far (for tests). */
guint       gw_window_get_n_toasts      (GwWindow       *self);

G_END_DECLS
