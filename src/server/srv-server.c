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

/* Bytes of an oversized body read and thrown away before the connection
 * is cut instead. */
#define MAX_DISCARD (16 * CPNS_MAX_MESSAGE_SIZE)
#define POLL_INTERVAL_MS 250

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
/* Body size: checked as the body streams in, never accumulated past the
 * limit. */

static void
too_large (SrvServer         *server,
           SoupServerMessage *msg)
{
  SrvRequest req = { 0 };

  req.server = server;
  req.msg = msg;
  req.method = soup_server_message_get_method (msg);
  req.path = g_uri_get_path (soup_server_message_get_uri (msg));
  srv_reply_error_code (&req, CPNS_ERROR_TOO_LARGE,
                        "too_large: the body is over 65536 bytes");
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
}

static void
got_chunk_cb (SoupServerMessage *msg,
              GBytes            *chunk,
              SrvServer         *server)
{
  GByteArray *collected = g_object_get_data (G_OBJECT (msg), "srv-body");
  gsize discarded = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (msg), "srv-discarded"));
  gsize size = g_bytes_get_size (chunk);

  if (collected != NULL && collected->len + size <= CPNS_MAX_MESSAGE_SIZE)
    {
      g_byte_array_append (collected, g_bytes_get_data (chunk, NULL), size);
      return;
    }
  if (collected != NULL)
    {
      /* Over the limit while streaming (chunked body). */
      discarded = collected->len;
      g_object_set_data (G_OBJECT (msg), "srv-body", NULL);   /* frees it */
      if (soup_server_message_get_status (msg) == 0)
        too_large (server, msg);
    }
  discarded += size;
  g_object_set_data (G_OBJECT (msg), "srv-discarded", GSIZE_TO_POINTER (discarded));
  if (discarded > MAX_DISCARD)
    {
      GSocket *socket = soup_server_message_get_socket (msg);

      g_debug ("closing a connection that keeps sending an oversized body");
      if (socket)
        g_socket_shutdown (socket, TRUE, TRUE, NULL);
    }
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
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), server);

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (headers) > CPNS_MAX_MESSAGE_SIZE)
    {
      /* Answered now; with "Expect: 100-continue" the body is never sent,
       * otherwise it is read and thrown away (up to MAX_DISCARD). */
      too_large (server, msg);
      return;
    }
  g_object_set_data_full (G_OBJECT (msg), "srv-body", g_byte_array_new (), wipe_byte_array);
}

/* ------------------------------------------------------------------ */
/* Connections: answers are written as several small TLS records (headers,
 * body); without TCP_NODELAY each can wait for the peer's delayed ACK. */

static void
request_started_cb (SoupServer        *soup,
                    SoupServerMessage *msg,
                    gpointer           user_data)
{
  GSocket *socket = soup_server_message_get_socket (msg);

  if (socket != NULL && !g_object_get_data (G_OBJECT (socket), "srv-nodelay"))
    {
      g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
      g_object_set_data (G_OBJECT (socket), "srv-nodelay", GINT_TO_POINTER (1));
    }
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
  server->pne_limiter = srv_limiter_new (5, t->pne_lock_window, t->pne_lock_duration);
  server->enroll_limiter = srv_limiter_new (10, t->enroll_lock_window, t->enroll_lock_window);

  server->soup = soup_server_new ("tls-certificate", certificate,
                                  "server-header", "cpns-server",
                                  NULL);
  g_signal_connect (server->soup, "request-started", G_CALLBACK (request_started_cb), server);
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
