/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "cpns-crypto.h"

G_BEGIN_DECLS

/* The gateway's secrets in the Secret Service (PROTOCOL.md §6): the
 * gateway_secret (attributes: server URL, gateway_id) and the private key
 * of the CPNS-1 TLS certificate (attribute: the registry path). With no
 * Secret Service every call fails with CPNS_ERROR_NO_SECRET_SERVICE;
 * there is no plaintext fallback. */

gboolean  gw_secret_store_save_gateway_secret   (const char   *server_url,
                                                 const char   *gateway_id,
                                                 const guint8  secret[CPNS_KEY_LEN],
                                                 GError      **error);
gboolean  gw_secret_store_load_gateway_secret   (const char   *server_url,
                                                 const char   *gateway_id,
                                                 guint8        secret[CPNS_KEY_LEN],
                                                 GError      **error);
gboolean  gw_secret_store_clear_gateway_secret  (const char   *server_url,
                                                 const char   *gateway_id,
                                                 GError      **error);
gboolean  gw_secret_store_save_tls_key          (const char   *owner,
                                                 const char   *key_pem,
                                                 GError      **error);
/* Secret: free with cpns_free_secret_string(). NULL when absent. */
char     *gw_secret_store_load_tls_key          (const char   *owner,
                                                 GError      **error);

G_END_DECLS
