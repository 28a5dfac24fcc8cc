/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "cpns-crypto.h"
#include "cpns-message.h"

G_BEGIN_DECLS

#define CPNS_DEFAULT_PORT            7471
#define CPNS_DEFAULT_DISCOVERY_PORT  7472
#define CPNS_DEFAULT_DISCOVERY_GROUP "239.255.74.72"

/* Builders for the datagrams of §4.2 (kind "entity_discovery_request" or
 * "entity_discovery_response"). */
CpnsMessage *cpns_discovery_new_gateway (gboolean      response,
                                         const char   *gateway_id,
                                         const char   *pn_id,
                                         const char   *name,
                                         guint16       port,
                                         const char   *cert_sha256,
                                         gboolean      pairing_open);
CpnsMessage *cpns_discovery_new_pne     (gboolean      response,
                                         const char   *name,
                                         const char   *entity_type,
                                         const guint8  nonce[CPNS_NONCE_LEN]);

/*
 * CpnsDiscoverySocket: one UDP socket bound to a port (0 = any), joined to
 * the multicast group when one is set, sending each datagram to the group
 * and to every unicast target. Non-blocking on the thread-default
 * GMainContext at creation. Datagrams that fail to decode are dropped
 * (with a g_debug).
 *
 * Signal "datagram-received" (CpnsMessage *msg, GSocketAddress *from)
 */
#define CPNS_TYPE_DISCOVERY_SOCKET (cpns_discovery_socket_get_type ())
G_DECLARE_FINAL_TYPE (CpnsDiscoverySocket, cpns_discovery_socket, CPNS, DISCOVERY_SOCKET, GObject)

/* @group: NULL for none; @bind_address: NULL for any. */
CpnsDiscoverySocket *cpns_discovery_socket_new         (const char           *bind_address,
                                                        guint16               port,
                                                        const char           *group,
                                                        GError              **error);
/* The same, with the group joined on (and group datagrams sent from) the
 * interface that has @interface_address, e.g. "127.0.0.1" to keep
 * multicast on loopback (tests); NULL = the kernel's choice. */
CpnsDiscoverySocket *cpns_discovery_socket_new_on_interface (const char     *bind_address,
                                                        guint16               port,
                                                        const char           *group,
                                                        const char           *interface_address,
                                                        GError              **error);
guint16              cpns_discovery_socket_get_port    (CpnsDiscoverySocket  *self);
/* "HOST:PORT" targets, e.g. "127.0.0.1:17472". */
void                 cpns_discovery_socket_add_target  (CpnsDiscoverySocket  *self,
                                                        const char           *host_port);
/* The same, reporting a target that is not "IPV4:PORT" (or
 * "localhost:PORT"); add_target() drops such a target with a g_debug. */
gboolean             cpns_discovery_socket_add_target_checked (CpnsDiscoverySocket  *self,
                                                        const char           *host_port,
                                                        GError              **error);
/* To the group (if any) and every target. */
gboolean             cpns_discovery_socket_broadcast   (CpnsDiscoverySocket  *self,
                                                        CpnsMessage          *msg,
                                                        GError              **error);
gboolean             cpns_discovery_socket_send_to     (CpnsDiscoverySocket  *self,
                                                        CpnsMessage          *msg,
                                                        GSocketAddress       *to,
                                                        GError              **error);
void                 cpns_discovery_socket_close       (CpnsDiscoverySocket  *self);

G_END_DECLS
