/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A TLS-terminating HTTP/1.1 proxy between cpns-gatewayd and cpns-server
 * for issue 7, item 10. Towards the gateway it presents the server's own
 * certificate and key (so the gateway's pin matches); upstream it speaks
 * TLS to the real server (any certificate). It parses each request
 * (request line, headers, Content-Length body; keep-alive), names its
 * protocol step, and can fault the first request of an armed step:
 *  - FP_FAULT_500 / FP_FAULT_503: answer that status with a §2 error body
 *    (`{"error":{"code":"internal",…}}`) without forwarding;
 *  - FP_FAULT_STALL: forward nothing, answer nothing for 30 s, then close;
 *  - FP_FAULT_DROP: forward the request, pass no answer on, and cut both
 *    connections 200 ms later (the server acted on it; the gateway never
 *    hears how).
 * A WebSocket upgrade (the events channel) becomes a byte pump once its
 * request is forwarded. One thread per connection. */

typedef enum
{
  FP_FAULT_NONE,
  FP_FAULT_500,
  FP_FAULT_503,
  FP_FAULT_STALL,
  FP_FAULT_DROP,
} FpFault;

#define FP_STALL_S 30

typedef struct _FaultProxy FaultProxy;

FaultProxy *fault_proxy_new            (guint16      upstream_port,
                                        const char  *cert_path,
                                        const char  *key_path,
                                        GError     **error);
guint16     fault_proxy_get_port       (FaultProxy  *self);
/* The next request of @step (see fault_proxy_step_name) gets @fault. */
void        fault_proxy_arm            (FaultProxy  *self,
                                        FpFault      fault,
                                        const char  *step);
/* TRUE once the armed fault hit a request. */
gboolean    fault_proxy_was_hit        (FaultProxy  *self);
/* TRUE if the armed fault hit a request (and disarms). */
gboolean    fault_proxy_disarm         (FaultProxy  *self);
/* Events WebSockets currently pumped through the proxy. */
guint       fault_proxy_open_websockets (FaultProxy *self);
guint       fault_proxy_requests       (FaultProxy  *self);
guint       fault_proxy_connections    (FaultProxy  *self);
/* Ends stalls early, stops accepting, waits for the connection threads. */
void        fault_proxy_free           (FaultProxy  *self);

const char *fault_proxy_step_name      (const char  *method,
                                        const char  *path);

G_END_DECLS
