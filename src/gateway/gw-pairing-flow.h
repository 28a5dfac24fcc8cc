/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-peer.h"

G_BEGIN_DECLS

/* Steps 2–3 on one certificate connection (§4.3–4.4). */
GwPairingFlow *gw_pairing_flow_new          (GwPeer        *peer,
                                             CpnsMessage   *pairing_request);
void           gw_pairing_flow_message      (GwPairingFlow *flow,
                                             CpnsMessage   *msg);
/* The connection ended (NULL error: cleanly). Rolls back if needed. */
void           gw_pairing_flow_peer_closed  (GwPairingFlow *flow,
                                             const GError  *error);
void           gw_pairing_flow_free         (GwPairingFlow *flow);

/* Fail-safe of §4.4: DELETE the entity on the server and forget it here;
 * when the server cannot be reached it stays marked pending and is
 * removed once a session exists. */
void           gw_pairing_rollback          (GwCore        *core,
                                             const char    *pne_id);

G_END_DECLS
