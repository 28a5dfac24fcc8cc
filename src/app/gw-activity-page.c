/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-activity-item.h"
#include "gw-activity-page.h"

struct _GwActivityPage
{
  AdwBin              parent_instance;

  GwAppState         *state;
  GtkCustomFilter    *filter;
  GtkFilterListModel *filter_model;
  GtkNoSelection     *selection;
  char               *device;        /* casefolded */
  gboolean            problems_only;
  GtkFileChooserNative *chooser;

  GtkSearchEntry     *device_entry;
  GtkToggleButton    *problems_button;
  GtkStack           *stack;
  GtkColumnView      *column_view;
};

G_DEFINE_FINAL_TYPE (GwActivityPage, gw_activity_page, ADW_TYPE_BIN)

static gboolean
filter_func (gpointer item,
             gpointer data)
{
  GwActivityPage *self = data;
  GwActivityItem *a = item;

  if (self->problems_only && !gw_activity_item_get_problem (a))
    return FALSE;
  if (self->device != NULL && *self->device != '\0' &&
      strstr (gw_activity_item_get_device_key (a), self->device) == NULL)
    return FALSE;
  return TRUE;
}

static void
update_empty (GwActivityPage *self)
{
  gboolean empty = g_list_model_get_n_items (G_LIST_MODEL (self->filter_model)) == 0;

  gtk_stack_set_visible_child_name (self->stack, empty ? "empty" : "list");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "activity.export", !empty);
}

static void
refilter (GwActivityPage *self)
{
  g_autofree char *device = g_utf8_casefold (gtk_editable_get_text (GTK_EDITABLE (self->device_entry)), -1);
  gboolean problems = gtk_toggle_button_get_active (self->problems_button);

  if (g_strcmp0 (device, self->device) == 0 && problems == self->problems_only)
    return;
  g_free (self->device);
  self->device = g_steal_pointer (&device);
  self->problems_only = problems;
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void
on_filter_changed (GwActivityPage *self)
{
  refilter (self);
}

void
gw_activity_page_set_device_filter (GwActivityPage *self,
                                    const char     *text)
{
  g_return_if_fail (GW_IS_ACTIVITY_PAGE (self));
  gtk_editable_set_text (GTK_EDITABLE (self->device_entry), text ? text : "");
  refilter (self);
}

void
gw_activity_page_set_problems_only (GwActivityPage *self,
                                    gboolean        problems_only)
{
  g_return_if_fail (GW_IS_ACTIVITY_PAGE (self));
  gtk_toggle_button_set_active (self->problems_button, problems_only);
  refilter (self);
}

GListModel *
gw_activity_page_get_visible_model (GwActivityPage *self)
{
  return G_LIST_MODEL (self->filter_model);
}

static void
on_replaced (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
gw_activity_page_export_async (GwActivityPage      *self,
                               GFile               *file,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GListModel *model = G_LIST_MODEL (self->filter_model);
  guint n = g_list_model_get_n_items (model);
  GString *out = g_string_new (NULL);

  g_return_if_fail (GW_IS_ACTIVITY_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gw_activity_page_export_async);

  /* Oldest first in the file, like a log. Building the text is cheap; the
   * disk write happens in GIO's worker. */
  for (guint i = n; i > 0; i--)
    {
      g_autoptr(GwActivityItem) item = g_list_model_get_item (model, i - 1);
      g_autofree char *line = gw_activity_item_to_json (item);

      g_string_append (out, line);
      g_string_append_c (out, '\n');
    }
  bytes = g_string_free_to_bytes (out);
  g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                                       cancellable, on_replaced, g_steal_pointer (&task));
}

gboolean
gw_activity_page_export_finish (GwActivityPage  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
toast (GwActivityPage *self,
       const char     *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
}

static void
on_exported (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GwActivityPage *self = GW_ACTIVITY_PAGE (source);
  g_autoptr(GError) error = NULL;

  if (!gw_activity_page_export_finish (self, result, &error))
    {
      g_autofree char *text = g_strdup_printf (_("Could not export: %s"), error->message);
      toast (self, text);
    }
  else
    toast (self, _("Activity exported"));
}

static void
on_chooser_response (GtkNativeDialog *chooser,
                     int              response,
                     GwActivityPage  *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      if (file != NULL)
        gw_activity_page_export_async (self, file, NULL, on_exported, NULL);
    }
  g_clear_object (&self->chooser);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *param)
{
  GwActivityPage *self = GW_ACTIVITY_PAGE (widget);

  if (self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Export Activity"),
                                               GTK_WINDOW (gtk_widget_get_root (widget)),
                                               GTK_FILE_CHOOSER_ACTION_SAVE,
                                               _("_Export"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), "pn-gateway-activity.jsonl");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
gw_activity_page_dispose (GObject *object)
{
  GwActivityPage *self = GW_ACTIVITY_PAGE (object);

  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  if (self->column_view != NULL)
    gtk_column_view_set_model (self->column_view, NULL);
  /* Unparent the child before the template drops it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_ACTIVITY_PAGE);
  g_clear_object (&self->selection);
  g_clear_object (&self->state);
  g_clear_pointer (&self->device, g_free);
  G_OBJECT_CLASS (gw_activity_page_parent_class)->dispose (object);
}

static void
gw_activity_page_class_init (GwActivityPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_activity_page_dispose;

  g_type_ensure (GW_TYPE_ACTIVITY_ITEM);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-activity-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GwActivityPage, device_entry);
  gtk_widget_class_bind_template_child (widget_class, GwActivityPage, problems_button);
  gtk_widget_class_bind_template_child (widget_class, GwActivityPage, stack);
  gtk_widget_class_bind_template_child (widget_class, GwActivityPage, column_view);
  gtk_widget_class_bind_template_callback (widget_class, on_filter_changed);
  gtk_widget_class_install_action (widget_class, "activity.export", NULL, export_action);
}

static void
gw_activity_page_init (GwActivityPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
gw_activity_page_new (GwAppState *state)
{
  GwActivityPage *self;

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);

  self = g_object_new (GW_TYPE_ACTIVITY_PAGE, NULL);
  self->state = g_object_ref (state);
  self->filter = gtk_custom_filter_new (filter_func, self, NULL);
  self->filter_model = gtk_filter_list_model_new (g_object_ref (gw_app_state_get_activity (state)),
                                                  GTK_FILTER (self->filter));
  self->selection = gtk_no_selection_new (G_LIST_MODEL (self->filter_model));
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  g_signal_connect_object (self->filter_model, "items-changed", G_CALLBACK (update_empty), self, G_CONNECT_SWAPPED);
  update_empty (self);
  return GTK_WIDGET (self);
}
