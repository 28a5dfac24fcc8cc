/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-error-text.h"

typedef struct
{
  CpnsErrorCode code;
  const char   *text;
  gboolean      retryable;
} GwErrorText;

/* The single table of user-facing error sentences. */
static const GwErrorText error_texts[] = {
  { CPNS_ERROR_BAD_REQUEST,
    N_("A message was malformed. Update the device or the server; if it persists, report a bug."), FALSE },
  { CPNS_ERROR_UNSUPPORTED_VERSION,
    N_("The other side speaks a different protocol version. Update the device or the server."), FALSE },
  { CPNS_ERROR_UNKNOWN_TYPE,
    N_("The other side sent a request this gateway does not know. Update the device or the server."), FALSE },
  { CPNS_ERROR_TOO_LARGE,
    N_("A message was too large and was refused. Update the device or the server."), FALSE },
  { CPNS_ERROR_UNAUTHORIZED,
    N_("The server did not accept this gateway’s credentials or the enrollment code. Check the code, or ask for a new invitation."), FALSE },
  { CPNS_ERROR_AUTH_FAILED,
    N_("A proof did not verify, so the device could not be trusted. Remove the device and pair it again."), FALSE },
  { CPNS_ERROR_SERVER_AUTH_FAILED,
    N_("The device could not verify the server. Check that the gateway is enrolled with the right server."), FALSE },
  { CPNS_ERROR_DENIED,
    N_("The connection was denied by your network’s policy or by you. Change the policy on the server to allow it."), FALSE },
  { CPNS_ERROR_REJECTED,
    N_("The pairing was rejected. Pair again and confirm the code only if the device shows the same one."), TRUE },
  { CPNS_ERROR_PAIRING_CLOSED,
    N_("The pairing window is closed. Open it on the Network page, then pair again."), TRUE },
  { CPNS_ERROR_NOT_FOUND,
    N_("The server does not know this device. Pair it again."), FALSE },
  { CPNS_ERROR_TIMEOUT,
    N_("The other side did not answer in time. Check the connection, then retry."), TRUE },
  { CPNS_ERROR_CONFLICT,
    N_("The request clashed with the current state, for example a device that is already registered. Wait a moment and retry."), TRUE },
  { CPNS_ERROR_REVOKED,
    N_("This device was removed from your network or its key was revoked. Pair it again to add it back."), FALSE },
  { CPNS_ERROR_LOCKED_OUT,
    N_("Too many failed attempts. Wait a few minutes before trying again."), TRUE },
  { CPNS_ERROR_INTERNAL,
    N_("Something went wrong inside the server or the gateway. Retry; if it persists, check the logs."), TRUE },
  { CPNS_ERROR_SERVER_UNREACHABLE,
    N_("The server could not be reached. Check your internet connection and the server address, then retry."), TRUE },
  { CPNS_ERROR_PIN_MISMATCH,
    N_("The server’s certificate does not match the fingerprint in the invitation. Do not continue; ask your operator for a new invitation."), FALSE },
  { CPNS_ERROR_TLS_FAILED,
    N_("A secure connection could not be established. Check the address and the date and time of this computer."), TRUE },
  { CPNS_ERROR_CLOSED,
    N_("The other side closed the connection. Retry; if it persists, restart the device."), TRUE },
  { CPNS_ERROR_NO_SECRET_SERVICE,
    N_("No keyring is available to keep this gateway’s secret safe. Log in to a desktop session with a keyring, then retry."), TRUE },
};

G_STATIC_ASSERT (G_N_ELEMENTS (error_texts) == CPNS_ERROR_LAST_CODE);

const char *
gw_error_text_for_code (CpnsErrorCode code)
{
  for (guint i = 0; i < G_N_ELEMENTS (error_texts); i++)
    if (error_texts[i].code == code)
      return _(error_texts[i].text);
  return _("An unexpected error happened. Retry; if it persists, check the logs.");
}

const char *
gw_error_text (const GError *error)
{
  if (error == NULL)
    return "";
  if (error->domain == CPNS_ERROR)
    return gw_error_text_for_code ((CpnsErrorCode) error->code);
  return _("An unexpected error happened. Retry; if it persists, check the logs.");
}

/* "3 March 2026", in local time. */
static char *
format_day (gint64 unix_s)
{
  g_autoptr(GDateTime) dt = unix_s ? g_date_time_new_from_unix_local (unix_s) : NULL;

  if (dt == NULL)
    return NULL;
  /* Translators: a date inside a sentence ("expired on 3 March 2026"),
   * in g_date_time_format() notation: %-d day, %B month name, %Y year. */
  /* xgettext:no-c-format */
  return g_date_time_format (dt, _("%-d %B %Y"));
}

char *
gw_error_text_for_session (const GError        *error,
                           const GwSessionInfo *session)
{
  g_autofree char *day = NULL;

  if (session == NULL ||
      !(g_error_matches (error, CPNS_ERROR, CPNS_ERROR_TLS_FAILED) ||
        g_error_matches (error, CPNS_ERROR, CPNS_ERROR_PIN_MISMATCH)))
    return g_strdup (gw_error_text (error));
  switch (session->tls_failure)
    {
    case GW_TLS_FAILURE_EXPIRED:
      day = format_day (session->cert_not_after);
      if (day)
        /* Translators: %s is a date ("3 March 2026") */
        return g_strdup_printf (_("The server’s certificate expired on %s. Ask the server’s administrator to renew it."), day);
      return g_strdup (_("The server’s certificate has expired. Ask the server’s administrator to renew it."));
    case GW_TLS_FAILURE_NOT_YET_VALID:
      day = format_day (session->cert_not_before);
      if (day)
        /* Translators: %s is a date ("3 March 2026") */
        return g_strdup_printf (_("The server’s certificate is only valid from %s. Check the date and time of this computer; if they are right, ask the server’s administrator to fix the certificate."), day);
      return g_strdup (_("The server’s certificate is not valid yet. Check the date and time of this computer; if they are right, ask the server’s administrator to fix the certificate."));
    case GW_TLS_FAILURE_WRONG_HOST:
      return g_strdup (_("The server’s certificate was issued for another address. Check the server address; if it is right, ask the server’s administrator for a certificate that names it."));
    case GW_TLS_FAILURE_UNKNOWN_CA:
      return g_strdup (_("The server’s certificate is self-signed or from an unknown authority, so its identity cannot be checked. Ask your operator for an invitation with the server’s fingerprint."));
    case GW_TLS_FAILURE_PIN_MISMATCH:
      return g_strdup (gw_error_text_for_code (CPNS_ERROR_PIN_MISMATCH));
    case GW_TLS_FAILURE_HANDSHAKE:
    case GW_TLS_FAILURE_NONE:
    default:
      return g_strdup (gw_error_text (error));
    }
}

gboolean
gw_error_is_retryable (const GError *error)
{
  if (error == NULL || error->domain != CPNS_ERROR)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (error_texts); i++)
    if (error_texts[i].code == (CpnsErrorCode) error->code)
      return error_texts[i].retryable;
  return FALSE;
}
