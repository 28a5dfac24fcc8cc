/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include "gw-event.h"

G_BEGIN_DECLS

#define GW_TYPE_ACTIVITY_ITEM (gw_activity_item_get_type ())
G_DECLARE_FINAL_TYPE (GwActivityItem, gw_activity_item, GW, ACTIVITY_ITEM, GObject)

/* One line of the Activity page, made from one event. */
GwActivityItem *gw_activity_item_new        (gint64       time_us,
                                             const char  *kind,
                                             const char  *pne_id,
                                             const char  *device,
                                             const char  *what,
                                             const char  *outcome,
                                             gboolean     problem,
                                             const char  *detail,
                                             const char  *code);
gboolean        gw_activity_item_get_problem (GwActivityItem *self);
const char     *gw_activity_item_get_device  (GwActivityItem *self);
const char     *gw_activity_item_get_what    (GwActivityItem *self);
const char     *gw_activity_item_get_outcome (GwActivityItem *self);
const char     *gw_activity_item_get_detail  (GwActivityItem *self);
/* Lower-case "device pne_id", for the device filter. */
const char     *gw_activity_item_get_device_key (GwActivityItem *self);
/* One JSON object (no newline) for Export…; holds no secret. */
char           *gw_activity_item_to_json     (GwActivityItem *self);

G_END_DECLS
