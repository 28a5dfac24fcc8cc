/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Security (issue 7, item 2) against a real cpns-server's HTTP API:
 * bodies over 64 KiB (sent, or only announced by Content-Length and then
 * dribbled), deep nesting, huge strings and arrays, invalid UTF-8, numbers
 * out of range, wrong types, duplicate keys: the §2 error each, fast; the server's RSS
 * while a peer streams garbage bodies (CPNS_SEC_GARBAGE_MIB, default 64). */
#include "config.h"

#include <string.h>

#include "cpns-ids.h"
#include "sec-tls-client.h"

/* Under AddressSanitizer freed memory sits in a quarantine (256 MiB), so
 * RSS says nothing about retention there: the bound is checked in the
 * normal build only. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_LIMIT_KIB G_MAXINT64
#else
#define RSS_LIMIT_KIB (16 * 1024)
#endif
#include "server-fixture.h"

static ServerFixture *fx;
static TestGateway   *gw;

static guint16
server_port (void)
{
  const char *colon = strrchr (fx->base_url, ':');

  return (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
}

static void
test_shapes (void)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *gw_field = g_strdup_printf ("\"gateway_id\":\"%s\"", gw->gateway_id);
  struct { const char *label; const char *path; char *body; guint status; const char *code;
           const char *message; } cases[24] = { { 0 } };
  guint n = 0, ok = 0;

#define ADD(lbl, text, st, cd) \
  G_STMT_START { cases[n].label = (lbl); cases[n].body = (text); cases[n].status = (st); \
                 cases[n].code = (cd); cases[n].path = "/cpns/v1/session/challenge"; n++; } G_STMT_END
#define ADD_ENTITY(lbl, port) \
  G_STMT_START { g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE); \
                 cases[n].label = (lbl); cases[n].status = 400; cases[n].code = "bad_request"; \
                 cases[n].path = "/cpns/v1/entities"; \
                 cases[n].body = g_strdup_printf ("{\"pne_id\":\"%s\",\"key_assignment\":\"server\"," \
                   "\"entity\":{\"name\":\"n\",\"entity_type\":\"sensor\",\"services\":" \
                   "[{\"name\":\"s\",\"protocol\":\"p\",\"port\":%s}]}}", pne_id, (port)); \
                 n++; } G_STMT_END

  g_string_assign (s, "{\"x\":");
  for (int i = 0; i < 40; i++)
    g_string_append (s, "[");
  for (int i = 0; i < 40; i++)
    g_string_append (s, "]");
  g_string_append_printf (s, ",%s}", gw_field);
  ADD ("deep nesting", g_strdup (s->str), 400, "bad_request");
  g_string_assign (s, "{\"gateway_id\":\"");
  for (int i = 0; i < 60000; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, "\"}");
  ADD ("huge string", g_strdup (s->str), 400, "bad_request");
  g_string_assign (s, "{\"gateway_id\":[");
  for (int i = 0; i < 30000; i++)
    g_string_append (s, i ? ",1" : "1");
  g_string_append (s, "]}");
  ADD ("huge array", g_strdup (s->str), 400, "bad_request");
  g_string_assign (s, "{\"gateway_id\":\"");
  for (int i = 0; i < 70000; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, "\"}");
  ADD ("body over 64 KiB", g_strdup (s->str), 413, "too_large");
  ADD ("invalid UTF-8", g_strdup ("{\"gateway_id\":\"\xff\xfe\"}"), 400, "bad_request");
  ADD ("wrong type", g_strdup ("{\"gateway_id\":5}"), 400, "bad_request");
  ADD ("not JSON", g_strdup ("\x16\x03\x01garbage"), 400, "bad_request");
  ADD ("top-level array", g_strdup ("[1]"), 400, "bad_request");
  ADD ("empty body", g_strdup (""), 400, "bad_request");
  ADD ("comment", g_strdup_printf ("{/* */%s}", gw_field), 400, "bad_request");
  ADD_ENTITY ("number 1e400", "1e400");
  ADD_ENTITY ("number of 25 digits", "1000000000000000000000000");
  ADD_ENTITY ("number -1e400", "-1e400");
  ADD_ENTITY ("port 70000", "70000");
  ADD_ENTITY ("fractional port", "80.5");
  /* Repeated keys: the one json-glib would have kept is not taken. */
  ADD ("duplicate key", g_strdup_printf ("{%s,\"gateway_id\":\"gw_x\"}", gw_field), 400, "bad_request");
  cases[n - 1].message = "bad_request: duplicate key \"gateway_id\"";
  ADD ("duplicate key (escaped)", g_strdup_printf ("{%s,\"gateway\\u005fid\":5}", gw_field), 400,
       "bad_request");
  cases[n - 1].message = "bad_request: duplicate key \"gateway_id\"";
  {
    g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE);

    cases[n].label = "duplicate nested key";
    cases[n].status = 400;
    cases[n].code = "bad_request";
    cases[n].path = "/cpns/v1/entities";
    cases[n].body = g_strdup_printf ("{\"pne_id\":\"%s\",\"key_assignment\":\"server\","
                                     "\"entity\":{\"name\":\"n\",\"entity_type\":\"sensor\",\"services\":"
                                     "[{\"name\":\"s\",\"protocol\":\"p\",\"port\":80,\"port\":81}]}}", pne_id);
    cases[n].message = "bad_request: duplicate key \"port\"";
    n++;
  }
#undef ADD
#undef ADD_ENTITY

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) answer = NULL;
      gboolean authed = g_str_equal (cases[i].path, "/cpns/v1/entities");
      guint status = server_fixture_request (fx, "POST", cases[i].path, authed ? gw->token : NULL,
                                             cases[i].body, &answer);
      const char *code = NULL;
      const char *message = NULL;

      g_assert_cmpuint (n, <=, G_N_ELEMENTS (cases));
      if (answer && json_object_has_member (answer, "error"))
        {
          JsonObject *error = json_object_get_object_member (answer, "error");

          code = json_object_get_string_member (error, "code");
          message = json_object_get_string_member_with_default (error, "message", NULL);
        }
      if (status != cases[i].status || g_strcmp0 (code, cases[i].code) != 0)
        g_error ("%s: expected %u %s, got %u %s", cases[i].label, cases[i].status, cases[i].code, status,
                 code ? code : "(none)");
      if (cases[i].message != NULL && g_strcmp0 (message, cases[i].message) != 0)
        g_error ("%s: expected the message '%s', got '%s'", cases[i].label, cases[i].message,
                 message ? message : "(none)");
      ok++;
      g_free (cases[i].body);
    }
  /* Nothing was registered; still serving. */
  {
    g_autoptr(JsonObject) inv = NULL;

    g_assert_cmpuint (server_fixture_request (fx, "GET", "/cpns/v1/inventory", gw->token, NULL, &inv), ==, 200);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (inv, "entities")), ==, 0);
  }
  g_assert_cmpuint (server_fixture_request (fx, "GET", "/healthz", NULL, NULL, NULL), ==, 200);
  g_print ("# FIGURE hostile bodies (server): %u/%u answered with the expected status and code\n", ok, n);
}

/* Reads an HTTP answer's status line within @timeout_ms. */
static guint
read_status (SecTls *tls,
             guint   timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  char buf[2048];
  gsize have = 0;

  while (have < sizeof buf - 1 && g_get_monotonic_time () < deadline)
    {
      ssize_t r;

      if (gnutls_record_check_pending (tls->session) == 0)
        {
          GPollFD pfd = { tls->fd, G_IO_IN, 0 };

          if (g_poll (&pfd, 1, (int) ((deadline - g_get_monotonic_time ()) / 1000)) <= 0)
            break;
        }
      r = gnutls_record_recv (tls->session, buf + have, sizeof buf - 1 - have);
      if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        continue;
      if (r <= 0)
        break;
      have += (gsize) r;
      buf[have] = '\0';
      if (strstr (buf, "\r\n") != NULL)
        break;
    }
  buf[have] = '\0';
  if (!g_str_has_prefix (buf, "HTTP/1.1 "))
    return 0;
  return (guint) g_ascii_strtoull (buf + 9, NULL, 10);
}

/* Content-Length: 1 GiB. With "Expect: 100-continue" the answer is 413 at
 * once and no body is read; without, the answer is 413 at once too, and
 * the body streamed at full speed anyway is not read: the server closes
 * the connection after a bounded linger. */
static void
test_announced_oversize (void)
{
  g_autoptr(SecTls) tls = sec_tls_connect (server_port ());
  g_autoptr(SecTls) tls2 = sec_tls_connect (server_port ());
  g_autofree char *head = g_strdup_printf ("POST /cpns/v1/session/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                           "Content-Type: application/json\r\nContent-Length: %u\r\n"
                                           "Expect: 100-continue\r\n\r\n", 1u << 30);
  g_autofree char *head2 = g_strdup_printf ("POST /cpns/v1/session/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                            "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n",
                                            1u << 30);
  g_autofree char *junk = g_malloc0 (16384);
  guint64 streamed = 0;
  gint64 start, ms, ms2;
  guint status;

  g_assert_true (sec_tls_handshake (tls, "http/1.1"));
  start = g_get_monotonic_time ();
  g_assert_true (sec_tls_send (tls, head, strlen (head)));
  status = read_status (tls, 5000);
  ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpuint (status, ==, 413);
  g_assert_cmpint (ms, <, 1000);

  g_assert_true (sec_tls_handshake (tls2, "http/1.1"));
  start = g_get_monotonic_time ();
  g_assert_true (sec_tls_send (tls2, head2, strlen (head2)));
  for (;;)
    {
      GPollFD pfd = { tls2->fd, G_IO_OUT, 0 };

      if (streamed >= (1u << 30) || g_get_monotonic_time () - start > 10 * G_USEC_PER_SEC)
        break;
      /* The server stops reading (or closes): stop when the socket stays full. */
      if (g_poll (&pfd, 1, 1000) <= 0 || (pfd.revents & (G_IO_ERR | G_IO_HUP)) ||
          !sec_tls_send (tls2, junk, 16384))
        break;
      streamed += 16384;
    }
  ms2 = (g_get_monotonic_time () - start) / 1000;
  g_print ("# FIGURE announced 1 GiB body (server): with Expect 413 after %" G_GINT64_FORMAT " ms;"
           " streamed without Expect, the server stopped taking it after %" G_GUINT64_FORMAT " KiB (%"
           G_GINT64_FORMAT " ms including 1 s to notice)\n", ms, streamed >> 10, ms2);
  /* Stopped well before the end: at most 16 × 64 KiB discarded, plus what
   * the socket buffers hold. */
  g_assert_cmpuint (streamed, <, 32u << 20);
  g_assert_cmpuint (server_fixture_request (fx, "GET", "/healthz", NULL, NULL, NULL), ==, 200);
}

static void
test_garbage_rss (void)
{
  const char *env = g_getenv ("CPNS_SEC_GARBAGE_MIB");
  guint64 target = (env ? g_ascii_strtoull (env, NULL, 10) : 64) * 1024 * 1024;
  int pid = (int) g_ascii_strtoll (g_subprocess_get_identifier (fx->process), NULL, 10);
  g_autofree char *junk = g_malloc (60000);
  guint64 sent = 0;
  guint requests = 0;
  gint64 before, peak, start = g_get_monotonic_time ();

  for (guint i = 0; i < 60000; i++)
    junk[i] = (char) ('!' + (i * 7919) % 90);
  before = peak = sec_rss_kib (pid);
  while (sent < target && g_get_monotonic_time () - start < 30 * G_USEC_PER_SEC)
    {
      g_autoptr(SecTls) tls = sec_tls_connect (server_port ());
      g_autofree char *head = g_strdup_printf ("POST /cpns/v1/gateways HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                               "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n",
                                               60000 * 16);

      if (!sec_tls_handshake (tls, "http/1.1") || !sec_tls_send (tls, head, strlen (head)))
        continue;
      for (int i = 0; i < 16 && sec_tls_send (tls, junk, 60000); i++)
        sent += 60000;
      requests++;
      peak = MAX (peak, sec_rss_kib (pid));
    }
  peak = MAX (peak, sec_rss_kib (pid));
  g_assert_cmpuint (server_fixture_request (fx, "GET", "/healthz", NULL, NULL, NULL), ==, 200);
  g_print ("# FIGURE garbage bodies (server): %" G_GUINT64_FORMAT " MiB over %u requests; RSS %" G_GINT64_FORMAT
           " KiB before, peak %" G_GINT64_FORMAT " KiB (+%" G_GINT64_FORMAT " KiB)\n",
           sent >> 20, requests, before, peak, peak - before);
  g_assert_cmpint (peak - before, <, RSS_LIMIT_KIB);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  gnutls_global_init ();
  fx = server_fixture_new (NULL);
  server_fixture_start (fx);
  gw = test_gateway_enroll (fx, "shapes");
  test_gateway_open_session (fx, gw);

  g_test_add_func ("/security/server/hostile-bodies", test_shapes);
  g_test_add_func ("/security/server/announced-oversize", test_announced_oversize);
  g_test_add_func ("/security/server/garbage-rss", test_garbage_rss);
  ret = g_test_run ();

  test_gateway_free (gw);
  server_fixture_free (fx);
  return ret;
}
