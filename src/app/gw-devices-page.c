/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-copy-label.h"
#include "gw-device-detail.h"
#include "gw-devices-page.h"
#include "gw-entity-item.h"

struct _GwDevicesPage
{
  AdwBin               parent_instance;

  GwAppState          *state;
  GtkCustomFilter     *filter;
  GtkFilterListModel  *filter_model;
  GtkSortListModel    *sort_model;
  GtkSingleSelection  *selection;
  char                *search;        /* casefolded */
  guint                state_filter;

  AdwLeaflet          *leaflet;
  GtkSearchEntry      *search_entry;
  GtkDropDown         *state_dropdown;
  GtkStack            *list_stack;
  GtkScrolledWindow   *scrolled_window;
  GtkColumnView       *column_view;
  GtkColumnViewColumn *name_column;
  AdwStatusPage       *empty_page;
  GwDeviceDetail      *detail;
};

G_DEFINE_FINAL_TYPE (GwDevicesPage, gw_devices_page, ADW_TYPE_BIN)

static gboolean
state_matches (guint         filter,
               GwEntityState state)
{
  switch (filter)
    {
    case 1: return state == GW_ENTITY_CONNECTED;
    case 2: return state == GW_ENTITY_DISCONNECTED || state == GW_ENTITY_REGISTERED;
    case 3: return state == GW_ENTITY_WAITING || state == GW_ENTITY_PAIRING || state == GW_ENTITY_CONNECTING;
    case 4: return state == GW_ENTITY_REVOKED || state == GW_ENTITY_BLOCKED;
    default: return TRUE;
    }
}

static gboolean
filter_func (gpointer item,
             gpointer data)
{
  GwDevicesPage *self = data;
  GwEntityItem *e = item;
  const char *text;

  if (self->state_filter != 0 && !state_matches (self->state_filter, gw_entity_item_get_state (e)))
    return FALSE;
  if (self->search == NULL || *self->search == '\0')
    return TRUE;
  text = gw_entity_item_get_search_text (e);
  return text != NULL && strstr (text, self->search) != NULL;
}

static void
update_empty (GwDevicesPage *self)
{
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filter_model));
  guint all = g_list_model_get_n_items (gw_app_state_get_entities (self->state));

  if (shown > 0)
    {
      gtk_stack_set_visible_child_name (self->list_stack, "list");
      return;
    }
  if (all == 0)
    {
      adw_status_page_set_title (self->empty_page, _("No Devices Yet"));
      adw_status_page_set_description (self->empty_page,
                                       _("Open the pairing window on the Network page, then put a device in pairing mode."));
    }
  else
    {
      adw_status_page_set_title (self->empty_page, _("No Matching Devices"));
      adw_status_page_set_description (self->empty_page, _("Try another search or state."));
    }
  gtk_stack_set_visible_child_name (self->list_stack, "empty");
}

void
gw_devices_page_set_search (GwDevicesPage *self,
                            const char    *text)
{
  g_autofree char *folded = g_utf8_casefold (text ? text : "", -1);
  GtkFilterChange change = GTK_FILTER_CHANGE_DIFFERENT;

  g_return_if_fail (GW_IS_DEVICES_PAGE (self));

  if (g_strcmp0 (folded, self->search) == 0)
    return;
  /* Typing narrows (more strict), deleting widens: let the model reuse work. */
  if (self->search != NULL && strstr (folded, self->search) != NULL)
    change = GTK_FILTER_CHANGE_MORE_STRICT;
  else if (self->search != NULL && strstr (self->search, folded) != NULL)
    change = GTK_FILTER_CHANGE_LESS_STRICT;
  g_free (self->search);
  self->search = g_steal_pointer (&folded);
  gtk_filter_changed (GTK_FILTER (self->filter), change);
}

static void
on_search_changed (GwDevicesPage *self)
{
  gw_devices_page_set_search (self, gtk_editable_get_text (GTK_EDITABLE (self->search_entry)));
}

void
gw_devices_page_set_state_filter (GwDevicesPage *self,
                                  guint          filter)
{
  g_return_if_fail (GW_IS_DEVICES_PAGE (self));
  if (gtk_drop_down_get_selected (self->state_dropdown) != filter)
    {
      gtk_drop_down_set_selected (self->state_dropdown, filter);
      return;
    }
  if (filter == self->state_filter)
    return;
  self->state_filter = filter;
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void
on_state_filter_changed (GwDevicesPage *self)
{
  gw_devices_page_set_state_filter (self, gtk_drop_down_get_selected (self->state_dropdown));
}

static void
on_selection_changed (GwDevicesPage *self)
{
  GwEntityItem *item = gtk_single_selection_get_selected_item (self->selection);

  gw_device_detail_set_entity (self->detail, item);
  if (item != NULL)
    adw_leaflet_set_visible_child_name (self->leaflet, "detail");
}

static void
copy_id_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *param)
{
  GwDevicesPage *self = GW_DEVICES_PAGE (widget);
  GwEntityItem *item = gtk_single_selection_get_selected_item (self->selection);
  GtkWidget *overlay;

  if (item == NULL)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), gw_entity_item_get_pne_id (item));
  overlay = gtk_widget_get_ancestor (widget, ADW_TYPE_TOAST_OVERLAY);
  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (_("Device ID copied")));
}

static void
on_detail_back (GwDevicesPage *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

void
gw_devices_page_focus_search (GwDevicesPage *self)
{
  g_return_if_fail (GW_IS_DEVICES_PAGE (self));
  adw_leaflet_set_visible_child_name (self->leaflet, "list");
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

gboolean
gw_devices_page_select (GwDevicesPage *self,
                        const char    *pne_id)
{
  GListModel *model = G_LIST_MODEL (self->selection);
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GwEntityItem) e = g_list_model_get_item (model, i);
      if (g_strcmp0 (gw_entity_item_get_pne_id (e), pne_id) == 0)
        {
          gtk_single_selection_set_selected (self->selection, i);
          return TRUE;
        }
    }
  return FALSE;
}

GListModel *gw_devices_page_get_visible_model (GwDevicesPage *self) { return G_LIST_MODEL (self->filter_model); }

gboolean
gw_devices_page_get_filtering (GwDevicesPage *self)
{
  g_return_val_if_fail (GW_IS_DEVICES_PAGE (self), FALSE);
  return gtk_filter_list_model_get_pending (self->filter_model) > 0;
}
GtkWidget *gw_devices_page_get_detail (GwDevicesPage *self) { return GTK_WIDGET (self->detail); }
GtkWidget *gw_devices_page_get_scrolled_window (GwDevicesPage *self) { return GTK_WIDGET (self->scrolled_window); }
GtkWidget *gw_devices_page_get_search_entry (GwDevicesPage *self) { return GTK_WIDGET (self->search_entry); }

static void
gw_devices_page_dispose (GObject *object)
{
  GwDevicesPage *self = GW_DEVICES_PAGE (object);

  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  if (self->filter_model != NULL)
    g_signal_handlers_disconnect_by_data (self->filter_model, self);
  if (self->column_view != NULL)
    gtk_column_view_set_model (self->column_view, NULL);

  /* Unparent the child before the template drops it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), GW_TYPE_DEVICES_PAGE);
  g_clear_object (&self->selection);
  g_clear_object (&self->state);
  g_clear_pointer (&self->search, g_free);
  G_OBJECT_CLASS (gw_devices_page_parent_class)->dispose (object);
}

static void
gw_devices_page_class_init (GwDevicesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_devices_page_dispose;

  g_type_ensure (GW_TYPE_ENTITY_ITEM);
  g_type_ensure (GW_TYPE_COPY_LABEL);
  g_type_ensure (GW_TYPE_DEVICE_DETAIL);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cpns/Gateway/gw-devices-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, leaflet);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, state_dropdown);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, list_stack);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, scrolled_window);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, column_view);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, name_column);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, empty_page);
  gtk_widget_class_bind_template_child (widget_class, GwDevicesPage, detail);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_state_filter_changed);
  /* The list shows IDs shortened; Ctrl+C copies the selected device's full ID. */
  gtk_widget_class_install_action (widget_class, "devices.copy-id", NULL, copy_id_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK, "devices.copy-id", NULL);
}

static void
gw_devices_page_init (GwDevicesPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->search = g_strdup ("");   /* so the first key is "more strict" */
  gtk_search_entry_set_key_capture_widget (self->search_entry, GTK_WIDGET (self->column_view));
}

GtkWidget *
gw_devices_page_new (GwAppState *state)
{
  GwDevicesPage *self;
  GtkSorter *sorter;

  g_return_val_if_fail (GW_IS_APP_STATE (state), NULL);

  self = g_object_new (GW_TYPE_DEVICES_PAGE, NULL);
  self->state = g_object_ref (state);

  /* Sort first, then filter: a keystroke only filters the sorted list, it
   * never sorts again. */
  sorter = gtk_column_view_get_sorter (self->column_view);
  self->sort_model = gtk_sort_list_model_new (g_object_ref (gw_app_state_get_entities (state)),
                                              g_object_ref (sorter));
  self->filter = gtk_custom_filter_new (filter_func, self, NULL);
  self->filter_model = gtk_filter_list_model_new (G_LIST_MODEL (self->sort_model), GTK_FILTER (self->filter));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (self->filter_model));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  gtk_column_view_sort_by_column (self->column_view, self->name_column, GTK_SORT_ASCENDING);

  g_signal_connect_object (self->selection, "notify::selected-item",
                           G_CALLBACK (on_selection_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->filter_model, "items-changed",
                           G_CALLBACK (update_empty), self, G_CONNECT_SWAPPED);
  gw_device_detail_set_state (self->detail, state);
  g_signal_connect_object (self->detail, "back", G_CALLBACK (on_detail_back), self, G_CONNECT_SWAPPED);
  g_object_bind_property (self->leaflet, "folded", self->detail, "show-back", G_BINDING_SYNC_CREATE);
  update_empty (self);
  return GTK_WIDGET (self);
}
