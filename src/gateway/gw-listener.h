/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-core.h"

G_BEGIN_DECLS

/* The CPNS-1 listener (§4.1): one TCP port for certificate and PSK TLS.
 * Counts unauthenticated connections (§4.3: 32 in all, 4 per address)
 * and closes any beyond at once. */

#define GW_MAX_UNAUTH_TOTAL    32
#define GW_MAX_UNAUTH_PER_HOST 4

GwListener *gw_listener_new          (GwCore      *core,
                                      const char  *address,
                                      guint16      port,
                                      GError     **error);
guint16     gw_listener_get_port     (GwListener  *listener);
void        gw_listener_stop         (GwListener  *listener);
void        gw_listener_free         (GwListener  *listener);
/* A connection counted as unauthenticated stops counting. */
void        gw_listener_release      (GwListener  *listener,
                                      const char  *host);
guint       gw_listener_unauth_count (GwListener  *listener);
/* The most connections counted as unauthenticated at once since the
 * listener started: in all, and from one address. */
void        gw_listener_get_unauth_peak (GwListener *listener,
                                         guint      *total,
                                         guint      *per_host);

G_END_DECLS
