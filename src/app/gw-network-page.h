/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_NETWORK_PAGE (gw_network_page_get_type ())
G_DECLARE_FINAL_TYPE (GwNetworkPage, gw_network_page, GW, NETWORK_PAGE, AdwBin)

/* The server session, the pairing window, nearby devices and the prompts
 * waiting for the user. Emits "review-prompt" (GwPromptItem). */
GtkWidget  *gw_network_page_new                 (GwAppState    *state);
const char *gw_network_page_get_session_title   (GwNetworkPage *self);
const char *gw_network_page_get_session_subtitle (GwNetworkPage *self);
const char *gw_network_page_get_counts_text     (GwNetworkPage *self);
const char *gw_network_page_get_pairing_text    (GwNetworkPage *self);
gboolean    gw_network_page_get_connect_visible (GwNetworkPage *self);
/* Same as clicking Connect / flipping the pairing window switch. */
void        gw_network_page_activate_connect    (GwNetworkPage *self);
void        gw_network_page_set_pairing_open    (GwNetworkPage *self,
                                                 gboolean       open);
void        gw_network_page_pair_address        (GwNetworkPage *self);

G_END_DECLS
