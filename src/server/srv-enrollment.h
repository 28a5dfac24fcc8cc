/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A new enrollment code (§5.1): 80 random bits as 16 base32 characters
 * shown "XXXX-XXXX-XXXX-XXXX". A secret: free with cpns_free_secret_string(). */
char  *srv_enrollment_code_new   (void);
/* SHA-256 hex of the code's canonical form (upper case, no dashes), the
 * only form the server stores. */
char  *srv_enrollment_code_hash  (const char *code);
/* cpns://enroll?server=…&user=…&code=…[&pin=sha256:…] — a secret too. */
char  *srv_enrollment_invitation (const char *server_url,
                                  const char *user_id,
                                  const char *code,
                                  const char *pin_hex);

G_END_DECLS
