/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "cpns-error.h"

G_BEGIN_DECLS

/* One translated sentence per error code of PROTOCOL.md §2 (and the local
 * codes), saying what happened and what to do. */
const char *gw_error_text_for_code (CpnsErrorCode  code);
/* The sentence for @error when it is in CPNS_ERROR, else a generic one. */
const char *gw_error_text          (const GError  *error);
/* Whether retrying the same thing can help. */
gboolean    gw_error_is_retryable  (const GError  *error);

G_END_DECLS
