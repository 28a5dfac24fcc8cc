/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include "gw-prompt-dialog.h"

typedef struct
{
  GwAppState   *state;
  GwPromptItem *prompt;
  GtkLabel     *remaining;
  gulong        notify_id;
} GwPromptDialogPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (GwPromptDialog, gw_prompt_dialog, ADW_TYPE_MESSAGE_DIALOG)

static void
update (GwPromptDialog *self)
{
  GwPromptDialogPrivate *priv = gw_prompt_dialog_get_instance_private (self);
  GwPromptStatus status = gw_prompt_item_get_status (priv->prompt);

  gtk_label_set_label (priv->remaining, gw_prompt_item_get_status_text (priv->prompt));
  if (status == GW_PROMPT_STATUS_PENDING)
    return;
  if (status == GW_PROMPT_STATUS_ANSWERED || status == GW_PROMPT_STATUS_CANCELLED)
    {
      gtk_window_destroy (GTK_WINDOW (self));
      return;
    }
  /* Expired or the device left: say so instead of vanishing. */
  GW_PROMPT_DIALOG_GET_CLASS (self)->ended (self, status);
}

static void
gw_prompt_dialog_response (AdwMessageDialog *dialog,
                           const char       *response)
{
  GwPromptDialog *self = GW_PROMPT_DIALOG (dialog);
  GwPromptDialogPrivate *priv = gw_prompt_dialog_get_instance_private (self);

  if (priv->prompt == NULL)
    return;
  if (gw_prompt_item_get_status (priv->prompt) == GW_PROMPT_STATUS_PENDING)
    gw_app_state_answer_prompt (priv->state, gw_prompt_item_get_id (priv->prompt),
                                GW_PROMPT_DIALOG_GET_CLASS (self)->answer_for (self, response));
  else
    gw_app_state_dismiss_prompt (priv->state, priv->prompt);
}

static void
gw_prompt_dialog_dispose (GObject *object)
{
  GwPromptDialog *self = GW_PROMPT_DIALOG (object);
  GwPromptDialogPrivate *priv = gw_prompt_dialog_get_instance_private (self);

  if (priv->prompt != NULL)
    g_clear_signal_handler (&priv->notify_id, priv->prompt);
  g_clear_object (&priv->prompt);
  g_clear_object (&priv->state);
  g_clear_object (&priv->remaining);
  G_OBJECT_CLASS (gw_prompt_dialog_parent_class)->dispose (object);
}

static void
gw_prompt_dialog_class_init (GwPromptDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = gw_prompt_dialog_dispose;
  ADW_MESSAGE_DIALOG_CLASS (klass)->response = gw_prompt_dialog_response;
}

static void
gw_prompt_dialog_init (GwPromptDialog *self)
{
}

void
gw_prompt_dialog_track (GwPromptDialog *self,
                        GwAppState     *state,
                        GwPromptItem   *prompt,
                        GtkLabel       *remaining)
{
  GwPromptDialogPrivate *priv = gw_prompt_dialog_get_instance_private (self);

  g_return_if_fail (GW_IS_PROMPT_DIALOG (self));
  g_return_if_fail (GW_IS_APP_STATE (state));
  g_return_if_fail (GW_IS_PROMPT_ITEM (prompt));
  g_return_if_fail (GTK_IS_LABEL (remaining));
  g_return_if_fail (priv->prompt == NULL);

  priv->state = g_object_ref (state);
  priv->prompt = g_object_ref (prompt);
  priv->remaining = g_object_ref (remaining);
  priv->notify_id = g_signal_connect_swapped (prompt, "notify::status-text", G_CALLBACK (update), self);
  update (self);
}

GwPromptItem *
gw_prompt_dialog_get_prompt (GwPromptDialog *self)
{
  GwPromptDialogPrivate *priv = gw_prompt_dialog_get_instance_private (self);

  g_return_val_if_fail (GW_IS_PROMPT_DIALOG (self), NULL);
  return priv->prompt;
}

const char *
gw_prompt_dialog_get_remaining_text (GwPromptDialog *self)
{
  GwPromptDialogPrivate *priv = gw_prompt_dialog_get_instance_private (self);

  g_return_val_if_fail (GW_IS_PROMPT_DIALOG (self), NULL);
  return priv->remaining ? gtk_label_get_label (priv->remaining) : NULL;
}
