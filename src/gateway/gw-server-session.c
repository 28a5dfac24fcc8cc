/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-server-session"

#include "config.h"

#include <libsoup/soup.h>

#include "cpns-base64.h"
#include "cpns-ids.h"
#include "gw-event-private.h"
#include "gw-pinned-database.h"
#include "gw-secret-store.h"
#include "gw-server-session.h"

#define HTTP_TIMEOUT_S   15
#define BACKOFF_CAP_MS   (300 * 1000)

typedef struct _Http Http;   /* one HTTP request in flight */
static void http_detach (gpointer http, gpointer unused);

typedef struct
{
  GwReadyFunc func;
  gpointer    data;
  gint64      deadline;   /* µs on the core's clock: gives up after this */
} Waiter;

/* How long a flow waits for a session (trigger II) across failed
 * attempts before it tells the device the server is unreachable. The
 * device waits 30 s for a reply (60 s for its key). */
#define ENSURE_PATIENCE_S 20

struct _GwServerSession
{
  GwCore                  *core;
  SoupSession             *soup;
  GwSessionState           state;
  guint                    attempt;
  guint                    retry_timer;
  guint                    retry_in_s;
  guint                    refresh_timer;
  char                    *token;        /* secret */
  gint64                   expires_at;   /* unix s */
  GError                  *last_error;
  GCancellable            *cancellable;  /* the connect attempt + websocket */
  SoupWebsocketConnection *ws;
  GList                   *waiters;
  guint                    ws_failures;  /* events WebSocket opens failed in a row */
  gboolean                 connecting;
  gboolean                 shut_down;
  GPtrArray               *in_flight;    /* Http whose callback is still to come */
  guint8                   nonce_g[CPNS_NONCE_LEN];
  guint8                   secret[CPNS_KEY_LEN];
  gboolean                 have_secret;
  /* The last TLS failure of a request (GwSessionInfo.tls_failure). */
  GwTlsFailureClass        tls_failure;
  gint64                   cert_not_before;
  gint64                   cert_not_after;
};

static void start_connect (GwServerSession *self);
static void open_events   (GwServerSession *self);
static void ignore_reply  (GwServerSession *self, guint status, GBytes *body,
                           const GError *error, gpointer data);

guint
gw_backoff_delay_ms (guint  attempt,
                     double random01)
{
  guint64 d = 1000;

  if (attempt == 0)
    attempt = 1;
  for (guint i = 1; i < attempt && d < BACKOFF_CAP_MS; i++)
    d *= 2;
  if (d > BACKOFF_CAP_MS)
    d = BACKOFF_CAP_MS;
  if (random01 < 0)
    random01 = 0;
  if (random01 >= 1)
    random01 = 0.999999;
  return (guint) (d / 2 + (guint64) (random01 * (double) (d / 2)));
}

/* ------------------------------------------------------------------ */

GwServerSession *
gw_server_session_new (GwCore *core)
{
  GwServerSession *self = g_new0 (GwServerSession, 1);

  self->core = core;
  self->in_flight = g_ptr_array_new ();
  self->state = gw_core_is_enrolled (core) ? GW_SESSION_DISCONNECTED : GW_SESSION_NOT_ENROLLED;
  gw_server_session_configure (self);
  return self;
}

void
gw_server_session_configure (GwServerSession *self)
{
  g_clear_object (&self->soup);
  self->soup = soup_session_new_with_options ("timeout", HTTP_TIMEOUT_S,
                                              "idle-timeout", 60,
                                              "user-agent", "cpns-gateway/" PACKAGE_VERSION,
                                              NULL);
  if (self->core->pin_sha256)
    {
      g_autoptr(GwPinnedDatabase) db = gw_pinned_database_new (self->core->pin_sha256);
      soup_session_set_tls_database (self->soup, G_TLS_DATABASE (db));
    }
  self->have_secret = FALSE;
  cpns_wipe (self->secret, sizeof self->secret);
}

static void
call_waiters (GwServerSession *self,
              const GError    *error)
{
  GList *waiters = g_steal_pointer (&self->waiters);

  for (GList *l = waiters; l; l = l->next)
    {
      Waiter *w = l->data;

      w->func (error, w->data);
      g_free (w);
    }
  g_list_free (waiters);
}

/* After a failed attempt: those who cannot wait for the next one hear
 * the error; the others keep waiting (the device sees a delay). */
static void
fail_impatient_waiters (GwServerSession *self,
                        const GError    *error,
                        gint64           next_attempt)
{
  GList *keep = NULL;
  GList *fail = NULL;

  for (GList *l = self->waiters; l; l = l->next)
    {
      Waiter *w = l->data;

      if (w->deadline > next_attempt)
        keep = g_list_append (keep, w);
      else
        fail = g_list_append (fail, w);
    }
  g_list_free (self->waiters);
  self->waiters = keep;
  for (GList *l = fail; l; l = l->next)
    {
      Waiter *w = l->data;

      w->func (error, w->data);
      g_free (w);
    }
  g_list_free (fail);
}

static void
clear_token (GwServerSession *self)
{
  cpns_free_secret_string (g_steal_pointer (&self->token));
  self->expires_at = 0;
}

void
gw_server_session_shutdown (GwServerSession *self)
{
  g_autoptr(GError) error = NULL;

  self->shut_down = TRUE;
  gw_clock_clear (self->core->clock, &self->retry_timer);
  gw_clock_clear (self->core->clock, &self->refresh_timer);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->ws)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_clear_object (&self->ws);
    }
  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The gateway is stopping");
  call_waiters (self, error);
  if (self->soup)
    soup_session_abort (self->soup);
}

void
gw_server_session_free (GwServerSession *self)
{
  if (self == NULL)
    return;
  if (!self->shut_down)
    gw_server_session_shutdown (self);
  g_ptr_array_foreach (self->in_flight, http_detach, NULL);
  g_ptr_array_unref (self->in_flight);
  clear_token (self);
  g_clear_error (&self->last_error);
  g_clear_object (&self->soup);
  cpns_wipe (self->secret, sizeof self->secret);
  cpns_wipe (self->nonce_g, sizeof self->nonce_g);
  g_free (self);
}

guint
gw_server_session_get_in_flight (GwServerSession *self)
{
  return self->in_flight->len;
}

GwSessionState
gw_server_session_get_state (GwServerSession *self)
{
  return self->state;
}

GwSessionInfo *
gw_server_session_dup_info (GwServerSession *self)
{
  GwSessionInfo *info = g_new0 (GwSessionInfo, 1);
  GwCore *core = self->core;

  info->state = self->state;
  info->server_url = g_strdup (core->server_url);
  if (core->server_url)
    {
      g_autoptr(GUri) uri = g_uri_parse (core->server_url, G_URI_FLAGS_NONE, NULL);
      info->server_name = uri ? g_strdup (g_uri_get_host (uri)) : NULL;
    }
  info->user_id = g_strdup (core->user_id);
  info->pn_id = g_strdup (core->pn_id);
  info->gateway_id = g_strdup (core->gateway_id);
  info->gateway_name = g_strdup (core->gateway_name);
  info->expires_at = self->state == GW_SESSION_CONNECTED ? self->expires_at : 0;
  info->retry_in_s = self->retry_in_s;
  info->pin_sha256 = g_strdup (core->pin_sha256);
  info->last_error = self->last_error ? g_error_copy (self->last_error) : NULL;
  info->tls_failure = self->tls_failure;
  info->cert_not_before = self->cert_not_before;
  info->cert_not_after = self->cert_not_after;
  return info;
}

static void
set_state (GwServerSession *self,
           GwSessionState   state)
{
  GwEvent *event;

  self->state = state;
  event = gw_event_new (GW_EVENT_SESSION);
  event->time = gw_clock_now (self->core->clock);
  event->session = gw_server_session_dup_info (self);
  gw_core_emit (self->core, event);
}

/* ------------------------------------------------------------------ */
/* HTTP */

typedef void (*HttpDone) (GwServerSession *self,
                          guint            status,
                          GBytes          *body,
                          const GError    *error,
                          gpointer         data);

struct _Http
{
  GwServerSession *self;             /* NULL once the session is freed */
  SoupMessage     *msg;
  HttpDone         done;
  gpointer         data;
  GTlsCertificateFlags tls_errors;   /* of a refused server certificate */
  GTlsCertificate *tls_cert;
};

static GError *
transport_error (GwServerSession *self,
                 const GError    *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);
  if (error->domain == G_TLS_ERROR)
    {
      /* The class was recorded by record_tls_failure(). */
      g_autofree char *what = gw_tls_failure_describe (self->tls_failure, self->cert_not_before,
                                                       self->cert_not_after, error->message);

      return gw_error_new_advice (self->tls_failure == GW_TLS_FAILURE_PIN_MISMATCH
                                  ? CPNS_ERROR_PIN_MISMATCH : CPNS_ERROR_TLS_FAILED, what);
    }
  {
    g_autofree char *what = g_strdup_printf ("The CPNS server could not be reached (%s)",
                                             error->message);
    return gw_error_new_advice (CPNS_ERROR_SERVER_UNREACHABLE, what);
  }
}

/* Bodies may hold secrets (EUKs, tokens): wipe what we own before freeing. */
static void
wipe_bytes (GBytes *bytes)
{
  gsize len = 0;
  gpointer data;

  if (bytes == NULL)
    return;
  data = g_bytes_unref_to_data (bytes, &len);
  cpns_wipe (data, len);
  g_free (data);
}

/* A refused certificate: keep what the handshake said for the error. */
static gboolean
on_accept_certificate (SoupMessage          *msg,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  Http *http = user_data;

  http->tls_errors = errors;
  g_set_object (&http->tls_cert, certificate);
  return FALSE;
}

static void
record_tls_failure (GwServerSession *self,
                    Http            *http,
                    const GError    *error)
{
  GTlsCertificateFlags flags = http->tls_errors;

  /* Only a TLS error changes it: the class goes with the latest
   * tls_failed / pin_mismatch, whatever came after. */
  if (error == NULL || error->domain != G_TLS_ERROR)
    return;
  self->cert_not_before = self->cert_not_after = 0;
  if (flags == 0 && g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
    flags = G_TLS_CERTIFICATE_UNKNOWN_CA;
  self->tls_failure = gw_tls_failure_classify (flags, http->tls_cert, self->core->pin_sha256 != NULL);
  if (http->tls_cert)
    {
      g_autoptr(GDateTime) not_before = g_tls_certificate_get_not_valid_before (http->tls_cert);
      g_autoptr(GDateTime) not_after = g_tls_certificate_get_not_valid_after (http->tls_cert);

      self->cert_not_before = not_before ? g_date_time_to_unix (not_before) : 0;
      self->cert_not_after = not_after ? g_date_time_to_unix (not_after) : 0;
    }
}

/* Its callback is still to come, after the session is freed. */
static void
http_detach (gpointer data,
             gpointer unused)
{
  ((Http *) data)->self = NULL;
}

static void call_done (GwServerSession *self,
                       guint            status,
                       GBytes          *body,
                       const GError    *error,
                       gpointer         data);

static void
on_http_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Http *http = user_data;
  g_autoptr(GError) error = NULL;
  GBytes *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  if (http->self == NULL)
    {
      /* The session was freed first (a request cancelled at shutdown whose
       * callback came late): only an API call's owner still waits for an
       * answer, and a cancelled one touches no session. */
      g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                         "The gateway is stopping");
      if (http->done == call_done)
        call_done (NULL, 0, NULL, cancelled, http->data);
    }
  else if (error)
    {
      g_ptr_array_remove_fast (http->self->in_flight, http);
      record_tls_failure (http->self, http, error);
      g_autoptr(GError) mapped = transport_error (http->self, error);
      http->done (http->self, 0, NULL, mapped, http->data);
    }
  else
    {
      g_ptr_array_remove_fast (http->self->in_flight, http);
      http->done (http->self, soup_message_get_status (http->msg), body, NULL, http->data);
    }
  g_signal_handlers_disconnect_by_data (http->msg, http);
  g_object_unref (http->msg);
  g_clear_object (&http->tls_cert);
  wipe_bytes (body);
  g_free (http);
}

static void
http_send (GwServerSession *self,
           const char      *method,
           const char      *path,
           GBytes          *body,
           gboolean         authenticated,
           GCancellable    *cancellable,
           HttpDone         done,
           gpointer         data)
{
  g_autofree char *url = NULL;
  Http *http;

  url = g_strconcat (self->core->server_url, path, NULL);
  http = g_new0 (Http, 1);
  http->self = self;
  http->done = done;
  http->data = data;
  http->msg = soup_message_new (method, url);
  if (http->msg == NULL)
    {
      g_autoptr(GError) error = gw_error_new_advice (CPNS_ERROR_BAD_REQUEST,
                                                     "The server address is not a valid URL");
      g_free (http);
      done (self, 0, NULL, error, data);
      return;
    }
  if (body)
    soup_message_set_request_body_from_bytes (http->msg, "application/json", body);
  /* libsoup sends a request that is not marked idempotent on a new
   * connection (and each new connection loads the system trust store).
   * Our requests are safe to send on a kept connection: a server that
   * closed it idle never saw the request. */
  soup_message_add_flags (http->msg, SOUP_MESSAGE_IDEMPOTENT);
  g_signal_connect (http->msg, "accept-certificate", G_CALLBACK (on_accept_certificate), http);
  if (authenticated && self->token)
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (http->msg),
                                    "Authorization", auth);
      cpns_wipe (auth, strlen (auth));
    }
  g_ptr_array_add (self->in_flight, http);
  soup_session_send_and_read_async (self->soup, http->msg, G_PRIORITY_DEFAULT,
                                    cancellable, on_http_done, http);
}

static GError *
error_from_reply (guint   status,
                  GBytes *body)
{
  gsize len = 0;
  const char *data = body ? g_bytes_get_data (body, &len) : NULL;
  g_autoptr(CpnsMessage) msg = NULL;
  GError *error = NULL;

  if (data && len > 0)
    msg = cpns_message_decode_body ("api.error", data, len, NULL);
  if (msg)
    error = cpns_message_to_error (msg);
  if (error == NULL)
    error = g_error_new (CPNS_ERROR, status >= 500 ? CPNS_ERROR_INTERNAL : CPNS_ERROR_BAD_REQUEST,
                         "The server answered HTTP %u", status);
  return error;
}

static GBytes *
encode (CpnsMessage *msg)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = cpns_message_encode (msg, &error);

  if (bytes == NULL)
    g_warning ("cannot encode %s: %s", cpns_message_get_kind (msg), error->message);
  return bytes;
}

/* ------------------------------------------------------------------ */
/* Step 1 */

/* The next attempt's delay (with its jitter), announced as retry_in_s. */
static guint
schedule_retry (GwServerSession *self)
{
  guint ms;

  gw_clock_clear (self->core->clock, &self->retry_timer);
  self->attempt++;
  ms = gw_backoff_delay_ms (self->attempt, g_random_double ());
  self->retry_in_s = (ms + 999) / 1000;
  set_state (self, GW_SESSION_RETRYING);
  return ms;
}

static gboolean
on_retry (gpointer data)
{
  GwServerSession *self = data;

  self->retry_timer = 0;
  start_connect (self);
  return G_SOURCE_REMOVE;
}

static void
connect_failed (GwServerSession *self,
                const GError    *error)
{
  guint ms;

  self->connecting = FALSE;
  g_clear_error (&self->last_error);
  self->last_error = g_error_copy (error);
  g_debug ("session attempt failed: %s", error->message);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->shut_down)
    {
      call_waiters (self, error);
      return;
    }
  clear_token (self);
  self->attempt++;
  ms = gw_backoff_delay_ms (self->attempt, g_random_double ());
  self->retry_in_s = (ms + 999) / 1000;
  gw_clock_clear (self->core->clock, &self->retry_timer);
  self->retry_timer = gw_clock_add_timeout (self->core->clock, ms, on_retry, self);
  set_state (self, GW_SESSION_RETRYING);
  /* A wrong secret or pin will not get better by waiting; an unreachable
   * server or a server fault (HTTP 5xx) may. */
  if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE) ||
      g_error_matches (error, CPNS_ERROR, CPNS_ERROR_INTERNAL))
    fail_impatient_waiters (self, error, gw_clock_now (self->core->clock) + (gint64) ms * 1000);
  else
    call_waiters (self, error);
}

static gboolean
on_refresh (gpointer data)
{
  GwServerSession *self = data;

  self->refresh_timer = 0;
  g_debug ("refreshing the server session token");
  start_connect (self);
  return G_SOURCE_REMOVE;
}

static void
on_session_reply (GwServerSession *self,
                  guint            status,
                  GBytes          *body,
                  const GError    *error,
                  gpointer         data)
{
  g_autoptr(CpnsMessage) reply = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GDateTime) expires = NULL;
  guint8 token[CPNS_KEY_LEN];
  guint8 server_proof[CPNS_MAC_LEN];
  guint8 expected[CPNS_MAC_LEN];
  guint8 nonce_s[CPNS_NONCE_LEN];
  gboolean was_connected = self->state == GW_SESSION_CONNECTED;
  gint64 now, lifetime, margin;

  memcpy (nonce_s, data, sizeof nonce_s);
  g_free (data);
  if (error)
    {
      connect_failed (self, error);
      return;
    }
  if (status != 201 && status != 200)
    {
      local = error_from_reply (status, body);
      connect_failed (self, local);
      return;
    }
  reply = cpns_message_decode_body ("api.session.response",
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body), &local);
  if (reply == NULL)
    {
      connect_failed (self, local);
      return;
    }
  cpns_message_get_bytes (reply, "server_proof", server_proof, sizeof server_proof);
  cpns_server_session_proof (self->secret, self->core->gateway_id, self->nonce_g, nonce_s, expected);
  if (!cpns_memeq_ct (server_proof, sizeof server_proof, expected, sizeof expected))
    {
      local = gw_error_new_advice (CPNS_ERROR_SERVER_AUTH_FAILED,
                                   "The server could not prove it knows this gateway's secret");
      connect_failed (self, local);
      return;
    }
  cpns_message_get_bytes (reply, "session_token", token, sizeof token);
  clear_token (self);
  self->token = g_strdup (cpns_message_get_string (reply, "session_token"));
  cpns_wipe (token, sizeof token);
  expires = cpns_message_dup_time (reply, "expires_at");
  now = gw_clock_now (self->core->clock) / G_USEC_PER_SEC;
  self->expires_at = expires ? g_date_time_to_unix (expires) : now + 3600;
  lifetime = MAX (self->expires_at - now, 2);
  margin = MIN (60, lifetime / 4);
  gw_clock_clear (self->core->clock, &self->refresh_timer);
  self->refresh_timer = gw_clock_add_timeout (self->core->clock,
                                              (guint) MAX (lifetime - margin, 1) * 1000,
                                              on_refresh, self);
  self->connecting = FALSE;
  self->attempt = 0;
  self->retry_in_s = 0;
  g_clear_error (&self->last_error);
  set_state (self, GW_SESSION_CONNECTED);
  if (was_connected && self->ws)
    {
      /* The events WebSocket belongs to the old token, which the server
       * closes when that session ends: move to the new one. */
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&self->ws);
    }
  if (self->ws == NULL)
    open_events (self);
  call_waiters (self, NULL);
  if (!was_connected)
    gw_core_on_server_connected (self->core);
}

static void
on_challenge_reply (GwServerSession *self,
                    guint            status,
                    GBytes          *body,
                    const GError    *error,
                    gpointer         data)
{
  g_autoptr(CpnsMessage) reply = NULL;
  g_autoptr(CpnsMessage) request = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 nonce_s[CPNS_NONCE_LEN];
  guint8 proof[CPNS_MAC_LEN];

  if (error)
    {
      connect_failed (self, error);
      return;
    }
  if (status != 200 && status != 201)
    {
      local = error_from_reply (status, body);
      connect_failed (self, local);
      return;
    }
  reply = cpns_message_decode_body ("api.session_challenge.response",
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body), &local);
  if (reply == NULL)
    {
      connect_failed (self, local);
      return;
    }
  cpns_message_get_bytes (reply, "nonce_s", nonce_s, sizeof nonce_s);
  cpns_random_nonce (self->nonce_g, sizeof self->nonce_g);
  cpns_gateway_session_proof (self->secret, self->core->gateway_id, nonce_s, self->nonce_g, proof);

  request = cpns_message_new ("api.session.request");
  cpns_message_set_string (request, "gateway_id", self->core->gateway_id);
  cpns_message_set_string (request, "challenge_id", cpns_message_get_string (reply, "challenge_id"));
  cpns_message_set_bytes (request, "nonce_g", self->nonce_g, sizeof self->nonce_g);
  cpns_message_set_bytes (request, "proof", proof, sizeof proof);
  bytes = encode (request);
  http_send (self, "POST", "/cpns/v1/session", bytes, FALSE, self->cancellable,
             on_session_reply, g_memdup2 (nonce_s, sizeof nonce_s));
}

static void
start_connect (GwServerSession *self)
{
  g_autoptr(CpnsMessage) request = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  if (self->connecting || self->shut_down)
    return;
  if (!gw_core_is_enrolled (self->core))
    {
      error = gw_error_new_advice (CPNS_ERROR_UNAUTHORIZED, "This gateway is not enrolled yet");
      call_waiters (self, error);
      return;
    }
  gw_clock_clear (self->core->clock, &self->retry_timer);
  if (!self->have_secret)
    {
      if (!gw_secret_store_load_gateway_secret (self->core->server_url, self->core->gateway_id,
                                                self->secret, &error))
        {
          g_clear_error (&self->last_error);
          self->last_error = g_error_copy (error);
          set_state (self, GW_SESSION_DISCONNECTED);
          call_waiters (self, error);
          return;
        }
      self->have_secret = TRUE;
    }
  self->connecting = TRUE;
  if (self->cancellable == NULL)
    self->cancellable = g_cancellable_new ();
  if (self->state != GW_SESSION_CONNECTED)
    set_state (self, GW_SESSION_CONNECTING);

  request = cpns_message_new ("api.session_challenge.request");
  cpns_message_set_string (request, "gateway_id", self->core->gateway_id);
  bytes = encode (request);
  http_send (self, "POST", "/cpns/v1/session/challenge", bytes, FALSE, self->cancellable,
             on_challenge_reply, NULL);
}

void
gw_server_session_connect (GwServerSession *self)
{
  if (self->state == GW_SESSION_CONNECTED)
    return;
  self->attempt = 0;
  start_connect (self);
}

void
gw_server_session_ensure (GwServerSession *self,
                          GwReadyFunc      func,
                          gpointer         user_data)
{
  Waiter *w;

  if (self->state == GW_SESSION_CONNECTED && self->token)
    {
      func (NULL, user_data);
      return;
    }
  if (self->shut_down)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopping");
      func (error, user_data);
      return;
    }
  w = g_new0 (Waiter, 1);
  w->func = func;
  w->data = user_data;
  w->deadline = gw_clock_now (self->core->clock) + (gint64) ENSURE_PATIENCE_S * G_USEC_PER_SEC;
  self->waiters = g_list_append (self->waiters, w);
  start_connect (self);
}

void
gw_server_session_disconnect (GwServerSession *self)
{
  gw_clock_clear (self->core->clock, &self->retry_timer);
  gw_clock_clear (self->core->clock, &self->refresh_timer);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->connecting = FALSE;
  if (self->ws)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&self->ws);
    }
  if (self->token)
    http_send (self, "DELETE", "/cpns/v1/session", NULL, TRUE, NULL, ignore_reply, NULL);
  clear_token (self);
  set_state (self, gw_core_is_enrolled (self->core) ? GW_SESSION_DISCONNECTED
                                                    : GW_SESSION_NOT_ENROLLED);
}

static void
ignore_reply (GwServerSession *self,
              guint            status,
              GBytes          *body,
              const GError    *error,
              gpointer         data)
{
}

/* The session died under us (server down, WebSocket closed or not
 * opened). The next attempt backs off from @attempt. */
static void
session_lost (GwServerSession *self,
              const GError    *error,
              guint            attempt)
{
  guint ms;

  if (self->shut_down || self->state != GW_SESSION_CONNECTED)
    return;
  g_clear_error (&self->last_error);
  self->last_error = g_error_copy (error);
  clear_token (self);
  gw_clock_clear (self->core->clock, &self->refresh_timer);
  if (self->ws)
    {
      g_signal_handlers_disconnect_by_data (self->ws, self);
      g_clear_object (&self->ws);
    }
  self->connecting = FALSE;
  self->attempt = attempt;
  /* The jittered delay itself, not retry_in_s rounded up to whole
   * seconds: that made every gateway retry exactly 1 s after a loss. */
  ms = schedule_retry (self);
  self->retry_timer = gw_clock_add_timeout (self->core->clock, ms, on_retry, self);
}

/* ------------------------------------------------------------------ */
/* Events WebSocket (§5.7) */

static void
on_ws_message (SoupWebsocketConnection *ws,
               gint                     type,
               GBytes                  *message,
               gpointer                 user_data)
{
  GwServerSession *self = user_data;
  g_autoptr(CpnsMessage) event = NULL;
  g_autoptr(GError) error = NULL;
  const char *kind;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  event = cpns_message_decode_event (g_bytes_get_data (message, NULL), g_bytes_get_size (message),
                                     &error);
  if (event == NULL)
    {
      g_debug ("ignoring server event: %s", error->message);
      return;
    }
  kind = cpns_message_get_kind (event);
  g_debug ("server event %s", kind);
  if (g_str_equal (kind, "event.entity_revoked"))
    gw_core_revoke_entity (self->core, cpns_message_get_string (event, "pne_id"),
                           GW_ENTITY_REVOKED);
  else if (g_str_equal (kind, "event.session_expiring"))
    {
      gw_clock_clear (self->core->clock, &self->refresh_timer);
      start_connect (self);
    }
}

static void
on_ws_closed (SoupWebsocketConnection *ws,
              gpointer                 user_data)
{
  GwServerSession *self = user_data;
  g_autoptr(GError) error =
    gw_error_new_advice (CPNS_ERROR_SERVER_UNREACHABLE, "The connection to the CPNS server was lost");

  g_debug ("events WebSocket closed");
  session_lost (self, error, 0);
}

static void
on_ws_connected (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GwServerSession *self = user_data;
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (ws == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autoptr(GError) lost =
            gw_error_new_advice (CPNS_ERROR_SERVER_UNREACHABLE,
                                 "The CPNS server's event channel could not be opened");

          g_debug ("events WebSocket failed: %s", error->message);
          /* Without it revocations go unheard: start over, backing off
           * further at each failure in a row. */
          if (!self->shut_down && self->state == GW_SESSION_CONNECTED && self->ws == NULL)
            session_lost (self, lost, self->ws_failures++);
        }
      return;
    }
  if (self->shut_down || self->state != GW_SESSION_CONNECTED || self->ws)
    {
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (ws);
      return;
    }
  g_debug ("events WebSocket open");
  self->ws = ws;
  self->ws_failures = 0;
  soup_websocket_connection_set_keepalive_interval (ws, 15);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);
  gw_core_sync_revocations (self->core);
}

static void
open_events (GwServerSession *self)
{
  g_autofree char *url = g_strconcat (self->core->server_url, "/cpns/v1/events", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *auth = NULL;

  if (msg == NULL || self->token == NULL)
    return;
  auth = g_strconcat ("Bearer ", self->token, NULL);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  cpns_wipe (auth, strlen (auth));
  soup_session_websocket_connect_async (self->soup, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->cancellable, on_ws_connected, self);
}

/* ------------------------------------------------------------------ */
/* Authenticated calls */

typedef struct
{
  GwServerSession *self;
  char            *method;
  char            *path;
  GBytes          *body;
  char            *reply_kind;
  GCancellable    *cancellable;
  GwApiFunc        func;
  gpointer         data;
  gboolean         retried;
} Call;

static void
call_free (Call *call)
{
  g_free (call->method);
  g_free (call->path);
  wipe_bytes (g_steal_pointer (&call->body));
  g_free (call->reply_kind);
  g_clear_object (&call->cancellable);
  g_free (call);
}

static void call_ready (const GError *error, gpointer data);

static void
call_done (GwServerSession *self,
           guint            status,
           GBytes          *body,
           const GError    *error,
           gpointer         data)
{
  Call *call = data;
  g_autoptr(GError) local = NULL;
  g_autoptr(CpnsMessage) reply = NULL;

  if (error)
    {
      if (g_error_matches (error, CPNS_ERROR, CPNS_ERROR_SERVER_UNREACHABLE))
        session_lost (self, error, 0);
      call->func (NULL, error, call->data);
      call_free (call);
      return;
    }
  if (status == 401 && !call->retried)
    {
      /* 401 is also auth_failed (a PNE's proof): only a rejected token
       * renews the session. */
      local = error_from_reply (status, body);
      if (!g_error_matches (local, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED))
        {
          call->func (NULL, local, call->data);
          call_free (call);
          return;
        }
      g_clear_error (&local);
      call->retried = TRUE;
      clear_token (self);
      if (self->state == GW_SESSION_CONNECTED)
        self->state = GW_SESSION_CONNECTING;
      gw_server_session_ensure (self, call_ready, call);
      return;
    }
  if (status < 200 || status >= 300)
    {
      local = error_from_reply (status, body);
      call->func (NULL, local, call->data);
      call_free (call);
      return;
    }
  if (call->reply_kind && body && g_bytes_get_size (body) > 0)
    {
      reply = cpns_message_decode_body (call->reply_kind, g_bytes_get_data (body, NULL),
                                        g_bytes_get_size (body), &local);
      if (reply == NULL)
        {
          call->func (NULL, local, call->data);
          call_free (call);
          return;
        }
    }
  call->func (reply, NULL, call->data);
  call_free (call);
}

static void
call_ready (const GError *error,
            gpointer      data)
{
  Call *call = data;

  if (error)
    {
      g_autoptr(GError) mapped = NULL;

      if (error->domain == CPNS_ERROR && error->code != CPNS_ERROR_INTERNAL)
        mapped = g_error_copy (error);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        mapped = g_error_copy (error);
      else
        mapped = gw_error_new_advice (CPNS_ERROR_SERVER_UNREACHABLE,
                                      "The CPNS server could not be reached");
      call->func (NULL, mapped, call->data);
      call_free (call);
      return;
    }
  if (call->cancellable && g_cancellable_is_cancelled (call->cancellable))
    {
      g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                         "cancelled");
      call->func (NULL, cancelled, call->data);
      call_free (call);
      return;
    }
  http_send (call->self, call->method, call->path, call->body, TRUE, call->cancellable,
             call_done, call);
}

void
gw_server_session_call (GwServerSession *self,
                        const char      *method,
                        const char      *path,
                        CpnsMessage     *body,
                        const char      *reply_kind,
                        GCancellable    *cancellable,
                        GwApiFunc        func,
                        gpointer         user_data)
{
  Call *call = g_new0 (Call, 1);

  call->self = self;
  call->method = g_strdup (method);
  call->path = g_strdup (path);
  call->body = body ? encode (body) : NULL;
  call->reply_kind = g_strdup (reply_kind);
  call->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  call->func = func;
  call->data = user_data;
  if (body && call->body == NULL)
    {
      g_autoptr(GError) error = gw_error_new_advice (CPNS_ERROR_INTERNAL,
                                                     "The gateway built an invalid request");
      func (NULL, error, user_data);
      call_free (call);
      return;
    }
  gw_server_session_ensure (self, call_ready, call);
}

/* ------------------------------------------------------------------ */
/* Enrollment (§5.1) */

typedef struct
{
  GwReadyFunc func;
  gpointer    data;
  char       *server_url;
  char       *pin;
  char       *name;
} Enroll;

static void
enroll_free (Enroll *e)
{
  g_free (e->server_url);
  g_free (e->pin);
  g_free (e->name);
  g_free (e);
}

static void
on_enroll_reply (GwServerSession *self,
                 guint            status,
                 GBytes          *body,
                 const GError    *error,
                 gpointer         data)
{
  Enroll *e = data;
  g_autoptr(GError) local = NULL;
  g_autoptr(CpnsMessage) reply = NULL;
  guint8 secret[CPNS_KEY_LEN];
  GwCore *core = self->core;
  const char *gateway_id;

  if (error)
    {
      e->func (error, e->data);
      enroll_free (e);
      return;
    }
  if (status != 201 && status != 200)
    local = error_from_reply (status, body);
  else
    reply = cpns_message_decode_body ("api.gateways.response", g_bytes_get_data (body, NULL),
                                      g_bytes_get_size (body), &local);
  if (reply == NULL)
    {
      e->func (local, e->data);
      enroll_free (e);
      return;
    }
  gateway_id = cpns_message_get_string (reply, "gateway_id");
  cpns_message_get_bytes (reply, "gateway_secret", secret, sizeof secret);
  /* The secret first, the registry last: a start-up with gateway_id
   * stored counts as enrolled, so the registry is committed only once the
   * keyring holds the secret, and in one transaction (all or nothing). */
  if (!gw_secret_store_save_gateway_secret (e->server_url, gateway_id, secret, &local))
    {
      cpns_wipe (secret, sizeof secret);
      e->func (local, e->data);
      enroll_free (e);
      return;
    }
  {
    const GwEnrollmentRecord record = {
      .server_url = core->server_url,
      .pin_sha256 = core->pin_sha256,
      .user_id = cpns_message_get_string (reply, "user_id"),
      .pn_id = cpns_message_get_string (reply, "pn_id"),
      .gateway_name = e->name,
      .gateway_id = gateway_id,
    };

    if (!gw_registry_save_enrollment (core->registry, &record, &local))
      {
        g_autoptr(GError) stored = NULL;
        g_autofree char *what = g_strdup_printf ("The gateway could not store its enrollment (%s)",
                                                 local->message);

        /* Nothing refers to the secret: do not leave it behind. */
        gw_secret_store_clear_gateway_secret (e->server_url, gateway_id, NULL);
        cpns_wipe (secret, sizeof secret);
        stored = gw_error_new_advice (CPNS_ERROR_INTERNAL, what);
        e->func (stored, e->data);
        enroll_free (e);
        return;
      }
  }
  memcpy (self->secret, secret, sizeof secret);
  self->have_secret = TRUE;
  cpns_wipe (secret, sizeof secret);

  g_free (core->gateway_id);
  core->gateway_id = g_strdup (gateway_id);
  g_free (core->pn_id);
  core->pn_id = g_strdup (cpns_message_get_string (reply, "pn_id"));
  g_free (core->user_id);
  core->user_id = g_strdup (cpns_message_get_string (reply, "user_id"));
  g_free (core->gateway_name);
  core->gateway_name = g_strdup (e->name);
  self->state = GW_SESSION_DISCONNECTED;
  e->func (NULL, e->data);
  enroll_free (e);
}

void
gw_server_session_enroll (GwServerSession *self,
                          const char      *server_url,
                          const char      *user_id,
                          const char      *code,
                          const char      *pin_sha256,
                          const char      *gateway_name,
                          GwReadyFunc      func,
                          gpointer         user_data)
{
  g_autoptr(CpnsMessage) request = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  Enroll *e;
  GwCore *core = self->core;

  /* Refuse before the code is spent when there is nowhere to keep the
   * secret (§6: no plaintext fallback). */
  {
    char *probe = gw_secret_store_load_tls_key ("probe", &error);
    cpns_free_secret_string (probe);
    if (error)
      {
        func (error, user_data);
        return;
      }
  }
  gw_server_session_disconnect (self);
  g_free (core->server_url);
  core->server_url = g_strdup (server_url);
  g_free (core->pin_sha256);
  core->pin_sha256 = pin_sha256 ? g_ascii_strdown (pin_sha256, -1) : NULL;
  gw_server_session_configure (self);

  request = cpns_message_new ("api.gateways.request");
  cpns_message_set_string (request, "user_id", user_id);
  cpns_message_set_string (request, "enrollment_code", code);
  cpns_message_set_string (request, "gateway_name", gateway_name);
  bytes = cpns_message_encode (request, &error);
  if (bytes == NULL)
    {
      func (error, user_data);
      return;
    }
  e = g_new0 (Enroll, 1);
  e->func = func;
  e->data = user_data;
  e->server_url = g_strdup (server_url);
  e->pin = g_strdup (pin_sha256);
  e->name = g_strdup (gateway_name);
  http_send (self, "POST", "/cpns/v1/gateways", bytes, FALSE, NULL, on_enroll_reply, e);
}
