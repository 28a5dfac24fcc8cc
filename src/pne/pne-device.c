/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <string.h>

#include "cpns.h"
#include "pne-device.h"
#include "pne-discovery.h"

/* The states of the CPNS-1 client, named after what the device waits for. */
typedef enum
{
  STATE_IDLE,
  STATE_DISCOVERING,
  STATE_CONNECTING,          /* TCP + TLS handshake */
  /* pairing, §4.3–4.4 */
  STATE_WAIT_COMMIT,
  STATE_WAIT_REVEAL,
  STATE_WAIT_PAIRING_RESPONSE,
  STATE_WAIT_PNE_ID,
  STATE_WAIT_KEY_ASSIGNMENT,
  STATE_WAIT_PAIRING_COMPLETE,
  /* connection setup, §4.5 */
  STATE_WAIT_AUTH_CHALLENGE,
  STATE_WAIT_AUTHORIZATION,
  STATE_WAIT_CONFIRM_ACK,
  STATE_WAIT_SETUP_COMPLETE,
  /* resume, §4.6 */
  STATE_WAIT_RESUME_COMPLETE,
  STATE_CONNECTED,
  STATE_CLOSING,
} State;

static const char *state_names[] = {
  "idle", "discovering", "connecting",
  "wait_commit", "wait_reveal", "wait_pairing_response", "wait_pne_id",
  "wait_key_assignment", "wait_pairing_complete",
  "wait_auth_challenge", "wait_authorization", "wait_confirm_ack", "wait_setup_complete",
  "wait_resume_complete", "connected", "closing",
};

typedef enum
{
  OP_NONE,
  OP_PAIR,
  OP_CONNECT,
} Operation;

typedef enum
{
  LOCAL_NOT_ASKED,
  LOCAL_WAITING,
  LOCAL_ACCEPTED,
} LocalAnswer;

#define APPROVAL_MARGIN_MS 15000
#define CLOSE_GRACE_MS     3000

struct _PneDevice
{
  GObject         parent_instance;

  /* configuration */
  char           *state_dir;
  JsonObject     *entity;
  char           *gateway_address;
  GPtrArray      *discovery_targets;
  gboolean        multicast;
  guint           discovery_interval_ms;
  PneTimeouts     timeouts;
  gboolean        confirm_locally;
  char           *loopback_source;   /* source address towards a loopback gateway */

  /* the running operation */
  State           state;
  Operation       op;
  GTask          *task;
  GCancellable   *cancellable;       /* internal: connect + handshake */
  GCancellable   *caller_cancellable;
  gulong          caller_cancel_id;
  guint           timer_id;
  const char     *timer_what;
  guint           discovery_timer_id;
  PneDiscovery   *discovery;
  gulong          discovery_id;
  char           *address;           /* where we connect */

  CpnsTlsChannel *channel;
  gulong          message_id;
  gulong          closed_id;
  CpnsTlsChannel *closing_channel;   /* retired, flushing its last frames */
  gulong          closing_id;
  guint           closing_timer_id;
  GError         *deferred_error;    /* task result waiting for the close */
  gboolean        deferred;
  gboolean        disconnect_pending;/* emit "disconnected" after the close */
  GError         *disconnect_error;

  /* pairing */
  PneCredentials *existing;          /* credentials held when pairing began */
  PneCredentials *pending;           /* being assembled */
  gboolean        has_credentials;
  char           *cert_seen;
  guint8          commitment[32];
  guint8          n_p[CPNS_NONCE_LEN];
  LocalAnswer     local;
  GQueue          held;              /* messages held for the local answer */
  gboolean        pending_written;

  /* connection setup / resume */
  PneCredentials *creds;
  guint8          nonce_p[CPNS_NONCE_LEN];
  guint8          nonce_s[CPNS_NONCE_LEN];
  char           *auth_id;
  char           *session_id;
  guint8          session_key[CPNS_KEY_LEN];
  gboolean        have_session_key;
  gboolean        resuming;
  gboolean        resumed;
  gboolean        connected;         /* the connect task reported success */
  guint           ping_id;
  gint64          last_heard;
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

static void start_connection (PneDevice *self);
static void handle_message (PneDevice *self, CpnsMessage *msg);
static gboolean send_ping (gpointer user_data);

/* ------------------------------------------------------------------ */
/* Helpers */

static void
progress (PneDevice  *self,
          const char *step,
          JsonObject *details,
          const char *format,
          ...) G_GNUC_PRINTF (4, 5);

static void
progress (PneDevice  *self,
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

static JsonObject *
details_new (const char *first_key,
             ...) G_GNUC_NULL_TERMINATED;

/* Pairs of (key, string value), NULL-terminated. */
static JsonObject *
details_new (const char *first_key,
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

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static void
clear_session_secret (PneDevice *self)
{
  cpns_wipe (self->session_key, CPNS_KEY_LEN);
  self->have_session_key = FALSE;
}

static void
stop_timer (PneDevice *self)
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

static void
clear_held (PneDevice *self)
{
  CpnsMessage *msg;

  while ((msg = g_queue_pop_head (&self->held)) != NULL)
    cpns_message_unref (msg);
}

/* Forget everything of the operation except the configuration. */
static void
reset_operation (PneDevice *self)
{
  stop_timer (self);
  stop_discovery (self);
  g_clear_handle_id (&self->ping_id, g_source_remove);
  clear_held (self);
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
  clear_session_secret (self);
  cpns_wipe (self->commitment, sizeof self->commitment);
  cpns_wipe (self->n_p, sizeof self->n_p);
  self->local = LOCAL_NOT_ASKED;
  self->resuming = FALSE;
  self->has_credentials = FALSE;
  self->pending_written = FALSE;
}

static void
complete_task (PneDevice *self,
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
      self->ping_id = g_timeout_add (self->timeouts.ping_ms, send_ping, self);
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
      complete_task (self, g_steal_pointer (&self->deferred_error));
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

  if (cpns_tls_channel_is_closed (channel) || self->closing_channel != NULL)
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
static void
finish (PneDevice    *self,
        GError       *error,
        const GError *send)
{
  if (self->state == STATE_CLOSING)
    {
      g_clear_error (&error);
      return;
    }
  stop_timer (self);
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

static void
fail_literal (PneDevice    *self,
              CpnsErrorCode code,
              gboolean      send,
              const char   *message)
{
  GError *error = g_error_new_literal (CPNS_ERROR, code, message);

  finish (self, error, send ? error : NULL);
}

static void
fail (PneDevice    *self,
      CpnsErrorCode code,
      gboolean      send,
      const char   *format,
      ...) G_GNUC_PRINTF (4, 5);

static void
fail (PneDevice    *self,
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
  fail_literal (self, code, send, message);
}

static gboolean
on_timer (gpointer user_data)
{
  PneDevice *self = user_data;
  const char *what = self->timer_what;

  self->timer_id = 0;
  self->timer_what = NULL;
  fail (self, CPNS_ERROR_TIMEOUT, self->channel != NULL,
        "No %s from the gateway in time", what != NULL ? what : "answer");
  return G_SOURCE_REMOVE;
}

static void
arm_timer (PneDevice  *self,
           guint       ms,
           const char *what)
{
  stop_timer (self);
  self->timer_what = what;
  self->timer_id = g_timeout_add (ms, on_timer, self);
}

static void
send_message (PneDevice   *self,
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
  handle_message (self, msg);
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
  finish (self, g_steal_pointer (&local), NULL);
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
      stop_timer (self);
      g_clear_signal_handler (&self->message_id, channel);
      g_clear_signal_handler (&self->closed_id, channel);
      g_clear_object (&self->channel);

      if (self->resuming && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* §4.6: an unknown or expired identity fails the handshake; run a
           * full connection setup instead. */
          progress (self, "resume_failed",
                    details_new ("reason", error->message, NULL),
                    "Resuming the session failed (%s); running a full connection setup",
                    error->message);
          self->resuming = FALSE;
          pne_credentials_clear_session (self->creds);
          start_connection (self);
          return;
        }
      if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH))
        {
          progress (self, "pin_mismatch", NULL,
                    "The gateway's certificate does not match the pinned one; "
                    "nothing was sent");
          finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH,
                                     "The gateway at %s presented a certificate that does "
                                     "not match the one pinned at pairing (it may be an "
                                     "impostor); nothing was sent. If the gateway was "
                                     "reinstalled, run “cpns-pne forget” and pair again.",
                                     self->address), NULL);
          return;
        }
      finish (self, cpns_error_to_cpns (error), NULL);
      return;
    }

  if (self->channel != channel || self->state == STATE_CLOSING)
    return;
  stop_timer (self);

  if (self->op == OP_PAIR)
    {
      const char *sha = cpns_tls_channel_get_peer_sha256 (channel);

      self->cert_seen = g_strdup (sha);
      progress (self, "tls_connected",
                details_new ("address", self->address, "cert_sha256", sha, NULL),
                "TLS connection to %s (certificate not checked: the pairing code will be)",
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
      send_message (self, msg);
      self->state = STATE_WAIT_COMMIT;
      arm_timer (self, self->timeouts.reply_ms, "pairing_commit");
      progress (self, "pairing_requested", NULL, "Sent pairing_request%s",
                self->has_credentials ? " (with existing credentials)" : "");
      return;
    }

  /* OP_CONNECT */
  if (self->resuming)
    {
      progress (self, "resume_handshake", NULL, "PSK connection to %s established", self->address);
      msg = cpns_message_new ("session_resume_request");
      cpns_message_set_string (msg, "pne_id", self->creds->pne_id);
      cpns_message_set_string (msg, "session_id", self->creds->session_id);
      cpns_tls_channel_start (channel);
      send_message (self, msg);
      self->state = STATE_WAIT_RESUME_COMPLETE;
      arm_timer (self, self->timeouts.reply_ms, "connection_setup_complete");
      return;
    }

  /* The channel checked the pin during the handshake; check again so that
   * nothing is ever sent to another certificate. */
  if (g_strcmp0 (cpns_tls_channel_get_peer_sha256 (channel), self->creds->gateway_sha256) != 0)
    {
      progress (self, "pin_mismatch", NULL,
                "The gateway's certificate does not match the pinned one; nothing was sent");
      fail (self, CPNS_ERROR_PIN_MISMATCH, FALSE,
            "The gateway at %s presented a certificate that does not match the one pinned "
            "at pairing; nothing was sent", self->address);
      return;
    }
  progress (self, "tls_connected", details_new ("address", self->address, NULL),
            "TLS connection to %s (pinned certificate verified)", self->address);
  cpns_random_nonce (self->nonce_p, CPNS_NONCE_LEN);
  msg = cpns_message_new ("connection_setup_request");
  cpns_message_set_string (msg, "pne_id", self->creds->pne_id);
  cpns_message_set_string (msg, "pn_id", self->creds->pn_id);
  cpns_message_set_bytes (msg, "nonce_p", self->nonce_p, CPNS_NONCE_LEN);
  cpns_tls_channel_start (channel);
  send_message (self, msg);
  self->state = STATE_WAIT_AUTH_CHALLENGE;
  arm_timer (self, self->timeouts.reply_ms, "auth_challenge");
  progress (self, "connection_setup_requested", NULL, "Sent connection_setup_request (step 4a)");
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
      finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE,
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
  finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE,
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

  if (address == NULL)
    return FALSE;
  inet = g_inet_address_new_from_string (g_network_address_get_hostname (G_NETWORK_ADDRESS (address)));
  return inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4
         && g_inet_address_get_is_loopback (inet);
}

static void
start_connection (PneDevice *self)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();

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
  progress (self, self->resuming ? "resuming" : "connecting",
            details_new ("address", self->address, NULL),
            self->resuming ? "Resuming the session with %s (PSK)" : "Connecting to %s",
            self->address);
  stop_timer (self);
  self->timer_id = g_timeout_add (self->timeouts.connect_ms + 1000, on_connect_timeout, self);
  g_socket_client_connect_to_host_async (client, self->address, CPNS_DEFAULT_PORT,
                                         self->cancellable, on_connected, g_object_ref (self));
}

/* ------------------------------------------------------------------ */
/* Pairing (§4.3–4.4) */

static gboolean
check_id (PneDevice   *self,
          CpnsMessage *msg,
          const char  *field,
          const char  *expected)
{
  if (g_strcmp0 (cpns_message_get_string (msg, field), expected) != 0)
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE,
            "bad_request: field '%s' of %s does not match this pairing",
            field, cpns_message_get_kind (msg));
      return FALSE;
    }
  return TRUE;
}

static void
handle_pairing_commit (PneDevice   *self,
                       CpnsMessage *msg)
{
  g_autoptr(CpnsMessage) reply = NULL;

  if (!cpns_message_get_bytes (msg, "commitment", self->commitment, sizeof self->commitment))
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'commitment'");
      return;
    }
  /* Only now, after the commitment, draw and reveal n_p. */
  cpns_random_nonce (self->n_p, CPNS_NONCE_LEN);
  reply = cpns_message_new ("pairing_nonce");
  cpns_message_set_bytes (reply, "n_p", self->n_p, CPNS_NONCE_LEN);
  send_message (self, reply);
  self->state = STATE_WAIT_REVEAL;
  arm_timer (self, self->timeouts.reply_ms, "pairing_reveal");
  progress (self, "pairing_commit", NULL, "Received the gateway's commitment; sent our nonce");
}

static void
handle_pairing_reveal (PneDevice   *self,
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
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'n_g'");
      return;
    }
  if (!cpns_tls_channel_export (self->channel, CPNS_EXPORTER_PAIRING, exporter, &error))
    {
      fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot compute the TLS exporter: %s",
            error->message);
      return;
    }
  cpns_pairing_commitment (exporter, n_g, expected);
  ok = cpns_memeq_ct (expected, sizeof expected, self->commitment, sizeof self->commitment);
  if (!ok)
    {
      cpns_wipe (exporter, sizeof exporter);
      progress (self, "commitment_mismatch", NULL,
                "The gateway's reveal does not match its commitment");
      fail_literal (self, CPNS_ERROR_AUTH_FAILED, TRUE,
                    "The gateway's pairing nonce does not match its commitment "
                    "(a man in the middle?); pairing aborted");
      return;
    }
  code = cpns_pairing_code_format (cpns_pairing_code (exporter, n_g, self->n_p), TRUE);
  cpns_wipe (exporter, sizeof exporter);

  self->state = STATE_WAIT_PAIRING_RESPONSE;
  arm_timer (self, self->timeouts.human_ms, "pairing_response");
  if (self->confirm_locally)
    self->local = LOCAL_WAITING;
  progress (self, "pairing_code", details_new ("code", code, NULL),
            "Pairing code: %s — confirm it on the gateway", code);
  g_signal_emit (self, signals[PAIRING_CODE], 0, code);
}

static void
request_pne_id (PneDevice *self)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("pne_id_request");

  send_message (self, msg);
  self->state = STATE_WAIT_PNE_ID;
  arm_timer (self, self->timeouts.reply_ms, "pne_id_response");
  progress (self, "pne_id_requested", NULL, "Sent pne_id_request (step 3b)");
}

static void
handle_pairing_response (PneDevice   *self,
                         CpnsMessage *msg)
{
  const char *sha = cpns_message_get_string (msg, "cert_sha256");
  const char *pn_id = cpns_message_get_string (msg, "pn_id");
  gboolean accepted_creds = cpns_message_get_bool (msg, "credentials_accepted");

  if (g_strcmp0 (cpns_message_get_string (msg, "result"), "accepted") != 0)
    {
      fail (self, CPNS_ERROR_REJECTED, FALSE, "The gateway did not accept the pairing");
      return;
    }
  if (self->cert_seen == NULL || sha == NULL || g_ascii_strcasecmp (sha, self->cert_seen) != 0)
    {
      progress (self, "certificate_mismatch", NULL,
                "The certificate named in pairing_response is not the one of this connection");
      fail_literal (self, CPNS_ERROR_AUTH_FAILED, TRUE,
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

  progress (self, "pairing_accepted",
            details_new ("gateway_id", self->pending->gateway_id,
                         "gateway_name", self->pending->gateway_name,
                         "pn_id", pn_id, "cert_sha256", self->pending->gateway_sha256, NULL),
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
      arm_timer (self, self->timeouts.key_wait_ms, "pairing_complete");
      progress (self, "credentials_accepted", NULL,
                "The gateway accepted our existing credentials: no new ID or key (step 3a)");
      return;
    }

  if (self->existing != NULL && g_strcmp0 (self->existing->pn_id, pn_id) == 0)
    {
      g_autoptr(GError) error = NULL;

      /* §4.4 item 3: discard credentials for this PN that were not accepted. */
      if (!pne_credentials_delete (self->state_dir, &error))
        g_warning ("%s", error->message);
      g_clear_pointer (&self->existing, pne_credentials_free);
      progress (self, "credentials_discarded", NULL,
                "The gateway did not accept our old credentials; they are discarded");
    }
  request_pne_id (self);
}

static void
handle_pne_id_response (PneDevice   *self,
                        CpnsMessage *msg)
{
  const char *pne_id = cpns_message_get_string (msg, "pne_id");

  if (!check_id (self, msg, "pn_id", self->pending->pn_id))
    return;
  self->pending->pne_id = g_strdup (pne_id);
  self->state = STATE_WAIT_KEY_ASSIGNMENT;
  arm_timer (self, self->timeouts.key_wait_ms, "key_assignment_request");
  progress (self, "pne_id_assigned", details_new ("pne_id", pne_id, NULL),
            "Assigned PNE ID %s (step 3d)", pne_id);
}

static void
handle_key_assignment (PneDevice   *self,
                       CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) reply = NULL;
  const char *key_id = cpns_message_get_string (msg, "key_id");
  guint8 confirm[CPNS_MAC_LEN];

  if (!check_id (self, msg, "pne_id", self->pending->pne_id))
    return;
  if (!cpns_message_get_bytes (msg, "euk", self->pending->euk, CPNS_KEY_LEN))
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'euk'");
      return;
    }
  g_free (self->pending->key_id);
  self->pending->key_id = g_strdup (key_id);

  /* §4.4 item 6: durably stored before the confirmation; only valid once
   * pairing_complete arrives. */
  if (!pne_credentials_save (self->pending, self->state_dir, PNE_CREDENTIALS_SAVE_PENDING,
                             &error))
    {
      fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot store the credentials: %s",
            error->message);
      return;
    }
  self->pending_written = TRUE;
  progress (self, "key_assigned",
            details_new ("key_id", key_id, "mode", cpns_message_get_string (msg, "mode"), NULL),
            "Received key %s (%s-initiated, step 3e) and stored it",
            key_id, cpns_message_get_string (msg, "mode"));

  cpns_key_confirm (self->pending->euk, self->pending->pne_id, key_id, confirm);
  reply = cpns_message_new ("key_assignment_response");
  cpns_message_set_string (reply, "key_id", key_id);
  cpns_message_set_bytes (reply, "key_confirm", confirm, CPNS_MAC_LEN);
  send_message (self, reply);
  self->state = STATE_WAIT_PAIRING_COMPLETE;
  arm_timer (self, self->timeouts.key_wait_ms, "pairing_complete");
  progress (self, "key_confirmed", NULL, "Sent key_assignment_response with key_confirm");
}

static void
handle_pairing_complete (PneDevice   *self,
                         CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;

  if (!check_id (self, msg, "pne_id", self->pending->pne_id)
      || !check_id (self, msg, "pn_id", self->pending->pn_id)
      || !check_id (self, msg, "gateway_id", self->pending->gateway_id))
    return;

  if (self->pending_written)
    {
      if (!pne_credentials_commit_pending (self->state_dir, &error))
        {
          fail (self, CPNS_ERROR_INTERNAL, FALSE, "%s", error->message);
          return;
        }
      self->pending_written = FALSE;
    }
  else
    {
      /* 3a: the same key, a possibly new gateway address and pin. */
      pne_credentials_clear_session (self->pending);
      if (!pne_credentials_save (self->pending, self->state_dir, PNE_CREDENTIALS_SAVE_DEFAULT,
                                 &error))
        {
          fail (self, CPNS_ERROR_INTERNAL, FALSE, "Cannot store the credentials: %s",
                error->message);
          return;
        }
    }
  g_clear_pointer (&self->creds, pne_credentials_free);
  self->creds = g_steal_pointer (&self->pending);
  progress (self, "paired",
            details_new ("pne_id", self->creds->pne_id, "pn_id", self->creds->pn_id,
                         "gateway_id", self->creds->gateway_id, NULL),
            "Paired: this device is %s in %s", self->creds->pne_id, self->creds->pn_id);
  finish (self, NULL, NULL);
}

static void
process_held (PneDevice *self)
{
  CpnsMessage *msg;

  while (self->state != STATE_CLOSING && (msg = g_queue_pop_head (&self->held)) != NULL)
    {
      handle_message (self, msg);
      cpns_message_unref (msg);
    }
  clear_held (self);
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
      clear_held (self);
      progress (self, "pairing_rejected", NULL, "The code was rejected on this device");
      fail_literal (self, CPNS_ERROR_REJECTED, TRUE,
                    "The pairing code was rejected on the device");
      return;
    }
  self->local = LOCAL_ACCEPTED;
  progress (self, "code_confirmed", NULL, "The code was confirmed on this device");
  process_held (self);
}

/* ------------------------------------------------------------------ */
/* Connection setup (§4.5) and resume (§4.6) */

static void
handle_auth_challenge (PneDevice   *self,
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
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: auth_challenge");
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
      progress (self, "server_auth_failed", NULL,
                "The server's proof did not verify: the server is not authenticated");
      fail_literal (self, CPNS_ERROR_SERVER_AUTH_FAILED, TRUE,
                    "The CPNS server's proof did not verify (step 4c); the device refuses "
                    "this gateway");
      return;
    }
  progress (self, "server_authenticated", NULL,
            "The CPNS server proved it knows our key (step 4c)");

  cpns_pne_auth_proof (self->creds->euk, self->creds->pne_id, self->creds->gateway_id,
                       self->nonce_s, self->nonce_p, pne_proof);
  reply = cpns_message_new ("auth_response");
  cpns_message_set_string (reply, "auth_id", self->auth_id);
  cpns_message_set_bytes (reply, "pne_proof", pne_proof, CPNS_MAC_LEN);
  send_message (self, reply);
  self->state = STATE_WAIT_AUTHORIZATION;
  arm_timer (self, self->timeouts.reply_ms, "authorization_result");
  progress (self, "auth_response_sent", NULL, "Sent our proof (auth_response)");
}

static void
handle_authorization_pending (PneDevice   *self,
                              CpnsMessage *msg)
{
  g_autoptr(GDateTime) expires = cpns_message_dup_time (msg, "expires_at");
  g_autofree char *expires_str = expires != NULL ? g_date_time_format_iso8601 (expires) : NULL;
  guint ms = self->timeouts.human_ms;

  if (expires != NULL)
    {
      gint64 left = g_date_time_to_unix (expires) - now_seconds ();

      /* Never longer than a person's answer may take, plus a margin. */
      if (left >= 0 && (guint64) left * 1000 + APPROVAL_MARGIN_MS < ms)
        ms = (guint) left * 1000 + APPROVAL_MARGIN_MS;
    }
  arm_timer (self, ms, "authorization_result");
  progress (self, "authorization_pending",
            details_new ("reason", cpns_message_get_string (msg, "reason"),
                         "expires_at", expires_str, NULL),
            "Waiting for the gateway's user to approve this device");
}

static void
handle_authorization_result (PneDevice   *self,
                             CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) reply = NULL;
  guint8 exporter[CPNS_EXPORTER_LEN];
  guint8 mac[CPNS_MAC_LEN];
  const char *session_id = cpns_message_get_string (msg, "session_id");

  if (g_strcmp0 (cpns_message_get_string (msg, "decision"), "allow") != 0)
    {
      fail (self, CPNS_ERROR_DENIED, FALSE, "The connection was denied");
      return;
    }
  if (!cpns_id_is_valid (CPNS_ID_SESSION, session_id))
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'session_id'");
      return;
    }
  g_free (self->session_id);
  self->session_id = g_strdup (session_id);
  cpns_session_key (self->creds->euk, self->nonce_p, self->nonce_s, self->creds->pne_id,
                    self->creds->gateway_id, session_id, self->session_key);
  self->have_session_key = TRUE;
  progress (self, "authorized", details_new ("session_id", session_id, NULL),
            "Authorized (step 4f); session %s", session_id);

  if (!cpns_tls_channel_export (self->channel, CPNS_EXPORTER_SESSION_BINDING, exporter, &error))
    {
      fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot compute the TLS exporter: %s",
            error->message);
      return;
    }
  cpns_pne_session_confirm (self->session_key, session_id, exporter, mac);
  cpns_wipe (exporter, sizeof exporter);
  reply = cpns_message_new ("session_key_confirm");
  cpns_message_set_bytes (reply, "mac", mac, CPNS_MAC_LEN);
  send_message (self, reply);
  self->state = STATE_WAIT_CONFIRM_ACK;
  arm_timer (self, self->timeouts.reply_ms, "session_key_confirm_ack");
}

static void
handle_confirm_ack (PneDevice   *self,
                    CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  guint8 exporter[CPNS_EXPORTER_LEN];
  guint8 expected[CPNS_MAC_LEN];
  guint8 mac[CPNS_MAC_LEN];
  gboolean ok;

  if (!cpns_message_get_bytes (msg, "mac", mac, CPNS_MAC_LEN))
    {
      fail (self, CPNS_ERROR_BAD_REQUEST, TRUE, "bad_request: field 'mac'");
      return;
    }
  if (!cpns_tls_channel_export (self->channel, CPNS_EXPORTER_SESSION_BINDING, exporter, &error))
    {
      fail (self, CPNS_ERROR_INTERNAL, TRUE, "Cannot compute the TLS exporter: %s",
            error->message);
      return;
    }
  cpns_gw_session_confirm (self->session_key, self->session_id, exporter, expected);
  cpns_wipe (exporter, sizeof exporter);
  ok = cpns_memeq_ct (expected, sizeof expected, mac, sizeof mac);
  if (!ok)
    {
      progress (self, "session_confirm_failed", NULL,
                "The gateway's session key confirmation did not verify");
      fail_literal (self, CPNS_ERROR_AUTH_FAILED, TRUE,
                    "The gateway's session key confirmation did not verify (step 4g)");
      return;
    }
  self->state = STATE_WAIT_SETUP_COMPLETE;
  arm_timer (self, self->timeouts.reply_ms, "connection_setup_complete");
  progress (self, "session_key_confirmed", NULL,
            "The gateway and this device share the session key (step 4g)");
}

static gboolean
send_ping (gpointer user_data)
{
  PneDevice *self = user_data;
  g_autoptr(CpnsMessage) ping = NULL;

  if ((g_get_monotonic_time () - self->last_heard) / 1000 >= self->timeouts.silence_ms)
    {
      self->ping_id = 0;
      fail (self, CPNS_ERROR_TIMEOUT, FALSE,
            "The gateway has been silent for %u s; the connection is dropped",
            self->timeouts.silence_ms / 1000);
      return G_SOURCE_REMOVE;
    }
  ping = cpns_message_new ("ping");
  send_message (self, ping);
  return G_SOURCE_CONTINUE;
}

static void
handle_setup_complete (PneDevice   *self,
                       CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) expires = cpns_message_dup_time (msg, "expires_at");
  g_autofree char *expires_str = NULL;
  g_auto(GStrv) granted = cpns_message_dup_strv (msg, "granted_services");
  g_autofree char *granted_str = NULL;
  const char *session_id = cpns_message_get_string (msg, "session_id");
  JsonObject *details;

  if (!check_id (self, msg, "pn_id", self->creds->pn_id))
    return;
  if (self->resuming)
    {
      if (g_strcmp0 (session_id, self->creds->session_id) != 0)
        {
          fail (self, CPNS_ERROR_BAD_REQUEST, TRUE,
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
          fail (self, CPNS_ERROR_BAD_REQUEST, TRUE,
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
    self->creds->session_expires = now_seconds () + 24 * 3600;
  clear_session_secret (self);

  if (!pne_credentials_save (self->creds, self->state_dir, PNE_CREDENTIALS_SAVE_DEFAULT, &error))
    g_message ("%s: cannot store the session for resuming: %s",
               pne_device_get_name (self), error->message);

  stop_timer (self);
  self->resumed = self->resuming;

  if (expires != NULL)
    expires_str = g_date_time_format_iso8601 (expires);
  granted_str = granted != NULL ? g_strjoinv (",", granted) : g_strdup ("");
  details = details_new ("session_id", session_id, "expires_at", expires_str,
                         "granted_services", granted_str, NULL);
  json_object_set_boolean_member (details, "resumed", self->resuming);
  progress (self, "connected", details,
            "Connected (step 5b): session %s%s", session_id,
            self->resuming ? " (resumed)" : "");
  complete_task (self, NULL);
}

static void
discard_credentials (PneDevice  *self,
                     const char *why)
{
  g_autoptr(GError) error = NULL;

  if (!pne_credentials_delete (self->state_dir, &error))
    g_warning ("%s", error->message);
  g_clear_pointer (&self->creds, pne_credentials_free);
  progress (self, "credentials_discarded", NULL,
            "The credentials were discarded (%s); pair again", why);
}

/* ------------------------------------------------------------------ */
/* Dispatch */

static void
handle_error_frame (PneDevice   *self,
                    CpnsMessage *msg)
{
  g_autoptr(GError) error = cpns_message_to_error (msg);
  const char *code = cpns_message_get_string (msg, "code");

  progress (self, "gateway_error", details_new ("code", code, NULL),
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
    discard_credentials (self, code);

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
      start_connection (self);
      return;
    }
  /* The sender closes; we read and send nothing more. */
  finish (self, g_steal_pointer (&error), NULL);
}

static void
handle_message (PneDevice   *self,
                CpnsMessage *msg)
{
  const char *kind = cpns_message_get_kind (msg);

  if (self->state == STATE_CLOSING)
    return;

  if (g_str_equal (kind, "error"))
    {
      handle_error_frame (self, msg);
      return;
    }
  if (g_str_equal (kind, "ping"))
    {
      g_autoptr(CpnsMessage) pong = cpns_message_new ("pong");

      send_message (self, pong);
      return;
    }
  if (g_str_equal (kind, "pong"))
    return;
  if (g_str_equal (kind, "bye"))
    {
      const char *reason = cpns_message_get_string (msg, "reason");

      progress (self, "bye", details_new ("reason", reason, NULL),
                "The gateway said bye%s%s", reason != NULL ? ": " : "",
                reason != NULL ? reason : "");
      if (self->state == STATE_CONNECTED)
        finish (self, NULL, NULL);
      else
        fail (self, CPNS_ERROR_CLOSED, FALSE, "The gateway ended the connection (bye)");
      return;
    }

#define EXPECT(st, name, handler)                              \
  if (self->state == (st) && g_str_equal (kind, name))         \
    {                                                          \
      handler (self, msg);                                     \
      return;                                                  \
    }
  EXPECT (STATE_WAIT_COMMIT, "pairing_commit", handle_pairing_commit)
  EXPECT (STATE_WAIT_REVEAL, "pairing_reveal", handle_pairing_reveal)
  EXPECT (STATE_WAIT_PAIRING_RESPONSE, "pairing_response", handle_pairing_response)
  EXPECT (STATE_WAIT_PNE_ID, "pne_id_response", handle_pne_id_response)
  EXPECT (STATE_WAIT_KEY_ASSIGNMENT, "key_assignment_request", handle_key_assignment)
  EXPECT (STATE_WAIT_PAIRING_COMPLETE, "pairing_complete", handle_pairing_complete)
  EXPECT (STATE_WAIT_AUTH_CHALLENGE, "auth_challenge", handle_auth_challenge)
  EXPECT (STATE_WAIT_AUTHORIZATION, "authorization_pending", handle_authorization_pending)
  EXPECT (STATE_WAIT_AUTHORIZATION, "authorization_result", handle_authorization_result)
  EXPECT (STATE_WAIT_CONFIRM_ACK, "session_key_confirm_ack", handle_confirm_ack)
  EXPECT (STATE_WAIT_SETUP_COMPLETE, "connection_setup_complete", handle_setup_complete)
  EXPECT (STATE_WAIT_RESUME_COMPLETE, "connection_setup_complete", handle_setup_complete)
#undef EXPECT

  fail (self, CPNS_ERROR_CONFLICT, TRUE,
        "conflict: unexpected %s while waiting (%s)", kind, state_names[self->state]);
}

/* ------------------------------------------------------------------ */
/* Operations */

static gboolean
cancel_in_idle (gpointer user_data)
{
  PneDevice *self = user_data;

  if (self->op != OP_NONE)
    finish (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
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
  progress (self, "gateway_found",
            details_new ("address", address, "gateway_name", name,
                         "gateway_id", cpns_message_get_string (descriptor, "gateway_id"), NULL),
            "Found the gateway “%s” at %s, open for pairing", name, address);
  g_free (self->address);
  self->address = g_strdup (address);
  /* Stop announcing from inside the signal only once it has returned. */
  pne_discovery_stop (self->discovery);
  start_connection (self);
}

static gboolean
on_discovery_timeout (gpointer user_data)
{
  PneDevice *self = user_data;

  self->discovery_timer_id = 0;
  fail (self, CPNS_ERROR_TIMEOUT, FALSE,
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
      finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_INTERNAL, "%s", error->message), NULL);
      return;
    }
  self->existing = pne_credentials_load (self->state_dir, &error);
  if (self->existing == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    progress (self, "credentials_ignored", NULL,
              "Ignoring unreadable credentials: %s", error->message);
  self->has_credentials = self->existing != NULL;
  g_clear_error (&error);

  if (self->gateway_address != NULL)
    {
      self->address = g_strdup (self->gateway_address);
      start_connection (self);
      return;
    }

  self->discovery = pne_discovery_new (json_object_get_string_member (self->entity, "name"),
                                       json_object_get_string_member (self->entity,
                                                                      "entity_type"),
                                       &error);
  if (self->discovery == NULL)
    {
      finish (self, g_error_new (CPNS_ERROR, CPNS_ERROR_INTERNAL,
                                 "Cannot open a discovery socket: %s", error->message), NULL);
      return;
    }
  for (guint i = 0; i < self->discovery_targets->len; i++)
    pne_discovery_add_target (self->discovery, g_ptr_array_index (self->discovery_targets, i));
  pne_discovery_set_multicast (self->discovery, self->multicast);
  pne_discovery_set_interval (self->discovery, self->discovery_interval_ms);
  self->discovery_id = g_signal_connect (self->discovery, "gateway-heard",
                                         G_CALLBACK (on_gateway_heard), self);
  self->state = STATE_DISCOVERING;
  if (self->timeouts.discovery_ms > 0)
    self->discovery_timer_id = g_timeout_add (self->timeouts.discovery_ms,
                                              on_discovery_timeout, self);
  progress (self, "discovering", NULL,
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
      finish (self, g_steal_pointer (&error), NULL);
      return;
    }
  self->address = g_strdup (self->gateway_address != NULL ? self->gateway_address
                                                          : self->creds->gateway_address);
  self->resuming = pne_credentials_has_live_session (self->creds, now_seconds ());
  start_connection (self);
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
      finish (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "Operation was cancelled"), NULL);
      return;
    }
  if (!self->connected || self->state != STATE_CONNECTED)
    return;
  bye = cpns_message_new ("bye");
  cpns_message_set_string (bye, "reason", "device disconnecting");
  send_message (self, bye);
  progress (self, "disconnecting", NULL, "Sent bye");
  finish (self, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Descriptor */

JsonObject *
pne_entity_new (const char         *name,
                const char         *entity_type,
                const char         *manufacturer,
                const char         *model,
                const char         *serial,
                const char * const *services,
                GError            **error)
{
  g_autoptr(JsonObject) entity = json_object_new ();

  json_object_set_string_member (entity, "name", name != NULL ? name : "");
  json_object_set_string_member (entity, "entity_type", entity_type != NULL ? entity_type : "");
  if (manufacturer != NULL)
    json_object_set_string_member (entity, "manufacturer", manufacturer);
  if (model != NULL)
    json_object_set_string_member (entity, "model", model);
  if (serial != NULL)
    json_object_set_string_member (entity, "serial", serial);
  if (services != NULL && services[0] != NULL)
    {
      JsonArray *array = json_array_new ();

      json_object_set_array_member (entity, "services", array);
      for (guint i = 0; services[i] != NULL; i++)
        {
          g_auto(GStrv) parts = g_strsplit (services[i], ":", -1);
          guint n = g_strv_length (parts);
          JsonObject *service;

          if (n < 2 || n > 3 || *parts[0] == '\0' || *parts[1] == '\0')
            {
              g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "Service “%s” is not NAME:PROTO[:PORT]", services[i]);
              return NULL;
            }
          service = json_object_new ();
          json_object_set_string_member (service, "name", parts[0]);
          json_object_set_string_member (service, "protocol", parts[1]);
          if (n == 3)
            {
              guint64 port;

              if (!g_ascii_string_to_unsigned (parts[2], 10, 1, 65535, &port, NULL))
                {
                  json_object_unref (service);
                  g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                               "Service “%s”: the port must be 1–65535", services[i]);
                  return NULL;
                }
              json_object_set_int_member (service, "port", (gint64) port);
            }
          json_array_add_object_element (array, service);
        }
    }
  if (!cpns_entity_descriptor_validate (entity, "entity", error))
    return NULL;
  return g_steal_pointer (&entity);
}
