/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-core.h"

G_BEGIN_DECLS

/* Discovery (§4.2) and the pairing window (§4.4 item 1): the UDP socket,
 * the window with its countdown, the discovered list with its 30 s expiry,
 * and the per-host pairing permits of "pair this one" / "pair by address". */

GwDiscovery *gw_discovery_new             (GwCore       *core,
                                           gboolean      with_socket,
                                           GError      **error);
void         gw_discovery_free            (GwDiscovery  *discovery);
guint16      gw_discovery_get_port        (GwDiscovery  *discovery);
void         gw_discovery_open_window     (GwDiscovery  *discovery,
                                           guint         seconds);
void         gw_discovery_close_window    (GwDiscovery  *discovery);
GwPairingWindowInfo *gw_discovery_dup_window_info (GwDiscovery *discovery);
/* A pairing_request from @host may proceed (window open, or permit). */
gboolean     gw_discovery_may_pair        (GwDiscovery  *discovery,
                                           const char   *host);
/* A pairing failed or was rejected (closes the window after 20). */
void         gw_discovery_note_failure    (GwDiscovery  *discovery);
gboolean     gw_discovery_pair_discovered (GwDiscovery  *discovery,
                                           const char   *discovered_id,
                                           GError      **error);
gboolean     gw_discovery_pair_address    (GwDiscovery  *discovery,
                                           const char   *host_port,
                                           GError      **error);
/* A decoded datagram from @from (the socket's handler; tests call it). */
void         gw_discovery_handle_datagram (GwDiscovery    *discovery,
                                           CpnsMessage    *msg,
                                           GSocketAddress *from);
/* GW_COMMAND_SET_DISCOVERY. */
void         gw_discovery_set_enabled     (GwDiscovery  *discovery,
                                           gboolean      enabled);
void         gw_discovery_shutdown        (GwDiscovery  *discovery);

G_END_DECLS
