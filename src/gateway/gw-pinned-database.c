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
