/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"

void
cpns_random_nonce (guint8 *out,
                   gsize   len)
{
  if (gnutls_rnd (GNUTLS_RND_NONCE, out, len) != 0)
    g_error ("gnutls_rnd failed: no source of randomness");
}

void
cpns_random_key (guint8 *out,
                 gsize   len)
{
  if (gnutls_rnd (GNUTLS_RND_KEY, out, len) != 0)
    g_error ("gnutls_rnd failed: no source of randomness");
}

gboolean
cpns_memeq_ct (const void *a,
               gsize       a_len,
               const void *b,
               gsize       b_len)
{
  if (a_len != b_len)
    return FALSE;
  return gnutls_memcmp (a, b, a_len) == 0;
}

void
cpns_wipe (void *data,
           gsize len)
{
  if (data != NULL && len > 0)
    gnutls_memset (data, 0, len);
}

void
cpns_free_secret_string (char *str)
{
  if (str == NULL)
    return;
  cpns_wipe (str, strlen (str));
  g_free (str);
}

void
cpns_enc_append (GByteArray *out,
                 const void *data,
                 gsize       len)
{
  guint8 prefix[2];

  g_return_if_fail (len <= G_MAXUINT16);

  prefix[0] = (guint8) (len >> 8);
  prefix[1] = (guint8) (len & 0xff);
  g_byte_array_append (out, prefix, 2);
  if (len > 0)
    g_byte_array_append (out, data, (guint) len);
}

static void
wipe_byte_array (GByteArray *array)
{
  cpns_wipe (array->data, array->len);
  g_byte_array_unref (array);
}

static void
mac_va (const guint8 *key,
        gsize         key_len,
        const char   *label,
        guint8        out[CPNS_MAC_LEN],
        va_list       args)
{
  GByteArray *msg = g_byte_array_new ();
  const void *data;

  cpns_enc_append (msg, label, strlen (label));
  while ((data = va_arg (args, const void *)) != NULL)
    {
      gsize len = va_arg (args, gsize);
      cpns_enc_append (msg, data, len);
    }
  if (gnutls_hmac_fast (GNUTLS_MAC_SHA256, key, key_len, msg->data, msg->len, out) != 0)
    g_error ("gnutls_hmac_fast failed");
  wipe_byte_array (msg);
}

void
cpns_mac (const guint8 *key,
          gsize         key_len,
          const char   *label,
          guint8        out[CPNS_MAC_LEN],
          ...)
{
  va_list args;

  va_start (args, out);
  mac_va (key, key_len, label, out, args);
  va_end (args);
}

void
cpns_hkdf (const guint8 *salt,
           gsize         salt_len,
           const guint8 *ikm,
           gsize         ikm_len,
           const guint8 *info,
           gsize         info_len,
           guint8        out[CPNS_KEY_LEN])
{
  guint8 prk[32];
  gnutls_datum_t d_ikm = { (unsigned char *) ikm, (unsigned) ikm_len };
  gnutls_datum_t d_salt = { (unsigned char *) salt, (unsigned) salt_len };
  gnutls_datum_t d_prk = { prk, sizeof prk };
  gnutls_datum_t d_info = { (unsigned char *) info, (unsigned) info_len };

  if (gnutls_hkdf_extract (GNUTLS_MAC_SHA256, &d_ikm, &d_salt, prk) != 0 ||
      gnutls_hkdf_expand (GNUTLS_MAC_SHA256, &d_prk, &d_info, out, CPNS_KEY_LEN) != 0)
    g_error ("gnutls_hkdf failed");
  cpns_wipe (prk, sizeof prk);
}

#define S(s) (s), strlen (s)
#define N(n) (n), (gsize) CPNS_NONCE_LEN

void
cpns_gateway_session_proof (const guint8  gateway_secret[CPNS_KEY_LEN],
                            const char   *gateway_id,
                            const guint8  nonce_s[CPNS_NONCE_LEN],
                            const guint8  nonce_g[CPNS_NONCE_LEN],
                            guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (gateway_secret, CPNS_KEY_LEN, "cpns-gw-session", out,
            S (gateway_id), N (nonce_s), N (nonce_g), NULL);
}

void
cpns_server_session_proof (const guint8  gateway_secret[CPNS_KEY_LEN],
                           const char   *gateway_id,
                           const guint8  nonce_g[CPNS_NONCE_LEN],
                           const guint8  nonce_s[CPNS_NONCE_LEN],
                           guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (gateway_secret, CPNS_KEY_LEN, "cpns-server-session", out,
            S (gateway_id), N (nonce_g), N (nonce_s), NULL);
}

void
cpns_key_confirm (const guint8  euk[CPNS_KEY_LEN],
                  const char   *pne_id,
                  const char   *key_id,
                  guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (euk, CPNS_KEY_LEN, "cpns-key-confirm", out, S (pne_id), S (key_id), NULL);
}

void
cpns_server_auth_proof (const guint8  euk[CPNS_KEY_LEN],
                        const char   *pne_id,
                        const char   *gateway_id,
                        const guint8  nonce_p[CPNS_NONCE_LEN],
                        const guint8  nonce_s[CPNS_NONCE_LEN],
                        guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (euk, CPNS_KEY_LEN, "cpns-server-auth", out,
            S (pne_id), S (gateway_id), N (nonce_p), N (nonce_s), NULL);
}

void
cpns_pne_auth_proof (const guint8  euk[CPNS_KEY_LEN],
                     const char   *pne_id,
                     const char   *gateway_id,
                     const guint8  nonce_s[CPNS_NONCE_LEN],
                     const guint8  nonce_p[CPNS_NONCE_LEN],
                     guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (euk, CPNS_KEY_LEN, "cpns-pne-auth", out,
            S (pne_id), S (gateway_id), N (nonce_s), N (nonce_p), NULL);
}

void
cpns_session_key (const guint8  euk[CPNS_KEY_LEN],
                  const guint8  nonce_p[CPNS_NONCE_LEN],
                  const guint8  nonce_s[CPNS_NONCE_LEN],
                  const char   *pne_id,
                  const char   *gateway_id,
                  const char   *session_id,
                  guint8        out[CPNS_KEY_LEN])
{
  static const char label[] = "cpns-session-key";
  guint8 salt[2 * CPNS_NONCE_LEN];
  GByteArray *info = g_byte_array_new ();

  memcpy (salt, nonce_p, CPNS_NONCE_LEN);
  memcpy (salt + CPNS_NONCE_LEN, nonce_s, CPNS_NONCE_LEN);
  cpns_enc_append (info, label, strlen (label));
  cpns_enc_append (info, pne_id, strlen (pne_id));
  cpns_enc_append (info, gateway_id, strlen (gateway_id));
  cpns_enc_append (info, session_id, strlen (session_id));
  cpns_hkdf (salt, sizeof salt, euk, CPNS_KEY_LEN, info->data, info->len, out);
  g_byte_array_unref (info);
}

void
cpns_pne_session_confirm (const guint8  session_key[CPNS_KEY_LEN],
                          const char   *session_id,
                          const guint8  exporter[CPNS_EXPORTER_LEN],
                          guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (session_key, CPNS_KEY_LEN, "cpns-pne-confirm", out,
            S (session_id), exporter, (gsize) CPNS_EXPORTER_LEN, NULL);
}

void
cpns_gw_session_confirm (const guint8  session_key[CPNS_KEY_LEN],
                         const char   *session_id,
                         const guint8  exporter[CPNS_EXPORTER_LEN],
                         guint8        out[CPNS_MAC_LEN])
{
  cpns_mac (session_key, CPNS_KEY_LEN, "cpns-gw-confirm", out,
            S (session_id), exporter, (gsize) CPNS_EXPORTER_LEN, NULL);
}

void
cpns_pairing_commitment (const guint8 exporter[CPNS_EXPORTER_LEN],
                         const guint8 n_g[CPNS_NONCE_LEN],
                         guint8       out[32])
{
  static const char label[] = "cpns-pairing-commit";
  GByteArray *msg = g_byte_array_new ();

  cpns_enc_append (msg, label, strlen (label));
  cpns_enc_append (msg, exporter, CPNS_EXPORTER_LEN);
  cpns_enc_append (msg, n_g, CPNS_NONCE_LEN);
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, msg->data, msg->len, out) != 0)
    g_error ("gnutls_hash_fast failed");
  wipe_byte_array (msg);
}

guint32
cpns_pairing_code (const guint8 exporter[CPNS_EXPORTER_LEN],
                   const guint8 n_g[CPNS_NONCE_LEN],
                   const guint8 n_p[CPNS_NONCE_LEN])
{
  guint8 mac[CPNS_MAC_LEN];
  guint32 v;

  cpns_mac (exporter, CPNS_EXPORTER_LEN, "cpns-pairing-code", mac,
            N (n_g), N (n_p), NULL);
  v = ((guint32) mac[0] << 24) | ((guint32) mac[1] << 16) | ((guint32) mac[2] << 8) | mac[3];
  cpns_wipe (mac, sizeof mac);
  return v % 1000000u;
}

char *
cpns_pairing_code_format (guint32  code,
                          gboolean for_people)
{
  code %= 1000000u;
  if (for_people)
    return g_strdup_printf ("%03u %03u", code / 1000u, code % 1000u);
  return g_strdup_printf ("%06u", code);
}

char *
cpns_sha256_hex (const void *data,
                 gsize       len)
{
  guint8 digest[32];

  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, data, len, digest) != 0)
    g_error ("gnutls_hash_fast failed");
  return cpns_hex_encode (digest, sizeof digest);
}
