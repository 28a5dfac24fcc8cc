/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The schema of every message of PROTOCOL.md §4 and §5, as tables. */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-error.h"
#include "cpns-message.h"
#include "cpns-message-private.h"

/* Field shorthands. R = required, O = optional. */
#define R CPNS_FIELD_REQUIRED
#define O 0

#define F_STRING(n, fl, lo, hi) { .name = n, .type = CPNS_FIELD_STRING, .flags = fl, .min = lo, .max = hi }
#define F_TEXT(n, fl, lo, hi)   { .name = n, .type = CPNS_FIELD_TEXT, .flags = fl, .min = lo, .max = hi }
#define F_ID(n, fl, k)          { .name = n, .type = CPNS_FIELD_ID, .flags = fl, .id_kind = k }
#define F_USER(n, fl)           { .name = n, .type = CPNS_FIELD_USER_ID, .flags = fl }
#define F_BYTES(n, fl, len)     { .name = n, .type = CPNS_FIELD_BYTES, .flags = fl, .min = len, .max = len }
#define F_BOOL(n, fl)           { .name = n, .type = CPNS_FIELD_BOOL, .flags = fl }
#define F_INT(n, fl, lo, hi)    { .name = n, .type = CPNS_FIELD_INT, .flags = fl, .min = lo, .max = hi }
#define F_TIME(n, fl)           { .name = n, .type = CPNS_FIELD_TIME, .flags = fl }
#define F_ENUM(n, fl, v)        { .name = n, .type = CPNS_FIELD_ENUM, .flags = fl, .values = v }
#define F_SHA256(n, fl)         { .name = n, .type = CPNS_FIELD_SHA256_HEX, .flags = fl }
#define F_CODE(n, fl)           { .name = n, .type = CPNS_FIELD_ERROR_CODE, .flags = fl }
#define F_ENROLL(n, fl)         { .name = n, .type = CPNS_FIELD_ENROLLMENT_CODE, .flags = fl }
#define F_NAMES(n, fl, hi)      { .name = n, .type = CPNS_FIELD_NAMES, .flags = fl, .max = hi }
#define F_OBJECT(n, fl, s)      { .name = n, .type = CPNS_FIELD_OBJECT, .flags = fl, .schema = s }
#define F_OBJECTS(n, fl, hi, s) { .name = n, .type = CPNS_FIELD_OBJECTS, .flags = fl, .max = hi, .schema = s }
#define F_END                   { .name = NULL }

#define NONCE_LEN 16
#define KEY_LEN   32
#define MAX_SERVICES 32
#define MAX_INVENTORY 1024
#define MAX_RULES 256
#define MAX_RETRY_AFTER (G_GINT64_CONSTANT (7) * 24 * 3600)
/* The byte scan refuses integers of more than 18 digits (json-glib wraps
 * them), so counters stay below 10^18. */
#define MAX_COUNTER G_GINT64_CONSTANT (999999999999999999)

/* Enumerations */
static const char * const entity_types[] = {
  "sensor", "actuator", "phone", "computer", "wearable", "speaker", "display",
  "camera", "other", NULL
};
static const char * const key_assignments[] = { "server", "gateway", NULL };
static const char * const discovery_modes[] = { "pn_gw", "pne", NULL };
static const char * const accepted[] = { "accepted", NULL };
static const char * const pending_reasons[] = { "awaiting_user_approval", NULL };
static const char * const allow_only[] = { "allow", NULL };
static const char * const allow_ask[] = { "allow", "ask", NULL };
static const char * const allow_deny[] = { "allow", "deny", NULL };
static const char * const actions[] = { "allow", "deny", "ask", NULL };
static const char * const states[] = {
  "pending", "registered", "connected", "disconnected", "revoked", NULL
};
static const char * const pending_only[] = { "pending", NULL };
static const char * const registered_only[] = { "registered", NULL };
static const char * const ok_only[] = { "ok", NULL };

/* Helpers for the cross-field checks */
static gboolean
member_is_string (JsonObject *object,
                  const char *name,
                  const char *value)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING &&
         g_strcmp0 (json_node_get_string (node), value) == 0;
}

static gboolean
member_is_true (JsonObject *object,
                const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
         json_node_get_boolean (node);
}

static gboolean
member_present (JsonObject *object,
                const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node);
}

/* NULL-terminated list of names that must be present; @why completes
 * "field 'x' is required when …". */
static gboolean
require (JsonObject  *object,
         const char  *prefix,
         const char  *why,
         GError     **error,
         ...)
{
  va_list args;
  const char *name;

  va_start (args, error);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      if (!member_present (object, name))
        {
          g_autofree char *path = cpns_field_path (prefix, name);

          va_end (args);
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: field '%s' is required when %s", path, why);
          return FALSE;
        }
    }
  va_end (args);
  return TRUE;
}

/* Nested objects */
static const CpnsField service_fields[] = {
  F_TEXT ("name", R, 1, 64),
  F_TEXT ("protocol", R, 1, 64),
  F_INT ("port", O, 1, 65535),
  F_END
};
static const CpnsSchema service_schema = {
  "service", CPNS_SCHEMA_NESTED, NULL, service_fields, NULL
};

static const CpnsField entity_fields[] = {
  F_TEXT ("name", R, 1, 64),
  F_ENUM ("entity_type", R, entity_types),
  F_TEXT ("manufacturer", O, 0, 64),
  F_TEXT ("model", O, 0, 64),
  F_TEXT ("serial", O, 0, 64),
  F_OBJECTS ("services", O, MAX_SERVICES, &service_schema),
  F_END
};
static const CpnsSchema entity_schema = {
  "entity", CPNS_SCHEMA_NESTED, NULL, entity_fields, NULL
};

static const CpnsField inventory_entity_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_OBJECT ("entity", R, &entity_schema),
  F_ENUM ("state", R, states),
  F_ENUM ("key_assignment", R, key_assignments),
  F_ID ("key_id", O | CPNS_FIELD_NULLABLE, CPNS_ID_KEY),
  F_ID ("gateway_id", O | CPNS_FIELD_NULLABLE, CPNS_ID_GATEWAY),
  F_ID ("session_id", O | CPNS_FIELD_NULLABLE, CPNS_ID_SESSION),
  F_TIME ("registered_at", R),
  F_TIME ("last_seen", O | CPNS_FIELD_NULLABLE),
  F_END
};
static const CpnsSchema inventory_entity_schema = {
  "inventory_entity", CPNS_SCHEMA_NESTED, NULL, inventory_entity_fields, NULL
};

static const CpnsField rule_match_fields[] = {
  F_ID ("pne_id", O, CPNS_ID_PNE),
  F_ENUM ("entity_type", O, entity_types),
  F_ID ("gateway_id", O, CPNS_ID_GATEWAY),
  F_END
};
static const CpnsSchema rule_match_schema = {
  "rule_match", CPNS_SCHEMA_NESTED, NULL, rule_match_fields, NULL
};

static const CpnsField rule_fields[] = {
  F_ID ("id", R, CPNS_ID_RULE),
  F_OBJECT ("match", R, &rule_match_schema),
  F_ENUM ("action", R, actions),
  F_TIME ("expires_at", O | CPNS_FIELD_NULLABLE),
  F_END
};
static const CpnsSchema rule_schema = {
  "rule", CPNS_SCHEMA_NESTED, NULL, rule_fields, NULL
};

static const CpnsField error_detail_fields[] = {
  F_CODE ("code", R),
  F_STRING ("message", R, 0, 0),
  F_INT ("retry_after", O, 0, MAX_RETRY_AFTER),
  F_END
};
static const CpnsSchema error_detail_schema = {
  "error_detail", CPNS_SCHEMA_NESTED, NULL, error_detail_fields, NULL
};

/* CPNS-1 frames (§4) */
static const CpnsField no_fields[] = { F_END };

static const CpnsField error_fields[] = {
  F_CODE ("code", R),
  F_STRING ("message", R, 0, 0),
  F_INT ("retry_after", O, 0, MAX_RETRY_AFTER),
  F_END
};

static const CpnsField bye_fields[] = {
  F_STRING ("reason", O, 0, 0),
  F_END
};

static const CpnsField pairing_request_fields[] = {
  F_OBJECT ("entity", R, &entity_schema),
  F_BOOL ("has_credentials", R),
  F_ID ("pne_id", O, CPNS_ID_PNE),
  F_ID ("pn_id", O, CPNS_ID_PN),
  F_ID ("key_id", O, CPNS_ID_KEY),
  F_END
};

static gboolean
check_pairing_request (JsonObject  *object,
                       const char  *prefix,
                       GError     **error)
{
  if (member_is_true (object, "has_credentials"))
    return require (object, prefix, "has_credentials is true", error,
                    "pne_id", "pn_id", "key_id", NULL);
  return TRUE;
}

static const CpnsField pairing_commit_fields[] = {
  F_BYTES ("commitment", R, 32),
  F_END
};

static const CpnsField pairing_nonce_fields[] = {
  F_BYTES ("n_p", R, NONCE_LEN),
  F_END
};

static const CpnsField pairing_reveal_fields[] = {
  F_BYTES ("n_g", R, NONCE_LEN),
  F_END
};

static const CpnsField pairing_response_fields[] = {
  F_ENUM ("result", R, accepted),
  F_ID ("gateway_id", R, CPNS_ID_GATEWAY),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_TEXT ("name", R, 1, 64),
  F_SHA256 ("cert_sha256", R),
  F_BOOL ("credentials_accepted", R),
  F_END
};

static const CpnsField pne_id_response_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_END
};

static const CpnsField key_assignment_request_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_ID ("key_id", R, CPNS_ID_KEY),
  F_BYTES ("euk", R | CPNS_FIELD_SECRET, KEY_LEN),
  F_ENUM ("mode", R, key_assignments),
  F_TIME ("issued_at", R),
  F_END
};

static const CpnsField key_assignment_response_fields[] = {
  F_ID ("key_id", R, CPNS_ID_KEY),
  F_BYTES ("key_confirm", R, KEY_LEN),
  F_END
};

static const CpnsField pairing_complete_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_ID ("gateway_id", R, CPNS_ID_GATEWAY),
  F_END
};

static const CpnsField connection_setup_request_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_BYTES ("nonce_p", R, NONCE_LEN),
  F_NAMES ("requested_services", O, MAX_SERVICES),
  F_END
};

static const CpnsField auth_challenge_fields[] = {
  F_ID ("auth_id", R, CPNS_ID_AUTH),
  F_ID ("gateway_id", R, CPNS_ID_GATEWAY),
  F_BYTES ("nonce_s", R, NONCE_LEN),
  F_BYTES ("server_proof", R, KEY_LEN),
  F_END
};

static const CpnsField auth_response_fields[] = {
  F_ID ("auth_id", R, CPNS_ID_AUTH),
  F_BYTES ("pne_proof", R, KEY_LEN),
  F_END
};

static const CpnsField authorization_pending_fields[] = {
  F_ENUM ("reason", R, pending_reasons),
  F_TIME ("expires_at", R),
  F_END
};

static const CpnsField authorization_result_fields[] = {
  F_ENUM ("decision", R, allow_only),
  F_ID ("session_id", R, CPNS_ID_SESSION),
  F_TIME ("expires_at", R),
  F_NAMES ("granted_services", R, MAX_SERVICES),
  F_END
};

static const CpnsField mac_fields[] = {
  F_BYTES ("mac", R, KEY_LEN),
  F_END
};

static const CpnsField connection_setup_complete_fields[] = {
  F_ID ("session_id", R, CPNS_ID_SESSION),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_TIME ("expires_at", R),
  F_NAMES ("granted_services", R, MAX_SERVICES),
  F_END
};

static const CpnsField session_resume_request_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_ID ("session_id", R, CPNS_ID_SESSION),
  F_END
};

/* Discovery datagrams (§4.2): one field set per mode. */
static const CpnsField discovery_fields[] = {
  F_ENUM ("mode", R, discovery_modes),
  F_ID ("gateway_id", O, CPNS_ID_GATEWAY),
  F_ID ("pn_id", O, CPNS_ID_PN),
  F_TEXT ("name", O, 1, 64),
  F_INT ("port", O, 1, 65535),
  F_SHA256 ("cert_sha256", O),
  F_BOOL ("pairing_open", O),
  F_ENUM ("entity_type", O, entity_types),
  F_BYTES ("nonce", O, NONCE_LEN),
  F_END
};

static gboolean
check_discovery (JsonObject  *object,
                 const char  *prefix,
                 GError     **error)
{
  if (member_is_string (object, "mode", "pn_gw"))
    return require (object, prefix, "mode is pn_gw", error,
                    "gateway_id", "pn_id", "name", "port", "cert_sha256",
                    "pairing_open", NULL);
  return require (object, prefix, "mode is pne", error,
                  "name", "entity_type", "nonce", NULL);
}

/* CPNS-2 bodies (§5) */
static const CpnsField gateways_request_fields[] = {
  F_USER ("user_id", R),
  F_ENROLL ("enrollment_code", R | CPNS_FIELD_SECRET),
  F_TEXT ("gateway_name", R, 1, 64),
  F_END
};

static const CpnsField gateways_response_fields[] = {
  F_ID ("gateway_id", R, CPNS_ID_GATEWAY),
  F_BYTES ("gateway_secret", R | CPNS_FIELD_SECRET, KEY_LEN),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_USER ("user_id", R),
  F_END
};

static const CpnsField gateway_id_fields[] = {
  F_ID ("gateway_id", R, CPNS_ID_GATEWAY),
  F_END
};

static const CpnsField session_challenge_response_fields[] = {
  F_ID ("challenge_id", R, CPNS_ID_CHALLENGE),
  F_BYTES ("nonce_s", R, NONCE_LEN),
  F_TIME ("expires_at", R),
  F_END
};

static const CpnsField session_request_fields[] = {
  F_ID ("gateway_id", R, CPNS_ID_GATEWAY),
  F_ID ("challenge_id", R, CPNS_ID_CHALLENGE),
  F_BYTES ("nonce_g", R, NONCE_LEN),
  F_BYTES ("proof", R, KEY_LEN),
  F_END
};

static const CpnsField session_response_fields[] = {
  F_BYTES ("session_token", R | CPNS_FIELD_SECRET, KEY_LEN),
  F_TIME ("expires_at", R),
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_USER ("user_id", R),
  F_BYTES ("server_proof", R, KEY_LEN),
  F_END
};

static const CpnsField entities_request_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_OBJECT ("entity", R, &entity_schema),
  F_ENUM ("key_assignment", R, key_assignments),
  F_BYTES ("euk", O | CPNS_FIELD_SECRET, KEY_LEN),
  F_ID ("key_id", O, CPNS_ID_KEY),
  F_END
};

static gboolean
check_key_assignment (JsonObject  *object,
                      const char  *prefix,
                      GError     **error)
{
  if (member_is_string (object, "key_assignment", "gateway"))
    return require (object, prefix, "key_assignment is gateway", error,
                    "euk", "key_id", NULL);
  return TRUE;
}

static const CpnsField entities_response_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_ID ("key_id", R, CPNS_ID_KEY),
  F_BYTES ("euk", O | CPNS_FIELD_SECRET, KEY_LEN),
  F_ENUM ("state", R, pending_only),
  F_END
};

static const CpnsField rekey_request_fields[] = {
  F_ENUM ("key_assignment", O, key_assignments),
  F_BYTES ("euk", O | CPNS_FIELD_SECRET, KEY_LEN),
  F_ID ("key_id", O, CPNS_ID_KEY),
  F_END
};

static const CpnsField key_confirm_request_fields[] = {
  F_ID ("key_id", R, CPNS_ID_KEY),
  F_BYTES ("key_confirm", R, KEY_LEN),
  F_END
};

static const CpnsField key_confirm_response_fields[] = {
  F_ENUM ("state", R, registered_only),
  F_END
};

static const CpnsField auth_request_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_BYTES ("nonce_p", R, NONCE_LEN),
  F_NAMES ("requested_services", O, MAX_SERVICES),
  F_END
};

static const CpnsField auth_response_body_fields[] = {
  F_ID ("auth_id", R, CPNS_ID_AUTH),
  F_BYTES ("nonce_s", R, NONCE_LEN),
  F_BYTES ("server_proof", R, KEY_LEN),
  F_TIME ("expires_at", R),
  F_END
};

static const CpnsField verify_request_fields[] = {
  F_BYTES ("pne_proof", R, KEY_LEN),
  F_END
};

static const CpnsField decision_request_fields[] = {
  F_ENUM ("decision", R, allow_deny),
  F_BOOL ("remember", R),
  F_END
};

static const CpnsField auth_result_fields[] = {
  F_ENUM ("decision", R, allow_ask),
  F_ID ("session_id", O, CPNS_ID_SESSION),
  F_BYTES ("session_key", O | CPNS_FIELD_SECRET, KEY_LEN),
  F_TIME ("expires_at", R),
  F_NAMES ("granted_services", O, MAX_SERVICES),
  F_OBJECT ("entity", O, &entity_schema),
  F_ID ("rule_id", O | CPNS_FIELD_NULLABLE, CPNS_ID_RULE),
  F_END
};

static gboolean
check_auth_result (JsonObject  *object,
                   const char  *prefix,
                   GError     **error)
{
  if (member_is_string (object, "decision", "allow"))
    return require (object, prefix, "decision is allow", error,
                    "session_id", "session_key", "granted_services", NULL);
  return require (object, prefix, "decision is ask", error, "entity", NULL);
}

static const CpnsField inventory_response_fields[] = {
  F_ID ("pn_id", R, CPNS_ID_PN),
  F_INT ("revision", R, 0, MAX_COUNTER),
  F_OBJECTS ("entities", R, MAX_INVENTORY, &inventory_entity_schema),
  F_END
};

static const CpnsField inventory_put_request_fields[] = {
  F_ENUM ("state", R, states),
  F_ID ("session_id", O | CPNS_FIELD_NULLABLE, CPNS_ID_SESSION),
  F_NAMES ("services", O, MAX_SERVICES),
  F_END
};

static const CpnsField revision_fields[] = {
  F_INT ("revision", R, 0, MAX_COUNTER),
  F_END
};

static const CpnsField policy_fields[] = {
  F_ENUM ("default_action", R, actions),
  F_OBJECTS ("rules", R, MAX_RULES, &rule_schema),
  F_END
};

static const CpnsField api_error_fields[] = {
  F_OBJECT ("error", R, &error_detail_schema),
  F_END
};

static const CpnsField healthz_fields[] = {
  F_ENUM ("status", R, ok_only),
  F_END
};

/* Events (§5.7) */
static const CpnsField pne_id_fields[] = {
  F_ID ("pne_id", R, CPNS_ID_PNE),
  F_END
};

static const CpnsField expires_at_fields[] = {
  F_TIME ("expires_at", R),
  F_END
};

#define FRAME(t, f, c)    { t, CPNS_SCHEMA_FRAME, t, f, c }
#define DATAGRAM(t, f, c) { t, CPNS_SCHEMA_DATAGRAM, t, f, c }
#define BODY(k, f, c)     { k, CPNS_SCHEMA_BODY, NULL, f, c }
#define EVENT(t, f)       { "event." t, CPNS_SCHEMA_EVENT, t, f, NULL }

static const CpnsSchema schemas[] = {
  FRAME ("error", error_fields, NULL),
  FRAME ("ping", no_fields, NULL),
  FRAME ("pong", no_fields, NULL),
  FRAME ("bye", bye_fields, NULL),
  FRAME ("pairing_request", pairing_request_fields, check_pairing_request),
  FRAME ("pairing_commit", pairing_commit_fields, NULL),
  FRAME ("pairing_nonce", pairing_nonce_fields, NULL),
  FRAME ("pairing_reveal", pairing_reveal_fields, NULL),
  FRAME ("pairing_response", pairing_response_fields, NULL),
  FRAME ("pne_id_request", no_fields, NULL),
  FRAME ("pne_id_response", pne_id_response_fields, NULL),
  FRAME ("key_assignment_request", key_assignment_request_fields, NULL),
  FRAME ("key_assignment_response", key_assignment_response_fields, NULL),
  FRAME ("pairing_complete", pairing_complete_fields, NULL),
  FRAME ("connection_setup_request", connection_setup_request_fields, NULL),
  FRAME ("auth_challenge", auth_challenge_fields, NULL),
  FRAME ("auth_response", auth_response_fields, NULL),
  FRAME ("authorization_pending", authorization_pending_fields, NULL),
  FRAME ("authorization_result", authorization_result_fields, NULL),
  FRAME ("session_key_confirm", mac_fields, NULL),
  FRAME ("session_key_confirm_ack", mac_fields, NULL),
  FRAME ("connection_setup_complete", connection_setup_complete_fields, NULL),
  FRAME ("session_resume_request", session_resume_request_fields, NULL),
  DATAGRAM ("entity_discovery_request", discovery_fields, check_discovery),
  DATAGRAM ("entity_discovery_response", discovery_fields, check_discovery),
  BODY ("api.gateways.request", gateways_request_fields, NULL),
  BODY ("api.gateways.response", gateways_response_fields, NULL),
  BODY ("api.session_challenge.request", gateway_id_fields, NULL),
  BODY ("api.session_challenge.response", session_challenge_response_fields, NULL),
  BODY ("api.session.request", session_request_fields, NULL),
  BODY ("api.session.response", session_response_fields, NULL),
  BODY ("api.entities.request", entities_request_fields, check_key_assignment),
  BODY ("api.entities.response", entities_response_fields, NULL),
  BODY ("api.rekey.request", rekey_request_fields, check_key_assignment),
  BODY ("api.key_confirm.request", key_confirm_request_fields, NULL),
  BODY ("api.key_confirm.response", key_confirm_response_fields, NULL),
  BODY ("api.auth.request", auth_request_fields, NULL),
  BODY ("api.auth.response", auth_response_body_fields, NULL),
  BODY ("api.verify.request", verify_request_fields, NULL),
  BODY ("api.decision.request", decision_request_fields, NULL),
  BODY ("api.auth_result", auth_result_fields, check_auth_result),
  BODY ("api.inventory.response", inventory_response_fields, NULL),
  BODY ("api.inventory_put.request", inventory_put_request_fields, NULL),
  BODY ("api.inventory_put.response", revision_fields, NULL),
  BODY ("api.policy", policy_fields, NULL),
  BODY ("api.error", api_error_fields, NULL),
  BODY ("api.healthz", healthz_fields, NULL),
  EVENT ("entity_revoked", pne_id_fields),
  EVENT ("inventory_changed", revision_fields),
  EVENT ("policy_changed", no_fields),
  EVENT ("session_expiring", expires_at_fields),
};

const CpnsSchema *
cpns_schema_lookup (const char *kind)
{
  if (kind == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (schemas); i++)
    if (strcmp (schemas[i].kind, kind) == 0)
      return &schemas[i];
  return NULL;
}

const CpnsSchema *
cpns_schema_lookup_type (CpnsSchemaClass  klass,
                         const char      *type)
{
  if (type == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (schemas); i++)
    if (schemas[i].klass == klass && strcmp (schemas[i].type, type) == 0)
      return &schemas[i];
  return NULL;
}

const CpnsSchema *
cpns_schema_entity_descriptor (void)
{
  return &entity_schema;
}

const CpnsSchema *
cpns_schema_all (gsize *n_schemas)
{
  *n_schemas = G_N_ELEMENTS (schemas);
  return schemas;
}
