/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <string.h>

#include "pne-device-private.h"

static const char *state_names[] = {
  "idle", "discovering", "connecting",
  "wait_commit", "wait_reveal", "wait_pairing_response", "wait_pne_id",
  "wait_key_assignment", "wait_pairing_complete", "saving_key", "committing",
  "wait_auth_challenge", "wait_authorization", "wait_confirm_ack", "wait_setup_complete",
  "saving_session",
  "wait_resume_complete", "connected", "closing",
};

enum
{
  PROGRESS,
  PAIRING_CODE,
  DISCONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PneDevice, pne_device, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ */
/* Helpers */

void
pne_device_progress (PneDevice  *self,
                     const char *step,
                     JsonObject *details,
                     const char *format,
                     ...)
{
  g_autofree char *message = NULL;
  g_autoptr(JsonObject) owned = details;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("%s: %s: %s", pne_device_get_name (self), step, message);
  g_signal_emit (self, signals[PROGRESS], 0, step, message, owned);
}

JsonObject *
pne_device_details_new (const char *first_key,
                        ...)
{
  JsonObject *object = json_object_new ();
  const char *key = first_key;
  va_list args;

  va_start (args, first_key);
  while (key != NULL)
    {
      const char *value = va_arg (args, const char *);

      if (value != NULL)
        json_object_set_string_member (object, key, value);
      key = va_arg (args, const char *);
    }
  va_end (args);
  return object;
}

gint64
pne_device_now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

void
pne_device_clear_session_secret (PneDevice *self)
{
  cpns_wipe (self->session_key, CPNS_KEY_LEN);
  self->have_session_key = FALSE;
}

void
pne_device_stop_timer (PneDevice *self)
{
  g_clear_handle_id (&self->timer_id, g_source_remove);
  self->timer_what = NULL;
}

static void
stop_discovery (PneDevice *self)
{
  g_clear_handle_id (&self->discovery_timer_id, g_source_remove);
  if (self->discovery != NULL)
    {
      g_clear_signal_handler (&self->discovery_id, self->discovery);
      pne_discovery_stop (self->discovery);
      g_clear_object (&self->discovery);
    }
}

void
pne_device_clear_held (PneDevice *self)
{
  CpnsMessage *msg;

  while ((msg = g_queue_pop_head (&self->held)) != NULL)
    cpns_message_unref (msg);
}

/* Forget everything of the operation except the configuration. */
static void
reset_operation (PneDevice *self)
{
  pne_device_stop_timer (self);
  stop_discovery (self);
  g_clear_handle_id (&self->ping_id, g_source_remove);
  pne_device_clear_held (self);
  if (self->caller_cancellable != NULL)
    {
      g_cancellable_disconnect (self->caller_cancellable, self->caller_cancel_id);
      self->caller_cancel_id = 0;
      g_clear_object (&self->caller_cancellable);
    }
  if (self->cancellable != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
    }
  g_clear_pointer (&self->existing, pne_credentials_free);
  g_clear_pointer (&self->pending, pne_credentials_free);
  g_clear_pointer (&self->cert_seen, g_free);
  g_clear_pointer (&self->auth_id, g_free);
  g_clear_pointer (&self->session_id, g_free);
  g_clear_pointer (&self->address, g_free);
  pne_device_clear_session_secret (self);
  cpns_wipe (self->commitment, sizeof self->commitment);
  cpns_wipe (self->n_p, sizeof self->n_p);
  self->local = LOCAL_NOT_ASKED;
  self->resuming = FALSE;
  self->has_credentials = FALSE;
  self->pending_written = FALSE;
}

void
pne_device_complete_task (PneDevice *self,
                          GError    *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->task);
  Operation op = self->op;

  self->op = OP_NONE;
  if (op == OP_PAIR && self->pending_written)
    pne_credentials_discard_pending (self->state_dir);
  reset_operation (self);
  if (error == NULL && op == OP_CONNECT)
    {
      /* Staying connected: heartbeats (§4.1). Set before the callback runs,
       * which may disconnect at once. */
      self->connected = TRUE;
      self->state = STATE_CONNECTED;
      self->last_heard = g_get_monotonic_time ();
      self->ping_id = g_timeout_add (self->timeouts.ping_ms, pne_device_send_ping, self);
    }
  else
    {
      self->state = STATE_IDLE;
    }
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
finish_deferred (PneDevice *self)
{
  if (self->deferred)
    {
      self->deferred = FALSE;
      pne_device_complete_task (self, g_steal_pointer (&self->deferred_error));
    }
  if (self->disconnect_pending)
    {
      g_autoptr(GError) error = g_steal_pointer (&self->disconnect_error);

      self->disconnect_pending = FALSE;
      self->state = STATE_IDLE;
      g_signal_emit (self, signals[DISCONNECTED], 0, error);
    }
}

static void
closing_done (PneDevice *self)
{
  g_clear_handle_id (&self->closing_timer_id, g_source_remove);
  if (self->closing_channel != NULL)
    {
      g_clear_signal_handler (&self->closing_id, self->closing_channel);
      g_clear_object (&self->closing_channel);
    }
  finish_deferred (self);
}

static void
on_closing_channel_closed (CpnsTlsChannel *channel,
                           const GError   *error,
                           gpointer        user_data)
{
  closing_done (PNE_DEVICE (user_data));
}

static gboolean
closing_timeout (gpointer user_data)
{
  PneDevice *self = user_data;

  self->closing_timer_id = 0;
  g_debug ("%s: the channel did not close in time", pne_device_get_name (self));
  closing_done (self);
  return G_SOURCE_REMOVE;
}

/* Retire the channel: send @send (an error frame) or close_notify, and
 * call finish_deferred() when it has closed. */
static void
drop_channel (PneDevice    *self,
              const GError *send)
{
  g_autoptr(CpnsTlsChannel) channel = g_steal_pointer (&self->channel);

  if (channel == NULL)
    {
      finish_deferred (self);
      return;
    }
  g_clear_signal_handler (&self->message_id, channel);
  g_clear_signal_handler (&self->closed_id, channel);

  /* A channel still in its handshake never emits "closed" (the handshake
   * just fails): nothing to flush, nothing to wait for. */
  if (!self->channel_open || cpns_tls_channel_is_closed (channel)
      || self->closing_channel != NULL)
    {
      if (!cpns_tls_channel_is_closed (channel))
        cpns_tls_channel_close (channel);
      finish_deferred (self);
      return;
    }

  self->closing_channel = g_object_ref (channel);
  self->closing_id = g_signal_connect (channel, "closed",
                                       G_CALLBACK (on_closing_channel_closed), self);
  self->closing_timer_id = g_timeout_add (CLOSE_GRACE_MS, closing_timeout, self);
  if (send != NULL)
    cpns_tls_channel_send_error_and_close (channel, send);
  else
    cpns_tls_channel_close (channel);
}

/* End the operation (or the live connection) with @error (NULL = success).
 * @send: an error frame to send first, or NULL. Takes @error. */
void
pne_device_finish (PneDevice    *self,
                   GError       *error,
                   const GError *send)
{
  if (self->state == STATE_CLOSING)
    {
      g_clear_error (&error);
      return;
    }
  pne_device_stop_timer (self);
  g_clear_handle_id (&self->ping_id, g_source_remove);
  self->state = STATE_CLOSING;

  if (error != NULL)
    g_debug ("%s: ending: %s", pne_device_get_name (self), error->message);

  if (self->task != NULL)
    {
      self->deferred = TRUE;
      self->deferred_error = error;
    }
  else
    {
      /* A live connection ended. */
      self->connected = FALSE;
      self->disconnect_pending = TRUE;
      self->disconnect_error = error;
    }
  drop_channel (self, send);
}

void
pne_device_fail_literal (PneDevice    *self,
                         CpnsErrorCode code,
                         gboolean      send,
                         const char   *message)
{
  GError *error = g_error_new_literal (CPNS_ERROR, code, message);

  pne_device_finish (self, error, send ? error : NULL);
}

void
pne_device_fail (PneDevice    *self,
                 CpnsErrorCode code,
                 gboolean      send,
                 const char   *format,
                 ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  pne_device_fail_literal (self, code, send, message);
}

static gboolean
on_timer (gpointer user_data)
{
  PneDevice *self = user_data;
  const char *what = self->timer_what;

  self->timer_id = 0;
  self->timer_what = NULL;
  pne_device_fail (self, CPNS_ERROR_TIMEOUT, self->channel != NULL,
                   "No %s from the gateway in time", what != NULL ? what : "answer");
  return G_SOURCE_REMOVE;
}

void
pne_device_arm_timer (PneDevice  *self,
                      guint       ms,
                      const char *what)
{
  pne_device_stop_timer (self);
  self->timer_what = what;
  self->timer_id = g_timeout_add (ms, on_timer, self);
}

void
pne_device_send_message (PneDevice   *self,
                         CpnsMessage *msg)
{
  if (self->channel != NULL)
    cpns_tls_channel_send (self->channel, msg);
}

/* ------------------------------------------------------------------ */
/* GObject */

static void
pne_device_dispose (GObject *object)
{
  PneDevice *self = PNE_DEVICE (object);

  if (self->channel != NULL)
    {
      g_clear_signal_handler (&self->message_id, self->channel);
      g_clear_signal_handler (&self->closed_id, self->channel);
      cpns_tls_channel_close (self->channel);
      g_clear_object (&self->channel);
    }
  g_clear_handle_id (&self->closing_timer_id, g_source_remove);
  if (self->closing_channel != NULL)
    {
      g_clear_signal_handler (&self->closing_id, self->closing_channel);
      g_clear_object (&self->closing_channel);
    }
  reset_operation (self);
  g_clear_object (&self->task);
  g_clear_error (&self->deferred_error);
  g_clear_error (&self->disconnect_error);
  G_OBJECT_CLASS (pne_device_parent_class)->dispose (object);
}

static void
pne_device_finalize (GObject *object)
{
  PneDevice *self = PNE_DEVICE (object);

  g_free (self->state_dir);
  g_clear_pointer (&self->entity, json_object_unref);
  g_free (self->gateway_address);
  g_free (self->loopback_source);
  g_ptr_array_unref (self->discovery_targets);
  g_clear_pointer (&self->creds, pne_credentials_free);
  g_clear_pointer (&self->connected_details, json_object_unref);
  G_OBJECT_CLASS (pne_device_parent_class)->finalize (object);
}

static void
pne_device_class_init (PneDeviceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pne_device_dispose;
  object_class->finalize = pne_device_finalize;

  signals[PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING, G_TYPE_STRING, JSON_TYPE_OBJECT);
  signals[PAIRING_CODE] =
    g_signal_new ("pairing-code", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
pne_device_init (PneDevice *self)
{
  self->discovery_targets = g_ptr_array_new_with_free_func (g_free);
  self->discovery_interval_ms = 2000;
  self->timeouts.reply_ms = 30000;
  self->timeouts.key_wait_ms = 60000;
  self->timeouts.human_ms = 120000 + APPROVAL_MARGIN_MS;
  self->timeouts.connect_ms = 10000;
  self->timeouts.ping_ms = 30000;
  self->timeouts.silence_ms = 90000;
  self->timeouts.discovery_ms = 120000;
  g_queue_init (&self->held);
}

PneDevice *
pne_device_new (const char *state_dir)
{
  PneDevice *self;

  g_return_val_if_fail (state_dir != NULL, NULL);

  self = g_object_new (PNE_TYPE_DEVICE, NULL);
  self->state_dir = g_strdup (state_dir);
  return self;
}

const char *
pne_device_get_state_dir (PneDevice *self)
{
  g_return_val_if_fail (PNE_IS_DEVICE (self), NULL);
  return self->state_dir;
}

void
pne_device_set_entity (PneDevice  *self,
                       JsonObject *entity)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) copy = NULL;

  g_return_if_fail (PNE_IS_DEVICE (self));
  g_return_if_fail (entity != NULL);

  node = json_node_init_object (json_node_alloc (), entity);
  copy = json_node_copy (node);
  g_clear_pointer (&self->entity, json_object_unref);
  self->entity = json_node_dup_object (copy);
}

const char *
pne_device_get_name (PneDevice *self)
{
  g_return_val_if_fail (PNE_IS_DEVICE (self), NULL);

  if (self->entity != NULL && json_object_has_member (self->entity, "name"))
    return json_object_get_string_member (self->entity, "name");
  if (self->creds != NULL)
    return self->creds->name;
  return "PNE";
}

void
pne_device_set_gateway_address (PneDevice  *self,
                                const char *host_port)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  g_free (self->gateway_address);
  self->gateway_address = g_strdup (host_port);
}

void
pne_device_add_discovery_target (PneDevice  *self,
                                 const char *host_port)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  g_return_if_fail (host_port != NULL);
  g_ptr_array_add (self->discovery_targets, g_strdup (host_port));
}

void
pne_device_set_multicast (PneDevice *self,
                          gboolean   multicast)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  self->multicast = multicast;
}

void
pne_device_set_loopback_source (PneDevice  *self,
                                const char *address)
{
  g_autoptr(GInetAddress) inet = NULL;

  g_return_if_fail (PNE_IS_DEVICE (self));

  g_clear_pointer (&self->loopback_source, g_free);
  if (address == NULL)
    return;
  inet = g_inet_address_new_from_string (address);
  g_return_if_fail (inet != NULL && g_inet_address_get_is_loopback (inet));
  self->loopback_source = g_strdup (address);
}

void
pne_device_set_resume (PneDevice *self,
                       gboolean   resume)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  self->no_resume = !resume;
}

void
pne_device_set_discovery_interval (PneDevice *self,
                                   guint      interval_ms)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  self->discovery_interval_ms = interval_ms;
}

void
pne_device_get_timeouts (PneDevice   *self,
                         PneTimeouts *timeouts)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  *timeouts = self->timeouts;
}

void
pne_device_set_timeouts (PneDevice         *self,
                         const PneTimeouts *timeouts)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  self->timeouts = *timeouts;
}

void
pne_device_set_confirm_locally (PneDevice *self,
                                gboolean   confirm)
{
  g_return_if_fail (PNE_IS_DEVICE (self));
  self->confirm_locally = confirm;
}

gboolean
pne_device_is_connected (PneDevice *self)
{
  g_return_val_if_fail (PNE_IS_DEVICE (self), FALSE);
  return self->connected && self->state == STATE_CONNECTED;
}

gboolean
pne_device_get_resumed (PneDevice *self)
{
  g_return_val_if_fail (PNE_IS_DEVICE (self), FALSE);
  return self->resumed;
}

const PneCredentials *
pne_device_get_credentials (PneDevice *self)
{
  g_return_val_if_fail (PNE_IS_DEVICE (self), NULL);
  return self->creds;
}

void
pne_device_emit_pairing_code (PneDevice  *self,
                              const char *code)
{
  g_signal_emit (self, signals[PAIRING_CODE], 0, code);
}

PneSaveContext *
pne_save_context_new (PneDevice *self)
{
  PneSaveContext *context = g_new0 (PneSaveContext, 1);

  context->self = g_object_ref (self);
  context->generation = self->op_generation;
  return context;
}

void
pne_save_context_free (PneSaveContext *context)
{
  g_object_unref (context->self);
  g_free (context);
}

gboolean
pne_save_context_is_current (PneSaveContext *context,
                             State           state)
{
  PneDevice *self = context->self;

  return self->op != OP_NONE && self->op_generation == context->generation
         && self->state == state;
}

/* ------------------------------------------------------------------ */
/* Channel plumbing */

static void
on_message (CpnsTlsChannel *channel,
            CpnsMessage    *msg,
            gpointer        user_data)
{
  PneDevice *self = user_data;

  self->last_heard = g_get_monotonic_time ();
  /* Hold frames while a person on the device decides about the code. */
  if (self->local == LOCAL_WAITING
      && g_strcmp0 (cpns_message_get_kind (msg), "error") != 0
      && g_strcmp0 (cpns_message_get_kind (msg), "ping") != 0)
    {
      g_queue_push_tail (&self->held, cpns_message_ref (msg));
      return;
    }
  pne_device_handle_message (self, msg);
}

static void
on_closed (CpnsTlsChannel *channel,
           const GError   *error,
           gpointer        user_data)
{
  PneDevice *self = user_data;
  g_autoptr(GError) local = NULL;

  if (self->state == STATE_CLOSING)
    return;
  /* pairing_complete arrived and the gateway closed, as it should (§4.4
   * item 7): the commit under way finishes the pairing. */
  if (self->state == STATE_COMMITTING)
    return;
  if (error != NULL)
    {
      local = cpns_error_to_cpns (error);
    }
  else if (self->state == STATE_WAIT_PAIRING_COMPLETE)
    {
      local = g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED,
                           "The gateway closed the connection before pairing_complete; "
                           "the key received is discarded");
    }
  else if (self->state == STATE_CONNECTED)
    {
      /* The gateway closed without bye: an end, but not a clean one. */
      local = g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED,
                           "The gateway closed the connection");
    }
  else
    {
      local = g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED,
                           "The gateway closed the connection while the device was in state %s",
                           state_names[self->state]);
    }
  pne_device_finish (self, g_steal_pointer (&local), NULL);
}

static void
on_handshake_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(PneDevice) self = user_data;
  CpnsTlsChannel *channel = CPNS_TLS_CHANNEL (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = NULL;

  if (!cpns_tls_channel_handshake_finish (channel, result, &error))
    {
      if (self->channel != channel || self->state == STATE_CLOSING)
        return;
      pne_device_stop_timer (self);
      g_clear_signal_handler (&self->message_id, channel);
      g_clear_signal_handler (&self->closed_id, channel);
      g_clear_object (&self->channel);

      if (self->resuming && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* §4.6: an unknown or expired identity fails the handshake; run a
           * full connection setup instead. */
          pne_device_progress (self, "resume_failed",
                               pne_device_details_new ("reason", error->message, NULL),
                               "Resuming the session failed (%s); running a full connection setup",
                               error->message);
          self->resuming = FALSE;
          pne_credentials_clear_session (self->creds);
          pne_device_start_connection (self);
          return;
        }
      if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH))
        {
          pne_device_progress (self, "pin_mismatch", NULL,
                               "The gateway's certificate does not match the pinned one; "
                               "nothing was sent");
          pne_device_finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH,
                                                "The gateway at %s presented a certificate that "
                                                "does not match the one pinned at pairing (it may "
                                                "be an impostor); nothing was sent. If the "
                                                "gateway was reinstalled, run “cpns-pne "
                                                "forget” and pair again.",
                                                self->address), NULL);
          return;
        }
      pne_device_finish (self, cpns_error_to_cpns (error), NULL);
      return;
    }

  if (self->channel != channel || self->state == STATE_CLOSING)
    return;
  self->channel_open = TRUE;
  pne_device_stop_timer (self);

  if (self->op == OP_PAIR)
    {
      const char *sha = cpns_tls_channel_get_peer_sha256 (channel);

      self->cert_seen = g_strdup (sha);
      pne_device_progress (self, "tls_connected",
                           pne_device_details_new ("address", self->address, "cert_sha256", sha,
                                                   NULL),
                           "TLS connection to %s (certificate not checked: the pairing code "
                           "will be)",
                           self->address);
      msg = cpns_message_new ("pairing_request");
      cpns_message_set_object (msg, "entity", self->entity);
      cpns_message_set_bool (msg, "has_credentials", self->has_credentials);
      if (self->has_credentials)
        {
          cpns_message_set_string (msg, "pne_id", self->existing->pne_id);
          cpns_message_set_string (msg, "pn_id", self->existing->pn_id);
          cpns_message_set_string (msg, "key_id", self->existing->key_id);
        }
      cpns_tls_channel_start (channel);
      pne_device_send_message (self, msg);
      self->state = STATE_WAIT_COMMIT;
      pne_device_arm_timer (self, self->timeouts.reply_ms, "pairing_commit");
      pne_device_progress (self, "pairing_requested", NULL, "Sent pairing_request%s",
                           self->has_credentials ? " (with existing credentials)" : "");
      return;
    }

  /* OP_CONNECT */
  if (self->resuming)
    {
      pne_device_progress (self, "resume_handshake", NULL, "PSK connection to %s established",
                           self->address);
      msg = cpns_message_new ("session_resume_request");
      cpns_message_set_string (msg, "pne_id", self->creds->pne_id);
      cpns_message_set_string (msg, "session_id", self->creds->session_id);
      cpns_tls_channel_start (channel);
      pne_device_send_message (self, msg);
      self->state = STATE_WAIT_RESUME_COMPLETE;
      pne_device_arm_timer (self, self->timeouts.reply_ms, "connection_setup_complete");
      return;
    }

  /* The channel checked the pin during the handshake; check again so that
   * nothing is ever sent to another certificate. */
  if (g_strcmp0 (cpns_tls_channel_get_peer_sha256 (channel), self->creds->gateway_sha256) != 0)
    {
      pne_device_progress (self, "pin_mismatch", NULL,
                           "The gateway's certificate does not match the pinned one; "
                           "nothing was sent");
      pne_device_fail (self, CPNS_ERROR_PIN_MISMATCH, FALSE,
                       "The gateway at %s presented a certificate that does not match the one "
                       "pinned at pairing; nothing was sent", self->address);
      return;
    }
  pne_device_progress (self, "tls_connected", pne_device_details_new ("address", self->address,
                                                                      NULL),
                       "TLS connection to %s (pinned certificate verified)", self->address);
  cpns_random_nonce (self->nonce_p, CPNS_NONCE_LEN);
  msg = cpns_message_new ("connection_setup_request");
  cpns_message_set_string (msg, "pne_id", self->creds->pne_id);
  cpns_message_set_string (msg, "pn_id", self->creds->pn_id);
  cpns_message_set_bytes (msg, "nonce_p", self->nonce_p, CPNS_NONCE_LEN);
  cpns_tls_channel_start (channel);
  pne_device_send_message (self, msg);
  self->state = STATE_WAIT_AUTH_CHALLENGE;
  pne_device_arm_timer (self, self->timeouts.reply_ms, "auth_challenge");
  pne_device_progress (self, "connection_setup_requested", NULL,
                       "Sent connection_setup_request (step 4a)");
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(PneDevice) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  CpnsTlsChannel *channel;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          || self->state != STATE_CONNECTING)
        return;
      pne_device_finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE,
                                            "Cannot connect to the gateway at %s: %s",
                                            self->address, error->message), NULL);
      return;
    }
  if (self->state != STATE_CONNECTING)
    return;
  g_socket_set_keepalive (g_socket_connection_get_socket (connection), TRUE);

  if (self->op == OP_PAIR)
    channel = cpns_tls_channel_new_client (G_IO_STREAM (connection), NULL);
  else if (self->resuming)
    channel = cpns_tls_channel_new_client_psk (G_IO_STREAM (connection),
                                               self->creds->session_id,
                                               self->creds->session_key);
  else
    channel = cpns_tls_channel_new_client (G_IO_STREAM (connection),
                                           self->creds->gateway_sha256);
  self->channel = channel;
  self->channel_open = FALSE;
  self->message_id = g_signal_connect (channel, "message-received",
                                       G_CALLBACK (on_message), self);
  self->closed_id = g_signal_connect (channel, "closed", G_CALLBACK (on_closed), self);
  cpns_tls_channel_handshake_async (channel, self->timeouts.connect_ms, self->cancellable,
                                    on_handshake_done, g_object_ref (self));
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  PneDevice *self = user_data;

  self->timer_id = 0;
  self->timer_what = NULL;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  pne_device_finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE,
                                        "Cannot connect to the gateway at %s: no answer in time",
                                        self->address), NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
is_loopback_host (const char *host_port)
{
  g_autoptr(GSocketConnectable) address = g_network_address_parse (host_port, CPNS_DEFAULT_PORT,
                                                                   NULL);
  g_autoptr(GInetAddress) inet = NULL;
  const char *host;

  if (address == NULL)
    return FALSE;
  host = g_network_address_get_hostname (G_NETWORK_ADDRESS (address));
  inet = g_inet_address_new_from_string (host);
  return inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4
         && g_inet_address_get_is_loopback (inet);
}

void
pne_device_start_connection (PneDevice *self)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();

  /* CPNS-1 runs between neighbours on the local network: no proxy. With
   * the default (enabled), every connection first asked the system proxy
   * resolver on a worker thread, a thread hop and a configuration lookup
   * on the path of every setup and resume. */
  g_socket_client_set_enable_proxy (client, FALSE);
  if (self->loopback_source != NULL && is_loopback_host (self->address))
    {
      g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (self->loopback_source);
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new (inet, 0);

      g_socket_client_set_local_address (client, local);
    }

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  self->state = STATE_CONNECTING;
  pne_device_progress (self, self->resuming ? "resuming" : "connecting",
                       pne_device_details_new ("address", self->address, NULL),
                       self->resuming ? "Resuming the session with %s (PSK)" : "Connecting to %s",
                       self->address);
  pne_device_stop_timer (self);
  self->timer_id = g_timeout_add (self->timeouts.connect_ms + 1000, on_connect_timeout, self);
  g_socket_client_connect_to_host_async (client, self->address, CPNS_DEFAULT_PORT,
                                         self->cancellable, on_connected, g_object_ref (self));
}

/* ------------------------------------------------------------------ */
/* Dispatch */

static void
handle_error_frame (PneDevice   *self,
                    CpnsMessage *msg)
{
  g_autoptr(GError) error = cpns_message_to_error (msg);
  const char *code = cpns_message_get_string (msg, "code");

  pne_device_progress (self, "gateway_error", pne_device_details_new ("code", code, NULL),
                       "The gateway ended the exchange: %s", error->message);

  /* §4.4 item 3 and §4.7: credentials that are not (or no longer) valid
   * are discarded. A pairing never discards them this way. */
  if (self->op != OP_PAIR && self->creds != NULL
      && (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_REVOKED)
          || (self->state == STATE_WAIT_AUTHORIZATION
              && (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_AUTH_FAILED)
                  || g_error_matches (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND)))
          || (self->state == STATE_WAIT_AUTH_CHALLENGE
              && g_error_matches (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND))))
    pne_device_discard_credentials (self, code);

  if (self->resuming && self->state == STATE_WAIT_RESUME_COMPLETE
      && !g_error_matches (error, CPNS_ERROR, CPNS_ERROR_REVOKED)
      && self->creds != NULL)
    {
      /* The gateway did not take the session: a full connection setup. */
      g_clear_signal_handler (&self->message_id, self->channel);
      g_clear_signal_handler (&self->closed_id, self->channel);
      cpns_tls_channel_close (self->channel);
      g_clear_object (&self->channel);
      self->resuming = FALSE;
      pne_credentials_clear_session (self->creds);
      pne_device_start_connection (self);
      return;
    }
  /* The sender closes; we read and send nothing more. */
  pne_device_finish (self, g_steal_pointer (&error), NULL);
}

void
pne_device_handle_message (PneDevice   *self,
                           CpnsMessage *msg)
{
  const char *kind = cpns_message_get_kind (msg);

  if (self->state == STATE_CLOSING || self->state == STATE_COMMITTING)
    return;

  if (g_str_equal (kind, "error"))
    {
      handle_error_frame (self, msg);
      return;
    }
  if (g_str_equal (kind, "ping"))
    {
      g_autoptr(CpnsMessage) pong = cpns_message_new ("pong");

      pne_device_send_message (self, pong);
      return;
    }
  if (g_str_equal (kind, "pong"))
    return;
  if (g_str_equal (kind, "bye"))
    {
      const char *reason = cpns_message_get_string (msg, "reason");

      pne_device_progress (self, "bye", pne_device_details_new ("reason", reason, NULL),
                           "The gateway said bye%s%s", reason != NULL ? ": " : "",
                           reason != NULL ? reason : "");
      if (self->state == STATE_CONNECTED)
        pne_device_finish (self, NULL, NULL);
      else
        pne_device_fail (self, CPNS_ERROR_CLOSED, FALSE, "The gateway ended the connection (bye)");
      return;
    }

#define EXPECT(st, name, handler)                              \
  if (self->state == (st) && g_str_equal (kind, name))         \
    {                                                          \
      handler (self, msg);                                     \
      return;                                                  \
    }
  EXPECT (STATE_WAIT_COMMIT, "pairing_commit", pne_device_handle_pairing_commit)
  EXPECT (STATE_WAIT_REVEAL, "pairing_reveal", pne_device_handle_pairing_reveal)
  EXPECT (STATE_WAIT_PAIRING_RESPONSE, "pairing_response", pne_device_handle_pairing_response)
  EXPECT (STATE_WAIT_PNE_ID, "pne_id_response", pne_device_handle_pne_id_response)
  EXPECT (STATE_WAIT_KEY_ASSIGNMENT, "key_assignment_request", pne_device_handle_key_assignment)
  EXPECT (STATE_WAIT_PAIRING_COMPLETE, "pairing_complete", pne_device_handle_pairing_complete)
  EXPECT (STATE_WAIT_AUTH_CHALLENGE, "auth_challenge", pne_device_handle_auth_challenge)
  EXPECT (STATE_WAIT_AUTHORIZATION, "authorization_pending",
          pne_device_handle_authorization_pending)
  EXPECT (STATE_WAIT_AUTHORIZATION, "authorization_result", pne_device_handle_authorization_result)
  EXPECT (STATE_WAIT_CONFIRM_ACK, "session_key_confirm_ack", pne_device_handle_confirm_ack)
  EXPECT (STATE_WAIT_SETUP_COMPLETE, "connection_setup_complete", pne_device_handle_setup_complete)
  EXPECT (STATE_WAIT_RESUME_COMPLETE, "connection_setup_complete", pne_device_handle_setup_complete)
#undef EXPECT

  pne_device_fail (self, CPNS_ERROR_CONFLICT, TRUE,
                   "conflict: unexpected %s while waiting (%s)", kind, state_names[self->state]);
}

/* ------------------------------------------------------------------ */
/* Operations */

static gboolean
cancel_in_idle (gpointer user_data)
{
  PneDevice *self = user_data;

  if (self->op != OP_NONE)
    pne_device_finish (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                  "Operation was cancelled"), NULL);
  return G_SOURCE_REMOVE;
}

static void
on_caller_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  /* Not from inside the cancellable's handler: finishing disconnects it. */
  g_idle_add_full (G_PRIORITY_DEFAULT, cancel_in_idle, g_object_ref (user_data),
                   g_object_unref);
}

static gboolean
begin_operation (PneDevice          *self,
                 Operation           op,
                 GCancellable       *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer            user_data,
                 gpointer            source_tag)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  if (g_task_return_error_if_cancelled (task))
    return FALSE;
  if (self->op != OP_NONE || self->state != STATE_IDLE || self->connected)
    {
      g_task_return_new_error (task, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                               "The device is busy");
      return FALSE;
    }
  self->op = op;
  self->op_generation++;
  self->task = g_steal_pointer (&task);
  self->resumed = FALSE;
  if (cancellable != NULL)
    {
      self->caller_cancellable = g_object_ref (cancellable);
      self->caller_cancel_id = g_cancellable_connect (cancellable,
                                                      G_CALLBACK (on_caller_cancelled),
                                                      self, NULL);
    }
  return TRUE;
}

static void
on_gateway_heard (PneDiscovery *discovery,
                  const char   *address,
                  CpnsMessage  *descriptor,
                  gpointer      user_data)
{
  PneDevice *self = user_data;
  const char *name = cpns_message_get_string (descriptor, "name");

  if (self->state != STATE_DISCOVERING)
    return;
  if (!cpns_message_get_bool (descriptor, "pairing_open"))
    {
      g_debug ("%s: gateway %s at %s is not open for pairing", pne_device_get_name (self),
               name, address);
      return;
    }
  g_clear_handle_id (&self->discovery_timer_id, g_source_remove);
  pne_device_progress (self, "gateway_found",
                       pne_device_details_new ("address", address, "gateway_name", name,
                                               "gateway_id",
                                               cpns_message_get_string (descriptor, "gateway_id"),
                                               NULL),
                       "Found the gateway “%s” at %s, open for pairing", name, address);
  g_free (self->address);
  self->address = g_strdup (address);
  /* Stop announcing from inside the signal only once it has returned. */
  pne_discovery_stop (self->discovery);
  pne_device_start_connection (self);
}

static gboolean
on_discovery_timeout (gpointer user_data)
{
  PneDevice *self = user_data;

  self->discovery_timer_id = 0;
  pne_device_fail (self, CPNS_ERROR_TIMEOUT, FALSE,
                   "No gateway with an open pairing window answered within %u s; open the pairing "
                   "window on the gateway and try again", self->timeouts.discovery_ms / 1000);
  return G_SOURCE_REMOVE;
}

void
pne_device_pair_async (PneDevice          *self,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (PNE_IS_DEVICE (self));
  g_return_if_fail (self->entity != NULL);

  if (!begin_operation (self, OP_PAIR, cancellable, callback, user_data, pne_device_pair_async))
    return;

  if (!pne_credentials_ensure_dir (self->state_dir, &error))
    {
      pne_device_finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_INTERNAL, "%s", error->message),
                         NULL);
      return;
    }
  self->existing = pne_credentials_load (self->state_dir, &error);
  if (self->existing == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    pne_device_progress (self, "credentials_ignored", NULL,
                         "Ignoring unreadable credentials: %s", error->message);
  self->has_credentials = self->existing != NULL;
  g_clear_error (&error);

  if (self->gateway_address != NULL)
    {
      self->address = g_strdup (self->gateway_address);
      pne_device_start_connection (self);
      return;
    }

  self->discovery = pne_discovery_new (json_object_get_string_member (self->entity, "name"),
                                       json_object_get_string_member (self->entity,
                                                                      "entity_type"),
                                       self->multicast, &error);
  if (self->discovery == NULL)
    {
      pne_device_finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_INTERNAL,
                                            "Cannot open a discovery socket: %s",
                                            error->message), NULL);
      return;
    }
  for (guint i = 0; i < self->discovery_targets->len; i++)
    pne_discovery_add_target (self->discovery, g_ptr_array_index (self->discovery_targets, i));
  pne_discovery_set_interval (self->discovery, self->discovery_interval_ms);
  self->discovery_id = g_signal_connect (self->discovery, "gateway-heard",
                                         G_CALLBACK (on_gateway_heard), self);
  self->state = STATE_DISCOVERING;
  if (self->timeouts.discovery_ms > 0)
    self->discovery_timer_id = g_timeout_add (self->timeouts.discovery_ms,
                                              on_discovery_timeout, self);
  pne_device_progress (self, "discovering", NULL,
                       "Announcing this device and looking for a gateway open for pairing");
  pne_discovery_start (self->discovery);
}

gboolean
pne_device_pair_finish (PneDevice    *self,
                        GAsyncResult *result,
                        GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
pne_device_connect_async (PneDevice          *self,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (PNE_IS_DEVICE (self));

  if (!begin_operation (self, OP_CONNECT, cancellable, callback, user_data,
                        pne_device_connect_async))
    return;

  g_clear_pointer (&self->creds, pne_credentials_free);
  self->creds = pne_credentials_load (self->state_dir, &error);
  if (self->creds == NULL)
    {
      pne_device_finish (self, g_steal_pointer (&error), NULL);
      return;
    }
  self->address = g_strdup (self->gateway_address != NULL ? self->gateway_address
                                                          : self->creds->gateway_address);
  self->resuming = !self->no_resume
                   && pne_credentials_has_live_session (self->creds, pne_device_now_seconds ());
  pne_device_start_connection (self);
}

gboolean
pne_device_connect_finish (PneDevice    *self,
                           GAsyncResult *result,
                           GError      **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
pne_device_disconnect (PneDevice *self)
{
  g_autoptr(CpnsMessage) bye = NULL;

  g_return_if_fail (PNE_IS_DEVICE (self));

  if (self->op != OP_NONE)
    {
      pne_device_finish (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                    "Operation was cancelled"), NULL);
      return;
    }
  if (!self->connected || self->state != STATE_CONNECTED)
    return;
  bye = cpns_message_new ("bye");
  cpns_message_set_string (bye, "reason", "device disconnecting");
  pne_device_send_message (self, bye);
  pne_device_progress (self, "disconnecting", NULL, "Sent bye");
  pne_device_finish (self, NULL, NULL);
}
