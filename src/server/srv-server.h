/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * SrvServer: the HTTPS API of PROTOCOL.md §5 on a SoupServer, driven by
 * the thread-default GMainContext of its creator.
 */
typedef struct _SrvServer SrvServer;

/* Opens the database of @data_dir and loads its certificate and key.
 * Fails with a message naming `cpns-server init` when they are missing. */
SrvServer  *srv_server_new        (const char     *data_dir,
                                   GError        **error);
void        srv_server_free       (SrvServer      *server);
/* @address "HOST:PORT" (port 0 = any free port). */
gboolean    srv_server_listen     (SrvServer      *server,
                                   const char     *address,
                                   GError        **error);
/* "https://127.0.0.1:7443" of the first listener. */
char       *srv_server_dup_url    (SrvServer      *server);
guint       srv_server_get_port   (SrvServer      *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvServer, srv_server_free)

G_END_DECLS
