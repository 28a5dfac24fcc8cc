/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-peer.h"

G_BEGIN_DECLS

/* Steps 4–5 (§4.5) on a certificate connection, or the PSK resume of §4.6. */
GwConnectionFlow *gw_connection_flow_new          (GwPeer           *peer,
                                                   CpnsMessage      *first);
void              gw_connection_flow_message      (GwConnectionFlow *flow,
                                                   CpnsMessage      *msg);
void              gw_connection_flow_peer_closed  (GwConnectionFlow *flow,
                                                   const GError     *error);
void              gw_connection_flow_free         (GwConnectionFlow *flow);

G_END_DECLS
