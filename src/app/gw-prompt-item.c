/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-format.h"
#include "gw-prompt-item.h"

struct _GwPromptItem
{
  GObject         parent_instance;
  GwPromptInfo    info;         /* deep copy */
  GwPromptStatus  status;
  gint64          remaining;
  char           *title;
  char           *status_text;
};

G_DEFINE_FINAL_TYPE (GwPromptItem, gw_prompt_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_STATUS,
  PROP_STATUS_TEXT,
  PROP_REMAINING,
  PROP_PENDING,
  PROP_TYPE_ICON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
gw_prompt_item_finalize (GObject *object)
{
  GwPromptItem *self = GW_PROMPT_ITEM (object);

  g_free (self->info.pne_id);
  g_free (self->info.pne_name);
  g_free (self->info.entity_type);
  g_free (self->info.manufacturer);
  g_free (self->info.model);
  g_free (self->info.address);
  g_free (self->info.reason);
  g_free (self->info.rule_id);
  g_free (self->title);
  g_free (self->status_text);

  G_OBJECT_CLASS (gw_prompt_item_parent_class)->finalize (object);
}

static void
gw_prompt_item_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  GwPromptItem *self = GW_PROMPT_ITEM (object);

  switch (prop_id)
    {
    case PROP_TITLE: g_value_set_string (value, self->title); break;
    case PROP_STATUS: g_value_set_int (value, self->status); break;
    case PROP_STATUS_TEXT: g_value_set_string (value, self->status_text); break;
    case PROP_REMAINING: g_value_set_int64 (value, self->remaining); break;
    case PROP_PENDING: g_value_set_boolean (value, self->status == GW_PROMPT_STATUS_PENDING); break;
    case PROP_TYPE_ICON: g_value_set_string (value, gw_format_type_icon (self->info.entity_type)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gw_prompt_item_class_init (GwPromptItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = gw_prompt_item_finalize;
  object_class->get_property = gw_prompt_item_get_property;

  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL, f);
  properties[PROP_STATUS] = g_param_spec_int ("status", NULL, NULL, 0, G_MAXINT, 0, f);
  properties[PROP_STATUS_TEXT] = g_param_spec_string ("status-text", NULL, NULL, NULL, f);
  properties[PROP_REMAINING] = g_param_spec_int64 ("remaining", NULL, NULL, 0, G_MAXINT64, 0, f);
  properties[PROP_PENDING] = g_param_spec_boolean ("pending", NULL, NULL, TRUE, f);
  properties[PROP_TYPE_ICON] = g_param_spec_string ("type-icon", NULL, NULL, NULL, f);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gw_prompt_item_init (GwPromptItem *self)
{
}

static void
update_status_text (GwPromptItem *self)
{
  g_autofree char *left = NULL;
  char *text = NULL;
  gboolean pairing = self->info.kind == GW_PROMPT_PAIRING_CODE;

  switch (self->status)
    {
    case GW_PROMPT_STATUS_PENDING:
      left = gw_format_remaining (self->remaining);
      /* Translators: remaining time of a request, e.g. "1:42 left" */
      text = g_strdup_printf (_("%s left"), left);
      break;
    case GW_PROMPT_STATUS_EXPIRED:
      text = g_strdup (pairing ? _("Expired — the pairing was rejected")
                               : _("Expired — the device was denied"));
      break;
    case GW_PROMPT_STATUS_ANSWERED:
      text = g_strdup (_("Answered"));
      break;
    case GW_PROMPT_STATUS_PEER_LEFT:
      text = g_strdup (_("The device left before you answered"));
      break;
    case GW_PROMPT_STATUS_CANCELLED:
    default:
      text = g_strdup (_("Cancelled — the gateway stopped"));
      break;
    }
  if (g_strcmp0 (text, self->status_text) != 0)
    {
      g_free (self->status_text);
      self->status_text = text;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_TEXT]);
    }
  else
    g_free (text);
}

GwPromptItem *
gw_prompt_item_new (const GwPromptInfo *info)
{
  GwPromptItem *self;
  const char *name;

  g_return_val_if_fail (info != NULL, NULL);

  self = g_object_new (GW_TYPE_PROMPT_ITEM, NULL);
  self->info = *info;
  self->info.pne_id = g_strdup (info->pne_id);
  self->info.pne_name = g_strdup (info->pne_name);
  self->info.entity_type = g_strdup (info->entity_type);
  self->info.manufacturer = g_strdup (info->manufacturer);
  self->info.model = g_strdup (info->model);
  self->info.address = g_strdup (info->address);
  self->info.reason = g_strdup (info->reason);
  self->info.rule_id = g_strdup (info->rule_id);

  name = info->pne_name ? info->pne_name : _("A device");
  if (info->kind == GW_PROMPT_PAIRING_CODE)
    /* Translators: %s is a device name */
    self->title = g_strdup_printf (_("“%s” wants to pair"), name);
  else
    self->title = g_strdup_printf (_("“%s” wants to connect"), name);
  gw_prompt_item_tick (self, g_get_real_time ());
  update_status_text (self);
  return self;
}

guint64 gw_prompt_item_get_id (GwPromptItem *self) { return self->info.id; }
GwPromptKind gw_prompt_item_get_kind (GwPromptItem *self) { return self->info.kind; }
const GwPromptInfo *gw_prompt_item_get_info (GwPromptItem *self) { return &self->info; }
GwPromptStatus gw_prompt_item_get_status (GwPromptItem *self) { return self->status; }
gint64 gw_prompt_item_get_remaining (GwPromptItem *self) { return self->remaining; }
const char *gw_prompt_item_get_title (GwPromptItem *self) { return self->title; }
const char *gw_prompt_item_get_status_text (GwPromptItem *self) { return self->status_text; }

void
gw_prompt_item_set_status (GwPromptItem   *self,
                           GwPromptStatus  status)
{
  g_return_if_fail (GW_IS_PROMPT_ITEM (self));

  if (self->status == status)
    return;
  self->status = status;
  if (status != GW_PROMPT_STATUS_PENDING && self->remaining != 0)
    {
      self->remaining = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMAINING]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PENDING]);
  update_status_text (self);
}

void
gw_prompt_item_tick (GwPromptItem *self,
                     gint64        now_us)
{
  gint64 remaining;

  g_return_if_fail (GW_IS_PROMPT_ITEM (self));

  if (self->status != GW_PROMPT_STATUS_PENDING)
    return;
  remaining = (self->info.deadline - now_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
  remaining = MAX (remaining, 0);
  if (remaining == self->remaining)
    return;
  self->remaining = remaining;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REMAINING]);
  update_status_text (self);
}
