/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_DEVICES_PAGE (gw_devices_page_get_type ())
G_DECLARE_FINAL_TYPE (GwDevicesPage, gw_devices_page, GW, DEVICES_PAGE, AdwBin)

/* The inventory: a sortable, searchable column view of every device, with
 * the selected device's detail beside it (AdwLeaflet). */
GtkWidget   *gw_devices_page_new           (GwAppState    *state);
void         gw_devices_page_focus_search  (GwDevicesPage *self);
void         gw_devices_page_set_search    (GwDevicesPage *self,
                                            const char    *text);
/* 0 all, 1 connected, 2 disconnected, 3 waiting/joining, 4 revoked/blocked */
void         gw_devices_page_set_state_filter (GwDevicesPage *self,
                                               guint          filter);
GListModel  *gw_devices_page_get_visible_model (GwDevicesPage *self);
/* Whether the filter is still working through the list (it runs in slices). */
gboolean     gw_devices_page_get_filtering (GwDevicesPage *self);
gboolean     gw_devices_page_select        (GwDevicesPage *self,
                                            const char    *pne_id);
GtkWidget   *gw_devices_page_get_detail    (GwDevicesPage *self);
GtkWidget   *gw_devices_page_get_scrolled_window (GwDevicesPage *self);
GtkWidget   *gw_devices_page_get_search_entry (GwDevicesPage *self);

G_END_DECLS
