/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

/* PneDevice: pairing, ID and key assignment (PROTOCOL.md §4.3–4.4). */

#include "config.h"

#include <string.h>

#include "pne-device-private.h"

/* ------------------------------------------------------------------ */
/* Pairing (§4.3–4.4) */

gboolean
pne_device_check_id (PneDevice   *self,
                     CpnsMessage *msg,
                     const char  *field,
                     const char  *expected)
{
  if (g_strcmp0 (cpns_message_get_string (msg, field), expected) != 0)
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE,
                       "bad_request: field '%s' of %s does not match this pairing",
                       field, cpns_message_get_kind (msg));
      return FALSE;
    }
  return TRUE;
}

void
pne_device_handle_pairing_commit (PneDevice   *self,
                                  CpnsMessage *msg)
{
  g_autoptr(CpnsMessage) reply = NULL;

  if (!cpns_message_get_bytes (msg, "commitment", self->commitment, sizeof self->commitment))
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'commitment'");
      return;
    }
  /* Only now, after the commitment, draw and reveal n_p. */
  cpns_random_nonce (self->n_p, CPNS_NONCE_LEN);
  reply = cpns_message_new ("pairing_nonce");
  cpns_message_set_bytes (reply, "n_p", self->n_p, CPNS_NONCE_LEN);
  pne_device_send_message (self, reply);
  self->state = STATE_WAIT_REVEAL;
  pne_device_arm_timer (self, self->timeouts.reply_ms, "pairing_reveal");
  pne_device_progress (self, "pairing_commit", NULL,
                       "Received the gateway's commitment; sent our nonce");
}

void
pne_device_handle_pairing_reveal (PneDevice   *self,
                                  CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  guint8 n_g[CPNS_NONCE_LEN];
  guint8 exporter[CPNS_EXPORTER_LEN];
  guint8 expected[32];
  g_autofree char *code = NULL;
  gboolean ok;

  if (!cpns_message_get_bytes (msg, "n_g", n_g, CPNS_NONCE_LEN))
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'n_g'");
      return;
    }
  if (!cpns_tls_channel_export (self->channel, CPNS_EXPORTER_PAIRING, exporter, &error))
    {
      pne_device_fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot compute the TLS exporter: %s",
                       error->message);
      return;
    }
  cpns_pairing_commitment (exporter, n_g, expected);
  ok = cpns_memeq_ct (expected, sizeof expected, self->commitment, sizeof self->commitment);
  if (!ok)
    {
      cpns_wipe (exporter, sizeof exporter);
      pne_device_progress (self, "commitment_mismatch", NULL,
                           "The gateway's reveal does not match its commitment");
      pne_device_fail_literal (self, CPNS_ERROR_AUTH_FAILED, TRUE,
                               "The gateway's pairing nonce does not match its commitment "
                               "(a man in the middle?); pairing aborted");
      return;
    }
  code = cpns_pairing_code_format (cpns_pairing_code (exporter, n_g, self->n_p), TRUE);
  cpns_wipe (exporter, sizeof exporter);

  self->state = STATE_WAIT_PAIRING_RESPONSE;
  pne_device_arm_timer (self, self->timeouts.human_ms, "pairing_response");
  if (self->confirm_locally)
    self->local = LOCAL_WAITING;
  pne_device_progress (self, "pairing_code", pne_device_details_new ("code", code, NULL),
                       "Pairing code: %s — confirm it on the gateway", code);
  pne_device_emit_pairing_code (self, code);
}

static void
request_pne_id (PneDevice *self)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("pne_id_request");

  pne_device_send_message (self, msg);
  self->state = STATE_WAIT_PNE_ID;
  pne_device_arm_timer (self, self->timeouts.reply_ms, "pne_id_response");
  pne_device_progress (self, "pne_id_requested", NULL, "Sent pne_id_request (step 3b)");
}

void
pne_device_handle_pairing_response (PneDevice   *self,
                                    CpnsMessage *msg)
{
  const char *sha = cpns_message_get_string (msg, "cert_sha256");
  const char *pn_id = cpns_message_get_string (msg, "pn_id");
  gboolean accepted_creds = cpns_message_get_bool (msg, "credentials_accepted");

  if (g_strcmp0 (cpns_message_get_string (msg, "result"), "accepted") != 0)
    {
      pne_device_fail (self, CPNS_ERROR_REJECTED, FALSE, "The gateway did not accept the pairing");
      return;
    }
  if (self->cert_seen == NULL || sha == NULL || g_ascii_strcasecmp (sha, self->cert_seen) != 0)
    {
      pne_device_progress (self, "certificate_mismatch", NULL,
                           "The certificate named in pairing_response is not the one of "
                           "this connection");
      pne_device_fail_literal (self, CPNS_ERROR_AUTH_FAILED, TRUE,
                               "pairing_response names another certificate than the one on this "
                               "connection; pairing aborted");
      return;
    }

  self->pending = pne_credentials_new ();
  self->pending->pn_id = g_strdup (pn_id);
  self->pending->gateway_id = g_strdup (cpns_message_get_string (msg, "gateway_id"));
  self->pending->gateway_name = g_strdup (cpns_message_get_string (msg, "name"));
  self->pending->gateway_sha256 = g_ascii_strdown (self->cert_seen, -1);
  self->pending->gateway_address = g_strdup (self->address);
  self->pending->name = g_strdup (json_object_get_string_member (self->entity, "name"));
  self->pending->entity_type = g_strdup (json_object_get_string_member (self->entity,
                                                                        "entity_type"));
  if (json_object_has_member (self->entity, "services"))
    {
      JsonArray *services = json_object_get_array_member (self->entity, "services");
      GPtrArray *list = g_ptr_array_new ();

      for (guint i = 0; services != NULL && i < json_array_get_length (services); i++)
        {
          JsonObject *service = json_array_get_object_element (services, i);
          const char *name = json_object_get_string_member (service, "name");
          const char *protocol = json_object_get_string_member (service, "protocol");

          if (json_object_has_member (service, "port"))
            g_ptr_array_add (list, g_strdup_printf ("%s:%s:%" G_GINT64_FORMAT, name, protocol,
                                                    json_object_get_int_member (service,
                                                                                "port")));
          else
            g_ptr_array_add (list, g_strdup_printf ("%s:%s", name, protocol));
        }
      g_ptr_array_add (list, NULL);
      self->pending->services = (char **) g_ptr_array_free (list, FALSE);
    }

  pne_device_progress (self, "pairing_accepted",
                       pne_device_details_new ("gateway_id", self->pending->gateway_id,
                                               "gateway_name", self->pending->gateway_name,
                                               "pn_id", pn_id,
                                               "cert_sha256", self->pending->gateway_sha256, NULL),
                       "The gateway “%s” accepted the pairing; its certificate is pinned",
                       self->pending->gateway_name != NULL ? self->pending->gateway_name : "");

  if (self->has_credentials && accepted_creds
      && g_strcmp0 (pn_id, self->existing->pn_id) == 0)
    {
      /* 3a: keep the ID and key; wait for pairing_complete. */
      self->pending->pne_id = g_strdup (self->existing->pne_id);
      self->pending->key_id = g_strdup (self->existing->key_id);
      memcpy (self->pending->euk, self->existing->euk, CPNS_KEY_LEN);
      self->state = STATE_WAIT_PAIRING_COMPLETE;
      pne_device_arm_timer (self, self->timeouts.key_wait_ms, "pairing_complete");
      pne_device_progress (self, "credentials_accepted", NULL,
                           "The gateway accepted our existing credentials: no new ID or key "
                           "(step 3a)");
      return;
    }

  if (self->existing != NULL && g_strcmp0 (self->existing->pn_id, pn_id) == 0)
    {
      g_autoptr(GError) error = NULL;

      /* §4.4 item 3: discard credentials for this PN that were not accepted. */
      if (!pne_credentials_delete (self->state_dir, &error))
        g_warning ("%s", error->message);
      g_clear_pointer (&self->existing, pne_credentials_free);
      pne_device_progress (self, "credentials_discarded", NULL,
                           "The gateway did not accept our old credentials; they are discarded");
    }
  request_pne_id (self);
}

void
pne_device_handle_pne_id_response (PneDevice   *self,
                                   CpnsMessage *msg)
{
  const char *pne_id = cpns_message_get_string (msg, "pne_id");

  if (!pne_device_check_id (self, msg, "pn_id", self->pending->pn_id))
    return;
  self->pending->pne_id = g_strdup (pne_id);
  self->state = STATE_WAIT_KEY_ASSIGNMENT;
  pne_device_arm_timer (self, self->timeouts.key_wait_ms, "key_assignment_request");
  pne_device_progress (self, "pne_id_assigned", pne_device_details_new ("pne_id", pne_id, NULL),
                       "Assigned PNE ID %s (step 3d)", pne_id);
}

static void
on_pending_saved (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PneSaveContext *context = user_data;
  PneDevice *self = context->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) reply = NULL;
  gboolean saved = pne_credentials_save_finish (result, &error);
  guint8 confirm[CPNS_MAC_LEN];

  if (!pne_save_context_is_current (context, STATE_SAVING_KEY))
    {
      /* The pairing ended while the key was being written: leave no
       * credentials behind (§4.4 fail-safe). */
      if (saved && (self->op != OP_PAIR || self->op_generation != context->generation))
        pne_credentials_discard_pending (self->state_dir);
      pne_save_context_free (context);
      return;
    }
  pne_save_context_free (context);
  if (!saved)
    {
      pne_device_fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot store the credentials: %s",
                       error->message);
      return;
    }

  cpns_key_confirm (self->pending->euk, self->pending->pne_id, self->pending->key_id, confirm);
  reply = cpns_message_new ("key_assignment_response");
  cpns_message_set_string (reply, "key_id", self->pending->key_id);
  cpns_message_set_bytes (reply, "key_confirm", confirm, CPNS_MAC_LEN);
  pne_device_send_message (self, reply);
  self->state = STATE_WAIT_PAIRING_COMPLETE;
  pne_device_arm_timer (self, self->timeouts.key_wait_ms, "pairing_complete");
  pne_device_progress (self, "key_confirmed", NULL,
                       "Stored the key; sent key_assignment_response with key_confirm");
}

static void
on_committed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  PneSaveContext *context = user_data;
  PneDevice *self = context->self;
  g_autoptr(GError) error = NULL;
  gboolean saved;

  if (g_async_result_is_tagged (result, pne_credentials_commit_pending_async))
    saved = pne_credentials_commit_pending_finish (result, &error);
  else
    saved = pne_credentials_save_finish (result, &error);

  if (!pne_save_context_is_current (context, STATE_COMMITTING))
    {
      pne_save_context_free (context);
      return;
    }
  pne_save_context_free (context);
  if (!saved)
    {
      pne_device_fail (self, CPNS_ERROR_INTERNAL, FALSE, "Cannot store the credentials: %s",
                       error->message);
      return;
    }
  self->pending_written = FALSE;
  g_clear_pointer (&self->creds, pne_credentials_free);
  self->creds = g_steal_pointer (&self->pending);
  pne_device_progress (self, "paired",
                       pne_device_details_new ("pne_id", self->creds->pne_id, "pn_id",
                                               self->creds->pn_id,
                                               "gateway_id", self->creds->gateway_id, NULL),
                       "Paired: this device is %s in %s", self->creds->pne_id, self->creds->pn_id);
  pne_device_finish (self, NULL, NULL);
}

void
pne_device_handle_key_assignment (PneDevice   *self,
                                  CpnsMessage *msg)
{
  const char *key_id = cpns_message_get_string (msg, "key_id");

  if (!pne_device_check_id (self, msg, "pne_id", self->pending->pne_id))
    return;
  if (!cpns_message_get_bytes (msg, "euk", self->pending->euk, CPNS_KEY_LEN))
    {
      pne_device_fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'euk'");
      return;
    }
  g_free (self->pending->key_id);
  self->pending->key_id = g_strdup (key_id);

  /* §4.4 item 6: durably stored before the confirmation; only valid once
   * pairing_complete arrives. */
  pne_device_progress (self, "key_assigned",
                       pne_device_details_new ("key_id", key_id, "mode",
                                               cpns_message_get_string (msg, "mode"), NULL),
                       "Received key %s (%s-initiated, step 3e); storing it",
                       key_id, cpns_message_get_string (msg, "mode"));
  pne_device_stop_timer (self);
  self->state = STATE_SAVING_KEY;
  self->pending_written = TRUE;
  pne_credentials_save_async (self->pending, self->state_dir, PNE_CREDENTIALS_SAVE_PENDING,
                              NULL, on_pending_saved, pne_save_context_new (self));
}

void
pne_device_handle_pairing_complete (PneDevice   *self,
                                    CpnsMessage *msg)
{
  if (!pne_device_check_id (self, msg, "pne_id", self->pending->pne_id)
      || !pne_device_check_id (self, msg, "pn_id", self->pending->pn_id)
      || !pne_device_check_id (self, msg, "gateway_id", self->pending->gateway_id))
    return;

  pne_device_stop_timer (self);
  self->state = STATE_COMMITTING;
  if (self->pending_written)
    {
      pne_credentials_commit_pending_async (self->state_dir, NULL, on_committed,
                                            pne_save_context_new (self));
    }
  else
    {
      /* 3a: the same key, a possibly new gateway address and pin. */
      pne_credentials_clear_session (self->pending);
      pne_credentials_save_async (self->pending, self->state_dir, PNE_CREDENTIALS_SAVE_DEFAULT,
                                  NULL, on_committed, pne_save_context_new (self));
    }
}

static void
process_held (PneDevice *self)
{
  CpnsMessage *msg;

  while (self->state != STATE_CLOSING && (msg = g_queue_pop_head (&self->held)) != NULL)
    {
      pne_device_handle_message (self, msg);
      cpns_message_unref (msg);
    }
  pne_device_clear_held (self);
}

void
pne_device_answer_code (PneDevice *self,
                        gboolean   accept)
{
  g_return_if_fail (PNE_IS_DEVICE (self));

  if (self->local != LOCAL_WAITING || self->state == STATE_CLOSING)
    return;
  if (!accept)
    {
      self->local = LOCAL_NOT_ASKED;
      pne_device_clear_held (self);
      pne_device_progress (self, "pairing_rejected", NULL, "The code was rejected on this device");
      pne_device_fail_literal (self, CPNS_ERROR_REJECTED, TRUE,
                               "The pairing code was rejected on the device");
      return;
    }
  self->local = LOCAL_ACCEPTED;
  pne_device_progress (self, "code_confirmed", NULL, "The code was confirmed on this device");
  process_held (self);
}
