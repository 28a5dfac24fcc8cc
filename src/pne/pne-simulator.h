/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * PneSimulator: N independent PneDevices in one process on one
 * GMainContext (no threads), each with its own state directory
 * (DIR/pne-0001 …) and its own descriptor. At most "concurrency"
 * operations are in flight at once; a refusal that may pass later
 * (pairing_closed, a closed or refused connection, server_unreachable)
 * is retried with exponential back-off and jitter. Pairing codes are
 * accepted automatically (the gateway's user still confirms them).
 */
#define PNE_TYPE_SIMULATOR (pne_simulator_get_type ())
G_DECLARE_FINAL_TYPE (PneSimulator, pne_simulator, PNE, SIMULATOR, GObject)

PneSimulator *pne_simulator_new                   (const char   *state_dir,
                                                   guint         count);
void          pne_simulator_set_gateway_address   (PneSimulator *self,
                                                   const char   *host_port);
void          pne_simulator_add_discovery_target  (PneSimulator *self,
                                                   const char   *host_port);
void          pne_simulator_set_multicast         (PneSimulator *self,
                                                   gboolean      multicast);
void          pne_simulator_set_name_prefix       (PneSimulator *self,
                                                   const char   *prefix);
void          pne_simulator_set_connect           (PneSimulator *self,
                                                   gboolean      connect,
                                                   gboolean      stay);
void          pne_simulator_set_announce          (PneSimulator *self,
                                                   gboolean      announce);
void          pne_simulator_set_resume            (PneSimulator *self,
                                                   gboolean      resume);
void          pne_simulator_set_concurrency       (PneSimulator *self,
                                                   guint         concurrency);

/* The descriptor of simulated device @index (name, type, services). */
void          pne_simulator_describe              (guint         index,
                                                   const char   *prefix,
                                                   char        **name,
                                                   const char  **entity_type,
                                                   char       ***services);

/* Runs the main loop until every device reached its goal or failed
 * (with --stay: until SIGINT/SIGTERM); prints a summary. Returns the
 * exit code: 0 when every device succeeded. */
int           pne_simulator_run                   (PneSimulator *self);

G_END_DECLS
