/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-preferences-window.h"

struct _GwPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  GSettings            *settings;
  GwAppState           *state;

  AdwActionRow         *server_row;
  AdwActionRow         *account_row;
  GtkSpinButton        *pairing_spin;
  GtkSpinButton        *port_spin;
  GtkSwitch            *discovery_switch;
  GtkSwitch            *notifications_switch;
  GtkSwitch            *background_switch;
};

G_DEFINE_FINAL_TYPE (GwPreferencesWindow, gw_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
update_account (GwPreferencesWindow *self)
{
  const GwSessionInfo *s = gw_app_state_get_session (self->state);
  g_autofree char *account = NULL;
  gboolean enrolled = gw_app_state_get_enrolled (self->state);

  adw_action_row_set_subtitle (self->server_row,
                               s->server_url ? s->server_url : _("Not enrolled"));
  if (enrolled)
    /* Translators: "alice · pn-… · gateway gw-…" */
    account = g_strdup_printf (_("%s · network %s · gateway %s"),
                               s->user_id ? s->user_id : "", s->pn_id ? s->pn_id : "",
                               s->gateway_name ? s->gateway_name : (s->gateway_id ? s->gateway_id : ""));
  adw_action_row_set_subtitle (self->account_row, account ? account : _("Not enrolled"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.forget", enrolled);
}

static void
on_forget_response (AdwMessageDialog    *dialog,
                    const char          *response,
                    GwPreferencesWindow *self)
{
  if (g_strcmp0 (response, "forget") != 0)
    return;
  gw_app_state_send (self->state, gw_command_new (GW_COMMAND_FORGET_ENROLLMENT));
  gtk_window_close (GTK_WINDOW (self));
}

static void
forget_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  GwPreferencesWindow *self = GW_PREFERENCES_WINDOW (widget);
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Forget This Network?"),
                                   _("This gateway’s credentials are deleted from this computer. To use it again, enroll with a new invitation."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "forget", _("_Forget"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "forget", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_forget_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
gw_preferences_window_dispose (GObject *object)
{
  GwPreferencesWindow *self = GW_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->state);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_PREFERENCES_WINDOW);
  G_OBJECT_CLASS (gw_preferences_window_parent_class)->dispose (object);
}

static void
gw_preferences_window_class_init (GwPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, account_row);
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, pairing_spin);
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, port_spin);
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, discovery_switch);
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, GwPreferencesWindow, background_switch);
  gtk_widget_class_install_action (widget_class, "prefs.forget", NULL, forget_action);
}

static void
gw_preferences_window_init (GwPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
gw_preferences_window_new (GtkWindow  *parent,
                           GSettings  *settings,
                           GwAppState *state)
{
  GwPreferencesWindow *self;
  g_autoptr(GSimpleActionGroup) group = g_simple_action_group_new ();
  g_autoptr(GAction) mode = NULL;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);

  self = g_object_new (GW_TYPE_PREFERENCES_WINDOW, "transient-for", parent, NULL);
  self->settings = g_object_ref (settings);
  self->state = g_object_ref (state);

  mode = g_settings_create_action (settings, "key-assignment-mode");
  g_action_map_add_action (G_ACTION_MAP (group), mode);
  gtk_widget_insert_action_group (GTK_WIDGET (self), "prefs", G_ACTION_GROUP (group));

  g_settings_bind (settings, "pairing-window-seconds", self->pairing_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "listen-port", self->port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "discovery-enabled", self->discovery_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "notifications-enabled", self->notifications_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "run-in-background", self->background_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (state, "session-changed", G_CALLBACK (update_account), self, G_CONNECT_SWAPPED);
  update_account (self);
  return GTK_WIDGET (self);
}
