/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Time and timers for the engine's state machines. The real clock uses
 * the wall clock and GSources on the engine's context; the fake clock
 * lets unit tests advance time by hand and fires due timers in order. */
typedef struct _GwClock GwClock;

GwClock  *gw_clock_new_real     (GMainContext *context);
GwClock  *gw_clock_new_fake     (gint64        start_us);
void      gw_clock_free         (GwClock      *clock);
/* Unix µs. */
gint64    gw_clock_now          (GwClock      *clock);
/* One-shot unless @func returns G_SOURCE_CONTINUE. Never returns 0. */
guint     gw_clock_add_timeout  (GwClock      *clock,
                                 guint         ms,
                                 GSourceFunc   func,
                                 gpointer      data);
void      gw_clock_remove       (GwClock      *clock,
                                 guint         id);
/* Fake clock only: moves time on by @ms, firing due timers. */
void      gw_clock_advance      (GwClock      *clock,
                                 guint         ms);
gboolean  gw_clock_is_fake      (GwClock      *clock);

/* Convenience: removes *@id if set and zeroes it. */
static inline void
gw_clock_clear (GwClock *clock,
                guint   *id)
{
  if (*id != 0)
    gw_clock_remove (clock, *id);
  *id = 0;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GwClock, gw_clock_free)

G_END_DECLS
