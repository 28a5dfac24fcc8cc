/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The inside of PneDevice, shared by pne-device.c (plumbing, dispatch,
 * operations), pne-device-pairing.c (§4.3–4.4) and pne-device-setup.c
 * (§4.5–4.6). */

#include "cpns.h"
#include "pne-device.h"
#include "pne-discovery.h"

G_BEGIN_DECLS

/* The states of the CPNS-1 client, named after what the device waits for. */
typedef enum
{
  STATE_IDLE,
  STATE_DISCOVERING,
  STATE_CONNECTING,          /* TCP + TLS handshake */
  /* pairing, §4.3–4.4 */
  STATE_WAIT_COMMIT,
  STATE_WAIT_REVEAL,
  STATE_WAIT_PAIRING_RESPONSE,
  STATE_WAIT_PNE_ID,
  STATE_WAIT_KEY_ASSIGNMENT,
  STATE_WAIT_PAIRING_COMPLETE,
  STATE_SAVING_KEY,          /* writing credentials.pending before key_confirm */
  STATE_COMMITTING,          /* pairing_complete: credentials.pending → credentials */
  /* connection setup, §4.5 */
  STATE_WAIT_AUTH_CHALLENGE,
  STATE_WAIT_AUTHORIZATION,
  STATE_WAIT_CONFIRM_ACK,
  STATE_WAIT_SETUP_COMPLETE,
  STATE_SAVING_SESSION,      /* storing the session for resuming */
  /* resume, §4.6 */
  STATE_WAIT_RESUME_COMPLETE,
  STATE_CONNECTED,
  STATE_CLOSING,
} State;


typedef enum
{
  OP_NONE,
  OP_PAIR,
  OP_CONNECT,
} Operation;

typedef enum
{
  LOCAL_NOT_ASKED,
  LOCAL_WAITING,
  LOCAL_ACCEPTED,
} LocalAnswer;

#define APPROVAL_MARGIN_MS 15000
#define CLOSE_GRACE_MS     3000

struct _PneDevice
{
  GObject         parent_instance;

  /* configuration */
  char           *state_dir;
  JsonObject     *entity;
  char           *gateway_address;
  GPtrArray      *discovery_targets;
  gboolean        multicast;
  guint           discovery_interval_ms;
  PneTimeouts     timeouts;
  gboolean        confirm_locally;
  char           *loopback_source;   /* source address towards a loopback gateway */
  gboolean        no_resume;         /* always a full connection setup */

  /* the running operation */
  State           state;
  Operation       op;
  guint           op_generation;     /* which operation a late callback belongs to */
  GTask          *task;
  GCancellable   *cancellable;       /* internal: connect + handshake */
  GCancellable   *caller_cancellable;
  gulong          caller_cancel_id;
  guint           timer_id;
  const char     *timer_what;
  guint           discovery_timer_id;
  PneDiscovery   *discovery;
  gulong          discovery_id;
  char           *address;           /* where we connect */

  CpnsTlsChannel *channel;
  gboolean        channel_open;      /* its handshake succeeded */
  gulong          message_id;
  gulong          closed_id;
  CpnsTlsChannel *closing_channel;   /* retired, flushing its last frames */
  gulong          closing_id;
  guint           closing_timer_id;
  GError         *deferred_error;    /* task result waiting for the close */
  gboolean        deferred;
  gboolean        disconnect_pending;/* emit "disconnected" after the close */
  GError         *disconnect_error;

  /* pairing */
  PneCredentials *existing;          /* credentials held when pairing began */
  PneCredentials *pending;           /* being assembled */
  gboolean        has_credentials;
  char           *cert_seen;
  guint8          commitment[32];
  guint8          n_p[CPNS_NONCE_LEN];
  LocalAnswer     local;
  GQueue          held;              /* messages held for the local answer */
  gboolean        pending_written;

  /* connection setup / resume */
  PneCredentials *creds;
  guint8          nonce_p[CPNS_NONCE_LEN];
  guint8          nonce_s[CPNS_NONCE_LEN];
  char           *auth_id;
  char           *session_id;
  guint8          session_key[CPNS_KEY_LEN];
  gboolean        have_session_key;
  gboolean        resuming;
  gboolean        resumed;
  gboolean        connected;         /* the connect task reported success */
  guint           ping_id;
  gint64          last_heard;
  JsonObject     *connected_details; /* for the "connected" step after the save */
};

/* A credentials write on a worker thread, and the operation it was for. */
typedef struct
{
  PneDevice *self;
  guint      generation;
} PneSaveContext;

PneSaveContext *pne_save_context_new  (PneDevice      *self);
void            pne_save_context_free (PneSaveContext *context);
/* TRUE while the operation of @context is still the running one and in
 * @state. */
gboolean        pne_save_context_is_current (PneSaveContext *context,
                                             State           state);

/* pne-device.c: plumbing shared by the flows */
void        pne_device_progress            (PneDevice    *self,
                                            const char   *step,
                                            JsonObject   *details,
                                            const char   *format,
                                            ...) G_GNUC_PRINTF (4, 5);
/* Pairs of (key, string value), NULL-terminated; NULL values are skipped. */
JsonObject *pne_device_details_new         (const char   *first_key,
                                            ...) G_GNUC_NULL_TERMINATED;
gint64      pne_device_now_seconds         (void);
void        pne_device_clear_session_secret (PneDevice   *self);
void        pne_device_clear_held          (PneDevice    *self);
void        pne_device_stop_timer          (PneDevice    *self);
void        pne_device_arm_timer           (PneDevice    *self,
                                            guint         ms,
                                            const char   *what);
void        pne_device_send_message        (PneDevice    *self,
                                            CpnsMessage  *msg);
void        pne_device_finish              (PneDevice    *self,
                                            GError       *error,
                                            const GError *send);
void        pne_device_fail_literal        (PneDevice    *self,
                                            CpnsErrorCode code,
                                            gboolean      send,
                                            const char   *message);
void        pne_device_fail                (PneDevice    *self,
                                            CpnsErrorCode code,
                                            gboolean      send,
                                            const char   *format,
                                            ...) G_GNUC_PRINTF (4, 5);
gboolean    pne_device_check_id            (PneDevice    *self,
                                            CpnsMessage  *msg,
                                            const char   *field,
                                            const char   *expected);
void        pne_device_start_connection    (PneDevice    *self);
/* Ends the running operation's task (NULL error = success). Takes @error. */
void        pne_device_complete_task       (PneDevice    *self,
                                            GError       *error);
void        pne_device_handle_message      (PneDevice    *self,
                                            CpnsMessage  *msg);
void        pne_device_emit_pairing_code   (PneDevice    *self,
                                            const char   *code);

/* pne-device-pairing.c: §4.3–4.4 */
void        pne_device_handle_pairing_commit   (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_pairing_reveal   (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_pairing_response (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_pne_id_response  (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_key_assignment   (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_pairing_complete (PneDevice *self, CpnsMessage *msg);

/* pne-device-setup.c: §4.5–4.6 and staying connected */
void        pne_device_handle_auth_challenge        (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_authorization_pending (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_authorization_result  (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_confirm_ack           (PneDevice *self, CpnsMessage *msg);
void        pne_device_handle_setup_complete        (PneDevice *self, CpnsMessage *msg);
gboolean    pne_device_send_ping                    (gpointer   user_data);
void        pne_device_discard_credentials          (PneDevice *self,
                                                     const char *why);

G_END_DECLS
