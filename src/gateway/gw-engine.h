/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "gw-command.h"
#include "gw-event.h"

G_BEGIN_DECLS

/* Where the engine keeps things and how it reaches the LAN. */
typedef struct
{
  char      *data_dir;            /* registry.sqlite lives here; NULL = XDG data dir/cpns-gateway */
  char      *listen_address;      /* default "0.0.0.0" (and [::]) */
  guint16    listen_port;         /* default 7471; 0 = any (tests) */
  gboolean   discovery_enabled;
  guint16    discovery_port;      /* default 7472; 0 = any */
  char      *discovery_group;     /* default 239.255.74.72; NULL = none */
  char     **discovery_targets;   /* extra unicast "host:port" targets */
  char      *key_mode;            /* "server" (default) | "gateway" */
  guint      pairing_window_s;    /* default 120, ≤ 900 */
  char      *gateway_name;        /* default: the host name */
  guint      approval_timeout_s;  /* default 120 (tests shorten it) */
  guint      heartbeat_s;         /* default 30 */
  gboolean   require_keyring;     /* TRUE: no Secret Service → refuse to enroll */
} GwEngineConfig;

GwEngineConfig *gw_engine_config_new  (void);   /* the defaults above */
void            gw_engine_config_free (GwEngineConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwEngineConfig, gw_engine_config_free)

/* Called on the context that was thread-default at gw_engine_start(). */
typedef void (*GwEventFunc) (GwEvent  *event,
                             gpointer  user_data);

typedef struct _GwEngine GwEngine;

GwEngine  *gw_engine_new      (const GwEngineConfig *config);
/* Spawns the engine thread. On start it reports the current state as
 * events: GW_EVENT_SESSION, GW_EVENT_PAIRING_WINDOW, one
 * GW_EVENT_ENTITY_CHANGED per known entity and the recorded flow history
 * as GW_EVENT_FLOW_STEP events (oldest first). */
gboolean   gw_engine_start    (GwEngine             *engine,
                               GwEventFunc           func,
                               gpointer              user_data,
                               GError              **error);
/* Takes ownership of @command. Thread-safe. */
void       gw_engine_send     (GwEngine             *engine,
                               GwCommand            *command);
/* The actual listening port (after start; useful with listen_port = 0). */
guint16    gw_engine_get_listen_port    (GwEngine   *engine);
guint16    gw_engine_get_discovery_port (GwEngine   *engine);
/* Withdraws pending prompts, closes every socket, joins the thread. */
void       gw_engine_stop     (GwEngine             *engine);
void       gw_engine_free     (GwEngine             *engine);

G_END_DECLS
