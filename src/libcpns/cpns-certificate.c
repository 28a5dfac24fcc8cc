/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-tls.h"
#include "cpns-tls-private.h"

/*
 * A self-signed ECDSA P-256 certificate with its private key. It also
 * keeps the GnuTLS server credentials built from the pair, shared by every
 * server channel that presents it (they are read-only once built).
 */
struct _CpnsCertificate
{
  gatomicrefcount                   ref_count;
  gnutls_x509_crt_t                 crt;
  gnutls_x509_privkey_t             key;
  gnutls_certificate_credentials_t  server_cred;
  char                             *sha256;
};

G_DEFINE_BOXED_TYPE (CpnsCertificate, cpns_certificate,
                     cpns_certificate_ref, cpns_certificate_unref)

static gboolean
gnutls_fail (int          ret,
             const char  *what,
             GError     **error)
{
  if (ret >= 0)
    return FALSE;
  g_set_error (error, CPNS_ERROR, CPNS_ERROR_INTERNAL,
               "internal: %s: %s", what, gnutls_strerror (ret));
  return TRUE;
}

static CpnsCertificate *
certificate_finish (gnutls_x509_crt_t       crt,
                    gnutls_x509_privkey_t   key,
                    GError                **error)
{
  CpnsCertificate *self;
  gnutls_datum_t der = { NULL, 0 };
  int ret;

  self = g_new0 (CpnsCertificate, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->crt = crt;
  self->key = key;

  ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der);
  if (gnutls_fail (ret, "exporting the certificate", error))
    goto fail;
  self->sha256 = cpns_sha256_hex (der.data, der.size);
  gnutls_free (der.data);

  ret = gnutls_certificate_allocate_credentials (&self->server_cred);
  if (gnutls_fail (ret, "allocating credentials", error))
    goto fail;
  ret = gnutls_certificate_set_x509_key (self->server_cred, &self->crt, 1,
                                         self->key);
  if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: the private key does not belong to the certificate");
      goto fail;
    }
  if (gnutls_fail (ret, "setting the certificate key", error))
    goto fail;

  return self;

fail:
  cpns_certificate_unref (self);
  return NULL;
}

CpnsCertificate *
cpns_certificate_generate (const char  *common_name,
                           guint        valid_days,
                           GError     **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  guint8 serial[16];
  time_t now = time (NULL);
  int ret;

  g_return_val_if_fail (common_name != NULL && *common_name != '\0', NULL);
  g_return_val_if_fail (valid_days > 0, NULL);

  ret = gnutls_x509_privkey_init (&key);
  if (gnutls_fail (ret, "key init", error))
    goto fail;
  ret = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                      0);
  if (gnutls_fail (ret, "generating an ECDSA P-256 key", error))
    goto fail;

  ret = gnutls_x509_crt_init (&crt);
  if (gnutls_fail (ret, "certificate init", error))
    goto fail;

  cpns_random_nonce (serial, sizeof serial);
  serial[0] &= 0x7f;   /* a positive INTEGER */
  serial[0] |= 0x01;   /* and no leading zero octet */

  if (gnutls_fail (gnutls_x509_crt_set_version (crt, 3), "version", error) ||
      gnutls_fail (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), "serial", error) ||
      gnutls_fail (gnutls_x509_crt_set_activation_time (crt, now - 3600), "activation", error) ||
      gnutls_fail (gnutls_x509_crt_set_expiration_time (crt, now + (time_t) valid_days * 86400),
                   "expiration", error) ||
      gnutls_fail (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                                  common_name, strlen (common_name)),
                   "common name", error) ||
      gnutls_fail (gnutls_x509_crt_set_key (crt, key), "public key", error) ||
      gnutls_fail (gnutls_x509_crt_set_basic_constraints (crt, 0, -1), "constraints", error) ||
      gnutls_fail (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE),
                   "key usage", error) ||
      gnutls_fail (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME,
                                                         common_name, strlen (common_name),
                                                         GNUTLS_FSAN_SET),
                   "subject alt name", error) ||
      gnutls_fail (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0),
                   "self-signing", error))
    goto fail;

  return certificate_finish (crt, key, error);

fail:
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return NULL;
}

CpnsCertificate *
cpns_certificate_new_from_pem (const char  *cert_pem,
                               const char  *key_pem,
                               GError     **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t d;
  int ret;

  g_return_val_if_fail (cert_pem != NULL, NULL);
  g_return_val_if_fail (key_pem != NULL, NULL);

  if (gnutls_fail (gnutls_x509_crt_init (&crt), "certificate init", error) ||
      gnutls_fail (gnutls_x509_privkey_init (&key), "key init", error))
    goto fail;

  d.data = (unsigned char *) cert_pem;
  d.size = strlen (cert_pem);
  ret = gnutls_x509_crt_import (crt, &d, GNUTLS_X509_FMT_PEM);
  if (ret < 0)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: not a PEM certificate: %s", gnutls_strerror (ret));
      goto fail;
    }

  d.data = (unsigned char *) key_pem;
  d.size = strlen (key_pem);
  ret = gnutls_x509_privkey_import2 (key, &d, GNUTLS_X509_FMT_PEM, NULL,
                                     GNUTLS_PKCS_PLAIN);
  if (ret < 0)
    {
      g_set_error (error, CPNS_ERROR, CPNS_ERROR_BAD_REQUEST,
                   "bad_request: not a PEM private key: %s", gnutls_strerror (ret));
      goto fail;
    }

  return certificate_finish (crt, key, error);

fail:
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return NULL;
}

CpnsCertificate *
cpns_certificate_ref (CpnsCertificate *cert)
{
  g_return_val_if_fail (cert != NULL, NULL);

  g_atomic_ref_count_inc (&cert->ref_count);
  return cert;
}

void
cpns_certificate_unref (CpnsCertificate *cert)
{
  g_return_if_fail (cert != NULL);

  if (!g_atomic_ref_count_dec (&cert->ref_count))
    return;

  if (cert->server_cred != NULL)
    gnutls_certificate_free_credentials (cert->server_cred);
  if (cert->crt != NULL)
    gnutls_x509_crt_deinit (cert->crt);
  if (cert->key != NULL)
    gnutls_x509_privkey_deinit (cert->key);   /* GnuTLS zeroes key material */
  g_free (cert->sha256);
  g_free (cert);
}

char *
cpns_certificate_dup_cert_pem (CpnsCertificate *cert)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;

  g_return_val_if_fail (cert != NULL, NULL);

  if (gnutls_x509_crt_export2 (cert->crt, GNUTLS_X509_FMT_PEM, &out) < 0)
    return NULL;
  pem = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

char *
cpns_certificate_dup_key_pem (CpnsCertificate *cert)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;

  g_return_val_if_fail (cert != NULL, NULL);

  if (gnutls_x509_privkey_export2_pkcs8 (cert->key, GNUTLS_X509_FMT_PEM, NULL,
                                         GNUTLS_PKCS_PLAIN, &out) < 0)
    return NULL;
  pem = g_strndup ((const char *) out.data, out.size);
  cpns_wipe (out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

const char *
cpns_certificate_get_sha256 (CpnsCertificate *cert)
{
  g_return_val_if_fail (cert != NULL, NULL);

  return cert->sha256;
}

gnutls_certificate_credentials_t
cpns_certificate_get_server_credentials (CpnsCertificate *cert)
{
  return cert->server_cred;
}
