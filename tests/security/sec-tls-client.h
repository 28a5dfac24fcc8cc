/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/* A blocking TLS 1.3 client on raw GnuTLS, for tests that must write what
 * no well-behaved peer writes (wrong frame lengths, garbage, replays).
 * It accepts any certificate; loopback only. */
typedef struct
{
  int               fd;
  gnutls_session_t  session;
  gnutls_certificate_credentials_t cert_cred;
  gnutls_psk_client_credentials_t  psk_cred;
  gboolean          handshaken;
} SecTls;

/* A TCP connection to 127.0.0.1:@port, not yet TLS. */
SecTls   *sec_tls_connect        (guint16       port);
/* Certificate handshake (any server certificate). */
gboolean  sec_tls_handshake      (SecTls       *tls,
                                  const char   *alpn_or_null);
/* PSK handshake (psk_dhe_ke) with @identity and a 32-byte @key. */
gboolean  sec_tls_handshake_psk  (SecTls       *tls,
                                  const char   *identity,
                                  const guint8  key[32]);
/* gnutls_record_send of all @len bytes; FALSE once the peer is gone. */
gboolean  sec_tls_send           (SecTls       *tls,
                                  const void   *data,
                                  gsize         len);
/* One frame: 4-byte length + @json. */
gboolean  sec_tls_send_frame     (SecTls       *tls,
                                  const char   *json);
/* Reads one frame within @timeout_ms; NULL on close, error or timeout.
 * *@closed_ms (optional) is the time until the read ended. */
char     *sec_tls_read_frame     (SecTls       *tls,
                                  guint         timeout_ms);
/* Waits until the peer closes (EOF, reset or TLS close); the ms it took,
 * or -1 after @timeout_ms. Discards what arrives. */
gint64    sec_tls_wait_closed    (SecTls       *tls,
                                  guint         timeout_ms);
/* The TLS exporter (§3) of this session. */
gboolean  sec_tls_export         (SecTls       *tls,
                                  const char   *label,
                                  guint8        out[32]);
/* Raw bytes on the TCP socket (no TLS). FALSE once the peer is gone. */
gboolean  sec_tcp_send           (SecTls       *tls,
                                  const void   *data,
                                  gsize         len);
void      sec_tls_free           (SecTls       *tls);

/* The "code" of an error frame, or NULL. */
char     *sec_error_code         (const char   *frame);
/* VmRSS of a process in KiB. */
gint64    sec_rss_kib            (int           pid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SecTls, sec_tls_free)

G_END_DECLS
