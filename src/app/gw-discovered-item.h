/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include "gw-event.h"

G_BEGIN_DECLS

#define GW_TYPE_DISCOVERED_ITEM (gw_discovered_item_get_type ())
G_DECLARE_FINAL_TYPE (GwDiscoveredItem, gw_discovered_item, GW, DISCOVERED_ITEM, GObject)

/* A nearby device heard through discovery, not yet paired. */
GwDiscoveredItem *gw_discovered_item_new         (const GwDiscoveredInfo *info);
void              gw_discovered_item_update      (GwDiscoveredItem       *self,
                                                  const GwDiscoveredInfo *info);
const char       *gw_discovered_item_get_id      (GwDiscoveredItem       *self);
const char       *gw_discovered_item_get_name    (GwDiscoveredItem       *self);
const char       *gw_discovered_item_get_subtitle (GwDiscoveredItem      *self);
void              gw_discovered_item_tick        (GwDiscoveredItem       *self,
                                                  gint64                  now_us);

G_END_DECLS
