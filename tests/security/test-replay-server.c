/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Security (issue 7, items 4 and 5) against a real cpns-server over HTTPS:
 *
 *  - replay: every CPNS-2 request that once succeeded (enrollment, session
 *    proof, auth verify, decision, key-confirm, registration, rekey
 *    confirm) is captured and sent again, with the token it had and with a
 *    fresh one, before and after a clean restart and after a SIGKILL
 *    restart: 100% rejected, with the expected error code each, and the
 *    registry unchanged;
 *  - identity binding: a PNE claiming another's ID, a registration or a
 *    re-registration that would replace a key, another PN's gateway acting
 *    on an entity, a server answer for one PNE checked by another: all
 *    rejected and the registry unchanged.
 *
 * Every derivation is computed here with libcpns. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "cpns-crypto.h"
#include "cpns-ids.h"
#include "server-fixture.h"

/* One captured request and the error codes a replay may get. */
typedef struct
{
  char       *label;
  char       *method;
  char       *path;
  char       *body;
  char       *token;          /* the token it was sent with, or NULL */
  const char *codes;          /* "code,code" accepted on replay */
  gboolean    token_only;     /* the token itself is what is replayed */
} Captured;

static void
captured_free (gpointer data)
{
  Captured *c = data;

  g_free (c->label);
  g_free (c->method);
  g_free (c->path);
  g_free (c->body);
  g_free (c->token);
  g_free (c);
}

typedef struct
{
  ServerFixture *fx;
  TestGateway   *gw;
  TestGateway   *other;       /* another user's gateway (another PN) */
  GPtrArray     *corpus;      /* Captured */
  guint          sent;
  guint          rejected;
} Replay;

/* Sends and records a request that must succeed; returns the answer. */
static JsonObject *
send_capture (Replay     *r,
              const char *label,
              const char *method,
              const char *path,
              const char *token,
              JsonObject *body,
              guint       expected_status,
              const char *replay_codes)
{
  Captured *c = g_new0 (Captured, 1);
  JsonObject *answer = NULL;
  guint status;

  if (body)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), body);
      c->body = json_to_string (node, FALSE);
    }
  c->label = g_strdup (label);
  c->method = g_strdup (method);
  c->path = g_strdup (path);
  c->token = g_strdup (token);
  c->codes = replay_codes;
  status = server_fixture_request (r->fx, method, path, token, c->body, &answer);
  if (status != expected_status)
    g_error ("%s: %s %s answered %u", label, method, path, status);
  g_ptr_array_add (r->corpus, c);
  return answer;
}

static gboolean
code_in (const char *code,
         const char *codes)
{
  g_auto(GStrv) list = g_strsplit (codes, ",", -1);

  return code != NULL && g_strv_contains ((const char * const *) list, code);
}

static void
replay_one (Replay     *r,
            Captured   *c,
            const char *token,
            const char *when)
{
  g_autoptr(JsonObject) answer = NULL;
  guint status = server_fixture_request (r->fx, c->method, c->path, token, c->body, &answer);
  const char *code = NULL;

  r->sent++;
  if (answer && json_object_has_member (answer, "error"))
    code = json_object_get_string_member (json_object_get_object_member (answer, "error"), "code");
  /* With its own (ended) token a replay may also stop at "unauthorized";
   * with a live token it must meet the specific check. */
  if (status >= 400 && (code_in (code, c->codes) ||
                        (token == c->token && code_in (code, "unauthorized"))))
    r->rejected++;
  else
    g_test_message ("replay %s (%s, %s token): status %u code %s, expected one of %s",
                    c->label, when, token == c->token ? "captured" : "fresh", status,
                    code ? code : "(none)", c->codes);
}

/* Each captured request with the token it had, and with a fresh token of
 * the same gateway (so "unauthorized" alone cannot make it pass). */
static void
replay_all (Replay     *r,
            const char *when)
{
  guint sent_before = r->sent, rejected_before = r->rejected;

  for (guint i = 0; i < r->corpus->len; i++)
    {
      Captured *c = r->corpus->pdata[i];

      replay_one (r, c, c->token, when);
      if (c->token && !c->token_only)
        replay_one (r, c, r->gw->token, when);
    }
  g_test_message ("replays %s: %u/%u rejected", when, r->rejected - rejected_before,
                  r->sent - sent_before);
}

static int
compare_lines (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The registry as the server reports it: "pne_id state key_id" lines. */
static char *
registry_snapshot (ServerFixture *fx,
                   TestGateway   *gw)
{
  g_autoptr(JsonObject) inv = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) out = g_string_new (NULL);
  JsonArray *entities;

  g_assert_cmpuint (server_fixture_request (fx, "GET", "/cpns/v1/inventory", gw->token, NULL, &inv), ==, 200);
  entities = json_object_get_array_member (inv, "entities");
  for (guint i = 0; i < json_array_get_length (entities); i++)
    {
      JsonObject *e = json_array_get_object_element (entities, i);

      g_ptr_array_add (lines, g_strdup_printf ("%s %s %s %s",
                                               json_object_get_string_member (e, "pne_id"),
                                               json_object_get_string_member (e, "state"),
                                               json_object_get_string_member (e, "key_id"),
                                               json_object_get_string_member (e, "gateway_id")));
    }
  g_ptr_array_sort (lines, compare_lines);
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf (out, "%s\n", (char *) lines->pdata[i]);
  g_string_append_printf (out, "revision %" G_GINT64_FORMAT "\n",
                          json_object_get_int_member (inv, "revision"));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ------------------------------------------------------------------ */
/* Authentication rounds (step 4b–c) */

typedef struct
{
  char   *auth_id;
  guint8  nonce_p[16];
  guint8  nonce_s[16];
  guint8  server_proof[32];
} Round;

static guint
start_auth (ServerFixture *fx,
            TestGateway   *gw,
            const char    *pne_id,
            Round         *round,
            JsonObject   **out)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *nonce_text = NULL;
  guint status;

  cpns_random_nonce (round->nonce_p, sizeof round->nonce_p);
  nonce_text = test_b64 (round->nonce_p, 16);
  json_object_set_string_member (body, "pne_id", pne_id);
  json_object_set_string_member (body, "nonce_p", nonce_text);
  json_object_set_array_member (body, "requested_services", json_array_new ());
  status = server_fixture_request_obj (fx, "POST", "/cpns/v1/auth", gw->token, body, &answer);
  if (status == 200)
    {
      round->auth_id = g_strdup (json_object_get_string_member (answer, "auth_id"));
      test_get_bytes (answer, "nonce_s", round->nonce_s, 16);
      test_get_bytes (answer, "server_proof", round->server_proof, 32);
    }
  if (out)
    *out = g_steal_pointer (&answer);
  return status;
}

static JsonObject *
proof_body (const guint8 proof[32])
{
  JsonObject *body = json_object_new ();
  g_autofree char *text = test_b64 (proof, 32);

  json_object_set_string_member (body, "pne_proof", text);
  return body;
}

static guint
verify_with (ServerFixture *fx,
             TestGateway   *gw,
             Round         *round,
             const guint8   euk[32],
             const char    *pne_id,
             JsonObject   **out)
{
  g_autofree char *path = g_strdup_printf ("/cpns/v1/auth/%s/verify", round->auth_id);
  g_autoptr(JsonObject) body = NULL;
  guint8 proof[32];

  cpns_pne_auth_proof (euk, pne_id, gw->gateway_id, round->nonce_s, round->nonce_p, proof);
  body = proof_body (proof);
  return server_fixture_request_obj (fx, "POST", path, gw->token, body, out);
}

static void
assert_error (guint       status,
              JsonObject *answer,
              guint       expected_status,
              const char *expected_code)
{
  server_assert_error (status, answer, expected_status, expected_code);
}

/* The PNE's full authentication succeeds (the registry still works). */
static void
assert_pne_authenticates (ServerFixture *fx,
                          TestGateway   *gw,
                          TestPne       *pne)
{
  g_autoptr(JsonObject) answer = NULL;
  Round round = { 0 };
  guint8 expected[32];

  g_assert_cmpuint (start_auth (fx, gw, pne->pne_id, &round, NULL), ==, 200);
  cpns_server_auth_proof (pne->euk, pne->pne_id, gw->gateway_id, round.nonce_p, round.nonce_s, expected);
  g_assert_true (cpns_memeq_ct (expected, 32, round.server_proof, 32));
  g_assert_cmpuint (verify_with (fx, gw, &round, pne->euk, pne->pne_id, &answer), ==, 200);
  g_assert_cmpstr (json_object_get_string_member (answer, "decision"), ==, "allow");
  g_free (round.auth_id);
}

static void
restart_clean (ServerFixture *fx)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (fx->process, SIGTERM);
  g_subprocess_wait (fx->process, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (fx->process));
  g_assert_cmpint (g_subprocess_get_exit_status (fx->process), ==, 0);
  g_clear_object (&fx->process);
  g_clear_object (&fx->session);
  fx->session = soup_session_new_with_options ("timeout", 20, "max-conns-per-host", 16, NULL);
  server_fixture_start (fx);
}

static void
restart_killed (ServerFixture *fx)
{
  server_fixture_kill (fx);
  server_fixture_start (fx);
}

/* ------------------------------------------------------------------ */
/* Item 4: replay */

static void
capture_session (Replay *r)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) challenge = NULL;
  g_autoptr(JsonObject) session = NULL;
  g_autofree char *nonce_text = NULL, *proof_text = NULL;
  guint8 nonce_s[16], nonce_g[16], proof[32];

  json_object_set_string_member (body, "gateway_id", r->gw->gateway_id);
  g_assert_cmpuint (server_fixture_request_obj (r->fx, "POST", "/cpns/v1/session/challenge", NULL,
                                                body, &challenge), ==, 200);
  test_get_bytes (challenge, "nonce_s", nonce_s, 16);
  cpns_random_nonce (nonce_g, 16);
  cpns_gateway_session_proof (r->gw->secret, r->gw->gateway_id, nonce_s, nonce_g, proof);
  nonce_text = test_b64 (nonce_g, 16);
  proof_text = test_b64 (proof, 32);
  json_object_set_string_member (body, "challenge_id", json_object_get_string_member (challenge, "challenge_id"));
  json_object_set_string_member (body, "nonce_g", nonce_text);
  json_object_set_string_member (body, "proof", proof_text);
  /* The used challenge with its valid proof. */
  session = send_capture (r, "session proof (used challenge)", "POST", "/cpns/v1/session", NULL, body,
                          201, "not_found,timeout");
  g_free (r->gw->token);
  r->gw->token = g_strdup (json_object_get_string_member (session, "session_token"));
}

/* An old session proof on a fresh challenge: the nonces differ. */
static void
replay_old_session_proof (Replay *r)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) challenge = NULL;
  g_autoptr(JsonObject) answer = NULL;
  Captured *old = NULL;
  g_autoptr(JsonObject) old_body = NULL;
  guint status;

  for (guint i = 0; i < r->corpus->len && old == NULL; i++)
    if (g_str_has_prefix (((Captured *) r->corpus->pdata[i])->label, "session proof"))
      old = r->corpus->pdata[i];
  g_assert_nonnull (old);
  old_body = test_json_object (old->body);

  json_object_set_string_member (body, "gateway_id", r->gw->gateway_id);
  g_assert_cmpuint (server_fixture_request_obj (r->fx, "POST", "/cpns/v1/session/challenge", NULL,
                                                body, &challenge), ==, 200);
  json_object_set_string_member (old_body, "challenge_id",
                                 json_object_get_string_member (challenge, "challenge_id"));
  status = server_fixture_request_obj (r->fx, "POST", "/cpns/v1/session", NULL, old_body, &answer);
  r->sent++;
  if (status == 401 && code_in (json_object_get_string_member (json_object_get_object_member (answer, "error"),
                                                               "code"), "auth_failed"))
    r->rejected++;
  else
    g_test_message ("old session proof on a fresh challenge: status %u", status);
}

/* An old PNE proof on a fresh auth exchange of the same PNE. */
static void
replay_old_pne_proof (Replay     *r,
                      const char *pne_id,
                      const char *old_body)
{
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) body = test_json_object (old_body);
  g_autofree char *path = NULL;
  const char *code;
  Round round = { 0 };
  guint status;

  g_assert_cmpuint (start_auth (r->fx, r->gw, pne_id, &round, NULL), ==, 200);
  path = g_strdup_printf ("/cpns/v1/auth/%s/verify", round.auth_id);
  status = server_fixture_request_obj (r->fx, "POST", path, r->gw->token, body, &answer);
  r->sent++;
  code = json_object_get_string_member (json_object_get_object_member (answer, "error"), "code");
  if (status == 401 && code_in (code, "auth_failed"))
    r->rejected++;
  else
    g_test_message ("old PNE proof on a fresh auth_id: status %u", status);
  g_free (round.auth_id);
}

static void
test_replay (void)
{
  Replay r = { 0 };
  g_autoptr(JsonNode) added = NULL;
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *before = NULL, *after = NULL;
  g_autofree char *allow_proof_body = NULL;
  g_autofree char *path = NULL;
  TestPne *pne, *asked, *rekeyed, *removed, *proofs;
  Round round = { 0 };
  guint8 proof[32], mac[32];
  guint n_special = 0;

  r.fx = server_fixture_new (NULL);
  r.corpus = g_ptr_array_new_with_free_func (captured_free);
  server_fixture_start (r.fx);

  /* Enrollment with a one-time code. */
  added = server_fixture_cli_json (r.fx, "user", "add", "replayer", "--json", NULL);
  json_object_set_string_member (body, "user_id", "replayer");
  json_object_set_string_member (body, "enrollment_code",
                                 json_object_get_string_member (json_node_get_object (added), "enrollment_code"));
  json_object_set_string_member (body, "gateway_name", "Replayed");
  answer = send_capture (&r, "enrollment (used code)", "POST", "/cpns/v1/gateways", NULL, body, 201,
                         "unauthorized,locked_out");
  r.gw = g_new0 (TestGateway, 1);
  r.gw->user_id = g_strdup ("replayer");
  r.gw->gateway_id = g_strdup (json_object_get_string_member (answer, "gateway_id"));
  r.gw->pn_id = g_strdup (json_object_get_string_member (answer, "pn_id"));
  test_get_bytes (answer, "gateway_secret", r.gw->secret, 32);
  g_clear_pointer (&answer, json_object_unref);

  /* Step 1, captured. */
  capture_session (&r);

  /* Registration and key confirmation, captured. */
  pne = test_pne_register (r.fx, r.gw, "sensor", FALSE);
  {
    g_autoptr(JsonObject) confirm = json_object_new ();
    g_autofree char *mac_text = NULL;
    g_autoptr(JsonObject) ok = NULL;

    cpns_key_confirm (pne->euk, pne->pne_id, pne->key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", pne->key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pne->pne_id);
    ok = send_capture (&r, "key-confirm (already registered)", "POST", path, r.gw->token, confirm, 200,
                       "conflict");
    g_clear_pointer (&path, g_free);
  }
  {
    /* The registration request itself (gateway mode, so the body holds a key). */
    g_autoptr(JsonObject) reg = json_object_new ();
    g_autoptr(JsonObject) entity = json_object_new ();
    g_autofree char *pne_id = cpns_id_new (CPNS_ID_PNE);
    g_autofree char *key_id = cpns_id_new (CPNS_ID_KEY);
    g_autofree char *euk_text = NULL;
    g_autoptr(JsonObject) ok = NULL;
    guint8 euk[32];

    cpns_random_key (euk, 32);
    euk_text = test_b64 (euk, 32);
    json_object_set_string_member (entity, "name", "Gateway-keyed");
    json_object_set_string_member (entity, "entity_type", "actuator");
    json_object_set_string_member (reg, "pne_id", pne_id);
    json_object_set_object_member (reg, "entity", json_object_ref (entity));
    json_object_set_string_member (reg, "key_assignment", "gateway");
    json_object_set_string_member (reg, "key_id", key_id);
    json_object_set_string_member (reg, "euk", euk_text);
    ok = send_capture (&r, "registration (gateway key)", "POST", "/cpns/v1/entities", r.gw->token, reg, 201,
                       "conflict");
    cpns_wipe (euk, 32);
  }

  /* Policy: allow by default, ask for the "speaker". */
  {
    g_autofree char *rule_id = cpns_id_new (CPNS_ID_RULE);
    g_autofree char *policy = g_strdup_printf ("{\"default_action\":\"allow\",\"rules\":"
                                               "[{\"id\":\"%s\",\"match\":{\"entity_type\":\"speaker\"},"
                                               "\"action\":\"ask\"}]}", rule_id);

    g_assert_cmpuint (server_fixture_request (r.fx, "PUT", "/cpns/v1/policy", r.gw->token, policy, NULL), ==, 200);
  }

  /* verify → allow, captured. */
  g_assert_cmpuint (start_auth (r.fx, r.gw, pne->pne_id, &round, NULL), ==, 200);
  cpns_pne_auth_proof (pne->euk, pne->pne_id, r.gw->gateway_id, round.nonce_s, round.nonce_p, proof);
  {
    g_autoptr(JsonObject) pb = proof_body (proof);
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), pb);
    g_autoptr(JsonObject) ok = NULL;

    allow_proof_body = json_to_string (node, FALSE);
    path = g_strdup_printf ("/cpns/v1/auth/%s/verify", round.auth_id);
    ok = send_capture (&r, "pne proof (used auth_id)", "POST", path, r.gw->token, pb, 200, "not_found,timeout");
    g_assert_cmpstr (json_object_get_string_member (ok, "decision"), ==, "allow");
    g_clear_pointer (&path, g_free);
  }
  g_clear_pointer (&round.auth_id, g_free);

  /* verify → ask → decision allow, both captured. */
  asked = test_pne_register (r.fx, r.gw, "speaker", TRUE);
  g_assert_cmpuint (start_auth (r.fx, r.gw, asked->pne_id, &round, NULL), ==, 200);
  cpns_pne_auth_proof (asked->euk, asked->pne_id, r.gw->gateway_id, round.nonce_s, round.nonce_p, proof);
  {
    g_autoptr(JsonObject) pb = proof_body (proof);
    g_autoptr(JsonObject) ok = NULL;
    g_autoptr(JsonObject) decision = json_object_new ();

    path = g_strdup_printf ("/cpns/v1/auth/%s/verify", round.auth_id);
    ok = send_capture (&r, "pne proof (awaiting decision)", "POST", path, r.gw->token, pb, 200,
                       "conflict,not_found,timeout");
    g_assert_cmpstr (json_object_get_string_member (ok, "decision"), ==, "ask");
    g_clear_pointer (&ok, json_object_unref);
    g_clear_pointer (&path, g_free);
    json_object_set_string_member (decision, "decision", "allow");
    json_object_set_boolean_member (decision, "remember", FALSE);
    path = g_strdup_printf ("/cpns/v1/auth/%s/decision", round.auth_id);
    ok = send_capture (&r, "decision (used)", "POST", path, r.gw->token, decision, 200, "not_found,timeout");
    g_assert_cmpstr (json_object_get_string_member (ok, "decision"), ==, "allow");
    g_clear_pointer (&path, g_free);
  }
  g_clear_pointer (&round.auth_id, g_free);

  /* Rekey: the old key's confirmation and the new key's confirmation. */
  rekeyed = test_pne_register (r.fx, r.gw, "phone", TRUE);
  {
    g_autoptr(JsonObject) fresh = NULL;
    g_autoptr(JsonObject) confirm = json_object_new ();
    g_autoptr(JsonObject) ok = NULL;
    g_autofree char *mac_text = NULL;
    g_autofree char *old_mac_text = NULL;
    g_autofree char *new_key_id = NULL;
    guint8 new_euk[32];

    path = g_strdup_printf ("/cpns/v1/entities/%s/rekey", rekeyed->pne_id);
    g_assert_cmpuint (server_fixture_request (r.fx, "POST", path, r.gw->token, "{\"key_assignment\":\"server\"}",
                                              &fresh), ==, 201);
    g_clear_pointer (&path, g_free);
    new_key_id = g_strdup (json_object_get_string_member (fresh, "key_id"));
    test_get_bytes (fresh, "euk", new_euk, 32);
    cpns_key_confirm (new_euk, rekeyed->pne_id, new_key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", new_key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", rekeyed->pne_id);
    ok = send_capture (&r, "rekey confirm (used)", "POST", path, r.gw->token, confirm, 200, "conflict");
    g_clear_pointer (&ok, json_object_unref);

    /* The old key's original confirmation, now that the key is revoked. */
    cpns_key_confirm (rekeyed->euk, rekeyed->pne_id, rekeyed->key_id, mac);
    old_mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", rekeyed->key_id);
    json_object_set_string_member (confirm, "key_confirm", old_mac_text);
    {
      Captured *c = g_new0 (Captured, 1);
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), confirm);

      c->label = g_strdup ("key-confirm of a replaced key");
      c->method = g_strdup ("POST");
      c->path = g_strdup (path);
      c->body = json_to_string (node, FALSE);
      c->token = g_strdup (r.gw->token);
      c->codes = "conflict,revoked";
      g_ptr_array_add (r.corpus, c);
    }
    g_clear_pointer (&path, g_free);
    /* The new key is the one that works. */
    memcpy (rekeyed->euk, new_euk, 32);
    g_free (rekeyed->key_id);
    rekeyed->key_id = g_steal_pointer (&new_key_id);
    cpns_wipe (new_euk, 32);
  }

  /* A removed entity: its old confirmation and an old proof. */
  removed = test_pne_register (r.fx, r.gw, "camera", TRUE);
  {
    g_autoptr(JsonObject) confirm = json_object_new ();
    g_autofree char *mac_text = NULL;
    Captured *c = g_new0 (Captured, 1);
    g_autoptr(JsonNode) node = NULL;

    path = g_strdup_printf ("/cpns/v1/entities/%s", removed->pne_id);
    g_assert_cmpuint (server_fixture_request (r.fx, "DELETE", path, r.gw->token, NULL, NULL), ==, 204);
    g_clear_pointer (&path, g_free);
    cpns_key_confirm (removed->euk, removed->pne_id, removed->key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", removed->key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    node = json_node_init_object (json_node_alloc (), confirm);
    c->label = g_strdup ("key-confirm of a removed entity");
    c->method = g_strdup ("POST");
    c->path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", removed->pne_id);
    c->body = json_to_string (node, FALSE);
    c->token = g_strdup (r.gw->token);
    c->codes = "not_found,revoked,conflict";
    g_ptr_array_add (r.corpus, c);
  }

  /* A dedicated PNE for proof replays on fresh exchanges (they count toward
   * its lockout, which is also a rejection). */
  proofs = test_pne_register (r.fx, r.gw, "wearable", TRUE);
  g_assert_cmpuint (start_auth (r.fx, r.gw, proofs->pne_id, &round, NULL), ==, 200);
  {
    g_autoptr(JsonObject) ok = NULL;
    cpns_pne_auth_proof (proofs->euk, proofs->pne_id, r.gw->gateway_id, round.nonce_s, round.nonce_p, proof);
    g_autoptr(JsonObject) pb = proof_body (proof);
    g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), pb);

    g_free (allow_proof_body);
    allow_proof_body = json_to_string (node, FALSE);
    path = g_strdup_printf ("/cpns/v1/auth/%s/verify", round.auth_id);
    g_assert_cmpuint (server_fixture_request_obj (r.fx, "POST", path, r.gw->token, pb, &ok), ==, 200);
    g_clear_pointer (&path, g_free);
  }
  g_clear_pointer (&round.auth_id, g_free);

  /* An old session token after DELETE /session. */
  {
    g_autofree char *old_token = g_strdup (r.gw->token);
    Captured *c = g_new0 (Captured, 1);

    g_assert_cmpuint (server_fixture_request (r.fx, "DELETE", "/cpns/v1/session", r.gw->token, NULL, NULL), ==, 204);
    c->label = g_strdup ("ended session token");
    c->method = g_strdup ("GET");
    c->path = g_strdup ("/cpns/v1/inventory");
    c->token = g_strdup (old_token);
    c->codes = "unauthorized";
    c->token_only = TRUE;
    g_ptr_array_add (r.corpus, c);
    test_gateway_open_session (r.fx, r.gw);
  }

  before = registry_snapshot (r.fx, r.gw);

  /* Replays now, after a clean restart and after a SIGKILL restart. */
  for (guint round_no = 0; round_no < 3; round_no++)
    {
      const char *when = round_no == 0 ? "live" : round_no == 1 ? "after restart" : "after SIGKILL restart";

      if (round_no == 1)
        restart_clean (r.fx);
      else if (round_no == 2)
        restart_killed (r.fx);
      if (round_no > 0)
        {
          /* The old token may or may not survive; the fresh one does. */
          test_gateway_open_session (r.fx, r.gw);
        }
      replay_all (&r, when);
      replay_old_session_proof (&r);
      n_special++;
      /* Old proofs for the dedicated PNE: auth_failed while it is not
       * locked out (5 failures lock it, so at most 4 here). */
      if (round_no < 2)
        {
          replay_old_pne_proof (&r, proofs->pne_id, allow_proof_body);
          n_special++;
        }
      after = registry_snapshot (r.fx, r.gw);
      g_assert_cmpstr (after, ==, before);
      g_clear_pointer (&after, g_free);
      /* Legitimate use still works: the rejections are not a broken server. */
      assert_pne_authenticates (r.fx, r.gw, pne);
      assert_pne_authenticates (r.fx, r.gw, rekeyed);
      g_free (before);
      before = registry_snapshot (r.fx, r.gw);
    }

  g_test_message ("replay figure: %u/%u replayed requests rejected (%u captured kinds)",
                  r.rejected, r.sent, r.corpus->len + 2);
  g_print ("# FIGURE replay-server: %u/%u rejected\n", r.rejected, r.sent);
  g_assert_cmpuint (r.rejected, ==, r.sent);
  g_assert_cmpuint (r.sent, >=, 3 * (2 * r.corpus->len - 2));

  test_pne_free (pne);
  test_pne_free (asked);
  test_pne_free (rekeyed);
  test_pne_free (removed);
  test_pne_free (proofs);
  test_gateway_free (r.gw);
  g_ptr_array_unref (r.corpus);
  server_fixture_free (r.fx);
}

/* ------------------------------------------------------------------ */
/* Item 5: identity binding */

static void
check_bindings (ServerFixture *fx,
                TestGateway   *gw,
                TestGateway   *other,
                TestPne       *a,
                TestPne       *b,
                TestPne       *pending,
                guint         *checks,
                guint         *rejected)
{
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *path = NULL;
  Round round = { 0 };
  guint8 expected[32], mac[32];
  guint status;

#define REJECTED(st, ans, code_status, code)                                \
  G_STMT_START {                                                            \
    (*checks)++;                                                            \
    assert_error ((st), (ans), (code_status), (code));                      \
    (*rejected)++;                                                          \
    g_clear_pointer (&(ans), json_object_unref);                            \
  } G_STMT_END

  /* B claims A's ID: it cannot make A's proof. */
  g_assert_cmpuint (start_auth (fx, gw, a->pne_id, &round, NULL), ==, 200);
  status = verify_with (fx, gw, &round, b->euk, a->pne_id, &answer);
  REJECTED (status, answer, 401, "auth_failed");
  g_clear_pointer (&round.auth_id, g_free);
  /* B's proof (under its own ID) on A's exchange. */
  g_assert_cmpuint (start_auth (fx, gw, a->pne_id, &round, NULL), ==, 200);
  status = verify_with (fx, gw, &round, b->euk, b->pne_id, &answer);
  REJECTED (status, answer, 401, "auth_failed");

  /* The server's answer for A does not authenticate the server to B: a
   * server answer naming a different PNE fails the PNE's check. */
  (*checks)++;
  cpns_server_auth_proof (b->euk, b->pne_id, gw->gateway_id, round.nonce_p, round.nonce_s, expected);
  if (!cpns_memeq_ct (expected, 32, round.server_proof, 32))
    (*rejected)++;
  (*checks)++;
  cpns_server_auth_proof (b->euk, a->pne_id, gw->gateway_id, round.nonce_p, round.nonce_s, expected);
  if (!cpns_memeq_ct (expected, 32, round.server_proof, 32))
    (*rejected)++;
  g_clear_pointer (&round.auth_id, g_free);

  /* Another PN's gateway cannot authenticate, confirm, rekey, remove or
   * move A, nor register an entity under A's ID. */
  status = start_auth (fx, other, a->pne_id, &round, &answer);
  REJECTED (status, answer, 404, "not_found");
  path = g_strdup_printf ("/cpns/v1/entities/%s/rekey", a->pne_id);
  status = server_fixture_request (fx, "POST", path, other->token, "{\"key_assignment\":\"server\"}", &answer);
  REJECTED (status, answer, 404, "not_found");
  g_clear_pointer (&path, g_free);
  path = g_strdup_printf ("/cpns/v1/entities/%s", a->pne_id);
  status = server_fixture_request (fx, "DELETE", path, other->token, NULL, &answer);
  REJECTED (status, answer, 404, "not_found");
  g_clear_pointer (&path, g_free);
  path = g_strdup_printf ("/cpns/v1/inventory/%s", a->pne_id);
  status = server_fixture_request (fx, "PUT", path, other->token,
                                   "{\"state\":\"disconnected\",\"services\":[]}", &answer);
  REJECTED (status, answer, 404, "not_found");
  g_clear_pointer (&path, g_free);

  /* Registrations that would replace A's key: by its own gateway and by
   * another PN's gateway, in both modes. */
  for (guint i = 0; i < 4; i++)
    {
      TestGateway *by = i < 2 ? gw : other;
      g_autoptr(JsonObject) reg = json_object_new ();
      g_autoptr(JsonObject) entity = json_object_new ();
      g_autofree char *key_id = cpns_id_new (CPNS_ID_KEY);
      g_autofree char *euk_text = NULL;
      guint8 euk[32];

      json_object_set_string_member (entity, "name", "Impostor");
      json_object_set_string_member (entity, "entity_type", "sensor");
      json_object_set_string_member (reg, "pne_id", a->pne_id);
      json_object_set_object_member (reg, "entity", json_object_ref (entity));
      if (i % 2 == 0)
        json_object_set_string_member (reg, "key_assignment", "server");
      else
        {
          cpns_random_key (euk, 32);
          euk_text = test_b64 (euk, 32);
          json_object_set_string_member (reg, "key_assignment", "gateway");
          json_object_set_string_member (reg, "key_id", key_id);
          json_object_set_string_member (reg, "euk", euk_text);
        }
      status = server_fixture_request_obj (fx, "POST", "/cpns/v1/entities", by->token, reg, &answer);
      REJECTED (status, answer, 409, "conflict");
    }

  /* A pending entity confirmed with another PNE's key: refused, still
   * pending; confirmed with its key_id but B's key_id: refused. */
  path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pending->pne_id);
  {
    g_autoptr(JsonObject) confirm = json_object_new ();
    g_autofree char *mac_text = NULL;

    cpns_key_confirm (b->euk, pending->pne_id, pending->key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", pending->key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    status = server_fixture_request_obj (fx, "POST", path, gw->token, confirm, &answer);
    REJECTED (status, answer, 401, "auth_failed");
    /* B's own confirmation, sent for the pending entity. */
    g_free (mac_text);
    cpns_key_confirm (b->euk, b->pne_id, b->key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", b->key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    status = server_fixture_request_obj (fx, "POST", path, gw->token, confirm, &answer);
    REJECTED (status, answer, 409, "conflict");
    /* The pending entity's right confirmation sent by another PN's gateway. */
    g_free (mac_text);
    cpns_key_confirm (pending->euk, pending->pne_id, pending->key_id, mac);
    mac_text = test_b64 (mac, 32);
    json_object_set_string_member (confirm, "key_id", pending->key_id);
    json_object_set_string_member (confirm, "key_confirm", mac_text);
    status = server_fixture_request_obj (fx, "POST", path, other->token, confirm, &answer);
    REJECTED (status, answer, 404, "not_found");
  }
#undef REJECTED
}

static void
test_identity_binding (void)
{
  ServerFixture *fx = server_fixture_new (NULL);
  TestGateway *gw, *other;
  TestPne *a, *b, *pending, *theirs;
  g_autofree char *before = NULL, *after = NULL, *other_before = NULL, *other_after = NULL;
  guint checks = 0, rejected = 0;

  server_fixture_start (fx);
  gw = test_gateway_enroll (fx, "alice");
  other = test_gateway_enroll (fx, "mallory");
  test_gateway_open_session (fx, gw);
  test_gateway_open_session (fx, other);
  g_assert_cmpuint (server_fixture_request (fx, "PUT", "/cpns/v1/policy", gw->token,
                                            "{\"default_action\":\"allow\",\"rules\":[]}", NULL), ==, 200);
  a = test_pne_register (fx, gw, "sensor", TRUE);
  b = test_pne_register (fx, gw, "phone", TRUE);
  pending = test_pne_register (fx, gw, "display", FALSE);
  theirs = test_pne_register (fx, other, "camera", TRUE);

  before = registry_snapshot (fx, gw);
  other_before = registry_snapshot (fx, other);
  for (guint i = 0; i < 2; i++)
    {
      if (i == 1)
        {
          restart_clean (fx);
          test_gateway_open_session (fx, gw);
          test_gateway_open_session (fx, other);
        }
      check_bindings (fx, gw, other, a, b, pending, &checks, &rejected);
      after = registry_snapshot (fx, gw);
      other_after = registry_snapshot (fx, other);
      g_assert_cmpstr (after, ==, before);
      g_assert_cmpstr (other_after, ==, other_before);
      g_clear_pointer (&after, g_free);
      g_clear_pointer (&other_after, g_free);
      /* A's key still works: nothing replaced it. */
      assert_pne_authenticates (fx, gw, a);
      g_free (before);
      before = registry_snapshot (fx, gw);
    }
  g_print ("# FIGURE identity-binding-server: %u/%u rejected\n", rejected, checks);
  g_assert_cmpuint (rejected, ==, checks);

  test_pne_free (a);
  test_pne_free (b);
  test_pne_free (pending);
  test_pne_free (theirs);
  test_gateway_free (gw);
  test_gateway_free (other);
  server_fixture_free (fx);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/security/server/replay", test_replay);
  g_test_add_func ("/security/server/identity-binding", test_identity_binding);
  return g_test_run ();
}
