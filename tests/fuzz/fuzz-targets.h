/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The fuzz entry points, one per parser of libcpns. Each takes any bytes,
 * must never crash, leak or trip a sanitizer, and aborts (g_error) when an
 * invariant breaks: a message that decodes must encode again and decode to
 * the same object; an invitation that parses must print as a URI that
 * parses to the same fields.
 *
 *   frame       first byte: bit 7 = pre-authentication limit (8 KiB),
 *               bit 6 = the rest is one frame body (no length prefix),
 *               bits 0–5 = size of the pieces fed to the reader (0 = all);
 *               the rest: length-prefixed frames
 *   datagram    a discovery datagram
 *   body        first byte picks the api.* schema (modulo their number)
 *   event       a WebSocket event
 *   invitation  a cpns://enroll?… URI (up to the first NUL)
 */
typedef void (*CpnsFuzzFunc) (const guint8 *data,
                              gsize         size);

typedef struct
{
  const char *name;
  CpnsFuzzFunc func;
} CpnsFuzzTarget;

const CpnsFuzzTarget *cpns_fuzz_targets        (gsize      *n_targets);
CpnsFuzzFunc          cpns_fuzz_lookup         (const char *name);

void cpns_fuzz_frame      (const guint8 *data, gsize size);
void cpns_fuzz_datagram   (const guint8 *data, gsize size);
void cpns_fuzz_body       (const guint8 *data, gsize size);
void cpns_fuzz_event      (const guint8 *data, gsize size);
void cpns_fuzz_invitation (const guint8 *data, gsize size);

G_END_DECLS
