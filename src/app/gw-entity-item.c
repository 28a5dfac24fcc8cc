/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-entity-item.h"
#include "gw-format.h"

struct _GwEntityItem
{
  GObject        parent_instance;

  char          *pne_id;
  char          *short_id;
  char          *name;
  char          *entity_type;
  char          *manufacturer;
  char          *model;
  char          *serial;
  char          *description;
  char         **services;
  char          *services_text;
  GwEntityState  state;
  char          *key_mode;
  char          *key_id;
  gint64         key_issued_at;
  char          *key_text;
  char          *session_id;
  gint64         session_expires_at;
  gint64         last_seen;
  char          *last_seen_text;
  gint64         registered_at;
  gboolean       blocked;
  char          *address;
  char          *search_text;
};

G_DEFINE_FINAL_TYPE (GwEntityItem, gw_entity_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PNE_ID,
  PROP_SHORT_ID,
  PROP_NAME,
  PROP_ENTITY_TYPE,
  PROP_TYPE_ICON,
  PROP_TYPE_NAME,
  PROP_DESCRIPTION,
  PROP_SERVICES_TEXT,
  PROP_STATE,
  PROP_STATE_TEXT,
  PROP_STATE_ICON,
  PROP_KEY_MODE,
  PROP_KEY_TEXT,
  PROP_LAST_SEEN,
  PROP_LAST_SEEN_TEXT,
  PROP_BLOCKED,
  PROP_ADDRESS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
gw_entity_item_finalize (GObject *object)
{
  GwEntityItem *self = GW_ENTITY_ITEM (object);

  g_free (self->pne_id);
  g_free (self->short_id);
  g_free (self->name);
  g_free (self->entity_type);
  g_free (self->manufacturer);
  g_free (self->model);
  g_free (self->serial);
  g_free (self->description);
  g_strfreev (self->services);
  g_free (self->services_text);
  g_free (self->key_mode);
  g_free (self->key_id);
  g_free (self->key_text);
  g_free (self->session_id);
  g_free (self->last_seen_text);
  g_free (self->address);
  g_free (self->search_text);

  G_OBJECT_CLASS (gw_entity_item_parent_class)->finalize (object);
}

static void
gw_entity_item_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  GwEntityItem *self = GW_ENTITY_ITEM (object);

  switch (prop_id)
    {
    case PROP_PNE_ID: g_value_set_string (value, self->pne_id); break;
    case PROP_SHORT_ID: g_value_set_string (value, self->short_id); break;
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_ENTITY_TYPE: g_value_set_string (value, self->entity_type); break;
    case PROP_TYPE_ICON: g_value_set_string (value, gw_format_type_icon (self->entity_type)); break;
    case PROP_TYPE_NAME: g_value_set_string (value, gw_format_type_name (self->entity_type)); break;
    case PROP_DESCRIPTION: g_value_set_string (value, self->description); break;
    case PROP_SERVICES_TEXT: g_value_set_string (value, self->services_text); break;
    case PROP_STATE: g_value_set_int (value, self->state); break;
    case PROP_STATE_TEXT: g_value_set_string (value, gw_entity_item_get_state_text (self)); break;
    case PROP_STATE_ICON: g_value_set_string (value, gw_format_entity_state_icon (self->state)); break;
    case PROP_KEY_MODE: g_value_set_string (value, self->key_mode); break;
    case PROP_KEY_TEXT: g_value_set_string (value, self->key_text); break;
    case PROP_LAST_SEEN: g_value_set_int64 (value, self->last_seen); break;
    case PROP_LAST_SEEN_TEXT: g_value_set_string (value, self->last_seen_text); break;
    case PROP_BLOCKED: g_value_set_boolean (value, self->blocked); break;
    case PROP_ADDRESS: g_value_set_string (value, self->address); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_entity_item_class_init (GwEntityItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = gw_entity_item_finalize;
  object_class->get_property = gw_entity_item_get_property;

  properties[PROP_PNE_ID] = g_param_spec_string ("pne-id", NULL, NULL, NULL, f);
  properties[PROP_SHORT_ID] = g_param_spec_string ("short-id", NULL, NULL, NULL, f);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, f);
  properties[PROP_ENTITY_TYPE] = g_param_spec_string ("entity-type", NULL, NULL, NULL, f);
  properties[PROP_TYPE_ICON] = g_param_spec_string ("type-icon", NULL, NULL, NULL, f);
  properties[PROP_TYPE_NAME] = g_param_spec_string ("type-name", NULL, NULL, NULL, f);
  properties[PROP_DESCRIPTION] = g_param_spec_string ("description", NULL, NULL, NULL, f);
  properties[PROP_SERVICES_TEXT] = g_param_spec_string ("services-text", NULL, NULL, NULL, f);
  properties[PROP_STATE] = g_param_spec_int ("state", NULL, NULL, 0, G_MAXINT, 0, f);
  properties[PROP_STATE_TEXT] = g_param_spec_string ("state-text", NULL, NULL, NULL, f);
  properties[PROP_STATE_ICON] = g_param_spec_string ("state-icon", NULL, NULL, NULL, f);
  properties[PROP_KEY_MODE] = g_param_spec_string ("key-mode", NULL, NULL, NULL, f);
  properties[PROP_KEY_TEXT] = g_param_spec_string ("key-text", NULL, NULL, NULL, f);
  properties[PROP_LAST_SEEN] = g_param_spec_int64 ("last-seen", NULL, NULL, 0, G_MAXINT64, 0, f);
  properties[PROP_LAST_SEEN_TEXT] = g_param_spec_string ("last-seen-text", NULL, NULL, NULL, f);
  properties[PROP_BLOCKED] = g_param_spec_boolean ("blocked", NULL, NULL, FALSE, f);
  properties[PROP_ADDRESS] = g_param_spec_string ("address", NULL, NULL, NULL, f);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gw_entity_item_init (GwEntityItem *self)
{
}

/* Replaces *@field with a copy of @value; notifies @prop when it changed. */
static void
set_string (GwEntityItem  *self,
            char         **field,
            const char    *value,
            guint          prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  if (prop != PROP_0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
take_string (GwEntityItem  *self,
             char         **field,
             char          *value,
             guint          prop)
{
  set_string (self, field, value, prop);
  g_free (value);
}

void
gw_entity_item_refresh_times (GwEntityItem *self,
                              gint64        now_s)
{
  g_autofree char *age = NULL;
  const char *mode;

  g_return_if_fail (GW_IS_ENTITY_ITEM (self));

  take_string (self, &self->last_seen_text,
               gw_format_relative_unix (self->last_seen, now_s), PROP_LAST_SEEN_TEXT);

  if (self->key_id == NULL || *self->key_id == '\0')
    {
      set_string (self, &self->key_text, _("No key"), PROP_KEY_TEXT);
      return;
    }
  mode = g_strcmp0 (self->key_mode, "gateway") == 0 ? _("Gateway") : _("Server");
  age = gw_format_relative_unix (self->key_issued_at, now_s);
  /* Translators: key mode and key age, e.g. "Server · 3 days" */
  take_string (self, &self->key_text, g_strdup_printf (_("%s · %s"), mode, age), PROP_KEY_TEXT);
}

void
gw_entity_item_update (GwEntityItem       *self,
                       const GwEntityInfo *info)
{
  GString *desc, *search;
  g_autofree char *services_text = NULL;
  GwEntityState old_state;
  gboolean old_blocked;

  g_return_if_fail (GW_IS_ENTITY_ITEM (self));
  g_return_if_fail (info != NULL);

  g_object_freeze_notify (G_OBJECT (self));

  set_string (self, &self->pne_id, info->pne_id, PROP_PNE_ID);
  take_string (self, &self->short_id, gw_format_short_id (info->pne_id), PROP_SHORT_ID);
  set_string (self, &self->name, info->name ? info->name : info->pne_id, PROP_NAME);
  if (g_strcmp0 (self->entity_type, info->entity_type) != 0)
    {
      set_string (self, &self->entity_type, info->entity_type, PROP_ENTITY_TYPE);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TYPE_ICON]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TYPE_NAME]);
    }
  set_string (self, &self->manufacturer, info->manufacturer, PROP_0);
  set_string (self, &self->model, info->model, PROP_0);
  set_string (self, &self->serial, info->serial, PROP_0);

  desc = g_string_new (NULL);
  if (info->manufacturer != NULL && *info->manufacturer)
    g_string_append (desc, info->manufacturer);
  if (info->model != NULL && *info->model)
    g_string_append_printf (desc, "%s%s", desc->len ? " " : "", info->model);
  if (info->serial != NULL && *info->serial)
    /* Translators: SN = serial number */
    g_string_append_printf (desc, "%s%s %s", desc->len ? " · " : "", _("SN"), info->serial);
  take_string (self, &self->description, g_string_free (desc, FALSE), PROP_DESCRIPTION);

  if (info->services != self->services)
    {
      g_strfreev (self->services);
      self->services = g_strdupv (info->services);
    }
  services_text = self->services && self->services[0] ? g_strjoinv (", ", self->services)
                                                      : g_strdup (_("None"));
  set_string (self, &self->services_text, services_text, PROP_SERVICES_TEXT);

  old_state = self->state;
  self->state = info->state;
  if (old_state != self->state)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE_TEXT]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE_ICON]);
    }

  set_string (self, &self->key_mode, info->key_mode, PROP_KEY_MODE);
  set_string (self, &self->key_id, info->key_id, PROP_0);
  self->key_issued_at = info->key_issued_at;
  set_string (self, &self->session_id, info->session_id, PROP_0);
  self->session_expires_at = info->session_expires_at;
  if (self->last_seen != info->last_seen)
    {
      self->last_seen = info->last_seen;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SEEN]);
    }
  self->registered_at = info->registered_at;
  old_blocked = self->blocked;
  self->blocked = info->blocked;
  if (old_blocked != self->blocked)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BLOCKED]);
  set_string (self, &self->address, info->address, PROP_ADDRESS);

  gw_entity_item_refresh_times (self, g_get_real_time () / G_USEC_PER_SEC);

  search = g_string_new (NULL);
  g_string_append_printf (search, "%s\n%s\n%s\n%s\n%s",
                          self->name ? self->name : "",
                          self->entity_type ? self->entity_type : "",
                          gw_format_type_name (self->entity_type),
                          self->pne_id ? self->pne_id : "",
                          self->services_text ? self->services_text : "");
  g_free (self->search_text);
  self->search_text = g_utf8_casefold (search->str, -1);
  g_string_free (search, TRUE);

  g_object_thaw_notify (G_OBJECT (self));
}

GwEntityItem *
gw_entity_item_new (const GwEntityInfo *info)
{
  GwEntityItem *self = g_object_new (GW_TYPE_ENTITY_ITEM, NULL);

  gw_entity_item_update (self, info);
  return self;
}

const char *gw_entity_item_get_pne_id (GwEntityItem *self) { return self->pne_id; }
const char *gw_entity_item_get_name (GwEntityItem *self) { return self->name; }
const char *gw_entity_item_get_entity_type (GwEntityItem *self) { return self->entity_type; }
const char *gw_entity_item_get_type_name (GwEntityItem *self) { return gw_format_type_name (self->entity_type); }
GwEntityState gw_entity_item_get_state (GwEntityItem *self) { return self->state; }
const char *gw_entity_item_get_state_text (GwEntityItem *self) { return gw_format_entity_state (self->state); }
const char *gw_entity_item_get_address (GwEntityItem *self) { return self->address; }
const char *gw_entity_item_get_key_mode (GwEntityItem *self) { return self->key_mode; }
const char *gw_entity_item_get_key_id (GwEntityItem *self) { return self->key_id; }
gint64 gw_entity_item_get_key_issued_at (GwEntityItem *self) { return self->key_issued_at; }
const char *gw_entity_item_get_session_id (GwEntityItem *self) { return self->session_id; }
gint64 gw_entity_item_get_session_expires_at (GwEntityItem *self) { return self->session_expires_at; }
gint64 gw_entity_item_get_last_seen (GwEntityItem *self) { return self->last_seen; }
gint64 gw_entity_item_get_registered_at (GwEntityItem *self) { return self->registered_at; }
gboolean gw_entity_item_get_blocked (GwEntityItem *self) { return self->blocked; }
const char * const *gw_entity_item_get_services (GwEntityItem *self) { return (const char * const *) self->services; }
const char *gw_entity_item_get_description (GwEntityItem *self) { return self->description; }
const char *gw_entity_item_get_search_text (GwEntityItem *self) { return self->search_text; }
