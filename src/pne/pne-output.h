/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* How cpns-pne prints its steps: text lines for people, or (--json) one
 * JSON object per line for scripts and tests. Nothing printed is secret. */
typedef enum
{
  PNE_OUTPUT_TEXT,
  PNE_OUTPUT_JSON,
} PneOutputFormat;

void  pne_output_set_format  (PneOutputFormat  format);
PneOutputFormat pne_output_get_format (void);

/* One step. @pne_index < 0 when there is a single device; @details may be
 * NULL and is not taken. */
void  pne_output_step        (int          pne_index,
                              const char  *pne_name,
                              const char  *step,
                              const char  *message,
                              JsonObject  *details);
/* A failure: text to stderr ("cpns-pne: …"), JSON to stdout with the code
 * and the exit code. */
void  pne_output_error       (int          pne_index,
                              const char  *pne_name,
                              const GError *error,
                              int          exit_code);
/* A JSON object printed as one line (JSON mode) — for results. */
void  pne_output_object      (JsonObject  *object);

G_END_DECLS
