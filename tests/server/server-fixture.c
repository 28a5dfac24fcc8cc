/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "cpns-ids.h"
#include "cpns-message.h"
#include "server-fixture.h"

static char *
server_binary (void)
{
  const char *root = g_getenv ("CPNS_BUILD_ROOT");

  g_assert_nonnull (root);
  return g_build_filename (root, "src", "server", "cpns-server", NULL);
}

static char *
run_cli_v (ServerFixture *fixture,
           int            expected_status,
           const char    *first_arg,
           va_list        args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_ptr_array_add (argv, server_binary ());
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (fixture->data_dir));
  g_ptr_array_add (argv, NULL);

  if (fixture->timings)
    g_subprocess_launcher_setenv (launcher, "CPNS_SERVER_TEST_TIMINGS", fixture->timings, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (process) != expected_status)
    g_error ("%s exited %d (expected %d): %s%s", (char *) argv->pdata[1],
             g_subprocess_get_exit_status (process), expected_status, out, err);
  return g_steal_pointer (&out);
}

char *
server_fixture_cli (ServerFixture *fixture,
                    int            expected_status,
                    const char    *first_arg,
                    ...)
{
  va_list args;
  char *out;

  va_start (args, first_arg);
  out = run_cli_v (fixture, expected_status, first_arg, args);
  va_end (args);
  return out;
}

JsonNode *
server_fixture_cli_json (ServerFixture *fixture,
                         const char    *first_arg,
                         ...)
{
  va_list args;
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  va_start (args, first_arg);
  out = run_cli_v (fixture, 0, first_arg, args);
  va_end (args);
  node = json_from_string (out, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

ServerFixture *
server_fixture_new (const char *timings)
{
  ServerFixture *fixture = g_new0 (ServerFixture, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) init = NULL;
  const char *pin;

  fixture->data_dir = g_dir_make_tmp ("cpns-server-test-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->timings = g_strdup (timings);
  init = server_fixture_cli_json (fixture, "init", "--hostname", "127.0.0.1", "--force", "--json", NULL);
  pin = json_object_get_string_member (json_node_get_object (init), "pin");
  g_assert_true (g_str_has_prefix (pin, "sha256:"));
  fixture->pin = g_strdup (pin + strlen ("sha256:"));
  g_assert_cmpuint (strlen (fixture->pin), ==, 64);

  fixture->session = soup_session_new_with_options ("timeout", 20, "max-conns-per-host", 16, NULL);
  return fixture;
}

void
server_fixture_start (ServerFixture *fixture)
{
  g_autofree char *binary = server_binary ();
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char *port;

  g_assert_null (fixture->process);
  if (fixture->timings)
    g_subprocess_launcher_setenv (launcher, "CPNS_SERVER_TEST_TIMINGS", fixture->timings, TRUE);
  fixture->process = g_subprocess_launcher_spawn (launcher, &error, binary, "serve",
                                                  "--data-dir", fixture->data_dir,
                                                  "--listen", "127.0.0.1:0", NULL);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fixture->process));
  line = g_data_input_stream_read_line (in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  port = strstr (line, "port=");
  g_assert_nonnull (port);
  g_free (fixture->base_url);
  fixture->base_url = g_strdup_printf ("https://127.0.0.1:%s", port + 5);
}

void
server_fixture_kill (ServerFixture *fixture)
{
  g_autoptr(GError) error = NULL;

  if (fixture->process != NULL)
    {
      g_subprocess_send_signal (fixture->process, SIGKILL);
      g_subprocess_wait (fixture->process, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&fixture->process);
    }
  /* Connections to the dead server must not be reused. */
  g_clear_object (&fixture->session);
  fixture->session = soup_session_new_with_options ("timeout", 20, "max-conns-per-host", 16, NULL);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_remove (child);
    }
  g_rmdir (path);
}

void
server_fixture_free (ServerFixture *fixture)
{
  if (fixture->process)
    {
      /* A clean shutdown: under ASan this also checks for leaks. */
      g_subprocess_send_signal (fixture->process, SIGTERM);
      g_subprocess_wait (fixture->process, NULL, NULL);
      g_assert_true (g_subprocess_get_if_exited (fixture->process));
      g_assert_cmpint (g_subprocess_get_exit_status (fixture->process), ==, 0);
      g_clear_object (&fixture->process);
    }
  g_clear_object (&fixture->session);
  remove_tree (fixture->data_dir);
  g_free (fixture->data_dir);
  g_free (fixture->pin);
  g_free (fixture->base_url);
  g_free (fixture->timings);
  g_free (fixture);
}

static gboolean
accept_certificate_cb (SoupMessage          *msg,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  ServerFixture *fixture = user_data;
  g_autoptr(GByteArray) der = NULL;
  g_autofree char *sha256 = NULL;

  g_object_get (certificate, "certificate", &der, NULL);
  sha256 = cpns_sha256_hex (der->data, der->len);
  return strcmp (sha256, fixture->pin) == 0;
}

void
server_fixture_pin_message (ServerFixture *fixture,
                            SoupMessage   *msg)
{
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_certificate_cb), fixture);
}

guint
server_fixture_request (ServerFixture  *fixture,
                        const char     *method,
                        const char     *path,
                        const char     *token,
                        const char     *body,
                        JsonObject    **out_json)
{
  g_autofree char *url = g_strconcat (fixture->base_url, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const char *data;

  g_assert_nonnull (msg);
  server_fixture_pin_message (fixture, msg);
  /* Reuse kept-alive connections for POSTs too (SoupSession opens a new
   * one for every non-idempotent request otherwise). */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  if (token)
    {
      g_autofree char *value = g_strconcat ("Bearer ", token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
    }
  if (body)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  answer = soup_session_send_and_read (fixture->session, msg, NULL, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (answer, &len);
  if (out_json)
    {
      *out_json = NULL;
      if (len > 0)
        {
          g_autofree char *text = g_strndup (data, len);
          *out_json = test_json_object (text);
        }
    }
  return soup_message_get_status (msg);
}

guint
server_fixture_request_obj (ServerFixture  *fixture,
                            const char     *method,
                            const char     *path,
                            const char     *token,
                            JsonObject     *body,
                            JsonObject    **out_json)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), body);
  g_autofree char *text = json_to_string (node, FALSE);

  return server_fixture_request (fixture, method, path, token, text, out_json);
}

void
server_assert_schema (JsonObject *answer,
                      const char *kind)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), answer);
  g_autofree char *text = json_to_string (node, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(CpnsMessage) msg = cpns_message_decode_body (kind, text, strlen (text), &error);

  if (msg == NULL)
    g_error ("answer does not follow %s: %s: %s", kind, error->message, text);
}

void
server_assert_error (guint       status,
                     JsonObject *answer,
                     guint       expected_status,
                     const char *expected_code)
{
  JsonObject *error;

  g_assert_cmpuint (status, ==, expected_status);
  g_assert_nonnull (answer);
  g_assert_true (json_object_has_member (answer, "error"));
  server_assert_schema (answer, "api.error");
  error = json_object_get_object_member (answer, "error");
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, expected_code);
  g_assert_true (json_object_has_member (error, "message"));
}

JsonObject *
test_json_object (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_object_ref (json_node_get_object (node));
}

char *
test_b64 (const guint8 *data,
          gsize         len)
{
  return cpns_base64url_encode (data, len);
}

void
test_get_bytes (JsonObject *object,
                const char *member,
                guint8     *out,
                gsize       len)
{
  const char *text = json_object_get_string_member (object, member);

  g_assert_nonnull (text);
  g_assert_true (cpns_base64url_decode_exact (text, out, len));
}

TestGateway *
test_gateway_enroll (ServerFixture *fixture,
                     const char    *user_id)
{
  TestGateway *gateway = g_new0 (TestGateway, 1);
  g_autoptr(JsonNode) added = server_fixture_cli_json (fixture, "user", "add", user_id, "--json", NULL);
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  guint status;

  json_object_set_string_member (body, "user_id", user_id);
  json_object_set_string_member (body, "enrollment_code",
                                 json_object_get_string_member (json_node_get_object (added),
                                                                "enrollment_code"));
  json_object_set_string_member (body, "gateway_name", "Test gateway");
  status = server_fixture_request_obj (fixture, "POST", "/cpns/v1/gateways", NULL, body, &answer);
  g_assert_cmpuint (status, ==, 201);
  server_assert_schema (answer, "api.gateways.response");
  gateway->user_id = g_strdup (user_id);
  gateway->gateway_id = g_strdup (json_object_get_string_member (answer, "gateway_id"));
  gateway->pn_id = g_strdup (json_object_get_string_member (answer, "pn_id"));
  g_assert_true (cpns_id_is_valid (CPNS_ID_GATEWAY, gateway->gateway_id));
  g_assert_true (cpns_id_is_valid (CPNS_ID_PN, gateway->pn_id));
  g_assert_cmpstr (json_object_get_string_member (answer, "user_id"), ==, user_id);
  test_get_bytes (answer, "gateway_secret", gateway->secret, sizeof gateway->secret);
  return gateway;
}

void
test_gateway_open_session (ServerFixture *fixture,
                           TestGateway   *gateway)
{
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) challenge = NULL;
  g_autoptr(JsonObject) session = NULL;
  g_autofree char *nonce_g_text = NULL, *proof_text = NULL;
  guint8 nonce_s[16], nonce_g[16], proof[32], server_proof[32], expected[32];

  json_object_set_string_member (body, "gateway_id", gateway->gateway_id);
  g_assert_cmpuint (server_fixture_request_obj (fixture, "POST", "/cpns/v1/session/challenge", NULL,
                                                body, &challenge), ==, 200);
  server_assert_schema (challenge, "api.session_challenge.response");
  test_get_bytes (challenge, "nonce_s", nonce_s, sizeof nonce_s);

  cpns_random_nonce (nonce_g, sizeof nonce_g);
  cpns_gateway_session_proof (gateway->secret, gateway->gateway_id, nonce_s, nonce_g, proof);
  nonce_g_text = test_b64 (nonce_g, sizeof nonce_g);
  proof_text = test_b64 (proof, sizeof proof);
  json_object_set_string_member (body, "challenge_id",
                                 json_object_get_string_member (challenge, "challenge_id"));
  json_object_set_string_member (body, "nonce_g", nonce_g_text);
  json_object_set_string_member (body, "proof", proof_text);
  g_assert_cmpuint (server_fixture_request_obj (fixture, "POST", "/cpns/v1/session", NULL, body,
                                                &session), ==, 201);
  server_assert_schema (session, "api.session.response");
  /* The GW authenticates the server. */
  test_get_bytes (session, "server_proof", server_proof, sizeof server_proof);
  cpns_server_session_proof (gateway->secret, gateway->gateway_id, nonce_g, nonce_s, expected);
  g_assert_cmpmem (server_proof, 32, expected, 32);
  g_assert_cmpstr (json_object_get_string_member (session, "pn_id"), ==, gateway->pn_id);
  g_assert_cmpstr (json_object_get_string_member (session, "user_id"), ==, gateway->user_id);
  g_free (gateway->token);
  gateway->token = g_strdup (json_object_get_string_member (session, "session_token"));
  g_assert_cmpuint (strlen (gateway->token), ==, 43);
}

void
test_gateway_free (TestGateway *gateway)
{
  cpns_wipe (gateway->secret, sizeof gateway->secret);
  g_free (gateway->user_id);
  g_free (gateway->gateway_id);
  g_free (gateway->pn_id);
  g_free (gateway->token);
  g_free (gateway);
}

TestPne *
test_pne_register (ServerFixture *fixture,
                   TestGateway   *gateway,
                   const char    *entity_type,
                   gboolean       confirm)
{
  TestPne *pne = g_new0 (TestPne, 1);
  g_autoptr(JsonObject) body = json_object_new ();
  g_autoptr(JsonObject) entity = json_object_new ();
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *path = NULL;
  g_autofree char *mac_text = NULL;
  guint8 mac[32];

  pne->pne_id = cpns_id_new (CPNS_ID_PNE);
  json_object_set_string_member (entity, "name", "Test device");
  json_object_set_string_member (entity, "entity_type", entity_type);
  json_object_set_string_member (body, "pne_id", pne->pne_id);
  json_object_set_object_member (body, "entity", json_object_ref (entity));
  json_object_set_string_member (body, "key_assignment", "server");
  g_assert_cmpuint (server_fixture_request_obj (fixture, "POST", "/cpns/v1/entities", gateway->token,
                                                body, &answer), ==, 201);
  server_assert_schema (answer, "api.entities.response");
  g_assert_cmpstr (json_object_get_string_member (answer, "state"), ==, "pending");
  pne->key_id = g_strdup (json_object_get_string_member (answer, "key_id"));
  g_assert_true (cpns_id_is_valid (CPNS_ID_KEY, pne->key_id));
  test_get_bytes (answer, "euk", pne->euk, sizeof pne->euk);

  if (confirm)
    {
      g_autoptr(JsonObject) confirm_body = json_object_new ();
      g_autoptr(JsonObject) confirmed = NULL;

      cpns_key_confirm (pne->euk, pne->pne_id, pne->key_id, mac);
      mac_text = test_b64 (mac, sizeof mac);
      json_object_set_string_member (confirm_body, "key_id", pne->key_id);
      json_object_set_string_member (confirm_body, "key_confirm", mac_text);
      path = g_strdup_printf ("/cpns/v1/entities/%s/key-confirm", pne->pne_id);
      g_assert_cmpuint (server_fixture_request_obj (fixture, "POST", path, gateway->token,
                                                    confirm_body, &confirmed), ==, 200);
      server_assert_schema (confirmed, "api.key_confirm.response");
      g_assert_cmpstr (json_object_get_string_member (confirmed, "state"), ==, "registered");
    }
  return pne;
}

void
test_pne_free (TestPne *pne)
{
  cpns_wipe (pne->euk, sizeof pne->euk);
  g_free (pne->pne_id);
  g_free (pne->key_id);
  g_free (pne);
}
