/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-copy-label.h"
#include "gw-device-detail.h"
#include "gw-format.h"
#include "gw-timeline.h"

struct _GwDeviceDetail
{
  AdwBin        parent_instance;

  GwAppState   *state;
  GwEntityItem *entity;
  gulong        notify_id;
  gboolean      show_back;

  GtkStack     *stack;
  GtkWidget    *back_button;
  GtkLabel     *name_label;
  GtkLabel     *description_label;
  AdwActionRow *state_row;
  GtkImage     *state_icon;
  GtkImage     *type_icon;
  GwCopyLabel  *id_label;
  AdwActionRow *address_row;
  AdwActionRow *key_row;
  AdwActionRow *session_row;
  AdwActionRow *services_row;
  GwTimeline   *timeline;
  GtkButton    *block_button;
};

G_DEFINE_FINAL_TYPE (GwDeviceDetail, gw_device_detail, ADW_TYPE_BIN)

enum { PROP_0, PROP_SHOW_BACK, N_PROPS };
static GParamSpec *properties[N_PROPS];
enum { BACK, SHOW_ACTIVITY, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
update (GwDeviceDetail *self)
{
  GwEntityItem *e = self->entity;
  g_autofree char *desc = NULL;
  g_autofree char *key = NULL;
  g_autofree char *issued = NULL;
  g_autofree char *session = NULL;
  const char *type;
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;
  const char *const *services;

  if (e == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "device");
  gtk_label_set_label (self->name_label, gw_entity_item_get_name (e));
  gtk_image_set_from_icon_name (self->type_icon, gw_format_type_icon (gw_entity_item_get_entity_type (e)));
  type = gw_entity_item_get_type_name (e);
  desc = *gw_entity_item_get_description (e)
         ? g_strdup_printf ("%s · %s", type, gw_entity_item_get_description (e))
         : g_strdup (type);
  gtk_label_set_label (self->description_label, desc);
  adw_action_row_set_subtitle (self->state_row, gw_entity_item_get_state_text (e));
  gtk_image_set_from_icon_name (self->state_icon, gw_format_entity_state_icon (gw_entity_item_get_state (e)));
  gw_copy_label_set_text (self->id_label, gw_entity_item_get_pne_id (e));
  adw_action_row_set_subtitle (self->address_row,
                               gw_entity_item_get_address (e) ? gw_entity_item_get_address (e) : _("Unknown"));

  if (gw_entity_item_get_key_id (e) != NULL)
    {
      gint64 age = now_s - gw_entity_item_get_key_issued_at (e);
      g_autofree char *rel = gw_format_relative_unix (gw_entity_item_get_key_issued_at (e), now_s);

      issued = age < 60 ? g_strdup (_("issued just now"))
                        /* Translators: "issued 3 days ago" */
                        : g_strdup_printf (_("issued %s ago"), rel);
      /* Translators: "Assigned by the server · key-0123456789abcdef · issued 3 days ago" */
      key = g_strdup_printf (_("%s · %s · %s"),
                             g_strcmp0 (gw_entity_item_get_key_mode (e), "gateway") == 0
                             ? _("Assigned by this gateway") : _("Assigned by the server"),
                             gw_entity_item_get_key_id (e), issued);
    }
  adw_action_row_set_subtitle (self->key_row, key ? key : _("No key"));

  if (gw_entity_item_get_session_id (e) != NULL && gw_entity_item_get_session_expires_at (e) > 0)
    {
      g_autofree char *until = gw_format_clock_unix (gw_entity_item_get_session_expires_at (e));
      session = g_strdup_printf (_("Until %s"), until);
    }
  adw_action_row_set_subtitle (self->session_row, session ? session : _("No session"));

  services = gw_entity_item_get_services (e);
  if (services != NULL && services[0] != NULL)
    {
      g_autofree char *joined = g_strjoinv ("\n", (char **) services);
      adw_action_row_set_subtitle (self->services_row, joined);
    }
  else
    adw_action_row_set_subtitle (self->services_row, _("None announced"));

  gtk_button_set_label (self->block_button, gw_entity_item_get_blocked (e) ? _("_Unblock") : _("_Block"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->block_button),
                               gw_entity_item_get_blocked (e) ? _("Let the device connect again")
                                                              : _("Refuse the device’s connections without removing it"));
  if (self->state != NULL)
    gw_timeline_set_flow (self->timeline, gw_app_state_get_journey (self->state, gw_entity_item_get_pne_id (e)));
}

void
gw_device_detail_set_entity (GwDeviceDetail *self,
                             GwEntityItem   *entity)
{
  g_return_if_fail (GW_IS_DEVICE_DETAIL (self));

  if (self->entity == entity)
    return;
  if (self->entity != NULL)
    g_clear_signal_handler (&self->notify_id, self->entity);
  g_set_object (&self->entity, entity);
  if (entity != NULL)
    self->notify_id = g_signal_connect_swapped (entity, "notify", G_CALLBACK (update), self);
  else
    gw_timeline_set_flow (self->timeline, NULL);
  {
    static const char *actions[] = { "device.rename", "device.rekey", "device.block", "device.remove",
                                     "device.show-activity", "device.copy-id" };
    for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
      gtk_widget_action_set_enabled (GTK_WIDGET (self), actions[i], entity != NULL);
  }
  update (self);
}

GwEntityItem *
gw_device_detail_get_entity (GwDeviceDetail *self)
{
  return self->entity;
}

GtkWidget *
gw_device_detail_get_timeline (GwDeviceDetail *self)
{
  return GTK_WIDGET (self->timeline);
}

void
gw_device_detail_set_state (GwDeviceDetail *self,
                            GwAppState     *state)
{
  g_return_if_fail (GW_IS_DEVICE_DETAIL (self));
  g_set_object (&self->state, state);
}

static void
send_for_entity (GwDeviceDetail *self,
                 GwCommandType   type,
                 GwCommand     **out)
{
  GwCommand *cmd = gw_command_new (type);

  cmd->pne_id = g_strdup (gw_entity_item_get_pne_id (self->entity));
  if (out != NULL)
    *out = cmd;
  else
    gw_app_state_send (self->state, cmd);
}

static void
on_rename_response (AdwMessageDialog *dialog,
                    const char       *response,
                    GwDeviceDetail   *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  GwCommand *cmd = NULL;

  if (g_strcmp0 (response, "rename") != 0 || *name == '\0' || self->entity == NULL)
    return;
  send_for_entity (self, GW_COMMAND_RENAME, &cmd);
  cmd->name = g_steal_pointer (&name);
  gw_app_state_send (self->state, cmd);
}

static void
rename_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (widget);
  GtkWidget *dialog, *entry;

  if (self->entity == NULL)
    return;
  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (widget)), _("Rename Device"), NULL);
  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), gw_entity_item_get_name (self->entity));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Device name"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "rename", _("_Rename"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "rename", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "rename");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_rename_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
rekey_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *param)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (widget);

  if (self->entity != NULL)
    send_for_entity (self, GW_COMMAND_REKEY, NULL);
}

static void
block_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *param)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (widget);
  GwCommand *cmd = NULL;

  if (self->entity == NULL)
    return;
  send_for_entity (self, GW_COMMAND_BLOCK, &cmd);
  cmd->flag = !gw_entity_item_get_blocked (self->entity);
  gw_app_state_send (self->state, cmd);
}

static void
on_remove_response (AdwMessageDialog *dialog,
                    const char       *response,
                    GwDeviceDetail   *self)
{
  if (g_strcmp0 (response, "remove") == 0 && self->entity != NULL)
    send_for_entity (self, GW_COMMAND_REMOVE, NULL);
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (widget);
  GtkWidget *dialog;
  g_autofree char *heading = NULL;

  if (self->entity == NULL)
    return;
  /* Translators: %s is a device name */
  heading = g_strdup_printf (_("Remove “%s” From Your Network?"), gw_entity_item_get_name (self->entity));
  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (widget)), heading,
                                   _("Its key is revoked and its sessions end, even if it is unreachable now. To add it back, pair it again."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "remove", _("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_remove_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
show_activity_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *param)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (widget);

  if (self->entity != NULL)
    g_signal_emit (self, signals[SHOW_ACTIVITY], 0, gw_entity_item_get_pne_id (self->entity));
}

static void
copy_id_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  gw_copy_label_copy (GW_DEVICE_DETAIL (widget)->id_label);
}

static void
on_back_clicked (GwDeviceDetail *self)
{
  g_signal_emit (self, signals[BACK], 0);
}

static void
on_timeline_retry (GwDeviceDetail *self,
                   guint           step)
{
  const char *address;
  GwCommand *cmd;

  if (self->entity == NULL)
    return;
  address = gw_entity_item_get_address (self->entity);
  if ((step == GW_STEP_2 || step == GW_STEP_3BD) && address != NULL)
    {
      cmd = gw_command_new (GW_COMMAND_PAIR_ADDRESS);
      cmd->address = g_strdup (address);
    }
  else
    cmd = gw_command_new (GW_COMMAND_CONNECT);
  gw_app_state_send (self->state, cmd);
}

static void
gw_device_detail_dispose (GObject *object)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (object);

  if (self->entity != NULL)
    g_clear_signal_handler (&self->notify_id, self->entity);
  g_clear_object (&self->entity);
  g_clear_object (&self->state);
  /* Unparent the child before the template drops it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_DEVICE_DETAIL);
  G_OBJECT_CLASS (gw_device_detail_parent_class)->dispose (object);
}

static void
gw_device_detail_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_SHOW_BACK: g_value_set_boolean (value, GW_DEVICE_DETAIL (object)->show_back); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_device_detail_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  GwDeviceDetail *self = GW_DEVICE_DETAIL (object);

  switch (prop_id)
    {
    case PROP_SHOW_BACK:
      self->show_back = g_value_get_boolean (value);
      gtk_widget_set_visible (self->back_button, self->show_back);
      g_object_notify_by_pspec (object, pspec);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_device_detail_class_init (GwDeviceDetailClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_device_detail_dispose;
  object_class->get_property = gw_device_detail_get_property;
  object_class->set_property = gw_device_detail_set_property;

  properties[PROP_SHOW_BACK] = g_param_spec_boolean ("show-back", NULL, NULL, FALSE,
                                                     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  signals[BACK] = g_signal_new ("back", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SHOW_ACTIVITY] = g_signal_new ("show-activity", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (GW_TYPE_TIMELINE);
  g_type_ensure (GW_TYPE_COPY_LABEL);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-device-detail.ui");
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, stack);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, back_button);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, name_label);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, description_label);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, state_row);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, state_icon);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, type_icon);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, id_label);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, address_row);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, key_row);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, session_row);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, services_row);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, timeline);
  gtk_widget_class_bind_template_child (widget_class, GwDeviceDetail, block_button);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);

  gtk_widget_class_install_action (widget_class, "device.rename", NULL, rename_action);
  gtk_widget_class_install_action (widget_class, "device.rekey", NULL, rekey_action);
  gtk_widget_class_install_action (widget_class, "device.block", NULL, block_action);
  gtk_widget_class_install_action (widget_class, "device.remove", NULL, remove_action);
  gtk_widget_class_install_action (widget_class, "device.show-activity", NULL, show_activity_action);
  gtk_widget_class_install_action (widget_class, "device.copy-id", NULL, copy_id_action);
}

static void
gw_device_detail_init (GwDeviceDetail *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_set_visible (self->back_button, FALSE);
  g_signal_connect_swapped (self->timeline, "retry", G_CALLBACK (on_timeline_retry), self);
  update (self);
}

GtkWidget *
gw_device_detail_new (void)
{
  return g_object_new (GW_TYPE_DEVICE_DETAIL, NULL);
}
