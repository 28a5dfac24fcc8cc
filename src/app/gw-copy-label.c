/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-copy-label.h"
#include "gw-format.h"

struct _GwCopyLabel
{
  GtkWidget  parent_instance;
  char      *text;
  GtkWidget *label;
  GtkWidget *button;
};

G_DEFINE_FINAL_TYPE (GwCopyLabel, gw_copy_label, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_TEXT, N_PROPS };
static GParamSpec *properties[N_PROPS];

void
gw_copy_label_copy (GwCopyLabel *self)
{
  g_return_if_fail (GW_IS_COPY_LABEL (self));
  if (self->text != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), self->text);
}

void
gw_copy_label_set_text (GwCopyLabel *self,
                        const char  *text)
{
  g_autofree char *shortened = NULL;
  g_autofree char *a11y = NULL;

  g_return_if_fail (GW_IS_COPY_LABEL (self));
  if (g_strcmp0 (text, self->text) == 0)
    return;
  g_free (self->text);
  self->text = g_strdup (text);
  shortened = gw_format_short_id (text);
  gtk_label_set_label (GTK_LABEL (self->label), shortened);
  gtk_widget_set_tooltip_text (self->label, text);
  /* Translators: accessible label, %s is an ID */
  a11y = g_strdup_printf (_("Copy %s"), text ? text : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->button), GTK_ACCESSIBLE_PROPERTY_LABEL, a11y, -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

const char *
gw_copy_label_get_text (GwCopyLabel *self)
{
  g_return_val_if_fail (GW_IS_COPY_LABEL (self), NULL);
  return self->text;
}

static void
gw_copy_label_dispose (GObject *object)
{
  GwCopyLabel *self = GW_COPY_LABEL (object);

  g_clear_pointer (&self->label, gtk_widget_unparent);
  g_clear_pointer (&self->button, gtk_widget_unparent);
  g_clear_pointer (&self->text, g_free);
  G_OBJECT_CLASS (gw_copy_label_parent_class)->dispose (object);
}

static void
gw_copy_label_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_TEXT: g_value_set_string (value, GW_COPY_LABEL (object)->text); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_copy_label_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_TEXT: gw_copy_label_set_text (GW_COPY_LABEL (object), g_value_get_string (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_copy_label_class_init (GwCopyLabelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = gw_copy_label_dispose;
  object_class->get_property = gw_copy_label_get_property;
  object_class->set_property = gw_copy_label_set_property;
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, NULL,
                                               G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "copylabel");
}

static void
gw_copy_label_init (GwCopyLabel *self)
{
  self->label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (self->label), 0);
  gtk_widget_set_hexpand (self->label, TRUE);
  gtk_widget_add_css_class (self->label, "monospace");
  gtk_widget_set_parent (self->label, GTK_WIDGET (self));
  self->button = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  gtk_widget_set_tooltip_text (self->button, _("Copy ID"));
  gtk_widget_set_valign (self->button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->button, "flat");
  gtk_widget_set_parent (self->button, GTK_WIDGET (self));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->button), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Copy ID"), -1);
  g_signal_connect_swapped (self->button, "clicked", G_CALLBACK (gw_copy_label_copy), self);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (GTK_WIDGET (self))), 4);
}

GtkWidget *
gw_copy_label_new (void)
{
  return g_object_new (GW_TYPE_COPY_LABEL, NULL);
}
