/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CpnsMessage: a validated protocol message (PROTOCOL.md §2, §4, §5). */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-message.h"
#include "cpns-message-private.h"

struct _CpnsMessage
{
  grefcount ref_count;
  const CpnsSchema *schema;
  JsonObject *object;
};

G_DEFINE_BOXED_TYPE (CpnsMessage, cpns_message, cpns_message_ref, cpns_message_unref)

static CpnsMessage *
message_new_with_object (const CpnsSchema *schema,
                         JsonObject       *object)
{
  CpnsMessage *msg = g_new0 (CpnsMessage, 1);

  g_ref_count_init (&msg->ref_count);
  msg->schema = schema;
  msg->object = object;
  return msg;
}

CpnsMessage *
cpns_message_new (const char *kind)
{
  const CpnsSchema *schema = cpns_schema_lookup (kind);
  JsonObject *object;

  g_return_val_if_fail (schema != NULL, NULL);

  object = json_object_new ();
  /* "v" and "type" come first on the wire (vectors.json frame_example). */
  if (schema->klass == CPNS_SCHEMA_FRAME || schema->klass == CPNS_SCHEMA_DATAGRAM)
    json_object_set_int_member (object, "v", 1);
  if (schema->type != NULL)
    json_object_set_string_member (object, "type", schema->type);
  return message_new_with_object (schema, object);
}

CpnsMessage *
cpns_message_ref (CpnsMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);

  g_ref_count_inc (&msg->ref_count);
  return msg;
}

void
cpns_message_unref (CpnsMessage *msg)
{
  g_return_if_fail (msg != NULL);

  if (g_ref_count_dec (&msg->ref_count))
    {
      cpns_json_wipe_secrets (msg->object);
      json_object_unref (msg->object);
      g_free (msg);
    }
}

const char *
cpns_message_get_kind (CpnsMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);

  return msg->schema->kind;
}

JsonObject *
cpns_message_get_object (CpnsMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);

  return msg->object;
}

/* Setters */

/* Replacing a member frees its old node: wipe a secret first. */
static void
prepare_set (CpnsMessage *msg,
             const char  *field)
{
  JsonNode *old = json_object_get_member (msg->object, field);

  if (old != NULL && JSON_NODE_HOLDS_VALUE (old) &&
      json_node_get_value_type (old) == G_TYPE_STRING && cpns_field_name_is_secret (field))
    {
      char *value = (char *) json_node_get_string (old);

      if (value != NULL)
        cpns_wipe (value, strlen (value));
    }
}

void
cpns_message_set_string (CpnsMessage *msg,
                         const char  *field,
                         const char  *value)
{
  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);

  prepare_set (msg, field);
  if (value == NULL)
    json_object_set_null_member (msg->object, field);
  else
    json_object_set_string_member (msg->object, field, value);
}

void
cpns_message_set_int (CpnsMessage *msg,
                      const char  *field,
                      gint64       value)
{
  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);

  prepare_set (msg, field);
  json_object_set_int_member (msg->object, field, value);
}

void
cpns_message_set_bool (CpnsMessage *msg,
                       const char  *field,
                       gboolean     value)
{
  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);

  prepare_set (msg, field);
  json_object_set_boolean_member (msg->object, field, value);
}

void
cpns_message_set_bytes (CpnsMessage  *msg,
                        const char   *field,
                        const guint8 *data,
                        gsize         len)
{
  char *text;

  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);
  g_return_if_fail (data != NULL || len == 0);

  text = cpns_base64url_encode (data, len);
  cpns_message_set_string (msg, field, text);
  cpns_free_secret_string (text);
}

void
cpns_message_set_time (CpnsMessage *msg,
                       const char  *field,
                       GDateTime   *time)
{
  g_autoptr(GDateTime) utc = NULL;
  g_autofree char *text = NULL;

  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);
  g_return_if_fail (time != NULL);

  utc = g_date_time_to_utc (time);
  text = g_date_time_format (utc, "%Y-%m-%dT%H:%M:%SZ");
  cpns_message_set_string (msg, field, text);
}

static JsonNode *deep_copy_node (JsonNode *node);

static JsonObject *
deep_copy_object (JsonObject *object)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &node))
    json_object_set_member (copy, name, deep_copy_node (node));
  return copy;
}

static JsonArray *
deep_copy_array (JsonArray *array)
{
  guint n = json_array_get_length (array);
  JsonArray *copy = json_array_sized_new (n);

  for (guint i = 0; i < n; i++)
    json_array_add_element (copy, deep_copy_node (json_array_get_element (array, i)));
  return copy;
}

static JsonNode *
deep_copy_node (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = deep_copy_object (json_node_get_object (node));
      JsonNode *copy = json_node_init_object (json_node_alloc (), object);

      json_object_unref (object);
      return copy;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = deep_copy_array (json_node_get_array (node));
      JsonNode *copy = json_node_init_array (json_node_alloc (), array);

      json_array_unref (array);
      return copy;
    }
  return cpns_json_node_copy_value (node);
}

void
cpns_message_set_object (CpnsMessage *msg,
                         const char  *field,
                         JsonObject  *object)
{
  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);
  g_return_if_fail (object != NULL);

  prepare_set (msg, field);
  json_object_set_object_member (msg->object, field, deep_copy_object (object));
}

void
cpns_message_set_array (CpnsMessage *msg,
                        const char  *field,
                        JsonArray   *array)
{
  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);
  g_return_if_fail (array != NULL);

  prepare_set (msg, field);
  json_object_set_array_member (msg->object, field, deep_copy_array (array));
}

void
cpns_message_set_strv (CpnsMessage        *msg,
                       const char         *field,
                       const char * const *strv)
{
  JsonArray *array;

  g_return_if_fail (msg != NULL);
  g_return_if_fail (field != NULL);

  array = json_array_new ();
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    json_array_add_string_element (array, strv[i]);
  prepare_set (msg, field);
  json_object_set_array_member (msg->object, field, array);
}

/* Getters */

static JsonNode *
get_value (CpnsMessage *msg,
           const char  *field,
           GType        type)
{
  JsonNode *node;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (field != NULL, NULL);

  node = json_object_get_member (msg->object, field);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
    return NULL;
  return node;
}

gboolean
cpns_message_has (CpnsMessage *msg,
                  const char  *field)
{
  JsonNode *node;

  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (field != NULL, FALSE);

  node = json_object_get_member (msg->object, field);
  return node != NULL && !JSON_NODE_HOLDS_NULL (node);
}

const char *
cpns_message_get_string (CpnsMessage *msg,
                         const char  *field)
{
  JsonNode *node = get_value (msg, field, G_TYPE_STRING);

  return node != NULL ? json_node_get_string (node) : NULL;
}

gint64
cpns_message_get_int (CpnsMessage *msg,
                      const char  *field)
{
  JsonNode *node = get_value (msg, field, G_TYPE_INT64);

  return node != NULL ? json_node_get_int (node) : 0;
}

gboolean
cpns_message_get_bool (CpnsMessage *msg,
                       const char  *field)
{
  JsonNode *node = get_value (msg, field, G_TYPE_BOOLEAN);

  return node != NULL ? json_node_get_boolean (node) : FALSE;
}

gboolean
cpns_message_get_bytes (CpnsMessage *msg,
                        const char  *field,
                        guint8      *out,
                        gsize        len)
{
  const char *text = cpns_message_get_string (msg, field);

  g_return_val_if_fail (out != NULL || len == 0, FALSE);

  if (text == NULL)
    return FALSE;
  return cpns_base64url_decode_exact (text, out, len);
}

GDateTime *
cpns_message_dup_time (CpnsMessage *msg,
                       const char  *field)
{
  const char *text = cpns_message_get_string (msg, field);

  if (text == NULL || !cpns_time_is_valid (text))
    return NULL;
  return g_date_time_new_from_iso8601 (text, NULL);
}

JsonObject *
cpns_message_get_json_object (CpnsMessage *msg,
                              const char  *field)
{
  JsonNode *node;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (field != NULL, NULL);

  node = json_object_get_member (msg->object, field);
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

JsonArray *
cpns_message_get_json_array (CpnsMessage *msg,
                             const char  *field)
{
  JsonNode *node;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (field != NULL, NULL);

  node = json_object_get_member (msg->object, field);
  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

char **
cpns_message_dup_strv (CpnsMessage *msg,
                       const char  *field)
{
  JsonArray *array = cpns_message_get_json_array (msg, field);
  g_autoptr(GPtrArray) strv = NULL;
  guint n;

  if (array == NULL)
    return NULL;
  n = json_array_get_length (array);
  strv = g_ptr_array_new_full (n + 1, g_free);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *item = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_STRING)
        g_ptr_array_add (strv, g_strdup (json_node_get_string (item)));
    }
  g_ptr_array_add (strv, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&strv), FALSE);
}

/* Encoding */

static gsize
schema_max_size (const CpnsSchema *schema)
{
  return schema->klass == CPNS_SCHEMA_DATAGRAM ? CPNS_MAX_DATAGRAM_SIZE : CPNS_MAX_MESSAGE_SIZE;
}

static gboolean
check_header (const CpnsSchema  *schema,
              JsonObject        *object,
              GError           **error);

/* What json-glib 1.6 cannot print as JSON: fractional numbers (it writes
 * 1e30 as "1e+30.0") and strings that are not UTF-8. No field of the
 * protocol is fractional; decoded messages never hold either (unknown
 * members are dropped), so this only catches local mistakes in members
 * the schema does not know. Returns what is wrong, or NULL. */
static const char *check_node (JsonNode *node);

static const char *
check_object (JsonObject *object)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &node))
    {
      const char *problem;

      if (!g_utf8_validate (name, -1, NULL))
        return "a string is not valid UTF-8 (bad escape)";
      if ((problem = check_node (node)) != NULL)
        return problem;
    }
  return NULL;
}

static const char *
check_node (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    return check_object (json_node_get_object (node));
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      for (guint i = 0; i < n; i++)
        {
          const char *problem = check_node (json_array_get_element (array, i));

          if (problem != NULL)
            return problem;
        }
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_STRING &&
      !g_utf8_validate (json_node_get_string (node), -1, NULL))
    return "a string is not valid UTF-8 (bad escape)";
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return "a number is not an integer (the protocol has no fractional numbers)";
  return NULL;
}

GBytes *
cpns_message_encode (CpnsMessage  *msg,
                     GError      **error)
{
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  const char *problem;
  char *text;
  gsize len;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_header (msg->schema, msg->object, error) ||
      !cpns_schema_validate (msg->schema, msg->object, NULL, error))
    return NULL;
  if ((problem = check_object (msg->object)) != NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: %s", problem);
      return NULL;
    }

  root = json_node_init_object (json_node_alloc (), msg->object);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, FALSE);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);

  /* What we send must pass our own scan (size, depth, number length). */
  if (!cpns_json_check_limits (text, len, schema_max_size (msg->schema), error))
    {
      cpns_wipe (text, len);
      g_free (text);
      return NULL;
    }
  return g_bytes_new_take (text, len);
}

/* Decoding */

static JsonObject *
parse_object (const char  *data,
              gsize        len,
              gsize        max_size,
              GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  char *copy;
  JsonNode *root;

  if (!cpns_json_check_limits (data, len, max_size, error))
    return NULL;
  if (len == 0)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
      return NULL;
    }
  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: message is not valid UTF-8");
      return NULL;
    }

  /* json-glib wants NUL-terminated text; the copy may hold secrets. */
  copy = g_malloc (len + 1);
  memcpy (copy, data, len);
  copy[len] = '\0';
  parser = cpns_json_parse_unique (copy, len, error);
  cpns_wipe (copy, len);
  g_free (copy);
  if (parser == NULL)
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: message must be a JSON object");
      return NULL;
    }

  return json_object_ref (json_node_get_object (root));
}

static void
object_free_secret (JsonObject *object)
{
  cpns_json_wipe_secrets (object);
  json_object_unref (object);
}

typedef JsonObject CpnsSecretObject;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CpnsSecretObject, object_free_secret)

/* "v" of §2: missing or non-integer → bad_request, ≠ 1 → unsupported_version. */
static gboolean
check_version (JsonObject  *object,
               GError     **error)
{
  JsonNode *node = json_object_get_member (object, "v");

  if (node == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'v' is required");
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'v' must be an integer");
      return FALSE;
    }
  if (json_node_get_int (node) != 1)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_UNSUPPORTED_VERSION,
                   "unsupported_version: field 'v' is %" G_GINT64_FORMAT ", not 1",
                   json_node_get_int (node));
      return FALSE;
    }
  return TRUE;
}

static const char *
get_type (JsonObject  *object,
          GError     **error)
{
  JsonNode *node = json_object_get_member (object, "type");

  if (node == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'type' is required");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'type' must be a string");
      return NULL;
    }
  return json_node_get_string (node);
}

/* For encode: a locally built frame still has the right header. */
static gboolean
check_header (const CpnsSchema  *schema,
              JsonObject        *object,
              GError           **error)
{
  if (schema->klass == CPNS_SCHEMA_FRAME || schema->klass == CPNS_SCHEMA_DATAGRAM)
    {
      if (!check_version (object, error))
        return FALSE;
    }
  if (schema->type != NULL)
    {
      const char *type = get_type (object, error);

      if (type == NULL)
        return FALSE;
      if (strcmp (type, schema->type) != 0)
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: field 'type' must be %s", schema->type);
          return FALSE;
        }
    }
  return TRUE;
}

static CpnsMessage *
decode_typed (CpnsSchemaClass   klass,
              const char       *data,
              gsize             len,
              gsize             max_size,
              GError          **error)
{
  g_autoptr(CpnsSecretObject) object = NULL;
  const CpnsSchema *schema;
  const char *type;

  object = parse_object (data, len, max_size, error);
  if (object == NULL)
    return NULL;
  if (klass != CPNS_SCHEMA_EVENT && !check_version (object, error))
    return NULL;
  type = get_type (object, error);
  if (type == NULL)
    return NULL;
  schema = cpns_schema_lookup_type (klass, type);
  if (schema == NULL)
    {
      g_autofree char *shown = g_utf8_make_valid (type, MIN (strlen (type), 64));

      g_set_error (error, CPNS_ERROR, CPNS_ERROR_UNKNOWN_TYPE,
                   "unknown_type: unknown message type '%s'", shown);
      return NULL;
    }
  if (!cpns_schema_validate (schema, object, NULL, error))
    return NULL;
  return message_new_with_object (schema, cpns_schema_known_members (schema, object, TRUE));
}

CpnsMessage *
cpns_message_decode_frame (const char  *data,
                           gsize        len,
                           gsize        max_size,
                           GError     **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return decode_typed (CPNS_SCHEMA_FRAME, data, len, MIN (max_size, CPNS_MAX_MESSAGE_SIZE),
                       error);
}

CpnsMessage *
cpns_message_decode_datagram (const char  *data,
                              gsize        len,
                              GError     **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return decode_typed (CPNS_SCHEMA_DATAGRAM, data, len, CPNS_MAX_DATAGRAM_SIZE, error);
}

CpnsMessage *
cpns_message_decode_event (const char  *data,
                           gsize        len,
                           GError     **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return decode_typed (CPNS_SCHEMA_EVENT, data, len, CPNS_MAX_MESSAGE_SIZE, error);
}

CpnsMessage *
cpns_message_decode_body (const char  *kind,
                          const char  *data,
                          gsize        len,
                          GError     **error)
{
  const CpnsSchema *schema = cpns_schema_lookup (kind);
  g_autoptr(CpnsSecretObject) object = NULL;

  g_return_val_if_fail (schema != NULL && schema->klass == CPNS_SCHEMA_BODY, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  object = parse_object (data, len, CPNS_MAX_MESSAGE_SIZE, error);
  if (object == NULL)
    return NULL;
  if (!cpns_schema_validate (schema, object, NULL, error))
    return NULL;
  return message_new_with_object (schema, cpns_schema_known_members (schema, object, FALSE));
}

/* Errors */

static char *
error_text (const GError *error)
{
  const char *message = error->message != NULL ? error->message : "";
  gsize len = strlen (message);
  const char *end;

  if (len > CPNS_MAX_STRING_BYTES)
    len = CPNS_MAX_STRING_BYTES;
  /* Cut on a character boundary; g_utf8_make_valid repairs the rest. */
  end = message + len;
  if (len < strlen (message))
    end = g_utf8_find_prev_char (message, end + 1);
  if (end == NULL)
    end = message;
  return g_utf8_make_valid (message, end - message);
}

static const char *
wire_code (const GError *error)
{
  g_autoptr(GError) cpns_error = cpns_error_to_cpns (error);

  if (cpns_error->code >= CPNS_ERROR_PIN_MISMATCH || cpns_error->code < 0)
    return cpns_error_code_to_string (CPNS_ERROR_INTERNAL);
  return cpns_error_code_to_string (cpns_error->code);
}

CpnsMessage *
cpns_message_new_error (const GError *error)
{
  CpnsMessage *msg;
  g_autofree char *text = NULL;

  g_return_val_if_fail (error != NULL, NULL);

  msg = cpns_message_new ("error");
  text = error_text (error);
  cpns_message_set_string (msg, "code", wire_code (error));
  cpns_message_set_string (msg, "message", text);
  return msg;
}

GBytes *
cpns_http_error_body_with_retry (const GError *error,
                                 gint64        retry_after)
{
  g_autoptr(CpnsMessage) msg = NULL;
  g_autoptr(JsonObject) detail = json_object_new ();
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  GBytes *bytes;

  g_return_val_if_fail (error != NULL, NULL);

  text = error_text (error);
  json_object_set_string_member (detail, "code", wire_code (error));
  json_object_set_string_member (detail, "message", text);
  if (retry_after >= 0)
    json_object_set_int_member (detail, "retry_after", retry_after);
  msg = cpns_message_new ("api.error");
  cpns_message_set_object (msg, "error", detail);
  bytes = cpns_message_encode (msg, &local_error);
  g_assert_no_error (local_error);
  return bytes;
}

GBytes *
cpns_http_error_body (const GError *error)
{
  return cpns_http_error_body_with_retry (error, -1);
}

GError *
cpns_message_to_error (CpnsMessage *msg)
{
  JsonObject *detail;
  const char *code_text = NULL;
  const char *message = NULL;
  CpnsErrorCode code;

  g_return_val_if_fail (msg != NULL, NULL);

  if (g_strcmp0 (msg->schema->kind, "error") == 0)
    detail = msg->object;
  else if (g_strcmp0 (msg->schema->kind, "api.error") == 0)
    detail = cpns_message_get_json_object (msg, "error");
  else
    return NULL;

  if (detail != NULL)
    {
      JsonNode *node = json_object_get_member (detail, "code");

      if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING)
        code_text = json_node_get_string (node);
      node = json_object_get_member (detail, "message");
      if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING)
        message = json_node_get_string (node);
    }

  if (!cpns_error_code_from_string (code_text, &code))
    code = CPNS_ERROR_INTERNAL;
  return g_error_new_literal (CPNS_ERROR, code,
                              message != NULL ? message : cpns_error_code_to_string (code));
}

gboolean
cpns_entity_descriptor_validate (JsonObject  *entity,
                                 const char  *field_prefix,
                                 GError     **error)
{
  g_return_val_if_fail (entity != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return cpns_schema_validate (cpns_schema_entity_descriptor (), entity, field_prefix, error);
}
