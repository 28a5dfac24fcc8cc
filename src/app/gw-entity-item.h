/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include "gw-event.h"

G_BEGIN_DECLS

#define GW_TYPE_ENTITY_ITEM (gw_entity_item_get_type ())
G_DECLARE_FINAL_TYPE (GwEntityItem, gw_entity_item, GW, ENTITY_ITEM, GObject)

/* One device of the inventory, as the UI shows it: a copy of the engine's
 * last GwEntityInfo snapshot plus display strings derived from it. */
GwEntityItem  *gw_entity_item_new             (const GwEntityInfo *info);
void           gw_entity_item_update          (GwEntityItem       *self,
                                               const GwEntityInfo *info);
const char    *gw_entity_item_get_pne_id      (GwEntityItem       *self);
const char    *gw_entity_item_get_name        (GwEntityItem       *self);
const char    *gw_entity_item_get_entity_type (GwEntityItem       *self);
const char    *gw_entity_item_get_type_name   (GwEntityItem       *self);  /* translated */
GwEntityState  gw_entity_item_get_state       (GwEntityItem       *self);
const char    *gw_entity_item_get_state_text  (GwEntityItem       *self);
const char    *gw_entity_item_get_address     (GwEntityItem       *self);
const char    *gw_entity_item_get_key_mode    (GwEntityItem       *self);
const char    *gw_entity_item_get_key_id      (GwEntityItem       *self);
gint64         gw_entity_item_get_key_issued_at (GwEntityItem     *self);
const char    *gw_entity_item_get_session_id  (GwEntityItem       *self);
gint64         gw_entity_item_get_session_expires_at (GwEntityItem *self);
gint64         gw_entity_item_get_last_seen   (GwEntityItem       *self);
gint64         gw_entity_item_get_registered_at (GwEntityItem     *self);
gboolean       gw_entity_item_get_blocked     (GwEntityItem       *self);
const char * const *gw_entity_item_get_services (GwEntityItem     *self);
const char    *gw_entity_item_get_description (GwEntityItem       *self);
/* Lower-case "name type id services", for search. */
const char    *gw_entity_item_get_search_text (GwEntityItem       *self);
/* Recompute "last seen" and "key age" texts against the clock. */
void           gw_entity_item_refresh_times   (GwEntityItem       *self,
                                               gint64              now_s);

G_END_DECLS
