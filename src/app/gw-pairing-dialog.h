/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"
#include "gw-prompt-dialog.h"

G_BEGIN_DECLS

#define GW_TYPE_PAIRING_DIALOG (gw_pairing_dialog_get_type ())
G_DECLARE_FINAL_TYPE (GwPairingDialog, gw_pairing_dialog, GW, PAIRING_DIALOG, GwPromptDialog)

/* "Pair “Kitchen Sensor”?" with the 6-digit code; answers the prompt. */
GtkWidget    *gw_pairing_dialog_new        (GtkWindow    *parent,
                                            GwAppState   *state,
                                            GwPromptItem *prompt);
GwPromptItem *gw_pairing_dialog_get_prompt (GwPairingDialog *self);
const char   *gw_pairing_dialog_get_code_text (GwPairingDialog *self);
const char   *gw_pairing_dialog_get_remaining_text (GwPairingDialog *self);

G_END_DECLS
