/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-core.h"

G_BEGIN_DECLS

typedef struct _GwPairingFlow    GwPairingFlow;
typedef struct _GwConnectionFlow GwConnectionFlow;

typedef enum
{
  GW_PEER_HANDSHAKE,     /* TLS handshake (2 s) */
  GW_PEER_FIRST_FRAME,   /* waiting for the first frame (10 s) */
  GW_PEER_PAIRING,       /* steps 2–3 */
  GW_PEER_SETUP,         /* steps 4–5 or resume */
  GW_PEER_CONNECTED,     /* session up: heartbeats */
  GW_PEER_CLOSED,
} GwPeerPhase;

/*
 * GwPeer: one CPNS-1 connection on the listener. It enforces §4.3's
 * limits until the connection is authenticated, hands the first frame to
 * the pairing or connection flow, keeps the heartbeat of §4.1 once
 * connected, and tells its flow when the connection ends. Referenced by
 * async callbacks; check gw_peer_is_closed() after every wait.
 */
struct _GwPeer
{
  gint               ref;
  GwCore            *core;
  GSocketConnection *connection;
  CpnsTlsChannel    *channel;
  char              *host;
  char              *address;          /* "host:port" */
  GwPeerPhase        phase;
  gboolean           counted_unauth;
  GCancellable      *cancellable;
  guint              timer;            /* handshake / first frame */
  guint              heartbeat_timer;
  gint64             last_rx;          /* µs */
  GwPairingFlow     *pairing;
  GwConnectionFlow  *setup;
  char              *pne_id;           /* once known */
};

GwPeer   *gw_peer_new              (GwCore            *core,
                                    GSocketConnection *connection,
                                    gboolean           counted_unauth);
GwPeer   *gw_peer_ref              (GwPeer            *peer);
void      gw_peer_unref            (GwPeer            *peer);
void      gw_peer_start            (GwPeer            *peer);
gboolean  gw_peer_is_closed        (GwPeer            *peer);
void      gw_peer_send             (GwPeer            *peer,
                                    CpnsMessage       *msg);
/* Sends an "error" frame and closes. */
void      gw_peer_fail             (GwPeer            *peer,
                                    const GError      *error);
void      gw_peer_close            (GwPeer            *peer);
/* The connection passed pairing, setup or resume: §4.3's limits end. */
void      gw_peer_set_authenticated (GwPeer           *peer);
/* Session established: ping every heartbeat_s, drop after 3 silent. */
void      gw_peer_set_connected    (GwPeer            *peer,
                                    const char        *pne_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwPeer, gw_peer_unref)

G_END_DECLS
