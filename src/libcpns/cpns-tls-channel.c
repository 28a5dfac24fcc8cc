/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-frame.h"
#include "cpns-message.h"
#include "cpns-tls.h"
#include "cpns-tls-private.h"

/*
 * How it works
 *
 * GnuTLS reads and writes through pull/push functions that use the base
 * stream's non-blocking pollable API and answer EAGAIN when the socket has
 * nothing (or no room). Whenever a GnuTLS call returns GNUTLS_E_AGAIN the
 * channel arms a pollable source for the direction GnuTLS waits on, on the
 * GMainContext that was thread-default at creation; its callback runs
 * channel_pump(), which continues whatever the channel is doing: the
 * handshake, flushing queued frames, reading frames, or closing.
 *
 * "closed" is always emitted from an idle callback on that context, never
 * from inside a call into the channel, and at most once. A channel whose
 * handshake fails reports that through handshake_finish() only (no
 * "closed"). While a close is in progress (or the "closed" emission is
 * pending) the channel holds a reference on itself, so the owner may drop
 * its reference right after cpns_tls_channel_close().
 *
 * Closing: queued frames are flushed, close_notify is sent
 * (gnutls_bye (GNUTLS_SHUT_WR)), the socket's write side is shut down and
 * what the peer still sends is discarded unread until it closes (at most
 * LINGER_MS), so that our last frame is not lost to a TCP reset; then the
 * base stream is closed.
 *
 * The peer closing the connection is reported as CPNS_ERROR_CLOSED
 * ("peer closed the connection" after a close_notify, "connection closed
 * without close_notify" otherwise); a NULL error means this side closed.
 */

#define READ_CHUNK       16384
#define MAX_RECORD       16384
#define CLOSE_TIMEOUT_MS 3000
#define LINGER_MS        1000
#define MAX_RECORDS_PER_DISPATCH 32
/* Back-pressure: while more than this waits to be sent (a peer that does
 * not read its answers), frames are not read, so the queue stays bounded. */
#define MAX_QUEUED_OUT   (256 * 1024)

typedef enum
{
  STATE_NEW,
  STATE_HANDSHAKING,
  STATE_OPEN,
  STATE_CLOSING,   /* flushing, then close_notify */
  STATE_LINGER,    /* write side shut; draining until the peer closes */
  STATE_CLOSED,
} ChannelState;

struct _CpnsTlsChannel
{
  GObject                           parent_instance;

  GMainContext                     *context;
  GIOStream                        *base;
  GPollableInputStream             *in;
  GPollableOutputStream            *out;
  gboolean                          is_server;
  ChannelState                      state;

  gnutls_session_t                  session;
  CpnsCertificate                  *certificate;       /* server */
  gnutls_certificate_credentials_t  client_cert_cred;  /* client, cert mode */
  gnutls_psk_server_credentials_t   psk_server_cred;
  gnutls_psk_client_credentials_t   psk_client_cred;
  char                             *priority;

  CpnsPskLookupFunc                 psk_lookup;
  gpointer                          psk_lookup_data;
  GDestroyNotify                    psk_lookup_destroy;

  char                             *pin;
  char                             *peer_sha256;
  gboolean                          pin_mismatch;
  char                             *psk_identity;
  gboolean                          is_psk;
  gboolean                          established;

  GError                           *transport_error;
  GSource                          *read_source;
  GSource                          *write_source;

  /* handshake */
  GTask                            *handshake_task;
  GSource                          *timeout_source;
  GSource                          *cancel_source;

  /* frames */
  CpnsFrameReader                  *reader;
  CpnsFrameWriter                  *writer;
  gsize                             max_frame;
  gboolean                          reading;
  guint8                           *read_buf;

  /* closing */
  GError                           *close_error;
  GSource                          *close_timeout;
  GSource                          *closed_idle;
  gboolean                          closed_emitted;
  gboolean                          holds_self_ref;
};

G_DEFINE_FINAL_TYPE (CpnsTlsChannel, cpns_tls_channel, G_TYPE_OBJECT)

enum {
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void channel_pump (CpnsTlsChannel *self);

/* ------------------------------------------------------------------ */
/* Transport */

/* Tells GnuTLS why a transport call returned -1: EAGAIN when the socket
 * would block, else @hard_errno, keeping the GError for the "closed" report. */
static ssize_t
transport_failed (CpnsTlsChannel *self,
                  GError        **error,
                  int             hard_errno)
{
  if (*error == NULL || g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_clear_error (error);
      gnutls_transport_set_errno (self->session, EAGAIN);
      return -1;
    }
  g_clear_error (&self->transport_error);
  self->transport_error = g_steal_pointer (error);
  gnutls_transport_set_errno (self->session, hard_errno);
  return -1;
}

static ssize_t
channel_pull (gnutls_transport_ptr_t  ptr,
              void                   *buf,
              size_t                  len)
{
  CpnsTlsChannel *self = ptr;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_pollable_input_stream_read_nonblocking (self->in, buf, len, NULL, &error);
  if (n >= 0)
    return n;
  return transport_failed (self, &error, ECONNRESET);
}

static ssize_t
channel_push (gnutls_transport_ptr_t  ptr,
              const void             *buf,
              size_t                  len)
{
  CpnsTlsChannel *self = ptr;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_pollable_output_stream_write_nonblocking (self->out, buf, len, NULL, &error);
  if (n >= 0)
    return n;
  return transport_failed (self, &error, EPIPE);
}

/* A whole flight (several records) in one writev, so that the handshake
 * does not wait on Nagle and delayed ACKs. */
static ssize_t
channel_vec_push (gnutls_transport_ptr_t  ptr,
                  const giovec_t         *iov,
                  int                     iovcnt)
{
  CpnsTlsChannel *self = ptr;
  g_autoptr(GError) error = NULL;
  GOutputVector vectors[16];
  gsize written = 0;
  int n = MIN (iovcnt, (int) G_N_ELEMENTS (vectors));

  for (int i = 0; i < n; i++)
    {
      vectors[i].buffer = iov[i].iov_base;
      vectors[i].size = iov[i].iov_len;
    }

  switch (g_pollable_output_stream_writev_nonblocking (self->out, vectors, (gsize) n,
                                                       &written, NULL, &error))
    {
    case G_POLLABLE_RETURN_OK:
      return (ssize_t) written;
    case G_POLLABLE_RETURN_WOULD_BLOCK:
    case G_POLLABLE_RETURN_FAILED:
    default:
      return transport_failed (self, &error, EPIPE);
    }
}

static gboolean
on_read_ready (GObject  *stream,
               gpointer  user_data)
{
  CpnsTlsChannel *self = user_data;

  g_clear_pointer (&self->read_source, g_source_unref);
  g_object_ref (self);
  channel_pump (self);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_write_ready (GObject  *stream,
                gpointer  user_data)
{
  CpnsTlsChannel *self = user_data;

  g_clear_pointer (&self->write_source, g_source_unref);
  g_object_ref (self);
  channel_pump (self);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
wait_readable (CpnsTlsChannel *self)
{
  if (self->read_source != NULL)
    return;
  self->read_source = g_pollable_input_stream_create_source (self->in, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_read_ready), self, NULL);
  g_source_attach (self->read_source, self->context);
}

static void
wait_writable (CpnsTlsChannel *self)
{
  if (self->write_source != NULL)
    return;
  self->write_source = g_pollable_output_stream_create_source (self->out, NULL);
  g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_write_ready), self, NULL);
  g_source_attach (self->write_source, self->context);
}

/* After GNUTLS_E_AGAIN: wait for the direction GnuTLS was blocked on. */
static void
wait_for_gnutls (CpnsTlsChannel *self)
{
  if (gnutls_record_get_direction (self->session) == 1)
    wait_writable (self);
  else
    wait_readable (self);
}

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
stop_io (CpnsTlsChannel *self)
{
  destroy_source (&self->read_source);
  destroy_source (&self->write_source);
  destroy_source (&self->close_timeout);
}

/* ------------------------------------------------------------------ */
/* Closing */

static gboolean
emit_closed_idle (gpointer user_data)
{
  CpnsTlsChannel *self = user_data;
  g_autoptr(GError) error = g_steal_pointer (&self->close_error);

  g_clear_pointer (&self->closed_idle, g_source_unref);
  self->closed_emitted = TRUE;
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
  return G_SOURCE_REMOVE;
}

static void
hold_self (CpnsTlsChannel *self)
{
  if (!self->holds_self_ref)
    {
      self->holds_self_ref = TRUE;
      g_object_ref (self);
    }
}

/* Closes the base stream now; queues "closed" (with self->close_error)
 * unless @emit is FALSE. */
static void
finish_close (CpnsTlsChannel *self,
              gboolean        emit)
{
  gboolean held = self->holds_self_ref;

  if (self->state == STATE_CLOSED)
    return;

  self->state = STATE_CLOSED;
  stop_io (self);
  g_io_stream_close (self->base, NULL, NULL);
  self->holds_self_ref = FALSE;

  if (emit && !self->closed_emitted && self->closed_idle == NULL)
    {
      self->closed_idle = g_idle_source_new ();
      g_source_set_priority (self->closed_idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->closed_idle, emit_closed_idle,
                             g_object_ref (self), g_object_unref);
      g_source_attach (self->closed_idle, self->context);
    }

  if (held)
    g_object_unref (self);
}

/* Something went wrong on an open channel: close at once with @error. */
static void
fail_now (CpnsTlsChannel *self,
          GError         *error)
{
  if (self->state == STATE_CLOSED)
    {
      g_error_free (error);
      return;
    }
  if (self->close_error == NULL)
    self->close_error = error;
  else
    g_error_free (error);
  finish_close (self, TRUE);
}

static gboolean
on_close_timeout (gpointer user_data)
{
  CpnsTlsChannel *self = user_data;

  g_clear_pointer (&self->close_timeout, g_source_unref);
  g_debug ("TLS channel: close did not complete in time, dropping the connection");
  finish_close (self, TRUE);
  return G_SOURCE_REMOVE;
}

static void
begin_close (CpnsTlsChannel *self)
{
  self->state = STATE_CLOSING;
  self->reading = FALSE;
  destroy_source (&self->read_source);
  hold_self (self);
  if (self->close_timeout == NULL)
    {
      self->close_timeout = g_timeout_source_new (CLOSE_TIMEOUT_MS);
      g_source_set_callback (self->close_timeout, on_close_timeout, self, NULL);
      g_source_attach (self->close_timeout, self->context);
    }
}

/* Drains what the peer still sends after our close_notify, unread. */
static void
pump_linger (CpnsTlsChannel *self)
{
  guint8 buf[4096];

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (self->in, buf, sizeof buf,
                                                            NULL, &error);
      if (n > 0)
        continue;
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          wait_readable (self);
          return;
        }
      finish_close (self, TRUE);
      return;
    }
}

static void
enter_linger (CpnsTlsChannel *self)
{
  GSocket *socket;

  if (!G_IS_SOCKET_CONNECTION (self->base))
    {
      finish_close (self, TRUE);
      return;
    }

  socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->base));
  if (!g_socket_shutdown (socket, FALSE, TRUE, NULL))
    {
      finish_close (self, TRUE);
      return;
    }

  self->state = STATE_LINGER;
  destroy_source (&self->write_source);
  destroy_source (&self->close_timeout);
  self->close_timeout = g_timeout_source_new (LINGER_MS);
  g_source_set_callback (self->close_timeout, on_close_timeout, self, NULL);
  g_source_attach (self->close_timeout, self->context);
  pump_linger (self);
}

/* ------------------------------------------------------------------ */
/* Frames */

static GError *
record_error (CpnsTlsChannel *self,
              int             ret)
{
  if (ret == GNUTLS_E_PREMATURE_TERMINATION)
    return g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED,
                        "closed: connection closed without close_notify");
  if ((ret == GNUTLS_E_PULL_ERROR || ret == GNUTLS_E_PUSH_ERROR) &&
      self->transport_error != NULL)
    return g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED, "closed: %s",
                        self->transport_error->message);
  return g_error_new (CPNS_ERROR, CPNS_ERROR_TLS_FAILED, "tls_failed: %s",
                      gnutls_strerror (ret));
}

/* Returns FALSE if the channel failed. */
static gboolean
pump_write (CpnsTlsChannel *self)
{
  while (!cpns_frame_writer_is_empty (self->writer))
    {
      gsize len = 0;
      const guint8 *data = cpns_frame_writer_peek (self->writer, &len);
      ssize_t ret;

      ret = gnutls_record_send (self->session, data, MIN (len, MAX_RECORD));
      if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
        {
          wait_for_gnutls (self);
          return TRUE;
        }
      if (ret < 0)
        {
          fail_now (self, record_error (self, (int) ret));
          return FALSE;
        }
      cpns_frame_writer_advance (self->writer, (gsize) ret);
    }
  return TRUE;
}

/* A protocol failure on what the peer sent: answer with an "error" frame
 * and close; "closed" carries @error. */
static void
protocol_fail (CpnsTlsChannel *self,
               GError         *error)
{
  g_debug ("TLS channel: closing after a bad frame: %s", error->message);
  cpns_tls_channel_send_error_and_close (self, error);
  if (self->close_error == NULL)
    self->close_error = error;
  else
    g_error_free (error);
}

static void
handle_body (CpnsTlsChannel *self,
             GBytes         *body)
{
  g_autoptr(CpnsMessage) msg = NULL;
  GError *error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  msg = cpns_message_decode_frame (data, len, self->max_frame, &error);
  if (msg == NULL)
    {
      protocol_fail (self, error);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, msg);
}

static gboolean
on_read_resume (gpointer user_data)
{
  return on_read_ready (NULL, user_data);
}

static void
pump_read (CpnsTlsChannel *self)
{
  guint records = 0;

  while (self->reading && self->state == STATE_OPEN)
    {
      ssize_t n;
      gsize off = 0;

      if (cpns_frame_writer_get_queued_bytes (self->writer) > MAX_QUEUED_OUT)
        {
          /* pump_write() found the socket full; reading resumes from
           * channel_pump() once it drains. */
          wait_writable (self);
          return;
        }

      /* A peer that never stops sending must not starve the others that
       * share the main context: yield, and resume from an idle. */
      if (++records > MAX_RECORDS_PER_DISPATCH)
        {
          if (self->read_source == NULL)
            {
              self->read_source = g_idle_source_new ();
              g_source_set_callback (self->read_source, on_read_resume, self, NULL);
              g_source_attach (self->read_source, self->context);
            }
          return;
        }

      n = gnutls_record_recv (self->session, self->read_buf, READ_CHUNK);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        {
          wait_for_gnutls (self);
          return;
        }
      if (n == 0)
        {
          /* close_notify: answer it, best effort, and close. */
          gnutls_bye (self->session, GNUTLS_SHUT_WR);
          fail_now (self, g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED,
                                       "closed: peer closed the connection"));
          return;
        }
      if (n < 0)
        {
          if (!gnutls_error_is_fatal ((int) n))
            continue;
          fail_now (self, record_error (self, (int) n));
          return;
        }

      while (off < (gsize) n && self->reading && self->state == STATE_OPEN)
        {
          g_autoptr(GBytes) body = NULL;
          GError *error = NULL;
          gsize consumed = 0;

          if (!cpns_frame_reader_feed (self->reader, self->read_buf + off,
                                       (gsize) n - off, &consumed, &error))
            {
              protocol_fail (self, error);
              return;
            }
          off += consumed;
          body = cpns_frame_reader_pop (self->reader);
          if (body != NULL)
            handle_body (self, body);
          else if (consumed == 0)
            break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Handshake */

static void
handshake_done (CpnsTlsChannel *self,
                GError         *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->handshake_task);

  destroy_source (&self->timeout_source);
  destroy_source (&self->cancel_source);

  if (error != NULL)
    {
      g_debug ("TLS channel: handshake failed: %s", error->message);
      finish_close (self, FALSE);
      if (task != NULL)
        g_task_return_error (task, error);
      else
        g_error_free (error);
      return;
    }

  self->state = STATE_OPEN;
  self->established = TRUE;
  self->is_psk = gnutls_auth_get_type (self->session) == GNUTLS_CRD_PSK;
  if (!self->is_psk)
    g_clear_pointer (&self->psk_identity, g_free);
  g_debug ("TLS channel: %s handshake complete (%s)",
           self->is_server ? "server" : "client",
           self->is_psk ? "PSK" : "certificate");
  if (task != NULL)
    g_task_return_boolean (task, TRUE);

  /* Frames queued during the handshake. */
  pump_write (self);
}

static GError *
handshake_error (CpnsTlsChannel *self,
                 int             ret)
{
  if (self->pin_mismatch)
    return g_error_new (CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH,
                        "pin_mismatch: the gateway certificate does not match the pin "
                        "(expected %.16s..., got %.16s...)",
                        self->pin, self->peer_sha256 ? self->peer_sha256 : "nothing");
  if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
    return g_error_new (CPNS_ERROR, CPNS_ERROR_TLS_FAILED,
                        "tls_failed: handshake refused by the peer (%s)",
                        gnutls_alert_get_name (gnutls_alert_get (self->session)));
  if ((ret == GNUTLS_E_PULL_ERROR || ret == GNUTLS_E_PUSH_ERROR) &&
      self->transport_error != NULL)
    return g_error_new (CPNS_ERROR, CPNS_ERROR_TLS_FAILED,
                        "tls_failed: handshake failed: %s",
                        self->transport_error->message);
  if (ret == GNUTLS_E_PREMATURE_TERMINATION)
    return g_error_new (CPNS_ERROR, CPNS_ERROR_TLS_FAILED,
                        "tls_failed: the peer closed the connection during the handshake");
  return g_error_new (CPNS_ERROR, CPNS_ERROR_TLS_FAILED,
                      "tls_failed: handshake failed: %s", gnutls_strerror (ret));
}

/* Tell the peer why, best effort (not after a pin mismatch: the peer may
 * be an impostor and gets nothing, §4.1). */
static void
send_handshake_alert (CpnsTlsChannel *self,
                      int             ret)
{
  if (!self->pin_mismatch && ret != GNUTLS_E_PUSH_ERROR && ret != GNUTLS_E_PULL_ERROR &&
      ret != GNUTLS_E_PREMATURE_TERMINATION && ret != GNUTLS_E_FATAL_ALERT_RECEIVED)
    gnutls_alert_send_appropriate (self->session, ret);
}

static void
pump_handshake (CpnsTlsChannel *self)
{
  for (;;)
    {
      int ret = gnutls_handshake (self->session);

      if (ret == GNUTLS_E_SUCCESS)
        {
          handshake_done (self, NULL);
          return;
        }
      if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
        {
          wait_for_gnutls (self);
          return;
        }
      if (!gnutls_error_is_fatal (ret))
        continue;
      send_handshake_alert (self, ret);
      handshake_done (self, handshake_error (self, ret));
      return;
    }
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  CpnsTlsChannel *self = user_data;
  guint timeout_ms = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (self->handshake_task),
                                                          "timeout-ms"));

  g_clear_pointer (&self->timeout_source, g_source_unref);
  handshake_done (self, g_error_new (CPNS_ERROR, CPNS_ERROR_TIMEOUT,
                                     "timeout: TLS handshake did not complete within %u ms",
                                     timeout_ms));
  return G_SOURCE_REMOVE;
}

static gboolean
on_handshake_cancelled (GCancellable *cancellable,
                        gpointer      user_data)
{
  CpnsTlsChannel *self = user_data;

  g_clear_pointer (&self->cancel_source, g_source_unref);
  handshake_done (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             "TLS handshake cancelled"));
  return G_SOURCE_REMOVE;
}

/* Certificate mode, client side: record the server certificate's SHA-256
 * and check it against the pin. Runs inside gnutls_handshake(). */
static int
verify_server_certificate (gnutls_session_t session)
{
  CpnsTlsChannel *self = gnutls_session_get_ptr (session);
  const gnutls_datum_t *peers;
  unsigned int n_peers = 0;

  peers = gnutls_certificate_get_peers (session, &n_peers);
  if (peers == NULL || n_peers == 0)
    return -1;

  g_free (self->peer_sha256);
  self->peer_sha256 = cpns_sha256_hex (peers[0].data, peers[0].size);

  if (self->pin != NULL &&
      g_ascii_strcasecmp (self->pin, self->peer_sha256) != 0)
    {
      self->pin_mismatch = TRUE;
      return -1;
    }
  return 0;
}

/* PSK mode, server side. Runs inside gnutls_handshake(). */
static int
lookup_psk (gnutls_session_t      session,
            const gnutls_datum_t *username,
            gnutls_datum_t       *key)
{
  CpnsTlsChannel *self = gnutls_session_get_ptr (session);
  g_autofree char *identity = NULL;
  guint8 k[CPNS_KEY_LEN];

  if (self->psk_lookup == NULL || username->size == 0 || username->size > 256 ||
      memchr (username->data, '\0', username->size) != NULL)
    return -1;

  identity = g_strndup ((const char *) username->data, username->size);
  if (!g_utf8_validate (identity, -1, NULL))
    return -1;

  if (!self->psk_lookup (identity, k, self->psk_lookup_data))
    {
      g_debug ("TLS channel: unknown PSK identity");
      cpns_wipe (k, sizeof k);
      return -1;
    }

  key->data = gnutls_malloc (CPNS_KEY_LEN);
  if (key->data == NULL)
    {
      cpns_wipe (k, sizeof k);
      return -1;
    }
  memcpy (key->data, k, CPNS_KEY_LEN);
  key->size = CPNS_KEY_LEN;
  cpns_wipe (k, sizeof k);

  g_free (self->psk_identity);
  self->psk_identity = g_steal_pointer (&identity);
  return 0;
}

/* ------------------------------------------------------------------ */
/* The pump */

static void
channel_pump (CpnsTlsChannel *self)
{
  int ret;

  switch (self->state)
    {
    case STATE_NEW:
    case STATE_CLOSED:
      return;

    case STATE_HANDSHAKING:
      pump_handshake (self);
      return;

    case STATE_OPEN:
      if (!pump_write (self))
        return;
      pump_read (self);
      return;

    case STATE_CLOSING:
      if (!pump_write (self) || self->state != STATE_CLOSING)
        return;
      if (!cpns_frame_writer_is_empty (self->writer))
        return;
      ret = gnutls_bye (self->session, GNUTLS_SHUT_WR);
      if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
        {
          wait_for_gnutls (self);
          return;
        }
      if (ret < 0)
        {
          finish_close (self, TRUE);
          return;
        }
      enter_linger (self);
      return;

    case STATE_LINGER:
      pump_linger (self);
      return;

    default:
      g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------ */
/* GObject */

static void
cpns_tls_channel_dispose (GObject *object)
{
  CpnsTlsChannel *self = CPNS_TLS_CHANNEL (object);

  g_assert (self->handshake_task == NULL);

  stop_io (self);
  destroy_source (&self->timeout_source);
  destroy_source (&self->cancel_source);
  destroy_source (&self->closed_idle);
  if (self->state != STATE_CLOSED && self->base != NULL)
    {
      self->state = STATE_CLOSED;
      g_io_stream_close (self->base, NULL, NULL);
    }

  G_OBJECT_CLASS (cpns_tls_channel_parent_class)->dispose (object);
}

static void
cpns_tls_channel_finalize (GObject *object)
{
  CpnsTlsChannel *self = CPNS_TLS_CHANNEL (object);

  if (self->session != NULL)
    gnutls_deinit (self->session);
  if (self->client_cert_cred != NULL)
    gnutls_certificate_free_credentials (self->client_cert_cred);
  if (self->psk_server_cred != NULL)
    gnutls_psk_free_server_credentials (self->psk_server_cred);
  if (self->psk_client_cred != NULL)
    gnutls_psk_free_client_credentials (self->psk_client_cred);
  g_clear_pointer (&self->certificate, cpns_certificate_unref);
  if (self->psk_lookup_destroy != NULL)
    self->psk_lookup_destroy (self->psk_lookup_data);

  g_clear_pointer (&self->reader, cpns_frame_reader_free);
  g_clear_pointer (&self->writer, cpns_frame_writer_free);
  g_free (self->read_buf);
  g_free (self->priority);
  g_free (self->pin);
  g_free (self->peer_sha256);
  g_free (self->psk_identity);
  g_clear_error (&self->transport_error);
  g_clear_error (&self->close_error);
  g_clear_object (&self->base);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (cpns_tls_channel_parent_class)->finalize (object);
}

static void
cpns_tls_channel_class_init (CpnsTlsChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cpns_tls_channel_dispose;
  object_class->finalize = cpns_tls_channel_finalize;

  /**
   * CpnsTlsChannel::message-received:
   * @msg: the decoded frame
   */
  signals[SIGNAL_MESSAGE_RECEIVED] =
    g_signal_new ("message-received",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CPNS_TYPE_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * CpnsTlsChannel::closed:
   * @error: (nullable): NULL when this side closed
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
cpns_tls_channel_init (CpnsTlsChannel *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->max_frame = CPNS_MAX_MESSAGE_SIZE;
  self->reader = cpns_frame_reader_new (self->max_frame);
  self->writer = cpns_frame_writer_new ();
  self->read_buf = g_malloc (READ_CHUNK);
}

static CpnsTlsChannel *
channel_new (GIOStream *base,
             gboolean   is_server)
{
  CpnsTlsChannel *self;
  GInputStream *in = g_io_stream_get_input_stream (base);
  GOutputStream *out = g_io_stream_get_output_stream (base);
  unsigned int flags;
  int ret;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (in), NULL);
  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (out), NULL);

  self = g_object_new (CPNS_TYPE_TLS_CHANNEL, NULL);
  self->base = g_object_ref (base);
  self->in = G_POLLABLE_INPUT_STREAM (in);
  self->out = G_POLLABLE_OUTPUT_STREAM (out);
  self->is_server = is_server;

  /* Frames are small and interactive: no Nagle delay. */
  if (G_IS_SOCKET_CONNECTION (base))
    {
      GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (base));

      if (g_socket_get_family (socket) != G_SOCKET_FAMILY_UNIX)
        g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    }

  flags = (is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL;
#ifdef GNUTLS_NO_TICKETS
  flags |= GNUTLS_NO_TICKETS;
#endif
  ret = gnutls_init (&self->session, flags);
  if (ret < 0)
    g_error ("gnutls_init failed: %s", gnutls_strerror (ret));

  gnutls_session_set_ptr (self->session, self);
  gnutls_transport_set_ptr (self->session, self);
  gnutls_transport_set_pull_function (self->session, channel_pull);
  gnutls_transport_set_push_function (self->session, channel_push);
  gnutls_transport_set_vec_push_function (self->session, channel_vec_push);
  gnutls_handshake_set_timeout (self->session, 0);

  return self;
}

CpnsTlsChannel *
cpns_tls_channel_new_server (GIOStream         *base,
                             CpnsCertificate   *certificate,
                             CpnsPskLookupFunc  psk_lookup,
                             gpointer           psk_lookup_data,
                             GDestroyNotify     psk_lookup_destroy)
{
  CpnsTlsChannel *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (certificate != NULL || psk_lookup != NULL, NULL);

  self = channel_new (base, TRUE);
  self->priority = g_strdup (CPNS_TLS_PRIORITY_SERVER);

  if (certificate != NULL)
    {
      self->certificate = cpns_certificate_ref (certificate);
      gnutls_credentials_set (self->session, GNUTLS_CRD_CERTIFICATE,
                              cpns_certificate_get_server_credentials (certificate));
    }

  self->psk_lookup = psk_lookup;
  self->psk_lookup_data = psk_lookup_data;
  self->psk_lookup_destroy = psk_lookup_destroy;
  if (psk_lookup != NULL)
    {
      gnutls_psk_allocate_server_credentials (&self->psk_server_cred);
      gnutls_psk_set_server_credentials_function2 (self->psk_server_cred, lookup_psk);
      gnutls_credentials_set (self->session, GNUTLS_CRD_PSK, self->psk_server_cred);
    }

  return self;
}

CpnsTlsChannel *
cpns_tls_channel_new_client (GIOStream  *base,
                             const char *pin_sha256)
{
  CpnsTlsChannel *self;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);

  self = channel_new (base, FALSE);
  self->priority = g_strdup (CPNS_TLS_PRIORITY_CLIENT_CERT);
  self->pin = g_strdup (pin_sha256);

  gnutls_certificate_allocate_credentials (&self->client_cert_cred);
  gnutls_certificate_set_verify_function (self->client_cert_cred,
                                          verify_server_certificate);
  gnutls_credentials_set (self->session, GNUTLS_CRD_CERTIFICATE, self->client_cert_cred);

  return self;
}

CpnsTlsChannel *
cpns_tls_channel_new_client_psk (GIOStream    *base,
                                 const char   *identity,
                                 const guint8  key[CPNS_KEY_LEN])
{
  CpnsTlsChannel *self;
  gnutls_datum_t k;
  guint8 copy[CPNS_KEY_LEN];

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (identity != NULL && *identity != '\0', NULL);
  g_return_val_if_fail (key != NULL, NULL);

  self = channel_new (base, FALSE);
  self->priority = g_strdup (CPNS_TLS_PRIORITY_CLIENT_PSK);
  self->psk_identity = g_strdup (identity);

  memcpy (copy, key, CPNS_KEY_LEN);
  k.data = copy;
  k.size = CPNS_KEY_LEN;
  gnutls_psk_allocate_client_credentials (&self->psk_client_cred);
  gnutls_psk_set_client_credentials (self->psk_client_cred, identity, &k,
                                     GNUTLS_PSK_KEY_RAW);
  cpns_wipe (copy, sizeof copy);
  gnutls_credentials_set (self->session, GNUTLS_CRD_PSK, self->psk_client_cred);

  return self;
}

void
cpns_tls_channel_set_priority (CpnsTlsChannel *self,
                               const char     *priority)
{
  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));
  g_return_if_fail (self->state == STATE_NEW);

  g_free (self->priority);
  self->priority = g_strdup (priority);
}

gnutls_session_t
cpns_tls_channel_get_session (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), NULL);

  return self->session;
}

void
cpns_tls_channel_handshake_async (CpnsTlsChannel      *self,
                                  guint                timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  const char *err_pos = NULL;
  int ret;

  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, cpns_tls_channel_handshake_async);
  g_task_set_check_cancellable (task, FALSE);

  if (self->state != STATE_NEW)
    {
      g_task_return_new_error (task, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                               "internal: handshake already started");
      return;
    }

  ret = gnutls_priority_set_direct (self->session, self->priority, &err_pos);
  if (ret < 0)
    {
      self->state = STATE_CLOSED;
      g_io_stream_close (self->base, NULL, NULL);
      g_task_return_new_error (task, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                               "internal: bad TLS priority at '%s': %s",
                               err_pos ? err_pos : "", gnutls_strerror (ret));
      return;
    }

  if (g_cancellable_is_cancelled (cancellable))
    {
      self->state = STATE_CLOSED;
      g_io_stream_close (self->base, NULL, NULL);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "TLS handshake cancelled");
      return;
    }

  self->state = STATE_HANDSHAKING;
  self->handshake_task = g_steal_pointer (&task);
  g_object_set_data (G_OBJECT (self->handshake_task), "timeout-ms",
                     GUINT_TO_POINTER (timeout_ms));

  if (timeout_ms > 0)
    {
      self->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (self->timeout_source, on_handshake_timeout, self, NULL);
      g_source_attach (self->timeout_source, self->context);
    }
  if (cancellable != NULL)
    {
      self->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (on_handshake_cancelled),
                             self, NULL);
      g_source_attach (self->cancel_source, self->context);
    }

  /* The task holds a reference on self until it returns. */
  pump_handshake (self);
}

gboolean
cpns_tls_channel_handshake_finish (CpnsTlsChannel  *self,
                                   GAsyncResult    *result,
                                   GError         **error)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
cpns_tls_channel_is_psk (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), FALSE);

  return self->is_psk;
}

const char *
cpns_tls_channel_get_psk_identity (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), NULL);

  return self->is_psk ? self->psk_identity : NULL;
}

const char *
cpns_tls_channel_get_peer_sha256 (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), NULL);

  return self->peer_sha256;
}

gboolean
cpns_tls_channel_export (CpnsTlsChannel  *self,
                         const char      *label,
                         guint8           out[CPNS_EXPORTER_LEN],
                         GError         **error)
{
  int ret;

  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);

  if (!self->established)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "internal: no TLS session to export keying material from");
      return FALSE;
    }

  ret = gnutls_prf_rfc5705 (self->session, strlen (label), label, 0, NULL,
                            CPNS_EXPORTER_LEN, (char *) out);
  if (ret < 0)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED,
                   "tls_failed: exporter: %s", gnutls_strerror (ret));
      return FALSE;
    }
  return TRUE;
}

GSocketAddress *
cpns_tls_channel_get_remote_address (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), NULL);

  if (!G_IS_SOCKET_CONNECTION (self->base))
    return NULL;
  return g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (self->base), NULL);
}

void
cpns_tls_channel_set_max_frame (CpnsTlsChannel *self,
                                gsize           max_body)
{
  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));
  g_return_if_fail (max_body > 0);

  self->max_frame = max_body;
  cpns_frame_reader_set_max (self->reader, max_body);
}

void
cpns_tls_channel_start (CpnsTlsChannel *self)
{
  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));
  g_return_if_fail (self->state != STATE_NEW && self->state != STATE_HANDSHAKING);

  if (self->state != STATE_OPEN || self->reading)
    return;

  self->reading = TRUE;
  g_object_ref (self);
  pump_read (self);
  g_object_unref (self);
}

void
cpns_tls_channel_send (CpnsTlsChannel *self,
                       CpnsMessage    *msg)
{
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));
  g_return_if_fail (msg != NULL);

  if (self->state != STATE_NEW && self->state != STATE_HANDSHAKING &&
      self->state != STATE_OPEN)
    {
      g_debug ("TLS channel: dropping a '%s' frame, the channel is closing",
               cpns_message_get_kind (msg));
      return;
    }

  body = cpns_message_encode (msg, &error);
  if (body == NULL)
    {
      g_critical ("TLS channel: cannot encode a '%s' frame: %s",
                  cpns_message_get_kind (msg), error->message);
      return;
    }

  cpns_frame_writer_push (self->writer, body);
  if (self->state == STATE_OPEN)
    pump_write (self);
}

void
cpns_tls_channel_send_error_and_close (CpnsTlsChannel *self,
                                       const GError   *error)
{
  g_autoptr(CpnsMessage) msg = NULL;

  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));
  g_return_if_fail (error != NULL);

  if (self->state != STATE_OPEN)
    {
      cpns_tls_channel_close (self);
      return;
    }

  msg = cpns_message_new_error (error);
  cpns_tls_channel_send (self, msg);
  cpns_tls_channel_close (self);
}

void
cpns_tls_channel_close (CpnsTlsChannel *self)
{
  g_return_if_fail (CPNS_IS_TLS_CHANNEL (self));

  switch (self->state)
    {
    case STATE_NEW:
      self->state = STATE_CLOSED;
      g_io_stream_close (self->base, NULL, NULL);
      return;

    case STATE_HANDSHAKING:
      g_object_ref (self);
      handshake_done (self, g_error_new (CPNS_ERROR, CPNS_ERROR_CLOSED,
                                         "closed: channel closed during the handshake"));
      g_object_unref (self);
      return;

    case STATE_OPEN:
      g_object_ref (self);
      begin_close (self);
      channel_pump (self);
      g_object_unref (self);
      return;

    case STATE_CLOSING:
    case STATE_LINGER:
    case STATE_CLOSED:
      return;

    default:
      g_assert_not_reached ();
    }
}

gboolean
cpns_tls_channel_is_closing (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), FALSE);

  return self->state == STATE_CLOSING || self->state == STATE_LINGER;
}

gboolean
cpns_tls_channel_is_closed (CpnsTlsChannel *self)
{
  g_return_val_if_fail (CPNS_IS_TLS_CHANNEL (self), TRUE);

  return self->state == STATE_CLOSING || self->state == STATE_LINGER ||
         self->state == STATE_CLOSED;
}
