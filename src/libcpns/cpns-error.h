/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CPNS_ERROR (cpns_error_quark ())

/* The error codes of PROTOCOL.md §2, in its order, plus codes that only
 * ever stay local (never sent on the wire). */
typedef enum
{
  CPNS_ERROR_BAD_REQUEST,
  CPNS_ERROR_UNSUPPORTED_VERSION,
  CPNS_ERROR_UNKNOWN_TYPE,
  CPNS_ERROR_TOO_LARGE,
  CPNS_ERROR_UNAUTHORIZED,
  CPNS_ERROR_AUTH_FAILED,
  CPNS_ERROR_SERVER_AUTH_FAILED,
  CPNS_ERROR_DENIED,
  CPNS_ERROR_REJECTED,
  CPNS_ERROR_PAIRING_CLOSED,
  CPNS_ERROR_NOT_FOUND,
  CPNS_ERROR_TIMEOUT,
  CPNS_ERROR_CONFLICT,
  CPNS_ERROR_REVOKED,
  CPNS_ERROR_LOCKED_OUT,
  CPNS_ERROR_INTERNAL,
  CPNS_ERROR_SERVER_UNREACHABLE,
  /* local only: */
  CPNS_ERROR_PIN_MISMATCH,      /* a pinned certificate did not match */
  CPNS_ERROR_TLS_FAILED,        /* TLS handshake or record failure */
  CPNS_ERROR_CLOSED,            /* the peer closed the connection */
  CPNS_ERROR_NO_SECRET_SERVICE, /* no keyring to keep a secret in */
  CPNS_ERROR_LAST_CODE
} CpnsErrorCode;

GQuark        cpns_error_quark             (void);

/* "bad_request", … ; NULL for an out-of-range code. */
const char   *cpns_error_code_to_string    (CpnsErrorCode  code);
/* Returns FALSE for a string that is not a §2 code (or a local one). */
gboolean      cpns_error_code_from_string  (const char    *str,
                                            CpnsErrorCode *code);
/* HTTP status of §2's table; 500 for codes without one. */
guint         cpns_error_code_http_status  (CpnsErrorCode  code);

/* A copy of @error that is in CPNS_ERROR: a foreign GError becomes
 * CPNS_ERROR_INTERNAL (G_IO_ERROR_TIMED_OUT becomes TIMEOUT,
 * G_TLS_ERROR_* becomes TLS_FAILED, G_IO_ERROR_CONNECTION_REFUSED/
 * HOST_UNREACHABLE/NETWORK_UNREACHABLE become SERVER_UNREACHABLE). */
GError       *cpns_error_to_cpns           (const GError  *error);

G_END_DECLS
