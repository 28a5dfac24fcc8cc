/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_DEVICE_DETAIL (gw_device_detail_get_type ())
G_DECLARE_FINAL_TYPE (GwDeviceDetail, gw_device_detail, GW, DEVICE_DETAIL, AdwBin)

/* One device: properties, services, key, session, how it joined (the
 * timeline) and the actions rename / re-key / block / remove. Emits
 * "back" when the user leaves the pane (folded leaflet) and
 * "show-activity" (pne_id). */
GtkWidget    *gw_device_detail_new          (void);
void          gw_device_detail_set_state    (GwDeviceDetail *self,
                                             GwAppState     *state);
void          gw_device_detail_set_entity   (GwDeviceDetail *self,
                                             GwEntityItem   *entity);
GwEntityItem *gw_device_detail_get_entity   (GwDeviceDetail *self);
GtkWidget    *gw_device_detail_get_timeline (GwDeviceDetail *self);

G_END_DECLS
