/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Times are µs since the Unix epoch (g_get_real_time()). */
gint64    srv_now          (void);
/* RFC 3339 UTC with seconds precision: "2026-11-30T18:00:00Z". */
char     *srv_time_format  (gint64       usec);
gboolean  srv_time_parse   (const char  *text,
                            gint64      *out_usec);

/*
 * Durations of the protocol, in µs. Tests may shorten them with the
 * environment variable CPNS_SERVER_TEST_TIMINGS, e.g.
 * "challenge=1,auth=1,approval=2,pending=2,lockout=3" (seconds, fractions
 * allowed). It is for tests only: never set it on a real server.
 */
typedef struct
{
  gint64 challenge_ttl;        /* session challenge, 60 s */
  gint64 session_ttl;          /* gateway session token, 1 h */
  gint64 auth_ttl;             /* authentication exchange, 60 s */
  gint64 approval_ttl;         /* waiting for the user's decision, 120 s */
  gint64 pne_session_ttl;      /* PNE session (expires_at of verify), 24 h */
  gint64 enrollment_ttl;       /* enrollment code, 24 h */
  gint64 pending_ttl;          /* pending entity purge, 5 min */
  gint64 pne_lock_window;      /* 5 bad proofs in … */
  gint64 pne_lock_duration;    /* … locked for */
  gint64 enroll_lock_window;   /* 10 bad codes in … (also the lock time) */
  gint64 expiring_notice;      /* session_expiring sent this long before */
  gint64 purge_interval;       /* how often the purge runs */
  gint64 conn_handshake;       /* a new connection: TLS handshake and first request, 10 s */
  gint64 conn_idle;            /* a connection with no request in flight, 90 s (over the
                                * gateway's 60 s pool idle timeout: the client closes first) */
} SrvTimings;

const SrvTimings *srv_timings_get (void);

G_END_DECLS
