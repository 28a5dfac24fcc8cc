/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Integration: a real cpns-server on loopback, driven over HTTPS as a PN
 * GW drives it (steps 1, 3, 4 and 5a), with every derivation computed here
 * independently from libcpns. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "cpns-crypto.h"
#include "cpns-ids.h"
#include "server-fixture.h"

static ServerFixture *server;       /* normal durations */
static ServerFixture *fast_server;  /* CPNS_SERVER_TEST_TIMINGS: 1-2 s */

/* ------------------------------------------------------------------ */
/* Helpers: one PNE authentication (step 4b–c) */

typedef struct
{
  char   *auth_id;
  guint8  nonce_p[16];
  guint8  nonce_s[16];
} AuthRound;

static void
auth_round_clear (AuthRound *round)
{
  g_free (round->auth_id);
}

static guint
start_auth (ServerFixture *fx,
            TestGateway   *gw,
            TestPne       *pne,
            AuthRound     *round,
            JsonObject   **out)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *nonce_text = NULL;
  JsonArray *services = json_array_new ();
  JsonObject *answer = NULL;
  guint status;

  cpns_random_nonce (round->nonce_p, sizeof round->nonce_p);
  nonce_text = test_b64 (round->nonce_p, sizeof round->nonce_p);
  json_array_add_string_element (services, "telemetry");
  json_object_set_string_member (body, "pne_id", pne->pne_id);
  json_object_set_string_member (body, "nonce_p", nonce_text);
  json_object_set_array_member (body, "requested_services", services);
  status = server_fixture_request_obj (fx, "POST", "/cpns/v1/auth", gw->token, body, &answer);
  if (status == 200)
    {
      guint8 server_proof[32], expected[32];

      server_assert_schema (answer, "api.auth.response");
      round->auth_id = g_strdup (json_object_get_string_member (answer, "auth_id"));
      g_assert_true (cpns_id_is_valid (CPNS_ID_AUTH, round->auth_id));
      test_get_bytes (answer, "nonce_s", round->nonce_s, sizeof round->nonce_s);
      /* The PNE authenticates the server (step 4c). */
      test_get_bytes (answer, "server_proof", server_proof, sizeof server_proof);
      cpns_server_auth_proof (pne->euk, pne->pne_id, gw->gateway_id, round->nonce_p,
                              round->nonce_s, expected);
      g_assert_cmpmem (server_proof, 32, expected, 32);
    }
  if (out)
    *out = answer;
  else if (answer)
    json_object_unref (answer);
  return status;
}

static guint
post_proof (ServerFixture *fx,
            TestGateway   *gw,
            const char    *auth_id,
            const guint8   proof[32],
            JsonObject   **out)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *proof_text = test_b64 (proof, 32);
  g_autofree char *path = g_strdup_printf ("/cpns/v1/auth/%s/verify", auth_id);

  json_object_set_string_member (body, "pne_proof", proof_text);
  return server_fixture_request_obj (fx, "POST", path, gw->token, body, out);
}

static guint
verify (ServerFixture *fx,
        TestGateway   *gw,
        TestPne       *pne,
        AuthRound     *round,
        JsonObject   **out)
{
  guint8 proof[32];

  cpns_pne_auth_proof (pne->euk, pne->pne_id, gw->gateway_id, round->nonce_s, round->nonce_p, proof);
  return post_proof (fx, gw, round->auth_id, proof, out);
}

static guint
decide (ServerFixture *fx,
        TestGateway   *gw,
        const char    *auth_id,
        const char    *decision,
        gboolean       remember,
        JsonObject   **out)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autofree char *path = g_strdup_printf ("/cpns/v1/auth/%s/decision", auth_id);

  json_object_set_string_member (body, "decision", decision);
  json_object_set_boolean_member (body, "remember", remember);
  return server_fixture_request_obj (fx, "POST", path, gw->token, body, out);
}

/* The allow answer carries a session key that the PNE derives alike. */
static void
assert_allow (JsonObject *answer,
              TestGateway *gw,
              TestPne    *pne,
              AuthRound  *round)
{
  const char *session_id = json_object_get_string_member (answer, "session_id");
  guint8 key[32], expected[32];
  JsonArray *granted;

  server_assert_schema (answer, "api.auth_result");
  g_assert_cmpstr (json_object_get_string_member (answer, "decision"), ==, "allow");
  g_assert_true (cpns_id_is_valid (CPNS_ID_SESSION, session_id));
  test_get_bytes (answer, "session_key", key, sizeof key);
  cpns_session_key (pne->euk, round->nonce_p, round->nonce_s, pne->pne_id, gw->gateway_id,
                    session_id, expected);
  g_assert_cmpmem (key, 32, expected, 32);
  g_assert_true (json_object_has_member (answer, "expires_at"));
  granted = json_object_get_array_member (answer, "granted_services");
  g_assert_cmpuint (json_array_get_length (granted), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (granted, 0), ==, "telemetry");
}

static const char *
rule_id_of (JsonObject *answer)
{
  JsonNode *node = json_object_get_member (answer, "rule_id");

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return json_node_get_string (node);
}

static void
put_policy (ServerFixture *fx,
            TestGateway   *gw,
            const char    *json)
{
  g_autoptr(JsonObject) answer = NULL;

  g_assert_cmpuint (server_fixture_request (fx, "PUT", "/cpns/v1/policy", gw->token, json, &answer),
                    ==, 200);
}

/* ------------------------------------------------------------------ */
/* Tests */

static void
test_healthz_and_routing (void)
{
  g_autoptr(JsonObject) answer = NULL;
  guint status;

  status = server_fixture_request (server, "GET", "/healthz", NULL, NULL, &answer);
  g_assert_cmpuint (status, ==, 200);
  server_assert_schema (answer, "api.healthz");
  g_assert_cmpstr (json_object_get_string_member (answer, "status"), ==, "ok");
  g_clear_pointer (&answer, json_object_unref);

  status = server_fixture_request (server, "GET", "/cpns/v1/nothing-here", NULL, NULL, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);

  status = server_fixture_request (server, "DELETE", "/healthz", NULL, NULL, &answer);
  g_assert_cmpuint (status, ==, 405);
  g_clear_pointer (&answer, json_object_unref);

  status = server_fixture_request (server, "GET", "/cpns/v1/auth", NULL, NULL, &answer);
  g_assert_cmpuint (status, ==, 405);
  g_clear_pointer (&answer, json_object_unref);

  /* Every authenticated resource refuses a missing or bad token. */
  status = server_fixture_request (server, "GET", "/cpns/v1/inventory", NULL, NULL, &answer);
  server_assert_error (status, answer, 401, "unauthorized");
  g_clear_pointer (&answer, json_object_unref);
  status = server_fixture_request (server, "GET", "/cpns/v1/policy",
                                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &answer);
  server_assert_error (status, answer, 401, "unauthorized");
}

static void
test_bad_input (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "badinput");
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *big = NULL;
  guint status;

  test_gateway_open_session (server, gw);

  status = server_fixture_request (server, "POST", "/cpns/v1/entities", gw->token, "{not json", &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);

  status = server_fixture_request (server, "POST", "/cpns/v1/entities", gw->token,
                                   "{\"pne_id\":\"pne-x\",\"entity\":{},\"key_assignment\":\"server\"}",
                                   &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);

  status = server_fixture_request (server, "POST", "/cpns/v1/auth", gw->token, NULL, &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);

  /* Deeper than 16 levels. */
  status = server_fixture_request (server, "PUT", "/cpns/v1/policy", gw->token,
                                   "{\"a\":[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}", &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);

  /* Bad path parameter. */
  status = server_fixture_request (server, "DELETE", "/cpns/v1/entities/pne-nothex", gw->token, NULL,
                                   &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);

  /* Over 64 KiB. */
  big = g_malloc (70000 + 1);
  memset (big, ' ', 70000);
  big[0] = '{';
  big[69999] = '}';
  big[70000] = '\0';
  status = server_fixture_request (server, "POST", "/cpns/v1/entities", gw->token, big, &answer);
  server_assert_error (status, answer, 413, "too_large");
  g_clear_pointer (&answer, json_object_unref);

  /* The server still answers. */
  status = server_fixture_request (server, "GET", "/healthz", NULL, NULL, &answer);
  g_assert_cmpuint (status, ==, 200);
}

static void
test_enrollment (void)
{
  g_autoptr(JsonNode) added = server_fixture_cli_json (server, "user", "add", "enroller", "--json", NULL);
  JsonObject *info = json_node_get_object (added);
  const char *code = json_object_get_string_member (info, "enrollment_code");
  const char *invitation = json_object_get_string_member (info, "invitation");
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *expected_pin = g_strconcat ("pin=sha256:", server->pin, NULL);
  guint status;

  g_assert_true (g_regex_match_simple ("^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$", code, 0, 0));
  g_assert_true (g_str_has_prefix (invitation, "cpns://enroll?server=https%3A%2F%2F"));
  g_assert_nonnull (strstr (invitation, "&user=enroller&"));
  g_assert_nonnull (strstr (invitation, code));
  g_assert_nonnull (strstr (invitation, expected_pin));

  json_object_set_string_member (body, "user_id", "enroller");
  json_object_set_string_member (body, "enrollment_code", "AAAA-AAAA-AAAA-AAAA");
  json_object_set_string_member (body, "gateway_name", "Living room");
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  server_assert_error (status, answer, 401, "unauthorized");
  g_clear_pointer (&answer, json_object_unref);

  json_object_set_string_member (body, "enrollment_code", code);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  g_assert_cmpuint (status, ==, 201);
  g_assert_cmpstr (json_object_get_string_member (answer, "pn_id"), ==,
                   json_object_get_string_member (info, "pn_id"));
  g_clear_pointer (&answer, json_object_unref);

  /* Single use. */
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  server_assert_error (status, answer, 401, "unauthorized");
}

static void
test_enrollment_lockout (void)
{
  g_autoptr(JsonNode) added = server_fixture_cli_json (server, "user", "add", "guessed", "--json", NULL);
  const char *code = json_object_get_string_member (json_node_get_object (added), "enrollment_code");
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  JsonObject *error;
  guint status;

  json_object_set_string_member (body, "user_id", "guessed");
  json_object_set_string_member (body, "gateway_name", "Attacker");
  json_object_set_string_member (body, "enrollment_code", "BBBB-BBBB-BBBB-BBBB");
  for (int i = 0; i < 10; i++)
    {
      status = server_fixture_request_obj (server, "POST", "/cpns/v1/gateways", NULL, body, &answer);
      server_assert_error (status, answer, 401, "unauthorized");
      g_clear_pointer (&answer, json_object_unref);
    }
  /* Locked now, even with the right code. */
  json_object_set_string_member (body, "enrollment_code", code);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  server_assert_error (status, answer, 429, "locked_out");
  error = json_object_get_object_member (answer, "error");
  g_assert_cmpint (json_object_get_int_member (error, "retry_after"), >, 0);
  g_assert_cmpint (json_object_get_int_member (error, "retry_after"), <=, 600);
}

/* Lockouts survive a restart of the real server (SIGKILL, start again):
 * a user locked out for wrong enrollment codes and a PNE locked out for
 * wrong proofs (§5) are still locked_out, with a retry_after no longer
 * than before; both windows still expire. Windows of 4 s. */
static void
test_lockout_survives_restart (void)
{
  ServerFixture *fx = server_fixture_new ("enroll_lockout=4,lockout=4");
  g_autoptr(JsonNode) added = NULL;
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(TestGateway) gw = NULL;
  g_autofree char *code = NULL;
  TestPne *pne;
  AuthRound round = { 0 };
  guint8 bad[32];
  gint64 retry_user, retry_pne, retry, killed_at;
  guint status;

  server_fixture_start (fx);
  added = server_fixture_cli_json (fx, "user", "add", "restarted", "--json", NULL);
  code = g_strdup (json_object_get_string_member (json_node_get_object (added), "enrollment_code"));
  gw = test_gateway_enroll (fx, "pne-owner");
  test_gateway_open_session (fx, gw);
  pne = test_pne_register (fx, gw, "sensor", TRUE);

  json_object_set_string_member (body, "user_id", "restarted");
  json_object_set_string_member (body, "gateway_name", "Attacker");
  json_object_set_string_member (body, "enrollment_code", "BBBB-BBBB-BBBB-BBBB");
  for (int i = 0; i < 10; i++)
    {
      status = server_fixture_request_obj (fx, "POST", "/cpns/v1/gateways", NULL, body, &answer);
      server_assert_error (status, answer, 401, "unauthorized");
      g_clear_pointer (&answer, json_object_unref);
    }
  memset (bad, 7, sizeof bad);
  for (int i = 0; i < 5; i++)
    {
      round = (AuthRound) { 0 };
      g_assert_cmpuint (start_auth (fx, gw, pne, &round, NULL), ==, 200);
      status = post_proof (fx, gw, round.auth_id, bad, &answer);
      server_assert_error (status, answer, 401, "auth_failed");
      g_clear_pointer (&answer, json_object_unref);
      auth_round_clear (&round);
    }
  json_object_set_string_member (body, "enrollment_code", code);
  status = server_fixture_request_obj (fx, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  server_assert_error (status, answer, 429, "locked_out");
  retry_user = json_object_get_int_member (json_object_get_object_member (answer, "error"), "retry_after");
  g_clear_pointer (&answer, json_object_unref);
  round = (AuthRound) { 0 };
  status = start_auth (fx, gw, pne, &round, &answer);
  server_assert_error (status, answer, 429, "locked_out");
  retry_pne = json_object_get_int_member (json_object_get_object_member (answer, "error"), "retry_after");
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);
  g_assert_cmpint (retry_user, >=, 1);
  g_assert_cmpint (retry_user, <=, 4);
  g_assert_cmpint (retry_pne, >=, 1);
  g_assert_cmpint (retry_pne, <=, 4);

  killed_at = g_get_monotonic_time ();
  server_fixture_kill (fx);
  server_fixture_start (fx);
  g_test_message ("restarted in %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - killed_at) / 1000);

  /* Still locked, even with the right code, until the same end. */
  status = server_fixture_request_obj (fx, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  if (status == 429)
    {
      server_assert_error (status, answer, 429, "locked_out");
      retry = json_object_get_int_member (json_object_get_object_member (answer, "error"), "retry_after");
      g_assert_cmpint (retry, >=, 1);
      g_assert_cmpint (retry, <=, retry_user);
    }
  else
    /* Only if the restart outlasted the lock (a very slow machine). */
    g_assert_cmpint ((g_get_monotonic_time () - killed_at) / G_USEC_PER_SEC, >=, retry_user - 1);
  g_clear_pointer (&answer, json_object_unref);
  round = (AuthRound) { 0 };
  status = start_auth (fx, gw, pne, &round, &answer);
  if (status == 429)
    {
      retry = json_object_get_int_member (json_object_get_object_member (answer, "error"), "retry_after");
      g_assert_cmpint (retry, >=, 1);
      g_assert_cmpint (retry, <=, retry_pne);
    }
  else
    g_assert_cmpint ((g_get_monotonic_time () - killed_at) / G_USEC_PER_SEC, >=, retry_pne - 1);
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);

  /* The windows still expire: then the right code enrolls and the PNE
   * may authenticate again. */
  g_usleep ((gulong) (MAX (retry_user, retry_pne) * G_USEC_PER_SEC + 300 * 1000));
  status = server_fixture_request_obj (fx, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  g_assert_cmpuint (status, ==, 201);
  g_clear_pointer (&answer, json_object_unref);
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (fx, gw, pne, &round, NULL), ==, 200);
  auth_round_clear (&round);
  test_pne_free (pne);
  server_fixture_free (fx);
}

static void
test_session (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "sessions");
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) challenge = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *nonce_text = NULL, *proof_text = NULL, *bad_text = NULL;
  guint8 nonce_s[16], nonce_g[16], proof[32];
  g_autofree char *unknown = cpns_id_new (CPNS_ID_GATEWAY);
  guint status;

  /* Unknown gateway. */
  json_object_set_string_member (body, "gateway_id", unknown);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/session/challenge", NULL, body, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);

  json_object_set_string_member (body, "gateway_id", gw->gateway_id);
  g_assert_cmpuint (server_fixture_request_obj (server, "POST", "/cpns/v1/session/challenge", NULL,
                                                body, &challenge), ==, 200);
  test_get_bytes (challenge, "nonce_s", nonce_s, sizeof nonce_s);
  cpns_random_nonce (nonce_g, sizeof nonce_g);
  nonce_text = test_b64 (nonce_g, 16);
  json_object_set_string_member (body, "challenge_id", json_object_get_string_member (challenge, "challenge_id"));
  json_object_set_string_member (body, "nonce_g", nonce_text);

  /* A wrong proof fails, and uses the challenge up. */
  memset (proof, 0x5a, sizeof proof);
  bad_text = test_b64 (proof, 32);
  json_object_set_string_member (body, "proof", bad_text);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/session", NULL, body, &answer);
  server_assert_error (status, answer, 401, "auth_failed");
  g_clear_pointer (&answer, json_object_unref);

  /* The right proof on the used challenge: replay refused. */
  cpns_gateway_session_proof (gw->secret, gw->gateway_id, nonce_s, nonce_g, proof);
  proof_text = test_b64 (proof, 32);
  json_object_set_string_member (body, "proof", proof_text);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/session", NULL, body, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);

  /* Full step 1, then the token works until DELETE. */
  test_gateway_open_session (server, gw);
  g_assert_cmpuint (server_fixture_request (server, "GET", "/cpns/v1/inventory", gw->token, NULL, &answer),
                    ==, 200);
  g_clear_pointer (&answer, json_object_unref);
  g_assert_cmpuint (server_fixture_request (server, "DELETE", "/cpns/v1/session", gw->token, NULL, NULL),
                    ==, 204);
  status = server_fixture_request (server, "GET", "/cpns/v1/inventory", gw->token, NULL, &answer);
  server_assert_error (status, answer, 401, "unauthorized");
}

static void
test_entities (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "entities");
  g_autoptr(TestGateway) other = test_gateway_enroll (server, "someone-else");
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) entity = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *key_id = cpns_id_new (CPNS_ID_KEY);
  g_autofree char *euk_text = NULL, *mac_text = NULL, *bad_mac_text = NULL;
  g_autofree char *confirm_path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pne_id);
  g_autofree char *entity_path = g_strdup_printf ("/cpns/v1/entities/%s", pne_id);
  TestPne *server_pne;
  guint8 euk[32], mac[32];
  guint status;

  test_gateway_open_session (server, gw);
  test_gateway_open_session (server, other);

  /* Server key assignment: the EUK comes back once, pending until confirmed. */
  server_pne = test_pne_register (server, gw, "sensor", TRUE);

  /* Gateway key assignment. */
  cpns_random_key (euk, sizeof euk);
  euk_text = test_b64 (euk, 32);
  json_object_set_string_member (entity, "name", "Kitchen camera");
  json_object_set_string_member (entity, "entity_type", "camera");
  json_object_set_string_member (body, "pne_id", pne_id);
  json_object_set_object_member (body, "entity", json_object_ref (entity));
  json_object_set_string_member (body, "key_assignment", "gateway");
  json_object_set_string_member (body, "key_id", key_id);
  json_object_set_string_member (body, "euk", euk_text);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/entities", gw->token, body, &answer);
  g_assert_cmpuint (status, ==, 201);
  g_assert_cmpstr (json_object_get_string_member (answer, "key_id"), ==, key_id);
  g_assert_false (json_object_has_member (answer, "euk"));
  g_assert_cmpstr (json_object_get_string_member (answer, "state"), ==, "pending");
  g_clear_pointer (&answer, json_object_unref);

  /* A second registration of the pne_id, from any PN: conflict. */
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/entities", gw->token, body, &answer);
  server_assert_error (status, answer, 409, "conflict");
  g_clear_pointer (&answer, json_object_unref);
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/entities", other->token, body, &answer);
  server_assert_error (status, answer, 409, "conflict");
  g_clear_pointer (&answer, json_object_unref);

  /* Another PN cannot see it. */
  {
    g_autoptr(JsonObject) confirm = json_object_new ();

    cpns_key_confirm (euk, pne_id, key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    status = server_fixture_request_obj (server, "POST", confirm_path, other->token, confirm, &answer);
    server_assert_error (status, answer, 404, "not_found");
    g_clear_pointer (&answer, json_object_unref);

    /* A wrong MAC. */
    memset (mac, 1, sizeof mac);
    bad_mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_confirm", bad_mac_text);
    status = server_fixture_request_obj (server, "POST", confirm_path, gw->token, confirm, &answer);
    server_assert_error (status, answer, 401, "auth_failed");
    g_clear_pointer (&answer, json_object_unref);

    /* Pending: no authentication yet. */
    {
      TestPne pending = { pne_id, key_id, { 0 } };
      AuthRound round = { 0 };

      memcpy (pending.euk, euk, 32);
      status = start_auth (server, gw, &pending, &round, &answer);
      server_assert_error (status, answer, 409, "conflict");
      g_clear_pointer (&answer, json_object_unref);
      auth_round_clear (&round);
    }

    json_object_set_string_member (confirm, "key_confirm", mac_text);
    status = server_fixture_request_obj (server, "POST", confirm_path, gw->token, confirm, &answer);
    g_assert_cmpuint (status, ==, 200);
    g_assert_cmpstr (json_object_get_string_member (answer, "state"), ==, "registered");
    g_clear_pointer (&answer, json_object_unref);

    /* Confirming again: that key is not waiting any more. */
    status = server_fixture_request_obj (server, "POST", confirm_path, gw->token, confirm, &answer);
    server_assert_error (status, answer, 409, "conflict");
    g_clear_pointer (&answer, json_object_unref);
  }

  /* Delete: 204, then the entity is revoked. */
  g_assert_cmpuint (server_fixture_request (server, "DELETE", entity_path, gw->token, NULL, NULL), ==, 204);
  status = server_fixture_request (server, "DELETE", entity_path, gw->token, NULL, &answer);
  server_assert_error (status, answer, 410, "revoked");
  g_clear_pointer (&answer, json_object_unref);
  {
    TestPne gone = { pne_id, key_id, { 0 } };
    AuthRound round = { 0 };

    status = start_auth (server, gw, &gone, &round, &answer);
    server_assert_error (status, answer, 410, "revoked");
    g_clear_pointer (&answer, json_object_unref);
    auth_round_clear (&round);
  }
  /* Re-registering a revoked pne_id is still a conflict, never an overwrite. */
  status = server_fixture_request_obj (server, "POST", "/cpns/v1/entities", gw->token, body, &answer);
  server_assert_error (status, answer, 409, "conflict");
  g_clear_pointer (&answer, json_object_unref);

  /* Unknown entity. */
  {
    g_autofree char *unknown_path = NULL;
    g_autofree char *unknown = cpns_id_new (CPNS_ID_PNE);

    unknown_path = g_strdup_printf ("/cpns/v1/entities/%s", unknown);
    status = server_fixture_request (server, "DELETE", unknown_path, gw->token, NULL, &answer);
    server_assert_error (status, answer, 404, "not_found");
    g_clear_pointer (&answer, json_object_unref);
  }

  test_pne_free (server_pne);
}

static void
test_rekey (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "rekeyer");
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) confirm = json_object_new ();
  g_autofree char *path = NULL, *confirm_path = NULL, *mac_text = NULL;
  TestPne *pne, fresh = { 0 };
  AuthRound round = { 0 };
  guint8 mac[32];
  guint status;

  test_gateway_open_session (server, gw);
  put_policy (server, gw, "{\"default_action\":\"allow\",\"rules\":[]}");
  pne = test_pne_register (server, gw, "phone", TRUE);

  path = g_strdup_printf ("/cpns/v1/entities/%s/rekey", pne->pne_id);
  status = server_fixture_request (server, "POST", path, gw->token, "{\"key_assignment\":\"server\"}", &answer);
  g_assert_cmpuint (status, ==, 201);
  fresh.pne_id = pne->pne_id;
  fresh.key_id = (char *) json_object_get_string_member (answer, "key_id");
  g_assert_cmpstr (fresh.key_id, !=, pne->key_id);
  test_get_bytes (answer, "euk", fresh.euk, 32);

  /* Until the new key is confirmed, the old one still authenticates. */
  g_assert_cmpuint (start_auth (server, gw, pne, &round, NULL), ==, 200);
  {
    g_autoptr(JsonObject) allowed = NULL;
    g_assert_cmpuint (verify (server, gw, pne, &round, &allowed), ==, 200);
    assert_allow (allowed, gw, pne, &round);
  }
  auth_round_clear (&round);

  cpns_key_confirm (fresh.euk, fresh.pne_id, fresh.key_id, mac);
  mac_text = test_b64 (mac, 32);
  json_object_set_string_member (confirm, "key_id", fresh.key_id);
  json_object_set_string_member (confirm, "key_confirm", mac_text);
  confirm_path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pne->pne_id);
  g_assert_cmpuint (server_fixture_request_obj (server, "POST", confirm_path, gw->token, confirm, NULL), ==, 200);

  /* Now the old key fails and the new one works. The old key's proof
   * reaches verify (the server proof it gets is under the new key). */
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, &fresh, &round, NULL), ==, 200);
  {
    g_autoptr(JsonObject) failed = NULL;
    guint8 old_proof[32];

    cpns_pne_auth_proof (pne->euk, pne->pne_id, gw->gateway_id, round.nonce_s, round.nonce_p, old_proof);
    status = post_proof (server, gw, round.auth_id, old_proof, &failed);
    server_assert_error (status, failed, 401, "auth_failed");
  }
  auth_round_clear (&round);
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, &fresh, &round, NULL), ==, 200);
  {
    g_autoptr(JsonObject) allowed = NULL;
    g_assert_cmpuint (verify (server, gw, &fresh, &round, &allowed), ==, 200);
    assert_allow (allowed, gw, &fresh, &round);
  }
  auth_round_clear (&round);
  g_clear_pointer (&answer, json_object_unref);
  test_pne_free (pne);
}

static void
test_policy_allow_deny (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "policies");
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) policy = NULL;
  g_autofree char *policy_json = NULL;
  g_autofree char *allow_rule = cpns_id_new (CPNS_ID_RULE);
  g_autofree char *deny_rule = cpns_id_new (CPNS_ID_RULE);
  TestPne *sensor, *camera;
  AuthRound round = { 0 };
  guint status;

  test_gateway_open_session (server, gw);
  sensor = test_pne_register (server, gw, "sensor", TRUE);
  camera = test_pne_register (server, gw, "camera", TRUE);

  /* The initial policy: no rules, default ask. */
  g_assert_cmpuint (server_fixture_request (server, "GET", "/cpns/v1/policy", gw->token, NULL, &policy), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (policy, "default_action"), ==, "ask");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (policy, "rules")), ==, 0);

  policy_json = g_strdup_printf ("{\"default_action\":\"ask\",\"rules\":["
                                 "{\"id\":\"%s\",\"match\":{\"pne_id\":\"%s\"},\"action\":\"allow\"},"
                                 "{\"id\":\"%s\",\"match\":{\"entity_type\":\"camera\"},\"action\":\"deny\"}]}",
                                 allow_rule, sensor->pne_id, deny_rule);
  put_policy (server, gw, policy_json);
  g_clear_pointer (&policy, json_object_unref);
  g_assert_cmpuint (server_fixture_request (server, "GET", "/cpns/v1/policy", gw->token, NULL, &policy), ==, 200);
  server_assert_schema (policy, "api.policy");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (policy, "rules")), ==, 2);

  /* allow, with the rule that decided. */
  g_assert_cmpuint (start_auth (server, gw, sensor, &round, NULL), ==, 200);
  g_assert_cmpuint (verify (server, gw, sensor, &round, &answer), ==, 200);
  assert_allow (answer, gw, sensor, &round);
  g_assert_cmpstr (rule_id_of (answer), ==, allow_rule);
  g_clear_pointer (&answer, json_object_unref);

  /* Replay: the used auth_id, then the old proof on a new exchange. */
  status = verify (server, gw, sensor, &round, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);
  {
    AuthRound second = { 0 };
    guint8 old_proof[32];

    cpns_pne_auth_proof (sensor->euk, sensor->pne_id, gw->gateway_id, round.nonce_s, round.nonce_p, old_proof);
    g_assert_cmpuint (start_auth (server, gw, sensor, &second, NULL), ==, 200);
    status = post_proof (server, gw, second.auth_id, old_proof, &answer);
    server_assert_error (status, answer, 401, "auth_failed");
    g_clear_pointer (&answer, json_object_unref);
    auth_round_clear (&second);
  }
  auth_round_clear (&round);

  /* deny, with its rule id. */
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, camera, &round, NULL), ==, 200);
  status = verify (server, gw, camera, &round, &answer);
  server_assert_error (status, answer, 403, "denied");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (answer, "error"), "rule_id"),
                   ==, deny_rule);
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);

  /* A bad policy. */
  status = server_fixture_request (server, "PUT", "/cpns/v1/policy", gw->token,
                                   "{\"default_action\":\"maybe\",\"rules\":[]}", &answer);
  server_assert_error (status, answer, 400, "bad_request");

  test_pne_free (sensor);
  test_pne_free (camera);
}

static void
test_policy_ask (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "askers");
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) policy = NULL;
  g_autofree char *remembered = NULL;
  TestPne *pne, *other;
  AuthRound round = { 0 };
  guint status;

  test_gateway_open_session (server, gw);
  pne = test_pne_register (server, gw, "speaker", TRUE);
  other = test_pne_register (server, gw, "display", TRUE);

  /* ask → allow once (no rule). */
  g_assert_cmpuint (start_auth (server, gw, pne, &round, NULL), ==, 200);
  g_assert_cmpuint (verify (server, gw, pne, &round, &answer), ==, 200);
  server_assert_schema (answer, "api.auth_result");
  g_assert_cmpstr (json_object_get_string_member (answer, "decision"), ==, "ask");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (answer, "entity"),
                                                  "entity_type"), ==, "speaker");
  g_assert_null (rule_id_of (answer));
  g_clear_pointer (&answer, json_object_unref);
  /* Still waiting for the user: a second proof is the wrong step. */
  status = verify (server, gw, pne, &round, &answer);
  server_assert_error (status, answer, 409, "conflict");
  g_clear_pointer (&answer, json_object_unref);
  g_assert_cmpuint (decide (server, gw, round.auth_id, "allow", FALSE, &answer), ==, 200);
  assert_allow (answer, gw, pne, &round);
  g_assert_null (rule_id_of (answer));
  g_clear_pointer (&answer, json_object_unref);
  /* Used. */
  status = decide (server, gw, round.auth_id, "allow", FALSE, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);

  /* Not remembered: asked again; this time allow and remember. */
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, pne, &round, NULL), ==, 200);
  g_assert_cmpuint (verify (server, gw, pne, &round, &answer), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (answer, "decision"), ==, "ask");
  g_clear_pointer (&answer, json_object_unref);
  g_assert_cmpuint (decide (server, gw, round.auth_id, "allow", TRUE, &answer), ==, 200);
  assert_allow (answer, gw, pne, &round);
  remembered = g_strdup (rule_id_of (answer));
  g_assert_true (cpns_id_is_valid (CPNS_ID_RULE, remembered));
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);

  /* The policy now holds that rule, and it decides the next time. */
  g_assert_cmpuint (server_fixture_request (server, "GET", "/cpns/v1/policy", gw->token, NULL, &policy), ==, 200);
  {
    JsonArray *rules = json_object_get_array_member (policy, "rules");
    JsonObject *rule = json_array_get_object_element (rules, 0);

    g_assert_cmpuint (json_array_get_length (rules), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (rule, "id"), ==, remembered);
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (rule, "match"), "pne_id"),
                     ==, pne->pne_id);
  }
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, pne, &round, NULL), ==, 200);
  g_assert_cmpuint (verify (server, gw, pne, &round, &answer), ==, 200);
  assert_allow (answer, gw, pne, &round);
  g_assert_cmpstr (rule_id_of (answer), ==, remembered);
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);

  /* ask → deny remembered: denied with the new rule, and later too. */
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, other, &round, NULL), ==, 200);
  g_assert_cmpuint (verify (server, gw, other, &round, &answer), ==, 200);
  g_clear_pointer (&answer, json_object_unref);
  status = decide (server, gw, round.auth_id, "deny", TRUE, &answer);
  server_assert_error (status, answer, 403, "denied");
  g_assert_true (cpns_id_is_valid (CPNS_ID_RULE,
                                   json_object_get_string_member (json_object_get_object_member (answer, "error"),
                                                                  "rule_id")));
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);
  round = (AuthRound) { 0 };
  g_assert_cmpuint (start_auth (server, gw, other, &round, NULL), ==, 200);
  status = verify (server, gw, other, &round, &answer);
  server_assert_error (status, answer, 403, "denied");
  auth_round_clear (&round);

  test_pne_free (pne);
  test_pne_free (other);
}

static void
test_auth_errors_and_lockout (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "lockout");
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *unknown_auth = cpns_id_new (CPNS_ID_AUTH);
  TestPne *pne, unknown = { 0 };
  AuthRound round = { 0 };
  guint8 bad[32];
  guint status;

  test_gateway_open_session (server, gw);
  pne = test_pne_register (server, gw, "wearable", TRUE);

  unknown.pne_id = cpns_id_new (CPNS_ID_PNE);
  status = start_auth (server, gw, &unknown, &round, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);
  g_free (unknown.pne_id);

  memset (bad, 7, sizeof bad);
  status = post_proof (server, gw, unknown_auth, bad, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);
  status = decide (server, gw, unknown_auth, "allow", FALSE, &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);

  for (int i = 0; i < 5; i++)
    {
      round = (AuthRound) { 0 };
      g_assert_cmpuint (start_auth (server, gw, pne, &round, NULL), ==, 200);
      status = post_proof (server, gw, round.auth_id, bad, &answer);
      server_assert_error (status, answer, 401, "auth_failed");
      g_clear_pointer (&answer, json_object_unref);
      auth_round_clear (&round);
    }
  round = (AuthRound) { 0 };
  status = start_auth (server, gw, pne, &round, &answer);
  server_assert_error (status, answer, 429, "locked_out");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (answer, "error"), "retry_after"),
                   >, 0);
  auth_round_clear (&round);
  test_pne_free (pne);
}

static void
test_inventory (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "inventory");
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *path = NULL, *since_path = NULL;
  g_autofree char *unknown_path = NULL;
  g_autofree char *session_id = cpns_id_new (CPNS_ID_SESSION);
  g_autofree char *body = NULL;
  g_autofree char *unknown = cpns_id_new (CPNS_ID_PNE);
  TestPne *a, *b;
  gint64 revision, new_revision;
  JsonArray *entities;
  guint status;

  test_gateway_open_session (server, gw);
  a = test_pne_register (server, gw, "sensor", TRUE);
  b = test_pne_register (server, gw, "actuator", TRUE);

  g_assert_cmpuint (server_fixture_request (server, "GET", "/cpns/v1/inventory", gw->token, NULL, &answer), ==, 200);
  server_assert_schema (answer, "api.inventory.response");
  g_assert_cmpstr (json_object_get_string_member (answer, "pn_id"), ==, gw->pn_id);
  revision = json_object_get_int_member (answer, "revision");
  entities = json_object_get_array_member (answer, "entities");
  g_assert_cmpuint (json_array_get_length (entities), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (entities, 0), "state"),
                   ==, "registered");
  g_clear_pointer (&answer, json_object_unref);

  /* Step 5a. */
  path = g_strdup_printf ("/cpns/v1/inventory/%s", a->pne_id);
  body = g_strdup_printf ("{\"state\":\"connected\",\"session_id\":\"%s\",\"services\":[\"telemetry\"]}", session_id);
  g_assert_cmpuint (server_fixture_request (server, "PUT", path, gw->token, body, &answer), ==, 200);
  server_assert_schema (answer, "api.inventory_put.response");
  new_revision = json_object_get_int_member (answer, "revision");
  g_assert_cmpint (new_revision, ==, revision + 1);
  g_clear_pointer (&answer, json_object_unref);

  since_path = g_strdup_printf ("/cpns/v1/inventory?since=%" G_GINT64_FORMAT, revision);
  g_assert_cmpuint (server_fixture_request (server, "GET", since_path, gw->token, NULL, &answer), ==, 200);
  server_assert_schema (answer, "api.inventory.response");
  g_assert_cmpint (json_object_get_int_member (answer, "revision"), ==, new_revision);
  entities = json_object_get_array_member (answer, "entities");
  g_assert_cmpuint (json_array_get_length (entities), ==, 1);
  {
    JsonObject *e = json_array_get_object_element (entities, 0);

    g_assert_cmpstr (json_object_get_string_member (e, "pne_id"), ==, a->pne_id);
    g_assert_cmpstr (json_object_get_string_member (e, "state"), ==, "connected");
    g_assert_cmpstr (json_object_get_string_member (e, "session_id"), ==, session_id);
    g_assert_cmpstr (json_object_get_string_member (e, "gateway_id"), ==, gw->gateway_id);
    g_assert_cmpstr (json_object_get_string_member (e, "key_assignment"), ==, "server");
    g_assert_nonnull (json_object_get_string_member (e, "last_seen"));
  }
  g_clear_pointer (&answer, json_object_unref);

  status = server_fixture_request (server, "GET", "/cpns/v1/inventory?since=abc", gw->token, NULL, &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);
  status = server_fixture_request (server, "PUT", path, gw->token, "{\"state\":\"revoked\"}", &answer);
  server_assert_error (status, answer, 400, "bad_request");
  g_clear_pointer (&answer, json_object_unref);
  unknown_path = g_strdup_printf ("/cpns/v1/inventory/%s", unknown);
  status = server_fixture_request (server, "PUT", unknown_path, gw->token, "{\"state\":\"connected\"}", &answer);
  server_assert_error (status, answer, 404, "not_found");
  g_clear_pointer (&answer, json_object_unref);

  /* The admin CLI sees the same inventory. */
  {
    g_autoptr(JsonNode) cli = server_fixture_cli_json (server, "inventory", "inventory", "--json", NULL);

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (cli), "revision"), ==, new_revision);
  }
  test_pne_free (a);
  test_pne_free (b);
}

/* ------------------------------------------------------------------ */
/* Events WebSocket */

typedef struct
{
  GMainLoop               *loop;
  SoupWebsocketConnection *connection;
  GError                  *error;
  GPtrArray               *messages;
} WsState;

static void
ws_connected_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  WsState *state = user_data;

  state->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &state->error);
  g_main_loop_quit (state->loop);
}

static void
ws_message_cb (SoupWebsocketConnection *connection,
               gint                     type,
               GBytes                  *message,
               WsState                 *state)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);

  g_ptr_array_add (state->messages, g_strndup (data, len));
  g_main_loop_quit (state->loop);
}

static gboolean
ws_timeout_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static SoupMessage *
ws_message (ServerFixture *fx,
            const char    *token)
{
  g_autofree char *url = g_strconcat (fx->base_url, "/cpns/v1/events", NULL);
  SoupMessage *msg = soup_message_new ("GET", url);

  server_fixture_pin_message (fx, msg);
  if (token)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
    }
  return msg;
}

/* Waits until a message containing @needle arrives (10 s at most). */
static gboolean
ws_wait_for (WsState    *state,
             const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      guint id;

      for (guint i = 0; i < state->messages->len; i++)
        if (strstr (g_ptr_array_index (state->messages, i), needle))
          return TRUE;
      id = g_timeout_add (500, ws_timeout_cb, state->loop);
      g_main_loop_run (state->loop);
      g_source_remove_by_user_data (state->loop);
      (void) id;
    }
  return FALSE;
}

static void
test_events_revocation (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "watcher");
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(SoupMessage) bad = NULL;
  g_autofree char *revoked = NULL;
  g_autofree char *out = NULL;
  WsState state = { 0 };
  TestPne *pne;

  test_gateway_open_session (server, gw);
  pne = test_pne_register (server, gw, "computer", TRUE);
  state.loop = g_main_loop_new (NULL, FALSE);
  state.messages = g_ptr_array_new_with_free_func (g_free);

  /* Without a token: refused before the upgrade. */
  bad = ws_message (server, NULL);
  soup_session_websocket_connect_async (session, bad, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected_cb, &state);
  g_main_loop_run (state.loop);
  g_assert_nonnull (state.error);
  g_assert_null (state.connection);
  g_assert_cmpuint (soup_message_get_status (bad), ==, 401);
  g_clear_error (&state.error);

  msg = ws_message (server, gw->token);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected_cb, &state);
  g_main_loop_run (state.loop);
  g_assert_no_error (state.error);
  g_assert_nonnull (state.connection);
  g_signal_connect (state.connection, "message", G_CALLBACK (ws_message_cb), &state);

  /* Revoked by the admin, in another process. */
  out = server_fixture_cli (server, 0, "entity", "revoke", "watcher", pne->pne_id, NULL);
  g_assert_nonnull (strstr (out, "Revoked"));
  revoked = g_strdup_printf ("{\"type\":\"entity_revoked\",\"pne_id\":\"%s\"}", pne->pne_id);
  g_assert_true (ws_wait_for (&state, revoked));
  g_assert_true (ws_wait_for (&state, "\"type\":\"inventory_changed\""));

  /* A policy change made through the API is pushed too. */
  put_policy (server, gw, "{\"default_action\":\"deny\",\"rules\":[]}");
  g_assert_true (ws_wait_for (&state, "{\"type\":\"policy_changed\"}"));

  /* Another PN hears nothing of it. */
  for (guint i = 0; i < state.messages->len; i++)
    g_assert_null (strstr (g_ptr_array_index (state.messages, i), "someone-else"));

  soup_websocket_connection_close (state.connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&state.connection);
  g_main_loop_unref (state.loop);
  g_ptr_array_unref (state.messages);
  test_pne_free (pne);
}

/* ------------------------------------------------------------------ */
/* Expiry, on the server with short durations */

static void
test_expiry (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (fast_server, "expiry");
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) challenge = NULL;
  g_autofree char *nonce_text = NULL, *proof_text = NULL;
  guint8 nonce_s[16], nonce_g[16], proof[32];
  TestPne *pne, *pending;
  AuthRound round = { 0 };
  guint status;

  test_gateway_open_session (fast_server, gw);
  pne = test_pne_register (fast_server, gw, "sensor", TRUE);
  pending = test_pne_register (fast_server, gw, "sensor", FALSE);

  /* An expired session challenge. */
  json_object_set_string_member (body, "gateway_id", gw->gateway_id);
  g_assert_cmpuint (server_fixture_request_obj (fast_server, "POST", "/cpns/v1/session/challenge", NULL,
                                                body, &challenge), ==, 200);
  test_get_bytes (challenge, "nonce_s", nonce_s, 16);
  cpns_random_nonce (nonce_g, 16);
  cpns_gateway_session_proof (gw->secret, gw->gateway_id, nonce_s, nonce_g, proof);
  nonce_text = test_b64 (nonce_g, 16);
  proof_text = test_b64 (proof, 32);
  json_object_set_string_member (body, "challenge_id", json_object_get_string_member (challenge, "challenge_id"));
  json_object_set_string_member (body, "nonce_g", nonce_text);
  json_object_set_string_member (body, "proof", proof_text);

  /* An expired authentication exchange. */
  g_assert_cmpuint (start_auth (fast_server, gw, pne, &round, NULL), ==, 200);

  g_usleep (1500 * 1000);
  status = server_fixture_request_obj (fast_server, "POST", "/cpns/v1/session", NULL, body, &answer);
  server_assert_error (status, answer, 408, "timeout");
  g_clear_pointer (&answer, json_object_unref);
  status = verify (fast_server, gw, pne, &round, &answer);
  server_assert_error (status, answer, 408, "timeout");
  g_clear_pointer (&answer, json_object_unref);
  auth_round_clear (&round);

  /* The pending entity is purged (pending=2 s, purge every 0.5 s; allow
   * a loaded machine some slack). */
  {
    g_autofree char *path = g_strdup_printf ("/cpns/v1/inventory/%s", pending->pne_id);
    gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
    JsonArray *entities;

    do
      {
        g_usleep (250 * 1000);
        g_clear_pointer (&answer, json_object_unref);
        g_assert_cmpuint (server_fixture_request (fast_server, "GET", "/cpns/v1/inventory", gw->token, NULL,
                                                  &answer), ==, 200);
        entities = json_object_get_array_member (answer, "entities");
      }
    while (json_array_get_length (entities) > 1 && g_get_monotonic_time () < deadline);
    g_assert_cmpuint (json_array_get_length (entities), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (entities, 0), "pne_id"),
                     ==, pne->pne_id);
    g_clear_pointer (&answer, json_object_unref);
    status = server_fixture_request (fast_server, "PUT", path, gw->token, "{\"state\":\"connected\"}", &answer);
    server_assert_error (status, answer, 404, "not_found");
  }
  test_pne_free (pne);
  test_pne_free (pending);
}


/* Garbage to every resource: never a 5xx, always §2's shape, and the
 * server keeps answering. */
static void
test_garbage (void)
{
  g_autoptr(TestGateway) gw = test_gateway_enroll (server, "garbage");
  g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE);
  g_autofree char *auth_id = cpns_id_new (CPNS_ID_AUTH);
  g_autofree char *long_string = NULL;
  g_autofree char *long_body = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  const char *methods[] = { "GET", "POST", "PUT", "DELETE" };
  const char *bodies[] = {
    NULL, "", "null", "[]", "{}", "\"x\"", "{\"v\":1}", "{\"pne_id\":17}",
    "{\"pne_id\":\"pne-00000000000000000000000000000000\",\"nonce_p\":\"!!\"}",
    "{\"state\":\"connected\",\"session_id\":\"ses-zz\"}",
    "{\"default_action\":\"allow\",\"rules\":[{\"id\":\"rule-1\",\"match\":{},\"action\":\"allow\"}]}",
    "{\"key_id\":\"key-0000000000000000\",\"key_confirm\":\"AAAA\"}",
    "{\"decision\":\"maybe\",\"remember\":\"yes\"}",
    "{\"pne_proof\":null}",
    "\xff\xfe{\"a\":1}",
    "{\"a\":\"\\ud800\"}",
    "{\"a\":1e999999}",
    "{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}",
    NULL,   /* replaced by a body with a 2000-byte string */
  };

  test_gateway_open_session (server, gw);
  long_string = g_strnfill (2000, 'a');
  long_body = g_strdup_printf ("{\"user_id\":\"%s\",\"gateway_name\":\"%s\",\"pne_id\":\"%s\"}",
                               long_string, long_string, long_string);
  bodies[G_N_ELEMENTS (bodies) - 1] = long_body;

  g_ptr_array_add (paths, g_strdup ("/cpns/v1/gateways"));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/session/challenge"));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/entities"));
  g_ptr_array_add (paths, g_strdup_printf ("/cpns/v1/entities/%s", pne_id));
  g_ptr_array_add (paths, g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pne_id));
  g_ptr_array_add (paths, g_strdup_printf ("/cpns/v1/entities/%s/rekey", pne_id));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/auth"));
  g_ptr_array_add (paths, g_strdup_printf ("/cpns/v1/auth/%s/verify", auth_id));
  g_ptr_array_add (paths, g_strdup_printf ("/cpns/v1/auth/%s/decision", auth_id));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/inventory?since=-1"));
  g_ptr_array_add (paths, g_strdup_printf ("/cpns/v1/inventory/%s", pne_id));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/policy"));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/auth/../../healthz"));
  g_ptr_array_add (paths, g_strdup ("/cpns/v1/entities//key-confirm"));

  for (guint p = 0; p < paths->len; p++)
    for (gsize m = 0; m < G_N_ELEMENTS (methods); m++)
      for (gsize b = 0; b < G_N_ELEMENTS (bodies); b++)
        {
          g_autoptr(JsonObject) answer = NULL;
          const char *method = methods[m];
          guint status;

          if ((strcmp (method, "GET") == 0 || strcmp (method, "DELETE") == 0) && b > 1)
            continue;
          status = server_fixture_request (server, method, g_ptr_array_index (paths, p), gw->token,
                                           bodies[b], &answer);
          if (status >= 500 || status < 200)
            g_error ("%s %s with body %zu: HTTP %u", method, (char *) g_ptr_array_index (paths, p), b, status);
          if (status >= 400)
            {
              g_assert_nonnull (answer);
              g_assert_true (json_object_has_member (answer, "error"));
            }
        }
  {
    g_autoptr(JsonObject) answer = NULL;
    g_assert_cmpuint (server_fixture_request (server, "GET", "/healthz", NULL, NULL, &answer), ==, 200);
  }
}

/* A chunked body over 64 KiB: answered 413 as it streams in. */
static gboolean
accept_pinned_cb (GTlsConnection       *connection,
                  GTlsCertificate      *certificate,
                  GTlsCertificateFlags  errors,
                  gpointer              user_data)
{
  g_autoptr(GByteArray) der = NULL;
  g_autofree char *sha = NULL;

  g_object_get (certificate, "certificate", &der, NULL);
  sha = cpns_sha256_hex (der->data, der->len);
  return g_strcmp0 (sha, user_data) == 0;
}

static void
client_event_cb (GSocketClient      *client,
                 GSocketClientEvent  event,
                 GSocketConnectable *connectable,
                 GIOStream          *connection,
                 gpointer            user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING)
    g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_pinned_cb), user_data);
}

static void
test_chunked_too_large (void)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = g_strdup (server->base_url + strlen ("https://"));
  GOutputStream *out;
  GInputStream *in;
  GString *answer = g_string_new (NULL);
  char chunk[8192];
  char buf[4096];
  gssize n;

  g_socket_client_set_tls (client, TRUE);
  g_signal_connect (client, "event", G_CALLBACK (client_event_cb), server->pin);
  connection = g_socket_client_connect_to_host (client, host, 0, NULL, &error);
  g_assert_no_error (error);
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  in = g_io_stream_get_input_stream (G_IO_STREAM (connection));

  g_assert_true (g_output_stream_printf (out, NULL, NULL, &error,
                                         "POST /cpns/v1/entities HTTP/1.1\r\nHost: %s\r\n"
                                         "Content-Type: application/json\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n", host));
  memset (chunk, ' ', sizeof chunk);
  chunk[0] = '{';
  for (int i = 0; i < 10; i++)
    {
      g_assert_true (g_output_stream_printf (out, NULL, NULL, &error, "%zx\r\n", sizeof chunk));
      g_assert_true (g_output_stream_write_all (out, chunk, sizeof chunk, NULL, NULL, &error));
      g_assert_true (g_output_stream_write_all (out, "\r\n", 2, NULL, NULL, &error));
      chunk[0] = ' ';
    }
  g_assert_true (g_output_stream_write_all (out, "0\r\n\r\n", 5, NULL, NULL, &error));
  g_assert_no_error (error);

  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_string_append_len (answer, buf, n);
      if (strstr (answer->str, "}}"))
        break;
    }
  g_assert_true (g_str_has_prefix (answer->str, "HTTP/1.1 413"));
  g_assert_nonnull (strstr (answer->str, "\"code\":\"too_large\""));
  g_string_free (answer, TRUE);
}

/* Session expiry: session_expiring on the events socket, then the socket
 * closes and the token is refused. */
static void
ws_closed_cb (SoupWebsocketConnection *connection,
              WsState                 *state)
{
  g_ptr_array_add (state->messages, g_strdup ("<closed>"));
  g_main_loop_quit (state->loop);
}

static void
test_session_expiry (void)
{
  ServerFixture *fx = server_fixture_new ("session=3,expiring=2.5");
  g_autoptr(TestGateway) gw = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(JsonObject) answer = NULL;
  WsState state = { 0 };
  guint status;

  server_fixture_start (fx);
  gw = test_gateway_enroll (fx, "expiring");
  test_gateway_open_session (fx, gw);
  state.loop = g_main_loop_new (NULL, FALSE);
  state.messages = g_ptr_array_new_with_free_func (g_free);
  msg = ws_message (fx, gw->token);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected_cb, &state);
  g_main_loop_run (state.loop);
  g_assert_no_error (state.error);
  g_signal_connect (state.connection, "message", G_CALLBACK (ws_message_cb), &state);
  g_signal_connect (state.connection, "closed", G_CALLBACK (ws_closed_cb), &state);

  g_assert_true (ws_wait_for (&state, "{\"type\":\"session_expiring\",\"expires_at\":\""));
  g_assert_true (ws_wait_for (&state, "<closed>"));
  status = server_fixture_request (fx, "GET", "/cpns/v1/inventory", gw->token, NULL, &answer);
  server_assert_error (status, answer, 401, "unauthorized");

  g_clear_object (&state.connection);
  g_main_loop_unref (state.loop);
  g_ptr_array_unref (state.messages);
  server_fixture_free (fx);
}

static void
test_cli (void)
{
  g_autofree char *help = server_fixture_cli (server, 0, "policy", "add", "--help", NULL);
  g_autofree char *bad = NULL;
  g_autoptr(JsonNode) users = NULL;
  g_autoptr(JsonNode) rule = NULL;
  g_autoptr(JsonNode) policy = NULL;
  g_autofree char *refused = NULL;
  JsonObject *p;

  g_assert_nonnull (strstr (help, "--match"));
  bad = server_fixture_cli (server, 2, "policy", "set", "cli-user", "--default", "sometimes", NULL);
  server_fixture_cli (server, 0, "user", "add", "cli-user", NULL);
  server_fixture_cli (server, 0, "policy", "set", "cli-user", "--default", "deny", NULL);
  rule = server_fixture_cli_json (server, "policy", "add", "cli-user", "--match", "entity_type=sensor",
                                  "--action", "allow", "--json", NULL);
  policy = server_fixture_cli_json (server, "policy", "show", "cli-user", "--json", NULL);
  p = json_node_get_object (policy);
  g_assert_cmpstr (json_object_get_string_member (p, "default_action"), ==, "deny");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (json_object_get_array_member (p, "rules"), 0), "id"),
                   ==, json_object_get_string_member (json_node_get_object (rule), "id"));
  users = server_fixture_cli_json (server, "user", "list", "--json", NULL);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (users));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (users)), >, 1);
  /* init refuses to overwrite. */
  refused = server_fixture_cli (server, 1, "init", NULL);
  /* serve refuses to start without a certificate, and says what to do. */
  {
    g_autofree char *empty = g_dir_make_tmp ("cpns-server-empty-XXXXXX", NULL);
    g_autofree char *binary = g_build_filename (g_getenv ("CPNS_BUILD_ROOT"), "src", "server", "cpns-server", NULL);
    const char *argv[] = { binary, "serve", "--data-dir", empty, "--listen", "127.0.0.1:0", NULL };
    g_autofree char *err = NULL;
    int wait_status;

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                                 &wait_status, NULL));
    g_assert_false (g_spawn_check_wait_status (wait_status, NULL));
    g_assert_nonnull (strstr (err, "cpns-server init"));
    g_rmdir (empty);
  }
}

int
main (int   argc,
      char *argv[])
{
  int result;

  g_test_init (&argc, &argv, NULL);

  server = server_fixture_new (NULL);
  server_fixture_start (server);
  fast_server = server_fixture_new ("challenge=1,auth=1,approval=1,pending=2,purge=0.5");
  server_fixture_start (fast_server);

  g_test_add_func ("/server/api/healthz-routing", test_healthz_and_routing);
  g_test_add_func ("/server/api/bad-input", test_bad_input);
  g_test_add_func ("/server/api/enrollment", test_enrollment);
  g_test_add_func ("/server/api/enrollment-lockout", test_enrollment_lockout);
  g_test_add_func ("/server/api/lockout-survives-restart", test_lockout_survives_restart);
  g_test_add_func ("/server/api/session", test_session);
  g_test_add_func ("/server/api/entities", test_entities);
  g_test_add_func ("/server/api/rekey", test_rekey);
  g_test_add_func ("/server/api/policy-allow-deny", test_policy_allow_deny);
  g_test_add_func ("/server/api/policy-ask", test_policy_ask);
  g_test_add_func ("/server/api/auth-errors-lockout", test_auth_errors_and_lockout);
  g_test_add_func ("/server/api/inventory", test_inventory);
  g_test_add_func ("/server/api/events-revocation", test_events_revocation);
  g_test_add_func ("/server/api/expiry", test_expiry);
  g_test_add_func ("/server/api/garbage", test_garbage);
  g_test_add_func ("/server/api/chunked-too-large", test_chunked_too_large);
  g_test_add_func ("/server/api/session-expiry", test_session_expiry);
  g_test_add_func ("/server/api/cli", test_cli);

  result = g_test_run ();
  server_fixture_free (server);
  server_fixture_free (fast_server);
  return result;
}
