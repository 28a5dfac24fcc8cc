/* SPDX-License-Identifier: GPL-3.0-or-later */
/* §5.3 entities: registration in both key-assignment modes, key-confirm,
 * delete, rekey. */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include "cpns-crypto.h"
#include "cpns-ids.h"
#include "srv-server-private.h"

/* The key the request names: generated here (server mode) or given by
 * the gateway. FALSE with BAD_REQUEST when gateway mode lacks them. */
static gboolean
get_key (CpnsMessage  *body,
         const char   *mode,
         char        **out_key_id,
         guint8        euk[CPNS_KEY_LEN],
         GError      **error)
{
  if (g_strcmp0 (mode, "gateway") == 0)
    {
      if (!cpns_message_get_bytes (body, "euk", euk, CPNS_KEY_LEN) ||
          cpns_message_get_string (body, "key_id") == NULL)
        {
          g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                               "bad_request: field 'euk' and 'key_id' are required when "
                               "key_assignment is gateway");
          return FALSE;
        }
      *out_key_id = g_strdup (cpns_message_get_string (body, "key_id"));
      return TRUE;
    }
  cpns_random_key (euk, CPNS_KEY_LEN);
  *out_key_id = cpns_id_new (CPNS_ID_KEY);
  return TRUE;
}

static JsonObject *
registration_answer (const char   *pne_id,
                     const char   *key_id,
                     const char   *mode,
                     const guint8  euk[CPNS_KEY_LEN])
{
  JsonObject *answer = json_object_new ();

  json_object_set_string_member (answer, "pne_id", pne_id);
  json_object_set_string_member (answer, "key_id", key_id);
  if (g_strcmp0 (mode, "server") == 0)
    srv_json_set_bytes (answer, "euk", euk, CPNS_KEY_LEN);
  json_object_set_string_member (answer, "state", "pending");
  return answer;
}

void
srv_handle_entity_create (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonNode) entity_node = NULL;
  g_autofree char *descriptor = NULL;
  g_autofree char *key_id = NULL;
  guint8 euk[CPNS_KEY_LEN];
  const char *pne_id, *mode;
  gboolean ok;

  if (!srv_request_authenticate (req, &error))
    return srv_reply_error (req, error);
  body = srv_request_decode (req, "api.entities.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  pne_id = cpns_message_get_string (body, "pne_id");
  mode = cpns_message_get_string (body, "key_assignment");
  if (!get_key (body, mode, &key_id, euk, &error))
    return srv_reply_error (req, error);

  entity_node = json_node_init_object (json_node_alloc (),
                                       cpns_message_get_json_object (body, "entity"));
  descriptor = srv_json_to_string (entity_node);
  ok = srv_store_register_entity (req->server->store, req->session->user_id,
                                  req->session->gateway_id, pne_id, descriptor, mode,
                                  key_id, euk, req->now, &error);
  if (ok)
    answer = registration_answer (pne_id, key_id, mode, euk);
  cpns_wipe (euk, sizeof euk);
  if (!ok)
    return srv_reply_error (req, error);
  g_debug ("entity %s registered (pending, %s key assignment)", pne_id, mode);
  srv_reply_json (req, SOUP_STATUS_CREATED, answer);
}

void
srv_handle_key_confirm (SrvRequest *req)
{
  SrvServer *server = req->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(SrvEntity) entity = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *state = NULL;
  guint8 mac[CPNS_MAC_LEN], expected[CPNS_MAC_LEN];
  const char *pne_id = req->segments[3];
  const char *key_id;
  const guint8 *euk = NULL;

  if (!srv_request_authenticate (req, &error) ||
      !srv_check_id (CPNS_ID_PNE, pne_id, "pne_id", &error))
    return srv_reply_error (req, error);
  body = srv_request_decode (req, "api.key_confirm.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  key_id = cpns_message_get_string (body, "key_id");
  cpns_message_get_bytes (body, "key_confirm", mac, sizeof mac);

  if (srv_limiter_is_locked (server->pne_limiter, pne_id, req->now, &req->retry_after))
    return srv_reply_error_code (req, CPNS_ERROR_LOCKED_OUT,
                                 "locked_out: too many failed proofs for this entity");

  entity = srv_store_get_entity (server->store, req->session->user_id, pne_id, &error);
  if (entity == NULL)
    return srv_reply_error (req, error);
  if (strcmp (entity->state, "revoked") == 0)
    return srv_reply_error_code (req, CPNS_ERROR_REVOKED, "revoked: the entity was removed");

  if (strcmp (entity->state, "pending") == 0 && g_strcmp0 (entity->key_id, key_id) == 0 &&
      entity->has_euk)
    euk = entity->euk;
  else if (g_strcmp0 (entity->pending_key_id, key_id) == 0 && entity->has_pending_euk)
    euk = entity->pending_euk;
  else
    return srv_reply_error_code (req, CPNS_ERROR_CONFLICT,
                                 "conflict: key_id is not a key waiting for confirmation");

  cpns_key_confirm (euk, pne_id, key_id, expected);
  if (!cpns_memeq_ct (expected, sizeof expected, mac, sizeof mac))
    {
      srv_limiter_fail (server->pne_limiter, pne_id, req->now);
      return srv_reply_error_code (req, CPNS_ERROR_AUTH_FAILED,
                                   "auth_failed: key_confirm did not verify");
    }

  state = srv_store_confirm_key (server->store, req->session->user_id, pne_id, key_id, req->now,
                                 &error);
  if (state == NULL)
    return srv_reply_error (req, error);
  answer = json_object_new ();
  json_object_set_string_member (answer, "state", "registered");
  g_debug ("entity %s: key %s confirmed", pne_id, key_id);
  srv_reply_json (req, SOUP_STATUS_OK, answer);
}

void
srv_handle_entity_delete (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  const char *pne_id = req->segments[3];

  if (!srv_request_authenticate (req, &error) ||
      !srv_check_id (CPNS_ID_PNE, pne_id, "pne_id", &error) ||
      !srv_store_remove_entity (req->server->store, req->session->user_id, pne_id, req->now, &error))
    return srv_reply_error (req, error);
  g_debug ("entity %s removed by gateway %s", pne_id, req->session->gateway_id);
  srv_reply_empty (req, SOUP_STATUS_NO_CONTENT);
}

void
srv_handle_rekey (SrvRequest *req)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *key_id = NULL;
  guint8 euk[CPNS_KEY_LEN];
  const char *pne_id = req->segments[3];
  const char *mode;
  gboolean ok;

  if (!srv_request_authenticate (req, &error) ||
      !srv_check_id (CPNS_ID_PNE, pne_id, "pne_id", &error))
    return srv_reply_error (req, error);
  /* An empty body means a server-assigned key. */
  if (req->body == NULL || g_bytes_get_size (req->body) == 0)
    {
      g_bytes_unref (req->body);
      req->body = g_bytes_new_static ("{}", 2);
    }
  body = srv_request_decode (req, "api.rekey.request", &error);
  if (body == NULL)
    return srv_reply_error (req, error);
  mode = cpns_message_get_string (body, "key_assignment");
  if (mode == NULL)
    mode = "server";
  if (!get_key (body, mode, &key_id, euk, &error))
    return srv_reply_error (req, error);

  ok = srv_store_begin_rekey (req->server->store, req->session->user_id, pne_id, mode, key_id,
                              euk, &error);
  if (ok)
    answer = registration_answer (pne_id, key_id, mode, euk);
  cpns_wipe (euk, sizeof euk);
  if (!ok)
    return srv_reply_error (req, error);
  g_debug ("entity %s: rekey started (%s)", pne_id, key_id);
  srv_reply_json (req, SOUP_STATUS_CREATED, answer);
}
