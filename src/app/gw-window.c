/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-activity-page.h"
#include "gw-approval-dialog.h"
#include "gw-device-detail.h"
#include "gw-devices-page.h"
#include "gw-error-text.h"
#include "gw-first-run-page.h"
#include "gw-network-page.h"
#include "gw-pairing-dialog.h"
#include "gw-window.h"

struct _GwWindow
{
  AdwApplicationWindow  parent_instance;

  GwAppState           *state;
  GHashTable           *dialogs;       /* prompt id → dialog (weak) */
  guint                 n_toasts;
  AdwToast             *toast;         /* shown or queued, until dismissed */

  AdwToastOverlay      *toast_overlay;
  GtkStack             *main_stack;
  AdwBin               *first_run_bin;
  AdwViewStack         *view_stack;

  GtkWidget            *first_run_page;
  GtkWidget            *network_page;
  GtkWidget            *devices_page;
  GtkWidget            *activity_page;
  AdwViewStackPage     *network_stack_page;
};

G_DEFINE_FINAL_TYPE (GwWindow, gw_window, ADW_TYPE_APPLICATION_WINDOW)

static void
on_toast_dismissed (GwWindow *self,
                    AdwToast *toast)
{
  if (self->toast == toast)
    g_clear_object (&self->toast);
}

/* One toast at a time: while it is up, a new text replaces its title. A
 * burst of events (dozens of devices connecting at once) queued one toast
 * each, shown for minutes, and libadwaita 1.2's overlay then used a freed
 * toast when one was dismissed before its show animation ended. */
void
gw_window_add_toast (GwWindow   *self,
                     const char *text)
{
  AdwToast *toast;

  g_return_if_fail (GW_IS_WINDOW (self));
  self->n_toasts++;
  if (self->toast != NULL)
    {
      adw_toast_set_title (self->toast, text);
      return;
    }
  toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 4);
  self->toast = g_object_ref (toast);
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_toast_dismissed), self,
                           G_CONNECT_SWAPPED);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}


guint
gw_window_get_n_toasts (GwWindow *self)
{
  return self->n_toasts;
}

static void
update_enrolled (GwWindow *self)
{
  gboolean enrolled = gw_app_state_get_enrolled (self->state);

  /* Animate only what the user can see change. */
  gtk_stack_set_transition_type (self->main_stack,
                                 gtk_widget_get_mapped (GTK_WIDGET (self))
                                 ? GTK_STACK_TRANSITION_TYPE_CROSSFADE : GTK_STACK_TRANSITION_TYPE_NONE);
  gtk_stack_set_visible_child_name (self->main_stack, enrolled ? "main" : "first-run");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.search", enrolled);
}

static void
update_badge (GwWindow *self)
{
  guint waiting = gw_app_state_get_n_waiting (self->state);

  adw_view_stack_page_set_badge_number (self->network_stack_page, waiting);
  adw_view_stack_page_set_needs_attention (self->network_stack_page, waiting > 0);
}

static void
on_dialog_destroyed (gpointer  data,
                     GObject  *where_the_object_was)
{
  GwWindow *self = data;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->dialogs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (value == (gpointer) where_the_object_was)
      {
        g_hash_table_iter_remove (&iter);
        break;
      }
}

GtkWidget *
gw_window_get_prompt_dialog (GwWindow *self,
                             guint64   prompt_id)
{
  g_return_val_if_fail (GW_IS_WINDOW (self), NULL);
  return g_hash_table_lookup (self->dialogs, &prompt_id);
}

GtkWidget *
gw_window_review_prompt (GwWindow     *self,
                         GwPromptItem *prompt)
{
  GtkWidget *dialog;
  guint64 id;
  guint64 *key;

  g_return_val_if_fail (GW_IS_WINDOW (self), NULL);
  g_return_val_if_fail (GW_IS_PROMPT_ITEM (prompt), NULL);

  id = gw_prompt_item_get_id (prompt);
  dialog = gw_window_get_prompt_dialog (self, id);
  if (dialog == NULL)
    {
      if (gw_prompt_item_get_kind (prompt) == GW_PROMPT_PAIRING_CODE)
        dialog = gw_pairing_dialog_new (GTK_WINDOW (self), self->state, prompt);
      else
        dialog = gw_approval_dialog_new (GTK_WINDOW (self), self->state, prompt);
      key = g_new (guint64, 1);
      *key = id;
      g_hash_table_insert (self->dialogs, key, dialog);
      g_object_weak_ref (G_OBJECT (dialog), on_dialog_destroyed, self);
    }
  gtk_window_present (GTK_WINDOW (dialog));
  return dialog;
}

static void
on_prompt_raised (GwWindow     *self,
                  GwPromptItem *prompt)
{
  if (gtk_widget_get_visible (GTK_WIDGET (self)))
    gw_window_review_prompt (self, prompt);
}

static void
on_toast (GwWindow   *self,
          const char *text)
{
  gw_window_add_toast (self, text);
}

static void
on_error (GwWindow     *self,
          const GError *error)
{
  gw_window_add_toast (self, gw_error_text (error));
}

static void
on_show_activity (GwWindow   *self,
                  const char *pne_id)
{
  gw_activity_page_set_device_filter (GW_ACTIVITY_PAGE (self->activity_page), pne_id);
  gw_window_show_page (self, "activity");
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  GwWindow *self = GW_WINDOW (widget);

  if (!gw_app_state_get_enrolled (self->state))
    return;
  gw_window_show_page (self, "devices");
  gw_devices_page_focus_search (GW_DEVICES_PAGE (self->devices_page));
}

void
gw_window_show_page (GwWindow   *self,
                     const char *name)
{
  g_return_if_fail (GW_IS_WINDOW (self));
  adw_view_stack_set_visible_child_name (self->view_stack, name);
}

const char *
gw_window_get_visible_page (GwWindow *self)
{
  g_return_val_if_fail (GW_IS_WINDOW (self), NULL);
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "first-run") == 0)
    return "first-run";
  return adw_view_stack_get_visible_child_name (self->view_stack);
}

GtkWidget *
gw_window_get_page (GwWindow   *self,
                    const char *name)
{
  g_return_val_if_fail (GW_IS_WINDOW (self), NULL);
  if (g_strcmp0 (name, "first-run") == 0)
    return self->first_run_page;
  if (g_strcmp0 (name, "network") == 0)
    return self->network_page;
  if (g_strcmp0 (name, "devices") == 0)
    return self->devices_page;
  if (g_strcmp0 (name, "activity") == 0)
    return self->activity_page;
  return NULL;
}

GwAppState *
gw_window_get_state (GwWindow *self)
{
  return self->state;
}

void
gw_window_set_invitation (GwWindow   *self,
                          const char *invitation)
{
  g_return_if_fail (GW_IS_WINDOW (self));
  gw_first_run_page_set_invitation (GW_FIRST_RUN_PAGE (self->first_run_page), invitation);
}

/* Enrolls with @invitation at once: the invitation came from a trusted
 * source (the command line, e.g. the demo), so its certificate pin is
 * taken without asking. The engine still enforces the pin. */
void
gw_window_enroll (GwWindow   *self,
                  const char *invitation)
{
  GwFirstRunPage *page;

  g_return_if_fail (GW_IS_WINDOW (self));

  page = GW_FIRST_RUN_PAGE (self->first_run_page);
  gw_first_run_page_set_invitation (page, invitation);
  gw_first_run_page_confirm_pin (page);
}

static void
gw_window_dispose (GObject *object)
{
  GwWindow *self = GW_WINDOW (object);

  if (self->toast != NULL)
    g_signal_handlers_disconnect_by_data (self->toast, self);
  g_clear_object (&self->toast);
  if (self->dialogs != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->dialogs);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_object_weak_unref (G_OBJECT (value), on_dialog_destroyed, self);
      g_clear_pointer (&self->dialogs, g_hash_table_unref);
    }
  if (self->state != NULL)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_object (&self->state);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_WINDOW);
  G_OBJECT_CLASS (gw_window_parent_class)->dispose (object);
}

static void
gw_window_class_init (GwWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-window.ui");
  gtk_widget_class_bind_template_child (widget_class, GwWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, GwWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, GwWindow, first_run_bin);
  gtk_widget_class_bind_template_child (widget_class, GwWindow, view_stack);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
}

static void
gw_window_init (GwWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->dialogs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

}

GwWindow *
gw_window_new (GtkApplication *application,
               GwAppState     *state)
{
  GwWindow *self;
  AdwViewStackPage *page;

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);

  self = g_object_new (GW_TYPE_WINDOW, "application", application, NULL);
  self->state = g_object_ref (state);

  self->first_run_page = gw_first_run_page_new (state);
  adw_bin_set_child (self->first_run_bin, self->first_run_page);

  self->network_page = gw_network_page_new (state);
  page = adw_view_stack_add_titled (self->view_stack, self->network_page, "network", _("Network"));
  adw_view_stack_page_set_icon_name (page, "network-workgroup-symbolic");
  g_signal_connect_object (self->network_page, "review-prompt",
                           G_CALLBACK (gw_window_review_prompt), self, G_CONNECT_SWAPPED);
  self->network_stack_page = page;

  self->devices_page = gw_devices_page_new (state);
  page = adw_view_stack_add_titled (self->view_stack, self->devices_page, "devices", _("Devices"));
  adw_view_stack_page_set_icon_name (page, "view-list-symbolic");
  g_signal_connect_object (gw_devices_page_get_detail (GW_DEVICES_PAGE (self->devices_page)), "show-activity",
                           G_CALLBACK (on_show_activity), self, G_CONNECT_SWAPPED);

  self->activity_page = gw_activity_page_new (state);
  page = adw_view_stack_add_titled (self->view_stack, self->activity_page, "activity", _("Activity"));
  adw_view_stack_page_set_icon_name (page, "document-open-recent-symbolic");

  g_signal_connect_object (state, "session-changed", G_CALLBACK (update_enrolled), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "prompt-raised", G_CALLBACK (on_prompt_raised), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "toast", G_CALLBACK (on_toast), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "error", G_CALLBACK (on_error), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (state, "counts-changed", G_CALLBACK (update_badge), self, G_CONNECT_SWAPPED);
  update_enrolled (self);
  update_badge (self);
  return self;
}
