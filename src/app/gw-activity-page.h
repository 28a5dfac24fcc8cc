/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_ACTIVITY_PAGE (gw_activity_page_get_type ())
G_DECLARE_FINAL_TYPE (GwActivityPage, gw_activity_page, GW, ACTIVITY_PAGE, AdwBin)

/* Every event, newest first, filterable by device and "problems only",
 * exportable to JSON lines. */
GtkWidget  *gw_activity_page_new                (GwAppState     *state);
void        gw_activity_page_set_device_filter  (GwActivityPage *self,
                                                 const char     *text);
void        gw_activity_page_set_problems_only  (GwActivityPage *self,
                                                 gboolean        problems_only);
GListModel *gw_activity_page_get_visible_model  (GwActivityPage *self);
/* Writes the shown events to @file as JSON lines, off the UI thread. */
void        gw_activity_page_export_async       (GwActivityPage      *self,
                                                 GFile               *file,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean    gw_activity_page_export_finish      (GwActivityPage      *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);

G_END_DECLS
