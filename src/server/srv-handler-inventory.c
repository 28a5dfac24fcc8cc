/* SPDX-License-Identifier: GPL-3.0-or-later */
/* §5.5 inventory and §5.6 policy. */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpns-ids.h"
#include "srv-server-private.h"

JsonObject *srv_inventory_entity_to_json (SrvEntity *entity);

JsonObject *
srv_inventory_entity_to_json (SrvEntity *entity)
{
  JsonObject *object = json_object_new ();
  g_autoptr(JsonNode) descriptor = srv_json_parse (entity->descriptor);

  json_object_set_string_member (object, "pne_id", entity->pne_id);
  if (descriptor && JSON_NODE_HOLDS_OBJECT (descriptor))
    json_object_set_object_member (object, "entity",
                                   json_object_ref (json_node_get_object (descriptor)));
  else
    json_object_set_object_member (object, "entity", json_object_new ());
  json_object_set_string_member (object, "state", entity->state);
  json_object_set_string_member (object, "key_assignment", entity->key_assignment);
  if (entity->key_id)
    json_object_set_string_member (object, "key_id", entity->key_id);
  else
    json_object_set_null_member (object, "key_id");
  if (entity->gateway_id)
    json_object_set_string_member (object, "gateway_id", entity->gateway_id);
  else
    json_object_set_null_member (object, "gateway_id");
  if (entity->session_id)
    json_object_set_string_member (object, "session_id", entity->session_id);
  else
    json_object_set_null_member (object, "session_id");
  srv_json_set_time (object, "registered_at", entity->created_at);
  if (entity->last_seen)
    srv_json_set_time (object, "last_seen", entity->last_seen);
  else
    json_object_set_null_member (object, "last_seen");
  return object;
}

void
srv_handle_inventory_get (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entities = NULL;
  g_autoptr(JsonObject) answer = NULL;
  JsonArray *list;
  gint64 since = 0, revision = 0;
  const char *since_text = req->query ? g_hash_table_lookup (req->query, "since") : NULL;

  if (!srv_request_authenticate (req, &error))
    return srv_reply_error (req, error);
  if (since_text != NULL)
    {
      guint64 value;

      if (!g_ascii_string_to_unsigned (since_text, 10, 0, G_MAXINT64, &value, NULL))
        return srv_reply_error_code (req, CPNS_ERROR_BAD_REQUEST,
                                     "bad_request: field 'since' must be a revision number");
      since = (gint64) value;
    }

  entities = srv_store_list_entities (req->server->store, req->session->user_id, since,
                                      &revision, &error);
  if (entities == NULL)
    return srv_reply_error (req, error);
  answer = json_object_new ();
  list = json_array_new ();
  json_object_set_string_member (answer, "pn_id", req->session->pn_id);
  json_object_set_int_member (answer, "revision", revision);
  for (guint i = 0; i < entities->len; i++)
    json_array_add_object_element (list, srv_inventory_entity_to_json (g_ptr_array_index (entities, i)));
  json_object_set_array_member (answer, "entities", list);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

void
srv_handle_inventory_put (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *services = NULL;
  const char *pne_id = req->segments[3];
  const char *state;
  JsonArray *array;
  gint64 revision;

  if (!srv_request_authenticate (req, &error) ||
      !srv_check_id (CPNS_ID_PNE, pne_id, "pne_id", &error))
    return srv_reply_error (req, error);
  body = srv_request_decode (req, "api.inventory_put.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  state = cpns_message_get_string (body, "state");
  if (strcmp (state, "connected") != 0 && strcmp (state, "disconnected") != 0)
    return srv_reply_error_code (req, CPNS_ERROR_BAD_REQUEST,
                                 "bad_request: field 'state' must be connected or disconnected "
                                 "(the other states are the server's)");
  array = cpns_message_get_json_array (body, "services");
  if (array != NULL)
    {
      g_autoptr(JsonNode) node = json_node_init_array (json_node_alloc (), array);
      services = srv_json_to_string (node);
    }

  revision = srv_store_update_inventory (req->server->store, req->session->user_id, pne_id, state,
                                         cpns_message_get_string (body, "session_id"), services,
                                         req->now, &error);
  if (revision < 0)
    return srv_reply_error (req, error);
  answer = json_object_new ();
  json_object_set_int_member (answer, "revision", revision);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

void
srv_handle_policy_get (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SrvPolicy) policy = NULL;
  g_autoptr(JsonObject) answer = NULL;

  if (!srv_request_authenticate (req, &error))
    return srv_reply_error (req, error);
  policy = srv_store_get_policy (req->server->store, req->session->user_id, &error);
  if (policy == NULL)
    return srv_reply_error (req, error);
  answer = srv_policy_to_json (policy);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

void
srv_handle_policy_put (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvPolicy) policy = NULL;
  g_autoptr(SrvPolicy) stored = NULL;
  g_autoptr(JsonObject) answer = NULL;

  if (!srv_request_authenticate (req, &error))
    return srv_reply_error (req, error);
  body = srv_request_decode (req, "api.policy", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  policy = srv_policy_from_json (cpns_message_get_object (body), &error);
  if (policy == NULL ||
      !srv_store_replace_policy (req->server->store, req->session->user_id, policy, &error))
    return srv_reply_error (req, error);
  stored = srv_store_get_policy (req->server->store, req->session->user_id, &error);
  if (stored == NULL)
    return srv_reply_error (req, error);
  answer = srv_policy_to_json (stored);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}
