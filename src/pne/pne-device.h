/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pne-credentials.h"
#include "pne-entity.h"

G_BEGIN_DECLS

/*
 * PneDevice: one PNE, the client side of CPNS-1 (PROTOCOL.md §4), as an
 * explicit state machine driven by the thread-default GMainContext.
 *
 *   pair:    [discovery §4.2] → certificate TLS without a pin →
 *            pairing_request → commit-then-reveal (§4.3) → code →
 *            pairing_response (cert_sha256 checked, pinned) →
 *            [3a: pairing_complete] or pne_id_request → key_assignment
 *            (credentials stored durably as pending, then confirmed) →
 *            pairing_complete (credentials become valid).
 *   connect: PSK resume (§4.6) when a live session is stored, falling back
 *            to a full connection setup (§4.5) when the handshake fails;
 *            then stays connected (ping/pong, bye, error) until
 *            pne_device_disconnect() or the gateway ends it.
 *
 * Signals:
 *   "progress"     (const char *step, const char *message, JsonObject *details)
 *                  every step reached; @details never holds a secret.
 *   "pairing-code" (const char *code)  the code for people, "123 456".
 *   "disconnected" (const GError *error) a connection that
 *                  pne_device_connect_async() reported established has
 *                  ended; NULL error = a clean end (bye, disconnect).
 */
#define PNE_TYPE_DEVICE (pne_device_get_type ())
G_DECLARE_FINAL_TYPE (PneDevice, pne_device, PNE, DEVICE, GObject)

typedef struct
{
  guint reply_ms;      /* every awaited reply (§4.1: 30 s) */
  guint key_wait_ms;   /* key_assignment_request / pairing_complete (60 s) */
  guint human_ms;      /* a person's answer (120 s, plus a margin) */
  guint connect_ms;    /* TCP connect + TLS handshake */
  guint ping_ms;       /* ping interval once connected (30 s) */
  guint silence_ms;    /* drop a gateway silent this long (90 s) */
  guint discovery_ms;  /* give up discovery after this long; 0 = never */
} PneTimeouts;

PneDevice          *pne_device_new                   (const char        *state_dir);
const char         *pne_device_get_state_dir         (PneDevice         *self);

/* The descriptor of §4.4 item 1 (name, entity_type, …). Copied. */
void                pne_device_set_entity            (PneDevice         *self,
                                                      JsonObject        *entity);
const char         *pne_device_get_name              (PneDevice         *self);
/* "host:port" to pair with; NULL = discover (§4.2). */
void                pne_device_set_gateway_address   (PneDevice         *self,
                                                      const char        *host_port);
void                pne_device_add_discovery_target  (PneDevice         *self,
                                                      const char        *host_port);
void                pne_device_set_multicast         (PneDevice         *self,
                                                      gboolean           multicast);
/* When the gateway is on a loopback IPv4 address, connect from this
 * loopback source address (e.g. "127.1.0.7"): simulated devices then look
 * like devices with addresses of their own, as on a LAN, and the gateway's
 * per-address limits (§4.3) apply to each of them. */
void                pne_device_set_loopback_source   (PneDevice         *self,
                                                      const char        *address);
/* FALSE: never resume with PSK, always run a full connection setup (for
 * measurements; default TRUE). */
void                pne_device_set_resume            (PneDevice         *self,
                                                      gboolean           resume);
void                pne_device_set_discovery_interval (PneDevice        *self,
                                                      guint              interval_ms);
void                pne_device_get_timeouts          (PneDevice         *self,
                                                      PneTimeouts       *timeouts);
void                pne_device_set_timeouts          (PneDevice         *self,
                                                      const PneTimeouts *timeouts);

/* When TRUE, after showing the code the device holds everything it
 * receives until pne_device_answer_code() (a PNE with input). */
void                pne_device_set_confirm_locally   (PneDevice         *self,
                                                      gboolean           confirm);
/* FALSE sends error "rejected" and ends the pairing. */
void                pne_device_answer_code           (PneDevice         *self,
                                                      gboolean           accept);

void                pne_device_pair_async            (PneDevice         *self,
                                                      GCancellable      *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer           user_data);
gboolean            pne_device_pair_finish           (PneDevice         *self,
                                                      GAsyncResult      *result,
                                                      GError           **error);

/* Completes when connection_setup_complete has arrived (or on failure). */
void                pne_device_connect_async         (PneDevice         *self,
                                                      GCancellable      *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer           user_data);
gboolean            pne_device_connect_finish        (PneDevice         *self,
                                                      GAsyncResult      *result,
                                                      GError           **error);
/* Sends bye and closes; "disconnected" follows with a NULL error. */
void                pne_device_disconnect            (PneDevice         *self);
gboolean            pne_device_is_connected          (PneDevice         *self);
/* TRUE once the last connect used a PSK resume. */
gboolean            pne_device_get_resumed           (PneDevice         *self);

/* The credentials in use (after pair/connect), or NULL. */
const PneCredentials *pne_device_get_credentials     (PneDevice         *self);

G_END_DECLS
