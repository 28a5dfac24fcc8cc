/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"
#include "gw-prompt-dialog.h"

G_BEGIN_DECLS

#define GW_TYPE_APPROVAL_DIALOG (gw_approval_dialog_get_type ())
G_DECLARE_FINAL_TYPE (GwApprovalDialog, gw_approval_dialog, GW, APPROVAL_DIALOG, GwPromptDialog)

/* "Allow “Kitchen Sensor” to Connect?": Deny / Allow Once / Always Allow. */
GtkWidget    *gw_approval_dialog_new        (GtkWindow    *parent,
                                             GwAppState   *state,
                                             GwPromptItem *prompt);
GwPromptItem *gw_approval_dialog_get_prompt (GwApprovalDialog *self);
const char   *gw_approval_dialog_get_remaining_text (GwApprovalDialog *self);

G_END_DECLS
