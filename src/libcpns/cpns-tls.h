/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "cpns-crypto.h"
#include "cpns-message.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* CpnsCertificate: a long-lived self-signed ECDSA P-256 certificate and
 * its private key (gnutls_x509_crt_t + gnutls_x509_privkey_t). */
typedef struct _CpnsCertificate CpnsCertificate;

#define CPNS_TYPE_CERTIFICATE (cpns_certificate_get_type ())
GType             cpns_certificate_get_type      (void) G_GNUC_CONST;

CpnsCertificate  *cpns_certificate_generate      (const char       *common_name,
                                                  guint             valid_days,
                                                  GError          **error);
CpnsCertificate  *cpns_certificate_new_from_pem  (const char       *cert_pem,
                                                  const char       *key_pem,
                                                  GError          **error);
CpnsCertificate  *cpns_certificate_ref           (CpnsCertificate  *cert);
void              cpns_certificate_unref         (CpnsCertificate  *cert);
char             *cpns_certificate_dup_cert_pem  (CpnsCertificate  *cert);
/* Secret: free with cpns_free_secret_string(). */
char             *cpns_certificate_dup_key_pem   (CpnsCertificate  *cert);
/* SHA-256 of the DER certificate, lowercase hex (cert_sha256 of §4.1). */
const char       *cpns_certificate_get_sha256    (CpnsCertificate  *cert);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CpnsCertificate, cpns_certificate_unref)

/* ------------------------------------------------------------------ */
/*
 * CpnsTlsChannel: GnuTLS over a GIOStream (normally a GSocketConnection),
 * non-blocking, driven by the GMainContext that is thread-default when it
 * is created (no thread of its own). After the handshake it reads CPNS-1
 * frames (cpns-frame.h), decodes them (cpns_message_decode_frame) and
 * emits "message-received". A frame that fails to decode is answered with
 * an "error" frame carrying its code, the channel closes and "closed"
 * carries that error. Sending queues frames and flushes them as the
 * socket allows.
 *
 * Signals:
 *   "message-received" (CpnsMessage *msg)
 *   "closed"           (const GError *error)   NULL error = clean close
 *
 * "closed" details: it is emitted at most once, always from an idle
 * callback on the channel's context (never from inside a call into the
 * channel), and only for a channel whose handshake succeeded (a failed
 * handshake is reported by handshake_finish() alone). NULL means this side
 * closed (close() or send_error_and_close()); the peer closing, with or
 * without close_notify, is CPNS_ERROR_CLOSED; a record failure is
 * TLS_FAILED; a bad frame from the peer is its decode error (after the
 * "error" frame went out). While a close is in progress the channel keeps
 * itself alive, so its owner may drop its reference right after close()
 * and may unref it from inside any of its signal handlers.
 * cpns_tls_channel_is_closed() is TRUE as soon as a close has begun.
 *
 * TLS 1.3 only. Certificate mode: the server presents its certificate;
 * a client with a pin fails the handshake with CPNS_ERROR_PIN_MISMATCH
 * when the certificate's SHA-256 differs. PSK mode: psk_dhe_ke only,
 * SHA-256 binders, no early data, identity = session_id. One server
 * channel accepts both; the ClientHello decides.
 */
#define CPNS_TYPE_TLS_CHANNEL (cpns_tls_channel_get_type ())
G_DECLARE_FINAL_TYPE (CpnsTlsChannel, cpns_tls_channel, CPNS, TLS_CHANNEL, GObject)

/* Server side: look up the PSK for @identity. Return FALSE for an unknown
 * or expired identity (the handshake then fails). Called on the channel's
 * context. */
typedef gboolean (*CpnsPskLookupFunc) (const char *identity,
                                       guint8      key[CPNS_KEY_LEN],
                                       gpointer    user_data);

CpnsTlsChannel  *cpns_tls_channel_new_server           (GIOStream         *base,
                                                        CpnsCertificate   *certificate,
                                                        CpnsPskLookupFunc  psk_lookup,
                                                        gpointer           psk_lookup_data,
                                                        GDestroyNotify     psk_lookup_destroy);
/* @pin_sha256: NULL accepts any certificate (pairing, §4.3). */
CpnsTlsChannel  *cpns_tls_channel_new_client           (GIOStream         *base,
                                                        const char        *pin_sha256);
CpnsTlsChannel  *cpns_tls_channel_new_client_psk       (GIOStream         *base,
                                                        const char        *identity,
                                                        const guint8       key[CPNS_KEY_LEN]);

/* Fails with TIMEOUT after @timeout_ms (0: no timeout), TLS_FAILED,
 * PIN_MISMATCH, or G_IO_ERROR_CANCELLED; the base stream is then closed.
 * Frames sent before the handshake completes are queued. */
void             cpns_tls_channel_handshake_async      (CpnsTlsChannel    *self,
                                                        guint              timeout_ms,
                                                        GCancellable      *cancellable,
                                                        GAsyncReadyCallback callback,
                                                        gpointer           user_data);
gboolean         cpns_tls_channel_handshake_finish     (CpnsTlsChannel    *self,
                                                        GAsyncResult      *result,
                                                        GError           **error);

/* After a successful handshake: */
gboolean         cpns_tls_channel_is_psk               (CpnsTlsChannel    *self);
const char      *cpns_tls_channel_get_psk_identity     (CpnsTlsChannel    *self);
/* Client side, certificate mode: the server certificate's SHA-256 hex. */
const char      *cpns_tls_channel_get_peer_sha256      (CpnsTlsChannel    *self);
/* RFC 5705 / RFC 8446 §7.5 exporter, empty context, 32 bytes. */
gboolean         cpns_tls_channel_export               (CpnsTlsChannel    *self,
                                                        const char        *label,
                                                        guint8             out[CPNS_EXPORTER_LEN],
                                                        GError           **error);
/* A new reference, or NULL when the base stream is not a socket. */
GSocketAddress  *cpns_tls_channel_get_remote_address   (CpnsTlsChannel    *self);

/* Frame size limit for what is read (default CPNS_MAX_MESSAGE_SIZE);
 * CPNS_MAX_PREAUTH_SIZE before authentication (§4.3). */
void             cpns_tls_channel_set_max_frame        (CpnsTlsChannel    *self,
                                                        gsize              max_body);
/* Begin reading frames (after the handshake). */
void             cpns_tls_channel_start                (CpnsTlsChannel    *self);
void             cpns_tls_channel_send                 (CpnsTlsChannel    *self,
                                                        CpnsMessage       *msg);
/* Sends an "error" frame for @error, then closes; reads nothing more. */
void             cpns_tls_channel_send_error_and_close (CpnsTlsChannel    *self,
                                                        const GError      *error);
/* Flushes the queue, sends close_notify, closes the base stream, then
 * emits "closed" with a NULL error. Idempotent. */
void             cpns_tls_channel_close                (CpnsTlsChannel    *self);
gboolean         cpns_tls_channel_is_closed            (CpnsTlsChannel    *self);
/* TRUE while a close is in progress (flushing, close_notify, waiting for
 * the peer): the socket is still open, and "closed" follows once it is not. */
gboolean         cpns_tls_channel_is_closing           (CpnsTlsChannel    *self);

G_END_DECLS
