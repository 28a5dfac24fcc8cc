/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "cpns-message.h"

G_BEGIN_DECLS

/*
 * PneDiscovery: a PNE in pairing mode (PROTOCOL.md §4.2). Sends an
 * entity_discovery_request (mode "pne") every 2 s from an ephemeral UDP
 * port to the multicast group (when enabled) and to each unicast target,
 * answers a gateway's request with a unicast entity_discovery_response,
 * and reports every gateway descriptor it hears.
 *
 * Signal "gateway-heard" (const char *address, CpnsMessage *descriptor):
 *   @address is the gateway's CPNS-1 address, "host:port" (the
 *   datagram's source address and the descriptor's "port").
 */
#define PNE_TYPE_DISCOVERY (pne_discovery_get_type ())
G_DECLARE_FINAL_TYPE (PneDiscovery, pne_discovery, PNE, DISCOVERY, GObject)

/* @multicast: also send to the group 239.255.74.72:7472 (TTL 1). */
PneDiscovery *pne_discovery_new            (const char   *name,
                                            const char   *entity_type,
                                            gboolean      multicast,
                                            GError      **error);
/* "HOST:PORT" of a gateway's discovery socket. */
void          pne_discovery_add_target     (PneDiscovery *self,
                                            const char   *host_port);
void          pne_discovery_set_interval   (PneDiscovery *self,
                                            guint         interval_ms);
void          pne_discovery_start          (PneDiscovery *self);
void          pne_discovery_stop           (PneDiscovery *self);

G_END_DECLS
