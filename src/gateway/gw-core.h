/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-message.h"
#include "cpns-tls.h"
#include "gw-clock.h"
#include "gw-command.h"
#include "gw-engine.h"
#include "gw-event.h"
#include "gw-event-private.h"
#include "gw-prompt.h"
#include "gw-registry.h"

G_BEGIN_DECLS

/*
 * GwCore: everything the engine thread owns. It lives on one thread and
 * one GMainContext (the engine's; in unit tests, the test's) and is never
 * touched from another. gw-engine.c wraps it in a thread.
 */
typedef struct _GwCore          GwCore;
typedef struct _GwServerSession GwServerSession;
typedef struct _GwListener      GwListener;
typedef struct _GwDiscovery     GwDiscovery;
typedef struct _GwPeer          GwPeer;

typedef void (*GwCoreEmitFunc) (GwEvent  *event,   /* owned */
                                gpointer  user_data);

/* A PNE's live session (§4.5–4.6): memory only (§6). */
typedef struct
{
  char    *pne_id;
  char    *session_id;
  guint8   key[CPNS_KEY_LEN];
  gint64   expires_at;         /* unix s */
  char   **granted_services;
} GwPneSession;

struct _GwCore
{
  GwEngineConfig   *config;
  GMainContext     *context;
  GwClock          *clock;
  GwCoreEmitFunc    emit;
  gpointer          emit_data;

  char             *data_dir;
  GwRegistry       *registry;
  GwPrompts        *prompts;
  CpnsCertificate  *certificate;
  GwServerSession  *server;
  GwListener       *listener;
  GwDiscovery      *discovery;

  GHashTable       *pne_sessions;   /* session_id → GwPneSession */
  GHashTable       *connected;      /* pne_id → GwPeer (not a reference) */
  GHashTable       *lockouts;       /* pne_id → gint64* unix s until */
  GList            *peers;          /* GwPeer, referenced */
  GList            *closing_peers;  /* GwPeer, referenced: closed, socket still
                                     * closing, still counted unauthenticated */

  char             *key_mode;
  guint             pairing_window_s;
  gboolean          stopping;

  /* Enrollment (no secret; mirrored in the registry's settings). */
  char             *server_url;
  char             *user_id;
  char             *gateway_id;
  char             *pn_id;
  char             *pin_sha256;
  char             *gateway_name;

  guint             inventory_retry;
  GHashTable       *inventory_sending; /* pne_id → NULL: its PUT is in flight */
  guint             active_pairings;
  GHashTable       *pairing_ids;    /* pne_id → NULL: pairings in progress */
  GHashTable       *rekey_ids;      /* pne_id: a new key at its next pairing */
};

GwCore        *gw_core_new               (const GwEngineConfig *config,
                                          GMainContext         *context,
                                          GwClock              *clock,    /* owned */
                                          GwCoreEmitFunc        emit,
                                          gpointer              emit_data,
                                          GError              **error);
/* Listener, discovery socket. */
gboolean       gw_core_start_network     (GwCore        *core,
                                          GError       **error);
/* The start-up snapshot of gw_engine_start()'s contract. */
void           gw_core_emit_initial      (GwCore        *core);
/* Withdraws prompts, closes every socket; the core can then be freed
 * once its context has run the closing callbacks. */
void           gw_core_stop              (GwCore        *core);
/* After gw_core_stop(): TRUE while callbacks into the core are still to
 * come (cancelled server requests); iterate the core's context until FALSE
 * before gw_core_free(). */
gboolean       gw_core_is_winding_down   (GwCore        *core);
void           gw_core_free              (GwCore        *core);

void           gw_core_handle_command    (GwCore        *core,
                                          GwCommand     *command);

void           gw_core_emit              (GwCore        *core,
                                          GwEvent       *event);
void           gw_core_emit_error        (GwCore        *core,
                                          const GError  *error,
                                          const char    *pne_id);
/* ENTITY_CHANGED from the registry plus the live state. */
void           gw_core_emit_entity       (GwCore        *core,
                                          const char    *pne_id);
GwEntityInfo  *gw_core_dup_entity        (GwCore        *core,
                                          const char    *pne_id);
gboolean       gw_core_is_enrolled       (GwCore        *core);

/* PNE sessions. */
GwPneSession  *gw_core_add_pne_session   (GwCore        *core,
                                          const char    *pne_id,
                                          const char    *session_id,
                                          const guint8   key[CPNS_KEY_LEN],
                                          gint64         expires_at,
                                          char         **granted_services);
GwPneSession  *gw_core_lookup_pne_session (GwCore       *core,
                                          const char    *session_id);
void           gw_core_drop_pne_sessions (GwCore        *core,
                                          const char    *pne_id);

void           gw_core_set_connected     (GwCore        *core,
                                          const char    *pne_id,
                                          GwPeer        *peer);  /* NULL: gone */
/* Step 5a: PUT /inventory/{pne_id}, queued in the registry if the server
 * cannot be reached and sent when a session comes back. */
void           gw_core_update_inventory  (GwCore        *core,
                                          const char    *pne_id,
                                          const char    *state,
                                          const char    *session_id,
                                          char         **services);
void           gw_core_flush_inventory   (GwCore        *core);
/* Reads the server's inventory and applies revocations missed while the
 * events WebSocket was down. */
void           gw_core_sync_revocations  (GwCore        *core);
/* Called by the server session when a session is established. */
void           gw_core_on_server_connected (GwCore      *core);
/* §5.7 entity_revoked, and the remove command. */
void           gw_core_revoke_entity     (GwCore        *core,
                                          const char    *pne_id,
                                          GwEntityState  new_state);
/* Lockout bookkeeping mirrored from the server's locked_out answers. */
void           gw_core_note_lockout      (GwCore        *core,
                                          const char    *pne_id,
                                          gint64         retry_after_s);

/* A sentence that tells a person what to do after @code. */
const char    *gw_error_advice           (CpnsErrorCode  code);
/* A CPNS_ERROR with "@what. <advice>" as message. */
GError        *gw_error_new_advice       (CpnsErrorCode  code,
                                          const char    *what);

G_END_DECLS
