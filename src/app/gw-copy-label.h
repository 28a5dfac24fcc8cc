/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define GW_TYPE_COPY_LABEL (gw_copy_label_get_type ())
G_DECLARE_FINAL_TYPE (GwCopyLabel, gw_copy_label, GW, COPY_LABEL, GtkWidget)

/* A shortened identifier with a button that copies the full one. */
GtkWidget  *gw_copy_label_new      (void);
void        gw_copy_label_set_text (GwCopyLabel *self,
                                    const char  *text);
const char *gw_copy_label_get_text (GwCopyLabel *self);
void        gw_copy_label_copy     (GwCopyLabel *self);

G_END_DECLS
