/* SPDX-License-Identifier: GPL-3.0-or-later */
/* §5.4 authentication and authorization: challenge, verify, decision. */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include "cpns-crypto.h"
#include "cpns-ids.h"
#include "srv-server-private.h"

/* Open exchanges one gateway may hold at once. */
#define MAX_AUTHS_PER_GATEWAY 1024

static void
lockout_reply (SrvRequest *req)
{
  srv_reply_error_code (req, CPNS_ERROR_LOCKED_OUT,
                        "locked_out: too many failed proofs for this entity");
}

/* The entity an exchange names, still in this PN and registered. */
static SrvEntity *
get_live_entity (SrvRequest  *req,
                 const char  *pne_id,
                 GError     **error)
{
  g_autoptr(SrvEntity) entity = srv_store_get_entity (req->server->store, req->session->user_id,
                                                      pne_id, error);

  if (entity == NULL)
    return NULL;
  if (strcmp (entity->state, "revoked") == 0 || !entity->has_euk)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_REVOKED,
                           "revoked: the entity was removed from the PN");
      return NULL;
    }
  if (strcmp (entity->state, "pending") == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           "conflict: the entity's key is not confirmed yet");
      return NULL;
    }
  return g_steal_pointer (&entity);
}

void
srv_handle_auth (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvEntity) entity = NULL;
  g_autoptr(JsonObject) answer = json_object_new ();
  SrvAuthExchange *exchange;
  guint8 server_proof[CPNS_MAC_LEN];
  const char *pne_id;

  if (!srv_request_authenticate (req, &error))
    return srv_reply_error (req, error);
  body = srv_request_decode (req, "api.auth.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  pne_id = cpns_message_get_string (body, "pne_id");

  if (srv_limiter_is_locked (server->pne_limiter, pne_id, req->now, &req->retry_after))
    return lockout_reply (req);
  entity = get_live_entity (req, pne_id, &error);
  if (entity == NULL)
    return srv_reply_error (req, error);
  if (srv_store_count_auths (server->store, req->session->gateway_id) >= MAX_AUTHS_PER_GATEWAY)
    {
      req->retry_after = srv_timings_get ()->auth_ttl / G_USEC_PER_SEC;
      return srv_reply_error_code (req, CPNS_ERROR_LOCKED_OUT,
                                   "locked_out: too many open authentications for this gateway");
    }

  exchange = g_new0 (SrvAuthExchange, 1);
  exchange->auth_id = cpns_id_new (CPNS_ID_AUTH);
  exchange->pne_id = g_strdup (pne_id);
  exchange->gateway_id = g_strdup (req->session->gateway_id);
  exchange->user_id = g_strdup (req->session->user_id);
  cpns_message_get_bytes (body, "nonce_p", exchange->nonce_p, sizeof exchange->nonce_p);
  cpns_random_nonce (exchange->nonce_s, sizeof exchange->nonce_s);
  exchange->requested_services = cpns_message_dup_strv (body, "requested_services");
  exchange->expires_at = req->now + srv_timings_get ()->auth_ttl;
  exchange->state = SRV_AUTH_ISSUED;

  cpns_server_auth_proof (entity->euk, pne_id, exchange->gateway_id,
                          exchange->nonce_p, exchange->nonce_s, server_proof);

  json_object_set_string_member (answer, "auth_id", exchange->auth_id);
  srv_json_set_bytes (answer, "nonce_s", exchange->nonce_s, sizeof exchange->nonce_s);
  srv_json_set_bytes (answer, "server_proof", server_proof, sizeof server_proof);
  srv_json_set_time (answer, "expires_at", exchange->expires_at);
  srv_store_put_auth (server->store, exchange);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

/* The exchange of the path, checked: known, this gateway's, in @state,
 * not expired. */
static SrvAuthExchange *
get_exchange (SrvRequest    *req,
              SrvAuthState   state,
              GError       **error)
{
  SrvStore *store = req->server->store;
  const char *auth_id = req->segments[3];
  SrvAuthExchange *exchange;

  if (!srv_request_authenticate (req, error) ||
      !srv_check_id (CPNS_ID_AUTH, auth_id, "auth_id", error))
    return NULL;
  exchange = srv_store_lookup_auth (store, auth_id);
  if (exchange == NULL || strcmp (exchange->gateway_id, req->session->gateway_id) != 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                           "not_found: unknown or already used auth_id");
      return NULL;
    }
  if (exchange->expires_at <= req->now)
    {
      srv_store_finish_auth (store, auth_id);
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_TIMEOUT,
                           "timeout: the authentication exchange expired");
      return NULL;
    }
  if (exchange->state != state)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                           state == SRV_AUTH_ISSUED
                           ? "conflict: this exchange is waiting for a decision, not a proof"
                           : "conflict: this exchange is not waiting for a decision");
      return NULL;
    }
  return exchange;
}

static void
reply_allow (SrvRequest      *req,
             SrvAuthExchange *exchange,
             SrvEntity       *entity,
             const char      *rule_id)
{
  g_autoptr(JsonObject) answer = json_object_new ();
  g_autofree char *session_id = cpns_id_new (CPNS_ID_SESSION);
  JsonArray *granted = json_array_new ();
  guint8 session_key[CPNS_KEY_LEN];

  cpns_session_key (entity->euk, exchange->nonce_p, exchange->nonce_s, entity->pne_id,
                    exchange->gateway_id, session_id, session_key);
  for (guint i = 0; exchange->requested_services && exchange->requested_services[i]; i++)
    json_array_add_string_element (granted, exchange->requested_services[i]);

  json_object_set_string_member (answer, "decision", "allow");
  json_object_set_string_member (answer, "session_id", session_id);
  srv_json_set_bytes (answer, "session_key", session_key, sizeof session_key);
  cpns_wipe (session_key, sizeof session_key);
  srv_json_set_time (answer, "expires_at", req->now + srv_timings_get ()->pne_session_ttl);
  json_object_set_array_member (answer, "granted_services", granted);
  if (rule_id)
    json_object_set_string_member (answer, "rule_id", rule_id);
  else
    json_object_set_null_member (answer, "rule_id");
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

static void
reply_deny (SrvRequest *req,
            const char *rule_id,
            const char *message)
{
  g_free (req->rule_id);
  req->rule_id = g_strdup (rule_id);
  srv_reply_error_code (req, CPNS_ERROR_DENIED, message);
}

static const char *
entity_type_of (SrvEntity *entity,
                JsonNode  *descriptor)
{
  if (descriptor == NULL || !JSON_NODE_HOLDS_OBJECT (descriptor))
    return NULL;
  return json_object_get_string_member_with_default (json_node_get_object (descriptor),
                                                     "entity_type", NULL);
}

void
srv_handle_verify (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvEntity) entity = NULL;
  g_autoptr(SrvPolicy) policy = NULL;
  g_autoptr(JsonNode) descriptor = NULL;
  SrvAuthExchange *exchange;
  guint8 proof[CPNS_MAC_LEN], expected[CPNS_MAC_LEN];
  const char *action, *rule_id = NULL;
  g_autofree char *auth_id = NULL;

  exchange = get_exchange (req, SRV_AUTH_ISSUED, &error);
  if (exchange == NULL)
    return srv_reply_error (req, error);
  auth_id = g_strdup (exchange->auth_id);
  body = srv_request_decode (req, "api.verify.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  cpns_message_get_bytes (body, "pne_proof", proof, sizeof proof);

  if (srv_limiter_is_locked (server->pne_limiter, exchange->pne_id, req->now, &req->retry_after))
    {
      srv_store_finish_auth (server->store, auth_id);
      return lockout_reply (req);
    }
  srv_store_begin_read (server->store);
  entity = get_live_entity (req, exchange->pne_id, &error);
  if (entity != NULL)
    policy = srv_store_get_policy (server->store, req->session->user_id, &error);
  srv_store_end_read (server->store);
  if (entity == NULL)
    {
      srv_store_finish_auth (server->store, auth_id);
      return srv_reply_error (req, error);
    }
  if (policy == NULL)
    return srv_reply_error (req, error);

  cpns_pne_auth_proof (entity->euk, entity->pne_id, exchange->gateway_id,
                       exchange->nonce_s, exchange->nonce_p, expected);
  if (!cpns_memeq_ct (expected, sizeof expected, proof, sizeof proof))
    {
      /* A failed proof uses the exchange up too. */
      srv_limiter_fail (server->pne_limiter, entity->pne_id, req->now);
      srv_store_log_decision (server->store, exchange->user_id, auth_id, entity->pne_id,
                              exchange->gateway_id, "auth_failed", NULL, "proof", req->now);
      srv_store_finish_auth (server->store, auth_id);
      return srv_reply_error_code (req, CPNS_ERROR_AUTH_FAILED,
                                   "auth_failed: the PNE's proof did not verify");
    }

  descriptor = srv_json_parse (entity->descriptor);
  action = srv_policy_evaluate (policy, entity->pne_id, entity_type_of (entity, descriptor),
                                exchange->gateway_id, req->now, &rule_id);
  srv_store_log_decision (server->store, exchange->user_id, auth_id, entity->pne_id,
                          exchange->gateway_id, action, rule_id,
                          rule_id ? "rule" : "default", req->now);

  if (strcmp (action, "allow") == 0)
    {
      reply_allow (req, exchange, entity, rule_id);
      srv_store_finish_auth (server->store, auth_id);
    }
  else if (strcmp (action, "deny") == 0)
    {
      srv_store_finish_auth (server->store, auth_id);
      reply_deny (req, rule_id, rule_id ? "denied: a policy rule denies this entity"
                                        : "denied: the PN's default action is deny");
    }
  else
    {
      g_autoptr(JsonObject) answer = json_object_new ();

      exchange->state = SRV_AUTH_ASKING;
      exchange->expires_at = req->now + srv_timings_get ()->approval_ttl;
      json_object_set_string_member (answer, "decision", "ask");
      srv_json_set_time (answer, "expires_at", exchange->expires_at);
      if (descriptor && JSON_NODE_HOLDS_OBJECT (descriptor))
        json_object_set_object_member (answer, "entity",
                                       json_object_ref (json_node_get_object (descriptor)));
      if (rule_id)
        json_object_set_string_member (answer, "rule_id", rule_id);
      else
        json_object_set_null_member (answer, "rule_id");
      srv_reply_json (req, SOUP_STATUS_OK, answer);
    }
}

void
srv_handle_decision (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvEntity) entity = NULL;
  g_autoptr(SrvRule) rule = NULL;
  g_autofree char *auth_id = NULL;
  SrvAuthExchange *exchange;
  const char *decision;

  exchange = get_exchange (req, SRV_AUTH_ASKING, &error);
  if (exchange == NULL)
    return srv_reply_error (req, error);
  auth_id = g_strdup (exchange->auth_id);
  body = srv_request_decode (req, "api.decision.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  decision = cpns_message_get_string (body, "decision");

  entity = get_live_entity (req, exchange->pne_id, &error);
  if (entity == NULL)
    {
      srv_store_finish_auth (server->store, auth_id);
      return srv_reply_error (req, error);
    }

  if (cpns_message_get_bool (body, "remember"))
    {
      rule = srv_rule_new ();
      rule->id = cpns_id_new (CPNS_ID_RULE);
      rule->match_pne_id = g_strdup (entity->pne_id);
      rule->action = g_strdup (decision);
      if (!srv_store_add_rule (server->store, req->session->user_id, rule, TRUE, &error))
        return srv_reply_error (req, error);
    }
  srv_store_log_decision (server->store, exchange->user_id, auth_id, entity->pne_id,
                          exchange->gateway_id, decision, rule ? rule->id : NULL, "user",
                          req->now);

  if (strcmp (decision, "allow") == 0)
    reply_allow (req, exchange, entity, rule ? rule->id : NULL);
  else
    reply_deny (req, rule ? rule->id : NULL, "denied: the user denied the connection");
  srv_store_finish_auth (server->store, auth_id);
}
