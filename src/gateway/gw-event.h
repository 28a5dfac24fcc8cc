/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include "cpns-error.h"

G_BEGIN_DECLS

/*
 * Events: immutable snapshots that the engine thread sends to its owner
 * (the app's UI thread, cpns-gatewayd, a test). The receiver holds a
 * reference; nothing in them points into engine state.
 */

typedef enum
{
  GW_SESSION_NOT_ENROLLED,  /* no gateway credentials yet */
  GW_SESSION_DISCONNECTED,  /* enrolled, no session, not trying */
  GW_SESSION_CONNECTING,    /* challenge/proof in flight */
  GW_SESSION_CONNECTED,     /* token valid until expires_at */
  GW_SESSION_RETRYING,      /* failed; next attempt in retry_in_s */
} GwSessionState;

typedef enum
{
  GW_ENTITY_PAIRING,        /* steps 2–3 running */
  GW_ENTITY_REGISTERED,     /* has ID and key, not connected */
  GW_ENTITY_CONNECTING,     /* step 4 running */
  GW_ENTITY_WAITING,        /* waiting for the user's approval */
  GW_ENTITY_CONNECTED,
  GW_ENTITY_DISCONNECTED,
  GW_ENTITY_REVOKED,
  GW_ENTITY_BLOCKED,
} GwEntityState;

/* The seed's steps and sub-steps (PROTOCOL.md §1). */
typedef enum
{
  GW_STEP_1,        /* secure server session */
  GW_STEP_2,        /* pairing & discovery, code confirmed */
  GW_STEP_3A,       /* PNE already has ID + EUK? (skipped → 3b–e run) */
  GW_STEP_3BD,      /* ID requested, generated, returned */
  GW_STEP_3E,       /* EUK assigned (and confirmed) */
  GW_STEP_4A,       /* connection setup request */
  GW_STEP_4B,       /* GW asks the server */
  GW_STEP_4C,       /* server ↔ PNE authentication */
  GW_STEP_4DF,      /* policy decision (and the user's, on ask) */
  GW_STEP_4G,       /* session key shared and confirmed */
  GW_STEP_5A,       /* inventory updated */
  GW_STEP_5B,       /* PNE notified: setup complete */
  GW_STEP_LAST
} GwStep;

typedef enum
{
  GW_STEP_RUNNING,
  GW_STEP_DONE,
  GW_STEP_FAILED,
  GW_STEP_SKIPPED,
} GwStepOutcome;

typedef enum
{
  GW_FLOW_PAIRING,      /* steps (1,) 2, 3 */
  GW_FLOW_CONNECTION,   /* steps (1,) 4, 5 */
  GW_FLOW_RESUME,       /* PSK resume: 5 only */
  GW_FLOW_REKEY,
  GW_FLOW_REMOVE,
} GwFlowKind;

typedef enum
{
  GW_PROMPT_PAIRING_CODE,  /* answers: CONFIRM / REJECT */
  GW_PROMPT_APPROVAL,      /* answers: ALLOW_ONCE / ALLOW_ALWAYS / DENY */
} GwPromptKind;

typedef enum
{
  GW_ANSWER_REJECT,        /* pairing */
  GW_ANSWER_CONFIRM,       /* pairing */
  GW_ANSWER_DENY,          /* approval */
  GW_ANSWER_ALLOW_ONCE,    /* approval */
  GW_ANSWER_ALLOW_ALWAYS,  /* approval: remember = true */
} GwPromptAnswer;

typedef enum
{
  GW_WITHDRAWN_ANSWERED,
  GW_WITHDRAWN_EXPIRED,    /* deadline passed: pairing rejected / connection denied */
  GW_WITHDRAWN_PEER_LEFT,  /* the device disconnected */
  GW_WITHDRAWN_CANCELLED,  /* engine stopping */
} GwWithdrawReason;

typedef enum
{
  GW_EVENT_SESSION,             /* ->session */
  GW_EVENT_ENROLLMENT,          /* ->session on success, ->error on failure */
  GW_EVENT_PAIRING_WINDOW,      /* ->pairing_window */
  GW_EVENT_DISCOVERED,          /* ->discovered (added or updated) */
  GW_EVENT_DISCOVERED_EXPIRED,  /* ->discovered */
  GW_EVENT_FLOW_STEP,           /* ->step */
  GW_EVENT_PROMPT_RAISED,       /* ->prompt */
  GW_EVENT_PROMPT_WITHDRAWN,    /* ->prompt, ->withdraw_reason */
  GW_EVENT_ENTITY_CHANGED,      /* ->entity (added or changed) */
  GW_EVENT_ENTITY_REMOVED,      /* ->entity */
  GW_EVENT_ERROR,               /* ->error (+ ->entity or ->step when about one) */
  GW_EVENT_STOPPED,             /* the engine thread is about to exit */
} GwEventType;

/* Why the TLS handshake with the server failed (a tls_failed or
 * pin_mismatch error). "expired" etc. in --events json. */
typedef enum
{
  GW_TLS_FAILURE_NONE,
  GW_TLS_FAILURE_EXPIRED,
  GW_TLS_FAILURE_NOT_YET_VALID,
  GW_TLS_FAILURE_WRONG_HOST,
  GW_TLS_FAILURE_UNKNOWN_CA,      /* includes self-signed without pin */
  GW_TLS_FAILURE_PIN_MISMATCH,
  GW_TLS_FAILURE_HANDSHAKE,       /* anything else */
} GwTlsFailureClass;

typedef struct
{
  GwSessionState state;
  char    *server_url;
  char    *server_name;     /* host part, for display */
  char    *user_id;
  char    *pn_id;
  char    *gateway_id;
  char    *gateway_name;
  gint64   expires_at;      /* unix seconds; 0 if none */
  guint    retry_in_s;      /* RETRYING only */
  char    *pin_sha256;      /* pinned server certificate, or NULL */
  GError  *last_error;      /* CPNS_ERROR; NULL if none */
  /* The class of the most recent tls_failed / pin_mismatch error of a
   * request to the server (last_error, or the enrollment event's error),
   * and the refused certificate's validity period (unix s; 0 unknown). */
  GwTlsFailureClass tls_failure;
  gint64   cert_not_before;
  gint64   cert_not_after;
} GwSessionInfo;

typedef struct
{
  gboolean open;
  gint64   closes_at;       /* unix µs; 0 when closed */
  guint    remaining_s;
  guint    failed_pairings; /* closes itself after 20 */
} GwPairingWindowInfo;

typedef struct
{
  char    *id;              /* engine-chosen key ("host:port/nonce") */
  char    *name;
  char    *entity_type;
  char    *address;         /* "192.0.2.1:7472" */
  gint64   last_heard;      /* unix µs */
} GwDiscoveredInfo;

typedef struct
{
  char          *pne_id;
  char          *name;
  char          *entity_type;
  char          *manufacturer;   /* may be NULL */
  char          *model;
  char          *serial;
  char         **services;       /* "temperature (coap:5683)" */
  GwEntityState  state;
  char          *key_mode;       /* "server" | "gateway" */
  char          *key_id;
  gint64         key_issued_at;  /* unix seconds */
  char          *session_id;     /* may be NULL */
  gint64         session_expires_at;
  gint64         last_seen;      /* unix seconds */
  gint64         registered_at;
  gboolean       blocked;
  char          *address;        /* last known, may be NULL */
} GwEntityInfo;

typedef struct
{
  guint64        flow_id;        /* unique per flow within the registry */
  GwFlowKind     flow_kind;
  char          *pne_id;         /* NULL until step 3b–d */
  char          *pne_name;
  GwStep         step;
  GwStepOutcome  outcome;
  gint64         started_at;     /* unix µs */
  gint64         finished_at;    /* unix µs; 0 while running */
  GError        *error;          /* FAILED: CPNS_ERROR code + English detail */
  char          *detail;         /* short English detail ("policy rule rule-… allowed"), may be NULL */
} GwStepInfo;

typedef struct
{
  guint64        id;
  GwPromptKind   kind;
  char          *pne_id;         /* APPROVAL; may be NULL for pairing */
  char          *pne_name;
  char          *entity_type;
  char          *manufacturer;
  char          *model;
  char          *address;
  guint32        code;           /* PAIRING_CODE: 0…999999 */
  char          *reason;         /* APPROVAL: why the server asks (English) */
  char          *rule_id;        /* APPROVAL: rule that said ask, or NULL (default) */
  gboolean       first_time;     /* APPROVAL: never connected before */
  gint64         deadline;       /* unix µs */
} GwPromptInfo;

typedef struct
{
  GwEventType          type;
  gint64               time;          /* unix µs when it happened */
  GwSessionInfo       *session;
  GwPairingWindowInfo *pairing_window;
  GwDiscoveredInfo    *discovered;
  GwStepInfo          *step;
  GwPromptInfo        *prompt;
  GwWithdrawReason     withdraw_reason;
  GwEntityInfo        *entity;
  GError              *error;
} GwEvent;

#define GW_TYPE_EVENT (gw_event_get_type ())
GType         gw_event_get_type        (void) G_GNUC_CONST;
GwEvent      *gw_event_new             (GwEventType  type);   /* for the engine */
GwEvent      *gw_event_ref             (GwEvent     *event);
void          gw_event_unref           (GwEvent     *event);

/* Names for logs and --events json ("session", "flow_step", …). */
const char   *gw_event_type_to_string  (GwEventType    type);
const char   *gw_step_to_string        (GwStep         step);   /* "1" "2" "3a" "3b-d" "3e" "4a" … "5b" */
const char   *gw_step_outcome_to_string (GwStepOutcome outcome);
const char   *gw_session_state_to_string (GwSessionState state);
const char   *gw_entity_state_to_string (GwEntityState state);
const char   *gw_tls_failure_to_string  (GwTlsFailureClass failure);  /* "expired" … NULL for NONE */
/* One JSON object on one line (for cpns-gatewayd --events json). Holds no secret. */
char         *gw_event_to_json         (const GwEvent *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwEvent, gw_event_unref)

G_END_DECLS
