/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include "cpns.h"
#include "pne-entity.h"

JsonObject *
pne_entity_new (const char         *name,
                const char         *entity_type,
                const char         *manufacturer,
                const char         *model,
                const char         *serial,
                const char * const *services,
                GError            **error)
{
  g_autoptr(JsonObject) entity = json_object_new ();

  json_object_set_string_member (entity, "name", name != NULL ? name : "");
  json_object_set_string_member (entity, "entity_type", entity_type != NULL ? entity_type : "");
  if (manufacturer != NULL)
    json_object_set_string_member (entity, "manufacturer", manufacturer);
  if (model != NULL)
    json_object_set_string_member (entity, "model", model);
  if (serial != NULL)
    json_object_set_string_member (entity, "serial", serial);
  if (services != NULL && services[0] != NULL)
    {
      JsonArray *array = json_array_new ();

      json_object_set_array_member (entity, "services", array);
      for (guint i = 0; services[i] != NULL; i++)
        {
          g_auto(GStrv) parts = g_strsplit (services[i], ":", -1);
          guint n = g_strv_length (parts);
          JsonObject *service;

          if (n < 2 || n > 3 || *parts[0] == '\0' || *parts[1] == '\0')
            {
              g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "Service “%s” is not NAME:PROTO[:PORT]", services[i]);
              return NULL;
            }
          service = json_object_new ();
          json_object_set_string_member (service, "name", parts[0]);
          json_object_set_string_member (service, "protocol", parts[1]);
          if (n == 3)
            {
              guint64 port;

              if (!g_ascii_string_to_unsigned (parts[2], 10, 1, 65535, &port, NULL))
                {
                  json_object_unref (service);
                  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                               "Service “%s”: the port must be 1–65535", services[i]);
                  return NULL;
                }
              json_object_set_int_member (service, "port", (gint64) port);
            }
          json_array_add_object_element (array, service);
        }
    }
  if (!cpns_entity_descriptor_validate (entity, "entity", error))
    return NULL;
  return g_steal_pointer (&entity);
}
