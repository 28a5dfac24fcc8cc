/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

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

G_END_DECLS
