/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Loopback sockets for the LAN flood tests (item 3 of the reliability
 * campaign): many source addresses of 127.0.0.0/8 stand for many hosts. */

/* A non-blocking TCP connection from @source (host order, 127.x.y.z) to
 * 127.0.0.1:@port, connecting; -1 if it could not be started. */
int       flood_connect_from    (guint32 source,
                                 guint16 port);
/* TRUE when the other side closed @fd (EOF or reset); never blocks. */
gboolean  flood_closed_by_peer  (int     fd);

G_END_DECLS
