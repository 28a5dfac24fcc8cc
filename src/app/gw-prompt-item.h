/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include "gw-event.h"

G_BEGIN_DECLS

typedef enum
{
  GW_PROMPT_STATUS_PENDING,
  GW_PROMPT_STATUS_ANSWERED,
  GW_PROMPT_STATUS_EXPIRED,
  GW_PROMPT_STATUS_PEER_LEFT,
  GW_PROMPT_STATUS_CANCELLED,
} GwPromptStatus;

#define GW_TYPE_PROMPT_ITEM (gw_prompt_item_get_type ())
G_DECLARE_FINAL_TYPE (GwPromptItem, gw_prompt_item, GW, PROMPT_ITEM, GObject)

/* A pairing or approval prompt that the engine raised. */
GwPromptItem   *gw_prompt_item_new           (const GwPromptInfo *info);
guint64         gw_prompt_item_get_id        (GwPromptItem       *self);
GwPromptKind    gw_prompt_item_get_kind      (GwPromptItem       *self);
const GwPromptInfo *gw_prompt_item_get_info  (GwPromptItem       *self);
GwPromptStatus  gw_prompt_item_get_status    (GwPromptItem       *self);
void            gw_prompt_item_set_status    (GwPromptItem       *self,
                                              GwPromptStatus      status);
/* Seconds left before the deadline; updates "remaining-text". */
gint64          gw_prompt_item_get_remaining (GwPromptItem       *self);
void            gw_prompt_item_tick          (GwPromptItem       *self,
                                              gint64              now_us);
const char     *gw_prompt_item_get_title     (GwPromptItem       *self);
const char     *gw_prompt_item_get_status_text (GwPromptItem     *self);

G_END_DECLS
