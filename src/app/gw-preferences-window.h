/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_PREFERENCES_WINDOW (gw_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (GwPreferencesWindow, gw_preferences_window, GW, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* Server and account, key assignment, pairing window, port, discovery and
 * notifications, bound to GSettings io.github.cpns.Gateway. */
GtkWidget *gw_preferences_window_new (GtkWindow  *parent,
                                      GSettings  *settings,
                                      GwAppState *state);

G_END_DECLS
