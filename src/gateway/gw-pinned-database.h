/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "gw-event.h"

G_BEGIN_DECLS

/* A GTlsDatabase that trusts exactly one certificate: the one whose DER
 * SHA-256 is the pin (PROTOCOL.md §5). Used for every CPNS-2 connection
 * when the invitation carried a pin, so the check happens in the TLS
 * handshake itself, whether or not the certificate would also validate
 * against the system CAs, and before any request byte is sent. */
#define GW_TYPE_PINNED_DATABASE (gw_pinned_database_get_type ())
G_DECLARE_FINAL_TYPE (GwPinnedDatabase, gw_pinned_database, GW, PINNED_DATABASE, GTlsDatabase)

GwPinnedDatabase *gw_pinned_database_new          (const char      *pin_sha256);
/* SHA-256 of the certificate's DER, lowercase hex. */
char             *gw_certificate_sha256           (GTlsCertificate *certificate);

/* The class of a server certificate the handshake refused. @flags are the
 * errors the handshake's database reported (this database when @pinned:
 * UNKNOWN_CA there means the pin did not match). GLib does not promise
 * to report every error, so the validity period is also read from
 * @certificate (may be NULL). The pin check comes first: a certificate
 * that does not match the pin is PIN_MISMATCH whatever its dates; then
 * the dates, the host name, the CA. No flag at all is HANDSHAKE. */
GwTlsFailureClass gw_tls_failure_classify         (GTlsCertificateFlags  flags,
                                                   GTlsCertificate      *certificate,
                                                   gboolean              pinned);

/* An English sentence for logs and --events (no final period), e.g.
 * "The server's certificate expired on 2021-01-01"; @detail (the TLS
 * library's message) is added for HANDSHAKE. Dates in unix s, 0 unknown. */
char             *gw_tls_failure_describe         (GwTlsFailureClass     failure,
                                                   gint64                not_before,
                                                   gint64                not_after,
                                                   const char           *detail);

G_END_DECLS
