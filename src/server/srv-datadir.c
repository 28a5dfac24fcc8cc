/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-tls.h"
#include "srv-datadir.h"
#include "srv-store.h"

char *
srv_datadir_default (void)
{
  return g_build_filename (g_get_user_data_dir (), "cpns-server", NULL);
}

char *
srv_datadir_db_path (const char *data_dir)
{
  return g_build_filename (data_dir, "cpns-server.db", NULL);
}

char *
srv_datadir_cert_path (const char *data_dir)
{
  return g_build_filename (data_dir, "server-cert.pem", NULL);
}

char *
srv_datadir_key_path (const char *data_dir)
{
  return g_build_filename (data_dir, "server-key.pem", NULL);
}

char *
srv_datadir_config_path (const char *data_dir)
{
  return g_build_filename (data_dir, "server.conf", NULL);
}

static gboolean
gnutls_failed (int          ret,
               const char  *what,
               GError     **error)
{
  if (ret >= 0)
    return FALSE;
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL, "%s: %s", what, gnutls_strerror (ret));
  return TRUE;
}

/* Writes @data to @path with @mode: temporary file, fsync, rename. */
static gboolean
write_file (const char  *path,
            const char  *data,
            gsize        len,
            int          mode,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!g_file_set_contents_full (path, data, len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 mode, &local_error))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL, "cannot write %s: %s", path,
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* The project's certificate generator (ECDSA P-256, self-signed, the
 * name as CN and DNS subject alternative name). */
static gboolean
generate_certificate (const char  *hostname,
                      char       **out_cert_pem,
                      char       **out_key_pem,
                      GError     **error)
{
  g_autoptr(CpnsCertificate) certificate = cpns_certificate_generate (hostname, 3650, error);

  if (certificate == NULL)
    return FALSE;
  *out_cert_pem = cpns_certificate_dup_cert_pem (certificate);
  *out_key_pem = cpns_certificate_dup_key_pem (certificate);
  return TRUE;
}

gboolean
srv_datadir_init (const char  *data_dir,
                  const char  *hostname,
                  const char  *url,
                  gboolean     force,
                  GError     **error)
{
  g_autofree char *db_path = srv_datadir_db_path (data_dir);
  g_autofree char *cert_path = srv_datadir_cert_path (data_dir);
  g_autofree char *key_path = srv_datadir_key_path (data_dir);
  g_autofree char *config_path = srv_datadir_config_path (data_dir);
  g_autofree char *cert_pem = NULL;
  char *key_pem = NULL;
  g_autoptr(GKeyFile) config = g_key_file_new ();
  g_autofree char *config_data = NULL;
  g_autoptr(SrvStore) store = NULL;
  gsize config_len;
  gboolean ok;

  if (!force && (g_file_test (db_path, G_FILE_TEST_EXISTS) ||
                 g_file_test (cert_path, G_FILE_TEST_EXISTS) ||
                 g_file_test (key_path, G_FILE_TEST_EXISTS)))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_CONFLICT,
                   "%s already holds a server; refusing to overwrite it "
                   "(use --force to make a new certificate; the database is kept)", data_dir);
      return FALSE;
    }
  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL, "cannot create %s: %s",
                   data_dir, g_strerror (saved));
      return FALSE;
    }

  if (!generate_certificate (hostname, &cert_pem, &key_pem, error))
    return FALSE;
  ok = write_file (key_path, key_pem, strlen (key_pem), 0600, error) &&
       write_file (cert_path, cert_pem, strlen (cert_pem), 0644, error);
  cpns_free_secret_string (key_pem);
  if (!ok)
    return FALSE;

  g_key_file_set_string (config, "server", "url", url);
  g_key_file_set_string (config, "server", "hostname", hostname);
  config_data = g_key_file_to_data (config, &config_len, NULL);
  if (!write_file (config_path, config_data, config_len, 0644, error))
    return FALSE;

  store = srv_store_open (db_path, error);
  return store != NULL;
}

char *
srv_datadir_dup_pin (const char  *data_dir,
                     GError     **error)
{
  g_autofree char *cert_path = srv_datadir_cert_path (data_dir);
  g_autofree char *pem = NULL;
  gsize len = 0;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t datum, der = { NULL, 0 };
  char *pin = NULL;

  if (!g_file_get_contents (cert_path, &pem, &len, NULL))
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_NOT_FOUND,
                   "no certificate in %s; run `cpns-server init --data-dir %s`", data_dir, data_dir);
      return NULL;
    }
  datum.data = (unsigned char *) pem;
  datum.size = len;
  if (!gnutls_failed (gnutls_x509_crt_init (&crt), "certificate", error) &&
      !gnutls_failed (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM), cert_path, error) &&
      !gnutls_failed (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der), "export", error))
    pin = cpns_sha256_hex (der.data, der.size);
  gnutls_free (der.data);
  if (crt)
    gnutls_x509_crt_deinit (crt);
  return pin;
}

char *
srv_datadir_dup_url (const char *data_dir)
{
  g_autofree char *config_path = srv_datadir_config_path (data_dir);
  g_autoptr(GKeyFile) config = g_key_file_new ();

  if (!g_key_file_load_from_file (config, config_path, G_KEY_FILE_NONE, NULL))
    return NULL;
  return g_key_file_get_string (config, "server", "url", NULL);
}
