/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <gio/gio.h>

#include "cpns-error.h"

G_DEFINE_QUARK (cpns-error-quark, cpns_error)

static const struct
{
  const char *name;
  guint http_status;
} codes[CPNS_ERROR_LAST_CODE] = {
  [CPNS_ERROR_BAD_REQUEST] = { "bad_request", 400 },
  [CPNS_ERROR_UNSUPPORTED_VERSION] = { "unsupported_version", 400 },
  [CPNS_ERROR_UNKNOWN_TYPE] = { "unknown_type", 400 },
  [CPNS_ERROR_TOO_LARGE] = { "too_large", 413 },
  [CPNS_ERROR_UNAUTHORIZED] = { "unauthorized", 401 },
  [CPNS_ERROR_AUTH_FAILED] = { "auth_failed", 401 },
  [CPNS_ERROR_SERVER_AUTH_FAILED] = { "server_auth_failed", 500 },
  [CPNS_ERROR_DENIED] = { "denied", 403 },
  [CPNS_ERROR_REJECTED] = { "rejected", 500 },
  [CPNS_ERROR_PAIRING_CLOSED] = { "pairing_closed", 500 },
  [CPNS_ERROR_NOT_FOUND] = { "not_found", 404 },
  [CPNS_ERROR_TIMEOUT] = { "timeout", 408 },
  [CPNS_ERROR_CONFLICT] = { "conflict", 409 },
  [CPNS_ERROR_REVOKED] = { "revoked", 410 },
  [CPNS_ERROR_LOCKED_OUT] = { "locked_out", 429 },
  [CPNS_ERROR_INTERNAL] = { "internal", 500 },
  [CPNS_ERROR_SERVER_UNREACHABLE] = { "server_unreachable", 503 },
  [CPNS_ERROR_PIN_MISMATCH] = { "pin_mismatch", 500 },
  [CPNS_ERROR_TLS_FAILED] = { "tls_failed", 500 },
  [CPNS_ERROR_CLOSED] = { "closed", 500 },
  [CPNS_ERROR_NO_SECRET_SERVICE] = { "no_secret_service", 500 },
};

const char *
cpns_error_code_to_string (CpnsErrorCode code)
{
  if ((guint) code >= CPNS_ERROR_LAST_CODE)
    return NULL;
  return codes[code].name;
}

gboolean
cpns_error_code_from_string (const char    *str,
                             CpnsErrorCode *code)
{
  g_return_val_if_fail (code != NULL, FALSE);

  if (str == NULL)
    return FALSE;

  for (guint i = 0; i < CPNS_ERROR_LAST_CODE; i++)
    {
      if (g_strcmp0 (codes[i].name, str) == 0)
        {
          *code = (CpnsErrorCode) i;
          return TRUE;
        }
    }
  return FALSE;
}

guint
cpns_error_code_http_status (CpnsErrorCode code)
{
  if ((guint) code >= CPNS_ERROR_LAST_CODE)
    return 500;
  return codes[code].http_status;
}

GError *
cpns_error_to_cpns (const GError *error)
{
  CpnsErrorCode code = CPNS_ERROR_INTERNAL;

  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain == CPNS_ERROR)
    return g_error_copy (error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    code = CPNS_ERROR_TIMEOUT;
  else if (error->domain == G_TLS_ERROR)
    code = CPNS_ERROR_TLS_FAILED;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE) ||
           g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
    code = CPNS_ERROR_SERVER_UNREACHABLE;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    code = CPNS_ERROR_CLOSED;

  return g_error_new_literal (CPNS_ERROR, code, error->message);
}
