/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The server's data dir: cpns-server.db (SQLite), server-cert.pem,
 * server-key.pem (mode 0600) and server.conf (a key file: [server] url).
 */
char     *srv_datadir_default      (void);
char     *srv_datadir_db_path      (const char  *data_dir);
char     *srv_datadir_cert_path    (const char  *data_dir);
char     *srv_datadir_key_path     (const char  *data_dir);
char     *srv_datadir_config_path  (const char  *data_dir);

/* Creates the directory (0700), a self-signed ECDSA P-256 certificate for
 * @hostname (10 years) with its key, the database and the config naming
 * @url. Refuses when any of them exists unless @force (then certificate,
 * key and config are replaced; the database is kept). */
gboolean  srv_datadir_init         (const char  *data_dir,
                                    const char  *hostname,
                                    const char  *url,
                                    gboolean     force,
                                    GError     **error);
/* SHA-256 of the certificate's DER, lowercase hex (the pin without its
 * "sha256:" prefix). */
char     *srv_datadir_dup_pin      (const char  *data_dir,
                                    GError     **error);
/* The URL invitations name (from server.conf), or NULL. */
char     *srv_datadir_dup_url      (const char  *data_dir);

G_END_DECLS
