/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include "srv-limiter.h"

/* More keys than this and the oldest state is pruned first. */
#define MAX_KEYS 100000

typedef struct
{
  GArray *failures;       /* gint64 times, oldest first */
  gint64  locked_until;
} Entry;

struct _SrvLimiter
{
  guint       max_failures;
  gint64      window;
  gint64      lock_duration;
  GHashTable *entries;    /* char* → Entry* */
  SrvStore   *store;      /* owned reference, or NULL */
  char       *scope;
};

static void
entry_free (Entry *entry)
{
  g_array_unref (entry->failures);
  g_free (entry);
}

static Entry *
entry_new (SrvLimiter *limiter,
           const char *key)
{
  Entry *entry = g_new0 (Entry, 1);

  entry->failures = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_hash_table_insert (limiter->entries, g_strdup (key), entry);
  return entry;
}

static void
load_one (const char   *key,
          const gint64 *failures,
          guint         n_failures,
          gint64        locked_until,
          gpointer      user_data)
{
  SrvLimiter *limiter = user_data;
  Entry *entry = entry_new (limiter, key);

  g_array_append_vals (entry->failures, failures, n_failures);
  entry->locked_until = locked_until;
}

SrvLimiter *
srv_limiter_new_persistent (SrvStore   *store,
                            const char *scope,
                            guint       max_failures,
                            gint64      window,
                            gint64      lock_duration)
{
  SrvLimiter *limiter;

  g_return_val_if_fail (max_failures > 0, NULL);
  g_return_val_if_fail (store == NULL || scope != NULL, NULL);
  limiter = g_new0 (SrvLimiter, 1);
  limiter->max_failures = max_failures;
  limiter->window = window;
  limiter->lock_duration = lock_duration;
  limiter->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) entry_free);
  if (store)
    {
      g_autoptr(GError) error = NULL;

      limiter->store = srv_store_ref (store);
      limiter->scope = g_strdup (scope);
      if (!srv_store_load_lockouts (store, scope, load_one, limiter, &error))
        g_warning ("cannot load the lockouts of %s: %s", scope, error->message);
      else if (g_hash_table_size (limiter->entries) > 0)
        g_debug ("%u lockout counters of %s loaded", g_hash_table_size (limiter->entries), scope);
    }
  return limiter;
}

SrvLimiter *
srv_limiter_new (guint  max_failures,
                 gint64 window,
                 gint64 lock_duration)
{
  return srv_limiter_new_persistent (NULL, NULL, max_failures, window, lock_duration);
}

void
srv_limiter_free (SrvLimiter *limiter)
{
  if (limiter == NULL)
    return;
  g_hash_table_unref (limiter->entries);
  g_clear_pointer (&limiter->store, srv_store_free);
  g_free (limiter->scope);
  g_free (limiter);
}

static void
save (SrvLimiter *limiter,
      const char *key,
      Entry      *entry)
{
  g_autoptr(GError) error = NULL;

  if (limiter->store == NULL)
    return;
  if (!srv_store_save_lockout (limiter->store, limiter->scope, key,
                               (const gint64 *) (gpointer) entry->failures->data,
                               entry->failures->len, entry->locked_until, &error))
    g_message ("cannot save the lockout counter of %s: %s", limiter->scope, error->message);
}

static void
drop_old (SrvLimiter *limiter,
          Entry      *entry,
          gint64      now)
{
  guint n = 0;

  while (n < entry->failures->len &&
         g_array_index (entry->failures, gint64, n) <= now - limiter->window)
    n++;
  if (n > 0)
    g_array_remove_range (entry->failures, 0, n);
}

gboolean
srv_limiter_is_locked (SrvLimiter *limiter,
                       const char *key,
                       gint64      now,
                       gint64     *out_retry_after)
{
  Entry *entry = g_hash_table_lookup (limiter->entries, key);

  if (entry == NULL || entry->locked_until <= now)
    return FALSE;
  if (out_retry_after)
    *out_retry_after = MAX (1, (entry->locked_until - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  return TRUE;
}

gboolean
srv_limiter_fail (SrvLimiter *limiter,
                  const char *key,
                  gint64      now)
{
  Entry *entry = g_hash_table_lookup (limiter->entries, key);

  gboolean locked = FALSE;

  if (entry == NULL)
    {
      if (g_hash_table_size (limiter->entries) >= MAX_KEYS)
        srv_limiter_prune (limiter, now);
      entry = entry_new (limiter, key);
    }
  drop_old (limiter, entry, now);
  g_array_append_val (entry->failures, now);
  if (entry->failures->len >= limiter->max_failures)
    {
      entry->locked_until = now + limiter->lock_duration;
      g_array_set_size (entry->failures, 0);
      locked = TRUE;
    }
  save (limiter, key, entry);
  return locked;
}

void
srv_limiter_prune (SrvLimiter *limiter,
                   gint64      now)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, limiter->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;

      drop_old (limiter, entry, now);
      if (entry->failures->len == 0 && entry->locked_until <= now)
        g_hash_table_iter_remove (&iter);
    }
  if (limiter->store)
    srv_store_prune_lockouts (limiter->store, limiter->scope, now, now - limiter->window);
}

guint
srv_limiter_size (SrvLimiter *limiter)
{
  return g_hash_table_size (limiter->entries);
}
