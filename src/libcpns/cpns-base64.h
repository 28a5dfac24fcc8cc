/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* base64url without padding (RFC 4648 §5), as PROTOCOL.md §2 requires. */
char     *cpns_base64url_encode        (const guint8 *data,
                                        gsize         len);
/* Strict: rejects padding, characters outside the alphabet and non-zero
 * trailing bits. Writes exactly @expected_len bytes to @out and returns
 * TRUE only when @text decodes to that many bytes. */
gboolean  cpns_base64url_decode_exact  (const char   *text,
                                        guint8       *out,
                                        gsize         expected_len);
/* Decodes any length; NULL on invalid input. */
GBytes   *cpns_base64url_decode        (const char   *text);

/* Lowercase hex. */
char     *cpns_hex_encode              (const guint8 *data,
                                        gsize         len);
gboolean  cpns_hex_decode_exact        (const char   *text,
                                        guint8       *out,
                                        gsize         expected_len);

G_END_DECLS
