/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gnutls/gnutls.h>

#include "cpns-tls.h"

G_BEGIN_DECLS

/* The GnuTLS server credentials for @cert (owned by @cert). */
gnutls_certificate_credentials_t cpns_certificate_get_server_credentials (CpnsCertificate *cert);

/* Replaces the GnuTLS priority string of a channel before its handshake
 * (tests use it to play clients that offer something unacceptable). */
void               cpns_tls_channel_set_priority    (CpnsTlsChannel   *self,
                                                     const char       *priority);
/* The GnuTLS session (tests inspect the negotiated parameters). */
gnutls_session_t   cpns_tls_channel_get_session     (CpnsTlsChannel   *self);

/* The priority strings channels use (§4.1): TLS 1.3 only, ECDHE groups,
 * psk_dhe_ke only. */
#define CPNS_TLS_GROUPS "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1"
#define CPNS_TLS_PRIORITY_SERVER \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-PSK:-DHE-PSK:+ECDHE-PSK:" CPNS_TLS_GROUPS
#define CPNS_TLS_PRIORITY_CLIENT_CERT \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:" CPNS_TLS_GROUPS
#define CPNS_TLS_PRIORITY_CLIENT_PSK \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:" \
  "-CIPHER-ALL:+AES-128-GCM:+CHACHA20-POLY1305:" CPNS_TLS_GROUPS

G_END_DECLS
