/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-discovered-item.h"
#include "gw-error-text.h"
#include "gw-format.h"
#include "gw-network-page.h"
#include "gw-timeline.h"

struct _GwNetworkPage
{
  AdwBin               parent_instance;

  GwAppState          *state;
  guint                pairing_total;   /* seconds when the window opened */

  AdwActionRow        *session_row;
  GtkImage            *session_icon;
  GtkWidget           *connect_button;
  GtkWidget           *disconnect_button;
  AdwActionRow        *pn_row;
  AdwPreferencesGroup *waiting_group;
  GtkListBox          *prompt_list;
  AdwPreferencesGroup *progress_group;
  GwTimeline          *timeline;
  AdwActionRow        *pairing_row;
  GtkLevelBar         *pairing_level;
  GtkSwitch           *pairing_switch;
  GtkListBox          *discovered_list;
  char                *counts_text;
};

G_DEFINE_FINAL_TYPE (GwNetworkPage, gw_network_page, ADW_TYPE_BIN)

enum { REVIEW_PROMPT, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
update_session (GwNetworkPage *self)
{
  const GwSessionInfo *s = gw_app_state_get_session (self->state);
  const char *server = s->server_name ? s->server_name : _("the server");
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  const char *icon = "network-offline-symbolic";
  gboolean connect = FALSE, disconnect = FALSE;

  switch (s->state)
    {
    case GW_SESSION_NOT_ENROLLED:
      title = g_strdup (_("Not enrolled"));
      subtitle = g_strdup (_("This computer is not the gateway of a personal network yet."));
      break;
    case GW_SESSION_DISCONNECTED:
      /* Translators: %s is the server's host name */
      title = g_strdup_printf (_("Not connected to %s"), server);
      subtitle = s->last_error ? gw_error_text_for_session (s->last_error, s)
                               : g_strdup (_("Connect to let devices join and connect."));
      connect = TRUE;
      break;
    case GW_SESSION_CONNECTING:
      title = g_strdup_printf (_("Connecting to %s…"), server);
      subtitle = g_strdup (_("Proving this gateway’s identity to the server."));
      icon = "emblem-synchronizing-symbolic";
      disconnect = TRUE;
      break;
    case GW_SESSION_CONNECTED:
      {
        g_autofree char *until = gw_format_clock_unix (s->expires_at);
        /* Translators: "Connected to cpns.example.org as alice" */
        title = g_strdup_printf (_("Connected to %s as %s"), server, s->user_id ? s->user_id : "");
        subtitle = s->expires_at ? g_strdup_printf (_("Session until %s, renewed automatically"), until)
                                 : g_strdup (_("Session open"));
        icon = "network-transmit-receive-symbolic";
        disconnect = TRUE;
      }
      break;
    case GW_SESSION_RETRYING:
      /* Translators: "Not connected — retrying in 12 s" */
      title = g_strdup_printf (_("Not connected — retrying in %u s"), gw_app_state_get_retry_in (self->state));
      subtitle = s->last_error ? gw_error_text_for_session (s->last_error, s) : g_strdup ("");
      connect = TRUE;
      break;
    default:
      title = g_strdup ("");
      break;
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->session_row), title);
  adw_action_row_set_subtitle (self->session_row, subtitle ? subtitle : "");
  gtk_image_set_from_icon_name (self->session_icon, icon);
  if (s->state == GW_SESSION_CONNECTED)
    gtk_widget_add_css_class (GTK_WIDGET (self->session_icon), "success");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->session_icon), "success");
  gtk_widget_set_visible (self->connect_button, connect);
  gtk_widget_set_visible (self->disconnect_button, disconnect);
}

static void
update_counts (GwNetworkPage *self)
{
  const GwSessionInfo *s = gw_app_state_get_session (self->state);
  guint n = g_list_model_get_n_items (gw_app_state_get_entities (self->state));
  g_autofree char *title = NULL;
  g_autofree char *devices = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u device", "%u devices", n), n);

  /* Translators: "12 devices · 9 connected · 2 waiting for you" */
  g_free (self->counts_text);
  self->counts_text = g_strdup_printf (_("%s · %u connected · %u waiting for you"), devices,
                                       gw_app_state_get_n_connected (self->state),
                                       gw_app_state_get_n_waiting (self->state));
  title = g_strdup_printf (_("Personal network “%s”"), s->pn_id ? s->pn_id : _("not known yet"));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->pn_row), title);
  adw_action_row_set_subtitle (self->pn_row, self->counts_text);
  gtk_widget_set_visible (GTK_WIDGET (self->waiting_group),
                          g_list_model_get_n_items (gw_app_state_get_prompts (self->state)) > 0);
}

static void
update_pairing (GwNetworkPage *self)
{
  gboolean open = gw_app_state_get_pairing_open (self->state);
  guint remaining = gw_app_state_get_pairing_remaining (self->state);
  g_autofree char *subtitle = NULL;

  if (open)
    {
      g_autofree char *left = gw_format_remaining (remaining);
      /* Translators: "Open · 1:58 left" */
      subtitle = g_strdup_printf (_("Open · %s left"), left);
      if (remaining > self->pairing_total)
        self->pairing_total = remaining;
      gtk_level_bar_set_value (self->pairing_level,
                               self->pairing_total ? (double) remaining / self->pairing_total : 0);
    }
  else
    {
      subtitle = g_strdup (_("Closed — devices cannot pair"));
      self->pairing_total = 0;
    }
  adw_action_row_set_subtitle (self->pairing_row, subtitle);
  gtk_widget_set_visible (GTK_WIDGET (self->pairing_level), open);
  gtk_switch_set_state (self->pairing_switch, open);
  gtk_switch_set_active (self->pairing_switch, open);
}

static void
update_progress (GwNetworkPage *self)
{
  GwFlowItem *flow = gw_app_state_get_active_flow (self->state);
  g_autofree char *title = NULL;

  gw_timeline_set_flow (self->timeline, flow);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_group), flow != NULL);
  if (flow == NULL)
    return;
  /* Translators: %s is the device name */
  title = g_strdup_printf (_("Latest: %s"), gw_flow_item_get_name (flow) ? gw_flow_item_get_name (flow) : _("New device"));
  adw_preferences_group_set_title (self->progress_group, title);
}

static gboolean
on_pairing_state_set (GwNetworkPage *self,
                      gboolean       state)
{
  if (state != gw_app_state_get_pairing_open (self->state))
    gw_network_page_set_pairing_open (self, state);
  return TRUE;  /* the switch follows the engine's answer */
}

void
gw_network_page_set_pairing_open (GwNetworkPage *self,
                                  gboolean       open)
{
  GwCommand *cmd = gw_command_new (open ? GW_COMMAND_OPEN_PAIRING_WINDOW : GW_COMMAND_CLOSE_PAIRING_WINDOW);

  g_return_if_fail (GW_IS_NETWORK_PAGE (self));
  cmd->seconds = 0;
  gw_app_state_send (self->state, cmd);
}

void
gw_network_page_activate_connect (GwNetworkPage *self)
{
  g_return_if_fail (GW_IS_NETWORK_PAGE (self));
  gw_app_state_send (self->state, gw_command_new (GW_COMMAND_CONNECT));
}

static void
on_disconnect_clicked (GwNetworkPage *self)
{
  gw_app_state_send (self->state, gw_command_new (GW_COMMAND_DISCONNECT));
}

static void
on_pair_address_response (AdwMessageDialog *dialog,
                          const char       *response,
                          GwNetworkPage    *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *address = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  GwCommand *cmd;

  if (g_strcmp0 (response, "pair") != 0 || *address == '\0')
    return;
  cmd = gw_command_new (GW_COMMAND_PAIR_ADDRESS);
  cmd->address = g_steal_pointer (&address);
  gw_app_state_send (self->state, cmd);
}

void
gw_network_page_pair_address (GwNetworkPage *self)
{
  GtkWidget *dialog, *entry;

  g_return_if_fail (GW_IS_NETWORK_PAGE (self));

  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                   _("Pair by Address"),
                                   _("Enter the address and port the device shows, for example 192.168.1.23:7472."));
  entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), "192.168.1.23:7472");
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Device address"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "pair", _("_Pair"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "pair", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "pair");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_signal_connect (dialog, "response", G_CALLBACK (on_pair_address_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_pair_clicked (GtkButton     *button,
                 GwNetworkPage *self)
{
  GwDiscoveredItem *item = g_object_get_data (G_OBJECT (button), "item");
  GwCommand *cmd = gw_command_new (GW_COMMAND_PAIR_DISCOVERED);

  cmd->discovered_id = g_strdup (gw_discovered_item_get_id (item));
  gw_app_state_send (self->state, cmd);
}

static GtkWidget *
create_discovered_row (gpointer item,
                       gpointer data)
{
  GwNetworkPage *self = data;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new ();
  GtkWidget *button = gtk_button_new_with_mnemonic (_("_Pair"));
  g_autofree char *label = NULL;

  g_object_bind_property (item, "name", row, "title", G_BINDING_SYNC_CREATE);
  g_object_bind_property (item, "subtitle", row, "subtitle", G_BINDING_SYNC_CREATE);
  g_object_bind_property (item, "type-icon", icon, "icon-name", G_BINDING_SYNC_CREATE);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  /* Translators: accessible label of the Pair button, %s is a device name */
  label = g_strdup_printf (_("Pair %s"), gw_discovered_item_get_name (item));
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  g_object_set_data_full (G_OBJECT (button), "item", g_object_ref (item), g_object_unref);
  g_signal_connect (button, "clicked", G_CALLBACK (on_pair_clicked), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  return row;
}

static void
on_review_clicked (GtkButton     *button,
                   GwNetworkPage *self)
{
  g_signal_emit (self, signals[REVIEW_PROMPT], 0, g_object_get_data (G_OBJECT (button), "item"));
}

static void
on_dismiss_clicked (GtkButton     *button,
                    GwNetworkPage *self)
{
  gw_app_state_dismiss_prompt (self->state, g_object_get_data (G_OBJECT (button), "item"));
}

static GtkWidget *
create_prompt_row (gpointer item,
                   gpointer data)
{
  GwNetworkPage *self = data;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new ();
  GtkWidget *review = gtk_button_new_with_mnemonic (_("_Review…"));
  GtkWidget *dismiss = gtk_button_new_with_mnemonic (_("_Dismiss"));

  g_object_bind_property (item, "title", row, "title", G_BINDING_SYNC_CREATE);
  g_object_bind_property (item, "status-text", row, "subtitle", G_BINDING_SYNC_CREATE);
  g_object_bind_property (item, "type-icon", icon, "icon-name", G_BINDING_SYNC_CREATE);
  g_object_bind_property (item, "pending", review, "visible", G_BINDING_SYNC_CREATE);
  g_object_bind_property (item, "pending", dismiss, "visible", G_BINDING_SYNC_CREATE | G_BINDING_INVERT_BOOLEAN);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  for (GtkWidget *b = review; b != NULL; b = b == review ? dismiss : NULL)
    {
      gtk_widget_set_valign (b, GTK_ALIGN_CENTER);
      g_object_set_data_full (G_OBJECT (b), "item", g_object_ref (item), g_object_unref);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), b);
    }
  gtk_widget_add_css_class (review, "suggested-action");
  g_signal_connect (review, "clicked", G_CALLBACK (on_review_clicked), self);
  g_signal_connect (dismiss, "clicked", G_CALLBACK (on_dismiss_clicked), self);
  return row;
}

static void
on_timeline_retry (GwNetworkPage *self,
                   guint          step)
{
  gw_app_state_send (self->state, gw_command_new (GW_COMMAND_CONNECT));
}

static void
gw_network_page_dispose (GObject *object)
{
  GwNetworkPage *self = GW_NETWORK_PAGE (object);

  if (self->state != NULL)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_object (&self->state);
  g_clear_pointer (&self->counts_text, g_free);
  /* Unparent the child before the template drops it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_NETWORK_PAGE);
  G_OBJECT_CLASS (gw_network_page_parent_class)->dispose (object);
}

static void
gw_network_page_class_init (GwNetworkPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_network_page_dispose;

  signals[REVIEW_PROMPT] = g_signal_new ("review-prompt", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, GW_TYPE_PROMPT_ITEM);

  g_type_ensure (GW_TYPE_TIMELINE);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-network-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, session_row);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, session_icon);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, connect_button);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, disconnect_button);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, pn_row);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, waiting_group);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, prompt_list);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, progress_group);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, timeline);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, pairing_row);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, pairing_level);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, pairing_switch);
  gtk_widget_class_bind_template_child (widget_class, GwNetworkPage, discovered_list);
  gtk_widget_class_bind_template_callback (widget_class, gw_network_page_activate_connect);
  gtk_widget_class_bind_template_callback (widget_class, on_disconnect_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_pairing_state_set);
  gtk_widget_class_bind_template_callback (widget_class, gw_network_page_pair_address);
}

static void
gw_network_page_init (GwNetworkPage *self)
{
  GtkWidget *placeholder;

  gtk_widget_init_template (GTK_WIDGET (self));

  placeholder = gtk_label_new (_("No devices nearby. Devices in pairing mode appear here."));
  gtk_label_set_wrap (GTK_LABEL (placeholder), TRUE);
  gtk_widget_add_css_class (placeholder, "dim-label");
  gtk_widget_set_margin_top (placeholder, 18);
  gtk_widget_set_margin_bottom (placeholder, 18);
  gtk_widget_set_margin_start (placeholder, 12);
  gtk_widget_set_margin_end (placeholder, 12);
  gtk_list_box_set_placeholder (self->discovered_list, placeholder);
  g_signal_connect_swapped (self->timeline, "retry", G_CALLBACK (on_timeline_retry), self);
}

GtkWidget *
gw_network_page_new (GwAppState *state)
{
  GwNetworkPage *self;

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);

  self = g_object_new (GW_TYPE_NETWORK_PAGE, NULL);
  self->state = g_object_ref (state);
  g_signal_connect_object (state, "session-changed", G_CALLBACK (update_session), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "session-changed", G_CALLBACK (update_counts), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "counts-changed", G_CALLBACK (update_counts), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "pairing-window-changed", G_CALLBACK (update_pairing), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "active-flow-changed", G_CALLBACK (update_progress), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (gw_app_state_get_prompts (state), "items-changed",
                           G_CALLBACK (update_counts), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (gw_app_state_get_entities (state), "items-changed",
                           G_CALLBACK (update_counts), self, G_CONNECT_SWAPPED);
  gtk_list_box_bind_model (self->discovered_list, gw_app_state_get_discovered (state),
                           create_discovered_row, self, NULL);
  gtk_list_box_bind_model (self->prompt_list, gw_app_state_get_prompts (state),
                           create_prompt_row, self, NULL);
  update_session (self);
  update_counts (self);
  update_pairing (self);
  update_progress (self);
  return GTK_WIDGET (self);
}

const char *
gw_network_page_get_session_title (GwNetworkPage *self)
{
  return adw_preferences_row_get_title (ADW_PREFERENCES_ROW (self->session_row));
}

const char *
gw_network_page_get_session_subtitle (GwNetworkPage *self)
{
  return adw_action_row_get_subtitle (self->session_row);
}

const char *
gw_network_page_get_counts_text (GwNetworkPage *self)
{
  return self->counts_text;
}

const char *
gw_network_page_get_pairing_text (GwNetworkPage *self)
{
  return adw_action_row_get_subtitle (self->pairing_row);
}

gboolean
gw_network_page_get_connect_visible (GwNetworkPage *self)
{
  return gtk_widget_get_visible (self->connect_button);
}
