/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-approval-dialog.h"
#include "gw-format.h"

struct _GwApprovalDialog
{
  GwPromptDialog  parent_instance;

  GtkLabel       *reason_label;
  GtkLabel       *remaining_label;
};

G_DEFINE_FINAL_TYPE (GwApprovalDialog, gw_approval_dialog, GW_TYPE_PROMPT_DIALOG)

static GwPromptAnswer
gw_approval_dialog_answer_for (GwPromptDialog *dialog,
                               const char     *response)
{
  if (g_strcmp0 (response, "allow-once") == 0)
    return GW_ANSWER_ALLOW_ONCE;
  if (g_strcmp0 (response, "allow-always") == 0)
    return GW_ANSWER_ALLOW_ALWAYS;
  return GW_ANSWER_DENY;
}

static void
gw_approval_dialog_ended (GwPromptDialog *dialog,
                          GwPromptStatus  status)
{
  GwApprovalDialog *self = GW_APPROVAL_DIALOG (dialog);

  adw_message_dialog_set_heading (ADW_MESSAGE_DIALOG (self),
                                  status == GW_PROMPT_STATUS_EXPIRED ? _("Connection Request Expired")
                                                                     : _("Device Left"));
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self),
                               status == GW_PROMPT_STATUS_EXPIRED
                               ? _("Nobody answered in time, so the device was denied. It can ask again.")
                               : _("The device went away before you answered."));
  gtk_widget_set_visible (GTK_WIDGET (self->reason_label), FALSE);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "allow-once", FALSE);
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (self), "allow-always", FALSE);
  adw_message_dialog_set_response_label (ADW_MESSAGE_DIALOG (self), "deny", _("_Close"));
}

static void
gw_approval_dialog_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), GW_TYPE_APPROVAL_DIALOG);
  G_OBJECT_CLASS (gw_approval_dialog_parent_class)->dispose (object);
}

static void
gw_approval_dialog_class_init (GwApprovalDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_approval_dialog_dispose;
  GW_PROMPT_DIALOG_CLASS (klass)->answer_for = gw_approval_dialog_answer_for;
  GW_PROMPT_DIALOG_CLASS (klass)->ended = gw_approval_dialog_ended;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-approval-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, GwApprovalDialog, reason_label);
  gtk_widget_class_bind_template_child (widget_class, GwApprovalDialog, remaining_label);
}

static void
gw_approval_dialog_init (GwApprovalDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
gw_approval_dialog_new (GtkWindow    *parent,
                        GwAppState   *state,
                        GwPromptItem *prompt)
{
  GwApprovalDialog *self;
  const GwPromptInfo *info;
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *type = NULL;
  GString *what;

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);
  g_return_val_if_fail (GW_IS_PROMPT_ITEM (prompt), NULL);

  self = g_object_new (GW_TYPE_APPROVAL_DIALOG, "transient-for", parent, NULL);
  info = gw_prompt_item_get_info (prompt);

  /* Translators: %s is the device name */
  heading = g_strdup_printf (_("Allow “%s” to Connect?"), info->pne_name ? info->pne_name : _("Device"));
  adw_message_dialog_set_heading (ADW_MESSAGE_DIALOG (self), heading);

  type = gw_format_capitalize (gw_format_type_name (info->entity_type));
  what = g_string_new (type);
  if (info->manufacturer || info->model)
    g_string_append_printf (what, " · %s%s%s", info->manufacturer ? info->manufacturer : "",
                            info->manufacturer && info->model ? " " : "", info->model ? info->model : "");
  if (info->first_time)
    g_string_append_printf (what, " · %s", _("first time on this network"));
  body = g_string_free (what, FALSE);
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self), body);

  if (info->rule_id != NULL)
    /* Translators: %s is a policy rule ID */
    reason = g_strdup_printf (_("Your server asks you because its rule %s says to ask."), info->rule_id);
  else
    reason = g_strdup (_("Your server asks you because no rule covers this device."));
  gtk_label_set_label (self->reason_label, reason);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->reason_label), info->reason);

  gw_prompt_dialog_track (GW_PROMPT_DIALOG (self), state, prompt, self->remaining_label);
  return GTK_WIDGET (self);
}

GwPromptItem *
gw_approval_dialog_get_prompt (GwApprovalDialog *self)
{
  return gw_prompt_dialog_get_prompt (GW_PROMPT_DIALOG (self));
}

const char *
gw_approval_dialog_get_remaining_text (GwApprovalDialog *self)
{
  return gw_prompt_dialog_get_remaining_text (GW_PROMPT_DIALOG (self));
}
