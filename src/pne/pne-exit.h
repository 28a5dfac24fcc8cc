/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cpns-pne's exit codes, one per class of failure (listed in --help and
 * the README). */
typedef enum
{
  PNE_EXIT_OK             = 0,
  PNE_EXIT_USAGE          = 1,   /* bad command line */
  PNE_EXIT_REJECTED       = 2,   /* pairing rejected, or the pairing window is closed */
  PNE_EXIT_AUTH_FAILED    = 3,   /* a proof/MAC/commitment failed, server_auth_failed, lockout */
  PNE_EXIT_DENIED         = 4,   /* the connection was denied (policy or user) */
  PNE_EXIT_TIMEOUT        = 5,   /* no answer in time (also: no gateway found) */
  PNE_EXIT_UNREACHABLE    = 6,   /* cannot connect, connection closed, TLS failure */
  PNE_EXIT_PIN_MISMATCH   = 7,   /* the gateway's certificate is not the pinned one */
  PNE_EXIT_REVOKED        = 8,   /* revoked or unknown to the server: credentials discarded */
  PNE_EXIT_NO_CREDENTIALS = 9,   /* not paired, or the credentials file is corrupt */
  PNE_EXIT_INTERNAL       = 10,  /* anything else (a bug, a disk error) */
  PNE_EXIT_INTERRUPTED    = 130, /* Ctrl-C before the operation finished */
} PneExitCode;

PneExitCode  pne_exit_code_for_error (const GError *error);
/* The table for --help and the README. */
const char  *pne_exit_codes_help     (void);

G_END_DECLS
