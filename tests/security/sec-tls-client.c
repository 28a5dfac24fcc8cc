/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "sec-tls-client.h"

#define PRIORITY_CERT "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define PRIORITY_PSK  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:" \
                      "-CIPHER-ALL:+AES-128-GCM:+CHACHA20-POLY1305"

SecTls *
sec_tls_connect (guint16 port)
{
  SecTls *tls = g_new0 (SecTls, 1);
  struct sockaddr_in sin = { 0 };
  int one = 1;

  tls->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (tls->fd, >=, 0);
  setsockopt (tls->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sin.sin_family = AF_INET;
  sin.sin_port = htons (port);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (tls->fd, (struct sockaddr *) &sin, sizeof sin) != 0)
    g_error ("connect to 127.0.0.1:%u: %s", port, g_strerror (errno));
  return tls;
}

static gboolean
do_handshake (SecTls *tls)
{
  int ret;

  gnutls_transport_set_int (tls->session, tls->fd);
  gnutls_handshake_set_timeout (tls->session, 10000);
  do
    ret = gnutls_handshake (tls->session);
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0);
  tls->handshaken = ret == 0;
  return tls->handshaken;
}

gboolean
sec_tls_handshake (SecTls     *tls,
                   const char *alpn_or_null)
{
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&tls->cert_cred), ==, 0);
  g_assert_cmpint (gnutls_init (&tls->session, GNUTLS_CLIENT), ==, 0);
  g_assert_cmpint (gnutls_priority_set_direct (tls->session, PRIORITY_CERT, NULL), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (tls->session, GNUTLS_CRD_CERTIFICATE, tls->cert_cred), ==, 0);
  if (alpn_or_null)
    {
      gnutls_datum_t proto = { (unsigned char *) alpn_or_null, strlen (alpn_or_null) };
      gnutls_alpn_set_protocols (tls->session, &proto, 1, 0);
    }
  return do_handshake (tls);
}

gboolean
sec_tls_handshake_psk (SecTls       *tls,
                       const char   *identity,
                       const guint8  key[32])
{
  gnutls_datum_t k = { (unsigned char *) key, 32 };

  g_assert_cmpint (gnutls_psk_allocate_client_credentials (&tls->psk_cred), ==, 0);
  g_assert_cmpint (gnutls_psk_set_client_credentials (tls->psk_cred, identity, &k, GNUTLS_PSK_KEY_RAW), ==, 0);
  g_assert_cmpint (gnutls_init (&tls->session, GNUTLS_CLIENT), ==, 0);
  g_assert_cmpint (gnutls_priority_set_direct (tls->session, PRIORITY_PSK, NULL), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (tls->session, GNUTLS_CRD_PSK, tls->psk_cred), ==, 0);
  return do_handshake (tls);
}

gboolean
sec_tls_send (SecTls     *tls,
              const void *data,
              gsize       len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = gnutls_record_send (tls->session, p, MIN (len, 16384));

      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

gboolean
sec_tls_send_frame (SecTls     *tls,
                    const char *json)
{
  gsize len = strlen (json);
  g_autofree guint8 *buf = g_malloc (len + 4);

  buf[0] = (guint8) (len >> 24);
  buf[1] = (guint8) (len >> 16);
  buf[2] = (guint8) (len >> 8);
  buf[3] = (guint8) len;
  memcpy (buf + 4, json, len);
  return sec_tls_send (tls, buf, len + 4);
}

/* Reads exactly @len bytes before @deadline (monotonic µs). */
static gboolean
read_exact (SecTls *tls,
            guint8 *out,
            gsize   len,
            gint64  deadline)
{
  while (len > 0)
    {
      ssize_t n;

      if (gnutls_record_check_pending (tls->session) == 0)
        {
          struct pollfd pfd = { tls->fd, POLLIN, 0 };
          gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

          if (left <= 0 || poll (&pfd, 1, (int) left) <= 0)
            return FALSE;
        }
      n = gnutls_record_recv (tls->session, out, len);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n <= 0)
        return FALSE;
      out += n;
      len -= (gsize) n;
    }
  return TRUE;
}

char *
sec_tls_read_frame (SecTls *tls,
                    guint   timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint8 header[4];
  guint32 len;
  g_autofree char *body = NULL;

  if (!read_exact (tls, header, 4, deadline))
    return NULL;
  len = ((guint32) header[0] << 24) | ((guint32) header[1] << 16) | ((guint32) header[2] << 8) | header[3];
  if (len == 0 || len > 65536)
    return NULL;
  body = g_malloc0 (len + 1);
  if (!read_exact (tls, (guint8 *) body, len, deadline))
    return NULL;
  return g_steal_pointer (&body);
}

gint64
sec_tls_wait_closed (SecTls *tls,
                     guint   timeout_ms)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) timeout_ms * 1000;
  guint8 buf[4096];

  for (;;)
    {
      ssize_t n;
      struct pollfd pfd = { tls->fd, POLLIN, 0 };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      if (tls->session == NULL || !tls->handshaken)
        {
          if (left <= 0 || poll (&pfd, 1, (int) left) <= 0)
            return -1;
          n = recv (tls->fd, buf, sizeof buf, 0);
          if (n <= 0)
            return (g_get_monotonic_time () - start) / 1000;
          continue;
        }
      if (gnutls_record_check_pending (tls->session) == 0 &&
          (left <= 0 || poll (&pfd, 1, (int) left) <= 0))
        return -1;
      n = gnutls_record_recv (tls->session, buf, sizeof buf);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n <= 0)
        return (g_get_monotonic_time () - start) / 1000;
    }
}

gboolean
sec_tls_export (SecTls     *tls,
                const char *label,
                guint8      out[32])
{
  return gnutls_prf_rfc5705 (tls->session, strlen (label), label, 0, NULL, 32, (char *) out) == 0;
}

gboolean
sec_tcp_send (SecTls     *tls,
              const void *data,
              gsize       len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = send (tls->fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

void
sec_tls_free (SecTls *tls)
{
  if (tls->session)
    gnutls_deinit (tls->session);
  if (tls->cert_cred)
    gnutls_certificate_free_credentials (tls->cert_cred);
  if (tls->psk_cred)
    gnutls_psk_free_client_credentials (tls->psk_cred);
  if (tls->fd >= 0)
    close (tls->fd);
  g_free (tls);
}

char *
sec_error_code (const char *frame)
{
  g_autoptr(JsonNode) node = frame ? json_from_string (frame, NULL) : NULL;
  JsonObject *o;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  o = json_node_get_object (node);
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "type", NULL), "error") != 0)
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (o, "code", NULL));
}

gint64
sec_rss_kib (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  line = strstr (text, "VmRSS:");
  if (line == NULL)
    return -1;
  return g_ascii_strtoll (line + 6, NULL, 10);
}
