/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "gw-event.h"

G_BEGIN_DECLS

/*
 * GwRegistry: the gateway's local SQLite database (WAL, synchronous=FULL):
 * entities with their key mode, key id and dates, the flow history per
 * step, the enrollment metadata (no secret) and the queue of inventory
 * updates the server has not acknowledged yet. It never holds a secret.
 */
typedef struct _GwRegistry GwRegistry;

typedef struct
{
  char *pne_id;
  char *state;         /* "connected" | "disconnected" */
  char *session_id;    /* may be NULL */
  char *services_json; /* JSON array of names */
} GwQueuedInventory;

GwRegistry   *gw_registry_open              (const char   *path,
                                             GError      **error);
void          gw_registry_free              (GwRegistry   *registry);

char         *gw_registry_get_setting       (GwRegistry   *registry,
                                             const char   *key);
gboolean      gw_registry_set_setting       (GwRegistry   *registry,
                                             const char   *key,
                                             const char   *value,   /* NULL deletes */
                                             GError      **error);

/* What enrollment keeps in the registry (no secret: the gateway secret
 * is in the keyring). A NULL member deletes its setting. */
typedef struct
{
  const char *server_url;
  const char *pin_sha256;
  const char *user_id;
  const char *pn_id;
  const char *gateway_name;
  const char *gateway_id;
} GwEnrollmentRecord;

/* Writes every setting of @record in one transaction (BEGIN IMMEDIATE …
 * COMMIT): after a failure or a crash the registry holds either the old
 * enrollment or the new one, never a mix. */
gboolean      gw_registry_save_enrollment   (GwRegistry               *registry,
                                             const GwEnrollmentRecord *record,
                                             GError                  **error);

/* Inserts or replaces the entity. @descriptor_json: the PNE's descriptor
 * (§4.4), kept so that the UI can show it; may be NULL to keep the old. */
gboolean      gw_registry_put_entity        (GwRegistry         *registry,
                                             const GwEntityInfo *entity,
                                             const char         *descriptor_json,
                                             gboolean            pending,
                                             GError            **error);
/* The same for a change of live state only (connected, last seen…):
 * crash-safe but without an fsync of its own. */
gboolean      gw_registry_put_entity_live   (GwRegistry         *registry,
                                             const GwEntityInfo *entity,
                                             GError            **error);
GwEntityInfo *gw_registry_get_entity        (GwRegistry   *registry,
                                             const char   *pne_id);
char         *gw_registry_get_descriptor    (GwRegistry   *registry,
                                             const char   *pne_id);
/* GwEntityInfo, registered ones only (not pending). */
GPtrArray    *gw_registry_list_entities     (GwRegistry   *registry);
/* Entities registered on the server whose pairing never completed. */
char        **gw_registry_list_pending      (GwRegistry   *registry);
gboolean      gw_registry_set_pending       (GwRegistry   *registry,
                                             const char   *pne_id,
                                             gboolean      pending,
                                             GError      **error);
gboolean      gw_registry_delete_entity     (GwRegistry   *registry,
                                             const char   *pne_id,
                                             GError      **error);

guint64       gw_registry_next_flow_id      (GwRegistry   *registry);
/* Inserts or updates the row of (flow_id, step). */
gboolean      gw_registry_record_step       (GwRegistry       *registry,
                                             const GwStepInfo *step,
                                             GError          **error);
/* GwStepInfo, oldest first, at most @limit (0 = all). */
GPtrArray    *gw_registry_list_steps        (GwRegistry   *registry,
                                             guint         limit);
/* Marks every step left "running" (after a crash) as failed. */
void          gw_registry_fail_running_steps (GwRegistry  *registry);

gboolean      gw_registry_queue_inventory   (GwRegistry   *registry,
                                             const char   *pne_id,
                                             const char   *state,
                                             const char   *session_id,
                                             const char   *services_json,
                                             GError      **error);
GPtrArray    *gw_registry_list_inventory_queue (GwRegistry *registry);
void          gw_registry_dequeue_inventory (GwRegistry   *registry,
                                             const char   *pne_id);
void          gw_queued_inventory_free      (GwQueuedInventory *item);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwRegistry, gw_registry_free)

G_END_DECLS
