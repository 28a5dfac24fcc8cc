/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "gw-server-session"

#include "config.h"

#include "cpns-crypto.h"
#include "gw-pinned-database.h"

struct _GwPinnedDatabase
{
  GTlsDatabase parent_instance;
  char        *pin;
};

G_DEFINE_FINAL_TYPE (GwPinnedDatabase, gw_pinned_database, G_TYPE_TLS_DATABASE)

char *
gw_certificate_sha256 (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return cpns_sha256_hex (der->data, der->len);
}

static GTlsCertificateFlags
gw_pinned_database_verify_chain (GTlsDatabase             *database,
                                 GTlsCertificate          *chain,
                                 const char               *purpose,
                                 GSocketConnectable       *identity,
                                 GTlsInteraction          *interaction,
                                 GTlsDatabaseVerifyFlags   flags,
                                 GCancellable             *cancellable,
                                 GError                  **error)
{
  GwPinnedDatabase *self = GW_PINNED_DATABASE (database);
  g_autofree char *sha = gw_certificate_sha256 (chain);

  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GDateTime) not_before = NULL;
  g_autoptr(GDateTime) not_after = NULL;

  if (sha == NULL || !cpns_memeq_ct (sha, strlen (sha), self->pin, strlen (self->pin)))
    return G_TLS_CERTIFICATE_UNKNOWN_CA;
  /* The pin replaces the CA check, not the validity period: an expired or
   * not yet valid certificate fails closed even when pinned. */
  now = g_date_time_new_now_utc ();
  not_before = g_tls_certificate_get_not_valid_before (chain);
  not_after = g_tls_certificate_get_not_valid_after (chain);
  if (not_before && g_date_time_compare (now, not_before) < 0)
    return G_TLS_CERTIFICATE_NOT_ACTIVATED;
  if (not_after && g_date_time_compare (now, not_after) > 0)
    return G_TLS_CERTIFICATE_EXPIRED;
  return 0;
}

GwTlsFailureClass
gw_tls_failure_classify (GTlsCertificateFlags  flags,
                         GTlsCertificate      *certificate,
                         gboolean              pinned)
{
  if (pinned && (flags & G_TLS_CERTIFICATE_UNKNOWN_CA))
    return GW_TLS_FAILURE_PIN_MISMATCH;
  if (flags != 0 && certificate != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autoptr(GDateTime) not_before = g_tls_certificate_get_not_valid_before (certificate);
      g_autoptr(GDateTime) not_after = g_tls_certificate_get_not_valid_after (certificate);

      if (not_after && g_date_time_compare (now, not_after) > 0)
        flags |= G_TLS_CERTIFICATE_EXPIRED;
      if (not_before && g_date_time_compare (now, not_before) < 0)
        flags |= G_TLS_CERTIFICATE_NOT_ACTIVATED;
    }
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    return GW_TLS_FAILURE_EXPIRED;
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    return GW_TLS_FAILURE_NOT_YET_VALID;
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return GW_TLS_FAILURE_WRONG_HOST;
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return GW_TLS_FAILURE_UNKNOWN_CA;
  return GW_TLS_FAILURE_HANDSHAKE;
}

static char *
format_day (gint64 unix_s)
{
  g_autoptr(GDateTime) dt = unix_s ? g_date_time_new_from_unix_utc (unix_s) : NULL;

  return dt ? g_date_time_format (dt, "%Y-%m-%d") : NULL;
}

char *
gw_tls_failure_describe (GwTlsFailureClass  failure,
                         gint64             not_before,
                         gint64             not_after,
                         const char        *detail)
{
  g_autofree char *day = NULL;

  switch (failure)
    {
    case GW_TLS_FAILURE_EXPIRED:
      day = format_day (not_after);
      return day ? g_strdup_printf ("The server's certificate expired on %s", day)
                 : g_strdup ("The server's certificate has expired");
    case GW_TLS_FAILURE_NOT_YET_VALID:
      day = format_day (not_before);
      return day ? g_strdup_printf ("The server's certificate is not valid before %s", day)
                 : g_strdup ("The server's certificate is not valid yet");
    case GW_TLS_FAILURE_WRONG_HOST:
      return g_strdup ("The server's certificate was issued for another host name");
    case GW_TLS_FAILURE_UNKNOWN_CA:
      return g_strdup ("The server's certificate is self-signed or signed by an unknown authority");
    case GW_TLS_FAILURE_PIN_MISMATCH:
      return g_strdup ("The server's certificate does not match the pin of the invitation");
    case GW_TLS_FAILURE_NONE:
    case GW_TLS_FAILURE_HANDSHAKE:
    default:
      return detail ? g_strdup_printf ("The secure connection to the server failed (%s)", detail)
                    : g_strdup ("The secure connection to the server failed");
    }
}

static void
gw_pinned_database_finalize (GObject *object)
{
  GwPinnedDatabase *self = GW_PINNED_DATABASE (object);

  g_free (self->pin);
  G_OBJECT_CLASS (gw_pinned_database_parent_class)->finalize (object);
}

static void
gw_pinned_database_class_init (GwPinnedDatabaseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GTlsDatabaseClass *database_class = G_TLS_DATABASE_CLASS (klass);

  object_class->finalize = gw_pinned_database_finalize;
  database_class->verify_chain = gw_pinned_database_verify_chain;
}

static void
gw_pinned_database_init (GwPinnedDatabase *self)
{
}

GwPinnedDatabase *
gw_pinned_database_new (const char *pin_sha256)
{
  GwPinnedDatabase *self = g_object_new (GW_TYPE_PINNED_DATABASE, NULL);

  self->pin = g_ascii_strdown (pin_sha256, -1);
  return self;
}
