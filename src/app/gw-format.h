/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "gw-event.h"

G_BEGIN_DECLS

/* Small text helpers shared by the pages. All results are translated. */
char       *gw_format_code            (guint32        code);        /* "482 913" */
char       *gw_format_remaining       (gint64         seconds);     /* "1:52" */
char       *gw_format_ago             (gint64         then_us,
                                       gint64         now_us);      /* "2 s ago" */
char       *gw_format_duration        (gint64         duration_us); /* "0.04 s" */
char       *gw_format_relative_unix   (gint64         then_s,
                                       gint64         now_s);       /* "now", "2 h" */
char       *gw_format_clock_unix      (gint64         unix_s);      /* "19:42" or date */
char       *gw_format_clock_us        (gint64         unix_us);     /* "19:42:03" */
char       *gw_format_short_id        (const char    *id);          /* "pne-8c1e…5a6b" */
/* The entity_type of PROTOCOL.md §4.4 as people read it: "sensor" →
 * "Sensor", translated; unknown types as they are; none: "Device". The
 * one place every page and dialog takes a device's type from. */
const char *gw_format_type_name       (const char    *entity_type);
/* Its symbolic icon, from the same table: "sensor" → "cpns-sensor-symbolic";
 * "other", unknown types and none: GW_FORMAT_TYPE_ICON_FALLBACK. */
#define GW_FORMAT_TYPE_ICON_FALLBACK "cpns-device-other-symbolic"
const char *gw_format_type_icon       (const char    *entity_type);
const char *gw_format_entity_state    (GwEntityState  state);
const char *gw_format_entity_state_icon (GwEntityState state);
const char *gw_format_step_title      (GwStep         step);
const char *gw_format_step_short      (GwStep         step);        /* "1", "3a", "4d–f" */
const char *gw_format_outcome         (GwStepOutcome  outcome);
const char *gw_format_flow_kind       (GwFlowKind     kind);
/* "sensor" → "Sensor" (for entity types shown at the start of a sentence). */
char       *gw_format_capitalize      (const char    *text);

G_END_DECLS
