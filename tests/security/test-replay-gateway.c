/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Security (issue 7, item 4) at the gateway: a raw CPNS-1 client runs one
 * full connection setup (§4.5) as a paired PNE, computing every proof with
 * libcpns, and captures its frames; then replays them on new connections,
 * before and after restarting cpns-gatewayd:
 *  - the whole first connection verbatim (old auth_id): bad_request;
 *  - the old pne_proof under the new auth_id: auth_failed;
 *  - the old session_key_confirm MAC (bound to the first TLS session) after
 *    a fresh authorization: auth_failed.
 * 100% must be rejected, and a fresh setup must still succeed. */
#include "config.h"

#include <string.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "gw-test-fixture.h"
#include "sec-tls-client.h"

static Fixture fx;
static char   *pne_id, *pn_id;
static guint8  euk[32];

typedef struct
{
  char   *setup_request;
  char   *auth_response;
  char   *key_confirm;
  char   *auth_id;
  guint8  nonce_p[16];
} Capture;

static JsonObject *
parse (const char *frame)
{
  g_autoptr(JsonNode) node = frame ? json_from_string (frame, NULL) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_ref (json_node_get_object (node));
}

/* Next frame that is not a ping or authorization_pending. */
static JsonObject *
next_frame (SecTls *tls)
{
  for (;;)
    {
      g_autofree char *frame = sec_tls_read_frame (tls, 20000);
      JsonObject *o = parse (frame);
      const char *type;

      if (o == NULL)
        return NULL;
      type = json_object_get_string_member_with_default (o, "type", "");
      if (!g_str_equal (type, "ping") && !g_str_equal (type, "authorization_pending"))
        return o;
      json_object_unref (o);
    }
}

static const char *
type_of (JsonObject *o)
{
  return o ? json_object_get_string_member_with_default (o, "type", "(none)") : "(closed)";
}

static const char *
code_of (JsonObject *o)
{
  return o ? json_object_get_string_member_with_default (o, "code", NULL) : NULL;
}

static char *
b64 (const guint8 *data,
     gsize         len)
{
  return cpns_base64url_encode (data, len);
}

/* A connection up to auth_challenge; returns it with the challenge. */
static SecTls *
open_setup (const guint8  nonce_p[16],
            char        **out_request,
            JsonObject  **out_challenge)
{
  SecTls *tls = sec_tls_connect (fx.gw->port);
  g_autofree char *nonce_text = b64 (nonce_p, 16);
  char *req = g_strdup_printf ("{\"v\":1,\"type\":\"connection_setup_request\",\"pne_id\":\"%s\",\"pn_id\":\"%s\","
                               "\"nonce_p\":\"%s\"}", pne_id, pn_id, nonce_text);

  g_assert_true (sec_tls_handshake (tls, NULL));
  g_assert_true (sec_tls_send_frame (tls, req));
  *out_challenge = next_frame (tls);
  g_assert_cmpstr (type_of (*out_challenge), ==, "auth_challenge");
  if (out_request)
    *out_request = req;
  else
    g_free (req);
  return tls;
}

static char *
auth_response (JsonObject   *challenge,
               const guint8  nonce_p[16],
               const char   *auth_id_override,
               const guint8 *proof_override)
{
  guint8 nonce_s[16], proof[32];
  g_autofree char *proof_text = NULL;
  const char *auth_id = json_object_get_string_member (challenge, "auth_id");

  g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (challenge, "nonce_s"), nonce_s, 16));
  cpns_pne_auth_proof (euk, pne_id, json_object_get_string_member (challenge, "gateway_id"), nonce_s, nonce_p,
                       proof);
  proof_text = b64 (proof_override ? proof_override : proof, 32);
  return g_strdup_printf ("{\"v\":1,\"type\":\"auth_response\",\"auth_id\":\"%s\",\"pne_proof\":\"%s\"}",
                          auth_id_override ? auth_id_override : auth_id, proof_text);
}

/* Sends the PNE's session confirmation (or @mac_override) after an allow. */
static JsonObject *
confirm (SecTls       *tls,
         JsonObject   *challenge,
         JsonObject   *result,
         const guint8  nonce_p[16],
         const char   *mac_override,
         char        **out_frame)
{
  guint8 nonce_s[16], key[32], e[32], mac[32];
  g_autofree char *mac_text = NULL;
  const char *session_id = json_object_get_string_member (result, "session_id");
  char *frame;

  g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (challenge, "nonce_s"), nonce_s, 16));
  cpns_session_key (euk, nonce_p, nonce_s, pne_id, json_object_get_string_member (challenge, "gateway_id"),
                    session_id, key);
  g_assert_true (sec_tls_export (tls, CPNS_EXPORTER_SESSION_BINDING, e));
  cpns_pne_session_confirm (key, session_id, e, mac);
  cpns_wipe (key, 32);
  mac_text = b64 (mac, 32);
  frame = g_strdup_printf ("{\"v\":1,\"type\":\"session_key_confirm\",\"mac\":\"%s\"}",
                           mac_override ? mac_override : mac_text);
  g_assert_true (sec_tls_send_frame (tls, frame));
  if (out_frame)
    *out_frame = frame;
  else
    g_free (frame);
  return next_frame (tls);
}

/* One legitimate setup; with @capture, its frames are kept. */
static void
full_setup (Capture *capture)
{
  guint8 nonce_p[16];
  g_autoptr(JsonObject) challenge = NULL;
  g_autoptr(JsonObject) result = NULL;
  g_autoptr(JsonObject) ack = NULL;
  g_autoptr(JsonObject) complete = NULL;
  g_autoptr(SecTls) tls = NULL;
  g_autofree char *request = NULL;
  g_autofree char *response = NULL;
  g_autofree char *key_confirm = NULL;

  cpns_random_nonce (nonce_p, 16);
  tls = open_setup (nonce_p, &request, &challenge);
  response = auth_response (challenge, nonce_p, NULL, NULL);
  g_assert_true (sec_tls_send_frame (tls, response));
  result = next_frame (tls);
  g_assert_cmpstr (type_of (result), ==, "authorization_result");
  ack = confirm (tls, challenge, result, nonce_p, NULL, &key_confirm);
  g_assert_cmpstr (type_of (ack), ==, "session_key_confirm_ack");
  complete = next_frame (tls);
  g_assert_cmpstr (type_of (complete), ==, "connection_setup_complete");
  if (capture)
    {
      capture->setup_request = g_steal_pointer (&request);
      capture->auth_response = g_steal_pointer (&response);
      capture->key_confirm = g_steal_pointer (&key_confirm);
      capture->auth_id = g_strdup (json_object_get_string_member (challenge, "auth_id"));
      memcpy (capture->nonce_p, nonce_p, 16);
    }
}

static void
replays (Capture    *c,
         const char *when,
         guint      *sent,
         guint      *rejected)
{
  /* 1. The first connection verbatim: same request (same nonce_p), the
   *    old auth_response. */
  {
    g_autoptr(SecTls) tls = sec_tls_connect (fx.gw->port);
    g_autoptr(JsonObject) challenge = NULL;
    g_autoptr(JsonObject) answer = NULL;

    g_assert_true (sec_tls_handshake (tls, NULL));
    g_assert_true (sec_tls_send_frame (tls, c->setup_request));
    challenge = next_frame (tls);
    g_assert_cmpstr (type_of (challenge), ==, "auth_challenge");
    g_assert_cmpstr (json_object_get_string_member (challenge, "auth_id"), !=, c->auth_id);
    g_assert_true (sec_tls_send_frame (tls, c->auth_response));
    answer = next_frame (tls);
    (*sent)++;
    if (g_strcmp0 (code_of (answer), "bad_request") == 0)
      (*rejected)++;
    else
      g_test_message ("%s: verbatim replay answered %s %s", when, type_of (answer), code_of (answer));
  }
  /* 2. The old proof under the new auth_id. */
  {
    g_autoptr(JsonObject) challenge = NULL;
    g_autoptr(JsonObject) answer = NULL;
    g_autoptr(JsonObject) old = parse (c->auth_response);
    guint8 nonce_p[16], old_proof[32];
    g_autoptr(SecTls) tls = NULL;
    g_autofree char *response = NULL;

    cpns_random_nonce (nonce_p, 16);
    tls = open_setup (nonce_p, NULL, &challenge);
    g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (old, "pne_proof"), old_proof, 32));
    response = auth_response (challenge, nonce_p, NULL, old_proof);
    g_assert_true (sec_tls_send_frame (tls, response));
    answer = next_frame (tls);
    (*sent)++;
    if (g_strcmp0 (code_of (answer), "auth_failed") == 0)
      (*rejected)++;
    else
      g_test_message ("%s: old proof answered %s %s", when, type_of (answer), code_of (answer));
  }
  /* 3. The old session confirmation after a fresh authorization. */
  {
    g_autoptr(JsonObject) challenge = NULL;
    g_autoptr(JsonObject) result = NULL;
    g_autoptr(JsonObject) answer = NULL;
    g_autoptr(JsonObject) old = parse (c->key_confirm);
    guint8 nonce_p[16];
    g_autoptr(SecTls) tls = NULL;
    g_autofree char *response = NULL;

    cpns_random_nonce (nonce_p, 16);
    tls = open_setup (nonce_p, NULL, &challenge);
    response = auth_response (challenge, nonce_p, NULL, NULL);
    g_assert_true (sec_tls_send_frame (tls, response));
    result = next_frame (tls);
    g_assert_cmpstr (type_of (result), ==, "authorization_result");
    answer = confirm (tls, challenge, result, nonce_p, json_object_get_string_member (old, "mac"), NULL);
    (*sent)++;
    if (g_strcmp0 (code_of (answer), "auth_failed") == 0)
      (*rejected)++;
    else
      g_test_message ("%s: old session confirmation answered %s %s", when, type_of (answer), code_of (answer));
  }
}

static void
test_replay (void)
{
  Capture c = { 0 };
  guint sent = 0, rejected = 0;
  g_autofree char *gw_dir = g_build_filename (fx.dir, "gateway", NULL);
  const char *extra[] = { "--approve", "always", NULL };

  full_setup (&c);
  replays (&c, "live", &sent, &rejected);
  /* Restart the gateway (same data dir), replay again. */
  g_assert_cmpint (t_gateway_stop (fx.gw), ==, 0);
  g_clear_pointer (&fx.gw, t_gateway_free);
  fx.gw = t_gateway_start (gw_dir, extra);
  replays (&c, "after restart", &sent, &rejected);
  /* Legitimate use still works. */
  full_setup (NULL);

  g_print ("# FIGURE replay (gateway, CPNS-1): %u/%u rejected (live and after a restart)\n", rejected, sent);
  g_assert_cmpuint (rejected, ==, sent);
  g_free (c.setup_request);
  g_free (c.auth_response);
  g_free (c.key_confirm);
  g_free (c.auth_id);
}

int
main (int   argc,
      char *argv[])
{
  const char *extra[] = { "--confirm-pairing", "always", "--approve", "always", NULL };
  g_autofree char *euk_text = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  gnutls_global_init ();
  fixture_start (&fx, extra);
  g_assert_cmpint (pne_pair (&fx, fx.pne_dir), ==, 0);
  pne_id = t_pne_credential (fx.pne_dir, "pne_id");
  pn_id = t_pne_credential (fx.pne_dir, "pn_id");
  euk_text = t_pne_credential (fx.pne_dir, "euk");
  g_assert_true (cpns_base64url_decode_exact (euk_text, euk, 32));
  cpns_wipe (euk_text, strlen (euk_text));

  g_test_add_func ("/security/gateway/replay", test_replay);
  ret = g_test_run ();

  cpns_wipe (euk, 32);
  g_free (pne_id);
  g_free (pn_id);
  fixture_stop (&fx);
  return ret;
}
