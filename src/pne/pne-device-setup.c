/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

/* PneDevice: connection setup, resume and staying connected (PROTOCOL.md §4.5–4.7). */

#include "config.h"

#include <string.h>

#include "pne-device-private.h"

/* ------------------------------------------------------------------ */
/* Connection setup (§4.5) and resume (§4.6) */

void
pne_device_handle_auth_challenge (PneDevice   *self,
                                  CpnsMessage *msg)
{
  g_autoptr(CpnsMessage) reply = NULL;
  guint8 server_proof[CPNS_MAC_LEN];
  guint8 expected[CPNS_MAC_LEN];
  guint8 pne_proof[CPNS_MAC_LEN];
  gboolean ok;

  if (!cpns_message_get_bytes (msg, "nonce_s", self->nonce_s, CPNS_NONCE_LEN)
      || !cpns_message_get_bytes (msg, "server_proof", server_proof, CPNS_MAC_LEN))
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: auth_challenge");
      return;
    }
  g_free (self->auth_id);
  self->auth_id = g_strdup (cpns_message_get_string (msg, "auth_id"));

  /* The proof binds the gateway ID we paired with; a challenge naming
   * another gateway cannot verify. */
  cpns_server_auth_proof (self->creds->euk, self->creds->pne_id, self->creds->gateway_id,
                          self->nonce_p, self->nonce_s, expected);
  ok = cpns_memeq_ct (expected, sizeof expected, server_proof, sizeof server_proof)
       && g_strcmp0 (cpns_message_get_string (msg, "gateway_id"), self->creds->gateway_id) == 0;
  if (!ok)
    {
      pne_device_progress (self, "server_auth_failed", NULL,
                           "The server's proof did not verify: the server is not authenticated");
      pne_device_fail_literal (self, CPNS_ERROR_SERVER_AUTH_FAILED, TRUE,
                               "The CPNS server's proof did not verify (step 4c); the device "
                               "refuses this gateway");
      return;
    }
  pne_device_progress (self, "server_authenticated", NULL,
                       "The CPNS server proved it knows our key (step 4c)");

  cpns_pne_auth_proof (self->creds->euk, self->creds->pne_id, self->creds->gateway_id,
                       self->nonce_s, self->nonce_p, pne_proof);
  reply = cpns_message_new ("auth_response");
  cpns_message_set_string (reply, "auth_id", self->auth_id);
  cpns_message_set_bytes (reply, "pne_proof", pne_proof, CPNS_MAC_LEN);
  pne_device_send_message (self, reply);
  self->state = STATE_WAIT_AUTHORIZATION;
  pne_device_arm_timer (self, self->timeouts.reply_ms, "authorization_result");
  pne_device_progress (self, "auth_response_sent", NULL, "Sent our proof (auth_response)");
}

void
pne_device_handle_authorization_pending (PneDevice   *self,
                                         CpnsMessage *msg)
{
  g_autoptr(GDateTime) expires = cpns_message_dup_time (msg, "expires_at");
  g_autofree char *expires_str = expires != NULL ? g_date_time_format_iso8601 (expires) : NULL;
  guint ms = self->timeouts.human_ms;

  if (expires != NULL)
    {
      gint64 left = g_date_time_to_unix (expires) - pne_device_now_seconds ();

      /* Never longer than a person's answer may take, plus a margin. */
      if (left >= 0 && (guint64) left * 1000 + APPROVAL_MARGIN_MS < ms)
        ms = (guint) left * 1000 + APPROVAL_MARGIN_MS;
    }
  pne_device_arm_timer (self, ms, "authorization_result");
  pne_device_progress (self, "authorization_pending",
                       pne_device_details_new ("reason", cpns_message_get_string (msg, "reason"),
                                               "expires_at", expires_str, NULL),
                       "Waiting for the gateway's user to approve this device");
}

void
pne_device_handle_authorization_result (PneDevice   *self,
                                        CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) reply = NULL;
  guint8 exporter[CPNS_EXPORTER_LEN];
  guint8 mac[CPNS_MAC_LEN];
  const char *session_id = cpns_message_get_string (msg, "session_id");

  if (g_strcmp0 (cpns_message_get_string (msg, "decision"), "allow") != 0)
    {
      pne_device_fail (self, CPNS_ERROR_DENIED, FALSE, "The connection was denied");
      return;
    }
  if (!cpns_id_is_valid (CPNS_ID_SESSION, session_id))
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'session_id'");
      return;
    }
  g_free (self->session_id);
  self->session_id = g_strdup (session_id);
  cpns_session_key (self->creds->euk, self->nonce_p, self->nonce_s, self->creds->pne_id,
                    self->creds->gateway_id, session_id, self->session_key);
  self->have_session_key = TRUE;
  pne_device_progress (self, "authorized", pne_device_details_new ("session_id", session_id, NULL),
                       "Authorized (step 4f); session %s", session_id);

  if (!cpns_tls_channel_export (self->channel, CPNS_EXPORTER_SESSION_BINDING, exporter, &error))
    {
      pne_device_fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot compute the TLS exporter: %s",
                       error->message);
      return;
    }
  cpns_pne_session_confirm (self->session_key, session_id, exporter, mac);
  cpns_wipe (exporter, sizeof exporter);
  reply = cpns_message_new ("session_key_confirm");
  cpns_message_set_bytes (reply, "mac", mac, CPNS_MAC_LEN);
  pne_device_send_message (self, reply);
  self->state = STATE_WAIT_CONFIRM_ACK;
  pne_device_arm_timer (self, self->timeouts.reply_ms, "session_key_confirm_ack");
}

void
pne_device_handle_confirm_ack (PneDevice   *self,
                               CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  guint8 exporter[CPNS_EXPORTER_LEN];
  guint8 expected[CPNS_MAC_LEN];
  guint8 mac[CPNS_MAC_LEN];
  gboolean ok;

  if (!cpns_message_get_bytes (msg, "mac", mac, CPNS_MAC_LEN))
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'mac'");
      return;
    }
  if (!cpns_tls_channel_export (self->channel, CPNS_EXPORTER_SESSION_BINDING, exporter, &error))
    {
      pne_device_fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot compute the TLS exporter: %s",
                       error->message);
      return;
    }
  cpns_gw_session_confirm (self->session_key, self->session_id, exporter, expected);
  cpns_wipe (exporter, sizeof exporter);
  ok = cpns_memeq_ct (expected, sizeof expected, mac, sizeof mac);
  if (!ok)
    {
      pne_device_progress (self, "session_confirm_failed", NULL,
                           "The gateway's session key confirmation did not verify");
      pne_device_fail_literal (self, CPNS_ERROR_AUTH_FAILED, TRUE,
                               "The gateway's session key confirmation did not verify (step 4g)");
      return;
    }
  self->state = STATE_WAIT_SETUP_COMPLETE;
  pne_device_arm_timer (self, self->timeouts.reply_ms, "connection_setup_complete");
  pne_device_progress (self, "session_key_confirmed", NULL,
                       "The gateway and this device share the session key (step 4g)");
}

gboolean
pne_device_send_ping (gpointer user_data)
{
  PneDevice *self = user_data;
  g_autoptr(CpnsMessage) ping = NULL;

  if ((g_get_monotonic_time () - self->last_heard) / 1000 >= self->timeouts.silence_ms)
    {
      self->ping_id = 0;
      pne_device_fail (self, CPNS_ERROR_TIMEOUT, FALSE,
                       "The gateway has been silent for %u s; the connection is dropped",
                       self->timeouts.silence_ms / 1000);
      return G_SOURCE_REMOVE;
    }
  ping = cpns_message_new ("ping");
  pne_device_send_message (self, ping);
  return G_SOURCE_CONTINUE;
}

static void
report_connected (PneDevice *self)
{
  g_autoptr(JsonObject) details = g_steal_pointer (&self->connected_details);

  self->resumed = self->resuming;
  pne_device_progress (self, "connected", json_object_ref (details),
                       "Connected (step 5b): session %s%s", self->creds->session_id,
                       self->resuming ? " (resumed)" : "");
  pne_device_complete_task (self, NULL);
}

static void
on_session_saved (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PneSaveContext *context = user_data;
  PneDevice *self = context->self;
  g_autoptr(GError) error = NULL;
  gboolean saved = pne_credentials_save_finish (result, &error);

  if (!pne_save_context_is_current (context, STATE_SAVING_SESSION))
    {
      pne_save_context_free (context);
      return;
    }
  pne_save_context_free (context);
  /* Not fatal: the device is connected; it only cannot resume later. */
  if (!saved)
    g_message ("%s: cannot store the session for resuming: %s",
               pne_device_get_name (self), error->message);
  report_connected (self);
}

void
pne_device_handle_setup_complete (PneDevice   *self,
                                  CpnsMessage *msg)
{
  g_autoptr(GDateTime) expires = cpns_message_dup_time (msg, "expires_at");
  g_autofree char *expires_str = NULL;
  g_auto(GStrv) granted = cpns_message_dup_strv (msg, "granted_services");
  g_autofree char *granted_str = NULL;
  const char *session_id = cpns_message_get_string (msg, "session_id");
  gint64 old_expires = self->creds->session_expires;
  gboolean changed = TRUE;

  if (!pne_device_check_id (self, msg, "pn_id", self->creds->pn_id))
    return;
  if (self->resuming)
    {
      if (g_strcmp0 (session_id, self->creds->session_id) != 0)
        {
          pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE,
                           "bad_request: field 'session_id' is not the resumed session");
          return;
        }
    }
  else
    {
      /* These values are authoritative (§4.5 item 8). The key is bound to
       * the session ID of authorization_result. */
      if (g_strcmp0 (session_id, self->session_id) != 0)
        {
          pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE,
                           "bad_request: field 'session_id' differs from authorization_result");
          return;
        }
      pne_credentials_clear_session (self->creds);
      self->creds->session_id = g_strdup (session_id);
      memcpy (self->creds->session_key, self->session_key, CPNS_KEY_LEN);
    }
  if (expires != NULL)
    self->creds->session_expires = g_date_time_to_unix (expires);
  else
    self->creds->session_expires = pne_device_now_seconds () + 24 * 3600;
  pne_device_clear_session_secret (self);
  pne_device_stop_timer (self);

  if (expires != NULL)
    expires_str = g_date_time_format_iso8601 (expires);
  granted_str = granted != NULL ? g_strjoinv (",", granted) : g_strdup ("");
  g_clear_pointer (&self->connected_details, json_object_unref);
  self->connected_details = pne_device_details_new ("session_id", session_id,
                                                    "expires_at", expires_str,
                                                    "granted_services", granted_str, NULL);
  json_object_set_boolean_member (self->connected_details, "resumed", self->resuming);

  /* A resume that changes nothing needs no write. */
  if (self->resuming && old_expires == self->creds->session_expires)
    changed = FALSE;
  if (!changed)
    {
      report_connected (self);
      return;
    }
  self->state = STATE_SAVING_SESSION;
  pne_credentials_save_async (self->creds, self->state_dir, PNE_CREDENTIALS_SAVE_DEFAULT, NULL,
                              on_session_saved, pne_save_context_new (self));
}

void
pne_device_discard_credentials (PneDevice  *self,
                                const char *why)
{
  g_autoptr(GError) error = NULL;

  if (!pne_credentials_delete (self->state_dir, &error))
    g_warning ("%s", error->message);
  g_clear_pointer (&self->creds, pne_credentials_free);
  pne_device_progress (self, "credentials_discarded", NULL,
                       "The credentials were discarded (%s); pair again", why);
}
