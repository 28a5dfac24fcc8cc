/* SPDX-License-Identifier: GPL-3.0-or-later */
/* §5.1 enrollment, §5.2 session, §5.8 healthz. */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "cpns-ids.h"
#include "srv-enrollment.h"
#include "srv-server-private.h"

/* Outstanding session challenges one gateway may hold. */
#define MAX_CHALLENGES_PER_GATEWAY 64

void
srv_handle_healthz (SrvRequest *req)
{
  g_autoptr(JsonObject) answer = json_object_new ();

  json_object_set_string_member (answer, "status", "ok");
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

void
srv_handle_enroll (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(SrvUser) user = NULL;
  g_autofree char *code_hash = NULL;
  g_autofree char *gateway_id = NULL;
  guint8 secret[CPNS_KEY_LEN];
  const char *user_id;

  body = srv_request_decode (req, "api.gateways.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  user_id = cpns_message_get_string (body, "user_id");

  if (srv_limiter_is_locked (server->enroll_limiter, user_id, req->now, &req->retry_after))
    return srv_reply_error_code (req, CPNS_ERROR_LOCKED_OUT,
                                 "locked_out: too many wrong enrollment codes for this user");

  code_hash = srv_enrollment_code_hash (cpns_message_get_string (body, "enrollment_code"));
  gateway_id = cpns_id_new (CPNS_ID_GATEWAY);
  cpns_random_key (secret, sizeof secret);

  if (!srv_store_enroll (server->store, user_id, code_hash, req->now, gateway_id,
                         cpns_message_get_string (body, "gateway_name"), secret, &error))
    {
      cpns_wipe (secret, sizeof secret);
      if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED))
        srv_limiter_fail (server->enroll_limiter, user_id, req->now);
      return srv_reply_error (req, error);
    }

  user = srv_store_get_user (server->store, user_id, &error);
  if (user == NULL)
    {
      cpns_wipe (secret, sizeof secret);
      return srv_reply_error (req, error);
    }
  answer = json_object_new ();
  json_object_set_string_member (answer, "gateway_id", gateway_id);
  srv_json_set_bytes (answer, "gateway_secret", secret, sizeof secret);
  json_object_set_string_member (answer, "pn_id", user->pn_id);
  json_object_set_string_member (answer, "user_id", user_id);
  cpns_wipe (secret, sizeof secret);
  g_debug ("gateway %s enrolled for user %s", gateway_id, user_id);
  srv_reply_json (req, SOUP_STATUS_CREATED, answer);
}

void
srv_handle_challenge (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvGateway) gateway = NULL;
  g_autoptr(JsonObject) answer = json_object_new ();
  SrvChallenge *challenge;

  body = srv_request_decode (req, "api.session_challenge.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  gateway = srv_store_get_gateway (server->store, cpns_message_get_string (body, "gateway_id"), &error);
  if (gateway == NULL)
    return srv_reply_error (req, error);

  if (srv_store_count_challenges (server->store, gateway->gateway_id) >= MAX_CHALLENGES_PER_GATEWAY)
    {
      req->retry_after = srv_timings_get ()->challenge_ttl / G_USEC_PER_SEC;
      return srv_reply_error_code (req, CPNS_ERROR_LOCKED_OUT,
                                   "locked_out: too many open challenges for this gateway");
    }

  challenge = g_new0 (SrvChallenge, 1);
  challenge->challenge_id = cpns_id_new (CPNS_ID_CHALLENGE);
  challenge->gateway_id = g_strdup (gateway->gateway_id);
  cpns_random_nonce (challenge->nonce_s, sizeof challenge->nonce_s);
  challenge->expires_at = req->now + srv_timings_get ()->challenge_ttl;

  json_object_set_string_member (answer, "challenge_id", challenge->challenge_id);
  srv_json_set_bytes (answer, "nonce_s", challenge->nonce_s, sizeof challenge->nonce_s);
  srv_json_set_time (answer, "expires_at", challenge->expires_at);
  srv_store_put_challenge (server->store, challenge);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

void
srv_handle_session_create (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvGateway) gateway = NULL;
  g_autoptr(SrvChallenge) challenge = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *token_hash = NULL;
  guint8 nonce_g[CPNS_NONCE_LEN], proof[CPNS_MAC_LEN], expected[CPNS_MAC_LEN];
  guint8 server_proof[CPNS_MAC_LEN], token[32];
  const char *gateway_id;
  gint64 expires_at;
  gboolean ok;

  body = srv_request_decode (req, "api.session.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  gateway_id = cpns_message_get_string (body, "gateway_id");
  cpns_message_get_bytes (body, "nonce_g", nonce_g, sizeof nonce_g);
  cpns_message_get_bytes (body, "proof", proof, sizeof proof);

  challenge = srv_store_take_challenge (server->store, cpns_message_get_string (body, "challenge_id"),
                                        &error);
  if (challenge == NULL)
    return srv_reply_error (req, error);
  if (strcmp (challenge->gateway_id, gateway_id) != 0)
    return srv_reply_error_code (req, CPNS_ERROR_NOT_FOUND,
                                 "not_found: no such challenge for this gateway");
  if (challenge->expires_at <= req->now)
    return srv_reply_error_code (req, CPNS_ERROR_TIMEOUT, "timeout: the challenge expired");

  gateway = srv_store_get_gateway (server->store, gateway_id, &error);
  if (gateway == NULL)
    return srv_reply_error (req, error);

  cpns_gateway_session_proof (gateway->secret, gateway_id, challenge->nonce_s, nonce_g, expected);
  ok = cpns_memeq_ct (expected, sizeof expected, proof, sizeof proof);
  if (!ok)
    return srv_reply_error_code (req, CPNS_ERROR_AUTH_FAILED,
                                 "auth_failed: the gateway's session proof did not verify");

  cpns_server_session_proof (gateway->secret, gateway_id, nonce_g, challenge->nonce_s, server_proof);
  cpns_random_key (token, sizeof token);
  token_hash = cpns_sha256_hex (token, sizeof token);
  expires_at = req->now + srv_timings_get ()->session_ttl;
  if (!srv_store_create_session (server->store, token_hash, gateway_id, req->now, expires_at, &error))
    {
      cpns_wipe (token, sizeof token);
      return srv_reply_error (req, error);
    }

  answer = json_object_new ();
  srv_json_set_bytes (answer, "session_token", token, sizeof token);
  cpns_wipe (token, sizeof token);
  srv_json_set_time (answer, "expires_at", expires_at);
  json_object_set_string_member (answer, "pn_id", gateway->pn_id);
  json_object_set_string_member (answer, "user_id", gateway->user_id);
  srv_json_set_bytes (answer, "server_proof", server_proof, sizeof server_proof);
  g_debug ("session opened for gateway %s", gateway_id);
  srv_reply_json (req, SOUP_STATUS_CREATED, answer);
}

void
srv_handle_session_delete (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;

  if (!srv_request_authenticate (req, &error) ||
      !srv_store_delete_session (req->server->store, req->token_hash, &error))
    return srv_reply_error (req, error);
  srv_reply_empty (req, SOUP_STATUS_NO_CONTENT);
}
