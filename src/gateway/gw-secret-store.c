/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-secret-store"

#include "config.h"

#include <libsecret/secret.h>

#include "cpns-base64.h"
#include "cpns-error.h"
#include "gw-secret-store.h"

static const SecretSchema *
gateway_secret_schema (void)
{
  static const SecretSchema schema = {
    "io.github.cpns.Gateway.GatewaySecret", SECRET_SCHEMA_NONE,
    {
      { "server_url", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "gateway_id", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };
  return &schema;
}

static const SecretSchema *
tls_key_schema (void)
{
  static const SecretSchema schema = {
    "io.github.cpns.Gateway.TlsKey", SECRET_SCHEMA_NONE,
    {
      { "owner", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };
  return &schema;
}

static void
to_cpns_error (GError     *local,
               GError    **error)
{
  /* Anything that goes wrong talking to the Secret Service means we have
   * nowhere safe to keep the secret. */
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_NO_SECRET_SERVICE,
               "No Secret Service (keyring) is available: %s. Start or unlock your"
               " keyring, then try again.", local ? local->message : "unknown error");
  g_clear_error (&local);
}

gboolean
gw_secret_store_save_gateway_secret (const char   *server_url,
                                     const char   *gateway_id,
                                     const guint8  secret[CPNS_KEY_LEN],
                                     GError      **error)
{
  GError *local = NULL;
  char *text = cpns_base64url_encode (secret, CPNS_KEY_LEN);
  g_autofree char *label = g_strdup_printf ("PN Gateway secret for %s", server_url);
  gboolean ok;

  ok = secret_password_store_sync (gateway_secret_schema (), SECRET_COLLECTION_DEFAULT,
                                   label, text, NULL, &local,
                                   "server_url", server_url,
                                   "gateway_id", gateway_id,
                                   NULL);
  cpns_free_secret_string (text);
  if (!ok)
    to_cpns_error (local, error);
  return ok;
}

gboolean
gw_secret_store_load_gateway_secret (const char  *server_url,
                                     const char  *gateway_id,
                                     guint8       secret[CPNS_KEY_LEN],
                                     GError     **error)
{
  GError *local = NULL;
  char *text = secret_password_lookup_sync (gateway_secret_schema (), NULL, &local,
                                            "server_url", server_url,
                                            "gateway_id", gateway_id,
                                            NULL);
  gboolean ok;

  if (local)
    {
      to_cpns_error (local, error);
      return FALSE;
    }
  if (text == NULL)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                   "The gateway secret is missing from the keyring. Enroll the"
                   " gateway again with a new invitation.");
      return FALSE;
    }
  ok = cpns_base64url_decode_exact (text, secret, CPNS_KEY_LEN);
  secret_password_free (text);
  if (!ok)
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
                 "The gateway secret in the keyring is damaged. Enroll again.");
  return ok;
}

gboolean
gw_secret_store_clear_gateway_secret (const char  *server_url,
                                      const char  *gateway_id,
                                      GError     **error)
{
  GError *local = NULL;

  secret_password_clear_sync (gateway_secret_schema (), NULL, &local,
                              "server_url", server_url,
                              "gateway_id", gateway_id,
                              NULL);
  if (local)
    {
      to_cpns_error (local, error);
      return FALSE;
    }
  return TRUE;
}

gboolean
gw_secret_store_save_tls_key (const char  *owner,
                              const char  *key_pem,
                              GError     **error)
{
  GError *local = NULL;

  if (!secret_password_store_sync (tls_key_schema (), SECRET_COLLECTION_DEFAULT,
                                   "PN Gateway TLS key", key_pem, NULL, &local,
                                   "owner", owner, NULL))
    {
      to_cpns_error (local, error);
      return FALSE;
    }
  return TRUE;
}

char *
gw_secret_store_load_tls_key (const char  *owner,
                              GError     **error)
{
  GError *local = NULL;
  char *text = secret_password_lookup_sync (tls_key_schema (), NULL, &local,
                                            "owner", owner, NULL);
  char *copy;

  if (local)
    {
      to_cpns_error (local, error);
      return NULL;
    }
  if (text == NULL)
    return NULL;
  copy = g_strdup (text);
  secret_password_free (text);
  return copy;
}
