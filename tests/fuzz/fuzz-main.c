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

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  /* A critical or warning from GLib, json-glib or libcpns is a finding. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
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
