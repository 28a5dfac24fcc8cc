/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "gw-core.h"

G_BEGIN_DECLS

/*
 * GwServerSession: the CPNS-2 client (PROTOCOL.md §5) on one SoupSession:
 * enrollment, the step-1 session (challenge, proof, server proof), token
 * refresh before expiry, reconnection with exponential back-off and
 * jitter (capped at 5 min), the events WebSocket, and authenticated calls
 * that establish a session first when there is none (trigger II).
 * A pin, when set, is enforced on every TLS connection.
 */

typedef void (*GwApiFunc)   (CpnsMessage  *reply,   /* NULL on error or 204 */
                             const GError *error,
                             gpointer      user_data);
typedef void (*GwReadyFunc) (const GError *error,
                             gpointer      user_data);

GwServerSession *gw_server_session_new        (GwCore          *core);
void             gw_server_session_free       (GwServerSession *session);
/* Re-reads the enrollment of @core (server URL, pin). */
void             gw_server_session_configure  (GwServerSession *session);
GwSessionState   gw_server_session_get_state  (GwServerSession *session);
/* Requests sent whose callback has not run yet (after a shutdown they
 * still come, cancelled, on later iterations of the engine's context). */
guint            gw_server_session_get_in_flight (GwServerSession *session);
GwSessionInfo   *gw_server_session_dup_info   (GwServerSession *session);
/* Trigger I. */
void             gw_server_session_connect    (GwServerSession *session);
void             gw_server_session_disconnect (GwServerSession *session);
/* Calls @func once a session exists (at once if it does), or with the
 * error of the attempt it starts. */
void             gw_server_session_ensure     (GwServerSession *session,
                                               GwReadyFunc      func,
                                               gpointer         user_data);
/* An authenticated call; @body may be NULL; @reply_kind NULL = ignore the
 * answer. A 401 renews the session once. Transport failures are
 * SERVER_UNREACHABLE (and start reconnecting). */
void             gw_server_session_call       (GwServerSession *session,
                                               const char      *method,
                                               const char      *path,
                                               CpnsMessage     *body,
                                               const char      *reply_kind,
                                               GCancellable    *cancellable,
                                               GwApiFunc        func,
                                               gpointer         user_data);
/* §5.1: POST /gateways, then the secret goes to the Secret Service. */
void             gw_server_session_enroll     (GwServerSession *session,
                                               const char      *server_url,
                                               const char      *user_id,
                                               const char      *code,
                                               const char      *pin_sha256,
                                               const char      *gateway_name,
                                               GwReadyFunc      func,
                                               gpointer         user_data);
/* Stops timers and cancels everything in flight (waiters get CANCELLED). */
void             gw_server_session_shutdown   (GwServerSession *session);

/* Back-off before attempt @attempt (1 = first retry): 1 s doubling,
 * capped at 300 s, jittered into [d/2, d] by @random01 in [0, 1). */
guint            gw_backoff_delay_ms          (guint            attempt,
                                               double           random01);

G_END_DECLS
