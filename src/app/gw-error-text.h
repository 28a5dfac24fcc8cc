/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "cpns-error.h"
#include "gw-event.h"

G_BEGIN_DECLS

/* One translated sentence per error code of PROTOCOL.md §2 (and the local
 * codes), saying what happened and what to do. */
const char *gw_error_text_for_code (CpnsErrorCode  code);
/* The sentence for @error when it is in CPNS_ERROR, else a generic one. */
const char *gw_error_text          (const GError  *error);
/* The sentence for @error; for tls_failed and pin_mismatch, the sentence
 * of @session's TLS failure class (expired, wrong host…), with the
 * certificate's date when known. @session may be NULL. */
char       *gw_error_text_for_session (const GError        *error,
                                       const GwSessionInfo *session);
/* Whether retrying the same thing can help. */
gboolean    gw_error_is_retryable  (const GError  *error);

G_END_DECLS
