/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"
#include "gw-engine.h"

G_BEGIN_DECLS

#define GW_TYPE_APPLICATION (gw_application_get_type ())
G_DECLARE_FINAL_TYPE (GwApplication, gw_application, GW, APPLICATION, AdwApplication)

/* The app: owns the engine and the state fed by its events, the actions,
 * notifications for prompts, preferences, about and help. */
GwApplication *gw_application_new               (void);
/* Before startup: run without an engine (tests feed events themselves). */
void           gw_application_set_engine_enabled (GwApplication        *self,
                                                  gboolean              enabled);
/* Before startup: engine settings (data dir, ports…); copied. */
void           gw_application_set_engine_config (GwApplication        *self,
                                                 const GwEngineConfig *config);
GwAppState    *gw_application_get_state         (GwApplication        *self);
GwEngine      *gw_application_get_engine        (GwApplication        *self);
GtkWindow     *gw_application_get_main_window   (GwApplication        *self);

G_END_DECLS
