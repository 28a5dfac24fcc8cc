/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "gw-app-state.h"

G_BEGIN_DECLS

#define GW_TYPE_PROMPT_DIALOG (gw_prompt_dialog_get_type ())
G_DECLARE_DERIVABLE_TYPE (GwPromptDialog, gw_prompt_dialog, GW, PROMPT_DIALOG, AdwMessageDialog)

/* What the pairing and approval dialogs share: they follow one prompt of
 * the engine, show its countdown, answer it, close once it is answered or
 * withdrawn, and stay, saying so, when it expires or the device leaves. */
struct _GwPromptDialogClass
{
  AdwMessageDialogClass parent_class;

  /* The answer @response stands for while the prompt is pending. */
  GwPromptAnswer (*answer_for) (GwPromptDialog *self,
                                const char     *response);
  /* The prompt expired or the device left (@status): say so. */
  void           (*ended)      (GwPromptDialog *self,
                                GwPromptStatus  status);
};

/* Starts following @prompt; @remaining shows its status text. */
void          gw_prompt_dialog_track               (GwPromptDialog *self,
                                                    GwAppState     *state,
                                                    GwPromptItem   *prompt,
                                                    GtkLabel       *remaining);
GwPromptItem *gw_prompt_dialog_get_prompt          (GwPromptDialog *self);
const char   *gw_prompt_dialog_get_remaining_text  (GwPromptDialog *self);

G_END_DECLS
