/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "srv-store.h"

G_BEGIN_DECLS

/*
 * SrvLimiter: counts failures per key (a pne_id, a user_id) in a sliding
 * window; @max_failures within @window locks the key for @lock_duration
 * from the failure that reached the limit.
 *
 * Checks are in memory. Every change (a failure, a lock) is also written
 * to the server's store (table lockouts), and a new limiter loads what a
 * previous run left there, so a restart neither lifts a lock nor forgets
 * the failures still in the window: srv_limiter_new_persistent() names the
 * store and the scope (the server uses "enroll" and "pne").
 * srv_limiter_new() and a NULL store keep it in memory only.
 */
typedef struct _SrvLimiter SrvLimiter;

SrvLimiter *srv_limiter_new        (guint        max_failures,
                                    gint64       window,
                                    gint64       lock_duration);
SrvLimiter *srv_limiter_new_persistent (SrvStore  *store,    /* NULL: in memory */
                                    const char  *scope,
                                    guint        max_failures,
                                    gint64       window,
                                    gint64       lock_duration);
void        srv_limiter_free       (SrvLimiter  *limiter);
/* TRUE when @key is locked at @now; *@out_retry_after in whole seconds
 * (at least 1). */
gboolean    srv_limiter_is_locked  (SrvLimiter  *limiter,
                                    const char  *key,
                                    gint64       now,
                                    gint64      *out_retry_after);
/* Records one failure; returns TRUE when it locked the key. */
gboolean    srv_limiter_fail       (SrvLimiter  *limiter,
                                    const char  *key,
                                    gint64       now);
/* Drops keys with nothing in their window (from the store too). */
void        srv_limiter_prune      (SrvLimiter  *limiter,
                                    gint64       now);
guint       srv_limiter_size       (SrvLimiter  *limiter);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SrvLimiter, srv_limiter_free)

G_END_DECLS
