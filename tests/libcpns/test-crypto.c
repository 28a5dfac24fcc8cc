/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every value of tests/data/vectors.json (PROTOCOL.md §3) reproduced byte
 * for byte, plus the helpers those derivations stand on. */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "cpns.h"

static JsonObject *vectors;
static JsonObject *inputs;

static void
load_vectors (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *path = g_build_filename (g_getenv ("CPNS_TEST_DATA"), "vectors.json", NULL);
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  vectors = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  inputs = json_object_get_object_member (vectors, "inputs");
}

static void
input_bytes (const char *name,
             guint8     *out,
             gsize       len)
{
  g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (inputs, name), out, len));
}

static const char *
input_string (const char *name)
{
  return json_object_get_string_member (inputs, name);
}

static void
assert_vector (const char   *name,
               const guint8 *value,
               gsize         len)
{
  g_autofree char *b64 = cpns_base64url_encode (value, len);
  g_assert_cmpstr (b64, ==, json_object_get_string_member (vectors, name));
}

static void
test_enc (void)
{
  JsonObject *ex = json_object_get_object_member (vectors, "enc_example");
  const char *label = json_object_get_string_member (ex, "label");
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree char *hex = NULL;

  cpns_enc_append (out, label, strlen (label));
  hex = cpns_hex_encode (out->data, out->len);
  g_assert_cmpstr (hex, ==, json_object_get_string_member (ex, "hex"));
}

static void
test_session_proofs (void)
{
  guint8 secret[32], nonce_s[16], nonce_g[16], out[32];

  input_bytes ("gateway_secret", secret, 32);
  input_bytes ("nonce_s", nonce_s, 16);
  input_bytes ("nonce_g", nonce_g, 16);

  cpns_gateway_session_proof (secret, input_string ("gateway_id"), nonce_s, nonce_g, out);
  assert_vector ("gateway_session_proof", out, 32);
  cpns_server_session_proof (secret, input_string ("gateway_id"), nonce_g, nonce_s, out);
  assert_vector ("server_session_proof", out, 32);
}

static void
test_entity_proofs (void)
{
  guint8 euk[32], nonce_s[16], nonce_p[16], out[32], key[32], exporter[32];
  const char *pne_id = input_string ("pne_id");
  const char *gw_id = input_string ("gateway_id");
  const char *ses_id = input_string ("session_id");
  g_autofree char *hex = NULL;

  input_bytes ("euk", euk, 32);
  input_bytes ("nonce_s", nonce_s, 16);
  input_bytes ("nonce_p", nonce_p, 16);
  input_bytes ("exporter_session_binding", exporter, 32);

  cpns_key_confirm (euk, pne_id, input_string ("key_id"), out);
  assert_vector ("key_confirm", out, 32);
  cpns_server_auth_proof (euk, pne_id, gw_id, nonce_p, nonce_s, out);
  assert_vector ("server_auth_proof", out, 32);
  cpns_pne_auth_proof (euk, pne_id, gw_id, nonce_s, nonce_p, out);
  assert_vector ("pne_auth_proof", out, 32);

  cpns_session_key (euk, nonce_p, nonce_s, pne_id, gw_id, ses_id, key);
  assert_vector ("session_key", key, 32);
  hex = cpns_hex_encode (key, 32);
  g_assert_cmpstr (hex, ==, json_object_get_string_member (vectors, "session_key_hex"));

  cpns_pne_session_confirm (key, ses_id, exporter, out);
  assert_vector ("pne_session_confirm", out, 32);
  cpns_gw_session_confirm (key, ses_id, exporter, out);
  assert_vector ("gw_session_confirm", out, 32);
}

static void
test_pairing (void)
{
  JsonArray *cases = json_object_get_array_member (vectors, "pairing");

  g_assert_cmpuint (json_array_get_length (cases), >=, 3);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      guint8 p[32], n_g[16], n_p[16], commit[32];
      g_autofree char *commit_b64 = NULL;
      g_autofree char *code = NULL;

      g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (c, "exporter_pairing"), p, 32));
      g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (c, "n_g"), n_g, 16));
      g_assert_true (cpns_base64url_decode_exact (json_object_get_string_member (c, "n_p"), n_p, 16));
      cpns_pairing_commitment (p, n_g, commit);
      commit_b64 = cpns_base64url_encode (commit, 32);
      g_assert_cmpstr (commit_b64, ==, json_object_get_string_member (c, "commitment"));
      code = cpns_pairing_code_format (cpns_pairing_code (p, n_g, n_p), FALSE);
      g_assert_cmpstr (code, ==, json_object_get_string_member (c, "code"));
    }
}

static void
test_code_format (void)
{
  g_autofree char *a = cpns_pairing_code_format (7, FALSE);
  g_autofree char *b = cpns_pairing_code_format (482913, TRUE);
  g_autofree char *c = cpns_pairing_code_format (5, TRUE);

  g_assert_cmpstr (a, ==, "000007");
  g_assert_cmpstr (b, ==, "482 913");
  g_assert_cmpstr (c, ==, "000 005");
}

static void
test_base64url (void)
{
  guint8 out[16];
  const guint8 data[] = { 0xfb, 0xff, 0xfe };
  g_autofree char *enc = cpns_base64url_encode (data, 3);
  g_autoptr(GBytes) any = NULL;

  g_assert_cmpstr (enc, ==, "-__-");
  g_assert_true (cpns_base64url_decode_exact ("ICEiIyQlJicoKSorLC0uLw", out, 16));
  g_assert_cmpuint (out[0], ==, 0x20);
  g_assert_cmpuint (out[15], ==, 0x2f);
  /* padding, wrong length, wrong alphabet, non-canonical trailing bits */
  g_assert_false (cpns_base64url_decode_exact ("ICEiIyQlJicoKSorLC0uLw==", out, 16));
  g_assert_false (cpns_base64url_decode_exact ("ICEiIyQlJicoKSorLC0uL", out, 16));
  g_assert_false (cpns_base64url_decode_exact ("ICEiIyQlJicoKSorLC0u+w", out, 16));
  g_assert_false (cpns_base64url_decode_exact ("ICEiIyQlJicoKSorLC0uLx", out, 16));
  g_assert_false (cpns_base64url_decode_exact (NULL, out, 16));
  any = cpns_base64url_decode ("aGk");
  g_assert_nonnull (any);
  g_assert_cmpuint (g_bytes_get_size (any), ==, 2);
  g_assert_null (cpns_base64url_decode ("a"));
}

static void
test_ids (void)
{
  g_autofree char *pne = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *pne2 = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *key = cpns_id_new (CPNS_ID_KEY);

  g_assert_true (cpns_id_is_valid (CPNS_ID_PNE, pne));
  g_assert_cmpstr (pne, !=, pne2);
  g_assert_cmpuint (strlen (pne), ==, 4 + 32);
  g_assert_true (cpns_id_is_valid (CPNS_ID_KEY, key));
  g_assert_cmpuint (strlen (key), ==, 4 + 16);
  g_assert_true (cpns_id_is_valid (CPNS_ID_GATEWAY, input_string ("gateway_id")));
  g_assert_false (cpns_id_is_valid (CPNS_ID_PNE, input_string ("gateway_id")));
  g_assert_false (cpns_id_is_valid (CPNS_ID_PNE, "pne-8C1E5A7F2B3D4C6E9A0B1C2D3E4F5A6B"));
  g_assert_false (cpns_id_is_valid (CPNS_ID_PNE, "pne-8c1e5a7f2b3d4c6e9a0b1c2d3e4f5a6"));
  g_assert_false (cpns_id_is_valid (CPNS_ID_KEY, "key-0123456789abcdef0"));
  g_assert_true (cpns_user_id_is_valid ("alice.home_1-x"));
  g_assert_false (cpns_user_id_is_valid ("Alice"));
  g_assert_false (cpns_user_id_is_valid (""));
}

static void
test_ct_compare (void)
{
  g_assert_true (cpns_memeq_ct ("abc", 3, "abc", 3));
  g_assert_false (cpns_memeq_ct ("abc", 3, "abd", 3));
  g_assert_false (cpns_memeq_ct ("abc", 3, "abcd", 4));
}

static void
test_error_codes (void)
{
  CpnsErrorCode code;

  for (guint i = 0; i < CPNS_ERROR_LAST_CODE; i++)
    {
      g_assert_true (cpns_error_code_from_string (cpns_error_code_to_string (i), &code));
      g_assert_cmpint (code, ==, i);
    }
  g_assert_false (cpns_error_code_from_string ("nope", &code));
  g_assert_cmpuint (cpns_error_code_http_status (CPNS_ERROR_LOCKED_OUT), ==, 429);
  g_assert_cmpuint (cpns_error_code_http_status (CPNS_ERROR_TOO_LARGE), ==, 413);
  g_assert_cmpuint (cpns_error_code_http_status (CPNS_ERROR_REVOKED), ==, 410);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  load_vectors ();

  g_test_add_func ("/crypto/enc", test_enc);
  g_test_add_func ("/crypto/session-proofs", test_session_proofs);
  g_test_add_func ("/crypto/entity-proofs", test_entity_proofs);
  g_test_add_func ("/crypto/pairing", test_pairing);
  g_test_add_func ("/crypto/code-format", test_code_format);
  g_test_add_func ("/crypto/base64url", test_base64url);
  g_test_add_func ("/crypto/ids", test_ids);
  g_test_add_func ("/crypto/ct-compare", test_ct_compare);
  g_test_add_func ("/crypto/error-codes", test_error_codes);

  return g_test_run ();
}
