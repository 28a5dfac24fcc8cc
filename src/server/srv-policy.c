/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include "cpns-error.h"
#include "cpns-ids.h"
#include "srv-policy.h"
#include "srv-time.h"

SrvRule *
srv_rule_new (void)
{
  return g_new0 (SrvRule, 1);
}

SrvRule *
srv_rule_copy (const SrvRule *rule)
{
  SrvRule *copy = srv_rule_new ();

  copy->id = g_strdup (rule->id);
  copy->match_pne_id = g_strdup (rule->match_pne_id);
  copy->match_entity_type = g_strdup (rule->match_entity_type);
  copy->match_gateway_id = g_strdup (rule->match_gateway_id);
  copy->action = g_strdup (rule->action);
  copy->expires_at = rule->expires_at;
  return copy;
}

void
srv_rule_free (SrvRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->id);
  g_free (rule->match_pne_id);
  g_free (rule->match_entity_type);
  g_free (rule->match_gateway_id);
  g_free (rule->action);
  g_free (rule);
}

SrvPolicy *
srv_policy_new (const char *default_action)
{
  SrvPolicy *policy = g_new0 (SrvPolicy, 1);

  policy->default_action = g_strdup (default_action ? default_action : "ask");
  policy->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) srv_rule_free);
  return policy;
}

void
srv_policy_free (SrvPolicy *policy)
{
  if (policy == NULL)
    return;
  g_free (policy->default_action);
  g_ptr_array_unref (policy->rules);
  g_free (policy);
}

gboolean
srv_policy_action_is_valid (const char *action)
{
  return action != NULL &&
         (strcmp (action, "allow") == 0 ||
          strcmp (action, "deny") == 0 ||
          strcmp (action, "ask") == 0);
}

static gboolean
field_matches (const char *want,
               const char *have)
{
  return want == NULL || g_strcmp0 (want, have) == 0;
}

const char *
srv_policy_evaluate (const SrvPolicy *policy,
                     const char      *pne_id,
                     const char      *entity_type,
                     const char      *gateway_id,
                     gint64           now,
                     const char     **out_rule_id)
{
  g_return_val_if_fail (policy != NULL, "deny");

  for (guint i = 0; i < policy->rules->len; i++)
    {
      const SrvRule *rule = g_ptr_array_index (policy->rules, i);

      if (rule->expires_at != 0 && rule->expires_at <= now)
        continue;
      if (field_matches (rule->match_pne_id, pne_id) &&
          field_matches (rule->match_entity_type, entity_type) &&
          field_matches (rule->match_gateway_id, gateway_id))
        {
          if (out_rule_id)
            *out_rule_id = rule->id;
          return rule->action;
        }
    }
  if (out_rule_id)
    *out_rule_id = NULL;
  return policy->default_action;
}

JsonObject *
srv_rule_to_json (const SrvRule *rule)
{
  JsonObject *object = json_object_new ();
  JsonObject *match = json_object_new ();

  json_object_set_string_member (object, "id", rule->id);
  if (rule->match_pne_id)
    json_object_set_string_member (match, "pne_id", rule->match_pne_id);
  if (rule->match_entity_type)
    json_object_set_string_member (match, "entity_type", rule->match_entity_type);
  if (rule->match_gateway_id)
    json_object_set_string_member (match, "gateway_id", rule->match_gateway_id);
  json_object_set_object_member (object, "match", match);
  json_object_set_string_member (object, "action", rule->action);
  if (rule->expires_at != 0)
    {
      g_autofree char *text = srv_time_format (rule->expires_at);
      json_object_set_string_member (object, "expires_at", text);
    }
  return object;
}

JsonObject *
srv_policy_to_json (const SrvPolicy *policy)
{
  JsonObject *object = json_object_new ();
  JsonArray *rules = json_array_new ();

  json_object_set_string_member (object, "default_action", policy->default_action);
  for (guint i = 0; i < policy->rules->len; i++)
    json_array_add_object_element (rules, srv_rule_to_json (g_ptr_array_index (policy->rules, i)));
  json_object_set_array_member (object, "rules", rules);
  return object;
}

static gboolean
get_optional_string (JsonObject  *object,
                     const char  *member,
                     const char  *field_name,
                     char       **out,
                     GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field '%s' must be a string", field_name);
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
rule_from_json (JsonNode  *node,
                guint      index,
                SrvRule  **out,
                GError   **error)
{
  g_autoptr(SrvRule) rule = srv_rule_new ();
  g_autofree char *prefix = g_strdup_printf ("rules[%u]", index);
  g_autofree char *expires = NULL;
  JsonObject *object;
  JsonNode *match_node;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field '%s' must be an object", prefix);
      return FALSE;
    }
  object = json_node_get_object (node);

  if (!get_optional_string (object, "id", "id", &rule->id, error))
    return FALSE;
  if (rule->id == NULL)
    rule->id = cpns_id_new (CPNS_ID_RULE);
  else if (!cpns_id_is_valid (CPNS_ID_RULE, rule->id))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field '%s.id' is not a rule id", prefix);
      return FALSE;
    }

  if (!get_optional_string (object, "action", "action", &rule->action, error))
    return FALSE;
  if (!srv_policy_action_is_valid (rule->action))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field '%s.action' must be allow, deny or ask", prefix);
      return FALSE;
    }

  match_node = json_object_get_member (object, "match");
  if (match_node != NULL && !JSON_NODE_HOLDS_NULL (match_node))
    {
      JsonObject *match;

      if (!JSON_NODE_HOLDS_OBJECT (match_node))
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: field '%s.match' must be an object", prefix);
          return FALSE;
        }
      match = json_node_get_object (match_node);
      if (!get_optional_string (match, "pne_id", "match.pne_id", &rule->match_pne_id, error) ||
          !get_optional_string (match, "entity_type", "match.entity_type", &rule->match_entity_type, error) ||
          !get_optional_string (match, "gateway_id", "match.gateway_id", &rule->match_gateway_id, error))
        return FALSE;
      if (rule->match_pne_id && !cpns_id_is_valid (CPNS_ID_PNE, rule->match_pne_id))
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: field '%s.match.pne_id' is not a pne_id", prefix);
          return FALSE;
        }
      if (rule->match_gateway_id && !cpns_id_is_valid (CPNS_ID_GATEWAY, rule->match_gateway_id))
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: field '%s.match.gateway_id' is not a gateway_id", prefix);
          return FALSE;
        }
      if (rule->match_entity_type &&
          (*rule->match_entity_type == '\0' || strlen (rule->match_entity_type) > 64))
        {
          g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                       "bad_request: field '%s.match.entity_type' is out of range", prefix);
          return FALSE;
        }
    }

  if (!get_optional_string (object, "expires_at", "expires_at", &expires, error))
    return FALSE;
  if (expires != NULL && !srv_time_parse (expires, &rule->expires_at))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: field '%s.expires_at' is not an RFC 3339 time", prefix);
      return FALSE;
    }

  *out = g_steal_pointer (&rule);
  return TRUE;
}

SrvPolicy *
srv_policy_from_json (JsonObject  *object,
                      GError     **error)
{
  g_autoptr(SrvPolicy) policy = NULL;
  g_autofree char *default_action = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  JsonNode *rules_node;

  if (!get_optional_string (object, "default_action", "default_action", &default_action, error))
    return NULL;
  if (!srv_policy_action_is_valid (default_action))
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "bad_request: field 'default_action' must be allow, deny or ask");
      return NULL;
    }
  policy = srv_policy_new (default_action);

  rules_node = json_object_get_member (object, "rules");
  if (rules_node == NULL || !JSON_NODE_HOLDS_ARRAY (rules_node))
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "bad_request: field 'rules' must be an array");
      return NULL;
    }
  {
    JsonArray *rules = json_node_get_array (rules_node);
    guint n = json_array_get_length (rules);

    if (n > 1024)
      {
        g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                             "bad_request: field 'rules' has more than 1024 rules");
        return NULL;
      }
    for (guint i = 0; i < n; i++)
      {
        SrvRule *rule = NULL;

        if (!rule_from_json (json_array_get_element (rules, i), i, &rule, error))
          return NULL;
        g_ptr_array_add (policy->rules, rule);
        if (!g_hash_table_add (ids, rule->id))
          {
            g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                         "bad_request: field 'rules[%u].id' repeats an earlier id", i);
            return NULL;
          }
      }
  }
  return g_steal_pointer (&policy);
}
