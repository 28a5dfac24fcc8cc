/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The message codec: round trip of every kind, and one rejection per
 * validation rule of every field of every kind (PROTOCOL.md §2, §4, §5). */
#include "config.h"

#include <string.h>

#include "cpns.h"
#include "cpns-message-private.h"

#include "message-samples.h"

static const MessageSample *
sample_for (const char *kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS (message_samples); i++)
    if (strcmp (message_samples[i].kind, kind) == 0)
      return &message_samples[i];
  g_error ("no sample of %s", kind);
}

/* Decodes @json the way the endpoint of @kind's class would. */
static CpnsMessage *
decode_as (const char  *kind,
           const char  *json,
           gsize        len,
           GError     **error)
{
  const CpnsSchema *schema = cpns_schema_lookup (kind);

  g_assert_nonnull (schema);
  switch (schema->klass)
    {
    case CPNS_SCHEMA_FRAME:
      return cpns_message_decode_frame (json, len, CPNS_MAX_MESSAGE_SIZE, error);
    case CPNS_SCHEMA_DATAGRAM:
      return cpns_message_decode_datagram (json, len, error);
    case CPNS_SCHEMA_BODY:
      return cpns_message_decode_body (kind, json, len, error);
    case CPNS_SCHEMA_EVENT:
      return cpns_message_decode_event (json, len, error);
    case CPNS_SCHEMA_NESTED:
    default:
      g_assert_not_reached ();
    }
  return NULL;
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static char *
to_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static void
assert_rejected (const char   *kind,
                 const char   *json,
                 CpnsErrorCode code,
                 const char   *expected_start)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = decode_as (kind, json, strlen (json), &error);

  if (msg != NULL)
    g_error ("%s accepted: %s", kind, json);
  g_assert_error (error, CPNS_ERROR, (gint) code);
  if (!g_str_has_prefix (error->message, expected_start))
    g_error ("%s: message '%s' does not start with '%s' (input %.200s)",
             kind, error->message, expected_start, json);
}

static void
assert_bytes_str (GBytes     *bytes,
                  const char *expected)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  g_assert_cmpstr (text, ==, expected);
}

static void
test_every_kind_has_sample (void)
{
  gsize n;
  const CpnsSchema *schemas = cpns_schema_all (&n);

  g_assert_cmpuint (n, ==, G_N_ELEMENTS (message_samples));
  for (gsize i = 0; i < n; i++)
    g_assert_nonnull (sample_for (schemas[i].kind));
}

static void
test_round_trip (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (message_samples); i++)
    {
      const MessageSample *s = &message_samples[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(CpnsMessage) msg = decode_as (s->kind, s->json, strlen (s->json), &error);
      g_autoptr(CpnsMessage) again = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GBytes) bytes2 = NULL;
      g_autoptr(JsonNode) a = NULL;
      g_autoptr(JsonNode) b = NULL;
      g_autoptr(JsonNode) original = parse (s->json);

      if (error != NULL)
        g_error ("%s: %s", s->kind, error->message);
      g_assert_nonnull (msg);
      g_assert_cmpstr (cpns_message_get_kind (msg), ==, s->kind);

      bytes = cpns_message_encode (msg, &error);
      g_assert_no_error (error);
      again = decode_as (s->kind, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (cpns_message_get_kind (again), ==, s->kind);

      a = json_node_init_object (json_node_alloc (), cpns_message_get_object (msg));
      b = json_node_init_object (json_node_alloc (), cpns_message_get_object (again));
      g_assert_true (json_node_equal (a, b));
      g_assert_true (json_node_equal (a, original));

      bytes2 = cpns_message_encode (again, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (bytes, bytes2));
    }
}

/* Generated rejections: one per rule of every field, from the schema. */

typedef struct
{
  guint missing;
  guint wrong_type;
  guint bad_value;
  guint too_long;
  guint too_many;
} RuleCounts;

/* The object at @path inside @root's object, e.g. "entity.services[0]". */
static JsonObject *
object_at (JsonNode   *root,
           const char *path)
{
  JsonObject *object = json_node_get_object (root);
  g_auto(GStrv) parts = NULL;

  if (path == NULL || *path == '\0')
    return object;
  parts = g_strsplit (path, ".", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *bracket = strchr (parts[i], '[');

      if (bracket != NULL)
        {
          guint index = (guint) g_ascii_strtoull (bracket + 1, NULL, 10);

          *bracket = '\0';
          object = json_array_get_object_element (json_object_get_array_member (object, parts[i]),
                                                  index);
        }
      else
        object = json_object_get_object_member (object, parts[i]);
    }
  return object;
}

static void
check_mutation (const char *kind,
                const char *sample,
                const char *prefix,
                const char *field,
                JsonNode   *value,       /* NULL: remove; consumed */
                const char *expected)    /* after "bad_request: field '<path>' " */
{
  g_autoptr(JsonNode) root = parse (sample);
  JsonObject *object = object_at (root, prefix);
  g_autofree char *json = NULL;
  g_autofree char *path = cpns_field_path (prefix, field);
  g_autofree char *start = NULL;

  if (value == NULL)
    json_object_remove_member (object, field);
  else
    json_object_set_member (object, field, value);
  json = to_json (root);
  if (cpns_schema_lookup (kind)->klass == CPNS_SCHEMA_DATAGRAM &&
      strlen (json) > CPNS_MAX_DATAGRAM_SIZE)
    {
      /* A datagram cannot hold such a long string at all. */
      assert_rejected (kind, json, CPNS_ERROR_TOO_LARGE, "too_large:");
      return;
    }
  start = g_strdup_printf ("bad_request: field '%s' %s", path, expected);
  assert_rejected (kind, json, CPNS_ERROR_BAD_REQUEST, start);
}

static JsonNode *
string_node (const char *s)
{
  return json_node_init_string (json_node_alloc (), s);
}

static JsonNode *
int_node (gint64 v)
{
  return json_node_init_int (json_node_alloc (), v);
}

static const char *
wrong_type_message (CpnsFieldType type)
{
  switch (type)
    {
    case CPNS_FIELD_BOOL: return "must be a boolean";
    case CPNS_FIELD_INT: return "must be an integer";
    case CPNS_FIELD_OBJECT: return "must be an object";
    case CPNS_FIELD_NAMES:
    case CPNS_FIELD_OBJECTS: return "must be an array";
    default: return "must be a string";
    }
}

static void
check_schema_rules (const char       *kind,
                    const char       *sample,
                    const CpnsSchema *schema,
                    const char       *prefix,
                    RuleCounts       *counts)
{
  g_autoptr(JsonNode) root = parse (sample);
  JsonObject *object = object_at (root, prefix);

  for (const CpnsField *f = schema->fields; f->name != NULL; f++)
    {
      gboolean present = json_object_has_member (object, f->name) &&
                         !json_object_get_null_member (object, f->name);
      g_autofree char *path = cpns_field_path (prefix, f->name);

      if (f->flags & CPNS_FIELD_REQUIRED)
        {
          check_mutation (kind, sample, prefix, f->name, NULL, "is required");
          counts->missing++;
        }

      /* Type: a number where a string is expected, a string elsewhere. */
      check_mutation (kind, sample, prefix, f->name,
                      f->type == CPNS_FIELD_INT || f->type == CPNS_FIELD_BOOL ||
                      f->type == CPNS_FIELD_OBJECT || f->type == CPNS_FIELD_NAMES ||
                      f->type == CPNS_FIELD_OBJECTS ? string_node ("1") : int_node (1),
                      wrong_type_message (f->type));
      counts->wrong_type++;

      switch (f->type)
        {
        case CPNS_FIELD_STRING:
          {
            g_autofree char *s = g_strnfill ((f->max > 0 ? f->max : CPNS_MAX_STRING_BYTES) + 1, 'a');

            check_mutation (kind, sample, prefix, f->name, string_node (s), "is longer than");
            counts->too_long++;
          }
          break;

        case CPNS_FIELD_TEXT:
          {
            GString *s = g_string_new (NULL);

            for (gint64 i = 0; i <= f->max; i++)
              g_string_append (s, "\xc3\xa9");   /* é: 2 bytes, 1 character */
            check_mutation (kind, sample, prefix, f->name, string_node (s->str), "must be");
            g_string_free (s, TRUE);
            /* Over 1,024 bytes too. */
            s = g_string_new (NULL);
            for (gint64 i = 0; i < 1025; i++)
              g_string_append_c (s, 'x');
            check_mutation (kind, sample, prefix, f->name, string_node (s->str), "is longer than");
            g_string_free (s, TRUE);
            if (f->min > 0)
              check_mutation (kind, sample, prefix, f->name, string_node (""), "must be");
            counts->too_long++;
          }
          break;

        case CPNS_FIELD_ID:
          {
            /* A well-formed identifier of another kind, and junk. */
            g_autofree char *other = cpns_id_new (f->id_kind == CPNS_ID_PNE ? CPNS_ID_PN : CPNS_ID_PNE);

            check_mutation (kind, sample, prefix, f->name, string_node (other),
                            "must be an identifier");
            check_mutation (kind, sample, prefix, f->name, string_node ("pne-0123"),
                            "must be an identifier");
            check_mutation (kind, sample, prefix, f->name,
                            string_node ("pne-FFEEDDCCBBAA99887766554433221100"),
                            "must be an identifier");
            counts->bad_value++;
          }
          break;

        case CPNS_FIELD_USER_ID:
          check_mutation (kind, sample, prefix, f->name, string_node ("Alice"), "must be a user id");
          check_mutation (kind, sample, prefix, f->name, string_node (""), "must be a user id");
          counts->bad_value++;
          break;

        case CPNS_FIELD_BYTES:
          {
            guint8 buf[64] = { 1, 2, 3 };
            g_autofree char *short_ = cpns_base64url_encode (buf, f->max - 1);
            g_autofree char *long_ = cpns_base64url_encode (buf, f->max + 1);
            g_autofree char *expected = g_strdup_printf ("must be %" G_GINT64_FORMAT
                                                         " bytes of base64url", f->max);

            check_mutation (kind, sample, prefix, f->name, string_node (short_), expected);
            check_mutation (kind, sample, prefix, f->name, string_node (long_), expected);
            check_mutation (kind, sample, prefix, f->name, string_node ("not base64!"), expected);
            counts->bad_value++;
          }
          break;

        case CPNS_FIELD_BOOL:
          counts->bad_value++;   /* the type is the only rule */
          break;

        case CPNS_FIELD_INT:
          if (f->max < G_GINT64_CONSTANT (100000000000000000))
            check_mutation (kind, sample, prefix, f->name, int_node (f->max + 1),
                            "must be an integer from");
          check_mutation (kind, sample, prefix, f->name, int_node (f->min - 1),
                          "must be an integer from");
          check_mutation (kind, sample, prefix, f->name,
                          json_node_init_double (json_node_alloc (), 1.5),
                          "must be an integer");
          counts->bad_value++;
          break;

        case CPNS_FIELD_TIME:
          check_mutation (kind, sample, prefix, f->name, string_node ("2026-11-30 18:00:00"),
                          "must be an RFC 3339 time");
          check_mutation (kind, sample, prefix, f->name, string_node ("2026-13-30T18:00:00Z"),
                          "must be an RFC 3339 time");
          counts->bad_value++;
          break;

        case CPNS_FIELD_ENUM:
          check_mutation (kind, sample, prefix, f->name, string_node ("bogus"), "must be one of");
          counts->bad_value++;
          break;

        case CPNS_FIELD_SHA256_HEX:
          check_mutation (kind, sample, prefix, f->name,
                          string_node ("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"),
                          "must be 64 lowercase hex digits");
          check_mutation (kind, sample, prefix, f->name, string_node ("9f86d0"),
                          "must be 64 lowercase hex digits");
          counts->bad_value++;
          break;

        case CPNS_FIELD_ERROR_CODE:
          check_mutation (kind, sample, prefix, f->name, string_node ("no_such_code"),
                          "must be an error code");
          check_mutation (kind, sample, prefix, f->name, string_node ("pin_mismatch"),
                          "must be an error code");
          counts->bad_value++;
          break;

        case CPNS_FIELD_ENROLLMENT_CODE:
          check_mutation (kind, sample, prefix, f->name, string_node ("ABCD-EFGH-2345-67Q1"),
                          "must be an enrollment code");
          check_mutation (kind, sample, prefix, f->name, string_node ("ABCDEFGH234567QR"),
                          "must be an enrollment code");
          counts->bad_value++;
          break;

        case CPNS_FIELD_NAMES:
          {
            JsonArray *many = json_array_new ();
            JsonArray *bad = json_array_new ();

            for (gint64 i = 0; i <= f->max; i++)
              json_array_add_string_element (many, "svc");
            check_mutation (kind, sample, prefix, f->name,
                            json_node_init_array (json_node_alloc (), many), "has more than");
            json_array_unref (many);
            json_array_add_int_element (bad, 1);
            {
              g_autoptr(JsonNode) r = parse (sample);
              JsonObject *o = object_at (r, prefix);
              g_autofree char *json = NULL;
              g_autofree char *start = g_strdup_printf ("bad_request: field '%s[0]' must be a string", path);

              json_object_set_array_member (o, f->name, bad);
              json = to_json (r);
              assert_rejected (kind, json, CPNS_ERROR_BAD_REQUEST, start);
            }
            counts->too_many++;
          }
          break;

        case CPNS_FIELD_OBJECTS:
          {
            JsonArray *many = json_array_new ();

            for (gint64 i = 0; i <= f->max; i++)
              json_array_add_object_element (many, json_object_new ());
            check_mutation (kind, sample, prefix, f->name,
                            json_node_init_array (json_node_alloc (), many), "has more than");
            json_array_unref (many);
            counts->too_many++;

            if (present && json_array_get_length (json_object_get_array_member (object, f->name)) > 0)
              {
                g_autofree char *sub = g_strdup_printf ("%s[0]", path);

                check_schema_rules (kind, sample, f->schema, sub, counts);
              }
          }
          break;

        case CPNS_FIELD_OBJECT:
          if (present)
            check_schema_rules (kind, sample, f->schema, path, counts);
          break;

        default:
          g_assert_not_reached ();
        }
    }
}

static void
test_generated_rejections (void)
{
  gsize n;
  const CpnsSchema *schemas = cpns_schema_all (&n);
  RuleCounts total = { 0 };

  for (gsize i = 0; i < n; i++)
    {
      const MessageSample *s = sample_for (schemas[i].kind);
      RuleCounts counts = { 0 };

      check_schema_rules (s->kind, s->json, &schemas[i], NULL, &counts);
      /* Every kind with fields was exercised on each of them. */
      if (schemas[i].fields[0].name != NULL)
        g_assert_cmpuint (counts.wrong_type, >, 0);
      total.missing += counts.missing;
      total.wrong_type += counts.wrong_type;
      total.bad_value += counts.bad_value;
      total.too_long += counts.too_long;
      total.too_many += counts.too_many;
    }
  g_test_message ("generated rejections: %u missing, %u wrong type, %u bad value, "
                  "%u too long, %u too many", total.missing, total.wrong_type,
                  total.bad_value, total.too_long, total.too_many);
  g_assert_cmpuint (total.missing, >, 100);
  g_assert_cmpuint (total.too_many, >, 5);
}

/* Hand-written cases */

static void
test_field_messages (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;
  const char *frame =
    "{\"v\":1,\"type\":\"connection_setup_request\",\"pne_id\":" S_PNE ",\"pn_id\":" S_PN
    ",\"nonce_p\":\"AQgPFh0kKzI5QEdOVVxj\"}";

  msg = cpns_message_decode_frame (frame, strlen (frame), CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==,
                   "bad_request: field 'nonce_p' must be 16 bytes of base64url");
  g_clear_error (&error);

  /* A nested field names its full path. */
  assert_rejected ("pairing_request",
                   "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":false,\"entity\":"
                   "{\"name\":\"x\",\"entity_type\":\"sensor\",\"services\":[{\"name\":\"a\","
                   "\"protocol\":\"b\"},{\"name\":\"a\",\"protocol\":\"b\",\"port\":0}]}}",
                   CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'entity.services[1].port' must be an integer from 1 to 65535");
  assert_rejected ("pairing_request",
                   "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":false,\"entity\":"
                   "{\"name\":\"x\",\"entity_type\":\"toaster\"}}",
                   CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'entity.entity_type' must be one of: sensor, actuator");
  /* Characters, not bytes: 64 × "é" is 128 bytes and fine. */
  {
    GString *name = g_string_new (NULL);
    g_autofree char *json = NULL;
    g_autoptr(CpnsMessage) ok = NULL;

    for (guint i = 0; i < 64; i++)
      g_string_append (name, "\xc3\xa9");
    json = g_strdup_printf ("{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":false,"
                            "\"entity\":{\"name\":\"%s\",\"entity_type\":\"other\"}}", name->str);
    ok = cpns_message_decode_frame (json, strlen (json), CPNS_MAX_MESSAGE_SIZE, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ok);
    g_string_free (name, TRUE);
  }
}

static void
test_conditional_fields (void)
{
  assert_rejected ("pairing_request",
                   "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":true,\"entity\":"
                   "{\"name\":\"x\",\"entity_type\":\"sensor\"},\"pn_id\":" S_PN ",\"key_id\":" S_KEY "}",
                   CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'pne_id' is required when has_credentials is true");
  assert_rejected ("entity_discovery_request",
                   "{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pn_gw\",\"gateway_id\":"
                   S_GW ",\"pn_id\":" S_PN ",\"name\":\"GW\",\"cert_sha256\":" S_SHA
                   ",\"pairing_open\":true}",
                   CPNS_ERROR_BAD_REQUEST, "bad_request: field 'port' is required when mode is pn_gw");
  assert_rejected ("entity_discovery_response",
                   "{\"v\":1,\"type\":\"entity_discovery_response\",\"mode\":\"pne\",\"name\":\"x\","
                   "\"entity_type\":\"sensor\"}",
                   CPNS_ERROR_BAD_REQUEST, "bad_request: field 'nonce' is required when mode is pne");
  assert_rejected ("api.entities.request",
                   "{\"pne_id\":" S_PNE ",\"entity\":{\"name\":\"x\",\"entity_type\":\"sensor\"},"
                   "\"key_assignment\":\"gateway\",\"key_id\":" S_KEY "}",
                   CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'euk' is required when key_assignment is gateway");
  assert_rejected ("api.auth_result",
                   "{\"decision\":\"allow\",\"session_id\":" S_SES ",\"expires_at\":" S_TIME
                   ",\"granted_services\":[]}",
                   CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'session_key' is required when decision is allow");
  assert_rejected ("api.auth_result", "{\"decision\":\"ask\",\"expires_at\":" S_TIME "}",
                   CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field 'entity' is required when decision is ask");

  /* The other branch of each is fine. */
  {
    const char *ask = "{\"decision\":\"ask\",\"expires_at\":" S_TIME
                      ",\"entity\":{\"name\":\"x\",\"entity_type\":\"camera\"},\"rule_id\":null}";
    const char *server = "{\"pne_id\":" S_PNE ",\"entity\":{\"name\":\"x\",\"entity_type\":"
                         "\"sensor\"},\"key_assignment\":\"server\"}";
    const char *no_creds = "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":false,"
                           "\"entity\":{\"name\":\"x\",\"entity_type\":\"sensor\"}}";
    g_autoptr(GError) error = NULL;
    g_autoptr(CpnsMessage) a = cpns_message_decode_body ("api.auth_result", ask, strlen (ask), &error);
    g_autoptr(CpnsMessage) b = NULL;
    g_autoptr(CpnsMessage) c = NULL;

    g_assert_no_error (error);
    g_assert_nonnull (a);
    b = cpns_message_decode_body ("api.entities.request", server, strlen (server), &error);
    g_assert_no_error (error);
    g_assert_nonnull (b);
    c = cpns_message_decode_frame (no_creds, strlen (no_creds), CPNS_MAX_PREAUTH_SIZE, &error);
    g_assert_no_error (error);
    g_assert_nonnull (c);
  }
}

static void
test_unknown_fields_ignored (void)
{
  /* Whatever unknown members hold (here a number json-glib cannot even
   * print back, found by fuzz-frame), they are dropped, nested ones too. */
  const char *frame = "{\"v\":1,\"type\":\"ping\",\"future\":{\"a\":[1,2,{\"b\":null}]},"
                      "\"x\":[1.0e30,1.5e856,-0.0]}";
  const char *nested = "{\"v\":1,\"type\":\"pairing_request\",\"has_credentials\":false,"
                       "\"entity\":{\"name\":\"x\",\"entity_type\":\"sensor\",\"colour\":\"red\","
                       "\"services\":[{\"name\":\"a\",\"protocol\":\"b\",\"qos\":2.5}]},\"euk\":\"zz\"}";
  g_autoptr(CpnsMessage) d = NULL;
  g_autoptr(GBytes) bytes = NULL;
  JsonObject *entity;
  const char *body = "{\"status\":\"ok\",\"version\":\"2.0\"}";
  const char *event = "{\"type\":\"policy_changed\",\"by\":\"admin\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) a = cpns_message_decode_frame (frame, strlen (frame),
                                                        CPNS_MAX_MESSAGE_SIZE, &error);
  g_autoptr(CpnsMessage) b = NULL;
  g_autoptr(CpnsMessage) c = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_kind (a), ==, "ping");
  b = cpns_message_decode_body ("api.healthz", body, strlen (body), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_string (b, "status"), ==, "ok");
  c = cpns_message_decode_event (event, strlen (event), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_kind (c), ==, "event.policy_changed");
  g_assert_false (cpns_message_has (c, "by"));
  g_assert_true (cpns_message_has (c, "type"));

  g_assert_false (cpns_message_has (a, "future"));
  g_assert_false (cpns_message_has (a, "x"));
  g_assert_cmpint (cpns_message_get_int (a, "v"), ==, 1);
  g_assert_false (cpns_message_has (b, "version"));
  bytes = cpns_message_encode (a, &error);
  g_assert_no_error (error);
  assert_bytes_str (bytes, "{\"v\":1,\"type\":\"ping\"}");

  d = cpns_message_decode_frame (nested, strlen (nested), CPNS_MAX_MESSAGE_SIZE, &error);
  g_assert_no_error (error);
  entity = cpns_message_get_json_object (d, "entity");
  g_assert_false (json_object_has_member (entity, "colour"));
  g_assert_false (json_object_has_member (json_array_get_object_element (
                    json_object_get_array_member (entity, "services"), 0), "qos"));
  g_assert_true (json_object_has_member (entity, "entity_type"));
  g_assert_false (cpns_message_has (d, "euk"));
}

static void
assert_frame_error (const char   *json,
                    CpnsErrorCode code,
                    const char   *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = cpns_message_decode_frame (json, strlen (json),
                                                          CPNS_MAX_MESSAGE_SIZE, &error);

  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, (gint) code);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_version_and_type (void)
{
  assert_frame_error ("{\"v\":2,\"type\":\"ping\"}", CPNS_ERROR_UNSUPPORTED_VERSION,
                      "unsupported_version: field 'v' is 2, not 1");
  assert_frame_error ("{\"v\":0,\"type\":\"nonsense\"}", CPNS_ERROR_UNSUPPORTED_VERSION,
                      "unsupported_version: field 'v' is 0, not 1");
  assert_frame_error ("{\"type\":\"ping\"}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'v' is required");
  assert_frame_error ("{\"v\":\"1\",\"type\":\"ping\"}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'v' must be an integer");
  assert_frame_error ("{\"v\":1.0,\"type\":\"ping\"}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'v' must be an integer");
  assert_frame_error ("{\"v\":null,\"type\":\"ping\"}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'v' must be an integer");
  assert_frame_error ("{\"v\":true,\"type\":\"ping\"}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'v' must be an integer");
  assert_frame_error ("{\"v\":1}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'type' is required");
  assert_frame_error ("{\"v\":1,\"type\":7}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: field 'type' must be a string");
  assert_frame_error ("{\"v\":1,\"type\":\"teleport\"}", CPNS_ERROR_UNKNOWN_TYPE,
                      "unknown_type: unknown message type 'teleport'");
  /* Datagrams are not frames, and the reverse. */
  assert_frame_error ("{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\"}",
                      CPNS_ERROR_UNKNOWN_TYPE,
                      "unknown_type: unknown message type 'entity_discovery_request'");
  assert_rejected ("entity_discovery_request", "{\"v\":1,\"type\":\"ping\"}",
                   CPNS_ERROR_UNKNOWN_TYPE, "unknown_type:");
  assert_rejected ("entity_discovery_request", "{\"v\":3,\"type\":\"entity_discovery_request\"}",
                   CPNS_ERROR_UNSUPPORTED_VERSION, "unsupported_version:");
  assert_rejected ("event.policy_changed", "{\"type\":\"ping\"}",
                   CPNS_ERROR_UNKNOWN_TYPE, "unknown_type:");
  assert_rejected ("event.policy_changed", "{\"revision\":1}",
                   CPNS_ERROR_BAD_REQUEST, "bad_request: field 'type' is required");

  /* Not an object, not JSON, not UTF-8. */
  assert_frame_error ("[1,2]", CPNS_ERROR_BAD_REQUEST, "bad_request: message must be a JSON object");
  assert_frame_error ("\"ping\"", CPNS_ERROR_BAD_REQUEST, "bad_request: message must be a JSON object");
  assert_frame_error ("{\"v\":1,", CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
  assert_frame_error ("", CPNS_ERROR_BAD_REQUEST, "bad_request: malformed JSON");
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (cpns_message_decode_body ("api.healthz", NULL, 0, &error));
    g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  }
  assert_frame_error ("{\"v\":1,\"type\":\"bye\",\"reason\":\"\xff\"}", CPNS_ERROR_BAD_REQUEST,
                      "bad_request: message is not valid UTF-8");
  /* json-glib reads 20-digit integers modulo 2^64 (this port would be 7471). */
  assert_rejected ("entity_discovery_response",
                   "{\"v\":1,\"type\":\"entity_discovery_response\",\"mode\":\"pn_gw\",\"gateway_id\":"
                   S_GW ",\"pn_id\":" S_PN ",\"name\":\"GW\",\"port\":-18446744073709544145,"
                   "\"cert_sha256\":" S_SHA ",\"pairing_open\":true}",
                   CPNS_ERROR_BAD_REQUEST, "bad_request: a number is out of range");
  assert_rejected ("api.healthz", "[]", CPNS_ERROR_BAD_REQUEST,
                   "bad_request: message must be a JSON object");
}

static void
test_build_and_encode (void)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("key_assignment_request");
  g_autoptr(CpnsMessage) back = NULL;
  g_autoptr(GDateTime) issued = g_date_time_new_utc (2026, 11, 30, 18, 0, 0);
  g_autoptr(GDateTime) issued_back = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 euk[32], euk_back[32];
  g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *key_id = cpns_id_new (CPNS_ID_KEY);

  for (guint i = 0; i < 32; i++)
    euk[i] = i * 3;

  /* Encoding validates: nothing invalid reaches the wire. */
  bytes = cpns_message_encode (msg, &error);
  g_assert_null (bytes);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: field 'pne_id' is required");
  g_clear_error (&error);

  cpns_message_set_string (msg, "pne_id", pne_id);
  cpns_message_set_string (msg, "key_id", key_id);
  cpns_message_set_bytes (msg, "euk", euk, 31);
  cpns_message_set_string (msg, "mode", "gateway");
  cpns_message_set_time (msg, "issued_at", issued);
  bytes = cpns_message_encode (msg, &error);
  g_assert_null (bytes);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: field 'euk' must be 32 bytes of base64url");
  g_clear_error (&error);

  cpns_message_set_bytes (msg, "euk", euk, 32);
  bytes = cpns_message_encode (msg, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (g_bytes_get_data (bytes, NULL),
                                   "{\"v\":1,\"type\":\"key_assignment_request\","));

  back = cpns_message_decode_frame (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                    CPNS_MAX_PREAUTH_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_string (back, "pne_id"), ==, pne_id);
  g_assert_cmpstr (cpns_message_get_string (back, "issued_at"), ==, "2026-11-30T18:00:00Z");
  g_assert_true (cpns_message_get_bytes (back, "euk", euk_back, 32));
  g_assert_cmpmem (euk, 32, euk_back, 32);
  g_assert_false (cpns_message_get_bytes (back, "euk", euk_back, 16));
  g_assert_false (cpns_message_get_bytes (back, "nope", euk_back, 32));
  issued_back = cpns_message_dup_time (back, "issued_at");
  g_assert_true (g_date_time_equal (issued, issued_back));
  g_assert_null (cpns_message_dup_time (back, "pne_id"));
  g_assert_true (cpns_message_has (back, "mode"));
  g_assert_false (cpns_message_has (back, "bogus"));
  g_assert_cmpint (cpns_message_get_int (back, "v"), ==, 1);
  g_assert_cmpint (cpns_message_get_int (back, "mode"), ==, 0);
  g_assert_null (cpns_message_get_string (back, "v"));
  g_assert_false (cpns_message_get_bool (back, "mode"));

  /* The type of a built frame cannot be changed. */
  cpns_message_set_string (msg, "type", "ping");
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = cpns_message_encode (msg, &error);
  g_assert_null (bytes);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
}

static void
test_frame_example (void)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("pne_id_request");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = cpns_message_encode (msg, &error);

  g_assert_no_error (error);
  assert_bytes_str (bytes,
                    "{\"v\":1,\"type\":\"pne_id_request\"}");
}

static void
test_setters (void)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("authorization_result");
  g_autoptr(JsonObject) entity = json_object_new ();
  g_autoptr(JsonArray) array = json_array_new ();
  const char *services[] = { "temperature", "humidity", NULL };
  g_auto(GStrv) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(CpnsMessage) body = cpns_message_new ("api.decision.request");
  g_autoptr(CpnsMessage) entities = cpns_message_new ("api.entities.request");

  cpns_message_set_string (msg, "decision", "allow");
  cpns_message_set_string (msg, "session_id", "ses-0123456789abcdef0123456789abcdef");
  cpns_message_set_string (msg, "expires_at", "2026-11-30T18:00:00Z");
  cpns_message_set_strv (msg, "granted_services", services);
  bytes = cpns_message_encode (msg, &error);
  g_assert_no_error (error);
  back = cpns_message_dup_strv (msg, "granted_services");
  g_assert_cmpstrv (back, services);
  g_assert_null (cpns_message_dup_strv (msg, "decision"));

  cpns_message_set_string (body, "decision", "allow");
  cpns_message_set_bool (body, "remember", TRUE);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = cpns_message_encode (body, &error);
  g_assert_no_error (error);
  assert_bytes_str (bytes,
                    "{\"decision\":\"allow\",\"remember\":true}");
  g_assert_true (cpns_message_get_bool (body, "remember"));

  /* Objects and arrays are copied: later changes to the caller's do not leak in. */
  json_object_set_string_member (entity, "name", "Lamp");
  json_object_set_string_member (entity, "entity_type", "actuator");
  json_array_add_string_element (array, "x");
  cpns_message_set_string (entities, "pne_id", "pne-ffeeddccbbaa99887766554433221100");
  cpns_message_set_object (entities, "entity", entity);
  cpns_message_set_string (entities, "key_assignment", "server");
  json_object_set_string_member (entity, "entity_type", "toaster");
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = cpns_message_encode (entities, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (cpns_message_get_json_object (entities, "entity"),
                                                  "entity_type"), ==, "actuator");
  cpns_message_set_array (entities, "extra", array);
  json_array_add_string_element (array, "y");
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = cpns_message_encode (entities, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (g_bytes_get_data (bytes, NULL), "\"extra\":[\"x\"]"));
  {
    g_autoptr(JsonObject) odd = json_object_new ();
    g_autoptr(GBytes) none = NULL;

    g_autoptr(JsonObject) deep = json_object_new ();
    JsonObject *inner = deep;

    /* Encoding refuses what the peer's scan would refuse: nesting over 16. */
    for (guint i = 0; i < 20; i++)
      {
        JsonObject *next = json_object_new ();

        json_object_set_object_member (inner, "a", next);
        inner = next;
      }
    cpns_message_set_object (entities, "deep", deep);
    none = cpns_message_encode (entities, &error);
    g_assert_null (none);
    g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
    g_assert_cmpstr (error->message, ==, "bad_request: JSON nested deeper than 16 levels");
    g_clear_error (&error);
    json_object_remove_member (cpns_message_get_object (entities), "deep");

    /* json-glib 1.6 would print 1e30 as "1e+30.0": not JSON. */
    json_object_set_double_member (odd, "ratio", 1e30);
    cpns_message_set_object (entities, "odd", odd);
    none = cpns_message_encode (entities, &error);
    g_assert_null (none);
    g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
    g_assert_cmpstr (error->message, ==, "bad_request: a number is not an integer "
                     "(the protocol has no fractional numbers)");
    g_clear_error (&error);
  }
  g_assert_cmpuint (json_array_get_length (cpns_message_get_json_array (entities, "extra")), ==, 1);
  g_assert_null (cpns_message_get_json_array (entities, "entity"));
  g_assert_null (cpns_message_get_json_object (entities, "extra"));
}

static void
test_errors (void)
{
  g_autoptr(GError) locked = g_error_new (CPNS_ERROR, CPNS_ERROR_LOCKED_OUT, "too many failures");
  g_autoptr(GError) foreign = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "disk on fire");
  g_autoptr(GError) local = g_error_new (CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH, "pin");
  g_autoptr(CpnsMessage) msg = cpns_message_new_error (locked);
  g_autoptr(CpnsMessage) back = NULL;
  g_autoptr(CpnsMessage) msg2 = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) carried = NULL;
  g_autoptr(CpnsMessage) api = NULL;
  g_autofree char *long_message = g_strnfill (3000, 'z');
  g_autoptr(GError) chatty = g_error_new (CPNS_ERROR, CPNS_ERROR_DENIED, "%s", long_message);

  cpns_message_set_int (msg, "retry_after", 300);
  bytes = cpns_message_encode (msg, &error);
  g_assert_no_error (error);
  assert_bytes_str (bytes,
                    "{\"v\":1,\"type\":\"error\",\"code\":\"locked_out\","
                    "\"message\":\"too many failures\",\"retry_after\":300}");
  back = cpns_message_decode_frame (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                    CPNS_MAX_PREAUTH_SIZE, &error);
  g_assert_no_error (error);
  carried = cpns_message_to_error (back);
  g_assert_error (carried, CPNS_ERROR, CPNS_ERROR_LOCKED_OUT);
  g_assert_cmpstr (carried->message, ==, "too many failures");
  g_assert_cmpint (cpns_message_get_int (back, "retry_after"), ==, 300);
  g_clear_error (&carried);

  /* Foreign and local-only codes go on the wire as internal. */
  msg2 = cpns_message_new_error (foreign);
  g_assert_cmpstr (cpns_message_get_string (msg2, "code"), ==, "internal");
  g_clear_pointer (&msg2, cpns_message_unref);
  msg2 = cpns_message_new_error (local);
  g_assert_cmpstr (cpns_message_get_string (msg2, "code"), ==, "internal");
  g_clear_pointer (&msg2, cpns_message_unref);
  /* Long messages are cut to the string limit, so the frame still encodes. */
  msg2 = cpns_message_new_error (chatty);
  g_assert_cmpuint (strlen (cpns_message_get_string (msg2, "message")), ==, CPNS_MAX_STRING_BYTES);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = cpns_message_encode (msg2, &error);
  g_assert_no_error (error);

  body = cpns_http_error_body (locked);
  assert_bytes_str (body,
                    "{\"error\":{\"code\":\"locked_out\",\"message\":\"too many failures\"}}");
  api = cpns_message_decode_body ("api.error", g_bytes_get_data (body, NULL),
                                  g_bytes_get_size (body), &error);
  g_assert_no_error (error);
  carried = cpns_message_to_error (api);
  g_assert_error (carried, CPNS_ERROR, CPNS_ERROR_LOCKED_OUT);
  g_clear_error (&carried);
  g_clear_pointer (&body, g_bytes_unref);
  body = cpns_http_error_body_with_retry (locked, 120);
  g_assert_nonnull (strstr (g_bytes_get_data (body, NULL), "\"retry_after\":120}"));

  /* Control characters in a message are escaped, and the frame decodes. */
  {
    g_autoptr(GError) odd = g_error_new (CPNS_ERROR, CPNS_ERROR_DENIED, "a\nb\tc\001d\"e\\");
    g_autoptr(CpnsMessage) frame = cpns_message_new_error (odd);
    g_autoptr(GBytes) wire = cpns_message_encode (frame, &error);
    g_autoptr(CpnsMessage) again = NULL;

    g_assert_no_error (error);
    again = cpns_message_decode_frame (g_bytes_get_data (wire, NULL), g_bytes_get_size (wire),
                                       CPNS_MAX_PREAUTH_SIZE, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (cpns_message_get_string (again, "message"), ==, "a\nb\tc\001d\"e\\");
  }

  /* Not an error message. */
  g_clear_pointer (&msg2, cpns_message_unref);
  msg2 = cpns_message_new ("ping");
  g_assert_null (cpns_message_to_error (msg2));
}

static void
test_entity_descriptor (void)
{
  g_autoptr(JsonNode) ok = parse (S_ENTITY);
  g_autoptr(JsonNode) bad = parse ("{\"name\":\"\",\"entity_type\":\"sensor\"}");
  g_autoptr(GError) error = NULL;

  g_assert_true (cpns_entity_descriptor_validate (json_node_get_object (ok), "entity", &error));
  g_assert_no_error (error);
  g_assert_false (cpns_entity_descriptor_validate (json_node_get_object (bad), "entity", &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "bad_request: field 'entity.name' must be 1 to 64 characters");
  g_clear_error (&error);
  g_assert_false (cpns_entity_descriptor_validate (json_node_get_object (bad), NULL, &error));
  g_assert_cmpstr (error->message, ==, "bad_request: field 'name' must be 1 to 64 characters");
}

static void
test_secrets_wiped (void)
{
  const MessageSample *s = sample_for ("api.entities.request");
  g_autoptr(GError) error = NULL;
  CpnsMessage *msg = cpns_message_decode_body (s->kind, s->json, strlen (s->json), &error);
  g_autoptr(JsonObject) object = NULL;

  g_assert_no_error (error);
  object = json_object_ref (cpns_message_get_object (msg));
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "euk")), ==, 43);
  cpns_message_unref (msg);
  /* The object outlives the message here only so the test can look. */
  g_assert_cmpstr (json_object_get_string_member (object, "euk"), ==, "");
  g_assert_cmpuint (strlen (json_object_get_string_member (object, "pne_id")), ==, 36);

  /* The caller's objects are copied, not shared: wiping the message's copy
   * leaves them alone. */
  {
    g_autoptr(JsonObject) mine = json_object_new ();
    CpnsMessage *holder = cpns_message_new ("api.entities.request");

    json_object_set_string_member (mine, "euk", "still-here");
    cpns_message_set_object (holder, "extra", mine);
    cpns_message_unref (holder);
    g_assert_cmpstr (json_object_get_string_member (mine, "euk"), ==, "still-here");
  }
}

static void
test_datagram_limit (void)
{
  GString *json = g_string_new ("{\"v\":1,\"type\":\"entity_discovery_request\",\"mode\":\"pne\","
                                "\"name\":\"x\",\"entity_type\":\"sensor\",\"nonce\":" S_N16a
                                ",\"pad\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  while (json->len < CPNS_MAX_DATAGRAM_SIZE - 2)
    g_string_append_c (json, 'p');
  g_string_append (json, "\"}");
  g_assert_cmpuint (json->len, ==, CPNS_MAX_DATAGRAM_SIZE);
  msg = cpns_message_decode_datagram (json->str, json->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_clear_pointer (&msg, cpns_message_unref);
  g_string_insert_c (json, json->len - 2, 'p');
  msg = cpns_message_decode_datagram (json->str, json->len, &error);
  g_assert_null (msg);
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_string_free (json, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/message/every-kind-has-sample", test_every_kind_has_sample);
  g_test_add_func ("/message/round-trip", test_round_trip);
  g_test_add_func ("/message/generated-rejections", test_generated_rejections);
  g_test_add_func ("/message/field-messages", test_field_messages);
  g_test_add_func ("/message/conditional-fields", test_conditional_fields);
  g_test_add_func ("/message/unknown-fields-ignored", test_unknown_fields_ignored);
  g_test_add_func ("/message/version-and-type", test_version_and_type);
  g_test_add_func ("/message/build-and-encode", test_build_and_encode);
  g_test_add_func ("/message/frame-example", test_frame_example);
  g_test_add_func ("/message/setters", test_setters);
  g_test_add_func ("/message/errors", test_errors);
  g_test_add_func ("/message/entity-descriptor", test_entity_descriptor);
  g_test_add_func ("/message/secrets-wiped", test_secrets_wiped);
  g_test_add_func ("/message/datagram-limit", test_datagram_limit);

  return g_test_run ();
}
