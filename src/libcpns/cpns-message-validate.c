/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Checks a JSON object against a CpnsSchema (PROTOCOL.md §2 rules). */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-message.h"
#include "cpns-message-private.h"

static const char * const secret_names[] = {
  "euk", "gateway_secret", "session_key", "session_token", "enrollment_code", NULL
};

gboolean
cpns_field_name_is_secret (const char *name)
{
  return name != NULL && g_strv_contains (secret_names, name);
}

char *
cpns_field_path (const char *prefix,
                 const char *name)
{
  if (prefix == NULL || *prefix == '\0')
    return g_strdup (name);
  return g_strconcat (prefix, ".", name, NULL);
}

static gboolean
digits (const char *s,
        guint       n)
{
  for (guint i = 0; i < n; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM), and a real
 * calendar time. */
gboolean
cpns_time_is_valid (const char *text)
{
  const char *p;
  g_autoptr(GDateTime) dt = NULL;

  if (text == NULL || strlen (text) < 20 || strlen (text) > 64)
    return FALSE;
  if (!digits (text, 4) || text[4] != '-' || !digits (text + 5, 2) || text[7] != '-' ||
      !digits (text + 8, 2) || text[10] != 'T' || !digits (text + 11, 2) || text[13] != ':' ||
      !digits (text + 14, 2) || text[16] != ':' || !digits (text + 17, 2))
    return FALSE;
  p = text + 19;
  if (*p == '.')
    {
      p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }
  if (*p == 'Z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      if (!digits (p + 1, 2) || p[3] != ':' || !digits (p + 4, 2))
        return FALSE;
      p += 6;
    }
  else
    return FALSE;
  if (*p != '\0')
    return FALSE;

  dt = g_date_time_new_from_iso8601 (text, NULL);
  return dt != NULL;
}

gboolean
cpns_enrollment_code_is_valid (const char *text)
{
  if (text == NULL || strlen (text) != 19)
    return FALSE;
  for (guint i = 0; i < 19; i++)
    {
      if (i % 5 == 4)
        {
          if (text[i] != '-')
            return FALSE;
        }
      else if (!((text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '2' && text[i] <= '7')))
        return FALSE;
    }
  return TRUE;
}

static gboolean
sha256_hex_is_valid (const char *text)
{
  if (strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return FALSE;
  return TRUE;
}

static gboolean
fail (GError    **error,
      const char *path,
      const char *format,
      ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError    **error,
      const char *path,
      const char *format,
      ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
               "bad_request: field '%s' %s", path, what);
  return FALSE;
}

static const char *
id_pattern (CpnsIdKind kind)
{
  switch (kind)
    {
    case CPNS_ID_PN: return "pn-";
    case CPNS_ID_GATEWAY: return "gw-";
    case CPNS_ID_PNE: return "pne-";
    case CPNS_ID_KEY: return "key-";
    case CPNS_ID_SESSION: return "ses-";
    case CPNS_ID_AUTH: return "auth-";
    case CPNS_ID_CHALLENGE: return "chl-";
    case CPNS_ID_RULE: return "rule-";
    default: return "?";
    }
}

static gboolean
is_type (JsonNode *node,
         GType     type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
validate_string (const CpnsField  *field,
                 const char       *path,
                 const char       *value,
                 GError          **error)
{
  gsize len = strlen (value);
  gint64 max_bytes = CPNS_MAX_STRING_BYTES;

  if (field->type == CPNS_FIELD_STRING && field->max > 0)
    max_bytes = field->max;
  if ((gint64) len > max_bytes)
    return fail (error, path, "is longer than %" G_GINT64_FORMAT " bytes", max_bytes);
  if (!g_utf8_validate (value, len, NULL))
    return fail (error, path, "must be valid UTF-8");

  switch (field->type)
    {
    case CPNS_FIELD_STRING:
      if ((gint64) len < field->min)
        return fail (error, path, "must be at least %" G_GINT64_FORMAT " bytes", field->min);
      return TRUE;

    case CPNS_FIELD_TEXT:
      {
        glong chars = g_utf8_strlen (value, len);

        if (chars < field->min || chars > field->max)
          return fail (error, path, "must be %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                       " characters", field->min, field->max);
        return TRUE;
      }

    case CPNS_FIELD_ID:
      if (!cpns_id_is_valid (field->id_kind, value))
        return fail (error, path, "must be an identifier '%s' + %u lowercase hex digits",
                     id_pattern (field->id_kind), field->id_kind == CPNS_ID_KEY ? 16 : 32);
      return TRUE;

    case CPNS_FIELD_USER_ID:
      if (!cpns_user_id_is_valid (value))
        return fail (error, path, "must be a user id (1 to 64 of a-z 0-9 . _ -)");
      return TRUE;

    case CPNS_FIELD_BYTES:
      {
        guint8 buf[64];
        gboolean ok;

        g_assert (field->max <= (gint64) sizeof buf);
        ok = cpns_base64url_decode_exact (value, buf, field->max);
        cpns_wipe (buf, sizeof buf);
        if (!ok)
          return fail (error, path, "must be %" G_GINT64_FORMAT " bytes of base64url",
                       field->max);
        return TRUE;
      }

    case CPNS_FIELD_TIME:
      if (!cpns_time_is_valid (value))
        return fail (error, path, "must be an RFC 3339 time");
      return TRUE;

    case CPNS_FIELD_ENUM:
      if (!g_strv_contains (field->values, value))
        {
          g_autofree char *list = g_strjoinv (", ", (char **) field->values);

          return fail (error, path, "must be one of: %s", list);
        }
      return TRUE;

    case CPNS_FIELD_SHA256_HEX:
      if (!sha256_hex_is_valid (value))
        return fail (error, path, "must be 64 lowercase hex digits");
      return TRUE;

    case CPNS_FIELD_ERROR_CODE:
      {
        CpnsErrorCode code;

        if (!cpns_error_code_from_string (value, &code) || code >= CPNS_ERROR_PIN_MISMATCH)
          return fail (error, path, "must be an error code of PROTOCOL.md §2");
        return TRUE;
      }

    case CPNS_FIELD_ENROLLMENT_CODE:
      if (!cpns_enrollment_code_is_valid (value))
        return fail (error, path, "must be an enrollment code XXXX-XXXX-XXXX-XXXX (base32)");
      return TRUE;

    case CPNS_FIELD_BOOL:
    case CPNS_FIELD_INT:
    case CPNS_FIELD_NAMES:
    case CPNS_FIELD_OBJECT:
    case CPNS_FIELD_OBJECTS:
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

static gboolean
validate_field (const CpnsField  *field,
                const char       *path,
                JsonNode         *node,
                GError          **error)
{
  switch (field->type)
    {
    case CPNS_FIELD_BOOL:
      if (!is_type (node, G_TYPE_BOOLEAN))
        return fail (error, path, "must be a boolean");
      return TRUE;

    case CPNS_FIELD_INT:
      {
        gint64 v;

        if (!is_type (node, G_TYPE_INT64))
          return fail (error, path, "must be an integer");
        v = json_node_get_int (node);
        if (v < field->min || v > field->max)
          return fail (error, path, "must be an integer from %" G_GINT64_FORMAT
                       " to %" G_GINT64_FORMAT, field->min, field->max);
        return TRUE;
      }

    case CPNS_FIELD_NAMES:
      {
        JsonArray *array;
        guint n;
        static const CpnsField name_rule = {
          .name = "", .type = CPNS_FIELD_TEXT, .min = 1, .max = 64
        };

        if (!JSON_NODE_HOLDS_ARRAY (node))
          return fail (error, path, "must be an array");
        array = json_node_get_array (node);
        n = json_array_get_length (array);
        if (n > field->max)
          return fail (error, path, "has more than %" G_GINT64_FORMAT " items", field->max);
        for (guint i = 0; i < n; i++)
          {
            JsonNode *item = json_array_get_element (array, i);
            g_autofree char *item_path = g_strdup_printf ("%s[%u]", path, i);

            if (!is_type (item, G_TYPE_STRING))
              return fail (error, item_path, "must be a string");
            if (!validate_string (&name_rule, item_path, json_node_get_string (item), error))
              return FALSE;
          }
        return TRUE;
      }

    case CPNS_FIELD_OBJECT:
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return fail (error, path, "must be an object");
      return cpns_schema_validate (field->schema, json_node_get_object (node), path, error);

    case CPNS_FIELD_OBJECTS:
      {
        JsonArray *array;
        guint n;

        if (!JSON_NODE_HOLDS_ARRAY (node))
          return fail (error, path, "must be an array");
        array = json_node_get_array (node);
        n = json_array_get_length (array);
        if (n > field->max)
          return fail (error, path, "has more than %" G_GINT64_FORMAT " items", field->max);
        for (guint i = 0; i < n; i++)
          {
            JsonNode *item = json_array_get_element (array, i);
            g_autofree char *item_path = g_strdup_printf ("%s[%u]", path, i);

            if (!JSON_NODE_HOLDS_OBJECT (item))
              return fail (error, item_path, "must be an object");
            if (!cpns_schema_validate (field->schema, json_node_get_object (item),
                                       item_path, error))
              return FALSE;
          }
        return TRUE;
      }

    case CPNS_FIELD_STRING:
    case CPNS_FIELD_TEXT:
    case CPNS_FIELD_ID:
    case CPNS_FIELD_USER_ID:
    case CPNS_FIELD_BYTES:
    case CPNS_FIELD_TIME:
    case CPNS_FIELD_ENUM:
    case CPNS_FIELD_SHA256_HEX:
    case CPNS_FIELD_ERROR_CODE:
    case CPNS_FIELD_ENROLLMENT_CODE:
    default:
      if (!is_type (node, G_TYPE_STRING))
        return fail (error, path, "must be a string");
      return validate_string (field, path, json_node_get_string (node), error);
    }
}

gboolean
cpns_schema_validate (const CpnsSchema  *schema,
                      JsonObject        *object,
                      const char        *prefix,
                      GError           **error)
{
  for (const CpnsField *field = schema->fields; field->name != NULL; field++)
    {
      JsonNode *node = json_object_get_member (object, field->name);
      g_autofree char *path = cpns_field_path (prefix, field->name);

      if (node != NULL && JSON_NODE_HOLDS_NULL (node) &&
          (field->flags & CPNS_FIELD_NULLABLE) != 0)
        node = NULL;

      if (node == NULL)
        {
          if (field->flags & CPNS_FIELD_REQUIRED)
            return fail (error, path, "is required");
          continue;
        }

      if (!validate_field (field, path, node, error))
        return FALSE;
    }

  if (schema->check != NULL)
    return schema->check (object, prefix, error);
  return TRUE;
}

static void wipe_node (const char *name,
                       JsonNode   *node);

static void
wipe_object_member (JsonObject  *object,
                    const char  *name,
                    JsonNode    *node,
                    gpointer     user_data)
{
  wipe_node (name, node);
}

static void
wipe_array_element (JsonArray *array,
                    guint      index,
                    JsonNode  *node,
                    gpointer   user_data)
{
  wipe_node (user_data, node);
}

static void
wipe_node (const char *name,
           JsonNode   *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    json_object_foreach_member (json_node_get_object (node), wipe_object_member, NULL);
  else if (JSON_NODE_HOLDS_ARRAY (node))
    json_array_foreach_element (json_node_get_array (node), wipe_array_element,
                                (gpointer) name);
  else if (is_type (node, G_TYPE_STRING) && cpns_field_name_is_secret (name))
    {
      char *value = (char *) json_node_get_string (node);

      if (value != NULL)
        cpns_wipe (value, strlen (value));
    }
}

static const CpnsField *
find_field (const CpnsSchema *schema,
            const char       *name)
{
  for (const CpnsField *field = schema->fields; field->name != NULL; field++)
    if (strcmp (field->name, name) == 0)
      return field;
  return NULL;
}

/* json_node_copy() shares the value of a scalar node: wiping one copy's
 * string would wipe the other. A string gets a copy of its own here. */
JsonNode *
cpns_json_node_copy_value (JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_init_string (json_node_alloc (), json_node_get_string (node));
  return json_node_copy (node);
}

JsonObject *
cpns_schema_known_members (const CpnsSchema *schema,
                           JsonObject       *object,
                           gboolean          keep_header)
{
  JsonObject *known = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  /* A new object rather than removals: json-glib removes a member in time
   * linear in the number of members. */
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &node))
    {
      const CpnsField *field = NULL;

      if (!(keep_header && (strcmp (name, "v") == 0 || strcmp (name, "type") == 0)))
        {
          field = find_field (schema, name);
          if (field == NULL)
            continue;
        }

      if (field != NULL && field->type == CPNS_FIELD_OBJECT && JSON_NODE_HOLDS_OBJECT (node))
        json_object_set_object_member (known, name,
                                       cpns_schema_known_members (field->schema,
                                                                  json_node_get_object (node),
                                                                  FALSE));
      else if (field != NULL && field->type == CPNS_FIELD_OBJECTS && JSON_NODE_HOLDS_ARRAY (node))
        {
          JsonArray *array = json_node_get_array (node);
          guint n = json_array_get_length (array);
          JsonArray *items = json_array_sized_new (n);

          for (guint i = 0; i < n; i++)
            {
              JsonNode *item = json_array_get_element (array, i);

              if (JSON_NODE_HOLDS_OBJECT (item))
                json_array_add_object_element (items,
                                               cpns_schema_known_members (field->schema,
                                                                          json_node_get_object (item),
                                                                          FALSE));
              else
                json_array_add_element (items, cpns_json_node_copy_value (item));
            }
          json_object_set_array_member (known, name, items);
        }
      else
        json_object_set_member (known, name, cpns_json_node_copy_value (node));
    }
  return known;
}

void
cpns_json_wipe_secrets (JsonObject *object)
{
  if (object != NULL)
    json_object_foreach_member (object, wipe_object_member, NULL);
}
