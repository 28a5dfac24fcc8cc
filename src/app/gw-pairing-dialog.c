/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-format.h"
#include "gw-pairing-dialog.h"

struct _GwPairingDialog
{
  GwPromptDialog  parent_instance;

  GtkLabel       *code_label;
  GtkLabel       *question_label;
  GtkLabel       *remaining_label;
};

G_DEFINE_FINAL_TYPE (GwPairingDialog, gw_pairing_dialog, GW_TYPE_PROMPT_DIALOG)

static GwPromptAnswer
gw_pairing_dialog_answer_for (GwPromptDialog *dialog,
                              const char     *response)
{
  return g_strcmp0 (response, "confirm") == 0 ? GW_ANSWER_CONFIRM : GW_ANSWER_REJECT;
}

static void
gw_pairing_dialog_ended (GwPromptDialog *dialog,
                         GwPromptStatus  status)
{
  GwPairingDialog *self = GW_PAIRING_DIALOG (dialog);

  adw_message_dialog_set_heading (ADW_MESSAGE_DIALOG (self),
                                  status == GW_PROMPT_STATUS_EXPIRED ? _("Pairing Request Expired")
                                                                     : _("Device Left"));
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self),
                               status == GW_PROMPT_STATUS_EXPIRED
                               ? _("Nobody confirmed the code in time, so the pairing was rejected. Pair the device again to retry.")
                               : _("The device went away before you answered."));
  gtk_widget_set_visible (GTK_WIDGET (self->question_label), FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->code_label), "dim-label");
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "confirm", FALSE);
  adw_message_dialog_set_response_label (ADW_MESSAGE_DIALOG (self), "reject", _("_Close"));
}

static void
gw_pairing_dialog_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), GW_TYPE_PAIRING_DIALOG);
  G_OBJECT_CLASS (gw_pairing_dialog_parent_class)->dispose (object);
}

static void
gw_pairing_dialog_class_init (GwPairingDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_pairing_dialog_dispose;
  GW_PROMPT_DIALOG_CLASS (klass)->answer_for = gw_pairing_dialog_answer_for;
  GW_PROMPT_DIALOG_CLASS (klass)->ended = gw_pairing_dialog_ended;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-pairing-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, GwPairingDialog, code_label);
  gtk_widget_class_bind_template_child (widget_class, GwPairingDialog, question_label);
  gtk_widget_class_bind_template_child (widget_class, GwPairingDialog, remaining_label);
}

static void
gw_pairing_dialog_init (GwPairingDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
gw_pairing_dialog_new (GtkWindow    *parent,
                       GwAppState   *state,
                       GwPromptItem *prompt)
{
  GwPairingDialog *self;
  const GwPromptInfo *info;
  g_autofree char *heading = NULL;
  g_autofree char *code = NULL;
  g_autofree char *body = NULL;

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);
  g_return_val_if_fail (GW_IS_PROMPT_ITEM (prompt), NULL);

  self = g_object_new (GW_TYPE_PAIRING_DIALOG, "transient-for", parent, NULL);
  info = gw_prompt_item_get_info (prompt);

  /* Translators: %s is the device name */
  heading = g_strdup_printf (_("Pair “%s”?"), info->pne_name ? info->pne_name : _("Device"));
  adw_message_dialog_set_heading (ADW_MESSAGE_DIALOG (self), heading);
  if (info->entity_type != NULL || info->address != NULL)
    {
      /* Translators: "sensor at 192.168.1.23. Check that the device shows the same code." */
      g_autofree char *type = gw_format_capitalize (gw_format_type_name (info->entity_type));

      body = g_strdup_printf (_("%s at %s. Check that the device shows the same code."),
                              type,
                              info->address ? info->address : _("an unknown address"));
      adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self), body);
    }
  code = gw_format_code (info->code);
  gtk_label_set_label (self->code_label, code);
  gw_prompt_dialog_track (GW_PROMPT_DIALOG (self), state, prompt, self->remaining_label);
  return GTK_WIDGET (self);
}

GwPromptItem *
gw_pairing_dialog_get_prompt (GwPairingDialog *self)
{
  return gw_prompt_dialog_get_prompt (GW_PROMPT_DIALOG (self));
}

const char *
gw_pairing_dialog_get_code_text (GwPairingDialog *self)
{
  return gtk_label_get_label (self->code_label);
}

const char *
gw_pairing_dialog_get_remaining_text (GwPairingDialog *self)
{
  return gw_prompt_dialog_get_remaining_text (GW_PROMPT_DIALOG (self));
}
