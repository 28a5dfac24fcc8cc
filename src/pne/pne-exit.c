/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <gio/gio.h>

#include "cpns-error.h"
#include "pne-exit.h"

PneExitCode
pne_exit_code_for_error (const GError *error)
{
  if (error == NULL)
    return PNE_EXIT_OK;

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_NOT_FOUND:
        case G_IO_ERROR_INVALID_DATA:
          return PNE_EXIT_NO_CREDENTIALS;
        case G_IO_ERROR_CANCELLED:
          return PNE_EXIT_INTERRUPTED;
        case G_IO_ERROR_TIMED_OUT:
          return PNE_EXIT_TIMEOUT;
        case G_IO_ERROR_CONNECTION_REFUSED:
        case G_IO_ERROR_HOST_UNREACHABLE:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
        case G_IO_ERROR_CONNECTION_CLOSED:
          return PNE_EXIT_UNREACHABLE;
        default:
          return PNE_EXIT_INTERNAL;
        }
    }
  if (error->domain != CPNS_ERROR)
    return PNE_EXIT_INTERNAL;

  switch ((CpnsErrorCode) error->code)
    {
    case CPNS_ERROR_REJECTED:
    case CPNS_ERROR_PAIRING_CLOSED:
      return PNE_EXIT_REJECTED;
    case CPNS_ERROR_AUTH_FAILED:
    case CPNS_ERROR_SERVER_AUTH_FAILED:
    case CPNS_ERROR_LOCKED_OUT:
    case CPNS_ERROR_UNAUTHORIZED:
      return PNE_EXIT_AUTH_FAILED;
    case CPNS_ERROR_DENIED:
      return PNE_EXIT_DENIED;
    case CPNS_ERROR_TIMEOUT:
      return PNE_EXIT_TIMEOUT;
    case CPNS_ERROR_CLOSED:
    case CPNS_ERROR_TLS_FAILED:
    case CPNS_ERROR_SERVER_UNREACHABLE:
      return PNE_EXIT_UNREACHABLE;
    case CPNS_ERROR_PIN_MISMATCH:
      return PNE_EXIT_PIN_MISMATCH;
    case CPNS_ERROR_REVOKED:
    case CPNS_ERROR_NOT_FOUND:
      return PNE_EXIT_REVOKED;
    case CPNS_ERROR_BAD_REQUEST:
    case CPNS_ERROR_UNSUPPORTED_VERSION:
    case CPNS_ERROR_UNKNOWN_TYPE:
    case CPNS_ERROR_TOO_LARGE:
    case CPNS_ERROR_CONFLICT:
    case CPNS_ERROR_INTERNAL:
    case CPNS_ERROR_NO_SECRET_SERVICE:
    case CPNS_ERROR_LAST_CODE:
    default:
      return PNE_EXIT_INTERNAL;
    }
}

const char *
pne_exit_codes_help (void)
{
  return
    "Exit codes:\n"
    "  0    success\n"
    "  1    usage error (bad command line)\n"
    "  2    pairing rejected (on the gateway or the device), or the gateway's\n"
    "       pairing window is closed\n"
    "  3    authentication failed: pairing commitment or certificate mismatch,\n"
    "       a proof or MAC that did not verify, server_auth_failed, locked out\n"
    "  4    connection denied by policy or by the gateway's user\n"
    "  5    timeout: no answer in time, or no gateway found by discovery\n"
    "  6    gateway unreachable, connection closed, or TLS failure\n"
    "  7    pin mismatch: the gateway's certificate is not the one pinned at\n"
    "       pairing (nothing was sent)\n"
    "  8    revoked or unknown to the server: the credentials were discarded\n"
    "  9    no credentials: not paired, or the credentials file is corrupt\n"
    "  10   internal error (disk, protocol violation, bug)\n"
    "  130  interrupted (Ctrl-C) before the operation finished\n";
}
