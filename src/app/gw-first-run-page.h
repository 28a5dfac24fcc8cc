/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_FIRST_RUN_PAGE (gw_first_run_page_get_type ())
G_DECLARE_FINAL_TYPE (GwFirstRunPage, gw_first_run_page, GW, FIRST_RUN_PAGE, AdwBin)

/* "Connect to Your Personal Network": enrollment by invitation or by
 * server details, with the pin to confirm and a progress row per step. */
GtkWidget  *gw_first_run_page_new            (GwAppState     *state);
void        gw_first_run_page_set_invitation (GwFirstRunPage *self,
                                              const char     *invitation);
/* Same as pressing Connect. */
void        gw_first_run_page_connect        (GwFirstRunPage *self);
/* Same as pressing "Confirm and Connect" under the fingerprint. */
void        gw_first_run_page_confirm_pin    (GwFirstRunPage *self);
const char *gw_first_run_page_get_error_text (GwFirstRunPage *self);
gboolean    gw_first_run_page_get_busy       (GwFirstRunPage *self);
gboolean    gw_first_run_page_get_pin_shown  (GwFirstRunPage *self);
/* The state word under step @step (0 reach, 1 identity, 2 enroll). */
const char *gw_first_run_page_get_step_text  (GwFirstRunPage *self,
                                              guint           step);

G_END_DECLS
