/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-discovered-item.h"
#include "gw-format.h"

struct _GwDiscoveredItem
{
  GObject  parent_instance;
  char    *id;
  char    *name;
  char    *entity_type;
  char    *address;
  gint64   last_heard;
  char    *subtitle;
};

G_DEFINE_FINAL_TYPE (GwDiscoveredItem, gw_discovered_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_TYPE_ICON,
  PROP_SUBTITLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
gw_discovered_item_finalize (GObject *object)
{
  GwDiscoveredItem *self = GW_DISCOVERED_ITEM (object);

  g_free (self->id);
  g_free (self->name);
  g_free (self->entity_type);
  g_free (self->address);
  g_free (self->subtitle);
  G_OBJECT_CLASS (gw_discovered_item_parent_class)->finalize (object);
}

static void
gw_discovered_item_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  GwDiscoveredItem *self = GW_DISCOVERED_ITEM (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_TYPE_ICON: g_value_set_string (value, gw_format_type_icon (self->entity_type)); break;
    case PROP_SUBTITLE: g_value_set_string (value, self->subtitle); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_discovered_item_class_init (GwDiscoveredItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = gw_discovered_item_finalize;
  object_class->get_property = gw_discovered_item_get_property;
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, f);
  properties[PROP_TYPE_ICON] = g_param_spec_string ("type-icon", NULL, NULL, NULL, f);
  properties[PROP_SUBTITLE] = g_param_spec_string ("subtitle", NULL, NULL, NULL, f);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gw_discovered_item_init (GwDiscoveredItem *self)
{
}

void
gw_discovered_item_tick (GwDiscoveredItem *self,
                         gint64            now_us)
{
  g_autofree char *ago = gw_format_ago (self->last_heard, now_us);
  char *subtitle;

  /* Translators: "192.168.1.23 · heard 2 s ago" */
  subtitle = g_strdup_printf (_("%s · heard %s"), self->address ? self->address : "", ago);
  if (g_strcmp0 (subtitle, self->subtitle) == 0)
    {
      g_free (subtitle);
      return;
    }
  g_free (self->subtitle);
  self->subtitle = subtitle;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUBTITLE]);
}

void
gw_discovered_item_update (GwDiscoveredItem       *self,
                           const GwDiscoveredInfo *info)
{
  g_return_if_fail (GW_IS_DISCOVERED_ITEM (self));

  g_free (self->id);
  self->id = g_strdup (info->id);
  if (g_strcmp0 (self->name, info->name) != 0)
    {
      g_free (self->name);
      self->name = g_strdup (info->name ? info->name : _("Unnamed device"));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
    }
  if (g_strcmp0 (self->entity_type, info->entity_type) != 0)
    {
      g_free (self->entity_type);
      self->entity_type = g_strdup (info->entity_type);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TYPE_ICON]);
    }
  g_free (self->address);
  self->address = g_strdup (info->address);
  self->last_heard = info->last_heard;
  gw_discovered_item_tick (self, g_get_real_time ());
}

GwDiscoveredItem *
gw_discovered_item_new (const GwDiscoveredInfo *info)
{
  GwDiscoveredItem *self = g_object_new (GW_TYPE_DISCOVERED_ITEM, NULL);

  gw_discovered_item_update (self, info);
  return self;
}

const char *gw_discovered_item_get_id (GwDiscoveredItem *self) { return self->id; }
const char *gw_discovered_item_get_name (GwDiscoveredItem *self) { return self->name; }
const char *gw_discovered_item_get_subtitle (GwDiscoveredItem *self) { return self->subtitle; }
