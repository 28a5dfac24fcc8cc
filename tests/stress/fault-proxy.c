/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The TLS-terminating fault proxy of issue 7, item 10 (see fault-proxy.h). */
#define G_LOG_DOMAIN "fault-proxy"

#include "config.h"

#include <string.h>

#include "fault-proxy.h"

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (1024 * 1024)

struct _FaultProxy
{
  GMutex           lock;
  GCond            cond;
  GSocketListener *listener;
  guint16          port;
  guint16          upstream_port;
  GTlsCertificate *cert;
  GCancellable    *cancel;
  GThread         *accept_thread;
  GPtrArray       *threads;      /* GThread, one per connection */
  GPtrArray       *sockets;      /* GSocket of open connections (both sides) */
  FpFault          fault;
  char            *step;
  gboolean         hit;
  guint            websockets;
  guint            requests;
  guint            connections;
  guint            after_stall;   /* stalled connections that got more data */
  gboolean         stopping;
};

typedef struct
{
  FaultProxy        *proxy;
  GSocketConnection *client;
  GSocketConnection *up;
  GIOStream         *tls;         /* towards the gateway */
  GIOStream         *up_tls;      /* towards the server */
  GMutex             write_lock;  /* the gateway side's output */
  gint               mute;        /* drop: the server's answer is not passed on */
  gint               stalled;     /* the gateway side stays open whatever the server does */
  gint               back_done;
  GThread           *back;
} Conn;

const char *
fault_proxy_step_name (const char *method,
                       const char *path)
{
  g_autofree char *p = g_strndup (path, strcspn (path, "?"));

  if (g_str_equal (p, "/cpns/v1/session/challenge"))
    return "challenge";
  if (g_str_equal (p, "/cpns/v1/session"))
    return g_str_equal (method, "DELETE") ? "session-end" : "session";
  if (g_str_equal (p, "/cpns/v1/events"))
    return "events";
  if (g_str_equal (p, "/cpns/v1/entities"))
    return "entities";
  if (g_str_has_prefix (p, "/cpns/v1/entities/"))
    {
      if (g_str_has_suffix (p, "/key-confirm"))
        return "key-confirm";
      if (g_str_has_suffix (p, "/rekey"))
        return "rekey";
      return g_str_equal (method, "DELETE") ? "entity-delete" : "entity";
    }
  if (g_str_equal (p, "/cpns/v1/auth"))
    return "auth";
  if (g_str_has_prefix (p, "/cpns/v1/auth/") && g_str_has_suffix (p, "/verify"))
    return "verify";
  if (g_str_has_prefix (p, "/cpns/v1/auth/") && g_str_has_suffix (p, "/decision"))
    return "decision";
  if (g_str_has_prefix (p, "/cpns/v1/inventory/"))
    return "inventory-put";
  if (g_str_equal (p, "/cpns/v1/inventory"))
    return "inventory-get";
  return "other";
}

static void
track (FaultProxy *self,
       GSocket    *socket,
       gboolean    add)
{
  g_mutex_lock (&self->lock);
  if (add)
    g_ptr_array_add (self->sockets, g_object_ref (socket));
  else
    g_ptr_array_remove_fast (self->sockets, socket);
  g_mutex_unlock (&self->lock);
}

static gboolean
accept_any (GTlsConnection       *conn,
            GTlsCertificate      *peer_cert,
            GTlsCertificateFlags  errors,
            gpointer              data)
{
  return TRUE;
}

static gboolean
client_write (Conn       *c,
              const void *data,
              gsize       len)
{
  gboolean ok;

  g_mutex_lock (&c->write_lock);
  ok = g_output_stream_write_all (g_io_stream_get_output_stream (c->tls), data, len,
                                  NULL, NULL, NULL);
  g_mutex_unlock (&c->write_lock);
  return ok;
}

/* Server → gateway, bytes as they come (responses need no parsing: the
 * gateway does not pipeline, and a faulted request is never forwarded). */
static gpointer
back_pump (gpointer data)
{
  Conn *c = data;
  GInputStream *in = g_io_stream_get_input_stream (c->up_tls);
  char buf[16384];
  gssize n;

  /* Read to the end even when the gateway side is gone (see conn_thread). */
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    if (!g_atomic_int_get (&c->mute) && !client_write (c, buf, (gsize) n))
      g_atomic_int_set (&c->mute, 1);
  /* The server closed: so does the gateway's side (not during a stall). */
  if (!g_atomic_int_get (&c->stalled))
    g_socket_shutdown (g_socket_connection_get_socket (c->client), TRUE, TRUE, NULL);
  g_atomic_int_set (&c->back_done, 1);
  return NULL;
}

/* The server side is opened for the first request forwarded, so a
 * connection whose first request is faulted never reaches the server. */
static gboolean
connect_upstream (Conn *c)
{
  FaultProxy *self = c->proxy;
  g_autoptr(GSocketClient) sc = NULL;

  if (c->up_tls)
    return TRUE;
  if (c->up)
    return FALSE;
  sc = g_socket_client_new ();
  /* Loopback: no proxy resolver (it would load GIO's libproxy module). */
  g_socket_client_set_enable_proxy (sc, FALSE);
  c->up = g_socket_client_connect_to_host (sc, "127.0.0.1", self->upstream_port, self->cancel, NULL);
  if (c->up == NULL)
    return FALSE;
  track (self, g_socket_connection_get_socket (c->up), TRUE);
  c->up_tls = g_tls_client_connection_new (G_IO_STREAM (c->up), NULL, NULL);
  if (c->up_tls == NULL)
    return FALSE;
  g_signal_connect (c->up_tls, "accept-certificate", G_CALLBACK (accept_any), NULL);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (c->up_tls), self->cancel, NULL))
    {
      g_clear_object (&c->up_tls);
      return FALSE;
    }
  c->back = g_thread_new ("fault-proxy-back", back_pump, c);
  return TRUE;
}

static gboolean
fill (GInputStream *in,
      GByteArray   *buf)
{
  guint8 tmp[16384];
  gssize n = g_input_stream_read (in, tmp, sizeof tmp, NULL, NULL);

  if (n <= 0)
    return FALSE;
  g_byte_array_append (buf, tmp, (guint) n);
  return TRUE;
}

static gssize
header_end (GByteArray *buf)
{
  for (guint i = 0; i + 3 < buf->len; i++)
    if (memcmp (buf->data + i, "\r\n\r\n", 4) == 0)
      return (gssize) i + 4;
  return -1;
}

static void
answer_error (Conn  *c,
              guint  status)
{
  const char *body = "{\"error\":{\"code\":\"internal\",\"message\":\"fault injected by the test proxy\"}}";
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                                           "Content-Type: application/json\r\n"
                                           "Content-Length: %zu\r\n\r\n",
                                           status,
                                           status == 503 ? "Service Unavailable" : "Internal Server Error",
                                           strlen (body));
  g_autofree char *all = g_strconcat (head, body, NULL);

  client_write (c, all, strlen (all));
}

/* Gateway → server, request by request. */
static void
forward_requests (Conn *c)
{
  FaultProxy *self = c->proxy;
  GInputStream *in = g_io_stream_get_input_stream (c->tls);
  GOutputStream *out = NULL;
  g_autoptr(GByteArray) buf = g_byte_array_new ();

  for (;;)
    {
      g_auto(GStrv) lines = NULL;
      g_auto(GStrv) request_line = NULL;
      g_autofree char *head = NULL;
      guint64 content_length = 0;
      gboolean upgrade = FALSE;
      FpFault fault = FP_FAULT_NONE;
      const char *step;
      gssize end;
      gsize total;

      while ((end = header_end (buf)) < 0)
        if (buf->len > MAX_HEAD || !fill (in, buf))
          return;
      head = g_strndup ((const char *) buf->data, (gsize) end);
      lines = g_strsplit (head, "\r\n", -1);
      request_line = g_strsplit (lines[0], " ", 3);
      if (g_strv_length (request_line) != 3)
        return;
      for (guint i = 1; lines[i]; i++)
        {
          if (g_ascii_strncasecmp (lines[i], "content-length:", 15) == 0)
            content_length = g_ascii_strtoull (lines[i] + 15, NULL, 10);
          else if (g_ascii_strncasecmp (lines[i], "upgrade:", 8) == 0 &&
                   strstr (lines[i] + 8, "ebsocket"))
            upgrade = TRUE;
        }
      if (content_length > MAX_BODY)
        return;
      total = (gsize) end + (gsize) content_length;
      while (buf->len < total)
        if (!fill (in, buf))
          return;

      step = fault_proxy_step_name (request_line[0], request_line[1]);
      g_mutex_lock (&self->lock);
      self->requests++;
      if (self->fault != FP_FAULT_NONE && !self->hit && g_strcmp0 (self->step, step) == 0)
        {
          fault = self->fault;
          self->hit = TRUE;
        }
      g_mutex_unlock (&self->lock);
      g_debug ("%s %s (%s)%s", request_line[0], request_line[1], step, fault ? " FAULTED" : "");

      switch (fault)
        {
        case FP_FAULT_500:
        case FP_FAULT_503:
          answer_error (c, fault == FP_FAULT_503 ? 503 : 500);
          g_byte_array_remove_range (buf, 0, (guint) total);
          continue;

        case FP_FAULT_STALL:
          {
            gint64 until = g_get_monotonic_time () + FP_STALL_S * G_USEC_PER_SEC;

            g_atomic_int_set (&c->stalled, 1);

            g_mutex_lock (&self->lock);
            while (!self->stopping && g_cond_wait_until (&self->cond, &self->lock, until))
              ;
            g_mutex_unlock (&self->lock);
            {
              /* Did the gateway send more on a connection it gave up on? */
              char tmp[4096];
              gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), tmp,
                                                                   sizeof tmp, NULL, NULL);

              g_debug ("stall over: %" G_GSSIZE_FORMAT " more bytes from the gateway", n);
              if (n > 0)
                {
                  g_mutex_lock (&self->lock);
                  self->after_stall++;
                  g_mutex_unlock (&self->lock);
                }
            }
            return;
          }

        case FP_FAULT_DROP:
          /* The server gets the request; its answer goes nowhere. */
          g_atomic_int_set (&c->mute, 1);
          if (!connect_upstream (c))
            return;
          out = g_io_stream_get_output_stream (c->up_tls);
          g_output_stream_write_all (out, buf->data, total, NULL, NULL, NULL);
          g_usleep (200 * 1000);   /* let the server act on it */
          return;

        case FP_FAULT_NONE:
        default:
          break;
        }

      if (!connect_upstream (c))
        return;
      out = g_io_stream_get_output_stream (c->up_tls);
      if (!g_output_stream_write_all (out, buf->data, total, NULL, NULL, NULL))
        return;
      g_byte_array_remove_range (buf, 0, (guint) total);
      if (upgrade)
        {
          char tmp[16384];
          gssize n;

          g_mutex_lock (&self->lock);
          self->websockets++;
          g_mutex_unlock (&self->lock);
          if (buf->len == 0 || g_output_stream_write_all (out, buf->data, buf->len, NULL, NULL, NULL))
            while ((n = g_input_stream_read (in, tmp, sizeof tmp, NULL, NULL)) > 0)
              if (!g_output_stream_write_all (out, tmp, (gsize) n, NULL, NULL, NULL))
                break;
          g_mutex_lock (&self->lock);
          self->websockets--;
          g_mutex_unlock (&self->lock);
          return;
        }
    }
}

static gpointer
conn_thread (gpointer data)
{
  Conn *c = data;
  FaultProxy *self = c->proxy;
  GSocket *client_socket = g_socket_connection_get_socket (c->client);

  g_mutex_init (&c->write_lock);
  track (self, client_socket, TRUE);
  c->tls = g_tls_server_connection_new (G_IO_STREAM (c->client), self->cert, NULL);
  if (c->tls && g_tls_connection_handshake (G_TLS_CONNECTION (c->tls), self->cancel, NULL))
    forward_requests (c);

  g_socket_shutdown (client_socket, TRUE, TRUE, NULL);
  if (c->up)
    {
      GSocket *up_socket = g_socket_connection_get_socket (c->up);

      /* Half-close and read the server's side to its end first: closing
       * with its bytes unread would reset the connection, and libsoup's
       * server warns when it then asks for the peer's address. */
      g_socket_shutdown (up_socket, FALSE, TRUE, NULL);
      for (guint i = 0; c->back && i < 300 && !g_atomic_int_get (&c->back_done); i++)
        g_usleep (10 * 1000);
      g_socket_shutdown (up_socket, TRUE, TRUE, NULL);
    }
  if (c->back)
    g_thread_join (c->back);
  if (c->up)
    track (self, g_socket_connection_get_socket (c->up), FALSE);
  track (self, client_socket, FALSE);
  g_clear_object (&c->up_tls);
  g_clear_object (&c->tls);
  g_clear_object (&c->up);
  g_io_stream_close (G_IO_STREAM (c->client), NULL, NULL);
  g_clear_object (&c->client);
  g_mutex_clear (&c->write_lock);
  g_free (c);
  return NULL;
}

static gpointer
accept_thread (gpointer data)
{
  FaultProxy *self = data;

  for (;;)
    {
      GSocketConnection *client = g_socket_listener_accept (self->listener, NULL, self->cancel, NULL);
      Conn *c;

      if (client == NULL)
        break;
      c = g_new0 (Conn, 1);
      c->proxy = self;
      c->client = client;
      g_mutex_lock (&self->lock);
      self->connections++;
      if (self->stopping)
        {
          g_mutex_unlock (&self->lock);
          g_object_unref (client);
          g_free (c);
          break;
        }
      g_ptr_array_add (self->threads, g_thread_new ("fault-proxy-conn", conn_thread, c));
      g_mutex_unlock (&self->lock);
    }
  return NULL;
}

FaultProxy *
fault_proxy_new (guint16      upstream_port,
                 const char  *cert_path,
                 const char  *key_path,
                 GError     **error)
{
  FaultProxy *self = g_new0 (FaultProxy, 1);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->upstream_port = upstream_port;
  self->cert = g_tls_certificate_new_from_files (cert_path, key_path, error);
  self->cancel = g_cancellable_new ();
  self->threads = g_ptr_array_new ();
  self->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  self->listener = g_socket_listener_new ();
  if (self->cert == NULL)
    {
      fault_proxy_free (self);
      return NULL;
    }
  {
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    if (!g_socket_listener_add_address (self->listener, any, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL, &bound, error))
      {
        fault_proxy_free (self);
        return NULL;
      }
    self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  }
  self->accept_thread = g_thread_new ("fault-proxy-accept", accept_thread, self);
  return self;
}

guint16
fault_proxy_get_port (FaultProxy *self)
{
  return self->port;
}

void
fault_proxy_arm (FaultProxy *self,
                 FpFault     fault,
                 const char *step)
{
  g_mutex_lock (&self->lock);
  self->fault = fault;
  g_free (self->step);
  self->step = g_strdup (step);
  self->hit = FALSE;
  g_mutex_unlock (&self->lock);
}

gboolean
fault_proxy_was_hit (FaultProxy *self)
{
  gboolean hit;

  g_mutex_lock (&self->lock);
  hit = self->hit;
  g_mutex_unlock (&self->lock);
  return hit;
}

gboolean
fault_proxy_disarm (FaultProxy *self)
{
  gboolean hit;

  g_mutex_lock (&self->lock);
  hit = self->hit;
  self->fault = FP_FAULT_NONE;
  self->hit = FALSE;
  g_clear_pointer (&self->step, g_free);
  g_mutex_unlock (&self->lock);
  return hit;
}

static guint
get_counter (FaultProxy *self,
             guint      *counter)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = *counter;
  g_mutex_unlock (&self->lock);
  return n;
}

guint
fault_proxy_open_websockets (FaultProxy *self)
{
  return get_counter (self, &self->websockets);
}

guint
fault_proxy_requests (FaultProxy *self)
{
  return get_counter (self, &self->requests);
}

guint
fault_proxy_connections (FaultProxy *self)
{
  return get_counter (self, &self->connections);
}

void
fault_proxy_free (FaultProxy *self)
{
  if (self == NULL)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_cancellable_cancel (self->cancel);
  if (self->accept_thread)
    g_thread_join (self->accept_thread);
  g_socket_listener_close (self->listener);
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->sockets->len; i++)
    g_socket_shutdown (self->sockets->pdata[i], TRUE, TRUE, NULL);
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < self->threads->len; i++)
    g_thread_join (self->threads->pdata[i]);
  g_ptr_array_unref (self->threads);
  g_ptr_array_unref (self->sockets);
  g_clear_object (&self->listener);
  g_clear_object (&self->cert);
  g_clear_object (&self->cancel);
  g_free (self->step);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_free (self);
}
