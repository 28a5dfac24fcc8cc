/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "srv-time.h"

gint64
srv_now (void)
{
  return g_get_real_time ();
}

char *
srv_time_format (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

gboolean
srv_time_parse (const char *text,
                gint64     *out_usec)
{
  g_autoptr(GDateTime) dt = NULL;

  if (text == NULL || strlen (text) > 64)
    return FALSE;
  dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return FALSE;
  *out_usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC;
  return TRUE;
}

#define SEC(x) ((gint64) (x) * G_USEC_PER_SEC)

static void
apply_override (SrvTimings *t,
                const char *name,
                gint64      value)
{
  struct { const char *name; gint64 *field; } table[] = {
    { "challenge", &t->challenge_ttl },
    { "session", &t->session_ttl },
    { "auth", &t->auth_ttl },
    { "approval", &t->approval_ttl },
    { "pne_session", &t->pne_session_ttl },
    { "enrollment", &t->enrollment_ttl },
    { "pending", &t->pending_ttl },
    { "lockout", &t->pne_lock_window },
    { "enroll_lockout", &t->enroll_lock_window },
    { "expiring", &t->expiring_notice },
    { "purge", &t->purge_interval },
    { "handshake", &t->conn_handshake },
    { "idle", &t->conn_idle },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (table); i++)
    if (strcmp (table[i].name, name) == 0)
      {
        *table[i].field = value;
        if (table[i].field == &t->pne_lock_window)
          t->pne_lock_duration = value;
        return;
      }
  g_message ("CPNS_SERVER_TEST_TIMINGS: unknown name '%s' ignored", name);
}

const SrvTimings *
srv_timings_get (void)
{
  static SrvTimings timings;
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      const char *env = g_getenv ("CPNS_SERVER_TEST_TIMINGS");

      timings.challenge_ttl = SEC (60);
      timings.session_ttl = SEC (3600);
      timings.auth_ttl = SEC (60);
      timings.approval_ttl = SEC (120);
      timings.pne_session_ttl = SEC (24 * 3600);
      timings.enrollment_ttl = SEC (24 * 3600);
      timings.pending_ttl = SEC (300);
      timings.pne_lock_window = SEC (300);
      timings.pne_lock_duration = SEC (300);
      timings.enroll_lock_window = SEC (600);
      timings.expiring_notice = SEC (300);
      timings.purge_interval = SEC (30);
      timings.conn_handshake = SEC (10);
      timings.conn_idle = SEC (90);

      if (env != NULL && *env != '\0')
        {
          g_auto(GStrv) parts = g_strsplit (env, ",", -1);

          g_message ("CPNS_SERVER_TEST_TIMINGS is set: protocol durations are shortened (tests only)");
          for (guint i = 0; parts[i] != NULL; i++)
            {
              g_auto(GStrv) kv = g_strsplit (parts[i], "=", 2);
              double seconds;
              char *end = NULL;

              if (kv[0] == NULL || kv[1] == NULL)
                continue;
              seconds = g_ascii_strtod (kv[1], &end);
              if (end == kv[1] || *end != '\0' || seconds <= 0 || seconds > 1e7)
                continue;
              apply_override (&timings, g_strstrip (kv[0]), (gint64) (seconds * G_USEC_PER_SEC));
            }
        }
      g_once_init_leave (&initialised, 1);
    }
  return &timings;
}
