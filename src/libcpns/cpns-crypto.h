/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CPNS_NONCE_LEN    16
#define CPNS_KEY_LEN      32
#define CPNS_MAC_LEN      32
#define CPNS_EXPORTER_LEN 32

#define CPNS_EXPORTER_SESSION_BINDING "EXPORTER-cpns-session-binding"
#define CPNS_EXPORTER_PAIRING         "EXPORTER-cpns-pairing"

/* Random bytes: nonces with GNUTLS_RND_NONCE, keys with GNUTLS_RND_KEY. */
void      cpns_random_nonce          (guint8       *out,
                                      gsize         len);
void      cpns_random_key            (guint8       *out,
                                      gsize         len);

/* Constant-time equality; FALSE when the lengths differ. */
gboolean  cpns_memeq_ct              (const void   *a,
                                      gsize         a_len,
                                      const void   *b,
                                      gsize         b_len);
/* Zero key material (not optimised away). */
void      cpns_wipe                  (void         *data,
                                      gsize         len);
/* g_free() after wiping strlen(str) bytes; NULL-safe. */
void      cpns_free_secret_string    (char         *str);

/* enc(x) of §3, appended to @out. */
void      cpns_enc_append            (GByteArray   *out,
                                      const void   *data,
                                      gsize         len);

/* MAC(K, label, f1, …, fn) of §3. The variadic list is pairs of
 * (const void *data, gsize len), terminated by a NULL data pointer.
 * Strings are passed with their strlen(). */
void      cpns_mac                   (const guint8 *key,
                                      gsize         key_len,
                                      const char   *label,
                                      guint8        out[CPNS_MAC_LEN],
                                      ...) G_GNUC_NULL_TERMINATED;

/* HKDF-SHA256, 32 bytes out. */
void      cpns_hkdf                  (const guint8 *salt,
                                      gsize         salt_len,
                                      const guint8 *ikm,
                                      gsize         ikm_len,
                                      const guint8 *info,
                                      gsize         info_len,
                                      guint8        out[CPNS_KEY_LEN]);

/* The values of §3's table. */
void      cpns_gateway_session_proof (const guint8  gateway_secret[CPNS_KEY_LEN],
                                      const char   *gateway_id,
                                      const guint8  nonce_s[CPNS_NONCE_LEN],
                                      const guint8  nonce_g[CPNS_NONCE_LEN],
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_server_session_proof  (const guint8  gateway_secret[CPNS_KEY_LEN],
                                      const char   *gateway_id,
                                      const guint8  nonce_g[CPNS_NONCE_LEN],
                                      const guint8  nonce_s[CPNS_NONCE_LEN],
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_key_confirm           (const guint8  euk[CPNS_KEY_LEN],
                                      const char   *pne_id,
                                      const char   *key_id,
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_server_auth_proof     (const guint8  euk[CPNS_KEY_LEN],
                                      const char   *pne_id,
                                      const char   *gateway_id,
                                      const guint8  nonce_p[CPNS_NONCE_LEN],
                                      const guint8  nonce_s[CPNS_NONCE_LEN],
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_pne_auth_proof        (const guint8  euk[CPNS_KEY_LEN],
                                      const char   *pne_id,
                                      const char   *gateway_id,
                                      const guint8  nonce_s[CPNS_NONCE_LEN],
                                      const guint8  nonce_p[CPNS_NONCE_LEN],
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_session_key           (const guint8  euk[CPNS_KEY_LEN],
                                      const guint8  nonce_p[CPNS_NONCE_LEN],
                                      const guint8  nonce_s[CPNS_NONCE_LEN],
                                      const char   *pne_id,
                                      const char   *gateway_id,
                                      const char   *session_id,
                                      guint8        out[CPNS_KEY_LEN]);
void      cpns_pne_session_confirm   (const guint8  session_key[CPNS_KEY_LEN],
                                      const char   *session_id,
                                      const guint8  exporter[CPNS_EXPORTER_LEN],
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_gw_session_confirm    (const guint8  session_key[CPNS_KEY_LEN],
                                      const char   *session_id,
                                      const guint8  exporter[CPNS_EXPORTER_LEN],
                                      guint8        out[CPNS_MAC_LEN]);
void      cpns_pairing_commitment    (const guint8  exporter[CPNS_EXPORTER_LEN],
                                      const guint8  n_g[CPNS_NONCE_LEN],
                                      guint8        out[32]);
/* The 6-digit code as a number (0…999999). */
guint32   cpns_pairing_code          (const guint8  exporter[CPNS_EXPORTER_LEN],
                                      const guint8  n_g[CPNS_NONCE_LEN],
                                      const guint8  n_p[CPNS_NONCE_LEN]);
/* "012345" (for_people = FALSE) or "012 345" (TRUE). */
char     *cpns_pairing_code_format   (guint32       code,
                                      gboolean      for_people);

/* SHA-256 of @data, lowercase hex (enrollment code hashes, fingerprints). */
char     *cpns_sha256_hex            (const void   *data,
                                      gsize         len);

G_END_DECLS
