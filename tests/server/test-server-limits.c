/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Connection limits of a real cpns-server on loopback (issue 7):
 *
 *  - a connection that never completes a TLS handshake, or completes it
 *    and sends no request, is closed after the handshake timeout;
 *  - a kept-alive connection is closed after the idle timeout since its
 *    last answer, not before;
 *  - an events WebSocket is not subject to either;
 *  - connections over the per-address cap are closed at once, and the
 *    count goes down again as connections close;
 *  - a body announced over 64 KiB (Content-Length, no "Expect:
 *    100-continue") gets 413 at once and is never read: the server's RSS
 *    does not grow; a chunked body gets 413 as soon as it passes 64 KiB.
 *
 * The timeouts are shortened with CPNS_SERVER_TEST_TIMINGS
 * (handshake=1,idle=2; 10 s and 90 s otherwise). */
#include "config.h"

#include <string.h>

#include "server-fixture.h"

#define HANDSHAKE_MS 1000
#define IDLE_MS      2000
/* MAX_CONNECTIONS_PER_ADDRESS of srv-server.c */
#define PER_ADDRESS  64

/* Under AddressSanitizer freed memory sits in a quarantine, and
 * ThreadSanitizer adds shadow memory as it goes, so RSS says nothing about
 * retention there: the bound is checked in the normal build only. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_LIMIT_KIB G_MAXINT64
#else
#define RSS_LIMIT_KIB (8 * 1024)
#endif

static ServerFixture *fx;

static guint16
server_port (void)
{
  const char *colon = strrchr (fx->base_url, ':');

  return (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
}

static int
server_pid (void)
{
  return (int) g_ascii_strtoll (g_subprocess_get_identifier (fx->process), NULL, 10);
}

static gint64
server_rss_kib (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", server_pid ());
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + 6, NULL, 10);
}

static guint
server_fd_count (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", server_pid ());
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A plain TCP connection to the server. */
static GSocketConnection *
tcp_connect (void)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_to_host (client, "127.0.0.1", server_port (),
                                                             NULL, &error);

  g_assert_no_error (error);
  return conn;
}

static gboolean
accept_any_cb (GTlsConnection       *conn,
               GTlsCertificate      *cert,
               GTlsCertificateFlags  errors,
               gpointer              user_data)
{
  return TRUE;
}

/* TLS over @tcp, handshake done (any server certificate: loopback). */
static GIOStream *
tls_connect (GSocketConnection *tcp)
{
  g_autoptr(GError) error = NULL;
  GIOStream *tls = g_tls_client_connection_new (G_IO_STREAM (tcp), NULL, &error);

  g_assert_no_error (error);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_cb), NULL);
  g_tls_connection_set_advertised_protocols (G_TLS_CONNECTION (tls),
                                            (const char * const[]) { "http/1.1", NULL });
  g_assert_true (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error));
  g_assert_no_error (error);
  return tls;
}

/* Writes all of @text on @stream. */
static void
send_text (GIOStream  *stream,
           const char *text)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (stream), text, strlen (text),
                                            NULL, NULL, &error));
  g_assert_no_error (error);
}

/* Reads one HTTP answer (headers and a Content-Length body) from @stream;
 * returns its status, and the head and body in *@out. 0 when none came
 * within 5 s. */
static guint
read_answer (GIOStream *stream,
             GSocket   *socket,
             char     **out)
{
  GInputStream *in = g_io_stream_get_input_stream (stream);
  g_autoptr(GString) text = g_string_new (NULL);
  gsize want = G_MAXSIZE;
  guint status = 0;

  g_socket_set_timeout (socket, 5);
  while (text->len < want)
    {
      char buf[4096];
      const char *end;
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL);

      if (n <= 0)
        break;
      g_string_append_len (text, buf, n);
      if (want == G_MAXSIZE && (end = strstr (text->str, "\r\n\r\n")) != NULL)
        {
          const char *length = strstr (text->str, "Content-Length: ");

          want = (gsize) (end + 4 - text->str);
          if (length != NULL && length < end)
            want += g_ascii_strtoull (length + 16, NULL, 10);
        }
    }
  g_socket_set_timeout (socket, 0);
  if (g_str_has_prefix (text->str, "HTTP/1.1 "))
    status = (guint) g_ascii_strtoull (text->str + 9, NULL, 10);
  if (out)
    *out = g_strdup (text->str);
  return status;
}

/* Waits up to @timeout_ms for the server to close @socket (EOF or reset
 * on the raw socket; what arrives before is discarded: use it last).
 * Returns the ms waited, or -1. */
static gint64
wait_closed (GSocket *socket,
             guint    timeout_ms)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      char buf[4096];
      gssize n;

      if (!g_socket_condition_timed_wait (socket, G_IO_IN, deadline - g_get_monotonic_time (), NULL, NULL))
        break;
      n = g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, NULL, NULL);
      if (n <= 0)
        return (g_get_monotonic_time () - start) / 1000;
    }
  return -1;
}

/* TRUE while the server has neither closed @socket nor sent anything. */
static gboolean
still_open (GSocket *socket)
{
  return g_socket_condition_check (socket, G_IO_IN | G_IO_HUP | G_IO_ERR) == 0;
}

static void
test_idle_before_handshake (void)
{
  GSocketConnection *conns[4];
  gint64 start = g_get_monotonic_time (), first = G_MAXINT64, last = 0;

  for (guint i = 0; i < G_N_ELEMENTS (conns); i++)
    conns[i] = tcp_connect ();
  /* Not before the handshake timeout… */
  g_usleep ((HANDSHAKE_MS - 300) * 1000);
  for (guint i = 0; i < G_N_ELEMENTS (conns); i++)
    g_assert_true (still_open (g_socket_connection_get_socket (conns[i])));
  /* …but soon after. */
  for (guint i = 0; i < G_N_ELEMENTS (conns); i++)
    {
      gint64 ms = wait_closed (g_socket_connection_get_socket (conns[i]), HANDSHAKE_MS + 5000);
      gint64 since_start = (g_get_monotonic_time () - start) / 1000;

      g_assert_cmpint (ms, >=, 0);
      first = MIN (first, since_start);
      last = MAX (last, since_start);
      g_object_unref (conns[i]);
    }
  g_print ("# FIGURE idle TCP connections (no TLS handshake, timeout %d ms): closed after %"
           G_GINT64_FORMAT "-%" G_GINT64_FORMAT " ms\n", HANDSHAKE_MS, first, last);
}

static void
test_idle_after_handshake (void)
{
  g_autoptr(GSocketConnection) tcp = tcp_connect ();
  g_autoptr(GIOStream) tls = NULL;
  gint64 start = g_get_monotonic_time (), ms;

  tls = tls_connect (tcp);
  ms = wait_closed (g_socket_connection_get_socket (tcp), HANDSHAKE_MS + 5000);
  g_assert_cmpint (ms, >=, 0);
  ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpint (ms, >=, HANDSHAKE_MS - 300);
  g_print ("# FIGURE TLS connection without a request (timeout %d ms): closed after %"
           G_GINT64_FORMAT " ms\n", HANDSHAKE_MS, ms);
}

static void
test_idle_between_requests (void)
{
  g_autoptr(GSocketConnection) tcp = tcp_connect ();
  GSocket *socket = g_socket_connection_get_socket (tcp);
  g_autoptr(GIOStream) tls = tls_connect (tcp);
  gint64 answered, ms;

  /* Requests keep it open past the handshake timeout. */
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *answer = NULL;

      if (i > 0)
        g_usleep ((HANDSHAKE_MS / 2) * 1000);
      send_text (tls, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      g_assert_cmpuint (read_answer (tls, socket, &answer), ==, 200);
      g_assert_nonnull (strstr (answer, "\"status\":\"ok\""));
    }
  answered = g_get_monotonic_time ();
  /* Idle: still open past the handshake timeout, closed after the idle
   * timeout. */
  g_usleep ((HANDSHAKE_MS + 300) * 1000);
  g_assert_true (still_open (socket));
  ms = wait_closed (socket, IDLE_MS + 5000);
  g_assert_cmpint (ms, >=, 0);
  ms = (g_get_monotonic_time () - answered) / 1000;
  g_assert_cmpint (ms, >=, IDLE_MS - 300);
  g_print ("# FIGURE kept-alive connection (idle timeout %d ms): closed %" G_GINT64_FORMAT
           " ms after its last answer\n", IDLE_MS, ms);
}

/* A request whose headers (or body) never end is closed too. */
static void
test_slow_request (void)
{
  g_autoptr(GSocketConnection) tcp = tcp_connect ();
  g_autoptr(GIOStream) tls = tls_connect (tcp);
  gint64 start = g_get_monotonic_time (), ms;

  send_text (tls, "POST /cpns/v1/session/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Length: 100\r\n\r\n{\"gateway_id\":");
  ms = wait_closed (g_socket_connection_get_socket (tcp), HANDSHAKE_MS + 5000);
  g_assert_cmpint (ms, >=, 0);
  g_print ("# FIGURE request body never finished (timeout %d ms): closed after %" G_GINT64_FORMAT " ms\n",
           HANDSHAKE_MS, (g_get_monotonic_time () - start) / 1000);
}

/* ------------------------------------------------------------------ */

typedef struct
{
  GMainLoop               *loop;
  SoupWebsocketConnection *connection;
  GError                  *error;
  gboolean                 closed;
} WsState;

static void
ws_connected_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  WsState *state = user_data;

  state->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &state->error);
  g_main_loop_quit (state->loop);
}

static void
ws_closed_cb (SoupWebsocketConnection *connection,
              WsState                 *state)
{
  state->closed = TRUE;
}

static gboolean
quit_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
test_websocket_exempt (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (fx, "ws-idle");
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (fx->base_url, "/cpns/v1/events", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *bearer = NULL;
  WsState state = { 0 };

  test_gateway_open_session (fx, gw);
  bearer = g_strconcat ("Bearer ", gw->token, NULL);
  server_fixture_pin_message (fx, msg);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", bearer);
  state.loop = g_main_loop_new (NULL, FALSE);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected_cb, &state);
  g_main_loop_run (state.loop);
  g_assert_no_error (state.error);
  g_assert_nonnull (state.connection);
  g_signal_connect (state.connection, "closed", G_CALLBACK (ws_closed_cb), &state);

  /* Silent for longer than both timeouts together. */
  g_timeout_add (HANDSHAKE_MS + IDLE_MS + 1000, quit_cb, state.loop);
  g_main_loop_run (state.loop);
  g_assert_false (state.closed);
  g_assert_cmpint (soup_websocket_connection_get_state (state.connection), ==, SOUP_WEBSOCKET_STATE_OPEN);
  g_print ("# FIGURE events WebSocket silent for %d ms: still open\n", HANDSHAKE_MS + IDLE_MS + 1000);

  soup_websocket_connection_close (state.connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&state.connection);
  g_main_loop_unref (state.loop);
}

/* ------------------------------------------------------------------ */

/* Its own server, with long timeouts: 72 connections from one test take a
 * while to be accepted (GIO's listen backlog is 10). */
static void
test_per_address_cap (void)
{
  const guint extra = 8;
  ServerFixture *cap_fx = server_fixture_new ("handshake=60,idle=60");
  ServerFixture *saved = fx;
  g_autoptr(GPtrArray) conns = g_ptr_array_new_with_free_func (g_object_unref);
  guint fds_before, fds_after = 0, closed_early = 0;
  gint64 deadline;

  server_fixture_start (cap_fx);
  fx = cap_fx;   /* for tcp_connect() and the /proc helpers */
  /* One full exchange first: the server opens a few descriptors for good
   * on its first TLS connection. */
  {
    g_autoptr(GSocketConnection) tcp = tcp_connect ();
    g_autoptr(GIOStream) tls = tls_connect (tcp);

    send_text (tls, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    g_assert_cmpuint (read_answer (tls, g_socket_connection_get_socket (tcp), NULL), ==, 200);
    g_assert_cmpint (wait_closed (g_socket_connection_get_socket (tcp), 5000), >=, 0);
  }
  g_usleep (200 * 1000);
  fds_before = server_fd_count ();
  for (guint i = 0; i < PER_ADDRESS + extra; i++)
    g_ptr_array_add (conns, tcp_connect ());
  g_usleep (500 * 1000);
  for (guint i = 0; i < conns->len; i++)
    if (!still_open (g_socket_connection_get_socket (g_ptr_array_index (conns, i))))
      closed_early++;
  g_print ("# FIGURE %u connections from one address (cap %d): %u closed at once\n",
           conns->len, PER_ADDRESS, closed_early);
  g_assert_cmpuint (closed_early, ==, extra);
  for (guint i = 0; i < PER_ADDRESS; i++)
    g_assert_true (still_open (g_socket_connection_get_socket (g_ptr_array_index (conns, i))));

  /* Closed by the client: the count goes down with them, the server takes
   * as many again and holds no more descriptors than before. */
  g_ptr_array_set_size (conns, 0);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline && (fds_after = server_fd_count ()) > fds_before)
    g_usleep (100 * 1000);
  g_assert_cmpuint (fds_after, <=, fds_before);
  for (guint i = 0; i < PER_ADDRESS; i++)
    g_ptr_array_add (conns, tcp_connect ());
  g_usleep (500 * 1000);
  for (guint i = 0; i < conns->len; i++)
    g_assert_true (still_open (g_socket_connection_get_socket (g_ptr_array_index (conns, i))));
  g_ptr_array_set_size (conns, 0);

  fx = saved;
  server_fixture_free (cap_fx);
}

/* Kept-alive connections closed by the client between requests (as every
 * HTTP client closes its idle ones) leave no descriptor behind. */
static void
test_no_descriptor_leak (void)
{
  guint fds_before, fds_after = 0;
  gint64 deadline;

  g_usleep (200 * 1000);
  fds_before = server_fd_count ();

  for (int i = 0; i < 20; i++)
    {
      g_autoptr(GSocketConnection) tcp = tcp_connect ();
      g_autoptr(GIOStream) tls = tls_connect (tcp);

      for (int j = 0; j < 2; j++)
        {
          send_text (tls, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
          g_assert_cmpuint (read_answer (tls, g_socket_connection_get_socket (tcp), NULL), ==, 200);
        }
      g_io_stream_close (tls, NULL, NULL);
    }
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline && (fds_after = server_fd_count ()) > fds_before)
    g_usleep (100 * 1000);
  g_print ("# FIGURE 20 kept-alive connections closed by the client: server descriptors %u before, %u after\n",
           fds_before, fds_after);
  g_assert_cmpuint (fds_after, <=, fds_before);
}

/* ------------------------------------------------------------------ */

/* Content-Length: 100 MiB, no Expect: the 413 comes at once, the body is
 * never read and the server does not grow. */
static void
test_announced_body_too_large (void)
{
  g_autoptr(GSocketConnection) tcp = tcp_connect ();
  GSocket *socket = g_socket_connection_get_socket (tcp);
  g_autoptr(GIOStream) tls = tls_connect (tcp);
  g_autofree char *answer = NULL;
  g_autofree char *junk = g_malloc0 (65536);
  GOutputStream *out = g_io_stream_get_output_stream (tls);
  gint64 rss_before = server_rss_kib (), rss_after, start, ms, closed_ms;
  guint64 sent = 0;

  start = g_get_monotonic_time ();
  send_text (tls, "POST /cpns/v1/gateways HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n");
  g_assert_cmpuint (read_answer (tls, socket, &answer), ==, 413);
  ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_nonnull (strstr (answer, "\"code\":\"too_large\""));
  g_assert_nonnull (strstr (answer, "Connection: close"));
  g_assert_cmpint (ms, <, 1000);

  /* Sending the body anyway: the server reads none of it, so the socket
   * fills (or is reset) long before 100 MiB. */
  g_socket_set_timeout (socket, 2);
  while (sent < 104857600)
    {
      gssize n = g_output_stream_write (out, junk, 65536, NULL, NULL);

      if (n <= 0)
        break;
      sent += (guint64) n;
    }
  g_socket_set_timeout (socket, 0);
  closed_ms = wait_closed (socket, 5000);
  rss_after = server_rss_kib ();
  g_print ("# FIGURE 100 MiB announced, no Expect: 413 after %" G_GINT64_FORMAT " ms; the client "
           "could push %" G_GUINT64_FORMAT " KiB before the server stopped taking it; server RSS %"
           G_GINT64_FORMAT " KiB before, %" G_GINT64_FORMAT " KiB after (%+" G_GINT64_FORMAT " KiB)\n",
           ms, sent >> 10, rss_before, rss_after, rss_after - rss_before);
  g_assert_cmpint (closed_ms, >=, 0);
  /* Linger ≤ 4 MiB plus what the socket buffers hold. */
  g_assert_cmpuint (sent, <, 32u << 20);
  g_assert_cmpint (rss_after - rss_before, <, RSS_LIMIT_KIB);
  g_assert_cmpuint (server_fixture_request (fx, "GET", "/healthz", NULL, NULL, NULL), ==, 200);
}

/* A chunked body: 413 as soon as the running total passes 64 KiB, while
 * the client is still sending. */
static void
test_chunked_body_too_large (void)
{
  g_autoptr(GSocketConnection) tcp = tcp_connect ();
  GSocket *socket = g_socket_connection_get_socket (tcp);
  g_autoptr(GIOStream) tls = tls_connect (tcp);
  g_autofree char *answer = NULL;
  g_autofree char *chunk = g_strnfill (8192, 'x');
  g_autofree char *framed = g_strdup_printf ("2000\r\n%s\r\n", chunk);
  gint64 start;
  guint status;

  send_text (tls, "POST /cpns/v1/gateways HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  /* 9 × 8 KiB = 72 KiB, and no last chunk. */
  for (int i = 0; i < 9; i++)
    send_text (tls, framed);
  start = g_get_monotonic_time ();
  status = read_answer (tls, socket, &answer);
  g_assert_cmpuint (status, ==, 413);
  g_assert_nonnull (strstr (answer, "\"code\":\"too_large\""));
  g_assert_cmpint (wait_closed (socket, 5000), >=, 0);
  g_print ("# FIGURE chunked body past 64 KiB (no last chunk): 413 after %" G_GINT64_FORMAT " ms\n",
           (g_get_monotonic_time () - start) / 1000);

  /* Under the limit, chunked, is still taken (and answered on its merits). */
  {
    g_autoptr(GSocketConnection) tcp2 = tcp_connect ();
    g_autoptr(GIOStream) tls2 = tls_connect (tcp2);
    g_autofree char *answer2 = NULL;

    send_text (tls2, "POST /cpns/v1/session/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "e\r\n{\"gateway_id\":\r\n5\r\n\"x\"}\r\n0\r\n\r\n");
    g_assert_cmpuint (read_answer (tls2, g_socket_connection_get_socket (tcp2), &answer2), ==, 400);
    g_assert_nonnull (strstr (answer2, "\"code\":\"bad_request\""));
  }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  fx = server_fixture_new ("handshake=1,idle=2");
  server_fixture_start (fx);

  g_test_add_func ("/server/limits/idle-before-handshake", test_idle_before_handshake);
  g_test_add_func ("/server/limits/idle-after-handshake", test_idle_after_handshake);
  g_test_add_func ("/server/limits/idle-between-requests", test_idle_between_requests);
  g_test_add_func ("/server/limits/slow-request", test_slow_request);
  g_test_add_func ("/server/limits/websocket-exempt", test_websocket_exempt);
  g_test_add_func ("/server/limits/per-address-cap", test_per_address_cap);
  g_test_add_func ("/server/limits/no-descriptor-leak", test_no_descriptor_leak);
  g_test_add_func ("/server/limits/announced-body-too-large", test_announced_body_too_large);
  g_test_add_func ("/server/limits/chunked-body-too-large", test_chunked_body_too_large);
  ret = g_test_run ();

  server_fixture_free (fx);
  return ret;
}
