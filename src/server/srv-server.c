/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "cpns-base64.h"
#include "cpns-ids.h"
#include "srv-datadir.h"
#include "srv-server-private.h"

#define POLL_INTERVAL_MS 250

/* Connections open at once from one client address; more are closed as
 * soon as they are accepted. A gateway needs two or three. */
#define MAX_CONNECTIONS_PER_ADDRESS 64
/* After a 413 the connection is kept this long at most (the answer may
 * still be on its way), reading and discarding what the client still
 * sends, up to MAX_LINGER_BYTES, without decrypting it. */
#define LINGER_MS 2000
#define MAX_LINGER_BYTES (4 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* Answers */

char *
srv_json_to_string (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

JsonNode *
srv_json_parse (const char *text)
{
  if (text == NULL)
    return NULL;
  return json_from_string (text, NULL);
}

void
srv_json_set_bytes (JsonObject   *object,
                    const char   *member,
                    const guint8 *data,
                    gsize         len)
{
  char *text = cpns_base64url_encode (data, len);

  json_object_set_string_member (object, member, text);
  /* Some of these are secrets (keys, tokens): wipe our copy. */
  cpns_free_secret_string (text);
}

void
srv_json_set_time (JsonObject *object,
                   const char *member,
                   gint64      usec)
{
  g_autofree char *text = srv_time_format (usec);

  json_object_set_string_member (object, member, text);
}

/* Bodies may hold secrets (gateway_secret, euk, session_key, token):
 * they are wiped when freed. */
static void
wipe_and_free (gpointer data)
{
  cpns_free_secret_string (data);
}

static void
set_body (SrvRequest *req,
          guint       status,
          char       *text)
{
  SoupMessageBody *body = soup_server_message_get_response_body (req->msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (req->msg);

  soup_server_message_set_status (req->msg, status, NULL);
  soup_message_body_truncate (body);
  if (text != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new_with_free_func (text, strlen (text), wipe_and_free, text);

      soup_message_headers_replace (headers, "Content-Type", "application/json");
      soup_message_body_append_bytes (body, bytes);
    }
  else
    soup_message_headers_remove (headers, "Content-Type");
}

void
srv_reply_json (SrvRequest *req,
                guint       status,
                JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  set_body (req, status, json_to_string (node, FALSE));
}

void
srv_reply_empty (SrvRequest *req,
                 guint       status)
{
  set_body (req, status, NULL);
}

void
srv_reply_error (SrvRequest   *req,
                 const GError *error)
{
  g_autoptr(GError) cpns = cpns_error_to_cpns (error);
  g_autoptr(JsonObject) outer = json_object_new ();
  JsonObject *inner = json_object_new ();
  const char *message = cpns->message;
  const char *code = cpns_error_code_to_string (cpns->code);
  guint status = cpns_error_code_http_status (cpns->code);

  if (code == NULL || status == 500 || cpns->code > CPNS_ERROR_SERVER_UNREACHABLE)
    {
      if (cpns->code != CPNS_ERROR_INTERNAL)
        g_message ("%s %s: unexpected error: %s", req->method, req->path, message);
      code = "internal";
      status = 500;
      if (cpns->code != CPNS_ERROR_INTERNAL)
        message = "internal: unexpected server fault";
    }
  json_object_set_string_member (inner, "code", code);
  json_object_set_string_member (inner, "message", message);
  if (cpns->code == CPNS_ERROR_LOCKED_OUT)
    json_object_set_int_member (inner, "retry_after", MAX (1, req->retry_after));
  if (req->rule_id != NULL && cpns->code == CPNS_ERROR_DENIED)
    json_object_set_string_member (inner, "rule_id", req->rule_id);
  json_object_set_object_member (outer, "error", inner);
  if (cpns->code == CPNS_ERROR_LOCKED_OUT)
    {
      g_autofree char *retry = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (1, req->retry_after));
      soup_message_headers_replace (soup_server_message_get_response_headers (req->msg),
                                    "Retry-After", retry);
    }
  srv_reply_json (req, status, outer);
}

void
srv_reply_error_code (SrvRequest    *req,
                      CpnsErrorCode  code,
                      const char    *message)
{
  g_autoptr(GError) error = g_error_new_literal (CPNS_ERROR, code, message);

  srv_reply_error (req, error);
}

/* ------------------------------------------------------------------ */
/* Request helpers */

gboolean
srv_check_id (int          kind,
              const char  *value,
              const char  *field,
              GError     **error)
{
  if (value == NULL || !cpns_id_is_valid ((CpnsIdKind) kind, value))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: '%s' is not a valid %s", field, field);
      return FALSE;
    }
  return TRUE;
}

/* SHA-256 hex of a bearer token's 32 bytes; NULL when malformed. */
static char *
token_hash_from_header (const char *authorization)
{
  guint8 token[32];
  char *hash;

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return NULL;
  authorization += 7;
  while (*authorization == ' ')
    authorization++;
  if (strlen (authorization) > 64 || !cpns_base64url_decode_exact (authorization, token, sizeof token))
    return NULL;
  hash = cpns_sha256_hex (token, sizeof token);
  cpns_wipe (token, sizeof token);
  return hash;
}

gboolean
srv_request_authenticate (SrvRequest  *req,
                          GError     **error)
{
  const char *header;
  g_autofree char *hash = NULL;

  header = soup_message_headers_get_one (soup_server_message_get_request_headers (req->msg),
                                         "Authorization");
  hash = token_hash_from_header (header);
  if (hash == NULL)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_UNAUTHORIZED,
                           "unauthorized: a session token is required (Authorization: Bearer)");
      return FALSE;
    }
  req->session = srv_store_lookup_session (req->server->store, hash, req->now, error);
  if (req->session == NULL)
    return FALSE;
  req->token_hash = g_steal_pointer (&hash);
  return TRUE;
}

CpnsMessage *
srv_request_decode (SrvRequest  *req,
                    const char  *kind,
                    GError     **error)
{
  gsize len = 0;
  const char *data = req->body ? g_bytes_get_data (req->body, &len) : NULL;

  if (data == NULL || len == 0)
    {
      g_set_error_literal (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                           "bad_request: the request has no JSON body");
      return NULL;
    }
  return cpns_message_decode_body (kind, data, len, error);
}

/* ------------------------------------------------------------------ */
/* Routing */

typedef struct
{
  const char     *method;
  const char     *pattern;   /* segments; "*" is a parameter */
  SrvHandlerFunc  handler;
} Route;

static const Route routes[] = {
  { "GET",    "healthz",                         srv_handle_healthz },
  { "POST",   "cpns/v1/gateways",                srv_handle_enroll },
  { "POST",   "cpns/v1/session/challenge",       srv_handle_challenge },
  { "POST",   "cpns/v1/session",                 srv_handle_session_create },
  { "DELETE", "cpns/v1/session",                 srv_handle_session_delete },
  { "GET",    "cpns/v1/events",                  srv_handle_events_request },
  { "POST",   "cpns/v1/entities",                srv_handle_entity_create },
  { "DELETE", "cpns/v1/entities/*",              srv_handle_entity_delete },
  { "POST",   "cpns/v1/entities/*/key-confirm",  srv_handle_key_confirm },
  { "POST",   "cpns/v1/entities/*/rekey",        srv_handle_rekey },
  { "POST",   "cpns/v1/auth",                    srv_handle_auth },
  { "POST",   "cpns/v1/auth/*/verify",           srv_handle_verify },
  { "POST",   "cpns/v1/auth/*/decision",         srv_handle_decision },
  { "GET",    "cpns/v1/inventory",               srv_handle_inventory_get },
  { "PUT",    "cpns/v1/inventory/*",             srv_handle_inventory_put },
  { "GET",    "cpns/v1/policy",                  srv_handle_policy_get },
  { "PUT",    "cpns/v1/policy",                  srv_handle_policy_put },
};

static gboolean
pattern_matches (const char  *pattern,
                 char       **segments)
{
  g_auto(GStrv) parts = g_strsplit (pattern, "/", -1);
  guint n = g_strv_length (parts);

  if (g_strv_length (segments) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (strcmp (parts[i], "*") != 0 && strcmp (parts[i], segments[i]) != 0)
      return FALSE;
    else if (strcmp (parts[i], "*") == 0 && *segments[i] == '\0')
      return FALSE;
  return TRUE;
}

static void
request_clear (SrvRequest *req)
{
  g_strfreev (req->segments);
  g_clear_pointer (&req->body, g_bytes_unref);
  g_clear_pointer (&req->session, srv_session_free);
  g_free (req->token_hash);
  g_free (req->rule_id);
}

static char **
split_path (const char *path)
{
  /* "/a/b/" and "/a/b" are the same resource; "" segments otherwise
   * fail to match anything. */
  g_autofree char *trimmed = g_strdup (path[0] == '/' ? path + 1 : path);
  gsize len = strlen (trimmed);

  if (len > 0 && trimmed[len - 1] == '/')
    trimmed[len - 1] = '\0';
  return g_strsplit (trimmed, "/", -1);
}

static void
wipe_byte_array (gpointer data)
{
  GByteArray *array = data;

  cpns_wipe (array->data, array->len);
  g_byte_array_unref (array);
}

/* The request body as bytes that are wiped when freed (an enrollment code
 * or a gateway-assigned EUK may be in it). */
static GBytes *
take_collected_body (SoupServerMessage *msg)
{
  GByteArray *collected = g_object_steal_data (G_OBJECT (msg), "srv-body");

  if (collected == NULL)
    return g_bytes_new (NULL, 0);
  return g_bytes_new_with_free_func (collected->data, collected->len, wipe_byte_array, collected);
}

static void
dispatch (SrvServer         *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query)
{
  SrvRequest req = { 0 };
  GString *allowed = NULL;
  const Route *route = NULL;
  gboolean path_known = FALSE;

  req.server = server;
  req.msg = msg;
  req.method = soup_server_message_get_method (msg);
  req.path = path;
  req.query = query;
  req.now = srv_now ();
  req.segments = split_path (path);
  req.body = take_collected_body (msg);

  for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      if (!pattern_matches (routes[i].pattern, req.segments))
        continue;
      path_known = TRUE;
      if (strcmp (routes[i].method, req.method) == 0)
        {
          route = &routes[i];
          break;
        }
      if (allowed == NULL)
        allowed = g_string_new (NULL);
      else
        g_string_append (allowed, ", ");
      g_string_append (allowed, routes[i].method);
    }

  if (route != NULL)
    route->handler (&req);
  else if (path_known)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Allow", allowed->str);
      srv_reply_error_code (&req, CPNS_ERROR_BAD_REQUEST,
                            "bad_request: method not allowed on this resource");
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
    }
  else
    srv_reply_error_code (&req, CPNS_ERROR_NOT_FOUND, "not_found: no such resource");

  g_debug ("%s %s → %u", req.method, path, soup_server_message_get_status (msg));
  if (allowed)
    g_string_free (allowed, TRUE);
  request_clear (&req);
}

static void
handler_cb (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  dispatch (user_data, msg, path, query);
}

/* ------------------------------------------------------------------ */
/* Connections.
 *
 * libsoup 3.2 emits "request-started" as soon as it has accepted a
 * connection (before the TLS handshake) and "request-read" once a whole
 * request is in. From accept to the first request read the connection gets
 * the handshake timeout (handshake and first request); from each answer to
 * the next request read, the idle timeout. At either, both directions of
 * the socket are shut and libsoup drops the connection.
 *
 * But between two requests of a kept-alive connection libsoup 3.2 waits
 * for the next one with no completion set: when the client closes then (as
 * every HTTP client does with idle connections) libsoup never disconnects,
 * and the descriptor leaks. So each kept-alive connection is taken from
 * libsoup once its answer is written ("wrote-body", where the libsoup
 * documentation allows it) and handed back as a new connection
 * (soup_server_accept_iostream), whose first request libsoup handles
 * fully, end of stream included. The GSocket underneath stays the same and
 * carries our state; the remote address object given back with the stream
 * leads to it from later requests. A WebSocket leaves libsoup after its
 * upgrade request (at "wrote-informational"), so it is never timed out
 * here: it has its own keepalive.
 *
 * Open connections are counted per client address as the sockets not yet
 * closed (libsoup closes them when it disconnects); over the cap, a new one
 * is closed at once. */

typedef struct
{
  GSocket *socket;    /* not owned: this is its data */
  char    *address;
  guint    timer_id;
  gboolean answered;  /* an answer was written on it */
} SrvConnection;

static void
connection_free (gpointer data)
{
  SrvConnection *conn = data;

  g_clear_handle_id (&conn->timer_id, g_source_remove);
  g_free (conn->address);
  g_free (conn);
}

/* Both directions shut: libsoup's pending read ends and it drops the
 * connection (closing the socket). */
static void
connection_cut (SrvConnection *conn,
                const char    *why)
{
  g_debug ("closing a connection from %s: %s", conn->address, why);
  g_clear_handle_id (&conn->timer_id, g_source_remove);
  if (!g_socket_is_closed (conn->socket))
    g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
}

static gboolean
connection_timeout_cb (gpointer data)
{
  SrvConnection *conn = data;

  conn->timer_id = 0;
  if (g_socket_is_closed (conn->socket))
    return G_SOURCE_REMOVE;   /* libsoup was done with it already */
  connection_cut (conn, conn->answered ? "idle for longer than the idle timeout"
                                       : "no request within the handshake timeout");
  return G_SOURCE_REMOVE;
}

static void
connection_arm (SrvConnection *conn,
                gint64         usec)
{
  g_clear_handle_id (&conn->timer_id, g_source_remove);
  conn->timer_id = g_timeout_add ((guint) CLAMP (usec / 1000, 1, G_MAXUINT), connection_timeout_cb, conn);
}

/* The socket under @msg's connection: libsoup's for a connection it
 * accepted, ours (tagged on the remote address) for one handed back. */
static GSocket *
message_socket (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  GSocketAddress *remote;

  if (socket != NULL)
    return socket;
  remote = soup_server_message_get_remote_address (msg);
  return remote ? g_object_get_data (G_OBJECT (remote), "srv-socket") : NULL;
}

static SrvConnection *
connection_get (GSocket *socket)
{
  return socket ? g_object_get_data (G_OBJECT (socket), "srv-connection") : NULL;
}

/* The open connections from @address, once the closed ones are dropped. */
static GPtrArray *
connections_of (SrvServer  *server,
                const char *address)
{
  GPtrArray *sockets = g_hash_table_lookup (server->connections, address);

  if (sockets == NULL)
    {
      sockets = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_insert (server->connections, g_strdup (address), sockets);
    }
  for (guint i = sockets->len; i > 0; i--)
    if (g_socket_is_closed (g_ptr_array_index (sockets, i - 1)))
      g_ptr_array_remove_index_fast (sockets, i - 1);
  return sockets;
}

static void
connections_prune (SrvServer *server)
{
  GHashTableIter iter;
  gpointer address;

  g_hash_table_iter_init (&iter, server->connections);
  while (g_hash_table_iter_next (&iter, &address, NULL))
    if (connections_of (server, address)->len == 0)
      g_hash_table_iter_remove (&iter);
}

static SrvConnection *
connection_new (SrvServer *server,
                GSocket   *socket)
{
  SrvConnection *conn = g_new0 (SrvConnection, 1);
  g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);

  conn->socket = socket;
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    conn->address = g_inet_address_to_string (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  else
    conn->address = g_strdup ("(unknown)");
  g_object_set_data_full (G_OBJECT (socket), "srv-connection", conn, connection_free);
  g_ptr_array_add (connections_of (server, conn->address), g_object_ref (socket));

  /* Answers are written as several small TLS records (headers, body);
   * without TCP_NODELAY each can wait for the peer's delayed ACK. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  return conn;
}

static gboolean
is_keepalive (SoupServerMessage *msg)
{
  return soup_server_message_get_http_version (msg) == SOUP_HTTP_1_1 &&
         !soup_message_headers_header_contains (soup_server_message_get_request_headers (msg),
                                                "Connection", "close") &&
         !soup_message_headers_header_contains (soup_server_message_get_response_headers (msg),
                                                "Connection", "close") &&
         soup_message_headers_get_encoding (soup_server_message_get_response_headers (msg)) !=
           SOUP_ENCODING_EOF;
}

/* An answer is out: a kept-alive connection goes back to libsoup as a new
 * one (see above). */
static void
wrote_body_cb (SoupServerMessage *msg,
               SrvServer         *server)
{
  GSocket *socket = message_socket (msg);
  SrvConnection *conn = connection_get (socket);
  g_autoptr(GIOStream) stolen = NULL;
  g_autoptr(GIOStream) base = NULL;
  GSocketAddress *local, *remote;

  if (conn == NULL)
    return;
  conn->answered = TRUE;
  if (!is_keepalive (msg) || g_socket_is_closed (socket))
    return;   /* libsoup closes it */

  local = soup_server_message_get_local_address (msg);
  remote = soup_server_message_get_remote_address (msg);
  if (local == NULL || remote == NULL)
    return;
  g_object_ref (local);
  g_object_ref (remote);
  g_object_set_data_full (G_OBJECT (remote), "srv-socket", g_object_ref (socket), g_object_unref);
  g_object_ref (socket);
  stolen = soup_server_message_steal_connection (msg);
  /* libsoup's stream wraps ours (the TLS connection) with a read buffer,
   * empty now that the request is read and answered. */
  if (stolen != NULL)
    g_object_get (stolen, "base-iostream", &base, NULL);
  if (base == NULL || !soup_server_accept_iostream (server->soup, base, local, remote, NULL))
    g_socket_close (socket, NULL);
  g_object_unref (socket);
  g_object_unref (local);
  g_object_unref (remote);
}

static void
request_started_cb (SoupServer        *soup,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  SrvServer *server = user_data;
  const SrvTimings *t = srv_timings_get ();
  GSocket *socket = message_socket (msg);
  SrvConnection *conn = connection_get (socket);

  if (socket == NULL)
    return;
  g_signal_connect (msg, "wrote-body", G_CALLBACK (wrote_body_cb), server);
  if (conn != NULL)
    {
      /* Handed back after an answer: waiting for the next request. */
      connection_arm (conn, t->conn_idle);
      return;
    }
  conn = connection_new (server, socket);
  if (connections_of (server, conn->address)->len > MAX_CONNECTIONS_PER_ADDRESS)
    connection_cut (conn, "too many connections from this address");
  else
    connection_arm (conn, t->conn_handshake);
}

static void
request_read_cb (SoupServer        *soup,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  SrvConnection *conn = connection_get (message_socket (msg));

  /* A request in flight: its answer is written without a deadline. */
  if (conn != NULL)
    g_clear_handle_id (&conn->timer_id, g_source_remove);
}

/* ------------------------------------------------------------------ */
/* Body size: checked as the body streams in, never accumulated past the
 * limit. libsoup reads a whole request before it writes any answer, so an
 * oversized one (announced by Content-Length, or a chunked body that
 * passes the limit) is taken from libsoup: the 413 is written on the raw
 * connection at once, then the connection is closed without reading the
 * rest (a short linger discards, undecrypted, what is already on its
 * way, so the client can read the answer before the close). */

typedef struct
{
  GIOStream    *stream;     /* the TLS connection taken from libsoup */
  GSocket      *socket;
  GCancellable *cancellable;
  GSource      *drain;
  guint         deadline_id;
  gsize         drained;
  GBytes       *answer;
} SrvRejection;

/* Frees @rej; called once, when no write or close of it is pending. */
static void
rejection_finish (SrvRejection *rej)
{
  if (rej->drain != NULL)
    {
      g_source_destroy (rej->drain);
      g_clear_pointer (&rej->drain, g_source_unref);
    }
  g_clear_handle_id (&rej->deadline_id, g_source_remove);
  g_socket_close (rej->socket, NULL);
  g_clear_object (&rej->stream);
  g_clear_object (&rej->socket);
  g_clear_object (&rej->cancellable);
  g_clear_pointer (&rej->answer, g_bytes_unref);
  g_free (rej);
}

static gboolean
rejection_deadline_cb (gpointer data)
{
  SrvRejection *rej = data;

  rej->deadline_id = 0;
  if (rej->drain != NULL)
    rejection_finish (rej);
  else
    g_cancellable_cancel (rej->cancellable);   /* the pending write or close finishes it */
  return G_SOURCE_REMOVE;
}

static gboolean
rejection_drain_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      data)
{
  SrvRejection *rej = data;
  g_autoptr(GError) error = NULL;
  char buf[16384];
  gssize n = g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, NULL, &error);

  if (n > 0 && (rej->drained += (gsize) n) < MAX_LINGER_BYTES)
    return G_SOURCE_CONTINUE;
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  /* End of stream, an error, or enough. */
  rejection_finish (rej);
  return G_SOURCE_REMOVE;
}

static void
rejection_closed_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  SrvRejection *rej = data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error) ||
      rej->deadline_id == 0)
    {
      rejection_finish (rej);
      return;
    }
  /* close_notify is out: the FIN after it, then the linger. */
  g_socket_shutdown (rej->socket, FALSE, TRUE, NULL);
  rej->drain = g_socket_create_source (rej->socket, G_IO_IN | G_IO_ERR | G_IO_HUP, NULL);
  g_source_set_callback (rej->drain, G_SOURCE_FUNC (rejection_drain_cb), rej, NULL);
  g_source_attach (rej->drain, NULL);
}

static void
rejection_wrote_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  SrvRejection *rej = data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error) ||
      rej->deadline_id == 0)
    {
      rejection_finish (rej);
      return;
    }
  g_output_stream_close_async (G_OUTPUT_STREAM (source), G_PRIORITY_DEFAULT, rej->cancellable,
                               rejection_closed_cb, rej);
}

static void
reject_too_large (SrvServer         *server,
                  SoupServerMessage *msg)
{
  SrvRequest req = { 0 };
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  GSocket *socket = message_socket (msg);
  SrvConnection *conn = connection_get (socket);
  g_autoptr(GBytes) json = NULL;
  GString *answer;
  SrvRejection *rej;

  /* The error body of §2, as any answer would carry it. */
  req.server = server;
  req.msg = msg;
  req.method = soup_server_message_get_method (msg);
  req.path = g_uri_get_path (soup_server_message_get_uri (msg));
  srv_reply_error_code (&req, CPNS_ERROR_TOO_LARGE, "too_large: the body is over 65536 bytes");
  json = soup_message_body_flatten (body);
  g_debug ("%s %s → 413 (body over the limit), closing the connection", req.method, req.path);

  if (conn != NULL)
    g_clear_handle_id (&conn->timer_id, g_source_remove);
  rej = g_new0 (SrvRejection, 1);
  rej->socket = socket ? g_object_ref (socket) : NULL;
  rej->stream = soup_server_message_steal_connection (msg);
  if (rej->stream == NULL || rej->socket == NULL)
    {
      if (rej->socket != NULL)
        g_socket_shutdown (rej->socket, TRUE, TRUE, NULL);
      g_clear_object (&rej->stream);
      g_clear_object (&rej->socket);
      g_free (rej);
      return;
    }
  answer = g_string_new (NULL);
  g_string_append_printf (answer,
                          "HTTP/1.1 413 Request Entity Too Large\r\n"
                          "Server: cpns-server\r\n"
                          "Content-Type: application/json\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n"
                          "\r\n", g_bytes_get_size (json));
  g_string_append_len (answer, g_bytes_get_data (json, NULL), (gssize) g_bytes_get_size (json));
  rej->answer = g_string_free_to_bytes (answer);
  rej->cancellable = g_cancellable_new ();
  rej->deadline_id = g_timeout_add (LINGER_MS, rejection_deadline_cb, rej);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (rej->stream),
                                   g_bytes_get_data (rej->answer, NULL),
                                   g_bytes_get_size (rej->answer), G_PRIORITY_DEFAULT,
                                   rej->cancellable, rejection_wrote_cb, rej);
}

static void
got_chunk_cb (SoupServerMessage *msg,
              GBytes            *chunk,
              SrvServer         *server)
{
  GByteArray *collected = g_object_get_data (G_OBJECT (msg), "srv-body");
  gsize size = g_bytes_get_size (chunk);

  if (collected == NULL)
    return;
  if (collected->len + size > CPNS_MAX_MESSAGE_SIZE)
    {
      /* Over the limit while streaming (chunked body). */
      g_object_set_data (G_OBJECT (msg), "srv-body", NULL);   /* wipes and frees it */
      reject_too_large (server, msg);
      return;
    }
  g_byte_array_append (collected, g_bytes_get_data (chunk, NULL), size);
}

static void
early_cb (SoupServer        *soup,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  SrvServer *server = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  soup_message_body_set_accumulate (body, FALSE);
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (headers) > CPNS_MAX_MESSAGE_SIZE)
    {
      /* Answered now, with or without "Expect: 100-continue"; the body
       * is never read. */
      reject_too_large (server, msg);
      return;
    }
  g_object_set_data_full (G_OBJECT (msg), "srv-body", g_byte_array_new (), wipe_byte_array);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), server);
}

/* ------------------------------------------------------------------ */
/* WebSocket */

static void
events_handler_cb (SoupServer        *soup,
                   SoupServerMessage *msg,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           user_data)
{
  /* Also reached by /cpns/v1/events/…: route it like any request. */
  dispatch (user_data, msg, path, query);
}

static void
websocket_cb (SoupServer              *soup,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *connection,
              gpointer                 user_data)
{
  srv_events_attach (user_data, msg, connection);
}

/* ------------------------------------------------------------------ */
/* Timers */

static gboolean
poll_cb (gpointer user_data)
{
  SrvServer *server = user_data;
  g_autoptr(GError) error = NULL;

  if (!srv_store_flush_decisions (server->store, &error))
    g_message ("cannot record decisions: %s", error->message);
  srv_events_poll (server);
  return G_SOURCE_CONTINUE;
}

static gboolean
purge_cb (gpointer user_data)
{
  SrvServer *server = user_data;
  const SrvTimings *t = srv_timings_get ();
  g_autoptr(GError) error = NULL;
  gint64 now = srv_now ();
  guint n;

  n = srv_store_purge_pending (server->store, now - t->pending_ttl, &error);
  if (error)
    g_message ("cannot purge pending entities: %s", error->message);
  else if (n > 0)
    g_debug ("purged %u pending entities", n);
  /* Expired exchanges are kept a while so a late answer gets "timeout". */
  srv_store_expire_ephemeral (server->store, now - 10 * MAX (t->auth_ttl, t->approval_ttl));
  srv_store_prune_events (server->store, now - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  srv_store_prune_decisions (server->store, now - G_GINT64_CONSTANT (90) * 24 * 3600 * G_USEC_PER_SEC);
  srv_limiter_prune (server->pne_limiter, now);
  srv_limiter_prune (server->enroll_limiter, now);
  connections_prune (server);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Lifetime */

SrvServer *
srv_server_new (const char  *data_dir,
                GError     **error)
{
  g_autoptr(SrvServer) server = g_new0 (SrvServer, 1);
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autofree char *cert_path = srv_datadir_cert_path (data_dir);
  g_autofree char *key_path = srv_datadir_key_path (data_dir);
  g_autofree char *db_path = srv_datadir_db_path (data_dir);
  const SrvTimings *t = srv_timings_get ();
  g_autoptr(GError) local_error = NULL;

  server->data_dir = g_strdup (data_dir);
  server->ws_clients = g_ptr_array_new ();
  server->connections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_ptr_array_unref);

  if (!g_file_test (cert_path, G_FILE_TEST_EXISTS) || !g_file_test (key_path, G_FILE_TEST_EXISTS) ||
      !g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "%s has no server database, certificate or key; create them with "
                   "`cpns-server init --data-dir %s`", data_dir, data_dir);
      return NULL;
    }
  certificate = g_tls_certificate_new_from_files (cert_path, key_path, &local_error);
  if (certificate == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                   "cannot load the TLS certificate %s and key %s (%s); to make a new pair "
                   "run `cpns-server init --force --data-dir %s`",
                   cert_path, key_path, local_error->message, data_dir);
      return NULL;
    }
  server->store = srv_store_open (db_path, error);
  if (server->store == NULL)
    return NULL;
  server->last_event_id = srv_store_last_event_id (server->store);
  server->pne_limiter = srv_limiter_new_persistent (server->store, "pne", 5,
                                                    t->pne_lock_window, t->pne_lock_duration);
  server->enroll_limiter = srv_limiter_new_persistent (server->store, "enroll", 10,
                                                       t->enroll_lock_window, t->enroll_lock_window);

  server->soup = soup_server_new ("tls-certificate", certificate,
                                  "server-header", "cpns-server",
                                  NULL);
  g_signal_connect (server->soup, "request-started", G_CALLBACK (request_started_cb), server);
  g_signal_connect (server->soup, "request-read", G_CALLBACK (request_read_cb), server);
  soup_server_add_early_handler (server->soup, NULL, early_cb, server, NULL);
  soup_server_add_handler (server->soup, NULL, handler_cb, server, NULL);
  soup_server_add_early_handler (server->soup, "/cpns/v1/events", early_cb, server, NULL);
  soup_server_add_handler (server->soup, "/cpns/v1/events", events_handler_cb, server, NULL);
  soup_server_add_websocket_handler (server->soup, "/cpns/v1/events", NULL, NULL,
                                     websocket_cb, server, NULL);

  server->poll_id = g_timeout_add (POLL_INTERVAL_MS, poll_cb, server);
  server->purge_id = g_timeout_add (MAX (50, t->purge_interval / 1000), purge_cb, server);
  purge_cb (server);
  return g_steal_pointer (&server);
}

void
srv_server_free (SrvServer *server)
{
  if (server == NULL)
    return;
  g_clear_handle_id (&server->poll_id, g_source_remove);
  g_clear_handle_id (&server->purge_id, g_source_remove);
  if (server->ws_clients)
    srv_events_close_all (server);
  if (server->soup)
    soup_server_disconnect (server->soup);
  g_clear_object (&server->soup);
  g_clear_pointer (&server->store, srv_store_free);
  g_clear_pointer (&server->pne_limiter, srv_limiter_free);
  g_clear_pointer (&server->enroll_limiter, srv_limiter_free);
  g_clear_pointer (&server->ws_clients, g_ptr_array_unref);
  g_clear_pointer (&server->connections, g_hash_table_unref);
  g_free (server->data_dir);
  g_free (server);
}

gboolean
srv_server_listen (SrvServer   *server,
                   const char  *address,
                   GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GSocketAddressEnumerator) enumerator = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;

  connectable = g_network_address_parse (address, 7443, error);
  if (connectable == NULL)
    return FALSE;
  enumerator = g_socket_connectable_enumerate (connectable);
  socket_address = g_socket_address_enumerator_next (enumerator, NULL, error);
  if (socket_address == NULL)
    {
      if (error && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "cannot resolve %s", address);
      return FALSE;
    }
  return soup_server_listen (server->soup, socket_address, SOUP_SERVER_LISTEN_HTTPS, error);
}

char *
srv_server_dup_url (SrvServer *server)
{
  GSList *uris = soup_server_get_uris (server->soup);
  char *url = NULL;

  if (uris != NULL)
    {
      GUri *uri = uris->data;
      const char *host = g_uri_get_host (uri);

      if (strchr (host, ':') != NULL)
        url = g_strdup_printf ("https://[%s]:%d", host, g_uri_get_port (uri));
      else
        url = g_strdup_printf ("https://%s:%d", host, g_uri_get_port (uri));
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return url;
}

guint
srv_server_get_port (SrvServer *server)
{
  GSList *uris = soup_server_get_uris (server->soup);
  guint port = 0;

  if (uris != NULL)
    port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return port;
}
