/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "cpns-crypto.h"
#include "srv-policy.h"

G_BEGIN_DECLS

/*
 * SrvStore: the only module of the server that touches storage.
 *
 * Durable state lives in one SQLite file (WAL, synchronous=FULL, foreign
 * keys, a schema version with migrations). Every function that changes
 * durable state runs exactly one transaction, so a crash leaves either the
 * whole change or none of it; changes that other processes must learn
 * about (revocation, inventory, policy) also append a row to the events
 * outbox in that same transaction.
 *
 * Short-lived exchanges (session challenges, authentication exchanges,
 * 60 s, single use) are kept in memory: a restart invalidates them, which
 * the protocol already allows (the peer starts a new exchange). The
 * decision log is written in batches (srv_store_flush_decisions()).
 *
 * Errors are in CPNS_ERROR with the codes of PROTOCOL.md §2.
 */
typedef struct _SrvStore SrvStore;

typedef struct
{
  char   *user_id;
  char   *pn_id;
  char   *default_action;
  gint64  revision;
  gint64  created_at;
  guint   n_gateways;
  guint   n_entities;
} SrvUser;

typedef struct
{
  char   *gateway_id;
  char   *user_id;
  char   *pn_id;
  char   *name;
  guint8  secret[CPNS_KEY_LEN];
} SrvGateway;

typedef struct
{
  char   *gateway_id;
  char   *user_id;
  char   *pn_id;
  gint64  expires_at;
} SrvSession;

typedef struct
{
  char     *pne_id;
  char     *user_id;
  char     *pn_id;
  char     *gateway_id;
  char     *descriptor;       /* JSON text of the entity descriptor */
  char     *state;
  char     *key_assignment;
  char     *key_id;
  gboolean  has_euk;
  guint8    euk[CPNS_KEY_LEN];
  char     *pending_key_id;   /* a rekey waiting for its key-confirm */
  gboolean  has_pending_euk;
  guint8    pending_euk[CPNS_KEY_LEN];
  char     *pending_mode;
  char     *session_id;
  char     *services;         /* JSON text (array) or NULL */
  gint64    created_at;
  gint64    registered_at;    /* 0 = never */
  gint64    last_seen;        /* 0 = never */
  gint64    revision;
} SrvEntity;

typedef struct
{
  char   *challenge_id;
  char   *gateway_id;
  guint8  nonce_s[CPNS_NONCE_LEN];
  gint64  expires_at;
} SrvChallenge;

typedef enum
{
  SRV_AUTH_ISSUED,      /* waiting for verify */
  SRV_AUTH_ASKING,      /* verified, waiting for the user's decision */
} SrvAuthState;

typedef struct
{
  char         *auth_id;
  char         *pne_id;
  char         *gateway_id;
  char         *user_id;
  guint8        nonce_p[CPNS_NONCE_LEN];
  guint8        nonce_s[CPNS_NONCE_LEN];
  char        **requested_services;
  gint64        expires_at;
  SrvAuthState  state;
} SrvAuthExchange;

typedef struct
{
  gint64  id;
  char   *user_id;
  char   *body;     /* JSON text of the §5.7 event */
} SrvEvent;

void        srv_user_free            (SrvUser         *user);
void        srv_gateway_free         (SrvGateway      *gateway);
void        srv_session_free         (SrvSession      *session);
void        srv_entity_free          (SrvEntity       *entity);
void        srv_challenge_free       (SrvChallenge    *challenge);
void        srv_auth_exchange_free   (SrvAuthExchange *exchange);
void        srv_event_free           (SrvEvent        *event);

/* The current schema version (PRAGMA user_version). */
#define SRV_STORE_SCHEMA_VERSION 2

SrvStore   *srv_store_open           (const char      *path,
                                      GError         **error);
/* The store is reference-counted: srv_store_free() drops a reference. */
void        srv_store_free           (SrvStore        *store);
SrvStore   *srv_store_ref            (SrvStore        *store);
/* A new reference to the most recently opened store of this process that
 * is still open, or NULL (srv-limiter.c persists its counters there). */
const char *srv_store_get_path       (SrvStore        *store);
/* "ok" or what PRAGMA integrity_check says. */
char       *srv_store_integrity_check (SrvStore       *store);

/* Several reads as one snapshot (and one WAL read lock instead of one per
 * statement). No write may happen between begin and end. */
void        srv_store_begin_read     (SrvStore        *store);
void        srv_store_end_read       (SrvStore        *store);

/* ---- users and enrollment (§5.1) ---- */
/* Creates the user if needed (with a new pn_id) and records a new
 * enrollment code by its SHA-256 hex. */
gboolean    srv_store_add_user_code  (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *code_hash,
                                      gint64           now,
                                      gint64           expires_at,
                                      gboolean        *out_created,
                                      GError         **error);
SrvUser    *srv_store_get_user       (SrvStore        *store,
                                      const char      *user_id,
                                      GError         **error);
GPtrArray  *srv_store_list_users     (SrvStore        *store,
                                      GError         **error);
/* Checks the code (constant time, unused, unexpired), marks it used and
 * creates the gateway, in one transaction. UNAUTHORIZED when no code of
 * @user_id matches. */
gboolean    srv_store_enroll         (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *code_hash,
                                      gint64           now,
                                      const char      *gateway_id,
                                      const char      *gateway_name,
                                      const guint8     secret[CPNS_KEY_LEN],
                                      GError         **error);
SrvGateway *srv_store_get_gateway    (SrvStore        *store,
                                      const char      *gateway_id,
                                      GError         **error);

/* ---- sessions (§5.2) ---- */
void        srv_store_put_challenge  (SrvStore        *store,
                                      SrvChallenge    *challenge);
/* Removes and returns it; NULL (NOT_FOUND) when unknown or used. */
SrvChallenge *srv_store_take_challenge (SrvStore      *store,
                                      const char      *challenge_id,
                                      GError         **error);
guint       srv_store_count_challenges (SrvStore      *store,
                                      const char      *gateway_id);
gboolean    srv_store_create_session (SrvStore        *store,
                                      const char      *token_hash,
                                      const char      *gateway_id,
                                      gint64           now,
                                      gint64           expires_at,
                                      GError         **error);
/* UNAUTHORIZED when unknown or expired. */
SrvSession *srv_store_lookup_session (SrvStore        *store,
                                      const char      *token_hash,
                                      gint64           now,
                                      GError         **error);
gboolean    srv_store_delete_session (SrvStore        *store,
                                      const char      *token_hash,
                                      GError         **error);

/* ---- entities (§5.3) ---- */
/* CONFLICT when @pne_id (or @key_id) exists anywhere. */
gboolean    srv_store_register_entity (SrvStore       *store,
                                      const char      *user_id,
                                      const char      *gateway_id,
                                      const char      *pne_id,
                                      const char      *descriptor,
                                      const char      *key_assignment,
                                      const char      *key_id,
                                      const guint8     euk[CPNS_KEY_LEN],
                                      gint64           now,
                                      GError         **error);
/* NOT_FOUND unless the entity exists in @user_id's PN (@user_id NULL: any). */
SrvEntity  *srv_store_get_entity     (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *pne_id,
                                      GError         **error);
/* Activates @key_id: the first key of a pending entity or a rekey's new
 * key (the old one is then revoked). Returns the entity's new state. */
char       *srv_store_confirm_key    (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *pne_id,
                                      const char      *key_id,
                                      gint64           now,
                                      GError         **error);
gboolean    srv_store_begin_rekey    (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *pne_id,
                                      const char      *key_assignment,
                                      const char      *key_id,
                                      const guint8     euk[CPNS_KEY_LEN],
                                      GError         **error);
/* A pending entity is deleted; a registered one becomes "revoked" with its
 * key wiped and its session ended. Emits entity_revoked. */
gboolean    srv_store_remove_entity  (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *pne_id,
                                      gint64           now,
                                      GError         **error);
/* Deletes entities pending since before @older_than; returns how many. */
guint       srv_store_purge_pending  (SrvStore        *store,
                                      gint64           older_than,
                                      GError         **error);

/* ---- inventory (§5.5) ---- */
/* Returns the PN's new revision, or -1 with @error. */
gint64      srv_store_update_inventory (SrvStore      *store,
                                      const char      *user_id,
                                      const char      *pne_id,
                                      const char      *state,
                                      const char      *session_id,
                                      const char      *services,
                                      gint64           now,
                                      GError         **error);
/* Entities of the PN changed after @since (0: all), in revision order. */
GPtrArray  *srv_store_list_entities  (SrvStore        *store,
                                      const char      *user_id,
                                      gint64           since,
                                      gint64          *out_revision,
                                      GError         **error);

/* ---- authentication exchanges (§5.4) ---- */
void        srv_store_put_auth       (SrvStore        *store,
                                      SrvAuthExchange *exchange);
/* Borrowed; NULL when unknown or used. */
SrvAuthExchange *srv_store_lookup_auth (SrvStore      *store,
                                      const char      *auth_id);
/* Marks it used (removes it). */
void        srv_store_finish_auth    (SrvStore        *store,
                                      const char      *auth_id);
guint       srv_store_count_auths    (SrvStore        *store,
                                      const char      *gateway_id);
/* Forgets challenges and exchanges that expired before @before. */
void        srv_store_expire_ephemeral (SrvStore      *store,
                                      gint64           before);

/* ---- policy (§5.6) ---- */
SrvPolicy  *srv_store_get_policy     (SrvStore        *store,
                                      const char      *user_id,
                                      GError         **error);
/* Replaces default action and rules; CONFLICT when a rule id is taken
 * by another PN. */
gboolean    srv_store_replace_policy (SrvStore        *store,
                                      const char      *user_id,
                                      const SrvPolicy *policy,
                                      GError         **error);
gboolean    srv_store_set_default_action (SrvStore    *store,
                                      const char      *user_id,
                                      const char      *action,
                                      GError         **error);
/* Adds @rule first (@first) or last in the list. */
gboolean    srv_store_add_rule       (SrvStore        *store,
                                      const char      *user_id,
                                      const SrvRule   *rule,
                                      gboolean         first,
                                      GError         **error);
/* Buffered; written by srv_store_flush_decisions(). */
void        srv_store_log_decision   (SrvStore        *store,
                                      const char      *user_id,
                                      const char      *auth_id,
                                      const char      *pne_id,
                                      const char      *gateway_id,
                                      const char      *decision,
                                      const char      *rule_id,
                                      const char      *source,
                                      gint64           now);
gboolean    srv_store_flush_decisions (SrvStore       *store,
                                      GError         **error);
gint64      srv_store_count_decisions (SrvStore       *store,
                                      const char      *pne_id);
/* Forgets log entries older than @before. */
void        srv_store_prune_decisions (SrvStore       *store,
                                      gint64           before);

/* ---- events outbox (§5.7) ---- */
gint64      srv_store_last_event_id  (SrvStore        *store);
/* Events with id > @after, oldest first (at most @limit). */
GPtrArray  *srv_store_events_after   (SrvStore        *store,
                                      gint64           after,
                                      guint            limit,
                                      GError         **error);
void        srv_store_prune_events   (SrvStore        *store,
                                      gint64           before);

/* ---- lockout counters (srv-limiter.c, §5) ----
 * One row per (@scope, @key): the times (µs) of the failures still in the
 * window, oldest first, and the end of the lock (0: none). Written on a
 * connection with synchronous=NORMAL: survives a restart or a crash of
 * the process. */
typedef void (*SrvLockoutFunc) (const char   *key,
                                const gint64 *failures,
                                guint         n_failures,
                                gint64        locked_until,
                                gpointer      user_data);
gboolean    srv_store_load_lockouts  (SrvStore        *store,
                                      const char      *scope,
                                      SrvLockoutFunc   func,
                                      gpointer         user_data,
                                      GError         **error);
/* Writes the row; no failure and no lock deletes it. */
gboolean    srv_store_save_lockout   (SrvStore        *store,
                                      const char      *scope,
                                      const char      *key,
                                      const gint64    *failures,
                                      guint            n_failures,
                                      gint64           locked_until,
                                      GError         **error);
/* Deletes the rows of @scope whose lock ended by @now and whose last
 * failure is at or before @failed_before; returns how many. */
guint       srv_store_prune_lockouts (SrvStore        *store,
                                      const char      *scope,
                                      gint64           now,
                                      gint64           failed_before);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvStore, srv_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvUser, srv_user_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvGateway, srv_gateway_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvSession, srv_session_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvEntity, srv_entity_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvChallenge, srv_challenge_free)

G_END_DECLS
