/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Issue 7, item 6: a man in the middle of the pairing channel (§4.3).
 *
 * Each run makes two real TLS 1.3 sessions (GnuTLS, in memory): PNE ↔
 * relay and relay ↔ GW, so each side has its own exporter P. The relay
 * plays the best strategies it has with the commit-then-reveal exchange:
 *   A. forward everything (the GW's commitment, the PNE's nonce);
 *   B. commit to the PNE with its own n_g' and send the GW its own n_p'.
 * In A the PNE's commitment check fails; in B the codes the person
 * compares match only by chance (10⁻⁶ per run). Then the relay forwards
 * the PNE's session confirmation (§4.5 step 6, bound to its TLS session)
 * to the GW: it must never verify.
 *
 *   mitm-pairing [RUNS]     (default 10000)
 *
 * Prints the figures; exits 1 if a relayed commitment was accepted, a
 * relayed confirmation verified, or more codes matched than chance allows
 * (more than 1 in 10,000 runs). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "cpns-crypto.h"
#include "cpns-tls.h"

/* An in-memory duplex pipe. */
typedef struct
{
  GByteArray *to_client;
  GByteArray *to_server;
} Pipe;

typedef struct
{
  GByteArray *in;
  GByteArray *out;
} End;

static ssize_t
end_push (gnutls_transport_ptr_t ptr,
          const void            *data,
          size_t                 len)
{
  End *e = ptr;

  g_byte_array_append (e->out, data, (guint) len);
  return (ssize_t) len;
}

static ssize_t
end_pull (gnutls_transport_ptr_t ptr,
          void                  *data,
          size_t                 len)
{
  End *e = ptr;
  gsize n = MIN (len, e->in->len);

  if (n == 0)
    {
      errno = EAGAIN;
      return -1;
    }
  memcpy (data, e->in->data, n);
  g_byte_array_remove_range (e->in, 0, (guint) n);
  return (ssize_t) n;
}

static int
end_pull_timeout (gnutls_transport_ptr_t ptr,
                  unsigned int           ms)
{
  End *e = ptr;

  return e->in->len > 0 ? 1 : 0;
}

static gnutls_certificate_credentials_t server_cred;
static gnutls_certificate_credentials_t client_cred;

/* One TLS 1.3 session over memory; both exporters out. */
static void
tls_pair (guint8 client_p[32],
          guint8 server_p[32],
          guint8 client_e[32],
          guint8 server_e[32])
{
  gnutls_session_t c, s;
  End ce, se;
  GByteArray *a = g_byte_array_new (), *b = g_byte_array_new ();
  int rc = GNUTLS_E_AGAIN, rs = GNUTLS_E_AGAIN;
  const char *label_p = CPNS_EXPORTER_PAIRING, *label_e = CPNS_EXPORTER_SESSION_BINDING;

  ce.in = a; ce.out = b;
  se.in = b; se.out = a;
  gnutls_init (&c, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  gnutls_init (&s, GNUTLS_SERVER | GNUTLS_NONBLOCK);
  gnutls_priority_set_direct (c, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);
  gnutls_priority_set_direct (s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);
  gnutls_credentials_set (c, GNUTLS_CRD_CERTIFICATE, client_cred);
  gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, server_cred);
  gnutls_transport_set_ptr (c, &ce);
  gnutls_transport_set_ptr (s, &se);
  gnutls_transport_set_push_function (c, end_push);
  gnutls_transport_set_push_function (s, end_push);
  gnutls_transport_set_pull_function (c, end_pull);
  gnutls_transport_set_pull_function (s, end_pull);
  gnutls_transport_set_pull_timeout_function (c, end_pull_timeout);
  gnutls_transport_set_pull_timeout_function (s, end_pull_timeout);
  for (int i = 0; i < 20 && (rc != 0 || rs != 0); i++)
    {
      if (rc != 0)
        rc = gnutls_handshake (c);
      if (rs != 0)
        rs = gnutls_handshake (s);
      if ((rc < 0 && gnutls_error_is_fatal (rc)) || (rs < 0 && gnutls_error_is_fatal (rs)))
        g_error ("handshake: %s / %s", gnutls_strerror (rc), gnutls_strerror (rs));
    }
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpint (rs, ==, 0);
  g_assert_cmpint (gnutls_prf_rfc5705 (c, strlen (label_p), label_p, 0, NULL, 32, (char *) client_p), ==, 0);
  g_assert_cmpint (gnutls_prf_rfc5705 (s, strlen (label_p), label_p, 0, NULL, 32, (char *) server_p), ==, 0);
  g_assert_cmpint (gnutls_prf_rfc5705 (c, strlen (label_e), label_e, 0, NULL, 32, (char *) client_e), ==, 0);
  g_assert_cmpint (gnutls_prf_rfc5705 (s, strlen (label_e), label_e, 0, NULL, 32, (char *) server_e), ==, 0);
  gnutls_deinit (c);
  gnutls_deinit (s);
  g_byte_array_unref (a);
  g_byte_array_unref (b);
}

int
main (int   argc,
      char *argv[])
{
  guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 10000;
  g_autoptr(CpnsCertificate) cert = NULL;
  g_autofree char *cert_pem = NULL;
  char *key_pem;
  gnutls_datum_t cd, kd;
  g_autoptr(GError) error = NULL;
  guint forward_accepted = 0, own_matched = 0, confirm_verified = 0, exporters_equal = 0;
  gint64 start;
  double secs;

  gnutls_global_init ();
  cert = cpns_certificate_generate ("mitm-test", 1, &error);
  g_assert_no_error (error);
  cert_pem = cpns_certificate_dup_cert_pem (cert);
  key_pem = cpns_certificate_dup_key_pem (cert);
  cd = (gnutls_datum_t) { (unsigned char *) cert_pem, strlen (cert_pem) };
  kd = (gnutls_datum_t) { (unsigned char *) key_pem, strlen (key_pem) };
  gnutls_certificate_allocate_credentials (&server_cred);
  gnutls_certificate_allocate_credentials (&client_cred);
  g_assert_cmpint (gnutls_certificate_set_x509_key_mem (server_cred, &cd, &kd, GNUTLS_X509_FMT_PEM), >=, 0);
  cpns_free_secret_string (key_pem);

  start = g_get_monotonic_time ();
  for (guint run = 0; run < runs; run++)
    {
      /* Session 1: PNE (client) ↔ relay (server). Session 2: relay
       * (client) ↔ GW (server). */
      guint8 p_pne[32], p_relay1[32], e_pne[32], e_relay1[32];
      guint8 p_relay2[32], p_gw[32], e_relay2[32], e_gw[32];
      guint8 n_g[16], n_p[16], n_g_own[16], n_p_own[16];
      guint8 commit_gw[32], commit_check[32], commit_own[32];
      guint8 session_key[32], mac_pne[32], mac_expected[32];
      guint32 code_pne, code_gw;

      tls_pair (p_pne, p_relay1, e_pne, e_relay1);
      tls_pair (p_relay2, p_gw, e_relay2, e_gw);
      g_assert_true (memcmp (p_pne, p_relay1, 32) == 0 && memcmp (p_gw, p_relay2, 32) == 0);
      if (memcmp (p_pne, p_gw, 32) == 0)
        exporters_equal++;

      /* The GW commits; the PNE draws its nonce. */
      cpns_random_nonce (n_g, 16);
      cpns_random_nonce (n_p, 16);
      cpns_pairing_commitment (p_gw, n_g, commit_gw);

      /* A: everything forwarded. The PNE checks the GW's commitment
       * against its own P when n_g is revealed. */
      cpns_pairing_commitment (p_pne, n_g, commit_check);
      if (cpns_memeq_ct (commit_check, 32, commit_gw, 32))
        forward_accepted++;

      /* B: the relay commits to the PNE with its own n_g' (before it
       * knows n_p), and gives the GW its own n_p' (before it knows n_g). */
      cpns_random_nonce (n_g_own, 16);
      cpns_random_nonce (n_p_own, 16);
      cpns_pairing_commitment (p_relay1, n_g_own, commit_own);
      cpns_pairing_commitment (p_pne, n_g_own, commit_check);
      g_assert_true (cpns_memeq_ct (commit_check, 32, commit_own, 32));   /* the PNE accepts it */
      code_pne = cpns_pairing_code (p_pne, n_g_own, n_p);
      code_gw = cpns_pairing_code (p_gw, n_g, n_p_own);
      if (code_pne == code_gw)
        own_matched++;

      /* Session confirmation relayed: the PNE's MAC is bound to session 1. */
      cpns_random_key (session_key, 32);
      cpns_pne_session_confirm (session_key, "ses-00000000000000000000000000000001", e_pne, mac_pne);
      cpns_pne_session_confirm (session_key, "ses-00000000000000000000000000000001", e_gw, mac_expected);
      if (cpns_memeq_ct (mac_pne, 32, mac_expected, 32))
        confirm_verified++;
      cpns_wipe (session_key, 32);
    }
  secs = (g_get_monotonic_time () - start) / 1e6;

  g_print ("MITM pairing: %u runs (%u TLS sessions) in %.1f s\n", runs, 2 * runs, secs);
  g_print ("  distinct exporters: %u/%u\n", runs - exporters_equal, runs);
  g_print ("  A (forward all): commitment accepted by the PNE %u/%u\n", forward_accepted, runs);
  g_print ("  B (own nonces): pairing codes matched %u/%u (expected rate 1e-6: %.4f expected)\n",
           own_matched, runs, runs / 1e6);
  g_print ("  relayed session confirmation verified %u/%u\n", confirm_verified, runs);

  gnutls_certificate_free_credentials (server_cred);
  gnutls_certificate_free_credentials (client_cred);
  gnutls_global_deinit ();
  if (forward_accepted != 0 || confirm_verified != 0 || exporters_equal != 0 || own_matched > runs / 10000)
    return 1;
  return 0;
}
