/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-activity-item.h"
#include "gw-format.h"

struct _GwActivityItem
{
  GObject   parent_instance;
  gint64    time_us;
  char     *time_text;
  char     *kind;
  char     *pne_id;
  char     *device;
  char     *device_key;
  char     *what;
  char     *outcome;
  gboolean  problem;
  char     *detail;
  char     *code;
};

G_DEFINE_FINAL_TYPE (GwActivityItem, gw_activity_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TIME_TEXT,
  PROP_DEVICE,
  PROP_WHAT,
  PROP_OUTCOME,
  PROP_OUTCOME_ICON,
  PROP_PROBLEM,
  PROP_DETAIL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
gw_activity_item_finalize (GObject *object)
{
  GwActivityItem *self = GW_ACTIVITY_ITEM (object);

  g_free (self->time_text);
  g_free (self->kind);
  g_free (self->pne_id);
  g_free (self->device);
  g_free (self->device_key);
  g_free (self->what);
  g_free (self->outcome);
  g_free (self->detail);
  g_free (self->code);
  G_OBJECT_CLASS (gw_activity_item_parent_class)->finalize (object);
}

static void
gw_activity_item_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  GwActivityItem *self = GW_ACTIVITY_ITEM (object);

  switch (prop_id)
    {
    case PROP_TIME_TEXT: g_value_set_string (value, self->time_text); break;
    case PROP_DEVICE: g_value_set_string (value, self->device); break;
    case PROP_WHAT: g_value_set_string (value, self->what); break;
    case PROP_OUTCOME: g_value_set_string (value, self->outcome); break;
    case PROP_OUTCOME_ICON:
      g_value_set_string (value, self->problem ? "dialog-warning-symbolic" : "emblem-ok-symbolic");
      break;
    case PROP_PROBLEM: g_value_set_boolean (value, self->problem); break;
    case PROP_DETAIL: g_value_set_string (value, self->detail); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_activity_item_class_init (GwActivityItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = gw_activity_item_finalize;
  object_class->get_property = gw_activity_item_get_property;
  properties[PROP_TIME_TEXT] = g_param_spec_string ("time-text", NULL, NULL, NULL, f);
  properties[PROP_DEVICE] = g_param_spec_string ("device", NULL, NULL, NULL, f);
  properties[PROP_WHAT] = g_param_spec_string ("what", NULL, NULL, NULL, f);
  properties[PROP_OUTCOME] = g_param_spec_string ("outcome", NULL, NULL, NULL, f);
  properties[PROP_OUTCOME_ICON] = g_param_spec_string ("outcome-icon", NULL, NULL, NULL, f);
  properties[PROP_PROBLEM] = g_param_spec_boolean ("problem", NULL, NULL, FALSE, f);
  properties[PROP_DETAIL] = g_param_spec_string ("detail", NULL, NULL, NULL, f);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gw_activity_item_init (GwActivityItem *self)
{
}

GwActivityItem *
gw_activity_item_new (gint64      time_us,
                      const char *kind,
                      const char *pne_id,
                      const char *device,
                      const char *what,
                      const char *outcome,
                      gboolean    problem,
                      const char *detail,
                      const char *code)
{
  GwActivityItem *self = g_object_new (GW_TYPE_ACTIVITY_ITEM, NULL);
  g_autofree char *key = NULL;

  self->time_us = time_us;
  self->time_text = gw_format_clock_us (time_us);
  self->kind = g_strdup (kind);
  self->pne_id = g_strdup (pne_id);
  self->device = g_strdup (device ? device : "");
  self->what = g_strdup (what ? what : "");
  self->outcome = g_strdup (outcome ? outcome : "");
  self->problem = problem;
  self->detail = g_strdup (detail ? detail : "");
  self->code = g_strdup (code);
  key = g_strdup_printf ("%s\n%s", self->device, pne_id ? pne_id : "");
  self->device_key = g_utf8_casefold (key, -1);
  return self;
}

gboolean gw_activity_item_get_problem (GwActivityItem *self) { return self->problem; }
const char *gw_activity_item_get_device (GwActivityItem *self) { return self->device; }
const char *gw_activity_item_get_what (GwActivityItem *self) { return self->what; }
const char *gw_activity_item_get_outcome (GwActivityItem *self) { return self->outcome; }
const char *gw_activity_item_get_detail (GwActivityItem *self) { return self->detail; }
const char *gw_activity_item_get_device_key (GwActivityItem *self) { return self->device_key; }

char *
gw_activity_item_to_json (GwActivityItem *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (self->time_us / G_USEC_PER_SEC);
  g_autofree char *when = dt ? g_date_time_format_iso8601 (dt) : g_strdup ("");

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, when);
  json_builder_set_member_name (b, "time_us");
  json_builder_add_int_value (b, self->time_us);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, self->kind);
  if (self->pne_id)
    {
      json_builder_set_member_name (b, "pne_id");
      json_builder_add_string_value (b, self->pne_id);
    }
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, self->device);
  json_builder_set_member_name (b, "what");
  json_builder_add_string_value (b, self->what);
  json_builder_set_member_name (b, "outcome");
  json_builder_add_string_value (b, self->outcome);
  json_builder_set_member_name (b, "problem");
  json_builder_add_boolean_value (b, self->problem);
  if (self->code)
    {
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, self->code);
    }
  json_builder_set_member_name (b, "detail");
  json_builder_add_string_value (b, self->detail);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}
