/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer entry: one executable per target, named by CPNS_FUZZ_TARGET. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "fuzz-targets.h"

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

static CpnsFuzzFunc target;

/* A critical or warning from GLib, json-glib or libcpns is a finding:
 * abort() so libFuzzer saves the input (fatal g_log ends in SIGTRAP). */
static void
abort_on_log (const char     *log_domain,
              GLogLevelFlags  log_level,
              const char     *message,
              gpointer        user_data)
{
  g_log_default_handler (log_domain, log_level, message, user_data);
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_default_handler (abort_on_log, NULL);
  target = cpns_fuzz_lookup (CPNS_FUZZ_TARGET);
  if (target == NULL)
    abort ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  target (data, size);
  return 0;
}
