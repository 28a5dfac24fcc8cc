/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "cpns-error.h"
#include "cpns-message.h"
#include "srv-limiter.h"
#include "srv-server.h"
#include "srv-store.h"
#include "srv-time.h"

G_BEGIN_DECLS

struct _SrvServer
{
  char        *data_dir;
  SoupServer  *soup;
  SrvStore    *store;
  SrvLimiter  *pne_limiter;      /* bad PNE proofs per pne_id */
  SrvLimiter  *enroll_limiter;   /* bad enrollment codes per user_id */
  GPtrArray   *ws_clients;       /* SrvWsClient* */
  GHashTable  *connections;      /* client address → GPtrArray of GSocket */
  gint64       last_event_id;
  guint        poll_id;
  guint        purge_id;
};

/* One HTTP request being handled. */
typedef struct
{
  SrvServer          *server;
  SoupServerMessage  *msg;
  const char         *method;
  const char         *path;
  char              **segments;   /* path split on '/', without the empty first one */
  GHashTable         *query;      /* may be NULL */
  GBytes             *body;
  gint64              now;
  /* after srv_request_authenticate(): */
  SrvSession         *session;
  char               *token_hash;
  /* extras for an error answer */
  gint64              retry_after;
  char               *rule_id;
} SrvRequest;

typedef void (*SrvHandlerFunc) (SrvRequest *req);

/* Answers. */
void         srv_reply_json          (SrvRequest   *req,
                                      guint         status,
                                      JsonObject   *object);
void         srv_reply_empty         (SrvRequest   *req,
                                      guint         status);
/* §2's shape, status from the code; adds retry_after / rule_id when set on
 * @req. A foreign error is answered as internal. */
void         srv_reply_error         (SrvRequest   *req,
                                      const GError *error);
void         srv_reply_error_code    (SrvRequest   *req,
                                      CpnsErrorCode code,
                                      const char   *message);
/* Bearer token → session; FALSE (with UNAUTHORIZED) otherwise. */
gboolean     srv_request_authenticate (SrvRequest  *req,
                                      GError      **error);
/* The body decoded and validated by libcpns as schema @kind. */
CpnsMessage *srv_request_decode      (SrvRequest   *req,
                                      const char   *kind,
                                      GError      **error);
/* A path segment as an ID of @kind; BAD_REQUEST naming @field otherwise. */
gboolean     srv_check_id            (int           kind,
                                      const char   *value,
                                      const char   *field,
                                      GError      **error);

/* JSON helpers for answers. */
void         srv_json_set_bytes      (JsonObject   *object,
                                      const char   *member,
                                      const guint8 *data,
                                      gsize         len);
void         srv_json_set_time       (JsonObject   *object,
                                      const char   *member,
                                      gint64        usec);
/* Parses JSON text kept in the store (NULL → NULL). */
JsonNode    *srv_json_parse          (const char   *text);
char        *srv_json_to_string      (JsonNode     *node);

/* Handlers (srv-handler-*.c). */
void srv_handle_healthz        (SrvRequest *req);
void srv_handle_enroll         (SrvRequest *req);
void srv_handle_challenge      (SrvRequest *req);
void srv_handle_session_create (SrvRequest *req);
void srv_handle_session_delete (SrvRequest *req);
void srv_handle_entity_create  (SrvRequest *req);
void srv_handle_entity_delete  (SrvRequest *req);
void srv_handle_key_confirm    (SrvRequest *req);
void srv_handle_rekey          (SrvRequest *req);
void srv_handle_auth           (SrvRequest *req);
void srv_handle_verify         (SrvRequest *req);
void srv_handle_decision       (SrvRequest *req);
void srv_handle_inventory_get  (SrvRequest *req);
void srv_handle_inventory_put  (SrvRequest *req);
void srv_handle_policy_get     (SrvRequest *req);
void srv_handle_policy_put     (SrvRequest *req);
/* The WebSocket path: authentication before the upgrade. */
void srv_handle_events_request (SrvRequest *req);

/* srv-events.c */
void     srv_events_attach        (SrvServer               *server,
                                   SoupServerMessage       *msg,
                                   SoupWebsocketConnection *connection);
void     srv_events_poll          (SrvServer               *server);
void     srv_events_close_all     (SrvServer               *server);

G_END_DECLS
