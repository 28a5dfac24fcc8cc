/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-engine"

#include "config.h"

#include "gw-clock.h"

typedef struct
{
  guint       id;
  gint64      due;      /* µs */
  guint       interval; /* ms */
  GSourceFunc func;
  gpointer    data;
} FakeTimer;

struct _GwClock
{
  GMainContext *context;   /* real clock */
  gboolean      fake;
  gint64        now;       /* fake clock */
  GList        *timers;    /* fake clock: FakeTimer, unsorted */
  guint         next_id;
};

GwClock *
gw_clock_new_real (GMainContext *context)
{
  GwClock *clock = g_new0 (GwClock, 1);

  clock->context = context ? g_main_context_ref (context) : NULL;
  return clock;
}

GwClock *
gw_clock_new_fake (gint64 start_us)
{
  GwClock *clock = g_new0 (GwClock, 1);

  clock->fake = TRUE;
  clock->now = start_us;
  clock->next_id = 1;
  return clock;
}

void
gw_clock_free (GwClock *clock)
{
  if (clock == NULL)
    return;
  g_list_free_full (clock->timers, g_free);
  g_clear_pointer (&clock->context, g_main_context_unref);
  g_free (clock);
}

gboolean
gw_clock_is_fake (GwClock *clock)
{
  return clock->fake;
}

gint64
gw_clock_now (GwClock *clock)
{
  return clock->fake ? clock->now : g_get_real_time ();
}

guint
gw_clock_add_timeout (GwClock     *clock,
                      guint        ms,
                      GSourceFunc  func,
                      gpointer     data)
{
  if (clock->fake)
    {
      FakeTimer *t = g_new0 (FakeTimer, 1);

      t->id = clock->next_id++;
      t->due = clock->now + (gint64) ms * 1000;
      t->interval = ms;
      t->func = func;
      t->data = data;
      clock->timers = g_list_append (clock->timers, t);
      return t->id;
    }
  else
    {
      g_autoptr(GSource) source = g_timeout_source_new (ms);
      GMainContext *context = clock->context ? clock->context : g_main_context_get_thread_default ();

      g_source_set_callback (source, func, data, NULL);
      return g_source_attach (source, context);
    }
}

void
gw_clock_remove (GwClock *clock,
                 guint    id)
{
  if (id == 0)
    return;
  if (clock->fake)
    {
      for (GList *l = clock->timers; l; l = l->next)
        {
          FakeTimer *t = l->data;

          if (t->id == id)
            {
              clock->timers = g_list_delete_link (clock->timers, l);
              g_free (t);
              return;
            }
        }
    }
  else
    {
      GMainContext *context = clock->context ? clock->context : g_main_context_get_thread_default ();
      GSource *source = g_main_context_find_source_by_id (context, id);

      if (source)
        g_source_destroy (source);
    }
}

static FakeTimer *
next_due (GwClock *clock,
          gint64   until)
{
  FakeTimer *best = NULL;

  for (GList *l = clock->timers; l; l = l->next)
    {
      FakeTimer *t = l->data;

      if (t->due <= until && (best == NULL || t->due < best->due ||
                              (t->due == best->due && t->id < best->id)))
        best = t;
    }
  return best;
}

void
gw_clock_advance (GwClock *clock,
                  guint    ms)
{
  gint64 until;
  FakeTimer *t;

  g_return_if_fail (clock->fake);
  until = clock->now + (gint64) ms * 1000;
  while ((t = next_due (clock, until)) != NULL)
    {
      guint id = t->id;

      clock->now = t->due;
      clock->timers = g_list_remove (clock->timers, t);
      if (t->func (t->data) == G_SOURCE_CONTINUE)
        {
          /* Re-arm under the same id. */
          t->due = clock->now + (gint64) t->interval * 1000;
          t->id = id;
          clock->timers = g_list_append (clock->timers, t);
        }
      else
        g_free (t);
    }
  clock->now = until;
}
